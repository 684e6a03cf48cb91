/*
 * http: a small HTTP/1.1 client; see http.h.
 */
#include "config.h"

#include "cli/http.h"

#include <errno.h>
#include <string.h>

G_DEFINE_QUARK(kanri_http_error, http_error)

/* ---- URLs ------------------------------------------------------------ */

static bool all_graph(const char *s)
{
    for (; *s; s++) {
        if (!g_ascii_isgraph(*s))
            return false;
    }
    return true;
}

void http_url_clear(struct http_url *url)
{
    if (!url)
        return;
    g_clear_pointer(&url->host, g_free);
    g_clear_pointer(&url->prefix, g_free);
    url->port = 0;
}

static bool parse_port(const char *s, guint16 *ret)
{
    guint64 v = 0;

    if (!*s || strlen(s) > 5)
        return false;
    for (const char *c = s; *c; c++) {
        if (!g_ascii_isdigit(*c))
            return false;
        v = v * 10 + (guint64)(*c - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    *ret = (guint16)v;
    return true;
}

bool http_url_parse(const char *url, struct http_url *ret, GError **error)
{
    g_autofree char *authority = NULL;
    g_autofree char *host = NULL;
    g_autofree char *prefix = NULL;
    const char *port_str = NULL;
    guint16 port = 80;

    memset(ret, 0, sizeof(*ret));
    if (g_ascii_strncasecmp(url, "https://", 8) == 0) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL,
                    "invalid URL '%s': https is not supported yet, use http://", url);
        return false;
    }
    if (g_ascii_strncasecmp(url, "http://", 7) != 0) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL,
                    "invalid URL '%s': it must start with http://", url);
        return false;
    }
    if (!all_graph(url)) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL,
                    "invalid URL '%s': spaces and control characters are not allowed", url);
        return false;
    }

    const char *auth = url + 7;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    if (strpbrk(rest, "?#")) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL,
                    "invalid URL '%s': a query or fragment is not allowed", url);
        return false;
    }
    authority = g_strndup(auth, alen);
    if (strchr(authority, '@')) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL,
                    "invalid URL '%s': user information is not supported", url);
        return false;
    }

    if (authority[0] == '[') {
        char *close = strchr(authority, ']');
        if (!close || close == authority + 1 || (close[1] != '\0' && close[1] != ':')) {
            g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL,
                        "invalid URL '%s': malformed IPv6 address", url);
            return false;
        }
        host = g_strndup(authority + 1, (size_t)(close - authority - 1));
        if (close[1] == ':')
            port_str = close + 2;
    } else {
        char *colon = strchr(authority, ':');
        if (colon) {
            if (strchr(colon + 1, ':')) {
                g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL,
                            "invalid URL '%s': put an IPv6 address in brackets", url);
                return false;
            }
            port_str = colon + 1;
            host = g_strndup(authority, (size_t)(colon - authority));
        } else {
            host = g_strdup(authority);
        }
    }
    if (!*host) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL, "invalid URL '%s': no host", url);
        return false;
    }
    /* An empty port ("host:") means the scheme's default, as RFC 3986 says. */
    if (port_str && *port_str && !parse_port(port_str, &port)) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL,
                    "invalid URL '%s': the port must be a number from 1 to 65535", url);
        return false;
    }

    prefix = g_strdup(rest);
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/')
        prefix[--plen] = '\0';

    ret->host = g_steal_pointer(&host);
    ret->port = port;
    ret->prefix = g_steal_pointer(&prefix);
    return true;
}

char *http_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    GString *out = g_string_sized_new(strlen(s) + 16);

    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (g_ascii_isalnum(*c) || *c == '-' || *c == '.' || *c == '_' || *c == '~' || *c == ':') {
            g_string_append_c(out, (char)*c);
        } else {
            g_string_append_c(out, '%');
            g_string_append_c(out, hex[*c >> 4]);
            g_string_append_c(out, hex[*c & 0xf]);
        }
    }
    return g_string_free(out, FALSE);
}

/* ---- responses ------------------------------------------------------- */

static void header_clear(gpointer data)
{
    struct http_header *h = data;

    g_free(h->name);
    g_free(h->value);
}

static struct http_response *response_new(void)
{
    struct http_response *resp = g_new0(struct http_response, 1);

    resp->headers = g_array_new(FALSE, TRUE, sizeof(struct http_header));
    g_array_set_clear_func(resp->headers, header_clear);
    return resp;
}

