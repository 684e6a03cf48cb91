/*
 * SQLite backend of the store: one file in WAL mode.
 *
 * Two connections: `w` for every write, serialised by wlock, and `r` for
 * queries, serialised by rlock.  WAL lets the reader see the last committed
 * state while a write is in progress, so API reads never wait for the
 * inventory sync.
 */
#include "config.h"

#include "store/store.h"

#include "basic/diff.h"
#include "basic/util.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK(kanri_store_error_quark, store_error)

#include "store/sqlite-private.h"

/* Schema migrations, applied in order; PRAGMA user_version records how many
 * ran.  Never edit a released step: append a new one. */
static const char *const migrations[] = {
    /* 1: inventory, configuration history, audit, tokens */
    "CREATE TABLE hosts ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, uri TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'connecting', reason TEXT, driver TEXT, hv_version TEXT,"
    "  libvirt_version TEXT, hostname TEXT, cpu_model TEXT, cpus INTEGER, mhz INTEGER,"
    "  memory_bytes INTEGER, numa_cells INTEGER, last_seen INTEGER, connected_since INTEGER);"
    "CREATE TABLE domains ("
    "  id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts(id),"
    "  uuid TEXT NOT NULL, name TEXT NOT NULL, state TEXT, state_reason TEXT,"
    "  persistent INTEGER NOT NULL DEFAULT 0, autostart INTEGER NOT NULL DEFAULT 0,"
    "  vcpus INTEGER, max_vcpus INTEGER, memory_bytes INTEGER, max_memory_bytes INTEGER,"
    "  os_type TEXT, domain_type TEXT, disks TEXT NOT NULL DEFAULT '[]',"
    "  nics TEXT NOT NULL DEFAULT '[]', has_agent INTEGER NOT NULL DEFAULT 0,"
    "  balloon_model TEXT, config_version INTEGER NOT NULL DEFAULT 0,"
    "  updated_at INTEGER, removed INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (host_id, uuid));"
    "CREATE INDEX domains_name ON domains(name);"
    "CREATE INDEX domains_uuid ON domains(uuid);"
    "CREATE TABLE config_versions ("
    "  domain_id INTEGER NOT NULL REFERENCES domains(id), version INTEGER NOT NULL,"
    "  xml TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (domain_id, version));"
    "CREATE TABLE changes ("
    "  id INTEGER PRIMARY KEY, domain_id INTEGER NOT NULL REFERENCES domains(id),"
    "  from_version INTEGER, to_version INTEGER, seen_at INTEGER NOT NULL,"
    "  cause TEXT NOT NULL, actor TEXT, audit_id INTEGER, diff TEXT NOT NULL);"
    "CREATE INDEX changes_domain ON changes(domain_id, id);"
    "CREATE TABLE pools ("
    "  host_id INTEGER NOT NULL REFERENCES hosts(id), name TEXT NOT NULL, uuid TEXT,"
    "  state TEXT, capacity INTEGER, allocation INTEGER, available INTEGER,"
    "  updated_at INTEGER, PRIMARY KEY (host_id, name));"
    "CREATE TABLE networks ("
    "  host_id INTEGER NOT NULL REFERENCES hosts(id), name TEXT NOT NULL, uuid TEXT,"
    "  active INTEGER, bridge TEXT, updated_at INTEGER, PRIMARY KEY (host_id, name));"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY, actor TEXT NOT NULL, token_id INTEGER, action TEXT NOT NULL,"
    "  target TEXT, target_uuid TEXT, host TEXT, params TEXT NOT NULL DEFAULT '{}',"
    "  started_at INTEGER NOT NULL, ended_at INTEGER, result TEXT NOT NULL DEFAULT 'running',"
    "  error TEXT);"
    "CREATE INDEX audit_target ON audit(target_uuid, id);"
    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,"
    "  hash TEXT NOT NULL UNIQUE, machine_uuid TEXT, created_at INTEGER NOT NULL,"
    "  last_used INTEGER, revoked_at INTEGER);",
    /* 2: guest-view history, one wide row per machine, source and sample */
    "CREATE TABLE guest_samples ("
    "  id INTEGER PRIMARY KEY, machine_uuid TEXT NOT NULL, source TEXT NOT NULL,"
    "  t INTEGER NOT NULL, received INTEGER NOT NULL, seq INTEGER,"
    "  cpu_count INTEGER, cpu_user_ns INTEGER, cpu_nice_ns INTEGER, cpu_system_ns INTEGER,"
    "  cpu_idle_ns INTEGER, cpu_iowait_ns INTEGER, cpu_irq_ns INTEGER, cpu_softirq_ns INTEGER,"
    "  cpu_steal_ns INTEGER, mem_total INTEGER, mem_free INTEGER, mem_available INTEGER,"
    "  mem_cached INTEGER, mem_buffers INTEGER, swap_total INTEGER, swap_free INTEGER,"
    "  swap_in_pages INTEGER, swap_out_pages INTEGER, major_faults INTEGER,"
    "  minor_faults INTEGER, load1_milli INTEGER, load5_milli INTEGER, load15_milli INTEGER,"
    "  fs_total INTEGER, fs_used INTEGER, fs_avail INTEGER, disk_read_bytes INTEGER,"
    "  disk_write_bytes INTEGER, disk_reads INTEGER, disk_writes INTEGER,"
    "  net_rx_bytes INTEGER, net_tx_bytes INTEGER, net_rx_packets INTEGER,"
    "  net_tx_packets INTEGER, filesystems TEXT, disks TEXT, nics TEXT, extra TEXT);"
    "CREATE UNIQUE INDEX guest_samples_seq ON guest_samples(machine_uuid, source, seq)"
    "  WHERE seq IS NOT NULL;"
    "CREATE UNIQUE INDEX guest_samples_time ON guest_samples(machine_uuid, source, t)"
    "  WHERE seq IS NULL;"
    "CREATE INDEX guest_samples_machine_t ON guest_samples(machine_uuid, t);",
    /* 3: host-view history, tiers, view availability (sqlite-private.h) */
    SQLITE_MIGRATION_HOST_VIEW,
    /* 4: enrolled guest agents (kanri-guestd) and their health */
    "CREATE TABLE agents ("
    "  machine_uuid TEXT PRIMARY KEY, name TEXT NOT NULL, token_id INTEGER,"
    "  enrolled_at INTEGER NOT NULL, last_contact INTEGER, agent_name TEXT,"
    "  agent_version TEXT, hostname TEXT, id_source TEXT, last_seq INTEGER,"
    "  last_sample_time INTEGER, lag_us INTEGER, spool_backlog INTEGER,"
    "  spool_dropped INTEGER, accepted INTEGER NOT NULL DEFAULT 0,"
    "  duplicates INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT, last_error_at INTEGER);",
    /* 5: reconciliation: R history, the current view and engine state, findings */
    "ALTER TABLE pools ADD COLUMN target_path TEXT;"
    "CREATE TABLE reconciled_samples ("
    "  host_id INTEGER NOT NULL, uuid TEXT NOT NULL, t INTEGER NOT NULL,"
    "  cpu_busy INTEGER, cpu_wait INTEGER, cpu_demand INTEGER, mem_total INTEGER,"
    "  mem_used INTEGER, mem_swap INTEGER, disk_used INTEGER, disk_free INTEGER,"
    "  disk_io INTEGER, net_rx INTEGER, net_tx INTEGER, PRIMARY KEY (uuid, t));"
    "CREATE INDEX reconciled_samples_t ON reconciled_samples(t);"
    "CREATE TABLE reconcile_current ("
    "  uuid TEXT PRIMARY KEY, host_id INTEGER NOT NULL, t INTEGER NOT NULL,"
    "  view TEXT NOT NULL, state TEXT);"
    "CREATE TABLE findings ("
    "  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL, host_id INTEGER NOT NULL,"
    "  rule TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL,"
    "  since INTEGER, opened INTEGER NOT NULL, closed INTEGER, updated INTEGER NOT NULL,"
    "  measure REAL, message TEXT);"
    "CREATE INDEX findings_uuid_rule ON findings(uuid, rule, state);"
    "CREATE INDEX findings_state ON findings(state, id);",
};

