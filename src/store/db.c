/*
 * The store's statements on SQLite or PostgreSQL (db.h).
 *
 * On PostgreSQL a statement is sent with its parameters as text and their
 * types (bigint, double precision, text) when first stepped, and its
 * result is read row by row from the client's copy.
 */
#include "store/db.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "model/sample.h"
#include "store/store.h"

/* PostgreSQL's type ids (catalog/pg_type.h, stable across versions). */
#define OID_INT8 20
#define OID_TEXT 25
#define OID_FLOAT8 701

struct db {
    enum db_kind kind;
    sqlite3 *sq;
    PGconn *pg;
    int64_t changes; /* PostgreSQL: of the last statement */
    uint64_t round_trips;
};

struct db_param {
    char *text; /* NULL: SQL NULL */
    unsigned oid;
};

struct db_stmt {
    struct db *db;
    sqlite3_stmt *sq;
    /* PostgreSQL */
    char *sql;
    int nparams;
    struct db_param *params;
    PGresult *res;
    int row, nrows; /* row: the current one, -1 before the first */
    bool sent, failed;
};

static int io_error(GError **error, const char *what, const char *msg)
{
    g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "%s: %s", what, msg);
    return -EIO;
}

static const char *pg_message(PGconn *c)
{
    /* libpq's messages end in a newline. */
    static _Thread_local char buf[512];
    g_strlcpy(buf, PQerrorMessage(c), sizeof buf);
    g_strchomp(buf);
    return buf;
}

/* RES's error (or else the connection's) as *error. */
static int pg_result_error(GError **error, PGconn *c, const PGresult *res)
{
    const char *msg = PQresultErrorMessage(res);
    g_autofree char *m = g_strchomp(g_strdup(msg && *msg ? msg : pg_message(c)));
    return io_error(error, "PostgreSQL", m);
}

/* ---- connections ---- */

struct db *db_open_pg(const char *conninfo, GError **error)
{
    PGconn *c = PQconnectdb(conninfo);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "cannot connect to PostgreSQL: %s",
                    c ? pg_message(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    /* Messages in English whatever the server's locale; UTC timestamps. */
    PGresult *r = PQexec(c, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "PostgreSQL: %s", pg_message(c));
        PQfinish(c);
        return NULL;
    }
    struct db *db = g_new0(struct db, 1);
    db->kind = DB_PG;
    db->pg = c;
    return db;
}

struct db *db_wrap_sqlite(sqlite3 *handle)
{
    struct db *db = g_new0(struct db, 1);
    db->kind = DB_SQLITE;
    db->sq = handle;
    return db;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    if (db->sq)
        sqlite3_close_v2(db->sq);
    if (db->pg)
        PQfinish(db->pg);
    g_free(db);
}

enum db_kind db_kind(const struct db *db)
{
    return db->kind;
}

sqlite3 *db_sqlite(struct db *db)
{
    return db->sq;
}

int db_exec(struct db *db, const char *sql, GError **error)
{
    if (db->kind == DB_SQLITE) {
        char *msg = NULL;
        if (sqlite3_exec(db->sq, sql, NULL, NULL, &msg) != SQLITE_OK) {
            g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "%s", msg ? msg : "sqlite error");
            sqlite3_free(msg);
            return -EIO;
        }
        return 0;
    }
    PGresult *r = PQexec(db->pg, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return io_error(error, "PostgreSQL", pg_message(db->pg));
    return 0;
}

