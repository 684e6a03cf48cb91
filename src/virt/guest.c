/*
 * The guest view through the stock qemu-guest-agent: each running domain
 * with an agent channel is polled after its host's round, on a small pool
 * of threads and a connection of the collector's own, with short timeouts
 * and a backoff per domain.  A domain's poll is never queued twice, so a
 * hung agent holds one thread at most and never the round.
 */
#include "config.h"

#include "virt/collector.h"

#include "basic/util.h"

#include <libvirt/libvirt-qemu.h>
#include <string.h>

#define GUEST_BACKOFF_MAX (300 * USEC_PER_SEC)

struct gjob {
    struct collector *c;
    virConnectPtr conn;
    char *uuid;
};

/* One agent command with the configured timeout; the reply parsed and
 * bounded.  NULL with *error (libvirt's message, or why it was rejected). */
static json_object *agent_call(struct collector *c, virDomainPtr dom, const char *cmd,
                               bool *ret_libvirt_failed, GError **error)
{
    *ret_libvirt_failed = false;
    char *reply = virDomainQemuAgentCommand(dom, cmd, c->cfg.agent_timeout_s, 0);
    if (!reply) {
        *ret_libvirt_failed = true;
        g_set_error(error, DRIVER_ERROR, virt_err_from_libvirt(), "%s", virt_last_error());
        return NULL;
    }
    json_object *ret = qga_parse_reply(reply, strlen(reply), error);
    free(reply);
    return ret;
}

static void report_agent(struct collector *c, const char *uuid, bool ok, const char *reason)
{
    const struct driver_sink *sink = c->vc->drv->sink;
    sink->view_status(sink->ctx, c->vc->host_id, uuid, "guest-agent", ok, reason);
}

static void guest_poll(struct collector *c, virDomainPtr dom, const char *uuid)
{
    const struct driver_sink *sink = c->vc->drv->sink;
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
    if (rejected)
        reason = g_strdup_printf("agent reply rejected: %s", err ? err->message : "?");
    else if (!ok)
        reason = g_strdup_printf("agent did not answer: %s", err ? err->message : "?");

    int64_t now = now_usec();
    bool changed = false;
    g_mutex_lock(&c->lock);
    struct dom *d = g_hash_table_lookup(c->doms, uuid);
    if (d) {
        d->no_cpustats = no_cpu;
        d->no_diskstats = no_disk;
        if (ok) {
            d->guest_failures = 0;
            d->guest_next_us = 0;
        } else {
            d->guest_failures++;
            int64_t back = (int64_t)c->cfg.interval_s * USEC_PER_SEC
                           << MIN(d->guest_failures - 1, 5);
            d->guest_next_us = now + MIN(back, GUEST_BACKOFF_MAX);
        }
        changed = !d->astatus_known || d->astatus_ok != ok;
        d->astatus_known = true;
        d->astatus_ok = ok;
    }
    g_mutex_unlock(&c->lock);
    if (rejected && changed)
        g_warning("host %s: domain %s: %s", c->vc->name, uuid, reason);
    sink->agent_poll(sink->ctx, c->vc->host_id,
                     ok         ? AGENT_POLL_OK
                     : rejected ? AGENT_POLL_REJECTED
                                : AGENT_POLL_FAILED);
    report_agent(c, uuid, ok, reason);
    if (ok)
        sink->guest_sample(sink->ctx, c->vc->host_id, &s);
    guest_sample_clear(&s);
}

