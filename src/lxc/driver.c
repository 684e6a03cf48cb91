/*
 * The container driver's hosts and their workers (lxc.h says how the
 * pieces fit); the actions are in actions.c.
 */
#include "lxc/lxc-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/statvfs.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/util.h"

#define LIST_PERIOD_US (1 * G_USEC_PER_SEC)

/* ---- uri ---- */

char *lxc_uri_path(const char *uri, GError **error)
{
    if (!uri || !g_str_has_prefix(uri, LXC_URI_SCHEME)) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID,
                    "'%s' is not a container host's uri (liblxc:///PATH, e.g. "
                    "liblxc:///var/lib/lxc)",
                    uri ? uri : "");
        return NULL;
    }
    const char *p = uri + strlen(LXC_URI_SCHEME);
    if (!*p || g_str_equal(p, "/"))
        return g_strdup(LXC_DEFAULT_PATH);
    if (*p != '/' || strstr(p, "/../") || g_str_has_suffix(p, "/..") || strchr(p, '?')) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID,
                    "'%s': the path after liblxc:// must be absolute, without '..' or a query "
                    "(liblxc:///var/lib/lxc)",
                    uri);
        return NULL;
    }
    g_autofree char *path = g_strdup(p);
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = 0;
    return g_steal_pointer(&path);
}

/* ---- the machine ---- */

static const char *machine_id(void)
{
    static gsize once;
    static char *id;
    if (g_once_init_enter(&once)) {
        char *text = NULL;
        if (!g_file_get_contents("/etc/machine-id", &text, NULL, NULL))
            text = g_strdup(g_get_host_name());
        id = g_strstrip(text);
        g_once_init_leave(&once, 1);
    }
    return id;
}

/* MemTotal, MemFree, Buffers, Cached of /proc/meminfo, in bytes. */
static void read_meminfo(struct node_sample *n)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents("/proc/meminfo", &text, NULL, NULL))
        return;
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {{"MemTotal:", offsetof(struct node_sample, mem_total)},
                {"MemFree:", offsetof(struct node_sample, mem_free)},
                {"Buffers:", offsetof(struct node_sample, mem_buffers)},
                {"Cached:", offsetof(struct node_sample, mem_cached)}};
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        const char *at = strstr(text, keys[i].key);
        if (at && (at == text || at[-1] == '\n'))
            *(uint64_t *)((char *)n + keys[i].off) =
                g_ascii_strtoull(at + strlen(keys[i].key), NULL, 10) * 1024;
    }
}

/* The machine's CPU time from /proc/stat's "cpu" line, in ns. */
static void read_stat(struct node_sample *n)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents("/proc/stat", &text, NULL, NULL) || !g_str_has_prefix(text, "cpu "))
        return;
    uint64_t v[8] = {0};
    char *p = text + 4;
    for (int i = 0; i < 8; i++)
        v[i] = g_ascii_strtoull(p, &p, 10);
    uint64_t ns = 1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK);
    n->cpu_user_ns = (v[0] + v[1]) * ns;
    n->cpu_kernel_ns = (v[2] + v[5] + v[6]) * ns;
    n->cpu_idle_ns = v[3] * ns;
    n->cpu_iowait_ns = v[4] * ns;
}

/* ---- containers as the worker knows them ---- */

static void ct_free(struct ct *ct)
{
    if (!ct)
        return;
    if (ct->c)
        lxc_container_put(ct->c);
    g_free(ct->name);
    g_free(ct->uuid);
    g_free(ct->config);
    g_free(ct->state);
    g_free(ct->cgpath);
    g_strfreev(ct->veths);
    g_free(ct->rootfs_dir);
    lxcconf_clear(&ct->conf);
    g_free(ct);
}

/* liblxc's state in libvirt's words (the engine's vocabulary): NULL for a
 * passing state (starting, stopping, freezing), which is not reported. */
