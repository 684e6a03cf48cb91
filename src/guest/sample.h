/*
 * sample: what kanri-guestd reads about the machine it runs on, and the
 * readers that fill it.
 *
 * Every reader takes the root directory the machine's /proc and /sys are
 * found under ("/" in production, a captured tree in tests), reads each file
 * through a bounded read (SAMPLE_MAX_FILE bytes), keeps at most the bounded
 * number of entries below, and never fails as a whole: what it cannot use
 * (missing or unreadable files, malformed lines, values that overflow 64
 * bits, entries past a bound, truncated files) is recorded as a note in
 * sample.skipped so the document says what it left out instead of silently
 * reporting less.
 *
 * A struct sample is large (per-CPU and per-device arrays are inline) and is
 * meant to be allocated once and reused for every sample.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>

#include "gbuf.h"

#define SAMPLE_MAX_FILE    ((size_t)1 << 20)
#define SAMPLE_MAX_CPUS    256
#define SAMPLE_MAX_DISKS   64
#define SAMPLE_MAX_NICS    64
#define SAMPLE_MAX_FS      64
#define SAMPLE_MAX_CG_IO   64
#define SAMPLE_MAX_SKIPPED 32
#define SAMPLE_NAME_MAX    64 /* device and interface names, fs types */
/* Largest value the document carries: JSON readers and SQL stores commonly
 * hold signed 64-bit integers, so larger ones are treated as malformed. */
#define SAMPLE_MAX_VALUE INT64_MAX
#define SAMPLE_PATH_MAX  512 /* mount points, fs sources, cgroup paths */

struct cpu_times {
    uint64_t user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice;
};

struct sample_cpu {
    bool present;
    unsigned count; /* entries in per_cpu */
    struct cpu_times total;
    struct {
        unsigned id;
        struct cpu_times t;
    } per_cpu[SAMPLE_MAX_CPUS];
    bool has_ctxt, has_forks, has_running, has_blocked, has_btime;
    uint64_t ctxt, forks, procs_running, procs_blocked, boot_time;
};

/* Memory fields in bytes; `has` bits say which /proc/meminfo lines were seen. */
enum mem_field {
    MEM_TOTAL,
    MEM_FREE,
    MEM_AVAILABLE,
    MEM_BUFFERS,
    MEM_CACHED,
    MEM_SWAP_CACHED,
    MEM_ACTIVE,
    MEM_INACTIVE,
    MEM_SWAP_TOTAL,
    MEM_SWAP_FREE,
    MEM_DIRTY,
    MEM_WRITEBACK,
    MEM_ANON,
    MEM_MAPPED,
    MEM_SHMEM,
    MEM_SRECLAIMABLE,
    MEM_SUNRECLAIM,
    MEM_COMMITTED_AS,
    MEM_HUGEPAGES_TOTAL, /* a count of pages, not bytes */
    MEM_HUGEPAGES_FREE,  /* a count of pages, not bytes */
    MEM_HUGEPAGESIZE,
    MEM_N_FIELDS
};

struct sample_mem {
    bool present;
    uint32_t has; /* bit (1 << enum mem_field) */
    uint64_t v[MEM_N_FIELDS];
};

enum vm_field {
    VM_PSWPIN,
    VM_PSWPOUT,
    VM_PGPGIN,
    VM_PGPGOUT,
    VM_PGFAULT,
    VM_PGMAJFAULT,
    VM_OOM_KILL,
    VM_N_FIELDS
};

struct sample_vmstat {
    bool present;
    uint32_t has;
    uint64_t v[VM_N_FIELDS];
};

struct psi_line {
    bool present;
    double avg10, avg60, avg300;
    uint64_t total; /* microseconds */
};

struct psi_res {
    bool present;
    struct psi_line some, full;
};

struct sample_pressure {
    struct psi_res cpu, memory, io;
};

struct sample_load {
    bool present;
    double avg[3];
    uint64_t runnable, threads;
};

struct sample_disk {
    char name[SAMPLE_NAME_MAX];
    uint64_t reads, reads_merged, read_sectors, read_ms;
    uint64_t writes, writes_merged, write_sectors, write_ms;
    uint64_t in_flight, io_ms, weighted_ms;
};

struct sample_nic {
    char name[SAMPLE_NAME_MAX];
    uint64_t rx_bytes, rx_packets, rx_errs, rx_drop;
    uint64_t tx_bytes, tx_packets, tx_errs, tx_drop;
};

