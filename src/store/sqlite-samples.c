/*
 * SQLite backend, part two: a round's rows (host view, host figures,
 * pools, guest samples, reconciled values, findings, states, availability)
 * in one transaction; the engine's warm start; incremental downsampling
 * into tiers, retention and history queries.  The arithmetic is in
 * series.c; this file only moves rows.
 */
#include "config.h"

#include "store/sqlite-private.h"

#include "basic/util.h"
#include "store/series.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Entity-buckets recomputed per write transaction: the rounds' writes
 * wait for the write lock meanwhile, so keep each hold short. */
#define MAINT_BATCH 200

/* SAMPLE_ABSENT (or a value beyond int64) binds NULL. */
static void bind_u(struct db_stmt *q, int idx, uint64_t v)
{
    db_bind(q, idx, 'U', v);
}

static uint64_t col_u(struct db_stmt *q, int i)
{
    if (db_col_null(q, i))
        return SAMPLE_ABSENT;
    int64_t v = db_col_i64(q, i);
    return v < 0 ? SAMPLE_ABSENT : (uint64_t)v;
}

int step_reset(struct db_stmt *q, GError **error)
{
    int rc;
    while ((rc = db_step(q, error)) > 0)
        ;
    db_reset(q);
    return rc < 0 ? -EIO : 0;
}

/* ---- a round ---- */

/* A round's rows in bulk (db_batch: COPY on PostgreSQL). */
static int insert_host_samples(struct db *db, const struct host_sample *const *v, size_t n,
                               GError **error)
{
    if (n == 0)
        return 0;
    struct db_batch *q = db_batch_new(
        db,
        "INSERT INTO host_samples(host_id, uuid, t, dom_id, state, state_reason, cpu_time_ns,"
        " cpu_user_ns, cpu_system_ns, vcpu_count, vcpu_time_ns, vcpu_wait_ns, vcpu_delay_ns,"
        " balloon_current, balloon_maximum, balloon_rss, block_count, block_rd_bytes,"
        " block_wr_bytes, block_rd_reqs, block_wr_reqs, block_allocation, block_capacity,"
        " block_physical, net_count, net_rx_bytes, net_tx_bytes, net_rx_pkts, net_tx_pkts,"
        " net_rx_drop, net_tx_drop, net_rx_errs, net_tx_errs, vcpus, blocks, nics)",
        36, "", error);
    if (!q)
        return -EIO;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct host_sample *s = v[i];
        int k = 1;
        db_batch_bind(q, k++, 'i', (int64_t)s->host_id);
        db_batch_bind(q, k++, 's', s->uuid);
        db_batch_bind(q, k++, 'i', (int64_t)s->time_us);
        db_batch_bind(q, k++, 'i', (int64_t)s->dom_id);
        db_batch_bind(q, k++, 'i', (int64_t)s->state);
        db_batch_bind(q, k++, 'i', (int64_t)s->state_reason);
        const uint64_t u[] = {
            s->cpu_time_ns,     s->cpu_user_ns,    s->cpu_system_ns, s->vcpu_count,
            s->vcpu_time_ns,    s->vcpu_wait_ns,   s->vcpu_delay_ns, s->balloon_current,
            s->balloon_maximum, s->balloon_rss,    s->block_count,   s->block_rd_bytes,
            s->block_wr_bytes,  s->block_rd_reqs,  s->block_wr_reqs, s->block_allocation,
            s->block_capacity,  s->block_physical, s->net_count,     s->net_rx_bytes,
            s->net_tx_bytes,    s->net_rx_pkts,    s->net_tx_pkts,   s->net_rx_drop,
            s->net_tx_drop,     s->net_rx_errs,    s->net_tx_errs,
        };
        for (size_t j = 0; j < G_N_ELEMENTS(u); j++)
            db_batch_bind(q, k++, 'U', u[j]);
        db_batch_bind(q, k++, 's', s->vcpus_json);
        db_batch_bind(q, k++, 's', s->blocks_json);
        db_batch_bind(q, k++, 's', s->nics_json);
        r = db_batch_row(q, error);
    }
    if (r == 0)
        r = db_batch_flush(q, error);
    db_batch_free(q);
    return r;
}

/* Guest samples are keyed by (machine, source, seq) or, without seq,
 * (machine, source, time): a repeat is ignored, so a backfill or a second
 * look at the same balloon report never counts twice.  On SQLite two
 * unique indexes say so; on PostgreSQL, whose partitioned table can only
 * have keys containing the day it is partitioned by (pg-partitions.c),
 * the insert itself looks first. */
#define GUEST_INSERT_COLUMNS                                                                       \
    "machine_uuid, source, t, received, seq,"                                                      \
    " cpu_count, cpu_user_ns, cpu_nice_ns, cpu_system_ns, cpu_idle_ns, cpu_iowait_ns,"             \
    " cpu_irq_ns, cpu_softirq_ns, cpu_steal_ns, mem_total, mem_free, mem_available,"               \
    " mem_cached, mem_buffers, swap_total, swap_free, swap_in_pages, swap_out_pages,"              \
    " major_faults, minor_faults, load1_milli, load5_milli, load15_milli, fs_total,"               \
    " fs_used, fs_avail, disk_read_bytes, disk_write_bytes, disk_reads, disk_writes,"              \
    " net_rx_bytes, net_tx_bytes, net_rx_packets, net_tx_packets, filesystems,"                    \
    " disks, nics, extra"
#define GUEST_INSERT_NCOLS 43
#define GUEST_INSERT       "INSERT INTO guest_samples(" GUEST_INSERT_COLUMNS ")"
#define GUEST_VALUES                                                                               \
    "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?"

/* SQLite's row by row: its unique indexes leave a repeat out. */
static struct db_stmt *guest_insert_prepare(struct db *db, GError **error)
{
    return db_prep(db, error, GUEST_INSERT " VALUES (" GUEST_VALUES ") ON CONFLICT DO NOTHING",
                   NULL);
}

