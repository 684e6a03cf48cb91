/*
 * Change requests in the store (model/change_request.h, both backends):
 * a request and its VMs added together, its state moved only from the
 * state the caller saw (two approvers, or an approver and the executor,
 * cannot both win), and each VM's outcome.  Decides nothing: the rules are
 * src/provision/change.c, the execution src/engine/change.c.
 */
#include "config.h"

#include "store/sqlite-private.h"

#include <errno.h>

int sq_change_request_add(struct store *st, const struct change_request_row *c,
                          const struct change_vm_row *vms, size_t n, int64_t *ret_id,
                          GError **error)
{
    if (!c->reason || !c->actions || !c->risk || !c->requester || n == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID,
                    "a change request needs a reason, actions, a risk, a requester and VMs");
        return -EINVAL;
    }
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_begin(s->w, error);
    if (r < 0)
        return r;
    g_autoptr(db_stmt) q = db_prep(
        s->w, error,
        "INSERT INTO change_requests(state, reason, risk, window_from, window_to, actions,"
        " canary, batch, guest_fresh_s, check_timeout_s, requester, requester_token, created,"
        " updated) VALUES ('draft',?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
        "ssIIsbiiisiii", c->reason, c->risk, c->window_from, c->window_to, c->actions,
        (int)c->canary, c->batch, c->guest_fresh_s, c->check_timeout_s, c->requester,
        c->requester_token, c->created, c->created);
    if (!q || db_step(q, error) <= 0)
        r = -EIO;
    else
        *ret_id = db_col_i64(q, 0);
    g_clear_pointer(&q, db_finalize);
    for (size_t i = 0; i < n && r == 0; i++)
        r = db_done(db_prep(s->w, error,
                            "INSERT INTO change_request_vms(request_id, seq, uuid, vm, host_id,"
                            " batch, state, updated) VALUES (?,?,?,?,?,?,'pending',?)",
                            "iissiii", *ret_id, (int64_t)i, vms[i].uuid, vms[i].vm, vms[i].host_id,
                            vms[i].batch, c->created),
                    error);
    return db_commit_or_rollback(s->w, r, error);
}

#define REQUEST_COLS                                                                               \
    "SELECT id, state, reason, risk, window_from, window_to, actions, canary, batch,"              \
    " guest_fresh_s, check_timeout_s, requester, requester_token, approver, approver_token,"       \
    " created, updated, started, ended, error FROM change_requests"

struct rows *sq_change_requests_query(struct store *st, int64_t id, const char *const *states,
                                      GError **error)
{
    if (id)
        return query_rows(SQ(st), &change_request_row_desc, error, REQUEST_COLS " WHERE id = ?",
                          "i", id);
    if (!states)
        return query_rows(SQ(st), &change_request_row_desc, error,
                          REQUEST_COLS " ORDER BY id DESC LIMIT 1000", NULL);
    /* A few states at most: the executor's "approved, scheduled, running". */
    g_autoptr(GString) sql = g_string_new(REQUEST_COLS " WHERE state IN (");
    for (size_t i = 0; states[i]; i++) {
        g_autofree char *lit = g_strdup_printf("%s'%s'", i ? "," : "", states[i]);
        for (const char *p = states[i]; *p; p++)
            g_return_val_if_fail(g_ascii_isalpha(*p) || *p == '-', NULL);
        g_string_append(sql, lit);
    }
    g_string_append(sql, ") ORDER BY id");
    return query_rows(SQ(st), &change_request_row_desc, error, sql->str, NULL);
}

struct rows *sq_change_vms_query(struct store *st, int64_t request_id, GError **error)
{
    return query_rows(SQ(st), &change_vm_row_desc, error,
                      "SELECT v.request_id, v.seq, v.uuid, v.vm, v.host_id, h.name AS host,"
                      " v.batch, v.state, v.saved, v.saved_xml, v.result, v.audit_ids, v.updated"
                      " FROM change_request_vms v LEFT JOIN hosts h ON h.id = v.host_id"
                      " WHERE v.request_id = ? ORDER BY v.seq",
                      "i", request_id);
}

int sq_change_request_move(struct store *st, int64_t id, const char *from, const char *to,
                           const struct change_request_update *u, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_done(
        db_prep(s->w, error,
                "UPDATE change_requests SET state = ?, updated = ?,"
                " approver = coalesce(?, approver), approver_token = coalesce(?, approver_token),"
                " started = coalesce(?, started), ended = coalesce(?, ended),"
                " error = coalesce(?, error) WHERE id = ? AND state = ?",
                "sisIIIsis", to, u->now, u->approver, u->approver ? u->approver_token : 0,
                u->started, u->ended, u->error, id, from),
        error);
    if (r == 0 && db_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND,
                    "change request %" G_GINT64_FORMAT " is no longer %s", id, from);
        return -ESTALE;
    }
    return r;
}

int sq_change_vm_set(struct store *st, const struct change_vm_row *v, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return db_done(db_prep(s->w, error,
                           "UPDATE change_request_vms SET state = ?,"
                           " saved = coalesce(?, saved), saved_xml = coalesce(?, saved_xml),"
                           " result = coalesce(?, result), audit_ids = coalesce(?, audit_ids),"
                           " host_id = coalesce(?, host_id), updated = ?"
                           " WHERE request_id = ? AND seq = ?",
                           "sssssIiii", v->state, v->saved, v->saved_xml, v->result, v->audit_ids,
                           v->host_id, v->updated, v->request_id, v->seq),
                   error);
}
