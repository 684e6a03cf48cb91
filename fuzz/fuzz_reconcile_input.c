/*
 * libFuzzer entry point for the reconciliation scenario reader and, through
 * it, the engine: any bytes must either parse (and then replay every round,
 * dump and free cleanly) or fail with a GError, never crash or leak.  The
 * same bytes also go to the persisted-state reader, the other parser of
 * text this module accepts.  Seed corpus: fuzz/corpus/reconcile_input/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "reconcile/reconcile.h"
#include "reconcile/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *err = NULL;
    struct reconcile_scenario *sc = reconcile_scenario_parse((const char *)data, size, &err);
    if (sc) {
        char *text = reconcile_scenario_run(sc, &err);
        /* The state between rounds is the engine's own text: it must
         * always read back. */
        g_assert(text != NULL);
        g_free(text);
        reconcile_scenario_free(sc);
    } else {
        g_assert(err != NULL);
        g_clear_error(&err);
    }

    struct reconcile_state *st = reconcile_state_from_json((const char *)data, size, &err);
    if (st) {
        char *again = reconcile_state_to_json(st);
        struct reconcile_state *st2 = reconcile_state_from_json(again, strlen(again), NULL);
        g_assert(st2 != NULL);
        reconcile_state_free(st2);
        g_free(again);
        reconcile_state_free(st);
    } else {
        g_assert(err != NULL);
        g_clear_error(&err);
    }
    return 0;
}
