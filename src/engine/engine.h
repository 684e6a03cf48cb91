/*
 * engine: the round pipeline (docs/architecture.md).
 *
 * Drivers (model/driver.h) report inventory, collection rounds and guest
 * samples through the engine's sink; kanri-guestd's pushes arrive through
 * engine_ingest().  The engine keeps the latest view of every item in
 * memory — each VM's newest and previous host sample, the newest two of
 * each guest source, its host's pools, its reconciliation state and open
 * findings — and after each round of a host runs its stages in order on
 * that view, then writes the round's rows in one transaction.  Nothing is
 * read back from the store to do so; the store is read once per host at
 * start-up (a warm start), so a restarted kanrid carries on where it
 * stopped.
 *
 * A stage is a pure module plus a small adapter here (stage-*.c): today
 * reconciliation; events, incidents and policies are the next ones.
 *
 * The engine also owns what is decided about inventory (attribution of
 * configuration changes, attribution.h), the audit trail of actions, the
 * readiness of each host, kanrid's own upkeep actions, and the history
 * maintenance thread.
 *
 * Threading: every function may be called from any thread.  One mutex
 * guards the latest view; a round holds it while its stages run and its
 * rows are written, so API readers wait at most one round's processing.
 * Inventory syncs of one host are serialised by a per-host mutex and
 * compute diffs without holding the view's.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/action.h"
#include "model/driver.h"
#include "model/event.h"
#include "model/view.h"
#include "ops/ops.h"
#include "policy/ha.h"
#include "policy/policy.h"
#include "reconcile/reconcile.h"
#include "store/store.h"

struct engine;

/* The formats of the scheduled reports (docs/reports.md). */
enum { REPORT_FORMAT_HTML = 1, REPORT_FORMAT_CSV = 2, REPORT_FORMAT_JSON = 4 };

struct engine_conf {
    bool collect;   /* the drivers run collection rounds (their health is exported) */
    int interval_s; /* collection round period (sets the maintenance pace) */
    /* Scheduled reports (engine/report-schedule.c): written to reports_dir
     * (NULL: none) after each period of reports_schedule ("daily",
     * "weekly", "monthly"), in reports_formats; the SLO targets (NaN /
     * none: no SLO) judge the fleet and each group (tag -> double *). */
    const char *reports_dir;
    const char *reports_schedule;
    unsigned reports_formats;
    bool reports_capacity;
    double slo_default;
    GHashTable *slo_groups;
    struct store_retention retention;
    bool reconcile; /* run the reconciliation stage */
    struct reconcile_config reconcile_conf;
    /* kanrid sets this balloon statistics period on every running VM with a
     * virtio balloon (an audited action "set-balloon-period" by "kanrid"),
     * because the guest memory view needs it; 0 leaves domains alone. */
    int balloon_period_s;
    /* An open finding's row is rewritten for a new measure or message at
     * most this often (a new severity at once). */
    int64_t finding_refresh_us;
    /* A running VM's view is kept in the store at least this often (and
     * always when it stops and when kanrid stops). */
    int64_t view_keep_us;

    /* The operations record (docs/operations.md). */
    struct ops_conf ops;
    const GPtrArray *rules;  /* struct alert_rule * from kanri.conf (copied) */
    const GPtrArray *routes; /* struct notify_route * (copied) */
    int64_t event_retention_us;  /* 0: forever */
    int64_t notify_give_up_us;   /* a delivery failing this long is given up */
    /* Findings of this severity and above open incidents; below, they are
     * recorded as events only (SEV_N: none does). */
    enum severity finding_min_severity;
    /* A kanri-guestd silent this long is an incident; 0: never. */
    int64_t agent_silent_us;
    /* Rounds written in one transaction at most (writer.c; 0: the
     * default, 256; 1: each round alone). */
    unsigned round_group_max;
    /* Messages the live stream keeps for clients that fall behind or
     * resume (0: STREAM_DEFAULT_BACKLOG). */
    unsigned stream_backlog;

