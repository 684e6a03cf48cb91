/*
 * Scenario replay for the golden tests, the fuzz target and the benchmark:
 * JSON in, engine rounds, stable text out (scenario.h).
 */
#include "config.h"

#include "reconcile/scenario.h"

#include "reconcile/reconcile.h"

#include "basic/json.h"

#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define MAX_STRING 256

G_DEFINE_QUARK(kanri_reconcile_scenario_error_quark, scenario_error)
#define SCENARIO_ERROR (scenario_error_quark())

enum { SIDE_HOST, SIDE_QGA, SIDE_BALLOON, SIDE_GUESTD, SIDE_N };
static const char *const side_names[SIDE_N] = {"host", "qga", "balloon", "guestd"};
static const char *const guest_sources[SIDE_N] = {NULL, "qga", "balloon", "kanri-guestd"};

enum side_mode {
    SIDE_NONE, /* no sample this round */
    SIDE_NEW,  /* a new sample */
    SIDE_KEEP, /* the previous sample again (nothing new arrived: it ages) */
};

struct sround {
    double now_s;
    char *note;
    enum side_mode mode[SIDE_N];
    struct host_sample host;
    struct guest_sample guest[SIDE_N]; /* index SIDE_QGA.. */
    GArray *pools;                     /* struct pool_sample, names owned */
};

struct reconcile_scenario {
    char *comment;
    struct reconcile_config cfg;
    struct reconcile_disk *disks; /* strings owned */
    size_t n_disks;
    GPtrArray *rounds; /* struct sround * */
};

/* A scenario's VM is running domain 1 of host 1 unless the round says
 * otherwise. */
static void host_init(struct host_sample *h)
{
    host_sample_init(h);
    h->host_id = 1;
    h->dom_id = 1;
    h->state = 1;
}

static void pool_clear(gpointer p)
{
    pool_sample_clear(p);
}

static void sround_free(gpointer p)
{
    struct sround *r = p;
    if (!r)
        return;
    g_free(r->note);
    host_sample_clear(&r->host);
    for (int i = SIDE_QGA; i < SIDE_N; i++)
        guest_sample_clear(&r->guest[i]);
    if (r->pools)
        g_array_unref(r->pools);
    g_free(r);
}

void reconcile_scenario_free(struct reconcile_scenario *sc)
{
    if (!sc)
        return;
    g_free(sc->comment);
    for (size_t i = 0; i < sc->n_disks; i++) {
        g_free((char *)sc->disks[i].name);
        g_free((char *)sc->disks[i].pool);
    }
    g_free(sc->disks);
    if (sc->rounds)
        g_ptr_array_unref(sc->rounds);
    g_free(sc);
}

/* ---- values ---- */

/* "4GiB", "1.5 MiB", "12s", "250ms", or a plain non-negative integer.
 * TIME_UNITS: the field counts nanoseconds, so units are durations;
 * otherwise they are byte multiples. */
static bool parse_quantity(json_object *v, bool time_units, uint64_t *ret)
{
    static const struct {
        const char *unit;
        double mult;
        bool time;
    } units[] = {
        {"B", 1, false},
        {"KiB", 1024.0, false},
        {"MiB", 1048576.0, false},
        {"GiB", 1073741824.0, false},
        {"TiB", 1099511627776.0, false},
        {"ns", 1, true},
        {"us", 1e3, true},
        {"ms", 1e6, true},
        {"s", 1e9, true},
        {"min", 60e9, true},
        {"h", 3600e9, true},
    };
    if (json_object_is_type(v, json_type_int)) {
        int64_t i = json_object_get_int64(v);
        if (i < 0 || i == INT64_MAX)
            return false;
        *ret = (uint64_t)i;
        return true;
    }
    if (!json_object_is_type(v, json_type_string))
        return false;
    const char *s = json_object_get_string(v);
    if (strlen(s) > 64 || !g_ascii_isdigit(*s))
        return false;
    char *end = NULL;
    double x = g_ascii_strtod(s, &end);
    while (*end == ' ')
        end++;
    double mult = 0;
    if (!*end)
        mult = 1;
    for (size_t i = 0; i < G_N_ELEMENTS(units) && mult == 0; i++) {
        if (g_str_equal(end, units[i].unit) && units[i].time == time_units)
            mult = units[i].mult;
    }
    x *= mult;
    /* 2^62 keeps sums of a few fields inside int64, as the store needs. */
    if (mult == 0 || !isfinite(x) || x < 0 || x > 4611686018427387904.0)
        return false;
    *ret = (uint64_t)(x + 0.5);
    return true;
}

