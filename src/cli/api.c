/*
 * api: the kanri tool's connection to kanrid's REST API, and the helpers
 * commands use to read its JSON and print it; see cli.h.
 */
#include "config.h"

#include "cli/cli.h"
#include "cli/yaml.h"

#include "basic/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* JSON from the server is bounded in size by the HTTP layer (and again
 * here, at the same 64 MiB) and in nesting here; kanri's replies nest a few
 * levels at most. */
#define JSON_MAX_DEPTH 64
#define JSON_MAX_BYTES (64 * 1024 * 1024)
/* An admin.token file holds one line of ~50 characters. */
#define TOKEN_FILE_MAX 4096

static struct {
    struct http_url url;
    char *url_text;
    char *token;
    char *token_file; /* where the local admin token was looked for, if it was */
    guint timeout;
    char *cacert;
    char *pin;
    const char *pin_from; /* "--pin" or "KANRI_PIN", for messages */
} api;

void cli_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "kanri: %s\n", msg);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "kanri: %s\nTry '%s --help' for more information.\n", msg, cli_command_name());
    return CLI_EXIT_USAGE;
}

/* ---- set-up ---------------------------------------------------------- */

/* The context of the configuration file in use (config.c). */
static struct cli_context ctx;

static const char *env_nonempty(const char *name)
{
    const char *v = g_getenv(name);

    return v && *v ? v : NULL;
}

/* The state directory kanrid uses for the same user (see kanrid(8)). */
static char *local_state_dir(void)
{
    const char *dir = env_nonempty("KANRI_STATE_DIR");

    if (dir)
        return g_strdup(dir);
    if (geteuid() == 0)
        return g_strdup("/var/lib/kanri");
    dir = env_nonempty("XDG_STATE_HOME");
    /* The XDG spec says to ignore relative paths in these variables. */
    if (dir && g_path_is_absolute(dir))
        return g_build_filename(dir, "kanri", NULL);
    return g_build_filename(g_get_home_dir(), ".local", "state", "kanri", NULL);
}

static char *read_token_file(const char *path)
{
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &text, &len, NULL))
        return NULL;
    if (len > TOKEN_FILE_MAX || memchr(text, '\0', len))
        return NULL;
    g_strchomp(text);
    if (!*text)
        return NULL;
    return g_steal_pointer(&text);
}

/* The option's value, else the environment's; *ret_name says which, for
 * messages. */
static const char *option_or_env(const char *opt, const char *opt_name, const char *env,
                                 const char **ret_name)
{
    *ret_name = opt ? opt_name : env;
    return opt ? opt : env_nonempty(env);
}

static int tls_setup(void)
{
    const char *cacert_from = NULL;
    const char *pin_from = NULL;
    const char *cacert = option_or_env(cli_opts.cacert, "--cacert", "KANRI_CACERT", &cacert_from);
    const char *pin = option_or_env(cli_opts.pin, "--pin", "KANRI_PIN", &pin_from);
    if (!cacert && ctx.cacert) {
        cacert = ctx.cacert;
        cacert_from = "the context's cacert";
    }
    if (!pin && ctx.pin) {
        pin = ctx.pin;
        pin_from = "the context's pin";
    }
    bool https = strcmp(api.url.scheme, "https") == 0;

    /* Both only mean something for https; silently ignoring them would
     * let an operator believe an http:// connection was authenticated. */
    if (cacert && !https)
        return cli_usage_error("%s applies only to https:// URLs, not %s", cacert_from,
                               api.url_text);
    if (pin && !https)
        return cli_usage_error("%s applies only to https:// URLs, not %s", pin_from, api.url_text);
    if (cacert) {
        /* Checked here so that a typo is a usage error naming the file,
         * not a TLS failure. */
        g_autofree char *contents = NULL;
        g_autoptr(GError) err = NULL;
        if (!g_file_get_contents(cacert, &contents, NULL, &err))
            return cli_usage_error("%s: %s", cacert_from, err->message);
        if (!strstr(contents, "-----BEGIN CERTIFICATE-----"))
            return cli_usage_error("%s: %s holds no PEM certificate", cacert_from, cacert);
        api.cacert = g_strdup(cacert);
    }
    if (pin) {
        if (!http_pin_valid(pin))
            return cli_usage_error("%s must be sha256// followed by the base64 SHA-256 of the "
                                   "server's public key (several separated by ';'); see kanri(1)",
                                   pin_from);
        api.pin = g_strdup(pin);
        api.pin_from = pin_from;
    }
    return CLI_EXIT_OK;
}

