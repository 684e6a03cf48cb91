/*
 * PostgreSQL only: the raw sample tables partitioned by day (declarative
 * range partitioning on the time kanrid stored each row, by its own
 * clock), so that retention drops a whole day's partition instead of
 * deleting its rows one by one.  The tiers (samples_5m, samples_1h) are a
 * thirtieth and a three-hundred-and-sixtieth of the raw rows and stay
 * single tables.
 *
 * A day's partition is named TABLE_pYYYYMMDD (UTC) and holds the keys
 * from that day's midnight to the next.  They are made ahead of need:
 * today's to the day after tomorrow's when the store opens and at every
 * maintenance run, and for any day a write is about to need
 * (pg_partitions_ensure()).  Instances create them under one advisory
 * lock, so two never race on the same name.
 */
#include "store/sqlite-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DAY_US G_GINT64_CONSTANT(86400000000)
/* Held while partitions are made ("kanri" + 1, beside the migration's). */
#define PARTITION_LOCK 0x6b616e7270
/* A write needing partitions over more days than this is refused: the
 * times are kanrid's own clock, so such a span means a broken clock or a
 * broken caller, not a year of history. */
#define MAX_SPAN_DAYS 3700

/* The partitioned tables, their key, and the indexes they had before
 * migration 16 in PostgreSQL's form.  A key or unique index of a
 * partitioned table must contain the partition key: host_samples' and
 * guest_samples' ids are keyed with it, and guest_samples' uniqueness of
 * (machine, source, seq) or (machine, source, time), which does not
 * contain it, is kept by the insert itself (sqlite-samples.c). */
static const struct partitioned {
    const char *table;
    const char *key;
    const char *indexes;
} partitioned[] = {
    {"host_samples", "t",
     "ALTER TABLE host_samples ADD PRIMARY KEY (id, t);"
     "CREATE INDEX host_samples_uuid_t ON host_samples(uuid, t);"
     "CREATE INDEX host_samples_t ON host_samples(t);"},
    {"guest_samples", "received",
     "ALTER TABLE guest_samples ADD PRIMARY KEY (id, received);"
     "CREATE INDEX guest_samples_seq ON guest_samples(machine_uuid, source, seq);"
     "CREATE INDEX guest_samples_time ON guest_samples(machine_uuid, source, t);"
     "CREATE INDEX guest_samples_machine_t ON guest_samples(machine_uuid, t);"
     "CREATE INDEX guest_samples_received ON guest_samples(received);"},
    {"node_samples", "t",
     "ALTER TABLE node_samples ADD PRIMARY KEY (host_id, t);"
     "CREATE INDEX node_samples_t ON node_samples(t);"},
    {"pool_samples", "t",
     "ALTER TABLE pool_samples ADD PRIMARY KEY (host_id, name, t);"
     "CREATE INDEX pool_samples_t ON pool_samples(t);"},
    {"reconciled_samples", "t",
     "ALTER TABLE reconciled_samples ADD PRIMARY KEY (uuid, t);"
     "CREATE INDEX reconciled_samples_t ON reconciled_samples(t);"},
};

static int64_t day_of(int64_t us)
{
    return us >= 0 ? us / DAY_US : -((-us + DAY_US - 1) / DAY_US);
}

