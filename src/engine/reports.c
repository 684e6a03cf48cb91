/*
 * Reports (docs/reports.md): the availability report of a period, from
 * what the rounds recorded (stage-report.c) and the store's maintenance
 * windows and audit trail, computed by the pure report module.  Reads the
 * store only, so a report of a past period is the same whenever it is
 * asked for (and on any instance of a shared store).
 */
#include "config.h"

#include "engine/engine-private.h"

#include "basic/util.h"
#include "ops/ops.h"
#include "report/availability.h"
#include "report/capacity.h"
#include "report/forecast.h"
#include "store/series.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>

/* The audited actions that stop a VM: an outage right after one was
 * kanri's doing, so planned. */
static bool stops_vm(const char *action)
{
    static const char *const stopping[] = {"shutdown", "destroy",         "suspend", "reboot",
                                           "migrate",  "snapshot-revert", "undefine"};
    for (guint i = 0; i < G_N_ELEMENTS(stopping); i++) {
        if (g_strcmp0(action, stopping[i]) == 0)
            return true;
    }
    return false;
}

static json_object *jsecs(int64_t us)
{
    return json_object_new_double(round((double)us / 1e4) / 1e2);
}

static json_object *jratio(double v)
{
    return isnan(v) ? NULL : json_object_new_double(round(v * 1e8) / 1e8);
}

static json_object *totals_json(const struct avail_totals *t)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "up_s", jsecs(t->up_us));
    json_object_object_add(o, "host_only_s", jsecs(t->host_only_us));
    json_object_object_add(o, "unresponsive_s", jsecs(t->unresponsive_us));
    json_object_object_add(o, "planned_down_s", jsecs(t->planned_us));
    json_object_object_add(o, "unplanned_down_s", jsecs(t->unplanned_us));
    json_object_object_add(o, "unknown_s", jsecs(t->unknown_us));
    json_object_object_add(o, "availability", jratio(avail_ratio(t)));
    json_object_object_add(o, "responsive", jratio(avail_responsive_ratio(t)));
    return o;
}

static json_object *outage_json(const struct avail_outage *x, const char *vm)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "vm", json_object_new_string(vm));
    json_object_object_add(o, "kind",
                           json_object_new_string(x->unresponsive ? "unresponsive" : "down"));
    json_object_object_add(o, "start", engine_jtime(x->start_us));
    json_object_object_add(o, "end", engine_jtime(x->end_us));
    json_object_object_add(o, "began_before", json_object_new_boolean(x->began_before));
    json_object_object_add(o, "open", json_object_new_boolean(x->open));
    json_object_object_add(o, "planned", json_object_new_boolean(x->planned));
    json_object_object_add(o, "duration_s", jsecs(x->end_us - x->start_us));
    json_object_object_add(o, "known_s", jsecs(x->known_us));
    json_object_object_add(o, "cause", engine_jstr(x->cause));
    return o;
}

struct vm_acc {
    char *uuid, *name, *host;
    int64_t host_id;   /* of its newest mark */
    GHashTable *hosts; /* the host ids its marks name (int64_t *, borrowed from the rows) */
    GArray *marks;     /* struct avail_mark, reason borrowed from the rows */
};

static void vm_acc_free(gpointer p)
{
    struct vm_acc *v = p;
    g_free(v->uuid);
    g_free(v->name);
    g_free(v->host);
    g_array_unref(v->marks);
    g_hash_table_unref(v->hosts);
    g_free(v);
}

/* The name and host VM UUID goes by: the inventory's (a removed VM's too). */
static void vm_naming(struct store *st, GHashTable *names, struct vm_acc *v)
{
    const struct vm_row *r = g_hash_table_lookup(names, v->uuid);
    if (r) {
        v->name = g_strdup(r->name);
        v->host = g_strdup(r->host);
        return;
    }
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_vm_ref));
    g_array_set_clear_func(refs, (GDestroyNotify)store_vm_ref_clear);
    if (st->ops->vm_resolve(st, v->uuid, refs, NULL) == 0 && refs->len >= 1) {
        const struct store_vm_ref *ref = &g_array_index(refs, struct store_vm_ref, 0);
        v->name = g_strdup(ref->name);
        v->host = g_strdup(ref->host);
        return;
    }
    v->name = g_strdup(v->uuid);
}

static void add_actions(struct store *st, const struct vm_acc *v,
                        const struct engine_avail_query *q, GArray *actions, GPtrArray *strs)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) audit = st->ops->audit_query(st, v->uuid, 1000, &err);
    if (!audit)
        return;
    for (guint i = 0; i < rows_len(audit); i++) {
        const struct audit_row *a = rows_get(audit, i);
        /* Any time before the period's end: an outage under way when the
         * period began may have begun long before. */
        if (!stops_vm(a->action) || g_strcmp0(a->result, "ok") != 0 || a->started_at > q->to_us)
            continue;
        char *what =
            g_strdup_printf("%s by %s (audit #%" G_GINT64_FORMAT ")", a->action, a->actor, a->id);
        g_ptr_array_add(strs, what);
        /* Its end: the state the round saw follows it. */
        struct avail_action x = {.t_us = a->ended_at ? a->ended_at : a->started_at, .what = what};
        g_array_append_val(actions, x);
    }
}

