/*
 * A SQLite store copied into an empty PostgreSQL one (store.h,
 * store_migrate_to()): every table, every row, in one PostgreSQL
 * transaction, then verified by counting the rows on both sides.
 */
#include "store/sqlite-private.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <string.h>

void store_migrate_report_clear(struct store_migrate_report *r)
{
    g_clear_pointer(&r->tables, g_ptr_array_unref);
}

static void table_count_free(struct store_table_count *t)
{
    g_free(t->table);
    g_free(t);
}

static int count_rows(struct db *db, const char *table, int64_t *ret, GError **error)
{
    g_autofree char *sql = g_strdup_printf("SELECT count(*) FROM %s", table);
    g_autoptr(db_stmt) q = db_prep(db, error, sql, NULL);
    if (!q || db_step(q, error) <= 0)
        return -EIO;
    *ret = db_col_i64(q, 0);
    return 0;
}

/* The source's tables, in creation order (migrations' order). */
static GPtrArray *source_tables(struct db *src, GError **error)
{
    g_autoptr(db_stmt) q = db_prep(src, error,
                                   "SELECT name FROM sqlite_master WHERE type = 'table'"
                                   " AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
                                   NULL);
    if (!q)
        return NULL;
    GPtrArray *ret = g_ptr_array_new_with_free_func(g_free);
    int rc;
    while ((rc = db_step(q, error)) > 0)
        g_ptr_array_add(ret, db_col_strdup(q, 0));
    if (rc < 0)
        g_clear_pointer(&ret, g_ptr_array_unref);
    return ret;
}

/* Every row of TABLE from SRC into DST (within DST's transaction). */
static int copy_table(struct db *src, struct db *dst, const char *table, GError **error)
{
    g_autofree char *select = g_strdup_printf("SELECT * FROM %s", table);
    sqlite3 *h = db_sqlite(src);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(h, select, -1, &q, NULL) != SQLITE_OK) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "reading %s: %s", table, sqlite3_errmsg(h));
        return -EIO;
    }
    int ncols = sqlite3_column_count(q);
    g_autoptr(GString) head = g_string_new(NULL);
    g_string_printf(head, "INSERT INTO %s(", table);
    for (int i = 0; i < ncols; i++) {
        const char *name = sqlite3_column_name(q, i);
        /* Quoted: a column may bear a name PostgreSQL reserves ("by"). */
        g_string_append_printf(head, "%s\"%s\"", i ? ", " : "", name);
    }
    g_string_append_c(head, ')');
    struct db_batch *b = db_batch_new(dst, head->str, ncols, "", error);
    if (!b) {
        sqlite3_finalize(q);
        return -EIO;
    }
    int r = 0, rc;
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        for (int i = 0; i < ncols; i++) {
            switch (sqlite3_column_type(q, i)) {
            case SQLITE_INTEGER:
                db_batch_bind(b, i + 1, 'i', (int64_t)sqlite3_column_int64(q, i));
                break;
            case SQLITE_FLOAT:
                db_batch_bind(b, i + 1, 'd', sqlite3_column_double(q, i));
                break;
            case SQLITE_NULL:
                db_batch_bind(b, i + 1, 's', (const char *)NULL);
                break;
            default: /* text; kanri stores no blobs */
                db_batch_bind(b, i + 1, 's', (const char *)sqlite3_column_text(q, i));
                break;
            }
        }
        r = db_batch_row(b, error);
    }
    if (r == 0 && rc != SQLITE_DONE) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "reading %s: %s", table, sqlite3_errmsg(h));
        r = -EIO;
    }
    if (r == 0)
        r = db_batch_flush(b, error);
    if (r < 0)
        g_prefix_error(error, "copying %s: ", table);
    db_batch_free(b);
    sqlite3_finalize(q);
    return r;
}

/* The earliest and latest time the source's raw samples are partitioned
 * by on PostgreSQL (lo > hi: none). */
static int sample_span(struct db *src, int64_t *ret_lo, int64_t *ret_hi, GError **error)
{
    g_autoptr(db_stmt) q =
        db_prep(src, error,
                "SELECT min(lo), max(hi) FROM ("
                " SELECT min(t) AS lo, max(t) AS hi FROM host_samples"
                " UNION ALL SELECT min(received), max(received) FROM guest_samples"
                " UNION ALL SELECT min(t), max(t) FROM node_samples"
                " UNION ALL SELECT min(t), max(t) FROM pool_samples"
                " UNION ALL SELECT min(t), max(t) FROM reconciled_samples)",
                NULL);
    if (!q || db_step(q, error) <= 0)
        return -EIO;
    *ret_lo = db_col_null(q, 0) ? 1 : db_col_i64(q, 0);
    *ret_hi = db_col_null(q, 1) ? 0 : db_col_i64(q, 1);
    return 0;
}

