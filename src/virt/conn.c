/*
 * Connection workers and inventory sync.
 *
 * Each connection has a thread that owns the reconnect loop and every
 * inventory read.  libvirt delivers events on its own event-loop thread
 * (started by virt_event_loop_start()); callbacks only queue a message for
 * the worker, so a slow host never blocks event delivery for the others.
 */
#include "config.h"

#include "virt/virt-private.h"

#include "virt/collect.h"

#include "basic/util.h"
#include "virt/domxml.h"

#include <errno.h>
#include <string.h>

G_DEFINE_QUARK(kanri_virt_error_quark, virt_error)

enum msg_type { MSG_RESYNC, MSG_DOMAIN, MSG_CLOSED, MSG_QUIT };

struct conn_msg {
    enum msg_type type;
    char *uuid; /* MSG_DOMAIN */
};

static void msg_free(struct conn_msg *msg)
{
    if (!msg)
        return;
    g_free(msg->uuid);
    g_free(msg);
}

static void post(struct virt_conn *vc, enum msg_type type, const char *uuid)
{
    struct conn_msg *msg = g_new0(struct conn_msg, 1);
    msg->type = type;
    msg->uuid = g_strdup(uuid);
    g_async_queue_push(vc->queue, msg);
}

static gpointer event_loop_thread(gpointer data)
{
    for (;;) {
        if (virEventRunDefaultImpl() < 0)
            g_usleep(100 * 1000);
    }
    return NULL;
}

/* libvirt prints every error to stderr by default; kanrid reports errors
 * itself, once, where they matter. */
static void quiet_errors(void *data, virErrorPtr err)
{
}

int virt_event_loop_start(GError **error)
{
    static gsize started = 0;
    if (g_once_init_enter(&started)) {
        if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
            g_set_error(error, VIRT_ERROR, VIRT_ERR_INTERNAL,
                        "cannot start libvirt's event loop: %s", virt_last_error());
            g_once_init_leave(&started, 2);
            return -EIO;
        }
        virSetErrorFunc(NULL, quiet_errors);
        g_thread_unref(g_thread_new("virt-events", event_loop_thread, NULL));
        g_once_init_leave(&started, 1);
    }
    return started == 1 ? 0 : -EIO;
}

const char *virt_last_error(void)
{
    const char *msg = virGetLastErrorMessage();
    return msg && *msg ? msg : "unknown libvirt error";
}

int virt_err_from_libvirt(void)
{
    virErrorPtr e = virGetLastError();
    if (!e)
        return VIRT_ERR_HYPERVISOR;
    switch (e->code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_DOMAIN_SNAPSHOT:
        return VIRT_ERR_NOT_FOUND;
    case VIR_ERR_OPERATION_INVALID:
        return VIRT_ERR_STATE;
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
        return VIRT_ERR_UNSUPPORTED;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_CONFIG_UNSUPPORTED:
        return VIRT_ERR_INVALID;
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
        return VIRT_ERR_TIMEOUT;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_RPC:
    case VIR_ERR_SYSTEM_ERROR:
        return VIRT_ERR_UNAVAILABLE;
    default:
        return VIRT_ERR_HYPERVISOR;
    }
}

const char *virt_state_name(int state)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING:
        return "running";
    case VIR_DOMAIN_BLOCKED:
        return "blocked";
    case VIR_DOMAIN_PAUSED:
        return "paused";
    case VIR_DOMAIN_SHUTDOWN:
        return "shutdown";
    case VIR_DOMAIN_SHUTOFF:
        return "shutoff";
    case VIR_DOMAIN_CRASHED:
        return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
        return "pmsuspended";
    default:
        return "nostate";
    }
}

