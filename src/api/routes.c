/*
 * Route table and handlers of REST API v1 (docs/api.md).
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/util.h"
#include "web/assets.h"

#include <string.h>

const char *const api_role_names[] = {"a guest token", "viewer", "operator", "admin"};

bool route_match(const char *pattern, const char *path, char **params, int *nparams)
{
    g_auto(GStrv) pp = g_strsplit(pattern, "/", -1);
    g_auto(GStrv) sp = g_strsplit(path, "/", -1);
    int n = 0;
    guint i;
    if (g_strv_length(pp) != g_strv_length(sp))
        return false;
    for (i = 0; pp[i]; i++) {
        if (g_str_equal(pp[i], "{}")) {
            if (!*sp[i] || ++n > REQ_MAX_PARAMS)
                return false;
        } else if (!g_str_equal(pp[i], sp[i])) {
            return false;
        }
    }
    for (int k = 0; k < *nparams; k++)
        g_clear_pointer(&params[k], g_free);
    n = 0;
    for (i = 0; pp[i]; i++) {
        if (g_str_equal(pp[i], "{}"))
            params[n++] = g_strdup(sp[i]);
    }
    *nparams = n;
    return true;
}

/* ---- helpers ---- */

bool api_arg_limit(struct req *r, int *ret)
{
    const char *s = req_arg(r, "limit");
    uint64_t n = 100;
    if (s && (!parse_u64(s, &n) || n < 1 || n > 1000)) {
        req_problem(r, 400, "limit: expected an integer from 1 to 1000, got '%s'", s);
        return false;
    }
    *ret = (int)n;
    return true;
}

/* Resolves a VM reference; on failure the reply is already set. */
static bool resolve_vm(struct req *r, const char *ref, struct store_vm_ref *ret);

bool api_resolve_vm(struct req *r, const char *ref, struct store_vm_ref *ret)
{
    return resolve_vm(r, ref, ret);
}

/* 503 with Retry-After while a host's first inventory sync runs: a name
 * unknown now may be a VM not loaded yet, never "no such VM". */
static bool still_loading(struct req *r, const char *what)
{
    g_autofree char *why = NULL;
    int retry = 1;
    if (engine_ready(req_engine(r), &why, &retry))
        return false;
    g_free(r->retry_after);
    r->retry_after = g_strdup_printf("%d", retry);
    req_problem(r, 503, "%s: kanrid is %s; retry in %d s", what, why, retry);
    return true;
}

static bool resolve_vm(struct req *r, const char *ref, struct store_vm_ref *ret)
{
    struct store *st = req_store(r);
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_vm_ref));
    g_array_set_clear_func(refs, (GDestroyNotify)store_vm_ref_clear);
    g_autoptr(GError) err = NULL;
    if (st->ops->vm_resolve(st, ref, refs, &err) < 0) {
        req_problem(r, 500, "the store failed to answer: %s", err->message);
        return false;
    }
    if (refs->len == 0) {
        g_autofree char *what = g_strdup_printf("no VM named '%s' yet", ref);
        if (still_loading(r, what))
            return false;
        req_problem(r, 404,
                    "no VM named '%s' (use a UUID, a name, or HOST:NAME from GET /api/v1/vms)",
                    ref);
        return false;
    }
    if (refs->len > 1) {
        g_autoptr(GString) hosts = g_string_new(NULL);
        for (guint i = 0; i < refs->len; i++) {
            struct store_vm_ref *v = &g_array_index(refs, struct store_vm_ref, i);
            g_string_append_printf(hosts, "%s%s:%s", i ? ", " : "", v->host, v->name);
        }
        req_problem(r, 409, "'%s' matches VMs on several hosts; name one as HOST:NAME (%s)", ref,
                    hosts->str);
        return false;
    }
    struct store_vm_ref *v = &g_array_index(refs, struct store_vm_ref, 0);
    *ret = *v;
    memset(v, 0, sizeof(*v)); /* ownership moved to *ret */
    return true;
}

static json_object *vm_object(struct req *r, int64_t domain_id, bool with_xml)
{
    struct store *st = req_store(r);
    g_autoptr(rows) all = st->ops->vms_query(st, NULL, domain_id, with_xml, NULL);
    if (!all || rows_len(all) == 0)
        return NULL;
    return api_row_json(all->desc, rows_get(all, 0));
}

struct actor api_actor(struct req *r)
{
    return (struct actor){.name = r->token.name, .token_id = r->token.id};
}

/* ---- handlers ---- */

