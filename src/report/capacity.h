/*
 * report/capacity: when do we run out? (docs/reports.md).  Pure: hosts'
 * capacity, what their VMs are allocated and what they demand by the
 * reconciled view in; how many more VMs of a size fit, and the same after
 * a what-if (VMs added, a host removed), out.
 *
 * Demand is the reconciled view's: CPU is busy plus the run-queue wait the
 * guests cannot see (cores), memory is in use with the guest's cache left
 * out, disk is what the guests use.  A VM without a reconciled figure
 * counts at its allocation (all its vCPUs busy, all its memory used, its
 * disks' host bytes), so a missing view never makes room.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One running VM as a round saw it. */
struct cap_vm {
    int64_t vcpus;
    int64_t memory_bytes;    /* allocated (its maximum) */
    int64_t disk_bytes;      /* its disks' virtual sizes */
    int64_t disk_host_bytes; /* what its images take on the host */
    double cpu_demand_pct;   /* R of cpu.demand, % of its vCPUs; NaN: none */
    double mem_used_bytes;   /* R of mem.used; NaN: none */
    double disk_used_bytes;  /* R of disk.used; NaN: none */
};

struct cap_demand {
    int64_t vms;
    int64_t vcpus, memory_bytes, disk_bytes;              /* allocated */
    double cpu_cores, memory_bytes_used, disk_bytes_used; /* demanded */
    int64_t without_view; /* VMs counted at their allocation for want of a figure */
};

void cap_demand_sum(const struct cap_vm *vms, size_t n, struct cap_demand *ret);

struct cap_host {
    const char *name;
    bool usable; /* connected and not in maintenance: it may take VMs */
    int64_t cpus, memory_bytes;
    /* Its pools: capacity and free space; 0, 0: unknown (disk then limits
     * nothing). */
    int64_t disk_bytes, disk_free_bytes;
    struct cap_demand d;
};

/* The size of a VM to fit: what it is allocated, and what it is expected
 * to demand (for a size given as vCPUs/memory/disk, all of it; for "like
 * VM Y", Y's demand). */
struct cap_size {
    int64_t vcpus, memory_bytes, disk_bytes;
    double cpu_cores, memory_bytes_used, disk_bytes_used;
};

/* A size of VCPUS, MEMORY and DISK, all of it demanded. */
void cap_size_of(int64_t vcpus, int64_t memory_bytes, int64_t disk_bytes, struct cap_size *ret);

enum cap_resource { CAP_CPU, CAP_MEMORY, CAP_DISK, CAP_N };
const char *cap_resource_name(enum cap_resource r); /* "cpu", "memory", "disk" */

struct cap_fit {
    int64_t n;                 /* VMs of the size that fit: the least of by[] */
    int64_t by[CAP_N];         /* per resource; INT64_MAX: that resource limits nothing */
    enum cap_resource limited; /* the one that limits */
    double free[CAP_N]; /* cores, bytes, bytes (disk: less what thin disks may still claim) */
};

/* How many VMs of size X fit on H (0 when it is not usable). */
void cap_fit(const struct cap_host *h, const struct cap_size *x, struct cap_fit *ret);

struct cap_whatif {
    int remove;  /* index of a host taken away, its VMs moved to the others; -1: none */
    int64_t add; /* VMs of size ADD_SIZE placed */
    struct cap_size add_size;
};

struct cap_whatif_result {
    int64_t placed;  /* of the VMs added, those that found a host */
    bool moved_fits; /* the removed host's demand fits on the others */
};

/* Applies W to the N hosts HOSTS into AFTER (N hosts; the removed one
 * emptied and not usable).  The removed host's demand goes to the usable
 * hosts in proportion to their free memory; each added VM to the usable
 * host with the most memory free where it fits. */
void cap_whatif_apply(const struct cap_host *hosts, size_t n, const struct cap_whatif *w,
                      struct cap_host *after, struct cap_whatif_result *ret);
