/*
 * Balancing and maintenance evacuation (docs/policies.md, "Balance").
 *
 * The load of a host is the larger of its CPU load (the reconciled CPU
 * demand of its running VMs over its cores) and its memory load (memory in
 * use over memory), in percent; the spread is the most loaded host's load
 * minus the least loaded one's, over the hosts that count: connected, not
 * in maintenance, with cores, memory and a free-memory figure.
 *
 * First, whatever the mode (an evacuation is an operator's order): every
 * running VM of a connected maintenance host, highest priority first, then
 * largest first, is placed on the least loaded counted host with room,
 * within the anti-affinity and preferring its affinity group's host, as
 * long as max_concurrent allows.  Then, only when nothing is being
 * evacuated and the mode is not off: once the spread has been at or over
 * threshold_pct for sustain_rounds evaluations, the single move from the
 * most loaded host that lowers the spread the most (by min_gain_pct at
 * least) within the guards.
 *
 * Moves planned earlier in the same plan count: a host's figures, and who
 * runs where for the affinity rules, are as the plan leaves them.
 */
#include "config.h"

#include "policy/policy-private.h"

#include <string.h>

/* A host as the plan leaves it. */
struct bhost {
    const struct policy_host *h;
    bool counted;    /* in the spread, and a possible destination */
    const char *why; /* why not counted */
    double demand;   /* cores: the known CPU demand of its running VMs */
    double used;     /* bytes: mem_total - mem_free */
    double free;     /* bytes */
    unsigned vms;    /* running VMs */
    unsigned nofig;  /* of which without a CPU demand figure */
};

struct bctx {
    const struct policy_balance_conf *c;
    const struct policy_input *in;
    struct policy_plan *plan;
    struct bhost *hosts; /* sorted by id */
    size_t n_hosts;
    int64_t *where;     /* per VM of IN: its host as the plan leaves it */
    unsigned slots;     /* migrations that may still start */
    unsigned planned;   /* migrations planned so far */
    GPtrArray *scratch; /* texts formatted for reasons, freed at the end */
};

/* "6553.6 MiB" for a reason; lives until the end of the plan. */
static const char *M(struct bctx *x, double bytes)
{
    return policy_mib(x->scratch, bytes);
}

static const char *vm_label(const struct policy_vm *vm)
{
    return vm->name ? vm->name : vm->uuid ? vm->uuid : "?";
}

static const char *host_label(const struct policy_host *h)
{
    return h->name ? h->name : "?";
}

static double cpu_pct(const struct bhost *b)
{
    return 100.0 * b->demand / b->h->cpus;
}

static double mem_pct(const struct bhost *b)
{
    return 100.0 * b->used / b->h->mem_total;
}

static double load_of(const struct bhost *b)
{
    return MAX(cpu_pct(b), mem_pct(b));
}

/* The memory a VM takes with it: its balloon, else its reconciled total. */
static double vm_memory(const struct policy_vm *vm)
{
    if (policy_present(vm->balloon_current))
        return vm->balloon_current;
    return vm->mem_total.v;
}

/* Seconds to copy VM: memory over the bandwidth left after its dirty
 * rate (pre-copy converges only while the rate is under the bandwidth);
 * infinite when it would not converge. */
static double cost_of(const struct policy_balance_conf *c, const struct policy_vm *vm)
{
    double mem = vm_memory(vm);
    double bw = c->bandwidth_bytes_s;
    if (policy_present(vm->dirty_rate) && vm->dirty_rate > 0) {
        if (vm->dirty_rate >= bw)
            return INFINITY;
        bw -= vm->dirty_rate;
    }
    return mem / bw;
}

static struct bhost *bhost_of(struct bctx *x, int64_t id)
{
    for (size_t i = 0; i < x->n_hosts; i++) {
        if (x->hosts[i].h->id == id)
            return &x->hosts[i];
    }
    return NULL;
}

static int cmp_host(const void *a, const void *b)
{
    const struct bhost *x = a, *y = b;
    return x->h->id < y->h->id ? -1 : x->h->id > y->h->id;
}

