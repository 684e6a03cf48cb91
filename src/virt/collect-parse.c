/*
 * Pure transformations of the collectors: bulk-stats records and guest
 * agent replies into samples (collect.h).  No I/O, no logging.
 */
#include "config.h"

#include "virt/collect.h"

#include "basic/json.h"
#include "basic/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

G_DEFINE_QUARK(kanri_collect_error_quark, collect_error)

#define KIB 1024ULL

/* ---- host view ---- */

struct item {
    bool used;
    char *name;
    char *path;
    uint64_t f[12];
};

static uint64_t param_u64(const virTypedParameter *p, bool *ok)
{
    *ok = true;
    switch (p->type) {
    case VIR_TYPED_PARAM_INT:
        *ok = p->value.i >= 0;
        return (uint64_t)p->value.i;
    case VIR_TYPED_PARAM_UINT:
        return p->value.ui;
    case VIR_TYPED_PARAM_LLONG:
        *ok = p->value.l >= 0;
        return (uint64_t)p->value.l;
    case VIR_TYPED_PARAM_ULLONG:
        return p->value.ul;
    default:
        *ok = false;
        return 0;
    }
}

/* Adds V to *SUM unless V is absent; the sum becomes present. */
static void add_to(uint64_t *sum, uint64_t v)
{
    if (v == SAMPLE_ABSENT)
        return;
    *sum = *sum == SAMPLE_ABSENT ? v : *sum + v;
}

/* "vcpu.3.delay" with PREFIX "vcpu." gives index 3 and *ret_field "delay". */
static bool split_indexed(const char *field, const char *prefix, unsigned *ret_idx,
                          const char **ret_field)
{
    size_t pl = strlen(prefix);
    if (strncmp(field, prefix, pl) != 0 || !g_ascii_isdigit(field[pl]))
        return false;
    char *end = NULL;
    guint64 idx = g_ascii_strtoull(field + pl, &end, 10);
    if (*end != '.' || idx >= COLLECT_MAX_ITEMS)
        return false;
    *ret_idx = (unsigned)idx;
    *ret_field = end + 1;
    return true;
}

enum { V_STATE, V_TIME, V_WAIT, V_DELAY };
static const char *const vcpu_fields[] = {"state", "time", "wait", "delay", NULL};
enum { B_RD_BYTES, B_WR_BYTES, B_RD_REQS, B_WR_REQS, B_ALLOC, B_CAP, B_PHYS };
static const char *const block_fields[] = {"rd.bytes",   "wr.bytes", "rd.reqs",  "wr.reqs",
                                           "allocation", "capacity", "physical", NULL};
enum { N_RX_BYTES, N_TX_BYTES, N_RX_PKTS, N_TX_PKTS, N_RX_DROP, N_TX_DROP, N_RX_ERRS, N_TX_ERRS };
static const char *const net_fields[] = {"rx.bytes", "tx.bytes", "rx.pkts", "tx.pkts", "rx.drop",
                                         "tx.drop",  "rx.errs",  "tx.errs", NULL};

static int field_index(const char *const *fields, const char *f)
{
    for (int i = 0; fields[i]; i++) {
        if (g_str_equal(fields[i], f))
            return i;
    }
    return -1;
}

static struct item *item_at(GArray *items, unsigned idx)
{
    if (idx >= items->len)
        g_array_set_size(items, idx + 1);
    struct item *it = &g_array_index(items, struct item, idx);
    if (!it->used) {
        it->used = true;
        for (size_t k = 0; k < G_N_ELEMENTS(it->f); k++)
            it->f[k] = SAMPLE_ABSENT;
    }
    return it;
}

static void item_clear(gpointer p)
{
    struct item *it = p;
    g_free(it->name);
    g_free(it->path);
}

