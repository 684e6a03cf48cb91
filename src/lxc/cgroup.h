/*
 * cgroup: a container's host view read from its control group, on the
 * three layouts Linux has: cgroup v1 (one hierarchy per controller under
 * ROOT/sys/fs/cgroup/CONTROLLER), v2 (one unified hierarchy at
 * ROOT/sys/fs/cgroup), and the hybrid layout of these machines (v1
 * controllers plus an empty v2 hierarchy at ROOT/sys/fs/cgroup/unified,
 * read as v1).  The first piece of the container driver (issue 12); the
 * driver to come asks liblxc for each container's cgroup path.
 *
 * What is read, in one unit whatever the layout (SAMPLE_ABSENT when the
 * layout or the kernel does not have it):
 *
 *   cpu     usage, user and system time (ns); CFS periods, throttled
 *           periods and throttled time (ns); the quota as cores×1000
 *           (absent: no quota) and the weight (v2's; v1 shares converted
 *           as the kernel maps them, 1024 shares = weight 100)
 *   memory  usage, limit (absent: none), page cache, swap used, OOM kills
 *   io      bytes and operations read and written, over all devices
 *   pids    current and limit (absent: none)
 *
 * Readers of the live system take a root directory so the tests point
 * them at captured trees (tests/data/cgroup/).  Files are bounded (64 KiB
 * each) and malformed lines are skipped: a figure that cannot be read is
 * absent, never invented.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "model/sample.h" /* SAMPLE_ABSENT */

enum cgroup_layout { CGROUP_UNKNOWN, CGROUP_V1, CGROUP_V2, CGROUP_HYBRID };

const char *cgroup_layout_name(enum cgroup_layout l); /* "v1", "v2", "hybrid", "unknown" */

struct cgroup_sample {
    uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
    uint64_t cpu_periods, cpu_throttled_periods, cpu_throttled_ns;
    uint64_t cpu_quota_millicores; /* quota / period × 1000 */
    uint64_t cpu_weight;           /* 1 .. 10000, 100 the default */
    uint64_t mem_usage, mem_limit, mem_cache, mem_swap, oom_kills;
    uint64_t io_read_bytes, io_write_bytes, io_reads, io_writes;
    uint64_t pids_current, pids_max;
};

/* The layout of ROOT/sys/fs/cgroup (ROOT "/" for the live system). */
enum cgroup_layout cgroup_detect(const char *root);

/* Reads the control group PATH (as in /proc/PID/cgroup: "/lxc.payload.c1")
 * under ROOT on LAYOUT into RET.  -ENOENT with *error when the group does
 * not exist in any hierarchy (the container is not running); figures
 * missing from an existing group are absent. */
int cgroup_read(const char *root, enum cgroup_layout layout, const char *path,
                struct cgroup_sample *ret, GError **error);

/* cgroup v1's freezer.state as read: 1 FROZEN, 0 THAWED, -1 in between
 * (FREEZING) or unreadable. */
int cgroup_v1_freezer_state(const char *text);

/* Removes the control groups liblxc left behind for container NAME's
 * monitor: lxc.monitor.NAME and lxc.monitor.NAME-N at the top of each
 * hierarchy under ROOT/sys/fs/cgroup.  liblxc 5.0 leaves one per run on
 * these machines' hybrid layout, and once lxc.monitor.NAME-999 exists it
 * refuses to start the container ("Failed to create monitor cgroup").
 * A group still in use (its monitor running) cannot be removed and stays.
 * Returns how many went. */
unsigned cgroup_monitor_leftovers_remove(const char *root, const char *name);