static void h_healthz(struct req *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ok"));
    json_object_object_add(o, "version", json_object_new_string(KANRI_VERSION));
    req_json(r, 200, o);
}

/* What a client needs to trust this kanrid: its version, since when it
 * runs, and its certificate's pin (for the CLI's --pin and kanri-guestd's
 * server_pin).  Over HTTPS the client has already seen the key; the pin
 * written down here is what the next one checks against. */
static void h_server(struct req *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "version", json_object_new_string(KANRI_VERSION));
    g_autofree char *started = time_format_rfc3339(api_started_us);
    json_object_object_add(o, "started_at", json_object_new_string(started));
    json_object *tls = json_object_new_object();
    const char *pin = req_tls_pin(r);
    json_object_object_add(tls, "enabled", json_object_new_boolean(pin != NULL));
    if (pin) {
        json_object_object_add(tls, "pin", json_object_new_string(pin));
        json_object_object_add(tls, "certificate", json_object_new_string(req_tls_cert_path(r)));
    }
    json_object_object_add(o, "tls", tls);
    /* Who asks: a client (the dashboard) learns its token's role here. */
    json_object *tok = json_object_new_object();
    json_object_object_add(tok, "id", json_object_new_int64(r->token.id));
    json_object_object_add(tok, "name", json_object_new_string(r->token.name ? r->token.name : ""));
    json_object_object_add(tok, "role", json_object_new_string(r->token.role ? r->token.role : ""));
    json_object_object_add(o, "token", tok);
    req_json(r, 200, o);
}

/* Ready when every host has synced its inventory since start-up or is
 * unreachable: what a service manager, a load balancer or a test waits on. */
static void h_readyz(struct req *r)
{
    g_autofree char *why = NULL;
    int retry = 1;
    if (!engine_ready(req_engine(r), &why, &retry)) {
        g_free(r->retry_after);
        r->retry_after = g_strdup_printf("%d", retry);
        req_problem(r, 503, "not ready: %s", why);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ready"));
    req_json(r, 200, o);
}

static void h_openapi(struct req *r)
{
    req_asset(r, "openapi.json");
}

/* The kanrid instances sharing this store and their host leases
 * (docs/scale-out.md). */
static void h_cluster(struct req *r)
{
    g_autoptr(GError) err = NULL;
    char *text = engine_cluster_json(req_engine(r), &err);
    if (!text) {
        req_problem(r, 503, "reading the instances and leases: %s", err->message);
        return;
    }
    api_reply_text_json(r, 200, text);
}

static void h_hosts(struct req *r)
{
    g_autoptr(GError) err = NULL;
    req_rows_paged(r, req_store(r)->ops->hosts_query(req_store(r), NULL, &err), err);
}

static void h_host(struct req *r)
{
    struct store *st = req_store(r);
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) all = st->ops->hosts_query(st, r->params[0], &err);
    if (!all) {
        req_rows(r, NULL, err);
        return;
    }
    if (rows_len(all) == 0) {
        req_problem(r, 404, "no host '%s' (see GET /api/v1/hosts)", r->params[0]);
        return;
    }
    const struct host_row *h = rows_get(all, 0);
    json_object *host = api_row_json(all->desc, h);
    g_autoptr(rows) pools = st->ops->pools_query(st, h->name, NULL);
    g_autoptr(rows) nets = st->ops->networks_query(st, h->name, NULL);
    json_object_object_add(host, "pools", pools ? api_rows_array(pools) : NULL);
    json_object_object_add(host, "networks", nets ? api_rows_array(nets) : NULL);
    req_json(r, 200, host);
}

static void h_vms(struct req *r)
{
    req_vms_paged(r);
}

static void h_vm(struct req *r)
{
    g_auto(store_vm_ref_t) v = {0};
    if (!resolve_vm(r, r->params[0], &v))
        return;
    json_object *vm = vm_object(r, v.domain_id, true);
    if (!vm) {
        req_problem(r, 404, "VM '%s' disappeared", r->params[0]);
        return;
    }
    req_json(r, 200, vm);
}

static void h_vm_snapshots(struct req *r)
{
    g_auto(store_vm_ref_t) v = {0};
    if (!resolve_vm(r, r->params[0], &v))
        return;
    g_autofree char *path = g_strdup_printf("/api/v1/vms/%s/snapshots", v.uuid);
    if (api_forward(r, v.host_id, v.host, path))
        return;
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) snaps = engine_snapshots(req_engine(r), v.host_id, v.uuid, &err);
    if (!snaps) {
        req_from_error(r, err);
        return;
    }
    req_json(r, 200, api_rows_json(snaps));
}

