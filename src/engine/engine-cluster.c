/*
 * Several kanrid instances on one PostgreSQL store share the hosts by
 * leases (docs/scale-out.md).  A thread of the engine heartbeats every
 * third of the lease time, reads every instance and lease, asks the pure
 * planner (cluster/lease.h) which hosts to renew, take and give up, and
 * has the store carry the plan out in one transaction.  The hosts held
 * afterwards are the only ones this instance's drivers connect to and
 * collect; the others are released (driver_ops.host_hold) and shown as
 * "elsewhere", naming their holder.
 *
 * A round's rows are written under the lease's epoch (store_fence): a
 * holder that lost its lease unknowingly cannot write over its successor.
 * An instance that cannot renew releases everything before its leases
 * expire, so that no host is collected twice.
 *
 * Hosts whose driver has no per-host switch (containers, on kanrid's own
 * machine) are not shared: they stay held by the instance that has them.
 *
 * Each instance also holds an id slot (a lease "@slot-N"): the operations
 * record's events, incidents and problems it numbers are N modulo
 * ID_SLOTS, so that no two instances give the same id.
 *
 * A kanri-guestd document may reach any instance (they all serve the
 * API); it is stored there.  Every collection interval each instance
 * reads the documents stored since its last look and offers those of VMs
 * on hosts it holds to their items, as if pushed to it, so that the
 * holder reconciles with them.
 *
 * Fleet-wide work on the shared store (history maintenance, the
 * notification outbox) is done by one instance, the leader: the holder of
 * one more lease, LEADER_LEASE, planned like a host's.
 */
#include "config.h"

#include "engine/engine-private.h"

#include "basic/util.h"
#include "cluster/lease.h"

#include <json-c/json.h>
#include <string.h>

#define FORGET_LEASES 10
/* Not hosts' names (those are [A-Za-z0-9_.-]). */
#define LEADER_LEASE "@leader"
#define SLOT_LEASE   "@slot-"
#define ID_SLOTS     1024
/* Documents read per look; the receipt times of the others' documents are
 * on their clocks, so each look goes back PULL_BACK_US (duplicates are
 * dropped by their sequence). */
#define PULL_MAX     20000
#define PULL_BACK_US (5 * USEC_PER_SEC)

struct engine_cluster {
    struct store_instance me;
    int64_t lease_us;
    GThread *thread, *puller, *renewer;
    int64_t pulled_us; /* the puller's: the newest receipt read */
    GMutex lock;       /* guards what follows */
    GCond cond;
    bool quit, wake;
    bool planned;       /* a plan was carried out since start */
    bool leader;        /* holds LEADER_LEASE */
    char *slot;         /* the SLOT_LEASE it holds, or NULL (the cluster thread's) */
    int64_t renewed_us; /* monotonic time of the last plan carried out or renewal */
    char *error;        /* why the last step failed, or NULL */
};

static int look(struct engine *e, int64_t now, bool first, GArray *instances, GArray *leases,
                GError **error);
static int take_slot(struct engine *e, GArray *leases, int64_t now, GError **error);
static GArray *instances_new(void);
static GArray *leases_new(void);

const char *engine_cluster_id(struct engine *e)
{
    return e->cluster ? e->cluster->me.id : NULL;
}

int engine_cluster_init(struct engine *e, const struct engine_cluster_conf *c, GError **error)
{
    struct engine_cluster *cl = g_new0(struct engine_cluster, 1);
    cl->me = (struct store_instance){
        .id = g_strdup(c->id),
        .name = g_strdup(c->name),
        .api_url = g_strdup(c->api_url),
        .version = g_strdup(KANRI_VERSION),
        .started_us = g_get_real_time(),
    };
    cl->lease_us = (int64_t)MAX(c->lease_s, 3) * USEC_PER_SEC;
    g_mutex_init(&cl->lock);
    g_cond_init(&cl->cond);
    e->cluster = cl;
    /* The id slot first, before anything is numbered. */
    int64_t now = g_get_real_time();
    g_autoptr(GArray) instances = instances_new();
    g_autoptr(GArray) leases = leases_new();
    if (look(e, now, true, instances, leases, error) < 0 || take_slot(e, leases, now, error) < 0) {
        g_prefix_error(error, "joining the kanrid instances on this store: ");
        return -1;
    }
    return 0;
}

