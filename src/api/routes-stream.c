/*
 * GET /api/v1/events/stream: the engine's live stream (engine.h, "the live
 * stream") as server-sent events (docs/api.md, "Live stream").
 *
 * A stream is one reply that does not end, written by a content-reader
 * callback on the poll thread that serves its connection.  When it has
 * nothing to send it suspends the connection; the engine's hub wakes it
 * (stream_hub_set_wake) after each publish, and the server's sweeper once
 * a second for keep-alives and token checks.  So an idle stream costs a
 * socket and a small buffer, never a thread, and nothing polls.
 *
 * What a stream holds: the id of the last message it took from the hub
 * and the frames formatted but not yet handed to libmicrohttpd (at most
 * one write buffer's worth and one frame).  A client that reads slower
 * than messages arrive falls behind in the hub's ring, not in kanrid's
 * memory: once its place falls out of the ring it gets a reset frame and
 * carries on from the newest.  One that stops reading altogether holds
 * its connection in the "sending" phase, which the server resets after
 * body_timeout without progress.
 *
 * Locks: ss->lock guards the list of streams and each stream's flags
 * (suspended, revoked, times); it is taken before libmicrohttpd's own
 * (suspend and resume) and never while calling into the engine, but for
 * the hub's last id (the hub's mutex is a leaf).  The wake callback runs
 * under the hub's wake lock: hub wake lock, then ss->lock.
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/util.h"

#include <string.h>

/* A comment line after this long without a byte sent, and the token is
 * checked again at least this often. */
#define KEEPALIVE_US (15 * G_USEC_PER_SEC)
/* Messages taken from the hub at once. */
#define READ_BATCH 32
/* Frames formatted ahead at most (and one frame more), and the buffer a
 * stream keeps once they are sent. */
#define OUT_AHEAD (16 * 1024)
#define OUT_KEEP  (32 * 1024)

struct api_streams {
    struct api *api;
    struct stream_hub *hub;
    struct store *store;
    int max;

    GMutex lock;
    GPtrArray *list;    /* struct api_stream *: every stream that exists (not owned) */
    bool closing;       /* kanrid is stopping: every stream ends */
    unsigned token_gen; /* bumped when a token is revoked */
};

struct api_stream {
    struct api_streams *ss;
    struct MHD_Connection *conn;
    unsigned types; /* bit (1 << enum stream_type) set: sent */
    char *token_hash;

    /* The reader's own (the poll thread serving the connection; the
     * handler's before the reply exists). */
    uint64_t cursor; /* the last message id taken from the hub */
    GString *out;    /* frames not yet handed over, from SENT on */
    gsize sent;

    /* under ss->lock */
    bool suspended;        /* waiting for news: only a wake resumes it */
    bool revoked;          /* its token is no longer valid: it ends */
    int64_t last_write_us; /* monotonic: bytes were last handed over */
    int64_t token_checked_us;
    unsigned token_gen;
};

/* ---- the registry ---- */

/* Called by the hub after each publish: every stream waiting for news
 * reads again. */
static void streams_wake(void *data)
{
    struct api_streams *ss = data;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&ss->lock);
    for (guint i = 0; i < ss->list->len; i++) {
        struct api_stream *s = g_ptr_array_index(ss->list, i);
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
    }
}

struct api_streams *api_streams_new(struct api *a, struct engine *e, struct store *st,
                                    int max_streams)
{
    struct api_streams *ss = g_new0(struct api_streams, 1);
    ss->api = a;
    ss->hub = engine_stream(e);
    ss->store = st;
    ss->max = max_streams;
    g_mutex_init(&ss->lock);
    ss->list = g_ptr_array_new();
    stream_hub_set_wake(ss->hub, streams_wake, ss);
    return ss;
}

