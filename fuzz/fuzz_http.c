/*
 * Fuzz target: the kanri CLI's HTTP response parser (a reply from a server
 * the CLI does not control).  Build with `make fuzz` (clang + libFuzzer).
 */
#include <stdint.h>
#include <stdlib.h>

#include "cli/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *error = NULL;
    struct http_response *r = http_response_parse(data, size, 1 << 20, &error);
    if (r)
        http_response_free(r);
    g_clear_error(&error);
    return 0;
}