bool engine_host_shared(struct engine *e, const struct ehost *h)
{
    return e->cluster && h->drv && h->drv->ops->host_hold;
}

/* Holds or releases H (HOLDER the name of the instance holding it now, when
 * another).  The driver is told after e->lock is let go. */
static bool set_held(struct engine *e, struct ehost *h, bool held, int64_t epoch,
                     const char *holder)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    bool changed = h->held != held || (held && h->epoch != epoch);
    if (g_strcmp0(h->holder, holder) != 0) {
        g_free(h->holder);
        h->holder = g_strdup(holder);
        if (!held && !changed) { /* another holder now */
            g_free(h->reason);
            h->reason = engine_elsewhere_reason(holder);
        }
    }
    if (!changed)
        return false;
    h->held = held;
    h->epoch = held ? epoch : 0;
    /* Held anew: loading again until the driver's first full sync, for
     * no VM to be said missing meanwhile.  Released: the holder's. */
    h->synced_once = false;
    h->state = held ? HOST_CONNECTING : HOST_ELSEWHERE;
    g_free(h->reason);
    h->reason = held ? NULL : engine_elsewhere_reason(holder);
    return true;
}

char *engine_elsewhere_reason(const char *holder)
{
    return holder ? g_strdup_printf("held by kanrid instance %s", holder)
                  : g_strdup("not held by this kanrid instance");
}

static void hold(struct engine *e, struct ehost *h, bool held, int64_t epoch, const char *holder)
{
    /* A report of the host being stored is finished first; none is
     * stored once it is released (inventory.c). */
    g_rw_lock_writer_lock(&h->report_lock);
    bool changed = set_held(e, h, held, epoch, holder);
    g_rw_lock_writer_unlock(&h->report_lock);
    if (!changed)
        return;
    g_autoptr(GError) err = NULL;
    if (held && engine_host_rewarm(e, h, &err) < 0)
        g_warning("host %s: loading what the previous holder left: %s", h->name, err->message);
    /* Held (anew, or under a new epoch): from a fresh connection and a
     * full sync, whatever the driver was doing. */
    if (held)
        h->drv->ops->host_hold(h->drv, h->id, false);
    h->drv->ops->host_hold(h->drv, h->id, held);
    if (held)
        g_message("host %s: held by this instance (lease epoch %" G_GINT64_FORMAT ")", h->name,
                  epoch);
    else
        g_message("host %s: released%s%s", h->name, holder ? "; held by " : "",
                  holder ? holder : "");
}

void engine_cluster_lost(struct engine *e, struct ehost *h)
{
    struct engine_cluster *cl = e->cluster;
    if (!cl)
        return;
    g_rw_lock_writer_lock(&h->report_lock);
    g_mutex_lock(&e->lock);
    h->held = false; /* reports are dropped from now on; the step releases the driver */
    g_mutex_unlock(&e->lock);
    g_rw_lock_writer_unlock(&h->report_lock);
    g_mutex_lock(&cl->lock);
    cl->wake = true;
    g_cond_broadcast(&cl->cond);
    g_mutex_unlock(&cl->lock);
}

/* The name of instance ID among INSTANCES, or NULL. */
static const char *instance_name(GArray *instances, const char *id)
{
    for (guint i = 0; id && i < instances->len; i++) {
        const struct store_instance *o = &g_array_index(instances, struct store_instance, i);
        if (g_strcmp0(o->id, id) == 0)
            return o->name;
    }
    return NULL;
}

static const struct store_lease *lease_of(GArray *leases, const char *name)
{
    for (guint k = 0; k < leases->len; k++)
        if (g_str_equal(g_array_index(leases, struct store_lease, k).host, name))
            return &g_array_index(leases, struct store_lease, k);
    return NULL;
}

/* Takes the first free id slot and numbers the operations record in it;
 * 0, or -1 with *error. */
