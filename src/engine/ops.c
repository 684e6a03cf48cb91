/*
 * The operations record's engine half: events posted from any thread are
 * taken in batches by one thread, which runs them through src/ops/ (the
 * decisions), queues the notifications the transitions call for, and
 * writes the batch in one transaction.  People's acknowledgements,
 * resolutions, problems, maintenance windows and rules come through the
 * functions at the end (the API's).
 *
 * Locks: ops->lock guards the ops state and is never held while taking
 * e->lock; posting an event takes only the queue's own lock (qlock, held
 * for a push and nothing else), so the sinks may post under e->lock.
 */
#include "config.h"

#include "engine/engine-private.h"
#include "engine/ops-private.h"

#include "basic/util.h"

#include <errno.h>
#include <json-c/json.h>

/* Events waiting beyond this are dropped (and counted): a storm must not
 * take all memory. */
#define QUEUE_MAX 500000
/* Events taken into one transaction at most. */
#define BATCH_MAX 20000

G_DEFINE_QUARK(engine-ops-error-quark, engine_ops_error)

/* A queue entry that is not an event: a flush marker or the stop. */
struct marker {
    bool stop;
    GMutex m;
    GCond c;
    bool done;
};

static void marker_done(struct marker *mk)
{
    g_mutex_lock(&mk->m);
    mk->done = true;
    g_cond_signal(&mk->c);
    g_mutex_unlock(&mk->m);
}

static bool queue_push(struct engine_ops *o, gpointer p);

/* Queue items are tagged pointers: an event, or a marker with its low bit
 * set (both are at least 2-aligned). */
#define IS_MARKER(p)  (((uintptr_t)(p)) & 1u)
#define TO_MARKER(p)  ((struct marker *)((uintptr_t)(p) & ~(uintptr_t)1))
#define MARKER_PTR(m) ((gpointer)((uintptr_t)(m) | 1u))

/* ---- payloads ---- */

json_object *engine_jtime(int64_t us)
{
    if (!us)
        return NULL;
    g_autofree char *t = time_format_rfc3339(us);
    return json_object_new_string(t);
}

json_object *engine_jstr(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

void engine_set_error(GError **error, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, ENGINE_OPS_ERROR, code, msg);
}

json_object *ops_incident_json(const struct incident *inc)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(inc->id));
    json_object_object_add(o, "condition", engine_jstr(inc->condition));
    json_object_object_add(o, "item", engine_jstr(inc->item));
    json_object_object_add(o, "item_name", engine_jstr(inc->item_name));
    json_object_object_add(o, "host", engine_jstr(inc->host));
    json_object_object_add(o, "severity", engine_jstr(severity_name(inc->severity)));
    json_object_object_add(o, "state", engine_jstr(incident_state_name(inc->state)));
    json_object_object_add(o, "title", engine_jstr(inc->title));
    json_object_object_add(o, "opened", engine_jtime(inc->opened_us));
    json_object_object_add(o, "resolved", engine_jtime(inc->resolved_us));
    json_object_object_add(o, "flaps", json_object_new_int64(inc->flaps));
    json_object_object_add(o, "events", json_object_new_int64(inc->n_events));
    json_object_object_add(o, "problem_id",
                           inc->problem_id ? json_object_new_int64(inc->problem_id) : NULL);
    json_object *aff = json_object_new_array();
    for (guint i = 0; i < inc->affected->len; i++) {
        const struct item_ref *r = g_ptr_array_index(inc->affected, i);
        json_object *a = json_object_new_object();
        json_object_object_add(a, "item", engine_jstr(r->item));
        json_object_object_add(a, "name", engine_jstr(r->name));
        json_object_array_add(aff, a);
    }
    json_object_object_add(o, "affected", aff);
    return o;
}

static char *payload(const struct incident *inc, const struct incident_change *c, const char *key)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "key", engine_jstr(key));
    json_object_object_add(o, "transition", engine_jstr(incident_transition_name(c->what)));
    json_object_object_add(o, "at", engine_jtime(c->at_us));
    json_object_object_add(o, "by", engine_jstr(c->by));
    json_object_object_add(o, "comment", engine_jstr(c->comment));
    json_object_object_add(o, "incident", ops_incident_json(inc));
    char *text = g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return text;
}

/* ---- one batch ---- */

/* Writes what the transitions CHANGES (of incidents DIRTY) and EVENTS
 * produced.  Under ops->lock. */
