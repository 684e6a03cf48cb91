/*
 * The reconciliation engine.  The sections below run in the order of
 * docs/reconciliation.md: choosing the guest views, then CPU, memory, disk,
 * network, agent health and the containers' own rules, then the findings'
 * hysteresis.  Each section
 * fills its resources (H, G, R) and evaluates its rules; reconcile_run()
 * ties them together.
 */
#include "config.h"

#include "reconcile/reconcile-private.h"

#include "basic/json.h"

#include <json-c/json.h>
#include <string.h>

#define KIB 1024.0
#define MIB (1024.0 * KIB)
#define GIB (1024.0 * MIB)
#define TIB (1024.0 * GIB)

/* Detail JSON from the samples is bounded like any outside input. */
#define DETAIL_MAX_BYTES (256 * 1024)
#define DETAIL_MAX_DEPTH 6
#define DETAIL_MAX_ITEMS 1024

static const struct json_limits detail_limits = {.max_bytes = DETAIL_MAX_BYTES,
                                                 .max_depth = DETAIL_MAX_DEPTH};

static const char *const resource_names[RC_N] = {
    [RC_CPU_BUSY] = "cpu.busy",   [RC_CPU_WAIT] = "cpu.wait",   [RC_CPU_DEMAND] = "cpu.demand",
    [RC_MEM_TOTAL] = "mem.total", [RC_MEM_USED] = "mem.used",   [RC_MEM_SWAP] = "mem.swap",
    [RC_DISK_USED] = "disk.used", [RC_DISK_FREE] = "disk.free", [RC_DISK_IO] = "disk.io",
    [RC_NET_RX] = "net.rx",       [RC_NET_TX] = "net.tx",
};

const char *reconcile_resource_name(enum reconcile_resource r)
{
    return (unsigned)r < RC_N ? resource_names[r] : "?";
}

const char *reconcile_resource_unit(enum reconcile_resource r)
{
    switch (r) {
    case RC_CPU_BUSY:
    case RC_CPU_WAIT:
    case RC_CPU_DEMAND:
        return "%";
    case RC_MEM_SWAP:
    case RC_DISK_IO:
    case RC_NET_RX:
    case RC_NET_TX:
        return "B/s";
    default:
        return "B";
    }
}

/* ---- helpers ---- */

/* One guest source as this round sees it. */
struct gview {
    const char *name;
    const struct guest_sample *cur, *prev;
    int64_t age_us; /* -1 without a current sample */
    bool fresh;
    double dt_s; /* between prev and cur on the source's clock; NaN: no rates */
    bool reset;  /* a cumulative counter went backwards: the guest rebooted */
};

struct ctx {
    const struct reconcile_input *in;
    bool quiet; /* in->quiet: no text is formatted */
    const struct reconcile_config *cfg;
    struct reconcile_result *res;
    struct reconcile_eval ev[RR_N];
    GPtrArray *scratch; /* strings formatted for messages, freed at the end */

    /* host side */
    const struct host_sample *host;
    bool host_fresh;
    double host_dt_s;  /* NaN: no host rates this round */
    char *host_norate; /* why not, when host_dt_s is NaN (owned) */
    int64_t host_age_us;

    struct gview qga, balloon, guestd;

    /* A container's round (host->container): its control group is the
     * truth for CPU and memory, and rules made for VMs do not apply. */
    bool container;
    /* The guest's busy share of the CPUs it counts, unconverted (NaN:
     * none), for the container rules' messages. */
    double g_busy_seen;
    uint64_t g_cpus_seen;
    const char *g_cpu_src;
};

static bool has(uint64_t v)
{
    return v != SAMPLE_ABSENT;
}

static double num(uint64_t v)
{
    return has(v) ? (double)v : RECONCILE_ABSENT;
}

/* Growth of a cumulative counter per second; NaN when either end is absent,
 * the counter went backwards, or there is no interval. */
static double rate(uint64_t cur, uint64_t prev, double dt_s)
{
    if (!has(cur) || !has(prev) || cur < prev || !reconcile_present(dt_s) || dt_s <= 0)
        return RECONCILE_ABSENT;
    return (double)(cur - prev) / dt_s;
}

static double delta(uint64_t cur, uint64_t prev)
{
    if (!has(cur) || !has(prev) || cur < prev)
        return RECONCILE_ABSENT;
    return (double)(cur - prev);
}

/* The message of an evaluation, or NULL when the round is quiet: the
 * arguments' own formatting (B(), D(), gwhy()) is skipped then as well. */
#define TXT(c, ...) ((c)->quiet ? NULL : g_strdup_printf(__VA_ARGS__))

/* Formats a byte count for messages ("1.5 GiB"); the text lives until the
 * end of the round. */
static const char *B(struct ctx *c, double v)
{
    char *s;
    if (c->quiet)
        return "";
    double a = fabs(v);
    const char *sign = v < 0 ? "-" : "";
    if (!reconcile_present(v))
        s = g_strdup("?");
    else if (a < KIB)
        s = g_strdup_printf("%s%.0f B", sign, a);
    else if (a < MIB)
        s = g_strdup_printf("%s%.1f KiB", sign, a / KIB);
    else if (a < GIB)
        s = g_strdup_printf("%s%.1f MiB", sign, a / MIB);
    else if (a < TIB)
        s = g_strdup_printf("%s%.1f GiB", sign, a / GIB);
    else
        s = g_strdup_printf("%s%.1f TiB", sign, a / TIB);
    g_ptr_array_add(c->scratch, s);
    return s;
}

/* A duration for messages ("3 h 20 min", "45 s"). */
static const char *D(struct ctx *c, double seconds)
{
    char *s;
    if (c->quiet)
        return "";
    if (!reconcile_present(seconds))
        s = g_strdup("?");
    else if (seconds < 120)
        s = g_strdup_printf("%.0f s", seconds);
    else if (seconds < 7200)
        s = g_strdup_printf("%.0f min", seconds / 60);
    else if (seconds < 3 * 86400)
        s = g_strdup_printf("%.0f h %.0f min", floor(seconds / 3600),
                            floor(fmod(seconds, 3600) / 60));
    else
        s = g_strdup_printf("%.1f d", seconds / 86400);
    g_ptr_array_add(c->scratch, s);
    return s;
}

static void eval_set(struct ctx *c, enum reconcile_rule r, double measure, bool critical,
                     char *message)
{
    const struct reconcile_rule_conf *rc = &c->cfg->rule[r];
    struct reconcile_eval *e = &c->ev[r];
    g_free(e->message);
    e->measure = measure;
    e->critical = critical;
    e->message = message;
    if (measure >= rc->open_at)
        e->cls = RC_CLASS_ABOVE;
    else if (measure < rc->close_at)
        e->cls = RC_CLASS_BELOW;
    else
        e->cls = RC_CLASS_BETWEEN;
}

