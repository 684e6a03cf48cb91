/*
 * policy: the analyse and plan steps of kanri's autonomic loop
 * (docs/policies.md).  Monitor (the engine's latest reconciled view) ->
 * analyse -> plan (here) -> execute (the engine, through its audited
 * actions, as actor "policy:NAME").
 *
 * Pure: policy_memory_plan(), policy_balance_plan() and
 * policy_memory_observe() read only their input and return new values; no
 * I/O, no clock, no global state, no logging.  What they need from the
 * past (when a VM was last acted on, how many rounds a host has been out
 * of balance, what is paused) comes in through the input; what the next
 * run needs goes out in the plan.
 *
 * Every decision is explained: the inputs it used with their provenance
 * and age, the rule that fired, the action planned (or none, and why), and
 * the effect expected.  A VM whose inputs are missing or stale gets a
 * decision of action POLICY_ACT_NONE saying so — never a guess.
 *
 * Units: memory in bytes, CPU demand in cores (reconciled run + wait),
 * times in microseconds of kanrid's clock.  An absent figure is NaN
 * (POLICY_ABSENT, tested with policy_present()).
 *
 * Ownership: inputs are borrowed for the call.  A struct policy_plan and
 * everything in it belong to the caller (policy_plan_free()).
 */
#pragma once

#include <glib.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#define POLICY_ABSENT ((double)NAN)

static inline bool policy_present(double v)
{
    return !isnan(v);
}

enum policy_kind { POLICY_MEMORY, POLICY_BALANCE, POLICY_N };
enum policy_mode { POLICY_OFF, POLICY_RECOMMEND, POLICY_ENFORCE };

const char *policy_kind_name(enum policy_kind k); /* "memory", "balance" */
bool policy_kind_parse(const char *text, enum policy_kind *ret);
const char *policy_mode_name(enum policy_mode m); /* "off", "recommend", "enforce" */
bool policy_mode_parse(const char *text, enum policy_mode *ret);

/* ---- configuration ---- */

struct policy_memory_conf {
    enum policy_mode mode;
    /* Free host memory (MemFree + Buffers + Cached) wanted on every host:
     * a share of its memory (percent) when target_pct is present, else
     * target_bytes. */
    double target_pct;
    uint64_t target_bytes;
    /* Memory is reclaimed only while the host is under the target, and
     * given back (to guests without pressure) only once it is over the
     * target by this much (percent of the host's memory): hysteresis. */
    double give_back_above_pct;
    /* A guest is never ballooned below its reconciled use plus
     * max(margin_bytes, margin_pct of its use). */
    uint64_t margin_bytes;
    double margin_pct;
    /* A guest is under pressure when its available memory (reconciled
     * total - used) is below this share of its total, or it swaps in
     * (reconciled mem_swap above swap_in_floor bytes/s), or its
     * balloon-induced-swapping finding is open. */
    double pressure_pct;
    double swap_in_floor;
    /* One action changes a balloon by at most step_max, and not at all for
     * less than step_min (no churn for crumbs). */
    uint64_t step_max, step_min;
    /* Guards: a VM is acted on at most once per vm_cooldown_us; a host sees
     * at most host_actions actions per round. */
    int64_t vm_cooldown_us;
    unsigned host_actions;
};

struct policy_balance_conf {
    enum policy_mode mode;
    /* Hosts are out of balance when their CPU loads (reconciled demand over
     * cores) or their memory loads (in use over memory), in percent, differ
     * by at least threshold_pct, for sustain_rounds evaluations in a row
     * (flapping demand moves nothing). */
    double threshold_pct;
    unsigned sustain_rounds;
    /* A move must lower the spread by at least min_gain_pct. */
    double min_gain_pct;
    /* A destination keeps this share of its memory free after a move. */
    double reserve_pct;
    /* At most this many migrations at once in the fleet (maintenance
     * evacuations included); a VM is moved at most once per cooldown. */
    unsigned max_concurrent;
    int64_t vm_cooldown_us;
    /* Cost: seconds to copy a VM, estimated as memory / bandwidth, plus
     * dirty rate where known; a move costing more than max_cost_s is not
     * made by balancing (evacuation still does, by priority). */
    double bandwidth_bytes_s;
    double max_cost_s;
};

void policy_memory_conf_init(struct policy_memory_conf *c);
void policy_balance_conf_init(struct policy_balance_conf *c);

/* Sets one option by name (kanri.conf's [policy:memory] / [policy:balance]
 * keys, docs/policies.md); false with *error, CONF unchanged, for an
 * unknown name or a bad value. */
bool policy_memory_conf_set(struct policy_memory_conf *c, const char *name, const char *value,
                            GError **error);
bool policy_balance_conf_set(struct policy_balance_conf *c, const char *name, const char *value,
                             GError **error);

/* Every setting in force as kanri.conf would write it, a JSON object of
 * key -> text (g_free); each text set back gives the same setting. */
