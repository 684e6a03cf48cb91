/*
 * Lifecycle actions of the libvirt driver.  Each runs in the calling
 * thread (an API request, the engine's upkeep) on its own reference to the
 * host's connection, then syncs the domain and reports it with the cause
 * it was given.  The engine writes the audit entry and marks the domain in
 * flight around the call (src/engine/actions.c); parameters arrive typed
 * and bounded (model/action.h), so only rules that need the domain itself
 * are checked here.
 */
#include "config.h"

#include "virt/virt-private.h"

#include "basic/util.h"
#include "virt/domxml.h"

#include <errno.h>
#include <string.h>

struct action_ctx {
    struct virt_driver *d;
    struct virt_conn *vc;
    virConnectPtr conn;
    virDomainPtr dom;
    const struct action_request *req;
    struct action_result *res;
    const char *uuid; /* the domain's, lower case */
    const struct change_cause *cause;
};

typedef int (*action_fn)(struct action_ctx *ctx, GError **error);

static int fail_libvirt(GError **error, const char *what)
{
    /* Not "WHAT: ..." — that form names a request field in a 400. */
    g_set_error(error, DRIVER_ERROR, virt_err_from_libvirt(), "%s failed: %s", what,
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
    if (s < 0) {
        /* Not a state: the host did not answer (or the domain went). */
        /* Copied first: any further libvirt call (virDomainGetName too)
         * resets the thread's last error and frees its message. */
        virErrorPtr e = virGetLastError();
        int code =
            e && e->code == VIR_ERR_NO_DOMAIN ? DRIVER_ERR_NOT_FOUND : DRIVER_ERR_UNAVAILABLE;
        g_autofree char *why = g_strdup(virt_last_error());
        g_set_error(error, DRIVER_ERROR, code, "cannot read the state of domain '%s': %s",
                    virDomainGetName(ctx->dom), why);
        return -EIO;
    }
    g_set_error(error, DRIVER_ERROR, DRIVER_ERR_STATE, "domain '%s' is %s; this action needs it %s",
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
    int64_t timeout = action_int(ctx->req, "timeout", 60);
    bool force = action_bool(ctx->req, "force", false);
    int s = dom_state(ctx->dom);
    if (require_state(ctx, s == VIR_DOMAIN_RUNNING || s == VIR_DOMAIN_BLOCKED, "running", error))
        return -EBUSY;
    if (virDomainShutdown(ctx->dom) < 0)
        return fail_libvirt(error, "shutdown");
    int64_t deadline = mono_usec() + timeout * USEC_PER_SEC;
    while (mono_usec() < deadline) {
        s = dom_state(ctx->dom);
        if (s == VIR_DOMAIN_SHUTOFF)
            return 0;
        if (s < 0) {
            /* A transient domain is gone once it is off; anything else
             * (the connection dropped, libvirtd restarted) says nothing
             * about the guest: its outcome is unknown, not a success. */
            virErrorPtr e = virGetLastError();
            if (e && e->code == VIR_ERR_NO_DOMAIN)
                return 0;
            g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNAVAILABLE,
                        "outcome unknown: the host stopped answering while the guest was "
                        "shutting down (%s); see the VM's state once the host is back",
                        virt_last_error());
            return -EIO;
        }
        g_usleep(100 * 1000);
    }
    if (!force) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_TIMEOUT,
                    "the guest did not shut down within %" G_GINT64_FORMAT
                    " s (it may ignore ACPI); retry with force to destroy it after the timeout",
                    timeout);
        return -ETIMEDOUT;
    }
    if (virDomainDestroy(ctx->dom) < 0)
        return fail_libvirt(error, "destroy after shutdown timeout");
    ctx->res->forced = true;
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
            g_set_error(error, DRIVER_ERROR, DRIVER_ERR_STATE,
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
    const struct action_arg *ab = action_arg(ctx->req, "memory_bytes");
    const struct action_arg *am = action_arg(ctx->req, "memory_mib");
    bool has_bytes = ab && ab->set, has_mib = am && am->set;
    if (has_bytes == has_mib) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID,
                    "memory_bytes: give exactly one of memory_bytes or memory_mib");
        return -EINVAL;
    }
    int64_t bytes = has_bytes ? ab->i : 0, mib = has_mib ? am->i : 0;
    bool config = action_bool(ctx->req, "config", false);
    uint64_t kib = has_bytes ? (uint64_t)bytes / 1024 : (uint64_t)mib * 1024;
    unsigned long maxkib = virDomainGetMaxMemory(ctx->dom);
    if (maxkib && kib > maxkib) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID,
                    "%s: %" G_GUINT64_FORMAT " KiB is above the domain's maximum of %lu KiB",
                    has_bytes ? "memory_bytes" : "memory_mib", kib, maxkib);
        return -EINVAL;
    }
    int64_t wait = action_int(ctx->req, "wait", 10);
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
        ctx->res->actual_bytes = (int64_t)info.memory * 1024;
    ctx->res->reached = reached;
    return 0;
}

