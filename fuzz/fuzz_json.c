/*
 * Fuzz target: json_parse_strict(), the bounded strict JSON reader every
 * parser of outside JSON goes through.  Besides never crashing or leaking,
 * it must keep its contract: an error exactly when it fails, no value then,
 * and a value that json-c can write out again.
 */
#include <stdint.h>
#include <stdlib.h>

#include "basic/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct json_limits lim = {.max_bytes = 64 * 1024, .max_depth = 16};
    json_object *v = NULL;
    GError *err = NULL;
    bool ok = json_parse_strict((const char *)data, size, &lim, &v, &err);
    if (ok != (err == NULL) || (!ok && v) || (!ok && err->domain != JSON_ERROR))
        abort();
    if (v && !json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN))
        abort();
    json_object_put(v);
    g_clear_error(&err);
    return 0;
}