    /* The autonomic policies (docs/policies.md), as kanri.conf says; the
     * API's settings (kept in the store) apply on top at start. */
    bool policy_enabled; /* the kill switch: no policy decides while false */
    struct policy_memory_conf policy_memory;
    struct policy_balance_conf policy_balance;
    /* VM name -> GINT_TO_POINTER(priority) and VM name -> group name
     * (affinity, anti-affinity); NULL: none.  The engine takes a
     * reference. */
    GHashTable *policy_priority, *policy_affinity, *policy_anti_affinity;

    /* High availability (docs/ha.md): [ha] as kanri.conf says; VM name ->
     * struct ha_vm_settings * and group name -> GStrv of host names (NULL:
     * none; the engine takes references). */
    struct ha_conf ha;
    GHashTable *ha_vms, *ha_groups;
};

void engine_conf_init(struct engine_conf *c);

struct engine *engine_new(struct store *st, const struct engine_conf *conf);
/* The sink to give drivers (valid for the engine's life). */
const struct driver_sink *engine_sink(struct engine *e);
/* Stores host HC->name (keeping its id across restarts), loads what the
 * store knows of it, and has DRV manage it.  DRV stays the caller's. */
int engine_host_add(struct engine *e, struct driver *drv, const struct driver_host_conf *hc,
                    GError **error);
/* The number of hosts kanrid's configuration names: until that many are
 * added, engine_ready() says it is still adding them (the API answers
 * meanwhile). */
void engine_hosts_expect(struct engine *e, unsigned n);
/* Starts the history maintenance thread and the upkeep thread. */
void engine_start(struct engine *e);
void engine_resync_all(struct engine *e);
/* Stops the engine's threads and every driver (waiting up to TIMEOUT_S in
 * all) and keeps every VM's view; true when everything stopped, after
 * which engine_free() and store_close() are safe. */
bool engine_stop(struct engine *e, int timeout_s);
void engine_free(struct engine *e);

/* ---- several instances on one store (engine-cluster.c) ---- */

/* This kanrid among others sharing one PostgreSQL store: hosts are shared
 * by leases (docs/scale-out.md). */
struct engine_cluster_conf {
    const char *id;      /* this run's, unique */
    const char *name;    /* for people: machine and state directory */
    const char *api_url; /* where its API answers; NULL: not said */
    int lease_s;         /* a lease's time; heartbeats every third of it */
};
/* Before any host is added: hosts whose driver can hold and release them
 * start released and are collected only under a lease.  Joins the other
 * instances (a heartbeat, an id slot for the operations record); -1 with
 * *error when the store cannot be used. */
int engine_cluster_init(struct engine *e, const struct engine_cluster_conf *c, GError **error);
/* After the hosts are added: heartbeats and leases on a thread of their
 * own.  engine_stop() stops it, gives the leases up and leaves. */
void engine_cluster_start(struct engine *e);
/* Where this instance's API answers (URL, e.g. https://node1:8470) and its
 * certificate's pin (NULL: plain HTTP), for the others to forward actions
 * on its hosts to it.  After engine_cluster_init(), before
 * engine_cluster_start(). */
void engine_cluster_set_api(struct engine *e, const char *url, const char *tls_pin);
/* The instance holding host HOST_ID when another one does. */
struct engine_holder {
    char *name;    /* NULL: no instance holds it at the moment */
    char *url;     /* its API; NULL: it gives none */
    char *tls_pin; /* NULL: plain HTTP */
};
void engine_holder_clear(struct engine_holder *h);
/* 1 with *RET filled when another instance holds HOST_ID (or none does:
 * RET->name NULL), 0 when this one does (or runs alone), -1 with *error
 * when the store cannot say. */
int engine_host_elsewhere(struct engine *e, int64_t host_id, struct engine_holder *ret,
                          GError **error);
