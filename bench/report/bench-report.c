/*
 * bench-report: the reports' computations (src/report/) on a simulated
 * fleet: 1 000 VMs with 90 days of 5-minute history.  It links the pure
 * report library only: the figures are those of the real avail_compute(),
 * fc_fit(), fc_backtest() and cap_fit(); the fleet is this file's.
 *
 *     ninja -C build && build/bench/report/bench-report [--vms 1000] [--days 90] [--seed 1]
 *
 * A benchmark, not a test: it prints figures and always exits 0.  All but
 * the times are the same on every run with the same options.
 *
 * Each VM's memory demand, every 5 minutes: a base of 1-8 GiB, a trend of
 * -0.5 % to +1.5 % of it a day, a daily wave of 0-30 % of it peaking in
 * the afternoon, a weekday/weekend step of 0-20 %, and noise of 1-8 %;
 * one VM in five has no pattern at all (noise around a level), one in ten
 * a step change (a deployment) somewhere in the last month.  The forecasts
 * learn from the hourly means (what the store's hourly tier keeps), train
 * on the first 67.5 days and are scored on the last 22.5 (fc_backtest).
 *
 * Its availability: a mark each 5-minute round would see, over the same
 * 90 days: 0-6 outages (crashes of 5 minutes to 4 hours), planned stops
 * by an action, a maintenance window a month, and two kanrid gaps of an
 * hour for the whole fleet.
 */
#include <getopt.h>
#include <glib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/availability.h"
#include "report/capacity.h"
#include "report/forecast.h"

#define MIN5 (300 * G_GINT64_CONSTANT(1000000))
#define HOUR (3600 * G_GINT64_CONSTANT(1000000))
#define DAY  (24 * HOUR)

static uint64_t rng_state;