G_GNUC_PRINTF(3, 4)
static void eval_unknown(struct ctx *c, enum reconcile_rule r, const char *fmt, ...)
{
    struct reconcile_eval *e = &c->ev[r];
    g_free(e->message);
    e->message = NULL;
    if (!c->quiet) {
        va_list ap;
        va_start(ap, fmt);
        e->message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    e->cls = RC_CLASS_UNKNOWN;
    e->measure = RECONCILE_ABSENT;
}

G_GNUC_PRINTF(8, 9)
static void set_value(struct ctx *c, enum reconcile_resource res, double h, double g, double r,
                      const char *prov, const struct gview *gv, const char *fmt, ...)
{
    struct reconcile_value *v = &c->res->values[res];
    v->h = h;
    v->g = g;
    v->r = reconcile_present(r) ? r : RECONCILE_ABSENT;
    v->provenance = reconcile_present(r) ? prov : "none";
    v->g_source = gv ? gv->name : NULL;
    g_free(v->reason);
    v->reason = NULL;
    if (!c->quiet) {
        va_list ap;
        va_start(ap, fmt);
        v->reason = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    v->h_age_us = reconcile_present(h) ? c->host_age_us : -1;
    v->g_age_us = gv && reconcile_present(g) ? gv->age_us : -1;
}

/* ---- 0. the sides: which samples are usable ---- */

static void host_setup(struct ctx *c)
{
    const struct host_sample *h = c->in->host, *p = c->in->host_prev;
    c->host = h;
    c->host_dt_s = RECONCILE_ABSENT;
    c->host_age_us = h ? MAX(c->in->now_us - h->time_us, 0) : -1;
    c->host_fresh = h && c->host_age_us < c->cfg->host_stale_us;
    if (!h) {
        c->host_norate = g_strdup("no host sample");
        return;
    }
    if (!c->host_fresh) {
        c->host_norate =
            g_strdup_printf("host sample is %s old (limit %s)", D(c, (double)c->host_age_us / 1e6),
                            D(c, (double)c->cfg->host_stale_us / 1e6));
        return;
    }
    if (!p) {
        c->host_norate = g_strdup("only one host sample so far");
        return;
    }
    /* Counters restart with the QEMU process: only samples of one
     * incarnation (same dom_id) are differenced. */
    if (h->dom_id < 0 || p->dom_id != h->dom_id) {
        c->host_norate = g_strdup_printf("domain restarted (dom_id %" G_GINT64_FORMAT
                                         " -> %" G_GINT64_FORMAT "): counters start again",
                                         p->dom_id, h->dom_id);
        return;
    }
    double dt = (double)(h->time_us - p->time_us) / 1e6;
    if (h->time_us - p->time_us < c->cfg->min_interval_us) {
        c->host_norate = g_strdup_printf("host samples only %.1f s apart", dt);
        return;
    }
    c->host_dt_s = dt;
}

/* Counters that only grow within one boot of the guest. */
static bool guest_went_back(const struct guest_sample *a, const struct guest_sample *b)
{
    const uint64_t pairs[][2] = {
        {a->cpu_user_ns, b->cpu_user_ns},           {a->cpu_system_ns, b->cpu_system_ns},
        {a->cpu_idle_ns, b->cpu_idle_ns},           {a->disk_read_bytes, b->disk_read_bytes},
        {a->disk_write_bytes, b->disk_write_bytes}, {a->net_rx_bytes, b->net_rx_bytes},
        {a->net_tx_bytes, b->net_tx_bytes},         {a->swap_in_pages, b->swap_in_pages},
        {a->swap_out_pages, b->swap_out_pages},     {a->major_faults, b->major_faults},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(pairs); i++) {
        if (has(pairs[i][0]) && has(pairs[i][1]) && pairs[i][0] < pairs[i][1])
            return true;
    }
    return false;
}

static void gview_setup(struct ctx *c, struct gview *v, const char *name,
                        const struct reconcile_guest *g)
{
    const int64_t now = c->in->now_us;
    memset(v, 0, sizeof(*v));
    v->name = name;
    v->cur = g->cur;
    v->prev = g->prev;
    v->age_us = -1;
    v->dt_s = RECONCILE_ABSENT;
    if (!v->cur)
        return;
    int64_t stale;
    int64_t t_cur, t_prev = 0;
    if (g_str_equal(name, "balloon")) {
        /* balloon.last-update is stamped by QEMU on the host's clock when
         * the guest's statistics arrive: it is the age of the figures. */
        v->age_us = now - v->cur->time_us;
        stale = c->cfg->balloon_stale_us;
        t_cur = v->cur->time_us;
        t_prev = v->prev ? v->prev->time_us : 0;
    } else if (g_str_equal(name, "qga")) {
        /* Polled synchronously: kanrid's receive time is when the figures
         * were read, on a clock we trust; the guest's own time_us is what
         * the clock rules check. */
        v->age_us = now - v->cur->received_us;
        stale = c->cfg->guest_stale_us;
        t_cur = v->cur->received_us;
        t_prev = v->prev ? v->prev->received_us : 0;
    } else {
        /* kanri-guestd pushes, may queue and backfill: the figures are as
         * old as the earlier of taking (guest clock) and receipt.  Rates use
         * the guest's own stamps, which a delivery delay does not distort. */
        int64_t taken =
            v->cur->time_us > 0 ? MIN(v->cur->time_us, v->cur->received_us) : v->cur->received_us;
        v->age_us = now - taken;
        stale = c->cfg->guest_stale_us;
        t_cur = v->cur->time_us;
        t_prev = v->prev ? v->prev->time_us : 0;
    }
    v->age_us = MAX(v->age_us, 0);
    v->fresh = v->age_us < stale;
    if (v->prev) {
        v->reset = guest_went_back(v->cur, v->prev);
        if (!v->reset && t_cur - t_prev >= c->cfg->min_interval_us)
            v->dt_s = (double)(t_cur - t_prev) / 1e6;
    }
}

typedef bool (*gview_has)(const struct guest_sample *s);

/*
 * The guest view for one resource: the first of VIEWS (in preference
 * order) that is fresh and carries the figure, else the first that carries
 * it at all (shown with its age, not used for R), else NULL.
 */
static struct gview *pick(struct gview *const *views, size_t n, gview_has want)
{
    for (size_t i = 0; i < n; i++) {
        if (views[i]->cur && views[i]->fresh && want(views[i]->cur))
            return views[i];
    }
    for (size_t i = 0; i < n; i++) {
        if (views[i]->cur && want(views[i]->cur))
            return views[i];
    }
    return NULL;
}

/* Why a guest figure is not usable for R: "no guest sample" etc. */
static const char *gwhy(struct ctx *c, const struct gview *gv, const char *what)
{
    char *s;
    if (c->quiet)
        return "";
    if (!gv)
        s = g_strdup_printf("no guest source reports %s", what);
    else if (!gv->fresh)
        s = g_strdup_printf("guest view (%s) is %s old", gv->name, D(c, (double)gv->age_us / 1e6));
    else if (gv->reset)
        s = g_strdup_printf("guest counters went backwards (%s): the guest rebooted", gv->name);
    else
        s = g_strdup_printf("guest view (%s) has one sample of this boot so far", gv->name);
    g_ptr_array_add(c->scratch, s);
    return s;
}

static const char *hwhy(struct ctx *c)
{
    char *s;
    if (c->quiet)
        return "";
    if (!c->host)
        s = g_strdup("no host sample");
    else if (!c->host_fresh)
        s = g_strdup_printf("host sample is %s old", D(c, (double)c->host_age_us / 1e6));
    else
        s = g_strdup(c->host_norate ? c->host_norate : "host counters missing or reset");
    g_ptr_array_add(c->scratch, s);
    return s;
}

/* A number of cores for messages ("1.5 cores", "1 core"); "?" when
 * absent. */
static const char *cores(struct ctx *c, uint64_t millicores)
{
    if (c->quiet)
        return "";
    if (!has(millicores))
        return "?";
    char *s =
        g_strdup_printf("%g core%s", (double)millicores / 1000.0, millicores == 1000 ? "" : "s");
    g_ptr_array_add(c->scratch, s);
    return s;
}

/* ---- 1. CPU ---- */

static bool has_cpu(const struct guest_sample *s)
{
    return has(s->cpu_user_ns) && has(s->cpu_idle_ns) && has(s->cpu_system_ns);
}

/* Guest busy and steal in percent of its own accounted time between two
 * samples: the ratio needs no clock, so a slow guest clock does not bend it. */
static bool guest_cpu_pct(const struct gview *gv, double *ret_busy, double *ret_steal)
{
    if (!gv || !gv->prev || gv->reset || !has_cpu(gv->prev))
        return false;
    const struct guest_sample *a = gv->cur, *b = gv->prev;
    const uint64_t cur[] = {a->cpu_user_ns,   a->cpu_nice_ns, a->cpu_system_ns,  a->cpu_idle_ns,
                            a->cpu_iowait_ns, a->cpu_irq_ns,  a->cpu_softirq_ns, a->cpu_steal_ns};
    const uint64_t prv[] = {b->cpu_user_ns,   b->cpu_nice_ns, b->cpu_system_ns,  b->cpu_idle_ns,
                            b->cpu_iowait_ns, b->cpu_irq_ns,  b->cpu_softirq_ns, b->cpu_steal_ns};
    double d[G_N_ELEMENTS(cur)];
    double total = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cur); i++) {
        /* An optional field the agent never reports counts as zero; one it
         * reported on only one side cannot be differenced. */
        if (!has(cur[i]) && !has(prv[i]))
            d[i] = 0;
        else
            d[i] = delta(cur[i], prv[i]);
        if (!reconcile_present(d[i]))
            return false;
        total += d[i];
    }
    if (total <= 0)
        return false;
    double idle = d[3] + d[4], steal = d[7];
    *ret_busy = 100.0 * (total - idle - steal) / total;
    *ret_steal = 100.0 * steal / total;
    return true;
}

