/*
 * report/availability: golden reports.  A case gives, in seconds:
 *
 *   period FROM TO
 *   interval S
 *   span FROM TO                   kanri collected the VM's host
 *   mark T STATE [REASON...]       from T on the VM is in STATE
 *   window FROM TO [WHY...]        a maintenance window over the VM
 *   action T WHAT...               kanri's own action stopping it
 *   slo TARGET                     e.g. 0.999
 *   classify KEY=VALUE...          one observation classified instead
 *
 * The output is the totals, the ratios, the SLO and every outage.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"
#include "report/availability.h"

static const char *data_dir;

#define S ((int64_t)1000000)

static char *rest(char **w, size_t from)
{
    return w[from] ? g_strjoinv(" ", &w[from]) : NULL;
}

static char *classify(char **w)
{
    struct avail_obs o = {.exists = true};
    for (size_t k = 1; w[k]; k++) {
        g_auto(GStrv) kv = g_strsplit(w[k], "=", 2);
        bool yes = kv[1] && strcmp(kv[1], "1") == 0;
        if (strcmp(kv[0], "exists") == 0)
            o.exists = yes;
        else if (strcmp(kv[0], "state") == 0)
            o.host_state = g_intern_string(kv[1]);
        else if (strcmp(kv[0], "reason") == 0)
            o.state_reason = g_intern_string(kv[1]);
        else if (strcmp(kv[0], "seen") == 0)
            o.guest_seen = yes;
        else if (strcmp(kv[0], "fresh") == 0)
            o.guest_fresh = yes;
        else if (strcmp(kv[0], "clock_stopped") == 0)
            o.guest_clock_stopped = yes;
        else
            fail_msg("bad classify word '%s'", w[k]);
    }
    const char *why;
    enum avail_state s = avail_classify(&o, &why);
    return g_strdup_printf("%s%s%s", avail_state_name(s), why ? ": " : "", why ? why : "");
}

static void pct(GString *out, const char *label, double v)
{
    if (isnan(v))
        g_string_append_printf(out, "%s -\n", label);
    else
        g_string_append_printf(out, "%s %.4f%%\n", label, v * 100.0);
}

static char *run(const char *text)
{
    struct avail_input in = {.interval_us = 10 * S};
    g_autoptr(GArray) marks = g_array_new(FALSE, TRUE, sizeof(struct avail_mark));
    g_autoptr(GArray) spans = g_array_new(FALSE, TRUE, sizeof(struct avail_span));
    g_autoptr(GArray) windows = g_array_new(FALSE, TRUE, sizeof(struct avail_window));
    g_autoptr(GArray) actions = g_array_new(FALSE, TRUE, sizeof(struct avail_action));
    g_autoptr(GPtrArray) strs = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GString) out = g_string_new(NULL);
    double slo = NAN;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) w = g_strsplit(lines[i], " ", -1);
        if (!w[0] || !*w[0] || w[0][0] == '#')
            continue;
        int64_t a = w[1] ? g_ascii_strtoll(w[1], NULL, 10) * S : 0;
        int64_t b = w[1] && w[2] ? g_ascii_strtoll(w[2], NULL, 10) * S : 0;
        if (strcmp(w[0], "classify") == 0) {
            g_autofree char *c = classify(w);
            g_string_append_printf(out, "%s\n", c);
        } else if (strcmp(w[0], "period") == 0) {
            in.from_us = a;
            in.to_us = b;
        } else if (strcmp(w[0], "interval") == 0) {
            in.interval_us = a;
        } else if (strcmp(w[0], "span") == 0) {
            g_array_append_val(spans, ((struct avail_span){a, b}));
        } else if (strcmp(w[0], "mark") == 0) {
            struct avail_mark m = {.t_us = a, .reason = rest(w, 3)};
            assert_true(avail_state_parse(w[2], &m.state));
            g_ptr_array_add(strs, (char *)m.reason);
            g_array_append_val(marks, m);
        } else if (strcmp(w[0], "window") == 0) {
            struct avail_window x = {a, b, rest(w, 3)};
            g_ptr_array_add(strs, (char *)x.why);
            g_array_append_val(windows, x);
        } else if (strcmp(w[0], "action") == 0) {
            struct avail_action x = {a, rest(w, 2)};
            g_ptr_array_add(strs, (char *)x.what);
            g_array_append_val(actions, x);
        } else if (strcmp(w[0], "slo") == 0) {
            slo = g_ascii_strtod(w[1], NULL);
        } else {
            fail_msg("bad line '%s'", lines[i]);
        }
    }
    if (in.to_us <= in.from_us)
        return g_string_free(g_steal_pointer(&out), FALSE);
    in.marks = (const struct avail_mark *)marks->data;
    in.n_marks = marks->len;
    in.spans = (const struct avail_span *)spans->data;
    in.n_spans = spans->len;
    in.windows = (const struct avail_window *)windows->data;
    in.n_windows = windows->len;
    in.actions = (const struct avail_action *)actions->data;
    in.n_actions = actions->len;
    struct avail_report r;
    avail_report_init(&r);
    avail_compute(&in, &r);
    const struct avail_totals *t = &r.t;
    g_string_append_printf(out,
                           "up %" G_GINT64_FORMAT " host-only %" G_GINT64_FORMAT
                           " unresponsive %" G_GINT64_FORMAT " planned %" G_GINT64_FORMAT
                           " unplanned %" G_GINT64_FORMAT " unknown %" G_GINT64_FORMAT "\n",
                           t->up_us / S, t->host_only_us / S, t->unresponsive_us / S,
                           t->planned_us / S, t->unplanned_us / S, t->unknown_us / S);
    pct(out, "availability", avail_ratio(t));
    pct(out, "responsive", avail_responsive_ratio(t));
    if (r.host_view_only)
        g_string_append(out, "host view only\n");
    if (!isnan(slo)) {
        struct avail_slo e;
        avail_slo_eval(t, slo, &e);
        g_string_append_printf(out, "slo %.4f budget %" G_GINT64_FORMAT " used %.3f burn %.3f %s\n",
                               e.target, e.budget_us / S, e.budget_used, e.burn_rate,
                               e.met ? "met" : "missed");
    }
    for (guint i = 0; i < r.outages->len; i++) {
        const struct avail_outage *o = &g_array_index(r.outages, struct avail_outage, i);
        g_string_append_printf(
            out,
            "%s %" G_GINT64_FORMAT "%s-%" G_GINT64_FORMAT "%s %s known %" G_GINT64_FORMAT ": %s\n",
            o->unresponsive ? "unresponsive" : "outage", o->start_us / S,
            o->began_before ? "(before)" : "", o->end_us / S, o->open ? "(open)" : "",
            o->unresponsive ? "-"
            : o->planned    ? "planned"
                            : "unplanned",
            o->known_us / S, o->cause);
    }
    avail_report_clear(&r);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static void test_golden(void **state)
{
    (void)state;
    g_autofree char *dir = g_build_filename(data_dir, "availability", NULL);
    golden_each(dir, run, 8);
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/report";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
