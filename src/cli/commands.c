/*
 * commands: one function per kanri verb.  Each builds the request, sends it
 * through api_request() and prints the reply as a table, a key/value list
 * or one line of confirmation (or the JSON itself with --json).
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The server refuses bodies over 1 MiB; a domain XML is far smaller. */
#define DEFINE_XML_MAX (1024 * 1024)

/* ---- request helpers -------------------------------------------------- */

static char *vm_path(const char *vm, const char *suffix)
{
    g_autofree char *esc = http_escape(vm);

    return g_strconcat("/vms/", esc, suffix, NULL);
}

/* Appends "?key=value" or "&key=value", the value escaped. */
void cli_query_add(GString *path, const char *key, const char *value)
{
    g_autofree char *esc = http_escape(value);

    g_string_append_printf(path, "%c%s=%s", strchr(path->str, '?') ? '&' : '?', key, esc);
}

static int get_and_print(const char *path, struct json_object **ret)
{
    int r = api_request("GET", path, NULL, ret);

    if (r == CLI_EXIT_OK && cli_opts.json) {
        print_json(*ret);
        return -1; /* done: the caller prints nothing more */
    }
    return r;
}

/* Runs a GET that returns {"<key>": [...]}; sets *ret_list (borrowed from
 * *ret_reply) or returns an exit code.  Returns -1 when --json printed it. */
int cli_get_list(const char *path, const char *key, struct json_object **ret_reply,
                 struct json_object **ret_list)
{
    int r = get_and_print(path, ret_reply);

    if (r != CLI_EXIT_OK)
        return r;
    *ret_list = jarray(*ret_reply, key);
    if (!*ret_list) {
        cli_error("the server's reply has no '%s' list", key);
        return CLI_EXIT_SERVER;
    }
    return CLI_EXIT_OK;
}

int cli_done(int r)
{
    return r < 0 ? CLI_EXIT_OK : r;
}

void print_table(struct table *t)
{
    table_set_color(t, cli_color());
    g_autofree char *text = table_render(t);

    cli_page(text);
}

/* ", audit #17" style suffix for confirmations. */
static char *audit_suffix(struct json_object *reply)
{
    gint64 id;

    if (reply && jint(reply, "audit_id", &id))
        return g_strdup_printf(" (audit #%" G_GINT64_FORMAT ")", id);
    return g_strdup("");
}

/* The VM's name for messages: the server's, else what the user typed. */
static char *display_name(struct json_object *reply, const char *given)
{
    struct json_object *vm = jobject(reply, "vm");
    const char *name = jstr(vm, "name");

    return text_sanitize(name ? name : given);
}

/* POSTs /vms/VM/actions/ACTION; prints the JSON with --json.  *ret_reply
 * gets the reply for the caller's message. */
static int post_action(const char *vm, const char *action, struct json_object *params,
                       struct json_object **ret_reply)
{
    g_autofree char *suffix = g_strconcat("/actions/", action, NULL);
    g_autofree char *path = vm_path(vm, suffix);
    int r = api_request("POST", path, params, ret_reply);

    if (r == CLI_EXIT_OK && cli_opts.json) {
        print_json(*ret_reply);
        return -1;
    }
    return r;
}

static int confirm(struct json_object *reply, const char *vm, const char *what)
{
    g_autofree char *name = display_name(reply, vm);
    g_autofree char *audit = audit_suffix(reply);

    printf("Domain '%s' %s%s\n", name, what, audit);
    return CLI_EXIT_OK;
}

static int check_limit(void)
{
    if (cli_opts.limit == -1)
        return CLI_EXIT_OK;
    if (cli_opts.limit < 1)
        return cli_usage_error("--limit must be a positive number");
    return CLI_EXIT_OK;
}

/* ---- readiness -------------------------------------------------------- */

int cmd_ready(const struct cli_verb *v, char **args, guint n)
{
    if (cli_opts.wait < 0)
        return cli_usage_error("--wait must be a number of seconds, 0 or more");
    int64_t deadline = g_get_monotonic_time() + (int64_t)cli_opts.wait * G_USEC_PER_SEC;
    for (;;) {
        int status = 0;
        g_autofree char *detail = NULL;
        int r = api_probe("/readyz", &status, &detail);
        bool waiting = g_get_monotonic_time() < deadline;
        /* While waiting, a kanrid that is not listening yet is not ready
         * yet; without --wait it is the error it is. */
        if (r != CLI_EXIT_OK && !(waiting && r == CLI_EXIT_UNREACHABLE)) {
            if (cli_opts.wait > 0)
                cli_error("not ready: %s", detail);
            else
                cli_error("%s", detail);
            return r;
        }
        if (status == 200) {
            if (cli_opts.json) {
                g_autoptr(json_object) o = json_object_new_object();
                json_object_object_add(o, "status", json_object_new_string("ready"));
                print_json(o);
            } else {
                puts("ready");
            }
            return CLI_EXIT_OK;
        }
        if (!waiting) {
            cli_error("not ready: %s", detail ? detail : "no answer");
            return status == 503 ? CLI_EXIT_SERVER : cli_exit_code_for_status(status);
        }
        g_usleep(250 * 1000);
    }
}

