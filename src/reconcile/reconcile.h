/*
 * reconcile: the host view and the guest view of one VM in, one reconciled
 * view and its findings out (docs/reconciliation.md).
 *
 * Pure: reconcile_run() reads only its input and returns new values; it does
 * no I/O, keeps no global state and does not log.  Everything it needs from
 * the past (the previous samples for rates, the findings' hysteresis
 * counters) comes in through struct reconcile_input, and everything the next
 * round needs goes out in the result's state, which the caller persists
 * (reconcile_state_to_json()) and hands back next time.
 *
 * Values are doubles; an absent value is NaN (RECONCILE_ABSENT), tested with
 * reconcile_present().  Each resource carries its host value H, guest value
 * G and reconciled value R side by side, where R came from (provenance, from
 * a fixed vocabulary) and why (reason, with the numbers).  R is never
 * silently replaced by the other side: when the side a resource needs is
 * missing, R is absent with provenance "none" and the reason (and usually a
 * finding) says why.
 *
 * Ownership: the input is borrowed for the duration of the call only.  The
 * result and everything in it belong to the caller (reconcile_result_free(),
 * or g_autoptr(reconcile_result)); its state may be stolen with
 * g_steal_pointer(&res->state) and outlives the result.
 */
#pragma once

#include <glib.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/sample.h"

#define RECONCILE_ABSENT ((double)NAN)

static inline bool reconcile_present(double v)
{
    return !isnan(v);
}

/* ---- configuration ---- */

/*
 * The rules, in the order the engine evaluates them; the same order as
 * docs/reconciliation.md.  Each rule raises the finding of the same name.
 * A rule that does not apply to the kind of domain (a balloon rule for a
 * container, a container rule for a VM) is not evaluated: it never opens.
 */
enum reconcile_rule {
    RR_CPU_BUSY_MISMATCH,      /* "cpu-busy-mismatch" */
    RR_STEAL_INVISIBLE,        /* "steal-invisible-to-guest" */
    RR_VCPU_COUNT_MISMATCH,    /* "vcpu-count-mismatch" */
    RR_GUEST_CLOCK_RATE,       /* "guest-clock-rate" */
    RR_MEM_OVERSTATED,         /* "guest-memory-overstated" */
    RR_RSS_OVER_USED,          /* "host-rss-overstates-guest-use" */
    RR_RSS_UNDER_USED,         /* "host-rss-below-guest-use" */
    RR_BALLOON_SWAPPING,       /* "balloon-induced-swapping" */
    RR_MEM_VIEW_UNAVAILABLE,   /* "guest-memory-view-unavailable" */
    RR_THIN_POOL_OVERCOMMIT,   /* "thin-pool-overcommit" */
    RR_TRIM_DEBT,              /* "trim-debt" */
    RR_DISK_IO_MISMATCH,       /* "disk-io-mismatch" */
    RR_NET_IO_MISMATCH,        /* "net-io-mismatch" */
    RR_GUEST_VIEW_MISSING,     /* "guest-view-missing" */
    RR_GUEST_VIEW_STALE,       /* "guest-view-stale" */
    RR_GUEST_CLOCK_SKEW,       /* "guest-clock-skew" */
    RR_GUEST_AGENT_INCOMPLETE, /* "guest-agent-incomplete" */
    /* Containers only (host->container): a VM never raises them. */
    RR_CONTAINER_CPU_THROTTLED,    /* "container-cpu-throttled" */
    RR_CONTAINER_SEES_HOST_MEMORY, /* "container-sees-host-memory" */
    RR_CONTAINER_OOM_KILL,         /* "container-oom-kill" */
    RR_CONTAINER_SEES_HOST_DISK,   /* "container-sees-host-disk" */
    RR_N
};

enum reconcile_severity {
    RECONCILE_INFO,
    RECONCILE_WARNING,
    RECONCILE_CRITICAL,
};

/*
 * One rule's tolerance and window.  Every rule reduces its inputs to one
 * measure (a number in the unit the rule documents).  A round counts as
 * "above" when the measure is at or over open_at, as "below" when it is
 * under close_at (close_at <= open_at), and as neither in between: the gap
 * is the value hysteresis.  A finding opens after open_after consecutive
 * rounds above and closes after close_after consecutive rounds below: the
 * time hysteresis.  A round in which the rule cannot be evaluated (a side
 * missing) moves neither counter.
 */
