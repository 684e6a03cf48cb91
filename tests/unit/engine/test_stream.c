/*
 * The live stream's hub (engine.h, "the live stream"): ids, the ring's
 * wrap, telling a reader its place fell out (or was never ours), messages
 * a reader holds outliving the ring's copy, the wake callback, and the
 * wait.  Run under ASan, a message freed twice or never shows here; under
 * TSan, the publisher and reader threads of the last test check the
 * locking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "engine/engine.h"

static GPtrArray *msgs_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)stream_msg_free);
}

static void publish_rounds(struct stream_hub *h, int n, int64_t t0)
{
    g_autoptr(GPtrArray) msgs = msgs_new();
    for (int i = 0; i < n; i++)
        g_ptr_array_add(msgs, stream_msg_round("node1", t0 + i));
    stream_hub_publish(h, msgs);
    assert_int_equal(msgs->len, 0);
}

static void test_ids_and_types(void **state)
{
    (void)state;
    struct stream_hub *h = stream_hub_new(8, 1000);
    assert_int_equal(stream_hub_last_id(h), 1000);

    struct event *ev = event_new(5000000, "vm:u1", "web1", "node1", "vm.paused", NULL, false,
                                 SEV_INFO, "web1 paused");
    ev->id = 41;
    ev->affected = item_refs_new();
    g_ptr_array_add(ev->affected, item_ref_new("vm:u2", "web2"));
    struct incident *inc = incident_new();
    inc->id = 7;
    inc->condition = g_strdup("vm-down");
    incident_add_affected(inc, "vm:u2", "web2");

    g_autoptr(GPtrArray) msgs = msgs_new();
    g_ptr_array_add(msgs, stream_msg_event(ev));
    g_ptr_array_add(msgs, stream_msg_incident(inc));
    g_ptr_array_add(msgs, stream_msg_round("node1", 6000000));
    event_free(ev); /* the hub holds copies */
    incident_free(inc);
    stream_hub_publish(h, msgs);
    assert_int_equal(stream_hub_last_id(h), 1003);

    g_autoptr(GPtrArray) got = g_ptr_array_new();
    uint64_t last = 0;
    assert_true(stream_hub_read(h, 1000, 100, got, &last));
    assert_int_equal(last, 1003);
    assert_int_equal(got->len, 3);
    const struct stream_msg *m = g_ptr_array_index(got, 0);
    assert_int_equal(m->id, 1001);
    assert_int_equal(m->type, STREAM_EVENT);
    assert_int_equal(m->event->id, 41);
    assert_string_equal(m->event->kind, "vm.paused");
    assert_null(m->event->affected); /* not carried */
    m = g_ptr_array_index(got, 1);
    assert_int_equal(m->type, STREAM_INCIDENT);
    assert_int_equal(m->incident->id, 7);
    assert_int_equal(m->incident->affected->len, 0);
    m = g_ptr_array_index(got, 2);
    assert_int_equal(m->type, STREAM_ROUND);
    assert_string_equal(m->host, "node1");
    assert_int_equal(m->t_us, 6000000);
    stream_hub_release(h, got);
    assert_int_equal(got->len, 0);

    /* MAX bounds a read; a read from the newest gives nothing. */
    assert_true(stream_hub_read(h, 1001, 1, got, &last));
    assert_int_equal(got->len, 1);
    assert_int_equal(((const struct stream_msg *)g_ptr_array_index(got, 0))->id, 1002);
    stream_hub_release(h, got);
    assert_true(stream_hub_read(h, 1003, 100, got, &last));
    assert_int_equal(got->len, 0);

    enum stream_type t;
    assert_true(stream_type_parse("incident", &t) && t == STREAM_INCIDENT);
    assert_false(stream_type_parse("Event", &t));
    assert_false(stream_type_parse("", &t));
    assert_string_equal(stream_type_name(STREAM_ROUND), "round");
    stream_hub_free(h);
}