void http_response_free(struct http_response *resp)
{
    if (!resp)
        return;
    g_free(resp->reason);
    if (resp->headers)
        g_array_unref(resp->headers);
    g_free(resp->body);
    g_free(resp);
}

const char *http_response_header(const struct http_response *resp, const char *name)
{
    for (guint i = 0; i < resp->headers->len; i++) {
        const struct http_header *h = &g_array_index(resp->headers, struct http_header, i);
        if (g_ascii_strcasecmp(h->name, name) == 0)
            return h->value;
    }
    return NULL;
}

/* ---- the parser ------------------------------------------------------ */

enum parser_state {
    PS_STATUS,      /* waiting for the status line */
    PS_HEADER,      /* header field lines until an empty line */
    PS_BODY_LENGTH, /* Content-Length bytes */
    PS_BODY_CLOSE,  /* everything until the connection closes */
    PS_CHUNK_SIZE,  /* a chunk-size line */
    PS_CHUNK_DATA,  /* chunk bytes */
    PS_CHUNK_END,   /* the CRLF after chunk bytes */
    PS_TRAILER,     /* trailer field lines after the last chunk */
    PS_DONE,
    PS_FAILED,
};

struct http_parser {
    enum parser_state state;
    size_t max_body;
    bool head_request;
    bool got_bytes;    /* anything at all was received */
    GByteArray *in;    /* received bytes not consumed yet */
    size_t head_bytes; /* size of the current header or trailer section so far */
    guint nfields;     /* header fields in the current section */
    guint64 remaining; /* bytes of the body or chunk still to come */
    guint64 length;    /* the Content-Length, for messages */
    GByteArray *body;
    struct http_response *resp;
};

struct http_parser *http_parser_new(size_t max_body, bool head_request)
{
    struct http_parser *p = g_new0(struct http_parser, 1);

    p->state = PS_STATUS;
    p->max_body = max_body;
    p->head_request = head_request;
    p->in = g_byte_array_new();
    p->body = g_byte_array_new();
    p->resp = response_new();
    return p;
}

void http_parser_free(struct http_parser *p)
{
    if (!p)
        return;
    g_byte_array_unref(p->in);
    g_byte_array_unref(p->body);
    http_response_free(p->resp);
    g_free(p);
}

static enum http_parse_result fail(struct http_parser *p, GError **error, int code, const char *fmt,
                                   ...) G_GNUC_PRINTF(4, 5);

static enum http_parse_result fail(struct http_parser *p, GError **error, int code, const char *fmt,
                                   ...)
{
    va_list ap;

    p->state = PS_FAILED;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, HTTP_ERROR, code, msg);
    return HTTP_PARSE_ERROR;
}

static void complete(struct http_parser *p)
{
    g_byte_array_append(p->body, (const guint8 *)"", 1);
    p->resp->body_len = p->body->len - 1;
    p->resp->body = (char *)g_byte_array_free(g_steal_pointer(&p->body), FALSE);
    p->body = g_byte_array_new();
    p->state = PS_DONE;
}

static bool is_tchar(char c)
{
    return g_ascii_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static char *strip_ows(const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    return g_strndup(s, len);
}

static enum http_parse_result parse_status_line(struct http_parser *p, const char *line, size_t len,
                                                GError **error)
{
    /* "HTTP/1.x SSS[ reason]"; the reason phrase may be empty or absent. */
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || !g_ascii_isdigit(line[7]) ||
        line[8] != ' ' || !g_ascii_isdigit(line[9]) || !g_ascii_isdigit(line[10]) ||
        !g_ascii_isdigit(line[11]) || (len > 12 && line[12] != ' ')) {
        return fail(p, error, HTTP_ERROR_PROTOCOL, "not an HTTP/1.x status line: '%.*s'",
                    (int)MIN(len, 80), line);
    }
    int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (status < 100 || status > 599)
        return fail(p, error, HTTP_ERROR_PROTOCOL, "invalid HTTP status %d", status);
    p->resp->status = status;
    g_free(p->resp->reason);
    p->resp->reason = len > 13 ? g_strndup(line + 13, len - 13) : g_strdup("");
    p->state = PS_HEADER;
    return HTTP_PARSE_MORE;
}

