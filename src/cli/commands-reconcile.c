/*
 * The reconciled view in the CLI: the "Reconciled" section of `kanri vm
 * show` (H | G | R per resource, with ages and flags) and `kanri
 * findings`.  Speaks only GET /vms/{id}/reconciled and GET /findings.
 */
#include "config.h"

#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

/* A value in its unit: "%" with one decimal, bytes and bytes/s as sizes. */
static char *value_text(struct json_object *e, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(e, key, &v) || !v)
        return g_strdup("-");
    double x = json_object_get_double(v);
    const char *unit = jstr(e, "unit");
    if (g_strcmp0(unit, "%") == 0)
        return g_strdup_printf("%.1f %%", x);
    g_autofree char *s = size_format(x < 0 ? 0 : (guint64)(x + 0.5));
    return g_strcmp0(unit, "B/s") == 0 ? g_strdup_printf("%s/s", s) : g_steal_pointer(&s);
}

static char *age_text(struct json_object *e, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(e, key, &v) || !v)
        return g_strdup("-");
    return g_strdup_printf("%.0fs", json_object_get_double(v));
}

static bool num(struct json_object *e, const char *key, double *ret)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(e, key, &v) || !v)
        return false;
    *ret = json_object_get_double(v);
    return true;
}

/*
 * Flags, so a reader sees at a glance what deserves a look:
 *   no-R      R could not be computed (the reason says why)
 *   H!=G      both sides present and more than 10 % (or 5 points) apart
 *   only-H / only-G   one side is missing
 */
static char *flags_text(struct json_object *e)
{
    double h = 0, g = 0;
    bool hp = num(e, "h", &h), gp = num(e, "g", &g);
    struct json_object *r = NULL;
    g_autoptr(GString) f = g_string_new(NULL);
    if (!json_object_object_get_ex(e, "r", &r) || !r)
        g_string_append(f, "no-R ");
    if (hp && gp) {
        bool pct = g_strcmp0(jstr(e, "unit"), "%") == 0;
        double gap = h > g ? h - g : g - h, big = MAX(ABS(h), ABS(g));
        if (pct ? gap >= 5 : (big > 0 && gap / big > 0.10))
            g_string_append(f, "H!=G ");
    } else if (hp != gp) {
        g_string_append(f, hp ? "only-H " : "only-G ");
    }
    if (f->len)
        g_string_truncate(f, f->len - 1);
    bool empty = f->len == 0;
    return g_string_free(g_steal_pointer(&f), empty);
}

void cli_print_reconciled(const char *vm)
{
    g_autoptr(json_object) o = NULL;
    g_autofree char *esc = http_escape(vm);
    g_autofree char *path = g_strconcat("/vms/", esc, "/reconciled", NULL);
    printf("\nReconciled (host | guest | kanri):\n");
    if (api_request("GET", path, NULL, &o) != CLI_EXIT_OK || !o) {
        printf("  (no reconciled view; see the message above)\n");
        return;
    }
    struct json_object *res = jarray(o, "resources");
    static const char *const cols[] = {"Resource", "H",     "G",     "R",    "Provenance",
                                       "Source",   "Age H", "Age G", "Flags"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    for (guint c = 1; c <= 3; c++)
        table_align_right(t, c);
    table_align_right(t, 6);
    table_align_right(t, 7);
    for (size_t i = 0; res && i < json_object_array_length(res); i++) {
        struct json_object *e = json_object_array_get_idx(res, i);
        table_add(t, jstr(e, "resource"));
        g_autofree char *h = value_text(e, "h"), *g = value_text(e, "g"), *r = value_text(e, "r");
        table_add(t, h);
        table_add(t, g);
        table_add(t, r);
        table_add(t, jstr(e, "provenance"));
        table_add(t, jstr(e, "g_source"));
        g_autofree char *ah = age_text(e, "h_age_s"), *ag = age_text(e, "g_age_s");
        table_add(t, ah);
        table_add(t, ag);
        g_autofree char *fl = flags_text(e);
        table_add(t, fl);
    }
    print_table(t);
    /* The reasons, for resources whose R is missing: that is what a
     * reader asks next. */
    for (size_t i = 0; res && i < json_object_array_length(res); i++) {
        struct json_object *e = json_object_array_get_idx(res, i), *r = NULL;
        if (!json_object_object_get_ex(e, "r", &r) || !r) {
            g_autofree char *why = text_sanitize(jstr(e, "reason"));
            printf("  %s: %s\n", jstr(e, "resource"), why);
        }
    }
    struct json_object *fs = jarray(o, "findings");
    printf("\nOpen findings: %s\n", fs && json_object_array_length(fs) ? "" : "none");
    for (size_t i = 0; fs && i < json_object_array_length(fs); i++) {
        struct json_object *f = json_object_array_get_idx(fs, i);
        g_autofree char *msg = text_sanitize(jstr(f, "message"));
        printf("  %s (%s, since %s): %s\n", jstr(f, "rule"), jstr(f, "severity"),
               jstr(f, "opened") ? jstr(f, "opened") : "-", msg);
    }
}

int cmd_findings(const struct cli_verb *v, char **args, guint n)
{
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GString) path = g_string_new("/findings");
    g_string_append_printf(path, "?state=%s", cli_opts.open_only ? "open" : "all");
    if (cli_opts.vm) {
        g_autofree char *e = http_escape(cli_opts.vm);
        g_string_append_printf(path, "&vm=%s", e);
    }
    if (cli_opts.rule) {
        g_autofree char *e = http_escape(cli_opts.rule);
        g_string_append_printf(path, "&rule=%s", e);
    }
    if (cli_opts.limit > 0)
        g_string_append_printf(path, "&limit=%d", cli_opts.limit);
    struct json_object *list = NULL;
    int r = cli_get_list(path->str, "findings", &reply, &list);
    if (r != CLI_EXIT_OK)
        return cli_done(r);
    static const char *const cols[] = {"Id",    "VM",     "Rule",   "Severity",
                                       "State", "Opened", "Closed", "Message"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 0);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *f = json_object_array_get_idx(list, i);
        cell_int(t, f, "id");
        table_add(t, jstr(f, "vm"));
        table_add(t, jstr(f, "rule"));
        table_add(t, jstr(f, "severity"));
        table_add(t, jstr(f, "state"));
        table_add(t, jstr(f, "opened"));
        table_add(t, jstr(f, "closed"));
        table_add(t, jstr(f, "message"));
    }
    print_table(t);
    return CLI_EXIT_OK;
}
