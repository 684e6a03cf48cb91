/*
 * The sink's inventory half: host state and facts, domains, pools and
 * networks as the drivers sync them.  Who caused a configuration change is
 * decided by attribution.c; the unified diff of a changed definition is
 * computed here with no lock but the host's own inventory lock held, so it
 * stalls neither the rounds nor other hosts.
 */
#include "config.h"

#include "engine/engine-private.h"
#include "engine/ops-private.h"

#include "basic/log.h"
#include "basic/diff.h"
#include "basic/util.h"
#include "engine/attribution.h"

#include <string.h>

#define PERIOD_RETRY_US (60 * USEC_PER_SEC)

static void xml_sha(const char *xml, guint8 out[32])
{
    g_autoptr(GChecksum) c = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(c, (const guchar *)(xml ? xml : ""), -1);
    gsize len = 32;
    g_checksum_get_digest(c, out, &len);
}

static void pending_change_free(gpointer p)
{
    struct pending_change *c = p;
    g_free(c->diff);
    g_free(c);
}

static void pending_add(struct inv_dom *d, int64_t id, const char *diff)
{
    if (!d->pending)
        d->pending = g_ptr_array_new_with_free_func(pending_change_free);
    struct pending_change *c = g_new0(struct pending_change, 1);
    c->id = id;
    c->diff = g_strdup(diff);
    g_ptr_array_add(d->pending, c);
}

/* The host of a driver's inventory report while held (engine_host_enter()
 * till host_leave()).  On a shared store the report's
 * writes are fenced by the host's lease (store_thread_fence): an instance
 * that stalled past its lease, and has not yet seen that another took
 * the host, writes nothing of it. */
static struct ehost *host_enter(struct engine *e, int64_t host_id)
{
    struct ehost *h = engine_host_enter(e, host_id);
    if (!h)
        return NULL;
    g_mutex_lock(&e->lock);
    /* The epoch changes only with `held`, under the writer's lock. */
    struct store_fence fence = {.host = h->name, .holder = engine_cluster_id(e), .epoch = h->epoch};
    bool shared = fence.holder && engine_host_shared(e, h);
    g_mutex_unlock(&e->lock);
    store_thread_fence(shared ? &fence : NULL);
    return h;
}

static void host_leave(struct ehost *h)
{
    store_thread_fence(NULL);
    engine_host_leave(h);
}

typedef struct ehost reporting_host;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(reporting_host, host_leave)

int engine_inventory_load(struct engine *e, struct ehost *h, GError **error)
{
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_domain_ref));
    g_array_set_clear_func(refs, (GDestroyNotify)store_domain_ref_clear);
    if (e->store->ops->domains_load(e->store, h->id, refs, error) < 0)
        return -1;
    g_autoptr(rows) pending = e->store->ops->changes_pending(e->store, h->id, error);
    if (!pending)
        return -1;
    g_autoptr(GHashTable) by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    for (guint i = 0; i < refs->len; i++) {
        struct store_domain_ref *r = &g_array_index(refs, struct store_domain_ref, i);
        struct inv_dom *d = g_new0(struct inv_dom, 1);
        d->uuid = g_strdup(r->uuid);
        d->name = g_strdup(r->name);
        d->domain_id = r->domain_id;
        d->version = r->config_version;
        d->removed = r->removed;
        d->state = g_strdup(r->state);
        d->state_reason = g_strdup(r->state_reason);
        if (r->xml) {
            xml_sha(r->xml, d->xml_sha);
            d->have_sha = true;
        }
        d->pversion = r->persistent_version;
        if (r->persistent_xml) {
            xml_sha(r->persistent_xml, d->pxml_sha);
            d->have_psha = true;
        }
        g_hash_table_replace(h->inv, d->uuid, d);
        g_hash_table_insert(by_id, &d->domain_id, d);
        if (!d->removed) {
            struct item *it = engine_item_get(e, d->uuid);
            if (!it->name)
                it->name = g_strdup(d->name);
            if (!it->host_id)
                it->host_id = h->id;
        }
    }
    for (guint i = 0; i < rows_len(pending); i++) {
        const struct change_row *c = rows_get(pending, i);
        struct inv_dom *d = g_hash_table_lookup(by_id, &c->domain_id);
        if (d)
            pending_add(d, c->id, c->diff);
    }
    return 0;
}

