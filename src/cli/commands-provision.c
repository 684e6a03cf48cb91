/*
 * kanri template ... and kanri vm create: templates made of shut-off VMs,
 * and VMs made from them (docs/provisioning.md), through /templates and
 * POST /vms with a "template".
 */
#include "config.h"

#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static char *template_path(const char *name)
{
    g_autofree char *esc = http_escape(name);
    return g_strconcat("/templates/", esc, NULL);
}

/* MSG (taken, sanitized here) and the reply's audit entry. */
static void done_line(struct json_object *reply, char *msg)
{
    gint64 audit = 0;
    g_autofree char *clean = text_sanitize(msg);
    g_free(msg);
    fputs(clean, stdout);
    if (jint(reply, "audit_id", &audit))
        printf(" (audit #%" G_GINT64_FORMAT ")", audit);
    putchar('\n');
}

int cmd_template_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *list = NULL;
    int r = cli_get_list("/templates", "templates", &reply, &list);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    static const char *const cols[] = {"Name", "Version", "Host", "Pool", "From", "Created"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 1);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *x = json_object_array_get_idx(list, i);
        table_add(t, jstr(x, "name"));
        cell_int(t, x, "version");
        table_add(t, jstr(x, "host"));
        table_add(t, jstr(x, "pool"));
        table_add(t, jstr(x, "source_vm"));
        table_add(t, jstr(x, "created"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

int cmd_template_show(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(GString) path = g_string_new(NULL);
    g_autofree char *base = template_path(args[0]);
    g_string_append(path, base);
    if (cli_opts.tmpl_version > 0) {
        g_autofree char *ver = g_strdup_printf("%d", cli_opts.tmpl_version);
        cli_query_add(path, "version", ver);
    }
    g_autoptr(json_object) reply = NULL;
    int r = api_request("GET", path->str, NULL, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    if (cli_opts.xml) {
        const char *xml = jstr(reply, "xml");
        if (!xml) {
            cli_error("the server's reply has no domain XML");
            return CLI_EXIT_SERVER;
        }
        fputs(xml, stdout);
        if (*xml && xml[strlen(xml) - 1] != '\n')
            putchar('\n');
        return CLI_EXIT_OK;
    }
    struct kv *kv = kv_new();
    kv_add(kv, "Name", jstr(reply, "name"));
    gint64 ver = 0;
    g_autofree char *vs =
        jint(reply, "version", &ver) ? g_strdup_printf("%" G_GINT64_FORMAT, ver) : NULL;
    kv_add(kv, "Version", vs);
    kv_add(kv, "Host", jstr(reply, "host"));
    kv_add(kv, "Pool", jstr(reply, "pool"));
    kv_add(kv, "Made from", jstr(reply, "source_vm"));
    kv_add(kv, "Created", jstr(reply, "created"));
    kv_add(kv, "By", jstr(reply, "by"));
    if (jstr(reply, "deleted"))
        kv_add(kv, "Deleted", jstr(reply, "deleted"));
    kv_print_free(kv);
    struct json_object *disks = jarray(reply, "disks");
    if (disks && json_object_array_length(disks)) {
        static const char *const cols[] = {"Disk", "Image", "Format"};
        g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
        for (size_t i = 0; i < json_object_array_length(disks); i++) {
            struct json_object *d = json_object_array_get_idx(disks, i);
            table_add(t, jstr(d, "target"));
            table_add(t, jstr(d, "path"));
            table_add(t, jstr(d, "format"));
        }
        printf("\n");
        print_table(t);
    }
    struct json_object *versions = jarray(reply, "versions");
    if (versions && json_object_array_length(versions) > 1) {
        static const char *const cols[] = {"Version", "Created", "By", "Deleted"};
        g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
        table_align_right(t, 0);
        for (size_t i = 0; i < json_object_array_length(versions); i++) {
            struct json_object *x = json_object_array_get_idx(versions, i);
            cell_int(t, x, "version");
            table_add(t, jstr(x, "created"));
            table_add(t, jstr(x, "by"));
            table_add(t, jstr(x, "deleted"));
        }
        printf("\n");
        print_table(t);
    }
    return CLI_EXIT_OK;
}

int cmd_template_create(const struct cli_verb *v, char **args, guint n)
{
    if (!cli_opts.from) /* GOption has no required options */
        return cli_usage_error("--from VM is required: the shut-off VM to make it of");
    g_autoptr(json_object) body = json_object_new_object();
    json_object_object_add(body, "name", json_object_new_string(args[0]));
    json_object_object_add(body, "vm", json_object_new_string(cli_opts.from));
    if (cli_opts.pool)
        json_object_object_add(body, "pool", json_object_new_string(cli_opts.pool));
    /* Copying disk images takes as long as their size. */
    api_extend_timeout(3600);
    g_autoptr(json_object) reply = NULL;
    int r = api_request("POST", "/templates", body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    struct json_object *t = jobject(reply, "template");
    gint64 ver = 0;
    jint(t, "version", &ver);
    done_line(reply, g_strdup_printf("Template '%s' version %" G_GINT64_FORMAT " made from '%s'",
                                     args[0], ver, cli_opts.from));
    return CLI_EXIT_OK;
}

int cmd_template_delete(const struct cli_verb *v, char **args, guint n)
{
    g_autofree char *path = template_path(args[0]);
    g_autoptr(json_object) reply = NULL;
    int r = api_request("DELETE", path, NULL, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    g_autofree char *name = text_sanitize(args[0]);
    printf("Template '%s' deleted; its images stay in their pool (linked clones are backed by "
           "them)\n",
           name);
    return CLI_EXIT_OK;
}

/* SIZE (512M, 20G; a plain number is MiB) into BODY's KEY; false after a
 * usage error (its exit status in *ret_exit). */
static bool add_size(struct json_object *body, const char *key, const char *opt, const char *s,
                     int *ret_exit)
{
    guint64 v = 0;
    if (!s)
        return true;
    if (!size_parse(s, &v) || v < 1024 * 1024 || v > (guint64)G_MAXINT64 / 2) {
        g_autofree char *clean = text_sanitize(s);
        *ret_exit = cli_usage_error("invalid %s '%s' (a size such as 512M or 20G, at least 1M; "
                                    "a plain number is MiB)",
                                    opt, clean);
        return false;
    }
    json_object_object_add(body, key, json_object_new_int64((gint64)v));
    return true;
}

int cmd_vm_create(const struct cli_verb *v, char **args, guint n)
{
    if (!cli_opts.template)
        return cli_usage_error("--template T is required (kanri template list); to define "
                               "a VM from domain XML, use 'kanri vm define'");
    g_autoptr(json_object) body = json_object_new_object();
    json_object_object_add(body, "name", json_object_new_string(args[0]));
    json_object_object_add(body, "template", json_object_new_string(cli_opts.template));
    if (cli_opts.host)
        json_object_object_add(body, "host", json_object_new_string(cli_opts.host));
    if (cli_opts.pool)
        json_object_object_add(body, "pool", json_object_new_string(cli_opts.pool));
    if (cli_opts.tmpl_version > 0)
        json_object_object_add(body, "version", json_object_new_int64(cli_opts.tmpl_version));
    if (cli_opts.vcpus >= 0) {
        if (cli_opts.vcpus < 1 || cli_opts.vcpus > 4096)
            return cli_usage_error("invalid --vcpus %d (1 to 4096)", cli_opts.vcpus);
        json_object_object_add(body, "vcpus", json_object_new_int64(cli_opts.vcpus));
    }
    int ex = CLI_EXIT_OK;
    if (!add_size(body, "memory_bytes", "--memory", cli_opts.ct_memory, &ex) ||
        !add_size(body, "disk_bytes", "--disk-size", cli_opts.disk_size, &ex))
        return ex;
    g_autoptr(GError) err = NULL;
    if (cli_opts.user_data) {
        g_autofree char *text = NULL;
        gsize len = 0;
        if (!g_file_get_contents(cli_opts.user_data, &text, &len, &err) || len > 65536) {
            g_autofree char *clean = text_sanitize(err ? err->message : cli_opts.user_data);
            return cli_usage_error("--user-data: %s%s", clean, err ? "" : ": over 64 KiB");
        }
        json_object_object_add(body, "user_data", json_object_new_string(text));
    }
    if (cli_opts.ssh_key) {
        g_autofree char *text = NULL;
        if (!g_file_get_contents(cli_opts.ssh_key, &text, NULL, &err)) {
            g_autofree char *clean = text_sanitize(err->message);
            return cli_usage_error("--ssh-key: %s", clean);
        }
        struct json_object *keys = json_object_new_array();
        json_object_object_add(body, "ssh_keys", keys);
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (size_t i = 0; lines[i]; i++) {
            g_strstrip(lines[i]);
            if (*lines[i] && lines[i][0] != '#')
                json_object_array_add(keys, json_object_new_string(lines[i]));
        }
    }
    json_object_object_add(body, "linked", json_object_new_boolean(!cli_opts.full));
    json_object_object_add(body, "start", json_object_new_boolean(!cli_opts.no_start));
    /* A full copy takes as long as the images' size. */
    api_extend_timeout(3600);
    g_autoptr(json_object) reply = NULL;
    int r = api_request("POST", "/vms", body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    struct json_object *vm = jobject(reply, "vm");
    const char *host = jstr(vm, "host");
    if (jstr(reply, "placement")) {
        g_autofree char *why = text_sanitize(jstr(reply, "placement"));
        printf("Placed: %s\n", why);
    }
    done_line(reply,
              g_strdup_printf("VM '%s' created from template '%s' (%s) on host '%s'%s", args[0],
                              cli_opts.template, cli_opts.full ? "full copies" : "a linked clone",
                              host ? host : "?", cli_opts.no_start ? "" : " and started"));
    return CLI_EXIT_OK;
}

/* ---- change requests ---- */

static char *change_path(const char *id, const char *suffix)
{
    g_autofree char *esc = http_escape(id);
    return g_strconcat("/change-requests/", esc, suffix, NULL);
}

int cmd_change_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(GString) path = g_string_new("/change-requests");
    if (cli_opts.state)
        cli_query_add(path, "state", cli_opts.state);
    g_autoptr(json_object) reply = NULL;
    struct json_object *list = NULL;
    int r = cli_get_list(path->str, "change_requests", &reply, &list);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    static const char *const cols[] = {"Id", "State", "Risk", "Requester", "Approver", "Reason"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 0);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *x = json_object_array_get_idx(list, i);
        cell_int(t, x, "id");
        table_add(t, jstr(x, "state"));
        table_add(t, jstr(x, "risk"));
        table_add(t, jstr(x, "requester"));
        table_add(t, jstr(x, "approver"));
        table_add(t, jstr(x, "reason"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

int cmd_change_show(const struct cli_verb *v, char **args, guint n)
{
    g_autofree char *path = change_path(args[0], "");
    g_autoptr(json_object) reply = NULL;
    int r = api_request("GET", path, NULL, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    struct kv *kv = kv_new();
    static const char *const keys[][2] = {
        {"Id", "id"},
        {"State", "state"},
        {"Reason", "reason"},
        {"Risk", "risk"},
        {"Window from", "window_from"},
        {"Window to", "window_to"},
        {"Requester", "requester"},
        {"Approver", "approver"},
        {"Created", "created"},
        {"Started", "started"},
        {"Ended", "ended"},
        {"Error", "error"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        gint64 id = 0;
        if (strcmp(keys[i][1], "id") == 0 && jint(reply, "id", &id))
            kv_addf(kv, keys[i][0], "%" G_GINT64_FORMAT, id);
        else if (jstr(reply, keys[i][1]))
            kv_add(kv, keys[i][0], jstr(reply, keys[i][1]));
    }
    struct json_object *acts = jarray(reply, "actions");
    for (size_t i = 0; acts && i < json_object_array_length(acts); i++)
        kv_add(kv, i ? "" : "Actions",
               json_object_to_json_string_ext(json_object_array_get_idx(acts, i),
                                              JSON_C_TO_STRING_PLAIN));
    kv_print_free(kv);
    struct json_object *vms = jarray(reply, "vms");
    static const char *const cols[] = {"Batch", "VM", "Host", "State", "Saved", "Result"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 0);
    for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
        struct json_object *x = json_object_array_get_idx(vms, i);
        cell_int(t, x, "batch");
        table_add(t, jstr(x, "vm"));
        table_add(t, jstr(x, "host"));
        table_add(t, jstr(x, "state"));
        table_add(t, jstr(x, "saved"));
        table_add(t, jstr(x, "result"));
    }
    printf("\n");
    print_table(t);
    return CLI_EXIT_OK;
}

/* "setmem memory=2G" as an action object: integers, true/false, and
 * "@FILE" for a file's text (define xml=@new.xml); NULL after a usage
 * error (its exit status in *ret_exit). */
static struct json_object *action_arg(const char *s, int *ret_exit)
{
    g_auto(GStrv) w = g_strsplit_set(s, " \t", -1);
    if (!w[0] || !*w[0]) {
        *ret_exit = cli_usage_error("--action: an action name, then KEY=VALUE words");
        return NULL;
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "action", json_object_new_string(w[0]));
    for (size_t i = 1; w[i]; i++) {
        if (!*w[i])
            continue;
        const char *eq = strchr(w[i], '=');
        if (!eq || eq == w[i]) {
            g_autofree char *clean = text_sanitize(w[i]);
            *ret_exit = cli_usage_error("--action '%s': '%s' is not KEY=VALUE", w[0], clean);
            json_object_put(o);
            return NULL;
        }
        g_autofree char *key = g_strndup(w[i], (gsize)(eq - w[i]));
        const char *val = eq + 1;
        gint64 num;
        struct json_object *jv;
        if (g_ascii_string_to_signed(val, 10, G_MININT64, G_MAXINT64, &num, NULL)) {
            jv = json_object_new_int64(num);
        } else if (strcmp(val, "true") == 0 || strcmp(val, "false") == 0) {
            jv = json_object_new_boolean(val[0] == 't');
        } else if (val[0] == '@') {
            g_autofree char *text = NULL;
            g_autoptr(GError) err = NULL;
            if (!g_file_get_contents(val + 1, &text, NULL, &err)) {
                g_autofree char *clean = text_sanitize(err->message);
                *ret_exit = cli_usage_error("--action '%s': %s", w[0], clean);
                json_object_put(o);
                return NULL;
            }
            jv = json_object_new_string(text);
        } else {
            jv = json_object_new_string(val);
        }
        json_object_object_add(o, key, jv);
    }
    return o;
}

int cmd_change_create(const struct cli_verb *v, char **args, guint n)
{
    if (!cli_opts.change_vms || !cli_opts.change_vms[0])
        return cli_usage_error("--vm VM is required (once per VM)");
    if (!cli_opts.why)
        return cli_usage_error("--why TEXT is required: the reason, for the record");
    if (!cli_opts.change_actions || !cli_opts.change_actions[0])
        return cli_usage_error("--action 'NAME KEY=VALUE...' is required (once per action)");
    g_autoptr(json_object) body = json_object_new_object();
    struct json_object *vms = json_object_new_array();
    for (size_t i = 0; cli_opts.change_vms[i]; i++)
        json_object_array_add(vms, json_object_new_string(cli_opts.change_vms[i]));
    json_object_object_add(body, "vms", vms);
    json_object_object_add(body, "reason", json_object_new_string(cli_opts.why));
    if (cli_opts.risk)
        json_object_object_add(body, "risk", json_object_new_string(cli_opts.risk));
    if (cli_opts.from || cli_opts.to) {
        struct json_object *w = json_object_new_object();
        if (cli_opts.from)
            json_object_object_add(w, "from", json_object_new_string(cli_opts.from));
        if (cli_opts.to)
            json_object_object_add(w, "to", json_object_new_string(cli_opts.to));
        json_object_object_add(body, "window", w);
    }
    struct json_object *acts = json_object_new_array();
    json_object_object_add(body, "actions", acts);
    for (size_t i = 0; cli_opts.change_actions[i]; i++) {
        int ex = CLI_EXIT_OK;
        struct json_object *a = action_arg(cli_opts.change_actions[i], &ex);
        if (!a)
            return ex;
        json_object_array_add(acts, a);
    }
    if (cli_opts.canary)
        json_object_object_add(body, "canary", json_object_new_boolean(1));
    if (cli_opts.batch > 0)
        json_object_object_add(body, "batch", json_object_new_int64(cli_opts.batch));
    if (cli_opts.guest_fresh > 0 || cli_opts.check_timeout >= 0) {
        struct json_object *c = json_object_new_object();
        if (cli_opts.guest_fresh > 0)
            json_object_object_add(c, "guest_fresh_s", json_object_new_int64(cli_opts.guest_fresh));
        if (cli_opts.check_timeout >= 0)
            json_object_object_add(c, "timeout_s", json_object_new_int64(cli_opts.check_timeout));
        json_object_object_add(body, "checks", c);
    }
    g_autoptr(json_object) reply = NULL;
    int r = api_request("POST", "/change-requests", body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    gint64 id = 0;
    jint(reply, "id", &id);
    printf("Change request %" G_GINT64_FORMAT " drafted (kanri change submit %" G_GINT64_FORMAT
           ")\n",
           id, id);
    return CLI_EXIT_OK;
}

int cmd_change_step(const struct cli_verb *v, char **args, guint n)
{
    g_autofree char *suffix = g_strconcat("/", v->name, NULL);
    g_autofree char *path = change_path(args[0], suffix);
    g_autoptr(json_object) body = json_object_new_object();
    g_autoptr(json_object) reply = NULL;
    int r = api_request("POST", path, body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    g_autofree char *id = text_sanitize(args[0]);
    g_autofree char *state = text_sanitize(jstr(reply, "state"));
    printf("Change request %s is %s\n", id, state);
    return CLI_EXIT_OK;
}