static enum http_parse_result parse_field_line(struct http_parser *p, const char *line, size_t len,
                                               bool trailer, GError **error)
{
    if (++p->nfields > HTTP_MAX_HEADER_FIELDS)
        return fail(p, error, HTTP_ERROR_TOO_LARGE, "more than %d header fields",
                    HTTP_MAX_HEADER_FIELDS);
    /* Trailers carry nothing kanri uses; they are only checked and bounded. */
    if (trailer)
        return HTTP_PARSE_MORE;

    if (line[0] == ' ' || line[0] == '\t') {
        /* Obsolete line folding: RFC 9112 asks clients to replace it with a space. */
        GArray *hs = p->resp->headers;
        if (hs->len == 0)
            return fail(p, error, HTTP_ERROR_PROTOCOL, "continuation line before any header");
        struct http_header *prev = &g_array_index(hs, struct http_header, hs->len - 1);
        g_autofree char *more = strip_ows(line, len);
        char *joined = g_strconcat(prev->value, " ", more, NULL);
        g_free(prev->value);
        prev->value = joined;
        return HTTP_PARSE_MORE;
    }

    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
        return fail(p, error, HTTP_ERROR_PROTOCOL, "malformed header line: '%.*s'",
                    (int)MIN(len, 80), line);
    for (const char *c = line; c < colon; c++) {
        if (!is_tchar(*c))
            return fail(p, error, HTTP_ERROR_PROTOCOL, "invalid header name: '%.*s'",
                        (int)MIN((size_t)(colon - line), 80), line);
    }
    struct http_header h = {
        .name = g_strndup(line, (size_t)(colon - line)),
        .value = strip_ows(colon + 1, len - (size_t)(colon - line) - 1),
    };
    g_array_append_val(p->resp->headers, h);
    return HTTP_PARSE_MORE;
}

/* The last transfer coding named in all Transfer-Encoding fields, or NULL. */
static char *last_transfer_coding(const struct http_response *resp)
{
    char *last = NULL;

    for (guint i = 0; i < resp->headers->len; i++) {
        const struct http_header *h = &g_array_index(resp->headers, struct http_header, i);
        if (g_ascii_strcasecmp(h->name, "Transfer-Encoding") != 0)
            continue;
        g_auto(GStrv) parts = g_strsplit(h->value, ",", -1);
        for (char **part = parts; *part; part++) {
            char *t = g_strstrip(*part);
            if (*t) {
                g_free(last);
                last = g_strdup(t);
            }
        }
    }
    return last;
}

/* Content-Length: every value, including comma-separated repeats, must be
 * the same decimal number (RFC 9110 §8.6); returns -1 on conflict or junk,
 * 0 when absent, 1 with *ret set. */
static int content_length(const struct http_response *resp, guint64 *ret)
{
    bool found = false;
    guint64 value = 0;

    for (guint i = 0; i < resp->headers->len; i++) {
        const struct http_header *h = &g_array_index(resp->headers, struct http_header, i);
        if (g_ascii_strcasecmp(h->name, "Content-Length") != 0)
            continue;
        if (!*h->value)
            return -1;
        g_auto(GStrv) parts = g_strsplit(h->value, ",", -1);
        for (char **part = parts; *part; part++) {
            const char *t = g_strstrip(*part);
            guint64 v = 0;
            if (!*t || strlen(t) > 19)
                return -1;
            for (const char *c = t; *c; c++) {
                if (!g_ascii_isdigit(*c))
                    return -1;
                v = v * 10 + (guint64)(*c - '0');
            }
            if (found && v != value)
                return -1;
            found = true;
            value = v;
        }
    }
    if (!found)
        return 0;
    *ret = value;
    return 1;
}

static enum http_parse_result end_of_headers(struct http_parser *p, GError **error)
{
    int status = p->resp->status;

    if (status >= 100 && status < 200) {
        if (status == 101)
            return fail(p, error, HTTP_ERROR_PROTOCOL, "unexpected 101 Switching Protocols");
        /* An interim response; the real one follows on the same connection. */
        g_array_set_size(p->resp->headers, 0);
        p->nfields = 0;
        p->head_bytes = 0;
        p->state = PS_STATUS;
        return HTTP_PARSE_MORE;
    }
    if (p->head_request || status == 204 || status == 304) {
        complete(p);
        return HTTP_PARSE_DONE;
    }

    g_autofree char *coding = last_transfer_coding(p->resp);
    if (coding) {
        /* Transfer-Encoding overrides Content-Length; a final coding other
         * than chunked means the body runs until the connection closes. */
        p->state = g_ascii_strcasecmp(coding, "chunked") == 0 ? PS_CHUNK_SIZE : PS_BODY_CLOSE;
        p->head_bytes = 0;
        return HTTP_PARSE_MORE;
    }