static void guest_bind(struct db_stmt *q, const struct guest_sample *g)
{
    int k = 1;
    bind_s(q, k++, g->machine_uuid);
    bind_s(q, k++, g->source);
    db_bind(q, k++, 'i', (int64_t)g->time_us);
    db_bind(q, k++, 'i', (int64_t)g->received_us);
    bind_u(q, k++, g->seq);
    const uint64_t u[] = {
        g->cpu_count,      g->cpu_user_ns,    g->cpu_nice_ns,     g->cpu_system_ns,
        g->cpu_idle_ns,    g->cpu_iowait_ns,  g->cpu_irq_ns,      g->cpu_softirq_ns,
        g->cpu_steal_ns,   g->mem_total,      g->mem_free,        g->mem_available,
        g->mem_cached,     g->mem_buffers,    g->swap_total,      g->swap_free,
        g->swap_in_pages,  g->swap_out_pages, g->major_faults,    g->minor_faults,
        g->load1_milli,    g->load5_milli,    g->load15_milli,    g->fs_total,
        g->fs_used,        g->fs_avail,       g->disk_read_bytes, g->disk_write_bytes,
        g->disk_reads,     g->disk_writes,    g->net_rx_bytes,    g->net_tx_bytes,
        g->net_rx_packets, g->net_tx_packets,
    };
    for (size_t j = 0; j < G_N_ELEMENTS(u); j++)
        bind_u(q, k++, u[j]);
    bind_s(q, k++, g->filesystems_json);
    bind_s(q, k++, g->disks_json);
    bind_s(q, k++, g->nics_json);
    bind_s(q, k++, g->extra_json);
    g_assert(k == GUEST_INSERT_NCOLS + 1);
}

static int guest_insert(struct db_stmt *q, const struct guest_sample *g, GError **error)
{
    guest_bind(q, g);
    return step_reset(q, error);
}

/* The advisory lock a machine's guest samples are inserted under on
 * PostgreSQL: FNV-1a of its uuid, in lower case, as a signed 64-bit key. */
static int64_t machine_lock_key(const char *uuid)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const char *p = uuid; *p; p++)
        h = (h ^ (uint8_t)g_ascii_tolower(*p)) * 0x100000001b3u;
    return (int64_t)h;
}

/* Guest samples in one statement on PostgreSQL (db_batch): each row's
 * look for its repeat is a subplan of its own (OFFSET 0 keeps it from
 * becoming a join) probing the indexes with the row's values, and only the
 * look its row needs runs.  As a join the planner may, when the day's
 * statistics are behind, read every sample of the day into a hash first:
 * 0.5 s for 2 000 rows beside 300 000, and growing. */
#define GUEST_BATCH_TAIL                                                                           \
    "AS u(" GUEST_INSERT_COLUMNS ") WHERE NOT EXISTS (SELECT 1 FROM guest_samples x"               \
    " WHERE u.seq IS NOT NULL AND x.machine_uuid = u.machine_uuid AND x.source = u.source"         \
    " AND x.seq = u.seq OFFSET 0)"                                                                 \
    " AND NOT EXISTS (SELECT 1 FROM guest_samples x WHERE u.seq IS NULL"                           \
    " AND x.machine_uuid = u.machine_uuid AND x.source = u.source AND x.seq IS NULL"               \
    " AND x.t = u.t OFFSET 0)"
/* A stored row's guest_key(), RETURNING it. */
#define GUEST_KEY_RETURNING                                                                        \
    " RETURNING machine_uuid || '/' || source || '/' ||"                                           \
    " CASE WHEN seq IS NULL THEN 't' || t ELSE 's' || seq END"

/* What makes a guest sample a repeat of another (g_free): its machine,
 * source and sequence number, or its time without one (a number the store
 * cannot keep is none). */
static char *guest_key(const struct guest_sample *g)
{
    bool by_seq = g->seq != SAMPLE_ABSENT && g->seq <= (uint64_t)INT64_MAX;
    return g_strdup_printf("%s/%s/%c%" PRId64, g->machine_uuid, g->source, by_seq ? 's' : 't',
                           by_seq ? (int64_t)g->seq : g->time_us);
}

static int guest_sample_check(const struct guest_sample *g, GError **error)
{
    if (g->machine_uuid && g->source)
        return 0;
    /* The table would ignore the row without a word. */
    g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID, "guest sample without %s",
                g->machine_uuid ? "a source" : "a machine uuid");
    return -EINVAL;
}

