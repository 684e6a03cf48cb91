/* JSON writer: escaping and UTF-8 sanitising. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static char *esc(const char *s, size_t n)
{
    struct gbuf b;
    gbuf_init(&b, 0);
    json_append_string(&b, s, n);
    return b.data; /* caller frees */
}

#define ESC(lit, want)                                                                             \
    do {                                                                                           \
        char *got_ = esc(lit, sizeof(lit) - 1);                                                    \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

static void test_escapes(void **state)
{
    ESC("plain", "\"plain\"");
    ESC("", "\"\"");
    ESC("a\"b\\c", "\"a\\\"b\\\\c\"");
    /* Control characters (C0, DEL, C1) become U+FFFD: kanrid refuses them. */
    ESC("\n\r\t", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    ESC("\x01\x1f\x7f", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    ESC("nul\0in", "\"nul\xef\xbf\xbdin\"");
    ESC("c1\xc2\x85\xc2\x9f|\xc2\xa0", "\"c1\xef\xbf\xbd\xef\xbf\xbd|\xc2\xa0\"");
}

static void test_utf8(void **state)
{
    ESC("caf\xc3\xa9", "\"caf\xc3\xa9\"");                           /* valid 2-byte */
    ESC("\xe2\x82\xac", "\"\xe2\x82\xac\"");                         /* valid 3-byte (euro) */
    ESC("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");                 /* valid 4-byte */
    ESC("\xff", "\"\xef\xbf\xbd\"");                                 /* never valid */
    ESC("\x80", "\"\xef\xbf\xbd\"");                                 /* stray continuation */
    ESC("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");                 /* overlong '/' */
    ESC("\xe0\x80\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* overlong */
    ESC("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
    ESC("\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* >10FFFF */
    ESC("a\xc3", "\"a\xef\xbf\xbd\""); /* truncated at the end */
    ESC("\xc3(", "\"\xef\xbf\xbd(\""); /* bad continuation */
}

static void test_writer(void **state)
{
    struct gbuf b;
    gbuf_init(&b, 0);
    struct jw w;
    jw_init(&w, &b);
    jw_obj_begin(&w, NULL);
    jw_u64(&w, "a", UINT64_MAX);
    jw_i64(&w, "b", -5);
    jw_arr_begin(&w, "c");
    jw_double(&w, NULL, 1.5, 2);
    jw_double(&w, NULL, 1.0 / 0.0, 2);
    jw_bool(&w, NULL, true);
    jw_null(&w, NULL);
    jw_arr_end(&w);
    jw_obj_begin(&w, "d");
    jw_obj_end(&w);
    jw_str(&w, "e\"", "x");
    jw_obj_end(&w);
    assert_false(b.overflow);
    assert_string_equal(b.data, "{\"a\":18446744073709551615,\"b\":-5,\"c\":[1.50,null,true,null],"
                                "\"d\":{},\"e\\\"\":\"x\"}");
    gbuf_free(&b);
}

static void test_bounds(void **state)
{
    struct gbuf b;
    gbuf_init(&b, 16);
    gbuf_puts(&b, "0123456789");
    assert_false(b.overflow);
    gbuf_puts(&b, "0123456789");
    assert_true(b.overflow);
    assert_int_equal(b.len, 10);
    gbuf_reset(&b);
    assert_false(b.overflow);
    gbuf_printf(&b, "%s", "a long string that does not fit");
    assert_true(b.overflow);
    gbuf_free(&b);

    gbuf_init(&b, 0);
    struct jw w;
    jw_init(&w, &b);
    for (int i = 0; i < JW_MAX_DEPTH + 2; i++)
        jw_arr_begin(&w, NULL);
    assert_true(b.overflow);
    gbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
