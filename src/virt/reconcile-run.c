/*
 * The reconciliation engine's wiring (docs/reconciliation.md): after a
 * collection round is stored, gather each domain's input from the store —
 * current and previous host sample, current and previous sample of each
 * guest source however it arrived, which pool backs which disk, the pools'
 * samples, the persisted state — run the pure engine and store what it
 * returns.  Everything comes from the store rather than from the
 * collector's memory so that kanri-guestd's pushed samples count the same
 * as polled ones and a restarted kanrid carries on where it stopped.
 */
#include "config.h"

#include "virt/reconcile-run.h"

#include "basic/util.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define DISKS_MAX_BYTES (256 * 1024)
#define DISKS_MAX       256

static void host_samples_free(GArray *a)
{
    for (guint i = 0; a && i < a->len; i++)
        host_sample_clear(&g_array_index(a, struct host_sample, i));
    if (a)
        g_array_unref(a);
}

static void guest_samples_free(GArray *a)
{
    for (guint i = 0; a && i < a->len; i++)
        guest_sample_clear(&g_array_index(a, struct guest_sample, i));
    if (a)
        g_array_unref(a);
}

static void pool_samples_free(GArray *a)
{
    for (guint i = 0; a && i < a->len; i++)
        g_free(g_array_index(a, struct pool_sample, i).name);
    if (a)
        g_array_unref(a);
}

/* The pool whose target directory holds PATH: the longest target that is a
 * directory prefix of it, so a pool nested in another's directory wins. */
static const char *pool_of_path(const GArray *pools, const char *path)
{
    const char *best = NULL;
    size_t best_len = 0;
    for (guint i = 0; path && i < pools->len; i++) {
        const struct store_pool *p = &g_array_index(pools, struct store_pool, i);
        size_t n = strlen(p->target_path);
        while (n > 1 && p->target_path[n - 1] == '/')
            n--;
        if (n == 0 || strncmp(path, p->target_path, n) != 0 || path[n] != '/')
            continue;
        if (n > best_len) {
            best = p->name;
            best_len = n;
        }
    }
    return best;
}

/* Disk target -> pool from the inventory's disks JSON (docs/api.md shape).
 * The text is our own, but it came through libvirt from the domain XML:
 * bounded, and a malformed entry is skipped. */
static GArray *map_disks(const char *disks_json, const GArray *pools)
{
    GArray *out = g_array_new(FALSE, TRUE, sizeof(struct reconcile_disk));
    if (!disks_json || strlen(disks_json) > DISKS_MAX_BYTES)
        return out;
    json_object *arr = json_tokener_parse(disks_json);
    if (!json_object_is_type(arr, json_type_array)) {
        json_object_put(arr);
        return out;
    }
    for (size_t i = 0; i < json_object_array_length(arr) && out->len < DISKS_MAX; i++) {
        json_object *o = json_object_array_get_idx(arr, i), *t = NULL, *src = NULL;
        if (!json_object_object_get_ex(o, "target", &t) ||
            !json_object_is_type(t, json_type_string))
            continue;
        json_object_object_get_ex(o, "source", &src);
        const char *path =
            json_object_is_type(src, json_type_string) ? json_object_get_string(src) : NULL;
        struct reconcile_disk d = {
            .name = g_strdup(json_object_get_string(t)),
            .pool = pool_of_path(pools, path), /* points into POOLS */
        };
        g_array_append_val(out, d);
    }
    json_object_put(arr);
    return out;
}

static uint64_t to_u(double v, double mult)
{
    if (!reconcile_present(v))
        return SAMPLE_ABSENT;
    double x = v * mult;
    if (x < 0)
        x = 0;
    if (x > 9.2e18)
        return SAMPLE_ABSENT;
    return (uint64_t)llround(x);
}

static json_object *num_or_null(double v)
{
    return reconcile_present(v) ? json_object_new_double(v) : NULL;
}

