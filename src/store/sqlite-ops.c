/*
 * The operations record in SQLite: events, incidents and their log,
 * problems, maintenance windows, API rules and the notification outbox.
 * Writes what the engine decided (src/ops/); decides nothing.
 */
#include "config.h"

#include "store/sqlite-private.h"

#include "basic/util.h"

#include <errno.h>
#include <string.h>

#define OPS_MAX_LIMIT 10000

/* 0 binds NULL: ids and times of 0 mean "none" here. */
static void bind_t(struct db_stmt *q, int i, int64_t v)
{
    db_bind(q, i, 'I', v);
}

static int64_t col_i(struct db_stmt *q, int i)
{
    return db_col_null(q, i) ? 0 : db_col_i64(q, i);
}

/* ---- writes ---- */

static int write_events(struct db *db, struct event *const *v, size_t n, GError **error)
{
    if (!n)
        return 0;
    struct db_stmt *q = db_prep(db, error,
                                "INSERT INTO events(id, t, item, item_name, host, kind, condition,"
                                " problem, severity, message, incident_id, maintenance_id)"
                                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                                NULL);
    if (!q)
        return -EIO;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct event *e = v[i];
        db_bind(q, 1, 'i', (int64_t)e->id);
        db_bind(q, 2, 'i', (int64_t)e->t_us);
        /* One event without words must not roll back its whole batch. */
        bind_s(q, 3, e->item ? e->item : "kanrid");
        bind_s(q, 4, e->item_name);
        bind_s(q, 5, e->host);
        bind_s(q, 6, e->kind ? e->kind : "unknown");
        bind_s(q, 7, e->condition);
        db_bind(q, 8, 'b', (int)e->problem);
        bind_s(q, 9, severity_name(e->severity));
        bind_s(q, 10, e->message ? e->message : "");
        bind_t(q, 11, e->incident_id);
        bind_t(q, 12, e->maintenance_id);
        r = step_reset(q, error);
    }
    db_finalize(q);
    return r;
}

static int write_incidents(struct db *db, struct incident *const *v, size_t n, GError **error)
{
    if (!n)
        return 0;
    struct db_stmt *q = db_prep(
        db, error,
        "INSERT INTO incidents(id, condition, item, item_name, host, severity, state,"
        " title, opened, updated, acknowledged, acknowledged_by, resolved, resolved_by,"
        " clear_since, last_event, flaps, n_events, seq, problem_id)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (id) DO UPDATE SET condition = excluded.condition, item = excluded.item, "
        "item_name = excluded.item_name, host = excluded.host, severity = excluded.severity, state "
        "= excluded.state, title = excluded.title, opened = excluded.opened, updated = "
        "excluded.updated, acknowledged = excluded.acknowledged, acknowledged_by = "
        "excluded.acknowledged_by, resolved = excluded.resolved, resolved_by = "
        "excluded.resolved_by, clear_since = excluded.clear_since, last_event = "
        "excluded.last_event, flaps = excluded.flaps, n_events = excluded.n_events, seq = "
        "excluded.seq, problem_id = excluded.problem_id",
        NULL);
    struct db_stmt *qi = q ? db_prep(db, error,
                                     "INSERT INTO incident_items(incident_id, item, name)"
                                     " VALUES (?,?,?) ON CONFLICT DO NOTHING",
                                     NULL)
                           : NULL;
    if (!qi) {
        db_finalize(q);
        return -EIO;
    }
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct incident *x = v[i];
        int k = 1;
        db_bind(q, k++, 'i', (int64_t)x->id);
        bind_s(q, k++, x->condition);
        bind_s(q, k++, x->item);
        bind_s(q, k++, x->item_name);
        bind_s(q, k++, x->host);
        bind_s(q, k++, severity_name(x->severity));
        bind_s(q, k++, incident_state_name(x->state));
        bind_s(q, k++, x->title);
        db_bind(q, k++, 'i', (int64_t)x->opened_us);
        db_bind(q, k++, 'i', (int64_t)(x->updated_us ? x->updated_us : x->opened_us));
        bind_t(q, k++, x->acknowledged_us);
        bind_s(q, k++, x->acknowledged_by);
        bind_t(q, k++, x->resolved_us);
        bind_s(q, k++, x->resolved_by);
        bind_t(q, k++, x->clear_since_us);
        bind_t(q, k++, x->last_event_us);
        db_bind(q, k++, 'i', (int64_t)x->flaps);
        db_bind(q, k++, 'i', (int64_t)x->n_events);
        db_bind(q, k++, 'i', (int64_t)x->seq);
        bind_t(q, k++, x->problem_id);
        r = step_reset(q, error);
        /* The affected list only grows: INSERT OR IGNORE keeps a write
         * of 100 affected VMs per round from rewriting them all. */
        for (guint j = 0; j < x->affected->len && r == 0; j++) {
            const struct item_ref *a = g_ptr_array_index(x->affected, j);
            db_bind(qi, 1, 'i', (int64_t)x->id);
            bind_s(qi, 2, a->item);
            bind_s(qi, 3, a->name);
            r = step_reset(qi, error);
        }
    }
    db_finalize(q);
    db_finalize(qi);
    return r;
}

