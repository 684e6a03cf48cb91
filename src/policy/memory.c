/*
 * The balloon manager (docs/policies.md, "Memory").  Per host of the
 * input, in three phases:
 *
 *   1. guests under pressure get memory back, whatever the host's free
 *      memory (pressure wins over the host's target);
 *   2. while the host's free memory is under its target, guests with real
 *      slack give some up, largest slack first, never below their floor;
 *   3. once the host is over its target by give_back_above, guests below
 *      their maximum get memory back, furthest below first, never taking
 *      the host under target + give_back_above / 2 (hysteresis: what phase
 *      3 gives, phase 2 does not take again next round).
 *
 * Each phase works on the host's free memory as the changes planned so far
 * leave it.  A guest's floor is the balloon size at which it could still
 * use its margin more before it counts as under pressure (mvm_new()): use
 * plus margin when pressure_pct is 0, a little above that otherwise.
 *
 * Guards (action in flight, paused, cooldown, host_actions) are recorded
 * as NONE decisions only for a guest a phase would have changed; a guest
 * that needs nothing gets no decision at all.
 */
#include "config.h"

#include "policy/policy-private.h"

#include <string.h>

#define KIB 1024.0

/* One running VM of the host as this plan sees it. */
struct mvm {
    const struct policy_vm *vm;
    double total, used, avail; /* reconciled; avail = total - used */
    double cur, max;           /* the balloon */
    double margin;             /* max(margin_bytes, margin_pct of use) */
    double floor;              /* the lowest balloon this plan would set */
    double slack;              /* cur - floor; negative: under its floor */
    bool pressure;
    char *pressure_why; /* the indicators that fired, for reasons */
};

struct mhost {
    const struct policy_host *h;
    double target;     /* bytes */
    double target_pct; /* NaN when the target is in bytes */
    double give_back;  /* bytes: give_back_above_pct of its memory */
    double free;       /* projected: mem_free plus the changes planned so far */
    unsigned actions;  /* SETMEM decisions planned on it */
};

struct mctx {
    const struct policy_memory_conf *c;
    const struct policy_input *in;
    struct policy_plan *plan;
    GPtrArray *scratch; /* texts formatted for reasons, freed at the end */
};

/* "1126.4 MiB" for a reason; lives until the end of the plan. */
static const char *M(struct mctx *x, double bytes)
{
    return policy_mib(x->scratch, bytes);
}

/* Balloon sizes are set in KiB (virDomainSetMemory): a shrink is rounded
 * up, a grow down, so neither passes the floor or the limit it was cut
 * to. */
static double kib_up(double bytes)
{
    return ceil(bytes / KIB) * KIB;
}

static double kib_down(double bytes)
{
    return floor(bytes / KIB) * KIB;
}

static int cmp_uuid(const struct policy_vm *a, const struct policy_vm *b)
{
    return g_strcmp0(a->uuid, b->uuid);
}

/* ---- pressure ---- */

/* Whether a guest with these figures is under pressure, and why (WHY may
 * be NULL).  Absent figures count as no sign of pressure. */
static bool pressure_of(const struct policy_memory_conf *c, const struct policy_vm *vm,
                        GString *why)
{
    g_autoptr(GPtrArray) t = g_ptr_array_new_with_free_func(g_free);
    bool p = false;
    const double total = vm->mem_total.v, used = vm->mem_used.v;
    if (policy_present(total) && policy_present(used) && total > 0 &&
        total - used < c->pressure_pct / 100.0 * total) {
        p = true;
        if (why)
            g_string_append_printf(why, "available %s is under %g %% of %s",
                                   policy_mib(t, total - used), c->pressure_pct,
                                   policy_mib(t, total));
    }
    if (policy_present(vm->mem_swap_in.v) && vm->mem_swap_in.v > c->swap_in_floor) {
        if (why && p)
            g_string_append(why, "; ");
        p = true;
        if (why)
            g_string_append_printf(why, "it swaps in %s, over the floor of %s",
                                   policy_rate(t, vm->mem_swap_in.v),
                                   policy_rate(t, c->swap_in_floor));
    }
    if (vm->balloon_swapping) {
        if (why && p)
            g_string_append(why, "; ");
        p = true;
        if (why)
            g_string_append(why, "its balloon-induced-swapping finding is open");
    }
    return p;
}