void set_db_error(GError **error, sqlite3 *db, const char *what)
{
    g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "%s: %s", what, sqlite3_errmsg(db));
}

int exec_sql(sqlite3 *db, const char *sql, GError **error)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "%s", msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

/*
 * Prepares SQL and binds arguments described by FMT, one character each:
 *   s  const char * (NULL binds NULL)
 *   i  int64_t
 *   u  uint64_t (stored as int64; sizes never reach 2^63)
 *   b  bool (passed as int)
 *   I  int64_t, where 0 binds NULL (optional references)
 *   U  uint64_t, where SAMPLE_ABSENT binds NULL (optional figures)
 */
static sqlite3_stmt *vprep(sqlite3 *db, GError **error, const char *sql, const char *fmt,
                           va_list ap)
{
    sqlite3_stmt *stmt = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        set_db_error(error, db, "prepare");
        return NULL;
    }
    for (int i = 0; fmt && fmt[i]; i++) {
        int idx = i + 1;
        switch (fmt[i]) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s)
                sqlite3_bind_text(stmt, idx, s, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(stmt, idx);
            break;
        }
        case 'i':
            sqlite3_bind_int64(stmt, idx, va_arg(ap, int64_t));
            break;
        case 'u':
            sqlite3_bind_int64(stmt, idx, (sqlite3_int64)va_arg(ap, uint64_t));
            break;
        case 'b':
            sqlite3_bind_int(stmt, idx, va_arg(ap, int) ? 1 : 0);
            break;
        case 'd': {
            double v = va_arg(ap, double);
            if (isfinite(v))
                sqlite3_bind_double(stmt, idx, v);
            else
                sqlite3_bind_null(stmt, idx);
            break;
        }
        case 'U': {
            uint64_t v = va_arg(ap, uint64_t);
            if (v == SAMPLE_ABSENT || v > (uint64_t)INT64_MAX)
                sqlite3_bind_null(stmt, idx);
            else
                sqlite3_bind_int64(stmt, idx, (sqlite3_int64)v);
            break;
        }
        case 'I': {
            int64_t v = va_arg(ap, int64_t);
            if (v)
                sqlite3_bind_int64(stmt, idx, v);
            else
                sqlite3_bind_null(stmt, idx);
            break;
        }
        default:
            g_assert_not_reached();
        }
    }
    return stmt;
}

sqlite3_stmt *prep(sqlite3 *db, GError **error, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *stmt = vprep(db, error, sql, fmt, ap);
    va_end(ap);
    return stmt;
}

