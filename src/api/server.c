/*
 * HTTP front end: request accumulation, authentication, routing, problem
 * responses.  Handlers live in routes.c.
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/json.h"
#include "basic/util.h"
#include "model/inventory.h"
#include "web/assets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <zlib.h>

static GQuark api_error_quark(void)
{
    return g_quark_from_static_string("kanri-api-error-quark");
}

/*
 * Connections are served by a few polling threads (epoll): an idle, slow or
 * half-sent connection costs a socket and a small buffer, never a thread.
 * Handlers run on two bounded pools with the connection suspended: quick
 * ones (store reads) and slow ones (anything that waits on a hypervisor),
 * so a hung host never holds up the rest.
 */
#define POLL_THREADS  2
#define QUICK_WORKERS 8
#define SLOW_WORKERS  64
/* A live stream's socket send buffer (the kernel doubles it). */
#define STREAM_SNDBUF (32 * 1024)

/* Deadlines a trickle cannot extend (libmicrohttpd's own timeout restarts
 * with every byte): the request line and headers within the header deadline
 * of the connection's start or its previous request's end, the body within
 * the body deadline of the headers, and the reply read by the client within
 * the body deadline of its handler's end.  A connection past its deadline
 * is shut down; one whose handler runs never is.  A live stream's reply
 * does not end: it must make progress instead, each handover of bytes
 * restarting the body deadline (PHASE_STREAM), and has none while it waits
 * for news (PHASE_STREAM_IDLE, suspended; its keep-alives resume it). */
enum conn_phase {
    PHASE_HEADERS,
    PHASE_BODY,
    PHASE_HANDLING,
    PHASE_REPLY,
    PHASE_STREAM,
    PHASE_STREAM_IDLE
};

struct conn_state {
    int fd;
    enum conn_phase phase;
    int64_t since_us; /* monotonic */
};

struct api {
    struct MHD_Daemon *mhd;
    struct store *store;
    struct engine *engine;
    int port;
    GThreadPool *quick, *slow;
    GMutex conns_lock;
    GHashTable *conns; /* of struct conn_state *, owned */
    GThread *sweeper;
    GMutex stop_lock;
    GCond stop_cond;
    bool stopping;
    int header_deadline_s, body_deadline_s;
    char *tls_pin, *tls_cert_path; /* NULL without TLS */
    /* Set by api_stop() before the worker pools go: a request that would
     * be handed to a worker after that is answered 503 at once. */
    GMutex push_lock;
    bool closing;
    struct api_streams *streams; /* GET /api/v1/events/stream */
};

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct api *a = cls;
    g_mutex_lock(&a->conns_lock);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn_state *c = g_new0(struct conn_state, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? ci->connect_fd : -1;
        c->phase = PHASE_HEADERS;
        c->since_us = mono_usec();
        g_hash_table_add(a->conns, c);
        *socket_context = c;
    } else if (*socket_context) {
        /* Called before libmicrohttpd closes the socket: the sweeper never
         * touches an fd that may have been reused. */
        g_hash_table_remove(a->conns, *socket_context);
        *socket_context = NULL;
    }
    g_mutex_unlock(&a->conns_lock);
}

static void set_phase(struct api *a, struct MHD_Connection *conn, enum conn_phase phase)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (!ci || !ci->socket_context)
        return;
    g_mutex_lock(&a->conns_lock);
    struct conn_state *c = ci->socket_context;
    c->phase = phase;
    c->since_us = mono_usec();
    g_mutex_unlock(&a->conns_lock);
}

/* Seconds a connection may stay in PHASE; 0: no limit. */
static int64_t phase_limit_s(const struct api *a, enum conn_phase phase)
{
    switch (phase) {
    case PHASE_HEADERS:
        return a->header_deadline_s;
    case PHASE_HANDLING:
    case PHASE_STREAM_IDLE:
        return 0;
    case PHASE_BODY:
    case PHASE_REPLY:
    case PHASE_STREAM:
        break;
    }
    return a->body_deadline_s;
}

static gpointer sweeper_run(gpointer data)
{
    struct api *a = data;
    g_mutex_lock(&a->stop_lock);
    while (!a->stopping) {
        int64_t until = g_get_monotonic_time() + G_USEC_PER_SEC;
        if (g_cond_wait_until(&a->stop_cond, &a->stop_lock, until))
            continue;
        g_mutex_unlock(&a->stop_lock);
        int64_t now = mono_usec();
        g_mutex_lock(&a->conns_lock);
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, a->conns);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
            struct conn_state *c = key;
            int64_t limit = phase_limit_s(a, c->phase);
            if (limit && c->fd >= 0 && now - c->since_us > limit * USEC_PER_SEC) {
                /* Reset, not a graceful end: a reply the kernel still
                 * buffers for a client reading it a trickle at a time is
                 * dropped when libmicrohttpd closes the socket. */
                struct linger lg = {.l_onoff = 1, .l_linger = 0};
                setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                shutdown(c->fd, SHUT_RDWR);
                c->fd = -1; /* once */
            }
        }
        g_mutex_unlock(&a->conns_lock);
        api_streams_tick(a->streams);
        g_mutex_lock(&a->stop_lock);
    }
    g_mutex_unlock(&a->stop_lock);
    return NULL;
}

