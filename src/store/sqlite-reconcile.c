/*
 * SQLite backend, part four: what the reconciliation engine reads (the
 * newest samples of each view, the domain's disks and the host's pools, its
 * persisted state) and what it writes (R history, the current view, the
 * findings' lifecycle).  See store.h and docs/reconciliation.md.
 */
#include "config.h"

#include "store/sqlite-private.h"

#include "basic/util.h"
#include "store/series.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define FINDINGS_MAX_LIMIT 1000

void store_reconcile_ctx_clear(struct store_reconcile_ctx *c)
{
    g_free(c->disks_json);
    g_free(c->state_json);
    if (c->pools) {
        for (guint i = 0; i < c->pools->len; i++) {
            struct store_pool *p = &g_array_index(c->pools, struct store_pool, i);
            g_free(p->name);
            g_free(p->target_path);
        }
        g_array_unref(c->pools);
    }
    memset(c, 0, sizeof(*c));
}

static uint64_t col_u(sqlite3_stmt *q, int i)
{
    if (sqlite3_column_type(q, i) == SQLITE_NULL)
        return SAMPLE_ABSENT;
    sqlite3_int64 v = sqlite3_column_int64(q, i);
    return v < 0 ? SAMPLE_ABSENT : (uint64_t)v;
}

/* The metric columns of KIND after FIXED leading columns, written into the
 * sample struct through the kind's field offsets: one reader for every
 * wide row, so a metric added to series.c is read back without a change
 * here. */
static void read_metrics(const struct series_kind *kind, sqlite3_stmt *q, int first, void *sample)
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

static int finish_read(sqlite3 *db, sqlite3_stmt *q, int rc, GError **error)
{
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        set_db_error(error, db, "read samples");
        return -EIO;
    }
    return 0;
}

int sq_host_samples_recent(struct store *st, const char *uuid, unsigned n, GArray *ret,
                           GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autofree char *cols = metric_cols(&series_vm_host);
    g_autofree char *sql = g_strdup_printf(
        "SELECT host_id, uuid, t, dom_id, state, state_reason, vcpus, blocks, nics%s"
        " FROM host_samples WHERE uuid = ? ORDER BY t DESC LIMIT ?",
        cols);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    sqlite3_stmt *q = prep(s->r, error, sql, "si", uuid, (int64_t)n);
    if (!q)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct host_sample h;
        host_sample_init(&h);
        h.host_id = sqlite3_column_int64(q, 0);
        h.uuid = col_text(q, 1);
        h.time_us = sqlite3_column_int64(q, 2);
        h.dom_id = sqlite3_column_type(q, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 3);
        h.state = sqlite3_column_int(q, 4);
        h.state_reason = sqlite3_column_int(q, 5);
        h.vcpus_json = col_text(q, 6);
        h.blocks_json = col_text(q, 7);
        h.nics_json = col_text(q, 8);
        read_metrics(&series_vm_host, q, 9, &h);
        g_array_append_val(ret, h);
    }
    return finish_read(s->r, q, rc, error);
}

int sq_guest_samples_recent(struct store *st, const char *uuid, const char *source, unsigned n,
                            GArray *ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autofree char *cols = metric_cols(&series_vm_guest);
    g_autofree char *sql =
        g_strdup_printf("SELECT machine_uuid, source, t, received, seq, filesystems, disks, nics,"
                        " extra%s FROM guest_samples WHERE machine_uuid = ? AND source = ?"
                        " ORDER BY t DESC LIMIT ?",
                        cols);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    sqlite3_stmt *q = prep(s->r, error, sql, "ssi", uuid, source, (int64_t)n);
    if (!q)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct guest_sample g;
        guest_sample_init(&g);
        g.machine_uuid = col_text(q, 0);
        g.source = guest_source_static((const char *)sqlite3_column_text(q, 1));
        if (!g.source)
            g.source = "unknown";
        g.time_us = sqlite3_column_int64(q, 2);
        g.received_us = sqlite3_column_int64(q, 3);
        g.seq = col_u(q, 4);
        g.filesystems_json = col_text(q, 5);
        g.disks_json = col_text(q, 6);
        g.nics_json = col_text(q, 7);
        g.extra_json = col_text(q, 8);
        read_metrics(&series_vm_guest, q, 9, &g);
        g_array_append_val(ret, g);
    }
    return finish_read(s->r, q, rc, error);
}

int sq_pool_samples_recent(struct store *st, int64_t host_id, const char *name, unsigned n,
                           GArray *ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    sqlite3_stmt *q = prep(s->r, error,
                           "SELECT t, capacity, allocation, available FROM pool_samples"
                           " WHERE host_id = ? AND name = ? ORDER BY t DESC LIMIT ?",
                           "isi", host_id, name, (int64_t)n);
    if (!q)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct pool_sample p = {
            .host_id = host_id,
            .name = g_strdup(name),
            .time_us = sqlite3_column_int64(q, 0),
            .capacity = col_u(q, 1),
            .allocation = col_u(q, 2),
            .available = col_u(q, 3),
        };
        g_array_append_val(ret, p);
    }
    return finish_read(s->r, q, rc, error);
}

