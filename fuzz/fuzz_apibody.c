/*
 * Fuzz target: API request bodies (api_parse_body) — size, depth, UTF-8 and
 * syntax checks in front of every handler.
 */
#include <stdint.h>

#include <json-c/json.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *detail = NULL;
    json_object *o = api_parse_body((const char *)data, size, &detail);
    json_object_put(o);
    g_free(detail);
    return 0;
}
