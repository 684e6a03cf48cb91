/*
 * kanrid's configuration file (conf.h, kanri.conf(5)).  One table per group
 * names each key, its type and bounds, and where the value goes: the same
 * table validates, stores and (in the error messages) lists the keys.
 */
#include "config.h"

#include "daemon/conf.h"

#include "ops/ops.h"

#include "api/api.h"
#include "engine/engine.h"
#include "basic/util.h"

#include <errno.h>
#include <math.h>
#include <string.h>

enum conf_type {
    T_STRING,   /* char *, non-empty */
    T_INT,      /* int within [min, max] */
    T_BOOL,     /* bool: yes/no, true/false, 1/0 */
    T_LISTEN,   /* ADDR:PORT into listen_host and listen_port */
    T_ENUM,     /* char *, one of enums */
    T_DURATION, /* int64_t microseconds; "forever" is 0 */
};

struct conf_field {
    const char *key;
    enum conf_type type;
    int min, max;             /* T_INT */
    const char *const *enums; /* T_ENUM, NULL-terminated */
    size_t offset;            /* in struct conf, or struct conf_hypervisor for its group */
};

#define C(field) offsetof(struct conf, field)
#define H(field) offsetof(struct conf_hypervisor, field)

static const char *const log_levels[] = {"error", "warning", "info", "debug", NULL};
static const char *const backends[] = {"sqlite", "postgresql", NULL};
static const char *const tls_modes[] = {"auto", "on", "off", NULL};

static const struct conf_field manager_fields[] = {
    {"listen", T_LISTEN, 0, 0, NULL, 0},
    {"max_connections", T_INT, 16, 1000000, NULL, C(max_connections)},
    {"max_connections_per_address", T_INT, 1, 1000000, NULL, C(max_connections_per_address)},
    {"tls", T_ENUM, 0, 0, tls_modes, C(tls)},
    {"tls_cert", T_STRING, 0, 0, NULL, C(tls_cert)},
    {"tls_key", T_STRING, 0, 0, NULL, C(tls_key)},
    {"header_timeout", T_INT, 1, 3600, NULL, C(header_timeout)},
    {"body_timeout", T_INT, 1, 3600, NULL, C(body_timeout)},
    {"max_streams", T_INT, 1, 100000, NULL, C(max_streams)},
    {"stream_backlog", T_INT, 16, 1000000, NULL, C(stream_backlog)},
    {"state_dir", T_STRING, 0, 0, NULL, C(state_dir)},
    {"resync_interval", T_INT, 5, 86400, NULL, C(resync_interval)},
    {"log_level", T_ENUM, 0, 0, log_levels, C(log_level)},
    {"collect_interval", T_INT, 0, 3600, NULL, C(collect_interval)},
    {"collect_budget_ms", T_INT, 0, 3600000, NULL, C(collect_budget_ms)},
    {"collect_connections", T_INT, 1, 16, NULL, C(collect_connections)},
    {"balloon_period", T_INT, 0, 3600, NULL, C(balloon_period)},
    {"agent_timeout", T_INT, 1, 60, NULL, C(agent_timeout)},
    {"refresh_pools", T_BOOL, 0, 0, NULL, C(refresh_pools)},
    {"retention_raw", T_DURATION, 0, 0, NULL, C(retention_raw)},
    {"retention_5m", T_DURATION, 0, 0, NULL, C(retention_5m)},
    {"retention_1h", T_DURATION, 0, 0, NULL, C(retention_1h)},
    {NULL, 0, 0, 0, NULL, 0},
};

static const struct conf_field store_fields[] = {
    {"backend", T_ENUM, 0, 0, backends, C(store_backend)},
    {"path", T_STRING, 0, 0, NULL, C(store_path)},
    {"url", T_STRING, 0, 0, NULL, C(store_url)},
    {"lease", T_DURATION, 0, 0, NULL, C(store_lease)},
    {"api_url", T_STRING, 0, 0, NULL, C(store_api_url)},
    {NULL, 0, 0, 0, NULL, 0},
};

static const char *const finding_severities[] = {"info", "warning", "critical", "none", NULL};

static const struct conf_field ops_fields[] = {
    {"resolve_after", T_DURATION, 0, 0, NULL, C(ops_resolve_after)},
    {"reopen_window", T_DURATION, 0, 0, NULL, C(ops_reopen_window)},
    {"suggest_problem_after", T_INT, 0, 1000, NULL, C(ops_suggest_count)},
    {"suggest_window", T_DURATION, 0, 0, NULL, C(ops_suggest_window)},
    {"event_retention", T_DURATION, 0, 0, NULL, C(ops_event_retention)},
    {"notify_give_up", T_DURATION, 0, 0, NULL, C(ops_notify_give_up)},
    {"finding_min_severity", T_ENUM, 0, 0, finding_severities, C(ops_finding_min)},
    {"agent_silent_after", T_DURATION, 0, 0, NULL, C(ops_agent_silent)},
    {NULL, 0, 0, 0, NULL, 0},
};

static const char *const hypervisor_drivers[] = {"libvirt", "lxc", NULL};

static const struct conf_field hypervisor_fields[] = {
    {"uri", T_STRING, 0, 0, NULL, H(uri)},
    {"driver", T_ENUM, 0, 0, hypervisor_drivers, H(driver)},
    {"keepalive_interval", T_INT, 0, 3600, NULL, H(keepalive_interval)},
    {"keepalive_count", T_INT, 1, 100, NULL, H(keepalive_count)},
    {"reconnect_min", T_INT, 1, 3600, NULL, H(reconnect_min)},
    {"reconnect_max", T_INT, 1, 86400, NULL, H(reconnect_max)},
    {"fence", T_STRING, 0, 0, NULL, H(fence)},
    {"probe", T_STRING, 0, 0, NULL, H(probe)},
    {"fence_timeout", T_INT, 1, 600, NULL, H(fence_timeout)},
    {NULL, 0, 0, 0, NULL, 0},
};

static void hypervisor_free(gpointer p)
{
    struct conf_hypervisor *h = p;
    if (!h)
        return;
    g_free(h->name);
    g_free(h->uri);
    g_free(h->driver);
    g_free(h->fence);
    g_free(h->probe);
    g_free(h);
}