const char *virt_state_reason(int state, int reason)
{
    /* The reasons an operator acts on; the rest read as "unknown". */
    switch (state) {
    case VIR_DOMAIN_RUNNING: {
        static const char *const r[] = {
            "unknown",       "booted",   "migrated",           "restored",
            "from-snapshot", "unpaused", "migration-canceled", "save-canceled",
            "wakeup",        "crashed",  "postcopy",           "postcopy-failed"};
        return reason >= 0 && reason < (int)G_N_ELEMENTS(r) ? r[reason] : "unknown";
    }
    case VIR_DOMAIN_PAUSED: {
        static const char *const r[] = {"unknown",       "user",
                                        "migration",     "save",
                                        "dump",          "ioerror",
                                        "watchdog",      "from-snapshot",
                                        "shutting-down", "snapshot",
                                        "crashed",       "starting-up",
                                        "postcopy",      "postcopy-failed",
                                        "api-error"};
        return reason >= 0 && reason < (int)G_N_ELEMENTS(r) ? r[reason] : "unknown";
    }
    case VIR_DOMAIN_SHUTOFF: {
        static const char *const r[] = {"unknown", "shutdown",      "destroyed",
                                        "crashed", "migrated",      "saved",
                                        "failed",  "from-snapshot", "daemon"};
        return reason >= 0 && reason < (int)G_N_ELEMENTS(r) ? r[reason] : "unknown";
    }
    case VIR_DOMAIN_CRASHED:
        return reason == 1 ? "panicked" : "unknown";
    default:
        return "unknown";
    }
}

/* ---- in-flight actions ---- */

static char *inflight_key(int64_t host_id, const char *uuid)
{
    return g_strdup_printf("%" G_GINT64_FORMAT "/%s", host_id, uuid);
}

static void inflight_free(gpointer p)
{
    struct inflight *f = p;
    g_free(f->actor);
    g_free(f);
}

void virt_inflight_set(struct virt_manager *m, int64_t host_id, const char *uuid, const char *actor,
                       int64_t audit_id)
{
    struct inflight *f = g_new0(struct inflight, 1);
    f->actor = g_strdup(actor);
    f->audit_id = audit_id;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&m->lock);
    g_hash_table_replace(m->inflight, inflight_key(host_id, uuid), f);
}

void virt_inflight_clear(struct virt_manager *m, int64_t host_id, const char *uuid)
{
    g_autofree char *key = inflight_key(host_id, uuid);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&m->lock);
    g_hash_table_remove(m->inflight, key);
}

/* The cause of what a sync sees on domain UUID: the action in flight on it
 * (or a define in flight on its host), else "external".  *ret_actor owns
 * the actor string the cause points to. */
static struct store_cause inflight_cause(struct virt_conn *vc, const char *uuid, char **ret_actor)
{
    struct virt_manager *m = vc->mgr;
    g_autofree char *key = inflight_key(vc->host_id, uuid);
    g_autofree char *define_key = inflight_key(vc->host_id, VIRT_INFLIGHT_DEFINE);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&m->lock);
    struct inflight *f = g_hash_table_lookup(m->inflight, key);
    /* A define's UUID is unknown until libvirt answers, and its event may
     * arrive first: while a define runs on this host, what appears there is
     * its doing. */
    if (!f)
        f = g_hash_table_lookup(m->inflight, define_key);
    if (!f)
        return (struct store_cause){.cause = "external"};
    *ret_actor = g_strdup(f->actor);
    return (struct store_cause){.cause = "action", .actor = *ret_actor, .audit_id = f->audit_id};
}

/* ---- inventory ---- */

