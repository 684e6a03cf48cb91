/*
 * The round's stage of the autonomic policies (docs/policies.md): monitor
 * (the latest reconciled view, as the reconciliation stage just left it)
 * -> analyse and plan (src/policy/, pure) -> execute (engine_action, as
 * actor "policy:NAME", on the policies' workers, never under e->lock).
 *
 * Per round of a host: the memory policy plans for that host's VMs, the
 * done actions of earlier rounds are observed, and — at most once per
 * collection interval, over the whole fleet — balancing and maintenance
 * evacuation are planned.  Decisions are recorded after the round is
 * written (engine_policy_after_round), then their actions are queued.
 *
 * Runs under e->lock; the policy state (struct engine_policy) is guarded by
 * it too, except its workers' queue.
 */
#include "config.h"

#include "engine/policy-private.h"

#include "basic/util.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

/* ---- state ---- */

void engine_policy_vm_free(gpointer p)
{
    struct vm_pstate *s = p;
    for (int k = 0; k < POLICY_N; k++)
        policy_decision_free(s->observe[k]);
    g_free(s->uuid);
    g_free(s);
}

struct vm_pstate *engine_policy_vm(struct engine_policy *p, const char *uuid)
{
    struct vm_pstate *s = g_hash_table_lookup(p->vms, uuid);
    if (!s) {
        s = g_new0(struct vm_pstate, 1);
        s->uuid = g_strdup(uuid);
        g_hash_table_insert(p->vms, s->uuid, s);
    }
    return s;
}

void pdec_free(struct pdec *d)
{
    if (!d)
        return;
    policy_decision_free(d->d);
    g_free(d->params);
    g_free(d->observed);
    g_free(d->to_host);
    g_free(d->host);
    g_free(d);
}

/* ---- input ---- */

static struct policy_fig fig(const struct reconcile_result *res, enum reconcile_resource r,
                             double scale)
{
    struct policy_fig f = {.v = POLICY_ABSENT, .provenance = NULL, .age_us = -1};
    if (!res)
        return f;
    const struct reconcile_value *v = &res->values[r];
    if (!reconcile_present(v->r))
        return f;
    f.v = v->r * scale;
    f.provenance = v->provenance;
    bool guest = v->provenance && g_str_has_prefix(v->provenance, "guest");
    f.age_us = guest ? v->g_age_us : v->h_age_us;
    return f;
}

static double present_u64(uint64_t v)
{
    return v == SAMPLE_ABSENT ? POLICY_ABSENT : (double)v;
}

static bool finding_open(const struct reconcile_result *res, enum reconcile_rule rule)
{
    if (!res)
        return false;
    for (guint i = 0; i < res->findings->len; i++) {
        const struct reconcile_finding *f = g_ptr_array_index(res->findings, i);
        if (f->rule == rule && (f->state == RECONCILE_OPEN || f->state == RECONCILE_CLOSING))
            return true;
    }
    return false;
}

void engine_policy_host_input(struct engine *e, struct ehost *h, struct policy_host *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->id = h->id;
    ret->name = h->name;
    ret->connected = h->state == HOST_CONNECTED;
    ret->maintenance = h->maintenance;
    ret->cpus = h->cpus > 0 ? h->cpus : POLICY_ABSENT;
    ret->mem_total = POLICY_ABSENT;
    ret->mem_free = POLICY_ABSENT;
    ret->mem_age_us = -1;
    if (h->have_node && h->node.mem_total != SAMPLE_ABSENT && h->node.mem_free != SAMPLE_ABSENT) {
        ret->mem_total = (double)h->node.mem_total;
        double free = (double)h->node.mem_free;
        if (h->node.mem_buffers != SAMPLE_ABSENT)
            free += (double)h->node.mem_buffers;
        if (h->node.mem_cached != SAMPLE_ABSENT)
            free += (double)h->node.mem_cached;
        ret->mem_free = free;
        ret->mem_age_us = MAX(0, now_usec() - h->node.time_us);
    }
}