int engine_report_availability(struct engine *e, const struct engine_avail_query *q,
                               json_object **ret, GError **error)
{
    struct store *st = e->store;
    if (q->to_us <= q->from_us) {
        engine_set_error(error, ENGINE_OPS_INVALID,
                         "the period is empty: 'to' must be after 'from'");
        return -EINVAL;
    }
    int64_t interval = (int64_t)MAX(e->conf.interval_s, 1) * G_USEC_PER_SEC;
    g_autoptr(rows) marks = st->ops->vm_states_query(st, q->uuid, q->from_us, q->to_us, error);
    g_autoptr(rows) spans =
        marks ? st->ops->host_spans_query(st, q->from_us, q->to_us, error) : NULL;
    g_autoptr(rows) hosts = spans ? st->ops->hosts_query(st, NULL, error) : NULL;
    g_autoptr(rows) vms = hosts ? st->ops->vms_query(st, NULL, 0, false, error) : NULL;
    g_autoptr(rows) windows = vms ? st->ops->maintenance_query(st, q->from_us, error) : NULL;
    g_autoptr(rows) tagged = NULL;
    if (windows && q->group)
        tagged = st->ops->vm_tags_query(st, NULL, q->group, error);
    if (!windows || (q->group && !tagged))
        return -EIO;

    g_autoptr(GHashTable) host_names = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint i = 0; i < rows_len(hosts); i++) {
        struct host_row *h = rows_get(hosts, i);
        g_hash_table_insert(host_names, &h->id, h->name);
    }
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < rows_len(vms); i++) {
        struct vm_row *v = rows_get(vms, i);
        g_hash_table_insert(names, v->uuid, v);
    }
    g_autoptr(GHashTable) in_group = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; tagged && i < rows_len(tagged); i++)
        g_hash_table_add(in_group, ((struct vm_tag_row *)rows_get(tagged, i))->uuid);

    /* The marks, VM by VM (the rows come by uuid and time). */
    g_autoptr(GPtrArray) accs = g_ptr_array_new_with_free_func(vm_acc_free);
    struct vm_acc *cur = NULL;
    for (guint i = 0; i < rows_len(marks); i++) {
        const struct vm_state_row *m = rows_get(marks, i);
        if (q->group && !g_hash_table_contains(in_group, m->uuid))
            continue;
        if (!cur || g_strcmp0(cur->uuid, m->uuid) != 0) {
            cur = g_new0(struct vm_acc, 1);
            cur->uuid = g_strdup(m->uuid);
            cur->marks = g_array_new(FALSE, TRUE, sizeof(struct avail_mark));
            cur->hosts = g_hash_table_new(g_int64_hash, g_int64_equal);
            g_ptr_array_add(accs, cur);
        }
        struct avail_mark am = {.t_us = m->t, .reason = m->reason};
        if (!avail_state_parse(m->state, &am.state))
            continue;
        cur->host_id = m->host_id;
        g_hash_table_add(cur->hosts, (gpointer)&m->host_id);
        g_array_append_val(cur->marks, am);
    }

    struct avail_totals all = {0};
    json_object *jvms = json_object_new_array();
    json_object *jout = json_object_new_array();
    for (guint i = 0; i < accs->len; i++) {
        struct vm_acc *v = g_ptr_array_index(accs, i);
        vm_naming(st, names, v);
        const char *host_now = g_hash_table_lookup(host_names, &v->host_id);
        if (q->host && g_strcmp0(q->host, host_now) != 0)
            continue;
        /* The spans of the hosts it was marked on. */
        g_autoptr(GArray) sp = g_array_new(FALSE, TRUE, sizeof(struct avail_span));
        for (guint j = 0; j < rows_len(spans); j++) {
            struct host_span_row *s = rows_get(spans, j);
            if (g_hash_table_contains(v->hosts, &s->host_id))
                g_array_append_val(sp, ((struct avail_span){s->from_t, s->to_t}));
        }
        g_autofree char *item = g_strconcat("vm:", v->uuid, NULL);
        g_autoptr(GArray) win = g_array_new(FALSE, TRUE, sizeof(struct avail_window));
        for (guint j = 0; j < rows_len(windows); j++) {
            struct maintenance_row *w = rows_get(windows, j);
            if (w->to <= q->from_us || w->from >= q->to_us ||
                !ops_scope_match(w->scope, item, v->name, host_now))
                continue;
            g_array_append_val(win, ((struct avail_window){w->from, w->to, w->why}));
        }
        g_autoptr(GArray) acts = g_array_new(FALSE, TRUE, sizeof(struct avail_action));
        g_autoptr(GPtrArray) strs = g_ptr_array_new_with_free_func(g_free);
        bool downs = false;
        for (guint j = 0; j < v->marks->len; j++)
            downs |= g_array_index(v->marks, struct avail_mark, j).state == AV_DOWN;
        if (downs)
            add_actions(st, v, q, acts, strs);

        struct avail_input in = {.from_us = q->from_us,
                                 .to_us = q->to_us,
                                 .interval_us = interval,
                                 .marks = (const struct avail_mark *)v->marks->data,
                                 .n_marks = v->marks->len,
                                 .spans = (const struct avail_span *)sp->data,
                                 .n_spans = sp->len,
                                 .windows = (const struct avail_window *)win->data,
                                 .n_windows = win->len,
                                 .actions = (const struct avail_action *)acts->data,
                                 .n_actions = acts->len};
        struct avail_report r;
        avail_report_init(&r);
        avail_compute(&in, &r);
        avail_totals_add(&all, &r.t);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "uuid", json_object_new_string(v->uuid));
        json_object_object_add(o, "name", json_object_new_string(v->name));
        json_object_object_add(o, "host", engine_jstr(host_now));
        json_object_object_add(o, "totals", totals_json(&r.t));
        json_object_object_add(o, "host_view_only", json_object_new_boolean(r.host_view_only));
        if (r.host_view_only)
            json_object_object_add(o, "caveat",
                                   json_object_new_string("host view only: no guest view, so "
                                                          "up means running by the host's word"));
        json_object *jo = json_object_new_array();
        for (guint j = 0; j < r.outages->len; j++) {
            const struct avail_outage *x = &g_array_index(r.outages, struct avail_outage, j);
            json_object_array_add(jo, outage_json(x, v->name));
            json_object_array_add(jout, outage_json(x, v->name));
        }
        json_object_object_add(o, "outages", jo);
        json_object_array_add(jvms, o);
        avail_report_clear(&r);
    }

    json_object *res = json_object_new_object();
    json_object_object_add(res, "from", engine_jtime(q->from_us));
    json_object_object_add(res, "to", engine_jtime(q->to_us));
    json_object_object_add(res, "interval_s", json_object_new_int64(interval / G_USEC_PER_SEC));
    json_object_object_add(res, "group", engine_jstr(q->group));
    json_object_object_add(res, "totals", totals_json(&all));
    /* The target asked for, else the group's, else the fleet's. */
    double target = q->slo;
    const double *gt =
        q->group && e->conf.slo_groups ? g_hash_table_lookup(e->conf.slo_groups, q->group) : NULL;
    if (isnan(target))
        target = gt ? *gt : q->group ? NAN : e->conf.slo_default;
    if (isnan(target)) {
        json_object_object_add(res, "slo", NULL);
    } else {
        struct avail_slo s;
        avail_slo_eval(&all, target, &s);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "target", jratio(s.target));
        json_object_object_add(o, "budget_s", jsecs(s.budget_us));
        json_object_object_add(o, "budget_used",
                               isfinite(s.budget_used) ? jratio(s.budget_used) : NULL);
        json_object_object_add(o, "burn_rate", isfinite(s.burn_rate) ? jratio(s.burn_rate) : NULL);
        json_object_object_add(o, "met", json_object_new_boolean(s.met));
        json_object_object_add(res, "slo", o);
    }
    json_object_object_add(res, "vms", jvms);
    json_object_object_add(res, "outages", jout);
    *ret = res;
    return 0;
}