static json_object *disks_to_json(virDomainPtr dom, const struct domxml_domain *x)
{
    json_object *arr = json_object_new_array();
    for (guint i = 0; i < x->disks->len; i++) {
        const struct domxml_disk *d = g_ptr_array_index(x->disks, i);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "target", json_object_new_string(d->target));
        json_object_object_add(o, "device", json_object_new_string(d->device ? d->device : "disk"));
        json_object_object_add(o, "type", d->type ? json_object_new_string(d->type) : NULL);
        json_object_object_add(o, "source", d->source ? json_object_new_string(d->source) : NULL);
        json_object_object_add(o, "format", d->format ? json_object_new_string(d->format) : NULL);
        virDomainBlockInfo bi;
        /* Sizes are best effort: an empty cdrom or an unreachable network
         * disk has none, and that is not an inventory failure. */
        if (d->source && virDomainGetBlockInfo(dom, d->target, &bi, 0) == 0) {
            json_object_object_add(o, "capacity_bytes",
                                   json_object_new_int64((int64_t)bi.capacity));
            json_object_object_add(o, "allocation_bytes",
                                   json_object_new_int64((int64_t)bi.allocation));
            json_object_object_add(o, "physical_bytes",
                                   json_object_new_int64((int64_t)bi.physical));
        } else {
            json_object_object_add(o, "capacity_bytes", NULL);
            json_object_object_add(o, "allocation_bytes", NULL);
            json_object_object_add(o, "physical_bytes", NULL);
        }
        json_object_array_add(arr, o);
    }
    return arr;
}

static json_object *nics_to_json(const struct domxml_domain *x)
{
    json_object *arr = json_object_new_array();
    for (guint i = 0; i < x->nics->len; i++) {
        const struct domxml_nic *n = g_ptr_array_index(x->nics, i);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "mac", n->mac ? json_object_new_string(n->mac) : NULL);
        json_object_object_add(o, "type", n->type ? json_object_new_string(n->type) : NULL);
        json_object_object_add(o, "source", n->source ? json_object_new_string(n->source) : NULL);
        json_object_object_add(o, "model", n->model ? json_object_new_string(n->model) : NULL);
        json_object_object_add(o, "target", n->target ? json_object_new_string(n->target) : NULL);
        json_object_array_add(arr, o);
    }
    return arr;
}

static char *json_take_string(json_object *o)
{
    char *s = g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

int virt_sync_domain(struct virt_conn *vc, virDomainPtr dom, const struct store_cause *cause,
                     GError **error)
{
    struct virt_manager *m = vc->mgr;
    struct store_domain d = {0};
    char uuid[VIR_UUID_STRING_BUFLEN];
    int state = 0, reason = 0;
    virDomainInfo info;
    int r = -EIO;

    if (virDomainGetUUIDString(dom, uuid) < 0 || virDomainGetState(dom, &state, &reason, 0) < 0 ||
        virDomainGetInfo(dom, &info) < 0) {
        g_set_error(error, VIRT_ERROR, virt_err_from_libvirt(), "%s", virt_last_error());
        return -EIO;
    }
    char *xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        g_set_error(error, VIRT_ERROR, virt_err_from_libvirt(), "%s", virt_last_error());
        return -EIO;
    }
    d.xml = g_strdup(xml);
    free(xml);
    g_autoptr(domxml_domain) x = domxml_domain_parse(d.xml, error);
    if (!x) {
        g_prefix_error(error, "domain %s: ", uuid);
        store_domain_clear(&d);
        return -EINVAL;
    }
    d.uuid = g_ascii_strdown(uuid, -1);
    d.name = g_strdup(virDomainGetName(dom));
    d.state = g_strdup(virt_state_name(state));
    d.state_reason = g_strdup(virt_state_reason(state, reason));
    d.persistent = virDomainIsPersistent(dom) == 1;
    int autostart = 0;
    d.autostart = d.persistent && virDomainGetAutostart(dom, &autostart) == 0 && autostart;
    /* virDomainGetInfo has the live balloon and vCPU figures; the XML the
     * configured ones. */
    d.vcpus = info.nrVirtCpu ? info.nrVirtCpu : x->vcpus;
    d.max_vcpus = x->max_vcpus;
    d.memory_bytes = (uint64_t)info.memory * 1024;
    d.max_memory_bytes = (uint64_t)info.maxMem * 1024;
    d.os_type = g_strdup(x->os_type);
    d.domain_type = g_strdup(x->domain_type);
    d.disks_json = json_take_string(disks_to_json(dom, x));
    d.nics_json = json_take_string(nics_to_json(x));
    d.has_agent = x->has_guest_agent;
    d.balloon_model = g_strdup(x->balloon_model);

    g_autofree char *actor = NULL;
    struct store_cause c = cause ? *cause : inflight_cause(vc, d.uuid, &actor);
    r = m->store->ops->domain_sync(m->store, vc->host_id, &d, &c, NULL, error);
    store_domain_clear(&d);
    return r;
}

