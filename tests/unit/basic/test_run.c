/*
 * Tests of src/basic/run.c: a command's exit status, output (stdout and
 * stderr together, the tail kept), input, and the deadline, which kills
 * the command and what it started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/run.h"

#define SEC G_GINT64_CONSTANT(1000000)

static void run_sh(const char *script, const char *input, int64_t timeout_us,
                   struct run_result *ret)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    g_autoptr(GError) err = NULL;
    if (run_argv(argv, NULL, input, timeout_us, ret, &err) < 0)
        fail_msg("run_argv: %s", err->message);
}

static void test_status_and_output(void **state)
{
    (void)state;
    struct run_result r;
    run_sh("echo out; echo err >&2; exit 3", NULL, 10 * SEC, &r);
    assert_false(r.timed_out);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.output, "out\n"));
    assert_non_null(strstr(r.output, "err\n"));
    g_autofree char *line = run_first_line(r.output);
    assert_string_equal(line, "out");
    run_result_clear(&r);

    /* Only the tail of a long output is kept. */
    run_sh("i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done", NULL, 10 * SEC, &r);
    assert_int_equal(r.status, 0);
    assert_true(strlen(r.output) <= RUN_OUTPUT_MAX);
    assert_non_null(strstr(r.output, "line1999\n"));
    assert_null(strstr(r.output, "line0\n"));
    run_result_clear(&r);
}

static void test_input(void **state)
{
    (void)state;
    struct run_result r;
    run_sh("cat", "action=off\nplug=a\n", 10 * SEC, &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.output, "action=off\nplug=a\n");
    run_result_clear(&r);
    /* A command that reads nothing of a large input is no error. */
    g_autofree char *big = g_strnfill(1024 * 1024, 'x');
    run_sh("exit 0", big, 10 * SEC, &r);
    assert_false(r.timed_out);
    assert_int_equal(r.status, 0);
    run_result_clear(&r);
}

static void test_deadline_kills_the_group(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("kanri-run-XXXXXX", NULL);
    g_autofree char *pidfile = g_build_filename(dir, "child", NULL);
    g_autofree char *script = g_strdup_printf("sleep 30 & echo $! > %s; wait", pidfile);
    struct run_result r;
    run_sh(script, NULL, SEC / 2, &r);
    assert_true(r.timed_out);
    assert_int_equal(r.status, 128 + SIGKILL);
    run_result_clear(&r);
    /* The sleep it started was killed with it. */
    g_autofree char *pid = NULL;
    assert_true(g_file_get_contents(pidfile, &pid, NULL, NULL));
    g_autofree char *proc = g_strdup_printf("/proc/%d", atoi(pid));
    for (int i = 0; i < 200 && g_file_test(proc, G_FILE_TEST_EXISTS); i++) {
        g_autofree char *stat = NULL;
        g_autofree char *statp = g_strconcat(proc, "/stat", NULL);
        /* A zombie waiting for init counts as gone. */
        if (g_file_get_contents(statp, &stat, NULL, NULL) && strstr(stat, ") Z "))
            break;
        g_usleep(10000);
    }
    g_autofree char *statp = g_strconcat(proc, "/stat", NULL);
    g_autofree char *stat = NULL;
    assert_true(!g_file_get_contents(statp, &stat, NULL, NULL) || strstr(stat, ") Z "));
    g_unlink(pidfile);
    g_rmdir(dir);
}

static void test_not_found(void **state)
{
    (void)state;
    const char *argv[] = {"/nonexistent/fence_agent", "--action=off", NULL};
    struct run_result r;
    g_autoptr(GError) err = NULL;
    assert_int_equal(run_argv(argv, NULL, NULL, SEC, &r, &err), -1);
    assert_non_null(err);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as kanrid does (run.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_and_output),
        cmocka_unit_test(test_input),
        cmocka_unit_test(test_deadline_kills_the_group),
        cmocka_unit_test(test_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
