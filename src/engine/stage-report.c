/*
 * The round's stage of the reports (docs/reports.md): each VM of the host
 * classified for availability (report/availability.h) from what the round
 * knows — its state by the host, whether a guest view came and is fresh,
 * whether the guest's clock advances — and a mark written when its state
 * changes.  With the round, the host's collection span goes on: outside
 * the spans a VM's state is unknown.
 *
 * Runs under e->lock after the other stages, on every domain of the host's
 * inventory (a shut-off VM is in no round's samples).
 */
#include "config.h"

#include "engine/engine-private.h"

#include "basic/util.h"
#include "report/availability.h"

struct avail_last {
    enum avail_state state;
    char *reason;
};

static void avail_last_free(gpointer p)
{
    struct avail_last *l = p;
    g_free(l->reason);
    g_free(l);
}

GHashTable *engine_avail_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, avail_last_free);
}

static int64_t stale_us(const struct engine *e, int src)
{
    const struct reconcile_config *c = &e->conf.reconcile_conf;
    return src == GS_BALLOON ? c->balloon_stale_us : c->guest_stale_us;
}

static void observe(const struct engine *e, const struct item *it, int64_t now, struct avail_obs *o)
{
    if (!it)
        return;
    for (int src = 0; src < GS_N; src++) {
        if (!it->have_guest[src][0])
            continue;
        const struct guest_sample *g = &it->guest[src][0];
        o->guest_seen = true;
        if (now - g->received_us > stale_us(e, src))
            continue;
        o->guest_fresh = true;
        /* A guest that answers with the time it answered last: its clock
         * (and so the guest) stands still. */
        const struct guest_sample *p = &it->guest[src][1];
        if (src != GS_BALLOON && it->have_guest[src][1] && p->received_us < g->received_us &&
            p->time_us == g->time_us)
            o->guest_clock_stopped = true;
    }
}

static void mark(struct round_batch *b, struct ehost *h, const char *uuid, enum avail_state s,
                 const char *reason)
{
    struct avail_last *l = g_hash_table_lookup(h->avail, uuid);
    if (l && l->state == s && g_strcmp0(l->reason, reason) == 0)
        return;
    if (!l) {
        l = g_new0(struct avail_last, 1);
        g_hash_table_replace(h->avail, g_strdup(uuid), l);
    }
    l->state = s;
    g_free(l->reason);
    l->reason = g_strdup(reason);
    struct store_avail_mark m = {.uuid = g_strdup(uuid),
                                 .host_id = h->id,
                                 .t_us = b->now_us,
                                 .state = avail_state_name(s),
                                 .reason = g_strdup(reason)};
    g_array_append_val(b->avail, m);
}

void stage_report(struct engine *e, struct ehost *h, struct round_batch *b)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, h->inv);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct inv_dom *d = v;
        struct avail_obs o = {
            .exists = !d->removed, .host_state = d->state, .state_reason = d->state_reason};
        observe(e, g_hash_table_lookup(e->items, d->uuid), b->now_us, &o);
        const char *reason;
        enum avail_state s = avail_classify(&o, &reason);
        mark(b, h, d->uuid, s, reason);
    }
    /* Those gone from the inventory altogether. */
    g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
    g_hash_table_iter_init(&it, h->avail);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (!g_hash_table_contains(h->inv, k))
            g_ptr_array_add(gone, g_strdup(k));
    }
    for (guint i = 0; i < gone->len; i++) {
        const char *uuid = g_ptr_array_index(gone, i);
        mark(b, h, uuid, AV_ABSENT, "removed");
        g_hash_table_remove(h->avail, uuid);
    }
}
