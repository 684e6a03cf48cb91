/*
 * The operations record in the CLI: events, incidents, problems,
 * maintenance windows, alert rules, and an item's relations and impact.
 * Speaks only /events, /incidents, /problems, /maintenance, /rules and
 * /items/{item}/... of the REST API (docs/api.md).
 *
 * What can be checked without the server is checked here, so that a typo
 * is a usage error (exit status 2) before any request: enumerated words,
 * ids, durations, times and the shape of scopes and item ids.  The server
 * still validates everything (it must: other clients exist).
 */
#include "config.h"

#include "cli/cli.h"

#include "basic/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SEVERITIES       "info|warning|major|critical"
#define INCIDENT_STATES  "open|acknowledged|resolved|all"
#define PROBLEM_STATES   "open|known-error|closed"
#define RULE_KINDS       "threshold|pool-full|memory-trend"
#define RULE_VIEWS       "host|guest|reconciled"
#define RULE_OPS         ">|>=|<|<="
#define ITEM_KINDS       "vm|host|pool|network"
#define RULE_NAME_MAX    64
#define RULE_FOR_MAX_SEC (7 * 24 * 3600)

/* ---- argument checks -------------------------------------------------- */

/* "invalid WHAT 'VALUE' (a|b|c)" unless value is one of list. */
static int check_word(const char *value, const char *what, const char *list)
{
    if (!value || word_one_of(value, list))
        return CLI_EXIT_OK;
    g_autofree char *clean = text_sanitize(value);
    g_autofree char *words = g_strdup(list);
    g_strdelimit(words, "|", ',');
    return cli_usage_error("invalid %s '%s' (one of: %s)", what, clean, words);
}

/* A positive integer id (incidents, problems, maintenance windows). */
static int parse_id(const char *s, const char *what, gint64 *ret)
{
    guint64 v = 0;

    if (!g_ascii_string_to_unsigned(s, 10, 1, G_MAXINT64, &v, NULL)) {
        g_autofree char *clean = text_sanitize(s);
        return cli_usage_error("invalid %s id '%s' (a whole number, 1 or more)", what, clean);
    }
    *ret = (gint64)v;
    return CLI_EXIT_OK;
}

static int check_limit(void)
{
    if (cli_opts.limit != -1 && cli_opts.limit < 1)
        return cli_usage_error("--limit must be a positive number");
    return CLI_EXIT_OK;
}

/* An item id as the API writes them: KIND:REST with a known kind. */
static int check_item(const char *item, const char *what)
{
    const char *colon = item ? strchr(item, ':') : NULL;
    g_autofree char *kind = colon ? g_strndup(item, (gsize)(colon - item)) : NULL;

    if (colon && colon[1] && word_one_of(kind, ITEM_KINDS))
        return CLI_EXIT_OK;
    g_autofree char *clean = text_sanitize(item);
    return cli_usage_error("invalid %s '%s' (vm:UUID, host:NAME, pool:HOST/NAME or "
                           "network:HOST/NAME)",
                           what, clean);
}

/* The path of an item: pool and network ids hold a '/', which must reach
 * the server as a separator because kanrid refuses an escaped one (%2F)
 * in a path.  Each part between slashes is escaped on its own. */
static char *item_path(const char *item, const char *suffix)
{
    g_auto(GStrv) parts = g_strsplit(item, "/", -1);
    g_autoptr(GString) path = g_string_new("/items/");

    for (guint i = 0; parts[i]; i++) {
        g_autofree char *esc = http_escape(parts[i]);
        if (i > 0)
            g_string_append_c(path, '/');
        g_string_append(path, esc);
    }
    g_string_append(path, suffix);
    return g_string_free(g_steal_pointer(&path), FALSE);
}

static char *id_path(const char *collection, gint64 id, const char *suffix)
{
    return g_strdup_printf("/%s/%" G_GINT64_FORMAT "%s", collection, id, suffix);
}

/* ---- output helpers --------------------------------------------------- */

/* An item for a table: its name when the server knows one (a VM's UUID
 * is long and says little), else its id. */
static void cell_item(struct table *t, struct json_object *o, const char *id_key,
                      const char *name_key)
{
    const char *name = jstr(o, name_key);

    table_add(t, name && *name ? name : jstr(o, id_key));
}

/* "#12", or "-" when the reference is absent. */
static void cell_ref(struct table *t, struct json_object *o, const char *key)
{
    gint64 id;

    if (jint(o, key, &id))
        table_addf(t, "#%" G_GINT64_FORMAT, id);
    else
        table_add(t, NULL);
}

/* "web1 (vm:UUID)" for a key/value line. */
static void kv_item(struct kv *kv, const char *label, struct json_object *o, const char *id_key,
                    const char *name_key)
{
    const char *id = jstr(o, id_key), *name = jstr(o, name_key);

    if (name && *name && id && strcmp(name, id) != 0)
        kv_addf(kv, label, "%s (%s)", name, id);
    else
        kv_add(kv, label, id);
}