/* Instances and leases as the store has them now, JSON text (g_free), or
 * NULL with *error; {"enabled": false} without a cluster. */
char *engine_cluster_json(struct engine *e, GError **error);

/* ---- readiness ---- */

/* True when every host has synced its inventory since start-up or is
 * unreachable (on a shared store: every host this instance holds, once it
 * has carried out its first lease plan).  Otherwise false, with the hosts still loading in *WHY
 * (g_free) and a Retry-After estimate. */
bool engine_ready(struct engine *e, char **ret_why, int *ret_retry_after_s);
/* True while host HOST_ID (-1: any host, or a configured host not added
 * yet) has not finished its first inventory sync since start-up and is not
 * unreachable: a name unknown now may appear when it has. */
bool engine_loading(struct engine *e, int64_t host_id);

/* ---- actions (audited; src/engine/actions.c) ---- */

/* Runs REQ on domain UUID (named NAME in the audit trail) of HOST_ID for
 * WHO.  PARAMS_TEXT is the request as asked (JSON text, for the audit
 * entry).  *ret_audit_id is set once the entry exists, also on failure.
 * Errors are in DRIVER_ERROR. */
int engine_action(struct engine *e, int64_t host_id, const char *uuid, const char *name,
                  const struct action_request *req, const char *params_text,
                  const struct actor *who, struct action_result *result, int64_t *ret_audit_id,
                  GError **error);
int engine_define(struct engine *e, int64_t host_id, const char *xml, const struct actor *who,
                  char **ret_uuid, int64_t *ret_audit_id, GError **error);
struct rows *engine_snapshots(struct engine *e, int64_t host_id, const char *uuid, GError **error);
/* Creates a container on HOST_ID (a host of a driver with containers;
 * DRIVER_ERR_UNSUPPORTED otherwise), audited as "create" like define. */
int engine_create(struct engine *e, int64_t host_id, const struct container_spec *spec,
                  const char *params_text, const struct actor *who, char **ret_uuid,
                  int64_t *ret_audit_id, GError **error);
/* Whether HOST_ID's domains are containers (its driver says so). */
bool engine_host_containers(struct engine *e, int64_t host_id);

/* ---- provisioning (audited; src/engine/provision.c) ---- */

/* A template to make of a shut-off VM. */
struct template_request {
    const char *name; /* the template's; validated by the caller */
    const char *uuid; /* the VM's */
    const char *vm;   /* its name, for the audit trail and errors */
    const char *pool; /* where the images go; NULL: beside the VM's first disk */
};

/* Makes version *RET_VERSION of template REQ->name from the VM on
 * HOST_ID: its images copied, its definition stored.  Audited as
 * "template-create"; what was copied is deleted again on failure. */
int engine_template_create(struct engine *e, int64_t host_id, const struct template_request *req,
                           const struct actor *who, int64_t *ret_version, int64_t *ret_audit_id,
                           GError **error);

/* A VM to make from a template. */
struct provision_request {
    const struct template_row *template; /* with its xml */
    const char *name;                    /* the new VM's; validated by the caller */
    const char *pool;                    /* NULL: the template's images' pool */
    bool linked;                         /* qcow2 overlays on the template's images */
    unsigned vcpus;                      /* 0: the template's */
    uint64_t memory_bytes;               /* 0: the template's */
    uint64_t disk_bytes;                 /* the first disk at least this big; 0: as is */
    bool start;
    /* A cloud-init NoCloud seed (provision/seed.h) when either is given. */
    const char *user_data;
    const char *const *ssh_keys;
    size_t n_keys;
};

/* Makes the VM REQ->name on HOST_ID from the template: images cloned,
 * defined, started when asked.  Audited as "create" (PARAMS_TEXT the
 * request); the images are deleted again when defining fails.  *ret_uuid
 * is set once defined, also when it then fails to start. */
int engine_vm_provision(struct engine *e, int64_t host_id, const struct provision_request *req,
                        const char *params_text, const struct actor *who, char **ret_uuid,
                        int64_t *ret_audit_id, GError **error);

