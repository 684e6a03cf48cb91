/*
 * http: the CLI's HTTP client on libcurl; see http.h.
 */
#include "config.h"

#include "cli/http.h"

#include <curl/curl.h>
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
    g_clear_pointer(&url->scheme, g_free);
    g_clear_pointer(&url->host, g_free);
    g_clear_pointer(&url->prefix, g_free);
    g_clear_pointer(&url->base, g_free);
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

static void global_init(void)
{
    static gsize done;

    /* Not thread-safe in older libcurls, hence once, before any handle. */
    if (g_once_init_enter(&done)) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        g_once_init_leave(&done, 1);
    }
}

/* libcurl parses the URL again when it performs a request; checking now
 * makes a URL it would refuse a usage error at start-up rather than a
 * failure later, and guarantees both parsers saw the same authority. */
static bool curl_accepts(const char *url, GError **error)
{
    global_init();
    CURLU *u = curl_url();
    if (!u) {
        g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_URL, "out of memory");
        return false;
    }
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    curl_url_cleanup(u);
    if (rc != CURLUE_OK) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL, "invalid URL '%s': %s", url,
                    curl_url_strerror(rc));
        return false;
    }
    return true;
}

bool http_url_parse(const char *url, struct http_url *ret, GError **error)
{
    g_autofree char *authority = NULL;
    g_autofree char *host = NULL;
    g_autofree char *prefix = NULL;
    const char *port_str = NULL;
    const char *scheme;
    size_t skip;
    guint16 port;

    memset(ret, 0, sizeof(*ret));
    if (g_ascii_strncasecmp(url, "http://", 7) == 0) {
        scheme = "http";
        skip = 7;
        port = 80;
    } else if (g_ascii_strncasecmp(url, "https://", 8) == 0) {
        scheme = "https";
        skip = 8;
        port = 443;
    } else {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL,
                    "invalid URL '%s': it must start with http:// or https://", url);
        return false;
    }
    if (!all_graph(url)) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL,
                    "invalid URL '%s': spaces and control characters are not allowed", url);
        return false;
    }

    const char *auth = url + skip;
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

    bool v6 = strchr(host, ':') != NULL;
    g_autofree char *base = g_strdup_printf("%s://%s%s%s:%u%s", scheme, v6 ? "[" : "", host,
                                            v6 ? "]" : "", port, prefix);
    if (!curl_accepts(base, error))
        return false;

    ret->scheme = g_strdup(scheme);
    ret->host = g_steal_pointer(&host);
    ret->port = port;
    ret->prefix = g_steal_pointer(&prefix);
    ret->base = g_steal_pointer(&base);
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

/* ---- pins ------------------------------------------------------------ */

/* One "sha256//" + 44 characters of padded base64 for 32 bytes: 42
 * characters of the alphabet, one whose low 2 bits are zero, then '='. */
static bool pin_one_valid(const char *p, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char prefix[] = "sha256//";
    const size_t plen = sizeof(prefix) - 1;

    if (len != plen + 44 || strncmp(p, prefix, plen) != 0)
        return false;
    p += plen;
    for (size_t i = 0; i < 43; i++) {
        const char *at = p[i] ? strchr(b64, p[i]) : NULL;
        if (!at)
            return false;
        /* The 43rd character carries 4 data bits and 2 padding bits. */
        if (i == 42 && ((at - b64) & 3) != 0)
            return false;
    }
    return p[43] == '=';
}

bool http_pin_valid(const char *pin)
{
    if (!pin || !*pin)
        return false;
    for (;;) {
        size_t len = strcspn(pin, ";");
        if (!pin_one_valid(pin, len))
            return false;
        if (!pin[len])
            return true;
        pin += len + 1;
    }
}

/* ---- responses ------------------------------------------------------- */

