/*
 * Unit tests for src/cli/format.c and the pure parts of src/cli/http.c:
 * size parsing and printing, terminal-safe text, tables, diff counts,
 * exit-code mapping, percent-encoding, URL parsing and key pins, and the
 * operations record's words, durations, scopes and times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cli/format.h"
#include "cli/http.h"

#define MiB (G_GUINT64_CONSTANT(1) << 20)

static void test_size_parse_ok(void **state)
{
    static const struct {
        const char *in;
        guint64 out;
    } cases[] = {
        {"512", 512 * MiB},
        {"512M", 512 * MiB},
        {"512m", 512 * MiB},
        {"512MiB", 512 * MiB},
        {"512mib", 512 * MiB},
        {"1G", 1024 * MiB},
        {"1GiB", 1024 * MiB},
        {"524288K", 512 * MiB},
        {"524288KiB", 512 * MiB},
        {"2T", G_GUINT64_CONSTANT(2) << 40},
        {"100B", 100},
        {"100bytes", 100},
        {"1KB", 1000},
        {"1MB", 1000000},
        {"1gb", 1000000000},
        {"3TB", G_GUINT64_CONSTANT(3000000000000)},
        {"007", 7 * MiB},
        {"16777215T", G_GUINT64_CONSTANT(16777215) << 40},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        guint64 v = 0;
        if (!size_parse(cases[i].in, &v))
            fail_msg("size_parse(\"%s\") failed", cases[i].in);
        assert_int_equal(v, cases[i].out);
    }
}

static void test_size_parse_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "0",
        "0M",
        "-1",
        "+1",
        "1.5G",
        "1 G",
        " 1G",
        "1G ",
        "G",
        "1X",
        "1GiBs",
        "1Gi",
        "0x10",
        "1e3",
        "18446744073709551616",
        "99999999999999999999",
        "17179869184G",
        "16777216T",
        "1KBB",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        guint64 v = 42;
        if (size_parse(bad[i], &v))
            fail_msg("size_parse(\"%s\") accepted it as %" G_GUINT64_FORMAT, bad[i], v);
        assert_int_equal(v, 42);
    }
    assert_false(size_parse(NULL, NULL));
}

static void test_size_format(void **state)
{
    static const struct {
        guint64 in;
        const char *out;
    } cases[] = {
        {0, "0 B"},
        {1, "1 B"},
        {1023, "1023 B"},
        {1024, "1 KiB"},
        {1536, "1.5 KiB"},
        {200704, "196 KiB"},
        {8388608, "8 MiB"},
        {512 * MiB, "512 MiB"},
        {1048575, "1.0 MiB"},
        {1610612736, "1.5 GiB"},
        {25769803776, "24 GiB"},
        {G_GUINT64_CONSTANT(1) << 50, "1 PiB"},
        {G_MAXUINT64, "16.0 EiB"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = size_format(cases[i].in);
        assert_string_equal(s, cases[i].out);
    }
}

static void test_size_roundtrip(void **state)
{
    /* What setmem prints back must read as what the user typed. */
    guint64 v = 0;
    assert_true(size_parse("1536M", &v));
    g_autofree char *s = size_format(v);
    assert_string_equal(s, "1.5 GiB");
}

static void test_text_sanitize(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"web1", "web1"},
        {"", ""},
        {"a b", "a b"},
        {"a\nb", "a\\x0Ab"},
        {"tab\there", "tab\\x09here"},
        {"\x1b[31mred", "\\x1B[31mred"},
        {"del\x7f", "del\\x7F"},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
        {"\xff\xfe", "\\xFF\\xFE"},
        {"a\xc3", "a\\xC3"},
        {"\xe2\x80\xae"
         "evil",
         "\\u202Eevil"},           /* RIGHT-TO-LEFT OVERRIDE */
        {"\xc2\x85x", "\\u0085x"}, /* NEXT LINE (C1 control) */
        {"\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = text_sanitize(cases[i].in);
        assert_string_equal(s, cases[i].out);
    }
    g_autofree char *dash = text_sanitize(NULL);
    assert_string_equal(dash, "-");
}

