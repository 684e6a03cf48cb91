/*
 * Unit tests for http_perform() (src/cli/http.c) against a tiny HTTP
 * server run on 127.0.0.1 in a thread of the test itself: what the request
 * looks like on the wire, statuses, headers and bodies, the body and header
 * bounds, and each failure's error code (refused, timeout, truncated, not
 * HTTP, TLS spoken to a plain server).  TLS with real certificates is
 * tested end to end in tests/integration/test_cli_tls.py; the pure helpers
 * (URLs, escaping, pins) in test_format.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"

#include "cli/http.h"

#define MAX_BODY ((size_t)1024 * 1024)

/* ---- a tiny server ---------------------------------------------------- */

struct server {
    int fd;
    guint16 port;
    GThread *thread;
    const char *response; /* sent after the request has been read, then close */
    size_t response_len;
    bool hang;        /* read the request, answer nothing until the client goes */
    bool no_read;     /* answer at once without reading (for a TLS client) */
    GString *request; /* what the client sent */
};

static void read_request(int fd, GString *req)
{
    char buf[4096];

    for (;;) {
        const char *end = strstr(req->str, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(req->str, "\r\nContent-Length: ");
            size_t want = (size_t)(end + 4 - req->str);
            if (cl && cl < end)
                want += strtoul(cl + 18, NULL, 10);
            if (req->len >= want)
                return;
        }
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        g_string_append_len(req, buf, n);
    }
}