static void h_vm_action(struct req *r)
{
    enum action_kind kind;
    if (!action_lookup(r->params[1], &kind)) {
        req_problem(r, 404, "unknown action '%s' (%s)", r->params[1], action_api_names());
        return;
    }
    g_auto(store_vm_ref_t) v = {0};
    if (!resolve_vm(r, r->params[0], &v))
        return;
    g_autofree char *path = g_strdup_printf("/api/v1/vms/%s/actions/%s", v.uuid, r->params[1]);
    if (api_forward(r, v.host_id, v.host, path))
        return;
    struct action_request req;
    g_autofree char *detail = NULL;
    bool ok = api_action_request(kind, r->body_json, &req, &detail);
    struct actor who = api_actor(r);
    struct action_result res;
    action_result_init(&res);
    int64_t audit_id = 0;
    g_autoptr(GError) err = NULL;
    const char *params = json_object_to_json_string_ext(r->body_json, JSON_C_TO_STRING_PLAIN);
    const char *to = ok && kind == ACTION_MIGRATE ? action_str(&req, "to_host") : NULL;
    if (to && api_refuse_in_maintenance(r, to)) {
        action_request_clear(&req);
        return;
    }
    if (!ok) {
        /* Refusals count too: the audit trail shows attempts, not only
         * successes. */
        g_set_error(&err, DRIVER_ERROR, DRIVER_ERR_INVALID, "%s", detail);
        struct store *st = req_store(r);
        if (st->ops->audit_begin(st, who.name, who.token_id, r->params[1], v.name, v.uuid, v.host,
                                 params, &audit_id, NULL) == 0)
            st->ops->audit_end(st, audit_id, false, detail, NULL);
    } else {
        engine_action(req_engine(r), v.host_id, v.uuid, v.name, &req, params, &who, &res, &audit_id,
                      &err);
    }
    action_request_clear(&req);
    if (err) {
        req_from_error(r, err);
        if (audit_id)
            json_object_object_add(r->resp, "audit_id", json_object_new_int64(audit_id));
        action_result_clear(&res);
        return;
    }
    json_object *o = api_action_result_json(&res, audit_id);
    if (!res.host) {
        json_object *vm = vm_object(r, v.domain_id, false);
        bool removed = vm && json_object_get_boolean(json_object_object_get(vm, "removed"));
        if (vm && !removed)
            json_object_object_add(o, "vm", vm);
        else
            json_object_put(vm);
    }
    action_result_clear(&res);
    req_json(r, 200, o);
}

bool api_refuse_in_maintenance(struct req *r, const char *host)
{
    if (!engine_host_in_maintenance(req_engine(r), host))
        return false;
    req_problem(r, 409,
                "host %s is in maintenance: nothing is placed on it (kanri host maintenance %s "
                "off)",
                host, host);
    return true;
}

static void h_vm_define(struct req *r)
{
    json_object *host = NULL, *xml = NULL;
    if (json_object_object_get_ex(r->body_json, "template", NULL)) {
        if (json_object_object_get_ex(r->body_json, "xml", NULL)) {
            req_problem(r, 400, "xml: a VM is made either from domain XML or from a template");
            return;
        }
        api_vm_provision(r);
        return;
    }
    for (size_t i = 0; api_provision_fields[i]; i++) {
        const char *f = api_provision_fields[i];
        if (strcmp(f, "host") != 0 && json_object_object_get_ex(r->body_json, f, NULL)) {
            req_problem(r, 400,
                        "%s: unknown field without a template (it is for a VM made from one)", f);
            return;
        }
    }
    if (!json_object_object_get_ex(r->body_json, "host", &host) ||
        !json_object_is_type(host, json_type_string)) {
        req_problem(r, 400, "host: required, the name of the host to define the VM on");
        return;
    }
    if (!json_object_object_get_ex(r->body_json, "xml", &xml) ||
        !json_object_is_type(xml, json_type_string) || !*json_object_get_string(xml)) {
        req_problem(r, 400, "xml: required, the domain XML");
        return;
    }
    int64_t host_id = 0;
    g_autofree char *host_name = NULL;
    if (req_store(r)->ops->host_lookup(req_store(r), json_object_get_string(host), &host_id,
                                       &host_name, NULL) < 0) {
        req_problem(r, 400, "host: no host '%s'", json_object_get_string(host));
        return;
    }
    if (api_forward(r, host_id, host_name, "/api/v1/vms"))
        return;
    if (api_refuse_in_maintenance(r, host_name))
        return;
    struct actor who = api_actor(r);
    int64_t audit_id = 0;
    g_autoptr(GError) err = NULL;
    g_autofree char *uuid = NULL;
    int rc = engine_define(req_engine(r), host_id, json_object_get_string(xml), &who, &uuid,
                           &audit_id, &err);
    api_reply_created(r, rc, err, audit_id, host_name, uuid);
}

