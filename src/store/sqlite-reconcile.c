/*
 * SQLite backend, part four: what the engine keeps of its reconciliation
 * stage — findings (written as the lifecycle decided, reconcile/
 * lifecycle.c), the engine state of each VM, and the last view of each VM
 * — and their queries.  See store.h and docs/reconciliation.md.
 */
#include "config.h"

#include "store/sqlite-private.h"

#include "basic/json.h"
#include "basic/util.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>

#define FINDINGS_MAX_LIMIT 1000
#define VIEW_MAX_BYTES     (256 * 1024)

/* ---- findings ---- */

int findings_write(struct db *db, const struct finding_write *f, size_t n, GError **error)
{
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        const struct finding_write *w = &f[i];
        switch (w->op) {
        case FINDING_OPEN:
            r = db_done(db_prep(db, error,
                                "INSERT INTO findings(uuid, host_id, rule, severity, state, since,"
                                " opened, updated, measure, message)"
                                " VALUES (?,?,?,?,'open',?,?,?,?,?)",
                                "sissiiids", w->uuid, w->host_id, w->rule, w->severity, w->since_us,
                                w->at_us, w->at_us, w->measure, w->message),
                        error);
            break;
        case FINDING_UPDATE:
            r = db_done(db_prep(db, error,
                                "UPDATE findings SET severity = ?, measure = ?, message = ?,"
                                " updated = ? WHERE uuid = ? AND rule = ? AND state = 'open'",
                                "sdsiss", w->severity, w->measure, w->message, w->at_us, w->uuid,
                                w->rule),
                        error);
            break;
        case FINDING_CLOSE:
            r = db_done(db_prep(db, error,
                                "UPDATE findings SET state = 'closed', closed = ?1, updated = ?1,"
                                " measure = ?2, message = ?3 WHERE uuid = ?4 AND rule = ?5"
                                " AND state = 'open'",
                                "idsss", w->at_us, w->measure, w->message, w->uuid, w->rule),
                        error);
            break;
        }
    }
    return r;
}

#define FINDING_COLS                                                                               \
    "SELECT f.id, f.uuid, COALESCE(d.name, f.uuid) AS vm, h.name AS host, f.rule, f.severity,"     \
    " f.state, f.since, f.opened, f.closed, f.updated, f.measure, f.message FROM findings f"       \
    " LEFT JOIN hosts h ON h.id = f.host_id"                                                       \
    " LEFT JOIN domains d ON d.host_id = f.host_id AND d.uuid = f.uuid"

struct rows *sq_findings_query(struct store *st, const char *state, const char *rule,
                               const char *uuid, int limit, GError **error)
{
    if (state && g_str_equal(state, "all"))
        state = NULL;
    if (limit <= 0 || limit > FINDINGS_MAX_LIMIT)
        limit = FINDINGS_MAX_LIMIT;
    return query_rows(SQ(st), &finding_row_desc, error,
                      FINDING_COLS
                      " WHERE (?1 IS NULL OR f.state = ?1) AND (?2 IS NULL OR f.rule = ?2)"
                      " AND (?3 IS NULL OR f.uuid = ?3) ORDER BY f.id DESC LIMIT ?4",
                      "sssi", state, rule, uuid, (int64_t)limit);
}

struct rows *sq_findings_open(struct store *st, int64_t host_id, GError **error)
{
    return query_rows(SQ(st), &finding_row_desc, error,
                      FINDING_COLS " WHERE f.host_id = ? AND f.state = 'open' ORDER BY f.id", "i",
                      host_id);
}

/* ---- engine states ---- */

int states_write(struct db *db, const struct store_state_write *w, size_t n, GError **error)
{
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (w[i].state)
            r = db_done(db_prep(db, error,
                                "INSERT INTO reconcile_state(uuid, host_id, t, state)"
                                " VALUES (?,?,?,?)"
                                " ON CONFLICT (uuid) DO UPDATE SET host_id = excluded.host_id, t = "
                                "excluded.t, state = excluded.state",
                                "siis", w[i].uuid, w[i].host_id, w[i].time_us, w[i].state),
                        error);
        else
            r = db_done(
                db_prep(db, error, "DELETE FROM reconcile_state WHERE uuid = ?", "s", w[i].uuid),
                error);
    }
    return r;
}

int sq_states_load(struct store *st, int64_t host_id, GHashTable *ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    struct db_stmt *q = db_prep(s->r, error,
                                "SELECT uuid, state FROM reconcile_state WHERE host_id = ?"
                                " AND state IS NOT NULL",
                                "i", host_id);
    if (!q)
        return -EIO;
    int rc;
    while ((rc = db_step(q, error)) > 0)
        g_hash_table_replace(ret, db_col_strdup(q, 0), db_col_strdup(q, 1));
    db_finalize(q);
    if (rc < 0) {
        g_prefix_error(error, "loading states: ");
        return -EIO;
    }
    return 0;
}

/* ---- kept views ---- */

static json_object *num_or_null(double v)
{
    return isnan(v) ? NULL : json_object_new_double(v);
}

