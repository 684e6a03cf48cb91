/*
 * provision/change: golden cases of the change requests' rules.  Each line
 * of a case is one question and its answer is one line of the output:
 *
 *   next STATE EVENT              the state after, or why not
 *   final STATE
 *   approve REQUESTER APPROVER    token ids
 *   window FROM TO NOW            seconds
 *   batches N CANARY(0|1) BATCH
 *   check STATE WANT AGE_S FRESH_S CRITICAL   ("-": none; AGE_S -1: never)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"
#include "provision/change.h"

static const char *data_dir;

static const char *dash(const char *s)
{
    return strcmp(s, "-") == 0 ? NULL : s;
}

static void one(GString *out, char **w, guint n)
{
    g_autofree char *why = NULL;
    if (strcmp(w[0], "next") == 0 && n == 3) {
        const char *to = change_next(w[1], w[2], &why);
        g_string_append(out, to ? to : why);
    } else if (strcmp(w[0], "final") == 0 && n == 2) {
        g_string_append(out, change_final(w[1]) ? "final" : "not final");
    } else if (strcmp(w[0], "approve") == 0 && n == 3) {
        bool ok = change_may_approve(g_ascii_strtoll(w[1], NULL, 10),
                                     g_ascii_strtoll(w[2], NULL, 10), &why);
        g_string_append(out, ok ? "may" : why);
    } else if (strcmp(w[0], "window") == 0 && n == 4) {
        static const char *const names[] = {"before", "open", "passed"};
        int64_t s = G_USEC_PER_SEC;
        g_string_append(out, names[change_window_at(g_ascii_strtoll(w[1], NULL, 10) * s,
                                                    g_ascii_strtoll(w[2], NULL, 10) * s,
                                                    g_ascii_strtoll(w[3], NULL, 10) * s)]);
    } else if (strcmp(w[0], "batches") == 0 && n == 4) {
        unsigned k = (unsigned)g_ascii_strtoull(w[1], NULL, 10);
        g_autofree unsigned *b = g_new0(unsigned, MAX(k, 1));
        unsigned nb =
            change_batches(k, w[2][0] == '1', (unsigned)g_ascii_strtoull(w[3], NULL, 10), b);
        g_string_append_printf(out, "%u batches:", nb);
        for (unsigned i = 0; i < k; i++)
            g_string_append_printf(out, " %u", b[i]);
    } else if (strcmp(w[0], "check") == 0 && n == 6) {
        int64_t age = g_ascii_strtoll(w[3], NULL, 10);
        struct change_check_input in = {
            .state = dash(w[1]),
            .want_state = dash(w[2]),
            .guest_age_us = age < 0 ? -1 : age * G_USEC_PER_SEC,
            .guest_fresh_us = g_ascii_strtoll(w[4], NULL, 10) * G_USEC_PER_SEC,
            .new_critical = (unsigned)g_ascii_strtoull(w[5], NULL, 10),
        };
        g_string_append(out, change_check(&in, &why) ? "pass" : why);
    } else {
        fail_msg("bad case line starting '%s'", w[0]);
    }
}

static char *run(const char *text)
{
    GString *out = g_string_new(NULL);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        if (!*lines[i] || lines[i][0] == '#')
            continue;
        g_auto(GStrv) w = g_strsplit(lines[i], " ", -1);
        g_string_append_printf(out, "%s -> ", lines[i]);
        one(out, w, g_strv_length(w));
        g_string_append_c(out, '\n');
    }
    return g_string_free(out, FALSE);
}

static void test_golden(void **state)
{
    (void)state;
    g_autofree char *dir = g_build_filename(data_dir, "change", NULL);
    golden_each(dir, run, 3);
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/provision";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
