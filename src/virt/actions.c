/*
 * Lifecycle actions.  Each runs in the calling (API) thread on its own
 * reference to the host's connection, is recorded as an audit entry from
 * start to end, and marks the domain "in flight" so the configuration
 * change it causes is attributed to it rather than seen as external.
 */
#include "config.h"

#include "virt/virt-private.h"

#include "basic/util.h"
#include "virt/domxml.h"

#include <errno.h>
#include <string.h>

struct action_ctx {
    struct virt_manager *m;
    struct virt_conn *vc;
    virConnectPtr conn;
    virDomainPtr dom;
    json_object *params; /* borrowed, may be NULL */
    json_object *reply;  /* extra reply fields */
    bool removed;        /* the domain no longer exists here afterwards */
    const char *uuid;    /* the domain's, lower case */
    const struct virt_actor *who;
    int64_t audit_id;
};

typedef int (*action_fn)(struct action_ctx *ctx, GError **error);

/* ---- parameter helpers: validate through expected types, name the field ---- */

static bool param_int(struct action_ctx *ctx, const char *key, int64_t min, int64_t max,
                      bool required, int64_t def, int64_t *ret, GError **error)
{
    json_object *v = NULL;
    if (!ctx->params || !json_object_object_get_ex(ctx->params, key, &v) || !v) {
        if (required) {
            g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID, "%s: required", key);
            return false;
        }
        *ret = def;
        return true;
    }
    if (!json_object_is_type(v, json_type_int)) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID, "%s: expected an integer", key);
        return false;
    }
    int64_t n = json_object_get_int64(v);
    if (n < min || n > max) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID,
                    "%s: must be from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, key, min, max);
        return false;
    }
    *ret = n;
    return true;
}

static bool param_bool(struct action_ctx *ctx, const char *key, bool def, bool *ret, GError **error)
{
    json_object *v = NULL;
    if (!ctx->params || !json_object_object_get_ex(ctx->params, key, &v) || !v) {
        *ret = def;
        return true;
    }
    if (!json_object_is_type(v, json_type_boolean)) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID, "%s: expected true or false", key);
        return false;
    }
    *ret = json_object_get_boolean(v);
    return true;
}

static bool param_string(struct action_ctx *ctx, const char *key, bool required, size_t max_len,
                         const char **ret, GError **error)
{
    json_object *v = NULL;
    *ret = NULL;
    if (!ctx->params || !json_object_object_get_ex(ctx->params, key, &v) || !v) {
        if (required) {
            g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID, "%s: required", key);
            return false;
        }
        return true;
    }
    if (!json_object_is_type(v, json_type_string)) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID, "%s: expected a string", key);
        return false;
    }
    const char *s = json_object_get_string(v);
    if (!*s || strlen(s) > max_len) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID, "%s: must be 1 to %zu characters", key,
                    max_len);
        return false;
    }
    *ret = s;
    return true;
}

static int fail_libvirt(GError **error, const char *what)
{
    /* Not "WHAT: ..." — that form names a request field in a 400. */
    g_set_error(error, VIRT_ERROR, virt_err_from_libvirt(), "%s failed: %s", what,
                virt_last_error());
    return -EIO;
}

static int dom_state(virDomainPtr dom)
{
    int state = VIR_DOMAIN_NOSTATE, reason;
    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        return -1;
    return state;
}

static bool is_active_state(int s)
{
    return s == VIR_DOMAIN_RUNNING || s == VIR_DOMAIN_BLOCKED || s == VIR_DOMAIN_PAUSED ||
           s == VIR_DOMAIN_SHUTDOWN || s == VIR_DOMAIN_PMSUSPENDED;
}

/* 409 with the state the domain is in and what the action needs. */
static int require_state(struct action_ctx *ctx, bool ok, const char *needs, GError **error)
{
    if (ok)
        return 0;
    int s = dom_state(ctx->dom);
    g_set_error(error, VIRT_ERROR, VIRT_ERR_STATE, "domain '%s' is %s; this action needs it %s",
                virDomainGetName(ctx->dom), virt_state_name(s), needs);
    return -EBUSY;
}