int64_t api_started_us;

unsigned api_status_for_driver_error(int code)
{
    switch (code) {
    case DRIVER_ERR_INVALID:
        return 400;
    case DRIVER_ERR_NOT_FOUND:
        return 404;
    case DRIVER_ERR_STATE:
        return 409;
    case DRIVER_ERR_UNSUPPORTED:
        return 501;
    case DRIVER_ERR_HYPERVISOR:
        return 502;
    case DRIVER_ERR_UNAVAILABLE:
        return 503;
    case DRIVER_ERR_TIMEOUT:
        return 504;
    default:
        return 500;
    }
}

int api_role_rank(const char *role)
{
    static const char *const roles[] = {"guest", "viewer", "operator", "admin"};
    for (size_t i = 0; role && i < G_N_ELEMENTS(roles); i++) {
        if (g_str_equal(role, roles[i]))
            return (int)i;
    }
    return -1;
}

char *api_field_of_message(const char *msg)
{
    const char *p = msg;
    while (*p && (g_ascii_isalnum(*p) || *p == '_' || *p == '.'))
        p++;
    if (p == msg || p[0] != ':' || p[1] != ' ')
        return NULL;
    return g_strndup(msg, (gsize)(p - msg));
}

json_object *api_parse_body(const char *data, size_t len, char **ret_detail)
{
    static const struct json_limits lim = {.max_bytes = API_MAX_BODY, .max_depth = API_JSON_DEPTH};
    if (len == 0)
        return json_object_new_object();
    g_autoptr(GError) err = NULL;
    json_object *o = NULL;
    if (!json_parse_strict(data, len, &lim, &o, &err)) {
        /* Clients see these three without a byte offset, as they always
         * have; the other details name the byte. */
        if (g_error_matches(err, JSON_ERROR, JSON_ERROR_ENCODING))
            *ret_detail = g_strdup("body: not valid UTF-8");
        else if (g_error_matches(err, JSON_ERROR, JSON_ERROR_TRUNCATED))
            *ret_detail = g_strdup("body: truncated JSON");
        else if (g_error_matches(err, JSON_ERROR, JSON_ERROR_TOO_DEEP))
            *ret_detail =
                g_strdup_printf("body: JSON nested deeper than %d levels", API_JSON_DEPTH);
        else
            *ret_detail = g_strdup_printf("body: %s", err->message);
        return NULL;
    }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o); /* NULL when the body was JSON null */
        *ret_detail = g_strdup("body: expected a JSON object");
        return NULL;
    }
    return o;
}

static const char *status_title(unsigned status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

void req_problem(struct req *r, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *raw = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* Details quote what others said (libvirt, a guest): JSON is UTF-8. */
    g_autofree char *detail = g_utf8_make_valid(raw, -1);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("about:blank"));
    json_object_object_add(o, "title", json_object_new_string(status_title(status)));
    json_object_object_add(o, "status", json_object_new_int((int)status));
    json_object_object_add(o, "detail", json_object_new_string(detail));
    g_autofree char *field = status == 400 ? api_field_of_message(detail) : NULL;
    if (field)
        json_object_object_add(o, "field", json_object_new_string(field));
    json_object_put(r->resp);
    r->resp = o;
    r->status = status;
    r->problem = true;
}

void req_json(struct req *r, unsigned status, json_object *o)
{
    json_object_put(r->resp);
    r->resp = o;
    r->status = status;
    r->problem = false;
}

void req_from_error(struct req *r, const GError *err)
{
    unsigned status = 500;
    if (err->domain == DRIVER_ERROR)
        status = api_status_for_driver_error(err->code);
    else if (err->domain == STORE_ERROR && err->code == STORE_ERROR_NOT_FOUND)
        status = 404;
    req_problem(r, status, "%s", err->message);
}

const char *req_arg(struct req *r, const char *key)
{
    return g_hash_table_lookup(r->args, key);
}

/*
 * libmicrohttpd would percent-decode the path and the query in place, and a
 * %00 there ends the C string early ("…/destroy%00.txt" became ".../destroy").
 * It is told to leave them as sent; they are decoded here, where a NUL, a
 * malformed escape or a query key given twice can be refused.
 */
static size_t keep_escaped(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct req *r = cls;
    g_autofree char *k = g_uri_unescape_string(key, NULL);
    /* "?a" (no '=') has no value: req_arg() answers NULL, as for no "a". */
    g_autofree char *v = value ? g_uri_unescape_string(value, NULL) : NULL;
    if (!k || (value && !v) || !*k) {
        g_autofree char *shown = g_strescape(key, NULL);
        r->bad_url = g_strdup_printf("query: parameter '%s': malformed percent-encoding, a "
                                     "NUL (%%00), or an empty name",
                                     shown);
        return MHD_NO;
    }
    if (g_hash_table_contains(r->args, k)) {
        r->bad_url = g_strdup_printf("query: parameter '%s' is given twice", k);
        return MHD_NO;
    }
    g_hash_table_insert(r->args, g_steal_pointer(&k), g_steal_pointer(&v));
    return MHD_YES;
}