/* ---- state and facts ---- */

static void write_state(struct engine *e, struct ehost *h, enum host_state st, const char *reason,
                        int64_t synced_us)
{
    g_autoptr(GError) err = NULL;
    if (e->store->ops->host_put_state(e->store, h->id, st, reason, now_usec(), synced_us, &err) < 0)
        g_warning("host %s: storing its state: %s", h->name, err->message);
}

/* ---- the operations record ---- */

/* The VMs running on H, as items (under e->lock). */
static GPtrArray *vms_on(struct engine *e, struct ehost *h)
{
    GPtrArray *refs = item_refs_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, e->items);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct item *itm = v;
        if (itm->host_id != h->id || !itm->active)
            continue;
        g_autofree char *id = g_strconcat("vm:", itm->uuid, NULL);
        g_ptr_array_add(refs, item_ref_new(id, itm->name ? itm->name : itm->uuid));
    }
    return refs;
}

/* A host lost (LOST) or back: one event for the host, naming the VMs on
 * it, then one for each VM, which the operations record counts in the
 * host's incident rather than opening one each.  VMS is consumed. */
static void post_host(struct engine *e, const char *host, bool lost, const char *reason,
                      GPtrArray *vms)
{
    g_autofree char *item = g_strconcat("host:", host, NULL);
    g_autofree char *msg = lost ? g_strdup_printf("host %s unreachable: %s (%u VMs running on it)",
                                                  host, reason ? reason : "unknown", vms->len)
                                : g_strdup_printf("host %s connected", host);
    int64_t now = now_usec();
    struct event *ev = event_new(now, item, host, NULL, lost ? "host.unreachable" : "host.connected",
                                 OPS_HOST_DOWN, lost, lost ? SEV_CRITICAL : SEV_INFO, msg);
    ev->affected = item_refs_copy(vms);
    engine_event_post(e, ev);
    for (guint i = 0; i < vms->len; i++) {
        const struct item_ref *r = g_ptr_array_index(vms, i);
        g_autofree char *m = lost ? g_strdup_printf("%s: its host %s is unreachable", r->name, host)
                                  : g_strdup_printf("%s: its host %s is back", r->name, host);
        engine_event_post(e, event_new(now, r->item, r->name, host,
                                       lost ? "vm.unreachable" : "vm.reachable", "vm-unreachable",
                                       lost, lost ? SEV_MAJOR : SEV_INFO, m));
    }
    g_ptr_array_unref(vms);
}

static void sink_host_state(void *ctx, int64_t host_id, enum host_state st, const char *reason)
{
    struct engine *e = ctx;
    g_autoptr(reporting_host) h = host_enter(e, host_id);
    if (!h)
        return;
    g_mutex_lock(&e->lock);
    bool changed = h->state != st || g_strcmp0(h->reason, reason) != 0;
    if (h->state == HOST_CONNECTED && st != HOST_CONNECTED)
        h->down_us = now_usec();
    h->state = st;
    g_free(h->reason);
    h->reason = g_strdup(reason);
    GPtrArray *lost = NULL;
    if (st == HOST_UNREACHABLE && !h->lost) {
        h->lost = true;
        lost = vms_on(e, h);
    }
    g_mutex_unlock(&e->lock);
    if (lost)
        post_host(e, h->name, true, reason, lost);
    if (!changed)
        return;
    if (st == HOST_UNREACHABLE)
        g_message("host %s: unreachable: %s", h->name, reason ? reason : "unknown");
    write_state(e, h, st, reason, 0);
}

