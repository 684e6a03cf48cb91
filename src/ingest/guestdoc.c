/*
 * guestdoc: table-driven validation of kanri-guestd documents.
 *
 * Each JSON object is described by a `struct schema`, an array of expected
 * fields saying where the value goes (an offset from the object's base in
 * the C struct), its kind, whether it is required, and its range.  One walker
 * validates and fills the struct, another frees it, a third dumps it, so the
 * three never disagree about the format.
 */
#include "ingest/guestdoc.h"

#include "basic/json.h"

#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

GQuark guestdoc_error_quark(void)
{
    return g_quark_from_static_string("guestdoc-error-quark");
}

enum kind {
    K_U64,
    K_DOUBLE,
    K_STRING,
    K_BOOL,
    K_UUID,
    K_ID_SOURCE,
    K_OBJECT,
    K_ARRAY,
    K_DOUBLE3,
};

#define REQ      0x1u /* the member must be present */
#define NULLABLE 0x2u /* null is allowed and means GUESTDOC_UNLIMITED */
#define NO_OFF   SIZE_MAX

struct schema;

struct field {
    const char *name;
    enum kind kind;
    unsigned flags;
    size_t off;               /* value (or sub-object base) offset from the object's base */
    size_t has_off;           /* K_OBJECT: offset of its bool present flag, or NO_OFF */
    size_t count_off;         /* K_ARRAY: offset of its size_t count */
    uint64_t min, max;        /* K_U64: range; K_STRING: max bytes; K_ARRAY: max elements */
    double dmin, dmax;        /* K_DOUBLE, K_DOUBLE3 */
    const struct schema *sub; /* K_OBJECT, K_ARRAY */
};

struct schema {
    const struct field *fields;
    size_t n_fields;
    size_t elem_size; /* K_ARRAY element size */
};

#define SCHEMA(arr, size)                                                                          \
    {                                                                                              \
        arr, G_N_ELEMENTS(arr), size                                                               \
    }

#define U64(json, T, m, fl)                                                                        \
    {                                                                                              \
        .name = json, .kind = K_U64, .flags = fl, .off = offsetof(T, m), .has_off = NO_OFF,        \
        .min = 0, .max = GUESTDOC_MAX_VALUE                                                        \
    }
#define U64R(json, T, m, fl, lo, hi)                                                               \
    {                                                                                              \
        .name = json, .kind = K_U64, .flags = fl, .off = offsetof(T, m), .has_off = NO_OFF,        \
        .min = lo, .max = hi                                                                       \
    }
#define DBL(json, T, m, fl, lo, hi)                                                                \
    {                                                                                              \
        .name = json, .kind = K_DOUBLE, .flags = fl, .off = offsetof(T, m), .has_off = NO_OFF,     \
        .dmin = lo, .dmax = hi                                                                     \
    }
#define STR(json, T, m, fl, maxlen)                                                                \
    {                                                                                              \
        .name = json, .kind = K_STRING, .flags = fl, .off = offsetof(T, m), .has_off = NO_OFF,     \
        .max = maxlen                                                                              \
    }
#define BOOL(json, T, m, fl)                                                                       \
    {                                                                                              \
        .name = json, .kind = K_BOOL, .flags = fl, .off = offsetof(T, m), .has_off = NO_OFF        \
    }
/* An object whose members are described relative to base + off. */
#define OBJ(json, T, m_off, has, fl, sch)                                                          \
    {                                                                                              \
        .name = json, .kind = K_OBJECT, .flags = fl, .off = m_off, .has_off = has, .sub = &sch     \
    }
#define ARR(json, T, m, n, fl, maxn, sch)                                                          \
    {                                                                                              \
        .name = json, .kind = K_ARRAY, .flags = fl, .off = offsetof(T, m), .has_off = NO_OFF,      \
        .count_off = offsetof(T, n), .max = maxn, .sub = &sch                                      \
    }

#define MAX_NAME 255
#define MAX_PATH 4096
#define MAX_TEXT 1024

