/*
 * The stored lifecycle of findings (lifecycle.h).
 */
#include "config.h"

#include "reconcile/lifecycle.h"

#include <math.h>
#include <string.h>

#define NO_LONGER_REPORTED " (closed: no longer reported)"

static struct finding_open *find_open(const GPtrArray *open, const char *rule, guint *ret_index)
{
    for (guint i = 0; i < open->len; i++) {
        struct finding_open *f = g_ptr_array_index(open, i);
        if (strcmp(f->rule, rule) == 0) {
            if (ret_index)
                *ret_index = i;
            return f;
        }
    }
    return NULL;
}

static void push(GArray *ret, enum finding_op op, const char *uuid, int64_t host_id,
                 const char *rule, const char *severity, int64_t since, int64_t at, double measure,
                 const char *message)
{
    struct finding_write w = {
        .op = op,
        .uuid = g_strdup(uuid),
        .host_id = host_id,
        .rule = g_strdup(rule),
        .severity = g_strdup(severity),
        .since_us = since,
        .at_us = at,
        .measure = measure,
        .message = g_strdup(message),
    };
    g_array_append_val(ret, w);
}

static bool same_measure(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

void lifecycle_apply(const char *uuid, int64_t host_id, const GPtrArray *reported, GPtrArray *open,
                     int64_t now_us, int64_t refresh_us, GArray *ret)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; reported && i < reported->len; i++) {
        const struct reconcile_finding *f = g_ptr_array_index(reported, i);
        const char *sev = reconcile_severity_name(f->severity);
        const char *msg = f->message ? f->message : "";
        g_hash_table_add(seen, (gpointer)f->id);
        guint idx = 0;
        struct finding_open *row = find_open(open, f->id, &idx);
        switch (f->state) {
        case RECONCILE_OPENING:
            break;
        case RECONCILE_OPEN:
        case RECONCILE_CLOSING:
            if (!row) {
                int64_t opened = f->state == RECONCILE_OPEN ? f->changed_us : f->since_us;
                push(ret, FINDING_OPEN, uuid, host_id, f->id, sev, f->since_us, opened, f->measure,
                     msg);
                row = g_new0(struct finding_open, 1);
                row->rule = g_strdup(f->id);
                row->severity = g_strdup(sev);
                row->message = g_strdup(msg);
                row->measure = f->measure;
                row->updated_us = opened;
                g_ptr_array_add(open, row);
                break;
            }
            bool sev_changed = strcmp(row->severity, sev) != 0;
            bool moved = !same_measure(row->measure, f->measure) || strcmp(row->message, msg) != 0;
            if (sev_changed || (moved && now_us - row->updated_us >= refresh_us)) {
                push(ret, FINDING_UPDATE, uuid, host_id, f->id, sev, f->since_us, now_us,
                     f->measure, msg);
                g_array_index(ret, struct finding_write, ret->len - 1).new_severity = sev_changed;
                g_free(row->severity);
                row->severity = g_strdup(sev);
                g_free(row->message);
                row->message = g_strdup(msg);
                row->measure = f->measure;
                row->updated_us = now_us;
            }
            break;
        case RECONCILE_CLOSED:
            if (row) {
                push(ret, FINDING_CLOSE, uuid, host_id, f->id, sev, f->since_us, f->changed_us,
                     f->measure, msg);
                g_ptr_array_remove_index(open, idx);
            }
            break;
        }
    }
    for (guint i = 0; i < open->len;) {
        struct finding_open *row = g_ptr_array_index(open, i);
        if (g_hash_table_contains(seen, row->rule)) {
            i++;
            continue;
        }
        g_autofree char *msg =
            g_strconcat(row->message ? row->message : "", NO_LONGER_REPORTED, NULL);
        push(ret, FINDING_CLOSE, uuid, host_id, row->rule, row->severity, 0, now_us, row->measure,
             msg);
        g_ptr_array_remove_index(open, i);
    }
}

bool lifecycle_pending(const GPtrArray *reported, const GPtrArray *open, int64_t now_us,
                       int64_t refresh_us)
{
    guint matched = 0;
    for (guint i = 0; reported && i < reported->len; i++) {
        const struct reconcile_finding *f = g_ptr_array_index(reported, i);
        const struct finding_open *row = find_open(open, f->id, NULL);
        matched += row != NULL;
        switch (f->state) {
        case RECONCILE_OPENING:
            break;
        case RECONCILE_OPEN:
        case RECONCILE_CLOSING:
            if (!row || strcmp(row->severity, reconcile_severity_name(f->severity)) != 0)
                return true;
            if (!same_measure(row->measure, f->measure) && now_us - row->updated_us >= refresh_us)
                return true;
            break;
        case RECONCILE_CLOSED:
            if (row)
                return true;
            break;
        }
    }
    /* A row open for a rule no longer reported is closed. */
    return matched < open->len;
}