int virt_sync_all_domains(struct virt_conn *vc, virConnectPtr conn, const struct store_cause *cause,
                          GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, 0);
    if (n < 0) {
        g_set_error(error, VIRT_ERROR, virt_err_from_libvirt(), "listing domains: %s",
                    virt_last_error());
        return -EIO;
    }
    g_autoptr(GPtrArray) present = g_ptr_array_new_with_free_func(g_free);
    int r = 0;
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        g_autoptr(GError) err = NULL;
        if (virDomainGetUUIDString(doms[i], uuid) == 0)
            g_ptr_array_add(present, g_ascii_strdown(uuid, -1));
        /* One bad domain (e.g. XML over a bound) must not hide the rest. */
        /* CAUSE is for the domains that disappeared; each one still here is
         * attributed on its own (an action in flight on it, or external). */
        if (virt_sync_domain(vc, doms[i], NULL, &err) < 0) {
            g_warning("host %s: %s", vc->name, err->message);
            if (err->domain == STORE_ERROR)
                r = -EIO;
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    g_ptr_array_add(present, NULL);
    struct store_cause c = cause ? *cause : (struct store_cause){.cause = "external"};
    struct virt_manager *m = vc->mgr;
    if (m->store->ops->domain_prune(m->store, vc->host_id, (const char *const *)present->pdata, &c,
                                    error) < 0)
        return -EIO;
    return r;
}

static void sync_host(struct virt_conn *vc, virConnectPtr conn)
{
    struct store *st = vc->mgr->store;
    struct store_host h = {.id = vc->host_id, .state = "connected"};
    virNodeInfo ni;
    unsigned long hv = 0, lib = 0;

    h.driver = g_strdup(virConnectGetType(conn));
    if (virConnectGetVersion(conn, &hv) == 0 && hv)
        h.hv_version = g_strdup_printf("%lu.%lu.%lu", hv / 1000000, (hv / 1000) % 1000, hv % 1000);
    if (virConnectGetLibVersion(conn, &lib) == 0)
        h.libvirt_version =
            g_strdup_printf("%lu.%lu.%lu", lib / 1000000, (lib / 1000) % 1000, lib % 1000);
    char *hn = virConnectGetHostname(conn);
    h.hostname = g_strdup(hn);
    free(hn);
    if (virNodeGetInfo(conn, &ni) == 0) {
        h.cpu_model = g_strdup(ni.model);
        h.cpus = (int)ni.cpus;
        h.mhz = (int)ni.mhz;
        h.memory_bytes = (uint64_t)ni.memory * 1024;
        h.numa_cells = (int)ni.nodes;
    }
    char *caps = virConnectGetCapabilities(conn);
    if (caps) {
        g_autoptr(domxml_caps) c = domxml_caps_parse(caps, NULL);
        if (c && c->numa_cells)
            h.numa_cells = (int)c->numa_cells;
        if (c && c->cpu_model) {
            g_free(h.cpu_model);
            h.cpu_model = g_strdup(c->cpu_model);
        }
        free(caps);
    }
    h.last_seen = now_usec();
    g_autoptr(GError) err = NULL;
    if (st->ops->host_update(st, &h, &err) < 0)
        g_warning("host %s: storing host facts: %s", vc->name, err->message);
    g_free(h.driver);
    g_free(h.hv_version);
    g_free(h.libvirt_version);
    g_free(h.hostname);
    g_free(h.cpu_model);
}