static void sink_inventory_synced(void *ctx, int64_t host_id)
{
    struct engine *e = ctx;
    g_autoptr(reporting_host) h = host_enter(e, host_id);
    if (!h)
        return;
    int64_t now = now_usec();
    g_mutex_lock(&e->lock);
    bool was = h->state == HOST_CONNECTED;
    bool first = !h->synced_once;
    /* Connected only now: until the inventory is complete a client asking
     * for a VM by name must hear "still loading", never "no such VM". */
    h->state = HOST_CONNECTED;
    g_free(h->reason);
    h->reason = NULL;
    h->synced_once = true;
    h->synced_us = now;
    /* Back (or connected for the first time since start-up: an incident
     * left open by the previous kanrid closes if the host came back
     * meanwhile). */
    GPtrArray *back = NULL;
    if (h->lost || first)
        back = h->lost ? vms_on(e, h) : item_refs_new();
    h->lost = false;
    guint n = 0;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, h->inv);
    while (g_hash_table_iter_next(&it, &k, &v))
        n += !((struct inv_dom *)v)->removed;
    g_mutex_unlock(&e->lock);
    write_state(e, h, HOST_CONNECTED, NULL, now);
    if (back)
        post_host(e, h->name, false, NULL, back);
    if (!was)
        klog(G_LOG_LEVEL_MESSAGE, h->name, NULL, NULL,
             "host %s: connected; inventory synced (%u domain%s)%s", h->name, n, n == 1 ? "" : "s",
             first ? "" : " after reconnecting");
    engine_rechecks_run(e, host_id);
}

static void sink_host_info(void *ctx, int64_t host_id, struct host_info *info)
{
    struct engine *e = ctx;
    g_autoptr(GError) err = NULL;
    g_mutex_lock(&e->lock);
    struct ehost *h = engine_host_reporting(e, host_id);
    if (h)
        h->cpus = info->cpus;
    g_mutex_unlock(&e->lock);
    if (!h) {
        host_info_free(info);
        return;
    }
    if (e->store->ops->host_put_info(e->store, host_id, info, now_usec(), &err) < 0)
        g_warning("host %" G_GINT64_FORMAT ": storing its facts: %s", host_id, err->message);
    host_info_free(info);
}

/* ---- domains ---- */

/* Copies what reconciliation needs of the inventory into the item, and
 * asks for the balloon period kanrid needs when the domain lacks it. */
static void update_item(struct engine *e, struct ehost *h, struct inv_dom *inv,
                        const struct domain_info *d)
{
    struct item *it = engine_item_get(e, d->uuid);
    g_free(it->name);
    it->name = g_strdup(d->name);
    it->container = g_str_equal(domain_kind(d->domain_type), "container");
    if (d->running || !it->host_id)
        it->host_id = h->id;
    /* A new array: the last round may still hold the old one. */
    g_ptr_array_unref(it->disks);
    it->disks = g_ptr_array_new_with_free_func(engine_disk_ref_free);
    for (guint i = 0; i < d->disks->len; i++) {
        const struct disk_info *di = g_ptr_array_index(d->disks, i);
        if (!di->target)
            continue;
        struct disk_ref *r = g_new0(struct disk_ref, 1);
        r->target = g_strdup(di->target);
        r->source = g_strdup(di->source);
        g_ptr_array_add(it->disks, r);
    }

    int want = e->conf.balloon_period_s;
    /* libvirt's test driver has no guest to report and keeps no period in
     * its XML (it would be "set" again after every restart), so its
     * domains are left alone. */
    if (want > 0 && d->running && d->balloon_model &&
        g_str_has_prefix(d->balloon_model, "virtio") && d->balloon_period != want &&
        g_strcmp0(d->domain_type, "test") != 0) {
        int64_t now = mono_usec();
        if (inv->period_tried_us == 0 || now - inv->period_tried_us > PERIOD_RETRY_US) {
            inv->period_tried_us = now;
            engine_upkeep_balloon_period(e, h->id, d->uuid, d->name, d->balloon_period);
        }
    }
}

/* The persistent definition's track of a domain just stored as DOMAIN_ID
 * (engine/attribution.h): a new persistent version when it changed, a
 * change record while the domain runs, and pending changes that its live
 * definition now has (or that its stop made the live one) stamped applied.
 * Called with the host's inventory lock held; C is the live sighting's
 * cause. */