static const char *state_word(const char *lxc_state, const char **ret_reason)
{
    *ret_reason = NULL;
    if (!lxc_state)
        return NULL;
    if (g_str_equal(lxc_state, "RUNNING") || g_str_equal(lxc_state, "THAWED")) {
        *ret_reason = "booted";
        return "running";
    }
    if (g_str_equal(lxc_state, "FROZEN")) {
        *ret_reason = "frozen";
        return "paused";
    }
    if (g_str_equal(lxc_state, "STOPPED")) {
        *ret_reason = "unknown";
        return "shutoff";
    }
    return NULL;
}

static struct domain_info *ct_domain_info(struct lhost *h, const struct ct *ct)
{
    struct domain_info *d = domain_info_new();
    d->uuid = g_strdup(ct->uuid);
    d->name = g_strdup(ct->name);
    d->state = g_strdup(ct->state);
    d->state_reason = g_strdup(ct->reason);
    d->running = g_strcmp0(ct->state, "shutoff") != 0;
    d->persistent = true;
    d->autostart = ct->conf.autostart;
    unsigned cores = ct->conf.cpu_millicores ? (unsigned)((ct->conf.cpu_millicores + 999) / 1000)
                                             : (unsigned)h->cpus;
    d->vcpus = d->max_vcpus = cores;
    d->memory_bytes = d->max_memory_bytes = ct->conf.memory_limit;
    d->os_type = g_strdup("exe");
    d->domain_type = g_strdup("lxc");
    d->balloon_model = g_strdup("none");
    d->xml = g_strdup(ct->config ? ct->config : "");
    return d;
}

/* Re-reads CT's configuration when its file changed; true when it did. */
static bool ct_read_config(struct lhost *h, struct ct *ct)
{
    g_autofree char *file = g_build_filename(h->path, ct->name, "config", NULL);
    struct stat st;
    if (stat(file, &st) < 0)
        return false;
    if (ct->config && st.st_mtim.tv_sec == ct->st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == ct->st.st_mtim.tv_nsec && st.st_size == ct->st.st_size &&
        st.st_ino == ct->st.st_ino)
        return false;
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr(GError) err = NULL;
    if (st.st_size > LXCCONF_MAX_BYTES || !g_file_get_contents(file, &text, &len, &err)) {
        if (!ct->warned)
            g_warning("host %s: container %s: cannot read %s: %s", h->name, ct->name, file,
                      err ? err->message : "too large");
        ct->warned = true;
        return false;
    }
    struct lxcconf conf;
    if (!lxcconf_parse(text, len, &conf, &err)) {
        if (!ct->warned)
            g_warning("host %s: container %s: %s: %s", h->name, ct->name, file, err->message);
        ct->warned = true;
        return false;
    }
    ct->warned = false;
    ct->st = st;
    bool changed = g_strcmp0(ct->config, text) != 0;
    g_free(ct->config);
    ct->config = g_steal_pointer(&text);
    lxcconf_clear(&ct->conf);
    ct->conf = conf;
    return changed;
}

/* The UUID CT goes by: its configuration's, unless another container of
 * the host holds that one already (a copy), else the derived one. */
static char *ct_pick_uuid(struct lhost *h, const struct ct *ct)
{
    if (ct->conf.uuid) {
        const char *holder = g_hash_table_lookup(h->names, ct->conf.uuid);
        if (!holder || g_str_equal(holder, ct->name))
            return g_strdup(ct->conf.uuid);
    }
    return lxcconf_derived_uuid(machine_id(), h->path, ct->name);
}

/* ---- the worker ---- */

static void set_state(struct lhost *h, enum host_state st, const char *reason)
{
    if (h->state == st && g_strcmp0(h->reason, reason) == 0)
        return;
    h->state = st;
    g_free(h->reason);
    h->reason = g_strdup(reason);
    g_mutex_lock(&h->lock);
    h->ready = st == HOST_CONNECTED;
    g_free(h->why);
    h->why = g_strdup(reason);
    g_mutex_unlock(&h->lock);
    const struct driver_sink *sink = h->d->sink;
    sink->host_state(sink->ctx, h->id, st, reason);
}

