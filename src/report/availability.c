/*
 * Availability from recorded states (availability.h).  The period is cut
 * at every mark, span edge and window edge; each piece has one state, is
 * known or not, and lies in one run of down (or unresponsive) marks,
 * whose cause decides whether its down time was planned.
 */
#include "config.h"

#include "report/availability.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[AV_N] = {
    [AV_ABSENT] = "absent",       [AV_UP] = "up",
    [AV_HOST_ONLY] = "host-only", [AV_UNRESPONSIVE] = "unresponsive",
    [AV_DOWN] = "down",
};

const char *avail_state_name(enum avail_state s)
{
    return s < AV_N ? names[s] : "?";
}

bool avail_state_parse(const char *name, enum avail_state *ret)
{
    for (int i = 0; i < AV_N; i++) {
        if (g_strcmp0(name, names[i]) == 0) {
            *ret = (enum avail_state)i;
            return true;
        }
    }
    return false;
}

enum avail_state avail_classify(const struct avail_obs *o, const char **ret_reason)
{
    *ret_reason = NULL;
    if (!o->exists) {
        *ret_reason = "removed";
        return AV_ABSENT;
    }
    /* libvirt's "blocked" is a running domain waiting on a resource. */
    bool running =
        g_strcmp0(o->host_state, "running") == 0 || g_strcmp0(o->host_state, "blocked") == 0;
    if (!running) {
        *ret_reason = o->state_reason && *o->state_reason ? o->state_reason
                      : o->host_state                     ? o->host_state
                                                          : "state unknown";
        return AV_DOWN;
    }
    if (!o->guest_seen)
        return AV_HOST_ONLY;
    if (o->guest_fresh && o->guest_clock_stopped) {
        *ret_reason = "guest clock stopped";
        return AV_UNRESPONSIVE;
    }
    if (!o->guest_fresh) {
        *ret_reason = "guest view lost";
        return AV_UNRESPONSIVE;
    }
    return AV_UP;
}

void avail_report_init(struct avail_report *r)
{
    memset(r, 0, sizeof(*r));
    r->outages = g_array_new(FALSE, TRUE, sizeof(struct avail_outage));
}

void avail_report_clear(struct avail_report *r)
{
    if (!r->outages)
        return;
    for (guint i = 0; i < r->outages->len; i++)
        g_free(g_array_index(r->outages, struct avail_outage, i).cause);
    g_array_unref(r->outages);
    r->outages = NULL;
}

