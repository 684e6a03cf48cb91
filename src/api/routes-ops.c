/*
 * The operations record over the API: events, incidents (with their
 * affected items, log, events, preceding changes and deliveries),
 * problems, maintenance windows, rules, routes, and the relations between
 * items.  Viewers read; operators acknowledge, resolve, comment, link and
 * keep problems and maintenance windows; admins edit rules and read
 * routes (their URLs may carry secrets).
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/util.h"
#include "engine/engine.h"
#include "ops/ops.h"

#include <math.h>
#include <string.h>

#define TEXT_MAX      4000
#define TITLE_MAX     200
#define ITEM_MAX      300
#define PRECEDING_DEF (6 * 3600 * G_GINT64_CONSTANT(1000000))
#define NEAR_US       (15 * 60 * G_GINT64_CONSTANT(1000000))

/* ---- arguments ---- */

static bool arg_id(struct req *r, const char *key, int64_t *ret)
{
    const char *s = req_arg(r, key);
    uint64_t n = 0;
    if (s && (!parse_u64(s, &n) || n < 1 || n > G_MAXINT64)) {
        req_problem(r, 400, "%s: expected a positive integer, got '%s'", key, s);
        return false;
    }
    *ret = (int64_t)n;
    return true;
}

static bool arg_severity(struct req *r, int *ret)
{
    const char *s = req_arg(r, "severity");
    enum severity sev = SEV_INFO;
    if (s && !severity_parse(s, &sev)) {
        req_problem(r, 400, "severity: expected info, warning, major or critical, got '%s'", s);
        return false;
    }
    *ret = sev;
    return true;
}

/* ?cursor= of a list read newest first by id: the last id served. */
bool api_arg_cursor(struct req *r, int64_t *ret)
{
    const char *cursor = req_arg(r, "cursor");
    uint64_t before = 0;
    if (cursor && (!parse_u64(cursor, &before) || before > G_MAXINT64)) {
        req_problem(r, 400, "cursor: not a cursor from this list's next_cursor");
        return false;
    }
    *ret = (int64_t)before;
    return true;
}

bool api_arg_text(struct req *r, const char *key, size_t max, const char **ret)
{
    const char *s = req_arg(r, key);
    if (s && (strlen(s) > max || !*s)) {
        req_problem(r, 400, "%s: 1 to %zu characters", key, max);
        return false;
    }
    *ret = s;
    return true;
}

bool api_path_id(struct req *r, const char *what, int64_t *ret)
{
    uint64_t n;
    if (!parse_u64(r->params[0], &n) || n < 1 || n > G_MAXINT64) {
        req_problem(r, 404, "no %s '%s' (ids are positive integers)", what, r->params[0]);
        return false;
    }
    *ret = (int64_t)n;
    return true;
}

/* An optional string member of the body of at most MAX characters;
 * false (reply set) when it is there but not such a string. */
bool api_body_text(struct req *r, const char *key, size_t max, bool required,
                      const char **ret)
{
    json_object *v = NULL;
    *ret = NULL;
    if (!json_object_object_get_ex(r->body_json, key, &v) || !v) {
        if (required)
            req_problem(r, 400, "%s: required", key);
        return !required;
    }
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (!s || (required && !*s) || strlen(s) > max || !g_utf8_validate(s, -1, NULL)) {
        req_problem(r, 400, "%s: expected text of %s%zu characters", key, required ? "1 to " : "at most ",
                    max);
        return false;
    }
    *ret = s;
    return true;
}

/* {"<list>": [...], "next_cursor": "ID"} for lists read newest first by
 * id: the cursor is the last id served (the next page is below it). */
void api_reply_by_id(struct req *r, struct rows *list, const GError *err, int limit,
                        size_t id_offset)
{
    if (!list) {
        req_problem(r, 500, "the store failed: %s", err ? err->message : "unknown");
        return;
    }
    g_autoptr(rows) owned = list;
    json_object *o = api_rows_json(list);
    if ((int)rows_len(list) == limit && limit > 0) {
        const void *last = rows_get(list, rows_len(list) - 1);
        int64_t id = *(const int64_t *)((const char *)last + id_offset);
        g_autofree char *c = g_strdup_printf("%" G_GINT64_FORMAT, id);
        json_object_object_add(o, "next_cursor", json_object_new_string(c));
    }
    req_json(r, 200, o);
}

