/*
 * Tests of src/lxc/cgroup.c on trees in the kernel's formats
 * (tests/data/cgroup/): the same container read on the hybrid layout of
 * these machines and on cgroup v2 gives the same figures in the same
 * units; "no limit" reads as absent, never as a number; a group that does
 * not exist is an error, a missing file an absent figure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "lxc/cgroup.h"

static const char *data_dir;

static char *root_of(const char *layout)
{
    return g_build_filename(data_dir, layout, NULL);
}

static void same_container(const struct cgroup_sample *s)
{
    assert_int_equal(s->cpu_usage_ns, 52340000000ull);
    assert_int_equal(s->cpu_user_ns, 41000000000ull);
    assert_int_equal(s->cpu_periods, 12000);
    assert_int_equal(s->cpu_throttled_periods, 3000);
    assert_int_equal(s->cpu_throttled_ns, 91500000000ull);
    assert_int_equal(s->mem_usage, 120586240);
    assert_int_equal(s->mem_limit, 128 * 1024 * 1024);
    assert_int_equal(s->mem_cache, 41943040);
    assert_int_equal(s->mem_swap, 2097152);
    assert_int_equal(s->oom_kills, 2);
    /* Two devices summed; the "Total" lines are not counted twice. */
    assert_int_equal(s->io_read_bytes, 1048576 + 524288);
    assert_int_equal(s->io_write_bytes, 4194304);
    assert_int_equal(s->io_reads, 72);
    assert_int_equal(s->io_writes, 128);
    assert_int_equal(s->pids_current, 7);
    assert_int_equal(s->cpu_weight, 100);
}

static void test_hybrid(void **state)
{
    (void)state;
    g_autofree char *root = root_of("hybrid");
    assert_int_equal(cgroup_detect(root), CGROUP_HYBRID);
    struct cgroup_sample s;
    g_autoptr(GError) err = NULL;
    assert_int_equal(cgroup_read(root, CGROUP_HYBRID, "/lxc.payload.c1", &s, &err), 0);
    same_container(&s);
    assert_int_equal(s.cpu_system_ns, 10200000000ull); /* 1020 USER_HZ ticks */
    assert_int_equal(s.cpu_quota_millicores, 500);      /* 50000 / 100000 */
    assert_int_equal(s.pids_max, SAMPLE_ABSENT);        /* "max" */

    /* No quota (-1), no memory limit (v1's huge value), more shares. */
    assert_int_equal(cgroup_read(root, CGROUP_HYBRID, "/lxc.payload.c2", &s, &err), 0);
    assert_int_equal(s.cpu_quota_millicores, SAMPLE_ABSENT);
    assert_int_equal(s.mem_limit, SAMPLE_ABSENT);
    assert_int_equal(s.mem_usage, 8192);
    assert_true(s.cpu_weight > 100 && s.cpu_weight < 300);
    /* Files it lacks are absent figures, not zeros. */
    assert_int_equal(s.cpu_usage_ns, SAMPLE_ABSENT);
    assert_int_equal(s.io_read_bytes, SAMPLE_ABSENT);
    assert_int_equal(s.oom_kills, SAMPLE_ABSENT);
}

static void test_v2(void **state)
{
    (void)state;
    g_autofree char *root = root_of("v2");
    assert_int_equal(cgroup_detect(root), CGROUP_V2);
    struct cgroup_sample s;
    g_autoptr(GError) err = NULL;
    assert_int_equal(cgroup_read(root, CGROUP_V2, "/lxc.payload.c1", &s, &err), 0);
    same_container(&s);
    assert_int_equal(s.cpu_system_ns, 11340000000ull);
    assert_int_equal(s.cpu_quota_millicores, 1500); /* 150000 / 100000: 1.5 cores */
    assert_int_equal(s.pids_max, 512);
    assert_int_equal(cgroup_read(root, CGROUP_V2, "/lxc.payload.c2", &s, &err), 0);
    assert_int_equal(s.cpu_quota_millicores, SAMPLE_ABSENT); /* "max 100000" */
    assert_int_equal(s.mem_limit, SAMPLE_ABSENT);            /* "max" */
    assert_int_equal(s.mem_usage, 8192);
}

