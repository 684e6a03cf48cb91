/*
 * Tests of src/store/db.c, the statement layer, on a real SQLite file and
 * on a real PostgreSQL server (KANRI_TEST_PG, the connection string that
 * tools/pg-server.sh prints; make check sets it).  The same statements
 * give the same answers on both: parameters of every kind, NULLs,
 * RETURNING, rows changed, reused statements, transactions, and errors in
 * words.  Without KANRI_TEST_PG the PostgreSQL half is skipped, saying so;
 * with KANRI_TEST_PG_REQUIRED=1 it fails instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "model/sample.h"
#include "store/db.h"

/* ---- the PostgreSQL form of the SQL ---- */

static void sql_is(const char *sql, const char *want, int want_n)
{
    int n = -1;
    g_autofree char *got = db_sql_pg(sql, &n);
    assert_string_equal(got, want);
    assert_int_equal(n, want_n);
}

static void test_sql_pg(void **state)
{
    (void)state;
    sql_is("SELECT 1", "SELECT 1", 0);
    sql_is("SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2", 2);
    sql_is("UPDATE t SET a = ?2 WHERE id = ?1 OR ?2 IS NULL",
           "UPDATE t SET a = $2 WHERE id = $1 OR $2 IS NULL", 2);
    /* Literals, quoted names and comments keep their question marks. */
    sql_is("SELECT '?', 'it''s ?', \"a?\" FROM t WHERE x = ? -- why?\n AND y = ?",
           "SELECT '?', 'it''s ?', \"a?\" FROM t WHERE x = $1 -- why?\n AND y = $2", 2);
    sql_is("SELECT 'unterminated ?", "SELECT 'unterminated ?", 0);
    sql_is("?10", "$10", 10);
}

/* ---- the same behaviour on both backends ---- */

struct fixture {
    struct db *db;
    char *dir;
};

