/*
 * Shared between the engine's files.  Not for use outside src/engine.
 *
 * Locks, outermost first: host->inv_lock (one host's inventory syncs),
 * then e->lock (the latest view: hosts' state, items, inventory records),
 * then the store's own.  Nothing calls into a driver while holding
 * e->lock.
 */
#pragma once

#include "engine/engine.h"

#include "model/finding.h"

/* Guest sources, in the order reconcile_input takes them. */
enum { GS_QGA, GS_BALLOON, GS_GUESTD, GS_N };

/* Parts of a VM's views whose availability is tracked. */
enum { PART_MEMORY, PART_AGENT, PART_N };
extern const char *const engine_part_names[PART_N]; /* "guest-memory", "guest-agent" */

/* What the engine knows of one domain on one host (its store row). */
struct inv_dom {
    char *uuid;
    char *name;
    int64_t domain_id;
    int64_t version;
    bool removed;
    guint8 xml_sha[32]; /* of the newest stored version */
    bool have_sha;
    int64_t period_tried_us; /* last balloon-period upkeep asked for it */
    /* The persistent definition's track (engine/attribution.h). */
    int64_t pversion;
    guint8 pxml_sha[32]; /* of the newest stored persistent version */
    bool have_psha;
    GPtrArray *pending; /* struct pending_change *: changes waiting for a boot */
    /* Its state as last seen, to tell the operations record what changed. */
    char *state, *state_reason;
    int64_t max_memory; /* bytes, from its last sync; 0 unknown (not synced since start) */
    int64_t vcpus;      /* from its last sync; 0 unknown */
};

/* A persistent change not yet in the live definition. */
struct pending_change {
    int64_t id;
    char *diff;
};

struct disk_ref {
    char *target; /* "vda" */
    char *source; /* image path, NULL when none */
};

struct pool_ref {
    char *name;
    char *target_path;
    bool have_cur, have_prev;
    struct pool_sample cur, prev;
};

struct part_status {
    bool known;
    bool available;
    char *reason;
    int64_t since_us;
};

/* The latest view of one machine (a VM, or a machine only kanri-guestd
 * reports on). */
struct item {
    char *uuid;
    int64_t host_id;  /* the host it runs on now; 0: none known */
    char *name;       /* for /metrics; NULL until the inventory names it */
    bool container;   /* its domain type is lxc: kind "container" (domain_kind()) */
    GPtrArray *disks; /* struct disk_ref *: from the inventory; replaced, never changed */

    /* The latest view: what the last round of its host reconciled.  It
     * changes only in rounds, so the round's text can be formed later from
     * the same input (engine_item_view). */
    bool active;       /* in its host's latest round */
    bool have_host[2]; /* [0] newest, [1] previous */
    struct host_sample host[2];
    bool have_guest[GS_N][2];
    struct guest_sample guest[GS_N][2];
    GPtrArray *round_disks; /* the disks the last round used (a reference) */
    /* Guest samples that arrived since: the next round takes them. */
    bool have_next[GS_N];
    struct guest_sample next[GS_N];

    struct part_status parts[PART_N];

    struct reconcile_state *rstate;
    struct reconcile_state *rstate_prev; /* the state the last round started from */
    char *rstate_key;                    /* the persisted state's lasting part (engine_state_key) */
    /* The latest reconciliation, NULL when none; run quietly (no words)
     * unless someone needed them (result_text). */
    struct reconcile_result *result;
    bool result_text;
    int64_t result_t_us;
    int64_t view_kept_us;
    GPtrArray *open; /* struct finding_open *: rows open in the store */
};

/* A latency histogram for /metrics: the last value and, per upper bound
 * of latency_bounds (then +Inf), how many were at most that. */
#define LATENCY_BUCKETS 12
extern const double latency_bounds[LATENCY_BUCKETS];
struct latency_hist {
    uint64_t in[LATENCY_BUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
    uint64_t count;
    double sum, last;
};
void latency_observe(struct latency_hist *h, double seconds);

struct ehost {
    int64_t id;
    char *name;
    struct driver *drv;
    GMutex inv_lock;
    /* Readers: a driver's inventory report or round of it being stored
     * (outermost, before inv_lock and e->lock); the writer: `held` changing on a shared store
     * (engine-cluster.c), which so waits for the reports under way, and
     * after which none is stored for a host released. */
    GRWLock report_lock;
    int cpus;         /* from its facts; 0 unknown (under e->lock) */
    bool maintenance; /* in maintenance mode (under e->lock) */

