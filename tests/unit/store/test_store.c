/*
 * The SQLite store against a real database file in a temporary directory:
 * migrations, hosts, domains and their configuration history, VM
 * references, audit, tokens, agents, guest samples, a round's writes in
 * one transaction, and the typed rows every query returns (model/row.h).
 *
 * The store decides nothing (store.h): who caused a change and when a
 * finding opens or closes are decided above it, so these tests hand it
 * ready-made changes and finding writes and check that exactly those are
 * kept and read back.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <math.h>
#include <sqlite3.h>

#include "store/db.h"
#include "store/series.h"
#include "store/sqlite-private.h" /* sq_migrations(), to build an old PostgreSQL schema */
#include "store/store.h"
#include "undo-migrations.h"

#define UUID_A "6695eb01-f6a4-8304-79aa-97f2502e193f"
#define UUID_B "0a5e1a33-0000-4000-8000-000000000002"
#define UUID_C "0a5e1a33-0000-4000-8000-000000000003"
#define UUID_D "0a5e1a33-0000-4000-8000-000000000004"

#define SEC G_GINT64_CONSTANT(1000000)
/* 2026-11-26T10:20:19Z */
#define T0 (G_GINT64_CONSTANT(1795688419) * SEC)

#define FIXTURE_PG_SCHEMA "test_store"
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

static char *xml_of(const char *name, const char *uuid, unsigned mem)
{
    return g_strdup_printf("<domain type='test'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n"
                           "  <memory unit='KiB'>%u</memory>\n  <vcpu>1</vcpu>\n</domain>\n",
                           name, uuid, mem);
}

static struct disk_info *disk_new(const char *target, const char *device, const char *type,
                                  const char *source, const char *format, int64_t capacity,
                                  int64_t allocation, int64_t physical)
{
    struct disk_info *d = g_new0(struct disk_info, 1);
    d->target = g_strdup(target);
    d->device = g_strdup(device);
    d->type = g_strdup(type);
    d->source = g_strdup(source);
    d->format = g_strdup(format);
    d->capacity = capacity;
    d->allocation = allocation;
    d->physical = physical;
    return d;
}

static struct nic_info *nic_new(const char *mac, const char *type, const char *source,
                                const char *model, const char *target)
{
    struct nic_info *n = g_new0(struct nic_info, 1);
    n->mac = g_strdup(mac);
    n->type = g_strdup(type);
    n->source = g_strdup(source);
    n->model = g_strdup(model);
    n->target = g_strdup(target);
    return n;
}

/* A domain as a driver would report it: one qcow2 disk, one NIC. */
static struct domain_info *dom_new(const char *uuid, const char *name, const char *state)
{
    struct domain_info *d = domain_info_new();
    d->uuid = g_strdup(uuid);
    d->name = g_strdup(name);
    d->state = g_strdup(state);
    d->state_reason = g_strdup("booted");
    d->running = g_str_equal(state, "running");
    d->persistent = true;
    d->autostart = false;
    d->vcpus = 1;
    d->max_vcpus = 2;
    d->memory_bytes = 1048576;
    d->max_memory_bytes = 2097152;
    d->os_type = g_strdup("hvm");
    d->domain_type = g_strdup("test");
    d->has_agent = true;
    d->balloon_model = g_strdup("virtio");
    g_ptr_array_add(d->disks, disk_new("vda", "disk", "file", "/img/a.qcow2", "qcow2", 1073741824,
                                       200704, 200704));
    g_ptr_array_add(d->nics, nic_new("52:54:00:12:34:56", "network", "default", "virtio", NULL));
    return d;
}

/* Writes D (with CH, which may be NULL) and returns the domain's id. */
static int64_t put_dom(struct fx *f, int64_t host, const struct domain_info *d,
                       const struct store_change *ch, int64_t now)
{
    int64_t id = 0;
    g_autoptr(GError) err = NULL;
    if (OPS(f)->domain_put(f->st, host, d, ch, now, &id, &err) < 0)
        fail_msg("domain_put: %s", err->message);
    assert_true(id > 0);
    return id;
}

/* Writes a domain first seen now, as version 1 of XML. */
static int64_t create_dom(struct fx *f, int64_t host, const char *uuid, const char *name,
                          const char *state, const char *xml, int64_t now)
{
    g_autoptr(domain_info) d = dom_new(uuid, name, state);
    struct store_change ch = {
        .to_version = 1, .new_xml = xml, .diff = "+created\n", .cause = {.cause = "created"}};
    return put_dom(f, host, d, &ch, now);
}

static void remove_dom(struct fx *f, int64_t domain_id, int64_t version, const char *cause,
                       const char *actor, int64_t audit_id, int64_t now)
{
    struct store_change ch = {.from_version = version,
                              .to_version = version,
                              .diff = "",
                              .cause = {.cause = cause, .actor = actor, .audit_id = audit_id}};
    g_autoptr(GError) err = NULL;
    if (OPS(f)->domain_remove(f->st, domain_id, &ch, now, &err) < 0)
        fail_msg("domain_remove: %s", err->message);
}

static struct rows *vms_of(struct fx *f, const char *host, int64_t domain_id, bool with_xml)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(
        OPS(f)->vms_query(f->st, &(struct vm_filter){.host = host}, domain_id, with_xml, &err),
        &err, "vms_query");
}

static struct rows *changes_of(struct fx *f, int64_t domain_id, int limit)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(OPS(f)->changes_query(f->st, domain_id, limit, &err), &err, "changes_query");
}

static struct rows *findings_of(struct fx *f, const char *state, const char *rule, const char *uuid)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(OPS(f)->findings_query(f->st, state, rule, uuid, 100, &err), &err,
                   "findings_query");
}

static struct rows *open_of(struct fx *f, int64_t host)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(OPS(f)->findings_open(f->st, host, &err), &err, "findings_open");
}

static struct rows *audit_of(struct fx *f, const char *uuid, int limit)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(OPS(f)->audit_query(f->st, uuid, limit, &err), &err, "audit_query");
}

static struct rows *status_of(struct fx *f, const char *uuid)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(OPS(f)->view_status_query(f->st, uuid, &err), &err, "view_status_query");
}

/* Resolves REF; returns how many VMs match, the first in *ret (may be NULL). */
static guint resolve(struct fx *f, const char *ref, struct store_vm_ref *ret)
{
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_vm_ref));
    g_array_set_clear_func(refs, (GDestroyNotify)store_vm_ref_clear);
    assert_int_equal(OPS(f)->vm_resolve(f->st, ref, refs, NULL), 0);
    if (ret && refs->len) {
        *ret = g_array_index(refs, struct store_vm_ref, 0);
        memset(&g_array_index(refs, struct store_vm_ref, 0), 0, sizeof(*ret));
    }
    return refs->len;
}

static void round_ok(struct fx *f, const struct store_round *w)
{
    g_autoptr(GError) err = NULL;
    if (OPS(f)->round_write(f->st, w, &err) < 0)
        fail_msg("round_write: %s", err->message);
}

/* The engine states of HOST, uuid -> text. */
static GHashTable *states_of(struct fx *f, int64_t host)
{
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GError) err = NULL;
    if (OPS(f)->states_load(f->st, host, h, &err) < 0)
        fail_msg("states_load: %s", err->message);
    return h;
}

static void host_sample_clear_cb(void *p)
{
    host_sample_clear(p);
}

static void guest_sample_clear_cb(void *p)
{
    guest_sample_clear(p);
}

static void pool_sample_clear_cb(void *p)
{
    pool_sample_clear(p);
}

/* samples_recent into a new array of the kind's sample struct. */
static GArray *recent(struct fx *f, enum store_recent_kind kind, const char *key,
                      const char *source, int64_t host_id, unsigned n)
{
    GArray *a;
    if (kind == STORE_RECENT_HOST) {
        a = g_array_new(FALSE, FALSE, sizeof(struct host_sample));
        g_array_set_clear_func(a, host_sample_clear_cb);
    } else if (kind == STORE_RECENT_GUEST) {
        a = g_array_new(FALSE, FALSE, sizeof(struct guest_sample));
        g_array_set_clear_func(a, guest_sample_clear_cb);
    } else {
        a = g_array_new(FALSE, FALSE, sizeof(struct pool_sample));
        g_array_set_clear_func(a, pool_sample_clear_cb);
    }
    g_autoptr(GError) err = NULL;
    if (OPS(f)->samples_recent(f->st, kind, key, source, host_id, n, a, &err) < 0)
        fail_msg("samples_recent: %s", err->message);
    return a;
}

/* Raw points of one gauge of KIND for ENTITY in [FROM, TO): what reaches
 * the history API, so it shows whether a round's row was stored. */
static GArray *raw_points(struct fx *f, const struct series_kind *kind, const char *entity,
                          const char *metric, int64_t from, int64_t to)
{
    int mi = series_metric_find(kind, metric);
    assert_true(mi >= 0);
    struct store_series_query q = {.kind = kind,
                                   .entity = entity,
                                   .metrics = &mi,
                                   .n_metrics = 1,
                                   .from_us = from,
                                   .to_us = to,
                                   .step_us = 0,
                                   .tier = "raw"};
    g_autoptr(GError) err = NULL;
    g_autoptr(store_series_result) res = OPS(f)->series_query(f->st, &q, &err);
    if (!res)
        fail_msg("series_query: %s", err->message);
    assert_int_equal(res->lines->len, 1);
    return g_array_ref(g_array_index(res->lines, struct store_series_line, 0).points);
}


/* ---- JSON text in rows ---- */

static json_object *parse_json(const char *text)
{
    assert_non_null(text);
    json_object *o = json_tokener_parse(text);
    if (!o)
        fail_msg("not JSON: %s", text);
    return o;
}

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no key '%s' in %s", key, json_object_to_json_string(o));
    return v;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = member(o, key);
    if (!json_object_is_type(v, json_type_string))
        fail_msg("'%s' is not a string in %s", key, json_object_to_json_string(o));
    return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key)
{
    json_object *v = member(o, key);
    if (!json_object_is_type(v, json_type_int))
        fail_msg("'%s' is not an integer in %s", key, json_object_to_json_string(o));
    return json_object_get_int64(v);
}

static bool jnull(json_object *o, const char *key)
{
    return member(o, key) == NULL;
}

/* Asserts that O has exactly the keys in KEYS (NULL-terminated). */
static void expect_keys(json_object *o, const char *const *keys)
{
    assert_true(json_object_is_type(o, json_type_object));
    size_t n = 0;
    for (; keys[n]; n++)
        member(o, keys[n]);
    if ((size_t)json_object_object_length(o) != n)
        fail_msg("unexpected keys in %s", json_object_to_json_string(o));
}

/* ---- raw database access ---- */



/* ---- migrations ---- */

static void test_migrations_fresh_and_reopen(void **state)
{
    struct fx *f = *state;
    int v = user_version(f->path);
    /* Migration 6 (hosts.inventory_synced_at, reconcile_state) is the
     * newest this test knows; later ones may follow. */
    assert_true(v >= 6);
    int64_t id = ensure_host(f, "a");
    reopen(f);
    /* Re-opening runs nothing again and loses nothing. */
    assert_int_equal(user_version(f->path), v);
    assert_int_equal(ensure_host(f, "a"), id);
    reopen(f);
    reopen(f);
    assert_int_equal(user_version(f->path), v);
    /* The file is in WAL mode. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static void test_migration_6_keeps_engine_states(void **state)
{
    /* A database written by the previous version (schema 5) kept the
     * engine state beside the view in reconcile_current; after the upgrade
     * the state is in reconcile_state and the view still reads back. */
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    store_close(f->st);
    f->st = NULL;
    g_autofree char *sql = g_strdup_printf(
        UNDO_MIGRATION_12 "DROP TABLE reconcile_state;"
        "DROP INDEX domains_host_state;"
        "ALTER TABLE hosts DROP COLUMN inventory_synced_at;"
        "ALTER TABLE audit DROP COLUMN checked_at;"
        "ALTER TABLE audit DROP COLUMN checked_state;"
        "DROP INDEX changes_pending;"
        "ALTER TABLE changes DROP COLUMN applied_at;"
        "ALTER TABLE changes DROP COLUMN pending;"
        "ALTER TABLE changes DROP COLUMN track;"
        "DROP TABLE persistent_versions;"
        "ALTER TABLE domains DROP COLUMN persistent_version;"
        "DROP TABLE events; DROP TABLE incidents; DROP TABLE incident_items;"
        "DROP TABLE incident_log; DROP TABLE problems; DROP TABLE maintenance;"
        "DROP TABLE rules; DROP TABLE outbox;"
        "INSERT INTO reconcile_current(uuid, host_id, t, view, state) VALUES"
        " ('%s', %" G_GINT64_FORMAT ", 5, '{\"resources\":[{\"resource\":\"cpu_busy\","
        "\"unit\":\"%%\",\"h\":10.0,\"g\":null,\"r\":10.0,\"provenance\":\"host\","
        "\"g_source\":null,\"reason\":\"why\",\"h_age_s\":1.5,\"g_age_s\":null}]}',"
        " 'old-state'),"
        " ('%s', %" G_GINT64_FORMAT ", 6, '{\"resources\":[]}', NULL);"
        "PRAGMA user_version = 5;",
        UUID_A, h, UUID_B, h);
    exec_raw(f->path, sql);
    reopen(f);
    assert_true(user_version(f->path) >= 6);

    g_autoptr(GHashTable) st = states_of(f, h);
    assert_int_equal(g_hash_table_size(st), 1);
    assert_string_equal(g_hash_table_lookup(st, UUID_A), "old-state");

    g_autoptr(vm_view) v = NULL;
    assert_int_equal(OPS(f)->view_get(f->st, UUID_A, &v, NULL), 0);
    assert_int_equal(v->time_us, 5);
    assert_int_equal(v->n_values, 1);
    assert_string_equal(v->values[0].resource, "cpu_busy");
    assert_true(v->values[0].h == 10.0);
    assert_true(isnan(v->values[0].g));
    assert_int_equal(v->values[0].h_age_us, 1500000);
    assert_int_equal(v->values[0].g_age_us, -1);

    /* The new column exists and is absent until a sync. */
    g_autoptr(rows) r = hosts_of(f, "a");
    assert_int_equal(rows_len(r), 1);
    assert_int_equal(((struct host_row *)rows_get(r, 0))->inventory_synced_at, 0);
    assert_int_equal(OPS(f)->host_put_state(f->st, h, HOST_CONNECTED, NULL, T0, T0, NULL), 0);
    g_autoptr(rows) r2 = hosts_of(f, "a");
    assert_int_equal(((struct host_row *)rows_get(r2, 0))->inventory_synced_at, T0);
}

static void test_migration_11_reconciled_h_g(void **state)
{
    /* A database of schema 10 holds reconciled rows with R only.  After
     * the upgrade those rows read back with H and G absent (never R's
     * value), and new rows keep all three. */
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    store_close(f->st);
    f->st = NULL;
    static const char *const res[] = {"cpu_busy", "cpu_wait", "cpu_demand", "mem_total",
                                      "mem_used", "mem_swap", "disk_used",  "disk_free",
                                      "disk_io",  "net_rx",   "net_tx"};
    g_autoptr(GString) sql = g_string_new(UNDO_MIGRATION_12);
    for (size_t i = 0; i < G_N_ELEMENTS(res); i++)
        g_string_append_printf(sql,
                               "ALTER TABLE reconciled_samples DROP COLUMN %s_h;"
                               "ALTER TABLE reconciled_samples DROP COLUMN %s_g;",
                               res[i], res[i]);
    g_string_append_printf(sql,
                           "INSERT INTO reconciled_samples(host_id, uuid, t, cpu_busy, mem_used)"
                           " VALUES (%" G_GINT64_FORMAT ", '%s', %" G_GINT64_FORMAT
                           ", 25000, 1048576);"
                           "PRAGMA user_version = 10;",
                           h, UUID_A, T0);
    exec_raw(f->path, sql->str);
    reopen(f);
    assert_true(user_version(f->path) >= 11);

    struct reconciled_sample rs;
    reconciled_sample_init(&rs);
    rs.host_id = h;
    rs.uuid = g_strdup(UUID_A);
    rs.time_us = T0 + 10 * SEC;
    rs.cpu_busy = 30000;
    rs.cpu_busy_h = 45000;
    rs.cpu_busy_g = 30000;
    rs.mem_used_g = 2097152;
    struct store_round w = {.reconciled = &rs, .n_reconciled = 1};
    round_ok(f, &w);
    reconciled_sample_clear(&rs);

    const struct series_kind *k = &series_vm_reconciled;
    struct {
        const char *metric;
        unsigned n;
        double last;
    } want[] = {
        {"cpu_busy", 2, 30.0},    {"cpu_busy_h", 1, 45.0},    {"cpu_busy_g", 1, 30.0},
        {"mem_used", 1, 1048576}, {"mem_used_g", 1, 2097152}, {"mem_used_h", 0, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        g_autoptr(GArray) p = raw_points(f, k, UUID_A, want[i].metric, T0, T0 + 60 * SEC);
        if (p->len != want[i].n)
            fail_msg("%s: %u points, expected %u", want[i].metric, p->len, want[i].n);
        if (p->len && g_array_index(p, struct series_point, p->len - 1).v != want[i].last)
            fail_msg("%s: last point %g, expected %g", want[i].metric,
                     g_array_index(p, struct series_point, p->len - 1).v, want[i].last);
    }
}

static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    int v = user_version(f->path);
    store_close(f->st);
    f->st = NULL;
    exec_raw(f->path, "PRAGMA user_version = 9999");
    g_autoptr(GError) err = NULL;
    struct store *st = store_sqlite_open(f->path, &err);
    assert_null(st);
    assert_non_null(err);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_SCHEMA));
    g_autofree char *want = g_strdup_printf(
        "database schema version 9999 is newer than this kanrid knows (%d); refusing to touch it",
        v);
    assert_string_equal(err->message, want);
    /* And it was not touched. */
    assert_int_equal(user_version(f->path), 9999);

    /* Back to the known version, it opens again. */
    g_autofree char *sql = g_strdup_printf("PRAGMA user_version = %d", v);
    exec_raw(f->path, sql);
    reopen(f);
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    g_autoptr(GError) err = NULL;
    g_autofree char *bad = g_build_filename(f->dir, "no", "such", "dir", "k.db", NULL);
    assert_null(store_sqlite_open(bad, &err));
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_IO));
    assert_non_null(strstr(err->message, bad));
    g_clear_error(&err);

    /* Not a database at all. */
    g_autofree char *junk = g_build_filename(f->dir, "junk.db", NULL);
    g_autofree char *text = g_strnfill(4096, 'x');
    assert_true(g_file_set_contents(junk, text, -1, NULL));
    assert_null(store_sqlite_open(junk, &err));
    assert_non_null(err);
    store_close(NULL);
}

/* ---- hosts ---- */

static void test_host_ensure_keeps_ids(void **state)
{
    struct fx *f = *state;
    int64_t a = ensure_host(f, "a");
    int64_t b = ensure_host(f, "b");
    assert_true(a != b);
    assert_int_equal(ensure_host(f, "a"), a);
    assert_int_equal(OPS(f)->host_put_state(f->st, a, HOST_CONNECTED, NULL, T0, T0, NULL), 0);
    assert_int_equal(
        OPS(f)->host_put_state(f->st, a, HOST_UNREACHABLE, "no route", T0 + SEC, 0, NULL), 0);
    assert_int_equal(OPS(f)->host_put_state(f->st, b, HOST_CONNECTED, NULL, T0, 0, NULL), 0);
    reopen(f);
    /* Asked in the other order after a restart, each keeps its id. */
    assert_int_equal(ensure_host(f, "b"), b);
    int64_t id = 0;
    assert_int_equal(OPS(f)->host_ensure(f->st, "a", "qemu+ssh://a/system", &id, NULL), 0);
    assert_int_equal(id, a);

    /* The URI follows the configuration; the state starts over. */
    g_autoptr(rows) r = hosts_of(f, "a");
    assert_int_equal(rows_len(r), 1);
    struct host_row *h = rows_get(r, 0);
    assert_int_equal(h->id, a);
    assert_string_equal(h->name, "a");
    assert_string_equal(h->uri, "qemu+ssh://a/system");
    assert_string_equal(h->state, "connecting");
    assert_null(h->reason);
    assert_int_equal(h->connected_since, 0);
    /* When the inventory last synced in full is a fact about the past: a
     * restart does not forget it. */
    assert_int_equal(h->inventory_synced_at, T0);
    g_autoptr(rows) rb = hosts_of(f, "b");
    struct host_row *hb = rows_get(rb, 0);
    assert_string_equal(hb->state, "connecting");
    assert_int_equal(hb->connected_since, 0);

    /* By id, as a string, too; every host, in id order. */
    g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, b);
    g_autoptr(rows) by_id = hosts_of(f, ids);
    assert_int_equal(rows_len(by_id), 1);
    assert_string_equal(((struct host_row *)rows_get(by_id, 0))->name, "b");
    g_autoptr(rows) none = hosts_of(f, "nosuch");
    assert_int_equal(rows_len(none), 0);
    g_autoptr(rows) all = hosts_of(f, NULL);
    assert_int_equal(rows_len(all), 2);
    assert_int_equal(((struct host_row *)rows_get(all, 0))->id, a);
    assert_int_equal(((struct host_row *)rows_get(all, 1))->id, b);
}

static struct host_row *host_now(struct fx *f, struct rows **keep, const char *name)
{
    rows_free(*keep);
    *keep = hosts_of(f, name);
    assert_int_equal(rows_len(*keep), 1);
    return rows_get(*keep, 0);
}

