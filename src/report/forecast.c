/*
 * Holt-Winters forecasts and their backtest (forecast.h).
 */
#include "config.h"

#include "report/forecast.h"

#include <glib.h>
#include <math.h>
#include <string.h>

const char *fc_method_name(enum fc_method m)
{
    switch (m) {
    case FC_HOLT:
        return "holt";
    case FC_HW_DAILY:
        return "holt-winters daily";
    case FC_HW_WEEKLY:
        return "holt-winters daily+weekly";
    default:
        return "none";
    }
}

void fc_model_clear(struct fc_model *m)
{
    g_free(m->season1);
    g_free(m->season2);
    memset(m, 0, sizeof(*m));
}

/* V with its gaps filled by the value before them; *ret_first the first
 * value's index (n when none). */
static double *filled(const double *v, size_t n, size_t *ret_first)
{
    double *w = g_new(double, n ? n : 1);
    size_t first = n;
    for (size_t i = 0; i < n; i++) {
        if (first == n && !isnan(v[i]))
            first = i;
        w[i] = isnan(v[i]) && first < i ? w[i - 1] : v[i];
    }
    *ret_first = first;
    return w;
}

struct params {
    double alpha, beta, gamma, delta;
};

/* The initial state from the first window of W[S..N): level and trend at
 * step S - 1, seasons by step modulo their period. */
static void initial(const double *w, size_t s, size_t n, int p1, int p2, double *level,
                    double *trend, double *d, double *wk)
{
    size_t win = p2 ? (size_t)p2 : p1 ? (size_t)p1 : 2;
    win = MIN(win, n - s);
    double m1 = 0, m2 = 0;
    for (size_t i = 0; i < win; i++)
        m1 += w[s + i];
    m1 /= (double)win;
    *trend = 0;
    if (n - s >= 2 * win) {
        for (size_t i = 0; i < win; i++)
            m2 += w[s + win + i];
        *trend = (m2 / (double)win - m1) / (double)win;
    } else if (!p1 && n - s >= 2) {
        *trend = w[s + 1] - w[s];
    }
    /* The mean is the level in the window's middle. */
    double mid = ((double)win - 1) / 2;
    *level = m1 - *trend * (mid + 1);
    if (p1) {
        g_autofree double *sum = g_new0(double, (size_t)p1);
        g_autofree int *cnt = g_new0(int, (size_t)p1);
        for (size_t i = 0; i < win; i++) {
            double base = m1 + *trend * ((double)i - mid);
            sum[(s + i) % (size_t)p1] += w[s + i] - base;
            cnt[(s + i) % (size_t)p1]++;
        }
        for (int j = 0; j < p1; j++)
            d[j] = cnt[j] ? sum[j] / cnt[j] : 0;
    }
    if (p2) {
        memset(wk, 0, sizeof(double) * (size_t)p2);
        for (size_t i = 0; i < win; i++) {
            double base = m1 + *trend * ((double)i - mid);
            wk[(s + i) % (size_t)p2] = w[s + i] - base - d[(s + i) % (size_t)p1];
        }
    }
}

/* Runs the recursion over W[S..N) with P; the sum of squared one-step
 * errors after the first season (or two values), and their count. */
static double run(const double *w, size_t s, size_t n, int p1, int p2, const struct params *p,
                  double *level, double *trend, double *d, double *wk, size_t *ret_count)
{
    initial(w, s, n, p1, p2, level, trend, d, wk);
    double l = *level, b = *trend, sse = 0;
    size_t skip = p1 ? (size_t)p1 : 2, count = 0;
    for (size_t t = s; t < n; t++) {
        double ds = p1 ? d[t % (size_t)p1] : 0, ws = p2 ? wk[t % (size_t)p2] : 0;
        double e = w[t] - (l + b + ds + ws);
        if (t - s >= skip) {
            sse += e * e;
            count++;
        }
        l = l + b + p->alpha * e;
        b = b + p->alpha * p->beta * e;
        if (p1)
            d[t % (size_t)p1] += p->gamma * e;
        if (p2)
            wk[t % (size_t)p2] += p->delta * e;
    }
    *level = l;
    *trend = b;
    *ret_count = count;
    return sse;
}

