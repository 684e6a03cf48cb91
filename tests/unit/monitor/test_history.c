/*
 * Sample history in the SQLite store: raw rows -> 5-minute -> hourly tiers
 * (incremental), rates across a restart and a gap of missed rounds,
 * retention, the availability rows, guest-view series per source, and
 * the reconciled history's H, G and R.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "store/series.h"
#include "store/store.h"

#define S  G_GINT64_CONSTANT(1000000)
#define VM "11111111-2222-3333-4444-555555555555"

static int64_t base; /* an hour boundary */

struct fixture {
    char *dir;
    struct store *st;
    int64_t host_id;
};

static int setup(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->dir = g_dir_make_tmp("kanri-history-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(f->dir, "kanri.db", NULL);
    g_autoptr(GError) err = NULL;
    f->st = store_sqlite_open(path, &err);
    assert_non_null(f->st);
    assert_int_equal(f->st->ops->host_ensure(f->st, "h1", "test:///default", &f->host_id, NULL), 0);
    base = 1700000000 * S / (3600 * S) * (3600 * S);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    g_autofree char *db = g_build_filename(f->dir, "kanri.db", NULL);
    g_autofree char *wal = g_strconcat(db, "-wal", NULL);
    g_autofree char *shm = g_strconcat(db, "-shm", NULL);
    g_unlink(db);
    g_unlink(wal);
    g_unlink(shm);
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f);
    return 0;
}

/* One VM, 10 s rounds for two hours: 50 ms of CPU per second (5 %),
 * restarted at round 100 (new dom_id, counter from zero), and no rounds
 * from 200 to 229 (kanrid down for 5 minutes). */
static void insert_rounds(struct fixture *f, int from, int to)
{
    for (int i = from; i < to; i++) {
        if (i >= 200 && i < 230)
            continue;
        struct host_sample h;
        host_sample_init(&h);
        h.host_id = f->host_id;
        h.uuid = g_strdup(VM);
        h.time_us = base + i * 10 * S;
        h.dom_id = i < 100 ? 1 : 2;
        h.state = 1;
        h.cpu_time_ns = (uint64_t)(i < 100 ? i : i - 100) * 500000000ULL + 7;
        h.vcpu_count = 1;
        h.balloon_current = 256ULL << 20;
        struct node_sample n;
        node_sample_init(&n);
        n.host_id = f->host_id;
        n.time_us = h.time_us;
        n.cpu_idle_ns = (uint64_t)i * 10000000000ULL;
        n.domains_running = 1;
        struct pool_sample p = {f->host_id, (char *)"default", h.time_us, 100, 40, 60};
        const struct host_sample *hs[] = {&h};
        const struct pool_sample *ps[] = {&p};
        struct store_round w = {.hosts = hs, .n_hosts = 1, .node = &n, .pools = ps, .n_pools = 1};
        g_autoptr(GError) err = NULL;
        assert_int_equal(f->st->ops->round_write(f->st, &w, &err), 0);
        host_sample_clear(&h);
    }
}

/* The points of one metric (struct series_point), as the API serves them. */
static GArray *series(struct fixture *f, const struct series_kind *kind, const char *entity,
                      const char *metric, int64_t from, int64_t to, int64_t step, const char *tier)
{
    int mi = series_metric_find(kind, metric);
    assert_true(mi >= 0);
    struct store_series_query q = {kind, entity, &mi, 1, from, to, step, tier};
    g_autoptr(GError) err = NULL;
    g_autoptr(store_series_result) r = f->st->ops->series_query(f->st, &q, &err);
    assert_non_null(r);
    assert_int_equal(r->lines->len, 1);
    return g_array_ref(g_array_index(r->lines, struct store_series_line, 0).points);
}

static double pv(GArray *pts, size_t i)
{
    return g_array_index(pts, struct series_point, i).v;
}

static size_t npts(GArray *pts)
{
    return pts->len;
}