static void test_text_width(void **state)
{
    assert_int_equal(text_width(""), 0);
    assert_int_equal(text_width("abc"), 3);
    assert_int_equal(text_width("caf\xc3\xa9"), 4);
    assert_int_equal(text_width("\xe6\x97\xa5\xe6\x9c\xac"), 4); /* two wide characters */
    assert_int_equal(text_width("e\xcc\x81"), 1);                /* e + combining acute */
}

static void test_diff_count(void **state)
{
    guint a = 99, r = 99;

    diff_count("--- version 2\n+++ version 3\n@@ -5,1 +5,2 @@\n-  <memory>1</memory>\n"
               "+  <memory>2</memory>\n+  <x/>\n  <same/>\n",
               &a, &r);
    assert_int_equal(a, 2);
    assert_int_equal(r, 1);

    /* A removed line that itself starts with "--" is still one removed line. */
    diff_count("--- a\n+++ b\n@@ -1 +1 @@\n---x\n+++y\n", &a, &r);
    assert_int_equal(a, 1);
    assert_int_equal(r, 1);

    diff_count("", &a, &r);
    assert_int_equal(a, 0);
    assert_int_equal(r, 0);

    diff_count("@@ -1 +1 @@\n+no newline at end", &a, &r);
    assert_int_equal(a, 1);
    assert_int_equal(r, 0);
}

static void test_table_render(void **state)
{
    static const char *const cols[] = {"Name", "Mem"};
    g_autoptr(table) t = table_new(2, cols);

    table_align_right(t, 1);
    table_add(t, "a");
    table_add(t, "1 B");
    table_add(t, "longer");
    table_add(t, "512 MiB");
    assert_int_equal(table_rows(t), 2);
    g_autofree char *s = table_render(t);
    assert_string_equal(s, "NAME        MEM\n"
                           "---------------\n"
                           "a           1 B\n"
                           "longer  512 MiB\n");
}

static void test_table_trailing_and_missing(void **state)
{
    static const char *const cols[] = {"Id", "Name", "Note"};
    g_autoptr(table) t = table_new(3, cols);

    table_addf(t, "%d", 7);
    table_add(t, NULL);
    table_add(t, "x");
    table_add(t, "12");
    table_add(t, "caf\xc3\xa9\n"); /* sanitized, then measured */
    /* The last row is left one cell short. */
    g_autofree char *s = table_render(t);
    assert_string_equal(s, "ID  NAME      NOTE\n"
                           "------------------\n"
                           "7   -         x\n"
                           "12  caf\xc3\xa9\\x0A\n");
}

static void test_table_empty(void **state)
{
    static const char *const cols[] = {"Name", "State"};
    g_autoptr(table) t = table_new(2, cols);

    assert_int_equal(table_rows(t), 0);
    g_autofree char *s = table_render(t);
    assert_string_equal(s, "NAME  STATE\n-----------\n");
}

