/*
 * bench-scale-raw: the baseline of bench/scale.  The same wide VM-sample
 * rows kanri stores (the host view's 36 columns), appended by a minimal
 * program with each database's fastest plain path: SQLite with one
 * prepared statement in transactions of BATCH rows on a WAL file;
 * PostgreSQL with COPY FROM STDIN in text format, one COPY per batch.
 * Prints rows per second for each.  No kanri code: only what the
 * databases can do, for kanri's figures to be compared against.
 *
 *   bench-scale-raw [--rows N] [--batch N] [--sqlite PATH] [--pg CONNINFO]
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#define NCOLS 36
#define COLUMNS                                                                                    \
    "host_id, uuid, t, dom_id, state, state_reason, cpu_time_ns, cpu_user_ns, cpu_system_ns,"      \
    " vcpu_count, vcpu_time_ns, vcpu_wait_ns, vcpu_delay_ns, balloon_current, balloon_maximum,"    \
    " balloon_rss, block_count, block_rd_bytes, block_wr_bytes, block_rd_reqs, block_wr_reqs,"     \
    " block_allocation, block_capacity, block_physical, net_count, net_rx_bytes, net_tx_bytes,"    \
    " net_rx_pkts, net_tx_pkts, net_rx_drop, net_tx_drop, net_rx_errs, net_tx_errs, vcpus,"        \
    " blocks, nics"

static const char *const ddl_sqlite =
    "CREATE TABLE IF NOT EXISTS raw_samples (id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL,"
    " uuid TEXT NOT NULL, t INTEGER NOT NULL, dom_id INTEGER, state INTEGER, state_reason INTEGER,"
    " cpu_time_ns INTEGER, cpu_user_ns INTEGER, cpu_system_ns INTEGER, vcpu_count INTEGER,"
    " vcpu_time_ns INTEGER, vcpu_wait_ns INTEGER, vcpu_delay_ns INTEGER, balloon_current INTEGER,"
    " balloon_maximum INTEGER, balloon_rss INTEGER, block_count INTEGER, block_rd_bytes INTEGER,"
    " block_wr_bytes INTEGER, block_rd_reqs INTEGER, block_wr_reqs INTEGER,"
    " block_allocation INTEGER, block_capacity INTEGER, block_physical INTEGER,"
    " net_count INTEGER, net_rx_bytes INTEGER, net_tx_bytes INTEGER, net_rx_pkts INTEGER,"
    " net_tx_pkts INTEGER, net_rx_drop INTEGER, net_tx_drop INTEGER, net_rx_errs INTEGER,"
    " net_tx_errs INTEGER, vcpus TEXT, blocks TEXT, nics TEXT);"
    "CREATE INDEX IF NOT EXISTS raw_samples_uuid_t ON raw_samples(uuid, t);"
    "CREATE INDEX IF NOT EXISTS raw_samples_t ON raw_samples(t);";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Row I's values: 100 VMs per host, one sample each 10 s. */
static void row_values(long i, char uuid[37], int64_t v[NCOLS])
{
    long vm = i % 10000;
    snprintf(uuid, 37, "00000000-0000-4000-8000-%012ld", vm);
    v[0] = vm / 100 + 1;
    v[2] = 1700000000000000 + (i / 10000) * 10000000;
    for (int c = 3; c < NCOLS - 3; c++)
        v[c] = (int64_t)(i * 7919 + c * 104729) % 1000000007;
}

static const char *const vcpus_json = "[{\"time_ns\":123456789,\"wait_ns\":1234}]";
static const char *const blocks_json = "[{\"name\":\"vda\",\"rd_bytes\":1048576}]";
static const char *const nics_json = "[{\"name\":\"vnet0\",\"rx_bytes\":4096}]";