/* ---- change requests (src/engine/change.c, docs/provisioning.md) ---- */

/* Adds request C (state draft) for the N VMS (uuid, vm, host_id set; their
 * batches are set here from C's canary and batch); *ret_id its id.
 * Errors are ENGINE_OPS_ERROR codes. */
int engine_change_create(struct engine *e, const struct change_request_row *c,
                         struct change_vm_row *vms, size_t n, int64_t *ret_id, GError **error);
/* Takes step EVENT ("submit", "approve", "reject", "cancel") on request
 * ID for WHO: ENGINE_OPS_CONFLICT when its state does not allow it (or it
 * moved meanwhile), ENGINE_OPS_FORBIDDEN for a requester approving its
 * own.  *ret_state: the state it took (static; the executor may have
 * moved it on since).  An approved request runs once its window is open. */
int engine_change_step(struct engine *e, int64_t id, const char *event, const struct actor *who,
                       const char **ret_state, GError **error);

/* ---- reading the latest view ---- */

/* The current reconciled view of UUID, from memory; NULL when the engine
 * has none (not running since start-up).  *ret_t_us: its round. */
struct vm_view *engine_view(struct engine *e, const char *uuid);

/* The fleet at a glance (engine/fleet.h; fleet_free()): HOSTS, VMS and
 * POOLS are the inventory rows the caller read (store_ops.hosts_query,
 * vms_query, pools_query; removed VMs are left out), joined with the
 * latest view and summed per host.  WHOLE: the rows are the whole
 * inventory, so the totals count incidents tied to no host too; else
 * only those of the hosts given. */
struct fleet;
struct fleet *engine_fleet(struct engine *e, const struct rows *hosts, const struct rows *vms,
                           const struct rows *pools, bool whole);

/* Stores a guest sample pushed by an agent (idempotently, as
 * store_ops.guest_sample_insert) with what it says of its agent (CONTACT,
 * or NULL), in one transaction with those of other agents arriving
 * meanwhile, durable when it returns; when it is the newest, makes it the
 * latest of its machine.  S and CONTACT stay the caller's. */
int engine_ingest(struct engine *e, const struct guest_sample *s,
                  const struct store_agent_contact *contact, bool *ret_duplicate, GError **error);

/* ---- machines: what kanri-guestd reports on (docs/api.md) ---- */

/* Copies of the newest two kanri-guestd samples of machine UUID (clear
 * them with guest_sample_clear()); false when there is none since kanrid
 * started.  *ret_have_prev says whether RET_PREV was filled. */
bool engine_machine_samples(struct engine *e, const char *uuid, struct guest_sample *ret_new,
                            struct guest_sample *ret_prev, bool *ret_have_prev);
/* Names machine UUID (its agent's name) for /metrics, unless the
 * inventory named it (a VM's name wins). */
void engine_machine_name(struct engine *e, const char *uuid, const char *name);
/* How long a kanri-guestd may be silent before it counts as silent. */
int64_t engine_agent_silent_us(struct engine *e);

/* Appends the latest figures of every VM and host, the findings open now
 * and kanrid's collection health in Prometheus text format
 * (src/engine/prometheus.c). */
void engine_metrics_prometheus(struct engine *e, GString *out);

/* ---- the operations record (engine/ops.c) ----
 *
 * Events are posted from any thread and processed in batches by the
 * engine's ops thread (src/ops/ decides, one transaction writes).  The
 * functions below are what the API does with it; errors are
 * ENGINE_OPS_ERROR codes. */
#define ENGINE_OPS_ERROR (engine_ops_error_quark())
GQuark engine_ops_error_quark(void);
enum {
    ENGINE_OPS_NOT_FOUND = 1,
    ENGINE_OPS_CONFLICT,
    ENGINE_OPS_INVALID,
    ENGINE_OPS_IO,
    ENGINE_OPS_LOADING,  /* the record's state is not loaded (yet): 503 */
    ENGINE_OPS_FORBIDDEN /* not for this caller (a requester approving): 403 */
};

