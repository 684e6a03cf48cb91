/*
 * model/driver: the seam between the engine and the drivers that talk to
 * hypervisors (src/virt/ for libvirt; the container driver next).
 *
 * A driver is a table of operations (struct driver_ops) chosen at start-up.
 * It manages hosts, each on threads of its own, and reports everything it
 * learns through a struct driver_sink that the engine implements:
 * connection state, inventory, collection rounds, guest-view samples and
 * the availability of each view.  The driver decides nothing about
 * history, attribution or reconciliation; the engine decides nothing about
 * hypervisors.  Both sides depend only on this header and the model types.
 *
 * Threading: sink functions may be called from any driver thread and
 * return quickly (they never call back into the driver).  Driver
 * operations may be called from any thread (API requests, the engine's
 * upkeep thread).
 *
 * Ownership: arguments marked "moved" become the sink's; everything else
 * is borrowed for the duration of the call.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/action.h"
#include "model/inventory.h"
#include "model/row.h"
#include "model/sample.h"

/* Errors of driver operations, mapped by the API to HTTP statuses. */
#define DRIVER_ERROR (driver_error_quark())
GQuark driver_error_quark(void);
enum driver_err {
    DRIVER_ERR_INVALID = 1, /* bad parameter (400) */
    DRIVER_ERR_NOT_FOUND,   /* unknown domain, snapshot or host (404) */
    DRIVER_ERR_STATE,       /* not valid in the current state (409) */
    DRIVER_ERR_UNSUPPORTED, /* the hypervisor cannot do this (501) */
    DRIVER_ERR_HYPERVISOR,  /* the hypervisor failed (502) */
    DRIVER_ERR_UNAVAILABLE, /* the host is not connected (503) */
    DRIVER_ERR_TIMEOUT,     /* e.g. graceful shutdown timed out (504) */
    DRIVER_ERR_INTERNAL,    /* kanri itself failed (500) */
};

/* How to reach one host. */
struct driver_host_conf {
    const char *name;       /* the host's name in kanri */
    const char *uri;        /* e.g. qemu+ssh://node1/system */
    int keepalive_interval; /* seconds, 0 disables keepalive */
    int keepalive_count;
    int reconnect_min; /* seconds */
    int reconnect_max;
    bool released; /* added released: not connected until host_hold(true) */
};

/* ---- what a driver reports ---- */

/* One collection round of one host.  The driver fills it and hands it to
 * sink->round (moved). */
struct round_report {
    int64_t host_id;
    int64_t t_us;      /* kanrid's clock when the round started */
    GArray *hosts;     /* struct host_sample: domains collected this round */
    GArray *balloons;  /* struct guest_sample, source "balloon": new guest reports only */
    GPtrArray *active; /* char * uuids of the domains running this round */
    GArray *pools;     /* struct pool_sample */
    bool have_node;
    struct node_sample node; /* the host's figures and the round's health */
};

struct round_report *round_report_new(int64_t host_id, int64_t t_us);
void round_report_free(struct round_report *r);

enum agent_poll_result { AGENT_POLL_OK, AGENT_POLL_FAILED, AGENT_POLL_REJECTED };

struct driver_sink {
    void *ctx;
    void (*host_state)(void *ctx, int64_t host_id, enum host_state st, const char *reason);
    void (*host_info)(void *ctx, int64_t host_id, struct host_info *info /* moved */);
    /* A domain as synced.  CAUSE NULL: the engine attributes a change to
     * the action in flight on it (inflight below), else to "external". */
    void (*domain)(void *ctx, int64_t host_id, struct domain_info *d /* moved */,
                   const struct change_cause *cause);
    /* The complete list of the host's domains (NULL-terminated): any other
     * the engine knows there has been removed, by CAUSE (NULL: in-flight
     * action or external). */
    void (*domains_present)(void *ctx, int64_t host_id, const char *const *uuids,
                            const struct change_cause *cause);
    void (*pools)(void *ctx, int64_t host_id, GPtrArray *pools /* of struct pool_info *, moved */);
    void (*networks)(void *ctx, int64_t host_id,
                     GPtrArray *nets /* of struct network_info *, moved */);
    /* A full inventory sync finished: the host is connected from now on. */
    void (*inventory_synced)(void *ctx, int64_t host_id);
    /* Marks (CAUSE non-NULL) or unmarks an action in flight on a domain
     * that did not start it, e.g. the destination of a migration; UUID
     * "define" stands for any domain appearing on the host. */
    void (*inflight)(void *ctx, int64_t host_id, const char *uuid,
                     const struct change_cause *cause);

    void (*round)(void *ctx, struct round_report *r /* moved */);
    /* A round that could not run (host unreachable, previous round overran). */
    void (*round_dropped)(void *ctx, int64_t host_id, unsigned count);
    void (*guest_sample)(void *ctx, int64_t host_id, struct guest_sample *s /* moved */);
    void (*agent_poll)(void *ctx, int64_t host_id, enum agent_poll_result r);
    /* Whether PART ("guest-memory", "guest-agent") of a domain's view is
     * available, and why not.  Called on every evaluation; the engine
     * records changes. */
    void (*view_status)(void *ctx, int64_t host_id, const char *uuid, const char *part,
                        bool available, const char *reason);
};