static void section_cpu(struct ctx *c)
{
    struct gview *order[] = {&c->guestd, &c->qga};
    struct gview *gv = pick(order, G_N_ELEMENTS(order), has_cpu);
    const struct host_sample *h = c->host, *hp = c->in->host_prev;
    double g_busy = RECONCILE_ABSENT, g_steal = RECONCILE_ABSENT;
    double h_busy = RECONCILE_ABSENT, h_wait = RECONCILE_ABSENT;
    const char *h_src = c->container ? "cgroup CPU usage" : "vcpu.N.time";

    bool g_ok = guest_cpu_pct(gv, &g_busy, &g_steal);
    bool g_use = g_ok && gv->fresh;
    /* The unit is the allocated vCPUs (the host's count).  A guest with
     * vCPUs offline reports percentages of its online CPUs; convert. */
    g_autofree char *basis = g_strdup("");
    if (g_use) {
        c->g_busy_seen = g_busy;
        c->g_cpus_seen = gv->cur->cpu_count;
        c->g_cpu_src = gv->name;
    }
    if (g_ok && has(gv->cur->cpu_count) && h && has(h->vcpu_count) && h->vcpu_count > 0 &&
        gv->cur->cpu_count != h->vcpu_count) {
        double scale = (double)gv->cur->cpu_count / (double)h->vcpu_count;
        g_busy *= scale;
        g_steal *= scale;
        g_autofree char *vcpus =
            g_strdup_printf("%" G_GUINT64_FORMAT " allocated vCPUs", h->vcpu_count);
        g_free(basis);
        basis =
            g_strdup_printf("; converted from %" G_GUINT64_FORMAT " %s to %s", gv->cur->cpu_count,
                            c->container ? "CPUs the container sees" : "online CPUs",
                            c->container ? cores(c, h->vcpu_count * 1000) : vcpus);
    }
    /* Per vCPU: the sums over vCPUs divided by the count, which must not
     * have changed between the samples (hot-plug). */
    if (reconcile_present(c->host_dt_s) && has(h->vcpu_count) && h->vcpu_count > 0 &&
        h->vcpu_count == hp->vcpu_count) {
        double n = (double)h->vcpu_count;
        h_busy = 100.0 * rate(h->vcpu_time_ns, hp->vcpu_time_ns, c->host_dt_s) / 1e9 / n;
        if (!reconcile_present(h_busy)) {
            /* cpu.time also counts QEMU's emulator and I/O threads; it is
             * the host's figure when per-vCPU times are missing, named so. */
            h_busy = 100.0 * rate(h->cpu_time_ns, hp->cpu_time_ns, c->host_dt_s) / 1e9 / n;
            h_src = "cpu.time";
        }
        h_wait = 100.0 * rate(h->vcpu_delay_ns, hp->vcpu_delay_ns, c->host_dt_s) / 1e9 / n;
    }
    bool h_ok = reconcile_present(h_busy);

    /* cpu.busy: the guest tells its work from its idle loop; host vCPU time
     * also counts halt-polling and emulation.  A container has no vCPUs to
     * emulate: its control group's usage is exactly its processes' CPU
     * time, while its /proc/stat counts the host's CPUs (without lxcfs). */
    if (c->container && h_ok)
        set_value(c, RC_CPU_BUSY, h_busy, g_busy, h_busy, "host", gv,
                  "the control group's CPU usage of the %s it may use (exact for a "
                  "container; /proc/stat inside counts the host's CPUs unless lxcfs is "
                  "mounted)%s",
                  cores(c, h->vcpu_count * 1000), basis);
    else if (c->container)
        set_value(c, RC_CPU_BUSY, h_busy, g_busy, RECONCILE_ABSENT, "none", gv,
                  "%s; the guest's /proc/stat is not a substitute (it counts the host's CPUs)",
                  hwhy(c));
    else if (g_use)
        set_value(c, RC_CPU_BUSY, h_busy, g_busy, g_busy, "guest", gv,
                  "guest's own accounting (busy = all but idle, iowait and steal)%s", basis);
    else
        set_value(c, RC_CPU_BUSY, h_busy, g_busy, RECONCILE_ABSENT, "none", gv,
                  "%s; host vCPU time is not a substitute", gwhy(c, gv, "CPU times"));

    /* cpu.wait: the host's scheduler measures the wait directly; for a
     * container, the time its CPU quota throttled it. */
    const char *no_wait =
        c->container ? "control group reports no throttled time" : "host reports no vcpu.N.delay";
    if (reconcile_present(h_wait))
        set_value(c, RC_CPU_WAIT, h_wait, g_steal, h_wait, "host", gv, "%s",
                  c->container ? "time the CPU quota held the control group back (cpu.stat "
                                 "throttled time): runnable but not allowed to run"
                               : "host run-queue wait of the vCPU threads (vcpu.N.delay)");
    else
        set_value(c, RC_CPU_WAIT, h_wait, g_steal, RECONCILE_ABSENT, "none", gv, "%s",
                  h_ok ? no_wait : hwhy(c));

    /* cpu.demand: what the guest would have used had it never waited.  A
     * vCPU thread waits on the host's run queue only while runnable, that
     * is while the guest has work, so run + wait is the demand.  Not guest
     * busy + wait: without steal accounting the guest credits the time it
     * was preempted to the task that was running, so its busy already holds
     * most of the wait it cannot see, and adding the two counts it twice
     * (measured: bench/reconcile scenario 2b, docs/reconciliation.md). */
    double h_dem = h_ok && reconcile_present(h_wait) ? h_busy + h_wait : RECONCILE_ABSENT;
    double g_dem = g_ok ? g_busy + g_steal : RECONCILE_ABSENT;
    if (reconcile_present(h_dem) && c->host_fresh && c->container) {
        set_value(c, RC_CPU_DEMAND, h_dem, g_dem, MIN(h_dem, 100.0), "host-run+wait", gv,
                  "the control group ran %.1f %% and was throttled %.1f %% (cpu.stat "
                  "throttled time)%s: what it would use without its CPU quota",
                  h_busy, h_wait, h_dem > 100.0 ? " (capped at 100 %)" : "");
    } else if (reconcile_present(h_dem) && c->host_fresh) {
        set_value(c, RC_CPU_DEMAND, h_dem, g_dem, MIN(h_dem, 100.0), "host-run+wait", gv,
                  "vCPU threads ran %.1f %% (%s) and waited %.1f %% (vcpu.N.delay)%s; the "
                  "guest's busy%s already holds the wait it cannot see as steal",
                  h_busy, h_src, h_wait, h_dem > 100.0 ? " (capped at 100 %)" : "",
                  g_use ? "" : " (not available here)");
    } else {
        set_value(c, RC_CPU_DEMAND, h_dem, g_dem, RECONCILE_ABSENT, "none", gv, "%s",
                  h_ok ? no_wait : hwhy(c));
    }

    /* Rule: cpu-busy-mismatch.  Not for a container: R is its control
     * group's own usage, and the guest's /proc/stat counts the host's CPUs,
     * so a gap says nothing about the container's accounting. */
    if (c->container)
        eval_unknown(c, RR_CPU_BUSY_MISMATCH,
                     "not for a container: its CPU usage is the control group's own");
    else if (g_use && h_ok)
        eval_set(c, RR_CPU_BUSY_MISMATCH, fabs(h_busy - g_busy), false,
                 TXT(c,
                     "host: vCPU threads ran %.1f %% of %" G_GUINT64_FORMAT
                     " vCPUs (%s); guest (%s): busy %.1f %%; %.1f points apart "
                     "(halt-polling, emulation overhead or guest accounting)",
                     h_busy, h->vcpu_count, h_src, gv->name, g_busy, fabs(h_busy - g_busy)));
    else
        eval_unknown(c, RR_CPU_BUSY_MISMATCH, "%s", !g_use ? gwhy(c, gv, "CPU times") : hwhy(c));

    /* Rule: steal-invisible-to-guest.  A container's wait is throttling by
     * its quota, which container-cpu-throttled reports in its own terms. */
    if (c->container) {
        eval_unknown(c, RR_STEAL_INVISIBLE,
                     "not for a container: its wait is throttling (container-cpu-throttled)");
    } else if (g_use && reconcile_present(h_wait)) {
        double gap = h_wait - g_steal;
        eval_set(c, RR_STEAL_INVISIBLE, gap, false,
                 TXT(c,
                     "host measured %.1f %% vCPU wait (vcpu.N.delay), the guest (%s) "
                     "reports %.1f %% steal: %.1f points of waiting are invisible "
                     "to the guest (CPU demand, run + wait: %.1f %%)",
                     h_wait, gv->name, g_steal, gap,
                     reconcile_present(h_dem) ? MIN(h_dem, 100.0) : 0.0));
    } else {
        eval_unknown(c, RR_STEAL_INVISIBLE, "%s",
                     !g_use ? gwhy(c, gv, "CPU times")
                     : h_ok ? "host reports no vcpu.N.delay"
                            : hwhy(c));
    }

    /* Rule: vcpu-count-mismatch (current samples only: no rate needed).  A
     * container's count is its quota rounded up, not vCPUs that could be
     * offline: the CPUs it sees are the host's or its cpuset. */
    if (c->container) {
        eval_unknown(c, RR_VCPU_COUNT_MISMATCH,
                     "not for a container: its core count is its CPU quota, not vCPUs");
    } else if (gv && gv->fresh && has(gv->cur->cpu_count) && c->host_fresh && has(h->vcpu_count)) {
        double diff = fabs((double)h->vcpu_count - (double)gv->cur->cpu_count);
        eval_set(c, RR_VCPU_COUNT_MISMATCH, diff, false,
                 TXT(c,
                     "host runs %" G_GUINT64_FORMAT " vCPUs, the guest (%s) counts "
                     "%" G_GUINT64_FORMAT " CPUs (offline or not hot-plugged in the "
                     "guest): its percentages are converted to the allocated vCPUs",
                     h->vcpu_count, gv->name, gv->cur->cpu_count));
    } else {
        eval_unknown(c, RR_VCPU_COUNT_MISMATCH, "vCPU count missing on one side");
    }

    /* Rule: guest-clock-rate.  qga first: its time is read synchronously
     * with kanrid's receive stamp, so delivery delays do not count. */
    struct gview *clk = NULL;
    struct gview *corder[] = {&c->qga, &c->guestd};
    for (size_t i = 0; i < G_N_ELEMENTS(corder) && !clk; i++) {
        struct gview *v = corder[i];
        if (v->cur && v->fresh && v->prev && v->cur->time_us > 0 && v->prev->time_us > 0 &&
            v->cur->received_us - v->prev->received_us >= c->cfg->min_interval_us)
            clk = v;
    }
    if (clk) {
        double dr = (double)(clk->cur->received_us - clk->prev->received_us) / 1e6;
        double dg = (double)(clk->cur->time_us - clk->prev->time_us) / 1e6;
        double pct = 100.0 * (dg - dr) / dr;
        if (dg <= 0 || fabs(pct) > 50)
            /* No clock drifts by half: the clock was stepped (NTP, a
             * resume, an operator).  The step is not a rate; the skew rule
             * sees where the clock ended up. */
            eval_unknown(c, RR_GUEST_CLOCK_RATE,
                         "guest clock (%s) stepped by %.1f s between samples", clk->name, dg - dr);
        else
            eval_set(c, RR_GUEST_CLOCK_RATE, fabs(pct), false,
                     TXT(c,
                         "guest clock (%s) advanced %.1f s while kanrid's advanced %.1f s: "
                         "%.1f %% %s; guest rates on its own clock are off by as much",
                         clk->name, dg, dr, fabs(pct), pct < 0 ? "slow" : "fast"));
    } else {
        eval_unknown(c, RR_GUEST_CLOCK_RATE, "no two timed guest samples");
    }
}

/* ---- 2. memory ---- */

static bool has_mem(const struct guest_sample *s)
{
    return has(s->mem_total);
}

/* Guest memory used, caches excluded: total - available (MemAvailable, or
 * the balloon's "usable"), else total - free - cache - buffers. */
static double guest_mem_used(const struct guest_sample *s)
{
    if (!has(s->mem_total))
        return RECONCILE_ABSENT;
    if (has(s->mem_available))
        return s->mem_total >= s->mem_available ? (double)(s->mem_total - s->mem_available) : 0;
    if (has(s->mem_free) && has(s->mem_cached)) {
        double used = (double)s->mem_total - (double)s->mem_free - (double)s->mem_cached -
                      (has(s->mem_buffers) ? (double)s->mem_buffers : 0);
        return MAX(used, 0);
    }
    return RECONCILE_ABSENT;
}

/*
 * Looks KEY up in a sample's small JSON object (extra_json): *ret_present
 * says whether it is there at all, the return value is its non-negative
 * integer value or SAMPLE_ABSENT.
 */
static uint64_t json_member(const char *json, const char *key, bool *ret_present)
{
    *ret_present = false;
    if (!json)
        return SAMPLE_ABSENT;
    json_object *o = NULL;
    bool ok =
        json_parse_strict(json, strnlen(json, DETAIL_MAX_BYTES + 1), &detail_limits, &o, NULL);
    uint64_t ret = SAMPLE_ABSENT;
    json_object *v = NULL;
    if (ok && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v)) {
        *ret_present = v != NULL;
        if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0)
            ret = (uint64_t)json_object_get_int64(v);
    }
    json_object_put(o);
    return ret;
}