char *policy_memory_conf_json(const struct policy_memory_conf *c);
char *policy_balance_conf_json(const struct policy_balance_conf *c);

/* ---- input ---- */

/* One figure with where it came from and how old it is (for the record). */
struct policy_fig {
    double v;               /* NaN: absent */
    const char *provenance; /* "guest", "host", "host-run+wait", ...; NULL when absent */
    int64_t age_us;         /* -1: unknown */
};

struct policy_host {
    int64_t id;
    const char *name;
    bool connected;   /* its latest view is current (not unreachable, not loading) */
    bool maintenance; /* nothing is placed on it; its VMs are evacuated */
    double cpus;      /* cores */
    double mem_total; /* bytes */
    double mem_free;  /* MemFree + Buffers + Cached; NaN unknown */
    int64_t mem_age_us;
};

struct policy_vm {
    const char *uuid, *name;
    int64_t host_id;
    bool running;
    int priority;        /* evacuation order, higher first; default 0 */
    const char *affinity;      /* group kept on one host, NULL none */
    const char *anti_affinity; /* group kept on different hosts, NULL none */
    /* reconciled figures */
    struct policy_fig mem_total, mem_used; /* bytes */
    struct policy_fig mem_swap_in;         /* bytes/s */
    struct policy_fig cpu_demand;          /* cores (run + wait) */
    bool balloon_swapping;                 /* that finding is open */
    /* the host side of the balloon, bytes (NaN: no balloon) */
    double balloon_current, balloon_maximum;
    double dirty_rate; /* bytes/s, NaN unknown */
    /* guards */
    int64_t last_action_us[POLICY_N]; /* 0: never */
    bool paused[POLICY_N];            /* paused after an action made things worse */
    bool busy;                        /* an action on it is in flight */
};

struct policy_input {
    int64_t now_us;
    const struct policy_host *hosts;
    size_t n_hosts;
    const struct policy_vm *vms;
    size_t n_vms;
    unsigned migrations_in_flight;
    unsigned balance_rounds; /* evaluations in a row out of balance so far */
};

/* ---- output ---- */

enum policy_action { POLICY_ACT_NONE, POLICY_ACT_SETMEM, POLICY_ACT_MIGRATE };
const char *policy_action_name(enum policy_action a); /* "none", "set-memory", "migrate" */

struct policy_decision {
    enum policy_kind policy;
    bool evacuation; /* a maintenance evacuation, not balancing */
    char *vm_uuid, *vm_name; /* NULL for a host-wide decision */
    int64_t host_id;
    char *rule; /* what fired, a fixed vocabulary (docs/policies.md) */
    enum policy_action action;
    uint64_t memory;    /* SETMEM: the new balloon size, bytes */
    uint64_t previous;  /* SETMEM: the size before */
    int64_t to_host_id; /* MIGRATE */
    char *inputs;       /* JSON object: each input with value, provenance, age */
    char *expected;     /* JSON object: the effect expected, NULL for NONE */
    char *reason;       /* one sentence with the numbers */
};

struct policy_plan {
    GPtrArray *decisions; /* struct policy_decision *, owned */
    unsigned balance_rounds; /* to hand back next time */
};

void policy_decision_free(struct policy_decision *d);
void policy_plan_free(struct policy_plan *p);
typedef struct policy_plan policy_plan; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(policy_plan, policy_plan_free)

/* ---- the policies ---- */

/* The balloon manager for the hosts and VMs of IN (the engine passes one
 * host's round).  Decides even in recommend mode (the engine does not
 * execute then); nothing in off mode. */
struct policy_plan *policy_memory_plan(const struct policy_memory_conf *c,
                                       const struct policy_input *in);

/* Balancing and maintenance evacuation over the whole fleet of IN. */
struct policy_plan *policy_balance_plan(const struct policy_balance_conf *c,
                                        const struct policy_input *in);

/* The observed effect of a done SETMEM decision D, one round later, on VM
 * (its new figures): *ret_observed gets a JSON object of what was seen,
 * and the verdict is whether it made things worse (the guest now under
 * pressure it was not under), to be undone. */
enum policy_verdict { POLICY_OK, POLICY_NO_EFFECT, POLICY_WORSE };
const char *policy_verdict_name(enum policy_verdict v); /* "ok", "no-effect", "worse" */
enum policy_verdict policy_memory_observe(const struct policy_memory_conf *c,
                                          const struct policy_decision *d,
                                          const struct policy_vm *vm, char **ret_observed);

/* The observed effect of a done MIGRATE decision D (balancing, not an
 * evacuation) on the fleet IN as it is now: worse when the spread it was
 * meant to lower is now larger than before the move (D's expected holds
 * "spread_before"), so the move is to be undone. */
enum policy_verdict policy_balance_observe(const struct policy_balance_conf *c,
                                           const struct policy_decision *d,
                                           const struct policy_input *in, char **ret_observed);
