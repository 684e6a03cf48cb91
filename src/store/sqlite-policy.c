/*
 * The policies' record in SQLite (model/decision.h): decisions with their
 * outcome and observed effect, settings made over the API, pauses, hosts'
 * maintenance mode, and the stored rounds a dry run replays.  Writes what
 * the engine decided (src/policy/, src/engine/); decides nothing.
 */
#include "config.h"

#include "store/sqlite-private.h"

#include "basic/json.h"

#include <errno.h>
#include <string.h>

/* The bounds the API edge parses a ROW_JSON column with (rows-json.c): a
 * text stored here is one the API can serve. */
static const struct json_limits decision_json_limits = {1024 * 1024, 16};

/* 0 binds NULL: ids of 0 mean "none" here. */
static void bind_id(struct db_stmt *q, int i, int64_t v)
{
    db_bind(q, i, 'I', v);
}

/* TEXT (NULL allowed unless REQUIRED) is a JSON object within the API's
 * bounds; false with *error naming WHAT otherwise. */
static bool json_object_ok(const char *text, bool required, const char *what, GError **error)
{
    if (!text) {
        if (required)
            g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID, "decision without %s", what);
        return !required;
    }
    json_object *v = NULL;
    g_autoptr(GError) e = NULL;
    bool ok = json_parse_strict(text, strlen(text), &decision_json_limits, &v, &e);
    if (ok && !json_object_is_type(v, json_type_object)) {
        ok = false;
        g_set_error(&e, STORE_ERROR, STORE_ERROR_INVALID, "not an object");
    }
    json_object_put(v);
    if (!ok)
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID, "decision %s: %s", what,
                    e ? e->message : "not JSON");
    return ok;
}

/* Whether W can be written: every required field there, every JSON text
 * an object.  Checked for the whole batch before anything is written. */
static bool decision_valid(const struct decision_write *w, GError **error)
{
    const struct {
        const char *value, *what;
    } required[] = {
        {w->policy, "a policy"},  {w->mode, "a mode"},     {w->rule, "a rule"},
        {w->action, "an action"}, {w->reason, "a reason"}, {w->state, "a state"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(required); i++) {
        if (!required[i].value || !*required[i].value) {
            g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID, "decision without %s",
                        required[i].what);
            return false;
        }
    }
    if (w->t_us <= 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID, "decision without a time");
        return false;
    }
    return json_object_ok(w->inputs, true, "inputs", error) &&
           json_object_ok(w->params, false, "params", error) &&
           json_object_ok(w->expected, false, "expected", error);
}

/* ---- decisions ---- */

int sq_decisions_insert(struct store *st, const struct decision_write *w, size_t n,
                        int64_t *ret_ids, GError **error)
{
    for (size_t i = 0; i < n; i++) {
        if (!decision_valid(&w[i], error))
            return -EINVAL;
    }
    if (n == 0)
        return 0;
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_begin(s->w, error);
    if (r < 0)
        return r;
    struct db_stmt *q =
        db_prep(s->w, error,
                "INSERT INTO decisions(t, policy, mode, evacuation, vm_uuid, vm_name, host_id,"
                " to_host_id, rule, action, params, inputs, expected, reason, state, audit_id,"
                " error, undo_of) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
                NULL);
    if (!q)
        r = -EIO;
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct decision_write *d = &w[i];
        int k = 1;
        db_bind(q, k++, 'i', (int64_t)d->t_us);
        bind_s(q, k++, d->policy);
        bind_s(q, k++, d->mode);
        db_bind(q, k++, 'b', (int)d->evacuation);
        bind_s(q, k++, d->vm_uuid);
        bind_s(q, k++, d->vm_name);
        bind_id(q, k++, d->host_id);
        bind_id(q, k++, d->to_host_id);
        bind_s(q, k++, d->rule);
        bind_s(q, k++, d->action);
        bind_s(q, k++, d->params);
        bind_s(q, k++, d->inputs);
        bind_s(q, k++, d->expected);
        bind_s(q, k++, d->reason);
        bind_s(q, k++, d->state);
        bind_id(q, k++, d->audit_id);
        bind_s(q, k++, d->error);
        bind_id(q, k++, d->undo_of);
        int64_t id = 0;
        int rc;
        while ((rc = db_step(q, error)) > 0)
            id = db_col_i64(q, 0);
        db_reset(q);
        r = rc < 0 ? -EIO : 0;
        if (r == 0 && ret_ids)
            ret_ids[i] = id;
    }
    db_finalize(q);
    r = db_commit_or_rollback(s->w, r, error);
    if (r < 0 && ret_ids)
        memset(ret_ids, 0, n * sizeof(*ret_ids));
    return r;
}