static void report_host_info(struct lhost *h)
{
    struct host_info *hi = g_new0(struct host_info, 1);
    hi->driver = g_strdup("lxc");
    hi->hv_version = g_strdup(lxc_get_version());
    hi->hostname = g_strdup(g_get_host_name());
    hi->cpus = h->cpus;
    struct node_sample n;
    node_sample_init(&n);
    read_meminfo(&n);
    hi->memory_bytes = n.mem_total != SAMPLE_ABSENT ? n.mem_total : 0;
    const struct driver_sink *sink = h->d->sink;
    sink->host_info(sink->ctx, h->id, hi);
}

/* The cause a listing reports NAME's change with: a request naming it, or
 * one naming no container (a full listing asked by an action). */
static const struct change_cause *cause_for(GPtrArray *reqs, const char *name)
{
    const struct change_cause *any = NULL;
    for (guint i = 0; reqs && i < reqs->len; i++) {
        struct sync_req *r = g_ptr_array_index(reqs, i);
        if (!r->has_cause)
            continue;
        if (r->name && g_str_equal(r->name, name))
            return &r->cause;
        if (!r->name && !any)
            any = &r->cause;
    }
    return any;
}

static bool requested(GPtrArray *reqs, const char *name)
{
    for (guint i = 0; reqs && i < reqs->len; i++) {
        struct sync_req *r = g_ptr_array_index(reqs, i);
        if (r->name && g_str_equal(r->name, name))
            return true;
    }
    return false;
}

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Lists the host's containers and reports what changed (everything on the
 * first listing after it became reachable). */
static void list_host(struct lhost *h, GPtrArray *reqs)
{
    const struct driver_sink *sink = h->d->sink;
    DIR *dir = opendir(h->path);
    if (!dir) {
        g_autofree char *reason = g_strdup_printf("cannot read %s: %s", h->path, g_strerror(errno));
        set_state(h, HOST_UNREACHABLE, reason);
        h->synced = false;
        return;
    }
    bool first = !h->synced;
    if (first) {
        set_state(h, HOST_CONNECTING, NULL);
        report_host_info(h);
    }
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.' || !lxcconf_name_valid(de->d_name))
            continue;
        g_ptr_array_add(names, g_strdup(de->d_name));
    }
    closedir(dir);
    /* Name order: which of two containers holding one UUID keeps it does
     * not depend on the directory's order. */
    g_ptr_array_sort(names, cmp_names);

    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_mutex_lock(&h->lock);
        bool creating = g_hash_table_contains(h->creating, name);
        g_mutex_unlock(&h->lock);
        g_autofree char *cfg = g_build_filename(h->path, name, "config", NULL);
        if (creating || !g_file_test(cfg, G_FILE_TEST_IS_REGULAR))
            continue;
        struct ct *ct = g_hash_table_lookup(h->cts, name);
        if (!ct) {
            ct = g_new0(struct ct, 1);
            ct->name = g_strdup(name);
            lxcconf_init(&ct->conf);
            g_hash_table_insert(h->cts, ct->name, ct);
        }
        g_hash_table_add(seen, ct->name);
        bool changed = ct_read_config(h, ct);
        if (!ct->config)
            continue; /* unreadable from the start: warned */
        if (!ct->uuid || changed) {
            g_autofree char *uuid = ct_pick_uuid(h, ct);
            if (g_strcmp0(uuid, ct->uuid) != 0) {
                g_mutex_lock(&h->lock);
                if (ct->uuid && g_strcmp0(g_hash_table_lookup(h->names, ct->uuid), name) == 0)
                    g_hash_table_remove(h->names, ct->uuid);
                g_hash_table_insert(h->names, g_strdup(uuid), g_strdup(name));
                g_mutex_unlock(&h->lock);
                g_free(ct->uuid);
                ct->uuid = g_steal_pointer(&uuid);
                changed = true;
            }
        }
        if (!ct->c) {
            ct->c = lxc_container_new(name, h->path);
            if (!ct->c)
                continue;
        }
        const char *reason;
        const char *state = state_word(ct->c->state(ct->c), &reason);
        if (!state && !ct->state) {
            /* First seen in a passing state (starting, stopping, ...): it
             * is known now all the same, by whether it runs, so that the
             * host is never connected before all its containers are. */
            bool on = ct->c->is_running(ct->c);
            state = on ? "running" : "shutoff";
            reason = on ? "booted" : "unknown";
        }
        if (state && g_strcmp0(state, ct->state) != 0) {
            g_free(ct->state);
            ct->state = g_strdup(state);
            ct->reason = reason;
            ct->pid = 0; /* asked again by the next round */
            g_clear_pointer(&ct->cgpath, g_free);
            changed = true;
        }
        if (changed || first || !ct->reported || requested(reqs, name)) {
            sink->domain(sink->ctx, h->id, ct_domain_info(h, ct), cause_for(reqs, name));
            ct->reported = true;
        }
    }

    /* Containers gone from the path. */
    g_autoptr(GPtrArray) uuids = g_ptr_array_new();
    const struct change_cause *gone_cause = NULL;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, h->cts);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct ct *ct = v;
        if (g_hash_table_contains(seen, ct->name)) {
            if (ct->uuid) /* reported, or to be when readable or settled */
                g_ptr_array_add(uuids, ct->uuid);
            continue;
        }
        if (!gone_cause)
            gone_cause = cause_for(reqs, ct->name);
        g_mutex_lock(&h->lock);
        if (ct->uuid && g_strcmp0(g_hash_table_lookup(h->names, ct->uuid), ct->name) == 0)
            g_hash_table_remove(h->names, ct->uuid);
        g_mutex_unlock(&h->lock);
        g_hash_table_iter_remove(&it);
    }
    g_ptr_array_add(uuids, NULL);
    sink->domains_present(sink->ctx, h->id, (const char *const *)uuids->pdata, gone_cause);
    if (first) {
        h->synced = true;
        sink->inventory_synced(sink->ctx, h->id);
        set_state(h, HOST_CONNECTED, NULL);
    }
}

