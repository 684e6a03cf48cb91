/*
 * provision/clone: golden rewrites of domain XML.  A case is a few spec
 * lines, "---", then the template's XML:
 *
 *   name NAME | vcpus N | memory_kib N | disk PATH [FORMAT] | seed PATH
 *
 * The output lists the template's disks as clone_disks() reads them, its
 * sizes as clone_sizes() reads them, then the new VM's XML (only with a
 * name) or the error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"
#include "provision/clone.h"

static const char *data_dir;

static char *run(const char *text)
{
    const char *sep = strstr(text, "---\n");
    assert_non_null(sep);
    g_autofree char *head = g_strndup(text, (gsize)(sep - text));
    const char *xml = sep + 4;
    struct clone_spec spec = {0};
    g_autoptr(GArray) disks = g_array_new(FALSE, TRUE, sizeof(struct clone_disk));
    g_auto(GStrv) lines = g_strsplit(head, "\n", -1);
    g_auto(GStrv) words = NULL;
    for (size_t i = 0; lines[i]; i++) {
        g_strfreev(words);
        words = g_strsplit(lines[i], " ", 3);
        const char *k = words[0], *v = words[0] && *k ? words[1] : NULL;
        if (!v)
            continue;
        if (strcmp(k, "name") == 0)
            spec.name = g_intern_string(v);
        else if (strcmp(k, "vcpus") == 0)
            spec.vcpus = (unsigned)g_ascii_strtoull(v, NULL, 10);
        else if (strcmp(k, "memory_kib") == 0)
            spec.memory_kib = g_ascii_strtoull(v, NULL, 10);
        else if (strcmp(k, "seed") == 0)
            spec.seed_path = g_intern_string(v);
        else if (strcmp(k, "disk") == 0) {
            struct clone_disk d = {.path = (char *)g_intern_string(v),
                                   .format = words[2] ? (char *)g_intern_string(words[2]) : NULL};
            g_array_append_val(disks, d);
        } else
            fail_msg("unknown spec line '%s'", lines[i]);
    }
    GString *out = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) got = clone_disks(xml, &err);
    if (!got) {
        g_string_append_printf(out, "disks: error: %s\n", err->message);
        g_clear_error(&err);
    } else {
        for (guint i = 0; i < got->len; i++) {
            const struct clone_disk *d = &g_array_index(got, struct clone_disk, i);
            g_string_append_printf(out, "disk %s %s %s\n", d->target ? d->target : "-", d->path,
                                   d->format ? d->format : "-");
        }
    }
    unsigned vcpus = 0;
    uint64_t kib = 0;
    if (clone_sizes(xml, &vcpus, &kib, &err))
        g_string_append_printf(out, "sizes %u vCPUs %" G_GUINT64_FORMAT " KiB\n", vcpus, kib);
    else
        g_string_append_printf(out, "sizes: error: %s\n", err->message);
    g_clear_error(&err);
    if (spec.name) {
        spec.disks = (const struct clone_disk *)disks->data;
        spec.n_disks = disks->len;
        g_autofree char *res = clone_domain_xml(xml, &spec, &err);
        if (res)
            g_string_append_printf(out, "---\n%s", res);
        else
            g_string_append_printf(out, "error: %s\n", err->message);
    }
    return g_string_free(out, FALSE);
}

static void test_golden(void **state)
{
    (void)state;
    g_autofree char *dir = g_build_filename(data_dir, "clone", NULL);
    golden_each(dir, run, 8);
}

/* Bounds and the spec's own mistakes, which no document can cause. */
static void test_bounds(void **state)
{
    (void)state;
    g_autoptr(GError) err = NULL;
    struct clone_spec spec = {.name = "x"};
    assert_null(clone_domain_xml("", &spec, &err));
    assert_true(g_error_matches(err, CLONE_ERROR, CLONE_ERR_PARSE));
    g_clear_error(&err);

    g_autofree char *big = g_strnfill(CLONE_XML_MAX + 1, ' ');
    assert_null(clone_disks(big, &err));
    assert_true(g_error_matches(err, CLONE_ERROR, CLONE_ERR_PARSE));
    g_clear_error(&err);

    GString *deep = g_string_new("<domain>");
    for (int i = 0; i < CLONE_MAX_DEPTH; i++)
        g_string_append(deep, "<a>");
    for (int i = 0; i < CLONE_MAX_DEPTH; i++)
        g_string_append(deep, "</a>");
    g_string_append(deep, "</domain>");
    assert_null(clone_disks(deep->str, &err));
    assert_non_null(strstr(err->message, "deeper"));
    g_clear_error(&err);
    g_string_free(deep, TRUE);

    GString *many = g_string_new("<domain><devices>");
    for (int i = 0; i <= CLONE_MAX_DISKS; i++)
        g_string_append_printf(many, "<disk><source file='/d%d'/></disk>", i);
    g_string_append(many, "</devices></domain>");
    assert_null(clone_disks(many->str, &err));
    assert_true(g_error_matches(err, CLONE_ERROR, CLONE_ERR_DISK));
    g_clear_error(&err);
    g_string_free(many, TRUE);

    struct clone_disk nopath = {0};
    struct clone_spec s2 = {.name = "x", .disks = &nopath, .n_disks = 1};
    assert_null(clone_domain_xml("<domain/>", &s2, &err));
    assert_true(g_error_matches(err, CLONE_ERROR, CLONE_ERR_SPEC));
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/provision";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