/* ---- actions ---- */

static int act_start(struct action_ctx *ctx, GError **error)
{
    int s = dom_state(ctx->dom);
    if (require_state(ctx, s == VIR_DOMAIN_SHUTOFF || s == VIR_DOMAIN_CRASHED, "shut off", error))
        return -EBUSY;
    return virDomainCreate(ctx->dom) < 0 ? fail_libvirt(error, "start") : 0;
}

static int act_shutdown(struct action_ctx *ctx, GError **error)
{
    int64_t timeout;
    bool force;
    if (!param_int(ctx, "timeout", 1, 3600, false, 60, &timeout, error) ||
        !param_bool(ctx, "force", false, &force, error))
        return -EINVAL;
    int s = dom_state(ctx->dom);
    if (require_state(ctx, s == VIR_DOMAIN_RUNNING || s == VIR_DOMAIN_BLOCKED, "running", error))
        return -EBUSY;
    if (virDomainShutdown(ctx->dom) < 0)
        return fail_libvirt(error, "shutdown");
    int64_t deadline = mono_usec() + timeout * USEC_PER_SEC;
    while (mono_usec() < deadline) {
        s = dom_state(ctx->dom);
        if (s == VIR_DOMAIN_SHUTOFF || s < 0)
            return 0;
        g_usleep(100 * 1000);
    }
    if (!force) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_TIMEOUT,
                    "the guest did not shut down within %" G_GINT64_FORMAT
                    " s (it may ignore ACPI); retry with force to destroy it after the timeout",
                    timeout);
        return -ETIMEDOUT;
    }
    if (virDomainDestroy(ctx->dom) < 0)
        return fail_libvirt(error, "destroy after shutdown timeout");
    json_object_object_add(ctx->reply, "forced", json_object_new_boolean(true));
    return 0;
}

static int act_reboot(struct action_ctx *ctx, GError **error)
{
    int s = dom_state(ctx->dom);
    if (require_state(ctx, s == VIR_DOMAIN_RUNNING || s == VIR_DOMAIN_BLOCKED, "running", error))
        return -EBUSY;
    return virDomainReboot(ctx->dom, 0) < 0 ? fail_libvirt(error, "reboot") : 0;
}

static int act_destroy(struct action_ctx *ctx, GError **error)
{
    if (require_state(ctx, is_active_state(dom_state(ctx->dom)), "running or paused", error))
        return -EBUSY;
    return virDomainDestroy(ctx->dom) < 0 ? fail_libvirt(error, "destroy") : 0;
}

static int act_suspend(struct action_ctx *ctx, GError **error)
{
    int s = dom_state(ctx->dom);
    if (require_state(ctx, s == VIR_DOMAIN_RUNNING || s == VIR_DOMAIN_BLOCKED, "running", error))
        return -EBUSY;
    return virDomainSuspend(ctx->dom) < 0 ? fail_libvirt(error, "suspend") : 0;
}

static int act_resume(struct action_ctx *ctx, GError **error)
{
    if (require_state(ctx, dom_state(ctx->dom) == VIR_DOMAIN_PAUSED, "paused", error))
        return -EBUSY;
    return virDomainResume(ctx->dom) < 0 ? fail_libvirt(error, "resume") : 0;
}

/* Live changes need a running domain; with "config" they also persist, and
 * on a stopped persistent domain they change only the configuration. */
static int modify_flags(struct action_ctx *ctx, bool config, unsigned *ret, GError **error)
{
    bool active = is_active_state(dom_state(ctx->dom));
    bool persistent = virDomainIsPersistent(ctx->dom) == 1;
    unsigned flags = 0;
    if (active)
        flags |= VIR_DOMAIN_AFFECT_LIVE;
    if (config || !active) {
        if (!persistent) {
            g_set_error(error, VIRT_ERROR, VIRT_ERR_STATE,
                        "domain '%s' is transient and not running: nothing to change",
                        virDomainGetName(ctx->dom));
            return -EBUSY;
        }
        flags |= VIR_DOMAIN_AFFECT_CONFIG;
    }
    *ret = flags;
    return 0;
}