static void test_rates_tiers_retention(void **state)
{
    struct fixture *f = *state;
    insert_rounds(f, 0, 720);

    /* Raw: one rate per round except the first, the restart and nothing
     * invented inside the gap; the rate across the gap is the average. */
    GArray *raw = series(f, &series_vm_host, VM, "cpu_time_ns", base, base + 7200 * S, 0, NULL);
    size_t n = npts(raw);
    assert_int_equal(n, 720 - 30 - 2);
    for (size_t i = 0; i < n; i++)
        assert_true(pv(raw, i) > 4.99e7 && pv(raw, i) < 5.01e7);
    g_array_unref(raw);

    struct store_retention keep = {0, 0, 0};
    struct store_maint_stats ms;
    g_autoptr(GError) err = NULL;
    int64_t now = base + 7200 * S + 60 * S;
    assert_int_equal(f->st->ops->samples_maintain(f->st, &keep, now, 20 * S, &ms, &err), 0);
    /* 24 five-minute buckets for each of the VM, the host and the pool. */
    assert_int_equal(ms.buckets_5m, 3 * 24);
    assert_int_equal(ms.buckets_1h, 3 * 2);

    GArray *m5 = series(f, &series_vm_host, VM, "cpu_time_ns", base, base + 7200 * S, 0, "5m");
    assert_int_equal(npts(m5), 24);
    for (size_t i = 0; i < 24; i++)
        assert_true(pv(m5, i) > 4.99e7 && pv(m5, i) < 5.01e7);
    g_array_unref(m5);
    GArray *h1 =
        series(f, &series_vm_host, VM, "cpu_time_ns", base, base + 7200 * S, 3600 * S, NULL);
    assert_int_equal(npts(h1), 2);
    assert_true(pv(h1, 0) > 4.99e7 && pv(h1, 0) < 5.01e7);
    g_array_unref(h1);
    GArray *mem = series(f, &series_vm_host, VM, "balloon_current", base, base + 7200 * S, 0, "1h");
    assert_int_equal(npts(mem), 2);
    assert_true(pv(mem, 1) == (double)(256 << 20));
    g_array_unref(mem);
    GArray *pool =
        series(f, &series_pool, "1/default", "available", base, base + 7200 * S, 0, "5m");
    assert_int_equal(npts(pool), 24);
    g_array_unref(pool);

    /* Incremental: a second pass with nothing new does nothing; new rows
     * give only their own buckets. */
    assert_int_equal(f->st->ops->samples_maintain(f->st, &keep, now, 20 * S, &ms, &err), 0);
    assert_int_equal(ms.buckets_5m, 0);
    insert_rounds(f, 720, 750);
    assert_int_equal(
        f->st->ops->samples_maintain(f->st, &keep, base + 7500 * S + 60 * S, 20 * S, &ms, &err), 0);
    assert_int_equal(ms.buckets_5m, 3 * 1);

    /* Retention: raw rows older than 30 minutes go, tiers stay. */
    struct store_retention short_raw = {1800 * S, 0, 0};
    assert_int_equal(f->st->ops->samples_maintain(f->st, &short_raw, base + 7500 * S + 60 * S,
                                                  20 * S, &ms, &err),
                     0);
    assert_true(ms.rows_deleted > 0);
    raw = series(f, &series_vm_host, VM, "cpu_time_ns", base, base + 7600 * S, 0, "raw");
    assert_true(npts(raw) < 200);
    g_array_unref(raw);
    m5 = series(f, &series_vm_host, VM, "cpu_time_ns", base, base + 7600 * S, 0, "5m");
    assert_int_equal(npts(m5), 25);
    g_array_unref(m5);
}

static void test_view_status(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    /* The engine decides when availability changed; the store keeps the
     * row it is given, replacing the part's previous one. */
    struct store_view_status_write w[] = {
        {VM, f->host_id, "guest-memory", false, "no balloon", 10 * S, 10 * S},
        {VM, f->host_id, "guest-agent", false, "no channel", 10 * S, 10 * S},
    };
    struct store_round r1 = {.status = w, .n_status = 2};
    assert_int_equal(st->ops->round_write(st, &r1, NULL), 0);
    struct store_view_status_write up = {VM,        f->host_id, "guest-memory", true,
                                         "ignored", 20 * S,     20 * S};
    struct store_round r2 = {.status = &up, .n_status = 1};
    assert_int_equal(st->ops->round_write(st, &r2, NULL), 0);
    g_autoptr(rows) rs = st->ops->view_status_query(st, VM, NULL);
    assert_non_null(rs);
    assert_int_equal(rows_len(rs), 2);
    const struct view_status_row *agent = rows_get(rs, 0), *memory = rows_get(rs, 1);
    assert_string_equal(agent->part, "guest-agent");
    assert_false(agent->available);
    assert_string_equal(agent->reason, "no channel");
    assert_string_equal(memory->part, "guest-memory");
    assert_true(memory->available);
    assert_null(memory->reason); /* an available part has no reason */
    assert_true(memory->since == 20 * S && memory->updated == 20 * S);
    g_autoptr(rows) none = st->ops->view_status_query(st, "no-such-vm", NULL);
    assert_int_equal(rows_len(none), 0);
}

