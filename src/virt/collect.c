/*
 * The collectors: host view (bulk statistics) and guest view (balloon and
 * qemu-guest-agent) of every domain of one connection, on threads and
 * libvirt connections of their own, so inventory and statistics never wait
 * for each other.  See docs/monitoring.md for the design.
 *
 * Per connection:
 *   - the round thread ticks every interval.  It lists the running domains
 *     on its "main" connection, splits them into chunks over up to
 *     `connections` stats connections (one bulk call per chunk, always
 *     with NOWAIT) run on a thread pool, and waits for them until the
 *     round's budget.  A chunk that misses the budget is cut: its domains
 *     get no host sample this round and are queried one by one for the next
 *     few rounds, so one frozen QEMU then costs only its own figures.  The
 *     late call's thread is left to finish (or hang) on its own; its
 *     results are discarded.
 *   - a small guest pool (at most GUEST_THREADS per connection, its own
 *     connection) probes new domains (balloon model and stats period, agent
 *     channel) and polls each agent with short timeouts and backoff.  A
 *     domain's poll is never queued twice, so a hung agent holds one thread
 *     at most and never the round.
 *
 * The round thread owns `doms` membership; everything a job or event
 * callback touches in struct dom is under collector.lock.
 */
#include "config.h"

#include "virt/collect.h"

#include "basic/util.h"
#include "store/series.h"
#include "virt/domxml.h"
#include "virt/reconcile-run.h"
#include "virt/virt-private.h"

#include <errno.h>
#include <libvirt/libvirt-qemu.h>
#include <string.h>

#define CHUNK_MIN         8 /* domains per chunk before another connection is used */
#define SUSPECT_ROUNDS    3 /* rounds a cut domain is queried alone */
#define GUEST_THREADS     4
#define GUEST_BACKOFF_MAX (300 * USEC_PER_SEC)
#define STATS_GROUPS                                                                               \
    (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |              \
     VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK)

struct dom {
    char *uuid;
    char *name;
    uint64_t seen_round;
    int suspect; /* rounds left to be queried alone */

    /* probe (guest pool) */
    bool probed, probing;
    char *balloon_model;
    int balloon_period;
    bool has_agent;
    int64_t period_retry_us;

    /* guest memory view */
    bool bstatus_known;
    enum balloon_status bstatus;
    char *breason;

    /* agent */
    int agent_event; /* 0 unknown, else VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_* */
    bool guest_busy;
    int64_t guest_busy_since;
    int64_t guest_next_us;
    int guest_failures;
    bool astatus_known, astatus_ok;
    char *areason;
    bool no_cpustats, no_diskstats;

    /* latest figures, for GET /metrics */
    bool have_host, have_qga, have_balloon, have_rec;
    struct host_sample host;
    struct guest_sample qga, balloon;
    struct virt_reconciled rec;
};

struct collector {
    gint ref;
    struct virt_conn *vc;
    struct virt_collect_conf cfg;
    GThread *thread;

    GMutex lock;
    GCond wake;
    bool quit;
    GHashTable *doms; /* uuid -> struct dom * */

    /* round-thread only */
    virConnectPtr main;
    virConnectPtr *stats;
    virConnectPtr guest;
    int guest_event_id;
    bool nowait_unsupported;
    GThreadPool *pool;
    GThreadPool *gpool;
    uint64_t round_no;

    /* health, under lock */
    uint64_t rounds, rounds_cut, rounds_dropped;
    int64_t last_round_us, last_round_t;
    uint64_t last_missed, last_collected;
    double store_seconds_sum;
    uint64_t store_writes;
    double store_last_s;
    uint64_t agent_ok, agent_failed, agent_rejected;
    bool connected;
    struct node_sample node;
    bool have_node;
};

static struct collector *collector_ref(struct collector *c)
{
    g_atomic_int_inc(&c->ref);
    return c;
}

static void dom_free(gpointer p)
{
    struct dom *d = p;
    g_free(d->uuid);
    g_free(d->name);
    g_free(d->balloon_model);
    g_free(d->breason);
    g_free(d->areason);
    host_sample_clear(&d->host);
    guest_sample_clear(&d->qga);
    guest_sample_clear(&d->balloon);
    virt_reconciled_clear(&d->rec);
    g_free(d);
}

static void collector_unref(struct collector *c)
{
    if (!g_atomic_int_dec_and_test(&c->ref))
        return;
    g_hash_table_unref(c->doms);
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
    virConnectPtr conn;
    bool node;   /* host figures and pools instead of domains */
    GStrv uuids; /* NULL: every active domain in one call */
    bool single; /* a suspect queried alone */
    bool nowait;
    bool done;
    int64_t took_us;
    char *error;
    GArray *hs;  /* struct host_sample */
    GArray *bs;  /* struct guest_sample (source balloon), parallel to hs */
    GArray *bis; /* struct balloon_info, parallel to hs */
    struct node_sample node_s;
    GArray *pools; /* struct pool_sample */
};

