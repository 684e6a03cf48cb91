/*
 * The engine: hosts, items, readiness, the latest view's accessors and the
 * warm start.  See engine.h; the sink's inventory half is inventory.c, its
 * collection half and the round pipeline round.c.
 */
#include "config.h"

#include "engine/policy-private.h"
#include "engine/ops-private.h"

#include "basic/util.h"
#include "reconcile/lifecycle.h"
#include "reconcile/machine.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define UPKEEP_THREADS 1

const char *const engine_part_names[PART_N] = {"guest-memory", "guest-agent"};

void engine_conf_init(struct engine_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->collect = true;
    c->interval_s = 10;
    c->reconcile = true;
    reconcile_config_init(&c->reconcile_conf);
    c->balloon_period_s = 2;
    c->slo_default = NAN;
    c->finding_refresh_us = 60 * USEC_PER_SEC;
    c->view_keep_us = 600 * USEC_PER_SEC;
    ops_conf_defaults(&c->ops);
    c->event_retention_us = 90 * 86400 * USEC_PER_SEC;
    c->notify_give_up_us = 86400 * USEC_PER_SEC;
    c->finding_min_severity = SEV_WARNING;
    c->agent_silent_us = 300 * USEC_PER_SEC;
    c->policy_enabled = true;
    policy_memory_conf_init(&c->policy_memory);
    policy_balance_conf_init(&c->policy_balance);
    ha_conf_init(&c->ha);
}

/* ---- items ---- */

void engine_disk_ref_free(gpointer p)
{
    struct disk_ref *d = p;
    g_free(d->target);
    g_free(d->source);
    g_free(d);
}

bool engine_guest_is_newer(int gs, const struct guest_sample *s, const struct guest_sample *newest)
{
    if (gs == GS_BALLOON) /* stamped by QEMU on the host's clock */
        return s->time_us > newest->time_us;
    if (gs == GS_GUESTD && s->seq != SAMPLE_ABSENT && newest->seq != SAMPLE_ABSENT) {
        /* The agent's own order; a sequence that starts again (its state
         * was wiped) takes over once the old one has been silent a while. */
        return s->seq > newest->seq || s->received_us - newest->received_us > GUEST_SEQ_RESTART_US;
    }
    /* Never the guest's clock: one document dated a year ahead would hide
     * every later one.  kanrid's receipt orders what has no sequence. */
    return s->received_us > newest->received_us ||
           (s->received_us == newest->received_us && s->time_us > newest->time_us);
}

void engine_item_offer_guest(struct item *it, int gs, struct guest_sample *s)
{
    const struct guest_sample *newest = it->have_next[gs]       ? &it->next[gs]
                                        : it->have_guest[gs][0] ? &it->guest[gs][0]
                                                                : NULL;
    if (newest && !engine_guest_is_newer(gs, s, newest)) {
        guest_sample_clear(s);
        return;
    }
    guest_sample_move(&it->next[gs], s);
    it->have_next[gs] = true;
    if (!it->active)
        engine_item_take_guests(it);
}

void engine_item_take_guests(struct item *it)
{
    for (int gs = 0; gs < GS_N; gs++) {
        if (!it->have_next[gs])
            continue;
        guest_sample_move(&it->guest[gs][1], &it->guest[gs][0]);
        it->have_guest[gs][1] = it->have_guest[gs][0];
        guest_sample_move(&it->guest[gs][0], &it->next[gs]);
        it->have_guest[gs][0] = true;
        it->have_next[gs] = false;
    }
}

void engine_item_clear_view(struct item *it)
{
    for (int k = 0; k < 2; k++) {
        host_sample_clear(&it->host[k]);
        it->have_host[k] = false;
        for (int s = 0; s < GS_N; s++) {
            if (s == GS_GUESTD)
                continue; /* pushed by the guest itself, not tied to this host's rounds */
            guest_sample_clear(&it->guest[s][k]);
            it->have_guest[s][k] = false;
        }
    }
}

