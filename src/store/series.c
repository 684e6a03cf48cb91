/*
 * Metric tables and the pure arithmetic of sample history (series.h).
 */
#include "config.h"

#include "store/series.h"

#include "basic/json.h"

#include <math.h>
#include <string.h>

#define M(st, field, ctr, unit, prom, scale, help)                                                 \
    {                                                                                              \
#field, ctr, unit, offsetof(struct st, field), prom, scale, help                           \
    }
#define NS 1e-9

#define MS(st, field, unit, prom, scale, help, served)                                             \
    {                                                                                              \
#field, false, unit, offsetof(struct st, field), prom, scale, help, served                 \
    }

static const struct series_metric vm_host_metrics[] = {
    M(host_sample, cpu_time_ns, true, "ns", "cpu_seconds_total", NS,
      "CPU time of the domain (QEMU process: vCPUs and emulator)"),
    M(host_sample, cpu_user_ns, true, "ns", NULL, NS, "CPU time in user mode"),
    M(host_sample, cpu_system_ns, true, "ns", NULL, NS, "CPU time in kernel mode"),
    M(host_sample, vcpu_count, false, "count", "vcpus", 1, "Number of vCPUs"),
    M(host_sample, vcpu_time_ns, true, "ns", "vcpu_seconds_total", NS,
      "Time the vCPUs ran on a host CPU"),
    M(host_sample, vcpu_wait_ns, true, "ns", "vcpu_wait_seconds_total", NS,
      "Time the vCPUs waited for I/O (vcpu.N.wait)"),
    M(host_sample, vcpu_delay_ns, true, "ns", "vcpu_delay_seconds_total", NS,
      "Time the vCPUs were runnable but waited for a host CPU (vcpu.N.delay, steal)"),
    M(host_sample, balloon_current, false, "bytes", "balloon_current_bytes", 1,
      "Balloon size: memory the guest currently has"),
    M(host_sample, balloon_maximum, false, "bytes", "balloon_maximum_bytes", 1,
      "Maximum memory of the guest"),
    M(host_sample, balloon_rss, false, "bytes", "rss_bytes", 1,
      "Resident set size of the QEMU process on the host"),
    M(host_sample, block_count, false, "count", NULL, 1, "Number of block devices"),
    M(host_sample, block_rd_bytes, true, "bytes", "disk_read_bytes_total", 1, "Bytes read"),
    M(host_sample, block_wr_bytes, true, "bytes", "disk_written_bytes_total", 1, "Bytes written"),
    M(host_sample, block_rd_reqs, true, "count", "disk_reads_total", 1, "Read requests"),
    M(host_sample, block_wr_reqs, true, "count", "disk_writes_total", 1, "Write requests"),
    M(host_sample, block_allocation, false, "bytes", "disk_allocation_bytes", 1,
      "Host bytes allocated to the disks' images (highest written offset)"),
    M(host_sample, block_capacity, false, "bytes", "disk_capacity_bytes", 1,
      "Disk sizes as the guest sees them"),
    M(host_sample, block_physical, false, "bytes", "disk_physical_bytes", 1,
      "Host bytes the images occupy"),
    M(host_sample, net_count, false, "count", NULL, 1, "Number of interfaces"),
    M(host_sample, net_rx_bytes, true, "bytes", "net_receive_bytes_total", 1, "Bytes received"),
    M(host_sample, net_tx_bytes, true, "bytes", "net_transmit_bytes_total", 1, "Bytes transmitted"),
    M(host_sample, net_rx_pkts, true, "count", "net_receive_packets_total", 1, "Packets received"),
    M(host_sample, net_tx_pkts, true, "count", "net_transmit_packets_total", 1,
      "Packets transmitted"),
    M(host_sample, net_rx_drop, true, "count", NULL, 1, "Received packets dropped"),
    M(host_sample, net_tx_drop, true, "count", NULL, 1, "Transmitted packets dropped"),
    M(host_sample, net_rx_errs, true, "count", NULL, 1, "Receive errors"),
    M(host_sample, net_tx_errs, true, "count", NULL, 1, "Transmit errors"),
};

