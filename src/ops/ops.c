/*
 * Events into incidents (ops.h): correlation, maintenance, hysteresis,
 * flap control, problem suggestion, acknowledgement and resolution.
 */
#include "config.h"

#include "ops/ops.h"

#include <errno.h>
#include <string.h>

void ops_conf_defaults(struct ops_conf *c)
{
    c->resolve_after_us = 0;
    c->reopen_window_us = G_GINT64_CONSTANT(3600000000);
    c->suggest_count = 3;
    c->suggest_window_us = 24 * G_GINT64_CONSTANT(3600000000);
}

static char *key_of(const char *condition, const char *item)
{
    return g_strconcat(condition, "\x1f", item, NULL);
}

static void garray_unref(gpointer p)
{
    g_array_unref(p);
}

struct ops_state *ops_state_new(void)
{
    struct ops_state *st = g_new0(struct ops_state, 1);
    st->by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    st->by_id =
        g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, (GDestroyNotify)incident_free);
    st->openings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, garray_unref);
    st->suggested = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    st->maintenance = g_ptr_array_new_with_free_func((GDestroyNotify)maintenance_free);
    st->new_problems = g_ptr_array_new_with_free_func((GDestroyNotify)problem_free);
    st->next_incident_id = st->next_problem_id = st->next_event_id = 1;
    st->id_stride = 1;
    return st;
}

/* The smallest id of ST's slot not below AT_LEAST. */
static int64_t slot_id(const struct ops_state *st, int64_t at_least)
{
    int64_t r = at_least - st->id_slot;
    int64_t k = r <= 0 ? 0 : (r + st->id_stride - 1) / st->id_stride;
    return st->id_slot + k * st->id_stride;
}

/* Gives the id *NEXT holds and moves it on. */
static int64_t take_id(const struct ops_state *st, int64_t *next)
{
    int64_t id = *next;
    *next += st->id_stride;
    return id;
}

/* Moves *NEXT above SEEN. */
static void seen_id(const struct ops_state *st, int64_t *next, int64_t seen)
{
    if (seen >= *next)
        *next = slot_id(st, seen + 1);
}

int64_t ops_state_problem_id(struct ops_state *st)
{
    return take_id(st, &st->next_problem_id);
}

void ops_state_set_slot(struct ops_state *st, int64_t stride, int64_t slot)
{
    st->id_stride = MAX(stride, 1);
    st->id_slot = CLAMP(slot, 0, st->id_stride - 1);
    st->next_event_id = slot_id(st, MAX(st->next_event_id, 1));
    st->next_incident_id = slot_id(st, MAX(st->next_incident_id, 1));
    st->next_problem_id = slot_id(st, MAX(st->next_problem_id, 1));
}

void ops_state_ids_above(struct ops_state *st, int64_t max_event_id, int64_t max_incident_id,
                         int64_t max_problem_id)
{
    seen_id(st, &st->next_event_id, max_event_id);
    seen_id(st, &st->next_incident_id, max_incident_id);
    seen_id(st, &st->next_problem_id, max_problem_id);
}

void ops_state_free(struct ops_state *st)
{
    if (!st)
        return;
    g_hash_table_unref(st->by_key);
    g_hash_table_unref(st->by_id);
    g_hash_table_unref(st->openings);
    g_hash_table_unref(st->suggested);
    g_ptr_array_unref(st->maintenance);
    g_ptr_array_unref(st->new_problems);
    g_free(st);
}

void ops_state_add(struct ops_state *st, struct incident *inc)
{
    struct incident *old = g_hash_table_lookup(st->by_id, &inc->id);
    if (old) {
        g_autofree char *k = key_of(old->condition, old->item);
        if (g_hash_table_lookup(st->by_key, k) == old)
            g_hash_table_remove(st->by_key, k);
        g_hash_table_remove(st->by_id, &inc->id);
    }
    g_hash_table_replace(st->by_id, &inc->id, inc);
    char *k = key_of(inc->condition, inc->item);
    struct incident *cur = g_hash_table_lookup(st->by_key, k);
    /* The newest incident of a key is the one events go to. */
    if (!cur || cur->id < inc->id)
        g_hash_table_replace(st->by_key, k, inc);
    else
        g_free(k);
    seen_id(st, &st->next_incident_id, inc->id);
}

void ops_state_add_suggested(struct ops_state *st, const char *condition, const char *item,
                             int64_t problem_id)
{
    int64_t *v = g_new(int64_t, 1);
    *v = problem_id;
    g_hash_table_replace(st->suggested, key_of(condition, item), v);
    seen_id(st, &st->next_problem_id, problem_id);
}

