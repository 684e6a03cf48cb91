/*
 * The rules' names, their default tolerances and windows, and setting them
 * by name.  The defaults and their reasons are in docs/reconciliation.md;
 * keep the two in step.
 */
#include "config.h"

#include "reconcile/reconcile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)
#define GIB (1024.0 * MIB)

static const char *const rule_names[RR_N] = {
    [RR_CPU_BUSY_MISMATCH] = "cpu-busy-mismatch",
    [RR_STEAL_INVISIBLE] = "steal-invisible-to-guest",
    [RR_VCPU_COUNT_MISMATCH] = "vcpu-count-mismatch",
    [RR_GUEST_CLOCK_RATE] = "guest-clock-rate",
    [RR_MEM_OVERSTATED] = "guest-memory-overstated",
    [RR_RSS_OVER_USED] = "host-rss-overstates-guest-use",
    [RR_RSS_UNDER_USED] = "host-rss-below-guest-use",
    [RR_BALLOON_SWAPPING] = "balloon-induced-swapping",
    [RR_MEM_VIEW_UNAVAILABLE] = "guest-memory-view-unavailable",
    [RR_THIN_POOL_OVERCOMMIT] = "thin-pool-overcommit",
    [RR_TRIM_DEBT] = "trim-debt",
    [RR_DISK_IO_MISMATCH] = "disk-io-mismatch",
    [RR_NET_IO_MISMATCH] = "net-io-mismatch",
    [RR_GUEST_VIEW_MISSING] = "guest-view-missing",
    [RR_GUEST_VIEW_STALE] = "guest-view-stale",
    [RR_GUEST_CLOCK_SKEW] = "guest-clock-skew",
    [RR_GUEST_AGENT_INCOMPLETE] = "guest-agent-incomplete",
    [RR_CONTAINER_CPU_THROTTLED] = "container-cpu-throttled",
    [RR_CONTAINER_SEES_HOST_MEMORY] = "container-sees-host-memory",
    [RR_CONTAINER_OOM_KILL] = "container-oom-kill",
    [RR_CONTAINER_SEES_HOST_DISK] = "container-sees-host-disk",
};

const char *reconcile_rule_name(enum reconcile_rule r)
{
    return (unsigned)r < RR_N ? rule_names[r] : "?";
}

const char *reconcile_severity_name(enum reconcile_severity s)
{
    switch (s) {
    case RECONCILE_INFO:
        return "info";
    case RECONCILE_WARNING:
        return "warning";
    case RECONCILE_CRITICAL:
        return "critical";
    }
    return "?";
}

const char *reconcile_fstate_name(enum reconcile_fstate s)
{
    switch (s) {
    case RECONCILE_OPENING:
        return "opening";
    case RECONCILE_OPEN:
        return "open";
    case RECONCILE_CLOSING:
        return "closing";
    case RECONCILE_CLOSED:
        return "closed";
    }
    return "?";
}

static void rule(struct reconcile_config *cfg, enum reconcile_rule r, double open_at,
                 double close_at, double crit_at, unsigned open_after, unsigned close_after,
                 enum reconcile_severity sev)
{
    cfg->rule[r] = (struct reconcile_rule_conf){
        .enabled = true,
        .open_at = open_at,
        .close_at = close_at,
        .crit_at = crit_at,
        .open_after = open_after,
        .close_after = close_after,
        .severity = sev,
    };
}

