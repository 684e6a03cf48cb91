/*
 * SQLite backend, part two: host-view rows, availability of each view,
 * incremental downsampling into tiers, retention and history queries.
 * The arithmetic is in series.c; this file only moves rows.
 */
#include "config.h"

#include "store/sqlite-private.h"

#include "basic/util.h"
#include "store/series.h"

#include <errno.h>
#include <string.h>

/* Entity-buckets recomputed per write transaction: the collectors' inserts
 * wait for the write lock meanwhile, so keep each hold short. */
#define MAINT_BATCH 200

static void bind_u(sqlite3_stmt *q, int idx, uint64_t v)
{
    if (v == SAMPLE_ABSENT || v > (uint64_t)INT64_MAX)
        sqlite3_bind_null(q, idx);
    else
        sqlite3_bind_int64(q, idx, (sqlite3_int64)v);
}

static void bind_s(sqlite3_stmt *q, int idx, const char *s)
{
    if (s)
        sqlite3_bind_text(q, idx, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, idx);
}

static uint64_t col_u(sqlite3_stmt *q, int i)
{
    if (sqlite3_column_type(q, i) == SQLITE_NULL)
        return SAMPLE_ABSENT;
    sqlite3_int64 v = sqlite3_column_int64(q, i);
    return v < 0 ? SAMPLE_ABSENT : (uint64_t)v;
}

static int step_reset(sqlite3 *db, sqlite3_stmt *q, GError **error)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        set_db_error(error, db, "write");
        return -EIO;
    }
    return 0;
}

/* ---- host round ---- */

static int insert_host_samples(sqlite3 *db, const struct host_sample *v, size_t n, GError **error)
{
    sqlite3_stmt *q =
        prep(db, error,
             "INSERT INTO host_samples(host_id, uuid, t, dom_id, state, state_reason, cpu_time_ns,"
             " cpu_user_ns, cpu_system_ns, vcpu_count, vcpu_time_ns, vcpu_wait_ns, vcpu_delay_ns,"
             " balloon_current, balloon_maximum, balloon_rss, block_count, block_rd_bytes,"
             " block_wr_bytes, block_rd_reqs, block_wr_reqs, block_allocation, block_capacity,"
             " block_physical, net_count, net_rx_bytes, net_tx_bytes, net_rx_pkts, net_tx_pkts,"
             " net_rx_drop, net_tx_drop, net_rx_errs, net_tx_errs, vcpus, blocks, nics)"
             " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
             NULL);
    if (!q)
        return -EIO;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct host_sample *s = &v[i];
        int k = 1;
        sqlite3_bind_int64(q, k++, s->host_id);
        bind_s(q, k++, s->uuid);
        sqlite3_bind_int64(q, k++, s->time_us);
        sqlite3_bind_int64(q, k++, s->dom_id);
        sqlite3_bind_int(q, k++, s->state);
        sqlite3_bind_int(q, k++, s->state_reason);
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
            bind_u(q, k++, u[j]);
        bind_s(q, k++, s->vcpus_json);
        bind_s(q, k++, s->blocks_json);
        bind_s(q, k++, s->nics_json);
        r = step_reset(db, q, error);
    }
    sqlite3_finalize(q);
    return r;
}

int sq_host_round_insert(struct store *st, const struct host_sample *samples, size_t n,
                         const struct node_sample *node, const struct pool_sample *pools,
                         size_t npools, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = begin(s->w, error);
    if (r < 0)
        return r;
    r = insert_host_samples(s->w, samples, n, error);
    if (r == 0 && node) {
        sqlite3_stmt *q = prep(
            s->w, error,
            "INSERT OR REPLACE INTO node_samples(host_id, t, cpu_user_ns, cpu_kernel_ns,"
            " cpu_idle_ns, cpu_iowait_ns, mem_total, mem_free, mem_buffers, mem_cached,"
            " domains_running, round_us, domains_collected, domains_missed, round_cut)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            "iiUUUUUUUUUUUUb", node->host_id, node->time_us, node->cpu_user_ns, node->cpu_kernel_ns,
            node->cpu_idle_ns, node->cpu_iowait_ns, node->mem_total, node->mem_free,
            node->mem_buffers, node->mem_cached, node->domains_running, node->round_us,
            node->domains_collected, node->domains_missed, (int)node->round_cut);
        r = step_done(s->w, q, error);
    }
    for (size_t i = 0; i < npools && r == 0; i++) {
        const struct pool_sample *p = &pools[i];
        r = step_done(s->w,
                      prep(s->w, error,
                           "INSERT OR REPLACE INTO pool_samples(host_id, name, t, capacity,"
                           " allocation, available) VALUES (?,?,?,?,?,?)",
                           "isiUUU", p->host_id, p->name, p->time_us, p->capacity, p->allocation,
                           p->available),
                      error);
    }
    return commit_or_rollback(s->w, r, error);
}