static int write_batch(struct engine *e, GPtrArray *events, GArray *changes, GArray *dirty,
                       GError **error)
{
    struct engine_ops *o = e->ops;
    int64_t now = now_usec();
    g_autoptr(GPtrArray) incs = g_ptr_array_new();
    for (guint i = 0; i < dirty->len; i++) {
        struct incident *inc = ops_state_find(o->st, g_array_index(dirty, int64_t, i));
        if (inc)
            g_ptr_array_add(incs, inc);
    }
    g_autoptr(GArray) deliveries = g_array_new(FALSE, TRUE, sizeof(struct delivery));
    g_array_set_clear_func(deliveries, (GDestroyNotify)delivery_clear);
    for (guint i = 0; i < changes->len; i++) {
        const struct incident_change *c = &g_array_index(changes, struct incident_change, i);
        struct incident *inc = ops_state_find(o->st, c->incident_id);
        if (!inc)
            continue;
        if (!g_ptr_array_find(incs, inc, NULL))
            g_ptr_array_add(incs, inc);
        if (!c->notify)
            continue;
        g_autofree char *key = ops_delivery_key(c->incident_id, c->seq);
        g_autofree char *body = NULL;
        for (guint j = 0; j < o->routes->len; j++) {
            const struct notify_route *rt = g_ptr_array_index(o->routes, j);
            if (!ops_route_match(rt, inc, c->what))
                continue;
            if (!body)
                body = payload(inc, c, key);
            struct delivery d = {
                .route = g_strdup(rt->name),
                .key = g_strdup(key),
                .incident_id = inc->id,
                .payload = g_strdup(body),
                .created_us = now,
                .next_try_us = now,
            };
            g_array_append_val(deliveries, d);
        }
    }
    /* Events sent only in case an incident was open, and none was, are
     * not worth a row. */
    g_autoptr(GPtrArray) kept = g_ptr_array_new();
    for (guint i = 0; i < events->len; i++) {
        struct event *ev = g_ptr_array_index(events, i);
        if (!ev->only_if_incident || ev->incident_id)
            g_ptr_array_add(kept, ev);
    }
    struct store_ops_write w = {
        .events = (struct event *const *)kept->pdata,
        .n_events = kept->len,
        .incidents = (struct incident *const *)incs->pdata,
        .n_incidents = incs->len,
        .changes = (const struct incident_change *)changes->data,
        .n_changes = changes->len,
        .deliveries = (const struct delivery *)deliveries->data,
        .n_deliveries = deliveries->len,
        .problems = (struct problem *const *)o->st->new_problems->pdata,
        .n_problems = o->st->new_problems->len,
    };
    int r = e->store->ops->ops_write(e->store, &w, error);
    /* Suggested problems the incidents now point at are kept for the next
     * batch when this one failed. */
    if (r == 0)
        g_ptr_array_set_size(o->st->new_problems, 0);
    /* What was written, as written, to the live stream: still under
     * ops->lock, so its order is the store's. */
    if (r == 0 && (kept->len || incs->len)) {
        g_autoptr(GPtrArray) msgs = g_ptr_array_new_with_free_func((GDestroyNotify)stream_msg_free);
        for (guint i = 0; i < kept->len; i++)
            g_ptr_array_add(msgs, stream_msg_event(g_ptr_array_index(kept, i)));
        for (guint i = 0; i < incs->len; i++)
            g_ptr_array_add(msgs, stream_msg_incident(g_ptr_array_index(incs, i)));
        stream_hub_publish(e->stream, msgs);
    }
    if (deliveries->len)
        engine_notify_wake(e);
    return r;
}

static GArray *changes_new(void)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct incident_change));
    g_array_set_clear_func(a, (GDestroyNotify)incident_change_clear);
    return a;
}

static void process(struct engine *e, GPtrArray *events)
{
    struct engine_ops *o = e->ops;
    g_autoptr(GArray) changes = changes_new();
    g_autoptr(GArray) dirty = g_array_new(FALSE, FALSE, sizeof(int64_t));
    g_autoptr(GError) err = NULL;
    g_mutex_lock(&o->lock);
    for (guint i = 0; i < events->len; i++)
        ops_apply(o->st, &o->conf, g_ptr_array_index(events, i), changes, dirty);
    ops_tick(o->st, &o->conf, now_usec(), changes, dirty);
    int r = events->len || dirty->len || changes->len
                ? write_batch(e, events, changes, dirty, &err)
                : 0;
    o->events_total += events->len;
    g_mutex_unlock(&o->lock);
    if (r < 0)
        g_warning("operations record: storing %u events: %s", events->len, err->message);
}