static void item_free(gpointer p)
{
    struct item *it = p;
    for (int k = 0; k < 2; k++) {
        host_sample_clear(&it->host[k]);
        for (int s = 0; s < GS_N; s++)
            guest_sample_clear(&it->guest[s][k]);
    }
    for (int s = 0; s < GS_N; s++)
        guest_sample_clear(&it->next[s]);
    if (it->round_disks)
        g_ptr_array_unref(it->round_disks);
    reconcile_state_free(it->rstate_prev);
    for (int i = 0; i < PART_N; i++)
        g_free(it->parts[i].reason);
    g_free(it->uuid);
    g_free(it->name);
    g_ptr_array_unref(it->disks);
    reconcile_state_free(it->rstate);
    g_free(it->rstate_key);
    reconcile_result_free(it->result);
    g_ptr_array_unref(it->open);
    g_free(it);
}

struct item *engine_item_get(struct engine *e, const char *uuid)
{
    struct item *it = g_hash_table_lookup(e->items, uuid);
    if (it)
        return it;
    it = g_new0(struct item, 1);
    it->uuid = g_strdup(uuid);
    it->disks = g_ptr_array_new_with_free_func(engine_disk_ref_free);
    it->open = g_ptr_array_new_with_free_func((GDestroyNotify)finding_open_free);
    for (int k = 0; k < 2; k++) {
        host_sample_init(&it->host[k]);
        for (int s = 0; s < GS_N; s++)
            guest_sample_init(&it->guest[s][k]);
    }
    for (int s = 0; s < GS_N; s++)
        guest_sample_init(&it->next[s]);
    g_hash_table_insert(e->items, it->uuid, it);
    return it;
}

/* An item that left its host's rounds (stopped, removed, migrated away):
 * its last view is kept, and its figures are no longer current. */
void engine_item_deactivate(struct engine *e, struct item *it, GPtrArray *ret_views)
{
    if (it->result && ret_views) {
        struct vm_view *v = engine_item_view(e, it);
        if (v)
            g_ptr_array_add(ret_views, v);
    }
    reconcile_result_free(it->result);
    it->result = NULL;
    it->active = false;
    /* The guest agent of a stopped VM is not "gone": after the next boot
     * its first answer (or silence while the guest boots) is news to
     * nobody, so the operations record hears only of later changes. */
    it->parts[PART_AGENT].known = false;
    engine_item_clear_view(it);
}

/* ---- hosts ---- */

static void pool_ref_free(gpointer p)
{
    struct pool_ref *r = p;
    if (!r)
        return;
    g_free(r->name);
    g_free(r->target_path);
    pool_sample_clear(&r->cur);
    pool_sample_clear(&r->prev);
    g_free(r);
}

static void inv_dom_free(gpointer p)
{
    struct inv_dom *d = p;
    g_free(d->uuid);
    g_free(d->name);
    g_free(d->state);
    g_free(d->state_reason);
    if (d->pending)
        g_ptr_array_unref(d->pending);
    g_free(d);
}

static void status_write_clear(gpointer p)
{
    struct store_view_status_write *w = p;
    g_free((char *)w->uuid);
    g_free((char *)w->part);
    g_free((char *)w->reason);
}

static void guest_sample_free(gpointer p)
{
    guest_sample_clear(p);
    g_free(p);
}

GPtrArray *engine_pending_guests_new(void)
{
    return g_ptr_array_new_with_free_func(guest_sample_free);
}

GArray *engine_pending_status_new(void)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct store_view_status_write));
    g_array_set_clear_func(a, status_write_clear);
    return a;
}

static struct ehost *ehost_new(int64_t id, const char *name, struct driver *drv)
{
    struct ehost *h = g_new0(struct ehost, 1);
    h->id = id;
    h->name = g_strdup(name);
    h->drv = drv;
    g_mutex_init(&h->inv_lock);
    g_rw_lock_init(&h->report_lock);
    h->state = HOST_CONNECTING;
    h->held = true;
    h->inv = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, inv_dom_free);
    h->avail = engine_avail_new();
    h->pools = g_ptr_array_new_with_free_func(pool_ref_free);
    node_sample_init(&h->node);
    h->pending_guests = engine_pending_guests_new();
    h->pending_status = engine_pending_status_new();
    return h;
}

