/*
 * kanri's per-user configuration file: named contexts, like kubectl's.
 * A context names a manager (its URL), the file holding the token to use
 * there, and how to trust it (a CA file or a pinned key).  The file is
 * $KANRI_CONFIG, else $XDG_CONFIG_HOME/kanri/config, else
 * ~/.config/kanri/config; a GLib key file:
 *
 *   [kanri]
 *   current-context = prod
 *
 *   [context prod]
 *   url = https://kanri1.example.org:8470
 *   token-file = /home/ops/.config/kanri/prod.token
 *   cacert = /etc/kanri/ca.pem
 *
 * The command line and the KANRI_* variables override a context's values.
 */
#include "config.h"

#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CTX_PREFIX "context "

static const char *const ctx_keys[] = {"url", "token-file", "cacert", "pin"};

char *cli_config_path(void)
{
    const char *p = g_getenv("KANRI_CONFIG");
    if (p && *p)
        return g_strdup(p);
    return g_build_filename(g_get_user_config_dir(), "kanri", "config", NULL);
}

/* The file as a key file; an absent file is an empty one.  NULL (a usage
 * error said) when it cannot be read or parsed. */
static GKeyFile *config_read(const char *path)
{
    GKeyFile *kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, &err) &&
        !g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
        cli_error("%s: %s", path, err->message);
        g_key_file_free(kf);
        return NULL;
    }
    return kf;
}

