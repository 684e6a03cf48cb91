/*
 * libFuzzer entry point for guestdoc_parse(): any bytes must either parse
 * (and then dump and free cleanly) or fail with a GError, never crash or
 * leak.  Seed corpus: fuzz/corpus/guestdoc/.
 */
#include <stddef.h>
#include <stdint.h>

#include "ingest/guestdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *err = NULL;
    struct guestdoc *doc = guestdoc_parse((const char *)data, size, &err);
    if (doc) {
        g_free(guestdoc_to_text(doc));
        guestdoc_free(doc);
    } else {
        g_assert(err != NULL);
        g_error_free(err);
    }
    return 0;
}
