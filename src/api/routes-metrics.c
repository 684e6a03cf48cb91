/*
 * Sample history (GET /vms|hosts|pools/{id}/metrics) and the Prometheus
 * endpoint (GET /metrics).  See docs/api.md and docs/monitoring.md.
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/util.h"
#include "reconcile/reconcile.h"
#include "store/series.h"

#include <string.h>

#define MAX_POINTS  10000 /* per series; a larger range needs a coarser step */
#define AUTO_POINTS 1000  /* without a step, ranges are cut into about this many */

static const char *const default_host[] = {
    "cpu_time_ns",    "vcpu_delay_ns",  "vcpu_wait_ns", "balloon_current", "balloon_rss",
    "block_rd_bytes", "block_wr_bytes", "net_rx_bytes", "net_tx_bytes",    NULL};
static const char *const default_guest[] = {"cpu_user_ns",
                                            "cpu_system_ns",
                                            "cpu_steal_ns",
                                            "mem_total",
                                            "mem_free",
                                            "mem_available",
                                            "fs_used",
                                            "fs_total",
                                            "disk_read_bytes",
                                            "disk_write_bytes",
                                            NULL};
static const char *const guest_sources[] = {"qga", "balloon", "kanri-guestd", NULL};
static const char *const default_reconciled[] = {"cpu_busy",  "cpu_wait", "cpu_demand",
                                                 "mem_total", "mem_used", "disk_used",
                                                 "disk_free", "disk_io",  NULL};

/* A time argument: RFC 3339, epoch seconds, or a duration meaning that
 * long before now ("1h"); 1970 to 9999 (TIME_MAX_SEC), so that no
 * arithmetic on two of them overflows. */
bool api_parse_when(const char *s, int64_t now, int64_t *ret)
{
    int64_t d;
    if (time_parse(s, ret))
        return true;
    if (duration_parse(s[0] == '-' ? s + 1 : s, &d) && d <= now) {
        *ret = now - d;
        return true;
    }
    return false; /* nor a duration that reaches before 1970 */
}

struct range {
    int64_t from, to, step;
    const char *tier;
    bool columns; /* format=columns */
};

static bool parse_range(struct req *r, struct range *ret)
{
    int64_t now = now_usec();
    const char *from = req_arg(r, "from"), *to = req_arg(r, "to"), *step = req_arg(r, "step");
    const char *tier = req_arg(r, "tier");
    const char *format = req_arg(r, "format");
    if (format && !g_str_equal(format, "points") && !g_str_equal(format, "columns")) {
        req_problem(r, 400, "format: expected points or columns, got '%s'", format);
        return false;
    }
    ret->columns = format && g_str_equal(format, "columns");
    ret->to = now + 1;
    ret->from = now - 3600 * USEC_PER_SEC;
    ret->step = 0;
    ret->tier = NULL;
    if (from && !api_parse_when(from, now, &ret->from)) {
        req_problem(r, 400,
                    "from: expected RFC 3339, epoch seconds or a duration ago (1h), between 1970 "
                    "and 9999, got '%s'",
                    from);
        return false;
    }
    if (to && !api_parse_when(to, now, &ret->to)) {
        req_problem(r, 400,
                    "to: expected RFC 3339, epoch seconds or a duration ago, between 1970 and "
                    "9999, got '%s'",
                    to);
        return false;
    }
    if (ret->to <= ret->from) {
        req_problem(r, 400, "to: must be later than from");
        return false;
    }
    if (step && !duration_parse(step, &ret->step)) {
        req_problem(r, 400, "step: expected a duration such as 10s, 5m or 1h, got '%s'", step);
        return false;
    }
    if (tier && !g_str_equal(tier, "raw") && !g_str_equal(tier, "5m") && !g_str_equal(tier, "1h")) {
        req_problem(r, 400, "tier: expected raw, 5m or 1h, got '%s'", tier);
        return false;
    }
    ret->tier = tier;
    int64_t span = ret->to - ret->from;
    if (!step && span / AUTO_POINTS >= 60 * USEC_PER_SEC)
        ret->step = span / AUTO_POINTS / USEC_PER_SEC * USEC_PER_SEC;
    if (ret->step && span / ret->step > MAX_POINTS) {
        req_problem(r, 400, "step: %s over this range gives more than %d points; use a larger step",
                    step ? step : "(auto)", MAX_POINTS);
        return false;
    }
    return true;
}