/* ---- the record ---- */

static json_object *host_inputs(const struct mhost *mh)
{
    const struct policy_host *h = mh->h;
    json_object *o = json_object_new_object();
    struct policy_fig free_fig = {.v = h->mem_free,
                                  .provenance = "host",
                                  .age_us = policy_present(h->mem_free) ? h->mem_age_us : -1};
    json_object_object_add(o, "host", json_object_new_string(h->name ? h->name : ""));
    json_object_object_add(o, "host_connected", json_object_new_boolean(h->connected));
    json_object_object_add(o, "host_free", policy_jfig(&free_fig));
    json_object_object_add(o, "host_total", policy_jnum(h->mem_total));
    json_object_object_add(o, "target", policy_jnum(mh->target));
    if (policy_present(mh->target_pct))
        json_object_object_add(o, "target_pct", policy_jnum(mh->target_pct));
    json_object_object_add(o, "give_back_above", policy_jnum(mh->give_back));
    return o;
}

static json_object *vm_inputs(const struct mhost *mh, const struct policy_vm *vm,
                              const struct mvm *m)
{
    json_object *o = host_inputs(mh);
    json_object_object_add(o, "host_free_planned", policy_jnum(mh->free));
    json_object_object_add(o, "mem_total", policy_jfig(&vm->mem_total));
    json_object_object_add(o, "mem_used", policy_jfig(&vm->mem_used));
    json_object_object_add(o, "mem_swap_in", policy_jfig(&vm->mem_swap_in));
    json_object_object_add(o, "balloon_swapping", json_object_new_boolean(vm->balloon_swapping));
    json_object_object_add(o, "balloon_current", policy_jnum(vm->balloon_current));
    json_object_object_add(o, "balloon_maximum", policy_jnum(vm->balloon_maximum));
    if (m) {
        json_object_object_add(o, "available", policy_jnum(m->avail));
        json_object_object_add(o, "margin", policy_jnum(m->margin));
        json_object_object_add(o, "floor", policy_jnum(m->floor));
        json_object_object_add(o, "slack", policy_jnum(m->slack));
        json_object_object_add(o, "pressure", json_object_new_boolean(m->pressure));
    }
    return o;
}

static const char *vm_label(const struct policy_vm *vm)
{
    return vm->name ? vm->name : vm->uuid ? vm->uuid : "?";
}

static const char *host_label(const struct policy_host *h)
{
    return h->name ? h->name : "?";
}

/* The change a phase wants for one guest. */
struct want {
    const char *rule; /* guest-pressure, host-free-below-target, host-free-above-target */
    double to;        /* the new balloon size */
    char *reason;     /* the sentence of the SETMEM decision (owned) */
};

static char *would_text(struct mctx *x, const struct mvm *m, const struct want *w)
{
    return g_strdup_printf("it would have %s its balloon from %s to %s (%s)",
                           w->to > m->cur ? "grown" : "shrunk", M(x, m->cur), M(x, w->to), w->rule);
}

/*
 * Applies the guards to a wanted change of M and records the decision:
 * SETMEM when none refuses, else NONE with the refusing guard's rule.
 * Returns true when the change is planned, and sets *ret_deferred when
 * only host_actions refused it (the phase counts it as done: a later
 * round will make it).  Takes W's reason.
 */