static char *partition_name(const char *table, int64_t day)
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    return g_strdup_printf("%s_p%04d%02d%02d", table, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The day a partition of TABLE holds, from its name; false for a name
 * not of that form (a partition someone else attached is left alone). */
static bool partition_day(const char *table, const char *name, int64_t *ret_day)
{
    size_t n = strlen(table);
    int y, m, d;
    char tail;
    if (strncmp(name, table, n) != 0 || strncmp(name + n, "_p", 2) != 0 ||
        sscanf(name + n + 2, "%4d%2d%2d%c", &y, &m, &d, &tail) != 3 || y < 1970 || m < 1 ||
        m > 12 || d < 1 || d > 31)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    *ret_day = (int64_t)timegm(&tm) / 86400;
    return true;
}

static int create_day(struct db *db, const struct partitioned *p, int64_t day, GError **error)
{
    g_autofree char *name = partition_name(p->table, day);
    g_autofree char *sql =
        g_strdup_printf("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES"
                        " FROM (%" PRId64 ") TO (%" PRId64 ")",
                        name, p->table, day * DAY_US, (day + 1) * DAY_US);
    int r = db_exec(db, sql, error);
    if (r < 0)
        g_prefix_error(error, "making the partition %s: ", name);
    return r;
}

/* Every table's partitions for the days LO to HI but those of SKIP_LO to
 * SKIP_HI (known to be there), inside DB's open transaction, under the
 * lock every instance takes for it. */
static int create_days(struct db *db, int64_t lo, int64_t hi, int64_t skip_lo, int64_t skip_hi,
                       GError **error)
{
    if (hi - lo >= MAX_SPAN_DAYS) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID,
                    "partitions asked for %" PRId64 " days at once (at most %d): the times are"
                    " wrong",
                    hi - lo + 1, MAX_SPAN_DAYS);
        return -EINVAL;
    }
    g_autofree char *lock =
        g_strdup_printf("SELECT pg_advisory_xact_lock(%" PRId64 ")", (int64_t)PARTITION_LOCK);
    int r = db_done(db_prep(db, error, lock, NULL), error);
    for (size_t i = 0; r == 0 && i < G_N_ELEMENTS(partitioned); i++) {
        for (int64_t d = lo; r == 0 && d <= hi; d++) {
            if (d < skip_lo || d > skip_hi)
                r = create_day(db, &partitioned[i], d, error);
        }
    }
    return r;
}

int pg_partitions_ensure(struct store_sqlite *s, int64_t lo_us, int64_t hi_us, GError **error)
{
    if (db_kind(s->w) != DB_PG || lo_us > hi_us)
        return 0;
    int64_t lo = day_of(lo_us), hi = day_of(hi_us);
    bool known = s->part_known;
    if (known && lo >= s->part_lo && hi <= s->part_hi)
        return 0;
    /* The days known to be there stay one run, so that the check above is
     * two comparisons: a gap between them and the new days is made too. */
    if (known) {
        lo = MIN(lo, s->part_lo);
        hi = MAX(hi, s->part_hi);
    }
    int r = db_begin(s->w, error);
    if (r == 0)
        r = create_days(s->w, lo, hi, known ? s->part_lo : 1, known ? s->part_hi : 0, error);
    r = db_commit_or_rollback(s->w, r, error);
    if (r == 0) {
        s->part_known = true;
        s->part_lo = lo;
        s->part_hi = hi;
    }
    return r;
}

int pg_partitions_ensure_ahead(struct store_sqlite *s, int64_t now_us, GError **error)
{
    return pg_partitions_ensure(s, now_us - DAY_US, now_us + 2 * DAY_US, error);
}

int pg_partitions_drop_before(struct store_sqlite *s, const char *table, int64_t cutoff_us,
                              unsigned *ret_dropped, GError **error)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    int64_t last_dropped = G_MININT64;
    {
        g_autoptr(db_stmt) q = db_prep(s->w, error,
                                       "SELECT c.relname FROM pg_inherits i"
                                       " JOIN pg_class c ON c.oid = i.inhrelid"
                                       " WHERE i.inhparent = CAST(? AS regclass)",
                                       "s", table);
        if (!q)
            return -EIO;
        int rc;
        while ((rc = db_step(q, error)) > 0) {
            const char *name = db_col_text(q, 0);
            int64_t day;
            /* Only a day wholly before the cutoff: none of its rows is
             * needed any more. */
            if (name && partition_day(table, name, &day) && (day + 1) * DAY_US <= cutoff_us) {
                g_ptr_array_add(names, g_strdup(name));
                last_dropped = MAX(last_dropped, day);
            }
        }
        if (rc < 0)
            return -EIO;
    }
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *sql = g_strdup_printf("DROP TABLE IF EXISTS %s", (char *)names->pdata[i]);
        if (db_exec(s->w, sql, error) < 0) {
            g_prefix_error(error, "dropping %s: ", (char *)names->pdata[i]);
            return -EIO;
        }
        (*ret_dropped)++;
    }
    /* Days dropped are not there any more. */
    if (s->part_known && last_dropped >= s->part_lo) {
        s->part_lo = last_dropped + 1;
        s->part_known = s->part_lo <= s->part_hi;
    }
    return 0;
}