/* Steps a statement that returns no rows, then finalizes it. */
int step_done(sqlite3 *db, sqlite3_stmt *stmt, GError **error)
{
    if (!stmt)
        return -EIO;
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        set_db_error(error, db, "write");
        return -EIO;
    }
    return 0;
}

char *col_text(sqlite3_stmt *stmt, int i)
{
    const unsigned char *t = sqlite3_column_text(stmt, i);
    return t ? g_strdup((const char *)t) : NULL;
}

/*
 * Turns the current row into a JSON object.  A column's alias may carry a
 * type hint before a colon: "t:" epoch-µs → RFC 3339 string, "b:" 0/1 →
 * boolean, "j:" JSON text → parsed JSON.  Without a hint, SQLite's own type
 * decides (integer, real, text, NULL).
 */
json_object *row_to_json(sqlite3_stmt *stmt)
{
    json_object *o = json_object_new_object();
    int n = sqlite3_column_count(stmt);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(stmt, i);
        char hint = 0;
        if (name[0] && name[1] == ':') {
            hint = name[0];
            name += 2;
        }
        int type = sqlite3_column_type(stmt, i);
        json_object *v = NULL;
        if (type == SQLITE_NULL) {
            v = NULL;
        } else if (hint == 't') {
            g_autofree char *s = time_format_rfc3339(sqlite3_column_int64(stmt, i));
            v = s ? json_object_new_string(s) : NULL;
        } else if (hint == 'b') {
            v = json_object_new_boolean(sqlite3_column_int64(stmt, i) != 0);
        } else if (hint == 'j') {
            v = json_tokener_parse((const char *)sqlite3_column_text(stmt, i));
        } else if (type == SQLITE_INTEGER) {
            v = json_object_new_int64(sqlite3_column_int64(stmt, i));
        } else if (type == SQLITE_FLOAT) {
            v = json_object_new_double(sqlite3_column_double(stmt, i));
        } else {
            v = json_object_new_string((const char *)sqlite3_column_text(stmt, i));
        }
        json_object_object_add(o, name, v);
    }
    return o;
}

/* Runs a prepared query and collects its rows as an array. */
json_object *rows_to_array(sqlite3 *db, sqlite3_stmt *stmt, GError **error)
{
    if (!stmt)
        return NULL;
    json_object *arr = json_object_new_array();
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        json_object_array_add(arr, row_to_json(stmt));
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        set_db_error(error, db, "query");
        json_object_put(arr);
        return NULL;
    }
    return arr;
}

static json_object *wrap(const char *key, json_object *arr)
{
    if (!arr)
        return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, key, arr);
    return o;
}

json_object *list_query(struct store_sqlite *s, const char *key, GError **error, const char *sql,
                        const char *fmt, ...)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *stmt = vprep(s->r, error, sql, fmt, ap);
    va_end(ap);
    return wrap(key, rows_to_array(s->r, stmt, error));
}

int begin(sqlite3 *db, GError **error)
{
    return exec_sql(db, "BEGIN IMMEDIATE", error);
}

int commit_or_rollback(sqlite3 *db, int r, GError **error)
{
    if (r < 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return r;
    }
    return exec_sql(db, "COMMIT", error);
}

/* ---- hosts ---- */

static int sq_host_ensure(struct store *st, const char *name, const char *uri, int64_t *ret_id,
                          GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    /* A host keeps its id (and so its history) across restarts by name; the
     * URI may change in the configuration. */
    int r = step_done(s->w,
                      prep(s->w, error,
                           "INSERT INTO hosts(name, uri) VALUES (?, ?) "
                           "ON CONFLICT(name) DO UPDATE SET uri = excluded.uri, "
                           "state = 'connecting', reason = NULL",
                           "ss", name, uri),
                      error);
    if (r < 0)
        return r;
    sqlite3_stmt *q = prep(s->w, error, "SELECT id FROM hosts WHERE name = ?", "s", name);
    if (!q)
        return -EIO;
    r = sqlite3_step(q) == SQLITE_ROW ? 0 : -EIO;
    if (r == 0)
        *ret_id = sqlite3_column_int64(q, 0);
    else
        set_db_error(error, s->w, "host lookup");
    sqlite3_finalize(q);
    return r;
}

static int sq_host_update(struct store *st, const struct store_host *h, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return step_done(s->w,
                     prep(s->w, error,
                          "UPDATE hosts SET state = ?, reason = ?, driver = ?, hv_version = ?,"
                          " libvirt_version = ?, hostname = ?, cpu_model = ?, cpus = ?, mhz = ?,"
                          " memory_bytes = ?, numa_cells = ?, last_seen = ? WHERE id = ?",
                          "sssssssiiuiii", h->state, h->reason, h->driver, h->hv_version,
                          h->libvirt_version, h->hostname, h->cpu_model, (int64_t)h->cpus,
                          (int64_t)h->mhz, h->memory_bytes, (int64_t)h->numa_cells, h->last_seen,
                          h->id),
                     error);
}

static int sq_host_set_state(struct store *st, int64_t host_id, const char *state,
                             const char *reason, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return step_done(s->w,
                     prep(s->w, error,
                          "UPDATE hosts SET state = ?, reason = ?,"
                          " connected_since = CASE WHEN ? = 'connected' THEN ? ELSE NULL END"
                          " WHERE id = ?",
                          "sssii", state, reason, state, now_usec(), host_id),
                     error);
}

/* ---- domains ---- */