/* The container's top control group from its init's /proc/PID/cgroup:
 * the memory controller's line (v1), else the unified one; cut after the
 * "lxc.payload.NAME" component (processes inside may sit deeper). */
static char *ct_cgroup_path(pid_t pid)
{
    g_autofree char *file = g_strdup_printf("/proc/%d/cgroup", (int)pid);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(file, &text, NULL, NULL))
        return NULL;
    g_autofree char *unified = NULL, *memory = NULL;
    g_auto(GStrv) lines = g_strsplit(text, "\n", 64);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, ":", 3);
        if (!f[0] || !f[1] || !f[2])
            continue;
        if (!*f[1] && !unified)
            unified = g_strdup(f[2]);
        g_auto(GStrv) ctrls = g_strsplit(f[1], ",", 0);
        if (g_strv_contains((const char *const *)ctrls, "memory"))
            memory = g_strdup(f[2]);
    }
    char *path = memory ? g_steal_pointer(&memory) : g_steal_pointer(&unified);
    if (!path)
        return NULL;
    char *at = strstr(path, "/lxc.payload.");
    if (at) {
        char *slash = strchr(at + 1, '/');
        if (slash)
            *slash = 0;
    }
    return path;
}

/* The host-side names of a running container's veth interfaces (liblxc
 * knows them while it runs); NULL when it has none. */
static char **ct_veths(struct lxc_container *c)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; i < 16; i++) {
        g_autofree char *key = g_strdup_printf("lxc.net.%d.veth.pair", i);
        char *v = c->get_running_config_item(c, key);
        if (!v)
            break;
        /* A name the kernel could have given, nothing to climb out of /sys. */
        if (*v && strlen(v) < 16 && !strchr(v, '/') && !g_str_equal(v, ".") &&
            !g_str_equal(v, ".."))
            g_ptr_array_add(names, g_strdup(v));
        free(v);
    }
    if (!names->len)
        return NULL;
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
}

