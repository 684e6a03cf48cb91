/*
 * libFuzzer entry point for the qemu-guest-agent reply parsers: any bytes,
 * taken as the reply to guest-get-time, guest-get-cpustats and
 * guest-get-diskstats in turn, must be parsed or refused with a GError,
 * never crash, leak or leave a half-filled sample behind.  Seed corpus:
 * fuzz/corpus/qga/ (the replies of tests/data/collect/qga-*.in).
 */
#include <stddef.h>
#include <stdint.h>

#include "model/sample.h"
#include "virt/collect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *err = NULL;
    json_object *ret = qga_parse_reply((const char *)data, size, &err);
    if (!ret) {
        g_assert(err != NULL);
        g_error_free(err);
        return 0;
    }
    bool (*const apply[])(json_object *, struct guest_sample *, GError **) = {
        qga_apply_time, qga_apply_cpustats, qga_apply_diskstats};
    for (size_t i = 0; i < G_N_ELEMENTS(apply); i++) {
        struct guest_sample s;
        guest_sample_init(&s);
        if (!apply[i](ret, &s, &err)) {
            g_assert(err != NULL);
            g_clear_error(&err);
        } else {
            g_assert(err == NULL);
        }
        guest_sample_clear(&s);
    }
    json_object_put(ret);
    return 0;
}
