/*
 * Golden tests for domxml: every tests/data/domxml/<kind>-<case>.xml is
 * parsed by the parser its prefix names (domain-, caps-, snapshot-), the
 * result is dumped as "key: value" lines (or "error: <code> <message>"), and
 * the dump must equal <kind>-<case>.out.  KANRI_REGEN_GOLDEN=1 rewrites the
 * .out files instead; review the changes before committing them.
 *
 * Usage: test_domxml DATA_DIR   (DATA_DIR is tests/data)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../golden.h"

#include "virt/domxml.h"

static const char *data_dir;

/* Values are printed on one line, and a golden file must not depend on how
 * an editor treats control characters or broken UTF-8, so both are escaped. */
static void put_escaped(GString *out, const char *s)
{
    bool utf8 = g_utf8_validate(s, -1, NULL);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '\\' || (*p >= 0x80 && !utf8))
            g_string_append_printf(out, "\\x%02x", *p);
        else
            g_string_append_c(out, (char)*p);
    }
}

G_GNUC_PRINTF(3, 4)
static void put(GString *out, const char *value, const char *keyfmt, ...)
{
    va_list ap;
    va_start(ap, keyfmt);
    g_string_append_vprintf(out, keyfmt, ap);
    va_end(ap);
    g_string_append(out, ": ");
    if (value)
        put_escaped(out, value);
    else
        g_string_append(out, "(none)");
    g_string_append_c(out, '\n');
}

static const char *code_name(int code)
{
    switch (code) {
    case DOMXML_ERROR_TOO_LARGE:
        return "too-large";
    case DOMXML_ERROR_SYNTAX:
        return "syntax";
    case DOMXML_ERROR_INVALID:
        return "invalid";
    }
    return "unknown";
}

static void put_error(GString *out, const GError *err)
{
    assert_non_null(err);
    assert_true(err->domain == DOMXML_ERROR);
    g_string_append_printf(out, "error: %s ", code_name(err->code));
    put_escaped(out, err->message);
    g_string_append_c(out, '\n');
}

static void dump_domain(GString *out, const char *xml)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(domxml_domain) d = domxml_domain_parse(xml, &err);
    if (!d) {
        put_error(out, err);
        return;
    }
    assert_null(err);
    put(out, d->name, "name");
    put(out, d->uuid, "uuid");
    put(out, d->domain_type, "domain_type");
    put(out, d->os_type, "os_type");
    g_string_append_printf(out, "vcpus: %u\nmax_vcpus: %u\n", d->vcpus, d->max_vcpus);
    g_string_append_printf(out, "memory_bytes: %" G_GUINT64_FORMAT "\n", d->memory_bytes);
    g_string_append_printf(out, "max_memory_bytes: %" G_GUINT64_FORMAT "\n", d->max_memory_bytes);
    put(out, d->balloon_model, "balloon_model");
    g_string_append_printf(out, "balloon_stats_period: %d\n", d->balloon_stats_period);
    g_string_append_printf(out, "has_guest_agent: %s\n", d->has_guest_agent ? "yes" : "no");
    g_string_append_printf(out, "disks: %u\n", d->disks->len);
    for (unsigned i = 0; i < d->disks->len; i++) {
        const struct domxml_disk *k = g_ptr_array_index(d->disks, i);
        put(out, k->target, "disk[%u].target", i);
        put(out, k->bus, "disk[%u].bus", i);
        put(out, k->device, "disk[%u].device", i);
        put(out, k->type, "disk[%u].type", i);
        put(out, k->source, "disk[%u].source", i);
        put(out, k->format, "disk[%u].format", i);
        g_string_append_printf(out, "disk[%u].readonly: %s\n", i, k->readonly ? "yes" : "no");
    }
    g_string_append_printf(out, "nics: %u\n", d->nics->len);
    for (unsigned i = 0; i < d->nics->len; i++) {
        const struct domxml_nic *n = g_ptr_array_index(d->nics, i);
        put(out, n->mac, "nic[%u].mac", i);
        put(out, n->type, "nic[%u].type", i);
        put(out, n->source, "nic[%u].source", i);
        put(out, n->model, "nic[%u].model", i);
        put(out, n->target, "nic[%u].target", i);
    }
}

static void dump_caps(GString *out, const char *xml)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(domxml_caps) c = domxml_caps_parse(xml, &err);
    if (!c) {
        put_error(out, err);
        return;
    }
    put(out, c->host_uuid, "host_uuid");
    put(out, c->arch, "arch");
    put(out, c->cpu_model, "cpu_model");
    g_string_append_printf(out, "numa_cells: %u\n", c->numa_cells);
}

static void dump_snapshot(GString *out, const char *xml)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(domxml_snapshot) s = domxml_snapshot_parse(xml, &err);
    if (!s) {
        put_error(out, err);
        return;
    }
    put(out, s->name, "name");
    put(out, s->description, "description");
    put(out, s->state, "state");
    put(out, s->parent, "parent");
    g_string_append_printf(out, "creation_time: %" G_GINT64_FORMAT "\n", s->creation_time);
}

