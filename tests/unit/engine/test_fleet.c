/*
 * fleet_sum(): the per-host sums of GET /api/v1/fleet, on a hand-made
 * fleet.  What users rely on: a VM without R is never counted as 0 (the
 * sum says how many VMs it covers, and is absent when none); CPU demand
 * is converted to cores with the vCPU count of its own round; storage is
 * summed over the host's pools; findings add up per host and in total;
 * nothing of a host not listed leaks in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <math.h>

#include "engine/fleet.h"

#define GIB (1024.0 * 1024 * 1024)

static struct fleet_host *host(struct fleet *f, int64_t id, const char *name)
{
    struct fleet_host *h = fleet_add_host(f);
    h->id = id;
    h->name = g_strdup(name);
    h->state = g_strdup("connected");
    h->cpus = 16;
    return h;
}

static struct fleet_vm *vm(struct fleet *f, int64_t host_id, const char *name, const char *state)
{
    struct fleet_vm *v = fleet_add_vm(f);
    v->uuid = g_strdup(name);
    v->name = g_strdup(name);
    v->state = g_strdup(state);
    v->host_id = host_id;
    v->memory_bytes = 1 << 30;
    return v;
}

static void pool(struct rows *pools, int64_t host_id, int64_t cap, int64_t alloc, int64_t avail)
{
    struct pool_row *p = rows_add(pools);
    p->host_id = host_id;
    p->capacity_bytes = cap;
    p->allocation_bytes = alloc;
    p->available_bytes = avail;
}

static const struct fleet_host *host_at(const struct fleet *f, guint i)
{
    return &g_array_index(f->hosts, struct fleet_host, i);
}

static void test_sums(void **state)
{
    g_autoptr(fleet) f = fleet_new();
    host(f, 1, "h1");
    host(f, 2, "idle");
    host(f, 3, "down");

    struct fleet_vm *v = vm(f, 1, "a", "running");
    v->t_us = 1000;
    v->r_vcpus = 4;
    v->cpu_demand_pct = 50; /* 2 cores */
    v->findings[RECONCILE_WARNING] = 2;
    v = vm(f, 1, "b", "running");
    v->t_us = 2000;
    v->r_vcpus = 2;
    v->cpu_demand_pct = 25; /* 0.5 cores */
    v->mem_used_bytes = 1 * GIB;
    /* Running, with R, but no vCPU count for its share: not guessed. */
    v = vm(f, 1, "c", "running");
    v->t_us = 2000;
    v->cpu_demand_pct = 80;
    v->mem_used_bytes = 2 * GIB;
    /* Shut off: no R, counted in the total only; its finding stays open. */
    v = vm(f, 1, "d", "shutoff");
    v->findings[RECONCILE_CRITICAL] = 1;
    v->findings[RECONCILE_INFO] = 1;
    /* A host not listed: left out everywhere. */
    v = vm(f, 99, "elsewhere", "running");
    v->r_vcpus = 8;
    v->cpu_demand_pct = 100;
    v->findings[RECONCILE_WARNING] = 5;

    g_autoptr(rows) pools = rows_new(&pool_row_desc);
    pool(pools, 1, 100, 30, 70);
    pool(pools, 1, 50, ROW_INT_ABSENT, 20);
    pool(pools, 99, 1000, 1000, 0);

    for (int pass = 0; pass < 2; pass++) { /* sums are replaced, not added to */
        fleet_sum(f, pools);
        const struct fleet_host *h = host_at(f, 0);
        assert_int_equal(h->vms_total, 4);
        assert_int_equal(h->vms_running, 3);
        assert_int_equal(h->t_us, 2000);
        assert_int_equal(h->cpu_demand_vms, 2);
        assert_true(fabs(h->cpu_demand_cores - 2.5) < 1e-9);
        assert_int_equal(h->mem_used_vms, 2);
        assert_true(h->mem_used_bytes == 3 * GIB);
        assert_true(h->mem_assigned_bytes == 3LL << 30);
        assert_int_equal(h->pools, 2);
        assert_true(h->storage_capacity_bytes == 150);
        assert_true(h->storage_allocation_bytes == 30);
        assert_true(h->storage_available_bytes == 90);
        assert_int_equal(h->findings[RECONCILE_CRITICAL], 1);
        assert_int_equal(h->findings[RECONCILE_WARNING], 2);
        assert_int_equal(h->findings[RECONCILE_INFO], 1);

        /* No VM, no pool: nothing to sum is absent, not 0; counts are 0. */
        for (guint i = 1; i < 3; i++) {
            h = host_at(f, i);
            assert_int_equal(h->vms_total, 0);
            assert_int_equal(h->cpu_demand_vms, 0);
            assert_true(isnan(h->cpu_demand_cores));
            assert_int_equal(h->mem_used_vms, 0);
            assert_true(isnan(h->mem_used_bytes));
            assert_true(h->mem_assigned_bytes == 0);
            assert_int_equal(h->t_us, 0);
            assert_int_equal(h->pools, 0);
            assert_true(h->storage_capacity_bytes == ROW_INT_ABSENT);
        }
        assert_int_equal(f->findings[RECONCILE_CRITICAL], 1);
        assert_int_equal(f->findings[RECONCILE_WARNING], 2);
        assert_int_equal(f->findings[RECONCILE_INFO], 1);
    }
}

/* A host whose VMs all lack R says so: 0 VMs counted, sums absent. */
static void test_no_r_is_absent(void **state)
{
    g_autoptr(fleet) f = fleet_new();
    host(f, 1, "h1");
    vm(f, 1, "a", "running");
    vm(f, 1, "b", "paused");
    fleet_sum(f, NULL);
    const struct fleet_host *h = host_at(f, 0);
    assert_int_equal(h->vms_total, 2);
    assert_int_equal(h->vms_running, 1); /* "running" only, as GET /hosts counts */
    assert_int_equal(h->cpu_demand_vms, 0);
    assert_true(isnan(h->cpu_demand_cores));
    assert_true(isnan(h->mem_used_bytes));
    assert_true(h->mem_assigned_bytes == 1LL << 30);
}

static void test_vm_findings(void **state)
{
    g_autoptr(fleet) f = fleet_new();
    struct fleet_vm *v = vm(f, 1, "a", "running");
    assert_int_equal(fleet_vm_findings_open(v), 0);
    assert_int_equal(fleet_vm_worst(v), -1);
    v->findings[RECONCILE_INFO] = 3;
    assert_int_equal(fleet_vm_worst(v), RECONCILE_INFO);
    v->findings[RECONCILE_WARNING] = 1;
    assert_int_equal(fleet_vm_findings_open(v), 4);
    assert_int_equal(fleet_vm_worst(v), RECONCILE_WARNING);
    v->findings[RECONCILE_CRITICAL] = 1;
    assert_int_equal(fleet_vm_worst(v), RECONCILE_CRITICAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums),
        cmocka_unit_test(test_no_r_is_absent),
        cmocka_unit_test(test_vm_findings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