/* Metric indices from ?metric=a,b (or "all"); DEFAULTS when absent. */
static GArray *parse_metrics(struct req *r, const struct series_kind *kind,
                             const char *const *defaults)
{
    const char *arg = req_arg(r, "metric");
    g_autoptr(GArray) idx = g_array_new(FALSE, FALSE, sizeof(int));
    if (arg && g_str_equal(arg, "all")) {
        for (size_t i = 0; i < kind->n_metrics; i++) {
            int k = (int)i;
            g_array_append_val(idx, k);
        }
        return g_steal_pointer(&idx);
    }
    g_auto(GStrv) names = arg ? g_strsplit(arg, ",", 64) : g_strdupv((char **)defaults);
    for (size_t i = 0; names && names[i]; i++) {
        const char *name = g_strstrip(names[i]);
        if (!*name)
            continue;
        int k = series_metric_find(kind, name);
        if (k < 0) {
            g_autoptr(GString) known = g_string_new(NULL);
            for (size_t j = 0; j < kind->n_metrics; j++)
                g_string_append_printf(known, "%s%s", j ? ", " : "", kind->metrics[j].name);
            req_problem(r, 400, "metric: unknown metric '%s' here (known: %s, or all)", name,
                        known->str);
            return NULL;
        }
        g_array_append_val(idx, k);
    }
    return g_steal_pointer(&idx);
}

