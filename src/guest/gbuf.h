/*
 * gbuf: a growable byte buffer for kanri-guestd (libc only).
 *
 * The buffer always keeps a NUL after its last byte so its contents can be
 * used as a C string when they hold text.  Growth is bounded by `max` so that
 * a hostile or runaway input can never make the agent allocate without limit;
 * once an append would pass the bound the buffer is marked `overflow` and
 * further appends are dropped, which callers check once at the end instead
 * of after every append.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct gbuf {
    char *data;    /* owned; NUL-terminated; NULL until the first append */
    size_t len;    /* bytes used, excluding the trailing NUL */
    size_t cap;    /* bytes allocated */
    size_t max;    /* growth bound (0: GBUF_DEFAULT_MAX) */
    bool overflow; /* an append was dropped because of max or ENOMEM */
};

#define GBUF_DEFAULT_MAX ((size_t)4 << 20)

void gbuf_init(struct gbuf *b, size_t max);
void gbuf_free(struct gbuf *b);
/* Empties the buffer but keeps its allocation (and clears overflow). */
void gbuf_reset(struct gbuf *b);
/* Frees the allocation when it grew past keep bytes, so that one huge input
 * does not pin memory for the life of the process. */
void gbuf_trim(struct gbuf *b, size_t keep);
bool gbuf_reserve(struct gbuf *b, size_t extra);
void gbuf_append(struct gbuf *b, const void *p, size_t n);
void gbuf_puts(struct gbuf *b, const char *s);
void gbuf_putc(struct gbuf *b, char c);
void gbuf_printf(struct gbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
