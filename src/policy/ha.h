/*
 * ha: detection and recovery of failed hosts (docs/ha.md).
 *
 * One state machine per host, stepped by ha_step() about once a second
 * with the host's signals, and one recovery record per HA VM of a failed
 * host.  The engine gathers the signals (the libvirt connection and its
 * keepalive, a reachability probe, the HA VMs' direct guest views), runs
 * the actions ha_step() asks for (fence a host, restart a VM on another
 * host, clean a host that came back) and feeds their results back in.
 *
 *   up ──connection lost──▶ suspect ──declared dead──▶ fencing ──ok──▶ fenced
 *    ▲                        │                          │               │ restarts
 *    └──connection back───────┘                       failed             ▼
 *    ▲                                                   ▼          recovered
 *    │                                              fence-failed         │
 *    └───────── rejoining ◀──────── connection back ─────┴───────────────┘
 *
 * A host is declared dead only when every signal agrees: the connection
 * has been lost for detect_after, the probe (where one is configured)
 * fails, and none of its HA VMs that report directly (kanri-guestd) has
 * reported since the loss.  A host answering its probe, or whose guests
 * still report, runs: its libvirtd alone is down or slow.  A dead host
 * with no HA VM to restart is only marked down.
 *
 * Never twice: nothing is restarted before the fence is confirmed (an
 * operator may confirm it by hand); a VM found running on a connected
 * host counts as restarted and is not started again; a VM whose restart
 * met a held storage lease is not retried; and a host that comes back is
 * cleaned (stale copies of VMs now running elsewhere destroyed and
 * undefined) before it is "up" again.
 *
 * Pure: ha_step() reads its arguments and changes only the state it is
 * given; no I/O, no clock, no logging.  Every state change is marked
 * dirty for the engine to store, so kanrid restarting mid-recovery
 * carries on: a host left "fencing" is fenced again, a VM left
 * "starting" is looked for and restarted if it runs nowhere.
 *
 * Times are microseconds of kanrid's (wall) clock.  Ownership: struct
 * ha_state owns its records and their strings; signals, VMs and results
 * are borrowed for the call; the outputs belong to the caller
 * (ha_out_free()).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "policy/policy.h"

enum ha_host_state {
    HA_UP,           /* connected, or lost too briefly to tell */
    HA_SUSPECT,      /* the connection is lost; not declared dead (yet) */
    HA_DOWN,         /* declared dead, no HA VM to restart: not fenced */
    HA_FENCING,      /* declared dead; its fence is running */
    HA_FENCE_FAILED, /* the fence failed or none is configured: nothing restarted */
    HA_FENCED,       /* fenced: its HA VMs are being restarted elsewhere */
    HA_RECOVERED,    /* every HA VM handled; waiting for the host to come back */
    HA_REJOINING,    /* back: its stale copies are being cleaned */
    HA_HOST_N
};

enum ha_vm_state {
    HA_VM_PENDING,  /* to restart */
    HA_VM_STARTING, /* a restart is running */
    HA_VM_STARTED,  /* running on another host */
    HA_VM_UNPLACED, /* fits on no surviving host (retried as capacity appears) */
    HA_VM_FAILED,   /* gave up (attempts spent, or a storage lease is held) */
    HA_VM_REPORTED, /* restart policy "report" or "in-place": left for the host's return */
    HA_VM_DONE,     /* its host came back and was cleaned (the record is history) */
    HA_VM_N
};

/* What happens to an HA VM when its host fails. */
enum ha_restart {
    HA_RESTART_ELSEWHERE, /* restart it on another host (default) */
    HA_RESTART_IN_PLACE,  /* start it again on its host when that comes back */
    HA_RESTART_REPORT,    /* only say it is down */
    HA_RESTART_N
};

enum ha_probe { HA_PROBE_NONE, HA_PROBE_UNKNOWN, HA_PROBE_OK, HA_PROBE_FAILED };

