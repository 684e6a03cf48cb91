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
#include <string.h>

#include <cmocka.h>
#include <glib.h>

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

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/cgroup";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hybrid),        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_v1_and_errors), cmocka_unit_test(test_freezer),
        cmocka_unit_test(test_live_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