/* --- the format (docs/guest-agent.md) --- */

#define CPU_TIMES(T, pfx)                                                                          \
    U64("user", T, pfx user, REQ), U64("nice", T, pfx nice, REQ),                                  \
        U64("system", T, pfx system, REQ), U64("idle", T, pfx idle, REQ),                          \
        U64("iowait", T, pfx iowait, REQ), U64("irq", T, pfx irq, REQ),                            \
        U64("softirq", T, pfx softirq, REQ), U64("steal", T, pfx steal, REQ),                      \
        U64("guest", T, pfx guest, REQ), U64("guest_nice", T, pfx guest_nice, REQ)

static const struct field cpu_times_fields[] = {CPU_TIMES(struct guestdoc_cpu_times, )};
static const struct schema cpu_times_schema = SCHEMA(cpu_times_fields, 0);

static const struct field per_cpu_fields[] = {
    U64R("cpu", struct guestdoc_cpu, cpu, REQ, 0, 1u << 20),
    CPU_TIMES(struct guestdoc_cpu, t.),
};
static const struct schema per_cpu_schema = SCHEMA(per_cpu_fields, sizeof(struct guestdoc_cpu));

#define D struct guestdoc

static const struct field cpu_fields[] = {
    U64R("count", D, cpu.count, REQ, 1, GUESTDOC_MAX_CPUS),
    OBJ("total", D, offsetof(D, cpu.total), NO_OFF, REQ, cpu_times_schema),
    ARR("per_cpu", D, cpu.per_cpu, cpu.n_per_cpu, REQ, GUESTDOC_MAX_CPUS, per_cpu_schema),
    U64("context_switches", D, cpu.context_switches, 0),
    U64("forks", D, cpu.forks, 0),
    U64("procs_running", D, cpu.procs_running, 0),
    U64("procs_blocked", D, cpu.procs_blocked, 0),
};
static const struct schema cpu_schema = SCHEMA(cpu_fields, 0);

static const struct field memory_fields[] = {
    U64("total_bytes", D, memory.total_bytes, REQ),
    U64("free_bytes", D, memory.free_bytes, 0),
    U64("available_bytes", D, memory.available_bytes, 0),
    U64("buffers_bytes", D, memory.buffers_bytes, 0),
    U64("cached_bytes", D, memory.cached_bytes, 0),
    U64("swap_cached_bytes", D, memory.swap_cached_bytes, 0),
    U64("active_bytes", D, memory.active_bytes, 0),
    U64("inactive_bytes", D, memory.inactive_bytes, 0),
    U64("swap_total_bytes", D, memory.swap_total_bytes, 0),
    U64("swap_free_bytes", D, memory.swap_free_bytes, 0),
    U64("dirty_bytes", D, memory.dirty_bytes, 0),
    U64("writeback_bytes", D, memory.writeback_bytes, 0),
    U64("anon_bytes", D, memory.anon_bytes, 0),
    U64("mapped_bytes", D, memory.mapped_bytes, 0),
    U64("shmem_bytes", D, memory.shmem_bytes, 0),
    U64("slab_reclaimable_bytes", D, memory.slab_reclaimable_bytes, 0),
    U64("slab_unreclaimable_bytes", D, memory.slab_unreclaimable_bytes, 0),
    U64("committed_bytes", D, memory.committed_bytes, 0),
    U64("hugepages_total", D, memory.hugepages_total, 0),
    U64("hugepages_free", D, memory.hugepages_free, 0),
    U64("hugepage_size_bytes", D, memory.hugepage_size_bytes, 0),
};
static const struct schema memory_schema = SCHEMA(memory_fields, 0);

