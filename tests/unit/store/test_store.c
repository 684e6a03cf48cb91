/*
 * The SQLite store against a real database file in a temporary directory:
 * migrations, inventory and configuration history, VM references, audit,
 * tokens, guest samples, and the JSON shapes the queries build (the API's
 * replies, docs/api.md).
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
#include <sqlite3.h>

#include "store/store.h"

#define UUID_A "6695eb01-f6a4-8304-79aa-97f2502e193f"
#define UUID_B "0a5e1a33-0000-4000-8000-000000000002"
#define UUID_C "0a5e1a33-0000-4000-8000-000000000003"

struct fx {
    char *dir;
    char *path;
    struct store *st;
};

static int setup(void **state)
{
    struct fx *f = g_new0(struct fx, 1);
    f->dir = g_dir_make_tmp("kanri-store-XXXXXX", NULL);
    assert_non_null(f->dir);
    f->path = g_build_filename(f->dir, "kanri.db", NULL);
    g_autoptr(GError) err = NULL;
    f->st = store_sqlite_open(f->path, &err);
    if (!f->st)
        fail_msg("open: %s", err->message);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        g_unlink(p);
    }
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static void reopen(struct fx *f)
{
    store_close(f->st);
    g_autoptr(GError) err = NULL;
    f->st = store_sqlite_open(f->path, &err);
    if (!f->st)
        fail_msg("reopen: %s", err->message);
}

#define OPS(f) ((f)->st->ops)

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

/* Syncs a domain; returns whether a new version was stored. */
static bool sync_dom(struct fx *f, int64_t host, const char *uuid, const char *name,
                     const char *state, const char *xml, const struct store_cause *cause)
{
    struct store_domain d = {
        .uuid = g_strdup(uuid),
        .name = g_strdup(name),
        .state = g_strdup(state),
        .state_reason = g_strdup("booted"),
        .persistent = true,
        .vcpus = 1,
        .max_vcpus = 2,
        .memory_bytes = 1048576,
        .max_memory_bytes = 2097152,
        .os_type = g_strdup("hvm"),
        .domain_type = g_strdup("test"),
        .disks_json = g_strdup("[{\"target\": \"vda\", \"device\": \"disk\", \"type\": \"file\","
                               " \"source\": \"/img/a.qcow2\", \"format\": \"qcow2\","
                               " \"capacity_bytes\": 1073741824, \"allocation_bytes\": 200704,"
                               " \"physical_bytes\": 200704}]"),
        .nics_json =
            g_strdup("[{\"mac\": \"52:54:00:12:34:56\", \"type\": \"network\","
                     " \"source\": \"default\", \"model\": \"virtio\", \"target\": null}]"),
        .has_agent = true,
        .balloon_model = g_strdup("virtio"),
        .xml = g_strdup(xml),
    };
    struct store_cause ext = {.cause = "external"};
    bool changed = false;
    g_autoptr(GError) err = NULL;
    if (OPS(f)->domain_sync(f->st, host, &d, cause ? cause : &ext, &changed, &err) < 0)
        fail_msg("domain_sync: %s", err->message);
    store_domain_clear(&d);
    return changed;
}