int db_begin(struct db *db, GError **error)
{
    return db_exec(db, db->kind == DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN", error);
}

int db_commit_or_rollback(struct db *db, int r, GError **error)
{
    if (r < 0) {
        db_exec(db, "ROLLBACK", NULL);
        return r;
    }
    return db_exec(db, "COMMIT", error);
}

int64_t db_changes(struct db *db)
{
    return db->kind == DB_SQLITE ? sqlite3_changes64(db->sq) : db->changes;
}

/* ---- SQL for PostgreSQL ---- */

/* The length of the word at P (a name or keyword), 0 when none. */
static size_t word_len(const char *p)
{
    size_t n = 0;
    if (!g_ascii_isalpha(*p) && *p != '_')
        return 0;
    while (g_ascii_isalnum(p[n]) || p[n] == '_')
        n++;
    return n;
}

static bool word_is(const char *p, size_t n, const char *w)
{
    return n == strlen(w) && strncmp(p, w, n) == 0;
}

/* The word after P's word and the blanks following it, or NULL. */
static const char *next_word(const char *p, size_t n, const char *w)
{
    const char *q = p + n;
    while (g_ascii_isspace(*q))
        q++;
    size_t m = word_len(q);
    return word_is(q, m, w) ? q : NULL;
}

/* Column names that PostgreSQL reserves, which the store writes in lower
 * case (its keywords are in capitals): quoted. */
static const char *const reserved_names[] = {"by", NULL};

/* SQL rewritten for PostgreSQL: parameters, reserved names, and with DDL
 * the SQLite types. */
static char *to_pg(const char *sql, bool ddl, int *ret_n)
{
    GString *out = g_string_sized_new(strlen(sql) + 16);
    int next = 0, max = 0;
    for (const char *p = sql; *p;) {
        size_t n = word_len(p);
        if (*p == '\'' || *p == '"') { /* a literal or a quoted name, '' or "" inside */
            char q = *p;
            const char *e = p + 1;
            while (*e && !(*e == q && e[1] != q))
                e += *e == q ? 2 : 1;
            if (*e)
                e++;
            g_string_append_len(out, p, e - p);
            p = e;
        } else if (p[0] == '-' && p[1] == '-') {
            const char *e = strchr(p, '\n');
            e = e ? e : p + strlen(p);
            g_string_append_len(out, p, e - p);
            p = e;
        } else if (*p == '?') {
            int k;
            char *end;
            if (g_ascii_isdigit(p[1])) {
                k = (int)strtol(p + 1, &end, 10);
                p = end;
            } else {
                k = ++next;
                p++;
            }
            max = MAX(max, k);
            g_string_append_printf(out, "$%d", k);
        } else if (n) {
            const char *w = p, *after;
            p += n;
            bool done = false;
            for (const char *const *r = reserved_names; *r && !done; r++) {
                if (word_is(w, n, *r)) {
                    g_string_append_printf(out, "\"%s\"", *r);
                    done = true;
                }
            }
            if (done)
                continue;
            if (ddl && word_is(w, n, "INTEGER") && (after = next_word(w, n, "PRIMARY")) &&
                next_word(after, 7, "KEY")) {
                /* SQLite's rowid alias: a key numbered by the database. */
                g_string_append(out, "BIGINT GENERATED BY DEFAULT AS IDENTITY");
            } else if (ddl && word_is(w, n, "INTEGER")) {
                g_string_append(out, "BIGINT");
            } else if (ddl && word_is(w, n, "REAL")) {
                g_string_append(out, "DOUBLE PRECISION");
            } else if (ddl && word_is(w, n, "WITHOUT") && (after = next_word(w, n, "ROWID"))) {
                p = after + 5; /* PostgreSQL's tables have no rowid to do without */
            } else {
                g_string_append_len(out, w, n);
            }
        } else if (g_ascii_isdigit(*p)) { /* a number, whose letters are not a word */
            while (g_ascii_isalnum(*p) || *p == '.')
                g_string_append_c(out, *p++);
        } else {
            g_string_append_c(out, *p++);
        }
    }
    if (ret_n)
        *ret_n = max;
    return g_string_free(out, FALSE);
}

char *db_sql_pg(const char *sql, int *ret_n)
{
    return to_pg(sql, false, ret_n);
}

char *db_ddl_pg(const char *sql)
{
    return to_pg(sql, true, NULL);
}

/* ---- statements ---- */

static void param_set(struct db_stmt *q, int idx, char *text, unsigned oid)
{
    if (idx < 1 || idx > q->nparams) {
        g_free(text); /* the SQL has no such parameter: as SQLite, ignored */
        return;
    }
    g_free(q->params[idx - 1].text);
    q->params[idx - 1] = (struct db_param){text, oid};
}

static void vbind(struct db_stmt *q, int idx, char type, va_list *ap)
{
    sqlite3_stmt *s = q->sq;
    switch (type) {
    case 's': {
        const char *v = va_arg(*ap, const char *);
        if (s)
            v ? sqlite3_bind_text(s, idx, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, idx);
        else
            param_set(q, idx, g_strdup(v), OID_TEXT);
        return;
    }
    case 'b': {
        int v = va_arg(*ap, int) ? 1 : 0;
        if (s)
            sqlite3_bind_int(s, idx, v);
        else
            param_set(q, idx, g_strdup(v ? "1" : "0"), OID_INT8);
        return;
    }
    case 'd': {
        double v = va_arg(*ap, double);
        bool null = !isfinite(v);
        if (s)
            null ? sqlite3_bind_null(s, idx) : sqlite3_bind_double(s, idx, v);
        else
            param_set(q, idx, null ? NULL : g_strdup_printf("%.17g", v), OID_FLOAT8);
        return;
    }
    default:
        break;
    }
    int64_t v;
    bool null = false;
    switch (type) {
    case 'i':
        v = va_arg(*ap, int64_t);
        break;
    case 'u':
        v = (int64_t)va_arg(*ap, uint64_t);
        break;
    case 'I':
        v = va_arg(*ap, int64_t);
        null = v == 0;
        break;
    case 'U': {
        uint64_t u = va_arg(*ap, uint64_t);
        null = u == SAMPLE_ABSENT || u > (uint64_t)INT64_MAX;
        v = (int64_t)u;
        break;
    }
    default:
        g_assert_not_reached();
    }
    if (s)
        null ? sqlite3_bind_null(s, idx) : sqlite3_bind_int64(s, idx, v);
    else
        param_set(q, idx, null ? NULL : g_strdup_printf("%" PRId64, v), OID_INT8);
}

void db_bind(struct db_stmt *q, int idx, char type, ...)
{
    va_list ap;
    va_start(ap, type);
    vbind(q, idx, type, &ap);
    va_end(ap);
}

struct db_stmt *db_vprep(struct db *db, GError **error, const char *sql, const char *fmt,
                         va_list ap)
{
    struct db_stmt *q = g_new0(struct db_stmt, 1);
    q->db = db;
    q->row = -1;
    if (db->kind == DB_SQLITE) {
        if (sqlite3_prepare_v2(db->sq, sql, -1, &q->sq, NULL) != SQLITE_OK) {
            io_error(error, "prepare", sqlite3_errmsg(db->sq));
            g_free(q);
            return NULL;
        }
    } else {
        q->sql = db_sql_pg(sql, &q->nparams);
        q->params = g_new0(struct db_param, (gsize)q->nparams + 1);
    }
    va_list aq;
    va_copy(aq, ap);
    for (int i = 0; fmt && fmt[i]; i++)
        vbind(q, i + 1, fmt[i], &aq);
    va_end(aq);
    return q;
}

struct db_stmt *db_prep(struct db *db, GError **error, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct db_stmt *q = db_vprep(db, error, sql, fmt, ap);
    va_end(ap);
    return q;
}

static int pg_send(struct db_stmt *q, GError **error)
{
    const char **values = g_newa(const char *, (gsize)q->nparams + 1);
    Oid *types = g_newa(Oid, (gsize)q->nparams + 1);
    for (int i = 0; i < q->nparams; i++) {
        values[i] = q->params[i].text;
        types[i] = q->params[i].oid ? q->params[i].oid : OID_TEXT;
    }
    q->sent = true;
    q->db->round_trips++;
    q->res = PQexecParams(q->db->pg, q->sql, q->nparams, types, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(q->res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        q->failed = true;
        return pg_result_error(error, q->db->pg, q->res);
    }
    q->nrows = PQntuples(q->res);
    const char *n = PQcmdTuples(q->res);
    q->db->changes = n && *n ? g_ascii_strtoll(n, NULL, 10) : 0;
    return 0;
}

int db_step(struct db_stmt *q, GError **error)
{
    if (q->sq) {
        int rc = sqlite3_step(q->sq);
        if (rc == SQLITE_ROW)
            return 1;
        if (rc == SQLITE_DONE)
            return 0;
        return io_error(error, "SQLite", sqlite3_errmsg(q->db->sq));
    }
    if (!q->sent && pg_send(q, error) < 0)
        return -EIO;
    if (q->failed)
        return io_error(error, "PostgreSQL", "the statement failed");
    if (q->row + 1 >= q->nrows) {
        q->row = q->nrows;
        return 0;
    }
    q->row++;
    return 1;
}

int db_done(struct db_stmt *q, GError **error)
{
    if (!q)
        return -EIO;
    int rc;
    while ((rc = db_step(q, error)) > 0)
        ;
    db_finalize(q);
    return rc < 0 ? -EIO : 0;
}

void db_reset(struct db_stmt *q)
{
    if (q->sq) {
        sqlite3_reset(q->sq);
        sqlite3_clear_bindings(q->sq);
        return;
    }
    for (int i = 0; i < q->nparams; i++)
        g_clear_pointer(&q->params[i].text, g_free);
    PQclear(q->res);
    q->res = NULL;
    q->sent = q->failed = false;
    q->row = -1;
    q->nrows = 0;
}

void db_finalize(struct db_stmt *q)
{
    if (!q)
        return;
    if (q->sq)
        sqlite3_finalize(q->sq);
    PQclear(q->res);
    for (int i = 0; i < q->nparams; i++)
        g_free(q->params[i].text);
    g_free(q->params);
    g_free(q->sql);
    g_free(q);
}

/* ---- rows in bulk ---- */

struct db_batch {
    struct db *db;
    int ncols;
    struct db_stmt *one; /* SQLite: the one-row statement; PostgreSQL: the row being bound */
    /* PostgreSQL */
    char *table, *cols, *tail;
    GString *copy; /* without a tail: the rows bound so far, in COPY's text format */
    /* With a tail: each column's values bound so far, as an array's text,
     * and its type. */
    GString **arrays;
    unsigned *oids;
    guint rows;
    GHashTable *keys; /* db_batch_collect() */
};

/* "INSERT INTO TABLE(COLS)" split; false when HEAD is not that. */
static bool split_head(const char *head, char **ret_table, char **ret_cols)
{
    static const char prefix[] = "INSERT INTO ";
    if (!g_str_has_prefix(head, prefix))
        return false;
    const char *t = head + strlen(prefix), *open = strchr(t, '('), *close = strrchr(t, ')');
    if (!open || !close || close < open || close[1])
        return false;
    *ret_table = g_strstrip(g_strndup(t, (gsize)(open - t)));
    *ret_cols = g_strndup(open + 1, (gsize)(close - open - 1));
    return **ret_table != '\0';
}

struct db_batch *db_batch_new(struct db *db, const char *insert_head, int ncols, const char *tail,
                              GError **error)
{
    g_return_val_if_fail(ncols > 0, NULL);
    struct db_batch *b = g_new0(struct db_batch, 1);
    b->db = db;
    b->ncols = ncols;
    if (db->kind == DB_SQLITE) {
        GString *sql = g_string_new(insert_head);
        g_string_append(sql, " VALUES (");
        for (int i = 0; i < ncols; i++)
            g_string_append(sql, i ? ",?" : "?");
        g_string_append_printf(sql, ")%s%s", *tail ? " " : "", tail);
        b->one = db_prep(db, error, sql->str, NULL);
        g_string_free(sql, TRUE);
        if (!b->one) {
            g_free(b);
            return NULL;
        }
        return b;
    }
    if (!split_head(insert_head, &b->table, &b->cols)) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID,
                    "a batch needs INSERT INTO TABLE(COLUMNS), not '%s'", insert_head);
        db_batch_free(b);
        return NULL;
    }
    b->one = g_new0(struct db_stmt, 1);
    b->one->db = db;
    b->one->nparams = ncols;
    b->one->params = g_new0(struct db_param, (gsize)ncols + 1);
    b->tail = g_strdup(tail);
    if (*tail) {
        b->arrays = g_new0(GString *, ncols);
        b->oids = g_new0(unsigned, ncols);
        for (int i = 0; i < ncols; i++)
            b->arrays[i] = g_string_sized_new(4096);
    } else {
        b->copy = g_string_sized_new(64 * 1024);
    }
    return b;
}

