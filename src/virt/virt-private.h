/*
 * Shared between conn.c (workers, inventory) and actions.c.
 */
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "virt/virt.h"

enum conn_state { CONN_CONNECTING, CONN_CONNECTED, CONN_UNREACHABLE };

struct virt_conn {
    struct virt_manager *mgr;
    char *name;
    char *uri;
    int64_t host_id;
    int keepalive_interval;
    int keepalive_count;
    int reconnect_min;
    int reconnect_max;

    GThread *thread;
    GAsyncQueue *queue; /* of struct conn_msg * */

    GMutex lock;        /* protects conn and state */
    virConnectPtr conn; /* NULL while not connected */
    enum conn_state state;
    int event_ids[8];
    int n_event_ids;

    struct collector *collector; /* collect.c: host and guest view */
};

struct virt_manager {
    struct store *store;
    int resync_interval_sec;
    GMutex lock;          /* protects conns and inflight */
    GPtrArray *conns;     /* of struct virt_conn * */
    GHashTable *inflight; /* "host_id/uuid" -> struct inflight *: actions running */
    int running;          /* workers not yet exited */
    GCond exited;         /* signalled when a worker exits */

    struct virt_collect_conf collect; /* collect.c; set before the first add */
    struct maint *maint;              /* collect.c: history maintenance thread */
};

/* Joins and frees every collector and the maintenance thread (collect.c);
 * only after virt_manager_stop() saw them all exit. */
void virt_collect_free_all(struct virt_manager *m);

/* A configuration change seen while an action runs on the same domain is
 * the action's doing, not an external change. */
struct inflight {
    char *actor;
    int64_t audit_id;
};

/* Returns a new reference to the live connection of HOST_ID, or NULL with
 * *error (VIRT_ERR_UNAVAILABLE / VIRT_ERR_NOT_FOUND). */
virConnectPtr virt_conn_ref(struct virt_manager *m, int64_t host_id, struct virt_conn **ret_vc,
                            GError **error);

/* Reads DOM and stores it (inventory row + config version), attributing a
 * change to CAUSE, or to an in-flight action when CAUSE is NULL. */
int virt_sync_domain(struct virt_conn *vc, virDomainPtr dom, const struct store_cause *cause,
                     GError **error);

/* Full resync of domains of VC on CONN; prunes domains that disappeared,
 * attributing their removal to CAUSE (NULL: external). */
int virt_sync_all_domains(struct virt_conn *vc, virConnectPtr conn, const struct store_cause *cause,
                          GError **error);

/* Pseudo-UUID marking a define in flight on a host. */
#define VIRT_INFLIGHT_DEFINE "define"

void virt_inflight_set(struct virt_manager *m, int64_t host_id, const char *uuid, const char *actor,
                       int64_t audit_id);
void virt_inflight_clear(struct virt_manager *m, int64_t host_id, const char *uuid);

/* Maps the calling thread's last libvirt error to enum virt_err. */
int virt_err_from_libvirt(void);
const char *virt_last_error(void);

const char *virt_state_name(int state);
const char *virt_state_reason(int state, int reason);