/* What the policies remember of the VM, and what kanri.conf says of it. */
static void vm_guards(struct engine *e, const char *uuid, const char *name, struct policy_vm *ret)
{
    struct engine_policy *p = e->policy;
    const char *key = name ? name : "";
    ret->priority = GPOINTER_TO_INT(g_hash_table_lookup(p->priority, key));
    ret->affinity = g_hash_table_lookup(p->affinity, key);
    ret->anti_affinity = g_hash_table_lookup(p->anti_affinity, key);
    struct vm_pstate *s = g_hash_table_lookup(p->vms, uuid);
    if (s) {
        for (int k = 0; k < POLICY_N; k++) {
            ret->last_action_us[k] = s->last_action_us[k];
            ret->paused[k] = s->paused[k];
        }
        /* A done action waiting to be judged counts as in flight: nothing
         * else is done to the VM before its effect is seen. */
        ret->busy = s->busy || s->observe[POLICY_MEMORY] || s->observe[POLICY_BALANCE];
    }
}

/* A VM the inventory says runs on H but no round of H has shown yet (just
 * started, or the host just connected): running there, figures unknown. */
static void vm_known_only(struct engine *e, struct ehost *h, const struct inv_dom *d,
                          struct policy_vm *ret)
{
    const struct policy_fig none = {.v = POLICY_ABSENT, .provenance = NULL, .age_us = -1};
    memset(ret, 0, sizeof(*ret));
    ret->uuid = d->uuid;
    ret->name = d->name ? d->name : d->uuid;
    ret->host_id = h->id;
    ret->running = true;
    ret->mem_total = ret->mem_used = ret->mem_swap_in = ret->cpu_demand = none;
    ret->balloon_current = ret->balloon_maximum = ret->dirty_rate = POLICY_ABSENT;
    vm_guards(e, d->uuid, d->name, ret);
}

void engine_policy_vm_input(struct engine *e, struct item *it, struct policy_vm *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->uuid = it->uuid;
    ret->name = it->name ? it->name : it->uuid;
    ret->host_id = it->host_id;
    ret->running = it->active;
    const struct reconcile_result *res = it->result;
    ret->mem_total = fig(res, RC_MEM_TOTAL, 1);
    ret->mem_used = fig(res, RC_MEM_USED, 1);
    ret->mem_swap_in = fig(res, RC_MEM_SWAP, 1);
    double vcpus = it->have_host[0] ? present_u64(it->host[0].vcpu_count) : POLICY_ABSENT;
    ret->cpu_demand = fig(res, RC_CPU_DEMAND, policy_present(vcpus) ? vcpus / 100.0 : NAN);
    if (!policy_present(ret->cpu_demand.v))
        ret->cpu_demand.provenance = NULL;
    ret->balloon_swapping = finding_open(res, RR_BALLOON_SWAPPING);
    ret->balloon_current = POLICY_ABSENT;
    ret->balloon_maximum = POLICY_ABSENT;
    if (it->have_host[0]) {
        ret->balloon_current = present_u64(it->host[0].balloon_current);
        ret->balloon_maximum = present_u64(it->host[0].balloon_maximum);
    }
    ret->dirty_rate = POLICY_ABSENT;
    vm_guards(e, it->uuid, it->name, ret);
}

/* ---- recording ---- */

/* Guards that hold a decision back for a while are not worth a row each
 * round: the decision that follows is. */
static bool quiet_rule(const char *rule)
{
    return g_strcmp0(rule, "cooldown") == 0 || g_strcmp0(rule, "action-in-flight") == 0;
}

/* The subject of a decision, for telling a repeat from news. */
static char *subject(const struct policy_decision *d)
{
    const char *kind = d->evacuation ? "maintenance" : policy_kind_name(d->policy);
    if (d->vm_uuid)
        return g_strconcat(kind, ":", d->vm_uuid, NULL);
    return g_strdup_printf("%s:host:%" G_GINT64_FORMAT, kind, d->host_id);
}

static const char *host_name(struct engine *e, int64_t id)
{
    struct ehost *h = engine_host_find(e, id);
    return h ? h->name : NULL;
}

/* Takes D (moved) into the round's batch to record, and marks what an
 * executed action needs marked.  Under e->lock. */
