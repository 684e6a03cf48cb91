/*
 * Change requests (docs/provisioning.md, docs/api.md):
 * GET/POST /api/v1/change-requests, GET /api/v1/change-requests/{id} with
 * its VMs' results, POST /api/v1/change-requests/{id}/{step}.
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/util.h"

#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

#define CHANGE_MAX_VMS     1000
#define CHANGE_MAX_ACTIONS 16

/* The actions a request may bundle (an edit of the domain XML is
 * "define" with "xml"). */
static const enum action_kind allowed[] = {
    ACTION_START,  ACTION_SHUTDOWN, ACTION_REBOOT,   ACTION_DESTROY, ACTION_SUSPEND,
    ACTION_RESUME, ACTION_SETMEM,   ACTION_SETVCPUS, ACTION_MIGRATE,
};

static const char *const change_fields[] = {"vm",      "vms",    "reason", "risk",   "window",
                                            "actions", "canary", "batch",  "checks", NULL};

bool api_size_bytes(const char *s, int64_t *ret)
{
    char *end = NULL;
    guint64 v = g_ascii_strtoull(s, &end, 10);
    if (end == s || v > (guint64)G_MAXINT64 / 2)
        return false;
    unsigned shift = 0;
    if (*end) {
        const char *units = "KMGT";
        const char *u = strchr(units, g_ascii_toupper(*end));
        if (!u || (end[1] && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0))
            return false;
        shift = 10 * (unsigned)(u - units + 1);
    }
    if (shift && v > ((guint64)G_MAXINT64 / 2) >> shift)
        return false;
    *ret = (int64_t)(v << shift);
    return true;
}

/* One action of the body checked as POST /vms/{id}/actions/{name} checks
 * its parameters; the normalised copy appended to OUT.  False with the
 * reply set. */
static bool action_ok(struct req *r, size_t i, json_object *a, json_object *out)
{
    json_object *name = NULL;
    if (!json_object_is_type(a, json_type_object) ||
        !json_object_object_get_ex(a, "action", &name) ||
        !json_object_is_type(name, json_type_string)) {
        req_problem(r, 400, "actions[%zu]: an object with an \"action\"", i);
        return false;
    }
    const char *an = json_object_get_string(name);
    json_object *copy = json_object_new_object();
    json_object_object_add(copy, "action", json_object_new_string(an));
    if (strcmp(an, "define") == 0) {
        json_object *xml = NULL;
        if (!json_object_object_get_ex(a, "xml", &xml) ||
            !json_object_is_type(xml, json_type_string) || !*json_object_get_string(xml) ||
            json_object_object_length(a) != 2) {
            json_object_put(copy);
            req_problem(r, 400, "actions[%zu]: define takes \"xml\", the new domain XML, alone", i);
            return false;
        }
        json_object_object_add(copy, "xml", json_object_get(xml));
        json_object_array_add(out, copy);
        return true;
    }
    enum action_kind kind;
    bool ok = action_lookup(an, &kind);
    for (size_t k = 0; ok && k < G_N_ELEMENTS(allowed); k++)
        if (allowed[k] == kind)
            goto known;
    json_object_put(copy);
    req_problem(r, 400,
                "actions[%zu]: '%s' is not an action a change request takes (start, shutdown, "
                "reboot, destroy, suspend, resume, setmem, setvcpus, migrate, define)",
                i, an);
    return false;
known:;
    const struct action_spec *spec = &action_specs[kind];
    json_object_object_foreach(a, key, val)
    {
        if (strcmp(key, "action") == 0)
            continue;
        json_object *v = val;
        g_autoptr(json_object) conv = NULL;
        const char *pname = key;
        /* "memory": "2G" as the operators write it. */
        if (kind == ACTION_SETMEM && strcmp(key, "memory") == 0) {
            int64_t bytes;
            if (!json_object_is_type(val, json_type_string) ||
                !api_size_bytes(json_object_get_string(val), &bytes)) {
                json_object_put(copy);
                req_problem(r, 400, "actions[%zu]: memory: a size such as 2G or 512M", i);
                return false;
            }
            conv = json_object_new_int64(bytes);
            v = conv;
            pname = "memory_bytes";
        }
        const struct action_param_spec *p = NULL;
        for (const struct action_param_spec *x = spec->params; x->name && !p; x++)
            if (strcmp(x->name, pname) == 0)
                p = x;
        g_autofree char *detail = NULL;
        if (!p || !api_param_check(p, v, &detail)) {
            json_object_put(copy);
            if (p)
                req_problem(r, 400, "actions[%zu]: %s", i, detail);
            else
                req_problem(r, 400, "actions[%zu]: %s has no parameter '%s'", i, an, key);
            return false;
        }
        json_object_object_add(copy, pname, json_object_get(v));
    }
    for (const struct action_param_spec *x = spec->params; x->name; x++) {
        if (x->required && !json_object_object_get_ex(copy, x->name, NULL)) {
            json_object_put(copy);
            req_problem(r, 400, "actions[%zu]: %s needs \"%s\"", i, an, x->name);
            return false;
        }
    }
    json_object_array_add(out, copy);
    return true;
}