/* The hosts' figures as IN has them; X->hosts sorted by id. */
static void hosts_setup(struct bctx *x)
{
    const struct policy_input *in = x->in;
    x->n_hosts = in->n_hosts;
    x->hosts = g_new0(struct bhost, MAX(in->n_hosts, 1));
    for (size_t i = 0; i < in->n_hosts; i++) {
        struct bhost *b = &x->hosts[i];
        const struct policy_host *h = &in->hosts[i];
        b->h = h;
        if (!h->connected)
            b->why = "not connected";
        else if (h->maintenance)
            b->why = "in maintenance";
        else if (!(h->cpus > 0) || !(h->mem_total > 0) || !policy_present(h->mem_free))
            b->why = "no cores, memory or free-memory figure";
        b->counted = !b->why;
        b->free = h->mem_free;
        b->used = policy_present(h->mem_free) ? h->mem_total - h->mem_free : POLICY_ABSENT;
    }
    qsort(x->hosts, x->n_hosts, sizeof(*x->hosts), cmp_host);
    x->where = g_new0(int64_t, MAX(in->n_vms, 1));
    for (size_t i = 0; i < in->n_vms; i++) {
        const struct policy_vm *vm = &in->vms[i];
        x->where[i] = vm->host_id;
        if (!vm->running)
            continue;
        struct bhost *b = bhost_of(x, vm->host_id);
        if (!b)
            continue;
        b->vms++;
        if (policy_present(vm->cpu_demand.v))
            b->demand += vm->cpu_demand.v;
        else
            b->nofig++;
    }
}

/* The spread over the counted hosts (NaN with fewer than two): CPU and
 * memory each compared across the hosts, the larger of the two spreads,
 * with the most and least loaded hosts by that measure (the lower id on a
 * tie) and *ret_cpu whether it is CPU.  Each measure on its own: a host
 * over its cores is out of balance with idle ones even when every host's
 * memory is fuller than its CPU is busy. */
static double spread_dim(const struct bhost *hosts, size_t n, double (*pct)(const struct bhost *),
                         const struct bhost **ret_max, const struct bhost **ret_min)
{
    const struct bhost *hi = NULL, *lo = NULL;
    unsigned counted = 0;
    for (size_t i = 0; i < n; i++) {
        const struct bhost *b = &hosts[i];
        if (!b->counted)
            continue;
        counted++;
        if (!hi || pct(b) > pct(hi))
            hi = b;
        if (!lo || pct(b) < pct(lo))
            lo = b;
    }
    *ret_max = hi;
    *ret_min = lo;
    return counted >= 2 ? pct(hi) - pct(lo) : POLICY_ABSENT;
}

static double spread_of(const struct bhost *hosts, size_t n, const struct bhost **ret_max,
                        const struct bhost **ret_min, bool *ret_cpu)
{
    const struct bhost *chi, *clo, *mhi, *mlo;
    double cs = spread_dim(hosts, n, cpu_pct, &chi, &clo);
    double ms = spread_dim(hosts, n, mem_pct, &mhi, &mlo);
    bool cpu = !policy_present(ms) || cs >= ms;
    if (ret_max)
        *ret_max = cpu ? chi : mhi;
    if (ret_min)
        *ret_min = cpu ? clo : mlo;
    if (ret_cpu)
        *ret_cpu = cpu;
    return cpu ? cs : ms;
}

/* Moves VM (index I of IN) to B in the plan's picture of the fleet. */
static void project(struct bctx *x, size_t i, struct bhost *to)
{
    const struct policy_vm *vm = &x->in->vms[i];
    struct bhost *from = bhost_of(x, x->where[i]);
    double mem = vm_memory(vm);
    bool fig = policy_present(vm->cpu_demand.v);
    if (from) {
        from->vms--;
        from->free += mem;
        from->used -= mem;
        if (fig)
            from->demand -= vm->cpu_demand.v;
        else
            from->nofig--;
    }
    to->vms++;
    to->free -= mem;
    to->used += mem;
    if (fig)
        to->demand += vm->cpu_demand.v;
    else
        to->nofig++;
    x->where[i] = to->h->id;
}

/* Another running VM of GROUP (by the member field OFF) on host ID, as the
 * plan leaves the fleet; NULL when none. */
static const struct policy_vm *member_on(struct bctx *x, size_t self, bool anti, const char *group,
                                         int64_t id)
{
    if (!group)
        return NULL;
    for (size_t i = 0; i < x->in->n_vms; i++) {
        const struct policy_vm *w = &x->in->vms[i];
        const char *g = anti ? w->anti_affinity : w->affinity;
        if (i != self && w->running && x->where[i] == id && g_strcmp0(g, group) == 0)
            return w;
    }
    return NULL;
}

static bool has_room(const struct policy_balance_conf *c, const struct bhost *b, double mem)
{
    return b->free - mem >= c->reserve_pct / 100.0 * b->h->mem_total;
}

/* ---- the record ---- */

