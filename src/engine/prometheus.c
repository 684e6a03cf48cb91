/*
 * GET /metrics: the engine's latest view in the Prometheus text format —
 * every running VM's host view, guest views and reconciled values, the
 * findings open on it and whether each part of its view is available,
 * each host's figures and kanrid's collection health.  Metric names and
 * units come from the series tables (store/series.h), so a metric added
 * there is exported without a change here.
 */
#include "config.h"

#include "engine/engine-private.h"
#include "engine/ops-private.h"

#include "store/series.h"

static void prom_escape(GString *out, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            g_string_append_c(out, '\\');
        if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
}

/* Families are collected first so each gets one HELP/TYPE header and its
 * lines stay together, as the text format requires. */
struct prom {
    GHashTable *fam; /* name -> GString of sample lines */
    GPtrArray *order;
    GHashTable *meta; /* name -> "# HELP ...\n# TYPE ...\n" */
};

static GString *prom_family(struct prom *p, const char *name, const char *type, const char *help)
{
    GString *lines = g_hash_table_lookup(p->fam, name);
    if (!lines) {
        lines = g_string_new(NULL);
        char *key = g_strdup(name);
        g_hash_table_insert(p->fam, key, lines);
        g_ptr_array_add(p->order, key);
        g_hash_table_insert(
            p->meta, key, g_strdup_printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type));
    }
    return lines;
}

static void prom_value(GString *lines, const char *name, const char *labels, double v)
{
    g_string_append_printf(lines, "%s{%s} %.15g\n", name, labels, v);
}

static void prom_one(struct prom *p, const char *name, const char *type, const char *help,
                     const char *labels, double v)
{
    prom_value(prom_family(p, name, type, help), name, labels, v);
}

static void prom_sample(struct prom *p, const char *entity, const struct series_kind *kind,
                        const void *sample, const char *labels)
{
    for (size_t i = 0; i < kind->n_metrics; i++) {
        const struct series_metric *m = &kind->metrics[i];
        if (!m->prom)
            continue;
        uint64_t v = series_sample_value(kind, i, sample);
        if (v == SAMPLE_ABSENT)
            continue;
        g_autofree char *name = g_strdup_printf("kanri_%s_%s", entity, m->prom);
        prom_one(p, name, m->counter ? "counter" : "gauge", m->help, labels,
                 (double)v * m->prom_scale);
    }
}

const double latency_bounds[LATENCY_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                0.1,   0.25,   0.5,   1,    2.5,   5};

void latency_observe(struct latency_hist *h, double seconds)
{
    size_t i = 0;
    while (i < LATENCY_BUCKETS && seconds > latency_bounds[i])
        i++;
    h->in[i]++;
    h->count++;
    h->sum += seconds;
    h->last = seconds;
}

/* H as a Prometheus histogram: cumulative buckets, then _sum and _count. */
static void prom_histogram(struct prom *p, const char *name, const char *help, const char *labels,
                           const struct latency_hist *h)
{
    GString *lines = prom_family(p, name, "histogram", help);
    g_autofree char *bucket = g_strconcat(name, "_bucket", NULL);
    uint64_t below = 0;
    for (size_t i = 0; i <= LATENCY_BUCKETS; i++) {
        below += h->in[i];
        g_autofree char *l = i < LATENCY_BUCKETS
                                 ? g_strdup_printf("%s,le=\"%g\"", labels, latency_bounds[i])
                                 : g_strdup_printf("%s,le=\"+Inf\"", labels);
        prom_value(lines, bucket, l, (double)below);
    }
    g_autofree char *sum = g_strconcat(name, "_sum", NULL);
    g_autofree char *count = g_strconcat(name, "_count", NULL);
    prom_value(lines, sum, labels, h->sum);
    prom_value(lines, count, labels, (double)h->count);
}