/* An optional non-negative integer member of OBJ up to MAX. */
static bool int_member(struct req *r, json_object *obj, const char *key, int64_t max, int64_t *ret)
{
    json_object *v = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &v) || !v)
        return true;
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
        json_object_get_int64(v) > max) {
        req_problem(r, 400, "%s: an integer from 0 to %" G_GINT64_FORMAT, key, max);
        return false;
    }
    *ret = json_object_get_int64(v);
    return true;
}

/* window.from / window.to: RFC 3339 or epoch seconds. */
static bool window_member(struct req *r, json_object *w, const char *key, int64_t *ret)
{
    json_object *v = NULL;
    if (!w || !json_object_object_get_ex(w, key, &v) || !v)
        return true;
    if (!json_object_is_type(v, json_type_string) && !json_object_is_type(v, json_type_int)) {
        req_problem(r, 400, "window.%s: a time (RFC 3339 or epoch seconds)", key);
        return false;
    }
    const char *s = json_object_get_string(v);
    if (!time_parse(s, ret)) {
        req_problem(r, 400, "window.%s: '%s' is not a time (RFC 3339 or epoch seconds)", key, s);
        return false;
    }
    return true;
}

static void row_clear_change_vm(gpointer p)
{
    row_clear(&change_vm_row_desc, p);
}

/* The VMs named by "vm" or "vms", resolved. */
static GArray *body_vms(struct req *r)
{
    json_object *one = NULL, *many = NULL;
    bool has_one = json_object_object_get_ex(r->body_json, "vm", &one) && one;
    bool has_many = json_object_object_get_ex(r->body_json, "vms", &many) && many;
    if (has_one == has_many) {
        req_problem(r, 400, "vm or vms: one VM, or a list of them (not both)");
        return NULL;
    }
    if (has_many &&
        (!json_object_is_type(many, json_type_array) || json_object_array_length(many) < 1 ||
         json_object_array_length(many) > CHANGE_MAX_VMS)) {
        req_problem(r, 400, "vms: a list of 1 to %d VMs", CHANGE_MAX_VMS);
        return NULL;
    }
    size_t n = has_many ? json_object_array_length(many) : 1;
    GArray *ret = g_array_new(FALSE, TRUE, sizeof(struct change_vm_row));
    g_array_set_clear_func(ret, (GDestroyNotify)row_clear_change_vm);
    for (size_t i = 0; i < n; i++) {
        json_object *v = has_many ? json_object_array_get_idx(many, i) : one;
        if (!json_object_is_type(v, json_type_string)) {
            req_problem(r, 400, "%s: VM names or UUIDs", has_many ? "vms" : "vm");
            g_array_unref(ret);
            return NULL;
        }
        g_auto(store_vm_ref_t) ref = {0};
        if (!api_resolve_vm(r, json_object_get_string(v), &ref)) {
            g_array_unref(ret);
            return NULL;
        }
        for (guint k = 0; k < ret->len; k++) {
            if (strcmp(g_array_index(ret, struct change_vm_row, k).uuid, ref.uuid) == 0) {
                req_problem(r, 400, "vms: %s is named twice", ref.name);
                g_array_unref(ret);
                return NULL;
            }
        }
        struct change_vm_row row = {
            .uuid = g_strdup(ref.uuid), .vm = g_strdup(ref.name), .host_id = ref.host_id};
        g_array_append_val(ret, row);
    }
    return ret;
}

