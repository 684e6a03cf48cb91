/*
 * Golden tests of the reconciliation engine: every tests/data/reconcile/
 * <case>.in scenario is replayed round by round and its dump compared with
 * <case>.out.  KANRI_REGEN_GOLDEN=1 rewrites the .out files instead (review
 * the diff before committing).  Also: the configuration setter, the state
 * reader's refusals, and the rule that R never silently takes the other
 * side's figure.
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

#include "reconcile/reconcile.h"
#include "reconcile/scenario.h"

static const char *data_dir;

static void test_golden(void **unused)
{
    g_autoptr(GDir) dir = g_dir_open(data_dir, 0, NULL);
    assert_non_null(dir);
    bool regen = golden_regen();
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(dir))) {
        if (g_str_has_suffix(name, ".in"))
            g_ptr_array_add(names, g_strdup(name));
    }
    g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
    int failures = 0;
    for (guint i = 0; i < names->len; i++) {
        const char *in_name = g_ptr_array_index(names, i);
        g_autofree char *in_path = g_build_filename(data_dir, in_name, NULL);
        g_autofree char *base = g_strndup(in_name, strlen(in_name) - 3);
        g_autofree char *out_path = g_strdup_printf("%s/%s.out", data_dir, base);
        g_autofree char *text = NULL;
        gsize len = 0;
        g_autoptr(GError) err = NULL;
        assert_true(g_file_get_contents(in_path, &text, &len, NULL));
        g_autoptr(reconcile_scenario) sc = reconcile_scenario_parse(text, len, &err);
        if (!sc) {
            fprintf(stderr, "%s: %s\n", in_name, err->message);
            failures++;
            continue;
        }
        g_autofree char *got = reconcile_scenario_run(sc, &err);
        assert_non_null(got);
        if (regen) {
            assert_true(g_file_set_contents(out_path, got, -1, NULL));
            continue;
        }
        g_autofree char *want = NULL;
        if (!g_file_get_contents(out_path, &want, NULL, NULL)) {
            fprintf(stderr, "%s: no %s.out (KANRI_REGEN_GOLDEN=1 writes it)\n", in_name, base);
            failures++;
        } else if (!g_str_equal(got, want)) {
            g_autofree char *got_path = g_strdup_printf("%s.got", base);
            g_file_set_contents(got_path, got, -1, NULL);
            fprintf(stderr, "%s: output differs from %s.out (written to %s in the build dir)\n",
                    in_name, base, got_path);
            failures++;
        }
    }
    assert_true(names->len >= 10);
    assert_int_equal(failures, 0);
}

static void test_config_set(void **unused)
{
    struct reconcile_config cfg;
    reconcile_config_init(&cfg);
    g_autoptr(GError) err = NULL;

    assert_true(reconcile_config_set(&cfg, "steal-invisible-to-guest.open_at", "8", &err));
    assert_true(cfg.rule[RR_STEAL_INVISIBLE].open_at == 8);
    assert_true(reconcile_config_set(&cfg, "trim-debt.severity", "warning", &err));
    assert_int_equal(cfg.rule[RR_TRIM_DEBT].severity, RECONCILE_WARNING);
    assert_true(reconcile_config_set(&cfg, "guest-clock-skew.crit_at", "never", &err));
    assert_false(reconcile_present(cfg.rule[RR_GUEST_CLOCK_SKEW].crit_at));
    assert_true(reconcile_config_set(&cfg, "guest_stale_s", "120", &err));
    assert_int_equal(cfg.guest_stale_us, 120 * G_USEC_PER_SEC);
    assert_true(cfg.container_disk_slack == 64 * 1024 * 1024);
    assert_true(reconcile_config_set(&cfg, "container_disk_slack", "1048576", &err));
    assert_true(cfg.container_disk_slack == 1048576);
    assert_true(reconcile_config_set(&cfg, "container-sees-host-disk.open_at", "100", &err));
    assert_true(cfg.rule[RR_CONTAINER_SEES_HOST_DISK].open_at == 100);

    static const char *const bad[][2] = {
        {"no-such-rule.open_at", "1"}, {"trim-debt.no_such_field", "1"},
        {"trim-debt.open_at", "lots"}, {"trim-debt.open_at", "nan"},
        {"trim-debt.close_at", "99"}, /* above open_at: no hysteresis band */
        {"trim-debt.open_after", "0"}, {"trim-debt.severity", "loud"},
        {"guest_stale_s", "-5"},       {"page_size", "0"},
        {"cpu-busy-mismatch", "1"},    {"container_disk_slack", "-1"},
    };
    struct reconcile_config before = cfg;
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_clear_error(&err);
        assert_false(reconcile_config_set(&cfg, bad[i][0], bad[i][1], &err));
        assert_non_null(err);
    }
    /* A refused option leaves the configuration as it was. */
    assert_memory_equal(&before, &cfg, sizeof(cfg));
}

