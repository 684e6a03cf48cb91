/*
 * The autonomic policies' runtime (docs/policies.md): their settings
 * (kanri.conf's, with the API's on top, kept in the store), recording the
 * decisions the round's stage made, executing the enforced ones through
 * the audited action path as actor "policy:NAME", host maintenance mode,
 * and the dry run over stored history.
 */
#include "config.h"

#include "engine/ops-private.h"
#include "engine/policy-private.h"

#include "basic/util.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

/* Actions at once: migrations are limited by the balancing policy's own
 * max_concurrent (the planner counts them); this bounds the rest. */
#define POLICY_THREADS G_N_ELEMENTS(((struct engine_policy *)0)->workers)
/* A done action is judged a round later; "no effect" only once this many
 * rounds have shown none (a balloon moves at the guest's pace). */
#define OBSERVE_PATIENCE 5

char *engine_policy_to_host_params(const char *host)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "to_host", json_object_new_string(host));
    char *s = g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

static struct policy_decision *decision_dup(const struct policy_decision *d)
{
    struct policy_decision *c = g_new0(struct policy_decision, 1);
    *c = *d;
    c->vm_uuid = g_strdup(d->vm_uuid);
    c->vm_name = g_strdup(d->vm_name);
    c->rule = g_strdup(d->rule);
    c->inputs = g_strdup(d->inputs);
    c->expected = g_strdup(d->expected);
    c->reason = g_strdup(d->reason);
    return c;
}

static const char *record_policy(const struct policy_decision *d)
{
    return d->evacuation ? "maintenance" : policy_kind_name(d->policy);
}

/* ---- settings ---- */

static GHashTable *table_ref_or_new(GHashTable *t, GDestroyNotify value_free)
{
    return t ? g_hash_table_ref(t) : g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                           value_free);
}

void engine_policy_new(struct engine *e)
{
    struct engine_policy *p = g_new0(struct engine_policy, 1);
    p->set.enabled = e->conf.policy_enabled;
    p->set.memory = e->conf.policy_memory;
    p->set.balance = e->conf.policy_balance;
    p->priority = table_ref_or_new(e->conf.policy_priority, NULL);
    p->affinity = table_ref_or_new(e->conf.policy_affinity, g_free);
    p->anti_affinity = table_ref_or_new(e->conf.policy_anti_affinity, g_free);
    p->vms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, engine_policy_vm_free);
    p->last_rule = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    p->overrides = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)g_hash_table_unref);
    g_mutex_init(&p->jobs_lock);
    g_cond_init(&p->jobs_cond);
    g_queue_init(&p->jobs);
    e->policy = p;
}

void engine_policy_free(struct engine *e)
{
    struct engine_policy *p = e->policy;
    if (!p)
        return;
    g_hash_table_unref(p->priority);
    g_hash_table_unref(p->affinity);
    g_hash_table_unref(p->anti_affinity);
    g_hash_table_unref(p->vms);
    g_hash_table_unref(p->last_rule);
    g_hash_table_unref(p->overrides);
    /* (engine_free() comes only after the workers were joined, and they
     * leave when the queue is empty.) */
    g_mutex_clear(&p->jobs_lock);
    g_cond_clear(&p->jobs_cond);
    g_free(p);
    e->policy = NULL;
}

/* Applies one setting to the configurations in P; false with *error when
 * POLICY, KEY or VALUE is not one. */
static bool apply(struct policy_settings *p, const char *policy, const char *key,
                  const char *value, GError **error)
{
    if (g_strcmp0(policy, "all") == 0) {
        if (g_strcmp0(key, "enabled") != 0) {
            engine_set_error(error, ENGINE_OPS_INVALID, "policy 'all' has one setting, 'enabled'");
            return false;
        }
        if (g_strcmp0(value, "yes") == 0 || g_strcmp0(value, "true") == 0)
            p->enabled = true;
        else if (g_strcmp0(value, "no") == 0 || g_strcmp0(value, "false") == 0)
            p->enabled = false;
        else {
            engine_set_error(error, ENGINE_OPS_INVALID, "enabled: expected yes or no, got '%s'", value);
            return false;
        }
        return true;
    }
    enum policy_kind k;
    if (!policy_kind_parse(policy, &k)) {
        engine_set_error(error, ENGINE_OPS_NOT_FOUND, "no policy '%s' (known: memory, balance, all)",
                  policy);
        return false;
    }
    g_autoptr(GError) err = NULL;
    bool ok = k == POLICY_MEMORY ? policy_memory_conf_set(&p->memory, key, value, &err)
                                 : policy_balance_conf_set(&p->balance, key, value, &err);
    if (!ok)
        engine_set_error(error, ENGINE_OPS_INVALID, "%s", err->message);
    return ok;
}

/* Rebuilds the settings in force: kanri.conf's, then the API's.  Under
 * e->lock. */
