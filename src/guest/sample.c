#include "sample.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int real_statvfs(const char *path, const char *mountpoint, struct statvfs *ret,
                        void *userdata)
{
    (void)mountpoint;
    (void)userdata;
    return statvfs(path, ret) < 0 ? -errno : 0;
}

int sampler_init(struct sampler *s, const char *root)
{
    memset(s, 0, sizeof(*s));
    gbuf_init(&s->file, SAMPLE_MAX_FILE + 1);
    s->statvfs_fn = real_statvfs;
    if (!root)
        root = "";
    size_t n = strlen(root);
    while (n > 0 && root[n - 1] == '/')
        n--; /* "/" and "" both mean the real root; "/x/" means "/x" */
    if (n >= sizeof(s->root))
        return -ENAMETOOLONG;
    memcpy(s->root, root, n);
    s->root[n] = '\0';
    return 0;
}

void sampler_free(struct sampler *s)
{
    gbuf_free(&s->file);
}

void sample_note(struct sample *out, const char *source, const char *fmt, ...)
{
    if (out->n_skipped >= SAMPLE_MAX_SKIPPED) {
        out->skipped_lost++;
        return;
    }
    struct sample_note *n = &out->skipped[out->n_skipped++];
    snprintf(n->source, sizeof(n->source), "%s", source);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->reason, sizeof(n->reason), fmt, ap);
    va_end(ap);
}

static bool join_path(const struct sampler *s, const char *rel, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s%s", s->root, rel);
    return n >= 0 && (size_t)n < size;
}

int sampler_read_file(struct sampler *s, const char *rel, struct sample *out)
{
    char path[PATH_MAX];
    struct gbuf *b = &s->file;
    gbuf_reset(b);
    if (!join_path(s, rel, path, sizeof(path))) {
        sample_note(out, rel, "path too long");
        return -ENAMETOOLONG;
    }
    /* O_NONBLOCK: a FIFO planted in a captured tree must not hang the agent. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e != ENOENT && e != ENOTDIR)
            sample_note(out, rel, "cannot open: %s", strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        sample_note(out, rel, "not a regular file");
        return -EINVAL;
    }
    bool truncated = false;
    for (;;) {
        if (b->len >= SAMPLE_MAX_FILE) {
            truncated = true;
            break;
        }
        size_t want = SAMPLE_MAX_FILE - b->len;
        if (want > 16384)
            want = 16384;
        if (!gbuf_reserve(b, want)) {
            close(fd);
            sample_note(out, rel, "out of memory");
            return -ENOMEM;
        }
        ssize_t r = read(fd, b->data + b->len, want);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            sample_note(out, rel, "read error: %s", strerror(e));
            return -e;
        }
        if (r == 0)
            break;
        b->len += (size_t)r;
    }
    close(fd);
    if (truncated) {
        /* Keep only complete lines so no reader sees half a record. */
        char *nl = memrchr(b->data, '\n', b->len);
        b->len = nl ? (size_t)(nl - b->data) + 1 : 0;
        sample_note(out, rel, "file larger than %zu bytes, rest ignored", SAMPLE_MAX_FILE);
    }
    b->data[b->len] = '\0';
    /* A NUL inside a text file would hide the rest of a line from the parsers. */
    if (memchr(b->data, '\0', b->len)) {
        b->len = strlen(b->data);
        sample_note(out, rel, "NUL byte in file, rest ignored");
    }
    return truncated ? 1 : 0;
}

/* Reads a source every Linux has: its absence is worth a note, unlike an
 * optional one's (PSI, cgroup files). */
static bool read_required(struct sampler *s, const char *src, struct sample *out)
{
    int r = sampler_read_file(s, src, out);
    if (r == -ENOENT)
        sample_note(out, src, "missing");
    return r >= 0;
}

bool parse_u64_strict(const char *s, size_t n, uint64_t *ret)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *ret = v;
    return true;
}

static bool tok_u64(const char *tok, uint64_t *ret)
{
    return parse_u64_strict(tok, strlen(tok), ret) && *ret <= SAMPLE_MAX_VALUE;
}

