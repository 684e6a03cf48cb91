/*
 * Golden tests for diff: every tests/data/diff/<case>.a and <case>.b pair is
 * diffed with labels "<case>.a" / "<case>.b" and the result must equal
 * <case>.out.  KANRI_REGEN_GOLDEN=1 rewrites the .out files instead (review
 * them before committing).  Each result is also checked three other ways:
 * against GNU `diff -u` when it is installed (our output is meant to be
 * byte-identical for these cases), by applying it to <case>.a and getting
 * <case>.b back, and by counting its lines against diff_stat().
 *
 * Usage: test_diff DATA_DIR   (DATA_DIR is tests/data)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../golden.h"

#include "basic/diff.h"

static const char *data_dir;

/* Lines of `text`, each with its '\n' when `keep_newline` and it has one.
 * (Not g_strsplit(): it calls strstr() per line, which ASan makes cost the
 * whole remaining text, and these tests split 200000-line diffs.) */
static GPtrArray *split(const char *text, bool keep_newline)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) + 1 : strlen(text);
        g_ptr_array_add(lines, g_strndup(text, nl && !keep_newline ? len - 1 : len));
        text += len;
    }
    return lines;
}

/* An independent reader of the format: applies `diff` to `a` and returns
 * the result, or NULL if the diff does not fit `a`.  Written from the
 * format's description, not from diff.c, so both cannot share a mistake. */
static char *patch_apply(const char *a, const char *diff)
{
    g_autoptr(GPtrArray) al = split(a, true);
    g_autoptr(GPtrArray) dl = split(diff, false);
    GString *out = g_string_new(NULL);
    unsigned pos = 0;

    for (unsigned i = 2; i < dl->len; i++) {
        const char *l = g_ptr_array_index(dl, i);
        if (g_str_has_prefix(l, "@@ -")) {
            /* "-s,0" puts the hunk after line s, otherwise it starts at s. */
            char *end;
            long start = strtol(l + 4, &end, 10);
            bool empty = *end == ',' && strtol(end + 1, NULL, 10) == 0;
            long target = empty ? start : start - 1;
            if (target < (long)pos || target > (long)al->len)
                goto bad;
            for (; pos < target; pos++)
                g_string_append(out, g_ptr_array_index(al, pos));
            continue;
        }
        if (l[0] == '\\')
            continue; /* consumed with the line before it */
        /* The line's text is l + 1, plus '\n' unless the next diff line
         * says there is none. */
        bool no_nl = i + 1 < dl->len &&
                     strcmp(g_ptr_array_index(dl, i + 1), "\\ No newline at end of file") == 0;
        g_autofree char *line = g_strconcat(l + 1, no_nl ? "" : "\n", NULL);
        if (l[0] == ' ' || l[0] == '-') {
            if (pos >= al->len || strcmp(g_ptr_array_index(al, pos), line) != 0)
                goto bad;
            pos++;
        } else if (l[0] != '+') {
            goto bad;
        }
        if (l[0] != '-')
            g_string_append(out, line);
    }
    for (; pos < al->len; pos++)
        g_string_append(out, g_ptr_array_index(al, pos));
    return g_string_free(out, FALSE);
bad:
    g_string_free(out, TRUE);
    return NULL;
}

static void count_lines(const char *diff, unsigned *added, unsigned *removed)
{
    g_autoptr(GPtrArray) lines = split(diff, false);
    *added = *removed = 0;
    /* Our diffs hold one file, so the header is exactly the first two lines. */
    for (unsigned i = 2; i < lines->len; i++) {
        const char *l = g_ptr_array_index(lines, i);
        if (l[0] == '+')
            (*added)++;
        else if (l[0] == '-')
            (*removed)++;
    }
}

/* Everything a diff must satisfy whatever its inputs. */
static void check_properties(const char *a, const char *b, const char *diff)
{
    unsigned added, removed, want_added, want_removed;

    if (strcmp(a, b) == 0) {
        assert_string_equal(diff, "");
        return;
    }
    g_autofree char *patched = patch_apply(a, diff);
    if (!patched || strcmp(patched, b) != 0) {
        print_error("diff does not turn a into b:\n%s", diff);
        fail();
    }
    diff_stat(diff, &added, &removed);
    count_lines(diff, &want_added, &want_removed);
    assert_int_equal(added, want_added);
    assert_int_equal(removed, want_removed);
}

/* GNU diff's output for the same files, or NULL when it is not installed. */
static char *gnu_diff(const char *path_a, const char *path_b, const char *label_a,
                      const char *label_b)
{
    g_autofree char *prog = g_find_program_in_path("diff");
    const char *argv[] = {prog, "-u", "--label", label_a, "--label", label_b, path_a, path_b, NULL};
    char *out = NULL;
    int status;

    if (!prog)
        return NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                      &status, NULL))
        return NULL;
    return out;
}

static void test_golden(void **state)
{
    const char *name = *state;
    g_autofree char *base = g_build_filename(data_dir, "diff", name, NULL);
    g_autofree char *path_a = g_strconcat(base, ".a", NULL);
    g_autofree char *path_b = g_strconcat(base, ".b", NULL);
    g_autofree char *path_out = g_strconcat(base, ".out", NULL);
    g_autofree char *label_a = g_strconcat(name, ".a", NULL);
    g_autofree char *label_b = g_strconcat(name, ".b", NULL);
    g_autofree char *a = NULL, *b = NULL;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path_a, &a, NULL, &err) ||
        !g_file_get_contents(path_b, &b, NULL, &err))
        fail_msg("%s", err->message);
    g_autofree char *diff = diff_unified(a, b, label_a, label_b);
    check_properties(a, b, diff);

    g_autofree char *gnu = gnu_diff(path_a, path_b, label_a, label_b);
    if (gnu && strcmp(gnu, diff) != 0) {
        print_error("differs from GNU diff -u:\n--- GNU\n%s--- ours\n%s", gnu, diff);
        fail();
    }

    golden_check(path_out, diff);
}