/* A run of consecutive marks of one kind (down, or unresponsive). */
struct run {
    int64_t start, end; /* end: the next mark of another kind; INT64_MAX: none */
    enum avail_state state;
    const char *reason;
    /* Down time before this is planned; after it, not. */
    int64_t planned_until;
    char *cause;      /* of the planned part, or of the whole when none */
    char *cause_past; /* of the part past planned_until when that is inside */
    struct avail_outage *parts[2];
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static const struct avail_action *action_before(const struct avail_input *in, int64_t t)
{
    const struct avail_action *best = NULL;
    for (size_t i = 0; i < in->n_actions; i++) {
        const struct avail_action *a = &in->actions[i];
        if (a->t_us >= t - 2 * in->interval_us && a->t_us <= t + in->interval_us &&
            (!best || a->t_us > best->t_us))
            best = a;
    }
    return best;
}

static const struct avail_window *window_at(const struct avail_input *in, int64_t t)
{
    for (size_t i = 0; i < in->n_windows; i++) {
        if (in->windows[i].from_us <= t && t < in->windows[i].to_us)
            return &in->windows[i];
    }
    return NULL;
}

static void run_decide(const struct avail_input *in, struct run *r)
{
    const char *why = r->reason ? r->reason : avail_state_name(r->state);
    r->planned_until = INT64_MIN;
    if (r->state != AV_DOWN) {
        r->cause = g_strdup(why);
        return;
    }
    const struct avail_action *a = action_before(in, r->start);
    if (a) {
        r->planned_until = INT64_MAX;
        r->cause = g_strdup(a->what);
        return;
    }
    const struct avail_window *w = window_at(in, r->start);
    if (w) {
        r->planned_until = w->to_us;
        r->cause = g_strdup_printf("%s, in a maintenance window%s%s", why, w->why ? ": " : "",
                                   w->why ? w->why : "");
        r->cause_past = g_strdup_printf("%s, still down after its maintenance window ended", why);
        return;
    }
    r->cause = g_strdup(why);
}

static GArray *runs_of(const struct avail_input *in)
{
    GArray *runs = g_array_new(FALSE, TRUE, sizeof(struct run));
    for (size_t i = 0; i < in->n_marks; i++) {
        const struct avail_mark *m = &in->marks[i];
        struct run *last = runs->len ? &g_array_index(runs, struct run, runs->len - 1) : NULL;
        if (last && last->end == INT64_MAX && last->state != m->state)
            last->end = m->t_us;
        if (m->state != AV_DOWN && m->state != AV_UNRESPONSIVE)
            continue;
        if (last && last->end == INT64_MAX && last->state == m->state)
            continue; /* the same run goes on (a new reason changes nothing) */
        struct run r = {.start = m->t_us, .end = INT64_MAX, .state = m->state, .reason = m->reason};
        g_array_append_val(runs, r);
    }
    for (guint i = 0; i < runs->len; i++)
        run_decide(in, &g_array_index(runs, struct run, i));
    return runs;
}

static bool covered(const struct avail_input *in, int64_t t)
{
    for (size_t i = 0; i < in->n_spans; i++) {
        if (in->spans[i].from_us <= t && t < in->spans[i].to_us + in->interval_us)
            return true;
    }
    return false;
}

/* The outage of run R's part PART (0: before planned_until, 1: after),
 * made when first met. */
static struct avail_outage *outage_of(const struct avail_input *in, struct run *r, int part,
                                      GPtrArray *outages)
{
    if (r->parts[part])
        return r->parts[part];
    struct avail_outage *o = g_new0(struct avail_outage, 1);
    int64_t start = part ? r->planned_until : r->start;
    o->start_us = MAX(start, in->from_us);
    o->began_before = start < in->from_us;
    o->unresponsive = r->state == AV_UNRESPONSIVE;
    o->planned = r->state == AV_DOWN && !part && r->planned_until > r->start;
    o->cause = g_strdup(part ? r->cause_past : r->cause);
    bool split = r->planned_until > r->start && r->planned_until < r->end;
    int64_t end = part || !split ? r->end : r->planned_until;
    o->open = end > in->to_us;
    o->end_us = MIN(end, in->to_us);
    r->parts[part] = o;
    g_ptr_array_add(outages, o);
    return o;
}

static int cmp_outage(gconstpointer a, gconstpointer b)
{
    const struct avail_outage *x = *(struct avail_outage *const *)a;
    const struct avail_outage *y = *(struct avail_outage *const *)b;
    return x->start_us < y->start_us ? -1 : x->start_us > y->start_us;
}

void avail_compute(const struct avail_input *in, struct avail_report *ret)
{
    avail_report_clear(ret);
    avail_report_init(ret);
    if (in->to_us <= in->from_us)
        return;
    /* The cuts: the period's edges and every edge inside it. */
    g_autoptr(GArray) cuts = g_array_new(FALSE, FALSE, sizeof(int64_t));
#define CUT(t)                                                                                     \
    do {                                                                                           \
        int64_t t_ = (t);                                                                          \
        if (t_ > in->from_us && t_ < in->to_us)                                                    \
            g_array_append_val(cuts, t_);                                                          \
    } while (0)
    g_array_append_val(cuts, in->from_us);
    g_array_append_val(cuts, in->to_us);
    for (size_t i = 0; i < in->n_marks; i++)
        CUT(in->marks[i].t_us);
    for (size_t i = 0; i < in->n_spans; i++) {
        CUT(in->spans[i].from_us);
        CUT(in->spans[i].to_us + in->interval_us);
    }
    for (size_t i = 0; i < in->n_windows; i++) {
        CUT(in->windows[i].from_us);
        CUT(in->windows[i].to_us);
    }
#undef CUT
    qsort(cuts->data, cuts->len, sizeof(int64_t), cmp_i64);

    g_autoptr(GArray) runs = runs_of(in);
    g_autoptr(GPtrArray) outages = g_ptr_array_new();
    size_t mi = 0; /* marks[mi - 1] is the one in force */
    guint ri = 0;  /* runs[ri] is the first that may hold the piece */
    struct avail_totals *t = &ret->t;
    for (guint c = 0; c + 1 < cuts->len; c++) {
        int64_t a = g_array_index(cuts, int64_t, c), b = g_array_index(cuts, int64_t, c + 1);
        if (b <= a)
            continue;
        while (mi < in->n_marks && in->marks[mi].t_us <= a)
            mi++;
        enum avail_state s = mi ? in->marks[mi - 1].state : AV_ABSENT;
        if (s == AV_ABSENT)
            continue;
        bool known = covered(in, a);
        int64_t d = b - a;
        struct run *r = NULL;
        if (s == AV_DOWN || s == AV_UNRESPONSIVE) {
            while (ri < runs->len && g_array_index(runs, struct run, ri).end <= a)
                ri++;
            if (ri < runs->len && g_array_index(runs, struct run, ri).start <= a)
                r = &g_array_index(runs, struct run, ri);
        }
        if (r) {
            int part = r->state == AV_DOWN && r->planned_until > r->start &&
                       r->planned_until != INT64_MAX && a >= r->planned_until;
            struct avail_outage *o = outage_of(in, r, part, outages);
            if (known)
                o->known_us += d;
        }
        if (!known) {
            t->unknown_us += d;
            continue;
        }
        switch (s) {
        case AV_UP:
            t->up_us += d;
            break;
        case AV_HOST_ONLY:
            t->host_only_us += d;
            break;
        case AV_UNRESPONSIVE:
            t->unresponsive_us += d;
            break;
        case AV_DOWN:
            if (r && a < r->planned_until)
                t->planned_us += d;
            else
                t->unplanned_us += d;
            break;
        default:
            break;
        }
    }
    g_ptr_array_sort(outages, cmp_outage);
    for (guint i = 0; i < outages->len; i++) {
        struct avail_outage *o = g_ptr_array_index(outages, i);
        g_array_append_val(ret->outages, *o);
        g_free(o);
    }
    for (guint i = 0; i < runs->len; i++) {
        g_free(g_array_index(runs, struct run, i).cause);
        g_free(g_array_index(runs, struct run, i).cause_past);
    }
    ret->host_view_only = t->host_only_us > 0 && t->up_us == 0 && t->unresponsive_us == 0;
}

void avail_totals_add(struct avail_totals *a, const struct avail_totals *b)
{
    a->up_us += b->up_us;
    a->host_only_us += b->host_only_us;
    a->unresponsive_us += b->unresponsive_us;
    a->planned_us += b->planned_us;
    a->unplanned_us += b->unplanned_us;
    a->unknown_us += b->unknown_us;
}

static int64_t running_us(const struct avail_totals *t)
{
    return t->up_us + t->host_only_us + t->unresponsive_us;
}

double avail_ratio(const struct avail_totals *t)
{
    int64_t all = running_us(t) + t->unplanned_us;
    return all > 0 ? (double)running_us(t) / (double)all : NAN;
}

double avail_responsive_ratio(const struct avail_totals *t)
{
    int64_t all = running_us(t) + t->unplanned_us;
    return all > 0 ? (double)(t->up_us + t->host_only_us) / (double)all : NAN;
}

void avail_slo_eval(const struct avail_totals *t, double target, struct avail_slo *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->target = target;
    int64_t all = running_us(t) + t->unplanned_us;
    ret->budget_us = (int64_t)llround((1.0 - target) * (double)all);
    if (all <= 0) {
        ret->budget_used = NAN;
        ret->burn_rate = NAN;
        ret->met = true;
        return;
    }
    double failed = (double)t->unplanned_us / (double)all;
    ret->budget_used = ret->budget_us > 0    ? (double)t->unplanned_us / (double)ret->budget_us
                       : t->unplanned_us > 0 ? INFINITY
                                             : 0.0;
    ret->burn_rate = target < 1.0 ? failed / (1.0 - target) : (failed > 0 ? INFINITY : 0.0);
    ret->met = 1.0 - failed >= target;
}