static const struct series_metric vm_guest_metrics[] = {
    M(guest_sample, cpu_count, false, "count", "cpus", 1, "CPUs the guest sees"),
    M(guest_sample, cpu_user_ns, true, "ns", "cpu_user_seconds_total", NS,
      "Guest CPU time in user mode, all CPUs"),
    M(guest_sample, cpu_nice_ns, true, "ns", "cpu_nice_seconds_total", NS, "Guest nice time"),
    M(guest_sample, cpu_system_ns, true, "ns", "cpu_system_seconds_total", NS,
      "Guest CPU time in kernel mode"),
    M(guest_sample, cpu_idle_ns, true, "ns", "cpu_idle_seconds_total", NS, "Guest idle time"),
    M(guest_sample, cpu_iowait_ns, true, "ns", "cpu_iowait_seconds_total", NS,
      "Guest I/O wait time"),
    M(guest_sample, cpu_irq_ns, true, "ns", NULL, NS, "Guest hard interrupt time"),
    M(guest_sample, cpu_softirq_ns, true, "ns", NULL, NS, "Guest soft interrupt time"),
    M(guest_sample, cpu_steal_ns, true, "ns", "cpu_steal_seconds_total", NS,
      "Steal time as the guest counts it"),
    M(guest_sample, mem_total, false, "bytes", "memory_total_bytes", 1, "Memory the guest OS has"),
    M(guest_sample, mem_free, false, "bytes", "memory_free_bytes", 1, "Memory unused"),
    M(guest_sample, mem_available, false, "bytes", "memory_available_bytes", 1,
      "Memory available for new work without swapping"),
    M(guest_sample, mem_cached, false, "bytes", "memory_cached_bytes", 1, "Page cache"),
    M(guest_sample, mem_buffers, false, "bytes", NULL, 1, "Buffers"),
    M(guest_sample, swap_total, false, "bytes", NULL, 1, "Swap size"),
    M(guest_sample, swap_free, false, "bytes", NULL, 1, "Swap unused"),
    M(guest_sample, swap_in_pages, true, "pages", NULL, 1, "Pages swapped in"),
    M(guest_sample, swap_out_pages, true, "pages", NULL, 1, "Pages swapped out"),
    M(guest_sample, major_faults, true, "count", "major_faults_total", 1, "Major page faults"),
    M(guest_sample, minor_faults, true, "count", NULL, 1, "Minor page faults"),
    M(guest_sample, load1_milli, false, "milli", "load1", 1e-3, "Load average, 1 minute"),
    M(guest_sample, load5_milli, false, "milli", NULL, 1e-3, "Load average, 5 minutes"),
    M(guest_sample, load15_milli, false, "milli", NULL, 1e-3, "Load average, 15 minutes"),
    M(guest_sample, fs_total, false, "bytes", "fs_size_bytes", 1, "File system sizes"),
    M(guest_sample, fs_used, false, "bytes", "fs_used_bytes", 1, "File system bytes used"),
    M(guest_sample, fs_avail, false, "bytes", "fs_avail_bytes", 1,
      "File system bytes available to users"),
    M(guest_sample, disk_read_bytes, true, "bytes", "disk_read_bytes_total", 1, "Bytes read"),
    M(guest_sample, disk_write_bytes, true, "bytes", "disk_written_bytes_total", 1,
      "Bytes written"),
    M(guest_sample, disk_reads, true, "count", "disk_reads_total", 1, "Reads completed"),
    M(guest_sample, disk_writes, true, "count", "disk_writes_total", 1, "Writes completed"),
    M(guest_sample, net_rx_bytes, true, "bytes", "net_receive_bytes_total", 1, "Bytes received"),
    M(guest_sample, net_tx_bytes, true, "bytes", "net_transmit_bytes_total", 1,
      "Bytes transmitted"),
    M(guest_sample, net_rx_packets, true, "count", "net_receive_packets_total", 1,
      "Packets received"),
    M(guest_sample, net_tx_packets, true, "count", "net_transmit_packets_total", 1,
      "Packets transmitted"),
};

