/*
 * diff: line-based unified diff of two texts, for configuration change
 * records.  Pure, no I/O.
 *
 * diff_unified() returns a newly allocated string (g_free) in the format of
 * `diff -u` with 3 lines of context: "--- LABEL_A\n+++ LABEL_B\n" followed by
 * "@@ -a,b +c,d @@" hunks.  Equal texts give "".  A missing final newline is
 * marked with "\ No newline at end of file" like diff(1).  Inputs larger than
 * DIFF_MAX_LINES lines on either side are not diffed line by line: the result
 * is a single hunk replacing everything, so cost stays bounded.
 */
#pragma once

#include <glib.h>

#define DIFF_MAX_LINES 100000

char *diff_unified(const char *a, const char *b, const char *label_a, const char *label_b);

/* Counts of added and removed lines in a unified diff produced above. */
void diff_stat(const char *unified, unsigned *ret_added, unsigned *ret_removed);
