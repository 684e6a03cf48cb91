/*
 * model/sample: the two views of a machine's figures, as every layer
 * passes them around (drivers produce them, the engine keeps the latest,
 * reconcile reads them, the store keeps their history).
 *
 * Host view: what the management OS measures of a domain (libvirt bulk
 * stats).  Guest view: what the guest reports of itself, from the stock
 * qemu-guest-agent relayed through libvirt (source "qga"), the balloon
 * driver's guest-reported statistics (source "balloon"), or kanri-guestd
 * pushing directly (source "kanri-guestd").  The two are stored apart and
 * never substituted for each other.
 *
 * Both are wide rows: one row per entity per interval holding all of its
 * figures.  Counters are stored raw (cumulative, as the source reports
 * them); rates are computed when reading, across resets and gaps.  A field
 * the source did not report is SAMPLE_ABSENT, stored as NULL.
 *
 * Units: bytes, nanoseconds for CPU times, counts for events.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define SAMPLE_ABSENT UINT64_MAX

struct guest_sample {
    char *machine_uuid;  /* lower-case UUID: the libvirt domain's, or kanri-guestd's own id */
    const char *source;  /* "qga" | "balloon" | "kanri-guestd" */
    int64_t time_us;     /* when the guest took it (its clock; balloon.last-update for balloon) */
    int64_t received_us; /* when kanrid received it (kanrid's clock) */
    uint64_t seq;        /* the agent's sequence number, SAMPLE_ABSENT when none */

    /* CPU, cumulative nanoseconds over all CPUs (USER_HZ ticks × 10^7) */
    uint64_t cpu_count;
    uint64_t cpu_user_ns, cpu_nice_ns, cpu_system_ns, cpu_idle_ns, cpu_iowait_ns;
    uint64_t cpu_irq_ns, cpu_softirq_ns, cpu_steal_ns;

    /* Memory, bytes */
    uint64_t mem_total, mem_free, mem_available, mem_cached, mem_buffers;
    uint64_t swap_total, swap_free;
    /* Cumulative counters */
    uint64_t swap_in_pages, swap_out_pages, major_faults, minor_faults;

    /* Load averages ×1000 (integers keep the row simple), SAMPLE_ABSENT when unknown */
    uint64_t load1_milli, load5_milli, load15_milli;

    /* Totals over real filesystems / whole disks / non-loopback interfaces */
    uint64_t fs_total, fs_used, fs_avail;
    uint64_t disk_read_bytes, disk_write_bytes, disk_reads, disk_writes;
    uint64_t net_rx_bytes, net_tx_bytes, net_rx_packets, net_tx_packets;

    /* Per-item detail as JSON text (arrays of objects), or NULL */
    char *filesystems_json;
    char *disks_json;
    char *nics_json;
    char *extra_json; /* source-specific: pressure, cgroup, agent version, spool... */
};

/* Sets every numeric field to SAMPLE_ABSENT, times to 0 and pointers to
 * NULL.  source points at a static string (guest_source_static()). */
void guest_sample_init(struct guest_sample *s);
/* Frees the owned strings and initialises again. */
void guest_sample_clear(struct guest_sample *s);
/* Deep copy into DST (which is overwritten, not cleared). */
void guest_sample_copy(struct guest_sample *dst, const struct guest_sample *src);
/* Moves SRC into DST (clearing DST first); SRC is left initialised. */
void guest_sample_move(struct guest_sample *dst, struct guest_sample *src);

/* The static string for a guest source name ("qga", "balloon",
 * "kanri-guestd"), or NULL when S is none of them. */
const char *guest_source_static(const char *s);

/*
 * Host view of one domain in one collection round, from libvirt's bulk
 * statistics (virDomainListGetStats).  time_us is kanrid's clock when the
 * round started.  Sums over vCPUs, disks and interfaces are kept as
 * columns; the per-item figures are JSON text (arrays of objects).
 *
 * dom_id and the item counts form the "incarnation": counters are only
 * differenced between samples of the same incarnation, so a restart (new
 * dom_id) or a hot-plugged disk never shows up as a burst.
 */
struct host_sample {
    int64_t host_id;
    char *uuid;
    int64_t time_us;
    int64_t dom_id; /* libvirt's domain id, -1 when not running */
    int state;      /* virDomainState */
    int state_reason;

    /* CPU, cumulative ns (cpu.time; vcpu.N.* summed) */
    uint64_t cpu_time_ns, cpu_user_ns, cpu_system_ns;
    uint64_t vcpu_count, vcpu_time_ns, vcpu_wait_ns, vcpu_delay_ns;

    /* Balloon as the host sees it, bytes: current size, maximum, and the
     * QEMU process's resident set.  The guest-reported balloon figures are
     * a guest-view sample (source "balloon"), not part of this row. */
    uint64_t balloon_current, balloon_maximum, balloon_rss;

    /* Block devices (cumulative bytes and requests; sizes in bytes) */
    uint64_t block_count, block_rd_bytes, block_wr_bytes, block_rd_reqs, block_wr_reqs;
    uint64_t block_allocation, block_capacity, block_physical;

    /* Interfaces (cumulative) */
    uint64_t net_count, net_rx_bytes, net_tx_bytes, net_rx_pkts, net_tx_pkts;
    uint64_t net_rx_drop, net_tx_drop, net_rx_errs, net_tx_errs;