int sq_decision_insert(struct store *st, const struct decision_write *w, int64_t *ret_id,
                       GError **error)
{
    int64_t id = 0;
    int r = sq_decisions_insert(st, w, 1, &id, error);
    if (ret_id)
        *ret_id = id;
    return r;
}

/* Steps an UPDATE of decision ID on the write connection (held); -ENOENT
 * when it touched no row. */
static int decision_changed(struct store_sqlite *s, struct db_stmt *q, int64_t id, GError **error)
{
    int r = db_done(q, error);
    if (r == 0 && db_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "no decision %" G_GINT64_FORMAT, id);
        return -ENOENT;
    }
    return r;
}

int sq_decision_update(struct store *st, int64_t id, const char *state, int64_t audit_id,
                       const char *error_text, GError **error)
{
    if (!state || !*state) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID, "decision update without a state");
        return -EINVAL;
    }
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return decision_changed(s,
                            db_prep(s->w, error,
                                    "UPDATE decisions SET state = ?1,"
                                    " audit_id = CASE WHEN ?2 = 0 THEN audit_id ELSE ?2 END,"
                                    " error = ?3 WHERE id = ?4",
                                    "sisi", state, audit_id, error_text, id),
                            id, error);
}

int sq_decision_observe(struct store *st, int64_t id, const char *observed_json,
                        const char *verdict, int64_t observed_us, GError **error)
{
    if (!json_object_ok(observed_json, true, "observed", error))
        return -EINVAL;
    if (!verdict || !*verdict) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID, "decision observed without a verdict");
        return -EINVAL;
    }
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return decision_changed(s,
                            db_prep(s->w, error,
                                    "UPDATE decisions SET observed = ?, verdict = ?, observed_t = ?"
                                    " WHERE id = ?",
                                    "ssii", observed_json, verdict, observed_us, id),
                            id, error);
}

#define DECISION_COLS                                                                              \
    "SELECT d.id, d.t AS time, d.policy, d.mode, d.evacuation, d.vm_name AS vm, d.vm_uuid,"        \
    " h.name AS host, h2.name AS to_host, d.rule, d.action, d.params, d.inputs, d.expected,"       \
    " d.reason, d.state, d.audit_id, d.error, d.observed, d.verdict,"                              \
    " d.observed_t AS observed_time, d.undo_of, d.host_id, d.to_host_id"                           \
    " FROM decisions d LEFT JOIN hosts h ON h.id = d.host_id"                                      \
    " LEFT JOIN hosts h2 ON h2.id = d.to_host_id"

struct rows *sq_decisions_query(struct store *st, const struct store_decision_query *q,
                                GError **error)
{
    int limit = q->limit <= 0 || q->limit > STORE_DECISIONS_MAX_LIMIT ? STORE_DECISIONS_MAX_LIMIT
                                                                      : q->limit;
    /* Only the filters given are in the statement, so that SQLite can walk
     * the index of the one that narrows (vm_uuid, policy, t) in id order
     * instead of the whole table.  The values are bound, never spliced. */
    g_autoptr(GString) sql = g_string_new(DECISION_COLS " WHERE 1 = 1");
    if (q->vm_uuid)
        g_string_append(sql, " AND d.vm_uuid = ?1");
    if (q->policy)
        g_string_append(sql, " AND d.policy = ?2");
    if (q->host_id)
        g_string_append(sql, " AND (d.host_id = ?3 OR d.to_host_id = ?3)");
    if (q->action)
        g_string_append(sql, " AND d.action = ?4");
    else if (!q->include_none)
        g_string_append(sql, " AND d.action != 'none'");
    if (q->state)
        g_string_append(sql, " AND d.state = ?5");
    if (q->from_us)
        g_string_append(sql, " AND d.t >= ?6");
    if (q->to_us)
        g_string_append(sql, " AND d.t < ?7");
    if (q->before_id)
        g_string_append(sql, " AND d.id < ?8");
    g_string_append(sql, " ORDER BY d.id DESC LIMIT ?9");
    return query_rows(SQ(st), &decision_row_desc, error, sql->str, "ssissiiii", q->vm_uuid,
                      q->policy, q->host_id, q->action, q->state, q->from_us, q->to_us,
                      q->before_id, (int64_t)limit);
}

struct rows *sq_decision_get(struct store *st, int64_t id, GError **error)
{
    g_autoptr(rows) r =
        query_rows(SQ(st), &decision_row_desc, error, DECISION_COLS " WHERE d.id = ?", "i", id);
    if (r && rows_len(r) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "no decision %" G_GINT64_FORMAT, id);
        return NULL;
    }
    return g_steal_pointer(&r);
}

int sq_decisions_prune(struct store *st, int64_t before_us, unsigned *ret_deleted, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_done(db_prep(s->w, error, "DELETE FROM decisions WHERE t < ? AND state != 'pending'",
                            "i", before_us),
                    error);
    if (ret_deleted)
        *ret_deleted = r == 0 ? (unsigned)db_changes(s->w) : 0;
    return r;
}

