/*
 * lifecycle: a VM's findings as the reconciliation reports them each
 * round, and the rows open so far, in; the writes that keep the stored
 * findings true, out.  Pure: no I/O, no clock (NOW_US comes in).
 *
 * The rules (docs/reconciliation.md, "Findings"):
 *   - a finding the engine reports open (or closing: still open to the
 *     user) gets a row when none is open for its rule; the row opened when
 *     the finding did (its changed time), or when its episode began if it
 *     is first seen closing (a state carried over a restart);
 *   - an open row is updated when the severity changes at once, and when
 *     only the measure or message moved, at most every REFRESH_US, so a
 *     finding open on 10 000 VMs does not rewrite 10 000 rows a round;
 *   - a finding reported closed closes its row, at the time it closed;
 *   - an open row of a rule the engine no longer reports at all (its state
 *     was lost, or the rule was disabled) is closed now, saying so, so no
 *     row stays open forever;
 *   - a finding still opening (not yet open_after rounds) is not a row.
 *
 * Ownership: the writes appended to RET own their strings
 * (finding_write_clear); OPEN is updated in place to match them.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/finding.h"
#include "reconcile/reconcile.h"

void lifecycle_apply(const char *uuid, int64_t host_id, const GPtrArray *reported, GPtrArray *open,
                     int64_t now_us, int64_t refresh_us, GArray *ret);
/* REPORTED: struct reconcile_finding * (reconcile_result.findings).
 * OPEN: struct finding_open *, with a free function, of this VM.
 * RET: struct finding_write. */

/* Whether lifecycle_apply() would write anything, judged without the
 * messages (a reconciliation run quietly has none): what the engine asks
 * before it formats them.  OPEN is not changed. */
bool lifecycle_pending(const GPtrArray *reported, const GPtrArray *open, int64_t now_us,
                       int64_t refresh_us);