static void ehost_free(gpointer p)
{
    struct ehost *h = p;
    g_free(h->name);
    g_free(h->reason);
    g_free(h->holder);
    g_mutex_clear(&h->inv_lock);
    g_rw_lock_clear(&h->report_lock);
    g_hash_table_unref(h->inv);
    g_hash_table_unref(h->avail);
    g_ptr_array_unref(h->pools);
    g_ptr_array_unref(h->pending_guests);
    g_array_unref(h->pending_status);
    g_free(h);
}

struct ehost *engine_host_find(struct engine *e, int64_t host_id)
{
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (h->id == host_id)
            return h;
    }
    return NULL;
}

struct ehost *engine_host_reporting(struct engine *e, int64_t host_id)
{
    struct ehost *h = engine_host_find(e, host_id);
    return h && h->held ? h : NULL;
}

struct ehost *engine_host_enter(struct engine *e, int64_t host_id)
{
    g_mutex_lock(&e->lock);
    struct ehost *h = engine_host_find(e, host_id); /* hosts live as long as the engine */
    g_mutex_unlock(&e->lock);
    if (!h)
        return NULL;
    g_rw_lock_reader_lock(&h->report_lock);
    g_mutex_lock(&e->lock);
    bool held = h->held;
    g_mutex_unlock(&e->lock);
    if (!held) {
        g_rw_lock_reader_unlock(&h->report_lock);
        return NULL;
    }
    return h;
}

void engine_host_leave(struct ehost *h)
{
    g_rw_lock_reader_unlock(&h->report_lock);
}

/* ---- in-flight actions ---- */

static char *inflight_key(int64_t host_id, const char *uuid)
{
    return g_strdup_printf("%" G_GINT64_FORMAT "/%s", host_id, uuid);
}

static void inflight_free(gpointer p)
{
    struct inflight *f = p;
    g_free(f->actor);
    g_free(f);
}

void engine_inflight_set(struct engine *e, int64_t host_id, const char *uuid,
                         const struct change_cause *cause)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    char *key = inflight_key(host_id, uuid);
    if (!cause) {
        g_hash_table_remove(e->inflight, key);
        g_free(key);
        return;
    }
    struct inflight *f = g_new0(struct inflight, 1);
    f->actor = g_strdup(cause->actor);
    f->audit_id = cause->audit_id;
    g_hash_table_replace(e->inflight, key, f);
}

void engine_inflight_keeps_state(struct engine *e, int64_t host_id, const char *uuid)
{
    g_autofree char *key = inflight_key(host_id, uuid);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    struct inflight *f = g_hash_table_lookup(e->inflight, key);
    if (f)
        f->keeps_state = true;
}

bool engine_inflight_keeps(struct engine *e, int64_t host_id, const char *uuid, int64_t audit_id)
{
    g_autofree char *key = inflight_key(host_id, uuid);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    const struct inflight *f = g_hash_table_lookup(e->inflight, key);
    return f && f->keeps_state && f->audit_id == audit_id;
}

bool engine_inflight_cause(struct engine *e, int64_t host_id, const char *uuid,
                           struct change_cause *ret, char **ret_actor)
{
    g_autofree char *key = inflight_key(host_id, uuid);
    g_autofree char *define_key = inflight_key(host_id, DRIVER_INFLIGHT_DEFINE);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    struct inflight *f = g_hash_table_lookup(e->inflight, key);
    /* A define's UUID is unknown until the hypervisor answers, and its
     * event may arrive first: while a define runs on this host, what
     * appears there is its doing. */
    if (!f)
        f = g_hash_table_lookup(e->inflight, define_key);
    if (!f)
        return false;
    *ret_actor = g_strdup(f->actor);
    *ret = (struct change_cause){.cause = "action", .actor = *ret_actor, .audit_id = f->audit_id};
    return true;
}

/* ---- life ---- */