    /* under e->lock */
    bool held;     /* this instance collects it (always, but on a shared store); also under the
                      writer of report_lock when it changes */
    int64_t epoch; /* of its lease, while held on a shared store */
    char *holder;  /* the instance holding it, when another one (its name) */
    enum host_state state;
    char *reason;
    bool synced_once;  /* inventory synced since start-up */
    int64_t down_us;   /* when it last stopped being connected; 0: not connected since start */
    bool lost;         /* its loss was posted to the operations record, its return not yet */
    int64_t synced_us; /* last full sync */
    GHashTable *inv;   /* uuid -> struct inv_dom * */
    GHashTable *avail; /* uuid -> its availability state as last marked (stage-report.c) */
    GPtrArray *pools;  /* struct pool_ref * */
    bool have_node;
    struct node_sample node;
    GPtrArray *pending_guests; /* struct guest_sample * to write with the next round */
    GArray *pending_status;    /* struct store_view_status_write, strings owned */

    /* health, under e->lock */
    uint64_t rounds, rounds_cut, rounds_dropped;
    bool collecting; /* the last round ran (not dropped) */
    uint64_t agent_ok, agent_failed, agent_rejected;
    struct latency_hist store_write; /* hand-over to commit of the host's rounds */
    struct latency_hist stages;      /* the round's stages, store write excluded */
};

/* Whether H's domains are containers (its driver says so). */
static inline bool ehost_containers(const struct ehost *h)
{
    return h->drv && h->drv->ops->containers;
}

struct engine {
    struct store *store;
    struct engine_conf conf;
    struct driver_sink sink;

    GMutex lock;
    GPtrArray *hosts;     /* struct ehost * */
    unsigned hosts_expected; /* engine_hosts_expect() */
    GHashTable *items;    /* uuid -> struct item * */
    GHashTable *inflight; /* "host_id/uuid" -> struct inflight * */
    GPtrArray *rechecks;  /* struct recheck *: actions whose outcome is unknown */