/* ---- capacity ---- */

#define DAY_US (86400 * G_GINT64_CONSTANT(1000000))
G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

/* The host series' metrics the capacity report reads, in this order. */
static const char *const demand_metrics[] = {"vcpus_alloc",      "mem_alloc",  "disk_alloc",
                                             "cpu_demand_milli", "mem_demand", "disk_demand",
                                             "domains_running"};
enum { DM_VCPUS, DM_MEM, DM_DISK, DM_CPU, DM_MEMD, DM_DISKD, DM_RUNNING, DM_N };

/* The newest value of each metric of SERIES in [FROM, TO) into RET (NaN
 * when none); *ret_t the newest point's time. */
static void latest(struct store *st, const struct series_kind *kind, const char *entity,
                   const char *const *metrics, size_t n, int64_t from, int64_t to, double *ret,
                   int64_t *ret_t)
{
    int idx[DM_N];
    for (size_t i = 0; i < n; i++) {
        idx[i] = series_metric_find(kind, metrics[i]);
        ret[i] = NAN;
    }
    *ret_t = 0;
    struct store_series_query q = {.kind = kind,
                                   .entity = entity,
                                   .metrics = idx,
                                   .n_metrics = n,
                                   .from_us = from,
                                   .to_us = to,
                                   .tier = "raw"};
    g_autoptr(store_series_result) res = st->ops->series_query(st, &q, NULL);
    for (guint i = 0; res && i < res->lines->len; i++) {
        const struct store_series_line *l = &g_array_index(res->lines, struct store_series_line, i);
        if (l->points->len == 0)
            continue;
        const struct series_point *p =
            &g_array_index(l->points, struct series_point, l->points->len - 1);
        ret[i] = p->v;
        *ret_t = MAX(*ret_t, p->t);
    }
}