static int cmp_i64(gconstpointer a, gconstpointer b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The samples of W in one statement (a plan for the group, not for each
 * row: planning was most of a row's time), each W's duplicate set: a
 * repeat of one earlier in W, or of a stored one (the statement returns
 * the keys it stored). */
static int guests_insert_pg(struct db *db, struct store_ingest *const *w, size_t n, GError **error)
{
    struct db_batch *b = db_batch_new(db, GUEST_INSERT, GUEST_INSERT_NCOLS,
                                      GUEST_BATCH_TAIL GUEST_KEY_RETURNING, error);
    if (!b)
        return -EIO;
    g_autoptr(GHashTable) stored = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    db_batch_collect(b, stored);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char **keys = g_new0(char *, n);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        char *key = guest_key(w[i]->sample);
        if (g_hash_table_contains(seen, key)) {
            g_free(key);
            w[i]->duplicate = true;
            continue;
        }
        g_hash_table_add(seen, key); /* seen frees it */
        keys[i] = key;
        guest_bind(db_batch_stmt(b), w[i]->sample);
        r = db_batch_row(b, error);
    }
    if (r == 0)
        r = db_batch_flush(b, error);
    db_batch_free(b);
    for (size_t i = 0; i < n && r == 0; i++) {
        if (keys[i])
            w[i]->duplicate = !g_hash_table_contains(stored, keys[i]);
    }
    return r;
}

/* The N documents W in one transaction, under the write lock.  The sender
 * deletes what was acknowledged: the commit reaches the disk before this
 * returns (SQLite: WAL with synchronous=NORMAL, kept for the rounds, would
 * sync only at the next checkpoint, hence FULL for this commit;
 * PostgreSQL's commit is durable when it returns).  On PostgreSQL the look
 * for a repeat and the insert hold a lock on each machine's samples, taken
 * in the order of their keys (no deadlock with another instance's group),
 * so that the same document pushed to two instances at once is stored
 * once. */
static int ingests_group(struct store_sqlite *s, struct store_ingest *const *w, size_t n,
                         GError **error)
{
    bool sqlite = db_kind(s->w) == DB_SQLITE;
    g_autoptr(GString) begin = g_string_new(sqlite ? "PRAGMA synchronous = FULL" : "BEGIN");
    if (!sqlite) {
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        g_autoptr(GArray) keys = g_array_sized_new(FALSE, FALSE, sizeof(int64_t), n);
        for (size_t i = 0; i < n; i++) {
            const struct guest_sample *g = w[i]->sample;
            lo = MIN(lo, g->received_us);
            hi = MAX(hi, g->received_us);
            int64_t k = machine_lock_key(g->machine_uuid);
            g_array_append_val(keys, k);
        }
        if (pg_partitions_ensure(s, lo, hi, error) < 0)
            return -EIO;
        g_array_sort(keys, cmp_i64);
        /* One round trip: the keys are numbers of our own. */
        for (guint i = 0; i < keys->len; i++) {
            int64_t k = g_array_index(keys, int64_t, i);
            if (i == 0 || k != g_array_index(keys, int64_t, i - 1))
                g_string_append_printf(begin, "; SELECT pg_advisory_xact_lock(%" PRId64 ")", k);
        }
    }
    int r = db_exec(s->w, begin->str, error);
    if (r < 0) {
        if (!sqlite) /* BEGIN may have run */
            db_exec(s->w, "ROLLBACK", NULL);
        return r;
    }
    if (sqlite) {
        r = db_begin(s->w, error);
        struct db_stmt *q = r == 0 ? guest_insert_prepare(s->w, error) : NULL;
        if (r == 0 && !q)
            r = -EIO;
        for (size_t i = 0; i < n && r == 0; i++) {
            r = guest_insert(q, w[i]->sample, error);
            w[i]->duplicate = r == 0 && db_changes(s->w) == 0;
        }
        db_finalize(q);
    } else {
        r = guests_insert_pg(s->w, w, n, error);
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        if (w[i]->contact)
            r = sq_agent_contact_locked(s, w[i]->contact, w[i]->duplicate, error);
    }
    r = db_commit_or_rollback(s->w, r, error);
    if (sqlite && db_exec(s->w, "PRAGMA synchronous = NORMAL", r == 0 ? error : NULL) < 0)
        r = -EIO;
    return r;
}

int sq_ingests_write(struct store *st, struct store_ingest *const *w, size_t n, GError **errors)
{
    struct store_sqlite *s = SQ(st);
    int rc = 0;
    g_autofree struct store_ingest **ok = g_new(struct store_ingest *, n ? n : 1);
    g_autofree size_t *at = g_new(size_t, n ? n : 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (guest_sample_check(w[i]->sample, &errors[i]) < 0) {
            rc = -EINVAL;
            continue;
        }
        at[m] = i;
        ok[m++] = w[i];
    }
    if (!m)
        return rc;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    GError *err = NULL;
    if (ingests_group(s, ok, m, &err) == 0)
        return rc;
    if (m == 1) {
        errors[at[0]] = err;
        return -EIO;
    }
    /* Each alone then, so that none fails for another's. */
    g_clear_error(&err);
    for (size_t i = 0; i < m; i++) {
        if (ingests_group(s, &ok[i], 1, &errors[at[i]]) < 0)
            rc = -EIO;
    }
    return rc;
}

int sq_guest_sample_insert(struct store *st, const struct guest_sample *g, bool *ret_duplicate,
                           GError **error)
{
    struct store_ingest in = {.sample = g};
    struct store_ingest *w = &in;
    GError *err = NULL;
    int r = sq_ingests_write(st, &w, 1, &err);
    if (r < 0) {
        g_propagate_error(error, err);
        return r;
    }
    if (ret_duplicate)
        *ret_duplicate = in.duplicate;
    return 0;
}

static int insert_node(struct db *db, const struct node_sample *node, GError **error)
{
    return db_done(
        db_prep(db, error,
                "INSERT INTO node_samples(host_id, t, cpu_user_ns, cpu_kernel_ns,"
                " cpu_idle_ns, cpu_iowait_ns, mem_total, mem_free, mem_buffers, mem_cached,"
                " domains_running, round_us, domains_collected, domains_missed, round_cut,"
                " vcpus_alloc, mem_alloc, disk_alloc, cpu_demand_milli, mem_demand, disk_demand)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (host_id, t) DO UPDATE SET cpu_user_ns = excluded.cpu_user_ns, "
                "cpu_kernel_ns = excluded.cpu_kernel_ns, cpu_idle_ns = excluded.cpu_idle_ns, "
                "cpu_iowait_ns = excluded.cpu_iowait_ns, mem_total = excluded.mem_total, mem_free "
                "= excluded.mem_free, mem_buffers = excluded.mem_buffers, mem_cached = "
                "excluded.mem_cached, domains_running = excluded.domains_running, round_us = "
                "excluded.round_us, domains_collected = excluded.domains_collected, domains_missed "
                "= excluded.domains_missed, round_cut = excluded.round_cut, vcpus_alloc = "
                "excluded.vcpus_alloc, mem_alloc = excluded.mem_alloc, disk_alloc = "
                "excluded.disk_alloc, cpu_demand_milli = excluded.cpu_demand_milli, mem_demand = "
                "excluded.mem_demand, disk_demand = excluded.disk_demand",
                "iiUUUUUUUUUUUUbUUUUUU", node->host_id, node->time_us, node->cpu_user_ns,
                node->cpu_kernel_ns, node->cpu_idle_ns, node->cpu_iowait_ns, node->mem_total,
                node->mem_free, node->mem_buffers, node->mem_cached, node->domains_running,
                node->round_us, node->domains_collected, node->domains_missed, (int)node->round_cut,
                node->vcpus_alloc, node->mem_alloc, node->disk_alloc, node->cpu_demand_milli,
                node->mem_demand, node->disk_demand),
        error);
}

static int insert_pools(struct db *db, const struct pool_sample *const *pools, size_t n,
                        GError **error)
{
    if (n == 0)
        return 0;
    struct db_stmt *q =
        db_prep(db, error,
                "INSERT INTO pool_samples(host_id, name, t, capacity,"
                " allocation, available) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT (host_id, name, t) DO UPDATE SET capacity = excluded.capacity, "
                "allocation = excluded.allocation, available = excluded.available",
                NULL);
    if (!q)
        return -EIO;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct pool_sample *p = pools[i];
        db_bind(q, 1, 'i', (int64_t)p->host_id);
        bind_s(q, 2, p->name);
        db_bind(q, 3, 'i', (int64_t)p->time_us);
        bind_u(q, 4, p->capacity);
        bind_u(q, 5, p->allocation);
        bind_u(q, 6, p->available);
        r = step_reset(q, error);
    }
    db_finalize(q);
    return r;
}

