/*
 * The statistics rounds of one host (docs/monitoring.md): every interval
 * the round thread lists the running domains on its "main" connection,
 * splits them into chunks over up to `connections` stats connections (one
 * bulk call per chunk, with NOWAIT where the driver takes it) run on a
 * thread pool, and waits for them until the round's budget.  The round is
 * reported to the engine's sink; what happens to it there is none of the
 * driver's business.
 *
 * A hung guest costs only its own figures, from the first round on: a
 * chunk still unanswered at a quarter of the budget is asked again, on
 * another connection, with NOWAIT.  The call that hangs holds the frozen
 * domain's job, so the second call skips that domain's monitor figures and
 * returns at once with everything else.  The domains of such a chunk are
 * suspects for a few rounds: queried alone, and a suspect's record with
 * fewer statistics than its last complete one (libvirt skipped what needed
 * the busy job) counts as missed rather than as figures, once asked again
 * at a quarter of the budget (another call, such as the guest-info poll's,
 * may have held a healthy guest's job for a moment).  A late call's
 * thread is left to finish (or hang) on its own; its results are dropped.
 * A suspect whose last call alone has not come back is not asked again
 * until it has: a frozen guest would otherwise add one hung call a round
 * to a libvirtd client that serves five at once, and then stall the calls
 * of healthy domains on the same connection.
 */
#include "config.h"

#include "virt/collector.h"

#include "basic/util.h"
#include "virt/domxml.h"

#include <errno.h>
#include <string.h>

#define CHUNK_MIN      8 /* domains per chunk before another connection is used */
#define SUSPECT_ROUNDS 3 /* rounds a cut domain is queried alone */
#define GUEST_THREADS  4
#define STATS_GROUPS                                                                               \
    (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |              \
     VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK)

struct collector *collector_ref(struct collector *c)
{
    g_atomic_int_inc(&c->ref);
    return c;
}

static void dom_free(gpointer p)
{
    struct dom *d = p;
    if (d->gdom)
        virDomainFree(d->gdom);
    g_free(d->uuid);
    g_free(d->name);
    g_free(d);
}

void collector_unref(struct collector *c)
{
    if (!g_atomic_int_dec_and_test(&c->ref))
        return;
    g_hash_table_unref(c->doms);
    g_free(c->last_missed);
    g_mutex_clear(&c->lock);
    g_cond_clear(&c->wake);
    g_free(c->stats);
    g_free(c);
}

/* ---- a round's stats jobs ---- */

struct round {
    gint ref;
    GMutex lock;
    GCond done;
    int pending;
    int64_t t_us;
    int64_t host_id;
    GPtrArray *jobs;
};

struct stats_job {
    struct round *round;
    struct collector *c; /* a ref, for a suspect's call alone (clears alone_out) */
    virConnectPtr conn;
    bool node;   /* host figures and pools instead of domains */
    GStrv uuids; /* NULL: every active domain in one call */
    bool single; /* a suspect queried alone */
    bool retry;  /* asked again because the first call missed a quarter of the budget */
    struct stats_job *retried; /* the job a retry replaces */
    bool nowait;
    bool refresh_pools;
    bool done;
    int64_t took_us;
    char *error;
    GArray *hs;      /* struct host_sample */
    GArray *bs;      /* struct guest_sample (source balloon), parallel to hs */
    GArray *bis;     /* struct balloon_info, parallel to hs */
    GArray *nparams; /* int, parallel to hs */
    struct node_sample node_s;
    int cpu_fields, mem_fields; /* node statistics' field counts, 0 unknown */
    GArray *pools;              /* struct pool_sample */
};

static void job_free(gpointer p)
{
    struct stats_job *j = p;
    if (j->c)
        collector_unref(j->c);
    if (j->conn)
        virConnectClose(j->conn);
    g_strfreev(j->uuids);
    g_free(j->error);
    g_array_unref(j->hs);
    g_array_unref(j->bs);
    g_array_unref(j->bis);
    g_array_unref(j->nparams);
    if (j->pools)
        g_array_unref(j->pools);
    g_free(j);
}

static void round_unref(struct round *r)
{
    if (!g_atomic_int_dec_and_test(&r->ref))
        return;
    g_ptr_array_unref(r->jobs);
    g_mutex_clear(&r->lock);
    g_cond_clear(&r->done);
    g_free(r);
}