static uint64_t next(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uni(double a, double b)
{
    return a + (b - a) * ((double)(next() >> 11) / (double)(1ULL << 53));
}

static double gauss(void)
{
    double s = 0;
    for (int i = 0; i < 6; i++)
        s += uni(-1, 1);
    return s / sqrt(2.0); /* variance 1 */
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One VM's 5-minute memory demand over DAYS days, in GiB. */
static void vm_series(double *v, size_t n, int kind)
{
    double base = uni(1, 8), trend = uni(-0.005, 0.015) * base, daily = uni(0, 0.3) * base;
    double weekly = uni(0, 0.2) * base, noise = uni(0.01, 0.08) * base;
    double step_at = kind == 2 ? uni(0.67, 0.95) * (double)n : -1, step = uni(0.1, 0.4) * base;
    if (kind == 1)
        trend = daily = weekly = 0;
    for (size_t i = 0; i < n; i++) {
        double day = (double)i / 288.0;
        double hour = fmod((double)i / 12.0, 24.0);
        int dow = (int)day % 7;
        double x = base + trend * day + daily * sin(2 * G_PI * (hour - 9) / 24) +
                   (dow < 5 ? weekly : -weekly) + noise * gauss();
        if (step_at >= 0 && (double)i >= step_at)
            x += step;
        v[i] = fmax(x, 0.05);
    }
}

static gint cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int vms = 1000, days = 90;
    uint64_t seed = 1;
    static const struct option opts[] = {{"vms", required_argument, NULL, 'v'},
                                         {"days", required_argument, NULL, 'd'},
                                         {"seed", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            vms = atoi(optarg);
            break;
        case 'd':
            days = atoi(optarg);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: %s [--vms N] [--days D] [--seed S]\n", argv[0]);
            return 2;
        }
    }
    if (vms < 1 || days < 8) {
        fprintf(stderr, "--vms at least 1, --days at least 8\n");
        return 2;
    }
    rng_state = seed;
    size_t n5 = (size_t)days * 288, nh = (size_t)days * 24;
    printf("bench-report: %d VMs, %d days of 5-minute history (%zu points each, %.1f M in all), "
           "seed %" G_GUINT64_FORMAT "\n\n",
           vms, days, n5, (double)n5 * vms / 1e6, seed);

    /* ---- forecasts ---- */
    g_autofree double *v5 = g_new(double, n5);
    g_autofree double *vh = g_new(double, nh);
    double t_gen = 0, t_agg = 0, t_fit = 0, t_bt = 0, t_sum = 0;
    int beats = 0, beats_last = 0, beats_seasonal = 0, counted = 0;
    double sum_ratio_last = 0, sum_ratio_seas = 0;
    g_autoptr(GArray) ratios = g_array_new(FALSE, FALSE, sizeof(double));
    int kinds[3] = {0};
    int beats_kind[3] = {0};
    double checksum = 0;
    for (int i = 0; i < vms; i++) {
        int kind = i % 10 == 3 ? 2 : i % 5 == 1 ? 1 : 0;
        double t0 = now_s();
        vm_series(v5, n5, kind);
        double t1 = now_s();
        for (size_t h = 0; h < nh; h++) {
            double s = 0;
            for (int k = 0; k < 12; k++)
                s += v5[h * 12 + (size_t)k];
            vh[h] = s / 12;
        }
        double t2 = now_s();
        /* The baseline cost: one pass over the hourly values. */
        double s = 0;
        for (size_t h = 0; h < nh; h++)
            s += vh[h];
        checksum += s;
        double t3 = now_s();
        struct fc_model m = {0};
        fc_fit(vh, nh, 24, &m);
        double t4 = now_s();
        struct fc_backtest b;
        fc_backtest(vh, nh, 24, &b);
        double t5 = now_s();
        fc_model_clear(&m);
        t_gen += t1 - t0;
        t_agg += t2 - t1;
        t_sum += t3 - t2;
        t_fit += t4 - t3;
        t_bt += t5 - t4;
        if (!isnan(b.mae)) {
            counted++;
            kinds[kind]++;
            beats += b.beats;
            beats_kind[kind] += b.beats;
            beats_last += b.mae < b.mae_last;
            beats_seasonal += b.mae < b.mae_seasonal;
            sum_ratio_last += b.mae / b.mae_last;
            sum_ratio_seas += b.mae / b.mae_seasonal;
            double r = b.mae / fmin(b.mae_last, b.mae_seasonal);
            g_array_append_val(ratios, r);
        }
    }
    g_array_sort(ratios, cmp_double);
    const double *rs = (const double *)ratios->data;
    printf("Forecasts (hourly means, Holt-Winters daily+weekly, backtest on the last quarter)\n");
    printf("  fit, all VMs          %8.3f s  (%.2f ms a VM; %.0fx one pass over its values)\n",
           t_fit, t_fit * 1e3 / vms, t_fit / fmax(t_sum, 1e-9));
    printf("  backtest, all VMs     %8.3f s  (%.2f ms a VM)\n", t_bt, t_bt * 1e3 / vms);
    printf("  (history generated in %.3f s, hourly means in %.3f s)\n", t_gen, t_agg);
    printf("  beats both baselines  %d of %d VMs (%.1f %%)\n", beats, counted,
           100.0 * beats / fmax(counted, 1));
    printf("    with a pattern      %d of %d\n", beats_kind[0], kinds[0]);
    printf("    noise only          %d of %d\n", beats_kind[1], kinds[1]);
    printf("    with a step change  %d of %d\n", beats_kind[2], kinds[2]);
    printf("  beats the last value  %d; beats the seasonal naive %d\n", beats_last, beats_seasonal);
    printf("  MAE / MAE of the last value      mean %.3f\n", sum_ratio_last / fmax(counted, 1));
    printf("  MAE / MAE of the seasonal naive  mean %.3f\n", sum_ratio_seas / fmax(counted, 1));
    if (ratios->len)
        printf("  MAE / the better baseline's      median %.3f, p90 %.3f\n", rs[ratios->len / 2],
               rs[ratios->len * 9 / 10]);

    /* A few forecasts on the raw 5-minute values, for the cost of skipping
     * the hourly tier. */
    double t6 = now_s();
    int raw_n = MIN(vms, 20);
    for (int i = 0; i < raw_n; i++) {
        vm_series(v5, n5, 0);
        struct fc_model m = {0};
        fc_fit(v5, n5, 288, &m);
        fc_model_clear(&m);
    }
    double t7 = now_s();
    printf("  fit on 5-minute values instead: %.1f ms a VM (%d VMs)\n\n", (t7 - t6) * 1e3 / raw_n,
           raw_n);

    /* ---- availability ---- */
    int64_t from = 0, to = (int64_t)days * DAY;
    g_autoptr(GArray) spans = g_array_new(FALSE, FALSE, sizeof(struct avail_span));
    int64_t gaps[2] = {to / 3, 2 * to / 3};
    int64_t cur = 0;
    for (int g = 0; g < 2; g++) {
        struct avail_span sp = {cur, gaps[g]};
        g_array_append_val(spans, sp);
        cur = gaps[g] + HOUR;
    }
    struct avail_span last = {cur, to};
    g_array_append_val(spans, last);
    g_autoptr(GArray) windows = g_array_new(FALSE, FALSE, sizeof(struct avail_window));
    for (int64_t w = 10 * DAY; w < to; w += 30 * DAY) {
        struct avail_window x = {w, w + 2 * HOUR, "monthly patching"};
        g_array_append_val(windows, x);
    }
    double t_av = 0;
    struct avail_totals total = {0};
    int64_t outages = 0;
    g_autoptr(GArray) marks = g_array_new(FALSE, FALSE, sizeof(struct avail_mark));
    g_autoptr(GArray) actions = g_array_new(FALSE, FALSE, sizeof(struct avail_action));
    for (int i = 0; i < vms; i++) {
        g_array_set_size(marks, 0);
        g_array_set_size(actions, 0);
        struct avail_mark up = {0, i % 7 == 0 ? AV_HOST_ONLY : AV_UP, NULL};
        g_array_append_val(marks, up);
        int n_out = (int)uni(0, 7);
        int64_t t = 0;
        for (int k = 0; k < n_out; k++) {
            t += (int64_t)uni(0, (double)(to - t) / (n_out - k + 1)) / MIN5 * MIN5;
            int64_t len = (int64_t)uni(1, 48) * MIN5;
            if (t + len >= to)
                break;
            struct avail_mark down = {t, AV_DOWN, k % 3 == 0 ? "shutdown" : "crashed"};
            struct avail_mark back = {t + len, up.state, NULL};
            g_array_append_val(marks, down);
            g_array_append_val(marks, back);
            if (k % 3 == 0) {
                struct avail_action a = {t - 60 * G_USEC_PER_SEC, "shutdown by ops (audit #1)"};
                g_array_append_val(actions, a);
            }
            t += len + MIN5;
        }
        struct avail_input in = {.from_us = from,
                                 .to_us = to,
                                 .interval_us = MIN5,
                                 .marks = (const struct avail_mark *)marks->data,
                                 .n_marks = marks->len,
                                 .spans = (const struct avail_span *)spans->data,
                                 .n_spans = spans->len,
                                 .windows = (const struct avail_window *)windows->data,
                                 .n_windows = windows->len,
                                 .actions = (const struct avail_action *)actions->data,
                                 .n_actions = actions->len};
        struct avail_report r;
        avail_report_init(&r);
        double a0 = now_s();
        avail_compute(&in, &r);
        t_av += now_s() - a0;
        avail_totals_add(&total, &r.t);
        outages += r.outages->len;
        avail_report_clear(&r);
    }
    struct avail_slo slo;
    avail_slo_eval(&total, 0.999, &slo);
    printf("Availability (marks at 5-minute precision, 2 kanrid gaps of an hour, monthly "
           "maintenance)\n");
    printf("  all VMs               %8.3f s  (%.1f us a VM)\n", t_av, t_av * 1e6 / vms);
    printf("  availability %.4f %%, responsive %.4f %%, %" G_GINT64_FORMAT
           " outages, unknown %.1f VM-hours\n",
           100 * avail_ratio(&total), 100 * avail_responsive_ratio(&total), outages,
           (double)total.unknown_us / HOUR);
    printf("  SLO 99.9 %%: %s, budget used %.1f %%, burn rate %.2f\n\n", slo.met ? "met" : "missed",
           100 * slo.budget_used, slo.burn_rate);

    /* ---- capacity ---- */
    int hosts = MAX(vms / 20, 1);
    g_autofree struct cap_host *hs = g_new0(struct cap_host, hosts);
    g_autofree struct cap_vm *cv = g_new0(struct cap_vm, (size_t)vms);
    for (int i = 0; i < vms; i++)
        cv[i] =
            (struct cap_vm){.vcpus = 1 + i % 4,
                            .memory_bytes = (int64_t)(2 + i % 7) << 30,
                            .disk_bytes = (int64_t)40 << 30,
                            .disk_host_bytes = (int64_t)10 << 30,
                            .cpu_demand_pct = uni(5, 80),
                            .mem_used_bytes = uni(0.3, 0.9) * (double)((int64_t)(2 + i % 7) << 30),
                            .disk_used_bytes = NAN};
    double c0 = now_s();
    int per = vms / hosts;
    for (int h = 0; h < hosts; h++) {
        hs[h] = (struct cap_host){.name = "h",
                                  .usable = true,
                                  .cpus = 64,
                                  .memory_bytes = (int64_t)256 << 30,
                                  .disk_bytes = (int64_t)8 << 40,
                                  .disk_free_bytes = (int64_t)4 << 40};
        cap_demand_sum(&cv[h * per], (size_t)per, &hs[h].d);
    }
    struct cap_size x;
    cap_size_of(2, (int64_t)4 << 30, (int64_t)40 << 30, &x);
    int64_t fits = 0;
    for (int h = 0; h < hosts; h++) {
        struct cap_fit f;
        cap_fit(&hs[h], &x, &f);
        fits += f.n;
    }
    g_autofree struct cap_host *after = g_new(struct cap_host, hosts);
    struct cap_whatif w = {.remove = 0, .add = 100, .add_size = x};
    struct cap_whatif_result wr;
    cap_whatif_apply(hs, (size_t)hosts, &w, after, &wr);
    double c1 = now_s();
    printf("Capacity (%d hosts of 64 cores and 256 GiB)\n", hosts);
    printf("  demand, fits and a what-if  %.3f ms; %" G_GINT64_FORMAT
           " more VMs of 2 vCPUs / 4 GiB fit; without the first host, %" G_GINT64_FORMAT
           " of 100 placed\n",
           (c1 - c0) * 1e3, fits, wr.placed);
    if (checksum < 0)
        printf("%g\n", checksum);
    return 0;
}