static void job_free(gpointer p)
{
    struct stats_job *j = p;
    if (j->conn)
        virConnectClose(j->conn);
    g_strfreev(j->uuids);
    g_free(j->error);
    if (j->hs) {
        for (guint i = 0; i < j->hs->len; i++) {
            host_sample_clear(&g_array_index(j->hs, struct host_sample, i));
            guest_sample_clear(&g_array_index(j->bs, struct guest_sample, i));
        }
        g_array_unref(j->hs);
        g_array_unref(j->bs);
        g_array_unref(j->bis);
    }
    if (j->pools) {
        for (guint i = 0; i < j->pools->len; i++)
            g_free(g_array_index(j->pools, struct pool_sample, i).name);
        g_array_unref(j->pools);
    }
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
        if (virDomainGetUUIDString(recs[i]->dom, uuid) < 0)
            continue;
        host_sample_init(&hs);
        guest_sample_init(&bs);
        hs.host_id = j->round->host_id;
        hs.uuid = g_ascii_strdown(uuid, -1);
        hs.time_us = j->round->t_us;
        hs.dom_id = virDomainGetID(recs[i]->dom);
        bs.machine_uuid = g_strdup(hs.uuid);
        bs.source = "balloon";
        bs.received_us = j->round->t_us;
        collect_parse_record(recs[i]->params, recs[i]->nparams, &hs, &bs, &bi);
        g_array_append_val(j->hs, hs);
        g_array_append_val(j->bs, bs);
        g_array_append_val(j->bis, bi);
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
            if (virDomainGetUUIDString(all[i], uuid) == 0 && g_hash_table_contains(want, uuid))
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
    int n = 0;
    if (virNodeGetCPUStats(j->conn, VIR_NODE_CPU_STATS_ALL_CPUS, NULL, &n, 0) == 0 && n > 0 &&
        n < 64) {
        virNodeCPUStats cs[64];
        if (virNodeGetCPUStats(j->conn, VIR_NODE_CPU_STATS_ALL_CPUS, cs, &n, 0) == 0) {
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
    n = 0;
    if (virNodeGetMemoryStats(j->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) == 0 &&
        n > 0 && n < 64) {
        virNodeMemoryStats ms[64];
        if (virNodeGetMemoryStats(j->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, ms, &n, 0) == 0) {
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
    j->pools = g_array_new(FALSE, TRUE, sizeof(struct pool_sample));
    for (int i = 0; i < np; i++) {
        virStoragePoolInfo info;
        /* libvirt reports a pool's figures as of its last refresh: without
         * one, a dir pool filled by a thin image's growth would look as
         * empty as when it was started.  A refresh that fails (a job on a
         * volume) still leaves the last figures. */
        virStoragePoolRefresh(pools[i], 0);
        if (virStoragePoolGetInfo(pools[i], &info) == 0) {
            struct pool_sample p = {
                .host_id = j->round->host_id,
                .name = g_strdup(virStoragePoolGetName(pools[i])),
                .time_us = j->round->t_us,
                .capacity = info.capacity,
                .allocation = info.allocation,
                .available = info.available,
            };
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
    g_mutex_lock(&r->lock);
    j->took_us = mono_usec() - t0;
    j->done = true;
    r->pending--;
    g_cond_broadcast(&r->done);
    g_mutex_unlock(&r->lock);
    round_unref(r);
}

static struct stats_job *job_new(struct round *r, virConnectPtr conn)
{
    struct stats_job *j = g_new0(struct stats_job, 1);
    j->round = r;
    j->conn = conn;
    virConnectRef(conn);
    j->hs = g_array_new(FALSE, TRUE, sizeof(struct host_sample));
    j->bs = g_array_new(FALSE, TRUE, sizeof(struct guest_sample));
    j->bis = g_array_new(FALSE, TRUE, sizeof(struct balloon_info));
    g_ptr_array_add(r->jobs, j);
    return j;
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
    if (virDomainGetUUIDString(dom, uuid) < 0)
        return;
    g_autofree char *key = g_ascii_strdown(uuid, -1);
    g_mutex_lock(&c->lock);
    struct dom *d = g_hash_table_lookup(c->doms, key);
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

/* ---- guest view ---- */

struct gjob {
    struct collector *c;
    virConnectPtr conn;
    char *uuid;
    bool probe;
};

static void set_view(struct collector *c, const char *uuid, const char *name, const char *part,
                     bool ok, const char *reason)
{
    struct store *st = c->vc->mgr->store;
    g_autoptr(GError) err = NULL;
    bool changed = false;
    if (st->ops->view_status_set(st, c->vc->host_id, uuid, part, ok, reason, &changed, &err) < 0)
        g_warning("host %s: storing view status: %s", c->vc->name, err->message);
    else if (changed && ok)
        g_message("host %s: %s: %s view available", c->vc->name, name, part);
    else if (changed)
        g_message("host %s: %s: %s view unavailable: %s", c->vc->name, name, part, reason);
}

/* Sets the balloon statistics period the guest view needs, as an action
 * of kanrid's: audited, and the configuration change it makes attributed. */
static void set_balloon_period(struct collector *c, virDomainPtr dom, const char *uuid,
                               const char *name, int old_period)
{
    struct virt_manager *m = c->vc->mgr;
    struct store *st = m->store;
    int period = c->cfg.balloon_period_s;
    g_autofree char *params =
        g_strdup_printf("{\"period\": %d, \"previous\": %d}", period, old_period);
    int64_t audit_id = 0;
    st->ops->audit_begin(st, "kanrid", 0, "set-balloon-period", name, uuid, c->vc->name, params,
                         &audit_id, NULL);
    virt_inflight_set(m, c->vc->host_id, uuid, "kanrid", audit_id);
    int rc = virDomainSetMemoryStatsPeriod(dom, period, VIR_DOMAIN_AFFECT_LIVE);
    const char *msg = rc < 0 ? virt_last_error() : NULL;
    if (audit_id)
        st->ops->audit_end(st, audit_id, rc == 0, msg, NULL);
    if (rc == 0) {
        struct store_cause cause = {.cause = "action", .actor = "kanrid", .audit_id = audit_id};
        g_autoptr(GError) err = NULL;
        if (virt_sync_domain(c->vc, dom, &cause, &err) < 0)
            g_warning("host %s: %s: recording the stats period change: %s", c->vc->name, name,
                      err->message);
        g_message("host %s: %s: balloon statistics period set to %d s (was %d)", c->vc->name, name,
                  period, old_period);
    } else {
        g_warning("host %s: %s: cannot set the balloon statistics period: %s", c->vc->name, name,
                  msg);
    }
    virt_inflight_clear(m, c->vc->host_id, uuid);
    virResetLastError();
}

static void guest_probe(struct collector *c, virDomainPtr dom, const char *uuid)
{
    char *xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        virResetLastError();
        return;
    }
    g_autoptr(domxml_domain) x = domxml_domain_parse(xml, NULL);
    free(xml);
    if (!x)
        return;
    g_autofree char *name = NULL;
    bool want_period = false;
    g_mutex_lock(&c->lock);
    struct dom *d = g_hash_table_lookup(c->doms, uuid);
    if (d) {
        g_free(d->balloon_model);
        d->balloon_model = g_strdup(x->balloon_model ? x->balloon_model : "none");
        d->balloon_period = x->balloon_stats_period;
        d->has_agent = x->has_guest_agent;
        d->probed = true;
        name = g_strdup(d->name);
        /* libvirt's test driver has no guest to report and keeps no period
         * in its XML (it would be "set" again after every restart), so its
         * domains are left alone. */
        want_period = c->cfg.balloon_period_s > 0 && x->balloon_model &&
                      g_str_has_prefix(x->balloon_model, "virtio") &&
                      x->balloon_stats_period != c->cfg.balloon_period_s &&
                      g_strcmp0(x->domain_type, "test") != 0;
    }
    g_mutex_unlock(&c->lock);
    if (want_period) {
        set_balloon_period(c, dom, uuid, name, x->balloon_stats_period);
        g_mutex_lock(&c->lock);
        d = g_hash_table_lookup(c->doms, uuid);
        if (d)
            d->balloon_period = c->cfg.balloon_period_s;
        g_mutex_unlock(&c->lock);
    }
    if (!x->has_guest_agent)
        set_view(c, uuid, x->name, "guest-agent", false,
                 "the domain has no qemu-guest-agent channel (org.qemu.guest_agent.0)");
}

/* One agent command with the configured timeout; the reply parsed and
 * bounded.  NULL with *error (libvirt's message, or why it was rejected). */
static json_object *agent_call(struct collector *c, virDomainPtr dom, const char *cmd,
                               bool *ret_libvirt_failed, GError **error)
{
    *ret_libvirt_failed = false;
    char *reply = virDomainQemuAgentCommand(dom, cmd, c->cfg.agent_timeout_s, 0);
    if (!reply) {
        *ret_libvirt_failed = true;
        g_set_error(error, VIRT_ERROR, virt_err_from_libvirt(), "%s", virt_last_error());
        return NULL;
    }
    json_object *ret = qga_parse_reply(reply, strlen(reply), error);
    free(reply);
    return ret;
}

static void guest_poll(struct collector *c, virDomainPtr dom, const char *uuid, const char *name)
{
    struct store *st = c->vc->mgr->store;
    struct guest_sample s;
    guest_sample_init(&s);
    s.machine_uuid = g_strdup(uuid);
    s.source = "qga";
    s.received_us = now_usec();
    g_autoptr(GError) err = NULL;
    bool lvfail = false, rejected = false;
    bool no_cpu, no_disk;
    g_mutex_lock(&c->lock);
    struct dom *d0 = g_hash_table_lookup(c->doms, uuid);
    no_cpu = d0 && d0->no_cpustats;
    no_disk = d0 && d0->no_diskstats;
    g_mutex_unlock(&c->lock);

    json_object *ret = agent_call(c, dom, "{\"execute\":\"guest-get-time\"}", &lvfail, &err);
    bool ok = ret && qga_apply_time(ret, &s, &err);
    json_object_put(ret);
    if (!ok)
        rejected = !lvfail;

    /* cpustats and diskstats exist since QEMU 7.1; an agent without them
     * (or with them disabled) answers with an error we remember. */
    static const char *const cmds[] = {"{\"execute\":\"guest-get-cpustats\"}",
                                       "{\"execute\":\"guest-get-diskstats\"}"};
    bool *skip[] = {&no_cpu, &no_disk};
    for (int k = 0; ok && k < 2; k++) {
        if (*skip[k])
            continue;
        g_autoptr(GError) e2 = NULL;
        ret = agent_call(c, dom, cmds[k], &lvfail, &e2);
        if (!ret && g_error_matches(e2, COLLECT_ERROR, COLLECT_ERROR_AGENT)) {
            *skip[k] = true;
            continue;
        }
        ok = ret && (k == 0 ? qga_apply_cpustats(ret, &s, &e2) : qga_apply_diskstats(ret, &s, &e2));
        json_object_put(ret);
        if (!ok) {
            rejected = !lvfail;
            g_propagate_error(&err, g_steal_pointer(&e2));
        }
    }
    if (ok) {
        virTypedParameterPtr params = NULL;
        int n = 0;
        unsigned types = VIR_DOMAIN_GUEST_INFO_OS | VIR_DOMAIN_GUEST_INFO_HOSTNAME |
                         VIR_DOMAIN_GUEST_INFO_FILESYSTEM | VIR_DOMAIN_GUEST_INFO_INTERFACES;
        if (virDomainGetGuestInfo(dom, types, &params, &n, 0) == 0) {
            ok = collect_apply_guestinfo(params, n, &s, &err);
            rejected = !ok;
            virTypedParamsFree(params, n);
        }
        /* Guest info is a bonus to the figures: its absence (older agent,
         * a disabled command) does not make the view unavailable. */
        virResetLastError();
    }

    g_autofree char *reason = NULL;
    if (ok) {
        g_autoptr(GError) e3 = NULL;
        if (st->ops->guest_sample_insert(st, &s, NULL, &e3) < 0)
            g_warning("host %s: %s: storing guest sample: %s", c->vc->name, name, e3->message);
    } else if (rejected) {
        reason = g_strdup_printf("agent reply rejected: %s", err ? err->message : "?");
    } else {
        reason = g_strdup_printf("agent did not answer: %s", err ? err->message : "?");
    }

    int64_t now = now_usec();
    bool status_changed;
    g_mutex_lock(&c->lock);
    struct dom *d = g_hash_table_lookup(c->doms, uuid);
    if (d) {
        d->no_cpustats = no_cpu;
        d->no_diskstats = no_disk;
        if (ok) {
            d->guest_failures = 0;
            d->guest_next_us = 0;
            guest_sample_clear(&d->qga);
            d->qga = s;
            memset(&s, 0, sizeof(s));
            guest_sample_init(&s);
            d->have_qga = true;
            c->agent_ok++;
        } else {
            d->guest_failures++;
            int64_t back = (int64_t)c->cfg.interval_s * USEC_PER_SEC
                           << MIN(d->guest_failures - 1, 5);
            d->guest_next_us = now + MIN(back, GUEST_BACKOFF_MAX);
            if (rejected)
                c->agent_rejected++;
            else
                c->agent_failed++;
        }
        status_changed =
            !d->astatus_known || d->astatus_ok != ok || g_strcmp0(d->areason, reason) != 0;
        d->astatus_known = true;
        d->astatus_ok = ok;
        g_free(d->areason);
        d->areason = g_strdup(reason);
    } else {
        status_changed = false;
    }
    g_mutex_unlock(&c->lock);
    if (status_changed) {
        if (rejected)
            g_warning("host %s: %s: %s", c->vc->name, name, reason);
        set_view(c, uuid, name, "guest-agent", ok, reason);
    }
    guest_sample_clear(&s);
}

static void guest_job_run(gpointer data, gpointer user)
{
    struct gjob *j = data;
    struct collector *c = j->c;
    virDomainPtr dom = virDomainLookupByUUIDString(j->conn, j->uuid);
    g_autofree char *name = NULL;
    if (dom) {
        name = g_strdup(virDomainGetName(dom));
        if (j->probe)
            guest_probe(c, dom, j->uuid);
        else
            guest_poll(c, dom, j->uuid, name);
        virDomainFree(dom);
    }
    virResetLastError();
    g_mutex_lock(&c->lock);
    struct dom *d = g_hash_table_lookup(c->doms, j->uuid);
    if (d) {
        if (j->probe)
            d->probing = false;
        else
            d->guest_busy = false;
    }
    g_mutex_unlock(&c->lock);
    virConnectClose(j->conn);
    g_free(j->uuid);
    g_free(j);
    collector_unref(c);
}

static void push_guest_job(struct collector *c, const char *uuid, bool probe)
{
    struct gjob *j = g_new0(struct gjob, 1);
    j->c = collector_ref(c);
    j->conn = c->guest;
    virConnectRef(c->guest);
    j->uuid = g_strdup(uuid);
    j->probe = probe;
    g_thread_pool_push(c->gpool, j, NULL);
}

/* ---- the round ---- */

static void update_balloon_view(struct collector *c, const char *uuid,
                                const struct balloon_info *bi, int64_t now)
{
    g_autofree char *reason = NULL;
    g_autofree char *name = NULL;
    bool changed = false, ok = false;
    bool retry_period = false;
    g_mutex_lock(&c->lock);
    struct dom *d = g_hash_table_lookup(c->doms, uuid);
    if (d && d->probed) {
        int period = d->balloon_period > 0 ? d->balloon_period : MAX(c->cfg.balloon_period_s, 1);
        enum balloon_status st =
            collect_balloon_status(d->balloon_model, bi, period, c->cfg.interval_s, now, &reason);
        ok = st == BALLOON_OK;
        changed = !d->bstatus_known || d->bstatus != st || g_strcmp0(d->breason, reason) != 0;
        /* Stats that never came or stopped: the period may have been reset
         * (e.g. by a restore); probe again now and then. */
        if ((st == BALLOON_NO_STATS || st == BALLOON_STALE) && now > d->period_retry_us) {
            retry_period = d->period_retry_us > 0 && !d->probing && c->cfg.balloon_period_s > 0;
            d->period_retry_us = now + 60 * USEC_PER_SEC;
        }
        d->bstatus_known = true;
        d->bstatus = st;
        g_free(d->breason);
        d->breason = g_strdup(reason);
        name = g_strdup(d->name);
    }
    if (retry_period && c->guest) {
        d->probing = true;
        push_guest_job(c, uuid, true);
    }
    g_mutex_unlock(&c->lock);
    if (changed)
        set_view(c, uuid, name, "guest-memory", ok, reason);
}

static void round_run(struct collector *c)
{
    struct virt_conn *vc = c->vc;
    struct store *st = vc->mgr->store;
    int64_t t0 = now_usec();
    int64_t budget = c->cfg.budget_ms > 0 ? (int64_t)c->cfg.budget_ms * USEC_PER_MSEC
                                          : (int64_t)c->cfg.interval_s * USEC_PER_SEC * 8 / 10;
    c->round_no++;

    if (!ensure_conns(c)) {
        g_mutex_lock(&c->lock);
        c->rounds_dropped++;
        c->connected = false;
        g_mutex_unlock(&c->lock);
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
        g_mutex_lock(&c->lock);
        c->rounds_dropped++;
        c->connected = false;
        g_mutex_unlock(&c->lock);
        return;
    }

    struct round *r = g_new0(struct round, 1);
    r->ref = 1;
    g_mutex_init(&r->lock);
    g_cond_init(&r->done);
    r->t_us = t0;
    r->host_id = vc->host_id;
    r->jobs = g_ptr_array_new_with_free_func(job_free);

    /* Bring the domain table up to date; choose suspects and chunks. */
    g_autoptr(GPtrArray) normal = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) alone = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) probe = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&c->lock);
    c->connected = true;
    for (int i = 0; i < n; i++) {
        char u[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetUUIDString(list[i], u) < 0)
            continue;
        char *uuid = g_ascii_strdown(u, -1);
        struct dom *d = g_hash_table_lookup(c->doms, uuid);
        if (!d) {
            d = g_new0(struct dom, 1);
            d->uuid = g_strdup(uuid);
            host_sample_init(&d->host);
            guest_sample_init(&d->qga);
            guest_sample_init(&d->balloon);
            g_hash_table_insert(c->doms, d->uuid, d);
        }
        g_free(d->name);
        d->name = g_strdup(virDomainGetName(list[i]));
        d->seen_round = c->round_no;
        if (!d->probed && !d->probing) {
            d->probing = true;
            g_ptr_array_add(probe, g_strdup(uuid));
        }
        g_ptr_array_add(d->suspect > 0 ? alone : normal, uuid);
    }
    /* Domains no longer running leave the table (and /metrics). */
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, c->doms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct dom *d = v;
        if (d->seen_round != c->round_no && !d->guest_busy && !d->probing)
            g_hash_table_iter_remove(&it);
    }
    g_mutex_unlock(&c->lock);
    for (int i = 0; i < n; i++)
        virDomainFree(list[i]);
    free(list);

    int nconn = c->cfg.connections;
    int chunks = (int)MIN((guint)nconn, MAX(1u, (normal->len + CHUNK_MIN - 1) / CHUNK_MIN));
    bool nowait = !c->nowait_unsupported;
    if (normal->len && chunks == 1 && alone->len == 0) {
        struct stats_job *j = job_new(r, c->stats[0]);
        j->nowait = nowait;
    } else if (normal->len) {
        for (int ci = 0; ci < chunks; ci++) {
            struct stats_job *j = job_new(r, c->stats[ci]);
            j->nowait = nowait;
            GPtrArray *u = g_ptr_array_new();
            for (guint i = (guint)ci; i < normal->len; i += (guint)chunks)
                g_ptr_array_add(u, g_strdup(g_ptr_array_index(normal, i)));
            g_ptr_array_add(u, NULL);
            j->uuids = (GStrv)g_ptr_array_free(u, FALSE);
        }
    }
    for (guint i = 0; i < alone->len; i++) {
        struct stats_job *j = job_new(r, c->stats[(i + 1) % (guint)nconn]);
        j->nowait = nowait;
        j->single = true;
        j->uuids = g_new0(char *, 2);
        j->uuids[0] = g_strdup(g_ptr_array_index(alone, i));
    }
    struct stats_job *nodej = job_new(r, c->main);
    nodej->node = true;

    r->pending = (int)r->jobs->len;
    for (guint i = 0; i < r->jobs->len; i++) {
        g_atomic_int_inc(&r->ref);
        g_thread_pool_push(c->pool, g_ptr_array_index(r->jobs, i), NULL);
    }
    for (guint i = 0; i < probe->len; i++)
        push_guest_job(c, g_ptr_array_index(probe, i), true);

    /* Wait for the jobs until the budget. */
    int64_t deadline = m0 + budget;
    g_mutex_lock(&r->lock);
    while (r->pending > 0 && g_cond_wait_until(&r->done, &r->lock, deadline))
        ;
    /* Snapshot which jobs finished: a late one may finish while we read,
     * but we only look at those marked done now. */
    g_autoptr(GArray) done = g_array_new(FALSE, FALSE, sizeof(gboolean));
    for (guint i = 0; i < r->jobs->len; i++) {
        gboolean d = ((struct stats_job *)g_ptr_array_index(r->jobs, i))->done;
        g_array_append_val(done, d);
    }
    g_mutex_unlock(&r->lock);

    g_autoptr(GArray) hs = g_array_new(FALSE, FALSE, sizeof(struct host_sample));
    g_autoptr(GHashTable) got = g_hash_table_new(g_str_hash, g_str_equal);
    struct node_sample node;
    node_sample_init(&node);
    node.host_id = vc->host_id;
    node.time_us = t0;
    GArray *pools = NULL;
    bool cut = false;
    g_autoptr(GString) cut_names = g_string_new(NULL);
    for (guint i = 0; i < r->jobs->len; i++) {
        struct stats_job *j = g_ptr_array_index(r->jobs, i);
        bool fin = g_array_index(done, gboolean, i);
        if (!fin) {
            cut = true;
            g_mutex_lock(&c->lock);
            for (guint u = 0; j->uuids && j->uuids[u]; u++) {
                struct dom *d = g_hash_table_lookup(c->doms, j->uuids[u]);
                if (d) {
                    d->suspect = SUSPECT_ROUNDS;
                    if (cut_names->len < 200)
                        g_string_append_printf(cut_names, "%s%s", cut_names->len ? ", " : "",
                                               d->name);
                }
            }
            g_mutex_unlock(&c->lock);
            if (j->node && cut_names->len < 200)
                g_string_append_printf(cut_names, "%s(host figures)", cut_names->len ? ", " : "");
            continue;
        }
        if (j->error) {
            /* A driver without NOWAIT (the test driver before 9.x) refuses
             * the flag: use the plain call from then on, and say so once. */
            if (j->nowait && !c->nowait_unsupported && strstr(j->error, "flags")) {
                c->nowait_unsupported = true;
                g_message("host %s: the driver refuses NOWAIT on bulk stats (%s); "
                          "collecting without it",
                          vc->name, j->error);
            } else {
                g_debug("host %s: stats call failed: %s", vc->name, j->error);
            }
        }
        if (j->node) {
            node.cpu_user_ns = j->node_s.cpu_user_ns;
            node.cpu_kernel_ns = j->node_s.cpu_kernel_ns;
            node.cpu_idle_ns = j->node_s.cpu_idle_ns;
            node.cpu_iowait_ns = j->node_s.cpu_iowait_ns;
            node.mem_total = j->node_s.mem_total;
            node.mem_free = j->node_s.mem_free;
            node.mem_buffers = j->node_s.mem_buffers;
            node.mem_cached = j->node_s.mem_cached;
            pools = j->pools;
            continue;
        }
        for (guint s = 0; s < j->hs->len; s++) {
            struct host_sample *h = &g_array_index(j->hs, struct host_sample, s);
            g_hash_table_add(got, h->uuid);
            g_array_append_val(hs, *h);
        }
        if (j->single && j->took_us < budget / 4) {
            g_mutex_lock(&c->lock);
            struct dom *d = g_hash_table_lookup(c->doms, j->uuids[0]);
            if (d && d->suspect > 0)
                d->suspect--;
            g_mutex_unlock(&c->lock);
        }
    }
    node.domains_running = (uint64_t)n;
    node.domains_collected = g_hash_table_size(got);
    node.domains_missed =
        (uint64_t)n > node.domains_collected ? (uint64_t)n - node.domains_collected : 0;
    node.round_cut = cut;
    node.round_us = (uint64_t)(mono_usec() - m0);
    if (cut)
        g_warning("host %s: collection round cut after %" G_GINT64_FORMAT
                  " ms (budget %" G_GINT64_FORMAT " ms); no host figures this round for: %s",
                  vc->name, (mono_usec() - m0) / 1000, budget / 1000, cut_names->str);

    int64_t s0 = mono_usec();
    g_autoptr(GError) err = NULL;
    if (st->ops->host_round_insert(st, (struct host_sample *)hs->data, hs->len, &node,
                                   pools ? (struct pool_sample *)pools->data : NULL,
                                   pools ? pools->len : 0, &err) < 0)
        g_warning("host %s: storing host samples: %s", vc->name, err->message);
    /* Guest-reported balloon figures: one guest sample per new last-update
     * (the store ignores a repeat of the same time). */
    for (guint i = 0; i < r->jobs->len; i++) {
        struct stats_job *j = g_ptr_array_index(r->jobs, i);
        if (!g_array_index(done, gboolean, i) || j->node)
            continue;
        for (guint s = 0; s < j->hs->len; s++) {
            struct guest_sample *b = &g_array_index(j->bs, struct guest_sample, s);
            struct balloon_info *bi = &g_array_index(j->bis, struct balloon_info, s);
            if (bi->present && bi->last_update_us > 0) {
                g_autoptr(GError) e2 = NULL;
                if (st->ops->guest_sample_insert(st, b, NULL, &e2) < 0)
                    g_warning("host %s: storing balloon sample: %s", vc->name, e2->message);
            }
            update_balloon_view(c, b->machine_uuid, bi, t0);
        }
    }
    double store_s = (double)(mono_usec() - s0) / 1e6;

    /* Reconcile every domain that has a new host sample, now that this
     * round's host and balloon figures are in the store. */
    g_autoptr(GArray) recs = g_array_new(FALSE, TRUE, sizeof(struct virt_reconciled));
    for (guint i = 0; c->cfg.reconcile_enabled && i < hs->len; i++) {
        const struct host_sample *h = &g_array_index(hs, struct host_sample, i);
        struct virt_reconciled rv = {0};
        g_autoptr(GError) e3 = NULL;
        if (virt_reconcile_domain(st, &c->cfg.reconcile, vc->host_id, h->uuid, now_usec(), &rv,
                                  &e3) < 0) {
            g_warning("host %s: reconciling %s: %s", vc->name, h->uuid,
                      e3 ? e3->message : "failed");
            continue;
        }
        g_array_append_val(recs, rv);
    }

    /* Keep the newest figures for /metrics; the samples move there. */
    g_mutex_lock(&c->lock);
    for (guint i = 0; i < r->jobs->len; i++) {
        struct stats_job *j = g_ptr_array_index(r->jobs, i);
        if (!g_array_index(done, gboolean, i) || j->node)
            continue;
        for (guint s = 0; s < j->hs->len; s++) {
            struct host_sample *h = &g_array_index(j->hs, struct host_sample, s);
            struct dom *d = g_hash_table_lookup(c->doms, h->uuid);
            if (!d)
                continue;
            host_sample_clear(&d->host);
            d->host = *h;
            host_sample_init(h);
            d->have_host = true;
            struct guest_sample *b = &g_array_index(j->bs, struct guest_sample, s);
            if (b->time_us > 0) {
                guest_sample_clear(&d->balloon);
                d->balloon = *b;
                guest_sample_init(b);
                d->have_balloon = true;
            }
        }
    }
    for (guint i = 0; i < recs->len; i++) {
        struct virt_reconciled *rv = &g_array_index(recs, struct virt_reconciled, i);
        struct dom *d = g_hash_table_lookup(c->doms, rv->sample.uuid);
        if (!d) {
            virt_reconciled_clear(rv);
            continue;
        }
        virt_reconciled_clear(&d->rec);
        d->rec = *rv;
        d->have_rec = true;
    }
    c->rounds++;
    c->rounds_cut += cut;
    c->last_round_us = (int64_t)node.round_us;
    c->last_round_t = t0;
    c->last_missed = node.domains_missed;
    c->last_collected = node.domains_collected;
    c->store_seconds_sum += store_s;
    c->store_writes++;
    c->store_last_s = store_s;
    c->node = node;
    c->have_node = true;

    /* Agents to poll this round. */
    int64_t now = now_usec();
    g_hash_table_iter_init(&it, c->doms);
    while (c->guest && g_hash_table_iter_next(&it, &k, &v)) {
        struct dom *d = v;
        if (!d->probed || !d->has_agent || d->seen_round != c->round_no)
            continue;
        if (d->guest_busy) {
            /* A call that outlives several intervals is a hung agent. */
            int64_t stuck = now - d->guest_busy_since;
            if (stuck > 3 * (int64_t)c->cfg.interval_s * USEC_PER_SEC && d->astatus_ok) {
                d->astatus_ok = false;
                g_free(d->areason);
                d->areason = g_strdup_printf("agent call hung for %" G_GINT64_FORMAT " s",
                                             stuck / USEC_PER_SEC);
                g_mutex_unlock(&c->lock);
                set_view(c, d->uuid, d->name, "guest-agent", false, d->areason);
                g_mutex_lock(&c->lock);
            }
            continue;
        }
        if (d->agent_event == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_DISCONNECTED &&
            d->astatus_known && !d->astatus_ok && now < d->guest_next_us)
            continue;
        if (d->agent_event == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_DISCONNECTED &&
            (!d->astatus_known || d->astatus_ok)) {
            /* The channel closed: say so now rather than after a timeout. */
            d->astatus_known = true;
            d->astatus_ok = false;
            g_free(d->areason);
            d->areason = g_strdup("agent disconnected (its channel closed in the guest)");
            d->guest_next_us = now + (int64_t)c->cfg.interval_s * USEC_PER_SEC;
            g_autofree char *uuid = g_strdup(d->uuid), *name = g_strdup(d->name),
                            *reason = g_strdup(d->areason);
            g_mutex_unlock(&c->lock);
            set_view(c, uuid, name, "guest-agent", false, reason);
            g_mutex_lock(&c->lock);
            continue;
        }
        if (now < d->guest_next_us)
            continue;
        d->guest_busy = true;
        d->guest_busy_since = now;
        push_guest_job(c, d->uuid, false);
    }
    g_mutex_unlock(&c->lock);
    round_unref(r);
}

static gpointer collector_thread(gpointer data)
{
    struct collector *c = data;
    struct virt_manager *m = c->vc->mgr;
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
            g_mutex_lock(&c->lock);
            c->rounds_dropped += (uint64_t)missed;
            g_mutex_unlock(&c->lock);
            next += missed * interval;
        }
    }
    close_conns(c);
    g_mutex_lock(&m->lock);
    m->running--;
    g_cond_broadcast(&m->exited);
    g_mutex_unlock(&m->lock);
    return NULL;
}