void db_batch_bind(struct db_batch *b, int col, char type, ...)
{
    va_list ap;
    va_start(ap, type);
    vbind(b->one, col, type, &ap);
    va_end(ap);
}

struct db_stmt *db_batch_stmt(struct db_batch *b)
{
    return b->one;
}

/* A value as COPY's text format writes it: \N for NULL, the backslash
 * and the characters that end a field or a row escaped. */
static void copy_value(GString *out, const char *v)
{
    if (!v) {
        g_string_append(out, "\\N");
        return;
    }
    for (; *v; v++) {
        switch (*v) {
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        default:
            g_string_append_c(out, *v);
        }
    }
}

/* COPY the buffered rows into TABLE; *RET_DUPLICATE (when given) says
 * whether it failed on a key already there. */
static int pg_copy(struct db_batch *b, const char *table, bool *ret_duplicate, GError **error)
{
    PGconn *c = b->db->pg;
    g_autofree char *sql = g_strdup_printf("COPY %s (%s) FROM STDIN", table, b->cols);
    b->db->round_trips++;
    PGresult *res = PQexec(c, sql);
    bool in = PQresultStatus(res) == PGRES_COPY_IN;
    if (!in) {
        int r = pg_result_error(error, c, res);
        PQclear(res);
        return r;
    }
    PQclear(res);
    bool sent = PQputCopyData(c, b->copy->str, (int)b->copy->len) == 1;
    sent = PQputCopyEnd(c, sent ? NULL : "kanri could not send the rows") == 1 && sent;
    int r = 0;
    while ((res = PQgetResult(c))) {
        if (r == 0 && PQresultStatus(res) != PGRES_COMMAND_OK) {
            if (ret_duplicate)
                *ret_duplicate = g_strcmp0(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23505") == 0;
            r = pg_result_error(error, c, res);
        }
        PQclear(res);
    }
    if (r == 0 && !sent)
        r = io_error(error, "PostgreSQL", pg_message(c));
    return r;
}

/* An element of an array's text: NULL bare, a number as it is, text in
 * double quotes with the quote and the backslash escaped. */
static void array_value(GString *out, const char *v, unsigned oid)
{
    if (out->len)
        g_string_append_c(out, ',');
    if (!v) {
        g_string_append(out, "NULL");
        return;
    }
    if (oid == OID_INT8 || oid == OID_FLOAT8) {
        g_string_append(out, v);
        return;
    }
    g_string_append_c(out, '"');
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            g_string_append_c(out, '\\');
        g_string_append_c(out, *v);
    }
    g_string_append_c(out, '"');
}

