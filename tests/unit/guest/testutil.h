/*
 * Helpers shared by kanri-guestd's unit tests (plain libc + cmocka, like
 * the agent itself).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Reads a whole file (NUL-terminated, malloc'ed); NULL if it cannot. */
char *tu_read_file(const char *path, size_t *ret_len);
/* Creates or replaces a file, creating missing parent directories. */
void tu_write_file(const char *path, const void *data, size_t len);
/* mkdtemp() under $TMPDIR; the result is malloc'ed. */
char *tu_mkdtemp(void);
/* rm -rf */
void tu_rm_rf(const char *path);
/* Compares text with the golden file; with KANRI_REGEN_GOLDEN=1 rewrites
 * it instead.  Fails the test (with a diff hint) on mismatch. */
void tu_assert_golden(const char *golden_path, const char *text);
/* Re-indents one-line JSON (two spaces per level) for reviewable goldens. */
char *tu_json_indent(const char *json);