static gpointer server_main(gpointer data)
{
    struct server *s = data;
    int c = accept(s->fd, NULL, NULL);
    char buf[256];

    if (c < 0)
        return NULL;
    if (!s->no_read)
        read_request(c, s->request);
    if (s->hang) {
        while (read(c, buf, sizeof(buf)) > 0)
            ;
    } else {
        size_t off = 0;
        while (off < s->response_len) {
            /* MSG_NOSIGNAL: the client may close early, which is what some tests check. */
            ssize_t n = send(c, s->response + off, s->response_len - off, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        /* Let the client see the end of the response before the close, so
         * a close with unread request bytes does not turn into a reset. */
        shutdown(c, SHUT_WR);
        while (read(c, buf, sizeof(buf)) > 0)
            ;
    }
    close(c);
    return NULL;
}

static int listen_local(guint16 *ret_port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *ret_port = ntohs(sa.sin_port);
    return fd;
}

/* The socket listens before this returns, so the client can connect at
 * once; the thread only accepts. */
static void server_start(struct server *s, const char *response, size_t len)
{
    s->fd = listen_local(&s->port);
    s->response = response;
    s->response_len = len;
    s->request = g_string_new(NULL);
    s->thread = g_thread_new("test-server", server_main, s);
}

/* Waits for the server to finish, so its copy of the request is complete. */
static void server_join(struct server *s)
{
    if (s->thread)
        g_thread_join(g_steal_pointer(&s->thread));
}

static void server_stop(struct server *s)
{
    server_join(s);
    close(s->fd);
    g_string_free(s->request, TRUE);
}

static struct http_response *perform_url(const char *text, const struct http_request *req,
                                         guint timeout_s, size_t max_body, GError **error)
{
    struct http_url url;
    struct http_options opts = {.timeout_s = timeout_s, .max_body = max_body};

    assert_true(http_url_parse(text, &url, NULL));
    struct http_response *r = http_perform(&url, req, &opts, error);
    http_url_clear(&url);
    return r;
}

static struct http_response *perform(struct server *s, const char *prefix,
                                     const struct http_request *req, guint timeout_s,
                                     size_t max_body, GError **error)
{
    g_autofree char *text = g_strdup_printf("http://127.0.0.1:%u%s", s->port, prefix);

    return perform_url(text, req, timeout_s, max_body, error);
}

/* Serves response once and performs req against it; the server's copy of
 * the request is left in *ret_request (g_free). */
static struct http_response *exchange(const char *response, size_t response_len,
                                      const struct http_request *req, size_t max_body,
                                      char **ret_request, GError **error)
{
    struct server s = {0};

    server_start(&s, response, response_len);
    struct http_response *r = perform(&s, "", req, 5, max_body, error);
    server_join(&s);
    if (ret_request)
        *ret_request = g_strdup(s.request->str);
    server_stop(&s);
    return r;
}

static void expect_failure(const char *response, size_t max_body, int code, const char *words)
{
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/"};
    g_autoptr(http_response) r = exchange(response, strlen(response), &req, max_body, NULL, &err);

    if (r)
        fail_msg("accepted (status %d): %.60s", r->status, response);
    if (!g_error_matches(err, HTTP_ERROR, code))
        fail_msg("error %d (%s), expected %d, for: %.60s", err->code, err->message, code, response);
    if (words && !strstr(err->message, words))
        fail_msg("message '%s' lacks '%s'", err->message, words);
}

/* ---- requests and responses ------------------------------------------- */

static void test_get(void **state)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Retry-After: 7\r\n"
                               "X-Fold: first\r\n  second\r\n"
                               "Content-Length: 15\r\n\r\n{\"status\":\"ok\"}";
    struct server s = {0};
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/api/v1/healthz", .token = "kanri_x"};

    server_start(&s, resp, strlen(resp));
    g_autoptr(http_response) r = perform(&s, "/pre/", &req, 5, MAX_BODY, &err);
    if (!r)
        fail_msg("%s", err->message);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->reason, "OK");
    assert_int_equal(r->body_len, 15);
    assert_string_equal(r->body, "{\"status\":\"ok\"}");
    assert_string_equal(http_response_header(r, "content-type"), "application/json");
    assert_string_equal(http_response_header(r, "RETRY-AFTER"), "7");
    assert_string_equal(http_response_header(r, "x-fold"), "first second");
    assert_null(http_response_header(r, "X-Missing"));
    server_join(&s);

    const char *q = s.request->str;
    g_autofree char *host = g_strdup_printf("\r\nHost: 127.0.0.1:%u\r\n", s.port);
    assert_true(g_str_has_prefix(q, "GET /pre/api/v1/healthz HTTP/1.1\r\n"));
    assert_non_null(strstr(q, host));
    assert_non_null(strstr(q, "\r\nAuthorization: Bearer kanri_x\r\n"));
    assert_non_null(strstr(q, "\r\nUser-Agent: kanri/" KANRI_VERSION "\r\n"));
    assert_non_null(strstr(q, "\r\nAccept: application/json, application/problem+json\r\n"));
    assert_null(strcasestr(q, "\r\nContent-Type:"));
    assert_null(strcasestr(q, "\r\nExpect:"));
    assert_true(g_str_has_suffix(q, "\r\n\r\n"));
    server_stop(&s);
}

