#include "config.h"

#include "basic/json.h"

#include <limits.h>
#include <string.h>

G_DEFINE_QUARK(kanri_json_error_quark, json_error)

/* JSON's whitespace: json-c's strict mode takes no other (not \f or \v). */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(const char *data, size_t len, size_t i)
{
    return i < len && g_ascii_isdigit(data[i]);
}

/* Length of the JSON number at DATA + I, 0 when there is none:
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? not followed by more of
 * what a number is made of. */
static size_t number_length(const char *data, size_t len, size_t i)
{
    size_t j = i;
    if (j < len && data[j] == '-')
        j++;
    if (!is_digit(data, len, j))
        return 0;
    if (data[j++] != '0') {
        while (is_digit(data, len, j))
            j++;
    }
    if (j < len && data[j] == '.') {
        if (!is_digit(data, len, ++j))
            return 0;
        while (is_digit(data, len, j))
            j++;
    }
    if (j < len && (data[j] == 'e' || data[j] == 'E')) {
        j++;
        if (j < len && (data[j] == '+' || data[j] == '-'))
            j++;
        if (!is_digit(data, len, j))
            return 0;
        while (is_digit(data, len, j))
            j++;
    }
    if (j < len && (g_ascii_isalnum(data[j]) || data[j] == '.' || data[j] == '-' || data[j] == '+'))
        return 0;
    return j - i;
}

struct key_count {
    size_t at; /* where the object starts */
    int keys;  /* its members in the text */
};

/*
 * json-c's strict mode (0.16) still takes single-quoted strings, the words
 * NaN and Infinity, numbers such as 00, -01, 1. and 1.e5, and raw control
 * characters in strings, none of which are JSON.  Outside double-quoted
 * strings a JSON text holds only structure, whitespace, numbers and the
 * words true, false and null, so each number and each run of letters there
 * is checked.  Runs on text json-c has accepted (up to its end, which may
 * cut a value short), so escapes are well formed.  Returns NULL, or why the
 * text is not JSON with *ret_bad at the offending byte.
 *
 * In the same pass, when OBJS is given, it receives the text's objects in
 * the order of their '{' with their member counts: one ':' outside strings
 * per member of the innermost open object (struct key_count).
 */
static const char *not_strict_json(const char *data, size_t len, GArray *objs, size_t *ret_bad)
{
    g_autoptr(GArray) open = g_array_new(false, false, sizeof(gint)); /* objs index or -1 */
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_string) {
            if (c == '\\') {
                /* NUL cuts C strings short: a value would be checked
                 * shorter than it is (json-c keeps it in the length). */
                if (i + 5 < len && !strncmp(data + i + 1, "u0000", 5)) {
                    *ret_bad = i;
                    return "NUL (\\u0000) in strings is refused";
                }
                i++;
            } else if (c == '"') {
                in_string = false;
            } else if ((unsigned char)c < 0x20) {
                *ret_bad = i;
                return "control characters in strings must be escaped";
            }
            continue;
        }
        *ret_bad = i;
        if (c == '"') {
            in_string = true;
        } else if (c == '\'') {
            return "single quotes are not JSON";
        } else if (c == '-' || g_ascii_isdigit(c)) {
            size_t n = number_length(data, len, i);
            if (n == 0)
                return "not a JSON number";
            i += n - 1;
        } else if (g_ascii_isalpha(c)) {
            size_t n = 0;
            while (i + n < len && g_ascii_isalpha(data[i + n]))
                n++;
            bool word =
                (n == 4 && (!strncmp(data + i, "true", 4) || !strncmp(data + i, "null", 4))) ||
                (n == 5 && !strncmp(data + i, "false", 5));
            if (!word)
                return "only true, false and null are words in JSON (no NaN or Infinity)";
            i += n - 1;
        } else if (!objs) {
            continue;
        } else if (c == '{' || c == '[') {
            gint idx = -1;
            if (c == '{') {
                struct key_count k = {.at = i, .keys = 0};
                g_array_append_val(objs, k);
                idx = (gint)objs->len - 1;
            }
            g_array_append_val(open, idx);
        } else if (c == '}' || c == ']') {
            if (open->len)
                g_array_set_size(open, open->len - 1);
        } else if (c == ':' && open->len) {
            gint idx = g_array_index(open, gint, open->len - 1);
            if (idx >= 0)
                g_array_index(objs, struct key_count, idx).keys++;
        }
    }
    return NULL;
}

/* Pre-order walk of the parsed value next to the text's objects: json-c
 * keeps one member per key (the last), so an object with fewer members
 * than the text gave it had a key twice.  The first object that differs
 * is the one with the duplicate: those before it in document order match
 * the text one to one.  Returns false with *ret_at set there. */