void api_reply_engine_error(struct req *r, const GError *err)
{
    unsigned status = 500;
    if (err->domain == ENGINE_OPS_ERROR)
        status = err->code == ENGINE_OPS_NOT_FOUND   ? 404
                 : err->code == ENGINE_OPS_CONFLICT  ? 409
                 : err->code == ENGINE_OPS_INVALID   ? 400
                 : err->code == ENGINE_OPS_LOADING   ? 503
                 : err->code == ENGINE_OPS_FORBIDDEN ? 403
                                                     : 500;
    else if (err->domain == STORE_ERROR && err->code == STORE_ERROR_NOT_FOUND)
        status = 404;
    req_problem(r, status, "%s", err->message);
}

/* ---- events ---- */

static void h_events(struct req *r)
{
    struct store_event_query q = {0};
    int64_t now = now_usec();
    const char *from = req_arg(r, "from"), *to = req_arg(r, "to");
    if (from && !api_parse_when(from, now, &q.from_us)) {
        req_problem(r, 400, "from: expected RFC 3339, epoch seconds or a duration ago (1h)");
        return;
    }
    if (to && !api_parse_when(to, now, &q.to_us)) {
        req_problem(r, 400, "to: expected RFC 3339, epoch seconds or a duration ago (1h)");
        return;
    }
    if (!api_arg_cursor(r, &q.before_id) || !api_arg_limit(r, &q.limit) ||
        !arg_severity(r, &q.min_severity) || !arg_id(r, "incident", &q.incident_id) || !api_arg_text(r, "item", ITEM_MAX, &q.item) ||
        !api_arg_text(r, "kind", 64, &q.kind))
        return;
    g_autoptr(GError) err = NULL;
    api_reply_by_id(r, req_store(r)->ops->events_query(req_store(r), &q, &err), err, q.limit,
                offsetof(struct event_row, id));
}

/* ---- incidents ---- */

static void h_incidents(struct req *r)
{
    struct store_incident_query q = {0};
    const char *state = req_arg(r, "state");
    enum incident_state is;
    if (!state)
        state = "open";
    if (!g_str_equal(state, "all") && !incident_state_parse(state, &is)) {
        req_problem(r, 400, "state: expected open, acknowledged, resolved or all, got '%s'", state);
        return;
    }
    q.state = g_str_equal(state, "all") ? NULL : state;
    if (!api_arg_cursor(r, &q.before_id) || !api_arg_limit(r, &q.limit) ||
        !arg_severity(r, &q.min_severity) || !arg_id(r, "problem", &q.problem_id) || !api_arg_text(r, "item", ITEM_MAX, &q.item) ||
        !api_arg_text(r, "condition", 128, &q.condition))
        return;
    g_autoptr(GError) err = NULL;
    api_reply_by_id(r, req_store(r)->ops->incidents_query(req_store(r), &q, &err), err, q.limit,
                offsetof(struct incident_row, id));
}

/* The incident row ID as JSON, or NULL (reply set) when there is none. */
static json_object *incident_object(struct req *r, int64_t id, struct rows **ret_rows)
{
    struct store_incident_query q = {.id = id, .limit = 1};
    g_autoptr(GError) err = NULL;
    struct rows *list = req_store(r)->ops->incidents_query(req_store(r), &q, &err);
    if (!list) {
        req_problem(r, 500, "the store failed: %s", err->message);
        return NULL;
    }
    if (!rows_len(list)) {
        rows_free(list);
        req_problem(r, 404, "no incident %" G_GINT64_FORMAT, id);
        return NULL;
    }
    json_object *o = api_row_json(&incident_row_desc, rows_get(list, 0));
    if (ret_rows)
        *ret_rows = list;
    else
        rows_free(list);
    return o;
}

/* What changed on the incident's VMs before it opened, newest first, the
 * likely cause marked (ops_preceding). */