/* ---- server ----------------------------------------------------------- */

int cmd_server(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) s = NULL;
    int r = get_and_print("/server", &s);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    json_object *tls = jobject(s, "tls");
    bool on = false;
    jbool(tls, "enabled", &on);
    struct kv *kv = kv_new();
    kv_add(kv, "Version", jstr(s, "version"));
    kv_add(kv, "Started", jstr(s, "started_at"));
    kv_add(kv, "TLS", on ? "on" : "off (plain HTTP)");
    if (on) {
        kv_add(kv, "Certificate", jstr(tls, "certificate"));
        kv_add(kv, "Pin", jstr(tls, "pin"));
    }
    kv_print_free(kv);
    return CLI_EXIT_OK;
}

/* ---- host ------------------------------------------------------------- */

int cmd_host_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *hosts = NULL;
    int r = cli_get_list("/hosts", "hosts", &reply, &hosts);

    if (r != CLI_EXIT_OK)
        return cli_done(r);
    static const char *const cols[] = {"Id",   "Name",   "State", "Driver",
                                       "CPUs", "Memory", "VMs",   "URI"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 0);
    table_align_right(t, 4);
    table_align_right(t, 5);
    table_align_right(t, 6);
    for (size_t i = 0; i < json_object_array_length(hosts); i++) {
        struct json_object *h = json_object_array_get_idx(hosts, i);
        gint64 running, total;
        cell_int(t, h, "id");
        table_add(t, jstr(h, "name"));
        bool maint = false;
        jbool(h, "maintenance", &maint);
        g_autofree char *state = g_strdup_printf("%s%s", jstr(h, "state") ? jstr(h, "state") : "-",
                                                 maint ? " (maintenance)" : "");
        table_add(t, state);
        table_add(t, jstr(h, "driver"));
        cell_int(t, h, "cpus");
        cell_size(t, h, "memory_bytes");
        if (jint(h, "domains_running", &running) && jint(h, "domains_total", &total))
            table_addf(t, "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, running, total);
        else
            table_add(t, NULL);
        table_add(t, jstr(h, "uri"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

static void print_pools(struct json_object *pools, bool with_host)
{
    static const char *const cols[] = {"Host",     "Name",       "State",
                                       "Capacity", "Allocation", "Available"};
    guint skip = with_host ? 0 : 1;
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols) - skip, cols + skip);

    for (guint c = 3 - skip; c < G_N_ELEMENTS(cols) - skip; c++)
        table_align_right(t, c);
    for (size_t i = 0; i < json_object_array_length(pools); i++) {
        struct json_object *p = json_object_array_get_idx(pools, i);
        if (with_host)
            table_add(t, jstr(p, "host"));
        table_add(t, jstr(p, "name"));
        table_add(t, jstr(p, "state"));
        cell_size(t, p, "capacity_bytes");
        cell_size(t, p, "allocation_bytes");
        cell_size(t, p, "available_bytes");
    }
    print_table(t);
}

static void print_networks(struct json_object *nets, bool with_host)
{
    static const char *const cols[] = {"Host", "Name", "Active", "Bridge"};
    guint skip = with_host ? 0 : 1;
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols) - skip, cols + skip);

    for (size_t i = 0; i < json_object_array_length(nets); i++) {
        struct json_object *net = json_object_array_get_idx(nets, i);
        if (with_host)
            table_add(t, jstr(net, "host"));
        table_add(t, jstr(net, "name"));
        cell_bool(t, net, "active");
        table_add(t, jstr(net, "bridge"));
    }
    print_table(t);
}

