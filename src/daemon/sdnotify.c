/*
 * sd_notify(3)'s protocol, written for kanrid (sdnotify.h): one datagram
 * of newline-separated assignments to the AF_UNIX socket $NOTIFY_SOCKET, a
 * path, or an abstract name when it starts with '@'.
 */
#include "config.h"

#include "daemon/sdnotify.h"

#include <glib.h>

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

bool sdnotify(const char *state)
{
    static bool warned;
    const char *path = g_getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return false;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
        if (!warned)
            g_warning("NOTIFY_SOCKET '%s' is not a socket path or abstract name: systemd is "
                      "not told kanrid's state",
                      path);
        warned = true;
        return false;
    }
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    int err = errno;
    close(fd);
    if (n < 0) {
        if (!warned)
            g_warning("telling systemd '%s' through %s: %s", state, path, g_strerror(err));
        warned = true;
        return false;
    }
    return true;
}

bool sdnotifyf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return sdnotify(s);
}
