/*
 * Shared between the engine's operations-record files (ops.c, the ops
 * stage and the notifier).  Not for use outside src/engine.
 */
#pragma once

#include <json-c/json.h>

#include "engine/engine-private.h"

struct engine_ops {
    GMutex lock;       /* st, and the writes of its batches */
    bool loaded;       /* under lock: the state was loaded; until then people wait (503) */
    GMutex qlock;      /* the queue only */
    GCond qcond;
    GQueue queue;      /* struct event *, or tagged markers (ops.c) */
    bool refusing;     /* under qlock: nobody will take events (never loaded, or stopped) */
    GThread *thread;
    struct ops_state *st;
    struct ops_conf conf;
    GPtrArray *routes; /* struct notify_route * */

    GMutex rules_lock;
    GPtrArray *rules; /* struct alert_rule *: kanri.conf's, then the API's */
    uint64_t rule_serial; /* under rules_lock: the last alert_rule.serial given */
    /* "rule\x1fitem" -> struct rule_track *, under e->lock (the round) */
    GHashTable *tracks;

    uint64_t events_total; /* under lock */
    gint dropped, delivered, failed;

    struct notifier *notifier;

    /* kanri-guestd agents found silent (machine uuid -> itself), and when
     * they were last looked at; the ops thread's own. */
    GHashTable *silent;
    int64_t agents_checked_us;
};

void engine_ops_new(struct engine *e);
int engine_ops_start(struct engine *e, GError **error);
void engine_ops_stop(struct engine *e);
void engine_ops_free(struct engine *e);
struct alert_rule *engine_ops_rule_find(struct engine_ops *o, const char *name);
/* Forgets what the rules learned of VM UUID (it was removed); under
 * e->lock. */
void engine_ops_forget_item(struct engine *e, const char *uuid);
/* What rule R has learned of ITEM (created empty); under e->lock. */
struct rule_track *engine_ops_track(struct engine_ops *o, const struct alert_rule *r,
                                    const char *item);
json_object *ops_incident_json(const struct incident *inc);

/* stage-ops.c: the round's events (findings opened and closed, rules).
 * Under e->lock. */
struct round_batch;
void stage_ops(struct engine *e, struct ehost *h, GPtrArray *round_items,
               const struct round_batch *b);
/* The events of finding writes WRITES (struct finding_write) of items of
 * KIND ("vm", "agent": a machine only its agent reports on) on HOST (NULL:
 * none), named from INV (a host's inventory; NULL: the items' names).
 * Under e->lock. */
void engine_finding_events(struct engine *e, const GArray *writes, const char *kind,
                           const char *host, GHashTable *inv);

/* notify.c: the outbox's delivery thread. */
void engine_notify_start(struct engine *e);
void engine_notify_wake(struct engine *e);
void engine_notify_stop(struct engine *e);