static json_object *preceding(struct req *r, const struct incident_row *inc,
                              const struct rows *affected, int64_t window)
{
    g_autoptr(GPtrArray) uuids = g_ptr_array_new();
    if (g_str_has_prefix(inc->item, "vm:"))
        g_ptr_array_add(uuids, inc->item + 3);
    for (guint i = 0; i < rows_len(affected); i++) {
        const struct incident_item_row *a = rows_get(affected, i);
        if (a->item && g_str_has_prefix(a->item, "vm:") && uuids->len < 500)
            g_ptr_array_add(uuids, a->item + 3);
    }
    json_object *arr = json_object_new_array();
    if (!uuids->len)
        return arr;
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) refs = req_store(r)->ops->change_refs(
        req_store(r), (const char *const *)uuids->pdata, uuids->len, inc->opened - window,
        inc->opened, &err);
    if (!refs)
        return arr;
    g_autoptr(GArray) ch = g_array_new(FALSE, TRUE, sizeof(struct ops_change));
    g_array_set_clear_func(ch, (GDestroyNotify)ops_change_clear);
    for (guint i = 0; i < rows_len(refs); i++) {
        const struct change_ref_row *c = rows_get(refs, i);
        struct ops_change x = {
            .id = c->id,
            .t_us = c->t,
            .item = g_strconcat("vm:", c->uuid ? c->uuid : "", NULL),
            .item_name = g_strdup(c->name),
            .source = g_strdup(c->source),
            .cause = g_strdup(c->cause),
            .actor = g_strdup(c->actor),
            .summary = g_strdup(c->summary),
            .pending = c->pending,
            .diff = g_strdup(c->diff),
        };
        g_array_append_val(ch, x);
    }
    ops_preceding(ch, inc->item, inc->opened, window, NEAR_US);
    for (guint i = 0; i < ch->len; i++) {
        const struct ops_change *c = &g_array_index(ch, struct ops_change, i);
        json_object *o = json_object_new_object();
        g_autofree char *t = time_format_rfc3339(c->t_us);
        json_object_object_add(o, "id", json_object_new_int64(c->id));
        json_object_object_add(o, "t", json_object_new_string(t));
        json_object_object_add(o, "item", json_object_new_string(c->item));
        json_object_object_add(o, "name", c->item_name ? json_object_new_string(c->item_name) : NULL);
        json_object_object_add(o, "source", json_object_new_string(c->source));
        json_object_object_add(o, "cause", c->cause ? json_object_new_string(c->cause) : NULL);
        json_object_object_add(o, "actor", c->actor ? json_object_new_string(c->actor) : NULL);
        json_object_object_add(o, "summary", c->summary ? json_object_new_string(c->summary) : NULL);
        json_object_object_add(o, "pending", json_object_new_boolean(c->pending));
        json_object_object_add(o, "diff", c->diff ? json_object_new_string(c->diff) : NULL);
        json_object_object_add(o, "likely", json_object_new_boolean(c->likely));
        json_object_object_add(o, "why", c->why ? json_object_new_string(c->why) : NULL);
        json_object_array_add(arr, o);
    }
    return arr;
}

static void h_incident(struct req *r)
{
    int64_t id;
    if (!api_path_id(r, "incident", &id))
        return;
    int64_t window = PRECEDING_DEF;
    const char *w = req_arg(r, "window");
    if (w && (!duration_parse(w, &window) || window > 30 * 86400 * G_GINT64_CONSTANT(1000000))) {
        req_problem(r, 400, "window: expected a duration up to 30d, got '%s'", w);
        return;
    }
    g_autoptr(rows) irows = NULL;
    json_object *inc = incident_object(r, id, &irows);
    if (!inc)
        return;
    struct store *st = req_store(r);
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) affected = st->ops->incident_items(st, id, &err);
    g_autoptr(rows) log = affected ? st->ops->incident_log(st, id, &err) : NULL;
    struct store_event_query eq = {.incident_id = id, .limit = 100};
    g_autoptr(rows) events = log ? st->ops->events_query(st, &eq, &err) : NULL;
    g_autoptr(rows) deliveries = events ? st->ops->outbox_query(st, id, 100, &err) : NULL;
    if (!deliveries) {
        json_object_put(inc);
        req_problem(r, 500, "the store failed: %s", err->message);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "incident", inc);
    json_object_object_add(o, "affected", api_rows_array(affected));
    json_object_object_add(o, "log", api_rows_array(log));
    json_object_object_add(o, "events", api_rows_array(events));
    json_object_object_add(o, "preceding_changes",
                           preceding(r, rows_get(irows, 0), affected, window));
    json_object_object_add(o, "deliveries", api_rows_array(deliveries));
    req_json(r, 200, o);
}

static void reply_incident(struct req *r, int64_t id, unsigned status)
{
    json_object *inc = incident_object(r, id, NULL);
    if (!inc)
        return;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "incident", inc);
    req_json(r, status, o);
}

static void person_does(struct req *r, bool resolve)
{
    int64_t id;
    const char *comment;
    if (!api_path_id(r, "incident", &id) || !api_body_text(r, "comment", TEXT_MAX, false, &comment))
        return;
    g_autoptr(GError) err = NULL;
    int rc = resolve ? engine_incident_resolve(req_engine(r), id, r->token.name, comment, &err)
                     : engine_incident_acknowledge(req_engine(r), id, r->token.name, comment, &err);
    if (rc < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    reply_incident(r, id, 200);
}

static void h_incident_ack(struct req *r)
{
    person_does(r, false);
}

static void h_incident_resolve(struct req *r)
{
    person_does(r, true);
}

static void h_incident_comment(struct req *r)
{
    int64_t id;
    const char *text;
    if (!api_path_id(r, "incident", &id) || !api_body_text(r, "text", TEXT_MAX, true, &text))
        return;
    g_autoptr(GError) err = NULL;
    int64_t now = now_usec();
    if (req_store(r)->ops->incident_comment(req_store(r), id, r->token.name, text, now, &err) < 0) {
        req_from_error(r, err);
        return;
    }
    json_object *c = json_object_new_object();
    g_autofree char *t = time_format_rfc3339(now);
    json_object_object_add(c, "t", json_object_new_string(t));
    json_object_object_add(c, "by", json_object_new_string(r->token.name));
    json_object_object_add(c, "comment", json_object_new_string(text));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "comment", c);
    req_json(r, 201, o);
}

