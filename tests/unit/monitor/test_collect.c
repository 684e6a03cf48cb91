/*
 * The collectors' pure half and the history arithmetic, on golden data in
 * tests/data/collect/ (KANRI_REGEN_GOLDEN=1 rewrites the .out files):
 *
 *   record-*.in   bulk-stats record as "field type value" lines
 *                 -> host sample, guest-reported balloon sample, balloon status
 *   rates-*.in    several records, each after "@t=SECONDS [dom_id=N]"
 *                 -> rates of every counter and the 5-minute bucket
 *   qga-*.in      first line "#cmd time|cpustats|diskstats", then the raw
 *                 agent reply -> the guest sample, or why it was rejected
 *   guestinfo-*.in  virDomainGetGuestInfo parameters -> guest sample
 *
 * plus generated hostile agent replies (oversized, deep, huge counts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"

#include "store/series.h"
#include "virt/collect.h"

#include <libvirt/virterror.h>

#define DATA TEST_DATA_DIR "/collect"

static GPtrArray *list_dir(const char *prefix)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = g_dir_open(DATA, 0, NULL);
    assert_non_null(d);
    const char *n;
    while ((n = g_dir_read_name(d))) {
        if (g_str_has_prefix(n, prefix) && g_str_has_suffix(n, ".in"))
            g_ptr_array_add(names, g_strdup(n));
    }
    g_ptr_array_sort(names, (GCompareFunc)g_ascii_strcasecmp);
    assert_true(names->len > 0);
    return names;
}

/* ---- typed parameters from text ---- */

static void params_add(GArray *params, const char *line)
{
    g_auto(GStrv) w = g_strsplit(line, " ", 3);
    assert_true(g_strv_length(w) == 3);
    virTypedParameter p;
    memset(&p, 0, sizeof(p));
    g_strlcpy(p.field, w[0], sizeof(p.field));
    if (g_str_equal(w[1], "int")) {
        p.type = VIR_TYPED_PARAM_INT;
        p.value.i = (int)g_ascii_strtoll(w[2], NULL, 10);
    } else if (g_str_equal(w[1], "uint")) {
        p.type = VIR_TYPED_PARAM_UINT;
        p.value.ui = (unsigned)g_ascii_strtoull(w[2], NULL, 10);
    } else if (g_str_equal(w[1], "llong")) {
        p.type = VIR_TYPED_PARAM_LLONG;
        p.value.l = g_ascii_strtoll(w[2], NULL, 10);
    } else if (g_str_equal(w[1], "ullong")) {
        p.type = VIR_TYPED_PARAM_ULLONG;
        p.value.ul = g_ascii_strtoull(w[2], NULL, 10);
    } else if (g_str_equal(w[1], "double")) {
        p.type = VIR_TYPED_PARAM_DOUBLE;
        p.value.d = g_ascii_strtod(w[2], NULL);
    } else if (g_str_equal(w[1], "string")) {
        p.type = VIR_TYPED_PARAM_STRING;
        p.value.s = g_strdup(w[2]);
    } else {
        fail_msg("unknown type %s", w[1]);
    }
    g_array_append_val(params, p);
}

static void params_free(GArray *params)
{
    for (guint i = 0; i < params->len; i++) {
        virTypedParameter *p = &g_array_index(params, virTypedParameter, i);
        if (p->type == VIR_TYPED_PARAM_STRING)
            g_free(p->value.s);
    }
    g_array_unref(params);
}

/* ---- dumps ---- */

static void dump_metrics(GString *out, const struct series_kind *kind, const void *sample)
{
    for (size_t i = 0; i < kind->n_metrics; i++) {
        uint64_t v = series_sample_value(kind, i, sample);
        if (v != SAMPLE_ABSENT)
            g_string_append_printf(out, "  %s = %" G_GUINT64_FORMAT "\n", kind->metrics[i].name, v);
    }
}

