/*
 * Scheduled reports (docs/reports.md): after each period of [reports]
 * schedule (a day, a week from Monday, a calendar month; UTC) the
 * availability report of that period — the fleet's, and each group's
 * with an SLO target — and the capacity report are written to [reports]
 * directory in the formats asked, and an event says so.
 *
 * One thread, on the leader of a shared store.  A report already in the
 * directory is not written again, so a restart (or a leader change)
 * writes what was missed, once.  Files are written whole (a temporary
 * name, then renamed).
 */
#include "config.h"

#include "engine/engine-private.h"
#include "engine/ops-private.h"

#include "basic/util.h"
#include "report/render.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <math.h>

struct report_sched {
    GThread *thread;
    GMutex lock; /* and of the status below */
    GCond wake;
    bool quit;
    char *period;    /* the last period checked (and written, when due) */
    int64_t checked; /* when */
    int64_t next;    /* the next check */
};

/* The period of SCHEDULE that ended last at or before NOW: [*from, *to),
 * and its name for the files ("2026-12-03", "2026-W48", "2026-11"). */
static void last_period(const char *schedule, int64_t now, int64_t *from, int64_t *to, char **name)
{
    g_autoptr(GDateTime) n = g_date_time_new_from_unix_utc(now / G_USEC_PER_SEC);
    g_autoptr(GDateTime) day =
        g_date_time_new_utc(g_date_time_get_year(n), g_date_time_get_month(n),
                            g_date_time_get_day_of_month(n), 0, 0, 0);
    g_autoptr(GDateTime) end = NULL, start = NULL;
    if (g_strcmp0(schedule, "monthly") == 0) {
        end = g_date_time_new_utc(g_date_time_get_year(n), g_date_time_get_month(n), 1, 0, 0, 0);
        start = g_date_time_add_months(end, -1);
        *name = g_date_time_format(start, "%Y-%m");
    } else if (g_strcmp0(schedule, "weekly") == 0) {
        end = g_date_time_add_days(day, 1 - g_date_time_get_day_of_week(day)); /* Monday */
        start = g_date_time_add_days(end, -7);
        *name = g_date_time_format(start, "%G-W%V");
    } else {
        end = g_date_time_ref(day);
        start = g_date_time_add_days(end, -1);
        *name = g_date_time_format(start, "%Y-%m-%d");
    }
    *from = g_date_time_to_unix(start) * G_USEC_PER_SEC;
    *to = g_date_time_to_unix(end) * G_USEC_PER_SEC;
}

static int64_t next_period_end(const char *schedule, int64_t to)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(to / G_USEC_PER_SEC);
    g_autoptr(GDateTime) next = g_strcmp0(schedule, "monthly") == 0  ? g_date_time_add_months(t, 1)
                                : g_strcmp0(schedule, "weekly") == 0 ? g_date_time_add_days(t, 7)
                                                                     : g_date_time_add_days(t, 1);
    return g_date_time_to_unix(next) * G_USEC_PER_SEC;
}

/* Writes TEXT to DIR/NAME whole. */
static bool write_file(const char *dir, const char *name, const char *text, size_t len)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) err = NULL;
    if (!g_file_set_contents_full(path, text, (gssize)len, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                  &err)) {
        g_warning("reports: writing %s: %s", path, err->message);
        return false;
    }
    return true;
}

/* REP (taken) in each format asked, as DIR/BASE.<format>; false when one
 * could not be written. */
static bool write_formats(const struct engine *e, const char *base, json_object *rep, bool capacity)
{
    const char *dir = e->conf.reports_dir;
    unsigned f = e->conf.reports_formats;
    bool ok = true;
    if (f & REPORT_FORMAT_JSON) {
        g_autofree char *name = g_strconcat(base, ".json", NULL);
        const char *t = json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY);
        ok &= write_file(dir, name, t, strlen(t));
    }
    if (f & REPORT_FORMAT_CSV) {
        g_autofree char *name = g_strconcat(base, ".csv", NULL);
        g_autoptr(GString) t = capacity ? report_capacity_csv(rep) : report_avail_csv(rep);
        ok &= write_file(dir, name, t->str, t->len);
    }
    if (f & REPORT_FORMAT_HTML) {
        g_autofree char *name = g_strconcat(base, ".html", NULL);
        g_autoptr(GString) t = capacity ? report_capacity_html(rep) : report_avail_html(rep);
        ok &= write_file(dir, name, t->str, t->len);
    }
    json_object_put(rep);
    return ok;
}

/* The first format's file of BASE exists: it was written. */
static bool written(const struct engine *e, const char *base)
{
    unsigned f = e->conf.reports_formats;
    const char *ext = f & REPORT_FORMAT_HTML ? ".html" : f & REPORT_FORMAT_CSV ? ".csv" : ".json";
    g_autofree char *name = g_strconcat(base, ext, NULL);
    g_autofree char *path = g_build_filename(e->conf.reports_dir, name, NULL);
    return g_file_test(path, G_FILE_TEST_EXISTS);
}

