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
#include "reconcile/reconcile.h"
#include "store/store.h"

struct engine;

struct engine_conf {
    bool collect;   /* the drivers run collection rounds (their health is exported) */
    int interval_s; /* collection round period (sets the maintenance pace) */
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
};

void engine_conf_init(struct engine_conf *c);

struct engine *engine_new(struct store *st, const struct engine_conf *conf);
/* The sink to give drivers (valid for the engine's life). */
const struct driver_sink *engine_sink(struct engine *e);
/* Stores host HC->name (keeping its id across restarts), loads what the
 * store knows of it, and has DRV manage it.  DRV stays the caller's. */
int engine_host_add(struct engine *e, struct driver *drv, const struct driver_host_conf *hc,
                    GError **error);
/* Starts the history maintenance thread and the upkeep thread. */
void engine_start(struct engine *e);
void engine_resync_all(struct engine *e);
/* Stops the engine's threads and every driver (waiting up to TIMEOUT_S in
 * all) and keeps every VM's view; true when everything stopped, after
 * which engine_free() and store_close() are safe. */
bool engine_stop(struct engine *e, int timeout_s);
void engine_free(struct engine *e);

/* ---- readiness ---- */

/* True when every host has synced its inventory since start-up or is
 * unreachable.  Otherwise false, with the hosts still loading in *WHY
 * (g_free) and a Retry-After estimate. */
bool engine_ready(struct engine *e, char **ret_why, int *ret_retry_after_s);
/* True while host HOST_ID (-1: any host) has not finished its first
 * inventory sync since start-up and is not unreachable: a name unknown now
 * may appear when it has. */
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
 * store_ops.guest_sample_insert) and, when it is the newest, makes it the
 * latest of its machine.  S stays the caller's. */
int engine_ingest(struct engine *e, const struct guest_sample *s, bool *ret_duplicate,
                  GError **error);

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
    ENGINE_OPS_LOADING /* the record's state is not loaded (yet): 503 */
};

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
