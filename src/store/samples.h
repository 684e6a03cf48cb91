/*
 * samples: the two views of a machine's figures, as stored history.
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

#include <stdbool.h>
#include <stdint.h>

#define SAMPLE_ABSENT UINT64_MAX

struct guest_sample {
    char *machine_uuid; /* lower-case UUID: the libvirt domain's, or kanri-guestd's own id */
    const char *source; /* "qga" | "balloon" | "kanri-guestd" */
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

/* Sets every numeric field to SAMPLE_ABSENT and pointers to NULL. */
void guest_sample_init(struct guest_sample *s);
void guest_sample_clear(struct guest_sample *s); /* frees owned strings */