/* Seconds (integer or decimal) to microseconds. */
static bool parse_seconds(json_object *v, int64_t *ret)
{
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return false;
    double s = json_object_get_double(v);
    if (!isfinite(s) || s < 0 || s > 4e9)
        return false;
    *ret = (int64_t)(s * 1e6 + 0.5);
    return true;
}

static bool parse_string(json_object *v, char **ret)
{
    if (!json_object_is_type(v, json_type_string))
        return false;
    const char *s = json_object_get_string(v);
    if (strlen(s) > MAX_STRING || !g_utf8_validate(s, -1, NULL))
        return false;
    *ret = g_strdup(s);
    return true;
}

enum kind { K_U64, K_SECONDS, K_I64, K_BOOL };

struct field {
    const char *name;
    size_t off;
    enum kind kind;
};

#define HF(n, k)                                                                                   \
    {                                                                                              \
#n, offsetof(struct host_sample, n), k                                                     \
    }
static const struct field host_fields[] = {
    HF(dom_id, K_I64),           HF(cpu_time_ns, K_U64),
    HF(cpu_user_ns, K_U64),      HF(cpu_system_ns, K_U64),
    HF(vcpu_count, K_U64),       HF(vcpu_time_ns, K_U64),
    HF(vcpu_wait_ns, K_U64),     HF(vcpu_delay_ns, K_U64),
    HF(balloon_current, K_U64),  HF(balloon_maximum, K_U64),
    HF(balloon_rss, K_U64),      HF(block_count, K_U64),
    HF(block_rd_bytes, K_U64),   HF(block_wr_bytes, K_U64),
    HF(block_rd_reqs, K_U64),    HF(block_wr_reqs, K_U64),
    HF(block_allocation, K_U64), HF(block_capacity, K_U64),
    HF(block_physical, K_U64),   HF(net_count, K_U64),
    HF(net_rx_bytes, K_U64),     HF(net_tx_bytes, K_U64),
    HF(net_rx_pkts, K_U64),      HF(net_tx_pkts, K_U64),
    HF(net_rx_drop, K_U64),      HF(net_tx_drop, K_U64),
    HF(net_rx_errs, K_U64),      HF(net_tx_errs, K_U64),
    HF(container, K_BOOL),       HF(cg_mem_cache, K_U64),
    HF(cg_mem_swap, K_U64),      HF(cg_oom_kills, K_U64),
    HF(cg_cpu_periods, K_U64),   HF(cg_cpu_throttled_periods, K_U64),
    HF(cg_cpu_quota_mc, K_U64),  HF(cg_pids_current, K_U64),
    HF(cg_pids_max, K_U64),      HF(ct_rootfs_used, K_U64),
    HF(ct_fs_size, K_U64),       HF(ct_fs_avail, K_U64),
};
#undef HF

#define GF(n, k)                                                                                   \
    {                                                                                              \
#n, offsetof(struct guest_sample, n), k                                                    \
    }