/* The identity columns' sequences moved past the ids copied, so that new
 * rows do not collide with them. */
static int advance_identities(struct db *dst, GError **error)
{
    g_autoptr(db_stmt) q = db_prep(dst, error,
                                   "SELECT table_name, column_name FROM information_schema.columns"
                                   " WHERE table_schema = current_schema() AND is_identity = 'YES'"
                                   " AND table_name NOT IN"
                                   "  (SELECT relname FROM pg_class WHERE relispartition)",
                                   NULL);
    if (!q)
        return -EIO;
    g_autoptr(GPtrArray) sql = g_ptr_array_new_with_free_func(g_free);
    int rc;
    while ((rc = db_step(q, error)) > 0) {
        const char *t = db_col_text(q, 0), *c = db_col_text(q, 1);
        g_ptr_array_add(sql, g_strdup_printf("SELECT setval(pg_get_serial_sequence('%s', '%s'),"
                                             " (SELECT COALESCE(max(%s), 0) + 1 FROM %s), false)",
                                             t, c, c, t));
    }
    if (rc < 0)
        return -EIO;
    for (guint i = 0; i < sql->len; i++) {
        if (db_exec(dst, sql->pdata[i], error) < 0)
            return -EIO;
    }
    return 0;
}

int store_migrate_to(struct store *source, struct store *target, struct store_migrate_report *ret,
                     GError **error)
{
    memset(ret, 0, sizeof(*ret));
    ret->tables = g_ptr_array_new_with_free_func((GDestroyNotify)table_count_free);
    if (g_strcmp0(source->ops->name, "sqlite") != 0 ||
        g_strcmp0(target->ops->name, "postgresql") != 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID,
                    "a migration goes from a SQLite store to a PostgreSQL one, not from %s to %s",
                    source->ops->name, target->ops->name);
        return -EINVAL;
    }
    struct store_sqlite *s = SQ(source), *t = SQ(target);
    g_autoptr(GMutexLocker) ls = g_mutex_locker_new(&s->wlock);
    g_autoptr(GMutexLocker) lt = g_mutex_locker_new(&t->wlock);
    g_autoptr(GPtrArray) tables = source_tables(s->w, error);
    if (!tables)
        return -EIO;
    /* Into an empty database only: nothing of another fleet is mixed in or
     * overwritten. */
    for (guint i = 0; i < tables->len; i++) {
        int64_t n = 0;
        if (count_rows(t->w, tables->pdata[i], &n, error) < 0) {
            g_prefix_error(error, "the target database: ");
            return -EIO;
        }
        if (n > 0) {
            g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID,
                        "the target database already holds data (%s has %" PRId64
                        " rows): migrate into an empty database",
                        (const char *)tables->pdata[i], n);
            return -EEXIST;
        }
    }
    /* The source read as one snapshot, the target written as one
     * transaction: a failure leaves the target empty. */
    int r = db_exec(s->w, "BEGIN", error);
    if (r < 0)
        return r;
    /* The partitions of the days the source's samples span are made
     * first, in transactions of their own (pg-partitions.c). */
    int64_t lo, hi;
    r = sample_span(s->w, &lo, &hi, error);
    if (r == 0)
        r = pg_partitions_ensure(t, lo, hi, error);
    if (r == 0)
        r = db_begin(t->w, error);
    for (guint i = 0; r == 0 && i < tables->len; i++)
        r = copy_table(s->w, t->w, tables->pdata[i], error);
    if (r == 0)
        r = advance_identities(t->w, error);
    /* Verified by counting, inside the transaction: what commits is what
     * was counted. */
    for (guint i = 0; r == 0 && i < tables->len; i++) {
        struct store_table_count *c = g_new0(struct store_table_count, 1);
        c->table = g_strdup(tables->pdata[i]);
        g_ptr_array_add(ret->tables, c);
        r = count_rows(s->w, c->table, &c->source_rows, error);
        if (r == 0)
            r = count_rows(t->w, c->table, &c->target_rows, error);
        if (r == 0 && c->source_rows != c->target_rows) {
            g_set_error(error, STORE_ERROR, STORE_ERROR_IO,
                        "%s: %" PRId64 " rows in the source but %" PRId64
                        " in the target; nothing was kept",
                        c->table, c->source_rows, c->target_rows);
            r = -EIO;
        }
        ret->rows += c->source_rows;
    }
    r = db_commit_or_rollback(t->w, r, error);
    db_exec(s->w, "COMMIT", NULL);
    return r;
}