static void test_host_info_and_state(void **state)
{
    struct fx *f = *state;
    int64_t id = ensure_host(f, "a");
    g_autoptr(rows) keep = NULL;

    /* Nothing known yet: absent, not zero. */
    struct host_row *h = host_now(f, &keep, "a");
    assert_string_equal(h->state, "connecting");
    assert_null(h->driver);
    assert_null(h->hostname);
    assert_int_equal(h->cpus, ROW_INT_ABSENT);
    assert_int_equal(h->memory_bytes, ROW_INT_ABSENT);
    assert_int_equal(h->last_seen, 0);
    assert_int_equal(h->connected_since, 0);
    assert_int_equal(h->inventory_synced_at, 0);
    assert_int_equal(h->domains_total, 0);
    assert_int_equal(h->domains_running, 0);

    struct host_info info = {.driver = (char *)"QEMU",
                             .hv_version = (char *)"7.2.0",
                             .libvirt_version = (char *)"9.0.0",
                             .hostname = (char *)"node1",
                             .cpu_model = (char *)"x86_64",
                             .cpus = 2,
                             .mhz = 2000,
                             .memory_bytes = G_GUINT64_CONSTANT(25769803776),
                             .numa_cells = 1};
    assert_int_equal(OPS(f)->host_put_info(f->st, id, &info, T0, NULL), 0);
    h = host_now(f, &keep, "a");
    assert_string_equal(h->driver, "QEMU");
    assert_string_equal(h->hv_version, "7.2.0");
    assert_string_equal(h->libvirt_version, "9.0.0");
    assert_string_equal(h->hostname, "node1");
    assert_string_equal(h->cpu_model, "x86_64");
    assert_int_equal(h->cpus, 2);
    assert_int_equal(h->mhz, 2000);
    assert_int_equal(h->memory_bytes, G_GINT64_CONSTANT(25769803776));
    assert_int_equal(h->numa_cells, 1);
    assert_int_equal(h->last_seen, T0);
    assert_string_equal(h->state, "connecting");

    /* Connected and synced: connected_since and the sync time are set. */
    assert_int_equal(
        OPS(f)->host_put_state(f->st, id, HOST_CONNECTED, NULL, T0 + 2 * SEC, T0 + 2 * SEC, NULL),
        0);
    h = host_now(f, &keep, "a");
    assert_string_equal(h->state, "connected");
    assert_null(h->reason);
    assert_int_equal(h->connected_since, T0 + 2 * SEC);
    assert_int_equal(h->last_seen, T0 + 2 * SEC);
    assert_int_equal(h->inventory_synced_at, T0 + 2 * SEC);

    /* Still connected: connected_since stays the first write's; no sync
     * given keeps the last one; a new sync replaces it. */
    assert_int_equal(
        OPS(f)->host_put_state(f->st, id, HOST_CONNECTED, NULL, T0 + 10 * SEC, 0, NULL), 0);
    h = host_now(f, &keep, "a");
    assert_int_equal(h->connected_since, T0 + 2 * SEC);
    assert_int_equal(h->last_seen, T0 + 10 * SEC);
    assert_int_equal(h->inventory_synced_at, T0 + 2 * SEC);
    assert_int_equal(
        OPS(f)->host_put_state(f->st, id, HOST_CONNECTED, NULL, T0 + 20 * SEC, T0 + 20 * SEC, NULL),
        0);
    h = host_now(f, &keep, "a");
    assert_int_equal(h->connected_since, T0 + 2 * SEC);
    assert_int_equal(h->inventory_synced_at, T0 + 20 * SEC);

    /* Unreachable: the reason is kept, connected_since cleared, last_seen
     * and the sync time stay what they were. */
    assert_int_equal(OPS(f)->host_put_state(f->st, id, HOST_UNREACHABLE, "Cannot recv data",
                                            T0 + 30 * SEC, 0, NULL),
                     0);
    h = host_now(f, &keep, "a");
    assert_string_equal(h->state, "unreachable");
    assert_string_equal(h->reason, "Cannot recv data");
    assert_int_equal(h->connected_since, 0);
    assert_int_equal(h->last_seen, T0 + 20 * SEC);
    assert_int_equal(h->inventory_synced_at, T0 + 20 * SEC);

    /* Reconnecting (not yet synced) is not connected either. */
    assert_int_equal(
        OPS(f)->host_put_state(f->st, id, HOST_CONNECTING, NULL, T0 + 35 * SEC, 0, NULL), 0);
    h = host_now(f, &keep, "a");
    assert_string_equal(h->state, "connecting");
    assert_null(h->reason);
    assert_int_equal(h->connected_since, 0);

    /* Connected again: connected_since starts over. */
    assert_int_equal(
        OPS(f)->host_put_state(f->st, id, HOST_CONNECTED, NULL, T0 + 40 * SEC, 0, NULL), 0);
    h = host_now(f, &keep, "a");
    assert_string_equal(h->state, "connected");
    assert_int_equal(h->connected_since, T0 + 40 * SEC);
    assert_int_equal(h->inventory_synced_at, T0 + 20 * SEC);

    /* Domain counts: live domains only; running by state. */
    int64_t other = ensure_host(f, "b");
    g_autofree char *x1 = xml_of("web", UUID_A, 1024);
    g_autofree char *x2 = xml_of("db", UUID_B, 1024);
    g_autofree char *x3 = xml_of("old", UUID_C, 1024);
    create_dom(f, id, UUID_A, "web", "running", x1, T0);
    create_dom(f, id, UUID_B, "db", "shutoff", x2, T0);
    int64_t old = create_dom(f, id, UUID_C, "old", "running", x3, T0);
    create_dom(f, other, UUID_C, "old", "running", x3, T0);
    h = host_now(f, &keep, "a");
    assert_int_equal(h->domains_total, 3);
    assert_int_equal(h->domains_running, 2);
    remove_dom(f, old, 1, "removed", NULL, 0, T0 + 50 * SEC);
    h = host_now(f, &keep, "a");
    assert_int_equal(h->domains_total, 2);
    assert_int_equal(h->domains_running, 1);
    h = host_now(f, &keep, "b");
    assert_int_equal(h->domains_total, 1);
    assert_int_equal(h->domains_running, 1);
}

/* ---- domains and configuration history ---- */

static void test_domain_put_row(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    g_autofree char *xml = xml_of("web", UUID_A, 1024);
    g_autoptr(domain_info) d = dom_new(UUID_A, "web", "running");
    d->autostart = true;
    /* An empty cdrom: no source, sizes unknown. */
    g_ptr_array_add(d->disks, disk_new("sda", "cdrom", "file", NULL, "raw", G_MININT64, G_MININT64,
                                       G_MININT64));
    g_ptr_array_add(d->nics, nic_new("52:54:00:ab:cd:ef", "bridge", "br0", "e1000", "vnet3"));
    struct store_change ch = {
        .to_version = 1, .new_xml = xml, .diff = "+x\n", .cause = {.cause = "created"}};
    int64_t id = put_dom(f, h, d, &ch, T0);

    g_autoptr(rows) r = vms_of(f, NULL, id, false);
    assert_int_equal(rows_len(r), 1);
    struct vm_row *vm = rows_get(r, 0);
    assert_string_equal(vm->uuid, UUID_A);
    assert_string_equal(vm->name, "web");
    assert_string_equal(vm->host, "a");
    assert_int_equal(vm->host_id, h);
    assert_string_equal(vm->state, "running");
    assert_string_equal(vm->state_reason, "booted");
    assert_true(vm->persistent);
    assert_true(vm->autostart);
    assert_int_equal(vm->vcpus, 1);
    assert_int_equal(vm->max_vcpus, 2);
    assert_int_equal(vm->memory_bytes, 1048576);
    assert_int_equal(vm->max_memory_bytes, 2097152);
    assert_string_equal(vm->os_type, "hvm");
    assert_string_equal(vm->domain_type, "test");
    assert_true(vm->has_agent);
    assert_string_equal(vm->balloon_model, "virtio");
    assert_int_equal(vm->config_version, 1);
    assert_int_equal(vm->updated_at, T0);
    assert_false(vm->removed);
    assert_null(vm->xml);
    assert_int_equal(vm->domain_id, id);

    /* Disks and NICs as docs/api.md serves them. */
    static const char *const disk_keys[] = {"target",           "device",         "type",
                                            "source",           "format",         "capacity_bytes",
                                            "allocation_bytes", "physical_bytes", NULL};
    json_object *disks = parse_json(vm->disks);
    assert_true(json_object_is_type(disks, json_type_array));
    assert_int_equal(json_object_array_length(disks), 2);
    json_object *vda = json_object_array_get_idx(disks, 0);
    expect_keys(vda, disk_keys);
    assert_string_equal(jstr(vda, "target"), "vda");
    assert_string_equal(jstr(vda, "device"), "disk");
    assert_string_equal(jstr(vda, "type"), "file");
    assert_string_equal(jstr(vda, "source"), "/img/a.qcow2");
    assert_string_equal(jstr(vda, "format"), "qcow2");
    assert_int_equal(jint(vda, "capacity_bytes"), 1073741824);
    assert_int_equal(jint(vda, "allocation_bytes"), 200704);
    assert_int_equal(jint(vda, "physical_bytes"), 200704);
    json_object *sda = json_object_array_get_idx(disks, 1);
    expect_keys(sda, disk_keys);
    assert_string_equal(jstr(sda, "target"), "sda");
    assert_string_equal(jstr(sda, "device"), "cdrom");
    assert_true(jnull(sda, "source"));
    assert_true(jnull(sda, "capacity_bytes"));
    assert_true(jnull(sda, "allocation_bytes"));
    assert_true(jnull(sda, "physical_bytes"));
    json_object_put(disks);

    static const char *const nic_keys[] = {"mac", "type", "source", "model", "target", NULL};
    json_object *nics = parse_json(vm->nics);
    assert_int_equal(json_object_array_length(nics), 2);
    json_object *n0 = json_object_array_get_idx(nics, 0);
    expect_keys(n0, nic_keys);
    assert_string_equal(jstr(n0, "mac"), "52:54:00:12:34:56");
    assert_string_equal(jstr(n0, "type"), "network");
    assert_string_equal(jstr(n0, "source"), "default");
    assert_string_equal(jstr(n0, "model"), "virtio");
    assert_true(jnull(n0, "target"));
    json_object *n1 = json_object_array_get_idx(nics, 1);
    expect_keys(n1, nic_keys);
    assert_string_equal(jstr(n1, "mac"), "52:54:00:ab:cd:ef");
    assert_string_equal(jstr(n1, "type"), "bridge");
    assert_string_equal(jstr(n1, "source"), "br0");
    assert_string_equal(jstr(n1, "model"), "e1000");
    assert_string_equal(jstr(n1, "target"), "vnet3");
    json_object_put(nics);

    /* With the XML: the current version's. */
    g_autoptr(rows) rx = vms_of(f, NULL, id, true);
    assert_int_equal(rows_len(rx), 1);
    assert_string_equal(((struct vm_row *)rows_get(rx, 0))->xml, xml);

    /* A row-only write (no change): the live fields follow, the version
     * and the history do not move. */
    g_autoptr(domain_info) d2 = dom_new(UUID_A, "web", "paused");
    g_free(d2->state_reason);
    d2->state_reason = g_strdup("user");
    d2->memory_bytes = 524288;
    d2->vcpus = 2;
    g_ptr_array_set_size(d2->disks, 0);
    g_ptr_array_set_size(d2->nics, 0);
    assert_int_equal(put_dom(f, h, d2, NULL, T0 + SEC), id);
    g_autoptr(rows) r2 = vms_of(f, NULL, id, true);
    vm = rows_get(r2, 0);
    assert_string_equal(vm->state, "paused");
    assert_string_equal(vm->state_reason, "user");
    assert_int_equal(vm->memory_bytes, 524288);
    assert_int_equal(vm->vcpus, 2);
    assert_int_equal(vm->updated_at, T0 + SEC);
    assert_string_equal(vm->disks, "[]");
    assert_string_equal(vm->nics, "[]");
    assert_int_equal(vm->config_version, 1);
    assert_string_equal(vm->xml, xml);
    g_autoptr(rows) c = changes_of(f, id, 100);
    assert_int_equal(rows_len(c), 1);

    /* Live VMs by host name. */
    g_autoptr(rows) ra = vms_of(f, "a", 0, false);
    assert_int_equal(rows_len(ra), 1);
    g_autoptr(rows) rb = vms_of(f, "b", 0, false);
    assert_int_equal(rows_len(rb), 0);
}

static void expect_change(const struct change_row *c, const char *cause, int64_t from, int64_t to,
                          const char *actor, int64_t audit_id, const char *diff, int64_t seen)
{
    assert_string_equal(c->cause, cause);
    assert_int_equal(c->from_version, from);
    assert_int_equal(c->to_version, to);
    if (actor)
        assert_string_equal(c->actor, actor);
    else
        assert_null(c->actor);
    assert_int_equal(c->audit_id, audit_id);
    assert_string_equal(c->diff, diff);
    assert_int_equal(c->seen_at, seen);
}

static void test_domain_versions_and_changes(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    int64_t other = ensure_host(f, "b");
    g_autofree char *x1 = xml_of("web", UUID_A, 1024);
    g_autofree char *x2 = xml_of("web", UUID_A, 2048);
    g_autoptr(domain_info) d = dom_new(UUID_A, "web", "running");

    struct store_change c1 = {
        .to_version = 1, .new_xml = x1, .diff = "diff 0-1\n", .cause = {.cause = "created"}};
    int64_t id = put_dom(f, h, d, &c1, T0);
    g_autoptr(GError) err = NULL;
    g_autofree char *got1 = NULL;
    assert_int_equal(OPS(f)->config_get(f->st, id, 1, &got1, &err), 0);
    assert_string_equal(got1, x1);

    struct store_change c2 = {.from_version = 1,
                              .to_version = 2,
                              .new_xml = x2,
                              .diff = "diff 1-2\n",
                              .cause = {.cause = "action", .actor = "alice", .audit_id = 17}};
    assert_int_equal(put_dom(f, h, d, &c2, T0 + SEC), id);
    /* A change without XML (here: a return with the same definition)
     * records the change at the version the domain already has. */
    struct store_change c3 = {
        .from_version = 2, .to_version = 2, .diff = "", .cause = {.cause = "external"}};
    assert_int_equal(put_dom(f, h, d, &c3, T0 + 2 * SEC), id);

    /* Every version stays readable; there is no version 3. */
    g_autofree char *got1b = NULL, *got2 = NULL, *got3 = NULL;
    assert_int_equal(OPS(f)->config_get(f->st, id, 1, &got1b, NULL), 0);
    assert_string_equal(got1b, x1);
    assert_int_equal(OPS(f)->config_get(f->st, id, 2, &got2, NULL), 0);
    assert_string_equal(got2, x2);
    assert_int_equal(OPS(f)->config_get(f->st, id, 3, &got3, &err), -ENOENT);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    assert_null(got3);
    g_clear_error(&err);

    /* The live row carries the newest version and its XML. */
    g_autoptr(rows) rv = vms_of(f, NULL, id, true);
    struct vm_row *vm = rows_get(rv, 0);
    assert_int_equal(vm->config_version, 2);
    assert_string_equal(vm->xml, x2);

    /* Changes, newest first, as they were told. */
    g_autoptr(rows) c = changes_of(f, id, 100);
    assert_int_equal(rows_len(c), 3);
    struct change_row *n0 = rows_get(c, 0), *n1 = rows_get(c, 1), *n2 = rows_get(c, 2);
    assert_true(n0->id > n1->id && n1->id > n2->id);
    expect_change(n0, "external", 2, 2, NULL, ROW_INT_ABSENT, "", T0 + 2 * SEC);
    expect_change(n1, "action", 1, 2, "alice", 17, "diff 1-2\n", T0 + SEC);
    /* from_version 0 means none: absent. */
    expect_change(n2, "created", ROW_INT_ABSENT, 1, NULL, ROW_INT_ABSENT, "diff 0-1\n", T0);
    for (guint i = 0; i < 3; i++) {
        struct change_row *x = rows_get(c, i);
        assert_string_equal(x->vm_uuid, UUID_A);
        assert_string_equal(x->vm_name, "web");
        assert_string_equal(x->host, "a");
    }

    /* A limit keeps the newest. */
    g_autoptr(rows) c1only = changes_of(f, id, 1);
    assert_int_equal(rows_len(c1only), 1);
    assert_int_equal(((struct change_row *)rows_get(c1only, 0))->id, n0->id);

    /* A second domain, on another host; domain id 0 lists every change. */
    g_autofree char *xb = xml_of("db", UUID_B, 1024);
    int64_t idb = create_dom(f, other, UUID_B, "db", "running", xb, T0 + 3 * SEC);
    g_autoptr(rows) call = changes_of(f, 0, 100);
    assert_int_equal(rows_len(call), 4);
    struct change_row *newest = rows_get(call, 0);
    assert_string_equal(newest->vm_uuid, UUID_B);
    assert_string_equal(newest->host, "b");

    /* A version that exists already is refused, and the whole write with
     * it: neither the live row nor the history moves. */
    g_autoptr(domain_info) dbad = dom_new(UUID_A, "web", "crashed");
    struct store_change bad = {.from_version = 1,
                               .to_version = 2,
                               .new_xml = x1,
                               .diff = "dup\n",
                               .cause = {.cause = "external"}};
    int64_t bad_id = 0;
    assert_true(OPS(f)->domain_put(f->st, h, dbad, &bad, T0 + 9 * SEC, &bad_id, &err) < 0);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_IO));
    g_clear_error(&err);
    g_autoptr(rows) rv2 = vms_of(f, NULL, id, true);
    vm = rows_get(rv2, 0);
    assert_string_equal(vm->state, "running");
    assert_int_equal(vm->updated_at, T0 + 2 * SEC);
    assert_string_equal(vm->xml, x2);
    g_autoptr(rows) c_after = changes_of(f, id, 100);
    assert_int_equal(rows_len(c_after), 3);

    /* domains_load: every domain of the host with its newest version. */
    g_autoptr(domain_info) dn = dom_new(UUID_C, "nover", "shutoff");
    int64_t idc = put_dom(f, h, dn, NULL, T0);
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_domain_ref));
    g_array_set_clear_func(refs, (GDestroyNotify)store_domain_ref_clear);
    assert_int_equal(OPS(f)->domains_load(f->st, h, refs, NULL), 0);
    assert_int_equal(refs->len, 2);
    for (guint i = 0; i < refs->len; i++) {
        struct store_domain_ref *ref = &g_array_index(refs, struct store_domain_ref, i);
        assert_int_equal(ref->host_id, h);
        assert_false(ref->removed);
        if (ref->domain_id == id) {
            assert_string_equal(ref->uuid, UUID_A);
            assert_string_equal(ref->name, "web");
            assert_int_equal(ref->config_version, 2);
            assert_string_equal(ref->xml, x2);
        } else {
            /* Written without a change: no version, no XML. */
            assert_int_equal(ref->domain_id, idc);
            assert_string_equal(ref->uuid, UUID_C);
            assert_string_equal(ref->name, "nover");
            assert_int_equal(ref->config_version, 0);
            assert_null(ref->xml);
        }
    }
    g_autoptr(GArray) refs_b = g_array_new(FALSE, TRUE, sizeof(struct store_domain_ref));
    g_array_set_clear_func(refs_b, (GDestroyNotify)store_domain_ref_clear);
    assert_int_equal(OPS(f)->domains_load(f->st, other, refs_b, NULL), 0);
    assert_int_equal(refs_b->len, 1);
    assert_int_equal(g_array_index(refs_b, struct store_domain_ref, 0).domain_id, idb);
    assert_string_equal(g_array_index(refs_b, struct store_domain_ref, 0).xml, xb);
}