static json_object *age_or_null(int64_t us)
{
    return us >= 0 ? json_object_new_double(round((double)us / 1e5) / 10) : NULL;
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* The kept form of a view: the docs/api.md "resources" shape, which is
 * also what databases of earlier versions hold. */
static char *view_text(const struct vm_view *v)
{
    json_object *o = json_object_new_object();
    json_object *arr = json_object_new_array();
    for (unsigned i = 0; i < v->n_values; i++) {
        const struct view_value *x = &v->values[i];
        json_object *e = json_object_new_object();
        json_object_object_add(e, "resource", str_or_null(x->resource));
        json_object_object_add(e, "unit", str_or_null(x->unit));
        json_object_object_add(e, "h", num_or_null(x->h));
        json_object_object_add(e, "g", num_or_null(x->g));
        json_object_object_add(e, "r", num_or_null(x->r));
        json_object_object_add(e, "provenance", str_or_null(x->provenance));
        json_object_object_add(e, "g_source", str_or_null(x->g_source));
        json_object_object_add(e, "reason", json_object_new_string(x->reason ? x->reason : ""));
        json_object_object_add(e, "h_age_s", age_or_null(x->h_age_us));
        json_object_object_add(e, "g_age_s", age_or_null(x->g_age_us));
        json_object_array_add(arr, e);
    }
    json_object_object_add(o, "resources", arr);
    char *s = g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

int views_write(struct db *db, const struct vm_view *const *v, size_t n, GError **error)
{
    if (n == 0)
        return 0;
    /* In one statement on PostgreSQL: on a shared store every running VM's
     * view is kept every few rounds (docs/scale-out.md).  One view per VM
     * in a round: no key twice in a batch. */
    struct db_batch *b =
        db_batch_new(db, "INSERT INTO reconcile_current(uuid, host_id, t, view)", 4,
                     "ON CONFLICT (uuid) DO UPDATE SET host_id = excluded.host_id,"
                     " t = excluded.t, view = excluded.view",
                     error);
    if (!b)
        return -EIO;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        g_autofree char *text = view_text(v[i]);
        db_batch_bind(b, 1, 's', v[i]->uuid);
        db_batch_bind(b, 2, 'i', (int64_t)v[i]->host_id);
        db_batch_bind(b, 3, 'i', (int64_t)v[i]->time_us);
        db_batch_bind(b, 4, 's', text);
        r = db_batch_row(b, error);
    }
    if (r == 0)
        r = db_batch_flush(b, error);
    db_batch_free(b);
    return r;
}

static const char *member_str(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static double member_num(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return NAN;
    return json_object_get_double(v);
}

/* The text is our own, but a damaged database must not crash a query:
 * entries of the wrong shape are skipped. */
static struct vm_view *view_parse(const char *text, GError **error)
{
    static const struct json_limits lim = {VIEW_MAX_BYTES, 8};
    json_object *root = NULL, *res = NULL;
    if (!text || !json_parse_strict(text, strlen(text), &lim, &root, NULL) ||
        !json_object_object_get_ex(root, "resources", &res) ||
        !json_object_is_type(res, json_type_array)) {
        json_object_put(root);
        g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "kept view is not readable");
        return NULL;
    }
    struct vm_view *v = vm_view_new();
    for (size_t i = 0; i < json_object_array_length(res); i++) {
        json_object *e = json_object_array_get_idx(res, i);
        const char *name = member_str(e, "resource");
        if (!name)
            continue;
        struct view_value *x = vm_view_add(v, name, member_str(e, "unit"));
        if (!x)
            break;
        x->h = member_num(e, "h");
        x->g = member_num(e, "g");
        x->r = member_num(e, "r");
        x->provenance = g_strdup(member_str(e, "provenance"));
        x->g_source = g_strdup(member_str(e, "g_source"));
        x->reason = g_strdup(member_str(e, "reason"));
        double ha = member_num(e, "h_age_s"), ga = member_num(e, "g_age_s");
        x->h_age_us = isnan(ha) ? -1 : llround(ha * 1e6);
        x->g_age_us = isnan(ga) ? -1 : llround(ga * 1e6);
    }
    json_object_put(root);
    return v;
}

int sq_view_get(struct store *st, const char *uuid, struct vm_view **ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    struct db_stmt *q = db_prep(
        s->r, error, "SELECT host_id, t, view FROM reconcile_current WHERE uuid = ?", "s", uuid);
    if (!q)
        return -EIO;
    if (db_step(q, NULL) <= 0) {
        db_finalize(q);
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "no view kept");
        return -ENOENT;
    }
    struct vm_view *v = view_parse(db_col_text(q, 2), error);
    if (v) {
        v->uuid = g_strdup(uuid);
        v->host_id = db_col_i64(q, 0);
        v->time_us = db_col_i64(q, 1);
    }
    db_finalize(q);
    *ret = v;
    return v ? 0 : -EIO;
}

int sq_views_of_hosts(struct store *st, const int64_t *host_ids, size_t n, GPtrArray *ret,
                      GError **error)
{
    if (n == 0)
        return 0;
    struct store_sqlite *s = SQ(st);
    /* The ids are numbers written by us: no quoting to get wrong. */
    g_autoptr(GString) sql =
        g_string_new("SELECT uuid, host_id, t, view FROM reconcile_current WHERE host_id IN (");
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(sql, "%s%" G_GINT64_FORMAT, i ? ", " : "", host_ids[i]);
    g_string_append_c(sql, ')');
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    g_autoptr(db_stmt) q = db_prep(s->r, error, sql->str, NULL);
    if (!q)
        return -EIO;
    int rc;
    while ((rc = db_step(q, error)) > 0) {
        /* One unreadable view does not hide the others. */
        struct vm_view *v = view_parse(db_col_text(q, 3), NULL);
        if (!v)
            continue;
        v->uuid = db_col_strdup(q, 0);
        v->host_id = db_col_i64(q, 1);
        v->time_us = db_col_i64(q, 2);
        g_ptr_array_add(ret, v);
    }
    return rc < 0 ? -EIO : 0;
}