static void upkeep_run(gpointer data, gpointer user);

struct engine *engine_new(struct store *st, const struct engine_conf *conf)
{
    struct engine *e = g_new0(struct engine, 1);
    e->store = st;
    e->conf = *conf;
    e->conf.interval_s = MAX(e->conf.interval_s, 1);
    g_mutex_init(&e->lock);
    e->hosts = g_ptr_array_new_with_free_func(ehost_free);
    e->items = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, item_free);
    e->inflight = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, inflight_free);
    e->rechecks = engine_rechecks_new();
    e->sink.ctx = e;
    engine_sink_inventory(&e->sink);
    engine_sink_rounds(&e->sink);
    engine_writer_new(e);
    engine_ops_new(e);
    engine_policy_new(e);
    engine_ha_new(e);
    guint backlog = conf->stream_backlog ? conf->stream_backlog : STREAM_DEFAULT_BACKLOG;
    e->stream = stream_hub_new(backlog, (uint64_t)MAX(g_get_real_time(), 0));
    return e;
}

const struct driver_sink *engine_sink(struct engine *e)
{
    return &e->sink;
}

/* Guest sources as the store names them, by GS_ index. */
static const char *const gs_names[GS_N] = {"qga", "balloon", "kanri-guestd"};

/* The newest samples the store holds of the host's live domains, so the
 * first round after a restart has a predecessor to take rates from. */
static int warm_samples(struct engine *e, struct ehost *h, GError **error)
{
    GHashTableIter it;
    gpointer k, v;
    g_autoptr(GPtrArray) live = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&e->lock);
    g_hash_table_iter_init(&it, h->inv);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (!((struct inv_dom *)v)->removed)
            g_ptr_array_add(live, g_strdup(k));
    }
    g_mutex_unlock(&e->lock);
    for (guint i = 0; i < live->len; i++) {
        const char *uuid = g_ptr_array_index(live, i);
        g_autoptr(GArray) hs = g_array_new(FALSE, TRUE, sizeof(struct host_sample));
        if (e->store->ops->samples_recent(e->store, STORE_RECENT_HOST, uuid, NULL, 0, 1, hs,
                                          error) < 0)
            return -EIO;
        GArray *gs[GS_N];
        for (int s = 0; s < GS_N; s++) {
            gs[s] = g_array_new(FALSE, TRUE, sizeof(struct guest_sample));
            if (e->store->ops->samples_recent(e->store, STORE_RECENT_GUEST, uuid, gs_names[s], 0, 2,
                                              gs[s], error) < 0) {
                for (int t = 0; t <= s; t++)
                    g_array_unref(gs[t]);
                return -EIO;
            }
        }
        g_mutex_lock(&e->lock);
        struct item *itm = engine_item_get(e, uuid);
        if (!itm->host_id)
            itm->host_id = h->id;
        /* The stored newest becomes the previous of the first new round. */
        if (hs->len && !itm->have_host[0]) {
            host_sample_move(&itm->host[0], &g_array_index(hs, struct host_sample, 0));
            itm->have_host[0] = true;
        }
        for (int s = 0; s < GS_N; s++) {
            for (guint n = 0; n < gs[s]->len && n < 2 && !itm->have_guest[s][n]; n++) {
                guest_sample_move(&itm->guest[s][n], &g_array_index(gs[s], struct guest_sample, n));
                itm->have_guest[s][n] = true;
            }
        }
        g_mutex_unlock(&e->lock);
        for (guint n = 0; n < hs->len; n++)
            host_sample_clear(&g_array_index(hs, struct host_sample, n));
        for (int s = 0; s < GS_N; s++) {
            for (guint n = 0; n < gs[s]->len; n++)
                guest_sample_clear(&g_array_index(gs[s], struct guest_sample, n));
            g_array_unref(gs[s]);
        }
    }
    return 0;
}

/* The open finding rows OPEN (findings_open) into their items.  Under
 * e->lock. */
