/*
 * json: one bounded, strict reader for JSON text from outside (API bodies,
 * guest agent replies and documents, stored state, replies to the CLI).
 *
 * json-c does the parsing; this adds what every caller needs around it and
 * used to write for itself: a size bound checked before parsing, a depth
 * bound, UTF-8 validation, strict JSON (json-c's strict mode still takes
 * single-quoted strings, NaN/Infinity and numbers like 00, -01 and 1.:
 * refused here; and, stricter than JSON, an object with a key twice and
 * \u0000 in a string are refused: they let a checked value differ from
 * the one used), a number or literal that ends exactly at the end of the
 * input, refusal of anything but whitespace after the value, and one error
 * domain whose messages name the byte where the text went wrong.
 *
 * Callers keep their own bounds (struct json_limits) and usually prefix the
 * message with what was being read ("body: ", "reply: ").
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define JSON_ERROR (json_error_quark())
GQuark json_error_quark(void);

enum json_error_code {
    JSON_ERROR_TOO_LARGE, /* more than max_bytes: nothing was parsed */
    JSON_ERROR_TOO_DEEP,  /* arrays and objects nested deeper than max_depth */
    JSON_ERROR_ENCODING,  /* not UTF-8 (or holds a NUL byte) */
    JSON_ERROR_MALFORMED, /* not JSON, or more than whitespace after the value */
    JSON_ERROR_TRUNCATED, /* ends inside an array, object or string, or holds no value */
};

struct json_limits {
    size_t max_bytes; /* longest text accepted; at most INT_MAX - 1 in effect */
    int max_depth;    /* deepest nesting of values, counted as json-c does: 1
                       * allows a scalar, [] or {}; [1] and {"a":{}} need 2 */
};

/*
 * Parses the LEN bytes at DATA (need not be NUL-terminated; NULL only with
 * LEN 0) as exactly one JSON value within LIM.
 *
 * On success returns true and sets *ret_value to the value, owned by the
 * caller (json_object_put), or to NULL when the text is the literal null.
 * On failure returns false, leaves *ret_value NULL and sets *error in
 * JSON_ERROR; the message names the byte offset where it applies:
 *   "JSON text of N bytes is over the limit of M bytes"
 *   "JSON nested deeper than D levels at byte N"
 *   "not valid UTF-8 at byte N"
 *   "malformed JSON at byte N: <json-c's description, or what is not JSON>"
 *   "malformed JSON at byte N: an object has a key twice"  (N: its '{')
 *   "unexpected data after the JSON value at byte N"   (MALFORMED)
 *   "truncated JSON (ends after N bytes)"
 * Never logs, and never reads past DATA + LEN.
 */
bool json_parse_strict(const char *data, size_t len, const struct json_limits *lim,
                       json_object **ret_value, GError **error);