static void sync_pools_networks(struct virt_conn *vc, virConnectPtr conn)
{
    struct store *st = vc->mgr->store;
    virStoragePoolPtr *pools = NULL;
    int n = virConnectListAllStoragePools(conn, &pools, 0);
    if (n >= 0) {
        g_autoptr(GArray) arr = g_array_sized_new(FALSE, TRUE, sizeof(struct store_pool), (guint)n);
        for (int i = 0; i < n; i++) {
            struct store_pool p = {0};
            virStoragePoolInfo info;
            char uuid[VIR_UUID_STRING_BUFLEN];
            p.name = g_strdup(virStoragePoolGetName(pools[i]));
            if (virStoragePoolGetUUIDString(pools[i], uuid) == 0)
                p.uuid = g_strdup(uuid);
            if (virStoragePoolGetInfo(pools[i], &info) == 0) {
                static const char *const states[] = {"inactive", "building", "running", "degraded",
                                                     "inaccessible"};
                p.state = g_strdup((size_t)info.state < G_N_ELEMENTS(states) ? states[info.state]
                                                                             : "unknown");
                p.capacity = info.capacity;
                p.allocation = info.allocation;
                p.available = info.available;
            }
            /* The target path maps a disk's image to its pool for the
             * reconciliation (thin-pool-overcommit); a pool without one
             * (iSCSI, RBD) simply backs no file disk. */
            g_autofree char *pxml = virStoragePoolGetXMLDesc(pools[i], 0);
            p.target_path = pxml ? domxml_pool_target_path(pxml, NULL) : NULL;
            g_array_append_val(arr, p);
            virStoragePoolFree(pools[i]);
        }
        free(pools);
        g_autoptr(GError) err = NULL;
        if (st->ops->pools_replace(st, vc->host_id, (struct store_pool *)arr->data, arr->len,
                                   &err) < 0)
            g_warning("host %s: storing pools: %s", vc->name, err->message);
        for (guint i = 0; i < arr->len; i++) {
            struct store_pool *p = &g_array_index(arr, struct store_pool, i);
            g_free(p->name);
            g_free(p->uuid);
            g_free(p->state);
            g_free(p->target_path);
        }
    }

    virNetworkPtr *nets = NULL;
    n = virConnectListAllNetworks(conn, &nets, 0);
    if (n >= 0) {
        g_autoptr(GArray) arr =
            g_array_sized_new(FALSE, TRUE, sizeof(struct store_network), (guint)n);
        for (int i = 0; i < n; i++) {
            struct store_network p = {0};
            char uuid[VIR_UUID_STRING_BUFLEN];
            p.name = g_strdup(virNetworkGetName(nets[i]));
            if (virNetworkGetUUIDString(nets[i], uuid) == 0)
                p.uuid = g_strdup(uuid);
            p.active = virNetworkIsActive(nets[i]) == 1;
            char *br = virNetworkGetBridgeName(nets[i]);
            p.bridge = g_strdup(br);
            free(br);
            g_array_append_val(arr, p);
            virNetworkFree(nets[i]);
        }
        free(nets);
        /* The bridge lookup fails for networks without one; that is not an error. */
        virResetLastError();
        g_autoptr(GError) err = NULL;
        if (st->ops->networks_replace(st, vc->host_id, (struct store_network *)arr->data, arr->len,
                                      &err) < 0)
            g_warning("host %s: storing networks: %s", vc->name, err->message);
        for (guint i = 0; i < arr->len; i++) {
            struct store_network *p = &g_array_index(arr, struct store_network, i);
            g_free(p->name);
            g_free(p->uuid);
            g_free(p->bridge);
        }
    }
}

static void full_resync(struct virt_conn *vc, virConnectPtr conn)
{
    g_autoptr(GError) err = NULL;
    sync_host(vc, conn);
    sync_pools_networks(vc, conn);
    if (virt_sync_all_domains(vc, conn, NULL, &err) < 0)
        g_warning("host %s: resync: %s", vc->name, err->message);
}

/* ---- events ---- */