static json_object *loads_json(const struct bctx *x)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < x->n_hosts; i++) {
        const struct bhost *b = &x->hosts[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_int64(b->h->id));
        json_object_object_add(o, "name", json_object_new_string(host_label(b->h)));
        if (b->counted) {
            json_object_object_add(o, "cpu_pct", policy_jnum(cpu_pct(b)));
            json_object_object_add(o, "mem_pct", policy_jnum(mem_pct(b)));
            json_object_object_add(o, "load_pct", policy_jnum(load_of(b)));
            json_object_object_add(o, "mem_free", policy_jnum(b->free));
        } else {
            json_object_object_add(o, "counted", json_object_new_boolean(false));
            json_object_object_add(o, "why", json_object_new_string(b->why));
        }
        json_object_object_add(o, "vms", json_object_new_int64(b->vms));
        json_object_object_add(o, "vms_without_figures", json_object_new_int64(b->nofig));
        json_object_array_add(a, o);
    }
    return a;
}

static json_object *vm_json(const struct policy_vm *vm)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "cpu_demand", policy_jfig(&vm->cpu_demand));
    json_object_object_add(o, "memory", policy_jnum(vm_memory(vm)));
    json_object_object_add(o, "dirty_rate", policy_jnum(vm->dirty_rate));
    json_object_object_add(o, "priority", json_object_new_int64(vm->priority));
    if (vm->affinity)
        json_object_object_add(o, "affinity", json_object_new_string(vm->affinity));
    if (vm->anti_affinity)
        json_object_object_add(o, "anti_affinity", json_object_new_string(vm->anti_affinity));
    return o;
}

static struct policy_decision *add(struct bctx *x, const struct policy_vm *vm, int64_t host_id,
                                   const char *rule, enum policy_action action, char *reason,
                                   json_object *inputs, json_object *expected)
{
    struct policy_decision *d =
        policy_decision_add(x->plan, POLICY_BALANCE, vm, host_id, rule, action, reason);
    policy_decision_set_json(d, inputs, expected);
    return d;
}

/* ---- evacuation ---- */

/* Where a VM of a maintenance host goes, or why nowhere. */
/* The hosts listed in an evacuation decision's inputs, at most (a fleet of
 * hundreds would otherwise repeat itself in every decision); the rest are
 * counted. */
#define SEEN_MAX 32

struct placement {
    struct bhost *to;  /* NULL: cannot be placed */
    char *why;         /* when TO is NULL: why, with the numbers (owned) */
    json_object *seen; /* the hosts looked at */
    unsigned seen_more;
};

static struct placement place(struct bctx *x, size_t i)
{
    const struct policy_balance_conf *c = x->c;
    const struct policy_vm *vm = &x->in->vms[i];
    const double mem = vm_memory(vm);
    struct placement pl = {.seen = json_object_new_array()};
    struct bhost *best = NULL, *pref = NULL, *roomiest = NULL;
    const struct policy_vm *blocker = NULL;
    unsigned n_cand = 0, n_room = 0;
    for (size_t k = 0; k < x->n_hosts; k++) {
        struct bhost *b = &x->hosts[k];
        if (!b->counted || b->h->id == x->where[i])
            continue;
        n_cand++;
        bool room = has_room(c, b, mem);
        const struct policy_vm *anti = member_on(x, i, true, vm->anti_affinity, b->h->id);
        const struct policy_vm *with = member_on(x, i, false, vm->affinity, b->h->id);
        if (json_object_array_length(pl.seen) < SEEN_MAX) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "id", json_object_new_int64(b->h->id));
            json_object_object_add(o, "load_pct", policy_jnum(load_of(b)));
            json_object_object_add(o, "mem_free", policy_jnum(b->free));
            json_object_object_add(o, "room", json_object_new_boolean(room));
            if (anti)
                json_object_object_add(o, "anti_affinity_member",
                                       json_object_new_string(vm_label(anti)));
            if (with)
                json_object_object_add(o, "affinity_member",
                                       json_object_new_string(vm_label(with)));
            json_object_array_add(pl.seen, o);
        } else {
            pl.seen_more++;
        }
        if (!roomiest || b->free > roomiest->free)
            roomiest = b;
        if (!room)
            continue;
        n_room++;
        if (anti) {
            blocker = blocker ? blocker : anti;
            continue;
        }
        if (!best || load_of(b) < load_of(best))
            best = b;
        if (with && (!pref || load_of(b) < load_of(pref)))
            pref = b;
    }
    pl.to = pref ? pref : best;
    if (pl.to)
        return pl;
    if (n_cand == 0)
        pl.why = g_strdup("there is no other connected host outside maintenance to move it to");
    else if (n_room > 0)
        pl.why = g_strdup_printf("every host with room for it runs a member of its anti-affinity "
                                 "group %s (%s among them)",
                                 vm->anti_affinity, vm_label(blocker));
    else
        pl.why = g_strdup_printf(
            "no host has room for its %s: the most free memory is %s on %s, which keeps a "
            "reserve of %s (reserve_pct %g)",
            M(x, mem), M(x, roomiest->free), host_label(roomiest->h),
            M(x, c->reserve_pct / 100.0 * roomiest->h->mem_total), c->reserve_pct);
    return pl;
}

