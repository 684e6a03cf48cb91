/*
 * The store's statements on either backend: SQLite, the embedded default,
 * or PostgreSQL through libpq, for installations that outgrow one machine.
 *
 * One SQL text serves both where the dialects agree (the store keeps to
 * that subset: ON CONFLICT rather than INSERT OR ..., RETURNING rather than
 * last_insert_rowid(), no SQLite-only functions); db_kind() picks between
 * two texts where they do not.  Parameters are written "?" (numbered in
 * order) or "?N", and become "$N" for PostgreSQL.
 *
 * A connection and its statements belong to one thread at a time (the
 * store's locks see to it).
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

typedef struct sqlite3 sqlite3;

enum db_kind { DB_SQLITE, DB_PG };

struct db;
typedef struct db_stmt db_stmt;

/* A connection to PostgreSQL (a libpq URI or "key=value" string), checked
 * with a round trip; NULL with *error saying why. */
struct db *db_open_pg(const char *conninfo, GError **error);
/* An open SQLite handle (taken: closed by db_close()). */
struct db *db_wrap_sqlite(sqlite3 *handle);
void db_close(struct db *db);
enum db_kind db_kind(const struct db *db);
/* The SQLite handle (NULL on PostgreSQL). */
sqlite3 *db_sqlite(struct db *db);

/* Runs SQL, which may hold several statements and no parameters. */
int db_exec(struct db *db, const char *sql, GError **error);
/* BEGIN (SQLite: BEGIN IMMEDIATE, the write lock at once), and COMMIT,
 * or ROLLBACK when R < 0 (R returned either way, unless the commit fails). */
int db_begin(struct db *db, GError **error);
int db_commit_or_rollback(struct db *db, int r, GError **error);
/* Rows changed by the last INSERT, UPDATE or DELETE. */
int64_t db_changes(struct db *db);

/*
 * Prepares SQL and binds the arguments FMT describes, one character each:
 *   s  const char * (NULL binds NULL)
 *   i  int64_t
 *   u  uint64_t (stored as int64; sizes never reach 2^63)
 *   b  bool (passed as int; stored as 0 or 1)
 *   d  double (NaN and infinities bind NULL)
 *   I  int64_t, where 0 binds NULL (optional references)
 *   U  uint64_t, where SAMPLE_ABSENT (UINT64_MAX) binds NULL (optional figures)
 * NULL with *error when SQL does not prepare (SQLite; PostgreSQL reports
 * it at the first db_step()).
 */
struct db_stmt *db_prep(struct db *db, GError **error, const char *sql, const char *fmt, ...);
struct db_stmt *db_vprep(struct db *db, GError **error, const char *sql, const char *fmt,
                         va_list ap);
/* The next row: 1 a row, 0 no more, < 0 an error (*error set). */
int db_step(struct db_stmt *q, GError **error);
/* Steps Q to its end and finalizes it (Q NULL: -EIO, its preparation
 * failed and said why). */
int db_done(struct db_stmt *q, GError **error);
void db_finalize(struct db_stmt *q);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(db_stmt, db_finalize)

/* A reused statement: back to before its first step, every parameter
 * NULL until bound again. */
void db_reset(struct db_stmt *q);
/* Binds parameter IDX (from 1) of a reused statement, as db_prep()'s
 * FMT characters do. */
void db_bind(struct db_stmt *q, int idx, char type, ...);

/*
 * Rows appended in bulk: INSERT_HEAD ("INSERT INTO t(c1, ..., cN)") with
 * NCOLS columns and TAIL after the values ("" or "ON CONFLICT ..."), each
 * row bound column by column (from 1, db_bind()'s types) and ended with
 * db_batch_row().  SQLite steps one prepared statement per row (inside the
 * caller's transaction that is its fastest path); PostgreSQL takes the
 * rows in pieces of at most a few MiB: with COPY, its fastest path, or
 * with a TAIL by one INSERT ... SELECT ... TAIL from each column's values
 * sent as one array.
 * Every row is written once db_batch_flush() returns; with a TAIL of ON
 * CONFLICT DO UPDATE, two rows of one batch must not share a key.
 */
struct db_batch;
struct db_batch *db_batch_new(struct db *db, const char *insert_head, int ncols, const char *tail,
                              GError **error);
void db_batch_bind(struct db_batch *b, int col, char type, ...);
/* The statement a row's values may be bound to instead (db_bind(), the
 * same as db_batch_bind()), for binders shared with a one-row statement. */
struct db_stmt *db_batch_stmt(struct db_batch *b);
int db_batch_row(struct db_batch *b, GError **error);
int db_batch_flush(struct db_batch *b, GError **error);
/* B's rows are expected to be new keys, its tail for the odd one that is
 * not: on PostgreSQL they then go by COPY inside the caller's transaction,
 * and through the tail only when a key is already there. */
void db_batch_expect_new(struct db_batch *b);
/* PostgreSQL, a TAIL ending in a RETURNING of one text column: each row
 * the statements return adds its value to KEYS (a set of strings it
 * frees), so that the caller learns which rows went in. */
void db_batch_collect(struct db_batch *b, GHashTable *keys);
void db_batch_free(struct db_batch *b);
/* Statements and COPYs sent to PostgreSQL on DB so far (for tests and
 * benchmarks). */
uint64_t db_round_trips(const struct db *db);

/* The current row's columns. */
int db_cols(struct db_stmt *q);
const char *db_col_name(struct db_stmt *q, int i);
bool db_col_null(struct db_stmt *q, int i);
int64_t db_col_i64(struct db_stmt *q, int i);
double db_col_double(struct db_stmt *q, int i);
/* Valid until the next step; NULL for SQL NULL. */
const char *db_col_text(struct db_stmt *q, int i);
char *db_col_strdup(struct db_stmt *q, int i);

/* SQL as PostgreSQL takes it: "?" and "?N" parameters as "$N" (*ret_n the
 * highest number), and the column names PostgreSQL reserves, which the
 * store writes in lower case ("by"), quoted; string literals, quoted names
 * and comments left alone.  Exposed for its unit test. */
char *db_sql_pg(const char *sql, int *ret_n);
/* A SQLite migration step as PostgreSQL DDL: the same, and INTEGER
 * PRIMARY KEY (the rowid alias) an identity column, INTEGER bigint, REAL
 * double precision, WITHOUT ROWID dropped. */
char *db_ddl_pg(const char *sql);