static int write_changes(struct db *db, const struct incident_change *v, size_t n, GError **error)
{
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct incident_change *c = &v[i];
        r = db_done(db_prep(db, error,
                            "INSERT INTO incident_log(incident_id, seq, t, what, by,"
                            " comment) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                            "iiisss", c->incident_id, (int64_t)c->seq, c->at_us,
                            incident_transition_name(c->what), c->by, c->comment),
                    error);
    }
    return r;
}

static int write_deliveries(struct db *db, const struct delivery *v, size_t n, GError **error)
{
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct delivery *d = &v[i];
        /* A key already queued (the same transition written again after
         * a restart) stays as it is: one delivery per transition. */
        r = db_done(db_prep(db, error,
                            "INSERT INTO outbox(route, key, incident_id, payload, created,"
                            " next_try) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                            "ssisii", d->route, d->key, d->incident_id, d->payload, d->created_us,
                            d->next_try_us),
                    error);
    }
    return r;
}

static int put_problem(struct db *db, const struct problem *p, GError **error)
{
    return db_done(
        db_prep(db, error,
                "INSERT INTO problems(id, title, state, root_cause,"
                " known_error, workaround, suggested, condition, item, created, updated,"
                " created_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (id) DO UPDATE SET title = excluded.title, state = excluded.state, "
                "root_cause = excluded.root_cause, known_error = excluded.known_error, workaround "
                "= excluded.workaround, suggested = excluded.suggested, condition = "
                "excluded.condition, item = excluded.item, created = excluded.created, updated = "
                "excluded.updated, created_by = excluded.created_by",
                "isssssbssiis", p->id, p->title, p->state, p->root_cause, p->known_error,
                p->workaround, (int)p->suggested, p->condition, p->item, p->created_us,
                p->updated_us, p->created_by),
        error);
}

int sq_ops_write(struct store *st, const struct store_ops_write *w, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_begin(s->w, error);
    if (r < 0)
        return r;
    for (size_t i = 0; i < w->n_problems && r == 0; i++)
        r = put_problem(s->w, w->problems[i], error);
    if (r == 0)
        r = write_incidents(s->w, w->incidents, w->n_incidents, error);
    if (r == 0)
        r = write_events(s->w, w->events, w->n_events, error);
    if (r == 0)
        r = write_changes(s->w, w->changes, w->n_changes, error);
    if (r == 0)
        r = write_deliveries(s->w, w->deliveries, w->n_deliveries, error);
    return db_commit_or_rollback(s->w, r, error);
}

/* ---- the engine's start ---- */

