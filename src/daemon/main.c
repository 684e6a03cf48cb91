/*
 * kanrid: the kanri manager daemon.
 */
#include "config.h"

#include "api/api.h"
#include "basic/log.h"
#include "basic/util.h"
#include "daemon/conf.h"
#include "daemon/sdnotify.h"
#include "daemon/tls.h"
#include "engine/engine.h"
#include "store/store.h"
#include "lxc/lxc.h"
#include "virt/virt.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <glib-unix.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/kanri/kanri.conf"

static GLogLevelFlags max_level = G_LOG_LEVEL_INFO;
static bool to_journal; /* stderr is connected to journald */

static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                                   gpointer data)
{
    const char *msg = NULL;
    for (gsize i = 0; i < n; i++) {
        if (g_str_equal(fields[i].key, "MESSAGE"))
            msg = fields[i].value;
    }
    GLogLevelFlags l = level & G_LOG_LEVEL_MASK;
    /* Lower numeric value is more severe in GLib. */
    if (l > max_level)
        return G_LOG_WRITER_HANDLED;
    const char *tag = l & G_LOG_LEVEL_ERROR      ? "error"
                      : l & G_LOG_LEVEL_CRITICAL ? "critical"
                      : l & G_LOG_LEVEL_WARNING  ? "warning"
                      : l & G_LOG_LEVEL_MESSAGE  ? "notice"
                      : l & G_LOG_LEVEL_INFO     ? "info"
                                                 : "debug";
    /* Under systemd (stderr is the journal's stream) the message goes to
     * journald itself, with its priority and kanri's structured fields
     * (basic/log.h). */
    if (to_journal) {
        /* `journalctl -t kanrid` finds them. */
        GLogField all[n + 1];
        memcpy(all, fields, n * sizeof(*fields));
        all[n] = (GLogField){"SYSLOG_IDENTIFIER", "kanrid", -1};
        if (g_log_writer_journald(level, all, n + 1, data) == G_LOG_WRITER_HANDLED)
            return G_LOG_WRITER_HANDLED;
    }
    fprintf(stderr, "kanrid: %s: %s\n", tag, msg ? msg : "");
    return G_LOG_WRITER_HANDLED;
}

/* Whether stderr goes to journald: a stream socket to it (GLib looks), or
 * what systemd says it connected stderr to ($JOURNAL_STREAM, "DEV:INO"). */