struct incident *ops_state_find(struct ops_state *st, int64_t id)
{
    return g_hash_table_lookup(st->by_id, &id);
}

void ops_state_set_maintenance(struct ops_state *st, const GPtrArray *windows)
{
    g_ptr_array_set_size(st->maintenance, 0);
    for (guint i = 0; windows && i < windows->len; i++)
        g_ptr_array_add(st->maintenance, maintenance_copy(g_ptr_array_index(windows, i)));
}

const struct maintenance *ops_maintenance_at(const struct ops_state *st, const char *item,
                                             const char *item_name, const char *host, int64_t t_us)
{
    for (guint i = 0; i < st->maintenance->len; i++) {
        const struct maintenance *m = g_ptr_array_index(st->maintenance, i);
        if (t_us >= m->from_us && t_us < m->to_us &&
            ops_scope_match(m->scope, item, item_name, host))
            return m;
    }
    return NULL;
}

/* ---- transitions ---- */

static void mark_dirty(GArray *dirty, int64_t id)
{
    if (!dirty)
        return;
    for (guint i = 0; i < dirty->len; i++) {
        if (g_array_index(dirty, int64_t, i) == id)
            return;
    }
    g_array_append_val(dirty, id);
}

static void transition(struct incident *inc, enum incident_transition what, int64_t at, bool notify,
                       const char *by, const char *comment, GArray *ret, GArray *dirty)
{
    inc->seq++;
    inc->updated_us = at;
    struct incident_change c = {
        .incident_id = inc->id,
        .what = what,
        .at_us = at,
        .seq = inc->seq,
        .notify = notify,
        .by = g_strdup(by),
        .comment = g_strdup(comment),
    };
    g_array_append_val(ret, c);
    mark_dirty(dirty, inc->id);
}

static void add_affected(struct incident *inc, const struct event *ev)
{
    if (g_strcmp0(ev->item, inc->item) != 0)
        incident_add_affected(inc, ev->item, ev->item_name);
    for (guint i = 0; ev->affected && i < ev->affected->len; i++) {
        const struct item_ref *r = g_ptr_array_index(ev->affected, i);
        incident_add_affected(inc, r->item, r->name);
    }
}

/* Counts an opening of KEY and links INC to the problem suggested for it
 * once it recurred often enough. */
static void count_opening(struct ops_state *st, const struct ops_conf *conf, const char *key,
                          struct incident *inc, int64_t t)
{
    if (!conf->suggest_count)
        return;
    GArray *times = g_hash_table_lookup(st->openings, key);
    if (!times) {
        times = g_array_new(FALSE, FALSE, sizeof(int64_t));
        g_hash_table_insert(st->openings, g_strdup(key), times);
    }
    g_array_append_val(times, t);
    while (times->len && g_array_index(times, int64_t, 0) < t - conf->suggest_window_us)
        g_array_remove_index(times, 0);
    if (inc->problem_id)
        return;
    int64_t *pid = g_hash_table_lookup(st->suggested, key);
    if (pid) {
        inc->problem_id = *pid;
        return;
    }
    if (times->len < conf->suggest_count)
        return;
    struct problem *p = g_new0(struct problem, 1);
    p->id = take_id(st, &st->next_problem_id);
    p->title = g_strdup_printf("%s on %s recurs (%u times within %" G_GINT64_FORMAT " h)",
                               inc->condition, inc->item_name, times->len,
                               conf->suggest_window_us / (G_GINT64_CONSTANT(3600000000)));
    p->state = g_strdup("open");
    p->suggested = true;
    p->condition = g_strdup(inc->condition);
    p->item = g_strdup(inc->item);
    p->created_us = p->updated_us = t;
    inc->problem_id = p->id;
    ops_state_add_suggested(st, inc->condition, inc->item, p->id);
    g_ptr_array_add(st->new_problems, p);
}

static struct incident *open_new(struct ops_state *st, const struct event *ev, const char *key)
{
    struct incident *inc = incident_new();
    inc->id = take_id(st, &st->next_incident_id);
    inc->condition = g_strdup(ev->condition);
    inc->item = g_strdup(ev->item);
    inc->item_name = g_strdup(ev->item_name);
    inc->host = g_strdup(ev->host);
    inc->severity = ev->severity;
    inc->state = INCIDENT_OPEN;
    inc->title = g_strdup(ev->message);
    inc->opened_us = ev->t_us;
    g_hash_table_replace(st->by_id, &inc->id, inc);
    g_hash_table_replace(st->by_key, g_strdup(key), inc);
    return inc;
}