static const struct series_metric host_metrics[] = {
    M(node_sample, cpu_user_ns, true, "ns", "cpu_user_seconds_total", NS, "Host CPU user time"),
    M(node_sample, cpu_kernel_ns, true, "ns", "cpu_kernel_seconds_total", NS,
      "Host CPU kernel time"),
    M(node_sample, cpu_idle_ns, true, "ns", "cpu_idle_seconds_total", NS, "Host CPU idle time"),
    M(node_sample, cpu_iowait_ns, true, "ns", "cpu_iowait_seconds_total", NS,
      "Host CPU I/O wait time"),
    M(node_sample, mem_total, false, "bytes", "memory_total_bytes", 1, "Host memory"),
    M(node_sample, mem_free, false, "bytes", "memory_free_bytes", 1, "Host memory free"),
    M(node_sample, mem_buffers, false, "bytes", NULL, 1, "Host buffers"),
    M(node_sample, mem_cached, false, "bytes", "memory_cached_bytes", 1, "Host page cache"),
    M(node_sample, domains_running, false, "count", "domains_running", 1, "Running domains"),
    M(node_sample, round_us, false, "us", NULL, 1e-6, "Wall time of the collection round"),
    M(node_sample, domains_collected, false, "count", NULL, 1,
      "Domains with a host sample in the round"),
    M(node_sample, domains_missed, false, "count", NULL, 1,
      "Running domains without a host sample in the round"),
    M(node_sample, vcpus_alloc, false, "count", "vcpus_allocated", 1,
      "vCPUs of the running domains"),
    M(node_sample, mem_alloc, false, "bytes", "memory_allocated_bytes", 1,
      "Memory allocated to the running domains (their maximum)"),
    M(node_sample, disk_alloc, false, "bytes", "disk_allocated_bytes", 1,
      "Virtual size of the running domains' disks"),
    MS(node_sample, cpu_demand_milli, "cores", "cpu_demand_cores", 1e-3,
       "CPU the running domains demand by the reconciled view: busy + run-queue wait", 1e-3),
    M(node_sample, mem_demand, false, "bytes", "memory_demand_bytes", 1,
      "Memory the running domains use by the reconciled view, guest cache excluded"),
    M(node_sample, disk_demand, false, "bytes", "disk_demand_bytes", 1,
      "Disk space the running domains use by the reconciled view"),
};

static const struct series_metric pool_metrics[] = {
    M(pool_sample, capacity, false, "bytes", "capacity_bytes", 1, "Pool capacity"),
    M(pool_sample, allocation, false, "bytes", "allocation_bytes", 1, "Pool allocation"),
    M(pool_sample, available, false, "bytes", "available_bytes", 1, "Pool free space"),
};

const struct series_kind series_vm_host = {
    "vm-host",
    "host_samples",
    "t",
    "t",
    "uuid",
    "uuid = ?1",
    0,
    "host_id || ':' || dom_id || ':' || COALESCE(CAST(vcpu_count AS TEXT), '-') || ':' ||"
    " COALESCE(CAST(block_count AS TEXT), '-') || ':' || COALESCE(CAST(net_count AS TEXT), '-')",
    vm_host_metrics,
    G_N_ELEMENTS(vm_host_metrics),
};

const struct series_kind series_vm_guest = {
    "vm-guest",
    "guest_samples",
    "t",
    "received",
    "machine_uuid || '/' || source",
    "machine_uuid = ?1 AND source = ?2",
    'l',
    "source || ':' || COALESCE(CAST(cpu_count AS TEXT), '-')",
    vm_guest_metrics,
    G_N_ELEMENTS(vm_guest_metrics),
};

const struct series_kind series_host = {
    "host",
    "node_samples",
    "t",
    "t",
    "CAST(host_id AS TEXT)",
    "host_id = CAST(?1 AS BIGINT)",
    0,
    "'0'",
    host_metrics,
    G_N_ELEMENTS(host_metrics),
};

const struct series_kind series_pool = {
    "pool",
    "pool_samples",
    "t",
    "t",
    "host_id || '/' || name",
    "host_id = CAST(?1 AS BIGINT) AND name = ?2",
    'f',
    "'0'",
    pool_metrics,
    G_N_ELEMENTS(pool_metrics),
};

