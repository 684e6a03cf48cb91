/*
 * The operations record's value types (model/event.h).
 */
#include "config.h"

#include "model/event.h"

#include <string.h>

static const char *const severity_names[SEV_N] = {"info", "warning", "major", "critical"};

const char *severity_name(enum severity s)
{
    return s < SEV_N ? severity_names[s] : "unknown";
}

bool severity_parse(const char *text, enum severity *ret)
{
    for (int i = 0; i < SEV_N; i++) {
        if (g_strcmp0(text, severity_names[i]) == 0) {
            *ret = i;
            return true;
        }
    }
    return false;
}

static const char *const istate_names[] = {"open", "acknowledged", "resolved"};

const char *incident_state_name(enum incident_state s)
{
    return s <= INCIDENT_RESOLVED ? istate_names[s] : "unknown";
}

bool incident_state_parse(const char *text, enum incident_state *ret)
{
    for (int i = 0; i <= INCIDENT_RESOLVED; i++) {
        if (g_strcmp0(text, istate_names[i]) == 0) {
            *ret = i;
            return true;
        }
    }
    return false;
}

static const char *const transition_names[IT_N] = {"opened", "escalated", "acknowledged",
                                                   "resolved", "reopened"};

const char *incident_transition_name(enum incident_transition t)
{
    return t < IT_N ? transition_names[t] : "unknown";
}

struct item_ref *item_ref_new(const char *item, const char *name)
{
    struct item_ref *r = g_new0(struct item_ref, 1);
    r->item = g_strdup(item);
    r->name = g_strdup(name);
    return r;
}

void item_ref_free(struct item_ref *r)
{
    if (!r)
        return;
    g_free(r->item);
    g_free(r->name);
    g_free(r);
}

GPtrArray *item_refs_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)item_ref_free);
}

GPtrArray *item_refs_copy(const GPtrArray *refs)
{
    GPtrArray *c = item_refs_new();
    for (guint i = 0; refs && i < refs->len; i++) {
        const struct item_ref *r = g_ptr_array_index(refs, i);
        g_ptr_array_add(c, item_ref_new(r->item, r->name));
    }
    return c;
}

struct event *event_new(int64_t t_us, const char *item, const char *item_name, const char *host,
                        const char *kind, const char *condition, bool problem,
                        enum severity severity, const char *message)
{
    struct event *ev = g_new0(struct event, 1);
    ev->t_us = t_us;
    ev->item = g_strdup(item);
    ev->item_name = g_strdup(item_name ? item_name : item);
    ev->host = g_strdup(host);
    ev->kind = g_strdup(kind);
    ev->condition = g_strdup(condition);
    ev->problem = problem;
    ev->severity = severity;
    ev->message = g_strdup(message);
    return ev;
}

struct event *event_copy_bare(const struct event *ev)
{
    struct event *c = g_new(struct event, 1);
    *c = *ev;
    c->item = g_strdup(ev->item);
    c->item_name = g_strdup(ev->item_name);
    c->host = g_strdup(ev->host);
    c->kind = g_strdup(ev->kind);
    c->condition = g_strdup(ev->condition);
    c->message = g_strdup(ev->message);
    c->affected = NULL;
    return c;
}

void event_free(struct event *ev)
{
    if (!ev)
        return;
    g_free(ev->item);
    g_free(ev->item_name);
    g_free(ev->host);
    g_free(ev->kind);
    g_free(ev->condition);
    g_free(ev->message);
    if (ev->affected)
        g_ptr_array_unref(ev->affected);
    g_free(ev);
}

struct incident *incident_new(void)
{
    struct incident *inc = g_new0(struct incident, 1);
    inc->affected = item_refs_new();
    return inc;
}

void incident_free(struct incident *inc)
{
    if (!inc)
        return;
    g_free(inc->condition);
    g_free(inc->item);
    g_free(inc->item_name);
    g_free(inc->host);
    g_free(inc->title);
    g_free(inc->acknowledged_by);
    g_free(inc->resolved_by);
    g_ptr_array_unref(inc->affected);
    g_free(inc);
}