static void on_domain_event(virConnectPtr conn, virDomainPtr dom, void *opaque)
{
    struct virt_conn *vc = opaque;
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(dom, uuid) == 0)
        post(vc, MSG_DOMAIN, uuid);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    on_domain_event(conn, dom, opaque);
    return 0;
}

static void on_balloon(virConnectPtr conn, virDomainPtr dom, unsigned long long actual,
                       void *opaque)
{
    on_domain_event(conn, dom, opaque);
}

static void on_device(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    on_domain_event(conn, dom, opaque);
}

static void on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
                        void *opaque)
{
    on_domain_event(conn, dom, opaque);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
    post(opaque, MSG_CLOSED, NULL);
}

static void register_events(struct virt_conn *vc, virConnectPtr conn)
{
    static const struct {
        int id;
        virConnectDomainEventGenericCallback cb;
    } events[] = {
        {VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle)},
        {VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(on_balloon)},
        {VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_CALLBACK(on_device)},
        {VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_CALLBACK(on_device)},
        {VIR_DOMAIN_EVENT_ID_REBOOT, VIR_DOMAIN_EVENT_CALLBACK(on_domain_event)},
        {VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(on_metadata)},
    };
    vc->n_event_ids = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(events); i++) {
        int id = virConnectDomainEventRegisterAny(conn, NULL, events[i].id, events[i].cb, vc, NULL);
        /* Drivers without an event (e.g. the test driver lacks some) still work
         * through the periodic resync. */
        if (id >= 0)
            vc->event_ids[vc->n_event_ids++] = id;
    }
    virConnectRegisterCloseCallback(conn, on_close, vc, NULL);
    virResetLastError();
}

static void unregister_events(struct virt_conn *vc, virConnectPtr conn)
{
    for (int i = 0; i < vc->n_event_ids; i++)
        virConnectDomainEventDeregisterAny(conn, vc->event_ids[i]);
    vc->n_event_ids = 0;
    virConnectUnregisterCloseCallback(conn, on_close);
    virResetLastError();
}

/* ---- worker ---- */

static void set_state(struct virt_conn *vc, enum conn_state state, const char *reason)
{
    static const char *const names[] = {"connecting", "connected", "unreachable"};
    g_autoptr(GError) err = NULL;
    g_mutex_lock(&vc->lock);
    vc->state = state;
    g_mutex_unlock(&vc->lock);
    struct store *st = vc->mgr->store;
    if (st->ops->host_set_state(st, vc->host_id, names[state], reason, &err) < 0)
        g_warning("host %s: %s", vc->name, err->message);
}

static void disconnect(struct virt_conn *vc, const char *reason)
{
    g_mutex_lock(&vc->lock);
    virConnectPtr conn = vc->conn;
    vc->conn = NULL;
    g_mutex_unlock(&vc->lock);
    if (conn) {
        unregister_events(vc, conn);
        virConnectClose(conn);
    }
    set_state(vc, CONN_UNREACHABLE, reason);
    g_message("host %s: unreachable: %s", vc->name, reason);
}

/* Waits up to TIMEOUT_US for a message; returns false on quit. */
static bool wait_msg(struct virt_conn *vc, int64_t timeout_us, struct conn_msg **ret)
{
    struct conn_msg *msg = g_async_queue_timeout_pop(vc->queue, (guint64)MAX(timeout_us, 1));
    if (msg && msg->type == MSG_QUIT) {
        msg_free(msg);
        return false;
    }
    *ret = msg;
    return true;
}

static void handle_domain_msg(struct virt_conn *vc, virConnectPtr conn, const char *uuid)
{
    virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid);
    g_autoptr(GError) err = NULL;
    if (!dom) {
        /* Undefined (or a transient domain that stopped): prune it, as the
         * doing of an action in flight on it (undefine, migrate) if any. */
        virResetLastError();
        g_autofree char *actor = NULL;
        struct store_cause c = inflight_cause(vc, uuid, &actor);
        if (virt_sync_all_domains(vc, conn, &c, &err) < 0)
            g_warning("host %s: %s", vc->name, err->message);
        return;
    }
    if (virt_sync_domain(vc, dom, NULL, &err) < 0)
        g_warning("host %s: domain %s: %s", vc->name, uuid, err->message);
    virDomainFree(dom);
}

