/*
 * The round's stage of the reports (docs/reports.md): each VM of the host
 * classified for availability (report/availability.h) from what the round
 * knows — its state by the host, whether a guest view came and is fresh,
 * whether the guest's clock advances — and a mark written when its state
 * changes.  With the round, the host's collection span goes on: outside
 * the spans a VM's state is unknown.
 *
 * Runs under e->lock after the other stages, on every domain of the host's
 * inventory (a shut-off VM is in no round's samples).  The round's host
 * figures get what its running VMs are allocated and demand
 * (report/capacity.h): the capacity report's history.
 */
#include "config.h"

#include "engine/engine-private.h"

#include "basic/util.h"
#include "report/availability.h"
#include "report/capacity.h"

#include <math.h>

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

/* What IT's guest sources say: an agent's (qemu-guest-agent, kanri-guestd)
 * when it ever had one, else the balloon driver's statistics (the guest
 * kernel's, for a VM without an agent), else nothing (host-only). */
static void observe(const struct engine *e, const struct item *it, int64_t now, struct avail_obs *o)
{
    if (!it)
        return;
    static const int agents[] = {GS_QGA, GS_GUESTD}, balloon[] = {GS_BALLOON};
    bool has_agent = it->have_guest[GS_QGA][0] || it->have_guest[GS_GUESTD][0];
    const int *srcs = has_agent ? agents : balloon;
    size_t n = has_agent ? G_N_ELEMENTS(agents) : G_N_ELEMENTS(balloon);
    for (size_t i = 0; i < n; i++) {
        int src = srcs[i];
        if (!it->have_guest[src][0])
            continue;
        const struct guest_sample *g = &it->guest[src][0];
        o->guest_seen = true;
        if (now - g->received_us > stale_us(e, src))
            continue;
        /* The stock agent that stopped answering is lost now, however
         * young its last figures. */
        const struct part_status *agent = &it->parts[PART_AGENT];
        if (src == GS_QGA && agent->known && !agent->available)
            continue;
        o->guest_fresh = true;
        /* An agent that answers with the time it answered last: its
         * clock (and so the guest) stands still. */
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

static double r_value(uint64_t v, double scale)
{
    return v == SAMPLE_ABSENT ? NAN : (double)v * scale;
}

static uint64_t u(double v)
{
    return isnan(v) || v < 0 ? SAMPLE_ABSENT : (uint64_t)llround(v);
}

static int64_t or_else(uint64_t v, int64_t dflt)
{
    return v == SAMPLE_ABSENT ? dflt : (int64_t)v;
}

/* The allocation and demand of the host's running VMs into NODE: by the
 * round's samples where it has them, else by the inventory, with no
 * reconciled figure (so at their allocation). */
static void demand(struct ehost *h, GPtrArray *items, const struct round_batch *b,
                   struct node_sample *node)
{
    g_autoptr(GHashTable) rec = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < b->reconciled->len; i++) {
        struct reconciled_sample *s = &g_array_index(b->reconciled, struct reconciled_sample, i);
        g_hash_table_insert(rec, s->uuid, s);
    }
    g_autoptr(GHashTable) sampled = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < items->len; i++) {
        const struct item *it = g_ptr_array_index(items, i);
        if (it->have_host[0])
            g_hash_table_insert(sampled, it->uuid, (gpointer)it);
    }
    g_autoptr(GArray) vms = g_array_new(FALSE, TRUE, sizeof(struct cap_vm));
    GHashTableIter iter;
    gpointer k, val;
    g_hash_table_iter_init(&iter, h->inv);
    while (g_hash_table_iter_next(&iter, &k, &val)) {
        const struct inv_dom *d = val;
        if (d->removed ||
            (g_strcmp0(d->state, "running") != 0 && g_strcmp0(d->state, "paused") != 0))
            continue;
        const struct item *it = g_hash_table_lookup(sampled, d->uuid);
        const struct reconciled_sample *r = g_hash_table_lookup(rec, d->uuid);
        struct cap_vm v = {.vcpus = d->vcpus,
                           .memory_bytes = d->max_memory,
                           .cpu_demand_pct = NAN,
                           .mem_used_bytes = NAN,
                           .disk_used_bytes = NAN};
        if (it) {
            const struct host_sample *hs = &it->host[0];
            v.vcpus = or_else(hs->vcpu_count, v.vcpus);
            v.memory_bytes = or_else(hs->balloon_maximum, v.memory_bytes);
            v.disk_bytes = or_else(hs->block_capacity, 0);
            v.disk_host_bytes = or_else(hs->block_physical, 0);
        }
        if (r) {
            /* Stored in thousandths of a percent. */
            v.cpu_demand_pct = r_value(r->cpu_demand, 1e-3);
            v.mem_used_bytes = r_value(r->mem_used, 1);
            v.disk_used_bytes = r_value(r->disk_used, 1);
        }
        g_array_append_val(vms, v);
    }
    struct cap_demand d;
    cap_demand_sum((const struct cap_vm *)vms->data, vms->len, &d);
    node->vcpus_alloc = (uint64_t)d.vcpus;
    node->mem_alloc = (uint64_t)d.memory_bytes;
    node->disk_alloc = (uint64_t)d.disk_bytes;
    node->cpu_demand_milli = u(d.cpu_cores * 1000.0);
    node->mem_demand = u(d.memory_bytes_used);
    node->disk_demand = u(d.disk_bytes_used);
}

/* UUID left H for another host (migrated): that host marks it now. */
static bool moved_away(struct engine *e, const struct ehost *h, const char *uuid)
{
    const struct item *it = g_hash_table_lookup(e->items, uuid);
    return it && it->host_id && it->host_id != h->id;
}

void stage_report(struct engine *e, struct ehost *h, GPtrArray *items, struct round_batch *b,
                  struct node_sample *node)
{
    /* Before its inventory is known, a host's VMs are not: no figure
     * rather than a false zero. */
    if (node && h->synced_once)
        demand(h, items, b, node);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, h->inv);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct inv_dom *d = v;
        if (d->removed && moved_away(e, h, d->uuid)) {
            g_hash_table_remove(h->avail, d->uuid);
            continue;
        }
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
        if (!moved_away(e, h, uuid))
            mark(b, h, uuid, AV_ABSENT, "removed");
        g_hash_table_remove(h->avail, uuid);
    }
}