static void records_to_samples(struct stats_job *j, virDomainStatsRecordPtr *recs, int n)
{
    for (int i = 0; i < n; i++) {
        struct host_sample hs;
        struct guest_sample bs;
        struct balloon_info bi;
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (!virt_dom_uuid(recs[i]->dom, uuid))
            continue;
        host_sample_init(&hs);
        guest_sample_init(&bs);
        hs.host_id = j->round->host_id;
        hs.uuid = g_strdup(uuid);
        hs.time_us = j->round->t_us;
        hs.dom_id = virDomainGetID(recs[i]->dom);
        bs.machine_uuid = g_strdup(hs.uuid);
        bs.source = "balloon";
        bs.received_us = j->round->t_us;
        collect_parse_record(recs[i]->params, recs[i]->nparams, &hs, &bs, &bi);
        g_array_append_val(j->hs, hs);
        g_array_append_val(j->bs, bs);
        g_array_append_val(j->bis, bi);
        g_array_append_val(j->nparams, recs[i]->nparams);
    }
}

static void run_domains(struct stats_job *j)
{
    virDomainStatsRecordPtr *recs = NULL;
    unsigned flags = j->nowait ? VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT : 0;
    int n;
    if (!j->uuids) {
        n = virConnectGetAllDomainStats(j->conn, STATS_GROUPS, &recs,
                                        flags | VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);
    } else {
        /* Look the chunk's domains up in one listing rather than one call
         * per UUID: thousands of lookups would cost more than the stats. */
        virDomainPtr *all = NULL;
        int na = virConnectListAllDomains(j->conn, &all, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (na < 0) {
            j->error = g_strdup(virt_last_error());
            return;
        }
        g_autoptr(GHashTable) want = g_hash_table_new(g_str_hash, g_str_equal);
        for (guint i = 0; j->uuids[i]; i++)
            g_hash_table_add(want, j->uuids[i]);
        g_autofree virDomainPtr *sel = g_new0(virDomainPtr, (gsize)na + 1);
        int ns = 0;
        for (int i = 0; i < na; i++) {
            char uuid[VIR_UUID_STRING_BUFLEN];
            if (virt_dom_uuid(all[i], uuid) && g_hash_table_contains(want, uuid))
                sel[ns++] = all[i];
        }
        n = ns ? virDomainListGetStats(sel, STATS_GROUPS, &recs, flags) : 0;
        for (int i = 0; i < na; i++)
            virDomainFree(all[i]);
        free(all);
    }
    if (n < 0) {
        j->error = g_strdup(virt_last_error());
        return;
    }
    records_to_samples(j, recs, n);
    if (recs)
        virDomainStatsRecordListFree(recs);
}

static void run_node(struct stats_job *j)
{
    node_sample_init(&j->node_s);
    j->node_s.host_id = j->round->host_id;
    j->node_s.time_us = j->round->t_us;
    /* A field count is asked once, then kept while it works. */
    int n = j->cpu_fields;
    if (n == 0 && virNodeGetCPUStats(j->conn, VIR_NODE_CPU_STATS_ALL_CPUS, NULL, &n, 0) < 0)
        n = 0;
    j->cpu_fields = 0;
    if (n > 0 && n < 64) {
        virNodeCPUStats cs[64];
        if (virNodeGetCPUStats(j->conn, VIR_NODE_CPU_STATS_ALL_CPUS, cs, &n, 0) == 0) {
            j->cpu_fields = n;
            for (int i = 0; i < n; i++) {
                if (g_str_equal(cs[i].field, VIR_NODE_CPU_STATS_USER))
                    j->node_s.cpu_user_ns = cs[i].value;
                else if (g_str_equal(cs[i].field, VIR_NODE_CPU_STATS_KERNEL))
                    j->node_s.cpu_kernel_ns = cs[i].value;
                else if (g_str_equal(cs[i].field, VIR_NODE_CPU_STATS_IDLE))
                    j->node_s.cpu_idle_ns = cs[i].value;
                else if (g_str_equal(cs[i].field, VIR_NODE_CPU_STATS_IOWAIT))
                    j->node_s.cpu_iowait_ns = cs[i].value;
            }
        }
    }
    n = j->mem_fields;
    if (n == 0 && virNodeGetMemoryStats(j->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) < 0)
        n = 0;
    j->mem_fields = 0;
    if (n > 0 && n < 64) {
        virNodeMemoryStats ms[64];
        if (virNodeGetMemoryStats(j->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, ms, &n, 0) == 0) {
            j->mem_fields = n;
            for (int i = 0; i < n; i++) {
                uint64_t v = ms[i].value * 1024; /* KiB */
                if (g_str_equal(ms[i].field, VIR_NODE_MEMORY_STATS_TOTAL))
                    j->node_s.mem_total = v;
                else if (g_str_equal(ms[i].field, VIR_NODE_MEMORY_STATS_FREE))
                    j->node_s.mem_free = v;
                else if (g_str_equal(ms[i].field, VIR_NODE_MEMORY_STATS_BUFFERS))
                    j->node_s.mem_buffers = v;
                else if (g_str_equal(ms[i].field, VIR_NODE_MEMORY_STATS_CACHED))
                    j->node_s.mem_cached = v;
            }
        }
    }
    /* Drivers without node memory stats (the test driver) simply leave the
     * figures absent. */
    virResetLastError();

    virStoragePoolPtr *pools = NULL;
    int np = virConnectListAllStoragePools(j->conn, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
    for (int i = 0; i < np; i++) {
        virStoragePoolInfo info;
        /* libvirt reports a pool's figures as of its last refresh: without
         * one, a dir pool filled by a thin image's growth would look as
         * empty as when it was started (virt_conf.refresh_pools).  A
         * refresh that fails (a job on a volume) still leaves the last
         * figures. */
        if (j->refresh_pools)
            virStoragePoolRefresh(pools[i], 0);
        if (virStoragePoolGetInfo(pools[i], &info) == 0) {
            struct pool_sample p;
            pool_sample_init(&p);
            p.host_id = j->round->host_id;
            p.name = g_strdup(virStoragePoolGetName(pools[i]));
            p.time_us = j->round->t_us;
            p.capacity = info.capacity;
            p.allocation = info.allocation;
            p.available = info.available;
            g_array_append_val(j->pools, p);
        }
        virStoragePoolFree(pools[i]);
    }
    free(pools);
    virResetLastError();
}

static void stats_job_run(gpointer data, gpointer user)
{
    struct stats_job *j = data;
    struct round *r = j->round;
    int64_t t0 = mono_usec();
    if (j->node)
        run_node(j);
    else
        run_domains(j);
    if (j->c) {
        struct collector *c = j->c;
        g_mutex_lock(&c->lock);
        struct dom *d = g_hash_table_lookup(c->doms, j->uuids[0]);
        if (d)
            d->alone_out = false;
        g_mutex_unlock(&c->lock);
    }
    g_mutex_lock(&r->lock);
    j->took_us = mono_usec() - t0;
    j->done = true;
    r->pending--;
    g_cond_broadcast(&r->done);
    g_mutex_unlock(&r->lock);
    round_unref(r);
}

static void host_sample_clear_cb(gpointer p)
{
    host_sample_clear(p);
}

static void guest_sample_clear_cb(gpointer p)
{
    guest_sample_clear(p);
}

static void pool_sample_clear_cb(gpointer p)
{
    pool_sample_clear(p);
}

static struct stats_job *job_new(struct round *r, virConnectPtr conn)
{
    struct stats_job *j = g_new0(struct stats_job, 1);
    j->round = r;
    j->conn = conn;
    virConnectRef(conn);
    j->hs = g_array_new(FALSE, TRUE, sizeof(struct host_sample));
    g_array_set_clear_func(j->hs, host_sample_clear_cb);
    j->bs = g_array_new(FALSE, TRUE, sizeof(struct guest_sample));
    g_array_set_clear_func(j->bs, guest_sample_clear_cb);
    j->bis = g_array_new(FALSE, TRUE, sizeof(struct balloon_info));
    j->nparams = g_array_new(FALSE, TRUE, sizeof(int));
    j->pools = g_array_new(FALSE, TRUE, sizeof(struct pool_sample));
    g_array_set_clear_func(j->pools, pool_sample_clear_cb);
    g_ptr_array_add(r->jobs, j);
    return j;
}

/* Queues J on the pool (the caller holds no round lock). */
static void job_push(struct collector *c, struct round *r, struct stats_job *j)
{
    g_mutex_lock(&r->lock);
    r->pending++;
    g_mutex_unlock(&r->lock);
    g_atomic_int_inc(&r->ref);
    g_thread_pool_push(c->pool, j, NULL);
}

/* ---- connections ---- */

static virConnectPtr open_conn(struct collector *c)
{
    virConnectPtr conn = virConnectOpenAuth(c->vc->uri, virConnectAuthPtrDefault, 0);
    if (conn && c->vc->keepalive_interval > 0)
        virConnectSetKeepAlive(conn, c->vc->keepalive_interval, (unsigned)c->vc->keepalive_count);
    virResetLastError();
    return conn;
}

static bool conn_ok(virConnectPtr *conn)
{
    if (*conn && virConnectIsAlive(*conn) == 1)
        return true;
    if (*conn) {
        virConnectClose(*conn);
        *conn = NULL;
    }
    return false;
}

static void on_agent_event(virConnectPtr conn, virDomainPtr dom, int state, int reason,
                           void *opaque)
{
    struct collector *c = opaque;
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (!virt_dom_uuid(dom, uuid))
        return;
    g_mutex_lock(&c->lock);
    struct dom *d = g_hash_table_lookup(c->doms, uuid);
    if (d) {
        d->agent_event = state;
        /* A (re)connected agent is polled at once, whatever its backoff. */
        if (state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED) {
            d->guest_next_us = 0;
            d->guest_failures = 0;
        }
    }
    g_mutex_unlock(&c->lock);
    g_cond_broadcast(&c->wake);
}

static void agent_event_unref(void *opaque)
{
    collector_unref(opaque);
}

/* Opens whatever is missing; false when the host cannot be reached now. */
static bool ensure_conns(struct collector *c)
{
    if (!conn_ok(&c->main))
        c->main = open_conn(c);
    if (!c->main)
        return false;
    for (int i = 0; i < c->cfg.connections; i++) {
        if (conn_ok(&c->stats[i]))
            continue;
        /* The first chunk shares the main connection: a small host needs
         * no second one. */
        if (i == 0) {
            virConnectRef(c->main);
            c->stats[0] = c->main;
        } else {
            c->stats[i] = open_conn(c);
        }
        if (!c->stats[i]) {
            virConnectRef(c->main);
            c->stats[i] = c->main;
        }
    }
    if (!conn_ok(&c->guest)) {
        c->guest = open_conn(c);
        if (c->guest) {
            c->guest_event_id = virConnectDomainEventRegisterAny(
                c->guest, NULL, VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
                VIR_DOMAIN_EVENT_CALLBACK(on_agent_event), collector_ref(c), agent_event_unref);
            if (c->guest_event_id < 0)
                collector_unref(c); /* drivers without the event: polling still notices */
            virResetLastError();
        }
    }
    return true;
}

static void close_conns(struct collector *c)
{
    if (c->guest) {
        if (c->guest_event_id >= 0)
            virConnectDomainEventDeregisterAny(c->guest, c->guest_event_id);
        virConnectClose(c->guest);
        c->guest = NULL;
    }
    for (int i = 0; i < c->cfg.connections; i++) {
        if (c->stats[i])
            virConnectClose(c->stats[i]);
        c->stats[i] = NULL;
    }
    if (c->main)
        virConnectClose(c->main);
    c->main = NULL;
    virResetLastError();
}

/* ---- the round ---- */

static void report_dropped(struct collector *c, unsigned n)
{
    const struct driver_sink *sink = c->vc->drv->sink;
    sink->round_dropped(sink->ctx, c->vc->host_id, n);
}

/* Brings the domain table up to date with the running domains listed;
 * fills NORMAL and ALONE (suspects) with their UUIDs and REPORT's active
 * list.  Under c->lock. */
static void update_doms(struct collector *c, virDomainPtr *list, int n, GPtrArray *normal,
                        GPtrArray *alone, struct round_report *report)
{
    for (int i = 0; i < n; i++) {
        char u[VIR_UUID_STRING_BUFLEN];
        if (!virt_dom_uuid(list[i], u))
            continue;
        char *uuid = g_strdup(u);
        struct dom *d = g_hash_table_lookup(c->doms, uuid);
        if (!d) {
            d = g_new0(struct dom, 1);
            d->uuid = g_strdup(uuid);
            d->baseline_dom_id = -2;
            g_hash_table_insert(c->doms, d->uuid, d);
        }
        g_free(d->name);
        d->name = g_strdup(virDomainGetName(list[i]));
        d->seen_round = c->round_no;
        g_ptr_array_add(report->active, g_strdup(uuid));
        g_ptr_array_add(d->suspect > 0 ? alone : normal, uuid);
    }
    /* Domains no longer running leave the table. */
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, c->doms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct dom *d = v;
        if (d->seen_round != c->round_no && !d->guest_busy)
            g_hash_table_iter_remove(&it);
    }
}

static GStrv strv_of(GPtrArray *uuids, guint first, guint step)
{
    GPtrArray *u = g_ptr_array_new();
    for (guint i = first; i < uuids->len; i += step)
        g_ptr_array_add(u, g_strdup(g_ptr_array_index(uuids, i)));
    g_ptr_array_add(u, NULL);
    return (GStrv)g_ptr_array_free(u, FALSE);
}

/* Waits until every job is done or DEADLINE (monotonic) passes. */
static void wait_jobs(struct round *r, int64_t deadline)
{
    g_mutex_lock(&r->lock);
    while (r->pending > 0 && g_cond_wait_until(&r->done, &r->lock, deadline))
        ;
    g_mutex_unlock(&r->lock);
}

static bool job_done(struct round *r, struct stats_job *j)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&r->lock);
    return j->done;
}

