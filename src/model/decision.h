/*
 * model/decision: the record of kanri's autonomic policies (src/policy/,
 * docs/policies.md) as the store keeps it — every decision a policy made
 * (acted on or not), the settings changed over the API, the VMs a policy
 * is paused on, and the history a dry run replays.
 *
 * The policies decide (pure, src/policy/) and the engine executes and
 * observes; the store writes what it is told and reads it back as typed
 * rows (model/row.h), served by the API as they are.
 *
 * Vocabulary, as stored (text, so a row reads the same in the database,
 * the API and the CLI):
 *   policy   "memory" | "balance" | "maintenance"
 *   mode     "recommend" | "enforce" (a simulation is never stored)
 *   action   "none" | "set-memory" | "migrate"
 *   state    "recorded" (no action: recommend mode or action "none")
 *            | "pending" (being executed) | "done" | "failed"
 *            | "undone" (a later decision, undo_of = its id, reverted it)
 *            | "skipped" (planned but not executed: a guard, kanrid stopping)
 *   verdict  "ok" | "no-effect" | "worse"
 *
 * Ownership: struct decision_write borrows every pointer for the call; the
 * rows own theirs (row_clear).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/row.h"

/* One decision to insert (store_ops.decisions_insert).  Required: t_us,
 * policy, mode, rule, action, inputs, reason, state; the rest may be
 * absent (NULL, or 0 for ids). */
struct decision_write {
    int64_t t_us;
    const char *policy;
    const char *mode;
    bool evacuation;               /* a maintenance evacuation, not balancing */
    const char *vm_uuid, *vm_name; /* NULL: a host-wide decision */
    int64_t host_id;               /* the VM's host (hosts.id); 0: none */
    int64_t to_host_id;            /* migrate: the destination; 0: none */
    const char *rule;              /* what fired (docs/policies.md) */
    const char *action;
    const char *params;   /* JSON object of the action's parameters; NULL: none */
    const char *inputs;   /* JSON object: each input with value, provenance, age */
    const char *expected; /* JSON object: the effect expected; NULL: none */
    const char *reason;   /* one sentence with the numbers */
    const char *state;
    int64_t audit_id;  /* the audit entry of the action; 0: none yet */
    const char *error; /* why it failed or was skipped; NULL: none */
    int64_t undo_of;   /* the id of the decision this one undoes; 0: none */
};

/* A decision as the API lists it: JSON member names are the field
 * names.  host and to_host are the hosts' names; host_id and
 * to_host_id are for the engine only. */
struct decision_row {
    int64_t id;
    int64_t time;
    char *policy, *mode;
    bool evacuation;
    char *vm, *vm_uuid;
    char *host, *to_host;
    char *rule, *action;
    char *params, *inputs, *expected; /* JSON */
    char *reason, *state;
    int64_t audit_id;
    char *error;
    char *observed; /* JSON: what the round after the action saw */
    char *verdict;
    int64_t observed_time;
    int64_t undo_of;
    int64_t host_id, to_host_id; /* internal */
};

/* A setting of a policy changed over the API: it wins over kanri.conf and
 * survives restarts until deleted. */
struct policy_setting_row {
    char *policy, *key, *value;
    int64_t updated;
    char *by;
};

/* A policy paused on one VM (after an action of it made things worse). */
struct policy_pause_row {
    char *policy, *vm_uuid;
    char *vm; /* the name of the newest domain row with that uuid; NULL: none */
    int64_t since;
    char *reason;
    int64_t decision_id; /* the decision found worse; absent: none */
};

/* One VM in one stored round, as a policy dry run reads the past
 * (store_ops.policy_replay_query).  The reconciled figures R as stored
 * (struct reconciled_sample: bytes, bytes/s, cpu_demand in milli-percent
 * of the allocated vCPUs), the balloon and vCPU count from the host view
 * of the same round, and the host's free memory from its node figures of
 * that round.  Any figure may be absent (ROW_INT_ABSENT). */
struct replay_row {
    int64_t t; /* the round's reconciled time */
    int64_t host_id;
    char *host;
    char *vm_uuid, *vm;
    int64_t mem_total, mem_used, mem_swap, cpu_demand;
    int64_t balloon_current, balloon_maximum, vcpu_count;
    int64_t node_mem_total, node_mem_free; /* free: MemFree + Buffers + Cached */
};

extern const struct row_desc decision_row_desc;       /* "decisions" */
extern const struct row_desc policy_setting_row_desc; /* "settings" */
extern const struct row_desc policy_pause_row_desc;   /* "pauses" */
extern const struct row_desc replay_row_desc;         /* "replay" */