static json_object *query(struct req *r, const struct series_kind *kind, const char *entity,
                          GArray *metrics, const struct range *rg)
{
    struct store *st = req_store(r);
    struct store_series_query q = {
        .kind = kind,
        .entity = entity,
        .metrics = (const int *)metrics->data,
        .n_metrics = metrics->len,
        .from_us = rg->from,
        .to_us = rg->to,
        .step_us = rg->step,
        .tier = rg->tier,
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(store_series_result) res = st->ops->series_query(st, &q, &err);
    if (!res) {
        g_warning("query %s: %s", r->path, err ? err->message : "failed");
        req_problem(r, 500, "the store failed to answer: %s", err ? err->message : "unknown");
        return NULL;
    }
    return rg->columns ? api_series_columns_json(kind, res) : api_series_json(kind, res);
}

static void add_range(json_object *o, const struct range *rg)
{
    g_autofree char *f = time_format_rfc3339(rg->from);
    g_autofree char *t = time_format_rfc3339(rg->to);
    json_object_object_add(o, "from", json_object_new_string(f ? f : ""));
    json_object_object_add(o, "to", json_object_new_string(t ? t : ""));
}

void h_vm_metrics(struct req *r)
{
    const char *view = req_arg(r, "view");
    if (!view)
        view = "host";
    if (!g_str_equal(view, "host") && !g_str_equal(view, "guest") &&
        !g_str_equal(view, "reconciled")) {
        req_problem(r, 400,
                    "view: expected host, guest or reconciled, got '%s' (views are never mixed)",
                    view);
        return;
    }
    bool guest = g_str_equal(view, "guest");
    bool rec = g_str_equal(view, "reconciled");
    const char *source = req_arg(r, "source");
    if (source && (!guest || !g_strv_contains(guest_sources, source))) {
        req_problem(r, 400, "source: with view=guest, one of qga, balloon, kanri-guestd");
        return;
    }
    struct range rg;
    if (!parse_range(r, &rg))
        return;
    const struct series_kind *kind = rec     ? &series_vm_reconciled
                                     : guest ? &series_vm_guest
                                             : &series_vm_host;
    g_autoptr(GArray) metrics = parse_metrics(r, kind,
                                              rec     ? default_reconciled
                                              : guest ? default_guest
                                                      : default_host);
    if (!metrics)
        return;
    g_auto(store_vm_ref_t) v = {0};
    if (!api_resolve_vm(r, r->params[0], &v))
        return;

    json_object *o = json_object_new_object();
    json_object *vm = json_object_new_object();
    json_object_object_add(vm, "uuid", json_object_new_string(v.uuid));
    json_object_object_add(vm, "name", json_object_new_string(v.name));
    json_object_object_add(vm, "host", json_object_new_string(v.host));
    json_object_object_add(o, "vm", vm);
    json_object_object_add(o, "view", json_object_new_string(view));
    add_range(o, &rg);
    json_object *sources = json_object_new_array();
    g_autofree char *lower = g_ascii_strdown(v.uuid, -1);
    for (size_t i = 0; guest_sources[i] || !guest; i++) {
        const char *src = guest ? guest_sources[i] : rec ? "kanri" : "libvirt";
        if (source && !g_str_equal(source, src))
            continue;
        g_autofree char *entity = guest ? g_strdup_printf("%s/%s", lower, src) : g_strdup(lower);
        json_object *q = query(r, kind, entity, metrics, &rg);
        if (!q) {
            json_object_put(sources);
            json_object_put(o);
            return;
        }
        json_object_object_add(q, "source", json_object_new_string(src));
        json_object_array_add(sources, q);
        if (!guest)
            break;
    }
    json_object_object_add(o, "sources", sources);
    /* Whether each part of the view is available now, and why not: a view
     * without figures is said to be so, never filled from the other. */
    g_autoptr(rows) status = req_store(r)->ops->view_status_query(req_store(r), lower, NULL);
    json_object *avail = json_object_new_object();
    for (guint i = 0; status && i < rows_len(status); i++) {
        const struct view_status_row *vs = rows_get(status, i);
        json_object *e = api_row_json(status->desc, vs);
        json_object_object_del(e, "uuid");
        json_object_object_del(e, "part");
        json_object_object_add(avail, vs->part, e);
    }
    json_object_object_add(o, "availability", avail);
    req_json(r, 200, o);
}

/* GET /machines/{ref}/metrics: a machine's guest view as kanri-guestd
 * reported it (the only view a server without a hypervisor has). */
void h_machine_metrics(struct req *r)
{
    struct range rg;
    if (!parse_range(r, &rg))
        return;
    g_autoptr(GArray) metrics = parse_metrics(r, &series_vm_guest, default_guest);
    if (!metrics)
        return;
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) all = req_store(r)->ops->agents_query(req_store(r), &err);
    if (!all) {
        req_problem(r, 500, "the store failed: %s", err->message);
        return;
    }
    const struct agent_row *a = api_machine_find(all, r->params[0]);
    if (!a) {
        req_problem(r, 404, "no machine '%s'", r->params[0]);
        return;
    }
    json_object *o = json_object_new_object();
    json_object *m = json_object_new_object();
    json_object_object_add(m, "uuid", json_object_new_string(a->machine_uuid));
    json_object_object_add(m, "name", json_object_new_string(a->name));
    json_object_object_add(o, "machine", m);
    json_object_object_add(o, "view", json_object_new_string("guest"));
    add_range(o, &rg);
    g_autofree char *entity = g_strdup_printf("%s/kanri-guestd", a->machine_uuid);
    json_object *q = query(r, &series_vm_guest, entity, metrics, &rg);
    if (!q) {
        json_object_put(o);
        return;
    }
    json_object_object_add(q, "source", json_object_new_string("kanri-guestd"));
    json_object *sources = json_object_new_array();
    json_object_array_add(sources, q);
    json_object_object_add(o, "sources", sources);
    req_json(r, 200, o);
}

static const char *const default_node[] = {
    "cpu_user_ns", "cpu_kernel_ns",   "cpu_idle_ns", "cpu_iowait_ns",  "mem_total",
    "mem_free",    "domains_running", "round_us",    "domains_missed", NULL};