/* A round's guest samples.  On SQLite row by row, the unique indexes
 * leaving out a repeat; on PostgreSQL in one statement whose every row
 * looks first (GUEST_BATCH_TAIL; a repeat inside the batch is left out
 * here). */
static int insert_guests(struct db *db, const struct guest_sample *const *g, size_t n,
                         GError **error)
{
    if (n == 0)
        return 0;
    if (db_kind(db) == DB_SQLITE) {
        struct db_stmt *q = guest_insert_prepare(db, error);
        if (!q)
            return -EIO;
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++)
            r = guest_insert(q, g[i], error);
        db_finalize(q);
        return r;
    }
    struct db_batch *b =
        db_batch_new(db, GUEST_INSERT, GUEST_INSERT_NCOLS, GUEST_BATCH_TAIL, error);
    if (!b)
        return -EIO;
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (!g_hash_table_add(seen, guest_key(g[i])))
            continue;
        guest_bind(db_batch_stmt(b), g[i]);
        r = db_batch_row(b, error);
    }
    if (r == 0)
        r = db_batch_flush(b, error);
    db_batch_free(b);
    return r;
}

/* The columns are the metrics of series_vm_reconciled: R, H and G of
 * every resource, named and placed by the one table. */
static int insert_reconciled(struct db *db, const struct reconciled_sample *v, size_t n,
                             GError **error)
{
    if (n == 0)
        return 0;
    const struct series_kind *kind = &series_vm_reconciled;
    g_autoptr(GString) head = g_string_new("INSERT INTO reconciled_samples(host_id, uuid, t");
    g_autoptr(GString) tail =
        g_string_new("ON CONFLICT (uuid, t) DO UPDATE SET host_id = excluded.host_id");
    for (size_t j = 0; j < kind->n_metrics; j++) {
        g_string_append_printf(head, ", %s", kind->metrics[j].name);
        g_string_append_printf(tail, ", %s = excluded.%s", kind->metrics[j].name,
                               kind->metrics[j].name);
    }
    g_string_append_c(head, ')');
    /* One row per VM and round: no key twice in a batch.  A key already
     * there needs the clock to have gone back: the rows are new. */
    struct db_batch *q = db_batch_new(db, head->str, 3 + (int)kind->n_metrics, tail->str, error);
    if (!q)
        return -EIO;
    db_batch_expect_new(q);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct reconciled_sample *x = &v[i];
        int k = 1;
        db_batch_bind(q, k++, 'i', (int64_t)x->host_id);
        db_batch_bind(q, k++, 's', x->uuid);
        db_batch_bind(q, k++, 'i', (int64_t)x->time_us);
        for (size_t j = 0; j < kind->n_metrics; j++)
            db_batch_bind(q, k++, 'U', series_sample_value(kind, j, x));
        r = db_batch_row(q, error);
    }
    if (r == 0)
        r = db_batch_flush(q, error);
    db_batch_free(q);
    return r;
}

static int status_write(struct db *db, const struct store_view_status_write *w, size_t n,
                        GError **error)
{
    if (n == 0)
        return 0;
    struct db_stmt *q =
        db_prep(db, error,
                "INSERT INTO view_status(uuid, part, host_id, available, reason, since,"
                " updated) VALUES (?,?,?,?,?,?,?)"
                " ON CONFLICT (uuid, part) DO UPDATE SET host_id = excluded.host_id, available = "
                "excluded.available, reason = excluded.reason, since = excluded.since, updated = "
                "excluded.updated",
                NULL);
    if (!q)
        return -EIO;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        bind_s(q, 1, w[i].uuid);
        bind_s(q, 2, w[i].part);
        db_bind(q, 3, 'i', (int64_t)w[i].host_id);
        db_bind(q, 4, 'b', (int)w[i].available);
        bind_s(q, 5, w[i].available ? NULL : w[i].reason);
        db_bind(q, 6, 'i', (int64_t)w[i].since_us);
        db_bind(q, 7, 'i', (int64_t)w[i].updated_us);
        r = step_reset(q, error);
    }
    db_finalize(q);
    return r;
}

/* The earliest and latest of the times a round's rows are partitioned
 * by (pg-partitions.c); lo > hi when it has none. */
static void round_span(const struct store_round *w, int64_t *ret_lo, int64_t *ret_hi)
{
    int64_t lo = G_MAXINT64, hi = G_MININT64;
#define SPAN(t) (lo = MIN(lo, (t)), hi = MAX(hi, (t)))
    for (size_t i = 0; i < w->n_hosts; i++)
        SPAN(w->hosts[i]->time_us);
    if (w->node)
        SPAN(w->node->time_us);
    for (size_t i = 0; i < w->n_pools; i++)
        SPAN(w->pools[i]->time_us);
    for (size_t i = 0; i < w->n_guests; i++)
        SPAN(w->guests[i]->received_us);
    for (size_t i = 0; i < w->n_reconciled; i++)
        SPAN(w->reconciled[i].time_us);
#undef SPAN
    *ret_lo = lo;
    *ret_hi = hi;
}

/* The rows of the rounds IN lets through, the rounds' rows of each table
 * together (one COPY each on PostgreSQL). */
