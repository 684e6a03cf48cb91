/*
 * The notification outbox's delivery thread.  Deliveries are rows in the
 * store (queued in the same transaction as the transition that called for
 * them), so a receiver that is down, or a kanrid restart, loses nothing:
 * each is tried until it succeeds or has failed for notify_give_up_us,
 * with exponential backoff, and carries its key ("kanri-INCIDENT-SEQ", the
 * same on every retry) so a receiver can drop a repeat.  A delivery given
 * up is an event itself.
 *
 * Targets: a webhook (JSON POST, the key in an Idempotency-Key header), a
 * command (the JSON on its standard input, the key in $KANRI_KEY; exit
 * status 0 is success), syslog.
 */
#include "config.h"

#include "engine/ops-private.h"

#include "basic/run.h"
#include "basic/util.h"

#include <curl/curl.h>
#include <syslog.h>

#define DUE_BATCH      50
#define BACKOFF_MIN_US (2 * G_GINT64_CONSTANT(1000000))
#define BACKOFF_MAX_US (300 * G_GINT64_CONSTANT(1000000))
#define ERROR_MAX      400

struct notifier {
    GThread *thread;
    GMutex m;
    GCond c;
    bool stop, wake;
    /* route name -> struct rate *: its recent deliveries */
    GHashTable *rates;
};

/* The times of a route's last rate_per_min deliveries, oldest at `head`:
 * a sliding minute, so no burst of twice the rate across a minute's edge. */
struct rate {
    unsigned cap, n, head;
    int64_t at[];
};

static const struct notify_route *route_find(struct engine_ops *o, const char *name)
{
    for (guint i = 0; i < o->routes->len; i++) {
        const struct notify_route *r = g_ptr_array_index(o->routes, i);
        if (g_strcmp0(r->name, name) == 0)
            return r;
    }
    return NULL;
}

/* ---- targets ---- */

static size_t discard(char *p, size_t size, size_t n, void *u)
{
    return size * n;
}

static bool webhook(const struct notify_route *r, const struct delivery *d, char **ret_error)
{
    CURL *c = curl_easy_init();
    if (!c) {
        *ret_error = g_strdup("curl_easy_init failed");
        return false;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    g_autofree char *key = g_strdup_printf("Idempotency-Key: %s", d->key);
    h = curl_slist_append(h, key);
    curl_easy_setopt(c, CURLOPT_URL, r->target);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->payload);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(r->timeout_s > 0 ? r->timeout_s : 10));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kanrid/" KANRI_VERSION);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        *ret_error = g_strdup(curl_easy_strerror(rc));
        return false;
    }
    if (status < 200 || status > 299) {
        *ret_error = g_strdup_printf("the receiver answered HTTP %ld", status);
        return false;
    }
    return true;
}

static bool command(const struct notify_route *r, const struct delivery *d, char **ret_error)
{
    g_auto(GStrv) argv = NULL;
    g_autoptr(GError) err = NULL;
    if (!g_shell_parse_argv(r->target, NULL, &argv, &err)) {
        *ret_error = g_strdup_printf("command: %s", err->message);
        return false;
    }
    g_auto(GStrv) env = g_get_environ();
    env = g_environ_setenv(env, "KANRI_KEY", d->key, TRUE);
    /* The payload can be larger than a pipe holds (an incident listing a
     * thousand VMs): run_argv() writes it without blocking, within the
     * same deadline, so a command that reads nothing cannot stall the
     * notifier. */
    int64_t timeout = (int64_t)(r->timeout_s > 0 ? r->timeout_s : 10) * USEC_PER_SEC;
    struct run_result res;
    if (run_argv((const char *const *)argv, (const char *const *)env, d->payload, timeout, &res,
                 &err) < 0) {
        *ret_error = g_strdup(err->message);
        return false;
    }
    bool ok = !res.timed_out && res.status == 0;
    if (res.timed_out)
        *ret_error = g_strdup("the command timed out");
    else if (!ok)
        *ret_error = g_strdup_printf("the command failed (status %d)", res.status);
    run_result_clear(&res);
    return ok;
}

static bool to_syslog(const struct notify_route *r, const struct delivery *d)
{
    syslog(LOG_DAEMON | LOG_WARNING, "kanri %s: %s", d->key, d->payload);
    return true;
}

/* ---- the loop ---- */

static bool rate_allows(struct notifier *n, const struct notify_route *r, int64_t now,
                        int64_t *ret_next)
{
    if (!r->rate_per_min)
        return true;
    struct rate *rt = g_hash_table_lookup(n->rates, r->name);
    if (!rt || rt->cap != r->rate_per_min) {
        /* New, or its rate is not the one this was sized for. */
        rt = g_malloc0(sizeof(*rt) + r->rate_per_min * sizeof(rt->at[0]));
        rt->cap = r->rate_per_min;
        g_hash_table_replace(n->rates, g_strdup(r->name), rt);
    }
    const int64_t minute = 60 * USEC_PER_SEC;
    if (rt->n == rt->cap) {
        if (now - rt->at[rt->head] < minute) {
            *ret_next = rt->at[rt->head] + minute;
            return false;
        }
        rt->head = (rt->head + 1) % rt->cap;
        rt->n--;
    }
    rt->at[(rt->head + rt->n) % rt->cap] = now;
    rt->n++;
    return true;
}

