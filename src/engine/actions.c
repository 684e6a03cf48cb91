/*
 * Actions through the engine: every one an audit entry from start to end
 * (refusals too: an attempt is worth recording), with the domain marked in
 * flight so the configuration change it causes is attributed to it, then
 * performed by the host's driver.
 */
#include "config.h"

#include "basic/log.h"
#include "engine/engine-private.h"

#include "basic/util.h"

#include <errno.h>
#include <string.h>

struct driver *engine_driver_of(struct engine *e, int64_t host_id, char **ret_host_name,
                                GError **error)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    struct ehost *h = engine_host_find(e, host_id);
    if (!h) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_NOT_FOUND,
                    "host %" G_GINT64_FORMAT " is not managed by this kanrid", host_id);
        return NULL;
    }
    if (ret_host_name)
        *ret_host_name = g_strdup(h->name);
    return h->drv;
}

/* Records the end of an audit entry; a store failure here is logged, the
 * action's own result stands. */
void engine_audit_finish(struct engine *e, int64_t audit_id, const GError *action_error)
{
    g_autoptr(GError) err = NULL;
    if (e->store->ops->audit_end(e->store, audit_id, action_error == NULL,
                                 action_error ? action_error->message : NULL, &err) < 0)
        g_warning("audit %" G_GINT64_FORMAT ": %s", audit_id, err->message);
}

/* The store's error, told as kanri's own failure (500): a new error, so a
 * caller that passed no GError ** is still safe. */
int engine_audit_failed(GError *store_err, GError **error)
{
    g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INTERNAL, "audit: %s",
                store_err ? store_err->message : "the store failed");
    g_clear_error(&store_err);
    return -EIO;
}

/* ---- re-checks after an unknown outcome ---- */

struct recheck {
    int64_t audit_id, host_id;
    char *uuid, *action;
};

static void recheck_free(gpointer p)
{
    struct recheck *c = p;
    g_free(c->uuid);
    g_free(c->action);
    g_free(c);
}

GPtrArray *engine_rechecks_new(void)
{
    return g_ptr_array_new_with_free_func(recheck_free);
}

static void recheck_add(struct engine *e, int64_t audit_id, int64_t host_id, const char *uuid,
                        const char *action)
{
    struct recheck *c = g_new0(struct recheck, 1);
    c->audit_id = audit_id;
    c->host_id = host_id;
    c->uuid = g_strdup(uuid);
    c->action = g_strdup(action);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    g_ptr_array_add(e->rechecks, c);
}

/* The domain's state from the inventory just synced: "gone" when the host
 * no longer has it. */
static char *state_now(struct engine *e, int64_t host_id, const char *uuid)
{
    int64_t domain_id = 0;
    g_mutex_lock(&e->lock);
    struct ehost *h = engine_host_find(e, host_id);
    struct inv_dom *d = h ? g_hash_table_lookup(h->inv, uuid) : NULL;
    if (d && !d->removed)
        domain_id = d->domain_id;
    g_mutex_unlock(&e->lock);
    if (!domain_id)
        return g_strdup("gone");
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) found = e->store->ops->vms_query(e->store, NULL, domain_id, false, &err);
    if (found && rows_len(found) > 0)
        return g_strdup(((struct vm_row *)rows_get(found, 0))->state);
    if (err)
        g_warning("re-check of %s: %s", uuid, err->message);
    return NULL;
}

void engine_rechecks_run(struct engine *e, int64_t host_id)
{
    g_autoptr(GPtrArray) due = engine_rechecks_new();
    g_mutex_lock(&e->lock);
    for (guint i = 0; i < e->rechecks->len;) {
        struct recheck *c = g_ptr_array_index(e->rechecks, i);
        if (c->host_id == host_id)
            g_ptr_array_add(due, g_ptr_array_steal_index(e->rechecks, i));
        else
            i++;
    }
    g_mutex_unlock(&e->lock);
    for (guint i = 0; i < due->len; i++) {
        struct recheck *c = g_ptr_array_index(due, i);
        g_autofree char *state = state_now(e, host_id, c->uuid);
        if (!state) { /* the store failed: at the next sync, then */
            g_mutex_lock(&e->lock);
            g_ptr_array_add(e->rechecks, g_ptr_array_steal_index(due, i--));
            g_mutex_unlock(&e->lock);
            continue;
        }
        g_autoptr(GError) err = NULL;
        if (e->store->ops->audit_checked(e->store, c->audit_id, state, now_usec(), &err) < 0)
            g_warning("audit %" G_GINT64_FORMAT ": %s", c->audit_id, err->message);
        g_message("audit %" G_GINT64_FORMAT ": the outcome of %s on %s was unknown; with its host "
                  "back, the domain is %s",
                  c->audit_id, c->action, c->uuid, state);
    }
}