static int take_slot(struct engine *e, GArray *leases, int64_t now, GError **error)
{
    struct engine_cluster *cl = e->cluster;
    struct store *st = e->store;
    for (int k = 0; k < ID_SLOTS; k++) {
        g_autofree char *name = g_strdup_printf(SLOT_LEASE "%d", k);
        const struct store_lease *l = lease_of(leases, name);
        if (l && l->holder && l->expires_us > now)
            continue;
        const char *take[] = {name};
        struct store_lease_plan plan = {.take = take, .n_take = 1};
        g_autoptr(GArray) held = g_array_new(FALSE, TRUE, sizeof(struct store_lease));
        if (st->ops->leases_apply(st, cl->me.id, &plan, now, cl->lease_us, held, error) < 0)
            return -1;
        if (!lease_of(held, name))
            continue; /* another instance took it first */
        g_free(cl->slot);
        cl->slot = g_steal_pointer(&name);
        engine_ops_set_slot(e, ID_SLOTS, k);
        g_message("cluster: id slot %d of %d", k, ID_SLOTS);
        return 0;
    }
    g_set_error(error, STORE_ERROR, STORE_ERROR_INVALID,
                "no free id slot: %d kanrid instances already share this store", ID_SLOTS);
    return -1;
}

/* Reads every instance and lease into INSTANCES and LEASES; 0, or -1 with
 * *error. */
static int read_cluster(struct store *st, GArray *instances, GArray *leases, GError **error)
{
    g_array_set_size(instances, 0);
    g_array_set_size(leases, 0);
    return st->ops->cluster_read(st, instances, leases, error) < 0 ? -1 : 0;
}

/* A heartbeat, then every instance and lease read into INSTANCES and
 * LEASES.  This installation's previous run (a crash, a kill) leaves at
 * the FIRST look, its leases free for the taking rather than when they
 * expire; an instance silent for FORGET_LEASES lease times is forgotten.
 * 0, or -1 with *error. */
static int look(struct engine *e, int64_t now, bool first, GArray *instances, GArray *leases,
                GError **error)
{
    struct engine_cluster *cl = e->cluster;
    struct store *st = e->store;
    if (st->ops->instance_beat(st, &cl->me, now, error) < 0 ||
        read_cluster(st, instances, leases, error) < 0)
        return -1;
    for (guint i = 0; i < instances->len; i++) {
        const struct store_instance *o = &g_array_index(instances, struct store_instance, i);
        bool previous = first && g_strcmp0(o->name, cl->me.name) == 0;
        bool forgotten = now - o->heartbeat_us > FORGET_LEASES * cl->lease_us;
        if ((previous || forgotten) && g_strcmp0(o->id, cl->me.id) != 0) {
            g_message("cluster: %s (%s) %s", o->name, o->id,
                      previous ? "was this installation's previous run: it leaves"
                               : "has been silent too long: it is forgotten");
            if (st->ops->instance_leave(st, o->id, error) < 0 ||
                read_cluster(st, instances, leases, error) < 0)
                return -1;
            i = (guint)-1; /* from the start of the new reading */
        }
    }
    return 0;
}

static GArray *instances_new(void)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct store_instance));
    g_array_set_clear_func(a, (GDestroyNotify)store_instance_clear);
    return a;
}

static GArray *leases_new(void)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct store_lease));
    g_array_set_clear_func(a, (GDestroyNotify)store_lease_clear);
    return a;
}

/* One heartbeat and lease plan; 0, 1 when hosts taken are left for the
 * next step (run at once), or -1 with *error. */