static void decode_url(struct req *r, const char *url)
{
    r->args = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    /* An escaped '/' would become a separator of the decoded path:
     * ".../vms/x%2Factions%2Freboot" must not route as an action. */
    r->path = g_uri_unescape_string(url, "/");
    if (!r->path) {
        r->path = g_strescape(url, NULL);
        r->bad_url =
            g_strdup("path: malformed percent-encoding, a NUL (%00) or an escaped '/' (%2F)");
        return;
    }
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, r);
}

static void authenticate(struct req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (!h || g_ascii_strncasecmp(h, "Bearer ", 7) != 0 || !h[7])
        return;
    const char *tok = h + 7;
    if (strlen(tok) > 256)
        return;
    g_autofree char *hash = sha256_hex(tok);
    g_autoptr(GError) err = NULL;
    if (r->api->store->ops->token_lookup(r->api->store, hash, &r->token, &err) == 0) {
        r->authed = true;
        r->token_hash = g_steal_pointer(&hash);
    } else if (!g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND))
        g_warning("token lookup: %s", err->message);
}

/* Whether the client takes gzip (Accept-Encoding: gzip, not with q=0). */
static bool accepts_gzip(struct req *r)
{
    const char *ae = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept-Encoding");
    if (!ae)
        return false;
    g_auto(GStrv) parts = g_strsplit(ae, ",", 0);
    for (char **p = parts; *p; p++) {
        g_strstrip(*p);
        if (g_ascii_strncasecmp(*p, "gzip", 4) != 0 || ((*p)[4] && (*p)[4] != ';'))
            continue;
        const char *q = strstr(*p, "q=");
        return !q || g_ascii_strtod(q + 2, NULL) > 0;
    }
    return false;
}

/* gzip of LEN bytes at DATA (g_malloc'd, *ret_len), or NULL. */
static char *gzip_bytes(const char *data, size_t len, size_t *ret_len)
{
    z_stream z = {0};
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)len);
    char *out = g_malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *ret_len = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        g_free(out);
        return NULL;
    }
    return out;
}

/* Conditional and compressed replies for a successful GET: a weak ETag of
 * the body (If-None-Match answers 304 without it) and gzip when asked. */
#define GZIP_MIN 1024

/* The reply's final bytes in r->raw_owned (or r->raw): the JSON text,
 * the ETag and a 304 for a matching If-None-Match, gzip when asked.  Runs
 * on the worker that ran the handler; on a poll thread only for the small
 * replies made there (refusals). */
static void finish_body(struct req *r)
{
    if (r->finished || r->stream)
        return;
    r->finished = true;
    if (r->asset) {
        /* Built-in files carry their strong ETag and gzip copy. */
        const struct web_asset *a = r->asset;
        r->etag = g_strdup(a->etag);
        r->raw_type = a->type;
        const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
        g_autofree char *inm_trim = inm ? g_strstrip(g_strdup(inm)) : NULL;
        if (inm_trim && (strstr(inm_trim, a->etag) || g_str_equal(inm_trim, "*"))) {
            r->status = 304;
            r->raw = "";
            r->raw_len = 0;
        } else if (a->gz && accepts_gzip(r)) {
            r->raw = (const char *)a->gz;
            r->raw_len = a->gz_size;
            r->gzipped = true;
        } else {
            r->raw = (const char *)a->data;
            r->raw_len = a->size;
        }
        return;
    }
    if (!r->raw_owned && !r->raw) {
        r->raw_type = r->problem ? "application/problem+json" : "application/json";
        if (r->resp) {
            const char *text = json_object_to_json_string_ext(
                r->resp, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
            r->raw_len = strlen(text);
            r->raw_owned = g_malloc(r->raw_len + 1);
            memcpy(r->raw_owned, text, r->raw_len);
            r->raw_owned[r->raw_len++] = '\n';
            json_object_put(g_steal_pointer(&r->resp));
        } else {
            r->raw = "";
            r->raw_len = 0;
        }
    }
    const char *body = r->raw_owned ? r->raw_owned : r->raw;
    if (r->status == 200 && g_str_equal(r->method, "GET")) {
        g_autofree char *sum =
            g_compute_checksum_for_data(G_CHECKSUM_MD5, (const guchar *)body, r->raw_len);
        r->etag = g_strdup_printf("W/\"%s\"", sum);
        const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
        g_autofree char *inm_trim = inm ? g_strstrip(g_strdup(inm)) : NULL;
        if (inm_trim && (strstr(inm_trim, r->etag) || g_str_equal(inm_trim, "*"))) {
            r->status = 304;
            g_clear_pointer(&r->raw_owned, g_free);
            r->raw = "";
            r->raw_len = 0;
            return;
        }
    }
    if (r->status == 200 && r->raw_len >= GZIP_MIN && accepts_gzip(r)) {
        size_t gz_len = 0;
        char *gz = gzip_bytes(body, r->raw_len, &gz_len);
        if (gz) {
            g_free(r->raw_owned);
            r->raw_owned = gz;
            r->raw_len = gz_len;
            r->gzipped = true;
        }
    }
}

/* A live stream's reply: headers now, then frames as they come. */
static enum MHD_Result send_stream(struct MHD_Connection *conn, struct req *r)
{
    struct MHD_Response *resp = api_stream_response(g_steal_pointer(&r->stream));
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* A reverse proxy (nginx) would otherwise hold frames back. */
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    /* The kernel's send buffer would grow to tcp_wmem's maximum (4 MiB)
     * for a client that stops reading, per stream: a fixed one keeps
     * that small, and such a client falls behind in the ring instead
     * (reset), or is cut when it takes nothing for body_timeout. */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int sndbuf = STREAM_SNDBUF;
    if (ci)
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    set_phase(r->api, conn, PHASE_STREAM);
    enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct req *r)
{
    if (r->stream)
        return send_stream(conn, r);
    finish_body(r);
    struct MHD_Response *resp;
    if (r->raw_owned)
        resp = MHD_create_response_from_buffer_with_free_callback(
            r->raw_len, g_steal_pointer(&r->raw_owned), g_free);
    else
        resp = MHD_create_response_from_buffer(r->raw_len, (void *)r->raw,
                                               MHD_RESPMEM_PERSISTENT);
    if (r->status != 304)
        MHD_add_response_header(resp, "Content-Type", r->raw_type);
    if (r->gzipped)
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->asset) {
        /* The dashboard's files: anyone may fetch them (the data behind
         * them needs a token), asked again each time (cheap with
         * If-None-Match), and never run inside another site's frame or
         * with anything but kanrid's own scripts and styles. */
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "ETag", r->etag);
        MHD_add_response_header(resp, "Vary", "Accept-Encoding");
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    } else if (r->etag) {
        /* Tokens guard it: private, and asked again each time (cheap with
         * If-None-Match). */
        MHD_add_response_header(resp, "Cache-Control", "private, no-cache");
        MHD_add_response_header(resp, "ETag", r->etag);
        MHD_add_response_header(resp, "Vary", "Accept-Encoding, Authorization");
    } else {
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    }
    if (r->status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"kanri\"");
    if (r->allow)
        MHD_add_response_header(resp, "Allow", r->allow);
    if (r->retry_after)
        MHD_add_response_header(resp, "Retry-After", r->retry_after);
    enum MHD_Result ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static const struct route *find_route(struct req *r)
{
    const struct route *route = NULL;
    bool path_matched = false;
    g_autoptr(GString) allow = g_string_new(NULL);