static char *items_json(GArray *items, const char *const *fields, const char *const *keys)
{
    json_object *arr = json_object_new_array();
    for (guint i = 0; i < items->len; i++) {
        struct item *it = &g_array_index(items, struct item, i);
        if (!it->used)
            continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_int((int)i));
        if (it->name)
            json_object_object_add(o, "name", json_object_new_string(it->name));
        if (it->path)
            json_object_object_add(o, "path", json_object_new_string(it->path));
        for (int k = 0; fields[k]; k++) {
            if (it->f[k] != SAMPLE_ABSENT)
                json_object_object_add(o, keys[k], json_object_new_int64((int64_t)it->f[k]));
        }
        json_object_array_add(arr, o);
    }
    char *s = g_strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    return s;
}

void collect_parse_record(const virTypedParameter *params, int n, struct host_sample *hs,
                          struct guest_sample *balloon, struct balloon_info *bi)
{
    g_autoptr(GArray) vcpus = g_array_new(FALSE, TRUE, sizeof(struct item));
    g_autoptr(GArray) blocks = g_array_new(FALSE, TRUE, sizeof(struct item));
    g_autoptr(GArray) nics = g_array_new(FALSE, TRUE, sizeof(struct item));
    g_array_set_clear_func(vcpus, item_clear);
    g_array_set_clear_func(blocks, item_clear);
    g_array_set_clear_func(nics, item_clear);
    json_object *extra = json_object_new_object();
    memset(bi, 0, sizeof(*bi));

    for (int i = 0; i < n; i++) {
        const virTypedParameter *p = &params[i];
        const char *f = p->field;
        bool ok;
        uint64_t v = param_u64(p, &ok);
        unsigned idx;
        const char *sub;

        if (g_str_equal(f, "state.state") && p->type == VIR_TYPED_PARAM_INT) {
            hs->state = p->value.i;
        } else if (g_str_equal(f, "state.reason") && p->type == VIR_TYPED_PARAM_INT) {
            hs->state_reason = p->value.i;
        } else if (!ok) {
            /* Strings (names, paths) are handled below; other types are not
             * figures we store. */
            if (p->type != VIR_TYPED_PARAM_STRING || !p->value.s)
                continue;
            char **dst = NULL;
            if (split_indexed(f, "block.", &idx, &sub) && g_str_equal(sub, "name"))
                dst = &item_at(blocks, idx)->name;
            else if (split_indexed(f, "block.", &idx, &sub) && g_str_equal(sub, "path"))
                dst = &item_at(blocks, idx)->path;
            else if (split_indexed(f, "net.", &idx, &sub) && g_str_equal(sub, "name"))
                dst = &item_at(nics, idx)->name;
            if (dst && g_utf8_validate(p->value.s, -1, NULL) && strlen(p->value.s) < 4096) {
                g_free(*dst);
                *dst = g_strdup(p->value.s);
            }
        } else if (g_str_equal(f, "cpu.time")) {
            hs->cpu_time_ns = v;
        } else if (g_str_equal(f, "cpu.user")) {
            hs->cpu_user_ns = v;
        } else if (g_str_equal(f, "cpu.system")) {
            hs->cpu_system_ns = v;
        } else if (g_str_equal(f, "vcpu.current")) {
            hs->vcpu_count = v;
        } else if (split_indexed(f, "vcpu.", &idx, &sub)) {
            int k = field_index(vcpu_fields, sub);
            if (k >= 0)
                item_at(vcpus, idx)->f[k] = v;
        } else if (g_str_equal(f, "balloon.current")) {
            hs->balloon_current = v * KIB;
        } else if (g_str_equal(f, "balloon.maximum")) {
            hs->balloon_maximum = v * KIB;
        } else if (g_str_equal(f, "balloon.rss")) {
            hs->balloon_rss = v * KIB;
        } else if (g_str_has_prefix(f, "balloon.")) {
            /* Everything else under balloon. is what the guest's balloon
             * driver reported: the guest view. */
            const char *k = f + strlen("balloon.");
            bi->present = true;
            if (g_str_equal(k, "last-update"))
                bi->last_update_us =
                    v > (uint64_t)(G_MAXINT64 / G_USEC_PER_SEC) ? 0 : (int64_t)v * G_USEC_PER_SEC;
            else if (g_str_equal(k, "available"))
                balloon->mem_total = v * KIB;
            else if (g_str_equal(k, "unused"))
                balloon->mem_free = v * KIB;
            else if (g_str_equal(k, "usable"))
                balloon->mem_available = v * KIB;
            else if (g_str_equal(k, "disk_caches"))
                balloon->mem_cached = v * KIB;
            else if (g_str_equal(k, "major_fault"))
                balloon->major_faults = v;
            else if (g_str_equal(k, "minor_fault"))
                balloon->minor_faults = v;
            else
                /* swap_in/swap_out are KiB, not the pages guest_sample
                 * counts; hugetlb_*: counts.  Kept as reported. */
                json_object_object_add(extra, k,
                                       json_object_new_int64((int64_t)MIN(v, G_MAXINT64)));
        } else if (g_str_equal(f, "block.count")) {
            hs->block_count = v;
        } else if (split_indexed(f, "block.", &idx, &sub)) {
            int k = field_index(block_fields, sub);
            if (k >= 0)
                item_at(blocks, idx)->f[k] = v;
        } else if (g_str_equal(f, "net.count")) {
            hs->net_count = v;
        } else if (split_indexed(f, "net.", &idx, &sub)) {
            int k = field_index(net_fields, sub);
            if (k >= 0)
                item_at(nics, idx)->f[k] = v;
        }
    }

