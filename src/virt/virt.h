/*
 * virt: kanrid's hypervisor side.  One `struct virt_conn` per configured
 * libvirt connection, each with its own worker thread, so a slow, hung or
 * dead host only ever delays itself.  The worker connects (with keepalive
 * and exponential backoff), keeps the inventory in the store current from
 * domain events plus a periodic full resync, and marks the host unreachable
 * with libvirt's reason when the connection fails.
 *
 * Lifecycle actions run in the caller's thread (an API request) on a
 * reference to the connection; see actions.c.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/conf.h"
#include "reconcile/reconcile.h"
#include "store/store.h"

struct virt_manager;
struct virt_conn;

/* Registers libvirt's default event loop and starts its thread.  Call once,
 * before any connection is opened. */
int virt_event_loop_start(GError **error);

struct virt_manager *virt_manager_new(struct store *st, int resync_interval_sec);
/* Asks every worker to stop and waits up to TIMEOUT_SEC; true when all
 * stopped (then the store may be closed safely). */
bool virt_manager_stop(struct virt_manager *m, int timeout_sec);

/* Stops every worker (waits up to 10 s) and frees.  Accepts NULL. */
void virt_manager_free(struct virt_manager *m);

/* Host- and guest-view collection (docs/monitoring.md). */
struct virt_collect_conf {
    bool enabled;
    int interval_s;       /* round period */
    int budget_ms;        /* a round's stats calls are cut after this; 0: 80 % of the interval */
    int connections;      /* stats connections per host, for large hosts */
    int balloon_period_s; /* balloon statistics period to set; 0: leave domains alone */
    int agent_timeout_s;  /* per guest-agent command */
    struct store_retention retention;
    /* The reconciliation engine's tolerances (kanri.conf [reconcile]);
     * reconcile_enabled false leaves the engine out of the rounds. */
    bool reconcile_enabled;
    struct reconcile_config reconcile;
};

/* Sets the collection configuration; call before the first virt_manager_add. */
void virt_manager_set_collect(struct virt_manager *m, const struct virt_collect_conf *c);

/* Appends the current host- and guest-view figures of every VM and host,
 * and kanrid's collection health, in Prometheus text format. */
void virt_metrics_prometheus(struct virt_manager *m, GString *out);

/* Adds a connection and starts its worker. */
int virt_manager_add(struct virt_manager *m, const struct conf_hypervisor *hv, GError **error);

/* Asks every worker for a full resync now (e.g. tests, SIGHUP). */
void virt_manager_resync_all(struct virt_manager *m);

/* Error categories of actions, mapped by the API to HTTP statuses. */
enum virt_err {
    VIRT_OK = 0,
    VIRT_ERR_INVALID,     /* bad parameter (400) */
    VIRT_ERR_NOT_FOUND,   /* unknown domain, snapshot or host (404) */
    VIRT_ERR_STATE,       /* not valid in the current state (409) */
    VIRT_ERR_UNSUPPORTED, /* the driver cannot do this (501) */
    VIRT_ERR_HYPERVISOR,  /* libvirt failed (502) */
    VIRT_ERR_UNAVAILABLE, /* the host is not connected (503) */
    VIRT_ERR_TIMEOUT,     /* e.g. graceful shutdown timed out (504) */
    VIRT_ERR_INTERNAL,    /* the store failed (500) */
};

#define VIRT_ERROR (virt_error_quark())
GQuark virt_error_quark(void);

/* Who asked. */
struct virt_actor {
    const char *name; /* token name */
    int64_t token_id;
};

/*
 * Runs ACTION on domain UUID of host HOST_ID with PARAMS (a JSON object, may
 * be NULL), writing an audit entry for it and attributing any configuration
 * change it causes.  On success returns a new JSON object for the reply
 * (always holding "result" and "audit_id"); on failure NULL with *error in
 * VIRT_ERROR (code: enum virt_err) and, when an audit entry was written,
 * *ret_audit_id set.
 */
json_object *virt_action(struct virt_manager *m, int64_t host_id, const char *uuid,
                         const char *action, json_object *params, const struct virt_actor *who,
                         int64_t *ret_audit_id, GError **error);

/* Defines a domain from XML on HOST_ID (POST /vms). Same conventions. */
json_object *virt_define(struct virt_manager *m, int64_t host_id, const char *xml,
                         const struct virt_actor *who, int64_t *ret_audit_id, GError **error);

/* Lists the snapshots of a domain (GET /vms/{id}/snapshots). */
json_object *virt_snapshots(struct virt_manager *m, int64_t host_id, const char *uuid,
                            GError **error);

/* Is ACTION a known action name? */
bool virt_action_known(const char *action);
