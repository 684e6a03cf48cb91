/*
 * Connection workers, inventory sync and the driver's operations table.
 *
 * Each connection has a thread that owns the reconnect loop and every
 * inventory read.  libvirt delivers events on its own event-loop thread
 * (started by virt_event_loop_start()); callbacks only queue a message for
 * the worker, so a slow host never blocks event delivery for the others.
 * Everything learned is reported to the engine's sink (model/driver.h);
 * the host is reported connected only once a full inventory sync is done.
 */
#include "config.h"

#include "virt/virt-private.h"

#include "basic/util.h"
#include "virt/domxml.h"

#include <errno.h>
#include <string.h>

enum msg_type { MSG_RESYNC, MSG_DOMAIN, MSG_CLOSED, MSG_HOLD, MSG_QUIT };

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
            g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INTERNAL,
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

bool virt_dom_uuid(virDomainPtr dom, char out[VIR_UUID_STRING_BUFLEN])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[VIR_UUID_BUFLEN];
    if (virDomainGetUUID(dom, raw) < 0)
        return false;
    char *p = out;
    for (int i = 0; i < VIR_UUID_BUFLEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[raw[i] >> 4];
        *p++ = hex[raw[i] & 15];
    }
    *p = '\0';
    return true;
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
        return DRIVER_ERR_HYPERVISOR;
    switch (e->code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_DOMAIN_SNAPSHOT:
        return DRIVER_ERR_NOT_FOUND;
    case VIR_ERR_OPERATION_INVALID:
        return DRIVER_ERR_STATE;
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
        return DRIVER_ERR_UNSUPPORTED;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_CONFIG_UNSUPPORTED:
        return DRIVER_ERR_INVALID;
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
        return DRIVER_ERR_TIMEOUT;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_RPC:
    case VIR_ERR_SYSTEM_ERROR:
        return DRIVER_ERR_UNAVAILABLE;
    default:
        return DRIVER_ERR_HYPERVISOR;
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

/* ---- facts shared with the collector ---- */

void dom_facts_clear(struct dom_facts *f)
{
    g_free(f->balloon_model);
    memset(f, 0, sizeof(*f));
}

static void dom_facts_free(gpointer p)
{
    dom_facts_clear(p);
    g_free(p);
}

bool virt_facts_get(struct virt_conn *vc, const char *uuid, struct dom_facts *ret)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&vc->lock);
    const struct dom_facts *f = g_hash_table_lookup(vc->facts, uuid);
    if (!f)
        return false;
    *ret = *f;
    ret->balloon_model = g_strdup(f->balloon_model);
    return true;
}

static void facts_put(struct virt_conn *vc, const struct domain_info *d)
{
    struct dom_facts *f = g_new0(struct dom_facts, 1);
    f->has_agent = d->has_agent;
    f->balloon_model = g_strdup(d->balloon_model);
    f->balloon_period = d->balloon_period;
    f->test = g_strcmp0(d->domain_type, "test") == 0;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&vc->lock);
    g_hash_table_replace(vc->facts, g_strdup(d->uuid), f);
}

/* ---- inventory ---- */

static bool is_active_state(int s)
{
    return s == VIR_DOMAIN_RUNNING || s == VIR_DOMAIN_BLOCKED || s == VIR_DOMAIN_PAUSED ||
           s == VIR_DOMAIN_SHUTDOWN || s == VIR_DOMAIN_PMSUSPENDED;
}

static void add_disks(struct domain_info *d, virDomainPtr dom, const struct domxml_domain *x)
{
    for (guint i = 0; i < x->disks->len; i++) {
        const struct domxml_disk *xd = g_ptr_array_index(x->disks, i);
        struct disk_info *di = g_new0(struct disk_info, 1);
        di->target = g_strdup(xd->target);
        di->device = g_strdup(xd->device ? xd->device : "disk");
        di->type = g_strdup(xd->type);
        di->source = g_strdup(xd->source);
        di->format = g_strdup(xd->format);
        di->capacity = di->allocation = di->physical = G_MININT64;
        virDomainBlockInfo bi;
        /* Sizes are best effort: an empty cdrom or an unreachable network
         * disk has none, and that is not an inventory failure. */
        if (xd->source && virDomainGetBlockInfo(dom, xd->target, &bi, 0) == 0) {
            di->capacity = (int64_t)bi.capacity;
            di->allocation = (int64_t)bi.allocation;
            di->physical = (int64_t)bi.physical;
        }
        g_ptr_array_add(d->disks, di);
    }
    virResetLastError();
}

