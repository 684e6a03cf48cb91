/*
 * kanri policy, kanri decisions, kanri host maintenance: the autonomic
 * policies (docs/policies.md).
 */
#include "config.h"

#include "cli/cli.h"

#include "basic/util.h"

#include <stdio.h>
#include <string.h>

static bool is_policy(const char *name, bool all_too)
{
    return !strcmp(name, "memory") || !strcmp(name, "balance") ||
           (all_too && !strcmp(name, "all"));
}

static int bad_policy(const char *name, bool all_too)
{
    g_autofree char *clean = text_sanitize(name);
    return cli_usage_error("unknown policy '%s' (memory, balance%s)", clean,
                           all_too ? ", or all for the kill switch" : "");
}

/* KEY=VALUE arguments into an object of settings ("KEY=" is refused:
 * kanri policy reset puts a setting back to kanri.conf's). */
static int settings_of(char **args, guint n, json_object *settings)
{
    for (guint i = 0; i < n; i++) {
        const char *eq = strchr(args[i], '=');
        if (!eq || eq == args[i] || !eq[1]) {
            g_autofree char *clean = text_sanitize(args[i]);
            return cli_usage_error("expected KEY=VALUE, got '%s'", clean);
        }
        g_autofree char *key = g_strndup(args[i], (gsize)(eq - args[i]));
        json_object_object_add(settings, key, json_object_new_string(eq + 1));
    }
    return CLI_EXIT_OK;
}

static void print_policy(struct json_object *p)
{
    bool enabled = true;
    jbool(p, "enabled", &enabled);
    struct kv *kv = kv_new();
    struct json_object *settings = jobject(p, "settings");
    struct json_object *over = jobject(p, "overridden");
    kv_add(kv, "Policy", jstr(p, "name"));
    kv_addf(kv, "Mode", "%s%s", jstr(p, "mode") ? jstr(p, "mode") : "-",
            enabled ? "" : " (all policies stopped by the kill switch)");
    if (settings) {
        json_object_object_foreach(settings, key, val)
        {
            if (!strcmp(key, "mode"))
                continue;
            bool mine = over && json_object_object_get_ex(over, key, NULL);
            kv_addf(kv, key, "%s%s", json_object_get_string(val), mine ? "  (set over the API)" : "");
        }
    }
    struct json_object *paused = jarray(p, "paused");
    size_t np = paused ? json_object_array_length(paused) : 0;
    if (!np)
        kv_add(kv, "Paused for", "-");
    for (size_t i = 0; i < np; i++) {
        struct json_object *v = json_object_array_get_idx(paused, i);
        kv_add(kv, i ? "" : "Paused for", jstr(v, "vm") ? jstr(v, "vm") : jstr(v, "vm_uuid"));
    }
    kv_print_free(kv);
}

int cmd_policy_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    bool done;
    int r = cli_ask("GET", "/policies", NULL, &reply, &done);
    if (done)
        return r;
    bool enabled = true;
    jbool(reply, "enabled", &enabled);
    static const char *const cols[] = {"Policy", "Mode", "Set over the API", "Paused for"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    struct json_object *list = jarray(reply, "policies");
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        struct json_object *p = json_object_array_get_idx(list, i);
        table_add(t, jstr(p, "name"));
        table_add(t, jstr(p, "mode"));
        g_autoptr(GString) keys = g_string_new(NULL);
        struct json_object *over = jobject(p, "overridden");
        if (over) {
            json_object_object_foreach(over, key, val)
            {
                (void)val;
                g_string_append_printf(keys, "%s%s", keys->len ? ", " : "", key);
            }
        }
        table_add(t, keys->len ? keys->str : "-");
        struct json_object *paused = jarray(p, "paused");
        g_autofree char *np = g_strdup_printf("%zu VM(s)", paused ? json_object_array_length(paused) : 0);
        table_add(t, np);
    }
    print_table(t);
    if (!enabled)
        printf("\nThe kill switch is on: no policy decides (kanri policy set all enabled=yes).\n");
    struct json_object *maint = jarray(reply, "maintenance");
    if (maint && json_object_array_length(maint)) {
        printf("\nHosts in maintenance:");
        for (size_t i = 0; i < json_object_array_length(maint); i++)
            printf(" %s", json_object_get_string(json_object_array_get_idx(maint, i)));
        printf("\n");
    }
    return CLI_EXIT_OK;
}

int cmd_policy_show(const struct cli_verb *v, char **args, guint n)
{
    if (!is_policy(args[0], false))
        return bad_policy(args[0], false);
    g_autoptr(json_object) reply = NULL;
    g_autofree char *path = g_strdup_printf("/policies/%s", args[0]);
    bool done;
    int r = cli_ask("GET", path, NULL, &reply, &done);
    if (done)
        return r;
    print_policy(reply);
    return CLI_EXIT_OK;
}