struct evac {
    size_t i; /* index in IN's VMs */
    double mem;
};

static int cmp_evac(const void *a, const void *b, void *data)
{
    const struct evac *x = a, *y = b;
    const struct policy_vm *vms = data;
    const struct policy_vm *u = &vms[x->i], *v = &vms[y->i];
    if (u->priority != v->priority)
        return u->priority > v->priority ? -1 : 1;
    bool ku = policy_present(x->mem), kv = policy_present(y->mem);
    if (ku != kv)
        return ku ? -1 : 1;
    if (ku && x->mem != y->mem)
        return x->mem > y->mem ? -1 : 1;
    return g_strcmp0(u->uuid, v->uuid);
}

/* Plans the evacuations; true when any VM is being (or waits to be)
 * evacuated, which holds balancing back. */
static bool evacuate(struct bctx *x)
{
    const struct policy_balance_conf *c = x->c;
    const struct policy_input *in = x->in;
    bool evacuating = false;
    g_autoptr(GArray) list = g_array_new(FALSE, FALSE, sizeof(struct evac));

    for (size_t k = 0; k < x->n_hosts; k++) {
        const struct bhost *b = &x->hosts[k];
        if (!b->h->maintenance)
            continue;
        unsigned n = 0;
        for (size_t i = 0; i < in->n_vms; i++) {
            if (in->vms[i].running && in->vms[i].host_id == b->h->id) {
                n++;
                if (b->h->connected)
                    g_array_append_val(list,
                                       ((struct evac){.i = i, .mem = vm_memory(&in->vms[i])}));
            }
        }
        if (n && !b->h->connected) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "host", json_object_new_string(host_label(b->h)));
            json_object_object_add(o, "maintenance", json_object_new_boolean(true));
            json_object_object_add(o, "connected", json_object_new_boolean(false));
            json_object_object_add(o, "running_vms", json_object_new_int64(n));
            add(x, NULL, b->h->id, "host-view-missing", POLICY_ACT_NONE,
                g_strdup_printf("Host %s is in maintenance but not connected: its %u running VM%s "
                                "cannot be evacuated until it is.",
                                host_label(b->h), n, n == 1 ? "" : "s"),
                o, NULL);
        }
    }
    g_array_sort_with_data(list, cmp_evac, (void *)in->vms);

    for (guint k = 0; k < list->len; k++) {
        const struct evac *e = &g_array_index(list, struct evac, k);
        const struct policy_vm *vm = &in->vms[e->i];
        const struct bhost *from = bhost_of(x, vm->host_id);
        json_object *inp = json_object_new_object();
        json_object_object_add(inp, "from_host", json_object_new_string(host_label(from->h)));
        json_object_object_add(inp, "vm", vm_json(vm));
        json_object_object_add(inp, "migrations_in_flight",
                               json_object_new_int64(in->migrations_in_flight));
        json_object_object_add(inp, "slots", json_object_new_int64(x->slots));

        if (vm->busy) {
            evacuating = true;
            add(x, vm, from->h->id, "action-in-flight", POLICY_ACT_NONE,
                g_strdup_printf("%s is to leave %s (maintenance), but an action on it is still in "
                                "flight: nothing new this round.",
                                vm_label(vm), host_label(from->h)),
                inp, NULL);
            continue;
        }
        if (!policy_present(e->mem)) {
            add(x, vm, from->h->id, "cannot-place", POLICY_ACT_NONE,
                g_strdup_printf("%s cannot be evacuated from %s (maintenance): its memory size is "
                                "unknown (no balloon figure, no reconciled total), so no "
                                "destination's room can be judged.",
                                vm_label(vm), host_label(from->h)),
                inp, NULL);
            continue;
        }
        struct placement pl = place(x, e->i);
        json_object_object_add(inp, "hosts_seen", pl.seen);
        if (pl.seen_more)
            json_object_object_add(inp, "hosts_seen_more", json_object_new_int64(pl.seen_more));
        if (!pl.to) {
            add(x, vm, from->h->id, "cannot-place", POLICY_ACT_NONE,
                g_strdup_printf("%s cannot be evacuated from %s (maintenance): %s.", vm_label(vm),
                                host_label(from->h), pl.why),
                inp, NULL);
            g_free(pl.why);
            continue;
        }
        evacuating = true;
        double cost = cost_of(c, vm);
        if (x->slots == 0) {
            unsigned busy = in->migrations_in_flight + x->planned;
            struct policy_decision *d =
                add(x, vm, from->h->id, "waiting", POLICY_ACT_NONE,
                    g_strdup_printf("%s is to leave %s (maintenance) for %s, but %u migration%s "
                                    "already in flight or planned (max_concurrent %u): it waits "
                                    "for a slot.",
                                    vm_label(vm), host_label(from->h), host_label(pl.to->h), busy,
                                    busy == 1 ? " is" : "s are", c->max_concurrent),
                    inp, NULL);
            d->to_host_id = pl.to->h->id;
            continue;
        }
        double load_before = load_of(pl.to), free_before = pl.to->free;
        project(x, e->i, pl.to);
        x->slots--;
        x->planned++;
        json_object *ex = json_object_new_object();
        json_object_object_add(ex, "to_load_after_pct", policy_jnum(load_of(pl.to)));
        json_object_object_add(ex, "to_free_after", policy_jnum(pl.to->free));
        json_object_object_add(ex, "cost_s", policy_jnum(cost));
        bool with = member_on(x, e->i, false, vm->affinity, pl.to->h->id) != NULL;
        struct policy_decision *d =
            add(x, vm, from->h->id, "maintenance", POLICY_ACT_MIGRATE,
                g_strdup_printf("%s leaves %s (maintenance; priority %d, %s) for %s, %s with room "
                                "(load %.1f %%, %s free, reserve %s); the copy should take about "
                                "%.0f s%s.",
                                vm_label(vm), host_label(from->h), vm->priority, M(x, e->mem),
                                host_label(pl.to->h),
                                with ? "the host of its affinity group" : "the least loaded host",
                                load_before, M(x, free_before),
                                M(x, c->reserve_pct / 100.0 * pl.to->h->mem_total), cost,
                                cost > c->max_cost_s ? ", over max_cost, which an evacuation does "
                                                       "not apply"
                                                     : ""),
                inp, ex);
        d->evacuation = true;
        d->to_host_id = pl.to->h->id;
    }
    return evacuating;
}