static void rebuild(struct engine *e)
{
    struct engine_policy *p = e->policy;
    p->set.enabled = e->conf.policy_enabled;
    p->set.memory = e->conf.policy_memory;
    p->set.balance = e->conf.policy_balance;
    static const char *const order[] = {"all", "memory", "balance"};
    for (size_t i = 0; i < G_N_ELEMENTS(order); i++) {
        GHashTable *kv = g_hash_table_lookup(p->overrides, order[i]);
        if (!kv)
            continue;
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, kv);
        /* "mode" last would not matter: every key is independent. */
        while (g_hash_table_iter_next(&it, &k, &v)) {
            g_autoptr(GError) err = NULL;
            if (!apply(&p->set, order[i], k, v, &err))
                g_warning("policy %s: stored setting %s = %s: %s (ignored)", order[i],
                          (char *)k, (char *)v, err->message);
        }
    }
}

static void override_put(struct engine_policy *p, const char *policy, const char *key,
                         const char *value)
{
    GHashTable *kv = g_hash_table_lookup(p->overrides, policy);
    if (!kv) {
        kv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_hash_table_insert(p->overrides, g_strdup(policy), kv);
    }
    if (value)
        g_hash_table_replace(kv, g_strdup(key), g_strdup(value));
    else
        g_hash_table_remove(kv, key);
}

static bool setting_known(const struct policy_settings *p, const char *policy,
                          enum policy_kind kind, const char *key)
{
    if (g_strcmp0(policy, "all") == 0)
        return g_strcmp0(key, "enabled") == 0;
    g_autofree char *text = kind == POLICY_MEMORY ? policy_memory_conf_json(&p->memory)
                                                  : policy_balance_conf_json(&p->balance);
    json_object *o = json_tokener_parse(text);
    bool known = o && json_object_object_get_ex(o, key, NULL);
    json_object_put(o);
    return known;
}

int engine_policy_set(struct engine *e, const char *policy, GHashTable *settings,
                      const char *by, GError **error)
{
    struct engine_policy *p = e->policy;
    enum policy_kind kind = POLICY_MEMORY;
    if (g_strcmp0(policy, "all") != 0 && !policy_kind_parse(policy, &kind)) {
        engine_set_error(error, ENGINE_OPS_NOT_FOUND, "no policy '%s' (known: memory, balance, all)",
                  policy);
        return -ENOENT;
    }
    /* Every setting is checked on a copy first: a bad one changes nothing.
     * Going back to kanri.conf's value needs only a known key. */
    g_mutex_lock(&e->lock);
    struct policy_settings probe = p->set;
    g_mutex_unlock(&e->lock);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, settings);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const char *value = v;
        if (!value) {
            if (!setting_known(&probe, policy, kind, k)) {
                engine_set_error(error, ENGINE_OPS_INVALID, "%s: not a setting of policy %s",
                          (char *)k, policy);
                return -EINVAL;
            }
            continue;
        }
        if (!apply(&probe, policy, k, value, error))
            return -EINVAL;
    }
    int64_t now = now_usec();
    g_hash_table_iter_init(&it, settings);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_autoptr(GError) serr = NULL;
        if (e->store->ops->policy_setting_put(e->store, policy, k, v, by, now, &serr) < 0) {
            engine_set_error(error, ENGINE_OPS_IO, "storing the setting %s: %s", (char *)k,
                      serr->message);
            return -EIO;
        }
        g_mutex_lock(&e->lock);
        override_put(p, policy, k, v);
        rebuild(e);
        g_mutex_unlock(&e->lock);
        g_message("policy %s: %s %s by %s", policy, (char *)k,
                  v ? (char *)v : "back to kanri.conf's", by);
    }
    return 0;
}

int engine_policy_resume(struct engine *e, const char *policy, const char *uuid, GError **error)
{
    enum policy_kind k;
    if (!policy_kind_parse(policy, &k)) {
        engine_set_error(error, ENGINE_OPS_NOT_FOUND, "no policy '%s'", policy);
        return -ENOENT;
    }
    g_autoptr(GError) serr = NULL;
    int rc = e->store->ops->policy_pause_delete(e->store, policy, uuid, &serr);
    if (rc == -ENOENT) {
        engine_set_error(error, ENGINE_OPS_NOT_FOUND, "policy %s is not paused for %s", policy, uuid);
        return rc;
    }
    if (rc < 0) {
        engine_set_error(error, ENGINE_OPS_IO, "%s", serr->message);
        return rc;
    }
    g_mutex_lock(&e->lock);
    struct vm_pstate *s = g_hash_table_lookup(e->policy->vms, uuid);
    if (s)
        s->paused[k] = false;
    g_mutex_unlock(&e->lock);
    return 0;
}

/* ---- start and stop ---- */

static gpointer worker(gpointer data);
static void job_run(struct pdec *pd, struct engine *e);

