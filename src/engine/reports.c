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
    int64_t host_id;
    GArray *marks; /* struct avail_mark, reason borrowed from the rows */
};

static void vm_acc_free(gpointer p)
{
    struct vm_acc *v = p;
    g_free(v->uuid);
    g_free(v->name);
    g_free(v->host);
    g_array_unref(v->marks);
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
            g_ptr_array_add(accs, cur);
        }
        struct avail_mark am = {.t_us = m->t, .reason = m->reason};
        if (!avail_state_parse(m->state, &am.state))
            continue;
        cur->host_id = m->host_id;
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
        g_autoptr(GHashTable) its_hosts = g_hash_table_new(g_int64_hash, g_int64_equal);
        for (guint j = 0; j < rows_len(marks); j++) {
            struct vm_state_row *m = rows_get(marks, j);
            if (g_strcmp0(m->uuid, v->uuid) == 0)
                g_hash_table_add(its_hosts, &m->host_id);
        }
        g_autoptr(GArray) sp = g_array_new(FALSE, TRUE, sizeof(struct avail_span));
        for (guint j = 0; j < rows_len(spans); j++) {
            struct host_span_row *s = rows_get(spans, j);
            if (g_hash_table_contains(its_hosts, &s->host_id))
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
    if (isnan(q->slo)) {
        json_object_object_add(res, "slo", NULL);
    } else {
        struct avail_slo s;
        avail_slo_eval(&all, q->slo, &s);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "target", json_object_new_double(s.target));
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
