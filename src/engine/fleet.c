/*
 * fleet: adding up the fleet's figures per host (fleet.h).  Pure: no
 * I/O, no clock, no engine state.
 */
#include "config.h"

#include "engine/fleet.h"

#include <math.h>
#include <string.h>

static void fleet_vm_clear(gpointer p)
{
    struct fleet_vm *v = p;
    g_free(v->uuid);
    g_free(v->name);
    g_free(v->host);
    g_free(v->state);
    g_free(v->kind);
}

static void fleet_host_clear(gpointer p)
{
    struct fleet_host *h = p;
    g_free(h->name);
    g_free(h->state);
    g_free(h->reason);
}

struct fleet *fleet_new(void)
{
    struct fleet *f = g_new0(struct fleet, 1);
    f->hosts = g_array_new(FALSE, TRUE, sizeof(struct fleet_host));
    g_array_set_clear_func(f->hosts, fleet_host_clear);
    f->vms = g_array_new(FALSE, TRUE, sizeof(struct fleet_vm));
    g_array_set_clear_func(f->vms, fleet_vm_clear);
    return f;
}

void fleet_free(struct fleet *f)
{
    if (!f)
        return;
    g_array_unref(f->hosts);
    g_array_unref(f->vms);
    g_free(f);
}

struct fleet_host *fleet_add_host(struct fleet *f)
{
    g_array_set_size(f->hosts, f->hosts->len + 1);
    struct fleet_host *h = &g_array_index(f->hosts, struct fleet_host, f->hosts->len - 1);
    h->cpus = h->memory_bytes = ROW_INT_ABSENT;
    return h;
}

struct fleet_vm *fleet_add_vm(struct fleet *f)
{
    g_array_set_size(f->vms, f->vms->len + 1);
    struct fleet_vm *v = &g_array_index(f->vms, struct fleet_vm, f->vms->len - 1);
    v->vcpus = v->memory_bytes = ROW_INT_ABSENT;
    v->r_vcpus = v->cpu_demand_pct = RECONCILE_ABSENT;
    v->mem_used_bytes = v->mem_total_bytes = v->disk_used_bytes = RECONCILE_ABSENT;
    return v;
}

unsigned fleet_vm_findings_open(const struct fleet_vm *v)
{
    unsigned n = 0;
    for (int s = 0; s < FLEET_FINDING_SEV_N; s++)
        n += v->findings[s];
    return n;
}

int fleet_vm_worst(const struct fleet_vm *v)
{
    for (int s = FLEET_FINDING_SEV_N - 1; s >= 0; s--)
        if (v->findings[s])
            return s;
    return -1;
}

/* Adds X to a sum that is absent until something is added. */
static void add_int(int64_t *sum, int64_t x)
{
    if (x == ROW_INT_ABSENT)
        return;
    *sum = *sum == ROW_INT_ABSENT ? x : *sum + x;
}

static void host_reset(struct fleet_host *h)
{
    h->vms_total = h->vms_running = 0;
    h->t_us = 0;
    h->cpu_demand_cores = h->mem_used_bytes = RECONCILE_ABSENT;
    h->cpu_demand_vms = h->mem_used_vms = 0;
    h->mem_assigned_bytes = 0;
    h->pools = 0;
    h->storage_capacity_bytes = h->storage_allocation_bytes = h->storage_available_bytes =
        ROW_INT_ABSENT;
    memset(h->findings, 0, sizeof(h->findings));
}

static void add_vm(struct fleet_host *h, const struct fleet_vm *v)
{
    h->vms_total++;
    if (g_strcmp0(v->state, "running") == 0) {
        h->vms_running++;
        if (v->memory_bytes != ROW_INT_ABSENT)
            h->mem_assigned_bytes += v->memory_bytes;
    }
    if (v->t_us > h->t_us)
        h->t_us = v->t_us;
    /* Cores only from a share and the count it is a share of, both of
     * the same round. */
    if (reconcile_present(v->cpu_demand_pct) && reconcile_present(v->r_vcpus)) {
        double cores = v->cpu_demand_pct * v->r_vcpus / 100.0;
        h->cpu_demand_cores = h->cpu_demand_vms ? h->cpu_demand_cores + cores : cores;
        h->cpu_demand_vms++;
    }
    if (reconcile_present(v->mem_used_bytes)) {
        h->mem_used_bytes =
            h->mem_used_vms ? h->mem_used_bytes + v->mem_used_bytes : v->mem_used_bytes;
        h->mem_used_vms++;
    }
    for (int s = 0; s < FLEET_FINDING_SEV_N; s++)
        h->findings[s] += v->findings[s];
}

static struct fleet_host *host_of(struct fleet *f, GHashTable *by_id, int64_t id)
{
    gpointer i;
    if (!g_hash_table_lookup_extended(by_id, &id, NULL, &i))
        return NULL;
    return &g_array_index(f->hosts, struct fleet_host, GPOINTER_TO_UINT(i));
}

void fleet_sum(struct fleet *f, const struct rows *pools)
{
    g_autoptr(GHashTable) by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint i = 0; i < f->hosts->len; i++) {
        struct fleet_host *h = &g_array_index(f->hosts, struct fleet_host, i);
        host_reset(h);
        g_hash_table_insert(by_id, &h->id, GUINT_TO_POINTER(i));
    }
    for (guint i = 0; i < f->vms->len; i++) {
        const struct fleet_vm *v = &g_array_index(f->vms, struct fleet_vm, i);
        struct fleet_host *h = host_of(f, by_id, v->host_id);
        if (h)
            add_vm(h, v);
    }
    for (guint i = 0; pools && i < rows_len(pools); i++) {
        const struct pool_row *p = rows_get(pools, i);
        struct fleet_host *h = host_of(f, by_id, p->host_id);
        if (!h)
            continue;
        h->pools++;
        add_int(&h->storage_capacity_bytes, p->capacity_bytes);
        add_int(&h->storage_allocation_bytes, p->allocation_bytes);
        add_int(&h->storage_available_bytes, p->available_bytes);
    }
    memset(f->findings, 0, sizeof(f->findings));
    for (guint i = 0; i < f->hosts->len; i++) {
        const struct fleet_host *h = &g_array_index(f->hosts, struct fleet_host, i);
        for (int s = 0; s < FLEET_FINDING_SEV_N; s++)
            f->findings[s] += h->findings[s];
    }
}