static void take(struct engine *e, struct round_batch *b, struct policy_decision *d,
                 enum policy_mode mode)
{
    struct engine_policy *p = e->policy;
    g_autofree char *subj = subject(d);
    if (d->action == POLICY_ACT_NONE) {
        const char *last = g_hash_table_lookup(p->last_rule, subj);
        if (quiet_rule(d->rule) || g_strcmp0(last, d->rule) == 0) {
            policy_decision_free(d);
            return;
        }
    }
    g_hash_table_replace(p->last_rule, g_steal_pointer(&subj),
                         g_strdup(d->action == POLICY_ACT_NONE ? d->rule : "(action)"));
    struct pdec *pd = g_new0(struct pdec, 1);
    pd->d = d;
    pd->t_us = b->now_us;
    pd->mode = mode;
    pd->host = g_strdup(host_name(e, d->host_id));
    if (d->action == POLICY_ACT_MIGRATE)
        pd->to_host = g_strdup(host_name(e, d->to_host_id));
    if (d->action == POLICY_ACT_SETMEM)
        pd->params = g_strdup_printf("{\"memory_bytes\": %" G_GUINT64_FORMAT
                                     ", \"previous_bytes\": %" G_GUINT64_FORMAT "}",
                                     d->memory, d->previous);
    else if (d->action == POLICY_ACT_MIGRATE && pd->to_host)
        pd->params = engine_policy_to_host_params(pd->to_host);
    if (d->action != POLICY_ACT_NONE && d->vm_uuid) {
        struct vm_pstate *s = engine_policy_vm(p, d->vm_uuid);
        /* A recommendation counts for the cooldown as an action would:
         * recommend mode records the decision enforce mode would take, as
         * often. */
        s->last_action_us[d->policy] = b->now_us;
        /* (A destination that left the fleet since the plan: not run.) */
        if (mode == POLICY_ENFORCE && (d->action != POLICY_ACT_MIGRATE || pd->to_host)) {
            s->busy = true;
            pd->execute = pd->marked = true;
            if (d->action == POLICY_ACT_MIGRATE)
                p->migrations_in_flight++;
        }
    }
    g_ptr_array_add(b->decisions, pd);
}

/* ---- observing what was done ---- */

static void observe_memory(struct engine *e, struct ehost *h, GPtrArray *round_items,
                           struct round_batch *b)
{
    struct engine_policy *p = e->policy;
    for (guint i = 0; i < round_items->len; i++) {
        struct item *it = g_ptr_array_index(round_items, i);
        struct vm_pstate *s = g_hash_table_lookup(p->vms, it->uuid);
        if (!s || !s->observe[POLICY_MEMORY] || b->now_us < s->observe_after_us[POLICY_MEMORY])
            continue;
        struct policy_decision *d = g_steal_pointer(&s->observe[POLICY_MEMORY]);
        struct policy_vm vm;
        engine_policy_vm_input(e, it, &vm);
        g_autofree char *observed = NULL;
        enum policy_verdict v = policy_memory_observe(&p->set.memory, d, &vm, &observed);
        if (v == POLICY_NO_EFFECT && b->now_us < s->observe_until_us[POLICY_MEMORY]) {
            /* A balloon moves at the guest's pace: not yet is not never. */
            s->observe[POLICY_MEMORY] = d;
            continue;
        }
        struct pdec *obs = g_new0(struct pdec, 1);
        obs->observe_id = s->observe_id[POLICY_MEMORY];
        obs->observed = g_steal_pointer(&observed);
        obs->verdict = v;
        obs->t_us = b->now_us;
        g_ptr_array_add(b->decisions, obs);
        if (v == POLICY_WORSE) {
            /* Undone, and the policy paused for this VM until a person
             * resumes it. */
            struct policy_decision *u = g_new0(struct policy_decision, 1);
            u->policy = POLICY_MEMORY;
            u->vm_uuid = g_strdup(d->vm_uuid);
            u->vm_name = g_strdup(d->vm_name);
            u->host_id = h->id;
            u->rule = g_strdup("undo");
            u->action = POLICY_ACT_SETMEM;
            u->memory = d->previous;
            u->previous = d->memory;
            u->inputs = g_strdup(obs->observed);
            u->reason = g_strdup_printf("undoing decision %" G_GINT64_FORMAT
                                        ": the balloon at %" G_GUINT64_FORMAT
                                        " MiB left the guest under pressure",
                                        obs->observe_id, d->memory >> 20);
            s->paused[POLICY_MEMORY] = true;
            struct pdec *pd = g_new0(struct pdec, 1);
            pd->d = u;
            pd->t_us = b->now_us;
            pd->mode = POLICY_ENFORCE;
            pd->host = g_strdup(h->name);
            pd->params = g_strdup_printf("{\"memory_bytes\": %" G_GUINT64_FORMAT
                                         ", \"previous_bytes\": %" G_GUINT64_FORMAT "}",
                                         u->memory, u->previous);
            pd->execute = pd->marked = true;
            pd->undo_of = obs->observe_id;
            pd->pause = true;
            s->busy = true;
            g_ptr_array_add(b->decisions, pd);
        }
        policy_decision_free(d);
    }
}