static void test_table_wide_chars(void **state)
{
    static const char *const cols[] = {"Name", "X"};
    g_autoptr(table) t = table_new(2, cols);

    table_add(t, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"); /* 6 columns wide */
    table_add(t, "1");
    g_autofree char *s = table_render(t);
    assert_string_equal(s, "NAME    X\n"
                           "---------\n"
                           "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e  1\n");
}

static void test_exit_code_for_status(void **state)
{
    static const int cases[][2] = {
        {200, CLI_EXIT_OK},     {201, CLI_EXIT_OK},        {204, CLI_EXIT_OK},
        {301, CLI_EXIT_SERVER}, {400, CLI_EXIT_SERVER},    {401, CLI_EXIT_AUTH},
        {403, CLI_EXIT_AUTH},   {404, CLI_EXIT_NOT_FOUND}, {405, CLI_EXIT_SERVER},
        {409, CLI_EXIT_SERVER}, {413, CLI_EXIT_SERVER},    {500, CLI_EXIT_SERVER},
        {502, CLI_EXIT_SERVER}, {503, CLI_EXIT_SERVER},    {504, CLI_EXIT_SERVER},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        if (cli_exit_code_for_status(cases[i][0]) != cases[i][1])
            fail_msg("status %d gave %d, expected %d", cases[i][0],
                     cli_exit_code_for_status(cases[i][0]), cases[i][1]);
    }
    assert_int_equal(CLI_EXIT_OK, 0);
    assert_int_equal(CLI_EXIT_SERVER, 1);
    assert_int_equal(CLI_EXIT_USAGE, 2);
    assert_int_equal(CLI_EXIT_UNREACHABLE, 3);
    assert_int_equal(CLI_EXIT_AUTH, 4);
    assert_int_equal(CLI_EXIT_NOT_FOUND, 5);
}

static void test_exit_code_for_error(void **state)
{
    static const int cases[][2] = {
        {HTTP_ERROR_URL, CLI_EXIT_USAGE},
        {HTTP_ERROR_CONNECT, CLI_EXIT_UNREACHABLE},
        {HTTP_ERROR_TIMEOUT, CLI_EXIT_UNREACHABLE},
        {HTTP_ERROR_IO, CLI_EXIT_UNREACHABLE},
        {HTTP_ERROR_TRUNCATED, CLI_EXIT_UNREACHABLE},
        {HTTP_ERROR_PROTOCOL, CLI_EXIT_SERVER},
        {HTTP_ERROR_TOO_LARGE, CLI_EXIT_SERVER},
        {HTTP_ERROR_TLS, CLI_EXIT_UNREACHABLE},
        {HTTP_ERROR_CERT, CLI_EXIT_UNREACHABLE},
        {HTTP_ERROR_PIN, CLI_EXIT_UNREACHABLE},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) e = g_error_new_literal(HTTP_ERROR, cases[i][0], "x");
        assert_int_equal(cli_exit_code_for_error(e), cases[i][1]);
    }
    g_autoptr(GError) other = g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_FAILED, "x");
    assert_int_equal(cli_exit_code_for_error(other), CLI_EXIT_SERVER);
}

static void test_http_escape(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"web1", "web1"},
        {"", ""},
        {"AZaz09-._~", "AZaz09-._~"},
        {"a b", "a%20b"},
        {"a/b", "a%2Fb"},
        {"../x", "..%2Fx"},
        {"q?x#y", "q%3Fx%23y"},
        {"50%", "50%25"},
        {"a&b=c+d", "a%26b%3Dc%2Bd"},
        {"local:web1", "local:web1"},
        {"caf\xc3\xa9", "caf%C3%A9"},
        {"\n\r\t", "%0A%0D%09"},
        {"\xff", "%FF"},
        {"'\"<>\\", "%27%22%3C%3E%5C"},
        {"6695eb01-f6a4-8304-79aa-97f2502e193f", "6695eb01-f6a4-8304-79aa-97f2502e193f"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = http_escape(cases[i].in);
        assert_string_equal(s, cases[i].out);
    }
}

static void test_url_parse_ok(void **state)
{
    static const struct {
        const char *in;
        const char *scheme;
        const char *host;
        guint16 port;
        const char *prefix;
        const char *base;
    } cases[] = {
        {"http://127.0.0.1:8470", "http", "127.0.0.1", 8470, "", "http://127.0.0.1:8470"},
        {"http://127.0.0.1:8470/", "http", "127.0.0.1", 8470, "", "http://127.0.0.1:8470"},
        {"HTTP://Manager.example", "http", "Manager.example", 80, "", "http://Manager.example:80"},
        {"http://host:", "http", "host", 80, "", "http://host:80"},
        {"http://[::1]:9000", "http", "::1", 9000, "", "http://[::1]:9000"},
        {"http://[fe80::1]/", "http", "fe80::1", 80, "", "http://[fe80::1]:80"},
        {"http://h:1/kanri/", "http", "h", 1, "/kanri", "http://h:1/kanri"},
        {"http://h:65535/a/b//", "http", "h", 65535, "/a/b", "http://h:65535/a/b"},
        {"https://h", "https", "h", 443, "", "https://h:443"},
        {"HTTPS://kanri.example:8443/k/", "https", "kanri.example", 8443, "/k",
         "https://kanri.example:8443/k"},
        {"https://[::1]:8470", "https", "::1", 8470, "", "https://[::1]:8470"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct http_url u;
        g_autoptr(GError) err = NULL;
        if (!http_url_parse(cases[i].in, &u, &err))
            fail_msg("%s: %s", cases[i].in, err->message);
        assert_string_equal(u.scheme, cases[i].scheme);
        assert_string_equal(u.host, cases[i].host);
        assert_int_equal(u.port, cases[i].port);
        assert_string_equal(u.prefix, cases[i].prefix);
        assert_string_equal(u.base, cases[i].base);
        http_url_clear(&u);
    }
}

static void test_url_parse_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "127.0.0.1:8470",
        "ftp://h",
        "http://",
        "https://",
        "https://:443",
        "http://a[b",
        "http://a\\b",
        "http://:80",
        "http://h:0",
        "http://h:65536",
        "http://h:123456",
        "http://h:x",
        "http://h:-1",
        "http://user@h",
        "http://h?x=1",
        "http://h/#frag",
        "http://::1:80",
        "http://[::1",
        "http://[]:80",
        "http://[::1]x",
        "http://h /x",
        "http://h\n",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct http_url u;
        g_autoptr(GError) err = NULL;
        if (http_url_parse(bad[i], &u, &err))
            fail_msg("accepted bad URL '%s'", bad[i]);
        assert_true(g_error_matches(err, HTTP_ERROR, HTTP_ERROR_URL));
        assert_null(u.host);
    }
}