struct reconcile_rule_conf {
    bool enabled;
    double open_at;
    double close_at;
    double crit_at; /* measure at which the severity becomes critical; NaN: never */
    unsigned open_after;
    unsigned close_after;
    enum reconcile_severity severity; /* below crit_at */
};

struct reconcile_config {
    struct reconcile_rule_conf rule[RR_N];

    /* A side older than this (kanrid's clock) is shown with its age but not
     * used for R. */
    int64_t host_stale_us;
    int64_t guest_stale_us;   /* qga and kanri-guestd */
    int64_t balloon_stale_us; /* balloon.last-update */
    /* Rates need two samples at least this far apart. */
    int64_t min_interval_us;

    /* balloon-induced-swapping only counts when the balloon holds at least
     * this share (percent) of the maximum. */
    double balloon_inflated_pct;
    /* The I/O mismatch rules only compare rates above these floors
     * (bytes/s): at idle, timing jitter between the two sides dominates. */
    double disk_io_floor;
    double net_io_floor;
    /* container-sees-host-disk counts only the guest's used space beyond
     * the container's own by more than this (bytes): filesystem metadata
     * and the journal, which df counts and a walk of the files does not. */
    double container_disk_slack;
    /* thin-pool-overcommit turns critical when the pools feeding the VM
     * are projected full within this horizon. */
    int64_t pool_full_crit_us;
    /* Page size for kanri-guestd's swap page counters. */
    uint64_t page_size;
};

/* The defaults (docs/reconciliation.md lists them). */
void reconcile_config_init(struct reconcile_config *cfg);

/*
 * Sets one option by name: "<finding>.<field>" with field one of enabled,
 * open_at, close_at, crit_at, open_after, close_after, severity
 * (info|warning|critical), or a global name (host_stale_s, guest_stale_s,
 * balloon_stale_s, min_interval_s, balloon_inflated_pct, disk_io_floor,
 * net_io_floor, container_disk_slack, pool_full_crit_s, page_size).  VALUE is the text form.
 * Returns false with *error for an unknown name or a bad value, leaving CFG
 * unchanged.  Meant for the daemon's configuration file and the tests.
 */
bool reconcile_config_set(struct reconcile_config *cfg, const char *name, const char *value,
                          GError **error);

const char *reconcile_rule_name(enum reconcile_rule r);
const char *reconcile_severity_name(enum reconcile_severity s);

/* ---- state (persisted by the caller between rounds) ---- */

enum reconcile_fstate {
    RECONCILE_OPENING, /* above, but not yet for open_after rounds */
    RECONCILE_OPEN,
    RECONCILE_CLOSING, /* below, but not yet for close_after rounds */
    RECONCILE_CLOSED,  /* reported once, in the round it closed */
};

const char *reconcile_fstate_name(enum reconcile_fstate s);

/* One finding's hysteresis memory.  All strings owned. */
struct reconcile_track {
    enum reconcile_rule rule;
    enum reconcile_fstate state;
    unsigned above, below; /* consecutive rounds */
    int64_t since_us;      /* first round above of this episode */
    int64_t changed_us;    /* last state change */
    enum reconcile_severity severity;
    double measure;
    char *message; /* last evaluation's message */
};

struct reconcile_state {
    GPtrArray *tracks; /* struct reconcile_track *, owned; never in state CLOSED */
};

struct reconcile_state *reconcile_state_new(void);
void reconcile_state_free(struct reconcile_state *st);
typedef struct reconcile_state reconcile_state; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(reconcile_state, reconcile_state_free)

/* Text form to persist (JSON; g_free) and back.  The reader is bounded and
 * validates every field, since the text comes back from storage: bad text
 * gives NULL with *error, never a half-read state. */
char *reconcile_state_to_json(const struct reconcile_state *st);
struct reconcile_state *reconcile_state_from_json(const char *text, size_t len, GError **error);

/* ---- input ---- */

/* A guest source's current sample and the one before it (either may be
 * NULL).  Rates are only taken between the two. */