/* ---- the fleet-wide half: balancing and evacuation ---- */

static int vm_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(((const struct policy_vm *)a)->uuid, ((const struct policy_vm *)b)->uuid);
}

void engine_policy_fleet_input(struct engine *e, GArray *hosts, GArray *vms)
{
    /* Container hosts are neither a source nor a target: a container is
     * not migrated, and a VM cannot run there.  Nor are hosts another
     * instance holds (docs/scale-out.md): what is known of them here is
     * not current. */
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (ehost_containers(h) || !h->held)
            continue;
        struct policy_host ph;
        engine_policy_host_input(e, h, &ph);
        g_array_append_val(hosts, ph);
    }
    /* Every VM the inventory says is running, with the figures of its
     * host's latest round when there was one: a host that just connected
     * has VMs to evacuate before its first round. */
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (ehost_containers(h) || !h->held)
            continue;
        GHashTableIter iter;
        gpointer k, v;
        g_hash_table_iter_init(&iter, h->inv);
        while (g_hash_table_iter_next(&iter, &k, &v)) {
            const struct inv_dom *d = v;
            if (d->removed || g_strcmp0(d->state, "running") != 0)
                continue;
            struct item *it = g_hash_table_lookup(e->items, d->uuid);
            struct policy_vm pv;
            if (it && it->active && it->host_id == h->id)
                engine_policy_vm_input(e, it, &pv);
            else
                vm_known_only(e, h, d, &pv);
            g_array_append_val(vms, pv);
        }
    }
    /* The planner's order must not depend on a hash table's. */
    g_array_sort(vms, vm_cmp);
}


static void observe_balance(struct engine *e, const struct policy_input *in, struct round_batch *b)
{
    struct engine_policy *p = e->policy;
    GHashTableIter iter;
    gpointer k, v;
    g_hash_table_iter_init(&iter, p->vms);
    while (g_hash_table_iter_next(&iter, &k, &v)) {
        struct vm_pstate *s = v;
        if (!s->observe[POLICY_BALANCE] || b->now_us < s->observe_after_us[POLICY_BALANCE])
            continue;
        struct policy_decision *d = g_steal_pointer(&s->observe[POLICY_BALANCE]);
        g_autofree char *observed = NULL;
        enum policy_verdict verdict = policy_balance_observe(&p->set.balance, d, in, &observed);
        struct pdec *obs = g_new0(struct pdec, 1);
        obs->observe_id = s->observe_id[POLICY_BALANCE];
        obs->observed = g_steal_pointer(&observed);
        obs->verdict = verdict;
        obs->t_us = b->now_us;
        g_ptr_array_add(b->decisions, obs);
        if (verdict == POLICY_WORSE) {
            struct policy_decision *u = g_new0(struct policy_decision, 1);
            u->policy = POLICY_BALANCE;
            u->vm_uuid = g_strdup(d->vm_uuid);
            u->vm_name = g_strdup(d->vm_name);
            u->host_id = d->to_host_id;
            u->to_host_id = d->host_id;
            u->rule = g_strdup("undo");
            u->action = POLICY_ACT_MIGRATE;
            u->inputs = g_strdup(obs->observed);
            u->reason = g_strdup_printf("undoing decision %" G_GINT64_FORMAT
                                        ": the spread between hosts grew after the move",
                                        obs->observe_id);
            s->paused[POLICY_BALANCE] = true;
            struct pdec *pd = g_new0(struct pdec, 1);
            pd->d = u;
            pd->t_us = b->now_us;
            pd->mode = POLICY_ENFORCE;
            pd->host = g_strdup(host_name(e, u->host_id));
            pd->to_host = g_strdup(host_name(e, u->to_host_id));
            pd->params = pd->to_host ? engine_policy_to_host_params(pd->to_host) : NULL;
            pd->execute = pd->marked = pd->to_host != NULL;
            pd->undo_of = obs->observe_id;
            pd->pause = true;
            s->busy = pd->execute;
            if (pd->execute)
                p->migrations_in_flight++;
            g_ptr_array_add(b->decisions, pd);
        }
        policy_decision_free(d);
    }
}