static void one_availability(struct engine *e, const char *period, int64_t from, int64_t to,
                             const char *group, GString *done)
{
    g_autofree char *base = group ? g_strdup_printf("availability-%s-%s", group, period)
                                  : g_strdup_printf("availability-%s", period);
    if (written(e, base))
        return;
    struct engine_avail_query q = {.from_us = from, .to_us = to, .group = group, .slo = NAN};
    json_object *rep = NULL;
    g_autoptr(GError) err = NULL;
    if (engine_report_availability(e, &q, &rep, &err) < 0) {
        g_warning("reports: %s: %s", base, err->message);
        return;
    }
    if (write_formats(e, base, rep, false))
        g_string_append_printf(done, "%s%s", done->len ? ", " : "", base);
}

/* The routes with `reports = yes` get what was written: one delivery each
 * through the outbox, keyed by the period, so a repeat is dropped. */
static void deliver(struct engine *e, const char *period, int64_t from, int64_t to,
                    const char *names)
{
    const GPtrArray *routes = e->conf.routes;
    g_autoptr(GArray) ds = g_array_new(FALSE, TRUE, sizeof(struct delivery));
    g_array_set_clear_func(ds, (GDestroyNotify)delivery_clear);
    int64_t now = now_usec();
    for (guint i = 0; routes && i < routes->len; i++) {
        const struct notify_route *r = g_ptr_array_index(routes, i);
        if (!r->reports)
            continue;
        json_object *p = json_object_new_object();
        json_object_object_add(p, "kind", json_object_new_string("report"));
        json_object_object_add(p, "period", json_object_new_string(period));
        json_object_object_add(p, "from", engine_jtime(from));
        json_object_object_add(p, "to", engine_jtime(to));
        json_object_object_add(p, "directory", json_object_new_string(e->conf.reports_dir));
        json_object *files = json_object_new_array();
        g_auto(GStrv) bases = g_strsplit(names, ", ", -1);
        for (guint k = 0; bases[k]; k++)
            json_object_array_add(files, json_object_new_string(bases[k]));
        json_object_object_add(p, "reports", files);
        struct delivery d = {
            .route = g_strdup(r->name),
            .key = g_strdup_printf("kanri-report-%s-%s", e->conf.reports_schedule, period),
            .payload = g_strdup(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN)),
            .created_us = now,
            .next_try_us = now};
        json_object_put(p);
        g_array_append_val(ds, d);
    }
    if (!ds->len)
        return;
    struct store_ops_write w = {.deliveries = (const struct delivery *)ds->data,
                                .n_deliveries = ds->len};
    g_autoptr(GError) err = NULL;
    if (e->store->ops->ops_write(e->store, &w, &err) < 0)
        g_warning("reports: queueing their notifications: %s", err->message);
    else
        engine_notify_wake(e);
}

static void write_period(struct engine *e, const char *period, int64_t from, int64_t to)
{
    g_autoptr(GString) done = g_string_new(NULL);
    one_availability(e, period, from, to, NULL, done);
    if (e->conf.slo_groups) {
        GHashTableIter it;
        gpointer k;
        g_hash_table_iter_init(&it, e->conf.slo_groups);
        while (g_hash_table_iter_next(&it, &k, NULL))
            one_availability(e, period, from, to, k, done);
    }
    g_autofree char *base = g_strdup_printf("capacity-%s", period);
    if (e->conf.reports_capacity && !written(e, base)) {
        struct engine_capacity_query q = {.now_us = to,
                                          .history_us = (int64_t)90 * 86400 * G_USEC_PER_SEC,
                                          .horizon_us = (int64_t)30 * 86400 * G_USEC_PER_SEC,
                                          .vcpus = 1,
                                          .memory_bytes = (int64_t)1 << 30,
                                          .disk_bytes = (int64_t)10 << 30};
        json_object *rep = NULL;
        g_autoptr(GError) err = NULL;
        if (engine_report_capacity(e, &q, &rep, &err) < 0)
            g_warning("reports: %s: %s", base, err->message);
        else if (write_formats(e, base, rep, true))
            g_string_append_printf(done, "%s%s", done->len ? ", " : "", base);
    }
    if (!done->len)
        return;
    g_autofree char *msg =
        g_strdup_printf("reports written to %s: %s", e->conf.reports_dir, done->str);
    g_message("%s", msg);
    engine_event_post(e, event_new(now_usec(), "kanrid", "kanrid", NULL, "report.written", NULL,
                                   false, SEV_INFO, msg));
    deliver(e, period, from, to, done->str);
}