const char *ha_host_state_name(enum ha_host_state s); /* "up", "suspect", ... "rejoining" */
bool ha_host_state_parse(const char *text, enum ha_host_state *ret);
const char *ha_vm_state_name(enum ha_vm_state s); /* "pending", ... "done" */
bool ha_vm_state_parse(const char *text, enum ha_vm_state *ret);
const char *ha_restart_name(enum ha_restart r); /* "elsewhere", "in-place", "report" */
bool ha_restart_parse(const char *text, enum ha_restart *ret);
const char *ha_probe_name(enum ha_probe p); /* "none", "unknown", "ok", "failed" */

/* ---- configuration ([ha] in kanri.conf) ---- */

struct ha_conf {
    bool enabled;
    int64_t detect_us;      /* the connection lost this long, with the others agreeing */
    int64_t fence_retry_us; /* a failed fence is tried again after this */
    unsigned restart_attempts; /* per VM and failure, each on another host if one fits */
    double reserve_bytes;      /* memory a host keeps free after a restart onto it */
};

void ha_conf_init(struct ha_conf *c);
/* Sets one [ha] option by name; false with *error, C unchanged, for an
 * unknown name or a bad value. */
bool ha_conf_set(struct ha_conf *c, const char *name, const char *value, GError **error);
/* The settings in force, a JSON object of key -> text (g_free). */
char *ha_conf_json(const struct ha_conf *c);

/* One VM's HA settings: kanri.conf's [ha] vm.NAME, or the API's. */
struct ha_vm_settings {
    bool ha;
    int priority; /* -1000 .. 1000, higher restarted first */
    enum ha_restart restart;
    char *group; /* an HA group (its hosts); NULL: any host */
};

#define HA_PRIORITY_MAX 1000

void ha_vm_settings_clear(struct ha_vm_settings *v);
void ha_vm_settings_free(gpointer v); /* a g_new'd one, for containers */
/* Parses kanri.conf's form: "on" or "off", or words "priority=N",
 * "restart=elsewhere|in-place|report", "group=NAME" (which imply on),
 * space-separated.  False with *error, RET cleared, on anything else. */
bool ha_vm_settings_parse(const char *text, struct ha_vm_settings *ret, GError **error);
/* A group name: 1-64 letters, digits, '-', '_', '.'. */
bool ha_group_name_ok(const char *name);

/* How a host's reachability is probed ([hypervisor:NAME] probe). */
enum ha_probe_kind { HA_PROBE_KIND_NONE, HA_PROBE_KIND_EXEC, HA_PROBE_KIND_TCP };

struct ha_probe_spec {
    enum ha_probe_kind kind;
    char **argv; /* EXEC: the command (exit 0: reachable) */
    char *host;  /* TCP: a connection to HOST:PORT is accepted: reachable */
    int port;
};

/* Parses "none", "exec:COMMAND ARGS" or "tcp:HOST:PORT" ("tcp:[V6]:PORT").
 * False with *error, RET cleared, on anything else. */
bool ha_probe_spec_parse(const char *text, struct ha_probe_spec *ret, GError **error);
void ha_probe_spec_clear(struct ha_probe_spec *s);

/* ---- state (kept in the store) ---- */

struct ha_host_rec {
    int64_t host_id;
    char *name;
    enum ha_host_state state;
    int64_t since_us;        /* in this state since */
    int64_t failed_us;       /* declared dead at (0: not in a failure) */
    unsigned fence_attempts; /* in this failure */
    int64_t next_fence_us;   /* a failed fence is retried from then */
    char *reason;            /* why it is in this state, in words */
    bool inflight;           /* an action for it runs (not stored: none after a restart) */
    bool dirty;              /* changed: to store */
};

struct ha_vm_rec {
    char *uuid, *name;
    int64_t from_host;      /* the failed host */
    int64_t to_host;        /* where it was (or is being) restarted; 0 none */
    int64_t failed_host;    /* the last host a restart failed on; 0 none */
    enum ha_vm_state state;
    int64_t since_us;       /* in this state since */
    int64_t failure_us;     /* the host failure it belongs to (from_host's failed_us) */
    unsigned attempts;
    char *reason;
    bool inflight; /* not stored */
    bool dirty;
};

struct ha_state {
    GHashTable *hosts; /* host id (int64_t *) -> struct ha_host_rec * */
    GHashTable *vms;   /* uuid -> struct ha_vm_rec * (the newest recovery of each VM) */
};