    for (guint i = 0; i < vcpus->len; i++) {
        struct item *it = &g_array_index(vcpus, struct item, i);
        if (!it->used)
            continue;
        add_to(&hs->vcpu_time_ns, it->f[V_TIME]);
        add_to(&hs->vcpu_wait_ns, it->f[V_WAIT]);
        add_to(&hs->vcpu_delay_ns, it->f[V_DELAY]);
    }
    uint64_t *bsum[] = {&hs->block_rd_bytes, &hs->block_wr_bytes,   &hs->block_rd_reqs,
                        &hs->block_wr_reqs,  &hs->block_allocation, &hs->block_capacity,
                        &hs->block_physical};
    for (guint i = 0; i < blocks->len; i++) {
        struct item *it = &g_array_index(blocks, struct item, i);
        for (size_t k = 0; it->used && k < G_N_ELEMENTS(bsum); k++)
            add_to(bsum[k], it->f[k]);
    }
    uint64_t *nsum[] = {&hs->net_rx_bytes, &hs->net_tx_bytes, &hs->net_rx_pkts, &hs->net_tx_pkts,
                        &hs->net_rx_drop,  &hs->net_tx_drop,  &hs->net_rx_errs, &hs->net_tx_errs};
    for (guint i = 0; i < nics->len; i++) {
        struct item *it = &g_array_index(nics, struct item, i);
        for (size_t k = 0; it->used && k < G_N_ELEMENTS(nsum); k++)
            add_to(nsum[k], it->f[k]);
    }
    static const char *const vcpu_keys[] = {"state", "time_ns", "wait_ns", "delay_ns"};
    static const char *const block_keys[] = {"rd_bytes",      "wr_bytes",         "rd_reqs",
                                             "wr_reqs",       "allocation_bytes", "capacity_bytes",
                                             "physical_bytes"};
    static const char *const net_keys[] = {"rx_bytes", "tx_bytes", "rx_pkts", "tx_pkts",
                                           "rx_drop",  "tx_drop",  "rx_errs", "tx_errs"};
    if (vcpus->len)
        hs->vcpus_json = items_json(vcpus, vcpu_fields, vcpu_keys);
    if (blocks->len)
        hs->blocks_json = items_json(blocks, block_fields, block_keys);
    if (nics->len)
        hs->nics_json = items_json(nics, net_fields, net_keys);