static void host_health(struct prom *p, bool collect, const struct ehost *h, const char *hl)
{
    prom_one(p, "kanri_host_connected", "gauge",
             "1 when kanrid's inventory connection to the host is up and synced", hl,
             h->state == HOST_CONNECTED);
    if (!collect)
        return;
    prom_one(p, "kanri_collect_connected", "gauge", "1 when the host's last collection round ran",
             hl, h->collecting);
    prom_one(p, "kanri_collect_rounds_total", "counter", "Collection rounds run", hl,
             (double)h->rounds);
    prom_one(p, "kanri_collect_rounds_cut_total", "counter",
             "Rounds cut at their budget (some domains without host figures)", hl,
             (double)h->rounds_cut);
    prom_one(p, "kanri_collect_rounds_dropped_total", "counter",
             "Rounds not run: host unreachable, or the previous round overran", hl,
             (double)h->rounds_dropped);
    if (h->have_node) {
        if (h->node.round_us != SAMPLE_ABSENT)
            prom_one(p, "kanri_collect_round_seconds", "gauge",
                     "Wall time of the last collection round", hl, (double)h->node.round_us / 1e6);
        if (h->node.domains_missed != SAMPLE_ABSENT)
            prom_one(p, "kanri_collect_domains_missed", "gauge",
                     "Running domains without host figures in the last round", hl,
                     (double)h->node.domains_missed);
    }
    prom_one(p, "kanri_store_write_last_seconds", "gauge",
             "Time the last round's rows took to store", hl, h->store_write.last);
    prom_histogram(p, "kanri_store_write_seconds",
                   "Time the rounds' rows took to store, from the round's hand-over to its commit",
                   hl, &h->store_write);
    prom_one(p, "kanri_engine_stages_last_seconds", "gauge",
             "Time the last round's stages (reconciliation, ...) took", hl, h->stages.last);
    prom_histogram(p, "kanri_engine_stages_seconds",
                   "Time the rounds' stages (reconciliation, ...) took", hl, &h->stages);
    static const char *const res[] = {"ok", "failed", "rejected"};
    const uint64_t cnt[] = {h->agent_ok, h->agent_failed, h->agent_rejected};
    for (int i = 0; i < 3; i++) {
        g_autofree char *l = g_strdup_printf("%s,result=\"%s\"", hl, res[i]);
        prom_one(p, "kanri_agent_polls_total", "counter", "Guest agent polls by result", l,
                 (double)cnt[i]);
    }
    if (h->have_node) {
        g_autofree char *l = g_strdup_printf("%s,view=\"host\"", hl);
        prom_sample(p, "host", &series_host, &h->node, l);
    }
}

static void item_lines(struct prom *p, const struct item *it, const char *hl)
{
    g_autoptr(GString) vl = g_string_new(hl);
    g_string_append(vl, ",vm=\"");
    prom_escape(vl, it->name ? it->name : it->uuid);
    g_string_append_printf(vl, "\",uuid=\"%s\",kind=\"%s\"", it->uuid,
                           it->container ? "container" : "vm");
    if (it->have_host[0]) {
        g_autofree char *l = g_strdup_printf("%s,view=\"host\"", vl->str);
        prom_sample(p, "vm", &series_vm_host, &it->host[0], l);
    }
    static const char *const gs[GS_N] = {"qga", "balloon", "kanri-guestd"};
    for (int s = 0; s < GS_N; s++) {
        if (!it->have_guest[s][0])
            continue;
        g_autofree char *l = g_strdup_printf("%s,view=\"guest\",source=\"%s\"", vl->str, gs[s]);
        prom_sample(p, "vm", &series_vm_guest, &it->guest[s][0], l);
    }
    if (it->result) {
        struct reconciled_sample rs;
        engine_reconciled_sample(it->result, NULL, &rs);
        g_autofree char *l = g_strdup_printf("%s,view=\"reconciled\"", vl->str);
        prom_sample(p, "vm", &series_vm_reconciled, &rs, l);
        for (guint i = 0; i < it->result->findings->len; i++) {
            const struct reconcile_finding *f = g_ptr_array_index(it->result->findings, i);
            if (f->state != RECONCILE_OPEN && f->state != RECONCILE_CLOSING)
                continue;
            g_autofree char *fl =
                g_strdup_printf("%s,view=\"reconciled\",rule=\"%s\",severity=\"%s\"", vl->str,
                                f->id, reconcile_severity_name(f->severity));
            prom_one(p, "kanri_vm_finding_open", "gauge",
                     "1 for each reconciliation finding open on the VM", fl, 1);
        }
    }
    static const char *const parts[PART_N] = {"memory", "agent"};
    for (int i = 0; i < PART_N; i++) {
        const struct part_status *ps = &it->parts[i];
        if (!ps->known)
            continue;
        g_autoptr(GString) l = g_string_new(vl->str);
        g_string_append_printf(l, ",view=\"guest\",part=\"%s\"", parts[i]);
        prom_one(p, "kanri_vm_view_available", "gauge",
                 "1 when this part of the view has current figures", l->str, ps->available);
        if (!ps->available) {
            g_string_append(l, ",reason=\"");
            prom_escape(l, ps->reason);
            g_string_append_c(l, '"');
            prom_one(p, "kanri_vm_view_unavailable_info", "gauge",
                     "Why a part of a view is unavailable", l->str, 1);
        }
    }
}