/* ---- balancing ---- */

/* The refused moves listed in a no-improving-move decision's inputs, at
 * most (one per VM of the most loaded host); the rest are counted. */
#define REFUSED_MAX 32

/* A possible move and what refuses it (NULL: nothing). */
struct move {
    size_t i;
    struct bhost *to;
    double spread_after, gain, cost;
    const char *refused; /* a code for the record */
    char *why;           /* for the reason (owned) */
};

/* The spread if VM I moved to TO.  The two hosts are restored from copies
 * after, not by moving the VM back: sums of doubles do not always undo. */
static double spread_if(struct bctx *x, size_t i, struct bhost *to)
{
    const int64_t back = x->where[i];
    struct bhost *from = bhost_of(x, back);
    const struct bhost save_from = *from, save_to = *to;
    project(x, i, to);
    double s = spread_of(x->hosts, x->n_hosts, NULL, NULL, NULL);
    *from = save_from;
    *to = save_to;
    x->where[i] = back;
    return s;
}

/* The first guard refusing M, in the documented order. */
static void judge(struct bctx *x, struct move *m, const struct bhost *from)
{
    const struct policy_balance_conf *c = x->c;
    const struct policy_vm *vm = &x->in->vms[m->i];
    const int64_t last = vm->last_action_us[POLICY_BALANCE];
    const struct policy_vm *w;
    if (!(m->gain >= c->min_gain_pct && m->gain > 0)) {
        m->refused = "gain-below-min";
        m->why = g_strdup_printf("it would lower the spread by only %.1f points (min_gain_pct %g)",
                                 m->gain, c->min_gain_pct);
    } else if (vm->busy) {
        m->refused = "action-in-flight";
        m->why = g_strdup("an action on it is still in flight");
    } else if (vm->paused[POLICY_BALANCE]) {
        m->refused = "paused";
        m->why = g_strdup("balancing is paused for it (an earlier move made things worse)");
    } else if (last > 0 && x->in->now_us - last < c->vm_cooldown_us) {
        m->refused = "cooldown";
        m->why =
            g_strdup_printf("it was moved %.0f s ago, within the cooldown of %.0f s",
                            (double)(x->in->now_us - last) / 1e6, (double)c->vm_cooldown_us / 1e6);
    } else if ((w = member_on(x, m->i, false, vm->affinity, from->h->id))) {
        m->refused = "affinity";
        m->why = g_strdup_printf("it shares %s with %s of its affinity group %s",
                                 host_label(from->h), vm_label(w), vm->affinity);
    } else if (!(m->cost <= c->max_cost_s)) {
        m->refused = "max-cost";
        if (isinf(m->cost))
            m->why = g_strdup_printf("it dirties memory at %s, no slower than the bandwidth of "
                                     "%s: the copy would never finish",
                                     policy_rate(x->scratch, vm->dirty_rate),
                                     policy_rate(x->scratch, c->bandwidth_bytes_s));
        else
            m->why = g_strdup_printf("copying its %s would take about %.0f s (max_cost %.0f s)",
                                     M(x, vm_memory(vm)), m->cost, c->max_cost_s);
    } else if ((w = member_on(x, m->i, true, vm->anti_affinity, m->to->h->id))) {
        m->refused = "anti-affinity";
        m->why = g_strdup_printf("%s runs %s of its anti-affinity group %s", host_label(m->to->h),
                                 vm_label(w), vm->anti_affinity);
    } else if (!has_room(c, m->to, vm_memory(vm))) {
        m->refused = "reserve";
        m->why =
            g_strdup_printf("%s would keep only %s free, under its reserve of %s "
                            "(reserve_pct %g)",
                            host_label(m->to->h), M(x, m->to->free - vm_memory(vm)),
                            M(x, c->reserve_pct / 100.0 * m->to->h->mem_total), c->reserve_pct);
    }
}