static struct incident *read_incident(struct db_stmt *q)
{
    struct incident *x = incident_new();
    int k = 0;
    x->id = db_col_i64(q, k++);
    x->condition = db_col_strdup(q, k++);
    x->item = db_col_strdup(q, k++);
    x->item_name = db_col_strdup(q, k++);
    x->host = db_col_strdup(q, k++);
    g_autofree char *sev = db_col_strdup(q, k++), *state = db_col_strdup(q, k++);
    severity_parse(sev, &x->severity);
    incident_state_parse(state, &x->state);
    x->title = db_col_strdup(q, k++);
    x->opened_us = col_i(q, k++);
    x->updated_us = col_i(q, k++);
    x->acknowledged_us = col_i(q, k++);
    x->acknowledged_by = db_col_strdup(q, k++);
    x->resolved_us = col_i(q, k++);
    x->resolved_by = db_col_strdup(q, k++);
    x->clear_since_us = col_i(q, k++);
    x->last_event_us = col_i(q, k++);
    x->flaps = (unsigned)col_i(q, k++);
    x->n_events = (unsigned)col_i(q, k++);
    x->seq = (unsigned)col_i(q, k++);
    x->problem_id = col_i(q, k++);
    return x;
}

static int64_t max_id(struct db *db, const char *table)
{
    g_autofree char *sql = g_strdup_printf("SELECT COALESCE(MAX(id), 0) FROM %s", table);
    struct db_stmt *q = db_prep(db, NULL, sql, NULL);
    int64_t v = 0;
    if (q && db_step(q, NULL) > 0)
        v = db_col_i64(q, 0);
    db_finalize(q);
    return v;
}

int sq_ops_load(struct store *st, int64_t since_us, const char *host, struct store_ops_state *ret,
                GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    ret->incidents = g_ptr_array_new_with_free_func((GDestroyNotify)incident_free);
    ret->suggested = g_ptr_array_new_with_free_func((GDestroyNotify)problem_free);
    struct db_stmt *q =
        db_prep(s->r, error,
                "SELECT id, condition, item, item_name, host, severity, state, title,"
                " opened, updated, acknowledged, acknowledged_by, resolved, resolved_by,"
                " clear_since, last_event, flaps, n_events, seq, problem_id"
                " FROM incidents WHERE (state != 'resolved' OR resolved >= ?1)"
                " AND (?2 IS NULL OR host = ?2 OR item = 'host:' || ?2) ORDER BY id",
                "is", since_us, host);
    if (!q)
        return -EIO;
    int rc;
    while ((rc = db_step(q, error)) > 0)
        g_ptr_array_add(ret->incidents, read_incident(q));
    db_finalize(q);
    if (rc < 0) {
        g_prefix_error(error, "loading incidents: ");
        return -EIO;
    }
    struct db_stmt *qa =
        db_prep(s->r, error, "SELECT item, name FROM incident_items WHERE incident_id = ?", NULL);
    if (!qa)
        return -EIO;
    for (guint i = 0; i < ret->incidents->len; i++) {
        struct incident *x = g_ptr_array_index(ret->incidents, i);
        db_bind(qa, 1, 'i', (int64_t)x->id);
        while (db_step(qa, NULL) > 0) {
            g_autofree char *item = db_col_strdup(qa, 0), *name = db_col_strdup(qa, 1);
            incident_add_affected(x, item, name);
        }
        db_reset(qa);
    }
    db_finalize(qa);
    q = db_prep(
        s->r, error,
        "SELECT id, condition, item FROM problems WHERE suggested = 1 AND state != 'closed'", NULL);
    if (!q)
        return -EIO;
    while (db_step(q, NULL) > 0) {
        struct problem *p = g_new0(struct problem, 1);
        p->id = db_col_i64(q, 0);
        p->condition = db_col_strdup(q, 1);
        p->item = db_col_strdup(q, 2);
        g_ptr_array_add(ret->suggested, p);
    }
    db_finalize(q);
    ret->max_event_id = max_id(s->r, "events");
    ret->max_incident_id = max_id(s->r, "incidents");
    ret->max_problem_id = max_id(s->r, "problems");
    return 0;
}