static void add_nics(struct domain_info *d, const struct domxml_domain *x)
{
    for (guint i = 0; i < x->nics->len; i++) {
        const struct domxml_nic *xn = g_ptr_array_index(x->nics, i);
        struct nic_info *n = g_new0(struct nic_info, 1);
        n->mac = g_strdup(xn->mac);
        n->type = g_strdup(xn->type);
        n->source = g_strdup(xn->source);
        n->model = g_strdup(xn->model);
        n->target = g_strdup(xn->target);
        g_ptr_array_add(d->nics, n);
    }
}

int virt_sync_domain(struct virt_conn *vc, virDomainPtr dom, const struct change_cause *cause,
                     GError **error)
{
    g_autoptr(GRecMutexLocker) sl = g_rec_mutex_locker_new(&vc->sync_lock);
    char uuid[VIR_UUID_STRING_BUFLEN];
    int state = 0, reason = 0;
    virDomainInfo info;

    if (!virt_dom_uuid(dom, uuid) || virDomainGetState(dom, &state, &reason, 0) < 0 ||
        virDomainGetInfo(dom, &info) < 0) {
        g_set_error(error, DRIVER_ERROR, virt_err_from_libvirt(), "%s", virt_last_error());
        return -EIO;
    }
    char *xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        g_set_error(error, DRIVER_ERROR, virt_err_from_libvirt(), "%s", virt_last_error());
        return -EIO;
    }
    g_autoptr(domain_info) d = domain_info_new();
    d->xml = g_strdup(xml);
    free(xml);
    g_autoptr(domxml_domain) x = domxml_domain_parse(d->xml, error);
    if (!x) {
        g_prefix_error(error, "domain %s: ", uuid);
        return -EINVAL;
    }
    d->uuid = g_strdup(uuid);
    d->name = g_strdup(virDomainGetName(dom));
    d->state = g_strdup(virt_state_name(state));
    d->state_reason = g_strdup(virt_state_reason(state, reason));
    d->running = is_active_state(state);
    d->persistent = virDomainIsPersistent(dom) == 1;
    int autostart = 0;
    d->autostart = d->persistent && virDomainGetAutostart(dom, &autostart) == 0 && autostart;
    /* virDomainGetInfo has the live balloon and vCPU figures; the XML the
     * configured ones. */
    d->vcpus = info.nrVirtCpu ? info.nrVirtCpu : x->vcpus;
    d->max_vcpus = x->max_vcpus;
    d->memory_bytes = (uint64_t)info.memory * 1024;
    d->max_memory_bytes = (uint64_t)info.maxMem * 1024;
    d->os_type = g_strdup(x->os_type);
    d->domain_type = g_strdup(x->domain_type);
    add_disks(d, dom, x);
    add_nics(d, x);
    d->has_agent = x->has_guest_agent;
    d->balloon_model = g_strdup(x->balloon_model);
    d->balloon_period = MAX(x->balloon_stats_period, 0);
    /* A change made with --config to a running domain is only in its
     * persistent definition until the next boot: read that one too, so
     * the engine can version it.  Failing to read it loses only that. */
    if (d->running && d->persistent) {
        char *inactive = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        /* Bounded like the live XML (domxml_domain_parse refuses more). */
        if (inactive && strnlen(inactive, (size_t)DOMXML_MAX_BYTES + 1) <= DOMXML_MAX_BYTES)
            d->inactive_xml = g_strdup(inactive);
        free(inactive);
    }
    virResetLastError();

    facts_put(vc, d);
    vc->drv->sink->domain(vc->drv->sink->ctx, vc->host_id, g_steal_pointer(&d), cause);
    return 0;
}