void guest_job_run(gpointer data, gpointer user)
{
    struct gjob *j = data;
    struct collector *c = j->c;
    virDomainPtr dom = NULL;
    g_mutex_lock(&c->lock);
    struct dom *d = g_hash_table_lookup(c->doms, j->uuid);
    if (d && d->gdom && virDomainGetConnect(d->gdom) == j->conn) {
        dom = d->gdom;
        virDomainRef(dom);
    }
    g_mutex_unlock(&c->lock);
    if (!dom) {
        dom = virDomainLookupByUUIDString(j->conn, j->uuid);
        g_mutex_lock(&c->lock);
        d = g_hash_table_lookup(c->doms, j->uuid);
        if (d && dom) {
            if (d->gdom)
                virDomainFree(d->gdom);
            d->gdom = dom;
            virDomainRef(dom);
        }
        g_mutex_unlock(&c->lock);
    }
    if (dom) {
        guest_poll(c, dom, j->uuid);
        virDomainFree(dom);
    }
    virResetLastError();
    g_mutex_lock(&c->lock);
    d = g_hash_table_lookup(c->doms, j->uuid);
    if (d)
        d->guest_busy = false;
    g_mutex_unlock(&c->lock);
    virConnectClose(j->conn);
    g_free(j->uuid);
    g_free(j);
    collector_unref(c);
}

void guest_poll_push(struct collector *c, const char *uuid)
{
    struct gjob *j = g_new0(struct gjob, 1);
    j->c = collector_ref(c);
    j->conn = c->guest;
    virConnectRef(c->guest);
    j->uuid = g_strdup(uuid);
    g_thread_pool_push(c->gpool, j, NULL);
}

struct agent_report {
    char *uuid;
    char *reason;
};

void guest_schedule(struct collector *c, int64_t now)
{
    /* What to tell the sink is collected under the lock and told after
     * it: a poll finishing meanwhile may change the domain's state, so
     * nothing of struct dom is read once the lock is dropped. */
    g_autoptr(GArray) reports = g_array_new(FALSE, TRUE, sizeof(struct agent_report));
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, c->doms);
    while (c->guest && g_hash_table_iter_next(&it, &k, &v)) {
        struct dom *d = v;
        if (d->seen_round != c->round_no)
            continue;
        struct dom_facts f = {0};
        bool known = virt_facts_get(c->vc, d->uuid, &f);
        bool has_agent = known && f.has_agent;
        dom_facts_clear(&f);
        if (!known)
            continue; /* the worker has not synced it yet */
        if (!has_agent && d->no_agent_told)
            continue;
        d->no_agent_told = !has_agent;
        if (!has_agent) {
            struct agent_report r = {
                g_strdup(d->uuid),
                g_strdup("the domain has no qemu-guest-agent channel (org.qemu.guest_agent.0)")};
            g_array_append_val(reports, r);
            continue;
        }
        if (d->guest_busy) {
            /* A call that outlives several intervals is a hung agent. */
            int64_t stuck = now - d->guest_busy_since;
            if (stuck > 3 * (int64_t)c->cfg.interval_s * USEC_PER_SEC && d->astatus_ok) {
                d->astatus_ok = false;
                struct agent_report r = {
                    g_strdup(d->uuid), g_strdup_printf("agent call hung for %" G_GINT64_FORMAT " s",
                                                       stuck / USEC_PER_SEC)};
                g_array_append_val(reports, r);
            }
            continue;
        }
        bool disconnected =
            d->agent_event == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_DISCONNECTED;
        if (disconnected && d->astatus_known && !d->astatus_ok && now < d->guest_next_us)
            continue;
        if (disconnected && (!d->astatus_known || d->astatus_ok)) {
            /* The channel closed: say so now rather than after a timeout. */
            d->astatus_known = true;
            d->astatus_ok = false;
            d->guest_next_us = now + (int64_t)c->cfg.interval_s * USEC_PER_SEC;
            struct agent_report r = {
                g_strdup(d->uuid),
                g_strdup("agent disconnected (its channel closed in the guest)")};
            g_array_append_val(reports, r);
            continue;
        }
        if (now < d->guest_next_us)
            continue;
        d->guest_busy = true;
        d->guest_busy_since = now;
        guest_poll_push(c, d->uuid);
    }
    if (!reports->len)
        return;
    g_mutex_unlock(&c->lock);
    for (guint i = 0; i < reports->len; i++) {
        struct agent_report *r = &g_array_index(reports, struct agent_report, i);
        report_agent(c, r->uuid, false, r->reason);
        g_free(r->uuid);
        g_free(r->reason);
    }
    g_mutex_lock(&c->lock);
}
