/*
 * report/availability: were the VMs up? (docs/reports.md).  Pure: a VM's
 * recorded states and the times kanri was watching in, time up, down,
 * "running but unresponsive" and unknown out, with the outages and their
 * causes; no I/O, no clock.
 *
 * A VM's state is recorded as marks: from each mark's time on it is in
 * that state, until the next mark.  Marks say what the VM was only where
 * kanri was collecting its host (the spans): elsewhere the time is
 * unknown, never up.  Down time is planned when kanri's own action stopped
 * the VM (an action a little before the outage began) or when it began in
 * a maintenance window (planned until the window ends, unplanned after);
 * every other down time is unplanned, and only that counts against
 * availability.  Unresponsive time (the host says running, the guest view
 * went stale or its clock stopped) counts as up, but apart: the loss of a
 * guest agent alone is not downtime.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

enum avail_state {
    AV_ABSENT,       /* not defined (before its first mark, after removal) */
    AV_UP,           /* running, the guest view fresh */
    AV_HOST_ONLY,    /* running; no guest view ever: the host's word alone */
    AV_UNRESPONSIVE, /* running; the guest view went stale or its clock stopped */
    AV_DOWN,         /* not running (shut off, crashed, paused, suspended) */
    AV_N
};

const char *avail_state_name(enum avail_state s); /* "absent", "up", "host-only", ... */
bool avail_state_parse(const char *name, enum avail_state *ret);

/* What one round saw of a VM. */
struct avail_obs {
    bool exists;              /* in its host's inventory */
    const char *host_state;   /* libvirt's: "running", "paused", "shutoff", ... */
    const char *state_reason; /* libvirt's reason ("destroyed", "crashed"); may be NULL */
    bool guest_seen;          /* a guest view (agent, kanri-guestd or balloon) since it started */
    bool guest_fresh;         /* one is fresh this round */
    bool guest_clock_stopped; /* the guest's clock did not advance while it answered */
};

/* The state of O; *ret_reason (static or O's) says why when not up. */
enum avail_state avail_classify(const struct avail_obs *o, const char **ret_reason);

struct avail_mark {
    int64_t t_us;
    enum avail_state state;
    const char *reason; /* may be NULL */
};

struct avail_span { /* kanri collected the VM's host from..to */
    int64_t from_us, to_us;
};

struct avail_window { /* a maintenance window covering the VM */
    int64_t from_us, to_us;
    const char *why;
};

struct avail_action { /* kanri's own action that stops a VM (stop, shutdown, ...) */
    int64_t t_us;
    const char *what; /* "shutdown by alice (audit #12)" */
};

struct avail_input {
    int64_t from_us, to_us; /* the period, [from, to) */
    /* One collection interval: a span's last round holds until one
     * interval after it, and an action that long before an outage began
     * (or after: the round saw it first) is its cause. */
    int64_t interval_us;
    const struct avail_mark *marks; /* by time */
    size_t n_marks;
    const struct avail_span *spans; /* any order */
    size_t n_spans;
    const struct avail_window *windows;
    size_t n_windows;
    const struct avail_action *actions; /* any order */
    size_t n_actions;
};

struct avail_totals {
    int64_t up_us, host_only_us, unresponsive_us;
    int64_t planned_us, unplanned_us; /* down */
    int64_t unknown_us;
};

struct avail_outage {
    int64_t start_us, end_us; /* cut to the period */
    bool began_before;        /* it was already under way when the period began */
    bool open;                /* still under way when the period ended */
    bool unresponsive;        /* a spell of unresponsiveness, not down time */
    bool planned;
    int64_t known_us; /* of its time, what kanri saw (the rest unknown) */
    char *cause;      /* owned */
};

struct avail_report {
    struct avail_totals t;
    GArray *outages; /* struct avail_outage, by start */
    /* It ran, and never with a guest view: its up time is the host's word. */
    bool host_view_only;
};

void avail_report_init(struct avail_report *r);
void avail_report_clear(struct avail_report *r);

void avail_compute(const struct avail_input *in, struct avail_report *ret);

/* Adds B's totals to A's (a group's are the sum of its VMs'). */
void avail_totals_add(struct avail_totals *a, const struct avail_totals *b);

/* Up (with host-only and unresponsive) over up and unplanned down; NaN
 * when there is neither. */
double avail_ratio(const struct avail_totals *t);
/* Up over the same, unresponsive time counted as down. */
double avail_responsive_ratio(const struct avail_totals *t);

struct avail_slo {
    double target;      /* 0.999 */
    int64_t budget_us;  /* the down time the target allows over the period's time */
    double budget_used; /* unplanned / budget (1.0: all of it; NaN: no time) */
    double burn_rate;   /* the rate of failure over the one the target allows */
    bool met;
};

void avail_slo_eval(const struct avail_totals *t, double target, struct avail_slo *ret);
