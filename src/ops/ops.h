/*
 * ops: the operations record's decisions — which events open, join,
 * escalate, resolve or reopen which incident; what a maintenance window
 * silences; what a rule's figures mean; which configuration change most
 * likely caused an incident; which route a transition goes to.
 *
 * Pure, like src/reconcile/: no I/O, no clock (times come in), no
 * logging.  The engine feeds events in and writes what comes out; the
 * golden tests (tests/data/ops/) do the same with text.
 *
 * The rules (docs/operations.md):
 *   - one incident per (condition, item) at a time.  A problem event on an
 *     item with an open incident for that condition joins it (and raises
 *     its severity, "escalated", when higher);
 *   - topology: a problem of an item whose host has an open
 *     "host-unreachable" incident joins that incident, its item listed as
 *     affected, instead of opening one of its own; an event's own affected
 *     list (the VMs on a host, on a pool) is the incident's too;
 *   - a problem inside a maintenance window covering its item is recorded
 *     and opens nothing;
 *   - a recovery starts the incident's clearing; it resolves once the
 *     condition stayed clear for resolve_after (0: at once), and a problem
 *     meanwhile cancels the clearing (hysteresis); a recovery of vm-down
 *     also ends vm-paused and the reverse (a VM running again), and an
 *     event marked gone ends every incident of its item;
 *   - a problem within reopen_window of its incident's resolution reopens
 *     that incident (flaps + 1) instead of opening a new one;
 *   - an incident opened or reopened suggest_count times within
 *     suggest_window is linked to a problem kanri suggests (one per
 *     condition and item);
 *   - every transition (opened, escalated, acknowledged, resolved,
 *     reopened) bumps the incident's seq, so (id, seq) keys its
 *     notifications; transitions inside a maintenance window notify
 *     nobody.
 *
 * Ownership: ops_state owns its incidents; functions append
 * struct incident_change to RET (strings owned, incident_change_clear) and
 * the ids of changed incidents to RET_DIRTY when given.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/event.h"

/* The condition whose incident on a host absorbs its items' problems. */
#define OPS_HOST_DOWN "host-unreachable"

struct ops_conf {
    int64_t resolve_after_us; /* hysteresis; 0: a recovery resolves at once */
    int64_t reopen_window_us; /* flap control */
    unsigned suggest_count;   /* 0: never suggest problems */
    int64_t suggest_window_us;
};

void ops_conf_defaults(struct ops_conf *c);

struct ops_state {
    /* "condition\x1fitem" -> struct incident *: the newest incident of each
     * key while open, and resolved for reopen_window. */
    GHashTable *by_key;
    GHashTable *by_id; /* int64 id -> the same struct incident * */
    /* key -> GArray of int64 opening times within suggest_window */
    GHashTable *openings;
    /* key -> int64 id of the problem suggested for it */
    GHashTable *suggested;
    GPtrArray *maintenance; /* struct maintenance *, owned */
    /* The next ids to give.  Each is id_slot modulo id_stride: kanrid
     * instances sharing a store give ids in slots of their own, so theirs
     * never collide (ops_state_set_slot). */
    int64_t next_incident_id, next_problem_id, next_event_id;
    int64_t id_stride, id_slot;
    /* Problems suggested since the caller last took them (struct problem *). */
    GPtrArray *new_problems;
};

struct ops_state *ops_state_new(void);
void ops_state_free(struct ops_state *st);
/* Ids from now on are SLOT modulo STRIDE (0 <= SLOT < STRIDE), each
 * above every id given or seen so far. */
void ops_state_set_slot(struct ops_state *st, int64_t stride, int64_t slot);
/* Ids from now on above AT_LEAST - 1 (ids the store already holds). */
void ops_state_ids_above(struct ops_state *st, int64_t max_event_id, int64_t max_incident_id,
                         int64_t max_problem_id);
/* A new problem's id (one counter for people's and suggested ones). */
int64_t ops_state_problem_id(struct ops_state *st);
/* Takes INC (as loaded from the store) into the state. */
void ops_state_add(struct ops_state *st, struct incident *inc);
/* Remembers that PROBLEM_ID was suggested for (CONDITION, ITEM). */
void ops_state_add_suggested(struct ops_state *st, const char *condition, const char *item,
                             int64_t problem_id);