/* The history of one metric on a grid of STEP from FROM to TO (NaN where
 * it has no point): the downsampled tier of STEP, and after its newest
 * bucket (the downsampler follows a little behind) the raw points,
 * averaged per step. */
static GArray *history(struct store *st, const struct series_kind *kind, const char *entity,
                       const char *metric, int64_t from, int64_t to, int64_t step)
{
    int idx = series_metric_find(kind, metric);
    size_t n = (size_t)((to - from) / step);
    GArray *v = g_array_sized_new(FALSE, FALSE, sizeof(double), (guint)n);
    for (size_t i = 0; i < n; i++) {
        double nan = NAN;
        g_array_append_val(v, nan);
    }
    if (idx < 0)
        return v;
    struct store_series_query q = {.kind = kind,
                                   .entity = entity,
                                   .metrics = &idx,
                                   .n_metrics = 1,
                                   .from_us = from,
                                   .to_us = to,
                                   .step_us = step};
    int64_t raw_from = from;
    /* Steps finer than the 5-minute tier are made of raw points alone. */
    g_autoptr(store_series_result) res =
        step >= SERIES_TIER_5M ? st->ops->series_query(st, &q, NULL) : NULL;
    if (res && res->lines->len) {
        const struct store_series_line *l = &g_array_index(res->lines, struct store_series_line, 0);
        for (guint i = 0; i < l->points->len; i++) {
            const struct series_point *p = &g_array_index(l->points, struct series_point, i);
            int64_t k = (p->t - from) / step;
            if (k >= 0 && (size_t)k < n) {
                g_array_index(v, double, k) = p->v;
                raw_from = MAX(raw_from, from + (k + 1) * step);
            }
        }
    }
    if (raw_from >= to)
        return v;
    q.from_us = raw_from;
    q.step_us = 0;
    q.tier = "raw";
    g_autoptr(store_series_result) raw = st->ops->series_query(st, &q, NULL);
    if (!raw || raw->lines->len == 0)
        return v;
    const struct store_series_line *l = &g_array_index(raw->lines, struct store_series_line, 0);
    g_autofree double *sum = g_new0(double, n ? n : 1);
    g_autofree int *cnt = g_new0(int, n ? n : 1);
    for (guint i = 0; i < l->points->len; i++) {
        const struct series_point *p = &g_array_index(l->points, struct series_point, i);
        int64_t k = (p->t - from) / step;
        if (k >= 0 && (size_t)k < n) {
            sum[k] += p->v;
            cnt[k]++;
        }
    }
    for (size_t k = 0; k < n; k++) {
        if (cnt[k])
            g_array_index(v, double, k) = sum[k] / cnt[k];
    }
    return v;
}

static json_object *jnum(double v)
{
    return isfinite(v) ? json_object_new_double(round(v * 1e3) / 1e3) : NULL;
}

/* At most MAX points of V (N values from T0, STEP apart), as [t, v]. */
static json_object *points_json(const double *v, const double *lo, const double *hi, size_t n,
                                int64_t t0, int64_t step, size_t max)
{
    json_object *a = json_object_new_array();
    size_t every = n > max ? (n + max - 1) / max : 1;
    for (size_t i = 0; i < n; i += every) {
        if (isnan(v[i]))
            continue;
        json_object *p = json_object_new_array();
        json_object_array_add(p, engine_jtime(t0 + (int64_t)i * step));
        json_object_array_add(p, jnum(v[i]));
        if (lo) {
            json_object_array_add(p, jnum(lo[i]));
            json_object_array_add(p, jnum(hi[i]));
        }
        json_object_array_add(a, p);
    }
    return a;
}

/* The forecast of V (history to NOW, STEP apart) over H steps against
 * LIMIT, with its backtest. */