static const struct field vmstat_fields[] = {
    U64("pswpin", D, vmstat.pswpin, 0),     U64("pswpout", D, vmstat.pswpout, 0),
    U64("pgpgin", D, vmstat.pgpgin, 0),     U64("pgpgout", D, vmstat.pgpgout, 0),
    U64("pgfault", D, vmstat.pgfault, 0),   U64("pgmajfault", D, vmstat.pgmajfault, 0),
    U64("oom_kill", D, vmstat.oom_kill, 0),
};
static const struct schema vmstat_schema = SCHEMA(vmstat_fields, 0);

#define PL struct guestdoc_psi_line
static const struct field psi_line_fields[] = {
    DBL("avg10", PL, avg10, REQ, 0, 100),
    DBL("avg60", PL, avg60, REQ, 0, 100),
    DBL("avg300", PL, avg300, REQ, 0, 100),
    U64("total_us", PL, total_us, REQ),
};
static const struct schema psi_line_schema = SCHEMA(psi_line_fields, 0);

#define PS struct guestdoc_psi
static const struct field psi_fields[] = {
    OBJ("some", PS, offsetof(PS, some), offsetof(PS, some.present), REQ, psi_line_schema),
    OBJ("full", PS, offsetof(PS, full), offsetof(PS, full.present), 0, psi_line_schema),
};
static const struct schema psi_schema = SCHEMA(psi_fields, 0);

static const struct field pressure_fields[] = {
    OBJ("cpu", D, offsetof(D, pressure.cpu), offsetof(D, pressure.cpu.present), 0, psi_schema),
    OBJ("memory", D, offsetof(D, pressure.memory), offsetof(D, pressure.memory.present), 0,
        psi_schema),
    OBJ("io", D, offsetof(D, pressure.io), offsetof(D, pressure.io.present), 0, psi_schema),
};
static const struct schema pressure_schema = SCHEMA(pressure_fields, 0);

static const struct field tasks_fields[] = {
    U64("runnable", D, tasks.runnable, REQ),
    U64("total", D, tasks.total, REQ),
};
static const struct schema tasks_schema = SCHEMA(tasks_fields, 0);

#define DK struct guestdoc_disk
static const struct field disk_fields[] = {
    STR("name", DK, name, REQ, MAX_NAME),
    U64("reads", DK, reads, REQ),
    U64("reads_merged", DK, reads_merged, 0),
    U64("read_sectors", DK, read_sectors, REQ),
    U64("read_ms", DK, read_ms, 0),
    U64("writes", DK, writes, REQ),
    U64("writes_merged", DK, writes_merged, 0),
    U64("write_sectors", DK, write_sectors, REQ),
    U64("write_ms", DK, write_ms, 0),
    U64("in_flight", DK, in_flight, 0),
    U64("io_ms", DK, io_ms, REQ),
    U64("weighted_io_ms", DK, weighted_io_ms, 0),
};
static const struct schema disk_schema = SCHEMA(disk_fields, sizeof(struct guestdoc_disk));

#define NC struct guestdoc_nic
static const struct field nic_fields[] = {
    STR("name", NC, name, REQ, MAX_NAME),   U64("rx_bytes", NC, rx_bytes, REQ),
    U64("rx_packets", NC, rx_packets, REQ), U64("rx_errs", NC, rx_errs, REQ),
    U64("rx_drop", NC, rx_drop, REQ),       U64("tx_bytes", NC, tx_bytes, REQ),
    U64("tx_packets", NC, tx_packets, REQ), U64("tx_errs", NC, tx_errs, REQ),
    U64("tx_drop", NC, tx_drop, REQ),
};
static const struct schema nic_schema = SCHEMA(nic_fields, sizeof(struct guestdoc_nic));

#define FS struct guestdoc_fs
static const struct field fs_fields[] = {
    STR("mountpoint", FS, mountpoint, REQ, MAX_PATH), STR("fstype", FS, fstype, REQ, MAX_NAME),
    STR("device", FS, device, REQ, MAX_PATH),         BOOL("readonly", FS, readonly, 0),
    U64("total_bytes", FS, total_bytes, REQ),         U64("free_bytes", FS, free_bytes, REQ),
    U64("avail_bytes", FS, avail_bytes, REQ),         U64("files", FS, files, REQ),
    U64("files_free", FS, files_free, REQ),
};
static const struct schema fs_schema = SCHEMA(fs_fields, sizeof(struct guestdoc_fs));

