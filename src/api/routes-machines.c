/*
 * Machines: everything kanri-guestd reports on (docs/api.md) — a VM kanri
 * manages, or a server no hypervisor knows, as first-class items: listed
 * with their kind and newest figures, one with its filesystems, and their
 * guest-view history (routes-metrics.c).  Viewers read.
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/util.h"
#include "engine/engine.h"

#include <math.h>
#include <string.h>

static json_object *jint_or_null(uint64_t v)
{
    return v == SAMPLE_ABSENT ? NULL : json_object_new_int64((int64_t)v);
}

static json_object *jtime_or_null(int64_t us)
{
    g_autofree char *t = us > 0 ? time_format_rfc3339(us) : NULL;
    return t ? json_object_new_string(t) : NULL;
}

/* The CPU busy share (not idle, not iowait) between two samples, percent
 * of all CPUs; NaN when either lacks a counter or no time passed. */
static double busy_pct(const struct guest_sample *a, const struct guest_sample *b)
{
    const uint64_t *fa[] = {&a->cpu_user_ns,   &a->cpu_nice_ns,    &a->cpu_system_ns,
                            &a->cpu_idle_ns,   &a->cpu_iowait_ns,  &a->cpu_irq_ns,
                            &a->cpu_softirq_ns, &a->cpu_steal_ns};
    const uint64_t *fb[] = {&b->cpu_user_ns,   &b->cpu_nice_ns,    &b->cpu_system_ns,
                            &b->cpu_idle_ns,   &b->cpu_iowait_ns,  &b->cpu_irq_ns,
                            &b->cpu_softirq_ns, &b->cpu_steal_ns};
    double total = 0, idle = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(fa); i++) {
        if (*fa[i] == SAMPLE_ABSENT || *fb[i] == SAMPLE_ABSENT || *fa[i] < *fb[i])
            continue;
        double d = (double)(*fa[i] - *fb[i]);
        total += d;
        if (fa[i] == &a->cpu_idle_ns || fa[i] == &a->cpu_iowait_ns)
            idle += d;
    }
    return total > 0 ? 100.0 * (total - idle) / total : NAN;
}

/* The filesystems of a kanri-guestd sample as stored (routes-ingest.c)
 * as the API shows them: path, type, total, used, available; NULL when
 * there are none. */
static json_object *filesystems(const char *text)
{
    json_object *in = text ? json_tokener_parse(text) : NULL;
    if (!in || !json_object_is_type(in, json_type_array)) {
        json_object_put(in);
        return NULL;
    }
    static const char *const names[][2] = {{"mountpoint", "path"},     {"fstype", "type"},
                                           {"total_bytes", "total_bytes"},
                                           {"used_bytes", "used_bytes"},
                                           {"avail_bytes", "avail_bytes"}};
    json_object *out = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(in); i++) {
        json_object *f = json_object_array_get_idx(in, i);
        json_object *o = json_object_new_object();
        for (size_t k = 0; k < G_N_ELEMENTS(names); k++)
            json_object_object_add(o, names[k][1],
                                   json_object_get(json_object_object_get(f, names[k][0])));
        json_object_array_add(out, o);
    }
    json_object_put(in);
    return out;
}

/* The newest figures of UUID, or NULL (none since kanrid started). */
static json_object *latest(struct req *r, const char *uuid, json_object **ret_filesystems)
{
    struct guest_sample s, prev;
    bool have_prev = false;
    if (!engine_machine_samples(req_engine(r), uuid, &s, &prev, &have_prev))
        return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "time", jtime_or_null(s.time_us));
    double busy = have_prev ? busy_pct(&s, &prev) : NAN;
    json_object_object_add(o, "cpu_busy_pct",
                           isnan(busy) ? NULL : json_object_new_double(round(busy * 10) / 10));
    json_object_object_add(o, "mem_total_bytes", jint_or_null(s.mem_total));
    json_object_object_add(o, "mem_available_bytes", jint_or_null(s.mem_available));
    json_object_object_add(o, "swap_used_bytes",
                           s.swap_total == SAMPLE_ABSENT || s.swap_free == SAMPLE_ABSENT ||
                                   s.swap_free > s.swap_total
                               ? NULL
                               : json_object_new_int64((int64_t)(s.swap_total - s.swap_free)));
    json_object_object_add(o, "load1",
                           s.load1_milli == SAMPLE_ABSENT
                               ? NULL
                               : json_object_new_double((double)s.load1_milli / 1000.0));
    json_object_object_add(o, "fs_total_bytes", jint_or_null(s.fs_total));
    json_object_object_add(o, "fs_used_bytes", jint_or_null(s.fs_used));
    if (ret_filesystems)
        *ret_filesystems = filesystems(s.filesystems_json);
    guest_sample_clear(&s);
    if (have_prev)
        guest_sample_clear(&prev);
    return o;
}