/* ---- availability of each view ---- */

int sq_view_status_set(struct store *st, int64_t host_id, const char *uuid, const char *part,
                       bool available, const char *reason, bool *ret_changed, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int64_t now = now_usec();
    bool changed = true, flipped = true;
    sqlite3_stmt *q =
        prep(s->w, error, "SELECT available, reason FROM view_status WHERE uuid = ? AND part = ?",
             "ss", uuid, part);
    if (!q)
        return -EIO;
    if (sqlite3_step(q) == SQLITE_ROW) {
        const char *old = (const char *)sqlite3_column_text(q, 1);
        flipped = (sqlite3_column_int(q, 0) != 0) != available;
        changed = flipped || g_strcmp0(old, available ? NULL : reason) != 0;
    }
    sqlite3_finalize(q);
    int r = step_done(
        s->w,
        prep(s->w, error,
             "INSERT INTO view_status(uuid, part, host_id, available, reason, since, updated)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT(uuid, part) DO UPDATE SET"
             " host_id = ?3, available = ?4, reason = ?5, updated = ?6,"
             " since = CASE WHEN ?7 THEN ?6 ELSE since END",
             "ssibsib", uuid, part, host_id, available, available ? NULL : reason, now, flipped),
        error);
    if (r == 0 && ret_changed)
        *ret_changed = changed;
    return r;
}

