/*
 * History maintenance: downsampling raw rows into 5-minute and hourly
 * buckets and expiring each tier, on a thread of its own so the rounds
 * never wait for it (the store's batches keep each write short).
 */
#include "config.h"

#include "engine/engine-private.h"

#include "basic/util.h"

struct maint {
    GThread *thread;
    GMutex lock;
    GCond wake;
    bool quit;
    struct engine *e;
};

static gpointer maint_thread(gpointer data)
{
    struct maint *mt = data;
    struct engine *e = mt->e;
    /* Often enough that a 5-minute bucket is computed soon after it closes,
     * rarely enough to cost nothing. */
    int64_t period = CLAMP((int64_t)e->conf.interval_s * 6, 5, 60) * USEC_PER_SEC;
    int64_t settle = 2 * (int64_t)e->conf.interval_s * USEC_PER_SEC;
    for (;;) {
        int64_t until = mono_usec() + period;
        g_mutex_lock(&mt->lock);
        while (!mt->quit && mono_usec() < until)
            g_cond_wait_until(&mt->wake, &mt->lock, until);
        bool quit = mt->quit;
        g_mutex_unlock(&mt->lock);
        if (quit)
            break;
        if (!engine_is_leader(e)) /* another instance on the store does it */
            continue;
        struct store_maint_stats stats;
        g_autoptr(GError) err = NULL;
        if (e->store->ops->samples_maintain(e->store, &e->conf.retention, now_usec(), settle,
                                            &stats, &err) < 0)
            g_warning("history maintenance: %s", err->message);
        else if (stats.buckets_5m || stats.rows_deleted || stats.partitions_dropped)
            g_debug("history: %u 5-minute and %u hourly buckets, %u rows and %u day partitions"
                    " expired",
                    stats.buckets_5m, stats.buckets_1h, stats.rows_deleted,
                    stats.partitions_dropped);
        /* The operations record's events (and deliveries done) expire
         * like the history; incidents, problems and their logs stay. */
        unsigned pruned = 0;
        g_clear_error(&err);
        if (e->conf.event_retention_us > 0 &&
            e->store->ops->events_prune(e->store, now_usec() - e->conf.event_retention_us, &pruned,
                                        &err) < 0)
            g_warning("event retention: %s", err->message);
        else if (pruned)
            g_debug("events: %u expired", pruned);
        /* The policies' decisions are kept as long as the events. */
        pruned = 0;
        g_clear_error(&err);
        if (e->conf.event_retention_us > 0 &&
            e->store->ops->decisions_prune(e->store, now_usec() - e->conf.event_retention_us,
                                           &pruned, &err) < 0)
            g_warning("decision retention: %s", err->message);
        else if (pruned)
            g_debug("decisions: %u expired", pruned);
    }
    return NULL;
}

void engine_maint_start(struct engine *e)
{
    if (e->maint)
        return;
    struct maint *mt = g_new0(struct maint, 1);
    mt->e = e;
    g_mutex_init(&mt->lock);
    g_cond_init(&mt->wake);
    e->maint = mt;
    mt->thread = g_thread_new("history", maint_thread, mt);
}

void engine_maint_stop(struct engine *e)
{
    struct maint *mt = e->maint;
    if (!mt)
        return;
    g_mutex_lock(&mt->lock);
    mt->quit = true;
    g_cond_broadcast(&mt->wake);
    g_mutex_unlock(&mt->lock);
}

void engine_maint_free(struct engine *e)
{
    struct maint *mt = e->maint;
    if (!mt)
        return;
    g_thread_join(mt->thread);
    g_mutex_clear(&mt->lock);
    g_cond_clear(&mt->wake);
    g_free(mt);
    e->maint = NULL;
}