    guint64 len = 0;
    int r = content_length(p->resp, &len);
    if (r < 0)
        return fail(p, error, HTTP_ERROR_PROTOCOL, "invalid or conflicting Content-Length");
    if (r == 0) {
        p->state = PS_BODY_CLOSE;
        return HTTP_PARSE_MORE;
    }
    if (len > p->max_body)
        return fail(p, error, HTTP_ERROR_TOO_LARGE,
                    "response body of %" G_GUINT64_FORMAT " bytes exceeds the limit of %zu", len,
                    p->max_body);
    if (len == 0) {
        complete(p);
        return HTTP_PARSE_DONE;
    }
    p->length = p->remaining = len;
    p->state = PS_BODY_LENGTH;
    return HTTP_PARSE_MORE;
}

static enum http_parse_result parse_chunk_size(struct http_parser *p, const char *line, size_t len,
                                               GError **error)
{
    guint64 size = 0;
    size_t i = 0;

    for (; i < len && g_ascii_isxdigit(line[i]); i++) {
        if (i >= 15)
            return fail(p, error, HTTP_ERROR_TOO_LARGE, "chunk size too large");
        size = size * 16 + (guint64)g_ascii_xdigit_value(line[i]);
    }
    if (i == 0)
        return fail(p, error, HTTP_ERROR_PROTOCOL, "malformed chunk size line: '%.*s'",
                    (int)MIN(len, 80), line);
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i < len && line[i] != ';')
        return fail(p, error, HTTP_ERROR_PROTOCOL, "malformed chunk size line: '%.*s'",
                    (int)MIN(len, 80), line);
    if (size == 0) {
        p->state = PS_TRAILER;
        p->head_bytes = 0;
        p->nfields = 0;
        return HTTP_PARSE_MORE;
    }
    if (size > p->max_body - p->body->len)
        return fail(p, error, HTTP_ERROR_TOO_LARGE, "response body exceeds the limit of %zu bytes",
                    p->max_body);
    p->remaining = size;
    p->state = PS_CHUNK_DATA;
    return HTTP_PARSE_MORE;
}

static enum http_parse_result handle_line(struct http_parser *p, const char *line, size_t len,
                                          GError **error)
{
    if (memchr(line, '\0', len))
        return fail(p, error, HTTP_ERROR_PROTOCOL, "NUL byte in the response header");

    switch (p->state) {
    case PS_STATUS:
        return parse_status_line(p, line, len, error);
    case PS_HEADER:
        if (len == 0)
            return end_of_headers(p, error);
        return parse_field_line(p, line, len, false, error);
    case PS_TRAILER:
        if (len == 0) {
            complete(p);
            return HTTP_PARSE_DONE;
        }
        return parse_field_line(p, line, len, true, error);
    case PS_CHUNK_SIZE:
        return parse_chunk_size(p, line, len, error);
    case PS_CHUNK_END:
        if (len != 0)
            return fail(p, error, HTTP_ERROR_PROTOCOL, "chunk data is longer than its size");
        p->state = PS_CHUNK_SIZE;
        return HTTP_PARSE_MORE;
    default:
        g_assert_not_reached();
    }
}

static bool is_line_state(enum parser_state s)
{
    return s == PS_STATUS || s == PS_HEADER || s == PS_TRAILER || s == PS_CHUNK_SIZE ||
           s == PS_CHUNK_END;
}

