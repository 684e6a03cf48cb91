/*
 * The round's stage of the operations record: what the round found
 * becomes events — findings opened, escalated and closed by the
 * reconciliation stage, and the verdicts of the rules (thresholds on the
 * host, guest or reconciled view; trends of pools and memory).  What the
 * events mean (incidents) is decided on the ops thread (ops.c).
 *
 * Runs under e->lock after stage_reconcile, on the round's items only.
 */
#include "config.h"

#include "engine/ops-private.h"

#include "basic/util.h"
#include "store/series.h"

#include <math.h>

static char *vm_item(const struct item *it)
{
    return g_strconcat("vm:", it->uuid, NULL);
}

static void post(struct engine *e, const char *item, const char *name, const char *host,
                 const char *kind, const char *condition, bool problem, enum severity sev,
                 const char *msg, GPtrArray *affected)
{
    struct event *ev = event_new(now_usec(), item, name, host, kind, condition, problem, sev, msg);
    ev->affected = affected ? item_refs_copy(affected) : NULL;
    engine_event_post(e, ev);
}

/* ---- findings ---- */

void engine_finding_events(struct engine *e, const GArray *writes, const char *kind,
                           const char *host, GHashTable *inv)
{
    for (guint i = 0; i < writes->len; i++) {
        const struct finding_write *f = &g_array_index(writes, struct finding_write, i);
        /* A new measure or message of an open finding is the findings
         * list's business; a new severity is news (an escalation). */
        if (f->op == FINDING_UPDATE && !f->new_severity)
            continue;
        struct item *it = g_hash_table_lookup(e->items, f->uuid);
        const struct inv_dom *d = inv ? g_hash_table_lookup(inv, f->uuid) : NULL;
        g_autofree char *item = g_strconcat(kind, ":", f->uuid, NULL);
        g_autofree char *cond = g_strconcat("finding/", f->rule, NULL);
        const char *name = it && it->name ? it->name : d && d->name ? d->name : f->uuid;
        enum severity sev = SEV_WARNING;
        if (f->severity)
            severity_parse(f->severity, &sev);
        /* Below the configured severity a finding is a fact in the record,
         * not an incident (a fleet without guest agents would otherwise
         * open one per VM). */
        if (sev < e->conf.finding_min_severity && f->op != FINDING_CLOSE)
            cond[0] = '\0';
        if (f->op == FINDING_OPEN || f->op == FINDING_UPDATE) {
            /* The ops module escalates on a higher severity and keeps the
             * incident as it is on a lower one. */
            post(e, item, name, host, f->op == FINDING_OPEN ? "finding.opened" : "finding.updated",
                 *cond ? cond : NULL, true, sev, f->message, NULL);
        } else {
            g_autofree char *msg = g_strdup_printf("%s: %s closed", name, f->rule);
            post(e, item, name, host, "finding.closed", cond, false, SEV_INFO, msg, NULL);
        }
    }
}

static void findings(struct engine *e, struct ehost *h, const struct round_batch *b)
{
    engine_finding_events(e, b->findings, "vm", h->name, h->inv);
}

/* ---- rules ---- */

static const struct reconciled_sample *reconciled_of(const struct round_batch *b, const char *uuid)
{
    for (guint i = 0; i < b->reconciled->len; i++) {
        const struct reconciled_sample *s = &g_array_index(b->reconciled, struct reconciled_sample, i);
        if (g_strcmp0(s->uuid, uuid) == 0)
            return s;
    }
    return NULL;
}

/* A metric's value from a sample and its predecessor: a gauge as it is
 * (times its served scale), a counter as a rate per second. */
static bool metric_value(const struct series_kind *k, int mi, const void *cur, int64_t t_cur,
                         const void *prev, int64_t t_prev, double *ret)
{
    const struct series_metric *m = &k->metrics[mi];
    uint64_t v = series_sample_value(k, (size_t)mi, cur);
    if (v == SAMPLE_ABSENT)
        return false;
    if (!m->counter) {
        *ret = (double)v * (m->scale ? m->scale : 1.0);
        return true;
    }
    if (!prev || t_cur <= t_prev)
        return false;
    uint64_t p = series_sample_value(k, (size_t)mi, prev);
    if (p == SAMPLE_ABSENT || p > v)
        return false;
    *ret = (double)(v - p) / ((double)(t_cur - t_prev) / 1e6);
    return true;
}

/* The newest guest sample of IT: kanri-guestd's, then qemu-guest-agent's,
 * then the balloon's. */
static int guest_source(const struct item *it)
{
    static const int order[] = {GS_GUESTD, GS_QGA, GS_BALLOON};
    for (guint i = 0; i < G_N_ELEMENTS(order); i++) {
        if (it->have_guest[order[i]][0])
            return order[i];
    }
    return -1;
}