static gpointer worker_loop(struct virt_conn *vc);

static gpointer worker(gpointer data)
{
    struct virt_conn *vc = data;
    struct virt_manager *m = vc->mgr;
    worker_loop(vc);
    g_mutex_lock(&m->lock);
    m->running--;
    g_cond_broadcast(&m->exited);
    g_mutex_unlock(&m->lock);
    return NULL;
}

static gpointer worker_loop(struct virt_conn *vc)
{
    int64_t backoff = (int64_t)vc->reconnect_min * USEC_PER_SEC;
    struct conn_msg *msg = NULL;

    for (;;) {
        set_state(vc, CONN_CONNECTING, NULL);
        virConnectPtr conn = virConnectOpenAuth(vc->uri, virConnectAuthPtrDefault, 0);
        if (!conn) {
            disconnect(vc, virt_last_error());
            int64_t until = mono_usec() + backoff;
            backoff = MIN(backoff * 2, (int64_t)vc->reconnect_max * USEC_PER_SEC);
            /* Sleep out the backoff, but stay responsive to quit. */
            while (mono_usec() < until) {
                if (!wait_msg(vc, until - mono_usec(), &msg))
                    return NULL;
                msg_free(msg);
                msg = NULL;
            }
            continue;
        }
        backoff = (int64_t)vc->reconnect_min * USEC_PER_SEC;
        if (vc->keepalive_interval > 0)
            virConnectSetKeepAlive(conn, vc->keepalive_interval, (unsigned)vc->keepalive_count);
        virResetLastError();
        register_events(vc, conn);
        g_mutex_lock(&vc->lock);
        vc->conn = conn;
        g_mutex_unlock(&vc->lock);
        set_state(vc, CONN_CONNECTED, NULL);
        g_message("host %s: connected to %s", vc->name, vc->uri);

        full_resync(vc, conn);
        int64_t next_resync = mono_usec() + (int64_t)vc->mgr->resync_interval_sec * USEC_PER_SEC;
        bool alive = true;
        while (alive) {
            if (!wait_msg(vc, next_resync - mono_usec(), &msg)) {
                g_mutex_lock(&vc->lock);
                vc->conn = NULL;
                g_mutex_unlock(&vc->lock);
                unregister_events(vc, conn);
                virConnectClose(conn);
                return NULL;
            }
            if (!msg || msg->type == MSG_RESYNC) {
                full_resync(vc, conn);
                next_resync = mono_usec() + (int64_t)vc->mgr->resync_interval_sec * USEC_PER_SEC;
            } else if (msg->type == MSG_DOMAIN) {
                handle_domain_msg(vc, conn, msg->uuid);
            }
            alive = !(msg && msg->type == MSG_CLOSED) && virConnectIsAlive(conn) == 1;
            msg_free(msg);
            msg = NULL;
        }
        disconnect(vc, "connection to the hypervisor was lost");
        /* Back off briefly so a flapping daemon is not hammered. */
        if (!wait_msg(vc, backoff, &msg))
            return NULL;
        msg_free(msg);
        msg = NULL;
    }
}

/* ---- manager ---- */

struct virt_manager *virt_manager_new(struct store *st, int resync_interval_sec)
{
    struct virt_manager *m = g_new0(struct virt_manager, 1);
    m->store = st;
    m->resync_interval_sec = resync_interval_sec;
    g_mutex_init(&m->lock);
    g_cond_init(&m->exited);
    m->conns = g_ptr_array_new();
    m->inflight = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, inflight_free);
    return m;
}