static uint64_t net_stat(const char *dev, const char *name)
{
    g_autofree char *file = g_strdup_printf("/sys/class/net/%s/statistics/%s", dev, name);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(file, &text, NULL, NULL) || !g_ascii_isdigit(*text))
        return SAMPLE_ABSENT;
    return g_ascii_strtoull(text, NULL, 10);
}

/* The container's traffic from its veths' host ends: what the host end
 * sends, the container receives. */
static void ct_net(const struct ct *ct, struct host_sample *hs)
{
    static const struct {
        const char *file;
        size_t off;
    } stats[] = {{"tx_bytes", offsetof(struct host_sample, net_rx_bytes)},
                 {"rx_bytes", offsetof(struct host_sample, net_tx_bytes)},
                 {"tx_packets", offsetof(struct host_sample, net_rx_pkts)},
                 {"rx_packets", offsetof(struct host_sample, net_tx_pkts)},
                 {"tx_dropped", offsetof(struct host_sample, net_rx_drop)},
                 {"rx_dropped", offsetof(struct host_sample, net_tx_drop)},
                 {"tx_errors", offsetof(struct host_sample, net_rx_errs)},
                 {"rx_errors", offsetof(struct host_sample, net_tx_errs)}};
    uint64_t n = 0;
    for (char **v = ct->veths; v && *v; v++) {
        bool any = false;
        for (size_t i = 0; i < G_N_ELEMENTS(stats); i++) {
            uint64_t x = net_stat(*v, stats[i].file);
            if (x == SAMPLE_ABSENT)
                continue;
            uint64_t *f = (uint64_t *)((char *)hs + stats[i].off);
            *f = (*f == SAMPLE_ABSENT ? 0 : *f) + x;
            any = true;
        }
        n += any;
    }
    if (ct->veths)
        hs->net_count = n;
}

/* ---- the root file system ---- */

#define ROOTFS_PERIOD_US   (60 * G_USEC_PER_SEC) /* a walk of the tree at most this often */
#define ROOTFS_MAX_ENTRIES 1000000               /* a bigger tree is not measured */

/* nftw() takes no context: the walk's sums are this thread's. */
static __thread struct {
    uint64_t bytes, entries;
    GHashTable *links; /* "dev:ino" of files with several links, counted once */
} walk;

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (++walk.entries > ROOTFS_MAX_ENTRIES)
        return 1;
    if (flag != FTW_F && flag != FTW_D && flag != FTW_SL)
        return 0;
    if (flag == FTW_F && st->st_nlink > 1) {
        char *key = g_strdup_printf("%ju:%ju", (uintmax_t)st->st_dev, (uintmax_t)st->st_ino);
        if (!g_hash_table_add(walk.links, key))
            return 0; /* seen through another link */
    }
    walk.bytes += (uint64_t)st->st_blocks * 512;
    return 0;
}

/* Bytes the files of DIR take, without crossing into other filesystems
 * (what is mounted there is not the container's); SAMPLE_ABSENT when the
 * tree cannot be walked or is too big. */
static uint64_t tree_bytes(const char *dir)
{
    walk.bytes = walk.entries = 0;
    walk.links = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    int r = nftw(dir, walk_one, 32, FTW_PHYS | FTW_MOUNT);
    g_clear_pointer(&walk.links, g_hash_table_unref);
    return r == 0 ? walk.bytes : SAMPLE_ABSENT;
}

/* The container's root file system in HS: its files' bytes (walked again
 * once ROOTFS_PERIOD_US has passed), the filesystem under it. */
static void ct_rootfs(struct ct *ct, struct host_sample *hs)
{
    const char *dir = ct->conf.rootfs_dir;
    if (!dir)
        return;
    int64_t now = mono_usec();
    if (!ct->rootfs_at || now - ct->rootfs_at >= ROOTFS_PERIOD_US ||
        g_strcmp0(ct->rootfs_dir, dir) != 0) {
        ct->rootfs_used = tree_bytes(dir);
        ct->rootfs_at = now;
        g_free(ct->rootfs_dir);
        ct->rootfs_dir = g_strdup(dir);
    }
    hs->ct_rootfs_used = ct->rootfs_used;
    struct statvfs fs;
    if (statvfs(dir, &fs) == 0) {
        hs->ct_fs_size = (uint64_t)fs.f_blocks * fs.f_frsize;
        hs->ct_fs_avail = (uint64_t)fs.f_bavail * fs.f_frsize;
    }
}

