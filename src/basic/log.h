/*
 * Log messages about one host, VM or action with those as structured
 * fields (KANRI_HOST, KANRI_VM, KANRI_ACTION), which kanrid sends on to
 * journald when it runs under systemd (`journalctl KANRI_VM=web1`), and
 * which read as the plain message elsewhere.
 */
#pragma once

#include <glib.h>

/* Logs the printf-style message at LEVEL (G_LOG_LEVEL_MESSAGE, _INFO,
 * _WARNING, ...).  HOST, VM and ACTION may each be NULL (no field). */
void klog(GLogLevelFlags level, const char *host, const char *vm, const char *action,
          const char *fmt, ...) G_GNUC_PRINTF(5, 6);

/* The syslog priority journald files a GLib level under ("3" to "7"). */
const char *klog_priority(GLogLevelFlags level);