void virt_manager_set_collect(struct virt_manager *m, const struct virt_collect_conf *c)
{
    m->collect = *c;
}

void collect_start(struct virt_conn *vc)
{
    struct virt_manager *m = vc->mgr;
    if (!m->collect.enabled)
        return;
    struct collector *c = g_new0(struct collector, 1);
    c->ref = 1;
    c->vc = vc;
    c->cfg = m->collect;
    c->cfg.connections = CLAMP(c->cfg.connections, 1, 64);
    c->cfg.interval_s = MAX(c->cfg.interval_s, 1);
    c->cfg.agent_timeout_s = MAX(c->cfg.agent_timeout_s, 1);
    c->stats = g_new0(virConnectPtr, (gsize)c->cfg.connections);
    c->guest_event_id = -1;
    g_mutex_init(&c->lock);
    g_cond_init(&c->wake);
    c->doms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, dom_free);
    /* Stats calls that miss the budget keep their thread until libvirt
     * returns; allow some of them besides a full set of chunks. */
    c->pool = g_thread_pool_new(stats_job_run, NULL, 4 * c->cfg.connections + 8, FALSE, NULL);
    c->gpool = g_thread_pool_new(guest_job_run, NULL, GUEST_THREADS, FALSE, NULL);
    vc->collector = c;
    g_mutex_lock(&m->lock);
    m->running++;
    g_mutex_unlock(&m->lock);
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

