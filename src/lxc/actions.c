/*
 * The container driver's actions: liblxc's work on the caller's thread,
 * one action at a time per container, then a listing by the host's worker
 * reported with the action's cause (lxc.h).
 */
#include "lxc/lxc-private.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "lxc/cgroup.h"
#include "model/sample.h"

/* ---- one action at a time per container ---- */

static void oplock(struct lhost *h, const char *name)
{
    g_mutex_lock(&h->lock);
    while (g_hash_table_contains(h->oplocks, name))
        g_cond_wait(&h->cond, &h->lock);
    g_hash_table_add(h->oplocks, g_strdup(name));
    g_mutex_unlock(&h->lock);
}

static void opunlock(struct lhost *h, const char *name)
{
    g_mutex_lock(&h->lock);
    g_hash_table_remove(h->oplocks, name);
    g_cond_broadcast(&h->cond);
    g_mutex_unlock(&h->lock);
}

static struct lhost *host_of(struct driver *base, int64_t host_id, GError **error)
{
    struct lhost *h = lxc_host_find((struct lxc_driver *)base, host_id);
    if (!h) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_NOT_FOUND,
                    "host %" G_GINT64_FORMAT " is not a container host of this kanrid", host_id);
        return NULL;
    }
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&h->lock);
    if (!h->ready) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNAVAILABLE,
                    "container host %s is not connected%s%s", h->name, h->why ? ": " : "",
                    h->why ? h->why : "");
        return NULL;
    }
    return h;
}

static char *name_of(struct lhost *h, const char *uuid, GError **error)
{
    g_mutex_lock(&h->lock);
    char *name = g_strdup(g_hash_table_lookup(h->names, uuid));
    g_mutex_unlock(&h->lock);
    if (!name)
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_NOT_FOUND,
                    "container %s no longer exists on host %s", uuid, h->name);
    return name;
}

/* ---- the actions ---- */

struct act {
    struct lhost *h;
    const char *name;
    struct lxc_container *c;
    const struct action_request *req;
    struct action_result *res;
};

static bool running(struct lxc_container *c)
{
    return c->is_running(c);
}

static int fail(GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static int fail(GError **error, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, DRIVER_ERROR, code, msg);
    return -EIO;
}

/* liblxc's freeze waits for ever, and on cgroup v1 it writes FROZEN once: a
 * task caught in fork (busybox's init spawning its children) leaves the
 * group FREEZING until FROZEN is written again (the kernel's cgroup-v1
 * freezer document), about one start in twenty here.  So on v1 kanri
 * freezes the group itself first, writing FROZEN again every 100 ms for at
 * most FREEZE_TIMEOUT_S (a group that will not freeze is thawed, and the
 * action fails in words).  liblxc's freeze then finds it frozen at once and
 * tells the container's monitor, which keeps the state that lxc-info and
 * kanri read.  cgroup v2's freezer has no such state in between. */
#define FREEZE_TIMEOUT_S 10

static int v1_frozen(struct act *a)
{
    char text[64];
    int n = a->c->get_cgroup_item(a->c, "freezer.state", text, sizeof text - 1);
    if (n < 0)
        return -1;
    text[MIN(n, (int)sizeof text - 1)] = '\0';
    return cgroup_v1_freezer_state(text);
}

static int freeze_v1(struct act *a, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + FREEZE_TIMEOUT_S * G_USEC_PER_SEC;
    do {
        if (!a->c->set_cgroup_item(a->c, "freezer.state", "FROZEN"))
            return fail(error, DRIVER_ERR_HYPERVISOR,
                        "container %s: the kernel refused freezer.state = FROZEN", a->name);
        for (int i = 0; i < 10; i++) {
            if (v1_frozen(a) == 1)
                return 0;
            g_usleep(10 * 1000);
        }
    } while (g_get_monotonic_time() < deadline);
    a->c->set_cgroup_item(a->c, "freezer.state", "THAWED");
    return fail(error, DRIVER_ERR_TIMEOUT,
                "container %s could not be frozen within %d s (a task in it would not stop); it "
                "was thawed and left running",
                a->name, FREEZE_TIMEOUT_S);
}

