/*
 * provision/change: the pure rules of change requests (docs/provisioning.md).
 *
 * A change request bundles actions for one VM or a group, with a reason, a
 * window and a risk, and moves through states:
 *
 *   draft -submit-> submitted -approve-> approved -schedule-> scheduled
 *   approved|scheduled -start-> running -> done | failed | rolled-back
 *   submitted -reject-> rejected;  draft..scheduled -cancel-> cancelled
 *   approved|scheduled -expire-> expired (its window passed unrun)
 *
 * Here: the transitions, who may approve, what the window says at a time,
 * the rollout's batches and the verdict of the checks after a batch.  No
 * I/O, no clock (times are arguments), no logging.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* The state after EVENT in STATE (static strings), or NULL with *ret_why
 * (g_free) saying why not. */
const char *change_next(const char *state, const char *event, char **ret_why);

/* Whether STATE is final (nothing happens to the request any more). */
bool change_final(const char *state);

/* Whether APPROVER (a token id; 0 kanrid itself) may approve a request of
 * REQUESTER: never the requester's own token. */
bool change_may_approve(int64_t requester, int64_t approver, char **ret_why);

enum change_window { CHANGE_WINDOW_BEFORE, CHANGE_WINDOW_OPEN, CHANGE_WINDOW_PASSED };

/* Where NOW is against the window [FROM, TO) (µs; 0 FROM: open from the
 * start; 0 TO: never closes). */
enum change_window change_window_at(int64_t from_us, int64_t to_us, int64_t now_us);

/* The batch of each of N VMs in order (RET, N entries): with CANARY the
 * first alone in batch 0, then the rest BATCH at a time (0: all at once).
 * Returns the number of batches. */
unsigned change_batches(unsigned n, bool canary, unsigned batch, unsigned *ret);

/* What is known of a VM after its actions, for the checks. */
struct change_check_input {
    const char *state;      /* the VM's state now ("running", "shutoff", ...) */
    const char *want_state; /* what its actions leave it in; NULL: any */
    int64_t guest_age_us;   /* since its guest view last came; -1: never */
    int64_t guest_fresh_us; /* the most that age may be; 0: not checked */
    unsigned new_critical;  /* critical findings opened since the request started */
};

/* Whether the checks pass; else *ret_why (g_free) says which failed. */
bool change_check(const struct change_check_input *in, char **ret_why);