struct reconcile_guest {
    const struct guest_sample *cur, *prev;
};

/* Which storage pool backs which disk (the target name, "vda", as in the
 * host sample's blocks_json).  POOL is NULL when the image is not in a
 * known pool. */
struct reconcile_disk {
    const char *name;
    const char *pool;
};

struct reconcile_pool {
    const char *name;
    const struct pool_sample *cur, *prev; /* prev may be NULL: no fill rate */
};

struct reconcile_input {
    int64_t now_us; /* kanrid's clock */
    const struct host_sample *host, *host_prev;
    struct reconcile_guest qga, balloon, guestd;
    const struct reconcile_disk *disks;
    size_t n_disks;
    const struct reconcile_pool *pools;
    size_t n_pools;
    const struct reconcile_config *config; /* NULL: defaults */
    const struct reconcile_state *state;   /* NULL: first round */
    /* Formats no reason and no message (they are NULL): values,
     * provenance, findings' states and measures are exactly those of the
     * same input with text.  For callers that need the words only now and
     * then (the engine at 10 000 VMs a round); they run again with text
     * when they do. */
    bool quiet;
};

/* ---- output ---- */

/* The reconciled resources, in output order. */
enum reconcile_resource {
    RC_CPU_BUSY,   /* % of the allocated vCPUs */
    RC_CPU_WAIT,   /* % of the allocated vCPUs: runnable but not running */
    RC_CPU_DEMAND, /* % of the allocated vCPUs: busy + wait */
    RC_MEM_TOTAL,  /* bytes the guest has (backed) */
    RC_MEM_USED,   /* bytes in use, caches excluded */
    RC_MEM_SWAP,   /* bytes/s swapped in + out */
    RC_DISK_USED,  /* bytes */
    RC_DISK_FREE,  /* bytes the guest may still write and the storage can back */
    RC_DISK_IO,    /* bytes/s read + written */
    RC_NET_RX,     /* bytes/s received by the guest */
    RC_NET_TX,     /* bytes/s sent by the guest */
    RC_N
};

const char *reconcile_resource_name(enum reconcile_resource r);
const char *reconcile_resource_unit(enum reconcile_resource r); /* "%", "B", "B/s" */

/*
 * Provenance vocabulary (static strings):
 *   "guest"              R is the guest's figure
 *   "host"               R is the host's figure (for a container, its
 *                        control group's, or its root file system's as
 *                        the host measures it)
 *   "host-run+wait"      the vCPU threads' run plus run-queue wait (CPU demand)
 *   "guest+host-backing" guest free space capped by what the storage backs
 *   "none"               R could not be computed; reason says why
 */
struct reconcile_value {
    double h, g, r;         /* NaN when absent */
    const char *provenance; /* static */
    const char *g_source;   /* static: "qga" | "balloon" | "kanri-guestd" | NULL */
    char *reason;           /* owned */
    int64_t h_age_us;       /* -1 when the side is absent */
    int64_t g_age_us;
};

/* Whether V's host side (GUEST false) or guest side was fresh this round:
 * present, and younger than CFG's staleness limit for its source.  A stale
 * side is shown with its age but is no figure of the round. */
bool reconcile_side_fresh(const struct reconcile_config *cfg, const struct reconcile_value *v,
                          bool guest);

struct reconcile_finding {
    enum reconcile_rule rule;
    const char *id; /* static: reconcile_rule_name(rule) */
    enum reconcile_severity severity;
    enum reconcile_fstate state;
    int64_t since_us;
    int64_t changed_us;
    double measure;
    char *message; /* owned */
};

void reconcile_finding_free(struct reconcile_finding *f);

struct reconcile_result {
    struct reconcile_value values[RC_N];
    GPtrArray *findings;           /* struct reconcile_finding *, owned, in rule order */
    struct reconcile_state *state; /* owned; the state to persist */
};

/* Never fails: whatever is missing shows up as absent values and findings. */
struct reconcile_result *reconcile_run(const struct reconcile_input *in);
void reconcile_result_free(struct reconcile_result *res);
typedef struct reconcile_result reconcile_result; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(reconcile_result, reconcile_result_free)
