/*
 * Unit tests for src/cli/http.c: the incremental response parser (status
 * line, headers, Content-Length, chunked and close-delimited bodies,
 * truncated and oversized input), request formatting, and http_perform()
 * against a tiny server run on 127.0.0.1 in a thread of the test itself.
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

static struct http_response *parse_str(const char *text, GError **error)
{
    return http_response_parse(text, strlen(text), MAX_BODY, error);
}

/* Parses text fed one byte at a time, which every split must survive. */
static struct http_response *parse_bytewise(const char *text, size_t max_body, GError **error)
{
    g_autoptr(http_parser) p = http_parser_new(max_body, false);
    size_t len = strlen(text);

    for (size_t i = 0; i < len; i++) {
        enum http_parse_result r = http_parser_feed(p, text + i, 1, error);
        if (r == HTTP_PARSE_ERROR)
            return NULL;
        if (r == HTTP_PARSE_DONE)
            return http_parser_steal_response(p);
    }
    if (!http_parser_finish(p, error))
        return NULL;
    return http_parser_steal_response(p);
}

static void expect_error(const char *text, int code)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err2 = NULL;
    g_autoptr(http_response) r = parse_str(text, &err);
    g_autoptr(http_response) r2 = parse_bytewise(text, MAX_BODY, &err2);

    if (r)
        fail_msg("accepted: %s", text);
    if (!g_error_matches(err, HTTP_ERROR, code))
        fail_msg("error %d (%s), expected %d, for: %s", err->code, err->message, code, text);
    assert_null(r2);
    assert_true(g_error_matches(err2, HTTP_ERROR, code));
}

static void test_content_length(void **state)
{
    static const char text[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 11\r\n"
                               "\r\n"
                               "{\"a\": true}";
    g_autoptr(GError) err = NULL;
    g_autoptr(http_response) r = parse_str(text, &err);

    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->reason, "OK");
    assert_int_equal(r->body_len, 11);
    assert_string_equal(r->body, "{\"a\": true}");
    assert_string_equal(http_response_header(r, "content-type"), "application/json");
    assert_string_equal(http_response_header(r, "CONTENT-LENGTH"), "11");
    assert_null(http_response_header(r, "X-Missing"));

    g_autoptr(http_response) r2 = parse_bytewise(text, MAX_BODY, &err);
    assert_non_null(r2);
    assert_string_equal(r2->body, r->body);
}

