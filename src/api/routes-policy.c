/*
 * The autonomic policies over the API (docs/policies.md, docs/api.md):
 * their modes and settings, the decisions they made, the dry run over
 * history, resuming a paused VM, and host maintenance mode.
 *
 * Viewers read; operators put hosts in maintenance and resume paused VMs;
 * admins change what the policies may do.
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/util.h"
#include "engine/engine.h"
#include "model/decision.h"

#include <string.h>

#define SIM_MAX_US (31 * 86400 * G_GINT64_CONSTANT(1000000))
#define SETTINGS_MAX 32

void api_reply_text_json(struct req *r, unsigned status, char *text)
{
    json_object *o = json_tokener_parse(text);
    g_free(text);
    if (!o) {
        req_problem(r, 500, "the engine's answer is not JSON");
        return;
    }
    req_json(r, status, o);
}

/* The policy NAME's object of engine_policies_json(), or NULL. */
static json_object *policy_object(struct req *r, const char *name)
{
    g_autofree char *text = engine_policies_json(req_engine(r));
    json_object *all = json_tokener_parse(text);
    json_object *list = NULL, *found = NULL;
    if (all && json_object_object_get_ex(all, "policies", &list)) {
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            json_object *p = json_object_array_get_idx(list, i);
            if (g_strcmp0(json_object_get_string(json_object_object_get(p, "name")), name) == 0)
                found = json_object_get(p);
        }
    }
    if (found) {
        json_object_object_add(found, "enabled",
                               json_object_get(json_object_object_get(all, "enabled")));
    }
    json_object_put(all);
    return found;
}

static void h_policies(struct req *r)
{
    api_reply_text_json(r, 200, engine_policies_json(req_engine(r)));
}

static void h_policy(struct req *r)
{
    json_object *p = policy_object(r, r->params[0]);
    if (!p) {
        req_problem(r, 404, "no policy '%s' (known: memory, balance)", r->params[0]);
        return;
    }
    req_json(r, 200, p);
}

/* PATCH /policies/{name} {"settings": {"key": "value" | null, ...}};
 * "all" takes the kill switch, {"settings": {"enabled": "no"}}. */