static int act_setmem(struct action_ctx *ctx, GError **error)
{
    int64_t bytes = 0, mib = 0;
    bool config;
    json_object *v;
    bool has_bytes = ctx->params && json_object_object_get_ex(ctx->params, "memory_bytes", &v) && v;
    bool has_mib = ctx->params && json_object_object_get_ex(ctx->params, "memory_mib", &v) && v;
    if (has_bytes == has_mib) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID,
                    "memory_bytes: give exactly one of memory_bytes or memory_mib");
        return -EINVAL;
    }
    if (has_bytes &&
        !param_int(ctx, "memory_bytes", 1024 * 1024, G_MAXINT64 / 2, true, 0, &bytes, error))
        return -EINVAL;
    if (has_mib &&
        !param_int(ctx, "memory_mib", 1, G_MAXINT64 / (2 * 1048576), true, 0, &mib, error))
        return -EINVAL;
    if (!param_bool(ctx, "config", false, &config, error))
        return -EINVAL;
    uint64_t kib = has_bytes ? (uint64_t)bytes / 1024 : (uint64_t)mib * 1024;
    unsigned long maxkib = virDomainGetMaxMemory(ctx->dom);
    if (maxkib && kib > maxkib) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID,
                    "%s: %" G_GUINT64_FORMAT " KiB is above the domain's maximum of %lu KiB",
                    has_bytes ? "memory_bytes" : "memory_mib", kib, maxkib);
        return -EINVAL;
    }
    int64_t wait;
    if (!param_int(ctx, "wait", 0, 600, false, 10, &wait, error))
        return -EINVAL;
    unsigned flags;
    if (modify_flags(ctx, config, &flags, error) < 0)
        return -EBUSY;
    if (virDomainSetMemoryFlags(ctx->dom, (unsigned long)kib, flags) < 0)
        return fail_libvirt(error, "setmem");
    if (!(flags & VIR_DOMAIN_AFFECT_LIVE))
        return 0;
    /* A live balloon moves only as fast as the guest's driver gives memory
     * back.  Wait (bounded) so the reply says where it got, and so the
     * configuration change it causes is attributed to this action. */
    int64_t deadline = mono_usec() + wait * USEC_PER_SEC;
    virDomainInfo info = {0};
    bool reached = false;
    for (;;) {
        if (virDomainGetInfo(ctx->dom, &info) < 0)
            break;
        uint64_t diff = info.memory > kib ? info.memory - kib : kib - info.memory;
        reached = diff <= MAX(kib / 100, 4096);
        if (reached || mono_usec() >= deadline)
            break;
        g_usleep(200 * 1000);
    }
    if (info.memory)
        json_object_object_add(ctx->reply, "actual_bytes",
                               json_object_new_int64((int64_t)info.memory * 1024));
    json_object_object_add(ctx->reply, "reached", json_object_new_boolean(reached));
    return 0;
}

static int act_setvcpus(struct action_ctx *ctx, GError **error)
{
    int64_t n;
    bool config;
    if (!param_int(ctx, "vcpus", 1, 4096, true, 0, &n, error) ||
        !param_bool(ctx, "config", false, &config, error))
        return -EINVAL;
    unsigned flags;
    if (modify_flags(ctx, config, &flags, error) < 0)
        return -EBUSY;
    return virDomainSetVcpusFlags(ctx->dom, (unsigned)n, flags) < 0
               ? fail_libvirt(error, "setvcpus")
               : 0;
}

static bool snapshot_name_ok(const char *name, GError **error)
{
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-_.:@+", *p)) {
            g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID,
                        "name: use letters, digits and - _ . : @ + only");
            return false;
        }
    }
    return true;
}