static const char *const default_pool[] = {"capacity", "allocation", "available", NULL};

void h_host_metrics(struct req *r)
{
    struct range rg;
    if (!parse_range(r, &rg))
        return;
    g_autoptr(GArray) metrics = parse_metrics(r, &series_host, default_node);
    if (!metrics)
        return;
    int64_t id = 0;
    g_autofree char *name = NULL;
    if (req_store(r)->ops->host_lookup(req_store(r), r->params[0], &id, &name, NULL) < 0) {
        req_problem(r, 404, "no host '%s' (see GET /api/v1/hosts)", r->params[0]);
        return;
    }
    g_autofree char *entity = g_strdup_printf("%" G_GINT64_FORMAT, id);
    json_object *o = query(r, &series_host, entity, metrics, &rg);
    if (!o)
        return;
    json_object_object_add(o, "host", json_object_new_string(name));
    json_object_object_add(o, "view", json_object_new_string("host"));
    add_range(o, &rg);
    req_json(r, 200, o);
}

void h_pool_metrics(struct req *r)
{
    struct range rg;
    if (!parse_range(r, &rg))
        return;
    g_autoptr(GArray) metrics = parse_metrics(r, &series_pool, default_pool);
    if (!metrics)
        return;
    /* "HOST:POOL", or a pool name that only one host has. */
    const char *ref = r->params[0];
    const char *colon = strchr(ref, ':');
    g_autofree char *host = colon ? g_strndup(ref, (gsize)(colon - ref)) : NULL;
    const char *pool = colon ? colon + 1 : ref;
    g_autoptr(rows) all = req_store(r)->ops->pools_query(req_store(r), host, NULL);
    const struct pool_row *found = NULL;
    int matches = 0;
    for (guint i = 0; all && i < rows_len(all); i++) {
        const struct pool_row *p = rows_get(all, i);
        if (g_strcmp0(p->name, pool) == 0) {
            found = p;
            matches++;
        }
    }
    if (matches != 1) {
        if (matches > 1)
            req_problem(r, 409, "pool '%s' exists on several hosts; name it as HOST:POOL", pool);
        else
            req_problem(r, 404, "no pool '%s' (see GET /api/v1/pools)", ref);
        return;
    }
    g_autofree char *entity = g_strdup_printf("%" G_GINT64_FORMAT "/%s", found->host_id, pool);
    json_object *o = query(r, &series_pool, entity, metrics, &rg);
    if (o) {
        json_object_object_add(o, "host", json_object_new_string(found->host));
        json_object_object_add(o, "pool", json_object_new_string(pool));
        json_object_object_add(o, "view", json_object_new_string("host"));
        add_range(o, &rg);
        req_json(r, 200, o);
    }
}

void h_prometheus(struct req *r)
{
    GString *out = g_string_sized_new(64 * 1024);
    engine_metrics_prometheus(req_engine(r), out);
    g_string_append(out, "# HELP kanri_ingest_rejected_total Guest documents refused at ingest\n"
                         "# TYPE kanri_ingest_rejected_total counter\n");
    g_string_append_printf(out, "kanri_ingest_rejected_total %d\n",
                           g_atomic_int_get(&api_ingest_rejected));
    g_string_append(out, "# HELP kanri_start_time_seconds When this kanrid started: every "
                         "kanri_*_total counter counts from then\n"
                         "# TYPE kanri_start_time_seconds gauge\n");
    g_string_append_printf(out, "kanri_start_time_seconds %" G_GINT64_FORMAT "\n",
                           api_started_us / G_USEC_PER_SEC);
    g_string_append(out, "# HELP kanri_ingest_rate_limited_total Guest documents answered 429 "
                         "(the agent keeps them and sends them again)\n"
                         "# TYPE kanri_ingest_rate_limited_total counter\n");
    g_string_append_printf(out, "kanri_ingest_rate_limited_total %d\n",
                           g_atomic_int_get(&api_ingest_rate_limited));
    g_string_append(out, "# HELP kanri_stream_clients Live streams open now "
                         "(GET /api/v1/events/stream)\n"
                         "# TYPE kanri_stream_clients gauge\n");
    g_string_append_printf(out, "kanri_stream_clients %u\n", api_streams_count(req_streams(r)));
    r->raw_len = out->len;
    r->raw_owned = g_string_free(out, FALSE);
    r->raw_type = "text/plain; version=0.0.4; charset=utf-8";
    r->status = 200;
}