    static const struct route *const tables[] = {
        api_routes,           api_ingest_routes,   api_ops_routes,    api_web_routes,
        api_stream_routes,    api_policy_routes,   api_ha_routes,     api_machine_routes,
        api_container_routes, api_template_routes, api_change_routes, api_report_routes};
    for (size_t t = 0; t < G_N_ELEMENTS(tables) && !route; t++) {
        for (const struct route *rt = tables[t]; rt->pattern; rt++) {
            if (!route_match(rt->pattern, r->path, r->params, &r->nparams))
                continue;
            path_matched = true;
            g_string_append_printf(allow, "%s%s", allow->len ? ", " : "", rt->method);
            if (g_str_equal(rt->method, r->method)) {
                route = rt;
                break;
            }
        }
    }
    if (!route) {
        if (path_matched) {
            r->allow = g_strdup(allow->str);
            req_problem(r, 405, "%s is not allowed on %s (allowed: %s)", r->method, r->path,
                        allow->str);
        } else {
            req_problem(r, 404, "no such endpoint: %s (see /api/v1/openapi.json)", r->path);
        }
    }
    return route;
}

static const char *header(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* The request line and headers, checked before any of the body is read. */
static bool headers_ok(struct req *r)
{
    if (r->bad_url) {
        req_problem(r, 400, "%s", r->bad_url);
        return false;
    }
    if (g_str_equal(r->version, MHD_HTTP_VERSION_1_1) && !header(r, "Host")) {
        req_problem(r, 400, "headers: HTTP/1.1 needs a Host header");
        return false;
    }
    const char *te = header(r, "Transfer-Encoding");
    const char *cl = header(r, "Content-Length");
    if (te && g_ascii_strcasecmp(te, "chunked") != 0) {
        req_problem(r, 400, "headers: Transfer-Encoding '%s' is not taken (only chunked)", te);
        return false;
    }
    if (te && cl) {
        req_problem(r, 400, "headers: Content-Length and Transfer-Encoding together");
        return false;
    }
    uint64_t n = 0;
    if (cl && !parse_u64(cl, &n)) {
        req_problem(r, 400, "headers: Content-Length '%s' is not a number", cl);
        return false;
    }
    if (n > API_MAX_BODY) {
        req_problem(r, 413, "body: larger than the limit of %d bytes", API_MAX_BODY);
        return false;
    }
    if (te || n > 0) {
        /* A body is coming: it is JSON, whatever the route. */
        const char *ct = header(r, "Content-Type");
        size_t l = strlen("application/json");
        if (!ct || g_ascii_strncasecmp(ct, "application/json", l) != 0 ||
            (ct[l] && ct[l] != ';' && ct[l] != ' ')) {
            req_problem(r, 415, "headers: Content-Type must be application/json (got %s)",
                        ct ? ct : "none");
            return false;
        }
    }
    return true;
}

/* Everything decided before the body: headers, route, token, role.  A
 * request refused here is answered at once, without reading its body. */
static bool admit(struct req *r)
{
    if (!headers_ok(r))
        return false;
    const struct route *route = find_route(r);
    if (!route)
        return false;
    if (route->min_role >= 0) {
        authenticate(r);
        if (!r->authed) {
            req_problem(r, 401,
                        "missing or invalid token: send 'Authorization: Bearer TOKEN' "
                        "(the admin token is in the state directory's admin.token)");
            return false;
        }
        int rank = api_role_rank(r->token.role);
        if (rank < route->min_role || (rank == 0 && route->min_role != 0)) {
            req_problem(r, 403, "token '%s' has role '%s'; this needs %s", r->token.name,
                        r->token.role, api_role_names[route->min_role]);
            return false;
        }
    }
    r->route = route;
    return true;
}

static bool known_fields(struct req *r, const char *const *fields)
{
    json_object_object_foreach(r->body_json, key, val)
    {
        (void)val;
        if (!g_strv_contains(fields, key)) {
            g_autofree char *known = g_strjoinv(", ", (char **)fields);
            req_problem(r, 400, "%s: unknown field (this takes: %s)", key, known);
            return false;
        }
    }
    return true;
}

static void dispatch(struct req *r)
{
    const struct route *route = r->route;
    if (route->wants_body) {
        g_autofree char *detail = NULL;
        r->body_json =
            api_parse_body(r->body ? r->body->str : "", r->body ? r->body->len : 0, &detail);
        if (!r->body_json) {
            req_problem(r, 400, "%s", detail);
            return;
        }
        if (route->fields && !known_fields(r, route->fields))
            return;
    }
    route->handler(r);
}

static void req_free(struct req *r)
{
    if (!r)
        return;
    if (r->body)
        g_string_free(r->body, TRUE);
    json_object_put(r->body_json);
    json_object_put(r->resp);
    for (int i = 0; i < r->nparams; i++)
        g_free(r->params[i]);
    store_token_clear(&r->token);
    g_free(r->token_hash);
    api_stream_free(r->stream); /* a stream whose reply was never queued */
    g_free(r->path);
    if (r->args)
        g_hash_table_unref(r->args);
    g_free(r->bad_url);
    g_free(r->allow);
    g_free(r->raw_owned);
    g_free(r->etag);
    g_free(r->retry_after);
    g_free(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    /* Kept alive: the next request's headers are due from now. */
    set_phase(cls, conn, PHASE_HEADERS);
    req_free(*con_cls);
    *con_cls = NULL;
}

/* libmicrohttpd's own messages (a client that went away, a malformed
 * request line) cost a client nothing to cause: debug level, prefixed, never
 * a line per connection at the default level. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    g_strchomp(msg);
    g_debug("http: %s", msg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct api *a = cls;
    struct req *r = *con_cls;

    if (!r) {
        r = g_new0(struct req, 1);
        r->api = a;
        r->conn = conn;
        r->method = method;
        r->version = version;
        r->status = 200;
        *con_cls = r;
        set_phase(a, conn, PHASE_BODY);
        decode_url(r, url);
        /* Refused before a byte of the body is read: MHD answers and
         * closes the connection instead of reading what was announced. */
        if (!admit(r))
            return send_reply(conn, r);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->body)
            r->body = g_string_new(NULL);
        /* Only a chunked body can get here past the limit: drop the
         * connection rather than read on. */
        if (r->body->len + *upload_data_size > API_MAX_BODY)
            return MHD_NO;
        g_string_append_len(r->body, upload_data, (gssize)*upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->handled)
        return send_reply(conn, r);
    /* The handler runs on a worker; MHD polls this connection again once
     * the worker resumes it, and the reply goes out above. */
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&a->push_lock);
    if (a->closing) {
        req_problem(r, 503, "kanrid is shutting down");
        return send_reply(conn, r);
    }
    set_phase(a, conn, PHASE_HANDLING);
    MHD_suspend_connection(conn);
    g_thread_pool_push(r->route->slow ? a->slow : a->quick, r, NULL);
    return MHD_YES;
}