enum http_parse_result http_parser_feed(struct http_parser *p, const void *data, size_t len,
                                        GError **error)
{
    enum http_parse_result r = HTTP_PARSE_MORE;
    size_t pos = 0;

    if (p->state == PS_FAILED) {
        g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_PROTOCOL,
                            "the response parser has already failed");
        return HTTP_PARSE_ERROR;
    }
    if (p->state == PS_DONE)
        return HTTP_PARSE_DONE;
    if (len > 0)
        p->got_bytes = true;
    g_byte_array_append(p->in, data, (guint)len);

    while (r == HTTP_PARSE_MORE) {
        size_t avail = p->in->len - pos;
        /* An empty GByteArray may have no buffer at all. */
        const char *ptr = avail ? (const char *)p->in->data + pos : "";

        if (is_line_state(p->state)) {
            bool in_head = p->state == PS_STATUS || p->state == PS_HEADER || p->state == PS_TRAILER;
            size_t limit = in_head ? HTTP_MAX_HEADER_BYTES - p->head_bytes : HTTP_MAX_LINE_BYTES;
            const char *nl = avail ? memchr(ptr, '\n', MIN(avail, limit)) : NULL;
            if (!nl) {
                if (avail >= limit)
                    return fail(p, error, HTTP_ERROR_TOO_LARGE,
                                in_head ? "response header section larger than %zu bytes"
                                        : "chunk size line longer than %zu bytes",
                                in_head ? (size_t)HTTP_MAX_HEADER_BYTES
                                        : (size_t)HTTP_MAX_LINE_BYTES);
                break;
            }
            size_t consumed = (size_t)(nl - ptr) + 1;
            size_t linelen = consumed - 1;
            /* CRLF is the terminator; a bare LF is accepted as RFC 9112 allows. */
            if (linelen > 0 && ptr[linelen - 1] == '\r')
                linelen--;
            pos += consumed;
            if (in_head)
                p->head_bytes += consumed;
            r = handle_line(p, ptr, linelen, error);
            continue;
        }

        switch (p->state) {
        case PS_BODY_LENGTH:
        case PS_CHUNK_DATA: {
            size_t n = (size_t)MIN((guint64)avail, p->remaining);
            if (n == 0)
                goto need_more;
            g_byte_array_append(p->body, (const guint8 *)ptr, (guint)n);
            p->remaining -= n;
            pos += n;
            if (p->remaining == 0) {
                if (p->state == PS_CHUNK_DATA) {
                    p->state = PS_CHUNK_END;
                } else {
                    complete(p);
                    r = HTTP_PARSE_DONE;
                }
            }
            break;
        }
        case PS_BODY_CLOSE:
            if (avail == 0)
                goto need_more;
            if (avail > p->max_body - p->body->len)
                return fail(p, error, HTTP_ERROR_TOO_LARGE,
                            "response body exceeds the limit of %zu bytes", p->max_body);
            g_byte_array_append(p->body, (const guint8 *)ptr, (guint)avail);
            pos += avail;
            break;
        case PS_DONE:
            r = HTTP_PARSE_DONE;
            break;
        default:
            g_assert_not_reached();
        }
    }
need_more:
    if (r == HTTP_PARSE_ERROR)
        return r;
    g_byte_array_remove_range(p->in, 0, (guint)pos);
    return r;
}

bool http_parser_finish(struct http_parser *p, GError **error)
{
    switch (p->state) {
    case PS_DONE:
        return true;
    case PS_BODY_CLOSE:
        complete(p);
        return true;
    case PS_FAILED:
        g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_PROTOCOL,
                            "the response parser has already failed");
        return false;
    case PS_STATUS:
        if (!p->got_bytes) {
            g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_TRUNCATED,
                                "the server closed the connection without a response");
            break;
        }
        /* fall through */
    case PS_HEADER:
        g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_TRUNCATED,
                            "the connection closed in the middle of the response header");
        break;
    case PS_BODY_LENGTH:
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_TRUNCATED,
                    "the connection closed after %u of %" G_GUINT64_FORMAT " body bytes",
                    p->body->len, p->length);
        break;
    default:
        g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_TRUNCATED,
                            "the connection closed in the middle of a chunked body");
        break;
    }
    p->state = PS_FAILED;
    return false;
}

struct http_response *http_parser_steal_response(struct http_parser *p)
{
    if (p->state != PS_DONE || !p->resp)
        return NULL;
    return g_steal_pointer(&p->resp);
}

struct http_response *http_response_parse(const void *data, size_t len, size_t max_body,
                                          GError **error)
{
    g_autoptr(http_parser) p = http_parser_new(max_body, false);
    enum http_parse_result r = http_parser_feed(p, data, len, error);

    if (r == HTTP_PARSE_ERROR)
        return NULL;
    if (r == HTTP_PARSE_MORE && !http_parser_finish(p, error))
        return NULL;
    return http_parser_steal_response(p);
}

/* ---- requests -------------------------------------------------------- */