/* ---- queries ---- */

struct rows *sq_events_query(struct store *st, const struct store_event_query *q,
                                    GError **error)
{
    int limit = q->limit <= 0 || q->limit > OPS_MAX_LIMIT ? OPS_MAX_LIMIT : q->limit;
    g_autofree char *kind_like = NULL;
    bool prefix = q->kind && g_str_has_suffix(q->kind, ".");
    if (prefix)
        kind_like = g_strconcat(q->kind, "%", NULL);
    return query_rows(
        SQ(st), &event_row_desc, error,
        "SELECT id, t, item, item_name, host, kind, condition, problem, severity, message,"
        " incident_id, maintenance_id FROM events"
        " WHERE (?1 = 0 OR t >= ?1) AND (?2 = 0 OR t < ?2) AND (?3 IS NULL OR item = ?3)"
        " AND (?4 IS NULL OR kind = ?4) AND (?5 IS NULL OR kind LIKE ?5)"
        " AND (CASE severity WHEN 'info' THEN 0 WHEN 'warning' THEN 1 WHEN 'major' THEN 2"
        "      ELSE 3 END) >= ?6"
        " AND (?7 = 0 OR incident_id = ?7) AND (?8 = 0 OR id < ?8)"
        " ORDER BY id DESC LIMIT ?9",
        "iisssiiii", q->from_us, q->to_us, q->item, prefix ? NULL : q->kind, kind_like,
        (int64_t)q->min_severity, q->incident_id, q->before_id, (int64_t)limit);
}

#define INCIDENT_COLS                                                                              \
    "SELECT i.id, i.condition, i.item, i.item_name, i.host, i.severity, i.state, i.title,"         \
    " i.opened, i.updated, i.acknowledged, i.acknowledged_by, i.resolved, i.resolved_by,"          \
    " i.clear_since, i.last_event, i.flaps, i.n_events AS events, i.seq, i.problem_id"             \
    " FROM incidents i"

struct rows *sq_incidents_query(struct store *st, const struct store_incident_query *q,
                                       GError **error)
{
    int limit = q->limit <= 0 || q->limit > OPS_MAX_LIMIT ? OPS_MAX_LIMIT : q->limit;
    return query_rows(
        SQ(st), &incident_row_desc, error,
        INCIDENT_COLS
        " WHERE (?1 = 0 OR i.id = ?1)"
        " AND (?2 IS NULL OR i.state = ?2 OR (?2 = 'open' AND i.state = 'acknowledged'))"
        " AND (CASE i.severity WHEN 'info' THEN 0 WHEN 'warning' THEN 1 WHEN 'major' THEN 2"
        "      ELSE 3 END) >= ?3"
        " AND (?4 IS NULL OR i.item = ?4 OR EXISTS (SELECT 1 FROM incident_items a"
        "      WHERE a.incident_id = i.id AND a.item = ?4))"
        " AND (?5 IS NULL OR i.condition = ?5) AND (?6 = 0 OR i.problem_id = ?6)"
        " AND (?7 = 0 OR i.id < ?7) ORDER BY i.id DESC LIMIT ?8",
        "isissiii", q->id, q->state, (int64_t)q->min_severity, q->item, q->condition,
        q->problem_id, q->before_id, (int64_t)limit);
}

struct rows *sq_incident_items(struct store *st, int64_t id, GError **error)
{
    return query_rows(SQ(st), &incident_item_row_desc, error,
                      "SELECT item, name FROM incident_items WHERE incident_id = ? ORDER BY item",
                      "i", id);
}

struct rows *sq_incident_log(struct store *st, int64_t id, GError **error)
{
    return query_rows(SQ(st), &incident_log_row_desc, error,
                      "SELECT seq, t, what, by, comment FROM incident_log WHERE incident_id = ?"
                      " ORDER BY t, id",
                      "i", id);
}

