/*
 * Shared between the engine's operations-record files (ops.c, the ops
 * stage and the notifier).  Not for use outside src/engine.
 */
#pragma once

#include <json-c/json.h>

#include "engine/engine-private.h"

struct engine_ops {
    GMutex lock;       /* st, and the writes of its batches */
    GAsyncQueue *queue; /* struct event *, or tagged markers (ops.c) */
    GThread *thread;
    struct ops_state *st;
    struct ops_conf conf;
    GPtrArray *routes; /* struct notify_route * */

    GMutex rules_lock;
    GPtrArray *rules; /* struct alert_rule *: kanri.conf's, then the API's */
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
json_object *ops_incident_json(const struct incident *inc);

/* stage-ops.c: the round's events (findings opened and closed, rules).
 * Under e->lock. */
struct round_batch;
void stage_ops(struct engine *e, struct ehost *h, GPtrArray *round_items,
               const struct round_batch *b);

/* notify.c: the outbox's delivery thread. */
void engine_notify_start(struct engine *e);
void engine_notify_wake(struct engine *e);
void engine_notify_stop(struct engine *e);