#define CI struct guestdoc_cgroup_io
static const struct field cgroup_io_fields[] = {
    STR("device", CI, device, REQ, 32), U64("rbytes", CI, rbytes, REQ),
    U64("wbytes", CI, wbytes, REQ),     U64("rios", CI, rios, REQ),
    U64("wios", CI, wios, REQ),
};
static const struct schema cgroup_io_schema =
    SCHEMA(cgroup_io_fields, sizeof(struct guestdoc_cgroup_io));

static const struct field cgroup_fields[] = {
    STR("path", D, cgroup.path, REQ, MAX_PATH),
    U64("memory_max_bytes", D, cgroup.memory_max_bytes, NULLABLE),
    U64("memory_high_bytes", D, cgroup.memory_high_bytes, NULLABLE),
    U64("memory_current_bytes", D, cgroup.memory_current_bytes, 0),
    U64("swap_max_bytes", D, cgroup.swap_max_bytes, NULLABLE),
    U64("swap_current_bytes", D, cgroup.swap_current_bytes, 0),
    U64("cpu_quota_us", D, cgroup.cpu_quota_us, NULLABLE),
    U64("cpu_period_us", D, cgroup.cpu_period_us, 0),
    U64("cpu_usage_us", D, cgroup.cpu_usage_us, 0),
    U64("cpu_user_us", D, cgroup.cpu_user_us, 0),
    U64("cpu_system_us", D, cgroup.cpu_system_us, 0),
    U64("nr_periods", D, cgroup.nr_periods, 0),
    U64("nr_throttled", D, cgroup.nr_throttled, 0),
    U64("throttled_us", D, cgroup.throttled_us, 0),
    U64("pids_current", D, cgroup.pids_current, 0),
    U64("pids_max", D, cgroup.pids_max, NULLABLE),
    ARR("io", D, cgroup.io, cgroup.n_io, 0, GUESTDOC_MAX_CGROUP_IO, cgroup_io_schema),
};
static const struct schema cgroup_schema = SCHEMA(cgroup_fields, 0);

#define NT struct guestdoc_note
static const struct field note_fields[] = {
    STR("source", NT, source, REQ, MAX_TEXT),
    STR("reason", NT, reason, REQ, MAX_TEXT),
};
static const struct schema note_schema = SCHEMA(note_fields, sizeof(struct guestdoc_note));

static const struct field agent_fields[] = {
    STR("name", D, agent.name, REQ, MAX_NAME),
    STR("version", D, agent.version, REQ, MAX_NAME),
};
static const struct schema agent_schema = SCHEMA(agent_fields, 0);

static const struct field spool_fields[] = {
    U64("backlog", D, spool.backlog, REQ),
    U64("dropped", D, spool.dropped, REQ),
};
static const struct schema spool_schema = SCHEMA(spool_fields, 0);

