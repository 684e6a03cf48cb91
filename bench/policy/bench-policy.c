/*
 * bench-policy: the memory and balance policies (src/policy/) on a simulated
 * fleet, run four times on the same workload: with the policies off, and in
 * enforce mode fed kanri's reconciled view, the guest's view alone and the
 * host's view alone.  It links the pure policy library only: the decisions are
 * those of the real policy_memory_plan() and policy_balance_plan(), the
 * physics around them is this file's.
 *
 *     ninja -C build && build/bench/policy/bench-policy [--hosts 4] [--vms 48]
 *         [--rounds 600] [--seed 1] [--seeds 1] [--host-gib 64]
 *
 * (bench/policy/run.sh runs the default and the sums over 20 seeds.)  A
 * benchmark, not a test: it prints figures and ratios and always exits 0.
 * Everything but the wall time per plan call is the same on every run with the
 * same options.
 *
 * The fleet.  H hosts of 8 cores and 64 GiB (--host-gib) and N VMs, drawn from
 * a fixed seed with a PRNG of our own (splitmix64).  Each VM has a balloon
 * maximum of 2, 3, 4, 6 or 8 GiB (the larger sizes more likely: memory is
 * tight, the maxima add up to 84-104 % of the fleet's memory over seeds 1-20,
 * 86 % on seed 1), 1 to 3 vCPUs and one of four behaviours: idle (a small
 * working set of 0.25-0.6 GiB, 0.03-0.15 cores), steady (a working set of
 * 35-55 % of its maximum, 30-60 % of its vCPUs busy), growing (a working set
 * climbing from 25 % to 95 % of its maximum over 150-300 rounds, then starting
 * again, as a heap or a batch job does; 0.3-0.7 cores) and bursty (20-30 % of
 * its maximum and nearly idle, with bursts of 6-24 rounds, one every 30 rounds
 * or so, ramping over 3 rounds to 60-85 % of its maximum and 80-100 % of its
 * vCPUs: demand that flaps).  The working set u(t) and CPU demand d(t) of
 * every VM for every round are drawn before the first run, so all four runs
 * see the same workload.  Most VMs start at their maximum; three in ten were
 * set to 50-75 % of it by hand once.  Placement is uneven: the busy VMs first,
 * nine in ten on the first two hosts, then the others, half of them there too,
 * each passed on to the next host when its balloons would fill more than 97 %
 * of the one chosen.  The first two hosts get most of the CPU demand (5-10
 * cores each on average, more in bursts, against 0.5-4.5 on the others) and
 * nearly full balloons, and on most seeds start under the free-memory target;
 * the header of the output shows each host as placed.
 *
 * Guest physics, each round of 10 s.  A guest uses what its balloon leaves as
 * page cache c(t): the cache grows by 4-16 MiB a round on an idle VM and
 * 32-128 MiB on the others, up to the balloon less the working set less what
 * the guest keeps free (max(64 MiB, 3 %)).  A balloon or a working set that
 * needs the room takes it from the cache first; a balloon below the working
 * set makes the guest swap (swap-in at a tenth of the missing working set per
 * second) and the round counts as a guest-pressure round. What backs the guest
 * on its host (its RSS) is min(balloon, u + c).
 *
 * Host physics.  Host free memory is its memory less what backs its guests; a
 * host whose guests need more than it has is counted as overcommitted (it
 * would swap).  When the CPU demand of a host's VMs exceeds its cores, each VM
 * runs cores / demand of its demand and the rest is vCPU wait (contention),
 * counted in core-seconds.
 *
 * What each strategy tells the policies (struct policy_vm; balloon current and
 * maximum, the host's memory, cores and free memory are the same true figures
 * in all three, age 0):
 *   - kanri, the reconciled view: total = the balloon, use = the working set
 *     (cache excluded), swap-in as the guest sees it, CPU demand = run + wait
 *     (the true demand).
 *   - guest-only: use = working set + cache (what a guest calls used), the
 *     same swap-in, CPU demand = what it ran only (its clock stops while it
 *     waits: no steal under emulation).
 *   - host-only: use = the guest's RSS (cache and use look the same), no
 *     swap-in figure (NaN), CPU demand = run + wait (the host sees the wait).
 *   - off: both policies off; nothing is decided.
 * A guest never reports more use than its total: use is capped at the balloon
 * (the swapped rest shows in the swap-in rate).
 *
 * The loop, as the engine runs it (src/engine/stage-policy.c): every round the
 * memory plan is called once per host with that host's VMs, then the balance
 * plan once over the fleet; the actions decided (set-memory, migrate) take
 * effect at the start of the next round.  The configuration is the default
 * (docs/policies.md) but for enforce mode and a host_free_target of 15 % (9.6
 * GiB of 64), which a crowded host misses at the start on most seeds; the
 * balance policy's vm_cooldown stays at its default of 10 minutes, 60 rounds,
 * small against the run's 600.  The guards are the real ones, fed as the
 * engine feeds them: last_action_us is the round of the VM's last decided
 * action per policy (cooldowns), busy is false (an action is done by the next
 * round), paused is false, migrations in flight are 0 and balance_rounds is
 * handed back.  Not modelled: undo and pause after a "worse" verdict (the
 * verdicts of policy_memory_observe() one round after each set-memory are
 * counted, column "worse", not acted on), the copy time of a migration (a move
 * is done by the next round; the GiB copied, the moved VM's RSS, is counted),
 * dirty rates (NaN, as the engine passes them), maintenance, affinity, and the
 * host's own memory.
 *
 * Columns: vCPU wait (core-s); host-rounds under the free-memory target and by
 * how much (GiB x rounds); host-rounds overcommitted; GiB reclaimed (the sum
 * of balloon shrinks done) and given back (grows); guest-pressure VM-rounds
 * (swapping); set-memory actions done and how many observe judged worse;
 * migrations and GiB copied; wait and pressure against off and against kanri.
 * Then the set-memory decisions by rule, how many of the reclaims took memory
 * from a VM that had been given memory back less than 100 rounds before
 * (churn), the rounds in which a host's demand exceeded its cores and how many
 * of them the balance plan did not find the hosts out of balance, and the wall
 * time per plan call (a side figure: a plan that writes more decisions, with
 * their reasons and inputs, takes longer).  With --seeds N the table is the
 * sums over N seeds and a last line says on how many seeds each other strategy
 * had less wait, fewer pressure rounds and fewer under-target rounds than
 * kanri.
 *
 * What it shows: docs/policies.md, "Benchmark", has the output and reads
 * it (the figures change with the policies; they are not repeated here).
 */