static void test_post_chunked_reply(void **state)
{
    static const char resp[] = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "4\r\n{\"id\r\n5\r\n\": 3}\r\n0\r\n\r\n";
    g_autoptr(GError) err = NULL;
    g_autofree char *q = NULL;
    struct http_request req = {.method = "POST",
                               .path = "/api/v1/tokens",
                               .token = "tok",
                               .body = "{\"name\":\"ci\"}",
                               .body_len = 13};

    g_autoptr(http_response) r = exchange(resp, strlen(resp), &req, MAX_BODY, &q, &err);
    if (!r)
        fail_msg("%s", err->message);
    assert_int_equal(r->status, 201);
    assert_string_equal(r->reason, "Created");
    assert_string_equal(r->body, "{\"id\": 3}");

    assert_true(g_str_has_prefix(q, "POST /api/v1/tokens HTTP/1.1\r\n"));
    assert_non_null(strstr(q, "\r\nAuthorization: Bearer tok\r\n"));
    assert_non_null(strstr(q, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(q, "\r\nContent-Length: 13\r\n"));
    assert_true(g_str_has_suffix(q, "\r\n\r\n{\"name\":\"ci\"}"));
}

static void test_methods(void **state)
{
    static const char resp[] = "HTTP/1.1 204 No Content\r\n\r\n";
    static const struct {
        struct http_request req;
        const char *line;
        const char *has;     /* a header line the request must hold, or NULL */
        const char *has_not; /* one it must not hold, or NULL */
    } cases[] = {
        {{.method = "DELETE", .path = "/api/v1/tokens/3"},
         "DELETE /api/v1/tokens/3 HTTP/1.1\r\n",
         NULL,
         "\r\nContent-Length:"},
        {{.method = "POST", .path = "/api/v1/vms/web1/start"},
         "POST /api/v1/vms/web1/start HTTP/1.1\r\n",
         "\r\nContent-Length: 0\r\n",
         "\r\nContent-Type:"},
        {{.method = "PUT", .path = "/x", .content_type = "text/plain", .body = "hi", .body_len = 2},
         "PUT /x HTTP/1.1\r\n",
         "\r\nContent-Type: text/plain\r\n",
         NULL},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *q = NULL;
        g_autoptr(http_response) r =
            exchange(resp, strlen(resp), &cases[i].req, MAX_BODY, &q, &err);
        if (!r)
            fail_msg("%s: %s", cases[i].req.method, err->message);
        assert_int_equal(r->status, 204);
        assert_int_equal(r->body_len, 0);
        assert_string_equal(r->body, "");
        if (!g_str_has_prefix(q, cases[i].line))
            fail_msg("request starts '%.40s', expected '%s'", q, cases[i].line);
        if (cases[i].has && !strstr(q, cases[i].has))
            fail_msg("%s request lacks '%s'", cases[i].req.method, cases[i].has + 2);
        if (cases[i].has_not && strcasestr(q, cases[i].has_not))
            fail_msg("%s request has '%s'", cases[i].req.method, cases[i].has_not + 2);
    }
}

static void test_statuses(void **state)
{
    static const struct {
        const char *response;
        int status;
        const char *reason;
        const char *body;
    } cases[] = {
        /* Close-delimited, as an HTTP/1.0 server may send. */
        {"HTTP/1.0 404 Not Found\r\nContent-Type: application/problem+json\r\n\r\n"
         "{\"title\":\"Not Found\"}",
         404, "Not Found", "{\"title\":\"Not Found\"}"},
        {"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\n{}", 401, "Unauthorized", "{}"},
        {"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nbad", 500,
         "Internal Server Error", "bad"},
        {"HTTP/1.1 503 \r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n", 503, "", ""},
        {"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 200, "", ""},
        /* An interim response first; only the final one counts. */
        {"HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\n"
         "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
         201, "Created", "{}"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        struct http_request req = {.method = "GET", .path = "/x"};
        g_autoptr(http_response) r =
            exchange(cases[i].response, strlen(cases[i].response), &req, MAX_BODY, NULL, &err);
        if (!r)
            fail_msg("case %zu: %s", i, err->message);
        assert_int_equal(r->status, cases[i].status);
        assert_string_equal(r->reason, cases[i].reason);
        assert_string_equal(r->body, cases[i].body);
        assert_int_equal(r->body_len, strlen(cases[i].body));
        assert_null(http_response_header(r, "X-A"));
    }
}

/* What http_escape() makes of a name reaches the server unchanged:
 * libcurl neither decodes it nor squashes dot segments. */
static void test_path_sent_as_is(void **state)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    static const struct {
        const char *name;
        const char *line;
    } cases[] = {
        {"local:a b/c", "GET /api/v1/vms/local:a%20b%2Fc?x=%23 HTTP/1.1\r\n"},
        {"..", "GET /api/v1/vms/..?x=%23 HTTP/1.1\r\n"},
        {"caf\xc3\xa9~", "GET /api/v1/vms/caf%C3%A9~?x=%23 HTTP/1.1\r\n"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *q = NULL;
        g_autofree char *esc = http_escape(cases[i].name);
        g_autofree char *hash = http_escape("#");
        g_autofree char *path = g_strconcat("/api/v1/vms/", esc, "?x=", hash, NULL);
        struct http_request req = {.method = "GET", .path = path};
        g_autoptr(http_response) r = exchange(resp, strlen(resp), &req, MAX_BODY, &q, &err);
        if (!r)
            fail_msg("%s", err->message);
        if (!g_str_has_prefix(q, cases[i].line))
            fail_msg("sent '%.60s', expected '%s'", q, cases[i].line);
    }
}

/* ---- bounds ----------------------------------------------------------- */

static void test_body_bound(void **state)
{
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/"};

    /* Exactly at the limit is fine. */
    static const char exact[] = "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n0123456789abcdef";
    g_autoptr(http_response) ok = exchange(exact, strlen(exact), &req, 16, NULL, &err);
    if (!ok)
        fail_msg("%s", err->message);
    assert_int_equal(ok->body_len, 16);

    /* Announced too large: refused before any body byte is taken. */
    expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n0123456789abcdefX", 16,
                   HTTP_ERROR_TOO_LARGE, "limit of 16");
    /* Chunked and close-delimited bodies have no size up front. */
    expect_failure("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n",
                   16, HTTP_ERROR_TOO_LARGE, "limit of 16");
    expect_failure("HTTP/1.0 200 OK\r\n\r\n0123456789abcdefX", 16, HTTP_ERROR_TOO_LARGE,
                   "response body exceeds");
}

static void test_big_body_aborted(void **state)
{
    g_autoptr(GString) resp = g_string_new("HTTP/1.1 200 OK\r\n\r\n");
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/"};

    /* Far more than the bound and than socket buffers hold: the client must
     * stop reading and hang up, which the server sees as a failed send. */
    for (int i = 0; i < 4 * 1024 * 1024; i++)
        g_string_append_c(resp, 'x');
    g_autoptr(http_response) r = exchange(resp->str, resp->len, &req, 100000, NULL, &err);
    assert_null(r);
    assert_true(g_error_matches(err, HTTP_ERROR, HTTP_ERROR_TOO_LARGE));
}

static void test_header_bounds(void **state)
{
    g_autoptr(GString) many = g_string_new("HTTP/1.1 200 OK\r\n");
    for (int i = 0; i <= HTTP_MAX_HEADER_FIELDS; i++)
        g_string_append_printf(many, "X-%d: v\r\n", i);
    g_string_append(many, "Content-Length: 0\r\n\r\n");
    expect_failure(many->str, MAX_BODY, HTTP_ERROR_TOO_LARGE, "header fields");

    /* Fewer fields, but more bytes than the header section may hold. */
    g_autoptr(GString) big = g_string_new("HTTP/1.1 200 OK\r\n");
    g_autofree char *value = g_strnfill(2000, 'a');
    for (int i = 0; i * 2000 <= HTTP_MAX_HEADER_BYTES; i++)
        g_string_append_printf(big, "X-%d: %s\r\n", i, value);
    g_string_append(big, "Content-Length: 0\r\n\r\n");
    expect_failure(big->str, MAX_BODY, HTTP_ERROR_TOO_LARGE, "header section");
}

/* ---- failures --------------------------------------------------------- */

static void test_truncated(void **state)
{
    expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", MAX_BODY,
                   HTTP_ERROR_TRUNCATED, NULL);
    expect_failure("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", MAX_BODY,
                   HTTP_ERROR_TRUNCATED, NULL);
    expect_failure("", MAX_BODY, HTTP_ERROR_TRUNCATED, "without a response");
}

static void test_not_http(void **state)
{
    expect_failure("SSH-2.0-OpenSSH_9.2\r\n", MAX_BODY, HTTP_ERROR_PROTOCOL, "not valid HTTP");
    expect_failure("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", MAX_BODY,
                   HTTP_ERROR_PROTOCOL, NULL);
}

static void test_timeout(void **state)
{
    struct server s = {.hang = true};
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/"};

    server_start(&s, NULL, 0);
    gint64 start = g_get_monotonic_time();
    g_autoptr(http_response) r = perform(&s, "", &req, 1, MAX_BODY, &err);
    gint64 took = g_get_monotonic_time() - start;
    assert_null(r);
    if (!g_error_matches(err, HTTP_ERROR, HTTP_ERROR_TIMEOUT))
        fail_msg("expected a timeout, got: %s", err ? err->message : "nothing");
    assert_non_null(strstr(err->message, "sent nothing for 1 s"));
    assert_true(took >= G_USEC_PER_SEC / 2 && took < 10 * G_USEC_PER_SEC);
    server_stop(&s);
}

static void test_refused(void **state)
{
    guint16 port;
    int fd = listen_local(&port);
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/"};

    /* The port was just free; closing the listener makes it refuse. */
    close(fd);
    g_autofree char *text = g_strdup_printf("http://127.0.0.1:%u", port);
    g_autoptr(http_response) r = perform_url(text, &req, 5, MAX_BODY, &err);
    assert_null(r);
    if (!g_error_matches(err, HTTP_ERROR, HTTP_ERROR_CONNECT))
        fail_msg("expected a connect error, got: %s", err ? err->message : "nothing");
    assert_string_equal(err->message, "connection refused");
}

/* An https URL pointing at a plain HTTP server fails in the handshake. */
static void test_tls_to_plain_server(void **state)
{
    static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    struct server s = {.no_read = true};
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/"};

    server_start(&s, resp, strlen(resp));
    g_autofree char *text = g_strdup_printf("https://127.0.0.1:%u", s.port);
    g_autoptr(http_response) r = perform_url(text, &req, 5, MAX_BODY, &err);
    assert_null(r);
    if (!g_error_matches(err, HTTP_ERROR, HTTP_ERROR_TLS))
        fail_msg("expected a TLS error, got: %s", err ? err->message : "nothing");
    server_stop(&s);
}

/* Bytes that would break the request are refused before connecting: the
 * port refuses connections, so any other error would show a connect. */
static void test_bad_request_refused_early(void **state)
{
    static const struct http_request bad[] = {
        {.method = "GET", .path = "/x", .token = "a\r\nX-Evil: 1"},
        {.method = "GET", .path = "/x", .token = "a b"},
        {.method = "GET", .path = "/x", .token = ""},
        {.method = "GET", .path = "/a b"},
        {.method = "GET", .path = "/a\r\nX: y"},
        {.method = "GET", .path = "/a#frag"},
        {.method = "GET", .path = "relative"},
        {.method = "", .path = "/x"},
        {.method = "G T", .path = "/x"},
    };
    guint16 port;
    int fd = listen_local(&port);
    close(fd);
    g_autofree char *text = g_strdup_printf("http://127.0.0.1:%u", port);

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) e = NULL;
        g_autoptr(http_response) r = perform_url(text, &bad[i], 5, MAX_BODY, &e);
        assert_null(r);
        if (!g_error_matches(e, HTTP_ERROR, HTTP_ERROR_URL))
            fail_msg("case %zu: %s", i, e ? e->message : "no error");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_post_chunked_reply),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_statuses),
        cmocka_unit_test(test_path_sent_as_is),
        cmocka_unit_test(test_body_bound),
        cmocka_unit_test(test_big_body_aborted),
        cmocka_unit_test(test_header_bounds),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_not_http),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_tls_to_plain_server),
        cmocka_unit_test(test_bad_request_refused_early),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