static void load_open(struct engine *e, const struct rows *open)
{
    for (guint i = 0; i < rows_len(open); i++) {
        const struct finding_row *r = rows_get(open, i);
        struct item *it = engine_item_get(e, r->uuid);
        struct finding_open *f = g_new0(struct finding_open, 1);
        f->rule = g_strdup(r->rule);
        f->severity = g_strdup(r->severity);
        f->message = g_strdup(r->message ? r->message : "");
        f->measure = r->measure;
        f->updated_us = r->updated;
        g_ptr_array_add(it->open, f);
    }
}

/* The open findings of the machines no hypervisor knows (stored under
 * host id 0). */
static void warm_machine_findings(struct engine *e)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) open = e->store->ops->findings_open(e->store, 0, &err);
    if (!open) {
        g_warning("machines: loading their open findings: %s", err->message);
        return;
    }
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    load_open(e, open);
}

/* Open findings and engine states of the host's VMs. */
static int warm_findings(struct engine *e, struct ehost *h, GError **error)
{
    g_autoptr(rows) open = e->store->ops->findings_open(e->store, h->id, error);
    if (!open)
        return -EIO;
    g_autoptr(GHashTable) states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (e->store->ops->states_load(e->store, h->id, states, error) < 0)
        return -EIO;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    load_open(e, open);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, states);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        /* A state that does not read back is dropped: findings start over,
         * and the lifecycle closes rows the engine no longer reports. */
        struct reconcile_state *st = reconcile_state_from_json(v, strlen(v), NULL);
        if (!st)
            continue;
        struct item *itm = engine_item_get(e, k);
        reconcile_state_free(itm->rstate);
        itm->rstate = st;
        g_free(itm->rstate_key);
        itm->rstate_key = engine_state_key(st);
    }
    return 0;
}

int engine_host_rewarm(struct engine *e, struct ehost *h, GError **error)
{
    /* Its inventory as the previous holder left it (domains it found,
     * their configuration versions): what this instance loaded before is
     * older, and a version numbered from it would be one already there. */
    {
        g_autoptr(GMutexLocker) inv = g_mutex_locker_new(&h->inv_lock);
        g_mutex_lock(&e->lock);
        g_hash_table_remove_all(h->inv);
        /* The previous holder marked its VMs' states meanwhile. */
        g_hash_table_remove_all(h->avail);
        g_mutex_unlock(&e->lock);
        if (engine_inventory_load(e, h, error) < 0)
            return -EIO;
    }
    /* What is known of its VMs' findings goes, then the store's. */
    g_mutex_lock(&e->lock);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, h->inv);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct item *itm = g_hash_table_lookup(e->items, k);
        if (itm)
            g_ptr_array_set_size(itm->open, 0);
    }
    g_mutex_unlock(&e->lock);
    if (warm_findings(e, h, error) < 0)
        return -EIO;
    return engine_ops_reload_host(e, h->name, error);
}

int engine_host_add(struct engine *e, struct driver *drv, const struct driver_host_conf *hc,
                    GError **error)
{
    int64_t id;
    if (e->store->ops->host_ensure(e->store, hc->name, hc->uri, &id, error) < 0)
        return -EIO;
    struct ehost *h = ehost_new(id, hc->name, drv);
    struct driver_host_conf conf = *hc;
    if (engine_host_shared(e, h)) {
        /* Collected only once a lease is had. */
        conf.released = true;
        h->held = false;
        h->state = HOST_ELSEWHERE;
        h->reason = engine_elsewhere_reason(NULL);
    }
    g_mutex_lock(&e->lock);
    g_ptr_array_add(e->hosts, h);
    g_mutex_unlock(&e->lock);
    if (engine_inventory_load(e, h, error) < 0 || warm_findings(e, h, error) < 0 ||
        warm_samples(e, h, error) < 0) {
        g_prefix_error(error, "host %s: loading what the store knows: ", hc->name);
        return -EIO;
    }
    return drv->ops->host_add(drv, id, &conf, error);
}

void engine_hosts_expect(struct engine *e, unsigned n)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    e->hosts_expected = n;
}