/* Whether A is a better move than B (B may be unset: to NULL). */
static bool better(const struct bctx *x, const struct move *a, const struct move *b)
{
    if (!b->to)
        return true;
    if (a->gain != b->gain)
        return a->gain > b->gain;
    if (a->cost != b->cost)
        return a->cost < b->cost;
    int u = g_strcmp0(x->in->vms[a->i].uuid, x->in->vms[b->i].uuid);
    if (u)
        return u < 0;
    return a->to->h->id < b->to->h->id;
}

static json_object *balance_inputs(struct bctx *x, double spread, unsigned rounds)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "hosts", loads_json(x));
    json_object_object_add(o, "spread", policy_jnum(spread));
    json_object_object_add(o, "threshold_pct", policy_jnum(x->c->threshold_pct));
    json_object_object_add(o, "rounds", json_object_new_int64(rounds));
    json_object_object_add(o, "sustain_rounds", json_object_new_int64(x->c->sustain_rounds));
    return o;
}

static int cmp_index_uuid(const void *a, const void *b, void *data)
{
    const struct policy_vm *vms = data;
    return g_strcmp0(vms[*(const size_t *)a].uuid, vms[*(const size_t *)b].uuid);
}

static void balance(struct bctx *x, unsigned rounds, double spread, bool cpu, struct bhost *hi,
                    struct bhost *lo)
{
    const struct policy_balance_conf *c = x->c;
    const struct policy_input *in = x->in;
    const char *dim = cpu ? "CPU" : "memory";
    double (*pct)(const struct bhost *) = cpu ? cpu_pct : mem_pct;
    g_autofree char *state =
        g_strdup_printf("spread %.1f points: %s at %.1f %% by %s, %s at %.1f %%", spread,
                        host_label(hi->h), pct(hi), dim, host_label(lo->h), pct(lo));

    if (rounds < c->sustain_rounds) {
        add(x, NULL, hi->h->id, "imbalance-not-sustained", POLICY_ACT_NONE,
            g_strdup_printf("Hosts are out of balance (%s; threshold %g) for %u of the %u "
                            "rounds in a row needed: no move yet.",
                            state, c->threshold_pct, rounds, c->sustain_rounds),
            balance_inputs(x, spread, rounds), NULL);
        return;
    }
    if (x->slots == 0) {
        add(x, NULL, hi->h->id, "waiting", POLICY_ACT_NONE,
            g_strdup_printf("Hosts are out of balance (%s) for %u rounds, but %u migration%s "
                            "already in flight (max_concurrent %u): no move this round.",
                            state, rounds, in->migrations_in_flight,
                            in->migrations_in_flight == 1 ? " is" : "s are", c->max_concurrent),
            balance_inputs(x, spread, rounds), NULL);
        return;
    }

