/*
 * Change attribution (src/engine/attribution.c): every combination of what
 * is known of a domain, whether its definition changed and whether a kanri
 * action is in flight, against tests/data/engine/attribution.out
 * (KANRI_REGEN_GOLDEN=1 rewrites it; review the diff).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"

#include "engine/attribution.h"

static const char *yes_no(bool b)
{
    return b ? "yes" : "no";
}

static void dump(GString *out, const char *what, struct attribution a)
{
    g_string_append_printf(out, "%-58s -> record=%s new_version=%s cause=%s\n", what,
                           yes_no(a.record), yes_no(a.new_version), a.cause ? a.cause : "-");
}

static void test_golden(void **unused)
{
    g_autoptr(GString) out = g_string_new("# sighting: known removed xml_differs by_action\n");
    for (int known = 0; known < 2; known++) {
        for (int removed = 0; removed < 2; removed++) {
            if (!known && removed)
                continue; /* a row that does not exist is not removed */
            for (int differs = 0; differs < 2; differs++) {
                if (!known && !differs)
                    continue; /* no stored version: the XML always differs */
                for (int action = 0; action < 2; action++) {
                    struct attribution_prior p = {.known = known, .removed = removed};
                    g_autofree char *what = g_strdup_printf(
                        "seen known=%s removed=%s differs=%s action=%s", yes_no(known),
                        yes_no(removed), yes_no(differs), yes_no(action));
                    dump(out, what, attribution_seen(&p, differs, action));
                }
            }
        }
    }
    dump(out, "gone action=no", attribution_gone(false));
    dump(out, "gone action=yes", attribution_gone(true));
    golden_check(TEST_DATA_DIR "/engine/attribution.out", out->str);
}

/* The rules users rely on, stated once more without the golden file. */
static void test_rules(void **unused)
{
    struct attribution_prior fresh = {0}, live = {.known = true},
                             gone = {.known = true, .removed = true};
    assert_string_equal(attribution_seen(&fresh, true, false).cause, "created");
    assert_string_equal(attribution_seen(&fresh, true, true).cause, "action"); /* define */
    assert_string_equal(attribution_seen(&live, true, false).cause, "external");
    assert_false(attribution_seen(&live, false, false).record);
    struct attribution back = attribution_seen(&gone, false, false);
    assert_true(back.record && !back.new_version);
    assert_string_equal(back.cause, "created");
    assert_string_equal(attribution_gone(false).cause, "removed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden), cmocka_unit_test(test_rules)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
