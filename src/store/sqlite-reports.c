/*
 * What the reports read, in the store (model/report.h, both backends):
 * the VMs' availability states and the hosts' collection spans, written
 * with the rounds; the VMs' tags.  Decides nothing: the rounds classify
 * (engine/stage-report.c), the reports compute (src/report/).
 */
#include "config.h"

#include "store/sqlite-private.h"

#include <errno.h>

int sq_avail_write(struct db *db, const struct store_round *w, GError **error)
{
    for (size_t i = 0; i < w->n_avail; i++) {
        const struct store_avail_mark *m = &w->avail[i];
        /* One mark a VM and time: a VM seen by two hosts' rounds at once
         * (migrating) keeps the first. */
        if (db_done(db_prep(db, error,
                            "INSERT INTO vm_states(uuid, host_id, t, state, reason)"
                            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (uuid, t) DO NOTHING",
                            "siiss", m->uuid, m->host_id, m->t_us, m->state, m->reason),
                    error) < 0)
            return -EIO;
    }
    if (!w->span_host_id)
        return 0;
    /* The host's newest span goes on when this round follows it closely
     * enough; after a gap (kanrid stopped, the host lost) a new one begins. */
    if (db_done(db_prep(db, error,
                        "UPDATE host_spans SET to_t = ?1 WHERE id ="
                        " (SELECT id FROM host_spans WHERE host_id = ?2 ORDER BY to_t DESC LIMIT 1)"
                        " AND to_t >= ?1 - ?3 AND to_t <= ?1",
                        "iii", w->span_t_us, w->span_host_id, w->span_gap_us),
                error) < 0)
        return -EIO;
    if (db_changes(db) > 0)
        return 0;
    return db_done(db_prep(db, error,
                           "INSERT INTO host_spans(host_id, from_t, to_t) VALUES (?, ?, ?)", "iii",
                           w->span_host_id, w->span_t_us, w->span_t_us),
                   error);
}

struct rows *sq_vm_states_query(struct store *st, const char *uuid, int64_t from_us, int64_t to_us,
                                GError **error)
{
    return query_rows(SQ(st), &vm_state_row_desc, error,
                      "SELECT uuid, host_id, t, state, reason FROM vm_states v"
                      " WHERE (?1 IS NULL OR uuid = ?1) AND t < ?3 AND (t >= ?2 OR t ="
                      " (SELECT max(t) FROM vm_states u WHERE u.uuid = v.uuid AND u.t < ?2))"
                      " ORDER BY uuid, t",
                      "sii", uuid, from_us, to_us);
}

struct rows *sq_host_spans_query(struct store *st, int64_t from_us, int64_t to_us, GError **error)
{
    return query_rows(SQ(st), &host_span_row_desc, error,
                      "SELECT host_id, from_t, to_t FROM host_spans"
                      " WHERE from_t < ?2 AND to_t >= ?1 ORDER BY host_id, from_t",
                      "ii", from_us, to_us);
}

int sq_vm_tags_set(struct store *st, const char *uuid, const char *const *tags, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_begin(s->w, error);
    if (r < 0)
        return r;
    r = db_done(db_prep(s->w, error, "DELETE FROM vm_tags WHERE uuid = ?", "s", uuid), error);
    for (size_t i = 0; r == 0 && tags && tags[i]; i++)
        r = db_done(db_prep(s->w, error,
                            "INSERT INTO vm_tags(uuid, tag) VALUES (?, ?)"
                            " ON CONFLICT (uuid, tag) DO NOTHING",
                            "ss", uuid, tags[i]),
                    error);
    return db_commit_or_rollback(s->w, r, error);
}

struct rows *sq_vm_tags_query(struct store *st, const char *uuid, const char *tag, GError **error)
{
    return query_rows(SQ(st), &vm_tag_row_desc, error,
                      "SELECT uuid, tag FROM vm_tags WHERE (?1 IS NULL OR uuid = ?1)"
                      " AND (?2 IS NULL OR tag = ?2) ORDER BY uuid, tag",
                      "ss", uuid, tag);
}