static void test_status_line(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(http_response) a = parse_str("HTTP/1.1 404 Not Found Here\r\n"
                                           "Content-Length: 0\r\n\r\n",
                                           &err);
    assert_non_null(a);
    assert_int_equal(a->status, 404);
    assert_string_equal(a->reason, "Not Found Here");
    assert_int_equal(a->body_len, 0);
    assert_string_equal(a->body, "");

    /* No reason phrase, bare LF line ends, HTTP/1.0. */
    g_autoptr(http_response) b = parse_str("HTTP/1.0 204\n\n", &err);
    assert_non_null(b);
    assert_int_equal(b->status, 204);
    assert_string_equal(b->reason, "");

    expect_error("HTTP/2 200 OK\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 2000 OK\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 20 OK\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 099 Low\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 600 High\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("http/1.1 200 OK\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("SSH-2.0-OpenSSH_9.2\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("\r\nHTTP/1.1 200 OK\r\n\r\n", HTTP_ERROR_PROTOCOL);
}

static void test_headers(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(http_response) r = parse_str("HTTP/1.1 200 OK\r\n"
                                           "X-Spaces:    padded value \t \r\n"
                                           "X-Empty:\r\n"
                                           "X-Fold: first\r\n"
                                           "   second\r\n"
                                           "x-dup: 1\r\n"
                                           "X-Dup: 2\r\n"
                                           "Content-Length: 2\r\n"
                                           "\r\n"
                                           "ok",
                                           &err);
    assert_non_null(r);
    assert_string_equal(http_response_header(r, "x-spaces"), "padded value");
    assert_string_equal(http_response_header(r, "x-empty"), "");
    assert_string_equal(http_response_header(r, "x-fold"), "first second");
    assert_string_equal(http_response_header(r, "x-dup"), "1");
    assert_int_equal(r->headers->len, 6);

    expect_error("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 200 OK\r\nName : x\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 200 OK\r\n: x\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 200 OK\r\n folded first\r\n\r\n", HTTP_ERROR_PROTOCOL);

    /* A NUL byte in the header section. */
    static const char nul[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n";
    g_autoptr(GError) e2 = NULL;
    g_autoptr(http_response) n = http_response_parse(nul, sizeof(nul) - 1, MAX_BODY, &e2);
    assert_null(n);
    assert_true(g_error_matches(e2, HTTP_ERROR, HTTP_ERROR_PROTOCOL));
}

static void test_content_length_rules(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(http_response) same = parse_str("HTTP/1.1 200 OK\r\n"
                                              "Content-Length: 3, 3\r\n"
                                              "Content-Length: 3\r\n\r\nabcdef",
                                              &err);
    assert_non_null(same);
    assert_string_equal(same->body, "abc"); /* bytes after the body are ignored */

    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                 HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", HTTP_ERROR_PROTOCOL);
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                 HTTP_ERROR_PROTOCOL);

    /* Transfer-Encoding wins over Content-Length. */
    g_autoptr(http_response) te = parse_str("HTTP/1.1 200 OK\r\n"
                                            "Content-Length: 100\r\n"
                                            "Transfer-Encoding: chunked\r\n\r\n"
                                            "2\r\nhi\r\n0\r\n\r\n",
                                            &err);
    assert_non_null(te);
    assert_string_equal(te->body, "hi");
}

static void test_chunked(void **state)
{
    static const char text[] = "HTTP/1.1 200 OK\r\n"
                               "Transfer-Encoding: gzip, Chunked\r\n"
                               "\r\n"
                               "5\r\nhello\r\n"
                               "1;ext=1;other\r\n,\r\n"
                               "A \r\n world 123\r\n"
                               "00000000000000a\n0123456789\n"
                               "0\r\n"
                               "X-Trailer: yes\r\n"
                               "\r\n";
    g_autoptr(GError) err = NULL;
    g_autoptr(http_response) r = parse_str(text, &err);

    if (!r)
        fail_msg("%s", err->message);
    assert_string_equal(r->body, "hello, world 1230123456789");
    assert_int_equal(r->body_len, strlen("hello, world 1230123456789"));

    g_autoptr(http_response) r2 = parse_bytewise(text, MAX_BODY, &err);
    assert_non_null(r2);
    assert_string_equal(r2->body, r->body);

    /* An empty chunked body. */
    g_autoptr(http_response) e =
        parse_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &err);
    assert_non_null(e);
    assert_int_equal(e->body_len, 0);
}

static void test_chunked_errors(void **state)
{
    const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    static const struct {
        const char *body;
        int code;
    } cases[] = {
        {"g\r\nx\r\n0\r\n\r\n", HTTP_ERROR_PROTOCOL},
        {"\r\n", HTTP_ERROR_PROTOCOL},
        {"-1\r\n", HTTP_ERROR_PROTOCOL},
        {"5 x\r\nhello\r\n0\r\n\r\n", HTTP_ERROR_PROTOCOL},
        {"3\r\nhelloo\r\n0\r\n\r\n", HTTP_ERROR_PROTOCOL},
        {"ffffffffffffffffff\r\n", HTTP_ERROR_TOO_LARGE},
        {"5\r\nhel", HTTP_ERROR_TRUNCATED},
        {"5\r\nhello\r\n", HTTP_ERROR_TRUNCATED},
        {"5\r\nhello\r\n0\r\n", HTTP_ERROR_TRUNCATED},
        {"5", HTTP_ERROR_TRUNCATED},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strconcat(head, cases[i].body, NULL);
        expect_error(text, cases[i].code);
    }
}

static void test_close_delimited(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(http_response) r =
        parse_str("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end\n", &err);

    assert_non_null(r);
    assert_string_equal(r->body, "until the end\n");

    /* An unknown final transfer coding also runs to the close. */
    g_autoptr(http_response) t =
        parse_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nabc", &err);
    assert_non_null(t);
    assert_string_equal(t->body, "abc");
}

static void test_no_body_statuses(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(http_parser) p = http_parser_new(MAX_BODY, false);
    static const char text[] = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";

    /* Complete without waiting for the close, whatever Content-Length says. */
    assert_int_equal(http_parser_feed(p, text, strlen(text), &err), HTTP_PARSE_DONE);
    g_autoptr(http_response) r = http_parser_steal_response(p);
    assert_non_null(r);
    assert_int_equal(r->status, 204);
    assert_int_equal(r->body_len, 0);

    g_autoptr(http_parser) h = http_parser_new(MAX_BODY, true);
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
    assert_int_equal(http_parser_feed(h, head, strlen(head), &err), HTTP_PARSE_DONE);
}

static void test_interim_response(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(http_response) r = parse_str("HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\n"
                                           "HTTP/1.1 102 Processing\r\n\r\n"
                                           "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
                                           &err);
    assert_non_null(r);
    assert_int_equal(r->status, 201);
    assert_null(http_response_header(r, "X-A"));
    assert_string_equal(r->body, "{}");

    expect_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
                 HTTP_ERROR_PROTOCOL);
}

