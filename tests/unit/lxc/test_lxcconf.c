/*
 * Tests of src/lxc/lxcconf.c: what kanri reads from a container's
 * configuration (limits from either hierarchy's keys, the last one
 * winning; kanri's identity line; autostart), sizes as liblxc accepts
 * them, refusals of what is not a configuration, the derived identity's
 * stability and form, and container names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "lxc/lxcconf.h"

static void parse(const char *text, struct lxcconf *c)
{
    g_autoptr(GError) err = NULL;
    assert_true(lxcconf_parse(text, strlen(text), c, &err));
    assert_null(err);
}

static void test_v1_limits_and_identity(void **state)
{
    (void)state;
    struct lxcconf c;
    parse("# Template used to create this container\n"
          "lxc.net.0.type = empty\n"
          "lxc.environment = PATH=/bin\n"
          "lxc.environment = KANRI_CONTAINER_UUID=6F1C2B9E-58A4-4D7B-9E0F-1A2B3C4D5E6F\n"
          "lxc.cgroup.memory.limit_in_bytes = 128M\n"
          "lxc.cgroup.cpu.cfs_period_us = 100000\n"
          "lxc.cgroup.cpu.cfs_quota_us = 50000\n"
          "lxc.cgroup.cpu.shares = 2048\n"
          "lxc.cgroup.pids.max = 64\n"
          "  lxc.start.auto = 1  \n"
          "lxc.rootfs.path = dir:/var/lib/lxc/web1/rootfs\n",
          &c);
    assert_string_equal(c.uuid, "6f1c2b9e-58a4-4d7b-9e0f-1a2b3c4d5e6f");
    assert_int_equal(c.memory_limit, 128 * 1024 * 1024);
    assert_int_equal(c.cpu_millicores, 500);
    assert_int_equal(c.cpu_weight, 200);
    assert_int_equal(c.pids_max, 64);
    assert_true(c.autostart);
    assert_string_equal(c.rootfs_dir, "/var/lib/lxc/web1/rootfs");
    lxcconf_clear(&c);
    /* Only a directory is measured from the host. */
    parse("lxc.rootfs.path = overlay:/a/lower:/a/upper\n", &c);
    assert_null(c.rootfs_dir);
    lxcconf_clear(&c);
    parse("lxc.rootfs.path = /srv/ct/rootfs\n", &c);
    assert_string_equal(c.rootfs_dir, "/srv/ct/rootfs");
    lxcconf_clear(&c);
}

static void test_v2_keys_and_no_limits(void **state)
{
    (void)state;
    struct lxcconf c;
    parse("lxc.cgroup2.memory.max = 1073741824\n"
          "lxc.cgroup2.cpu.max = 150000 100000\n"
          "lxc.cgroup2.cpu.weight = 50\n"
          "lxc.cgroup2.pids.max = max\n",
          &c);
    assert_int_equal(c.memory_limit, 1ULL << 30);
    assert_int_equal(c.cpu_millicores, 1500);
    assert_int_equal(c.cpu_weight, 50);
    assert_int_equal(c.pids_max, 0);
    assert_null(c.uuid);
    assert_false(c.autostart);
    lxcconf_clear(&c);
    /* "no limit" in either hierarchy's words is none, never a number. */
    parse("lxc.cgroup.memory.limit_in_bytes = 9223372036854771712\n"
          "lxc.cgroup2.cpu.max = max 100000\n",
          &c);
    assert_int_equal(c.memory_limit, 0);
    assert_int_equal(c.cpu_millicores, 0);
    lxcconf_clear(&c);
}