void api_streams_close(struct api_streams *ss)
{
    if (!ss)
        return;
    /* No wake from the engine once this returns (it outlives the API). */
    stream_hub_set_wake(ss->hub, NULL, NULL);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&ss->lock);
    ss->closing = true;
    /* libmicrohttpd cannot stop with a connection suspended: each
     * resumed one ends its reply on its next read. */
    for (guint i = 0; i < ss->list->len; i++) {
        struct api_stream *s = g_ptr_array_index(ss->list, i);
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
    }
}

void api_streams_free(struct api_streams *ss)
{
    if (!ss)
        return;
    stream_hub_set_wake(ss->hub, NULL, NULL); /* when api_streams_close() was not called */
    /* MHD_stop_daemon() freed every reply, and each its stream. */
    g_warn_if_fail(ss->list->len == 0);
    g_ptr_array_unref(ss->list);
    g_mutex_clear(&ss->lock);
    g_free(ss);
}

guint api_streams_count(struct api_streams *ss)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&ss->lock);
    return ss->list->len;
}

void api_streams_tokens_changed(struct api_streams *ss)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&ss->lock);
    ss->token_gen++;
}

/* Whether the token of HASH is still valid; a store that fails to answer
 * ends nobody's stream. */
static bool token_valid(struct store *st, const char *hash)
{
    struct store_token tok = {0};
    g_autoptr(GError) err = NULL;
    int r = st->ops->token_lookup(st, hash, &tok, &err);
    store_token_clear(&tok);
    if (r == 0)
        return true;
    if (g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND))
        return false;
    g_warning("live stream: token lookup: %s", err ? err->message : "failed");
    return true;
}

void api_streams_tick(struct api_streams *ss)
{
    int64_t now = mono_usec();
    /* The tokens due for a check, looked up without the lock (the store
     * may take a while); streams sharing a token share its lookup. */
    g_autoptr(GHashTable) due = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    unsigned gen;
    g_mutex_lock(&ss->lock);
    gen = ss->token_gen;
    for (guint i = 0; i < ss->list->len; i++) {
        struct api_stream *s = g_ptr_array_index(ss->list, i);
        if (!s->revoked && (s->token_gen != gen || now - s->token_checked_us >= KEEPALIVE_US))
            g_hash_table_add(due, g_strdup(s->token_hash));
    }
    g_mutex_unlock(&ss->lock);
    GHashTableIter it;
    gpointer key;
    g_autoptr(GHashTable) invalid = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_iter_init(&it, due);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        if (!token_valid(ss->store, key))
            g_hash_table_add(invalid, key);
    }

    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&ss->lock);
    for (guint i = 0; i < ss->list->len; i++) {
        struct api_stream *s = g_ptr_array_index(ss->list, i);
        if (g_hash_table_contains(due, s->token_hash)) {
            s->token_checked_us = now;
            s->token_gen = gen;
            if (g_hash_table_contains(invalid, s->token_hash))
                s->revoked = true;
        }
        /* A stream waiting for news reads again to end (revoked) or to
         * say it is alive (silent too long). */
        if (s->suspended && (s->revoked || now - s->last_write_us >= KEEPALIVE_US)) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
    }
}

/* ---- frames ---- */

static void frame(GString *out, uint64_t id, const char *type)
{
    g_string_append_printf(out, "id: %" G_GUINT64_FORMAT "\nevent: %s\ndata: ", id, type);
}

/* "event: hello" or "event: reset", whose data is the newest id. */
static void frame_marker(GString *out, uint64_t id, const char *type, uint64_t last)
{
    frame(out, id, type);
    g_string_append_printf(out, "{\"last_id\":%" G_GUINT64_FORMAT "}\n\n", last);
}