int engine_action(struct engine *e, int64_t host_id, const char *uuid, const char *name,
                  const struct action_request *req, const char *params_text,
                  const struct actor *who, struct action_result *result, int64_t *ret_audit_id,
                  GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *host = NULL;
    struct driver *drv = engine_driver_of(e, host_id, &host, &err);
    int64_t audit_id = 0;
    GError *serr = NULL;
    if (e->store->ops->audit_begin(e->store, who->name, who->token_id, action_specs[req->kind].name,
                                   name ? name : uuid, uuid, host, params_text ? params_text : "{}",
                                   &audit_id, &serr) < 0)
        return engine_audit_failed(serr, error);
    *ret_audit_id = audit_id;
    if (drv) {
        struct change_cause cause = {.cause = "action", .actor = who->name, .audit_id = audit_id};
        engine_inflight_set(e, host_id, uuid, &cause);
        if (req->kind == ACTION_SETMEM || req->kind == ACTION_SETVCPUS ||
            req->kind == ACTION_SET_BALLOON_PERIOD || req->kind == ACTION_SNAPSHOT_DELETE ||
            req->kind == ACTION_SET_LIMITS)
            engine_inflight_keeps_state(e, host_id, uuid);
        drv->ops->action(drv, host_id, uuid, req, &cause, result, &err);
        engine_inflight_set(e, host_id, uuid, NULL);
        /* The host stopped answering: what became of the domain is read
         * again, and recorded, once the host is back. */
        if (err && g_error_matches(err, DRIVER_ERROR, DRIVER_ERR_UNAVAILABLE))
            recheck_add(e, audit_id, host_id, uuid, action_specs[req->kind].name);
    }
    engine_audit_finish(e, audit_id, err);
    const char *aname = action_specs[req->kind].name;
    if (err)
        klog(G_LOG_LEVEL_WARNING, host, name ? name : uuid, aname,
             "%s of %s on %s by %s failed (audit %" G_GINT64_FORMAT "): %s", aname,
             name ? name : uuid, host ? host : "?", who->name, audit_id, err->message);
    else
        klog(G_LOG_LEVEL_MESSAGE, host, name ? name : uuid, aname,
             "%s of %s on %s by %s (audit %" G_GINT64_FORMAT ")", aname, name ? name : uuid,
             host ? host : "?", who->name, audit_id);
    if (err) {
        g_autofree char *item = g_strconcat("vm:", uuid, NULL);
        g_autofree char *msg = g_strdup_printf("%s of %s by %s failed: %s",
                                               action_specs[req->kind].name, name ? name : uuid,
                                               who->name, err->message);
        engine_event_post(e, event_new(now_usec(), item, name ? name : uuid, host, "action.failed",
                                       NULL, false, SEV_WARNING, msg));
        g_propagate_error(error, g_steal_pointer(&err));
        return -EIO;
    }
    return 0;
}

int engine_define(struct engine *e, int64_t host_id, const char *xml, const struct actor *who,
                  char **ret_uuid, int64_t *ret_audit_id, GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *host = NULL;
    struct driver *drv = engine_driver_of(e, host_id, &host, &err);
    g_autofree char *params = g_strdup_printf("{\"xml_bytes\":%zu}", strlen(xml));
    int64_t audit_id = 0;
    GError *serr = NULL;
    if (e->store->ops->audit_begin(e->store, who->name, who->token_id, "define", NULL, NULL, host,
                                   params, &audit_id, &serr) < 0)
        return engine_audit_failed(serr, error);
    *ret_audit_id = audit_id;
    g_autofree char *uuid = NULL, *name = NULL;
    if (drv) {
        struct change_cause cause = {.cause = "action", .actor = who->name, .audit_id = audit_id};
        engine_inflight_set(e, host_id, DRIVER_INFLIGHT_DEFINE, &cause);
        drv->ops->define(drv, host_id, xml, &cause, &uuid, &name, &err);
        engine_inflight_set(e, host_id, DRIVER_INFLIGHT_DEFINE, NULL);
        if (name || uuid)
            e->store->ops->audit_set_target(e->store, audit_id, name, uuid, NULL);
    }
    engine_audit_finish(e, audit_id, err);
    if (err) {
        g_propagate_error(error, g_steal_pointer(&err));
        return -EIO;
    }
    *ret_uuid = g_steal_pointer(&uuid);
    return 0;
}

int engine_create(struct engine *e, int64_t host_id, const struct container_spec *spec,
                  const char *params_text, const struct actor *who, char **ret_uuid,
                  int64_t *ret_audit_id, GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *host = NULL;
    struct driver *drv = engine_driver_of(e, host_id, &host, &err);
    if (drv && !drv->ops->create) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNSUPPORTED,
                    "host %s runs VMs, not containers: define a VM there instead", host);
        return -ENOTSUP;
    }
    int64_t audit_id = 0;
    GError *serr = NULL;
    if (e->store->ops->audit_begin(e->store, who->name, who->token_id, "create", spec->name, NULL,
                                   host, params_text ? params_text : "{}", &audit_id, &serr) < 0)
        return engine_audit_failed(serr, error);
    *ret_audit_id = audit_id;
    g_autofree char *uuid = NULL;
    if (drv) {
        struct change_cause cause = {.cause = "action", .actor = who->name, .audit_id = audit_id};
        engine_inflight_set(e, host_id, DRIVER_INFLIGHT_DEFINE, &cause);
        drv->ops->create(drv, host_id, spec, &cause, &uuid, &err);
        engine_inflight_set(e, host_id, DRIVER_INFLIGHT_DEFINE, NULL);
        if (uuid)
            e->store->ops->audit_set_target(e->store, audit_id, spec->name, uuid, NULL);
    }
    engine_audit_finish(e, audit_id, err);
    if (err) {
        g_propagate_error(error, g_steal_pointer(&err));
        return -EIO;
    }
    *ret_uuid = g_steal_pointer(&uuid);
    return 0;
}

bool engine_host_containers(struct engine *e, int64_t host_id)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    struct ehost *h = engine_host_find(e, host_id);
    return h && h->drv && h->drv->ops->containers;
}

struct rows *engine_snapshots(struct engine *e, int64_t host_id, const char *uuid, GError **error)
{
    struct driver *drv = engine_driver_of(e, host_id, NULL, error);
    return drv ? drv->ops->snapshots(drv, host_id, uuid, error) : NULL;
}
