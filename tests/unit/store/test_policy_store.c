/*
 * The policies' record in the SQLite store (model/decision.h,
 * sqlite-policy.c) against a real database file: decisions written in
 * batches, moved through their states, observed, listed with every filter
 * and paged, pruned; settings made over the API; pauses; hosts'
 * maintenance mode as hosts_query shows it; the history a dry run replays,
 * joined round by round; and the schema step that adds it all to a
 * database of the previous version.
 *
 * As in test_store.c, the store decides nothing: the tests hand it
 * ready-made decisions and check that exactly those are kept and read back.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <math.h>
#include <sqlite3.h>

#include "store/db.h"
#include "store/store.h"
#include "undo-migrations.h"

#define UUID_A "6695eb01-f6a4-8304-79aa-97f2502e193f"
#define UUID_B "0a5e1a33-0000-4000-8000-000000000002"
#define UUID_C "0a5e1a33-0000-4000-8000-000000000003"
#define UUID_D "0a5e1a33-0000-4000-8000-000000000004"

#define SEC G_GINT64_CONSTANT(1000000)
/* 2026-11-26T10:20:19Z */
#define T0  (G_GINT64_CONSTANT(1795688419) * SEC)
#define GIB G_GUINT64_CONSTANT(1073741824)
#define MIB G_GUINT64_CONSTANT(1048576)

#define FIXTURE_PG_SCHEMA "test_policy_store"
#include "fixture.h"

/* ---- small helpers ---- */

static int64_t ensure_host(struct fx *f, const char *name)
{
    int64_t id = 0;
    g_autofree char *uri = g_strdup_printf("test:///%s", name);
    assert_int_equal(OPS(f)->host_ensure(f->st, name, uri, &id, NULL), 0);
    assert_true(id > 0);
    return id;
}

/* Writes a domain NAME with UUID on HOST, seen at NOW. */
static void put_dom(struct fx *f, int64_t host, const char *uuid, const char *name, int64_t now)
{
    g_autoptr(domain_info) d = domain_info_new();
    d->uuid = g_strdup(uuid);
    d->name = g_strdup(name);
    d->state = g_strdup("running");
    d->running = true;
    int64_t id = 0;
    g_autoptr(GError) err = NULL;
    if (OPS(f)->domain_put(f->st, host, d, NULL, now, &id, &err) < 0)
        fail_msg("domain_put: %s", err->message);
}

static struct rows *decisions_of(struct fx *f, const struct store_decision_query *q)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(OPS(f)->decisions_query(f->st, q, &err), &err, "decisions_query");
}

static struct rows *decision_of(struct fx *f, int64_t id)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(OPS(f)->decision_get(f->st, id, &err), &err, "decision_get");
}

static struct rows *settings_of(struct fx *f)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(OPS(f)->policy_settings_query(f->st, &err), &err, "policy_settings_query");
}

static struct rows *pauses_of(struct fx *f)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(OPS(f)->policy_pauses_query(f->st, &err), &err, "policy_pauses_query");
}

static struct rows *replay_of(struct fx *f, int64_t host, int64_t from, int64_t to, unsigned limit)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(OPS(f)->policy_replay_query(f->st, host, from, to, limit, &err), &err,
                   "policy_replay_query");
}

/* The ids of R's decisions, in order, as "1,2,3". */
static char *ids_of(const struct rows *r)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < rows_len(r); i++) {
        const struct decision_row *d = rows_get(r, i);
        g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i ? "," : "", d->id);
    }
    return g_string_free(s, FALSE);
}




/* A decision of POLICY on VM (NULL: host-wide) of HOST, doing ACTION. */
static struct decision_write decision(int64_t t, const char *policy, const char *vm_uuid,
                                      const char *vm_name, int64_t host, const char *action,
                                      const char *state)
{
    return (struct decision_write){
        .t_us = t,
        .policy = policy,
        .mode = "enforce",
        .vm_uuid = vm_uuid,
        .vm_name = vm_name,
        .host_id = host,
        .rule = "test-rule",
        .action = action,
        .inputs = "{\"mem_used\":{\"v\":1073741824,\"provenance\":\"guest\",\"age_s\":2}}",
        .reason = "a reason with numbers: 1 GiB",
        .state = state,
    };
}

static int64_t insert_one(struct fx *f, const struct decision_write *w)
{
    int64_t id = 0;
    g_autoptr(GError) err = NULL;
    if (OPS(f)->decision_insert(f->st, w, &id, &err) < 0)
        fail_msg("decision_insert: %s", err->message);
    assert_true(id > 0);
    return id;
}

/* ---- the schema step ---- */

static void test_migration_12_upgrade(void **state)
{
    /* A database of schema 11 (a host, a VM, samples) has no policies'
     * record and no maintenance on hosts.  After the upgrade its host
     * reads back out of maintenance, and every new table works. */
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    put_dom(f, h, UUID_A, "web", T0);
    store_close(f->st);
    f->st = NULL;
    exec_raw(f->path, UNDO_MIGRATION_12 "PRAGMA user_version = 11;");
    assert_int_equal(user_version(f->path), 11);
    reopen(f);
    assert_true(user_version(f->path) >= 12);

    g_autoptr(rows) hr = hosts_of(f, "a");
    assert_int_equal(rows_len(hr), 1);
    const struct host_row *row = rows_get(hr, 0);
    assert_int_equal(row->id, h);
    assert_false(row->maintenance);
    assert_int_equal(row->maintenance_since, 0);
    assert_null(row->maintenance_by);
    assert_null(row->maintenance_reason);

    struct decision_write w = decision(T0, "memory", UUID_A, "web", h, "set-memory", "pending");
    int64_t id = insert_one(f, &w);
    g_autoptr(rows) d = decision_of(f, id);
    assert_string_equal(((struct decision_row *)rows_get(d, 0))->host, "a");
    assert_int_equal(
        OPS(f)->policy_setting_put(f->st, "memory", "target_pct", "12", "alice", T0, NULL), 0);
    assert_int_equal(OPS(f)->policy_pause_put(f->st, "memory", UUID_A, T0, "worse", id, NULL), 0);
    assert_int_equal(OPS(f)->host_maintenance_set(f->st, h, true, "alice", "disk swap", T0, NULL),
                     0);
    g_autoptr(rows) s = settings_of(f);
    g_autoptr(rows) p = pauses_of(f);
    assert_int_equal(rows_len(s), 1);
    assert_int_equal(rows_len(p), 1);
    assert_string_equal(((struct policy_pause_row *)rows_get(p, 0))->vm, "web");

    /* Opened again, nothing runs twice. */
    int v = user_version(f->path);
    reopen(f);
    assert_int_equal(user_version(f->path), v);
}