static int send_settings(const char *policy, json_object *settings)
{
    g_autoptr(json_object) body = json_object_new_object();
    json_object_object_add(body, "settings", settings);
    g_autoptr(json_object) reply = NULL;
    g_autofree char *path = g_strdup_printf("/policies/%s", policy);
    bool done;
    int r = cli_ask("PATCH", path, body, &reply, &done);
    if (done)
        return r;
    if (!strcmp(policy, "all")) {
        bool enabled = true;
        jbool(reply, "enabled", &enabled);
        printf("Policies %s.\n", enabled ? "enabled" : "stopped (kill switch on)");
        return CLI_EXIT_OK;
    }
    print_policy(reply);
    return CLI_EXIT_OK;
}

int cmd_policy_set(const struct cli_verb *v, char **args, guint n)
{
    if (!is_policy(args[0], true))
        return bad_policy(args[0], true);
    json_object *settings = json_object_new_object();
    int r = settings_of(args + 1, n - 1, settings);
    if (r != CLI_EXIT_OK) {
        json_object_put(settings);
        return r;
    }
    return send_settings(args[0], settings);
}

int cmd_policy_reset(const struct cli_verb *v, char **args, guint n)
{
    if (!is_policy(args[0], true))
        return bad_policy(args[0], true);
    json_object *settings = json_object_new_object();
    for (guint i = 1; i < n; i++)
        json_object_object_add(settings, args[i], NULL);
    return send_settings(args[0], settings);
}

int cmd_policy_resume(const struct cli_verb *v, char **args, guint n)
{
    if (!is_policy(args[0], false))
        return bad_policy(args[0], false);
    g_autofree char *esc = http_escape(args[1]);
    g_autofree char *path = g_strdup_printf("/policies/%s/paused/%s", args[0], esc);
    g_autoptr(json_object) reply = NULL;
    int r = api_request("DELETE", path, NULL, &reply);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    g_autofree char *clean = text_sanitize(args[1]);
    printf("Policy %s acts on %s again.\n", args[0], clean);
    return CLI_EXIT_OK;
}

/* One row per decision, for `decisions` and `simulate`. */
static void print_decisions(struct json_object *list, bool with_state)
{
    static const char *const cols[] = {"Id",  "Time",   "Policy", "VM",    "Host",
                                       "Rule", "Action", "State",  "Reason"};
    static const char *const cols_sim[] = {"Time", "Policy", "VM", "Host", "Rule", "Action",
                                           "Reason"};
    g_autoptr(table) t = with_state ? table_new(G_N_ELEMENTS(cols), cols)
                                    : table_new(G_N_ELEMENTS(cols_sim), cols_sim);
    if (with_state)
        table_align_right(t, 0);
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        struct json_object *d = json_object_array_get_idx(list, i);
        if (with_state)
            cell_int(t, d, "id");
        table_add(t, jstr(d, "time"));
        table_add(t, jstr(d, "policy"));
        table_add(t, jstr(d, "vm"));
        table_add(t, jstr(d, "host"));
        table_add(t, jstr(d, "rule"));
        g_autofree char *action = NULL;
        const char *act = jstr(d, "action");
        struct json_object *params = jobject(d, "params");
        gint64 mem = 0;
        if (act && !strcmp(act, "set-memory") &&
            (jint(d, "memory_bytes", &mem) || (params && jint(params, "memory_bytes", &mem))))
            action = g_strdup_printf("set-memory %" G_GINT64_FORMAT " MiB", mem >> 20);
        else if (act && !strcmp(act, "migrate"))
            action = g_strdup_printf("migrate to %s", jstr(d, "to_host") ? jstr(d, "to_host") : "?");
        table_add(t, action ? action : act);
        if (with_state) {
            g_autofree char *state = NULL;
            const char *verdict = jstr(d, "verdict");
            state = verdict ? g_strdup_printf("%s, %s", jstr(d, "state"), verdict)
                            : g_strdup(jstr(d, "state"));
            table_add(t, state);
        }
        table_add(t, jstr(d, "reason"));
    }
    print_table(t);
}