static int rounds_rows(struct db *db, const struct store_round *const *w, const bool *in, size_t n,
                       GError **error)
{
    g_autoptr(GPtrArray) hosts = g_ptr_array_new();
    g_autoptr(GPtrArray) pools = g_ptr_array_new();
    g_autoptr(GPtrArray) guests = g_ptr_array_new();
    g_autoptr(GPtrArray) views = g_ptr_array_new();
    g_autoptr(GArray) rec = g_array_new(FALSE, FALSE, sizeof(struct reconciled_sample));
    g_autoptr(GArray) findings = g_array_new(FALSE, FALSE, sizeof(struct finding_write));
    g_autoptr(GArray) states = g_array_new(FALSE, FALSE, sizeof(struct store_state_write));
    g_autoptr(GArray) status = g_array_new(FALSE, FALSE, sizeof(struct store_view_status_write));
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (!in[i])
            continue;
        const struct store_round *x = w[i];
        for (size_t j = 0; j < x->n_hosts; j++)
            g_ptr_array_add(hosts, (gpointer)x->hosts[j]);
        for (size_t j = 0; j < x->n_pools; j++)
            g_ptr_array_add(pools, (gpointer)x->pools[j]);
        for (size_t j = 0; j < x->n_guests; j++)
            g_ptr_array_add(guests, (gpointer)x->guests[j]);
        for (size_t j = 0; j < x->n_views; j++)
            g_ptr_array_add(views, (gpointer)x->views[j]);
        /* Shallow copies: the rounds keep what they point to. */
        g_array_append_vals(rec, x->reconciled, (guint)x->n_reconciled);
        g_array_append_vals(findings, x->findings, (guint)x->n_findings);
        g_array_append_vals(states, x->states, (guint)x->n_states);
        g_array_append_vals(status, x->status, (guint)x->n_status);
        if (x->node)
            r = insert_node(db, x->node, error);
        if (r == 0)
            r = sq_avail_write(db, x, error);
    }
    if (r == 0)
        r = insert_host_samples(db, (const struct host_sample *const *)hosts->pdata, hosts->len,
                                error);
    if (r == 0)
        r = insert_pools(db, (const struct pool_sample *const *)pools->pdata, pools->len, error);
    if (r == 0)
        r = insert_guests(db, (const struct guest_sample *const *)guests->pdata, guests->len,
                          error);
    if (r == 0)
        r = insert_reconciled(db, (const struct reconciled_sample *)rec->data, rec->len, error);
    if (r == 0)
        r = findings_write(db, (const struct finding_write *)findings->data, findings->len, error);
    if (r == 0)
        r = states_write(db, (const struct store_state_write *)states->data, states->len, error);
    if (r == 0)
        r = views_write(db, (const struct vm_view *const *)views->pdata, views->len, error);
    if (r == 0)
        r = status_write(db, (const struct store_view_status_write *)status->data, status->len,
                         error);
    return r;
}

/* The N rounds W in one transaction: those whose fence refuses them get
 * their error in ERRORS, the rows of the others go in.  Under s->wlock. */
static int rounds_group(struct store_sqlite *s, const struct store_round *const *w, size_t n,
                        GError **errors, GError **error)
{
    int64_t lo = G_MAXINT64, hi = G_MININT64;
    for (size_t i = 0; i < n; i++) {
        int64_t a, b;
        round_span(w[i], &a, &b);
        lo = MIN(lo, a);
        hi = MAX(hi, b);
    }
    if (pg_partitions_ensure(s, lo, hi, error) < 0)
        return -EIO;
    int r = db_begin(s->w, error);
    if (r < 0)
        return r;
    g_autofree bool *in = g_new0(bool, n);
    size_t n_in = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        GError *fenced = NULL;
        int f = w[i]->fence ? sq_fence_check(s->w, w[i]->fence, &fenced) : 0;
        if (f == -ESTALE)
            errors[i] = fenced;
        else if (f < 0)
            g_propagate_error(error, fenced), r = f;
        in[i] = f == 0;
        n_in += in[i];
    }
    if (r == 0 && n_in)
        r = rounds_rows(s->w, w, in, n, error);
    r = db_commit_or_rollback(s->w, r, error);
    if (r < 0)
        for (size_t i = 0; i < n; i++)
            g_clear_error(&errors[i]);
    return r;
}

int sq_rounds_write(struct store *st, const struct store_round *const *w, size_t n, GError **errors)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    g_autoptr(GError) err = NULL;
    if (rounds_group(s, w, n, errors, &err) == 0)
        return 0;
    if (n == 1) {
        errors[0] = g_steal_pointer(&err);
        return -EIO;
    }
    /* One round's rows may be what the database refused (a VM in two
     * hosts' rounds while it migrates): each round alone then, so that
     * none fails for another's. */
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        GError *one = NULL;
        if (rounds_group(s, &w[i], 1, &errors[i], &one) < 0) {
            errors[i] = one;
            failed++;
        }
    }
    return failed ? -EIO : 0;
}

int sq_round_write(struct store *st, const struct store_round *w, GError **error)
{
    GError *err = NULL;
    if (sq_rounds_write(st, &w, 1, &err) == 0 && !err)
        return 0;
    bool fenced = g_error_matches(err, STORE_ERROR, STORE_ERROR_FENCED);
    g_propagate_error(error, err);
    return fenced ? -ESTALE : -EIO;
}

/* ---- the engine's warm start ---- */

/* The metric columns of KIND after FIXED leading columns, written into the
 * sample struct through the kind's field offsets: one reader for every
 * wide row, so a metric added to series.c is read back without a change
 * here. */
static void read_metrics(const struct series_kind *kind, struct db_stmt *q, int first, void *sample)
{
    for (size_t i = 0; i < kind->n_metrics; i++)
        *(uint64_t *)((char *)sample + kind->metrics[i].offset) = col_u(q, first + (int)i);
}

static char *metric_cols(const struct series_kind *kind)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < kind->n_metrics; i++)
        g_string_append_printf(s, ", %s", kind->metrics[i].name);
    return g_string_free(s, FALSE);
}

#define GUEST_COLS "SELECT machine_uuid, source, t, received, seq, filesystems, disks, nics, extra"

/* A row of GUEST_COLS and the guest metrics into RET. */
static void read_guest(struct db_stmt *q, GArray *ret)
{
    struct guest_sample g;
    guest_sample_init(&g);
    g.machine_uuid = db_col_strdup(q, 0);
    g.source = guest_source_static(db_col_text(q, 1));
    g.time_us = db_col_i64(q, 2);
    g.received_us = db_col_i64(q, 3);
    g.seq = col_u(q, 4);
    g.filesystems_json = db_col_strdup(q, 5);
    g.disks_json = db_col_strdup(q, 6);
    g.nics_json = db_col_strdup(q, 7);
    g.extra_json = db_col_strdup(q, 8);
    read_metrics(&series_vm_guest, q, 9, &g);
    g_array_append_val(ret, g);
}

int sq_guest_samples_received(struct store *st, const char *source, int64_t after_us, unsigned n,
                              GArray *ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autofree char *cols = metric_cols(&series_vm_guest);
    g_autofree char *sql = g_strdup_printf(GUEST_COLS "%s FROM guest_samples"
                                                      " WHERE source = ? AND received > ?"
                                                      " ORDER BY received LIMIT ?",
                                           cols);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    g_autoptr(db_stmt) q = db_prep(s->r, error, sql, "sii", source, after_us, (int64_t)n);
    if (!q)
        return -EIO;
    int rc;
    while ((rc = db_step(q, error)) > 0)
        read_guest(q, ret);
    if (rc < 0) {
        g_prefix_error(error, "read guest samples: ");
        return -EIO;
    }
    return 0;
}