static void test_guest_series(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    /* A qga CPU counter and a balloon gauge: separate series of one VM.
     * The guest's clock runs 1 h behind kanrid's; that must not matter. */
    for (int i = 0; i < 60; i++) {
        struct guest_sample g;
        guest_sample_init(&g);
        g.machine_uuid = g_strdup(VM);
        g.source = i % 2 ? "qga" : "balloon";
        g.time_us = base + i * 10 * S - 3600 * S;
        g.received_us = base + i * 10 * S;
        if (i % 2)
            g.cpu_steal_ns = (uint64_t)i * 1000000000ULL;
        else
            g.mem_available = 100ULL << 20;
        assert_int_equal(st->ops->guest_sample_insert(st, &g, NULL, NULL), 0);
        guest_sample_clear(&g);
    }
    GArray *steal =
        series(f, &series_vm_guest, VM "/qga", "cpu_steal_ns", base - 3600 * S, base, 0, NULL);
    assert_int_equal(npts(steal), 29);
    assert_true(pv(steal, 0) > 0.99e8 && pv(steal, 0) < 1.01e8);
    g_array_unref(steal);
    GArray *none =
        series(f, &series_vm_guest, VM "/balloon", "cpu_steal_ns", base - 3600 * S, base, 0, NULL);
    assert_int_equal(npts(none), 0);
    g_array_unref(none);
    struct store_retention keep = {0, 0, 0};
    struct store_maint_stats ms;
    assert_int_equal(st->ops->samples_maintain(st, &keep, base + 3600 * S, 20 * S, &ms, NULL), 0);
    assert_int_equal(ms.buckets_5m, 4); /* 2 sources x 2 buckets of the guest's clock */
    GArray *m5 =
        series(f, &series_vm_guest, VM "/balloon", "mem_available", base - 3600 * S, base, 0, "5m");
    assert_int_equal(npts(m5), 2);
    assert_true(pv(m5, 0) == (double)(100 << 20));
    g_array_unref(m5);
}

/* Reconciled history keeps H and G beside R, in R's units, through the raw
 * rows and the tiers: 10 s rounds for 10 minutes (two 5-minute buckets).
 * R of cpu_demand is capped while the host's H is not; the guest's G of
 * cpu_demand exists only in the second bucket; mem_swap has no host side
 * ever.  An absent side must stay absent, never take R's or the other
 * side's value. */
