/*
 * http: the smallest HTTP/1.1 client kanri-guestd needs: one POST per
 * connection ("Connection: close"), every step under one deadline.
 * "https://host[:port]/path" speaks TLS to a server whose key is pinned
 * (tls.h); "http://" plain TCP, for loopback or a local TLS terminator.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct tls_pins;

struct http_url {
    bool https;
    char host[256]; /* without brackets for IPv6 literals */
    char port[8];
    char path[1024];
    char authority[300]; /* Host header value */
};

/* Returns 0, or -EINVAL with a reason in err. */
int http_url_parse(const char *url, struct http_url *ret, char *err, size_t errsz);

/*
 * POSTs body as application/json with "Authorization: Bearer token" (token
 * may be NULL or "").  An https URL needs pins.  Returns the HTTP status
 * (100..599) or -errno for a connection failure, -ETIMEDOUT when timeout_ms
 * passed, -EPROTO for a reply that is not HTTP (or a TLS failure), -EPERM
 * when the server's key is not pinned.  err receives a short description
 * of failures.
 */
int http_post(const struct http_url *u, const struct tls_pins *pins, const char *token,
              const char *body, size_t len, int timeout_ms, char *err, size_t errsz);

enum push_outcome {
    PUSH_OK,       /* 2xx */
    PUSH_RETRY,    /* network error, timeout, 5xx, 3xx, 408, 1xx: keep and retry */
    PUSH_BACKOFF,  /* 429: keep, and wait longer before retrying */
    PUSH_REJECTED, /* any other 4xx: the document itself is refused */
};

enum push_outcome http_classify(int status_or_errno);
