/*
 * The sink's collection half and the round pipeline: a host's round moves
 * into the latest view, the stages run on it, and everything the round
 * produced is written in one transaction.
 */
#include "config.h"

#include "engine/policy-private.h"
#include "engine/ops-private.h"

#include "basic/util.h"

#include <string.h>

/* Guest samples and availability changes wait for their host's next
 * round; beyond these they are dropped (a host whose rounds stopped). */
#define PENDING_MAX 100000

static struct pool_ref *pool_ref_get(struct ehost *h, const char *name)
{
    for (guint i = 0; i < h->pools->len; i++) {
        struct pool_ref *r = g_ptr_array_index(h->pools, i);
        if (g_strcmp0(r->name, name) == 0)
            return r;
    }
    struct pool_ref *r = g_new0(struct pool_ref, 1);
    r->name = g_strdup(name);
    pool_sample_init(&r->cur);
    pool_sample_init(&r->prev);
    g_ptr_array_add(h->pools, r);
    return r;
}

static void batch_init(struct round_batch *b, int64_t now)
{
    b->now_us = now;
    b->reconciled = g_array_new(FALSE, TRUE, sizeof(struct reconciled_sample));
    b->findings = g_array_new(FALSE, TRUE, sizeof(struct finding_write));
    b->states = g_array_new(FALSE, TRUE, sizeof(struct store_state_write));
    b->views = g_ptr_array_new_with_free_func((GDestroyNotify)vm_view_free);
    b->decisions = g_ptr_array_new_with_free_func((GDestroyNotify)pdec_free);
    b->avail = g_array_new(FALSE, TRUE, sizeof(struct store_avail_mark));
}

static void batch_clear(struct round_batch *b)
{
    for (guint i = 0; i < b->reconciled->len; i++)
        reconciled_sample_clear(&g_array_index(b->reconciled, struct reconciled_sample, i));
    g_array_unref(b->reconciled);
    for (guint i = 0; i < b->findings->len; i++)
        finding_write_clear(&g_array_index(b->findings, struct finding_write, i));
    g_array_unref(b->findings);
    for (guint i = 0; i < b->states->len; i++) {
        struct store_state_write *w = &g_array_index(b->states, struct store_state_write, i);
        g_free((char *)w->uuid);
        g_free((char *)w->state);
    }
    g_array_unref(b->states);
    for (guint i = 0; i < b->avail->len; i++) {
        struct store_avail_mark *m = &g_array_index(b->avail, struct store_avail_mark, i);
        g_free((char *)m->uuid);
        g_free((char *)m->reason);
    }
    g_array_unref(b->avail);
    g_ptr_array_unref(b->views);
    g_ptr_array_unref(b->decisions);
}

/* Items of H that were active but are not in this round's listing have
 * stopped (or left): their view is kept and their figures cleared. */
static void update_membership(struct engine *e, struct ehost *h, const GPtrArray *active,
                              GPtrArray *views)
{
    g_autoptr(GHashTable) now = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < active->len; i++)
        g_hash_table_add(now, g_ptr_array_index(active, i));
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, e->items);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct item *itm = v;
        if (itm->active && itm->host_id == h->id && !g_hash_table_contains(now, itm->uuid))
            engine_item_deactivate(e, itm, views);
    }
    for (guint i = 0; i < active->len; i++) {
        struct item *itm = engine_item_get(e, g_ptr_array_index(active, i));
        if (itm->host_id != h->id) {
            /* Arrived from another host (migrated): rates never span hosts. */
            engine_item_clear_view(itm);
            itm->host_id = h->id;
        }
        itm->active = true;
    }
}