int engine_policy_start(struct engine *e, GError **error)
{
    struct engine_policy *p = e->policy;
    struct store *st = e->store;
    g_autoptr(rows) settings = st->ops->policy_settings_query(st, error);
    if (!settings)
        return -EIO;
    g_autoptr(rows) pauses = st->ops->policy_pauses_query(st, error);
    if (!pauses)
        return -EIO;
    g_autoptr(rows) hosts = st->ops->hosts_query(st, NULL, error);
    if (!hosts)
        return -EIO;
    g_mutex_lock(&e->lock);
    for (guint i = 0; i < rows_len(settings); i++) {
        const struct policy_setting_row *r = rows_get(settings, i);
        override_put(p, r->policy, r->key, r->value);
    }
    rebuild(e);
    for (guint i = 0; i < rows_len(pauses); i++) {
        const struct policy_pause_row *r = rows_get(pauses, i);
        enum policy_kind k;
        if (policy_kind_parse(r->policy, &k))
            engine_policy_vm(p, r->vm_uuid)->paused[k] = true;
    }
    for (guint i = 0; i < rows_len(hosts); i++) {
        const struct host_row *r = rows_get(hosts, i);
        struct ehost *h = engine_host_find(e, r->id);
        if (h)
            h->maintenance = r->maintenance;
    }
    g_mutex_unlock(&e->lock);
    g_mutex_lock(&p->jobs_lock);
    p->jobs_open = true;
    g_mutex_unlock(&p->jobs_lock);
    for (guint i = 0; i < POLICY_THREADS; i++)
        p->workers[i] = g_thread_new("policy", worker, e);
    return 0;
}

/* Queues PD (taken); false when the workers are gone (PD stays the
 * caller's). */
static bool job_push(struct engine_policy *p, struct pdec *pd)
{
    g_mutex_lock(&p->jobs_lock);
    bool open = p->jobs_open;
    if (open) {
        g_queue_push_tail(&p->jobs, pd);
        g_cond_signal(&p->jobs_cond);
    }
    g_mutex_unlock(&p->jobs_lock);
    return open;
}

static gpointer worker(gpointer data)
{
    struct engine *e = data;
    struct engine_policy *p = e->policy;
    g_mutex_lock(&p->jobs_lock);
    for (;;) {
        struct pdec *pd = g_queue_pop_head(&p->jobs);
        if (!pd && !p->jobs_open)
            break;
        if (!pd) {
            g_cond_wait(&p->jobs_cond, &p->jobs_lock);
            continue;
        }
        g_mutex_unlock(&p->jobs_lock);
        job_run(pd, e);
        g_mutex_lock(&p->jobs_lock);
    }
    g_mutex_unlock(&p->jobs_lock);
    return NULL;
}

void engine_policy_stop(struct engine *e, bool wait)
{
    struct engine_policy *p = e->policy;
    if (!p || !p->workers[0])
        return;
    /* The drivers are stopped: queued actions fail at once and are
     * recorded so; a running one finishes its call first.  Unless a
     * driver hangs: then nothing is waited for (kanrid is exiting). */
    g_mutex_lock(&p->jobs_lock);
    p->jobs_open = false;
    g_cond_broadcast(&p->jobs_cond);
    g_mutex_unlock(&p->jobs_lock);
    for (guint i = 0; i < POLICY_THREADS; i++) {
        if (wait)
            g_thread_join(p->workers[i]);
        else
            g_thread_unref(p->workers[i]);
        p->workers[i] = NULL;
    }
}

/* ---- recording and executing ---- */

static void post_event(struct engine *e, const char *uuid, const char *name, const char *host,
                       const char *kind, enum severity sev, const char *msg)
{
    g_autofree char *item = g_strconcat("vm:", uuid, NULL);
    engine_event_post(e, event_new(now_usec(), item, name ? name : uuid, host, kind, NULL, false,
                                   sev, msg));
}