static int act_start(struct act *a, GError **error)
{
    if (running(a->c))
        return fail(error, DRIVER_ERR_STATE, "container %s is already running", a->name);
    /* What earlier runs' monitors left (liblxc leaves a control group per
     * run here, and refuses a start once a thousand are there). */
    unsigned gone = cgroup_monitor_leftovers_remove("/", a->name);
    if (gone)
        g_debug("container %s: %u control groups of earlier monitors removed", a->name, gone);
    a->c->want_daemonize(a->c, true);
    /* The container's monitor is forked from kanrid: it must not keep
     * kanrid's sockets and database open. */
    a->c->want_close_all_fds(a->c, true);
    if (!a->c->start(a->c, 0, NULL))
        return fail(error, DRIVER_ERR_HYPERVISOR,
                    "liblxc could not start container %s (lxc-start -n %s -P %s -F shows why)",
                    a->name, a->name, a->h->path);
    if (!a->c->wait(a->c, "RUNNING", 30))
        return fail(error, DRIVER_ERR_TIMEOUT, "container %s did not reach RUNNING in 30 s",
                    a->name);
    return 0;
}

static int act_shutdown(struct act *a, GError **error)
{
    if (!running(a->c))
        return fail(error, DRIVER_ERR_STATE, "container %s is not running", a->name);
    int timeout = (int)action_int(a->req, "timeout", 60);
    /* A frozen init cannot take the halt signal: thawed first, or a
     * graceful stop of a frozen container would always time out. */
    if (g_strcmp0(a->c->state(a->c), "FROZEN") == 0 && !a->c->unfreeze(a->c))
        return fail(error, DRIVER_ERR_HYPERVISOR,
                    "container %s is frozen and liblxc could not thaw it to shut it down", a->name);
    if (a->c->shutdown(a->c, timeout))
        return 0;
    if (!action_bool(a->req, "force", false))
        return fail(error, DRIVER_ERR_TIMEOUT,
                    "container %s did not shut down within %d s (its init ignored the halt "
                    "signal); ask again with force to kill it",
                    a->name, timeout);
    if (!a->c->stop(a->c))
        return fail(error, DRIVER_ERR_HYPERVISOR, "liblxc could not kill container %s", a->name);
    a->res->forced = 1;
    return 0;
}

static int act_destroy(struct act *a, GError **error)
{
    if (!running(a->c))
        return fail(error, DRIVER_ERR_STATE, "container %s is not running", a->name);
    if (!a->c->stop(a->c))
        return fail(error, DRIVER_ERR_HYPERVISOR, "liblxc could not stop container %s", a->name);
    return 0;
}

static int act_reboot(struct act *a, GError **error)
{
    if (!running(a->c))
        return fail(error, DRIVER_ERR_STATE, "container %s is not running", a->name);
    if (!a->c->reboot2(a->c, 60))
        return fail(error, DRIVER_ERR_TIMEOUT, "container %s did not reboot within 60 s", a->name);
    return 0;
}

static int act_freeze(struct act *a, GError **error)
{
    const char *st = a->c->state(a->c);
    if (g_strcmp0(st, "FROZEN") == 0 || !running(a->c))
        return fail(error, DRIVER_ERR_STATE, "container %s is %s, not running", a->name,
                    st ? st : "in an unknown state");
    if (a->h->layout != CGROUP_V2 && freeze_v1(a, error) < 0)
        return -EIO;
    if (!a->c->freeze(a->c))
        return fail(error, DRIVER_ERR_HYPERVISOR, "liblxc could not freeze container %s", a->name);
    return 0;
}