static void sink_round(void *ctx, struct round_report *r)
{
    struct engine *e = ctx;
    /* Its release waits for the round to be written, so that the round
     * is in the store before another instance can take the host and read
     * what this one left (engine-cluster.c). */
    struct ehost *h = engine_host_enter(e, r->host_id);
    if (!h) {
        round_report_free(r);
        return;
    }
    struct round_batch b;
    batch_init(&b, now_usec());
    g_autoptr(GPtrArray) round_items = g_ptr_array_new();
    g_autoptr(GPtrArray) hosts = g_ptr_array_new();
    g_autoptr(GPtrArray) pools = g_ptr_array_new();
    g_autoptr(GPtrArray) guests = NULL;
    g_autoptr(GArray) status = NULL;

    g_mutex_lock(&e->lock);
    h->rounds++;
    h->rounds_cut += r->node.round_cut;
    h->collecting = true;
    if (r->have_node) {
        h->node = r->node;
        h->have_node = true;
    }
    update_membership(e, h, r->active, b.views);

    for (guint i = 0; i < r->hosts->len; i++) {
        struct host_sample *s = &g_array_index(r->hosts, struct host_sample, i);
        if (!s->uuid)
            continue;
        struct item *it = engine_item_get(e, s->uuid);
        host_sample_move(&it->host[1], &it->host[0]);
        it->have_host[1] = it->have_host[0];
        host_sample_copy(&it->host[0], s);
        it->have_host[0] = true;
        it->host_id = h->id;
        it->active = true;
        g_ptr_array_add(round_items, it);
        /* The report's own sample is written: the item's may change
         * once e->lock is let go. */
        g_ptr_array_add(hosts, s);
    }
    guests = g_steal_pointer(&h->pending_guests);
    h->pending_guests = engine_pending_guests_new();
    for (guint i = 0; i < r->balloons->len; i++) {
        struct guest_sample *s = &g_array_index(r->balloons, struct guest_sample, i);
        struct item *it = engine_item_get(e, s->machine_uuid);
        struct guest_sample *copy = g_new(struct guest_sample, 1);
        guest_sample_copy(copy, s);
        g_ptr_array_add(guests, copy);
        engine_item_offer_guest(it, GS_BALLOON, s);
    }
    /* The guest samples that came since the last round join this one. */
    for (guint i = 0; i < round_items->len; i++)
        engine_item_take_guests(g_ptr_array_index(round_items, i));
    for (guint i = 0; i < r->pools->len; i++) {
        struct pool_sample *s = &g_array_index(r->pools, struct pool_sample, i);
        struct pool_ref *ref = pool_ref_get(h, s->name);
        pool_sample_clear(&ref->prev);
        ref->prev = ref->cur;
        ref->have_prev = ref->have_cur;
        pool_sample_init(&ref->cur);
        pool_sample_copy(&ref->cur, s);
        ref->have_cur = true;
        g_ptr_array_add(pools, s);
    }

    int64_t st0 = mono_usec();
    if (e->conf.reconcile)
        stage_reconcile(e, h, round_items, &b);
    stage_ops(e, h, round_items, &b);
    stage_policy(e, h, round_items, &b);
    stage_report(e, h, round_items, &b, r->have_node ? &r->node : NULL);
    if (r->have_node)
        h->node = r->node; /* with what the stage added */
    latency_observe(&h->stages, (double)(mono_usec() - st0) / 1e6);

    status = g_steal_pointer(&h->pending_status);
    h->pending_status = engine_pending_status_new();

    /* On a shared store the rows go in only under the lease they were
     * collected under. */
    struct store_fence fence = {.host = h->name, .holder = engine_cluster_id(e), .epoch = h->epoch};
    struct store_round w = {
        .fence = fence.holder ? &fence : NULL,
        .hosts = (const struct host_sample *const *)hosts->pdata,
        .n_hosts = hosts->len,
        .node = r->have_node ? &r->node : NULL,
        .pools = (const struct pool_sample *const *)pools->pdata,
        .n_pools = pools->len,
        .guests = (const struct guest_sample *const *)guests->pdata,
        .n_guests = guests->len,
        .reconciled = (const struct reconciled_sample *)b.reconciled->data,
        .n_reconciled = b.reconciled->len,
        .findings = (const struct finding_write *)b.findings->data,
        .n_findings = b.findings->len,
        .states = (const struct store_state_write *)b.states->data,
        .n_states = b.states->len,
        .views = (const struct vm_view *const *)b.views->pdata,
        .n_views = b.views->len,
        .status = (const struct store_view_status_write *)status->data,
        .n_status = status->len,
        .avail = (const struct store_avail_mark *)b.avail->data,
        .n_avail = b.avail->len,
        .span_host_id = h->id,
        .span_t_us = b.now_us,
        /* Rounds late by up to two intervals still continue the span. */
        .span_gap_us = 3 * (int64_t)MAX(e->conf.interval_s, 1) * G_USEC_PER_SEC,
    };
    /* Written with the rounds of the hosts whose threads wait meanwhile
     * (writer.c), so not under e->lock: every row the round writes is the
     * round's own (the report's samples, the batch). */
    g_mutex_unlock(&e->lock);
    int64_t s0 = mono_usec();
    g_autoptr(GError) err = NULL;
    int rc = engine_round_store(e, &w, &err);
    double took = (double)(mono_usec() - s0) / 1e6;
    g_mutex_lock(&e->lock);
    latency_observe(&h->store_write, took);
    g_mutex_unlock(&e->lock);
    engine_host_leave(h);

    if (rc < 0 && g_error_matches(err, STORE_ERROR, STORE_ERROR_FENCED)) {
        g_warning("%s: its round is dropped and the host released", err->message);
        engine_cluster_lost(e, h);
    } else if (rc < 0) {
        g_warning("host %s: storing the round: %s", h->name, err->message);
    } else {
        /* New figures exist: clients of the live stream may fetch them. */
        g_autoptr(GPtrArray) msgs = g_ptr_array_new_with_free_func((GDestroyNotify)stream_msg_free);
        g_ptr_array_add(msgs, stream_msg_round(h->name, r->t_us ? r->t_us : b.now_us));
        stream_hub_publish(e->stream, msgs);
    }
    /* After the round's rows: a decision's inputs are then in history. */
    engine_policy_after_round(e, &b);
    batch_clear(&b);
    round_report_free(r);
}

