/*
 * http: the kanri command-line tool's HTTP client, a thin layer over
 * libcurl's easy interface.
 *
 * One call performs one request against kanrid's base URL (http:// or
 * https://) and hands back status, headers and body, or a GError in
 * HTTP_ERROR whose code says what kind of failure it was, so the caller
 * can pick an exit code and a hint.  What this layer adds to libcurl is
 * policy: certificate verification is always on for https (a CA bundle
 * given with http_options.cacert, else the system's), an optional pinned
 * public key, no proxies, no redirects, and bounds on everything read from
 * the network (header count and size, body size).
 *
 * URL parsing and percent-encoding are ours because the CLI wants its own
 * rules and messages for them; neither touches the network.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_ERROR (http_error_quark())
GQuark http_error_quark(void);

enum http_error_code {
    HTTP_ERROR_URL,       /* the URL or request is malformed, or not http(s):// */
    HTTP_ERROR_CONNECT,   /* could not connect (refused, unreachable, name lookup) */
    HTTP_ERROR_TIMEOUT,   /* connecting, or waiting for the server, took too long */
    HTTP_ERROR_IO,        /* the connection failed while sending or receiving */
    HTTP_ERROR_TRUNCATED, /* the connection closed before the response was complete */
    HTTP_ERROR_PROTOCOL,  /* the response is not valid HTTP */
    HTTP_ERROR_TOO_LARGE, /* header section or body over its bound */
    HTTP_ERROR_TLS,       /* the TLS handshake failed, or a CA file is unusable */
    HTTP_ERROR_CERT,      /* the server's certificate could not be verified */
    HTTP_ERROR_PIN,       /* the server's public key does not match the pinned one */
};

/* Bounds on what is accepted from the server. */
#define HTTP_MAX_HEADER_BYTES  (64 * 1024)
#define HTTP_MAX_HEADER_FIELDS 100
#define HTTP_DEFAULT_MAX_BODY  ((size_t)64 * 1024 * 1024)

/* A parsed base URL "http[s]://host[:port][/prefix]".  scheme is "http" or
 * "https" (lower case); host has no brackets (an IPv6 literal is stored
 * bare); port is the scheme's default (80, 443) when the URL has none;
 * prefix is "" or starts with '/' and has no trailing '/'.  base is the
 * URL put back together from these parts, which is what requests go to.
 * Owned strings; free with http_url_clear(). */
struct http_url {
    char *scheme;
    char *host;
    guint16 port;
    char *prefix;
    char *base;
};

/* Parses and checks url (libcurl must accept the result too); on failure
 * *ret is left zeroed and error says what is wrong (HTTP_ERROR_URL). */
bool http_url_parse(const char *url, struct http_url *ret, GError **error);
void http_url_clear(struct http_url *url);

/* Percent-encodes s for use as one path segment or query value: every byte
 * except RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) and ':'
 * becomes %XX, so '/', '?', '#', '&', '=', '%', spaces, control and
 * non-ASCII bytes are all safe.  ':' stays literal because the API's
 * "host:name" form of a VM reference must reach the server as written,
 * whether it splits before or after decoding.  Bytes are taken as they are;
 * the result is g_free'd by the caller. */
char *http_escape(const char *s);

/* Whether pin is a public key pin as libcurl's CURLOPT_PINNEDPUBLICKEY
 * takes it and the CLI accepts it: one or more "sha256//BASE64" separated
 * by ';', each BASE64 the standard (padded) encoding of a 32-byte SHA-256
 * digest of the server's DER-encoded SubjectPublicKeyInfo.  libcurl would
 * read anything else as a file name, which is not what --pin means. */
bool http_pin_valid(const char *pin);

struct http_header {
    char *name;  /* as received */
    char *value; /* leading and trailing whitespace removed */
};

struct http_response {
    int status;
    char *reason;    /* the status line's reason phrase; "" when there is none (HTTP/2) */
    GArray *headers; /* of struct http_header, in arrival order, of the final response */
    char *body;      /* always NUL-terminated (the NUL is not in body_len) */
    size_t body_len;
};

void http_response_free(struct http_response *resp);
typedef struct http_response http_response; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(http_response, http_response_free)

/* First header named name (case-insensitive), or NULL. */
const char *http_response_header(const struct http_response *resp, const char *name);

struct http_request {
    const char *method; /* "GET", "POST", "DELETE", ... */
    const char *path;   /* absolute, already escaped, may hold a query; the URL prefix is added */
    const char *token;  /* bearer token, or NULL for no Authorization header */
    const char *content_type; /* of body; NULL means application/json */
    const char *body;         /* NULL for no body */
    size_t body_len;
};

struct http_options {
    /* Bounds connecting (TCP and TLS handshake) and, once connected, how
     * long the server may send nothing at all; 0: no timeout. */
    guint timeout_s;
    size_t max_body; /* the transfer is aborted once the body exceeds this */
    /* https only.  cacert: a PEM file of CA certificates (or the server's
     * self-signed certificate) that replaces the system's trust store.
     * pin: see http_pin_valid(); when set without cacert, the pin alone
     * authenticates the server and the certificate chain and name are not
     * checked, which is what lets an operator trust a self-signed kanrid
     * without a CA.  With both, both must hold. */
    const char *cacert;
    const char *pin;
};

/* Sends req to url and reads the response.  Returns the response whatever
 * its status, or NULL with error set (HTTP_ERROR domain).  Fails with
 * HTTP_ERROR_URL, before connecting, when the method, path or token hold
 * bytes that would break the request (spaces, control characters). */
struct http_response *http_perform(const struct http_url *url, const struct http_request *req,
                                   const struct http_options *opts, GError **error);