static void h_policy_set(struct req *r)
{
    json_object *settings = NULL;
    if (!json_object_object_get_ex(r->body_json, "settings", &settings) ||
        !json_object_is_type(settings, json_type_object) ||
        json_object_object_length(settings) == 0 ||
        json_object_object_length(settings) > SETTINGS_MAX) {
        req_problem(r, 400, "settings: required, an object of 1 to %d settings (a value as text, "
                            "null for kanri.conf's)",
                    SETTINGS_MAX);
        return;
    }
    /* Every value is checked before any is kept. */
    json_object_object_foreach(settings, key, val)
    {
        bool text = val && json_object_is_type(val, json_type_string);
        if (strlen(key) > 64 || (val && !text) ||
            (text && (!*json_object_get_string(val) || strlen(json_object_get_string(val)) > 256))) {
            req_problem(r, 400, "settings.%.64s: expected text of 1 to 256 characters, or null",
                        key);
            return;
        }
    }
    g_autoptr(GHashTable) kv = g_hash_table_new(g_str_hash, g_str_equal);
    json_object_object_foreach(settings, k2, v2)
    {
        g_hash_table_insert(kv, k2, v2 ? (gpointer)json_object_get_string(v2) : NULL);
    }
    g_autoptr(GError) err = NULL;
    if (engine_policy_set(req_engine(r), r->params[0], kv, r->token.name, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    if (g_strcmp0(r->params[0], "all") == 0) {
        h_policies(r);
        return;
    }
    h_policy(r);
}

static void h_policy_resume(struct req *r)
{
    struct store_vm_ref v = {0};
    if (!api_resolve_vm(r, r->params[1], &v))
        return;
    g_autoptr(GError) err = NULL;
    int rc = engine_policy_resume(req_engine(r), r->params[0], v.uuid, &err);
    store_vm_ref_clear(&v);
    if (rc < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    req_json(r, 204, NULL);
}

/* ---- decisions ---- */

static void h_decisions(struct req *r)
{
    struct store_decision_query q = {0};
    int limit;
    const char *vm, *host, *action;
    if (!api_arg_limit(r, &limit) || !api_arg_cursor(r, &q.before_id) ||
        !api_arg_text(r, "vm", 256, &vm) || !api_arg_text(r, "policy", 32, &q.policy) ||
        !api_arg_text(r, "host", 256, &host) || !api_arg_text(r, "action", 32, &action))
        return;
    q.limit = limit;
    int64_t now = now_usec();
    const char *from = req_arg(r, "from"), *to = req_arg(r, "to");
    if (from && !api_parse_when(from, now, &q.from_us)) {
        req_problem(r, 400, "from: expected RFC 3339, epoch seconds or a duration, got '%s'",
                    from);
        return;
    }
    if (to && !api_parse_when(to, now, &q.to_us)) {
        req_problem(r, 400, "to: expected RFC 3339, epoch seconds or a duration, got '%s'", to);
        return;
    }
    if (q.policy && strcmp(q.policy, "memory") && strcmp(q.policy, "balance") &&
        strcmp(q.policy, "maintenance")) {
        req_problem(r, 400, "policy: expected memory, balance or maintenance, got '%s'", q.policy);
        return;
    }
    if (action && strcmp(action, "none") && strcmp(action, "set-memory") &&
        strcmp(action, "migrate") && strcmp(action, "any")) {
        req_problem(r, 400, "action: expected none, set-memory, migrate or any, got '%s'",
                    action);
        return;
    }
    q.action = action && strcmp(action, "any") ? action : NULL;
    q.include_none = action != NULL;
    struct store_vm_ref v = {0};
    if (vm) {
        if (!api_resolve_vm(r, vm, &v))
            return;
        q.vm_uuid = v.uuid;
    }
    if (host) {
        struct store *st = req_store(r);
        if (st->ops->host_lookup(st, host, &q.host_id, NULL, NULL) < 0) {
            store_vm_ref_clear(&v);
            req_problem(r, 404, "no host '%s'", host);
            return;
        }
    }
    g_autoptr(GError) err = NULL;
    struct rows *list = req_store(r)->ops->decisions_query(req_store(r), &q, &err);
    store_vm_ref_clear(&v);
    api_reply_by_id(r, list, err, limit, offsetof(struct decision_row, id));
}

static void h_decision(struct req *r)
{
    int64_t id;
    if (!api_path_id(r, "decision", &id))
        return;
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) list = req_store(r)->ops->decision_get(req_store(r), id, &err);
    if (!list) {
        api_reply_engine_error(r, err);
        return;
    }
    if (!rows_len(list)) {
        req_problem(r, 404, "no decision %" G_GINT64_FORMAT, id);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "decision", api_row_json(list->desc, rows_get(list, 0)));
    req_json(r, 200, o);
}

/* ---- the dry run ---- */

static void h_policy_simulate(struct req *r)
{
    const char *from, *to, *host;
    if (!api_body_text(r, "from", 64, true, &from) || !api_body_text(r, "to", 64, false, &to) ||
        !api_body_text(r, "host", 256, false, &host))
        return;
    int64_t now = now_usec(), f = 0, t = now;
    if (!api_parse_when(from, now, &f)) {
        req_problem(r, 400, "from: expected RFC 3339, epoch seconds or a duration, got '%s'",
                    from);
        return;
    }
    if (to && !api_parse_when(to, now, &t)) {
        req_problem(r, 400, "to: expected RFC 3339, epoch seconds or a duration, got '%s'", to);
        return;
    }
    if (t <= f || t - f > SIM_MAX_US) {
        req_problem(r, 400, "from, to: to must be after from, at most 31 days on");
        return;
    }
    int64_t host_id = 0;
    if (host) {
        struct store *st = req_store(r);
        if (st->ops->host_lookup(st, host, &host_id, NULL, NULL) < 0) {
            req_problem(r, 404, "no host '%s'", host);
            return;
        }
    }
    json_object *settings = NULL;
    g_autoptr(GHashTable) kv = g_hash_table_new(g_str_hash, g_str_equal);
    if (json_object_object_get_ex(r->body_json, "settings", &settings) && settings) {
        if (!json_object_is_type(settings, json_type_object) ||
            json_object_object_length(settings) > SETTINGS_MAX) {
            req_problem(r, 400, "settings: an object of at most %d settings, each as text",
                        SETTINGS_MAX);
            return;
        }
        json_object_object_foreach(settings, key, val)
        {
            if (!val || !json_object_is_type(val, json_type_string) ||
                strlen(json_object_get_string(val)) > 256) {
                req_problem(r, 400, "settings.%.64s: expected text of at most 256 characters",
                            key);
                return;
            }
            g_hash_table_insert(kv, key, (gpointer)json_object_get_string(val));
        }
    }
    g_autoptr(GError) err = NULL;
    char *text = engine_policy_simulate(req_engine(r), r->params[0], host_id, f, t, kv, &err);
    if (!text) {
        api_reply_engine_error(r, err);
        return;
    }
    api_reply_text_json(r, 200, text);
}

/* ---- host maintenance ---- */

static void h_host_maintenance(struct req *r)
{
    json_object *on = NULL;
    const char *reason;
    if (!json_object_object_get_ex(r->body_json, "on", &on) ||
        !json_object_is_type(on, json_type_boolean)) {
        req_problem(r, 400, "on: required, true or false");
        return;
    }
    if (!api_body_text(r, "reason", 4000, false, &reason))
        return;
    struct store *st = req_store(r);
    int64_t host_id = 0;
    if (st->ops->host_lookup(st, r->params[0], &host_id, NULL, NULL) < 0) {
        req_problem(r, 404, "no host '%s'", r->params[0]);
        return;
    }
    g_autoptr(GError) err = NULL;
    char *plan = NULL;
    if (engine_host_maintenance(req_engine(r), host_id, json_object_get_boolean(on),
                                r->token.name, reason, &plan, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    api_reply_text_json(r, 200, plan);
}

static const char *const settings_fields[] = {"settings", NULL};
static const char *const simulate_fields[] = {"from", "to", "host", "settings", NULL};
static const char *const maintenance_fields[] = {"on", "reason", NULL};

const struct route api_policy_routes[] = {
    {"GET", "/api/v1/policies", 1, false, h_policies},
    {"GET", "/api/v1/policies/{}", 1, false, h_policy},
    {"PATCH", "/api/v1/policies/{}", 3, true, h_policy_set, settings_fields},
    {"DELETE", "/api/v1/policies/{}/paused/{}", 2, false, h_policy_resume},
    {"POST", "/api/v1/policies/{}/simulate", 1, true, h_policy_simulate, simulate_fields, true},
    {"GET", "/api/v1/decisions", 1, false, h_decisions},
    {"GET", "/api/v1/decisions/{}", 1, false, h_decision},
    {"POST", "/api/v1/hosts/{}/maintenance", 2, true, h_host_maintenance, maintenance_fields},
    {NULL, NULL, 0, false, NULL},
};