int virt_manager_add(struct virt_manager *m, const struct conf_hypervisor *hv, GError **error)
{
    int64_t id;
    if (m->store->ops->host_ensure(m->store, hv->name, hv->uri, &id, error) < 0)
        return -EIO;
    struct virt_conn *vc = g_new0(struct virt_conn, 1);
    vc->mgr = m;
    vc->name = g_strdup(hv->name);
    vc->uri = g_strdup(hv->uri);
    vc->host_id = id;
    vc->keepalive_interval = hv->keepalive_interval;
    vc->keepalive_count = hv->keepalive_count;
    vc->reconnect_min = hv->reconnect_min;
    vc->reconnect_max = hv->reconnect_max;
    vc->queue = g_async_queue_new_full((GDestroyNotify)msg_free);
    g_mutex_init(&vc->lock);
    g_autofree char *tname = g_strdup_printf("conn-%s", hv->name);
    vc->thread = g_thread_new(tname, worker, vc);
    g_mutex_lock(&m->lock);
    g_ptr_array_add(m->conns, vc);
    m->running++;
    collect_maint_start(m); /* issue 5: history maintenance, once per manager */
    g_mutex_unlock(&m->lock);
    collect_start(vc); /* issue 5: host- and guest-view collector of this connection */
    return 0;
}

void virt_manager_resync_all(struct virt_manager *m)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&m->lock);
    for (guint i = 0; i < m->conns->len; i++)
        post(g_ptr_array_index(m->conns, i), MSG_RESYNC, NULL);
}

bool virt_manager_stop(struct virt_manager *m, int timeout_sec)
{
    if (!m)
        return true;
    g_mutex_lock(&m->lock);
    for (guint i = 0; i < m->conns->len; i++) {
        post(g_ptr_array_index(m->conns, i), MSG_QUIT, NULL);
        collect_request_stop(g_ptr_array_index(m->conns, i)); /* issue 5 */
    }
    collect_maint_stop(m);
    int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_sec * USEC_PER_SEC;
    while (m->running > 0 && g_cond_wait_until(&m->exited, &m->lock, deadline))
        ;
    bool all = m->running == 0;
    g_mutex_unlock(&m->lock);
    return all;
}

void virt_manager_free(struct virt_manager *m)
{
    if (!m)
        return;
    /* A worker stuck in a hung libvirt call is not waited for beyond the
     * timeout: the process is exiting and the kernel reclaims it; its
     * memory is then deliberately left alone since it may still run. */
    if (!virt_manager_stop(m, 10))
        return;
    virt_collect_free_all(m); /* issue 5 */
    for (guint i = 0; i < m->conns->len; i++) {
        struct virt_conn *vc = g_ptr_array_index(m->conns, i);
        g_thread_join(vc->thread);
        g_async_queue_unref(vc->queue);
        g_mutex_clear(&vc->lock);
        g_free(vc->name);
        g_free(vc->uri);
        g_free(vc);
    }
    g_ptr_array_unref(m->conns);
    g_hash_table_unref(m->inflight);
    g_mutex_clear(&m->lock);
    g_cond_clear(&m->exited);
    g_free(m);
}

virConnectPtr virt_conn_ref(struct virt_manager *m, int64_t host_id, struct virt_conn **ret_vc,
                            GError **error)
{
    struct virt_conn *vc = NULL;
    {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&m->lock);
        for (guint i = 0; i < m->conns->len; i++) {
            struct virt_conn *c = g_ptr_array_index(m->conns, i);
            if (c->host_id == host_id)
                vc = c;
        }
    }
    if (!vc) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_NOT_FOUND,
                    "host %" G_GINT64_FORMAT " is not configured in this kanrid", host_id);
        return NULL;
    }
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&vc->lock);
    if (!vc->conn) {
        g_set_error(error, VIRT_ERROR, VIRT_ERR_UNAVAILABLE,
                    "host '%s' is not connected right now; see GET /api/v1/hosts/%s for why",
                    vc->name, vc->name);
        return NULL;
    }
    virConnectRef(vc->conn);
    if (ret_vc)
        *ret_vc = vc;
    return vc->conn;
}