static uint64_t json_u64(const char *json, const char *key)
{
    bool present;
    return json_member(json, key, &present);
}

/* Swap traffic in bytes between two samples of one source: kanri-guestd
 * counts pages (pswpin/pswpout), the balloon driver KiB (in extra_json). */
static bool swap_bytes(const struct ctx *c, const struct guest_sample *s, uint64_t *ret_in,
                       uint64_t *ret_out)
{
    if (has(s->swap_in_pages) && has(s->swap_out_pages)) {
        *ret_in = s->swap_in_pages * c->cfg->page_size;
        *ret_out = s->swap_out_pages * c->cfg->page_size;
        return true;
    }
    uint64_t in = json_u64(s->extra_json, "swap_in"), out = json_u64(s->extra_json, "swap_out");
    if (has(in) && has(out) && in < UINT64_MAX / 1024 && out < UINT64_MAX / 1024) {
        *ret_in = in * 1024;
        *ret_out = out * 1024;
        return true;
    }
    return false;
}

static bool has_swap(const struct guest_sample *s)
{
    return (has(s->swap_in_pages) && has(s->swap_out_pages)) ||
           has(json_u64(s->extra_json, "swap_in"));
}

static bool has_used(const struct guest_sample *s)
{
    return reconcile_present(guest_mem_used(s));
}

/* Says, source by source, why no guest memory figure is usable. */
static char *mem_unavailable_why(struct ctx *c)
{
    if (c->quiet)
        return NULL;
    GString *s = g_string_new(NULL);
    const struct gview *vs[] = {&c->balloon, &c->guestd};
    for (size_t i = 0; i < G_N_ELEMENTS(vs); i++) {
        const struct gview *v = vs[i];
        if (i)
            g_string_append(s, "; ");
        g_string_append_printf(s, "%s: ", v->name);
        if (!v->cur)
            g_string_append(s, i == 0 ? "no statistics (no balloon driver, or no stats period)"
                                      : "no sample");
        else if (!v->fresh)
            g_string_append_printf(
                s, "last update %s ago (limit %s)", D(c, (double)v->age_us / 1e6),
                D(c, (double)(i == 0 ? c->cfg->balloon_stale_us : c->cfg->guest_stale_us) / 1e6));
        else
            g_string_append(s, "no usable/available figure");
    }
    return g_string_free(s, FALSE);
}

/* A container's memory use less its page cache (the cache it would give
 * back under pressure); NaN without a use figure; the use itself without a
 * cache figure (R then says why it is not used). */
static double container_used(const struct host_sample *h)
{
    if (!h || !has(h->balloon_rss))
        return RECONCILE_ABSENT;
    if (!has(h->cg_mem_cache))
        return (double)h->balloon_rss;
    return h->balloon_rss > h->cg_mem_cache ? (double)(h->balloon_rss - h->cg_mem_cache) : 0;
}

static void section_memory(struct ctx *c)
{
    struct gview *order[] = {&c->guestd, &c->balloon};
    struct gview *gv = pick(order, G_N_ELEMENTS(order), has_mem);
    struct gview *gu = pick(order, G_N_ELEMENTS(order), has_used);
    const struct host_sample *h = c->host;
    double h_cur = h ? num(h->balloon_current) : RECONCILE_ABSENT;
    double h_max = h ? num(h->balloon_maximum) : RECONCILE_ABSENT;
    double h_rss = h ? num(h->balloon_rss) : RECONCILE_ABSENT;
    double g_total = gv ? num(gv->cur->mem_total) : RECONCILE_ABSENT;
    double g_used = gu ? guest_mem_used(gu->cur) : RECONCILE_ABSENT;
    bool g_total_ok = gv && gv->fresh;
    bool g_used_ok = gu && gu->fresh;
    bool h_ok = c->host_fresh;

    if (c->container)
        h_rss = container_used(h);

    /* mem.total: what backs the guest is the balloon's current size; the
     * guest's own total may still count ballooned-out pages.  A container
     * has its control group's limit instead (balloon_current); without one
     * it may use all of the host's memory, which is what its /proc/meminfo
     * shows, so the guest's total is then the right figure, said so. */
    if (c->container && h_ok && reconcile_present(h_cur))
        set_value(c, RC_MEM_TOTAL, h_cur, g_total, h_cur, "host", gv,
                  "the control group's memory limit: the most the container may use");
    else if (c->container && h_ok && g_total_ok)
        set_value(c, RC_MEM_TOTAL, h_cur, g_total, g_total, "guest", gv,
                  "the container has no memory limit: it may use the host's memory, which "
                  "/proc/meminfo inside shows");
    else if (c->container)
        set_value(c, RC_MEM_TOTAL, h_cur, g_total, RECONCILE_ABSENT, "none", gv,
                  "%s; the guest's total is not a substitute",
                  !h_ok ? hwhy(c) : gwhy(c, gv, "memory (the container has no memory limit)"));
    else if (h_ok && reconcile_present(h_cur))
        set_value(c, RC_MEM_TOTAL, h_cur, g_total, h_cur, "host", gv,
                  "balloon current size (maximum %s): the memory that backs the guest",
                  B(c, h_max));
    else
        set_value(c, RC_MEM_TOTAL, h_cur, g_total, RECONCILE_ABSENT, "none", gv,
                  "%s; the guest's total is not a substitute",
                  h_ok ? "host reports no balloon.current" : hwhy(c));

    /* mem.used: only the guest knows what is cache.  A container's control
     * group knows it too (its page cache), and its /proc/meminfo is the
     * host's unless lxcfs is mounted: the group is the truth. */
    g_autofree char *why = mem_unavailable_why(c);
    if (c->container && h_ok && reconcile_present(h_rss) && has(h->cg_mem_cache))
        set_value(c, RC_MEM_USED, h_rss, g_used, h_rss, "host", gu,
                  "the control group's memory use (%s) less its page cache (%s)",
                  B(c, num(h->balloon_rss)), B(c, num(h->cg_mem_cache)));
    else if (c->container)
        set_value(c, RC_MEM_USED, h_rss, g_used, RECONCILE_ABSENT, "none", gu,
                  "%s; the guest's figure is not a substitute (/proc/meminfo inside is the "
                  "host's unless lxcfs is mounted)",
                  !h_ok                       ? hwhy(c)
                  : !reconcile_present(h_rss) ? "control group reports no memory use"
                                              : "control group reports no page cache: its "
                                                "use counts the cache");
    else if (g_used_ok)
        set_value(c, RC_MEM_USED, h_rss, g_used, g_used, "guest", gu,
                  "guest total minus available (caches excluded)");
    else
        set_value(c, RC_MEM_USED, h_rss, g_used, RECONCILE_ABSENT, "none", gu,
                  "no usable guest memory view (%s); host RSS is not a substitute", why);

    /* mem.swap */
    struct gview *gs = pick(order, G_N_ELEMENTS(order), has_swap);
    double g_swap = RECONCILE_ABSENT, g_in = RECONCILE_ABSENT, g_out = RECONCILE_ABSENT;
    uint64_t ci, co, pi, po;
    if (gs && gs->prev && !gs->reset && swap_bytes(c, gs->cur, &ci, &co) &&
        swap_bytes(c, gs->prev, &pi, &po)) {
        g_in = rate(ci, pi, gs->dt_s);
        g_out = rate(co, po, gs->dt_s);
        if (reconcile_present(g_in) && reconcile_present(g_out))
            g_swap = g_in + g_out;
    }
    bool g_swap_ok = gs && gs->fresh && reconcile_present(g_swap);
    if (c->container)
        /* /proc/vmstat is not namespaced (nor virtualised by lxcfs): inside
         * a container it counts the whole host's swapping. */
        set_value(c, RC_MEM_SWAP, RECONCILE_ABSENT, g_swap, RECONCILE_ABSENT, "none", gs,
                  "/proc/vmstat inside a container counts the host's swapping, not the "
                  "container's; its control group holds %s in swap (a size, not a rate)",
                  h ? B(c, num(h->cg_mem_swap)) : "?");
    else if (g_swap_ok)
        set_value(c, RC_MEM_SWAP, RECONCILE_ABSENT, g_swap, g_swap, "guest", gs,
                  "guest swap-in %s/s + swap-out %s/s", B(c, g_in), B(c, g_out));
    else
        set_value(c, RC_MEM_SWAP, RECONCILE_ABSENT, g_swap, RECONCILE_ABSENT, "none", gs, "%s",
                  gwhy(c, gs, "swap counters"));

    /* The balloon rules compare the guest with a balloon, and mem.used of a
     * container is its control group's own: for a container they do not
     * apply (container-sees-host-memory compares its total with its limit). */
    if (c->container) {
        eval_unknown(c, RR_MEM_OVERSTATED,
                     "not for a container: container-sees-host-memory compares its limit");
        eval_unknown(c, RR_RSS_OVER_USED,
                     "not for a container: its memory use is the control group's own");
        eval_unknown(c, RR_RSS_UNDER_USED,
                     "not for a container: its memory use is the control group's own");
        eval_unknown(c, RR_BALLOON_SWAPPING, "not for a container: it has no balloon");
        eval_unknown(c, RR_MEM_VIEW_UNAVAILABLE,
                     "not for a container: its memory use comes from its control group");
        return;
    }

    /* Rule: guest-memory-overstated */
    if (g_total_ok && h_ok && reconcile_present(h_cur) && h_cur > 0) {
        double over = g_total - h_cur;
        eval_set(c, RR_MEM_OVERSTATED, 100.0 * over / h_cur, false,
                 TXT(c,
                     "the guest (%s) counts %s of memory, the balloon backs %s "
                     "(maximum %s): the guest believes it has %s (%.1f %%) more than "
                     "backs it",
                     gv->name, B(c, g_total), B(c, h_cur), B(c, h_max), B(c, over),
                     100.0 * over / h_cur));
    } else {
        eval_unknown(c, RR_MEM_OVERSTATED, "%s",
                     !g_total_ok ? gwhy(c, gv, "memory") : "no balloon.current");
    }

    /* Rules: host-rss-overstates-guest-use / host-rss-below-guest-use */
    if (g_used_ok && h_ok && reconcile_present(h_rss) && reconcile_present(h_cur) && h_cur > 0) {
        double over = h_rss - g_used;
        double cache = has(gu->cur->mem_cached) ? (double)gu->cur->mem_cached : RECONCILE_ABSENT;
        eval_set(
            c, RR_RSS_OVER_USED, 100.0 * over / h_cur, false,
            TXT(c,
                "host RSS %s, the guest (%s) uses %s excluding caches%s%s%s: "
                "the host counts %s (%.1f %% of %s) of guest page cache or "
                "touched-then-freed memory as used",
                B(c, h_rss), gu->name, B(c, g_used), reconcile_present(cache) ? " (cache " : "",
                reconcile_present(cache) ? B(c, cache) : "", reconcile_present(cache) ? ")" : "",
                B(c, over), 100.0 * over / h_cur, B(c, h_cur)));
        eval_set(c, RR_RSS_UNDER_USED, -100.0 * over / h_cur, false,
                 TXT(c,
                     "the guest (%s) uses %s excluding caches but the host holds "
                     "only %s resident: %s (%.1f %% of %s) of guest memory is "
                     "swapped out or shared on the host",
                     gu->name, B(c, g_used), B(c, h_rss), B(c, -over), -100.0 * over / h_cur,
                     B(c, h_cur)));
    } else {
        const char *w = !g_used_ok ? "no usable guest memory view" : "no balloon.rss";
        eval_unknown(c, RR_RSS_OVER_USED, "%s", w);
        eval_unknown(c, RR_RSS_UNDER_USED, "%s", w);
    }

    /* Rule: balloon-induced-swapping */
    if (g_swap_ok && h_ok && reconcile_present(h_cur) && reconcile_present(h_max) && h_max > 0) {
        double held = MAX(h_max - h_cur, 0);
        double pct = 100.0 * held / h_max;
        if (pct >= c->cfg->balloon_inflated_pct)
            eval_set(c, RR_BALLOON_SWAPPING, g_swap, false,
                     TXT(c,
                         "the balloon holds %s (%.1f %%) of %s and the guest (%s) "
                         "swaps %s/s (in %s/s, out %s/s)",
                         B(c, held), pct, B(c, h_max), gs->name, B(c, g_swap), B(c, g_in),
                         B(c, g_out)));
        else
            eval_set(c, RR_BALLOON_SWAPPING, 0, false,
                     TXT(c,
                         "the balloon holds only %.1f %% of %s (under %.1f %%): "
                         "swapping of %s/s is not balloon-induced",
                         pct, B(c, h_max), c->cfg->balloon_inflated_pct, B(c, g_swap)));
    } else {
        eval_unknown(c, RR_BALLOON_SWAPPING, "%s",
                     !g_swap_ok ? gwhy(c, gs, "swap counters") : "no balloon size on the host");
    }

    /* Rule: guest-memory-view-unavailable (always evaluated) */
    if (g_used_ok)
        eval_set(c, RR_MEM_VIEW_UNAVAILABLE, 0, false,
                 TXT(c, "guest memory view from %s", gu->name));
    else
        eval_set(c, RR_MEM_VIEW_UNAVAILABLE, 1, false,
                 TXT(c,
                     "no usable guest memory view (%s): memory used is unknown; host "
                     "RSS%s%s%s counts guest caches and is not a substitute",
                     why, reconcile_present(h_rss) ? " (" : "",
                     reconcile_present(h_rss) ? B(c, h_rss) : "",
                     reconcile_present(h_rss) ? ")" : ""));
}

