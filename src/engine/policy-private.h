/*
 * The engine's side of the autonomic policies, shared by stage-policy.c
 * (the round's stage) and engine-policy.c (start-up, recording, executing,
 * and what the API asks).  Not for use outside src/engine.
 *
 * Everything in struct engine_policy is guarded by e->lock, except its
 * workers' queue (guarded by its own mutex).
 */
#pragma once

#include "engine/engine-private.h"
#include "policy/policy.h"

/* What the policies remember of one VM. */
struct vm_pstate {
    char *uuid;
    int64_t last_action_us[POLICY_N]; /* acted on (or recommended) last */
    bool paused[POLICY_N];            /* after an action made things worse */
    bool busy;                        /* an action of a policy is in flight */
    /* A done action to observe once its figures can show the effect. */
    struct policy_decision *observe[POLICY_N];
    int64_t observe_id[POLICY_N];
    int64_t observe_after_us[POLICY_N];
    int64_t observe_until_us[POLICY_N]; /* "no effect" is only said after this */
};

struct vm_pstate *engine_policy_vm(struct engine_policy *p, const char *uuid); /* creates */
void engine_policy_vm_free(gpointer p);

/* What a round hands over to be done after its write: a decision to record
 * (D set) and maybe execute, or an observation of a recorded one
 * (OBSERVE_ID set). */
struct pdec {
    struct policy_decision *d;
    int64_t t_us;
    enum policy_mode mode;
    char *host, *to_host; /* names, for the action and the record */
    char *params;         /* JSON text: the action's parameters */
    bool execute;
    bool marked;     /* the VM was marked busy (and a migration counted) for it */
    bool pause;      /* pause the policy for the VM (an undo) */
    int64_t undo_of; /* the decision an undo undoes */
    /* an observation */
    int64_t observe_id;
    char *observed;
    enum policy_verdict verdict;
};

void pdec_free(struct pdec *d);

/* The settings in force. */
struct policy_settings {
    bool enabled; /* the kill switch */
    struct policy_memory_conf memory;
    struct policy_balance_conf balance;
};

struct engine_policy {
    struct policy_settings set;
    /* VM name -> GINT_TO_POINTER(priority) / group name (kanri.conf) */
    GHashTable *priority, *affinity, *anti_affinity;
    GHashTable *vms;       /* uuid -> struct vm_pstate * */
    GHashTable *last_rule; /* decision subject -> rule last recorded */
    /* policy name -> (key -> value): the API's settings over kanri.conf's */
    GHashTable *overrides;
    unsigned balance_rounds;
    unsigned migrations_in_flight;
    int64_t fleet_last_us;
    /* The actions' workers: plain threads over a queue under a GMutex
     * (not a GThreadPool, whose own queue ThreadSanitizer cannot follow). */
    GMutex jobs_lock;
    GCond jobs_cond;
    GQueue jobs;      /* struct pdec * to execute */
    bool jobs_open;   /* workers running and taking jobs */
    GThread *workers[4];
};

void engine_policy_host_input(struct engine *e, struct ehost *h, struct policy_host *ret);
void engine_policy_vm_input(struct engine *e, struct item *it, struct policy_vm *ret);
char *engine_policy_to_host_params(const char *host);
/* Every host, and every VM running on one (sorted by uuid).  Under
 * e->lock. */
void engine_policy_fleet_input(struct engine *e, GArray *hosts, GArray *vms);
