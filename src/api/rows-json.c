/*
 * The API edge: typed rows, views, series and action results to the JSON
 * of docs/api.md, and action request bodies to typed requests.  The only
 * place JSON and the model meet.
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/json.h"
#include "basic/util.h"
#include "store/series.h"

#include <math.h>
#include <string.h>

json_object *api_row_json(const struct row_desc *d, const void *row)
{
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < d->n_fields; i++) {
        const struct row_field *f = &d->fields[i];
        if (f->flags & ROW_F_INTERNAL)
            continue;
        const char *p = (const char *)row + f->offset;
        json_object *v = NULL;
        switch (f->type) {
        case ROW_STR: {
            const char *s = *(char *const *)p;
            v = s ? json_object_new_string(s) : NULL;
            break;
        }
        case ROW_JSON: {
            const char *s = *(char *const *)p;
            /* Our own text from the store; one that does not parse is
             * served as null rather than failing the request. */
            static const struct json_limits lim = {1024 * 1024, 16};
            if (s && !json_parse_strict(s, strlen(s), &lim, &v, NULL))
                v = NULL;
            break;
        }
        case ROW_INT: {
            int64_t n = *(const int64_t *)p;
            v = n == ROW_INT_ABSENT ? NULL : json_object_new_int64(n);
            break;
        }
        case ROW_BOOL:
            v = json_object_new_boolean(*(const bool *)p);
            break;
        case ROW_TIME: {
            g_autofree char *t = time_format_rfc3339(*(const int64_t *)p);
            v = t ? json_object_new_string(t) : NULL;
            break;
        }
        case ROW_REAL: {
            double x = *(const double *)p;
            v = isfinite(x) ? json_object_new_double(x) : NULL;
            break;
        }
        }
        if (!v && (f->flags & ROW_F_OMIT_NULL))
            continue;
        json_object_object_add(o, f->name, v);
    }
    return o;
}

/* ---- rows written as JSON text directly ---- */

void api_json_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            g_string_append_c(out, '\\');
            g_string_append_c(out, (char)c);
        } else if (c == '\n') {
            g_string_append(out, "\\n");
        } else if (c == '\t') {
            g_string_append(out, "\\t");
        } else if (c == '\r') {
            g_string_append(out, "\\r");
        } else if (c < 0x20 || c == 0x7f) {
            g_string_append_printf(out, "\\u%04x", c);
        } else {
            g_string_append_c(out, (char)c);
        }
    }
    g_string_append_c(out, '"');
}

/* One field's value, or false when it is null (nothing written). */
static bool field_value(GString *out, const struct row_field *f, const void *row)
{
    const char *p = (const char *)row + f->offset;
    switch (f->type) {
    case ROW_STR: {
        const char *s = *(char *const *)p;
        if (!s)
            return false;
        api_json_string(out, s);
        return true;
    }
    case ROW_JSON: {
        /* Our own JSON text from the store, as it was written. */
        const char *s = *(char *const *)p;
        if (!s || !*s)
            return false;
        g_string_append(out, s);
        return true;
    }
    case ROW_INT: {
        int64_t n = *(const int64_t *)p;
        if (n == ROW_INT_ABSENT)
            return false;
        g_string_append_printf(out, "%" G_GINT64_FORMAT, n);
        return true;
    }
    case ROW_BOOL:
        g_string_append(out, *(const bool *)p ? "true" : "false");
        return true;
    case ROW_TIME: {
        g_autofree char *t = time_format_rfc3339(*(const int64_t *)p);
        if (!t)
            return false;
        g_string_append_c(out, '"');
        g_string_append(out, t);
        g_string_append_c(out, '"');
        return true;
    }
    case ROW_REAL: {
        double x = *(const double *)p;
        if (!isfinite(x))
            return false;
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        g_string_append(out, g_ascii_dtostr(buf, sizeof(buf), x));
        return true;
    }
    }
    return false;
}

static void write_field(GString *out, const struct row_field *f, const void *row, bool *first)
{
    gsize mark = out->len;
    if (!*first)
        g_string_append_c(out, ',');
    api_json_string(out, f->name);
    g_string_append_c(out, ':');
    if (field_value(out, f, row)) {
        *first = false;
    } else if (f->flags & ROW_F_OMIT_NULL) {
        g_string_truncate(out, mark);
    } else {
        g_string_append(out, "null");
        *first = false;
    }
}