static bool ct_collect(struct lhost *h, struct ct *ct, int64_t t_us, struct host_sample *hs)
{
    if (ct->pid <= 0 || !ct->cgpath) {
        ct->pid = ct->c->init_pid(ct->c);
        g_clear_pointer(&ct->cgpath, g_free);
        if (ct->pid > 0)
            ct->cgpath = ct_cgroup_path(ct->pid);
        if (!ct->cgpath) {
            ct->pid = 0;
            return false;
        }
        g_strfreev(ct->veths);
        ct->veths = ct_veths(ct->c);
    }
    struct cgroup_sample cs;
    if (cgroup_read("/", h->layout, ct->cgpath, &cs, NULL) < 0) {
        ct->pid = 0; /* it stopped, or restarted elsewhere: ask again */
        return false;
    }
    host_sample_init(hs);
    hs->host_id = h->id;
    hs->uuid = g_strdup(ct->uuid);
    hs->time_us = t_us;
    hs->dom_id = ct->pid;
    hs->state = g_strcmp0(ct->state, "paused") == 0 ? LXC_VIR_PAUSED : LXC_VIR_RUNNING;
    hs->container = true;
    hs->cpu_time_ns = hs->vcpu_time_ns = cs.cpu_usage_ns;
    hs->cpu_user_ns = cs.cpu_user_ns;
    hs->cpu_system_ns = cs.cpu_system_ns;
    hs->vcpu_count = cs.cpu_quota_millicores != SAMPLE_ABSENT
                         ? (cs.cpu_quota_millicores + 999) / 1000
                         : (uint64_t)h->cpus;
    hs->vcpu_delay_ns = cs.cpu_throttled_ns;
    hs->balloon_current = hs->balloon_maximum = cs.mem_limit;
    hs->balloon_rss = cs.mem_usage;
    hs->block_rd_bytes = cs.io_read_bytes;
    hs->block_wr_bytes = cs.io_write_bytes;
    hs->block_rd_reqs = cs.io_reads;
    hs->block_wr_reqs = cs.io_writes;
    hs->cg_mem_cache = cs.mem_cache;
    hs->cg_mem_swap = cs.mem_swap;
    hs->cg_oom_kills = cs.oom_kills;
    hs->cg_cpu_periods = cs.cpu_periods;
    hs->cg_cpu_throttled_periods = cs.cpu_throttled_periods;
    hs->cg_cpu_quota_mc = cs.cpu_quota_millicores;
    hs->cg_pids_current = cs.pids_current;
    hs->cg_pids_max = cs.pids_max;
    ct_net(ct, hs);
    ct_rootfs(ct, hs);
    return true;
}

static void collect_round(struct lhost *h)
{
    int64_t t0 = mono_usec();
    struct round_report *r = round_report_new(h->id, now_usec());
    uint64_t running = 0, missed = 0;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, h->cts);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct ct *ct = v;
        if (!ct->c || !ct->reported || g_strcmp0(ct->state, "shutoff") == 0)
            continue;
        running++;
        g_ptr_array_add(r->active, g_strdup(ct->uuid));
        struct host_sample hs;
        if (ct_collect(h, ct, r->t_us, &hs))
            g_array_append_val(r->hosts, hs);
        else
            missed++;
    }
    r->have_node = true;
    read_meminfo(&r->node);
    read_stat(&r->node);
    r->node.domains_running = running;
    r->node.domains_collected = running - missed;
    r->node.domains_missed = missed;
    r->node.round_us = (uint64_t)(mono_usec() - t0);
    const struct driver_sink *sink = h->d->sink;
    sink->round(sink->ctx, r);
}

static void sync_req_free(struct sync_req *r)
{
    g_free(r->name);
    g_free(r->actor);
    g_free(r);
}