static void header_clear(gpointer data)
{
    struct http_header *h = data;

    g_free(h->name);
    g_free(h->value);
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

/* ---- performing a request -------------------------------------------- */

/* What libcurl's callbacks fill in during one transfer. */
struct transfer {
    size_t max_body;
    GByteArray *body;
    GArray *headers;   /* of the response being received */
    char *reason;      /* of the response being received */
    size_t head_bytes; /* header bytes of the response being received */
    bool too_large;    /* a callback stopped the transfer over a bound */
    const char *what;  /* which bound, for the message */
    size_t what_limit;
    const char *what_unit;
};

static char *strip_ows(const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    return g_strndup(s, len);
}

static size_t too_large(struct transfer *t, const char *what, size_t limit, const char *unit)
{
    t->too_large = true;
    t->what = what;
    t->what_limit = limit;
    t->what_unit = unit;
    /* Any count other than the one given makes libcurl abort the transfer. */
    return 0;
}

/* Called once per header line, status lines included.  Interim (1xx)
 * responses come through here too, so each status line starts afresh. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t len = size * nmemb;

    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        g_array_set_size(t->headers, 0);
        g_clear_pointer(&t->reason, g_free);
        t->head_bytes = 0;
        /* "HTTP/1.1 404 Not Found": the reason is after the second space. */
        const char *sp = memchr(data, ' ', len);
        const char *sp2 = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - data)) : NULL;
        t->reason = sp2 ? strip_ows(sp2 + 1, len - (size_t)(sp2 + 1 - data)) : g_strdup("");
    }
    t->head_bytes += len;
    if (t->head_bytes > HTTP_MAX_HEADER_BYTES)
        return too_large(t, "response header section", HTTP_MAX_HEADER_BYTES, " bytes");
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
        return len;

    if (len > 0 && (data[0] == ' ' || data[0] == '\t')) {
        /* An obsolete folded line continues the previous field. */
        if (t->headers->len > 0) {
            struct http_header *h =
                &g_array_index(t->headers, struct http_header, t->headers->len - 1);
            g_autofree char *more = strip_ows(data, len);
            char *joined = g_strjoin(" ", h->value, more, NULL);
            g_free(h->value);
            h->value = joined;
        }
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || colon == data)
        return len; /* the blank line that ends the section, or junk libcurl let through */
    if (t->headers->len >= HTTP_MAX_HEADER_FIELDS)
        return too_large(t, "number of response header fields", HTTP_MAX_HEADER_FIELDS, "");
    struct http_header h = {
        .name = g_strndup(data, (size_t)(colon - data)),
        .value = strip_ows(colon + 1, len - (size_t)(colon + 1 - data)),
    };
    g_array_append_val(t->headers, h);
    return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t len = size * nmemb;

    if (len > t->max_body - t->body->len || len > G_MAXUINT - t->body->len)
        return too_large(t, "response body", t->max_body, " bytes");
    g_byte_array_append(t->body, (const guint8 *)data, (guint)len);
    return len;
}

static bool request_valid(const struct http_request *req, GError **error)
{
    /* '#' would start a fragment that libcurl silently drops; callers
     * escape it (http_escape()) when it is data. */
    if (!req->method[0] || !all_graph(req->method) || req->path[0] != '/' ||
        !all_graph(req->path) || strchr(req->path, '#')) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL, "invalid request target '%s %s'",
                    req->method, req->path);
        return false;
    }
    /* A token with a space, CR or LF would let its holder inject header
     * lines; the server only ever issues printable ASCII tokens. */
    if (req->token && (!req->token[0] || !all_graph(req->token))) {
        g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_URL,
                            "the token holds characters that cannot be sent");
        return false;
    }
    return true;
}

/* "Connection refused" -> "connection refused", to read well after a colon. */
static char *errno_text(long os_errno)
{
    char *s = g_strdup(g_strerror((int)os_errno));

    if (s[0] && g_ascii_isupper(s[0]) && !g_ascii_isupper(s[1]))
        s[0] = g_ascii_tolower(s[0]);
    return s;
}

/* libcurl's own detail, or its generic text for the code when the error
 * buffer is empty. */
static const char *detail(CURLcode rc, const char *errbuf)
{
    return errbuf[0] ? errbuf : curl_easy_strerror(rc);
}

