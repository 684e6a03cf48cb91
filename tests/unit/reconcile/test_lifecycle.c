/*
 * The findings' stored lifecycle (src/reconcile/lifecycle.c) on golden
 * cases: tests/data/lifecycle/<case>.in -> <case>.out (KANRI_REGEN_GOLDEN=1
 * rewrites the .out files; review the diff).
 *
 * A case is lines of:
 *   refresh SECONDS                              (default 60)
 *   open RULE SEVERITY "MESSAGE" MEASURE UPDATED  a row open in the store
 *   round NOW                                    starts a round at NOW s
 *   report RULE STATE SEVERITY SINCE CHANGED MEASURE "MESSAGE"
 * and the dump lists each round's writes and the rows open after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"

#include "reconcile/lifecycle.h"

#define S G_GINT64_CONSTANT(1000000)

static const char *data_dir;

static enum reconcile_rule rule_of(const char *name)
{
    for (int i = 0; i < RR_N; i++) {
        if (g_str_equal(reconcile_rule_name(i), name))
            return i;
    }
    fail_msg("unknown rule %s", name);
    return RR_N;
}

static int index_of(const char *name, const char *(*fn)(int), int n)
{
    for (int i = 0; i < n; i++) {
        if (g_str_equal(fn(i), name))
            return i;
    }
    fail_msg("unknown name %s", name);
    return -1;
}

static const char *fstate_i(int i)
{
    return reconcile_fstate_name(i);
}

static const char *severity_i(int i)
{
    return reconcile_severity_name(i);
}

static void dump_writes(GString *out, const GArray *w)
{
    static const char *const ops[] = {"OPEN", "UPDATE", "CLOSE"};
    for (guint i = 0; i < w->len; i++) {
        const struct finding_write *x = &g_array_index(w, struct finding_write, i);
        g_string_append_printf(out,
                               "  %-6s %s %s since=%" G_GINT64_FORMAT " at=%" G_GINT64_FORMAT
                               " measure=%g \"%s\"\n",
                               ops[x->op], x->rule, x->severity, x->since_us / S, x->at_us / S,
                               x->measure, x->message);
        if (x->new_severity) {
            g_string_truncate(out, out->len - 1);
            g_string_append(out, " (new severity)\n");
        }
    }
}

static void dump_open(GString *out, const GPtrArray *open)
{
    g_string_append(out, "  open:");
    for (guint i = 0; i < open->len; i++) {
        const struct finding_open *f = g_ptr_array_index(open, i);
        g_string_append_printf(out, " %s(%s, updated=%" G_GINT64_FORMAT ")", f->rule, f->severity,
                               f->updated_us / S);
    }
    g_string_append(out, open->len ? "\n" : " none\n");
}

static void flush_round(GString *out, GPtrArray *reported, GPtrArray *open, int64_t now,
                        int64_t refresh)
{
    g_autoptr(GArray) w = g_array_new(FALSE, TRUE, sizeof(struct finding_write));
    g_array_set_clear_func(w, (GDestroyNotify)finding_write_clear);
    /* The engine asks first, without messages, whether anything is to be
     * written: the answer must be what the writing then does. */
    bool pending = lifecycle_pending(reported, open, now, refresh);
    lifecycle_apply("vm-1", 1, reported, open, now, refresh, w);
    assert_int_equal(pending, w->len > 0);
    g_string_append_printf(out, "round %" G_GINT64_FORMAT ":\n", now / S);
    dump_writes(out, w);
    dump_open(out, open);
    g_ptr_array_set_size(reported, 0);
}

static char *run_case(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GPtrArray) open = g_ptr_array_new_with_free_func((GDestroyNotify)finding_open_free);
    g_autoptr(GPtrArray) reported =
        g_ptr_array_new_with_free_func((GDestroyNotify)reconcile_finding_free);
    int64_t refresh = 60 * S, now = -1;
    for (guint l = 0; lines[l]; l++) {
        const char *line = g_strstrip(lines[l]);
        if (!*line || *line == '#')
            continue;
        g_auto(GStrv) argv = NULL;
        int argc = 0;
        assert_true(g_shell_parse_argv(line, &argc, &argv, NULL));
        if (g_str_equal(argv[0], "refresh")) {
            refresh = g_ascii_strtoll(argv[1], NULL, 10) * S;
        } else if (g_str_equal(argv[0], "open")) {
            assert_int_equal(argc, 6);
            struct finding_open *f = g_new0(struct finding_open, 1);
            f->rule = g_strdup(argv[1]);
            f->severity = g_strdup(argv[2]);
            f->message = g_strdup(argv[3]);
            f->measure = g_ascii_strtod(argv[4], NULL);
            f->updated_us = g_ascii_strtoll(argv[5], NULL, 10) * S;
            g_ptr_array_add(open, f);
        } else if (g_str_equal(argv[0], "report")) {
            assert_int_equal(argc, 8);
            struct reconcile_finding *f = g_new0(struct reconcile_finding, 1);
            f->rule = rule_of(argv[1]);
            f->id = reconcile_rule_name(f->rule);
            f->state = index_of(argv[2], fstate_i, RECONCILE_CLOSED + 1);
            f->severity = index_of(argv[3], severity_i, RECONCILE_CRITICAL + 1);
            f->since_us = g_ascii_strtoll(argv[4], NULL, 10) * S;
            f->changed_us = g_ascii_strtoll(argv[5], NULL, 10) * S;
            f->measure = g_ascii_strtod(argv[6], NULL);
            f->message = g_strdup(argv[7]);
            g_ptr_array_add(reported, f);
        }
        if (g_str_equal(argv[0], "round")) {
            if (now >= 0)
                flush_round(out, reported, open, now, refresh);
            now = g_ascii_strtoll(argv[1], NULL, 10) * S;
        }
    }
    if (now >= 0)
        flush_round(out, reported, open, now, refresh);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static void test_golden(void **unused)
{
    golden_each(data_dir, run_case, 5);
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/lifecycle";
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