int cmd_host_show(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) h = NULL;
    g_autofree char *esc = http_escape(args[0]);
    g_autofree char *path = g_strconcat("/hosts/", esc, NULL);
    int r = get_and_print(path, &h);
    gint64 a, b;

    if (r != CLI_EXIT_OK)
        return cli_done(r);
    struct kv *kv = kv_new();
    kv_add(kv, "Name", jstr(h, "name"));
    kv_add(kv, "Id", jstr(h, "id"));
    kv_add(kv, "URI", jstr(h, "uri"));
    kv_add(kv, "State", jstr(h, "state"));
    bool maint = false;
    if (jbool(h, "maintenance", &maint) && maint)
        kv_addf(kv, "Maintenance", "since %s by %s%s%s", jstr(h, "maintenance_since"),
                jstr(h, "maintenance_by") ? jstr(h, "maintenance_by") : "-",
                jstr(h, "maintenance_reason") ? ": " : "",
                jstr(h, "maintenance_reason") ? jstr(h, "maintenance_reason") : "");
    if (jstr(h, "reason"))
        kv_add(kv, "Reason", jstr(h, "reason"));
    kv_add(kv, "Hostname", jstr(h, "hostname"));
    kv_add(kv, "Driver", jstr(h, "driver"));
    kv_add(kv, "Hypervisor version", jstr(h, "hv_version"));
    kv_add(kv, "libvirt version", jstr(h, "libvirt_version"));
    kv_add(kv, "CPU model", jstr(h, "cpu_model"));
    kv_add(kv, "CPUs", jstr(h, "cpus"));
    if (jstr(h, "mhz"))
        kv_addf(kv, "CPU frequency", "%s MHz", jstr(h, "mhz"));
    else
        kv_add(kv, "CPU frequency", NULL);
    if (jint(h, "memory_bytes", &a) && a >= 0) {
        g_autofree char *s = size_format((guint64)a);
        kv_add(kv, "Memory", s);
    } else {
        kv_add(kv, "Memory", NULL);
    }
    kv_add(kv, "NUMA cells", jstr(h, "numa_cells"));
    if (jint(h, "domains_running", &a) && jint(h, "domains_total", &b))
        kv_addf(kv, "VMs", "%" G_GINT64_FORMAT " running, %" G_GINT64_FORMAT " total", a, b);
    else
        kv_add(kv, "VMs", NULL);
    kv_add(kv, "Last seen", jstr(h, "last_seen"));
    kv_add(kv, "Connected since", jstr(h, "connected_since"));
    kv_add(kv, "Inventory synced", jstr(h, "inventory_synced_at"));
    kv_print_free(kv);

    struct json_object *pools = jarray(h, "pools");
    if (pools && json_object_array_length(pools) > 0) {
        printf("\nStorage pools:\n");
        print_pools(pools, false);
    }
    struct json_object *nets = jarray(h, "networks");
    if (nets && json_object_array_length(nets) > 0) {
        printf("\nNetworks:\n");
        print_networks(nets, false);
    }
    return CLI_EXIT_OK;
}

/* ---- vm --------------------------------------------------------------- */