static void frame_msg(GString *out, const struct stream_msg *m)
{
    frame(out, m->id, stream_type_name(m->type));
    switch (m->type) {
    case STREAM_EVENT:
        api_event_write(out, m->event);
        break;
    case STREAM_INCIDENT:
        api_incident_write(out, m->incident);
        break;
    case STREAM_ROUND: {
        g_autofree char *t = time_format_rfc3339(m->t_us);
        g_string_append(out, "{\"host\":");
        api_json_string(out, m->host ? m->host : "");
        g_string_append(out, ",\"t\":");
        if (t)
            api_json_string(out, t);
        else
            g_string_append(out, "null");
        g_string_append_c(out, '}');
        break;
    }
    case STREAM_N:
        break;
    }
    g_string_append(out, "\n\n");
}

/* Formats what the hub has after the cursor until OUT holds MAX bytes or
 * the hub has no more; true when a frame was added.  A cursor the ring no
 * longer holds gives a reset frame and carries on from the newest. */
static bool fill(struct api_stream *s, size_t max)
{
    struct stream_hub *hub = s->ss->hub;
    g_autoptr(GPtrArray) msgs = g_ptr_array_new();
    bool wrote = false;
    while (s->out->len < max) {
        uint64_t last;
        if (!stream_hub_read(hub, s->cursor, READ_BATCH, msgs, &last)) {
            frame_marker(s->out, last, "reset", last);
            s->cursor = last;
            wrote = true;
            continue;
        }
        if (!msgs->len)
            break;
        for (guint i = 0; i < msgs->len; i++) {
            const struct stream_msg *m = g_ptr_array_index(msgs, i);
            s->cursor = m->id;
            if (s->types & (1u << m->type)) {
                frame_msg(s->out, m);
                wrote = true;
            }
        }
        stream_hub_release(hub, msgs);
    }
    return wrote;
}

/* ---- the reply ---- */

static void stream_free(void *p)
{
    struct api_stream *s = p;
    if (!s)
        return;
    g_mutex_lock(&s->ss->lock);
    g_ptr_array_remove_fast(s->ss->list, s);
    g_mutex_unlock(&s->ss->lock);
    g_string_free(s->out, TRUE);
    g_free(s->token_hash);
    g_free(s);
}

void api_stream_free(struct api_stream *s)
{
    stream_free(s);
}

static bool ending(struct api_stream *s)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->ss->lock);
    return s->ss->closing || s->revoked;
}

/* libmicrohttpd's content reader: the next bytes, 0 with the connection
 * suspended when there are none, or the end. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct api_stream *s = cls;
    struct api_streams *ss = s->ss;
    for (;;) {
        if (ending(s))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (s->sent < s->out->len) {
            size_t n = MIN(max, s->out->len - s->sent);
            memcpy(buf, s->out->str + s->sent, n);
            s->sent += n;
            if (s->sent == s->out->len) {
                /* A burst's buffer is not kept by a stream gone quiet. */
                if (s->out->allocated_len > OUT_KEEP) {
                    g_string_free(s->out, TRUE);
                    s->out = g_string_sized_new(1024);
                } else {
                    g_string_truncate(s->out, 0);
                }
                s->sent = 0;
            }
            g_mutex_lock(&ss->lock);
            s->last_write_us = mono_usec();
            g_mutex_unlock(&ss->lock);
            api_stream_phase(ss->api, s->conn, true);
            return (ssize_t)n;
        }
        if (fill(s, MIN(max, OUT_AHEAD)))
            continue;
        /* Nothing new.  Deciding to wait and suspending happen under
         * ss->lock, which a wake takes after the hub has the message: a
         * message published before the check is seen by it, one after
         * finds the connection suspended and resumes it. */
        g_mutex_lock(&ss->lock);
        if (ss->closing || s->revoked) {
            g_mutex_unlock(&ss->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (mono_usec() - s->last_write_us >= KEEPALIVE_US) {
            g_mutex_unlock(&ss->lock);
            g_string_append(s->out, ": keep-alive\n\n");
            continue;
        }
        if (stream_hub_last_id(ss->hub) > s->cursor) {
            g_mutex_unlock(&ss->lock);
            continue;
        }
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        g_mutex_unlock(&ss->lock);
        api_stream_phase(ss->api, s->conn, false);
        return 0;
    }
}

