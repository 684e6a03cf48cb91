/*
 * Templates and VMs made from them (docs/provisioning.md, docs/api.md):
 * GET/POST /api/v1/templates, GET/DELETE /api/v1/templates/{name}, and
 * POST /api/v1/vms with a "template" (h_vm_define hands it here).
 */
#include "config.h"

#include "api/api-private.h"

#include "engine/fleet.h"
#include "provision/clone.h"
#include "provision/placement.h"
#include "provision/seed.h"

#include <math.h>
#include <string.h>

/* A template's or a new VM's name: what a container name may be. */
static bool name_ok(struct req *r, const char *member, const char *name)
{
    if (container_name_valid(name))
        return true;
    req_problem(r, 400,
                "%s: '%s' is not a name here (1 to 64 of A-Z a-z 0-9 _ . -, not "
                "starting with . or -)",
                member, name);
    return false;
}

static const struct action_param_spec template_params[] = {
    {"name", AP_STR, 1, 64, true},
    {"vm", AP_STR, 1, 256, true},
    {"pool", AP_STR, 1, 256, false},
    {NULL, 0, 0, 0, false},
};
static const char *const template_fields[] = {"name", "vm", "pool", NULL};

/* The body's members of SPECS (N of them) into V, absent ones NULL; false
 * with the reply set when one does not fit. */
static bool body_members(struct req *r, const struct action_param_spec *specs, json_object **v)
{
    for (size_t i = 0; specs[i].name; i++) {
        const struct action_param_spec *p = &specs[i];
        v[i] = NULL;
        json_object *x = NULL;
        if (!json_object_object_get_ex(r->body_json, p->name, &x) || !x) {
            if (p->required) {
                req_problem(r, 400, "%s: required", p->name);
                return false;
            }
            continue;
        }
        g_autofree char *detail = NULL;
        if (!api_param_check(p, x, &detail)) {
            req_problem(r, 400, "%s", detail);
            return false;
        }
        v[i] = x;
    }
    return true;
}

static const char *str_or_null(json_object *v)
{
    return v ? json_object_get_string(v) : NULL;
}

static void h_templates(struct req *r)
{
    g_autoptr(GError) err = NULL;
    struct store *st = req_store(r);
    req_rows_paged(r, st->ops->templates_query(st, NULL, false, false, &err), err);
}

static void h_template(struct req *r)
{
    const char *name = r->params[0];
    struct store *st = req_store(r);
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) all = st->ops->templates_query(st, name, true, true, &err);
    if (!all) {
        req_from_error(r, err);
        return;
    }
    /* ?version=N one version (deleted ones too); else the newest, unless
     * the template was deleted. */
    const char *vs = req_arg(r, "version");
    int64_t want = 0;
    if (vs && (!g_ascii_string_to_signed(vs, 10, 1, G_MAXINT32, &want, NULL))) {
        req_problem(r, 400, "version: '%s' is not a version number", vs);
        return;
    }
    const struct template_row *t = NULL;
    for (guint i = 0; i < rows_len(all); i++) {
        const struct template_row *x = rows_get(all, i);
        if (want ? x->version == want : i + 1 == rows_len(all) && !x->deleted)
            t = x;
    }
    if (!t) {
        if (want)
            req_problem(r, 404, "template %s has no version %" G_GINT64_FORMAT, name, want);
        else
            req_problem(r, 404, "no template named '%s' (see GET /api/v1/templates)", name);
        return;
    }
    json_object *o = api_row_json(&template_row_desc, t);
    json_object *versions = json_object_new_array();
    for (guint i = 0; i < rows_len(all); i++) {
        struct template_row *x = rows_get(all, i);
        g_clear_pointer(&x->xml, g_free);
        json_object_array_add(versions, api_row_json(&template_row_desc, x));
    }
    json_object_object_add(o, "versions", versions);
    req_json(r, 200, o);
}

static void h_template_create(struct req *r)
{
    json_object *v[G_N_ELEMENTS(template_params)];
    if (!body_members(r, template_params, v))
        return;
    struct template_request req = {.name = json_object_get_string(v[0]), .pool = str_or_null(v[2])};
    if (!name_ok(r, "name", req.name))
        return;
    g_auto(store_vm_ref_t) vm = {0};
    if (!api_resolve_vm(r, json_object_get_string(v[1]), &vm))
        return;
    if (api_forward(r, vm.host_id, vm.host, "/api/v1/templates"))
        return;
    req.uuid = vm.uuid;
    req.vm = vm.name;
    struct actor who = api_actor(r);
    int64_t version = 0, audit_id = 0;
    g_autoptr(GError) err = NULL;
    if (engine_template_create(req_engine(r), vm.host_id, &req, &who, &version, &audit_id, &err) <
        0) {
        req_from_error(r, err);
        if (audit_id)
            json_object_object_add(r->resp, "audit_id", json_object_new_int64(audit_id));
        return;
    }
    struct store *st = req_store(r);
    g_autoptr(rows) made = st->ops->templates_query(st, req.name, true, false, NULL);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "result", json_object_new_string("ok"));
    json_object_object_add(o, "audit_id", json_object_new_int64(audit_id));
    for (guint i = 0; made && i < rows_len(made); i++) {
        const struct template_row *t = rows_get(made, i);
        if (t->version == version)
            json_object_object_add(o, "template", api_row_json(&template_row_desc, t));
    }
    req_json(r, 201, o);
}