static bool keys_match(json_object *o, const GArray *objs, guint *next, size_t *ret_at)
{
    if (json_object_is_type(o, json_type_array)) {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++) {
            if (!keys_match(json_object_array_get_idx(o, i), objs, next, ret_at))
                return false;
        }
        return true;
    }
    if (!json_object_is_type(o, json_type_object))
        return true;
    if (*next >= objs->len)
        return true; /* cannot happen: json-c made no object the text lacks */
    const struct key_count *k = &g_array_index(objs, struct key_count, (*next)++);
    if (json_object_object_length(o) != k->keys) {
        *ret_at = k->at;
        return false;
    }
    json_object_object_foreach(o, key, val)
    {
        (void)key;
        if (!keys_match(val, objs, next, ret_at))
            return false;
    }
    return true;
}

bool json_parse_strict(const char *data, size_t len, const struct json_limits *lim,
                       json_object **ret_value, GError **error)
{
    g_return_val_if_fail(data != NULL || len == 0, false);
    g_return_val_if_fail(lim != NULL && lim->max_depth > 0, false);
    g_return_val_if_fail(ret_value != NULL, false);

    *ret_value = NULL;
    if (!data)
        data = "";
    /* json-c takes an int length, and one more byte is fed below. */
    if (len > lim->max_bytes || len > (size_t)INT_MAX - 1) {
        g_set_error(error, JSON_ERROR, JSON_ERROR_TOO_LARGE,
                    "JSON text of %zu bytes is over the limit of %zu bytes", len,
                    MIN(lim->max_bytes, (size_t)INT_MAX - 1));
        return false;
    }
    /* Stricter than json-c's own JSON_TOKENER_VALIDATE_UTF8: no overlong
     * forms, no surrogates, and no NUL, which json-c would take as the end. */
    const char *bad_utf8;
    if (!g_utf8_validate_len(data, len, &bad_utf8)) {
        g_set_error(error, JSON_ERROR, JSON_ERROR_ENCODING, "not valid UTF-8 at byte %td",
                    bad_utf8 - data);
        return false;
    }

    json_tokener *tok = json_tokener_new_ex(lim->max_depth);
    if (!tok) {
        g_set_error(error, JSON_ERROR, JSON_ERROR_TOO_LARGE,
                    "cannot allocate a JSON parser %d levels deep", lim->max_depth);
        return false;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    if (!o && jerr == json_tokener_continue) {
        /* A number or literal at the very end ("1", "true") is complete only
         * once the tokener sees the end of the input: tell it with json-c's
         * end mark, a NUL.  (It then takes "1." or "-01" as numbers; the
         * strictness check below refuses them.) */
        o = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        used = len;
        if (jerr == json_tokener_error_parse_eof)
            jerr = json_tokener_continue;
    }
    json_tokener_free(tok);

    if (jerr == json_tokener_continue) {
        /* The text ended inside a value.  What json-c let through on the
         * way, or a number or literal cut short at the end ("tr", "1e"), is
         * named first; otherwise it ended inside an array, object or
         * string. */
        size_t bad = 0;
        const char *why = not_strict_json(data, len, NULL, &bad);
        if (why)
            g_set_error(error, JSON_ERROR, JSON_ERROR_MALFORMED, "malformed JSON at byte %zu: %s",
                        bad, why);
        else
            g_set_error(error, JSON_ERROR, JSON_ERROR_TRUNCATED,
                        "truncated JSON (ends after %zu bytes)", len);
        json_object_put(o);
        return false;
    }
    if (jerr != json_tokener_success) {
        json_object_put(o);
        if (jerr == json_tokener_error_depth)
            g_set_error(error, JSON_ERROR, JSON_ERROR_TOO_DEEP,
                        "JSON nested deeper than %d levels at byte %zu", lim->max_depth, used);
        else
            g_set_error(error, JSON_ERROR, JSON_ERROR_MALFORMED, "malformed JSON at byte %zu: %s",
                        used, json_tokener_error_desc(jerr));
        return false;
    }
    for (size_t i = used; i < len; i++) {
        if (!is_space(data[i])) {
            json_object_put(o);
            g_set_error(error, JSON_ERROR, JSON_ERROR_MALFORMED,
                        "unexpected data after the JSON value at byte %zu", i);
            return false;
        }
    }
    size_t bad = 0;
    g_autoptr(GArray) objs = g_array_new(false, false, sizeof(struct key_count));
    const char *why = not_strict_json(data, used, objs, &bad);
    if (why) {
        json_object_put(o);
        g_set_error(error, JSON_ERROR, JSON_ERROR_MALFORMED, "malformed JSON at byte %zu: %s", bad,
                    why);
        return false;
    }
    if (objs->len) {
        guint next = 0;
        if (!keys_match(o, objs, &next, &bad)) {
            json_object_put(o);
            g_set_error(error, JSON_ERROR, JSON_ERROR_MALFORMED,
                        "malformed JSON at byte %zu: an object has a key twice", bad);
            return false;
        }
    }
    /* NULL here is the literal null, which is valid JSON. */
    *ret_value = o;
    return true;
}