static json_object *machine_json(struct req *r, const struct agent_row *a, bool whole)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "uuid", json_object_new_string(a->machine_uuid));
    json_object_object_add(o, "name", json_object_new_string(a->name));
    json_object_object_add(o, "kind", json_object_new_string(a->vm ? "vm" : "server"));
    json_object_object_add(o, "vm", a->vm ? json_object_new_string(a->vm) : NULL);
    json_object_object_add(o, "host", a->host ? json_object_new_string(a->host) : NULL);
    json_object_object_add(o, "hostname", a->hostname ? json_object_new_string(a->hostname) : NULL);
    json_object_object_add(o, "agent_version",
                           a->agent_version ? json_object_new_string(a->agent_version) : NULL);
    json_object_object_add(o, "last_contact", jtime_or_null(a->last_contact));
    int64_t silent_us = engine_agent_silent_us(req_engine(r));
    json_object_object_add(o, "silent",
                           json_object_new_boolean(silent_us > 0 && (!a->last_contact ||
                                                   now_usec() - a->last_contact >= silent_us)));
    json_object *fs = NULL;
    json_object_object_add(o, "latest", latest(r, a->machine_uuid, whole ? &fs : NULL));
    if (whole)
        json_object_object_add(o, "filesystems", fs);
    return o;
}

static struct rows *agents(struct req *r)
{
    g_autoptr(GError) err = NULL;
    struct rows *all = req_store(r)->ops->agents_query(req_store(r), &err);
    if (!all)
        req_problem(r, 500, "the store failed: %s", err->message);
    return all;
}

static void h_machines(struct req *r)
{
    g_autoptr(rows) all = agents(r);
    if (!all)
        return;
    json_object *list = json_object_new_array();
    for (guint i = 0; i < rows_len(all); i++)
        json_object_array_add(list, machine_json(r, rows_get(all, i), false));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "machines", list);
    req_json(r, 200, o);
}

const struct agent_row *api_machine_find(const struct rows *all, const char *ref)
{
    g_autofree char *lower = g_ascii_strdown(ref, -1);
    const struct agent_row *by_name = NULL;
    unsigned names = 0;
    for (guint i = 0; i < rows_len(all); i++) {
        const struct agent_row *a = rows_get(all, i);
        if (g_str_equal(a->machine_uuid, lower))
            return a;
        if (g_str_equal(a->name, ref)) {
            by_name = a;
            names++;
        }
    }
    return names == 1 ? by_name : NULL;
}

static void h_machine(struct req *r)
{
    g_autoptr(rows) all = agents(r);
    if (!all)
        return;
    const struct agent_row *a = api_machine_find(all, r->params[0]);
    if (!a) {
        req_problem(r, 404, "no machine '%s' (kanri machine list shows them; a machine is known "
                            "once its kanri-guestd is enrolled)",
                    r->params[0]);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "machine", machine_json(r, a, true));
    req_json(r, 200, o);
}

const struct route api_machine_routes[] = {
    {"GET", "/api/v1/machines", 1, false, h_machines},
    {"GET", "/api/v1/machines/{}", 1, false, h_machine},
    {"GET", "/api/v1/machines/{}/metrics", 1, false, h_machine_metrics},
    {NULL, NULL, 0, false, NULL},
};