static json_object *forecast_json(const GArray *v, int64_t from, int64_t step, size_t h,
                                  double limit, double scale)
{
    const double *x = (const double *)v->data;
    int spd = (int)MAX(DAY_US / step, 1);
    size_t known = 0;
    for (guint i = 0; i < v->len; i++)
        known += !isnan(x[i]);
    json_object *o = json_object_new_object();
    struct fc_model m = {0};
    bool ok = fc_fit(x, v->len, spd, &m);
    json_object_object_add(o, "method", json_object_new_string(fc_method_name(m.method)));
    json_object_object_add(o, "points", json_object_new_int64((int64_t)known));
    json_object_object_add(o, "step_s", json_object_new_int64(step / G_USEC_PER_SEC));
    json_object_object_add(o, "limit", jnum(limit * scale));
    g_autofree double *hs = g_new(double, v->len);
    for (guint i = 0; i < v->len; i++)
        hs[i] = x[i] * scale;
    json_object_object_add(o, "history", points_json(hs, NULL, NULL, v->len, from, step, 200));
    int64_t t0 = from + (int64_t)v->len * step;
    if (!ok) {
        json_object_object_add(o, "forecast", json_object_new_array());
        json_object_object_add(o, "exhausted", NULL);
        json_object_object_add(o, "backtest", NULL);
        json_object_object_add(o, "verdict",
                               json_object_new_string("too little history to forecast"));
        fc_model_clear(&m);
        return o;
    }
    g_autofree double *mean = g_new(double, h), *lo = g_new(double, h), *hi = g_new(double, h);
    fc_forecast(&m, h, mean, lo, hi);
    for (size_t i = 0; i < h; i++) {
        mean[i] *= scale;
        lo[i] = fmax(lo[i] * scale, 0);
        hi[i] *= scale;
    }
    json_object_object_add(o, "forecast", points_json(mean, lo, hi, h, t0, step, 200));
    json_object *ex = NULL;
    if (isfinite(limit) && limit > 0) {
        size_t at = fc_crossing(mean, h, limit * scale), early = fc_crossing(hi, h, limit * scale),
               late = fc_crossing(lo, h, limit * scale);
        if (at || early) {
            ex = json_object_new_object();
            json_object_object_add(ex, "at",
                                   at ? engine_jtime(t0 + (int64_t)(at - 1) * step) : NULL);
            json_object_object_add(ex, "earliest",
                                   early ? engine_jtime(t0 + (int64_t)(early - 1) * step) : NULL);
            json_object_object_add(ex, "latest",
                                   late ? engine_jtime(t0 + (int64_t)(late - 1) * step) : NULL);
        }
    }
    json_object_object_add(o, "exhausted", ex);
    struct fc_backtest b;
    fc_backtest(x, v->len, spd, &b);
    json_object *bt = NULL;
    const char *verdict;
    if (b.test && !isnan(b.mae)) {
        bt = json_object_new_object();
        json_object_object_add(bt, "train", json_object_new_int64((int64_t)b.train));
        json_object_object_add(bt, "test", json_object_new_int64((int64_t)b.test));
        json_object_object_add(bt, "mae", jnum(b.mae * scale));
        json_object_object_add(bt, "mae_last_value", jnum(b.mae_last * scale));
        json_object_object_add(bt, "mae_seasonal_naive", jnum(b.mae_seasonal * scale));
        json_object_object_add(bt, "seasonal_period_s",
                               json_object_new_int64(b.seasonal_period * step / G_USEC_PER_SEC));
        json_object_object_add(bt, "beats_baselines", json_object_new_boolean(b.beats));
        verdict = b.beats ? "beats both naive baselines on the held-out history"
                          : "does not beat the naive baselines on the held-out history: "
                            "treat it as a guess";
    } else {
        verdict = "too little history to backtest";
    }
    json_object_object_add(o, "backtest", bt);
    json_object_object_add(o, "verdict", json_object_new_string(verdict));
    fc_model_clear(&m);
    return o;
}

static json_object *demand_json(const struct cap_host *h)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "vms", json_object_new_int64(h->d.vms));
    json_object_object_add(o, "vcpus", json_object_new_int64(h->d.vcpus));
    json_object_object_add(o, "memory_bytes", json_object_new_int64(h->d.memory_bytes));
    json_object_object_add(o, "disk_bytes", json_object_new_int64(h->d.disk_bytes));
    json_object_object_add(o, "cpu_cores_used", jnum(h->d.cpu_cores));
    json_object_object_add(o, "memory_bytes_used", jnum(h->d.memory_bytes_used));
    json_object_object_add(o, "disk_bytes_used", jnum(h->d.disk_bytes_used));
    return o;
}

static json_object *fit_json(const struct cap_host *h, const struct cap_size *x)
{
    struct cap_fit f;
    cap_fit(h, x, &f);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "n", json_object_new_int64(f.n == INT64_MAX ? -1 : f.n));
    json_object_object_add(o, "limited_by",
                           json_object_new_string(h->usable
                                                      ? cap_resource_name(f.limited)
                                                      : "not usable (down or in maintenance)"));
    for (int r = 0; r < CAP_N; r++)
        json_object_object_add(o, cap_resource_name((enum cap_resource)r),
                               f.by[r] == INT64_MAX ? NULL : json_object_new_int64(f.by[r]));
    return o;
}

/* SUM plus the VMs of size X that fit on H (INT64_MAX: no limit). */
static int64_t fits_add(int64_t sum, const struct cap_host *h, const struct cap_size *x)
{
    struct cap_fit f;
    cap_fit(h, x, &f);
    return f.n == INT64_MAX || sum == INT64_MAX ? INT64_MAX : sum + f.n;
}

