/*
 * Fuzz target: kanri.conf parsing (conf_load_data), which must report
 * problems as messages and never crash on any bytes.
 */
#include <stdint.h>

#include "daemon/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conf *c = conf_new();
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    conf_load_data(c, (const char *)data, size, "fuzz", errors);
    g_ptr_array_unref(errors);
    conf_free(c);
    return 0;
}
