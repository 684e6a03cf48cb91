/*
 * kanri agent enroll|list: guest agents (kanri-guestd); kanri machine
 * list|show: the machines they report on (kanri machine stats is in
 * commands-stats.c).
 */
#include "config.h"

#include "cli/cli.h"
#include "cli/format.h"

#include <stdio.h>

int cmd_agent_enroll(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) body = json_object_new_object();
    g_autoptr(json_object) reply = NULL;

    json_object_object_add(body, "machine", json_object_new_string(args[0]));
    if (cli_opts.name)
        json_object_object_add(body, "name", json_object_new_string(cli_opts.name));
    int r = api_request("POST", "/agents", body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    g_autofree char *name = text_sanitize(jstr(reply, "name") ? jstr(reply, "name") : args[0]);
    g_autofree char *uuid = text_sanitize(jstr(reply, "machine_uuid"));
    return cli_print_token(reply,
                           "Agent '%s' (machine %s) enrolled; its token is shown only this once "
                           "(enrolling again replaces it):",
                           name, uuid);
}

int cmd_agent_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *agents = NULL;
    int r = cli_get_list("/agents", "agents", &reply, &agents);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    static const char *const cols[] = {"Name",         "Machine",  "Bound to",  "Version",
                                       "Last contact", "Lag",      "Backlog",   "Dropped",
                                       "Accepted",     "Rejected", "Last error"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    for (guint c = 5; c <= 9; c++)
        table_align_right(t, c);
    for (size_t i = 0; i < json_object_array_length(agents); i++) {
        struct json_object *a = json_object_array_get_idx(agents, i);
        table_add(t, jstr(a, "name"));
        table_add(t, jstr(a, "machine_uuid"));
        g_autofree char *bound = jstr(a, "vm")
                                     ? g_strdup_printf("%s:%s", jstr(a, "host"), jstr(a, "vm"))
                                     : g_strdup("standalone");
        table_add(t, bound);
        table_add(t, jstr(a, "agent_version"));
        table_add(t, jstr(a, "last_contact") ? jstr(a, "last_contact") : "never");
        struct json_object *lag = NULL;
        g_autofree char *lag_text = NULL;
        if (json_object_object_get_ex(a, "lag_seconds", &lag) && lag)
            lag_text = g_strdup_printf("%.1f s", json_object_get_double(lag));
        table_add(t, lag_text);
        cell_int(t, a, "spool_backlog");
        cell_int(t, a, "spool_dropped");
        cell_int(t, a, "accepted");
        cell_int(t, a, "rejected");
        table_add(t, jstr(a, "last_error"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

/* ---- kanri machine: what kanri-guestd reports on (a VM, or a server) ---- */

static const char *dash(const char *s)
{
    return s && *s ? s : "-";
}

static char *bytes_of(struct json_object *o, const char *key)
{
    gint64 v;
    return jint(o, key, &v) ? size_format((guint64)v) : g_strdup("-");
}

/* "3.2 GiB of 7.8 GiB" from USED and TOTAL, or "-". */
static char *used_of(gint64 used, bool have_used, struct json_object *o, const char *total)
{
    gint64 t;
    if (!have_used || !jint(o, total, &t))
        return g_strdup("-");
    g_autofree char *u = size_format((guint64)MAX(used, 0));
    g_autofree char *tt = size_format((guint64)t);
    return g_strdup_printf("%s of %s", u, tt);
}

static void machine_figures(struct json_object *l, char **ret_cpu, char **ret_mem,
                            char **ret_load, char **ret_fs)
{
    struct json_object *cv = NULL;
    *ret_cpu = l && json_object_object_get_ex(l, "cpu_busy_pct", &cv) && cv
                   ? g_strdup_printf("%.1f %%", json_object_get_double(cv))
                   : g_strdup("-");
    gint64 total = 0, avail = 0;
    bool mem = jint(l, "mem_total_bytes", &total) && jint(l, "mem_available_bytes", &avail);
    *ret_mem = used_of(total - avail, mem, l, "mem_total_bytes");
    struct json_object *lv = NULL;
    *ret_load = l && json_object_object_get_ex(l, "load1", &lv) && lv
                    ? g_strdup_printf("%.2f", json_object_get_double(lv))
                    : g_strdup("-");
    gint64 fs_used = 0;
    bool fs = jint(l, "fs_used_bytes", &fs_used);
    *ret_fs = used_of(fs_used, fs, l, "fs_total_bytes");
}

int cmd_machine_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    bool done;
    int r = cli_ask("GET", "/machines", NULL, &reply, &done);
    if (done)
        return r;
    static const char *const cols[] = {"Name", "Kind",   "VM / host", "Last contact",
                                       "CPU",  "Memory used", "Load", "Disk used"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    struct json_object *list = jarray(reply, "machines");
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        struct json_object *m = json_object_array_get_idx(list, i);
        table_add(t, jstr(m, "name"));
        table_add(t, jstr(m, "kind"));
        g_autofree char *where = jstr(m, "vm") ? g_strdup_printf("%s on %s", jstr(m, "vm"),
                                                                dash(jstr(m, "host")))
                                              : g_strdup("-");
        table_add(t, where);
        bool silent = false;
        jbool(m, "silent", &silent);
        g_autofree char *contact = g_strdup_printf("%s%s", dash(jstr(m, "last_contact")),
                                                   silent ? " (silent)" : "");
        table_add(t, contact);
        g_autofree char *cpu = NULL, *mem = NULL, *load = NULL, *fs = NULL;
        machine_figures(jobject(m, "latest"), &cpu, &mem, &load, &fs);
        table_add(t, cpu);
        table_add(t, mem);
        table_add(t, load);
        table_add(t, fs);
    }
    print_table(t);
    return CLI_EXIT_OK;
}

int cmd_machine_show(const struct cli_verb *v, char **args, guint n)
{
    g_autofree char *esc = http_escape(args[0]);
    g_autofree char *path = g_strdup_printf("/machines/%s", esc);
    g_autoptr(json_object) reply = NULL;
    bool done;
    int r = cli_ask("GET", path, NULL, &reply, &done);
    if (done)
        return r;
    struct json_object *m = jobject(reply, "machine");
    struct json_object *l = jobject(m, "latest");
    g_autofree char *cpu = NULL, *mem = NULL, *load = NULL, *fs = NULL;
    machine_figures(l, &cpu, &mem, &load, &fs);
    bool silent = false;
    jbool(m, "silent", &silent);
    printf("Name:          %s\n", dash(jstr(m, "name")));
    printf("UUID:          %s\n", dash(jstr(m, "uuid")));
    printf("Kind:          %s%s%s%s%s\n", dash(jstr(m, "kind")), jstr(m, "vm") ? " (VM " : "",
           jstr(m, "vm") ? jstr(m, "vm") : "", jstr(m, "vm") ? " on " : "",
           jstr(m, "vm") ? dash(jstr(m, "host")) : "");
    if (jstr(m, "vm"))
        printf(")\n");
    printf("Hostname:      %s\n", dash(jstr(m, "hostname")));
    printf("Agent:         kanri-guestd %s\n", dash(jstr(m, "agent_version")));
    printf("Last contact:  %s%s\n", dash(jstr(m, "last_contact")), silent ? " (silent)" : "");
    printf("Newest sample: %s\n", dash(jstr(l, "time")));
    printf("CPU busy:      %s\n", cpu);
    printf("Memory used:   %s\n", mem);
    printf("Load (1 min):  %s\n", load);
    printf("Disk used:     %s\n", fs);
    struct json_object *fss = jarray(m, "filesystems");
    if (fss && json_object_array_length(fss)) {
        static const char *const cols[] = {"Filesystem", "Type", "Used", "Size"};
        g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
        for (size_t i = 0; i < json_object_array_length(fss); i++) {
            struct json_object *f = json_object_array_get_idx(fss, i);
            table_add(t, dash(jstr(f, "path")));
            table_add(t, dash(jstr(f, "type")));
            g_autofree char *used = bytes_of(f, "used_bytes");
            g_autofree char *size = bytes_of(f, "total_bytes");
            table_add(t, used);
            table_add(t, size);
        }
        printf("\n");
        print_table(t);
    }
    return CLI_EXIT_OK;
}