static void test_truncated(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(http_response) r = http_response_parse("", 0, MAX_BODY, &err);

    assert_null(r);
    assert_true(g_error_matches(err, HTTP_ERROR, HTTP_ERROR_TRUNCATED));
    assert_non_null(strstr(err->message, "without a response"));

    expect_error("HTTP/1.1 200", HTTP_ERROR_TRUNCATED);
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n", HTTP_ERROR_TRUNCATED);
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", HTTP_ERROR_TRUNCATED);

    g_clear_error(&err);
    g_autoptr(http_response) r2 =
        parse_str("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", &err);
    assert_null(r2);
    assert_non_null(strstr(err->message, "5 of 10"));
}

static void test_oversized(void **state)
{
    g_autoptr(GError) err = NULL;

    /* Declared too large: refused before any body byte arrives. */
    g_autoptr(http_parser) p = http_parser_new(16, false);
    static const char big[] = "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n";
    assert_int_equal(http_parser_feed(p, big, strlen(big), &err), HTTP_PARSE_ERROR);
    assert_true(g_error_matches(err, HTTP_ERROR, HTTP_ERROR_TOO_LARGE));
    g_clear_error(&err);
    /* A failed parser stays failed. */
    assert_int_equal(http_parser_feed(p, "x", 1, &err), HTTP_PARSE_ERROR);
    g_clear_error(&err);

    /* Exactly at the limit is fine. */
    static const char exact[] = "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n0123456789abcdef";
    g_autoptr(http_response) ok = http_response_parse(exact, strlen(exact), 16, &err);
    assert_non_null(ok);

    static const char *const over[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n"
        "1\r\nx\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n",
        "HTTP/1.1 200 OK\r\n\r\n0123456789abcdefX",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(over); i++) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GError) e2 = NULL;
        g_autoptr(http_response) r = http_response_parse(over[i], strlen(over[i]), 16, &e);
        g_autoptr(http_response) r2 = parse_bytewise(over[i], 16, &e2);
        assert_null(r);
        assert_true(g_error_matches(e, HTTP_ERROR, HTTP_ERROR_TOO_LARGE));
        assert_null(r2);
        assert_true(g_error_matches(e2, HTTP_ERROR, HTTP_ERROR_TOO_LARGE));
    }

    /* A header section beyond its bound, with and without line breaks. */
    g_autoptr(GString) huge = g_string_new("HTTP/1.1 200 OK\r\nX-Big: ");
    for (int i = 0; i < HTTP_MAX_HEADER_BYTES; i++)
        g_string_append_c(huge, 'a');
    expect_error(huge->str, HTTP_ERROR_TOO_LARGE);
    g_string_append(huge, "\r\n\r\n");
    expect_error(huge->str, HTTP_ERROR_TOO_LARGE);

    g_autoptr(GString) many = g_string_new("HTTP/1.1 200 OK\r\n");
    for (int i = 0; i <= HTTP_MAX_HEADER_FIELDS; i++)
        g_string_append_printf(many, "X-%d: v\r\n", i);
    g_string_append(many, "\r\n");
    expect_error(many->str, HTTP_ERROR_TOO_LARGE);

    /* A chunk-size line that never ends. */
    g_autoptr(GString) line =
        g_string_new("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;");
    for (int i = 0; i < HTTP_MAX_LINE_BYTES; i++)
        g_string_append_c(line, 'e');
    expect_error(line->str, HTTP_ERROR_TOO_LARGE);
}

