/*
 * POST /api/v1/containers: create a container on a container host
 * (docs/api.md).  Once created, a container is a VM of the inventory like
 * any other: listed, shown and acted on under /api/v1/vms.
 */
#include "config.h"

#include "api/api-private.h"

#include <string.h>

/* The body's members besides the limits, as the action table states an
 * action's parameters (model/action.h). */
static const struct action_param_spec create_params[] = {
    {"host", AP_STR, 1, 256, true},
    {"name", AP_STR, 1, 64, true},
    {"template", AP_STR, 1, 64, false},
    {"start", AP_BOOL, 0, 1, false},
    {NULL, 0, 0, 0, false},
};

/* Every member the body may have: those above and the set-limits action's
 * (the same bounds; 0 or absent: no limit). */
static const char *const create_fields[] = {"host",       "name",         "template",
                                            "start",      "memory_bytes", "cpu_millicores",
                                            "cpu_weight", "pids",         NULL};

/* The member P names, or NULL when absent (JSON null counts as absent);
 * false with the reply set when it does not fit P. */
static bool body_member(struct req *r, const struct action_param_spec *p, json_object **ret)
{
    json_object *v = NULL;
    *ret = NULL;
    if (!json_object_object_get_ex(r->body_json, p->name, &v) || !v) {
        if (p->required) {
            req_problem(r, 400, "%s: required", p->name);
            return false;
        }
        return true;
    }
    g_autofree char *detail = NULL;
    if (!api_param_check(p, v, &detail)) {
        req_problem(r, 400, "%s", detail);
        return false;
    }
    *ret = v;
    return true;
}

/* The body as a container_spec whose strings point into the body; false
 * with the reply set when it does not fit. */
static bool create_spec(struct req *r, const char **ret_host, struct container_spec *ret)
{
    json_object *v[G_N_ELEMENTS(create_params) - 1];
    for (size_t i = 0; create_params[i].name; i++) {
        if (!body_member(r, &create_params[i], &v[i]))
            return false;
    }
    *ret = (struct container_spec){.template = "busybox"};
    *ret_host = json_object_get_string(v[0]);
    ret->name = json_object_get_string(v[1]);
    if (!container_name_valid(ret->name)) {
        req_problem(r, 400,
                    "name: '%s' is not a container name (1 to 64 of A-Z a-z 0-9 _ . -, not "
                    "starting with . or -)",
                    ret->name);
        return false;
    }
    if (v[2]) {
        ret->template = json_object_get_string(v[2]);
        if (!container_name_valid(ret->template)) {
            req_problem(r, 400, "template: '%s' is not a template name (such as busybox)",
                        ret->template);
            return false;
        }
    }
    ret->start = v[3] && json_object_get_boolean(v[3]);

    const struct action_param_spec *limits = action_specs[ACTION_SET_LIMITS].params;
    for (const struct action_param_spec *p = limits; p->name; p++) {
        json_object *lv = NULL;
        if (!body_member(r, p, &lv))
            return false;
        uint64_t n = lv ? (uint64_t)json_object_get_int64(lv) : 0;
        if (strcmp(p->name, "memory_bytes") == 0)
            ret->memory_bytes = n;
        else if (strcmp(p->name, "cpu_millicores") == 0)
            ret->cpu_millicores = n;
        else if (strcmp(p->name, "cpu_weight") == 0)
            ret->cpu_weight = n;
        else if (strcmp(p->name, "pids") == 0)
            ret->pids = n;
    }
    return true;
}

static void h_container_create(struct req *r)
{
    const char *host = NULL;
    struct container_spec spec;
    if (!create_spec(r, &host, &spec))
        return;
    struct store *st = req_store(r);
    struct engine *e = req_engine(r);
    int64_t host_id = 0;
    g_autofree char *host_name = NULL;
    if (st->ops->host_lookup(st, host, &host_id, &host_name, NULL) < 0) {
        req_problem(r, 404, "host: no host '%s' (see GET /api/v1/hosts)", host);
        return;
    }
    /* A VM host is refused by engine_create() before anything is audited
     * (501); maintenance matters only where a container could be made. */
    if (engine_host_containers(e, host_id) && api_refuse_in_maintenance(r, host_name))
        return;
    struct actor who = api_actor(r);
    const char *params = json_object_to_json_string_ext(r->body_json, JSON_C_TO_STRING_PLAIN);
    int64_t audit_id = 0;
    g_autoptr(GError) err = NULL;
    g_autofree char *uuid = NULL;
    int rc = engine_create(e, host_id, &spec, params, &who, &uuid, &audit_id, &err);
    api_reply_created(r, rc, err, audit_id, host_name, uuid);
}

const struct route api_container_routes[] = {
    {"POST", "/api/v1/containers", 2, true, h_container_create, create_fields, true},
    {NULL, NULL, 0, false, NULL},
};