int sq_incident_comment(struct store *st, int64_t id, const char *author, const char *text,
                               int64_t now_us, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_done(db_prep(s->w, error,
                            "INSERT INTO incident_log(incident_id, seq, t, what, by, comment)"
                            " SELECT id, NULL, ?, 'comment', ?, ? FROM incidents WHERE id = ?",
                            "issi", now_us, author, text, id),
                    error);
    if (r == 0 && db_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "no incident %" G_GINT64_FORMAT, id);
        return -ENOENT;
    }
    return r;
}

struct rows *sq_change_refs(struct store *st, const char *const *uuids, size_t n,
                                   int64_t from_us, int64_t to_us, GError **error)
{
    /* The uuids go in as one JSON array: no SQL built from input. */
    g_autoptr(GString) list = g_string_new("[");
    for (size_t i = 0; i < n; i++) {
        if (!uuid_is_valid(uuids[i]))
            continue;
        g_string_append_printf(list, "%s\"%s\"", list->len > 1 ? "," : "", uuids[i]);
    }
    g_string_append_c(list, ']');
    /* The strings of the JSON array ?1, in each dialect. */
    const char *in = db_kind(SQ(st)->r) == DB_PG
                         ? "SELECT jsonb_array_elements_text(CAST(?1 AS jsonb))"
                         : "SELECT value FROM json_each(?1)";
    g_autofree char *sql = g_strdup_printf(
        "SELECT * FROM ("
        " SELECT c.id, c.seen_at AS t, d.uuid, d.name, 'change' AS source, c.cause, c.actor,"
        "  CASE WHEN c.from_version > 0 THEN 'version ' || c.from_version || ' -> '"
        "  || c.to_version ELSE 'version ' || c.to_version END"
        "  || CASE WHEN c.track = 'persistent' THEN ' of the persistent definition' ELSE '' END"
        "  AS summary, c.pending AS pending, NULLIF(c.diff, '') AS diff"
        "  FROM changes c JOIN domains d ON d.id = c.domain_id"
        "  WHERE d.uuid IN (%s) AND (c.seen_at >= ?2 OR c.pending = 1)"
        "  AND c.seen_at <= ?3"
        " UNION ALL"
        " SELECT a.id, a.started_at AS t, a.target_uuid, a.target, 'action', a.action, a.actor,"
        "  a.action || ' ' || a.result || COALESCE(': ' || a.error, ''), 0, NULL"
        "  FROM audit a WHERE a.target_uuid IN (%s)"
        "  AND a.started_at >= ?2 AND a.started_at <= ?3"
        ") AS refs ORDER BY t DESC, id DESC LIMIT 200",
        in, in);
    return query_rows(SQ(st), &change_ref_row_desc, error, sql, "sii", list->str, from_us, to_us);
}

/* ---- problems ---- */

struct rows *sq_problems_query(struct store *st, int64_t id, GError **error)
{
    return query_rows(SQ(st), &problem_row_desc, error,
                      "SELECT p.id, p.title, p.state, p.root_cause, p.known_error, p.workaround,"
                      " p.suggested, p.condition, p.item, p.created, p.updated, p.created_by,"
                      " (SELECT COUNT(*) FROM incidents i WHERE i.problem_id = p.id) AS incidents"
                      " FROM problems p WHERE ?1 = 0 OR p.id = ?1 ORDER BY p.id DESC LIMIT 1000",
                      "i", id);
}

int sq_problem_put(struct store *st, const struct problem *p, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return put_problem(s->w, p, error);
}

int sq_incident_set_problem(struct store *st, int64_t id, int64_t problem_id,
                                   GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    struct db_stmt *q = db_prep(s->w, error, "UPDATE incidents SET problem_id = ? WHERE id = ?",
                                "Ii", problem_id, id);
    int r = db_done(q, error);
    if (r == 0 && db_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "no incident %" G_GINT64_FORMAT, id);
        return -ENOENT;
    }
    return r;
}