static void test_request_format(void **state)
{
    struct http_url url;
    g_autoptr(GError) err = NULL;

    assert_true(http_url_parse("http://[::1]:8470/base", &url, &err));
    struct http_request get = {.method = "GET", .path = "/api/v1/vms?host=a%20b", .token = "t0k"};
    g_autoptr(GString) a = http_request_format(&url, &get, &err);
    assert_non_null(a);
    assert_string_equal(a->str, "GET /base/api/v1/vms?host=a%20b HTTP/1.1\r\n"
                                "Host: [::1]:8470\r\n"
                                "User-Agent: kanri/" KANRI_VERSION "\r\n"
                                "Accept: application/json, application/problem+json\r\n"
                                "Connection: close\r\n"
                                "Authorization: Bearer t0k\r\n"
                                "\r\n");

    struct http_request post = {.method = "POST", .path = "/x"};
    g_autoptr(GString) b = http_request_format(&url, &post, &err);
    assert_non_null(strstr(b->str, "\r\nContent-Length: 0\r\n"));
    assert_null(strstr(b->str, "Authorization"));

    struct http_request body = {.method = "POST",
                                .path = "/x",
                                .body = "{\"a\":1}",
                                .body_len = 7,
                                .content_type = "application/json"};
    g_autoptr(GString) c = http_request_format(&url, &body, &err);
    assert_true(g_str_has_suffix(c->str, "Content-Type: application/json\r\n"
                                         "Content-Length: 7\r\n\r\n{\"a\":1}"));

    static const struct http_request bad[] = {
        {.method = "GET", .path = "/x", .token = "a\r\nX-Evil: 1"},
        {.method = "GET", .path = "/x", .token = "a b"},
        {.method = "GET", .path = "/x", .token = ""},
        {.method = "GET", .path = "/a b"},
        {.method = "GET", .path = "/a\r\nX: y"},
        {.method = "GET", .path = "relative"},
        {.method = "", .path = "/x"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GString) s = http_request_format(&url, &bad[i], &e);
        assert_null(s);
        assert_true(g_error_matches(e, HTTP_ERROR, HTTP_ERROR_URL));
    }
    http_url_clear(&url);
}

/* ---- a tiny server ---------------------------------------------------- */

struct server {
    int fd;
    guint16 port;
    GThread *thread;
    const char *response; /* sent after the request has been read, then close */
    size_t response_len;
    bool hang;        /* read the request, answer nothing until the client goes */
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

static struct http_response *perform(struct server *s, const char *prefix,
                                     const struct http_request *req, guint timeout_s,
                                     size_t max_body, GError **error)
{
    g_autofree char *text = g_strdup_printf("http://127.0.0.1:%u%s", s->port, prefix);
    struct http_url url;

    assert_true(http_url_parse(text, &url, NULL));
    struct http_response *r = http_perform(&url, req, timeout_s, max_body, error);
    http_url_clear(&url);
    return r;
}

static void test_perform_get(void **state)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 15\r\n\r\n{\"status\":\"ok\"}";
    struct server s = {0};
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/api/v1/healthz", .token = "kanri_x"};

    server_start(&s, resp, strlen(resp));
    g_autoptr(http_response) r = perform(&s, "/pre/", &req, 5, MAX_BODY, &err);
    if (!r)
        fail_msg("%s", err->message);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "{\"status\":\"ok\"}");
    server_stop(&s);
}

static void test_perform_post_chunked(void **state)
{
    static const char resp[] = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "4\r\n{\"id\r\n5\r\n\": 3}\r\n0\r\n\r\n";
    struct server s = {0};
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "POST",
                               .path = "/api/v1/tokens",
                               .token = "tok",
                               .content_type = "application/json",
                               .body = "{\"name\":\"ci\"}",
                               .body_len = 13};

    server_start(&s, resp, strlen(resp));
    g_autoptr(http_response) r = perform(&s, "", &req, 5, MAX_BODY, &err);
    if (!r)
        fail_msg("%s", err->message);
    assert_int_equal(r->status, 201);
    assert_string_equal(r->body, "{\"id\": 3}");
    server_join(&s);

    g_autofree char *host = g_strdup_printf("\r\nHost: 127.0.0.1:%u\r\n", s.port);
    assert_true(g_str_has_prefix(s.request->str, "POST /api/v1/tokens HTTP/1.1\r\n"));
    assert_non_null(strstr(s.request->str, host));
    assert_non_null(strstr(s.request->str, "\r\nAuthorization: Bearer tok\r\n"));
    assert_non_null(strstr(s.request->str, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(s.request->str, "\r\nContent-Length: 13\r\n"));
    assert_true(g_str_has_suffix(s.request->str, "\r\n\r\n{\"name\":\"ci\"}"));
    server_stop(&s);
}