static int add_change(sqlite3 *db, int64_t domain_id, int64_t from, int64_t to, int64_t when,
                      const struct store_cause *cause, const char *diff, GError **error)
{
    return step_done(db,
                     prep(db, error,
                          "INSERT INTO changes(domain_id, from_version, to_version, seen_at,"
                          " cause, actor, audit_id, diff) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          "iIiissIs", domain_id, from, to, when, cause->cause, cause->actor,
                          cause->audit_id, diff),
                     error);
}

static int domain_sync_locked(struct store_sqlite *s, int64_t host_id, const struct store_domain *d,
                              const struct store_cause *cause, bool *ret_changed, GError **error)
{
    sqlite3 *db = s->w;
    int64_t now = now_usec();
    int64_t domain_id = 0, version = 0;
    bool was_removed = false;
    g_autofree char *old_xml = NULL;

    sqlite3_stmt *q = prep(db, error,
                           "SELECT d.id, d.config_version, d.removed, v.xml FROM domains d"
                           " LEFT JOIN config_versions v ON v.domain_id = d.id"
                           "  AND v.version = d.config_version"
                           " WHERE d.host_id = ? AND d.uuid = ?",
                           "is", host_id, d->uuid);
    if (!q)
        return -EIO;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        domain_id = sqlite3_column_int64(q, 0);
        version = sqlite3_column_int64(q, 1);
        was_removed = sqlite3_column_int(q, 2) != 0;
        old_xml = col_text(q, 3);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        set_db_error(error, db, "domain lookup");
        return -EIO;
    }

    if (!domain_id) {
        int r = step_done(db,
                          prep(db, error, "INSERT INTO domains(host_id, uuid, name) VALUES (?,?,?)",
                               "iss", host_id, d->uuid, d->name),
                          error);
        if (r < 0)
            return r;
        domain_id = sqlite3_last_insert_rowid(db);
    }

    int r = step_done(
        db,
        prep(db, error,
             "UPDATE domains SET name = ?, state = ?, state_reason = ?, persistent = ?,"
             " autostart = ?, vcpus = ?, max_vcpus = ?, memory_bytes = ?, max_memory_bytes = ?,"
             " os_type = ?, domain_type = ?, disks = ?, nics = ?, has_agent = ?,"
             " balloon_model = ?, updated_at = ?, removed = 0 WHERE id = ?",
             "sssbbiiuussssbsii", d->name, d->state, d->state_reason, d->persistent, d->autostart,
             (int64_t)d->vcpus, (int64_t)d->max_vcpus, d->memory_bytes, d->max_memory_bytes,
             d->os_type, d->domain_type, d->disks_json ? d->disks_json : "[]",
             d->nics_json ? d->nics_json : "[]", d->has_agent, d->balloon_model, now, domain_id),
        error);
    if (r < 0)
        return r;

    bool changed = d->xml && (!old_xml || !g_str_equal(old_xml, d->xml));
    if (!changed && was_removed) {
        /* Back with the same definition: the history must not end on
         * "removed" while the domain lives again. */
        struct store_cause c = *cause;
        if (!g_str_equal(c.cause, "action"))
            c.cause = "created";
        r = add_change(db, domain_id, version, version, now, &c, "", error);
        if (r < 0)
            return r;
    }
    if (changed) {
        int64_t next = version + 1;
        g_autofree char *la = g_strdup_printf("version %" G_GINT64_FORMAT, version);
        g_autofree char *lb = g_strdup_printf("version %" G_GINT64_FORMAT, next);
        g_autofree char *diff = diff_unified(old_xml ? old_xml : "", d->xml, la, lb);
        r = step_done(db,
                      prep(db, error,
                           "INSERT INTO config_versions(domain_id, version, xml, seen_at)"
                           " VALUES (?, ?, ?, ?)",
                           "iisi", domain_id, next, d->xml, now),
                      error);
        if (r < 0)
            return r;
        struct store_cause c = *cause;
        /* A first sighting is a creation unless an action made it (define). */
        if (!old_xml && !g_str_equal(c.cause, "action"))
            c.cause = "created";
        else if (was_removed && !g_str_equal(c.cause, "action"))
            c.cause = "created";
        r = add_change(db, domain_id, version, next, now, &c, diff, error);
        if (r < 0)
            return r;
        r = step_done(db,
                      prep(db, error, "UPDATE domains SET config_version = ? WHERE id = ?", "ii",
                           next, domain_id),
                      error);
        if (r < 0)
            return r;
    }
    if (ret_changed)
        *ret_changed = changed;
    return 0;
}

static int sq_domain_sync(struct store *st, int64_t host_id, const struct store_domain *d,
                          const struct store_cause *cause, bool *ret_changed, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = begin(s->w, error);
    if (r < 0)
        return r;
    r = domain_sync_locked(s, host_id, d, cause, ret_changed, error);
    return commit_or_rollback(s->w, r, error);
}