static void test_domain_remove_and_return(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    int64_t other = ensure_host(f, "b");
    g_autofree char *xa = xml_of("web", UUID_A, 1024);
    g_autofree char *xb = xml_of("db", UUID_B, 1024);
    g_autofree char *xc = xml_of("c", UUID_C, 1024);
    create_dom(f, h, UUID_A, "web", "running", xa, T0);
    int64_t id_b = create_dom(f, h, UUID_B, "db", "running", xb, T0);
    int64_t id_c = create_dom(f, other, UUID_C, "c", "running", xc, T0);

    remove_dom(f, id_b, 1, "removed", NULL, 0, T0 + 10 * SEC);

    /* Gone from references and lists; the rest is untouched. */
    assert_int_equal(resolve(f, UUID_B, NULL), 0);
    assert_int_equal(resolve(f, "db", NULL), 0);
    assert_int_equal(resolve(f, UUID_A, NULL), 1);
    assert_int_equal(resolve(f, UUID_C, NULL), 1);
    g_autoptr(rows) live = vms_of(f, NULL, 0, false);
    assert_int_equal(rows_len(live), 2);
    assert_string_equal(((struct vm_row *)rows_get(live, 0))->uuid, UUID_A);
    assert_string_equal(((struct vm_row *)rows_get(live, 1))->uuid, UUID_C);

    /* Asked for by its id it is still there, marked removed. */
    g_autoptr(rows) rb = vms_of(f, NULL, id_b, true);
    assert_int_equal(rows_len(rb), 1);
    struct vm_row *vm = rows_get(rb, 0);
    assert_true(vm->removed);
    assert_string_equal(vm->state, "removed");
    assert_int_equal(vm->updated_at, T0 + 10 * SEC);
    assert_int_equal(vm->config_version, 1);
    assert_string_equal(vm->xml, xb);

    /* History keeps it, with the removal as it was told. */
    g_autoptr(rows) c = changes_of(f, id_b, 100);
    assert_int_equal(rows_len(c), 2);
    expect_change(rows_get(c, 0), "removed", 1, 1, NULL, ROW_INT_ABSENT, "", T0 + 10 * SEC);

    /* The engine's warm start sees it as removed. */
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_domain_ref));
    g_array_set_clear_func(refs, (GDestroyNotify)store_domain_ref_clear);
    assert_int_equal(OPS(f)->domains_load(f->st, h, refs, NULL), 0);
    assert_int_equal(refs->len, 2);
    for (guint i = 0; i < refs->len; i++) {
        struct store_domain_ref *ref = &g_array_index(refs, struct store_domain_ref, i);
        assert_int_equal(ref->removed, ref->domain_id == id_b);
    }

    /* It comes back with a new definition: live again, same row. */
    g_autofree char *xb2 = xml_of("db", UUID_B, 2048);
    g_autoptr(domain_info) back = dom_new(UUID_B, "db", "shutoff");
    struct store_change cb = {.from_version = 1,
                              .to_version = 2,
                              .new_xml = xb2,
                              .diff = "d\n",
                              .cause = {.cause = "created"}};
    assert_int_equal(put_dom(f, h, back, &cb, T0 + 20 * SEC), id_b);
    g_auto(store_vm_ref_t) ref = {0};
    assert_int_equal(resolve(f, "db", &ref), 1);
    assert_int_equal(ref.domain_id, id_b);
    g_autoptr(rows) rb2 = vms_of(f, NULL, id_b, true);
    vm = rows_get(rb2, 0);
    assert_false(vm->removed);
    assert_string_equal(vm->state, "shutoff");
    assert_int_equal(vm->config_version, 2);
    assert_string_equal(vm->xml, xb2);
    g_autoptr(rows) c2 = changes_of(f, id_b, 100);
    assert_int_equal(rows_len(c2), 3);
    expect_change(rows_get(c2, 0), "created", 1, 2, NULL, ROW_INT_ABSENT, "d\n", T0 + 20 * SEC);
    g_autoptr(rows) live2 = vms_of(f, NULL, 0, false);
    assert_int_equal(rows_len(live2), 3);

    /* Removed again, then back with the very same definition: live again
     * at the same version, and the history's last word is its return. */
    remove_dom(f, id_b, 2, "removed", NULL, 0, T0 + 30 * SEC);
    assert_int_equal(resolve(f, "db", NULL), 0);
    struct store_change same = {
        .from_version = 2, .to_version = 2, .diff = "", .cause = {.cause = "created"}};
    assert_int_equal(put_dom(f, h, back, &same, T0 + 40 * SEC), id_b);
    assert_int_equal(resolve(f, "db", NULL), 1);
    g_autoptr(rows) rb3 = vms_of(f, NULL, id_b, true);
    vm = rows_get(rb3, 0);
    assert_false(vm->removed);
    assert_int_equal(vm->config_version, 2);
    assert_string_equal(vm->xml, xb2);
    g_autoptr(rows) c3 = changes_of(f, id_b, 100);
    assert_int_equal(rows_len(c3), 5);
    expect_change(rows_get(c3, 0), "created", 2, 2, NULL, ROW_INT_ABSENT, "", T0 + 40 * SEC);
    expect_change(rows_get(c3, 1), "removed", 2, 2, NULL, ROW_INT_ABSENT, "", T0 + 30 * SEC);

    /* A row-only write also makes a removed domain live (the change, if
     * any, is the engine's to record). */
    remove_dom(f, id_b, 2, "removed", NULL, 0, T0 + 50 * SEC);
    assert_int_equal(put_dom(f, h, back, NULL, T0 + 60 * SEC), id_b);
    assert_int_equal(resolve(f, "db", NULL), 1);

    /* Undefined by an action: the removal is attributed as told. */
    remove_dom(f, id_c, 1, "action", "bob", 9, T0 + 70 * SEC);
    g_autoptr(rows) call = changes_of(f, 0, 100);
    struct change_row *newest = rows_get(call, 0);
    assert_string_equal(newest->vm_uuid, UUID_C);
    assert_string_equal(newest->host, "b");
    expect_change(newest, "action", 1, 1, "bob", 9, "", T0 + 70 * SEC);
    g_autoptr(rows) rc = vms_of(f, NULL, id_c, false);
    assert_true(((struct vm_row *)rows_get(rc, 0))->removed);

    /* Removing a domain that does not exist fails and records nothing. */
    struct store_change ghost = {.to_version = 1, .diff = "", .cause = {.cause = "removed"}};
    g_autoptr(GError) err = NULL;
    assert_int_equal(OPS(f)->domain_remove(f->st, 999999, &ghost, T0, &err), -ENOENT);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    g_autoptr(rows) call2 = changes_of(f, 0, 100);
    assert_int_equal(rows_len(call2), rows_len(call));
}

/* ---- VM references ---- */

static void test_vm_resolve(void **state)
{
    struct fx *f = *state;
    int64_t a = ensure_host(f, "a");
    int64_t b = ensure_host(f, "b");
    g_autofree char *x1 = xml_of("web", UUID_A, 1);
    g_autofree char *x2 = xml_of("web", UUID_B, 1);
    g_autofree char *x3 = xml_of("db:1", UUID_C, 1);
    int64_t id1 = create_dom(f, a, UUID_A, "web", "running", x1, T0);
    create_dom(f, b, UUID_B, "web", "running", x2, T0);
    create_dom(f, a, UUID_C, "db:1", "running", x3, T0);

    g_auto(store_vm_ref_t) v = {0};
    /* By UUID, in any case. */
    assert_int_equal(resolve(f, UUID_A, &v), 1);
    assert_int_equal(v.domain_id, id1);
    assert_string_equal(v.uuid, UUID_A);
    assert_string_equal(v.name, "web");
    assert_string_equal(v.host, "a");
    assert_int_equal(v.host_id, a);
    store_vm_ref_clear(&v);
    g_autofree char *upper = g_ascii_strup(UUID_A, -1);
    assert_int_equal(resolve(f, upper, &v), 1);
    assert_string_equal(v.uuid, UUID_A);
    store_vm_ref_clear(&v);

    /* An ambiguous name gives every match, in host order. */
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_vm_ref));
    g_array_set_clear_func(refs, (GDestroyNotify)store_vm_ref_clear);
    assert_int_equal(OPS(f)->vm_resolve(f->st, "web", refs, NULL), 0);
    assert_int_equal(refs->len, 2);
    assert_string_equal(g_array_index(refs, struct store_vm_ref, 0).host, "a");
    assert_string_equal(g_array_index(refs, struct store_vm_ref, 1).host, "b");

    /* HOST:NAME and HOST:UUID pick one. */
    assert_int_equal(resolve(f, "b:web", &v), 1);
    assert_string_equal(v.uuid, UUID_B);
    assert_int_equal(v.host_id, b);
    store_vm_ref_clear(&v);
    g_autofree char *hu = g_strdup_printf("a:%s", upper);
    assert_int_equal(resolve(f, hu, &v), 1);
    assert_string_equal(v.host, "a");
    store_vm_ref_clear(&v);
    assert_int_equal(resolve(f, "c:web", NULL), 0);
    assert_int_equal(resolve(f, "b:" UUID_A, NULL), 0);

    /* A name with a colon resolves whole, and as HOST:NAME too. */
    assert_int_equal(resolve(f, "db:1", &v), 1);
    assert_string_equal(v.uuid, UUID_C);
    store_vm_ref_clear(&v);
    assert_int_equal(resolve(f, "a:db:1", &v), 1);
    assert_string_equal(v.uuid, UUID_C);
    store_vm_ref_clear(&v);

    /* Nothing else matches: not prefixes, not other cases of a name. */
    assert_int_equal(resolve(f, "nosuch", NULL), 0);
    assert_int_equal(resolve(f, "we", NULL), 0);
    assert_int_equal(resolve(f, "WEB", NULL), 0);
    assert_int_equal(resolve(f, "6695eb01", NULL), 0);
    assert_int_equal(resolve(f, "", NULL), 0);
    assert_int_equal(resolve(f, ":", NULL), 0);
    assert_int_equal(resolve(f, "%", NULL), 0);

    /* Removed domains are not resolved, by any form. */
    remove_dom(f, id1, 1, "removed", NULL, 0, T0 + SEC);
    assert_int_equal(resolve(f, UUID_A, NULL), 0);
    assert_int_equal(resolve(f, hu, NULL), 0);
    assert_int_equal(resolve(f, "a:web", NULL), 0);
    assert_int_equal(resolve(f, "web", &v), 1);
    assert_string_equal(v.uuid, UUID_B);
    store_vm_ref_clear(&v);

    /* A whole name wins over HOST:NAME: with a live "web" on host a again
     * and a VM named "a:web" on host b, "a:web" is the latter only. */
    g_autoptr(domain_info) again = dom_new(UUID_A, "web", "running");
    put_dom(f, a, again, NULL, T0 + 2 * SEC);
    assert_int_equal(resolve(f, "a:web", &v), 1);
    assert_string_equal(v.uuid, UUID_A);
    store_vm_ref_clear(&v);
    g_autofree char *x4 = xml_of("a:web", UUID_D, 1);
    create_dom(f, b, UUID_D, "a:web", "running", x4, T0 + 3 * SEC);
    g_autoptr(GArray) both = g_array_new(FALSE, TRUE, sizeof(struct store_vm_ref));
    g_array_set_clear_func(both, (GDestroyNotify)store_vm_ref_clear);
    assert_int_equal(OPS(f)->vm_resolve(f->st, "a:web", both, NULL), 0);
    assert_int_equal(both->len, 1);
    assert_string_equal(g_array_index(both, struct store_vm_ref, 0).uuid, UUID_D);
    assert_string_equal(g_array_index(both, struct store_vm_ref, 0).host, "b");
}

/* ---- audit ---- */

static void test_audit(void **state)
{
    struct fx *f = *state;
    int64_t id1 = 0, id2 = 0, id3 = 0, id4 = 0;
    assert_int_equal(OPS(f)->audit_begin(f->st, "alice", 1, "setmem", "web", UUID_A, "a",
                                         "{\"memory_mib\": 512}", &id1, NULL),
                     0);
    g_autoptr(rows) r1 = audit_of(f, NULL, 100);
    assert_int_equal(rows_len(r1), 1);
    struct audit_row *e = rows_get(r1, 0);
    assert_int_equal(e->id, id1);
    assert_string_equal(e->actor, "alice");
    assert_string_equal(e->action, "setmem");
    assert_string_equal(e->target, "web");
    assert_string_equal(e->target_uuid, UUID_A);
    assert_string_equal(e->host, "a");
    assert_string_equal(e->result, "running");
    assert_int_equal(e->ended_at, 0);
    assert_true(e->started_at > 0);
    assert_null(e->error);
    json_object *params = parse_json(e->params);
    assert_true(json_object_is_type(params, json_type_object));
    assert_int_equal(jint(params, "memory_mib"), 512);
    json_object_put(params);

    assert_int_equal(OPS(f)->audit_end(f->st, id1, true, NULL, NULL), 0);
    assert_int_equal(
        OPS(f)->audit_begin(f->st, "bob", 2, "start", "db", UUID_B, "a", NULL, &id2, NULL), 0);
    assert_int_equal(OPS(f)->audit_end(f->st, id2, false, "domain 'db' is running", NULL), 0);
    assert_int_equal(OPS(f)->audit_begin(f->st, "bob", 2, "shutdown", "web", UUID_A, "a",
                                         "{\"timeout\": 60}", &id3, NULL),
                     0);
    /* A define names its target once libvirt has given it a UUID. */
    assert_int_equal(
        OPS(f)->audit_begin(f->st, "carol", 3, "define", NULL, NULL, "a", NULL, &id4, NULL), 0);
    assert_int_equal(OPS(f)->audit_set_target(f->st, id4, "new", UUID_C, NULL), 0);
    assert_int_equal(OPS(f)->audit_end(f->st, id4, true, NULL, NULL), 0);
    assert_true(id1 < id2 && id2 < id3 && id3 < id4);

    g_autoptr(rows) r = audit_of(f, NULL, 100);
    assert_int_equal(rows_len(r), 4);
    /* Newest first. */
    e = rows_get(r, 0);
    assert_int_equal(e->id, id4);
    assert_string_equal(e->target, "new");
    assert_string_equal(e->target_uuid, UUID_C);
    assert_string_equal(e->result, "ok");
    e = rows_get(r, 1);
    assert_int_equal(e->id, id3);
    assert_string_equal(e->result, "running");
    e = rows_get(r, 2);
    assert_int_equal(e->id, id2);
    assert_string_equal(e->result, "error");
    assert_string_equal(e->error, "domain 'db' is running");
    assert_true(e->ended_at >= e->started_at && e->ended_at > 0);
    /* Absent params are stored as {}. */
    assert_string_equal(e->params, "{}");
    e = rows_get(r, 3);
    assert_int_equal(e->id, id1);
    assert_string_equal(e->result, "ok");
    assert_null(e->error);
    assert_true(e->ended_at > 0);

    /* By target and with a limit. */
    g_autoptr(rows) ra = audit_of(f, UUID_A, 100);
    assert_int_equal(rows_len(ra), 2);
    g_autoptr(rows) ra1 = audit_of(f, UUID_A, 1);
    assert_int_equal(rows_len(ra1), 1);
    assert_int_equal(((struct audit_row *)rows_get(ra1, 0))->id, id3);
    g_autoptr(rows) rc = audit_of(f, UUID_C, 100);
    assert_int_equal(rows_len(rc), 1);
    assert_int_equal(((struct audit_row *)rows_get(rc, 0))->id, id4);

    /* A restart marks what was left running as interrupted; finished
     * entries keep their results. */
    reopen(f);
    g_autoptr(rows) rr = audit_of(f, NULL, 100);
    e = rows_get(rr, 1);
    assert_int_equal(e->id, id3);
    assert_string_equal(e->result, "error");
    assert_true(g_str_has_prefix(e->error, "interrupted"));
    assert_int_equal(e->ended_at, e->started_at);
    assert_string_equal(((struct audit_row *)rows_get(rr, 0))->result, "ok");
    assert_string_equal(((struct audit_row *)rows_get(rr, 2))->error, "domain 'db' is running");
    assert_string_equal(((struct audit_row *)rows_get(rr, 3))->result, "ok");
    assert_null(((struct audit_row *)rows_get(rr, 3))->error);
}

/* ---- tokens ---- */

static void test_tokens(void **state)
{
    struct fx *f = *state;
    int64_t id = 0, id2 = 0, count = -1;
    assert_int_equal(OPS(f)->token_count(f->st, &count, NULL), 0);
    assert_int_equal(count, 0);
    assert_int_equal(OPS(f)->token_create(f->st, "ci", "viewer", "hash-ci", NULL, &id, NULL), 0);
    assert_int_equal(OPS(f)->token_create(f->st, "guest1", "guest", "hash-g", UUID_A, &id2, NULL),
                     0);
    assert_true(id > 0 && id2 > id);
    assert_int_equal(OPS(f)->token_count(f->st, &count, NULL), 0);
    assert_int_equal(count, 2);

    /* Never used yet. */
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) r0 = rows_ok(OPS(f)->tokens_query(f->st, &err), &err, "tokens_query");
    assert_int_equal(rows_len(r0), 2);
    assert_int_equal(((struct token_row *)rows_get(r0, 1))->last_used, 0);

    struct store_token t = {0};
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-ci", &t, NULL), 0);
    assert_int_equal(t.id, id);
    assert_string_equal(t.name, "ci");
    assert_string_equal(t.role, "viewer");
    assert_null(t.machine_uuid);
    store_token_clear(&t);
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-g", &t, NULL), 0);
    assert_int_equal(t.id, id2);
    assert_string_equal(t.role, "guest");
    assert_string_equal(t.machine_uuid, UUID_A);
    store_token_clear(&t);

    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-unknown", &t, &err), -ENOENT);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    g_clear_error(&err);

    /* A hash is unique. */
    assert_true(OPS(f)->token_create(f->st, "dup", "admin", "hash-ci", NULL, NULL, &err) < 0);
    assert_non_null(err);
    g_clear_error(&err);

    /* Revoked: lookups fail, the count drops, a second revoke is 404. */
    assert_int_equal(OPS(f)->token_revoke(f->st, id, NULL), 0);
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-ci", &t, &err), -ENOENT);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    g_clear_error(&err);
    assert_int_equal(OPS(f)->token_count(f->st, &count, NULL), 0);
    assert_int_equal(count, 1);
    assert_int_equal(OPS(f)->token_revoke(f->st, id, &err), -ENOENT);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    g_clear_error(&err);
    assert_int_equal(OPS(f)->token_revoke(f->st, 999999, &err), -ENOENT);
    g_clear_error(&err);

    /* The list shows the live one only, with last_used set by the lookup. */
    g_autoptr(rows) r = rows_ok(OPS(f)->tokens_query(f->st, &err), &err, "tokens_query");
    assert_int_equal(rows_len(r), 1);
    struct token_row *e = rows_get(r, 0);
    assert_int_equal(e->id, id2);
    assert_string_equal(e->name, "guest1");
    assert_string_equal(e->role, "guest");
    assert_string_equal(e->machine_uuid, UUID_A);
    assert_true(e->created_at > 0);
    assert_true(e->last_used >= e->created_at);
    expect_filled(r, 0, NULL);

    /* Survives a restart. */
    reopen(f);
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-g", &t, NULL), 0);
    store_token_clear(&t);
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-ci", &t, NULL), -ENOENT);
}

/* ---- guest samples ---- */

static bool insert_sample(struct fx *f, const char *uuid, const char *source, int64_t t,
                          uint64_t seq, uint64_t mem_total)
{
    struct guest_sample s;
    guest_sample_init(&s);
    s.machine_uuid = g_strdup(uuid);
    s.source = source;
    s.time_us = t;
    s.received_us = t + 5;
    s.seq = seq;
    s.mem_total = mem_total;
    s.cpu_count = 2;
    bool dup = false;
    g_autoptr(GError) err = NULL;
    if (OPS(f)->guest_sample_insert(f->st, &s, &dup, &err) < 0)
        fail_msg("guest_sample_insert: %s", err->message);
    guest_sample_clear(&s);
    return dup;
}

static void test_guest_sample_idempotent(void **state)
{
    struct fx *f = *state;
    const uint64_t m = 1 << 30;
    /* By sequence number: a replay (even at another time) is a duplicate. */
    assert_false(insert_sample(f, UUID_A, "kanri-guestd", T0, 1, m));
    assert_true(insert_sample(f, UUID_A, "kanri-guestd", T0, 1, m));
    assert_true(insert_sample(f, UUID_A, "kanri-guestd", T0 + 10 * SEC, 1, 2 * m));
    assert_false(insert_sample(f, UUID_A, "kanri-guestd", T0, 2, m));
    /* The same seq from another source or machine is its own sample. */
    assert_false(insert_sample(f, UUID_A, "qga", T0, 1, m));
    assert_false(insert_sample(f, UUID_B, "kanri-guestd", T0, 1, m));
    /* Without a sequence number, by time. */
    assert_false(insert_sample(f, UUID_A, "balloon", T0, SAMPLE_ABSENT, m));
    assert_true(insert_sample(f, UUID_A, "balloon", T0, SAMPLE_ABSENT, 3 * m));
    assert_false(insert_sample(f, UUID_A, "balloon", T0 + 1, SAMPLE_ABSENT, m));
    /* A seq-less sample does not collide with a sequenced one at its time. */
    assert_false(insert_sample(f, UUID_A, "kanri-guestd", T0, SAMPLE_ABSENT, m));
    /* Still so after a restart. */
    reopen(f);
    assert_true(insert_sample(f, UUID_A, "kanri-guestd", T0, 2, m));
    assert_true(insert_sample(f, UUID_A, "balloon", T0 + 1, SAMPLE_ABSENT, m));

    /* A duplicate is not stored and does not overwrite the first: the
     * balloon samples are the two first ones, unchanged. */
    g_autoptr(GArray) b = recent(f, STORE_RECENT_GUEST, UUID_A, "balloon", 0, 10);
    assert_int_equal(b->len, 2);
    assert_int_equal(g_array_index(b, struct guest_sample, 0).time_us, T0 + 1);
    assert_int_equal(g_array_index(b, struct guest_sample, 1).time_us, T0);
    assert_int_equal(g_array_index(b, struct guest_sample, 1).mem_total, m);
    g_autoptr(GArray) k = recent(f, STORE_RECENT_GUEST, UUID_A, "kanri-guestd", 0, 10);
    assert_int_equal(k->len, 3);
    for (guint i = 0; i < k->len; i++)
        assert_int_equal(g_array_index(k, struct guest_sample, i).mem_total, m);

    /* A NULL duplicate flag is allowed. */
    struct guest_sample s;
    guest_sample_init(&s);
    s.machine_uuid = g_strdup(UUID_C);
    s.source = "qga";
    s.time_us = T0;
    s.received_us = T0;
    assert_int_equal(OPS(f)->guest_sample_insert(f->st, &s, NULL, NULL), 0);

    /* A sample without a machine is refused, not silently dropped. */
    g_clear_pointer(&s.machine_uuid, g_free);
    g_autoptr(GError) err = NULL;
    assert_int_equal(OPS(f)->guest_sample_insert(f->st, &s, NULL, &err), -EINVAL);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_INVALID));
    guest_sample_clear(&s);
}

/* ---- a round's writes ---- */

static void host_sample_fill(struct host_sample *s, int64_t host, const char *uuid, int64_t t,
                             uint64_t cpu)
{
    host_sample_init(s);
    s->host_id = host;
    s->uuid = g_strdup(uuid);
    s->time_us = t;
    s->dom_id = 7;
    s->state = 1;
    s->state_reason = 2;
    s->cpu_time_ns = cpu;
    s->vcpu_count = 2;
    s->vcpu_delay_ns = cpu / 10;
    s->balloon_current = 1073741824;
    s->block_count = 1;
    s->block_capacity = 10737418240;
    s->vcpus_json = g_strdup("[{\"id\":0}]");
}

static void guest_sample_fill(struct guest_sample *g, const char *uuid, const char *source,
                              int64_t t, uint64_t seq, uint64_t avail)
{
    guest_sample_init(g);
    g->machine_uuid = g_strdup(uuid);
    g->source = source;
    g->time_us = t;
    g->received_us = t + SEC;
    g->seq = seq;
    g->mem_total = 2147483648;
    g->mem_available = avail;
    g->extra_json = g_strdup("{\"k\":1}");
}

