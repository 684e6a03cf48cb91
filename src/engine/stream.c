/*
 * The live stream's hub (engine.h, "the live stream"): a ring of the
 * newest messages the engine published, read by id.
 *
 * The ring holds one reference to each message it keeps; a reader takes
 * one more for each message it is given and drops it with
 * stream_hub_release().  References are counted under the hub's mutex, so
 * a message is freed exactly once whichever side lets go last, and every
 * access is one ThreadSanitizer can see.
 */
#include "config.h"

#include "engine/engine-private.h"

#include <string.h>

static const char *const type_names[STREAM_N] = {"event", "incident", "round"};

const char *stream_type_name(enum stream_type t)
{
    return t < STREAM_N ? type_names[t] : "unknown";
}

bool stream_type_parse(const char *text, enum stream_type *ret)
{
    for (int i = 0; text && i < STREAM_N; i++) {
        if (g_str_equal(text, type_names[i])) {
            *ret = (enum stream_type)i;
            return true;
        }
    }
    return false;
}

/* ---- messages ---- */

static struct stream_msg *msg_new(enum stream_type type)
{
    struct stream_msg *m = g_new0(struct stream_msg, 1);
    m->type = type;
    return m;
}

struct stream_msg *stream_msg_event(const struct event *ev)
{
    struct stream_msg *m = msg_new(STREAM_EVENT);
    m->event = event_copy_bare(ev);
    return m;
}

struct stream_msg *stream_msg_incident(const struct incident *inc)
{
    struct stream_msg *m = msg_new(STREAM_INCIDENT);
    m->incident = incident_copy_bare(inc);
    return m;
}

struct stream_msg *stream_msg_round(const char *host, int64_t t_us)
{
    struct stream_msg *m = msg_new(STREAM_ROUND);
    m->host = g_strdup(host);
    m->t_us = t_us;
    return m;
}

void stream_msg_free(struct stream_msg *m)
{
    if (!m)
        return;
    event_free(m->event);
    if (m->incident)
        incident_free(m->incident);
    g_free(m->host);
    g_free(m);
}

/* ---- the hub ---- */

struct stream_hub {
    GMutex lock;
    GCond cond;               /* signalled on each publish (stream_hub_wait) */
    struct stream_msg **ring; /* cap slots; the oldest at head */
    guint cap, head, len;
    uint64_t last; /* the newest id; the oldest held is last - len + 1 */

    GMutex wake_lock; /* held while the wake callback runs, and to change it */
    void (*wake)(void *data);
    void *wake_data;
};

struct stream_hub *stream_hub_new(guint capacity, uint64_t first_id)
{
    struct stream_hub *h = g_new0(struct stream_hub, 1);
    g_mutex_init(&h->lock);
    g_cond_init(&h->cond);
    g_mutex_init(&h->wake_lock);
    h->cap = MAX(capacity, 1);
    h->ring = g_new0(struct stream_msg *, h->cap);
    h->last = first_id;
    return h;
}

/* Under h->lock. */
static void msg_unref(struct stream_msg *m)
{
    if (--m->refs == 0)
        stream_msg_free(m);
}

void stream_hub_free(struct stream_hub *h)
{
    if (!h)
        return;
    g_mutex_lock(&h->lock);
    for (guint i = 0; i < h->len; i++)
        msg_unref(h->ring[(h->head + i) % h->cap]);
    g_mutex_unlock(&h->lock);
    g_free(h->ring);
    g_mutex_clear(&h->lock);
    g_cond_clear(&h->cond);
    g_mutex_clear(&h->wake_lock);
    g_free(h);
}

void stream_hub_publish(struct stream_hub *h, GPtrArray *msgs)
{
    if (!msgs->len)
        return;
    g_mutex_lock(&h->lock);
    for (guint i = 0; i < msgs->len; i++) {
        struct stream_msg *m = g_ptr_array_index(msgs, i);
        m->id = ++h->last;
        m->refs = 1;
        if (h->len == h->cap) {
            msg_unref(h->ring[h->head]);
            h->head = (h->head + 1) % h->cap;
            h->len--;
        }
        h->ring[(h->head + h->len) % h->cap] = m;
        h->len++;
    }
    g_cond_broadcast(&h->cond);
    g_mutex_unlock(&h->lock);
    /* The messages are the ring's now (not freed by MSGS's free function). */
    g_free(g_ptr_array_steal(msgs, NULL));

    g_mutex_lock(&h->wake_lock);
    if (h->wake)
        h->wake(h->wake_data);
    g_mutex_unlock(&h->wake_lock);
}

uint64_t stream_hub_last_id(struct stream_hub *h)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&h->lock);
    return h->last;
}

bool stream_hub_read(struct stream_hub *h, uint64_t after, guint max, GPtrArray *ret,
                     uint64_t *ret_last)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&h->lock);
    *ret_last = h->last;
    /* h->last - h->len: the id just before the oldest held (never below
     * the first id, since every id held was published). */
    if (after > h->last || after < h->last - h->len)
        return false;
    guint skip = (guint)(after - (h->last - h->len));
    for (guint i = skip; i < h->len && i - skip < max; i++) {
        struct stream_msg *m = h->ring[(h->head + i) % h->cap];
        m->refs++;
        g_ptr_array_add(ret, m);
    }
    return true;
}

void stream_hub_release(struct stream_hub *h, GPtrArray *msgs)
{
    if (!msgs->len)
        return;
    g_mutex_lock(&h->lock);
    for (guint i = 0; i < msgs->len; i++)
        msg_unref(g_ptr_array_index(msgs, i));
    g_mutex_unlock(&h->lock);
    g_free(g_ptr_array_steal(msgs, NULL));
}

bool stream_hub_wait(struct stream_hub *h, uint64_t after, int64_t until_us)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&h->lock);
    while (h->last <= after) {
        if (!g_cond_wait_until(&h->cond, &h->lock, until_us))
            return h->last > after;
    }
    return true;
}

void stream_hub_set_wake(struct stream_hub *h, void (*fn)(void *data), void *data)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&h->wake_lock);
    h->wake = fn;
    h->wake_data = data;
}

struct stream_hub *engine_stream(struct engine *e)
{
    return e->stream;
}