/* Splits line (in place) on spaces and tabs; returns the number of tokens. */
static size_t split_ws(char *line, char **tok, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (n == max)
            return n + 1; /* caller sees "too many" */
        tok[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

/* Returns the next line (NUL-terminated in place) or NULL; *cursor advances. */
static char *next_line(char **cursor)
{
    char *p = *cursor;
    if (!p || !*p)
        return NULL;
    char *nl = strchr(p, '\n');
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = p + strlen(p);
    }
    return p;
}

static void copy_name(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}

void read_hostname(struct sampler *s, struct sample *out)
{
    out->hostname[0] = '\0';
    if (sampler_read_file(s, "/proc/sys/kernel/hostname", out) >= 0) {
        size_t n = strcspn(s->file.data, "\n");
        if (n >= sizeof(out->hostname))
            n = sizeof(out->hostname) - 1;
        memcpy(out->hostname, s->file.data, n);
        out->hostname[n] = '\0';
    }
    /* Only the real machine may fall back to uname: a captured tree must not
     * pick up the test host's name. */
    if (!out->hostname[0] && !s->root[0] && gethostname(out->hostname, sizeof(out->hostname)) < 0)
        out->hostname[0] = '\0';
    out->hostname[sizeof(out->hostname) - 1] = '\0';
}

static bool parse_cpu_times(char **tok, size_t n, struct cpu_times *t)
{
    /* user nice system idle are in every kernel; later columns were added over
     * time (iowait 2.5, irq/softirq 2.6, steal 2.6.11, guest 2.6.24,
     * guest_nice 2.6.33) and read as 0 when missing. */
    uint64_t v[10] = {0};
    if (n < 4)
        return false;
    if (n > 10)
        n = 10;
    for (size_t i = 0; i < n; i++)
        if (!tok_u64(tok[i], &v[i]))
            return false;
    *t = (struct cpu_times){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
    return true;
}

void read_stat(struct sampler *s, struct sample *out)
{
    const char *src = "/proc/stat";
    if (!read_required(s, src, out))
        return;
    unsigned bad = 0, over = 0;
    bool have_total = false;
    char *cur = s->file.data, *line;
    while ((line = next_line(&cur))) {
        char *tok[16];
        size_t n = split_ws(line, tok, 16);
        if (n == 0)
            continue;
        if (strncmp(tok[0], "cpu", 3) == 0) {
            struct cpu_times t;
            if (n > 16 || !parse_cpu_times(tok + 1, n - 1, &t)) {
                bad++;
                continue;
            }
            if (tok[0][3] == '\0') {
                out->cpu.total = t;
                have_total = true;
                continue;
            }
            uint64_t id;
            if (!tok_u64(tok[0] + 3, &id) || id > INT_MAX) {
                bad++;
            } else if (out->cpu.count >= SAMPLE_MAX_CPUS) {
                over++;
            } else {
                out->cpu.per_cpu[out->cpu.count].id = (unsigned)id;
                out->cpu.per_cpu[out->cpu.count].t = t;
                out->cpu.count++;
            }
            continue;
        }
        if (n != 2)
            continue; /* intr and softirq lines: long and not needed */
        uint64_t v;
        if (!tok_u64(tok[1], &v)) {
            bad++;
            continue;
        }
        if (strcmp(tok[0], "ctxt") == 0) {
            out->cpu.ctxt = v;
            out->cpu.has_ctxt = true;
        } else if (strcmp(tok[0], "processes") == 0) {
            out->cpu.forks = v;
            out->cpu.has_forks = true;
        } else if (strcmp(tok[0], "procs_running") == 0) {
            out->cpu.procs_running = v;
            out->cpu.has_running = true;
        } else if (strcmp(tok[0], "procs_blocked") == 0) {
            out->cpu.procs_blocked = v;
            out->cpu.has_blocked = true;
        } else if (strcmp(tok[0], "btime") == 0) {
            out->cpu.boot_time = v;
            out->cpu.has_btime = true;
        }
    }
    if (!have_total)
        sample_note(out, src, "no aggregate cpu line");
    out->cpu.present = have_total;
    if (bad)
        sample_note(out, src, "%u malformed lines", bad);
    if (over)
        sample_note(out, src, "%u CPUs past the limit of %d", over, SAMPLE_MAX_CPUS);
}

static const char *const mem_keys[MEM_N_FIELDS] = {
    [MEM_TOTAL] = "MemTotal",
    [MEM_FREE] = "MemFree",
    [MEM_AVAILABLE] = "MemAvailable",
    [MEM_BUFFERS] = "Buffers",
    [MEM_CACHED] = "Cached",
    [MEM_SWAP_CACHED] = "SwapCached",
    [MEM_ACTIVE] = "Active",
    [MEM_INACTIVE] = "Inactive",
    [MEM_SWAP_TOTAL] = "SwapTotal",
    [MEM_SWAP_FREE] = "SwapFree",
    [MEM_DIRTY] = "Dirty",
    [MEM_WRITEBACK] = "Writeback",
    [MEM_ANON] = "AnonPages",
    [MEM_MAPPED] = "Mapped",
    [MEM_SHMEM] = "Shmem",
    [MEM_SRECLAIMABLE] = "SReclaimable",
    [MEM_SUNRECLAIM] = "SUnreclaim",
    [MEM_COMMITTED_AS] = "Committed_AS",
    [MEM_HUGEPAGES_TOTAL] = "HugePages_Total",
    [MEM_HUGEPAGES_FREE] = "HugePages_Free",
    [MEM_HUGEPAGESIZE] = "Hugepagesize",
};

void read_meminfo(struct sampler *s, struct sample *out)
{
    const char *src = "/proc/meminfo";
    if (!read_required(s, src, out))
        return;
    unsigned bad = 0;
    char *cur = s->file.data, *line;
    while ((line = next_line(&cur))) {
        char *tok[4];
        size_t n = split_ws(line, tok, 4);
        if (n == 0)
            continue;
        size_t klen = strlen(tok[0]);
        if (n < 2 || n > 3 || klen < 2 || tok[0][klen - 1] != ':') {
            bad++;
            continue;
        }
        tok[0][klen - 1] = '\0';
        int field = -1;
        for (int i = 0; i < MEM_N_FIELDS; i++) {
            if (strcmp(tok[0], mem_keys[i]) == 0) {
                field = i;
                break;
            }
        }
        uint64_t v;
        if (!tok_u64(tok[1], &v)) {
            bad++;
            continue;
        }
        if (field < 0)
            continue;
        if (n == 3) {
            if (strcmp(tok[2], "kB") != 0 || v > SAMPLE_MAX_VALUE / 1024) {
                bad++;
                continue;
            }
            v *= 1024;
        }
        out->mem.v[field] = v;
        out->mem.has |= 1u << field;
    }
    out->mem.present = (out->mem.has & (1u << MEM_TOTAL)) != 0;
    if (!out->mem.present)
        sample_note(out, src, "no MemTotal line");
    if (bad)
        sample_note(out, src, "%u malformed lines", bad);
}

static const char *const vm_keys[VM_N_FIELDS] = {
    [VM_PSWPIN] = "pswpin",     [VM_PSWPOUT] = "pswpout", [VM_PGPGIN] = "pgpgin",
    [VM_PGPGOUT] = "pgpgout",   [VM_PGFAULT] = "pgfault", [VM_PGMAJFAULT] = "pgmajfault",
    [VM_OOM_KILL] = "oom_kill",
};

void read_vmstat(struct sampler *s, struct sample *out)
{
    const char *src = "/proc/vmstat";
    if (!read_required(s, src, out))
        return;
    unsigned bad = 0;
    char *cur = s->file.data, *line;
    while ((line = next_line(&cur))) {
        char *tok[3];
        size_t n = split_ws(line, tok, 3);
        if (n == 0)
            continue;
        if (n != 2) {
            bad++;
            continue;
        }
        for (int i = 0; i < VM_N_FIELDS; i++) {
            if (strcmp(tok[0], vm_keys[i]) != 0)
                continue;
            uint64_t v;
            if (!tok_u64(tok[1], &v)) {
                bad++;
            } else {
                out->vmstat.v[i] = v;
                out->vmstat.has |= 1u << i;
            }
            break;
        }
    }
    out->vmstat.present = out->vmstat.has != 0;
    if (bad)
        sample_note(out, src, "%u malformed lines", bad);
}

/* "avg10=1.23": PSI averages are percentages printed with two decimals. */
static bool parse_psi_avg(const char *tok, const char *key, double *ret)
{
    size_t kl = strlen(key);
    if (strncmp(tok, key, kl) != 0 || tok[kl] != '=')
        return false;
    const char *p = tok + kl + 1;
    if (*p < '0' || *p > '9')
        return false;
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (errno || *end || !isfinite(v) || v > 100.0)
        return false;
    *ret = v;
    return true;
}

static void read_psi_file(struct sampler *s, struct sample *out, const char *src,
                          struct psi_res *res)
{
    int r = sampler_read_file(s, src, out);
    if (r < 0)
        return; /* PSI is optional: kernels before 4.20 or psi=0 lack it */
    unsigned bad = 0;
    char *cur = s->file.data, *line;
    while ((line = next_line(&cur))) {
        char *tok[6];
        size_t n = split_ws(line, tok, 6);
        if (n == 0)
            continue;
        struct psi_line *pl = NULL;
        if (strcmp(tok[0], "some") == 0)
            pl = &res->some;
        else if (strcmp(tok[0], "full") == 0)
            pl = &res->full;
        struct psi_line v = {.present = true};
        if (!pl || n != 5 || !parse_psi_avg(tok[1], "avg10", &v.avg10) ||
            !parse_psi_avg(tok[2], "avg60", &v.avg60) ||
            !parse_psi_avg(tok[3], "avg300", &v.avg300) || strncmp(tok[4], "total=", 6) != 0 ||
            !tok_u64(tok[4] + 6, &v.total)) {
            bad++;
            continue;
        }
        *pl = v;
    }
    res->present = res->some.present;
    if (bad)
        sample_note(out, src, "%u malformed lines", bad);
}

void read_pressure(struct sampler *s, struct sample *out)
{
    read_psi_file(s, out, "/proc/pressure/cpu", &out->pressure.cpu);
    read_psi_file(s, out, "/proc/pressure/memory", &out->pressure.memory);
    read_psi_file(s, out, "/proc/pressure/io", &out->pressure.io);
}

static bool parse_load(const char *tok, double *ret)
{
    if (*tok < '0' || *tok > '9')
        return false;
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    if (errno || *end || !isfinite(v) || v > 1e9)
        return false;
    *ret = v;
    return true;
}

void read_loadavg(struct sampler *s, struct sample *out)
{
    const char *src = "/proc/loadavg";
    if (!read_required(s, src, out))
        return;
    char *cur = s->file.data;
    char *line = next_line(&cur);
    char *tok[6];
    size_t n = line ? split_ws(line, tok, 6) : 0;
    struct sample_load l = {.present = true};
    char *slash = n >= 4 ? strchr(tok[3], '/') : NULL;
    if (n != 5 || !parse_load(tok[0], &l.avg[0]) || !parse_load(tok[1], &l.avg[1]) ||
        !parse_load(tok[2], &l.avg[2]) || !slash) {
        sample_note(out, src, "malformed");
        return;
    }
    *slash = '\0';
    if (!tok_u64(tok[3], &l.runnable) || !tok_u64(slash + 1, &l.threads)) {
        sample_note(out, src, "malformed");
        return;
    }
    out->load = l;
}

/* Partitions and virtual devices that only duplicate or fake disk I/O. */
static bool disk_is_ignored(const char *name)
{
    return strncmp(name, "loop", 4) == 0 || strncmp(name, "ram", 3) == 0 ||
           strncmp(name, "zram", 4) == 0;
}

/* Whole disks are the entries of /sys/block; without sysfs, fall back to the
 * naming conventions (sda1, vda2, nvme0n1p1, mmcblk0p1 are partitions). */
static bool disk_is_whole(struct sampler *s, const char *name, bool have_sysblock)
{
    if (have_sysblock) {
        char path[PATH_MAX];
        char rel[128];
        struct stat st;
        snprintf(rel, sizeof(rel), "/sys/block/%s", name);
        return join_path(s, rel, path, sizeof(path)) && stat(path, &st) == 0;
    }
    size_t n = strlen(name);
    if (n == 0 || name[n - 1] < '0' || name[n - 1] > '9')
        return true;
    if (strncmp(name, "nvme", 4) == 0 || strncmp(name, "mmcblk", 6) == 0) {
        size_t i = n;
        while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
            i--;
        return !(i > 0 && name[i - 1] == 'p');
    }
    /* sd*, vd*, xvd*, hd*: a trailing digit means a partition; md0, dm-0,
     * sr0, nbd0 are whole devices. */
    return !(strncmp(name, "sd", 2) == 0 || strncmp(name, "vd", 2) == 0 ||
             strncmp(name, "xvd", 3) == 0 || strncmp(name, "hd", 2) == 0);
}

void read_diskstats(struct sampler *s, struct sample *out)
{
    const char *src = "/proc/diskstats";
    if (!read_required(s, src, out))
        return;
    char sysblock[PATH_MAX];
    struct stat st;
    bool have_sysblock = join_path(s, "/sys/block", sysblock, sizeof(sysblock)) &&
                         stat(sysblock, &st) == 0 && S_ISDIR(st.st_mode);
    unsigned bad = 0, over = 0;
    char *cur = s->file.data, *line;
    while ((line = next_line(&cur))) {
        char *tok[24];
        size_t n = split_ws(line, tok, 24);
        if (n == 0)
            continue;
        /* major minor name + 11 fields (4.18 adds 4 discard, 5.5 adds 2 flush) */
        uint64_t v[11];
        bool ok = n >= 14 && n <= 24 && strlen(tok[2]) < SAMPLE_NAME_MAX;
        for (size_t i = 0; ok && i < 11; i++)
            ok = tok_u64(tok[3 + i], &v[i]);
        if (!ok) {
            bad++;
            continue;
        }
        if (disk_is_ignored(tok[2]) || !disk_is_whole(s, tok[2], have_sysblock))
            continue;
        if (out->n_disks >= SAMPLE_MAX_DISKS) {
            over++;
            continue;
        }
        struct sample_disk *d = &out->disks[out->n_disks++];
        copy_name(d->name, sizeof(d->name), tok[2]);
        d->reads = v[0];
        d->reads_merged = v[1];
        d->read_sectors = v[2];
        d->read_ms = v[3];
        d->writes = v[4];
        d->writes_merged = v[5];
        d->write_sectors = v[6];
        d->write_ms = v[7];
        d->in_flight = v[8];
        d->io_ms = v[9];
        d->weighted_ms = v[10];
    }
    if (bad)
        sample_note(out, src, "%u malformed lines", bad);
    if (over)
        sample_note(out, src, "%u disks past the limit of %d", over, SAMPLE_MAX_DISKS);
}

void read_netdev(struct sampler *s, struct sample *out)
{
    const char *src = "/proc/net/dev";
    if (!read_required(s, src, out))
        return;
    unsigned bad = 0, over = 0;
    char *cur = s->file.data, *line;
    while ((line = next_line(&cur))) {
        /* Interface names cannot contain ':' (dev_valid_name), so the first
         * one ends the name; the two header lines have a '|' instead. */
        char *colon = strchr(line, ':');
        if (!colon) {
            if (!strchr(line, '|') && line[strspn(line, " \t")])
                bad++;
            continue;
        }
        *colon = '\0';
        char *name = line + strspn(line, " \t");
        char *tok[20];
        size_t n = split_ws(colon + 1, tok, 20);
        uint64_t v[16];
        bool ok = n == 16 && *name && strlen(name) < SAMPLE_NAME_MAX && !strpbrk(name, " \t");
        for (size_t i = 0; ok && i < 16; i++)
            ok = tok_u64(tok[i], &v[i]);
        if (!ok) {
            bad++;
            continue;
        }
        if (strcmp(name, "lo") == 0)
            continue;
        if (out->n_nics >= SAMPLE_MAX_NICS) {
            over++;
            continue;
        }
        struct sample_nic *nic = &out->nics[out->n_nics++];
        copy_name(nic->name, sizeof(nic->name), name);
        nic->rx_bytes = v[0];
        nic->rx_packets = v[1];
        nic->rx_errs = v[2];
        nic->rx_drop = v[3];
        nic->tx_bytes = v[8];
        nic->tx_packets = v[9];
        nic->tx_errs = v[10];
        nic->tx_drop = v[11];
    }
    if (bad)
        sample_note(out, src, "%u malformed lines", bad);
    if (over)
        sample_note(out, src, "%u interfaces past the limit of %d", over, SAMPLE_MAX_NICS);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo; decodes in
 * place and returns false on a malformed escape. */
static bool unescape_octal(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r != '\\') {
            *w++ = *r;
            continue;
        }
        if (r[1] < '0' || r[1] > '3' || r[2] < '0' || r[2] > '7' || r[3] < '0' || r[3] > '7')
            return false;
        char c = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
        if (c == '\0')
            return false;
        *w++ = c;
        r += 3;
    }
    *w = '\0';
    return true;
}

/* Filesystems that hold no user data; their statvfs figures mean nothing. */
static const char *const pseudo_fs[] = {
    "autofs",          "binfmt_misc", "bpf",         "cgroup",     "cgroup2",
    "configfs",        "debugfs",     "devpts",      "devtmpfs",   "efivarfs",
    "fusectl",         "hugetlbfs",   "mqueue",      "nsfs",       "proc",
    "pstore",          "ramfs",       "rpc_pipefs",  "securityfs", "selinuxfs",
    "sysfs",           "tmpfs",       "tracefs",     "squashfs",   "iso9660",
    "fuse.gvfsd-fuse", "fuse.lxcfs",  "fuse.portal", "nfsd",       "devfs",
};

static bool fs_is_pseudo(const char *type)
{
    for (size_t i = 0; i < sizeof(pseudo_fs) / sizeof(pseudo_fs[0]); i++)
        if (strcmp(type, pseudo_fs[i]) == 0)
            return true;
    return false;
}

struct mount_entry {
    char *devno, *root, *mountpoint, *options, *fstype, *source;
};

/* Parses one mountinfo line in place. */
static bool parse_mountinfo_line(char *line, struct mount_entry *m)
{
    char *tok[64];
    size_t n = split_ws(line, tok, 64);
    if (n < 10 || n > 64)
        return false;
    size_t dash = 0;
    for (size_t i = 6; i < n; i++) {
        if (strcmp(tok[i], "-") == 0) {
            dash = i;
            break;
        }
    }
    if (!dash || dash + 3 > n)
        return false;
    m->devno = tok[2];
    m->root = tok[3];
    m->mountpoint = tok[4];
    m->options = tok[5];
    m->fstype = tok[dash + 1];
    m->source = tok[dash + 2];
    return strchr(m->devno, ':') && unescape_octal(m->root) && unescape_octal(m->mountpoint) &&
           unescape_octal(m->source) && m->mountpoint[0] == '/';
}

static bool option_set(const char *options, const char *opt)
{
    size_t ol = strlen(opt);
    for (const char *p = options; p && *p;) {
        size_t l = strcspn(p, ",");
        if (l == ol && strncmp(p, opt, ol) == 0)
            return true;
        p += l;
        if (*p == ',')
            p++;
    }
    return false;
}

static bool mul_ok(uint64_t a, uint64_t b, uint64_t *ret)
{
    if (b && a > SAMPLE_MAX_VALUE / b)
        return false;
    *ret = a * b;
    return true;
}

void read_filesystems(struct sampler *s, struct sample *out)
{
    const char *src = "/proc/self/mountinfo";
    if (!read_required(s, src, out))
        return;
    unsigned bad = 0, over = 0, failed = 0;
    /* Bind mounts show one device several times: report it once. */
    char seen[SAMPLE_MAX_FS][24];
    unsigned n_seen = 0;
    char *cur = s->file.data, *line;
    while ((line = next_line(&cur))) {
        if (!line[strspn(line, " \t")])
            continue;
        struct mount_entry m;
        if (!parse_mountinfo_line(line, &m)) {
            bad++;
            continue;
        }
        if (fs_is_pseudo(m.fstype))
            continue;
        if (strlen(m.devno) >= sizeof(seen[0]) || strlen(m.mountpoint) >= SAMPLE_PATH_MAX ||
            strlen(m.fstype) >= SAMPLE_NAME_MAX) {
            bad++;
            continue;
        }
        bool dup = false;
        for (unsigned i = 0; i < n_seen && !dup; i++)
            dup = strcmp(seen[i], m.devno) == 0;
        if (dup)
            continue;
        if (out->n_fs >= SAMPLE_MAX_FS) {
            over++;
            continue;
        }
        char path[PATH_MAX];
        struct statvfs sv;
        if (!join_path(s, m.mountpoint, path, sizeof(path)) ||
            s->statvfs_fn(path, m.mountpoint, &sv, s->statvfs_userdata) < 0) {
            failed++;
            continue;
        }
        if (sv.f_blocks == 0)
            continue; /* a pseudo filesystem not in the list above */
        struct sample_fs *f = &out->fs[out->n_fs];
        uint64_t unit = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
        if (!mul_ok(sv.f_blocks, unit, &f->total_bytes) ||
            !mul_ok(sv.f_bfree, unit, &f->free_bytes) ||
            !mul_ok(sv.f_bavail, unit, &f->avail_bytes) || sv.f_files > SAMPLE_MAX_VALUE ||
            sv.f_ffree > SAMPLE_MAX_VALUE) {
            bad++;
            continue;
        }
        f->files = sv.f_files;
        f->files_free = sv.f_ffree;
        f->readonly = option_set(m.options, "ro");
        copy_name(f->mountpoint, sizeof(f->mountpoint), m.mountpoint);
        copy_name(f->fstype, sizeof(f->fstype), m.fstype);
        copy_name(f->device, sizeof(f->device), m.source);
        copy_name(seen[n_seen++], sizeof(seen[0]), m.devno);
        out->n_fs++;
    }
    if (bad)
        sample_note(out, src, "%u malformed lines", bad);
    if (failed)
        sample_note(out, src, "statvfs failed on %u filesystems", failed);
    if (over)
        sample_note(out, src, "%u filesystems past the limit of %d", over, SAMPLE_MAX_FS);
}

/* Reads a one-line cgroup file holding a number or "max". */
static bool read_cg_value(struct sampler *s, struct sample *out, const char *dir, const char *file,
                          uint64_t *ret)
{
    char rel[PATH_MAX];
    if (snprintf(rel, sizeof(rel), "%s/%s", dir, file) >= (int)sizeof(rel))
        return false;
    if (sampler_read_file(s, rel, out) < 0)
        return false;
    const char *d = s->file.data;
    size_t n = strcspn(d, "\n");
    if (n == 3 && strncmp(d, "max", 3) == 0) {
        *ret = CG_UNLIMITED;
        return true;
    }
    if (!parse_u64_strict(d, n, ret) || *ret > SAMPLE_MAX_VALUE) {
        sample_note(out, file, "malformed");
        return false;
    }
    return true;
}

static void read_cg_cpu(struct sampler *s, struct sample *out, const char *dir)
{
    struct sample_cgroup *cg = &out->cgroup;
    char rel[PATH_MAX];
    if (snprintf(rel, sizeof(rel), "%s/cpu.max", dir) < (int)sizeof(rel) &&
        sampler_read_file(s, rel, out) >= 0) {
        char *cur = s->file.data;
        char *line = next_line(&cur);
        char *tok[3];
        size_t n = line ? split_ws(line, tok, 3) : 0;
        uint64_t q = 0, p = 0;
        if (n == 2 && (strcmp(tok[0], "max") == 0 || tok_u64(tok[0], &q)) && tok_u64(tok[1], &p)) {
            cg->cpu_quota_us = strcmp(tok[0], "max") == 0 ? CG_UNLIMITED : q;
            cg->cpu_period_us = p;
            cg->has_cpu_max = true;
        } else {
            sample_note(out, "cpu.max", "malformed");
        }
    }
    if (snprintf(rel, sizeof(rel), "%s/cpu.stat", dir) < (int)sizeof(rel) &&
        sampler_read_file(s, rel, out) >= 0) {
        static const char *const keys[] = {"usage_usec", "user_usec",    "system_usec",
                                           "nr_periods", "nr_throttled", "throttled_usec"};
        uint64_t *dst[] = {&cg->cpu_usage_us, &cg->cpu_user_us,  &cg->cpu_system_us,
                           &cg->nr_periods,   &cg->nr_throttled, &cg->throttled_us};
        unsigned bad = 0;
        char *cur = s->file.data, *line;
        while ((line = next_line(&cur))) {
            char *tok[3];
            size_t n = split_ws(line, tok, 3);
            if (n == 0)
                continue;
            uint64_t v;
            if (n != 2 || !tok_u64(tok[1], &v)) {
                bad++;
                continue;
            }
            for (size_t i = 0; i < 6; i++)
                if (strcmp(tok[0], keys[i]) == 0)
                    *dst[i] = v;
            if (strcmp(tok[0], "usage_usec") == 0)
                cg->has_cpu_stat = true;
        }
        if (bad)
            sample_note(out, "cpu.stat", "%u malformed lines", bad);
    }
}

static void read_cg_io(struct sampler *s, struct sample *out, const char *dir)
{
    char rel[PATH_MAX];
    if (snprintf(rel, sizeof(rel), "%s/io.stat", dir) >= (int)sizeof(rel) ||
        sampler_read_file(s, rel, out) < 0)
        return;
    struct sample_cgroup *cg = &out->cgroup;
    unsigned bad = 0, over = 0;
    char *cur = s->file.data, *line;
    while ((line = next_line(&cur))) {
        char *tok[16];
        size_t n = split_ws(line, tok, 16);
        if (n == 0)
            continue;
        if (n > 16 || !strchr(tok[0], ':') || strlen(tok[0]) >= sizeof(cg->io[0].device)) {
            bad++;
            continue;
        }
        struct sample_cg_io io = {0};
        copy_name(io.device, sizeof(io.device), tok[0]);
        bool ok = true;
        for (size_t i = 1; i < n && ok; i++) {
            char *eq = strchr(tok[i], '=');
            if (!eq) {
                ok = false;
                break;
            }
            *eq = '\0';
            uint64_t v;
            if (!tok_u64(eq + 1, &v)) {
                ok = false;
                break;
            }
            if (strcmp(tok[i], "rbytes") == 0)
                io.rbytes = v;
            else if (strcmp(tok[i], "wbytes") == 0)
                io.wbytes = v;
            else if (strcmp(tok[i], "rios") == 0)
                io.rios = v;
            else if (strcmp(tok[i], "wios") == 0)
                io.wios = v;
        }
        if (!ok) {
            bad++;
            continue;
        }
        if (cg->n_io >= SAMPLE_MAX_CG_IO) {
            over++;
            continue;
        }
        cg->io[cg->n_io++] = io;
    }
    if (bad)
        sample_note(out, "io.stat", "%u malformed lines", bad);
    if (over)
        sample_note(out, "io.stat", "%u devices past the limit of %d", over, SAMPLE_MAX_CG_IO);
}

static bool exists(struct sampler *s, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    return join_path(s, rel, path, sizeof(path)) && lstat(path, &st) == 0;
}

/* The real root cgroup has neither file; every other cgroup with the
 * controller enabled has. */
static bool has_limit_files(struct sampler *s, const char *dir)
{
    char probe[PATH_MAX + 16];
    snprintf(probe, sizeof(probe), "%s/memory.max", dir);
    if (exists(s, probe))
        return true;
    snprintf(probe, sizeof(probe), "%s/cpu.max", dir);
    return exists(s, probe);
}

/*
 * The cgroup block describes a container's own limits.  On a VM or physical
 * server the agent's cgroup is just its service unit, whose limits say
 * nothing about the machine, so the block is only emitted when the agent
 * runs in a container: a container manager left its marker file, or the
 * agent sits at the root of a cgroup namespace that has limits (the real
 * root cgroup has no memory.max or cpu.max).
 */
void read_cgroup(struct sampler *s, struct sample *out)
{
    struct sample_cgroup *cg = &out->cgroup;
    if (sampler_read_file(s, "/proc/self/cgroup", out) < 0)
        return;
    char cgpath[SAMPLE_PATH_MAX] = "";
    bool found = false;
    char *cur = s->file.data, *line;
    while ((line = next_line(&cur))) {
        if (strncmp(line, "0::", 3) == 0) {
            if (strlen(line + 3) >= sizeof(cgpath) || line[3] != '/' || strstr(line + 3, "/..")) {
                sample_note(out, "/proc/self/cgroup", "unusable cgroup v2 path");
                return;
            }
            copy_name(cgpath, sizeof(cgpath), line + 3);
            found = true;
            break;
        }
    }
    if (!found)
        return; /* cgroup v1 only: not supported */

    /* Find where cgroup2 is mounted (/sys/fs/cgroup, or .../unified on
     * hybrid systems) and which subtree the mount shows. */
    if (sampler_read_file(s, "/proc/self/mountinfo", out) < 0)
        return;
    char mnt[SAMPLE_PATH_MAX] = "", mroot[SAMPLE_PATH_MAX] = "";
    cur = s->file.data;
    while ((line = next_line(&cur))) {
        struct mount_entry m;
        if (parse_mountinfo_line(line, &m) && strcmp(m.fstype, "cgroup2") == 0 &&
            strlen(m.mountpoint) < sizeof(mnt) && strlen(m.root) < sizeof(mroot)) {
            copy_name(mnt, sizeof(mnt), m.mountpoint);
            copy_name(mroot, sizeof(mroot), m.root);
            break;
        }
    }
    if (!mnt[0])
        return;
    bool marker = s->in_container || exists(s, "/run/.containerenv") || exists(s, "/.dockerenv") ||
                  exists(s, "/run/systemd/container");
    const char *rel = cgpath;
    size_t rl = strlen(mroot);
    bool under_mount = strcmp(mroot, "/") == 0 || (strncmp(cgpath, mroot, rl) == 0 &&
                                                   (cgpath[rl] == '/' || cgpath[rl] == '\0'));
    if (strcmp(mroot, "/") != 0 && under_mount)
        rel = cgpath + rl;
    const char *mdir = strcmp(mnt, "/") == 0 ? "" : mnt;
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s%s", mdir, strcmp(rel, "/") == 0 ? "" : rel) >=
        (int)sizeof(dir))
        return;
    bool has_limits_file = has_limit_files(s, dir);
    /* In a container the block describes the whole container: the root of
     * the cgroup2 mount it sees (its cgroup namespace's root, or a bind
     * mount of its own cgroup), not the leaf the agent sits in.  lxc-attach
     * puts processes into ".lxc" and systemd into a service unit, whose
     * limits are "max" while the container's are set above them.  A mount
     * root without limit files is the host's real root (no cgroup
     * namespace), which says nothing about the container: then the leaf. */
    if (marker && under_mount && strcmp(rel, "/") != 0 && has_limit_files(s, mdir)) {
        copy_name(dir, sizeof(dir), mdir);
        copy_name(cgpath, sizeof(cgpath), mroot);
        has_limits_file = true;
    }
    if (!marker && !(strcmp(cgpath, "/") == 0 && has_limits_file))
        return;

    cg->present = true;
    copy_name(cg->path, sizeof(cg->path), cgpath);
    cg->has_memory_max = read_cg_value(s, out, dir, "memory.max", &cg->memory_max);
    cg->has_memory_high = read_cg_value(s, out, dir, "memory.high", &cg->memory_high);
    cg->has_memory_current = read_cg_value(s, out, dir, "memory.current", &cg->memory_current);
    cg->has_swap_max = read_cg_value(s, out, dir, "memory.swap.max", &cg->swap_max);
    cg->has_swap_current = read_cg_value(s, out, dir, "memory.swap.current", &cg->swap_current);
    cg->has_pids = read_cg_value(s, out, dir, "pids.max", &cg->pids_max) &&
                   read_cg_value(s, out, dir, "pids.current", &cg->pids_current);
    read_cg_cpu(s, out, dir);
    read_cg_io(s, out, dir);
}

void sampler_read(struct sampler *s, struct sample *out)
{
    memset(out, 0, sizeof(*out));
    read_hostname(s, out);
    read_stat(s, out);
    read_meminfo(s, out);
    read_vmstat(s, out);
    read_pressure(s, out);
    read_loadavg(s, out);
    read_diskstats(s, out);
    read_netdev(s, out);
    read_filesystems(s, out);
    read_cgroup(s, out);
    /* A huge file grows the read buffer; give that memory back. */
    gbuf_trim(&s->file, 256 * 1024);
}
