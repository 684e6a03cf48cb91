/*
 * kanrid instances sharing one store and their leases on hosts (store.h,
 * docs/scale-out.md).  The plan is made by the pure planner
 * (cluster/lease.h); here it is carried out with conditional writes, so
 * that two instances racing for one host cannot both take it.
 */
#include "store/sqlite-private.h"

#include <errno.h>
#include <string.h>

void store_instance_clear(struct store_instance *i)
{
    g_free(i->id);
    g_free(i->name);
    g_free(i->api_url);
    g_free(i->tls_pin);
    g_free(i->version);
    memset(i, 0, sizeof(*i));
}

void store_lease_clear(struct store_lease *l)
{
    g_free(l->host);
    g_free(l->holder);
    memset(l, 0, sizeof(*l));
}

/* Heartbeats and leases: on PostgreSQL on a connection of their own, so
 * that a renewal never waits behind the rounds' and inventory's writes
 * (one instance's lease running out meanwhile); on SQLite (one instance)
 * the writer's. */
static struct db *cluster_db(struct store_sqlite *s)
{
    return s->c ? s->c : s->w;
}

static GMutex *cluster_lock(struct store_sqlite *s)
{
    return s->c ? &s->clock : &s->wlock;
}

int sq_instance_beat(struct store *st, const struct store_instance *me, int64_t now_us,
                     GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(cluster_lock(s));
    return db_done(db_prep(cluster_db(s), error,
                           "INSERT INTO instances(id, name, api_url, version, started, heartbeat,"
                           " tls_pin) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                           " name = excluded.name, api_url = excluded.api_url,"
                           " version = excluded.version, heartbeat = excluded.heartbeat,"
                           " tls_pin = excluded.tls_pin",
                           "ssssiis", me->id, me->name, me->api_url, me->version, me->started_us,
                           now_us, me->tls_pin),
                   error);
}

int sq_instance_leave(struct store *st, const char *id, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(cluster_lock(s));
    int r = db_begin(cluster_db(s), error);
    if (r == 0)
        r = db_done(db_prep(cluster_db(s), error,
                            "UPDATE leases SET holder = NULL, expires = 0 WHERE holder = ?", "s",
                            id),
                    error);
    if (r == 0)
        r = db_done(db_prep(cluster_db(s), error, "DELETE FROM instances WHERE id = ?", "s", id),
                    error);
    return db_commit_or_rollback(cluster_db(s), r, error);
}

static int read_leases(struct db_stmt *q, GArray *ret, GError **error)
{
    if (!q)
        return -EIO;
    int rc;
    while ((rc = db_step(q, error)) > 0) {
        struct store_lease x = {
            .host = db_col_strdup(q, 0),
            .holder = db_col_strdup(q, 1),
            .epoch = db_col_i64(q, 2),
            .expires_us = db_col_i64(q, 3),
            .since_us = db_col_i64(q, 4),
        };
        g_array_append_val(ret, x);
    }
    db_finalize(q);
    return rc < 0 ? -EIO : 0;
}

int sq_fence_check(struct db *db, const struct store_fence *fence, GError **error)
{
    const char *sql = db_kind(db) == DB_PG
                          ? "SELECT epoch FROM leases WHERE host = ? AND holder = ? FOR SHARE"
                          : "SELECT epoch FROM leases WHERE host = ? AND holder = ?";
    g_autoptr(db_stmt) q = db_prep(db, error, sql, "ss", fence->host, fence->holder);
    if (!q)
        return -EIO;
    int r = db_step(q, error);
    if (r < 0)
        return -EIO;
    if (r == 1 && db_col_i64(q, 0) == fence->epoch)
        return 0;
    g_set_error(error, STORE_ERROR, STORE_ERROR_FENCED,
                "host %s: the lease taken under epoch %" G_GINT64_FORMAT
                " is no longer this instance's",
                fence->host, fence->epoch);
    return -ESTALE;
}

#define LEASE_COLS "SELECT host, holder, epoch, expires, since FROM leases"