static void h_template_delete(struct req *r)
{
    const char *name = r->params[0];
    struct store *st = req_store(r);
    g_autoptr(GError) err = NULL;
    if (st->ops->template_delete(st, name, g_get_real_time(), &err) < 0) {
        req_from_error(r, err);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "result", json_object_new_string("ok"));
    json_object_object_add(o, "deleted", json_object_new_string(name));
    json_object_object_add(o, "note",
                           json_object_new_string("its images stay in their pool: linked "
                                                  "clones are backed by them"));
    req_json(r, 200, o);
}

/* Whether a host's pools hold PATH (their target directory is its
 * directory): shared storage seen under the same path. */
static bool host_sees(const struct rows *pools, int64_t host_id, const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    for (guint i = 0; i < rows_len(pools); i++) {
        const struct pool_row *p = rows_get(pools, i);
        if (p->host_id == host_id && g_strcmp0(p->target_path, dir) == 0)
            return true;
    }
    return false;
}

/* The host for a VM made from T when none is named (provision/placement):
 * false with the reply set when none fits. */
static bool place(struct req *r, const struct template_row *t, const struct provision_request *req,
                  int64_t *ret_host_id, char **ret_host, char **ret_reason)
{
    struct store *st = req_store(r);
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) hosts = st->ops->hosts_query(st, NULL, &err);
    g_autoptr(rows) vms = hosts ? st->ops->vms_query(st, NULL, 0, false, &err) : NULL;
    g_autoptr(rows) pools = vms ? st->ops->pools_query(st, NULL, &err) : NULL;
    if (!pools) {
        req_from_error(r, err);
        return false;
    }
    unsigned vcpus = 0;
    uint64_t kib = 0;
    clone_sizes(t->xml, &vcpus, &kib, NULL);
    struct place_need need = {.vcpus = req->vcpus ? req->vcpus : MAX(vcpus, 1),
                              .memory_bytes = req->memory_bytes ? (int64_t)req->memory_bytes
                                                                : (int64_t)kib * 1024};
    g_autoptr(GArray) disks = clone_disks(t->xml, NULL);
    g_autoptr(fleet) f = engine_fleet(req_engine(r), hosts, vms, pools, true);
    g_autoptr(GArray) cand = g_array_new(FALSE, TRUE, sizeof(struct place_host));
    for (guint i = 0; i < f->hosts->len; i++) {
        const struct fleet_host *h = &g_array_index(f->hosts, struct fleet_host, i);
        bool sees = h->id == t->host_id || (disks && disks->len == 0);
        for (guint d = 0; !sees && disks && d < disks->len; d++)
            sees = host_sees(pools, h->id, g_array_index(disks, struct clone_disk, d).path);
        struct place_host p = {.name = h->name,
                               .connected = g_strcmp0(h->state, "connected") == 0,
                               .maintenance = h->maintenance,
                               .sees_images = sees,
                               .cpus = h->cpus,
                               .memory_bytes = h->memory_bytes,
                               .mem_used_bytes = h->mem_used_vms ? h->mem_used_bytes : NAN,
                               .mem_assigned_bytes = h->mem_assigned_bytes};
        g_array_append_val(cand, p);
    }
    int i = place_choose((const struct place_host *)cand->data, cand->len, &need, ret_reason);
    if (i < 0) {
        req_problem(r, 409, "%s (name a host with \"host\")", *ret_reason);
        return false;
    }
    const struct fleet_host *h = &g_array_index(f->hosts, struct fleet_host, i);
    *ret_host_id = h->id;
    *ret_host = g_strdup(h->name);
    return true;
}

/* POST /api/v1/vms's members for a VM made from a template. */
static const struct action_param_spec provision_params[] = {
    {"template", AP_STR, 1, 64, true},
    {"name", AP_STR, 1, 64, true},
    {"host", AP_STR, 1, 256, false},
    {"version", AP_INT, 1, G_MAXINT32, false},
    {"pool", AP_STR, 1, 256, false},
    {"linked", AP_BOOL, 0, 1, false},
    {"vcpus", AP_INT, 1, 4096, false},
    {"memory_bytes", AP_INT, 1024 * 1024, G_MAXINT64 / 2, false},
    {"disk_bytes", AP_INT, 1024 * 1024, G_MAXINT64 / 2, false},
    {"start", AP_BOOL, 0, 1, false},
    {"user_data", AP_STR, 1, SEED_USER_DATA_MAX, false},
    {NULL, 0, 0, 0, false},
};