static void h_incident_problem(struct req *r)
{
    int64_t id;
    if (!api_path_id(r, "incident", &id))
        return;
    json_object *v = NULL;
    if (!json_object_object_get_ex(r->body_json, "problem", &v)) {
        req_problem(r, 400, "problem: required, a problem id or null");
        return;
    }
    int64_t pid = 0;
    if (v) {
        pid = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (pid < 1) {
            req_problem(r, 400, "problem: expected a positive integer or null");
            return;
        }
    }
    g_autoptr(GError) err = NULL;
    if (engine_incident_link(req_engine(r), id, pid, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    reply_incident(r, id, 200);
}

/* ---- problems ---- */

static void h_problems(struct req *r)
{
    g_autoptr(GError) err = NULL;
    req_rows(r, req_store(r)->ops->problems_query(req_store(r), 0, &err), err);
}

static struct rows *problem_rows(struct req *r, int64_t id)
{
    g_autoptr(GError) err = NULL;
    struct rows *p = req_store(r)->ops->problems_query(req_store(r), id, &err);
    if (!p) {
        req_problem(r, 500, "the store failed: %s", err->message);
        return NULL;
    }
    if (!rows_len(p)) {
        rows_free(p);
        req_problem(r, 404, "no problem %" G_GINT64_FORMAT, id);
        return NULL;
    }
    return p;
}

static void h_problem(struct req *r)
{
    int64_t id;
    if (!api_path_id(r, "problem", &id))
        return;
    g_autoptr(rows) p = problem_rows(r, id);
    if (!p)
        return;
    struct store_incident_query q = {.problem_id = id, .limit = 1000};
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) incs = req_store(r)->ops->incidents_query(req_store(r), &q, &err);
    if (!incs) {
        req_problem(r, 500, "the store failed: %s", err->message);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "problem", api_row_json(&problem_row_desc, rows_get(p, 0)));
    json_object_object_add(o, "incidents", api_rows_array(incs));
    req_json(r, 200, o);
}

static const char *const problem_states[] = {"open", "known-error", "closed", NULL};

/* Fills P from the body (members absent keep P's values). */
static bool problem_from_body(struct req *r, struct problem *p, bool create)
{
    const char *title, *rc, *ke, *wa, *state;
    if (!api_body_text(r, "title", TITLE_MAX, create, &title) ||
        !api_body_text(r, "root_cause", TEXT_MAX, false, &rc) ||
        !api_body_text(r, "known_error", TEXT_MAX, false, &ke) ||
        !api_body_text(r, "workaround", TEXT_MAX, false, &wa) ||
        !api_body_text(r, "state", 32, false, &state))
        return false;
    if (title && !*title) {
        req_problem(r, 400, "title: must not be empty");
        return false;
    }
    if (state && !g_strv_contains(problem_states, state)) {
        req_problem(r, 400, "state: expected open, known-error or closed, got '%s'", state);
        return false;
    }
    const char *const *vals[] = {&title, &rc, &ke, &wa, &state};
    char **dst[] = {&p->title, &p->root_cause, &p->known_error, &p->workaround, &p->state};
    for (guint i = 0; i < G_N_ELEMENTS(dst); i++) {
        if (*vals[i]) {
            g_free(*dst[i]);
            *dst[i] = g_strdup(*vals[i]);
        }
    }
    return true;
}

static void problem_save(struct req *r, struct problem *p, unsigned status)
{
    int64_t id = 0;
    g_autoptr(GError) err = NULL;
    p->updated_us = now_usec();
    if (engine_problem_put(req_engine(r), p, &id, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    g_autoptr(rows) rows_ = problem_rows(r, id);
    if (!rows_)
        return;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "problem", api_row_json(&problem_row_desc, rows_get(rows_, 0)));
    req_json(r, status, o);
}

static void h_problem_create(struct req *r)
{
    struct problem *p = g_new0(struct problem, 1);
    p->state = g_strdup("open");
    p->created_us = now_usec();
    p->created_by = g_strdup(r->token.name);
    if (problem_from_body(r, p, true))
        problem_save(r, p, 201);
    problem_free(p);
}

static void h_problem_update(struct req *r)
{
    int64_t id;
    if (!api_path_id(r, "problem", &id))
        return;
    g_autoptr(rows) cur = problem_rows(r, id);
    if (!cur)
        return;
    const struct problem_row *row = rows_get(cur, 0);
    struct problem *p = g_new0(struct problem, 1);
    p->id = id;
    p->title = g_strdup(row->title);
    p->state = g_strdup(row->state);
    p->root_cause = g_strdup(row->root_cause);
    p->known_error = g_strdup(row->known_error);
    p->workaround = g_strdup(row->workaround);
    p->suggested = row->suggested;
    p->condition = g_strdup(row->condition);
    p->item = g_strdup(row->item);
    p->created_us = row->created;
    p->created_by = g_strdup(row->created_by);
    if (problem_from_body(r, p, false))
        problem_save(r, p, 200);
    problem_free(p);
}

/* ---- maintenance ---- */

static void h_maintenance(struct req *r)
{
    g_autoptr(GError) err = NULL;
    req_rows(r, req_store(r)->ops->maintenance_query(req_store(r), now_usec(), &err), err);
}

#define MAINT_MAX_US (366 * 86400 * G_GINT64_CONSTANT(1000000))

static void h_maintenance_add(struct req *r)
{
    const char *scope, *from, *to, *dur, *why;
    if (!api_body_text(r, "scope", 512, true, &scope) || !api_body_text(r, "from", 64, false, &from) ||
        !api_body_text(r, "to", 64, false, &to) || !api_body_text(r, "for", 32, false, &dur) ||
        !api_body_text(r, "why", TEXT_MAX, true, &why))
        return;
    g_autoptr(GError) err = NULL;
    if (!ops_scope_valid(scope, &err)) {
        req_problem(r, 400, "scope: %s", err->message);
        return;
    }
    int64_t now = now_usec();
    struct maintenance m = {.scope = (char *)scope, .from_us = now, .who = r->token.name,
                            .why = (char *)why, .created_us = now};
    if (from && !time_parse(from, &m.from_us)) {
        req_problem(r, 400, "from: expected RFC 3339 or epoch seconds, got '%s'", from);
        return;
    }
    if (!!to == !!dur) {
        req_problem(r, 400, "to or for: give exactly one (an end time, or a duration such as 2h)");
        return;
    }
    int64_t d = 0;
    if (to && !time_parse(to, &m.to_us)) {
        req_problem(r, 400, "to: expected RFC 3339 or epoch seconds, got '%s'", to);
        return;
    }
    if (dur) {
        if (!duration_parse(dur, &d) || d <= 0 || d > MAINT_MAX_US) {
            req_problem(r, 400, "for: expected a duration from 1s to 366d, got '%s'", dur);
            return;
        }
        m.to_us = m.from_us + d;
    }
    if (m.to_us <= m.from_us || m.to_us - m.from_us > MAINT_MAX_US || m.to_us <= now) {
        req_problem(r, 400, "to: must be after from and in the future, at most 366 days on");
        return;
    }
    int64_t id = 0;
    if (engine_maintenance_add(req_engine(r), &m, &id, &err) < 0) {
        req_problem(r, 500, "the store failed: %s", err->message);
        return;
    }
    json_object *o = json_object_new_object();
    json_object *w = json_object_new_object();
    g_autofree char *f = time_format_rfc3339(m.from_us), *t = time_format_rfc3339(m.to_us);
    json_object_object_add(w, "id", json_object_new_int64(id));
    json_object_object_add(w, "scope", json_object_new_string(scope));
    json_object_object_add(w, "from", json_object_new_string(f));
    json_object_object_add(w, "to", json_object_new_string(t));
    json_object_object_add(w, "who", json_object_new_string(r->token.name));
    json_object_object_add(w, "why", json_object_new_string(why));
    g_autofree char *c = time_format_rfc3339(m.created_us);
    json_object_object_add(w, "created", json_object_new_string(c));
    json_object_object_add(w, "active", json_object_new_boolean(m.from_us <= now));
    json_object_object_add(o, "maintenance", w);
    req_json(r, 201, o);
}

static void h_maintenance_delete(struct req *r)
{
    int64_t id;
    if (!api_path_id(r, "maintenance window", &id))
        return;
    g_autoptr(GError) err = NULL;
    if (engine_maintenance_delete(req_engine(r), id, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    req_json(r, 204, NULL);
}

/* ---- rules and routes ---- */

static void h_rules(struct req *r)
{
    req_rows(r, engine_rules(req_engine(r)), NULL);
}

static bool body_number(struct req *r, const char *key, bool required, double *ret)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(r->body_json, key, &v) || !v) {
        if (required)
            req_problem(r, 400, "%s: required", key);
        return !required;
    }
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
        req_problem(r, 400, "%s: expected a number", key);
        return false;
    }
    *ret = json_object_get_double(v);
    if (!isfinite(*ret)) {
        req_problem(r, 400, "%s: expected a finite number", key);
        return false;
    }
    return true;
}

static void h_rule_put(struct req *r)
{
    const char *kind, *metric, *view, *op, *dur, *sev, *scope;
    if (!api_body_text(r, "kind", 32, false, &kind) || !api_body_text(r, "metric", 64, false, &metric) ||
        !api_body_text(r, "view", 16, false, &view) || !api_body_text(r, "op", 4, false, &op) ||
        !api_body_text(r, "for", 32, false, &dur) || !api_body_text(r, "severity", 16, false, &sev) ||
        !api_body_text(r, "scope", 512, false, &scope))
        return;
    g_autoptr(alert_rule) rule = alert_rule_new();
    rule->name = g_strdup(r->params[0]);
    rule->metric = g_strdup(metric);
    rule->view = g_strdup(view);
    rule->op = g_strdup(op);
    rule->scope = g_strdup(scope ? scope : "all");
    if (kind && !rule_kind_parse(kind, &rule->kind)) {
        req_problem(r, 400, "kind: expected threshold, pool-full or memory-trend, got '%s'", kind);
        return;
    }
    if (!body_number(r, "value", true, &rule->value))
        return;
    if (dur && !duration_parse(dur, &rule->for_us)) {
        req_problem(r, 400, "for: expected a duration such as 30s or 5m, got '%s'", dur);
        return;
    }
    if (sev && !severity_parse(sev, &rule->severity)) {
        req_problem(r, 400, "severity: expected info, warning, major or critical, got '%s'", sev);
        return;
    }
    json_object *en = NULL;
    if (json_object_object_get_ex(r->body_json, "enabled", &en) && en) {
        if (!json_object_is_type(en, json_type_boolean)) {
            req_problem(r, 400, "enabled: expected true or false");
            return;
        }
        rule->enabled = json_object_get_boolean(en);
    }
    bool created = false;
    g_autoptr(GError) err = NULL;
    if (engine_rule_put(req_engine(r), rule, &created, &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    g_autoptr(rows) all = engine_rules(req_engine(r));
    for (guint i = 0; i < rows_len(all); i++) {
        const struct rule_row *row = rows_get(all, i);
        if (g_strcmp0(row->name, rule->name) == 0) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "rule", api_row_json(&rule_row_desc, row));
            req_json(r, created ? 201 : 200, o);
            return;
        }
    }
    req_problem(r, 500, "rule %s was stored but is not listed", rule->name);
}

static void h_rule_delete(struct req *r)
{
    g_autoptr(GError) err = NULL;
    if (engine_rule_delete(req_engine(r), r->params[0], &err) < 0) {
        api_reply_engine_error(r, err);
        return;
    }
    req_json(r, 204, NULL);
}

static void h_routes(struct req *r)
{
    g_autofree char *text = engine_routes_json(req_engine(r));
    json_object *a = json_tokener_parse(text);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "routes", a ? a : json_object_new_array());
    req_json(r, 200, o);
}