static void test_wrap_and_reset(void **state)
{
    (void)state;
    struct stream_hub *h = stream_hub_new(4, 0);
    g_autoptr(GPtrArray) got = g_ptr_array_new();
    uint64_t last;
    /* Empty: only the start is a place to continue from. */
    assert_true(stream_hub_read(h, 0, 10, got, &last));
    assert_int_equal(got->len, 0);
    assert_int_equal(last, 0);
    assert_false(stream_hub_read(h, 1, 10, got, &last)); /* newer than the newest */

    publish_rounds(h, 3, 100); /* ids 1..3 */
    assert_true(stream_hub_read(h, 0, 10, got, &last));
    assert_int_equal(got->len, 3);
    stream_hub_release(h, got);

    publish_rounds(h, 3, 200); /* ids 4..6: 1 and 2 fall out */
    assert_int_equal(stream_hub_last_id(h), 6);
    assert_false(stream_hub_read(h, 0, 10, got, &last)); /* 1 is gone */
    assert_int_equal(last, 6);
    assert_int_equal(got->len, 0);
    assert_false(stream_hub_read(h, 1, 10, got, &last)); /* 2 is gone */
    assert_true(stream_hub_read(h, 2, 10, got, &last));  /* 3..6 are held */
    assert_int_equal(got->len, 4);
    for (guint i = 0; i < got->len; i++)
        assert_int_equal(((const struct stream_msg *)g_ptr_array_index(got, i))->id, 3 + i);
    /* The ring moves on while the reader holds 3..6: they stay valid. */
    publish_rounds(h, 9, 300); /* ids 7..15, a wrap past its whole size and more */
    for (guint i = 0; i < got->len; i++) {
        const struct stream_msg *m = g_ptr_array_index(got, i);
        assert_int_equal(m->id, 3 + i);
        assert_string_equal(m->host, "node1");
    }
    stream_hub_release(h, got);

    assert_false(stream_hub_read(h, 10, 10, got, &last));
    assert_true(stream_hub_read(h, 11, 10, got, &last));
    assert_int_equal(got->len, 4);
    assert_int_equal(((const struct stream_msg *)g_ptr_array_index(got, 3))->id, 15);
    assert_int_equal(((const struct stream_msg *)g_ptr_array_index(got, 3))->t_us, 308);
    stream_hub_release(h, got);
    assert_true(stream_hub_read(h, 15, 10, got, &last));
    assert_false(stream_hub_read(h, 16, 10, got, &last));
    assert_false(stream_hub_read(h, G_MAXUINT64, 10, got, &last));

    stream_hub_free(h);
}

struct wake_count {
    GMutex lock;
    int n;
};

static void on_wake(void *data)
{
    struct wake_count *w = data;
    g_mutex_lock(&w->lock);
    w->n++;
    g_mutex_unlock(&w->lock);
}

static void test_wake(void **state)
{
    (void)state;
    struct stream_hub *h = stream_hub_new(16, 0);
    struct wake_count w = {.n = 0};
    g_mutex_init(&w.lock);
    stream_hub_set_wake(h, on_wake, &w);
    publish_rounds(h, 3, 0); /* one wake per publish */
    publish_rounds(h, 1, 0);
    g_autoptr(GPtrArray) none = msgs_new();
    stream_hub_publish(h, none); /* nothing published: nobody woken */
    assert_int_equal(w.n, 2);
    stream_hub_set_wake(h, NULL, NULL);
    publish_rounds(h, 1, 0);
    assert_int_equal(w.n, 2);
    g_mutex_clear(&w.lock);
    stream_hub_free(h);
}

/* A publisher thread against a waiting reader: every id arrives once, in
 * order, and readers that fall behind learn so. */
struct pub {
    struct stream_hub *h;
    int n;
};

static gpointer publisher(gpointer data)
{
    struct pub *p = data;
    for (int i = 0; i < p->n; i++)
        publish_rounds(p->h, 1 + i % 3, i);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct stream_hub *h = stream_hub_new(64, 500);
    struct wake_count w = {.n = 0};
    g_mutex_init(&w.lock);
    stream_hub_set_wake(h, on_wake, &w);
    struct pub p = {.h = h, .n = 3000}; /* 6000 messages */
    uint64_t total = 0;
    for (int i = 0; i < p.n; i++)
        total += 1 + i % 3;
    GThread *t = g_thread_new("publisher", publisher, &p);
    g_autoptr(GPtrArray) got = g_ptr_array_new();
    uint64_t cursor = 500, last = 0, seen = 0, resets = 0;
    while (cursor < 500 + total) {
        if (!stream_hub_wait(h, cursor, g_get_monotonic_time() + 10 * G_USEC_PER_SEC))
            fail_msg("no message within 10 s after %" G_GUINT64_FORMAT, cursor);
        if (!stream_hub_read(h, cursor, 16, got, &last)) {
            resets++;
            cursor = last;
            continue;
        }
        for (guint i = 0; i < got->len; i++) {
            const struct stream_msg *m = g_ptr_array_index(got, i);
            assert_int_equal(m->id, cursor + 1);
            cursor = m->id;
            seen++;
        }
        stream_hub_release(h, got);
    }
    g_thread_join(t);
    assert_int_equal(stream_hub_last_id(h), 500 + total);
    /* Every message was seen or skipped by a reset. */
    assert_true(seen + resets > 0 && seen <= total);
    assert_false(stream_hub_wait(h, 500 + total, g_get_monotonic_time() + 1000));
    stream_hub_set_wake(h, NULL, NULL);
    g_mutex_lock(&w.lock);
    assert_int_equal(w.n, p.n);
    g_mutex_unlock(&w.lock);
    g_mutex_clear(&w.lock);
    stream_hub_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_and_types),
        cmocka_unit_test(test_wrap_and_reset),
        cmocka_unit_test(test_wake),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