static int act_setvcpus(struct action_ctx *ctx, GError **error)
{
    int64_t n = action_int(ctx->req, "vcpus", 1);
    bool config = action_bool(ctx->req, "config", false);
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
            g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID,
                        "name: use letters, digits and - _ . : @ + only");
            return false;
        }
    }
    return true;
}

static int act_snapshot_create(struct action_ctx *ctx, GError **error)
{
    const char *name = action_str(ctx->req, "name");
    const char *desc = action_str(ctx->req, "description");
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
    ctx->res->snapshot = g_strdup(virDomainSnapshotGetName(snap));
    virDomainSnapshotFree(snap);
    return 0;
}

static virDomainSnapshotPtr lookup_snapshot(struct action_ctx *ctx, GError **error)
{
    const char *name = action_str(ctx->req, "name");
    if (!name) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID, "name: required");
        return NULL;
    }
    virDomainSnapshotPtr snap = virDomainSnapshotLookupByName(ctx->dom, name, 0);
    if (!snap)
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_NOT_FOUND,
                    "name: domain '%s' has no snapshot '%s'", virDomainGetName(ctx->dom), name);
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

/* Whether the last libvirt error is a refused TCP connection (libvirt's
 * system errors carry errno in int1). */
static bool connect_refused(void)
{
    virErrorPtr e = virGetLastError();
    return e && e->code == VIR_ERR_SYSTEM_ERROR && e->int1 == ECONNREFUSED;
}

static int act_migrate(struct action_ctx *ctx, GError **error)
{
    const char *to = action_str(ctx->req, "to_host");
    bool live = action_bool(ctx->req, "live", true);
    if (!to) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID, "to_host: required");
        return -EINVAL;
    }
    struct virt_conn *dst = virt_conn_find(ctx->d, to);
    if (!dst) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID, "to_host: no host named '%s'", to);
        return -EINVAL;
    }
    if (dst == ctx->vc) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID,
                    "to_host: the domain is already on host '%s'", to);
        return -EINVAL;
    }
    if (live && require_state(ctx, is_active_state(dom_state(ctx->dom)),
                              "running (or use live=false)", error))
        return -EBUSY;
    virConnectPtr dconn = virt_conn_ref(ctx->d, dst->host_id, NULL, error);
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
    const struct driver_sink *sink = ctx->d->sink;
    sink->inflight(sink->ctx, dst->host_id, ctx->uuid, ctx->cause);
    virDomainPtr nd = virDomainMigrate3(ctx->dom, dconn, NULL, 0, flags);
    /* libvirt connects to the destination QEMU's incoming port itself; a
     * refusal there happens before anything moved, and the domain still
     * runs here.  A lab run under load saw the nested second host's port
     * refused once, between two migrations that went through: ask again,
     * twice at most, a moment later. */
    for (int again = 1; !nd && again <= 2 && connect_refused(); again++) {
        g_message("migrate: %s: the destination refused the migration stream's connection "
                  "(%s); trying again (%d of 2)",
                  ctx->uuid, virt_last_error(), again);
        g_usleep((gulong)again * G_USEC_PER_SEC);
        nd = virDomainMigrate3(ctx->dom, dconn, NULL, 0, flags);
    }
    int r = 0;
    if (!nd) {
        r = fail_libvirt(error, "migrate");
    } else {
        g_autoptr(GError) err = NULL;
        if (virt_sync_domain(dst, nd, ctx->cause, &err) < 0)
            g_warning("migrate: syncing the destination: %s", err->message);
        virDomainFree(nd);
        ctx->res->removed = true;
        ctx->res->host = g_strdup(dst->name);
    }
    sink->inflight(sink->ctx, dst->host_id, ctx->uuid, NULL);
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
        if (rc < 0 && virt_err_from_libvirt() != DRIVER_ERR_UNSUPPORTED &&
            virt_err_from_libvirt() != DRIVER_ERR_INVALID)
            break;
    }
    if (rc < 0)
        return fail_libvirt(error, "undefine");
    ctx->res->removed = true;
    return 0;
}

