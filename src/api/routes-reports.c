/*
 * Reports and the VMs' tags (docs/reports.md): GET /reports/availability
 * as JSON, CSV or a self-contained HTML page; PUT /vms/{vm}/tags and
 * GET /tags, the groups the reports are made for.
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/util.h"
#include "engine/engine.h"
#include "report/render.h"

#include <json-c/json.h>
#include <math.h>

#define TAG_MAX  64
#define TAGS_MAX 32

static bool tag_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > TAG_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!g_ascii_isalnum(t[i]) && !strchr("._-", t[i]))
            return false;
    }
    return true;
}

/* ---- tags ---- */

static void h_vm_tags_put(struct req *r)
{
    g_auto(store_vm_ref_t) v = {0};
    if (!api_resolve_vm(r, r->params[0], &v))
        return;
    json_object *list = NULL;
    if (!json_object_object_get_ex(r->body_json, "tags", &list) ||
        !json_object_is_type(list, json_type_array)) {
        req_problem(r, 400, "tags: expected an array of tags");
        return;
    }
    size_t n = json_object_array_length(list);
    if (n > TAGS_MAX) {
        req_problem(r, 400, "tags: at most %d", TAGS_MAX);
        return;
    }
    g_autoptr(GPtrArray) tags = g_ptr_array_new();
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(list, i);
        const char *s = json_object_is_type(t, json_type_string) ? json_object_get_string(t) : NULL;
        if (!s || !tag_valid(s)) {
            req_problem(r, 400, "tags[%zu]: a tag is 1 to %d letters, digits, '.', '_' or '-'", i,
                        TAG_MAX);
            return;
        }
        g_ptr_array_add(tags, (char *)s);
    }
    g_ptr_array_add(tags, NULL);
    struct store *st = req_store(r);
    g_autoptr(GError) err = NULL;
    if (st->ops->vm_tags_set(st, v.uuid, (const char *const *)tags->pdata, &err) < 0) {
        req_from_error(r, err);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "vm", json_object_new_string(v.name));
    json_object_object_add(o, "uuid", json_object_new_string(v.uuid));
    json_object *jt = json_object_new_array();
    for (guint i = 0; i + 1 < tags->len; i++)
        json_object_array_add(jt, json_object_new_string(g_ptr_array_index(tags, i)));
    json_object_object_add(o, "tags", jt);
    req_json(r, 200, o);
}

static void h_tags(struct req *r)
{
    const char *tag, *vm;
    if (!api_arg_text(r, "tag", TAG_MAX, &tag) || !api_arg_text(r, "vm", 256, &vm))
        return;
    g_auto(store_vm_ref_t) v = {0};
    if (vm && !api_resolve_vm(r, vm, &v))
        return;
    struct store *st = req_store(r);
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) tags = st->ops->vm_tags_query(st, vm ? v.uuid : NULL, tag, &err);
    if (!tags) {
        req_from_error(r, err);
        return;
    }
    g_autoptr(rows) vms = st->ops->vms_query(st, NULL, 0, false, &err);
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; vms && i < rows_len(vms); i++) {
        struct vm_row *x = rows_get(vms, i);
        g_hash_table_insert(names, x->uuid, x->name);
    }
    json_object *list = json_object_new_array();
    for (guint i = 0; i < rows_len(tags); i++) {
        const struct vm_tag_row *t = rows_get(tags, i);
        json_object *o = json_object_new_object();
        const char *name = g_hash_table_lookup(names, t->uuid);
        json_object_object_add(o, "vm", name ? json_object_new_string(name) : NULL);
        json_object_object_add(o, "uuid", json_object_new_string(t->uuid));
        json_object_object_add(o, "tag", json_object_new_string(t->tag));
        json_object_array_add(list, o);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "tags", list);
    req_json(r, 200, o);
}

/* ---- availability ---- */

/* REP (taken) as FORMAT: JSON, or CSV or HTML by the renderers given. */
static void reply_report(struct req *r, json_object *rep, const char *format,
                         GString *(*csv)(json_object *), GString *(*html)(json_object *))
{
    if (format && strcmp(format, "csv") == 0)
        req_text(r, 200, csv(rep), "text/csv; charset=utf-8");
    else if (format && strcmp(format, "html") == 0)
        req_text(r, 200, html(rep), "text/html; charset=utf-8");
    else
        req_json(r, 200, json_object_get(rep));
    json_object_put(rep);
}

static bool arg_when(struct req *r, const char *key, int64_t now, int64_t dflt, int64_t *ret)
{
    const char *v = req_arg(r, key);
    *ret = dflt;
    if (v && !api_parse_when(v, now, ret)) {
        req_problem(r, 400, "%s: expected RFC 3339, epoch seconds or a duration ago (30d)", key);
        return false;
    }
    return true;
}

