/*
 * kanri ct: containers.  A container is a VM of the inventory whose
 * domain_type is "lxc" (kind "container"): it is created with POST
 * /containers, and listed, shown and driven through /vms like any VM, with
 * the words containers use (stop, kill, freeze, thaw, rm, limits).
 */
#include "config.h"

#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

/* The bounds of the set-limits action (src/model/action.c). */
#define CT_MAX_MILLICORES (1024 * 1000)
#define CT_MAX_WEIGHT     10000
#define CT_MAX_PIDS       4194304

/* Whether a VM object of the API is a container: of kind container (when
 * the server says), or of domain type lxc (libvirt's LXC driver too). */
static bool is_container(struct json_object *vm)
{
    return g_strcmp0(jstr(vm, "kind"), "container") == 0 ||
           g_strcmp0(jstr(vm, "domain_type"), "lxc") == 0;
}

static char *ct_path(const char *ct, const char *suffix)
{
    g_autofree char *esc = http_escape(ct);
    return g_strconcat("/vms/", esc, suffix, NULL);
}

/* "Container 'NAME' WHAT (audit #N)". */
static int ct_confirm(struct json_object *reply, const char *given, const char *what)
{
    const char *name = jstr(jobject(reply, "vm"), "name");
    g_autofree char *clean = text_sanitize(name ? name : given);
    gint64 audit = 0;
    g_autofree char *suffix = jint(reply, "audit_id", &audit)
                                  ? g_strdup_printf(" (audit #%" G_GINT64_FORMAT ")", audit)
                                  : g_strdup("");
    printf("Container '%s' %s%s\n", clean, what, suffix);
    return CLI_EXIT_OK;
}

/* POSTs action ACTION on CT; prints the reply under --json.  Returns -1
 * when done (--json), else the exit status. */
static int ct_action(const char *ct, const char *action, struct json_object *params,
                     struct json_object **ret_reply)
{
    g_autofree char *suffix = g_strconcat("/actions/", action, NULL);
    g_autofree char *path = ct_path(ct, suffix);
    int r = api_request("POST", path, params, ret_reply);
    if (r == CLI_EXIT_OK && cli_opts.json) {
        print_json(*ret_reply);
        return -1;
    }
    return r;
}

/* ---- argument parsers: false when S does not fit ---- */

/* SIZE as vm setmem takes it (512M, 1G; a plain number is MiB), or 0 when
 * ZERO_OK. */
static bool parse_memory(const char *s, bool zero_ok, guint64 *ret)
{
    if (zero_ok && strcmp(s, "0") == 0) {
        *ret = 0;
        return true;
    }
    return size_parse(s, ret) && *ret <= (guint64)G_MAXINT64 / 2;
}

/* N.N cores as thousandths: "0.5" is 500, "2" is 2000; at most three
 * decimals. */
static bool parse_cpus(const char *s, guint64 *ret)
{
    guint64 whole = 0, frac = 0;
    const char *dot = strchr(s, '.');
    g_autofree char *ip = g_strndup(s, dot ? (gsize)(dot - s) : strlen(s));
    if (!g_ascii_string_to_unsigned(ip, 10, 0, CT_MAX_MILLICORES / 1000, &whole, NULL))
        return false;
    if (dot) {
        size_t nd = strlen(dot + 1);
        if (nd < 1 || nd > 3 || !g_ascii_string_to_unsigned(dot + 1, 10, 0, 999, &frac, NULL))
            return false;
        for (size_t i = nd; i < 3; i++)
            frac *= 10;
    }
    *ret = whole * 1000 + frac;
    return *ret <= CT_MAX_MILLICORES;
}

static bool parse_uint(const char *s, guint64 max, guint64 *ret)
{
    return g_ascii_string_to_unsigned(s, 10, 0, max, ret, NULL);
}

/* Adds the limits given on the command line to BODY; returns the number
 * added, or -1 after a usage error (its exit status in *ret_exit). */
static int add_limits(struct json_object *body, bool removing, int *ret_exit)
{
    int n = 0;
    guint64 v = 0;
    if (cli_opts.ct_memory) {
        if (!parse_memory(cli_opts.ct_memory, true, &v)) {
            g_autofree char *clean = text_sanitize(cli_opts.ct_memory);
            *ret_exit = cli_usage_error("invalid --memory '%s' (a size such as 128M or 1G; a "
                                        "plain number is MiB%s)",
                                        clean, removing ? "; 0 removes the limit" : "");
            return -1;
        }
        json_object_object_add(body, "memory_bytes", json_object_new_int64((gint64)v));
        n++;
    }
    if (cli_opts.ct_cpus) {
        if (!parse_cpus(cli_opts.ct_cpus, &v)) {
            g_autofree char *clean = text_sanitize(cli_opts.ct_cpus);
            *ret_exit = cli_usage_error("invalid --cpus '%s' (cores, at most 3 decimals, "
                                        "0.001 to 1024, such as 0.5 or 2%s)",
                                        clean, removing ? "; 0 removes the limit" : "");
            return -1;
        }
        json_object_object_add(body, "cpu_millicores", json_object_new_int64((gint64)v));
        n++;
    }
    if (cli_opts.ct_cpu_weight) {
        if (!parse_uint(cli_opts.ct_cpu_weight, CT_MAX_WEIGHT, &v)) {
            g_autofree char *clean = text_sanitize(cli_opts.ct_cpu_weight);
            *ret_exit = cli_usage_error("invalid --cpu-weight '%s' (a whole number from 1 to "
                                        "10000%s)",
                                        clean, removing ? "; 0 removes the weight" : "");
            return -1;
        }
        json_object_object_add(body, "cpu_weight", json_object_new_int64((gint64)v));
        n++;
    }
    if (cli_opts.ct_pids) {
        if (!parse_uint(cli_opts.ct_pids, CT_MAX_PIDS, &v)) {
            g_autofree char *clean = text_sanitize(cli_opts.ct_pids);
            *ret_exit = cli_usage_error("invalid --pids '%s' (a whole number of processes, up "
                                        "to 4194304%s)",
                                        clean, removing ? "; 0 removes the limit" : "");
            return -1;
        }
        json_object_object_add(body, "pids", json_object_new_int64((gint64)v));
        n++;
    }
    return n;
}