static int act_snapshot_create(struct action_ctx *ctx, GError **error)
{
    const char *name, *desc;
    if (!param_string(ctx, "name", false, 128, &name, error) ||
        !param_string(ctx, "description", false, 4096, &desc, error))
        return -EINVAL;
    if (name && !snapshot_name_ok(name, error))
        return -EINVAL;
    g_autoptr(GString) xml = g_string_new("<domainsnapshot>");
    if (name) {
        g_autofree char *e = g_markup_escape_text(name, -1);
        g_string_append_printf(xml, "<name>%s</name>", e);
    }
    if (desc) {
        g_autofree char *e = g_markup_escape_text(desc, -1);
        g_string_append_printf(xml, "<description>%s</description>", e);
    }
    g_string_append(xml, "</domainsnapshot>");
    virDomainSnapshotPtr snap = virDomainSnapshotCreateXML(ctx->dom, xml->str, 0);
    if (!snap)
        return fail_libvirt(error, "snapshot-create");
    json_object_object_add(ctx->reply, "snapshot",
                           json_object_new_string(virDomainSnapshotGetName(snap)));
    virDomainSnapshotFree(snap);
    return 0;
}

static virDomainSnapshotPtr lookup_snapshot(struct action_ctx *ctx, GError **error)
{
    const char *name;
    if (!param_string(ctx, "name", true, 128, &name, error))
        return NULL;
    virDomainSnapshotPtr snap = virDomainSnapshotLookupByName(ctx->dom, name, 0);
    if (!snap)
        g_set_error(error, VIRT_ERROR, VIRT_ERR_NOT_FOUND, "name: domain '%s' has no snapshot '%s'",
                    virDomainGetName(ctx->dom), name);
    return snap;
}

static int act_snapshot_revert(struct action_ctx *ctx, GError **error)
{
    virDomainSnapshotPtr snap = lookup_snapshot(ctx, error);
    if (!snap)
        return -ENOENT;
    int r = virDomainRevertToSnapshot(snap, 0) < 0 ? fail_libvirt(error, "snapshot-revert") : 0;
    virDomainSnapshotFree(snap);
    return r;
}

static int act_snapshot_delete(struct action_ctx *ctx, GError **error)
{
    virDomainSnapshotPtr snap = lookup_snapshot(ctx, error);
    if (!snap)
        return -ENOENT;
    int r = virDomainSnapshotDelete(snap, 0) < 0 ? fail_libvirt(error, "snapshot-delete") : 0;
    virDomainSnapshotFree(snap);
    return r;
}

static struct virt_conn *find_conn(struct virt_manager *m, const char *name_or_id)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&m->lock);
    for (guint i = 0; i < m->conns->len; i++) {
        struct virt_conn *c = g_ptr_array_index(m->conns, i);
        g_autofree char *id = g_strdup_printf("%" G_GINT64_FORMAT, c->host_id);
        if (g_str_equal(c->name, name_or_id) || g_str_equal(id, name_or_id))
            return c;
    }
    return NULL;
}

static int act_migrate(struct action_ctx *ctx, GError **error)
{
    const char *to;
    bool live;
    if (!param_string(ctx, "to_host", true, 256, &to, error) ||
        !param_bool(ctx, "live", true, &live, error))
        return -EINVAL;
    struct virt_conn *dst = find_conn(ctx->m, to);
    if (!dst) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID, "to_host: no host named '%s'", to);
        return -EINVAL;
    }
    if (dst == ctx->vc) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID,
                    "to_host: the domain is already on host '%s'", to);
        return -EINVAL;
    }
    if (live && require_state(ctx, is_active_state(dom_state(ctx->dom)),
                              "running (or use live=false)", error))
        return -EBUSY;
    virConnectPtr dconn = virt_conn_ref(ctx->m, dst->host_id, NULL, error);
    if (!dconn)
        return -EIO;
    unsigned flags = VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
    if (live)
        flags |= VIR_MIGRATE_LIVE;
    else
        flags |= VIR_MIGRATE_OFFLINE;
    /* The destination's lifecycle event arrives before virDomainMigrate3()
     * returns: mark the domain in flight there too, so its first sighting
     * on the new host is this action's doing. */
    virt_inflight_set(ctx->m, dst->host_id, ctx->uuid, ctx->who->name, ctx->audit_id);
    virDomainPtr nd = virDomainMigrate3(ctx->dom, dconn, NULL, 0, flags);
    int r = 0;
    if (!nd) {
        r = fail_libvirt(error, "migrate");
    } else {
        g_autoptr(GError) err = NULL;
        struct store_cause c = {
            .cause = "action", .actor = ctx->who->name, .audit_id = ctx->audit_id};
        if (virt_sync_domain(dst, nd, &c, &err) < 0)
            g_warning("migrate: syncing the destination: %s", err->message);
        virDomainFree(nd);
        ctx->removed = true;
        json_object_object_add(ctx->reply, "host", json_object_new_string(dst->name));
    }
    virt_inflight_clear(ctx->m, dst->host_id, ctx->uuid);
    virConnectClose(dconn);
    return r;
}