/* Random texts over a few distinct lines make many equally short diffs
 * possible, which is where a search goes wrong if it does. */
static char *random_text(GRand *r, int max_lines, int alphabet)
{
    GString *s = g_string_new(NULL);
    int n = g_rand_int_range(r, 0, max_lines + 1);
    for (int i = 0; i < n; i++)
        g_string_append_printf(s, "line %d\n", g_rand_int_range(r, 0, alphabet));
    if (s->len > 0 && g_rand_boolean(r))
        g_string_truncate(s, s->len - 1);
    return g_string_free(s, FALSE);
}

static void test_random_properties(void **state)
{
    g_autoptr(GRand) r = g_rand_new_with_seed(42);
    for (int iter = 0; iter < 3000; iter++) {
        int alphabet = g_rand_int_range(r, 1, 12);
        g_autofree char *a = random_text(r, 30, alphabet);
        g_autofree char *b = random_text(r, 30, alphabet);
        g_autofree char *diff = diff_unified(a, b, "a", "b");
        check_properties(a, b, diff);
    }
}

static char *numbered_lines(int n, int mult, int mod)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < n; i++)
        g_string_append_printf(s, "%d\n", (int)(((long)i * mult) % mod));
    return g_string_free(s, FALSE);
}

static void assert_single_replacement(const char *diff, int n_a, int n_b)
{
    g_autofree char *header = g_strdup_printf("--- a\n+++ b\n@@ -1,%d +1,%d @@\n", n_a, n_b);
    assert_true(g_str_has_prefix(diff, header));
    assert_null(strstr(diff + strlen(header), "@@"));
    unsigned added, removed;
    diff_stat(diff, &added, &removed);
    assert_int_equal(added, n_b);
    assert_int_equal(removed, n_a);
}

static void test_too_many_lines(void **state)
{
    /* One line over the bound, differing only at the end: still no search. */
    g_autofree char *a = numbered_lines(DIFF_MAX_LINES + 1, 1, DIFF_MAX_LINES + 2);
    g_autofree char *b = g_strconcat(a, "extra\n", NULL);
    g_autofree char *diff = diff_unified(a, b, "a", "b");
    assert_single_replacement(diff, DIFF_MAX_LINES + 1, DIFF_MAX_LINES + 2);
    check_properties(a, b, diff);
}

static void test_edit_distance_cap(void **state)
{
    /* The same 30000 lines in two unrelated orders: a minimal diff would
     * need tens of thousands of edits, over the cap. */
    const int n = 30000, prime = 30011;
    g_autofree char *a = numbered_lines(n, 1, prime);
    g_autofree char *b = numbered_lines(n, 7919, prime);
    gint64 t0 = g_get_monotonic_time();
    g_autofree char *diff = diff_unified(a, b, "a", "b");
    gint64 elapsed = g_get_monotonic_time() - t0;
    assert_single_replacement(diff, n, n);
    check_properties(a, b, diff);
    /* Generous: it takes a fraction of a second, but CI machines vary. */
    assert_true(elapsed < 20 * G_USEC_PER_SEC);
}

static void test_stat_edge_cases(void **state)
{
    unsigned added = 99, removed = 99;
    diff_stat(NULL, &added, &removed);
    assert_int_equal(added, 0);
    assert_int_equal(removed, 0);
    diff_stat("", &added, &removed);
    assert_int_equal(added + removed, 0);
    /* A removed line "-- x" prints as "--- x": still a removal, not a header. */
    diff_stat("--- a\n+++ b\n@@ -1,2 +1 @@\n--- x\n++++ y\n-z\n", &added, &removed);
    assert_int_equal(added, 1);
    assert_int_equal(removed, 2);
    /* Output parameters may be NULL. */
    diff_stat("--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n", NULL, NULL);
}

static void test_null_inputs(void **state)
{
    g_autofree char *same = diff_unified(NULL, "", "a", "b");
    assert_string_equal(same, "");
    g_autofree char *d = diff_unified(NULL, "x\n", NULL, NULL);
    assert_string_equal(d, "--- a\n+++ b\n@@ -0,0 +1 @@\n+x\n");
}

static int by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_random_properties), cmocka_unit_test(test_too_many_lines),
        cmocka_unit_test(test_edit_distance_cap), cmocka_unit_test(test_stat_edge_cases),
        cmocka_unit_test(test_null_inputs),
    };
    data_dir = argc > 1 ? argv[1] : g_getenv("KANRI_UNIT_DATA_DIR");
    if (!data_dir) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }

    g_autofree char *dir_path = g_build_filename(data_dir, "diff", NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, &err);
    if (!dir) {
        fprintf(stderr, "%s\n", err->message);
        return 2;
    }
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *e;
    while ((e = g_dir_read_name(dir)))
        if (g_str_has_suffix(e, ".a"))
            g_ptr_array_add(names, g_strndup(e, strlen(e) - 2));
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
    return _cmocka_run_group_tests("diff", tests, n, NULL, NULL);
}