/* Several agents' documents in one transaction: each sample stored once
 * (a repeat within the group too), each agent's contact counted as
 * accepted or duplicate, and a document the store refuses fails alone. */
/* Templates: versions numbered per name, the newest listed, a deletion
 * marking every version and the numbering going on after it. */
static void test_templates(void **state)
{
    struct fx *f = *state;
    g_autoptr(GError) err = NULL;
    int64_t h = ensure_host(f, "tmpl-host");
    struct template_row t = {.name = "web",
                             .host_id = h,
                             .pool = "default",
                             .source_uuid = UUID_A,
                             .source_vm = "web1",
                             .xml = "<domain><name>web</name></domain>",
                             .disks = "[{\"target\":\"vda\",\"path\":\"/p/web-v1-vda.qcow2\"}]",
                             .created = T0,
                             .by = "admin"};
    int64_t v = 0;
    assert_int_equal(OPS(f)->template_add(f->st, &t, &v, &err), 0);
    assert_int_equal(v, 1);
    t.xml = "<domain><name>web</name><vcpu>2</vcpu></domain>";
    assert_int_equal(OPS(f)->template_add(f->st, &t, &v, &err), 0);
    assert_int_equal(v, 2);
    t.name = "db";
    assert_int_equal(OPS(f)->template_add(f->st, &t, &v, &err), 0);
    assert_int_equal(v, 1);
    struct template_row bad = t;
    bad.pool = NULL;
    assert_int_equal(OPS(f)->template_add(f->st, &bad, &v, &err), -EINVAL);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_INVALID));
    g_clear_error(&err);

    /* The newest of each, by name, without definitions unless asked. */
    g_autoptr(rows) all = OPS(f)->templates_query(f->st, NULL, false, false, &err);
    assert_non_null(all);
    assert_int_equal(rows_len(all), 2);
    struct template_row *r0 = rows_get(all, 0), *r1 = rows_get(all, 1);
    assert_string_equal(r0->name, "db");
    assert_string_equal(r1->name, "web");
    assert_int_equal(r1->version, 2);
    assert_string_equal(r1->host, "tmpl-host");
    assert_null(r1->xml);
    g_autoptr(rows) one = OPS(f)->templates_query(f->st, "web", false, true, &err);
    assert_int_equal(rows_len(one), 1);
    assert_non_null(strstr(((struct template_row *)rows_get(one, 0))->xml, "<vcpu>2"));

    /* Deleted: gone from the list, its versions kept, and a new one is 3. */
    assert_int_equal(OPS(f)->template_delete(f->st, "web", T0 + SEC, &err), 0);
    assert_int_equal(OPS(f)->template_delete(f->st, "web", T0 + SEC, &err), -ENOENT);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    g_clear_error(&err);
    g_autoptr(rows) left = OPS(f)->templates_query(f->st, NULL, false, false, &err);
    assert_int_equal(rows_len(left), 1);
    g_autoptr(rows) versions = OPS(f)->templates_query(f->st, "web", true, false, &err);
    assert_int_equal(rows_len(versions), 2);
    assert_int_equal(((struct template_row *)rows_get(versions, 1))->deleted, T0 + SEC);
    t.name = "web";
    assert_int_equal(OPS(f)->template_add(f->st, &t, &v, &err), 0);
    assert_int_equal(v, 3);
}

/* Change requests: added in draft with their VMs, moved only from the
 * state the caller saw, each VM's outcome kept. */
static void test_change_requests(void **state)
{
    struct fx *f = *state;
    g_autoptr(GError) err = NULL;
    int64_t h = ensure_host(f, "cr-host");
    struct change_request_row c = {.reason = "more memory",
                                   .risk = "low",
                                   .window_from = T0,
                                   .actions = "[{\"action\":\"setmem\",\"memory_bytes\":1}]",
                                   .canary = true,
                                   .batch = 2,
                                   .check_timeout_s = 60,
                                   .requester = "alice",
                                   .requester_token = 4,
                                   .created = T0};
    struct change_vm_row vms[2] = {{.uuid = UUID_A, .vm = "a", .host_id = h, .batch = 0},
                                   {.uuid = UUID_B, .vm = "b", .host_id = h, .batch = 1}};
    int64_t id = 0;
    assert_int_equal(OPS(f)->change_request_add(f->st, &c, vms, 2, &id, &err), 0);
    assert_true(id > 0);
    assert_int_equal(OPS(f)->change_request_add(f->st, &c, vms, 0, &id, &err), -EINVAL);
    g_clear_error(&err);

    g_autoptr(rows) one = OPS(f)->change_requests_query(f->st, id, NULL, &err);
    assert_int_equal(rows_len(one), 1);
    struct change_request_row *r = rows_get(one, 0);
    assert_string_equal(r->state, "draft");
    assert_int_equal(r->window_from, T0);
    assert_int_equal(r->window_to, 0);
    assert_true(r->canary);
    assert_null(r->approver);

    struct change_request_update u = {.now = T0 + SEC, .approver = "bob", .approver_token = 5};
    assert_int_equal(OPS(f)->change_request_move(f->st, id, "draft", "submitted",
                                                 &(struct change_request_update){.now = T0}, &err),
                     0);
    assert_int_equal(OPS(f)->change_request_move(f->st, id, "submitted", "approved", &u, &err), 0);
    /* A second approver saw "submitted" too: too late. */
    assert_int_equal(OPS(f)->change_request_move(f->st, id, "submitted", "approved", &u, &err),
                     -ESTALE);
    g_clear_error(&err);
    const char *const live[] = {"approved", "scheduled", "running", NULL};
    g_autoptr(rows) due = OPS(f)->change_requests_query(f->st, 0, live, &err);
    assert_int_equal(rows_len(due), 1);
    r = rows_get(due, 0);
    assert_string_equal(r->approver, "bob");
    assert_int_equal(r->approver_token, 5);

    struct change_vm_row v = {.request_id = id,
                              .seq = 1,
                              .state = "rolled-back",
                              .saved = "definition",
                              .saved_xml = "<domain/>",
                              .result = "check failed",
                              .audit_ids = "[7,8]",
                              .updated = T0 + 2 * SEC};
    assert_int_equal(OPS(f)->change_vm_set(f->st, &v, &err), 0);
    g_autoptr(rows) got = OPS(f)->change_vms_query(f->st, id, &err);
    assert_int_equal(rows_len(got), 2);
    struct change_vm_row *v0 = rows_get(got, 0), *v1 = rows_get(got, 1);
    assert_string_equal(v0->state, "pending");
    assert_string_equal(v0->host, "cr-host");
    assert_string_equal(v1->state, "rolled-back");
    assert_string_equal(v1->saved_xml, "<domain/>");
    assert_string_equal(v1->audit_ids, "[7,8]");
    assert_int_equal(v1->batch, 1);
}

static void test_ingests_written_together(void **state)
{
    struct fx *f = *state;
    g_autoptr(GError) err = NULL;
    assert_int_equal(OPS(f)->agent_enroll(f->st, UUID_A, "a-agent", "hash-a", NULL, NULL), 0);
    assert_int_equal(OPS(f)->agent_enroll(f->st, UUID_B, "b-agent", "hash-b", NULL, NULL), 0);
    struct guest_sample g[4];
    guest_sample_fill(&g[0], UUID_A, "kanri-guestd", T0, 1, 5);
    guest_sample_fill(&g[1], UUID_B, "kanri-guestd", T0, 1, 6);
    guest_sample_fill(&g[2], UUID_A, "kanri-guestd", T0, 1, 5); /* g[0] again */
    guest_sample_fill(&g[3], UUID_B, "kanri-guestd", T0 + SEC, 2, 6);
    g[3].source = NULL; /* refused: no source */
    struct store_agent_contact c[4];
    struct store_ingest in[4];
    struct store_ingest *w[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (struct store_agent_contact){.machine_uuid = g[i].machine_uuid,
                                            .received_us = g[i].received_us,
                                            .agent_name = "kanri-guestd",
                                            .hostname = "vm",
                                            .seq = g[i].seq,
                                            .sample_time_us = g[i].time_us};
        in[i] = (struct store_ingest){.sample = &g[i], .contact = &c[i]};
        w[i] = &in[i];
    }
    GError *errors[4] = {NULL};
    assert_int_equal(OPS(f)->ingests_write(f->st, w, 4, errors), -EINVAL);
    assert_null(errors[0]);
    assert_null(errors[1]);
    assert_null(errors[2]);
    assert_true(g_error_matches(errors[3], STORE_ERROR, STORE_ERROR_INVALID));
    g_clear_error(&errors[3]);
    assert_false(in[0].duplicate);
    assert_false(in[1].duplicate);
    assert_true(in[2].duplicate);

    g_autoptr(GArray) a = recent(f, STORE_RECENT_GUEST, UUID_A, "kanri-guestd", 0, 10);
    g_autoptr(GArray) b = recent(f, STORE_RECENT_GUEST, UUID_B, "kanri-guestd", 0, 10);
    assert_int_equal(a->len, 1);
    assert_int_equal(b->len, 1);
    g_autoptr(rows) ag = rows_ok(OPS(f)->agents_query(f->st, &err), &err, "agents_query");
    assert_int_equal(rows_len(ag), 2);
    const struct agent_row *ra = rows_get(ag, 0), *rb = rows_get(ag, 1);
    assert_string_equal(ra->machine_uuid, UUID_A);
    assert_int_equal(ra->accepted, 1);
    assert_int_equal(ra->duplicates, 1);
    assert_int_equal(ra->last_seq, 1);
    assert_string_equal(rb->machine_uuid, UUID_B);
    assert_int_equal(rb->accepted, 1);
    assert_int_equal(rb->duplicates, 0);
    assert_string_equal(rb->hostname, "vm");
    for (int i = 0; i < 4; i++)
        guest_sample_clear(&g[i]);
}

static void pool_sample_fill(struct pool_sample *p, int64_t host, const char *name, int64_t t,
                             uint64_t alloc)
{
    pool_sample_init(p);
    p->host_id = host;
    p->name = g_strdup(name);
    p->time_us = t;
    p->capacity = 1000;
    p->allocation = alloc;
    p->available = 1000 - alloc;
}

static struct finding_write finding(enum finding_op op, int64_t host, const char *rule,
                                    const char *severity, int64_t since, int64_t at, double measure,
                                    const char *message)
{
    return (struct finding_write){.op = op,
                                  .uuid = (char *)UUID_A,
                                  .host_id = host,
                                  .rule = (char *)rule,
                                  .severity = (char *)severity,
                                  .since_us = since,
                                  .at_us = at,
                                  .measure = measure,
                                  .message = (char *)message};
}

static void expect_finding(const struct finding_row *r, const char *state, const char *severity,
                           int64_t since, int64_t opened, int64_t closed, int64_t updated,
                           double measure, const char *message)
{
    assert_string_equal(r->uuid, UUID_A);
    assert_string_equal(r->vm, "web");
    assert_string_equal(r->host, "a");
    assert_string_equal(r->rule, "steal-invisible-to-guest");
    assert_string_equal(r->state, state);
    assert_string_equal(r->severity, severity);
    assert_int_equal(r->since, since);
    assert_int_equal(r->opened, opened);
    assert_int_equal(r->closed, closed);
    assert_int_equal(r->updated, updated);
    if (isnan(measure))
        assert_true(isnan(r->measure));
    else
        assert_true(r->measure == measure);
    if (message)
        assert_string_equal(r->message, message);
    else
        assert_null(r->message);
}

static struct vm_view *view_new(const char *uuid, int64_t host, int64_t t)
{
    struct vm_view *v = vm_view_new();
    v->uuid = g_strdup(uuid);
    v->host_id = host;
    v->time_us = t;
    struct view_value *x = vm_view_add(v, "cpu_busy", "%");
    x->h = 42.5;
    x->r = 42.5; /* g stays absent (NaN) */
    x->provenance = g_strdup("host");
    x->reason = g_strdup("the guest reports no CPU figures");
    x->h_age_us = 2500000;
    x = vm_view_add(v, "mem_used", "B");
    x->h = 1073741824;
    x->g = 536870912;
    x->r = 536870912;
    x->provenance = g_strdup("guest");
    x->g_source = g_strdup("balloon");
    x->reason = g_strdup("guest figure, caches excluded");
    x->h_age_us = 1000000;
    x->g_age_us = 4100000; /* 4.1 s is not exact in binary: read back rounded */
    return v;
}

#define RULE "steal-invisible-to-guest"

/* Availability marks and collection spans written with the rounds, read
 * back for a period (the mark in force at its start first), and tags. */
static void avail_round(struct fx *f, int64_t host, int64_t t, const struct store_avail_mark *m,
                        size_t n)
{
    g_autoptr(GError) err = NULL;
    struct store_round w = {
        .avail = m, .n_avail = n, .span_host_id = host, .span_t_us = t, .span_gap_us = 30 * SEC};
    assert_int_equal(OPS(f)->round_write(f->st, &w, &err), 0);
}

static void test_availability_rows(void **state)
{
    struct fx *f = *state;
    g_autoptr(GError) err = NULL;
    int64_t h = ensure_host(f, "avail-host"), h2 = ensure_host(f, "avail-other");
    struct store_avail_mark up = {UUID_A, h, T0, "up", NULL};
    struct store_avail_mark b_up = {UUID_B, h, T0, "host-only", NULL};
    struct store_avail_mark both[] = {up, b_up};
    avail_round(f, h, T0, both, 2);
    avail_round(f, h, T0 + 10 * SEC, NULL, 0);
    struct store_avail_mark down = {UUID_A, h, T0 + 20 * SEC, "down", "crashed"};
    avail_round(f, h, T0 + 20 * SEC, &down, 1);
    /* The same VM and time again (two hosts' rounds while it migrates):
     * the first stays. */
    struct store_avail_mark dup = {UUID_A, h2, T0 + 20 * SEC, "up", NULL};
    avail_round(f, h2, T0 + 20 * SEC, &dup, 1);
    /* A round 100 s later: past the gap, a new span. */
    avail_round(f, h, T0 + 120 * SEC, NULL, 0);
    avail_round(f, h, T0 + 125 * SEC, NULL, 0);

    g_autoptr(rows) spans = OPS(f)->host_spans_query(f->st, T0, T0 + 200 * SEC, &err);
    assert_non_null(spans);
    assert_int_equal(rows_len(spans), 3);
    const struct host_span_row *s0 = rows_get(spans, 0), *s1 = rows_get(spans, 1);
    assert_int_equal(s0->host_id, h);
    assert_int_equal(s0->from_t, T0);
    assert_int_equal(s0->to_t, T0 + 20 * SEC);
    assert_int_equal(s1->from_t, T0 + 120 * SEC);
    assert_int_equal(s1->to_t, T0 + 125 * SEC);
    g_autoptr(rows) late = OPS(f)->host_spans_query(f->st, T0 + 121 * SEC, T0 + 200 * SEC, &err);
    assert_int_equal(rows_len(late), 1);

    /* From T0 + 15 s: A's "up" of T0 is the one in force, then "down". */
    g_autoptr(rows) m = OPS(f)->vm_states_query(f->st, UUID_A, T0 + 15 * SEC, T0 + 200 * SEC, &err);
    assert_non_null(m);
    assert_int_equal(rows_len(m), 2);
    const struct vm_state_row *m0 = rows_get(m, 0), *m1 = rows_get(m, 1);
    assert_string_equal(m0->state, "up");
    assert_int_equal(m0->t, T0);
    assert_string_equal(m1->state, "down");
    assert_string_equal(m1->reason, "crashed");
    assert_int_equal(m1->host_id, h);
    g_autoptr(rows) all = OPS(f)->vm_states_query(f->st, NULL, T0, T0 + 20 * SEC, &err);
    assert_int_equal(rows_len(all), 2); /* A up and B host-only; the down is at the end */

    const char *tags[] = {"shop", "prod", NULL};
    assert_int_equal(OPS(f)->vm_tags_set(f->st, UUID_A, tags, &err), 0);
    const char *btags[] = {"shop", NULL};
    assert_int_equal(OPS(f)->vm_tags_set(f->st, UUID_B, btags, &err), 0);
    g_autoptr(rows) shop = OPS(f)->vm_tags_query(f->st, NULL, "shop", &err);
    assert_int_equal(rows_len(shop), 2);
    g_autoptr(rows) a = OPS(f)->vm_tags_query(f->st, UUID_A, NULL, &err);
    assert_int_equal(rows_len(a), 2);
    assert_string_equal(((struct vm_tag_row *)rows_get(a, 0))->tag, "prod");
    assert_int_equal(OPS(f)->vm_tags_set(f->st, UUID_A, NULL, &err), 0);
    g_autoptr(rows) none = OPS(f)->vm_tags_query(f->st, UUID_A, NULL, &err);
    assert_int_equal(rows_len(none), 0);
}

