#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "doc.h"
#include "gbuf.h"
#include "netio.h"
#include "tls.h"

static bool valid_chars(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(extra, c)))
            return false;
    }
    return true;
}

int http_url_parse(const char *url, struct http_url *ret, char *err, size_t errsz)
{
    memset(ret, 0, sizeof(*ret));
    const char *p;
    if (strncmp(url, "https://", 8) == 0) {
        ret->https = true;
        p = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else {
        snprintf(err, errsz, "url must start with https:// or http://");
        return -EINVAL;
    }
    size_t alen = strcspn(p, "/?#");
    const char *path = p + alen;
    if (alen == 0 || alen >= sizeof(ret->authority)) {
        snprintf(err, errsz, "url has no usable host");
        return -EINVAL;
    }
    if (memchr(p, '@', alen)) {
        snprintf(err, errsz, "credentials in the url are not supported; use token_file");
        return -EINVAL;
    }
    memcpy(ret->authority, p, alen);
    const char *hp = ret->authority, *port = NULL;
    size_t hlen;
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (!close || (close[1] != '\0' && close[1] != ':')) {
            snprintf(err, errsz, "malformed IPv6 address in url");
            return -EINVAL;
        }
        hp++;
        hlen = (size_t)(close - hp);
        port = close[1] == ':' ? close + 2 : NULL;
        if (!valid_chars(hp, hlen, ":.%")) {
            snprintf(err, errsz, "malformed IPv6 address in url");
            return -EINVAL;
        }
    } else {
        const char *colon = strchr(hp, ':');
        hlen = colon ? (size_t)(colon - hp) : strlen(hp);
        port = colon ? colon + 1 : NULL;
        if (!valid_chars(hp, hlen, ".-_")) {
            snprintf(err, errsz, "invalid host name in url");
            return -EINVAL;
        }
    }
    if (hlen == 0 || hlen >= sizeof(ret->host)) {
        snprintf(err, errsz, "url has no usable host");
        return -EINVAL;
    }
    memcpy(ret->host, hp, hlen);
    if (port) {
        size_t pl = strlen(port);
        long v = 0;
        for (size_t i = 0; i < pl; i++)
            v = (port[i] >= '0' && port[i] <= '9' && v < 100000) ? v * 10 + (port[i] - '0') : -1;
        if (pl == 0 || pl > 5 || v <= 0 || v > 65535) {
            snprintf(err, errsz, "invalid port in url");
            return -EINVAL;
        }
        snprintf(ret->port, sizeof(ret->port), "%ld", v);
    } else {
        snprintf(ret->port, sizeof(ret->port), ret->https ? "443" : "80");
    }
    /* A fragment is never sent. */
    size_t plen = strcspn(path, "#");
    if (plen == 0) {
        path = "/";
        plen = 1;
    }
    if (*path != '/' || plen >= sizeof(ret->path) ||
        !valid_chars(path, plen, "/-._~!$&'()*+,;=:@%?")) {
        snprintf(err, errsz, "invalid path in url");
        return -EINVAL;
    }
    memcpy(ret->path, path, plen);
    return 0;
}

static int connect_addr(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            return -e;
        }
        int r = netio_wait(fd, POLLOUT, deadline);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            r = -errno;
        if (r == 0 && soerr)
            r = -soerr;
        if (r < 0) {
            close(fd);
            return r;
        }
    }
    return fd;
}

/* Sends head then body, in one sendmsg() when the socket takes it all, so
 * the request leaves as one segment instead of two. */
static int send_plain(int fd, const char *head, size_t hlen, const char *body, size_t blen,
                      int64_t deadline)
{
    while (hlen + blen > 0) {
        struct iovec iov[2] = {{(void *)head, hlen}, {(void *)body, blen}};
        int w = hlen ? netio_sendv(fd, iov, 2, deadline) : netio_sendv(fd, iov + 1, 1, deadline);
        if (w < 0)
            return w;
        size_t n = (size_t)w;
        size_t from_head = n < hlen ? n : hlen;
        head += from_head;
        hlen -= from_head;
        n -= from_head;
        body += n;
        blen -= n;
    }
    return 0;
}