struct conf *conf_new(void)
{
    struct conf *c = g_new0(struct conf, 1);
    c->listen_host = g_strdup("127.0.0.1");
    c->listen_port = CONF_DEFAULT_PORT;
    c->resync_interval = 60;
    c->log_level = g_strdup("info");
    c->tls = g_strdup("auto");
    c->store_backend = g_strdup("sqlite");
    /* Lost hosts are taken within a lease and a third of one: 27 s. */
    c->store_lease = 20 * G_USEC_PER_SEC;
    c->collect_interval = 10;
    c->collect_connections = 4;
    c->max_connections = API_DEFAULT_MAX_CONNECTIONS;
    c->max_connections_per_address = API_DEFAULT_MAX_PER_ADDRESS;
    c->header_timeout = API_DEFAULT_HEADER_TIMEOUT_S;
    c->body_timeout = API_DEFAULT_BODY_TIMEOUT_S;
    c->max_streams = API_DEFAULT_MAX_STREAMS;
    c->stream_backlog = STREAM_DEFAULT_BACKLOG;
    c->balloon_period = 10;
    c->agent_timeout = 2;
    c->refresh_pools = true;
    c->reconcile_enabled = true;
    c->retention_raw = 2 * 86400 * USEC_PER_SEC;
    c->retention_5m = 90 * 86400 * USEC_PER_SEC;
    c->retention_1h = 5 * 365 * 86400 * USEC_PER_SEC;
    c->hypervisors = g_ptr_array_new_with_free_func(hypervisor_free);
    reconcile_config_init(&c->reconcile);
    c->ops_resolve_after = 0;
    c->ops_reopen_window = 3600 * USEC_PER_SEC;
    c->ops_suggest_count = 3;
    c->ops_suggest_window = 86400 * USEC_PER_SEC;
    c->ops_event_retention = 90 * 86400 * USEC_PER_SEC;
    c->ops_notify_give_up = 86400 * USEC_PER_SEC;
    c->ops_finding_min = g_strdup("warning");
    c->ops_agent_silent = 300 * USEC_PER_SEC;
    c->rules = g_ptr_array_new_with_free_func((GDestroyNotify)alert_rule_free);
    c->routes = g_ptr_array_new_with_free_func((GDestroyNotify)notify_route_free);
    c->policy_enabled = true;
    policy_memory_conf_init(&c->policy_memory);
    policy_balance_conf_init(&c->policy_balance);
    c->policy_priority = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    c->policy_affinity = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    c->policy_anti_affinity = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    ha_conf_init(&c->ha);
    c->ha_vms = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, ha_vm_settings_free);
    c->ha_groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_strfreev);
    c->reports_schedule = g_strdup("daily");
    c->reports_formats = REPORT_FORMAT_HTML | REPORT_FORMAT_CSV;
    c->reports_capacity = true;
    c->slo_default = NAN;
    c->slo_groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return c;
}

void conf_free(struct conf *c)
{
    if (!c)
        return;
    g_free(c->listen_host);
    g_free(c->state_dir);
    g_free(c->log_level);
    g_free(c->tls);
    g_free(c->tls_cert);
    g_free(c->tls_key);
    g_free(c->store_backend);
    g_free(c->store_path);
    g_free(c->store_url);
    g_free(c->store_api_url);
    g_ptr_array_unref(c->hypervisors);
    g_ptr_array_unref(c->rules);
    g_free(c->ops_finding_min);
    g_ptr_array_unref(c->routes);
    g_hash_table_unref(c->policy_priority);
    g_hash_table_unref(c->policy_affinity);
    g_hash_table_unref(c->policy_anti_affinity);
    g_hash_table_unref(c->ha_vms);
    g_hash_table_unref(c->ha_groups);
    g_free(c->reports_dir);
    g_free(c->reports_schedule);
    g_hash_table_unref(c->slo_groups);
    g_free(c);
}

bool conf_parse_listen(const char *s, char **ret_host, int *ret_port)
{
    const char *colon;
    g_autofree char *host = NULL;

    if (!s)
        return false;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return false;
        host = g_strndup(s + 1, (gsize)(end - s - 1));
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return false;
        host = colon == s ? g_strdup("127.0.0.1") : g_strndup(s, (gsize)(colon - s));
        if (strchr(host, ':'))
            return false; /* bare IPv6 needs brackets */
    }
    uint64_t port;
    if (!parse_u64(colon + 1, &port) || port > 65535)
        return false;
    if (!*host)
        return false;
    *ret_host = g_steal_pointer(&host);
    *ret_port = (int)port;
    return true;
}

char *conf_name_from_uri(const char *uri)
{
    /* driver[+transport]://[user@]host[:port]/path[?query] */
    const char *sep = strstr(uri, "://");
    if (!sep)
        return g_strdup(uri);
    g_autofree char *driver = g_strndup(uri, (gsize)(sep - uri));
    char *plus = strchr(driver, '+');
    if (plus)
        *plus = '\0';
    const char *rest = sep + 3;
    const char *slash = strchr(rest, '/');
    g_autofree char *authority = slash ? g_strndup(rest, (gsize)(slash - rest)) : g_strdup(rest);
    g_autofree char *path = g_strdup(slash ? slash : "");
    char *q = strchr(path, '?');
    if (q)
        *q = '\0';
    char *aq = strchr(authority, '?');
    if (aq)
        *aq = '\0';
    const char *at = strrchr(authority, '@');
    const char *host = at ? at + 1 : authority;
    if (*host) {
        g_autofree char *h = NULL;
        if (host[0] == '[') {
            /* [v6]:port: keep the address, drop brackets and port. */
            const char *close = strchr(host, ']');
            h = g_strndup(host + 1, close ? (gsize)(close - host - 1) : strlen(host + 1));
        } else {
            h = g_strdup(host);
            char *port = strrchr(h, ':');
            if (port)
                *port = '\0';
        }
        /* Host names appear in HOST:NAME references and [hypervisor:NAME]
         * groups: keep them to letters, digits, '.', '_' and '-'. */
        for (char *p = h; *p; p++) {
            if (!g_ascii_isalnum(*p) && *p != '.' && *p != '_' && *p != '-')
                *p = '-';
        }
        return g_steal_pointer(&h);
    }
    if (g_str_equal(path, "/system") || g_str_equal(path, "/session") || !*path ||
        g_str_equal(path, "/"))
        return g_strdup_printf("%s%s", g_str_equal(driver, "qemu") ? "local" : driver,
                               g_str_equal(path, "/session") ? "-session" : "");
    g_autofree char *base = g_path_get_basename(path);
    char *dot = strrchr(base, '.');
    if (dot && dot != base)
        *dot = '\0';
    if (g_str_equal(base, "default"))
        return g_strdup_printf("%s-default", driver);
    return g_strdup(base);
}