static void h_report_availability(struct req *r)
{
    int64_t now = now_usec();
    struct engine_avail_query q = {.slo = NAN};
    const char *vm, *format, *slo;
    if (!arg_when(r, "from", now, now - (int64_t)30 * 86400 * G_USEC_PER_SEC, &q.from_us) ||
        !arg_when(r, "to", now, now, &q.to_us) || !api_arg_text(r, "vm", 256, &vm) ||
        !api_arg_text(r, "host", 256, &q.host) || !api_arg_text(r, "group", TAG_MAX, &q.group) ||
        !api_arg_text(r, "format", 8, &format) || !api_arg_text(r, "slo", 16, &slo))
        return;
    if (format && strcmp(format, "json") && strcmp(format, "csv") && strcmp(format, "html")) {
        req_problem(r, 400, "format: json, csv or html");
        return;
    }
    if (slo) {
        char *end;
        double v = g_ascii_strtod(slo, &end);
        if (*end || !(v > 0 && v < 100)) {
            req_problem(r, 400, "slo: a percentage above 0 and below 100 (99.9)");
            return;
        }
        q.slo = v / 100.0;
    }
    g_auto(store_vm_ref_t) v = {0};
    if (vm) {
        if (!api_resolve_vm(r, vm, &v))
            return;
        q.uuid = v.uuid;
    }
    g_autoptr(GError) err = NULL;
    json_object *rep = NULL;
    if (engine_report_availability(req_engine(r), &q, &rep, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    reply_report(r, rep, format, report_avail_csv, report_avail_html);
}

/* ---- capacity ---- */

#define DAYS(n) ((int64_t)(n)*86400 * G_GINT64_CONSTANT(1000000))

static bool arg_duration(struct req *r, const char *key, int64_t dflt, int64_t max, int64_t *ret)
{
    const char *v = req_arg(r, key);
    *ret = dflt;
    if (v && (!duration_parse(v, ret) || *ret > max)) {
        req_problem(r, 400, "%s: a duration (90m, 12h, 30d) of at most %" G_GINT64_FORMAT " days",
                    key, max / DAYS(1));
        return false;
    }
    return true;
}

static bool arg_size(struct req *r, const char *key, int64_t dflt, int64_t *ret)
{
    const char *v = req_arg(r, key);
    *ret = dflt;
    if (v && (!api_size_bytes(v, ret) || *ret <= 0)) {
        req_problem(r, 400, "%s: a size (512M, 4G, 1T)", key);
        return false;
    }
    return true;
}

static bool arg_count(struct req *r, const char *key, int64_t min, int64_t max, int64_t dflt,
                      int64_t *ret)
{
    const char *v = req_arg(r, key);
    *ret = dflt;
    if (!v)
        return true;
    char *end;
    gint64 n = g_ascii_strtoll(v, &end, 10);
    if (end == v || *end || n < min || n > max) {
        req_problem(r, 400, "%s: an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, key,
                    min, max);
        return false;
    }
    *ret = n;
    return true;
}

static void h_report_capacity(struct req *r)
{
    struct engine_capacity_query q = {0};
    const char *like, *format;
    if (!arg_duration(r, "history", DAYS(90), DAYS(400), &q.history_us) ||
        !arg_duration(r, "step", 0, DAYS(1), &q.step_us) ||
        !arg_duration(r, "horizon", DAYS(30), DAYS(400), &q.horizon_us) ||
        !api_arg_text(r, "host", 256, &q.host) || !api_arg_text(r, "pool", 256, &q.pool) ||
        !api_arg_text(r, "group", TAG_MAX, &q.group) || !api_arg_text(r, "like", 256, &like) ||
        !api_arg_text(r, "remove", 256, &q.remove_host) ||
        !arg_count(r, "vcpus", 1, 4096, 1, &q.vcpus) ||
        !arg_size(r, "memory", (int64_t)1 << 30, &q.memory_bytes) ||
        !arg_size(r, "disk", (int64_t)10 << 30, &q.disk_bytes) ||
        !arg_count(r, "add", 0, 100000, 0, &q.add) || !api_arg_text(r, "format", 8, &format))
        return;
    if (format && strcmp(format, "json") && strcmp(format, "csv") && strcmp(format, "html")) {
        req_problem(r, 400, "format: json, csv or html");
        return;
    }
    int64_t step = q.step_us                 ? q.step_us
                   : q.history_us >= DAYS(2) ? DAYS(1) / 24
                                             : 300 * G_USEC_PER_SEC;
    if (q.history_us / step > 20000 || q.horizon_us / step > 20000) {
        req_problem(r, 400, "step: at most 20000 steps of history and of horizon");
        return;
    }
    g_auto(store_vm_ref_t) v = {0};
    if (like) {
        if (!api_resolve_vm(r, like, &v))
            return;
        q.like = v.name;
        q.like_uuid = v.uuid;
    }
    g_autoptr(GError) err = NULL;
    json_object *rep = NULL;
    if (engine_report_capacity(req_engine(r), &q, &rep, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    reply_report(r, rep, format, report_capacity_csv, report_capacity_html);
}

static void h_reports(struct req *r)
{
    req_json(r, 200, engine_report_sched_json(req_engine(r)));
}

static const char *const tag_fields[] = {"tags", NULL};

const struct route api_report_routes[] = {
    {"GET", "/api/v1/reports", 1, false, h_reports},
    {"GET", "/api/v1/reports/availability", 1, false, h_report_availability},
    {"GET", "/api/v1/reports/capacity", 1, false, h_report_capacity},
    {"GET", "/api/v1/tags", 1, false, h_tags},
    {"PUT", "/api/v1/vms/{}/tags", 2, true, h_vm_tags_put, tag_fields},
    {NULL, NULL, 0, false, NULL},
};