/* How often the agents' last contact is looked at. */
#define AGENTS_CHECK_US (10 * G_GINT64_CONSTANT(1000000))

/* kanri-guestd agents that stopped pushing: one event when an agent falls
 * silent for agent_silent_us, one when it is heard again.  Its own
 * contact times are the store's (agent_contact), so a restart of kanrid
 * sees an agent that fell silent meanwhile. */
static void check_agents(struct engine *e)
{
    struct engine_ops *o = e->ops;
    int64_t now = now_usec();
    if (e->conf.agent_silent_us <= 0 ||
        now - o->agents_checked_us < MIN(AGENTS_CHECK_US, e->conf.agent_silent_us / 2))
        return;
    o->agents_checked_us = now;
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) agents = e->store->ops->agents_query(e->store, &err);
    if (!agents)
        return;
    for (guint i = 0; i < rows_len(agents); i++) {
        const struct agent_row *a = rows_get(agents, i);
        if (!a->machine_uuid || !a->last_contact)
            continue; /* never heard from: enrolled, not installed yet */
        bool silent = now - a->last_contact >= e->conf.agent_silent_us;
        if (silent == g_hash_table_contains(o->silent, a->machine_uuid))
            continue;
        g_autofree char *item = g_strconcat("agent:", a->machine_uuid, NULL);
        const char *name = a->vm          ? a->vm
                           : a->hostname  ? a->hostname
                           : a->name      ? a->name
                                          : a->machine_uuid;
        g_autofree char *last = time_format_rfc3339(a->last_contact);
        g_autofree char *msg =
            silent ? g_strdup_printf("kanri-guestd of %s silent since %s", name, last)
                   : g_strdup_printf("kanri-guestd of %s heard again", name);
        engine_event_post(e, event_new(now, item, name, a->host,
                                       silent ? "agent.silent" : "agent.heard", "agent-silent",
                                       silent, silent ? SEV_WARNING : SEV_INFO, msg));
        if (silent)
            g_hash_table_add(o->silent, g_strdup(a->machine_uuid));
        else
            g_hash_table_remove(o->silent, a->machine_uuid);
    }
}

static gpointer ops_thread(gpointer data)
{
    struct engine *e = data;
    struct engine_ops *o = e->ops;
    g_autoptr(GPtrArray) batch = g_ptr_array_new_with_free_func((GDestroyNotify)event_free);
    g_autoptr(GPtrArray) markers = g_ptr_array_new();
    bool stop = false;
    while (!stop) {
        /* One wait (a second at most, for the ticks), then everything
         * queued meanwhile, up to a batch. */
        g_mutex_lock(&o->qlock);
        if (g_queue_is_empty(&o->queue))
            g_cond_wait_until(&o->qcond, &o->qlock, g_get_monotonic_time() + G_TIME_SPAN_SECOND);
        gpointer p;
        while (batch->len < BATCH_MAX && (p = g_queue_pop_head(&o->queue))) {
            if (IS_MARKER(p)) {
                struct marker *mk = TO_MARKER(p);
                g_ptr_array_add(markers, mk);
                stop |= mk->stop;
            } else {
                g_ptr_array_add(batch, p);
            }
        }
        g_mutex_unlock(&o->qlock);
        process(e, batch);
        g_ptr_array_set_size(batch, 0);
        check_agents(e);
        for (guint i = 0; i < markers->len; i++)
            marker_done(g_ptr_array_index(markers, i));
        g_ptr_array_set_size(markers, 0);
    }
    return NULL;
}

static void post_marker(struct engine *e, bool stop)
{
    struct marker mk = {.stop = stop};
    g_mutex_init(&mk.m);
    g_cond_init(&mk.c);
    queue_push(e->ops, MARKER_PTR(&mk));
    g_mutex_lock(&mk.m);
    while (!mk.done)
        g_cond_wait(&mk.c, &mk.m);
    g_mutex_unlock(&mk.m);
    g_mutex_clear(&mk.m);
    g_cond_clear(&mk.c);
}

