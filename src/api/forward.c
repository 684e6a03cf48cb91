/*
 * Several kanrid instances on one store (docs/scale-out.md): an action on
 * a host another instance holds is forwarded to that instance's API, with
 * the caller's own token, and its answer relayed.  Over TLS the holder is
 * recognised by the pin it recorded in the store (its certificate is
 * usually its own, signed by no CA).  A forwarded request is marked, and
 * is never forwarded again: the leases moved meanwhile, and the caller
 * hears so.
 */
#include "config.h"

#include "api/api-private.h"

#include "engine/engine.h"

#include <curl/curl.h>
#include <microhttpd.h>
#include <string.h>

#define FORWARDED_HEADER "X-Kanri-Forwarded"
#define ANSWER_MAX       (16 * 1024 * 1024)

static size_t collect(char *data, size_t size, size_t n, void *user)
{
    GString *s = user;
    if (s->len + size * n > ANSWER_MAX)
        return 0; /* ends the transfer: an answer no API gives */
    g_string_append_len(s, data, (gssize)(size * n));
    return size * n;
}

bool api_forward(struct req *r, int64_t host_id, const char *host_name, const char *path)
{
    struct engine_holder to;
    g_autoptr(GError) err = NULL;
    int rc = engine_host_elsewhere(req_engine(r), host_id, &to, &err);
    if (rc == 0)
        return false;
    if (rc < 0) {
        req_problem(r, 503,
                    "host %s is held by another kanrid instance, and the store cannot "
                    "say which: %s",
                    host_name, err->message);
        return true;
    }
    const char *from = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, FORWARDED_HEADER);
    if (!to.name || !to.url || from) {
        req_problem(r, 503,
                    !to.name  ? "host %s is not held by any kanrid instance at the moment (its "
                                "lease is being taken over); try again in a few seconds"
                    : !to.url ? "host %s is held by kanrid instance %s, which gives no API "
                                "address to forward to"
                              : "host %s is held by kanrid instance %s, which forwarded this "
                                "here: the leases are moving; try again",
                    host_name, to.name);
        engine_holder_clear(&to);
        return true;
    }
    g_autofree char *url = g_strconcat(to.url, path, NULL);
    CURL *c = curl_easy_init();
    g_autoptr(GString) answer = g_string_new(NULL);
    struct curl_slist *headers = NULL;
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    g_autofree char *auth_h = g_strdup_printf("Authorization: %s", auth ? auth : "");
    headers = curl_slist_append(headers, auth_h);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, FORWARDED_HEADER ": 1");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (g_strcmp0(r->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? r->body->str : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(r->body ? r->body->len : 0));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    /* An action may wait for a guest (a graceful shutdown) a long time. */
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 3600L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (to.tls_pin) {
        /* The pin is the trust: the holder's certificate is its own. */
        curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, to.tls_pin);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode cr = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    json_object *o = cr == CURLE_OK ? json_tokener_parse(answer->str) : NULL;
    if (!o || status < 100 || status > 599) {
        req_problem(r, 502, "host %s is held by kanrid instance %s (%s), which did not answer: %s",
                    host_name, to.name, to.url,
                    cr != CURLE_OK ? curl_easy_strerror(cr) : "not a JSON answer");
        json_object_put(o);
        engine_holder_clear(&to);
        return true;
    }
    g_message("%s %s: forwarded to kanrid instance %s, which holds host %s: %ld", r->method, path,
              to.name, host_name, status);
    req_json(r, (unsigned)status, o);
    r->problem = status >= 400;
    engine_holder_clear(&to);
    return true;
}
