/*
 * Tests of src/reconcile/machine.c: a server's own rules open, escalate,
 * hold between their thresholds, clear, and stay open when a report lacks
 * the figure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "reconcile/machine.h"
#include "reconcile/reconcile.h"

#define GIB (UINT64_C(1) << 30)

static struct guest_sample sample(uint64_t total, uint64_t avail, const char *fs)
{
    struct guest_sample s = {0};
    guest_sample_clear(&s);
    s.mem_total = total;
    s.mem_available = avail;
    s.filesystems_json = fs ? g_strdup(fs) : NULL;
    return s;
}

static const struct reconcile_finding *find(GPtrArray *f, const char *rule)
{
    for (guint i = 0; i < f->len; i++) {
        const struct reconcile_finding *x = g_ptr_array_index(f, i);
        if (g_str_equal(x->id, rule))
            return x;
    }
    return NULL;
}

static void test_memory(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    const char *open[] = {MACHINE_RULE_MEMORY, NULL};
    /* 20 % available: nothing to say, nothing reported. */
    struct guest_sample s = sample(10 * GIB, 2 * GIB, NULL);
    g_autoptr(GPtrArray) a = machine_findings(&s, none, 1);
    assert_null(find(a, MACHINE_RULE_MEMORY));
    guest_sample_clear(&s);
    /* 8 %: open, warning; 4 %: critical. */
    s = sample(10 * GIB, 8 * GIB / 10, NULL);
    g_autoptr(GPtrArray) b = machine_findings(&s, none, 2);
    const struct reconcile_finding *f = find(b, MACHINE_RULE_MEMORY);
    assert_non_null(f);
    assert_int_equal(f->state, RECONCILE_OPEN);
    assert_int_equal(f->severity, RECONCILE_WARNING);
    assert_true(f->measure > 7.9 && f->measure < 8.1);
    assert_non_null(strstr(f->message, "8.0 % of its memory is available"));
    guest_sample_clear(&s);
    s = sample(10 * GIB, 4 * GIB / 10, NULL);
    g_autoptr(GPtrArray) c = machine_findings(&s, open, 3);
    assert_int_equal(find(c, MACHINE_RULE_MEMORY)->severity, RECONCILE_CRITICAL);
    guest_sample_clear(&s);
    /* 12 %: between the thresholds, stays open; 16 %: cleared. */
    s = sample(10 * GIB, 12 * GIB / 10, NULL);
    g_autoptr(GPtrArray) d = machine_findings(&s, open, 4);
    assert_int_equal(find(d, MACHINE_RULE_MEMORY)->state, RECONCILE_OPEN);
    g_autoptr(GPtrArray) d2 = machine_findings(&s, none, 4);
    assert_null(find(d2, MACHINE_RULE_MEMORY)); /* not open before: not opened at 12 % */
    guest_sample_clear(&s);
    s = sample(10 * GIB, 16 * GIB / 10, NULL);
    g_autoptr(GPtrArray) e = machine_findings(&s, open, 5);
    assert_int_equal(find(e, MACHINE_RULE_MEMORY)->state, RECONCILE_CLOSED);
    guest_sample_clear(&s);
    /* No memory figures: an open finding stays open. */
    s = sample(SAMPLE_ABSENT, SAMPLE_ABSENT, NULL);
    g_autoptr(GPtrArray) g = machine_findings(&s, open, 6);
    assert_int_equal(find(g, MACHINE_RULE_MEMORY)->state, RECONCILE_OPEN);
    guest_sample_clear(&s);
}

static void test_filesystems(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    const char *open[] = {MACHINE_RULE_FS, NULL};
    const char *fs = "[{\"mountpoint\": \"/\", \"total_bytes\": 100, \"used_bytes\": 50},"
                     " {\"mountpoint\": \"/var\", \"total_bytes\": 1000, \"used_bytes\": 935}]";
    struct guest_sample s = sample(SAMPLE_ABSENT, SAMPLE_ABSENT, fs);
    g_autoptr(GPtrArray) a = machine_findings(&s, none, 1);
    const struct reconcile_finding *f = find(a, MACHINE_RULE_FS);
    assert_non_null(f);
    assert_int_equal(f->severity, RECONCILE_WARNING);
    assert_non_null(strstr(f->message, "/var is 93.5 % full"));
    guest_sample_clear(&s);
    s = sample(SAMPLE_ABSENT, SAMPLE_ABSENT,
               "[{\"mountpoint\": \"/var\", \"total_bytes\": 1000, \"used_bytes\": 980}]");
    g_autoptr(GPtrArray) b = machine_findings(&s, open, 2);
    assert_int_equal(find(b, MACHINE_RULE_FS)->severity, RECONCILE_CRITICAL);
    guest_sample_clear(&s);
    s = sample(SAMPLE_ABSENT, SAMPLE_ABSENT,
               "[{\"mountpoint\": \"/var\", \"total_bytes\": 1000, \"used_bytes\": 800}]");
    g_autoptr(GPtrArray) c = machine_findings(&s, open, 3);
    assert_int_equal(find(c, MACHINE_RULE_FS)->state, RECONCILE_CLOSED);
    guest_sample_clear(&s);
    /* Malformed or empty detail: nothing judged, nothing invented. */
    s = sample(SAMPLE_ABSENT, SAMPLE_ABSENT, "{\"not\": \"a list\"}");
    g_autoptr(GPtrArray) d = machine_findings(&s, none, 4);
    assert_int_equal(d->len, 0);
    guest_sample_clear(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_filesystems),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