static void fleet(struct engine *e, struct round_batch *b)
{
    struct engine_policy *p = e->policy;
    g_autoptr(GArray) hosts = g_array_new(FALSE, TRUE, sizeof(struct policy_host));
    g_autoptr(GArray) vms = g_array_new(FALSE, TRUE, sizeof(struct policy_vm));
    engine_policy_fleet_input(e, hosts, vms);
    struct policy_input in = {
        .now_us = b->now_us,
        .hosts = (const struct policy_host *)hosts->data,
        .n_hosts = hosts->len,
        .vms = (const struct policy_vm *)vms->data,
        .n_vms = vms->len,
        .migrations_in_flight = p->migrations_in_flight,
        .balance_rounds = p->balance_rounds,
    };
    observe_balance(e, &in, b);
    g_autoptr(policy_plan) plan = policy_balance_plan(&p->set.balance, &in);
    p->balance_rounds = plan->balance_rounds;
    for (guint i = 0; i < plan->decisions->len; i++) {
        struct policy_decision *d = g_ptr_array_index(plan->decisions, i);
        plan->decisions->pdata[i] = NULL;
        /* An evacuation is an operator's order: it runs whatever the
         * balancing mode says. */
        enum policy_mode mode = d->evacuation ? POLICY_ENFORCE : p->set.balance.mode;
        take(e, b, d, mode);
    }
}

/* ---- the stage ---- */

void stage_policy(struct engine *e, struct ehost *h, GPtrArray *round_items,
                  struct round_batch *b)
{
    struct engine_policy *p = e->policy;
    if (!p || !p->set.enabled || e->stopping)
        return;
    observe_memory(e, h, round_items, b);
    /* A host still loading its inventory is not known well enough to
     * judge; its next rounds are. */
    /* Containers have no balloon: their memory is a limit, set by people. */
    if (p->set.memory.mode != POLICY_OFF && h->state == HOST_CONNECTED && !ehost_containers(h)) {
        struct policy_host ph;
        engine_policy_host_input(e, h, &ph);
        g_autoptr(GArray) vms = g_array_new(FALSE, TRUE, sizeof(struct policy_vm));
        for (guint i = 0; i < round_items->len; i++) {
            struct policy_vm pv;
            engine_policy_vm_input(e, g_ptr_array_index(round_items, i), &pv);
            g_array_append_val(vms, pv);
        }
        g_array_sort(vms, vm_cmp);
        struct policy_input in = {.now_us = b->now_us,
                                  .hosts = &ph,
                                  .n_hosts = 1,
                                  .vms = (const struct policy_vm *)vms->data,
                                  .n_vms = vms->len};
        g_autoptr(policy_plan) plan = policy_memory_plan(&p->set.memory, &in);
        for (guint i = 0; i < plan->decisions->len; i++) {
            struct policy_decision *d = g_ptr_array_index(plan->decisions, i);
            plan->decisions->pdata[i] = NULL;
            take(e, b, d, p->set.memory.mode);
        }
    }
    /* Balancing looks at every host: once per collection interval is
     * what its figures change by. */
    int64_t every = (int64_t)e->conf.interval_s * USEC_PER_SEC;
    if (b->now_us - p->fleet_last_us >= every - every / 10) {
        p->fleet_last_us = b->now_us;
        fleet(e, b);
    }
}