static int sq_domain_prune(struct store *st, int64_t host_id, const char *const *present,
                           const struct store_cause *cause, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    g_autoptr(GHashTable) keep = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t i = 0; present && present[i]; i++)
        g_hash_table_add(keep, (gpointer)present[i]);

    int r = begin(s->w, error);
    if (r < 0)
        return r;
    g_autoptr(GArray) gone = g_array_new(FALSE, FALSE, sizeof(int64_t));
    g_autoptr(GArray) vers = g_array_new(FALSE, FALSE, sizeof(int64_t));
    sqlite3_stmt *q = prep(s->w, error,
                           "SELECT id, uuid, config_version FROM domains"
                           " WHERE host_id = ? AND removed = 0",
                           "i", host_id);
    if (!q)
        return commit_or_rollback(s->w, -EIO, error);
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (!g_hash_table_contains(keep, sqlite3_column_text(q, 1))) {
            int64_t id = sqlite3_column_int64(q, 0), v = sqlite3_column_int64(q, 2);
            g_array_append_val(gone, id);
            g_array_append_val(vers, v);
        }
    }
    sqlite3_finalize(q);
    int64_t now = now_usec();
    for (guint i = 0; i < gone->len && r == 0; i++) {
        int64_t id = g_array_index(gone, int64_t, i);
        struct store_cause c = *cause;
        if (!g_str_equal(c.cause, "action"))
            c.cause = "removed";
        r = step_done(s->w,
                      prep(s->w, error,
                           "UPDATE domains SET removed = 1, state = 'removed', updated_at = ?"
                           " WHERE id = ?",
                           "ii", now, id),
                      error);
        if (r == 0) {
            int64_t v = g_array_index(vers, int64_t, i);
            r = add_change(s->w, id, v, v, now, &c, "", error);
        }
    }
    return commit_or_rollback(s->w, r, error);
}

static int sq_domain_set_state(struct store *st, int64_t host_id, const char *uuid,
                               const char *state, const char *reason, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return step_done(s->w,
                     prep(s->w, error,
                          "UPDATE domains SET state = ?, state_reason = ?, updated_at = ?"
                          " WHERE host_id = ? AND uuid = ?",
                          "ssiis", state, reason, now_usec(), host_id, uuid),
                     error);
}

static int sq_pools_replace(struct store *st, int64_t host_id, const struct store_pool *pools,
                            size_t n, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = begin(s->w, error);
    if (r < 0)
        return r;
    r = step_done(s->w, prep(s->w, error, "DELETE FROM pools WHERE host_id = ?", "i", host_id),
                  error);
    int64_t now = now_usec();
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct store_pool *p = &pools[i];
        r = step_done(s->w,
                      prep(s->w, error,
                           "INSERT INTO pools(host_id, name, uuid, state, capacity, allocation,"
                           " available, updated_at, target_path) VALUES (?,?,?,?,?,?,?,?,?)",
                           "isssuuuis", host_id, p->name, p->uuid, p->state, p->capacity,
                           p->allocation, p->available, now, p->target_path),
                      error);
    }
    return commit_or_rollback(s->w, r, error);
}

static int sq_networks_replace(struct store *st, int64_t host_id, const struct store_network *nets,
                               size_t n, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = begin(s->w, error);
    if (r < 0)
        return r;
    r = step_done(s->w, prep(s->w, error, "DELETE FROM networks WHERE host_id = ?", "i", host_id),
                  error);
    int64_t now = now_usec();
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct store_network *p = &nets[i];
        r = step_done(s->w,
                      prep(s->w, error,
                           "INSERT INTO networks(host_id, name, uuid, active, bridge, updated_at)"
                           " VALUES (?,?,?,?,?,?)",
                           "issbsi", host_id, p->name, p->uuid, p->active, p->bridge, now),
                      error);
    }
    return commit_or_rollback(s->w, r, error);
}

/* ---- audit ---- */

static int sq_audit_begin(struct store *st, const char *actor, int64_t token_id, const char *action,
                          const char *target, const char *target_uuid, const char *host,
                          const char *params_json, int64_t *ret_id, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = step_done(s->w,
                      prep(s->w, error,
                           "INSERT INTO audit(actor, token_id, action, target, target_uuid, host,"
                           " params, started_at) VALUES (?,?,?,?,?,?,?,?)",
                           "sisssssi", actor, token_id, action, target, target_uuid, host,
                           params_json ? params_json : "{}", now_usec()),
                      error);
    if (r == 0)
        *ret_id = sqlite3_last_insert_rowid(s->w);
    return r;
}

static int sq_audit_end(struct store *st, int64_t id, bool ok, const char *error_text,
                        GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return step_done(s->w,
                     prep(s->w, error,
                          "UPDATE audit SET ended_at = ?, result = ?, error = ? WHERE id = ?",
                          "issi", now_usec(), ok ? "ok" : "error", error_text, id),
                     error);
}

static int sq_audit_set_target(struct store *st, int64_t id, const char *target,
                               const char *target_uuid, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return step_done(s->w,
                     prep(s->w, error, "UPDATE audit SET target = ?, target_uuid = ? WHERE id = ?",
                          "ssi", target, target_uuid, id),
                     error);
}

/* ---- tokens ---- */

static int sq_token_create(struct store *st, const char *name, const char *role, const char *hash,
                           const char *machine_uuid, int64_t *ret_id, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = step_done(s->w,
                      prep(s->w, error,
                           "INSERT INTO tokens(name, role, hash, machine_uuid, created_at)"
                           " VALUES (?,?,?,?,?)",
                           "ssssi", name, role, hash, machine_uuid, now_usec()),
                      error);
    if (r == 0 && ret_id)
        *ret_id = sqlite3_last_insert_rowid(s->w);
    return r;
}