/* ---- settings and pauses ---- */

int sq_policy_setting_put(struct store *st, const char *policy, const char *key, const char *value,
                          const char *by, int64_t now_us, GError **error)
{
    if (!policy || !*policy || !key || !*key) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID, "policy setting without %s",
                    !policy || !*policy ? "a policy" : "a key");
        return -EINVAL;
    }
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    if (!value) {
        int r =
            db_done(db_prep(s->w, error, "DELETE FROM policy_settings WHERE policy = ? AND key = ?",
                            "ss", policy, key),
                    error);
        if (r == 0 && db_changes(s->w) == 0) {
            g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "no setting %s of policy %s",
                        key, policy);
            return -ENOENT;
        }
        return r;
    }
    return db_done(db_prep(s->w, error,
                           "INSERT INTO policy_settings(policy, key, value, updated, by)"
                           " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(policy, key)"
                           " DO UPDATE SET value = ?3, updated = ?4, by = ?5",
                           "sssis", policy, key, value, now_us, by),
                   error);
}

struct rows *sq_policy_settings_query(struct store *st, GError **error)
{
    return query_rows(SQ(st), &policy_setting_row_desc, error,
                      "SELECT policy, key, value, updated, by FROM policy_settings"
                      " ORDER BY policy, key",
                      NULL);
}

int sq_policy_pause_put(struct store *st, const char *policy, const char *vm_uuid, int64_t since_us,
                        const char *reason, int64_t decision_id, GError **error)
{
    if (!policy || !*policy || !vm_uuid || !*vm_uuid) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID, "policy pause without %s",
                    !policy || !*policy ? "a policy" : "a VM");
        return -EINVAL;
    }
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return db_done(db_prep(s->w, error,
                           "INSERT INTO policy_pauses(policy, vm_uuid, since, reason,"
                           " decision_id) VALUES (?,?,?,?,?)"
                           " ON CONFLICT (policy, vm_uuid) DO UPDATE SET since = excluded.since, "
                           "reason = excluded.reason, decision_id = excluded.decision_id",
                           "ssisI", policy, vm_uuid, since_us, reason, decision_id),
                   error);
}

int sq_policy_pause_delete(struct store *st, const char *policy, const char *vm_uuid,
                           GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r =
        db_done(db_prep(s->w, error, "DELETE FROM policy_pauses WHERE policy = ? AND vm_uuid = ?",
                        "ss", policy, vm_uuid),
                error);
    if (r == 0 && db_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "policy %s is not paused on %s",
                    policy ? policy : "(none)", vm_uuid ? vm_uuid : "(none)");
        return -ENOENT;
    }
    return r;
}

struct rows *sq_policy_pauses_query(struct store *st, GError **error)
{
    /* A VM that migrated has a row per host it was seen on: the name is
     * the newest one's. */
    return query_rows(SQ(st), &policy_pause_row_desc, error,
                      "SELECT p.policy, p.vm_uuid,"
                      " (SELECT d.name FROM domains d WHERE d.uuid = p.vm_uuid"
                      "  ORDER BY d.updated_at DESC, d.id DESC LIMIT 1) AS vm,"
                      " p.since, p.reason, p.decision_id FROM policy_pauses p"
                      " ORDER BY p.policy, p.vm_uuid",
                      NULL);
}

/* ---- hosts ---- */

int sq_host_maintenance_set(struct store *st, int64_t host_id, bool on, const char *by,
                            const char *reason, int64_t now_us, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_done(db_prep(s->w, error,
                            "UPDATE hosts SET maintenance = ?1,"
                            " maintenance_since = CASE WHEN ?1 <> 0 THEN"
                            "  coalesce(CASE WHEN maintenance <> 0 THEN maintenance_since END, ?2) END,"
                            " maintenance_by = CASE WHEN ?1 <> 0 THEN ?3 END,"
                            " maintenance_reason = CASE WHEN ?1 <> 0 THEN ?4 END"
                            " WHERE id = ?5",
                            "bissi", (int)on, now_us, by, reason, host_id),
                    error);
    if (r == 0 && db_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "no host %" G_GINT64_FORMAT,
                    host_id);
        return -ENOENT;
    }
    return r;
}

/* ---- a dry run's history ---- */