int virt_sync_all_domains(struct virt_conn *vc, virConnectPtr conn,
                          const struct change_cause *cause, GError **error)
{
    g_autoptr(GRecMutexLocker) sl = g_rec_mutex_locker_new(&vc->sync_lock);
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, 0);
    if (n < 0) {
        g_set_error(error, DRIVER_ERROR, virt_err_from_libvirt(), "listing domains: %s",
                    virt_last_error());
        return -EIO;
    }
    g_autoptr(GPtrArray) present = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; i < n; i++) {
        if (g_atomic_int_get(&vc->drv->quitting)) {
            /* kanrid is stopping: the rest is not read (thousands of
             * domains take a while), and a partial listing says nothing
             * of the domains not reached. */
            for (int j = i; j < n; j++)
                virDomainFree(doms[j]);
            free(doms);
            g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNAVAILABLE, "kanrid is stopping");
            return -ECANCELED;
        }
        char uuid[VIR_UUID_STRING_BUFLEN];
        g_autoptr(GError) err = NULL;
        if (virt_dom_uuid(doms[i], uuid))
            g_ptr_array_add(present, g_strdup(uuid));
        /* One bad domain (e.g. XML over a bound) must not hide the rest.
         * CAUSE is for the domains that disappeared; each one still here is
         * attributed on its own (an action in flight on it, or external). */
        if (virt_sync_domain(vc, doms[i], NULL, &err) < 0)
            g_warning("host %s: %s", vc->name, err->message);
        virDomainFree(doms[i]);
    }
    free(doms);
    g_ptr_array_add(present, NULL);
    vc->drv->sink->domains_present(vc->drv->sink->ctx, vc->host_id,
                                   (const char *const *)present->pdata, cause);
    /* The collector forgets the facts of domains gone. */
    g_autoptr(GHashTable) keep = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i + 1 < present->len; i++)
        g_hash_table_add(keep, g_ptr_array_index(present, i));
    g_mutex_lock(&vc->lock);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, vc->facts);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (!g_hash_table_contains(keep, k))
            g_hash_table_iter_remove(&it);
    }
    g_mutex_unlock(&vc->lock);
    return 0;
}

static char *version_text(unsigned long v)
{
    return g_strdup_printf("%lu.%lu.%lu", v / 1000000, (v / 1000) % 1000, v % 1000);
}

static void sync_host(struct virt_conn *vc, virConnectPtr conn)
{
    struct host_info *h = g_new0(struct host_info, 1);
    virNodeInfo ni;
    unsigned long hv = 0, lib = 0;

    h->driver = g_strdup(virConnectGetType(conn));
    if (virConnectGetVersion(conn, &hv) == 0 && hv)
        h->hv_version = version_text(hv);
    if (virConnectGetLibVersion(conn, &lib) == 0)
        h->libvirt_version = version_text(lib);
    char *hn = virConnectGetHostname(conn);
    h->hostname = g_strdup(hn);
    free(hn);
    if (virNodeGetInfo(conn, &ni) == 0) {
        h->cpu_model = g_strdup(ni.model);
        h->cpus = (int)ni.cpus;
        h->mhz = (int)ni.mhz;
        h->memory_bytes = (uint64_t)ni.memory * 1024;
        h->numa_cells = (int)ni.nodes;
    }
    char *caps = virConnectGetCapabilities(conn);
    if (caps) {
        g_autoptr(domxml_caps) c = domxml_caps_parse(caps, NULL);
        if (c && c->numa_cells)
            h->numa_cells = (int)c->numa_cells;
        if (c && c->cpu_model) {
            g_free(h->cpu_model);
            h->cpu_model = g_strdup(c->cpu_model);
        }
        free(caps);
    }
    virResetLastError();
    vc->drv->sink->host_info(vc->drv->sink->ctx, vc->host_id, h);
}

