/*
 * Long tables through a pager on a terminal, and colour only there
 * (cli.h: cli_page, cli_color).
 */
#include "config.h"

#include "cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

bool cli_color(void)
{
    /* https://no-color.org: present and not empty disables colour. */
    const char *no = g_getenv("NO_COLOR");
    const char *term = g_getenv("TERM");
    return isatty(STDOUT_FILENO) && !(no && *no) && !(term && strcmp(term, "dumb") == 0);
}

static guint terminal_rows(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
        return ws.ws_row;
    const char *lines = g_getenv("LINES");
    return lines && atoi(lines) > 0 ? (guint)atoi(lines) : 24;
}

void cli_page(const char *text)
{
    guint lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    const char *pager = g_getenv("KANRI_PAGER");
    if (!pager)
        pager = g_getenv("PAGER");
    if (!pager)
        pager = "less";
    /* Only what does not fit a terminal's screen; an empty pager or "cat"
     * means none. */
    if (cli_opts.no_pager || !isatty(STDOUT_FILENO) || lines < terminal_rows() || !*pager ||
        strcmp(pager, "cat") == 0) {
        fputs(text, stdout);
        return;
    }
    fflush(stdout);
    /* less: quit at the end of a short text, keep colours, leave the
     * screen as it is. */
    if (!g_getenv("LESS"))
        g_setenv("LESS", "FRX", TRUE);
    FILE *p = popen(pager, "w");
    if (!p) {
        fputs(text, stdout);
        return;
    }
    /* The reader may quit before the end: not an error of kanri's. */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    fputs(text, p);
    int rc = pclose(p);
    signal(SIGPIPE, old);
    if (rc == -1 || (WIFEXITED(rc) && WEXITSTATUS(rc) == 127))
        fputs(text, stdout); /* no such pager */
}