static int act_undefine(struct action_ctx *ctx, GError **error)
{
    if (require_state(ctx, !is_active_state(dom_state(ctx->dom)), "shut off", error))
        return -EBUSY;
    /* Remove what libvirt keeps beside the definition (managed save,
     * snapshot and checkpoint metadata).  Drivers that do not know a flag
     * reject it (the test driver rejects the checkpoint one), so retry with
     * fewer before giving up. */
    static const unsigned flag_sets[] = {
        VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
            VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
        VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
        0,
    };
    int rc = -1;
    for (size_t i = 0; i < G_N_ELEMENTS(flag_sets) && rc < 0; i++) {
        rc = virDomainUndefineFlags(ctx->dom, flag_sets[i]);
        if (rc < 0 && virt_err_from_libvirt() != VIRT_ERR_UNSUPPORTED &&
            virt_err_from_libvirt() != VIRT_ERR_INVALID)
            break;
    }
    if (rc < 0)
        return fail_libvirt(error, "undefine");
    ctx->removed = true;
    return 0;
}

/* Each action with the parameters it takes: anything else in the body is
 * refused, so a typo ("timout") cannot silently fall back to a default. */
static const struct {
    const char *name;
    action_fn fn;
    const char *const params[5];
} actions[] = {
    {"start", act_start, {NULL}},
    {"shutdown", act_shutdown, {"timeout", "force", NULL}},
    {"reboot", act_reboot, {NULL}},
    {"destroy", act_destroy, {NULL}},
    {"suspend", act_suspend, {NULL}},
    {"resume", act_resume, {NULL}},
    {"setmem", act_setmem, {"memory_bytes", "memory_mib", "config", "wait", NULL}},
    {"setvcpus", act_setvcpus, {"vcpus", "config", NULL}},
    {"snapshot-create", act_snapshot_create, {"name", "description", NULL}},
    {"snapshot-revert", act_snapshot_revert, {"name", NULL}},
    {"snapshot-delete", act_snapshot_delete, {"name", NULL}},
    {"migrate", act_migrate, {"to_host", "live", NULL}},
    {"undefine", act_undefine, {NULL}},
};

static bool params_known(size_t action, json_object *params, GError **error)
{
    if (!params)
        return true;
    json_object_object_foreach(params, key, val)
    {
        bool ok = false;
        for (const char *const *p = actions[action].params; *p; p++)
            ok |= g_str_equal(*p, key);
        if (!ok) {
            g_autoptr(GString) known = g_string_new(NULL);
            for (const char *const *p = actions[action].params; *p; p++)
                g_string_append_printf(known, "%s%s", known->len ? ", " : "", *p);
            g_set_error(error, VIRT_ERROR, VIRT_ERR_INVALID,
                        "%s: unknown parameter of %s (it takes: %s)", key, actions[action].name,
                        known->len ? known->str : "none");
            return false;
        }
        (void)val;
    }
    return true;
}

bool virt_action_known(const char *action)
{
    for (size_t i = 0; i < G_N_ELEMENTS(actions); i++) {
        if (g_str_equal(actions[i].name, action))
            return true;
    }
    return false;
}

/* Records the end of an audit entry; a store failure here is logged, the
 * action's own result stands. */
