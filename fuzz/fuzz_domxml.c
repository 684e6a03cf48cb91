/*
 * libFuzzer target for the three domxml parsers.
 *
 * Build and run with clang (from the repository root):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *       -Isrc fuzz/fuzz_domxml.c src/virt/domxml.c \
 *       $(pkg-config --cflags --libs glib-2.0) -o /tmp/fuzz_domxml
 *   mkdir -p /tmp/domxml-corpus
 *   /tmp/fuzz_domxml -max_total_time=300 -max_len=65536 /tmp/domxml-corpus fuzz/corpus/domxml
 *
 * With gcc the same file links against fuzz/driver.c, which replays
 * fuzz/corpus/domxml/ as a regression test (meson test --suite virt).
 */
#include <stdint.h>
#include <string.h>

#include "virt/domxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parsers take a C string, as libvirt hands them one. */
    g_autofree char *xml = g_malloc(size + 1);
    memcpy(xml, data, size);
    xml[size] = '\0';

    GError *err = NULL;
    struct domxml_domain *d = domxml_domain_parse(xml, &err);
    /* Exactly one of result and error, never both, never neither. */
    if ((d == NULL) == (err == NULL))
        __builtin_trap();
    domxml_domain_free(d);
    g_clear_error(&err);

    struct domxml_caps *c = domxml_caps_parse(xml, &err);
    if ((c == NULL) == (err == NULL))
        __builtin_trap();
    domxml_caps_free(c);
    g_clear_error(&err);

    struct domxml_snapshot *s = domxml_snapshot_parse(xml, &err);
    if ((s == NULL) == (err == NULL))
        __builtin_trap();
    domxml_snapshot_free(s);
    g_clear_error(&err);
    return 0;
}