/* A driver without NOWAIT (the test driver before 9.x) refuses the flag. */
static bool refused_nowait(const struct stats_job *j)
{
    return j->nowait && j->error && strstr(j->error, "flags");
}

/* Whether a suspect's call alone, done, came back partial: fewer
 * statistics than its last complete record.  A frozen guest's does while
 * its hung call holds the domain's job; a healthy one's only when another
 * call held its job for a moment (the guest-info poll's block query). */
static bool came_back_partial(struct collector *c, struct stats_job *j)
{
    if (!j->single || j->retry || j->hs->len != 1)
        return false;
    const struct host_sample *h = &g_array_index(j->hs, struct host_sample, 0);
    int np = g_array_index(j->nparams, int, 0);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&c->lock);
    const struct dom *d = g_hash_table_lookup(c->doms, h->uuid);
    return d && d->suspect > 0 && d->baseline_dom_id == h->dom_id && np < d->baseline_params;
}

/* Asks again, at a quarter of the budget (DEADLINE, monotonic), what a
 * chunk has not answered yet (see the top of this file), what a driver
 * refused NOWAIT for, and a suspect's call alone that came back partial:
 * a healthy guest's job is free again by then, a frozen one's is not. */
static void retry_late(struct collector *c, struct round *r, int64_t deadline, bool *nowait)
{
    guint n = r->jobs->len;
    g_autofree bool *partial = g_new0(bool, n);
    bool any_partial = false;
    for (guint i = 0; i < n; i++) {
        struct stats_job *j = g_ptr_array_index(r->jobs, i);
        partial[i] = job_done(r, j) && came_back_partial(c, j);
        any_partial |= partial[i];
    }
    /* Every first call may have come back well before the deadline. */
    int64_t early = deadline - mono_usec();
    if (any_partial && early > 0)
        g_usleep((gulong)early);
    for (guint i = 0; i < n; i++) {
        struct stats_job *j = g_ptr_array_index(r->jobs, i);
        if (j->node || j->retry)
            continue;
        bool done = job_done(r, j);
        if (done && refused_nowait(j) && !c->nowait_unsupported) {
            c->nowait_unsupported = true;
            *nowait = false;
            g_message("host %s: the driver refuses NOWAIT on bulk stats (%s); "
                      "collecting without it",
                      c->vc->name, j->error);
        }
        if (done && !refused_nowait(j) && !partial[i])
            continue;
        struct stats_job *rj = job_new(r, c->stats[(i + 1) % (guint)c->cfg.connections]);
        rj->retry = true;
        rj->retried = j;
        rj->nowait = !c->nowait_unsupported;
        rj->uuids = j->uuids ? g_strdupv(j->uuids) : NULL;
        rj->single = j->single;
        if (!done) {
            /* Every domain of a late chunk is suspect: queried alone, and
             * checked for partial records, for the next rounds. */
            g_mutex_lock(&c->lock);
            GHashTableIter it;
            gpointer k, v;
            g_hash_table_iter_init(&it, c->doms);
            while (g_hash_table_iter_next(&it, &k, &v)) {
                struct dom *d = v;
                if (d->seen_round == c->round_no &&
                    (!j->uuids || g_strv_contains((const char *const *)j->uuids, d->uuid)))
                    d->suspect = SUSPECT_ROUNDS;
            }
            g_mutex_unlock(&c->lock);
        }
        job_push(c, r, rj);
    }
}