void api_row_write(GString *out, const struct row_desc *d, const void *row,
                   const char *const *fields)
{
    bool first = true;
    g_string_append_c(out, '{');
    if (fields) {
        for (const char *const *n = fields; *n; n++)
            write_field(out, row_field_find(d, *n), row, &first);
    } else {
        for (size_t i = 0; i < d->n_fields; i++)
            if (!(d->fields[i].flags & ROW_F_INTERNAL))
                write_field(out, &d->fields[i], row, &first);
    }
    g_string_append_c(out, '}');
}

/* ---- the operations record's structs as their rows ----
 *
 * The live stream serves events and incidents from the engine's memory,
 * not from the store; these give the row GET /events and GET /incidents
 * read back for the same struct, so both serve one object.  They mirror
 * what the store writes (src/store/sqlite-ops.c: write_events,
 * write_incidents): 0 for an id or a time is NULL there, absent here. */

static int64_t id_or_absent(int64_t id)
{
    return id ? id : ROW_INT_ABSENT;
}

void api_event_write(GString *out, const struct event *ev)
{
    struct event_row row = {
        .id = ev->id,
        .t = ev->t_us,
        .item = (char *)(ev->item ? ev->item : "kanrid"),
        .item_name = ev->item_name,
        .host = ev->host,
        .kind = (char *)(ev->kind ? ev->kind : "unknown"),
        .condition = ev->condition,
        .problem = ev->problem,
        .severity = (char *)severity_name(ev->severity),
        .message = (char *)(ev->message ? ev->message : ""),
        .incident_id = id_or_absent(ev->incident_id),
        .maintenance_id = id_or_absent(ev->maintenance_id),
    };
    api_row_write(out, &event_row_desc, &row, NULL);
}

void api_incident_write(GString *out, const struct incident *inc)
{
    struct incident_row row = {
        .id = inc->id,
        .condition = inc->condition,
        .item = inc->item,
        .item_name = inc->item_name,
        .host = inc->host,
        .severity = (char *)severity_name(inc->severity),
        .state = (char *)incident_state_name(inc->state),
        .title = inc->title,
        .opened = inc->opened_us,
        .updated = inc->updated_us ? inc->updated_us : inc->opened_us,
        .acknowledged = inc->acknowledged_us,
        .acknowledged_by = inc->acknowledged_by,
        .resolved = inc->resolved_us,
        .resolved_by = inc->resolved_by,
        .clear_since = inc->clear_since_us,
        .last_event = inc->last_event_us,
        .flaps = inc->flaps,
        .events = inc->n_events,
        .seq = inc->seq,
        .problem_id = id_or_absent(inc->problem_id),
    };
    api_row_write(out, &incident_row_desc, &row, NULL);
}

json_object *api_rows_array(const struct rows *r)
{
    json_object *arr = json_object_new_array_ext((int)rows_len(r));
    for (guint i = 0; i < rows_len(r); i++)
        json_object_array_add(arr, api_row_json(r->desc, rows_get(r, i)));
    return arr;
}

json_object *api_rows_json(const struct rows *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, r->desc->name, api_rows_array(r));
    return o;
}

static json_object *num_or_null(double v)
{
    return isnan(v) ? NULL : json_object_new_double(v);
}

/* Seconds with one decimal, written as such ("6.1", not 6.0999...). */
static json_object *age_json(int64_t us)
{
    if (us < 0)
        return NULL;
    double s = round((double)us / 1e5) / 10;
    g_autofree char *text = g_strdup_printf("%.1f", s);
    return json_object_new_double_s(s, text);
}

json_object *api_view_json(const struct vm_view *v, int64_t now_us)
{
    json_object *o = json_object_new_object();
    g_autofree char *ts = time_format_rfc3339(v->time_us);
    int64_t elapsed = now_us > v->time_us ? now_us - v->time_us : 0;
    json_object_object_add(o, "time", json_object_new_string(ts ? ts : ""));
    json_object_object_add(o, "age_s", age_json(elapsed));
    json_object *arr = json_object_new_array();
    for (unsigned i = 0; i < v->n_values; i++) {
        const struct view_value *x = &v->values[i];
        json_object *e = json_object_new_object();
        json_object_object_add(e, "resource", json_object_new_string(x->resource));
        json_object_object_add(e, "unit", x->unit ? json_object_new_string(x->unit) : NULL);
        json_object_object_add(e, "h", num_or_null(x->h));
        json_object_object_add(e, "g", num_or_null(x->g));
        json_object_object_add(e, "r", num_or_null(x->r));
        json_object_object_add(e, "provenance",
                               json_object_new_string(x->provenance ? x->provenance : "none"));
        json_object_object_add(e, "g_source",
                               x->g_source ? json_object_new_string(x->g_source) : NULL);
        json_object_object_add(e, "reason", json_object_new_string(x->reason ? x->reason : ""));
        /* Ages were taken when the round ran: served as of now. */
        json_object_object_add(e, "h_age_s",
                               age_json(x->h_age_us < 0 ? -1 : x->h_age_us + elapsed));
        json_object_object_add(e, "g_age_s",
                               age_json(x->g_age_us < 0 ? -1 : x->g_age_us + elapsed));
        json_object_array_add(arr, e);
    }
    json_object_object_add(o, "resources", arr);
    return o;
}

