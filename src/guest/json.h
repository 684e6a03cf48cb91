/*
 * json: a minimal streaming JSON writer for kanri-guestd.
 *
 * The agent only ever writes JSON, so a writer that appends to a gbuf is all
 * it needs.  Strings are escaped (quote, backslash, control characters) and
 * every byte sequence that is not well-formed UTF-8 (stray continuation
 * bytes, overlong forms, surrogates, code points past U+10FFFF, truncated
 * sequences) is replaced by U+FFFD, so the document is always valid UTF-8
 * whatever a hostname or mount path contains.
 *
 * The writer tracks commas itself; nesting is bounded by JW_MAX_DEPTH and a
 * deeper begin marks the buffer as overflowed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gbuf.h"

#define JW_MAX_DEPTH 16

struct jw {
    struct gbuf *b;
    int depth;
    bool has_items[JW_MAX_DEPTH];
};

void jw_init(struct jw *w, struct gbuf *b);
/* key is NULL for values inside arrays (and for the outermost value). */
void jw_obj_begin(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_u64(struct jw *w, const char *key, uint64_t v);
void jw_i64(struct jw *w, const char *key, int64_t v);
/* Finite doubles with a fixed number of decimals; non-finite ones become null. */
void jw_double(struct jw *w, const char *key, double v, int decimals);
void jw_bool(struct jw *w, const char *key, bool v);
void jw_null(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *key, const char *s);
void jw_strn(struct jw *w, const char *key, const char *s, size_t n);
/* Appends an already formatted JSON value (the caller vouches for it). */
void jw_raw(struct jw *w, const char *key, const char *json);

/* Appends s[0..n) as a quoted JSON string, escaped and UTF-8-sanitised;
 * control characters (C0, DEL, C1) become U+FFFD, as kanrid refuses them. */
void json_append_string(struct gbuf *b, const char *s, size_t n);