/* ---- 3. disk ---- */

static bool has_fs(const struct guest_sample *s)
{
    return has(s->fs_total) && has(s->fs_used) && has(s->fs_avail);
}

static bool has_dio(const struct guest_sample *s)
{
    return has(s->disk_read_bytes) && has(s->disk_write_bytes);
}

struct hdisk {
    const char *name; /* borrowed from the parsed JSON */
    double alloc, cap;
    const struct reconcile_pool *pool;
    const char *pool_name;
};

/* Per-disk host figures from blocks_json; false when missing or malformed. */
static bool host_disks(struct ctx *c, json_object **ret_root, GArray *out)
{
    const char *js = c->host ? c->host->blocks_json : NULL;
    *ret_root = NULL;
    if (!js)
        return false;
    json_object *root = NULL;
    bool ok =
        json_parse_strict(js, strnlen(js, DETAIL_MAX_BYTES + 1), &detail_limits, &root, NULL) &&
        json_object_is_type(root, json_type_array) &&
        json_object_array_length(root) <= DETAIL_MAX_ITEMS;
    for (size_t i = 0; ok && i < json_object_array_length(root); i++) {
        json_object *o = json_object_array_get_idx(root, i), *v;
        struct hdisk d = {.alloc = RECONCILE_ABSENT, .cap = RECONCILE_ABSENT};
        if (!json_object_is_type(o, json_type_object)) {
            ok = false;
            break;
        }
        if (json_object_object_get_ex(o, "name", &v) && json_object_is_type(v, json_type_string))
            d.name = json_object_get_string(v);
        if (json_object_object_get_ex(o, "allocation_bytes", &v) &&
            json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0)
            d.alloc = (double)json_object_get_int64(v);
        if (json_object_object_get_ex(o, "capacity_bytes", &v) &&
            json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0)
            d.cap = (double)json_object_get_int64(v);
        for (size_t k = 0; d.name && k < c->in->n_disks; k++) {
            const struct reconcile_disk *m = &c->in->disks[k];
            if (m->name && g_str_equal(m->name, d.name))
                d.pool_name = m->pool;
        }
        for (size_t k = 0; d.pool_name && k < c->in->n_pools; k++) {
            const struct reconcile_pool *p = &c->in->pools[k];
            if (p->name && p->cur && g_str_equal(p->name, d.pool_name))
                d.pool = p;
        }
        g_array_append_val(out, d);
    }
    if (!ok) {
        json_object_put(root);
        g_array_set_size(out, 0);
        return false;
    }
    *ret_root = root;
    return true;
}

/* Bytes per second the pool's free space shrinks; NaN without two samples,
 * 0 when it does not shrink. */
static double pool_fill_rate(const struct reconcile_pool *p)
{
    if (!p->prev || !p->cur || p->cur->time_us <= p->prev->time_us)
        return RECONCILE_ABSENT;
    double dt = (double)(p->cur->time_us - p->prev->time_us) / 1e6;
    if (!has(p->cur->available) || !has(p->prev->available))
        return RECONCILE_ABSENT;
    double d = (double)p->prev->available - (double)p->cur->available;
    return MAX(d, 0) / dt;
}

/* disk.io and disk-io-mismatch, for VMs and containers alike. */
static void disk_io(struct ctx *c)
{
    struct gview *order[] = {&c->guestd, &c->qga};
    struct gview *gi = pick(order, G_N_ELEMENTS(order), has_dio);
    const struct host_sample *h = c->host, *hp = c->in->host_prev;

    /* disk.io: the host counts what reached the images, on its own clock. */
    double h_io = RECONCILE_ABSENT, g_io = RECONCILE_ABSENT;
    if (reconcile_present(c->host_dt_s) && h->block_count == hp->block_count)
        h_io = rate(h->block_rd_bytes, hp->block_rd_bytes, c->host_dt_s) +
               rate(h->block_wr_bytes, hp->block_wr_bytes, c->host_dt_s);
    if (gi && gi->prev && !gi->reset)
        g_io = rate(gi->cur->disk_read_bytes, gi->prev->disk_read_bytes, gi->dt_s) +
               rate(gi->cur->disk_write_bytes, gi->prev->disk_write_bytes, gi->dt_s);
    bool g_io_ok = gi && gi->fresh && reconcile_present(g_io);
    if (reconcile_present(h_io))
        set_value(c, RC_DISK_IO, h_io, g_io, h_io, "host", gi, "%s",
                  c->container ? "bytes the control group read and wrote (its io counters)"
                               : "bytes read and written at the images (block.N.rd/wr.bytes)");
    else
        set_value(c, RC_DISK_IO, h_io, g_io, RECONCILE_ABSENT, "none", gi, "%s%s",
                  !reconcile_present(c->host_dt_s)    ? hwhy(c)
                  : h->block_count != hp->block_count ? "block device set changed (hot-plug)"
                                                      : "host block counters missing or reset",
                  "; guest counters are not a substitute");

    /* Rule: disk-io-mismatch.  Not for a container: /proc/diskstats inside
     * counts the host's disks, its control group only its own I/O. */
    if (c->container) {
        eval_unknown(c, RR_DISK_IO_MISMATCH,
                     "not for a container: /proc/diskstats inside counts the host's disks");
    } else if (reconcile_present(h_io) && g_io_ok) {
        double top = MAX(h_io, g_io);
        double pct = top >= c->cfg->disk_io_floor ? 100.0 * fabs(h_io - g_io) / top : 0;
        eval_set(c, RR_DISK_IO_MISMATCH, pct, false,
                 TXT(c,
                     "host: %s/s reached the images; guest (%s): %s/s on its disks "
                     "(%.1f %% apart%s)",
                     B(c, h_io), gi->name, B(c, g_io), 100.0 * fabs(h_io - g_io) / MAX(top, 1),
                     top < c->cfg->disk_io_floor ? ", under the floor" : ""));
    } else {
        eval_unknown(c, RR_DISK_IO_MISMATCH, "%s",
                     !g_io_ok ? gwhy(c, gi, "disk counters") : hwhy(c));
    }
}

/* The guest's used space of a container beyond its own files, in percent
 * of its own (at least 1 MiB), once past the slack; NaN when either is
 * absent. */
static double container_disk_excess(const struct ctx *c, double g_used, double own)
{
    if (!reconcile_present(g_used) || !reconcile_present(own))
        return RECONCILE_ABSENT;
    double over = MAX(g_used - own - c->cfg->container_disk_slack, 0);
    return 100.0 * over / MAX(own, MIB);
}