static void record(struct engine *e, struct pdec *pd)
{
    struct store *st = e->store;
    g_autoptr(GError) err = NULL;
    if (!pd->d) {
        if (st->ops->decision_observe(st, pd->observe_id, pd->observed,
                                      policy_verdict_name(pd->verdict), pd->t_us, &err) < 0)
            g_warning("policy: recording what decision %" G_GINT64_FORMAT " did: %s",
                      pd->observe_id, err->message);
        return;
    }
    const struct policy_decision *d = pd->d;
    struct decision_write w = {
        .t_us = pd->t_us,
        .policy = record_policy(d),
        .mode = pd->mode == POLICY_ENFORCE ? "enforce" : "recommend",
        .evacuation = d->evacuation,
        .vm_uuid = d->vm_uuid,
        .vm_name = d->vm_name,
        .host_id = d->host_id,
        .to_host_id = d->action == POLICY_ACT_MIGRATE ? d->to_host_id : 0,
        .rule = d->rule,
        .action = policy_action_name(d->action),
        .params = pd->params,
        .inputs = d->inputs,
        .expected = d->expected,
        .reason = d->reason,
        .state = d->action == POLICY_ACT_NONE || !pd->execute ? "recorded" : "pending",
        .undo_of = pd->undo_of,
    };
    int64_t id = 0;
    if (st->ops->decision_insert(st, &w, &id, &err) < 0) {
        g_warning("policy %s: recording a decision on %s: %s", w.policy,
                  d->vm_name ? d->vm_name : pd->host, err->message);
        pd->execute = false;
        return;
    }
    pd->observe_id = id; /* the decision's own id, for the job */
    if (pd->undo_of) {
        g_autoptr(GError) uerr = NULL;
        if (st->ops->decision_update(st, pd->undo_of, "undone", 0, NULL, &uerr) < 0)
            g_warning("policy: marking decision %" G_GINT64_FORMAT " undone: %s", pd->undo_of,
                      uerr->message);
    }
    if (pd->pause) {
        g_autofree char *why = g_strdup_printf("decision %" G_GINT64_FORMAT " made things worse",
                                               pd->undo_of);
        g_autoptr(GError) perr = NULL;
        if (st->ops->policy_pause_put(st, policy_kind_name(d->policy), d->vm_uuid, pd->t_us, why,
                                      pd->undo_of, &perr) < 0)
            g_warning("policy: pausing for %s: %s", d->vm_name, perr->message);
        g_autofree char *msg = g_strdup_printf(
            "policy %s paused for %s: decision %" G_GINT64_FORMAT " made things worse (%s); "
            "it is being undone",
            policy_kind_name(d->policy), d->vm_name, pd->undo_of, pd->d->reason);
        post_event(e, d->vm_uuid, d->vm_name, pd->host, "policy.paused", SEV_WARNING, msg);
    }
}

void engine_policy_after_round(struct engine *e, struct round_batch *b)
{
    struct engine_policy *p = e->policy;
    if (!p)
        return;
    for (guint i = 0; i < b->decisions->len; i++) {
        struct pdec *pd = g_ptr_array_index(b->decisions, i);
        record(e, pd);
        bool run = pd->d && pd->execute && job_push(p, pd);
        if (run)
            b->decisions->pdata[i] = NULL;
        if (!run && pd->marked) {
            /* Not recorded, or kanrid is stopping: it never runs. */
            g_mutex_lock(&e->lock);
            struct vm_pstate *s = engine_policy_vm(p, pd->d->vm_uuid);
            s->busy = false;
            if (pd->d->action == POLICY_ACT_MIGRATE && p->migrations_in_flight)
                p->migrations_in_flight--;
            g_mutex_unlock(&e->lock);
            g_autoptr(GError) err = NULL;
            if (pd->execute && pd->observe_id &&
                e->store->ops->decision_update(e->store, pd->observe_id, "skipped", 0,
                                               "kanrid stopped before it ran", &err) < 0)
                g_warning("policy: recording decision %" G_GINT64_FORMAT " skipped: %s",
                          pd->observe_id, err->message);
        }
    }
}

static void job_run(struct pdec *pd, struct engine *e)
{
    struct engine_policy *p = e->policy;
    const struct policy_decision *d = pd->d;
    struct action_request req;
    if (d->action == POLICY_ACT_SETMEM) {
        action_request_init(&req, ACTION_SETMEM);
        action_set_int(&req, "memory_bytes", (int64_t)d->memory);
    } else {
        action_request_init(&req, ACTION_MIGRATE);
        action_set_str(&req, "to_host", pd->to_host);
        action_set_bool(&req, "live", true);
    }
    g_autofree char *actor = g_strconcat("policy:", record_policy(d), NULL);
    struct actor who = {.name = actor, .token_id = 0};
    struct action_result res;
    action_result_init(&res);
    int64_t audit_id = 0;
    g_autoptr(GError) err = NULL;
    int rc = engine_action(e, d->host_id, d->vm_uuid, d->vm_name, &req, pd->params, &who, &res,
                           &audit_id, &err);
    action_result_clear(&res);
    action_request_clear(&req);
    g_autoptr(GError) serr = NULL;
    if (e->store->ops->decision_update(e->store, pd->observe_id, rc < 0 ? "failed" : "done",
                                       audit_id, rc < 0 ? err->message : NULL, &serr) < 0)
        g_warning("policy: recording the outcome of decision %" G_GINT64_FORMAT ": %s",
                  pd->observe_id, serr->message);
    if (rc < 0)
        g_warning("%s: %s of %s failed: %s", actor, policy_action_name(d->action), d->vm_name,
                  err->message);
    else
        g_message("%s: %s", actor, d->reason);

    g_mutex_lock(&e->lock);
    struct vm_pstate *s = engine_policy_vm(p, d->vm_uuid);
    s->busy = false;
    if (d->action == POLICY_ACT_MIGRATE && p->migrations_in_flight)
        p->migrations_in_flight--;
    /* A done action is observed once the figures can show its effect: a
     * round later (an undo and an evacuation are not judged again). */
    if (rc == 0 && !pd->undo_of && !d->evacuation) {
        policy_decision_free(s->observe[d->policy]);
        s->observe[d->policy] = decision_dup(d);
        s->observe_id[d->policy] = pd->observe_id;
        int64_t every = (int64_t)e->conf.interval_s * USEC_PER_SEC;
        s->observe_after_us[d->policy] = now_usec() + every;
        s->observe_until_us[d->policy] = now_usec() + OBSERVE_PATIENCE * every;
    }
    g_mutex_unlock(&e->lock);
    pdec_free(pd);
}