struct incident *incident_copy_bare(const struct incident *inc)
{
    struct incident *c = g_new(struct incident, 1);
    *c = *inc;
    c->condition = g_strdup(inc->condition);
    c->item = g_strdup(inc->item);
    c->item_name = g_strdup(inc->item_name);
    c->host = g_strdup(inc->host);
    c->title = g_strdup(inc->title);
    c->acknowledged_by = g_strdup(inc->acknowledged_by);
    c->resolved_by = g_strdup(inc->resolved_by);
    c->affected = item_refs_new();
    return c;
}

struct incident *incident_copy(const struct incident *inc)
{
    struct incident *c = incident_copy_bare(inc);
    for (guint i = 0; i < inc->affected->len; i++) {
        const struct item_ref *r = g_ptr_array_index(inc->affected, i);
        g_ptr_array_add(c->affected, item_ref_new(r->item, r->name));
    }
    return c;
}

bool incident_add_affected(struct incident *inc, const char *item, const char *name)
{
    if (!item || g_strcmp0(item, inc->item) == 0)
        return false;
    for (guint i = 0; i < inc->affected->len; i++) {
        const struct item_ref *r = g_ptr_array_index(inc->affected, i);
        if (g_str_equal(r->item, item))
            return false;
    }
    g_ptr_array_add(inc->affected, item_ref_new(item, name ? name : item));
    return true;
}

void incident_change_clear(struct incident_change *c)
{
    g_free(c->by);
    g_free(c->comment);
    c->by = c->comment = NULL;
}

void maintenance_free(struct maintenance *m)
{
    if (!m)
        return;
    g_free(m->scope);
    g_free(m->who);
    g_free(m->why);
    g_free(m);
}

struct maintenance *maintenance_copy(const struct maintenance *m)
{
    struct maintenance *c = g_new(struct maintenance, 1);
    *c = *m;
    c->scope = g_strdup(m->scope);
    c->who = g_strdup(m->who);
    c->why = g_strdup(m->why);
    return c;
}

void problem_free(struct problem *p)
{
    if (!p)
        return;
    g_free(p->title);
    g_free(p->state);
    g_free(p->root_cause);
    g_free(p->known_error);
    g_free(p->workaround);
    g_free(p->condition);
    g_free(p->item);
    g_free(p->created_by);
    g_free(p);
}

void delivery_clear(struct delivery *d)
{
    g_free(d->route);
    g_free(d->key);
    g_free(d->payload);
    memset(d, 0, sizeof(*d));
}

static const char *const rule_kind_names[] = {"threshold", "pool-full", "memory-trend"};

const char *rule_kind_name(enum rule_kind k)
{
    return k <= RULE_MEMORY_TREND ? rule_kind_names[k] : "unknown";
}

bool rule_kind_parse(const char *text, enum rule_kind *ret)
{
    for (int i = 0; i <= RULE_MEMORY_TREND; i++) {
        if (g_strcmp0(text, rule_kind_names[i]) == 0) {
            *ret = i;
            return true;
        }
    }
    return false;
}

struct alert_rule *alert_rule_new(void)
{
    struct alert_rule *r = g_new0(struct alert_rule, 1);
    r->enabled = true;
    r->severity = SEV_WARNING;
    return r;
}

void alert_rule_free(struct alert_rule *r)
{
    if (!r)
        return;
    g_free(r->name);
    g_free(r->metric);
    g_free(r->view);
    g_free(r->op);
    g_free(r->scope);
    g_free(r->origin);
    g_free(r);
}

struct alert_rule *alert_rule_copy(const struct alert_rule *r)
{
    struct alert_rule *c = g_new(struct alert_rule, 1);
    *c = *r;
    c->name = g_strdup(r->name);
    c->metric = g_strdup(r->metric);
    c->view = g_strdup(r->view);
    c->op = g_strdup(r->op);
    c->scope = g_strdup(r->scope);
    c->origin = g_strdup(r->origin);
    return c;
}

void notify_route_free(struct notify_route *r)
{
    if (!r)
        return;
    g_free(r->name);
    g_free(r->conditions);
    g_free(r->scope);
    g_free(r->type);
    g_free(r->target);
    g_free(r);
}

struct notify_route *notify_route_copy(const struct notify_route *r)
{
    struct notify_route *c = g_new(struct notify_route, 1);
    *c = *r;
    c->name = g_strdup(r->name);
    c->conditions = g_strdup(r->conditions);
    c->scope = g_strdup(r->scope);
    c->type = g_strdup(r->type);
    c->target = g_strdup(r->target);
    return c;
}