int sq_reconcile_ctx_get(struct store *st, int64_t host_id, const char *uuid,
                         struct store_reconcile_ctx *ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    memset(ret, 0, sizeof(*ret));
    ret->pools = g_array_new(FALSE, TRUE, sizeof(struct store_pool));
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    sqlite3_stmt *q = prep(s->r, error,
                           "SELECT disks FROM domains WHERE host_id = ? AND uuid = ?"
                           " AND removed = 0",
                           "is", host_id, uuid);
    if (!q)
        return -EIO;
    if (sqlite3_step(q) == SQLITE_ROW)
        ret->disks_json = col_text(q, 0);
    sqlite3_finalize(q);
    q = prep(s->r, error, "SELECT state FROM reconcile_current WHERE uuid = ?", "s", uuid);
    if (!q)
        return -EIO;
    if (sqlite3_step(q) == SQLITE_ROW)
        ret->state_json = col_text(q, 0);
    sqlite3_finalize(q);
    q = prep(s->r, error,
             "SELECT name, target_path FROM pools WHERE host_id = ? AND target_path IS NOT NULL",
             "i", host_id);
    if (!q)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct store_pool p = {.name = col_text(q, 0), .target_path = col_text(q, 1)};
        g_array_append_val(ret->pools, p);
    }
    return finish_read(s->r, q, rc, error);
}

static int put_finding(sqlite3 *db, const struct store_reconciled *r,
                       const struct store_finding_update *f, int64_t now, GError **error)
{
    const char *uuid = r->sample->uuid;
    bool open = g_str_equal(f->state, "open") || g_str_equal(f->state, "closing");
    if (g_str_equal(f->state, "closed"))
        return step_done(db,
                         prep(db, error,
                              "UPDATE findings SET state = 'closed', closed = ?, updated = ?,"
                              " message = ?, measure = ? WHERE uuid = ? AND rule = ?"
                              " AND state = 'open'",
                              "iisdss", f->changed_us, now, f->message, f->measure, uuid, f->rule),
                         error);
    if (!open)
        return 0; /* opening: not a finding yet (open_after not reached) */
    int r1 = step_done(db,
                       prep(db, error,
                            "UPDATE findings SET severity = ?, measure = ?, message = ?,"
                            " updated = ? WHERE uuid = ? AND rule = ? AND state = 'open'",
                            "sdsiss", f->severity, f->measure, f->message, now, uuid, f->rule),
                       error);
    if (r1 < 0 || sqlite3_changes(db) > 0)
        return r1;
    /* An open finding's changed time is when it opened; one first seen
     * while closing (state carried over a restart) opened by its since. */
    int64_t opened = g_str_equal(f->state, "open") ? f->changed_us : f->since_us;
    return step_done(db,
                     prep(db, error,
                          "INSERT INTO findings(uuid, host_id, rule, severity, state, since,"
                          " opened, updated, measure, message)"
                          " VALUES (?,?,?,?,'open',?,?,?,?,?)",
                          "sissiiids", uuid, r->sample->host_id, f->rule, f->severity, f->since_us,
                          opened, now, f->measure, f->message),
                     error);
}

int sq_reconciled_put(struct store *st, const struct store_reconciled *r, GError **error)
{
    struct store_sqlite *s = SQ(st);
    const struct reconciled_sample *v = r->sample;
    int64_t now = now_usec();
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int rc = begin(s->w, error);
    if (rc < 0)
        return rc;
    rc = step_done(s->w,
                   prep(s->w, error,
                        "INSERT OR REPLACE INTO reconciled_samples(host_id, uuid, t, cpu_busy,"
                        " cpu_wait, cpu_demand, mem_total, mem_used, mem_swap, disk_used,"
                        " disk_free, disk_io, net_rx, net_tx)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        "isiUUUUUUUUUUU", v->host_id, v->uuid, v->time_us, v->cpu_busy, v->cpu_wait,
                        v->cpu_demand, v->mem_total, v->mem_used, v->mem_swap, v->disk_used,
                        v->disk_free, v->disk_io, v->net_rx, v->net_tx),
                   error);
    if (rc == 0)
        rc = step_done(s->w,
                       prep(s->w, error,
                            "INSERT OR REPLACE INTO reconcile_current(uuid, host_id, t, view,"
                            " state) VALUES (?,?,?,?,?)",
                            "siiss", v->uuid, v->host_id, v->time_us, r->view_json, r->state_json),
                       error);
    for (size_t i = 0; i < r->n_findings && rc == 0; i++)
        rc = put_finding(s->w, r, &r->findings[i], now, error);
    if (rc == 0) {
        /* Open rows of rules the engine no longer tracks. */
        g_autoptr(GString) sql =
            g_string_new("UPDATE findings SET state = 'closed', closed = ?1, updated = ?1,"
                         " message = message || ' (closed: no longer reported)'"
                         " WHERE uuid = ?2 AND state = 'open'");
        for (size_t i = 0; i < r->n_findings; i++)
            g_string_append_printf(sql, "%s?%zu", i ? "," : " AND rule NOT IN (", i + 3);
        if (r->n_findings)
            g_string_append_c(sql, ')');
        sqlite3_stmt *q = prep(s->w, error, sql->str, "is", v->time_us, v->uuid);
        for (size_t i = 0; q && i < r->n_findings; i++)
            sqlite3_bind_text(q, (int)i + 3, r->findings[i].rule, -1, SQLITE_TRANSIENT);
        rc = step_done(s->w, q, error);
    }
    return commit_or_rollback(s->w, rc, error);
}