static void sink_round_dropped(void *ctx, int64_t host_id, unsigned count)
{
    struct engine *e = ctx;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    struct ehost *h = engine_host_reporting(e, host_id);
    if (!h)
        return;
    h->rounds_dropped += count;
    h->collecting = false;
}

static void sink_guest_sample(void *ctx, int64_t host_id, struct guest_sample *s)
{
    struct engine *e = ctx;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    struct ehost *h = engine_host_reporting(e, host_id);
    int gs = g_strcmp0(s->source, "qga") == 0 ? GS_QGA : GS_BALLOON;
    if (!h || !s->machine_uuid || h->pending_guests->len >= PENDING_MAX) {
        guest_sample_clear(s);
        return;
    }
    struct item *it = engine_item_get(e, s->machine_uuid);
    struct guest_sample *keep = g_new(struct guest_sample, 1);
    guest_sample_copy(keep, s);
    g_ptr_array_add(h->pending_guests, keep);
    engine_item_offer_guest(it, gs, s);
}

static void sink_agent_poll(void *ctx, int64_t host_id, enum agent_poll_result r)
{
    struct engine *e = ctx;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    struct ehost *h = engine_host_reporting(e, host_id);
    if (!h)
        return;
    if (r == AGENT_POLL_OK)
        h->agent_ok++;
    else if (r == AGENT_POLL_FAILED)
        h->agent_failed++;
    else
        h->agent_rejected++;
}

static void sink_view_status(void *ctx, int64_t host_id, const char *uuid, const char *part,
                             bool available, const char *reason)
{
    struct engine *e = ctx;
    int p = g_strcmp0(part, engine_part_names[PART_AGENT]) == 0    ? PART_AGENT
            : g_strcmp0(part, engine_part_names[PART_MEMORY]) == 0 ? PART_MEMORY
                                                                   : -1;
    if (p < 0 || !uuid)
        return;
    if (available)
        reason = NULL;
    g_autofree char *name = NULL, *host = NULL;
    bool first;
    {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
        struct ehost *h = engine_host_reporting(e, host_id);
        if (!h)
            return;
        struct item *it = engine_item_get(e, uuid);
        struct part_status *ps = &it->parts[p];
        first = !ps->known;
        bool flipped = first || ps->available != available;
        if (!flipped && g_strcmp0(ps->reason, reason) == 0)
            return;
        int64_t now = now_usec();
        if (flipped)
            ps->since_us = now;
        ps->known = true;
        ps->available = available;
        g_free(ps->reason);
        ps->reason = g_strdup(reason);
        if (h->pending_status->len < PENDING_MAX) {
            struct store_view_status_write w = {
                .uuid = g_strdup(uuid),
                .host_id = host_id,
                .part = g_strdup(engine_part_names[p]),
                .available = available,
                .reason = g_strdup(reason),
                .since_us = ps->since_us,
                .updated_us = now,
            };
            g_array_append_val(h->pending_status, w);
        }
        name = g_strdup(it->name ? it->name : uuid);
        host = g_strdup(h->name);
    }
    /* What is known at start-up is not news (10 000 VMs without an agent
     * would say so 10 000 times); a change is. */
    if (first)
        g_debug("host %s: %s: %s view %savailable%s%s", host, name, engine_part_names[p],
                available ? "" : "un", available ? "" : ": ", available ? "" : reason);
    else if (available)
        g_message("host %s: %s: %s view available", host, name, engine_part_names[p]);
    else
        g_message("host %s: %s: %s view unavailable: %s", host, name, engine_part_names[p],
                  reason ? reason : "unknown");
    /* The first report after a boot or a restart is news only as a
     * recovery: an agent lost before is found again. */
    if (p == PART_AGENT && (!first || available)) {
        /* The guest agent appeared, vanished or was rejected: its view
         * of the guest comes or goes with it. */
        g_autofree char *item = g_strconcat("vm:", uuid, NULL);
        g_autofree char *msg =
            available ? g_strdup_printf("%s: guest agent answering again", name)
                      : g_strdup_printf("%s: guest agent gone: %s", name, reason ? reason : "unknown");
        struct event *ev = event_new(now_usec(), item, name, host,
                                     available ? "agent.appeared" : "agent.vanished",
                                     "guest-agent-lost", !available,
                                     available ? SEV_INFO : SEV_WARNING, msg);
        ev->only_if_incident = first;
        engine_event_post(e, ev);
    }
}

void engine_sink_rounds(struct driver_sink *s)
{
    s->round = sink_round;
    s->round_dropped = sink_round_dropped;
    s->guest_sample = sink_guest_sample;
    s->agent_poll = sink_agent_poll;
    s->view_status = sink_view_status;
}