int api_setup(void)
{
    g_autoptr(GError) err = NULL;
    /* The command line first, then the environment, then the context. */
    int r = cli_context_load(&ctx);
    if (r != CLI_EXIT_OK)
        return r;
    g_autofree char *ctx_name =
        ctx.name ? g_strdup_printf("context %s", ctx.name) : g_strdup("the context");
    const char *url = cli_opts.url ? cli_opts.url : env_nonempty("KANRI_URL");
    const char *url_from = cli_opts.url ? NULL : url ? "KANRI_URL" : ctx.url ? ctx_name : NULL;
    if (!url)
        url = ctx.url;

    api.url_text = g_strdup(url ? url : CLI_DEFAULT_URL);
    if (!http_url_parse(api.url_text, &api.url, &err)) {
        if (url_from)
            return cli_usage_error("%s: %s", url_from, err->message);
        return cli_usage_error("%s", err->message);
    }

    if (cli_opts.token) {
        api.token = g_strdup(cli_opts.token);
    } else if (env_nonempty("KANRI_TOKEN")) {
        api.token = g_strdup(env_nonempty("KANRI_TOKEN"));
    } else if (ctx.token_file) {
        api.token_file = g_strdup(ctx.token_file);
        api.token = read_token_file(api.token_file);
        if (!api.token)
            return cli_usage_error("%s: cannot read its token file %s", ctx_name, ctx.token_file);
    } else {
        g_autofree char *dir = local_state_dir();
        api.token_file = g_build_filename(dir, "admin.token", NULL);
        api.token = read_token_file(api.token_file);
    }
    if (api.token) {
        /* Tolerate a token pasted with its newline (KANRI_TOKEN=$(cat file)). */
        g_strstrip(api.token);
        for (const char *c = api.token; *c; c++) {
            if (!g_ascii_isgraph(*c))
                return cli_usage_error("the token may hold only printable ASCII characters");
        }
        if (!*api.token)
            g_clear_pointer(&api.token, g_free);
    }

    if (cli_opts.timeout < 1 || cli_opts.timeout > 86400)
        return cli_usage_error("--timeout must be from 1 to 86400 seconds");
    api.timeout = (guint)cli_opts.timeout;

    return tls_setup();
}

void api_extend_timeout(guint seconds)
{
    api.timeout = MAX(api.timeout, seconds);
}

/* ---- requests -------------------------------------------------------- */

/* A reply that is JSON null has no value: refused like any other problem. */
static struct json_object *parse_json(const char *text, size_t len, GError **error)
{
    static const struct json_limits lim = {.max_bytes = JSON_MAX_BYTES,
                                           .max_depth = JSON_MAX_DEPTH};
    struct json_object *obj = NULL;

    if (json_parse_strict(text, len, &lim, &obj, error) && !obj)
        g_set_error(error, JSON_ERROR, JSON_ERROR_MALFORMED, "null where a value was expected");
    return obj;
}

/* The server's own words for what went wrong, from problem+json when it is
 * there, else from the status line. */
static void print_problem(const struct http_response *resp)
{
    struct json_object *problem = parse_json(resp->body, resp->body_len, NULL);
    const char *title = NULL;
    const char *detail = NULL;

    if (problem && json_object_is_type(problem, json_type_object)) {
        title = jstr(problem, "title");
        detail = jstr(problem, "detail");
    }
    g_autofree char *fallback = NULL;
    if (!title || !*title) {
        fallback = resp->reason && *resp->reason
                       ? g_strdup_printf("HTTP %d %s", resp->status, resp->reason)
                       : g_strdup_printf("HTTP %d", resp->status);
        title = fallback;
    }
    g_autofree char *clean_title = text_sanitize(title);
    if (detail && *detail) {
        g_autofree char *clean_detail = text_sanitize(detail);
        cli_error("%s: %s", clean_title, clean_detail);
    } else {
        cli_error("%s", clean_title);
    }
    json_object_put(problem);

    if (resp->status == 401 && !api.token) {
        if (api.token_file)
            cli_error("no token given: use --token or KANRI_TOKEN (no readable %s)",
                      api.token_file);
        else
            cli_error("no token given: use --token or KANRI_TOKEN");
    }
}