static void sync_persistent(struct engine *e, struct ehost *h, const struct domain_info *d,
                            int64_t domain_id, const struct change_cause *c)
{
    int64_t pversion = 0;
    guint8 old_sha[32] = {0};
    bool have_psha = false;
    g_autoptr(GArray) applied = g_array_new(FALSE, FALSE, sizeof(int64_t));
    g_mutex_lock(&e->lock);
    struct inv_dom *inv = g_hash_table_lookup(h->inv, d->uuid);
    if (inv) {
        pversion = inv->pversion;
        have_psha = inv->have_psha;
        memcpy(old_sha, inv->pxml_sha, 32);
        for (guint i = 0; inv->pending && i < inv->pending->len; i++) {
            const struct pending_change *p = g_ptr_array_index(inv->pending, i);
            if (attribution_pending_settled(d->running, p->diff, d->xml))
                g_array_append_val(applied, p->id);
        }
    }
    g_mutex_unlock(&e->lock);

    /* The definition the domain boots with next: the only one of a
     * shut-off domain, the inactive one of a running domain. */
    const char *pxml = !d->persistent ? NULL : d->running ? d->inactive_xml : d->xml;
    guint8 sha[32];
    struct persistent_sighting ps = {
        .persistent = pxml != NULL, .running = d->running, .known = pversion > 0};
    if (pxml) {
        xml_sha(pxml, sha);
        ps.differs = !have_psha || memcmp(sha, old_sha, 32) != 0;
    }
    g_autofree char *old_xml = NULL, *diff = NULL;
    g_autoptr(GError) err = NULL;
    if (ps.differs && ps.running && ps.known) {
        if (e->store->ops->persistent_get(e->store, domain_id, pversion, &old_xml, &err) < 0) {
            g_warning("host %s: domain %s: reading persistent version %" G_GINT64_FORMAT ": %s",
                      h->name, d->name, pversion, err->message);
            g_clear_error(&err);
        }
        g_autofree char *la = g_strdup_printf("persistent %" G_GINT64_FORMAT, pversion);
        g_autofree char *lb = g_strdup_printf("persistent %" G_GINT64_FORMAT, pversion + 1);
        diff = diff_unified(old_xml ? old_xml : "", pxml, la, lb);
        ps.in_live = attribution_in_live(diff, d->xml);
    }
    struct persistent_attribution pa = attribution_persistent(&ps);
    if (!pa.new_version && applied->len == 0)
        return;

    bool by_action = g_strcmp0(c->cause, "action") == 0;
    struct store_change ch = {
        .from_version = pversion,
        .to_version = pversion + 1,
        .new_xml = pxml,
        .diff = diff ? diff : "",
        .cause = {.cause = by_action ? "action" : "external",
                  .actor = by_action ? c->actor : NULL,
                  .audit_id = by_action ? c->audit_id : 0},
        .pending = pa.pending,
    };
    int64_t change_id = 0;
    if (e->store->ops->persistent_put(e->store, domain_id, pa.new_version ? &ch : NULL, pa.record,
                                      (const int64_t *)applied->data, applied->len, now_usec(),
                                      &change_id, &err) < 0) {
        g_warning("host %s: storing the persistent definition of %s: %s", h->name, d->name,
                  err->message);
        return;
    }

    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    inv = g_hash_table_lookup(h->inv, d->uuid);
    if (!inv)
        return;
    if (pa.new_version) {
        inv->pversion = pversion + 1;
        memcpy(inv->pxml_sha, sha, 32);
        inv->have_psha = true;
    }
    for (guint i = 0; i < applied->len; i++) {
        int64_t id = g_array_index(applied, int64_t, i);
        for (guint j = 0; inv->pending && j < inv->pending->len; j++) {
            const struct pending_change *p = g_ptr_array_index(inv->pending, j);
            if (p->id == id) {
                g_ptr_array_remove_index(inv->pending, j);
                break;
            }
        }
    }
    if (pa.record && pa.pending && change_id)
        pending_add(inv, change_id, diff);
}