#include "config.h"

#include "policy/policy.h"

#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB        (1024.0 * 1024.0)
#define GIB        (1024.0 * MIB)
#define ROUND_S    10.0
#define ROUND_US   ((int64_t)(ROUND_S * 1e6))
#define T0_US      ((int64_t)1000 * 1000000) /* the clock at round 0: not 0, "never" */
#define HOST_CORES 8.0
#define TARGET_PCT 15.0
#define PLACE_FILL 0.97 /* a host takes VMs while their balloons fill at most this share */
#define RETAKE     100  /* rounds: a reclaim this soon after a give-back is churn */
#define SWAP_TOUCH 0.1  /* share of the missing working set swapped in per second */

static double host_mem = 64.0 * GIB; /* --host-gib */

/* ---- a PRNG of our own (splitmix64): the same figures on every libc ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static double rng_range(double lo, double hi)
{
    return lo + (hi - lo) * rng_unit();
}

static int rng_int(int lo, int hi) /* inclusive */
{
    return lo + (int)(rng_unit() * (hi - lo + 1));
}

/* ---- the workload: the same for every strategy ---- */

enum vm_class { CL_IDLE, CL_STEADY, CL_GROWING, CL_BURSTY, CL_N };
static const char *const class_names[CL_N] = {"idle", "steady", "growing", "bursty"};

struct vm_spec {
    char uuid[40], name[16];
    enum vm_class cls;
    double max;      /* balloon maximum, bytes */
    double balloon0; /* balloon at round 0 */
    double vcpus;
    double fill;   /* guest page cache growth, bytes per round */
    double cache0; /* share of its room the cache fills at round 0 */
    int host0;     /* host index at round 0 */
    double *u, *d; /* per round: working set (bytes), CPU demand (cores) */
};

struct fleet {
    int n_hosts, n_vms, rounds;
    struct vm_spec *vms;
};

/* The memory a guest keeps free (its low watermarks): what page cache
 * never takes. */
static double kept_free(double balloon)
{
    return MAX(64 * MIB, 0.03 * balloon);
}