/* The new VM as the inventory has it, or NULL.  The driver reports it
 * before the engine's call returns; the wait covers a store write still
 * under way, and is bounded (5 s). */
static json_object *created_vm(struct req *r, const char *host, const char *uuid)
{
    struct store *st = req_store(r);
    g_autofree char *ref = g_strdup_printf("%s:%s", host, uuid);
    for (int tries = 0; tries < 50; tries++) {
        g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_vm_ref));
        g_array_set_clear_func(refs, (GDestroyNotify)store_vm_ref_clear);
        if (st->ops->vm_resolve(st, ref, refs, NULL) == 0 && refs->len == 1) {
            json_object *vm =
                vm_object(r, g_array_index(refs, struct store_vm_ref, 0).domain_id, false);
            if (vm)
                return vm;
        }
        g_usleep(100 * 1000);
    }
    return NULL;
}

void api_reply_created(struct req *r, int rc, const GError *err, int64_t audit_id, const char *host,
                       const char *uuid)
{
    if (rc < 0) {
        req_from_error(r, err);
        if (audit_id)
            json_object_object_add(r->resp, "audit_id", json_object_new_int64(audit_id));
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "result", json_object_new_string("ok"));
    json_object_object_add(o, "audit_id", json_object_new_int64(audit_id));
    json_object_object_add(o, "uuid", json_object_new_string(uuid));
    json_object *vm = created_vm(r, host, uuid);
    if (vm)
        json_object_object_add(o, "vm", vm);
    req_json(r, 201, o);
}

static void h_pools(struct req *r)
{
    g_autoptr(GError) err = NULL;
    req_rows_paged(r, req_store(r)->ops->pools_query(req_store(r), req_arg(r, "host"), &err), err);
}

static void h_networks(struct req *r)
{
    g_autoptr(GError) err = NULL;
    req_rows_paged(r, req_store(r)->ops->networks_query(req_store(r), req_arg(r, "host"), &err),
                   err);
}

static void h_changes(struct req *r)
{
    int limit;
    if (!api_arg_limit(r, &limit))
        return;
    int64_t domain_id = 0;
    const char *vm = req_arg(r, "vm");
    g_auto(store_vm_ref_t) v = {0};
    if (vm) {
        if (!resolve_vm(r, vm, &v))
            return;
        domain_id = v.domain_id;
    }
    g_autoptr(GError) err = NULL;
    req_rows(r, req_store(r)->ops->changes_query(req_store(r), domain_id, limit, &err), err);
}

static void h_audit(struct req *r)
{
    int limit;
    if (!api_arg_limit(r, &limit))
        return;
    const char *vm = req_arg(r, "vm");
    g_auto(store_vm_ref_t) v = {0};
    if (vm && !resolve_vm(r, vm, &v))
        return;
    g_autoptr(GError) err = NULL;
    req_rows(r, req_store(r)->ops->audit_query(req_store(r), vm ? v.uuid : NULL, limit, &err), err);
}

static void h_tokens(struct req *r)
{
    g_autoptr(GError) err = NULL;
    req_rows_paged(r, req_store(r)->ops->tokens_query(req_store(r), &err), err);
}

static void h_token_create(struct req *r)
{
    json_object *name = NULL, *role = NULL;
    if (!json_object_object_get_ex(r->body_json, "name", &name) ||
        !json_object_is_type(name, json_type_string)) {
        req_problem(r, 400, "name: required, a label for the token");
        return;
    }
    const char *n = json_object_get_string(name);
    if (!*n || strlen(n) > 64 || !g_utf8_validate(n, -1, NULL)) {
        req_problem(r, 400, "name: must be 1 to 64 characters");
        return;
    }
    if (!json_object_object_get_ex(r->body_json, "role", &role) ||
        !json_object_is_type(role, json_type_string) ||
        api_role_rank(json_object_get_string(role)) < 1) {
        req_problem(r, 400, "role: required, one of viewer, operator, admin");
        return;
    }
    g_autofree char *token = token_generate();
    g_autofree char *hash = sha256_hex(token);
    int64_t id = 0;
    g_autoptr(GError) err = NULL;
    struct store *st = req_store(r);
    if (st->ops->token_create(st, n, json_object_get_string(role), hash, NULL, &id, &err) < 0) {
        req_problem(r, 500, "the store failed: %s", err->message);
        return;
    }
    int64_t audit_id;
    if (st->ops->audit_begin(st, r->token.name, r->token.id, "token-create", n, NULL, NULL,
                             json_object_to_json_string_ext(r->body_json, JSON_C_TO_STRING_PLAIN),
                             &audit_id, NULL) == 0)
        st->ops->audit_end(st, audit_id, true, NULL, NULL);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(id));
    json_object_object_add(o, "name", json_object_new_string(n));
    json_object_object_add(o, "role", json_object_new_string(json_object_get_string(role)));
    json_object_object_add(o, "token", json_object_new_string(token));
    g_autofree char *now = time_format_rfc3339(now_usec());
    json_object_object_add(o, "created_at", json_object_new_string(now));
    req_json(r, 201, o);
}

