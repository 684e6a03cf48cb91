/*
 * provision/seed: golden seeds.  A case is "name NAME", "id ID" and "key
 * KEY" lines, then optionally "---" and the user data; the output is the
 * two files, or the error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"
#include "provision/seed.h"

static const char *data_dir;

static char *run(const char *text)
{
    const char *sep = strstr(text, "---\n");
    g_autofree char *head = sep ? g_strndup(text, (gsize)(sep - text)) : g_strdup(text);
    const char *name = NULL, *id = NULL;
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    g_auto(GStrv) lines = g_strsplit(head, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "name "))
            name = lines[i] + 5;
        else if (g_str_has_prefix(lines[i], "id "))
            id = lines[i] + 3;
        else if (g_str_has_prefix(lines[i], "key "))
            g_ptr_array_add(keys, lines[i] + 4);
        else if (*lines[i])
            fail_msg("bad case line '%s'", lines[i]);
    }
    g_autofree char *meta = NULL, *user = NULL;
    g_autoptr(GError) err = NULL;
    if (!seed_files(name, id, sep ? sep + 4 : NULL, (const char *const *)keys->pdata, keys->len,
                    &meta, &user, &err))
        return g_strdup_printf("error: %s\n", err->message);
    return g_strdup_printf("meta-data:\n%suser-data:\n%s", meta, user);
}

static void test_golden(void **state)
{
    (void)state;
    g_autofree char *dir = g_build_filename(data_dir, "seed", NULL);
    golden_each(dir, run, 4);
}

static void test_bounds(void **state)
{
    (void)state;
    g_autoptr(GError) err = NULL;
    g_autofree char *meta = NULL, *user = NULL;
    g_autofree char *big = g_strnfill(SEED_USER_DATA_MAX + 1, 'x');
    assert_false(seed_files("a", "i", big, NULL, 0, &meta, &user, &err));
    g_clear_error(&err);
    const char *many[SEED_KEYS_MAX + 1];
    for (size_t i = 0; i < G_N_ELEMENTS(many); i++)
        many[i] = "ssh-ed25519 AAAA";
    assert_false(seed_files("a", "i", NULL, many, G_N_ELEMENTS(many), &meta, &user, &err));
    g_clear_error(&err);
    assert_true(seed_files("a", "i", NULL, many, SEED_KEYS_MAX, &meta, &user, &err));
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