static void fleet_make(struct fleet *f, uint64_t seed)
{
    rng_state = seed;
    f->vms = g_new0(struct vm_spec, f->n_vms);
    static const double sizes[] = {2, 3, 4, 6, 8};
    static const double weights[] = {0.15, 0.15, 0.25, 0.25, 0.20};
    double *fill = g_new0(double, f->n_hosts);
    int crowded = 0;
    for (int i = 0; i < f->n_vms; i++) {
        struct vm_spec *v = &f->vms[i];
        snprintf(v->uuid, sizeof(v->uuid), "00000000-0000-4000-8000-%012d", i + 1);
        snprintf(v->name, sizeof(v->name), "vm%02d", i + 1);
        double r = rng_unit();
        v->cls = r < 0.40 ? CL_IDLE : r < 0.60 ? CL_STEADY : r < 0.75 ? CL_GROWING : CL_BURSTY;
        r = rng_unit();
        double acc = 0;
        v->max = sizes[G_N_ELEMENTS(sizes) - 1] * GIB;
        for (size_t k = 0; k < G_N_ELEMENTS(sizes); k++) {
            acc += weights[k];
            if (r < acc) {
                v->max = sizes[k] * GIB;
                break;
            }
        }
        /* Most start at their maximum; some were set lower by hand once. */
        v->balloon0 = rng_unit() < 0.7 ? v->max : floor(rng_range(0.5, 0.75) * v->max / MIB) * MIB;
        v->vcpus = v->cls == CL_IDLE || v->cls == CL_GROWING ? rng_int(1, 2) : rng_int(1, 3);
        v->fill = v->cls == CL_IDLE ? rng_range(4, 16) * MIB : rng_range(32, 128) * MIB;
        v->cache0 = v->cls == CL_IDLE ? rng_range(0.6, 1.0) : rng_range(0.8, 1.0);

        v->u = g_new0(double, f->rounds);
        v->d = g_new0(double, f->rounds);
        double u0 = 0, d0 = 0, period = 0, phase = 0;
        switch (v->cls) {
        case CL_IDLE:
            u0 = MIN(rng_range(0.25, 0.6) * GIB, 0.5 * v->max);
            d0 = rng_range(0.03, 0.15);
            break;
        case CL_STEADY:
            u0 = rng_range(0.35, 0.55) * v->max;
            d0 = rng_range(0.3, 0.6) * v->vcpus;
            break;
        case CL_GROWING:
            period = rng_int(150, 300);
            phase = rng_int(0, (int)period - 1);
            d0 = rng_range(0.3, 0.7);
            break;
        case CL_BURSTY:
            u0 = rng_range(0.2, 0.3) * v->max;
            break;
        case CL_N:
            break;
        }
        /* Bursts: a state machine, ramping up and down over 3 rounds. */
        int burst_left = 0, burst_len = 0;
        double peak = 0, burst_d = 0, level = 0;
        for (int t = 0; t < f->rounds; t++) {
            double u = 0, d = 0;
            switch (v->cls) {
            case CL_IDLE:
                u = u0 * (1 + 0.05 * rng_range(-1, 1));
                d = d0 * rng_range(0.7, 1.3);
                break;
            case CL_STEADY:
                u = u0 * (1 + 0.03 * rng_range(-1, 1));
                d = d0 * rng_range(0.85, 1.15);
                break;
            case CL_GROWING:
                /* A heap or a batch job: grows from 25 % to 95 % of the
                 * maximum over its period, then starts again. */
                u = v->max * (0.25 + 0.70 * fmod(t + phase, period) / period);
                d = d0 * rng_range(0.8, 1.2);
                break;
            case CL_BURSTY:
                if (burst_left == 0 && rng_unit() < 1.0 / 30) {
                    burst_len = burst_left = rng_int(6, 24);
                    peak = rng_range(0.6, 0.85) * v->max;
                    burst_d = rng_range(0.8, 1.0) * v->vcpus;
                }
                if (burst_left > 0) {
                    int in = burst_len - burst_left + 1; /* rounds into it */
                    level = MIN(1.0, MIN(in, burst_left) / 3.0);
                    burst_left--;
                } else {
                    level = 0;
                }
                u = u0 + level * (peak - u0);
                d = level > 0 ? burst_d * level : rng_range(0.05, 0.2);
                break;
            case CL_N:
                break;
            }
            v->u[t] = floor(u);
            v->d[t] = MIN(d, v->vcpus);
        }
    }

    /* Uneven placement: the busy VMs first, nearly all on the first two
     * hosts, then the others, half of them there too; a host whose
     * balloons would fill more than PLACE_FILL of it passes the VM on. */
    static const enum vm_class order[] = {CL_STEADY, CL_BURSTY, CL_GROWING, CL_IDLE};
    for (size_t o = 0; o < G_N_ELEMENTS(order); o++) {
        for (int i = 0; i < f->n_vms; i++) {
            struct vm_spec *v = &f->vms[i];
            if (v->cls != order[o])
                continue;
            bool busy = v->cls == CL_STEADY || v->cls == CL_BURSTY;
            int h = rng_unit() < (busy ? 0.9 : 0.5) || f->n_hosts <= 2 ? crowded++ % 2
                                                                       : rng_int(2, f->n_hosts - 1);
            for (int k = 0; k < f->n_hosts; k++) {
                int c = (h + k) % f->n_hosts;
                if (fill[c] + v->balloon0 <= PLACE_FILL * host_mem || k == f->n_hosts - 1) {
                    h = c;
                    break;
                }
            }
            fill[h] += v->balloon0;
            v->host0 = h;
        }
    }
    g_free(fill);
}

