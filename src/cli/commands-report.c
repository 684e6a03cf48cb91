/*
 * kanri report availability, kanri vm tag and kanri tags: the reports
 * (docs/reports.md) through GET /reports/availability, and the tags that
 * make their groups.
 */
#include "config.h"

#include "cli/cli.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* GETs the report at PATH in --format: csv and html as the API sends
 * them, json printed; for a table, *ret the reply to print (else NULL). */
static int report_fetch(GString *path, struct json_object **ret)
{
    *ret = NULL;
    const char *format = cli_opts.format;
    bool text = format && (strcmp(format, "csv") == 0 || strcmp(format, "html") == 0);
    if (format && !text && strcmp(format, "json") && strcmp(format, "table"))
        return cli_usage_error("--format: table, json, csv or html");
    if (text) {
        cli_query_add(path, "format", format);
        return api_get_text(path->str);
    }
    g_autoptr(json_object) reply = NULL;
    int r = api_request("GET", path->str, NULL, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json || (format && strcmp(format, "json") == 0))
        print_json(reply);
    else
        *ret = g_steal_pointer(&reply);
    return CLI_EXIT_OK;
}

static double jnum(struct json_object *o, const char *k)
{
    struct json_object *x = NULL;
    if (!json_object_object_get_ex(o, k, &x) || !x ||
        !(json_object_is_type(x, json_type_double) || json_object_is_type(x, json_type_int)))
        return NAN;
    return json_object_get_double(x);
}

static char *pct(double v)
{
    return isnan(v) ? g_strdup("-") : g_strdup_printf("%.3f%%", v * 100.0);
}

static char *secs(double v)
{
    if (isnan(v))
        return g_strdup("-");
    if (v < 120)
        return g_strdup_printf("%.0fs", v);
    if (v < 7200)
        return g_strdup_printf("%.1fm", v / 60);
    return g_strdup_printf("%.1fh", v / 3600);
}

static void add_secs(struct table *t, struct json_object *o, const char *k)
{
    g_autofree char *s = secs(jnum(o, k));
    table_add(t, s);
}

int cmd_report_availability(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(GString) path = g_string_new("/reports/availability");
    cli_query_add(path, "from", cli_opts.from ? cli_opts.from : "30d");
    if (cli_opts.to)
        cli_query_add(path, "to", cli_opts.to);
    if (cli_opts.vm)
        cli_query_add(path, "vm", cli_opts.vm);
    if (cli_opts.host)
        cli_query_add(path, "host", cli_opts.host);
    if (cli_opts.group)
        cli_query_add(path, "group", cli_opts.group);
    if (cli_opts.slo)
        cli_query_add(path, "slo", cli_opts.slo);
    g_autoptr(json_object) reply = NULL;
    int r = report_fetch(path, &reply);
    if (r != CLI_EXIT_OK || !reply)
        return r;
    static const char *const cols[] = {"VM",           "Host",    "Availability", "Up",
                                       "Unresponsive", "Planned", "Unplanned",    "Unknown",
                                       "Outages",      "Note"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    for (guint c = 2; c < 9; c++)
        table_align_right(t, c);
    struct json_object *vms = jarray(reply, "vms");
    for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
        struct json_object *x = json_object_array_get_idx(vms, i), *tt = jobject(x, "totals");
        table_add(t, jstr(x, "name"));
        table_add(t, jstr(x, "host"));
        g_autofree char *a = pct(jnum(tt, "availability"));
        table_add(t, a);
        g_autofree char *up = secs(jnum(tt, "up_s") + jnum(tt, "host_only_s"));
        table_add(t, up);
        add_secs(t, tt, "unresponsive_s");
        add_secs(t, tt, "planned_down_s");
        add_secs(t, tt, "unplanned_down_s");
        add_secs(t, tt, "unknown_s");
        g_autofree char *no =
            g_strdup_printf("%zu", json_object_array_length(jarray(x, "outages")));
        table_add(t, no);
        bool only = false;
        jbool(x, "host_view_only", &only);
        table_add(t, only ? "host view only" : "");
    }
    print_table(t);
    struct json_object *tot = jobject(reply, "totals"), *slo = jobject(reply, "slo");
    g_autofree char *a = pct(jnum(tot, "availability"));
    g_autofree char *resp = pct(jnum(tot, "responsive"));
    g_autofree char *unk = secs(jnum(tot, "unknown_s"));
    printf("\nTotal availability %s (responsive %s), unknown %s, from %s to %s%s%s.\n", a, resp,
           unk, jstr(reply, "from"), jstr(reply, "to"), cli_opts.group ? ", group " : "",
           cli_opts.group ? cli_opts.group : "");
    if (slo) {
        bool met = false;
        jbool(slo, "met", &met);
        g_autofree char *target = g_strdup_printf("%g", jnum(slo, "target") * 100.0);
        g_autofree char *used = pct(jnum(slo, "budget_used"));
        g_autofree char *budget = secs(jnum(slo, "budget_s"));
        printf("SLO %s%%: %s; error budget %s, %s used, burn rate %.2f.\n", target,
               met ? "met" : "MISSED", budget, used, jnum(slo, "burn_rate"));
    }
    struct json_object *outs = jarray(reply, "outages");
    if (outs && json_object_array_length(outs)) {
        static const char *const ocols[] = {"VM",       "Kind",    "Start", "End",
                                            "Duration", "Planned", "Cause"};
        g_autoptr(table) o = table_new(G_N_ELEMENTS(ocols), ocols);
        table_align_right(o, 4);
        for (size_t i = 0; i < json_object_array_length(outs); i++) {
            struct json_object *x = json_object_array_get_idx(outs, i);
            bool before = false, open = false, planned = false;
            jbool(x, "began_before", &before);
            jbool(x, "open", &open);
            jbool(x, "planned", &planned);
            table_add(o, jstr(x, "vm"));
            table_add(o, jstr(x, "kind"));
            g_autofree char *st = g_strconcat(jstr(x, "start"), before ? " (before)" : "", NULL);
            g_autofree char *en = g_strconcat(jstr(x, "end"), open ? " (open)" : "", NULL);
            table_add(o, st);
            table_add(o, en);
            add_secs(o, x, "duration_s");
            table_add(o, planned ? "yes" : "no");
            table_add(o, jstr(x, "cause"));
        }
        printf("\nOutages:\n");
        print_table(o);
    }
    return CLI_EXIT_OK;
}