struct MHD_Response *api_stream_response(struct api_stream *s)
{
    /* The block size matters little: a chunked reply is read straight
     * into the connection's write buffer. */
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
    if (!resp)
        stream_free(s);
    return resp;
}

/* ---- GET /api/v1/events/stream ---- */

/* ?types=a,b: the message types to send; false with the reply set when
 * one is unknown. */
static bool parse_types(struct req *r, unsigned *ret)
{
    const char *arg = req_arg(r, "types");
    *ret = (1u << STREAM_N) - 1;
    if (!arg)
        return true;
    *ret = 0;
    g_auto(GStrv) names = g_strsplit(arg, ",", 0);
    for (char **n = names; *n; n++) {
        enum stream_type t;
        if (!stream_type_parse(*n, &t)) {
            g_autofree char *shown = g_strescape(*n, NULL);
            req_problem(r, 400,
                        "types: unknown type '%s' (the types are event, incident and "
                        "round)",
                        shown);
            return false;
        }
        *ret |= 1u << t;
    }
    if (!*ret) {
        req_problem(r, 400, "types: expected event, incident or round, separated by commas");
        return false;
    }
    return true;
}

static void h_events_stream(struct req *r)
{
    struct api_streams *ss = req_streams(r);
    unsigned types;
    if (!parse_types(r, &types))
        return;
    /* Where to resume: Last-Event-ID (what a browser's EventSource sends
     * when it reconnects, newer than the URL it was opened with) before
     * ?after=.  The header's value is whatever the client last got: one
     * that is not an id of ours is a place the ring cannot continue from. */
    const char *lei = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    const char *after_arg = req_arg(r, "after");
    uint64_t after = 0;
    bool resume = false, known = false;
    if (after_arg && (!parse_u64(after_arg, &after) || after > G_MAXINT64)) {
        req_problem(r, 400, "after: expected a message id (an integer), got '%s'", after_arg);
        return;
    }
    if (lei && *lei) {
        resume = true;
        known = parse_u64(lei, &after);
    } else if (after_arg) {
        resume = true;
        known = true;
    }
    uint64_t last;
    g_autoptr(GPtrArray) none = g_ptr_array_new();
    bool in_ring = known && stream_hub_read(ss->hub, after, 0, none, &last);
    if (!in_ring)
        last = stream_hub_last_id(ss->hub);

    struct api_stream *s = g_new0(struct api_stream, 1);
    s->ss = ss;
    s->conn = r->conn;
    s->types = types;
    s->token_hash = g_strdup(r->token_hash);
    s->cursor = in_ring ? after : last;
    s->out = g_string_sized_new(1024);
    /* hello's id is where the stream starts: a client that reconnects
     * before any message resumes from there. */
    frame_marker(s->out, s->cursor, "hello", last);
    if (resume && !in_ring)
        frame_marker(s->out, last, "reset", last);
    s->last_write_us = s->token_checked_us = mono_usec();

    g_mutex_lock(&ss->lock);
    bool closing = ss->closing, full = (int)ss->list->len >= ss->max;
    s->token_gen = ss->token_gen;
    if (!closing && !full)
        g_ptr_array_add(ss->list, s);
    g_mutex_unlock(&ss->lock);
    if (closing || full) {
        g_string_free(s->out, TRUE);
        g_free(s->token_hash);
        g_free(s);
        r->retry_after = g_strdup(closing ? "5" : "10");
        if (closing)
            req_problem(r, 503, "kanrid is shutting down");
        else
            req_problem(r, 503,
                        "%d live streams are open, the most kanrid serves at once (max_streams "
                        "in kanri.conf); try again later",
                        ss->max);
        return;
    }
    r->stream = s;
    r->status = 200;
}

const struct route api_stream_routes[] = {
    {"GET", "/api/v1/events/stream", 1, false, h_events_stream},
    {NULL, NULL, 0, false, NULL},
};