static void fleet_clear(struct fleet *f)
{
    for (int i = 0; i < f->n_vms; i++) {
        g_free(f->vms[i].u);
        g_free(f->vms[i].d);
    }
    g_free(f->vms);
}

/* ---- one strategy's run ---- */

enum strategy { ST_OFF, ST_KANRI, ST_GUEST, ST_HOST, ST_N };
static const char *const strategy_names[ST_N] = {"off", "kanri", "guest-only", "host-only"};

struct result {
    double wait_cs;         /* vCPU wait, core-seconds */
    unsigned under_target;  /* host-rounds under the free-memory target */
    double short_gr;        /* by how much: bytes x rounds */
    unsigned overcommit;    /* host-rounds with more backing than memory */
    double reclaimed;       /* bytes: sum of balloon shrinks done */
    double given_back;      /* bytes: sum of balloon grows done */
    unsigned pressure;      /* VM-rounds with the balloon under the working set */
    unsigned setmem, worse; /* balloon changes done; judged worse by observe */
    unsigned by_rule[3];    /* set-memory decisions: pressure, below target, above target */
    unsigned retaken;       /* reclaims of a VM given memory back in the last RETAKE rounds */
    unsigned overloaded;    /* rounds with a host's demand over its cores */
    unsigned unseen;        /* of which the balance plan found no imbalance */
    unsigned migrations;    /* moves done */
    double copied;          /* bytes: the moved VMs' host RSS */
    double mem_ns, bal_ns;  /* wall time in the plan calls */
    unsigned mem_calls, bal_calls;
};

