/*
 * Running a command with a deadline (run.h).
 */
#include "config.h"

#include "basic/run.h"
#include "basic/util.h"

#include <errno.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void run_result_clear(struct run_result *r)
{
    g_clear_pointer(&r->output, g_free);
}

/* In the child, just before exec: its own process group, and stderr
 * into the stdout pipe. */
static void child_setup(gpointer data)
{
    (void)data;
    setpgid(0, 0);
    dup2(1, 2);
}

/* Appends what FD has now to OUT, keeping the tail; false at end of file. */
static bool drain(int fd, GString *out)
{
    char buf[1024];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            g_string_append_len(out, buf, n);
            if (out->len > RUN_OUTPUT_MAX)
                g_string_erase(out, 0, (gssize)(out->len - RUN_OUTPUT_MAX));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

int run_argv(const char *const *argv, const char *const *env, const char *input,
             int64_t timeout_us, struct run_result *ret, GError **error)
{
    memset(ret, 0, sizeof(*ret));
    GPid pid;
    int in = -1, out = -1;
    if (!g_spawn_async_with_pipes(NULL, (char **)argv, (char **)env,
                                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, child_setup,
                                  NULL, &pid, &in, &out, NULL, error))
        return -1;
    int64_t deadline = mono_usec() + timeout_us;
    g_unix_set_fd_nonblocking(in, TRUE, NULL);
    g_unix_set_fd_nonblocking(out, TRUE, NULL);
    g_autoptr(GString) text = g_string_new(NULL);
    size_t len = input ? strlen(input) : 0, off = 0;
    bool open_out = true;
    int status = 0;
    pid_t w = 0;
    for (;;) {
        while (in >= 0 && off < len) {
            ssize_t n = write(in, input + off, len - off);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno == EAGAIN)
                break;
            else if (!(n < 0 && errno == EINTR))
                off = len; /* EPIPE: it does not read; nothing more to write */
        }
        if (in >= 0 && off >= len) {
            close(in);
            in = -1;
        }
        if (open_out)
            open_out = drain(out, text);
        w = waitpid(pid, &status, WNOHANG);
        if (w != 0 || mono_usec() >= deadline)
            break;
        struct pollfd pfd[2] = {{.fd = open_out ? out : -1, .events = POLLIN},
                                {.fd = in, .events = POLLOUT}};
        poll(pfd, 2, 20);
    }
    if (w == 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ret->timed_out = true;
    }
    if (open_out)
        drain(out, text);
    if (in >= 0)
        close(in);
    close(out);
    g_spawn_close_pid(pid);
    ret->status = WIFEXITED(status) ? WEXITSTATUS(status)
                  : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                        : -1;
    ret->output = g_string_free(g_steal_pointer(&text), FALSE);
    return 0;
}

char *run_first_line(const char *text)
{
    if (!text)
        return g_strdup("");
    while (*text == '\n' || *text == '\r' || *text == ' ')
        text++;
    size_t n = strcspn(text, "\r\n");
    if (n > 200)
        n = 200;
    char *line = g_strndup(text, n);
    return g_strchomp(line);
}
