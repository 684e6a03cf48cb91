#include "netio.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int netio_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r > 0)
            return 0;
    }
}

int netio_sendv(int fd, struct iovec *iov, int n, int64_t deadline)
{
    for (;;) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w >= 0)
            return (int)w;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int r = netio_wait(fd, POLLOUT, deadline);
        if (r < 0)
            return r;
    }
}

int netio_send(int fd, const void *buf, size_t len, int64_t deadline)
{
    struct iovec iov = {(void *)buf, len};
    return netio_sendv(fd, &iov, 1, deadline);
}

int netio_recv(int fd, void *buf, size_t len, int64_t deadline)
{
    for (;;) {
        ssize_t r = recv(fd, buf, len, 0);
        if (r >= 0)
            return (int)r;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int w = netio_wait(fd, POLLIN, deadline);
        if (w < 0)
            return w;
    }
}