/* A machine no hypervisor knows (a server running kanri-guestd): its
 * newest guest view. */
static void machine_lines(struct prom *p, const struct item *it)
{
    const struct guest_sample *s = it->have_next[GS_GUESTD]       ? &it->next[GS_GUESTD]
                                   : it->have_guest[GS_GUESTD][0] ? &it->guest[GS_GUESTD][0]
                                                                  : NULL;
    if (!s)
        return;
    g_autoptr(GString) l = g_string_new("machine=\"");
    prom_escape(l, it->name ? it->name : it->uuid);
    g_string_append_printf(l, "\",uuid=\"%s\",kind=\"server\",view=\"guest\","
                              "source=\"kanri-guestd\"",
                           it->uuid);
    prom_sample(p, "machine", &series_vm_guest, s, l->str);
    for (guint i = 0; i < it->open->len; i++) {
        const struct finding_open *f = g_ptr_array_index(it->open, i);
        g_autofree char *fl = g_strdup_printf("%s,rule=\"%s\",severity=\"%s\"", l->str, f->rule,
                                              f->severity);
        prom_one(p, "kanri_machine_finding_open", "gauge",
                 "1 for each finding open on the machine (its own rules)", fl, 1);
    }
}

/* The operations record: open incidents by severity (every severity
 * listed, 0 included, so an alert on "critical > 0" has a series to read),
 * events processed, deliveries done and given up. */
static void ops_lines(struct engine *e, GString *out)
{
    if (!e->ops)
        return;
    uint64_t open[SEV_N], events, delivered, failed;
    engine_ops_counts(e, open, &events, &delivered, &failed);
    g_string_append(out, "# HELP kanri_incidents_open Incidents open or acknowledged, by severity.\n"
                         "# TYPE kanri_incidents_open gauge\n");
    for (int i = 0; i < SEV_N; i++)
        g_string_append_printf(out, "kanri_incidents_open{severity=\"%s\"} %" G_GUINT64_FORMAT "\n",
                               severity_name(i), open[i]);
    g_string_append_printf(out,
                           "# HELP kanri_events_total Events recorded since kanrid started.\n"
                           "# TYPE kanri_events_total counter\n"
                           "kanri_events_total %" G_GUINT64_FORMAT "\n"
                           "# HELP kanri_notifications_total Notification deliveries since kanrid "
                           "started, by result.\n"
                           "# TYPE kanri_notifications_total counter\n"
                           "kanri_notifications_total{result=\"delivered\"} %" G_GUINT64_FORMAT "\n"
                           "kanri_notifications_total{result=\"failed\"} %" G_GUINT64_FORMAT "\n",
                           events, delivered, failed);
}