static json_object *host_json(const struct cap_host *h, const struct cap_size *x)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(h->name));
    json_object_object_add(o, "usable", json_object_new_boolean(h->usable));
    json_object *c = json_object_new_object();
    json_object_object_add(c, "cpus", json_object_new_int64(h->cpus));
    json_object_object_add(c, "memory_bytes", json_object_new_int64(h->memory_bytes));
    json_object_object_add(c, "disk_bytes", json_object_new_int64(h->disk_bytes));
    json_object_object_add(c, "disk_free_bytes", json_object_new_int64(h->disk_free_bytes));
    json_object_object_add(o, "capacity", c);
    json_object_object_add(o, "demand", demand_json(h));
    json_object_object_add(o, "fits", fit_json(h, x));
    return o;
}

static void size_json(json_object *res, const struct cap_size *x, const char *like)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "like", engine_jstr(like));
    json_object_object_add(o, "vcpus", json_object_new_int64(x->vcpus));
    json_object_object_add(o, "memory_bytes", json_object_new_int64(x->memory_bytes));
    json_object_object_add(o, "disk_bytes", json_object_new_int64(x->disk_bytes));
    json_object_object_add(o, "cpu_cores_used", jnum(x->cpu_cores));
    json_object_object_add(o, "memory_bytes_used", jnum(x->memory_bytes_used));
    json_object_object_add(res, "size", o);
}

/* The size "like VM UUID": its allocation, and its demand by its newest
 * reconciled figures (its allocation where it has none). */
static int size_like(struct store *st, const char *uuid, int64_t now, struct cap_size *ret,
                     GError **error)
{
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_vm_ref));
    g_array_set_clear_func(refs, (GDestroyNotify)store_vm_ref_clear);
    if (st->ops->vm_resolve(st, uuid, refs, error) < 0)
        return -EIO;
    if (refs->len == 0) {
        engine_set_error(error, ENGINE_OPS_NOT_FOUND, "no VM %s", uuid);
        return -ENOENT;
    }
    int64_t did = g_array_index(refs, struct store_vm_ref, 0).domain_id;
    g_autoptr(rows) vm = st->ops->vms_query(st, NULL, did, false, error);
    if (!vm || rows_len(vm) == 0)
        return -EIO;
    const struct vm_row *v = rows_get(vm, 0);
    int64_t disk = 0;
    g_autoptr(json_object) disks = json_tokener_parse(v->disks ? v->disks : "[]");
    for (size_t i = 0; disks && json_object_is_type(disks, json_type_array) &&
                       i < json_object_array_length(disks);
         i++) {
        json_object *c;
        if (json_object_object_get_ex(json_object_array_get_idx(disks, i), "capacity_bytes", &c))
            disk += json_object_get_int64(c);
    }
    cap_size_of(v->vcpus, v->max_memory_bytes, disk, ret);
    static const char *const m[] = {"cpu_demand", "mem_used"};
    double val[2];
    int64_t t;
    latest(st, &series_vm_reconciled, v->uuid, m, 2, now - SERIES_TIER_1H, now + 1, val, &t);
    /* cpu_demand is served in % of its vCPUs. */
    if (!isnan(val[0]))
        ret->cpu_cores = val[0] / 100.0 * (double)v->vcpus;
    if (!isnan(val[1]))
        ret->memory_bytes_used = val[1];
    return 0;
}