int cmd_vm_tag(const struct cli_verb *v, char **args, guint n)
{
    g_autofree char *esc = http_escape(args[0]);
    g_autofree char *path = g_strconcat("/vms/", esc, "/tags", NULL);
    g_autoptr(json_object) body = json_object_new_object();
    struct json_object *tags = json_object_new_array();
    for (guint i = 1; i < n; i++)
        json_object_array_add(tags, json_object_new_string(args[i]));
    json_object_object_add(body, "tags", tags);
    g_autoptr(json_object) reply = NULL;
    int r = api_request("PUT", path, body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    struct json_object *list = jarray(reply, "tags");
    g_autoptr(GString) s = g_string_new(NULL);
    for (size_t i = 0; list && i < json_object_array_length(list); i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "",
                               json_object_get_string(json_object_array_get_idx(list, i)));
    g_autofree char *clean = text_sanitize(s->len ? s->str : "(none)");
    printf("%s: tags %s\n", jstr(reply, "vm"), clean);
    return CLI_EXIT_OK;
}

int cmd_tags(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(GString) path = g_string_new("/tags");
    if (cli_opts.group)
        cli_query_add(path, "tag", cli_opts.group);
    if (cli_opts.vm)
        cli_query_add(path, "vm", cli_opts.vm);
    g_autoptr(json_object) reply = NULL;
    struct json_object *list = NULL;
    int r = cli_get_list(path->str, "tags", &reply, &list);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    static const char *const cols[] = {"Tag", "VM", "UUID"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *x = json_object_array_get_idx(list, i);
        table_add(t, jstr(x, "tag"));
        table_add(t, jstr(x, "vm"));
        table_add(t, jstr(x, "uuid"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

static char *gib(double b)
{
    return isnan(b) ? g_strdup("-") : g_strdup_printf("%.1fG", b / (1024.0 * 1024 * 1024));
}

static char *fit_text(struct json_object *f)
{
    gint64 n = 0;
    jint(f, "n", &n);
    return n < 0 ? g_strdup("any") : g_strdup_printf("%" G_GINT64_FORMAT, n);
}

/* When a forecast reaches its limit, in words. */
static char *exhausted_text(struct json_object *f)
{
    struct json_object *ex = jobject(f, "exhausted");
    if (!f)
        return g_strdup("-");
    if (!ex)
        return g_strdup("not within the horizon");
    const char *at = jstr(ex, "at"), *early = jstr(ex, "earliest");
    return g_strdup_printf("%s%s%s%s", at ? at : "",
                           at ? "" : "maybe: ", early && g_strcmp0(early, at) ? " (earliest " : "",
                           early && g_strcmp0(early, at) ? early : "");
}

int cmd_report_capacity(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(GString) path = g_string_new("/reports/capacity");
    const char *keys[][2] = {{"host", cli_opts.host},          {"pool", cli_opts.pool},
                             {"group", cli_opts.group},        {"memory", cli_opts.ct_memory},
                             {"disk", cli_opts.disk_size},     {"like", cli_opts.like},
                             {"remove", cli_opts.remove_host}, {"history", cli_opts.history},
                             {"horizon", cli_opts.horizon},    {"step", cli_opts.step}};
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        if (keys[i][1])
            cli_query_add(path, keys[i][0], keys[i][1]);
    }
    if (cli_opts.vcpus > 0) {
        g_autofree char *s = g_strdup_printf("%d", cli_opts.vcpus);
        cli_query_add(path, "vcpus", s);
    }
    if (cli_opts.add > 0) {
        g_autofree char *s = g_strdup_printf("%d", cli_opts.add);
        cli_query_add(path, "add", s);
    }
    g_autoptr(json_object) reply = NULL;
    int r = report_fetch(path, &reply);
    if (r != CLI_EXIT_OK || !reply)
        return r;
    static const char *const cols[] = {
        "Host", "VMs", "vCPUs/CPUs", "CPU demand", "Memory used/total", "Fit", "Limited by"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 1);
    table_align_right(t, 5);
    struct json_object *hosts = jarray(reply, "hosts");
    for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
        struct json_object *h = json_object_array_get_idx(hosts, i), *c = jobject(h, "capacity"),
                           *d = jobject(h, "demand"), *f = jobject(h, "fits");
        table_add(t, jstr(h, "name"));
        cell_int(t, d, "vms");
        g_autofree char *vc = g_strdup_printf("%.0f/%.0f", jnum(d, "vcpus"), jnum(c, "cpus"));
        table_add(t, vc);
        g_autofree char *cpu = g_strdup_printf("%.2f cores", jnum(d, "cpu_cores_used"));
        table_add(t, cpu);
        g_autofree char *mu = gib(jnum(d, "memory_bytes_used")), *mt = gib(jnum(c, "memory_bytes"));
        g_autofree char *mem = g_strdup_printf("%s/%s", mu, mt);
        table_add(t, mem);
        g_autofree char *fit = fit_text(f);
        table_add(t, fit);
        table_add(t, jstr(f, "limited_by"));
    }
    print_table(t);
    struct json_object *size = jobject(reply, "size");
    g_autofree char *sm = gib(jnum(size, "memory_bytes")), *sd = gib(jnum(size, "disk_bytes"));
    printf("\nFit: VMs of %.0f vCPUs, %s memory, %s disk%s%s%s.\n", jnum(size, "vcpus"), sm, sd,
           jstr(size, "like") ? " (like " : "", jstr(size, "like") ? jstr(size, "like") : "",
           jstr(size, "like") ? ")" : "");

    static const char *const fcols[] = {"Host", "Resource", "Model", "Runs out", "Backtest"};
    g_autoptr(table) ft = table_new(G_N_ELEMENTS(fcols), fcols);
    static const char *const res[] = {"cpu", "memory", "disk"};
    for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
        struct json_object *h = json_object_array_get_idx(hosts, i), *fc = jobject(h, "forecasts");
        for (guint k = 0; k < G_N_ELEMENTS(res); k++) {
            struct json_object *f = jobject(fc, res[k]), *bt = jobject(f, "backtest");
            table_add(ft, jstr(h, "name"));
            table_add(ft, res[k]);
            table_add(ft, jstr(f, "method"));
            g_autofree char *ex = exhausted_text(f);
            table_add(ft, ex);
            bool beats = false;
            jbool(bt, "beats_baselines", &beats);
            g_autofree char *b =
                bt ? g_strdup_printf("MAE %.3g vs last value %.3g, seasonal naive %.3g: %s",
                                     jnum(bt, "mae"), jnum(bt, "mae_last_value"),
                                     jnum(bt, "mae_seasonal_naive"),
                                     beats ? "beats both" : "does not beat them")
                   : g_strdup(jstr(f, "verdict"));
            table_add(ft, b);
        }
    }
    printf("\nForecasts:\n");
    print_table(ft);
    struct json_object *w = jobject(reply, "whatif");
    if (w) {
        gint64 placed = 0, add = 0, fits = 0;
        bool moved = true;
        jint(w, "placed", &placed);
        jint(w, "add", &add);
        jint(w, "fits", &fits);
        jbool(w, "moved_fits", &moved);
        const char *gone = jstr(w, "remove_host");
        g_autofree char *more =
            fits < 0 ? g_strdup("any number") : g_strdup_printf("%" G_GINT64_FORMAT, fits);
        printf("\nWhat-if:%s%s%s %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
               " VMs placed; %s more fit after.\n",
               gone ? " without " : "", gone ? gone : "",
               gone ? (moved ? " (its VMs fit on the others);"
                             : " (its VMs do NOT fit on the others);")
                    : "",
               placed, add, more);
    }
    return CLI_EXIT_OK;
}