static void h_token_revoke(struct req *r)
{
    uint64_t id;
    if (!parse_u64(r->params[0], &id) || id > G_MAXINT64) {
        req_problem(r, 404, "no token with id '%s' (ids are integers)", r->params[0]);
        return;
    }
    struct store *st = req_store(r);
    g_autoptr(GError) err = NULL;
    int64_t audit_id = 0;
    st->ops->audit_begin(st, r->token.name, r->token.id, "token-revoke", r->params[0], NULL, NULL,
                         "{}", &audit_id, NULL);
    int rc = st->ops->token_revoke(st, (int64_t)id, &err);
    if (audit_id)
        st->ops->audit_end(st, audit_id, rc == 0, rc == 0 ? NULL : err->message, NULL);
    if (rc < 0) {
        req_from_error(r, err);
        return;
    }
    /* Live streams opened with it end within a second. */
    api_streams_tokens_changed(req_streams(r));
    req_json(r, 204, NULL);
}

/* Order matters only for 405 "Allow" lists: all methods of a path are
 * collected before falling through. */
/* Domain XML, or a template and what to change (routes-templates.c). */
static const char *const define_fields[] = {
    "host",  "xml",          "template",   "name",  "version",   "pool",     "linked",
    "vcpus", "memory_bytes", "disk_bytes", "start", "user_data", "ssh_keys", NULL};
static const char *const token_fields[] = {"name", "role", NULL};

const struct route api_routes[] = {
    {"GET", "/api/v1/healthz", -1, false, h_healthz},
    {"GET", "/healthz", -1, false, h_healthz},
    {"GET", "/api/v1/readyz", -1, false, h_readyz},
    {"GET", "/readyz", -1, false, h_readyz},
    {"GET", "/api/v1/openapi.json", -1, false, h_openapi},
    {"GET", "/api/v1/server", 1, false, h_server},
    {"GET", "/api/v1/cluster", 1, false, h_cluster},
    {"GET", "/api/v1/hosts", 1, false, h_hosts},
    {"GET", "/api/v1/hosts/{}", 1, false, h_host},
    {"GET", "/api/v1/vms", 1, false, h_vms},
    {"POST", "/api/v1/vms", 2, true, h_vm_define, define_fields, true},
    {"GET", "/api/v1/vms/{}", 1, false, h_vm},
    {"GET", "/api/v1/vms/{}/snapshots", 1, false, h_vm_snapshots, NULL, true},
    {"GET", "/api/v1/vms/{}/metrics", 1, false, h_vm_metrics},
    {"GET", "/api/v1/vms/{}/reconciled", 1, false, h_vm_reconciled},
    {"GET", "/api/v1/findings", 1, false, h_findings},
    {"GET", "/api/v1/fleet", 1, false, h_fleet},
    {"GET", "/api/v1/hosts/{}/metrics", 1, false, h_host_metrics},
    {"GET", "/api/v1/pools/{}/metrics", 1, false, h_pool_metrics},
    {"GET", "/metrics", 1, false, h_prometheus},
    {"POST", "/api/v1/vms/{}/actions/{}", 2, true, h_vm_action, NULL, true},
    {"GET", "/api/v1/pools", 1, false, h_pools},
    {"GET", "/api/v1/networks", 1, false, h_networks},
    {"GET", "/api/v1/changes", 1, false, h_changes},
    {"GET", "/api/v1/audit", 1, false, h_audit},
    {"GET", "/api/v1/tokens", 3, false, h_tokens},
    {"POST", "/api/v1/tokens", 3, true, h_token_create, token_fields},
    {"DELETE", "/api/v1/tokens/{}", 3, false, h_token_revoke},
    {NULL, NULL, 0, false, NULL},
};