/* kanrid's upkeep: the balloon statistics period the guest memory view
 * needs (docs/monitoring.md). */
static int act_set_balloon_period(struct action_ctx *ctx, GError **error)
{
    int period = (int)action_int(ctx->req, "period", 0);
    return virDomainSetMemoryStatsPeriod(ctx->dom, period, VIR_DOMAIN_AFFECT_LIVE) < 0
               ? fail_libvirt(error, "set-balloon-period")
               : 0;
}

static const action_fn actions[ACTION_N] = {
    [ACTION_START] = act_start,
    [ACTION_SHUTDOWN] = act_shutdown,
    [ACTION_REBOOT] = act_reboot,
    [ACTION_DESTROY] = act_destroy,
    [ACTION_SUSPEND] = act_suspend,
    [ACTION_RESUME] = act_resume,
    [ACTION_SETMEM] = act_setmem,
    [ACTION_SETVCPUS] = act_setvcpus,
    [ACTION_SNAPSHOT_CREATE] = act_snapshot_create,
    [ACTION_SNAPSHOT_REVERT] = act_snapshot_revert,
    [ACTION_SNAPSHOT_DELETE] = act_snapshot_delete,
    [ACTION_MIGRATE] = act_migrate,
    [ACTION_UNDEFINE] = act_undefine,
    [ACTION_SET_BALLOON_PERIOD] = act_set_balloon_period,
};

int virt_action(struct driver *base, int64_t host_id, const char *uuid,
                const struct action_request *req, const struct change_cause *cause,
                struct action_result *result, GError **error)
{
    struct virt_driver *d = (struct virt_driver *)base;
    action_fn fn = (unsigned)req->kind < ACTION_N ? actions[req->kind] : NULL;
    if (!fn) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNSUPPORTED,
                    "%s is for containers on a container host (liblxc); libvirt hosts have no "
                    "such action",
                    (unsigned)req->kind < ACTION_N ? action_specs[req->kind].name : "?");
        return -ENOTSUP;
    }
    struct action_ctx ctx = {.d = d, .req = req, .res = result, .uuid = uuid, .cause = cause};
    ctx.conn = virt_conn_ref(d, host_id, &ctx.vc, error);
    if (!ctx.conn)
        return -EIO;
    ctx.dom = virDomainLookupByUUIDString(ctx.conn, uuid);
    if (!ctx.dom) {
        virErrorPtr e = virGetLastError();
        bool gone = e && e->code == VIR_ERR_NO_DOMAIN;
        if (gone)
            g_set_error(error, DRIVER_ERROR, DRIVER_ERR_NOT_FOUND,
                        "domain %s no longer exists on its host", uuid);
        else /* the host did not answer: that says nothing about the domain */
            g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNAVAILABLE, "cannot look up domain %s: %s",
                        uuid, virt_last_error());
        virResetLastError();
        virConnectClose(ctx.conn);
        return gone ? -ENOENT : -EIO;
    }
    int r = fn(&ctx, error);
    if (r == 0) {
        g_autoptr(GError) serr = NULL;
        int s = result->removed ? virt_sync_all_domains(ctx.vc, ctx.conn, cause, &serr)
                                : virt_sync_domain(ctx.vc, ctx.dom, cause, &serr);
        if (s < 0)
            g_warning("after %s: inventory sync: %s", action_specs[req->kind].name, serr->message);
    }
    virResetLastError();
    virDomainFree(ctx.dom);
    virConnectClose(ctx.conn);
    return r;
}

