/*
 * json: json_parse_strict() on a table of valid texts and of each class of
 * rejection, plus its size and depth bounds.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <glib.h>

#include "basic/json.h"

static const struct json_limits lim = {.max_bytes = 4096, .max_depth = 8};

#define OK_VALUE (-1)

struct json_case {
    const char *text;
    size_t len;      /* 0: strlen(text) */
    int expect;      /* OK_VALUE, or the JSON_ERROR code */
    int type;        /* json_type of the value when OK_VALUE */
    const char *msg; /* a part of the message when refused (NULL: not checked) */
};

static void run_cases(const struct json_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct json_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->text);
        g_autofree char *shown = g_strescape(c->text, NULL);
        g_autoptr(GError) err = NULL;
        json_object *v = (json_object *)&err; /* must be overwritten */
        bool ok = json_parse_strict(c->text, len, &lim, &v, &err);
        if (c->expect == OK_VALUE) {
            if (!ok)
                fail_msg("case %zu \"%s\" refused: %s", i, shown, err->message);
            assert_null(err);
            if (json_object_get_type(v) != (enum json_type)c->type)
                fail_msg("case %zu \"%s\": type %s, wanted %s", i, shown,
                         json_type_to_name(json_object_get_type(v)),
                         json_type_to_name((enum json_type)c->type));
            json_object_put(v);
            continue;
        }
        if (ok) {
            fail_msg("case %zu \"%s\" accepted as %s", i, shown,
                     v ? json_object_to_json_string(v) : "null");
        }
        assert_null(v);
        assert_non_null(err);
        if (err->domain != JSON_ERROR || err->code != c->expect ||
            (c->msg && !strstr(err->message, c->msg)))
            fail_msg("case %zu \"%s\": code %d \"%s\", wanted code %d with \"%s\"", i, shown,
                     err->code, err->message, c->expect, c->msg ? c->msg : "");
    }
}

static void test_valid(void **state)
{
    static const struct json_case cases[] = {
        {"{}", 0, OK_VALUE, json_type_object, NULL},
        {" \t\r\n{}\n ", 0, OK_VALUE, json_type_object, NULL},
        {"[]", 0, OK_VALUE, json_type_array, NULL},
        {"{\"a\": 1, \"b\": [true, false, null, 1.5, -2e-3, 1E5, \"x\"], \"c\": {\"d\": "
         "\"\\u00e9\"}}",
         0, OK_VALUE, json_type_object, NULL},
        {"\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", 0, OK_VALUE, json_type_string, NULL},
        /* What the strictness check refuses outside strings is fine inside. */
        {"[\"it's\", \"NaN\", \"Infinity\", \"\\\"'\\\\\"]", 0, OK_VALUE, json_type_array, NULL},
        {"[\"\\t\\n\\u0001\\u001f\\/\\\\u0000\"]", 0, OK_VALUE, json_type_array, NULL},
        /* The same key in different objects, and keys that look alike. */
        {"[{\"a\": 1}, {\"a\": {\"a\": 2}}, {\"a\": 1, \"A\": 2, \"a \": 3}]", 0, OK_VALUE,
         json_type_array, NULL},
        {"{\"a:b\": \"c:d\", \"e\": [\":\", {\"f\": \"{\"}]}", 0, OK_VALUE, json_type_object, NULL},
        /* A number or literal that ends exactly at the end of the input. */
        {"1", 0, OK_VALUE, json_type_int, NULL},
        {"-0.25e+3", 0, OK_VALUE, json_type_double, NULL},
        {"18446744073709551615", 0, OK_VALUE, json_type_int, NULL},
        {"true", 0, OK_VALUE, json_type_boolean, NULL},
        {"false", 0, OK_VALUE, json_type_boolean, NULL},
        {"null", 0, OK_VALUE, json_type_null, NULL},
        {"  7  ", 0, OK_VALUE, json_type_int, NULL},
        /* Only LEN bytes are read: what follows them is not part of it. */
        {"[1]garbage", 3, OK_VALUE, json_type_array, NULL},
        {"12345", 2, OK_VALUE, json_type_int, NULL},
    };
    run_cases(cases, G_N_ELEMENTS(cases));

    /* The value itself, and null as NULL. */
    json_object *v = NULL;
    assert_true(json_parse_strict("12345", 2, &lim, &v, NULL));
    assert_int_equal(json_object_get_int64(v), 12);
    json_object_put(v);
    v = json_object_new_object();
    json_object *keep = v;
    assert_true(json_parse_strict("null", 4, &lim, &v, NULL));
    assert_null(v);
    json_object_put(keep);
}