static void test_round_write(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    int64_t other = ensure_host(f, "b");
    g_autofree char *xml = xml_of("web", UUID_A, 1024);
    create_dom(f, h, UUID_A, "web", "running", xml, T0);
    const int64_t T1 = T0 + 10 * SEC, T2 = T0 + 20 * SEC;

    /* Round 1: one of every kind of row. */
    struct host_sample hs1, hs_other;
    host_sample_fill(&hs1, h, UUID_A, T0, 1000);
    host_sample_fill(&hs_other, h, UUID_B, T0, 5);
    const struct host_sample *hosts1[] = {&hs1, &hs_other};
    struct node_sample node;
    node_sample_init(&node);
    node.host_id = h;
    node.time_us = T0;
    node.mem_total = 8589934592;
    node.domains_running = 1;
    node.round_us = 1234;
    struct pool_sample ps1;
    pool_sample_fill(&ps1, h, "default", T0, 400);
    const struct pool_sample *pools1[] = {&ps1};
    struct guest_sample gs1;
    guest_sample_fill(&gs1, UUID_A, "qga", T0 - SEC, SAMPLE_ABSENT, 1000000);
    const struct guest_sample *guests1[] = {&gs1};
    struct reconciled_sample rs;
    reconciled_sample_init(&rs);
    rs.host_id = h;
    rs.uuid = g_strdup(UUID_A);
    rs.time_us = T0;
    rs.mem_used = 536870912;
    struct finding_write fw1[] = {
        finding(FINDING_OPEN, h, RULE, "warning", T0 - 60 * SEC, T0, 20.0, "wait 20 %")};
    struct store_state_write sw1[] = {{UUID_A, h, T0, "state-1"}};
    g_autoptr(vm_view) view = view_new(UUID_A, h, T0);
    const struct vm_view *views1[] = {view};
    struct store_view_status_write vs1[] = {
        {UUID_A, h, "guest-memory", false, "no balloon statistics", T0 - 60 * SEC, T0},
        {UUID_A, h, "guest-agent", true, NULL, T0 - 120 * SEC, T0},
    };
    struct store_round w1 = {.hosts = hosts1,
                             .n_hosts = 2,
                             .node = &node,
                             .pools = pools1,
                             .n_pools = 1,
                             .guests = guests1,
                             .n_guests = 1,
                             .reconciled = &rs,
                             .n_reconciled = 1,
                             .findings = fw1,
                             .n_findings = 1,
                             .states = sw1,
                             .n_states = 1,
                             .views = views1,
                             .n_views = 1,
                             .status = vs1,
                             .n_status = 2};
    round_ok(f, &w1);

    /* Round 2: newer samples (and the first guest sample again, which is
     * not stored twice), the finding updated, the state replaced, another
     * host's state, availability flipped. */
    struct host_sample hs2;
    host_sample_fill(&hs2, h, UUID_A, T1, 2000);
    const struct host_sample *hosts2[] = {&hs2};
    struct pool_sample ps2;
    pool_sample_fill(&ps2, h, "default", T1, 500);
    const struct pool_sample *pools2[] = {&ps2};
    struct guest_sample gs2;
    guest_sample_fill(&gs2, UUID_A, "qga", T1 - SEC, SAMPLE_ABSENT, 2000000);
    const struct guest_sample *guests2[] = {&gs2, &gs1};
    struct finding_write fw2[] = {
        finding(FINDING_UPDATE, h, RULE, "critical", 0, T1, 35.5, "wait 35.5 %")};
    struct store_state_write sw2[] = {{UUID_A, h, T1, "state-2"}, {UUID_B, other, T1, "b-state"}};
    struct store_view_status_write vs2[] = {
        {UUID_A, h, "guest-memory", true, NULL, T1, T1},
    };
    struct store_round w2 = {.hosts = hosts2,
                             .n_hosts = 1,
                             .pools = pools2,
                             .n_pools = 1,
                             .guests = guests2,
                             .n_guests = 2,
                             .findings = fw2,
                             .n_findings = 1,
                             .states = sw2,
                             .n_states = 2,
                             .status = vs2,
                             .n_status = 1};

    /* ---- after round 1 ---- */
    g_autoptr(rows) f1 = findings_of(f, "open", NULL, NULL);
    assert_int_equal(rows_len(f1), 1);
    struct finding_row *fr = rows_get(f1, 0);
    int64_t fid = fr->id;
    expect_finding(fr, "open", "warning", T0 - 60 * SEC, T0, 0, T0, 20.0, "wait 20 %");
    expect_filled(f1, 0, (const char *const[]){"closed", NULL});
    g_autoptr(rows) fo1 = open_of(f, h);
    assert_int_equal(rows_len(fo1), 1);
    assert_int_equal(((struct finding_row *)rows_get(fo1, 0))->id, fid);
    g_autoptr(rows) fo_other = open_of(f, other);
    assert_int_equal(rows_len(fo_other), 0);

    g_autoptr(GHashTable) st1 = states_of(f, h);
    assert_int_equal(g_hash_table_size(st1), 1);
    assert_string_equal(g_hash_table_lookup(st1, UUID_A), "state-1");

    g_autoptr(rows) s1 = status_of(f, NULL);
    assert_int_equal(rows_len(s1), 2);
    struct view_status_row *sa = rows_get(s1, 0), *sm = rows_get(s1, 1);
    assert_string_equal(sa->uuid, UUID_A);
    assert_string_equal(sa->part, "guest-agent");
    assert_true(sa->available);
    assert_null(sa->reason);
    assert_int_equal(sa->since, T0 - 120 * SEC);
    assert_int_equal(sa->updated, T0);
    assert_string_equal(sm->uuid, UUID_A);
    assert_string_equal(sm->part, "guest-memory");
    assert_false(sm->available);
    assert_string_equal(sm->reason, "no balloon statistics");
    assert_int_equal(sm->since, T0 - 60 * SEC);
    assert_int_equal(sm->updated, T0);
    expect_filled(s1, 1, NULL);
    g_autoptr(rows) s_b = status_of(f, UUID_B);
    assert_int_equal(rows_len(s_b), 0);

    /* The kept view, values as written; an absent side stays absent. */
    g_autoptr(vm_view) kept = NULL;
    assert_int_equal(OPS(f)->view_get(f->st, UUID_A, &kept, NULL), 0);
    assert_string_equal(kept->uuid, UUID_A);
    assert_int_equal(kept->host_id, h);
    assert_int_equal(kept->time_us, T0);
    assert_int_equal(kept->n_values, 2);
    struct view_value *x = &kept->values[0];
    assert_string_equal(x->resource, "cpu_busy");
    assert_string_equal(x->unit, "%");
    assert_true(x->h == 42.5);
    assert_true(isnan(x->g));
    assert_true(x->r == 42.5);
    assert_string_equal(x->provenance, "host");
    assert_null(x->g_source);
    assert_string_equal(x->reason, "the guest reports no CPU figures");
    assert_int_equal(x->h_age_us, 2500000);
    assert_int_equal(x->g_age_us, -1);
    x = &kept->values[1];
    assert_string_equal(x->resource, "mem_used");
    assert_string_equal(x->unit, "B");
    assert_true(x->h == 1073741824.0);
    assert_true(x->g == 536870912.0);
    assert_true(x->r == 536870912.0);
    assert_string_equal(x->provenance, "guest");
    assert_string_equal(x->g_source, "balloon");
    assert_string_equal(x->reason, "guest figure, caches excluded");
    assert_int_equal(x->h_age_us, 1000000);
    assert_int_equal(x->g_age_us, 4100000);
    g_autoptr(GError) err = NULL;
    struct vm_view *none = NULL;
    assert_int_equal(OPS(f)->view_get(f->st, UUID_B, &none, &err), -ENOENT);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND));
    g_clear_error(&err);

    /* The node and reconciled rows reach the history. */
    g_autofree char *hid = g_strdup_printf("%" G_GINT64_FORMAT, h);
    g_autoptr(GArray) np = raw_points(f, &series_host, hid, "mem_total", T0 - SEC, T2);
    assert_int_equal(np->len, 1);
    assert_int_equal(g_array_index(np, struct series_point, 0).t, T0);
    assert_true(g_array_index(np, struct series_point, 0).v == 8589934592.0);
    g_autoptr(GArray) rp = raw_points(f, &series_vm_reconciled, UUID_A, "mem_used", T0 - SEC, T2);
    assert_int_equal(rp->len, 1);
    assert_true(g_array_index(rp, struct series_point, 0).v == 536870912.0);

    round_ok(f, &w2);

    /* ---- after round 2 ---- */
    /* Samples newest first, with their figures; other VMs' apart. */
    g_autoptr(GArray) hr = recent(f, STORE_RECENT_HOST, UUID_A, NULL, 0, 10);
    assert_int_equal(hr->len, 2);
    struct host_sample *h0 = &g_array_index(hr, struct host_sample, 0);
    struct host_sample *h1 = &g_array_index(hr, struct host_sample, 1);
    assert_int_equal(h0->time_us, T1);
    assert_int_equal(h0->cpu_time_ns, 2000);
    assert_int_equal(h1->time_us, T0);
    assert_int_equal(h1->host_id, h);
    assert_string_equal(h1->uuid, UUID_A);
    assert_int_equal(h1->dom_id, 7);
    assert_int_equal(h1->state, 1);
    assert_int_equal(h1->state_reason, 2);
    assert_int_equal(h1->cpu_time_ns, 1000);
    assert_int_equal(h1->vcpu_count, 2);
    assert_int_equal(h1->vcpu_delay_ns, 100);
    assert_int_equal(h1->balloon_current, 1073741824);
    assert_int_equal(h1->block_capacity, G_GUINT64_CONSTANT(10737418240));
    assert_true(h1->net_rx_bytes == SAMPLE_ABSENT);
    assert_true(h1->cpu_user_ns == SAMPLE_ABSENT);
    assert_string_equal(h1->vcpus_json, "[{\"id\":0}]");
    assert_null(h1->blocks_json);
    g_autoptr(GArray) hr1 = recent(f, STORE_RECENT_HOST, UUID_A, NULL, 0, 1);
    assert_int_equal(hr1->len, 1);
    assert_int_equal(g_array_index(hr1, struct host_sample, 0).time_us, T1);
    g_autoptr(GArray) hrb = recent(f, STORE_RECENT_HOST, UUID_B, NULL, 0, 10);
    assert_int_equal(hrb->len, 1);
    assert_int_equal(g_array_index(hrb, struct host_sample, 0).cpu_time_ns, 5);

    g_autoptr(GArray) gr = recent(f, STORE_RECENT_GUEST, UUID_A, "qga", 0, 10);
    assert_int_equal(gr->len, 2);
    struct guest_sample *g0 = &g_array_index(gr, struct guest_sample, 0);
    struct guest_sample *g1 = &g_array_index(gr, struct guest_sample, 1);
    assert_int_equal(g0->time_us, T1 - SEC);
    assert_int_equal(g0->mem_available, 2000000);
    assert_string_equal(g1->machine_uuid, UUID_A);
    assert_string_equal(g1->source, "qga");
    assert_int_equal(g1->time_us, T0 - SEC);
    assert_int_equal(g1->received_us, T0);
    assert_true(g1->seq == SAMPLE_ABSENT);
    assert_int_equal(g1->mem_total, 2147483648);
    assert_int_equal(g1->mem_available, 1000000);
    assert_true(g1->mem_free == SAMPLE_ABSENT);
    assert_string_equal(g1->extra_json, "{\"k\":1}");
    assert_null(g1->disks_json);
    g_autoptr(GArray) gb = recent(f, STORE_RECENT_GUEST, UUID_A, "balloon", 0, 10);
    assert_int_equal(gb->len, 0);

    g_autoptr(GArray) pr = recent(f, STORE_RECENT_POOL, "default", NULL, h, 10);
    assert_int_equal(pr->len, 2);
    struct pool_sample *p0 = &g_array_index(pr, struct pool_sample, 0);
    struct pool_sample *p1 = &g_array_index(pr, struct pool_sample, 1);
    assert_int_equal(p0->time_us, T1);
    assert_int_equal(p0->allocation, 500);
    assert_int_equal(p0->available, 500);
    assert_int_equal(p1->host_id, h);
    assert_string_equal(p1->name, "default");
    assert_int_equal(p1->time_us, T0);
    assert_int_equal(p1->capacity, 1000);
    assert_int_equal(p1->allocation, 400);
    assert_int_equal(p1->available, 600);
    g_autoptr(GArray) pr_other = recent(f, STORE_RECENT_POOL, "default", NULL, other, 10);
    assert_int_equal(pr_other->len, 0);

    /* The update changed the open row in place. */
    g_autoptr(rows) f2 = findings_of(f, NULL, NULL, NULL);
    assert_int_equal(rows_len(f2), 1);
    fr = rows_get(f2, 0);
    assert_int_equal(fr->id, fid);
    expect_finding(fr, "open", "critical", T0 - 60 * SEC, T0, 0, T1, 35.5, "wait 35.5 %");

    g_autoptr(GHashTable) st2 = states_of(f, h);
    assert_int_equal(g_hash_table_size(st2), 1);
    assert_string_equal(g_hash_table_lookup(st2, UUID_A), "state-2");
    g_autoptr(GHashTable) st2b = states_of(f, other);
    assert_int_equal(g_hash_table_size(st2b), 1);
    assert_string_equal(g_hash_table_lookup(st2b, UUID_B), "b-state");

    g_autoptr(rows) s2 = status_of(f, UUID_A);
    assert_int_equal(rows_len(s2), 2);
    sm = rows_get(s2, 1);
    assert_string_equal(sm->part, "guest-memory");
    assert_true(sm->available);
    assert_null(sm->reason);
    assert_int_equal(sm->since, T1);
    assert_int_equal(sm->updated, T1);
    /* The part not written this round is left as it was. */
    sa = rows_get(s2, 0);
    assert_int_equal(sa->updated, T0);

    /* Round 3: the finding closes, the state is deleted, the view is
     * replaced. */
    struct finding_write fw3[] = {
        finding(FINDING_CLOSE, h, RULE, "critical", 0, T2, NAN, "wait back to 0 %")};
    struct store_state_write sw3[] = {{UUID_A, h, T2, NULL}};
    g_autoptr(vm_view) view3 = vm_view_new();
    view3->uuid = g_strdup(UUID_A);
    view3->host_id = h;
    view3->time_us = T2;
    struct view_value *v3 = vm_view_add(view3, "net_rx", "B/s");
    v3->r = 10.0;
    v3->provenance = g_strdup("none");
    v3->reason = g_strdup("r");
    const struct vm_view *views3[] = {view3};
    struct store_round w3 = {.findings = fw3,
                             .n_findings = 1,
                             .states = sw3,
                             .n_states = 1,
                             .views = views3,
                             .n_views = 1};
    round_ok(f, &w3);

    g_autoptr(rows) f3o = findings_of(f, "open", NULL, NULL);
    assert_int_equal(rows_len(f3o), 0);
    g_autoptr(rows) f3 = findings_of(f, "closed", NULL, NULL);
    assert_int_equal(rows_len(f3), 1);
    fr = rows_get(f3, 0);
    assert_int_equal(fr->id, fid);
    expect_finding(fr, "closed", "critical", T0 - 60 * SEC, T0, T2, T2, NAN, "wait back to 0 %");
    g_autoptr(rows) fo3 = open_of(f, h);
    assert_int_equal(rows_len(fo3), 0);
    g_autoptr(GHashTable) st3 = states_of(f, h);
    assert_int_equal(g_hash_table_size(st3), 0);
    g_autoptr(vm_view) kept3 = NULL;
    assert_int_equal(OPS(f)->view_get(f->st, UUID_A, &kept3, NULL), 0);
    assert_int_equal(kept3->time_us, T2);
    assert_int_equal(kept3->n_values, 1);
    assert_string_equal(kept3->values[0].resource, "net_rx");
    assert_true(kept3->values[0].r == 10.0);
    assert_true(isnan(kept3->values[0].h));
    assert_int_equal(kept3->values[0].h_age_us, -1);

    /* A new episode of the same rule is a new row; updating and closing
     * it leave the first episode's row alone. */
    const int64_t T3 = T0 + 30 * SEC, T4 = T0 + 40 * SEC;
    struct finding_write fw4[] = {
        finding(FINDING_OPEN, h, RULE, "warning", T3, T3, 15.0, "again"),
        finding(FINDING_OPEN, h, "other-rule", "info", T3, T3, 1.0, "other"),
    };
    struct store_round w4 = {.findings = fw4, .n_findings = 2};
    round_ok(f, &w4);
    struct finding_write fw5[] = {
        finding(FINDING_UPDATE, h, RULE, "critical", 0, T3 + SEC, 16.0, "worse"),
        finding(FINDING_CLOSE, h, RULE, "warning", 0, T4, 0.0, "gone"),
    };
    struct store_round w5 = {.findings = fw5, .n_findings = 2};
    round_ok(f, &w5);
    g_autoptr(rows) f5 = findings_of(f, "all", RULE, UUID_A);
    assert_int_equal(rows_len(f5), 2);
    fr = rows_get(f5, 0);
    assert_true(fr->id > fid);
    /* CLOSE keeps the severity UPDATE left. */
    expect_finding(fr, "closed", "critical", T3, T3, T4, T4, 0.0, "gone");
    expect_finding(rows_get(f5, 1), "closed", "critical", T0 - 60 * SEC, T0, T2, T2, NAN,
                   "wait back to 0 %");
    g_autoptr(rows) f5o = findings_of(f, "open", NULL, NULL);
    assert_int_equal(rows_len(f5o), 1);
    assert_string_equal(((struct finding_row *)rows_get(f5o, 0))->rule, "other-rule");
    g_autoptr(rows) f5b = findings_of(f, NULL, NULL, UUID_B);
    assert_int_equal(rows_len(f5b), 0);

    host_sample_clear(&hs1);
    host_sample_clear(&hs_other);
    host_sample_clear(&hs2);
    pool_sample_clear(&ps1);
    pool_sample_clear(&ps2);
    guest_sample_clear(&gs1);
    guest_sample_clear(&gs2);
    reconciled_sample_clear(&rs);
}

static void test_round_write_atomic(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    g_autofree char *hid = g_strdup_printf("%" G_GINT64_FORMAT, h);

    /* Every kind of row, then an availability row without a UUID (NOT
     * NULL): the last write fails, and all before it must go too. */
    struct host_sample hs;
    host_sample_fill(&hs, h, UUID_C, T0, 1000);
    const struct host_sample *hosts[] = {&hs};
    struct node_sample node;
    node_sample_init(&node);
    node.host_id = h;
    node.time_us = T0;
    node.mem_total = 8589934592;
    struct pool_sample ps;
    pool_sample_fill(&ps, h, "default", T0, 400);
    const struct pool_sample *pools[] = {&ps};
    struct guest_sample gs;
    guest_sample_fill(&gs, UUID_C, "kanri-guestd", T0, 99, 1000);
    const struct guest_sample *guests[] = {&gs};
    struct reconciled_sample rs;
    reconciled_sample_init(&rs);
    rs.host_id = h;
    rs.uuid = g_strdup(UUID_C);
    rs.time_us = T0;
    rs.mem_used = 1;
    struct finding_write fw[] = {
        finding(FINDING_OPEN, h, "atomic-rule", "warning", T0, T0, 1.0, "must not stay")};
    struct store_state_write sw[] = {{UUID_C, h, T0, "must not stay"}};
    g_autoptr(vm_view) view = view_new(UUID_C, h, T0);
    const struct vm_view *views[] = {view};
    struct store_view_status_write vs[] = {
        {UUID_C, h, "guest-agent", true, NULL, T0, T0},
        {NULL, h, "guest-memory", true, NULL, T0, T0},
    };
    struct store_round w = {.hosts = hosts,
                            .n_hosts = 1,
                            .node = &node,
                            .pools = pools,
                            .n_pools = 1,
                            .guests = guests,
                            .n_guests = 1,
                            .reconciled = &rs,
                            .n_reconciled = 1,
                            .findings = fw,
                            .n_findings = 1,
                            .states = sw,
                            .n_states = 1,
                            .views = views,
                            .n_views = 1,
                            .status = vs,
                            .n_status = 2};
    g_autoptr(GError) err = NULL;
    assert_true(OPS(f)->round_write(f->st, &w, &err) < 0);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_IO));
    g_clear_error(&err);

    g_autoptr(GArray) hr = recent(f, STORE_RECENT_HOST, UUID_C, NULL, 0, 10);
    assert_int_equal(hr->len, 0);
    g_autoptr(GArray) gr = recent(f, STORE_RECENT_GUEST, UUID_C, "kanri-guestd", 0, 10);
    assert_int_equal(gr->len, 0);
    g_autoptr(GArray) pr = recent(f, STORE_RECENT_POOL, "default", NULL, h, 10);
    assert_int_equal(pr->len, 0);
    g_autoptr(GArray) np = raw_points(f, &series_host, hid, "mem_total", T0 - SEC, T0 + SEC);
    assert_int_equal(np->len, 0);
    g_autoptr(GArray) rp =
        raw_points(f, &series_vm_reconciled, UUID_C, "mem_used", T0 - SEC, T0 + SEC);
    assert_int_equal(rp->len, 0);
    g_autoptr(rows) fr = findings_of(f, NULL, "atomic-rule", NULL);
    assert_int_equal(rows_len(fr), 0);
    g_autoptr(GHashTable) st = states_of(f, h);
    assert_int_equal(g_hash_table_size(st), 0);
    struct vm_view *kept = NULL;
    assert_int_equal(OPS(f)->view_get(f->st, UUID_C, &kept, &err), -ENOENT);
    g_clear_error(&err);
    g_autoptr(rows) sr = status_of(f, NULL);
    assert_int_equal(rows_len(sr), 0);

    /* The same with the failure in the first kind of row: a host sample
     * without a UUID after a valid one. */
    struct host_sample bad;
    host_sample_fill(&bad, h, NULL, T0, 1);
    const struct host_sample *hosts2[] = {&hs, &bad};
    struct store_round w2 = {
        .hosts = hosts2, .n_hosts = 2, .findings = fw, .n_findings = 1, .node = &node};
    assert_true(OPS(f)->round_write(f->st, &w2, &err) < 0);
    assert_non_null(err);
    g_clear_error(&err);
    g_autoptr(GArray) hr2 = recent(f, STORE_RECENT_HOST, UUID_C, NULL, 0, 10);
    assert_int_equal(hr2->len, 0);
    g_autoptr(rows) fr2 = findings_of(f, NULL, "atomic-rule", NULL);
    assert_int_equal(rows_len(fr2), 0);

    /* Nothing is left half-open: the next round is written whole. */
    w.n_status = 1;
    round_ok(f, &w);
    g_autoptr(GArray) hr3 = recent(f, STORE_RECENT_HOST, UUID_C, NULL, 0, 10);
    assert_int_equal(hr3->len, 1);
    g_autoptr(rows) fr3 = findings_of(f, NULL, "atomic-rule", NULL);
    assert_int_equal(rows_len(fr3), 1);
    g_autoptr(GHashTable) st3 = states_of(f, h);
    assert_string_equal(g_hash_table_lookup(st3, UUID_C), "must not stay");
    g_autoptr(rows) sr3 = status_of(f, NULL);
    assert_int_equal(rows_len(sr3), 1);
    g_autoptr(vm_view) kept3 = NULL;
    assert_int_equal(OPS(f)->view_get(f->st, UUID_C, &kept3, NULL), 0);
    assert_int_equal(kept3->n_values, 2);

    host_sample_clear(&hs);
    host_sample_clear(&bad);
    pool_sample_clear(&ps);
    guest_sample_clear(&gs);
    reconciled_sample_clear(&rs);
}

/* ---- typed rows of every query ---- */

/* Pages of VMs read as pages: together they are the whole list in its
 * order, and a VM removed between two pages moves nothing. */
static void test_vms_pages(void **state)
{
    struct fx *f = *state;
    int64_t ha = ensure_host(f, "a"), hb = ensure_host(f, "b");
    const char *names[] = {"m", "c", "x", "a", "k", "b", "z"};
    int64_t ids[7];
    for (int i = 0; i < 7; i++) {
        g_autofree char *uuid = g_strdup_printf("00000000-0000-4000-8000-%012d", i);
        ids[i] = create_dom(f, i < 4 ? ha : hb, uuid, names[i], "running", "<domain/>", T0);
    }
    g_autoptr(rows) whole = vms_of(f, NULL, 0, false);
    assert_int_equal(rows_len(whole), 7);
    g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
    struct vm_page_key after = {0};
    g_autofree char *last_name = NULL;
    for (int page = 0;; page++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(rows) p = OPS(f)->vms_page(f->st, NULL, page ? &after : NULL, 3, &err);
        assert_non_null(p);
        for (guint i = 0; i < rows_len(p); i++)
            g_ptr_array_add(seen, g_strdup(((struct vm_row *)rows_get(p, i))->name));
        if (rows_len(p) < 3)
            break;
        const struct vm_row *v = rows_get(p, rows_len(p) - 1);
        g_free(last_name);
        last_name = g_strdup(v->name);
        after = (struct vm_page_key){v->host_id, last_name, v->domain_id};
        if (page == 0) /* the last VM of page 1 goes: page 2 starts where it would have */
            remove_dom(f, v->domain_id, 1, "external", NULL, 0, T0 + SEC);
    }
    assert_int_equal(seen->len, 7);
    for (guint i = 0; i < 7; i++)
        assert_string_equal(g_ptr_array_index(seen, i),
                            ((struct vm_row *)rows_get(whole, i))->name);
    /* One host's VMs only. */
    g_autoptr(rows) b = OPS(f)->vms_page(f->st, &(struct vm_filter){.host = "b"}, NULL, 10, NULL);
    assert_int_equal(rows_len(b), 3);
    assert_string_equal(((struct vm_row *)rows_get(b, 0))->name, "b");
    (void)ids;
}

/* A domain's kind is worked out from its type: "container" for lxc, "vm"
 * for any other (none included); lists narrow by it, pages too, and a
 * kind no domain has lists nothing. */