static int act_thaw(struct act *a, GError **error)
{
    if (g_strcmp0(a->c->state(a->c), "FROZEN") != 0)
        return fail(error, DRIVER_ERR_STATE, "container %s is not frozen", a->name);
    if (!a->c->unfreeze(a->c))
        return fail(error, DRIVER_ERR_HYPERVISOR, "liblxc could not thaw container %s", a->name);
    return 0;
}

static int act_undefine(struct act *a, GError **error)
{
    if (running(a->c))
        return fail(error, DRIVER_ERR_STATE, "container %s is running: stop it before removing it",
                    a->name);
    if (!a->c->destroy(a->c))
        return fail(error, DRIVER_ERR_HYPERVISOR,
                    "liblxc could not remove container %s (does it have snapshots?)", a->name);
    a->res->removed = true;
    return 0;
}

/* One limit, in the configuration (CONFIG_KEY for v1 or hybrid machines,
 * CONFIG_KEY2 for v2) and, when the container runs, live. */
struct limit {
    const char *v1_key, *v1_file;
    const char *v2_key, *v2_file;
};

static bool set_limit(struct act *a, const struct limit *l, const char *v1_value,
                      const char *v2_value, GError **error)
{
    bool v2 = a->h->layout == CGROUP_V2;
    const char *file = v2 ? l->v2_file : l->v1_file;
    const char *value = v2 ? v2_value : v1_value;
    g_autofree char *key = g_strdup_printf("%s.%s", v2 ? "lxc.cgroup2" : "lxc.cgroup", file);
    if (running(a->c) && !a->c->set_cgroup_item(a->c, file, value)) {
        fail(error, DRIVER_ERR_HYPERVISOR,
             "container %s: the kernel refused %s = %s (a memory limit below what the "
             "container uses now cannot be set)",
             a->name, file, value);
        return false;
    }
    a->c->clear_config_item(a->c, key);
    bool removing =
        g_str_equal(value, "-1") || g_str_equal(value, "max") || g_str_has_prefix(value, "max ");
    if (!removing && !a->c->set_config_item(a->c, key, value)) {
        fail(error, DRIVER_ERR_HYPERVISOR, "container %s: liblxc refused %s = %s", a->name, key,
             value);
        return false;
    }
    return true;
}

static int act_set_limits(struct act *a, GError **error)
{
    const struct action_arg *mem = action_arg(a->req, "memory_bytes");
    const struct action_arg *cpu = action_arg(a->req, "cpu_millicores");
    const struct action_arg *weight = action_arg(a->req, "cpu_weight");
    const struct action_arg *pids = action_arg(a->req, "pids");
    if (!mem->set && !cpu->set && !weight->set && !pids->set)
        return fail(error, DRIVER_ERR_INVALID,
                    "set-limits needs at least one of memory_bytes, cpu_millicores, cpu_weight, "
                    "pids (0 removes that limit)");
    if (mem->set) {
        static const struct limit l = {NULL, "memory.limit_in_bytes", NULL, "memory.max"};
        g_autofree char *v = g_strdup_printf("%" PRId64, mem->i);
        if (mem->i > 0 && mem->i < 4 * 1024 * 1024)
            return fail(error, DRIVER_ERR_INVALID,
                        "a memory limit under 4 MiB (%" PRId64
                        " bytes) would leave the container no room to run",
                        mem->i);
        if (!set_limit(a, &l, mem->i ? v : "-1", mem->i ? v : "max", error))
            return -EIO;
    }
    if (cpu->set) {
        /* A period of 100 ms, the kernel's default. */
        static const struct limit q = {NULL, "cpu.cfs_quota_us", NULL, "cpu.max"};
        static const struct limit p = {NULL, "cpu.cfs_period_us", NULL, NULL};
        g_autofree char *v1 = g_strdup_printf("%" PRId64, cpu->i * 100);
        g_autofree char *v2 = g_strdup_printf("%" PRId64 " 100000", cpu->i * 100);
        if (cpu->i > 0 && cpu->i < 10)
            return fail(error, DRIVER_ERR_INVALID,
                        "a CPU quota under 10 millicores (1 ms per 100 ms) cannot be set");
        if (a->h->layout != CGROUP_V2 && cpu->i > 0 && !set_limit(a, &p, "100000", NULL, error))
            return -EIO;
        if (!set_limit(a, &q, cpu->i ? v1 : "-1", cpu->i ? v2 : "max 100000", error))
            return -EIO;
    }
    if (weight->set) {
        static const struct limit l = {NULL, "cpu.shares", NULL, "cpu.weight"};
        int64_t w = weight->i ? weight->i : 100;
        g_autofree char *v1 = g_strdup_printf("%" PRId64, MAX(w * 1024 / 100, 2));
        g_autofree char *v2 = g_strdup_printf("%" PRId64, w);
        if (!set_limit(a, &l, v1, v2, error))
            return -EIO;
    }
    if (pids->set) {
        static const struct limit l = {NULL, "pids.max", NULL, "pids.max"};
        g_autofree char *v = g_strdup_printf("%" PRId64, pids->i);
        if (!set_limit(a, &l, pids->i ? v : "max", pids->i ? v : "max", error))
            return -EIO;
    }
    if (!a->c->save_config(a->c, NULL))
        return fail(error, DRIVER_ERR_HYPERVISOR,
                    "container %s: the limits are set but its configuration could not be saved",
                    a->name);
    return 0;
}