/* ---- what the API shows ---- */

/* D as the API shows a planned decision (the stored ones are rows).
 * Under e->lock (host names). */
static json_object *decision_obj(struct engine *e, const struct policy_decision *d)
{
    json_object *o = json_object_new_object();
    struct ehost *h = engine_host_find(e, d->host_id);
    json_object_object_add(o, "policy", json_object_new_string(record_policy(d)));
    json_object_object_add(o, "vm", engine_jstr(d->vm_name));
    json_object_object_add(o, "vm_uuid", engine_jstr(d->vm_uuid));
    json_object_object_add(o, "host", engine_jstr(h ? h->name : NULL));
    json_object_object_add(o, "rule", engine_jstr(d->rule));
    json_object_object_add(o, "action", json_object_new_string(policy_action_name(d->action)));
    if (d->action == POLICY_ACT_SETMEM) {
        json_object_object_add(o, "memory_bytes", json_object_new_int64((int64_t)d->memory));
        json_object_object_add(o, "previous_bytes", json_object_new_int64((int64_t)d->previous));
    } else if (d->action == POLICY_ACT_MIGRATE) {
        struct ehost *to = engine_host_find(e, d->to_host_id);
        json_object_object_add(o, "to_host", engine_jstr(to ? to->name : NULL));
    }
    json_object_object_add(o, "inputs", d->inputs ? json_tokener_parse(d->inputs) : NULL);
    json_object_object_add(o, "expected", d->expected ? json_tokener_parse(d->expected) : NULL);
    json_object_object_add(o, "reason", engine_jstr(d->reason));
    return o;
}

static char *json_text(json_object *o)
{
    char *s = g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

char *engine_policies_json(struct engine *e)
{
    struct engine_policy *p = e->policy;
    json_object *o = json_object_new_object();
    g_mutex_lock(&e->lock);
    json_object_object_add(o, "enabled", json_object_new_boolean(p->set.enabled));
    json_object *list = json_object_new_array();
    for (int k = 0; k < POLICY_N; k++) {
        json_object *po = json_object_new_object();
        const char *name = policy_kind_name(k);
        json_object_object_add(po, "name", json_object_new_string(name));
        enum policy_mode mode = k == POLICY_MEMORY ? p->set.memory.mode : p->set.balance.mode;
        json_object_object_add(po, "mode", json_object_new_string(policy_mode_name(mode)));
        g_autofree char *settings = k == POLICY_MEMORY ? policy_memory_conf_json(&p->set.memory)
                                                       : policy_balance_conf_json(&p->set.balance);
        json_object_object_add(po, "settings", json_tokener_parse(settings));
        json_object *ov = json_object_new_object();
        GHashTable *kv = g_hash_table_lookup(p->overrides, name);
        if (kv) {
            GHashTableIter it;
            gpointer key, v;
            g_hash_table_iter_init(&it, kv);
            while (g_hash_table_iter_next(&it, &key, &v))
                json_object_object_add(ov, key, json_object_new_string(v));
        }
        json_object_object_add(po, "overridden", ov);
        json_object *paused = json_object_new_array();
        GHashTableIter it;
        gpointer key, v;
        g_hash_table_iter_init(&it, p->vms);
        while (g_hash_table_iter_next(&it, &key, &v)) {
            const struct vm_pstate *s = v;
            if (!s->paused[k])
                continue;
            struct item *itm = g_hash_table_lookup(e->items, s->uuid);
            json_object *vo = json_object_new_object();
            json_object_object_add(vo, "vm_uuid", json_object_new_string(s->uuid));
            json_object_object_add(vo, "vm", engine_jstr(itm && itm->name ? itm->name : NULL));
            json_object_array_add(paused, vo);
        }
        json_object_object_add(po, "paused", paused);
        json_object_array_add(list, po);
    }
    json_object_object_add(o, "policies", list);
    json_object *maint = json_object_new_array();
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (h->maintenance)
            json_object_array_add(maint, json_object_new_string(h->name));
    }
    json_object_object_add(o, "maintenance", maint);
    g_mutex_unlock(&e->lock);
    return json_text(o);
}

bool engine_host_in_maintenance(struct engine *e, const char *name)
{
    bool on = false;
    g_mutex_lock(&e->lock);
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (g_strcmp0(h->name, name) == 0)
            on = h->maintenance;
    }
    g_mutex_unlock(&e->lock);
    return on;
}

