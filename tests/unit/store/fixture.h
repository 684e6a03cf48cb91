/*
 * The store unit tests' fixture: a fresh SQLite store in a temporary
 * directory per test (setup/teardown for cmocka), reopened on demand; or,
 * once store_fixture_pg() has been given a server's connection string (a
 * suite's second run, on PostgreSQL), a fresh PostgreSQL store in a schema
 * of the suite's own (FIXTURE_PG_SCHEMA), emptied before each test, so
 * that suites running at once on one server keep apart.
 * Include after <cmocka.h>, <glib.h>, <glib/gstdio.h>, <math.h>, <sqlite3.h>
 * and store/store.h.
 */
#pragma once

struct fx {
    char *dir;
    char *path; /* the SQLite file, or the PostgreSQL URL */
    bool pg;
    struct store *st;
};

#ifndef FIXTURE_PG_SCHEMA
#define FIXTURE_PG_SCHEMA "kanri_test"
#endif

/* The PostgreSQL store's URL (NULL: SQLite): the server's, with the
 * suite's schema as the connections' search path. */
static char *fixture_pg_url;

static void store_fixture_pg(const char *server_url)
{
    g_free(fixture_pg_url);
    fixture_pg_url = server_url
                         ? g_strdup_printf("%s%coptions=-csearch_path%%3D%s", server_url,
                                           strchr(server_url, '?') ? '&' : '?', FIXTURE_PG_SCHEMA)
                         : NULL;
}

/* The suite's schema emptied: no table left from a test before. */
static void pg_empty(const char *url)
{
    g_autoptr(GError) err = NULL;
    struct db *db = db_open_pg(url, &err);
    if (!db)
        fail_msg("%s", err->message);
    if (db_exec(db,
                "DROP SCHEMA IF EXISTS " FIXTURE_PG_SCHEMA " CASCADE;"
                " CREATE SCHEMA " FIXTURE_PG_SCHEMA,
                &err) < 0)
        fail_msg("emptying the test schema: %s", err->message);
    db_close(db);
}

/* Runs TESTS on SQLite, then on PostgreSQL when KANRI_TEST_PG names a
 * server (make check starts one); without one, says the PostgreSQL run
 * was skipped, or fails when KANRI_TEST_PG_REQUIRED=1. */
static int run_on_both(const char *name, const struct CMUnitTest *tests, size_t n)
{
    store_fixture_pg(NULL);
    int failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    const char *pg = g_getenv("KANRI_TEST_PG");
    if (!pg || !*pg) {
        if (g_strcmp0(g_getenv("KANRI_TEST_PG_REQUIRED"), "1") == 0) {
            fprintf(stderr, "KANRI_TEST_PG is not set: no PostgreSQL server to test on\n");
            return failed + 1;
        }
        fprintf(stderr,
                "# %s on PostgreSQL skipped: KANRI_TEST_PG is not set "
                "(tools/pg-server.sh start DIR prints one)\n",
                name);
        return failed;
    }
    store_fixture_pg(pg);
    g_autofree char *pg_name = g_strconcat(name, "-postgresql", NULL);
    failed += _cmocka_run_group_tests(pg_name, tests, n, NULL, NULL);
    store_fixture_pg(NULL);
    return failed;
}

static int setup(void **state)
{
    struct fx *f = g_new0(struct fx, 1);
    f->dir = g_dir_make_tmp("kanri-store-XXXXXX", NULL);
    assert_non_null(f->dir);
    f->pg = fixture_pg_url != NULL;
    if (f->pg)
        pg_empty(fixture_pg_url);
    f->path = f->pg ? g_strdup(fixture_pg_url) : g_build_filename(f->dir, "kanri.db", NULL);
    g_autoptr(GError) err = NULL;
    f->st = store_open(f->path, &err);
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
    f->st = store_open(f->path, &err);
    if (!f->st)
        fail_msg("reopen: %s", err->message);
}

#define OPS(f) ((f)->st->ops)

/* A query's rows, failing the test when the query fails. */
static struct rows *rows_ok(struct rows *r, GError **err, const char *what)
{
    if (!r)
        fail_msg("%s: %s", what, *err ? (*err)->message : "failed without an error");
    assert_null(*err);
    return r;
}

static struct rows *hosts_of(struct fx *f, const char *name_or_id)
{
    g_autoptr(GError) err = NULL;
    return rows_ok(OPS(f)->hosts_query(f->st, name_or_id, &err), &err, "hosts_query");
}

/* Fails when a field of row I of R is absent, unless it is named in
 * MAY_BE_ABSENT (NULL-terminated, or NULL).  The store fills a row by
 * matching column names to field names and skips a column it cannot
 * match, so a misnamed column shows up here as an absent field. */
static void expect_filled(const struct rows *r, guint i, const char *const *may_be_absent)
{
    const struct row_desc *d = r->desc;
    const char *row = rows_get(r, i);
    for (size_t k = 0; k < d->n_fields; k++) {
        const struct row_field *fl = &d->fields[k];
        const char *p = row + fl->offset;
        bool absent = false;
        switch (fl->type) {
        case ROW_STR:
        case ROW_JSON:
            absent = *(char *const *)p == NULL;
            break;
        case ROW_INT:
            absent = *(const int64_t *)p == ROW_INT_ABSENT;
            break;
        case ROW_TIME:
            absent = *(const int64_t *)p == 0;
            break;
        case ROW_REAL:
            absent = isnan(*(const double *)p);
            break;
        case ROW_BOOL:
            break;
        }
        if (!absent)
            continue;
        bool allowed = false;
        for (size_t j = 0; may_be_absent && may_be_absent[j]; j++)
            allowed = allowed || g_str_equal(may_be_absent[j], fl->name);
        if (!allowed)
            fail_msg("%s row %u: field '%s' is absent", d->name, i, fl->name);
    }
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
