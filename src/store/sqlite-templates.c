/*
 * Templates in the store (model/template.h, both backends): versions of a
 * name numbered here, in the transaction that adds one, and a deletion
 * marking every version.  Writes what the engine made (src/engine/
 * provision.c); decides nothing.
 */
#include "config.h"

#include "store/sqlite-private.h"

#include <errno.h>

int sq_template_add(struct store *st, const struct template_row *t, int64_t *ret_version,
                    GError **error)
{
    if (!t->name || !*t->name || !t->xml || !t->disks || !t->pool) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID,
                    "a template needs a name, a "
                    "definition, disks and a pool");
        return -EINVAL;
    }
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_begin(s->w, error);
    if (r < 0)
        return r;
    /* Numbered after every version the name ever had, deleted ones too:
     * a version names one definition for good.  Two instances adding at
     * once collide on the unique key, and one is told to try again. */
    g_autoptr(db_stmt) q =
        db_prep(s->w, error,
                "INSERT INTO templates(name, version, host_id, pool,"
                " source_uuid, source_vm, xml, disks, created, by, audit_id)"
                " SELECT ?, coalesce(max(version), 0) + 1, ?,?,?,?,?,?,?,?,?"
                " FROM templates WHERE name = ? RETURNING version",
                "sisssssisIs", t->name, t->host_id, t->pool, t->source_uuid, t->source_vm, t->xml,
                t->disks, t->created, t->by, t->audit_id, t->name);
    if (!q || db_step(q, error) <= 0)
        r = -EIO;
    else
        *ret_version = db_col_i64(q, 0);
    g_clear_pointer(&q, db_finalize);
    return db_commit_or_rollback(s->w, r, error);
}

struct rows *sq_templates_query(struct store *st, const char *name, bool versions, bool with_xml,
                                GError **error)
{
    const char *cols = with_xml ? "t.xml" : "NULL AS xml";
    g_autofree char *sql = NULL;
    if (versions) /* every version of NAME, deleted ones too */
        sql = g_strdup_printf(
            "SELECT t.id, t.name, t.version, t.host_id, h.name AS host, t.pool, t.source_uuid,"
            " t.source_vm, %s, t.disks, t.created, t.by, t.audit_id, t.deleted"
            " FROM templates t LEFT JOIN hosts h ON h.id = t.host_id"
            " WHERE t.name = ? ORDER BY t.version",
            cols);
    else /* the newest version of each name (or of NAME) not deleted */
        sql = g_strdup_printf(
            "SELECT t.id, t.name, t.version, t.host_id, h.name AS host, t.pool, t.source_uuid,"
            " t.source_vm, %s, t.disks, t.created, t.by, t.audit_id, t.deleted"
            " FROM templates t LEFT JOIN hosts h ON h.id = t.host_id"
            " WHERE t.deleted IS NULL AND (? IS NULL OR t.name = ?) AND t.version ="
            " (SELECT max(u.version) FROM templates u WHERE u.name = t.name)"
            " ORDER BY t.name",
            cols);
    if (versions)
        return query_rows(SQ(st), &template_row_desc, error, sql, "s", name);
    return query_rows(SQ(st), &template_row_desc, error, sql, "ss", name, name);
}

int sq_template_delete(struct store *st, const char *name, int64_t when_us, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_done(db_prep(s->w, error,
                            "UPDATE templates SET deleted = ? WHERE name = ? AND deleted IS NULL",
                            "is", when_us, name),
                    error);
    if (r == 0 && db_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "no template named '%s'", name);
        return -ENOENT;
    }
    return r;
}