/* ---- decisions ---- */

static void test_decisions_insert_and_filters(void **state)
{
    struct fx *f = *state;
    int64_t a = ensure_host(f, "a");
    int64_t b = ensure_host(f, "b");

    /* One round's decisions, written together. */
    struct decision_write w[] = {
        decision(T0, "memory", UUID_A, "web", a, "set-memory", "pending"),
        decision(T0, "memory", UUID_B, "db", a, "none", "recorded"),
        decision(T0 + SEC, "balance", UUID_A, "web", a, "migrate", "pending"),
        decision(T0 + 2 * SEC, "maintenance", UUID_C, "batch", a, "migrate", "recorded"),
        decision(T0 + 3 * SEC, "balance", NULL, NULL, 0, "none", "recorded"),
    };
    w[0].params = "{\"memory\":1073741824,\"previous\":2147483648}";
    w[0].expected = "{\"host_free_after\":4294967296}";
    w[2].to_host_id = b;
    w[2].params = "{\"live\":true}";
    w[3].to_host_id = b;
    w[3].evacuation = true;
    w[3].mode = "recommend";
    int64_t ids[G_N_ELEMENTS(w)] = {0};
    g_autoptr(GError) err = NULL;
    if (OPS(f)->decisions_insert(f->st, w, G_N_ELEMENTS(w), ids, &err) < 0)
        fail_msg("decisions_insert: %s", err->message);
    for (size_t i = 1; i < G_N_ELEMENTS(ids); i++)
        assert_true(ids[i] == ids[i - 1] + 1);
    /* An empty batch writes nothing and is no error. */
    assert_int_equal(OPS(f)->decisions_insert(f->st, w, 0, NULL, NULL), 0);

    /* Default: newest first, "none" left out. */
    struct store_decision_query q = {0};
    g_autoptr(rows) all = decisions_of(f, &q);
    g_autofree char *all_ids = ids_of(all);
    g_autofree char *want = g_strdup_printf(
        "%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT, ids[3], ids[2], ids[0]);
    assert_string_equal(all_ids, want);

    /* Every field of the migration, names joined. */
    const struct decision_row *m = rows_get(all, 1);
    assert_int_equal(m->id, ids[2]);
    assert_int_equal(m->time, T0 + SEC);
    assert_string_equal(m->policy, "balance");
    assert_string_equal(m->mode, "enforce");
    assert_false(m->evacuation);
    assert_string_equal(m->vm, "web");
    assert_string_equal(m->vm_uuid, UUID_A);
    assert_string_equal(m->host, "a");
    assert_string_equal(m->to_host, "b");
    assert_int_equal(m->host_id, a);
    assert_int_equal(m->to_host_id, b);
    assert_string_equal(m->rule, "test-rule");
    assert_string_equal(m->action, "migrate");
    assert_string_equal(m->params, "{\"live\":true}");
    assert_string_equal(m->inputs, w[2].inputs);
    assert_null(m->expected);
    assert_string_equal(m->reason, w[2].reason);
    assert_string_equal(m->state, "pending");
    assert_true(m->audit_id == ROW_INT_ABSENT);
    assert_null(m->error);
    assert_null(m->observed);
    assert_null(m->verdict);
    assert_int_equal(m->observed_time, 0);
    assert_true(m->undo_of == ROW_INT_ABSENT);
    const struct decision_row *ev = rows_get(all, 0);
    assert_true(ev->evacuation);
    assert_string_equal(ev->mode, "recommend");
    assert_string_equal(ev->policy, "maintenance");

    struct {
        struct store_decision_query q;
        int64_t want[6]; /* ids, newest first, 0-terminated */
    } cases[] = {
        {{.include_none = true}, {ids[4], ids[3], ids[2], ids[1], ids[0]}},
        {{.vm_uuid = UUID_A}, {ids[2], ids[0]}},
        {{.vm_uuid = UUID_B}, {0}},
        {{.vm_uuid = UUID_B, .include_none = true}, {ids[1]}},
        {{.policy = "memory", .include_none = true}, {ids[1], ids[0]}},
        {{.policy = "balance"}, {ids[2]}},
        /* A host matches as the VM's host and as a destination. */
        {{.host_id = b}, {ids[3], ids[2]}},
        {{.host_id = a, .include_none = true}, {ids[3], ids[2], ids[1], ids[0]}},
        {{.action = "none"}, {ids[4], ids[1]}},
        {{.action = "migrate", .policy = "balance"}, {ids[2]}},
        {{.state = "pending"}, {ids[2], ids[0]}},
        {{.state = "recorded", .include_none = true}, {ids[4], ids[3], ids[1]}},
        /* [from, to) */
        {{.from_us = T0 + SEC, .include_none = true}, {ids[4], ids[3], ids[2]}},
        {{.to_us = T0 + SEC, .include_none = true}, {ids[1], ids[0]}},
        {{.from_us = T0 + SEC, .to_us = T0 + 3 * SEC}, {ids[3], ids[2]}},
        /* Pages: keyset below an id, at most limit. */
        {{.include_none = true, .limit = 2}, {ids[4], ids[3]}},
        {{.include_none = true, .limit = 2, .before_id = ids[3]}, {ids[2], ids[1]}},
        {{.include_none = true, .limit = 2, .before_id = ids[1]}, {ids[0]}},
        {{.include_none = true, .before_id = ids[0]}, {0}},
        {{.vm_uuid = UUID_D}, {0}},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(rows) r = decisions_of(f, &cases[i].q);
        g_autofree char *got = ids_of(r);
        GString *exp = g_string_new(NULL);
        for (size_t k = 0; cases[i].want[k]; k++)
            g_string_append_printf(exp, "%s%" G_GINT64_FORMAT, k ? "," : "", cases[i].want[k]);
        g_autofree char *expected = g_string_free(exp, FALSE);
        if (!g_str_equal(got, expected))
            fail_msg("case %zu: ids %s, expected %s", i, got, expected);
    }

    /* The limit is bounded: 0 and anything above the maximum mean it. */
    struct decision_write many[30];
    for (size_t i = 0; i < G_N_ELEMENTS(many); i++)
        many[i] = decision(T0 + 10 * SEC, "memory", UUID_D, "d", a, "set-memory", "done");
    assert_int_equal(OPS(f)->decisions_insert(f->st, many, G_N_ELEMENTS(many), NULL, NULL), 0);
    struct store_decision_query big = {.limit = 100000, .include_none = true};
    g_autoptr(rows) rb = decisions_of(f, &big);
    assert_int_equal(rows_len(rb), 35);
    struct store_decision_query neg = {.limit = -1, .vm_uuid = UUID_D};
    g_autoptr(rows) rn = decisions_of(f, &neg);
    assert_int_equal(rows_len(rn), 30);
}

static void test_decisions_insert_refused(void **state)
{
    struct fx *f = *state;
    int64_t a = ensure_host(f, "a");
    struct decision_write ok = decision(T0, "memory", UUID_A, "web", a, "set-memory", "pending");
    struct {
        const char *what;
        struct decision_write w;
    } bad[] = {
        {"no inputs", ok},       {"inputs not JSON", ok}, {"inputs an array", ok},
        {"params not JSON", ok}, {"no policy", ok},       {"no state", ok},
        {"no rule", ok},         {"no time", ok},         {"expected a number", ok},
    };
    bad[0].w.inputs = NULL;
    bad[1].w.inputs = "{\"a\":";
    bad[2].w.inputs = "[1,2]";
    bad[3].w.params = "{nope}";
    bad[4].w.policy = NULL;
    bad[5].w.state = "";
    bad[6].w.rule = NULL;
    bad[7].w.t_us = 0;
    bad[8].w.expected = "12";
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        /* The bad one last in a batch: nothing of the batch is written. */
        struct decision_write batch[] = {ok, ok, bad[i].w};
        int64_t ids[3] = {-1, -1, -1};
        g_autoptr(GError) err = NULL;
        int r = OPS(f)->decisions_insert(f->st, batch, 3, ids, &err);
        if (r != -EINVAL)
            fail_msg("%s: %d", bad[i].what, r);
        assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_INVALID));
        g_autoptr(GError) err1 = NULL;
        assert_int_equal(OPS(f)->decision_insert(f->st, &bad[i].w, NULL, &err1), -EINVAL);
    }
    struct store_decision_query q = {.include_none = true};
    g_autoptr(rows) none = decisions_of(f, &q);
    assert_int_equal(rows_len(none), 0);

    /* A host that does not exist fails in the database, mid-batch: the
     * transaction is rolled back whole and no id is handed out. */
    struct decision_write ghost = ok;
    ghost.to_host_id = 999;
    struct decision_write batch[] = {ok, ghost};
    int64_t ids[2] = {-1, -1};
    g_autoptr(GError) err = NULL;
    assert_int_equal(OPS(f)->decisions_insert(f->st, batch, 2, ids, &err), -EIO);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_IO));
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 0);
    g_autoptr(rows) still = decisions_of(f, &q);
    assert_int_equal(rows_len(still), 0);
    /* And the store goes on writing. */
    insert_one(f, &ok);
}