/* Migration 16: each table renamed, a partitioned one of the same columns
 * made in its place, its rows moved over into the partitions of their
 * days, the old table dropped and the indexes made again. */
static int partition_one(struct db *db, const struct partitioned *p, GError **error)
{
    g_autofree char *rename =
        g_strdup_printf("ALTER TABLE %s RENAME TO %s_unpartitioned", p->table, p->table);
    g_autofree char *create = g_strdup_printf(
        "CREATE TABLE %s (LIKE %s_unpartitioned INCLUDING DEFAULTS INCLUDING IDENTITY)"
        " PARTITION BY RANGE (%s)",
        p->table, p->table, p->key);
    g_autofree char *span =
        g_strdup_printf("SELECT min(%s), max(%s) FROM %s_unpartitioned", p->key, p->key, p->table);
    g_autofree char *move =
        g_strdup_printf("INSERT INTO %s SELECT * FROM %s_unpartitioned", p->table, p->table);
    g_autofree char *drop = g_strdup_printf("DROP TABLE %s_unpartitioned", p->table);
    int r = db_exec(db, rename, error);
    if (r == 0)
        r = db_exec(db, create, error);
    if (r == 0) {
        g_autoptr(db_stmt) q = db_prep(db, error, span, NULL);
        r = q && db_step(q, error) > 0 ? 0 : -EIO;
        if (r == 0 && !db_col_null(q, 0)) {
            int64_t lo = day_of(db_col_i64(q, 0)), hi = day_of(db_col_i64(q, 1));
            if (hi - lo >= MAX_SPAN_DAYS) /* then only the newest days */
                lo = hi - MAX_SPAN_DAYS + 1;
            for (int64_t d = lo; r == 0 && d <= hi; d++)
                r = create_day(db, p, d, error);
            if (r == 0 && lo > day_of(db_col_i64(q, 0))) {
                g_autofree char *old =
                    g_strdup_printf("DELETE FROM %s_unpartitioned WHERE %s < %" PRId64, p->table,
                                    p->key, lo * DAY_US);
                r = db_exec(db, old, error);
            }
        }
    }
    if (r == 0)
        r = db_exec(db, move, error);
    if (r == 0)
        r = db_exec(db, drop, error);
    if (r == 0)
        r = db_exec(db, p->indexes, error);
    if (r == 0 &&
        (g_str_equal(p->table, "host_samples") || g_str_equal(p->table, "guest_samples"))) {
        /* The identity's new sequence starts past the ids moved over. */
        g_autofree char *seq = g_strdup_printf("SELECT setval(pg_get_serial_sequence('%s', 'id'),"
                                               " (SELECT COALESCE(max(id), 0) + 1 FROM %s), false)",
                                               p->table, p->table);
        r = db_done(db_prep(db, error, seq, NULL), error);
    }
    if (r < 0)
        g_prefix_error(error, "partitioning %s: ", p->table);
    return r;
}

int pg_partition_samples(struct db *db, GError **error)
{
    int r = 0;
    for (size_t i = 0; r == 0 && i < G_N_ELEMENTS(partitioned); i++)
        r = partition_one(db, &partitioned[i], error);
    return r;
}