static void sink_domain(void *ctx, int64_t host_id, struct domain_info *d_moved,
                        const struct change_cause *cause)
{
    struct engine *e = ctx;
    g_autoptr(domain_info) d = d_moved;
    if (!d->uuid)
        return;
    g_autoptr(reporting_host) h = host_enter(e, host_id);
    if (!h)
        return;
    g_autoptr(GMutexLocker) inv_locker = g_mutex_locker_new(&h->inv_lock);

    struct attribution_prior prior = {0};
    int64_t version = 0, domain_id = 0;
    guint8 old_sha[32] = {0};
    bool have_sha = false;
    bool was_running = false;
    g_mutex_lock(&e->lock);
    struct inv_dom *inv = g_hash_table_lookup(h->inv, d->uuid);
    if (inv) {
        was_running = g_strcmp0(inv->state, "running") == 0 ||
                      g_strcmp0(inv->state, "paused") == 0;
        prior.known = true;
        prior.removed = inv->removed;
        version = inv->version;
        domain_id = inv->domain_id;
        have_sha = inv->have_sha;
        memcpy(old_sha, inv->xml_sha, 32);
    }
    g_mutex_unlock(&e->lock);

    guint8 sha[32];
    xml_sha(d->xml, sha);
    bool differs = d->xml && (!have_sha || memcmp(sha, old_sha, 32) != 0);
    g_autofree char *actor = NULL;
    struct change_cause c = {.cause = "external"};
    if (cause)
        c = *cause;
    else
        engine_inflight_cause(e, host_id, d->uuid, &c, &actor);
    /* It stopped while an action that cannot stop it ran (a balloon
     * change, say; its own sync may be the one to see it): someone else
     * stopped it. */
    if (g_strcmp0(c.cause, "action") == 0 && was_running && !d->running &&
        engine_inflight_keeps(e, host_id, d->uuid, c.audit_id))
        c = (struct change_cause){.cause = "external"};
    struct attribution a = attribution_seen(&prior, differs, g_strcmp0(c.cause, "action") == 0);

    g_autofree char *old_xml = NULL, *diff = NULL;
    struct store_change ch = {0};
    g_autoptr(GError) err = NULL;
    if (a.record) {
        if (a.new_version && prior.known && version > 0 &&
            e->store->ops->config_get(e->store, domain_id, version, &old_xml, &err) < 0) {
            g_warning("host %s: domain %s: reading version %" G_GINT64_FORMAT ": %s", h->name,
                      d->name, version, err->message);
            g_clear_error(&err);
        }
        if (a.new_version) {
            g_autofree char *la = g_strdup_printf("version %" G_GINT64_FORMAT, version);
            g_autofree char *lb = g_strdup_printf("version %" G_GINT64_FORMAT, version + 1);
            diff = diff_unified(old_xml ? old_xml : "", d->xml, la, lb);
        }
        ch.from_version = version;
        ch.to_version = a.new_version ? version + 1 : version;
        ch.new_xml = a.new_version ? d->xml : NULL;
        ch.diff = diff ? diff : "";
        ch.cause =
            (struct change_cause){.cause = a.cause, .actor = c.actor, .audit_id = c.audit_id};
        if (g_strcmp0(a.cause, "action") != 0) {
            ch.cause.actor = NULL;
            ch.cause.audit_id = 0;
        }
    }
    if (e->store->ops->domain_put(e->store, host_id, d, a.record ? &ch : NULL, now_usec(),
                                  &domain_id, &err) < 0) {
        g_warning("host %s: storing domain %s: %s", h->name, d->name, err->message);
        return;
    }

    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    inv = g_hash_table_lookup(h->inv, d->uuid);
    if (!inv) {
        inv = g_new0(struct inv_dom, 1);
        inv->uuid = g_strdup(d->uuid);
        g_hash_table_replace(h->inv, inv->uuid, inv);
    }
    g_free(inv->name);
    inv->name = g_strdup(d->name);
    inv->domain_id = domain_id;
    inv->removed = false;
    struct ops_lifecycle lc;
    bool by_action = g_strcmp0(c.cause, "action") == 0;
    if (ops_vm_lifecycle(inv->state, inv->state_reason, d->state, d->state_reason, by_action,
                         &lc)) {
        g_autofree char *item = g_strconcat("vm:", d->uuid, NULL);
        g_autofree char *msg = g_strdup_printf("%s %s%s%s (was %s)", d->name, lc.words,
                                               by_action && c.actor ? "; action by " : "",
                                               by_action && c.actor ? c.actor : "", inv->state);
        engine_event_post(e, event_new(now_usec(), item, d->name, h->name, lc.kind, lc.condition,
                                       lc.problem, lc.severity, msg));
    } else if (!prior.known && h->synced_once) {
        g_autofree char *item = g_strconcat("vm:", d->uuid, NULL);
        g_autofree char *msg = g_strdup_printf("%s appeared (%s)%s%s", d->name,
                                               d->state ? d->state : "unknown",
                                               by_action && c.actor ? "; defined by " : "",
                                               by_action && c.actor ? c.actor : "");
        engine_event_post(e, event_new(now_usec(), item, d->name, h->name, "vm.created", NULL,
                                       false, SEV_INFO, msg));
    }
    g_free(inv->state);
    inv->state = g_strdup(d->state);
    g_free(inv->state_reason);
    inv->state_reason = g_strdup(d->state_reason);
    inv->max_memory = (int64_t)d->max_memory_bytes;
    inv->vcpus = (int64_t)d->vcpus;
    if (a.new_version) {
        inv->version = version + 1;
        memcpy(inv->xml_sha, sha, 32);
        inv->have_sha = true;
    }
    update_item(e, h, inv, d);
    g_clear_pointer(&l, g_mutex_locker_free);
    sync_persistent(e, h, d, domain_id, &c);
}

