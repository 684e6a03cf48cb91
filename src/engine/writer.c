/*
 * Group commit of the store's busiest writes (docs/scale-out.md): the
 * hosts' rounds, and the guest documents of the ingest API.  Every thread
 * with something to write hands it to its group and waits until it is
 * written.  A thread that finds no write under way writes everything
 * queued by then, its own and the others', in one transaction
 * (store_ops.rounds_write, ingests_write); what arrives meanwhile queues
 * for the next.  Each write keeps its own result (a round its fence), and
 * its thread goes on only once its rows are in: what follows a round (the
 * live stream, the policies' decisions) sees it in history, and an agent
 * is told a document was accepted only once it is on disk.
 */
#include "config.h"

#include "engine/engine-private.h"

#include "basic/util.h"

#include <errno.h>

/* Rounds in one transaction at most, by default: a bound on its size and
 * on how long the first of them waits (256 rounds of 100 VMs, some 77 000
 * rows, take about a second; bench-scale-feed with 200 hosts stored 5 %
 * more with 256 than with 64 on SQLite, and more on PostgreSQL). */
#define GROUP_MAX 256
/* Guest documents in one transaction at most: as many as the API's
 * workers can hand in at once, and then some. */
#define INGEST_GROUP_MAX 64

struct job {
    void *w;
    GError *err;
    bool done;
};

/* Writes the N items W in one transaction, ERRORS[i] for item i's. */
typedef void (*group_write_fn)(struct store *st, void *const *w, size_t n, GError **errors);

struct group_commit {
    GMutex lock;
    GCond cond;
    GPtrArray *queue; /* struct job *, waiting */
    guint max;        /* items per transaction at most */
    bool writing;
    group_write_fn write;
    struct engine_writer_stats stats;
};

static struct group_commit *group_new(guint max, group_write_fn write)
{
    struct group_commit *g = g_new0(struct group_commit, 1);
    g_mutex_init(&g->lock);
    g_cond_init(&g->cond);
    g->queue = g_ptr_array_new();
    g->max = max;
    g->write = write;
    return g;
}

static void group_free(struct group_commit *g)
{
    if (!g)
        return;
    g_ptr_array_unref(g->queue);
    g_mutex_clear(&g->lock);
    g_cond_clear(&g->cond);
    g_free(g);
}

/* Writes the jobs BATCH, taken off G's queue; g->lock not held. */
static void write_batch(struct group_commit *g, struct store *st, GPtrArray *batch)
{
    g_autofree void **w = g_new(void *, batch->len);
    g_autofree GError **errors = g_new0(GError *, batch->len);
    for (guint i = 0; i < batch->len; i++)
        w[i] = ((struct job *)g_ptr_array_index(batch, i))->w;
    int64_t t0 = mono_usec();
    g->write(st, w, batch->len, errors);
    double took = (double)(mono_usec() - t0) / 1e6;

    g_mutex_lock(&g->lock);
    for (guint i = 0; i < batch->len; i++) {
        struct job *j = g_ptr_array_index(batch, i);
        j->err = errors[i];
        j->done = true;
    }
    g->stats.groups++;
    g->stats.items += batch->len;
    g->stats.seconds += took;
    g->writing = false;
    g_cond_broadcast(&g->cond);
    g_mutex_unlock(&g->lock);
}

/* Writes W with whatever others queue meanwhile; returns once it is
 * written, with its error in *ERR (NULL: none). */
static void group_run(struct group_commit *g, struct store *st, void *w, GError **err)
{
    struct job j = {.w = w};
    g_mutex_lock(&g->lock);
    g_ptr_array_add(g->queue, &j);
    while (!j.done) {
        if (g->writing) {
            g_cond_wait(&g->cond, &g->lock);
            continue;
        }
        /* This thread writes for the first of those queued, its own
         * among them unless more than a group were ahead of it (then it
         * writes again, or waits for another writer). */
        g->writing = true;
        guint n = MIN(g->queue->len, g->max);
        g_autoptr(GPtrArray) batch = g_ptr_array_new();
        for (guint i = 0; i < n; i++)
            g_ptr_array_add(batch, g_ptr_array_index(g->queue, i));
        g_ptr_array_remove_range(g->queue, 0, n);
        g_mutex_unlock(&g->lock);
        write_batch(g, st, batch);
        g_mutex_lock(&g->lock);
    }
    g_mutex_unlock(&g->lock);
    *err = j.err;
}

static void group_stats(struct group_commit *g, struct engine_writer_stats *ret)
{
    g_mutex_lock(&g->lock);
    *ret = g->stats;
    g_mutex_unlock(&g->lock);
}

static void rounds_write(struct store *st, void *const *w, size_t n, GError **errors)
{
    st->ops->rounds_write(st, (const struct store_round *const *)w, n, errors);
}

static void ingests_write(struct store *st, void *const *w, size_t n, GError **errors)
{
    st->ops->ingests_write(st, (struct store_ingest *const *)w, n, errors);
}

void engine_writer_new(struct engine *e)
{
    e->writer =
        group_new(e->conf.round_group_max ? e->conf.round_group_max : GROUP_MAX, rounds_write);
    e->ingester = group_new(INGEST_GROUP_MAX, ingests_write);
}

void engine_writer_free(struct engine *e)
{
    group_free(e->writer);
    group_free(e->ingester);
    e->writer = e->ingester = NULL;
}

int engine_round_store(struct engine *e, const struct store_round *w, GError **error)
{
    GError *err = NULL;
    group_run(e->writer, e->store, (void *)w, &err);
    if (!err)
        return 0;
    bool fenced = g_error_matches(err, STORE_ERROR, STORE_ERROR_FENCED);
    g_propagate_error(error, err);
    return fenced ? -ESTALE : -EIO;
}

int engine_ingest_store(struct engine *e, struct store_ingest *w, GError **error)
{
    GError *err = NULL;
    group_run(e->ingester, e->store, w, &err);
    if (!err)
        return 0;
    bool invalid = g_error_matches(err, STORE_ERROR, STORE_ERROR_INVALID);
    g_propagate_error(error, err);
    return invalid ? -EINVAL : -EIO;
}

void engine_writer_stats(struct engine *e, struct engine_writer_stats *ret)
{
    group_stats(e->writer, ret);
}

void engine_ingest_stats(struct engine *e, struct engine_writer_stats *ret)
{
    group_stats(e->ingester, ret);
}