static int sq_token_lookup(struct store *st, const char *hash, struct store_token *ret,
                           GError **error)
{
    struct store_sqlite *s = SQ(st);
    int r = -ENOENT;
    {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
        sqlite3_stmt *q = prep(s->r, error,
                               "SELECT id, name, role, machine_uuid FROM tokens"
                               " WHERE hash = ? AND revoked_at IS NULL",
                               "s", hash);
        if (!q)
            return -EIO;
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            ret->id = sqlite3_column_int64(q, 0);
            ret->name = col_text(q, 1);
            ret->role = col_text(q, 2);
            ret->machine_uuid = col_text(q, 3);
            r = 0;
        } else if (rc != SQLITE_DONE) {
            set_db_error(error, s->r, "token lookup");
            r = -EIO;
        } else {
            g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "unknown or revoked token");
        }
        sqlite3_finalize(q);
    }
    if (r == 0) {
        /* last_used is informative; a failure to record it must not deny access. */
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
        step_done(s->w,
                  prep(s->w, NULL, "UPDATE tokens SET last_used = ? WHERE id = ?", "ii", now_usec(),
                       ret->id),
                  NULL);
    }
    return r;
}

static int sq_token_revoke(struct store *st, int64_t id, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = step_done(s->w,
                      prep(s->w, error,
                           "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                           "ii", now_usec(), id),
                      error);
    if (r == 0 && sqlite3_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND,
                    "no active token with id %" G_GINT64_FORMAT, id);
        return -ENOENT;
    }
    return r;
}

static int sq_token_count(struct store *st, int64_t *ret_count, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    sqlite3_stmt *q =
        prep(s->r, error, "SELECT count(*) FROM tokens WHERE revoked_at IS NULL", NULL);
    if (!q)
        return -EIO;
    int r = sqlite3_step(q) == SQLITE_ROW ? 0 : -EIO;
    if (r == 0)
        *ret_count = sqlite3_column_int64(q, 0);
    else
        set_db_error(error, s->r, "token count");
    sqlite3_finalize(q);
    return r;
}

/* ---- queries ---- */

#define HOST_COLUMNS                                                                               \
    "h.id, h.name, h.uri, h.state, h.reason, h.driver, h.hv_version, h.libvirt_version,"           \
    " h.hostname, h.cpu_model, h.cpus, h.mhz, h.memory_bytes, h.numa_cells,"                       \
    " (SELECT count(*) FROM domains d WHERE d.host_id = h.id AND d.removed = 0)"                   \
    "   AS domains_total,"                                                                         \
    " (SELECT count(*) FROM domains d WHERE d.host_id = h.id AND d.removed = 0"                    \
    "   AND d.state = 'running') AS domains_running,"                                              \
    " h.last_seen AS \"t:last_seen\", h.connected_since AS \"t:connected_since\""

static json_object *sq_hosts_query(struct store *st, const char *name_or_id, GError **error)
{
    return list_query(SQ(st), "hosts", error,
                      "SELECT " HOST_COLUMNS " FROM hosts h"
                      " WHERE ?1 IS NULL OR h.name = ?1 OR CAST(h.id AS TEXT) = ?1 ORDER BY h.id",
                      "s", name_or_id);
}

#define VM_COLUMNS                                                                                 \
    "d.uuid, d.name, h.name AS host, d.host_id, d.state, d.state_reason,"                          \
    " d.persistent AS \"b:persistent\", d.autostart AS \"b:autostart\", d.vcpus, d.max_vcpus,"     \
    " d.memory_bytes, d.max_memory_bytes, d.os_type, d.domain_type, d.disks AS \"j:disks\","       \
    " d.nics AS \"j:nics\", d.has_agent AS \"b:has_agent\", d.balloon_model,"                      \
    " d.config_version, d.updated_at AS \"t:updated_at\", d.removed AS \"b:removed\""

static json_object *sq_vms_query(struct store *st, const char *host, int64_t domain_id,
                                 bool with_xml, GError **error)
{
    return list_query(SQ(st), "vms", error,
                      with_xml ? "SELECT " VM_COLUMNS ", v.xml FROM domains d"
                                 " JOIN hosts h ON h.id = d.host_id"
                                 " LEFT JOIN config_versions v ON v.domain_id = d.id"
                                 "  AND v.version = d.config_version"
                                 " WHERE (?1 IS NULL OR h.name = ?1) AND (?2 = 0 OR d.id = ?2)"
                                 "  AND (?2 != 0 OR d.removed = 0) ORDER BY h.id, d.name"
                               : "SELECT " VM_COLUMNS " FROM domains d"
                                 " JOIN hosts h ON h.id = d.host_id"
                                 " WHERE (?1 IS NULL OR h.name = ?1) AND (?2 = 0 OR d.id = ?2)"
                                 "  AND (?2 != 0 OR d.removed = 0) ORDER BY h.id, d.name",
                      "si", host, domain_id);
}

static json_object *sq_pools_query(struct store *st, const char *host, GError **error)
{
    return list_query(SQ(st), "pools", error,
                      "SELECT h.name AS host, p.host_id, p.name, p.uuid, p.state,"
                      " p.capacity AS capacity_bytes, p.allocation AS allocation_bytes,"
                      " p.available AS available_bytes, p.target_path,"
                      " p.updated_at AS \"t:updated_at\""
                      " FROM pools p JOIN hosts h ON h.id = p.host_id"
                      " WHERE ?1 IS NULL OR h.name = ?1 ORDER BY h.id, p.name",
                      "s", host);
}