GString *http_request_format(const struct http_url *url, const struct http_request *req,
                             GError **error)
{
    if (!req->method[0] || !all_graph(req->method) || req->path[0] != '/' ||
        !all_graph(req->path)) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL, "invalid request target '%s %s'",
                    req->method, req->path);
        return NULL;
    }
    /* A token with a space, CR or LF would let its holder inject header
     * lines; the server only ever issues printable ASCII tokens. */
    if (req->token && (!req->token[0] || !all_graph(req->token))) {
        g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_URL,
                            "the token holds characters that cannot be sent");
        return NULL;
    }

    GString *s = g_string_sized_new(256 + req->body_len);
    g_string_append_printf(s, "%s %s%s HTTP/1.1\r\n", req->method, url->prefix, req->path);
    if (strchr(url->host, ':'))
        g_string_append_printf(s, "Host: [%s]:%u\r\n", url->host, url->port);
    else
        g_string_append_printf(s, "Host: %s:%u\r\n", url->host, url->port);
    g_string_append(s, "User-Agent: kanri/" KANRI_VERSION "\r\n"
                       "Accept: application/json, application/problem+json\r\n"
                       "Connection: close\r\n");
    if (req->token)
        g_string_append_printf(s, "Authorization: Bearer %s\r\n", req->token);
    if (req->body) {
        g_string_append_printf(s, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                               req->content_type ? req->content_type : "application/json",
                               req->body_len);
    } else if (strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
               strcmp(req->method, "PATCH") == 0) {
        g_string_append(s, "Content-Length: 0\r\n");
    }
    g_string_append(s, "\r\n");
    if (req->body)
        g_string_append_len(s, req->body, (gssize)req->body_len);
    return s;
}

static void set_io_error(GError **error, GError *io, const char *what, guint timeout_s)
{
    if (g_error_matches(io, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_TIMEOUT, "timed out %s after %u s", what,
                    timeout_s);
    else
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_IO, "%s: %s", what, io->message);
}

static struct http_response *read_response(GInputStream *in, const struct http_request *req,
                                           guint timeout_s, size_t max_body, GError **error)
{
    g_autoptr(http_parser) p = http_parser_new(max_body, strcmp(req->method, "HEAD") == 0);
    g_autofree guint8 *buf = g_malloc(64 * 1024);

    for (;;) {
        g_autoptr(GError) io = NULL;
        gssize n = g_input_stream_read(in, buf, 64 * 1024, NULL, &io);
        if (n < 0) {
            set_io_error(error, io, "reading the response", timeout_s);
            return NULL;
        }
        if (n == 0) {
            if (!http_parser_finish(p, error))
                return NULL;
            break;
        }
        enum http_parse_result r = http_parser_feed(p, buf, (size_t)n, error);
        if (r == HTTP_PARSE_ERROR)
            return NULL;
        if (r == HTTP_PARSE_DONE)
            break;
    }
    return http_parser_steal_response(p);
}

struct http_response *http_perform(const struct http_url *url, const struct http_request *req,
                                   guint timeout_s, size_t max_body, GError **error)
{
    g_autoptr(GError) io = NULL;
    g_autoptr(GString) out = http_request_format(url, req, error);

    if (!out)
        return NULL;

    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_socket_client_set_timeout(client, timeout_s);
    /* kanri talks to its own manager; a desktop proxy setting must not
     * reroute (and possibly log) requests that carry bearer tokens. */
    g_socket_client_set_enable_proxy(client, FALSE);

    g_autoptr(GSocketConnectable) addr = g_network_address_new(url->host, url->port);
    g_autoptr(GSocketConnection) conn = g_socket_client_connect(client, addr, NULL, &io);
    if (!conn) {
        if (g_error_matches(io, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            g_set_error(error, HTTP_ERROR, HTTP_ERROR_TIMEOUT, "timed out connecting after %u s",
                        timeout_s);
        else
            g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_CONNECT, io->message);
        return NULL;
    }

    GOutputStream *os = g_io_stream_get_output_stream(G_IO_STREAM(conn));
    GInputStream *is = g_io_stream_get_input_stream(G_IO_STREAM(conn));
    gsize written = 0;
    if (!g_output_stream_write_all(os, out->str, out->len, &written, NULL, &io)) {
        /* The server may answer early and close, e.g. 413 for a large body;
         * that answer says more than the broken pipe does. */
        g_autoptr(GError) rerr = NULL;
        struct http_response *resp = NULL;
        if (!g_error_matches(io, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            resp = read_response(is, req, timeout_s, max_body, &rerr);
        if (resp)
            return resp;
        set_io_error(error, io, "sending the request", timeout_s);
        return NULL;
    }

    struct http_response *resp = read_response(is, req, timeout_s, max_body, error);
    g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
    return resp;
}
