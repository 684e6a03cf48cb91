/*
 * golden.h: the golden-file check shared by the unit tests.  Include after
 * <cmocka.h> and <glib.h>.
 *
 * golden_check() compares ACTUAL with the file OUT_PATH.  With
 * KANRI_REGEN_GOLDEN=1 it rewrites the file instead (review the diff before
 * committing).  On a mismatch it writes OUT_PATH.got beside it and fails
 * with the diff(1) command to see why.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <string.h>

/* True only for KANRI_REGEN_GOLDEN=1: "0", "" or "no" must not rewrite
 * the files a test is meant to check. */
static inline bool golden_regen(void)
{
    return g_strcmp0(g_getenv("KANRI_REGEN_GOLDEN"), "1") == 0;
}

static inline void golden_check(const char *out_path, const char *actual);

/* Runs RUN on the text of every DIR/<case>.in and checks what it returns
 * (g_free'd here) against DIR/<case>.out; fails unless there were at least
 * MIN cases (a directory emptied by mistake must not pass). */
static inline void golden_each(const char *dir, char *(*run)(const char *text), int min)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    assert_non_null(d);
    const char *name;
    int n = 0;
    while ((name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".in"))
            continue;
        g_autofree char *in = g_build_filename(dir, name, NULL);
        g_autofree char *base = g_strndup(in, strlen(in) - 3);
        g_autofree char *out = g_strconcat(base, ".out", NULL);
        g_autofree char *text = NULL;
        assert_true(g_file_get_contents(in, &text, NULL, NULL));
        g_autofree char *got = run(text);
        golden_check(out, got);
        n++;
    }
    assert_true(n >= min);
}

static inline void golden_check(const char *out_path, const char *actual)
{
    if (golden_regen()) {
        assert_true(g_file_set_contents(out_path, actual, -1, NULL));
        return;
    }
    g_autofree char *want = NULL;
    if (!g_file_get_contents(out_path, &want, NULL, NULL))
        fail_msg("golden file %s missing (run with KANRI_REGEN_GOLDEN=1)", out_path);
    if (strcmp(want, actual) != 0) {
        g_autofree char *got = g_strconcat(out_path, ".got", NULL);
        g_file_set_contents(got, actual, -1, NULL);
        fail_msg("output differs from %s; see diff -u %s %s", out_path, out_path, got);
    }
}