int cmd_vm_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *vms = NULL;
    g_autoptr(GString) path = g_string_new("/vms");

    if (cli_opts.kind && !word_one_of(cli_opts.kind, "vm|container")) {
        g_autofree char *clean = text_sanitize(cli_opts.kind);
        return cli_usage_error("invalid --kind '%s' (one of: vm, container)", clean);
    }
    if (cli_opts.host)
        cli_query_add(path, "host", cli_opts.host);
    if (cli_opts.kind)
        cli_query_add(path, "kind", cli_opts.kind);
    int r = cli_get_list(path->str, "vms", &reply, &vms);
    if (r != CLI_EXIT_OK)
        return cli_done(r);

    static const char *const cols[] = {"Name", "Kind", "Host", "State", "vCPUs", "Memory", "UUID"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 4);
    table_align_right(t, 5);
    for (size_t i = 0; i < json_object_array_length(vms); i++) {
        struct json_object *vm = json_object_array_get_idx(vms, i);
        bool removed = false;
        table_add(t, jstr(vm, "name"));
        table_add(t, jstr(vm, "kind"));
        table_add(t, jstr(vm, "host"));
        if (jbool(vm, "removed", &removed) && removed)
            table_add(t, "removed");
        else
            table_add(t, jstr(vm, "state"));
        cell_int(t, vm, "vcpus");
        cell_size(t, vm, "memory_bytes");
        table_add(t, jstr(vm, "uuid"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

static char *size_text(struct json_object *obj, const char *key)
{
    gint64 v;

    if (jint(obj, key, &v) && v >= 0)
        return size_format((guint64)v);
    return g_strdup("-");
}

int cmd_vm_show(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) vm = NULL;
    g_autofree char *path = vm_path(args[0], "");
    int r = get_and_print(path, &vm);
    bool flag;

    if (r != CLI_EXIT_OK)
        return cli_done(r);
    if (cli_opts.xml) {
        const char *xml = jstr(vm, "xml");
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
    kv_add(kv, "Name", jstr(vm, "name"));
    kv_add(kv, "UUID", jstr(vm, "uuid"));
    kv_add(kv, "Kind", jstr(vm, "kind"));
    kv_add(kv, "Host", jstr(vm, "host"));
    if (jstr(vm, "state_reason"))
        kv_addf(kv, "State", "%s (%s)", jstr(vm, "state") ? jstr(vm, "state") : "-",
                jstr(vm, "state_reason"));
    else
        kv_add(kv, "State", jstr(vm, "state"));
    if (jbool(vm, "removed", &flag) && flag)
        kv_add(kv, "Removed", "yes (no longer defined on its host)");
    kv_add(kv, "Persistent", jbool(vm, "persistent", &flag) ? (flag ? "yes" : "no") : NULL);
    kv_add(kv, "Autostart", jbool(vm, "autostart", &flag) ? (flag ? "yes" : "no") : NULL);
    kv_addf(kv, "vCPUs", "%s (max %s)", jstr(vm, "vcpus") ? jstr(vm, "vcpus") : "-",
            jstr(vm, "max_vcpus") ? jstr(vm, "max_vcpus") : "-");
    g_autofree char *mem = size_text(vm, "memory_bytes");
    g_autofree char *maxmem = size_text(vm, "max_memory_bytes");
    kv_addf(kv, "Memory", "%s (max %s)", mem, maxmem);
    kv_add(kv, "OS type", jstr(vm, "os_type"));
    kv_add(kv, "Domain type", jstr(vm, "domain_type"));
    kv_add(kv, "Config version", jstr(vm, "config_version"));
    gint64 pending = 0;
    if (jint(vm, "pending_changes", &pending) && pending > 0)
        kv_addf(kv, "Pending changes",
                "%" G_GINT64_FORMAT " pending in the persistent definition, applied at next boot "
                "(kanri changes)",
                pending);
    kv_add(kv, "Updated", jstr(vm, "updated_at"));
    kv_print_free(kv);

    struct json_object *disks = jarray(vm, "disks");
    if (disks && json_object_array_length(disks) > 0) {
        static const char *const cols[] = {"Target",   "Device",     "Type",  "Format",
                                           "Capacity", "Allocation", "Source"};
        g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
        table_align_right(t, 4);
        table_align_right(t, 5);
        for (size_t i = 0; i < json_object_array_length(disks); i++) {
            struct json_object *d = json_object_array_get_idx(disks, i);
            table_add(t, jstr(d, "target"));
            table_add(t, jstr(d, "device"));
            table_add(t, jstr(d, "type"));
            table_add(t, jstr(d, "format"));
            cell_size(t, d, "capacity_bytes");
            cell_size(t, d, "allocation_bytes");
            table_add(t, jstr(d, "source"));
        }
        printf("\nDisks:\n");
        print_table(t);
    }
    struct json_object *nics = jarray(vm, "nics");
    if (nics && json_object_array_length(nics) > 0) {
        static const char *const cols[] = {"MAC", "Type", "Source", "Model"};
        g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
        for (size_t i = 0; i < json_object_array_length(nics); i++) {
            struct json_object *nic = json_object_array_get_idx(nics, i);
            table_add(t, jstr(nic, "mac"));
            table_add(t, jstr(nic, "type"));
            table_add(t, jstr(nic, "source"));
            table_add(t, jstr(nic, "model"));
        }
        printf("\nInterfaces:\n");
        print_table(t);
    }
    cli_print_reconciled(args[0]);
    return CLI_EXIT_OK;
}

int cmd_vm_action(const struct cli_verb *v, char **args, guint n)
{
    static const char *const done_words[][2] = {
        {"start", "started"},     {"reboot", "rebooted"}, {"destroy", "destroyed"},
        {"suspend", "suspended"}, {"resume", "resumed"},  {"undefine", "undefined"},
    };
    const char *word = v->name;
    g_autoptr(json_object) reply = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(done_words); i++) {
        if (strcmp(done_words[i][0], v->name) == 0)
            word = done_words[i][1];
    }
    int r = post_action(args[0], v->name, NULL, &reply);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    return confirm(reply, args[0], word);
}

bool cli_shutdown_params(struct json_object *params)
{
    guint wait = 60;
    if (cli_opts.shutdown_timeout != -1) {
        if (cli_opts.shutdown_timeout < 1 || cli_opts.shutdown_timeout > 3600) {
            cli_usage_error("--timeout must be from 1 to 3600 seconds");
            return false;
        }
        wait = (guint)cli_opts.shutdown_timeout;
        json_object_object_add(params, "timeout", json_object_new_int(cli_opts.shutdown_timeout));
    }
    if (cli_opts.force)
        json_object_object_add(params, "force", json_object_new_boolean(1));
    /* The server answers only when the guest is off or the time is up. */
    api_extend_timeout(wait + CLI_DEFAULT_TIMEOUT);
    return true;
}

int cmd_vm_shutdown(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(json_object) reply = NULL;
    bool forced = false;
    if (!cli_shutdown_params(params))
        return CLI_EXIT_USAGE;
    int r = post_action(args[0], "shutdown", params, &reply);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    if (jbool(reply, "forced", &forced) && forced)
        return confirm(reply, args[0], "did not shut down in time and was destroyed");
    return confirm(reply, args[0], "shut down");
}

int cmd_vm_setmem(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(json_object) reply = NULL;
    guint64 bytes = 0;

    if (!size_parse(args[1], &bytes) || bytes > (guint64)G_MAXINT64) {
        g_autofree char *clean = text_sanitize(args[1]);
        return cli_usage_error("invalid size '%s' (examples: 512M, 1G, 524288K; a plain "
                               "number is MiB)",
                               clean);
    }
    json_object_object_add(params, "memory_bytes", json_object_new_int64((int64_t)bytes));
    if (cli_opts.config)
        json_object_object_add(params, "config", json_object_new_boolean(1));
    int r = post_action(args[0], "setmem", params, &reply);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    g_autofree char *size = size_format(bytes);
    g_autofree char *what =
        g_strdup_printf("memory set to %s%s", size, cli_opts.config ? " (live and config)" : "");
    return confirm(reply, args[0], what);
}

static bool parse_count(const char *s, gint64 max, gint64 *ret)
{
    guint64 v = 0;

    /* Whole string of digits only: GLib refuses signs, spaces and overflow. */
    if (!g_ascii_string_to_unsigned(s, 10, 1, (guint64)max, &v, NULL))
        return false;
    *ret = (gint64)v;
    return true;
}

int cmd_vm_setvcpus(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(json_object) reply = NULL;
    gint64 count = 0;

    if (!parse_count(args[1], 65535, &count)) {
        g_autofree char *clean = text_sanitize(args[1]);
        return cli_usage_error("invalid number of vCPUs '%s' (a whole number, 1 or more)", clean);
    }
    json_object_object_add(params, "vcpus", json_object_new_int64(count));
    if (cli_opts.config)
        json_object_object_add(params, "config", json_object_new_boolean(1));
    int r = post_action(args[0], "setvcpus", params, &reply);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    g_autofree char *what = g_strdup_printf("vCPUs set to %" G_GINT64_FORMAT "%s", count,
                                            cli_opts.config ? " (live and config)" : "");
    return confirm(reply, args[0], what);
}

int cmd_vm_migrate(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(json_object) reply = NULL;

    json_object_object_add(params, "to_host", json_object_new_string(args[1]));
    json_object_object_add(params, "live", json_object_new_boolean(!cli_opts.offline));
    int r = post_action(args[0], "migrate", params, &reply);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    g_autofree char *host = text_sanitize(args[1]);
    g_autofree char *what = g_strdup_printf("migrated to host '%s'", host);
    return confirm(reply, args[0], what);
}

static char *read_xml(const char *file, GError **error)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();

    if (strcmp(file, "-") == 0) {
        guint8 chunk[8192];
        size_t got;
        while ((got = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
            g_byte_array_append(buf, chunk, (guint)got);
            if (buf->len > DEFINE_XML_MAX)
                break;
        }
        if (ferror(stdin)) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO, "reading standard input: %s",
                        g_strerror(errno));
            return NULL;
        }
    } else {
        g_autofree char *text = NULL;
        gsize len = 0;
        if (!g_file_get_contents(file, &text, &len, error))
            return NULL;
        g_byte_array_append(buf, (const guint8 *)text, (guint)MIN(len, DEFINE_XML_MAX + 1));
    }
    if (buf->len > DEFINE_XML_MAX) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s is larger than 1 MiB", file);
        return NULL;
    }
    /* JSON strings must be UTF-8, and so must the XML libvirt accepts. */
    if (memchr(buf->data, '\0', buf->len) ||
        !g_utf8_validate((const char *)buf->data, buf->len, NULL)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s is not UTF-8 text", file);
        return NULL;
    }
    g_byte_array_append(buf, (const guint8 *)"", 1);
    return (char *)g_byte_array_free(g_steal_pointer(&buf), FALSE);
}