int sq_samples_recent(struct store *st, enum store_recent_kind kind, const char *key,
                      const char *source, int64_t host_id, unsigned n, GArray *ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autofree char *sql = NULL;
    switch (kind) {
    case STORE_RECENT_HOST: {
        g_autofree char *cols = metric_cols(&series_vm_host);
        sql = g_strdup_printf("SELECT host_id, uuid, t, dom_id, state, state_reason, vcpus,"
                              " blocks, nics%s FROM host_samples WHERE uuid = ?1"
                              " ORDER BY t DESC LIMIT ?4",
                              cols);
        break;
    }
    case STORE_RECENT_GUEST: {
        g_autofree char *cols = metric_cols(&series_vm_guest);
        /* Ordered by the guest's own time, as the engine orders them:
         * a backfilled older sample is history, not the latest. */
        sql = g_strdup_printf(GUEST_COLS "%s FROM guest_samples"
                                         " WHERE machine_uuid = ?1 AND source = ?2"
                                         " ORDER BY t DESC LIMIT ?4",
                              cols);
        break;
    }
    case STORE_RECENT_POOL:
        sql = g_strdup("SELECT t, capacity, allocation, available FROM pool_samples"
                       " WHERE name = ?1 AND host_id = ?3 ORDER BY t DESC LIMIT ?4");
        break;
    }
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    struct db_stmt *q = db_prep(s->r, error, sql, "ssii", key, source, host_id, (int64_t)n);
    if (!q)
        return -EIO;
    int rc;
    while ((rc = db_step(q, error)) > 0) {
        if (kind == STORE_RECENT_HOST) {
            struct host_sample h;
            host_sample_init(&h);
            h.host_id = db_col_i64(q, 0);
            h.uuid = db_col_strdup(q, 1);
            h.time_us = db_col_i64(q, 2);
            h.dom_id = db_col_null(q, 3) ? -1 : db_col_i64(q, 3);
            h.state = (int)db_col_i64(q, 4);
            h.state_reason = (int)db_col_i64(q, 5);
            h.vcpus_json = db_col_strdup(q, 6);
            h.blocks_json = db_col_strdup(q, 7);
            h.nics_json = db_col_strdup(q, 8);
            read_metrics(&series_vm_host, q, 9, &h);
            g_array_append_val(ret, h);
        } else if (kind == STORE_RECENT_GUEST) {
            read_guest(q, ret);
        } else {
            struct pool_sample p;
            pool_sample_init(&p);
            p.host_id = host_id;
            p.name = g_strdup(key);
            p.time_us = db_col_i64(q, 0);
            p.capacity = col_u(q, 1);
            p.allocation = col_u(q, 2);
            p.available = col_u(q, 3);
            g_array_append_val(ret, p);
        }
    }
    db_finalize(q);
    if (rc < 0) {
        g_prefix_error(error, "read samples: ");
        return -EIO;
    }
    return 0;
}

/* ---- availability of each view ---- */

struct rows *sq_view_status_query(struct store *st, const char *uuid, GError **error)
{
    return query_rows(SQ(st), &view_status_row_desc, error,
                      "SELECT uuid, part, available, reason, since, updated FROM view_status"
                      " WHERE ?1 IS NULL OR uuid = ?1 ORDER BY uuid, part",
                      "s", uuid);
}

/* ---- reading rows of one entity ---- */

/* Binds the entity text (split per kind) to ?1 and ?2. */
static void bind_entity(const struct series_kind *kind, struct db_stmt *q, const char *entity)
{
    const char *slash = kind->entity_split == 'f'   ? strchr(entity, '/')
                        : kind->entity_split == 'l' ? strrchr(entity, '/')
                                                    : NULL;
    if (slash) {
        g_autofree char *head = g_strndup(entity, (gsize)(slash - entity));
        bind_s(q, 1, head);
        bind_s(q, 2, slash + 1);
    } else {
        bind_s(q, 1, entity);
        bind_s(q, 2, NULL);
    }
}

static char *select_rows_sql(const struct series_kind *kind, bool before)
{
    GString *sql = g_string_new(NULL);
    g_string_append_printf(sql, "SELECT %s, %s", kind->time_col, kind->inc_sql);
    for (size_t i = 0; i < kind->n_metrics; i++)
        g_string_append_printf(sql, ", %s", kind->metrics[i].name);
    g_string_append_printf(sql, " FROM %s WHERE %s AND ", kind->table, kind->entity_where);
    if (before)
        g_string_append_printf(sql, "%s < ?3 ORDER BY %s DESC LIMIT 1", kind->time_col,
                               kind->time_col);
    else
        g_string_append_printf(sql, "%s >= ?3 AND %s < ?4 ORDER BY %s", kind->time_col,
                               kind->time_col, kind->time_col);
    return g_string_free(sql, FALSE);
}

static void read_row(const struct series_kind *kind, struct db_stmt *q, struct series_row *row)
{
    row->t = db_col_i64(q, 0);
    row->inc = series_inc_hash(db_col_text(q, 1));
    for (size_t i = 0; i < kind->n_metrics; i++)
        row->v[i] = col_u(q, (int)i + 2);
}

/* Rows of ENTITY in [FROM, TO), preceded by the last row before FROM (so
 * the first counter in the range has a predecessor). */
static int read_series_rows(struct db *db, const struct series_kind *kind, const char *entity,
                            int64_t from, int64_t to, GArray *ret, GError **error)
{
    for (int pass = 0; pass < 2; pass++) {
        g_autofree char *sql = select_rows_sql(kind, pass == 0);
        struct db_stmt *q = db_prep(db, error, sql, NULL);
        if (!q)
            return -EIO;
        bind_entity(kind, q, entity);
        db_bind(q, 3, 'i', (int64_t)from);
        if (pass == 1)
            db_bind(q, 4, 'i', (int64_t)to);
        int rc;
        while ((rc = db_step(q, error)) > 0) {
            struct series_row row;
            read_row(kind, q, &row);
            g_array_append_val(ret, row);
        }
        db_finalize(q);
        if (rc < 0) {
            g_prefix_error(error, "read rows: ");
            return -EIO;
        }
    }
    return 0;
}

/* ---- downsampling ---- */