void engine_start(struct engine *e)
{
    warm_machine_findings(e);
    if (!e->upkeep)
        e->upkeep = g_thread_pool_new(upkeep_run, e, UPKEEP_THREADS, FALSE, NULL);
    engine_maint_start(e);
    engine_changes_start(e);
    engine_report_sched_start(e);
    g_autoptr(GError) err = NULL;
    if (engine_ops_start(e, &err) < 0)
        g_warning("operations record: loading its state: %s (events are not processed)",
                  err->message);
    g_clear_error(&err);
    if (engine_policy_start(e, &err) < 0)
        g_warning("policies: loading their state: %s (no policy runs)", err->message);
    engine_ha_start(e);
}

void engine_resync_all(struct engine *e)
{
    g_autoptr(GPtrArray) drivers = g_ptr_array_new();
    g_mutex_lock(&e->lock);
    for (guint i = 0; i < e->hosts->len; i++) {
        struct driver *d = ((struct ehost *)g_ptr_array_index(e->hosts, i))->drv;
        if (!g_ptr_array_find(drivers, d, NULL))
            g_ptr_array_add(drivers, d);
    }
    g_mutex_unlock(&e->lock);
    for (guint i = 0; i < drivers->len; i++) {
        struct driver *d = g_ptr_array_index(drivers, i);
        d->ops->resync_all(d);
    }
}

/* Keeps the last view of every VM that has one, so it is still shown after
 * kanrid restarts. */
static void keep_views(struct engine *e)
{
    g_autoptr(GPtrArray) views = g_ptr_array_new_with_free_func((GDestroyNotify)vm_view_free);
    g_mutex_lock(&e->lock);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, e->items);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct item *itm = v;
        struct vm_view *view = itm->result ? engine_item_view(e, itm) : NULL;
        if (view)
            g_ptr_array_add(views, view);
    }
    g_mutex_unlock(&e->lock);
    if (!views->len)
        return;
    struct store_round w = {.views = (const struct vm_view *const *)views->pdata,
                            .n_views = views->len};
    g_autoptr(GError) err = NULL;
    if (e->store->ops->round_write(e->store, &w, &err) < 0)
        g_warning("keeping the views of %u VMs: %s", views->len, err->message);
}

bool engine_stop(struct engine *e, int timeout_s)
{
    if (!e)
        return true;
    int64_t deadline = mono_usec() + (int64_t)timeout_s * USEC_PER_SEC;
    g_mutex_lock(&e->lock);
    e->stopping = true;
    g_autoptr(GPtrArray) drivers = g_ptr_array_new();
    for (guint i = 0; i < e->hosts->len; i++) {
        struct driver *d = ((struct ehost *)g_ptr_array_index(e->hosts, i))->drv;
        if (!g_ptr_array_find(drivers, d, NULL))
            g_ptr_array_add(drivers, d);
    }
    g_mutex_unlock(&e->lock);
    /* Nothing is fenced or restarted while kanrid stops; the leases go
     * to the other instances at once. */
    engine_ha_stop(e, deadline);
    engine_cluster_stop(e);
    engine_maint_stop(e);
    engine_changes_stop(e);
    engine_report_sched_stop(e);
    bool all = true;
    for (guint i = 0; i < drivers->len; i++) {
        struct driver *d = g_ptr_array_index(drivers, i);
        int left = (int)MAX(1, (deadline - mono_usec()) / USEC_PER_SEC);
        all &= d->ops->stop(d, left);
    }
    if (e->upkeep) {
        /* Queued upkeep is dropped (the drivers are stopped); one running
         * finishes its call first unless a driver hangs. */
        g_thread_pool_free(e->upkeep, TRUE, all);
        e->upkeep = NULL;
    }
    engine_policy_stop(e, all);
    if (all) {
        engine_maint_free(e);
        engine_changes_free(e);
        engine_report_sched_free(e);
        keep_views(e);
    }
    /* After the drivers: what they reported last is stored too. */
    engine_ops_stop(e);
    return all;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    g_ptr_array_unref(e->hosts);
    g_hash_table_unref(e->items);
    g_hash_table_unref(e->inflight);
    g_ptr_array_unref(e->rechecks);
    engine_ops_free(e);
    engine_cluster_free(e);
    engine_policy_free(e);
    engine_ha_free(e);
    engine_writer_free(e);
    stream_hub_free(e->stream);
    g_mutex_clear(&e->lock);
    g_free(e);
}