static void resolve(struct incident *inc, int64_t at, bool notify, const char *by,
                    const char *comment, GArray *ret, GArray *dirty)
{
    inc->state = INCIDENT_RESOLVED;
    inc->resolved_us = at;
    g_free(inc->resolved_by);
    inc->resolved_by = g_strdup(by);
    inc->clear_since_us = 0;
    transition(inc, IT_RESOLVED, at, notify, by, comment, ret, dirty);
}

/* The open host-unreachable incident of EV's host, if EV's item is on a
 * host and is not that host. */
static struct incident *host_incident(struct ops_state *st, const struct event *ev)
{
    if (!ev->host || g_str_has_prefix(ev->item, "host:"))
        return NULL;
    g_autofree char *hitem = g_strconcat("host:", ev->host, NULL);
    g_autofree char *k = key_of(OPS_HOST_DOWN, hitem);
    struct incident *inc = g_hash_table_lookup(st->by_key, k);
    return inc && inc->state != INCIDENT_RESOLVED ? inc : NULL;
}

static void apply_problem(struct ops_state *st, const struct ops_conf *conf, struct event *ev,
                          const char *key, struct incident *inc, bool quiet, GArray *ret,
                          GArray *dirty)
{
    if (inc && inc->state != INCIDENT_RESOLVED) {
        inc->n_events++;
        inc->last_event_us = ev->t_us;
        inc->clear_since_us = 0; /* back before the hysteresis ran out */
        add_affected(inc, ev);
        ev->incident_id = inc->id;
        if (ev->severity > inc->severity) {
            inc->severity = ev->severity;
            transition(inc, IT_ESCALATED, ev->t_us, !quiet, NULL, NULL, ret, dirty);
        } else {
            inc->updated_us = ev->t_us;
            mark_dirty(dirty, inc->id);
        }
        return;
    }
    struct incident *parent = host_incident(st, ev);
    if (parent) {
        parent->n_events++;
        parent->last_event_us = ev->t_us;
        parent->updated_us = ev->t_us;
        incident_add_affected(parent, ev->item, ev->item_name);
        ev->incident_id = parent->id;
        mark_dirty(dirty, parent->id);
        return;
    }
    if (quiet)
        return;
    if (inc && ev->t_us - inc->resolved_us <= conf->reopen_window_us) {
        inc->state = INCIDENT_OPEN;
        inc->flaps++;
        inc->resolved_us = 0;
        g_clear_pointer(&inc->resolved_by, g_free);
        inc->acknowledged_us = 0;
        g_clear_pointer(&inc->acknowledged_by, g_free);
        inc->severity = ev->severity;
        g_free(inc->title);
        inc->title = g_strdup(ev->message);
        transition(inc, IT_REOPENED, ev->t_us, true, NULL, NULL, ret, dirty);
    } else {
        inc = open_new(st, ev, key);
        transition(inc, IT_OPENED, ev->t_us, true, NULL, NULL, ret, dirty);
    }
    inc->n_events++;
    inc->last_event_us = ev->t_us;
    add_affected(inc, ev);
    ev->incident_id = inc->id;
    count_opening(st, conf, key, inc, ev->t_us);
}

/* Conditions a recovery of the first also ends. */
static const char *const siblings[][2] = {{"vm-down", "vm-paused"}, {"vm-paused", "vm-down"}};

/* EV's recovery applied to INC (NULL or resolved: nothing). */
static void recover(struct ops_state *st, const struct ops_conf *conf, struct event *ev,
                    struct incident *inc, bool quiet, GArray *ret, GArray *ret_dirty)
{
    if (!inc || inc->state == INCIDENT_RESOLVED)
        return;
    inc->n_events++;
    inc->last_event_us = ev->t_us;
    if (!ev->incident_id)
        ev->incident_id = inc->id;
    if (conf->resolve_after_us <= 0) {
        resolve(inc, ev->t_us, !quiet, NULL, NULL, ret, ret_dirty);
    } else {
        if (!inc->clear_since_us)
            inc->clear_since_us = ev->t_us;
        inc->updated_us = ev->t_us;
        mark_dirty(ret_dirty, inc->id);
    }
}