static void test_v1_and_errors(void **state)
{
    (void)state;
    g_autofree char *root = root_of("v1");
    assert_int_equal(cgroup_detect(root), CGROUP_V1);
    g_autofree char *none = root_of("no-such-tree");
    assert_int_equal(cgroup_detect(none), CGROUP_UNKNOWN);
    struct cgroup_sample s;
    g_autoptr(GError) err = NULL;
    assert_int_equal(cgroup_read(root, CGROUP_V1, "/lxc.payload.c1", &s, &err), 0);
    assert_int_equal(s.mem_usage, 4096);
    assert_int_equal(s.cpu_usage_ns, 1000);
    /* A container that is not running has no group. */
    assert_int_equal(cgroup_read(root, CGROUP_V1, "/lxc.payload.gone", &s, &err), -ENOENT);
    assert_non_null(strstr(err->message, "no control group /lxc.payload.gone"));
    g_clear_error(&err);
    /* Paths are absolute and do not climb out. */
    assert_int_equal(cgroup_read(root, CGROUP_V1, "lxc.payload.c1", &s, &err), -EINVAL);
    g_clear_error(&err);
    assert_int_equal(cgroup_read(root, CGROUP_V1, "/../../etc", &s, &err), -EINVAL);
}

/* This machine's own root group, whatever its layout: read, with figures. */
/* cgroup v1's freezer state as the kernel writes it. */
static void test_freezer(void **state)
{
    (void)state;
    assert_int_equal(cgroup_v1_freezer_state("FROZEN\n"), 1);
    assert_int_equal(cgroup_v1_freezer_state("THAWED\n"), 0);
    /* Stuck half-way (a task caught in fork): neither. */
    assert_int_equal(cgroup_v1_freezer_state("FREEZING\n"), -1);
    assert_int_equal(cgroup_v1_freezer_state("FROZENX"), -1);
    assert_int_equal(cgroup_v1_freezer_state(""), -1);
    assert_int_equal(cgroup_v1_freezer_state(NULL), -1);
}

static void test_live_root(void **state)
{
    (void)state;
    enum cgroup_layout l = cgroup_detect("/");
    if (l == CGROUP_UNKNOWN)
        skip();
    struct cgroup_sample s;
    g_autoptr(GError) err = NULL;
    assert_int_equal(cgroup_read("/", l, "/", &s, &err), 0);
    assert_true(s.cpu_usage_ns != SAMPLE_ABSENT || s.mem_usage != SAMPLE_ABSENT);
}

/* liblxc's leftover monitor groups of one container go, at the top of
 * every hierarchy; another container's, names that only look alike, and
 * a group still in use (here: not empty) stay. */
static void test_monitor_leftovers(void **state)
{
    (void)state;
    g_autofree char *root = g_dir_make_tmp("kanri-cgroup-XXXXXX", NULL);
    static const char *const made[] = {
        "pids/lxc.monitor.f1",      "pids/lxc.monitor.f1-3",      "memory/lxc.monitor.f1-999",
        "unified/lxc.monitor.f1-1", "lxc.monitor.f1-2",           "pids/lxc.monitor.f10",
        "pids/lxc.monitor.f1-x",    "pids/lxc.monitor.f1-",       "pids/lxc.payload.f1",
        "memory/lxc.monitor.f1-7",  "pids/deeper/lxc.monitor.f1",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(made); i++) {
        g_autofree char *p = g_build_filename(root, "sys/fs/cgroup", made[i], NULL);
        assert_int_equal(g_mkdir_with_parents(p, 0755), 0);
    }
    /* In use: a real group with a process cannot be removed either. */
    g_autofree char *busy = g_build_filename(root, "sys/fs/cgroup/memory/lxc.monitor.f1-7/x", NULL);
    assert_true(g_file_set_contents(busy, "", 0, NULL));
    assert_int_equal(cgroup_monitor_leftovers_remove(root, "f1"), 5);
    static const char *const kept[] = {"pids/lxc.monitor.f10",    "pids/lxc.monitor.f1-x",
                                       "pids/lxc.monitor.f1-",    "pids/lxc.payload.f1",
                                       "memory/lxc.monitor.f1-7", "pids/deeper/lxc.monitor.f1"};
    for (size_t i = 0; i < G_N_ELEMENTS(kept); i++) {
        g_autofree char *p = g_build_filename(root, "sys/fs/cgroup", kept[i], NULL);
        assert_true(g_file_test(p, G_FILE_TEST_IS_DIR));
    }
    g_autofree char *gone = g_build_filename(root, "sys/fs/cgroup/pids/lxc.monitor.f1-3", NULL);
    assert_false(g_file_test(gone, G_FILE_TEST_EXISTS));
    assert_int_equal(cgroup_monitor_leftovers_remove(root, "f1"), 0);
    assert_int_equal(cgroup_monitor_leftovers_remove(root, ""), 0);
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/cgroup";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hybrid),        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_v1_and_errors), cmocka_unit_test(test_freezer),
        cmocka_unit_test(test_live_root),     cmocka_unit_test(test_monitor_leftovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