static bool decide(struct mctx *x, struct mhost *mh, struct mvm *m, struct want *w,
                   bool *ret_deferred)
{
    const struct policy_memory_conf *c = x->c;
    const struct policy_vm *vm = m->vm;
    const int64_t last = vm->last_action_us[POLICY_MEMORY];
    const char *rule = NULL;
    g_autofree char *why = NULL;
    g_autofree char *would = would_text(x, m, w);
    json_object *in = vm_inputs(mh, vm, m);

    *ret_deferred = false;
    if (vm->busy) {
        rule = "action-in-flight";
        why = g_strdup_printf("An action on %s is still in flight: no change now; %s.",
                              vm_label(vm), would);
    } else if (vm->paused[POLICY_MEMORY]) {
        rule = "paused";
        why = g_strdup_printf("The memory policy is paused for %s (an earlier change made "
                              "things worse): no change; %s.",
                              vm_label(vm), would);
    } else if (last > 0 && x->in->now_us - last < c->vm_cooldown_us) {
        rule = "cooldown";
        double ago = (double)(x->in->now_us - last) / 1e6;
        why = g_strdup_printf("%s was acted on %.0f s ago, within the cooldown of %.0f s: no "
                              "change now; %s.",
                              vm_label(vm), ago, (double)c->vm_cooldown_us / 1e6, would);
        json_object_object_add(in, "last_action_age_s", policy_jnum(ago));
        json_object_object_add(in, "cooldown_s", policy_jnum((double)c->vm_cooldown_us / 1e6));
    } else if (mh->actions >= c->host_actions) {
        rule = "rate-limited";
        why = g_strdup_printf("Host %s already has %u memory change%s planned this round "
                              "(host_actions %u): no change for %s now; %s.",
                              host_label(mh->h), mh->actions, mh->actions == 1 ? "" : "s",
                              c->host_actions, vm_label(vm), would);
        json_object_object_add(in, "host_actions", json_object_new_int64(c->host_actions));
        *ret_deferred = true;
    }

    if (rule) {
        json_object *would_o = json_object_new_object();
        json_object_object_add(would_o, "rule", json_object_new_string(w->rule));
        json_object_object_add(would_o, "balloon", policy_jnum(w->to));
        json_object_object_add(in, "would", would_o);
        struct policy_decision *d = policy_decision_add(x->plan, POLICY_MEMORY, vm, mh->h->id, rule,
                                                        POLICY_ACT_NONE, g_steal_pointer(&why));
        policy_decision_set_json(d, in, NULL);
        g_clear_pointer(&w->reason, g_free);
        return false;
    }

    struct policy_decision *d = policy_decision_add(x->plan, POLICY_MEMORY, vm, mh->h->id, w->rule,
                                                    POLICY_ACT_SETMEM, g_steal_pointer(&w->reason));
    d->memory = (uint64_t)w->to;
    d->previous = (uint64_t)m->cur;
    json_object *ex = json_object_new_object();
    json_object_object_add(ex, "balloon", policy_jnum(w->to));
    json_object_object_add(ex, "host_free_change", policy_jnum(m->cur - w->to));
    json_object_object_add(ex, "guest_available_after", policy_jnum(m->avail + (w->to - m->cur)));
    policy_decision_set_json(d, in, ex);
    mh->actions++;
    mh->free += m->cur - w->to;
    return true;
}

/* A NONE decision about M (or the host, M NULL) that no guard is behind. */
static void refuse(struct mctx *x, struct mhost *mh, const struct policy_vm *vm,
                   const struct mvm *m, const char *rule, char *reason)
{
    json_object *in = vm ? vm_inputs(mh, vm, m) : host_inputs(mh);
    if (!vm)
        json_object_object_add(in, "host_free_planned", policy_jnum(mh->free));
    struct policy_decision *d =
        policy_decision_add(x->plan, POLICY_MEMORY, vm, mh->h->id, rule, POLICY_ACT_NONE, reason);
    policy_decision_set_json(d, in, NULL);
}

/* The host's free memory for a reason: as measured, or as the changes
 * planned before this one leave it. */
static char *free_text(struct mctx *x, const struct mhost *mh)
{
    if (mh->free == mh->h->mem_free)
        return g_strdup_printf("%s free", M(x, mh->free));
    return g_strdup_printf("%s free counting the changes planned before this one (%s measured)",
                           M(x, mh->free), M(x, mh->h->mem_free));
}

/* ---- the phases ---- */

static int cmp_pressure(gconstpointer a, gconstpointer b)
{
    const struct mvm *x = *(struct mvm *const *)a, *y = *(struct mvm *const *)b;
    /* Most pressed first: the smallest share of its memory available. */
    double fx = x->total > 0 ? x->avail / x->total : 0;
    double fy = y->total > 0 ? y->avail / y->total : 0;
    if (fx != fy)
        return fx < fy ? -1 : 1;
    return cmp_uuid(x->vm, y->vm);
}