static bool threshold_value(const struct alert_rule *r, const struct item *it,
                            const struct round_batch *b, double *ret)
{
    if (g_str_equal(r->view, "reconciled")) {
        int mi = series_metric_find(&series_vm_reconciled, r->metric);
        const struct reconciled_sample *s = reconciled_of(b, it->uuid);
        return mi >= 0 && s && metric_value(&series_vm_reconciled, mi, s, 0, NULL, 0, ret);
    }
    if (g_str_equal(r->view, "host")) {
        int mi = series_metric_find(&series_vm_host, r->metric);
        if (mi < 0 || !it->have_host[0])
            return false;
        return metric_value(&series_vm_host, mi, &it->host[0], it->host[0].time_us,
                            it->have_host[1] ? &it->host[1] : NULL, it->host[1].time_us, ret);
    }
    int mi = series_metric_find(&series_vm_guest, r->metric);
    int gs = guest_source(it);
    if (mi < 0 || gs < 0)
        return false;
    const struct guest_sample *cur = &it->guest[gs][0], *prev = &it->guest[gs][1];
    return metric_value(&series_vm_guest, mi, cur, cur->time_us,
                        it->have_guest[gs][1] ? prev : NULL, prev->time_us, ret);
}

void engine_ops_forget_item(struct engine *e, const char *uuid)
{
    if (!e->ops)
        return;
    g_autofree char *suffix = g_strconcat("\x1fvm:", uuid, NULL);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, e->ops->tracks);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (g_str_has_suffix(k, suffix))
            g_hash_table_iter_remove(&it);
    }
}

struct rule_track *engine_ops_track(struct engine_ops *o, const struct alert_rule *r,
                                    const char *item)
{
    g_autofree char *key = g_strdup_printf("%" G_GUINT64_FORMAT "\x1f%s", r->serial, item);
    struct rule_track *t = g_hash_table_lookup(o->tracks, key);
    if (!t) {
        t = g_new0(struct rule_track, 1);
        g_hash_table_insert(o->tracks, g_steal_pointer(&key), t);
    }
    return t;
}

static const struct series_kind *view_kind(const char *view)
{
    return g_strcmp0(view, "host") == 0    ? &series_vm_host
           : g_strcmp0(view, "guest") == 0 ? &series_vm_guest
                                           : &series_vm_reconciled;
}

bool engine_rule_check(const struct alert_rule *r, GError **error)
{
    if (!ops_rule_valid(r, error))
        return false;
    if (r->kind != RULE_THRESHOLD)
        return true;
    const struct series_kind *k = view_kind(r->view);
    if (series_metric_find(k, r->metric) >= 0)
        return true;
    g_autoptr(GString) known = g_string_new(NULL);
    for (size_t i = 0; i < k->n_metrics; i++)
        g_string_append_printf(known, "%s%s", i ? ", " : "", k->metrics[i].name);
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "rule %s: the %s view has no metric '%s' (it has: %s)", r->name, r->view,
                r->metric, known->str);
    return false;
}

static const char *view_words(const struct alert_rule *r)
{
    if (r->kind == RULE_POOL_FULL)
        return "the pool's figures";
    if (r->kind == RULE_MEMORY_TREND)
        return "the reconciled memory figures";
    return g_str_equal(r->view, "host")    ? "the host view"
           : g_str_equal(r->view, "guest") ? "the guest view"
                                           : "the reconciled view";
}

/* A figure in a message: whole numbers in full (a memory size in bytes
 * reads better as 25276493824 than 2.52765e+10). */
static void fmt_num(char *buf, size_t len, double v)
{
    if (fabs(v) < 1e15 && v == floor(v))
        g_snprintf(buf, len, "%.0f", v);
    else
        g_snprintf(buf, len, "%.6g", v);
}

/* Turns one verdict into its event. */
static void verdict(struct engine *e, const struct alert_rule *r, enum rule_verdict v,
                    const char *item, const char *name, const char *host, double value,
                    GPtrArray *affected)
{
    if (v == RULE_QUIET)
        return;
    bool cannot = v == RULE_CANNOT_EVAL || v == RULE_CAN_EVAL_AGAIN;
    g_autofree char *cond = ops_rule_condition(r, cannot);
    g_autofree char *msg = NULL;
    const char *what = r->kind == RULE_THRESHOLD ? r->metric : rule_kind_name(r->kind);
    switch (v) {
    case RULE_FIRES:
        if (r->kind == RULE_THRESHOLD) {
            char a[32], b[32];
            fmt_num(a, sizeof(a), value);
            fmt_num(b, sizeof(b), r->value);
            msg = g_strdup_printf("%s: %s %s %s %s %s (rule %s)", name, r->view, r->metric, a, r->op,
                                  b, r->name);
        } else {
            msg = g_strdup_printf("%s: full within %.1f h at the current rate (rule %s: %g h)",
                                  name, value, r->name, r->value);
        }
        break;
    case RULE_CLEARS:
        msg = g_strdup_printf("%s: %s back within rule %s", name, what, r->name);
        break;
    case RULE_CANNOT_EVAL:
        msg = g_strdup_printf("%s: rule %s cannot be evaluated: %s has no %s", name, r->name,
                              view_words(r), what);
        break;
    default:
        msg = g_strdup_printf("%s: rule %s can be evaluated again", name, r->name);
        break;
    }
    bool problem = v == RULE_FIRES || v == RULE_CANNOT_EVAL;
    enum severity sev = v == RULE_FIRES ? r->severity : v == RULE_CANNOT_EVAL ? SEV_WARNING : SEV_INFO;
    const char *kind = v == RULE_FIRES         ? "rule.breach"
                       : v == RULE_CLEARS      ? "rule.clear"
                       : v == RULE_CANNOT_EVAL ? "rule.cannot-evaluate"
                                               : "rule.can-evaluate";
    post(e, item, name, host, kind, cond, problem, sev, msg, affected);
}