static int step(struct engine *e, GError **error)
{
    struct engine_cluster *cl = e->cluster;
    struct store *st = e->store;
    int64_t now = g_get_real_time();
    g_autoptr(GArray) instances = instances_new();
    g_autoptr(GArray) leases = leases_new();
    if (look(e, now, false, instances, leases, error) < 0)
        return -1;

    g_autoptr(GPtrArray) shared = g_ptr_array_new(); /* struct ehost *, live as the engine */
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_mutex_lock(&e->lock);
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (engine_host_shared(e, h)) {
            g_ptr_array_add(shared, h);
            g_ptr_array_add(names, h->name);
        }
    }
    g_mutex_unlock(&e->lock);
    g_ptr_array_add(names, (char *)LEADER_LEASE);

    g_autofree struct lease_instance *li = g_new0(struct lease_instance, instances->len + 1);
    for (guint i = 0; i < instances->len; i++) {
        const struct store_instance *o = &g_array_index(instances, struct store_instance, i);
        li[i] = (struct lease_instance){.id = o->id, .heartbeat_us = o->heartbeat_us};
    }
    g_autofree struct lease *ls = g_new0(struct lease, leases->len + 1);
    for (guint i = 0; i < leases->len; i++) {
        const struct store_lease *o = &g_array_index(leases, struct store_lease, i);
        ls[i] = (struct lease){
            .host = o->host, .holder = o->holder, .expires_us = o->expires_us, .epoch = o->epoch};
    }
    if (!cl->slot && take_slot(e, leases, now, error) < 0)
        return -1;
    struct lease_plan plan;
    lease_plan(cl->me.id, li, instances->len, ls, leases->len, (const char *const *)names->pdata,
               names->len, now, cl->lease_us, &plan);
    g_ptr_array_add(plan.renew, cl->slot); /* the planner knows hosts only */
    struct store_lease_plan sp = {
        .renew = (const char *const *)plan.renew->pdata,
        .n_renew = plan.renew->len,
        .take = (const char *const *)plan.take->pdata,
        .n_take = plan.take->len,
        .give_up = (const char *const *)plan.give_up->pdata,
        .n_give_up = plan.give_up->len,
    };
    /* Hosts given up are released here first: once the store says they
     * are free, another instance may take them, and nothing of this one's
     * may be stored for them any more (hold() waits for the reports and
     * rounds under way).  The events their last rounds posted are stored
     * too: the instance taking a host reads its open incidents. */
    for (guint i = 0; i < plan.give_up->len; i++) {
        for (guint k = 0; k < shared->len; k++) {
            struct ehost *h = g_ptr_array_index(shared, k);
            if (g_str_equal(h->name, plan.give_up->pdata[i]))
                hold(e, h, false, 0, NULL);
        }
    }
    if (plan.give_up->len)
        engine_ops_flush(e);
    g_autoptr(GArray) held = g_array_new(FALSE, TRUE, sizeof(struct store_lease));
    int r = st->ops->leases_apply(st, cl->me.id, &sp, now, cl->lease_us, held, error);
    lease_plan_clear(&plan);
    if (r < 0)
        return -1;

    if (!lease_of(held, cl->slot)) {
        /* Not renewed in time (its lease ran out): a new one, for ids no
         * other instance gives. */
        g_warning("cluster: the id slot %s was lost; taking another", cl->slot);
        g_clear_pointer(&cl->slot, g_free);
        if (read_cluster(st, instances, leases, error) < 0 || take_slot(e, leases, now, error) < 0)
            return -1;
    }
    bool leader = lease_of(held, LEADER_LEASE) != NULL;
    g_mutex_lock(&cl->lock);
    bool was = cl->leader;
    cl->leader = leader;
    g_mutex_unlock(&cl->lock);
    if (leader != was)
        g_message("cluster: %s the leader (history maintenance, notifications)",
                  leader ? "this instance is" : "this instance is no longer");

    /* Taking a host reads what its previous holder left, a while for many
     * hosts: the leases just renewed must not run out meanwhile.  Past a
     * step's period the rest waits for the next step, run at once, which
     * renews them first.  When stopping the rest is left to the stop,
     * which releases all. */
    int64_t until = g_get_monotonic_time() + cl->lease_us / 3;
    for (guint i = 0; i < shared->len; i++) {
        g_mutex_lock(&cl->lock);
        bool quit = cl->quit, late = g_get_monotonic_time() > until;
        if (late)
            cl->wake = true;
        g_mutex_unlock(&cl->lock);
        if (quit || late)
            return 1;
        struct ehost *h = g_ptr_array_index(shared, i);
        const struct store_lease *mine = NULL, *other = NULL;
        for (guint k = 0; k < held->len && !mine; k++)
            if (g_str_equal(g_array_index(held, struct store_lease, k).host, h->name))
                mine = &g_array_index(held, struct store_lease, k);
        for (guint k = 0; k < leases->len && !other; k++) {
            const struct store_lease *o = &g_array_index(leases, struct store_lease, k);
            if (g_str_equal(o->host, h->name) && o->holder &&
                g_strcmp0(o->holder, cl->me.id) != 0 && o->expires_us > now)
                other = o;
        }
        hold(e, h, mine != NULL, mine ? mine->epoch : 0,
             mine || !other ? NULL : instance_name(instances, other->holder));
    }
    return 0;
}

/* Releases every shared host: this instance can no longer tell it holds
 * them. */
static void release_all(struct engine *e)
{
    g_mutex_lock(&e->cluster->lock);
    e->cluster->leader = false;
    g_mutex_unlock(&e->cluster->lock);
    g_autoptr(GPtrArray) shared = g_ptr_array_new();
    g_mutex_lock(&e->lock);
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (engine_host_shared(e, h))
            g_ptr_array_add(shared, h);
    }
    g_mutex_unlock(&e->lock);
    for (guint i = 0; i < shared->len; i++)
        hold(e, g_ptr_array_index(shared, i), false, 0, NULL);
}