static bool name_taken(struct conf *c, const char *name)
{
    for (guint i = 0; i < c->hypervisors->len; i++) {
        struct conf_hypervisor *h = g_ptr_array_index(c->hypervisors, i);
        if (g_str_equal(h->name, name))
            return true;
    }
    return false;
}

static struct conf_hypervisor *hypervisor_new(const char *name)
{
    struct conf_hypervisor *h = g_new0(struct conf_hypervisor, 1);
    h->name = g_strdup(name);
    h->keepalive_interval = 5;
    h->keepalive_count = 3;
    h->reconnect_min = 1;
    h->reconnect_max = 60;
    h->fence_timeout = 60;
    return h;
}

const char *conf_hypervisor_driver(struct conf_hypervisor *h)
{
    const char *by_uri = g_str_has_prefix(h->uri, CONF_LXC_SCHEME) ? "lxc" : "libvirt";
    if (!h->driver)
        h->driver = g_strdup(by_uri);
    return g_str_equal(h->driver, by_uri) ? h->driver : NULL;
}

struct conf_hypervisor *conf_add_uri(struct conf *c, const char *uri)
{
    g_autofree char *base = conf_name_from_uri(uri);
    g_autofree char *name = g_strdup(base);
    for (int n = 2; name_taken(c, name); n++) {
        g_free(name);
        name = g_strdup_printf("%s-%d", base, n);
    }
    struct conf_hypervisor *h = hypervisor_new(name);
    h->uri = g_strdup(uri);
    g_ptr_array_add(c->hypervisors, h);
    return h;
}

/* Line numbers of groups and keys, found by a scan of our own because
 * GKeyFile does not report them.  Key: "group\nkey". */
struct line_index {
    GHashTable *lines; /* char* -> GINT_TO_POINTER(line) */
};

static void add_error(GPtrArray *errors, unsigned *count, const char *label, int line,
                      const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static void add_error(GPtrArray *errors, unsigned *count, const char *label, int line,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(errors, g_strdup_printf("%s:%d: %s", label, line, msg));
    (*count)++;
}

static int line_of(GHashTable *lines, const char *group, const char *key)
{
    g_autofree char *k = g_strdup_printf("%s\n%s", group, key ? key : "");
    return GPOINTER_TO_INT(g_hash_table_lookup(lines, k));
}

/* Records the line of every group and key, and reports repeats: GKeyFile
 * silently merges a repeated group and keeps the last of repeated keys, so
 * two [hypervisor:a] groups would quietly become one host. */
static void scan_lines(const char *data, size_t len, GHashTable *lines, const char *label,
                       GPtrArray *errors, unsigned *count)
{
    g_autofree char *copy = g_strndup(data, len);
    g_auto(GStrv) v = g_strsplit(copy, "\n", -1);
    g_autofree char *group = g_strdup("");
    bool group_repeated = false;
    for (int i = 0; v[i]; i++) {
        char *l = g_strstrip(v[i]);
        g_autofree char *k = NULL;
        if (!*l || *l == '#')
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            g_free(group);
            group = end ? g_strndup(l + 1, (gsize)(end - l - 1)) : g_strdup(l + 1);
            k = g_strdup_printf("%s\n", group);
            group_repeated = g_hash_table_contains(lines, k);
        } else if (group_repeated) {
            continue; /* the repeated group is the error; its keys are not */
        } else {
            char *eq = strchr(l, '=');
            if (!eq)
                continue;
            g_autofree char *key = g_strndup(l, (gsize)(eq - l));
            g_strstrip(key);
            k = g_strdup_printf("%s\n%s", group, key);
        }
        int first = GPOINTER_TO_INT(g_hash_table_lookup(lines, k));
        if (first) {
            const char *nl = strchr(k, '\n');
            if (nl[1]) {
                add_error(errors, count, label, i + 1,
                          "%s: duplicate key in [%s] (first at line %d)", nl + 1, group, first);
                /* Which copy GKeyFile keeps is its choice: check neither. */
                g_hash_table_insert(lines, g_strconcat(k, "\n(duplicate)", NULL),
                                    GINT_TO_POINTER(1));
            } else if (g_str_has_prefix(group, "hypervisor:"))
                add_error(errors, count, label, i + 1,
                          "[%s]: duplicate host name (first at line %d)", group, first);
            else
                add_error(errors, count, label, i + 1, "[%s]: repeated group (first at line %d)",
                          group, first);
            continue;
        }
        g_hash_table_insert(lines, g_steal_pointer(&k), GINT_TO_POINTER(i + 1));
    }
}

/* GKeyFile says only "line X is bad" in its own words; find the first line it
 * cannot take so the message points at it. */
static int first_bad_line(const char *data, size_t len)
{
    g_autofree char *copy = g_strndup(data, len);
    g_auto(GStrv) v = g_strsplit(copy, "\n", -1);
    bool in_group = false;
    for (int i = 0; v[i]; i++) {
        char *l = g_strstrip(v[i]);
        if (!*l || *l == '#')
            continue;
        if (*l == '[') {
            if (l[strlen(l) - 1] != ']')
                return i + 1;
            in_group = true;
            continue;
        }
        if (!strchr(l, '=') || *l == '=' || !in_group)
            return i + 1;
    }
    return 0;
}

static bool parse_bool(const char *val, bool *ret)
{
    static const char *const yes[] = {"yes", "true", "on", "1", NULL};
    static const char *const no[] = {"no", "false", "off", "0", NULL};
    if (g_strv_contains(yes, val))
        *ret = true;
    else if (g_strv_contains(no, val))
        *ret = false;
    else
        return false;
    return true;
}

