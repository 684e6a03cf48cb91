/*
 * run: runs a command with a deadline (a notification route's command, a
 * fence agent, a reachability probe).
 *
 * The command runs in a process group of its own, so that a deadline
 * kills what it started too.  Its standard input gets INPUT (written
 * without blocking, within the deadline; a command that exits without
 * reading it is no error), its standard output and error are collected
 * together, keeping the last RUN_OUTPUT_MAX bytes.
 *
 * The caller ignores SIGPIPE (kanrid does), or a command that exits
 * without reading its input kills it.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define RUN_OUTPUT_MAX 4096

struct run_result {
    bool timed_out; /* killed at the deadline */
    int status;     /* exit status; 128 + N when killed by signal N */
    char *output;   /* stdout and stderr, the tail, NUL-terminated (g_free) */
};

void run_result_clear(struct run_result *r);

/* Runs ARGV (the program looked up in PATH) with ENV (NULL: kanrid's own)
 * for at most TIMEOUT_US.  0 when it ran (RET filled, whatever its exit
 * status), -1 with *error when it could not be started. */
int run_argv(const char *const *argv, const char *const *env, const char *input,
             int64_t timeout_us, struct run_result *ret, GError **error);

/* The first line of TEXT without trailing space, at most 200 bytes, for a
 * message (g_free); "" when empty. */
char *run_first_line(const char *text);