static void audit_finish(struct virt_manager *m, int64_t audit_id, GError *action_error)
{
    g_autoptr(GError) err = NULL;
    if (m->store->ops->audit_end(m->store, audit_id, action_error == NULL,
                                 action_error ? action_error->message : NULL, &err) < 0)
        g_warning("audit %" G_GINT64_FORMAT ": %s", audit_id, err->message);
}

json_object *virt_action(struct virt_manager *m, int64_t host_id, const char *uuid,
                         const char *action, json_object *params, const struct virt_actor *who,
                         int64_t *ret_audit_id, GError **error)
{
    action_fn fn = NULL;
    size_t idx = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(actions); i++) {
        if (g_str_equal(actions[i].name, action)) {
            fn = actions[i].fn;
            idx = i;
        }
    }
    if (!fn) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_NOT_FOUND, "unknown action '%s'", action);
        return NULL;
    }

    struct action_ctx ctx = {.m = m, .params = params, .uuid = uuid, .who = who};
    const char *params_text =
        params ? json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN) : "{}";
    g_autoptr(GError) err = NULL;
    g_autofree char *target = NULL, *hostname = NULL;

    ctx.conn = virt_conn_ref(m, host_id, &ctx.vc, &err);
    if (ctx.conn) {
        ctx.dom = virDomainLookupByUUIDString(ctx.conn, uuid);
        if (ctx.dom)
            target = g_strdup(virDomainGetName(ctx.dom));
        else
            g_set_error(&err, VIRT_ERROR, VIRT_ERR_NOT_FOUND,
                        "domain %s no longer exists on its host", uuid);
        hostname = g_strdup(ctx.vc->name);
    }

    int64_t audit_id = 0;
    /* Refusals count too: the audit trail shows attempts, not only successes. */
    if (m->store->ops->audit_begin(m->store, who->name, who->token_id, action,
                                   target ? target : uuid, uuid, hostname, params_text, &audit_id,
                                   error) < 0) {
        g_prefix_error(error, "audit: ");
        (*error)->domain = VIRT_ERROR;
        (*error)->code = VIRT_ERR_INTERNAL;
        if (ctx.dom)
            virDomainFree(ctx.dom);
        if (ctx.conn)
            virConnectClose(ctx.conn);
        return NULL;
    }
    *ret_audit_id = audit_id;
    ctx.audit_id = audit_id;
    if (!err)
        params_known(idx, params, &err);
    if (!err) {
        virt_inflight_set(m, host_id, uuid, who->name, audit_id);
        ctx.reply = json_object_new_object();
        if (fn(&ctx, &err) == 0) {
            struct store_cause c = {.cause = "action", .actor = who->name, .audit_id = audit_id};
            g_autoptr(GError) serr = NULL;
            int r = ctx.removed ? virt_sync_all_domains(ctx.vc, ctx.conn, &c, &serr)
                                : virt_sync_domain(ctx.vc, ctx.dom, &c, &serr);
            if (r < 0)
                g_warning("after %s: inventory sync: %s", action, serr->message);
        }
        virt_inflight_clear(m, host_id, uuid);
    }
    audit_finish(m, audit_id, err);
    if (ctx.dom)
        virDomainFree(ctx.dom);
    if (ctx.conn)
        virConnectClose(ctx.conn);
    if (err) {
        json_object_put(ctx.reply);
        g_propagate_error(error, g_steal_pointer(&err));
        return NULL;
    }
    json_object_object_add(ctx.reply, "result", json_object_new_string("ok"));
    json_object_object_add(ctx.reply, "audit_id", json_object_new_int64(audit_id));
    return ctx.reply;
}