/* A container's disk.used and disk.free (section 6 has its rule,
 * container-sees-host-disk); the image rules (thin-pool-overcommit,
 * trim-debt) do not apply. */
static void section_disk_container(struct ctx *c, struct gview *gf)
{
    const struct host_sample *h = c->host;
    bool h_ok = c->host_fresh;
    double own = h ? num(h->ct_rootfs_used) : RECONCILE_ABSENT;
    double fs_size = h ? num(h->ct_fs_size) : RECONCILE_ABSENT;
    double fs_avail = h ? num(h->ct_fs_avail) : RECONCILE_ABSENT;
    double g_used = gf ? num(gf->cur->fs_used) : RECONCILE_ABSENT;
    double g_avail = gf ? num(gf->cur->fs_avail) : RECONCILE_ABSENT;

    /* disk.used: its own files, measured from the host.  The guest's figure
     * is that of the filesystem its root directory sits on. */
    if (h_ok && reconcile_present(own))
        set_value(c, RC_DISK_USED, own, g_used, own, "host", gf,
                  "bytes of the container's own files (its root file system, measured from the "
                  "host now and then)");
    else
        set_value(c, RC_DISK_USED, own, g_used, RECONCILE_ABSENT, "none", gf,
                  "%s; the guest's used space is not a substitute (df inside counts the whole "
                  "filesystem its root directory sits on, shared or not)",
                  !h_ok ? hwhy(c)
                        : "the driver has not measured the container's root file "
                          "system (yet)");

    /* disk.free: what the filesystem under the root file system still has,
     * shared with whatever else is on it. */
    if (h_ok && reconcile_present(fs_avail))
        set_value(c, RC_DISK_FREE, fs_avail, g_avail, fs_avail, "host", gf,
                  "available space of the filesystem the container's root file system sits on "
                  "(%s in all), shared with anything else stored there",
                  B(c, fs_size));
    else
        set_value(c, RC_DISK_FREE, fs_avail, g_avail, RECONCILE_ABSENT, "none", gf,
                  "%s; the guest's free space is not a substitute",
                  !h_ok ? hwhy(c)
                        : "the driver reports no available space for the "
                          "filesystem under the container's root file system");

    eval_unknown(c, RR_THIN_POOL_OVERCOMMIT,
                 "not for a container: it has no disk image; disk.free is the room of the "
                 "filesystem its root file system sits on");
    eval_unknown(c, RR_TRIM_DEBT,
                 "not for a container: it has no disk image, its disk use is its files'");

    disk_io(c);
}

static void section_disk(struct ctx *c)
{
    struct gview *order[] = {&c->guestd, &c->qga};
    struct gview *gf = pick(order, G_N_ELEMENTS(order), has_fs);
    const struct host_sample *h = c->host;
    bool h_ok = c->host_fresh;
    double h_alloc = h ? num(h->block_allocation) : RECONCILE_ABSENT;
    double h_cap = h ? num(h->block_capacity) : RECONCILE_ABSENT;
    double g_used = gf ? num(gf->cur->fs_used) : RECONCILE_ABSENT;
    double g_avail = gf ? num(gf->cur->fs_avail) : RECONCILE_ABSENT;
    bool g_ok = gf && gf->fresh;

    /* A container has no image: the driver measures its root file system
     * from the host (its files' bytes, now and then) and the filesystem
     * under it.  Inside, statvfs of / of a directory-backed container is
     * that whole filesystem, shared with the host and other containers, so
     * the guest's "used" counts everything there. */
    if (c->container) {
        section_disk_container(c, gf);
        return;
    }

    /* disk.used: the guest knows which blocks hold data; the host's
     * allocation also holds blocks freed in the guest and never discarded. */
    if (g_ok)
        set_value(c, RC_DISK_USED, h_alloc, g_used, g_used, "guest", gf,
                  "used space of the guest's filesystems");
    else
        set_value(c, RC_DISK_USED, h_alloc, g_used, RECONCILE_ABSENT, "none", gf,
                  "%s; image allocation is not a substitute", gwhy(c, gf, "filesystems"));

    /* disk.free and thin-pool-overcommit: per pool, the most the guest can
     * grow its images by (its free space, at most the images' room) against
     * what the pool still has.  Conservative: new writes are assumed to land
     * on unallocated blocks, not on blocks freed and never discarded. */
    g_autoptr(GArray) disks = g_array_new(FALSE, TRUE, sizeof(struct hdisk));
    json_object *root = NULL;
    bool per_disk = h_ok && host_disks(c, &root, disks);
    double backed_room = 0, short_sum = 0, worst = -INFINITY, worst_ttf = INFINITY;
    bool any_pool = false, crit = false;
    g_autoptr(GString) detail = g_string_new(NULL);
    g_autoptr(GString) unpooled = g_string_new(NULL);
    g_autoptr(GHashTable) done = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint i = 0; per_disk && i < disks->len; i++) {
        struct hdisk *d = &g_array_index(disks, struct hdisk, i);
        double room = reconcile_present(d->alloc) && reconcile_present(d->cap)
                          ? MAX(d->cap - d->alloc, 0)
                          : RECONCILE_ABSENT;
        if (!d->pool) {
            /* Not in a pool we know: its room counts as backed, and the
             * reason says so rather than silently assuming it. */
            if (reconcile_present(room) && room > 0) {
                backed_room += room;
                g_string_append_printf(unpooled, "%s%s (%s)", unpooled->len ? ", " : "",
                                       d->name ? d->name : "?", B(c, room));
            }
            continue;
        }
        if (g_hash_table_contains(done, d->pool))
            continue;
        g_hash_table_add(done, (gpointer)d->pool);
        /* Sum the room of every disk of this VM in this pool. */
        double pool_room = 0;
        for (guint k = i; k < disks->len; k++) {
            struct hdisk *e = &g_array_index(disks, struct hdisk, k);
            if (e->pool == d->pool && reconcile_present(e->alloc) && reconcile_present(e->cap))
                pool_room += MAX(e->cap - e->alloc, 0);
        }
        const struct pool_sample *ps = d->pool->cur;
        if (!has(ps->available))
            continue;
        any_pool = true;
        double avail = (double)ps->available;
        backed_room += MIN(pool_room, avail);
        if (!reconcile_present(g_avail))
            continue;
        double demand = MIN(g_avail, pool_room);
        double shortfall = demand - avail;
        worst = MAX(worst, shortfall);
        double fill = pool_fill_rate(d->pool);
        double ttf = reconcile_present(fill) && fill > 0 ? avail / fill : INFINITY;
        if (shortfall > 0) {
            short_sum += shortfall;
            worst_ttf = MIN(worst_ttf, ttf);
            if (ttf * 1e6 <= (double)c->cfg->pool_full_crit_us)
                crit = true;
            g_string_append_printf(detail,
                                   "%spool %s has %s free of %s, the guest can still "
                                   "write %s into it: %s unbacked",
                                   detail->len ? "; " : "", d->pool->name, B(c, avail),
                                   B(c, num(ps->capacity)), B(c, demand), B(c, shortfall));
            if (!reconcile_present(fill))
                g_string_append(detail, ", fill rate unknown (one pool sample)");
            else if (fill <= 0)
                g_string_append(detail, ", not filling");
            else
                g_string_append_printf(detail, ", filling at %s/s: full in %s", B(c, fill),
                                       D(c, ttf));
        }
    }
    json_object_put(root);

    double h_free = per_disk ? backed_room : RECONCILE_ABSENT;
    if (g_ok && per_disk) {
        double r = MAX(g_avail - short_sum, 0);
        set_value(
            c, RC_DISK_FREE, h_free, g_avail, r, "guest+host-backing", gf, "guest free space%s%s%s",
            short_sum > 0 ? " less what its pools cannot back" : ", all of it backed by its pools",
            unpooled->len ? "; not in a known pool (room assumed backed): " : "", unpooled->str);
    } else {
        set_value(c, RC_DISK_FREE, h_free, g_avail, RECONCILE_ABSENT, "none", gf, "%s",
                  !g_ok   ? gwhy(c, gf, "filesystems")
                  : !h_ok ? hwhy(c)
                          : "host reports no per-disk allocation/capacity (blocks_json)");
    }

    /* Rule: thin-pool-overcommit */
    if (g_ok && per_disk && any_pool) {
        char *msg;
        if (short_sum > 0)
            msg = TXT(c, "the guest (%s) believes it has %s free; %s", gf->name, B(c, g_avail),
                      detail->str);
        else
            msg = TXT(c,
                      "the guest's %s free space is backed by its pools "
                      "(%s of headroom in the tightest)",
                      B(c, g_avail), B(c, -worst));
        eval_set(c, RR_THIN_POOL_OVERCOMMIT, short_sum > 0 ? short_sum : worst, crit, msg);
    } else {
        eval_unknown(c, RR_THIN_POOL_OVERCOMMIT, "%s",
                     !g_ok       ? gwhy(c, gf, "filesystems")
                     : !per_disk ? "no per-disk host figures"
                                 : "no disk of this VM is in a pool with a sample");
    }

    /* Rule: trim-debt */
    if (g_ok && h_ok && reconcile_present(h_alloc) && reconcile_present(h_cap) && h_cap > 0) {
        double debt = h_alloc - g_used;
        eval_set(c, RR_TRIM_DEBT, 100.0 * debt / h_cap, false,
                 TXT(c,
                     "images hold %s allocated, the guest (%s) uses %s: %s (%.1f %% "
                     "of %s) freed in the guest but never discarded (no fstrim, or "
                     "no discard='unmap' on the disk)",
                     B(c, h_alloc), gf->name, B(c, g_used), B(c, debt), 100.0 * debt / h_cap,
                     B(c, h_cap)));
    } else {
        eval_unknown(c, RR_TRIM_DEBT, "%s",
                     !g_ok ? gwhy(c, gf, "filesystems") : "no image allocation on the host");
    }

    disk_io(c);
}