static void sync_pools_networks(struct virt_conn *vc, virConnectPtr conn)
{
    const struct driver_sink *sink = vc->drv->sink;
    virStoragePoolPtr *pools = NULL;
    int n = virConnectListAllStoragePools(conn, &pools, 0);
    if (n >= 0) {
        GPtrArray *arr = g_ptr_array_new_with_free_func((GDestroyNotify)pool_info_free);
        for (int i = 0; i < n; i++) {
            struct pool_info *p = g_new0(struct pool_info, 1);
            virStoragePoolInfo info;
            char uuid[VIR_UUID_STRING_BUFLEN];
            p->name = g_strdup(virStoragePoolGetName(pools[i]));
            if (virStoragePoolGetUUIDString(pools[i], uuid) == 0)
                p->uuid = g_strdup(uuid);
            if (virStoragePoolGetInfo(pools[i], &info) == 0) {
                static const char *const states[] = {"inactive", "building", "running", "degraded",
                                                     "inaccessible"};
                p->state = g_strdup((size_t)info.state < G_N_ELEMENTS(states) ? states[info.state]
                                                                              : "unknown");
                p->capacity = info.capacity;
                p->allocation = info.allocation;
                p->available = info.available;
            }
            /* The target path maps a disk's image to its pool for the
             * reconciliation (thin-pool-overcommit); a pool without one
             * (iSCSI, RBD) simply backs no file disk. */
            g_autofree char *pxml = virStoragePoolGetXMLDesc(pools[i], 0);
            p->target_path = pxml ? domxml_pool_target_path(pxml, NULL) : NULL;
            g_ptr_array_add(arr, p);
            virStoragePoolFree(pools[i]);
        }
        free(pools);
        sink->pools(sink->ctx, vc->host_id, arr);
    }

    virNetworkPtr *nets = NULL;
    n = virConnectListAllNetworks(conn, &nets, 0);
    if (n >= 0) {
        GPtrArray *arr = g_ptr_array_new_with_free_func((GDestroyNotify)network_info_free);
        for (int i = 0; i < n; i++) {
            struct network_info *p = g_new0(struct network_info, 1);
            char uuid[VIR_UUID_STRING_BUFLEN];
            p->name = g_strdup(virNetworkGetName(nets[i]));
            if (virNetworkGetUUIDString(nets[i], uuid) == 0)
                p->uuid = g_strdup(uuid);
            p->active = virNetworkIsActive(nets[i]) == 1;
            char *br = virNetworkGetBridgeName(nets[i]);
            p->bridge = g_strdup(br);
            free(br);
            g_ptr_array_add(arr, p);
            virNetworkFree(nets[i]);
        }
        free(nets);
        sink->networks(sink->ctx, vc->host_id, arr);
    }
    /* The bridge lookup fails for networks without one; that is not an error. */
    virResetLastError();
}

/* A full resync; true when the domain listing (the part readiness needs)
 * succeeded. */
static bool full_resync(struct virt_conn *vc, virConnectPtr conn)
{
    g_autoptr(GError) err = NULL;
    sync_host(vc, conn);
    sync_pools_networks(vc, conn);
    int r = virt_sync_all_domains(vc, conn, NULL, &err);
    if (r == -ECANCELED)
        return false;
    if (r < 0) {
        g_warning("host %s: resync: %s", vc->name, err->message);
        return false;
    }
    vc->drv->sink->inventory_synced(vc->drv->sink->ctx, vc->host_id);
    return true;
}

/* ---- events ---- */

static void on_domain_event(virConnectPtr conn, virDomainPtr dom, void *opaque)
{
    struct virt_conn *vc = opaque;
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virt_dom_uuid(dom, uuid))
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
    g_mutex_lock(&vc->lock);
    vc->state = state;
    g_mutex_unlock(&vc->lock);
    if (state == CONN_CONNECTED)
        return; /* reported by full_resync() once the inventory is in */
    enum host_state hs = state == CONN_CONNECTING ? HOST_CONNECTING : HOST_UNREACHABLE;
    vc->drv->sink->host_state(vc->drv->sink->ctx, vc->host_id, hs, reason);
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
}

/* Closes the connection CONN of VC without reporting anything. */
static void close_conn(struct virt_conn *vc, virConnectPtr conn)
{
    g_mutex_lock(&vc->lock);
    vc->conn = NULL;
    g_mutex_unlock(&vc->lock);
    unregister_events(vc, conn);
    virConnectClose(conn);
}

bool virt_conn_held(struct virt_conn *vc)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&vc->lock);
    return vc->held;
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
        /* Undefined (or a transient domain that stopped): a full listing
         * tells the engine it is gone; the engine attributes the removal
         * to an action in flight on it (undefine, migrate) if any. */
        virResetLastError();
        if (virt_sync_all_domains(vc, conn, NULL, &err) < 0)
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
    worker_loop(vc);
    virt_thread_exited(vc->drv);
    return NULL;
}

/* Waits, connected to nothing and reporting nothing, until VC's host is
 * held; false on quit. */
static bool wait_held(struct virt_conn *vc)
{
    while (!virt_conn_held(vc)) {
        struct conn_msg *msg = NULL;
        if (!wait_msg(vc, 3600 * USEC_PER_SEC, &msg))
            return false;
        msg_free(msg);
    }
    return true;
}