static void test_reconciled_h_and_g(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    for (int i = 0; i < 60; i++) {
        struct reconciled_sample r;
        reconciled_sample_init(&r);
        r.host_id = f->host_id;
        r.uuid = g_strdup(VM);
        r.time_us = base + i * 10 * S;
        r.cpu_demand = 100000;   /* 100 %, capped */
        r.cpu_demand_h = 120000; /* 120 % */
        if (i >= 30)
            r.cpu_demand_g = 30500; /* 30.5 % */
        r.mem_used_h = 2ULL << 30;
        r.mem_used_g = (1ULL << 30) + (uint64_t)i * 1000;
        r.mem_used = r.mem_used_g;
        r.mem_swap_g = 4096;
        r.mem_swap = 4096;
        r.net_tx_h = 7; /* the last column of the row */
        struct store_round w = {.reconciled = &r, .n_reconciled = 1};
        g_autoptr(GError) err = NULL;
        assert_int_equal(st->ops->round_write(st, &w, &err), 0);
        reconciled_sample_clear(&r);
    }
    const struct series_kind *k = &series_vm_reconciled;
    int64_t from = base, to = base + 600 * S;

    /* Raw: as written, CPU shares served in percent. */
    GArray *dh = series(f, k, VM, "cpu_demand_h", from, to, 0, "raw");
    assert_int_equal(npts(dh), 60);
    assert_true(pv(dh, 0) == 120.0 && pv(dh, 59) == 120.0);
    g_array_unref(dh);
    GArray *dr = series(f, k, VM, "cpu_demand", from, to, 0, "raw");
    assert_int_equal(npts(dr), 60);
    assert_true(pv(dr, 0) == 100.0);
    g_array_unref(dr);
    GArray *dg = series(f, k, VM, "cpu_demand_g", from, to, 0, "raw");
    assert_int_equal(npts(dg), 30);
    assert_int_equal(g_array_index(dg, struct series_point, 0).t, base + 300 * S);
    assert_true(pv(dg, 0) == 30.5);
    g_array_unref(dg);
    GArray *ug = series(f, k, VM, "mem_used_g", from, to, 0, "raw");
    assert_int_equal(npts(ug), 60);
    assert_true(pv(ug, 7) == (double)((1ULL << 30) + 7000));
    g_array_unref(ug);
    GArray *uh = series(f, k, VM, "mem_used_h", from, to, 0, "raw");
    assert_int_equal(npts(uh), 60);
    assert_true(pv(uh, 7) == (double)(2ULL << 30));
    g_array_unref(uh);
    GArray *sh = series(f, k, VM, "mem_swap_h", from, to, 0, "raw");
    assert_int_equal(npts(sh), 0);
    g_array_unref(sh);
    GArray *tx = series(f, k, VM, "net_tx_h", from, to, 0, "raw");
    assert_int_equal(npts(tx), 60);
    assert_true(pv(tx, 0) == 7.0);
    g_array_unref(tx);
    GArray *txg = series(f, k, VM, "net_tx_g", from, to, 0, "raw");
    assert_int_equal(npts(txg), 0);
    g_array_unref(txg);

    /* Tiers: two 5-minute buckets and one hour, each side on its own. */
    struct store_retention keep = {0, 0, 0};
    struct store_maint_stats ms;
    g_autoptr(GError) err = NULL;
    assert_int_equal(st->ops->samples_maintain(st, &keep, base + 3600 * S, 20 * S, &ms, &err), 0);
    assert_int_equal(ms.buckets_5m, 2);
    assert_int_equal(ms.buckets_1h, 1);
    GArray *m5h = series(f, k, VM, "cpu_demand_h", from, to, 0, "5m");
    assert_int_equal(npts(m5h), 2);
    assert_true(pv(m5h, 0) == 120.0 && pv(m5h, 1) == 120.0);
    g_array_unref(m5h);
    GArray *m5g = series(f, k, VM, "cpu_demand_g", from, to, 0, "5m");
    assert_int_equal(npts(m5g), 1);
    assert_int_equal(g_array_index(m5g, struct series_point, 0).t, base + 300 * S);
    assert_true(pv(m5g, 0) == 30.5);
    g_array_unref(m5g);
    GArray *m5u = series(f, k, VM, "mem_used_g", from, to, 0, "5m");
    assert_int_equal(npts(m5u), 2);
    /* The average of rounds 0..29: 2^30 + 14 500. */
    assert_true(pv(m5u, 0) == (double)((1ULL << 30) + 14500));
    g_array_unref(m5u);
    GArray *m5s = series(f, k, VM, "mem_swap_h", from, to, 0, "5m");
    assert_int_equal(npts(m5s), 0);
    g_array_unref(m5s);
    GArray *m5sg = series(f, k, VM, "mem_swap_g", from, to, 0, "5m");
    assert_int_equal(npts(m5sg), 2);
    assert_true(pv(m5sg, 0) == 4096.0);
    g_array_unref(m5sg);
    GArray *h1g = series(f, k, VM, "cpu_demand_g", from, to, 0, "1h");
    assert_int_equal(npts(h1g), 1);
    assert_true(pv(h1g, 0) == 30.5);
    g_array_unref(h1g);
    GArray *h1h = series(f, k, VM, "mem_used_h", from, to, 0, "1h");
    assert_int_equal(npts(h1h), 1);
    assert_true(pv(h1h, 0) == (double)(2ULL << 30));
    g_array_unref(h1h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rates_tiers_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconciled_h_and_g, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