/* Offers the kanri-guestd documents stored since the last look to the
 * items of VMs on held hosts. */
static void pull_guests(struct engine *e)
{
    struct engine_cluster *cl = e->cluster;
    g_autoptr(GArray) got = g_array_new(FALSE, TRUE, sizeof(struct guest_sample));
    g_array_set_clear_func(got, (GDestroyNotify)guest_sample_clear);
    g_autoptr(GError) err = NULL;
    if (e->store->ops->guest_samples_received(
            e->store, "kanri-guestd", cl->pulled_us - PULL_BACK_US, PULL_MAX, got, &err) < 0) {
        g_debug("cluster: reading guest documents: %s", err->message);
        return;
    }
    g_mutex_lock(&e->lock);
    for (guint i = 0; i < got->len; i++) {
        struct guest_sample *s = &g_array_index(got, struct guest_sample, i);
        cl->pulled_us = MAX(cl->pulled_us, s->received_us);
        struct item *it = g_hash_table_lookup(e->items, s->machine_uuid);
        if (it && it->host_id && engine_host_reporting(e, it->host_id))
            engine_item_offer_guest(it, GS_GUESTD, s);
    }
    g_mutex_unlock(&e->lock);
}

/* Waits PERIOD, cl->lock held; false once the cluster is stopping. */
static bool pause_for(struct engine_cluster *cl, int64_t period)
{
    int64_t until = g_get_monotonic_time() + period;
    while (!cl->quit && g_cond_wait_until(&cl->cond, &cl->lock, until))
        ;
    return !cl->quit;
}

/* Heartbeat and renewal alone, every quarter of the lease time, apart
 * from the plan: taking many hosts (each reading what its previous holder
 * left) or releasing one (waiting for its report under way) may make a
 * step last longer than a lease, and the leases held must not run out
 * meanwhile for another instance to take. */
static gpointer renewer_thread(gpointer data)
{
    struct engine *e = data;
    struct engine_cluster *cl = e->cluster;
    int64_t period = cl->lease_us / 4;
    g_mutex_lock(&cl->lock);
    while (pause_for(cl, period)) {
        g_mutex_unlock(&cl->lock);
        int64_t t0 = mono_usec();
        g_autoptr(GError) err = NULL;
        int r = e->store->ops->leases_renew(e->store, cl->me.id, g_get_real_time(), cl->lease_us,
                                            NULL, &err);
        if (r < 0)
            g_debug("cluster: renewing the leases: %s", err->message);
        g_mutex_lock(&cl->lock);
        if (r == 0 && cl->planned)
            cl->renewed_us = MAX(cl->renewed_us, t0);
    }
    g_mutex_unlock(&cl->lock);
    return NULL;
}

static gpointer puller_thread(gpointer data)
{
    struct engine *e = data;
    struct engine_cluster *cl = e->cluster;
    int64_t period = (int64_t)e->conf.interval_s * USEC_PER_SEC;
    cl->pulled_us = g_get_real_time();
    g_mutex_lock(&cl->lock);
    while (pause_for(cl, period)) {
        g_mutex_unlock(&cl->lock);
        pull_guests(e);
        g_mutex_lock(&cl->lock);
    }
    g_mutex_unlock(&cl->lock);
    return NULL;
}