struct incident *ops_state_find(struct ops_state *st, int64_t id);
/* Replaces the maintenance windows (copied). */
void ops_state_set_maintenance(struct ops_state *st, const GPtrArray *windows);

/* The maintenance window covering the item at T, or NULL. */
const struct maintenance *ops_maintenance_at(const struct ops_state *st, const char *item,
                                             const char *item_name, const char *host, int64_t t_us);

/* Applies EV (its id, incident_id and maintenance_id are set). */
void ops_apply(struct ops_state *st, const struct ops_conf *conf, struct event *ev, GArray *ret,
               GArray *ret_dirty);
/* Resolves the incidents whose clearing has lasted resolve_after, and
 * forgets resolved ones past the reopen window (they stay in the store). */
void ops_tick(struct ops_state *st, const struct ops_conf *conf, int64_t now_us, GArray *ret,
              GArray *ret_dirty);

/* A person acknowledges or resolves incident ID.  -ENOENT: not known (or
 * long resolved); -EALREADY: already in that state (or resolved, for an
 * acknowledgement). */
int ops_acknowledge(struct ops_state *st, int64_t id, const char *who, const char *comment,
                    int64_t now_us, GArray *ret);
int ops_resolve(struct ops_state *st, int64_t id, const char *who, const char *comment,
                int64_t now_us, GArray *ret);
/* Links incident ID to problem PROBLEM_ID (0 unlinks); -ENOENT when the
 * incident is not in the state. */
int ops_link_problem(struct ops_state *st, int64_t id, int64_t problem_id);

/* ---- scopes (rules, maintenance windows, routes) ----
 *
 *   all            everything
 *   host:NAME      the host NAME and every item on it
 *   vm:GLOB        VMs whose name matches GLOB (* and ?)
 *   item:ID        exactly the item ID ("vm:UUID", "pool:HOST/NAME", ...)
 *   pool:GLOB      pools whose "HOST/NAME" matches GLOB
 */
bool ops_scope_valid(const char *scope, GError **error);
bool ops_scope_match(const char *scope, const char *item, const char *item_name, const char *host);

/* ---- rules ---- */

/* Where one rule stands on one item between evaluations. */
struct rule_track {
    int64_t breach_since; /* 0: not in breach */
    int64_t clear_since;  /* firing, and no longer in breach since; 0: not */
    bool firing;
    int64_t missing_since; /* the figure was missing since; 0: present */
    unsigned missing_n;    /* evaluations in a row without it */
    bool missing_firing;   /* "cannot evaluate" raised */
    /* trends: the level's smoothed rate per second */
    bool have_level;
    int64_t level_t;
    double level, rate;
};

/* What one evaluation says. */
enum rule_verdict {
    RULE_QUIET,          /* nothing new */
    RULE_FIRES,          /* the breach lasted for_us: problem event */
    RULE_CLEARS,         /* no breach for for_us: recovery event */
    RULE_CANNOT_EVAL,    /* the figure has been missing: "cannot evaluate" problem */
    RULE_CAN_EVAL_AGAIN, /* the figure is back: recovery of that */
};

/* Evaluates R on one item with the figure VALUE (HAVE false: missing).
 * A missing figure is never read as "no breach": after for_us (and two
 * evaluations at least) it says RULE_CANNOT_EVAL instead. */
enum rule_verdict ops_rule_step(const struct alert_rule *r, struct rule_track *t, bool have,
                                double value, int64_t now_us);
/* Whether VALUE breaches R's comparison. */
bool ops_rule_breached(const struct alert_rule *r, double value);
/* Trend rules: feeds LEVEL (bytes used) at T and returns the hours until
 * it reaches LIMIT at the smoothed current rate (INFINITY when it does not
 * grow; NaN until two levels were seen). */
double ops_trend_hours(struct rule_track *t, int64_t t_us, double level, double limit);
/* The condition text of a rule's incidents ("rule/NAME",
 * "rule/NAME/cannot-evaluate"). */
char *ops_rule_condition(const struct alert_rule *r, bool cannot_eval);
/* Validates a rule (as given in kanri.conf or the API). */
bool ops_rule_valid(const struct alert_rule *r, GError **error);