/* One request's connection: a socket, with TLS on it for https. */
struct stream {
    int fd;
    struct tls_conn *tls;
    int64_t deadline;
};

static int stream_send(struct stream *s, const char *head, size_t hlen, const char *body,
                       size_t blen)
{
    if (!s->tls)
        return send_plain(s->fd, head, hlen, body, blen, s->deadline);
    int r = tls_write_all(s->tls, head, hlen);
    if (r == 0)
        r = tls_write_all(s->tls, body, blen);
    return r ? r : tls_flush(s->tls);
}

static int stream_recv(struct stream *s, char *buf, size_t len)
{
    return s->tls ? tls_read(s->tls, buf, len) : netio_recv(s->fd, buf, len, s->deadline);
}

/* Reads until the status line is complete; the rest of the reply does not
 * matter to the agent. */
static int read_status(struct stream *s)
{
    char buf[512];
    size_t len = 0;
    for (;;) {
        if (len >= 12 && memchr(buf, '\n', len))
            break;
        if (len == sizeof(buf))
            return -EPROTO;
        int r = stream_recv(s, buf + len, sizeof(buf) - len);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        len += (size_t)r;
    }
    /* "HTTP/1.1 200 OK" */
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' || buf[9] < '1' ||
        buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9')
        return -EPROTO;
    return (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
}

int http_post(const struct http_url *u, const struct tls_pins *pins, const char *token,
              const char *body, size_t len, int timeout_ms, char *err, size_t errsz)
{
    struct stream s = {.fd = -ENOENT, .deadline = mono_ms() + timeout_ms};
    if (u->https && (!pins || pins->n == 0)) {
        snprintf(err, errsz, "%s: https needs a pinned server key", u->authority);
        return -EINVAL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    /* getaddrinfo has no timeout; a numeric address or /etc/hosts entry
     * avoids DNS altogether, which the man page recommends. */
    int g = getaddrinfo(u->host, u->port, &hints, &res);
    if (g != 0) {
        snprintf(err, errsz, "cannot resolve %s: %s", u->host, gai_strerror(g));
        return -EHOSTUNREACH;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        s.fd = connect_addr(ai, s.deadline);
        if (s.fd >= 0 || s.fd == -ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    if (s.fd < 0) {
        snprintf(err, errsz, "cannot connect to %s: %s", u->authority, strerror(-s.fd));
        return s.fd;
    }
    char head[2048];
    int hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\n"
                      "Host: %s\r\n"
                      "User-Agent: kanri-guestd/" KANRI_GUESTD_VERSION "\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\n"
                      "%s%s%s"
                      "Connection: close\r\n"
                      "\r\n",
                      u->path, u->authority, len, token && *token ? "Authorization: Bearer " : "",
                      token && *token ? token : "", token && *token ? "\r\n" : "");
    int r = 0;
    if (hl < 0 || (size_t)hl >= sizeof(head))
        r = -E2BIG;
    else if (u->https && !(s.tls = tls_open(s.fd, u->host, pins, s.deadline)))
        r = -ENOMEM;
    if (r == 0)
        r = stream_send(&s, head, (size_t)hl, body, len);
    if (r == 0)
        r = read_status(&s);
    /* A reply cut short over TLS is not a TLS failure: say what it is. */
    const char *tls_why = s.tls ? tls_error(s.tls) : NULL;
    if (r < 0)
        snprintf(err, errsz, "%s: %s", u->authority,
                 tls_why             ? tls_why
                 : r == -EPROTO      ? "reply is not HTTP"
                                     : strerror(-r));
    tls_free(s.tls);
    close(s.fd);
    return r;
}

enum push_outcome http_classify(int s)
{
    if (s >= 200 && s < 300)
        return PUSH_OK;
    /* 401/403 say the credential is wrong (a revoked or mis-bound token),
     * not that the sample is: keep spooling until an operator fixes the
     * token, instead of discarding every sample into rejected/. */
    if (s == 429 || s == 401 || s == 403)
        return PUSH_BACKOFF;
    if (s >= 400 && s < 500 && s != 408)
        return PUSH_REJECTED;
    return PUSH_RETRY;
}
