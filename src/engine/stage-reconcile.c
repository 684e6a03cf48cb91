/*
 * The reconciliation stage: for every VM with a new host sample this
 * round, the pure engine (src/reconcile/) runs on the latest view — both
 * host samples, the newest two of each guest source however they arrived,
 * the pools behind its disks, its state — and the round keeps its history
 * row (H, G and R per resource), its state when that changed, the writes
 * the findings' lifecycle decided (reconcile/lifecycle.c), and now and
 * then its view.
 */
#include "config.h"

#include "engine/engine-private.h"

#include "basic/util.h"
#include "reconcile/lifecycle.h"

#include <math.h>
#include <string.h>

/* The pool whose target directory holds PATH: the longest target that is a
 * directory prefix of it, so a pool nested in another's directory wins. */
static struct pool_ref *pool_of_path(const struct ehost *h, const char *path)
{
    struct pool_ref *best = NULL;
    size_t best_len = 0;
    for (guint i = 0; path && i < h->pools->len; i++) {
        struct pool_ref *p = g_ptr_array_index(h->pools, i);
        if (!p->target_path)
            continue;
        size_t n = strlen(p->target_path);
        while (n > 1 && p->target_path[n - 1] == '/')
            n--;
        if (n == 0 || strncmp(path, p->target_path, n) != 0 || path[n] != '/')
            continue;
        if (n > best_len) {
            best = p;
            best_len = n;
        }
    }
    return best;
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

void engine_reconciled_sample(const struct reconcile_result *res, const struct reconcile_config *cfg,
                              struct reconciled_sample *ret)
{
    reconciled_sample_init(ret);
    /* Per resource, in enum reconcile_resource order: R, H, G. */
    uint64_t *cols[RC_N][3] = {
        {&ret->cpu_busy, &ret->cpu_busy_h, &ret->cpu_busy_g},
        {&ret->cpu_wait, &ret->cpu_wait_h, &ret->cpu_wait_g},
        {&ret->cpu_demand, &ret->cpu_demand_h, &ret->cpu_demand_g},
        {&ret->mem_total, &ret->mem_total_h, &ret->mem_total_g},
        {&ret->mem_used, &ret->mem_used_h, &ret->mem_used_g},
        {&ret->mem_swap, &ret->mem_swap_h, &ret->mem_swap_g},
        {&ret->disk_used, &ret->disk_used_h, &ret->disk_used_g},
        {&ret->disk_free, &ret->disk_free_h, &ret->disk_free_g},
        {&ret->disk_io, &ret->disk_io_h, &ret->disk_io_g},
        {&ret->net_rx, &ret->net_rx_h, &ret->net_rx_g},
        {&ret->net_tx, &ret->net_tx_h, &ret->net_tx_g},
    };
    /* CPU shares are kept in thousandths of a percent (model/sample.h).
     * Each side is taken as the round reports it: an absent H or G stays
     * absent, whatever R or the other side holds.  With CFG, a side too old
     * to count this round is absent too: a silent agent leaves a gap in
     * G's history, not a flat line of its last report. */
    for (int i = 0; i < RC_N; i++) {
        const struct reconcile_value *v = &res->values[i];
        double mult = i <= RC_CPU_DEMAND ? 1000 : 1;
        *cols[i][0] = to_u(v->r, mult);
        *cols[i][1] = !cfg || reconcile_side_fresh(cfg, v, false) ? to_u(v->h, mult) : SAMPLE_ABSENT;
        *cols[i][2] = !cfg || reconcile_side_fresh(cfg, v, true) ? to_u(v->g, mult) : SAMPLE_ABSENT;
    }
}

char *engine_state_key(const struct reconcile_state *st)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; st && i < st->tracks->len; i++) {
        const struct reconcile_track *t = g_ptr_array_index(st->tracks, i);
        g_string_append_printf(s, "%d:%d:%u:%u:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT ":%d;",
                               t->rule, t->state, t->above, t->below, t->since_us, t->changed_us,
                               t->severity);
    }
    return g_string_free(s, FALSE);
}

static struct vm_view *view_of_result(const struct item *it)
{
    const struct reconcile_result *res = it->result;
    struct vm_view *v = vm_view_new();
    v->uuid = g_strdup(it->uuid);
    v->host_id = it->host_id;
    v->time_us = it->result_t_us;
    for (int i = 0; i < RC_N; i++) {
        const struct reconcile_value *rv = &res->values[i];
        struct view_value *x =
            vm_view_add(v, reconcile_resource_name(i), reconcile_resource_unit(i));
        if (!x)
            break;
        x->h = rv->h;
        x->g = rv->g;
        x->r = rv->r;
        x->provenance = g_strdup(rv->provenance);
        x->g_source = g_strdup(rv->g_source);
        x->reason = g_strdup(rv->reason);
        x->h_age_us = rv->h_age_us;
        x->g_age_us = rv->g_age_us;
    }
    return v;
}

static const struct guest_sample *gcur(const struct item *it, int s, int k)
{
    return it->have_guest[s][k] ? &it->guest[s][k] : NULL;
}

/* The input of the item's reconciliation from its latest view: its host
 * samples, guest samples, DISKS and the pools behind them.  DISKS_OUT and
 * POOLS_OUT hold the arrays IN points into. */