/*
 * One row per reconciled sample in the range, joined with the host view
 * and node figures of the same round.  The three do not share a time: a
 * round's host and node samples carry the round's start (collect.c,
 * round_report.t_us), its reconciled samples the time the engine took the
 * round in (round.c, the batch's now_us), a little later.  The collector
 * calls the engine's sink from its own thread before it starts the next
 * round, so for one host
 *
 *     start(N) <= reconciled(N) < start(N + 1)
 *
 * and the round's host sample of a VM is the newest one of that VM at or
 * before its reconciled time.  So that a round lacking it (a sample
 * missed, or pruned apart) never gets an older round's figures, it must
 * also be newer than the VM's previous reconciled sample on that host,
 * and of that host: the newest sample of the VM being another host's (the
 * round right after a migration, when the old host's round started
 * between the new host's start and its reconciled time) leaves the
 * figures absent rather than take them from the wrong host.  The node
 * sample is the one taken with that host sample (same host, same time);
 * without a host sample, the newest node sample of the host inside the
 * same bounds.  Every lookup is one seek in an index: host_samples(uuid,
 * t) (covering: the wide row is read once, for the chosen sample), the
 * key (uuid, t) of reconciled_samples, the key (host_id, t) of
 * node_samples.
 */
#define REPLAY_SQL                                                                                 \
    "WITH rr AS ("                                                                                 \
    "  SELECT r.host_id, r.uuid, r.t, r.mem_total, r.mem_used, r.mem_swap, r.cpu_demand,"          \
    "   coalesce((SELECT max(p.t) FROM reconciled_samples p WHERE p.uuid = r.uuid"                 \
    "    AND p.host_id = r.host_id AND p.t < r.t), 0) AS prev_t"                                   \
    "  FROM reconciled_samples r"                                                                  \
    "  WHERE r.t >= ?2 AND r.t < ?3 AND (?1 = 0 OR r.host_id = ?1)),"                              \
    " rs AS ("                                                                                     \
    "  SELECT rr.*, (SELECT s.id FROM host_samples s WHERE s.uuid = rr.uuid"                       \
    "    AND s.t <= rr.t AND s.t > rr.prev_t ORDER BY s.t DESC, s.id DESC LIMIT 1) AS hs_id"       \
    "  FROM rr)"                                                                                   \
    " SELECT rs.t, rs.host_id, h.name AS host, rs.uuid AS vm_uuid, d.name AS vm,"                  \
    "  rs.mem_total, rs.mem_used, rs.mem_swap, rs.cpu_demand, s.balloon_current,"                  \
    "  s.balloon_maximum, s.vcpu_count, n.mem_total AS node_mem_total,"                            \
    "  n.mem_free + n.mem_buffers + n.mem_cached AS node_mem_free"                                 \
    " FROM rs LEFT JOIN hosts h ON h.id = rs.host_id"                                              \
    " LEFT JOIN domains d ON d.host_id = rs.host_id AND d.uuid = rs.uuid"                          \
    " LEFT JOIN host_samples s ON s.id = rs.hs_id AND s.host_id = rs.host_id"                      \
    " LEFT JOIN node_samples n ON n.host_id = rs.host_id AND n.t = CASE"                           \
    "  WHEN s.id IS NOT NULL THEN s.t"                                                             \
    "  ELSE (SELECT max(m.t) FROM node_samples m WHERE m.host_id = rs.host_id"                     \
    "   AND m.t <= rs.t AND m.t > rs.prev_t) END"                                                  \
    " ORDER BY rs.t, rs.host_id, rs.uuid LIMIT ?4"

struct rows *sq_policy_replay_query(struct store *st, int64_t host_id, int64_t from_us,
                                    int64_t to_us, unsigned limit, GError **error)
{
    struct store_sqlite *s = SQ(st);
    if (limit == 0 || limit > STORE_REPLAY_MAX_ROWS)
        limit = STORE_REPLAY_MAX_ROWS;
    /* A bound rather than "?3 = 0 OR": SQLite then walks the time index
     * over the range only, not to its end. */
    int64_t to = to_us ? to_us : G_MAXINT64;
    g_autoptr(rows) r = NULL;
    /* A replay reads up to STORE_REPLAY_MAX_ROWS rows, about a second's
     * work at that size (bench: 200 VMs x 1000 rounds): it reads on a
     * connection of its own, opened for the call, rather than hold the
     * shared read connection every API read waits for (rlock).  A
     * database without a file reads on the shared one. */
    struct db *db = sq_reader_open(s);
    if (db) {
        r = rows_new(&replay_row_desc);
        struct db_stmt *q =
            db_prep(db, error, REPLAY_SQL, "iiii", host_id, from_us, to, (int64_t)limit + 1);
        if (read_rows(q, r, error) < 0)
            g_clear_pointer(&r, rows_free);
        db_close(db);
    } else {
        r = query_rows(s, &replay_row_desc, error, REPLAY_SQL, "iiii", host_id, from_us, to,
                       (int64_t)limit + 1);
    }
    if (r && rows_len(r) > limit) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID,
                    "more than %u rows of history to replay; narrow the time range or the hosts",
                    limit);
        return NULL;
    }
    return g_steal_pointer(&r);
}