json_object *virt_define(struct virt_manager *m, int64_t host_id, const char *xml,
                         const struct virt_actor *who, int64_t *ret_audit_id, GError **error)
{
    struct virt_conn *vc = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(domxml_domain) parsed = domxml_domain_parse(xml, NULL);
    virConnectPtr conn = virt_conn_ref(m, host_id, &vc, &err);
    json_object *params = json_object_new_object();
    json_object_object_add(params, "xml_bytes", json_object_new_int64((int64_t)strlen(xml)));
    int64_t audit_id = 0;
    int r = m->store->ops->audit_begin(
        m->store, who->name, who->token_id, "define", parsed ? parsed->name : NULL,
        parsed ? parsed->uuid : NULL, vc ? vc->name : NULL,
        json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN), &audit_id, error);
    json_object_put(params);
    if (r < 0) {
        (*error)->domain = VIRT_ERROR;
        (*error)->code = VIRT_ERR_INTERNAL;
        if (conn)
            virConnectClose(conn);
        return NULL;
    }
    *ret_audit_id = audit_id;
    json_object *reply = NULL;
    if (conn) {
        virt_inflight_set(m, host_id, VIRT_INFLIGHT_DEFINE, who->name, audit_id);
        virDomainPtr dom = virDomainDefineXML(conn, xml);
        if (!dom) {
            fail_libvirt(&err, "define");
        } else {
            char uuid[VIR_UUID_STRING_BUFLEN];
            virDomainGetUUIDString(dom, uuid);
            g_autofree char *lower_uuid = g_ascii_strdown(uuid, -1);
            m->store->ops->audit_set_target(m->store, audit_id, virDomainGetName(dom), lower_uuid,
                                            NULL);
            struct store_cause c = {.cause = "action", .actor = who->name, .audit_id = audit_id};
            g_autoptr(GError) serr = NULL;
            if (virt_sync_domain(vc, dom, &c, &serr) < 0)
                g_warning("after define: inventory sync: %s", serr->message);
            reply = json_object_new_object();
            json_object_object_add(reply, "result", json_object_new_string("ok"));
            json_object_object_add(reply, "audit_id", json_object_new_int64(audit_id));
            json_object_object_add(reply, "uuid", json_object_new_string(lower_uuid));
            virDomainFree(dom);
        }
        virt_inflight_clear(m, host_id, VIRT_INFLIGHT_DEFINE);
        virConnectClose(conn);
    }
    audit_finish(m, audit_id, err);
    if (err)
        g_propagate_error(error, g_steal_pointer(&err));
    return reply;
}

json_object *virt_snapshots(struct virt_manager *m, int64_t host_id, const char *uuid,
                            GError **error)
{
    virConnectPtr conn = virt_conn_ref(m, host_id, NULL, error);
    if (!conn)
        return NULL;
    json_object *res = NULL;
    virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid);
    if (!dom) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_NOT_FOUND, "domain %s no longer exists", uuid);
        virConnectClose(conn);
        return NULL;
    }
    virDomainSnapshotPtr *snaps = NULL;
    int n = virDomainListAllSnapshots(dom, &snaps, 0);
    if (n < 0) {
        fail_libvirt(error, "listing snapshots");
    } else {
        json_object *arr = json_object_new_array();
        for (int i = 0; i < n; i++) {
            char *xml = virDomainSnapshotGetXMLDesc(snaps[i], 0);
            g_autoptr(domxml_snapshot) s = xml ? domxml_snapshot_parse(xml, NULL) : NULL;
            free(xml);
            json_object *o = json_object_new_object();
            json_object_object_add(o, "name",
                                   json_object_new_string(virDomainSnapshotGetName(snaps[i])));
            json_object_object_add(o, "state",
                                   s && s->state ? json_object_new_string(s->state) : NULL);
            g_autofree char *created =
                s ? time_format_rfc3339(s->creation_time * USEC_PER_SEC) : NULL;
            json_object_object_add(o, "created_at",
                                   created ? json_object_new_string(created) : NULL);
            json_object_object_add(
                o, "current",
                json_object_new_boolean(virDomainSnapshotIsCurrent(snaps[i], 0) == 1));
            json_object_object_add(o, "description",
                                   s && s->description ? json_object_new_string(s->description)
                                                       : NULL);
            json_object_object_add(o, "parent",
                                   s && s->parent ? json_object_new_string(s->parent) : NULL);
            json_object_array_add(arr, o);
            virDomainSnapshotFree(snaps[i]);
        }
        free(snaps);
        res = json_object_new_object();
        json_object_object_add(res, "snapshots", arr);
    }
    virDomainFree(dom);
    virConnectClose(conn);
    return res;
}