static void test_malformed(void **state)
{
    static const struct json_case cases[] = {
        {"{a: 1}", 0, JSON_ERROR_MALFORMED, 0, "malformed JSON at byte 1: "},
        {"{\"a\": 1,}", 0, JSON_ERROR_MALFORMED, 0, "malformed JSON at byte "},
        {"{\"a\" 1}", 0, JSON_ERROR_MALFORMED, 0, "malformed JSON at byte "},
        {"[tru]", 0, JSON_ERROR_MALFORMED, 0, "malformed JSON at byte "},
        {"01", 0, JSON_ERROR_MALFORMED, 0, "malformed JSON at byte "},
        {"}", 0, JSON_ERROR_MALFORMED, 0, "malformed JSON at byte 0: "},
        {"/* x */ {}", 0, JSON_ERROR_MALFORMED, 0, "malformed JSON at byte 0"},
        {"[1] // x", 0, JSON_ERROR_MALFORMED, 0, "at byte 4"},
        {"[True]", 0, JSON_ERROR_MALFORMED, 0, "at byte 1"},
        {"[0x10]", 0, JSON_ERROR_MALFORMED, 0, "malformed JSON at byte "},
        /* json-c's strict mode takes these; the helper does not. */
        {"{'a': 1}", 0, JSON_ERROR_MALFORMED, 0,
         "malformed JSON at byte 1: single quotes are not JSON"},
        {"['x']", 0, JSON_ERROR_MALFORMED, 0, "at byte 1"},
        {"{\"a\": NaN}", 0, JSON_ERROR_MALFORMED, 0,
         "malformed JSON at byte 6: only true, false and null are words in JSON"},
        {"[nan]", 0, JSON_ERROR_MALFORMED, 0, "malformed JSON at byte "},
        {"[Infinity]", 0, JSON_ERROR_MALFORMED, 0, "at byte 1"},
        {"[-Infinity]", 0, JSON_ERROR_MALFORMED, 0, "at byte "},
        {"NaN", 0, JSON_ERROR_MALFORMED, 0, "at byte 0"},
        {"-infinity", 0, JSON_ERROR_MALFORMED, 0, "at byte "},
        /* Numbers json-c's strict mode takes but JSON does not have. */
        {"[00]", 0, JSON_ERROR_MALFORMED, 0, "at byte 1: not a JSON number"},
        {"[-01]", 0, JSON_ERROR_MALFORMED, 0, "at byte 1: not a JSON number"},
        {"{\"a\": 1.}", 0, JSON_ERROR_MALFORMED, 0, "at byte 6: not a JSON number"},
        {"[1.e5]", 0, JSON_ERROR_MALFORMED, 0, "at byte 1: not a JSON number"},
        {"[.5]", 0, JSON_ERROR_MALFORMED, 0, "at byte 1"},
        {"[+1]", 0, JSON_ERROR_MALFORMED, 0, "at byte 1"},
        {"[1e5.5]", 0, JSON_ERROR_MALFORMED, 0, "at byte "},
        /* ... also where they end the text. */
        {"00", 0, JSON_ERROR_MALFORMED, 0, "at byte 0: not a JSON number"},
        {"-01", 0, JSON_ERROR_MALFORMED, 0, "at byte 0: not a JSON number"},
        {"1.", 0, JSON_ERROR_MALFORMED, 0, "at byte 0: not a JSON number"},
        {"01", 0, JSON_ERROR_MALFORMED, 0, "at byte 0: not a JSON number"},
        /* A number or literal cut short at the end is not JSON either; the
         * text is truncated only when it ends inside an array, object or
         * string. */
        {"1e", 0, JSON_ERROR_MALFORMED, 0, "at byte 0: not a JSON number"},
        {"-", 0, JSON_ERROR_MALFORMED, 0, "at byte 0: not a JSON number"},
        {"[1, 2.", 0, JSON_ERROR_MALFORMED, 0, "at byte 4: not a JSON number"},
        {"tr", 0, JSON_ERROR_MALFORMED, 0, "at byte 0: only true, false and null"},
        {"{\"a\": nul", 0, JSON_ERROR_MALFORMED, 0, "at byte 6: only true, false and null"},
        /* Something json-c let through is named before the missing end. */
        {"{'a': 1", 0, JSON_ERROR_MALFORMED, 0, "at byte 1: single quotes are not JSON"},
        /* Control characters in strings must be escaped. */
        {"\"a\tb\"", 0, JSON_ERROR_MALFORMED, 0,
         "at byte 2: control characters in strings must be escaped"},
        {"[\"\n\"]", 0, JSON_ERROR_MALFORMED, 0, "at byte 2"},
        {"{\"\x01\": 1}", 0, JSON_ERROR_MALFORMED, 0, "at byte 2"},
        /* A key twice: json-c keeps the last, a check may have read the
         * first ({"role":"viewer","role":"admin"}). */
        {"{\"role\": \"viewer\", \"role\": \"admin\"}", 0, JSON_ERROR_MALFORMED, 0,
         "at byte 0: an object has a key twice"},
        {"[1, {\"a\": {\"b\": 1, \"b\": 2}}]", 0, JSON_ERROR_MALFORMED, 0,
         "at byte 10: an object has a key twice"},
        {"{\"a\": {\"x\": 1}, \"a\": {\"y\": 2}}", 0, JSON_ERROR_MALFORMED, 0, "at byte 0: "},
        {"{\"a\": 1, \"\\u0061\": 2}", 0, JSON_ERROR_MALFORMED, 0, "a key twice"},
        {"[{}, {\"k\": [{\"q\": 1}], \"k\": 2}]", 0, JSON_ERROR_MALFORMED, 0, "at byte 5: "},
        /* NUL would cut a checked string short. */
        {"[\"a\\u0000b\"]", 0, JSON_ERROR_MALFORMED, 0,
         "at byte 3: NUL (\\u0000) in strings is refused"},
        {"{\"role\\u0000x\": 1}", 0, JSON_ERROR_MALFORMED, 0, "NUL"},
        /* JSON's whitespace is four characters, not every isspace(). */
        {"\f[1]", 0, JSON_ERROR_MALFORMED, 0, "at byte 0"},
        {"[1\f]", 0, JSON_ERROR_MALFORMED, 0, "at byte 2"},
        {"[1]\f", 0, JSON_ERROR_MALFORMED, 0, "at byte 3"},
        {"[1]\v", 0, JSON_ERROR_MALFORMED, 0, "at byte 3"},
    };
    run_cases(cases, G_N_ELEMENTS(cases));
}

