/* The HTTP client, against a one-shot server on 127.0.0.1 in a child. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"
#include "testutil.h"

static void test_url(void **state)
{
    struct http_url u;
    char err[256];
    assert_int_equal(http_url_parse("http://kanri:8080/api/v1/ingest/guest", &u, err, 256), 0);
    assert_string_equal(u.host, "kanri");
    assert_string_equal(u.port, "8080");
    assert_string_equal(u.path, "/api/v1/ingest/guest");
    assert_string_equal(u.authority, "kanri:8080");
    assert_int_equal(http_url_parse("http://10.0.0.1", &u, err, 256), 0);
    assert_string_equal(u.port, "80");
    assert_string_equal(u.path, "/");
    assert_int_equal(http_url_parse("http://[::1]:81/x?y=1#frag", &u, err, 256), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "81");
    assert_string_equal(u.path, "/x?y=1");
    assert_string_equal(u.authority, "[::1]:81");
    assert_int_equal(http_url_parse("https://x/", &u, err, 256), 0);
    assert_true(u.https);
    assert_string_equal(u.port, "443");
    assert_int_equal(http_url_parse("ftp://x/", &u, err, 256), -EINVAL);
    assert_int_equal(http_url_parse("http://", &u, err, 256), -EINVAL);
    assert_int_equal(http_url_parse("http://x:0/", &u, err, 256), -EINVAL);
    assert_int_equal(http_url_parse("http://x:/", &u, err, 256), -EINVAL);
    assert_int_equal(http_url_parse("http://[::1/", &u, err, 256), -EINVAL);
    assert_int_equal(http_url_parse("http://x/\r\nX-Evil: 1", &u, err, 256), -EINVAL);
}

static void test_classify(void **state)
{
    assert_int_equal(http_classify(200), PUSH_OK);
    assert_int_equal(http_classify(204), PUSH_OK);
    assert_int_equal(http_classify(400), PUSH_REJECTED);
    assert_int_equal(http_classify(413), PUSH_REJECTED);
    assert_int_equal(http_classify(429), PUSH_BACKOFF);
    assert_int_equal(http_classify(401), PUSH_BACKOFF);
    assert_int_equal(http_classify(403), PUSH_BACKOFF);
    assert_int_equal(http_classify(404), PUSH_REJECTED);
    assert_int_equal(http_classify(408), PUSH_RETRY);
    assert_int_equal(http_classify(500), PUSH_RETRY);
    assert_int_equal(http_classify(503), PUSH_RETRY);
    assert_int_equal(http_classify(301), PUSH_RETRY);
    assert_int_equal(http_classify(-ECONNREFUSED), PUSH_RETRY);
    assert_int_equal(http_classify(-ETIMEDOUT), PUSH_RETRY);
}

enum mode { REPLY, SILENT, GARBAGE };

/* Starts a server child; returns its pid and port.  It handles one
 * connection: saves the request to req_path and answers reply. */
static pid_t serve_once(enum mode mode, const char *reply, const char *req_path, int *ret_port)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(ls, 1), 0);
    socklen_t al = sizeof(a);
    getsockname(ls, (struct sockaddr *)&a, &al);
    *ret_port = ntohs(a.sin_port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        close(ls);
        return pid;
    }
    int c = accept(ls, NULL, NULL);
    if (c < 0)
        _exit(1);
    char buf[65536];
    size_t len = 0;
    /* Read headers, then Content-Length bytes of body. */
    for (;;) {
        ssize_t r = read(c, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        char *cl = strstr(buf, "Content-Length: ");
        if (end && cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
            break;
    }
    FILE *f = fopen(req_path, "wb");
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
    if (mode == SILENT)
        sleep(5);
    else if (mode == GARBAGE)
        (void)!write(c, "SSH-2.0-OpenSSH\r\n", 17);
    else
        (void)!write(c, reply, strlen(reply));
    close(c);
    _exit(0);
}

static void finish(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static void test_post(void **state)
{
    char *dir = tu_mkdtemp(), req[PATH_MAX], url[128], err[256];
    snprintf(req, sizeof(req), "%s/req", dir);
    int port;
    pid_t pid = serve_once(REPLY, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", req, &port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/ingest/guest", port);
    struct http_url u;
    assert_int_equal(http_url_parse(url, &u, err, sizeof(err)), 0);
    const char *body = "{\"schema\":1}\n";
    assert_int_equal(http_post(&u, NULL, "kanri_tok", body, strlen(body), 5000, err, sizeof(err)), 202);
    finish(pid);
    char *got = tu_read_file(req, NULL);
    assert_non_null(got);
    assert_non_null(strstr(got, "POST /api/v1/ingest/guest HTTP/1.1\r\n"));
    assert_non_null(strstr(got, "Authorization: Bearer kanri_tok\r\n"));
    assert_non_null(strstr(got, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(got, "Content-Length: 13\r\n"));
    assert_non_null(strstr(got, "Connection: close\r\n"));
    assert_non_null(strstr(got, "\r\n\r\n{\"schema\":1}\n"));
    free(got);

    pid = serve_once(REPLY, "HTTP/1.0 429 Too Many Requests\r\n\r\n", req, &port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    assert_int_equal(http_url_parse(url, &u, err, sizeof(err)), 0);
    assert_int_equal(http_post(&u, NULL, NULL, "{}", 2, 5000, err, sizeof(err)), 429);
    finish(pid);
    got = tu_read_file(req, NULL);
    assert_null(strstr(got, "Authorization"));
    free(got);
    tu_rm_rf(dir);
    free(dir);
}

static void test_failures(void **state)
{
    char *dir = tu_mkdtemp(), req[PATH_MAX], url[128], err[256];
    snprintf(req, sizeof(req), "%s/req", dir);
    struct http_url u;
    int port;

    /* Silent server: the deadline ends the wait. */
    pid_t pid = serve_once(SILENT, NULL, req, &port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    assert_int_equal(http_url_parse(url, &u, err, sizeof(err)), 0);
    assert_int_equal(http_post(&u, NULL, "t", "{}", 2, 300, err, sizeof(err)), -ETIMEDOUT);
    finish(pid);

    pid = serve_once(GARBAGE, NULL, req, &port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    assert_int_equal(http_url_parse(url, &u, err, sizeof(err)), 0);
    assert_int_equal(http_post(&u, NULL, "t", "{}", 2, 5000, err, sizeof(err)), -EPROTO);
    finish(pid);

    /* Nobody listening. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof(a));
    socklen_t al = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
    assert_int_equal(http_url_parse(url, &u, err, sizeof(err)), 0);
    assert_int_equal(http_post(&u, NULL, "t", "{}", 2, 5000, err, sizeof(err)), -ECONNREFUSED);
    assert_non_null(strstr(err, "cannot connect"));

    assert_int_equal(http_url_parse("http://no-such-host.invalid/", &u, err, sizeof(err)), 0);
    assert_true(http_post(&u, NULL, "t", "{}", 2, 2000, err, sizeof(err)) < 0);
    tu_rm_rf(dir);
    free(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_post),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