static int cmp_slack(gconstpointer a, gconstpointer b)
{
    const struct mvm *x = *(struct mvm *const *)a, *y = *(struct mvm *const *)b;
    if (x->slack != y->slack)
        return x->slack > y->slack ? -1 : 1;
    return cmp_uuid(x->vm, y->vm);
}

static int cmp_least_slack(gconstpointer a, gconstpointer b)
{
    const struct mvm *x = *(struct mvm *const *)a, *y = *(struct mvm *const *)b;
    if (x->slack != y->slack)
        return x->slack < y->slack ? -1 : 1;
    return cmp_uuid(x->vm, y->vm);
}

/* Phase 1: a guest under pressure is given memory up to its floor (where
 * it has its margin to grow again), or one margin when it is already
 * above its floor and still pressed (swapping); at least step_min, at most
 * step_max, never past its maximum. */
static void phase_pressure(struct mctx *x, struct mhost *mh, GPtrArray *vms)
{
    const struct policy_memory_conf *c = x->c;
    const double step_max = (double)c->step_max, step_min = (double)c->step_min;
    g_autoptr(GPtrArray) p = g_ptr_array_new();
    for (guint i = 0; i < vms->len; i++) {
        struct mvm *m = g_ptr_array_index(vms, i);
        if (m->pressure)
            g_ptr_array_add(p, m);
    }
    g_ptr_array_sort(p, cmp_pressure);
    for (guint i = 0; i < p->len; i++) {
        struct mvm *m = g_ptr_array_index(p, i);
        const bool to_floor = m->floor - m->cur >= MAX(m->margin, step_min);
        const double need = MAX(MAX(m->floor - m->cur, m->margin), step_min);
        const double room = m->max - m->cur;
        double to = kib_down(m->cur + MIN(MIN(need, step_max), room));
        if (to - m->cur < step_min || to <= m->cur) {
            refuse(x, mh, m->vm, m, "at-maximum",
                   g_strdup_printf("%s is under memory pressure (%s), but its balloon of %s is "
                                   "within step_min (%s) of its maximum of %s: ballooning cannot "
                                   "help it.",
                                   vm_label(m->vm), m->pressure_why, M(x, m->cur), M(x, step_min),
                                   M(x, m->max)));
            continue;
        }
        g_autofree char *how = NULL;
        if (room <= MIN(need, step_max))
            how = g_strdup_printf("up to its maximum of %s", M(x, m->max));
        else if (step_max < need)
            how = g_strdup_printf("by step_max (%s), toward %s", M(x, step_max),
                                  to_floor ? "its floor" : "one margin more");
        else if (to_floor)
            how = g_strdup_printf("up to its floor, where its use of %s can grow by its margin "
                                  "of %s before pressure",
                                  M(x, m->used), M(x, m->margin));
        else
            how = g_strdup_printf("by one margin (%s, at least step_min): its figures leave it "
                                  "near or above its floor, yet it is pressed",
                                  M(x, need));
        g_autofree char *ft = free_text(x, mh);
        struct want w = {.rule = "guest-pressure", .to = to};
        w.reason = g_strdup_printf("%s is under memory pressure (%s): growing its balloon from %s "
                                   "to %s, %s; pressure comes first, whatever host %s's free "
                                   "memory (%s, target %s).",
                                   vm_label(m->vm), m->pressure_why, M(x, m->cur), M(x, to), how,
                                   host_label(mh->h), ft, M(x, mh->target));
        bool deferred;
        decide(x, mh, m, &w, &deferred);
    }
}