    if (bi->present && balloon) {
        balloon->time_us = bi->last_update_us;
        if (json_object_object_length(extra) > 0)
            balloon->extra_json =
                g_strdup(json_object_to_json_string_ext(extra, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(extra);
}

enum balloon_status collect_balloon_status(const char *model, const struct balloon_info *bi,
                                           int period_s, int interval_s, int64_t now_us,
                                           char **ret_reason)
{
    *ret_reason = NULL;
    if (model && g_str_equal(model, "none")) {
        *ret_reason = g_strdup("the domain has no memory balloon (<memballoon model='none'>): "
                               "the guest does not report its memory use to the host");
        return BALLOON_NO_DEVICE;
    }
    if (!bi->present || bi->last_update_us <= 0) {
        if (model && !g_str_has_prefix(model, "virtio"))
            *ret_reason = g_strdup_printf("balloon model '%s' reports no guest statistics", model);
        else
            *ret_reason = g_strdup("the balloon driver has not reported statistics yet "
                                   "(no driver in the guest, or no stats period set)");
        return BALLOON_NO_STATS;
    }
    int64_t limit = (int64_t)(3 * MAX(period_s, 1) + MAX(interval_s, 1)) * G_USEC_PER_SEC;
    int64_t age = now_us - bi->last_update_us;
    if (age > limit) {
        g_autofree char *t = time_format_rfc3339(bi->last_update_us);
        *ret_reason =
            g_strdup_printf("balloon statistics are stale: last update %s, %" G_GINT64_FORMAT
                            " s ago (period %d s)",
                            t ? t : "?", age / G_USEC_PER_SEC, period_s);
        return BALLOON_STALE;
    }
    return BALLOON_OK;
}

/* ---- agent replies ---- */

json_object *qga_parse_reply(const char *text, size_t len, GError **error)
{
    static const struct json_limits lim = {.max_bytes = QGA_MAX_REPLY, .max_depth = QGA_MAX_DEPTH};
    if (!text) {
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED, "empty reply");
        return NULL;
    }
    g_autoptr(GError) jerr = NULL;
    json_object *o = NULL;
    if (!json_parse_strict(text, len, &lim, &o, &jerr)) {
        bool bound = g_error_matches(jerr, JSON_ERROR, JSON_ERROR_TOO_LARGE) ||
                     g_error_matches(jerr, JSON_ERROR, JSON_ERROR_TOO_DEEP);
        g_set_error(error, COLLECT_ERROR, bound ? COLLECT_ERROR_TOO_LARGE : COLLECT_ERROR_MALFORMED,
                    "reply: %s", jerr->message);
        return NULL;
    }
    json_object *ret = NULL, *err = NULL;
    if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "error", &err)) {
        json_object *desc = json_object_object_get(err, "desc");
        g_autofree char *d =
            g_strndup(json_object_is_type(desc, json_type_string) ? json_object_get_string(desc)
                                                                  : "no description",
                      200);
        json_object_put(o);
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_AGENT, "agent error: %s", d);
        return NULL;
    }
    if (!json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "return", &ret) || json_object_object_length(o) != 1) {
        json_object_put(o);
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                    "reply is not an object holding only \"return\"");
        return NULL;
    }
    if (!ret) {
        /* Passed on, it would be a NULL result without an error. */
        json_object_put(o);
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED, "reply's \"return\" is null");
        return NULL;
    }
    json_object_get(ret);
    json_object_put(o);
    return ret;
}

/* A JSON integer in [0, MAX]; json-c keeps integers above INT64_MAX as
 * uint64, which we accept only up to MAX. */
static bool get_u64(json_object *o, const char *key, uint64_t max, bool required, uint64_t *ret,
                    GError **error)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v) {
        if (required)
            g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED, "'%s' is missing", key);
        *ret = SAMPLE_ABSENT;
        return !required;
    }
    if (!json_object_is_type(v, json_type_int)) {
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED, "'%s' is not an integer", key);
        return false;
    }
    errno = 0;
    int64_t i = json_object_get_int64(v);
    uint64_t u = i >= 0 ? (uint64_t)i : 0;
    if (i == INT64_MAX) /* may be larger: json-c saturates int64, read as unsigned */
        u = json_object_get_uint64(v);
    if (i < 0 || u > max) {
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                    "'%s' is out of range (0 to %" G_GUINT64_FORMAT ")", key, max);
        return false;
    }
    *ret = u;
    return true;
}