static gpointer worker(gpointer data)
{
    struct lhost *h = data;
    int64_t next_list = 0,
            next_round = mono_usec() + (int64_t)h->d->conf.interval_s * G_USEC_PER_SEC;
    g_mutex_lock(&h->lock);
    while (!h->stop) {
        int64_t now = mono_usec();
        int64_t due = next_list;
        if (h->d->conf.collect && h->synced && next_round < due)
            due = next_round;
        if (!h->reqs->len && !h->resync && now < due) {
            g_cond_wait_until(&h->cond, &h->lock, g_get_monotonic_time() + (due - now));
            continue;
        }
        g_autoptr(GPtrArray) reqs = h->reqs;
        h->reqs = g_ptr_array_new();
        bool resync = h->resync;
        h->resync = false;
        g_mutex_unlock(&h->lock);
        if (resync) {
            GHashTableIter it;
            gpointer k, v;
            g_hash_table_iter_init(&it, h->cts);
            while (g_hash_table_iter_next(&it, &k, &v))
                ((struct ct *)v)->reported = false;
            next_list = 0;
        }

        if (reqs->len || now >= next_list) {
            list_host(h, reqs);
            next_list = mono_usec() + (h->synced ? LIST_PERIOD_US : h->backoff_us);
            if (!h->synced)
                h->backoff_us = MIN(h->backoff_us * 2, 30 * G_USEC_PER_SEC);
            else
                h->backoff_us = LIST_PERIOD_US;
        }
        g_mutex_lock(&h->lock);
        for (guint i = 0; i < reqs->len; i++)
            ((struct sync_req *)g_ptr_array_index(reqs, i))->done = true;
        g_cond_broadcast(&h->cond);
        g_mutex_unlock(&h->lock);

        if (h->d->conf.collect && h->synced && mono_usec() >= next_round) {
            collect_round(h);
            next_round += (int64_t)h->d->conf.interval_s * G_USEC_PER_SEC;
            if (next_round < mono_usec()) /* overran: the next tick from now */
                next_round = mono_usec() + (int64_t)h->d->conf.interval_s * G_USEC_PER_SEC;
        }
        g_mutex_lock(&h->lock);
    }
    /* Anyone still waiting is let go. */
    for (guint i = 0; i < h->reqs->len; i++)
        ((struct sync_req *)g_ptr_array_index(h->reqs, i))->done = true;
    g_cond_broadcast(&h->cond);
    g_mutex_unlock(&h->lock);
    return NULL;
}

void lhost_sync(struct lhost *h, const char *name, const struct change_cause *cause)
{
    struct sync_req *r = g_new0(struct sync_req, 1);
    r->name = g_strdup(name);
    if (cause) {
        r->has_cause = true;
        r->actor = g_strdup(cause->actor);
        r->cause = (struct change_cause){.cause = cause->cause ? cause->cause : "action",
                                         .actor = r->actor,
                                         .audit_id = cause->audit_id};
    }
    g_mutex_lock(&h->lock);
    if (h->stop) {
        g_mutex_unlock(&h->lock);
        sync_req_free(r);
        return;
    }
    g_ptr_array_add(h->reqs, r);
    g_cond_broadcast(&h->cond);
    while (!r->done)
        g_cond_wait(&h->cond, &h->lock);
    g_mutex_unlock(&h->lock);
    sync_req_free(r);
}

/* ---- the driver ---- */

struct lhost *lxc_host_find(struct lxc_driver *d, int64_t host_id)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&d->lock);
    for (guint i = 0; i < d->hosts->len; i++) {
        struct lhost *h = g_ptr_array_index(d->hosts, i);
        if (h->id == host_id)
            return h;
    }
    return NULL;
}

static void lhost_free(struct lhost *h)
{
    g_hash_table_unref(h->cts);
    g_hash_table_unref(h->names);
    g_hash_table_unref(h->creating);
    g_hash_table_unref(h->oplocks);
    g_ptr_array_unref(h->reqs);
    g_mutex_clear(&h->lock);
    g_cond_clear(&h->cond);
    g_free(h->name);
    g_free(h->path);
    g_free(h->reason);
    g_free(h->why);
    g_free(h);
}