/* ---- history maintenance ---- */

struct maint {
    GThread *thread;
    GMutex lock;
    GCond wake;
    bool quit;
    struct virt_manager *m;
    uint64_t runs;
    double last_s;
};

static gpointer maint_thread(gpointer data)
{
    struct maint *mt = data;
    struct virt_manager *m = mt->m;
    /* Often enough that a 5-minute bucket is computed soon after it closes,
     * rarely enough to cost nothing. */
    int64_t period = CLAMP((int64_t)m->collect.interval_s * 6, 5, 60) * USEC_PER_SEC;
    for (;;) {
        int64_t until = mono_usec() + period;
        g_mutex_lock(&mt->lock);
        while (!mt->quit && mono_usec() < until)
            g_cond_wait_until(&mt->wake, &mt->lock, until);
        bool quit = mt->quit;
        g_mutex_unlock(&mt->lock);
        if (quit)
            break;
        int64_t t0 = mono_usec();
        struct store_maint_stats stats;
        g_autoptr(GError) err = NULL;
        int64_t settle = 2 * (int64_t)m->collect.interval_s * USEC_PER_SEC;
        if (m->store->ops->samples_maintain(m->store, &m->collect.retention, now_usec(), settle,
                                            &stats, &err) < 0)
            g_warning("history maintenance: %s", err->message);
        else if (stats.buckets_5m || stats.rows_deleted)
            g_debug("history: %u 5-minute and %u hourly buckets, %u rows expired", stats.buckets_5m,
                    stats.buckets_1h, stats.rows_deleted);
        g_mutex_lock(&mt->lock);
        mt->runs++;
        mt->last_s = (double)(mono_usec() - t0) / 1e6;
        g_mutex_unlock(&mt->lock);
    }
    g_mutex_lock(&m->lock);
    m->running--;
    g_cond_broadcast(&m->exited);
    g_mutex_unlock(&m->lock);
    return NULL;
}