static void failed_event(struct engine *e, const struct delivery *d, const char *why)
{
    g_autofree char *msg = g_strdup_printf("notification %s to route %s given up after %u "
                                           "attempts: %s",
                                           d->key, d->route, d->attempts + 1, why);
    engine_event_post(e, event_new(now_usec(), "kanrid", "kanrid", NULL, "notification.failed",
                                   NULL, false, SEV_MAJOR, msg));
}

static void deliver(struct engine *e, struct delivery *d)
{
    struct engine_ops *o = e->ops;
    struct notifier *n = o->notifier;
    int64_t now = now_usec();
    const struct notify_route *r = route_find(o, d->route);
    g_autofree char *why = NULL;
    bool ok = false;
    if (!r) {
        why = g_strdup("the route is no longer configured");
    } else {
        int64_t next = 0;
        if (!rate_allows(n, r, now, &next)) {
            /* Held back, not failed: no attempt is counted against it. */
            g_autoptr(GError) herr = NULL;
            if (e->store->ops->outbox_done(e->store, d->id, "held", "rate limit", next, now,
                                           &herr) < 0)
                g_warning("notification %s: holding it back: %s", d->key, herr->message);
            return;
        }
        if (g_strcmp0(r->type, "webhook") == 0)
            ok = webhook(r, d, &why);
        else if (g_strcmp0(r->type, "command") == 0)
            ok = command(r, d, &why);
        else
            ok = to_syslog(r, d);
    }
    if (why && strlen(why) > ERROR_MAX)
        why[ERROR_MAX] = '\0';
    g_autoptr(GError) err = NULL;
    int rc;
    if (ok) {
        g_atomic_int_inc(&o->delivered);
        rc = e->store->ops->outbox_done(e->store, d->id, "delivered", NULL, now, now, &err);
    } else if (!r || now - d->created_us >= e->conf.notify_give_up_us) {
        g_atomic_int_inc(&o->failed);
        g_warning("notification %s to %s given up: %s", d->key, d->route, why);
        rc = e->store->ops->outbox_done(e->store, d->id, "failed", why, now, now, &err);
        failed_event(e, d, why);
    } else {
        int64_t backoff = BACKOFF_MIN_US << MIN(d->attempts, 10u);
        backoff = MIN(backoff, BACKOFF_MAX_US);
        g_message("notification %s to %s failed (attempt %u, again in %" G_GINT64_FORMAT
                  " s): %s",
                  d->key, d->route, d->attempts + 1, backoff / USEC_PER_SEC, why);
        rc = e->store->ops->outbox_done(e->store, d->id, "pending", why, now + backoff, now, &err);
    }
    if (rc < 0)
        g_warning("notification %s: recording the attempt: %s", d->key, err->message);
}

static gpointer notify_thread(gpointer data)
{
    struct engine *e = data;
    struct notifier *n = e->ops->notifier;
    g_autoptr(GArray) due = g_array_new(FALSE, TRUE, sizeof(struct delivery));
    g_array_set_clear_func(due, (GDestroyNotify)delivery_clear);
    for (;;) {
        g_mutex_lock(&n->m);
        if (!n->wake && !n->stop)
            g_cond_wait_until(&n->c, &n->m, g_get_monotonic_time() + G_TIME_SPAN_SECOND);
        n->wake = false;
        bool stop = n->stop;
        g_mutex_unlock(&n->m);
        if (stop)
            break;
        if (!engine_is_leader(e)) /* another instance on the store delivers */
            continue;
        g_autoptr(GError) err = NULL;
        if (e->store->ops->outbox_due(e->store, now_usec(), DUE_BATCH, due, &err) < 0) {
            g_warning("notifications: reading the outbox: %s", err->message);
            continue;
        }
        for (guint i = 0; i < due->len; i++) {
            g_mutex_lock(&n->m);
            stop = n->stop;
            g_mutex_unlock(&n->m);
            if (stop)
                break;
            deliver(e, &g_array_index(due, struct delivery, i));
        }
        if (due->len == DUE_BATCH) {
            g_mutex_lock(&n->m);
            n->wake = true; /* more may be due */
            g_mutex_unlock(&n->m);
        }
        g_array_set_size(due, 0);
    }
    return NULL;
}

void engine_notify_start(struct engine *e)
{
    struct notifier *n = g_new0(struct notifier, 1);
    g_mutex_init(&n->m);
    g_cond_init(&n->c);
    n->rates = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    e->ops->notifier = n;
    n->thread = g_thread_new("notify", notify_thread, e);
}

void engine_notify_wake(struct engine *e)
{
    struct notifier *n = e->ops ? e->ops->notifier : NULL;
    if (!n)
        return;
    g_mutex_lock(&n->m);
    n->wake = true;
    g_cond_signal(&n->c);
    g_mutex_unlock(&n->m);
}

void engine_notify_stop(struct engine *e)
{
    struct notifier *n = e->ops ? e->ops->notifier : NULL;
    if (!n)
        return;
    g_mutex_lock(&n->m);
    n->stop = true;
    g_cond_signal(&n->c);
    g_mutex_unlock(&n->m);
    /* A delivery in progress finishes (bounded by its route's timeout);
     * what is left stays in the outbox for the next start. */
    g_thread_join(n->thread);
    g_hash_table_unref(n->rates);
    g_mutex_clear(&n->m);
    g_cond_clear(&n->c);
    g_free(n);
    e->ops->notifier = NULL;
}