static const struct field doc_fields[] = {
    U64R("schema", D, schema, REQ, GUESTDOC_SCHEMA, GUESTDOC_SCHEMA),
    OBJ("agent", D, 0, NO_OFF, REQ, agent_schema),
    {.name = "machine_id",
     .kind = K_UUID,
     .flags = REQ,
     .off = offsetof(D, machine_id),
     .has_off = NO_OFF},
    {.name = "id_source",
     .kind = K_ID_SOURCE,
     .flags = REQ,
     .off = offsetof(D, id_source),
     .has_off = NO_OFF},
    STR("hostname", D, hostname, REQ, MAX_NAME),
    U64("seq", D, seq, REQ),
    /* 2001-09-09 .. 2100-01-01: anything else is a broken clock. */
    DBL("time", D, time, REQ, 1e9, 4102444800.0),
    U64R("interval", D, interval, REQ, 1, 86400),
    U64("boot_time", D, boot_time, 0),
    OBJ("cpu", D, 0, offsetof(D, has_cpu), 0, cpu_schema),
    OBJ("memory", D, 0, offsetof(D, has_memory), 0, memory_schema),
    OBJ("vmstat", D, 0, offsetof(D, has_vmstat), 0, vmstat_schema),
    OBJ("pressure", D, 0, offsetof(D, has_pressure), 0, pressure_schema),
    {.name = "load",
     .kind = K_DOUBLE3,
     .off = offsetof(D, load),
     .has_off = offsetof(D, has_load),
     .dmin = 0,
     .dmax = 1e9},
    OBJ("tasks", D, 0, offsetof(D, has_tasks), 0, tasks_schema),
    ARR("disks", D, disks, n_disks, 0, GUESTDOC_MAX_DISKS, disk_schema),
    ARR("nics", D, nics, n_nics, 0, GUESTDOC_MAX_NICS, nic_schema),
    ARR("filesystems", D, filesystems, n_filesystems, 0, GUESTDOC_MAX_FILESYSTEMS, fs_schema),
    OBJ("cgroup", D, 0, offsetof(D, has_cgroup), 0, cgroup_schema),
    ARR("skipped", D, skipped, n_skipped, 0, GUESTDOC_MAX_SKIPPED, note_schema),
    OBJ("spool", D, 0, NO_OFF, REQ, spool_schema),
};
static const struct schema doc_schema = SCHEMA(doc_fields, 0);

/* --- walkers --- */

#define AT(base, off, type) ((type *)((char *)(base) + (off)))

static const char *const id_sources[] = {
    [GUESTDOC_ID_SMBIOS] = "smbios",
    [GUESTDOC_ID_GENERATED] = "generated",
    [GUESTDOC_ID_CONTAINER] = "container",
};

const char *guestdoc_id_source_name(enum guestdoc_id_source s)
{
    return (size_t)s < G_N_ELEMENTS(id_sources) ? id_sources[s] : "?";
}

static bool fail(GError **error, const GString *path, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool fail(GError **error, const GString *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, GUESTDOC_ERROR, GUESTDOC_ERROR_INVALID, "%s: %s",
                path->len ? path->str : "(document)", msg);
    return false;
}

static bool is_lower_uuid(const char *s, size_t n)
{
    /* GLib checks the 8-4-4-4-12 form; machine ids are compared as text, so
     * the case is fixed too. */
    return n == 36 && g_uuid_string_is_valid(s) && !strpbrk(s, "ABCDEF");
}

/* Returns the string of a JSON string value after the checks every string
 * gets: bounded, no NUL (a "\u0000" escape), valid UTF-8 (escapes can spell
 * lone surrogates even when the body itself is valid), no control
 * characters (C0, DEL, C1). */
static const char *get_string(json_object *v, size_t max, const GString *path, GError **error)
{
    if (!json_object_is_type(v, json_type_string)) {
        fail(error, path, "expected a string");
        return NULL;
    }
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (n > max) {
        fail(error, path, "string too long (%zu bytes, at most %zu)", n, max);
        return NULL;
    }
    if (memchr(s, '\0', n)) {
        fail(error, path, "string contains a NUL character");
        return NULL;
    }
    if (!g_utf8_validate_len(s, n, NULL)) {
        fail(error, path, "string is not valid UTF-8");
        return NULL;
    }
    /* Names end up in terminals, logs and the UI: no escape sequences. */
    for (const char *p = s; p < s + n; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_iscntrl(c)) {
            fail(error, path, "string contains a control character (U+%04X)", (unsigned)c);
            return NULL;
        }
    }
    return s;
}

static bool get_number(json_object *v, double lo, double hi, double *ret, const GString *path,
                       GError **error)
{
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return fail(error, path, "expected a number");
    double d = json_object_get_double(v);
    if (!isfinite(d))
        return fail(error, path, "expected a finite number");
    if (d < lo || d > hi)
        return fail(error, path, "number out of range (%.17g..%.17g)", lo, hi);
    *ret = d;
    return true;
}