static void test_vms_kind(void **state)
{
    struct fx *f = *state;
    int64_t ha = ensure_host(f, "a"), hb = ensure_host(f, "b");
    const struct {
        const char *name, *type;
        int64_t host;
    } doms[] = {{"ct1", "lxc", ha}, {"vm1", "kvm", ha}, {"vm2", NULL, ha}, {"ct2", "lxc", hb}};
    for (int i = 0; i < 4; i++) {
        g_autofree char *uuid = g_strdup_printf("00000000-0000-4000-8000-%012d", i + 100);
        g_autoptr(domain_info) d = dom_new(uuid, doms[i].name, "running");
        g_free(d->domain_type);
        d->domain_type = g_strdup(doms[i].type);
        struct store_change ch = {.to_version = 1,
                                  .new_xml = "<domain/>",
                                  .diff = "+created\n",
                                  .cause = {.cause = "created"}};
        put_dom(f, doms[i].host, d, &ch, T0);
    }
    assert_string_equal(domain_kind("lxc"), "container");
    assert_string_equal(domain_kind("qemu"), "vm");
    assert_string_equal(domain_kind(NULL), "vm");

    g_autoptr(rows) all = vms_of(f, NULL, 0, false);
    assert_int_equal(rows_len(all), 4);
    for (guint i = 0; i < rows_len(all); i++) {
        const struct vm_row *v = rows_get(all, i);
        assert_string_equal(v->kind, domain_kind(v->domain_type));
        assert_string_equal(v->kind, g_str_has_prefix(v->name, "ct") ? "container" : "vm");
    }
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) cts =
        rows_ok(OPS(f)->vms_query(f->st, &(struct vm_filter){.kind = "container"}, 0, false, &err),
                &err, "vms_query");
    assert_int_equal(rows_len(cts), 2);
    assert_string_equal(((struct vm_row *)rows_get(cts, 0))->name, "ct1");
    assert_string_equal(((struct vm_row *)rows_get(cts, 1))->name, "ct2");
    g_autoptr(rows) a_vms = rows_ok(
        OPS(f)->vms_query(f->st, &(struct vm_filter){.host = "a", .kind = "vm"}, 0, false, &err),
        &err, "vms_query");
    assert_int_equal(rows_len(a_vms), 2);
    assert_string_equal(((struct vm_row *)rows_get(a_vms, 0))->name, "vm1");
    g_autoptr(rows) none =
        rows_ok(OPS(f)->vms_query(f->st, &(struct vm_filter){.kind = "lxc"}, 0, false, &err), &err,
                "vms_query");
    assert_int_equal(rows_len(none), 0);
    /* With one VM asked for by id, the filter still applies. */
    const struct vm_row *ct1 = rows_get(cts, 0);
    g_autoptr(rows) one = rows_ok(
        OPS(f)->vms_query(f->st, &(struct vm_filter){.kind = "vm"}, ct1->domain_id, true, &err),
        &err, "vms_query");
    assert_int_equal(rows_len(one), 0);
    g_autoptr(rows) page =
        OPS(f)->vms_page(f->st, &(struct vm_filter){.kind = "container"}, NULL, 1, &err);
    assert_non_null(page);
    assert_int_equal(rows_len(page), 1);
    const struct vm_row *p0 = rows_get(page, 0);
    struct vm_page_key after = {p0->host_id, p0->name, p0->domain_id};
    g_autoptr(rows) page2 =
        OPS(f)->vms_page(f->st, &(struct vm_filter){.kind = "container"}, &after, 10, &err);
    assert_non_null(page2);
    assert_int_equal(rows_len(page2), 1);
    assert_string_equal(((struct vm_row *)rows_get(page2, 0))->name, "ct2");
}

/* The persistent definition's track: versions of its own, a change on
 * track "persistent" that may be pending, stamped applied when told, and a
 * count of pending changes on the VM's row. */
static void test_persistent_track(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    g_autoptr(domain_info) d = dom_new(UUID_A, "web", "running");
    g_autofree char *x1 = xml_of("web", UUID_A, 1024);
    struct store_change live = {
        .to_version = 1, .new_xml = x1, .diff = "+x", .cause = {.cause = "created"}};
    int64_t id = put_dom(f, h, d, &live, T0);

    /* A baseline: a version, no change row. */
    struct store_change base = {
        .to_version = 1, .new_xml = "<p1/>", .cause = {.cause = "external"}};
    int64_t cid = -1;
    assert_int_equal(OPS(f)->persistent_put(f->st, id, &base, false, NULL, 0, T0 + SEC, &cid, NULL),
                     0);
    assert_true(cid == 0);
    struct store_change pch = {.from_version = 1,
                               .to_version = 2,
                               .new_xml = "<p2/>",
                               .diff = "-<p1/>\n+<p2/>\n",
                               .cause = {.cause = "external"},
                               .pending = true};
    assert_int_equal(
        OPS(f)->persistent_put(f->st, id, &pch, true, NULL, 0, T0 + 2 * SEC, &cid, NULL), 0);
    assert_true(cid > 0);

    g_autofree char *p1 = NULL, *p2 = NULL;
    assert_int_equal(OPS(f)->persistent_get(f->st, id, 1, &p1, NULL), 0);
    assert_int_equal(OPS(f)->persistent_get(f->st, id, 2, &p2, NULL), 0);
    assert_string_equal(p1, "<p1/>");
    assert_string_equal(p2, "<p2/>");
    g_autofree char *live1 = NULL;
    assert_int_equal(OPS(f)->config_get(f->st, id, 1, &live1, NULL), 0);
    assert_string_equal(live1, x1); /* the tracks do not mix */

    g_autoptr(rows) cr = changes_of(f, id, 10);
    assert_int_equal(rows_len(cr), 2);
    const struct change_row *c = rows_get(cr, 0);
    assert_string_equal(c->track, "persistent");
    assert_true(c->pending && c->applied_at == 0 && c->id == cid && c->to_version == 2);
    assert_string_equal(((const struct change_row *)rows_get(cr, 1))->track, "live");
    g_autoptr(rows) pend = OPS(f)->changes_pending(f->st, h, NULL);
    assert_int_equal(rows_len(pend), 1);
    c = rows_get(pend, 0);
    assert_true(c->id == cid && c->domain_id == id);
    assert_string_equal(c->diff, "-<p1/>\n+<p2/>\n");
    g_autoptr(rows) vr = OPS(f)->vms_query(f->st, &(struct vm_filter){.host = "a"}, 0, false, NULL);
    assert_int_equal(((const struct vm_row *)rows_get(vr, 0))->pending_changes, 1);

    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_domain_ref));
    g_array_set_clear_func(refs, (GDestroyNotify)store_domain_ref_clear);
    assert_int_equal(OPS(f)->domains_load(f->st, h, refs, NULL), 0);
    const struct store_domain_ref *ref = &g_array_index(refs, struct store_domain_ref, 0);
    assert_true(ref->persistent_version == 2 && ref->config_version == 1);
    assert_string_equal(ref->persistent_xml, "<p2/>");

    /* Applied: no longer pending, stamped; an id of another domain is
     * left alone. */
    int64_t ids[] = {cid, 999};
    assert_int_equal(
        OPS(f)->persistent_put(f->st, id, NULL, false, ids, 2, T0 + 3 * SEC, NULL, NULL), 0);
    g_autoptr(rows) cr2 = changes_of(f, id, 10);
    c = rows_get(cr2, 0);
    assert_true(!c->pending && c->applied_at == T0 + 3 * SEC);
    g_autoptr(rows) pend2 = OPS(f)->changes_pending(f->st, h, NULL);
    assert_int_equal(rows_len(pend2), 0);
    g_autoptr(rows) vr2 =
        OPS(f)->vms_query(f->st, &(struct vm_filter){.host = "a"}, 0, false, NULL);
    assert_int_equal(((const struct vm_row *)rows_get(vr2, 0))->pending_changes, 0);
}

/* The operations record: a pass written in one transaction reads back as
 * the engine starts from it; a delivery key is queued once per route
 * however often its transition is written (a restart writing it again);
 * the outbox hands out what is due and records attempts; pruning keeps
 * incidents and pending deliveries. */
static void test_ops_record(void **state)
{
    struct fx *f = *state;
    const int64_t S = 1000000;
    struct incident *inc = incident_new();
    inc->id = 7;
    inc->condition = g_strdup("host-unreachable");
    inc->item = g_strdup("host:n1");
    inc->item_name = g_strdup("n1");
    inc->severity = SEV_CRITICAL;
    inc->title = g_strdup("n1 unreachable");
    inc->opened_us = inc->updated_us = 100 * S;
    inc->seq = 1;
    incident_add_affected(inc, "vm:a", "a");
    incident_add_affected(inc, "vm:b", "b");
    struct event *ev = event_new(100 * S, "host:n1", "n1", NULL, "host.unreachable",
                                 "host-unreachable", true, SEV_CRITICAL, "n1 unreachable");
    ev->id = 3;
    ev->incident_id = 7;
    struct event *old = event_new(10 * S, "kanrid", "kanrid", NULL, "kanrid.started", NULL, false,
                                  SEV_INFO, "started");
    old->id = 2;
    struct incident_change ch = {.incident_id = 7, .what = IT_OPENED, .at_us = 100 * S, .seq = 1,
                                 .notify = true};
    struct delivery d[] = {
        {.route = "hook", .key = "kanri-7-1", .incident_id = 7, .payload = "{}",
         .created_us = 100 * S, .next_try_us = 100 * S},
        {.route = "log", .key = "kanri-7-1", .incident_id = 7, .payload = "{}",
         .created_us = 100 * S, .next_try_us = 200 * S},
    };
    struct event *evs[] = {old, ev};
    struct store_ops_write w = {.events = evs, .n_events = 2, .incidents = &inc, .n_incidents = 1,
                                .changes = &ch, .n_changes = 1, .deliveries = d,
                                .n_deliveries = 2};
    assert_int_equal(OPS(f)->ops_write(f->st, &w, NULL), 0);
    /* written again (after a restart): still one delivery per route and key */
    w.n_events = 0;
    assert_int_equal(OPS(f)->ops_write(f->st, &w, NULL), 0);
    g_autoptr(rows) out = OPS(f)->outbox_query(f->st, 7, 10, NULL);
    assert_int_equal(rows_len(out), 2);

    reopen(f);
    struct store_ops_state ld = {0};
    assert_int_equal(OPS(f)->ops_load(f->st, 0, NULL, &ld, NULL), 0);
    assert_int_equal(ld.incidents->len, 1);
    const struct incident *back = g_ptr_array_index(ld.incidents, 0);
    assert_int_equal(back->id, 7);
    assert_string_equal(back->condition, "host-unreachable");
    assert_int_equal(back->severity, SEV_CRITICAL);
    assert_int_equal(back->state, INCIDENT_OPEN);
    assert_int_equal(back->affected->len, 2);
    assert_int_equal(ld.max_event_id, 3);
    assert_int_equal(ld.max_incident_id, 7);
    g_ptr_array_unref(ld.incidents);
    g_ptr_array_unref(ld.suggested);
    /* One host's: the host's own incident is n1's, not n2's. */
    for (int i = 0; i < 2; i++) {
        struct store_ops_state one = {0};
        assert_int_equal(OPS(f)->ops_load(f->st, 0, i ? "n2" : "n1", &one, NULL), 0);
        assert_int_equal(one.incidents->len, i ? 0 : 1);
        g_ptr_array_unref(one.incidents);
        g_ptr_array_unref(one.suggested);
    }

    /* due at 150 s: the hook's, not the log's (due at 200 s) */
    g_autoptr(GArray) due = g_array_new(FALSE, TRUE, sizeof(struct delivery));
    g_array_set_clear_func(due, (GDestroyNotify)delivery_clear);
    assert_int_equal(OPS(f)->outbox_due(f->st, 150 * S, 10, due, NULL), 0);
    assert_int_equal(due->len, 1);
    struct delivery *got = &g_array_index(due, struct delivery, 0);
    assert_string_equal(got->route, "hook");
    assert_int_equal(OPS(f)->outbox_done(f->st, got->id, "pending", "HTTP 503", 160 * S,
                                         150 * S, NULL), 0);
    g_array_set_size(due, 0);
    assert_int_equal(OPS(f)->outbox_due(f->st, 155 * S, 10, due, NULL), 0);
    assert_int_equal(due->len, 0);
    assert_int_equal(OPS(f)->outbox_due(f->st, 300 * S, 10, due, NULL), 0);
    assert_int_equal(due->len, 2);
    int64_t hook_id = g_array_index(due, struct delivery, 0).id;
    assert_int_equal(g_array_index(due, struct delivery, 0).attempts, 1);
    assert_int_equal(OPS(f)->outbox_done(f->st, hook_id, "delivered", NULL, 300 * S, 300 * S,
                                         NULL), 0);

    /* comments go to the log; an unknown incident is -ENOENT */
    assert_int_equal(OPS(f)->incident_comment(f->st, 7, "alice", "looking", 120 * S, NULL), 0);
    assert_int_equal(OPS(f)->incident_comment(f->st, 8, "alice", "x", 120 * S, NULL), -ENOENT);
    g_autoptr(rows) log = OPS(f)->incident_log(f->st, 7, NULL);
    assert_int_equal(rows_len(log), 2);
    assert_string_equal(((struct incident_log_row *)rows_get(log, 1))->what, "comment");

    /* events: by kind prefix and severity; pruning drops old events and
     * finished deliveries only */
    struct store_event_query q = {.kind = "host.", .limit = 10};
    g_autoptr(rows) hev = OPS(f)->events_query(f->st, &q, NULL);
    assert_int_equal(rows_len(hev), 1);
    q = (struct store_event_query){.min_severity = SEV_WARNING, .limit = 10};
    g_autoptr(rows) sev = OPS(f)->events_query(f->st, &q, NULL);
    assert_int_equal(rows_len(sev), 1);
    unsigned pruned = 0;
    assert_int_equal(OPS(f)->events_prune(f->st, 400 * S, &pruned, NULL), 0);
    assert_int_equal(pruned, 2);
    g_autoptr(rows) left = OPS(f)->outbox_query(f->st, 0, 10, NULL);
    assert_int_equal(rows_len(left), 1); /* the pending log delivery */
    struct store_incident_query iq = {.state = "open", .item = "vm:b", .limit = 10};
    g_autoptr(rows) byaff = OPS(f)->incidents_query(f->st, &iq, NULL);
    assert_int_equal(rows_len(byaff), 1); /* found by an affected item */

    incident_free(inc);
    event_free(ev);
    event_free(old);
}

static void test_query_shapes(void **state)
{
    struct fx *f = *state;
    g_autoptr(GError) err = NULL;
    int64_t h = ensure_host(f, "a");
    struct host_info info = {.driver = (char *)"QEMU",
                             .hv_version = (char *)"7.2.0",
                             .libvirt_version = (char *)"9.0.0",
                             .hostname = (char *)"node1",
                             .cpu_model = (char *)"x86_64",
                             .cpus = 2,
                             .mhz = 2000,
                             .memory_bytes = G_GUINT64_CONSTANT(25769803776),
                             .numa_cells = 1};
    assert_int_equal(OPS(f)->host_put_info(f->st, h, &info, T0, NULL), 0);
    assert_int_equal(OPS(f)->host_put_state(f->st, h, HOST_CONNECTED, NULL, T0, T0, NULL), 0);
    g_autofree char *xml = xml_of("web", UUID_A, 1024);
    create_dom(f, h, UUID_A, "web", "running", xml, T0);

    /* hosts: every field, connected (no reason) then unreachable (no
     * connected_since); not in maintenance (test_policy_store.c). */
    g_autoptr(rows) hr = hosts_of(f, NULL);
    assert_int_equal(rows_len(hr), 1);
    expect_filled(hr, 0,
                  (const char *const[]){"reason", "maintenance_since", "maintenance_by",
                                        "maintenance_reason", NULL});
    g_autoptr(rows) hr_keep = NULL;
    assert_int_equal(OPS(f)->host_put_state(f->st, h, HOST_UNREACHABLE, "down", T0 + SEC, 0, NULL),
                     0);
    struct host_row *host = host_now(f, &hr_keep, "a");
    assert_string_equal(host->reason, "down");
    expect_filled(hr_keep, 0,
                  (const char *const[]){"connected_since", "maintenance_since", "maintenance_by",
                                        "maintenance_reason", NULL});

    /* vms: every field but the XML, then with it. */
    g_autoptr(rows) vr = vms_of(f, NULL, 0, false);
    assert_int_equal(rows_len(vr), 1);
    expect_filled(vr, 0, (const char *const[]){"xml", NULL});
    g_autoptr(rows) vx = vms_of(f, "a", ((struct vm_row *)rows_get(vr, 0))->domain_id, true);
    assert_int_equal(rows_len(vx), 1);
    expect_filled(vx, 0, NULL);
    assert_string_equal(((struct vm_row *)rows_get(vx, 0))->xml, xml);

    /* pools, replaced as a whole per host. */
    g_autoptr(GPtrArray) pools = g_ptr_array_new_with_free_func((GDestroyNotify)pool_info_free);
    struct pool_info *p = g_new0(struct pool_info, 1);
    p->name = g_strdup("default");
    p->uuid = g_strdup(UUID_C);
    p->state = g_strdup("running");
    p->capacity = 100;
    p->allocation = 40;
    p->available = 60;
    p->target_path = g_strdup("/var/lib/libvirt/images");
    g_ptr_array_add(pools, p);
    struct pool_info *p2 = g_new0(struct pool_info, 1);
    p2->name = g_strdup("big");
    p2->uuid = g_strdup(UUID_B);
    p2->state = g_strdup("inactive");
    p2->capacity = G_GUINT64_CONSTANT(4398046511104);
    g_ptr_array_add(pools, p2);
    assert_int_equal(OPS(f)->pools_replace(f->st, h, pools, T0, NULL), 0);
    g_autoptr(rows) pr = rows_ok(OPS(f)->pools_query(f->st, NULL, &err), &err, "pools_query");
    assert_int_equal(rows_len(pr), 2);
    /* By name within a host. */
    struct pool_row *pb = rows_get(pr, 0), *pd = rows_get(pr, 1);
    assert_string_equal(pb->name, "big");
    assert_int_equal(pb->capacity_bytes, G_GINT64_CONSTANT(4398046511104));
    assert_string_equal(pb->state, "inactive");
    assert_null(pb->target_path);
    assert_string_equal(pd->host, "a");
    assert_int_equal(pd->host_id, h);
    assert_string_equal(pd->name, "default");
    assert_string_equal(pd->uuid, UUID_C);
    assert_string_equal(pd->state, "running");
    assert_int_equal(pd->capacity_bytes, 100);
    assert_int_equal(pd->allocation_bytes, 40);
    assert_int_equal(pd->available_bytes, 60);
    assert_string_equal(pd->target_path, "/var/lib/libvirt/images");
    assert_int_equal(pd->updated_at, T0);
    expect_filled(pr, 1, NULL);
    g_ptr_array_remove_index(pools, 0);
    assert_int_equal(OPS(f)->pools_replace(f->st, h, pools, T0 + SEC, NULL), 0);
    g_autoptr(rows) pr2 = rows_ok(OPS(f)->pools_query(f->st, "a", &err), &err, "pools_query");
    assert_int_equal(rows_len(pr2), 1);
    assert_string_equal(((struct pool_row *)rows_get(pr2, 0))->name, "big");
    assert_int_equal(((struct pool_row *)rows_get(pr2, 0))->updated_at, T0 + SEC);
    g_autoptr(rows) pr3 = rows_ok(OPS(f)->pools_query(f->st, "b", &err), &err, "pools_query");
    assert_int_equal(rows_len(pr3), 0);

    /* networks */
    g_autoptr(GPtrArray) nets = g_ptr_array_new_with_free_func((GDestroyNotify)network_info_free);
    struct network_info *n = g_new0(struct network_info, 1);
    n->name = g_strdup("default");
    n->uuid = g_strdup(UUID_B);
    n->active = true;
    n->bridge = g_strdup("virbr0");
    g_ptr_array_add(nets, n);
    assert_int_equal(OPS(f)->networks_replace(f->st, h, nets, T0, NULL), 0);
    g_autoptr(rows) nr = rows_ok(OPS(f)->networks_query(f->st, "a", &err), &err, "networks_query");
    assert_int_equal(rows_len(nr), 1);
    struct network_row *nw = rows_get(nr, 0);
    assert_string_equal(nw->host, "a");
    assert_int_equal(nw->host_id, h);
    assert_string_equal(nw->name, "default");
    assert_string_equal(nw->uuid, UUID_B);
    assert_true(nw->active);
    assert_string_equal(nw->bridge, "virbr0");
    assert_int_equal(nw->updated_at, T0);
    expect_filled(nr, 0, NULL);

    /* changes: an attributed one has every field. */
    g_autoptr(domain_info) d = dom_new(UUID_A, "web", "running");
    g_autofree char *x2 = xml_of("web", UUID_A, 2048);
    struct store_change ch = {.from_version = 1,
                              .to_version = 2,
                              .new_xml = x2,
                              .diff = "d",
                              .cause = {.cause = "action", .actor = "alice", .audit_id = 5}};
    int64_t id = put_dom(f, h, d, &ch, T0 + SEC);
    g_autoptr(rows) cr = changes_of(f, id, 10);
    /* Only a change that was pending is ever applied. */
    expect_filled(cr, 0, (const char *const[]){"applied_at", NULL});

    /* audit: a failed entry, re-checked once its host was back, has every
     * field; before the re-check, only those two are absent. */
    int64_t aid = 0;
    assert_int_equal(OPS(f)->audit_begin(f->st, "alice", 1, "setmem", "web", UUID_A, "a",
                                         "{\"memory_mib\": 512}", &aid, NULL),
                     0);
    assert_int_equal(OPS(f)->audit_end(f->st, aid, false, "outcome unknown", NULL), 0);
    g_autoptr(rows) ar0 = audit_of(f, NULL, 10);
    expect_filled(ar0, 0, (const char *[]){"checked_at", "checked_state", NULL});
    assert_int_equal(OPS(f)->audit_checked(f->st, aid, "running", T0 + 2 * SEC, NULL), 0);
    g_autoptr(rows) ar = audit_of(f, NULL, 10);
    expect_filled(ar, 0, NULL);
    const struct audit_row *au = rows_get(ar, 0);
    assert_string_equal(au->checked_state, "running");
    assert_true(au->checked_at == T0 + 2 * SEC);

    /* agents: enrolled (a guest token bound to the machine), then its
     * contacts: accepted, a backfilled older sample, a rejected one. */
    int64_t tid = 0;
    assert_int_equal(OPS(f)->agent_enroll(f->st, UUID_A, "web-agent", "hash-agent", &tid, NULL), 0);
    struct store_token tok = {0};
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-agent", &tok, NULL), 0);
    assert_int_equal(tok.id, tid);
    assert_string_equal(tok.role, "guest");
    assert_string_equal(tok.machine_uuid, UUID_A);
    store_token_clear(&tok);
    /* Enrolling again rotates the credential. */
    int64_t tid2 = 0;
    assert_int_equal(OPS(f)->agent_enroll(f->st, UUID_A, "web-agent", "hash-agent2", &tid2, NULL),
                     0);
    assert_true(tid2 > tid);
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-agent", &tok, NULL), -ENOENT);
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-agent2", &tok, NULL), 0);
    store_token_clear(&tok);

    struct store_agent_contact c = {.machine_uuid = UUID_A,
                                    .received_us = T0 + 2500000,
                                    .agent_name = "kanri-guestd",
                                    .agent_version = "0.3",
                                    .hostname = "web",
                                    .id_source = "dmi",
                                    .seq = 5,
                                    .sample_time_us = T0,
                                    .spool_backlog = 3,
                                    .spool_dropped = 1};
    assert_int_equal(OPS(f)->agent_contact(f->st, &c, NULL), 0);
    struct store_agent_contact old = c;
    old.received_us = T0 + 4 * SEC;
    old.seq = 3;
    old.sample_time_us = T0 - 60 * SEC;
    assert_int_equal(OPS(f)->agent_contact(f->st, &old, NULL), 0);
    struct store_agent_contact rej = {
        .machine_uuid = UUID_A, .received_us = T0 + 6 * SEC, .error_text = "bad document"};
    assert_int_equal(OPS(f)->agent_contact(f->st, &rej, NULL), 0);
    g_autoptr(rows) agr = rows_ok(OPS(f)->agents_query(f->st, &err), &err, "agents_query");
    assert_int_equal(rows_len(agr), 1);
    struct agent_row *ag = rows_get(agr, 0);
    assert_string_equal(ag->machine_uuid, UUID_A);
    assert_string_equal(ag->name, "web-agent");
    assert_string_equal(ag->vm, "web");
    assert_string_equal(ag->host, "a");
    assert_string_equal(ag->hostname, "web");
    assert_string_equal(ag->agent_name, "kanri-guestd");
    assert_string_equal(ag->agent_version, "0.3");
    assert_string_equal(ag->id_source, "dmi");
    assert_true(ag->enrolled_at > 0);
    assert_int_equal(ag->last_contact, T0 + 6 * SEC);
    /* The newest sample stays the newest; the backfill only counts. */
    assert_int_equal(ag->last_sample_time, T0);
    assert_int_equal(ag->last_seq, 5);
    assert_true(ag->lag_seconds == 2.5);
    assert_int_equal(ag->spool_backlog, 3);
    assert_int_equal(ag->spool_dropped, 1);
    assert_int_equal(ag->accepted, 2);
    assert_int_equal(ag->duplicates, 0);
    assert_int_equal(ag->rejected, 1);
    assert_string_equal(ag->last_error, "bad document");
    assert_int_equal(ag->last_error_at, T0 + 6 * SEC);
    expect_filled(agr, 0, NULL);
    struct store_agent_contact dup = c;
    dup.duplicate = true;
    dup.received_us = T0 + 7 * SEC;
    assert_int_equal(OPS(f)->agent_contact(f->st, &dup, NULL), 0);
    g_autoptr(rows) agr2 = rows_ok(OPS(f)->agents_query(f->st, &err), &err, "agents_query");
    ag = rows_get(agr2, 0);
    assert_int_equal(ag->accepted, 2);
    assert_int_equal(ag->duplicates, 1);

    /* findings: a closed one has every field. */
    struct finding_write fw[] = {
        finding(FINDING_OPEN, h, RULE, "warning", T0, T0, 1.0, "m"),
        finding(FINDING_CLOSE, h, RULE, "warning", 0, T0 + SEC, 0.5, "closed"),
    };
    struct store_round w = {.findings = fw, .n_findings = 2};
    round_ok(f, &w);
    g_autoptr(rows) fr = findings_of(f, NULL, NULL, NULL);
    assert_int_equal(rows_len(fr), 1);
    expect_filled(fr, 0, NULL);
    /* A finding of a VM the inventory does not know is named by UUID. */
    struct finding_write fu = finding(FINDING_OPEN, h, RULE, "info", T0, T0, 1.0, "m");
    fu.uuid = (char *)UUID_C;
    struct store_round wu = {.findings = &fu, .n_findings = 1};
    round_ok(f, &wu);
    g_autoptr(rows) fru = findings_of(f, "open", NULL, UUID_C);
    assert_int_equal(rows_len(fru), 1);
    assert_string_equal(((struct finding_row *)rows_get(fru, 0))->vm, UUID_C);
    assert_string_equal(((struct finding_row *)rows_get(fru, 0))->host, "a");

    /* view availability: an unavailable part has every field. */
    struct store_view_status_write vs = {UUID_A, h, "guest-agent", false, "no channel", T0, T0};
    struct store_round wv = {.status = &vs, .n_status = 1};
    round_ok(f, &wv);
    g_autoptr(rows) sr = status_of(f, UUID_A);
    assert_int_equal(rows_len(sr), 1);
    expect_filled(sr, 0, NULL);
}