    /* The VMs of the most loaded host, in uuid order. */
    g_autoptr(GArray) idx = g_array_new(FALSE, FALSE, sizeof(size_t));
    for (size_t i = 0; i < in->n_vms; i++) {
        const struct policy_vm *vm = &in->vms[i];
        if (vm->running && x->where[i] == hi->h->id && policy_present(vm->cpu_demand.v) &&
            policy_present(vm_memory(vm)))
            g_array_append_val(idx, i);
    }
    g_array_sort_with_data(idx, cmp_index_uuid, (void *)in->vms);

    /* The best move within the guards, and each VM's best move where a
     * guard refuses it (one per VM: the highest gain over destinations). */
    struct move best = {0};
    g_autoptr(GArray) refusals = g_array_new(FALSE, FALSE, sizeof(struct move));
    for (guint k = 0; k < idx->len; k++) {
        size_t i = g_array_index(idx, size_t, k);
        struct move vm_best = {0};
        for (size_t h = 0; h < x->n_hosts; h++) {
            struct bhost *to = &x->hosts[h];
            if (!to->counted || to == hi)
                continue;
            struct move m = {.i = i, .to = to, .cost = cost_of(c, &in->vms[i])};
            m.spread_after = spread_if(x, i, to);
            m.gain = spread - m.spread_after;
            judge(x, &m, hi);
            if (!m.refused && better(x, &m, &best))
                best = m;
            if (better(x, &m, &vm_best)) {
                g_free(vm_best.why);
                vm_best = m;
            } else {
                g_free(m.why);
            }
        }
        if (vm_best.to && vm_best.refused)
            g_array_append_val(refusals, vm_best);
        else
            g_free(vm_best.why);
    }
    /* The refused moves worth telling: all when nothing moves, else those
     * that would have done better than the move made.  Highest gain first. */
    const struct move *top = NULL;
    json_object *refused = json_object_new_array();
    unsigned n_more = 0;
    for (guint k = 0; k < refusals->len; k++) {
        const struct move *m = &g_array_index(refusals, struct move, k);
        if (best.to && !(m->gain > best.gain))
            continue;
        if (!top || better(x, m, top))
            top = m;
        if (json_object_array_length(refused) >= REFUSED_MAX) {
            n_more++;
            continue;
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "vm", json_object_new_string(vm_label(&in->vms[m->i])));
        json_object_object_add(o, "to_host", json_object_new_int64(m->to->h->id));
        json_object_object_add(o, "spread_after", policy_jnum(m->spread_after));
        json_object_object_add(o, "refused", json_object_new_string(m->refused));
        json_object_array_add(refused, o);
    }

    json_object *inp = balance_inputs(x, spread, rounds);
    json_object_object_add(inp, "from_host", json_object_new_int64(hi->h->id));
    json_object_object_add(inp, "slots", json_object_new_int64(x->slots));
    json_object_object_add(inp, best.to ? "refused_better" : "refused", refused);
    if (n_more)
        json_object_object_add(inp, "refused_more", json_object_new_int64(n_more));

    if (best.to) {
        const struct policy_vm *vm = &in->vms[best.i];
        json_object_object_add(inp, "vm", vm_json(vm));
        json_object *ex = json_object_new_object();
        json_object_object_add(ex, "spread_before", policy_jnum(spread));
        json_object_object_add(ex, "spread_after", policy_jnum(best.spread_after));
        json_object_object_add(ex, "cost_s", policy_jnum(best.cost));
        g_autofree char *note = NULL;
        if (top)
            note = g_strdup_printf(" (the better move of %s to %s, to %.1f points, is refused: %s)",
                                   vm_label(&in->vms[top->i]), host_label(top->to->h),
                                   top->spread_after, top->why);
        struct policy_decision *d =
            add(x, vm, hi->h->id, dim[0] == 'C' ? "cpu-imbalance" : "memory-imbalance",
                POLICY_ACT_MIGRATE,
                g_strdup_printf("Hosts have been out of balance for %u rounds (%s): moving %s (%g "
                                "core%s, %s) from %s to %s brings the spread to %.1f points%s; the "
                                "copy should take about %.0f s.",
                                rounds, state, vm_label(vm), vm->cpu_demand.v,
                                vm->cpu_demand.v == 1 ? "" : "s", M(x, vm_memory(vm)),
                                host_label(hi->h), host_label(best.to->h), best.spread_after,
                                note ? note : "", best.cost),
                inp, ex);
        d->to_host_id = best.to->h->id;
        project(x, best.i, best.to);
        x->slots--;
        x->planned++;
    } else {
        g_autofree char *why = NULL;
        if (top && g_strcmp0(top->refused, "gain-below-min") != 0)
            why = g_strdup_printf("the best, %s to %s (spread %.1f points after), is refused: %s",
                                  vm_label(&in->vms[top->i]), host_label(top->to->h),
                                  top->spread_after, top->why);
        else if (top)
            why = g_strdup_printf("the best, %s to %s, %s", vm_label(&in->vms[top->i]),
                                  host_label(top->to->h), top->why);
        else if (hi->vms == 0)
            why = g_strdup_printf("%s runs no VM", host_label(hi->h));
        else if (idx->len == 0)
            why = g_strdup_printf("none of its %u running VM%s has a CPU demand and memory "
                                  "figure to judge a move by",
                                  hi->vms, hi->vms == 1 ? "" : "s");
        else
            why = g_strdup("no other host counts as a destination");
        add(x, NULL, hi->h->id, "no-improving-move", POLICY_ACT_NONE,
            g_strdup_printf("Hosts are out of balance (%s) for %u rounds, but no move from %s "
                            "lowers the spread by at least %g points within the guards: %s.",
                            state, rounds, host_label(hi->h), c->min_gain_pct, why),
            inp, NULL);
    }
    for (guint k = 0; k < refusals->len; k++)
        g_free(g_array_index(refusals, struct move, k).why);
}