static void dump_guest(GString *out, const struct guest_sample *g)
{
    g_string_append_printf(out, "  time_us = %" G_GINT64_FORMAT "\n", g->time_us);
    dump_metrics(out, &series_vm_guest, g);
    const char *names[] = {"filesystems", "disks", "nics", "extra"};
    const char *vals[] = {g->filesystems_json, g->disks_json, g->nics_json, g->extra_json};
    for (int i = 0; i < 4; i++) {
        if (vals[i])
            g_string_append_printf(out, "  %s = %s\n", names[i], vals[i]);
    }
}

static const char *status_name(enum balloon_status s)
{
    static const char *const n[] = {"ok", "no-device", "no-stats", "stale"};
    return n[s];
}

/* ---- record golden ---- */

static char *record_to_text(const char *text)
{
    GString *out = g_string_new(NULL);
    GArray *params = g_array_new(FALSE, TRUE, sizeof(virTypedParameter));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    const char *model = "virtio";
    int64_t now = 0;
    for (int i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "#model "))
            model = g_str_equal(lines[i] + 7, "(absent)") ? NULL : lines[i] + 7;
        else if (g_str_has_prefix(lines[i], "#now "))
            now = g_ascii_strtoll(lines[i] + 5, NULL, 10) * G_USEC_PER_SEC;
        else if (*lines[i] && lines[i][0] != '#')
            params_add(params, lines[i]);
    }
    struct host_sample hs;
    struct guest_sample bs;
    struct balloon_info bi;
    host_sample_init(&hs);
    guest_sample_init(&bs);
    collect_parse_record((virTypedParameter *)params->data, (int)params->len, &hs, &bs, &bi);
    g_string_append_printf(out, "host view:\n  state = %d/%d\n", hs.state, hs.state_reason);
    dump_metrics(out, &series_vm_host, &hs);
    if (hs.vcpus_json)
        g_string_append_printf(out, "  vcpus = %s\n", hs.vcpus_json);
    if (hs.blocks_json)
        g_string_append_printf(out, "  blocks = %s\n", hs.blocks_json);
    if (hs.nics_json)
        g_string_append_printf(out, "  nics = %s\n", hs.nics_json);
    g_string_append_printf(out, "guest view (balloon): %s\n", bi.present ? "reported" : "none");
    if (bi.present)
        dump_guest(out, &bs);
    g_autofree char *reason = NULL;
    enum balloon_status st = collect_balloon_status(model, &bi, 10, 10, now, &reason);
    g_string_append_printf(out, "guest memory view: %s%s%s\n", status_name(st), reason ? ": " : "",
                           reason ? reason : "");
    host_sample_clear(&hs);
    guest_sample_clear(&bs);
    params_free(params);
    return g_string_free(out, FALSE);
}

/* ---- rates golden ---- */

static const char *num_or_dash(uint64_t v, char buf[32])
{
    if (v == SAMPLE_ABSENT)
        return "-";
    g_snprintf(buf, 32, "%" G_GUINT64_FORMAT, v);
    return buf;
}