/* Waits until UNTIL (real time) or a stop; false on a stop. */
static bool nap_until(struct report_sched *rs, int64_t until)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&rs->lock);
    while (!rs->quit) {
        int64_t left = until - now_usec();
        if (left <= 0)
            return true;
        /* At most a minute at a time: the clock may be set meanwhile. */
        g_cond_wait_until(&rs->wake, &rs->lock,
                          g_get_monotonic_time() + MIN(left, 60 * G_USEC_PER_SEC));
    }
    return false;
}

static gpointer sched_thread(gpointer p)
{
    struct engine *e = p;
    struct report_sched *rs = e->report_sched;
    if (g_mkdir_with_parents(e->conf.reports_dir, 0750) < 0)
        g_warning("reports: creating %s: %s", e->conf.reports_dir, g_strerror(errno));
    int64_t next = 0;
    while (nap_until(rs, next)) {
        int64_t from, to;
        g_autofree char *period = NULL;
        last_period(e->conf.reports_schedule, now_usec(), &from, &to, &period);
        bool leader = engine_is_leader(e);
        if (leader) /* another instance on the store writes them */
            write_period(e, period, from, to);
        /* A little after the next period ends: its last round is stored. */
        next = next_period_end(e->conf.reports_schedule, to) +
               2 * (int64_t)MAX(e->conf.interval_s, 1) * G_USEC_PER_SEC;
        /* Not the leader (yet: a shared store elects one soon after the
         * start): look again shortly. */
        if (!leader)
            next = MIN(next, now_usec() + 2 * G_USEC_PER_SEC);
        g_mutex_lock(&rs->lock);
        if (leader) {
            g_free(rs->period);
            rs->period = g_steal_pointer(&period);
            rs->checked = now_usec();
        }
        rs->next = next;
        g_mutex_unlock(&rs->lock);
    }
    return NULL;
}

void engine_report_sched_start(struct engine *e)
{
    if (e->report_sched || !e->conf.reports_dir)
        return;
    struct report_sched *rs = g_new0(struct report_sched, 1);
    g_mutex_init(&rs->lock);
    g_cond_init(&rs->wake);
    e->report_sched = rs;
    rs->thread = g_thread_new("reports", sched_thread, e);
}

void engine_report_sched_stop(struct engine *e)
{
    struct report_sched *rs = e->report_sched;
    if (!rs)
        return;
    g_mutex_lock(&rs->lock);
    rs->quit = true;
    g_cond_broadcast(&rs->wake);
    g_mutex_unlock(&rs->lock);
    g_thread_join(rs->thread);
    rs->thread = NULL;
}

void engine_report_sched_free(struct engine *e)
{
    struct report_sched *rs = e->report_sched;
    if (!rs)
        return;
    g_mutex_clear(&rs->lock);
    g_cond_clear(&rs->wake);
    g_free(rs->period);
    g_free(rs);
    e->report_sched = NULL;
}

/* A target from a percentage, without the float's last digits. */
static json_object *jtarget(double v)
{
    return json_object_new_double(round(v * 1e8) / 1e8);
}

json_object *engine_report_sched_json(struct engine *e)
{
    const struct engine_conf *c = &e->conf;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "directory", engine_jstr(c->reports_dir));
    json_object_object_add(o, "schedule", engine_jstr(c->reports_schedule));
    json_object *f = json_object_new_array();
    static const struct {
        unsigned bit;
        const char *name;
    } formats[] = {
        {REPORT_FORMAT_HTML, "html"}, {REPORT_FORMAT_CSV, "csv"}, {REPORT_FORMAT_JSON, "json"}};
    for (guint i = 0; i < G_N_ELEMENTS(formats); i++) {
        if (c->reports_formats & formats[i].bit)
            json_object_array_add(f, json_object_new_string(formats[i].name));
    }
    json_object_object_add(o, "formats", f);
    struct report_sched *rs = e->report_sched;
    if (rs)
        g_mutex_lock(&rs->lock);
    json_object_object_add(o, "last_period", engine_jstr(rs ? rs->period : NULL));
    json_object_object_add(o, "checked", engine_jtime(rs ? rs->checked : 0));
    json_object_object_add(o, "next", engine_jtime(rs ? rs->next : 0));
    if (rs)
        g_mutex_unlock(&rs->lock);
    json_object_object_add(o, "slo", isnan(c->slo_default) ? NULL : jtarget(c->slo_default));
    json_object *g = json_object_new_object();
    if (c->slo_groups) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, c->slo_groups);
        while (g_hash_table_iter_next(&it, &k, &v))
            json_object_object_add(g, k, jtarget(*(double *)v));
    }
    json_object_object_add(o, "slo_groups", g);
    return o;
}