static int act_snapshot_create(struct act *a, GError **error)
{
    if (action_str(a->req, "name"))
        return fail(error, DRIVER_ERR_INVALID,
                    "liblxc names a container's snapshots itself (snap0, snap1, ...): leave out "
                    "name");
    int n = a->c->snapshot(a->c, NULL);
    if (n < 0)
        return fail(error, DRIVER_ERR_STATE,
                    "liblxc could not snapshot container %s (a directory-backed container "
                    "must be stopped first)",
                    a->name);
    a->res->snapshot = g_strdup_printf("snap%d", n);
    return 0;
}

static int act_snapshot_revert(struct act *a, GError **error)
{
    const char *snap = action_str(a->req, "name");
    if (running(a->c))
        return fail(error, DRIVER_ERR_STATE, "container %s is running: stop it to revert", a->name);
    if (!a->c->snapshot_restore(a->c, snap, a->name))
        return fail(error, DRIVER_ERR_NOT_FOUND,
                    "liblxc could not restore snapshot %s of container %s", snap, a->name);
    return 0;
}

static int act_snapshot_delete(struct act *a, GError **error)
{
    const char *snap = action_str(a->req, "name");
    if (!a->c->snapshot_destroy(a->c, snap))
        return fail(error, DRIVER_ERR_NOT_FOUND, "container %s has no snapshot %s", a->name, snap);
    return 0;
}

typedef int (*act_fn)(struct act *a, GError **error);
static const act_fn acts[ACTION_N] = {
    [ACTION_START] = act_start,
    [ACTION_SHUTDOWN] = act_shutdown,
    [ACTION_REBOOT] = act_reboot,
    [ACTION_DESTROY] = act_destroy,
    [ACTION_SUSPEND] = act_freeze,
    [ACTION_RESUME] = act_thaw,
    [ACTION_UNDEFINE] = act_undefine,
    [ACTION_SET_LIMITS] = act_set_limits,
    [ACTION_SNAPSHOT_CREATE] = act_snapshot_create,
    [ACTION_SNAPSHOT_REVERT] = act_snapshot_revert,
    [ACTION_SNAPSHOT_DELETE] = act_snapshot_delete,
};