static void set_curl_error(GError **error, CURL *curl, CURLcode rc, const char *errbuf,
                           const struct http_url *url, const struct transfer *t,
                           const struct http_options *opts)
{
    long os_errno = 0;
    curl_off_t connected = 0, tls_done = 0;

    if (t->too_large) {
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_TOO_LARGE, "the %s exceeds the limit of %zu%s",
                    t->what, t->what_limit, t->what_unit);
        return;
    }
    switch (rc) {
    case CURLE_FILESIZE_EXCEEDED:
        /* Content-Length announced more than max_body: refused up front. */
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_TOO_LARGE,
                    "the response body exceeds the limit of %zu bytes", opts->max_body);
        return;
    case CURLE_URL_MALFORMAT:
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_URL, "invalid URL: %s", detail(rc, errbuf));
        return;
    case CURLE_COULDNT_RESOLVE_HOST:
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_CONNECT, "unknown host '%s'", url->host);
        return;
    case CURLE_COULDNT_CONNECT: {
        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
        if (os_errno == 0) {
            g_set_error(error, HTTP_ERROR, HTTP_ERROR_CONNECT, "%s", detail(rc, errbuf));
        } else {
            g_autofree char *why = errno_text(os_errno);
            g_set_error(error, HTTP_ERROR, HTTP_ERROR_CONNECT, "%s", why);
        }
        return;
    }
    case CURLE_OPERATION_TIMEDOUT:
        curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);
        curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME_T, &tls_done);
        if (connected == 0)
            g_set_error(error, HTTP_ERROR, HTTP_ERROR_TIMEOUT, "timed out connecting after %u s",
                        opts->timeout_s);
        else if (strcmp(url->scheme, "https") == 0 && tls_done == 0)
            g_set_error(error, HTTP_ERROR, HTTP_ERROR_TIMEOUT,
                        "timed out in the TLS handshake after %u s", opts->timeout_s);
        else
            g_set_error(error, HTTP_ERROR, HTTP_ERROR_TIMEOUT, "the server sent nothing for %u s",
                        opts->timeout_s);
        return;
    case CURLE_PEER_FAILED_VERIFICATION:
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_CERT,
                    "the server's certificate is not trusted (%s)", detail(rc, errbuf));
        return;
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_PIN,
                            "the server's public key does not match the pinned key");
        return;
    case CURLE_SSL_CACERT_BADFILE:
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_TLS, "cannot use the CA certificate file %s (%s)",
                    opts->cacert ? opts->cacert : "of the system", detail(rc, errbuf));
        return;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_TLS, "TLS failed: %s", detail(rc, errbuf));
        return;
    case CURLE_GOT_NOTHING:
        g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_TRUNCATED,
                            "the server closed the connection without a response");
        return;
    case CURLE_PARTIAL_FILE:
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_TRUNCATED,
                    "the connection closed before the response was complete (%s)",
                    detail(rc, errbuf));
        return;
    case CURLE_RECV_ERROR:
        /* libcurl reports a malformed chunked body as a receive error too;
         * only a socket error sets errno.  (Errors of the TLS layer leave
         * errno 0 as well, so under https it stays an I/O error.) */
        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
        if (os_errno == 0 && strcmp(url->scheme, "http") == 0) {
            g_set_error(error, HTTP_ERROR, HTTP_ERROR_PROTOCOL, "the reply is not valid HTTP (%s)",
                        detail(rc, errbuf));
            return;
        }
        /* fall through */
    case CURLE_SEND_ERROR:
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_IO, "the connection failed: %s",
                    detail(rc, errbuf));
        return;
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* The URL is always http(s)://, so this is a reply without an
         * HTTP status line (libcurl does not accept HTTP/0.9). */
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_PROTOCOL, "the reply is not valid HTTP (%s)",
                    detail(rc, errbuf));
        return;
    default:
        g_set_error(error, HTTP_ERROR, HTTP_ERROR_IO, "%s", detail(rc, errbuf));
        return;
    }
}

typedef struct curl_slist curl_slist; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CURL, curl_easy_cleanup)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(curl_slist, curl_slist_free_all)

/* curl_easy_setopt() fails only for options this libcurl lacks or for
 * out-of-memory; either way the request cannot be made as intended. */