static const struct series_metric vm_reconciled_metrics[] = {
    MS(reconciled_sample, cpu_busy, "%", "cpu_busy_ratio", 1e-5,
       "Reconciled CPU busy share of the allocated vCPUs", 1e-3),
    MS(reconciled_sample, cpu_wait, "%", "cpu_wait_ratio", 1e-5,
       "Reconciled CPU wait (runnable, not running) share of the allocated vCPUs", 1e-3),
    MS(reconciled_sample, cpu_demand, "%", "cpu_demand_ratio", 1e-5,
       "Reconciled CPU demand (busy + wait) share of the allocated vCPUs", 1e-3),
    MS(reconciled_sample, mem_total, "bytes", "memory_total_bytes", 1, "Memory the guest has", 1),
    MS(reconciled_sample, mem_used, "bytes", "memory_used_bytes", 1,
       "Memory in use, caches excluded", 1),
    MS(reconciled_sample, mem_swap, "bytes/s", "swap_bytes_per_second", 1, "Swap traffic, in + out",
       1),
    MS(reconciled_sample, disk_used, "bytes", "disk_used_bytes", 1, "Disk space in use", 1),
    MS(reconciled_sample, disk_free, "bytes", "disk_free_bytes", 1,
       "Disk space the guest may still write and the storage can back", 1),
    MS(reconciled_sample, disk_io, "bytes/s", "disk_io_bytes_per_second", 1,
       "Disk I/O, read + written", 1),
    MS(reconciled_sample, net_rx, "bytes/s", "net_receive_bytes_per_second", 1,
       "Bytes received by the guest", 1),
    MS(reconciled_sample, net_tx, "bytes/s", "net_transmit_bytes_per_second", 1,
       "Bytes sent by the guest", 1),
    /* H and G beside R, in R's units, absent when the round had no such
     * side.  Not exported to Prometheus: the host and guest views are
     * there already, as themselves. */
    MS(reconciled_sample, cpu_busy_h, "%", NULL, 1e-5,
       "Host's CPU busy: vCPU threads' run time (cpu.time without per-vCPU times)", 1e-3),
    MS(reconciled_sample, cpu_busy_g, "%", NULL, 1e-5,
       "Guest's CPU busy: all but idle, iowait and steal", 1e-3),
    MS(reconciled_sample, cpu_wait_h, "%", NULL, 1e-5,
       "Host's CPU wait: vCPU threads runnable but not running (vcpu.N.delay)", 1e-3),
    MS(reconciled_sample, cpu_wait_g, "%", NULL, 1e-5, "Guest's CPU wait: its steal time", 1e-3),
    MS(reconciled_sample, cpu_demand_h, "%", NULL, 1e-5,
       "Host's CPU demand: vCPU run + wait, not capped at 100 %", 1e-3),
    MS(reconciled_sample, cpu_demand_g, "%", NULL, 1e-5, "Guest's CPU demand: busy + steal", 1e-3),
    MS(reconciled_sample, mem_total_h, "bytes", NULL, 1, "Host's memory total: balloon size", 1),
    MS(reconciled_sample, mem_total_g, "bytes", NULL, 1, "Guest's memory total", 1),
    MS(reconciled_sample, mem_used_h, "bytes", NULL, 1,
       "Host's memory used: QEMU resident set, guest caches included", 1),
    MS(reconciled_sample, mem_used_g, "bytes", NULL, 1,
       "Guest's memory used: total minus available", 1),
    MS(reconciled_sample, mem_swap_h, "bytes/s", NULL, 1,
       "Host's swap traffic for the guest (the host has no such figure)", 1),
    MS(reconciled_sample, mem_swap_g, "bytes/s", NULL, 1, "Guest's swap traffic, in + out", 1),
    MS(reconciled_sample, disk_used_h, "bytes", NULL, 1,
       "Host's disk used: bytes allocated to the images", 1),
    MS(reconciled_sample, disk_used_g, "bytes", NULL, 1, "Guest's filesystems' used space", 1),
    MS(reconciled_sample, disk_free_h, "bytes", NULL, 1,
       "Host's disk free: room the images' pools can back", 1),
    MS(reconciled_sample, disk_free_g, "bytes", NULL, 1,
       "Guest's filesystems' space available to users", 1),
    MS(reconciled_sample, disk_io_h, "bytes/s", NULL, 1,
       "Host's disk I/O: bytes read + written at the images", 1),
    MS(reconciled_sample, disk_io_g, "bytes/s", NULL, 1,
       "Guest's disk I/O: bytes read + written on its disks", 1),
    MS(reconciled_sample, net_rx_h, "bytes/s", NULL, 1,
       "Host's count of bytes received by the guest (tap device)", 1),
    MS(reconciled_sample, net_rx_g, "bytes/s", NULL, 1, "Guest's count of bytes received", 1),
    MS(reconciled_sample, net_tx_h, "bytes/s", NULL, 1,
       "Host's count of bytes sent by the guest (tap device)", 1),
    MS(reconciled_sample, net_tx_g, "bytes/s", NULL, 1, "Guest's count of bytes sent", 1),
};

const struct series_kind series_vm_reconciled = {
    "vm-reconciled",
    "reconciled_samples",
    "t",
    "t",
    "uuid",
    "uuid = ?1",
    0,
    "'0'",
    vm_reconciled_metrics,
    G_N_ELEMENTS(vm_reconciled_metrics),
};

