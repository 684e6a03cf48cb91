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

/* The persistent track: every combination, against attribution-persistent.out. */
static void test_persistent_golden(void **unused)
{
    g_autoptr(GString) out =
        g_string_new("# persistent sighting: persistent running known differs in_live\n");
    for (int bits = 0; bits < 32; bits++) {
        struct persistent_sighting s = {
            .persistent = bits & 16,
            .running = bits & 8,
            .known = bits & 4,
            .differs = bits & 2,
            .in_live = bits & 1,
        };
        if (!s.known && !s.differs)
            continue; /* no stored version: the XML always differs */
        struct persistent_attribution a = attribution_persistent(&s);
        g_string_append_printf(
            out,
            "persistent=%-3s running=%-3s known=%-3s differs=%-3s in_live=%-3s -> "
            "new_version=%s record=%s pending=%s\n",
            yes_no(s.persistent), yes_no(s.running), yes_no(s.known), yes_no(s.differs),
            yes_no(s.in_live), yes_no(a.new_version), yes_no(a.record), yes_no(a.pending));
    }
    golden_check(TEST_DATA_DIR "/engine/attribution-persistent.out", out->str);
}

/* `virsh desc VM "..." --config` on a running domain: pending until the
 * live definition has it or the domain stops. */
static void test_persistent_rules(void **unused)
{
    struct persistent_sighting s = {
        .persistent = true, .running = true, .known = true, .differs = true};
    struct persistent_attribution a = attribution_persistent(&s);
    assert_true(a.new_version && a.record && a.pending);
    s.in_live = true; /* virsh setmem --live --config: both at once */
    a = attribution_persistent(&s);
    assert_true(a.record && !a.pending);
    s.known = false; /* the first sighting is a baseline */
    a = attribution_persistent(&s);
    assert_true(a.new_version && !a.record);
    s = (struct persistent_sighting){.persistent = true, .known = true, .differs = true};
    a = attribution_persistent(&s); /* shut off: the live track records it */
    assert_true(a.new_version && !a.record && !a.pending);
    s = (struct persistent_sighting){.running = true, .known = true, .differs = true};
    a = attribution_persistent(&s); /* transient: no track */
    assert_false(a.new_version || a.record);
}

static const char diff_desc[] = "--- version 1\n"
                                "+++ version 2\n"
                                "@@ -1,3 +1,4 @@\n"
                                " <domain type='test'>\n"
                                "   <name>a</name>\n"
                                "+  <description>hello</description>\n"
                                "   <memory>1</memory>\n";

static const char diff_mem[] = "--- version 1\n"
                               "+++ version 2\n"
                               "@@ -1,3 +1,3 @@\n"
                               " <domain type='test'>\n"
                               "-  <memory>1</memory>\n"
                               "+  <memory>2</memory>\n"
                               " </domain>\n";

static const char diff_disk_gone[] = "--- version 1\n"
                                     "+++ version 2\n"
                                     "@@ -1,6 +1,2 @@\n"
                                     " <devices>\n"
                                     "-  <disk type='file'>\n"
                                     "-    <source file='/b.img'/>\n"
                                     "-  </disk>\n"
                                     " </devices>\n";

static void test_in_live(void **unused)
{
    const char *live_old = "<domain type='test' id='1'>\n  <name>a</name>\n"
                           "  <memory>1</memory>\n  <devices>\n  <disk type='file'>\n"
                           "    <source file='/b.img'/>\n  </disk>\n  </devices>\n</domain>\n";
    const char *live_new = "<domain type='test' id='2'>\n  <name>a</name>\n"
                           "    <description>hello</description>\n"
                           "  <memory>2</memory>\n  <devices>\n  </devices>\n</domain>\n";
    assert_false(attribution_in_live(diff_desc, live_old));
    assert_true(attribution_in_live(diff_desc, live_new)); /* indentation does not matter */
    assert_false(attribution_in_live(diff_mem, live_old));
    assert_true(attribution_in_live(diff_mem, live_new));
    /* Removals: pending while every removed line is still there. */
    assert_false(attribution_in_live(diff_disk_gone, live_old));
    assert_true(attribution_in_live(diff_disk_gone, live_new));
    /* The labels are not lines of the definition. */
    assert_true(attribution_in_live("--- version 1\n+++ version 2\n", live_old));
    assert_true(attribution_in_live("", live_old));
    assert_false(attribution_in_live(diff_desc, NULL));

    assert_true(attribution_pending_settled(false, diff_desc, live_old)); /* shut off */
    assert_false(attribution_pending_settled(true, diff_desc, live_old));
    assert_true(attribution_pending_settled(true, diff_desc, live_new));
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden), cmocka_unit_test(test_rules),
                                       cmocka_unit_test(test_persistent_golden),
                                       cmocka_unit_test(test_persistent_rules),
                                       cmocka_unit_test(test_in_live)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