static const struct field guest_fields[] = {
    GF(seq, K_U64),
    GF(cpu_count, K_U64),
    GF(cpu_user_ns, K_U64),
    GF(cpu_nice_ns, K_U64),
    GF(cpu_system_ns, K_U64),
    GF(cpu_idle_ns, K_U64),
    GF(cpu_iowait_ns, K_U64),
    GF(cpu_irq_ns, K_U64),
    GF(cpu_softirq_ns, K_U64),
    GF(cpu_steal_ns, K_U64),
    GF(mem_total, K_U64),
    GF(mem_free, K_U64),
    GF(mem_available, K_U64),
    GF(mem_cached, K_U64),
    GF(mem_buffers, K_U64),
    GF(swap_total, K_U64),
    GF(swap_free, K_U64),
    GF(swap_in_pages, K_U64),
    GF(swap_out_pages, K_U64),
    GF(major_faults, K_U64),
    GF(minor_faults, K_U64),
    GF(fs_total, K_U64),
    GF(fs_used, K_U64),
    GF(fs_avail, K_U64),
    GF(disk_read_bytes, K_U64),
    GF(disk_write_bytes, K_U64),
    GF(disk_reads, K_U64),
    GF(disk_writes, K_U64),
    GF(net_rx_bytes, K_U64),
    GF(net_tx_bytes, K_U64),
    GF(net_rx_packets, K_U64),
    GF(net_tx_packets, K_U64),
};
#undef GF

/* Sets one table field; false if NAME is not in the table or V is bad.
 * host_fields' container and cg_* entries are a container's control group
 * (host_sample.container, a JSON boolean, and its cg_* figures), its ct_*
 * entries the container's root file system as the host measures it. */
static bool set_field(const struct field *tab, size_t n, void *base, const char *name,
                      json_object *v, bool *ret_known)
{
    *ret_known = false;
    for (size_t i = 0; i < n; i++) {
        if (!g_str_equal(tab[i].name, name))
            continue;
        *ret_known = true;
        char *p = (char *)base + tab[i].off;
        if (tab[i].kind == K_BOOL) {
            if (!json_object_is_type(v, json_type_boolean))
                return false;
            *(bool *)p = json_object_get_boolean(v);
            return true;
        }
        if (tab[i].kind == K_I64) {
            if (!json_object_is_type(v, json_type_int))
                return false;
            int64_t x = json_object_get_int64(v);
            if (x < -1 || x > G_MAXINT32)
                return false;
            *(int64_t *)p = x;
            return true;
        }
        uint64_t u;
        if (!parse_quantity(v, g_str_has_suffix(name, "_ns"), &u))
            return false;
        *(uint64_t *)p = u;
        return true;
    }
    return false;
}

static bool fail(GError **error, const char *path, const char *what)
{
    g_set_error(error, SCENARIO_ERROR, 0, "%s: %s", path, what);
    return false;
}

/* Host "blocks": per-disk figures, written as the collector writes
 * blocks_json, and summed into the host row where the row has no sum. */
static bool parse_blocks(json_object *arr, struct host_sample *h, const char *path, GError **error)
{
    static const char *const keys[] = {"allocation", "capacity", "physical", "rd_bytes",
                                       "wr_bytes"};
    static const char *const out[] = {"allocation_bytes", "capacity_bytes", "physical_bytes",
                                      "rd_bytes", "wr_bytes"};
    uint64_t *sums[] = {&h->block_allocation, &h->block_capacity, &h->block_physical,
                        &h->block_rd_bytes, &h->block_wr_bytes};
    bool given[G_N_ELEMENTS(keys)], seen[G_N_ELEMENTS(keys)] = {false};
    uint64_t acc[G_N_ELEMENTS(keys)] = {0};
    if (!json_object_is_type(arr, json_type_array) ||
        json_object_array_length(arr) > SCENARIO_MAX_ITEMS)
        return fail(error, path, "expected an array of at most 64 objects");
    for (size_t k = 0; k < G_N_ELEMENTS(keys); k++)
        given[k] = *sums[k] != SAMPLE_ABSENT;
    json_object *js = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *b = json_object_array_get_idx(arr, i), *v;
        g_autofree char *bpath = g_strdup_printf("%s[%zu]", path, i);
        if (!json_object_is_type(b, json_type_object) ||
            !json_object_object_get_ex(b, "name", &v) ||
            !json_object_is_type(v, json_type_string) ||
            strlen(json_object_get_string(v)) > MAX_STRING) {
            json_object_put(js);
            return fail(error, bpath, "expected an object with a name");
        }
        json_object *o = json_object_new_object();
        json_object_array_add(js, o);
        json_object_object_add(o, "id", json_object_new_int((int)i));
        json_object_object_add(o, "name", json_object_new_string(json_object_get_string(v)));
        json_object_object_foreach(b, key, val)
        {
            if (g_str_equal(key, "name"))
                continue;
            size_t k = 0;
            while (k < G_N_ELEMENTS(keys) && !g_str_equal(keys[k], key))
                k++;
            uint64_t u;
            if (k == G_N_ELEMENTS(keys) || !parse_quantity(val, false, &u)) {
                json_object_put(js);
                g_autofree char *fpath = g_strdup_printf("%s.%s", bpath, key);
                return fail(error, fpath, "unknown field or bad quantity");
            }
            json_object_object_add(o, out[k], json_object_new_int64((int64_t)u));
            acc[k] += u;
            seen[k] = true;
        }
    }
    for (size_t k = 0; k < G_N_ELEMENTS(keys); k++) {
        if (!given[k] && seen[k])
            *sums[k] = acc[k];
    }
    if (h->block_count == SAMPLE_ABSENT)
        h->block_count = json_object_array_length(arr);
    g_free(h->blocks_json);
    h->blocks_json = g_strdup(json_object_to_json_string_ext(js, JSON_C_TO_STRING_PLAIN));
    json_object_put(js);
    return true;
}

