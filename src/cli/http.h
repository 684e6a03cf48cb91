/*
 * http: a small HTTP/1.1 client for the kanri command-line tool.
 *
 * Only what talking to kanrid needs: plain http:// URLs, one request per
 * connection ("Connection: close"), bodies framed by Content-Length, by
 * Transfer-Encoding: chunked or by the end of the connection.  Everything
 * read from the network is bounded: the header section, the number of
 * header fields, chunk-size lines and the body (the caller's max_body).
 *
 * The response parser is incremental and does no I/O, so tests feed it
 * arbitrary byte sequences; http_perform() wires it to a GSocketClient.
 */
#pragma once

#include <gio/gio.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_ERROR (http_error_quark())
GQuark http_error_quark(void);

enum http_error_code {
    HTTP_ERROR_URL,       /* the URL is malformed or not http:// */
    HTTP_ERROR_CONNECT,   /* could not connect (refused, unreachable, name lookup) */
    HTTP_ERROR_TIMEOUT,   /* connect, write or read took longer than the timeout */
    HTTP_ERROR_IO,        /* the connection failed while sending or receiving */
    HTTP_ERROR_TRUNCATED, /* the connection closed before the response was complete */
    HTTP_ERROR_PROTOCOL,  /* the response is not valid HTTP/1.x */
    HTTP_ERROR_TOO_LARGE, /* header section or body over its bound */
};

/* Bounds on what the parser accepts from the server. */
#define HTTP_MAX_HEADER_BYTES  (64 * 1024)
#define HTTP_MAX_HEADER_FIELDS 100
#define HTTP_MAX_LINE_BYTES    1024 /* chunk-size lines */
#define HTTP_DEFAULT_MAX_BODY  ((size_t)64 * 1024 * 1024)

/* A parsed base URL "http://host[:port][/prefix]".  host has no brackets
 * (an IPv6 literal is stored bare); prefix is "" or starts with '/' and has
 * no trailing '/'.  Owned strings; free with http_url_clear(). */
struct http_url {
    char *host;
    guint16 port;
    char *prefix;
};

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

struct http_header {
    char *name;  /* as received */
    char *value; /* leading and trailing whitespace removed */
};

struct http_response {
    int status;
    char *reason;
    GArray *headers; /* of struct http_header, in arrival order */
    char *body;      /* always NUL-terminated (the NUL is not in body_len) */
    size_t body_len;
};

void http_response_free(struct http_response *resp);
typedef struct http_response http_response; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(http_response, http_response_free)

/* First header named name (case-insensitive), or NULL. */
const char *http_response_header(const struct http_response *resp, const char *name);

enum http_parse_result {
    HTTP_PARSE_ERROR = -1,
    HTTP_PARSE_MORE = 0,
    HTTP_PARSE_DONE = 1,
};

struct http_parser;

/* max_body bounds the decoded body.  head_request: the request was HEAD, so
 * the response has no body whatever its headers say. */
struct http_parser *http_parser_new(size_t max_body, bool head_request);
void http_parser_free(struct http_parser *p);
typedef struct http_parser http_parser; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(http_parser, http_parser_free)

/* Feeds the next bytes received.  Returns HTTP_PARSE_DONE once a complete
 * response has been read (later bytes are ignored), HTTP_PARSE_MORE when more
 * input is needed, HTTP_PARSE_ERROR with error set on bad or oversized input;
 * after an error the parser stays failed. */
enum http_parse_result http_parser_feed(struct http_parser *p, const void *data, size_t len,
                                        GError **error);

/* Tells the parser the connection has closed.  Completes a body delimited by
 * the close; otherwise fails with HTTP_ERROR_TRUNCATED unless the response
 * was already complete.  Returns true when a complete response is there. */
bool http_parser_finish(struct http_parser *p, GError **error);

/* Hands over the complete response (NULL before HTTP_PARSE_DONE or
 * http_parser_finish() succeeded).  The caller frees it. */
struct http_response *http_parser_steal_response(struct http_parser *p);

/* Parses one complete response held in memory (feed, then finish). */
struct http_response *http_response_parse(const void *data, size_t len, size_t max_body,
                                          GError **error);

struct http_request {
    const char *method; /* "GET", "POST", "DELETE", ... */
    const char *path;   /* absolute, already escaped, may hold a query; the URL prefix is added */
    const char *token;  /* bearer token, or NULL for no Authorization header */
    const char *content_type; /* of body; NULL when there is no body */
    const char *body;
    size_t body_len;
};

/* The request bytes http_perform() sends.  Fails (HTTP_ERROR_URL) when the
 * path or token hold bytes that would break the request framing. */
GString *http_request_format(const struct http_url *url, const struct http_request *req,
                             GError **error);

/* Connects, sends req and reads the response.  timeout_s bounds the connect
 * and each read or write (0: no timeout).  Returns the response whatever
 * its status, or NULL with error set (HTTP_ERROR domain). */
struct http_response *http_perform(const struct http_url *url, const struct http_request *req,
                                   guint timeout_s, size_t max_body, GError **error);