static gpointer cluster_thread(gpointer data)
{
    struct engine *e = data;
    struct engine_cluster *cl = e->cluster;
    int64_t period = cl->lease_us / 3;
    g_mutex_lock(&cl->lock);
    while (!cl->quit) {
        g_mutex_unlock(&cl->lock);
        g_autoptr(GError) err = NULL;
        int r = step(e, &err);
        int64_t now = mono_usec();
        g_mutex_lock(&cl->lock);
        bool was_failing = cl->error != NULL;
        g_clear_pointer(&cl->error, g_free);
        if (r >= 0) {
            /* Ready once a plan was carried out whole. */
            cl->planned = cl->planned || r == 0;
            cl->renewed_us = MAX(cl->renewed_us, now);
        } else {
            cl->error = g_strdup(err->message);
        }
        /* Leases not renewed for two thirds of their time may be lost
         * before the next try: nothing is collected until they are back. */
        bool stale = cl->planned && now - cl->renewed_us > cl->lease_us * 2 / 3;
        g_mutex_unlock(&cl->lock);
        if (r < 0 && !was_failing)
            g_warning("cluster: heartbeat and leases: %s", err->message);
        else if (r >= 0 && was_failing)
            g_message("cluster: heartbeat and leases work again");
        if (r < 0 && stale)
            release_all(e);
        g_mutex_lock(&cl->lock);
        int64_t until = g_get_monotonic_time() + (r >= 0 ? period : MIN(period, USEC_PER_SEC));
        while (!cl->quit && !cl->wake && g_cond_wait_until(&cl->cond, &cl->lock, until))
            ;
        cl->wake = false;
    }
    g_mutex_unlock(&cl->lock);
    return NULL;
}

void engine_cluster_start(struct engine *e)
{
    struct engine_cluster *cl = e->cluster;
    if (cl && !cl->thread) {
        cl->thread = g_thread_new("cluster", cluster_thread, e);
        cl->puller = g_thread_new("cluster-guests", puller_thread, e);
        cl->renewer = g_thread_new("cluster-renew", renewer_thread, e);
    }
}

void engine_cluster_stop(struct engine *e)
{
    struct engine_cluster *cl = e->cluster;
    if (!cl || !cl->thread)
        return;
    g_mutex_lock(&cl->lock);
    cl->quit = true;
    g_cond_broadcast(&cl->cond);
    g_mutex_unlock(&cl->lock);
    g_thread_join(g_steal_pointer(&cl->thread));
    g_thread_join(g_steal_pointer(&cl->puller));
    g_thread_join(g_steal_pointer(&cl->renewer));
    release_all(e);
    /* Gone at once: the others take the hosts now rather than when the
     * leases expire. */
    g_autoptr(GError) err = NULL;
    if (e->store->ops->instance_leave(e->store, cl->me.id, &err) < 0)
        g_warning("cluster: leaving: %s", err->message);
}

void engine_cluster_free(struct engine *e)
{
    struct engine_cluster *cl = e->cluster;
    if (!cl)
        return;
    store_instance_clear(&cl->me);
    g_free(cl->error);
    g_free(cl->slot);
    g_mutex_clear(&cl->lock);
    g_cond_clear(&cl->cond);
    g_free(cl);
    e->cluster = NULL;
}

void engine_cluster_set_api(struct engine *e, const char *url, const char *tls_pin)
{
    struct engine_cluster *cl = e->cluster;
    if (!cl)
        return;
    g_free(cl->me.api_url);
    g_free(cl->me.tls_pin);
    cl->me.api_url = g_strdup(url);
    cl->me.tls_pin = g_strdup(tls_pin);
}

void engine_holder_clear(struct engine_holder *h)
{
    g_free(h->name);
    g_free(h->url);
    g_free(h->tls_pin);
    memset(h, 0, sizeof(*h));
}

int engine_host_elsewhere(struct engine *e, int64_t host_id, struct engine_holder *ret,
                          GError **error)
{
    struct engine_cluster *cl = e->cluster;
    memset(ret, 0, sizeof(*ret));
    if (!cl)
        return 0;
    g_autofree char *name = NULL;
    g_mutex_lock(&e->lock);
    struct ehost *h = engine_host_find(e, host_id);
    if (h && engine_host_shared(e, h) && !h->held)
        name = g_strdup(h->name);
    g_mutex_unlock(&e->lock);
    if (!name)
        return 0;
    g_autoptr(GArray) instances = instances_new();
    g_autoptr(GArray) leases = leases_new();
    if (e->store->ops->cluster_read(e->store, instances, leases, error) < 0)
        return -1;
    const struct store_lease *l = lease_of(leases, name);
    if (!l || !l->holder || l->expires_us <= g_get_real_time())
        return 1;
    for (guint i = 0; i < instances->len; i++) {
        const struct store_instance *o = &g_array_index(instances, struct store_instance, i);
        if (g_strcmp0(o->id, l->holder) == 0) {
            ret->name = g_strdup(o->name);
            ret->url = g_strdup(o->api_url);
            ret->tls_pin = g_strdup(o->tls_pin);
        }
    }
    return 1;
}