json_object *sq_view_status_query(struct store *st, const char *uuid, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    sqlite3_stmt *q = prep(s->r, error,
                           "SELECT uuid, part, available, reason, since, updated FROM view_status"
                           " WHERE ?1 IS NULL OR uuid = ?1 ORDER BY uuid, part",
                           "s", uuid);
    if (!q)
        return NULL;
    json_object *o = json_object_new_object();
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(q, 0);
        json_object *per = NULL;
        if (!json_object_object_get_ex(o, u, &per)) {
            per = json_object_new_object();
            json_object_object_add(o, u, per);
        }
        json_object *e = json_object_new_object();
        json_object_object_add(e, "available", json_object_new_boolean(sqlite3_column_int(q, 2)));
        const char *reason = (const char *)sqlite3_column_text(q, 3);
        json_object_object_add(e, "reason", reason ? json_object_new_string(reason) : NULL);
        g_autofree char *since = time_format_rfc3339(sqlite3_column_int64(q, 4));
        g_autofree char *updated = time_format_rfc3339(sqlite3_column_int64(q, 5));
        json_object_object_add(e, "since", since ? json_object_new_string(since) : NULL);
        json_object_object_add(e, "updated", updated ? json_object_new_string(updated) : NULL);
        json_object_object_add(per, (const char *)sqlite3_column_text(q, 1), e);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        set_db_error(error, s->r, "view status");
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* ---- reading rows of one entity ---- */

/* Binds the entity text (split per kind) to ?1 and ?2. */
static void bind_entity(const struct series_kind *kind, sqlite3_stmt *q, const char *entity)
{
    const char *slash = kind->entity_split == 'f'   ? strchr(entity, '/')
                        : kind->entity_split == 'l' ? strrchr(entity, '/')
                                                    : NULL;
    if (slash) {
        sqlite3_bind_text(q, 1, entity, (int)(slash - entity), SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 2, slash + 1, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_text(q, 1, entity, -1, SQLITE_TRANSIENT);
        sqlite3_bind_null(q, 2);
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

static void read_row(const struct series_kind *kind, sqlite3_stmt *q, struct series_row *row)
{
    row->t = sqlite3_column_int64(q, 0);
    row->inc = series_inc_hash((const char *)sqlite3_column_text(q, 1));
    for (size_t i = 0; i < kind->n_metrics; i++)
        row->v[i] = col_u(q, (int)i + 2);
}

/* Rows of ENTITY in [FROM, TO), preceded by the last row before FROM (so
 * the first counter in the range has a predecessor). */
static int read_rows(sqlite3 *db, const struct series_kind *kind, const char *entity, int64_t from,
                     int64_t to, GArray *ret, GError **error)
{
    for (int pass = 0; pass < 2; pass++) {
        g_autofree char *sql = select_rows_sql(kind, pass == 0);
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
            set_db_error(error, db, "prepare");
            return -EIO;
        }
        bind_entity(kind, q, entity);
        sqlite3_bind_int64(q, 3, from);
        if (pass == 1)
            sqlite3_bind_int64(q, 4, to);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            struct series_row row;
            read_row(kind, q, &row);
            g_array_append_val(ret, row);
        }
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) {
            set_db_error(error, db, "read rows");
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

static int upsert_tier(sqlite3 *db, const char *table, const struct series_kind *kind,
                       const char *entity, int64_t t, const struct series_agg *aggs, GError **error)
{
    g_autofree char *data = series_aggs_to_json(kind, aggs);
    g_autofree char *sql =
        g_strdup_printf("INSERT OR REPLACE INTO %s(kind, entity, t, data) VALUES (?,?,?,?)", table);
    return step_done(db, prep(db, error, sql, "ssis", kind->name, entity, t, data), error);
}

static int compute_5m(sqlite3 *db, const struct series_kind *kind, const struct bucket_key *b,
                      GError **error)
{
    g_autoptr(GArray) rows = g_array_new(FALSE, FALSE, sizeof(struct series_row));
    int r = read_rows(db, kind, b->entity, b->t, b->t + SERIES_TIER_5M, rows, error);
    if (r < 0)
        return r;
    struct series_agg aggs[SERIES_MAX_METRICS];
    series_bucket(kind, (struct series_row *)rows->data, rows->len, b->t, b->t + SERIES_TIER_5M,
                  aggs);
    return upsert_tier(db, "samples_5m", kind, b->entity, b->t, aggs, error);
}

static int compute_1h(sqlite3 *db, const struct series_kind *kind, const struct bucket_key *b,
                      GError **error)
{
    sqlite3_stmt *q = prep(db, error,
                           "SELECT data FROM samples_5m WHERE kind = ? AND entity = ?"
                           " AND t >= ? AND t < ?",
                           "ssii", kind->name, b->entity, b->t, b->t + SERIES_TIER_1H);
    if (!q)
        return -EIO;
    struct series_agg sum[SERIES_MAX_METRICS] = {0}, one[SERIES_MAX_METRICS];
    while (sqlite3_step(q) == SQLITE_ROW) {
        series_aggs_from_json(kind, (const char *)sqlite3_column_text(q, 0), one);
        series_agg_combine(sum, one, kind->n_metrics);
    }
    sqlite3_finalize(q);
    return upsert_tier(db, "samples_1h", kind, b->entity, b->t, sum, error);
}

static int get_watermark(sqlite3 *db, const struct series_kind *kind, int64_t *ret, GError **error)
{
    sqlite3_stmt *q =
        prep(db, error, "SELECT watermark FROM samples_progress WHERE kind = ?", "s", kind->name);
    if (!q)
        return -EIO;
    *ret = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : G_MININT64;
    sqlite3_finalize(q);
    return 0;
}

/* Runs FN on each key of KEYS, MAINT_BATCH to a transaction. */
static int for_each_batched(struct store_sqlite *s, const struct series_kind *kind, GArray *keys,
                            int (*fn)(sqlite3 *, const struct series_kind *,
                                      const struct bucket_key *, GError **),
                            GError **error)
{
    for (guint i = 0; i < keys->len;) {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
        int r = begin(s->w, error);
        if (r < 0)
            return r;
        guint end = MIN(keys->len, i + MAINT_BATCH);
        for (; i < end && r == 0; i++)
            r = fn(s->w, kind, &g_array_index(keys, struct bucket_key, i), error);
        r = commit_or_rollback(s->w, r, error);
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
        sqlite3_stmt *q = prep(s->w, error, sql, "ii", wm == G_MININT64 ? G_MININT64 : wm, new_wm);
        if (!q)
            return -EIO;
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *e = (const char *)sqlite3_column_text(q, 0);
            if (!e)
                continue;
            struct bucket_key b = {g_strdup(e), sqlite3_column_int64(q, 1) * SERIES_TIER_5M};
            g_array_append_val(k5, b);
        }
        sqlite3_finalize(q);
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
    return step_done(s->w,
                     prep(s->w, error,
                          "INSERT OR REPLACE INTO samples_progress(kind, watermark) VALUES (?, ?)",
                          "si", kind->name, new_wm),
                     error);
}

static int delete_older(struct store_sqlite *s, const char *sql, int64_t cutoff,
                        struct store_maint_stats *stats, GError **error)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = step_done(s->w, prep(s->w, error, sql, "i", cutoff), error);
    if (r == 0)
        stats->rows_deleted += (unsigned)sqlite3_changes(s->w);
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
            g_autofree char *sql =
                g_strdup_printf("DELETE FROM %s WHERE %s < ?", k->table, k->recv_col);
            r = delete_older(s, sql, cutoff, &stats, error);
        }
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

static json_object *points_json(const GArray *pts)
{
    json_object *arr = json_object_new_array_ext((int)pts->len);
    for (guint i = 0; i < pts->len; i++) {
        const struct series_point *p = &g_array_index(pts, struct series_point, i);
        json_object *o = json_object_new_object();
        g_autofree char *t = time_format_rfc3339(p->t);
        json_object_object_add(o, "t", json_object_new_string(t ? t : ""));
        json_object_object_add(o, "v", json_object_new_double(p->v));
        json_object_array_add(arr, o);
    }
    return arr;
}

json_object *sq_series_query(struct store *st, const struct store_series_query *q, GError **error)
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
            g_autoptr(GArray) rows = g_array_new(FALSE, FALSE, sizeof(struct series_row));
            r = read_rows(s->r, kind, q->entity, q->from_us, q->to_us, rows, error);
            for (size_t i = 0; i < q->n_metrics && r == 0; i++) {
                g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(struct series_point));
                series_points(kind, (size_t)q->metrics[i], (struct series_row *)rows->data,
                              rows->len, all);
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
            sqlite3_stmt *qq = prep(
                s->r, error, sql, "ssii", kind->name, q->entity,
                floor_to(q->from_us, g_str_equal(tier, "5m") ? SERIES_TIER_5M : SERIES_TIER_1H),
                q->to_us);
            if (!qq) {
                r = -EIO;
            } else {
                struct series_agg aggs[SERIES_MAX_METRICS];
                while (sqlite3_step(qq) == SQLITE_ROW) {
                    series_aggs_from_json(kind, (const char *)sqlite3_column_text(qq, 1), aggs);
                    for (size_t i = 0; i < q->n_metrics; i++) {
                        struct series_point p = {.t = sqlite3_column_int64(qq, 0)};
                        int mi = q->metrics[i];
                        if (series_agg_value(kind, (size_t)mi, &aggs[mi], &p.v))
                            g_array_append_val(pts[i], p);
                    }
                }
                sqlite3_finalize(qq);
            }
        }
    }

    json_object *o = NULL;
    if (r == 0) {
        o = json_object_new_object();
        json_object_object_add(o, "tier", json_object_new_string(tier));
        json_object_object_add(o, "step_s", json_object_new_int64(q->step_us / USEC_PER_SEC));
        json_object *series = json_object_new_array();
        for (size_t i = 0; i < q->n_metrics; i++) {
            const struct series_metric *m = &kind->metrics[q->metrics[i]];
            g_autoptr(GArray) res = series_resample(pts[i], q->step_us);
            for (guint k = 0; m->scale != 0 && k < res->len; k++)
                g_array_index(res, struct series_point, k).v *= m->scale;
            json_object *e = json_object_new_object();
            json_object_object_add(e, "metric", json_object_new_string(m->name));
            g_autofree char *unit =
                m->counter ? g_strdup_printf("%s/s", m->unit) : g_strdup(m->unit);
            json_object_object_add(e, "unit", json_object_new_string(unit));
            json_object_object_add(e, "type",
                                   json_object_new_string(m->counter ? "rate" : "gauge"));
            json_object_object_add(e, "points", points_json(res));
            json_object_array_add(series, e);
        }
        json_object_object_add(o, "series", series);
    }
    for (size_t i = 0; i < q->n_metrics; i++)
        g_array_unref(pts[i]);
    return o;
}