static void test_pin_valid(void **state)
{
    /* base64 of SHA-256(""), a well-formed digest. */
#define PIN_A "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define PIN_B "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    static const char *const good[] = {
        PIN_A,
        PIN_B,
        PIN_A ";" PIN_B,
    };
    static const char *const bad[] = {
        "",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",         /* no prefix */
        "SHA256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", /* libcurl wants lower case */
        "sha1//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",   /* padding missing */
        "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU==", /* too long */
        "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=",  /* stray low bits */
        "sha256//47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",  /* URL-safe alphabet */
        "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3h uFU=",
        PIN_A ";",
        ";" PIN_A,
        PIN_A "; " PIN_B,
        "/etc/kanri/server.pem", /* libcurl would take a file; --pin does not */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        if (!http_pin_valid(good[i]))
            fail_msg("refused good pin '%s'", good[i]);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        if (http_pin_valid(bad[i]))
            fail_msg("accepted bad pin '%s'", bad[i]);
    }
    assert_false(http_pin_valid(NULL));
#undef PIN_A
#undef PIN_B
}

/* ---- the operations record ---- */

static void test_word_one_of(void **state)
{
    const char *sev = "info|warning|major|critical";

    assert_true(word_one_of("info", sev));
    assert_true(word_one_of("critical", sev));
    assert_true(word_one_of(">=", ">|>=|<|<="));
    assert_true(word_one_of("<", ">|>=|<|<="));
    /* Whole words only, and case matters as it does to the API. */
    assert_false(word_one_of("warn", sev));
    assert_false(word_one_of("Info", sev));
    assert_false(word_one_of("info|warning", sev));
    assert_false(word_one_of("", sev));
    assert_false(word_one_of("=", ">|>=|<|<="));
    assert_false(word_one_of(NULL, sev));
    assert_true(word_one_of("x", "x"));
    assert_false(word_one_of("x", ""));
}

static void test_duration_format(void **state)
{
    static const struct {
        gint64 in;
        const char *out;
    } cases[] = {
        {0, "0s"},      {1, "1s"},        {45, "45s"},     {60, "1m"},    {90, "1m30s"},
        {300, "5m"},    {3600, "1h"},     {5400, "1h30m"}, {86400, "1d"}, {90061, "1d1h1m1s"},
        {604800, "7d"}, {183600, "2d3h"}, {-1, "-"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = duration_format(cases[i].in);
        assert_string_equal(s, cases[i].out);
    }
}

static void test_scope_syntax_valid(void **state)
{
    static const char *const good[] = {"all",
                                       "host:node1",
                                       "vm:web*",
                                       "vm:?",
                                       "pool:node1/data",
                                       "pool:*/*",
                                       "item:vm:1b4e28ba-2fa1-11d2-883f-0016d3cca427"};
    static const char *const bad[] = {
        "",     "ALL",   "everything", "host:",     "vm:",     "network:x",
        "host", "node1", " all",       "host:a\nb", "vm:\x7f", "item:"};

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
        assert_true(scope_syntax_valid(good[i]));
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        if (scope_syntax_valid(bad[i]))
            fail_msg("'%s' accepted", bad[i]);
    }
    assert_false(scope_syntax_valid(NULL));
}