bool engine_is_leader(struct engine *e)
{
    struct engine_cluster *cl = e->cluster;
    if (!cl)
        return true;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&cl->lock);
    return cl->leader;
}

bool engine_cluster_ready(struct engine *e, char **ret_why)
{
    struct engine_cluster *cl = e->cluster;
    if (!cl)
        return true;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&cl->lock);
    if (cl->planned)
        return true;
    if (ret_why)
        *ret_why = g_strdup_printf("joining the other kanrid instances: %s",
                                   cl->error ? cl->error : "the first lease plan has not run yet");
    return false;
}

/* ---- status ---- */

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

char *engine_cluster_json(struct engine *e, GError **error)
{
    struct engine_cluster *cl = e->cluster;
    json_object *root = json_object_new_object();
    json_object_object_add(root, "enabled", json_object_new_boolean(cl != NULL));
    if (!cl) {
        char *s = g_strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
        json_object_put(root);
        return s;
    }
    g_autoptr(GArray) instances = instances_new();
    g_autoptr(GArray) leases = leases_new();
    if (e->store->ops->cluster_read(e->store, instances, leases, error) < 0) {
        json_object_put(root);
        return NULL;
    }
    int64_t now = g_get_real_time();
    json_object_object_add(root, "instance", json_object_new_string(cl->me.id));
    json_object_object_add(root, "lease_seconds",
                           json_object_new_int64(cl->lease_us / USEC_PER_SEC));
    g_mutex_lock(&cl->lock);
    json_object_object_add(root, "error", jstr(cl->error));
    g_mutex_unlock(&cl->lock);

    json_object *ji = json_object_new_array();
    for (guint i = 0; i < instances->len; i++) {
        const struct store_instance *o = &g_array_index(instances, struct store_instance, i);
        struct lease_instance l = {.id = o->id, .heartbeat_us = o->heartbeat_us};
        unsigned n = 0;
        for (guint k = 0; k < leases->len; k++) {
            const struct store_lease *s = &g_array_index(leases, struct store_lease, k);
            n += g_strcmp0(s->holder, o->id) == 0 && s->expires_us > now && s->host[0] != '@';
        }
        json_object *x = json_object_new_object();
        json_object_object_add(x, "id", json_object_new_string(o->id));
        json_object_object_add(x, "name", jstr(o->name));
        json_object_object_add(x, "api_url", jstr(o->api_url));
        json_object_object_add(x, "version", jstr(o->version));
        json_object_object_add(x, "started", engine_jtime(o->started_us));
        json_object_object_add(x, "heartbeat", engine_jtime(o->heartbeat_us));
        json_object_object_add(x, "heartbeat_age_seconds",
                               json_object_new_double((double)(now - o->heartbeat_us) / 1e6));
        json_object_object_add(x, "live",
                               json_object_new_boolean(g_str_equal(o->id, cl->me.id) ||
                                                       lease_instance_live(&l, now, cl->lease_us)));
        json_object_object_add(x, "this", json_object_new_boolean(g_str_equal(o->id, cl->me.id)));
        json_object_object_add(x, "hosts", json_object_new_int64(n));
        json_object_array_add(ji, x);
    }
    json_object_object_add(root, "instances", ji);

    json_object *jl = json_object_new_array();
    const char *leader = NULL;
    for (guint k = 0; k < leases->len; k++) {
        const struct store_lease *s = &g_array_index(leases, struct store_lease, k);
        bool current = s->holder && s->expires_us > now;
        if (g_str_equal(s->host, LEADER_LEASE))
            leader = current ? instance_name(instances, s->holder) : NULL;
        if (s->host[0] == '@') /* the leader's, id slots: not hosts */
            continue;
        json_object *x = json_object_new_object();
        json_object_object_add(x, "host", json_object_new_string(s->host));
        json_object_object_add(x, "holder", jstr(current ? s->holder : NULL));
        json_object_object_add(x, "holder_name",
                               jstr(current ? instance_name(instances, s->holder) : NULL));
        json_object_object_add(x, "epoch", json_object_new_int64(s->epoch));
        json_object_object_add(x, "since", engine_jtime(current ? s->since_us : 0));
        json_object_object_add(x, "expires", engine_jtime(current ? s->expires_us : 0));
        json_object_array_add(jl, x);
    }
    json_object_object_add(root, "leases", jl);
    json_object_object_add(root, "leader", jstr(leader));
    char *s = g_strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return s;
}