static void test_state_reader(void **unused)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"version\":2,\"tracks\":[]}",
        "{\"version\":1}",
        "{\"version\":1,\"tracks\":[{\"rule\":\"nope\"}]}",
        /* a closed finding is never persisted */
        "{\"version\":1,\"tracks\":[{\"rule\":\"trim-debt\",\"state\":\"closed\",\"above\":1,"
        "\"below\":0,\"since_us\":1,\"changed_us\":1,\"severity\":\"info\",\"measure\":1,"
        "\"message\":\"\"}]}",
        /* the same rule twice */
        "{\"version\":1,\"tracks\":[{\"rule\":\"trim-debt\",\"state\":\"open\",\"above\":1,"
        "\"below\":0,\"since_us\":1,\"changed_us\":1,\"severity\":\"info\",\"measure\":1,"
        "\"message\":\"\"},{\"rule\":\"trim-debt\",\"state\":\"open\",\"above\":1,"
        "\"below\":0,\"since_us\":1,\"changed_us\":1,\"severity\":\"info\",\"measure\":1,"
        "\"message\":\"\"}]}",
        "{\"version\":1,\"tracks\":[{\"rule\":\"trim-debt\",\"state\":\"open\",\"above\":-1,"
        "\"below\":0,\"since_us\":1,\"changed_us\":1,\"severity\":\"info\",\"measure\":1,"
        "\"message\":\"\"}]}",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        struct reconcile_state *st = reconcile_state_from_json(bad[i], strlen(bad[i]), &err);
        assert_null(st);
        assert_non_null(err);
    }
    const char *good = "{\"version\":1,\"tracks\":[{\"rule\":\"trim-debt\",\"state\":\"closing\","
                       "\"above\":3,\"below\":1,\"since_us\":10,\"changed_us\":20,\"severity\":"
                       "\"info\",\"measure\":null,\"message\":\"m\"}]}";
    g_autoptr(reconcile_state) st = reconcile_state_from_json(good, strlen(good), NULL);
    assert_non_null(st);
    g_autofree char *again = reconcile_state_to_json(st);
    assert_string_equal(again, good);
}

/* With only the host side, every resource whose R is the guest's figure
 * is absent with provenance "none": no fallback to the host. */
static void test_no_silent_fallback(void **unused)
{
    struct host_sample h;
    host_sample_init(&h); /* a VM's: not a container */
    h.time_us = 100 * G_USEC_PER_SEC;
    h.dom_id = 3;
    h.balloon_current = 1ULL << 30;
    h.balloon_maximum = 1ULL << 30;
    h.balloon_rss = 900ULL << 20;
    h.block_allocation = 5ULL << 30;
    h.block_capacity = 10ULL << 30;
    struct reconcile_input in = {.now_us = h.time_us, .host = &h};
    g_autoptr(reconcile_result) res = reconcile_run(&in);
    static const enum reconcile_resource guest_side[] = {RC_CPU_BUSY, RC_MEM_USED, RC_DISK_USED,
                                                         RC_DISK_FREE, RC_MEM_SWAP};
    for (size_t i = 0; i < G_N_ELEMENTS(guest_side); i++) {
        const struct reconcile_value *v = &res->values[guest_side[i]];
        assert_false(reconcile_present(v->r));
        assert_string_equal(v->provenance, "none");
        assert_non_null(v->reason);
    }
    assert_true(res->values[RC_MEM_TOTAL].r == (double)(1ULL << 30));
    assert_string_equal(res->values[RC_MEM_TOTAL].provenance, "host");
    bool mem_finding = false, view_finding = false;
    for (guint i = 0; i < res->findings->len; i++) {
        const struct reconcile_finding *f = g_ptr_array_index(res->findings, i);
        mem_finding |= f->rule == RR_MEM_VIEW_UNAVAILABLE && f->state == RECONCILE_OPEN;
        view_finding |= f->rule == RR_GUEST_VIEW_MISSING && f->state == RECONCILE_OPEN;
    }
    assert_true(mem_finding);
    assert_true(view_finding);
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/reconcile";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_config_set),
        cmocka_unit_test(test_state_reader),
        cmocka_unit_test(test_no_silent_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
