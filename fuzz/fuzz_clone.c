/*
 * libFuzzer target for provisioning's domain XML rewrite: a template's
 * disks read, then the document rewritten with a spec of as many disks and
 * a seed image.  Either a result or an error, never both; the result is
 * itself a domain with the same disks, and rewriting it again gives it back.
 */
#include <stdint.h>
#include <string.h>

#include "provision/clone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = g_malloc(size + 1);
    memcpy(xml, data, size);
    xml[size] = '\0';

    GError *err = NULL;
    unsigned vcpus = 0;
    uint64_t kib = 0;
    if (clone_sizes(xml, &vcpus, &kib, &err) == (err != NULL))
        __builtin_trap();
    g_clear_error(&err);
    GArray *disks = clone_disks(xml, &err);
    if ((disks == NULL) == (err == NULL))
        __builtin_trap();
    g_clear_error(&err);
    if (!disks)
        return 0;
    g_autoptr(GArray) src = g_array_new(FALSE, TRUE, sizeof(struct clone_disk));
    for (guint i = 0; i < disks->len; i++) {
        struct clone_disk d = {.path = "/pool/new&<x>.qcow2", .format = "qcow2"};
        g_array_append_val(src, d);
    }
    struct clone_spec spec = {.name = "n\"ew",
                              .vcpus = 3,
                              .memory_kib = 1024,
                              .disks = (const struct clone_disk *)src->data,
                              .n_disks = src->len,
                              .seed_path = "/pool/seed.iso"};
    char *out = clone_domain_xml(xml, &spec, &err);
    if ((out == NULL) == (err == NULL))
        __builtin_trap();
    g_clear_error(&err);
    if (out) {
        /* The copy is well formed, with the same number of disks and the
         * new sources; rewritten again (without a seed), it is stable. */
        GArray *again = clone_disks(out, &err);
        if (!again || again->len != disks->len)
            __builtin_trap();
        for (guint i = 0; i < again->len; i++)
            if (strcmp(g_array_index(again, struct clone_disk, i).path, "/pool/new&<x>.qcow2"))
                __builtin_trap();
        spec.seed_path = NULL;
        char *twice = clone_domain_xml(out, &spec, &err);
        char *thrice = twice ? clone_domain_xml(twice, &spec, &err) : NULL;
        if (!twice || !thrice || strcmp(twice, thrice) != 0)
            __builtin_trap();
        g_free(twice);
        g_free(thrice);
        g_array_unref(again);
        g_free(out);
    }
    g_array_unref(disks);
    return 0;
}