#define SETOPT(curl, opt, val)                                                                     \
    do {                                                                                           \
        if (curl_easy_setopt((curl), (opt), (val)) != CURLE_OK) {                                  \
            g_set_error(error, HTTP_ERROR, HTTP_ERROR_IO, "libcurl refused option %s", #opt);      \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

struct http_response *http_perform(const struct http_url *url, const struct http_request *req,
                                   const struct http_options *opts, GError **error)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct http_response *resp = NULL;
    struct transfer t = {.max_body = opts->max_body};
    g_autoptr(curl_slist) headers = NULL;
    g_autofree char *full = NULL;
    g_autofree char *auth = NULL;
    g_autofree char *ctype = NULL;
    bool https = strcmp(url->scheme, "https") == 0;

    if (!request_valid(req, error))
        return NULL;
    global_init();
    g_autoptr(CURL) curl = curl_easy_init();
    if (!curl) {
        g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_IO, "cannot initialise libcurl");
        return NULL;
    }
    t.body = g_byte_array_new();
    t.headers = g_array_new(FALSE, TRUE, sizeof(struct http_header));
    g_array_set_clear_func(t.headers, header_clear);

    full = g_strconcat(url->base, req->path, NULL);
    SETOPT(curl, CURLOPT_URL, full);
    /* The path is sent as the caller built it: libcurl would otherwise
     * squash "/./" and "/../" segments, and a VM may be named "..". */
    SETOPT(curl, CURLOPT_PATH_AS_IS, 1L);
    SETOPT(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(curl, CURLOPT_FOLLOWLOCATION, 0L);
    /* kanri talks to its own manager; a proxy from the environment must
     * not reroute (and possibly log) requests that carry bearer tokens. */
    SETOPT(curl, CURLOPT_PROXY, "");
    /* Timeouts without signals: a process may have other threads (tests do). */
    SETOPT(curl, CURLOPT_NOSIGNAL, 1L);
    SETOPT(curl, CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(curl, CURLOPT_USERAGENT, "kanri/" KANRI_VERSION);
    if (opts->timeout_s > 0) {
        SETOPT(curl, CURLOPT_CONNECTTIMEOUT, (long)opts->timeout_s);
        /* Less than a byte a second for timeout_s seconds: the server has
         * gone quiet.  Not a bound on the whole transfer, which may
         * legitimately take long (vm shutdown waits for the guest). */
        SETOPT(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        SETOPT(curl, CURLOPT_LOW_SPEED_TIME, (long)opts->timeout_s);
    }
    SETOPT(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MIN(opts->max_body, (size_t)G_MAXINT64));
    /* gzip from kanrid for large lists; the decoded body is bounded by
     * on_body() as any other. */
    SETOPT(curl, CURLOPT_ACCEPT_ENCODING, "gzip");
    SETOPT(curl, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(curl, CURLOPT_WRITEDATA, &t);
    SETOPT(curl, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(curl, CURLOPT_HEADERDATA, &t);

    if (https) {
        if (opts->cacert) {
            SETOPT(curl, CURLOPT_CAINFO, opts->cacert);
            /* The given file replaces the system's trust store rather than
             * adding to it: the operator said whom to trust. */
            SETOPT(curl, CURLOPT_CAPATH, (char *)NULL);
        }
        if (opts->pin)
            SETOPT(curl, CURLOPT_PINNEDPUBLICKEY, opts->pin);
        bool verify = opts->cacert || !opts->pin;
        SETOPT(curl, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
        SETOPT(curl, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    }

    headers = curl_slist_append(headers, "Accept: application/json, application/problem+json");
    /* No "Expect: 100-continue" round trip before a body. */
    headers = curl_slist_append(headers, "Expect:");
    if (req->token) {
        auth = g_strconcat("Authorization: Bearer ", req->token, NULL);
        headers = curl_slist_append(headers, auth);
    }
    if (req->body) {
        ctype = g_strconcat(
            "Content-Type: ", req->content_type ? req->content_type : "application/json", NULL);
        headers = curl_slist_append(headers, ctype);
    } else {
        /* libcurl would label even an empty POST as a form. */
        headers = curl_slist_append(headers, "Content-Type:");
    }
    if (!headers) {
        g_set_error_literal(error, HTTP_ERROR, HTTP_ERROR_IO, "out of memory");
        goto fail;
    }
    SETOPT(curl, CURLOPT_HTTPHEADER, headers);

    bool post_like = strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
                     strcmp(req->method, "PATCH") == 0;
    if (req->body || post_like) {
        /* An empty body is still sent as "Content-Length: 0". */
        SETOPT(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
        SETOPT(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    }
    if (strcmp(req->method, "HEAD") == 0)
        SETOPT(curl, CURLOPT_NOBODY, 1L);
    else if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
        SETOPT(curl, CURLOPT_CUSTOMREQUEST, req->method);

    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        set_curl_error(error, curl, rc, errbuf, url, &t, opts);
        goto fail;
    }

    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    resp = g_new0(struct http_response, 1);
    resp->status = (int)status;
    resp->reason = t.reason ? g_steal_pointer(&t.reason) : g_strdup("");
    resp->headers = g_steal_pointer(&t.headers);
    resp->body_len = t.body->len;
    g_byte_array_append(t.body, (const guint8 *)"", 1);
    resp->body = (char *)g_byte_array_free(g_steal_pointer(&t.body), FALSE);

fail:
    if (t.body)
        g_byte_array_unref(t.body);
    if (t.headers)
        g_array_unref(t.headers);
    g_free(t.reason);
    return resp;
}