const struct series_kind *const series_kinds[] = {
    &series_vm_host, &series_vm_guest, &series_host, &series_pool, &series_vm_reconciled, NULL};

G_STATIC_ASSERT(G_N_ELEMENTS(vm_host_metrics) <= SERIES_MAX_METRICS);
G_STATIC_ASSERT(G_N_ELEMENTS(vm_guest_metrics) <= SERIES_MAX_METRICS);
G_STATIC_ASSERT(G_N_ELEMENTS(host_metrics) <= SERIES_MAX_METRICS);
G_STATIC_ASSERT(G_N_ELEMENTS(pool_metrics) <= SERIES_MAX_METRICS);
G_STATIC_ASSERT(G_N_ELEMENTS(vm_reconciled_metrics) <= SERIES_MAX_METRICS);

const struct series_kind *series_kind_find(const char *name)
{
    for (size_t i = 0; series_kinds[i]; i++) {
        if (g_str_equal(series_kinds[i]->name, name))
            return series_kinds[i];
    }
    return NULL;
}

int series_metric_find(const struct series_kind *kind, const char *metric)
{
    for (size_t i = 0; i < kind->n_metrics; i++) {
        if (g_str_equal(kind->metrics[i].name, metric))
            return (int)i;
    }
    return -1;
}

uint64_t series_inc_hash(const char *text)
{
    /* FNV-1a: stable across runs, unlike g_str_hash's seedless but 32-bit value. */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The delta of counter MI ending at row I, against the last earlier row that
 * has the counter.  False when there is none or it is not a valid delta
 * (another incarnation, the counter went down, time did not advance). */
static bool counter_delta(const struct series_row *rows, size_t i, size_t mi, uint64_t *ret_delta,
                          int64_t *ret_us)
{
    if (rows[i].v[mi] == SAMPLE_ABSENT)
        return false;
    for (size_t j = i; j-- > 0;) {
        if (rows[j].v[mi] == SAMPLE_ABSENT)
            continue;
        if (rows[j].inc != rows[i].inc || rows[i].v[mi] < rows[j].v[mi] || rows[i].t <= rows[j].t)
            return false;
        *ret_delta = rows[i].v[mi] - rows[j].v[mi];
        *ret_us = rows[i].t - rows[j].t;
        return true;
    }
    return false;
}

void series_points(const struct series_kind *kind, size_t mi, const struct series_row *rows,
                   size_t n, GArray *ret)
{
    bool counter = kind->metrics[mi].counter;
    for (size_t i = 0; i < n; i++) {
        struct series_point p = {.t = rows[i].t};
        if (!counter) {
            if (rows[i].v[mi] == SAMPLE_ABSENT)
                continue;
            p.v = (double)rows[i].v[mi];
        } else {
            uint64_t d;
            int64_t us;
            if (!counter_delta(rows, i, mi, &d, &us))
                continue;
            p.v = (double)d * 1e6 / (double)us;
        }
        g_array_append_val(ret, p);
    }
}

void series_bucket(const struct series_kind *kind, const struct series_row *rows, size_t n,
                   int64_t from, int64_t to, struct series_agg *aggs)
{
    memset(aggs, 0, sizeof(*aggs) * kind->n_metrics);
    for (size_t i = 0; i < n; i++) {
        if (rows[i].t < from || rows[i].t >= to)
            continue;
        for (size_t mi = 0; mi < kind->n_metrics; mi++) {
            struct series_agg *a = &aggs[mi];
            double v;
            if (!kind->metrics[mi].counter) {
                if (rows[i].v[mi] == SAMPLE_ABSENT)
                    continue;
                v = (double)rows[i].v[mi];
                a->a += v;
                a->b += 1;
            } else {
                uint64_t d;
                int64_t us;
                if (!counter_delta(rows, i, mi, &d, &us))
                    continue;
                a->a += (double)d;
                a->b += (double)us;
                v = (double)d * 1e6 / (double)us;
            }
            if (!a->have || v > a->max)
                a->max = v;
            a->have = true;
        }
    }
}

void series_agg_combine(struct series_agg *dst, const struct series_agg *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!src[i].have)
            continue;
        if (!dst[i].have || src[i].max > dst[i].max)
            dst[i].max = src[i].max;
        dst[i].a += src[i].a;
        dst[i].b += src[i].b;
        dst[i].have = true;
    }
}

bool series_agg_value(const struct series_kind *kind, size_t mi, const struct series_agg *agg,
                      double *ret)
{
    if (!agg->have || agg->b <= 0)
        return false;
    *ret = kind->metrics[mi].counter ? agg->a * 1e6 / agg->b : agg->a / agg->b;
    return true;
}