static bool parse_host(json_object *o, double now_s, struct host_sample *h, const char *path,
                       GError **error)
{
    host_init(h);
    h->uuid = g_strdup("00000000-0000-0000-0000-000000000001");
    h->time_us = (int64_t)(now_s * 1e6 + 0.5);
    json_object *blocks = NULL;
    json_object_object_foreach(o, key, v)
    {
        g_autofree char *fpath = g_strdup_printf("%s.%s", path, key);
        bool known;
        if (g_str_equal(key, "time")) {
            if (!parse_seconds(v, &h->time_us))
                return fail(error, fpath, "expected seconds");
        } else if (g_str_equal(key, "blocks")) {
            blocks = v;
        } else if (!set_field(host_fields, G_N_ELEMENTS(host_fields), h, key, v, &known)) {
            return fail(error, fpath, known ? "bad value" : "unknown field");
        }
    }
    if (blocks) {
        g_autofree char *bpath = g_strdup_printf("%s.blocks", path);
        if (!parse_blocks(blocks, h, bpath, error))
            return false;
    }
    return true;
}

static bool parse_guest(json_object *o, double now_s, int side, struct guest_sample *g,
                        const char *path, GError **error)
{
    guest_sample_init(g);
    g->machine_uuid = g_strdup("00000000-0000-0000-0000-000000000001");
    g->source = guest_sources[side];
    g->received_us = (int64_t)(now_s * 1e6 + 0.5);
    bool have_time = false;
    json_object_object_foreach(o, key, v)
    {
        g_autofree char *fpath = g_strdup_printf("%s.%s", path, key);
        bool known;
        if (g_str_equal(key, "time")) {
            if (!parse_seconds(v, &g->time_us))
                return fail(error, fpath, "expected seconds");
            have_time = true;
        } else if (g_str_equal(key, "received")) {
            if (!parse_seconds(v, &g->received_us))
                return fail(error, fpath, "expected seconds");
        } else if (g_str_equal(key, "extra")) {
            if (!json_object_is_type(v, json_type_object))
                return fail(error, fpath, "expected an object");
            g_free(g->extra_json);
            g->extra_json = g_strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        } else if (!set_field(guest_fields, G_N_ELEMENTS(guest_fields), g, key, v, &known)) {
            return fail(error, fpath, known ? "bad value" : "unknown field");
        }
    }
    /* By default the guest's clock agrees with kanrid's. */
    if (!have_time)
        g->time_us = g->received_us;
    return true;
}

