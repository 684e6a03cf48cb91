/*
 * Fuzz target: a container's liblxc configuration as kanri reads it
 * (lxcconf_parse), which must refuse or read any bytes without crashing,
 * and never give an identity that is not a lower-case UUID.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "lxc/lxcconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lxcconf c;
    GError *err = NULL;
    if (lxcconf_parse((const char *)data, size, &c, &err)) {
        if (c.uuid) {
            char *lower = g_ascii_strdown(c.uuid, -1);
            bool ok = g_uuid_string_is_valid(c.uuid) && g_str_equal(lower, c.uuid);
            g_free(lower);
            if (!ok)
                abort();
        }
        lxcconf_clear(&c);
    } else if (!err) {
        abort(); /* a refusal always says why */
    }
    g_clear_error(&err);
    return 0;
}