static void set_defaults(const struct field *f, void *base)
{
    switch (f->kind) {
    case K_U64:
        *AT(base, f->off, uint64_t) = GUESTDOC_ABSENT;
        break;
    case K_DOUBLE:
        *AT(base, f->off, double) = NAN;
        break;
    case K_OBJECT: {
        /* Optional numbers inside an absent object read as ABSENT too. */
        void *sub = AT(base, f->off, char);
        for (size_t i = 0; i < f->sub->n_fields; i++)
            set_defaults(&f->sub->fields[i], sub);
        break;
    }
    default:
        break; /* zeroed memory is the right default */
    }
}

static bool parse_object(json_object *obj, const struct schema *s, void *base, GString *path,
                         GError **error);

static bool parse_field(const struct field *f, json_object *v, void *base, GString *path,
                        GError **error)
{
    switch (f->kind) {
    case K_U64: {
        uint64_t *dst = AT(base, f->off, uint64_t);
        if (!v && (f->flags & NULLABLE)) {
            *dst = GUESTDOC_UNLIMITED;
            return true;
        }
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
            return fail(error, path, "expected a non-negative integer%s",
                        (f->flags & NULLABLE) ? " or null" : "");
        uint64_t u = json_object_get_uint64(v);
        if (u < f->min || u > f->max) {
            if (f->min == f->max)
                return fail(error, path, "expected %" G_GUINT64_FORMAT, f->min);
            return fail(error, path, "out of range (%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ")",
                        f->min, f->max);
        }
        *dst = u;
        return true;
    }
    case K_DOUBLE:
        return get_number(v, f->dmin, f->dmax, AT(base, f->off, double), path, error);
    case K_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return fail(error, path, "expected true or false");
        *AT(base, f->off, bool) = json_object_get_boolean(v);
        return true;
    case K_STRING: {
        const char *str = get_string(v, f->max, path, error);
        if (!str)
            return false;
        *AT(base, f->off, char *) = g_strdup(str);
        return true;
    }
    case K_UUID: {
        const char *str = get_string(v, 64, path, error);
        if (!str)
            return false;
        if (!is_lower_uuid(str, strlen(str)))
            return fail(error, path, "expected a lower-case UUID (8-4-4-4-12 hex digits)");
        *AT(base, f->off, char *) = g_strdup(str);
        return true;
    }
    case K_ID_SOURCE: {
        const char *str = get_string(v, 64, path, error);
        if (!str)
            return false;
        for (size_t i = 0; i < G_N_ELEMENTS(id_sources); i++) {
            if (strcmp(str, id_sources[i]) == 0) {
                *AT(base, f->off, enum guestdoc_id_source) = (enum guestdoc_id_source)i;
                return true;
            }
        }
        return fail(error, path, "expected \"smbios\", \"generated\" or \"container\"");
    }
    case K_OBJECT:
        if (f->has_off != NO_OFF)
            *AT(base, f->has_off, bool) = true;
        return parse_object(v, f->sub, AT(base, f->off, char), path, error);
    case K_DOUBLE3: {
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != 3)
            return fail(error, path, "expected an array of 3 numbers");
        double *dst = AT(base, f->off, double);
        for (size_t i = 0; i < 3; i++) {
            gsize len = path->len;
            g_string_append_printf(path, "[%zu]", i);
            bool ok =
                get_number(json_object_array_get_idx(v, i), f->dmin, f->dmax, &dst[i], path, error);
            g_string_truncate(path, len);
            if (!ok)
                return false;
        }
        if (f->has_off != NO_OFF)
            *AT(base, f->has_off, bool) = true;
        return true;
    }
    case K_ARRAY: {
        if (!json_object_is_type(v, json_type_array))
            return fail(error, path, "expected an array");
        size_t n = json_object_array_length(v);
        if (n > f->max)
            return fail(error, path, "too many elements (%zu, at most %" G_GUINT64_FORMAT ")", n,
                        f->max);
        char *elems = n ? g_malloc0_n(n, f->sub->elem_size) : NULL;
        /* Owned by the document from here, so a failure half-way frees it. */
        *AT(base, f->off, void *) = elems;
        *AT(base, f->count_off, size_t) = n;
        for (size_t i = 0; i < n; i++) {
            gsize len = path->len;
            g_string_append_printf(path, "[%zu]", i);
            bool ok = parse_object(json_object_array_get_idx(v, i), f->sub,
                                   elems + i * f->sub->elem_size, path, error);
            g_string_truncate(path, len);
            if (!ok)
                return false;
        }
        return true;
    }
    }
    return fail(error, path, "internal error: unknown field kind");
}