static const char *oid_type(unsigned oid)
{
    return oid == OID_INT8 ? "bigint" : oid == OID_FLOAT8 ? "double precision" : "text";
}

/* The bound rows with the conflict clause, in one statement: each column
 * sent as one array parameter and taken apart by unnest(). */
static int pg_upsert(struct db_batch *b, GError **error)
{
    g_autoptr(GString) sql = g_string_new(NULL);
    g_string_printf(sql, "INSERT INTO %s (%s) SELECT * FROM unnest(", b->table, b->cols);
    g_autofree const char **values = g_new0(const char *, b->ncols);
    for (int i = 0; i < b->ncols; i++) {
        g_string_append_printf(sql, "%s$%d::%s[]", i ? ", " : "", i + 1, oid_type(b->oids[i]));
        g_string_prepend_c(b->arrays[i], '{');
        g_string_append_c(b->arrays[i], '}');
        values[i] = b->arrays[i]->str;
    }
    g_string_append_printf(sql, ") %s", b->tail);
    b->db->round_trips++;
    PGresult *res = PQexecParams(b->db->pg, sql->str, b->ncols, NULL, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    int r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
                ? 0
                : pg_result_error(error, b->db->pg, res);
    for (int i = 0; r == 0 && b->keys && i < PQntuples(res); i++)
        g_hash_table_add(b->keys, g_strdup(PQgetvalue(res, i, 0)));
    PQclear(res);
    return r;
}

/* Rows expected new, with a conflict clause for the odd one that is not:
 * COPY under a savepoint, and only if a key is already there the rows
 * again through the clause.  An upsert checks each row's key before its
 * insert, which costs about twice a COPY's time. */
static int pg_copy_else_upsert(struct db_batch *b, GError **error)
{
    int r = db_exec(b->db, "SAVEPOINT kanri_batch", error);
    if (r < 0)
        return r;
    bool duplicate = false;
    g_autoptr(GError) err = NULL;
    r = pg_copy(b, b->table, &duplicate, &err);
    if (r == 0)
        return db_exec(b->db, "RELEASE SAVEPOINT kanri_batch", error);
    if (!duplicate) {
        g_propagate_error(error, g_steal_pointer(&err));
        return r;
    }
    r = db_exec(b->db, "ROLLBACK TO SAVEPOINT kanri_batch; RELEASE SAVEPOINT kanri_batch", error);
    return r < 0 ? r : pg_upsert(b, error);
}

int db_batch_flush(struct db_batch *b, GError **error)
{
    if (b->db->kind == DB_SQLITE || b->rows == 0)
        return 0;
    /* Plain rows: COPY, PostgreSQL's fastest path; with a conflict clause
     * one INSERT ... SELECT from the rows' arrays (a staging table for
     * COPY costs three statements and a truncation each time). */
    int r;
    if (!*b->tail)
        r = pg_copy(b, b->table, NULL, error);
    else if (b->copy && PQtransactionStatus(b->db->pg) == PQTRANS_INTRANS)
        r = pg_copy_else_upsert(b, error);
    else
        r = pg_upsert(b, error);
    if (b->copy)
        g_string_truncate(b->copy, 0);
    for (int i = 0; b->arrays && i < b->ncols; i++)
        g_string_truncate(b->arrays[i], 0);
    b->rows = 0;
    return r;
}

void db_batch_collect(struct db_batch *b, GHashTable *keys)
{
    b->keys = keys;
}

void db_batch_expect_new(struct db_batch *b)
{
    if (b->arrays && !b->copy)
        b->copy = g_string_sized_new(64 * 1024);
}

int db_batch_row(struct db_batch *b, GError **error)
{
    if (b->db->kind == DB_SQLITE) {
        int rc;
        while ((rc = db_step(b->one, error)) > 0)
            ;
        db_reset(b->one);
        return rc < 0 ? -EIO : 0;
    }
    size_t len = 0;
    for (int i = 0; i < b->ncols; i++) {
        struct db_param *p = &b->one->params[i];
        if (b->arrays) {
            if (!b->oids[i])
                b->oids[i] = p->oid;
            array_value(b->arrays[i], p->text, b->oids[i]);
            len += b->arrays[i]->len;
        }
        if (b->copy) {
            if (i)
                g_string_append_c(b->copy, '\t');
            copy_value(b->copy, p->text);
        }
        g_clear_pointer(&p->text, g_free);
        p->oid = 0;
    }
    if (b->copy) {
        g_string_append_c(b->copy, '\n');
        len = MAX(len, b->copy->len);
    }
    b->rows++;
    /* Sent in pieces of a few MiB at most. */
    if (len >= 4 * 1024 * 1024)
        return db_batch_flush(b, error);
    return 0;
}

void db_batch_free(struct db_batch *b)
{
    if (!b)
        return;
    db_finalize(b->one);
    if (b->copy)
        g_string_free(b->copy, TRUE);
    for (int i = 0; b->arrays && i < b->ncols; i++)
        g_string_free(b->arrays[i], TRUE);
    g_free(b->arrays);
    g_free(b->oids);
    g_free(b->table);
    g_free(b->cols);
    g_free(b->tail);
    g_free(b);
}

uint64_t db_round_trips(const struct db *db)
{
    return db->round_trips;
}

/* ---- columns ---- */

static bool pg_cell(struct db_stmt *q, int i)
{
    return q->res && q->row >= 0 && q->row < q->nrows && i >= 0 && i < PQnfields(q->res);
}

int db_cols(struct db_stmt *q)
{
    if (q->sq)
        return sqlite3_column_count(q->sq);
    return q->res ? PQnfields(q->res) : 0;
}

const char *db_col_name(struct db_stmt *q, int i)
{
    if (q->sq)
        return sqlite3_column_name(q->sq, i);
    return q->res ? PQfname(q->res, i) : NULL;
}

bool db_col_null(struct db_stmt *q, int i)
{
    if (q->sq)
        return sqlite3_column_type(q->sq, i) == SQLITE_NULL;
    return !pg_cell(q, i) || PQgetisnull(q->res, q->row, i);
}

const char *db_col_text(struct db_stmt *q, int i)
{
    if (q->sq)
        return (const char *)sqlite3_column_text(q->sq, i);
    return db_col_null(q, i) ? NULL : PQgetvalue(q->res, q->row, i);
}

int64_t db_col_i64(struct db_stmt *q, int i)
{
    if (q->sq)
        return sqlite3_column_int64(q->sq, i);
    const char *t = db_col_text(q, i);
    if (!t)
        return 0;
    /* A boolean expression comes back as t or f; a numeric one may carry
     * a fraction (as SQLite, truncated). */
    if (t[0] == 't' && !t[1])
        return 1;
    if (t[0] == 'f' && !t[1])
        return 0;
    char *end;
    long long v = strtoll(t, &end, 10);
    if (*end == '.' || *end == 'e' || *end == 'E')
        return (int64_t)strtod(t, NULL);
    return v;
}

double db_col_double(struct db_stmt *q, int i)
{
    if (q->sq)
        return sqlite3_column_double(q->sq, i);
    const char *t = db_col_text(q, i);
    return t ? g_ascii_strtod(t, NULL) : 0;
}

char *db_col_strdup(struct db_stmt *q, int i)
{
    return g_strdup(db_col_text(q, i));
}