static void test_trailing(void **state)
{
    static const struct json_case cases[] = {
        {"{} x", 0, JSON_ERROR_MALFORMED, 0, "at byte 3"},
        {"{}{}", 0, JSON_ERROR_MALFORMED, 0, "at byte 2"},
        {"{\"a\":1},", 0, JSON_ERROR_MALFORMED, 0, "at byte 7"},
        {"{}\n\n]", 0, JSON_ERROR_MALFORMED, 0, "at byte 4"},
        {"1 2", 0, JSON_ERROR_MALFORMED, 0, "at byte 2"},
        {"null x", 0, JSON_ERROR_MALFORMED, 0, "at byte 5"},
        {"\"a\"\"b\"", 0, JSON_ERROR_MALFORMED, 0, "at byte 3"},
    };
    run_cases(cases, G_N_ELEMENTS(cases));
}

static void test_truncated(void **state)
{
    static const struct json_case cases[] = {
        {"", 0, JSON_ERROR_TRUNCATED, 0, "truncated JSON (ends after 0 bytes)"},
        {"   ", 0, JSON_ERROR_TRUNCATED, 0, "truncated JSON (ends after 3 bytes)"},
        {"{", 0, JSON_ERROR_TRUNCATED, 0, "truncated JSON (ends after 1 bytes)"},
        {"{\"a\":", 0, JSON_ERROR_TRUNCATED, 0, NULL},
        {"[1, 2", 0, JSON_ERROR_TRUNCATED, 0, NULL},
        {"\"unterminated", 0, JSON_ERROR_TRUNCATED, 0, NULL},
        {"\"esc\\", 0, JSON_ERROR_TRUNCATED, 0, NULL},
        {"{}", 1, JSON_ERROR_TRUNCATED, 0, NULL},
    };
    run_cases(cases, G_N_ELEMENTS(cases));

    /* No text at all. */
    g_autoptr(GError) err = NULL;
    json_object *v = NULL;
    assert_false(json_parse_strict(NULL, 0, &lim, &v, &err));
    assert_true(g_error_matches(err, JSON_ERROR, JSON_ERROR_TRUNCATED));
}

static void test_not_utf8(void **state)
{
    static const struct json_case cases[] = {
        {"\"\xff\"", 0, JSON_ERROR_ENCODING, 0, "not valid UTF-8 at byte 1"},
        {"[\"\xc3\"]", 0, JSON_ERROR_ENCODING, 0, "at byte 2"},           /* cut sequence */
        {"\"\xed\xa0\x80\"", 0, JSON_ERROR_ENCODING, 0, "at byte 1"},     /* surrogate */
        {"\"\xc0\xaf\"", 0, JSON_ERROR_ENCODING, 0, "at byte 1"},         /* overlong */
        {"\"\xf4\x90\x80\x80\"", 0, JSON_ERROR_ENCODING, 0, "at byte 1"}, /* > U+10FFFF */
        /* A NUL byte is refused too, even where JSON allows no data at all. */
        {"{\"a\": \"\0\"}", 10, JSON_ERROR_ENCODING, 0, "at byte 7"},
        {"{}\0", 3, JSON_ERROR_ENCODING, 0, "at byte 2"},
        /* Checked before the syntax: the first problem named is the bytes. */
        {"{\xff", 0, JSON_ERROR_ENCODING, 0, "at byte 1"},
    };
    run_cases(cases, G_N_ELEMENTS(cases));
}

