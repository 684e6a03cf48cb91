/*
 * report/forecast: golden fits, forecasts and backtests.  A case makes a
 * series and asks about it:
 *
 *   steps_per_day N
 *   gen days=D [base=B] [trend=T] [daily=A] [weekly=W] [noise=S] [seed=K] [step=M]
 *       B + T per day + A sin(time of day) + W on weekdays (-W weekends)
 *       + noise of spread S (a fixed generator): M steps per value
 *   value V...                  values as they are (NaN: "nan")
 *   gap FROM TO                 those steps missing
 *   horizon H
 *   limit L                     the step the forecast (and its bounds) reach it
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"
#include "report/forecast.h"

static const char *data_dir;

static double arg(char **w, const char *key, double dflt)
{
    size_t n = strlen(key);
    for (size_t i = 1; w[i]; i++) {
        if (strncmp(w[i], key, n) == 0 && w[i][n] == '=')
            return g_ascii_strtod(w[i] + n + 1, NULL);
    }
    return dflt;
}

/* A fixed generator: the same noise everywhere. */
static double noise(uint64_t *state)
{
    double sum = 0;
    for (int i = 0; i < 3; i++) {
        *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
        sum += (double)(*state >> 11) / (double)(1ULL << 53) * 2 - 1;
    }
    return sum / 3;
}

static void gen(GArray *v, char **w, int spd)
{
    double days = arg(w, "days", 7), base = arg(w, "base", 100), trend = arg(w, "trend", 0);
    double daily = arg(w, "daily", 0), weekly = arg(w, "weekly", 0), sd = arg(w, "noise", 0);
    uint64_t st = (uint64_t)arg(w, "seed", 1);
    size_t n = (size_t)(days * spd);
    for (size_t t = 0; t < n; t++) {
        double day = (double)t / spd;
        int dow = (int)(t / (size_t)spd) % 7;
        double x = base + trend * day + daily * sin(2 * G_PI * (double)(t % (size_t)spd) / spd) +
                   (dow < 5 ? weekly : -weekly) + sd * noise(&st);
        g_array_append_val(v, x);
    }
}

static char *run(const char *text)
{
    int spd = 24;
    size_t horizon = 24;
    double limit = NAN;
    g_autoptr(GArray) v = g_array_new(FALSE, FALSE, sizeof(double));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) w = g_strsplit(lines[i], " ", -1);
        if (!w[0] || !*w[0] || w[0][0] == '#')
            continue;
        if (strcmp(w[0], "steps_per_day") == 0) {
            spd = atoi(w[1]);
        } else if (strcmp(w[0], "gen") == 0) {
            gen(v, w, spd);
        } else if (strcmp(w[0], "value") == 0) {
            for (size_t k = 1; w[k]; k++) {
                double x = strcmp(w[k], "nan") == 0 ? NAN : g_ascii_strtod(w[k], NULL);
                g_array_append_val(v, x);
            }
        } else if (strcmp(w[0], "gap") == 0) {
            for (size_t t = (size_t)atoi(w[1]); t < (size_t)atoi(w[2]) && t < v->len; t++)
                g_array_index(v, double, t) = NAN;
        } else if (strcmp(w[0], "horizon") == 0) {
            horizon = (size_t)atoi(w[1]);
        } else if (strcmp(w[0], "limit") == 0) {
            limit = g_ascii_strtod(w[1], NULL);
        } else {
            fail_msg("bad line '%s'", lines[i]);
        }
    }
    GString *out = g_string_new(NULL);
    const double *x = (const double *)v->data;
    struct fc_model m = {0};
    bool ok = fc_fit(x, v->len, spd, &m);
    g_string_append_printf(out, "values %u model %s\n", v->len, fc_method_name(m.method));
    if (ok) {
        g_string_append_printf(out, "alpha %.2f beta %.2f gamma %.2f delta %.2f sigma %.3f\n",
                               m.alpha, m.beta, m.gamma, m.delta, m.sigma);
        g_autofree double *mean = g_new(double, horizon);
        g_autofree double *lo = g_new(double, horizon);
        g_autofree double *hi = g_new(double, horizon);
        fc_forecast(&m, horizon, mean, lo, hi);
        size_t at[] = {1, (size_t)spd / 4, (size_t)spd / 2, (size_t)spd, horizon};
        for (size_t k = 0; k < G_N_ELEMENTS(at); k++) {
            if (at[k] >= 1 && at[k] <= horizon && (k == 0 || at[k] > at[k - 1]))
                g_string_append_printf(out, "h %zu: %.2f [%.2f, %.2f]\n", at[k], mean[at[k] - 1],
                                       lo[at[k] - 1], hi[at[k] - 1]);
        }
        if (!isnan(limit))
            g_string_append_printf(out, "reaches %.0f: at %zu (earliest %zu, latest %zu)\n", limit,
                                   fc_crossing(mean, horizon, limit),
                                   fc_crossing(hi, horizon, limit),
                                   fc_crossing(lo, horizon, limit));
    }
    struct fc_backtest b;
    fc_backtest(x, v->len, spd, &b);
    if (b.test)
        g_string_append_printf(out,
                               "backtest train %zu test %zu %s: mae %.3f, last value %.3f, "
                               "seasonal naive (%d) %.3f: %s\n",
                               b.train, b.test, fc_method_name(b.method), b.mae, b.mae_last,
                               b.seasonal_period, b.mae_seasonal,
                               b.beats ? "beats both" : "does not beat both");
    else
        g_string_append(out, "backtest: too short\n");
    fc_model_clear(&m);
    return g_string_free(out, FALSE);
}

static void test_golden(void **state)
{
    (void)state;
    g_autofree char *dir = g_build_filename(data_dir, "forecast", NULL);
    golden_each(dir, run, 6);
}

/* A clean daily pattern with a trend: the fit recovers it, the forecast
 * follows it, and the interval holds the truth. */
static void test_recovers_a_clean_pattern(void **state)
{
    (void)state;
    size_t n = 24 * 21, h = 48;
    g_autofree double *v = g_new(double, n + h);
    for (size_t t = 0; t < n + h; t++)
        v[t] = 50 + 0.1 * (double)t + 10 * sin(2 * G_PI * (double)(t % 24) / 24);
    struct fc_model m = {0};
    assert_true(fc_fit(v, n, 24, &m));
    assert_int_equal(m.method, FC_HW_WEEKLY);
    double mean[48], lo[48], hi[48];
    fc_forecast(&m, h, mean, lo, hi);
    for (size_t k = 0; k < h; k++) {
        assert_true(fabs(mean[k] - v[n + k]) < 0.5);
        assert_true(lo[k] <= mean[k] && mean[k] <= hi[k]);
        if (k)
            assert_true(hi[k] - lo[k] >= hi[k - 1] - lo[k - 1] - 1e-9);
    }
    fc_model_clear(&m);
    struct fc_backtest b;
    fc_backtest(v, n, 24, &b);
    assert_true(b.beats);
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/report";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_recovers_a_clean_pattern),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