    /* A container's control group (the container driver, src/lxc/); false
     * and SAMPLE_ABSENT for VMs.  For a container the fields above hold:
     * cpu_* and vcpu_time_ns the group's CPU usage, vcpu_count the cores it
     * may use (its quota rounded up, else the host's), vcpu_delay_ns the
     * time its quota throttled it (runnable but not allowed to run: what
     * a vCPU's delay is to a VM), balloon_current and balloon_maximum the
     * memory limit (absent: none), balloon_rss the group's memory use
     * (page cache included, as a QEMU process's resident set includes the
     * guest's), block_* its I/O, net_* its veth's traffic.  The fields
     * below add what only a control group says: */
    bool container;
    uint64_t cg_mem_cache, cg_mem_swap;                /* bytes */
    uint64_t cg_oom_kills;                             /* cumulative */
    uint64_t cg_cpu_periods, cg_cpu_throttled_periods; /* CFS periods, cumulative */
    uint64_t cg_cpu_quota_mc; /* quota in thousandths of a core; absent: none */
    uint64_t cg_pids_current, cg_pids_max;
    /* Its root file system, as the host sees it: bytes its files take
     * (measured now and then, not every round), and the size and available
     * bytes of the filesystem it sits on, shared with whatever else is
     * there.  A guest's statvfs of / inside a directory-backed container
     * reports that whole filesystem as its own. */
    uint64_t ct_rootfs_used, ct_fs_size, ct_fs_avail;

    char *vcpus_json;  /* [{"id":0,"state":1,"time_ns":..,"wait_ns":..,"delay_ns":..}] */
    char *blocks_json; /* [{"name":"vda","path":..,"rd_bytes":..,...}] */
    char *nics_json;   /* [{"name":"vnet0","rx_bytes":..,...}] */
};

/* Every figure SAMPLE_ABSENT, dom_id -1, state 0, strings NULL. */
void host_sample_init(struct host_sample *s);
void host_sample_clear(struct host_sample *s); /* frees, then initialises */
void host_sample_copy(struct host_sample *dst, const struct host_sample *src);
void host_sample_move(struct host_sample *dst, struct host_sample *src);

/* Host figures of one round (virNodeGetCPUStats / virNodeGetMemoryStats)
 * and the round's own health. */
struct node_sample {
    int64_t host_id;
    int64_t time_us;
    uint64_t cpu_user_ns, cpu_kernel_ns, cpu_idle_ns, cpu_iowait_ns; /* cumulative */
    uint64_t mem_total, mem_free, mem_buffers, mem_cached;           /* bytes */
    uint64_t domains_running;
    uint64_t round_us;          /* wall time of the round */
    uint64_t domains_collected; /* domains with a host sample this round */
    uint64_t domains_missed;    /* running domains without one (cut, failed) */
    bool round_cut;             /* the round hit its budget */
    /* What the round's running domains are allocated (vCPUs, memory,
     * disks' virtual sizes) and demand by the reconciled view (CPU busy +
     * wait in thousandths of a core, memory in use without cache, disk in
     * use); set by the engine (stage-report.c, report/capacity.h). */
    uint64_t vcpus_alloc, mem_alloc, disk_alloc;
    uint64_t cpu_demand_milli, mem_demand, disk_demand;
};

/* Every figure SAMPLE_ABSENT; round_cut false.  No owned pointers. */
void node_sample_init(struct node_sample *s);

struct pool_sample {
    int64_t host_id;
    char *name;
    int64_t time_us;
    uint64_t capacity, allocation, available; /* bytes */
};

void pool_sample_init(struct pool_sample *s);
void pool_sample_clear(struct pool_sample *s); /* frees name, then initialises */
void pool_sample_copy(struct pool_sample *dst, const struct pool_sample *src);

/*
 * Reconciled view of one domain in one round (docs/reconciliation.md), as
 * history: per resource the reconciled value R and, beside it, the host
 * value H and the guest value G the round saw (fields <resource>_h and
 * <resource>_g), in R's units, each SAMPLE_ABSENT when the round had none:
 * a side is never filled from the other.  Provenance, reasons and ages are
 * kept for the newest round only, as the VM's view (store_round.views).
 * None of the three is negative (R never is; an H or G below zero would be
 * kept as 0), so they fit the same unsigned wide row as the other views.
 * CPU figures are in thousandths of a percent of the allocated vCPUs
 * (served as percent); rates are bytes per second, as gauges.
 */
struct reconciled_sample {
    int64_t host_id;
    char *uuid;
    int64_t time_us;
    /* R */
    uint64_t cpu_busy, cpu_wait, cpu_demand; /* milli-percent */
    uint64_t mem_total, mem_used, mem_swap;  /* bytes, bytes, bytes/s */
    uint64_t disk_used, disk_free, disk_io;  /* bytes, bytes, bytes/s */
    uint64_t net_rx, net_tx;                 /* bytes/s */
    /* H and G, same units */
    uint64_t cpu_busy_h, cpu_busy_g, cpu_wait_h, cpu_wait_g, cpu_demand_h, cpu_demand_g;
    uint64_t mem_total_h, mem_total_g, mem_used_h, mem_used_g, mem_swap_h, mem_swap_g;
    uint64_t disk_used_h, disk_used_g, disk_free_h, disk_free_g, disk_io_h, disk_io_g;
    uint64_t net_rx_h, net_rx_g, net_tx_h, net_tx_g;
};

void reconciled_sample_init(struct reconciled_sample *s);
void reconciled_sample_clear(struct reconciled_sample *s); /* frees uuid, initialises */