/* ---- maintenance ---- */

struct rows *sq_maintenance_query(struct store *st, int64_t now_us, GError **error)
{
    return query_rows(SQ(st), &maintenance_row_desc, error,
                      "SELECT id, scope, from_t AS \"from\", to_t AS \"to\", who, why, created,"
                      " (from_t <= ?1 AND to_t > ?1) AS active FROM maintenance"
                      " ORDER BY from_t DESC, id DESC LIMIT 1000",
                      "i", now_us);
}

int sq_maintenance_load(struct store *st, int64_t now_us, GPtrArray *ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    struct db_stmt *q = db_prep(s->r, error,
                                "SELECT id, scope, from_t, to_t, who, why, created FROM maintenance"
                                " WHERE to_t > ? ORDER BY id",
                                "i", now_us);
    if (!q)
        return -EIO;
    while (db_step(q, NULL) > 0) {
        struct maintenance *m = g_new0(struct maintenance, 1);
        m->id = db_col_i64(q, 0);
        m->scope = db_col_strdup(q, 1);
        m->from_us = db_col_i64(q, 2);
        m->to_us = db_col_i64(q, 3);
        m->who = db_col_strdup(q, 4);
        m->why = db_col_strdup(q, 5);
        m->created_us = db_col_i64(q, 6);
        g_ptr_array_add(ret, m);
    }
    db_finalize(q);
    return 0;
}

int sq_maintenance_add(struct store *st, const struct maintenance *m, int64_t *ret_id,
                              GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return step_id(db_prep(s->w, error,
                           "INSERT INTO maintenance(scope, from_t, to_t, who, why, created)"
                           " VALUES (?,?,?,?,?,?) RETURNING id",
                           "siissi", m->scope, m->from_us, m->to_us, m->who, m->why, m->created_us),
                   ret_id, error);
}

static int delete_by(struct store_sqlite *s, const char *sql, const char *fmt, const void *key,
                     const char *what, GError **error)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    struct db_stmt *q = fmt[0] == 'i' ? db_prep(s->w, error, sql, "i", *(const int64_t *)key)
                                      : db_prep(s->w, error, sql, "s", (const char *)key);
    int r = db_done(q, error);
    if (r == 0 && db_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "no such %s", what);
        return -ENOENT;
    }
    return r;
}

int sq_maintenance_delete(struct store *st, int64_t id, GError **error)
{
    return delete_by(SQ(st), "DELETE FROM maintenance WHERE id = ?", "i", &id,
                     "maintenance window", error);
}

/* ---- rules ---- */

int sq_rules_load(struct store *st, GPtrArray *ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    struct db_stmt *q = db_prep(s->r, error,
                                "SELECT id, name, kind, metric, view, op, value, for_us, severity,"
                                " scope, enabled FROM rules ORDER BY name",
                                NULL);
    if (!q)
        return -EIO;
    while (db_step(q, NULL) > 0) {
        struct alert_rule *r = alert_rule_new();
        r->id = db_col_i64(q, 0);
        r->name = db_col_strdup(q, 1);
        g_autofree char *kind = db_col_strdup(q, 2), *sev = db_col_strdup(q, 8);
        rule_kind_parse(kind, &r->kind);
        r->metric = db_col_strdup(q, 3);
        r->view = db_col_strdup(q, 4);
        r->op = db_col_strdup(q, 5);
        r->value = db_col_double(q, 6);
        r->for_us = db_col_i64(q, 7);
        severity_parse(sev, &r->severity);
        r->scope = db_col_strdup(q, 9);
        r->enabled = db_col_i64(q, 10) != 0;
        r->origin = g_strdup("api");
        g_ptr_array_add(ret, r);
    }
    db_finalize(q);
    return 0;
}