static void test_perform_prefix_and_close(void **state)
{
    static const char resp[] = "HTTP/1.0 404 Not Found\r\n\r\n{\"title\":\"Not Found\"}";
    struct server s = {0};
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/api/v1/vms/a%2Fb"};

    server_start(&s, resp, strlen(resp));
    g_autoptr(http_response) r = perform(&s, "/kanri/", &req, 5, MAX_BODY, &err);
    assert_non_null(r);
    assert_int_equal(r->status, 404);
    assert_string_equal(r->body, "{\"title\":\"Not Found\"}");
    server_join(&s);
    assert_true(g_str_has_prefix(s.request->str, "GET /kanri/api/v1/vms/a%2Fb HTTP/1.1\r\n"));
    server_stop(&s);
}

static void test_perform_truncated(void **state)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort";
    struct server s = {0};
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/"};

    server_start(&s, resp, strlen(resp));
    g_autoptr(http_response) r = perform(&s, "", &req, 5, MAX_BODY, &err);
    assert_null(r);
    assert_true(g_error_matches(err, HTTP_ERROR, HTTP_ERROR_TRUNCATED));
    server_stop(&s);
}

static void test_perform_too_large(void **state)
{
    g_autoptr(GString) resp = g_string_new("HTTP/1.1 200 OK\r\n\r\n");
    struct server s = {0};
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/"};

    for (int i = 0; i < 200000; i++)
        g_string_append_c(resp, 'x');
    server_start(&s, resp->str, resp->len);
    g_autoptr(http_response) r = perform(&s, "", &req, 5, 100000, &err);
    assert_null(r);
    assert_true(g_error_matches(err, HTTP_ERROR, HTTP_ERROR_TOO_LARGE));
    server_stop(&s);
}

static void test_perform_empty_reply(void **state)
{
    struct server s = {0};
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/"};

    server_start(&s, "", 0);
    g_autoptr(http_response) r = perform(&s, "", &req, 5, MAX_BODY, &err);
    assert_null(r);
    assert_true(g_error_matches(err, HTTP_ERROR, HTTP_ERROR_TRUNCATED));
    server_stop(&s);
}

static void test_perform_timeout(void **state)
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
    assert_true(took >= G_USEC_PER_SEC / 2 && took < 10 * G_USEC_PER_SEC);
    server_stop(&s);
}

static void test_perform_refused(void **state)
{
    guint16 port;
    int fd = listen_local(&port);
    struct http_url url;
    g_autoptr(GError) err = NULL;
    struct http_request req = {.method = "GET", .path = "/"};

    /* The port was just free; closing the listener makes it refuse. */
    close(fd);
    g_autofree char *text = g_strdup_printf("http://127.0.0.1:%u", port);
    assert_true(http_url_parse(text, &url, NULL));
    g_autoptr(http_response) r = http_perform(&url, &req, 5, MAX_BODY, &err);
    assert_null(r);
    assert_true(g_error_matches(err, HTTP_ERROR, HTTP_ERROR_CONNECT));
    http_url_clear(&url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_status_line),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_content_length_rules),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_chunked_errors),
        cmocka_unit_test(test_close_delimited),
        cmocka_unit_test(test_no_body_statuses),
        cmocka_unit_test(test_interim_response),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_request_format),
        cmocka_unit_test(test_perform_get),
        cmocka_unit_test(test_perform_post_chunked),
        cmocka_unit_test(test_perform_prefix_and_close),
        cmocka_unit_test(test_perform_truncated),
        cmocka_unit_test(test_perform_too_large),
        cmocka_unit_test(test_perform_empty_reply),
        cmocka_unit_test(test_perform_timeout),
        cmocka_unit_test(test_perform_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
