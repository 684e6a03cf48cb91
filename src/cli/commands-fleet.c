/*
 * `kanri fleet`: every host and VM at a glance, from GET /fleet — a host
 * table (state, CPU demand against CPUs, memory used against memory,
 * storage, open findings and incidents), why hosts are not connected,
 * and a VM table (latest R and worst open finding).
 */
#include "config.h"

#include "cli/cli.h"

#include <stdio.h>

static bool num(struct json_object *o, const char *key, double *ret)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return false;
    *ret = json_object_get_double(v);
    return true;
}

static char *size_of(struct json_object *o, const char *key)
{
    gint64 v;
    return jint(o, key, &v) && v >= 0 ? size_format((guint64)v) : g_strdup("-");
}

/* " (N VMs)" when a sum covers fewer VMs than run: the others have no R. */
static const char *coverage(GString *s, struct json_object *h, const char *key)
{
    gint64 n = 0, running = 0;
    g_string_truncate(s, 0);
    if (jint(h, key, &n) && jint(h, "vms_running", &running) && n != running)
        g_string_printf(s, " (%" G_GINT64_FORMAT " VMs)", n);
    return s->str;
}

/* "C/W/I" or "C/M/W/I" from a counts object, worst first. */
static void cell_counts(struct table *t, struct json_object *o, const char *const *sevs)
{
    g_autoptr(GString) s = g_string_new(NULL);
    for (size_t i = 0; sevs[i]; i++) {
        gint64 n = 0;
        if (!jint(o, sevs[i], &n)) {
            table_add(t, NULL);
            return;
        }
        g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i ? "/" : "", n);
    }
    table_add(t, s->str);
}

static const char *const finding_sevs[] = {"critical", "warning", "info", NULL};
static const char *const incident_sevs[] = {"critical", "major", "warning", "info", NULL};

static void print_hosts(struct json_object *hosts)
{
    static const char *const cols[] = {"Host",        "State",        "VMs",      "CPU demand",
                                       "Memory used", "Storage used", "Findings", "Incidents"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    for (guint c = 2; c < 6; c++)
        table_align_right(t, c);
    g_autoptr(GString) cov = g_string_new(NULL);
    for (size_t i = 0; i < json_object_array_length(hosts); i++) {
        struct json_object *h = json_object_array_get_idx(hosts, i);
        gint64 running = 0, total = 0, cpus = 0;
        double cores = 0;
        table_add(t, jstr(h, "name"));
        table_add(t, jstr(h, "state"));
        jint(h, "vms_running", &running);
        jint(h, "vms_total", &total);
        table_addf(t, "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, running, total);
        g_autofree char *cpu_of =
            jint(h, "cpus", &cpus) ? g_strdup_printf("%" G_GINT64_FORMAT, cpus) : g_strdup("-");
        if (num(h, "cpu_demand_cores", &cores))
            table_addf(t, "%.1f of %s%s", cores, cpu_of, coverage(cov, h, "cpu_demand_vms"));
        else
            table_addf(t, "- of %s", cpu_of);
        g_autofree char *used = size_of(h, "mem_used_bytes");
        g_autofree char *mem = size_of(h, "memory_bytes");
        table_addf(t, "%s of %s%s", used, mem,
                   g_strcmp0(used, "-") ? coverage(cov, h, "mem_used_vms") : "");
        g_autofree char *alloc = size_of(h, "storage_allocation_bytes");
        g_autofree char *cap = size_of(h, "storage_capacity_bytes");
        table_addf(t, "%s of %s", alloc, cap);
        cell_counts(t, jobject(h, "findings_open"), finding_sevs);
        cell_counts(t, jobject(h, "incidents_open"), incident_sevs);
    }
    print_table(t);
    for (size_t i = 0; i < json_object_array_length(hosts); i++) {
        struct json_object *h = json_object_array_get_idx(hosts, i);
        if (!jstr(h, "reason"))
            continue;
        g_autofree char *name = text_sanitize(jstr(h, "name"));
        g_autofree char *why = text_sanitize(jstr(h, "reason"));
        printf("%s: %s: %s\n", name, jstr(h, "state"), why);
    }
}

static void print_vms(struct json_object *vms)
{
    static const char *const cols[] = {"VM",         "Host",     "State",
                                       "CPU demand", "Mem used", "Mem total",
                                       "Disk used",  "Findings", "Worst"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    for (guint c = 3; c < 8; c++)
        table_align_right(t, c);
    for (size_t i = 0; i < json_object_array_length(vms); i++) {
        struct json_object *v = json_object_array_get_idx(vms, i);
        double pct;
        table_add(t, jstr(v, "name"));
        table_add(t, jstr(v, "host"));
        table_add(t, jstr(v, "state"));
        if (num(v, "cpu_demand_pct", &pct))
            table_addf(t, "%.1f %%", pct);
        else
            table_add(t, NULL);
        cell_size(t, v, "mem_used_bytes");
        cell_size(t, v, "mem_total_bytes");
        cell_size(t, v, "disk_used_bytes");
        cell_int(t, v, "findings_open");
        table_add(t, jstr(v, "worst_severity"));
    }
    print_table(t);
}

int cmd_fleet(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GString) path = g_string_new("/fleet");
    if (cli_opts.host)
        cli_query_add(path, "host", cli_opts.host);
    struct json_object *hosts = NULL;
    int r = cli_get_list(path->str, "hosts", &reply, &hosts);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    struct json_object *vms = jarray(reply, "vms");
    if (!vms) {
        cli_error("the server's reply has no 'vms' list");
        return CLI_EXIT_SERVER;
    }
    print_hosts(hosts);
    printf("\n");
    print_vms(vms);
    g_autoptr(GString) f = g_string_new(NULL), i = g_string_new(NULL);
    for (size_t k = 0; finding_sevs[k]; k++) {
        gint64 c = 0;
        jint(jobject(reply, "findings_open"), finding_sevs[k], &c);
        g_string_append_printf(f, "%s%" G_GINT64_FORMAT " %s", k ? ", " : "", c, finding_sevs[k]);
    }
    for (size_t k = 0; incident_sevs[k]; k++) {
        gint64 c = 0;
        jint(jobject(reply, "incidents_open"), incident_sevs[k], &c);
        g_string_append_printf(i, "%s%" G_GINT64_FORMAT " %s", k ? ", " : "", c, incident_sevs[k]);
    }
    printf("\nOpen findings: %s\nOpen incidents: %s\n", f->str, i->str);
    return CLI_EXIT_OK;
}
