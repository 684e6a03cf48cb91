/*
 * engine_fleet(): the inventory the caller read, joined with the engine's
 * latest view (each VM's newest R and its open findings, each host's
 * state) and the operations record's open incidents, then added up by
 * fleet_sum() (fleet.h).  One pass over the inventory under the view's
 * lock, a hash lookup per VM: no store query per VM.
 */
#include "config.h"

#include "engine/engine-private.h"
#include "engine/fleet.h"
#include "engine/ops-private.h"

#include "basic/util.h"

#include <string.h>

static int finding_severity(const char *name)
{
    for (int s = 0; s < FLEET_FINDING_SEV_N; s++)
        if (g_strcmp0(name, reconcile_severity_name(s)) == 0)
            return s;
    return -1;
}

/* The VM's latest view into V.  Under e->lock. */
static void vm_latest(struct engine *e, struct fleet_vm *v)
{
    g_autofree char *key = g_ascii_strdown(v->uuid, -1);
    const struct item *it = g_hash_table_lookup(e->items, key);
    if (!it)
        return;
    /* R of a VM that migrated here belongs to the host it runs on now. */
    if (it->result && it->host_id == v->host_id) {
        const struct reconcile_value *r = it->result->values;
        v->t_us = it->result_t_us;
        v->cpu_demand_pct = r[RC_CPU_DEMAND].r;
        v->mem_used_bytes = r[RC_MEM_USED].r;
        v->mem_total_bytes = r[RC_MEM_TOTAL].r;
        v->disk_used_bytes = r[RC_DISK_USED].r;
        /* The count the round's shares are of (reconcile.c takes the host
         * sample's). */
        if (it->have_host[0] && it->host[0].vcpu_count != SAMPLE_ABSENT)
            v->r_vcpus = (double)it->host[0].vcpu_count;
    }
    for (guint i = 0; i < it->open->len; i++) {
        const struct finding_open *fo = g_ptr_array_index(it->open, i);
        int s = finding_severity(fo->severity);
        if (s >= 0)
            v->findings[s]++;
    }
}

/* Open (or acknowledged) incidents per host of F, and in F's totals: all
 * of them when WHOLE, else those of F's hosts.  The same count as
 * engine_ops_counts(), split by host. */
static void incidents(struct engine *e, struct fleet *f, bool whole)
{
    if (!e->ops)
        return;
    g_autoptr(GHashTable) by_name = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < f->hosts->len; i++) {
        struct fleet_host *h = &g_array_index(f->hosts, struct fleet_host, i);
        g_hash_table_insert(by_name, h->name, h);
    }
    struct engine_ops *o = e->ops;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->lock);
    GHashTableIter it;
    gpointer k, val;
    g_hash_table_iter_init(&it, o->st->by_id);
    while (g_hash_table_iter_next(&it, &k, &val)) {
        const struct incident *inc = val;
        if (inc->state == INCIDENT_RESOLVED || inc->severity >= SEV_N)
            continue;
        /* A host's own incidents (host-unreachable) name it as their
         * item, the others as the host they happened on. */
        const char *host = inc->host;
        if (!host && inc->item && g_str_has_prefix(inc->item, "host:"))
            host = inc->item + strlen("host:");
        struct fleet_host *h = host ? g_hash_table_lookup(by_name, host) : NULL;
        if (h)
            h->incidents[inc->severity]++;
        if (whole || h)
            f->incidents[inc->severity]++;
    }
}

struct fleet *engine_fleet(struct engine *e, const struct rows *hosts, const struct rows *vms,
                           const struct rows *pools, bool whole)
{
    struct fleet *f = fleet_new();
    f->time_us = now_usec();
    for (guint i = 0; i < rows_len(hosts); i++) {
        const struct host_row *r = rows_get(hosts, i);
        struct fleet_host *h = fleet_add_host(f);
        h->id = r->id;
        h->name = g_strdup(r->name);
        h->state = g_strdup(r->state);
        h->reason = g_strdup(r->reason);
        h->cpus = r->cpus;
        h->memory_bytes = r->memory_bytes;
        h->maintenance = r->maintenance;
    }
    for (guint i = 0; i < rows_len(vms); i++) {
        const struct vm_row *r = rows_get(vms, i);
        if (r->removed)
            continue;
        struct fleet_vm *v = fleet_add_vm(f);
        v->uuid = g_strdup(r->uuid);
        v->name = g_strdup(r->name);
        v->host = g_strdup(r->host);
        v->state = g_strdup(r->state);
        v->kind = g_strdup(r->kind);
        v->host_id = r->host_id;
        v->vcpus = r->vcpus;
        v->memory_bytes = r->memory_bytes;
    }

    g_mutex_lock(&e->lock);
    /* The engine's state of a host is newer than the store's row (which
     * it writes after the fact); a host no longer configured keeps its
     * row's. */
    for (guint i = 0; i < f->hosts->len; i++) {
        struct fleet_host *h = &g_array_index(f->hosts, struct fleet_host, i);
        const struct ehost *eh = engine_host_find(e, h->id);
        if (!eh)
            continue;
        g_free(h->state);
        h->state = g_strdup(host_state_name(eh->state));
        g_free(h->reason);
        h->reason = eh->state == HOST_CONNECTED ? NULL : g_strdup(eh->reason);
    }
    for (guint i = 0; i < f->vms->len; i++)
        vm_latest(e, &g_array_index(f->vms, struct fleet_vm, i));
    g_mutex_unlock(&e->lock);

    /* The record's lock is taken apart from the view's: the ops thread
     * takes them in its own order. */
    incidents(e, f, whole);
    fleet_sum(f, pools);
    return f;
}