struct bucket_key {
    char *entity;
    int64_t t;
};

static void bucket_key_clear(gpointer p)
{
    g_free(((struct bucket_key *)p)->entity);
}

static int64_t floor_to(int64_t t, int64_t step)
{
    return t >= 0 ? t / step * step : -((-t + step - 1) / step) * step;
}

static int upsert_tier(struct db *db, const char *table, const struct series_kind *kind,
                       const char *entity, int64_t t, const struct series_agg *aggs, GError **error)
{
    g_autofree char *data = series_aggs_to_json(kind, aggs);
    g_autofree char *sql =
        g_strdup_printf("INSERT INTO %s(kind, entity, t, data) VALUES (?,?,?,?)"
                        " ON CONFLICT (kind, entity, t) DO UPDATE SET data = excluded.data",
                        table);
    return db_done(db_prep(db, error, sql, "ssis", kind->name, entity, t, data), error);
}

static int compute_5m(struct db *db, const struct series_kind *kind, const struct bucket_key *b,
                      GError **error)
{
    g_autoptr(GArray) srows = g_array_new(FALSE, FALSE, sizeof(struct series_row));
    int r = read_series_rows(db, kind, b->entity, b->t, b->t + SERIES_TIER_5M, srows, error);
    if (r < 0)
        return r;
    struct series_agg aggs[SERIES_MAX_METRICS];
    series_bucket(kind, (struct series_row *)srows->data, srows->len, b->t, b->t + SERIES_TIER_5M,
                  aggs);
    return upsert_tier(db, "samples_5m", kind, b->entity, b->t, aggs, error);
}

static int compute_1h(struct db *db, const struct series_kind *kind, const struct bucket_key *b,
                      GError **error)
{
    struct db_stmt *q = db_prep(db, error,
                                "SELECT data FROM samples_5m WHERE kind = ? AND entity = ?"
                                " AND t >= ? AND t < ?",
                                "ssii", kind->name, b->entity, b->t, b->t + SERIES_TIER_1H);
    if (!q)
        return -EIO;
    struct series_agg sum[SERIES_MAX_METRICS] = {0}, one[SERIES_MAX_METRICS];
    while (db_step(q, NULL) > 0) {
        series_aggs_from_json(kind, db_col_text(q, 0), one);
        series_agg_combine(sum, one, kind->n_metrics);
    }
    db_finalize(q);
    return upsert_tier(db, "samples_1h", kind, b->entity, b->t, sum, error);
}

static int get_watermark(struct db *db, const struct series_kind *kind, int64_t *ret,
                         GError **error)
{
    struct db_stmt *q = db_prep(db, error, "SELECT watermark FROM samples_progress WHERE kind = ?",
                                "s", kind->name);
    if (!q)
        return -EIO;
    *ret = db_step(q, NULL) > 0 ? db_col_i64(q, 0) : G_MININT64;
    db_finalize(q);
    return 0;
}

/* Runs FN on each key of KEYS, MAINT_BATCH to a transaction. */
static int for_each_batched(struct store_sqlite *s, const struct series_kind *kind, GArray *keys,
                            int (*fn)(struct db *, const struct series_kind *,
                                      const struct bucket_key *, GError **),
                            GError **error)
{
    for (guint i = 0; i < keys->len;) {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
        int r = db_begin(s->w, error);
        if (r < 0)
            return r;
        guint end = MIN(keys->len, i + MAINT_BATCH);
        for (; i < end && r == 0; i++)
            r = fn(s->w, kind, &g_array_index(keys, struct bucket_key, i), error);
        r = db_commit_or_rollback(s->w, r, error);
        if (r < 0)
            return r;
    }
    return 0;
}

static int maintain_kind(struct store_sqlite *s, const struct series_kind *kind, int64_t now,
                         int64_t settle, struct store_maint_stats *stats, GError **error)
{
    int64_t wm;
    int r;
    {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
        r = get_watermark(s->w, kind, &wm, error);
    }
    if (r < 0)
        return r;
    /* Advance only to a 5-minute boundary: buckets are then computed once
     * they are complete, and again only when late rows arrive for them. */
    int64_t new_wm = floor_to(now - settle, SERIES_TIER_5M);
    if (new_wm <= wm)
        return 0;

    g_autoptr(GArray) k5 = g_array_new(FALSE, FALSE, sizeof(struct bucket_key));
    g_array_set_clear_func(k5, bucket_key_clear);
    {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
        g_autofree char *sql = g_strdup_printf("SELECT DISTINCT %s, (%s / %" G_GINT64_FORMAT
                                               ") FROM %s WHERE %s >= ? AND %s < ?",
                                               kind->entity_sql, kind->time_col, SERIES_TIER_5M,
                                               kind->table, kind->recv_col, kind->recv_col);
        struct db_stmt *q =
            db_prep(s->w, error, sql, "ii", wm == G_MININT64 ? G_MININT64 : wm, new_wm);
        if (!q)
            return -EIO;
        while (db_step(q, NULL) > 0) {
            const char *e = db_col_text(q, 0);
            if (!e)
                continue;
            struct bucket_key b = {g_strdup(e), db_col_i64(q, 1) * SERIES_TIER_5M};
            g_array_append_val(k5, b);
        }
        db_finalize(q);
    }
    r = for_each_batched(s, kind, k5, compute_5m, error);
    if (r < 0)
        return r;

    /* The hours those buckets belong to, once each. */
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GArray) k1 = g_array_new(FALSE, FALSE, sizeof(struct bucket_key));
    g_array_set_clear_func(k1, bucket_key_clear);
    for (guint i = 0; i < k5->len; i++) {
        struct bucket_key *b = &g_array_index(k5, struct bucket_key, i);
        int64_t h = floor_to(b->t, SERIES_TIER_1H);
        char *key = g_strdup_printf("%s\n%" G_GINT64_FORMAT, b->entity, h);
        if (!g_hash_table_add(seen, key))
            continue;
        struct bucket_key hb = {g_strdup(b->entity), h};
        g_array_append_val(k1, hb);
    }
    r = for_each_batched(s, kind, k1, compute_1h, error);
    if (r < 0)
        return r;
    stats->buckets_5m += k5->len;
    stats->buckets_1h += k1->len;

    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return db_done(db_prep(s->w, error,
                           "INSERT INTO samples_progress(kind, watermark) VALUES (?, ?)"
                           " ON CONFLICT (kind) DO UPDATE SET watermark = excluded.watermark",
                           "si", kind->name, new_wm),
                   error);
}