static bool queue_push(struct engine_ops *o, gpointer p)
{
    g_mutex_lock(&o->qlock);
    /* A marker always goes in (someone waits for it); an event not when
     * the queue is full or nobody will ever take it (the state could not
     * be loaded, or the thread has stopped). */
    bool ok = IS_MARKER(p) || (g_queue_get_length(&o->queue) < QUEUE_MAX && !o->refusing);
    if (ok) {
        g_queue_push_tail(&o->queue, p);
        g_cond_signal(&o->qcond);
    }
    g_mutex_unlock(&o->qlock);
    return ok;
}

void engine_event_post(struct engine *e, struct event *ev)
{
    struct engine_ops *o = e->ops;
    if (!o || !queue_push(o, ev)) {
        if (o)
            g_atomic_int_inc(&o->dropped);
        event_free(ev);
    }
}

void engine_ops_flush(struct engine *e)
{
    if (e->ops && e->ops->thread)
        post_marker(e, false);
}

/* ---- life ---- */

static void queue_item_free(gpointer p)
{
    if (!IS_MARKER(p))
        event_free(p);
}

void engine_ops_set_slot(struct engine *e, int64_t stride, int64_t slot)
{
    struct engine_ops *o = e->ops;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->lock);
    ops_state_set_slot(o->st, stride, slot);
}

void engine_ops_new(struct engine *e)
{
    struct engine_ops *o = g_new0(struct engine_ops, 1);
    g_mutex_init(&o->lock);
    g_mutex_init(&o->qlock);
    g_cond_init(&o->qcond);
    g_queue_init(&o->queue);
    o->st = ops_state_new();
    o->conf = e->conf.ops;
    o->routes = g_ptr_array_new_with_free_func((GDestroyNotify)notify_route_free);
    for (guint i = 0; e->conf.routes && i < e->conf.routes->len; i++)
        g_ptr_array_add(o->routes, notify_route_copy(g_ptr_array_index(e->conf.routes, i)));
    o->rules = g_ptr_array_new_with_free_func((GDestroyNotify)alert_rule_free);
    for (guint i = 0; e->conf.rules && i < e->conf.rules->len; i++) {
        struct alert_rule *r = alert_rule_copy(g_ptr_array_index(e->conf.rules, i));
        g_free(r->origin);
        r->origin = g_strdup("conf");
        r->serial = ++o->rule_serial;
        g_ptr_array_add(o->rules, r);
    }
    o->tracks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    o->silent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    e->ops = o;
}

int engine_ops_reload_host(struct engine *e, const char *host, GError **error)
{
    struct engine_ops *o = e->ops;
    struct store_ops_state ld = {0};
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->lock);
    if (!o->loaded)
        return 0; /* the whole record is loaded later */
    int r =
        e->store->ops->ops_load(e->store, now_usec() - o->conf.reopen_window_us, host, &ld, error);
    if (r == 0) {
        /* The store's incidents of HOST (on it, or its own) replace what
         * this instance knew of them; no others change (this instance's own are newer here
         * than in the store until their batch is written). */
        for (guint i = 0; i < ld.incidents->len; i++)
            ops_state_add(o->st, g_ptr_array_steal_index(ld.incidents, i--));
        ops_state_ids_above(o->st, ld.max_event_id, ld.max_incident_id, ld.max_problem_id);
    }
    if (ld.incidents)
        g_ptr_array_unref(ld.incidents);
    if (ld.suggested)
        g_ptr_array_unref(ld.suggested);
    return r < 0 ? -EIO : 0;
}

static int load(struct engine *e, GError **error)
{
    struct engine_ops *o = e->ops;
    int64_t now = now_usec();
    struct store_ops_state ld = {0};
    int r = e->store->ops->ops_load(e->store, now - o->conf.reopen_window_us, NULL, &ld, error);
    if (r == 0) {
        while (ld.incidents->len)
            ops_state_add(o->st, g_ptr_array_steal_index(ld.incidents, 0));
        for (guint i = 0; i < ld.suggested->len; i++) {
            const struct problem *p = g_ptr_array_index(ld.suggested, i);
            ops_state_add_suggested(o->st, p->condition, p->item, p->id);
        }
        ops_state_ids_above(o->st, ld.max_event_id, ld.max_incident_id, ld.max_problem_id);
    }
    if (ld.incidents)
        g_ptr_array_unref(ld.incidents);
    if (ld.suggested)
        g_ptr_array_unref(ld.suggested);
    if (r < 0)
        return r;
    g_autoptr(GPtrArray) windows = g_ptr_array_new_with_free_func((GDestroyNotify)maintenance_free);
    if (e->store->ops->maintenance_load(e->store, now, windows, error) < 0)
        return -EIO;
    ops_state_set_maintenance(o->st, windows);
    return 0;
}