bool qga_apply_time(json_object *ret, struct guest_sample *s, GError **error)
{
    if (!json_object_is_type(ret, json_type_int) || json_object_get_int64(ret) <= 0) {
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                    "guest-get-time: expected a positive integer of nanoseconds");
        return false;
    }
    s->time_us = json_object_get_int64(ret) / 1000;
    return true;
}

/* A CPU counter in ms must fit in ns: 2^63 ns is 292 years. */
#define MS_MAX (G_MAXINT64 / 1000000)

bool qga_apply_cpustats(json_object *ret, struct guest_sample *s, GError **error)
{
    static const char *const keys[] = {"user",   "nice", "system",  "idle",
                                       "iowait", "irq",  "softirq", "steal"};
    static const bool required[] = {true, true, true, true, false, false, false, false};
    uint64_t sums[G_N_ELEMENTS(keys)];
    if (!json_object_is_type(ret, json_type_array)) {
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                    "guest-get-cpustats: expected an array");
        return false;
    }
    size_t n = json_object_array_length(ret);
    if (n == 0 || n > QGA_MAX_CPUS) {
        g_set_error(error, COLLECT_ERROR, n ? COLLECT_ERROR_TOO_LARGE : COLLECT_ERROR_MALFORMED,
                    "guest-get-cpustats: %zu CPUs (expected 1 to %d)", n, QGA_MAX_CPUS);
        return false;
    }
    for (size_t k = 0; k < G_N_ELEMENTS(keys); k++)
        sums[k] = SAMPLE_ABSENT;
    g_autofree guint8 *seen = g_new0(guint8, QGA_MAX_CPUS);
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(ret, i);
        json_object *type = NULL;
        uint64_t cpu;
        if (!json_object_is_type(c, json_type_object)) {
            g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                        "guest-get-cpustats: entry %zu is not an object", i);
            return false;
        }
        if (!json_object_object_get_ex(c, "type", &type) ||
            !json_object_is_type(type, json_type_string) ||
            (!g_str_equal(json_object_get_string(type), "linux") &&
             !g_str_equal(json_object_get_string(type), "linuxos"))) {
            /* QEMU 7.1 released the discriminator as "linux"; its drafts said
             * "linuxos".  Windows agents have no cpustats at all. */
            g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                        "guest-get-cpustats: entry %zu: type is not \"linux\"", i);
            return false;
        }
        if (!get_u64(c, "cpu", QGA_MAX_CPUS - 1, true, &cpu, error)) {
            g_prefix_error(error, "guest-get-cpustats: entry %zu: ", i);
            return false;
        }
        if (seen[cpu]++) {
            g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                        "guest-get-cpustats: CPU %" G_GUINT64_FORMAT " listed twice", cpu);
            return false;
        }
        for (size_t k = 0; k < G_N_ELEMENTS(keys); k++) {
            uint64_t ms;
            if (!get_u64(c, keys[k], MS_MAX, required[k], &ms, error)) {
                g_prefix_error(error, "guest-get-cpustats: CPU %" G_GUINT64_FORMAT ": ", cpu);
                return false;
            }
            if (ms == SAMPLE_ABSENT)
                continue;
            uint64_t ns = ms * 1000000ULL;
            if (sums[k] != SAMPLE_ABSENT && sums[k] > (uint64_t)G_MAXINT64 - ns) {
                g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                            "guest-get-cpustats: %s overflows when summed", keys[k]);
                return false;
            }
            add_to(&sums[k], ns);
        }
    }
    uint64_t *dst[] = {&s->cpu_user_ns,   &s->cpu_nice_ns, &s->cpu_system_ns,  &s->cpu_idle_ns,
                       &s->cpu_iowait_ns, &s->cpu_irq_ns,  &s->cpu_softirq_ns, &s->cpu_steal_ns};
    for (size_t k = 0; k < G_N_ELEMENTS(keys); k++)
        *dst[k] = sums[k];
    s->cpu_count = n;
    return true;
}

static bool valid_name(const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len == 0 || len > max)
        return false;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isgraph(*p))
            return false;
    }
    return true;
}