/* Phase 2: under target, guests with slack give it up, largest first. */
static void phase_reclaim(struct mctx *x, struct mhost *mh, GPtrArray *vms)
{
    const struct policy_memory_conf *c = x->c;
    const double step_max = (double)c->step_max, step_min = (double)c->step_min;
    if (mh->free >= mh->target)
        return;
    g_autoptr(GPtrArray) cand = g_ptr_array_new();
    for (guint i = 0; i < vms->len; i++) {
        struct mvm *m = g_ptr_array_index(vms, i);
        if (!m->pressure && m->slack > 0)
            g_ptr_array_add(cand, m);
    }
    if (cand->len == 0) {
        g_autofree char *ft = free_text(x, mh);
        refuse(x, mh, NULL, NULL, "no-slack",
               g_strdup_printf("Host %s has %s, under its target of %s, but no guest on it "
                               "(%u with figures) has memory above its floor (its use plus room "
                               "to grow by its margin before pressure) to give up.",
                               host_label(mh->h), ft, M(x, mh->target), vms->len));
        return;
    }
    g_ptr_array_sort(cand, cmp_slack);
    double deficit = mh->target - mh->free;
    for (guint i = 0; i < cand->len && deficit > 0; i++) {
        struct mvm *m = g_ptr_array_index(cand, i);
        const double want = MIN(MIN(step_max, m->slack), deficit);
        const double to = kib_up(m->cur - want);
        const double step = m->cur - to;
        g_autofree char *ft = free_text(x, mh);
        if (step < step_min || step <= 0) {
            /* The guests after this one have less slack still. */
            refuse(x, mh, m->vm, m, "below-step-min",
                   g_strdup_printf("Host %s has %s, %s under its target of %s, but %s (slack %s, "
                                   "the most left) could give only %s, under step_min (%s): no "
                                   "change for crumbs.",
                                   host_label(mh->h), ft, M(x, deficit), M(x, mh->target),
                                   vm_label(m->vm), M(x, m->slack), M(x, step), M(x, step_min)));
            break;
        }
        g_autofree char *how = NULL;
        if (want == m->slack)
            how = g_strdup_printf("down to its floor, where its use of %s can still grow by its "
                                  "margin of %s before pressure",
                                  M(x, m->used), M(x, m->margin));
        else if (want == step_max)
            how = g_strdup_printf("by step_max (%s; its floor is %s)", M(x, step_max),
                                  M(x, m->floor));
        else
            how = g_strdup_printf("by the %s the host still lacks (its floor is %s)", M(x, deficit),
                                  M(x, m->floor));
        struct want w = {.rule = "host-free-below-target", .to = to};
        w.reason = g_strdup_printf("Host %s has %s, %s under its target of %s: shrinking %s's "
                                   "balloon from %s to %s, %s.",
                                   host_label(mh->h), ft, M(x, deficit), M(x, mh->target),
                                   vm_label(m->vm), M(x, m->cur), M(x, to), how);
        bool deferred;
        if (decide(x, mh, m, &w, &deferred) || deferred)
            deficit -= step;
    }
}

/* Phase 3: well over target, guests below their maximum get memory back,
 * furthest below first, down to target + give_back / 2 at most. */
static void phase_give_back(struct mctx *x, struct mhost *mh, GPtrArray *vms)
{
    const struct policy_memory_conf *c = x->c;
    const double step_max = (double)c->step_max, step_min = (double)c->step_min;
    if (mh->free <= mh->target + mh->give_back)
        return;
    const double keep = mh->target + mh->give_back / 2;
    /* Only to guests held near their floor (less than two margins above
     * it), the least room first: a guest with room to spare fills what it
     * is given with cache, and the host, under its target again, would
     * take it back (bench/policy measured that churn). */
    g_autoptr(GPtrArray) cand = g_ptr_array_new();
    for (guint i = 0; i < vms->len; i++) {
        struct mvm *m = g_ptr_array_index(vms, i);
        if (!m->pressure && m->max > m->cur && m->slack < 2 * m->margin)
            g_ptr_array_add(cand, m);
    }
    g_ptr_array_sort(cand, cmp_least_slack);
    double spare = mh->free - keep;
    for (guint i = 0; i < cand->len && spare > 0; i++) {
        struct mvm *m = g_ptr_array_index(cand, i);
        const double want = MIN(MIN(step_max, m->max - m->cur), spare);
        const double to = kib_down(m->cur + want);
        const double step = to - m->cur;
        if (step < step_min || step <= 0)
            break; /* the guests after this one are closer to their maximum */
        g_autofree char *how = NULL;
        if (want == m->max - m->cur)
            how = g_strdup("up to its maximum");
        else if (want == step_max)
            how = g_strdup_printf("by step_max (%s; its maximum is %s)", M(x, step_max),
                                  M(x, m->max));
        else
            how = g_strdup_printf("by the %s the host can spare above %s (its maximum is %s)",
                                  M(x, spare), M(x, keep), M(x, m->max));
        g_autofree char *ft = free_text(x, mh);
        struct want w = {.rule = "host-free-above-target", .to = to};
        w.reason = g_strdup_printf("Host %s has %s, more than %s over its target of %s: growing "
                                   "%s's balloon (%s above its floor, less than two margins) "
                                   "from %s to %s, %s.",
                                   host_label(mh->h), ft, M(x, mh->give_back), M(x, mh->target),
                                   vm_label(m->vm), M(x, MAX(m->slack, 0)), M(x, m->cur),
                                   M(x, to), how);
        bool deferred;
        if (decide(x, mh, m, &w, &deferred) || deferred)
            spare -= step;
    }
}