/* A series' name, unit and type (its figures are the caller's). */
static json_object *line_json(const struct series_kind *kind, const struct store_series_line *line)
{
    const struct series_metric *m = &kind->metrics[line->metric];
    json_object *e = json_object_new_object();
    json_object_object_add(e, "metric", json_object_new_string(m->name));
    g_autofree char *unit = m->counter ? g_strdup_printf("%s/s", m->unit) : g_strdup(m->unit);
    json_object_object_add(e, "unit", json_object_new_string(unit));
    json_object_object_add(e, "type", json_object_new_string(m->counter ? "rate" : "gauge"));
    return e;
}

json_object *api_series_json(const struct series_kind *kind, const struct store_series_result *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "tier", json_object_new_string(r->tier));
    json_object_object_add(o, "step_s", json_object_new_int64(r->step_us / USEC_PER_SEC));
    json_object *series = json_object_new_array();
    for (guint i = 0; i < r->lines->len; i++) {
        const struct store_series_line *line =
            &g_array_index(r->lines, struct store_series_line, i);
        json_object *e = line_json(kind, line);
        json_object *pts = json_object_new_array_ext((int)line->points->len);
        for (guint k = 0; k < line->points->len; k++) {
            const struct series_point *p = &g_array_index(line->points, struct series_point, k);
            json_object *pt = json_object_new_object();
            g_autofree char *t = time_format_rfc3339(p->t);
            json_object_object_add(pt, "t", json_object_new_string(t ? t : ""));
            json_object_object_add(pt, "v", json_object_new_double(p->v));
            json_object_array_add(pts, pt);
        }
        json_object_object_add(e, "points", pts);
        json_object_array_add(series, e);
    }
    json_object_object_add(o, "series", series);
    return o;
}

json_object *api_series_columns_json(const struct series_kind *kind,
                                     const struct store_series_result *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "tier", json_object_new_string(r->tier));
    json_object_object_add(o, "step_s", json_object_new_int64(r->step_us / USEC_PER_SEC));
    /* The union of the lines' times, in order: every line's points are
     * sorted, so one merge. */
    g_autoptr(GArray) times = g_array_new(FALSE, FALSE, sizeof(int64_t));
    g_autofree guint *at = g_new0(guint, r->lines->len + 1);
    for (;;) {
        int64_t next = G_MAXINT64;
        for (guint i = 0; i < r->lines->len; i++) {
            const GArray *pts = g_array_index(r->lines, struct store_series_line, i).points;
            if (at[i] < pts->len)
                next = MIN(next, g_array_index(pts, struct series_point, at[i]).t);
        }
        if (next == G_MAXINT64)
            break;
        g_array_append_val(times, next);
        for (guint i = 0; i < r->lines->len; i++) {
            const GArray *pts = g_array_index(r->lines, struct store_series_line, i).points;
            while (at[i] < pts->len && g_array_index(pts, struct series_point, at[i]).t == next)
                at[i]++;
        }
    }
    json_object *t = json_object_new_array_ext((int)times->len);
    for (guint k = 0; k < times->len; k++)
        json_object_array_add(t, json_object_new_double((double)g_array_index(times, int64_t, k) /
                                                        USEC_PER_SEC));
    json_object_object_add(o, "t", t);
    json_object *series = json_object_new_array();
    for (guint i = 0; i < r->lines->len; i++) {
        const struct store_series_line *line =
            &g_array_index(r->lines, struct store_series_line, i);
        json_object *e = line_json(kind, line);
        json_object *v = json_object_new_array_ext((int)times->len);
        guint k = 0;
        for (guint j = 0; j < times->len; j++) {
            int64_t tj = g_array_index(times, int64_t, j);
            const struct series_point *p =
                k < line->points->len ? &g_array_index(line->points, struct series_point, k) : NULL;
            if (p && p->t == tj) {
                json_object_array_add(v, json_object_new_double(p->v));
                k++;
            } else {
                json_object_array_add(v, NULL);
            }
        }
        json_object_object_add(e, "v", v);
        json_object_array_add(series, e);
    }
    json_object_object_add(o, "series", series);
    return o;
}

