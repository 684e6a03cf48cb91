/*
 * A machine's own rules (machine.h).
 */
#include "config.h"

#include "reconcile/machine.h"
#include "reconcile/reconcile.h"

#include <json-c/json.h>
#include <math.h>

#define MEM_OPEN_PCT  10.0
#define MEM_CRIT_PCT  5.0
#define MEM_CLEAR_PCT 15.0
#define FS_OPEN_PCT   90.0
#define FS_CRIT_PCT   97.0
#define FS_CLEAR_PCT  85.0
#define GIB           (1024.0 * 1024.0 * 1024.0)

static bool is_open(const char *const *open_rules, const char *rule)
{
    return open_rules && g_strv_contains(open_rules, rule);
}

static void add(GPtrArray *out, const char *id, bool open, enum reconcile_severity sev,
                double measure, int64_t now_us, char *message /* moved */)
{
    struct reconcile_finding *f = g_new0(struct reconcile_finding, 1);
    f->id = id;
    f->severity = sev;
    f->state = open ? RECONCILE_OPEN : RECONCILE_CLOSED;
    f->since_us = now_us;
    f->changed_us = now_us;
    f->measure = measure;
    f->message = message;
    g_ptr_array_add(out, f);
}

/* Decides one rule from VALUE (a percent; NaN: not in this report). */
static void rule(GPtrArray *out, const char *const *open_rules, const char *id, double value,
                 bool high_is_bad, double open_at, double crit_at, double clear_at, int64_t now,
                 char *words /* moved; NULL when VALUE is NaN */)
{
    bool was = is_open(open_rules, id);
    if (isnan(value)) {
        /* Nothing to judge by: an open finding stays as it is. */
        if (was)
            add(out, id, true, RECONCILE_WARNING, NAN, now,
                g_strdup("still open: the newest report has no figure for it"));
        g_free(words);
        return;
    }
    bool over = high_is_bad ? value > open_at : value < open_at;
    bool cleared = high_is_bad ? value < clear_at : value >= clear_at;
    bool crit = high_is_bad ? value > crit_at : value < crit_at;
    if (over || (was && !cleared))
        add(out, id, true, crit ? RECONCILE_CRITICAL : RECONCILE_WARNING, value, now, words);
    else if (was)
        add(out, id, false, RECONCILE_INFO, value, now, words);
    else
        g_free(words);
}

GPtrArray *machine_findings(const struct guest_sample *s, const char *const *open_rules,
                            int64_t now_us)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)reconcile_finding_free);

    double avail = NAN;
    if (s->mem_total != SAMPLE_ABSENT && s->mem_total > 0 && s->mem_available != SAMPLE_ABSENT)
        avail = 100.0 * (double)s->mem_available / (double)s->mem_total;
    rule(out, open_rules, MACHINE_RULE_MEMORY, avail, false, MEM_OPEN_PCT, MEM_CRIT_PCT,
         MEM_CLEAR_PCT, now_us,
         isnan(avail) ? NULL
                      : g_strdup_printf("%.1f %% of its memory is available (%.2f GiB of %.2f GiB)",
                                        avail, (double)s->mem_available / GIB,
                                        (double)s->mem_total / GIB));

    /* The fullest filesystem (as stored at ingest: mountpoint, total_bytes,
     * used_bytes). */
    double worst = NAN;
    g_autofree char *words = NULL;
    json_object *fss = s->filesystems_json ? json_tokener_parse(s->filesystems_json) : NULL;
    for (size_t i = 0; fss && json_object_is_type(fss, json_type_array) &&
                       i < json_object_array_length(fss);
         i++) {
        json_object *f = json_object_array_get_idx(fss, i), *t, *u, *m;
        if (!json_object_object_get_ex(f, "total_bytes", &t) ||
            !json_object_object_get_ex(f, "used_bytes", &u))
            continue;
        double total = json_object_get_double(t), used = json_object_get_double(u);
        if (total <= 0)
            continue;
        double pct = 100.0 * used / total;
        if (isnan(worst) || pct > worst) {
            worst = pct;
            const char *mp = json_object_object_get_ex(f, "mountpoint", &m)
                                 ? json_object_get_string(m)
                                 : "?";
            g_free(words);
            words = g_strdup_printf("%s is %.1f %% full (%.2f GiB of %.2f GiB)", mp, pct,
                                    used / GIB, total / GIB);
        }
    }
    json_object_put(fss);
    rule(out, open_rules, MACHINE_RULE_FS, worst, true, FS_OPEN_PCT, FS_CRIT_PCT, FS_CLEAR_PCT,
         now_us, g_steal_pointer(&words));
    return out;
}
