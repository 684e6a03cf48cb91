/*
 * util: small helpers on top of GLib used everywhere in kanrid and kanri.
 * Times inside kanri are int64 microseconds since the Unix epoch (UTC), as
 * g_get_real_time() returns them.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define USEC_PER_SEC  G_GINT64_CONSTANT(1000000)
#define USEC_PER_MSEC G_GINT64_CONSTANT(1000)

static inline int64_t now_usec(void)
{
    return g_get_real_time();
}

static inline int64_t mono_usec(void)
{
    return g_get_monotonic_time();
}

/* RFC 3339 UTC with seconds ("2026-11-26T10:20:19Z"); NULL for t <= 0. g_free. */
char *time_format_rfc3339(int64_t usec);

/* The latest time kanri takes from outside: 9999-12-31T23:59:59Z.  Times
 * are 1970 to this, so that differences of two never overflow. */
#define TIME_MAX_SEC G_GINT64_CONSTANT(253402300799)

/* Parses RFC 3339 ("...Z" or with offset) or a plain integer of seconds since
 * the epoch, from 1970 to TIME_MAX_SEC.  Returns false on anything else. */
bool time_parse(const char *s, int64_t *ret_usec);

/* Parses a relative duration "90", "90s", "15m", "2h", "7d" into microseconds.
 * Returns false on anything else, on zero, or on overflow. */
bool duration_parse(const char *s, int64_t *ret_usec);

/* Parses an unsigned 64-bit decimal integer, whole string, no sign, no spaces. */
bool parse_u64(const char *s, uint64_t *ret);

/* Random token text "kanri_" + 43 base64url chars (256 bits) from the
 * kernel's CSPRNG (getrandom(2)); g_free.  Aborts if the kernel cannot
 * give random bytes: there is no weaker source to fall back to. */
char *token_generate(void);

/* Lower-case hex SHA-256 of s; g_free. */
char *sha256_hex(const char *s);

/* True when s is a UUID in canonical 8-4-4-4-12 hex form (any case); false
 * for NULL. */
bool uuid_is_valid(const char *s);