struct sample_fs {
    char mountpoint[SAMPLE_PATH_MAX];
    char fstype[SAMPLE_NAME_MAX];
    char device[SAMPLE_PATH_MAX];
    bool readonly;
    uint64_t total_bytes, free_bytes, avail_bytes, files, files_free;
};

struct sample_cg_io {
    char device[24]; /* "major:minor" */
    uint64_t rbytes, wbytes, rios, wios;
};

/* Limits: CG_UNLIMITED stands for the kernel's "max". */
#define CG_UNLIMITED UINT64_MAX

struct sample_cgroup {
    bool present;
    char path[SAMPLE_PATH_MAX];
    bool has_memory_max, has_memory_high, has_memory_current;
    bool has_swap_max, has_swap_current;
    uint64_t memory_max, memory_high, memory_current, swap_max, swap_current;
    bool has_cpu_max;
    uint64_t cpu_quota_us; /* CG_UNLIMITED for "max" */
    uint64_t cpu_period_us;
    bool has_cpu_stat;
    uint64_t cpu_usage_us, cpu_user_us, cpu_system_us, nr_periods, nr_throttled, throttled_us;
    bool has_pids;
    uint64_t pids_current, pids_max;
    unsigned n_io;
    struct sample_cg_io io[SAMPLE_MAX_CG_IO];
};

struct sample_note {
    char source[SAMPLE_NAME_MAX];
    char reason[96];
};

struct sample {
    char hostname[256];
    struct sample_cpu cpu;
    struct sample_mem mem;
    struct sample_vmstat vmstat;
    struct sample_pressure pressure;
    struct sample_load load;
    unsigned n_disks, n_nics, n_fs;
    struct sample_disk disks[SAMPLE_MAX_DISKS];
    struct sample_nic nics[SAMPLE_MAX_NICS];
    struct sample_fs fs[SAMPLE_MAX_FS];
    struct sample_cgroup cgroup;
    unsigned n_skipped;
    unsigned skipped_lost; /* notes that did not fit in skipped[] */
    struct sample_note skipped[SAMPLE_MAX_SKIPPED];
};

/* statvfs() replacement, so tests can give filesystems fixed figures. */
typedef int (*sample_statvfs_fn)(const char *path, const char *mountpoint, struct statvfs *ret,
                                 void *userdata);

struct sampler {
    char root[SAMPLE_PATH_MAX]; /* "" for the real root, else a prefix without trailing '/' */
    struct gbuf file;           /* reused read buffer */
    sample_statvfs_fn statvfs_fn;
    void *statvfs_userdata;
    /* Set by the caller when container_detect() (identity.h) found a
     * container: LXC leaves no marker file, only PID 1's environment. */
    bool in_container;
};

/* root may be NULL or "/" for the real machine.  Returns 0 or -ENAMETOOLONG. */
int sampler_init(struct sampler *s, const char *root);
void sampler_free(struct sampler *s);

/* Reads everything into *out (which it clears first). */
void sampler_read(struct sampler *s, struct sample *out);

/* Individual readers (sampler_read calls them all); exposed for tests. */
void read_hostname(struct sampler *s, struct sample *out);
void read_stat(struct sampler *s, struct sample *out);
void read_meminfo(struct sampler *s, struct sample *out);
void read_vmstat(struct sampler *s, struct sample *out);
void read_pressure(struct sampler *s, struct sample *out);
void read_loadavg(struct sampler *s, struct sample *out);
void read_diskstats(struct sampler *s, struct sample *out);
void read_netdev(struct sampler *s, struct sample *out);
void read_filesystems(struct sampler *s, struct sample *out);
void read_cgroup(struct sampler *s, struct sample *out);

/* Adds a note to out->skipped (printf-style reason). */
void sample_note(struct sample *out, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Reads ROOT/rel into s->file (NUL-terminated).  Returns 0, -errno, or 1 when
 * the file was longer than SAMPLE_MAX_FILE and was cut at the last complete
 * line below the bound.  Missing files are not noted (callers decide whether
 * absence matters); everything else is.
 */
int sampler_read_file(struct sampler *s, const char *rel, struct sample *out);

/* Strict unsigned decimal: digits only, no sign, no overflow. */
bool parse_u64_strict(const char *s, size_t n, uint64_t *ret);