void collect_maint_start(struct virt_manager *m)
{
    if (m->maint || !m->collect.enabled)
        return;
    struct maint *mt = g_new0(struct maint, 1);
    mt->m = m;
    g_mutex_init(&mt->lock);
    g_cond_init(&mt->wake);
    m->maint = mt;
    m->running++; /* caller holds m->lock */
    mt->thread = g_thread_new("history", maint_thread, mt);
}

void collect_maint_stop(struct virt_manager *m)
{
    struct maint *mt = m->maint;
    if (!mt)
        return;
    g_mutex_lock(&mt->lock);
    mt->quit = true;
    g_cond_broadcast(&mt->wake);
    g_mutex_unlock(&mt->lock);
}

static void maint_free(struct virt_manager *m)
{
    struct maint *mt = m->maint;
    if (!mt)
        return;
    g_thread_join(mt->thread);
    g_mutex_clear(&mt->lock);
    g_cond_clear(&mt->wake);
    g_free(mt);
    m->maint = NULL;
}

void virt_collect_free_all(struct virt_manager *m)
{
    for (guint i = 0; i < m->conns->len; i++)
        collect_free(g_ptr_array_index(m->conns, i));
    maint_free(m);
}

/* ---- GET /metrics ---- */

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
        GString *lines = prom_family(p, name, m->counter ? "counter" : "gauge", m->help);
        prom_value(lines, name, labels, (double)v * m->prom_scale);
    }
}