/* ---- 4. network ---- */

static bool has_net(const struct guest_sample *s)
{
    return has(s->net_rx_bytes) && has(s->net_tx_bytes);
}

static void section_network(struct ctx *c)
{
    struct gview *order[] = {&c->guestd, &c->qga};
    struct gview *gv = pick(order, G_N_ELEMENTS(order), has_net);
    const struct host_sample *h = c->host, *hp = c->in->host_prev;
    double h_rx = RECONCILE_ABSENT, h_tx = RECONCILE_ABSENT;
    double g_rx = RECONCILE_ABSENT, g_tx = RECONCILE_ABSENT;
    /* libvirt reports tap counters from the guest's side (host tx is
     * guest rx), so the two compare directly. */
    if (reconcile_present(c->host_dt_s) && h->net_count == hp->net_count) {
        h_rx = rate(h->net_rx_bytes, hp->net_rx_bytes, c->host_dt_s);
        h_tx = rate(h->net_tx_bytes, hp->net_tx_bytes, c->host_dt_s);
    }
    if (gv && gv->prev && !gv->reset) {
        g_rx = rate(gv->cur->net_rx_bytes, gv->prev->net_rx_bytes, gv->dt_s);
        g_tx = rate(gv->cur->net_tx_bytes, gv->prev->net_tx_bytes, gv->dt_s);
    }
    const char *hw = !reconcile_present(c->host_dt_s) ? hwhy(c)
                     : h->net_count != hp->net_count  ? "interface set changed (hot-plug)"
                                                      : "host interface counters missing or reset";
    double hv[] = {h_rx, h_tx}, gvv[] = {g_rx, g_tx};
    enum reconcile_resource rs[] = {RC_NET_RX, RC_NET_TX};
    for (int k = 0; k < 2; k++) {
        if (reconcile_present(hv[k]))
            set_value(c, rs[k], hv[k], gvv[k], hv[k], "host", gv,
                      "%s device counters on the host (net.N.%s.bytes)",
                      c->container ? "veth" : "tap", k ? "tx" : "rx");
        else
            set_value(c, rs[k], hv[k], gvv[k], RECONCILE_ABSENT, "none", gv,
                      "%s; guest counters are not a substitute", hw);
    }

    /* Rule: net-io-mismatch: the larger of the rx and tx gaps */
    bool g_ok = gv && gv->fresh && reconcile_present(g_rx) && reconcile_present(g_tx);
    if (g_ok && reconcile_present(h_rx) && reconcile_present(h_tx)) {
        double worst = 0;
        for (int k = 0; k < 2; k++) {
            double top = MAX(hv[k], gvv[k]);
            if (top >= c->cfg->net_io_floor)
                worst = MAX(worst, 100.0 * fabs(hv[k] - gvv[k]) / top);
        }
        eval_set(c, RR_NET_IO_MISMATCH, worst, false,
                 TXT(c,
                     "host taps: rx %s/s, tx %s/s; guest (%s) interfaces: rx %s/s, "
                     "tx %s/s (%.1f %% apart; guest-internal bridges, or drops at the "
                     "tap)",
                     B(c, h_rx), B(c, h_tx), gv->name, B(c, g_rx), B(c, g_tx), worst));
    } else {
        eval_unknown(c, RR_NET_IO_MISMATCH, "%s", !g_ok ? gwhy(c, gv, "interface counters") : hw);
    }
}

/* ---- 5. agent health ---- */

static void section_agent(struct ctx *c)
{
    struct gview *qga = &c->qga, *gd = &c->guestd;

    /* Rule: guest-view-missing */
    if (!qga->cur && !gd->cur)
        eval_set(
            c, RR_GUEST_VIEW_MISSING, 1, false,
            TXT(c, "%s",
                c->container
                    ? "no guest view: no kanri-guestd sample (a container's "
                      "only guest view); what it sees inside (memory, df) and its clock are unknown"
                    : "no guest view: no qemu-guest-agent sample and no "
                      "kanri-guestd sample; guest CPU, disk use and clock are "
                      "unknown"));
    else
        eval_set(c, RR_GUEST_VIEW_MISSING, 0, false,
                 TXT(c, "guest view from %s", qga->cur ? "qga" : "kanri-guestd"));

    /* Rule: guest-view-stale: the freshest agent view's age */
    struct gview *fresh = NULL;
    if (qga->cur && (!gd->cur || qga->age_us <= gd->age_us))
        fresh = qga;
    else if (gd->cur)
        fresh = gd;
    if (fresh)
        eval_set(c, RR_GUEST_VIEW_STALE, (double)fresh->age_us / 1e6, false,
                 TXT(c, "newest guest view (%s) is %s old", fresh->name,
                     D(c, (double)fresh->age_us / 1e6)));
    else
        eval_unknown(c, RR_GUEST_VIEW_STALE, "no guest view");

    /* Rule: guest-clock-skew.  qga's time is read while kanrid waits, so
     * the offset is the skew (plus the call's latency).  kanri-guestd's may
     * have travelled a while: only a guest clock ahead of kanrid is proof. */
    double off = RECONCILE_ABSENT;
    struct gview *sv = NULL;
    if (qga->cur && qga->fresh && qga->cur->time_us > 0) {
        sv = qga;
        off = (double)(qga->cur->time_us - qga->cur->received_us) / 1e6;
    } else if (gd->cur && gd->fresh && gd->cur->time_us > 0) {
        sv = gd;
        off = MAX((double)(gd->cur->time_us - gd->cur->received_us) / 1e6, 0);
    }
    if (sv)
        eval_set(c, RR_GUEST_CLOCK_SKEW, fabs(off), false,
                 TXT(c, "guest clock (%s) is %.1f s %s kanrid's", sv->name, fabs(off),
                     off < 0 ? "behind" : "ahead of"));
    else
        eval_unknown(c, RR_GUEST_CLOCK_SKEW, "no fresh timed guest view");

    /* Rule: guest-agent-incomplete: commands or figures the agent lacks */
    if ((qga->cur && qga->fresh) || (gd->cur && gd->fresh)) {
        g_autoptr(GString) s = g_string_new(NULL);
        int missing = 0;
        if (qga->cur && qga->fresh) {
            const struct guest_sample *q = qga->cur;
            const char *what[] = {
                !has(q->cpu_count) ? "guest-get-cpustats (guest CPU busy unknown)" : NULL,
                !has(q->disk_reads) ? "guest-get-diskstats (guest disk I/O unknown)" : NULL,
                !has(q->fs_total) ? "guest-get-fsinfo (guest disk use unknown)" : NULL,
            };
            for (size_t i = 0; i < G_N_ELEMENTS(what); i++) {
                if (!what[i])
                    continue;
                g_string_append_printf(s, "%sqemu-guest-agent lacks %s", missing ? "; " : "",
                                       what[i]);
                missing++;
            }
        }
        if (gd->cur && gd->fresh) {
            const struct guest_sample *g = gd->cur;
            bool has_version;
            json_member(g->extra_json, "agent_version", &has_version);
            const char *what[] = {
                !has(g->cpu_user_ns) ? "CPU times" : NULL,
                !has(g->mem_total) ? "memory" : NULL,
                !has(g->fs_total) ? "filesystems" : NULL,
                !has_version ? "its version" : NULL,
            };
            for (size_t i = 0; i < G_N_ELEMENTS(what); i++) {
                if (!what[i])
                    continue;
                g_string_append_printf(s, "%skanri-guestd sends no %s", missing ? "; " : "",
                                       what[i]);
                missing++;
            }
        }
        if (!missing)
            g_string_append(s, "the guest agents report every figure kanri uses");
        eval_set(c, RR_GUEST_AGENT_INCOMPLETE, missing, false, c->quiet ? NULL : g_strdup(s->str));
    } else {
        eval_unknown(c, RR_GUEST_AGENT_INCOMPLETE, "no fresh guest agent view");
    }
}

/* ---- 6. containers ---- */

