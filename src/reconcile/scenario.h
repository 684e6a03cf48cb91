/*
 * scenario: a VM's history as a small JSON document, replayed through the
 * engine round by round, with the results as stable text.  The golden tests
 * (tests/data/reconcile/<case>.in -> .out) and the fuzz target use it, and
 * the accuracy benchmark (bench/reconcile, phase 2) is to replay recorded
 * histories with it.  The format is described in docs/reconciliation.md
 * ("Test scenarios").
 *
 * The text is outside input: it is bounded (SCENARIO_MAX_BYTES, depth,
 * counts) and checked against a table of expected fields; the first problem
 * ends parsing with a GError naming the field.
 *
 * Ownership: reconcile_scenario_parse() returns a scenario owned by the
 * caller (reconcile_scenario_free(), or g_autoptr(reconcile_scenario)).
 * reconcile_scenario_run() returns new text (g_free).
 */
#pragma once

#include <glib.h>
#include <stddef.h>

#define SCENARIO_MAX_BYTES  (1024 * 1024)
#define SCENARIO_MAX_DEPTH  8
#define SCENARIO_MAX_ROUNDS 500
#define SCENARIO_MAX_ITEMS  64 /* disks, pools, blocks, config entries */

struct reconcile_scenario;

struct reconcile_scenario *reconcile_scenario_parse(const char *text, size_t len, GError **error);
void reconcile_scenario_free(struct reconcile_scenario *sc);
typedef struct reconcile_scenario reconcile_scenario; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(reconcile_scenario, reconcile_scenario_free)

/*
 * Runs every round and returns the dump.  Between rounds the engine state
 * goes through its text form (reconcile_state_to_json/_from_json), so the
 * persistence path is exercised on every round; NULL with *error only if
 * that fails.
 */
char *reconcile_scenario_run(const struct reconcile_scenario *sc, GError **error);