/* ---- reports (engine/reports.c, docs/reports.md) ---- */
struct json_object;
struct engine_avail_query {
    int64_t from_us, to_us;
    const char *uuid;  /* one VM; NULL: all */
    const char *host;  /* the VMs last seen on this host; NULL: all */
    const char *group; /* the VMs tagged so; NULL: all */
    double slo;        /* a target (0.999) to judge the total by; NaN: none */
};
/* The availability report of Q as JSON (docs/api.md): per VM, and in
 * total, time up, down (planned, unplanned), unresponsive and unknown,
 * and the outages with their causes. */
int engine_report_availability(struct engine *e, const struct engine_avail_query *q,
                               struct json_object **ret, GError **error);

struct engine_capacity_query {
    int64_t now_us;     /* 0: now */
    int64_t history_us; /* how far back the forecasts learn from */
    int64_t horizon_us; /* how far ahead they look */
    int64_t step_us;    /* their step; 0: an hour over 2 days of history or more, else 5 min */
    const char *host;   /* one host; NULL: all */
    const char *pool;   /* one pool (by name); NULL: all */
    const char *group;  /* the VMs tagged so: their allocation and demand; NULL: none */
    /* The size to fit: vCPUs, memory and disk, or like a VM (LIKE_UUID,
     * shown as LIKE) with its demand. */
    int64_t vcpus, memory_bytes, disk_bytes;
    const char *like, *like_uuid;
    int64_t add;             /* what-if: VMs of the size added */
    const char *remove_host; /* what-if: this host taken away */
};
/* The capacity report of Q as JSON (docs/api.md): per host capacity,
 * allocation and reconciled demand, how many VMs of the size fit, the
 * forecasts of demand with their backtests, the pools, the totals and the
 * what-if. */
int engine_report_capacity(struct engine *e, const struct engine_capacity_query *q,
                           struct json_object **ret, GError **error);

/* The reports' settings and the schedule's state (GET /reports). */
struct json_object *engine_report_sched_json(struct engine *e);

/* Posts EV (moved); the ops thread stores and correlates it. */
void engine_event_post(struct engine *e, struct event *ev);
int engine_incident_acknowledge(struct engine *e, int64_t id, const char *who,
                                const char *comment, GError **error);
int engine_incident_resolve(struct engine *e, int64_t id, const char *who, const char *comment,
                            GError **error);
int engine_incident_link(struct engine *e, int64_t id, int64_t problem_id, GError **error);
/* Creates (p->id 0) or updates a problem; *ret_id its id. */
int engine_problem_put(struct engine *e, struct problem *p, int64_t *ret_id, GError **error);
int engine_maintenance_add(struct engine *e, struct maintenance *m, int64_t *ret_id,
                           GError **error);
int engine_maintenance_delete(struct engine *e, int64_t id, GError **error);
/* ops_rule_valid(), and a threshold's metric is one its view has. */
bool engine_rule_check(const struct alert_rule *r, GError **error);
/* Every rule (kanri.conf's and the API's), rows of rule_row_desc. */
struct rows *engine_rules(struct engine *e);
/* Adds or replaces an API rule; a kanri.conf rule of that name cannot be. */
int engine_rule_put(struct engine *e, const struct alert_rule *r, bool *ret_created,
                    GError **error);
int engine_rule_delete(struct engine *e, const char *name, GError **error);
/* The configured routes as JSON text (an array). */
char *engine_routes_json(struct engine *e);
/* Open (or acknowledged) incidents by severity, events processed, and
 * deliveries done and failed, for /metrics. */
void engine_ops_counts(struct engine *e, uint64_t open_by_severity[SEV_N], uint64_t *ret_events,
                       uint64_t *ret_delivered, uint64_t *ret_failed);