/* The rules made over the API, after kanri.conf's (which win a name). */
static int load_rules(struct engine *e, GError **error)
{
    struct engine_ops *o = e->ops;
    g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func((GDestroyNotify)alert_rule_free);
    if (e->store->ops->rules_load(e->store, rules, error) < 0)
        return -EIO;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->rules_lock);
    for (guint i = 0; i < rules->len; i++) {
        struct alert_rule *rl = g_ptr_array_index(rules, i);
        if (engine_ops_rule_find(o, rl->name))
            continue;
        struct alert_rule *c = alert_rule_copy(rl);
        c->serial = ++o->rule_serial;
        g_ptr_array_add(o->rules, c);
    }
    return 0;
}

/* Posts the end of every open incident of rule NAME (it was deleted,
 * disabled or redefined: what it said no longer holds), and returns how
 * many.  Takes ops->lock: call it without rules_lock. */
static unsigned close_rule_incidents(struct engine *e, const char *name, const char *why)
{
    struct engine_ops *o = e->ops;
    g_autofree char *c1 = g_strconcat("rule/", name, NULL);
    g_autofree char *c2 = g_strconcat("rule/", name, "/cannot-evaluate", NULL);
    g_autoptr(GPtrArray) evs = g_ptr_array_new();
    g_mutex_lock(&o->lock);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, o->st->by_id);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct incident *inc = v;
        if (inc->state == INCIDENT_RESOLVED ||
            (g_strcmp0(inc->condition, c1) != 0 && g_strcmp0(inc->condition, c2) != 0))
            continue;
        g_autofree char *msg = g_strdup_printf("%s: rule %s %s", inc->item_name, name, why);
        g_ptr_array_add(evs, event_new(now_usec(), inc->item, inc->item_name, inc->host,
                                       "rule.clear", inc->condition, false, SEV_INFO, msg));
    }
    g_mutex_unlock(&o->lock);
    for (guint i = 0; i < evs->len; i++)
        engine_event_post(e, g_ptr_array_index(evs, i));
    return evs->len;
}

/* After a restart: a rule whose incident is open is firing (its end is
 * news, its continuing is not); a rule gone meanwhile ends its incidents;
 * an agent whose silence is open is silent. */
static void seed_tracks(struct engine *e)
{
    struct engine_ops *o = e->ops;
    g_autoptr(GPtrArray) open = g_ptr_array_new_with_free_func((GDestroyNotify)item_ref_free);
    g_mutex_lock(&o->lock);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, o->st->by_id);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct incident *inc = v;
        if (inc->state == INCIDENT_RESOLVED)
            continue;
        if (g_str_has_prefix(inc->condition, "rule/"))
            g_ptr_array_add(open, item_ref_new(inc->condition + 5, inc->item));
        else if (g_str_equal(inc->condition, "agent-silent") &&
                 g_str_has_prefix(inc->item, "agent:"))
            g_hash_table_add(o->silent, g_strdup(inc->item + 6));
    }
    g_mutex_unlock(&o->lock);
    g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&e->lock);
    g_mutex_lock(&o->rules_lock);
    for (guint i = 0; i < open->len; i++) {
        const struct item_ref *x = g_ptr_array_index(open, i); /* item = rule name (+ suffix) */
        g_autofree char *name = g_strdup(x->item);
        bool cannot = g_str_has_suffix(name, "/cannot-evaluate");
        if (cannot)
            name[strlen(name) - strlen("/cannot-evaluate")] = '\0';
        const struct alert_rule *r = engine_ops_rule_find(o, name);
        if (!r || !r->enabled) {
            if (!g_ptr_array_find_with_equal_func(gone, name, g_str_equal, NULL))
                g_ptr_array_add(gone, g_strdup(name));
            continue;
        }
        struct rule_track *t = engine_ops_track(o, r, x->name);
        if (cannot)
            t->missing_firing = true;
        else
            t->firing = true;
    }
    g_mutex_unlock(&o->rules_lock);
    g_mutex_unlock(&e->lock);
    for (guint i = 0; i < gone->len; i++)
        close_rule_incidents(e, g_ptr_array_index(gone, i), "is no longer defined");
}