struct mem_status {
    char *uuid;
    bool ok;
    char *reason;
};

/* Whether the guest memory view of a collected domain is there: does the
 * balloon driver report, from the domain's definition and the record. */
static void balloon_status(struct collector *c, const char *uuid, const struct balloon_info *bi,
                           int64_t t0, GArray *ret)
{
    struct dom_facts f = {0};
    if (!virt_facts_get(c->vc, uuid, &f))
        return; /* the worker has not synced it yet */
    struct mem_status m = {.uuid = g_strdup(uuid)};
    int period = f.balloon_period > 0 ? f.balloon_period : 1;
    m.ok = collect_balloon_status(f.balloon_model ? f.balloon_model : "none", bi, period,
                                  c->cfg.interval_s, t0, &m.reason) == BALLOON_OK;
    g_array_append_val(ret, m);
    dom_facts_clear(&f);
}

/* Moves a job's records into the report; a suspect's record with fewer
 * statistics than its last complete one is partial and left out (its UUID
 * added to PARTIALS). */
static void take_records(struct collector *c, struct stats_job *j, struct round_report *rep,
                         GHashTable *got, GHashTable *partials, int64_t budget, GArray *mem)
{
    for (guint s = 0; s < j->hs->len; s++) {
        struct host_sample *h = &g_array_index(j->hs, struct host_sample, s);
        struct guest_sample *b = &g_array_index(j->bs, struct guest_sample, s);
        const struct balloon_info *bi = &g_array_index(j->bis, struct balloon_info, s);
        int np = g_array_index(j->nparams, int, s);
        if (g_hash_table_contains(got, h->uuid))
            continue;
        g_mutex_lock(&c->lock);
        struct dom *d = g_hash_table_lookup(c->doms, h->uuid);
        bool partial = false, new_balloon = false;
        if (d) {
            bool same_inc = d->baseline_dom_id == h->dom_id;
            if (d->suspect > 0 && same_inc && np < d->baseline_params) {
                partial = true;
            } else {
                d->baseline_params = np;
                d->baseline_dom_id = h->dom_id;
                /* A suspect answering complete and fast recovers. */
                if (d->suspect > 0 && j->single && !j->retry && j->took_us < budget / 4)
                    d->suspect--;
                new_balloon = bi->present && bi->last_update_us > d->balloon_update_us;
                if (new_balloon)
                    d->balloon_update_us = bi->last_update_us;
            }
        }
        g_mutex_unlock(&c->lock);
        if (partial)
            g_hash_table_add(partials, g_strdup(h->uuid));
        if (partial || !d)
            continue;
        g_hash_table_add(got, g_strdup(h->uuid));
        balloon_status(c, h->uuid, bi, rep->t_us, mem);
        g_array_append_val(rep->hosts, *h);
        host_sample_init(h);
        if (new_balloon) {
            g_array_append_val(rep->balloons, *b);
            guest_sample_init(b);
        }
    }
}