static char *rates_to_text(const char *text)
{
    GString *out = g_string_new(NULL);
    g_autoptr(GArray) rows = g_array_new(FALSE, FALSE, sizeof(struct series_row));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GArray *params = NULL;
    int64_t t = 0, dom_id = 1;
    for (int i = 0;; i++) {
        bool end = !lines[i];
        if ((end || g_str_has_prefix(lines[i], "@t=")) && params) {
            struct host_sample hs;
            struct guest_sample bs;
            struct balloon_info bi;
            host_sample_init(&hs);
            guest_sample_init(&bs);
            collect_parse_record((virTypedParameter *)params->data, (int)params->len, &hs, &bs,
                                 &bi);
            struct series_row row = {.t = t};
            /* The incarnation exactly as the store's SQL builds it. */
            char a[32], b[32], c[32];
            g_autofree char *inc = g_strdup_printf(
                "1:%" G_GINT64_FORMAT ":%s:%s:%s", dom_id, num_or_dash(hs.vcpu_count, a),
                num_or_dash(hs.block_count, b), num_or_dash(hs.net_count, c));
            row.inc = series_inc_hash(inc);
            for (size_t m = 0; m < series_vm_host.n_metrics; m++)
                row.v[m] = series_sample_value(&series_vm_host, m, &hs);
            g_array_append_val(rows, row);
            host_sample_clear(&hs);
            guest_sample_clear(&bs);
            params_free(params);
            params = NULL;
        }
        if (end)
            break;
        if (g_str_has_prefix(lines[i], "@t=")) {
            g_auto(GStrv) w = g_strsplit(lines[i], " ", -1);
            t = g_ascii_strtoll(w[0] + 3, NULL, 10) * G_USEC_PER_SEC;
            for (int k = 1; w[k]; k++) {
                if (g_str_has_prefix(w[k], "dom_id="))
                    dom_id = g_ascii_strtoll(w[k] + 7, NULL, 10);
            }
            params = g_array_new(FALSE, TRUE, sizeof(virTypedParameter));
        } else if (params && *lines[i] && lines[i][0] != '#') {
            params_add(params, lines[i]);
        }
    }
    const struct series_kind *k = &series_vm_host;
    for (size_t m = 0; m < k->n_metrics; m++) {
        g_autoptr(GArray) pts = g_array_new(FALSE, FALSE, sizeof(struct series_point));
        series_points(k, m, (struct series_row *)rows->data, rows->len, pts);
        if (!pts->len)
            continue;
        g_string_append_printf(out, "%s (%s):", k->metrics[m].name,
                               k->metrics[m].counter ? "rate/s" : "gauge");
        for (guint i = 0; i < pts->len; i++) {
            struct series_point *p = &g_array_index(pts, struct series_point, i);
            g_string_append_printf(out, " t=%" G_GINT64_FORMAT ":%.6g", p->t / G_USEC_PER_SEC,
                                   p->v);
        }
        g_string_append_c(out, '\n');
    }
    struct series_agg aggs[SERIES_MAX_METRICS];
    series_bucket(k, (struct series_row *)rows->data, rows->len, 0, SERIES_TIER_5M, aggs);
    g_autofree char *json = series_aggs_to_json(k, aggs);
    g_string_append_printf(out, "bucket [0, 300 s): %s\n", json);
    /* The bucket survives its JSON round trip and combines exactly. */
    struct series_agg back[SERIES_MAX_METRICS], sum[SERIES_MAX_METRICS] = {0};
    series_aggs_from_json(k, json, back);
    series_agg_combine(sum, back, k->n_metrics);
    for (size_t m = 0; m < k->n_metrics; m++) {
        double v;
        if (series_agg_value(k, m, &sum[m], &v))
            g_string_append_printf(out, "bucket %s = %.6g\n", k->metrics[m].name, v);
    }
    return g_string_free(out, FALSE);
}

/* ---- agent replies ---- */

static char *qga_to_text(const char *text)
{
    const char *nl = strchr(text, '\n');
    assert_non_null(nl);
    g_autofree char *cmd = g_strndup(text, (gsize)(nl - text));
    const char *body = nl + 1;
    struct guest_sample s;
    guest_sample_init(&s);
    g_autoptr(GError) err = NULL;
    json_object *ret = qga_parse_reply(body, strlen(body), &err);
    bool ok = ret != NULL;
    if (ok && g_str_equal(cmd, "#cmd time"))
        ok = qga_apply_time(ret, &s, &err);
    else if (ok && g_str_equal(cmd, "#cmd cpustats"))
        ok = qga_apply_cpustats(ret, &s, &err);
    else if (ok && g_str_equal(cmd, "#cmd diskstats"))
        ok = qga_apply_diskstats(ret, &s, &err);
    else if (ok)
        fail_msg("unknown command line %s", cmd);
    json_object_put(ret);
    GString *out = g_string_new(NULL);
    if (ok) {
        g_string_append(out, "accepted:\n");
        dump_guest(out, &s);
    } else {
        g_string_append_printf(out, "rejected: %s\n", err->message);
    }
    guest_sample_clear(&s);
    return g_string_free(out, FALSE);
}