/* What failed, with the URL, and what to try where kanri can tell. */
static void print_transfer_error(const GError *err)
{
    const char *url = api.url_text;

    if (err->domain != HTTP_ERROR) {
        cli_error("%s: %s", url, err->message);
        return;
    }
    switch (err->code) {
    case HTTP_ERROR_CONNECT:
        cli_error("cannot connect to %s: %s; is kanrid running, and is the URL right?", url,
                  err->message);
        break;
    case HTTP_ERROR_CERT:
        if (api.cacert)
            cli_error("cannot connect securely to %s: %s; is %s the CA (or the "
                      "self-signed certificate) that issued the server's certificate, and "
                      "does the certificate name the host in the URL?",
                      url, err->message, api.cacert);
        else
            cli_error("cannot connect securely to %s: %s; give the CA certificate with "
                      "--cacert FILE, or pin the server's key with --pin sha256//...",
                      url, err->message);
        break;
    case HTTP_ERROR_PIN:
        cli_error("cannot connect securely to %s: %s; the server is not the one %s names, "
                  "or its key has changed",
                  url, err->message, api.pin_from);
        break;
    case HTTP_ERROR_TLS:
        cli_error("cannot connect securely to %s: %s; does the server speak https on "
                  "this port?",
                  url, err->message);
        break;
    case HTTP_ERROR_TIMEOUT:
    case HTTP_ERROR_IO:
    case HTTP_ERROR_TRUNCATED:
        cli_error("cannot reach %s: %s", url, err->message);
        break;
    default:
        cli_error("%s: %s", url, err->message);
        break;
    }
}

/* One request to /api/v1<PATH> with the configured URL, token, timeout
 * and TLS settings. */
static struct http_response *perform(const char *method, const char *path, const char *body,
                                     GError **error)
{
    g_autofree char *full_path = g_strconcat("/api/v1", path, NULL);
    struct http_request req = {
        .method = method,
        .path = full_path,
        .token = api.token,
        .content_type = body ? "application/json" : NULL,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    struct http_options opts = {
        .timeout_s = api.timeout,
        .max_body = HTTP_DEFAULT_MAX_BODY,
        .cacert = api.cacert,
        .pin = api.pin,
    };
    return http_perform(&api.url, &req, &opts, error);
}

int api_probe(const char *path, int *ret_status, char **ret_detail)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(http_response) resp = perform("GET", path, NULL, &err);
    if (!resp) {
        *ret_status = 0;
        *ret_detail = g_strdup(err->message);
        return cli_exit_code_for_error(err);
    }
    *ret_status = resp->status;
    g_autoptr(GError) perr = NULL;
    g_autoptr(json_object) obj =
        resp->body_len ? parse_json(resp->body, resp->body_len, &perr) : NULL;
    const char *detail = obj ? jstr(obj, "detail") : NULL;
    *ret_detail = g_strdup(detail ? detail : resp->reason);
    return CLI_EXIT_OK;
}

/* METHOD PATH with BODY (JSON text or NULL): the reply when its status is
 * 2xx; else NULL with the error printed and *ret_code its exit code. */
static struct http_response *request_ok(const char *method, const char *path, const char *body,
                                        int *ret_code)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(http_response) resp = perform(method, path, body, &err);
    if (!resp) {
        print_transfer_error(err);
        *ret_code = cli_exit_code_for_error(err);
        return NULL;
    }
    *ret_code = cli_exit_code_for_status(resp->status);
    if (*ret_code != CLI_EXIT_OK) {
        print_problem(resp);
        return NULL;
    }
    return g_steal_pointer(&resp);
}

int api_request(const char *method, const char *path, struct json_object *body,
                struct json_object **ret)
{
    g_autoptr(GError) err = NULL;
    const char *text = NULL;

    if (ret)
        *ret = NULL;
    if (body)
        text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
    int code;
    g_autoptr(http_response) resp = request_ok(method, path, text, &code);
    if (!resp)
        return code;
    if (resp->body_len == 0)
        return CLI_EXIT_OK;