static void round_run(struct collector *c)
{
    struct virt_conn *vc = c->vc;
    const struct driver_sink *sink = vc->drv->sink;
    int64_t t0 = now_usec();
    int64_t budget = c->cfg.budget_ms > 0 ? (int64_t)c->cfg.budget_ms * USEC_PER_MSEC
                                          : (int64_t)c->cfg.interval_s * USEC_PER_SEC * 8 / 10;
    c->round_no++;

    if (!virt_conn_held(vc)) {
        close_conns(c); /* another instance collects it */
        return;
    }
    if (!ensure_conns(c)) {
        report_dropped(c, 1);
        return;
    }
    /* The budget covers the round's calls, not (re)opening connections,
     * which happens once per outage. */
    int64_t m0 = mono_usec();
    virDomainPtr *list = NULL;
    int n = virConnectListAllDomains(c->main, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) {
        g_debug("host %s: collector: listing domains: %s", vc->name, virt_last_error());
        close_conns(c);
        report_dropped(c, 1);
        return;
    }

    struct round *r = g_new0(struct round, 1);
    r->ref = 1;
    g_mutex_init(&r->lock);
    g_cond_init(&r->done);
    r->t_us = t0;
    r->host_id = vc->host_id;
    r->jobs = g_ptr_array_new_with_free_func(job_free);
    struct round_report *rep = round_report_new(vc->host_id, t0);

    g_autoptr(GPtrArray) normal = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) alone = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&c->lock);
    update_doms(c, list, n, normal, alone, rep);
    g_mutex_unlock(&c->lock);
    for (int i = 0; i < n; i++)
        virDomainFree(list[i]);
    free(list);

    int nconn = c->cfg.connections;
    int chunks = (int)MIN((guint)c->chunks, MAX(1u, (normal->len + CHUNK_MIN - 1) / CHUNK_MIN));
    bool nowait = !c->nowait_unsupported;
    if (normal->len && chunks == 1 && alone->len == 0) {
        job_new(r, c->stats[0])->nowait = nowait;
    } else if (normal->len) {
        for (int ci = 0; ci < chunks; ci++) {
            struct stats_job *j = job_new(r, c->stats[ci]);
            j->nowait = nowait;
            j->uuids = strv_of(normal, (guint)ci, (guint)chunks);
        }
    }
    for (guint i = 0; i < alone->len; i++) {
        const char *uuid = g_ptr_array_index(alone, i);
        g_mutex_lock(&c->lock);
        struct dom *d = g_hash_table_lookup(c->doms, uuid);
        bool out = d && d->alone_out;
        if (d && !out)
            d->alone_out = true;
        g_mutex_unlock(&c->lock);
        if (out)
            continue; /* still waiting for its last call: missed this round */
        struct stats_job *j = job_new(r, c->stats[(i + 1) % (guint)nconn]);
        j->nowait = nowait;
        j->single = true;
        j->c = collector_ref(c);
        j->uuids = g_new0(char *, 2);
        j->uuids[0] = g_strdup(uuid);
    }
    struct stats_job *nodej = job_new(r, c->main);
    nodej->node = true;
    nodej->refresh_pools = c->cfg.refresh_pools;
    nodej->cpu_fields = c->node_cpu_fields;
    nodej->mem_fields = c->node_mem_fields;
    guint first_jobs = r->jobs->len;
    for (guint i = 0; i < first_jobs; i++)
        job_push(c, r, g_ptr_array_index(r->jobs, i));

    /* A quarter of the budget for the first calls; then what is late is
     * asked again, and the rest of the budget is for everything. */
    wait_jobs(r, m0 + budget / 4);
    retry_late(c, r, m0 + budget / 4, &nowait);
    wait_jobs(r, m0 + budget);

    /* Snapshot which jobs finished: a late one may finish while we read,
     * but only those marked done now are looked at. */
    g_autoptr(GArray) done = g_array_new(FALSE, FALSE, sizeof(struct stats_job *));
    g_mutex_lock(&r->lock);
    for (guint i = 0; i < r->jobs->len; i++) {
        struct stats_job *j = g_ptr_array_index(r->jobs, i);
        if (j->done)
            g_array_append_val(done, j);
    }
    g_mutex_unlock(&r->lock);

    g_autoptr(GHashTable) got = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) partial = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GArray) mem = g_array_new(FALSE, TRUE, sizeof(struct mem_status));
    bool cut = false;
    for (guint i = 0; i < done->len; i++) {
        struct stats_job *j = g_array_index(done, struct stats_job *, i);
        if (j->error && !refused_nowait(j))
            g_debug("host %s: stats call failed: %s", vc->name, j->error);
        if (j->node) {
            c->node_cpu_fields = j->cpu_fields;
            c->node_mem_fields = j->mem_fields;
            rep->node.cpu_user_ns = j->node_s.cpu_user_ns;
            rep->node.cpu_kernel_ns = j->node_s.cpu_kernel_ns;
            rep->node.cpu_idle_ns = j->node_s.cpu_idle_ns;
            rep->node.cpu_iowait_ns = j->node_s.cpu_iowait_ns;
            rep->node.mem_total = j->node_s.mem_total;
            rep->node.mem_free = j->node_s.mem_free;
            rep->node.mem_buffers = j->node_s.mem_buffers;
            rep->node.mem_cached = j->node_s.mem_cached;
            for (guint p = 0; p < j->pools->len; p++) {
                g_array_append_val(rep->pools, g_array_index(j->pools, struct pool_sample, p));
                pool_sample_init(&g_array_index(j->pools, struct pool_sample, p));
            }
            continue;
        }
        /* Originals first: a retry only fills in what they missed. */
        if (!j->retry)
            take_records(c, j, rep, got, partial, budget, mem);
    }
    for (guint i = 0; i < done->len; i++) {
        struct stats_job *j = g_array_index(done, struct stats_job *, i);
        if (j->retry)
            take_records(c, j, rep, got, partial, budget, mem);
    }
    int64_t slowest = 0;
    for (guint i = 0; i < first_jobs; i++) {
        struct stats_job *j = g_ptr_array_index(r->jobs, i);
        cut |= !j->done;
        if (!j->node && !j->single)
            slowest = MAX(slowest, j->done ? j->took_us : budget);
    }
    /* Split into more chunks (and connections) only when one call is slow:
     * each chunk lists the host's domains to find its own, which costs
     * more than it saves while a single call is fast. */
    if (slowest > budget / 4)
        c->chunks = MIN(c->chunks * 2, nconn);
    else if (slowest < budget / 16)
        c->chunks = MAX(c->chunks / 2, 1);

    g_autoptr(GString) missed = g_string_new(NULL);
    g_mutex_lock(&c->lock);
    guint n_missed = 0;
    for (guint i = 0; i < rep->active->len; i++) {
        const char *uuid = g_ptr_array_index(rep->active, i);
        if (g_hash_table_contains(got, uuid))
            continue;
        n_missed++;
        struct dom *d = g_hash_table_lookup(c->doms, uuid);
        /* Why, for whoever reads the log: a frozen guest's figures are
         * missed; a healthy one's should not be. */
        const char *why = g_hash_table_contains(partial, uuid)
                              ? "answered without its job's figures"
                          : d && d->alone_out ? "its call alone still out"
                                              : "no answer in the budget";
        if (missed->len < 400)
            g_string_append_printf(missed, "%s%s (%s)", missed->len ? ", " : "", d ? d->name : uuid,
                                   why);
    }
    g_mutex_unlock(&c->lock);

    rep->have_node = true;
    rep->node.domains_running = (uint64_t)rep->active->len;
    rep->node.domains_collected = g_hash_table_size(got);
    rep->node.domains_missed = n_missed;
    rep->node.round_cut = cut;
    rep->node.round_us = (uint64_t)(mono_usec() - m0);
    /* Said when a call was late, and when what is missed changes. */
    if (cut)
        g_warning("host %s: collection round: some calls missed a quarter of the budget "
                  "(%" G_GINT64_FORMAT " ms); no host figures this round for: %s",
                  vc->name, budget / 4000, n_missed ? missed->str : "none (asked again in time)");
    else if (n_missed && g_strcmp0(missed->str, c->last_missed) != 0)
        g_warning("host %s: collection round: no host figures this round for: %s", vc->name,
                  missed->str);
    else if (!n_missed && c->last_missed && *c->last_missed)
        g_message("host %s: collection round: every running domain collected again", vc->name);
    g_free(c->last_missed);
    c->last_missed = g_string_free(g_steal_pointer(&missed), FALSE);

    for (guint i = 0; i < mem->len; i++) {
        struct mem_status *m = &g_array_index(mem, struct mem_status, i);
        sink->view_status(sink->ctx, vc->host_id, m->uuid, "guest-memory", m->ok, m->reason);
        g_free(m->uuid);
        g_free(m->reason);
    }
    sink->round(sink->ctx, rep);

    /* Agents to poll this round. */
    g_mutex_lock(&c->lock);
    guest_schedule(c, now_usec());
    g_mutex_unlock(&c->lock);
    round_unref(r);
}