struct policy_plan *policy_balance_plan(const struct policy_balance_conf *c,
                                        const struct policy_input *in)
{
    struct policy_plan *plan = policy_plan_new(0);
    g_autoptr(GPtrArray) scratch = g_ptr_array_new_with_free_func(g_free);
    struct bctx x = {.c = c, .in = in, .plan = plan, .scratch = scratch};
    hosts_setup(&x);
    x.slots = c->max_concurrent > in->migrations_in_flight
                  ? c->max_concurrent - in->migrations_in_flight
                  : 0;

    /* The count of rounds out of balance starts again after an evacuation:
     * the fleet it measured is not the one left. */
    bool evacuating = evacuate(&x);
    /* Everything the evacuation decided, moves or not, is its record. */
    for (guint i = 0; i < plan->decisions->len; i++)
        ((struct policy_decision *)g_ptr_array_index(plan->decisions, i))->evacuation = true;
    if (c->mode != POLICY_OFF && !evacuating) {
        const struct bhost *hi, *lo;
        bool cpu;
        double spread = spread_of(x.hosts, x.n_hosts, &hi, &lo, &cpu);
        if (policy_present(spread) && spread >= c->threshold_pct) {
            plan->balance_rounds = in->balance_rounds + 1;
            balance(&x, plan->balance_rounds, spread, cpu, (struct bhost *)hi, (struct bhost *)lo);
        }
    }
    g_free(x.hosts);
    g_free(x.where);
    return plan;
}

/* ---- observing a done move ---- */

enum policy_verdict policy_balance_observe(const struct policy_balance_conf *c,
                                           const struct policy_decision *d,
                                           const struct policy_input *in, char **ret_observed)
{
    struct bctx x = {.c = c, .in = in};
    hosts_setup(&x);
    double now = spread_of(x.hosts, x.n_hosts, NULL, NULL, NULL);
    g_free(x.hosts);
    g_free(x.where);

    const struct policy_vm *vm = NULL;
    for (size_t i = 0; d->vm_uuid && i < in->n_vms; i++) {
        if (g_strcmp0(in->vms[i].uuid, d->vm_uuid) == 0)
            vm = &in->vms[i];
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "spread_now", policy_jnum(now));
    json_object_object_add(o, "vm_host", vm ? json_object_new_int64(vm->host_id) : NULL);
    if (ret_observed)
        *ret_observed = policy_json_text(o);
    json_object_put(o);

    /* Not where it was sent: the move did not happen, so it cannot have
     * made the spread worse either. */
    if (d->action != POLICY_ACT_MIGRATE || !vm || vm->host_id != d->to_host_id)
        return POLICY_NO_EFFECT;
    if (d->evacuation)
        return POLICY_OK; /* an order, not a bet on the spread */
    double before = POLICY_ABSENT;
    json_object *ex = d->expected ? json_tokener_parse(d->expected) : NULL, *v;
    if (ex && json_object_object_get_ex(ex, "spread_before", &v) &&
        (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        before = json_object_get_double(v);
    json_object_put(ex);
    /* One point of tolerance: loads move a little from round to round. */
    if (policy_present(before) && policy_present(now) && now > before + 1)
        return POLICY_WORSE;
    return POLICY_OK;
}