/* LEVELS nested arrays, optionally inside {"a": ...}. */
static char *nested(int levels, size_t *ret_len)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < levels; i++)
        g_string_append_c(s, '[');
    for (int i = 0; i < levels; i++)
        g_string_append_c(s, ']');
    *ret_len = s->len;
    return g_string_free(s, FALSE);
}

static void test_depth(void **state)
{
    for (int depth = 1; depth <= 64; depth *= 2) {
        struct json_limits l = {.max_bytes = 1 << 20, .max_depth = depth};
        size_t len;
        g_autofree char *at = nested(depth, &len);
        json_object *v = NULL;
        g_autoptr(GError) err = NULL;
        if (!json_parse_strict(at, len, &l, &v, &err))
            fail_msg("depth %d at its limit refused: %s", depth, err->message);
        json_object_put(v);

        g_autofree char *over = nested(depth + 1, &len);
        assert_false(json_parse_strict(over, len, &l, &v, &err));
        assert_null(v);
        assert_true(g_error_matches(err, JSON_ERROR, JSON_ERROR_TOO_DEEP));
        g_autofree char *want =
            g_strdup_printf("JSON nested deeper than %d levels at byte %d", depth, depth);
        if (!g_str_equal(err->message, want))
            fail_msg("depth %d: \"%s\", wanted \"%s\"", depth, err->message, want);
    }

    /* Objects count as levels like arrays, and a very deep text is refused
     * at the bound, not after recursing through all of it. */
    static const struct json_case cases[] = {
        {"{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}", 0,
         JSON_ERROR_TOO_DEEP, 0, "JSON nested deeper than 8 levels at byte "},
        /* A scalar is a level too: [1] inside six objects is 8 deep. */
        {"{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":[1]}}}}}}", 0, OK_VALUE, json_type_object,
         NULL},
        {"{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":[1]}}}}}}}", 0, JSON_ERROR_TOO_DEEP, 0,
         NULL},
    };
    run_cases(cases, G_N_ELEMENTS(cases));
    size_t len;
    g_autofree char *far = nested(100000, &len);
    g_autoptr(GError) err = NULL;
    json_object *v = NULL;
    struct json_limits big = {.max_bytes = len, .max_depth = 32};
    assert_false(json_parse_strict(far, len, &big, &v, &err));
    assert_true(g_error_matches(err, JSON_ERROR, JSON_ERROR_TOO_DEEP));
}

static void test_size(void **state)
{
    struct json_limits l = {.max_bytes = 16, .max_depth = 4};
    json_object *v = NULL;
    g_autoptr(GError) err = NULL;

    /* Exactly at the bound: parsed. */
    assert_true(json_parse_strict("[\"0123456789ab\"]", 16, &l, &v, &err));
    assert_int_equal(json_object_get_string_len(json_object_array_get_idx(v, 0)), 12);
    json_object_put(v);

    /* One byte more is refused before anything is read: even bytes that
     * are neither UTF-8 nor JSON give TOO_LARGE. */
    assert_false(json_parse_strict("[\"0123456789abc\"]", 17, &l, &v, &err));
    assert_true(g_error_matches(err, JSON_ERROR, JSON_ERROR_TOO_LARGE));
    assert_string_equal(err->message, "JSON text of 17 bytes is over the limit of 16 bytes");
    g_clear_error(&err);
    char junk[64];
    memset(junk, 0xff, sizeof(junk));
    assert_false(json_parse_strict(junk, sizeof(junk), &l, &v, &err));
    assert_true(g_error_matches(err, JSON_ERROR, JSON_ERROR_TOO_LARGE));
    assert_null(v);

    /* Trailing whitespace counts towards the bound: it is part of the text. */
    g_clear_error(&err);
    assert_false(json_parse_strict("{}               ", 17, &l, &v, &err));
    assert_true(g_error_matches(err, JSON_ERROR, JSON_ERROR_TOO_LARGE));
}

static void test_no_error_wanted(void **state)
{
    /* error may be NULL: the answer is the return value. */
    json_object *v = NULL;
    assert_false(json_parse_strict("{", 1, &lim, &v, NULL));
    assert_null(v);
    assert_false(json_parse_strict("{'a':1}", 7, &lim, &v, NULL));
    assert_null(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),    cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_trailing), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_not_utf8), cmocka_unit_test(test_depth),
        cmocka_unit_test(test_size),     cmocka_unit_test(test_no_error_wanted),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