static void input_of(struct engine *e, const struct ehost *h, const struct item *it,
                     const GPtrArray *disks, int64_t now_us, const struct reconcile_state *state,
                     GArray *disks_out, GArray *pools_out, struct reconcile_input *in)
{
    g_array_set_size(disks_out, 0);
    g_array_set_size(pools_out, 0);
    for (guint i = 0; disks && i < disks->len; i++) {
        const struct disk_ref *d = g_ptr_array_index(disks, i);
        struct pool_ref *p = h ? pool_of_path(h, d->source) : NULL;
        struct reconcile_disk rd = {.name = d->target, .pool = p ? p->name : NULL};
        g_array_append_val(disks_out, rd);
        bool seen = false;
        for (guint k = 0; p && k < pools_out->len; k++)
            seen |= g_array_index(pools_out, struct reconcile_pool, k).name == p->name;
        if (!p || seen)
            continue;
        struct reconcile_pool rp = {
            .name = p->name,
            .cur = p->have_cur ? &p->cur : NULL,
            .prev = p->have_prev ? &p->prev : NULL,
        };
        g_array_append_val(pools_out, rp);
    }
    *in = (struct reconcile_input){
        .now_us = now_us,
        .host = &it->host[0],
        .host_prev = it->have_host[1] ? &it->host[1] : NULL,
        .qga = {gcur(it, GS_QGA, 0), gcur(it, GS_QGA, 1)},
        .balloon = {gcur(it, GS_BALLOON, 0), gcur(it, GS_BALLOON, 1)},
        .guestd = {gcur(it, GS_GUESTD, 0), gcur(it, GS_GUESTD, 1)},
        .disks = (const struct reconcile_disk *)disks_out->data,
        .n_disks = disks_out->len,
        .pools = (const struct reconcile_pool *)pools_out->data,
        .n_pools = pools_out->len,
        .config = &e->conf.reconcile_conf,
        .state = state,
    };
}

struct vm_view *engine_item_view(struct engine *e, struct item *it)
{
    if (!it->result)
        return NULL;
    if (!it->result_text && it->have_host[0]) {
        /* The round ran quietly; its input is unchanged since (the latest
         * view moves only in rounds): the same run with words. */
        g_autoptr(GArray) disks = g_array_new(FALSE, TRUE, sizeof(struct reconcile_disk));
        g_autoptr(GArray) pools = g_array_new(FALSE, TRUE, sizeof(struct reconcile_pool));
        struct reconcile_input in;
        input_of(e, engine_host_find(e, it->host_id), it, it->round_disks, it->result_t_us,
                 it->rstate_prev, disks, pools, &in);
        reconcile_result_free(it->result);
        it->result = reconcile_run(&in);
        it->result_text = true;
    }
    return view_of_result(it);
}

static void reconcile_item(struct engine *e, struct ehost *h, struct item *it,
                           struct round_batch *b, GArray *disks, GArray *pools)
{
    if (it->round_disks)
        g_ptr_array_unref(it->round_disks);
    it->round_disks = g_ptr_array_ref(it->disks);
    struct reconcile_input in;
    input_of(e, h, it, it->round_disks, b->now_us, it->rstate, disks, pools, &in);
    /* Quietly first: at 10 000 VMs the words are most of the cost, and
     * most rounds write none of them. */
    in.quiet = true;
    struct reconcile_result *res = reconcile_run(&in);

    bool keep_view = false;
    if (it->view_kept_us == 0 && e->conf.view_keep_us > 0) {
        /* Spread the first keeps of many VMs over the period. */
        it->view_kept_us =
            b->now_us - (int64_t)g_random_double_range(0, (double)e->conf.view_keep_us);
    } else if (b->now_us - it->view_kept_us >= e->conf.view_keep_us) {
        keep_view = true;
    }
    /* The state is written only when what must survive a restart changed:
     * a finding open and steady rewrites nothing. */
    g_autofree char *key = engine_state_key(res->state);
    bool new_state = g_strcmp0(key, it->rstate_key ? it->rstate_key : "") != 0;
    if (new_state || keep_view ||
        lifecycle_pending(res->findings, it->open, b->now_us, e->conf.finding_refresh_us)) {
        reconcile_result_free(res);
        in.quiet = false;
        res = reconcile_run(&in);
    }

    struct reconciled_sample rs;
    engine_reconciled_sample(res, &e->conf.reconcile_conf, &rs);
    rs.host_id = h->id;
    rs.uuid = g_strdup(it->uuid);
    rs.time_us = b->now_us;
    g_array_append_val(b->reconciled, rs);

    struct reconcile_state *st = g_steal_pointer(&res->state);
    if (new_state) {
        struct store_state_write w = {
            .uuid = g_strdup(it->uuid),
            .host_id = h->id,
            .time_us = b->now_us,
            .state = st->tracks->len ? reconcile_state_to_json(st) : NULL,
        };
        g_array_append_val(b->states, w);
        g_free(it->rstate_key);
        it->rstate_key = g_steal_pointer(&key);
    }
    reconcile_state_free(it->rstate_prev);
    it->rstate_prev = it->rstate;
    it->rstate = st;

    lifecycle_apply(it->uuid, h->id, res->findings, it->open, b->now_us, e->conf.finding_refresh_us,
                    b->findings);

    reconcile_result_free(it->result);
    it->result = res;
    it->result_text = !in.quiet;
    it->result_t_us = b->now_us;
    if (keep_view) {
        g_ptr_array_add(b->views, view_of_result(it));
        it->view_kept_us = b->now_us;
    }
}

void stage_reconcile(struct engine *e, struct ehost *h, GPtrArray *round_items,
                     struct round_batch *b)
{
    g_autoptr(GArray) disks = g_array_new(FALSE, TRUE, sizeof(struct reconcile_disk));
    g_autoptr(GArray) pools = g_array_new(FALSE, TRUE, sizeof(struct reconcile_pool));
    for (guint i = 0; i < round_items->len; i++)
        reconcile_item(e, h, g_ptr_array_index(round_items, i), b, disks, pools);
}