void virt_metrics_prometheus(struct virt_manager *m, GString *out)
{
    struct prom p = {
        .fam = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, NULL),
        .order = g_ptr_array_new_with_free_func(g_free),
        .meta = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free),
    };
    g_mutex_lock(&m->lock);
    for (guint ci = 0; ci < m->conns->len; ci++) {
        struct virt_conn *vc = g_ptr_array_index(m->conns, ci);
        g_autoptr(GString) hl = g_string_new("host=\"");
        prom_escape(hl, vc->name);
        g_string_append_c(hl, '"');
        g_mutex_lock(&vc->lock);
        bool up = vc->state == CONN_CONNECTED;
        g_mutex_unlock(&vc->lock);
        prom_value(prom_family(&p, "kanri_host_connected", "gauge",
                               "1 when kanrid's inventory connection to the host is up"),
                   "kanri_host_connected", hl->str, up);
        struct collector *c = vc->collector;
        if (!c)
            continue;
        g_mutex_lock(&c->lock);
        prom_value(prom_family(&p, "kanri_collect_connected", "gauge",
                               "1 when the collector's own connections to the host are up"),
                   "kanri_collect_connected", hl->str, c->connected);
        prom_value(
            prom_family(&p, "kanri_collect_rounds_total", "counter", "Collection rounds run"),
            "kanri_collect_rounds_total", hl->str, (double)c->rounds);
        prom_value(prom_family(&p, "kanri_collect_rounds_cut_total", "counter",
                               "Rounds cut at their budget (some domains without host figures)"),
                   "kanri_collect_rounds_cut_total", hl->str, (double)c->rounds_cut);
        prom_value(prom_family(&p, "kanri_collect_rounds_dropped_total", "counter",
                               "Rounds not run: host unreachable, or the previous round overran"),
                   "kanri_collect_rounds_dropped_total", hl->str, (double)c->rounds_dropped);
        prom_value(prom_family(&p, "kanri_collect_round_seconds", "gauge",
                               "Wall time of the last collection round"),
                   "kanri_collect_round_seconds", hl->str, (double)c->last_round_us / 1e6);
        prom_value(prom_family(&p, "kanri_collect_domains_missed", "gauge",
                               "Running domains without host figures in the last round"),
                   "kanri_collect_domains_missed", hl->str, (double)c->last_missed);
        prom_value(prom_family(&p, "kanri_store_write_seconds", "gauge",
                               "Time the last round's samples took to store"),
                   "kanri_store_write_seconds", hl->str, c->store_last_s);
        prom_value(prom_family(&p, "kanri_store_write_seconds_sum", "counter",
                               "Total time spent storing round samples"),
                   "kanri_store_write_seconds_sum", hl->str, c->store_seconds_sum);
        prom_value(prom_family(&p, "kanri_store_write_seconds_count", "counter",
                               "Number of round sample writes"),
                   "kanri_store_write_seconds_count", hl->str, (double)c->store_writes);
        static const char *const res[] = {"ok", "failed", "rejected"};
        uint64_t cnt[] = {c->agent_ok, c->agent_failed, c->agent_rejected};
        for (int i = 0; i < 3; i++) {
            g_autofree char *l = g_strdup_printf("%s,result=\"%s\"", hl->str, res[i]);
            prom_value(prom_family(&p, "kanri_agent_polls_total", "counter",
                                   "Guest agent polls by result"),
                       "kanri_agent_polls_total", l, (double)cnt[i]);
        }
        if (c->have_node) {
            g_autofree char *l = g_strdup_printf("%s,view=\"host\"", hl->str);
            prom_sample(&p, "host", &series_host, &c->node, l);
        }
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, c->doms);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            struct dom *d = v;
            g_autoptr(GString) vl = g_string_new(hl->str);
            g_string_append(vl, ",vm=\"");
            prom_escape(vl, d->name);
            g_string_append_printf(vl, "\",uuid=\"%s\"", d->uuid);
            if (d->have_host) {
                g_autofree char *l = g_strdup_printf("%s,view=\"host\"", vl->str);
                prom_sample(&p, "vm", &series_vm_host, &d->host, l);
            }
            if (d->have_qga) {
                g_autofree char *l = g_strdup_printf("%s,view=\"guest\",source=\"qga\"", vl->str);
                prom_sample(&p, "vm", &series_vm_guest, &d->qga, l);
            }
            if (d->have_balloon) {
                g_autofree char *l =
                    g_strdup_printf("%s,view=\"guest\",source=\"balloon\"", vl->str);
                prom_sample(&p, "vm", &series_vm_guest, &d->balloon, l);
            }
            if (d->have_rec) {
                g_autofree char *l = g_strdup_printf("%s,view=\"reconciled\"", vl->str);
                prom_sample(&p, "vm", &series_vm_reconciled, &d->rec.sample, l);
                for (guint fi = 0; d->rec.open_findings && fi < d->rec.open_findings->len; fi++) {
                    g_auto(GStrv) rs =
                        g_strsplit(g_ptr_array_index(d->rec.open_findings, fi), "\t", 2);
                    g_autofree char *fl =
                        g_strdup_printf("%s,view=\"reconciled\",rule=\"%s\",severity=\"%s\"",
                                        vl->str, rs[0], rs[1] ? rs[1] : "");
                    prom_value(prom_family(&p, "kanri_vm_finding_open", "gauge",
                                           "1 for each reconciliation finding open on the VM"),
                               "kanri_vm_finding_open", fl, 1);
                }
            }
            const char *parts[] = {"memory", "agent"};
            bool known[] = {d->bstatus_known, d->astatus_known};
            bool ok[] = {d->bstatus_known && d->bstatus == BALLOON_OK, d->astatus_ok};
            const char *why[] = {d->breason, d->areason};
            for (int i = 0; i < 2; i++) {
                if (!known[i])
                    continue;
                g_autoptr(GString) l = g_string_new(vl->str);
                g_string_append_printf(l, ",view=\"guest\",part=\"%s\"", parts[i]);
                prom_value(prom_family(&p, "kanri_vm_view_available", "gauge",
                                       "1 when this part of the view has current figures"),
                           "kanri_vm_view_available", l->str, ok[i]);
                if (!ok[i]) {
                    g_string_append(l, ",reason=\"");
                    prom_escape(l, why[i]);
                    g_string_append_c(l, '"');
                    prom_value(prom_family(&p, "kanri_vm_view_unavailable_info", "gauge",
                                           "Why a part of a view is unavailable"),
                               "kanri_vm_view_unavailable_info", l->str, 1);
                }
            }
        }
        g_mutex_unlock(&c->lock);
    }
    g_mutex_unlock(&m->lock);
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
}