static void worker_run(gpointer data, gpointer user)
{
    struct req *r = data;
    dispatch(r);
    finish_body(r);
    r->handled = true;
    set_phase(user, r->conn, PHASE_REPLY);
    MHD_resume_connection(r->conn);
}

/* Frees what api_start() made, MHD and the sweeper excepted. */
static void api_free(struct api *a)
{
    if (a->quick)
        g_thread_pool_free(a->quick, FALSE, TRUE);
    if (a->slow)
        g_thread_pool_free(a->slow, FALSE, TRUE);
    api_streams_free(a->streams);
    g_hash_table_unref(a->conns);
    g_mutex_clear(&a->conns_lock);
    g_mutex_clear(&a->stop_lock);
    g_mutex_clear(&a->push_lock);
    g_cond_clear(&a->stop_cond);
    g_free(a->tls_pin);
    g_free(a->tls_cert_path);
    g_free(a);
}

struct api *api_start(const struct api_options *opts, GError **error)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    g_autofree char *port = g_strdup_printf("%d", opts->listen_port);
    int rc = getaddrinfo(opts->listen_host, port, &hints, &ai);
    if (rc != 0) {
        g_set_error(error, api_error_quark(), 0,
                    "listen address '%s' is not a numeric IP address: %s", opts->listen_host,
                    gai_strerror(rc));
        return NULL;
    }
    struct api *a = g_new0(struct api, 1);
    api_started_us = g_get_real_time();
    a->store = opts->store;
    a->engine = opts->engine;
    a->tls_pin = g_strdup(opts->tls_pin);
    a->tls_cert_path = g_strdup(opts->tls_cert_path);
    g_mutex_init(&a->conns_lock);
    a->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, g_free, NULL);
    g_mutex_init(&a->stop_lock);
    g_mutex_init(&a->push_lock);
    g_cond_init(&a->stop_cond);
    a->header_deadline_s =
        opts->header_deadline_s ? opts->header_deadline_s : API_DEFAULT_HEADER_TIMEOUT_S;
    a->body_deadline_s = opts->body_deadline_s ? opts->body_deadline_s : API_DEFAULT_BODY_TIMEOUT_S;
    /* Streams hold connections, not threads; they stay well inside the
     * connection limit so that ordinary requests always find room. */
    int max_streams = opts->max_streams ? opts->max_streams : API_DEFAULT_MAX_STREAMS;
    a->streams = api_streams_new(a, a->engine, a->store, max_streams);
    a->quick = g_thread_pool_new(worker_run, a, QUICK_WORKERS, FALSE, NULL);
    a->slow = g_thread_pool_new(worker_run, a, SLOW_WORKERS, FALSE, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    bool tls = opts->tls_cert_pem && opts->tls_key_pem;
    if (tls)
        flags |= MHD_USE_TLS;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned max_conn =
        opts->max_connections ? (unsigned)opts->max_connections : API_DEFAULT_MAX_CONNECTIONS;
    unsigned per_addr = opts->max_connections_per_address
                            ? (unsigned)opts->max_connections_per_address
                            : API_DEFAULT_MAX_PER_ADDRESS;
    /* The key and certificate only with TLS. */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)opts->tls_key_pem},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)opts->tls_cert_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    a->mhd = MHD_start_daemon(
        flags, (uint16_t)opts->listen_port, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR,
        ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, a, MHD_OPTION_UNESCAPE_CALLBACK,
        keep_escaped, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, a, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POLL_THREADS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, max_conn,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_addr, MHD_OPTION_ARRAY,
        tls ? tls_opts : tls_opts + 2, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!a->mhd) {
        g_set_error(error, api_error_quark(), 0,
                    "cannot listen on %s:%d (address in use, or not permitted)", opts->listen_host,
                    opts->listen_port);
        api_free(a);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info ? info->port : opts->listen_port;
    a->sweeper = g_thread_new("api-deadlines", sweeper_run, a);
    return a;
}