/* The group commits (writer.c): their transactions, the rounds (guest
 * documents) they wrote and the time they took, which is what the store
 * spent on rounds (the hosts' kanri_store_write_seconds overlap: each
 * round's counts the wait for the group it went in). */
static void writer_lines(struct engine *e, GString *out)
{
    struct engine_writer_stats w, in;
    engine_writer_stats(e, &w);
    engine_ingest_stats(e, &in);
    g_string_append_printf(
        out,
        "# HELP kanri_store_round_groups_total Transactions that wrote rounds, several hosts' "
        "rounds each when they come together.\n"
        "# TYPE kanri_store_round_groups_total counter\n"
        "kanri_store_round_groups_total %" G_GUINT64_FORMAT "\n"
        "# HELP kanri_store_round_group_rounds_total Rounds written in those transactions.\n"
        "# TYPE kanri_store_round_group_rounds_total counter\n"
        "kanri_store_round_group_rounds_total %" G_GUINT64_FORMAT "\n"
        "# HELP kanri_store_round_group_seconds_total Time those transactions took.\n"
        "# TYPE kanri_store_round_group_seconds_total counter\n"
        "kanri_store_round_group_seconds_total %.6f\n"
        "# HELP kanri_store_ingest_groups_total Transactions that wrote guest documents of the "
        "ingest API, several agents' each when they come together.\n"
        "# TYPE kanri_store_ingest_groups_total counter\n"
        "kanri_store_ingest_groups_total %" G_GUINT64_FORMAT "\n"
        "# HELP kanri_store_ingest_group_documents_total Guest documents written in those "
        "transactions (accepted and duplicates).\n"
        "# TYPE kanri_store_ingest_group_documents_total counter\n"
        "kanri_store_ingest_group_documents_total %" G_GUINT64_FORMAT "\n"
        "# HELP kanri_store_ingest_group_seconds_total Time those transactions took.\n"
        "# TYPE kanri_store_ingest_group_seconds_total counter\n"
        "kanri_store_ingest_group_seconds_total %.6f\n",
        w.groups, w.items, w.seconds, in.groups, in.items, in.seconds);
}

void engine_metrics_prometheus(struct engine *e, GString *out)
{
    struct prom p = {
        .fam = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, NULL),
        .order = g_ptr_array_new_with_free_func(g_free),
        .meta = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free),
    };
    g_mutex_lock(&e->lock);
    g_autoptr(GHashTable) labels = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    for (guint i = 0; i < e->hosts->len; i++) {
        const struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (!h->held) /* another instance exports it (docs/scale-out.md) */
            continue;
        GString *hl = g_string_new("host=\"");
        prom_escape(hl, h->name);
        g_string_append_c(hl, '"');
        host_health(&p, e->conf.collect, h, hl->str);
        g_hash_table_insert(labels, GINT_TO_POINTER((gint)h->id), g_string_free(hl, FALSE));
    }
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, e->items);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct item *itm = v;
        const char *hl = g_hash_table_lookup(labels, GINT_TO_POINTER((gint)itm->host_id));
        if (itm->active && hl)
            item_lines(&p, itm, hl);
        else if (!itm->host_id)
            machine_lines(&p, itm);
    }
    g_mutex_unlock(&e->lock);
    for (guint i = 0; i < p.order->len; i++) {
        const char *name = g_ptr_array_index(p.order, i);
        g_string_append(out, g_hash_table_lookup(p.meta, name));
        GString *lines = g_hash_table_lookup(p.fam, name);
        g_string_append_len(out, lines->str, (gssize)lines->len);
        g_string_free(lines, TRUE);
    }
    g_hash_table_unref(p.fam);
    g_hash_table_unref(p.meta);
    g_ptr_array_unref(p.order);
    writer_lines(e, out);
    ops_lines(e, out);
    engine_ha_metrics(e, out);
}
