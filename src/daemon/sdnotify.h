/*
 * The service manager's notification protocol (sd_notify(3)): kanrid
 * tells systemd it is ready, reloading or stopping, and what it is doing,
 * through the datagram socket named in $NOTIFY_SOCKET.  Without that
 * variable (not started by systemd with Type=notify) nothing is sent.
 */
#pragma once

#include <stdbool.h>

/* Sends STATE ("READY=1\nSTATUS=...") to the service manager.  Returns
 * true when sent, false when there is no manager to tell or it failed (a
 * failure is logged once). */
bool sdnotify(const char *state);

/* sdnotify() of a formatted state. */
bool sdnotifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