static void check_group(struct conf *c, GKeyFile *kf, GHashTable *lines, const char *label,
                        const char *group, const struct conf_field *fields,
                        struct conf_hypervisor *hv, GPtrArray *errors, unsigned *count)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (int i = 0; keys && keys[i]; i++) {
        const char *key = keys[i];
        /* A repeated key is listed once per copy; scan_lines() reported it. */
        g_autofree char *dup = g_strdup_printf("%s\n%s\n(duplicate)", group, key);
        if (!g_hash_table_add(seen, (gpointer)key) || g_hash_table_contains(lines, dup))
            continue;
        int line = line_of(lines, group, key);
        const struct conf_field *f = NULL;
        for (const struct conf_field *p = fields; p->key; p++) {
            if (g_str_equal(p->key, key))
                f = p;
        }
        if (!f) {
            g_autoptr(GString) known = g_string_new(NULL);
            for (const struct conf_field *p = fields; p->key; p++)
                g_string_append_printf(known, "%s%s", known->len ? ", " : "", p->key);
            add_error(errors, count, label, line, "unknown key '%s' in [%s] (known: %s)", key,
                      group, known->str);
            continue;
        }
        g_autofree char *raw = g_key_file_get_value(kf, group, key, NULL);
        g_autofree char *val = g_strstrip(g_strdup(raw ? raw : ""));
        /* Validated values go where the table says; bad ones keep their
         * defaults. */
        char *dst = (char *)(hv ? (void *)hv : (void *)c) + f->offset;
        switch (f->type) {
        case T_STRING:
            if (!*val) {
                add_error(errors, count, label, line, "%s: must not be empty", key);
                continue;
            }
            g_free(*(char **)dst);
            *(char **)dst = g_strdup(val);
            break;
        case T_INT: {
            uint64_t n;
            if (!parse_u64(val, &n) || n < (uint64_t)f->min || n > (uint64_t)f->max) {
                add_error(errors, count, label, line,
                          "%s: expected an integer from %d to %d, got '%s'", key, f->min, f->max,
                          val);
                continue;
            }
            *(int *)dst = (int)n;
            break;
        }
        case T_BOOL:
            if (!parse_bool(val, (bool *)dst))
                add_error(errors, count, label, line, "%s: expected yes or no, got '%s'", key, val);
            break;
        case T_LISTEN: {
            g_autofree char *h = NULL;
            int port;
            if (!conf_parse_listen(val, &h, &port)) {
                add_error(errors, count, label, line,
                          "%s: expected ADDR:PORT (e.g. 127.0.0.1:8470), got '%s'", key, val);
                continue;
            }
            g_free(c->listen_host);
            c->listen_host = g_steal_pointer(&h);
            c->listen_port = port;
            break;
        }
        case T_DURATION: {
            int64_t us = 0;
            if (!g_str_equal(val, "forever") && !duration_parse(val, &us)) {
                add_error(errors, count, label, line,
                          "%s: expected a duration such as 48h, 90d or 1825d, or 'forever', "
                          "got '%s'",
                          key, val);
                continue;
            }
            *(int64_t *)dst = us;
            break;
        }
        case T_ENUM: {
            bool ok = false;
            for (const char *const *e = f->enums; *e; e++)
                ok |= g_str_equal(*e, val);
            if (!ok) {
                g_autofree char *choices = g_strjoinv("|", (char **)f->enums);
                add_error(errors, count, label, line, "%s: expected one of %s, got '%s'", key,
                          choices, val);
                continue;
            }
            g_free(*(char **)dst);
            *(char **)dst = g_strdup(val);
            break;
        }
        }
    }
}

/* [reconcile]: the engine owns the names and ranges of its options, so it
 * validates them; a bad value keeps the default, as elsewhere. */
static void check_reconcile(struct conf *c, GKeyFile *kf, GHashTable *lines, const char *label,
                            GPtrArray *errors, unsigned *count)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, "reconcile", NULL, NULL);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t i = 0; keys && keys[i]; i++) {
        const char *key = keys[i];
        g_autofree char *dup = g_strdup_printf("reconcile\n%s\n(duplicate)", key);
        if (!g_hash_table_add(seen, (gpointer)key) || g_hash_table_contains(lines, dup))
            continue;
        int line = line_of(lines, "reconcile", key);
        g_autofree char *raw = g_key_file_get_value(kf, "reconcile", key, NULL);
        g_autofree char *val = g_strstrip(g_strdup(raw ? raw : ""));
        g_autoptr(GError) err = NULL;
        /* "enabled" is the stage's own switch, not one of the engine's
         * tolerances. */
        if (g_str_equal(key, "enabled")) {
            if (!parse_bool(val, &c->reconcile_enabled))
                add_error(errors, count, label, line,
                          "[reconcile] enabled: expected yes or no, got '%s'", val);
        } else if (!reconcile_config_set(&c->reconcile, key, val, &err)) {
            add_error(errors, count, label, line, "[reconcile] %s", err->message);
        }
    }
}

/* ---- [policy], [policy:memory], [policy:balance] ---- */

static bool group_name_ok(const char *name);

/* "vm1, vm2" into TABLE as VM -> GROUP; false with *ret_err when a VM is
 * in another group of the same kind already. */
static bool group_members(GHashTable *table, const char *kind, const char *group,
                          const char *val, char **ret_err)
{
    g_auto(GStrv) names = g_strsplit(val, ",", -1);
    unsigned n = 0;
    for (size_t i = 0; names[i]; i++) {
        const char *vm = g_strstrip(names[i]);
        if (!*vm)
            continue;
        if (strlen(vm) > 256) {
            *ret_err = g_strdup_printf("%s.%s: a VM name is at most 256 characters", kind, group);
            return false;
        }
        const char *other = g_hash_table_lookup(table, vm);
        if (other && strcmp(other, group) != 0) {
            *ret_err = g_strdup_printf("%s.%s: VM '%s' is in %s group '%s' already", kind, group,
                                       vm, kind, other);
            return false;
        }
        g_hash_table_replace(table, g_strdup(vm), g_strdup(group));
        n++;
    }
    if (n < 2) {
        *ret_err = g_strdup_printf("%s.%s: a group names two VMs or more, got '%s'", kind, group,
                                   val);
        return false;
    }
    return true;
}

static bool policy_key(struct conf *c, const char *group, const char *key, const char *val,
                       char **ret_err)
{
    g_autoptr(GError) err = NULL;
    if (g_str_equal(group, "policy")) {
        if (!g_str_equal(key, "enabled")) {
            *ret_err = g_strdup_printf("unknown key '%s' (known: enabled)", key);
            return false;
        }
        if (!parse_bool(val, &c->policy_enabled)) {
            *ret_err = g_strdup_printf("enabled: expected yes or no, got '%s'", val);
            return false;
        }
        return true;
    }
    if (g_str_equal(group, "policy:memory")) {
        if (policy_memory_conf_set(&c->policy_memory, key, val, &err))
            return true;
        *ret_err = g_strdup(err->message);
        return false;
    }
    /* [policy:balance] */
    if (g_str_has_prefix(key, "priority.")) {
        const char *vm = key + strlen("priority.");
        char *end = NULL;
        long n = strtol(val, &end, 10);
        if (!*vm || !*val || *end || n < -1000 || n > 1000) {
            *ret_err = g_strdup_printf("%s: expected a VM name and a priority from -1000 to "
                                       "1000, got '%s'",
                                       key, val);
            return false;
        }
        g_hash_table_replace(c->policy_priority, g_strdup(vm), GINT_TO_POINTER((int)n));
        return true;
    }
    if (g_str_has_prefix(key, "affinity.") || g_str_has_prefix(key, "anti_affinity.")) {
        bool anti = g_str_has_prefix(key, "anti_");
        const char *grp = strchr(key, '.') + 1;
        if (!group_name_ok(grp)) {
            *ret_err = g_strdup_printf("%s: a group name is 1-64 characters of letters, digits, "
                                       "'-', '_', '.'",
                                       key);
            return false;
        }
        return group_members(anti ? c->policy_anti_affinity : c->policy_affinity,
                             anti ? "anti_affinity" : "affinity", grp, val, ret_err);
    }
    if (policy_balance_conf_set(&c->policy_balance, key, val, &err))
        return true;
    *ret_err = g_strdup(err->message);
    return false;
}