/* GET /api/v1/vms/{id}/reconciled: the newest round of the engine. */
void h_vm_reconciled(struct req *r)
{
    g_auto(store_vm_ref_t) v = {0};
    if (!api_resolve_vm(r, r->params[0], &v))
        return;
    g_autofree char *lower = g_ascii_strdown(v.uuid, -1);
    g_autoptr(GError) err = NULL;
    struct store *st = req_store(r);
    /* The engine's latest round; a VM not running since kanrid started
     * shows the view kept when it last ran, with its age. */
    g_autoptr(vm_view) view = engine_view(req_engine(r), lower);
    if (!view && st->ops->view_get(st, lower, &view, &err) < 0) {
        if (err && err->domain == STORE_ERROR && err->code == STORE_ERROR_NOT_FOUND)
            req_problem(r, 404,
                        "VM '%s' has not been reconciled yet (it needs a host sample: is it "
                        "running and is collection on?)",
                        v.name);
        else
            req_from_error(r, err);
        return;
    }
    g_autoptr(rows) open = st->ops->findings_query(st, "open", NULL, lower, 1000, &err);
    if (!open) {
        req_from_error(r, err);
        return;
    }
    json_object *o = api_view_json(view, now_usec());
    /* Oldest first, as the engine reports them. */
    json_object *fs = json_object_new_array();
    for (guint i = rows_len(open); i-- > 0;)
        json_object_array_add(fs, api_row_json(open->desc, rows_get(open, i)));
    json_object_object_add(o, "findings", fs);
    json_object *vm = json_object_new_object();
    json_object_object_add(vm, "uuid", json_object_new_string(v.uuid));
    json_object_object_add(vm, "name", json_object_new_string(v.name));
    json_object_object_add(vm, "host", json_object_new_string(v.host));
    json_object_object_add(o, "vm", vm);
    req_json(r, 200, o);
}

/* GET /api/v1/findings?state=&rule=&vm=&limit= */
void h_findings(struct req *r)
{
    const char *state = req_arg(r, "state"), *rule = req_arg(r, "rule");
    const char *vmref = req_arg(r, "vm"), *limit = req_arg(r, "limit");
    if (state && !g_str_equal(state, "open") && !g_str_equal(state, "closed") &&
        !g_str_equal(state, "all")) {
        req_problem(r, 400, "state: expected open, closed or all, got '%s'", state);
        return;
    }
    if (rule) {
        bool known = false;
        for (int i = 0; i < RR_N; i++)
            known |= g_str_equal(rule, reconcile_rule_name(i));
        if (!known) {
            req_problem(r, 400, "rule: unknown rule '%s' (see docs/reconciliation.md)", rule);
            return;
        }
    }
    int64_t n = 100;
    if (limit && (!g_ascii_string_to_signed(limit, 10, 1, 1000, &n, NULL))) {
        req_problem(r, 400, "limit: expected an integer from 1 to 1000, got '%s'", limit);
        return;
    }
    g_autofree char *uuid = NULL;
    if (vmref) {
        g_auto(store_vm_ref_t) v = {0};
        if (!api_resolve_vm(r, vmref, &v))
            return;
        uuid = g_ascii_strdown(v.uuid, -1);
    }
    g_autoptr(GError) err = NULL;
    struct store *st = req_store(r);
    req_rows(r, st->ops->findings_query(st, state, rule, uuid, (int)n, &err), err);
}