int sq_cluster_read(struct store *st, GArray *ret_instances, GArray *ret_leases, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(cluster_lock(s));
    g_array_set_clear_func(ret_instances, (GDestroyNotify)store_instance_clear);
    g_array_set_clear_func(ret_leases, (GDestroyNotify)store_lease_clear);
    struct db_stmt *q = db_prep(cluster_db(s), error,
                                "SELECT id, name, api_url, version, started, heartbeat, tls_pin"
                                " FROM instances ORDER BY id",
                                NULL);
    if (!q)
        return -EIO;
    int rc;
    while ((rc = db_step(q, error)) > 0) {
        struct store_instance x = {
            .id = db_col_strdup(q, 0),
            .name = db_col_strdup(q, 1),
            .api_url = db_col_strdup(q, 2),
            .version = db_col_strdup(q, 3),
            .started_us = db_col_i64(q, 4),
            .heartbeat_us = db_col_i64(q, 5),
            .tls_pin = db_col_strdup(q, 6),
        };
        g_array_append_val(ret_instances, x);
    }
    db_finalize(q);
    if (rc < 0)
        return -EIO;
    return read_leases(db_prep(cluster_db(s), error, LEASE_COLS " ORDER BY host", NULL), ret_leases,
                       error);
}

int sq_leases_apply(struct store *st, const char *me, const struct store_lease_plan *plan,
                    int64_t now_us, int64_t lease_us, GArray *ret_held, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(cluster_lock(s));
    g_array_set_clear_func(ret_held, (GDestroyNotify)store_lease_clear);
    int64_t until = now_us + lease_us;
    int r = db_begin(cluster_db(s), error);
    for (size_t i = 0; r == 0 && i < plan->n_give_up; i++)
        r = db_done(db_prep(cluster_db(s), error,
                            "UPDATE leases SET holder = NULL, expires = 0"
                            " WHERE host = ? AND holder = ?",
                            "ss", plan->give_up[i], me),
                    error);
    for (size_t i = 0; r == 0 && i < plan->n_renew; i++)
        r = db_done(db_prep(cluster_db(s), error,
                            "UPDATE leases SET expires = ?3"
                            " WHERE host = ?1 AND holder = ?2 AND expires > ?4",
                            "ssii", plan->renew[i], me, until, now_us),
                    error);
    /* A taking counts only where the host is still free: another instance
     * that took it first keeps it. */
    for (size_t i = 0; r == 0 && i < plan->n_take; i++)
        r = db_done(db_prep(cluster_db(s), error,
                            "INSERT INTO leases(host, holder, epoch, expires, since)"
                            " VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (host) DO UPDATE SET"
                            " holder = excluded.holder, epoch = leases.epoch + 1,"
                            " expires = excluded.expires, since = excluded.since"
                            " WHERE leases.holder IS NULL OR leases.expires <= ?4",
                            "ssii", plan->take[i], me, until, now_us),
                    error);
    if (r == 0)
        r = read_leases(db_prep(cluster_db(s), error,
                                LEASE_COLS " WHERE holder = ? AND expires > ? ORDER BY host", "si",
                                me, now_us),
                        ret_held, error);
    return db_commit_or_rollback(cluster_db(s), r, error);
}

int sq_leases_renew(struct store *st, const char *me, int64_t now_us, int64_t lease_us,
                    unsigned *ret_renewed, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(cluster_lock(s));
    struct db *db = cluster_db(s);
    int r = db_begin(db, error);
    if (r == 0)
        r = db_done(
            db_prep(db, error, "UPDATE instances SET heartbeat = ? WHERE id = ?", "is", now_us, me),
            error);
    if (r == 0)
        r = db_done(db_prep(db, error,
                            "UPDATE leases SET expires = ?3 WHERE holder = ?1 AND expires > ?2",
                            "sii", me, now_us, now_us + lease_us),
                    error);
    if (r == 0 && ret_renewed)
        *ret_renewed = (unsigned)db_changes(db);
    return db_commit_or_rollback(db, r, error);
}
