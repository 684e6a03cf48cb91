/*
 * lxc: the container driver, on liblxc's C API (docs/containers.md).
 *
 * A host is an LXC path on kanrid's own machine (the uri
 * liblxc:///var/lib/lxc names /var/lib/lxc).  One worker thread per host
 * lists the path every second: a directory read, each container's
 * configuration re-read only when its file changed, its state asked of
 * liblxc.  The host is connected only after its first complete listing,
 * unreachable (with the reason) while the path cannot be read.  Every
 * report to the engine is made by that worker: an action does its liblxc
 * work on the caller's thread, then asks the worker for a listing
 * reported with the action's cause and waits for it, so no report can be
 * read before an action and arrive after it.  A container being created
 * is not listed until it is complete.
 *
 * Collection rounds (every interval) read each running container's
 * control group (src/lxc/cgroup.h) into a host sample with `container`
 * set, plus the machine's own figures.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "model/driver.h"

#define LXC_URI_SCHEME "liblxc://"

struct lxc_conf {
    bool collect;   /* run collection rounds */
    int interval_s; /* round period */
};

/* The LXC path a liblxc:// uri names ("liblxc:///var/lib/lxc" ->
 * "/var/lib/lxc"; "liblxc://" alone -> the default /var/lib/lxc).  NULL
 * with *error for any other uri. */
char *lxc_uri_path(const char *uri, GError **error);

/* A container driver reporting to SINK (which must outlive it). */
struct driver *lxc_driver_new(const struct lxc_conf *conf, const struct driver_sink *sink);