/* "TIME by WHO", "TIME", or nothing when TIME is missing. */
static void kv_when_who(struct kv *kv, const char *label, struct json_object *o, const char *t_key,
                        const char *who_key)
{
    const char *t = jstr(o, t_key), *who = jstr(o, who_key);

    if (!t)
        return;
    if (who)
        kv_addf(kv, label, "%s by %s", t, who);
    else
        kv_add(kv, label, t);
}

/* A count that the server may send as a number or as the list itself. */
static void cell_count(struct table *t, struct json_object *o, const char *key)
{
    struct json_object *list = jarray(o, key);

    if (list)
        table_addf(t, "%zu", json_object_array_length(list));
    else
        cell_int(t, o, key);
}

/* Prints a POST/PUT/DELETE's reply with --json, else the confirmation. */
static int confirm(struct json_object *reply, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int confirm(struct json_object *reply, const char *fmt, ...)
{
    if (cli_opts.json) {
        print_json(reply);
        return CLI_EXIT_OK;
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *clean = text_sanitize(msg);
    printf("%s\n", clean);
    return CLI_EXIT_OK;
}

/* GET of one object; -1 when --json printed it (see cli_done). */
static int get_one(const char *path, struct json_object **ret)
{
    int r = api_request("GET", path, NULL, ret);

    if (r == CLI_EXIT_OK && !*ret) {
        cli_error("the server's reply is empty");
        return CLI_EXIT_SERVER;
    }
    if (r == CLI_EXIT_OK && cli_opts.json) {
        print_json(*ret);
        return -1;
    }
    return r;
}

/* A list reply's "next_cursor" means there is more than was shown; say so
 * where it does not spoil the table for a script reading stdout. */
static void note_more(struct json_object *reply, const char *what)
{
    if (jstr(reply, "next_cursor"))
        fprintf(stderr, "(more %s than shown: narrow the filters or raise --limit)\n", what);
}

/* ---- events ----------------------------------------------------------- */

static void print_events(struct json_object *events, bool with_host)
{
    static const char *const cols[] = {"Time", "Severity", "Kind",  "Item",
                                       "Host", "Incident", "Maint", "Message"};
    static const char *const cols_nohost[] = {"Time",     "Severity", "Kind",   "Item",
                                              "Incident", "Maint",    "Message"};
    g_autoptr(table) t = with_host ? table_new(G_N_ELEMENTS(cols), cols)
                                   : table_new(G_N_ELEMENTS(cols_nohost), cols_nohost);

    for (size_t i = 0; i < json_object_array_length(events); i++) {
        struct json_object *e = json_object_array_get_idx(events, i);
        table_add(t, jstr(e, "t"));
        table_add(t, jstr(e, "severity"));
        table_add(t, jstr(e, "kind"));
        cell_item(t, e, "item", "item_name");
        if (with_host)
            table_add(t, jstr(e, "host"));
        cell_ref(t, e, "incident_id");
        cell_ref(t, e, "maintenance_id");
        table_add(t, jstr(e, "message"));
    }
    print_table(t);
}

int cmd_events(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(GString) path = g_string_new("/events");
    int r = check_limit();

    if (r == CLI_EXIT_OK)
        r = check_word(cli_opts.severity, "severity", SEVERITIES);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.since) {
        int64_t us;
        gint64 t;
        if (!duration_parse(cli_opts.since, &us) && !time_text_parse(cli_opts.since, &t)) {
            g_autofree char *clean = text_sanitize(cli_opts.since);
            return cli_usage_error("invalid --since '%s' (a duration such as 30m, 2h, 7d, or an "
                                   "RFC 3339 time)",
                                   clean);
        }
        cli_query_add(path, "from", cli_opts.since);
    }
    if (cli_opts.incident != -1 && cli_opts.incident < 1)
        return cli_usage_error("--incident must be an incident id, 1 or more");
    if (cli_opts.item)
        cli_query_add(path, "item", cli_opts.item);
    if (cli_opts.kind)
        cli_query_add(path, "kind", cli_opts.kind);
    if (cli_opts.severity)
        cli_query_add(path, "severity", cli_opts.severity);
    if (cli_opts.incident > 0) {
        g_autofree char *id = g_strdup_printf("%d", cli_opts.incident);
        cli_query_add(path, "incident", id);
    }
    if (cli_opts.limit > 0) {
        g_autofree char *lim = g_strdup_printf("%d", cli_opts.limit);
        cli_query_add(path, "limit", lim);
    }

    g_autoptr(json_object) reply = NULL;
    struct json_object *events = NULL;
    r = cli_get_list(path->str, "events", &reply, &events);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    print_events(events, true);
    note_more(reply, "events");
    return CLI_EXIT_OK;
}

/* ---- incidents -------------------------------------------------------- */

static void print_incidents(struct json_object *incidents)
{
    static const char *const cols[] = {"Id",   "Severity",  "State",  "Opened",  "Updated",
                                       "Item", "Condition", "Events", "Problem", "Title"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);

    table_align_right(t, 0);
    table_align_right(t, 7);
    for (size_t i = 0; i < json_object_array_length(incidents); i++) {
        struct json_object *inc = json_object_array_get_idx(incidents, i);
        cell_int(t, inc, "id");
        table_add(t, jstr(inc, "severity"));
        table_add(t, jstr(inc, "state"));
        table_add(t, jstr(inc, "opened"));
        table_add(t, jstr(inc, "updated"));
        cell_item(t, inc, "item", "item_name");
        table_add(t, jstr(inc, "condition"));
        cell_count(t, inc, "events");
        cell_ref(t, inc, "problem_id");
        table_add(t, jstr(inc, "title"));
    }
    print_table(t);
}

int cmd_incident_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(GString) path = g_string_new("/incidents");
    int r = check_limit();

    if (r == CLI_EXIT_OK)
        r = check_word(cli_opts.state, "state", INCIDENT_STATES);
    if (r == CLI_EXIT_OK)
        r = check_word(cli_opts.severity, "severity", SEVERITIES);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.state)
        cli_query_add(path, "state", cli_opts.state);
    if (cli_opts.severity)
        cli_query_add(path, "severity", cli_opts.severity);
    if (cli_opts.item)
        cli_query_add(path, "item", cli_opts.item);
    if (cli_opts.limit > 0) {
        g_autofree char *lim = g_strdup_printf("%d", cli_opts.limit);
        cli_query_add(path, "limit", lim);
    }

    g_autoptr(json_object) reply = NULL;
    struct json_object *incidents = NULL;
    r = cli_get_list(path->str, "incidents", &reply, &incidents);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    print_incidents(incidents);
    note_more(reply, "incidents");
    return CLI_EXIT_OK;
}