static void check_policy(struct conf *c, GKeyFile *kf, GHashTable *lines, const char *label,
                         const char *group, GPtrArray *errors, unsigned *count)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
    for (size_t i = 0; keys && keys[i]; i++) {
        int line = line_of(lines, group, keys[i]);
        g_autofree char *raw = g_key_file_get_value(kf, group, keys[i], NULL);
        g_autofree char *val = g_strstrip(g_strdup(raw ? raw : ""));
        g_autofree char *msg = NULL;
        if (policy_key(c, group, keys[i], val, &msg))
            continue;
        /* The policy module's messages name the group themselves. */
        if (msg[0] == '[')
            add_error(errors, count, label, line, "%s", msg);
        else
            add_error(errors, count, label, line, "[%s] %s", group, msg);
    }
}

/* ---- [ha] ---- */

static bool ha_key(struct conf *c, const char *key, const char *val, char **ret_err)
{
    g_autoptr(GError) err = NULL;
    if (g_str_has_prefix(key, "vm.")) {
        const char *vm = key + 3;
        struct ha_vm_settings v;
        if (!*vm || strlen(vm) > 256) {
            *ret_err = g_strdup_printf("%s: expected vm.NAME with a VM name of 1-256 characters",
                                       key);
            return false;
        }
        if (!ha_vm_settings_parse(val, &v, &err)) {
            *ret_err = g_strdup_printf("%s: %s", key, err->message);
            return false;
        }
        g_hash_table_replace(c->ha_vms, g_strdup(vm), g_memdup2(&v, sizeof(v)));
        return true;
    }
    if (g_str_has_prefix(key, "group.")) {
        const char *grp = key + 6;
        if (!ha_group_name_ok(grp)) {
            *ret_err = g_strdup_printf("%s: a group name is 1-64 characters of letters, digits, "
                                       "'-', '_', '.'",
                                       key);
            return false;
        }
        g_auto(GStrv) parts = g_strsplit(val, ",", -1);
        g_autoptr(GPtrArray) hosts = g_ptr_array_new_with_free_func(g_free);
        for (size_t i = 0; parts[i]; i++) {
            const char *h = g_strstrip(parts[i]);
            if (*h)
                g_ptr_array_add(hosts, g_strdup(h));
        }
        if (!hosts->len) {
            *ret_err = g_strdup_printf("%s: expected the group's hosts, comma-separated", key);
            return false;
        }
        g_ptr_array_add(hosts, NULL);
        g_hash_table_replace(c->ha_groups, g_strdup(grp),
                             g_ptr_array_free(g_steal_pointer(&hosts), FALSE));
        return true;
    }
    if (ha_conf_set(&c->ha, key, val, &err))
        return true;
    *ret_err = g_strdup(err->message);
    return false;
}

static void check_ha(struct conf *c, GKeyFile *kf, GHashTable *lines, const char *label,
                     GPtrArray *errors, unsigned *count)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, "ha", NULL, NULL);
    for (size_t i = 0; keys && keys[i]; i++) {
        int line = line_of(lines, "ha", keys[i]);
        g_autofree char *raw = g_key_file_get_value(kf, "ha", keys[i], NULL);
        g_autofree char *val = g_strstrip(g_strdup(raw ? raw : ""));
        g_autofree char *msg = NULL;
        if (ha_key(c, keys[i], val, &msg))
            continue;
        if (msg[0] == '[')
            add_error(errors, count, label, line, "%s", msg);
        else
            add_error(errors, count, label, line, "[ha] %s", msg);
    }
}

/* A percentage above 0 and below 100 as a fraction. */
static bool parse_slo(const char *val, double *ret)
{
    char *end;
    double v = g_ascii_strtod(val, &end);
    if (end == val || *end || !(v > 0 && v < 100))
        return false;
    *ret = v / 100.0;
    return true;
}

static bool tag_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 64)
        return false;
    for (const char *p = t; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("._-", *p))
            return false;
    }
    return true;
}

/* [reports]: where and how often the scheduled reports are written, and
 * the SLO targets, the fleet's (slo) and each group's (slo.TAG). */
static void check_reports(struct conf *c, GKeyFile *kf, GHashTable *lines, const char *label,
                          GPtrArray *errors, unsigned *count)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, "reports", NULL, NULL);
    for (size_t i = 0; keys && keys[i]; i++) {
        const char *key = keys[i];
        int line = line_of(lines, "reports", key);
        g_autofree char *raw = g_key_file_get_value(kf, "reports", key, NULL);
        g_autofree char *val = g_strstrip(g_strdup(raw ? raw : ""));
        if (g_str_equal(key, "directory")) {
            if (!g_path_is_absolute(val))
                add_error(errors, count, label, line, "[reports] directory: an absolute path");
            g_free(c->reports_dir);
            c->reports_dir = g_strdup(val);
        } else if (g_str_equal(key, "schedule")) {
            static const char *const ok[] = {"daily", "weekly", "monthly", NULL};
            if (!g_strv_contains(ok, val))
                add_error(errors, count, label, line,
                          "[reports] schedule: daily, weekly or monthly");
            g_free(c->reports_schedule);
            c->reports_schedule = g_strdup(val);
        } else if (g_str_equal(key, "formats")) {
            unsigned f = 0;
            g_auto(GStrv) words = g_strsplit_set(val, ", ", -1);
            bool bad = false;
            for (size_t k = 0; words[k]; k++) {
                if (!*words[k])
                    continue;
                if (g_str_equal(words[k], "html"))
                    f |= REPORT_FORMAT_HTML;
                else if (g_str_equal(words[k], "csv"))
                    f |= REPORT_FORMAT_CSV;
                else if (g_str_equal(words[k], "json"))
                    f |= REPORT_FORMAT_JSON;
                else
                    bad = true;
            }
            if (bad || !f)
                add_error(errors, count, label, line,
                          "[reports] formats: one or more of html, csv, json");
            c->reports_formats = f;
        } else if (g_str_equal(key, "capacity")) {
            if (!parse_bool(val, &c->reports_capacity))
                add_error(errors, count, label, line, "[reports] capacity: yes or no");
        } else if (g_str_equal(key, "slo")) {
            if (!parse_slo(val, &c->slo_default))
                add_error(errors, count, label, line,
                          "[reports] slo: a percentage above 0 and below 100 (99.9)");
        } else if (g_str_has_prefix(key, "slo.")) {
            double v;
            if (!tag_ok(key + 4))
                add_error(errors, count, label, line,
                          "[reports] %s: a tag is 1-64 letters, digits, '.', '_' or '-'", key);
            else if (!parse_slo(val, &v))
                add_error(errors, count, label, line,
                          "[reports] %s: a percentage above 0 and below 100 (99.9)", key);
            else
                g_hash_table_replace(c->slo_groups, g_strdup(key + 4), g_memdup2(&v, sizeof(v)));
        } else {
            add_error(errors, count, label, line, "[reports]: unknown key '%s'", key);
        }
    }
}