static void test_decision_update_observe_get(void **state)
{
    struct fx *f = *state;
    int64_t a = ensure_host(f, "a");
    int64_t b = ensure_host(f, "b");
    struct decision_write w = decision(T0, "memory", UUID_A, "web", a, "set-memory", "pending");
    w.params = "{\"memory\":1073741824}";
    w.expected = "{\"free_after\":1}";
    int64_t id = insert_one(f, &w);

    /* Executed: its audit entry linked. */
    assert_int_equal(OPS(f)->decision_update(f->st, id, "done", 42, NULL, NULL), 0);
    g_autoptr(rows) r1 = decision_of(f, id);
    const struct decision_row *d1 = rows_get(r1, 0);
    assert_string_equal(d1->state, "done");
    assert_int_equal(d1->audit_id, 42);
    assert_null(d1->error);

    /* Observed a round later. */
    const char *obs = "{\"mem_used\":1000,\"pressure\":true}";
    assert_int_equal(OPS(f)->decision_observe(f->st, id, obs, "worse", T0 + 10 * SEC, NULL), 0);
    g_autoptr(rows) r2 = decision_of(f, id);
    const struct decision_row *d2 = rows_get(r2, 0);
    assert_string_equal(d2->observed, obs);
    assert_string_equal(d2->verdict, "worse");
    assert_int_equal(d2->observed_time, T0 + 10 * SEC);
    assert_string_equal(d2->state, "done");

    /* Undone by a later decision naming it, which itself fails: audit id 0
     * keeps the one linked, the error is recorded. */
    struct decision_write u =
        decision(T0 + 11 * SEC, "memory", UUID_A, "web", a, "set-memory", "pending");
    u.undo_of = id;
    u.params = "{\"memory\":2147483648}";
    u.expected = "{\"pressure\":false}";
    u.to_host_id = b; /* not a migration; any host id is kept as given */
    u.audit_id = 43;
    int64_t uid = insert_one(f, &u);
    assert_int_equal(OPS(f)->decision_update(f->st, id, "undone", 0, NULL, NULL), 0);
    assert_int_equal(OPS(f)->decision_update(f->st, uid, "failed", 0, "libvirt: timed out", NULL),
                     0);
    g_autoptr(rows) r3 = decision_of(f, uid);
    assert_int_equal(rows_len(r3), 1);
    expect_filled(r3, 0, (const char *const[]){"observed", "verdict", "observed_time", NULL});
    const struct decision_row *d3 = rows_get(r3, 0);
    assert_int_equal(d3->undo_of, id);
    assert_int_equal(d3->audit_id, 43);
    assert_string_equal(d3->state, "failed");
    assert_string_equal(d3->error, "libvirt: timed out");
    g_autoptr(rows) r4 = decision_of(f, id);
    const struct decision_row *d4 = rows_get(r4, 0);
    assert_string_equal(d4->state, "undone");
    assert_int_equal(d4->audit_id, 42);
    expect_filled(r4, 0, (const char *const[]){"to_host", "to_host_id", "error", "undo_of", NULL});

    /* A new error replaces the old, none clears it. */
    assert_int_equal(OPS(f)->decision_update(f->st, uid, "failed", 0, NULL, NULL), 0);
    g_autoptr(rows) r5 = decision_of(f, uid);
    assert_null(((struct decision_row *)rows_get(r5, 0))->error);

    /* What is not there. */
    g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL;
    assert_int_equal(OPS(f)->decision_update(f->st, 9999, "done", 0, NULL, &e1), -ENOENT);
    assert_true(g_error_matches(e1, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    assert_int_equal(OPS(f)->decision_observe(f->st, 9999, obs, "ok", T0, &e2), -ENOENT);
    assert_true(g_error_matches(e2, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    assert_null(OPS(f)->decision_get(f->st, 9999, &e3));
    assert_true(g_error_matches(e3, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    assert_int_equal(OPS(f)->decision_observe(f->st, id, "[]", "ok", T0, &e4), -EINVAL);
    assert_true(g_error_matches(e4, STORE_ERROR, STORE_ERROR_INVALID));
    assert_int_equal(OPS(f)->decision_update(f->st, id, NULL, 0, NULL, &e5), -EINVAL);
    /* Kept across a restart. */
    reopen(f);
    g_autoptr(rows) r6 = decision_of(f, id);
    assert_string_equal(((struct decision_row *)rows_get(r6, 0))->verdict, "worse");
}

static void test_decisions_prune(void **state)
{
    struct fx *f = *state;
    int64_t a = ensure_host(f, "a");
    struct decision_write w[] = {
        decision(T0, "memory", UUID_A, "web", a, "set-memory", "done"),
        decision(T0, "memory", UUID_B, "db", a, "set-memory", "pending"),
        decision(T0 + 5 * SEC, "memory", UUID_C, "c", a, "none", "recorded"),
        decision(T0 + 10 * SEC, "balance", UUID_A, "web", a, "migrate", "failed"),
    };
    int64_t ids[4];
    assert_int_equal(OPS(f)->decisions_insert(f->st, w, 4, ids, NULL), 0);
    unsigned n = 99;
    assert_int_equal(OPS(f)->decisions_prune(f->st, T0 + 10 * SEC, &n, NULL), 0);
    /* The older ones go, but an action still in flight keeps its record. */
    assert_int_equal(n, 2);
    struct store_decision_query q = {.include_none = true};
    g_autoptr(rows) r = decisions_of(f, &q);
    g_autofree char *got = ids_of(r);
    g_autofree char *want =
        g_strdup_printf("%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT, ids[3], ids[1]);
    assert_string_equal(got, want);
    assert_int_equal(OPS(f)->decisions_prune(f->st, T0 + 10 * SEC, NULL, NULL), 0);
    assert_int_equal(OPS(f)->decisions_prune(f->st, T0 + 11 * SEC, &n, NULL), 0);
    assert_int_equal(n, 1);
}

/* ---- settings and pauses ---- */

static void test_policy_settings(void **state)
{
    struct fx *f = *state;
    const struct store_ops *o = OPS(f);
    assert_int_equal(o->policy_setting_put(f->st, "memory", "target_pct", "10", "alice", T0, NULL),
                     0);
    assert_int_equal(o->policy_setting_put(f->st, "balance", "mode", "recommend", "bob", T0, NULL),
                     0);
    assert_int_equal(o->policy_setting_put(f->st, "memory", "mode", "enforce", NULL, T0, NULL), 0);
    /* Set again: the newest value, time and person win. */
    assert_int_equal(
        o->policy_setting_put(f->st, "memory", "target_pct", "15", "carol", T0 + SEC, NULL), 0);

    g_autoptr(rows) r = settings_of(f);
    assert_int_equal(rows_len(r), 3);
    const struct policy_setting_row *s0 = rows_get(r, 0), *s1 = rows_get(r, 1),
                                    *s2 = rows_get(r, 2);
    /* By policy, then key. */
    assert_string_equal(s0->policy, "balance");
    assert_string_equal(s0->key, "mode");
    assert_string_equal(s0->value, "recommend");
    assert_string_equal(s0->by, "bob");
    assert_int_equal(s0->updated, T0);
    assert_string_equal(s1->key, "mode");
    assert_null(s1->by);
    assert_string_equal(s2->key, "target_pct");
    assert_string_equal(s2->value, "15");
    assert_string_equal(s2->by, "carol");
    assert_int_equal(s2->updated, T0 + SEC);
    expect_filled(r, 2, NULL);

    /* They survive a restart. */
    reopen(f);
    o = OPS(f);
    g_autoptr(rows) r2 = settings_of(f);
    assert_int_equal(rows_len(r2), 3);

    /* Deleted: kanri.conf's value applies again (the engine's business);
     * deleting what is not there says so. */
    assert_int_equal(o->policy_setting_put(f->st, "memory", "target_pct", NULL, "alice", T0, NULL),
                     0);
    g_autoptr(GError) err = NULL;
    assert_int_equal(o->policy_setting_put(f->st, "memory", "target_pct", NULL, "alice", T0, &err),
                     -ENOENT);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    g_autoptr(rows) r3 = settings_of(f);
    assert_int_equal(rows_len(r3), 2);
    g_autoptr(GError) e2 = NULL;
    assert_int_equal(o->policy_setting_put(f->st, NULL, "mode", "off", "x", T0, &e2), -EINVAL);
    assert_true(g_error_matches(e2, STORE_ERROR, STORE_ERROR_INVALID));
}

static void test_policy_pauses(void **state)
{
    struct fx *f = *state;
    const struct store_ops *o = OPS(f);
    int64_t a = ensure_host(f, "a");
    int64_t b = ensure_host(f, "b");
    put_dom(f, a, UUID_A, "web", T0);
    /* UUID_B migrated from a to b and was renamed there: the newest name. */
    put_dom(f, a, UUID_B, "db-old", T0);
    put_dom(f, b, UUID_B, "db", T0 + SEC);

    assert_int_equal(o->policy_pause_put(f->st, "memory", UUID_A, T0, "worse", 7, NULL), 0);
    assert_int_equal(o->policy_pause_put(f->st, "balance", UUID_B, T0, "worse", 8, NULL), 0);
    assert_int_equal(o->policy_pause_put(f->st, "memory", UUID_D, T0, "by hand", 0, NULL), 0);
    /* Paused again: replaced. */
    assert_int_equal(o->policy_pause_put(f->st, "memory", UUID_A, T0 + SEC, "worse again", 9, NULL),
                     0);

    g_autoptr(rows) r = pauses_of(f);
    assert_int_equal(rows_len(r), 3);
    const struct policy_pause_row *p0 = rows_get(r, 0), *p1 = rows_get(r, 1), *p2 = rows_get(r, 2);
    assert_string_equal(p0->policy, "balance");
    assert_string_equal(p0->vm_uuid, UUID_B);
    assert_string_equal(p0->vm, "db");
    assert_int_equal(p0->decision_id, 8);
    expect_filled(r, 0, NULL);
    assert_string_equal(p1->policy, "memory");
    assert_string_equal(p1->vm_uuid, UUID_D);
    assert_null(p1->vm); /* no such domain (yet) */
    assert_true(p1->decision_id == ROW_INT_ABSENT);
    assert_string_equal(p2->vm_uuid, UUID_A);
    assert_string_equal(p2->vm, "web");
    assert_int_equal(p2->since, T0 + SEC);
    assert_string_equal(p2->reason, "worse again");
    assert_int_equal(p2->decision_id, 9);

    /* Resumed. */
    assert_int_equal(o->policy_pause_delete(f->st, "memory", UUID_A, NULL), 0);
    g_autoptr(GError) err = NULL;
    assert_int_equal(o->policy_pause_delete(f->st, "memory", UUID_A, &err), -ENOENT);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    g_autoptr(GError) e2 = NULL;
    assert_int_equal(o->policy_pause_delete(f->st, "balance", UUID_A, &e2), -ENOENT);
    reopen(f);
    g_autoptr(rows) r2 = pauses_of(f);
    assert_int_equal(rows_len(r2), 2);
}

/* ---- hosts' maintenance mode ---- */

static void test_host_maintenance(void **state)
{
    struct fx *f = *state;
    int64_t a = ensure_host(f, "a");
    ensure_host(f, "b");
    assert_int_equal(OPS(f)->host_maintenance_set(f->st, a, true, "alice", "new DIMMs", T0, NULL),
                     0);
    g_autoptr(rows) r = hosts_of(f, NULL);
    assert_int_equal(rows_len(r), 2);
    const struct host_row *h = rows_get(r, 0), *other = rows_get(r, 1);
    assert_true(h->maintenance);
    assert_int_equal(h->maintenance_since, T0);
    assert_string_equal(h->maintenance_by, "alice");
    assert_string_equal(h->maintenance_reason, "new DIMMs");
    assert_false(other->maintenance);
    assert_int_equal(other->maintenance_since, 0);
    assert_null(other->maintenance_by);

    /* Said again (another reason): in maintenance since the first time. */
    assert_int_equal(OPS(f)->host_maintenance_set(f->st, a, true, "bob", "and a BIOS update",
                                                  T0 + 60 * SEC, NULL),
                     0);
    /* A host reconnecting keeps its mode; so does a restart. */
    assert_int_equal(OPS(f)->host_ensure(f->st, "a", "test:///a", &(int64_t){0}, NULL), 0);
    assert_int_equal(OPS(f)->host_put_state(f->st, a, HOST_CONNECTED, NULL, T0, T0, NULL), 0);
    reopen(f);
    g_autoptr(rows) r2 = hosts_of(f, "a");
    const struct host_row *h2 = rows_get(r2, 0);
    assert_true(h2->maintenance);
    assert_int_equal(h2->maintenance_since, T0);
    assert_string_equal(h2->maintenance_by, "bob");
    assert_string_equal(h2->maintenance_reason, "and a BIOS update");

    /* Off: nothing of it left. */
    assert_int_equal(
        OPS(f)->host_maintenance_set(f->st, a, false, "alice", NULL, T0 + 3600 * SEC, NULL), 0);
    g_autoptr(rows) r3 = hosts_of(f, "a");
    const struct host_row *h3 = rows_get(r3, 0);
    assert_false(h3->maintenance);
    assert_int_equal(h3->maintenance_since, 0);
    assert_null(h3->maintenance_by);
    assert_null(h3->maintenance_reason);
    /* On again: a new since. */
    assert_int_equal(
        OPS(f)->host_maintenance_set(f->st, a, true, NULL, NULL, T0 + 7200 * SEC, NULL), 0);
    g_autoptr(rows) r4 = hosts_of(f, "a");
    assert_int_equal(((struct host_row *)rows_get(r4, 0))->maintenance_since, T0 + 7200 * SEC);

    g_autoptr(GError) err = NULL;
    assert_int_equal(OPS(f)->host_maintenance_set(f->st, 999, true, "x", "y", T0, &err), -ENOENT);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND));
}

/* ---- a dry run's history ---- */

/* One VM's figures in one round (see replay_round). */
struct vm_fig {
    const char *uuid;
    bool host_sample; /* the round has a host view of it */
    uint64_t mem_used, balloon;
};

/*
 * Writes one round of HOST as the engine does (engine/round.c): host and
 * node samples at the round's START, reconciled samples at REC (the time
 * the engine took the round in, after the start).  NODE_FREE
 * SAMPLE_ABSENT: no node figures this round.
 */
static void replay_round(struct fx *f, int64_t host, int64_t start, int64_t rec,
                         const struct vm_fig *vms, size_t n, uint64_t node_free)
{
    struct host_sample hs[8];
    const struct host_sample *hp[8];
    struct reconciled_sample rs[8];
    size_t nh = 0;
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        if (vms[i].host_sample) {
            host_sample_init(&hs[nh]);
            hs[nh].host_id = host;
            hs[nh].uuid = g_strdup(vms[i].uuid);
            hs[nh].time_us = start;
            hs[nh].dom_id = 1;
            hs[nh].vcpu_count = 2;
            hs[nh].balloon_current = vms[i].balloon;
            hs[nh].balloon_maximum = 4 * GIB;
            hp[nh] = &hs[nh];
            nh++;
        }
        reconciled_sample_init(&rs[i]);
        rs[i].host_id = host;
        rs[i].uuid = g_strdup(vms[i].uuid);
        rs[i].time_us = rec;
        rs[i].mem_total = 2 * GIB;
        rs[i].mem_used = vms[i].mem_used;
        rs[i].mem_swap = 0;
        rs[i].cpu_demand = 50000; /* 50 % of its vCPUs */
    }
    struct node_sample node;
    node_sample_init(&node);
    node.host_id = host;
    node.time_us = start;
    node.mem_total = 16 * GIB;
    node.mem_free = node_free;
    node.mem_buffers = 100 * MIB;
    node.mem_cached = 200 * MIB;
    struct store_round w = {
        .hosts = hp,
        .n_hosts = nh,
        .node = node_free == SAMPLE_ABSENT ? NULL : &node,
        .reconciled = rs,
        .n_reconciled = n,
    };
    g_autoptr(GError) err = NULL;
    if (OPS(f)->round_write(f->st, &w, &err) < 0)
        fail_msg("round_write: %s", err->message);
    for (size_t i = 0; i < nh; i++)
        host_sample_clear(&hs[i]);
    for (size_t i = 0; i < n; i++)
        reconciled_sample_clear(&rs[i]);
}

static void expect_replay(const struct replay_row *r, int64_t t, int64_t host, const char *uuid,
                          int64_t mem_used, int64_t balloon, int64_t node_free)
{
    assert_int_equal(r->t, t);
    assert_int_equal(r->host_id, host);
    assert_string_equal(r->vm_uuid, uuid);
    assert_int_equal(r->mem_total, (int64_t)(2 * GIB));
    assert_int_equal(r->mem_used, mem_used);
    assert_int_equal(r->mem_swap, 0);
    assert_int_equal(r->cpu_demand, 50000);
    if (balloon == ROW_INT_ABSENT) {
        assert_true(r->balloon_current == ROW_INT_ABSENT);
        assert_true(r->balloon_maximum == ROW_INT_ABSENT);
        assert_true(r->vcpu_count == ROW_INT_ABSENT);
    } else {
        assert_int_equal(r->balloon_current, balloon);
        assert_int_equal(r->balloon_maximum, (int64_t)(4 * GIB));
        assert_int_equal(r->vcpu_count, 2);
    }
    if (node_free == ROW_INT_ABSENT) {
        assert_true(r->node_mem_total == ROW_INT_ABSENT);
        assert_true(r->node_mem_free == ROW_INT_ABSENT);
    } else {
        assert_int_equal(r->node_mem_total, (int64_t)(16 * GIB));
        /* MemFree + Buffers + Cached */
        assert_int_equal(r->node_mem_free, node_free + (int64_t)(300 * MIB));
    }
}

static void test_replay_join(void **state)
{
    struct fx *f = *state;
    int64_t a = ensure_host(f, "a");
    int64_t b = ensure_host(f, "b");
    put_dom(f, a, UUID_A, "web", T0);
    put_dom(f, a, UUID_B, "db", T0);
    put_dom(f, b, UUID_C, "batch", T0);
    const int64_t I = 10 * SEC; /* the interval */
    const int64_t NA = ROW_INT_ABSENT;

    /* Host a, round 0: both VMs seen. */
    struct vm_fig r0[] = {{UUID_A, true, 100 * MIB, 1 * GIB}, {UUID_B, true, 200 * MIB, 2 * GIB}};
    replay_round(f, a, T0, T0 + 2 * SEC, r0, 2, 1 * GIB);
    /* Host b's rounds start at other times, between a's. */
    struct vm_fig rb0[] = {{UUID_C, true, 300 * MIB, 3 * GIB}};
    replay_round(f, b, T0 + 3 * SEC, T0 + 4 * SEC, rb0, 1, 5 * GIB);
    /* Host a, round 1: UUID_B has a reconciled row but no host view of
     * this round: its balloon is absent, not round 0's. */
    struct vm_fig r1[] = {{UUID_A, true, 110 * MIB, 1 * GIB + MIB}, {UUID_B, false, 210 * MIB, 0}};
    replay_round(f, a, T0 + I, T0 + I + 2 * SEC, r1, 2, 2 * GIB);
    struct vm_fig rb1[] = {{UUID_C, true, 310 * MIB, 3 * GIB + MIB}};
    replay_round(f, b, T0 + I + 3 * SEC, T0 + I + 4 * SEC, rb1, 1, 6 * GIB);
    /* Host a, round 2: no node figures: absent, not round 1's. */
    struct vm_fig r2[] = {{UUID_A, true, 120 * MIB, 1 * GIB + 2 * MIB},
                          {UUID_B, true, 220 * MIB, 2 * GIB + 2 * MIB}};
    replay_round(f, a, T0 + 2 * I, T0 + 2 * I + 2 * SEC, r2, 2, SAMPLE_ABSENT);
    /* Host b, round 2: UUID_A arrived (migrated from a); its row on b
     * takes b's host view of it, and the name it has on b (none yet). */
    struct vm_fig rb2[] = {{UUID_A, true, 130 * MIB, 1 * GIB + 3 * MIB},
                           {UUID_C, true, 320 * MIB, 3 * GIB + 2 * MIB}};
    replay_round(f, b, T0 + 2 * I + 3 * SEC, T0 + 2 * I + 4 * SEC, rb2, 2, 7 * GIB);
    /* Host a, round 3: only UUID_B left. */
    struct vm_fig r3[] = {{UUID_B, true, 230 * MIB, 2 * GIB + 3 * MIB}};
    replay_round(f, a, T0 + 3 * I, T0 + 3 * I + 2 * SEC, r3, 1, 3 * GIB);

    /* Everything, by time, host, uuid (UUID_B and UUID_C sort before
     * UUID_A). */
    g_autoptr(rows) all = replay_of(f, 0, T0, T0 + 4 * I, 0);
    assert_int_equal(rows_len(all), 11);
    const struct replay_row *x = NULL;
    guint i = 0;
    x = rows_get(all, i++);
    expect_replay(x, T0 + 2 * SEC, a, UUID_B, 200 * MIB, 2 * GIB, 1 * GIB);
    assert_string_equal(x->host, "a");
    assert_string_equal(x->vm, "db");
    expect_filled(all, 0, NULL);
    x = rows_get(all, i++);
    expect_replay(x, T0 + 2 * SEC, a, UUID_A, 100 * MIB, 1 * GIB, 1 * GIB);
    assert_string_equal(x->vm, "web");
    x = rows_get(all, i++);
    expect_replay(x, T0 + 4 * SEC, b, UUID_C, 300 * MIB, 3 * GIB, 5 * GIB);
    assert_string_equal(x->host, "b");
    assert_string_equal(x->vm, "batch");
    x = rows_get(all, i++);
    expect_replay(x, T0 + I + 2 * SEC, a, UUID_B, 210 * MIB, NA, 2 * GIB);
    x = rows_get(all, i++);
    expect_replay(x, T0 + I + 2 * SEC, a, UUID_A, 110 * MIB, 1 * GIB + MIB, 2 * GIB);
    x = rows_get(all, i++);
    expect_replay(x, T0 + I + 4 * SEC, b, UUID_C, 310 * MIB, 3 * GIB + MIB, 6 * GIB);
    x = rows_get(all, i++);
    expect_replay(x, T0 + 2 * I + 2 * SEC, a, UUID_B, 220 * MIB, 2 * GIB + 2 * MIB, NA);
    x = rows_get(all, i++);
    expect_replay(x, T0 + 2 * I + 2 * SEC, a, UUID_A, 120 * MIB, 1 * GIB + 2 * MIB, NA);
    x = rows_get(all, i++);
    expect_replay(x, T0 + 2 * I + 4 * SEC, b, UUID_C, 320 * MIB, 3 * GIB + 2 * MIB, 7 * GIB);
    x = rows_get(all, i++);
    expect_replay(x, T0 + 2 * I + 4 * SEC, b, UUID_A, 130 * MIB, 1 * GIB + 3 * MIB, 7 * GIB);
    assert_string_equal(x->host, "b");
    assert_null(x->vm); /* not (yet) known on b */
    x = rows_get(all, i++);
    expect_replay(x, T0 + 3 * I + 2 * SEC, a, UUID_B, 230 * MIB, 2 * GIB + 3 * MIB, 3 * GIB);

    /* One host; [from, to) on the reconciled time. */
    g_autoptr(rows) ona = replay_of(f, a, T0 + 2 * SEC, T0 + 2 * I + 2 * SEC, 0);
    assert_int_equal(rows_len(ona), 4);
    for (guint k = 0; k < rows_len(ona); k++) {
        const struct replay_row *y = rows_get(ona, k);
        assert_int_equal(y->host_id, a);
        assert_true(y->t >= T0 + 2 * SEC && y->t < T0 + 2 * I + 2 * SEC);
    }
    g_autoptr(rows) none = replay_of(f, a, T0 + 3 * SEC, T0 + I, 0);
    assert_int_equal(rows_len(none), 0);
    g_autoptr(rows) open_end = replay_of(f, a, T0 + 3 * I, 0, 0);
    assert_int_equal(rows_len(open_end), 1);

    /* Bounded: more rows than the limit is an error, not a cut list. */
    g_autoptr(rows) exact = replay_of(f, 0, T0, T0 + 4 * I, 11);
    assert_int_equal(rows_len(exact), 11);
    g_autoptr(GError) err = NULL;
    assert_null(OPS(f)->policy_replay_query(f->st, 0, T0, T0 + 4 * I, 10, &err));
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_INVALID));
}

static void test_replay_after_migration(void **state)
{
    /* UUID_D moves from a to b.  b's round starts, a's round starts (and
     * still sees the VM, on its way out), a takes its round in, then b
     * does.  For b's row the newest host view of the VM is a's: the
     * balloon is left absent rather than taken from the wrong host; b's
     * node figures of the round are there. */
    struct fx *f = *state;
    int64_t a = ensure_host(f, "a");
    int64_t b = ensure_host(f, "b");
    const int64_t NA = ROW_INT_ABSENT;
    struct vm_fig d0[] = {{UUID_D, true, 100 * MIB, 1 * GIB}};
    replay_round(f, a, T0, T0 + 2 * SEC, d0, 1, 1 * GIB);
    struct vm_fig da[] = {{UUID_D, true, 110 * MIB, 1 * GIB + MIB}};
    struct vm_fig db[] = {{UUID_D, true, 120 * MIB, 1 * GIB + 2 * MIB}};
    /* b starts at T0 + 9 s, a at T0 + 10 s; a is in at 12 s, b at 14 s. */
    replay_round(f, a, T0 + 10 * SEC, T0 + 12 * SEC, da, 1, 2 * GIB);
    replay_round(f, b, T0 + 9 * SEC, T0 + 14 * SEC, db, 1, 5 * GIB);
    /* The next round on b is whole again. */
    struct vm_fig db2[] = {{UUID_D, true, 130 * MIB, 1 * GIB + 3 * MIB}};
    replay_round(f, b, T0 + 19 * SEC, T0 + 21 * SEC, db2, 1, 6 * GIB);

    g_autoptr(rows) r = replay_of(f, 0, T0, T0 + 30 * SEC, 0);
    assert_int_equal(rows_len(r), 4);
    expect_replay(rows_get(r, 0), T0 + 2 * SEC, a, UUID_D, 100 * MIB, 1 * GIB, 1 * GIB);
    expect_replay(rows_get(r, 1), T0 + 12 * SEC, a, UUID_D, 110 * MIB, 1 * GIB + MIB, 2 * GIB);
    expect_replay(rows_get(r, 2), T0 + 14 * SEC, b, UUID_D, 120 * MIB, NA, 5 * GIB);
    expect_replay(rows_get(r, 3), T0 + 21 * SEC, b, UUID_D, 130 * MIB, 1 * GIB + 3 * MIB, 6 * GIB);
}

/* ---- high availability ---- */

static void test_ha_upgrade_and_rows(void **state)
{
    /* A database of schema 12 gains the HA tables; host states and
     * recoveries read back with the hosts' names, and a state put twice
     * is replaced, not doubled. */
    struct fx *f = *state;
    int64_t a = ensure_host(f, "a");
    int64_t b = ensure_host(f, "b");
    put_dom(f, a, UUID_A, "web", T0);
    store_close(f->st);
    f->st = NULL;
    exec_raw(f->path, UNDO_MIGRATION_13 "PRAGMA user_version = 12;");
    reopen(f);
    assert_true(user_version(f->path) >= 13);

    struct ha_host_row h = {.host_id = a, .state = "suspect", .since = T0, .reason = "lost"};
    assert_int_equal(OPS(f)->ha_host_put(f->st, &h, NULL), 0);
    h.state = "fencing";
    h.failed = T0 + 10 * SEC;
    h.fence_attempts = 1;
    assert_int_equal(OPS(f)->ha_host_put(f->st, &h, NULL), 0);
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) hr = rows_ok(OPS(f)->ha_hosts_query(f->st, &err), &err, "ha_hosts_query");
    assert_int_equal(rows_len(hr), 1);
    const struct ha_host_row *got = rows_get(hr, 0);
    assert_string_equal(got->host, "a");
    assert_string_equal(got->state, "fencing");
    assert_int_equal(got->failed, T0 + 10 * SEC);
    assert_int_equal(got->fence_attempts, 1);
    assert_int_equal(got->next_fence, 0);

    struct ha_recovery_row r = {.uuid = UUID_A, .vm = "web", .from_host_id = a, .to_host_id = b,
                                .state = "starting", .since = T0, .failure = T0, .attempts = 0};
    assert_int_equal(OPS(f)->ha_recovery_put(f->st, &r, NULL), 0);
    r.state = "started";
    assert_int_equal(OPS(f)->ha_recovery_put(f->st, &r, NULL), 0);
    g_autoptr(rows) rr =
        rows_ok(OPS(f)->ha_recoveries_query(f->st, &err), &err, "ha_recoveries_query");
    assert_int_equal(rows_len(rr), 1);
    const struct ha_recovery_row *rg = rows_get(rr, 0);
    assert_string_equal(rg->from_host, "a");
    assert_string_equal(rg->to_host, "b");
    assert_string_equal(rg->state, "started");
    assert_int_equal(rg->failed_host_id, 0);
}

static void test_ha_vm_settings(void **state)
{
    struct fx *f = *state;
    int64_t a = ensure_host(f, "a");
    put_dom(f, a, UUID_A, "web", T0);
    struct ha_vm_row v = {.uuid = UUID_A, .ha = true, .priority = 10, .restart = "elsewhere",
                          .group = "front", .updated = T0, .by = "alice"};
    assert_int_equal(OPS(f)->ha_vm_put(f->st, &v, NULL), 0);
    v.priority = 20;
    assert_int_equal(OPS(f)->ha_vm_put(f->st, &v, NULL), 0);
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) r = rows_ok(OPS(f)->ha_vms_query(f->st, &err), &err, "ha_vms_query");
    assert_int_equal(rows_len(r), 1);
    const struct ha_vm_row *got = rows_get(r, 0);
    assert_string_equal(got->vm, "web");
    assert_true(got->ha);
    assert_int_equal(got->priority, 20);
    assert_string_equal(got->group, "front");
    assert_string_equal(got->by, "alice");
    /* Settings without a VM are refused; deleting twice says there were none. */
    struct ha_vm_row bad = {.uuid = "", .restart = "elsewhere"};
    assert_int_equal(OPS(f)->ha_vm_put(f->st, &bad, NULL), -EINVAL);
    assert_int_equal(OPS(f)->ha_vm_delete(f->st, UUID_A, NULL), 0);
    assert_int_equal(OPS(f)->ha_vm_delete(f->st, UUID_A, &err), -ENOENT);
    g_clear_error(&err);
    g_autoptr(rows) none = rows_ok(OPS(f)->ha_vms_query(f->st, &err), &err, "ha_vms_query");
    assert_int_equal(rows_len(none), 0);
}

int main(void)
{
    /* Migrations from SQLite's older schemas. */
    const struct CMUnitTest sqlite_only[] = {
        cmocka_unit_test_setup_teardown(test_migration_12_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ha_upgrade_and_rows, setup, teardown),
    };
    /* The same behaviour on both backends. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decisions_insert_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decisions_insert_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_update_observe_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decisions_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_pauses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_maintenance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_after_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ha_vm_settings, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("policy-store-sqlite", sqlite_only, NULL, NULL);
    return failed + run_on_both("policy-store", tests, G_N_ELEMENTS(tests));
}