int engine_ops_start(struct engine *e, GError **error)
{
    struct engine_ops *o = e->ops;
    if (o->thread)
        return 0;
    g_mutex_lock(&o->lock);
    int r = load(e, error);
    g_mutex_unlock(&o->lock);
    if (r == 0)
        r = load_rules(e, error);
    g_mutex_lock(&o->lock);
    o->loaded = r == 0;
    g_mutex_unlock(&o->lock);
    if (r < 0) {
        g_mutex_lock(&o->qlock);
        o->refusing = true;
        g_queue_clear_full(&o->queue, queue_item_free);
        g_mutex_unlock(&o->qlock);
        return r;
    }
    seed_tracks(e);
    /* The notifier first: the ops thread wakes it. */
    engine_notify_start(e);
    o->thread = g_thread_new("ops", ops_thread, e);
    engine_event_post(e, event_new(now_usec(), "kanrid", "kanrid", NULL, "kanrid.started", NULL,
                                   false, SEV_INFO, "kanrid started"));
    return 0;
}

void engine_ops_stop(struct engine *e)
{
    struct engine_ops *o = e->ops;
    if (!o)
        return;
    /* The ops thread first: its last batch may wake the notifier. */
    if (o->thread) {
        post_marker(e, true);
        g_thread_join(o->thread);
        o->thread = NULL;
    }
    g_mutex_lock(&o->qlock);
    o->refusing = true;
    g_mutex_unlock(&o->qlock);
    engine_notify_stop(e);
}

void engine_ops_free(struct engine *e)
{
    struct engine_ops *o = e->ops;
    if (!o)
        return;
    g_queue_clear_full(&o->queue, queue_item_free);
    g_mutex_clear(&o->qlock);
    g_cond_clear(&o->qcond);
    ops_state_free(o->st);
    g_ptr_array_unref(o->routes);
    g_ptr_array_unref(o->rules);
    g_hash_table_unref(o->tracks);
    g_hash_table_unref(o->silent);
    g_mutex_clear(&o->lock);
    g_free(o);
    e->ops = NULL;
}

/* ---- what people do ---- */

static int ops_error(GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static int ops_error(GError **error, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    engine_set_error(error, code, "%s", msg);
    return code == ENGINE_OPS_NOT_FOUND  ? -ENOENT
           : code == ENGINE_OPS_CONFLICT ? -EEXIST
           : code == ENGINE_OPS_LOADING  ? -EAGAIN
                                         : -EIO;
}

/* Under ops->lock: people's changes wait until the state is loaded (its
 * ids and open incidents are what they change). */
static int not_loaded(struct engine_ops *o, GError **error)
{
    if (o->loaded)
        return 0;
    return ops_error(error, ENGINE_OPS_LOADING,
                     "the operations record is still loading (or failed to; see kanrid's log)");
}

/* Whether incident ID exists in the store at all (for 404 vs 409). */
static bool incident_stored(struct engine *e, int64_t id)
{
    struct store_incident_query q = {.id = id, .limit = 1};
    g_autoptr(rows) r = e->store->ops->incidents_query(e->store, &q, NULL);
    return r && rows_len(r) > 0;
}

static int person_did(struct engine *e, int64_t id, bool resolve, const char *who,
                      const char *comment, GError **error)
{
    struct engine_ops *o = e->ops;
    g_autoptr(GArray) changes = changes_new();
    g_autoptr(GArray) dirty = g_array_new(FALSE, FALSE, sizeof(int64_t));
    g_autoptr(GPtrArray) none = g_ptr_array_new();
    g_mutex_lock(&o->lock);
    if (not_loaded(o, error) < 0) {
        g_mutex_unlock(&o->lock);
        return -EAGAIN;
    }
    int64_t now = now_usec();
    int r = resolve ? ops_resolve(o->st, id, who, comment, now, changes)
                    : ops_acknowledge(o->st, id, who, comment, now, changes);
    if (r == 0)
        r = write_batch(e, none, changes, dirty, error) < 0 ? -EIO : 0;
    g_mutex_unlock(&o->lock);
    if (r == -ENOENT) {
        if (incident_stored(e, id))
            return ops_error(error, ENGINE_OPS_CONFLICT, "incident %" G_GINT64_FORMAT
                             " is resolved", id);
        return ops_error(error, ENGINE_OPS_NOT_FOUND, "no incident %" G_GINT64_FORMAT, id);
    }
    if (r == -EALREADY)
        return ops_error(error, ENGINE_OPS_CONFLICT, "incident %" G_GINT64_FORMAT " is already %s",
                         id, resolve ? "resolved" : "acknowledged or resolved");
    return r;
}

int engine_incident_acknowledge(struct engine *e, int64_t id, const char *who,
                                const char *comment, GError **error)
{
    return person_did(e, id, false, who, comment, error);
}

int engine_incident_resolve(struct engine *e, int64_t id, const char *who, const char *comment,
                            GError **error)
{
    return person_did(e, id, true, who, comment, error);
}

int engine_incident_link(struct engine *e, int64_t id, int64_t problem_id, GError **error)
{
    struct engine_ops *o = e->ops;
    if (problem_id) {
        g_autoptr(rows) p = e->store->ops->problems_query(e->store, problem_id, error);
        if (!p)
            return -EIO;
        if (!rows_len(p))
            return ops_error(error, ENGINE_OPS_INVALID, "no problem %" G_GINT64_FORMAT,
                             problem_id);
    }
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->lock);
    if (not_loaded(o, error) < 0)
        return -EAGAIN;
    g_autoptr(GError) err = NULL;
    int r = e->store->ops->incident_set_problem(e->store, id, problem_id, &err);
    if (r == -ENOENT)
        return ops_error(error, ENGINE_OPS_NOT_FOUND, "no incident %" G_GINT64_FORMAT, id);
    if (r < 0) {
        g_propagate_error(error, g_steal_pointer(&err));
        return r;
    }
    ops_link_problem(o->st, id, problem_id); /* one no longer in memory is only stored */
    return 0;
}

