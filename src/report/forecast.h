/*
 * report/forecast: where a demand series is going (docs/reports.md).
 * Pure: evenly spaced values in (NaN for a step without one), a fitted
 * model, a forecast with a prediction interval, the step it crosses a
 * limit, and a backtest against two naive baselines out.
 *
 * The model is additive Holt-Winters with as many seasons as the history
 * holds two of: daily and weekly (Taylor's double-seasonal form) from two
 * weeks on, daily from two days on, else Holt's linear trend alone.  Its
 * smoothing parameters are the ones, on a small grid, with the least
 * one-step squared error over the history.  Missing steps are filled
 * with the last value before them (leading ones dropped).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum fc_method {
    FC_NONE,      /* too little history (fewer than 4 values) */
    FC_HOLT,      /* level and trend */
    FC_HW_DAILY,  /* + a daily season */
    FC_HW_WEEKLY, /* + daily and weekly seasons */
};

const char *fc_method_name(enum fc_method m); /* "holt", "holt-winters daily", ... */

struct fc_model {
    enum fc_method method;
    int period1, period2;             /* steps per day / per week; 0: none */
    double alpha, beta, gamma, delta; /* level, trend, daily, weekly */
    double sigma;                     /* one-step residuals' standard deviation */
    /* The state after the last value. */
    double level, trend;
    double *season1, *season2; /* period1 / period2 values, indexed by step modulo the period */
    size_t n;                  /* values fitted (steps after the first value) */
};

void fc_model_clear(struct fc_model *m);

/* Fits V (N values, NaN for gaps) at STEPS_PER_DAY steps a day.  False
 * (method FC_NONE) when fewer than 4 values remain. */
bool fc_fit(const double *v, size_t n, int steps_per_day, struct fc_model *ret);

/* The H steps after M's last value: into MEAN, LO and HI (H values each;
 * any may be NULL) the forecast and its 95 % prediction interval, whose
 * variance grows with the horizon as the model's errors accumulate. */
void fc_forecast(const struct fc_model *m, size_t h, double *mean, double *lo, double *hi);

/* The first of the H steps ahead whose value in V (H values) reaches
 * LIMIT, counted from 1; 0 when none does. */
size_t fc_crossing(const double *v, size_t h, double limit);

struct fc_backtest {
    size_t train, test;    /* values in each part (0, 0: too short to test) */
    enum fc_method method; /* of the model fitted on the training part */
    double mae;            /* mean absolute error of its forecast over the test part */
    double mae_last;       /* ... of the last training value repeated */
    double mae_seasonal;   /* ... of the last season repeated (weekly, else daily) */
    int seasonal_period;   /* the season the seasonal baseline repeats, in steps */
    bool beats;            /* strictly better than both */
};

/* Trains on the first three quarters of V (N values; from its first
 * value on) and scores the forecast of the rest against the baselines. */
void fc_backtest(const double *v, size_t n, int steps_per_day, struct fc_backtest *ret);