/* Waits until every event posted before the call is stored (tests,
 * benchmarks, shutdown). */
void engine_ops_flush(struct engine *e);

/* ---- autonomic policies (engine/engine-policy.c, docs/policies.md) ----
 *
 * Errors are ENGINE_OPS_ERROR codes. */

/* The policies as they stand, JSON text (g_free): the kill switch, each
 * policy's mode and settings (and which the API overrides), the VMs for
 * which a policy is paused, and the hosts in maintenance. */
char *engine_policies_json(struct engine *e);
/* Sets SETTINGS (key -> value text) of POLICY ("memory", "balance"; "all"
 * for the kill switch "enabled") over kanri.conf's, kept in the store; a
 * NULL value goes back to kanri.conf's.  All are checked before any is
 * kept. */
int engine_policy_set(struct engine *e, const char *policy, GHashTable *settings,
                      const char *by, GError **error);
/* Lets POLICY act on VM UUID again after it was paused. */
int engine_policy_resume(struct engine *e, const char *policy, const char *uuid, GError **error);
/* Puts host HOST_ID in maintenance (its VMs are evacuated, nothing is
 * placed on it) or out.  *ret_plan (JSON text: the evacuation as planned
 * now, what cannot be placed with why) when ON. */
int engine_host_maintenance(struct engine *e, int64_t host_id, bool on, const char *by,
                            const char *reason, char **ret_plan, GError **error);
/* Whether host NAME is in maintenance (nothing may be placed on it). */
bool engine_host_in_maintenance(struct engine *e, const char *name);
/* What POLICY would have decided over the stored history of [FROM, TO)
 * (HOST_ID 0: every host), with SETTINGS (key -> value, NULL: none) over
 * the current ones; JSON text. */
char *engine_policy_simulate(struct engine *e, const char *policy, int64_t host_id,
                             int64_t from_us, int64_t to_us, GHashTable *settings,
                             GError **error);

/* ---- high availability (engine/engine-ha.c, docs/ha.md) ----
 *
 * Errors are ENGINE_OPS_ERROR codes. */

/* Watches host NAME (added with engine_host_add; URI its libvirt URI) for
 * HA: FENCE its fence agent's command line (NULL: none), PROBE its
 * reachability probe ("none", "exec:COMMAND", "tcp:HOST:PORT"; NULL: a
 * TCP probe of the URI's host, none for a local URI), a fence taking at
 * most FENCE_TIMEOUT_S.  Before engine_start(). */
int engine_ha_host(struct engine *e, const char *name, const char *uri, const char *fence,
                   const char *probe, int fence_timeout_s, GError **error);
/* HA as it stands, JSON text (g_free): settings, groups, per host its
 * state machine and signals, per HA VM where it runs and its last
 * recovery. */
char *engine_ha_json(struct engine *e);
/* Sets the HA settings of VM UUID over kanri.conf's (kept in the store);
 * S NULL goes back to kanri.conf's (-ENOENT when the API set none). */
int engine_ha_vm_set(struct engine *e, const char *uuid, const struct ha_vm_settings *s,
                     const char *by, GError **error);
/* BY (a token's name) confirms host HOST_ID is off (fenced by hand), with
 * COMMENT (NULL: none): its HA VMs are restarted elsewhere; an audit entry
 * says who.  ENGINE_OPS_CONFLICT unless it was declared dead. */
int engine_ha_confirm_fenced(struct engine *e, int64_t host_id, const char *by,
                             const char *comment, GError **error);

