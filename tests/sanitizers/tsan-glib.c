/*
 * ThreadSanitizer annotations for GLib's synchronisation, linked into the
 * TSan build only (`make check-tsan`, meson.build).
 *
 * Debian's GLib is not built with -fsanitize=thread, and on Linux its
 * GMutex, GCond, GAsyncQueue, GThreadPool and g_once_init_*() are futexes
 * and atomics inside libglib that TSan cannot see: every access kanri
 * guards with a GMutex would be reported as a data race.  The TSan build
 * passes -Wl,--wrap=SYMBOL for each function below, so kanri's own calls
 * (including those inlined from GLib's headers, such as
 * g_mutex_locker_new) come here, and each wrapper tells TSan what the
 * primitive guarantees: a GMutex is a mutex (so lock-order inversions are
 * reported too), a queue or a pool hands over everything its pusher did
 * to its popper.  GLib's internal use of the same primitives is not
 * affected.  (pthread_create/pthread_join, which GThread uses, and the
 * pthread mutexes of libvirt, SQLite and libmicrohttpd are intercepted by
 * TSan itself.)
 *
 * Only what kanri calls is wrapped.  Code using another primitive
 * (GRWLock, GRecMutex, GMainContext hand-offs, ...) needs a wrapper here
 * before TSan can check it.
 */
#include <glib.h>
#include <pthread.h>
#include <sanitizer/tsan_interface.h>

/* The wrapped functions, as --wrap renames them. */
void __real_g_mutex_lock(GMutex *m);
gboolean __real_g_mutex_trylock(GMutex *m);
void __real_g_mutex_unlock(GMutex *m);
void __real_g_mutex_clear(GMutex *m);
gboolean __real_g_cond_wait_until(GCond *c, GMutex *m, gint64 end_time);
void __real_g_cond_wait(GCond *c, GMutex *m);
void __real_g_async_queue_push(GAsyncQueue *q, gpointer data);
gpointer __real_g_async_queue_timeout_pop(GAsyncQueue *q, guint64 timeout);
void __real_g_async_queue_unref(GAsyncQueue *q);
GThreadPool *__real_g_thread_pool_new(GFunc func, gpointer user_data, gint max_threads,
                                      gboolean exclusive, GError **error);
gboolean __real_g_thread_pool_push(GThreadPool *pool, gpointer data, GError **error);
void __real_g_thread_pool_free(GThreadPool *pool, gboolean immediate, gboolean wait);
gboolean __real_g_once_init_enter(volatile void *location);
void __real_g_once_init_leave(volatile void *location, gsize result);

/* Declared here because --wrap needs no header; the definitions are the
 * wrappers. */
void __wrap_g_mutex_lock(GMutex *m);
gboolean __wrap_g_mutex_trylock(GMutex *m);
void __wrap_g_mutex_unlock(GMutex *m);
void __wrap_g_mutex_clear(GMutex *m);
gboolean __wrap_g_cond_wait_until(GCond *c, GMutex *m, gint64 end_time);
void __wrap_g_cond_wait(GCond *c, GMutex *m);
void __wrap_g_async_queue_push(GAsyncQueue *q, gpointer data);
gpointer __wrap_g_async_queue_timeout_pop(GAsyncQueue *q, guint64 timeout);
void __wrap_g_async_queue_unref(GAsyncQueue *q);
GThreadPool *__wrap_g_thread_pool_new(GFunc func, gpointer user_data, gint max_threads,
                                      gboolean exclusive, GError **error);
gboolean __wrap_g_thread_pool_push(GThreadPool *pool, gpointer data, GError **error);
void __wrap_g_thread_pool_free(GThreadPool *pool, gboolean immediate, gboolean wait);
gboolean __wrap_g_once_init_enter(volatile void *location);
void __wrap_g_once_init_leave(volatile void *location, gsize result);

/* ---- GMutex, GCond ---- */

void __wrap_g_mutex_lock(GMutex *m)
{
    __tsan_mutex_pre_lock(m, 0);
    __real_g_mutex_lock(m);
    __tsan_mutex_post_lock(m, 0, 0);
}

gboolean __wrap_g_mutex_trylock(GMutex *m)
{
    __tsan_mutex_pre_lock(m, __tsan_mutex_try_lock);
    gboolean ok = __real_g_mutex_trylock(m);
    __tsan_mutex_post_lock(m, __tsan_mutex_try_lock | (ok ? 0 : __tsan_mutex_try_lock_failed), 0);
    return ok;
}

