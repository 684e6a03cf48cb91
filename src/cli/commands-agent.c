/*
 * kanri agent enroll|list: guest agents (kanri-guestd).
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
    g_autofree char *text = table_render(t);
    fputs(text, stdout);
    return CLI_EXIT_OK;
}