static void section_container(struct ctx *c)
{
    const enum reconcile_rule rules[] = {RR_CONTAINER_CPU_THROTTLED, RR_CONTAINER_SEES_HOST_MEMORY,
                                         RR_CONTAINER_OOM_KILL, RR_CONTAINER_SEES_HOST_DISK};
    if (!c->container) {
        for (size_t i = 0; i < G_N_ELEMENTS(rules); i++)
            eval_unknown(c, rules[i], "not a container");
        return;
    }
    const struct host_sample *h = c->host, *hp = c->in->host_prev;

    /* Rule: container-cpu-throttled: the share of its CFS periods in which
     * the quota stopped the group, between the two host samples. */
    if (reconcile_present(c->host_dt_s)) {
        double dp = delta(h->cg_cpu_periods, hp->cg_cpu_periods);
        double dt = delta(h->cg_cpu_throttled_periods, hp->cg_cpu_throttled_periods);
        if (!has(h->cg_cpu_quota_mc)) {
            eval_set(c, RR_CONTAINER_CPU_THROTTLED, 0, false,
                     TXT(c, "%s", "no CPU quota: the container is never throttled"));
        } else if (!reconcile_present(dp) || !reconcile_present(dt)) {
            eval_unknown(c, RR_CONTAINER_CPU_THROTTLED,
                         "control group reports no CFS period counters, or they went back");
        } else if (dp <= 0) {
            eval_set(c, RR_CONTAINER_CPU_THROTTLED, 0, false,
                     TXT(c, "no CFS period with runnable tasks (quota %s): idle",
                         cores(c, h->cg_cpu_quota_mc)));
        } else {
            double share = 100.0 * MIN(dt, dp) / dp;
            const struct reconcile_value *w = &c->res->values[RC_CPU_WAIT];
            g_autofree char *inside = NULL;
            if (!c->quiet && reconcile_present(c->g_busy_seen) && has(c->g_cpus_seen))
                inside = g_strdup_printf("inside, the guest (%s) sees its %" G_GUINT64_FORMAT
                                         " CPUs %.1f %% busy and no throttling",
                                         c->g_cpu_src, c->g_cpus_seen, c->g_busy_seen);
            else if (!c->quiet)
                inside = g_strdup("no guest view of its CPUs this round (throttling is "
                                  "invisible inside anyway)");
            eval_set(c, RR_CONTAINER_CPU_THROTTLED, share, false,
                     TXT(c,
                         "the CPU quota (%s) throttled the container in %.1f %% of its CFS "
                         "periods (%.0f of %.0f), held back %.1f %% of its %s (cpu.wait); %s",
                         cores(c, h->cg_cpu_quota_mc), share, dt, dp,
                         reconcile_present(w->r) ? w->r : 0.0,
                         has(h->vcpu_count) ? cores(c, h->vcpu_count * 1000) : "?", inside));
        }
    } else {
        eval_unknown(c, RR_CONTAINER_CPU_THROTTLED, "%s", hwhy(c));
    }

    /* Rule: container-sees-host-memory: the guest's total against the
     * limit.  Without lxcfs, /proc/meminfo inside is the host's, and every
     * tool inside (free, a JVM sizing its heap) believes it. */
    struct gview *order[] = {&c->guestd, &c->balloon};
    struct gview *gv = pick(order, G_N_ELEMENTS(order), has_mem);
    double limit = c->host_fresh ? num(h->balloon_current) : RECONCILE_ABSENT;
    if (gv && gv->fresh && c->host_fresh) {
        double g_total = (double)gv->cur->mem_total;
        if (!reconcile_present(limit)) {
            eval_set(c, RR_CONTAINER_SEES_HOST_MEMORY, 0, false,
                     TXT(c,
                         "no memory limit: the host's memory, %s as the guest (%s) sees it, "
                         "is the container's to use",
                         B(c, g_total), gv->name));
        } else if (limit > 0) {
            double pct = 100.0 * (g_total - limit) / limit;
            if (pct >= c->cfg->rule[RR_CONTAINER_SEES_HOST_MEMORY].open_at)
                eval_set(c, RR_CONTAINER_SEES_HOST_MEMORY, pct, false,
                         TXT(c,
                             "the container sees %s, its limit is %s: /proc/meminfo inside "
                             "shows the host's memory (no lxcfs)",
                             B(c, g_total), B(c, limit)));
            else
                eval_set(c, RR_CONTAINER_SEES_HOST_MEMORY, pct, false,
                         TXT(c,
                             "the container sees %s, its limit is %s: /proc/meminfo inside "
                             "shows its limit (lxcfs)",
                             B(c, g_total), B(c, limit)));
        } else {
            eval_unknown(c, RR_CONTAINER_SEES_HOST_MEMORY, "memory limit of 0 bytes");
        }
    } else {
        eval_unknown(c, RR_CONTAINER_SEES_HOST_MEMORY, "%s",
                     !c->host_fresh ? hwhy(c) : gwhy(c, gv, "memory"));
    }

    /* Rule: container-oom-kill: processes the kernel killed for memory
     * between the two host samples.  A count, not a rate: any two samples
     * of one incarnation will do, however close. */
    bool pair = c->host_fresh && hp && h->dom_id >= 0 && hp->dom_id == h->dom_id;
    double kills = pair ? delta(h->cg_oom_kills, hp->cg_oom_kills) : RECONCILE_ABSENT;
    if (reconcile_present(kills) && kills > 0) {
        g_autofree char *lim = NULL, *inside = NULL;
        if (!c->quiet) {
            if (reconcile_present(limit))
                lim = g_strdup_printf("its memory limit is %s (in use %s, page cache %s)",
                                      B(c, limit), B(c, num(h->balloon_rss)),
                                      B(c, num(h->cg_mem_cache)));
            else
                lim = g_strdup("it has no memory limit (the host, or a parent group, ran out)");
            if (gv && gv->fresh && has(gv->cur->mem_available))
                inside = g_strdup_printf("the guest (%s) sees no kill, only %s of memory with "
                                         "%s available",
                                         gv->name, B(c, num(gv->cur->mem_total)),
                                         B(c, num(gv->cur->mem_available)));
            else
                inside = g_strdup("the guest sees no kill");
        }
        eval_set(c, RR_CONTAINER_OOM_KILL, kills, false,
                 TXT(c,
                     "the kernel's OOM killer killed %.0f process%s in the container since "
                     "the last host sample; %s; %s",
                     kills, kills == 1 ? "" : "es", lim, inside));
    } else if (reconcile_present(kills)) {
        eval_set(c, RR_CONTAINER_OOM_KILL, 0, false,
                 TXT(c, "no OOM kill since the last host sample (%" G_GUINT64_FORMAT " in all)",
                     h->cg_oom_kills));
    } else {
        eval_unknown(c, RR_CONTAINER_OOM_KILL, "%s",
                     !pair ? hwhy(c) : "control group reports no OOM kill count, or it went back");
    }

    /* Rule: container-sees-host-disk: the guest's used space against the
     * container's own files.  Inside a directory-backed container statvfs
     * of / is the host filesystem's, and df, monitoring and anything
     * sizing itself by free space inside believe it. */
    struct gview *dorder[] = {&c->guestd, &c->qga};
    struct gview *gf = pick(dorder, G_N_ELEMENTS(dorder), has_fs);
    double own = h ? num(h->ct_rootfs_used) : RECONCILE_ABSENT;
    double g_used = gf ? num(gf->cur->fs_used) : RECONCILE_ABSENT;
    double g_total = gf ? num(gf->cur->fs_total) : RECONCILE_ABSENT;
    double pct = container_disk_excess(c, g_used, own);
    if (gf && gf->fresh && c->host_fresh && reconcile_present(pct)) {
        const struct reconcile_rule_conf *rc = &c->cfg->rule[RR_CONTAINER_SEES_HOST_DISK];
        const char *what = pct >= rc->open_at    ? "df inside shows the filesystem its root "
                                                   "directory sits on"
                           : pct >= rc->close_at ? "df inside shows more than its own files"
                                                 : "df inside shows its own files (a "
                                                   "filesystem or quota of its own)";
        eval_set(c, RR_CONTAINER_SEES_HOST_DISK, pct, false,
                 TXT(c, "the container sees %s used of a %s filesystem; its own files take %s: %s",
                     B(c, g_used), B(c, g_total), B(c, own), what));
    } else {
        eval_unknown(c, RR_CONTAINER_SEES_HOST_DISK, "%s",
                     !c->host_fresh            ? hwhy(c)
                     : !reconcile_present(own) ? "the container's root file system has not "
                                                 "been measured (yet)"
                                               : gwhy(c, gf, "filesystems"));
    }
}

/* ---- 7. findings ---- */

static const struct reconcile_track *prev_track(const struct reconcile_state *st,
                                                enum reconcile_rule r)
{
    for (guint i = 0; st && i < st->tracks->len; i++) {
        const struct reconcile_track *t = g_ptr_array_index(st->tracks, i);
        if (t->rule == r)
            return t;
    }
    return NULL;
}

static void findings(struct ctx *c)
{
    for (int r = 0; r < RR_N; r++) {
        struct reconcile_track *t;
        struct reconcile_finding *f;
        reconcile_track_step((enum reconcile_rule)r, &c->cfg->rule[r],
                             prev_track(c->in->state, (enum reconcile_rule)r), &c->ev[r],
                             c->in->now_us, &t, &f);
        if (t)
            g_ptr_array_add(c->res->state->tracks, t);
        if (f)
            g_ptr_array_add(c->res->findings, f);
    }
}

struct reconcile_result *reconcile_run(const struct reconcile_input *in)
{
    struct reconcile_config defaults;
    struct ctx c = {.in = in, .cfg = in->config, .quiet = in->quiet};
    if (!c.cfg) {
        reconcile_config_init(&defaults);
        c.cfg = &defaults;
    }
    c.scratch = g_ptr_array_new_with_free_func(g_free);
    c.res = g_new0(struct reconcile_result, 1);
    c.res->findings = g_ptr_array_new_with_free_func((GDestroyNotify)reconcile_finding_free);
    c.res->state = reconcile_state_new();
    for (int i = 0; i < RC_N; i++)
        set_value(&c, (enum reconcile_resource)i, RECONCILE_ABSENT, RECONCILE_ABSENT,
                  RECONCILE_ABSENT, "none", NULL, "not computed");
    for (int i = 0; i < RR_N; i++)
        c.ev[i].cls = RC_CLASS_UNKNOWN;

    host_setup(&c);
    c.host_age_us = c.host ? c.host_age_us : -1;
    c.container = in->host ? in->host->container : in->host_prev && in->host_prev->container;
    c.g_busy_seen = RECONCILE_ABSENT;
    c.g_cpus_seen = SAMPLE_ABSENT;
    gview_setup(&c, &c.qga, "qga", &in->qga);
    gview_setup(&c, &c.balloon, "balloon", &in->balloon);
    gview_setup(&c, &c.guestd, "kanri-guestd", &in->guestd);

    section_cpu(&c);
    section_memory(&c);
    section_disk(&c);
    section_network(&c);
    section_agent(&c);
    section_container(&c);
    findings(&c);

    for (int i = 0; i < RR_N; i++)
        g_free(c.ev[i].message);
    g_free(c.host_norate);
    g_ptr_array_unref(c.scratch);
    return c.res;
}

void reconcile_result_free(struct reconcile_result *res)
{
    if (!res)
        return;
    for (int i = 0; i < RC_N; i++)
        g_free(res->values[i].reason);
    if (res->findings)
        g_ptr_array_unref(res->findings);
    reconcile_state_free(res->state);
    g_free(res);
}

bool reconcile_side_fresh(const struct reconcile_config *cfg, const struct reconcile_value *v,
                          bool guest)
{
    if (!guest)
        return reconcile_present(v->h) && v->h_age_us >= 0 && v->h_age_us < cfg->host_stale_us;
    int64_t limit = g_strcmp0(v->g_source, "balloon") == 0 ? cfg->balloon_stale_us
                                                           : cfg->guest_stale_us;
    return reconcile_present(v->g) && v->g_age_us >= 0 && v->g_age_us < limit;
}