/* The state a run changes; the workload it reads is the fleet's. */
struct vm_state {
    int host;
    double balloon, cache;
    /* this round's physics */
    double backing, swap_in, run, wait;
    bool swapping;
    int64_t last_us[POLICY_N];
    int gave_round; /* the last round memory was given back to it; -1 never */
    /* an action decided this round, done at the start of the next */
    double next_balloon;             /* NaN: none */
    int next_host;                   /* -1: none */
    struct policy_decision *observe; /* a done SETMEM to observe next round */
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const char *const setmem_rules[3] = {"guest-pressure", "host-free-below-target",
                                            "host-free-above-target"};

/* The index of a VM from its uuid (fleet_make() numbers them from 1 in the
 * last group). */
static int vm_index(const char *uuid)
{
    return atoi(uuid + 24) - 1;
}

static struct policy_fig figv(double v, const char *prov)
{
    if (!policy_present(v))
        return (struct policy_fig){.v = POLICY_ABSENT, .provenance = NULL, .age_us = -1};
    return (struct policy_fig){.v = v, .provenance = prov, .age_us = 0};
}

/* What the policy is told about VM I under strategy S, this round. */
static void view_vm(enum strategy s, const struct fleet *f, const struct vm_state *st, int i, int t,
                    struct policy_vm *ret)
{
    const struct vm_spec *v = &f->vms[i];
    const struct vm_state *x = &st[i];
    const double u = v->u[t], d = v->d[t];
    memset(ret, 0, sizeof(*ret));
    ret->uuid = v->uuid;
    ret->name = v->name;
    ret->host_id = x->host + 1;
    ret->running = true;
    ret->balloon_current = x->balloon;
    ret->balloon_maximum = v->max;
    ret->dirty_rate = POLICY_ABSENT; /* as the engine passes it */
    for (int k = 0; k < POLICY_N; k++)
        ret->last_action_us[k] = x->last_us[k];
    switch (s) {
    case ST_KANRI:
        ret->mem_total = figv(x->balloon, "host");
        ret->mem_used = figv(MIN(u, x->balloon), "guest");
        ret->mem_swap_in = figv(x->swap_in, "guest");
        ret->cpu_demand = figv(d, "host-run+wait");
        break;
    case ST_GUEST:
        /* The guest's own figures: its cache counted as used, and only
         * the CPU it got (its clock stops while it waits: no steal). */
        ret->mem_total = figv(x->balloon, "guest");
        ret->mem_used = figv(MIN(u + x->cache, x->balloon), "guest");
        ret->mem_swap_in = figv(x->swap_in, "guest");
        ret->cpu_demand = figv(x->run, "guest");
        break;
    case ST_HOST:
        /* The host's figures: RSS for use (cache and use look the same),
         * no swap figure from inside, but run + wait for CPU. */
        ret->mem_total = figv(x->balloon, "host");
        ret->mem_used = figv(x->backing, "host");
        ret->mem_swap_in = figv(POLICY_ABSENT, NULL);
        ret->cpu_demand = figv(d, "host-run+wait");
        break;
    case ST_OFF:
    case ST_N:
        break;
    }
}

static void run(const struct fleet *f, enum strategy s, struct result *r)
{
    memset(r, 0, sizeof(*r));
    const int H = f->n_hosts, N = f->n_vms;
    struct vm_state *st = g_new0(struct vm_state, N);
    for (int i = 0; i < N; i++) {
        const struct vm_spec *v = &f->vms[i];
        st[i].host = v->host0;
        st[i].balloon = v->balloon0;
        double room = MAX(0, v->balloon0 - v->u[0] - kept_free(v->balloon0));
        st[i].cache = v->cache0 * room;
        st[i].next_balloon = POLICY_ABSENT;
        st[i].next_host = -1;
        st[i].gave_round = -1;
    }

    struct policy_memory_conf mc;
    struct policy_balance_conf bc;
    policy_memory_conf_init(&mc);
    policy_balance_conf_init(&bc);
    const enum policy_mode mode = s == ST_OFF ? POLICY_OFF : POLICY_ENFORCE;
    mc.mode = mode;
    mc.target_pct = TARGET_PCT;
    bc.mode = mode;

    struct policy_host *hosts = g_new0(struct policy_host, H);
    struct policy_vm *vms = g_new0(struct policy_vm, N);
    struct policy_vm *sub = g_new0(struct policy_vm, N);
    double *demand = g_new0(double, H), *backing = g_new0(double, H);
    char **host_names = g_new0(char *, H + 1);
    for (int h = 0; h < H; h++)
        host_names[h] = g_strdup_printf("h%d", h + 1);
    unsigned balance_rounds = 0;

    for (int t = 0; t < f->rounds; t++) {
        const int64_t now = T0_US + (int64_t)t * ROUND_US;

        /* What was decided last round is done now. */
        for (int i = 0; i < N; i++) {
            struct vm_state *x = &st[i];
            if (policy_present(x->next_balloon)) {
                double delta = x->next_balloon - x->balloon;
                if (delta < 0)
                    r->reclaimed -= delta;
                else
                    r->given_back += delta;
                x->balloon = x->next_balloon;
                x->next_balloon = POLICY_ABSENT;
                r->setmem++;
            }
            if (x->next_host >= 0) {
                r->migrations++;
                r->copied += x->backing;
                x->host = x->next_host;
                x->next_host = -1;
            }
        }

        /* Guest physics: cache fills what the balloon leaves, and is
         * dropped first when the balloon (or the working set) needs it;
         * under the working set the guest swaps. */
        memset(demand, 0, sizeof(*demand) * H);
        memset(backing, 0, sizeof(*backing) * H);
        for (int i = 0; i < N; i++) {
            const struct vm_spec *v = &f->vms[i];
            struct vm_state *x = &st[i];
            const double u = v->u[t];
            if (x->balloon < u) {
                x->cache = 0;
                x->swapping = true;
                x->swap_in = (u - x->balloon) * SWAP_TOUCH;
                r->pressure++;
            } else {
                double room = MAX(0, x->balloon - u - kept_free(x->balloon));
                x->cache = MIN(x->cache + v->fill, room);
                x->swapping = false;
                x->swap_in = 0;
            }
            x->backing = MIN(x->balloon, u + x->cache);
            demand[x->host] += v->d[t];
            backing[x->host] += x->backing;
        }
        /* Host physics: CPU shared in proportion to demand when short. */
        for (int h = 0; h < H; h++) {
            double share = demand[h] > HOST_CORES ? HOST_CORES / demand[h] : 1.0;
            r->wait_cs += MAX(0, demand[h] - HOST_CORES) * ROUND_S;
            double free = host_mem - backing[h];
            if (free < TARGET_PCT / 100.0 * host_mem) {
                r->under_target++;
                r->short_gr += TARGET_PCT / 100.0 * host_mem - free;
            }
            if (free < 0)
                r->overcommit++;
            hosts[h] = (struct policy_host){.id = h + 1,
                                            .connected = true,
                                            .cpus = HOST_CORES,
                                            .mem_total = host_mem,
                                            .mem_free = MAX(0, free),
                                            .mem_age_us = 0};
            for (int i = 0; i < N; i++) {
                if (st[i].host == h) {
                    st[i].run = f->vms[i].d[t] * share;
                    st[i].wait = f->vms[i].d[t] - st[i].run;
                }
            }
        }
        if (s == ST_OFF)
            continue;

        for (int h = 0; h < H; h++)
            hosts[h].name = host_names[h];
        for (int i = 0; i < N; i++)
            view_vm(s, f, st, i, t, &vms[i]);

        /* Observe last round's balloon changes (counted, not acted on:
         * no undo and no pause here, see the header). */
        for (int i = 0; i < N; i++) {
            if (!st[i].observe)
                continue;
            if (policy_memory_observe(&mc, st[i].observe, &vms[i], NULL) == POLICY_WORSE)
                r->worse++;
            policy_decision_free(st[i].observe);
            st[i].observe = NULL;
        }

        /* The memory policy, one host at a time as the engine calls it. */
        for (int h = 0; h < H; h++) {
            size_t n = 0;
            for (int i = 0; i < N; i++) {
                if (vms[i].host_id == h + 1)
                    sub[n++] = vms[i];
            }
            struct policy_input in = {
                .now_us = now, .hosts = &hosts[h], .n_hosts = 1, .vms = sub, .n_vms = n};
            double t0 = now_ns();
            g_autoptr(policy_plan) plan = policy_memory_plan(&mc, &in);
            r->mem_ns += now_ns() - t0;
            r->mem_calls++;
            for (guint k = 0; k < plan->decisions->len; k++) {
                struct policy_decision *d = g_ptr_array_index(plan->decisions, k);
                if (d->action != POLICY_ACT_SETMEM)
                    continue;
                for (int k2 = 0; k2 < 3; k2++) {
                    if (g_strcmp0(d->rule, setmem_rules[k2]) == 0)
                        r->by_rule[k2]++;
                }
                int i = vm_index(d->vm_uuid);
                if (g_strcmp0(d->rule, "host-free-above-target") == 0)
                    st[i].gave_round = t;
                else if (g_strcmp0(d->rule, "host-free-below-target") == 0 &&
                         st[i].gave_round >= 0 && t - st[i].gave_round < RETAKE)
                    r->retaken++;
                st[i].next_balloon = (double)d->memory;
                st[i].last_us[POLICY_MEMORY] = now;
                plan->decisions->pdata[k] = NULL;
                policy_decision_free(st[i].observe);
                st[i].observe = d;
            }
        }

        /* Balancing over the fleet, once a round. */
        struct policy_input in = {.now_us = now,
                                  .hosts = hosts,
                                  .n_hosts = (size_t)H,
                                  .vms = vms,
                                  .n_vms = (size_t)N,
                                  .migrations_in_flight = 0,
                                  .balance_rounds = balance_rounds};
        double t0 = now_ns();
        g_autoptr(policy_plan) plan = policy_balance_plan(&bc, &in);
        r->bal_ns += now_ns() - t0;
        r->bal_calls++;
        balance_rounds = plan->balance_rounds;
        for (int h = 0; h < H; h++) {
            if (demand[h] > HOST_CORES) {
                r->overloaded++;
                r->unseen += plan->balance_rounds == 0;
                break;
            }
        }
        for (guint k = 0; k < plan->decisions->len; k++) {
            const struct policy_decision *d = g_ptr_array_index(plan->decisions, k);
            if (d->action != POLICY_ACT_MIGRATE)
                continue;
            int i = vm_index(d->vm_uuid);
            st[i].next_host = (int)d->to_host_id - 1;
            st[i].last_us[POLICY_BALANCE] = now;
        }
    }

    for (int i = 0; i < N; i++)
        policy_decision_free(st[i].observe);
    g_free(st);
    g_free(hosts);
    g_strfreev(host_names);
    g_free(vms);
    g_free(sub);
    g_free(demand);
    g_free(backing);
}

/* ---- the report ---- */

static void ratio(char *buf, size_t n, double a, double b)
{
    if (b > 0)
        snprintf(buf, n, "%.2f", a / b);
    else
        snprintf(buf, n, a > 0 ? "inf" : "-");
}

static void describe(const struct fleet *f, double target)
{
    double total = 0, maxima = 0;
    unsigned per_class[CL_N] = {0};
    for (int i = 0; i < f->n_vms; i++) {
        per_class[f->vms[i].cls]++;
        maxima += f->vms[i].max;
        for (int t = 0; t < f->rounds; t++)
            total += f->vms[i].d[t];
    }
    total /= f->rounds;
    printf("workload:");
    for (int c = 0; c < CL_N; c++)
        printf(" %u %s,", per_class[c], class_names[c]);
    printf(" mean CPU demand %.1f cores of %.0f (%.0f %%), balloon maxima %.0f GiB of %.0f "
           "(%.0f %%)\n",
           total, HOST_CORES * f->n_hosts, 100 * total / (HOST_CORES * f->n_hosts), maxima / GIB,
           host_mem * f->n_hosts / GIB, 100 * maxima / (host_mem * f->n_hosts));
    printf("as placed: host  VMs  demand  balloons  backing  free   (demand: mean over the run "
           "if nothing moved;\n"
           "                                                  memory at round 0; target %.1f "
           "GiB free)\n",
           target / GIB);
    for (int h = 0; h < f->n_hosts; h++) {
        unsigned n = 0;
        double d = 0, b = 0, rss = 0;
        for (int i = 0; i < f->n_vms; i++) {
            const struct vm_spec *v = &f->vms[i];
            if (v->host0 != h)
                continue;
            n++;
            for (int t = 0; t < f->rounds; t++)
                d += v->d[t] / f->rounds;
            b += v->balloon0;
            double room = MAX(0, v->balloon0 - v->u[0] - kept_free(v->balloon0));
            rss += MIN(v->balloon0, v->u[0] + MIN(v->cache0 * room + v->fill, room));
        }
        printf("           h%-3d %4u  %6.1f  %8.1f  %7.1f  %5.1f\n", h + 1, n, d, b / GIB,
               rss / GIB, (host_mem - rss) / GIB);
    }
}

static void result_add(struct result *a, const struct result *b)
{
    a->wait_cs += b->wait_cs;
    a->under_target += b->under_target;
    a->short_gr += b->short_gr;
    a->overcommit += b->overcommit;
    a->reclaimed += b->reclaimed;
    a->given_back += b->given_back;
    a->pressure += b->pressure;
    a->setmem += b->setmem;
    a->worse += b->worse;
    for (int k = 0; k < 3; k++)
        a->by_rule[k] += b->by_rule[k];
    a->retaken += b->retaken;
    a->overloaded += b->overloaded;
    a->unseen += b->unseen;
    a->migrations += b->migrations;
    a->copied += b->copied;
    a->mem_ns += b->mem_ns;
    a->bal_ns += b->bal_ns;
    a->mem_calls += b->mem_calls;
    a->bal_calls += b->bal_calls;
}

static void report(const struct result *res)
{
    printf("%-10s %10s %6s %7s %5s %9s %9s %8s %7s %5s %5s %7s %8s %8s %8s %8s\n", "strategy",
           "vCPU-wait", "under", "short", "over", "reclaim", "give-back", "pressure", "setmem",
           "worse", "migr", "copied", "wait/off", "wait/kan", "pres/off", "pres/kan");
    printf("%-10s %10s %6s %7s %5s %9s %9s %8s %7s %5s %5s %7s\n", "", "core-s", "h-rnd", "GiB-rnd",
           "h-rnd", "GiB", "GiB", "VM-rnd", "", "", "", "GiB");
    for (int s = 0; s < ST_N; s++) {
        const struct result *r = &res[s];
        char w_off[16], w_kan[16], p_off[16], p_kan[16];
        ratio(w_off, sizeof(w_off), r->wait_cs, res[ST_OFF].wait_cs);
        ratio(w_kan, sizeof(w_kan), r->wait_cs, res[ST_KANRI].wait_cs);
        ratio(p_off, sizeof(p_off), r->pressure, res[ST_OFF].pressure);
        ratio(p_kan, sizeof(p_kan), r->pressure, res[ST_KANRI].pressure);
        printf("%-10s %10.0f %6u %7.0f %5u %9.1f %9.1f %8u %7u %5u %5u %7.1f %8s %8s %8s %8s\n",
               strategy_names[s], r->wait_cs, r->under_target, r->short_gr / GIB, r->overcommit,
               r->reclaimed / GIB, r->given_back / GIB, r->pressure, r->setmem, r->worse,
               r->migrations, r->copied / GIB, w_off, w_kan, p_off, p_kan);
    }
    printf("\nset-memory decisions by rule (%s / %s / %s):", setmem_rules[0], setmem_rules[1],
           setmem_rules[2]);
    for (int s = ST_KANRI; s < ST_N; s++)
        printf("%s %s %u/%u/%u", s == ST_KANRI ? "" : ";", strategy_names[s], res[s].by_rule[0],
               res[s].by_rule[1], res[s].by_rule[2]);
    printf("\nof those reclaims, of a VM given memory back less than %d rounds before:", RETAKE);
    for (int s = ST_KANRI; s < ST_N; s++)
        printf("%s %s %u", s == ST_KANRI ? "" : ";", strategy_names[s], res[s].retaken);
    printf("\nrounds with a host over its cores, of which the hosts were not out of balance:");
    for (int s = ST_KANRI; s < ST_N; s++)
        printf("%s %s %u, %u", s == ST_KANRI ? "" : ";", strategy_names[s], res[s].overloaded,
               res[s].unseen);
    printf("\nplan wall time per call, memory (one host) / balance (fleet):");
    for (int s = ST_KANRI; s < ST_N; s++)
        printf("%s %s %.1f / %.1f us", s == ST_KANRI ? "" : ";", strategy_names[s],
               res[s].mem_ns / 1e3 / MAX(res[s].mem_calls, 1u),
               res[s].bal_ns / 1e3 / MAX(res[s].bal_calls, 1u));
    printf("\n");
}

int main(int argc, char **argv)
{
    int hosts = 4, n_vms = 48, rounds = 600, seeds = 1;
    gint64 seed = 1;
    double host_gib = 64;
    GOptionEntry entries[] = {
        {"hosts", 0, 0, G_OPTION_ARG_INT, &hosts, "hosts (8 cores each; default 4)", "H"},
        {"vms", 0, 0, G_OPTION_ARG_INT, &n_vms, "VMs (default 48)", "N"},
        {"rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "rounds of 10 s (default 600)", "R"},
        {"host-gib", 0, 0, G_OPTION_ARG_DOUBLE, &host_gib, "memory per host (default 64)", "GIB"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "workload seed (default 1)", "S"},
        {"seeds", 0, 0, G_OPTION_ARG_INT, &seeds,
         "run seeds S .. S+N-1 and print their sums, and on how many seeds each strategy did "
         "better than kanri (default 1)",
         "N"},
        {NULL}};
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
    g_option_context_set_summary(ctx, "The memory and balance policies on a simulated fleet, "
                                      "off and on, with kanri's view and one side's only.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "bench-policy: %s\n", error->message);
        return 2;
    }
    if (argc > 1 || hosts < 2 || hosts > 64 || n_vms < 1 || n_vms > 100000 || rounds < 1 ||
        rounds > 1000000 || !(host_gib >= 16 && host_gib <= 4096) || seeds < 1 || seeds > 1000) {
        fprintf(stderr, "bench-policy: --hosts 2..64, --vms 1..100000, --rounds 1..1000000, "
                        "--host-gib 16..4096, --seeds 1..1000; no other arguments\n");
        return 2;
    }
    host_mem = host_gib * GIB;

    printf("bench/policy: %d hosts x %.0f cores x %.0f GiB, %d VMs, %d rounds of %.0f s, ", hosts,
           HOST_CORES, host_mem / GIB, n_vms, rounds, ROUND_S);
    if (seeds == 1)
        printf("seed %" G_GINT64_FORMAT "\n", seed);
    else
        printf("seeds %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT "\n", seed, seed + seeds - 1);

    struct result sum[ST_N] = {0};
    /* Per strategy: seeds on which it had less wait / fewer pressure
     * rounds / fewer under-target rounds than kanri, and as few. */
    unsigned better[ST_N][3] = {{0}}, tied[ST_N][3] = {{0}};
    for (int k = 0; k < seeds; k++) {
        struct fleet f = {.n_hosts = hosts, .n_vms = n_vms, .rounds = rounds};
        fleet_make(&f, (uint64_t)(seed + k));
        if (seeds == 1)
            describe(&f, TARGET_PCT / 100.0 * host_mem);
        struct result res[ST_N];
        for (int s = 0; s < ST_N; s++) {
            run(&f, (enum strategy)s, &res[s]);
            result_add(&sum[s], &res[s]);
        }
        for (int s = 0; s < ST_N; s++) {
            const double mine[3] = {res[s].wait_cs, res[s].pressure, res[s].under_target};
            const double theirs[3] = {res[ST_KANRI].wait_cs, res[ST_KANRI].pressure,
                                      res[ST_KANRI].under_target};
            for (int m = 0; m < 3; m++) {
                better[s][m] += mine[m] < theirs[m];
                tied[s][m] += mine[m] == theirs[m];
            }
        }
        fleet_clear(&f);
    }
    printf("\n");
    if (seeds > 1)
        printf("sums over the %d seeds:\n", seeds);
    report(sum);
    if (seeds > 1) {
        printf("seeds on which a strategy did better than kanri (tied) on vCPU wait, pressure, "
               "under-target:");
        for (int s = 0; s < ST_N; s++) {
            if (s == ST_KANRI)
                continue;
            printf("%s %s %u (%u), %u (%u), %u (%u)", s == ST_OFF ? "" : ";", strategy_names[s],
                   better[s][0], tied[s][0], better[s][1], tied[s][1], better[s][2], tied[s][2]);
        }
        printf("\n");
    }
    return 0;
}