static json_object *changes_of(struct fx *f, int64_t domain_id)
{
    g_autoptr(GError) err = NULL;
    json_object *o = OPS(f)->changes_query(f->st, domain_id, 1000, &err);
    if (!o)
        fail_msg("changes_query: %s", err->message);
    json_object *arr = NULL;
    assert_true(json_object_object_get_ex(o, "changes", &arr));
    json_object_get(arr);
    json_object_put(o);
    return arr;
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

static int64_t domain_id_of(struct fx *f, const char *ref)
{
    g_auto(store_vm_ref_t) v = {0};
    assert_int_equal(resolve(f, ref, &v), 1);
    return v.domain_id;
}

static const char *str_of(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no key '%s' in %s", key, json_object_to_json_string(o));
    return v ? json_object_get_string(v) : NULL;
}

static int64_t int_of(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no key '%s'", key);
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

static bool is_null(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no key '%s' in %s", key, json_object_to_json_string(o));
    return v == NULL;
}

static int user_version(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void exec_raw(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* ---- migrations ---- */

static void test_migrations_fresh_and_reopen(void **state)
{
    struct fx *f = *state;
    int v = user_version(f->path);
    assert_true(v >= 2);
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
    assert_int_equal(OPS(f)->host_set_state(f->st, a, "unreachable", "no route", NULL), 0);
    reopen(f);
    /* Asked in the other order after a restart, each keeps its id. */
    assert_int_equal(ensure_host(f, "b"), b);
    int64_t id = 0;
    assert_int_equal(OPS(f)->host_ensure(f->st, "a", "qemu+ssh://a/system", &id, NULL), 0);
    assert_int_equal(id, a);
    /* The URI follows the configuration; the state starts over. */
    json_object *o = OPS(f)->hosts_query(f->st, "a", NULL);
    json_object *h = json_object_array_get_idx(json_object_object_get(o, "hosts"), 0);
    assert_string_equal(str_of(h, "uri"), "qemu+ssh://a/system");
    assert_string_equal(str_of(h, "state"), "connecting");
    assert_true(is_null(h, "reason"));
    json_object_put(o);
    /* By id, as a string, too. */
    g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, b);
    o = OPS(f)->hosts_query(f->st, ids, NULL);
    assert_int_equal(json_object_array_length(json_object_object_get(o, "hosts")), 1);
    json_object_put(o);
    o = OPS(f)->hosts_query(f->st, "nosuch", NULL);
    assert_int_equal(json_object_array_length(json_object_object_get(o, "hosts")), 0);
    json_object_put(o);
}

/* ---- domains and configuration history ---- */

static void test_domain_sync_creates_version_1(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    g_autofree char *xml = xml_of("web", UUID_A, 1024);
    assert_true(sync_dom(f, h, UUID_A, "web", "running", xml, NULL));
    int64_t id = domain_id_of(f, UUID_A);

    json_object *arr = changes_of(f, id);
    assert_int_equal(json_object_array_length(arr), 1);
    json_object *c = json_object_array_get_idx(arr, 0);
    assert_string_equal(str_of(c, "cause"), "created");
    assert_true(is_null(c, "from_version"));
    assert_int_equal(int_of(c, "to_version"), 1);
    assert_true(is_null(c, "actor"));
    assert_true(is_null(c, "audit_id"));
    assert_string_equal(str_of(c, "vm_uuid"), UUID_A);
    assert_string_equal(str_of(c, "vm_name"), "web");
    assert_string_equal(str_of(c, "host"), "a");
    const char *diff = str_of(c, "diff");
    assert_true(g_str_has_prefix(diff, "--- version 0\n+++ version 1\n@@ -0,0 +1,6 @@\n"));
    assert_non_null(strstr(diff, "\n+  <name>web</name>\n"));
    json_object_put(arr);

    json_object *o = OPS(f)->vms_query(f->st, NULL, id, true, NULL);
    json_object *vm = json_object_array_get_idx(json_object_object_get(o, "vms"), 0);
    assert_int_equal(int_of(vm, "config_version"), 1);
    assert_string_equal(str_of(vm, "xml"), xml);
    json_object_put(o);
}

static void test_domain_sync_first_sighting_by_action(void **state)
{
    /* A domain defined through kanri is attributed to the action from its
     * first version on. */
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    g_autofree char *xml = xml_of("new", UUID_B, 1024);
    struct store_cause c = {.cause = "action", .actor = "alice", .audit_id = 42};
    assert_true(sync_dom(f, h, UUID_B, "new", "shutoff", xml, &c));
    json_object *arr = changes_of(f, domain_id_of(f, UUID_B));
    json_object *ch = json_object_array_get_idx(arr, 0);
    assert_string_equal(str_of(ch, "cause"), "action");
    assert_string_equal(str_of(ch, "actor"), "alice");
    assert_int_equal(int_of(ch, "audit_id"), 42);
    assert_true(is_null(ch, "from_version"));
    json_object_put(arr);
}

static void test_domain_sync_changes_attributed(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    g_autofree char *x1 = xml_of("web", UUID_A, 1024);
    g_autofree char *x2 = xml_of("web", UUID_A, 2048);
    g_autofree char *x3 = xml_of("web", UUID_A, 4096);
    assert_true(sync_dom(f, h, UUID_A, "web", "running", x1, NULL));

    struct store_cause act = {.cause = "action", .actor = "alice", .audit_id = 17};
    assert_true(sync_dom(f, h, UUID_A, "web", "running", x2, &act));
    assert_true(sync_dom(f, h, UUID_A, "web", "running", x3, NULL));
    int64_t id = domain_id_of(f, "web");

    json_object *arr = changes_of(f, id);
    assert_int_equal(json_object_array_length(arr), 3);
    /* Newest first. */
    json_object *c3 = json_object_array_get_idx(arr, 0);
    json_object *c2 = json_object_array_get_idx(arr, 1);
    assert_true(int_of(c3, "id") > int_of(c2, "id"));

    assert_string_equal(str_of(c2, "cause"), "action");
    assert_string_equal(str_of(c2, "actor"), "alice");
    assert_int_equal(int_of(c2, "audit_id"), 17);
    assert_int_equal(int_of(c2, "from_version"), 1);
    assert_int_equal(int_of(c2, "to_version"), 2);
    assert_string_equal(str_of(c2, "diff"), "--- version 1\n+++ version 2\n@@ -1,6 +1,6 @@\n"
                                            " <domain type='test'>\n"
                                            "   <name>web</name>\n"
                                            "   <uuid>" UUID_A "</uuid>\n"
                                            "-  <memory unit='KiB'>1024</memory>\n"
                                            "+  <memory unit='KiB'>2048</memory>\n"
                                            "   <vcpu>1</vcpu>\n"
                                            " </domain>\n");

    assert_string_equal(str_of(c3, "cause"), "external");
    assert_true(is_null(c3, "actor"));
    assert_true(is_null(c3, "audit_id"));
    assert_int_equal(int_of(c3, "from_version"), 2);
    assert_int_equal(int_of(c3, "to_version"), 3);
    assert_true(g_str_has_prefix(str_of(c3, "diff"), "--- version 2\n+++ version 3\n"));
    json_object_put(arr);

    /* The live row carries the newest version and its XML. */
    json_object *o = OPS(f)->vms_query(f->st, NULL, id, true, NULL);
    json_object *vm = json_object_array_get_idx(json_object_object_get(o, "vms"), 0);
    assert_int_equal(int_of(vm, "config_version"), 3);
    assert_string_equal(str_of(vm, "xml"), x3);
    json_object_put(o);

    /* A limit keeps the newest. */
    o = OPS(f)->changes_query(f->st, id, 1, NULL);
    json_object *only = json_object_array_get_idx(json_object_object_get(o, "changes"), 0);
    assert_int_equal(json_object_array_length(json_object_object_get(o, "changes")), 1);
    assert_int_equal(int_of(only, "to_version"), 3);
    json_object_put(o);
}

static void test_domain_sync_unchanged_xml(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    g_autofree char *xml = xml_of("web", UUID_A, 1024);
    assert_true(sync_dom(f, h, UUID_A, "web", "running", xml, NULL));
    /* Same XML, new live state: no version, no change, state updated. */
    assert_false(sync_dom(f, h, UUID_A, "web", "paused", xml, NULL));
    /* No XML at all (e.g. a state-only refresh): no version either. */
    assert_false(sync_dom(f, h, UUID_A, "web", "paused", NULL, NULL));
    int64_t id = domain_id_of(f, UUID_A);
    json_object *arr = changes_of(f, id);
    assert_int_equal(json_object_array_length(arr), 1);
    json_object_put(arr);
    json_object *o = OPS(f)->vms_query(f->st, NULL, id, false, NULL);
    json_object *vm = json_object_array_get_idx(json_object_object_get(o, "vms"), 0);
    assert_int_equal(int_of(vm, "config_version"), 1);
    assert_string_equal(str_of(vm, "state"), "paused");
    json_object_put(o);
}

static void test_domain_prune_and_reappear(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    int64_t other = ensure_host(f, "b");
    g_autofree char *xa = xml_of("web", UUID_A, 1024);
    g_autofree char *xb = xml_of("db", UUID_B, 1024);
    g_autofree char *xc = xml_of("c", UUID_C, 1024);
    sync_dom(f, h, UUID_A, "web", "running", xa, NULL);
    sync_dom(f, h, UUID_B, "db", "running", xb, NULL);
    sync_dom(f, other, UUID_C, "c", "running", xc, NULL);
    int64_t id_b = domain_id_of(f, UUID_B);

    const char *present[] = {UUID_A, NULL};
    struct store_cause ext = {.cause = "external"};
    assert_int_equal(OPS(f)->domain_prune(f->st, h, present, &ext, NULL), 0);

    /* Gone from references and lists; the other host is untouched. */
    assert_int_equal(resolve(f, UUID_B, NULL), 0);
    assert_int_equal(resolve(f, "db", NULL), 0);
    assert_int_equal(resolve(f, UUID_A, NULL), 1);
    assert_int_equal(resolve(f, UUID_C, NULL), 1);
    json_object *o = OPS(f)->vms_query(f->st, NULL, 0, false, NULL);
    assert_int_equal(json_object_array_length(json_object_object_get(o, "vms")), 2);
    json_object_put(o);
    o = OPS(f)->hosts_query(f->st, "a", NULL);
    json_object *host = json_object_array_get_idx(json_object_object_get(o, "hosts"), 0);
    assert_int_equal(int_of(host, "domains_total"), 1);
    assert_int_equal(int_of(host, "domains_running"), 1);
    json_object_put(o);

    /* History keeps it, with a "removed" change and the row marked. */
    json_object *arr = changes_of(f, id_b);
    assert_int_equal(json_object_array_length(arr), 2);
    json_object *rm = json_object_array_get_idx(arr, 0);
    assert_string_equal(str_of(rm, "cause"), "removed");
    assert_int_equal(int_of(rm, "from_version"), 1);
    assert_int_equal(int_of(rm, "to_version"), 1);
    assert_string_equal(str_of(rm, "diff"), "");
    json_object_put(arr);
    o = OPS(f)->vms_query(f->st, NULL, id_b, false, NULL);
    json_object *vm = json_object_array_get_idx(json_object_object_get(o, "vms"), 0);
    assert_true(json_object_get_boolean(json_object_object_get(vm, "removed")));
    assert_string_equal(str_of(vm, "state"), "removed");
    json_object_put(o);

    /* Pruning again changes nothing. */
    assert_int_equal(OPS(f)->domain_prune(f->st, h, present, &ext, NULL), 0);
    arr = changes_of(f, id_b);
    assert_int_equal(json_object_array_length(arr), 2);
    json_object_put(arr);

    /* It comes back (e.g. defined again with the same UUID), with a new
     * version since its XML changed. */
    g_autofree char *xb2 = xml_of("db", UUID_B, 2048);
    assert_true(sync_dom(f, h, UUID_B, "db", "shutoff", xb2, NULL));
    assert_int_equal(domain_id_of(f, "db"), id_b);
    arr = changes_of(f, id_b);
    assert_int_equal(json_object_array_length(arr), 3);
    json_object *back = json_object_array_get_idx(arr, 0);
    assert_string_equal(str_of(back, "cause"), "created");
    assert_int_equal(int_of(back, "from_version"), 1);
    assert_int_equal(int_of(back, "to_version"), 2);
    json_object_put(arr);
    o = OPS(f)->vms_query(f->st, NULL, id_b, false, NULL);
    vm = json_object_array_get_idx(json_object_object_get(o, "vms"), 0);
    assert_false(json_object_get_boolean(json_object_object_get(vm, "removed")));
    assert_string_equal(str_of(vm, "state"), "shutoff");
    json_object_put(o);

    /* Undefined by an action: the removal is attributed to it. */
    const char *none[] = {NULL};
    struct store_cause act = {.cause = "action", .actor = "bob", .audit_id = 9};
    assert_int_equal(OPS(f)->domain_prune(f->st, other, none, &act, NULL), 0);
    arr = changes_of(f, 0);
    json_object *newest = json_object_array_get_idx(arr, 0);
    assert_string_equal(str_of(newest, "vm_uuid"), UUID_C);
    assert_string_equal(str_of(newest, "cause"), "action");
    assert_string_equal(str_of(newest, "actor"), "bob");
    assert_int_equal(int_of(newest, "audit_id"), 9);
    json_object_put(arr);
}

static void test_domain_reappears_unchanged(void **state)
{
    /* Back with the very same XML: live again, and resolvable. */
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    g_autofree char *x = xml_of("db", UUID_B, 1024);
    sync_dom(f, h, UUID_B, "db", "running", x, NULL);
    const char *none[] = {NULL};
    struct store_cause ext = {.cause = "external"};
    assert_int_equal(OPS(f)->domain_prune(f->st, h, none, &ext, NULL), 0);
    assert_int_equal(resolve(f, "db", NULL), 0);
    sync_dom(f, h, UUID_B, "db", "running", x, NULL);
    assert_int_equal(resolve(f, "db", NULL), 1);
    json_object *o = OPS(f)->vms_query(f->st, NULL, 0, false, NULL);
    assert_int_equal(json_object_array_length(json_object_object_get(o, "vms")), 1);
    json_object_put(o);
}

/*
 * Regression test (this was a bug): when a removed domain comes back with unchanged
 * XML, domain_sync() stores no version and so no change: the history's
 * last word on it stays "removed" while it is live again.
 *
 */
static void test_domain_reappears_unchanged_known_bug(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    g_autofree char *x = xml_of("db", UUID_B, 1024);
    sync_dom(f, h, UUID_B, "db", "running", x, NULL);
    const char *none[] = {NULL};
    struct store_cause ext = {.cause = "external"};
    assert_int_equal(OPS(f)->domain_prune(f->st, h, none, &ext, NULL), 0);
    sync_dom(f, h, UUID_B, "db", "running", x, NULL);
    json_object *arr = changes_of(f, domain_id_of(f, "db"));
    json_object *newest = json_object_array_get_idx(arr, 0);
    assert_string_equal(str_of(newest, "cause"), "created");
    json_object_put(arr);
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
    sync_dom(f, a, UUID_A, "web", "running", x1, NULL);
    sync_dom(f, b, UUID_B, "web", "running", x2, NULL);
    sync_dom(f, a, UUID_C, "db:1", "running", x3, NULL);

    g_auto(store_vm_ref_t) v = {0};
    /* By UUID, in any case. */
    assert_int_equal(resolve(f, UUID_A, &v), 1);
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
}

/* ---- audit ---- */

static json_object *audit_entries(struct fx *f, const char *uuid, int limit)
{
    json_object *o = OPS(f)->audit_query(f->st, uuid, limit, NULL);
    assert_non_null(o);
    json_object *arr = json_object_get(json_object_object_get(o, "audit"));
    json_object_put(o);
    return arr;
}

static void test_audit(void **state)
{
    struct fx *f = *state;
    int64_t id1 = 0, id2 = 0, id3 = 0;
    assert_int_equal(OPS(f)->audit_begin(f->st, "alice", 1, "setmem", "web", UUID_A, "a",
                                         "{\"memory_mib\": 512}", &id1, NULL),
                     0);
    json_object *arr = audit_entries(f, NULL, 100);
    json_object *e = json_object_array_get_idx(arr, 0);
    assert_int_equal(int_of(e, "id"), id1);
    assert_string_equal(str_of(e, "result"), "running");
    assert_true(is_null(e, "ended_at"));
    assert_false(is_null(e, "started_at"));
    json_object *params = json_object_object_get(e, "params");
    assert_true(json_object_is_type(params, json_type_object));
    assert_int_equal(int_of(params, "memory_mib"), 512);
    json_object_put(arr);

    assert_int_equal(OPS(f)->audit_end(f->st, id1, true, NULL, NULL), 0);
    assert_int_equal(
        OPS(f)->audit_begin(f->st, "bob", 2, "start", "db", UUID_B, "a", NULL, &id2, NULL), 0);
    assert_int_equal(OPS(f)->audit_end(f->st, id2, false, "domain 'db' is running", NULL), 0);
    assert_int_equal(OPS(f)->audit_begin(f->st, "bob", 2, "shutdown", "web", UUID_A, "a",
                                         "{\"timeout\": 60}", &id3, NULL),
                     0);
    assert_true(id1 < id2 && id2 < id3);

    arr = audit_entries(f, NULL, 100);
    assert_int_equal(json_object_array_length(arr), 3);
    /* Newest first. */
    e = json_object_array_get_idx(arr, 0);
    assert_int_equal(int_of(e, "id"), id3);
    assert_string_equal(str_of(e, "result"), "running");
    e = json_object_array_get_idx(arr, 1);
    assert_string_equal(str_of(e, "result"), "error");
    assert_string_equal(str_of(e, "error"), "domain 'db' is running");
    assert_false(is_null(e, "ended_at"));
    /* Absent params are stored as {}. */
    assert_int_equal(json_object_object_length(json_object_object_get(e, "params")), 0);
    e = json_object_array_get_idx(arr, 2);
    assert_string_equal(str_of(e, "result"), "ok");
    assert_true(is_null(e, "error"));
    json_object_put(arr);

    /* By target and with a limit. */
    arr = audit_entries(f, UUID_A, 100);
    assert_int_equal(json_object_array_length(arr), 2);
    json_object_put(arr);
    arr = audit_entries(f, UUID_A, 1);
    assert_int_equal(json_object_array_length(arr), 1);
    assert_int_equal(int_of(json_object_array_get_idx(arr, 0), "id"), id3);
    json_object_put(arr);

    /* A restart marks what was left running as interrupted; finished
     * entries keep their results. */
    reopen(f);
    arr = audit_entries(f, NULL, 100);
    e = json_object_array_get_idx(arr, 0);
    assert_int_equal(int_of(e, "id"), id3);
    assert_string_equal(str_of(e, "result"), "error");
    assert_true(g_str_has_prefix(str_of(e, "error"), "interrupted"));
    assert_string_equal(str_of(e, "ended_at"), str_of(e, "started_at"));
    assert_string_equal(str_of(json_object_array_get_idx(arr, 1), "error"),
                        "domain 'db' is running");
    assert_string_equal(str_of(json_object_array_get_idx(arr, 2), "result"), "ok");
    json_object_put(arr);
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

    struct store_token t = {0};
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-ci", &t, NULL), 0);
    assert_int_equal(t.id, id);
    assert_string_equal(t.name, "ci");
    assert_string_equal(t.role, "viewer");
    assert_null(t.machine_uuid);
    store_token_clear(&t);
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-g", &t, NULL), 0);
    assert_string_equal(t.machine_uuid, UUID_A);
    store_token_clear(&t);

    g_autoptr(GError) err = NULL;
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
    json_object *o = OPS(f)->tokens_query(f->st, NULL);
    json_object *arr = json_object_object_get(o, "tokens");
    assert_int_equal(json_object_array_length(arr), 1);
    json_object *e = json_object_array_get_idx(arr, 0);
    assert_int_equal(int_of(e, "id"), id2);
    assert_false(is_null(e, "last_used"));
    assert_false(is_null(e, "created_at"));
    json_object_put(o);

    /* Survives a restart. */
    reopen(f);
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-g", &t, NULL), 0);
    store_token_clear(&t);
    assert_int_equal(OPS(f)->token_lookup(f->st, "hash-ci", &t, NULL), -ENOENT);
}

/* ---- guest samples ---- */

static bool insert_sample(struct fx *f, const char *uuid, const char *source, int64_t t,
                          uint64_t seq)
{
    struct guest_sample s;
    guest_sample_init(&s);
    s.machine_uuid = g_strdup(uuid);
    s.source = source;
    s.time_us = t;
    s.received_us = t + 5;
    s.seq = seq;
    s.mem_total = 1 << 30;
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
    const int64_t t = G_GINT64_CONSTANT(1795688419) * 1000000;
    /* By sequence number: a replay (even at another time) is a duplicate. */
    assert_false(insert_sample(f, UUID_A, "kanri-guestd", t, 1));
    assert_true(insert_sample(f, UUID_A, "kanri-guestd", t, 1));
    assert_true(insert_sample(f, UUID_A, "kanri-guestd", t + 10000000, 1));
    assert_false(insert_sample(f, UUID_A, "kanri-guestd", t, 2));
    /* The same seq from another source or machine is its own sample. */
    assert_false(insert_sample(f, UUID_A, "qga", t, 1));
    assert_false(insert_sample(f, UUID_B, "kanri-guestd", t, 1));
    /* Without a sequence number, by time. */
    assert_false(insert_sample(f, UUID_A, "balloon", t, SAMPLE_ABSENT));
    assert_true(insert_sample(f, UUID_A, "balloon", t, SAMPLE_ABSENT));
    assert_false(insert_sample(f, UUID_A, "balloon", t + 1, SAMPLE_ABSENT));
    /* A seq-less sample does not collide with a sequenced one at its time. */
    assert_false(insert_sample(f, UUID_A, "kanri-guestd", t, SAMPLE_ABSENT));
    /* Still so after a restart. */
    reopen(f);
    assert_true(insert_sample(f, UUID_A, "kanri-guestd", t, 2));
    assert_true(insert_sample(f, UUID_A, "balloon", t + 1, SAMPLE_ABSENT));

    /* A NULL duplicate flag is allowed. */
    struct guest_sample s;
    guest_sample_init(&s);
    s.machine_uuid = g_strdup(UUID_C);
    s.source = "qga";
    s.time_us = t;
    s.received_us = t;
    assert_int_equal(OPS(f)->guest_sample_insert(f->st, &s, NULL, NULL), 0);
    guest_sample_clear(&s);
}

/* ---- JSON shapes ---- */

/* Asserts that O has exactly the keys in KEYS (NULL-terminated), each of
 * the type the letter in TYPES says: i int, s string, t RFC 3339 string,
 * b boolean, a array, o object, n null, S string or null, T time or null,
 * I int or null. */
static void expect_shape(json_object *o, const char *const *keys, const char *types)
{
    assert_true(json_object_is_type(o, json_type_object));
    size_t n = 0;
    for (; keys[n]; n++) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, keys[n], &v))
            fail_msg("missing key '%s' in %s", keys[n], json_object_to_json_string(o));
        char t = types[n];
        bool ok = false;
        switch (t) {
        case 'i':
            ok = json_object_is_type(v, json_type_int);
            break;
        case 'I':
            ok = !v || json_object_is_type(v, json_type_int);
            break;
        case 's':
            ok = json_object_is_type(v, json_type_string);
            break;
        case 'S':
            ok = !v || json_object_is_type(v, json_type_string);
            break;
        case 't':
        case 'T': {
            if (!v) {
                ok = t == 'T';
                break;
            }
            const char *s = json_object_get_string(v);
            ok = json_object_is_type(v, json_type_string) &&
                 g_regex_match_simple("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$", s, 0, 0);
            break;
        }
        case 'b':
            ok = json_object_is_type(v, json_type_boolean);
            break;
        case 'a':
            ok = json_object_is_type(v, json_type_array);
            break;
        case 'o':
            ok = json_object_is_type(v, json_type_object);
            break;
        case 'n':
            ok = v == NULL;
            break;
        default:
            fail_msg("bad type letter %c", t);
        }
        if (!ok)
            fail_msg("key '%s' is not of type '%c' in %s", keys[n], t,
                     json_object_to_json_string(o));
    }
    assert_int_equal(strlen(types), n);
    if ((size_t)json_object_object_length(o) != n)
        fail_msg("unexpected keys in %s", json_object_to_json_string(o));
}