/* ---- what changed before an incident ---- */

/* A configuration change or an action on an item, for the list. */
struct ops_change {
    int64_t id;
    int64_t t_us;
    char *item, *item_name;
    char *source; /* "change" (a configuration change record) | "action" (the audit) */
    char *cause;  /* change: "external" | "action" | "created" | "removed"; action: the verb */
    char *actor;  /* the person (token name), NULL: none */
    char *summary;
    bool pending; /* a definition change that applies at the next boot */
    char *diff;   /* a change's unified diff; NULL for an action */
    /* set by ops_preceding */
    bool likely;
    const char *why; /* static: why it is the likely cause */
};

void ops_change_clear(struct ops_change *c);

/* Sorts CHANGES (struct ops_change) newest first, keeps those in
 * [OPENED - WINDOW, OPENED] (pending ones whatever their age) and marks
 * the most likely cause of an incident on ITEM: a change to ITEM itself
 * within NEAR of the opening (its first sighting, cause "created", is
 * not one), else the newest action by a person, else the newest external
 * change, else none. */
void ops_preceding(GArray *changes, const char *item, int64_t opened_us, int64_t window_us,
                   int64_t near_us);

/* ---- routes ---- */

/* Whether transition WHAT of INC goes to route R. */
bool ops_route_match(const struct notify_route *r, const struct incident *inc,
                     enum incident_transition what);
/* The idempotency key of a transition: "kanri-ID-SEQ". */
char *ops_delivery_key(int64_t incident_id, unsigned seq);

/* ---- what a VM's state change means ---- */

struct ops_lifecycle {
    const char *kind;      /* static: "vm.destroyed", "vm.started", ... */
    const char *condition; /* static: "vm-down" | "vm-paused"; NULL: a fact */
    bool problem;
    enum severity severity;
    const char *words; /* static: "destroyed behind kanri's back", ... */
};

/* A domain went from OLD_STATE/OLD_REASON to STATE/REASON (libvirt's
 * names, as virt_state_reason() gives them); BY_ACTION: a kanri action
 * was in flight on it.  False when it is not worth an event (no change,
 * or a state nobody acts on).  An unexpected stop (crashed, destroyed or
 * shut down from inside behind kanri's back, paused on an I/O error) is a
 * problem of "vm-down" or "vm-paused"; running again is its recovery; a
 * stop by a kanri action is a fact. */
bool ops_vm_lifecycle(const char *old_state, const char *old_reason, const char *state,
                      const char *reason, bool by_action, struct ops_lifecycle *ret);

/* ---- relations between items ----
 *
 * VM runs-on host, VM uses pool (a disk's source inside the pool's target
 * path), VM attached-to network (a NIC of type network), VM reported-by
 * agent (kanri-guestd enrolled for that machine), and their reverses
 * (host hosts VM, pool used-by VM, network serves VM, agent reports-for
 * VM).  The impact of an item is what fails with it: the VMs on a host,
 * on a pool, on a network. */
struct ops_rel_vm {
    const char *uuid, *name, *host;
    GPtrArray *disk_sources; /* const char *, borrowed */
    GPtrArray *networks;     /* const char *, borrowed */
    bool has_agent;          /* an enrolled kanri-guestd reports for it */
};

struct ops_rel_pool {
    const char *host, *name, *target_path;
};

struct ops_relation {
    const char *type; /* static */
    char *item, *name;
};

void ops_relation_clear(struct ops_relation *r);
/* Whether SOURCE lies inside the directory (or is the device) PATH: not
 * merely a path that starts with the same letters. */
bool ops_path_inside(const char *source, const char *path);
/* Appends ITEM's relations (struct ops_relation) to RET; false when the
 * item is not among VMS, POOLS or their hosts and networks. */
bool ops_relations(const char *item, const struct ops_rel_vm *vms, size_t n_vms,
                   const struct ops_rel_pool *pools, size_t n_pools, GArray *ret);
/* Appends the VMs hit if ITEM fails (type "affected"). */
void ops_impact(const char *item, const struct ops_rel_vm *vms, size_t n_vms,
                const struct ops_rel_pool *pools, size_t n_pools, GArray *ret);