static void test_time_text(void **state)
{
    gint64 t = 0;

    assert_true(time_text_parse("1970-01-01T00:00:00Z", &t));
    assert_int_equal(t, 0);
    assert_true(time_text_parse("2026-11-26T10:20:19Z", &t));
    assert_int_equal(t, G_GINT64_CONSTANT(1795688419) * G_USEC_PER_SEC);
    assert_true(time_text_parse("2026-11-26T19:20:19.5+09:00", &t));
    assert_int_equal(t, G_GINT64_CONSTANT(1795688419) * G_USEC_PER_SEC + 500000);
    /* RFC 3339 always names its zone. */
    assert_false(time_text_parse("2026-11-26T10:20:19", &t));
    assert_false(time_text_parse("2h", &t));
    assert_false(time_text_parse("", &t));
    assert_false(time_text_parse(NULL, &t));

    /* Newest first, by instant rather than by text. */
    assert_true(time_text_newest_first("2026-11-26T10:00:01Z", "2026-11-26T10:00:00Z") < 0);
    assert_true(time_text_newest_first("2026-11-26T10:00:00Z", "2026-11-26T10:00:01Z") > 0);
    assert_int_equal(time_text_newest_first("2026-11-26T19:00:00+09:00", "2026-11-26T10:00:00Z"),
                     0);
    /* Text order would put "...T18:..." (09:00 UTC) after "...T10:..."; the instant does not. */
    assert_true(time_text_newest_first("2026-11-26T18:00:00+09:00", "2026-11-26T10:00:00Z") > 0);
    /* Unparseable ones last. */
    assert_true(time_text_newest_first("garbage", "2026-11-26T10:00:00Z") > 0);
    assert_true(time_text_newest_first("2026-11-26T10:00:00Z", NULL) < 0);
    assert_int_equal(time_text_newest_first(NULL, "x"), 0);
}

/* On a terminal: bold headers and coloured state words, the columns as
 * wide as without colour. */
static void test_table_color(void **state)
{
    (void)state;
    const char *headers[] = {"name", "state", "n"};
    g_autoptr(table) t = table_new(3, headers);
    table_align_right(t, 2);
    table_add(t, "web1");
    table_add(t, "running");
    table_add(t, "1");
    table_add(t, "db");
    table_add(t, "crashed");
    table_add(t, "12");
    table_add(t, "x");
    table_add(t, "shutoff");
    table_add(t, "3");
    g_autofree char *plain = table_render(t);
    table_set_color(t, true);
    g_autofree char *text = table_render(t);
    assert_string_equal(text, "\033[1mNAME\033[0m  \033[1mSTATE\033[0m     \033[1mN\033[0m\n"
                              "-----------------\n"
                              "web1  \033[32mrunning\033[0m   1\n"
                              "db    \033[31mcrashed\033[0m  12\n"
                              "x     shutoff   3\n");
    assert_string_equal(plain, "NAME  STATE     N\n-----------------\nweb1  running   1\n"
                               "db    crashed  12\nx     shutoff   3\n");
    assert_string_equal(state_color("paused"), "33");
    assert_null(state_color("shutoff"));
    assert_null(state_color(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_parse_ok),
        cmocka_unit_test(test_size_parse_bad),
        cmocka_unit_test(test_size_format),
        cmocka_unit_test(test_size_roundtrip),
        cmocka_unit_test(test_text_sanitize),
        cmocka_unit_test(test_text_width),
        cmocka_unit_test(test_diff_count),
        cmocka_unit_test(test_table_render),
        cmocka_unit_test(test_table_trailing_and_missing),
        cmocka_unit_test(test_table_empty),
        cmocka_unit_test(test_table_color),
        cmocka_unit_test(test_table_wide_chars),
        cmocka_unit_test(test_exit_code_for_status),
        cmocka_unit_test(test_exit_code_for_error),
        cmocka_unit_test(test_http_escape),
        cmocka_unit_test(test_url_parse_ok),
        cmocka_unit_test(test_url_parse_bad),
        cmocka_unit_test(test_pin_valid),
        cmocka_unit_test(test_word_one_of),
        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_scope_syntax_valid),
        cmocka_unit_test(test_time_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