/* Every VM's group exists, every group's host is configured. */
static void check_ha_refs(struct conf *c, GHashTable *lines, const char *label,
                          GPtrArray *errors, unsigned *count)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, c->ha_vms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct ha_vm_settings *s = v;
        g_autofree char *key = g_strconcat("vm.", (const char *)k, NULL);
        if (s->group && !g_hash_table_contains(c->ha_groups, s->group))
            add_error(errors, count, label, line_of(lines, "ha", key),
                      "[ha] vm.%s: no HA group '%s' (define group.%s)", (const char *)k, s->group,
                      s->group);
    }
    g_hash_table_iter_init(&it, c->ha_groups);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_autofree char *key = g_strconcat("group.", (const char *)k, NULL);
        for (char **h = v; *h; h++) {
            if (!name_taken(c, *h))
                add_error(errors, count, label, line_of(lines, "ha", key),
                          "[ha] group.%s: no host '%s' (no [hypervisor:%s] group)",
                          (const char *)k, *h, *h);
        }
    }
}

/* A host's fence and probe settings parse. */
/* [store]: a PostgreSQL store is named by its url, a SQLite one by its
 * path; each key only with its backend. */
static void check_store(struct conf *c, GHashTable *lines, const char *label, GPtrArray *errors,
                        unsigned *count)
{
    bool pg = g_strcmp0(c->store_backend, "postgresql") == 0;
    if (pg && !c->store_url)
        add_error(errors, count, label, line_of(lines, "store", "backend"),
                  "[store]: backend = postgresql needs url = postgresql://...");
    if (pg && c->store_path)
        add_error(errors, count, label, line_of(lines, "store", "path"),
                  "path: the SQLite file, but backend = postgresql (use url)");
    if (!pg && c->store_url)
        add_error(errors, count, label, line_of(lines, "store", "url"),
                  "url: a PostgreSQL store's, but backend = sqlite (set backend = postgresql)");
    if (c->store_url && !g_str_has_prefix(c->store_url, "postgresql://") &&
        !g_str_has_prefix(c->store_url, "postgres://"))
        add_error(errors, count, label, line_of(lines, "store", "url"),
                  "url: '%s' is not a postgresql:// or postgres:// URL", c->store_url);
    if (c->store_api_url && !g_str_has_prefix(c->store_api_url, "http://") &&
        !g_str_has_prefix(c->store_api_url, "https://"))
        add_error(errors, count, label, line_of(lines, "store", "api_url"),
                  "api_url: '%s' is not an http:// or https:// URL", c->store_api_url);
    if (c->store_lease < 3 * G_USEC_PER_SEC || c->store_lease > (int64_t)3600 * G_USEC_PER_SEC)
        add_error(errors, count, label, line_of(lines, "store", "lease"),
                  "lease: between 3s and 1h (a host's lease among kanrid instances)");
}

static void check_ha_host(const struct conf_hypervisor *hv, const char *label, GPtrArray *errors,
                          unsigned *count)
{
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) argv = NULL;
    if (hv->fence && !g_shell_parse_argv(hv->fence, NULL, &argv, &err)) {
        add_error(errors, count, label, hv->line, "[hypervisor:%s] fence: %s", hv->name,
                  err->message);
        g_clear_error(&err);
    }
    struct ha_probe_spec p;
    if (hv->probe && !ha_probe_spec_parse(hv->probe, &p, &err))
        add_error(errors, count, label, hv->line, "[hypervisor:%s] %s", hv->name, err->message);
    else if (hv->probe)
        ha_probe_spec_clear(&p);
}

/* ---- [rule:NAME] and [route:NAME] ---- */

static bool group_name_ok(const char *name)
{
    bool ok = *name && strlen(name) <= 64;
    for (const char *p = name; *p; p++)
        ok &= g_ascii_isalnum(*p) || *p == '-' || *p == '_' || *p == '.';
    return ok;
}

/* Reads the keys of GROUP through SET (which answers false with an error
 * message for a bad key or value). */
static void each_key(GKeyFile *kf, GHashTable *lines, const char *label, const char *group,
                     bool (*set)(void *obj, const char *key, const char *val, char **ret_err),
                     void *obj, GPtrArray *errors, unsigned *count)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
    for (int i = 0; keys && keys[i]; i++) {
        g_autofree char *raw = g_key_file_get_value(kf, group, keys[i], NULL);
        g_autofree char *val = g_strstrip(g_strdup(raw ? raw : ""));
        g_autofree char *msg = NULL;
        if (!set(obj, keys[i], val, &msg))
            add_error(errors, count, label, line_of(lines, group, keys[i]), "[%s] %s", group, msg);
    }
}