    GThreadPool *upkeep; /* kanrid's own actions, one at a time */
    struct maint *maint;
    struct changes *changes; /* change requests' execution (change.c) */
    struct report_sched *report_sched; /* scheduled reports (report-schedule.c) */
    struct engine_ops *ops; /* the operations record (ops.c) */
    struct stream_hub *stream; /* the live stream (stream.c) */
    struct engine_policy *policy; /* the autonomic policies (engine-policy.c) */
    struct engine_ha *ha;         /* high availability (engine-ha.c) */
    struct engine_cluster
        *cluster; /* host leases on a shared store (engine-cluster.c); NULL: none */
    struct group_commit *writer;   /* the rounds' group commit (writer.c) */
    struct group_commit *ingester; /* the guest documents' (writer.c) */
    bool stopping;
};

/* An action in flight: a configuration change seen meanwhile is its doing. */
struct inflight {
    char *actor;
    int64_t audit_id;
    /* The action neither starts, stops nor removes the domain (a balloon,
     * vCPUs, the statistics period): a domain stopping or vanishing while
     * it runs is someone else's doing. */
    bool keeps_state;
};

/* engine.c */
void engine_disk_ref_free(gpointer p);                             /* struct disk_ref */
struct ehost *engine_host_find(struct engine *e, int64_t host_id); /* under e->lock */
/* The host a driver's report is about, while this instance holds it; NULL
 * otherwise (a report under way when the host was released is dropped).
 * Under e->lock. */
struct ehost *engine_host_reporting(struct engine *e, int64_t host_id);
/* The host of a driver's report that is stored (an inventory report, a
 * round) while held, its report_lock read-locked until
 * engine_host_leave(): a release waits for the report to be stored, and
 * none is stored after.  NULL (and nothing locked) for a host not held.
 * Not under e->lock. */
struct ehost *engine_host_enter(struct engine *e, int64_t host_id);
void engine_host_leave(struct ehost *h);

/* writer.c: the rounds' writes, several hosts' in one transaction, and
 * the ingest API's guest documents, several agents' in one. */
struct engine_writer_stats {
    uint64_t groups; /* transactions */
    uint64_t items;  /* rounds (documents) in them */
    double seconds;  /* time spent in them */
};
void engine_writer_new(struct engine *e);
void engine_writer_free(struct engine *e);
/* Stores W with the rounds of other hosts waiting meanwhile; returns once
 * it is written: 0, -ESTALE (STORE_ERROR_FENCED) or -EIO.  Not under
 * e->lock (the other hosts' rounds could not join). */
int engine_round_store(struct engine *e, const struct store_round *w, GError **error);
/* Stores W (W->duplicate set) with the documents of other agents waiting
 * meanwhile; returns once it is durable: 0, -EINVAL or -EIO.  Not under
 * e->lock. */
int engine_ingest_store(struct engine *e, struct store_ingest *w, GError **error);
void engine_writer_stats(struct engine *e, struct engine_writer_stats *ret);
void engine_ingest_stats(struct engine *e, struct engine_writer_stats *ret);

/* engine-cluster.c.  This instance's id on a shared store, or NULL. */
const char *engine_cluster_id(struct engine *e);
/* Whether H is shared among instances by leases. */
bool engine_host_shared(struct engine *e, const struct ehost *h);
/* H's lease is lost (a fenced write): its reports are dropped from now on
 * and the next lease step runs now. */
void engine_cluster_lost(struct engine *e, struct ehost *h);
/* The reason shown for a host held by instance HOLDER's name (NULL: not
 * known). */
char *engine_elsewhere_reason(const char *holder);
bool engine_cluster_ready(struct engine *e, char **ret_why);
/* Whether this instance does the fleet-wide work on the store (history
 * maintenance, the notification outbox): always alone, else while it
 * holds the leader's lease. */
bool engine_is_leader(struct engine *e);
/* The open incidents of HOST's items as the store has them replace what
 * the operations record held of them: the instance that held HOST before
 * may have opened and changed them (ops.c). */
int engine_ops_reload_host(struct engine *e, const char *host, GError **error);
/* H's open findings and engine states as the store has them replace what
 * the engine held of its VMs (engine.c), for the same reason. */
int engine_host_rewarm(struct engine *e, struct ehost *h, GError **error);
/* The operations record gives ids SLOT modulo STRIDE from now on (ops.c). */
void engine_ops_set_slot(struct engine *e, int64_t stride, int64_t slot);
void engine_cluster_stop(struct engine *e);
void engine_cluster_free(struct engine *e);
struct item *engine_item_get(struct engine *e, const char *uuid);  /* under e->lock; creates */
void engine_item_deactivate(struct engine *e, struct item *it, GPtrArray *ret_views);
void engine_inflight_set(struct engine *e, int64_t host_id, const char *uuid,
                         const struct change_cause *cause);
/* Marks the action in flight on UUID as one that keeps its state. */
void engine_inflight_keeps_state(struct engine *e, int64_t host_id, const char *uuid);
/* Whether the action of audit entry AUDIT_ID is in flight on UUID and
 * keeps its state (struct inflight). */
bool engine_inflight_keeps(struct engine *e, int64_t host_id, const char *uuid, int64_t audit_id);
/* The cause of what a sync sees on UUID: the action in flight on it (or a
 * define on its host), else NULL.  *ret_actor owns the actor string. */
bool engine_inflight_cause(struct engine *e, int64_t host_id, const char *uuid,
                           struct change_cause *ret, char **ret_actor);

GPtrArray *engine_pending_guests_new(void); /* of g_new'd struct guest_sample * */
GArray *engine_pending_status_new(void);    /* of struct store_view_status_write */

/* inventory.c: the sink's inventory half */
void engine_sink_inventory(struct driver_sink *s);
int engine_inventory_load(struct engine *e, struct ehost *h, GError **error);

/* round.c: the sink's collection half, and the round pipeline */
void engine_sink_rounds(struct driver_sink *s);
void engine_item_clear_view(struct item *it);

/* stage-reconcile.c */
struct round_batch;
void stage_reconcile(struct engine *e, struct ehost *h, GPtrArray *round_items,
                     struct round_batch *b);
/* The item's latest view with its words (ran again with text if the
 * round ran quietly).  Under e->lock. */
struct vm_view *engine_item_view(struct engine *e, struct item *it);
/* Offers a guest sample (moved) to the item: kept for its next round, or
 * taken at once by an item no round will come for.  Older ones are
 * dropped: a backfill is history, not the latest.  Under e->lock. */
void engine_item_offer_guest(struct item *it, int source, struct guest_sample *s);
/* Whether S (of source GS) is newer than NEWEST, for the latest view: the
 * agent's sequence for kanri-guestd, the host's clock for balloon samples,
 * kanrid's receipt otherwise; never the guest's clock alone. */
#define GUEST_SEQ_RESTART_US (10 * 60 * G_USEC_PER_SEC)
bool engine_guest_is_newer(int gs, const struct guest_sample *s, const struct guest_sample *newest);
/* Takes the guest samples offered since the last round.  Under e->lock. */
void engine_item_take_guests(struct item *it);
/* H, G and R of a reconciliation as a history row (uuid, host and time
 * unset). */
/* CFG: leave out sides too old to count (NULL: every side as reported). */
void engine_reconciled_sample(const struct reconcile_result *res, const struct reconcile_config *cfg,
                              struct reconciled_sample *ret);
/* The part of a reconcile state that must survive a restart (the rest,
 * measure and message, is rewritten every round). */
char *engine_state_key(const struct reconcile_state *st);

/* What a round writes, owned by the batch until written (round.c). */
struct round_batch {
    int64_t now_us;
    GArray *reconciled; /* struct reconciled_sample */
    GArray *findings;   /* struct finding_write */
    GArray *states;     /* struct store_state_write, uuid/state owned */
    GPtrArray *views;   /* struct vm_view * */
    GPtrArray *decisions; /* struct pdec *: the policies', recorded after the write */
    GArray *avail;        /* struct store_avail_mark, uuid/reason owned */
};

/* stage-report.c: the VMs' availability marks of the round, and (NODE
 * not NULL) the allocation and demand of the round's ITEMS in it. */
void stage_report(struct engine *e, struct ehost *h, GPtrArray *items, struct round_batch *b,
                  struct node_sample *node);
GHashTable *engine_avail_new(void);

/* stage-policy.c, engine-policy.c */
struct engine_policy;
void stage_policy(struct engine *e, struct ehost *h, GPtrArray *round_items,
                  struct round_batch *b);
/* Records the round's decisions and queues their actions; outside e->lock. */
void engine_policy_after_round(struct engine *e, struct round_batch *b);
void engine_policy_new(struct engine *e);
int engine_policy_start(struct engine *e, GError **error);
void engine_policy_stop(struct engine *e, bool wait);
void engine_policy_free(struct engine *e);

/* ops.c: what the engine's JSON answers share.  A time as RFC 3339, and
 * a string; JSON null for 0 / NULL. */
struct json_object *engine_jtime(int64_t us);
struct json_object *engine_jstr(const char *s);
/* An ENGINE_OPS_ERROR of CODE. */
void engine_set_error(GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* engine-ha.c */
struct engine_ha;
void engine_ha_new(struct engine *e);
void engine_ha_start(struct engine *e);
void engine_ha_stop(struct engine *e, int64_t deadline_us); /* mono_usec() */
void engine_ha_free(struct engine *e);
/* HA's lines of GET /metrics: each host's state, each recovery's. */
void engine_ha_metrics(struct engine *e, GString *out);

/* maintenance.c */
struct maint;
void engine_maint_start(struct engine *e);
void engine_maint_stop(struct engine *e);
void engine_maint_free(struct engine *e);

/* actions.c: an action that lost its host is re-checked once the host's
 * inventory is whole again (called by the sync, outside e->lock). */
GPtrArray *engine_rechecks_new(void); /* of struct recheck * */
/* actions.c, shared with provision.c: the driver of HOST_ID (and its
 * name), or NULL with DRIVER_ERR_NOT_FOUND; the end of an audit entry
 * (a store failure logged); a store's error told as kanri's own (500). */
struct driver *engine_driver_of(struct engine *e, int64_t host_id, char **ret_host_name,
                                GError **error);
void engine_audit_finish(struct engine *e, int64_t audit_id, const GError *action_error);
/* change.c: the change requests' executor thread. */
void engine_changes_start(struct engine *e);
void engine_changes_stop(struct engine *e);
/* report-schedule.c: the scheduled reports' thread ([reports] directory). */
void engine_report_sched_start(struct engine *e);
void engine_report_sched_stop(struct engine *e);
void engine_report_sched_free(struct engine *e);
void engine_changes_free(struct engine *e);
int engine_audit_failed(GError *store_err, GError **error);
void engine_rechecks_run(struct engine *e, int64_t host_id);

/* actions.c: kanrid's upkeep */
void engine_upkeep_balloon_period(struct engine *e, int64_t host_id, const char *uuid,
                                  const char *name, int previous);
