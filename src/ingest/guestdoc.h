/*
 * guestdoc: kanrid's parser for the documents kanri-guestd pushes to
 * POST /api/v1/ingest/guest (format: docs/guest-agent.md, schema 1).
 *
 * Pure: bytes in, plain C values out, no I/O and no logging.  The body is
 * untrusted, so it is bounded (GUESTDOC_MAX_BYTES, GUESTDOC_MAX_DEPTH,
 * per-array counts matching the agent's own bounds), must be valid UTF-8,
 * and is checked field by field against a table of expected fields: type,
 * range, presence.  Unknown members are ignored at every level so that a
 * newer agent can add figures without breaking an older kanrid.  The first
 * violation ends parsing with a GError whose message starts with the path of
 * the field ("cpu.per_cpu[3].idle: expected a non-negative integer").
 *
 * Ownership: guestdoc_parse() returns a document owned by the caller
 * (guestdoc_free(), or g_autoptr(guestdoc)); all strings and arrays in it
 * belong to it.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUESTDOC_MAX_BYTES       (256 * 1024)
#define GUESTDOC_MAX_DEPTH       16
#define GUESTDOC_MAX_CPUS        256
#define GUESTDOC_MAX_DISKS       64
#define GUESTDOC_MAX_NICS        64
#define GUESTDOC_MAX_FILESYSTEMS 64
#define GUESTDOC_MAX_CGROUP_IO   64
#define GUESTDOC_MAX_SKIPPED     64
#define GUESTDOC_SCHEMA          1

/* An optional number that was not in the document. */
#define GUESTDOC_ABSENT UINT64_MAX
/* A limit sent as null: the kernel's "max", no limit. */
#define GUESTDOC_UNLIMITED (UINT64_MAX - 1)
/* Largest number accepted: integers are signed 64-bit in the store (and in
 * most JSON readers), and the two values above stay free as markers. */
#define GUESTDOC_MAX_VALUE ((uint64_t)INT64_MAX)

#define GUESTDOC_ERROR guestdoc_error_quark()
GQuark guestdoc_error_quark(void);

enum guestdoc_error_code {
    GUESTDOC_ERROR_TOO_LARGE, /* body past GUESTDOC_MAX_BYTES: HTTP 413 */
    GUESTDOC_ERROR_ENCODING,  /* not UTF-8 */
    GUESTDOC_ERROR_SYNTAX,    /* not JSON, or nested too deeply */
    GUESTDOC_ERROR_INVALID,   /* JSON, but a field is missing or wrong */
};

/* Where the agent's machine_id came from.  kanrid binds a document to a
 * domain by the UUID alone: "smbios" (a VM's firmware UUID) and "container"
 * (KANRI_CONTAINER_UUID, which kanri's container driver sets to the
 * container's UUID) both name a domain's UUID and bind the same way. */
enum guestdoc_id_source {
    GUESTDOC_ID_SMBIOS,
    GUESTDOC_ID_GENERATED,
    GUESTDOC_ID_CONTAINER,
};

/* CPU times in USER_HZ ticks, as /proc/stat counts them. */
struct guestdoc_cpu_times {
    uint64_t user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice;
};

struct guestdoc_cpu {
    uint64_t cpu; /* the kernel's CPU number */
    struct guestdoc_cpu_times t;
};

struct guestdoc_psi_line {
    bool present;
    double avg10, avg60, avg300; /* percent */
    uint64_t total_us;
};

struct guestdoc_psi {
    bool present;
    struct guestdoc_psi_line some, full;
};

struct guestdoc_disk {
    char *name;
    uint64_t reads, reads_merged, read_sectors, read_ms;
    uint64_t writes, writes_merged, write_sectors, write_ms;
    uint64_t in_flight, io_ms, weighted_io_ms; /* all but name, io_ms: may be ABSENT */
};