static gpointer worker_loop(struct virt_conn *vc)
{
    int64_t backoff = (int64_t)vc->reconnect_min * USEC_PER_SEC;
    int64_t resync_us = (int64_t)vc->drv->conf.resync_interval_s * USEC_PER_SEC;
    struct conn_msg *msg = NULL;

    for (;;) {
        if (!wait_held(vc))
            return NULL;
        set_state(vc, CONN_CONNECTING, NULL);
        virConnectPtr conn = virConnectOpenAuth(vc->uri, virConnectAuthPtrDefault, 0);
        if (!conn) {
            disconnect(vc, virt_last_error());
            int64_t until = mono_usec() + backoff;
            backoff = MIN(backoff * 2, (int64_t)vc->reconnect_max * USEC_PER_SEC);
            /* Sleep out the backoff, but stay responsive to quit and
             * to a release. */
            while (mono_usec() < until && virt_conn_held(vc)) {
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

        /* Until a full listing succeeds the host stays "connecting": a
         * client must not be told an existing VM does not exist. */
        bool synced = full_resync(vc, conn);
        int64_t next_resync = mono_usec() + (synced ? resync_us : backoff);
        bool alive = virConnectIsAlive(conn) == 1, released = false;
        while (alive) {
            if (!wait_msg(vc, next_resync - mono_usec(), &msg)) {
                close_conn(vc, conn);
                return NULL;
            }
            released = !virt_conn_held(vc);
            /* MSG_HOLD while held: released and held again between two
             * looks, and the engine waits for a full sync. */
            if (released) {
            } else if (!msg || msg->type == MSG_RESYNC || msg->type == MSG_HOLD) {
                synced = full_resync(vc, conn);
                next_resync = mono_usec() + (synced ? resync_us : backoff);
            } else if (msg->type == MSG_DOMAIN) {
                handle_domain_msg(vc, conn, msg->uuid);
            }
            alive = !released && !(msg && msg->type == MSG_CLOSED) && virConnectIsAlive(conn) == 1;
            msg_free(msg);
            msg = NULL;
        }
        if (released) {
            /* Another instance collects it now: say nothing more. */
            close_conn(vc, conn);
            g_mutex_lock(&vc->lock);
            vc->state = CONN_UNREACHABLE;
            g_mutex_unlock(&vc->lock);
            continue;
        }
        disconnect(vc, "connection to the hypervisor was lost");
        /* Back off briefly so a flapping daemon is not hammered. */
        if (!wait_msg(vc, backoff, &msg))
            return NULL;
        msg_free(msg);
        msg = NULL;
    }
}

/* ---- the driver ---- */

void virt_thread_started(struct virt_driver *d)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&d->lock);
    d->running++;
}

void virt_thread_exited(struct virt_driver *d)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&d->lock);
    d->running--;
    g_cond_broadcast(&d->exited);
}

static int virt_host_add(struct driver *base, int64_t host_id, const struct driver_host_conf *hc,
                         GError **error)
{
    struct virt_driver *d = (struct virt_driver *)base;
    struct virt_conn *vc = g_new0(struct virt_conn, 1);
    vc->drv = d;
    vc->name = g_strdup(hc->name);
    vc->uri = g_strdup(hc->uri);
    vc->host_id = host_id;
    vc->keepalive_interval = hc->keepalive_interval;
    vc->keepalive_count = hc->keepalive_count;
    vc->reconnect_min = MAX(hc->reconnect_min, 1);
    vc->reconnect_max = MAX(hc->reconnect_max, vc->reconnect_min);
    vc->held = !hc->released;
    vc->queue = g_async_queue_new_full((GDestroyNotify)msg_free);
    vc->facts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, dom_facts_free);
    g_mutex_init(&vc->lock);
    g_rec_mutex_init(&vc->sync_lock);
    g_mutex_lock(&d->lock);
    g_ptr_array_add(d->conns, vc);
    g_mutex_unlock(&d->lock);
    virt_thread_started(d);
    g_autofree char *tname = g_strdup_printf("conn-%s", hc->name);
    vc->thread = g_thread_new(tname, worker, vc);
    collect_start(vc);
    return 0;
}

static void virt_host_hold(struct driver *base, int64_t host_id, bool held)
{
    struct virt_driver *d = (struct virt_driver *)base;
    struct virt_conn *vc = NULL;
    g_mutex_lock(&d->lock);
    for (guint i = 0; i < d->conns->len && !vc; i++) {
        struct virt_conn *c = g_ptr_array_index(d->conns, i);
        if (c->host_id == host_id)
            vc = c;
    }
    g_mutex_unlock(&d->lock);
    if (!vc)
        return;
    g_mutex_lock(&vc->lock);
    bool changed = vc->held != held;
    vc->held = held;
    g_mutex_unlock(&vc->lock);
    if (changed)
        post(vc, MSG_HOLD, NULL);
}

