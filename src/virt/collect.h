/*
 * collect: the pure transformations of the libvirt driver's collectors
 * (collect-parse.c): libvirt bulk-stats records and guest-agent replies
 * in, samples out.  No I/O and no logging, so the unit tests feed it
 * golden data; the collectors themselves are collect.c and guest.c.
 *
 * Agent replies are untrusted input from inside a guest: every parser here
 * bounds the size, depth and counts, checks every field's type and range,
 * and rejects the whole reply with a reason when anything is off — a
 * partly believed reply would be worse than none.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/sample.h"

#define COLLECT_ERROR (collect_error_quark())
GQuark collect_error_quark(void);
enum {
    COLLECT_ERROR_TOO_LARGE, /* over a size, depth or count bound */
    COLLECT_ERROR_MALFORMED, /* not JSON, or wrong shape, type or range */
    COLLECT_ERROR_AGENT,     /* the agent answered with an error object */
};

#define QGA_MAX_REPLY     (256 * 1024) /* bytes of one agent reply */
#define QGA_MAX_DEPTH     8
#define QGA_MAX_CPUS      4096
#define QGA_MAX_DISKS     1024
#define QGA_MAX_FS        256
#define QGA_MAX_IFACES    256
#define COLLECT_MAX_ITEMS 1024 /* vCPUs, disks or interfaces in one record */

/* ---- host view ---- */

/* What a bulk-stats record said about the guest-reported balloon figures. */
struct balloon_info {
    bool present;           /* any guest-reported balloon.* field (unused, available, ...) */
    int64_t last_update_us; /* balloon.last-update, 0 when absent */
};

/*
 * Fills HS (initialised by the caller with host_sample_init, uuid and
 * times set) from one record's typed parameters, and BALLOON (initialised
 * with guest_sample_init) with the guest-reported balloon statistics,
 * timed by balloon.last-update.  Unknown fields are ignored; indices over
 * COLLECT_MAX_ITEMS are dropped.
 */
void collect_parse_record(const virTypedParameter *params, int n, struct host_sample *hs,
                          struct guest_sample *balloon, struct balloon_info *bi);

/* Why the guest memory view is or is not available. */
enum balloon_status {
    BALLOON_OK,
    BALLOON_NO_DEVICE, /* <memballoon model='none'> or none at all */
    BALLOON_NO_STATS,  /* a balloon, but the guest never reported (no driver, no period) */
    BALLOON_STALE,     /* last-update older than 3 periods + one interval */
};

/* Pure decision; *ret_reason (g_free) explains a status other than OK.
 * MODEL is the balloon model from the domain XML (NULL: unknown yet),
 * PERIOD_S the stats period in force, NOW_US kanrid's clock. */
enum balloon_status collect_balloon_status(const char *model, const struct balloon_info *bi,
                                           int period_s, int interval_s, int64_t now_us,
                                           char **ret_reason);

/* ---- guest view: qemu-guest-agent replies ---- */

/* Parses a raw agent reply ({"return": ...}) within the bounds above.
 * Returns a new reference to the "return" value, or NULL with *error. */
json_object *qga_parse_reply(const char *text, size_t len, GError **error);

/* guest-get-time: nanoseconds since the epoch -> s->time_us. */
bool qga_apply_time(json_object *ret, struct guest_sample *s, GError **error);
/* guest-get-cpustats (milliseconds per CPU) -> cpu_* sums in ns, cpu_count. */
bool qga_apply_cpustats(json_object *ret, struct guest_sample *s, GError **error);
/* guest-get-diskstats (512-byte sectors) -> disk_* sums over whole disks
 * (partitions, loop, ram and device-mapper devices are listed in
 * disks_json but not summed, so nothing is counted twice). */
bool qga_apply_diskstats(json_object *ret, struct guest_sample *s, GError **error);

/* virDomainGetGuestInfo's typed parameters -> fs_* sums, filesystems_json,
 * nics_json, load (when libvirt offers it) and extra_json (os, hostname).
 * Fields are read with libvirt's virTypedParamsGet*(), so libvirt must be
 * initialised (virInitialize(); opening any connection does it). */
bool collect_apply_guestinfo(const virTypedParameter *params, int n, struct guest_sample *s,
                             GError **error);