static json_object *sq_networks_query(struct store *st, const char *host, GError **error)
{
    return list_query(SQ(st), "networks", error,
                      "SELECT h.name AS host, n.host_id, n.name, n.uuid, n.active AS \"b:active\","
                      " n.bridge, n.updated_at AS \"t:updated_at\""
                      " FROM networks n JOIN hosts h ON h.id = n.host_id"
                      " WHERE ?1 IS NULL OR h.name = ?1 ORDER BY h.id, n.name",
                      "s", host);
}

static json_object *sq_changes_query(struct store *st, int64_t domain_id, int limit, GError **error)
{
    return list_query(
        SQ(st), "changes", error,
        "SELECT c.id, d.uuid AS vm_uuid, d.name AS vm_name, h.name AS host,"
        " c.from_version, c.to_version, c.seen_at AS \"t:seen_at\", c.cause, c.actor,"
        " c.audit_id, c.diff"
        " FROM changes c JOIN domains d ON d.id = c.domain_id JOIN hosts h ON h.id = d.host_id"
        " WHERE ?1 = 0 OR c.domain_id = ?1 ORDER BY c.id DESC LIMIT ?2",
        "ii", domain_id, (int64_t)limit);
}

static json_object *sq_audit_query(struct store *st, const char *target_uuid, int limit,
                                   GError **error)
{
    return list_query(SQ(st), "audit", error,
                      "SELECT id, actor, action, target, target_uuid, host, params AS \"j:params\","
                      " started_at AS \"t:started_at\", ended_at AS \"t:ended_at\", result, error"
                      " FROM audit WHERE ?1 IS NULL OR target_uuid = ?1 ORDER BY id DESC LIMIT ?2",
                      "si", target_uuid, (int64_t)limit);
}

static json_object *sq_tokens_query(struct store *st, GError **error)
{
    return list_query(SQ(st), "tokens", error,
                      "SELECT id, name, role, machine_uuid, created_at AS \"t:created_at\","
                      " last_used AS \"t:last_used\" FROM tokens WHERE revoked_at IS NULL"
                      " ORDER BY id",
                      NULL);
}

/* ---- guest-view samples ---- */

static int sq_guest_sample_insert(struct store *st, const struct guest_sample *g,
                                  bool *ret_duplicate, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    sqlite3_stmt *q = prep(
        s->w, error,
        "INSERT OR IGNORE INTO guest_samples(machine_uuid, source, t, received, seq, cpu_count,"
        " cpu_user_ns, cpu_nice_ns, cpu_system_ns, cpu_idle_ns, cpu_iowait_ns, cpu_irq_ns,"
        " cpu_softirq_ns, cpu_steal_ns, mem_total, mem_free, mem_available, mem_cached,"
        " mem_buffers, swap_total, swap_free, swap_in_pages, swap_out_pages, major_faults,"
        " minor_faults, load1_milli, load5_milli, load15_milli, fs_total, fs_used, fs_avail,"
        " disk_read_bytes, disk_write_bytes, disk_reads, disk_writes, net_rx_bytes,"
        " net_tx_bytes, net_rx_packets, net_tx_packets, filesystems, disks, nics, extra)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
        " ?,?,?,?)",
        "ssiiUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUssss", g->machine_uuid, g->source, g->time_us,
        g->received_us, g->seq, g->cpu_count, g->cpu_user_ns, g->cpu_nice_ns, g->cpu_system_ns,
        g->cpu_idle_ns, g->cpu_iowait_ns, g->cpu_irq_ns, g->cpu_softirq_ns, g->cpu_steal_ns,
        g->mem_total, g->mem_free, g->mem_available, g->mem_cached, g->mem_buffers, g->swap_total,
        g->swap_free, g->swap_in_pages, g->swap_out_pages, g->major_faults, g->minor_faults,
        g->load1_milli, g->load5_milli, g->load15_milli, g->fs_total, g->fs_used, g->fs_avail,
        g->disk_read_bytes, g->disk_write_bytes, g->disk_reads, g->disk_writes, g->net_rx_bytes,
        g->net_tx_bytes, g->net_rx_packets, g->net_tx_packets, g->filesystems_json, g->disks_json,
        g->nics_json, g->extra_json);
    int r = step_done(s->w, q, error);
    if (r == 0 && ret_duplicate)
        *ret_duplicate = sqlite3_changes(s->w) == 0;
    return r;
}