static void sink_domains_present(void *ctx, int64_t host_id, const char *const *uuids,
                                 const struct change_cause *cause)
{
    struct engine *e = ctx;
    g_autoptr(reporting_host) h = host_enter(e, host_id);
    if (!h)
        return;
    g_autoptr(GMutexLocker) inv_locker = g_mutex_locker_new(&h->inv_lock);
    g_autoptr(GHashTable) present = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t i = 0; uuids && uuids[i]; i++)
        g_hash_table_add(present, (gpointer)uuids[i]);

    struct gone {
        char *uuid, *name;
        int64_t domain_id, version;
    };
    g_autoptr(GArray) gone = g_array_new(FALSE, TRUE, sizeof(struct gone));
    g_mutex_lock(&e->lock);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, h->inv);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct inv_dom *d = v;
        if (d->removed || g_hash_table_contains(present, d->uuid))
            continue;
        struct gone g = {g_strdup(d->uuid), g_strdup(d->name), d->domain_id, d->version};
        g_array_append_val(gone, g);
    }
    g_mutex_unlock(&e->lock);

    g_autoptr(GPtrArray) views = g_ptr_array_new_with_free_func((GDestroyNotify)vm_view_free);
    for (guint i = 0; i < gone->len; i++) {
        struct gone *g = &g_array_index(gone, struct gone, i);
        g_autofree char *actor = NULL;
        struct change_cause c = {.cause = "external"};
        if (cause)
            c = *cause;
        else
            engine_inflight_cause(e, host_id, g->uuid, &c, &actor);
        /* Gone while an action that cannot remove it ran. */
        if (g_strcmp0(c.cause, "action") == 0 &&
            engine_inflight_keeps(e, host_id, g->uuid, c.audit_id))
            c = (struct change_cause){.cause = "external"};
        bool by_action = g_strcmp0(c.cause, "action") == 0;
        struct attribution a = attribution_gone(by_action);
        struct store_change ch = {
            .from_version = g->version,
            .to_version = g->version,
            .diff = "",
            .cause = {.cause = a.cause,
                      .actor = by_action ? c.actor : NULL,
                      .audit_id = by_action ? c.audit_id : 0},
        };
        g_autoptr(GError) err = NULL;
        if (e->store->ops->domain_remove(e->store, g->domain_id, &ch, now_usec(), &err) < 0) {
            g_warning("host %s: marking %s removed: %s", h->name, g->name, err->message);
        } else {
            g_mutex_lock(&e->lock);
            struct inv_dom *d = g_hash_table_lookup(h->inv, g->uuid);
            if (d)
                d->removed = true;
            engine_ops_forget_item(e, g->uuid);
            g_autofree char *item = g_strconcat("vm:", g->uuid, NULL);
            g_autofree char *msg = g_strdup_printf("%s removed%s%s", g->name,
                                                   by_action && c.actor ? " by " : " (an external change)",
                                                   by_action && c.actor ? c.actor : "");
            /* Its own problems cannot go on: the removal is their end. */
            struct event *ev = event_new(now_usec(), item, g->name, h->name, "vm.removed",
                                         "vm-down", false, by_action ? SEV_INFO : SEV_WARNING,
                                         msg);
            ev->gone = true;
            engine_event_post(e, ev);

            struct item *itm = g_hash_table_lookup(e->items, g->uuid);
            if (itm && itm->host_id == host_id)
                engine_item_deactivate(e, itm, views);
            g_mutex_unlock(&e->lock);
        }
        g_free(g->uuid);
        g_free(g->name);
    }
    if (views->len) {
        struct store_round w = {.views = (const struct vm_view *const *)views->pdata,
                                .n_views = views->len};
        g_autoptr(GError) err = NULL;
        if (e->store->ops->round_write(e->store, &w, &err) < 0)
            g_warning("host %s: keeping views: %s", h->name, err->message);
    }
}

