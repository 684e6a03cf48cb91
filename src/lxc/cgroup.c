/*
 * Reading a control group (cgroup.h).
 */
#include "config.h"

#include "lxc/cgroup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#define FILE_MAX (64 * 1024)
/* v1 writes "no limit" as the largest page-aligned signed value. */
#define V1_UNLIMITED (UINT64_C(1) << 62)

const char *cgroup_layout_name(enum cgroup_layout l)
{
    switch (l) {
    case CGROUP_V1:
        return "v1";
    case CGROUP_V2:
        return "v2";
    case CGROUP_HYBRID:
        return "hybrid";
    case CGROUP_UNKNOWN:
        break;
    }
    return "unknown";
}

/* ROOT/sys/fs/cgroup/A/B/C, the NULL parts left out. */
static char *fs_path(const char *root, const char *a, const char *b, const char *c)
{
    const char *parts[6] = {root ? root : "/", "sys/fs/cgroup"};
    size_t n = 2;
    if (a)
        parts[n++] = a;
    if (b)
        parts[n++] = b;
    if (c)
        parts[n++] = c;
    parts[n] = NULL;
    return g_build_filenamev((char **)parts);
}

enum cgroup_layout cgroup_detect(const char *root)
{
    g_autofree char *v2 = fs_path(root, "cgroup.controllers", NULL, NULL);
    g_autofree char *unified = fs_path(root, "unified", "cgroup.controllers", NULL);
    g_autofree char *mem = fs_path(root, "memory", NULL, NULL);
    g_autofree char *cpuacct = fs_path(root, "cpuacct", NULL, NULL);
    if (g_file_test(v2, G_FILE_TEST_EXISTS))
        return CGROUP_V2;
    bool v1 = g_file_test(mem, G_FILE_TEST_IS_DIR) || g_file_test(cpuacct, G_FILE_TEST_IS_DIR);
    if (v1 && g_file_test(unified, G_FILE_TEST_EXISTS))
        return CGROUP_HYBRID;
    return v1 ? CGROUP_V1 : CGROUP_UNKNOWN;
}

static void sample_init(struct cgroup_sample *s)
{
    uint64_t *f = (uint64_t *)s;
    for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
        f[i] = SAMPLE_ABSENT;
}

/* The text of ROOT/sys/fs/cgroup/HIER/PATH/FILE (bounded), or NULL. */
static char *slurp(const char *root, const char *hier, const char *path, const char *file)
{
    g_autofree char *p = fs_path(root, hier, path, file);
    g_autofree char *text = NULL;
    gsize len = 0;
    if (!g_file_get_contents(p, &text, &len, NULL) || len > FILE_MAX)
        return NULL;
    return g_steal_pointer(&text);
}

static bool parse_u64(const char *s, uint64_t *ret)
{
    if (!s || !g_ascii_isdigit(*s))
        return false;
    char *end = NULL;
    errno = 0;
    guint64 v = g_ascii_strtoull(s, &end, 10);
    if (errno || (end && *end && !g_ascii_isspace(*end)))
        return false;
    *ret = v;
    return true;
}

/* A file holding one number. */
static uint64_t one(const char *root, const char *hier, const char *path, const char *file)
{
    g_autofree char *t = slurp(root, hier, path, file);
    uint64_t v;
    return t && parse_u64(g_strstrip(t), &v) ? v : SAMPLE_ABSENT;
}

/* KEY's value in a "key value" per line file (cpu.stat, memory.stat,
 * memory.events), SAMPLE_ABSENT when missing. */
static uint64_t keyed(const char *text, const char *key)
{
    if (!text)
        return SAMPLE_ABSENT;
    size_t n = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        uint64_t v;
        if (strncmp(l, key, n) == 0 && l[n] == ' ' && parse_u64(l + n + 1, &v))
            return v;
    }
    return SAMPLE_ABSENT;
}

static uint64_t scale(uint64_t v, uint64_t by)
{
    return v == SAMPLE_ABSENT ? v : v * by;
}

/* ---- v2 ---- */