static void virt_resync_all(struct driver *base)
{
    struct virt_driver *d = (struct virt_driver *)base;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&d->lock);
    for (guint i = 0; i < d->conns->len; i++)
        post(g_ptr_array_index(d->conns, i), MSG_RESYNC, NULL);
}

static bool virt_stop(struct driver *base, int timeout_s)
{
    struct virt_driver *d = (struct virt_driver *)base;
    g_atomic_int_set(&d->quitting, 1);
    g_mutex_lock(&d->lock);
    for (guint i = 0; i < d->conns->len; i++) {
        post(g_ptr_array_index(d->conns, i), MSG_QUIT, NULL);
        collect_request_stop(g_ptr_array_index(d->conns, i));
    }
    int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_s * USEC_PER_SEC;
    while (d->running > 0 && g_cond_wait_until(&d->exited, &d->lock, deadline))
        ;
    bool all = d->running == 0;
    g_mutex_unlock(&d->lock);
    return all;
}

static void virt_free(struct driver *base)
{
    struct virt_driver *d = (struct virt_driver *)base;
    if (!d)
        return;
    /* A worker stuck in a hung libvirt call is not waited for beyond the
     * timeout: the process is exiting and the kernel reclaims it; its
     * memory is then deliberately left alone since it may still run. */
    if (!virt_stop(base, 10))
        return;
    for (guint i = 0; i < d->conns->len; i++) {
        struct virt_conn *vc = g_ptr_array_index(d->conns, i);
        collect_free(vc);
        g_thread_join(vc->thread);
        g_async_queue_unref(vc->queue);
        g_hash_table_unref(vc->facts);
        g_mutex_clear(&vc->lock);
        g_rec_mutex_clear(&vc->sync_lock);
        g_free(vc->name);
        g_free(vc->uri);
        g_free(vc);
    }
    g_ptr_array_unref(d->conns);
    g_mutex_clear(&d->lock);
    g_cond_clear(&d->exited);
    g_free(d);
}

static const struct driver_ops virt_ops = {
    .name = "libvirt",
    .host_add = virt_host_add,
    .host_hold = virt_host_hold,
    .resync_all = virt_resync_all,
    .stop = virt_stop,
    .free = virt_free,
    .action = virt_action,
    .define = virt_define,
    .snapshots = virt_snapshots,
    .domain_definition = virt_domain_definition,
    .volume_clone = virt_volume_clone,
    .volume_delete = virt_volume_delete,
    .volume_upload = virt_volume_upload,
};

struct driver *virt_driver_new(const struct virt_conf *conf, const struct driver_sink *sink)
{
    struct virt_driver *d = g_new0(struct virt_driver, 1);
    d->base.ops = &virt_ops;
    d->sink = sink;
    d->conf = *conf;
    d->conf.resync_interval_s = MAX(d->conf.resync_interval_s, 1);
    g_mutex_init(&d->lock);
    g_cond_init(&d->exited);
    d->conns = g_ptr_array_new();
    return &d->base;
}

struct virt_conn *virt_conn_find(struct virt_driver *d, const char *name_or_id)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&d->lock);
    for (guint i = 0; i < d->conns->len; i++) {
        struct virt_conn *c = g_ptr_array_index(d->conns, i);
        g_autofree char *id = g_strdup_printf("%" G_GINT64_FORMAT, c->host_id);
        if (g_str_equal(c->name, name_or_id) || g_str_equal(id, name_or_id))
            return c;
    }
    return NULL;
}

virConnectPtr virt_conn_ref(struct virt_driver *d, int64_t host_id, struct virt_conn **ret_vc,
                            GError **error)
{
    struct virt_conn *vc = NULL;
    {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&d->lock);
        for (guint i = 0; i < d->conns->len; i++) {
            struct virt_conn *c = g_ptr_array_index(d->conns, i);
            if (c->host_id == host_id)
                vc = c;
        }
    }
    if (!vc) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_NOT_FOUND,
                    "host %" G_GINT64_FORMAT " is not configured in this kanrid", host_id);
        return NULL;
    }
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&vc->lock);
    if (!vc->conn) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNAVAILABLE,
                    "host '%s' is not connected right now; see GET /api/v1/hosts/%s for why",
                    vc->name, vc->name);
        return NULL;
    }
    virConnectRef(vc->conn);
    if (ret_vc)
        *ret_vc = vc;
    return vc->conn;
}