bool fc_fit(const double *v, size_t n, int steps_per_day, struct fc_model *ret)
{
    fc_model_clear(ret);
    size_t s;
    g_autofree double *w = filled(v, n, &s);
    size_t len = s < n ? n - s : 0;
    if (len < 4)
        return false;
    int day = steps_per_day >= 2 ? steps_per_day : 0;
    int p1 = day && len >= 2 * (size_t)day ? day : 0;
    int p2 = p1 && len >= 14 * (size_t)day ? 7 * day : 0;
    ret->method = p2 ? FC_HW_WEEKLY : p1 ? FC_HW_DAILY : FC_HOLT;
    ret->period1 = p1;
    ret->period2 = p2;
    ret->season1 = p1 ? g_new0(double, (size_t)p1) : NULL;
    ret->season2 = p2 ? g_new0(double, (size_t)p2) : NULL;
    g_autofree double *d = g_new0(double, (size_t)MAX(p1, 1));
    g_autofree double *wk = g_new0(double, (size_t)MAX(p2, 1));

    static const double alphas[] = {0.02, 0.05, 0.1, 0.2, 0.35, 0.5};
    static const double betas[] = {0, 0.02, 0.1};
    static const double seasonals[] = {0.02, 0.1, 0.25};
    double best = INFINITY;
    struct params bp = {0};
    size_t best_count = 0;
    for (size_t a = 0; a < G_N_ELEMENTS(alphas); a++)
        for (size_t bi = 0; bi < G_N_ELEMENTS(betas); bi++)
            for (size_t g = 0; g < (p1 ? G_N_ELEMENTS(seasonals) : 1); g++)
                for (size_t dl = 0; dl < (p2 ? G_N_ELEMENTS(seasonals) : 1); dl++) {
                    struct params p = {alphas[a], betas[bi], p1 ? seasonals[g] : 0,
                                       p2 ? seasonals[dl] : 0};
                    double l, b;
                    size_t cnt;
                    double sse = run(w, s, n, p1, p2, &p, &l, &b, d, wk, &cnt);
                    if (sse < best) {
                        best = sse;
                        bp = p;
                        best_count = cnt;
                    }
                }
    size_t cnt;
    run(w, s, n, p1, p2, &bp, &ret->level, &ret->trend, d, wk, &cnt);
    if (p1)
        memcpy(ret->season1, d, sizeof(double) * (size_t)p1);
    if (p2)
        memcpy(ret->season2, wk, sizeof(double) * (size_t)p2);
    ret->alpha = bp.alpha;
    ret->beta = bp.beta;
    ret->gamma = bp.gamma;
    ret->delta = bp.delta;
    ret->sigma = best_count ? sqrt(best / (double)best_count) : 0;
    ret->n = n;
    return true;
}

void fc_forecast(const struct fc_model *m, size_t h, double *mean, double *lo, double *hi)
{
    double acc = 0; /* sum of the squared error weights so far */
    for (size_t k = 1; k <= h; k++) {
        size_t t = m->n - 1 + k;
        double v = NAN;
        if (m->method != FC_NONE) {
            v = m->level + (double)k * m->trend;
            if (m->period1)
                v += m->season1[t % (size_t)m->period1];
            if (m->period2)
                v += m->season2[t % (size_t)m->period2];
        }
        if (k > 1) {
            size_t j = k - 1;
            double c = m->alpha * (1 + (double)j * m->beta);
            if (m->period1 && j % (size_t)m->period1 == 0)
                c += m->gamma;
            if (m->period2 && j % (size_t)m->period2 == 0)
                c += m->delta;
            acc += c * c;
        }
        double half = 1.96 * m->sigma * sqrt(1 + acc);
        if (mean)
            mean[k - 1] = v;
        if (lo)
            lo[k - 1] = v - half;
        if (hi)
            hi[k - 1] = v + half;
    }
}

size_t fc_crossing(const double *v, size_t h, double limit)
{
    for (size_t k = 0; k < h; k++) {
        if (!isnan(v[k]) && v[k] >= limit)
            return k + 1;
    }
    return 0;
}

void fc_backtest(const double *v, size_t n, int steps_per_day, struct fc_backtest *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->mae = ret->mae_last = ret->mae_seasonal = NAN;
    /* Split what there is: from the first value on. */
    size_t first = 0;
    while (first < n && isnan(v[first]))
        first++;
    size_t train = first + (n - first) * 3 / 4;
    if (train < first + 4 || n - train < 1)
        return;
    struct fc_model m = {0};
    if (!fc_fit(v, train, steps_per_day, &m)) {
        fc_model_clear(&m);
        return;
    }
    size_t s;
    g_autofree double *w = filled(v, train, &s);
    size_t test = n - train;
    g_autofree double *f = g_new(double, test);
    fc_forecast(&m, test, f, NULL, NULL);
    int period = m.period2 ? m.period2 : m.period1;
    if (!period && steps_per_day >= 2 && train - s >= (size_t)steps_per_day)
        period = steps_per_day;
    double e = 0, el = 0, es = 0;
    size_t cnt = 0;
    for (size_t k = 0; k < test; k++) {
        double y = v[train + k];
        if (isnan(y))
            continue;
        double seasonal = period ? w[train - (size_t)period + k % (size_t)period] : w[train - 1];
        e += fabs(f[k] - y);
        el += fabs(w[train - 1] - y);
        es += fabs(seasonal - y);
        cnt++;
    }
    ret->train = train;
    ret->test = test;
    ret->method = m.method;
    ret->seasonal_period = period;
    if (cnt) {
        ret->mae = e / (double)cnt;
        ret->mae_last = el / (double)cnt;
        ret->mae_seasonal = es / (double)cnt;
        ret->beats = ret->mae < ret->mae_last && ret->mae < ret->mae_seasonal;
    }
    fc_model_clear(&m);
}