int virt_define(struct driver *base, int64_t host_id, const char *xml,
                const struct change_cause *cause, char **ret_uuid, char **ret_name, GError **error)
{
    struct virt_driver *d = (struct virt_driver *)base;
    struct virt_conn *vc = NULL;
    g_autoptr(domxml_domain) parsed = domxml_domain_parse(xml, NULL);
    if (parsed) {
        *ret_name = g_strdup(parsed->name);
        *ret_uuid = g_strdup(parsed->uuid);
    }
    virConnectPtr conn = virt_conn_ref(d, host_id, &vc, error);
    if (!conn)
        return -EIO;
    virDomainPtr dom = virDomainDefineXML(conn, xml);
    int r = 0;
    if (!dom) {
        r = fail_libvirt(error, "define");
    } else {
        char uuid[VIR_UUID_STRING_BUFLEN];
        virDomainGetUUIDString(dom, uuid);
        g_free(*ret_uuid);
        *ret_uuid = g_ascii_strdown(uuid, -1);
        g_free(*ret_name);
        *ret_name = g_strdup(virDomainGetName(dom));
        g_autoptr(GError) serr = NULL;
        if (virt_sync_domain(vc, dom, cause, &serr) < 0)
            g_warning("after define: inventory sync: %s", serr->message);
        virDomainFree(dom);
    }
    virResetLastError();
    virConnectClose(conn);
    return r;
}

struct rows *virt_snapshots(struct driver *base, int64_t host_id, const char *uuid, GError **error)
{
    struct virt_driver *d = (struct virt_driver *)base;
    virConnectPtr conn = virt_conn_ref(d, host_id, NULL, error);
    if (!conn)
        return NULL;
    struct rows *res = NULL;
    virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid);
    if (!dom) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_NOT_FOUND, "domain %s no longer exists", uuid);
        virResetLastError();
        virConnectClose(conn);
        return NULL;
    }
    virDomainSnapshotPtr *snaps = NULL;
    int n = virDomainListAllSnapshots(dom, &snaps, 0);
    if (n < 0) {
        fail_libvirt(error, "listing snapshots");
    } else {
        res = rows_new(&snapshot_row_desc);
        for (int i = 0; i < n; i++) {
            char *xml = virDomainSnapshotGetXMLDesc(snaps[i], 0);
            g_autoptr(domxml_snapshot) s = xml ? domxml_snapshot_parse(xml, NULL) : NULL;
            free(xml);
            struct snapshot_row *row = rows_add(res);
            row->name = g_strdup(virDomainSnapshotGetName(snaps[i]));
            row->state = g_strdup(s ? s->state : NULL);
            row->created_at = s && s->creation_time > 0 ? s->creation_time * USEC_PER_SEC : 0;
            row->current = virDomainSnapshotIsCurrent(snaps[i], 0) == 1;
            row->description = g_strdup(s ? s->description : NULL);
            row->parent = g_strdup(s ? s->parent : NULL);
            virDomainSnapshotFree(snaps[i]);
        }
        free(snaps);
    }
    virResetLastError();
    virDomainFree(dom);
    virConnectClose(conn);
    return res;
}
