/*
 * guestdoc_parse(): golden documents (tests/data/ingest/<case>.in → .out,
 * the text dump or the error), the agent's own golden documents
 * (every tests/data/guest/<case>.out must be accepted: the two sides agree on the
 * format), and generated hostile input.  KANRI_REGEN_GOLDEN=1 rewrites the
 * .out files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"

#include "ingest/guestdoc.h"

#define DATA TEST_DATA_DIR

static const char *code_name(int code)
{
    switch (code) {
    case GUESTDOC_ERROR_TOO_LARGE:
        return "too-large";
    case GUESTDOC_ERROR_ENCODING:
        return "encoding";
    case GUESTDOC_ERROR_SYNTAX:
        return "syntax";
    case GUESTDOC_ERROR_INVALID:
        return "invalid";
    }
    return "?";
}

static char *parse_to_text(const char *body, size_t len)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(guestdoc) doc = guestdoc_parse(body, len, &err);
    if (!doc) {
        assert_non_null(err);
        assert_true(err->domain == GUESTDOC_ERROR);
        return g_strdup_printf("error (%s): %s\n", code_name(err->code), err->message);
    }
    assert_null(err);
    return guestdoc_to_text(doc);
}

static GPtrArray *list_dir(const char *dir, const char *suffix)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    assert_non_null(d);
    const char *n;
    while ((n = g_dir_read_name(d)))
        if (g_str_has_suffix(n, suffix))
            g_ptr_array_add(names, g_strdup(n));
    g_ptr_array_sort(names, (GCompareFunc)g_ascii_strcasecmp);
    return names;
}

static void test_golden(void **state)
{
    g_autofree char *dir = g_build_filename(DATA, "ingest", NULL);
    g_autoptr(GPtrArray) names = list_dir(dir, ".in");
    assert_true(names->len >= 10);
    for (guint i = 0; i < names->len; i++) {
        const char *name = names->pdata[i];
        g_autofree char *in = g_build_filename(dir, name, NULL);
        g_autofree char *stem = g_strndup(name, strlen(name) - 3);
        g_autofree char *out = g_strconcat(dir, "/", stem, ".out", NULL);
        g_autofree char *body = NULL;
        gsize len;
        assert_true(g_file_get_contents(in, &body, &len, NULL));
        g_autofree char *text = parse_to_text(body, len);
        /* Cases named err_* must fail, the others must parse. */
        bool is_err = g_str_has_prefix(name, "err_");
        if (is_err != g_str_has_prefix(text, "error"))
            fail_msg("%s: unexpected result: %.200s", name, text);
        golden_check(out, text);
    }
}

/* Whatever kanri-guestd writes, kanrid accepts. */
static void test_agent_documents(void **state)
{
    g_autofree char *dir = g_build_filename(DATA, "guest", NULL);
    g_autoptr(GPtrArray) names = list_dir(dir, ".out");
    assert_true(names->len >= 4);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_build_filename(dir, names->pdata[i], NULL);
        g_autofree char *body = NULL;
        gsize len;
        assert_true(g_file_get_contents(path, &body, &len, NULL));
        g_autoptr(GError) err = NULL;
        g_autoptr(guestdoc) doc = guestdoc_parse(body, len, &err);
        if (!doc)
            fail_msg("%s rejected: %s", (char *)names->pdata[i], err->message);
        assert_true(doc->seq == 42);
    }
}

static char *read_data(const char *rel, gsize *len)
{
    g_autofree char *path = g_build_filename(DATA, rel, NULL);
    char *body = NULL;
    assert_true(g_file_get_contents(path, &body, len, NULL));
    return body;
}

static void assert_error(const char *body, size_t len, int code, const char *msg_part)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(guestdoc) doc = guestdoc_parse(body, len, &err);
    assert_null(doc);
    assert_non_null(err);
    if (err->code != code || !strstr(err->message, msg_part))
        fail_msg("got code %d \"%s\", wanted code %d with \"%s\"", err->code, err->message, code,
                 msg_part);
}

static void test_oversized(void **state)
{
    /* Valid JSON, but one byte past the bound: refused before parsing. */
    size_t len = GUESTDOC_MAX_BYTES + 1;
    char *body = g_malloc(len);
    memset(body, ' ', len);
    body[0] = '{';
    body[len - 1] = '}';
    assert_error(body, len, GUESTDOC_ERROR_TOO_LARGE, "too large");
    g_free(body);
}

static void test_deep_nesting(void **state)
{
    GString *s = g_string_new("{\"schema\":1,\"x\":");
    for (int i = 0; i < 10000; i++)
        g_string_append_c(s, '[');
    for (int i = 0; i < 10000; i++)
        g_string_append_c(s, ']');
    g_string_append_c(s, '}');
    assert_error(s->str, s->len, GUESTDOC_ERROR_SYNTAX, "JSON nested deeper than 16 levels");
    g_string_free(s, TRUE);
}