static bool parse_pools(json_object *arr, double now_s, GArray *pools, const char *path,
                        GError **error)
{
    if (!json_object_is_type(arr, json_type_array) ||
        json_object_array_length(arr) > SCENARIO_MAX_ITEMS)
        return fail(error, path, "expected an array of at most 64 objects");
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        g_autofree char *ppath = g_strdup_printf("%s[%zu]", path, i);
        struct pool_sample ps = {.host_id = 1,
                                 .time_us = (int64_t)(now_s * 1e6 + 0.5),
                                 .capacity = SAMPLE_ABSENT,
                                 .allocation = SAMPLE_ABSENT,
                                 .available = SAMPLE_ABSENT};
        if (!json_object_is_type(o, json_type_object))
            return fail(error, ppath, "expected an object");
        g_array_append_val(pools, ps);
        struct pool_sample *p = &g_array_index(pools, struct pool_sample, pools->len - 1);
        json_object_object_foreach(o, key, v)
        {
            g_autofree char *fpath = g_strdup_printf("%s.%s", ppath, key);
            bool ok;
            if (g_str_equal(key, "name"))
                ok = !p->name && parse_string(v, &p->name);
            else if (g_str_equal(key, "time"))
                ok = parse_seconds(v, &p->time_us);
            else if (g_str_equal(key, "capacity"))
                ok = parse_quantity(v, false, &p->capacity);
            else if (g_str_equal(key, "allocation"))
                ok = parse_quantity(v, false, &p->allocation);
            else if (g_str_equal(key, "available"))
                ok = parse_quantity(v, false, &p->available);
            else
                return fail(error, fpath, "unknown field");
            if (!ok)
                return fail(error, fpath, "bad value");
        }
        if (!p->name)
            return fail(error, ppath, "a pool needs a name");
    }
    return true;
}

static bool parse_round(json_object *o, double prev_now, struct sround *r, const char *path,
                        GError **error)
{
    json_object *v;
    if (!json_object_is_type(o, json_type_object))
        return fail(error, path, "expected an object");
    g_autofree char *npath = g_strdup_printf("%s.now", path);
    int64_t now_us;
    if (!json_object_object_get_ex(o, "now", &v) || !parse_seconds(v, &now_us))
        return fail(error, npath, "expected seconds");
    r->now_s = (double)now_us / 1e6;
    if (r->now_s < prev_now)
        return fail(error, npath, "time goes backwards between rounds");
    r->pools = g_array_new(FALSE, TRUE, sizeof(struct pool_sample));
    g_array_set_clear_func(r->pools, pool_clear);
    host_init(&r->host);
    for (int i = SIDE_QGA; i < SIDE_N; i++)
        guest_sample_init(&r->guest[i]);
    json_object_object_foreach(o, key, val)
    {
        g_autofree char *fpath = g_strdup_printf("%s.%s", path, key);
        int side = -1;
        for (int i = 0; i < SIDE_N; i++) {
            if (g_str_equal(key, side_names[i]))
                side = i;
        }
        if (g_str_equal(key, "now")) {
            continue;
        } else if (g_str_equal(key, "note")) {
            if (r->note || !parse_string(val, &r->note))
                return fail(error, fpath, "expected a short string");
        } else if (g_str_equal(key, "pools")) {
            if (!parse_pools(val, r->now_s, r->pools, fpath, error))
                return false;
        } else if (side >= 0) {
            if (json_object_is_type(val, json_type_string) &&
                g_str_equal(json_object_get_string(val), "keep")) {
                r->mode[side] = SIDE_KEEP;
            } else if (json_object_is_type(val, json_type_object)) {
                r->mode[side] = SIDE_NEW;
                bool ok = side == SIDE_HOST
                              ? parse_host(val, r->now_s, &r->host, fpath, error)
                              : parse_guest(val, r->now_s, side, &r->guest[side], fpath, error);
                if (!ok)
                    return false;
            } else if (val != NULL) {
                return fail(error, fpath, "expected an object, \"keep\" or null");
            }
        } else {
            return fail(error, fpath, "unknown field");
        }
    }
    return true;
}