const char *const api_provision_fields[] = {
    "template",     "name",       "host",  "version",   "pool",     "linked", "vcpus",
    "memory_bytes", "disk_bytes", "start", "user_data", "ssh_keys", NULL};

void api_vm_provision(struct req *r)
{
    json_object *v[G_N_ELEMENTS(provision_params)];
    if (!body_members(r, provision_params, v))
        return;
    const char *tname = json_object_get_string(v[0]);
    struct provision_request req = {
        .name = json_object_get_string(v[1]),
        .pool = str_or_null(v[4]),
        .linked = !v[5] || json_object_get_boolean(v[5]),
        .vcpus = v[6] ? (unsigned)json_object_get_int64(v[6]) : 0,
        .memory_bytes = v[7] ? (uint64_t)json_object_get_int64(v[7]) : 0,
        .disk_bytes = v[8] ? (uint64_t)json_object_get_int64(v[8]) : 0,
        .start = !v[9] || json_object_get_boolean(v[9]),
    };
    if (!name_ok(r, "name", req.name))
        return;
    req.user_data = str_or_null(v[10]);
    /* SSH keys: a list of strings, each checked as the seed will. */
    json_object *keys = NULL;
    g_autoptr(GPtrArray) key_list = g_ptr_array_new();
    if (json_object_object_get_ex(r->body_json, "ssh_keys", &keys) && keys) {
        size_t nk = json_object_is_type(keys, json_type_array) ? json_object_array_length(keys) : 0;
        if (!json_object_is_type(keys, json_type_array) || nk > SEED_KEYS_MAX) {
            req_problem(r, 400, "ssh_keys: a list of at most %d SSH public keys", SEED_KEYS_MAX);
            return;
        }
        for (size_t i = 0; i < nk; i++) {
            json_object *kv = json_object_array_get_idx(keys, i);
            g_autofree char *why = NULL;
            if (!json_object_is_type(kv, json_type_string) ||
                !seed_key_ok(json_object_get_string(kv), &why)) {
                req_problem(r, 400, "ssh_keys[%zu]: %s", i, why ? why : "a string");
                return;
            }
            g_ptr_array_add(key_list, (gpointer)json_object_get_string(kv));
        }
    }
    req.ssh_keys = (const char *const *)key_list->pdata;
    req.n_keys = key_list->len;
    struct store *st = req_store(r);
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) all = st->ops->templates_query(st, tname, true, true, &err);
    if (!all) {
        req_from_error(r, err);
        return;
    }
    int64_t want = v[3] ? json_object_get_int64(v[3]) : 0;
    const struct template_row *t = NULL;
    for (guint i = 0; i < rows_len(all); i++) {
        const struct template_row *x = rows_get(all, i);
        if (!x->deleted && (want ? x->version == want : i + 1 == rows_len(all)))
            t = x;
    }
    if (!t) {
        if (want)
            req_problem(r, 404,
                        "template: %s has no version %" G_GINT64_FORMAT " (or it was "
                        "deleted)",
                        tname, want);
        else
            req_problem(r, 404, "template: no template named '%s' (see GET /api/v1/templates)",
                        tname);
        return;
    }
    req.template = t;
    int64_t host_id = 0;
    g_autofree char *host_name = NULL, *placement = NULL;
    if (v[2]) {
        if (st->ops->host_lookup(st, json_object_get_string(v[2]), &host_id, &host_name, NULL) <
            0) {
            req_problem(r, 400, "host: no host '%s'", json_object_get_string(v[2]));
            return;
        }
    } else if (!place(r, t, &req, &host_id, &host_name, &placement)) {
        return;
    }
    if (api_forward(r, host_id, host_name, "/api/v1/vms"))
        return;
    if (api_refuse_in_maintenance(r, host_name))
        return;
    struct actor who = api_actor(r);
    const char *params = json_object_to_json_string_ext(r->body_json, JSON_C_TO_STRING_PLAIN);
    int64_t audit_id = 0;
    g_autofree char *uuid = NULL;
    int rc =
        engine_vm_provision(req_engine(r), host_id, &req, params, &who, &uuid, &audit_id, &err);
    api_reply_created(r, rc, err, audit_id, host_name, uuid);
    if (placement && r->resp && json_object_is_type(r->resp, json_type_object))
        json_object_object_add(r->resp, "placement", json_object_new_string(placement));
}

const struct route api_template_routes[] = {
    {"GET", "/api/v1/templates", 1, false, h_templates},
    {"POST", "/api/v1/templates", 2, true, h_template_create, template_fields, true},
    {"GET", "/api/v1/templates/{}", 1, false, h_template},
    {"DELETE", "/api/v1/templates/{}", 2, false, h_template_delete},
    {NULL, NULL, 0, false, NULL},
};