/* ---- relations ---- */

/* The inventory as ops_relations() takes it; strings borrowed from the
 * rows, which outlive the arrays. */
struct inventory {
    struct rows *vms, *pools, *agents;
    GArray *rel_vms;   /* struct ops_rel_vm */
    GArray *rel_pools; /* struct ops_rel_pool */
    GPtrArray *json;   /* json_object * parsed from the rows, kept for their strings */
};

static void inventory_clear(struct inventory *inv)
{
    for (guint i = 0; inv->rel_vms && i < inv->rel_vms->len; i++) {
        struct ops_rel_vm *v = &g_array_index(inv->rel_vms, struct ops_rel_vm, i);
        g_ptr_array_unref(v->disk_sources);
        g_ptr_array_unref(v->networks);
    }
    if (inv->rel_vms)
        g_array_unref(inv->rel_vms);
    if (inv->rel_pools)
        g_array_unref(inv->rel_pools);
    if (inv->json)
        g_ptr_array_unref(inv->json);
    rows_free(inv->vms);
    rows_free(inv->pools);
    rows_free(inv->agents);
}

static void json_put(gpointer p)
{
    json_object_put(p);
}

static bool inventory_read(struct req *r, struct inventory *inv)
{
    struct store *st = req_store(r);
    g_autoptr(GError) err = NULL;
    inv->vms = st->ops->vms_query(st, NULL, 0, false, &err);
    inv->pools = inv->vms ? st->ops->pools_query(st, NULL, &err) : NULL;
    inv->agents = inv->pools ? st->ops->agents_query(st, &err) : NULL;
    if (!inv->agents) {
        req_problem(r, 500, "the store failed: %s", err->message);
        return false;
    }
    g_autoptr(GHashTable) agents = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < rows_len(inv->agents); i++) {
        const struct agent_row *a = rows_get(inv->agents, i);
        if (a->machine_uuid)
            g_hash_table_add(agents, a->machine_uuid);
    }
    inv->json = g_ptr_array_new_with_free_func(json_put);
    inv->rel_vms = g_array_new(FALSE, TRUE, sizeof(struct ops_rel_vm));
    for (guint i = 0; i < rows_len(inv->vms); i++) {
        const struct vm_row *v = rows_get(inv->vms, i);
        struct ops_rel_vm rv = {.uuid = v->uuid, .name = v->name, .host = v->host,
                                .disk_sources = g_ptr_array_new(), .networks = g_ptr_array_new(),
                                .has_agent = g_hash_table_contains(agents, v->uuid)};
        json_object *d = json_tokener_parse(v->disks ? v->disks : "[]");
        json_object *n = json_tokener_parse(v->nics ? v->nics : "[]");
        for (size_t k = 0; d && json_object_is_type(d, json_type_array) &&
                           k < json_object_array_length(d);
             k++) {
            json_object *src = NULL;
            if (json_object_object_get_ex(json_object_array_get_idx(d, k), "source", &src) && src)
                g_ptr_array_add(rv.disk_sources, (char *)json_object_get_string(src));
        }
        for (size_t k = 0; n && json_object_is_type(n, json_type_array) &&
                           k < json_object_array_length(n);
             k++) {
            json_object *nic = json_object_array_get_idx(n, k), *type = NULL, *src = NULL;
            if (json_object_object_get_ex(nic, "type", &type) && type &&
                g_str_equal(json_object_get_string(type), "network") &&
                json_object_object_get_ex(nic, "source", &src) && src)
                g_ptr_array_add(rv.networks, (char *)json_object_get_string(src));
        }
        if (d)
            g_ptr_array_add(inv->json, d);
        if (n)
            g_ptr_array_add(inv->json, n);
        g_array_append_val(inv->rel_vms, rv);
    }
    inv->rel_pools = g_array_new(FALSE, TRUE, sizeof(struct ops_rel_pool));
    for (guint i = 0; i < rows_len(inv->pools); i++) {
        const struct pool_row *p = rows_get(inv->pools, i);
        struct ops_rel_pool rp = {p->host, p->name, p->target_path};
        g_array_append_val(inv->rel_pools, rp);
    }
    return true;
}