static bool parse_object(json_object *obj, const struct schema *s, void *base, GString *path,
                         GError **error)
{
    if (!json_object_is_type(obj, json_type_object))
        return fail(error, path, "expected an object");
    for (size_t i = 0; i < s->n_fields; i++) {
        const struct field *f = &s->fields[i];
        json_object *v = NULL;
        bool present = json_object_object_get_ex(obj, f->name, &v);
        gsize len = path->len;
        if (len)
            g_string_append_c(path, '.');
        g_string_append(path, f->name);
        bool ok = true;
        if (!present) {
            if (f->flags & REQ)
                ok = fail(error, path, "required field missing");
            else
                set_defaults(f, base);
        } else if (!v && !(f->flags & NULLABLE)) {
            ok = fail(error, path, "must not be null");
        } else {
            ok = parse_field(f, v, base, path, error);
        }
        g_string_truncate(path, len);
        if (!ok)
            return false;
    }
    return true;
}

static void free_object(const struct schema *s, void *base)
{
    for (size_t i = 0; i < s->n_fields; i++) {
        const struct field *f = &s->fields[i];
        switch (f->kind) {
        case K_STRING:
        case K_UUID:
            g_free(*AT(base, f->off, char *));
            break;
        case K_OBJECT:
            free_object(f->sub, AT(base, f->off, char));
            break;
        case K_ARRAY: {
            char *elems = *AT(base, f->off, char *);
            size_t n = *AT(base, f->count_off, size_t);
            for (size_t j = 0; elems && j < n; j++)
                free_object(f->sub, elems + j * f->sub->elem_size);
            g_free(elems);
            break;
        }
        default:
            break;
        }
    }
}

void guestdoc_free(struct guestdoc *doc)
{
    if (!doc)
        return;
    free_object(&doc_schema, doc);
    g_free(doc);
}

static bool check_consistency(const struct guestdoc *doc, GError **error)
{
    if (doc->has_cpu && doc->cpu.n_per_cpu != doc->cpu.count) {
        g_set_error(error, GUESTDOC_ERROR, GUESTDOC_ERROR_INVALID,
                    "cpu.per_cpu: %zu entries but cpu.count is %" G_GUINT64_FORMAT,
                    doc->cpu.n_per_cpu, doc->cpu.count);
        return false;
    }
    return true;
}

struct guestdoc *guestdoc_parse(const char *body, size_t len, GError **error)
{
    static const struct json_limits lim = {.max_bytes = GUESTDOC_MAX_BYTES,
                                           .max_depth = GUESTDOC_MAX_DEPTH};
    g_return_val_if_fail(body != NULL || len == 0, NULL);
    if (len == 0) {
        g_set_error(error, GUESTDOC_ERROR, GUESTDOC_ERROR_SYNTAX, "empty document");
        return NULL;
    }
    g_autoptr(GError) jerr = NULL;
    json_object *root = NULL;
    if (!json_parse_strict(body, len, &lim, &root, &jerr)) {
        if (g_error_matches(jerr, JSON_ERROR, JSON_ERROR_TOO_LARGE))
            g_set_error(error, GUESTDOC_ERROR, GUESTDOC_ERROR_TOO_LARGE,
                        "document too large (%zu bytes, at most %d)", len, GUESTDOC_MAX_BYTES);
        else
            g_set_error_literal(error, GUESTDOC_ERROR,
                                g_error_matches(jerr, JSON_ERROR, JSON_ERROR_ENCODING)
                                    ? GUESTDOC_ERROR_ENCODING
                                    : GUESTDOC_ERROR_SYNTAX,
                                jerr->message);
        return NULL;
    }
    g_autoptr(guestdoc) doc = g_new0(struct guestdoc, 1);
    g_autoptr(GString) path = g_string_new(NULL);
    bool ok = parse_object(root, &doc_schema, doc, path, error) && check_consistency(doc, error);
    json_object_put(root);
    return ok ? g_steal_pointer(&doc) : NULL;
}