int sq_rule_put(struct store *st, const struct alert_rule *r, int64_t *ret_id,
                       GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int rc = db_done(
        db_prep(s->w, error,
                "INSERT INTO rules(name, kind, metric, view, op, value, for_us, severity, scope,"
                " enabled) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
                " ON CONFLICT(name) DO UPDATE SET kind = ?2, metric = ?3, view = ?4, op = ?5,"
                " value = ?6, for_us = ?7, severity = ?8, scope = ?9, enabled = ?10",
                "sssssdissb", r->name, rule_kind_name(r->kind), r->metric, r->view, r->op, r->value,
                r->for_us, severity_name(r->severity), r->scope ? r->scope : "all",
                (int)r->enabled),
        error);
    if (rc == 0 && ret_id) {
        struct db_stmt *q =
            db_prep(s->w, NULL, "SELECT id FROM rules WHERE name = ?", "s", r->name);
        if (q && db_step(q, NULL) > 0)
            *ret_id = db_col_i64(q, 0);
        db_finalize(q);
    }
    return rc;
}

int sq_rule_delete(struct store *st, const char *name, GError **error)
{
    return delete_by(SQ(st), "DELETE FROM rules WHERE name = ?", "s", name, "rule", error);
}

/* ---- the outbox ---- */

int sq_outbox_due(struct store *st, int64_t now_us, unsigned limit, GArray *ret,
                         GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    struct db_stmt *q =
        db_prep(s->r, error,
                "SELECT id, route, key, incident_id, payload, created, next_try, attempts"
                " FROM outbox WHERE state = 'pending' AND next_try <= ?"
                " ORDER BY next_try, id LIMIT ?",
                "ii", now_us, (int64_t)limit);
    if (!q)
        return -EIO;
    while (db_step(q, NULL) > 0) {
        struct delivery d = {
            .id = db_col_i64(q, 0),
            .route = db_col_strdup(q, 1),
            .key = db_col_strdup(q, 2),
            .incident_id = col_i(q, 3),
            .payload = db_col_strdup(q, 4),
            .created_us = db_col_i64(q, 5),
            .next_try_us = db_col_i64(q, 6),
            .attempts = (unsigned)db_col_i64(q, 7),
        };
        g_array_append_val(ret, d);
    }
    db_finalize(q);
    return 0;
}

int sq_outbox_done(struct store *st, int64_t id, const char *state, const char *error_text,
                          int64_t next_try_us, int64_t now_us, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    /* "held": put off (a rate limit), not tried: no attempt is counted. */
    bool held = g_strcmp0(state, "held") == 0;
    bool final = !held && g_strcmp0(state, "pending") != 0;
    return db_done(db_prep(s->w, error,
                           "UPDATE outbox SET state = ?, last_error = ?, next_try = ?,"
                           " attempts = attempts + ?, done = ? WHERE id = ?",
                           "ssiiIi", held ? "pending" : state, error_text, next_try_us,
                           (int64_t)!held, final ? now_us : 0, id),
                   error);
}

struct rows *sq_outbox_query(struct store *st, int64_t incident_id, int limit,
                                    GError **error)
{
    if (limit <= 0 || limit > OPS_MAX_LIMIT)
        limit = OPS_MAX_LIMIT;
    return query_rows(SQ(st), &delivery_row_desc, error,
                      "SELECT id, route, key, incident_id, created, next_try, attempts, state,"
                      " last_error, done FROM outbox WHERE ?1 = 0 OR incident_id = ?1"
                      " ORDER BY id DESC LIMIT ?2",
                      "ii", incident_id, (int64_t)limit);
}

int sq_events_prune(struct store *st, int64_t before_us, unsigned *ret_deleted,
                           GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_done(db_prep(s->w, error, "DELETE FROM events WHERE t < ?", "i", before_us), error);
    unsigned n = r == 0 ? (unsigned)db_changes(s->w) : 0;
    if (r == 0)
        r = db_done(db_prep(s->w, error, "DELETE FROM outbox WHERE state != 'pending' AND done < ?",
                            "i", before_us),
                    error);
    if (ret_deleted)
        *ret_deleted = n;
    return r;
}