static json_object *relations_array(GArray *rels, const char *member)
{
    json_object *a = json_object_new_array();
    for (guint i = 0; i < rels->len; i++) {
        const struct ops_relation *x = &g_array_index(rels, struct ops_relation, i);
        json_object *o = json_object_new_object();
        json_object_object_add(o, member, json_object_new_string(x->type));
        json_object_object_add(o, "item", json_object_new_string(x->item));
        json_object_object_add(o, "name", x->name ? json_object_new_string(x->name) : NULL);
        json_object_array_add(a, o);
    }
    return a;
}

/* Whether ITEM names a host or network of the inventory that no VM or
 * pool relates to (it exists, with nothing attached). */
static bool item_exists(struct req *r, const char *item)
{
    struct store *st = req_store(r);
    if (g_str_has_prefix(item, "host:")) {
        int64_t id;
        g_autofree char *name = NULL;
        return st->ops->host_lookup(st, item + 5, &id, &name, NULL) == 0 &&
               g_strcmp0(name, item + 5) == 0;
    }
    if (!g_str_has_prefix(item, "network:"))
        return false;
    g_autoptr(rows) nets = st->ops->networks_query(st, NULL, NULL);
    for (guint i = 0; nets && i < rows_len(nets); i++) {
        const struct network_row *n = rows_get(nets, i);
        g_autofree char *id = g_strdup_printf("network:%s/%s", n->host, n->name);
        if (g_str_equal(id, item))
            return true;
    }
    return false;
}