static int sq_vm_resolve(struct store *st, const char *ref, GArray *ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    g_autofree char *host = NULL;
    const char *key = ref;
    const char *colon = strchr(ref, ':');

    /* "HOST:NAME" narrows to one host; a bare reference matching a whole
     * name is tried first so names containing ':' still resolve. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!colon)
                break;
            host = g_strndup(ref, (gsize)(colon - ref));
            key = colon + 1;
        }
        sqlite3_stmt *q = prep(s->r, error,
                               "SELECT d.id, d.host_id, d.uuid, d.name, h.name FROM domains d"
                               " JOIN hosts h ON h.id = d.host_id"
                               " WHERE d.removed = 0 AND (lower(d.uuid) = lower(?1) OR d.name = ?1)"
                               " AND (?2 IS NULL OR h.name = ?2) ORDER BY d.host_id",
                               "ss", key, host);
        if (!q)
            return -EIO;
        while (sqlite3_step(q) == SQLITE_ROW) {
            struct store_vm_ref r = {
                .domain_id = sqlite3_column_int64(q, 0),
                .host_id = sqlite3_column_int64(q, 1),
                .uuid = col_text(q, 2),
                .name = col_text(q, 3),
                .host = col_text(q, 4),
            };
            g_array_append_val(ret, r);
        }
        sqlite3_finalize(q);
        if (ret->len)
            break;
    }
    return 0;
}

static void sq_close(struct store *st)
{
    struct store_sqlite *s = SQ(st);
    sqlite3_close_v2(s->w);
    sqlite3_close_v2(s->r);
    g_mutex_clear(&s->wlock);
    g_mutex_clear(&s->rlock);
    g_free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .host_ensure = sq_host_ensure,
    .host_update = sq_host_update,
    .host_set_state = sq_host_set_state,
    .domain_sync = sq_domain_sync,
    .domain_prune = sq_domain_prune,
    .domain_set_state = sq_domain_set_state,
    .pools_replace = sq_pools_replace,
    .networks_replace = sq_networks_replace,
    .audit_begin = sq_audit_begin,
    .audit_end = sq_audit_end,
    .audit_set_target = sq_audit_set_target,
    .token_create = sq_token_create,
    .token_lookup = sq_token_lookup,
    .token_revoke = sq_token_revoke,
    .token_count = sq_token_count,
    .hosts_query = sq_hosts_query,
    .vms_query = sq_vms_query,
    .pools_query = sq_pools_query,
    .networks_query = sq_networks_query,
    .changes_query = sq_changes_query,
    .audit_query = sq_audit_query,
    .tokens_query = sq_tokens_query,
    .guest_sample_insert = sq_guest_sample_insert,
    .vm_resolve = sq_vm_resolve,
    /* sqlite-samples.c */
    .host_round_insert = sq_host_round_insert,
    .view_status_set = sq_view_status_set,
    .view_status_query = sq_view_status_query,
    .samples_maintain = sq_samples_maintain,
    .series_query = sq_series_query,
    /* sqlite-agents.c */
    .agent_enroll = sq_agent_enroll,
    .agent_contact = sq_agent_contact,
    .agents_query = sq_agents_query,
    /* sqlite-reconcile.c */
    .host_samples_recent = sq_host_samples_recent,
    .guest_samples_recent = sq_guest_samples_recent,
    .pool_samples_recent = sq_pool_samples_recent,
    .reconcile_ctx_get = sq_reconcile_ctx_get,
    .reconciled_put = sq_reconciled_put,
    .reconciled_query = sq_reconciled_query,
    .findings_query = sq_findings_query,
};

static int migrate(sqlite3 *db, GError **error)
{
    sqlite3_stmt *q = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);

    int known = (int)G_N_ELEMENTS(migrations);
    if (version > known) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_SCHEMA,
                    "database schema version %d is newer than this kanrid knows (%d); "
                    "refusing to touch it",
                    version, known);
        return -EPROTO;
    }
    for (int v = version; v < known; v++) {
        /* Each step and its version bump commit together, so a crash leaves
         * either the old or the new schema, never half of one. */
        g_autofree char *sql = g_strdup_printf(
            "BEGIN IMMEDIATE; %s; PRAGMA user_version = %d; COMMIT;", migrations[v], v + 1);
        if (exec_sql(db, sql, error) < 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            g_prefix_error(error, "schema migration %d: ", v + 1);
            return -EIO;
        }
    }
    return 0;
}

static sqlite3 *open_one(const char *path, bool readonly, GError **error)
{
    sqlite3 *db = NULL;
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "cannot open %s: %s", path,
                    db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    return db;
}

struct store *store_sqlite_open(const char *path, GError **error)
{
    g_autofree struct store_sqlite *s = g_new0(struct store_sqlite, 1);
    s->base.ops = &sqlite_ops;
    g_mutex_init(&s->wlock);
    g_mutex_init(&s->rlock);

    s->w = open_one(path, false, error);
    if (!s->w)
        return NULL;
    if (exec_sql(s->w,
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                 " PRAGMA foreign_keys = ON;",
                 error) < 0 ||
        migrate(s->w, error) < 0) {
        sqlite3_close_v2(s->w);
        return NULL;
    }
    /* Audit entries still running belong to a previous process that died
     * mid-action: say so rather than leave them running forever. */
    exec_sql(s->w,
             "UPDATE audit SET result = 'error', error = 'interrupted: kanrid stopped before "
             "the action finished', ended_at = started_at WHERE result = 'running'",
             NULL);
    s->r = open_one(path, true, error);
    if (!s->r) {
        sqlite3_close_v2(s->w);
        return NULL;
    }
    return &g_steal_pointer(&s)->base;
}

void store_close(struct store *st)
{
    if (st)
        st->ops->close(st);
}

void store_domain_clear(struct store_domain *d)
{
    g_free(d->uuid);
    g_free(d->name);
    g_free(d->state);
    g_free(d->state_reason);
    g_free(d->os_type);
    g_free(d->domain_type);
    g_free(d->disks_json);
    g_free(d->nics_json);
    g_free(d->balloon_model);
    g_free(d->xml);
    memset(d, 0, sizeof(*d));
}

void store_token_clear(struct store_token *t)
{
    g_free(t->name);
    g_free(t->role);
    g_free(t->machine_uuid);
    memset(t, 0, sizeof(*t));
}

void store_vm_ref_clear(struct store_vm_ref *r)
{
    g_free(r->uuid);
    g_free(r->name);
    g_free(r->host);
    memset(r, 0, sizeof(*r));
}