/* ---- one host ---- */

static void mvm_clear(gpointer p)
{
    struct mvm *m = p;
    g_free(m->pressure_why);
    g_free(m);
}

/*
 * The figures of a running VM, or a NONE decision saying which are
 * missing (and NULL).  A guest whose reconciled total or use is absent
 * (missing or stale: reconcile leaves R absent for both) gets no decision
 * at all: its pressure and its slack would be guesses.
 */
static struct mvm *mvm_new(struct mctx *x, struct mhost *mh, const struct policy_vm *vm)
{
    const struct policy_memory_conf *c = x->c;
    if (!policy_present(vm->balloon_current) || !policy_present(vm->balloon_maximum)) {
        refuse(x, mh, vm, NULL, "no-balloon",
               g_strdup_printf("%s has no balloon (no current or maximum size from the host): "
                               "its memory cannot be changed by ballooning.",
                               vm_label(vm)));
        return NULL;
    }
    bool no_total = !policy_present(vm->mem_total.v) || vm->mem_total.v <= 0;
    bool no_used = !policy_present(vm->mem_used.v);
    if (no_total || no_used) {
        refuse(x, mh, vm, NULL, "guest-view-missing",
               g_strdup_printf("%s's reconciled memory %s %s absent (missing or stale guest "
                               "view): no memory decision without it.",
                               vm_label(vm),
                               no_total && no_used ? "total and use"
                               : no_total          ? "total"
                                                   : "use",
                               no_total && no_used ? "are" : "is"));
        return NULL;
    }
    struct mvm *m = g_new0(struct mvm, 1);
    m->vm = vm;
    m->total = vm->mem_total.v;
    m->used = vm->mem_used.v;
    m->avail = m->total - m->used;
    m->cur = vm->balloon_current;
    m->max = vm->balloon_maximum;
    m->margin = ceil(MAX((double)c->margin_bytes, c->margin_pct / 100.0 * MAX(m->used, 0)));
    /* The margin is room to grow: at its floor the guest can use margin
     * more before it counts as under pressure.  Shrinking the balloon by d
     * takes d from the guest's total, so the floor's total T satisfies
     * T - (used + margin) = p T, T = (used + margin) / (1 - p): with
     * pressure_pct 0 exactly use plus margin, never below it.  (A floor of
     * plain use plus margin would, with margin_pct <= pressure_pct, leave
     * the guest under pressure the moment it got there.) */
    const double p = c->pressure_pct / 100.0;
    m->slack = floor(m->total - (m->used + m->margin) / (1 - p));
    m->floor = m->cur - m->slack;
    g_autoptr(GString) why = g_string_new(NULL);
    m->pressure = pressure_of(c, vm, why);
    m->pressure_why = g_string_free(g_steal_pointer(&why), FALSE);
    return m;
}

static int cmp_vm_ptr(gconstpointer a, gconstpointer b)
{
    return cmp_uuid(*(const struct policy_vm *const *)a, *(const struct policy_vm *const *)b);
}