static int delete_older(struct store_sqlite *s, const char *sql, int64_t cutoff,
                        struct store_maint_stats *stats, GError **error)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_done(db_prep(s->w, error, sql, "i", cutoff), error);
    if (r == 0)
        stats->rows_deleted += (unsigned)db_changes(s->w);
    return r;
}

int sq_samples_maintain(struct store *st, const struct store_retention *retention, int64_t now_us,
                        int64_t settle_us, struct store_maint_stats *ret_stats, GError **error)
{
    struct store_sqlite *s = SQ(st);
    struct store_maint_stats stats = {0};
    int r = 0;
    for (size_t i = 0; series_kinds[i] && r == 0; i++)
        r = maintain_kind(s, series_kinds[i], now_us, settle_us, &stats, error);
    if (r < 0)
        return r;
    /* Raw rows go only once the downsampler is past them. */
    if (retention->raw_us > 0) {
        for (size_t i = 0; series_kinds[i] && r == 0; i++) {
            const struct series_kind *k = series_kinds[i];
            int64_t wm;
            {
                g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
                r = get_watermark(s->w, k, &wm, error);
            }
            if (r < 0)
                break;
            int64_t cutoff = MIN(now_us - retention->raw_us, wm);
            if (db_kind(s->w) == DB_PG) {
                /* Whole days only: a row lives up to a day past the
                 * retention, and none is deleted one by one. */
                g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
                r = pg_partitions_drop_before(s, k->table, cutoff, &stats.partitions_dropped,
                                              error);
                continue;
            }
            g_autofree char *sql =
                g_strdup_printf("DELETE FROM %s WHERE %s < ?", k->table, k->recv_col);
            r = delete_older(s, sql, cutoff, &stats, error);
        }
    }
    if (r == 0 && db_kind(s->w) == DB_PG) {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
        r = pg_partitions_ensure_ahead(s, now_us, error);
    }
    if (r == 0 && retention->m5_us > 0)
        r = delete_older(s, "DELETE FROM samples_5m WHERE t < ?", now_us - retention->m5_us, &stats,
                         error);
    if (r == 0 && retention->h1_us > 0)
        r = delete_older(s, "DELETE FROM samples_1h WHERE t < ?", now_us - retention->h1_us, &stats,
                         error);
    if (r == 0 && ret_stats)
        *ret_stats = stats;
    return r;
}

/* ---- queries ---- */

static const char *choose_tier(const struct store_series_query *q)
{
    if (q->tier)
        return q->tier;
    if (q->step_us >= SERIES_TIER_1H)
        return "1h";
    if (q->step_us >= SERIES_TIER_5M)
        return "5m";
    return "raw";
}

void store_series_result_free(struct store_series_result *r)
{
    if (!r)
        return;
    for (guint i = 0; r->lines && i < r->lines->len; i++)
        g_array_unref(g_array_index(r->lines, struct store_series_line, i).points);
    if (r->lines)
        g_array_unref(r->lines);
    g_free(r);
}

struct store_series_result *sq_series_query(struct store *st, const struct store_series_query *q,
                                            GError **error)
{
    struct store_sqlite *s = SQ(st);
    const struct series_kind *kind = q->kind;
    const char *tier = choose_tier(q);
    g_autofree GArray **pts = g_new0(GArray *, q->n_metrics + 1);
    for (size_t i = 0; i < q->n_metrics; i++)
        pts[i] = g_array_new(FALSE, FALSE, sizeof(struct series_point));

    int r = 0;
    {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
        if (g_str_equal(tier, "raw")) {
            g_autoptr(GArray) srows = g_array_new(FALSE, FALSE, sizeof(struct series_row));
            r = read_series_rows(s->r, kind, q->entity, q->from_us, q->to_us, srows, error);
            for (size_t i = 0; i < q->n_metrics && r == 0; i++) {
                g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(struct series_point));
                series_points(kind, (size_t)q->metrics[i], (struct series_row *)srows->data,
                              srows->len, all);
                for (guint k = 0; k < all->len; k++) {
                    struct series_point *p = &g_array_index(all, struct series_point, k);
                    if (p->t >= q->from_us)
                        g_array_append_val(pts[i], *p);
                }
            }
        } else {
            g_autofree char *sql =
                g_strdup_printf("SELECT t, data FROM samples_%s WHERE kind = ? AND entity = ?"
                                " AND t >= ? AND t < ? ORDER BY t",
                                tier);
            struct db_stmt *qq = db_prep(
                s->r, error, sql, "ssii", kind->name, q->entity,
                floor_to(q->from_us, g_str_equal(tier, "5m") ? SERIES_TIER_5M : SERIES_TIER_1H),
                q->to_us);
            if (!qq) {
                r = -EIO;
            } else {
                struct series_agg aggs[SERIES_MAX_METRICS];
                while (db_step(qq, NULL) > 0) {
                    series_aggs_from_json(kind, db_col_text(qq, 1), aggs);
                    for (size_t i = 0; i < q->n_metrics; i++) {
                        struct series_point p = {.t = db_col_i64(qq, 0)};
                        int mi = q->metrics[i];
                        if (series_agg_value(kind, (size_t)mi, &aggs[mi], &p.v))
                            g_array_append_val(pts[i], p);
                    }
                }
                db_finalize(qq);
            }
        }
    }

    struct store_series_result *res = NULL;
    if (r == 0) {
        res = g_new0(struct store_series_result, 1);
        res->tier = g_str_equal(tier, "raw") ? "raw" : g_str_equal(tier, "5m") ? "5m" : "1h";
        res->step_us = q->step_us;
        res->lines = g_array_new(FALSE, FALSE, sizeof(struct store_series_line));
        for (size_t i = 0; i < q->n_metrics; i++) {
            const struct series_metric *m = &kind->metrics[q->metrics[i]];
            struct store_series_line line = {
                .metric = q->metrics[i],
                .points = series_resample(pts[i], q->step_us),
            };
            for (guint k = 0; m->scale != 0 && k < line.points->len; k++)
                g_array_index(line.points, struct series_point, k).v *= m->scale;
            g_array_append_val(res->lines, line);
        }
    }
    for (size_t i = 0; i < q->n_metrics; i++)
        g_array_unref(pts[i]);
    return res;
}