static void test_golden(void **state)
{
    const char *name = *state;
    g_autofree char *path = g_build_filename(data_dir, "domxml", name, NULL);
    g_autofree char *xml = NULL;
    g_autoptr(GError) err = NULL;
    gsize len;

    if (!g_file_get_contents(path, &xml, &len, &err))
        fail_msg("%s", err->message);
    g_autoptr(GString) out = g_string_new(NULL);
    if (g_str_has_prefix(name, "domain-"))
        dump_domain(out, xml);
    else if (g_str_has_prefix(name, "caps-"))
        dump_caps(out, xml);
    else if (g_str_has_prefix(name, "snapshot-"))
        dump_snapshot(out, xml);
    else
        fail_msg("%s: name must start with domain-, caps- or snapshot-", name);

    g_autofree char *stem = g_strndup(path, strlen(path) - strlen(".xml"));
    g_autofree char *golden_path = g_strconcat(stem, ".out", NULL);
    golden_check(golden_path, out->str);
}

/* Bounds that would need megabyte-sized data files are tested in code. */

static char *domain_with_disks(unsigned n)
{
    GString *s = g_string_new("<domain type='qemu'><name>many</name>"
                              "<uuid>11111111-2222-3333-4444-555555555555</uuid>"
                              "<memory>1024</memory><devices>");
    for (unsigned i = 0; i < n; i++)
        g_string_append_printf(s,
                               "<disk type='file'><source file='/d%u'/>"
                               "<target dev='vd%u'/></disk>",
                               i, i);
    g_string_append(s, "</devices></domain>");
    return g_string_free(s, FALSE);
}

static void test_max_devices_ok(void **state)
{
    g_autofree char *xml = domain_with_disks(DOMXML_MAX_DEVICES);
    g_autoptr(GError) err = NULL;
    g_autoptr(domxml_domain) d = domxml_domain_parse(xml, &err);
    assert_non_null(d);
    assert_int_equal(d->disks->len, DOMXML_MAX_DEVICES);
}

static void test_10000_disks(void **state)
{
    g_autofree char *xml = domain_with_disks(10000);
    g_autoptr(GError) err = NULL;
    g_autoptr(domxml_domain) d = domxml_domain_parse(xml, &err);
    assert_null(d);
    assert_true(g_error_matches(err, DOMXML_ERROR, DOMXML_ERROR_TOO_LARGE));
}

static void test_too_large(void **state)
{
    /* Valid XML, just too big: the size check must come before parsing. */
    GString *s = g_string_new("<domain><name>big</name>"
                              "<uuid>11111111-2222-3333-4444-555555555555</uuid>"
                              "<memory>1</memory><description>");
    while (s->len <= DOMXML_MAX_BYTES)
        g_string_append(s, "0123456789abcdef");
    g_string_append(s, "</description></domain>");
    g_autofree char *xml = g_string_free(s, FALSE);
    g_autoptr(GError) err = NULL;

    assert_null(domxml_domain_parse(xml, &err));
    assert_true(g_error_matches(err, DOMXML_ERROR, DOMXML_ERROR_TOO_LARGE));
    g_clear_error(&err);
    assert_null(domxml_caps_parse(xml, &err));
    assert_true(g_error_matches(err, DOMXML_ERROR, DOMXML_ERROR_TOO_LARGE));
    g_clear_error(&err);
    assert_null(domxml_snapshot_parse(xml, &err));
    assert_true(g_error_matches(err, DOMXML_ERROR, DOMXML_ERROR_TOO_LARGE));
}

static void test_null_and_free(void **state)
{
    g_autoptr(GError) err = NULL;
    assert_null(domxml_domain_parse(NULL, &err));
    assert_true(g_error_matches(err, DOMXML_ERROR, DOMXML_ERROR_INVALID));
    /* A NULL GError ** is allowed, like everywhere in GLib. */
    assert_null(domxml_caps_parse("<nope", NULL));
    domxml_domain_free(NULL);
    domxml_caps_free(NULL);
    domxml_snapshot_free(NULL);
}

static int by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_max_devices_ok),
        cmocka_unit_test(test_10000_disks),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_null_and_free),
    };
    data_dir = argc > 1 ? argv[1] : g_getenv("KANRI_UNIT_DATA_DIR");
    if (!data_dir) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }

    g_autofree char *dir_path = g_build_filename(data_dir, "domxml", NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, &err);
    if (!dir) {
        fprintf(stderr, "%s\n", err->message);
        return 2;
    }
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *e;
    while ((e = g_dir_read_name(dir)))
        if (g_str_has_suffix(e, ".xml"))
            g_ptr_array_add(names, g_strdup(e));
    g_ptr_array_sort(names, by_name);

    size_t n = G_N_ELEMENTS(fixed) + names->len;
    g_autofree struct CMUnitTest *tests = g_new0(struct CMUnitTest, n);
    memcpy(tests, fixed, sizeof(fixed));
    for (unsigned i = 0; i < names->len; i++) {
        struct CMUnitTest *t = &tests[G_N_ELEMENTS(fixed) + i];
        t->name = g_ptr_array_index(names, i);
        t->test_func = test_golden;
        t->initial_state = g_ptr_array_index(names, i);
    }
    return _cmocka_run_group_tests("domxml", tests, n, NULL, NULL);
}