/* ---- readiness ---- */

static bool host_loading(const struct ehost *h)
{
    return h->held && !h->synced_once && h->state != HOST_UNREACHABLE;
}

bool engine_ready(struct engine *e, char **ret_why, int *ret_retry_after_s)
{
    if (ret_retry_after_s)
        *ret_retry_after_s = 1;
    /* First what comes first: the hosts are added before this instance
     * joins the others. */
    g_mutex_lock(&e->lock);
    unsigned added = e->hosts->len, expected = e->hosts_expected;
    g_mutex_unlock(&e->lock);
    if (added < expected) {
        if (ret_why)
            *ret_why =
                g_strdup_printf("still adding the configured hosts: %u of %u", added, expected);
        return false;
    }
    if (!engine_cluster_ready(e, ret_why))
        return false;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    g_autoptr(GString) why = g_string_new(NULL);
    for (guint i = 0; i < e->hosts->len; i++) {
        const struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (host_loading(h))
            g_string_append_printf(why, "%s%s", why->len ? ", " : "", h->name);
    }
    if (!why->len)
        return true;
    if (ret_why)
        *ret_why = g_strdup_printf("still loading the inventory of: %s", why->str);
    return false;
}

bool engine_loading(struct engine *e, int64_t host_id)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    if (host_id < 0 && e->hosts->len < e->hosts_expected)
        return true;
    for (guint i = 0; i < e->hosts->len; i++) {
        const struct ehost *h = g_ptr_array_index(e->hosts, i);
        if ((host_id < 0 || h->id == host_id) && host_loading(h))
            return true;
    }
    return false;
}

/* ---- reading ---- */

struct vm_view *engine_view(struct engine *e, const char *uuid)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    struct item *it = g_hash_table_lookup(e->items, uuid);
    /* Of a host another instance holds, what this one saw last is not
     * current: the holder keeps the view in the store. */
    if (it && it->host_id && !engine_host_reporting(e, it->host_id))
        return NULL;
    return it && it->result ? engine_item_view(e, it) : NULL;
}

/* Whether a host is still loading its first inventory (a VM's uuid may
 * not be known as one yet).  Under e->lock. */
static bool loading_locked(struct engine *e)
{
    for (guint i = 0; i < e->hosts->len; i++) {
        const struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (host_loading(h))
            return true;
    }
    return false;
}

/* A machine no hypervisor knows has no rounds: its own rules
 * (reconcile/machine.h) are judged on each report, and their rows kept
 * true like a VM's findings.  Under e->lock. */
static void machine_rules(struct engine *e, struct item *it, const struct guest_sample *s)
{
    g_autoptr(GPtrArray) open = g_ptr_array_new();
    for (guint i = 0; i < it->open->len; i++)
        g_ptr_array_add(open, ((struct finding_open *)g_ptr_array_index(it->open, i))->rule);
    g_ptr_array_add(open, NULL);
    int64_t now = now_usec();
    g_autoptr(GPtrArray) found = machine_findings(s, (const char *const *)open->pdata, now);
    g_autoptr(GArray) writes = g_array_new(FALSE, TRUE, sizeof(struct finding_write));
    g_array_set_clear_func(writes, (GDestroyNotify)finding_write_clear);
    lifecycle_apply(it->uuid, 0, found, it->open, now, e->conf.finding_refresh_us, writes);
    if (!writes->len)
        return;
    struct store_round w = {.findings = (const struct finding_write *)writes->data,
                            .n_findings = writes->len};
    g_autoptr(GError) err = NULL;
    if (e->store->ops->round_write(e->store, &w, &err) < 0) {
        g_warning("machine %s: storing its findings: %s", it->name ? it->name : it->uuid,
                  err->message);
        return;
    }
    /* Incidents as a VM's findings open them (the machine is the agent's
     * item, as when it falls silent). */
    engine_finding_events(e, writes, "agent", NULL, NULL);
}