int api_port(const struct api *a)
{
    return a->port;
}

void api_stop(struct api *a)
{
    if (!a)
        return;
    g_mutex_lock(&a->stop_lock);
    a->stopping = true;
    g_cond_signal(&a->stop_cond);
    g_mutex_unlock(&a->stop_lock);
    g_thread_join(a->sweeper);
    /* No request reaches a worker from now on; the handlers already given
     * finish and resume their connections (MHD cannot stop with one
     * suspended), then MHD stops while every pool still exists. */
    g_mutex_lock(&a->push_lock);
    a->closing = true;
    g_mutex_unlock(&a->push_lock);
    /* Live streams end now, and none waits suspended when MHD stops. */
    api_streams_close(a->streams);
    g_thread_pool_free(a->quick, FALSE, TRUE);
    g_thread_pool_free(a->slow, FALSE, TRUE);
    a->quick = a->slow = NULL;
    MHD_stop_daemon(a->mhd);
    api_free(a);
}

struct store *req_store(struct req *r)
{
    return r->api->store;
}

struct api_streams *req_streams(struct req *r)
{
    return r->api->streams;
}

void api_stream_phase(struct api *a, struct MHD_Connection *conn, bool sending)
{
    set_phase(a, conn, sending ? PHASE_STREAM : PHASE_STREAM_IDLE);
}

struct engine *req_engine(struct req *r)
{
    return r->api->engine;
}

const char *req_tls_pin(struct req *r)
{
    return r->api->tls_pin;
}

const char *req_tls_cert_path(struct req *r)
{
    return r->api->tls_cert_path;
}

/* ---- lists: pages and fields ---- */

#define PAGE_MAX 1000

static char *field_text(const struct row_desc *d, const void *row, const char *name)
{
    const struct row_field *f = row_field_find(d, name);
    if (!f)
        return NULL;
    const char *p = (const char *)row + f->offset;
    if (f->type == ROW_STR)
        return g_strdup(*(char *const *)p ? *(char *const *)p : "");
    if (f->type == ROW_INT)
        return g_strdup_printf("%" G_GINT64_FORMAT, *(const int64_t *)p);
    return NULL;
}