int engine_problem_put(struct engine *e, struct problem *p, int64_t *ret_id, GError **error)
{
    struct engine_ops *o = e->ops;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->lock);
    if (not_loaded(o, error) < 0)
        return -EAGAIN;
    /* One counter for people's problems and kanri's suggestions (which
     * are written with their batch, later): ids never collide. */
    if (!p->id)
        p->id = ops_state_problem_id(o->st);
    if (ret_id)
        *ret_id = p->id;
    return e->store->ops->problem_put(e->store, p, error);
}

int engine_maintenance_add(struct engine *e, struct maintenance *m, int64_t *ret_id,
                           GError **error)
{
    struct engine_ops *o = e->ops;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->lock);
    if (not_loaded(o, error) < 0)
        return -EAGAIN;
    if (e->store->ops->maintenance_add(e->store, m, &m->id, error) < 0)
        return -EIO;
    if (ret_id)
        *ret_id = m->id;
    g_ptr_array_add(o->st->maintenance, maintenance_copy(m));
    return 0;
}

int engine_maintenance_delete(struct engine *e, int64_t id, GError **error)
{
    struct engine_ops *o = e->ops;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->lock);
    if (not_loaded(o, error) < 0)
        return -EAGAIN;
    g_autoptr(GError) err = NULL;
    int r = e->store->ops->maintenance_delete(e->store, id, &err);
    if (r == -ENOENT)
        return ops_error(error, ENGINE_OPS_NOT_FOUND, "no maintenance window %" G_GINT64_FORMAT,
                         id);
    if (r < 0) {
        g_propagate_error(error, g_steal_pointer(&err));
        return r;
    }
    for (guint i = 0; i < o->st->maintenance->len; i++) {
        const struct maintenance *m = g_ptr_array_index(o->st->maintenance, i);
        if (m->id == id) {
            g_ptr_array_remove_index(o->st->maintenance, i);
            break;
        }
    }
    return 0;
}

/* ---- rules ---- */

struct alert_rule *engine_ops_rule_find(struct engine_ops *o, const char *name)
{
    for (guint i = 0; i < o->rules->len; i++) {
        struct alert_rule *r = g_ptr_array_index(o->rules, i);
        if (g_strcmp0(r->name, name) == 0)
            return r;
    }
    return NULL;
}

struct rows *engine_rules(struct engine *e)
{
    struct engine_ops *o = e->ops;
    struct rows *out = rows_new(&rule_row_desc);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->rules_lock);
    for (guint i = 0; i < o->rules->len; i++) {
        const struct alert_rule *r = g_ptr_array_index(o->rules, i);
        struct rule_row *row = rows_add(out);
        row->id = r->id ? r->id : ROW_INT_ABSENT;
        row->name = g_strdup(r->name);
        row->kind = g_strdup(rule_kind_name(r->kind));
        row->metric = g_strdup(r->metric);
        row->view = g_strdup(r->view);
        row->op = g_strdup(r->op);
        row->value = r->value;
        row->for_s = r->for_us / G_USEC_PER_SEC;
        row->severity = g_strdup(severity_name(r->severity));
        row->scope = g_strdup(r->scope ? r->scope : "all");
        row->enabled = r->enabled;
        row->origin = g_strdup(r->origin);
    }
    return out;
}