static int run_sqlite(const char *path, long rows, long batch)
{
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "sqlite: cannot open %s\n", path);
        return 1;
    }
    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL, NULL, NULL);
    if (sqlite3_exec(db, ddl_sqlite, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db,
                       "INSERT INTO raw_samples (" COLUMNS
                       ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
                       "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       -1, &q, NULL);
    double t0 = now_s();
    for (long i = 0; i < rows;) {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (long end = MIN(rows, i + batch); i < end; i++) {
            char uuid[37];
            int64_t v[NCOLS];
            row_values(i, uuid, v);
            sqlite3_bind_int64(q, 1, v[0]);
            sqlite3_bind_text(q, 2, uuid, -1, SQLITE_STATIC);
            for (int c = 2; c < NCOLS - 3; c++)
                sqlite3_bind_int64(q, c + 1, v[c]);
            sqlite3_bind_text(q, NCOLS - 2, vcpus_json, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, NCOLS - 1, blocks_json, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, NCOLS, nics_json, -1, SQLITE_STATIC);
            if (sqlite3_step(q) != SQLITE_DONE) {
                fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
                return 1;
            }
            sqlite3_reset(q);
        }
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    double dt = now_s() - t0;
    printf("sqlite\t%ld rows\t%.2f s\t%.0f rows/s\n", rows, dt, (double)rows / dt);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return 0;
}

static bool pg_ok(PGconn *c, PGresult *r, ExecStatusType want)
{
    bool ok = PQresultStatus(r) == want;
    if (!ok)
        fprintf(stderr, "postgresql: %s", PQerrorMessage(c));
    PQclear(r);
    return ok;
}

static int run_pg(const char *conninfo, long rows, long batch)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "postgresql: %s", PQerrorMessage(c));
        return 1;
    }
    /* The same table, in PostgreSQL's types. */
    GString *ddl = g_string_new(ddl_sqlite);
    g_string_replace(ddl, "INTEGER PRIMARY KEY",
                     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", 0);
    g_string_replace(ddl, " INTEGER", " BIGINT", 0);
    if (!pg_ok(c, PQexec(c, "SET client_min_messages = warning; DROP TABLE IF EXISTS raw_samples"),
               PGRES_COMMAND_OK) ||
        !pg_ok(c, PQexec(c, ddl->str), PGRES_COMMAND_OK))
        return 1;
    g_string_free(ddl, TRUE);
    GString *buf = g_string_sized_new(1 << 20);
    double t0 = now_s();
    for (long i = 0; i < rows;) {
        if (!pg_ok(c, PQexec(c, "COPY raw_samples (" COLUMNS ") FROM STDIN"), PGRES_COPY_IN))
            return 1;
        for (long end = MIN(rows, i + batch); i < end; i++) {
            char uuid[37];
            int64_t v[NCOLS];
            row_values(i, uuid, v);
            g_string_truncate(buf, 0);
            g_string_append_printf(buf, "%" PRId64 "\t%s", v[0], uuid);
            for (int c2 = 2; c2 < NCOLS - 3; c2++)
                g_string_append_printf(buf, "\t%" PRId64, v[c2]);
            g_string_append_printf(buf, "\t%s\t%s\t%s\n", vcpus_json, blocks_json, nics_json);
            if (PQputCopyData(c, buf->str, (int)buf->len) != 1) {
                fprintf(stderr, "postgresql: %s", PQerrorMessage(c));
                return 1;
            }
        }
        if (PQputCopyEnd(c, NULL) != 1 || !pg_ok(c, PQgetResult(c), PGRES_COMMAND_OK))
            return 1;
    }
    double dt = now_s() - t0;
    printf("postgresql\t%ld rows\t%.2f s\t%.0f rows/s\n", rows, dt, (double)rows / dt);
    g_string_free(buf, TRUE);
    pg_ok(c, PQexec(c, "DROP TABLE raw_samples"), PGRES_COMMAND_OK);
    PQfinish(c);
    return 0;
}

int main(int argc, char **argv)
{
    gint64 rows = 200000, batch = 10000;
    g_autofree char *sqlite_path = NULL, *pg = NULL;
    GOptionEntry entries[] = {
        {"rows", 0, 0, G_OPTION_ARG_INT64, &rows, "rows to append (200000)", "N"},
        {"batch", 0, 0, G_OPTION_ARG_INT64, &batch, "rows per transaction or COPY (10000)", "N"},
        {"sqlite", 0, 0, G_OPTION_ARG_FILENAME, &sqlite_path, "a new SQLite file to fill", "PATH"},
        {"pg", 0, 0, G_OPTION_ARG_STRING, &pg, "a PostgreSQL database to fill", "CONNINFO"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- the raw baseline of bench/scale");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "bench-scale-raw: %s\n", err->message);
        return 2;
    }
    if (rows < 1 || batch < 1 || (!sqlite_path && !pg)) {
        fprintf(stderr, "bench-scale-raw: give --sqlite PATH and/or --pg CONNINFO, and positive "
                        "--rows and --batch\n");
        return 2;
    }
    int rc = 0;
    if (sqlite_path)
        rc |= run_sqlite(sqlite_path, rows, batch);
    if (pg)
        rc |= run_pg(pg, rows, batch);
    return rc;
}
