/*
 * util: time formatting and parsing, durations, integers, UUIDs, hashes
 * and tokens.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <glib.h>

#include "basic/util.h"

/* ---- time ---- */

static void test_time_format(void **state)
{
    static const struct {
        int64_t usec;
        const char *text;
    } cases[] = {
        {1, "1970-01-01T00:00:00Z"},
        {USEC_PER_SEC, "1970-01-01T00:00:01Z"},
        {G_GINT64_CONSTANT(1795688419) * USEC_PER_SEC, "2026-11-26T10:20:19Z"},
        /* Sub-second parts are cut, never rounded up. */
        {G_GINT64_CONSTANT(1795688419) * USEC_PER_SEC + 999999, "2026-11-26T10:20:19Z"},
        {G_GINT64_CONSTANT(951782400) * USEC_PER_SEC, "2000-02-29T00:00:00Z"},
        {G_GINT64_CONSTANT(253402300799) * USEC_PER_SEC, "9999-12-31T23:59:59Z"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = time_format_rfc3339(cases[i].usec);
        assert_non_null(s);
        assert_string_equal(s, cases[i].text);
    }
    /* Unknown times: NULL, which the API shows as null. */
    assert_null(time_format_rfc3339(0));
    assert_null(time_format_rfc3339(-1));
    assert_null(time_format_rfc3339(G_MININT64));
    /* Beyond year 9999 GDateTime has no answer. */
    assert_null(time_format_rfc3339(G_GINT64_CONSTANT(253402300800) * USEC_PER_SEC));
}

static void test_time_parse(void **state)
{
    static const struct {
        const char *text;
        int64_t usec;
    } good[] = {
        {"2026-11-26T10:20:19Z", G_GINT64_CONSTANT(1795688419) * USEC_PER_SEC},
        {"2026-11-26T11:20:19+01:00", G_GINT64_CONSTANT(1795688419) * USEC_PER_SEC},
        {"2026-11-26T05:20:19-05:00", G_GINT64_CONSTANT(1795688419) * USEC_PER_SEC},
        {"2026-11-26T10:20:19.250Z", G_GINT64_CONSTANT(1795688419) * USEC_PER_SEC + 250000},
        {"1970-01-01T00:00:00Z", 0},
        {"0", 0},
        {"1795688419", G_GINT64_CONSTANT(1795688419) * USEC_PER_SEC},
        {"253402300799", G_GINT64_CONSTANT(253402300799) * USEC_PER_SEC},
        {"9999-12-31T23:59:59Z", G_GINT64_CONSTANT(253402300799) * USEC_PER_SEC},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        int64_t t = -42;
        if (!time_parse(good[i].text, &t)) {
            print_error("'%s' refused\n", good[i].text);
            fail();
        }
        assert_int_equal(t, good[i].usec);
    }
    static const char *const bad[] = {
        "",
        "now",
        "-1",
        "+5",
        " 5",
        "5 ",
        "1.5",
        "2026-11-26",           /* no time */
        "2026-11-26T10:20:19",  /* no zone: ambiguous, refused */
        "2026-13-01T00:00:00Z", /* no month 13 */
        "2026-02-30T00:00:00Z", /* no February 30 */
        "2026-11-26T25:00:00Z",
        "253402300800",  /* after 9999 */
        "9223372036854", /* the same, or seconds that overflow microseconds */
        "9223372036855",
        "1969-12-31T23:59:59Z", /* before 1970 */
        "0001-01-01T00:00:00Z",
        "18446744073709551616", /* overflows uint64 */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        int64_t t = -42;
        if (time_parse(bad[i], &t)) {
            print_error("'%s' accepted as %" G_GINT64_FORMAT "\n", bad[i], t);
            fail();
        }
        assert_int_equal(t, -42);
    }
    int64_t t;
    assert_false(time_parse(NULL, &t));
}

static void test_time_round_trip(void **state)
{
    for (int64_t s = 1; s < G_GINT64_CONSTANT(4102444800); s = s * 3 + 7) {
        g_autofree char *text = time_format_rfc3339(s * USEC_PER_SEC);
        int64_t back = 0;
        assert_true(time_parse(text, &back));
        assert_int_equal(back, s * USEC_PER_SEC);
    }
}

/* ---- durations ---- */

static void test_duration_parse(void **state)
{
    static const struct {
        const char *text;
        int64_t usec;
    } good[] = {
        {"90", 90 * USEC_PER_SEC},
        {"90s", 90 * USEC_PER_SEC},
        {"15m", 15 * 60 * USEC_PER_SEC},
        {"2h", 2 * 3600 * USEC_PER_SEC},
        {"7d", 7 * 86400 * USEC_PER_SEC},
        {"2w", 14 * 86400 * USEC_PER_SEC},
        {"1", USEC_PER_SEC},
        /* The largest count that fits, for seconds and for weeks. */
        {"9223372036854s", G_GINT64_CONSTANT(9223372036854) * USEC_PER_SEC},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        int64_t d = -1;
        if (!duration_parse(good[i].text, &d)) {
            print_error("'%s' refused\n", good[i].text);
            fail();
        }
        assert_int_equal(d, good[i].usec);
    }
    int64_t d;
    assert_true(duration_parse("15250284w", &d));
    assert_int_equal(d, G_GINT64_CONSTANT(15250284) * 7 * 86400 * USEC_PER_SEC);

    /* The last three overflow: microseconds, weeks, uint64. */
    static const char *const bad[] = {
        "",          "0",
        "0s",        "s",
        "m",         "-5m",
        "+5m",       "5 m",
        " 5m",       "5m ",
        "1.5h",      "5M",
        "5y",        "5ms",
        "5mm",       "9223372036855s",
        "15250285w", "18446744073709551616",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        d = -1;
        if (duration_parse(bad[i], &d)) {
            print_error("'%s' accepted as %" G_GINT64_FORMAT "\n", bad[i], d);
            fail();
        }
        assert_int_equal(d, -1);
    }
    assert_false(duration_parse(NULL, &d));
}

/* ---- integers ---- */

static void test_parse_u64(void **state)
{
    static const struct {
        const char *text;
        uint64_t v;
    } good[] = {
        {"0", 0},
        {"7", 7},
        {"007", 7},
        {"4294967296", G_GUINT64_CONSTANT(4294967296)},
        {"9223372036854775808", G_GUINT64_CONSTANT(9223372036854775808)},
        {"18446744073709551610", G_GUINT64_CONSTANT(18446744073709551610)},
        {"18446744073709551615", G_MAXUINT64},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        uint64_t v = 1;
        if (!parse_u64(good[i].text, &v)) {
            print_error("'%s' refused\n", good[i].text);
            fail();
        }
        assert_true(v == good[i].v);
    }
    static const char *const bad[] = {
        "",
        "-0",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1x",
        "0x10",
        "1e3",
        "18446744073709551616", /* UINT64_MAX + 1 */
        "18446744073709551620",
        "99999999999999999999",
        "184467440737095516150",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        uint64_t v = 12345;
        if (parse_u64(bad[i], &v)) {
            print_error("'%s' accepted\n", bad[i]);
            fail();
        }
        assert_true(v == 12345);
    }
    uint64_t v;
    assert_false(parse_u64(NULL, &v));
}

/* ---- UUIDs ---- */

static void test_uuid_is_valid(void **state)
{
    assert_true(uuid_is_valid("6695eb01-f6a4-8304-79aa-97f2502e193f"));
    assert_true(uuid_is_valid("6695EB01-F6A4-8304-79AA-97F2502E193F"));
    assert_true(uuid_is_valid("00000000-0000-0000-0000-000000000000"));
    assert_false(uuid_is_valid(NULL));
    assert_false(uuid_is_valid(""));
    assert_false(uuid_is_valid("6695eb01f6a4830479aa97f2502e193f"));       /* no dashes */
    assert_false(uuid_is_valid("6695eb01-f6a4-8304-79aa-97f2502e193"));    /* short */
    assert_false(uuid_is_valid("6695eb01-f6a4-8304-79aa-97f2502e193ff"));  /* long */
    assert_false(uuid_is_valid("6695eb01-f6a4-8304-79aa-97f2502e193g"));   /* not hex */
    assert_false(uuid_is_valid("6695eb0-1f6a4-8304-79aa-97f2502e193f"));   /* dash moved */
    assert_false(uuid_is_valid("{6695eb01-f6a4-8304-79aa-97f2502e193}"));  /* braces */
    assert_false(uuid_is_valid("6695eb01-f6a4-8304-79aa 97f2502e193f"));   /* space */
    assert_false(uuid_is_valid("6695eb01-f6a4-8304-79aa-97f2502e193f\n")); /* newline */
}

/* ---- hashes and tokens ---- */

static void test_sha256_hex(void **state)
{
    g_autofree char *empty = sha256_hex("");
    assert_string_equal(empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    g_autofree char *abc = sha256_hex("abc");
    assert_string_equal(abc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    g_autofree char *tok = sha256_hex("kanri_x");
    assert_int_equal(strlen(tok), 64);
    for (const char *p = tok; *p; p++)
        assert_true(g_ascii_isdigit(*p) || (*p >= 'a' && *p <= 'f'));
}

static void test_token_generate(void **state)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    unsigned char_seen[256] = {0};
    for (int i = 0; i < 1000; i++) {
        char *t = token_generate();
        /* "kanri_" + 43 base64url characters (256 bits, no padding). */
        assert_int_equal(strlen(t), 6 + 43);
        assert_true(g_str_has_prefix(t, "kanri_"));
        for (const char *p = t + 6; *p; p++) {
            if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_') {
                print_error("token '%s' has '%c'\n", t, *p);
                fail();
            }
            char_seen[(unsigned char)*p]++;
        }
        /* The last character holds 4 bits + 2 zero bits: one of 16. */
        assert_non_null(strchr("AEIMQUYcgkosw048", t[48]));
        assert_false(g_hash_table_contains(seen, t));
        g_hash_table_add(seen, t);
    }
    assert_int_equal(g_hash_table_size(seen), 1000);
    /* 42 000 random characters use all 64 of the alphabet. */
    unsigned distinct = 0;
    for (int c = 0; c < 256; c++)
        distinct += char_seen[c] > 0;
    assert_int_equal(distinct, 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_format),     cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_time_round_trip), cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_parse_u64),       cmocka_unit_test(test_uuid_is_valid),
        cmocka_unit_test(test_sha256_hex),      cmocka_unit_test(test_token_generate),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