static bool stderr_is_journal(void)
{
    if (g_log_writer_is_journald(STDERR_FILENO))
        return true;
    const char *js = g_getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
           (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void set_log_level(const char *name)
{
    if (g_str_equal(name, "error"))
        max_level = G_LOG_LEVEL_CRITICAL;
    else if (g_str_equal(name, "warning"))
        max_level = G_LOG_LEVEL_WARNING;
    else if (g_str_equal(name, "debug"))
        max_level = G_LOG_LEVEL_DEBUG;
    else
        max_level = G_LOG_LEVEL_INFO;
}

static char *default_state_dir(void)
{
    if (geteuid() == 0)
        return g_strdup("/var/lib/kanri");
    return g_build_filename(g_get_user_state_dir(), "kanri", NULL);
}

/* The local hypervisor: qemu:///system when a libvirt daemon answers,
 * otherwise libvirt's built-in test driver so a first run shows something. */
static char *pick_default_uri(void)
{
    virConnectPtr c = virConnectOpenReadOnly("qemu:///system");
    if (c) {
        virConnectClose(c);
        return g_strdup("qemu:///system");
    }
    g_message("no libvirt daemon answers on qemu:///system (%s); using test:///default",
              virGetLastErrorMessage());
    virResetLastError();
    return g_strdup("test:///default");
}

/* Makes sure an admin token exists and STATE_DIR/admin.token holds it. */
static int ensure_admin_token(struct store *st, const char *state_dir, GError **error)
{
    g_autofree char *path = g_build_filename(state_dir, "admin.token", NULL);
    g_autofree char *existing = NULL;
    if (g_file_get_contents(path, &existing, NULL, NULL)) {
        g_strstrip(existing);
        g_autofree char *hash = sha256_hex(existing);
        struct store_token t = {0};
        if (st->ops->token_lookup(st, hash, &t, NULL) == 0) {
            store_token_clear(&t);
            g_message("admin token: %s", path);
            return 0;
        }
        g_message("%s holds no valid token (revoked, or another database); writing a new one",
                  path);
    }
    g_autofree char *token = token_generate();
    g_autofree char *hash = sha256_hex(token);
    g_autofree char *name = g_strdup_printf("admin-%" G_GINT64_FORMAT, now_usec() / USEC_PER_SEC);
    if (st->ops->token_create(st, name, "admin", hash, NULL, NULL, error) < 0)
        return -EIO;
    g_autofree char *text = g_strdup_printf("%s\n", token);
    /* Written to a temporary file, synced and renamed: a crash leaves the old
     * token or the new one, never a torn file. */
    if (!g_file_set_contents_full(path, text, -1,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                  0600, error))
        return -EIO;
    g_message("created admin token '%s' in %s (mode 0600)", name, path);
    return 0;
}

/* SIGINT or SIGTERM came (dispatched on the main thread). */
static bool stop_asked;

static gboolean on_signal(gpointer data)
{
    stop_asked = true;
    g_main_loop_quit(data);
    return G_SOURCE_CONTINUE;
}

static void watch_signal(GMainContext *ctx, int signum, GSourceFunc fn, gpointer data)
{
    g_autoptr(GSource) src = g_unix_signal_source_new(signum);
    g_source_set_callback(src, fn, data, NULL);
    g_source_attach(src, ctx);
}

/* API connections within the open-file limit: the soft limit is raised to
 * the hard one, and a margin stays for the store, libvirt and logs. */
static int fd_budget(int wanted)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return MIN(wanted, 900);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t margin = 256;
    rlim_t room = rl.rlim_cur > 2 * margin ? rl.rlim_cur - margin : rl.rlim_cur / 2;
    if ((rlim_t)wanted > room) {
        g_message("max_connections %d is over what the open-file limit allows; serving %d", wanted,
                  (int)room);
        return (int)room;
    }
    return wanted;
}

/* Live streams within half the connections: each holds one for good, and
 * ordinary requests must always find room. */
static int stream_budget(int wanted, int max_connections)
{
    int room = MAX(max_connections / 2, 1);
    if (wanted > room) {
        g_message("max_streams %d is over half of the %d connections served; serving %d", wanted,
                  max_connections, room);
        return room;
    }
    return wanted;
}

/* Stops what main() started, the newest first.  A hypervisor call that
 * still hangs keeps the driver, engine and store alive to the process's
 * exit rather than free them under it. */
/* The container driver, made when a host needs it (one for all of them). */
static struct driver *lxcd;

static void stop_all(struct api *api, struct tls_identity *tls, struct engine *eng,
                     struct driver *virt, struct store *st)
{
    api_stop(api);
    tls_identity_clear(tls);
    if (engine_stop(eng, 10)) {
        virt->ops->free(virt);
        if (lxcd)
            lxcd->ops->free(g_steal_pointer(&lxcd));
        engine_free(eng);
        store_close(st);
    } else {
        g_warning("a hypervisor call is still hanging; exiting without waiting for it");
    }
}

/* kanrid --migrate-to URL: the SQLite store FROM copied into the empty
 * PostgreSQL database at URL (store_migrate_to()); the counts on stdout. */
static int migrate(const char *from, const char *url)
{
    if (store_is_pg_url(from)) {
        fprintf(stderr, "kanrid: --migrate-to copies a SQLite store, and --db names a "
                        "PostgreSQL one\n");
        return 2;
    }
    if (!store_is_pg_url(url)) {
        fprintf(stderr, "kanrid: --migrate-to '%s': not a postgresql:// or postgres:// URL\n", url);
        return 2;
    }
    if (!g_file_test(from, G_FILE_TEST_IS_REGULAR)) {
        fprintf(stderr, "kanrid: --migrate-to: no SQLite store at %s (--db or --state-dir)\n",
                from);
        return 1;
    }
    g_autoptr(GError) err = NULL;
    struct store *src = store_sqlite_open(from, &err);
    struct store *dst = src ? store_pg_open(url, &err) : NULL;
    struct store_migrate_report rep = {0};
    int r = dst ? store_migrate_to(src, dst, &rep, &err) : -EIO;
    g_autofree char *where = store_pg_describe(url);
    if (r == 0) {
        printf("%-24s %12s %12s\n", "TABLE", "SQLITE", "POSTGRESQL");
        for (guint i = 0; i < rep.tables->len; i++) {
            const struct store_table_count *t = g_ptr_array_index(rep.tables, i);
            printf("%-24s %12" PRId64 " %12" PRId64 "\n", t->table, t->source_rows, t->target_rows);
        }
        printf("migrated %" PRId64 " rows in %u tables from %s to %s; every count matches\n",
               rep.rows, rep.tables->len, from, where);
    } else {
        fprintf(stderr, "kanrid: migration to %s failed: %s\n", where, err->message);
    }
    store_migrate_report_clear(&rep);
    store_close(dst);
    store_close(src);
    return r == 0 ? 0 : 1;
}

/* Starts managing the host HV of configuration C. */
static int host_start(struct engine *eng, struct driver *virt, const struct conf *c,
                      struct conf_hypervisor *hv, GError **err)
{
    struct driver_host_conf hc = {
        .name = hv->name,
        .uri = hv->uri,
        .keepalive_interval = hv->keepalive_interval,
        .keepalive_count = hv->keepalive_count,
        .reconnect_min = hv->reconnect_min,
        .reconnect_max = hv->reconnect_max,
    };
    struct driver *drv = virt;
    if (g_strcmp0(conf_hypervisor_driver(hv), "lxc") == 0) {
        if (!lxcd) {
            struct lxc_conf lc = {.collect = c->collect_interval > 0,
                                  .interval_s = c->collect_interval};
            lxcd = lxc_driver_new(&lc, engine_sink(eng));
        }
        drv = lxcd;
    }
    if (engine_host_add(eng, drv, &hc, err) < 0 ||
        engine_ha_host(eng, hv->name, hv->uri, hv->fence, hv->probe, hv->fence_timeout, err) < 0)
        return -1;
    klog(G_LOG_LEVEL_MESSAGE, hv->name, NULL, NULL, "host %s: %s", hv->name, hv->uri);
    return 0;
}

/* The configuration the file (CONFIG_PATH; NULL: none) and the command
 * line's --listen and --connect give, every problem in ERRORS. */
static struct conf *conf_read(const char *config_path, const char *listen, char **connects,
                              GPtrArray *errors)
{
    struct conf *c = conf_new();
    if (config_path)
        conf_load_file(c, config_path, errors);
    if (listen) {
        g_autofree char *h = NULL;
        int port;
        if (!conf_parse_listen(listen, &h, &port)) {
            g_ptr_array_add(errors,
                            g_strdup_printf("--listen: expected ADDR:PORT, got '%s'", listen));
        } else {
            g_free(c->listen_host);
            c->listen_host = g_steal_pointer(&h);
            c->listen_port = port;
        }
    }
    for (int i = 0; connects && connects[i]; i++) {
        if (!strstr(connects[i], ":"))
            g_ptr_array_add(
                errors,
                g_strdup_printf("--connect: '%s' is not a libvirt URI (e.g. qemu:///system) or "
                                "a container host's (liblxc:///var/lib/lxc)",
                                connects[i]));
        else
            conf_add_uri(c, connects[i]);
    }
    /* A threshold's metric is checked against the views' metric tables,
     * which the configuration parser does not link. */
    for (guint i = 0; i < c->rules->len; i++) {
        g_autoptr(GError) rerr = NULL;
        if (!engine_rule_check(g_ptr_array_index(c->rules, i), &rerr))
            g_ptr_array_add(
                errors,
                g_strdup_printf("%s: %s", config_path ? config_path : "kanri.conf", rerr->message));
    }
    return c;
}

/* What a reload (SIGHUP) needs of main()'s. */
struct daemon {
    struct engine *eng;
    struct driver *virt;
    const char *config_path; /* NULL: no file */
    const char *listen;
    char **connects;
    char *default_uri;  /* the local hypervisor picked when the file names none */
    struct conf *first; /* the configuration kanrid started with (main()'s) */
    struct conf *conf;  /* the configuration kanrid runs with */
    char *conf_text;    /* the file's text it came from */
    GPtrArray *retired; /* later ones replaced by reloads: hosts added point into them */
    bool hosts_added;   /* every configured host added at start-up */
    bool reload_asked;  /* a SIGHUP came while they were being added */
    bool ready_told;    /* systemd was told READY=1 */
    char *status;       /* the last STATUS= told */
};

static char *read_text(const char *path)
{
    char *text = NULL;
    if (path && !g_file_get_contents(path, &text, NULL, NULL))
        text = NULL;
    return text;
}

static struct conf_hypervisor *hypervisor_named(const struct conf *c, const char *name)
{
    for (guint i = 0; i < c->hypervisors->len; i++) {
        struct conf_hypervisor *hv = g_ptr_array_index(c->hypervisors, i);
        if (g_str_equal(hv->name, name))
            return hv;
    }
    return NULL;
}

/* SIGHUP: the configuration file is read again.  With an error, nothing
 * changes.  Otherwise the log level applies at once and hosts new in the
 * file are added; what else changed (hosts removed included) is named as
 * taking effect at the next start. */
static void reload(struct daemon *d)
{
    if (!d->config_path) {
        g_message("reload: no configuration file to read again (kanrid started without one)");
        return;
    }
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    struct conf *n = conf_read(d->config_path, d->listen, d->connects, errors);
    if (errors->len) {
        for (guint i = 0; i < errors->len; i++)
            g_warning("reload: %s", (char *)g_ptr_array_index(errors, i));
        g_warning("reload refused: %s has %u error%s; kanrid goes on with the configuration "
                  "it has",
                  d->config_path, errors->len, errors->len == 1 ? "" : "s");
        conf_free(n);
        return;
    }
    if (n->hypervisors->len == 0 && d->default_uri)
        conf_add_uri(n, d->default_uri);
    g_autofree char *text = read_text(d->config_path);
    set_log_level(n->log_level);
    unsigned added = 0;
    g_autoptr(GPtrArray) later = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < n->hypervisors->len; i++) {
        struct conf_hypervisor *hv = g_ptr_array_index(n->hypervisors, i);
        if (hypervisor_named(d->conf, hv->name))
            continue;
        g_autoptr(GError) err = NULL;
        if (host_start(d->eng, d->virt, n, hv, &err) < 0) {
            g_warning("reload: host %s: %s", hv->name, err->message);
            g_ptr_array_add(later, g_strdup_printf("[hypervisor:%s]", hv->name));
        } else {
            added++;
        }
    }
    for (guint i = 0; i < d->conf->hypervisors->len; i++) {
        struct conf_hypervisor *hv = g_ptr_array_index(d->conf->hypervisors, i);
        if (!hypervisor_named(n, hv->name))
            g_ptr_array_add(later, g_strdup_printf("[hypervisor:%s] removed", hv->name));
    }
    g_autoptr(GPtrArray) changed = conf_changes(d->conf_text, text);
    for (guint i = 0; i < changed->len; i++) {
        const char *what = g_ptr_array_index(changed, i);
        if (g_str_equal(what, "[manager] log_level"))
            continue;
        /* A host added just now, or one whose removal is named already. */
        if (g_str_has_prefix(what, "[hypervisor:")) {
            g_autofree char *name = g_strndup(what + 12, strcspn(what + 12, "]"));
            if (!hypervisor_named(d->conf, name) || !hypervisor_named(n, name))
                continue;
        }
        g_ptr_array_add(later, g_strdup(what));
    }
    if (later->len) {
        g_ptr_array_add(later, NULL);
        g_autofree char *list = g_strjoinv(", ", (char **)later->pdata);
        g_warning("reload: these changes take effect at kanrid's next start: %s", list);
    }
    g_message("reload: %s read again: log level %s, %u host%s added", d->config_path, n->log_level,
              added, added == 1 ? "" : "s");
    if (d->conf != d->first)
        g_ptr_array_add(d->retired, d->conf);
    d->conf = n;
    g_free(d->conf_text);
    d->conf_text = g_steal_pointer(&text);
}