static void read_v2(const char *root, const char *path, struct cgroup_sample *s)
{
    g_autofree char *cpu = slurp(root, path, NULL, "cpu.stat");
    s->cpu_usage_ns = scale(keyed(cpu, "usage_usec"), 1000);
    s->cpu_user_ns = scale(keyed(cpu, "user_usec"), 1000);
    s->cpu_system_ns = scale(keyed(cpu, "system_usec"), 1000);
    s->cpu_periods = keyed(cpu, "nr_periods");
    s->cpu_throttled_periods = keyed(cpu, "nr_throttled");
    s->cpu_throttled_ns = scale(keyed(cpu, "throttled_usec"), 1000);
    /* cpu.max: "QUOTA PERIOD" or "max PERIOD". */
    g_autofree char *max = slurp(root, path, NULL, "cpu.max");
    if (max) {
        g_auto(GStrv) w = g_strsplit(g_strstrip(max), " ", 3);
        uint64_t q, p;
        if (w[0] && w[1] && parse_u64(w[0], &q) && parse_u64(w[1], &p) && p > 0)
            s->cpu_quota_millicores = q * 1000 / p;
    }
    s->cpu_weight = one(root, path, NULL, "cpu.weight");
    s->mem_usage = one(root, path, NULL, "memory.current");
    s->mem_limit = one(root, path, NULL, "memory.max"); /* "max": absent */
    g_autofree char *mstat = slurp(root, path, NULL, "memory.stat");
    s->mem_cache = keyed(mstat, "file");
    s->mem_swap = one(root, path, NULL, "memory.swap.current");
    g_autofree char *events = slurp(root, path, NULL, "memory.events");
    s->oom_kills = keyed(events, "oom_kill");
    /* io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..." per device. */
    g_autofree char *io = slurp(root, path, NULL, "io.stat");
    if (io) {
        uint64_t sums[4] = {0, 0, 0, 0};
        static const char *const keys[4] = {"rbytes=", "wbytes=", "rios=", "wios="};
        g_auto(GStrv) lines = g_strsplit(io, "\n", 0);
        for (size_t i = 0; lines[i]; i++) {
            g_auto(GStrv) w = g_strsplit(lines[i], " ", 0);
            for (size_t j = 1; w[0] && w[j]; j++) {
                for (int k = 0; k < 4; k++) {
                    uint64_t v;
                    if (g_str_has_prefix(w[j], keys[k]) &&
                        parse_u64(w[j] + strlen(keys[k]), &v))
                        sums[k] += v;
                }
            }
        }
        s->io_read_bytes = sums[0];
        s->io_write_bytes = sums[1];
        s->io_reads = sums[2];
        s->io_writes = sums[3];
    }
    s->pids_current = one(root, path, NULL, "pids.current");
    s->pids_max = one(root, path, NULL, "pids.max");
}

/* ---- v1 ---- */

/* blkio.throttle.io_service_bytes / io_serviced: "MAJ:MIN Read N" lines
 * (and a "Total" line, skipped). */
static void blkio(const char *text, uint64_t *ret_read, uint64_t *ret_write)
{
    if (!text)
        return;
    uint64_t r = 0, w = 0;
    g_auto(GStrv) lines = g_strsplit(text, "\n", 0);
    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit(lines[i], " ", 0);
        uint64_t v;
        if (!f[0] || !f[1] || !f[2] || !strchr(f[0], ':') || !parse_u64(f[2], &v))
            continue;
        if (g_str_equal(f[1], "Read"))
            r += v;
        else if (g_str_equal(f[1], "Write"))
            w += v;
    }
    *ret_read = r;
    *ret_write = w;
}

static void read_v1(const char *root, const char *path, struct cgroup_sample *s)
{
    s->cpu_usage_ns = one(root, "cpuacct", path, "cpuacct.usage");
    /* cpuacct.stat counts USER_HZ (100 Hz) ticks. */
    g_autofree char *acct = slurp(root, "cpuacct", path, "cpuacct.stat");
    s->cpu_user_ns = scale(keyed(acct, "user"), 10000000);
    s->cpu_system_ns = scale(keyed(acct, "system"), 10000000);
    g_autofree char *cpu = slurp(root, "cpu", path, "cpu.stat");
    s->cpu_periods = keyed(cpu, "nr_periods");
    s->cpu_throttled_periods = keyed(cpu, "nr_throttled");
    s->cpu_throttled_ns = keyed(cpu, "throttled_time");
    /* cfs_quota_us is -1 without a quota: not a number to parse_u64. */
    uint64_t q = one(root, "cpu", path, "cpu.cfs_quota_us");
    uint64_t p = one(root, "cpu", path, "cpu.cfs_period_us");
    if (q != SAMPLE_ABSENT && p != SAMPLE_ABSENT && p > 0)
        s->cpu_quota_millicores = q * 1000 / p;
    /* The kernel maps weight W to shares W × 1024 / 100 (v2's default 100
     * is v1's 1024). */
    uint64_t shares = one(root, "cpu", path, "cpu.shares");
    if (shares != SAMPLE_ABSENT)
        s->cpu_weight = CLAMP(shares * 100 / 1024, 1, 10000);
    s->mem_usage = one(root, "memory", path, "memory.usage_in_bytes");
    uint64_t limit = one(root, "memory", path, "memory.limit_in_bytes");
    s->mem_limit = limit != SAMPLE_ABSENT && limit < V1_UNLIMITED ? limit : SAMPLE_ABSENT;
    g_autofree char *mstat = slurp(root, "memory", path, "memory.stat");
    s->mem_cache = keyed(mstat, "cache");
    s->mem_swap = keyed(mstat, "swap");
    g_autofree char *oom = slurp(root, "memory", path, "memory.oom_control");
    s->oom_kills = keyed(oom, "oom_kill");
    g_autofree char *bytes = slurp(root, "blkio", path, "blkio.throttle.io_service_bytes");
    g_autofree char *ops = slurp(root, "blkio", path, "blkio.throttle.io_serviced");
    blkio(bytes, &s->io_read_bytes, &s->io_write_bytes);
    blkio(ops, &s->io_reads, &s->io_writes);
    s->pids_current = one(root, "pids", path, "pids.current");
    s->pids_max = one(root, "pids", path, "pids.max"); /* "max": absent */
}

