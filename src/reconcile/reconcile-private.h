/*
 * Internals shared by the engine (reconcile.c) and the state code
 * (reconcile-state.c).  Not for use outside src/reconcile.
 */
#pragma once

#include "reconcile/reconcile.h"

/* How one round's evaluation of a rule classifies against its band. */
enum reconcile_class {
    RC_CLASS_UNKNOWN, /* not evaluated: an input was missing */
    RC_CLASS_BELOW,   /* under close_at */
    RC_CLASS_BETWEEN, /* in the hysteresis band */
    RC_CLASS_ABOVE,   /* at or over open_at */
};

/* One rule's evaluation in this round. */
struct reconcile_eval {
    enum reconcile_class cls;
    double measure;
    bool critical; /* the rule's own reason for critical (besides crit_at) */
    char *message; /* owned; for UNKNOWN, why it was not evaluated */
};

void reconcile_track_free(struct reconcile_track *t);

/*
 * The hysteresis step of one rule: PREV (NULL when the finding is closed)
 * and this round's EV give *ret_track (the state to keep, NULL when closed
 * or never opened) and *ret_finding (what to report this round, NULL for
 * nothing).  Both returned objects are new and owned by the caller.
 */
void reconcile_track_step(enum reconcile_rule rule, const struct reconcile_rule_conf *conf,
                          const struct reconcile_track *prev, const struct reconcile_eval *ev,
                          int64_t now_us, struct reconcile_track **ret_track,
                          struct reconcile_finding **ret_finding);