/* ---- durability and privacy ---- */

/* A VFS over the default one that counts syncs of write-ahead logs: what
 * "durable when acknowledged" means for SQLite in WAL mode. */
static sqlite3_vfs counting_vfs;
static sqlite3_vfs *base_vfs;
static int wal_syncs;

struct counting_file {
    sqlite3_file base; /* pMethods: counting_io */
    bool wal;
    sqlite3_file real[]; /* base_vfs->szOsFile bytes */
};

static sqlite3_io_methods counting_io;

static int c_close(sqlite3_file *f)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xClose(c->real);
}
static int c_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xRead(c->real, b, n, o);
}
static int c_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xWrite(c->real, b, n, o);
}
static int c_truncate(sqlite3_file *f, sqlite3_int64 n)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xTruncate(c->real, n);
}
static int c_sync(sqlite3_file *f, int flags)
{
    struct counting_file *c = (struct counting_file *)f;
    if (c->wal)
        g_atomic_int_inc(&wal_syncs);
    return c->real->pMethods->xSync(c->real, flags);
}
static int c_size(sqlite3_file *f, sqlite3_int64 *n)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xFileSize(c->real, n);
}
static int c_lock(sqlite3_file *f, int l)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xLock(c->real, l);
}
static int c_unlock(sqlite3_file *f, int l)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xUnlock(c->real, l);
}
static int c_check(sqlite3_file *f, int *r)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xCheckReservedLock(c->real, r);
}
static int c_fcntl(sqlite3_file *f, int op, void *a)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xFileControl(c->real, op, a);
}
static int c_sector(sqlite3_file *f)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xSectorSize(c->real);
}
static int c_devchar(sqlite3_file *f)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xDeviceCharacteristics(c->real);
}
static int c_shmmap(sqlite3_file *f, int i, int sz, int ext, void volatile **p)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xShmMap(c->real, i, sz, ext, p);
}
static int c_shmlock(sqlite3_file *f, int o, int n, int fl)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xShmLock(c->real, o, n, fl);
}
static void c_shmbarrier(sqlite3_file *f)
{
    struct counting_file *c = (struct counting_file *)f;
    c->real->pMethods->xShmBarrier(c->real);
}
static int c_shmunmap(sqlite3_file *f, int del)
{
    struct counting_file *c = (struct counting_file *)f;
    return c->real->pMethods->xShmUnmap(c->real, del);
}

static int c_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
    struct counting_file *c = (struct counting_file *)f;
    c->base.pMethods = NULL;
    int rc = base_vfs->xOpen(base_vfs, name, c->real, flags, out);
    if (rc == SQLITE_OK && c->real->pMethods) {
        c->wal = (flags & SQLITE_OPEN_WAL) != 0;
        c->base.pMethods = &counting_io;
    }
    return rc;
}

static void counting_vfs_register(void)
{
    base_vfs = sqlite3_vfs_find(NULL);
    counting_io = (sqlite3_io_methods){
        .iVersion = 2,
        .xClose = c_close,
        .xRead = c_read,
        .xWrite = c_write,
        .xTruncate = c_truncate,
        .xSync = c_sync,
        .xFileSize = c_size,
        .xLock = c_lock,
        .xUnlock = c_unlock,
        .xCheckReservedLock = c_check,
        .xFileControl = c_fcntl,
        .xSectorSize = c_sector,
        .xDeviceCharacteristics = c_devchar,
        .xShmMap = c_shmmap,
        .xShmLock = c_shmlock,
        .xShmBarrier = c_shmbarrier,
        .xShmUnmap = c_shmunmap,
    };
    counting_vfs = *base_vfs;
    counting_vfs.zName = "kanri-counting";
    counting_vfs.szOsFile = (int)sizeof(struct counting_file) + base_vfs->szOsFile;
    counting_vfs.xOpen = c_open;
    counting_vfs.pNext = NULL;
    assert_int_equal(sqlite3_vfs_register(&counting_vfs, 1), SQLITE_OK);
}

static unsigned mode_of(const char *path, const char *suffix)
{
    g_autofree char *p = g_strconcat(path, suffix, NULL);
    GStatBuf st;
    if (g_stat(p, &st) < 0)
        fail_msg("stat %s: %s", p, g_strerror(errno));
    return st.st_mode & 0777;
}

static void test_durable_and_private(void **state)
{
    struct fx *f = *state;
    /* Files only kanrid's user can read, the WAL and its index too; an
     * older, wider database is narrowed on open. */
    assert_int_equal(mode_of(f->path, ""), 0600);
    store_close(f->st);
    f->st = NULL;
    g_chmod(f->path, 0644);
    counting_vfs_register();
    reopen(f);
    assert_int_equal(mode_of(f->path, ""), 0600);
    assert_int_equal(mode_of(f->path, "-wal"), 0600);
    assert_int_equal(mode_of(f->path, "-shm"), 0600);

    /* An acknowledged guest sample has been synced to the log; a second
     * acknowledgement syncs again (not only at checkpoints). */
    int before = g_atomic_int_get(&wal_syncs);
    assert_false(insert_sample(f, UUID_A, "kanri-guestd", T0, 1, 1 << 30));
    int after_one = g_atomic_int_get(&wal_syncs);
    assert_true(after_one > before);
    assert_false(insert_sample(f, UUID_A, "kanri-guestd", T0 + SEC, 2, 1 << 30));
    assert_true(g_atomic_int_get(&wal_syncs) > after_one);
    /* ... and the connection is back to NORMAL for the rounds. */
    int syncs = g_atomic_int_get(&wal_syncs);
    int64_t h = ensure_host(f, "sync-check");
    (void)h;
    assert_int_equal(g_atomic_int_get(&wal_syncs), syncs);

    store_close(f->st);
    f->st = NULL;
    sqlite3_vfs_unregister(&counting_vfs);
    reopen(f);
}

/* ---- instances and leases ---- */

static GArray *held_after(struct fx *f, const char *me, const char *const *renew, size_t n_renew,
                          const char *const *take, size_t n_take, const char *const *give_up,
                          size_t n_give_up, int64_t now)
{
    struct store_lease_plan p = {renew, take, give_up, n_renew, n_take, n_give_up};
    GArray *held = g_array_new(FALSE, TRUE, sizeof(struct store_lease));
    g_autoptr(GError) err = NULL;
    if (OPS(f)->leases_apply(f->st, me, &p, now, 30 * SEC, held, &err) < 0)
        fail_msg("leases_apply: %s", err->message);
    return held;
}

static char *hosts_of_leases(GArray *a)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < a->len; i++)
        g_string_append_printf(s, "%s%s", i ? "," : "",
                               g_array_index(a, struct store_lease, i).host);
    return g_string_free(s, FALSE);
}

/* Heartbeats, takings that only count on free hosts, renewals, giving
 * up, and leaving: what the lease planner's decisions become. */
static void test_cluster_leases(void **state)
{
    struct fx *f = *state;
    g_autoptr(GError) err = NULL;
    struct store_instance a = {.id = (char *)"ia",
                               .name = (char *)"node-a",
                               .api_url = (char *)"https://a:8443",
                               .tls_pin = (char *)"sha256//AAAA",
                               .version = (char *)"1.0",
                               .started_us = T0};
    struct store_instance b = {
        .id = (char *)"ib", .name = (char *)"node-b", .version = (char *)"1.0", .started_us = T0};
    assert_int_equal(OPS(f)->instance_beat(f->st, &a, T0, &err), 0);
    assert_int_equal(OPS(f)->instance_beat(f->st, &b, T0, &err), 0);
    assert_int_equal(OPS(f)->instance_beat(f->st, &a, T0 + 10 * SEC, &err), 0);

    static const char *const ab[] = {"h1", "h2"}, *const h2[] = {"h2"}, *const h1[] = {"h1"};
    /* a takes h1 and h2; b then asks for h2 too and gets nothing. */
    g_autoptr(GArray) held = held_after(f, "ia", NULL, 0, ab, 2, NULL, 0, T0 + 10 * SEC);
    g_autofree char *got = hosts_of_leases(held);
    assert_string_equal(got, "h1,h2");
    assert_int_equal(g_array_index(held, struct store_lease, 0).epoch, 1);
    assert_int_equal(g_array_index(held, struct store_lease, 0).expires_us, T0 + 40 * SEC);
    g_autoptr(GArray) none = held_after(f, "ib", NULL, 0, h2, 1, NULL, 0, T0 + 11 * SEC);
    assert_int_equal(none->len, 0);
    /* a renews h1 and gives up h2; b takes h2, whose epoch grows. */
    g_autoptr(GArray) held2 = held_after(f, "ia", h1, 1, NULL, 0, h2, 1, T0 + 20 * SEC);
    g_autofree char *got2 = hosts_of_leases(held2);
    assert_string_equal(got2, "h1");
    assert_int_equal(g_array_index(held2, struct store_lease, 0).expires_us, T0 + 50 * SEC);
    g_autoptr(GArray) held3 = held_after(f, "ib", NULL, 0, h2, 1, NULL, 0, T0 + 21 * SEC);
    assert_int_equal(held3->len, 1);
    assert_int_equal(g_array_index(held3, struct store_lease, 0).epoch, 2);
    /* At 45 s a renews h1 (to 75 s) and asks for h2, which b holds until
     * 51 s: it gets h1 only. */
    g_autoptr(GArray) held4 = held_after(f, "ia", h1, 1, h2, 1, NULL, 0, T0 + 45 * SEC);
    g_autofree char *got4 = hosts_of_leases(held4);
    assert_string_equal(got4, "h1");
    /* At 60 s b's renewal comes too late: an expired lease is not brought
     * back, and a takes h2 over, its epoch grown again. */
    g_autoptr(GArray) held5 = held_after(f, "ib", h2, 1, NULL, 0, NULL, 0, T0 + 60 * SEC);
    assert_int_equal(held5->len, 0);
    g_autoptr(GArray) held6 = held_after(f, "ia", NULL, 0, h2, 1, NULL, 0, T0 + 60 * SEC);
    g_autofree char *got6 = hosts_of_leases(held6);
    assert_string_equal(got6, "h1,h2");
    assert_int_equal(g_array_index(held6, struct store_lease, 1).epoch, 3);

    /* Read back: both instances, both leases. */
    g_autoptr(GArray) inst = g_array_new(FALSE, TRUE, sizeof(struct store_instance));
    g_autoptr(GArray) leases = g_array_new(FALSE, TRUE, sizeof(struct store_lease));
    assert_int_equal(OPS(f)->cluster_read(f->st, inst, leases, &err), 0);
    assert_int_equal(inst->len, 2);
    const struct store_instance *ia = &g_array_index(inst, struct store_instance, 0);
    assert_string_equal(ia->id, "ia");
    assert_string_equal(ia->api_url, "https://a:8443");
    assert_string_equal(ia->tls_pin, "sha256//AAAA");
    assert_int_equal(ia->heartbeat_us, T0 + 10 * SEC);
    assert_null(g_array_index(inst, struct store_instance, 1).api_url);
    assert_int_equal(leases->len, 2);
    assert_string_equal(g_array_index(leases, struct store_lease, 1).holder, "ia");

    /* Renewal alone: at 70 s a's heartbeat, and both its leases (held to
     * 90 s) to 100 s; past their expiry nothing is brought back. */
    unsigned renewed = 0;
    assert_int_equal(OPS(f)->leases_renew(f->st, "ia", T0 + 70 * SEC, 30 * SEC, &renewed, &err), 0);
    assert_int_equal(renewed, 2);
    g_array_set_size(inst, 0);
    g_array_set_size(leases, 0);
    assert_int_equal(OPS(f)->cluster_read(f->st, inst, leases, &err), 0);
    assert_int_equal(g_array_index(inst, struct store_instance, 0).heartbeat_us, T0 + 70 * SEC);
    assert_int_equal(g_array_index(inst, struct store_instance, 1).heartbeat_us, T0);
    for (guint i = 0; i < leases->len; i++)
        assert_int_equal(g_array_index(leases, struct store_lease, i).expires_us, T0 + 100 * SEC);
    assert_int_equal(OPS(f)->leases_renew(f->st, "ia", T0 + 101 * SEC, 30 * SEC, &renewed, &err),
                     0);
    assert_int_equal(renewed, 0);

    /* a leaves: its row goes, its leases are free at once. */
    assert_int_equal(OPS(f)->instance_leave(f->st, "ia", &err), 0);
    g_array_set_size(inst, 0);
    g_array_set_size(leases, 0);
    assert_int_equal(OPS(f)->cluster_read(f->st, inst, leases, &err), 0);
    assert_int_equal(inst->len, 1);
    for (guint i = 0; i < leases->len; i++)
        assert_null(g_array_index(leases, struct store_lease, i).holder);
    g_autoptr(GArray) held7 = held_after(f, "ib", NULL, 0, ab, 2, NULL, 0, T0 + 61 * SEC);
    assert_int_equal(held7->len, 2);
}

/* What other instances took in: one source's guest samples received
 * after a time, oldest first, at most N, complete. */
static void test_guest_samples_received(void **state)
{
    struct fx *f = *state;
    g_autoptr(GError) err = NULL;
    struct guest_sample g[4];
    guest_sample_fill(&g[0], UUID_A, "kanri-guestd", T0, 1, 100);
    guest_sample_fill(&g[1], UUID_B, "kanri-guestd", T0 + SEC, 7, 200);
    guest_sample_fill(&g[2], UUID_A, "kanri-guestd", T0 + 2 * SEC, 2, 300);
    guest_sample_fill(&g[3], UUID_A, "qga", T0 + 3 * SEC, SAMPLE_ABSENT, 400);
    const struct guest_sample *gs[] = {&g[0], &g[1], &g[2], &g[3]};
    struct store_round w = {.guests = gs, .n_guests = 4};
    round_ok(f, &w);
    g_autoptr(GArray) got = g_array_new(FALSE, TRUE, sizeof(struct guest_sample));
    g_array_set_clear_func(got, (GDestroyNotify)guest_sample_clear);
    /* Received at T0 + 1 s, + 2 s, + 3 s: after T0 + 1 s, the later two. */
    assert_int_equal(OPS(f)->guest_samples_received(f->st, "kanri-guestd", T0 + SEC, 10, got, &err),
                     0);
    assert_int_equal(got->len, 2);
    const struct guest_sample *a = &g_array_index(got, struct guest_sample, 0);
    assert_string_equal(a->machine_uuid, UUID_B);
    assert_int_equal(a->seq, 7);
    assert_int_equal(a->mem_available, 200);
    assert_string_equal(a->extra_json, "{\"k\":1}");
    assert_int_equal(g_array_index(got, struct guest_sample, 1).seq, 2);
    g_array_set_size(got, 0);
    assert_int_equal(OPS(f)->guest_samples_received(f->st, "kanri-guestd", 0, 1, got, &err), 0);
    assert_int_equal(got->len, 1);
    assert_int_equal(g_array_index(got, struct guest_sample, 0).seq, 1);
    for (int i = 0; i < 4; i++)
        guest_sample_clear(&g[i]);
}

/* A round written under a lease goes in only while its writer holds the
 * lease under the epoch it was collected under; a stale holder's round
 * is refused whole, in words. */
static void test_round_fenced_by_the_lease(void **state)
{
    struct fx *f = *state;
    g_autoptr(GError) err = NULL;
    int64_t h = ensure_host(f, "h1");
    static const char *const h1[] = {"h1"};
    g_autoptr(GArray) a = held_after(f, "ia", NULL, 0, h1, 1, NULL, 0, T0);
    assert_int_equal(g_array_index(a, struct store_lease, 0).epoch, 1);

    struct store_fence fence = {"h1", "ia", 1};
    struct store_state_write s1[] = {{UUID_A, h, T0, "by-a"}};
    struct store_round w = {.fence = &fence, .states = s1, .n_states = 1};
    round_ok(f, &w);

    /* a's lease runs out; b takes h1 (epoch 2).  a's next round, made
     * under epoch 1, is refused and changes nothing. */
    g_autoptr(GArray) b = held_after(f, "ib", NULL, 0, h1, 1, NULL, 0, T0 + 31 * SEC);
    assert_int_equal(g_array_index(b, struct store_lease, 0).epoch, 2);
    struct store_state_write s2[] = {{UUID_A, h, T0 + 31 * SEC, "by-a-late"}};
    w.states = s2;
    assert_int_equal(OPS(f)->round_write(f->st, &w, &err), -ESTALE);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_FENCED));
    assert_non_null(strstr(err->message, "host h1: the lease taken under epoch 1"));
    g_clear_error(&err);
    /* Nor under another instance's name with b's epoch. */
    struct store_fence forged = {"h1", "ia", 2};
    w.fence = &forged;
    assert_int_equal(OPS(f)->round_write(f->st, &w, &err), -ESTALE);
    g_clear_error(&err);
    g_autoptr(GHashTable) states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    assert_int_equal(OPS(f)->states_load(f->st, h, states, &err), 0);
    assert_string_equal(g_hash_table_lookup(states, UUID_A), "by-a");

    /* b's own round goes in. */
    struct store_fence bf = {"h1", "ib", 2};
    w.fence = &bf;
    round_ok(f, &w);
    g_hash_table_remove_all(states);
    assert_int_equal(OPS(f)->states_load(f->st, h, states, &err), 0);
    assert_string_equal(g_hash_table_lookup(states, UUID_A), "by-a-late");
}

