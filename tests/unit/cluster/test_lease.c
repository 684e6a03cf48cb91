/*
 * Tests of src/cluster/lease.c: each instance's fair share, what it
 * renews, takes and gives up; a dead instance's hosts taken once its
 * leases expire and not before; a joining instance given its part; and a
 * small fleet of instances planning in turn, against a store that grants
 * a taking only when the host is free (as the store's conditional write
 * does), ending with every host held exactly once and evenly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "cluster/lease.h"

#define S     1000000LL
#define LEASE (30 * S)

static const char *const hosts10[] = {"h00", "h01", "h02", "h03", "h04",
                                      "h05", "h06", "h07", "h08", "h09"};

static char *joined(GPtrArray *a)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < a->len; i++)
        g_string_append_printf(s, "%s%s", i ? "," : "", (const char *)a->pdata[i]);
    return g_string_free(s, FALSE);
}

static void plan_is(const struct lease_plan *p, const char *renew, const char *take,
                    const char *give_up)
{
    g_autofree char *r = joined(p->renew), *t = joined(p->take), *g = joined(p->give_up);
    assert_string_equal(r, renew);
    assert_string_equal(t, take);
    assert_string_equal(g, give_up);
}

static void test_alone_takes_everything(void **state)
{
    (void)state;
    struct lease_plan p;
    lease_plan("a", NULL, 0, NULL, 0, hosts10, 3, 100 * S, LEASE, &p);
    assert_int_equal(p.live, 1);
    assert_int_equal(p.share, 3);
    plan_is(&p, "", "h00,h01,h02", "");
    lease_plan_clear(&p);
    /* No hosts: nothing to do, and no division by anything. */
    lease_plan("a", NULL, 0, NULL, 0, NULL, 0, 100 * S, LEASE, &p);
    assert_int_equal(p.share, 0);
    plan_is(&p, "", "", "");
    lease_plan_clear(&p);
}

static void test_shares_add_up(void **state)
{
    (void)state;
    /* 10 hosts, 3 live instances: 4, 3, 3 in id order; a dead one (its
     * heartbeat older than the lease) counts for nothing. */
    const struct lease_instance inst[] = {
        {"c", 99 * S}, {"a", 99 * S}, {"b", 90 * S}, {"dead", 60 * S}};
    unsigned total = 0;
    const char *ids[] = {"a", "b", "c"};
    unsigned want[] = {4, 3, 3};
    for (int i = 0; i < 3; i++) {
        struct lease_plan p;
        lease_plan(ids[i], inst, 4, NULL, 0, hosts10, 10, 100 * S, LEASE, &p);
        assert_int_equal(p.live, 3);
        assert_int_equal(p.share, want[i]);
        total += p.share;
        lease_plan_clear(&p);
    }
    assert_int_equal(total, 10);
    assert_true(lease_instance_live(&inst[2], 100 * S, LEASE));
    assert_false(lease_instance_live(&inst[3], 100 * S, LEASE));
}

static void test_renew_take_and_respect(void **state)
{
    (void)state;
    const struct lease_instance inst[] = {{"a", 99 * S}, {"b", 99 * S}};
    const struct lease leases[] = {
        {"h00", "a", 120 * S, 1}, /* mine: renewed */
        {"h01", "b", 120 * S, 4}, /* b's and current: left alone */
        {"h02", "b", 90 * S, 2},  /* b's but expired: free */
        {"h03", NULL, 0, 7},      /* given up: free */
        {"zz", "a", 120 * S, 1},  /* not a host of the fleet: ignored */
    };
    struct lease_plan p;
    lease_plan("a", inst, 2, leases, 5, hosts10, 5, 100 * S, LEASE, &p);
    assert_int_equal(p.share, 3);
    plan_is(&p, "h00", "h02,h03", "");
    lease_plan_clear(&p);
}

static void test_dead_instance_taken_over_after_expiry(void **state)
{
    (void)state;
    /* b died at 100 s, its leases renewed to 130 s. */
    const struct lease_instance inst[] = {{"a", 0}, {"b", 100 * S}};
    const struct lease leases[] = {
        {"h00", "a", 0, 1}, {"h01", "b", 130 * S, 1}, {"h02", "b", 130 * S, 1}};
    struct lease_plan p;
    /* At 110 s b is still live: a keeps to its half. */
    lease_plan("a", inst, 2, leases, 3, hosts10, 3, 110 * S, LEASE, &p);
    assert_int_equal(p.live, 2);
    assert_int_equal(p.share, 2);
    plan_is(&p, "", "h00", ""); /* its own lease had expired: taken again */
    lease_plan_clear(&p);
    /* At 131 s b is no longer live and its leases have expired. */
    lease_plan("a", inst, 2, leases, 3, hosts10, 3, 131 * S, LEASE, &p);
    assert_int_equal(p.live, 1);
    assert_int_equal(p.share, 3);
    plan_is(&p, "", "h00,h01,h02", "");
    lease_plan_clear(&p);
}