int cmd_decisions(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(GString) path = g_string_new("/decisions");
    if (cli_opts.vm)
        cli_query_add(path, "vm", cli_opts.vm);
    if (cli_opts.host)
        cli_query_add(path, "host", cli_opts.host);
    if (cli_opts.policy) {
        if (strcmp(cli_opts.policy, "memory") && strcmp(cli_opts.policy, "balance") &&
            strcmp(cli_opts.policy, "maintenance"))
            return cli_usage_error("--policy is memory, balance or maintenance");
        cli_query_add(path, "policy", cli_opts.policy);
    }
    if (cli_opts.all)
        cli_query_add(path, "action", "any");
    if (cli_opts.since)
        cli_query_add(path, "from", cli_opts.since);
    if (cli_opts.limit > 0) {
        g_autofree char *lim = g_strdup_printf("%d", cli_opts.limit);
        cli_query_add(path, "limit", lim);
    }
    g_autoptr(json_object) reply = NULL;
    struct json_object *list = NULL;
    int r = cli_get_list(path->str, "decisions", &reply, &list);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    print_decisions(list, true);
    if (jstr(reply, "next_cursor"))
        fprintf(stderr, "(more decisions than shown: narrow the filters or raise --limit)\n");
    return CLI_EXIT_OK;
}

int cmd_policy_simulate(const struct cli_verb *v, char **args, guint n)
{
    if (!is_policy(args[0], false))
        return bad_policy(args[0], false);
    if (!cli_opts.from)
        return cli_usage_error("--from is required (RFC 3339, epoch seconds or a duration such "
                               "as 24h)");
    g_autoptr(json_object) body = json_object_new_object();
    json_object_object_add(body, "from", json_object_new_string(cli_opts.from));
    if (cli_opts.to)
        json_object_object_add(body, "to", json_object_new_string(cli_opts.to));
    if (cli_opts.host)
        json_object_object_add(body, "host", json_object_new_string(cli_opts.host));
    if (n > 1) {
        json_object *settings = json_object_new_object();
        json_object_object_add(body, "settings", settings);
        int r = settings_of(args + 1, n - 1, settings);
        if (r != CLI_EXIT_OK)
            return r;
    }
    g_autofree char *path = g_strdup_printf("/policies/%s/simulate", args[0]);
    g_autoptr(json_object) reply = NULL;
    api_extend_timeout(300);
    bool done;
    int r = cli_ask("POST", path, body, &reply, &done);
    if (done)
        return r;
    struct json_object *acts = jarray(reply, "decisions");
    if (acts && json_object_array_length(acts))
        print_decisions(acts, false);
    else
        printf("The policy would have done nothing.\n");
    struct json_object *sum = jobject(reply, "summary");
    gint64 rounds = 0, actions = 0, reclaimed = 0, given = 0, migrations = 0;
    jint(reply, "rounds", &rounds);
    jint(sum, "actions", &actions);
    jint(sum, "reclaimed_bytes", &reclaimed);
    jint(sum, "given_back_bytes", &given);
    jint(sum, "migrations", &migrations);
    printf("\n%" G_GINT64_FORMAT " rounds of history; %" G_GINT64_FORMAT
           " actions: %" G_GINT64_FORMAT " MiB reclaimed, %" G_GINT64_FORMAT
           " MiB given back, %" G_GINT64_FORMAT " migrations.\n",
           rounds, actions, reclaimed >> 20, given >> 20, migrations);
    struct json_object *none = jobject(sum, "no_action");
    if (none && json_object_object_length(none)) {
        printf("Rounds without an action, by reason:");
        json_object_object_foreach(none, key, val)
        {
            printf(" %s %d;", key, json_object_get_int(val));
        }
        printf("\n");
    }
    bool truncated = false;
    if (jbool(reply, "truncated", &truncated) && truncated)
        printf("(only the first 1000 actions are listed)\n");
    return CLI_EXIT_OK;
}

int cmd_host_maintenance(const struct cli_verb *v, char **args, guint n)
{
    bool on;
    if (!strcmp(args[1], "on"))
        on = true;
    else if (!strcmp(args[1], "off"))
        on = false;
    else
        return cli_usage_error("expected on or off after the host");
    g_autoptr(json_object) body = json_object_new_object();
    json_object_object_add(body, "on", json_object_new_boolean(on));
    if (cli_opts.why)
        json_object_object_add(body, "reason", json_object_new_string(cli_opts.why));
    g_autofree char *esc = http_escape(args[0]);
    g_autofree char *path = g_strdup_printf("/hosts/%s/maintenance", esc);
    g_autoptr(json_object) reply = NULL;
    bool done;
    int r = cli_ask("POST", path, body, &reply, &done);
    if (done)
        return r;
    g_autofree char *host = text_sanitize(args[0]);
    if (!on) {
        printf("Host %s is out of maintenance: VMs may be placed on it again.\n", host);
        return CLI_EXIT_OK;
    }
    printf("Host %s is in maintenance: nothing is placed on it; its VMs are evacuated.\n", host);
    struct json_object *plan = jarray(reply, "plan");
    if (plan && json_object_array_length(plan)) {
        printf("\nEvacuation as planned now:\n");
        print_decisions(plan, false);
    } else {
        printf("No VM runs on it.\n");
    }
    return CLI_EXIT_OK;
}
