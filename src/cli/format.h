/*
 * format: the pure pieces of the kanri command-line tool — exit codes, size
 * parsing and printing, terminal-safe text, aligned tables.  No I/O, so all
 * of it is unit-tested.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes of kanri; kanri(1) documents them, scripts rely on them. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_SERVER = 1,      /* the server reported an error (or answered nonsense) */
    CLI_EXIT_USAGE = 2,       /* unknown verb or option, bad argument */
    CLI_EXIT_UNREACHABLE = 3, /* cannot connect, timeout, connection lost, TLS */
    CLI_EXIT_AUTH = 4,        /* 401 or 403 */
    CLI_EXIT_NOT_FOUND = 5,   /* 404 */
};

/* Exit code for an HTTP status: 2xx is OK, 401/403 AUTH, 404 NOT_FOUND,
 * anything else SERVER. */
int cli_exit_code_for_status(int status);

/* Exit code for an error from http.h (HTTP_ERROR domain): URL problems are
 * usage errors, connection problems (TLS, an untrusted certificate or a
 * wrong pinned key included) UNREACHABLE, bad responses SERVER. */
int cli_exit_code_for_error(const GError *error);

/* Parses a memory size: a decimal integer with an optional unit, case
 * insensitive: none = MiB; B; K/KiB, M/MiB, G/GiB, T/TiB (powers of 1024);
 * KB, MB, GB, TB (powers of 1000).  Rejects zero, signs, spaces, fractions
 * and overflow.  These are virsh's rules, except that a bare number means
 * MiB rather than KiB, which is what people mean by "setmem 512". */
bool size_parse(const char *s, guint64 *ret_bytes);

/* "512 MiB", "1.5 GiB", "200 B": exact values without decimals, others with
 * one.  g_free. */
char *size_format(guint64 bytes);

/* s made safe to print on a terminal: valid UTF-8 is kept except control
 * and format characters (which could move the cursor or reorder text),
 * which become \xHH or \uHHHH, as do bytes that are not valid UTF-8.
 * NULL gives "-".  g_free. */
char *text_sanitize(const char *s);

/* Terminal columns taken by valid UTF-8 s (wide characters count 2). */
size_t text_width(const char *s);

/* Counts added and removed lines in a unified diff, skipping the
 * "---"/"+++" file header before the first hunk. */
void diff_count(const char *diff, guint *ret_added, guint *ret_removed);

/* ---- the operations record ---- */

/* Whether s is one of the words of list, which are separated by '|'
 * ("info|warning|major|critical"); exact and case-sensitive, as the API
 * compares them.  False for NULL. */
bool word_one_of(const char *s, const char *list);

/* A number of seconds the short way the API accepts it: "0s", "45s",
 * "5m", "1h30m", "2d3h" (units that are zero are left out).  Negative
 * values print as "-".  g_free. */
char *duration_format(gint64 seconds);

/* Whether scope has one of the forms the API takes for maintenance windows
 * and rules: "all", or "host:", "vm:", "pool:" or "item:" followed by at
 * least one character and no control characters.  The server checks the
 * rest (globs, item ids); this catches a typo before a request is sent. */
bool scope_syntax_valid(const char *scope);

/* Parses an RFC 3339 time (a zone is required: "Z" or "+09:00") into
 * microseconds since the epoch; false for anything else. */
bool time_text_parse(const char *text, gint64 *ret_usec);

/* Orders two RFC 3339 times by the instant they name, newest first (a
 * negative result when a is newer), so that "...+09:00" and "...Z" compare
 * right.  A text that does not parse (or NULL) sorts after every time. */
int time_text_newest_first(const char *a, const char *b);

/* An aligned text table.  Cells are added left to right, top to bottom;
 * each is sanitized on the way in.  Headers are shown in upper case with a
 * dashed rule below them, like virsh's tables. */
struct table;

struct table *table_new(guint ncols, const char *const *headers);
void table_free(struct table *t);
typedef struct table table; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(table, table_free)

/* Right-aligns column col (for numbers and sizes). */
void table_align_right(struct table *t, guint col);

/* Adds the next cell; NULL shows as "-". */
void table_add(struct table *t, const char *cell);
void table_addf(struct table *t, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* With ON, table_render() shows the headers in bold and the cells that
 * are a state word (state_color) in its colour, with ANSI SGR codes. */
void table_set_color(struct table *t, bool on);

/* The SGR colour of a state word: green for running, connected, done...,
 * yellow for paused, pending, warning..., red for crashed, failed, down,
 * critical...; NULL for the others. */
const char *state_color(const char *word);

/* Rows so far (not counting the header). */
guint table_rows(const struct table *t);

/* The table as text, one line per row, each ending in '\n', columns two
 * spaces apart, no trailing spaces.  A partly filled last row is padded
 * with empty cells.  g_free. */
char *table_render(const struct table *t);
