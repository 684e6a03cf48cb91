/*
 * High availability in SQLite (model/ha.h): the hosts' state machines,
 * the VMs' newest recoveries and the HA settings made over the API.
 * Writes what the engine decided (src/policy/ha.c); decides nothing.
 */
#include "config.h"

#include "store/sqlite-private.h"

#include <errno.h>

int sq_ha_host_put(struct store *st, const struct ha_host_row *r, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return db_done(
        db_prep(
            s->w, error,
            "INSERT INTO ha_hosts(host_id, state, since, failed,"
            " fence_attempts, next_fence, reason) VALUES (?,?,?,?,?,?,?)"
            " ON CONFLICT (host_id) DO UPDATE SET state = excluded.state, since = excluded.since, "
            "failed = excluded.failed, fence_attempts = excluded.fence_attempts, next_fence = "
            "excluded.next_fence, reason = excluded.reason",
            "isiIiIs", r->host_id, r->state, r->since, r->failed, r->fence_attempts, r->next_fence,
            r->reason),
        error);
}

int sq_ha_recovery_put(struct store *st, const struct ha_recovery_row *r, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return db_done(
        db_prep(s->w, error,
                "INSERT INTO ha_recoveries(uuid, vm, from_host_id,"
                " to_host_id, failed_host_id, state, since, failure, attempts, reason)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (uuid) DO UPDATE SET vm = excluded.vm, from_host_id = "
                "excluded.from_host_id, to_host_id = excluded.to_host_id, failed_host_id = "
                "excluded.failed_host_id, state = excluded.state, since = excluded.since, failure "
                "= excluded.failure, attempts = excluded.attempts, reason = excluded.reason",
                "ssiIIsiiis", r->uuid, r->vm, r->from_host_id, r->to_host_id, r->failed_host_id,
                r->state, r->since, r->failure, r->attempts, r->reason),
        error);
}

struct rows *sq_ha_hosts_query(struct store *st, GError **error)
{
    return query_rows(SQ(st), &ha_host_row_desc, error,
                      "SELECT a.host_id, h.name AS host, a.state, a.since, a.failed,"
                      " a.fence_attempts, a.next_fence, a.reason"
                      " FROM ha_hosts a LEFT JOIN hosts h ON h.id = a.host_id"
                      " ORDER BY a.host_id",
                      NULL);
}

struct rows *sq_ha_recoveries_query(struct store *st, GError **error)
{
    return query_rows(SQ(st), &ha_recovery_row_desc, error,
                      "SELECT r.uuid, r.vm, r.from_host_id, coalesce(r.to_host_id, 0) AS to_host_id,"
                      " coalesce(r.failed_host_id, 0) AS failed_host_id,"
                      " f.name AS from_host, t.name AS to_host, r.state, r.since, r.failure,"
                      " r.attempts, r.reason FROM ha_recoveries r"
                      " LEFT JOIN hosts f ON f.id = r.from_host_id"
                      " LEFT JOIN hosts t ON t.id = r.to_host_id ORDER BY r.uuid",
                      NULL);
}

int sq_ha_vm_put(struct store *st, const struct ha_vm_row *r, GError **error)
{
    if (!r->uuid || !*r->uuid || !r->restart) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID, "HA settings without %s",
                    !r->uuid || !*r->uuid ? "a VM" : "a restart policy");
        return -EINVAL;
    }
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return db_done(db_prep(s->w, error,
                           "INSERT INTO ha_vms(uuid, ha, priority, restart, grp,"
                           " updated, by) VALUES (?,?,?,?,?,?,?)"
                           " ON CONFLICT (uuid) DO UPDATE SET ha = excluded.ha, priority = "
                           "excluded.priority, restart = excluded.restart, grp = excluded.grp, "
                           "updated = excluded.updated, by = excluded.by",
                           "sbissis", r->uuid, (int)r->ha, r->priority, r->restart, r->group,
                           r->updated, r->by),
                   error);
}

int sq_ha_vm_delete(struct store *st, const char *uuid, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_done(db_prep(s->w, error, "DELETE FROM ha_vms WHERE uuid = ?", "s", uuid), error);
    if (r == 0 && db_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND,
                    "no HA settings were made for %s", uuid ? uuid : "(none)");
        return -ENOENT;
    }
    return r;
}

struct rows *sq_ha_vms_query(struct store *st, GError **error)
{
    /* A VM that moved has a domain row per host it was seen on: the name
     * is the newest one's. */
    return query_rows(SQ(st), &ha_vm_row_desc, error,
                      "SELECT v.uuid,"
                      " (SELECT d.name FROM domains d WHERE d.uuid = v.uuid"
                      "  ORDER BY d.updated_at DESC, d.id DESC LIMIT 1) AS vm,"
                      " v.ha, v.priority, v.restart, v.grp AS \"group\", v.updated, v.by"
                      " FROM ha_vms v ORDER BY v.uuid",
                      NULL);
}