int engine_host_maintenance(struct engine *e, int64_t host_id, bool on, const char *by,
                            const char *reason, char **ret_plan, GError **error)
{
    g_autoptr(GError) serr = NULL;
    g_mutex_lock(&e->lock);
    struct ehost *h = engine_host_find(e, host_id);
    g_autofree char *name = h ? g_strdup(h->name) : NULL;
    g_mutex_unlock(&e->lock);
    if (!name) {
        engine_set_error(error, ENGINE_OPS_NOT_FOUND, "host %" G_GINT64_FORMAT " is not managed here",
                  host_id);
        return -ENOENT;
    }
    if (e->store->ops->host_maintenance_set(e->store, host_id, on, by, reason, now_usec(),
                                            &serr) < 0) {
        engine_set_error(error, ENGINE_OPS_IO, "%s", serr->message);
        return -EIO;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "host", json_object_new_string(name));
    json_object_object_add(o, "maintenance", json_object_new_boolean(on));
    g_mutex_lock(&e->lock);
    struct engine_policy *p = e->policy;
    h = engine_host_find(e, host_id);
    if (h)
        h->maintenance = on;
    if (on) {
        /* The evacuation as it stands now, to say at once what cannot be
         * placed; the next round records and runs it. */
        g_autoptr(GArray) hosts = g_array_new(FALSE, TRUE, sizeof(struct policy_host));
        g_autoptr(GArray) vms = g_array_new(FALSE, TRUE, sizeof(struct policy_vm));
        engine_policy_fleet_input(e, hosts, vms);
        struct policy_input in = {
            .now_us = now_usec(),
            .hosts = (const struct policy_host *)hosts->data,
            .n_hosts = hosts->len,
            .vms = (const struct policy_vm *)vms->data,
            .n_vms = vms->len,
            .migrations_in_flight = 0,
        };
        g_autoptr(policy_plan) plan = policy_balance_plan(&p->set.balance, &in);
        json_object *arr = json_object_new_array();
        for (guint i = 0; i < plan->decisions->len; i++) {
            const struct policy_decision *d = g_ptr_array_index(plan->decisions, i);
            if (d->evacuation || d->host_id == host_id)
                json_object_array_add(arr, decision_obj(e, d));
        }
        json_object_object_add(o, "plan", arr);
        p->fleet_last_us = 0; /* the fleet's turn comes with the next round */
    }
    g_mutex_unlock(&e->lock);
    g_autofree char *msg = g_strdup_printf("host %s %s maintenance by %s%s%s", name,
                                           on ? "put in" : "taken out of", by,
                                           reason && *reason ? ": " : "", reason ? reason : "");
    g_autofree char *item = g_strconcat("host:", name, NULL);
    engine_event_post(e, event_new(now_usec(), item, name, name,
                                   on ? "host.maintenance.on" : "host.maintenance.off", NULL,
                                   false, SEV_INFO, msg));
    g_message("%s", msg);
    *ret_plan = json_text(o);
    return 0;
}

/* ---- the dry run over history ---- */

#define SIM_ROWS_MAX      200000
#define SIM_DECISIONS_MAX 1000

/* What the dry run changed of one VM: the balloon it set (its effect on
 * later rounds' figures is that change), and where it moved it. */
struct sim_vm {
    double delta;        /* bytes added to the balloon (negative: taken) */
    int64_t host_id;     /* 0: where the history has it */
    int64_t last_us[POLICY_N];
};

static double rowv(int64_t v)
{
    return v == ROW_INT_ABSENT ? POLICY_ABSENT : (double)v;
}

static struct policy_fig sim_fig(double v, const char *prov)
{
    return (struct policy_fig){.v = v, .provenance = policy_present(v) ? prov : NULL,
                               .age_us = policy_present(v) ? 0 : -1};
}

struct sim {
    enum policy_kind kind;
    struct policy_memory_conf memory;
    struct policy_balance_conf balance;
    GHashTable *vms;   /* uuid -> struct sim_vm * */
    GHashTable *names; /* host id -> name */
    GHashTable *cpus;  /* host id -> cores; absent when unknown */
    json_object *decisions;
    unsigned n_decisions, rounds, actions, migrations, balance_rounds;
    double reclaimed, given_back;
    GHashTable *none; /* rule -> count of decisions without an action */
};

static struct sim_vm *sim_vm(struct sim *s, const char *uuid)
{
    struct sim_vm *v = g_hash_table_lookup(s->vms, uuid);
    if (!v) {
        v = g_new0(struct sim_vm, 1);
        g_hash_table_insert(s->vms, g_strdup(uuid), v);
    }
    return v;
}