static void test_last_key_wins_and_bad_values_are_absent(void **state)
{
    (void)state;
    struct lxcconf c;
    parse("lxc.cgroup.memory.limit_in_bytes = 64M\n"
          "lxc.cgroup.memory.limit_in_bytes = 256M\n"
          "lxc.environment = KANRI_CONTAINER_UUID=not-a-uuid\n"
          "lxc.cgroup.pids.max = lots\n"
          "lxc.cgroup2.cpu.weight = 0\n"
          "lxc.cgroup.cpu.cfs_quota_us = 18446744073709551615\n"
          "garbage line without equals\n"
          "# lxc.cgroup.memory.limit_in_bytes = 1G\n",
          &c);
    assert_int_equal(c.memory_limit, 256 * 1024 * 1024);
    assert_null(c.uuid);
    assert_int_equal(c.pids_max, 0);
    assert_int_equal(c.cpu_weight, 0);
    assert_int_equal(c.cpu_millicores, 0); /* too large to be a quota */
    lxcconf_clear(&c);
}

static void test_refusals(void **state)
{
    (void)state;
    struct lxcconf c;
    g_autoptr(GError) err = NULL;
    const char nul[] = "lxc.uts.name = a\0b\n";
    assert_false(lxcconf_parse(nul, sizeof(nul) - 1, &c, &err));
    assert_non_null(strstr(err->message, "NUL"));
    g_clear_error(&err);
    g_autofree char *big = g_malloc0(LXCCONF_MAX_BYTES + 2);
    memset(big, '#', LXCCONF_MAX_BYTES + 1);
    assert_false(lxcconf_parse(big, LXCCONF_MAX_BYTES + 1, &c, &err));
    assert_non_null(err);
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(lxcconf_parse_size("134217728"), 134217728);
    assert_int_equal(lxcconf_parse_size("512K"), 512 * 1024);
    assert_int_equal(lxcconf_parse_size("2g"), 2ULL << 30);
    assert_int_equal(lxcconf_parse_size("128MB"), 128ULL << 20);
    assert_int_equal(lxcconf_parse_size("-1"), 0);
    assert_int_equal(lxcconf_parse_size("max"), 0);
    assert_int_equal(lxcconf_parse_size("12X"), 0);
    assert_int_equal(lxcconf_parse_size("1MiBs"), 0);
    assert_int_equal(lxcconf_parse_size(" 5"), 0);
    assert_int_equal(lxcconf_parse_size("99999999999999999999999"), 0);
}

static void test_derived_uuid(void **state)
{
    (void)state;
    g_autofree char *a = lxcconf_derived_uuid("0123abcd", "/var/lib/lxc", "web1");
    g_autofree char *b = lxcconf_derived_uuid("0123abcd", "/var/lib/lxc", "web1");
    g_autofree char *c = lxcconf_derived_uuid("0123abcd", "/var/lib/lxc", "web2");
    g_autofree char *d = lxcconf_derived_uuid("0123abcd", "/srv/lxc", "web1");
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    assert_true(g_uuid_string_is_valid(a));
    assert_int_equal(a[14], '5');                    /* version 5 */
    assert_non_null(strchr("89ab", a[19]));          /* RFC 4122 variant */
    g_autofree char *lower = g_ascii_strdown(a, -1); /* lower case */
    assert_string_equal(a, lower);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(lxcconf_name_valid("web-1.example_2"));
    assert_false(lxcconf_name_valid(""));
    assert_false(lxcconf_name_valid(NULL));
    assert_false(lxcconf_name_valid(".hidden"));
    assert_false(lxcconf_name_valid("-opt"));
    assert_false(lxcconf_name_valid("a/b"));
    assert_false(lxcconf_name_valid("../etc"));
    assert_false(lxcconf_name_valid("with space"));
    g_autofree char *long_name = g_strnfill(65, 'a');
    assert_false(lxcconf_name_valid(long_name));
    long_name[64] = 0;
    assert_true(lxcconf_name_valid(long_name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_limits_and_identity),
        cmocka_unit_test(test_v2_keys_and_no_limits),
        cmocka_unit_test(test_last_key_wins_and_bad_values_are_absent),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_derived_uuid),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