static void rules_on_vms(struct engine *e, struct ehost *h, GPtrArray *round_items,
                         const struct round_batch *b, const struct alert_rule *r)
{
    struct engine_ops *o = e->ops;
    for (guint i = 0; i < round_items->len; i++) {
        struct item *it = g_ptr_array_index(round_items, i);
        g_autofree char *item = vm_item(it);
        const char *name = it->name ? it->name : it->uuid;
        if (!ops_scope_match(r->scope, item, name, h->name))
            continue;
        struct rule_track *t = engine_ops_track(o, r, item);
        double v = NAN;
        bool have;
        if (r->kind == RULE_MEMORY_TREND) {
            const struct reconciled_sample *s = reconciled_of(b, it->uuid);
            have = s && s->mem_used != SAMPLE_ABSENT && s->mem_total != SAMPLE_ABSENT;
            if (have) {
                v = ops_trend_hours(t, b->now_us, (double)s->mem_used, (double)s->mem_total);
                /* Two levels are needed before a rate exists: not "missing". */
                if (isnan(v))
                    continue;
            }
        } else {
            have = threshold_value(r, it, b, &v);
        }
        verdict(e, r, ops_rule_step(r, t, have, v, b->now_us), item, name, h->name, v, NULL);
    }
}

static void rule_on_pools(struct engine *e, struct ehost *h, const struct round_batch *b,
                          const struct alert_rule *r)
{
    struct engine_ops *o = e->ops;
    for (guint i = 0; i < h->pools->len; i++) {
        struct pool_ref *p = g_ptr_array_index(h->pools, i);
        if (!p || !p->have_cur)
            continue;
        g_autofree char *item = g_strdup_printf("pool:%s/%s", h->name, p->name);
        if (!ops_scope_match(r->scope, item, p->name, h->name))
            continue;
        struct rule_track *t = engine_ops_track(o, r, item);
        bool have = p->cur.allocation != SAMPLE_ABSENT && p->cur.capacity != SAMPLE_ABSENT &&
                    p->cur.capacity > 0;
        double hours = have ? ops_trend_hours(t, p->cur.time_us, (double)p->cur.allocation,
                                              (double)p->cur.capacity)
                            : NAN;
        if (have && isnan(hours))
            continue; /* the first level: no rate yet */
        enum rule_verdict v = ops_rule_step(r, t, have, hours, b->now_us);
        if (v == RULE_QUIET)
            continue;
        /* The VMs with a disk in the pool are what a full pool hits. */
        g_autoptr(GPtrArray) affected = item_refs_new();
        GHashTableIter hi;
        gpointer k, val;
        g_hash_table_iter_init(&hi, e->items);
        while (p->target_path && g_hash_table_iter_next(&hi, &k, &val)) {
            const struct item *it = val;
            if (it->host_id != h->id)
                continue;
            for (guint j = 0; it->disks && j < it->disks->len; j++) {
                const struct disk_ref *d = g_ptr_array_index(it->disks, j);
                if (ops_path_inside(d->source, p->target_path)) {
                    g_autofree char *vi = vm_item(it);
                    g_ptr_array_add(affected, item_ref_new(vi, it->name));
                    break;
                }
            }
        }
        verdict(e, r, v, item, p->name, h->name, hours, affected);
    }
}

void stage_ops(struct engine *e, struct ehost *h, GPtrArray *round_items,
               const struct round_batch *b)
{
    struct engine_ops *o = e->ops;
    if (!o)
        return;
    findings(e, h, b);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->rules_lock);
    for (guint i = 0; i < o->rules->len; i++) {
        const struct alert_rule *r = g_ptr_array_index(o->rules, i);
        if (!r->enabled)
            continue;
        if (r->kind == RULE_POOL_FULL)
            rule_on_pools(e, h, b, r);
        else
            rules_on_vms(e, h, round_items, b, r);
    }
}
