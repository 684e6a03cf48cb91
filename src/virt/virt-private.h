/*
 * Shared between the libvirt driver's files: conn.c (workers, inventory,
 * the driver's operations), collect.c (statistics rounds), guest.c (agent
 * polls) and actions.c.
 */
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "virt/virt.h"

enum conn_state { CONN_CONNECTING, CONN_CONNECTED, CONN_UNREACHABLE };

struct virt_driver {
    struct driver base;
    const struct driver_sink *sink;
    struct virt_conf conf;
    GMutex lock;      /* protects conns */
    GPtrArray *conns; /* of struct virt_conn * */
    int running;      /* threads not yet exited */
    GCond exited;     /* signalled when one exits */
    gint quitting;    /* atomic: virt_stop() was called */
};

/* What the collector needs of a domain's definition, from the worker's
 * inventory syncs (so it never reads the XML itself). */
struct dom_facts {
    bool has_agent;
    char *balloon_model; /* "virtio", "none"; NULL: no <memballoon> */
    int balloon_period;  /* seconds, 0: off */
    bool test;           /* libvirt's test driver: no guest behind it */
};

struct virt_conn {
    struct virt_driver *drv;
    char *name;
    char *uri;
    int64_t host_id;
    int keepalive_interval;
    int keepalive_count;
    int reconnect_min;
    int reconnect_max;

    GThread *thread;
    GAsyncQueue *queue; /* of struct conn_msg * */

    GMutex lock;        /* protects conn, state, facts */
    /* Held from reading a domain (or the listing) until it is reported, so
     * reports leave in the order they were read: an action's own sync and
     * the worker's sync of the event it caused cannot store the older
     * reading last.  Taken before the engine's locks, never under them. */
    GRecMutex sync_lock;
    virConnectPtr conn; /* NULL while not connected */
    enum conn_state state;
    bool held;         /* see driver_ops.host_hold */
    GHashTable *facts; /* uuid -> struct dom_facts * */
    int event_ids[8];
    int n_event_ids;

    struct collector *collector; /* collect.c */
};

/* Returns a new reference to the live connection of HOST_ID, or NULL with
 * *error (DRIVER_ERR_UNAVAILABLE / DRIVER_ERR_NOT_FOUND). */
virConnectPtr virt_conn_ref(struct virt_driver *d, int64_t host_id, struct virt_conn **ret_vc,
                            GError **error);
struct virt_conn *virt_conn_find(struct virt_driver *d, const char *name_or_id);
/* Whether VC's host is held (driver_ops.host_hold). */
bool virt_conn_held(struct virt_conn *vc);

/* Reads DOM and reports it (inventory row + definition), with CAUSE or, when
 * NULL, for the engine to attribute. */
int virt_sync_domain(struct virt_conn *vc, virDomainPtr dom, const struct change_cause *cause,
                     GError **error);
/* Full resync of the domains of VC on CONN; those gone are reported
 * removed by CAUSE (NULL: for the engine to attribute).  -ECANCELED, with
 * nothing reported removed, when the driver stops meanwhile. */
int virt_sync_all_domains(struct virt_conn *vc, virConnectPtr conn,
                          const struct change_cause *cause, GError **error);

/* A copy of the facts of UUID (false when not known yet).  Strings owned
 * by the caller (dom_facts_clear). */
bool virt_facts_get(struct virt_conn *vc, const char *uuid, struct dom_facts *ret);
void dom_facts_clear(struct dom_facts *f);

/* DOM's UUID in canonical lower-case form.  libvirt's own
 * virDomainGetUUIDString() formats through snprintf, byte by byte: at
 * 10 000 domains a round that is a tenth of kanrid's CPU. */
bool virt_dom_uuid(virDomainPtr dom, char out[VIR_UUID_STRING_BUFLEN]);

/* Maps the calling thread's last libvirt error to enum driver_err. */
int virt_err_from_libvirt(void);
const char *virt_last_error(void);

const char *virt_state_name(int state);
const char *virt_state_reason(int state, int reason);

/* Counts a thread of the driver as started / exited. */
void virt_thread_started(struct virt_driver *d);
void virt_thread_exited(struct virt_driver *d);

/* collect.c */
void collect_start(struct virt_conn *vc);
void collect_request_stop(struct virt_conn *vc);
void collect_free(struct virt_conn *vc);

/* actions.c: the driver's operations */
int virt_action(struct driver *d, int64_t host_id, const char *uuid,
                const struct action_request *req, const struct change_cause *cause,
                struct action_result *result, GError **error);
int virt_define(struct driver *d, int64_t host_id, const char *xml,
                const struct change_cause *cause, char **ret_uuid, char **ret_name, GError **error);
struct rows *virt_snapshots(struct driver *d, int64_t host_id, const char *uuid, GError **error);

/* storage.c: provisioning's storage primitives (driver_ops) */
char *virt_domain_definition(struct driver *d, int64_t host_id, const char *uuid, bool *ret_active,
                             GError **error);
int virt_volume_clone(struct driver *d, int64_t host_id, const struct volume_clone *vc,
                      char **ret_path, char **ret_pool, GError **error);
int virt_volume_delete(struct driver *d, int64_t host_id, const char *path, GError **error);
int virt_volume_upload(struct driver *d, int64_t host_id, const char *pool, const char *name,
                       const char *file, char **ret_path, GError **error);