static void sim_take(struct sim *s, const struct policy_decision *d, int64_t t)
{
    if (d->action == POLICY_ACT_NONE) {
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(s->none, d->rule));
        g_hash_table_replace(s->none, g_strdup(d->rule), GUINT_TO_POINTER(n + 1));
        return;
    }
    struct sim_vm *v = sim_vm(s, d->vm_uuid);
    v->last_us[d->policy] = t;
    s->actions++;
    if (d->action == POLICY_ACT_SETMEM) {
        double change = (double)d->memory - (double)d->previous;
        v->delta += change;
        if (change < 0)
            s->reclaimed -= change;
        else
            s->given_back += change;
    } else {
        v->host_id = d->to_host_id;
        s->migrations++;
    }
    if (s->n_decisions++ >= SIM_DECISIONS_MAX)
        return;
    json_object *o = json_object_new_object();
    g_autofree char *when = time_format_rfc3339(t);
    json_object_object_add(o, "time", json_object_new_string(when));
    json_object_object_add(o, "policy", json_object_new_string(record_policy(d)));
    json_object_object_add(o, "vm", engine_jstr(d->vm_name));
    json_object_object_add(o, "vm_uuid", engine_jstr(d->vm_uuid));
    json_object_object_add(o, "host",
                           engine_jstr(g_hash_table_lookup(s->names, GINT_TO_POINTER((gint)d->host_id))));
    json_object_object_add(o, "rule", engine_jstr(d->rule));
    json_object_object_add(o, "action", json_object_new_string(policy_action_name(d->action)));
    if (d->action == POLICY_ACT_SETMEM) {
        json_object_object_add(o, "memory_bytes", json_object_new_int64((int64_t)d->memory));
        json_object_object_add(o, "previous_bytes", json_object_new_int64((int64_t)d->previous));
    } else {
        json_object_object_add(
            o, "to_host", engine_jstr(g_hash_table_lookup(s->names, GINT_TO_POINTER((gint)d->to_host_id))));
    }
    json_object_object_add(o, "reason", engine_jstr(d->reason));
    json_object_array_add(s->decisions, o);
}

/* One round of history (the rows [I, END) share a time): its figures as
 * the policy would have seen them had it acted as it decided before. */
static void sim_round(struct sim *s, const struct rows *list, guint i, guint end)
{
    g_autoptr(GArray) hosts = g_array_new(FALSE, TRUE, sizeof(struct policy_host));
    g_autoptr(GArray) vms = g_array_new(FALSE, TRUE, sizeof(struct policy_vm));
    const struct replay_row *first = rows_get(list, i);
    int64_t t = first->t;
    for (guint j = i; j < end; j++) {
        const struct replay_row *r = rows_get(list, j);
        bool seen = false;
        for (guint h = 0; h < hosts->len; h++)
            seen |= g_array_index(hosts, struct policy_host, h).id == r->host_id;
        if (!seen) {
            int cpus = GPOINTER_TO_INT(g_hash_table_lookup(s->cpus, GINT_TO_POINTER((gint)r->host_id)));
            struct policy_host ph = {.id = r->host_id,
                                     .name = r->host,
                                     .connected = true,
                                     .cpus = cpus > 0 ? cpus : POLICY_ABSENT,
                                     .mem_total = rowv(r->node_mem_total),
                                     .mem_free = rowv(r->node_mem_free),
                                     .mem_age_us = 0};
            g_array_append_val(hosts, ph);
        }
    }
    for (guint j = i; j < end; j++) {
        const struct replay_row *r = rows_get(list, j);
        const struct sim_vm *sv = g_hash_table_lookup(s->vms, r->vm_uuid);
        double delta = sv ? sv->delta : 0;
        double vcpus = rowv(r->vcpu_count);
        double demand = rowv(r->cpu_demand);
        struct policy_vm v = {
            .uuid = r->vm_uuid,
            .name = r->vm ? r->vm : r->vm_uuid,
            .host_id = sv && sv->host_id ? sv->host_id : r->host_id,
            .running = true,
            .mem_total = sim_fig(rowv(r->mem_total) + delta, "history"),
            .mem_used = sim_fig(rowv(r->mem_used), "history"),
            .mem_swap_in = sim_fig(rowv(r->mem_swap), "history"),
            .cpu_demand = sim_fig(demand / 1000.0 / 100.0 * vcpus, "history"),
            .balloon_current = rowv(r->balloon_current) + delta,
            .balloon_maximum = rowv(r->balloon_maximum),
            .dirty_rate = POLICY_ABSENT,
        };
        for (int k = 0; k < POLICY_N; k++)
            v.last_action_us[k] = sv ? sv->last_us[k] : 0;
        /* Memory the dry run moved: a host gives what its balloons took
         * back, and a move takes the VM's memory along. */
        for (guint h = 0; h < hosts->len; h++) {
            struct policy_host *ph = &g_array_index(hosts, struct policy_host, h);
            double mem = policy_present(v.balloon_current) ? v.balloon_current : 0;
            if (ph->id == r->host_id && policy_present(ph->mem_free))
                ph->mem_free -= delta;
            if (sv && sv->host_id && sv->host_id != r->host_id) {
                if (ph->id == r->host_id && policy_present(ph->mem_free))
                    ph->mem_free += mem;
                if (ph->id == sv->host_id && policy_present(ph->mem_free))
                    ph->mem_free -= mem;
            }
        }
        g_array_append_val(vms, v);
    }
    struct policy_input in = {.now_us = t,
                              .hosts = (const struct policy_host *)hosts->data,
                              .n_hosts = hosts->len,
                              .vms = (const struct policy_vm *)vms->data,
                              .n_vms = vms->len,
                              .balance_rounds = s->balance_rounds};
    g_autoptr(policy_plan) plan = s->kind == POLICY_MEMORY ? policy_memory_plan(&s->memory, &in)
                                                           : policy_balance_plan(&s->balance, &in);
    s->balance_rounds = plan->balance_rounds;
    for (guint k = 0; k < plan->decisions->len; k++)
        sim_take(s, g_ptr_array_index(plan->decisions, k), t);
    s->rounds++;
}