/* ---- the verbs ---- */

int cmd_ct_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GString) path = g_string_new("/vms");
    if (cli_opts.host)
        cli_query_add(path, "host", cli_opts.host);
    int r = api_request("GET", path->str, NULL, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    struct json_object *vms = jarray(reply, "vms");
    if (!vms) {
        cli_error("the server's reply has no 'vms' list");
        return CLI_EXIT_SERVER;
    }
    g_autoptr(json_object) cts = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(vms); i++) {
        struct json_object *vm = json_object_array_get_idx(vms, i);
        if (is_container(vm))
            json_object_array_add(cts, json_object_get(vm));
    }
    if (cli_opts.json) {
        g_autoptr(json_object) out = json_object_new_object();
        json_object_object_add(out, "vms", json_object_get(cts));
        print_json(out);
        return CLI_EXIT_OK;
    }
    static const char *const cols[] = {"Name", "Host", "State", "Memory", "UUID"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 3);
    for (size_t i = 0; i < json_object_array_length(cts); i++) {
        struct json_object *ct = json_object_array_get_idx(cts, i);
        bool removed = false;
        table_add(t, jstr(ct, "name"));
        table_add(t, jstr(ct, "host"));
        table_add(t, jbool(ct, "removed", &removed) && removed ? "removed" : jstr(ct, "state"));
        cell_size(t, ct, "memory_bytes");
        table_add(t, jstr(ct, "uuid"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

int cmd_ct_create(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) body = json_object_new_object();
    g_autoptr(json_object) reply = NULL;
    int ex = CLI_EXIT_OK;
    if (add_limits(body, false, &ex) < 0)
        return ex;
    json_object_object_add(body, "host", json_object_new_string(args[0]));
    json_object_object_add(body, "name", json_object_new_string(args[1]));
    if (cli_opts.template)
        json_object_object_add(body, "template", json_object_new_string(cli_opts.template));
    if (cli_opts.start)
        json_object_object_add(body, "start", json_object_new_boolean(1));
    /* A template may download or build a root filesystem. */
    api_extend_timeout(300);
    int r = api_request("POST", "/containers", body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    const char *host = jstr(jobject(reply, "vm"), "host");
    g_autofree char *clean_host = text_sanitize(host ? host : args[0]);
    g_autofree char *what =
        g_strdup_printf("created on host '%s'%s", clean_host, cli_opts.start ? " and started" : "");
    return ct_confirm(reply, args[1], what);
}

int cmd_ct_action(const struct cli_verb *v, char **args, guint n)
{
    /* verb, action, what was done */
    static const char *const map[][3] = {
        {"start", "start", "started"},   {"kill", "destroy", "killed"},
        {"freeze", "suspend", "frozen"}, {"thaw", "resume", "thawed"},
        {"rm", "undefine", "removed"},   {"reboot", "reboot", "rebooted"},
    };
    const char *action = NULL, *word = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
        if (strcmp(map[i][0], v->name) == 0) {
            action = map[i][1];
            word = map[i][2];
        }
    }
    g_return_val_if_fail(action != NULL, CLI_EXIT_USAGE);
    g_autoptr(json_object) reply = NULL;
    int r = ct_action(args[0], action, NULL, &reply);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    return ct_confirm(reply, args[0], word);
}

int cmd_ct_stop(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(json_object) reply = NULL;
    bool forced = false;
    if (!cli_shutdown_params(params))
        return CLI_EXIT_USAGE;
    int r = ct_action(args[0], "shutdown", params, &reply);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    if (jbool(reply, "forced", &forced) && forced)
        return ct_confirm(reply, args[0], "did not stop in time and was killed");
    return ct_confirm(reply, args[0], "stopped");
}

int cmd_ct_limits(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(json_object) reply = NULL;
    int ex = CLI_EXIT_OK;
    int given = add_limits(params, true, &ex);
    if (given < 0)
        return ex;
    if (given == 0)
        return cli_usage_error("give at least one of --memory, --cpus, --cpu-weight, --pids");
    int r = ct_action(args[0], "set-limits", params, &reply);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    return ct_confirm(reply, args[0], "limits set");
}

int cmd_ct_show(const struct cli_verb *v, char **args, guint n)
{
    return cmd_vm_show(v, args, n);
}