void ops_apply(struct ops_state *st, const struct ops_conf *conf, struct event *ev, GArray *ret,
               GArray *ret_dirty)
{
    ev->id = take_id(st, &st->next_event_id);
    const struct maintenance *m =
        ops_maintenance_at(st, ev->item, ev->item_name, ev->host, ev->t_us);
    ev->maintenance_id = m ? m->id : 0;
    if (!ev->condition)
        return;
    g_autofree char *key = key_of(ev->condition, ev->item);
    struct incident *inc = g_hash_table_lookup(st->by_key, key);
    if (ev->problem) {
        apply_problem(st, conf, ev, key, inc, m != NULL, ret, ret_dirty);
        return;
    }
    recover(st, conf, ev, inc, m != NULL, ret, ret_dirty);
    /* A VM running again ends its pause as well as its stop (paused on an
     * I/O error, then destroyed, then started); a VM gone ends everything
     * open on it. */
    for (guint i = 0; i < G_N_ELEMENTS(siblings); i++) {
        if (g_str_equal(ev->condition, siblings[i][0])) {
            g_autofree char *k2 = key_of(siblings[i][1], ev->item);
            recover(st, conf, ev, g_hash_table_lookup(st->by_key, k2), m != NULL, ret, ret_dirty);
        }
    }
    if (ev->gone) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, st->by_id);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            struct incident *x = v;
            if (x != inc && g_str_equal(x->item, ev->item))
                recover(st, conf, ev, x, m != NULL, ret, ret_dirty);
        }
    }
}

void ops_tick(struct ops_state *st, const struct ops_conf *conf, int64_t now_us, GArray *ret,
              GArray *ret_dirty)
{
    g_autoptr(GPtrArray) forget = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, st->by_id);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct incident *inc = v;
        if (inc->state != INCIDENT_RESOLVED && inc->clear_since_us &&
            now_us - inc->clear_since_us >= conf->resolve_after_us) {
            bool quiet =
                ops_maintenance_at(st, inc->item, inc->item_name, inc->host, now_us) != NULL;
            resolve(inc, now_us, !quiet, NULL, NULL, ret, ret_dirty);
        } else if (inc->state == INCIDENT_RESOLVED &&
                   now_us - inc->resolved_us > conf->reopen_window_us) {
            g_ptr_array_add(forget, inc);
        }
    }
    for (guint i = 0; i < forget->len; i++) {
        struct incident *inc = g_ptr_array_index(forget, i);
        g_autofree char *key = key_of(inc->condition, inc->item);
        if (g_hash_table_lookup(st->by_key, key) == inc)
            g_hash_table_remove(st->by_key, key);
        g_hash_table_remove(st->by_id, &inc->id);
    }
    /* Opening counts older than the suggestion window are forgotten. */
    g_hash_table_iter_init(&it, st->openings);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        GArray *times = v;
        while (times->len && g_array_index(times, int64_t, 0) < now_us - conf->suggest_window_us)
            g_array_remove_index(times, 0);
        if (!times->len)
            g_hash_table_iter_remove(&it);
    }
}

int ops_acknowledge(struct ops_state *st, int64_t id, const char *who, const char *comment,
                    int64_t now_us, GArray *ret)
{
    struct incident *inc = ops_state_find(st, id);
    if (!inc)
        return -ENOENT;
    if (inc->state != INCIDENT_OPEN)
        return -EALREADY;
    inc->state = INCIDENT_ACKNOWLEDGED;
    inc->acknowledged_us = now_us;
    g_free(inc->acknowledged_by);
    inc->acknowledged_by = g_strdup(who);
    bool quiet = ops_maintenance_at(st, inc->item, inc->item_name, inc->host, now_us) != NULL;
    transition(inc, IT_ACKNOWLEDGED, now_us, !quiet, who, comment, ret, NULL);
    return 0;
}

int ops_resolve(struct ops_state *st, int64_t id, const char *who, const char *comment,
                int64_t now_us, GArray *ret)
{
    struct incident *inc = ops_state_find(st, id);
    if (!inc)
        return -ENOENT;
    if (inc->state == INCIDENT_RESOLVED)
        return -EALREADY;
    bool quiet = ops_maintenance_at(st, inc->item, inc->item_name, inc->host, now_us) != NULL;
    resolve(inc, now_us, !quiet, who, comment, ret, NULL);
    return 0;
}

int ops_link_problem(struct ops_state *st, int64_t id, int64_t problem_id)
{
    struct incident *inc = ops_state_find(st, id);
    if (!inc)
        return -ENOENT;
    inc->problem_id = problem_id;
    return 0;
}