static void test_joining_instance_gets_its_part(void **state)
{
    (void)state;
    /* a holds all 4; b joins: a's share becomes 2, it gives up the last
     * two by name, and b takes them. */
    const struct lease_instance inst[] = {{"a", 99 * S}, {"b", 99 * S}};
    struct lease leases[] = {{"h00", "a", 120 * S, 1},
                             {"h01", "a", 120 * S, 1},
                             {"h02", "a", 120 * S, 1},
                             {"h03", "a", 120 * S, 1}};
    struct lease_plan p;
    lease_plan("b", inst, 2, leases, 4, hosts10, 4, 100 * S, LEASE, &p);
    plan_is(&p, "", "", ""); /* nothing free yet */
    lease_plan_clear(&p);
    lease_plan("a", inst, 2, leases, 4, hosts10, 4, 100 * S, LEASE, &p);
    plan_is(&p, "h00,h01", "", "h02,h03");
    lease_plan_clear(&p);
    leases[2].holder = leases[3].holder = NULL;
    lease_plan("b", inst, 2, leases, 4, hosts10, 4, 100 * S, LEASE, &p);
    plan_is(&p, "", "h02,h03", "");
    lease_plan_clear(&p);
}

/* A store of leases for the simulation: a taking is granted only when the
 * host is free at that moment, as the store's conditional write does. */
struct sim {
    struct lease leases[64];
    size_t n;
};

static struct lease *sim_lease(struct sim *s, const char *host)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->leases[i].host, host) == 0)
            return &s->leases[i];
    }
    s->leases[s->n] = (struct lease){host, NULL, 0, 0};
    return &s->leases[s->n++];
}

static void sim_apply(struct sim *s, const char *me, const struct lease_plan *p, int64_t now)
{
    for (guint i = 0; i < p->give_up->len; i++) {
        struct lease *l = sim_lease(s, p->give_up->pdata[i]);
        if (l->holder && strcmp(l->holder, me) == 0)
            l->holder = NULL;
    }
    for (guint i = 0; i < p->renew->len; i++) {
        struct lease *l = sim_lease(s, p->renew->pdata[i]);
        if (l->holder && strcmp(l->holder, me) == 0 && l->expires_us > now)
            l->expires_us = now + LEASE;
    }
    for (guint i = 0; i < p->take->len; i++) {
        struct lease *l = sim_lease(s, p->take->pdata[i]);
        if (!l->holder || l->expires_us <= now) {
            l->holder = me;
            l->expires_us = now + LEASE;
            l->epoch++;
        }
    }
}

static void test_instances_converge(void **state)
{
    (void)state;
    const char *const ids[] = {"k1", "k2", "k3"};
    /* Not yet heard of: no heartbeat. */
    struct lease_instance inst[3] = {{ids[0], 0}, {ids[1], 0}, {ids[2], 0}};
    struct sim s = {0};
    int64_t now = 1000 * S;
    /* Three instances start together and plan every 10 s, in turn, for a
     * minute; then k2 dies and the others go on. */
    for (int tick = 0; tick < 12; tick++, now += 10 * S) {
        for (int i = 0; i < 3; i++) {
            bool dead = i == 1 && tick >= 6;
            if (dead)
                continue;
            inst[i] = (struct lease_instance){ids[i], now};
            struct lease_plan p;
            lease_plan(ids[i], inst, 3, s.leases, s.n, hosts10, 10, now, LEASE, &p);
            sim_apply(&s, ids[i], &p, now);
            lease_plan_clear(&p);
        }
        if (tick == 5 || tick == 11) {
            /* Every host held, by a live instance, evenly. */
            unsigned per[3] = {0};
            for (size_t h = 0; h < 10; h++) {
                struct lease *l = sim_lease(&s, hosts10[h]);
                assert_non_null(l->holder);
                assert_true(l->expires_us > now);
                for (int i = 0; i < 3; i++)
                    per[i] += strcmp(l->holder, ids[i]) == 0;
            }
            if (tick == 5) {
                assert_int_equal(per[0], 4);
                assert_int_equal(per[1], 3);
                assert_int_equal(per[2], 3);
            } else {
                assert_int_equal(per[1], 0);
                assert_int_equal(per[0], 5);
                assert_int_equal(per[2], 5);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alone_takes_everything),
        cmocka_unit_test(test_shares_add_up),
        cmocka_unit_test(test_renew_take_and_respect),
        cmocka_unit_test(test_dead_instance_taken_over_after_expiry),
        cmocka_unit_test(test_joining_instance_gets_its_part),
        cmocka_unit_test(test_instances_converge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