static int setup_sqlite(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->dir = g_dir_make_tmp("kanri-db-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(f->dir, "t.db", NULL);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    f->db = db_wrap_sqlite(h);
    *state = f;
    return 0;
}

static int setup_pg(void **state)
{
    const char *url = g_getenv("KANRI_TEST_PG");
    struct fixture *f = g_new0(struct fixture, 1);
    g_autoptr(GError) err = NULL;
    f->db = db_open_pg(url, &err);
    if (!f->db)
        fail_msg("%s", err->message);
    assert_int_equal(db_exec(f->db, "DROP TABLE IF EXISTS t", &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    if (db_kind(f->db) == DB_PG)
        db_exec(f->db, "DROP TABLE IF EXISTS t", NULL);
    db_close(f->db);
    if (f->dir) {
        g_autofree char *path = g_build_filename(f->dir, "t.db", NULL);
        g_unlink(path);
        g_rmdir(f->dir);
        g_free(f->dir);
    }
    g_free(f);
    return 0;
}

static void make_table(struct db *db)
{
    g_autoptr(GError) err = NULL;
    assert_int_equal(db_exec(db,
                             "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, v DOUBLE PRECISION,"
                             " n BIGINT, flag BIGINT NOT NULL DEFAULT 0);"
                             "CREATE INDEX t_name ON t(name)",
                             &err),
                     0);
}

static void test_params_and_nulls(void **state)
{
    struct fixture *f = *state;
    struct db *db = f->db;
    g_autoptr(GError) err = NULL;
    make_table(db);
    /* Every kind of parameter, and each that binds NULL. */
    assert_int_equal(db_done(db_prep(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", "isdUb",
                                     (int64_t)1, "one ? 'quoted'", 1.5, (uint64_t)42, true),
                             &err),
                     0);
    assert_int_equal(db_changes(db), 1);
    assert_int_equal(db_done(db_prep(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", "isdIb",
                                     (int64_t)2, NULL, NAN, (int64_t)0, false),
                             &err),
                     0);
    assert_int_equal(db_done(db_prep(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", "usdUb",
                                     (uint64_t)3, "three", 0.25, SAMPLE_ABSENT, false),
                             &err),
                     0);

    g_autoptr(db_stmt) q = db_prep(db, &err, "SELECT id, name, v, n, flag, n > 40 AS big FROM t "
                                             "ORDER BY id",
                                   NULL);
    assert_non_null(q);
    assert_int_equal(db_step(q, &err), 1);
    assert_int_equal(db_cols(q), 6);
    assert_string_equal(db_col_name(q, 5), "big");
    assert_int_equal(db_col_i64(q, 0), 1);
    assert_string_equal(db_col_text(q, 1), "one ? 'quoted'");
    assert_true(db_col_double(q, 2) == 1.5);
    assert_int_equal(db_col_i64(q, 3), 42);
    assert_int_equal(db_col_i64(q, 4), 1);
    assert_int_equal(db_col_i64(q, 5), 1); /* a comparison reads as 1 */
    assert_int_equal(db_step(q, &err), 1);
    assert_int_equal(db_col_i64(q, 0), 2);
    assert_true(db_col_null(q, 1));
    assert_null(db_col_text(q, 1));
    assert_true(db_col_null(q, 2)); /* NaN */
    assert_true(db_col_null(q, 3)); /* I 0 */
    assert_int_equal(db_col_i64(q, 4), 0);
    assert_int_equal(db_step(q, &err), 1);
    assert_true(db_col_null(q, 3)); /* SAMPLE_ABSENT */
    assert_int_equal(db_step(q, &err), 0);
    assert_null(err);
}

static void test_returning_changes_and_reuse(void **state)
{
    struct fixture *f = *state;
    struct db *db = f->db;
    g_autoptr(GError) err = NULL;
    make_table(db);
    /* A statement reused with new bindings, as a round's writes are. */
    g_autoptr(db_stmt) ins =
        db_prep(db, &err, "INSERT INTO t (id, name) VALUES (?, ?) RETURNING id * 10", NULL);
    assert_non_null(ins);
    for (int64_t i = 1; i <= 5; i++) {
        db_reset(ins);
        db_bind(ins, 1, 'i', i);
        db_bind(ins, 2, 's', i % 2 ? "odd" : "even");
        assert_int_equal(db_step(ins, &err), 1);
        assert_int_equal(db_col_i64(ins, 0), i * 10);
        assert_int_equal(db_step(ins, &err), 0);
    }
    /* A reset forgets the bindings: an unbound parameter is NULL. */
    db_reset(ins);
    db_bind(ins, 1, 'i', (int64_t)6);
    assert_int_equal(db_step(ins, &err), 1);
    db_finalize(g_steal_pointer(&ins));
    g_autoptr(db_stmt) six = db_prep(db, &err, "SELECT name IS NULL FROM t WHERE id = 6", NULL);
    assert_int_equal(db_step(six, &err), 1);
    assert_int_equal(db_col_i64(six, 0), 1);
    /* ?N names a parameter twice; ON CONFLICT is the portable upsert. */
    assert_int_equal(db_done(db_prep(db, &err,
                                     "INSERT INTO t (id, name, n) VALUES (?1, ?2, ?1) "
                                     "ON CONFLICT (id) DO UPDATE SET name = excluded.name, n = ?1",
                                     "is", (int64_t)5, "five"),
                             &err),
                     0);
    assert_int_equal(db_done(db_prep(db, &err, "UPDATE t SET flag = 1 WHERE name = ?", "s", "odd"),
                             &err),
                     0);
    assert_int_equal(db_changes(db), 2); /* 1 and 3; 5 is "five" now */
    g_autoptr(db_stmt) q =
        db_prep(db, &err, "SELECT name, n FROM t WHERE id = ? OR ? IS NULL ORDER BY id DESC", "is",
                (int64_t)5, "x");
    assert_int_equal(db_step(q, &err), 1);
    assert_string_equal(db_col_text(q, 0), "five");
    assert_int_equal(db_col_i64(q, 1), 5);
    assert_int_equal(db_step(q, &err), 0);
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    struct db *db = f->db;
    g_autoptr(GError) err = NULL;
    make_table(db);
    assert_int_equal(db_begin(db, &err), 0);
    db_done(db_prep(db, &err, "INSERT INTO t (id) VALUES (1)", NULL), &err);
    assert_int_equal(db_commit_or_rollback(db, -EIO, &err), -EIO);
    assert_int_equal(db_begin(db, &err), 0);
    db_done(db_prep(db, &err, "INSERT INTO t (id) VALUES (2)", NULL), &err);
    assert_int_equal(db_commit_or_rollback(db, 0, &err), 0);
    g_autoptr(db_stmt) q = db_prep(db, &err, "SELECT count(*), min(id) FROM t", NULL);
    assert_int_equal(db_step(q, &err), 1);
    assert_int_equal(db_col_i64(q, 0), 1);
    assert_int_equal(db_col_i64(q, 1), 2);
}

static void test_errors_in_words(void **state)
{
    struct fixture *f = *state;
    struct db *db = f->db;
    make_table(db);
    g_autoptr(GError) err = NULL;
    /* A bad statement: said at preparation (SQLite) or at the first step
     * (PostgreSQL), and a step after it stays an error. */
    g_autoptr(db_stmt) q = db_prep(db, &err, "SELECT nosuch FROM t", NULL);
    if (q) {
        assert_true(db_step(q, &err) < 0);
        assert_true(db_step(q, NULL) < 0);
    }
    assert_non_null(err);
    assert_non_null(strstr(err->message, "nosuch"));
    g_clear_error(&err);
    /* A constraint. */
    assert_int_equal(db_done(db_prep(db, &err, "INSERT INTO t (id) VALUES (7)", NULL), &err), 0);
    assert_true(db_done(db_prep(db, &err, "INSERT INTO t (id) VALUES (7)", NULL), &err) < 0);
    assert_non_null(err);
    g_clear_error(&err);
    /* NULL from a failed preparation is an error, not a crash. */
    assert_int_equal(db_done(NULL, &err), -EIO);
    /* The connection still works. */
    assert_int_equal(db_exec(db, "DELETE FROM t", &err), 0);
    assert_int_equal(db_changes(db), 1);
}

int main(void)
{
    const struct CMUnitTest sqlite[] = {
        cmocka_unit_test(test_sql_pg),
        cmocka_unit_test_setup_teardown(test_params_and_nulls, setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(test_returning_changes_and_reuse, setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(test_errors_in_words, setup_sqlite, teardown),
    };
    const struct CMUnitTest pg[] = {
        cmocka_unit_test_setup_teardown(test_params_and_nulls, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_returning_changes_and_reuse, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_errors_in_words, setup_pg, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", sqlite, NULL, NULL);
    const char *url = g_getenv("KANRI_TEST_PG");
    if (url && *url)
        return failed + cmocka_run_group_tests_name("postgresql", pg, NULL, NULL);
    if (g_strcmp0(g_getenv("KANRI_TEST_PG_REQUIRED"), "1") == 0) {
        fprintf(stderr, "KANRI_TEST_PG is not set: no PostgreSQL server to test on\n");
        return 1;
    }
    fprintf(stderr, "# PostgreSQL half skipped: KANRI_TEST_PG is not set "
                    "(tools/pg-server.sh start DIR prints one)\n");
    return failed;
}