static void item_query(struct req *r, bool impact)
{
    /* UUIDs are compared in lower case, as everywhere in the API. */
    if (g_str_has_prefix(r->params[0], "vm:") || g_str_has_prefix(r->params[0], "agent:")) {
        char *lower = g_ascii_strdown(r->params[0], -1);
        g_free(r->params[0]);
        r->params[0] = lower;
    }
    const char *item = r->params[0];
    if (strlen(item) > ITEM_MAX) {
        req_problem(r, 404, "no item '%.40s...'", item);
        return;
    }
    struct inventory inv = {0};
    if (!inventory_read(r, &inv)) {
        inventory_clear(&inv);
        return;
    }
    g_autoptr(GArray) rels = g_array_new(FALSE, TRUE, sizeof(struct ops_relation));
    g_array_set_clear_func(rels, (GDestroyNotify)ops_relation_clear);
    const struct ops_rel_vm *vms = (const struct ops_rel_vm *)inv.rel_vms->data;
    const struct ops_rel_pool *pools = (const struct ops_rel_pool *)inv.rel_pools->data;
    bool known = ops_relations(item, vms, inv.rel_vms->len, pools, inv.rel_pools->len, rels);
    if (!known && !item_exists(r, item)) {
        inventory_clear(&inv);
        req_problem(r, 404,
                    "no item '%s' (items are vm:UUID, host:NAME, pool:HOST/NAME, "
                    "network:HOST/NAME, agent:UUID)",
                    item);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "item", json_object_new_string(item));
    if (impact) {
        g_array_set_size(rels, 0);
        ops_impact(item, vms, inv.rel_vms->len, pools, inv.rel_pools->len, rels);
        json_object_object_add(o, "affected", relations_array(rels, "why"));
    } else {
        json_object_object_add(o, "relations", relations_array(rels, "type"));
    }
    inventory_clear(&inv);
    req_json(r, 200, o);
}