int engine_rule_put(struct engine *e, const struct alert_rule *r, bool *ret_created,
                    GError **error)
{
    struct engine_ops *o = e->ops;
    g_autoptr(GError) err = NULL;
    if (!engine_rule_check(r, &err))
        return ops_error(error, ENGINE_OPS_INVALID, "%s", err->message);
    bool replaced;
    {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->rules_lock);
        struct alert_rule *old = engine_ops_rule_find(o, r->name);
        if (old && g_strcmp0(old->origin, "conf") == 0)
            return ops_error(error, ENGINE_OPS_CONFLICT,
                             "rule %s is defined in kanri.conf; change it there", r->name);
        struct alert_rule *copy = alert_rule_copy(r);
        g_free(copy->origin);
        copy->origin = g_strdup("api");
        copy->serial = ++o->rule_serial;
        if (e->store->ops->rule_put(e->store, copy, &copy->id, error) < 0) {
            alert_rule_free(copy);
            return -EIO;
        }
        replaced = old != NULL;
        if (old)
            g_ptr_array_remove(o->rules, old);
        g_ptr_array_add(o->rules, copy);
    }
    if (ret_created)
        *ret_created = !replaced;
    /* The new definition judges afresh: what the old one said ends. */
    if (replaced)
        close_rule_incidents(e, r->name, "was redefined");
    return 0;
}

int engine_rule_delete(struct engine *e, const char *name, GError **error)
{
    struct engine_ops *o = e->ops;
    {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->rules_lock);
        struct alert_rule *old = engine_ops_rule_find(o, name);
        if (!old)
            return ops_error(error, ENGINE_OPS_NOT_FOUND, "no rule %s", name);
        if (g_strcmp0(old->origin, "conf") == 0)
            return ops_error(error, ENGINE_OPS_CONFLICT,
                             "rule %s is defined in kanri.conf; remove it there", name);
        if (e->store->ops->rule_delete(e->store, name, error) < 0)
            return -EIO;
        g_ptr_array_remove(o->rules, old);
    }
    close_rule_incidents(e, name, "was deleted");
    return 0;
}

char *engine_routes_json(struct engine *e)
{
    struct engine_ops *o = e->ops;
    json_object *a = json_object_new_array();
    for (guint i = 0; i < o->routes->len; i++) {
        const struct notify_route *r = g_ptr_array_index(o->routes, i);
        json_object *j = json_object_new_object();
        json_object_object_add(j, "name", engine_jstr(r->name));
        json_object_object_add(j, "type", engine_jstr(r->type));
        json_object_object_add(j, "target", engine_jstr(r->target));
        json_object_object_add(j, "min_severity", engine_jstr(severity_name(r->min_severity)));
        json_object_object_add(j, "conditions", engine_jstr(r->conditions));
        json_object_object_add(j, "scope", engine_jstr(r->scope ? r->scope : "all"));
        json_object *t = json_object_new_array();
        for (int k = 0; k < IT_N; k++) {
            if (!r->transitions || (r->transitions & (1u << k)))
                json_object_array_add(t, engine_jstr(incident_transition_name(k)));
        }
        json_object_object_add(j, "transitions", t);
        json_object_object_add(j, "rate_per_min", json_object_new_int64(r->rate_per_min));
        json_object_array_add(a, j);
    }
    char *text = g_strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
    json_object_put(a);
    return text;
}

void engine_ops_counts(struct engine *e, uint64_t open_by_severity[SEV_N], uint64_t *ret_events,
                       uint64_t *ret_delivered, uint64_t *ret_failed)
{
    struct engine_ops *o = e->ops;
    memset(open_by_severity, 0, sizeof(uint64_t) * SEV_N);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&o->lock);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, o->st->by_id);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct incident *inc = v;
        if (inc->state != INCIDENT_RESOLVED && inc->severity < SEV_N)
            open_by_severity[inc->severity]++;
    }
    *ret_events = o->events_total;
    *ret_delivered = (uint64_t)g_atomic_int_get(&o->delivered);
    *ret_failed = (uint64_t)g_atomic_int_get(&o->failed);
}
