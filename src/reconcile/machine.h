/*
 * machine: the rules of a machine that only reports on itself (a server
 * running kanri-guestd, which no hypervisor kanri manages knows): its
 * guest view is all there is, so there is nothing to reconcile, but its
 * own figures still say when it is in trouble (docs/api.md, "Machines").
 *
 *   machine-memory-pressure   available memory under 10 % of the total
 *                             (critical under 5 %); clears at 15 %
 *   machine-filesystem-filling  a filesystem over 90 % used (critical
 *                             over 97 %); clears under 85 %
 *
 * The gap between the opening and the clearing threshold keeps a figure
 * hovering at the line from opening and closing a finding every report.
 * A rule open whose figure is missing from a report stays open as it was.
 *
 * Pure: machine_findings() reads its arguments only.  The findings it
 * returns feed reconcile/lifecycle.h like a VM's.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "model/sample.h"

#define MACHINE_RULE_MEMORY "machine-memory-pressure"
#define MACHINE_RULE_FS     "machine-filesystem-filling"

/* The findings (struct reconcile_finding *, OPEN or CLOSED, with the
 * caller's free function) of sample S at NOW_US, given which rules are
 * open now (OPEN_RULES, NULL-terminated; NULL none).  A rule neither open
 * before nor now is not reported. */
GPtrArray *machine_findings(const struct guest_sample *s, const char *const *open_rules,
                            int64_t now_us);