static char *guestinfo_to_text(const char *text)
{
    GArray *params = g_array_new(FALSE, TRUE, sizeof(virTypedParameter));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        if (*lines[i] && lines[i][0] != '#')
            params_add(params, lines[i]);
    }
    struct guest_sample s;
    guest_sample_init(&s);
    g_autoptr(GError) err = NULL;
    GString *out = g_string_new(NULL);
    if (collect_apply_guestinfo((virTypedParameter *)params->data, (int)params->len, &s, &err)) {
        g_string_append(out, "accepted:\n");
        dump_guest(out, &s);
    } else {
        g_string_append_printf(out, "rejected: %s\n", err->message);
    }
    guest_sample_clear(&s);
    params_free(params);
    return g_string_free(out, FALSE);
}

static void run_golden(const char *prefix, char *(*fn)(const char *))
{
    g_autoptr(GPtrArray) names = list_dir(prefix);
    for (guint i = 0; i < names->len; i++) {
        const char *n = g_ptr_array_index(names, i);
        g_autofree char *in = g_build_filename(DATA, n, NULL);
        g_autofree char *base = g_strndup(in, strlen(in) - 3);
        g_autofree char *outp = g_strconcat(base, ".out", NULL);
        g_autofree char *text = NULL;
        assert_true(g_file_get_contents(in, &text, NULL, NULL));
        g_autofree char *got = fn(text);
        golden_check(outp, got);
    }
}

static void test_records(void **state)
{
    run_golden("record-", record_to_text);
}

static void test_rates(void **state)
{
    run_golden("rates-", rates_to_text);
}

static void test_qga(void **state)
{
    run_golden("qga-", qga_to_text);
}

static void test_guestinfo(void **state)
{
    run_golden("guestinfo-", guestinfo_to_text);
}

/* ---- generated hostile replies ---- */

static void expect_reject(const char *body, size_t len, int code)
{
    g_autoptr(GError) err = NULL;
    json_object *ret = qga_parse_reply(body, len, &err);
    if (ret) {
        struct guest_sample s;
        guest_sample_init(&s);
        bool ok = qga_apply_cpustats(ret, &s, &err);
        json_object_put(ret);
        guest_sample_clear(&s);
        assert_false(ok);
    }
    assert_non_null(err);
    assert_int_equal(err->code, code);
}

static void test_hostile(void **state)
{
    /* Oversized: a valid reply padded past the limit. */
    GString *big = g_string_new("{\"return\": [");
    while (big->len < QGA_MAX_REPLY)
        g_string_append(big, "{\"type\":\"linux\",\"cpu\":0,\"user\":1,\"nice\":1,\"system\":1,"
                             "\"idle\":1},");
    g_string_append(big, "{}]}");
    expect_reject(big->str, big->len, COLLECT_ERROR_TOO_LARGE);
    g_string_free(big, TRUE);

    /* Too deep. */
    GString *deep = g_string_new("{\"return\":");
    for (int i = 0; i < 100; i++)
        g_string_append_c(deep, '[');
    for (int i = 0; i < 100; i++)
        g_string_append_c(deep, ']');
    g_string_append_c(deep, '}');
    expect_reject(deep->str, deep->len, COLLECT_ERROR_TOO_LARGE);
    g_string_free(deep, TRUE);

    /* More CPUs than any guest has, each small enough to pass the size check. */
    GString *many = g_string_new("{\"return\":[");
    for (int i = 0; i <= QGA_MAX_CPUS; i++)
        g_string_append_printf(many, "%s{}", i ? "," : "");
    g_string_append(many, "]}");
    expect_reject(many->str, many->len, COLLECT_ERROR_TOO_LARGE);
    g_string_free(many, TRUE);

    /* Binary garbage and embedded NULs. */
    static const char bin[] = "{\"return\":\xff\xfe}";
    expect_reject(bin, sizeof(bin) - 1, COLLECT_ERROR_MALFORMED);
    static const char nul[] = "{\"return\":[]}\0{}";
    expect_reject(nul, sizeof(nul) - 1, COLLECT_ERROR_MALFORMED);
    expect_reject(NULL, 0, COLLECT_ERROR_MALFORMED);

    /* Random bytes never crash, and never pass as CPU stats. */
    GRand *rnd = g_rand_new_with_seed(5);
    for (int i = 0; i < 2000; i++) {
        char buf[64];
        size_t n = (size_t)g_rand_int_range(rnd, 0, sizeof(buf));
        for (size_t k = 0; k < n; k++) {
            static const char alphabet[] = "{}[]\":,0123456789-eE.truefalsnul \\";
            buf[k] = alphabet[g_rand_int_range(rnd, 0, (gint32)(sizeof(alphabet) - 1))];
        }
        g_autoptr(GError) err = NULL;
        json_object *ret = qga_parse_reply(buf, n, &err);
        if (ret) {
            struct guest_sample s;
            guest_sample_init(&s);
            g_autoptr(GError) e2 = NULL;
            qga_apply_cpustats(ret, &s, &e2);
            qga_apply_diskstats(ret, &s, &e2);
            json_object_put(ret);
            guest_sample_clear(&s);
        }
    }
    g_rand_free(rnd);
}

