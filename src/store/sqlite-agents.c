/*
 * SQLite backend: enrolled guest agents (kanri-guestd) and their health.
 */
#include "config.h"

#include "store/sqlite-private.h"

#include "basic/util.h"

int sq_agent_enroll(struct store *st, const char *machine_uuid, const char *name,
                    const char *token_hash, int64_t *ret_token_id, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int64_t now = now_usec();
    int r = db_begin(s->w, error);
    if (r < 0)
        return r;
    /* Re-enrolling rotates the credential: the machine's older tokens stop
     * working in the same transaction that creates the new one. */
    r = db_done(db_prep(s->w, error,
                        "UPDATE tokens SET revoked_at = ? WHERE machine_uuid = ? AND role = 'guest'"
                        " AND revoked_at IS NULL",
                        "is", now, machine_uuid),
                error);
    int64_t token_id = 0;
    if (r == 0) {
        r = step_id(db_prep(s->w, error,
                            "INSERT INTO tokens(name, role, hash, machine_uuid, created_at)"
                            " VALUES (?, 'guest', ?, ?, ?) RETURNING id",
                            "sssi", name, token_hash, machine_uuid, now),
                    &token_id, error);
    }
    if (r == 0)
        r = db_done(db_prep(s->w, error,
                            "INSERT INTO agents(machine_uuid, name, token_id, enrolled_at)"
                            " VALUES (?, ?, ?, ?) ON CONFLICT(machine_uuid) DO UPDATE SET"
                            " name = excluded.name, token_id = excluded.token_id,"
                            " enrolled_at = excluded.enrolled_at",
                            "ssii", machine_uuid, name, token_id, now),
                    error);
    r = db_commit_or_rollback(s->w, r, error);
    if (r == 0 && ret_token_id)
        *ret_token_id = token_id;
    return r;
}

int sq_agent_contact(struct store *st, const struct store_agent_contact *c, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return sq_agent_contact_locked(s, c, c->duplicate, error);
}

int sq_agent_contact_locked(struct store_sqlite *s, const struct store_agent_contact *c,
                            bool duplicate, GError **error)
{
    if (c->error_text)
        return db_done(db_prep(s->w, error,
                               "UPDATE agents SET rejected = rejected + 1, last_error = ?,"
                               " last_error_at = ?, last_contact = ? WHERE machine_uuid = ?",
                               "siis", c->error_text, c->received_us, c->received_us,
                               c->machine_uuid),
                       error);
    /* Identity, lag and backlog follow the newest sample seen, by the
     * agent's sequence (never by its clock: one document dated a year
     * ahead would pin them); a backfilled older one only counts.  Lag is
     * how long the sample took to arrive, 0 when the guest's clock is
     * ahead of kanrid's (the reconciliation's clock rules say by how
     * much). */
    return db_done(db_prep(s->w, error,
                           "UPDATE agents SET last_contact = ?1,"
                           " accepted = accepted + (CASE WHEN ?2 <> 0 THEN 0 ELSE 1 END),"
                           " duplicates = duplicates + (CASE WHEN ?2 <> 0 THEN 1 ELSE 0 END),"
                           " agent_name = ?3, agent_version = ?4, hostname = ?5, id_source = ?6,"
                           " spool_backlog = ?7, spool_dropped = ?8,"
                           " lag_us = CASE WHEN last_seq IS NULL OR ?10 IS NULL OR ?10 >= last_seq"
                           "   THEN ?1 - CASE WHEN ?9 < ?1 THEN ?9 ELSE ?1 END ELSE lag_us END,"
                           " last_sample_time = CASE WHEN last_seq IS NULL OR ?10 IS NULL"
                           "   OR ?10 >= last_seq THEN ?9 ELSE last_sample_time END,"
                           " last_seq = CASE WHEN coalesce(?10, 0) > coalesce(last_seq, 0) THEN ?10"
                           "   ELSE coalesce(last_seq, 0) END"
                           " WHERE machine_uuid = ?11",
                           "ibssssUUiUs", c->received_us, duplicate, c->agent_name,
                           c->agent_version, c->hostname, c->id_source, c->spool_backlog,
                           c->spool_dropped, c->sample_time_us, c->seq, c->machine_uuid),
                   error);
}

struct rows *sq_agents_query(struct store *st, GError **error)
{
    return query_rows(
        SQ(st), &agent_row_desc, error,
        "SELECT a.machine_uuid, a.name,"
        " (SELECT d.name FROM domains d WHERE d.uuid = a.machine_uuid AND d.removed = 0"
        "   ORDER BY d.updated_at DESC LIMIT 1) AS vm,"
        " (SELECT h.name FROM domains d JOIN hosts h ON h.id = d.host_id"
        "   WHERE d.uuid = a.machine_uuid AND d.removed = 0"
        "   ORDER BY d.updated_at DESC LIMIT 1) AS host,"
        " a.hostname, a.agent_name, a.agent_version, a.id_source, a.enrolled_at,"
        " a.last_contact, a.last_sample_time, a.last_seq,"
        " CAST(a.lag_us AS DOUBLE PRECISION) / 1000000.0 AS lag_seconds,"
        " a.spool_backlog, a.spool_dropped, a.accepted, a.duplicates, a.rejected,"
        " a.last_error, a.last_error_at"
        " FROM agents a ORDER BY a.name",
        NULL);
}