void reconcile_config_init(struct reconcile_config *cfg)
{
    const double never = RECONCILE_ABSENT;
    memset(cfg, 0, sizeof(*cfg));
    /*            rule                      open_at   close_at  crit_at  open close severity */
    rule(cfg, RR_CPU_BUSY_MISMATCH, 20, 15, never, 3, 3, RECONCILE_INFO);
    rule(cfg, RR_STEAL_INVISIBLE, 5, 3, 25, 2, 3, RECONCILE_WARNING);
    rule(cfg, RR_VCPU_COUNT_MISMATCH, 1, 1, never, 2, 1, RECONCILE_INFO);
    rule(cfg, RR_GUEST_CLOCK_RATE, 5, 3, 20, 3, 3, RECONCILE_WARNING);
    rule(cfg, RR_MEM_OVERSTATED, 2, 1, never, 2, 2, RECONCILE_WARNING);
    rule(cfg, RR_RSS_OVER_USED, 25, 20, never, 3, 3, RECONCILE_INFO);
    rule(cfg, RR_RSS_UNDER_USED, 10, 5, never, 3, 3, RECONCILE_INFO);
    rule(cfg, RR_BALLOON_SWAPPING, 1 * MIB, 256 * 1024.0, 16 * MIB, 2, 3, RECONCILE_WARNING);
    rule(cfg, RR_MEM_VIEW_UNAVAILABLE, 1, 1, never, 1, 2, RECONCILE_WARNING);
    rule(cfg, RR_THIN_POOL_OVERCOMMIT, 64 * MIB, 0, never, 2, 3, RECONCILE_WARNING);
    rule(cfg, RR_TRIM_DEBT, 25, 20, never, 3, 3, RECONCILE_INFO);
    rule(cfg, RR_DISK_IO_MISMATCH, 25, 15, never, 3, 3, RECONCILE_INFO);
    rule(cfg, RR_NET_IO_MISMATCH, 25, 15, never, 3, 3, RECONCILE_INFO);
    rule(cfg, RR_GUEST_VIEW_MISSING, 1, 1, never, 1, 1, RECONCILE_WARNING);
    rule(cfg, RR_GUEST_VIEW_STALE, 90, 90, 900, 1, 1, RECONCILE_WARNING);
    rule(cfg, RR_GUEST_CLOCK_SKEW, 2, 1, 60, 2, 2, RECONCILE_WARNING);
    rule(cfg, RR_GUEST_AGENT_INCOMPLETE, 1, 1, never, 1, 1, RECONCILE_INFO);
    rule(cfg, RR_CONTAINER_CPU_THROTTLED, 10, 5, 50, 2, 3, RECONCILE_WARNING);
    rule(cfg, RR_CONTAINER_SEES_HOST_MEMORY, 5, 5, never, 2, 2, RECONCILE_WARNING);
    rule(cfg, RR_CONTAINER_OOM_KILL, 1, 1, never, 1, 6, RECONCILE_WARNING);
    rule(cfg, RR_CONTAINER_SEES_HOST_DISK, 50, 25, never, 2, 2, RECONCILE_INFO);
    cfg->host_stale_us = 60 * G_USEC_PER_SEC;
    cfg->guest_stale_us = 90 * G_USEC_PER_SEC;
    cfg->balloon_stale_us = 30 * G_USEC_PER_SEC;
    cfg->min_interval_us = 1 * G_USEC_PER_SEC;
    cfg->balloon_inflated_pct = 5;
    cfg->disk_io_floor = 1 * MIB;
    cfg->net_io_floor = 128 * 1024.0;
    cfg->container_disk_slack = 64 * MIB;
    cfg->pool_full_crit_us = (int64_t)24 * 3600 * G_USEC_PER_SEC;
    cfg->page_size = 4096;
}

G_DEFINE_QUARK(kanri_reconcile_config_error_quark, reconcile_config_error)

static bool parse_double(const char *s, double *ret)
{
    if (!s || !*s)
        return false;
    if (g_ascii_strcasecmp(s, "never") == 0 || g_ascii_strcasecmp(s, "none") == 0) {
        *ret = RECONCILE_ABSENT;
        return true;
    }
    char *end = NULL;
    errno = 0;
    double v = g_ascii_strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *ret = v;
    return true;
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
    if (!s || !g_ascii_isdigit(*s))
        return false;
    char *end = NULL;
    errno = 0;
    guint64 v = g_ascii_strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *ret = v;
    return true;
}

static bool parse_bool(const char *s, bool *ret)
{
    if (g_str_equal(s, "true") || g_str_equal(s, "1")) {
        *ret = true;
        return true;
    }
    if (g_str_equal(s, "false") || g_str_equal(s, "0")) {
        *ret = false;
        return true;
    }
    return false;
}