struct guestdoc_nic {
    char *name;
    uint64_t rx_bytes, rx_packets, rx_errs, rx_drop;
    uint64_t tx_bytes, tx_packets, tx_errs, tx_drop;
};

struct guestdoc_fs {
    char *mountpoint, *fstype, *device;
    bool readonly;
    uint64_t total_bytes, free_bytes, avail_bytes, files, files_free;
};

struct guestdoc_cgroup_io {
    char *device; /* "major:minor" */
    uint64_t rbytes, wbytes, rios, wios;
};

struct guestdoc_note {
    char *source, *reason;
};

/* Optional numbers below hold GUESTDOC_ABSENT when the agent left them out
 * (its source was missing on that machine); limits may be
 * GUESTDOC_UNLIMITED. */
struct guestdoc {
    uint64_t schema;
    struct {
        char *name, *version;
    } agent;
    char *machine_id; /* lower-case canonical UUID */
    enum guestdoc_id_source id_source;
    char *hostname;
    uint64_t seq;
    double time; /* UTC seconds since the epoch */
    uint64_t interval;
    uint64_t boot_time; /* optional */

    bool has_cpu;
    struct {
        uint64_t count;
        struct guestdoc_cpu_times total;
        struct guestdoc_cpu *per_cpu;
        size_t n_per_cpu;
        uint64_t context_switches, forks, procs_running, procs_blocked; /* optional */
    } cpu;

    bool has_memory;
    struct {
        uint64_t total_bytes; /* required when memory is present; the rest optional */
        uint64_t free_bytes, available_bytes, buffers_bytes, cached_bytes, swap_cached_bytes;
        uint64_t active_bytes, inactive_bytes, swap_total_bytes, swap_free_bytes;
        uint64_t dirty_bytes, writeback_bytes, anon_bytes, mapped_bytes, shmem_bytes;
        uint64_t slab_reclaimable_bytes, slab_unreclaimable_bytes, committed_bytes;
        uint64_t hugepages_total, hugepages_free, hugepage_size_bytes;
    } memory;

    bool has_vmstat;
    struct {
        uint64_t pswpin, pswpout, pgpgin, pgpgout, pgfault, pgmajfault, oom_kill; /* optional */
    } vmstat;

    bool has_pressure;
    struct {
        struct guestdoc_psi cpu, memory, io;
    } pressure;

    bool has_load;
    double load[3]; /* 1, 5, 15 minutes */

    bool has_tasks;
    struct {
        uint64_t runnable, total;
    } tasks;

    struct guestdoc_disk *disks;
    size_t n_disks;
    struct guestdoc_nic *nics;
    size_t n_nics;
    struct guestdoc_fs *filesystems;
    size_t n_filesystems;

    bool has_cgroup;
    struct {
        char *path;
        uint64_t memory_max_bytes, memory_high_bytes, memory_current_bytes;
        uint64_t swap_max_bytes, swap_current_bytes;
        uint64_t cpu_quota_us, cpu_period_us;
        uint64_t cpu_usage_us, cpu_user_us, cpu_system_us;
        uint64_t nr_periods, nr_throttled, throttled_us;
        uint64_t pids_current, pids_max;
        struct guestdoc_cgroup_io *io;
        size_t n_io;
    } cgroup;

    struct guestdoc_note *skipped;
    size_t n_skipped;

    struct {
        uint64_t backlog, dropped;
    } spool;
};

typedef struct guestdoc guestdoc;

/* Parses and validates body[0..len).  Returns NULL with error set on any
 * violation. */
struct guestdoc *guestdoc_parse(const char *body, size_t len, GError **error);

void guestdoc_free(struct guestdoc *doc);

/* Renders every field as "path = value" lines, in table order (for golden
 * tests and debugging).  g_free the result. */
char *guestdoc_to_text(const struct guestdoc *doc);

const char *guestdoc_id_source_name(enum guestdoc_id_source s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(guestdoc, guestdoc_free)