static void plan_host(struct mctx *x, const struct policy_host *h)
{
    const struct policy_memory_conf *c = x->c;
    const struct policy_input *in = x->in;
    g_autoptr(GPtrArray) running = g_ptr_array_new();
    for (size_t i = 0; i < in->n_vms; i++) {
        if (in->vms[i].host_id == h->id && in->vms[i].running)
            g_ptr_array_add(running, (gpointer)&in->vms[i]);
    }
    g_ptr_array_sort(running, cmp_vm_ptr);

    struct mhost mh = {.h = h, .target_pct = c->target_pct, .free = h->mem_free};
    bool total_known = policy_present(h->mem_total) && h->mem_total > 0;
    if (total_known) {
        mh.target = policy_present(c->target_pct) ? c->target_pct / 100.0 * h->mem_total
                                                  : (double)c->target_bytes;
        mh.give_back = c->give_back_above_pct / 100.0 * h->mem_total;
    } else {
        mh.target = mh.give_back = POLICY_ABSENT;
    }
    if (running->len == 0)
        return;
    if (!h->connected || !policy_present(h->mem_free) || !total_known) {
        const char *what = !h->connected ? "is not connected (its view is not current)"
                           : !policy_present(h->mem_free) ? "has no free-memory figure"
                                                          : "has no memory size";
        refuse(x, &mh, NULL, NULL, "host-view-missing",
               g_strdup_printf("Host %s %s: no memory decision for its %u running VM%s.",
                               host_label(h), what, running->len, running->len == 1 ? "" : "s"));
        return;
    }

    g_autoptr(GPtrArray) vms = g_ptr_array_new_with_free_func(mvm_clear);
    for (guint i = 0; i < running->len; i++) {
        struct mvm *m = mvm_new(x, &mh, g_ptr_array_index(running, i));
        if (m)
            g_ptr_array_add(vms, m);
    }
    phase_pressure(x, &mh, vms);
    phase_reclaim(x, &mh, vms);
    phase_give_back(x, &mh, vms);
}

static int cmp_host_ptr(gconstpointer a, gconstpointer b)
{
    const struct policy_host *x = *(const struct policy_host *const *)a;
    const struct policy_host *y = *(const struct policy_host *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

struct policy_plan *policy_memory_plan(const struct policy_memory_conf *c,
                                       const struct policy_input *in)
{
    struct policy_plan *plan = policy_plan_new(in->balance_rounds);
    if (c->mode == POLICY_OFF)
        return plan;
    g_autoptr(GPtrArray) scratch = g_ptr_array_new_with_free_func(g_free);
    struct mctx x = {.c = c, .in = in, .plan = plan, .scratch = scratch};
    g_autoptr(GPtrArray) hosts = g_ptr_array_new();
    for (size_t i = 0; i < in->n_hosts; i++)
        g_ptr_array_add(hosts, (gpointer)&in->hosts[i]);
    g_ptr_array_sort(hosts, cmp_host_ptr);
    for (guint i = 0; i < hosts->len; i++)
        plan_host(&x, g_ptr_array_index(hosts, i));
    return plan;
}

/* ---- observing a done change ---- */

enum policy_verdict policy_memory_observe(const struct policy_memory_conf *c,
                                          const struct policy_decision *d,
                                          const struct policy_vm *vm, char **ret_observed)
{
    const double total = vm->mem_total.v, used = vm->mem_used.v;
    const double avail =
        policy_present(total) && policy_present(used) ? total - used : POLICY_ABSENT;
    bool pressure = pressure_of(c, vm, NULL);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "balloon", policy_jnum(vm->balloon_current));
    json_object_object_add(o, "available", policy_jnum(avail));
    json_object_object_add(o, "swap_in", policy_jnum(vm->mem_swap_in.v));
    json_object_object_add(o, "pressure", json_object_new_boolean(pressure));
    if (ret_observed)
        *ret_observed = policy_json_text(o);
    json_object_put(o);

    if (d->action != POLICY_ACT_SETMEM || !policy_present(vm->balloon_current))
        return POLICY_NO_EFFECT;
    /* Still where it was (within half a step_min, and within half the
     * change asked for): the change did not happen, so it cannot have
     * made anything worse either. */
    const double asked = fabs((double)d->memory - (double)d->previous);
    const double tol = MIN((double)c->step_min, asked) / 2;
    if (fabs(vm->balloon_current - (double)d->previous) <= tol)
        return POLICY_NO_EFFECT;
    /* A shrink is only planned for a guest not under pressure, so pressure
     * now is pressure it was not under. */
    if (d->memory < d->previous && pressure)
        return POLICY_WORSE;
    return POLICY_OK;
}