/* A field of the wrong type is an error to libvirt's getters, which by
 * default print it; to collect_apply_guestinfo() it is an absent field. */
static void quiet_errors(void *data, virErrorPtr err)
{
}

/* A tier bucket's text reads back exactly, whether kanrid wrote it (the
 * fast scan) or it is any other JSON of the same meaning (the parser);
 * anything else reads as no figure at all. */
static void test_bucket_text(void **state)
{
    (void)state;
    const struct series_kind *k = &series_vm_reconciled;
    struct series_agg aggs[SERIES_MAX_METRICS] = {0}, back[SERIES_MAX_METRICS];
    aggs[0] = (struct series_agg){.a = 0.1 + 0.2, .b = 3, .max = 1e300, .have = true};
    aggs[k->n_metrics - 1] = (struct series_agg){.a = 123456789012345, .b = 7, .max = -0.5, .have = true};
    g_autofree char *text = series_aggs_to_json(k, aggs);
    series_aggs_from_json(k, text, back);
    for (size_t m = 0; m < k->n_metrics; m++) {
        assert_int_equal(back[m].have, aggs[m].have);
        if (aggs[m].have) {
            assert_true(back[m].a == aggs[m].a && back[m].b == aggs[m].b &&
                        back[m].max == aggs[m].max);
        }
    }
    /* Spaces, an unknown metric: JSON all the same. */
    series_aggs_from_json(k, "{ \"cpu_busy\" : [ 1.5, 2, 3 ], \"nope\": [1,1,1] }", back);
    assert_true(back[0].have && back[0].a == 1.5 && back[0].b == 2 && back[0].max == 3);
    assert_false(back[1].have);
    series_aggs_from_json(k, "{}", back);
    assert_false(back[0].have);
    const char *bad[] = {"", "{", "{\"cpu_busy\":[1,2]}", "{\"cpu_busy\":[1,2,3]", "[1,2,3]",
                         "{\"cpu_busy\":[1,2,3]}x", "{\"cpu_busy\":[1e999,2,3]}"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        series_aggs_from_json(k, bad[i], back);
        if (back[0].have)
            fail_msg("'%s' read as a figure", bad[i]);
    }
}

int main(void)
{
    /* collect_apply_guestinfo() reads fields with libvirt's getters, which
     * use libvirt's per-thread error state. */
    if (virInitialize() < 0)
        return 1;
    virSetErrorFunc(NULL, quiet_errors);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records), cmocka_unit_test(test_rates),
        cmocka_unit_test(test_qga),     cmocka_unit_test(test_guestinfo),
        cmocka_unit_test(test_hostile), cmocka_unit_test(test_bucket_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