static gboolean on_hup(gpointer data)
{
    struct daemon *d = data;
    if (!d->hosts_added) {
        g_message("SIGHUP: reloading once the configured hosts are added");
        d->reload_asked = true;
        return G_SOURCE_CONTINUE;
    }
    sdnotifyf("RELOADING=1\nMONOTONIC_USEC=%" PRId64 "\nSTATUS=reloading the configuration",
              g_get_monotonic_time());
    reload(d);
    g_message("SIGHUP: full inventory resync of every host");
    engine_resync_all(d->eng);
    /* Told again only once it had been told: start-up's readiness is
     * ready_check()'s to tell. */
    if (d->ready_told)
        sdnotifyf("READY=1\nSTATUS=%s", d->status ? d->status : "ready");
    return G_SOURCE_CONTINUE;
}

/* Tells systemd kanrid is ready once GET /readyz would say so (every
 * host's inventory synced or found unreachable), and meanwhile why not. */
static gboolean ready_check(gpointer data)
{
    struct daemon *d = data;
    g_autofree char *why = NULL;
    int retry = 1;
    if (engine_ready(d->eng, &why, &retry)) {
        g_free(d->status);
        d->status = g_strdup_printf("ready: %u host%s", d->conf->hypervisors->len,
                                    d->conf->hypervisors->len == 1 ? "" : "s");
        sdnotifyf("READY=1\nSTATUS=%s", d->status);
        d->ready_told = true;
        return G_SOURCE_REMOVE;
    }
    if (g_strcmp0(why, d->status) != 0) {
        sdnotifyf("STATUS=%s", why);
        g_free(d->status);
        d->status = g_steal_pointer(&why);
    }
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    /* libvirt's RPC client write()s to its socket: a libvirtd that goes
     * away between two calls would otherwise end kanrid with SIGPIPE, in
     * silence, instead of failing that call with EPIPE.  Before any thread
     * starts, so every thread inherits it. */
    signal(SIGPIPE, SIG_IGN);
    g_autofree char *config = NULL, *listen = NULL, *db = NULL, *state_dir = NULL;
    g_autofree char *migrate_to = NULL;
    g_auto(GStrv) connects = NULL;
    gboolean check_config = FALSE, version = FALSE, foreground = FALSE, insecure_http = FALSE;
    gboolean init = FALSE;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
         "Configuration file (default " DEFAULT_CONFIG " when it exists)", "FILE"},
        {"listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
         "Address to serve the API on (default 127.0.0.1:8470)", "ADDR:PORT"},
        {"db", 0, 0, G_OPTION_ARG_FILENAME, &db,
         "the store: a SQLite file (default STATE_DIR/kanri.db) or a postgresql:// URL",
         "PATH|URL"},
        {"connect", 0, 0, G_OPTION_ARG_STRING_ARRAY, &connects,
         "Manage this libvirt URI (repeatable; adds to the configuration file's hypervisors)",
         "URI"},
        {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
         "State directory (default /var/lib/kanri as root, else $XDG_STATE_HOME/kanri)", "DIR"},
        {"migrate-to", 0, 0, G_OPTION_ARG_STRING, &migrate_to,
         "Copy the SQLite store into the empty PostgreSQL database at URL, verify it by row "
         "counts, print them, and exit",
         "URL"},
        {"check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
         "Validate the configuration, print every error as FILE:LINE: message, and exit", NULL},
        {"init", 0, 0, G_OPTION_ARG_NONE, &init,
         "Prepare the state directory (the store, its migrations, the admin token) and exit",
         NULL},
        {"foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
         "Stay in the foreground (always the case; accepted for service managers)", NULL},
        {"insecure-http", 0, 0, G_OPTION_ARG_NONE, &insecure_http,
         "Serve plain HTTP on a non-loopback address (tokens cross the network in clear)", NULL},
        {"version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- the kanri manager daemon");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx, "See kanrid(8) and kanri.conf(5).");
    g_autoptr(GError) err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "kanrid: %s (see kanrid --help)\n", err->message);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "kanrid: unexpected argument '%s' (see kanrid --help)\n", argv[1]);
        return 2;
    }
    if (version) {
        printf("kanrid %s\n", KANRI_VERSION);
        return 0;
    }
    g_log_set_writer_func(log_writer, NULL, NULL);
    to_journal = stderr_is_journal();
    /* Every round wakes a few pool threads at once (stats calls, agent
     * polls); GLib keeps only two idle ones by default and would create
     * and end threads every round.  Idle threads still end after 15 s. */
    g_thread_pool_set_max_unused_threads(16);

    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    const char *config_path = config;
    if (!config_path && g_file_test(DEFAULT_CONFIG, G_FILE_TEST_EXISTS))
        config_path = DEFAULT_CONFIG;
    g_autoptr(conf) c = conf_read(config_path, listen, connects, errors);
    if (check_config) {
        for (guint i = 0; i < errors->len; i++)
            fprintf(stderr, "%s\n", (char *)g_ptr_array_index(errors, i));
        if (errors->len)
            return 1;
        printf("%s: OK (%u hypervisor%s)\n", config_path ? config_path : "(no file)",
               c->hypervisors->len, c->hypervisors->len == 1 ? "" : "s");
        return 0;
    }
    if (errors->len) {
        for (guint i = 0; i < errors->len; i++)
            fprintf(stderr, "kanrid: %s\n", (char *)g_ptr_array_index(errors, i));
        fprintf(stderr, "kanrid: configuration has %u error%s; not starting\n", errors->len,
                errors->len == 1 ? "" : "s");
        return 1;
    }
    set_log_level(c->log_level);
    /* Once, before any thread: notifications and forwarded actions use
     * libcurl from threads of their own. */
    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (!state_dir)
        state_dir = c->state_dir ? g_strdup(c->state_dir) : default_state_dir();
    if (g_mkdir_with_parents(state_dir, 0700) < 0) {
        fprintf(stderr, "kanrid: cannot create state directory %s: %s\n", state_dir,
                g_strerror(errno));
        return 1;
    }
    if (!db && c->store_url)
        db = g_strdup(c->store_url);
    if (!db)
        db =
            c->store_path ? g_strdup(c->store_path) : g_build_filename(state_dir, "kanri.db", NULL);

    if (migrate_to)
        return migrate(db, migrate_to);
    struct store *st = store_open(db, &err);
    if (!st) {
        fprintf(stderr, "kanrid: %s\n", err->message);
        return 1;
    }
    bool shared = store_is_pg_url(db);
    if (shared) {
        g_autofree char *where = store_pg_describe(db);
        g_message("store: PostgreSQL, %s", where);
    } else {
        g_message("store: SQLite %s", db);
    }
    if (ensure_admin_token(st, state_dir, &err) < 0) {
        fprintf(stderr, "kanrid: %s\n", err->message);
        store_close(st);
        return 1;
    }
    if (init) {
        printf("kanrid: %s ready: store %s, admin token in %s/admin.token\n", state_dir,
               shared ? "on PostgreSQL" : db, state_dir);
        store_close(st);
        return 0;
    }
    if (virt_event_loop_start(&err) < 0) {
        fprintf(stderr, "kanrid: %s\n", err->message);
        store_close(st);
        return 1;
    }
    g_autofree char *default_uri = NULL;
    if (c->hypervisors->len == 0) {
        default_uri = pick_default_uri();
        conf_add_uri(c, default_uri);
    }

    struct engine_conf ec;
    engine_conf_init(&ec);
    ec.collect = c->collect_interval > 0;
    ec.interval_s = MAX(c->collect_interval, 1);
    ec.retention = (struct store_retention){c->retention_raw, c->retention_5m, c->retention_1h};
    ec.reconcile = c->reconcile_enabled;
    ec.reconcile_conf = c->reconcile;
    ec.ops.resolve_after_us = c->ops_resolve_after;
    ec.ops.reopen_window_us = c->ops_reopen_window;
    ec.ops.suggest_count = (unsigned)c->ops_suggest_count;
    ec.ops.suggest_window_us = c->ops_suggest_window;
    ec.event_retention_us = c->ops_event_retention;
    ec.notify_give_up_us = c->ops_notify_give_up;
    /* "none": findings are recorded as events, never incidents. */
    ec.finding_min_severity = SEV_N;
    severity_parse(c->ops_finding_min, &ec.finding_min_severity);
    ec.agent_silent_us = c->ops_agent_silent;
    ec.rules = c->rules;
    ec.routes = c->routes;
    ec.balloon_period_s = c->collect_interval > 0 ? c->balloon_period : 0;
    ec.stream_backlog = (unsigned)c->stream_backlog;
    /* The other instances show a VM's view as its holder keeps it. */
    if (shared)
        ec.view_keep_us = 3 * (int64_t)MAX(c->collect_interval, 1) * G_USEC_PER_SEC;
    ec.policy_enabled = c->policy_enabled;
    ec.policy_memory = c->policy_memory;
    ec.policy_balance = c->policy_balance;
    ec.policy_priority = c->policy_priority;
    ec.policy_affinity = c->policy_affinity;
    ec.policy_anti_affinity = c->policy_anti_affinity;
    ec.ha = c->ha;
    ec.ha_vms = c->ha_vms;
    ec.ha_groups = c->ha_groups;
    ec.reports_dir = c->reports_dir;
    ec.reports_schedule = c->reports_schedule;
    ec.reports_formats = c->reports_formats;
    ec.reports_capacity = c->reports_capacity;
    ec.slo_default = c->slo_default;
    ec.slo_groups = c->slo_groups;
    struct engine *eng = engine_new(st, &ec);
    /* On PostgreSQL, other instances may share the hosts: each is
     * collected under a lease (docs/scale-out.md). */
    g_autofree char *instance_id = g_uuid_string_random();
    g_autofree char *abs_state = g_canonicalize_filename(state_dir, NULL);
    g_autofree char *instance_name = g_strdup_printf("%s:%s", g_get_host_name(), abs_state);
    if (shared && engine_cluster_init(eng,
                                      &(struct engine_cluster_conf){
                                          .id = instance_id,
                                          .name = instance_name,
                                          .lease_s = (int)(c->store_lease / G_USEC_PER_SEC),
                                      },
                                      &err) < 0) {
        fprintf(stderr, "kanrid: %s\n", err->message);
        engine_stop(eng, 1);
        engine_free(eng);
        store_close(st);
        return 1;
    }
    struct virt_conf vconf = {
        .resync_interval_s = c->resync_interval,
        .collect = c->collect_interval > 0,
        .interval_s = c->collect_interval,
        .budget_ms = c->collect_budget_ms,
        .connections = c->collect_connections,
        .agent_timeout_s = c->agent_timeout,
        .refresh_pools = c->refresh_pools,
    };
    struct driver *virt = virt_driver_new(&vconf, engine_sink(eng));
    struct tls_identity tls = {0};
    /* TLS: "auto" means on off loopback, where tokens cross the network. */
    bool loopback = tls_is_loopback(c->listen_host);
    bool use_tls = g_str_equal(c->tls, "on") || (g_str_equal(c->tls, "auto") && !loopback);
    if (!use_tls && !loopback && !insecure_http) {
        fprintf(stderr,
                "kanrid: refusing plain HTTP on %s: tokens would cross the network in clear; "
                "use tls = on or auto (kanri.conf(5)), or --insecure-http\n",
                c->listen_host);
        stop_all(NULL, &tls, eng, virt, st);
        return 1;
    }
    if (!use_tls && (c->tls_cert || c->tls_key))
        g_warning("tls_cert and tls_key are not used: TLS is off (tls = %s, listening on %s)",
                  c->tls, c->listen_host);
    if (use_tls) {
        const char *sans[] = {c->listen_host, g_get_host_name(), NULL};
        if (!tls_identity_load(c->tls_cert, c->tls_key, state_dir, sans, &tls, &err)) {
            fprintf(stderr, "kanrid: TLS: %s\n", err->message);
            stop_all(NULL, &tls, eng, virt, st);
            return 1;
        }
        if (tls.generated)
            g_message("TLS: made a self-signed certificate, %s", tls.cert_path);
        g_message("TLS certificate %s, pin %s (kanri --cacert %s, or --pin %s)", tls.cert_path,
                  tls.pin, tls.cert_path, tls.pin);
    }
    int max_conn = fd_budget(c->max_connections);
    struct api_options ao = {.listen_host = c->listen_host,
                             .tls_cert_pem = tls.cert_pem,
                             .tls_key_pem = tls.key_pem,
                             .tls_pin = tls.pin,
                             .tls_cert_path = tls.cert_path,
                             .listen_port = c->listen_port,
                             .store = st,
                             .engine = eng,
                             .max_connections = max_conn,
                             .max_streams = stream_budget(c->max_streams, max_conn),
                             .max_connections_per_address = c->max_connections_per_address,
                             .header_deadline_s = c->header_timeout,
                             .body_deadline_s = c->body_timeout};
    struct api *api = api_start(&ao, &err);
    if (!api) {
        fprintf(stderr, "kanrid: %s\n", err->message);
        stop_all(NULL, &tls, eng, virt, st);
        return 1;
    }
    if (shared) {
        /* Where the other instances forward actions on this one's hosts:
         * [store] api_url, else this machine's name and the port. */
        bool any = g_str_equal(c->listen_host, "0.0.0.0") || g_str_equal(c->listen_host, "::");
        const char *where = any ? g_get_host_name() : c->listen_host;
        bool v6addr = strchr(where, ':') != NULL;
        g_autofree char *api_url =
            c->store_api_url
                ? g_strdup(c->store_api_url)
                : g_strdup_printf("%s://%s%s%s:%d", use_tls ? "https" : "http", v6addr ? "[" : "",
                                  where, v6addr ? "]" : "", api_port(api));
        engine_cluster_set_api(eng, api_url, use_tls ? tls.pin : NULL);
    }
    /* libvirt's event thread iterates GLib's default main context; the
     * signals get a context of their own so neither thread ever dispatches
     * the other's sources. */
    g_autoptr(GMainContext) signals = g_main_context_new();
    g_autoptr(GMainLoop) loop = g_main_loop_new(signals, FALSE);
    watch_signal(signals, SIGINT, on_signal, loop);
    watch_signal(signals, SIGTERM, on_signal, loop);
    struct daemon d = {.eng = eng,
                       .virt = virt,
                       .config_path = config_path,
                       .listen = listen,
                       .connects = connects,
                       .default_uri = g_steal_pointer(&default_uri),
                       .first = c,
                       .conf = c,
                       .conf_text = read_text(config_path),
                       .retired = g_ptr_array_new_with_free_func((GDestroyNotify)conf_free)};
    watch_signal(signals, SIGHUP, on_hup, &d);
    /* The API answers while the hosts are added (hundreds take a while):
     * GET /readyz says how far it got, and a SIGTERM meanwhile stops
     * kanrid in order. */
    bool v6 = strchr(c->listen_host, ':') != NULL;
    g_message("listening on %s://%s%s%s:%d/ (API under /api/v1)", use_tls ? "https" : "http",
              v6 ? "[" : "", c->listen_host, v6 ? "]" : "", api_port(api));
    engine_hosts_expect(eng, c->hypervisors->len);
    engine_start(eng);
    for (guint i = 0; i < c->hypervisors->len; i++) {
        while (g_main_context_iteration(signals, FALSE))
            ;
        if (stop_asked)
            break;
        struct conf_hypervisor *hv = g_ptr_array_index(c->hypervisors, i);
        sdnotifyf("STATUS=adding the configured hosts: %u of %u", i, c->hypervisors->len);
        if (host_start(eng, virt, c, hv, &err) < 0) {
            fprintf(stderr, "kanrid: host %s: %s\n", hv->name, err->message);
            stop_all(api, &tls, eng, virt, st);
            return 1;
        }
    }
    engine_cluster_start(eng);
    d.hosts_added = true;
    if (!stop_asked && d.reload_asked)
        on_hup(&d);
    if (!stop_asked && g_getenv("NOTIFY_SOCKET")) {
        g_autoptr(GSource) poll = g_timeout_source_new(250);
        g_source_set_callback(poll, ready_check, &d, NULL);
        g_source_attach(poll, signals);
    }

    if (!stop_asked)
        g_main_loop_run(loop);

    sdnotify("STOPPING=1\nSTATUS=stopping");
    g_message("stopping");
    stop_all(api, &tls, eng, virt, st);
    /* The engine is stopped: nothing points into the configurations. */
    g_ptr_array_unref(d.retired);
    if (d.conf != c)
        conf_free(d.conf);
    g_free(d.conf_text);
    g_free(d.default_uri);
    g_free(d.status);
    return 0;
}