static int lxc_host_add(struct driver *base, int64_t host_id, const struct driver_host_conf *hc,
                        GError **error)
{
    struct lxc_driver *d = (struct lxc_driver *)base;
    g_autofree char *path = lxc_uri_path(hc->uri, error);
    if (!path)
        return -EINVAL;
    struct lhost *h = g_new0(struct lhost, 1);
    h->d = d;
    h->id = host_id;
    h->name = g_strdup(hc->name);
    h->path = g_steal_pointer(&path);
    h->cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    h->layout = cgroup_detect("/");
    h->state = HOST_CONNECTING;
    h->backoff_us = MAX(hc->reconnect_min, 1) * G_USEC_PER_SEC;
    h->cts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ct_free);
    h->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    h->creating = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    h->oplocks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    h->reqs = g_ptr_array_new();
    g_mutex_init(&h->lock);
    g_cond_init(&h->cond);
    g_mutex_lock(&d->lock);
    g_ptr_array_add(d->hosts, h);
    g_mutex_unlock(&d->lock);
    g_autofree char *tname = g_strdup_printf("lxc-%" G_GINT64_FORMAT, host_id);
    h->thread = g_thread_new(tname, worker, h);
    return 0;
}

static void lxc_resync_all(struct driver *base)
{
    struct lxc_driver *d = (struct lxc_driver *)base;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&d->lock);
    for (guint i = 0; i < d->hosts->len; i++) {
        struct lhost *h = g_ptr_array_index(d->hosts, i);
        g_mutex_lock(&h->lock);
        h->resync = true; /* every container reported again, now */
        g_cond_broadcast(&h->cond);
        g_mutex_unlock(&h->lock);
    }
}

static bool lxc_stop(struct driver *base, int timeout_s)
{
    struct lxc_driver *d = (struct lxc_driver *)base;
    (void)timeout_s; /* a listing or round takes well under a second */
    g_mutex_lock(&d->lock);
    /* A copy without the hosts' free function: they are d's. */
    g_autoptr(GPtrArray) hosts = g_ptr_array_new();
    for (guint i = 0; i < d->hosts->len; i++)
        g_ptr_array_add(hosts, g_ptr_array_index(d->hosts, i));
    g_mutex_unlock(&d->lock);
    for (guint i = 0; i < hosts->len; i++) {
        struct lhost *h = g_ptr_array_index(hosts, i);
        g_mutex_lock(&h->lock);
        h->stop = true;
        g_cond_broadcast(&h->cond);
        g_mutex_unlock(&h->lock);
    }
    for (guint i = 0; i < hosts->len; i++) {
        struct lhost *h = g_ptr_array_index(hosts, i);
        if (h->thread)
            g_thread_join(g_steal_pointer(&h->thread));
    }
    return true;
}

static void lxc_free(struct driver *base)
{
    struct lxc_driver *d = (struct lxc_driver *)base;
    if (!d)
        return;
    lxc_stop(base, 0);
    g_ptr_array_unref(d->hosts);
    g_mutex_clear(&d->lock);
    g_free(d);
}

static const struct driver_ops lxc_ops = {
    .name = "lxc",
    .containers = true,
    .host_add = lxc_host_add,
    .resync_all = lxc_resync_all,
    .stop = lxc_stop,
    .free = lxc_free,
    .action = lxc_action,
    .define = lxc_define,
    .create = lxc_create,
    .snapshots = lxc_snapshots,
};

struct driver *lxc_driver_new(const struct lxc_conf *conf, const struct driver_sink *sink)
{
    struct lxc_driver *d = g_new0(struct lxc_driver, 1);
    d->base.ops = &lxc_ops;
    d->conf = *conf;
    d->conf.interval_s = MAX(d->conf.interval_s, 1);
    d->sink = sink;
    g_mutex_init(&d->lock);
    d->hosts = g_ptr_array_new_with_free_func((GDestroyNotify)lhost_free);
    return &d->base;
}