static json_object *only_item(json_object *o, const char *key)
{
    assert_non_null(o);
    assert_int_equal(json_object_object_length(o), 1);
    json_object *arr = NULL;
    assert_true(json_object_object_get_ex(o, key, &arr));
    assert_true(json_object_is_type(arr, json_type_array));
    assert_int_equal(json_object_array_length(arr), 1);
    return json_object_array_get_idx(arr, 0);
}

static void test_query_shapes(void **state)
{
    struct fx *f = *state;
    int64_t h = ensure_host(f, "a");
    struct store_host facts = {
        .id = h,
        .state = (char *)"connected",
        .driver = (char *)"QEMU",
        .hv_version = (char *)"7.2.0",
        .libvirt_version = (char *)"9.0.0",
        .hostname = (char *)"node1",
        .cpu_model = (char *)"x86_64",
        .cpus = 2,
        .mhz = 2000,
        .memory_bytes = G_GUINT64_CONSTANT(25769803776),
        .numa_cells = 1,
        .last_seen = G_GINT64_CONSTANT(1795688419) * 1000000,
    };
    assert_int_equal(OPS(f)->host_update(f->st, &facts, NULL), 0);
    assert_int_equal(OPS(f)->host_set_state(f->st, h, "connected", NULL, NULL), 0);
    g_autofree char *xml = xml_of("web", UUID_A, 1024);
    sync_dom(f, h, UUID_A, "web", "running", xml, NULL);
    struct store_pool pool = {.name = (char *)"default",
                              .uuid = (char *)UUID_C,
                              .state = (char *)"running",
                              .capacity = 100,
                              .allocation = 40,
                              .available = 60};
    assert_int_equal(OPS(f)->pools_replace(f->st, h, &pool, 1, NULL), 0);
    struct store_network net = {.name = (char *)"default",
                                .uuid = (char *)UUID_B,
                                .active = true,
                                .bridge = (char *)"virbr0"};
    assert_int_equal(OPS(f)->networks_replace(f->st, h, &net, 1, NULL), 0);
    int64_t aid = 0;
    OPS(f)->audit_begin(f->st, "alice", 1, "setmem", "web", UUID_A, "a", "{\"memory_mib\": 512}",
                        &aid, NULL);
    OPS(f)->audit_end(f->st, aid, true, NULL, NULL);
    OPS(f)->token_create(f->st, "ci", "viewer", "h1", NULL, NULL, NULL);

    static const char *const host_keys[] = {"id",
                                            "name",
                                            "uri",
                                            "state",
                                            "reason",
                                            "driver",
                                            "hv_version",
                                            "libvirt_version",
                                            "hostname",
                                            "cpu_model",
                                            "cpus",
                                            "mhz",
                                            "memory_bytes",
                                            "numa_cells",
                                            "domains_total",
                                            "domains_running",
                                            "last_seen",
                                            "connected_since",
                                            NULL};
    json_object *o = OPS(f)->hosts_query(f->st, NULL, NULL);
    json_object *host = only_item(o, "hosts");
    expect_shape(host, host_keys, "isssnsssssiiiiiitt");
    assert_int_equal(int_of(host, "memory_bytes"), G_GINT64_CONSTANT(25769803776));
    assert_string_equal(str_of(host, "last_seen"), "2026-11-26T10:20:19Z");
    assert_int_equal(int_of(host, "domains_total"), 1);
    assert_int_equal(int_of(host, "domains_running"), 1);
    json_object_put(o);
    /* Not connected: reason set, connected_since null. */
    OPS(f)->host_set_state(f->st, h, "unreachable", "Cannot recv data", NULL);
    o = OPS(f)->hosts_query(f->st, "a", NULL);
    host = only_item(o, "hosts");
    expect_shape(host, host_keys, "isssssssssiiiiiitn");
    json_object_put(o);

    static const char *const vm_keys[] = {
        "uuid",           "name",        "host",    "host_id",   "state",        "state_reason",
        "persistent",     "autostart",   "vcpus",   "max_vcpus", "memory_bytes", "max_memory_bytes",
        "os_type",        "domain_type", "disks",   "nics",      "has_agent",    "balloon_model",
        "config_version", "updated_at",  "removed", NULL};
    o = OPS(f)->vms_query(f->st, NULL, 0, false, NULL);
    json_object *vm = only_item(o, "vms");
    expect_shape(vm, vm_keys, "sssissbbiiiissaabsitb");
    assert_true(json_object_get_boolean(json_object_object_get(vm, "persistent")));
    assert_false(json_object_get_boolean(json_object_object_get(vm, "autostart")));
    assert_false(json_object_get_boolean(json_object_object_get(vm, "removed")));
    static const char *const disk_keys[] = {"target",           "device",         "type",
                                            "source",           "format",         "capacity_bytes",
                                            "allocation_bytes", "physical_bytes", NULL};
    json_object *disks = json_object_object_get(vm, "disks");
    assert_int_equal(json_object_array_length(disks), 1);
    expect_shape(json_object_array_get_idx(disks, 0), disk_keys, "sssssiii");
    static const char *const nic_keys[] = {"mac", "type", "source", "model", "target", NULL};
    json_object *nics = json_object_object_get(vm, "nics");
    expect_shape(json_object_array_get_idx(nics, 0), nic_keys, "ssssn");
    json_object_put(o);
    /* With the XML, one more key; by host name. */
    static const char *const vm_xml_keys[] = {"uuid",
                                              "name",
                                              "host",
                                              "host_id",
                                              "state",
                                              "state_reason",
                                              "persistent",
                                              "autostart",
                                              "vcpus",
                                              "max_vcpus",
                                              "memory_bytes",
                                              "max_memory_bytes",
                                              "os_type",
                                              "domain_type",
                                              "disks",
                                              "nics",
                                              "has_agent",
                                              "balloon_model",
                                              "config_version",
                                              "updated_at",
                                              "removed",
                                              "xml",
                                              NULL};
    o = OPS(f)->vms_query(f->st, NULL, domain_id_of(f, "web"), true, NULL);
    expect_shape(only_item(o, "vms"), vm_xml_keys, "sssissbbiiiissaabsitbs");
    json_object_put(o);
    o = OPS(f)->vms_query(f->st, "a", 0, false, NULL);
    only_item(o, "vms");
    json_object_put(o);
    o = OPS(f)->vms_query(f->st, "b", 0, false, NULL);
    assert_int_equal(json_object_array_length(json_object_object_get(o, "vms")), 0);
    json_object_put(o);

    static const char *const pool_keys[] = {"host",
                                            "host_id",
                                            "name",
                                            "uuid",
                                            "state",
                                            "capacity_bytes",
                                            "allocation_bytes",
                                            "available_bytes",
                                            "target_path",
                                            "updated_at",
                                            NULL};
    o = OPS(f)->pools_query(f->st, NULL, NULL);
    json_object *p = only_item(o, "pools");
    expect_shape(p, pool_keys, "sisssiiiSt");
    assert_int_equal(int_of(p, "available_bytes"), 60);
    json_object_put(o);

    static const char *const net_keys[] = {"host",   "host_id", "name",       "uuid",
                                           "active", "bridge",  "updated_at", NULL};
    o = OPS(f)->networks_query(f->st, "a", NULL);
    expect_shape(only_item(o, "networks"), net_keys, "sissbst");
    json_object_put(o);

    static const char *const change_keys[] = {"id",           "vm_uuid",    "vm_name", "host",
                                              "from_version", "to_version", "seen_at", "cause",
                                              "actor",        "audit_id",   "diff",    NULL};
    o = OPS(f)->changes_query(f->st, 0, 100, NULL);
    expect_shape(only_item(o, "changes"), change_keys, "isssnitsnns");
    json_object_put(o);

    static const char *const audit_keys[] = {"id",          "actor",  "action", "target",
                                             "target_uuid", "host",   "params", "started_at",
                                             "ended_at",    "result", "error",  NULL};
    o = OPS(f)->audit_query(f->st, NULL, 100, NULL);
    expect_shape(only_item(o, "audit"), audit_keys, "isssssottsn");
    json_object_put(o);

    static const char *const token_keys[] = {"id",         "name",      "role", "machine_uuid",
                                             "created_at", "last_used", NULL};
    o = OPS(f)->tokens_query(f->st, NULL);
    expect_shape(only_item(o, "tokens"), token_keys, "issntT");
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_fresh_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_ensure_keeps_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_sync_creates_version_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_sync_first_sighting_by_action, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_sync_changes_attributed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_sync_unchanged_xml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_prune_and_reappear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_reappears_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_reappears_unchanged_known_bug, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_sample_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_shapes, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