/* --- dump --- */

static void dump_string(GString *out, const char *s)
{
    if (!s) {
        g_string_append(out, "(null)");
        return;
    }
    g_autofree char *esc = g_strescape(s, NULL);
    g_string_append_printf(out, "\"%s\"", esc);
}

static void dump_object(GString *out, const struct schema *s, const void *base, GString *path)
{
    for (size_t i = 0; i < s->n_fields; i++) {
        const struct field *f = &s->fields[i];
        gsize len = path->len;
        if (len)
            g_string_append_c(path, '.');
        g_string_append(path, f->name);
        switch (f->kind) {
        case K_U64: {
            uint64_t v = *AT(base, f->off, const uint64_t);
            if (v == GUESTDOC_UNLIMITED && (f->flags & NULLABLE))
                g_string_append_printf(out, "%s = unlimited\n", path->str);
            else if (v != GUESTDOC_ABSENT)
                g_string_append_printf(out, "%s = %" G_GUINT64_FORMAT "\n", path->str, v);
            break;
        }
        case K_DOUBLE: {
            double v = *AT(base, f->off, const double);
            if (!isnan(v))
                g_string_append_printf(out, "%s = %.6f\n", path->str, v);
            break;
        }
        case K_BOOL:
            g_string_append_printf(out, "%s = %s\n", path->str,
                                   *AT(base, f->off, const bool) ? "true" : "false");
            break;
        case K_STRING:
        case K_UUID:
            g_string_append_printf(out, "%s = ", path->str);
            dump_string(out, *AT(base, f->off, char *const));
            g_string_append_c(out, '\n');
            break;
        case K_ID_SOURCE:
            g_string_append_printf(
                out, "%s = %s\n", path->str,
                guestdoc_id_source_name(*AT(base, f->off, const enum guestdoc_id_source)));
            break;
        case K_OBJECT:
            if (f->has_off == NO_OFF || *AT(base, f->has_off, const bool))
                dump_object(out, f->sub, AT(base, f->off, const char), path);
            break;
        case K_DOUBLE3:
            if (f->has_off == NO_OFF || *AT(base, f->has_off, const bool)) {
                const double *d = AT(base, f->off, const double);
                g_string_append_printf(out, "%s = [%.2f, %.2f, %.2f]\n", path->str, d[0], d[1],
                                       d[2]);
            }
            break;
        case K_ARRAY: {
            const char *elems = *AT(base, f->off, char *const);
            size_t n = *AT(base, f->count_off, const size_t);
            g_string_append_printf(out, "%s: %zu\n", path->str, n);
            for (size_t j = 0; j < n; j++) {
                gsize l2 = path->len;
                g_string_append_printf(path, "[%zu]", j);
                dump_object(out, f->sub, elems + j * f->sub->elem_size, path);
                g_string_truncate(path, l2);
            }
            break;
        }
        }
        g_string_truncate(path, len);
    }
}

char *guestdoc_to_text(const struct guestdoc *doc)
{
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GString) path = g_string_new(NULL);
    dump_object(out, &doc_schema, doc, path);
    return g_string_free(g_steal_pointer(&out), FALSE);
}
