/* Configuration file and values. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "testutil.h"

static void test_defaults(void **state)
{
    struct guestd_conf c;
    char err[256];
    conf_defaults(&c);
    assert_int_equal(c.interval, 10);
    assert_string_equal(c.state_dir, "/var/lib/kanri-guestd");
    assert_int_equal(conf_finish(&c, false, err, sizeof(err)), 0);
    /* 24 h worth of samples at the default interval */
    assert_true(c.spool_max_count == 8641);
    conf_defaults(&c);
    assert_int_equal(conf_finish(&c, true, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "no url"));
}

static void test_parse(void **state)
{
    struct guestd_conf c;
    char err[256];
    conf_defaults(&c);
    const char *text = "# kanri-guestd\n"
                       "\n"
                       "url = http://kanri.example:8080/api/v1/ingest/guest\n"
                       "  token=kanri_abcDEF-123_x  \n"
                       "interval = 1m\n"
                       "state_dir = /tmp/st\n"
                       "spool_max_age = 2d\n"
                       "spool_max_bytes = 16M\n"
                       "spool_max_count = 77\n"
                       "root = /host\r\n"
                       "timeout = 3\n";
    assert_int_equal(conf_parse_text(&c, text, "t", err, sizeof(err)), 0);
    assert_string_equal(c.url, "http://kanri.example:8080/api/v1/ingest/guest");
    assert_string_equal(c.token, "kanri_abcDEF-123_x");
    assert_int_equal(c.interval, 60);
    assert_string_equal(c.state_dir, "/tmp/st");
    assert_true(c.spool_max_age == 2 * 86400);
    assert_true(c.spool_max_bytes == 16u << 20);
    assert_true(c.spool_max_count == 77);
    assert_string_equal(c.root, "/host");
    assert_int_equal(c.timeout, 3);
}

#define BAD(text, want)                                                                            \
    do {                                                                                           \
        conf_defaults(&c);                                                                         \
        assert_int_equal(conf_parse_text(&c, text, "f", err, sizeof(err)), -EINVAL);               \
        if (!strstr(err, want))                                                                    \
            fail_msg("error \"%s\" lacks \"%s\"", err, want);                                      \
    } while (0)

static void test_errors(void **state)
{
    struct guestd_conf c;
    char err[512];
    BAD("url = ftp://x/", "must start with https:// or http://");
    BAD("server_pin = sha1//abc", "server_pin: a pin is sha256//");
    BAD("url = http://user:pw@x/", "credentials");
    BAD("url = http://x:99999/", "invalid port");
    BAD("url = http://x y/", "invalid host");
    BAD("url = http://x/a b", "invalid path");
    BAD("interval = 0", "interval");
    BAD("interval = 10x", "interval");
    BAD("interval = 2d", "interval");
    BAD("spool_max_bytes = -1", "spool_max_bytes");
    BAD("spool_max_bytes = 99999999999999999999G", "spool_max_bytes");
    BAD("token = has space", "token");
    BAD("colour = blue", "f:1: unknown key \"colour\"");
    BAD("\n\njust words\n", "f:3: expected \"key = value\"");
}

static void test_token_file(void **state)
{
    char *dir = tu_mkdtemp(), p[PATH_MAX], err[PATH_MAX + 256];
    snprintf(p, sizeof(p), "%s/token", dir);
    tu_write_file(p, "kanri_secret\nsecond line ignored\n", 33);
    struct guestd_conf c;
    conf_defaults(&c);
    assert_int_equal(conf_set(&c, "token_file", p, err, sizeof(err)), 0);
    assert_int_equal(conf_finish(&c, false, err, sizeof(err)), 0);
    assert_string_equal(c.token, "kanri_secret");

    tu_write_file(p, "\n", 1);
    conf_defaults(&c);
    assert_int_equal(conf_set(&c, "token_file", p, err, sizeof(err)), 0);
    assert_int_equal(conf_finish(&c, false, err, sizeof(err)), -EINVAL);

    snprintf(p, sizeof(p), "%s/missing", dir);
    conf_defaults(&c);
    assert_int_equal(conf_set(&c, "token_file", p, err, sizeof(err)), 0);
    assert_int_equal(conf_finish(&c, false, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "No such file"));

    snprintf(p, sizeof(p), "%s/conf", dir);
    tu_write_file(p, "interval = 5\n", 13);
    conf_defaults(&c);
    assert_int_equal(conf_parse_file(&c, p, err, sizeof(err)), 0);
    assert_int_equal(c.interval, 5);
    tu_write_file(p, "interval = 5\n\0", 14);
    assert_int_equal(conf_parse_file(&c, p, err, sizeof(err)), -EINVAL);
    snprintf(p, sizeof(p), "%s/none", dir);
    assert_int_equal(conf_parse_file(&c, p, err, sizeof(err)), -ENOENT);
    tu_rm_rf(dir);
    free(dir);
}

static void test_units(void **state)
{
    int64_t d;
    uint64_t s;
    assert_true(conf_parse_duration("90", &d) && d == 90);
    assert_true(conf_parse_duration("90s", &d) && d == 90);
    assert_true(conf_parse_duration("15m", &d) && d == 900);
    assert_true(conf_parse_duration("2h", &d) && d == 7200);
    assert_true(conf_parse_duration("1d", &d) && d == 86400);
    assert_false(conf_parse_duration("", &d));
    assert_false(conf_parse_duration("s", &d));
    assert_false(conf_parse_duration("1.5h", &d));
    assert_true(conf_parse_size("512", &s) && s == 512);
    assert_true(conf_parse_size("4K", &s) && s == 4096);
    assert_true(conf_parse_size("1g", &s) && s == 1u << 30);
    assert_false(conf_parse_size("1T", &s));
}

/* An https url without a pin would trust nothing (or, worse, anything); a
 * pin beside an http url would look like protection that is not there. */
static void test_https_needs_a_pin(void **state)
{
    struct guestd_conf c;
    char err[512];
    conf_defaults(&c);
    assert_int_equal(conf_parse_text(&c, "url = https://10.0.0.1:8470/api/v1/ingest/guest\n", "f",
                                     err, sizeof(err)),
                     0);
    assert_int_equal(conf_finish(&c, true, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "needs server_pin"));
    assert_int_equal(conf_parse_text(&c,
                                     "server_pin = "
                                     "sha256//6NCoQpDCfynPYhL1sW9D6TRsNXsdISK2NHVEu9ie/+U=\n",
                                     "f", err, sizeof(err)),
                     0);
    assert_int_equal(conf_finish(&c, true, err, sizeof(err)), 0);
    assert_int_equal(c.pins.n, 1);
    assert_int_equal(conf_parse_text(&c, "url = http://10.0.0.1:8470/\n", "f", err, sizeof(err)), 0);
    assert_int_equal(conf_finish(&c, true, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "only to an https"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_parse),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_https_needs_a_pin),   cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