static gpointer collector_thread(gpointer data)
{
    struct collector *c = data;
    int64_t interval = (int64_t)c->cfg.interval_s * USEC_PER_SEC;
    int64_t next = mono_usec();
    for (;;) {
        g_mutex_lock(&c->lock);
        while (!c->quit && mono_usec() < next)
            g_cond_wait_until(&c->wake, &c->lock, next);
        bool quit = c->quit;
        g_mutex_unlock(&c->lock);
        if (quit)
            break;
        round_run(c);
        next += interval;
        int64_t now = mono_usec();
        if (now >= next) {
            /* The round ran past one or more ticks: those are dropped, not
             * run back to back. */
            int64_t missed = (now - next) / interval + 1;
            report_dropped(c, (unsigned)missed);
            next += missed * interval;
        }
    }
    close_conns(c);
    virt_thread_exited(c->vc->drv);
    return NULL;
}

void collect_start(struct virt_conn *vc)
{
    struct virt_driver *d = vc->drv;
    if (!d->conf.collect)
        return;
    struct collector *c = g_new0(struct collector, 1);
    c->ref = 1;
    c->vc = vc;
    c->cfg = d->conf;
    c->cfg.connections = CLAMP(c->cfg.connections, 1, 64);
    c->cfg.interval_s = MAX(c->cfg.interval_s, 1);
    c->cfg.agent_timeout_s = MAX(c->cfg.agent_timeout_s, 1);
    c->stats = g_new0(virConnectPtr, (gsize)c->cfg.connections);
    c->chunks = 1;
    c->guest_event_id = -1;
    g_mutex_init(&c->lock);
    g_cond_init(&c->wake);
    c->doms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, dom_free);
    /* Stats calls that miss the budget keep their thread until libvirt
     * returns; allow some of them besides a full set of chunks and their
     * retries. */
    c->pool = g_thread_pool_new(stats_job_run, NULL, 4 * c->cfg.connections + 8, FALSE, NULL);
    c->gpool = g_thread_pool_new(guest_job_run, NULL, GUEST_THREADS, FALSE, NULL);
    vc->collector = c;
    virt_thread_started(d);
    g_autofree char *tname = g_strdup_printf("collect-%s", vc->name);
    c->thread = g_thread_new(tname, collector_thread, c);
}

void collect_request_stop(struct virt_conn *vc)
{
    struct collector *c = vc->collector;
    if (!c)
        return;
    g_mutex_lock(&c->lock);
    c->quit = true;
    g_cond_broadcast(&c->wake);
    g_mutex_unlock(&c->lock);
}

void collect_free(struct virt_conn *vc)
{
    struct collector *c = vc->collector;
    if (!c)
        return;
    g_thread_join(c->thread);
    /* Jobs still inside a hung libvirt call hold their own references; the
     * pools go when their last thread returns. */
    g_thread_pool_free(c->pool, TRUE, FALSE);
    g_thread_pool_free(c->gpool, TRUE, FALSE);
    vc->collector = NULL;
    collector_unref(c);
}
