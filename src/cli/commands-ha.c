/*
 * kanri ha: high availability (docs/ha.md) — what HA sees per host and per
 * HA VM, a VM's HA settings, and an admin's word that a failed host is off.
 */
#include "config.h"

#include "cli/cli.h"

#include "basic/util.h"

#include <stdio.h>
#include <string.h>

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

int cmd_ha_status(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    bool done;
    int r = cli_ask("GET", "/ha", NULL, &reply, &done);
    if (done)
        return r;
    bool enabled = true;
    jbool(reply, "enabled", &enabled);
    static const char *const hcols[] = {"Host", "HA state", "Since", "Connection", "Probe",
                                        "Guests reporting", "Fence", "Why"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(hcols), hcols);
    struct json_object *hosts = jarray(reply, "hosts");
    for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
        struct json_object *h = json_object_array_get_idx(hosts, i);
        struct json_object *sig = jobject(h, "signals");
        table_add(t, jstr(h, "host"));
        table_add(t, jstr(h, "state"));
        table_add(t, or_dash(jstr(h, "since")));
        bool up = false;
        jbool(jobject(sig, "connection"), "up", &up);
        g_autofree char *conn = up ? g_strdup("up")
                                   : g_strdup_printf("lost %s", or_dash(jstr(jobject(sig, "connection"), "lost")));
        table_add(t, conn);
        struct json_object *probe = jobject(sig, "probe");
        g_autofree char *pr = g_strdup_printf("%s (%s)", or_dash(jstr(probe, "answer")),
                                              or_dash(jstr(probe, "kind")));
        table_add(t, pr);
        gint64 direct = 0, reporting = 0;
        jint(jobject(sig, "guests"), "direct", &direct);
        jint(jobject(sig, "guests"), "reporting", &reporting);
        g_autofree char *g = g_strdup_printf("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, reporting,
                                             direct);
        table_add(t, g);
        struct json_object *fence = jobject(h, "fence");
        bool configured = false;
        jbool(fence, "configured", &configured);
        table_add(t, configured ? jstr(fence, "agent") : "none");
        table_add(t, or_dash(jstr(h, "reason")));
    }
    print_table(t);

    static const char *const vcols[] = {"VM", "Host", "State", "HA", "Priority", "Restart",
                                        "Group", "Last recovery"};
    g_autoptr(table) vt = table_new(G_N_ELEMENTS(vcols), vcols);
    struct json_object *vms = jarray(reply, "vms");
    for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
        struct json_object *vm = json_object_array_get_idx(vms, i);
        table_add(vt, or_dash(jstr(vm, "name")));
        table_add(vt, or_dash(jstr(vm, "host")));
        table_add(vt, or_dash(jstr(vm, "state")));
        bool ha = false;
        jbool(vm, "ha", &ha);
        table_add(vt, ha ? "on" : "off");
        gint64 prio = 0;
        jint(vm, "priority", &prio);
        g_autofree char *p = g_strdup_printf("%" G_GINT64_FORMAT, prio);
        table_add(vt, p);
        table_add(vt, jstr(vm, "restart"));
        table_add(vt, or_dash(jstr(vm, "group")));
        struct json_object *rec = jobject(vm, "recovery");
        g_autofree char *last =
            rec ? g_strdup_printf("%s: %s -> %s at %s", jstr(rec, "state"), or_dash(jstr(rec, "from")),
                                  or_dash(jstr(rec, "to")), or_dash(jstr(rec, "since")))
                : g_strdup("-");
        table_add(vt, last);
    }
    printf("\n");
    print_table(vt);
    if (!enabled)
        printf("\nHA is disabled ([ha] enabled = no, or the policies' kill switch): nothing is "
               "fenced or restarted.\n");
    return CLI_EXIT_OK;
}

/* kanri ha set VM on|off|reset|[priority=N] [restart=P] [group=G] */
int cmd_ha_set(const struct cli_verb *v, char **args, guint n)
{
    g_autofree char *esc = http_escape(args[0]);
    g_autofree char *path = g_strdup_printf("/vms/%s/ha", esc);
    g_autoptr(json_object) reply = NULL;
    if (n == 2 && !strcmp(args[1], "reset")) {
        int r = api_request("DELETE", path, NULL, &reply);
        if (r != CLI_EXIT_OK)
            return cli_done(r);
        g_autofree char *clean = text_sanitize(args[0]);
        printf("%s: HA settings back to kanri.conf's.\n", clean);
        return CLI_EXIT_OK;
    }
    json_object *body = json_object_new_object();
    json_object_object_add(body, "ha", json_object_new_boolean(true));
    for (guint i = 1; i < n; i++) {
        const char *a = args[i];
        const char *eq = strchr(a, '=');
        if (!strcmp(a, "on") || !strcmp(a, "off")) {
            json_object_object_add(body, "ha", json_object_new_boolean(!strcmp(a, "on")));
        } else if (g_str_has_prefix(a, "priority=")) {
            char *end = NULL;
            long p = strtol(eq + 1, &end, 10);
            if (!eq[1] || *end) {
                json_object_put(body);
                return cli_usage_error("priority: expected a whole number, got '%s'", eq + 1);
            }
            json_object_object_add(body, "priority", json_object_new_int64(p));
        } else if (g_str_has_prefix(a, "restart=")) {
            json_object_object_add(body, "restart", json_object_new_string(eq + 1));
        } else if (g_str_has_prefix(a, "group=")) {
            json_object_object_add(body, "group",
                                   eq[1] ? json_object_new_string(eq + 1) : NULL);
        } else {
            g_autofree char *clean = text_sanitize(a);
            json_object_put(body);
            return cli_usage_error("expected on, off, reset, priority=N, restart=POLICY or "
                                   "group=NAME, got '%s'",
                                   clean);
        }
    }
    bool done;
    int r = cli_ask("PUT", path, body, &reply, &done);
    json_object_put(body);
    if (done)
        return r;
    bool ha = false;
    jbool(reply, "ha", &ha);
    gint64 prio = 0;
    jint(reply, "priority", &prio);
    g_autofree char *clean = text_sanitize(args[0]);
    printf("%s: HA %s, priority %" G_GINT64_FORMAT ", restart %s, group %s.\n", clean,
           ha ? "on" : "off", prio, or_dash(jstr(reply, "restart")), or_dash(jstr(reply, "group")));
    return CLI_EXIT_OK;
}

int cmd_ha_fenced(const struct cli_verb *v, char **args, guint n)
{
    g_autofree char *esc = http_escape(args[0]);
    g_autofree char *path = g_strdup_printf("/ha/hosts/%s/fenced", esc);
    json_object *body = json_object_new_object();
    if (cli_opts.comment)
        json_object_object_add(body, "comment", json_object_new_string(cli_opts.comment));
    g_autoptr(json_object) reply = NULL;
    bool done;
    int r = cli_ask("POST", path, body, &reply, &done);
    json_object_put(body);
    if (done)
        return r;
    g_autofree char *clean = text_sanitize(args[0]);
    printf("Host %s confirmed off: its HA VMs are restarted elsewhere.\n", clean);
    return CLI_EXIT_OK;
}