#define FINDING_COLS                                                                               \
    "SELECT f.id, f.uuid, IFNULL(d.name, f.uuid) AS vm, h.name AS host, f.rule, f.severity,"       \
    " f.state, f.since AS \"t:since\", f.opened AS \"t:opened\", f.closed AS \"t:closed\","        \
    " f.updated AS \"t:updated\", f.measure, f.message FROM findings f"                            \
    " LEFT JOIN hosts h ON h.id = f.host_id"                                                       \
    " LEFT JOIN domains d ON d.host_id = f.host_id AND d.uuid = f.uuid"

/* The view as stored, with each side's age moved on to now: ages were
 * taken when the round ran. */
static json_object *view_aged(const char *text, int64_t t, int64_t now)
{
    json_object *view = text ? json_tokener_parse(text) : NULL;
    json_object *res = NULL;
    double elapsed = (double)(now > t ? now - t : 0) / 1e6;
    if (!view || !json_object_object_get_ex(view, "resources", &res) ||
        !json_object_is_type(res, json_type_array)) {
        json_object_put(view);
        return json_object_new_array();
    }
    for (size_t i = 0; i < json_object_array_length(res); i++) {
        json_object *o = json_object_array_get_idx(res, i);
        static const char *const ages[] = {"h_age_s", "g_age_s"};
        for (size_t k = 0; k < G_N_ELEMENTS(ages); k++) {
            json_object *a = NULL;
            if (json_object_object_get_ex(o, ages[k], &a) && a)
                json_object_object_add(
                    o, ages[k],
                    json_object_new_double(round((json_object_get_double(a) + elapsed) * 10) / 10));
        }
    }
    json_object *ret = json_object_get(res);
    json_object_put(view);
    return ret;
}

json_object *sq_reconciled_query(struct store *st, const char *uuid, GError **error)
{
    struct store_sqlite *s = SQ(st);
    int64_t now = now_usec();
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    sqlite3_stmt *q =
        prep(s->r, error, "SELECT t, view FROM reconcile_current WHERE uuid = ?", "s", uuid);
    if (!q)
        return NULL;
    if (sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "not reconciled yet");
        return NULL;
    }
    int64_t t = sqlite3_column_int64(q, 0);
    json_object *o = json_object_new_object();
    g_autofree char *ts = time_format_rfc3339(t);
    json_object_object_add(o, "time", json_object_new_string(ts ? ts : ""));
    json_object_object_add(o, "age_s", json_object_new_double(round((double)(now - t) / 1e5) / 10));
    json_object_object_add(o, "resources",
                           view_aged((const char *)sqlite3_column_text(q, 1), t, now));
    sqlite3_finalize(q);
    json_object *f = rows_to_array(
        s->r,
        prep(s->r, error, FINDING_COLS " WHERE f.uuid = ? AND f.state = 'open' ORDER BY f.id", "s",
             uuid),
        error);
    if (!f) {
        json_object_put(o);
        return NULL;
    }
    json_object_object_add(o, "findings", f);
    return o;
}

json_object *sq_findings_query(struct store *st, const char *state, const char *rule,
                               const char *uuid, int limit, GError **error)
{
    struct store_sqlite *s = SQ(st);
    if (state && g_str_equal(state, "all"))
        state = NULL;
    if (limit <= 0 || limit > FINDINGS_MAX_LIMIT)
        limit = FINDINGS_MAX_LIMIT;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    json_object *arr = rows_to_array(
        s->r,
        prep(s->r, error,
             FINDING_COLS " WHERE (?1 IS NULL OR f.state = ?1) AND (?2 IS NULL OR f.rule = ?2)"
                          " AND (?3 IS NULL OR f.uuid = ?3) ORDER BY f.id DESC LIMIT ?4",
             "sssi", state, rule, uuid, (int64_t)limit),
        error);
    if (!arr)
        return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "findings", arr);
    return o;
}