static bool set_global(struct reconcile_config *cfg, const char *name, const char *value,
                       bool *ret_bad)
{
    static const struct {
        const char *name;
        size_t off;
    } secs[] = {
        {"host_stale_s", offsetof(struct reconcile_config, host_stale_us)},
        {"guest_stale_s", offsetof(struct reconcile_config, guest_stale_us)},
        {"balloon_stale_s", offsetof(struct reconcile_config, balloon_stale_us)},
        {"min_interval_s", offsetof(struct reconcile_config, min_interval_us)},
        {"pool_full_crit_s", offsetof(struct reconcile_config, pool_full_crit_us)},
    };
    static const struct {
        const char *name;
        size_t off;
    } dbl[] = {
        {"balloon_inflated_pct", offsetof(struct reconcile_config, balloon_inflated_pct)},
        {"disk_io_floor", offsetof(struct reconcile_config, disk_io_floor)},
        {"net_io_floor", offsetof(struct reconcile_config, net_io_floor)},
        {"container_disk_slack", offsetof(struct reconcile_config, container_disk_slack)},
    };
    *ret_bad = false;
    for (size_t i = 0; i < G_N_ELEMENTS(secs); i++) {
        if (!g_str_equal(name, secs[i].name))
            continue;
        uint64_t v;
        /* Ten years is far past any sensible window; it keeps µs in range. */
        if (!parse_uint(value, 10ULL * 366 * 24 * 3600, &v) || v == 0) {
            *ret_bad = true;
            return true;
        }
        *(int64_t *)((char *)cfg + secs[i].off) = (int64_t)v * G_USEC_PER_SEC;
        return true;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(dbl); i++) {
        if (!g_str_equal(name, dbl[i].name))
            continue;
        double v;
        if (!parse_double(value, &v) || !reconcile_present(v) || v < 0) {
            *ret_bad = true;
            return true;
        }
        *(double *)((char *)cfg + dbl[i].off) = v;
        return true;
    }
    if (g_str_equal(name, "page_size")) {
        uint64_t v;
        if (!parse_uint(value, 1 << 30, &v) || v == 0)
            *ret_bad = true;
        else
            cfg->page_size = v;
        return true;
    }
    return false;
}

bool reconcile_config_set(struct reconcile_config *cfg, const char *name, const char *value,
                          GError **error)
{
    GQuark q = reconcile_config_error_quark();
    bool bad = false;
    if (!name || !value) {
        g_set_error(error, q, 0, "option name and value are required");
        return false;
    }
    if (set_global(cfg, name, value, &bad)) {
        if (bad)
            g_set_error(error, q, 0, "%s: bad value '%.64s'", name, value);
        return !bad;
    }
    const char *dot = strrchr(name, '.');
    int r = -1;
    for (int i = 0; dot && i < RR_N; i++) {
        if (strlen(rule_names[i]) == (size_t)(dot - name) &&
            strncmp(rule_names[i], name, (size_t)(dot - name)) == 0)
            r = i;
    }
    if (r < 0) {
        g_set_error(error, q, 0, "unknown option '%.64s'", name);
        return false;
    }
    struct reconcile_rule_conf rc = cfg->rule[r];
    const char *field = dot + 1;
    uint64_t u;
    if (g_str_equal(field, "enabled")) {
        bad = !parse_bool(value, &rc.enabled);
    } else if (g_str_equal(field, "open_at")) {
        bad = !parse_double(value, &rc.open_at) || !reconcile_present(rc.open_at);
    } else if (g_str_equal(field, "close_at")) {
        bad = !parse_double(value, &rc.close_at) || !reconcile_present(rc.close_at);
    } else if (g_str_equal(field, "crit_at")) {
        bad = !parse_double(value, &rc.crit_at);
    } else if (g_str_equal(field, "open_after") || g_str_equal(field, "close_after")) {
        bad = !parse_uint(value, 1000, &u) || u == 0;
        if (!bad)
            *(field[0] == 'o' ? &rc.open_after : &rc.close_after) = (unsigned)u;
    } else if (g_str_equal(field, "severity")) {
        if (g_str_equal(value, "info"))
            rc.severity = RECONCILE_INFO;
        else if (g_str_equal(value, "warning"))
            rc.severity = RECONCILE_WARNING;
        else if (g_str_equal(value, "critical"))
            rc.severity = RECONCILE_CRITICAL;
        else
            bad = true;
    } else {
        g_set_error(error, q, 0, "unknown option '%.64s'", name);
        return false;
    }
    /* The band between close_at and open_at is the value hysteresis; an
     * inverted band would let one measure open and close at once. */
    if (!bad && rc.close_at > rc.open_at) {
        g_set_error(error, q, 0, "%s: close_at (%g) is above open_at (%g)", rule_names[r],
                    rc.close_at, rc.open_at);
        return false;
    }
    if (bad) {
        g_set_error(error, q, 0, "%.64s: bad value '%.64s'", name, value);
        return false;
    }
    cfg->rule[r] = rc;
    return true;
}
