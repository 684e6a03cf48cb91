/*
 * The PostgreSQL backend: the same store as SQLite's (sqlite*.c, on the
 * statement layer, db.h) on connections to a PostgreSQL server, with the
 * same numbered migrations in PostgreSQL's types (db_ddl_pg()).
 */
#include "store/sqlite-private.h"

#include "basic/util.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <libpq-fe.h>

/* Taken for the length of a migration: instances starting together on
 * one database migrate it once (any number, fixed: "kanri" in ASCII). */
#define MIGRATION_LOCK 0x6b616e7269

/* The steps done in C after a numbered step's DDL, on PostgreSQL only. */
static int migrate_pg_extra(struct db *db, size_t step, GError **error)
{
    return step == 16 ? pg_partition_samples(db, error) : 0;
}

static int migrate_pg(struct db *db, GError **error)
{
    size_t known;
    const char *const *steps = sq_migrations(&known);
    g_autofree char *lock =
        g_strdup_printf("SELECT pg_advisory_xact_lock(%" PRId64 ")", (int64_t)MIGRATION_LOCK);
    int r = db_begin(db, error);
    if (r < 0)
        return r;
    r = db_done(db_prep(db, error, lock, NULL), error);
    if (r == 0)
        r = db_exec(db, "CREATE TABLE IF NOT EXISTS kanri_schema (version BIGINT NOT NULL)", error);
    int64_t version = -1;
    if (r == 0) {
        g_autoptr(db_stmt) q = db_prep(db, error, "SELECT max(version) FROM kanri_schema", NULL);
        r = q && db_step(q, error) > 0 ? 0 : -EIO;
        if (r == 0)
            version = db_col_null(q, 0) ? -1 : db_col_i64(q, 0);
    }
    if (r == 0 && version < 0) {
        r = db_exec(db, "INSERT INTO kanri_schema (version) VALUES (0)", error);
        version = 0;
    }
    if (r == 0 && version > (int64_t)known)
        r = sq_schema_newer(version, known, error);
    /* All the missing steps and the version in one transaction:
     * PostgreSQL's DDL is transactional, so a failure leaves the schema
     * as it was. */
    for (size_t v = (size_t)MAX(version, 0); r == 0 && v < known; v++) {
        g_autofree char *ddl = db_ddl_pg(steps[v]);
        r = db_exec(db, ddl, error);
        if (r == 0)
            r = migrate_pg_extra(db, v + 1, error);
        if (r < 0)
            g_prefix_error(error, "schema migration %zu: ", v + 1);
    }
    if (r == 0 && version < (int64_t)known) {
        g_autofree char *set = g_strdup_printf("UPDATE kanri_schema SET version = %zu", known);
        r = db_exec(db, set, error);
    }
    return db_commit_or_rollback(db, r, error);
}

struct store *store_pg_open(const char *conninfo, GError **error)
{
    struct store_sqlite *s = sq_new(sq_pg_ops());
    s->conninfo = g_strdup(conninfo);
    if (!(s->w = db_open_pg(conninfo, error)) || migrate_pg(s->w, error) < 0 ||
        !(s->r = db_open_pg(conninfo, error)) || !(s->a = db_open_pg(conninfo, error)) ||
        !(s->c = db_open_pg(conninfo, error))) {
        sq_free(s);
        return NULL;
    }
    /* The sample tables' partitions for the days around now; later days
     * are made by maintenance and by the writes needing them. */
    int r;
    {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
        r = pg_partitions_ensure_ahead(s, now_usec(), error);
    }
    if (r < 0) {
        sq_free(s);
        return NULL;
    }
    sq_audit_interrupted(s);
    return &s->base;
}

bool store_is_pg_url(const char *target)
{
    return g_str_has_prefix(target, "postgresql://") || g_str_has_prefix(target, "postgres://");
}

struct store *store_open(const char *target, GError **error)
{
    return store_is_pg_url(target) ? store_pg_open(target, error)
                                   : store_sqlite_open(target, error);
}

char *store_pg_describe(const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    if (!opts)
        return g_strdup("an unreadable connection string");
    const char *dbname = NULL, *host = NULL, *port = NULL, *user = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (g_str_equal(o->keyword, "dbname"))
            dbname = o->val;
        else if (g_str_equal(o->keyword, "host"))
            host = o->val;
        else if (g_str_equal(o->keyword, "port"))
            port = o->val;
        else if (g_str_equal(o->keyword, "user"))
            user = o->val;
    }
    /* Never the password. */
    char *d = g_strdup_printf("database %s on %s%s%s as %s", dbname ? dbname : "(default)",
                              host ? host : "the default host", port ? ":" : "", port ? port : "",
                              user ? user : "the default user");
    PQconninfoFree(opts);
    return d;
}
