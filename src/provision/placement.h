/*
 * provision/placement: which host a new VM goes on when none is named
 * (docs/provisioning.md).  Pure: the hosts' figures in, a choice and its
 * reason out.
 *
 * A host is a candidate when it is connected, not in maintenance, sees the
 * template's images, and has at least the VM's vCPUs.  Its memory
 * headroom is its memory less what its VMs use by the reconciled view
 * (R of mem.used, guest cache excluded), or what they are assigned where
 * no VM has R; the VM fits when the headroom holds its memory.  Of those
 * that fit, the one with the most headroom left wins (ties: the first).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

struct place_host {
    const char *name;
    bool connected, maintenance, sees_images;
    int64_t cpus;               /* <= 0: unknown */
    int64_t memory_bytes;       /* <= 0: unknown */
    double mem_used_bytes;      /* reconciled, summed over its VMs; NaN: none has R */
    int64_t mem_assigned_bytes; /* of its running VMs */
};

struct place_need {
    int64_t vcpus;
    int64_t memory_bytes;
};

/* The index in HOSTS (N) of the host chosen, or -1 when none fits.
 * *ret_reason (g_free) says why that one, or why each did not fit. */
int place_choose(const struct place_host *hosts, size_t n, const struct place_need *need,
                 char **ret_reason);