struct reconcile_scenario *reconcile_scenario_parse(const char *text, size_t len, GError **error)
{
    static const struct json_limits lim = {.max_bytes = SCENARIO_MAX_BYTES,
                                           .max_depth = SCENARIO_MAX_DEPTH};
    if (!text) {
        g_set_error(error, SCENARIO_ERROR, 0, "scenario is missing");
        return NULL;
    }
    g_autoptr(GError) jerr = NULL;
    json_object *root = NULL;
    if (!json_parse_strict(text, len, &lim, &root, &jerr)) {
        g_set_error(error, SCENARIO_ERROR, 0, "scenario: %s", jerr->message);
        return NULL;
    }
    g_autoptr(reconcile_scenario) sc = g_new0(struct reconcile_scenario, 1);
    sc->rounds = g_ptr_array_new_with_free_func(sround_free);
    reconcile_config_init(&sc->cfg);
    bool ok = json_object_is_type(root, json_type_object);
    if (!ok)
        fail(error, "scenario", "expected an object");
    json_object *rounds = NULL;
    if (ok) {
        json_object_object_foreach(root, key, v)
        {
            if (!ok)
                break;
            if (g_str_equal(key, "comment")) {
                if (!json_object_is_type(v, json_type_string))
                    ok = fail(error, "comment", "expected a string");
                else
                    sc->comment = g_strndup(json_object_get_string(v), 4096);
            } else if (g_str_equal(key, "config")) {
                if (!json_object_is_type(v, json_type_object) ||
                    json_object_object_length(v) > SCENARIO_MAX_ITEMS) {
                    ok = fail(error, "config", "expected an object of at most 64 options");
                    break;
                }
                json_object_object_foreach(v, ck, cv)
                {
                    const char *val = NULL;
                    char buf[64];
                    if (json_object_is_type(cv, json_type_string))
                        val = json_object_get_string(cv);
                    else if (json_object_is_type(cv, json_type_int) ||
                             json_object_is_type(cv, json_type_double) ||
                             json_object_is_type(cv, json_type_boolean)) {
                        g_strlcpy(buf, json_object_to_json_string(cv), sizeof(buf));
                        val = buf;
                    }
                    g_autoptr(GError) e = NULL;
                    if (!val || !reconcile_config_set(&sc->cfg, ck, val, &e)) {
                        g_autofree char *cpath = g_strdup_printf("config.%s", ck);
                        ok = fail(error, cpath, e ? e->message : "expected a string or number");
                        break;
                    }
                }
            } else if (g_str_equal(key, "disks")) {
                if (!json_object_is_type(v, json_type_array) ||
                    json_object_array_length(v) > SCENARIO_MAX_ITEMS) {
                    ok = fail(error, "disks", "expected an array of at most 64 objects");
                    break;
                }
                size_t n = json_object_array_length(v);
                sc->disks = g_new0(struct reconcile_disk, n);
                for (size_t i = 0; ok && i < n; i++) {
                    json_object *d = json_object_array_get_idx(v, i), *name = NULL, *pool = NULL;
                    char *dn = NULL, *dp = NULL;
                    if (!json_object_is_type(d, json_type_object) ||
                        !json_object_object_get_ex(d, "name", &name) || !parse_string(name, &dn) ||
                        (json_object_object_get_ex(d, "pool", &pool) && pool &&
                         !parse_string(pool, &dp))) {
                        g_free(dn);
                        g_autofree char *dpath = g_strdup_printf("disks[%zu]", i);
                        ok = fail(error, dpath, "expected {\"name\": ..., \"pool\": ...|null}");
                        break;
                    }
                    sc->disks[i].name = dn;
                    sc->disks[i].pool = dp;
                    sc->n_disks++;
                }
            } else if (g_str_equal(key, "rounds")) {
                rounds = v;
            } else {
                ok = fail(error, key, "unknown field");
            }
        }
    }
    if (ok &&
        (!json_object_is_type(rounds, json_type_array) || json_object_array_length(rounds) == 0 ||
         json_object_array_length(rounds) > SCENARIO_MAX_ROUNDS))
        ok = fail(error, "rounds", "expected an array of 1 to 500 rounds");
    double prev_now = 0;
    for (size_t i = 0; ok && i < json_object_array_length(rounds); i++) {
        struct sround *r = g_new0(struct sround, 1);
        g_ptr_array_add(sc->rounds, r);
        g_autofree char *path = g_strdup_printf("rounds[%zu]", i);
        ok = parse_round(json_object_array_get_idx(rounds, i), prev_now, r, path, error);
        prev_now = r->now_s;
    }
    json_object_put(root);
    return ok ? g_steal_pointer(&sc) : NULL;
}