static gint change_newest_first(gconstpointer a, gconstpointer b)
{
    struct json_object *x = *(struct json_object *const *)a;
    struct json_object *y = *(struct json_object *const *)b;

    return time_text_newest_first(jstr(x, "t"), jstr(y, "t"));
}

/* Newest first whatever order the server sent (it sends them so today),
 * the likely cause marked '*' with its reason below the table: that is
 * what the person looking at an incident asks first. */
static void print_preceding(struct json_object *changes)
{
    size_t len = changes ? json_object_array_length(changes) : 0;

    printf("\nPreceding changes:%s\n", len ? "" : " none");
    if (!len)
        return;
    g_autoptr(GPtrArray) sorted = g_ptr_array_sized_new((guint)len);
    for (size_t i = 0; i < len; i++)
        g_ptr_array_add(sorted, json_object_array_get_idx(changes, i));
    /* g_ptr_array_sort is stable: equal times keep the server's order. */
    g_ptr_array_sort(sorted, change_newest_first);

    static const char *const cols[] = {"", "Time", "Item", "Source", "Cause", "Actor", "Summary"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    struct json_object *likely = NULL;
    for (guint i = 0; i < sorted->len; i++) {
        struct json_object *c = g_ptr_array_index(sorted, i);
        bool is_likely = false, pending = false;
        if (jbool(c, "likely", &is_likely) && is_likely && !likely)
            likely = c;
        table_add(t, c == likely ? "*" : "");
        table_add(t, jstr(c, "t"));
        cell_item(t, c, "uuid", "name");
        table_add(t, jstr(c, "source"));
        table_add(t, jstr(c, "cause"));
        table_add(t, jstr(c, "actor"));
        if (jbool(c, "pending", &pending) && pending)
            table_addf(t, "%s (applies at next boot)",
                       jstr(c, "summary") ? jstr(c, "summary") : "-");
        else
            table_add(t, jstr(c, "summary"));
    }
    print_table(t);
    if (likely) {
        g_autofree char *why = text_sanitize(jstr(likely, "why") ? jstr(likely, "why") : "-");
        printf("* likely cause: %s\n", why);
    } else {
        printf("No likely cause among them.\n");
    }
}

static void print_log(struct json_object *log)
{
    size_t len = log ? json_object_array_length(log) : 0;

    printf("\nLog:%s\n", len ? "" : " empty");
    if (!len)
        return;
    static const char *const cols[] = {"Seq", "Time", "What", "By", "Comment"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 0);
    for (size_t i = 0; i < len; i++) {
        struct json_object *e = json_object_array_get_idx(log, i);
        cell_int(t, e, "seq");
        table_add(t, jstr(e, "t"));
        table_add(t, jstr(e, "what"));
        table_add(t, jstr(e, "by"));
        table_add(t, jstr(e, "comment"));
    }
    print_table(t);
}

static void print_deliveries(struct json_object *deliveries)
{
    size_t len = deliveries ? json_object_array_length(deliveries) : 0;

    if (!len)
        return;
    printf("\nNotifications:\n");
    static const char *const cols[] = {"Route",    "Key",      "State",
                                       "Attempts", "Next try", "Last error"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 3);
    for (size_t i = 0; i < len; i++) {
        struct json_object *d = json_object_array_get_idx(deliveries, i);
        table_add(t, jstr(d, "route"));
        table_add(t, jstr(d, "key"));
        table_add(t, jstr(d, "state"));
        cell_int(t, d, "attempts");
        table_add(t, jstr(d, "next_try"));
        table_add(t, jstr(d, "last_error"));
    }
    print_table(t);
}

/* GET /COLLECTION/ID of a "show" verb: *ret_obj is the reply's member
 * WHAT (borrowed from *ret_reply).  Anything but CLI_EXIT_OK ends the
 * verb with cli_done(): an error already printed, or -1 when --json
 * printed the reply. */
static int show_fetch(const char *arg, const char *what, const char *collection,
                      json_object **ret_reply, struct json_object **ret_obj)
{
    gint64 id;
    int r = parse_id(arg, what, &id);

    if (r != CLI_EXIT_OK)
        return r;
    g_autofree char *path = id_path(collection, id, "");
    r = get_one(path, ret_reply);
    if (r != CLI_EXIT_OK)
        return r;
    *ret_obj = jobject(*ret_reply, what);
    if (!*ret_obj) {
        cli_error("the server's reply has no '%s'", what);
        return CLI_EXIT_SERVER;
    }
    return CLI_EXIT_OK;
}

int cmd_incident_show(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *inc = NULL;
    int r = show_fetch(args[0], "incident", "incidents", &reply, &inc);

    if (r != CLI_EXIT_OK)
        return cli_done(r);

    struct kv *kv = kv_new();
    kv_add(kv, "Incident", jstr(inc, "id"));
    kv_add(kv, "Title", jstr(inc, "title"));
    kv_add(kv, "State", jstr(inc, "state"));
    kv_add(kv, "Severity", jstr(inc, "severity"));
    kv_add(kv, "Condition", jstr(inc, "condition"));
    kv_item(kv, "Item", inc, "item", "item_name");
    kv_add(kv, "Host", jstr(inc, "host"));
    kv_add(kv, "Opened", jstr(inc, "opened"));
    kv_add(kv, "Updated", jstr(inc, "updated"));
    kv_when_who(kv, "Acknowledged", inc, "acknowledged", "acknowledged_by");
    kv_when_who(kv, "Resolved", inc, "resolved", "resolved_by");
    if (jstr(inc, "clear_since"))
        kv_addf(kv, "Clearing", "since %s (resolves once clear long enough)",
                jstr(inc, "clear_since"));
    kv_add(kv, "Last event", jstr(inc, "last_event"));
    kv_add(kv, "Events", jstr(inc, "events"));
    kv_add(kv, "Flaps", jstr(inc, "flaps"));
    gint64 problem;
    if (jint(inc, "problem_id", &problem))
        kv_addf(kv, "Problem", "#%" G_GINT64_FORMAT, problem);
    else
        kv_add(kv, "Problem", "none");
    kv_print_free(kv);

    struct json_object *affected = jarray(reply, "affected");
    size_t naff = affected ? json_object_array_length(affected) : 0;
    printf("\nAffected items:%s\n", naff ? "" : " none besides the item");
    if (naff) {
        static const char *const cols[] = {"Item", "Name"};
        g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
        for (size_t i = 0; i < naff; i++) {
            struct json_object *a = json_object_array_get_idx(affected, i);
            table_add(t, jstr(a, "item"));
            table_add(t, jstr(a, "name"));
        }
        print_table(t);
    }

    print_preceding(jarray(reply, "preceding_changes"));
    print_log(jarray(reply, "log"));

    struct json_object *events = jarray(reply, "events");
    size_t nev = events ? json_object_array_length(events) : 0;
    printf("\nRecent events:%s\n", nev ? "" : " none");
    if (nev)
        print_events(events, false);
    print_deliveries(jarray(reply, "deliveries"));
    return CLI_EXIT_OK;
}

/* POST /incidents/ID/ACTION with an optional comment. */
static int incident_transition(const char *arg, const char *action, const char *done)
{
    gint64 id;
    int r = parse_id(arg, "incident", &id);

    if (r != CLI_EXIT_OK)
        return r;
    g_autoptr(json_object) body = json_object_new_object();
    if (cli_opts.comment)
        json_object_object_add(body, "comment", json_object_new_string(cli_opts.comment));
    g_autofree char *path = id_path("incidents", id, action);
    g_autoptr(json_object) reply = NULL;
    r = api_request("POST", path, body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    return confirm(reply, "Incident %" G_GINT64_FORMAT " %s", id, done);
}

int cmd_incident_ack(const struct cli_verb *v, char **args, guint n)
{
    return incident_transition(args[0], "/acknowledge", "acknowledged");
}

int cmd_incident_resolve(const struct cli_verb *v, char **args, guint n)
{
    return incident_transition(args[0], "/resolve", "resolved");
}

int cmd_incident_comment(const struct cli_verb *v, char **args, guint n)
{
    gint64 id;
    int r = parse_id(args[0], "incident", &id);

    if (r != CLI_EXIT_OK)
        return r;
    if (!*args[1])
        return cli_usage_error("the comment is empty");
    g_autoptr(json_object) body = json_object_new_object();
    json_object_object_add(body, "text", json_object_new_string(args[1]));
    g_autofree char *path = id_path("incidents", id, "/comments");
    g_autoptr(json_object) reply = NULL;
    r = api_request("POST", path, body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    return confirm(reply, "Comment added to incident %" G_GINT64_FORMAT, id);
}

int cmd_incident_link(const struct cli_verb *v, char **args, guint n)
{
    gint64 id, problem = 0;
    int r = parse_id(args[0], "incident", &id);

    if (r != CLI_EXIT_OK)
        return r;
    bool unlink = strcmp(args[1], "none") == 0;
    if (!unlink) {
        r = parse_id(args[1], "problem", &problem);
        if (r != CLI_EXIT_OK)
            return r;
    }
    g_autoptr(json_object) body = json_object_new_object();
    /* JSON null unlinks. */
    json_object_object_add(body, "problem", unlink ? NULL : json_object_new_int64(problem));
    g_autofree char *path = id_path("incidents", id, "/problem");
    g_autoptr(json_object) reply = NULL;
    r = api_request("POST", path, body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    if (unlink)
        return confirm(reply, "Incident %" G_GINT64_FORMAT " unlinked from its problem", id);
    return confirm(reply, "Incident %" G_GINT64_FORMAT " linked to problem %" G_GINT64_FORMAT, id,
                   problem);
}

/* ---- problems --------------------------------------------------------- */

int cmd_problem_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *problems = NULL;
    int r = cli_get_list("/problems", "problems", &reply, &problems);

    if (r != CLI_EXIT_OK)
        return cli_done(r);
    static const char *const cols[] = {"Id",      "State",   "Incidents", "Suggested",
                                       "Created", "Updated", "By",        "Title"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 0);
    table_align_right(t, 2);
    for (size_t i = 0; i < json_object_array_length(problems); i++) {
        struct json_object *p = json_object_array_get_idx(problems, i);
        bool suggested = false;
        cell_int(t, p, "id");
        table_add(t, jstr(p, "state"));
        cell_count(t, p, "incidents");
        table_add(t, jbool(p, "suggested", &suggested) && suggested ? "yes" : "");
        table_add(t, jstr(p, "created"));
        table_add(t, jstr(p, "updated"));
        table_add(t, jstr(p, "created_by"));
        table_add(t, jstr(p, "title"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

int cmd_problem_show(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *p = NULL;
    int r = show_fetch(args[0], "problem", "problems", &reply, &p);

    if (r != CLI_EXIT_OK)
        return cli_done(r);
    bool suggested = false;
    struct kv *kv = kv_new();
    kv_add(kv, "Problem", jstr(p, "id"));
    kv_add(kv, "Title", jstr(p, "title"));
    kv_add(kv, "State", jstr(p, "state"));
    if (jbool(p, "suggested", &suggested) && suggested)
        kv_add(kv, "Suggested", "yes, by kanri: the incidents below kept recurring");
    if (jstr(p, "condition"))
        kv_add(kv, "Condition", jstr(p, "condition"));
    if (jstr(p, "item"))
        kv_add(kv, "Item", jstr(p, "item"));
    kv_add(kv, "Root cause", jstr(p, "root_cause"));
    kv_add(kv, "Known error", jstr(p, "known_error"));
    kv_add(kv, "Workaround", jstr(p, "workaround"));
    kv_when_who(kv, "Created", p, "created", "created_by");
    kv_add(kv, "Updated", jstr(p, "updated"));
    kv_print_free(kv);

    struct json_object *incidents = jarray(reply, "incidents");
    size_t len = incidents ? json_object_array_length(incidents) : 0;
    printf("\nIncidents:%s\n", len ? "" : " none");
    if (len)
        print_incidents(incidents);
    return CLI_EXIT_OK;
}

/* The fields given on the command line; false when there are none. */
static bool problem_body(struct json_object *body)
{
    const struct {
        const char *key;
        const char *value;
    } fields[] = {
        {"title", cli_opts.title},
        {"root_cause", cli_opts.root_cause},
        {"known_error", cli_opts.known_error},
        {"workaround", cli_opts.workaround},
        {"state", cli_opts.state},
    };
    bool any = false;

    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        if (!fields[i].value)
            continue;
        json_object_object_add(body, fields[i].key, json_object_new_string(fields[i].value));
        any = true;
    }
    return any;
}

int cmd_problem_create(const struct cli_verb *v, char **args, guint n)
{
    if (!cli_opts.title || !*cli_opts.title)
        return cli_usage_error("--title is required");
    int r = check_word(cli_opts.state, "state", PROBLEM_STATES);
    if (r != CLI_EXIT_OK)
        return r;
    g_autoptr(json_object) body = json_object_new_object();
    problem_body(body);
    g_autoptr(json_object) reply = NULL;
    r = api_request("POST", "/problems", body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    const char *id = jstr(jobject(reply, "problem"), "id");
    return confirm(reply, "Problem %s created", id ? id : "-");
}

int cmd_problem_update(const struct cli_verb *v, char **args, guint n)
{
    gint64 id;
    int r = parse_id(args[0], "problem", &id);

    if (r == CLI_EXIT_OK)
        r = check_word(cli_opts.state, "state", PROBLEM_STATES);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.title && !*cli_opts.title)
        return cli_usage_error("--title must not be empty");
    g_autoptr(json_object) body = json_object_new_object();
    if (!problem_body(body))
        return cli_usage_error("nothing to change: give --title, --root-cause, --known-error, "
                               "--workaround or --state");
    g_autofree char *path = id_path("problems", id, "");
    g_autoptr(json_object) reply = NULL;
    r = api_request("PUT", path, body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    return confirm(reply, "Problem %" G_GINT64_FORMAT " updated", id);
}

/* ---- maintenance ------------------------------------------------------ */

int cmd_maintenance_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *windows = NULL;
    int r = cli_get_list("/maintenance", "maintenance", &reply, &windows);

    if (r != CLI_EXIT_OK)
        return cli_done(r);
    static const char *const cols[] = {"Id", "Scope", "From", "To", "Active", "Who", "Why"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 0);
    for (size_t i = 0; i < json_object_array_length(windows); i++) {
        struct json_object *w = json_object_array_get_idx(windows, i);
        cell_int(t, w, "id");
        table_add(t, jstr(w, "scope"));
        table_add(t, jstr(w, "from"));
        table_add(t, jstr(w, "to"));
        cell_bool(t, w, "active");
        table_add(t, jstr(w, "who"));
        table_add(t, jstr(w, "why"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

static int check_time(const char *option, const char *value, gint64 *ret)
{
    if (time_text_parse(value, ret))
        return CLI_EXIT_OK;
    g_autofree char *clean = text_sanitize(value);
    return cli_usage_error("invalid %s '%s' (an RFC 3339 time such as 2026-11-26T22:00:00Z)",
                           option, clean);
}

int cmd_maintenance_add(const struct cli_verb *v, char **args, guint n)
{
    const char *scope = args[0];
    gint64 from = 0, to = 0;
    int r;

    if (!scope_syntax_valid(scope)) {
        g_autofree char *clean = text_sanitize(scope);
        return cli_usage_error("invalid scope '%s' (all, host:NAME, vm:GLOB, pool:GLOB or "
                               "item:ID)",
                               clean);
    }
    if (!cli_opts.to == !cli_opts.for_time)
        return cli_usage_error("give either --to TIME or --for DURATION");
    if (!cli_opts.why || !*cli_opts.why)
        return cli_usage_error("--why is required: say what the maintenance is for");
    if (cli_opts.from && (r = check_time("--from", cli_opts.from, &from)) != CLI_EXIT_OK)
        return r;
    if (cli_opts.to && (r = check_time("--to", cli_opts.to, &to)) != CLI_EXIT_OK)
        return r;
    if (cli_opts.from && cli_opts.to && to <= from)
        return cli_usage_error("--to must be later than --from");
    if (cli_opts.for_time) {
        int64_t us;
        if (!duration_parse(cli_opts.for_time, &us)) {
            g_autofree char *clean = text_sanitize(cli_opts.for_time);
            return cli_usage_error("invalid --for '%s' (a duration such as 30m, 2h, 1d)", clean);
        }
    }

    g_autoptr(json_object) body = json_object_new_object();
    json_object_object_add(body, "scope", json_object_new_string(scope));
    if (cli_opts.from)
        json_object_object_add(body, "from", json_object_new_string(cli_opts.from));
    if (cli_opts.to)
        json_object_object_add(body, "to", json_object_new_string(cli_opts.to));
    else
        json_object_object_add(body, "for", json_object_new_string(cli_opts.for_time));
    json_object_object_add(body, "why", json_object_new_string(cli_opts.why));
    g_autoptr(json_object) reply = NULL;
    r = api_request("POST", "/maintenance", body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    struct json_object *w = jobject(reply, "maintenance");
    const char *id = jstr(w, "id"), *wfrom = jstr(w, "from"), *wto = jstr(w, "to");
    return confirm(reply, "Maintenance window %s added: %s from %s to %s", id ? id : "-", scope,
                   wfrom ? wfrom : (cli_opts.from ? cli_opts.from : "now"),
                   wto ? wto : (cli_opts.to ? cli_opts.to : cli_opts.for_time));
}

int cmd_maintenance_delete(const struct cli_verb *v, char **args, guint n)
{
    gint64 id;
    int r = parse_id(args[0], "maintenance window", &id);

    if (r != CLI_EXIT_OK)
        return r;
    g_autofree char *path = id_path("maintenance", id, "");
    g_autoptr(json_object) reply = NULL;
    r = api_request("DELETE", path, NULL, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    return confirm(reply, "Maintenance window %" G_GINT64_FORMAT " deleted", id);
}

/* ---- rules ------------------------------------------------------------ */

/* What a rule watches, in one cell: "host cpu_busy > 90", "full within 24 h". */
static char *rule_condition_text(struct json_object *rule)
{
    const char *kind = jstr(rule, "kind"), *value = jstr(rule, "value");

    if (g_strcmp0(kind, "threshold") == 0)
        return g_strdup_printf("%s %s %s %s", jstr(rule, "view") ? jstr(rule, "view") : "-",
                               jstr(rule, "metric") ? jstr(rule, "metric") : "-",
                               jstr(rule, "op") ? jstr(rule, "op") : "-", value ? value : "-");
    return g_strdup_printf("full within %s h", value ? value : "-");
}

int cmd_rule_list(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    struct json_object *rules = NULL;
    int r = cli_get_list("/rules", "rules", &reply, &rules);

    if (r != CLI_EXIT_OK)
        return cli_done(r);
    static const char *const cols[] = {"Name",     "Kind",  "Condition", "For",
                                       "Severity", "Scope", "Enabled",   "Origin"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 3);
    for (size_t i = 0; i < json_object_array_length(rules); i++) {
        struct json_object *rule = json_object_array_get_idx(rules, i);
        gint64 for_s;
        table_add(t, jstr(rule, "name"));
        table_add(t, jstr(rule, "kind"));
        g_autofree char *cond = rule_condition_text(rule);
        table_add(t, cond);
        if (jint(rule, "for_s", &for_s)) {
            g_autofree char *d = duration_format(for_s);
            table_add(t, d);
        } else {
            table_add(t, NULL);
        }
        table_add(t, jstr(rule, "severity"));
        table_add(t, jstr(rule, "scope"));
        cell_bool(t, rule, "enabled");
        table_add(t, jstr(rule, "origin"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

static bool rule_name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len < 1 || len > RULE_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    }
    return true;
}

/* "0" is a valid --for (fire at once), which duration_parse refuses. */
static bool rule_for_valid(const char *s)
{
    int64_t us;

    if (strcmp(s, "0") == 0)
        return true;
    return duration_parse(s, &us) && us <= (int64_t)RULE_FOR_MAX_SEC * USEC_PER_SEC;
}

static int check_rule_options(const char *name, double *ret_value)
{
    int r;

    if (!rule_name_valid(name)) {
        g_autofree char *clean = text_sanitize(name);
        return cli_usage_error("invalid rule name '%s' (1 to 64 letters, digits, '-', '_' or "
                               "'.')",
                               clean);
    }
    if (!cli_opts.kind)
        return cli_usage_error("--kind is required (threshold, pool-full or memory-trend)");
    if ((r = check_word(cli_opts.kind, "kind", RULE_KINDS)) != CLI_EXIT_OK ||
        (r = check_word(cli_opts.view, "view", RULE_VIEWS)) != CLI_EXIT_OK ||
        (r = check_word(cli_opts.op, "op", RULE_OPS)) != CLI_EXIT_OK ||
        (r = check_word(cli_opts.severity, "severity", SEVERITIES)) != CLI_EXIT_OK)
        return r;
    bool threshold = strcmp(cli_opts.kind, "threshold") == 0;
    if (threshold && (!cli_opts.metric || !cli_opts.view || !cli_opts.op || !cli_opts.value))
        return cli_usage_error("a threshold rule needs --metric, --view, --op and --value");
    if (!threshold && !cli_opts.value)
        return cli_usage_error("a %s rule needs --value, the hours left before it is full",
                               cli_opts.kind);
    char *end = NULL;
    double value = g_ascii_strtod(cli_opts.value, &end);
    if (!*cli_opts.value || *end || !isfinite(value) || (!threshold && value <= 0)) {
        g_autofree char *clean = text_sanitize(cli_opts.value);
        return cli_usage_error("invalid --value '%s' (%s)", clean,
                               threshold ? "a number" : "hours, more than 0");
    }
    if (cli_opts.for_time && !rule_for_valid(cli_opts.for_time)) {
        g_autofree char *clean = text_sanitize(cli_opts.for_time);
        return cli_usage_error("invalid --for '%s' (0, or a duration such as 90s, 5m, 1h; 7d "
                               "at most)",
                               clean);
    }
    if (cli_opts.scope && !scope_syntax_valid(cli_opts.scope)) {
        g_autofree char *clean = text_sanitize(cli_opts.scope);
        return cli_usage_error("invalid scope '%s' (all, host:NAME, vm:GLOB, pool:GLOB or "
                               "item:ID)",
                               clean);
    }
    *ret_value = value;
    return CLI_EXIT_OK;
}

int cmd_rule_set(const struct cli_verb *v, char **args, guint n)
{
    double value = 0;
    int r = check_rule_options(args[0], &value);

    if (r != CLI_EXIT_OK)
        return r;
    g_autoptr(json_object) body = json_object_new_object();
    json_object_object_add(body, "kind", json_object_new_string(cli_opts.kind));
    if (cli_opts.metric)
        json_object_object_add(body, "metric", json_object_new_string(cli_opts.metric));
    if (cli_opts.view)
        json_object_object_add(body, "view", json_object_new_string(cli_opts.view));
    if (cli_opts.op)
        json_object_object_add(body, "op", json_object_new_string(cli_opts.op));
    json_object_object_add(body, "value", json_object_new_double(value));
    if (cli_opts.for_time)
        json_object_object_add(body, "for", json_object_new_string(cli_opts.for_time));
    if (cli_opts.severity)
        json_object_object_add(body, "severity", json_object_new_string(cli_opts.severity));
    if (cli_opts.scope)
        json_object_object_add(body, "scope", json_object_new_string(cli_opts.scope));
    json_object_object_add(body, "enabled", json_object_new_boolean(!cli_opts.disabled));

    g_autofree char *esc = http_escape(args[0]);
    g_autofree char *path = g_strconcat("/rules/", esc, NULL);
    g_autoptr(json_object) reply = NULL;
    r = api_request("PUT", path, body, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    return confirm(reply, "Rule '%s' saved%s", args[0], cli_opts.disabled ? " (disabled)" : "");
}

int cmd_rule_delete(const struct cli_verb *v, char **args, guint n)
{
    if (!rule_name_valid(args[0])) {
        g_autofree char *clean = text_sanitize(args[0]);
        return cli_usage_error("invalid rule name '%s'", clean);
    }
    g_autofree char *esc = http_escape(args[0]);
    g_autofree char *path = g_strconcat("/rules/", esc, NULL);
    g_autoptr(json_object) reply = NULL;
    int r = api_request("DELETE", path, NULL, &reply);
    if (r != CLI_EXIT_OK)
        return r;
    return confirm(reply, "Rule '%s' deleted", args[0]);
}

/* ---- relations and impact --------------------------------------------- */

/* "BEFORE web1 (vm:UUID)AFTER" on a line of its own. */
static void print_item_heading(struct json_object *reply, const char *given, const char *before,
                               const char *after)
{
    const char *item = jstr(reply, "item") ? jstr(reply, "item") : given;
    const char *name = jstr(reply, "name");
    g_autofree char *label = name && *name && g_strcmp0(name, item) != 0
                                 ? g_strdup_printf("%s (%s)", name, item)
                                 : g_strdup(item);
    g_autofree char *clean = text_sanitize(label);

    printf("%s%s%s\n", before, clean, after);
}

int cmd_relations(const struct cli_verb *v, char **args, guint n)
{
    int r = check_item(args[0], "item");

    if (r != CLI_EXIT_OK)
        return r;
    g_autofree char *path = item_path(args[0], "/relations");
    g_autoptr(json_object) reply = NULL;
    struct json_object *rels = NULL;
    r = cli_get_list(path, "relations", &reply, &rels);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    size_t len = json_object_array_length(rels);
    print_item_heading(reply, args[0], "", len ? ":" : ": no relations known");
    if (!len)
        return CLI_EXIT_OK;
    static const char *const cols[] = {"Relation", "Item", "Name"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    for (size_t i = 0; i < len; i++) {
        struct json_object *rel = json_object_array_get_idx(rels, i);
        table_add(t, jstr(rel, "type"));
        table_add(t, jstr(rel, "item"));
        table_add(t, jstr(rel, "name"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}

int cmd_impact(const struct cli_verb *v, char **args, guint n)
{
    int r = check_item(args[0], "item");

    if (r != CLI_EXIT_OK)
        return r;
    g_autofree char *path = item_path(args[0], "/impact");
    g_autoptr(json_object) reply = NULL;
    struct json_object *affected = NULL;
    r = cli_get_list(path, "affected", &reply, &affected);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    size_t len = json_object_array_length(affected);
    print_item_heading(reply, args[0], "A failure of ",
                       len ? " would affect:" : " would affect nothing else kanri knows of.");
    if (!len)
        return CLI_EXIT_OK;
    static const char *const cols[] = {"Item", "Name", "Why"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    for (size_t i = 0; i < len; i++) {
        struct json_object *a = json_object_array_get_idx(affected, i);
        table_add(t, jstr(a, "item"));
        table_add(t, jstr(a, "name"));
        table_add(t, jstr(a, "why"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}