/* Whole disks only: a partition is NAME = other entry's name + [p] digits. */
static bool is_summed_disk(const char *name, GPtrArray *names)
{
    static const char *const skip[] = {"loop", "ram", "zram", "dm-", "md", "nbd", NULL};
    for (int i = 0; skip[i]; i++) {
        if (g_str_has_prefix(name, skip[i]))
            return false;
    }
    for (guint i = 0; i < names->len; i++) {
        const char *other = g_ptr_array_index(names, i);
        size_t ol = strlen(other);
        if (g_str_equal(other, name) || strncmp(name, other, ol) != 0)
            continue;
        const char *rest = name + ol;
        if (*rest == 'p')
            rest++;
        if (!*rest)
            continue;
        bool digits = true;
        for (const char *p = rest; *p; p++)
            digits &= g_ascii_isdigit(*p) != 0;
        if (digits)
            return false;
    }
    return true;
}

bool qga_apply_diskstats(json_object *ret, struct guest_sample *s, GError **error)
{
    if (!json_object_is_type(ret, json_type_array)) {
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                    "guest-get-diskstats: expected an array");
        return false;
    }
    size_t n = json_object_array_length(ret);
    if (n > QGA_MAX_DISKS) {
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_TOO_LARGE,
                    "guest-get-diskstats: %zu disks (limit %d)", n, QGA_MAX_DISKS);
        return false;
    }
    static const char *const keys[] = {"read-sectors", "write-sectors", "read-ios", "write-ios"};
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autoptr(GArray) vals = g_array_new(FALSE, FALSE, sizeof(uint64_t) * 4);
    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(ret, i), *name = NULL, *stats = NULL;
        if (!json_object_is_type(d, json_type_object) ||
            !json_object_object_get_ex(d, "name", &name) ||
            !json_object_is_type(name, json_type_string) ||
            (size_t)json_object_get_string_len(name) != strlen(json_object_get_string(name)) ||
            !valid_name(json_object_get_string(name), 64)) {
            g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                        "guest-get-diskstats: entry %zu has no valid name", i);
            return false;
        }
        uint64_t v[4] = {SAMPLE_ABSENT, SAMPLE_ABSENT, SAMPLE_ABSENT, SAMPLE_ABSENT};
        if (json_object_object_get_ex(d, "stats", &stats)) {
            if (!json_object_is_type(stats, json_type_object)) {
                g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                            "guest-get-diskstats: %s: stats is not an object",
                            json_object_get_string(name));
                return false;
            }
            for (size_t k = 0; k < 4; k++) {
                /* Sectors are 512 bytes, so keep them below 2^54. */
                if (!get_u64(stats, keys[k], G_MAXINT64 / 512, false, &v[k], error)) {
                    g_prefix_error(error,
                                   "guest-get-diskstats: %s: ", json_object_get_string(name));
                    return false;
                }
            }
        }
        g_ptr_array_add(names, (gpointer)json_object_get_string(name));
        g_array_append_vals(vals, v, 1);
    }
    json_object *arr = json_object_new_array();
    uint64_t sum[4] = {SAMPLE_ABSENT, SAMPLE_ABSENT, SAMPLE_ABSENT, SAMPLE_ABSENT};
    bool any = false;
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        const uint64_t *v = (const uint64_t *)(vals->data + (size_t)i * sizeof(uint64_t) * 4);
        bool summed = is_summed_disk(name, names);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "summed", json_object_new_boolean(summed));
        static const char *const out[] = {"read_bytes", "write_bytes", "reads", "writes"};
        for (size_t k = 0; k < 4; k++) {
            uint64_t x = v[k] == SAMPLE_ABSENT ? SAMPLE_ABSENT : (k < 2 ? v[k] * 512 : v[k]);
            if (x != SAMPLE_ABSENT)
                json_object_object_add(o, out[k], json_object_new_int64((int64_t)x));
            if (summed) {
                if (x != SAMPLE_ABSENT && sum[k] != SAMPLE_ABSENT &&
                    sum[k] > (uint64_t)G_MAXINT64 - x) {
                    json_object_put(arr);
                    g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                                "guest-get-diskstats: totals overflow");
                    return false;
                }
                add_to(&sum[k], x);
            }
        }
        any |= summed;
        json_object_array_add(arr, o);
    }
    s->disk_read_bytes = sum[0];
    s->disk_write_bytes = sum[1];
    s->disk_reads = sum[2];
    s->disk_writes = sum[3];
    if (!any) {
        /* No whole disk: say "none" with zeros only if the guest listed
         * nothing at all; otherwise leave the totals absent. */
        if (n == 0)
            s->disk_read_bytes = s->disk_write_bytes = s->disk_reads = s->disk_writes = 0;
    }
    g_free(s->disks_json);
    s->disks_json = g_strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    return true;
}

