/*
 * kanri cluster: the kanrid instances sharing one PostgreSQL store and the
 * leases by which they share the hosts (docs/scale-out.md).
 */
#include "config.h"

#include "cli/cli.h"

#include <stdio.h>

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

int cmd_cluster_status(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    bool done;
    int r = cli_ask("GET", "/cluster", NULL, &reply, &done);
    if (done)
        return r;
    bool enabled = false;
    jbool(reply, "enabled", &enabled);
    if (!enabled) {
        printf("One kanrid on its own store: no instances share hosts (a PostgreSQL store "
               "lets several, docs/scale-out.md).\n");
        return 0;
    }
    static const char *const icols[] = {"Instance", "Name",          "Live",
                                        "Hosts",    "Heartbeat age", "Version"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(icols), icols);
    struct json_object *insts = jarray(reply, "instances");
    for (size_t i = 0; insts && i < json_object_array_length(insts); i++) {
        struct json_object *o = json_object_array_get_idx(insts, i);
        bool me = false, live = false;
        jbool(o, "this", &me);
        jbool(o, "live", &live);
        g_autofree char *id = g_strdup_printf("%s%s", or_dash(jstr(o, "id")), me ? " (this)" : "");
        table_add(t, id);
        table_add(t, or_dash(jstr(o, "name")));
        table_add(t, live ? "yes" : "no");
        cell_int(t, o, "hosts");
        struct json_object *age = NULL;
        g_autofree char *a = json_object_object_get_ex(o, "heartbeat_age_seconds", &age)
                                 ? g_strdup_printf("%.1f s", json_object_get_double(age))
                                 : g_strdup("-");
        table_add(t, a);
        table_add(t, or_dash(jstr(o, "version")));
    }
    print_table(t);

    static const char *const lcols[] = {"Host", "Holder", "Epoch", "Since", "Expires"};
    g_autoptr(table) lt = table_new(G_N_ELEMENTS(lcols), lcols);
    struct json_object *leases = jarray(reply, "leases");
    for (size_t i = 0; leases && i < json_object_array_length(leases); i++) {
        struct json_object *l = json_object_array_get_idx(leases, i);
        table_add(lt, or_dash(jstr(l, "host")));
        table_add(lt, jstr(l, "holder_name") ? jstr(l, "holder_name") : "(free)");
        cell_int(lt, l, "epoch");
        table_add(lt, or_dash(jstr(l, "since")));
        table_add(lt, or_dash(jstr(l, "expires")));
    }
    printf("\n");
    print_table(lt);
    printf("\nLeader (history maintenance, notifications): %s\n",
           jstr(reply, "leader") ? jstr(reply, "leader") : "none at the moment");
    const char *err = jstr(reply, "error");
    if (err)
        printf("\nThis instance's last heartbeat failed: %s\n", err);
    return 0;
}