int cgroup_read(const char *root, enum cgroup_layout layout, const char *path,
                struct cgroup_sample *ret, GError **error)
{
    sample_init(ret);
    if (!path || path[0] != '/' || strstr(path, "/../") || g_str_has_suffix(path, "/..")) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "cgroup path '%s' is not absolute",
                    path ? path : "(none)");
        return -EINVAL;
    }
    bool v2 = layout == CGROUP_V2;
    g_autofree char *dir = v2 ? fs_path(root, path, NULL, NULL)
                              : fs_path(root, "memory", path, NULL);
    g_autofree char *cpudir = v2 ? NULL : fs_path(root, "cpuacct", path, NULL);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR) &&
        !(cpudir && g_file_test(cpudir, G_FILE_TEST_IS_DIR))) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no control group %s (%s layout)",
                    path, cgroup_layout_name(layout));
        return -ENOENT;
    }
    if (v2)
        read_v2(root, path, ret);
    else
        read_v1(root, path, ret);
    return 0;
}

int cgroup_v1_freezer_state(const char *text)
{
    if (!text)
        return -1;
    size_t n = strcspn(text, " \t\r\n");
    if (n == 6 && strncmp(text, "FROZEN", n) == 0)
        return 1;
    if (n == 6 && strncmp(text, "THAWED", n) == 0)
        return 0;
    return -1;
}

/* Whether ENTRY is "lxc.monitor.NAME" or "lxc.monitor.NAME-DIGITS". */
static bool monitor_group_of(const char *entry, const char *name)
{
    static const char prefix[] = "lxc.monitor.";
    size_t n = strlen(name);
    if (strncmp(entry, prefix, sizeof prefix - 1) != 0)
        return false;
    entry += sizeof prefix - 1;
    if (strncmp(entry, name, n) != 0)
        return false;
    entry += n;
    if (!*entry)
        return true;
    if (*entry++ != '-' || !*entry)
        return false;
    for (; *entry; entry++)
        if (!g_ascii_isdigit(*entry))
            return false;
    return true;
}

/* The leftovers among DIR's entries removed, counted into *N. */
static void remove_in(const char *dir, const char *name, unsigned *n)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;
    while (d && (e = g_dir_read_name(d))) {
        if (!monitor_group_of(e, name))
            continue;
        g_autofree char *p = g_build_filename(dir, e, NULL);
        if (g_rmdir(p) == 0)
            (*n)++;
    }
}

unsigned cgroup_monitor_leftovers_remove(const char *root, const char *name)
{
    unsigned n = 0;
    if (!name || !*name)
        return 0;
    /* v2: at the top of the one hierarchy; v1 and hybrid: at the top of
     * each controller's (and of the empty unified one). */
    g_autofree char *base = fs_path(root, NULL, NULL, NULL);
    remove_in(base, name, &n);
    g_autoptr(GDir) d = g_dir_open(base, 0, NULL);
    const char *e;
    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *sub = g_build_filename(base, e, NULL);
        if (!g_str_has_prefix(e, "lxc.") && g_file_test(sub, G_FILE_TEST_IS_DIR))
            remove_in(sub, name, &n);
    }
    return n;
}