static int config_write(const char *path, GKeyFile *kf)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        cli_error("%s: %s", dir, g_strerror(errno));
        return CLI_EXIT_USAGE;
    }
    gsize len = 0;
    g_autofree char *text = g_key_file_to_data(kf, &len, NULL);
    /* Token file paths and pins are nobody else's business. */
    if (!g_file_set_contents_full(path, text, (gssize)len, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                  &err)) {
        cli_error("%s: %s", path, err->message);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static bool name_ok(const char *name)
{
    if (!*name || strlen(name) > 64)
        return false;
    for (const char *c = name; *c; c++) {
        if (!g_ascii_isalnum(*c) && !strchr("-_.@", *c))
            return false;
    }
    return true;
}

void cli_context_clear(struct cli_context *c)
{
    g_free(c->name);
    g_free(c->url);
    g_free(c->token_file);
    g_free(c->cacert);
    g_free(c->pin);
    memset(c, 0, sizeof(*c));
}

/* The context of GROUP ("context NAME") of KF into RET. */
static void context_read(GKeyFile *kf, const char *group, struct cli_context *ret)
{
    ret->name = g_strdup(group + strlen(CTX_PREFIX));
    ret->url = g_key_file_get_string(kf, group, "url", NULL);
    ret->token_file = g_key_file_get_string(kf, group, "token-file", NULL);
    ret->cacert = g_key_file_get_string(kf, group, "cacert", NULL);
    ret->pin = g_key_file_get_string(kf, group, "pin", NULL);
}

int cli_context_load(struct cli_context *ret)
{
    memset(ret, 0, sizeof(*ret));
    const char *name = cli_opts.context;
    const char *from = "--context";
    if (!name && g_getenv("KANRI_CONTEXT") && *g_getenv("KANRI_CONTEXT")) {
        name = g_getenv("KANRI_CONTEXT");
        from = "KANRI_CONTEXT";
    }
    g_autofree char *path = cli_config_path();
    if (!name && !g_file_test(path, G_FILE_TEST_EXISTS))
        return CLI_EXIT_OK;
    g_autoptr(GKeyFile) kf = config_read(path);
    if (!kf)
        return CLI_EXIT_USAGE;
    g_autofree char *current = g_key_file_get_string(kf, "kanri", "current-context", NULL);
    if (!name) {
        name = current;
        from = path;
    }
    if (!name || !*name)
        return CLI_EXIT_OK;
    g_autofree char *group = g_strconcat(CTX_PREFIX, name, NULL);
    if (!g_key_file_has_group(kf, group)) {
        g_autofree char *clean = text_sanitize(name);
        return cli_usage_error("%s: no context '%s' in %s (kanri context list)", from, clean, path);
    }
    context_read(kf, group, ret);
    return CLI_EXIT_OK;
}

/* ---- kanri context ... ---- */

int cmd_context_list(const struct cli_verb *v, char **args, guint n)
{
    g_autofree char *path = cli_config_path();
    g_autoptr(GKeyFile) kf = config_read(path);
    if (!kf)
        return CLI_EXIT_USAGE;
    g_autofree char *current = g_key_file_get_string(kf, "kanri", "current-context", NULL);
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
    const char *headers[] = {"current", "name", "url", "token-file", "trust"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(headers), headers);
    for (size_t i = 0; groups[i]; i++) {
        if (!g_str_has_prefix(groups[i], CTX_PREFIX))
            continue;
        struct cli_context c;
        context_read(kf, groups[i], &c);
        table_add(t, g_strcmp0(current, c.name) == 0 ? "*" : "");
        table_add(t, c.name);
        table_add(t, c.url);
        table_add(t, c.token_file);
        table_add(t, c.cacert ? c.cacert : c.pin);
        cli_context_clear(&c);
    }
    if (!table_rows(t)) {
        printf("no contexts in %s (kanri context set NAME --url URL ...)\n", path);
        return CLI_EXIT_OK;
    }
    print_table(t);
    return CLI_EXIT_OK;
}

int cmd_context_use(const struct cli_verb *v, char **args, guint n)
{
    g_autofree char *path = cli_config_path();
    g_autoptr(GKeyFile) kf = config_read(path);
    if (!kf)
        return CLI_EXIT_USAGE;
    g_autofree char *group = g_strconcat(CTX_PREFIX, args[0], NULL);
    if (!g_key_file_has_group(kf, group)) {
        g_autofree char *clean = text_sanitize(args[0]);
        return cli_usage_error("no context '%s' in %s", clean, path);
    }
    g_key_file_set_string(kf, "kanri", "current-context", args[0]);
    int r = config_write(path, kf);
    if (r == CLI_EXIT_OK)
        printf("using context %s\n", args[0]);
    return r;
}

int cmd_context_set(const struct cli_verb *v, char **args, guint n)
{
    const char *name = args[0];
    if (!name_ok(name))
        return cli_usage_error("a context's name is 1 to 64 letters, digits, '-', '_', '.' or "
                               "'@'");
    const char *values[] = {cli_opts.url, cli_opts.token_file, cli_opts.cacert, cli_opts.pin};
    g_autofree char *path = cli_config_path();
    g_autoptr(GKeyFile) kf = config_read(path);
    if (!kf)
        return CLI_EXIT_USAGE;
    g_autofree char *group = g_strconcat(CTX_PREFIX, name, NULL);
    bool any = false;
    for (size_t i = 0; i < G_N_ELEMENTS(ctx_keys); i++) {
        if (!values[i])
            continue;
        any = true;
        if (!*values[i]) {
            g_key_file_remove_key(kf, group, ctx_keys[i], NULL);
            continue;
        }
        /* Files are kept absolute: the context is used from anywhere. */
        g_autofree char *abs = (i == 1 || i == 2) && !g_path_is_absolute(values[i])
                                   ? g_canonicalize_filename(values[i], NULL)
                                   : g_strdup(values[i]);
        g_key_file_set_string(kf, group, ctx_keys[i], abs);
    }
    if (!any && !g_key_file_has_group(kf, group))
        return cli_usage_error("give at least one of --url, --token-file, --cacert, --pin");
    if (!any)
        return CLI_EXIT_OK;
    g_autofree char *current = g_key_file_get_string(kf, "kanri", "current-context", NULL);
    if (!current)
        g_key_file_set_string(kf, "kanri", "current-context", name);
    int r = config_write(path, kf);
    if (r == CLI_EXIT_OK)
        printf("context %s saved in %s%s\n", name, path, current ? "" : " (and in use)");
    return r;
}

int cmd_context_delete(const struct cli_verb *v, char **args, guint n)
{
    g_autofree char *path = cli_config_path();
    g_autoptr(GKeyFile) kf = config_read(path);
    if (!kf)
        return CLI_EXIT_USAGE;
    g_autofree char *group = g_strconcat(CTX_PREFIX, args[0], NULL);
    if (!g_key_file_remove_group(kf, group, NULL)) {
        g_autofree char *clean = text_sanitize(args[0]);
        return cli_usage_error("no context '%s' in %s", clean, path);
    }
    g_autofree char *current = g_key_file_get_string(kf, "kanri", "current-context", NULL);
    if (g_strcmp0(current, args[0]) == 0)
        g_key_file_remove_key(kf, "kanri", "current-context", NULL);
    int r = config_write(path, kf);
    if (r == CLI_EXIT_OK)
        printf("context %s deleted\n", args[0]);
    return r;
}