/* A host's inventory written under its lease (store_thread_fence): while
 * the writer holds it the writes go in; once another instance took the
 * host, a domain, the host's state, its pools are refused and nothing
 * changes; without a fence (a store of one's own) they go in as ever. */
static void test_inventory_fenced_by_the_lease(void **state)
{
    struct fx *f = *state;
    g_autoptr(GError) err = NULL;
    int64_t h = ensure_host(f, "h1");
    static const char *const h1[] = {"h1"};
    g_autoptr(GArray) a = held_after(f, "ia", NULL, 0, h1, 1, NULL, 0, T0);
    struct store_fence mine = {"h1", "ia", 1};
    store_thread_fence(&mine);
    g_autoptr(domain_info) d = dom_new(UUID_A, "web", "running");
    int64_t id = put_dom(f, h, d, NULL, T0);
    assert_int_equal(OPS(f)->host_put_state(f->st, h, HOST_CONNECTED, NULL, T0, T0, &err), 0);

    /* b takes h1 (epoch 2): a's writes, still under epoch 1, are refused. */
    g_autoptr(GArray) b = held_after(f, "ib", NULL, 0, h1, 1, NULL, 0, T0 + 31 * SEC);
    g_autoptr(domain_info) d2 = dom_new(UUID_A, "web", "paused");
    int64_t id2 = 0;
    assert_int_equal(OPS(f)->domain_put(f->st, h, d2, NULL, T0 + 32 * SEC, &id2, &err), -ESTALE);
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_FENCED));
    g_clear_error(&err);
    assert_int_equal(
        OPS(f)->host_put_state(f->st, h, HOST_UNREACHABLE, "stalled", T0 + 32 * SEC, 0, &err),
        -ESTALE);
    g_clear_error(&err);
    g_autoptr(GPtrArray) pools = g_ptr_array_new_with_free_func((GDestroyNotify)pool_info_free);
    struct pool_info *p = g_new0(struct pool_info, 1);
    p->name = g_strdup("default");
    g_ptr_array_add(pools, p);
    assert_int_equal(OPS(f)->pools_replace(f->st, h, pools, T0 + 32 * SEC, &err), -ESTALE);
    g_clear_error(&err);
    assert_int_equal(OPS(f)->domain_remove(f->st, id, NULL, T0 + 32 * SEC, &err), -ESTALE);
    g_clear_error(&err);
    store_thread_fence(NULL);

    g_autoptr(rows) vms = vms_of(f, NULL, id, false);
    assert_string_equal(((struct vm_row *)rows_get(vms, 0))->state, "running");
    g_autoptr(rows) hosts = OPS(f)->hosts_query(f->st, "h1", &err);
    assert_string_equal(((struct host_row *)rows_get(hosts, 0))->state, "connected");
    g_autoptr(rows) pr = OPS(f)->pools_query(f->st, "h1", &err);
    assert_int_equal(rows_len(pr), 0);

    /* Under b's fence, and with none, they go in. */
    struct store_fence theirs = {"h1", "ib", 2};
    store_thread_fence(&theirs);
    put_dom(f, h, d2, NULL, T0 + 33 * SEC);
    store_thread_fence(NULL);
    assert_int_equal(OPS(f)->pools_replace(f->st, h, pools, T0 + 33 * SEC, &err), 0);
    g_autoptr(rows) vms2 = vms_of(f, NULL, id, false);
    assert_string_equal(((struct vm_row *)rows_get(vms2, 0))->state, "paused");
    g_autoptr(rows) pr2 = OPS(f)->pools_query(f->st, "h1", &err);
    assert_int_equal(rows_len(pr2), 1);
}

/* Several hosts' rounds in one call (the engine's group commit): a round
 * its fence refuses and a round the database refuses fail alone, each
 * with its own error, and the others go in, a VM in two of them (its
 * host changing) included: its later view is the one kept. */
static void test_rounds_written_together(void **state)
{
    struct fx *f = *state;
    int64_t h1 = ensure_host(f, "h1"), h2 = ensure_host(f, "h2");
    static const char *const both[] = {"h1", "h2"};
    g_autoptr(GArray) held = held_after(f, "ia", NULL, 0, both, 2, NULL, 0, T0);
    assert_int_equal(held->len, 2);

    struct host_sample a, b, c, bad;
    host_sample_fill(&a, h1, UUID_A, T0, 1000);
    host_sample_fill(&b, h2, UUID_B, T0, 2000);
    host_sample_fill(&c, h2, UUID_C, T0, 3000);
    host_sample_fill(&bad, h2, NULL, T0, 1);
    const struct host_sample *ha[] = {&a}, *hb[] = {&b}, *hc[] = {&c, &bad};
    g_autoptr(vm_view) v1 = view_new(UUID_D, h1, T0);
    g_autoptr(vm_view) v2 = view_new(UUID_D, h2, T0 + SEC);
    const struct vm_view *va[] = {v1}, *vb[] = {v2};
    struct store_state_write stale[] = {{UUID_B, h2, T0, "must not stay"}};

    struct store_fence f1 = {"h1", "ia", 1}, f2_old = {"h2", "ia", 7};
    struct store_round r0 = {.fence = &f1, .hosts = ha, .n_hosts = 1, .views = va, .n_views = 1};
    struct store_round r1 = {.fence = &f2_old, .states = stale, .n_states = 1};
    struct store_round r2 = {.hosts = hb, .n_hosts = 1, .views = vb, .n_views = 1};
    struct store_round r3 = {.hosts = hc, .n_hosts = 2};
    const struct store_round *w[] = {&r0, &r1, &r2, &r3};
    GError *errors[4] = {NULL};
    assert_int_equal(OPS(f)->rounds_write(f->st, w, 4, errors), -EIO);
    assert_null(errors[0]);
    assert_true(g_error_matches(errors[1], STORE_ERROR, STORE_ERROR_FENCED));
    assert_null(errors[2]);
    assert_non_null(errors[3]);
    assert_false(g_error_matches(errors[3], STORE_ERROR, STORE_ERROR_FENCED));
    for (int i = 0; i < 4; i++)
        g_clear_error(&errors[i]);

    g_autoptr(GArray) ra = recent(f, STORE_RECENT_HOST, UUID_A, NULL, 0, 10);
    assert_int_equal(ra->len, 1);
    g_autoptr(GArray) rb = recent(f, STORE_RECENT_HOST, UUID_B, NULL, 0, 10);
    assert_int_equal(rb->len, 1);
    g_autoptr(GArray) rc = recent(f, STORE_RECENT_HOST, UUID_C, NULL, 0, 10);
    assert_int_equal(rc->len, 0);
    g_autoptr(GHashTable) st = states_of(f, h2);
    assert_null(g_hash_table_lookup(st, UUID_B));
    g_autoptr(vm_view) kept = NULL;
    assert_int_equal(OPS(f)->view_get(f->st, UUID_D, &kept, NULL), 0);
    assert_int_equal(kept->host_id, h2);
    assert_int_equal(kept->time_us, T0 + SEC);

    /* Rounds that all pass go in together. */
    host_sample_clear(&a);
    host_sample_fill(&a, h1, UUID_A, T0 + SEC, 1001);
    r3.n_hosts = 1;
    const struct store_round *w2[] = {&r0, &r3};
    GError *errors2[2] = {NULL};
    assert_int_equal(OPS(f)->rounds_write(f->st, w2, 2, errors2), 0);
    assert_null(errors2[0]);
    assert_null(errors2[1]);
    g_autoptr(GArray) ra2 = recent(f, STORE_RECENT_HOST, UUID_A, NULL, 0, 10);
    assert_int_equal(ra2->len, 2);
    g_autoptr(GArray) rc2 = recent(f, STORE_RECENT_HOST, UUID_C, NULL, 0, 10);
    assert_int_equal(rc2->len, 1);

    host_sample_clear(&a);
    host_sample_clear(&b);
    host_sample_clear(&c);
    host_sample_clear(&bad);
}

/* ---- PostgreSQL's own ---- */

static int64_t pg_schema_version(const char *url)
{
    g_autoptr(GError) err = NULL;
    struct db *db = db_open_pg(url, &err);
    assert_non_null(db);
    g_autoptr(db_stmt) q = db_prep(db, &err, "SELECT version FROM kanri_schema", NULL);
    assert_int_equal(db_step(q, &err), 1);
    int64_t v = db_col_i64(q, 0);
    db_finalize(g_steal_pointer(&q));
    db_close(db);
    return v;
}

static void pg_set_schema_version(const char *url, int64_t v)
{
    g_autoptr(GError) err = NULL;
    struct db *db = db_open_pg(url, &err);
    assert_non_null(db);
    assert_int_equal(
        db_done(db_prep(db, &err, "UPDATE kanri_schema SET version = ?", "i", v), &err), 0);
    db_close(db);
}

/* On SQLite test_newer_schema_refused; on PostgreSQL the version is a
 * table's. */
static void test_pg_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    if (!f->pg)
        return; /* SQLite: test_newer_schema_refused */
    int64_t v = pg_schema_version(f->path);
    assert_true(v >= 13);
    store_close(f->st);
    f->st = NULL;
    pg_set_schema_version(f->path, 9999);
    g_autoptr(GError) err = NULL;
    assert_null(store_pg_open(f->path, &err));
    assert_true(g_error_matches(err, STORE_ERROR, STORE_ERROR_SCHEMA));
    g_autofree char *want =
        g_strdup_printf("database schema version 9999 is newer than this kanrid knows (%" PRId64
                        "); refusing to touch it",
                        v);
    assert_string_equal(err->message, want);
    assert_int_equal(pg_schema_version(f->path), 9999);
    pg_set_schema_version(f->path, v);
    reopen(f);
    /* Opened again at its version, it is migrated no further. */
    assert_int_equal(pg_schema_version(f->path), v);
}

/* The first column of the first row of SQL, on a connection of its own. */
static int64_t pg_scalar(const char *url, const char *sql)
{
    g_autoptr(GError) err = NULL;
    struct db *db = db_open_pg(url, &err);
    assert_non_null(db);
    struct db_stmt *q = db_prep(db, &err, sql, NULL);
    if (!q || db_step(q, &err) != 1)
        fail_msg("%s: %s", sql, err ? err->message : "no row");
    int64_t v = db_col_i64(q, 0);
    db_finalize(q);
    db_close(db);
    return v;
}

#define DAY (86400 * SEC)
#define PARTITIONS_OF(table)                                                                       \
    "SELECT count(*) FROM pg_inherits WHERE inhparent = CAST('" table "' AS regclass)"

/* A round of one host sample, one node sample and one reconciled row at T. */
static void round_at(struct fx *f, int64_t host, int64_t t)
{
    struct host_sample hs;
    host_sample_fill(&hs, host, UUID_A, t, 1000);
    const struct host_sample *hv[] = {&hs};
    struct node_sample node;
    node_sample_init(&node);
    node.host_id = host;
    node.time_us = t;
    struct reconciled_sample rs = {.host_id = host, .uuid = (char *)UUID_A, .time_us = t};
    struct store_round w = {
        .hosts = hv, .n_hosts = 1, .node = &node, .reconciled = &rs, .n_reconciled = 1};
    round_ok(f, &w);
    host_sample_clear(&hs);
}

/* Retention on both backends: raw rows of days past it go, recent ones
 * stay.  On PostgreSQL the raw tables are partitioned by day and a day
 * goes whole (its partition dropped), once all of it is past. */
static void test_raw_retention_by_day(void **state)
{
    struct fx *f = *state;
    int64_t h;
    g_autoptr(GError) err = NULL;
    assert_int_equal(OPS(f)->host_ensure(f->st, "h1", "test:///default", &h, &err), 0);
    int64_t now = g_get_real_time();
    round_at(f, h, now - 3 * DAY);
    round_at(f, h, now - 2 * DAY);
    round_at(f, h, now);
    if (f->pg) {
        const char *const tables[] = {"host_samples", "guest_samples", "node_samples",
                                      "pool_samples", "reconciled_samples"};
        g_autofree char *part = g_strdup_printf(
            "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
            " WHERE c.relnamespace = CAST(current_schema() AS regnamespace)"
            " AND c.relname IN ('%s', '%s', '%s', '%s', '%s')",
            tables[0], tables[1], tables[2], tables[3], tables[4]);
        assert_int_equal(pg_scalar(f->path, part), 5);
        /* The days written to, made as the round needed them, beside the
         * days made ahead around now (yesterday to the day after
         * tomorrow). */
        assert_int_equal(pg_scalar(f->path, PARTITIONS_OF("host_samples")), 6);
        assert_int_equal(pg_scalar(f->path, PARTITIONS_OF("guest_samples")), 6);
    }
    struct store_retention one_day = {DAY, 0, 0};
    struct store_maint_stats ms;
    assert_int_equal(OPS(f)->samples_maintain(f->st, &one_day, now, 20 * SEC, &ms, &err), 0);
    assert_null(err);
    g_autoptr(GArray) recent = g_array_new(FALSE, TRUE, sizeof(struct host_sample));
    g_array_set_clear_func(recent, (GDestroyNotify)host_sample_clear);
    assert_int_equal(
        OPS(f)->samples_recent(f->st, STORE_RECENT_HOST, UUID_A, NULL, h, 10, recent, &err), 0);
    assert_int_equal(recent->len, 1);
    assert_int_equal(g_array_index(recent, struct host_sample, 0).time_us, now);
    if (f->pg) {
        /* Three days before and two days before, of each of the five
         * tables; nothing deleted row by row. */
        assert_int_equal(ms.partitions_dropped, 10);
        assert_int_equal(ms.rows_deleted, 0);
        assert_int_equal(pg_scalar(f->path, PARTITIONS_OF("host_samples")), 4);
        assert_int_equal(pg_scalar(f->path, "SELECT count(*) FROM node_samples"), 1);
        assert_int_equal(pg_scalar(f->path, "SELECT count(*) FROM reconciled_samples"), 1);
    } else {
        assert_int_equal(ms.partitions_dropped, 0);
        assert_true(ms.rows_deleted >= 6);
    }
    /* A second pass finds nothing more to drop, and writes go on. */
    assert_int_equal(OPS(f)->samples_maintain(f->st, &one_day, now, 20 * SEC, &ms, &err), 0);
    assert_int_equal(ms.partitions_dropped, 0);
    round_at(f, h, now + SEC);
}

/* A PostgreSQL store made before the partitioning (schema 15) with rows
 * in its sample tables: opened, the tables are partitioned by day with
 * every row kept, new rows get ids past the old ones, and a guest sample
 * already there is still a duplicate. */
static void test_pg_partitioning_migrates_rows(void **state)
{
    struct fx *f = *state;
    if (!f->pg)
        return;
    store_close(f->st);
    f->st = NULL;
    pg_empty(f->path);
    g_autoptr(GError) err = NULL;
    struct db *db = db_open_pg(f->path, &err);
    assert_non_null(db);
    size_t known;
    const char *const *steps = sq_migrations(&known);
    assert_true(known >= 16);
    for (size_t v = 0; v < 15; v++) {
        g_autofree char *ddl = db_ddl_pg(steps[v]);
        if (db_exec(db, ddl, &err) < 0)
            fail_msg("step %zu: %s", v + 1, err->message);
    }
    int64_t now = g_get_real_time(), old = now - 2 * DAY;
    g_autofree char *old_rows = g_strdup_printf(
        "CREATE TABLE kanri_schema (version BIGINT NOT NULL);"
        "INSERT INTO kanri_schema VALUES (15);"
        "INSERT INTO hosts(id, name, uri) VALUES (1, 'h1', 'test:///default');"
        "INSERT INTO host_samples(host_id, uuid, t) VALUES (1, '%s', %" PRId64
        "), (1, '%s', %" PRId64 ");"
        "INSERT INTO guest_samples(machine_uuid, source, t, received, seq)"
        " VALUES ('%s', 'kanri-guestd', %" PRId64 ", %" PRId64 ", 41);"
        "INSERT INTO node_samples(host_id, t) VALUES (1, %" PRId64 ");"
        "INSERT INTO pool_samples(host_id, name, t) VALUES (1, 'default', %" PRId64 ");"
        "INSERT INTO reconciled_samples(host_id, uuid, t) VALUES (1, '%s', %" PRId64 ");",
        UUID_A, old, UUID_A, now, UUID_A, old, old, old, old, UUID_A, old);
    if (db_exec(db, old_rows, &err) < 0)
        fail_msg("rows: %s", err->message);
    db_close(db);

    reopen(f);
    assert_int_equal(pg_schema_version(f->path), (int64_t)known);
    assert_int_equal(pg_scalar(f->path, "SELECT count(*) FROM pg_partitioned_table p"
                                        " JOIN pg_class c ON c.oid = p.partrelid WHERE"
                                        " c.relnamespace = CAST(current_schema() AS regnamespace)"),
                     5);
    assert_int_equal(pg_scalar(f->path, "SELECT count(*) FROM host_samples"), 2);
    assert_int_equal(pg_scalar(f->path, "SELECT count(*) FROM guest_samples"), 1);
    assert_int_equal(pg_scalar(f->path, "SELECT count(*) FROM node_samples"), 1);
    assert_int_equal(pg_scalar(f->path, "SELECT count(*) FROM pool_samples"), 1);
    assert_int_equal(pg_scalar(f->path, "SELECT count(*) FROM reconciled_samples"), 1);
    /* The two days' rows are in two partitions. */
    assert_int_equal(pg_scalar(f->path, "SELECT count(DISTINCT tableoid) FROM host_samples"), 2);

    int64_t h;
    assert_int_equal(OPS(f)->host_ensure(f->st, "h1", "test:///default", &h, &err), 0);
    round_at(f, h, now + SEC);
    assert_int_equal(pg_scalar(f->path, "SELECT count(DISTINCT id) FROM host_samples"), 3);
    struct guest_sample g;
    guest_sample_fill(&g, UUID_A, "kanri-guestd", old + SEC, 41, 5);
    bool dup = false;
    assert_int_equal(OPS(f)->guest_sample_insert(f->st, &g, &dup, &err), 0);
    assert_true(dup);
    g.seq = 42;
    assert_int_equal(OPS(f)->guest_sample_insert(f->st, &g, &dup, &err), 0);
    assert_false(dup);
    guest_sample_clear(&g);
}

struct pusher {
    struct store *st;
    unsigned duplicates;
};

static gpointer push_thread(gpointer data)
{
    struct pusher *p = data;
    int64_t t = g_get_real_time();
    for (uint64_t seq = 0; seq < 200; seq++) {
        struct guest_sample g;
        guest_sample_fill(&g, UUID_B, "kanri-guestd", t + (int64_t)seq * SEC, seq, 7);
        bool dup = false;
        g_autoptr(GError) err = NULL;
        if (p->st->ops->guest_sample_insert(p->st, &g, &dup, &err) < 0)
            fail_msg("insert: %s", err->message);
        p->duplicates += dup;
        guest_sample_clear(&g);
    }
    return NULL;
}

/* The same documents pushed to two instances at once (a retry through a
 * load balancer) are stored once: each sample is new to exactly one. */
static void test_pg_guest_samples_pushed_twice_at_once(void **state)
{
    struct fx *f = *state;
    if (!f->pg)
        return;
    g_autoptr(GError) err = NULL;
    struct pusher p[2] = {{f->st, 0}, {store_open(f->path, &err), 0}};
    assert_non_null(p[1].st);
    GThread *t[2];
    for (int i = 0; i < 2; i++)
        t[i] = g_thread_new("push", push_thread, &p[i]);
    for (int i = 0; i < 2; i++)
        g_thread_join(t[i]);
    store_close(p[1].st);
    assert_int_equal(p[0].duplicates + p[1].duplicates, 200);
    assert_int_equal(pg_scalar(f->path, "SELECT count(*) FROM guest_samples"), 200);
}

static gpointer open_pg_thread(gpointer url)
{
    return store_pg_open(url, NULL);
}

/* Instances starting together on an empty database: each opens it, and
 * the schema is made once (the migration's lock), not half by each. */
static void test_pg_instances_migrate_once(void **state)
{
    struct fx *f = *state;
    if (!f->pg)
        return;
    store_close(f->st);
    f->st = NULL;
    pg_empty(f->path);
    GThread *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = g_thread_new("open", open_pg_thread, f->path);
    for (int i = 0; i < 4; i++) {
        struct store *st = g_thread_join(t[i]);
        assert_non_null(st);
        store_close(st);
    }
    assert_true(pg_schema_version(f->path) >= 13);
    reopen(f);
    assert_int_equal(ensure_host(f, "a"), ensure_host(f, "a"));
}

int main(void)
{
    /* SQLite's own: its file, its PRAGMAs, migrations from its older
     * schemas. */
    const struct CMUnitTest sqlite_only[] = {
        cmocka_unit_test_setup_teardown(test_migrations_fresh_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_6_keeps_engine_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_11_reconciled_h_g, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable_and_private, setup, teardown),
    };
    /* The same behaviour on both backends. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_ensure_keeps_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_info_and_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_put_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_track, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_versions_and_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_remove_and_return, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_sample_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingests_written_together, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_availability_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_write_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vms_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vms_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_fenced_by_the_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rounds_written_together, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inventory_fenced_by_the_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_samples_received, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_instances_migrate_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_retention_by_day, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_partitioning_migrates_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_guest_samples_pushed_twice_at_once, setup,
                                        teardown),
    };
    int failed = cmocka_run_group_tests_name("store-sqlite", sqlite_only, NULL, NULL);
    return failed + run_on_both("store", tests, G_N_ELEMENTS(tests));
}