/* The key a cursor resumes after: what names a row in its list (a UUID or
 * id, else host and name). */
static char *row_key(const struct row_desc *d, const void *row)
{
    static const char *const unique[] = {"uuid", "machine_uuid", "id"};
    for (size_t i = 0; i < G_N_ELEMENTS(unique); i++) {
        char *k = field_text(d, row, unique[i]);
        if (k)
            return k;
    }
    g_autofree char *host = field_text(d, row, "host");
    g_autofree char *name = field_text(d, row, "name");
    return g_strdup_printf("%s/%s", host ? host : "", name ? name : "");
}

/* Cursors are URL-safe base64 of a text only kanrid reads. */
static char *cursor_encode(const char *plain)
{
    char *b = g_base64_encode((const guchar *)plain, strlen(plain));
    for (char *c = b; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    return b;
}

/* The text of CURSOR, or NULL when it is not one of ours. */
static char *cursor_decode(const char *cursor)
{
    size_t n = strlen(cursor);
    if (n == 0 || n > 1024)
        return NULL;
    g_autofree char *b = g_strdup(cursor);
    for (char *c = b; *c; c++) {
        if (!g_ascii_isalnum(*c) && *c != '-' && *c != '_' && *c != '=')
            return NULL;
        *c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
    }
    gsize len = 0;
    g_autofree guchar *plain = g_base64_decode(b, &len);
    char *text = g_strndup((const char *)plain, len);
    if (strlen(text) != len) { /* a NUL inside */
        g_free(text);
        return NULL;
    }
    return text;
}

/* A cursor is "OFFSET:KEY" in URL-safe base64: where the next page starts
 * and the key of the row before it.  When rows came or went meanwhile the
 * key is looked up again, so a page never repeats or skips a row that was
 * there before and after. */
static char *cursor_make(const struct row_desc *d, const struct rows *list, guint next)
{
    g_autofree char *key = row_key(d, rows_get(list, next - 1));
    g_autofree char *plain = g_strdup_printf("%u:%s", next, key);
    return cursor_encode(plain);
}

static bool cursor_parse(const struct rows *list, const char *cursor, guint *ret_start)
{
    g_autofree char *text = cursor_decode(cursor);
    char *colon = text ? strchr(text, ':') : NULL;
    uint64_t off;
    if (!colon)
        return false;
    *colon = '\0';
    if (!parse_u64(text, &off) || off == 0 || off > G_MAXUINT)
        return false;
    const char *key = colon + 1;
    guint at = (guint)off;
    if (at <= rows_len(list)) {
        g_autofree char *k = row_key(list->desc, rows_get(list, at - 1));
        if (g_str_equal(k, key)) {
            *ret_start = at;
            return true;
        }
    }
    for (guint i = 0; i < rows_len(list); i++) {
        g_autofree char *k = row_key(list->desc, rows_get(list, i));
        if (g_str_equal(k, key)) {
            *ret_start = i + 1;
            return true;
        }
    }
    /* That row is gone: the one after it moved up into its place. */
    *ret_start = MIN(at - 1, rows_len(list));
    return true;
}

/* ?fields=a,b: the members to keep, checked against the row. */
static bool parse_fields(struct req *r, const struct row_desc *d, GStrv *ret)
{
    const char *arg = req_arg(r, "fields");
    *ret = NULL;
    if (!arg)
        return true;
    if (!*arg) {
        req_problem(r, 400, "fields: expected member names, such as fields=name,state");
        return false;
    }
    g_auto(GStrv) names = g_strsplit(arg, ",", 0);
    for (char **n = names; *n; n++) {
        const struct row_field *f = row_field_find(d, *n);
        if (!**n || !f || (f->flags & ROW_F_INTERNAL)) {
            GString *known = g_string_new(NULL);
            for (size_t i = 0; i < d->n_fields; i++) {
                if (!(d->fields[i].flags & ROW_F_INTERNAL))
                    g_string_append_printf(known, "%s%s", known->len ? ", " : "",
                                           d->fields[i].name);
            }
            req_problem(r, 400, "fields: %s has no field '%s' (it has: %s)", d->name, *n,
                        known->str);
            g_string_free(known, TRUE);
            return false;
        }
    }
    *ret = g_steal_pointer(&names);
    return true;
}

/* LIMIT from the query: all when absent; false after a 400. */
static bool parse_limit(struct req *r, uint64_t all, uint64_t *ret)
{
    const char *limit_s = req_arg(r, "limit");
    *ret = all;
    if (limit_s && (!parse_u64(limit_s, ret) || *ret == 0 || *ret > PAGE_MAX)) {
        req_problem(r, 400, "limit: expected 1 to %d rows per page, got '%s'", PAGE_MAX, limit_s);
        return false;
    }
    return true;
}

/* {"NAME": [rows START..END], "next_cursor": NEXT}, written directly: a
 * json-c tree of a long list cost more than the query itself. */
static void reply_rows(struct req *r, const struct rows *list, guint start, guint end,
                       GStrv fields, const char *next)
{
    GString *out = g_string_sized_new(1024 + (gsize)(end - start) * 512);
    g_string_append_c(out, '{');
    api_json_string(out, list->desc->name);
    g_string_append(out, ":[");
    for (guint i = start; i < end; i++) {
        if (i > start)
            g_string_append_c(out, ',');
        api_row_write(out, list->desc, rows_get(list, i), (const char *const *)fields);
    }
    g_string_append_c(out, ']');
    if (next) {
        g_string_append(out, ",\"next_cursor\":");
        api_json_string(out, next);
    }
    g_string_append(out, "}\n");
    req_text(r, 200, out, "application/json");
}

void req_rows_paged(struct req *r, struct rows *list, const GError *err)
{
    g_autoptr(rows) owned = list;
    if (!list) {
        req_rows(r, NULL, err);
        return;
    }
    const char *cursor = req_arg(r, "cursor");
    uint64_t limit;
    if (!parse_limit(r, rows_len(list), &limit))
        return;
    guint start = 0;
    if (cursor && !cursor_parse(list, cursor, &start)) {
        req_problem(r, 400, "cursor: not a cursor from this list's next_cursor");
        return;
    }
    g_auto(GStrv) fields = NULL;
    if (!parse_fields(r, list->desc, &fields))
        return;
    guint end = (guint)MIN((uint64_t)start + limit, (uint64_t)rows_len(list));
    g_autofree char *next = end < rows_len(list) ? cursor_make(list->desc, list, end) : NULL;
    reply_rows(r, list, start, end, fields, next);
}

/* The VM list's cursor: the last VM's place in the order (host id, name,
 * id), URL-safe base64 of "v1:HOST_ID:ID:NAME". */
static char *vm_cursor_make(const struct vm_row *v)
{
    g_autofree char *plain = g_strdup_printf("v1:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT ":%s",
                                             v->host_id, v->domain_id, v->name);
    return cursor_encode(plain);
}

static bool vm_cursor_parse(const char *cursor, char **ret_name, struct vm_page_key *ret)
{
    g_autofree char *text = cursor_decode(cursor);
    if (!text)
        return false;
    g_auto(GStrv) parts = g_strsplit(text, ":", 4);
    uint64_t host_id, domain_id;
    if (g_strv_length(parts) != 4 || !g_str_equal(parts[0], "v1") ||
        !parse_u64(parts[1], &host_id) || !parse_u64(parts[2], &domain_id) ||
        host_id > INT64_MAX || domain_id > INT64_MAX)
        return false;
    *ret_name = g_strdup(parts[3]);
    *ret = (struct vm_page_key){.host_id = (int64_t)host_id, .name = *ret_name,
                                .domain_id = (int64_t)domain_id};
    return true;
}

void req_vms_paged(struct req *r)
{
    struct store *st = r->api->store;
    const char *cursor = req_arg(r, "cursor");
    struct vm_filter filter = {.host = req_arg(r, "host"), .kind = req_arg(r, "kind")};
    if (filter.kind && !domain_kind_valid(filter.kind)) {
        req_problem(r, 400, "kind: expected vm or container, got '%s'", filter.kind);
        return;
    }
    g_autoptr(GError) err = NULL;
    if (!cursor && !req_arg(r, "limit")) {
        req_rows_paged(r, st->ops->vms_query(st, &filter, 0, false, &err), err);
        return;
    }
    uint64_t limit;
    if (!parse_limit(r, PAGE_MAX, &limit))
        return;
    g_autofree char *name = NULL;
    struct vm_page_key after;
    if (cursor && !vm_cursor_parse(cursor, &name, &after)) {
        req_problem(r, 400, "cursor: not a cursor from this list's next_cursor");
        return;
    }
    g_auto(GStrv) fields = NULL;
    if (!parse_fields(r, &vm_row_desc, &fields))
        return;
    /* One more than the page: whether there is a next one. */
    g_autoptr(rows) page =
        st->ops->vms_page(st, &filter, cursor ? &after : NULL, (int)limit + 1, &err);
    if (!page) {
        req_rows(r, NULL, err);
        return;
    }
    guint end = MIN((guint)limit, rows_len(page));
    g_autofree char *next = end < rows_len(page) ? vm_cursor_make(rows_get(page, end - 1)) : NULL;
    reply_rows(r, page, 0, end, fields, next);
}

void req_text(struct req *r, unsigned status, GString *text, const char *type)
{
    json_object_put(r->resp);
    r->resp = NULL;
    r->problem = false;
    r->status = status;
    g_free(r->raw_owned);
    r->raw_len = text->len;
    r->raw_owned = g_string_free(text, FALSE);
    r->raw_type = type;
}

void req_rows(struct req *r, struct rows *list, const GError *err)
{
    if (!list) {
        g_warning("query %s: %s", r->path, err ? err->message : "failed");
        req_problem(r, 500, "the store failed to answer: %s", err ? err->message : "unknown");
        return;
    }
    req_json(r, 200, api_rows_json(list));
    rows_free(list);
}
