/*
 * High availability over the API (docs/ha.md, docs/api.md): what HA sees
 * and does, a VM's HA settings, and an operator's word that a failed host
 * is off.
 *
 * Viewers read; operators set a VM's HA settings; admins confirm a host
 * is off (it makes kanri restart that host's VMs elsewhere, so it is
 * trusted like a fence).
 */
#include "config.h"

#include "api/api-private.h"

#include "engine/engine.h"
#include "policy/ha.h"

#include <string.h>

static void h_ha(struct req *r)
{
    api_reply_text_json(r, 200, engine_ha_json(req_engine(r)));
}

/* The VM UUID's entry of GET /ha, or a plain one (no HA settings). */
static json_object *vm_entry(struct req *r, const struct store_vm_ref *v)
{
    g_autofree char *text = engine_ha_json(req_engine(r));
    json_object *all = json_tokener_parse(text), *vms = NULL, *found = NULL;
    if (all && json_object_object_get_ex(all, "vms", &vms)) {
        for (size_t i = 0; i < json_object_array_length(vms) && !found; i++) {
            json_object *o = json_object_array_get_idx(vms, i);
            if (g_strcmp0(json_object_get_string(json_object_object_get(o, "uuid")), v->uuid) == 0)
                found = json_object_get(o);
        }
    }
    json_object_put(all);
    if (found)
        return found;
    found = json_object_new_object();
    json_object_object_add(found, "uuid", json_object_new_string(v->uuid));
    json_object_object_add(found, "name", json_object_new_string(v->name));
    json_object_object_add(found, "host", json_object_new_string(v->host));
    json_object_object_add(found, "ha", json_object_new_boolean(false));
    return found;
}

/* PUT /vms/{vm}/ha {"ha": true, "priority": 10, "restart": "elsewhere", "group": "front"} */
static void h_vm_ha_put(struct req *r)
{
    json_object *ha = NULL, *prio = NULL, *restart = NULL, *group = NULL;
    if (!json_object_object_get_ex(r->body_json, "ha", &ha) ||
        !json_object_is_type(ha, json_type_boolean)) {
        req_problem(r, 400, "ha: required, true or false");
        return;
    }
    struct ha_vm_settings s = {.ha = json_object_get_boolean(ha)};
    if (json_object_object_get_ex(r->body_json, "priority", &prio) && prio) {
        int64_t p = json_object_get_int64(prio);
        if (!json_object_is_type(prio, json_type_int) || p < -HA_PRIORITY_MAX ||
            p > HA_PRIORITY_MAX) {
            req_problem(r, 400, "priority: a whole number from %d to %d", -HA_PRIORITY_MAX,
                        HA_PRIORITY_MAX);
            return;
        }
        s.priority = (int)p;
    }
    if (json_object_object_get_ex(r->body_json, "restart", &restart) && restart &&
        (!json_object_is_type(restart, json_type_string) ||
         !ha_restart_parse(json_object_get_string(restart), &s.restart))) {
        req_problem(r, 400, "restart: one of elsewhere, in-place, report");
        return;
    }
    if (json_object_object_get_ex(r->body_json, "group", &group) && group) {
        if (!json_object_is_type(group, json_type_string) ||
            !ha_group_name_ok(json_object_get_string(group))) {
            req_problem(r, 400, "group: an HA group's name (1-64 letters, digits, '-', '_', '.') "
                                "or null");
            return;
        }
        s.group = (char *)json_object_get_string(group);
    }
    g_auto(store_vm_ref_t) v = {0};
    if (!api_resolve_vm(r, r->params[0], &v))
        return;
    g_autoptr(GError) err = NULL;
    if (engine_ha_vm_set(req_engine(r), v.uuid, &s, r->token.name, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    req_json(r, 200, vm_entry(r, &v));
}

/* DELETE /vms/{vm}/ha: back to kanri.conf's settings. */
static void h_vm_ha_delete(struct req *r)
{
    g_auto(store_vm_ref_t) v = {0};
    if (!api_resolve_vm(r, r->params[0], &v))
        return;
    g_autoptr(GError) err = NULL;
    if (engine_ha_vm_set(req_engine(r), v.uuid, NULL, r->token.name, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    req_json(r, 200, vm_entry(r, &v));
}

/* POST /ha/hosts/{host}/fenced {"comment": "..."} */
static void h_host_fenced(struct req *r)
{
    const char *comment;
    if (!api_body_text(r, "comment", 4000, false, &comment))
        return;
    struct store *st = req_store(r);
    int64_t host_id = 0;
    g_autofree char *name = NULL;
    if (st->ops->host_lookup(st, r->params[0], &host_id, &name, NULL) < 0) {
        req_problem(r, 404, "no host '%s'", r->params[0]);
        return;
    }
    g_autoptr(GError) err = NULL;
    if (engine_ha_confirm_fenced(req_engine(r), host_id, r->token.name, comment, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "host", json_object_new_string(name));
    json_object_object_add(o, "confirmed_by", json_object_new_string(r->token.name));
    req_json(r, 202, o);
}

static const char *const vm_ha_fields[] = {"ha", "priority", "restart", "group", NULL};
static const char *const fenced_fields[] = {"comment", NULL};

const struct route api_ha_routes[] = {
    {"GET", "/api/v1/ha", 1, false, h_ha},
    {"PUT", "/api/v1/vms/{}/ha", 2, true, h_vm_ha_put, vm_ha_fields},
    {"DELETE", "/api/v1/vms/{}/ha", 2, false, h_vm_ha_delete},
    {"POST", "/api/v1/ha/hosts/{}/fenced", 3, true, h_host_fenced, fenced_fields},
    {NULL, NULL, 0, false, NULL},
};