struct ha_state *ha_state_new(void);
void ha_state_free(struct ha_state *s);
/* The record of host HOST_ID, created "up" (since NOW_US) when missing. */
struct ha_host_rec *ha_state_host(struct ha_state *s, int64_t host_id, const char *name,
                                  int64_t now_us);
/* Adds (moved) a record read back from the store. */
void ha_state_put_vm(struct ha_state *s, struct ha_vm_rec *r);
void ha_vm_rec_free(struct ha_vm_rec *r);

/* ---- input ---- */

struct ha_signals {
    int64_t host_id;
    const char *name;
    bool connected;  /* connection up and its inventory synced */
    /* Still making its first connection since kanrid started (neither
     * failed nor answered): not judged yet, nor trusted as a place where
     * VMs run or not. */
    bool loading;
    int64_t lost_us; /* not connected since (kanrid's start when never connected) */
    enum ha_probe probe;
    int64_t probe_us; /* when the probe last answered that way */
    const char *probe_detail;
    unsigned guests_direct; /* its running HA VMs that report through kanri-guestd */
    unsigned guests_alive;  /* of those, how many reported after lost_us */
    bool fence_configured;
    bool maintenance;   /* nothing is restarted onto it */
    double mem_free;    /* bytes free for restarts; NaN unknown */
};

struct ha_vm {
    const char *uuid, *name;
    bool ha;
    int priority; /* higher first */
    enum ha_restart restart;
    const char *const *allowed; /* host names it may run on (its group); NULL any */
    int64_t host_id;     /* the host whose inventory has it */
    bool running;        /* running there, as last known */
    int64_t running_on;  /* a connected host on which it runs now (0: none) */
    double mem_bytes;    /* what it needs on a host; NaN unknown */
};

enum ha_action_kind { HA_ACT_FENCE, HA_ACT_RESTART, HA_ACT_REJOIN, HA_ACT_N };

/* The result of an action, fed back to the next ha_step(). */
struct ha_result {
    enum ha_action_kind kind;
    int64_t host_id;  /* FENCE, REJOIN: the host; RESTART: the target */
    const char *uuid; /* RESTART */
    bool ok;
    bool lease_held; /* RESTART: refused because the disks' lease is held */
    const char *detail;
};

/* An operator's word that a host is off (fencing done by hand). */
struct ha_confirm {
    int64_t host_id;
    const char *by;
};

struct ha_input {
    int64_t now_us;
    const struct ha_signals *hosts;
    size_t n_hosts;
    const struct ha_vm *vms; /* one per VM (uuid), whatever hosts list it */
    size_t n_vms;
    const struct ha_result *results;
    size_t n_results;
    const struct ha_confirm *confirms;
    size_t n_confirms;
};

/* ---- output ---- */

enum ha_out_kind { HA_OUT_EVENT, HA_OUT_ACTION };

struct ha_out {
    enum ha_out_kind kind;
    int64_t host_id; /* the host it is about (an action's subject; a restart's source) */
    char *host;
    char *uuid, *vm_name; /* a VM's, NULL otherwise */
    /* HA_OUT_EVENT: what the operations record gets (model/event.h) */
    char *event_kind;  /* "ha.host.failed", ... */
    char *condition;   /* NULL: a fact */
    bool problem;
    int severity; /* enum severity */
    char *message;
    /* HA_OUT_ACTION */
    enum ha_action_kind action;
    int64_t to_host_id; /* RESTART: the target */
    char *to_host;
    /* REJOIN: VMs now running elsewhere whose stale copy is removed from
     * the host (destroyed if running, undefined), and VMs to start there
     * again (restart policy in-place, or never restarted elsewhere). */
    GPtrArray *remove, *start; /* char * uuids */
};

void ha_out_free(struct ha_out *o);

/* Applies IN's results and confirmations to S, then steps every host's
 * machine and the recoveries; appends to OUT (of struct ha_out *, the
 * caller's free function) the events and actions, in a stable order. */
void ha_step(const struct ha_conf *conf, struct ha_state *s, const struct ha_input *in,
             GPtrArray *out);