/* ---- pools and networks ---- */

static void sink_pools(void *ctx, int64_t host_id, GPtrArray *pools)
{
    struct engine *e = ctx;
    g_autoptr(GPtrArray) owned = pools;
    g_autoptr(reporting_host) h = host_enter(e, host_id);
    if (!h)
        return;
    g_autoptr(GError) err = NULL;
    if (e->store->ops->pools_replace(e->store, host_id, pools, now_usec(), &err) < 0)
        g_warning("host %s: storing pools: %s", h->name, err->message);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    /* Pool samples already held stay with their pool across a resync. */
    g_autoptr(GPtrArray) next = g_ptr_array_new();
    for (guint i = 0; i < pools->len; i++) {
        const struct pool_info *p = g_ptr_array_index(pools, i);
        struct pool_ref *ref = NULL;
        for (guint j = 0; j < h->pools->len && !ref; j++) {
            struct pool_ref *r = g_ptr_array_index(h->pools, j);
            if (r && g_strcmp0(r->name, p->name) == 0) {
                ref = r;
                h->pools->pdata[j] = NULL;
            }
        }
        if (!ref) {
            ref = g_new0(struct pool_ref, 1);
            ref->name = g_strdup(p->name);
            pool_sample_init(&ref->cur);
            pool_sample_init(&ref->prev);
        }
        g_free(ref->target_path);
        ref->target_path = g_strdup(p->target_path);
        g_ptr_array_add(next, ref);
    }
    g_ptr_array_set_size(h->pools, 0); /* the free function skips the NULLs taken */
    for (guint i = 0; i < next->len; i++)
        g_ptr_array_add(h->pools, g_ptr_array_index(next, i));
}

static void sink_networks(void *ctx, int64_t host_id, GPtrArray *nets)
{
    struct engine *e = ctx;
    g_autoptr(GPtrArray) owned = nets;
    g_autoptr(GError) err = NULL;
    g_autoptr(reporting_host) h = host_enter(e, host_id);
    if (!h)
        return;
    if (e->store->ops->networks_replace(e->store, host_id, nets, now_usec(), &err) < 0)
        g_warning("host %" G_GINT64_FORMAT ": storing networks: %s", host_id, err->message);
}

static void sink_inflight(void *ctx, int64_t host_id, const char *uuid,
                          const struct change_cause *cause)
{
    engine_inflight_set(ctx, host_id, uuid, cause);
}

void engine_sink_inventory(struct driver_sink *s)
{
    s->host_state = sink_host_state;
    s->host_info = sink_host_info;
    s->domain = sink_domain;
    s->domains_present = sink_domains_present;
    s->pools = sink_pools;
    s->networks = sink_networks;
    s->inventory_synced = sink_inventory_synced;
    s->inflight = sink_inflight;
}