/* ---- virDomainGetGuestInfo ---- */

/* Single known fields are read with libvirt's getters, which also check the
 * type libvirt documents for each field; a field of another type counts as
 * absent, as a missing one does.  (The getters take a non-const array but
 * only read it.) */
static const char *tp_str(const virTypedParameter *params, int n, const char *name)
{
    const char *s = NULL;
    if (virTypedParamsGetString((virTypedParameterPtr)params, n, name, &s) != 1)
        return NULL;
    return s;
}

static uint64_t tp_uint(const virTypedParameter *params, int n, const char *name)
{
    unsigned int v = 0;
    if (virTypedParamsGetUInt((virTypedParameterPtr)params, n, name, &v) != 1)
        return SAMPLE_ABSENT;
    return v;
}

static uint64_t tp_ullong(const virTypedParameter *params, int n, const char *name)
{
    unsigned long long v = 0;
    if (virTypedParamsGetULLong((virTypedParameterPtr)params, n, name, &v) != 1)
        return SAMPLE_ABSENT;
    return v;
}

static void add_str(json_object *o, const char *key, const char *val, size_t max)
{
    if (val && g_utf8_validate(val, -1, NULL))
        json_object_object_add(o, key, json_object_new_string_len(val, (int)MIN(strlen(val), max)));
}

