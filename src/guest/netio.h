/*
 * netio: socket I/O under a deadline, for kanri-guestd's one request at a
 * time (plain, or below TLS).  Deadlines are CLOCK_MONOTONIC milliseconds.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

int64_t mono_ms(void);

/* Waits until FD is ready for EVENTS (POLLIN, POLLOUT): 0, -ETIMEDOUT once
 * the deadline passed, or -errno. */
int netio_wait(int fd, short events, int64_t deadline);

/* Sends at least one byte of BUF: the count sent, or -errno (-ETIMEDOUT).
 * Never raises SIGPIPE. */
int netio_send(int fd, const void *buf, size_t len, int64_t deadline);
/* The same for N buffers in one sendmsg(). */
int netio_sendv(int fd, struct iovec *iov, int n, int64_t deadline);

/* Receives at most LEN bytes: the count, 0 at the end of the stream, or
 * -errno (-ETIMEDOUT). */
int netio_recv(int fd, void *buf, size_t len, int64_t deadline);
