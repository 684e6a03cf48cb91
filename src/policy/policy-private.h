/*
 * Helpers shared by the policies' sources (policy.c, memory.c,
 * balance.c); not part of the interface.
 */
#pragma once

#include "policy/policy.h"

#include <json-c/json.h>

#define MIB (1024.0 * 1024.0)

struct policy_plan *policy_plan_new(unsigned balance_rounds);

/* A new decision appended to P (which owns it); strings are copied.  VM
 * may be NULL for a host-wide decision.  The caller sets what else
 * applies (memory, previous, to_host_id, evacuation) and hands INPUTS and
 * EXPECTED over with decision_set_json(). */
struct policy_decision *policy_decision_add(struct policy_plan *p, enum policy_kind kind,
                                            const struct policy_vm *vm, int64_t host_id,
                                            const char *rule, enum policy_action action,
                                            char *reason);

/* Serialises and drops INPUTS and EXPECTED (either may be NULL). */
void policy_decision_set_json(struct policy_decision *d, json_object *inputs,
                              json_object *expected);

/* A number for the record: null when absent, an integer when whole (bytes),
 * else at most three decimals (percent, cores, seconds). */
json_object *policy_jnum(double v);

/* One figure as {"value", "provenance", "age_s"}. */
json_object *policy_jfig(const struct policy_fig *f);

/* Texts for reasons, kept in SCRATCH (freed with it) so that several fit
 * in one format: "1126.4 MiB", "2048 MiB" (a tenth where it matters), "?"
 * when absent; a rate as "4 KiB/s" or "1.5 MiB/s". */
const char *policy_mib(GPtrArray *scratch, double bytes);
const char *policy_rate(GPtrArray *scratch, double bytes_s);

/* A plain JSON text of O without escaping slashes (json-c's default). */
char *policy_json_text(json_object *o);