static json_object *age_or_null(int64_t us)
{
    return us >= 0 ? json_object_new_double(round((double)us / 1e5) / 10) : NULL;
}

static char *view_json(const struct reconcile_result *res)
{
    json_object *o = json_object_new_object();
    json_object *arr = json_object_new_array();
    for (int i = 0; i < RC_N; i++) {
        const struct reconcile_value *v = &res->values[i];
        json_object *e = json_object_new_object();
        json_object_object_add(e, "resource", json_object_new_string(reconcile_resource_name(i)));
        json_object_object_add(e, "unit", json_object_new_string(reconcile_resource_unit(i)));
        json_object_object_add(e, "h", num_or_null(v->h));
        json_object_object_add(e, "g", num_or_null(v->g));
        json_object_object_add(e, "r", num_or_null(v->r));
        json_object_object_add(e, "provenance", json_object_new_string(v->provenance));
        json_object_object_add(e, "g_source",
                               v->g_source ? json_object_new_string(v->g_source) : NULL);
        json_object_object_add(e, "reason", json_object_new_string(v->reason ? v->reason : ""));
        json_object_object_add(e, "h_age_s", age_or_null(v->h_age_us));
        json_object_object_add(e, "g_age_s", age_or_null(v->g_age_us));
        json_object_array_add(arr, e);
    }
    json_object_object_add(o, "resources", arr);
    char *s = g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

int virt_reconcile_domain(struct store *st, const struct reconcile_config *cfg, int64_t host_id,
                          const char *uuid, int64_t now_us, struct virt_reconciled *ret,
                          GError **error)
{
    static const char *const sources[] = {"qga", "balloon", "kanri-guestd"};
    GArray *hosts = g_array_new(FALSE, TRUE, sizeof(struct host_sample));
    GArray *guests[G_N_ELEMENTS(sources)] = {NULL};
    GArray *disks = NULL, *pool_in = NULL;
    GPtrArray *pool_samples = g_ptr_array_new_with_free_func((GDestroyNotify)pool_samples_free);
    struct store_reconcile_ctx ctx = {0};
    g_autoptr(reconcile_state) state = NULL;
    g_autoptr(reconcile_result) res = NULL;
    g_autofree char *vj = NULL, *sj = NULL;
    g_autoptr(GArray) fu = NULL;
    int r = st->ops->host_samples_recent(st, uuid, 2, hosts, error);
    for (size_t i = 0; i < G_N_ELEMENTS(sources); i++) {
        guests[i] = g_array_new(FALSE, TRUE, sizeof(struct guest_sample));
        if (r == 0)
            r = st->ops->guest_samples_recent(st, uuid, sources[i], 2, guests[i], error);
    }
    if (r == 0)
        r = st->ops->reconcile_ctx_get(st, host_id, uuid, &ctx, error);
    if (r < 0)
        goto out;
    if (hosts->len == 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no host sample stored");
        r = -ENOENT;
        goto out;
    }

    disks = map_disks(ctx.disks_json, ctx.pools);
    pool_in = g_array_new(FALSE, TRUE, sizeof(struct reconcile_pool));
    for (guint i = 0; i < disks->len; i++) {
        const char *pool = g_array_index(disks, struct reconcile_disk, i).pool;
        bool seen = false;
        for (guint k = 0; pool && k < pool_in->len; k++)
            seen |= g_str_equal(g_array_index(pool_in, struct reconcile_pool, k).name, pool);
        if (!pool || seen)
            continue;
        GArray *ps = g_array_new(FALSE, TRUE, sizeof(struct pool_sample));
        g_ptr_array_add(pool_samples, ps);
        r = st->ops->pool_samples_recent(st, host_id, pool, 2, ps, error);
        if (r < 0)
            goto out;
        struct reconcile_pool p = {
            .name = pool,
            .cur = ps->len > 0 ? &g_array_index(ps, struct pool_sample, 0) : NULL,
            .prev = ps->len > 1 ? &g_array_index(ps, struct pool_sample, 1) : NULL,
        };
        g_array_append_val(pool_in, p);
    }
    if (ctx.state_json) {
        /* A state that does not read back is dropped: findings start over,
         * and reconciled_put closes rows the engine no longer reports. */
        state = reconcile_state_from_json(ctx.state_json, strlen(ctx.state_json), NULL);
    }

    struct reconcile_input in = {
        .now_us = now_us,
        .host = &g_array_index(hosts, struct host_sample, 0),
        .host_prev = hosts->len > 1 ? &g_array_index(hosts, struct host_sample, 1) : NULL,
        .disks = (const struct reconcile_disk *)disks->data,
        .n_disks = disks->len,
        .pools = (const struct reconcile_pool *)pool_in->data,
        .n_pools = pool_in->len,
        .config = cfg,
        .state = state,
    };
    struct reconcile_guest *gs[] = {&in.qga, &in.balloon, &in.guestd};
    for (size_t i = 0; i < G_N_ELEMENTS(sources); i++) {
        gs[i]->cur = guests[i]->len > 0 ? &g_array_index(guests[i], struct guest_sample, 0) : NULL;
        gs[i]->prev = guests[i]->len > 1 ? &g_array_index(guests[i], struct guest_sample, 1) : NULL;
    }
    res = reconcile_run(&in);

    struct reconciled_sample *rs = &ret->sample;
    reconciled_sample_init(rs);
    rs->host_id = host_id;
    rs->uuid = g_strdup(uuid);
    rs->time_us = now_us;
    uint64_t *cols[RC_N] = {&rs->cpu_busy, &rs->cpu_wait, &rs->cpu_demand, &rs->mem_total,
                            &rs->mem_used, &rs->mem_swap, &rs->disk_used,  &rs->disk_free,
                            &rs->disk_io,  &rs->net_rx,   &rs->net_tx};
    for (int i = 0; i < RC_N; i++)
        *cols[i] = to_u(res->values[i].r, i <= RC_CPU_DEMAND ? 1000 : 1);

    vj = view_json(res);
    sj = reconcile_state_to_json(res->state);
    fu = g_array_new(FALSE, TRUE, sizeof(struct store_finding_update));
    ret->open_findings = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < res->findings->len; i++) {
        const struct reconcile_finding *f = g_ptr_array_index(res->findings, i);
        struct store_finding_update u = {
            .rule = f->id,
            .severity = reconcile_severity_name(f->severity),
            .state = reconcile_fstate_name(f->state),
            .since_us = f->since_us,
            .changed_us = f->changed_us,
            .measure = f->measure,
            .message = f->message,
        };
        g_array_append_val(fu, u);
        if (f->state == RECONCILE_OPEN || f->state == RECONCILE_CLOSING)
            g_ptr_array_add(ret->open_findings, g_strdup_printf("%s\t%s", u.rule, u.severity));
    }
    struct store_reconciled put = {
        .sample = rs,
        .view_json = vj,
        .state_json = sj,
        .findings = (const struct store_finding_update *)fu->data,
        .n_findings = fu->len,
    };
    r = st->ops->reconciled_put(st, &put, error);

out:
    host_samples_free(hosts);
    for (size_t i = 0; i < G_N_ELEMENTS(sources); i++)
        guest_samples_free(guests[i]);
    if (disks) {
        for (guint i = 0; i < disks->len; i++)
            g_free((char *)g_array_index(disks, struct reconcile_disk, i).name);
        g_array_unref(disks);
    }
    if (pool_in)
        g_array_unref(pool_in);
    g_ptr_array_unref(pool_samples);
    store_reconcile_ctx_clear(&ctx);
    return r;
}

void virt_reconciled_clear(struct virt_reconciled *v)
{
    g_free(v->sample.uuid);
    v->sample.uuid = NULL;
    if (v->open_findings)
        g_ptr_array_unref(v->open_findings);
    v->open_findings = NULL;
}