/* A domain in flight on every host: a define's UUID is unknown until the
 * hypervisor answers. */
#define DRIVER_INFLIGHT_DEFINE "define"

/* ---- what a driver does ---- */

struct driver;

/* A container to create (driver_ops.create).  Limits SAMPLE_ABSENT-like 0
 * mean none. */
struct container_spec {
    const char *name;     /* 1..64 of [A-Za-z0-9_.-], not starting with '.' or '-' */
    const char *template; /* liblxc template, e.g. "busybox" */
    uint64_t memory_bytes;
    uint64_t cpu_millicores; /* quota, thousandths of a core */
    uint64_t cpu_weight;     /* 1..10000 */
    uint64_t pids;
    bool start; /* start it once created */
};

/* Whether NAME may name a container (or a template): 1..64 of
 * [A-Za-z0-9_.-], not starting with '.' or '-'.  The API checks a request
 * with it before any driver sees the name; the container driver again. */
bool container_name_valid(const char *name);

/* A disk image to copy or overlay in a storage pool (driver_ops.volume_clone). */
struct volume_clone {
    const char *from;   /* the image's path, a volume of a pool of the host */
    const char *format; /* its format ("qcow2", "raw"); NULL: raw */
    const char *pool;   /* the new volume's pool; NULL: the image's own */
    const char *name;   /* the new volume's name in it */
    bool linked;        /* a qcow2 overlay backed by FROM, instead of a copy */
    uint64_t capacity;  /* bytes, at least; 0 (or less than FROM's): FROM's */
};

struct driver_ops {
    const char *name; /* "libvirt", "lxc" */
    bool containers;  /* its domains are containers (kind "container") */
    /* Starts managing host HOST_ID (reported to the sink under that id). */
    int (*host_add)(struct driver *d, int64_t host_id, const struct driver_host_conf *hc,
                    GError **error);
    /* Holds or releases HOST_ID (several kanrid instances share hosts by
     * leases, docs/scale-out.md).  Held: connected, synced and collected
     * as usual.  Released: disconnected, and nothing more is reported for
     * it until it is held again; a report already under way may still
     * arrive.  NULL: the driver's hosts are always held (they are on
     * kanrid's own machine). */
    void (*host_hold)(struct driver *d, int64_t host_id, bool held);
    /* Asks for a full inventory resync of every host now. */
    void (*resync_all)(struct driver *d);
    /* Asks every thread to stop and waits up to TIMEOUT_S; true when all
     * stopped, after which free() is safe. */
    bool (*stop)(struct driver *d, int timeout_s);
    void (*free)(struct driver *d);

    /* Performs REQ on domain UUID of HOST_ID, then syncs what it changed
     * and reports it with CAUSE.  RESULT is initialised by the caller.
     * The caller writes the audit entry. */
    int (*action)(struct driver *d, int64_t host_id, const char *uuid,
                  const struct action_request *req, const struct change_cause *cause,
                  struct action_result *result, GError **error);
    /* Defines a domain from XML.  *ret_name and *ret_uuid are set as soon
     * as they are known (the name from the XML even when defining fails). */
    int (*define)(struct driver *d, int64_t host_id, const char *xml,
                  const struct change_cause *cause, char **ret_uuid, char **ret_name,
                  GError **error);
    /* Creates a container (drivers with containers only; NULL otherwise),
     * reported with CAUSE like define().  *ret_uuid is set once known. */
    int (*create)(struct driver *d, int64_t host_id, const struct container_spec *spec,
                  const struct change_cause *cause, char **ret_uuid, GError **error);
    /* The snapshots of a domain (rows of snapshot_row_desc). */
    struct rows *(*snapshots)(struct driver *d, int64_t host_id, const char *uuid, GError **error);

    /* Provisioning's storage primitives (NULL for drivers without disk
     * images).  The persistent definition of a domain, and whether it is
     * running: */
    char *(*domain_definition)(struct driver *d, int64_t host_id, const char *uuid,
                               bool *ret_active, GError **error);
    /* A new volume made as VC says; its path and its pool's name. */
    int (*volume_clone)(struct driver *d, int64_t host_id, const struct volume_clone *vc,
                        char **ret_path, char **ret_pool, GError **error);
    /* Deletes the volume at PATH. */
    int (*volume_delete)(struct driver *d, int64_t host_id, const char *path, GError **error);
    /* A new raw volume NAME in POOL holding the local FILE's bytes (a
     * seed image); its path. */
    int (*volume_upload)(struct driver *d, int64_t host_id, const char *pool, const char *name,
                         const char *file, char **ret_path, GError **error);
};

struct driver {
    const struct driver_ops *ops;
};