char *engine_policy_simulate(struct engine *e, const char *policy, int64_t host_id,
                             int64_t from_us, int64_t to_us, GHashTable *settings,
                             GError **error)
{
    struct sim s = {0};
    if (!policy_kind_parse(policy, &s.kind)) {
        engine_set_error(error, ENGINE_OPS_NOT_FOUND, "no policy '%s' (known: memory, balance)", policy);
        return NULL;
    }
    g_mutex_lock(&e->lock);
    struct policy_settings probe = e->policy->set;
    g_mutex_unlock(&e->lock);
    if (settings) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, settings);
        while (g_hash_table_iter_next(&it, &k, &v))
            if (!apply(&probe, policy, k, v, error))
                return NULL;
    }
    /* What the policy would have done acting on its decisions, whatever
     * its mode now. */
    s.memory = probe.memory;
    s.balance = probe.balance;
    s.memory.mode = s.balance.mode = POLICY_ENFORCE;
    g_autoptr(GError) serr = NULL;
    g_autoptr(rows) list = e->store->ops->policy_replay_query(e->store, host_id, from_us, to_us,
                                                              SIM_ROWS_MAX, &serr);
    if (!list) {
        engine_set_error(error, serr && serr->code == STORE_ERROR_INVALID ? ENGINE_OPS_INVALID
                                                                   : ENGINE_OPS_IO,
                  "reading the history: %s", serr ? serr->message : "failed");
        return NULL;
    }
    s.vms = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    s.names = g_hash_table_new(g_direct_hash, g_direct_equal);
    s.cpus = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(rows) hosts = e->store->ops->hosts_query(e->store, NULL, &serr);
    for (guint i = 0; hosts && i < rows_len(hosts); i++) {
        const struct host_row *h = rows_get(hosts, i);
        if (h->cpus != ROW_INT_ABSENT && h->cpus > 0)
            g_hash_table_insert(s.cpus, GINT_TO_POINTER((gint)h->id),
                                GINT_TO_POINTER((gint)h->cpus));
    }
    s.none = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    s.decisions = json_object_new_array();
    for (guint i = 0; i < rows_len(list); i++) {
        const struct replay_row *r = rows_get(list, i);
        g_hash_table_insert(s.names, GINT_TO_POINTER((gint)r->host_id), r->host);
    }
    /* Memory decides per host and round; balancing over the fleet at one
     * time.  The rows come ordered by time, then host. */
    for (guint i = 0; i < rows_len(list);) {
        const struct replay_row *a = rows_get(list, i);
        guint end = i + 1;
        while (end < rows_len(list)) {
            const struct replay_row *b = rows_get(list, end);
            if (b->t != a->t || (s.kind == POLICY_MEMORY && b->host_id != a->host_id))
                break;
            end++;
        }
        sim_round(&s, list, i, end);
        i = end;
    }
    json_object *o = json_object_new_object();
    g_autofree char *f = time_format_rfc3339(from_us), *t = time_format_rfc3339(to_us);
    json_object_object_add(o, "policy", json_object_new_string(policy));
    json_object_object_add(o, "from", json_object_new_string(f));
    json_object_object_add(o, "to", json_object_new_string(t));
    json_object_object_add(o, "rounds", json_object_new_int64(s.rounds));
    json_object_object_add(o, "decisions", s.decisions);
    json_object_object_add(o, "truncated", json_object_new_boolean(s.n_decisions > SIM_DECISIONS_MAX));
    json_object *sum = json_object_new_object();
    json_object_object_add(sum, "actions", json_object_new_int64(s.actions));
    json_object_object_add(sum, "reclaimed_bytes", json_object_new_int64((int64_t)s.reclaimed));
    json_object_object_add(sum, "given_back_bytes", json_object_new_int64((int64_t)s.given_back));
    json_object_object_add(sum, "migrations", json_object_new_int64(s.migrations));
    json_object *none = json_object_new_object();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s.none);
    while (g_hash_table_iter_next(&it, &k, &v))
        json_object_object_add(none, k, json_object_new_int64(GPOINTER_TO_UINT(v)));
    json_object_object_add(sum, "no_action", none);
    json_object_object_add(o, "summary", sum);
    g_hash_table_unref(s.vms);
    g_hash_table_unref(s.names);
    g_hash_table_unref(s.cpus);
    g_hash_table_unref(s.none);
    return json_text(o);
}