static bool set_rule(void *obj, const char *key, const char *val, char **ret_err)
{
    struct alert_rule *r = obj;
    if (g_str_equal(key, "kind")) {
        if (!rule_kind_parse(val, &r->kind)) {
            *ret_err = g_strdup_printf("kind: expected threshold, pool-full or memory-trend, "
                                       "got '%s'", val);
            return false;
        }
    } else if (g_str_equal(key, "metric") || g_str_equal(key, "view") ||
               g_str_equal(key, "op") || g_str_equal(key, "scope")) {
        char **dst = g_str_equal(key, "metric") ? &r->metric
                     : g_str_equal(key, "view") ? &r->view
                     : g_str_equal(key, "op")   ? &r->op
                                                : &r->scope;
        g_free(*dst);
        *dst = g_strdup(val);
    } else if (g_str_equal(key, "value")) {
        char *end = NULL;
        r->value = g_ascii_strtod(val, &end);
        if (!*val || *end) {
            *ret_err = g_strdup_printf("value: expected a number, got '%s'", val);
            return false;
        }
    } else if (g_str_equal(key, "for")) {
        if (!duration_parse(val, &r->for_us)) {
            *ret_err = g_strdup_printf("for: expected a duration such as 30s or 5m, got '%s'", val);
            return false;
        }
    } else if (g_str_equal(key, "severity")) {
        if (!severity_parse(val, &r->severity)) {
            *ret_err = g_strdup_printf("severity: expected info, warning, major or critical, "
                                       "got '%s'", val);
            return false;
        }
    } else if (g_str_equal(key, "enabled")) {
        if (!parse_bool(val, &r->enabled)) {
            *ret_err = g_strdup_printf("enabled: expected yes or no, got '%s'", val);
            return false;
        }
    } else {
        *ret_err = g_strdup_printf("unknown key '%s' (known: kind, metric, view, op, value, for, "
                                   "severity, scope, enabled)", key);
        return false;
    }
    return true;
}

static bool set_route(void *obj, const char *key, const char *val, char **ret_err)
{
    struct notify_route *r = obj;
    if (g_str_equal(key, "type")) {
        if (!g_str_equal(val, "webhook") && !g_str_equal(val, "command") &&
            !g_str_equal(val, "syslog")) {
            *ret_err = g_strdup_printf("type: expected webhook, command or syslog, got '%s'", val);
            return false;
        }
        g_free(r->type);
        r->type = g_strdup(val);
    } else if (g_str_equal(key, "url") || g_str_equal(key, "command")) {
        if (g_str_equal(key, "url") && !g_str_has_prefix(val, "http://") &&
            !g_str_has_prefix(val, "https://")) {
            *ret_err = g_strdup_printf("url: expected http:// or https://, got '%s'", val);
            return false;
        }
        g_free(r->target);
        r->target = g_strdup(val);
    } else if (g_str_equal(key, "min_severity")) {
        if (!severity_parse(val, &r->min_severity)) {
            *ret_err = g_strdup_printf("min_severity: expected info, warning, major or critical, "
                                       "got '%s'", val);
            return false;
        }
    } else if (g_str_equal(key, "reports")) {
        if (!parse_bool(val, &r->reports)) {
            *ret_err = g_strdup_printf("reports: expected yes or no, got '%s'", val);
            return false;
        }
    } else if (g_str_equal(key, "conditions") || g_str_equal(key, "scope")) {
        char **dst = g_str_equal(key, "scope") ? &r->scope : &r->conditions;
        g_free(*dst);
        *dst = g_strdup(val);
    } else if (g_str_equal(key, "on")) {
        g_auto(GStrv) ts = g_strsplit(val, ",", -1);
        r->transitions = 0;
        for (guint i = 0; ts[i]; i++) {
            const char *t = g_strstrip(ts[i]);
            int k = 0;
            while (k < IT_N && !g_str_equal(t, incident_transition_name(k)))
                k++;
            if (k == IT_N) {
                *ret_err = g_strdup_printf("on: '%s' is not one of opened, escalated, "
                                           "acknowledged, resolved, reopened", t);
                return false;
            }
            r->transitions |= 1u << k;
        }
    } else if (g_str_equal(key, "rate_per_min") || g_str_equal(key, "timeout")) {
        uint64_t n;
        if (!parse_u64(val, &n) || n > 100000) {
            *ret_err = g_strdup_printf("%s: expected an integer from 0 to 100000, got '%s'", key,
                                       val);
            return false;
        }
        if (g_str_equal(key, "timeout"))
            r->timeout_s = (int)n;
        else
            r->rate_per_min = (unsigned)n;
    } else {
        *ret_err = g_strdup_printf("unknown key '%s' (known: type, url, command, min_severity, "
                                   "conditions, scope, on, rate_per_min, timeout)", key);
        return false;
    }
    return true;
}

static void check_rule(struct conf *c, GKeyFile *kf, GHashTable *lines, const char *label,
                       const char *group, int gline, GPtrArray *errors, unsigned *count)
{
    const char *name = group + strlen("rule:");
    struct alert_rule *r = alert_rule_new();
    r->name = g_strdup(name);
    r->scope = g_strdup("all");
    unsigned before = *count;
    each_key(kf, lines, label, group, set_rule, r, errors, count);
    g_autoptr(GError) err = NULL;
    for (guint i = 0; i < c->rules->len; i++) {
        if (g_str_equal(((struct alert_rule *)g_ptr_array_index(c->rules, i))->name, name))
            add_error(errors, count, label, gline, "[%s]: duplicate rule", group);
    }
    if (*count == before && !ops_rule_valid(r, &err))
        add_error(errors, count, label, gline, "[%s]: %s", group, err->message);
    if (*count != before) {
        alert_rule_free(r);
        return;
    }
    g_ptr_array_add(c->rules, r);
}

static void check_route(struct conf *c, GKeyFile *kf, GHashTable *lines, const char *label,
                        const char *group, int gline, GPtrArray *errors, unsigned *count)
{
    struct notify_route *r = g_new0(struct notify_route, 1);
    r->name = g_strdup(group + strlen("route:"));
    r->min_severity = SEV_WARNING;
    r->timeout_s = 10;
    unsigned before = *count;
    each_key(kf, lines, label, group, set_route, r, errors, count);
    g_autoptr(GError) err = NULL;
    if (*count == before && !r->type)
        add_error(errors, count, label, gline, "[%s]: missing required key 'type'", group);
    else if (*count == before && !g_str_equal(r->type, "syslog") && !r->target)
        add_error(errors, count, label, gline, "[%s]: a %s route needs '%s'", group, r->type,
                  g_str_equal(r->type, "webhook") ? "url" : "command");
    else if (*count == before && !ops_scope_valid(r->scope, &err))
        add_error(errors, count, label, gline, "[%s]: %s", group, err->message);
    if (*count != before) {
        notify_route_free(r);
        return;
    }
    g_ptr_array_add(c->routes, r);
}