/* ---- the live stream (engine/stream.c) ----
 *
 * What the engine has just done, for clients that watch rather than ask
 * (GET /api/v1/events/stream): a hub holding a bounded ring of immutable
 * messages, each with an id one above the one before.  The engine
 * publishes typed copies; it never formats them (the API does).
 *
 *   event     a copy of an event as stored, published after its batch was
 *             written, so its id is the stored id; events dropped as not
 *             worth a row are not published
 *   incident  a copy of an incident as stored after a batch (of events, or
 *             a person's acknowledgement or resolution) changed it: every
 *             transition is in one, and several in one batch show as one
 *             message with the last state (its seq tells)
 *   round     a host's name and its round's time, once per collection
 *             round written, so a client knows new figures exist
 *
 * Copies do not carry an event's or an incident's affected items: the
 * rows the API serves do not show them, and a host's list can be long.
 *
 * Ids: the first message of a hub gets FIRST_ID + 1.  The engine starts
 * its hub at its start time in microseconds, so an id from before a
 * restart is never mistaken for one of this run: it is older than the
 * ring (or newer than the newest) and the reader learns it fell out.
 *
 * Threading: every function may be called from any thread.  The ring is
 * guarded by the hub's mutex; a reader takes references to messages and
 * formats them without it.  The wake callback runs after each publish,
 * outside that mutex, on the publisher's thread (the ops thread, a
 * round's, an API worker's): it must be quick and must not publish.
 */
enum stream_type { STREAM_EVENT, STREAM_INCIDENT, STREAM_ROUND, STREAM_N };

const char *stream_type_name(enum stream_type t); /* "event", "incident", "round" */
bool stream_type_parse(const char *text, enum stream_type *ret);

struct stream_msg {
    uint64_t id; /* set when published */
    enum stream_type type;
    struct event *event;       /* STREAM_EVENT */
    struct incident *incident; /* STREAM_INCIDENT */
    char *host;                /* STREAM_ROUND: the host's name */
    int64_t t_us;              /* STREAM_ROUND: when the round started */
    unsigned refs;             /* under the hub's mutex: the ring's, and readers' */
};

/* New unpublished messages (copies; the arguments stay the caller's). */
struct stream_msg *stream_msg_event(const struct event *ev);
struct stream_msg *stream_msg_incident(const struct incident *inc);
struct stream_msg *stream_msg_round(const char *host, int64_t t_us);
/* Frees a message that was never published. */
void stream_msg_free(struct stream_msg *m);

#define STREAM_DEFAULT_BACKLOG 4096

struct stream_hub;

/* A hub keeping the newest CAPACITY messages; ids start after FIRST_ID. */
struct stream_hub *stream_hub_new(guint capacity, uint64_t first_id);
/* Frees the hub and the messages it holds; readers have released theirs. */
void stream_hub_free(struct stream_hub *h);
/* Publishes the messages of MSGS (taken: MSGS is left empty, its free
 * function not called) in order,
 * dropping the oldest beyond the capacity, then calls the wake callback
 * once. */
void stream_hub_publish(struct stream_hub *h, GPtrArray *msgs);
/* The newest id (FIRST_ID while nothing was published). */
uint64_t stream_hub_last_id(struct stream_hub *h);
/* Appends to RET (of struct stream_msg *, referenced) at most MAX messages
 * with ids above AFTER, oldest first, and sets *ret_last to the newest id.
 * False, with nothing appended, when AFTER is not an id the ring can
 * continue from: older than the oldest message it holds minus one (it
 * fell out), or newer than the newest (another run's). */
bool stream_hub_read(struct stream_hub *h, uint64_t after, guint max, GPtrArray *ret,
                     uint64_t *ret_last);
/* Drops the references of the messages in MSGS (as stream_hub_read()
 * gave them) and empties it. */
void stream_hub_release(struct stream_hub *h, GPtrArray *msgs);
/* Waits until a message above AFTER exists or the monotonic clock passes
 * UNTIL_US; true when one does. */
bool stream_hub_wait(struct stream_hub *h, uint64_t after, int64_t until_us);
/* Sets the function called after each publish (NULL: none).  Once this
 * returns, the previous one is not running and will not be called. */
void stream_hub_set_wake(struct stream_hub *h, void (*fn)(void *data), void *data);

/* The engine's hub (valid for the engine's life). */
struct stream_hub *engine_stream(struct engine *e);