int cmd_vm_define(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = read_xml(args[1], &err);
    g_autoptr(json_object) body = json_object_new_object();
    g_autoptr(json_object) reply = NULL;

    if (!xml) {
        g_autofree char *clean = text_sanitize(err->message);
        return cli_usage_error("%s", clean);
    }
    json_object_object_add(body, "host", json_object_new_string(args[0]));
    json_object_object_add(body, "xml", json_object_new_string(xml));
    int r = api_request("POST", "/vms", body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    /* The reply is the VM object with audit_id, or {"vm": ..., "audit_id"}. */
    struct json_object *vm = jobject(reply, "vm") ? jobject(reply, "vm") : reply;
    const char *name = jstr(vm, "name");
    g_autofree char *clean = text_sanitize(name);
    g_autofree char *host = text_sanitize(jstr(vm, "host") ? jstr(vm, "host") : args[0]);
    g_autofree char *audit = audit_suffix(reply);
    printf("Domain '%s' defined on host '%s'%s\n", clean, host, audit);
    return CLI_EXIT_OK;
}

/* ---- snapshots -------------------------------------------------------- */

int cmd_snapshot_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *snaps = NULL;
    g_autofree char *path = vm_path(args[0], "/snapshots");
    int r = cli_get_list(path, "snapshots", &reply, &snaps);

    if (r != CLI_EXIT_OK)
        return cli_done(r);
    static const char *const cols[] = {"Name",    "Created", "State",
                                       "Current", "Parent",  "Description"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    for (size_t i = 0; i < json_object_array_length(snaps); i++) {
        struct json_object *s = json_object_array_get_idx(snaps, i);
        bool current = false;
        table_add(t, jstr(s, "name"));
        table_add(t, jstr(s, "created_at"));
        table_add(t, jstr(s, "state"));
        table_add(t, jbool(s, "current", &current) && current ? "yes" : "");
        table_add(t, jstr(s, "parent"));
        table_add(t, jstr(s, "description"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

int cmd_snapshot_create(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(json_object) reply = NULL;

    if (n > 1)
        json_object_object_add(params, "name", json_object_new_string(args[1]));
    if (cli_opts.description)
        json_object_object_add(params, "description", json_object_new_string(cli_opts.description));
    int r = post_action(args[0], "snapshot-create", params, &reply);
    if (r != CLI_EXIT_OK)
        return cli_done(r);

    /* A generated name comes back as "snapshot": {"name"} or "name". */
    const char *snap = jstr(jobject(reply, "snapshot"), "name");
    if (!snap)
        snap = jstr(reply, "name");
    if (!snap && n > 1)
        snap = args[1];
    g_autofree char *vm = display_name(reply, args[0]);
    g_autofree char *audit = audit_suffix(reply);
    if (snap) {
        g_autofree char *clean = text_sanitize(snap);
        printf("Snapshot '%s' of domain '%s' created%s\n", clean, vm, audit);
    } else {
        printf("Snapshot of domain '%s' created%s\n", vm, audit);
    }
    return CLI_EXIT_OK;
}

static int snapshot_named_action(const char *action, char **args, bool revert)
{
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(json_object) reply = NULL;

    json_object_object_add(params, "name", json_object_new_string(args[1]));
    int r = post_action(args[0], action, params, &reply);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    g_autofree char *vm = display_name(reply, args[0]);
    g_autofree char *snap = text_sanitize(args[1]);
    g_autofree char *audit = audit_suffix(reply);
    if (revert)
        printf("Domain '%s' reverted to snapshot '%s'%s\n", vm, snap, audit);
    else
        printf("Snapshot '%s' of domain '%s' deleted%s\n", snap, vm, audit);
    return CLI_EXIT_OK;
}

int cmd_snapshot_revert(const struct cli_verb *v, char **args, guint n)
{
    return snapshot_named_action("snapshot-revert", args, true);
}

int cmd_snapshot_delete(const struct cli_verb *v, char **args, guint n)
{
    return snapshot_named_action("snapshot-delete", args, false);
}

/* ---- history ---------------------------------------------------------- */

static char *versions_text(struct json_object *c)
{
    gint64 from, to;
    bool has_from = jint(c, "from_version", &from);
    bool has_to = jint(c, "to_version", &to);

    if (has_from && has_to)
        return g_strdup_printf("%" G_GINT64_FORMAT "->%" G_GINT64_FORMAT, from, to);
    if (has_to)
        return g_strdup_printf("%" G_GINT64_FORMAT, to);
    if (has_from)
        return g_strdup_printf("%" G_GINT64_FORMAT "->", from);
    return g_strdup("-");
}

/* Which definition a change is of; a persistent one that waits for the
 * next boot says so, since the running domain does not have it yet. */
static const char *track_text(struct json_object *c)
{
    bool pending = false;
    const char *track = jstr(c, "track");
    if (g_strcmp0(track, "persistent") != 0)
        return "live";
    return jbool(c, "pending", &pending) && pending ? "persistent, pending (next boot)"
                                                    : "persistent";
}

static void print_change_diff(struct json_object *c)
{
    g_autofree char *versions = versions_text(c);
    g_autofree char *when = text_sanitize(jstr(c, "seen_at"));
    g_autofree char *vm = text_sanitize(jstr(c, "vm_name"));
    g_autofree char *host = text_sanitize(jstr(c, "host"));
    g_autofree char *cause = text_sanitize(jstr(c, "cause"));
    g_autofree char *actor = jstr(c, "actor") ? text_sanitize(jstr(c, "actor")) : NULL;
    g_autofree char *audit = audit_suffix(c);
    const char *diff = jstr(c, "diff");

    printf("change %s  %s  %s on %s  version %s  %s%s%s%s  [%s]\n",
           jstr(c, "id") ? jstr(c, "id") : "-", when, vm, host, versions, cause,
           actor ? " by " : "", actor ? actor : "", audit, track_text(c));
    if (diff && *diff) {
        /* Sanitize line by line so the diff keeps its shape. */
        g_auto(GStrv) lines = g_strsplit(diff, "\n", -1);
        guint nlines = g_strv_length(lines);
        for (guint i = 0; i < nlines; i++) {
            if (i + 1 == nlines && !*lines[i])
                break;
            g_autofree char *clean = text_sanitize(lines[i]);
            printf("%s\n", clean);
        }
    }
    printf("\n");
}

int cmd_changes(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *changes = NULL;
    g_autoptr(GString) path = g_string_new("/changes");

    int r = check_limit();
    if (r != CLI_EXIT_OK)
        return r;
    if (n > 0)
        cli_query_add(path, "vm", args[0]);
    if (cli_opts.limit > 0)
        g_string_append_printf(path, "%climit=%d", strchr(path->str, '?') ? '&' : '?',
                               cli_opts.limit);
    r = cli_get_list(path->str, "changes", &reply, &changes);
    if (r != CLI_EXIT_OK)
        return cli_done(r);

    if (cli_opts.diff) {
        for (size_t i = 0; i < json_object_array_length(changes); i++)
            print_change_diff(json_object_array_get_idx(changes, i));
        return CLI_EXIT_OK;
    }
    static const char *const cols[] = {"Time",  "VM",    "Host",  "Versions", "Track",
                                       "Cause", "Actor", "Added", "Removed"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 7);
    table_align_right(t, 8);
    for (size_t i = 0; i < json_object_array_length(changes); i++) {
        struct json_object *c = json_object_array_get_idx(changes, i);
        g_autofree char *versions = versions_text(c);
        const char *diff = jstr(c, "diff");
        table_add(t, jstr(c, "seen_at"));
        table_add(t, jstr(c, "vm_name"));
        table_add(t, jstr(c, "host"));
        table_add(t, versions);
        table_add(t, track_text(c));
        table_add(t, jstr(c, "cause"));
        table_add(t, jstr(c, "actor"));
        if (diff) {
            guint added, removed;
            diff_count(diff, &added, &removed);
            table_addf(t, "+%u", added);
            table_addf(t, "-%u", removed);
        } else {
            table_add(t, NULL);
            table_add(t, NULL);
        }
    }
    print_table(t);
    return CLI_EXIT_OK;
}

int cmd_audit(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *entries = NULL;
    g_autoptr(GString) path = g_string_new("/audit");

    int r = check_limit();
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.vm)
        cli_query_add(path, "vm", cli_opts.vm);
    if (cli_opts.limit > 0)
        g_string_append_printf(path, "%climit=%d", strchr(path->str, '?') ? '&' : '?',
                               cli_opts.limit);
    r = cli_get_list(path->str, "audit", &reply, &entries);
    if (r != CLI_EXIT_OK)
        return cli_done(r);

    static const char *const cols[] = {"Id",   "Started", "Actor",  "Action", "Target",
                                       "Host", "Result",  "Params", "Error"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 0);
    for (size_t i = 0; i < json_object_array_length(entries); i++) {
        struct json_object *e = json_object_array_get_idx(entries, i);
        struct json_object *params = jobject(e, "params");
        cell_int(t, e, "id");
        table_add(t, jstr(e, "started_at"));
        table_add(t, jstr(e, "actor"));
        table_add(t, jstr(e, "action"));
        table_add(t, jstr(e, "target"));
        table_add(t, jstr(e, "host"));
        /* An unknown outcome, and what the re-check found once the host was
         * back: "error, then running". */
        if (jstr(e, "checked_state")) {
            g_autofree char *res =
                g_strdup_printf("%s, then %s", jstr(e, "result"), jstr(e, "checked_state"));
            table_add(t, res);
        } else {
            table_add(t, jstr(e, "result"));
        }
        if (params && json_object_object_length(params) > 0)
            table_add(t, json_object_to_json_string_ext(
                             params, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        else
            table_add(t, NULL);
        table_add(t, jstr(e, "error"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

/* ---- tokens ----------------------------------------------------------- */

int cmd_token_create(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) body = json_object_new_object();
    g_autoptr(json_object) reply = NULL;

    if (!cli_opts.role)
        return cli_usage_error("--role is required (viewer, operator or admin)");
    if (strcmp(cli_opts.role, "viewer") != 0 && strcmp(cli_opts.role, "operator") != 0 &&
        strcmp(cli_opts.role, "admin") != 0) {
        g_autofree char *clean = text_sanitize(cli_opts.role);
        return cli_usage_error("invalid role '%s' (viewer, operator or admin)", clean);
    }
    json_object_object_add(body, "name", json_object_new_string(args[0]));
    json_object_object_add(body, "role", json_object_new_string(cli_opts.role));
    int r = api_request("POST", "/tokens", body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    g_autofree char *name = text_sanitize(jstr(reply, "name") ? jstr(reply, "name") : args[0]);
    return cli_print_token(reply,
                           "Token '%s' created (id %s, role %s); it is shown only this once:", name,
                           jstr(reply, "id") ? jstr(reply, "id") : "-", cli_opts.role);
}

int cmd_token_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *tokens = NULL;
    int r = cli_get_list("/tokens", "tokens", &reply, &tokens);

    if (r != CLI_EXIT_OK)
        return cli_done(r);
    static const char *const cols[] = {"Id", "Name", "Role", "Created", "Last used"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 0);
    for (size_t i = 0; i < json_object_array_length(tokens); i++) {
        struct json_object *tok = json_object_array_get_idx(tokens, i);
        cell_int(t, tok, "id");
        table_add(t, jstr(tok, "name"));
        table_add(t, jstr(tok, "role"));
        table_add(t, jstr(tok, "created_at"));
        table_add(t, jstr(tok, "last_used"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

int cmd_token_revoke(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    g_autofree char *esc = http_escape(args[0]);
    g_autofree char *path = g_strconcat("/tokens/", esc, NULL);
    int r = api_request("DELETE", path, NULL, &reply);

    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    g_autofree char *clean = text_sanitize(args[0]);
    printf("Token %s revoked\n", clean);
    return CLI_EXIT_OK;
}

/* ---- pools and networks ----------------------------------------------- */

int cmd_pool_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *pools = NULL;
    g_autoptr(GString) path = g_string_new("/pools");

    if (cli_opts.host)
        cli_query_add(path, "host", cli_opts.host);
    int r = cli_get_list(path->str, "pools", &reply, &pools);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    print_pools(pools, true);
    return CLI_EXIT_OK;
}

int cmd_network_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *nets = NULL;
    g_autoptr(GString) path = g_string_new("/networks");

    if (cli_opts.host)
        cli_query_add(path, "host", cli_opts.host);
    int r = cli_get_list(path->str, "networks", &reply, &nets);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    print_networks(nets, true);
    return CLI_EXIT_OK;
}

int cli_print_token(struct json_object *reply, const char *fmt, ...)
{
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    const char *token = jstr(reply, "token");
    if (!token) {
        cli_error("the server's reply has no token");
        return CLI_EXIT_SERVER;
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *note = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *clean = text_sanitize(token);
    /* The token alone goes to stdout, so that T=$(kanri token create ...) or
     * kanri agent enroll web1 > /etc/kanri/guestd.token works. */
    fprintf(stderr, "%s\n", note);
    printf("%s\n", clean);
    return CLI_EXIT_OK;
}

int cli_ask(const char *method, const char *path, json_object *body, json_object **ret,
            bool *ret_done)
{
    int r = api_request(method, path, body, ret);
    *ret_done = r != CLI_EXIT_OK || cli_opts.json;
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    if (cli_opts.json)
        print_json(*ret);
    return CLI_EXIT_OK;
}