static void h_item_relations(struct req *r)
{
    item_query(r, false);
}

static void h_item_impact(struct req *r)
{
    item_query(r, true);
}

/* Pools and networks are "pool:HOST/NAME": their id spans two segments
 * (an escaped %2F is refused, as everywhere). */
static void item_query2(struct req *r, bool impact)
{
    char *joined = g_strdup_printf("%s/%s", r->params[0], r->params[1]);
    g_free(r->params[0]);
    r->params[0] = joined;
    item_query(r, impact);
}

static void h_item_relations2(struct req *r)
{
    item_query2(r, false);
}

static void h_item_impact2(struct req *r)
{
    item_query2(r, true);
}

static const char *const comment_fields[] = {"comment", NULL};
static const char *const text_fields[] = {"text", NULL};
static const char *const link_fields[] = {"problem", NULL};
static const char *const problem_fields[] = {"title",      "root_cause", "known_error",
                                             "workaround", "state",      NULL};
static const char *const maintenance_fields[] = {"scope", "from", "to", "for", "why", NULL};
static const char *const rule_fields[] = {"kind", "metric", "view",  "op",      "value",
                                          "for",  "severity", "scope", "enabled", NULL};

const struct route api_ops_routes[] = {
    {"GET", "/api/v1/events", 1, false, h_events},
    {"GET", "/api/v1/incidents", 1, false, h_incidents},
    {"GET", "/api/v1/incidents/{}", 1, false, h_incident},
    {"POST", "/api/v1/incidents/{}/acknowledge", 2, true, h_incident_ack, comment_fields},
    {"POST", "/api/v1/incidents/{}/resolve", 2, true, h_incident_resolve, comment_fields},
    {"POST", "/api/v1/incidents/{}/comments", 2, true, h_incident_comment, text_fields},
    {"POST", "/api/v1/incidents/{}/problem", 2, true, h_incident_problem, link_fields},
    {"GET", "/api/v1/problems", 1, false, h_problems},
    {"POST", "/api/v1/problems", 2, true, h_problem_create, problem_fields},
    {"GET", "/api/v1/problems/{}", 1, false, h_problem},
    {"PUT", "/api/v1/problems/{}", 2, true, h_problem_update, problem_fields},
    {"GET", "/api/v1/maintenance", 1, false, h_maintenance},
    {"POST", "/api/v1/maintenance", 2, true, h_maintenance_add, maintenance_fields},
    {"DELETE", "/api/v1/maintenance/{}", 2, false, h_maintenance_delete},
    {"GET", "/api/v1/rules", 1, false, h_rules},
    {"PUT", "/api/v1/rules/{}", 3, true, h_rule_put, rule_fields},
    {"DELETE", "/api/v1/rules/{}", 3, false, h_rule_delete},
    {"GET", "/api/v1/routes", 3, false, h_routes},
    {"GET", "/api/v1/items/{}/relations", 1, false, h_item_relations},
    {"GET", "/api/v1/items/{}/impact", 1, false, h_item_impact},
    {"GET", "/api/v1/items/{}/{}/relations", 1, false, h_item_relations2},
    {"GET", "/api/v1/items/{}/{}/impact", 1, false, h_item_impact2},
    {NULL, NULL, 0, false, NULL},
};