char *series_aggs_to_json(const struct series_kind *kind, const struct series_agg *aggs)
{
    GString *s = g_string_new("{");
    for (size_t i = 0; i < kind->n_metrics; i++) {
        if (!aggs[i].have)
            continue;
        /* %.17g keeps doubles exact; sums of integer counters stay integers
         * well past anything a bucket can hold. */
        g_string_append_printf(s, "%s\"%s\":[%.17g,%.17g,%.17g]", s->len > 1 ? "," : "",
                               kind->metrics[i].name, aggs[i].a, aggs[i].b, aggs[i].max);
    }
    g_string_append_c(s, '}');
    return g_string_free(s, FALSE);
}

/* The text series_aggs_to_json() writes, read without a JSON tree: a
 * bucket of a 90-day chart is one of 2 000 such rows per request.  False
 * for anything else (the caller then reads it as JSON). */
static bool aggs_scan(const struct series_kind *kind, const char *p, struct series_agg *aggs)
{
    if (*p++ != '{')
        return false;
    if (*p == '}')
        return p[1] == '\0';
    for (;;) {
        if (*p++ != '"')
            return false;
        const char *name = p;
        while (*p && *p != '"' && *p != '\\')
            p++;
        if (*p != '"')
            return false;
        size_t len = (size_t)(p - name);
        p++;
        if (*p++ != ':' || *p++ != '[')
            return false;
        double x[3];
        for (int k = 0; k < 3; k++) {
            char *end;
            x[k] = g_ascii_strtod(p, &end);
            if (end == p || !isfinite(x[k]))
                return false;
            p = end;
            if (*p++ != (k < 2 ? ',' : ']'))
                return false;
        }
        for (size_t i = 0; i < kind->n_metrics; i++) {
            if (strncmp(kind->metrics[i].name, name, len) == 0 && !kind->metrics[i].name[len]) {
                aggs[i] = (struct series_agg){.a = x[0], .b = x[1], .max = x[2], .have = true};
                break;
            }
        }
        if (*p == '}')
            return p[1] == '\0';
        if (*p++ != ',')
            return false;
    }
}

void series_aggs_from_json(const struct series_kind *kind, const char *text,
                           struct series_agg *aggs)
{
    memset(aggs, 0, sizeof(*aggs) * kind->n_metrics);
    if (text && aggs_scan(kind, text, aggs))
        return;
    memset(aggs, 0, sizeof(*aggs) * kind->n_metrics);
    static const struct json_limits lim = {64 * 1024, 4};
    json_object *o = NULL;
    if (!text || !json_parse_strict(text, strlen(text), &lim, &o, NULL) ||
        !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return;
    }
    json_object_object_foreach(o, key, val)
    {
        int mi = series_metric_find(kind, key);
        if (mi < 0 || !json_object_is_type(val, json_type_array) ||
            json_object_array_length(val) != 3)
            continue;
        double x[3];
        bool ok = true;
        for (size_t k = 0; k < 3; k++) {
            json_object *e = json_object_array_get_idx(val, k);
            ok &= json_object_is_type(e, json_type_double) || json_object_is_type(e, json_type_int);
            x[k] = json_object_get_double(e);
            ok &= isfinite(x[k]);
        }
        if (!ok)
            continue;
        aggs[mi] = (struct series_agg){.a = x[0], .b = x[1], .max = x[2], .have = true};
    }
    json_object_put(o);
}

GArray *series_resample(const GArray *points, int64_t step)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(struct series_point));
    if (step <= 0) {
        g_array_append_vals(out, points->data, points->len);
        return out;
    }
    int64_t cur = 0;
    double sum = 0;
    unsigned cnt = 0;
    for (guint i = 0; i < points->len; i++) {
        const struct series_point *p = &g_array_index(points, struct series_point, i);
        /* Floor division that also holds for times before the epoch. */
        int64_t b = p->t >= 0 ? p->t / step * step : -((-p->t + step - 1) / step) * step;
        if (cnt && b != cur) {
            struct series_point q = {cur, sum / cnt};
            g_array_append_val(out, q);
            sum = 0;
            cnt = 0;
        }
        cur = b;
        sum += p->v;
        cnt++;
    }
    if (cnt) {
        struct series_point q = {cur, sum / cnt};
        g_array_append_val(out, q);
    }
    return out;
}