/* ---- running and dumping ---- */

static void put_value(GString *out, double v, const char *unit)
{
    char buf[64];
    if (!reconcile_present(v)) {
        g_string_append_printf(out, "%-13s", "-");
        return;
    }
    if (g_str_equal(unit, "%")) {
        snprintf(buf, sizeof(buf), "%.1f %%", v);
    } else {
        static const char *const pre[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        double a = v;
        int k = 0;
        while (fabs(a) >= 1024 && k < 4) {
            a /= 1024;
            k++;
        }
        snprintf(buf, sizeof(buf), k ? "%.1f %s%s" : "%.0f %s%s", a, pre[k],
                 g_str_equal(unit, "B/s") ? "/s" : "");
    }
    g_string_append_printf(out, "%-13s", buf);
}

static void put_age(GString *out, const char *side, int64_t age_us)
{
    if (age_us < 0)
        g_string_append_printf(out, " %s -", side);
    else
        g_string_append_printf(out, " %s %.0fs", side, (double)age_us / 1e6);
}

static void put_time(GString *out, int64_t us)
{
    if (us % G_USEC_PER_SEC == 0)
        g_string_append_printf(out, "%" G_GINT64_FORMAT "s", us / G_USEC_PER_SEC);
    else
        g_string_append_printf(out, "%.3fs", (double)us / 1e6);
}

static void dump_round(GString *out, size_t n, const struct sround *r,
                       const struct reconcile_result *res)
{
    g_string_append_printf(out, "== round %zu: now ", n);
    put_time(out, (int64_t)(r->now_s * 1e6 + 0.5));
    if (r->note)
        g_string_append_printf(out, " (%s)", r->note);
    g_string_append_c(out, '\n');
    for (int i = 0; i < RC_N; i++) {
        const struct reconcile_value *v = &res->values[i];
        const char *unit = reconcile_resource_unit((enum reconcile_resource)i);
        g_string_append_printf(out, "%-10s R ",
                               reconcile_resource_name((enum reconcile_resource)i));
        put_value(out, v->r, unit);
        g_string_append(out, " H ");
        put_value(out, v->h, unit);
        g_string_append(out, " G ");
        put_value(out, v->g, unit);
        g_string_append_printf(out, " %-18s G=%s age", v->provenance,
                               v->g_source ? v->g_source : "-");
        put_age(out, "H", v->h_age_us);
        put_age(out, "G", v->g_age_us);
        g_string_append_printf(out, "\n           %s\n", v->reason);
    }
    for (guint i = 0; i < res->findings->len; i++) {
        const struct reconcile_finding *f = g_ptr_array_index(res->findings, i);
        g_string_append_printf(out, "finding %s %s %s since ", f->id,
                               reconcile_severity_name(f->severity),
                               reconcile_fstate_name(f->state));
        put_time(out, f->since_us);
        g_string_append(out, " changed ");
        put_time(out, f->changed_us);
        if (reconcile_present(f->measure))
            g_string_append_printf(out, " measure %.2f", f->measure);
        g_string_append_printf(out, "\n           %s\n", f->message);
    }
    if (!res->findings->len)
        g_string_append(out, "no findings\n");
}

/* Moves a side's history one step for MODE; returns the pair to use. */
static void side_step(enum side_mode mode, const void *fresh, const void **last,
                      const void **before, const void **ret_cur, const void **ret_prev)
{
    switch (mode) {
    case SIDE_NEW:
        *before = *last;
        *last = fresh;
        *ret_cur = *last;
        *ret_prev = *before;
        break;
    case SIDE_KEEP:
        *ret_cur = *last;
        *ret_prev = *before;
        break;
    case SIDE_NONE:
        *ret_cur = NULL;
        *ret_prev = NULL;
        break;
    }
}

static bool same_number(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* A quiet run (reconcile_input.quiet) must decide exactly what the run
 * with text decided; only the words may be missing.  NULL when it did,
 * else what differs. */
static char *quiet_differs(const struct reconcile_result *a, const struct reconcile_result *b)
{
    for (int i = 0; i < RC_N; i++) {
        const struct reconcile_value *x = &a->values[i], *y = &b->values[i];
        if (!same_number(x->h, y->h) || !same_number(x->g, y->g) || !same_number(x->r, y->r) ||
            g_strcmp0(x->provenance, y->provenance) != 0 ||
            g_strcmp0(x->g_source, y->g_source) != 0 || x->h_age_us != y->h_age_us ||
            x->g_age_us != y->g_age_us || y->reason)
            return g_strdup_printf("value %s", reconcile_resource_name(i));
    }
    if (a->findings->len != b->findings->len)
        return g_strdup("the number of findings");
    for (guint i = 0; i < a->findings->len; i++) {
        const struct reconcile_finding *x = g_ptr_array_index(a->findings, i);
        const struct reconcile_finding *y = g_ptr_array_index(b->findings, i);
        if (x->rule != y->rule || x->state != y->state || x->severity != y->severity ||
            !same_number(x->measure, y->measure) || x->since_us != y->since_us ||
            x->changed_us != y->changed_us)
            return g_strdup_printf("finding %s", x->id);
    }
    return NULL;
}

char *reconcile_scenario_run(const struct reconcile_scenario *sc, GError **error)
{
    g_autoptr(GString) out = g_string_new(NULL);
    const void *last[SIDE_N] = {NULL}, *before[SIDE_N] = {NULL};
    g_autoptr(GHashTable) pool_last = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *state_text = NULL;
    if (sc->comment)
        g_string_append_printf(out, "# %s\n", sc->comment);
    for (guint n = 0; n < sc->rounds->len; n++) {
        const struct sround *r = g_ptr_array_index(sc->rounds, n);
        struct reconcile_input in = {
            .now_us = (int64_t)(r->now_s * 1e6 + 0.5),
            .disks = sc->disks,
            .n_disks = sc->n_disks,
            .config = &sc->cfg,
        };
        const void *cur = NULL, *prev = NULL;
        side_step(r->mode[SIDE_HOST], &r->host, &last[SIDE_HOST], &before[SIDE_HOST], &cur, &prev);
        in.host = cur;
        in.host_prev = prev;
        struct reconcile_guest *gs[SIDE_N] = {NULL, &in.qga, &in.balloon, &in.guestd};
        for (int s = SIDE_QGA; s < SIDE_N; s++) {
            side_step(r->mode[s], &r->guest[s], &last[s], &before[s], &cur, &prev);
            gs[s]->cur = cur;
            gs[s]->prev = prev;
        }
        g_autofree struct reconcile_pool *pools = g_new0(struct reconcile_pool, r->pools->len + 1);
        for (guint i = 0; i < r->pools->len; i++) {
            const struct pool_sample *p = &g_array_index(r->pools, struct pool_sample, i);
            pools[i].name = p->name;
            pools[i].cur = p;
            pools[i].prev = g_hash_table_lookup(pool_last, p->name);
        }
        in.pools = pools;
        in.n_pools = r->pools->len;

        g_autoptr(reconcile_state) st = NULL;
        if (state_text) {
            st = reconcile_state_from_json(state_text, strlen(state_text), error);
            if (!st)
                return NULL;
        }
        in.state = st;
        g_autoptr(reconcile_result) res = reconcile_run(&in);
        in.quiet = true;
        g_autoptr(reconcile_result) quiet = reconcile_run(&in);
        g_autofree char *diff = quiet_differs(res, quiet);
        if (diff) {
            g_set_error(error, SCENARIO_ERROR, 0, "round %u: a quiet run decides another %s", n + 1,
                        diff);
            return NULL;
        }
        dump_round(out, n + 1, r, res);
        g_free(state_text);
        state_text = reconcile_state_to_json(res->state);
        for (guint i = 0; i < r->pools->len; i++) {
            struct pool_sample *p = &g_array_index(r->pools, struct pool_sample, i);
            g_hash_table_insert(pool_last, p->name, p);
        }
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}