json_object *api_action_result_json(const struct action_result *res, int64_t audit_id)
{
    json_object *o = json_object_new_object();
    if (res->forced >= 0)
        json_object_object_add(o, "forced", json_object_new_boolean(res->forced));
    if (res->actual_bytes != G_MININT64)
        json_object_object_add(o, "actual_bytes", json_object_new_int64(res->actual_bytes));
    if (res->reached >= 0)
        json_object_object_add(o, "reached", json_object_new_boolean(res->reached));
    if (res->snapshot)
        json_object_object_add(o, "snapshot", json_object_new_string(res->snapshot));
    if (res->host)
        json_object_object_add(o, "host", json_object_new_string(res->host));
    json_object_object_add(o, "result", json_object_new_string("ok"));
    json_object_object_add(o, "audit_id", json_object_new_int64(audit_id));
    return o;
}

/* ---- action request bodies ---- */

bool api_param_check(const struct action_param_spec *p, json_object *v, char **ret_detail)
{
    switch (p->type) {
    case AP_INT: {
        if (!json_object_is_type(v, json_type_int)) {
            *ret_detail = g_strdup_printf("%s: expected an integer", p->name);
            return false;
        }
        int64_t n = json_object_get_int64(v);
        if (n < p->min || n > p->max) {
            *ret_detail =
                g_strdup_printf("%s: must be from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                                p->name, p->min, p->max);
            return false;
        }
        return true;
    }
    case AP_BOOL:
        if (!json_object_is_type(v, json_type_boolean)) {
            *ret_detail = g_strdup_printf("%s: expected true or false", p->name);
            return false;
        }
        return true;
    case AP_STR: {
        if (!json_object_is_type(v, json_type_string)) {
            *ret_detail = g_strdup_printf("%s: expected a string", p->name);
            return false;
        }
        size_t len = strlen(json_object_get_string(v));
        if (len < (size_t)p->min || len > (size_t)p->max) {
            *ret_detail = g_strdup_printf("%s: must be 1 to %" G_GINT64_FORMAT " characters",
                                          p->name, p->max);
            return false;
        }
        return true;
    }
    }
    *ret_detail = g_strdup_printf("%s: unknown type", p->name);
    return false;
}

static char *param_list(const struct action_spec *spec)
{
    GString *s = g_string_new(NULL);
    for (const struct action_param_spec *p = spec->params; p->name; p++)
        g_string_append_printf(s, "%s%s", s->len ? ", " : "", p->name);
    if (!s->len)
        g_string_append(s, "none");
    return g_string_free(s, FALSE);
}

bool api_action_request(enum action_kind kind, json_object *params, struct action_request *ret,
                        char **ret_detail)
{
    const struct action_spec *spec = &action_specs[kind];
    action_request_init(ret, kind);
    /* Anything not in the table is refused, so a typo ("timout") cannot
     * silently fall back to a default. */
    if (params) {
        json_object_object_foreach(params, key, val)
        {
            bool known = false;
            for (const struct action_param_spec *p = spec->params; p->name; p++)
                known |= strcmp(p->name, key) == 0;
            if (!known) {
                g_autofree char *names = param_list(spec);
                *ret_detail = g_strdup_printf("%s: unknown parameter of %s (it takes: %s)", key,
                                              spec->name, names);
                return false;
            }
            (void)val;
        }
    }
    for (const struct action_param_spec *p = spec->params; p->name; p++) {
        json_object *v = NULL;
        if (!params || !json_object_object_get_ex(params, p->name, &v) || !v) {
            if (p->required) {
                *ret_detail = g_strdup_printf("%s: required", p->name);
                return false;
            }
            continue;
        }
        if (!api_param_check(p, v, ret_detail))
            return false;
        switch (p->type) {
        case AP_INT:
            action_set_int(ret, p->name, json_object_get_int64(v));
            break;
        case AP_BOOL:
            action_set_bool(ret, p->name, json_object_get_boolean(v));
            break;
        case AP_STR:
            action_set_str(ret, p->name, json_object_get_string(v));
            break;
        }
    }
    return true;
}