static void h_change_create(struct req *r)
{
    const char *reason = NULL, *risk = NULL;
    if (!api_body_text(r, "reason", 1000, true, &reason) ||
        !api_body_text(r, "risk", 16, false, &risk))
        return;
    if (!risk)
        risk = "medium";
    if (strcmp(risk, "low") && strcmp(risk, "medium") && strcmp(risk, "high")) {
        req_problem(r, 400, "risk: low, medium or high");
        return;
    }
    struct change_request_row c = {
        .reason = (char *)reason, .risk = (char *)risk, .check_timeout_s = 60};
    json_object *w = NULL, *checks = NULL, *canary = NULL, *actions = NULL;
    json_object_object_get_ex(r->body_json, "window", &w);
    json_object_object_get_ex(r->body_json, "checks", &checks);
    if ((w && !json_object_is_type(w, json_type_object)) ||
        (checks && !json_object_is_type(checks, json_type_object))) {
        req_problem(r, 400, "%s: an object",
                    w && !json_object_is_type(w, json_type_object) ? "window" : "checks");
        return;
    }
    if (!window_member(r, w, "from", &c.window_from) || !window_member(r, w, "to", &c.window_to))
        return;
    if (c.window_to && c.window_to <= c.window_from) {
        req_problem(r, 400, "window: to must come after from");
        return;
    }
    if (!int_member(r, r->body_json, "batch", CHANGE_MAX_VMS, &c.batch) ||
        !int_member(r, checks, "guest_fresh_s", 86400, &c.guest_fresh_s) ||
        !int_member(r, checks, "timeout_s", 3600, &c.check_timeout_s))
        return;
    if (json_object_object_get_ex(r->body_json, "canary", &canary) && canary) {
        if (!json_object_is_type(canary, json_type_boolean)) {
            req_problem(r, 400, "canary: true or false");
            return;
        }
        c.canary = json_object_get_boolean(canary);
    }
    if (!json_object_object_get_ex(r->body_json, "actions", &actions) ||
        !json_object_is_type(actions, json_type_array) || json_object_array_length(actions) < 1 ||
        json_object_array_length(actions) > CHANGE_MAX_ACTIONS) {
        req_problem(r, 400, "actions: a list of 1 to %d actions", CHANGE_MAX_ACTIONS);
        return;
    }
    g_autoptr(json_object) norm = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(actions); i++)
        if (!action_ok(r, i, json_object_array_get_idx(actions, i), norm))
            return;
    g_autoptr(GArray) vms = body_vms(r);
    if (!vms)
        return;
    struct actor who = api_actor(r);
    c.actions = (char *)json_object_to_json_string_ext(norm, JSON_C_TO_STRING_PLAIN);
    c.requester = (char *)who.name;
    c.requester_token = who.token_id;
    c.created = now_usec();
    int64_t id = 0;
    g_autoptr(GError) err = NULL;
    if (engine_change_create(req_engine(r), &c, (struct change_vm_row *)vms->data, vms->len, &id,
                             &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "result", json_object_new_string("ok"));
    json_object_object_add(o, "id", json_object_new_int64(id));
    json_object_object_add(o, "state", json_object_new_string("draft"));
    req_json(r, 201, o);
}

static void h_changes(struct req *r)
{
    const char *state = req_arg(r, "state");
    if (state && !*state) {
        req_problem(r, 400, "state: a state such as submitted");
        return;
    }
    const char *const states[] = {state, NULL};
    g_autoptr(GError) err = NULL;
    struct store *st = req_store(r);
    for (const char *p = state; p && *p; p++) {
        if (!g_ascii_isalpha(*p) && *p != '-') {
            req_problem(r, 400, "state: a state such as submitted");
            return;
        }
    }
    req_rows_paged(r, st->ops->change_requests_query(st, 0, state ? states : NULL, &err), err);
}

static void h_change(struct req *r)
{
    int64_t id;
    if (!api_path_id(r, "change request", &id))
        return;
    struct store *st = req_store(r);
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) one = st->ops->change_requests_query(st, id, NULL, &err);
    g_autoptr(rows) vms = one ? st->ops->change_vms_query(st, id, &err) : NULL;
    if (!one || !vms) {
        req_from_error(r, err);
        return;
    }
    if (rows_len(one) == 0) {
        req_problem(r, 404, "no change request %" G_GINT64_FORMAT, id);
        return;
    }
    json_object *o = api_row_json(&change_request_row_desc, rows_get(one, 0));
    json_object *list = json_object_new_array();
    for (guint i = 0; i < rows_len(vms); i++)
        json_object_array_add(list, api_row_json(&change_vm_row_desc, rows_get(vms, i)));
    json_object_object_add(o, "vms", list);
    req_json(r, 200, o);
}

static void h_change_step(struct req *r)
{
    int64_t id;
    if (!api_path_id(r, "change request", &id))
        return;
    const char *step = r->params[1];
    static const char *const steps[] = {"submit", "approve", "reject", "cancel"};
    bool known = false;
    for (size_t i = 0; i < G_N_ELEMENTS(steps); i++)
        known |= strcmp(steps[i], step) == 0;
    if (!known) {
        req_problem(r, 404, "no step '%s' (submit, approve, reject, cancel)", step);
        return;
    }
    struct actor who = api_actor(r);
    g_autoptr(GError) err = NULL;
    const char *state = NULL;
    if (engine_change_step(req_engine(r), id, step, &who, &state, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "result", json_object_new_string("ok"));
    json_object_object_add(o, "id", json_object_new_int64(id));
    json_object_object_add(o, "state", json_object_new_string(state));
    req_json(r, 200, o);
}

const struct route api_change_routes[] = {
    {"GET", "/api/v1/change-requests", 1, false, h_changes},
    {"POST", "/api/v1/change-requests", 2, true, h_change_create, change_fields},
    {"GET", "/api/v1/change-requests/{}", 1, false, h_change},
    {"POST", "/api/v1/change-requests/{}/{}", 2, false, h_change_step},
    {NULL, NULL, 0, false, NULL},
};