bool collect_apply_guestinfo(const virTypedParameter *params, int n, struct guest_sample *s,
                             GError **error)
{
    json_object *extra = json_object_new_object();
    static const char *const os_keys[] = {
        "os.id", "os.name", "os.version-id", "os.kernel-release", "os.machine", NULL};
    for (int i = 0; os_keys[i]; i++)
        add_str(extra, os_keys[i] + 3, tp_str(params, n, os_keys[i]), 256);
    add_str(extra, "hostname", tp_str(params, n, "hostname"), 256);

    uint64_t count = tp_uint(params, n, "fs.count");
    if (count != SAMPLE_ABSENT && count > QGA_MAX_FS) {
        json_object_put(extra);
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_TOO_LARGE,
                    "guest info: %" G_GUINT64_FORMAT " file systems (limit %d)", count, QGA_MAX_FS);
        return false;
    }
    json_object *fsarr = json_object_new_array();
    uint64_t total = SAMPLE_ABSENT, used = SAMPLE_ABSENT;
    for (uint64_t i = 0; count != SAMPLE_ABSENT && i < count; i++) {
        char key[64];
        snprintf(key, sizeof(key), "fs.%" G_GUINT64_FORMAT ".total-bytes", i);
        uint64_t t = tp_ullong(params, n, key);
        snprintf(key, sizeof(key), "fs.%" G_GUINT64_FORMAT ".used-bytes", i);
        uint64_t u = tp_ullong(params, n, key);
        if (t != SAMPLE_ABSENT && u != SAMPLE_ABSENT && u > t) {
            json_object_put(fsarr);
            json_object_put(extra);
            g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_MALFORMED,
                        "guest info: file system %" G_GUINT64_FORMAT " claims %" G_GUINT64_FORMAT
                        " bytes used of %" G_GUINT64_FORMAT,
                        i, u, t);
            return false;
        }
        json_object *o = json_object_new_object();
        snprintf(key, sizeof(key), "fs.%" G_GUINT64_FORMAT ".mountpoint", i);
        add_str(o, "mountpoint", tp_str(params, n, key), 4096);
        snprintf(key, sizeof(key), "fs.%" G_GUINT64_FORMAT ".name", i);
        add_str(o, "name", tp_str(params, n, key), 256);
        snprintf(key, sizeof(key), "fs.%" G_GUINT64_FORMAT ".fstype", i);
        add_str(o, "fstype", tp_str(params, n, key), 64);
        if (t != SAMPLE_ABSENT)
            json_object_object_add(o, "total_bytes",
                                   json_object_new_int64((int64_t)MIN(t, G_MAXINT64)));
        if (u != SAMPLE_ABSENT)
            json_object_object_add(o, "used_bytes",
                                   json_object_new_int64((int64_t)MIN(u, G_MAXINT64)));
        json_object_array_add(fsarr, o);
        if (t != SAMPLE_ABSENT && u != SAMPLE_ABSENT && t < (uint64_t)G_MAXINT64 / 2) {
            add_to(&total, t);
            add_to(&used, u);
        }
    }
    s->fs_total = total;
    s->fs_used = used;
    s->fs_avail = total != SAMPLE_ABSENT ? total - used : SAMPLE_ABSENT;
    if (count != SAMPLE_ABSENT) {
        g_free(s->filesystems_json);
        s->filesystems_json =
            g_strdup(json_object_to_json_string_ext(fsarr, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(fsarr);

    uint64_t nif = tp_uint(params, n, "if.count");
    if (nif != SAMPLE_ABSENT && nif > QGA_MAX_IFACES) {
        json_object_put(extra);
        g_set_error(error, COLLECT_ERROR, COLLECT_ERROR_TOO_LARGE,
                    "guest info: %" G_GUINT64_FORMAT " interfaces (limit %d)", nif, QGA_MAX_IFACES);
        return false;
    }
    if (nif != SAMPLE_ABSENT) {
        json_object *arr = json_object_new_array();
        for (uint64_t i = 0; i < nif; i++) {
            char key[64];
            json_object *o = json_object_new_object();
            snprintf(key, sizeof(key), "if.%" G_GUINT64_FORMAT ".name", i);
            add_str(o, "name", tp_str(params, n, key), 64);
            snprintf(key, sizeof(key), "if.%" G_GUINT64_FORMAT ".hwaddr", i);
            add_str(o, "mac", tp_str(params, n, key), 64);
            snprintf(key, sizeof(key), "if.%" G_GUINT64_FORMAT ".addr.count", i);
            uint64_t na = tp_uint(params, n, key);
            json_object *addrs = json_object_new_array();
            for (uint64_t a = 0; na != SAMPLE_ABSENT && a < MIN(na, 64); a++) {
                snprintf(key, sizeof(key),
                         "if.%" G_GUINT64_FORMAT ".addr.%" G_GUINT64_FORMAT ".addr", i, a);
                const char *addr = tp_str(params, n, key);
                if (addr && g_utf8_validate(addr, -1, NULL) && strlen(addr) < 64)
                    json_object_array_add(addrs, json_object_new_string(addr));
            }
            json_object_object_add(o, "addresses", addrs);
            json_object_array_add(arr, o);
        }
        g_free(s->nics_json);
        s->nics_json = g_strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
        json_object_put(arr);
    }

    /* load.1m etc. exist only in newer libvirt (type LOAD); doubles. */
    static const char *const load_keys[] = {"load.1m", "load.5m", "load.15m"};
    uint64_t *load_dst[] = {&s->load1_milli, &s->load5_milli, &s->load15_milli};
    for (size_t k = 0; k < 3; k++) {
        double d = 0;
        if (virTypedParamsGetDouble((virTypedParameterPtr)params, n, load_keys[k], &d) == 1 &&
            d >= 0 && d < 1e9)
            *load_dst[k] = (uint64_t)(d * 1000 + 0.5);
    }
    if (json_object_object_length(extra) > 0) {
        g_free(s->extra_json);
        s->extra_json = g_strdup(json_object_to_json_string_ext(extra, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(extra);
    return true;
}
