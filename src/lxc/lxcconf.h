/*
 * lxcconf: what kanri reads from a container's liblxc configuration file
 * (lxc.container.conf(5)), and a container's identity.  Pure: text in,
 * values out; the driver reads the file.
 *
 * The configuration is "key = value" lines; '#' starts a comment; a key
 * may repeat (lxc.environment, lxc.mount.entry), the last wins for the
 * single-valued keys read here.  Limits are read from both cgroup
 * hierarchies' keys (lxc.cgroup.* for v1, lxc.cgroup2.* for v2), the one
 * written last winning.  Unreadable values are absent, never guessed.
 *
 * Identity: a container created by kanri carries
 * `lxc.environment = KANRI_CONTAINER_UUID=<uuid>` (so its PID 1, and
 * kanri-guestd inside, see it); any other container gets a name-based
 * UUID (version 5) of the machine's id, the LXC path and its name, stable
 * as long as those are.  A copy of a container (lxc-copy) keeps the
 * original's line: the driver then gives the copy its derived UUID, so
 * two containers never share one.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define LXCCONF_MAX_BYTES (1024 * 1024) /* a longer file is refused */
#define LXCCONF_UUID_ENV  "KANRI_CONTAINER_UUID"

struct lxcconf {
    char *uuid;              /* from KANRI_CONTAINER_UUID, lower case; NULL: none or invalid */
    uint64_t memory_limit;   /* bytes; 0: none */
    uint64_t cpu_millicores; /* CFS quota / period × 1000; 0: none */
    uint64_t cpu_weight;     /* 1..10000 (v1 shares converted); 0: not set */
    uint64_t pids_max;       /* 0: none */
    bool autostart;          /* lxc.start.auto = 1 */
    /* lxc.rootfs.path when it is a directory ("dir:PATH" or "PATH");
     * NULL for other backends (overlay, btrfs, lvm, ...) or none. */
    char *rootfs_dir;
};

void lxcconf_init(struct lxcconf *c);
void lxcconf_clear(struct lxcconf *c);

/* Parses TEXT (LEN bytes; NUL bytes make it invalid) into RET.  false with
 * *error for a file over LXCCONF_MAX_BYTES or with a NUL byte. */
bool lxcconf_parse(const char *text, size_t len, struct lxcconf *ret, GError **error);

/* A memory size as liblxc accepts it ("134217728", "128M", "1G", "-1",
 * "max"); 0 for none or unreadable. */
uint64_t lxcconf_parse_size(const char *s);

/* The name-based UUID (RFC 4122 version 5, lower case, newly allocated)
 * of MACHINE_ID + '\n' + LXCPATH + '\n' + NAME. */
char *lxcconf_derived_uuid(const char *machine_id, const char *lxcpath, const char *name);

/* Whether NAME may be a container's name here: 1..64 of [A-Za-z0-9_.-],
 * not starting with '.' or '-'. */
bool lxcconf_name_valid(const char *name);