unsigned conf_load_data(struct conf *c, const char *data, size_t len, const char *label,
                        GPtrArray *errors)
{
    unsigned count = 0;
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;

    if (len > CONF_MAX_BYTES) {
        add_error(errors, &count, label, 0, "file is larger than %d bytes", CONF_MAX_BYTES);
        return count;
    }
    if (!g_utf8_validate(data, (gssize)len, NULL)) {
        add_error(errors, &count, label, 0, "file is not valid UTF-8");
        return count;
    }
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &err)) {
        int line = first_bad_line(data, len);
        add_error(errors, &count, label, line, "syntax error: %s", err->message);
        return count;
    }
    g_autoptr(GHashTable) lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    scan_lines(data, len, lines, label, errors, &count);

    gsize ngroups = 0;
    g_auto(GStrv) groups = g_key_file_get_groups(kf, &ngroups);
    for (gsize i = 0; i < ngroups; i++) {
        const char *g = groups[i];
        int gline = line_of(lines, g, NULL);
        if (g_str_equal(g, "manager")) {
            check_group(c, kf, lines, label, g, manager_fields, NULL, errors, &count);
        } else if (g_str_equal(g, "store")) {
            check_group(c, kf, lines, label, g, store_fields, NULL, errors, &count);
            check_store(c, lines, label, errors, &count);
        } else if (g_str_equal(g, "reconcile")) {
            check_reconcile(c, kf, lines, label, errors, &count);
        } else if (g_str_equal(g, "ops")) {
            check_group(c, kf, lines, label, g, ops_fields, NULL, errors, &count);
        } else if (g_str_equal(g, "policy") || g_str_equal(g, "policy:memory") ||
                   g_str_equal(g, "policy:balance")) {
            check_policy(c, kf, lines, label, g, errors, &count);
        } else if (g_str_equal(g, "ha")) {
            check_ha(c, kf, lines, label, errors, &count);
        } else if (g_str_equal(g, "reports")) {
            check_reports(c, kf, lines, label, errors, &count);
        } else if ((g_str_has_prefix(g, "rule:") || g_str_has_prefix(g, "route:")) &&
                   !group_name_ok(strchr(g, ':') + 1)) {
            add_error(errors, &count, label, gline,
                      "[%s]: a name is 1-64 characters of letters, digits, '-', '_', '.'", g);
        } else if (g_str_has_prefix(g, "rule:")) {
            check_rule(c, kf, lines, label, g, gline, errors, &count);
        } else if (g_str_has_prefix(g, "route:")) {
            check_route(c, kf, lines, label, g, gline, errors, &count);
        } else if (g_str_has_prefix(g, "hypervisor:")) {
            const char *name = g + strlen("hypervisor:");
            bool valid = *name && strlen(name) <= 64;
            for (const char *p = name; *p; p++)
                valid &= g_ascii_isalnum(*p) || *p == '-' || *p == '_' || *p == '.';
            if (!valid) {
                add_error(errors, &count, label, gline,
                          "[%s]: a host name is 1-64 characters of letters, digits, '-', '_', '.'",
                          g);
                continue;
            }
            if (name_taken(c, name)) {
                add_error(errors, &count, label, gline, "[%s]: duplicate host name", g);
                continue;
            }
            if (c->hypervisors->len >= CONF_MAX_HYPERVISORS) {
                add_error(errors, &count, label, gline, "more than %d hypervisors",
                          CONF_MAX_HYPERVISORS);
                continue;
            }
            struct conf_hypervisor *hv = hypervisor_new(name);
            hv->line = gline;
            check_group(c, kf, lines, label, g, hypervisor_fields, hv, errors, &count);
            if (!hv->uri && g_strcmp0(hv->driver, "lxc") == 0)
                hv->uri = g_strdup(CONF_LXC_DEFAULT_URI);
            if (!hv->uri) {
                add_error(errors, &count, label, gline, "[%s]: missing required key 'uri'", g);
                hypervisor_free(hv);
                continue;
            }
            if (!conf_hypervisor_driver(hv)) {
                add_error(errors, &count, label, gline,
                          "[%s]: uri '%s' does not go with driver = %s (container hosts are "
                          "liblxc:///PATH, libvirt hosts anything else)",
                          g, hv->uri, hv->driver);
                hypervisor_free(hv);
                continue;
            }
            check_ha_host(hv, label, errors, &count);
            if (hv->reconnect_min > hv->reconnect_max) {
                add_error(errors, &count, label, gline,
                          "[%s]: reconnect_min (%d) is larger than reconnect_max (%d)", g,
                          hv->reconnect_min, hv->reconnect_max);
            }
            g_ptr_array_add(c->hypervisors, hv);
        } else {
            add_error(
                errors, &count, label, gline,
                "unknown group [%s] (known: [manager], [store], [reconcile], [ops], [rule:NAME], "
                "[route:NAME], [policy], [policy:memory], [policy:balance], [ha], [reports], "
                "[hypervisor:NAME])",
                g);
        }
    }
    check_ha_refs(c, lines, label, errors, &count);
    return count;
}

int conf_load_file(struct conf *c, const char *path, GPtrArray *errors)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path, &data, &len, &err)) {
        g_ptr_array_add(errors, g_strdup_printf("%s:0: cannot read: %s", path, err->message));
        return err->domain == G_FILE_ERROR && err->code == G_FILE_ERROR_NOENT ? -ENOENT : -EIO;
    }
    return (int)conf_load_data(c, data, len, path, errors);
}

static GKeyFile *conf_keyfile(const char *text)
{
    GKeyFile *kf = g_key_file_new();
    if (text && !g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE, NULL)) {
        g_key_file_free(kf);
        kf = g_key_file_new();
    }
    return kf;
}

/* Appends "[G] K" for each key of A whose value B lacks or differs. */
static void conf_diff_into(GKeyFile *a, GKeyFile *b, bool only_missing, GPtrArray *out)
{
    g_auto(GStrv) groups = g_key_file_get_groups(a, NULL);
    for (size_t i = 0; groups[i]; i++) {
        g_auto(GStrv) keys = g_key_file_get_keys(a, groups[i], NULL, NULL);
        for (size_t j = 0; keys && keys[j]; j++) {
            g_autofree char *va = g_key_file_get_value(a, groups[i], keys[j], NULL);
            g_autofree char *vb = g_key_file_get_value(b, groups[i], keys[j], NULL);
            if (only_missing ? vb == NULL : g_strcmp0(va, vb) != 0)
                g_ptr_array_add(out, g_strdup_printf("[%s] %s", groups[i], keys[j]));
        }
    }
}

GPtrArray *conf_changes(const char *old_text, const char *new_text)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    GKeyFile *o = conf_keyfile(old_text), *n = conf_keyfile(new_text);
    conf_diff_into(n, o, false, out);
    conf_diff_into(o, n, true, out);
    g_key_file_free(o);
    g_key_file_free(n);
    return out;
}
