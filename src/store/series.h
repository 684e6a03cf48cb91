/*
 * series: the metrics of each kind of sample history, and the pure
 * arithmetic on them (rates, buckets, tiers).  No I/O: the SQLite backend
 * reads rows and hands them here, and the unit tests do the same with
 * golden data.
 *
 * Kinds:
 *   "vm-host"   host view of a domain      (struct host_sample, table host_samples)
 *   "vm-guest"  guest view of a machine    (struct guest_sample, table guest_samples;
 *               one series per source: qga | balloon | kanri-guestd)
 *   "host"      a hypervisor host          (struct node_sample, table node_samples)
 *   "pool"      a storage pool             (struct pool_sample, table pool_samples)
 *   "vm-reconciled"  reconciled view of a domain (struct reconciled_sample,
 *               table reconciled_samples; R, H and G of each resource,
 *               gauges only)
 *
 * A metric is a gauge (read as it is) or a counter (cumulative; read as a
 * per-second rate).  A rate exists between two samples of the same
 * incarnation whose counter did not go down; a reset or restart gives no
 * rate for that interval rather than a negative or huge one, and a gap of
 * missed rounds gives the average rate over the gap.
 *
 * Tiers: raw rows, 5-minute and 1-hour buckets.  A bucket keeps, per
 * metric, for gauges [sum, count, max] and for counters [delta, covered_us]
 * (the sum of valid deltas whose later sample falls in the bucket, and the
 * time those deltas cover), so buckets combine exactly into larger ones.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/sample.h"

#define SERIES_MAX_METRICS 48
#define SERIES_TIER_5M     (300 * G_GINT64_CONSTANT(1000000))
#define SERIES_TIER_1H     (3600 * G_GINT64_CONSTANT(1000000))

struct series_metric {
    const char *name; /* API name = column name */
    bool counter;
    const char *unit;  /* of the stored value; counters are served per second */
    size_t offset;     /* of the uint64_t field in the kind's sample struct */
    const char *prom;  /* Prometheus family after "kanri_<entity>_", NULL: not exported */
    double prom_scale; /* stored unit -> Prometheus base unit */
    const char *help;
    /* Stored unit -> served unit of the history API (0 means 1): the
     * reconciled CPU shares are stored in milli-percent. */
    double scale;
};

struct series_kind {
    const char *name;
    const char *table;
    const char *time_col;   /* the sample's own time */
    const char *recv_col;   /* when kanrid stored it (the downsampling watermark) */
    const char *entity_sql; /* SQL expression naming the entity in tier tables */
    /* Condition selecting one entity's raw rows with ?1 (and ?2): the
     * entity text split at its first ('f') or last ('l') '/', or whole (0). */
    const char *entity_where;
    char entity_split;
    const char *inc_sql; /* SQL expression of the incarnation */
    const struct series_metric *metrics;
    size_t n_metrics;
};

extern const struct series_kind series_vm_host;
extern const struct series_kind series_vm_guest;
extern const struct series_kind series_host;
extern const struct series_kind series_pool;
extern const struct series_kind series_vm_reconciled;

/* NULL-terminated list of every kind. */
extern const struct series_kind *const series_kinds[];

const struct series_kind *series_kind_find(const char *name);
/* Index of METRIC in KIND, or -1. */
int series_metric_find(const struct series_kind *kind, const char *metric);

/* One stored row, reduced to what the arithmetic needs. */
struct series_row {
    int64_t t;                      /* µs */
    uint64_t inc;                   /* hash of the incarnation; rates only within one */
    uint64_t v[SERIES_MAX_METRICS]; /* SAMPLE_ABSENT when not reported */
};

uint64_t series_inc_hash(const char *text);

struct series_point {
    int64_t t;
    double v;
};

/* Points of metric MI over ROWS (sorted by t): gauges as they are,
 * counters as rates per second at the later sample's time.  Appends
 * struct series_point to RET. */
void series_points(const struct series_kind *kind, size_t mi, const struct series_row *rows,
                   size_t n, GArray *ret);

/* One metric's aggregate within a bucket. */
struct series_agg {
    double a;   /* gauge: sum of values;  counter: sum of valid deltas */
    double b;   /* gauge: number of values; counter: covered µs */
    double max; /* gauge: largest value; counter: largest rate */
    bool have;
};

/* Aggregates ROWS (sorted by t; may start before FROM so the first delta
 * in the bucket has its predecessor) into [FROM, TO) for every metric of
 * KIND.  AGGS has kind->n_metrics entries. */
void series_bucket(const struct series_kind *kind, const struct series_row *rows, size_t n,
                   int64_t from, int64_t to, struct series_agg *aggs);

/* Adds SRC into DST (n metrics). */
void series_agg_combine(struct series_agg *dst, const struct series_agg *src, size_t n);

/* Bucket value: a gauge's average or a counter's rate per second; false
 * when the bucket has none. */
bool series_agg_value(const struct series_kind *kind, size_t mi, const struct series_agg *agg,
                      double *ret);

/* Tier rows store aggregates as JSON text {"metric":[a,b,max],...};
 * to_json skips metrics without data. */
char *series_aggs_to_json(const struct series_kind *kind, const struct series_agg *aggs);
/* Parses what series_aggs_to_json wrote; unknown metrics are ignored and
 * malformed entries left empty (the text is our own, but a damaged
 * database must not crash a query). */
void series_aggs_from_json(const struct series_kind *kind, const char *text,
                           struct series_agg *aggs);

/* Averages POINTS (sorted) into STEP-wide buckets aligned to the epoch;
 * each output point is at its bucket's start.  STEP 0 returns a copy. */
GArray *series_resample(const GArray *points, int64_t step);

/* Reads metric MI of KIND from a sample struct (host_sample, guest_sample,
 * node_sample or pool_sample matching KIND). */
static inline uint64_t series_sample_value(const struct series_kind *kind, size_t mi,
                                           const void *sample)
{
    return *(const uint64_t *)((const char *)sample + kind->metrics[mi].offset);
}