int engine_ingest(struct engine *e, const struct guest_sample *s,
                  const struct store_agent_contact *contact, bool *ret_duplicate, GError **error)
{
    struct store_ingest in = {.sample = s, .contact = contact};
    int r = engine_ingest_store(e, &in, error);
    if (r < 0)
        return r;
    bool dup = in.duplicate;
    if (ret_duplicate)
        *ret_duplicate = dup;
    if (dup)
        return 0;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    struct item *it = engine_item_get(e, s->machine_uuid);
    struct guest_sample copy;
    guest_sample_copy(&copy, s);
    engine_item_offer_guest(it, GS_GUESTD, &copy);
    if (!it->host_id && !loading_locked(e))
        machine_rules(e, it, s);
    return 0;
}

bool engine_machine_samples(struct engine *e, const char *uuid, struct guest_sample *ret_new,
                            struct guest_sample *ret_prev, bool *ret_have_prev)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    const struct item *it = g_hash_table_lookup(e->items, uuid);
    *ret_have_prev = false;
    if (!it)
        return false;
    /* Newest first: one waiting for the next round, then the round's two. */
    const struct guest_sample *order[3];
    size_t n = 0;
    if (it->have_next[GS_GUESTD])
        order[n++] = &it->next[GS_GUESTD];
    for (int i = 0; i < 2; i++) {
        if (it->have_guest[GS_GUESTD][i])
            order[n++] = &it->guest[GS_GUESTD][i];
    }
    if (!n)
        return false;
    guest_sample_copy(ret_new, order[0]);
    if (n > 1) {
        guest_sample_copy(ret_prev, order[1]);
        *ret_have_prev = true;
    }
    return true;
}

void engine_machine_name(struct engine *e, const char *uuid, const char *name)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    struct item *it = g_hash_table_lookup(e->items, uuid);
    if (it && !it->name && name)
        it->name = g_strdup(name);
}

int64_t engine_agent_silent_us(struct engine *e)
{
    return e->conf.agent_silent_us;
}

/* ---- upkeep ---- */

struct upkeep_job {
    int64_t host_id;
    char *uuid;
    char *name;
    int previous;
};

void engine_upkeep_balloon_period(struct engine *e, int64_t host_id, const char *uuid,
                                  const char *name, int previous)
{
    if (!e->upkeep)
        return;
    struct upkeep_job *j = g_new0(struct upkeep_job, 1);
    j->host_id = host_id;
    j->uuid = g_strdup(uuid);
    j->name = g_strdup(name);
    j->previous = previous;
    g_thread_pool_push(e->upkeep, j, NULL);
}

static void upkeep_run(gpointer data, gpointer user)
{
    struct upkeep_job *j = data;
    struct engine *e = user;
    struct action_request req;
    action_request_init(&req, ACTION_SET_BALLOON_PERIOD);
    action_set_int(&req, "period", e->conf.balloon_period_s);
    action_set_int(&req, "previous", j->previous);
    g_autofree char *params = g_strdup_printf("{\"period\": %d, \"previous\": %d}",
                                              e->conf.balloon_period_s, j->previous);
    struct actor who = {.name = "kanrid", .token_id = 0};
    struct action_result res;
    action_result_init(&res);
    int64_t audit_id = 0;
    g_autoptr(GError) err = NULL;
    if (engine_action(e, j->host_id, j->uuid, j->name, &req, params, &who, &res, &audit_id, &err) <
        0)
        g_warning("%s: cannot set the balloon statistics period: %s", j->name, err->message);
    else
        g_message("%s: balloon statistics period set to %d s (was %d)", j->name,
                  e->conf.balloon_period_s, j->previous);
    action_result_clear(&res);
    action_request_clear(&req);
    g_free(j->uuid);
    g_free(j->name);
    g_free(j);
}