int lxc_action(struct driver *base, int64_t host_id, const char *uuid,
               const struct action_request *req, const struct change_cause *cause,
               struct action_result *result, GError **error)
{
    act_fn fn = (unsigned)req->kind < ACTION_N ? acts[req->kind] : NULL;
    if (!fn) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNSUPPORTED, "containers have no %s action%s",
                    (unsigned)req->kind < ACTION_N ? action_specs[req->kind].name : "such",
                    req->kind == ACTION_SETMEM ? ": use set-limits with memory_bytes" : "");
        return -ENOTSUP;
    }
    struct lhost *h = host_of(base, host_id, error);
    if (!h)
        return -EIO;
    g_autofree char *name = name_of(h, uuid, error);
    if (!name)
        return -ENOENT;
    oplock(h, name);
    struct act a = {.h = h, .name = name, .req = req, .res = result};
    a.c = lxc_container_new(name, h->path);
    int r;
    if (!a.c || !a.c->is_defined(a.c))
        r = fail(error, DRIVER_ERR_NOT_FOUND, "container %s no longer exists on host %s", name,
                 h->name);
    else
        r = fn(&a, error);
    if (a.c)
        lxc_container_put(a.c);
    /* Even a failed action may have changed something. */
    lhost_sync(h, name, cause);
    opunlock(h, name);
    return r;
}

int lxc_define(struct driver *base, int64_t host_id, const char *xml,
               const struct change_cause *cause, char **ret_uuid, char **ret_name, GError **error)
{
    (void)base, (void)host_id, (void)xml, (void)cause, (void)ret_uuid, (void)ret_name;
    g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNSUPPORTED,
                "a container host takes no domain XML: create a container "
                "(POST /api/v1/containers, kanri ct create)");
    return -ENOTSUP;
}

static bool apply_spec_limits(struct act *a, const struct container_spec *spec, GError **error)
{
    struct action_request req;
    action_request_init(&req, ACTION_SET_LIMITS);
    if (spec->memory_bytes)
        action_set_int(&req, "memory_bytes", (int64_t)spec->memory_bytes);
    if (spec->cpu_millicores)
        action_set_int(&req, "cpu_millicores", (int64_t)spec->cpu_millicores);
    if (spec->cpu_weight)
        action_set_int(&req, "cpu_weight", (int64_t)spec->cpu_weight);
    if (spec->pids)
        action_set_int(&req, "pids", (int64_t)spec->pids);
    bool any = spec->memory_bytes || spec->cpu_millicores || spec->cpu_weight || spec->pids;
    a->req = &req;
    bool ok = !any || act_set_limits(a, error) == 0;
    action_request_clear(&req);
    return ok;
}