int engine_report_capacity(struct engine *e, const struct engine_capacity_query *q,
                           json_object **ret, GError **error)
{
    struct store *st = e->store;
    int64_t now = q->now_us ? q->now_us : now_usec();
    int64_t interval = (int64_t)MAX(e->conf.interval_s, 1) * G_USEC_PER_SEC;
    struct cap_size x;
    cap_size_of(q->vcpus, q->memory_bytes, q->disk_bytes, &x);
    if (q->like_uuid && size_like(st, q->like_uuid, now, &x, error) < 0)
        return -EIO;
    g_autoptr(rows) hosts = st->ops->hosts_query(st, NULL, error);
    g_autoptr(rows) pools = hosts ? st->ops->pools_query(st, NULL, error) : NULL;
    if (!pools)
        return -EIO;
    int64_t history_from = now - q->history_us;
    /* Hourly points over two days or more of history; else 5-minute ones. */
    int64_t step = q->step_us                    ? q->step_us
                   : q->history_us >= 2 * DAY_US ? SERIES_TIER_1H
                                                 : SERIES_TIER_5M;
    history_from = history_from / step * step;
    int64_t history_to = now / step * step;
    size_t horizon = (size_t)MAX(q->horizon_us / step, 1);

    g_autoptr(GArray) caps = g_array_new(FALSE, TRUE, sizeof(struct cap_host));
    json_object *jhosts = json_object_new_array();
    int remove = -1;
    for (guint i = 0; i < rows_len(hosts); i++) {
        const struct host_row *h = rows_get(hosts, i);
        if (q->host && g_strcmp0(q->host, h->name) != 0)
            continue;
        struct cap_host c = {.name = h->name,
                             .usable = g_strcmp0(h->state, "connected") == 0 && !h->maintenance,
                             .cpus = h->cpus > 0 ? h->cpus : 0,
                             .memory_bytes = h->memory_bytes > 0 ? h->memory_bytes : 0};
        for (guint k = 0; k < rows_len(pools); k++) {
            const struct pool_row *p = rows_get(pools, k);
            if (p->host_id == h->id && p->capacity_bytes > 0) {
                c.disk_bytes += p->capacity_bytes;
                c.disk_free_bytes += MAX(p->available_bytes, 0);
            }
        }
        g_autofree char *entity = g_strdup_printf("%" G_GINT64_FORMAT, h->id);
        double d[DM_N];
        int64_t as_of;
        latest(st, &series_host, entity, demand_metrics, DM_N, now - 10 * interval - SERIES_TIER_5M,
               now + 1, d, &as_of);
        c.d = (struct cap_demand){.vms = isnan(d[DM_RUNNING]) ? 0 : (int64_t)d[DM_RUNNING],
                                  .vcpus = isnan(d[DM_VCPUS]) ? 0 : (int64_t)d[DM_VCPUS],
                                  .memory_bytes = isnan(d[DM_MEM]) ? 0 : (int64_t)d[DM_MEM],
                                  .disk_bytes = isnan(d[DM_DISK]) ? 0 : (int64_t)d[DM_DISK],
                                  .cpu_cores = isnan(d[DM_CPU]) ? 0 : d[DM_CPU],
                                  .memory_bytes_used = isnan(d[DM_MEMD]) ? 0 : d[DM_MEMD],
                                  .disk_bytes_used = isnan(d[DM_DISKD]) ? 0 : d[DM_DISKD]};
        if (q->remove_host && g_strcmp0(q->remove_host, h->name) == 0)
            remove = (int)caps->len;
        g_array_append_val(caps, c);

        json_object *jh = host_json(&c, &x);
        json_object_object_add(jh, "as_of", as_of ? engine_jtime(as_of) : NULL);
        json_object *fc = json_object_new_object();
        g_autoptr(GArray) hc =
            history(st, &series_host, entity, "cpu_demand_milli", history_from, history_to, step);
        json_object_object_add(fc, "cpu",
                               forecast_json(hc, history_from, step, horizon, (double)c.cpus, 1.0));
        g_autoptr(GArray) hm =
            history(st, &series_host, entity, "mem_demand", history_from, history_to, step);
        json_object_object_add(
            fc, "memory",
            forecast_json(hm, history_from, step, horizon, (double)c.memory_bytes, 1.0));
        g_autoptr(GArray) hd =
            history(st, &series_host, entity, "disk_demand", history_from, history_to, step);
        json_object_object_add(fc, "disk",
                               forecast_json(hd, history_from, step, horizon,
                                             c.disk_bytes ? (double)c.disk_bytes : NAN, 1.0));
        json_object_object_add(jh, "forecasts", fc);
        json_object_array_add(jhosts, jh);
    }
    if (q->host && caps->len == 0) {
        json_object_put(jhosts);
        engine_set_error(error, ENGINE_OPS_NOT_FOUND, "no host %s", q->host);
        return -ENOENT;
    }
    if (q->remove_host && remove < 0) {
        json_object_put(jhosts);
        engine_set_error(error, ENGINE_OPS_NOT_FOUND, "remove: no host %s", q->remove_host);
        return -ENOENT;
    }

    /* Pools: their own fill and its forecast. */
    json_object *jpools = json_object_new_array();
    for (guint k = 0; k < rows_len(pools); k++) {
        const struct pool_row *p = rows_get(pools, k);
        if ((q->host && g_strcmp0(q->host, p->host) != 0) ||
            (q->pool && g_strcmp0(q->pool, p->name) != 0))
            continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "host", engine_jstr(p->host));
        json_object_object_add(o, "name", engine_jstr(p->name));
        json_object_object_add(o, "capacity_bytes", json_object_new_int64(p->capacity_bytes));
        json_object_object_add(o, "allocation_bytes", json_object_new_int64(p->allocation_bytes));
        json_object_object_add(o, "available_bytes", json_object_new_int64(p->available_bytes));
        g_autofree char *entity = g_strdup_printf("%" G_GINT64_FORMAT "/%s", p->host_id, p->name);
        g_autoptr(GArray) ha =
            history(st, &series_pool, entity, "allocation", history_from, history_to, step);
        json_object_object_add(
            o, "forecast",
            forecast_json(ha, history_from, step, horizon, (double)p->capacity_bytes, 1.0));
        json_object_array_add(jpools, o);
    }

    /* The group: its VMs' allocation and newest reconciled demand. */
    json_object *jg = NULL;
    if (q->group) {
        g_autoptr(rows) tagged = st->ops->vm_tags_query(st, NULL, q->group, error);
        g_autoptr(rows) vms = tagged ? st->ops->vms_query(st, NULL, 0, false, error) : NULL;
        if (!vms) {
            json_object_put(jhosts);
            json_object_put(jpools);
            return -EIO;
        }
        g_autoptr(GHashTable) in = g_hash_table_new(g_str_hash, g_str_equal);
        for (guint i = 0; i < rows_len(tagged); i++)
            g_hash_table_add(in, ((struct vm_tag_row *)rows_get(tagged, i))->uuid);
        g_autoptr(GArray) gv = g_array_new(FALSE, TRUE, sizeof(struct cap_vm));
        static const char *const m[] = {"cpu_demand", "mem_used", "disk_used"};
        for (guint i = 0; i < rows_len(vms); i++) {
            const struct vm_row *v = rows_get(vms, i);
            if (!g_hash_table_contains(in, v->uuid) || g_strcmp0(v->state, "running") != 0)
                continue;
            double val[3];
            int64_t t;
            latest(st, &series_vm_reconciled, v->uuid, m, 3, now - 10 * interval - SERIES_TIER_5M,
                   now + 1, val, &t);
            struct cap_vm c = {.vcpus = v->vcpus,
                               .memory_bytes = v->max_memory_bytes,
                               .cpu_demand_pct = val[0],
                               .mem_used_bytes = val[1],
                               .disk_used_bytes = val[2]};
            g_array_append_val(gv, c);
        }
        struct cap_host g = {.name = q->group};
        cap_demand_sum((const struct cap_vm *)gv->data, gv->len, &g.d);
        jg = json_object_new_object();
        json_object_object_add(jg, "name", json_object_new_string(q->group));
        json_object_object_add(jg, "vms_tagged", json_object_new_int64(rows_len(tagged)));
        json_object_object_add(jg, "demand", demand_json(&g));
        json_object_object_add(jg, "without_view", json_object_new_int64(g.d.without_view));
    }

    /* The total, and the what-if. */
    struct cap_host total = {.name = "total", .usable = true};
    int64_t fits_all = 0;
    for (guint i = 0; i < caps->len; i++) {
        const struct cap_host *c = &g_array_index(caps, struct cap_host, i);
        total.cpus += c->cpus;
        total.memory_bytes += c->memory_bytes;
        total.disk_bytes += c->disk_bytes;
        total.disk_free_bytes += c->disk_free_bytes;
        total.d.vms += c->d.vms;
        total.d.vcpus += c->d.vcpus;
        total.d.memory_bytes += c->d.memory_bytes;
        total.d.disk_bytes += c->d.disk_bytes;
        total.d.cpu_cores += c->d.cpu_cores;
        total.d.memory_bytes_used += c->d.memory_bytes_used;
        total.d.disk_bytes_used += c->d.disk_bytes_used;
        fits_all = fits_add(fits_all, c, &x);
    }
    json_object *res = json_object_new_object();
    json_object_object_add(res, "generated", engine_jtime(now));
    json_object_object_add(res, "history_from", engine_jtime(history_from));
    json_object_object_add(res, "horizon_s",
                           json_object_new_int64((int64_t)horizon * step / G_USEC_PER_SEC));
    size_json(res, &x, q->like);
    json_object_object_add(res, "hosts", jhosts);
    json_object_object_add(res, "pools", jpools);
    json_object_object_add(res, "group", jg);
    json_object *jt = host_json(&total, &x);
    json_object_object_del(jt, "name");
    json_object_object_del(jt, "usable");
    json_object_object_del(jt, "fits");
    json_object_object_add(jt, "fits",
                           json_object_new_int64(fits_all == INT64_MAX ? -1 : fits_all));
    json_object_object_add(res, "totals", jt);

    json_object *jw = NULL;
    if (remove >= 0 || q->add > 0) {
        struct cap_whatif w = {.remove = remove, .add = q->add, .add_size = x};
        g_autofree struct cap_host *after = g_new(struct cap_host, caps->len ? caps->len : 1);
        struct cap_whatif_result wr;
        cap_whatif_apply((const struct cap_host *)caps->data, caps->len, &w, after, &wr);
        jw = json_object_new_object();
        json_object_object_add(jw, "remove_host", engine_jstr(q->remove_host));
        json_object_object_add(jw, "add", json_object_new_int64(q->add));
        json_object_object_add(jw, "placed", json_object_new_int64(wr.placed));
        json_object_object_add(jw, "moved_fits", json_object_new_boolean(wr.moved_fits));
        json_object *ah = json_object_new_array();
        int64_t fits_after = 0;
        for (guint i = 0; i < caps->len; i++) {
            json_object_array_add(ah, host_json(&after[i], &x));
            fits_after = fits_add(fits_after, &after[i], &x);
        }
        json_object_object_add(jw, "hosts", ah);
        json_object_object_add(jw, "fits",
                               json_object_new_int64(fits_after == INT64_MAX ? -1 : fits_after));
    }
    json_object_object_add(res, "whatif", jw);
    *ret = res;
    return 0;
}
