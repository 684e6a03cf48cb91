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

#include <math.h>
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

/* The figure of RESOURCE in view V; NaN when it has none. */
static double view_r(const struct vm_view *v, enum reconcile_resource resource)
{
    const char *name = reconcile_resource_name(resource);
    for (unsigned i = 0; i < v->n_values; i++)
        if (g_strcmp0(v->values[i].resource, name) == 0)
            return v->values[i].r;
    return NAN;
}

/* The VMs of F on hosts another instance holds (ELSEWHERE: host id ->
 * anything): this instance does not collect them, so their R is the view
 * their holder keeps in the store (refreshed every three rounds while a
 * VM runs) and their findings are the store's open ones.  A failed read
 * leaves them without figures, which the reply shows as absent. */
static void vms_elsewhere(struct engine *e, struct fleet *f, GHashTable *elsewhere)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    GHashTableIter hi;
    gpointer key;
    g_hash_table_iter_init(&hi, elsewhere);
    while (g_hash_table_iter_next(&hi, &key, NULL)) {
        int64_t id = GPOINTER_TO_SIZE(key);
        g_array_append_val(ids, id);
    }
    g_autoptr(GPtrArray) views = g_ptr_array_new_with_free_func((GDestroyNotify)vm_view_free);
    g_autoptr(GError) err = NULL;
    if (e->store->ops->views_of_hosts(e->store, (const int64_t *)ids->data, ids->len, views, &err) <
        0)
        g_debug("fleet: the kept views of hosts held elsewhere: %s", err->message);
    g_autoptr(GHashTable) by_uuid = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < views->len; i++) {
        struct vm_view *v = views->pdata[i];
        g_hash_table_insert(by_uuid, v->uuid, v);
    }
    /* Findings per VM: uuid -> unsigned[FLEET_FINDING_SEV_N]. */
    g_autoptr(GHashTable) findings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GPtrArray) open = g_ptr_array_new_with_free_func((GDestroyNotify)rows_free);
    for (guint i = 0; i < ids->len; i++) {
        g_clear_error(&err);
        struct rows *rs =
            e->store->ops->findings_open(e->store, g_array_index(ids, int64_t, i), &err);
        if (!rs) {
            g_debug("fleet: open findings of a host held elsewhere: %s", err->message);
            continue;
        }
        g_ptr_array_add(open, rs);
        for (guint j = 0; j < rows_len(rs); j++) {
            const struct finding_row *fr = rows_get(rs, j);
            int sev = finding_severity(fr->severity);
            if (!fr->uuid || sev < 0)
                continue;
            g_autofree char *lower = g_ascii_strdown(fr->uuid, -1);
            unsigned *counts = g_hash_table_lookup(findings, lower);
            if (!counts) {
                counts = g_new0(unsigned, FLEET_FINDING_SEV_N);
                g_hash_table_insert(findings, g_steal_pointer(&lower), counts);
            }
            counts[sev]++;
        }
    }
    for (guint i = 0; i < f->vms->len; i++) {
        struct fleet_vm *v = &g_array_index(f->vms, struct fleet_vm, i);
        if (!g_hash_table_contains(elsewhere, GSIZE_TO_POINTER(v->host_id)))
            continue;
        g_autofree char *lower = g_ascii_strdown(v->uuid, -1);
        const struct vm_view *view = g_hash_table_lookup(by_uuid, lower);
        /* A view kept on another host (before a migration) is not this
         * host's. */
        if (view && view->host_id == v->host_id) {
            v->t_us = view->time_us;
            v->cpu_demand_pct = view_r(view, RC_CPU_DEMAND);
            v->mem_used_bytes = view_r(view, RC_MEM_USED);
            v->mem_total_bytes = view_r(view, RC_MEM_TOTAL);
            v->disk_used_bytes = view_r(view, RC_DISK_USED);
            /* The view does not keep its host sample's vCPU count: the
             * inventory's. */
            if (v->vcpus != ROW_INT_ABSENT)
                v->r_vcpus = (double)v->vcpus;
        }
        const unsigned *counts = g_hash_table_lookup(findings, lower);
        for (int sev = 0; counts && sev < FLEET_FINDING_SEV_N; sev++)
            v->findings[sev] = counts[sev];
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

    g_autoptr(GHashTable) elsewhere = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_mutex_lock(&e->lock);
    /* The engine's state of a host is newer than the store's row (which
     * it writes after the fact); a host no longer configured keeps its
     * row's. */
    for (guint i = 0; i < f->hosts->len; i++) {
        struct fleet_host *h = &g_array_index(f->hosts, struct fleet_host, i);
        const struct ehost *eh = engine_host_find(e, h->id);
        if (!eh)
            continue;
        if (eh->state == HOST_ELSEWHERE)
            g_hash_table_add(elsewhere, GSIZE_TO_POINTER(h->id));
        g_free(h->state);
        h->state = g_strdup(host_state_name(eh->state));
        g_free(h->reason);
        h->reason = eh->state == HOST_CONNECTED ? NULL : g_strdup(eh->reason);
    }
    for (guint i = 0; i < f->vms->len; i++) {
        struct fleet_vm *v = &g_array_index(f->vms, struct fleet_vm, i);
        if (!g_hash_table_contains(elsewhere, GSIZE_TO_POINTER(v->host_id)))
            vm_latest(e, v);
    }
    g_mutex_unlock(&e->lock);
    if (g_hash_table_size(elsewhere))
        vms_elsewhere(e, f, elsewhere);

    /* The record's lock is taken apart from the view's: the ops thread
     * takes them in its own order. */
    incidents(e, f, whole);
    fleet_sum(f, pools);
    return f;
}