    struct json_object *obj = parse_json(resp->body, resp->body_len, &err);
    if (!obj) {
        cli_error("%s sent a reply that is not valid JSON: %s", api.url_text, err->message);
        return CLI_EXIT_SERVER;
    }
    if (ret)
        *ret = obj;
    else
        json_object_put(obj);
    return CLI_EXIT_OK;
}

int api_get_text(const char *path)
{
    int code;
    g_autoptr(http_response) resp = request_ok("GET", path, NULL, &code);
    if (resp)
        fwrite(resp->body, 1, resp->body_len, stdout);
    return code;
}

void print_json(struct json_object *obj)
{
    if (!obj)
        return;
    if (cli_opts.yaml) {
        g_autofree char *text = yaml_from_json(obj);
        fputs(text, stdout);
        return;
    }
    puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ---- JSON accessors --------------------------------------------------- */

static struct json_object *jget(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;

    if (!obj || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

const char *jstr(struct json_object *obj, const char *key)
{
    struct json_object *v = jget(obj, key);

    if (!v)
        return NULL;
    /* Numbers and booleans print as their JSON text, which is what a
     * table wants if the server sends an id as a number or vice versa. */
    switch (json_object_get_type(v)) {
    case json_type_string:
    case json_type_int:
    case json_type_double:
    case json_type_boolean:
        return json_object_get_string(v);
    default:
        return NULL;
    }
}

bool jint(struct json_object *obj, const char *key, gint64 *ret)
{
    struct json_object *v = jget(obj, key);

    if (!v || !json_object_is_type(v, json_type_int))
        return false;
    *ret = json_object_get_int64(v);
    return true;
}

bool jbool(struct json_object *obj, const char *key, bool *ret)
{
    struct json_object *v = jget(obj, key);

    if (!v || !json_object_is_type(v, json_type_boolean))
        return false;
    *ret = json_object_get_boolean(v);
    return true;
}

struct json_object *jarray(struct json_object *obj, const char *key)
{
    struct json_object *v = jget(obj, key);

    return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

struct json_object *jobject(struct json_object *obj, const char *key)
{
    struct json_object *v = jget(obj, key);

    return v && json_object_is_type(v, json_type_object) ? v : NULL;
}

void cell_int(struct table *t, struct json_object *obj, const char *key)
{
    gint64 v;

    if (jint(obj, key, &v))
        table_addf(t, "%" G_GINT64_FORMAT, v);
    else
        table_add(t, jstr(obj, key));
}

void cell_size(struct table *t, struct json_object *obj, const char *key)
{
    gint64 v;

    if (jint(obj, key, &v) && v >= 0) {
        g_autofree char *s = size_format((guint64)v);
        table_add(t, s);
    } else {
        table_add(t, NULL);
    }
}

void cell_bool(struct table *t, struct json_object *obj, const char *key)
{
    bool v;

    table_add(t, jbool(obj, key, &v) ? (v ? "yes" : "no") : NULL);
}

/* ---- key/value output ------------------------------------------------- */

struct kv {
    GPtrArray *labels;
    GPtrArray *values;
};

struct kv *kv_new(void)
{
    struct kv *kv = g_new0(struct kv, 1);

    kv->labels = g_ptr_array_new_with_free_func(g_free);
    kv->values = g_ptr_array_new_with_free_func(g_free);
    return kv;
}

void kv_add(struct kv *kv, const char *label, const char *value)
{
    g_ptr_array_add(kv->labels, g_strconcat(label, ":", NULL));
    g_ptr_array_add(kv->values, text_sanitize(value));
}

void kv_addf(struct kv *kv, const char *label, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    kv_add(kv, label, s);
}

void kv_print_free(struct kv *kv)
{
    size_t width = 0;

    for (guint i = 0; i < kv->labels->len; i++)
        width = MAX(width, text_width(g_ptr_array_index(kv->labels, i)));
    for (guint i = 0; i < kv->labels->len; i++) {
        const char *label = g_ptr_array_index(kv->labels, i);
        printf("%-*s %s\n", (int)width + 1, label, (const char *)g_ptr_array_index(kv->values, i));
    }
    g_ptr_array_unref(kv->labels);
    g_ptr_array_unref(kv->values);
    g_free(kv);
}