void __wrap_g_mutex_unlock(GMutex *m)
{
    __tsan_mutex_pre_unlock(m, 0);
    __real_g_mutex_unlock(m);
    __tsan_mutex_post_unlock(m, 0);
}

void __wrap_g_mutex_clear(GMutex *m)
{
    __real_g_mutex_clear(m);
    __tsan_mutex_destroy(m, 0);
}

/* A wait releases the mutex and takes it again, as pthread_cond_wait()'s
 * interceptor tells TSan. */
gboolean __wrap_g_cond_wait_until(GCond *c, GMutex *m, gint64 end_time)
{
    __tsan_mutex_pre_unlock(m, 0);
    __tsan_mutex_post_unlock(m, 0);
    gboolean ok = __real_g_cond_wait_until(c, m, end_time);
    __tsan_mutex_pre_lock(m, 0);
    __tsan_mutex_post_lock(m, 0, 0);
    return ok;
}

void __wrap_g_cond_wait(GCond *c, GMutex *m)
{
    __tsan_mutex_pre_unlock(m, 0);
    __tsan_mutex_post_unlock(m, 0);
    __real_g_cond_wait(c, m);
    __tsan_mutex_pre_lock(m, 0);
    __tsan_mutex_post_lock(m, 0, 0);
}

/* ---- GAsyncQueue: a push happens before the pop that returns it ---- */

void __wrap_g_async_queue_push(GAsyncQueue *q, gpointer data)
{
    __tsan_release(q);
    __real_g_async_queue_push(q, data);
}

gpointer __wrap_g_async_queue_timeout_pop(GAsyncQueue *q, guint64 timeout)
{
    gpointer data = __real_g_async_queue_timeout_pop(q, timeout);
    if (data)
        __tsan_acquire(q);
    return data;
}

/* The last unref frees what is still queued with the queue's free function. */
void __wrap_g_async_queue_unref(GAsyncQueue *q)
{
    __tsan_acquire(q);
    __real_g_async_queue_unref(q);
}

/* ---- GThreadPool: a push happens before its job runs; every job before
 * g_thread_pool_free() returns ---- */

struct pool_tramp {
    GFunc func;
    gpointer user_data;
};

static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *pools; /* GThreadPool * -> struct pool_tramp * */

static void pool_run(gpointer data, gpointer user)
{
    struct pool_tramp *t = user;
    __tsan_acquire(data);
    t->func(data, t->user_data);
    __tsan_release(t);
}

GThreadPool *__wrap_g_thread_pool_new(GFunc func, gpointer user_data, gint max_threads,
                                      gboolean exclusive, GError **error)
{
    struct pool_tramp *t = g_new0(struct pool_tramp, 1);
    t->func = func;
    t->user_data = user_data;
    GThreadPool *pool = __real_g_thread_pool_new(pool_run, t, max_threads, exclusive, error);
    if (!pool) {
        g_free(t);
        return NULL;
    }
    pthread_mutex_lock(&pools_lock);
    if (!pools)
        pools = g_hash_table_new(NULL, NULL);
    g_hash_table_insert(pools, pool, t);
    pthread_mutex_unlock(&pools_lock);
    return pool;
}

/* DATA is the job's address: kanri pushes a fresh allocation per job. */
gboolean __wrap_g_thread_pool_push(GThreadPool *pool, gpointer data, GError **error)
{
    __tsan_release(data);
    return __real_g_thread_pool_push(pool, data, error);
}

void __wrap_g_thread_pool_free(GThreadPool *pool, gboolean immediate, gboolean wait)
{
    pthread_mutex_lock(&pools_lock);
    struct pool_tramp *t = pools ? g_hash_table_lookup(pools, pool) : NULL;
    if (t)
        g_hash_table_remove(pools, pool);
    pthread_mutex_unlock(&pools_lock);
    __real_g_thread_pool_free(pool, immediate, wait);
    if (t && wait)
        __tsan_acquire(t);
    /* Without WAIT a job may still be running and reach T: keep it. */
    if (wait)
        g_free(t);
}

/* ---- g_once_init_enter/leave: leave happens before every enter that
 * returns FALSE (GLib's inline fast path is an acquire load of LOCATION,
 * which TSan sees and pairs with the release below) ---- */

gboolean __wrap_g_once_init_enter(volatile void *location)
{
    gboolean first = __real_g_once_init_enter(location);
    if (!first)
        __tsan_acquire((void *)location);
    return first;
}

void __wrap_g_once_init_leave(volatile void *location, gsize result)
{
    __tsan_release((void *)location);
    __real_g_once_init_leave(location, result);
}