int lxc_create(struct driver *base, int64_t host_id, const struct container_spec *spec,
               const struct change_cause *cause, char **ret_uuid, GError **error)
{
    struct lhost *h = host_of(base, host_id, error);
    if (!h)
        return -EIO;
    if (!lxcconf_name_valid(spec->name))
        return fail(error, DRIVER_ERR_INVALID,
                    "'%s' is not a container name (1 to 64 of A-Z a-z 0-9 _ . -, not starting "
                    "with . or -)",
                    spec->name ? spec->name : "");
    const char *tmpl = spec->template ? spec->template : "busybox";
    if (!lxcconf_name_valid(tmpl))
        return fail(error, DRIVER_ERR_INVALID, "'%s' is not a template name", tmpl);
    g_autofree char *tpath = g_strdup_printf("%s/lxc-%s", LXC_TEMPLATE_DIR, tmpl);
    if (!g_file_test(tpath, G_FILE_TEST_IS_EXECUTABLE))
        return fail(error, DRIVER_ERR_INVALID, "no template %s on this machine (%s)", tmpl, tpath);

    g_mutex_lock(&h->lock);
    g_autofree char *cfg = g_build_filename(h->path, spec->name, "config", NULL);
    bool taken =
        g_hash_table_contains(h->creating, spec->name) || g_file_test(cfg, G_FILE_TEST_EXISTS);
    if (!taken)
        g_hash_table_add(h->creating, g_strdup(spec->name));
    g_mutex_unlock(&h->lock);
    if (taken)
        return fail(error, DRIVER_ERR_STATE, "host %s has a container %s already", h->name,
                    spec->name);

    int r = 0;
    g_autofree char *uuid = g_uuid_string_random();
    g_autofree char *env = g_strdup_printf("%s=%s", LXCCONF_UUID_ENV, uuid);
    struct act a = {.h = h, .name = spec->name};
    struct action_result res;
    action_result_init(&res);
    a.res = &res;
    a.c = lxc_container_new(spec->name, h->path);
    if (!a.c) {
        r = fail(error, DRIVER_ERR_HYPERVISOR, "liblxc could not make container %s", spec->name);
        goto out;
    }
    if (!a.c->create(a.c, tmpl, NULL, NULL, LXC_CREATE_QUIET, NULL)) {
        r = fail(error, DRIVER_ERR_HYPERVISOR,
                 "template %s failed to create container %s (lxc-create -n %s -t %s shows why)",
                 tmpl, spec->name, spec->name, tmpl);
        goto out;
    }
    /* No network unless asked for: the default bridge may not exist. */
    a.c->clear_config_item(a.c, "lxc.net");
    if (!a.c->set_config_item(a.c, "lxc.net.0.type", "empty") ||
        !a.c->set_config_item(a.c, "lxc.environment", env) || !apply_spec_limits(&a, spec, error) ||
        !a.c->save_config(a.c, NULL)) {
        if (error && !*error)
            fail(error, DRIVER_ERR_HYPERVISOR, "container %s: its configuration could not be set",
                 spec->name);
        a.c->destroy(a.c);
        r = -EIO;
        goto out;
    }
out:
    g_mutex_lock(&h->lock);
    g_hash_table_remove(h->creating, spec->name);
    g_mutex_unlock(&h->lock);
    lhost_sync(h, spec->name, cause);
    if (r == 0) {
        *ret_uuid = g_strdup(uuid);
        if (spec->start) {
            oplock(h, spec->name);
            struct action_request req;
            action_request_init(&req, ACTION_START);
            a.req = &req;
            r = act_start(&a, error);
            action_request_clear(&req);
            lhost_sync(h, spec->name, cause);
            opunlock(h, spec->name);
        }
    }
    action_result_clear(&res);
    if (a.c)
        lxc_container_put(a.c);
    return r;
}

struct rows *lxc_snapshots(struct driver *base, int64_t host_id, const char *uuid, GError **error)
{
    struct lhost *h = host_of(base, host_id, error);
    if (!h)
        return NULL;
    g_autofree char *name = name_of(h, uuid, error);
    if (!name)
        return NULL;
    struct lxc_container *c = lxc_container_new(name, h->path);
    if (!c) {
        fail(error, DRIVER_ERR_HYPERVISOR, "liblxc could not open container %s", name);
        return NULL;
    }
    struct lxc_snapshot *snaps = NULL;
    int n = c->snapshot_list(c, &snaps);
    struct rows *list = rows_new(&snapshot_row_desc);
    for (int i = 0; i < n; i++) {
        struct snapshot_row *row = rows_add(list);
        row->name = g_strdup(snaps[i].name);
        row->state = g_strdup("shutoff");
        /* "YYYY:MM:DD HH:MM:SS", local time */
        int Y, M, D, hh, mm, ss;
        if (snaps[i].timestamp &&
            sscanf(snaps[i].timestamp, "%d:%d:%d %d:%d:%d", &Y, &M, &D, &hh, &mm, &ss) == 6) {
            g_autoptr(GDateTime) dt = g_date_time_new_local(Y, M, D, hh, mm, ss);
            row->created_at = dt ? g_date_time_to_unix(dt) : 0;
        }
        snaps[i].free(&snaps[i]);
    }
    free(snaps);
    lxc_container_put(c);
    return list;
}