static void test_too_many_cpus(void **state)
{
    gsize len;
    g_autofree char *body = read_data("ingest/minimal.in", &len);
    /* Replace the closing brace with a cpu object of 300 entries. */
    GString *s = g_string_new_len(body, (gssize)len);
    g_string_truncate(s, strrchr(s->str, '}') - s->str);
    g_string_append(s, ",\"cpu\":{\"count\":256,\"total\":{\"user\":0,\"nice\":0,\"system\":0,"
                       "\"idle\":0,\"iowait\":0,\"irq\":0,\"softirq\":0,\"steal\":0,\"guest\":0,"
                       "\"guest_nice\":0},\"per_cpu\":[");
    for (int i = 0; i < 300; i++)
        g_string_append_printf(s, "%s{\"cpu\":%d}", i ? "," : "", i);
    g_string_append(s, "]}}");
    assert_error(s->str, s->len, GUESTDOC_ERROR_INVALID,
                 "cpu.per_cpu: too many elements (300, at most 256)");
    g_string_free(s, TRUE);
}

/* Every prefix of a valid document fails cleanly (and never crashes). */
static void test_every_truncation(void **state)
{
    gsize len;
    g_autofree char *body = read_data("ingest/container.in", &len);
    for (gsize n = 0; n + 1 < len; n++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(guestdoc) doc = guestdoc_parse(body, n, &err);
        if (doc)
            fail_msg("prefix of %zu bytes accepted", n);
        assert_non_null(err);
    }
}

/* Each single byte flipped to garbage: parse or fail, without leaks. */
static void test_byte_flips(void **state)
{
    gsize len;
    g_autofree char *body = read_data("ingest/container.in", &len);
    g_autofree char *copy = g_memdup2(body, len);
    static const char junk[] = {'"', '-', '9', '}', ']', '\\', '\0', '\xff', 'e'};
    for (gsize i = 0; i < len; i += 3) {
        for (size_t j = 0; j < sizeof(junk); j++) {
            copy[i] = junk[j];
            g_autoptr(GError) err = NULL;
            g_autoptr(guestdoc) doc = guestdoc_parse(copy, len, &err);
            assert_true((doc == NULL) == (err != NULL));
        }
        copy[i] = body[i];
    }
}

static void test_values(void **state)
{
    gsize len;
    g_autofree char *body = read_data("ingest/container.in", &len);
    g_autoptr(GError) err = NULL;
    g_autoptr(guestdoc) doc = guestdoc_parse(body, len, &err);
    assert_non_null(doc);
    assert_true(doc->has_cgroup);
    assert_true(doc->cgroup.memory_max_bytes == 536870912);
    assert_true(doc->cgroup.memory_high_bytes == GUESTDOC_UNLIMITED);
    assert_true(doc->cgroup.cpu_quota_us == 50000);
    assert_int_equal(doc->id_source, GUESTDOC_ID_GENERATED);
}

/* A container's agent names its machine by KANRI_CONTAINER_UUID; the
 * document is accepted like any other and says so. */
static void test_id_source_container(void **state)
{
    gsize len;
    g_autofree char *body = read_data("ingest/id_container.in", &len);
    g_autoptr(GError) err = NULL;
    g_autoptr(guestdoc) doc = guestdoc_parse(body, len, &err);
    assert_non_null(doc);
    assert_null(err);
    assert_int_equal(doc->id_source, GUESTDOC_ID_CONTAINER);
    assert_string_equal(guestdoc_id_source_name(doc->id_source), "container");
    assert_string_equal(doc->machine_id, "6f1c2b9e-3d4a-4e5f-8a7b-9c0d1e2f3a4b");
}

static void test_minimal_absent(void **state)
{
    gsize len;
    g_autofree char *body = read_data("ingest/minimal.in", &len);
    g_autoptr(GError) err = NULL;
    g_autoptr(guestdoc) doc = guestdoc_parse(body, len, &err);
    assert_non_null(doc);
    assert_false(doc->has_cpu);
    assert_false(doc->has_memory);
    assert_true(doc->memory.free_bytes == GUESTDOC_ABSENT);
    assert_true(doc->boot_time == GUESTDOC_ABSENT);
    assert_int_equal(doc->n_disks, 0);
    guestdoc_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),         cmocka_unit_test(test_agent_documents),
        cmocka_unit_test(test_oversized),      cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_too_many_cpus),  cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_byte_flips),     cmocka_unit_test(test_values),
        cmocka_unit_test(test_minimal_absent), cmocka_unit_test(test_id_source_container),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
