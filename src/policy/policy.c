/*
 * The policies' names, their configuration (defaults, and setting a key of
 * kanri.conf's [policy:memory] / [policy:balance] groups by name), and the
 * plan's lifecycle.  The keys, defaults and bounds are documented in
 * docs/policies.md ("Configuration"); keep the two in step.
 */
#include "config.h"

#include "policy/policy-private.h"
#include "policy/ha.h"

#include "basic/util.h"

#include <stddef.h>
#include <string.h>

/* ---- names ---- */

static const char *const kind_names[POLICY_N] = {
    [POLICY_MEMORY] = "memory", [POLICY_BALANCE] = "balance"};
static const char *const mode_names[] = {
    [POLICY_OFF] = "off", [POLICY_RECOMMEND] = "recommend", [POLICY_ENFORCE] = "enforce"};

const char *policy_kind_name(enum policy_kind k)
{
    return (unsigned)k < POLICY_N ? kind_names[k] : "?";
}

bool policy_kind_parse(const char *text, enum policy_kind *ret)
{
    for (int i = 0; text && i < POLICY_N; i++) {
        if (g_str_equal(text, kind_names[i])) {
            *ret = (enum policy_kind)i;
            return true;
        }
    }
    return false;
}

const char *policy_mode_name(enum policy_mode m)
{
    return (unsigned)m < G_N_ELEMENTS(mode_names) ? mode_names[m] : "?";
}

bool policy_mode_parse(const char *text, enum policy_mode *ret)
{
    for (size_t i = 0; text && i < G_N_ELEMENTS(mode_names); i++) {
        if (g_str_equal(text, mode_names[i])) {
            *ret = (enum policy_mode)i;
            return true;
        }
    }
    return false;
}

const char *policy_action_name(enum policy_action a)
{
    switch (a) {
    case POLICY_ACT_NONE:
        return "none";
    case POLICY_ACT_SETMEM:
        return "set-memory";
    case POLICY_ACT_MIGRATE:
        return "migrate";
    }
    return "?";
}

const char *policy_verdict_name(enum policy_verdict v)
{
    switch (v) {
    case POLICY_OK:
        return "ok";
    case POLICY_NO_EFFECT:
        return "no-effect";
    case POLICY_WORSE:
        return "worse";
    }
    return "?";
}

/* ---- configuration ---- */

#define KIB_U (UINT64_C(1) << 10)
#define MIB_U (UINT64_C(1) << 20)
#define GIB_U (UINT64_C(1) << 30)
#define TIB_U (UINT64_C(1) << 40)

void policy_memory_conf_init(struct policy_memory_conf *c)
{
    /* memset, not a compound literal: the padding is zeroed too, so that
     * configurations compare with memcmp. */
    memset(c, 0, sizeof(*c));
    c->mode = POLICY_OFF;
    c->target_pct = 10;
    c->target_bytes = 0;
    c->give_back_above_pct = 5;
    c->margin_bytes = 64 * MIB_U;
    c->margin_pct = 10;
    c->pressure_pct = 10;
    c->swap_in_floor = 4096;
    c->step_max = GIB_U;
    c->step_min = 16 * MIB_U;
    c->vm_cooldown_us = 60 * USEC_PER_SEC;
    c->host_actions = 2;
}

void policy_balance_conf_init(struct policy_balance_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->mode = POLICY_OFF;
    c->threshold_pct = 25;
    c->sustain_rounds = 3;
    c->min_gain_pct = 5;
    c->reserve_pct = 10;
    c->max_concurrent = 1;
    c->vm_cooldown_us = 10 * 60 * USEC_PER_SEC;
    c->bandwidth_bytes_s = 100.0 * MIB_U;
    c->max_cost_s = 120;
}

/* The leading unsigned decimal number of S ("12", "1.5"): no sign, no
 * exponent, no hex, no spaces.  *ret_end points after it. */
static bool scan_number(const char *s, double *ret, const char **ret_end)
{
    const char *p = s;
    if (!s || !g_ascii_isdigit(*p))
        return false;
    while (g_ascii_isdigit(*p))
        p++;
    if (*p == '.') {
        p++;
        if (!g_ascii_isdigit(*p))
            return false;
        while (g_ascii_isdigit(*p))
            p++;
    }
    if (p - s > 32)
        return false;
    char buf[40];
    memcpy(buf, s, (size_t)(p - s));
    buf[p - s] = '\0';
    double v = g_ascii_strtod(buf, NULL);
    if (!isfinite(v))
        return false;
    *ret = v;
    *ret_end = p;
    return true;
}

/*
 * A size: a number of bytes, or a number with a unit: K, M, G, T (also
 * KiB ... TiB) are powers of 1024, KB ... TB powers of 1000, B is bytes;
 * any case.  With PER_SECOND a trailing "/s" is allowed (a rate).  A
 * fraction ("1.5G") is rounded to whole bytes.  (src/basic has no size
 * parser; the CLI's reads a bare number as MiB, which a configuration
 * file should not.)
 */
static bool parse_size(const char *s, bool per_second, double *ret)
{
    static const struct {
        const char *unit;
        double factor;
    } units[] = {
        {"", 1},      {"b", 1},       {"k", KIB_U},   {"kib", KIB_U}, {"kb", 1e3},
        {"m", MIB_U}, {"mib", MIB_U}, {"mb", 1e6},    {"g", GIB_U},   {"gib", GIB_U},
        {"gb", 1e9},  {"t", TIB_U},   {"tib", TIB_U}, {"tb", 1e12},
    };
    double v;
    const char *unit;
    if (!scan_number(s, &v, &unit))
        return false;
    char buf[8];
    size_t len = strlen(unit);
    if (per_second && len >= 2 && g_str_equal(unit + len - 2, "/s"))
        len -= 2;
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, unit, len);
    buf[len] = '\0';
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (g_ascii_strcasecmp(buf, units[i].unit) == 0) {
            *ret = round(v * units[i].factor);
            return true;
        }
    }
    return false;
}

/* A percent: "10" or "10%" or "7.5 %"-less forms ("7.5%"). */
static bool parse_pct(const char *s, double *ret)
{
    double v;
    const char *end;
    if (!scan_number(s, &v, &end))
        return false;
    if (*end == '%')
        end++;
    if (*end)
        return false;
    *ret = v;
    return true;
}

/* A duration as util's duration_parse() reads it ("90", "90s", "5m",
 * "2h", "1d"), or "0" for none. */
static bool parse_duration(const char *s, int64_t *ret_us)
{
    if (s && (g_str_equal(s, "0") || g_str_equal(s, "0s"))) {
        *ret_us = 0;
        return true;
    }
    return duration_parse(s, ret_us);
}

static bool parse_count(const char *s, uint64_t *ret)
{
    return parse_u64(s, ret);
}

/* Sizes in messages: "64 MiB", "1 GiB", "0 B". */
static char *size_text(double bytes)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t i = 0;
    while (i + 1 < G_N_ELEMENTS(u) && bytes >= 1024 && fmod(bytes, 1024) == 0) {
        bytes /= 1024;
        i++;
    }
    return g_strdup_printf("%.0f%s", bytes, u[i]);
}

static char *duration_text(int64_t us)
{
    int64_t s = us / USEC_PER_SEC;
    if (s && s % 86400 == 0)
        return g_strdup_printf("%" G_GINT64_FORMAT "d", s / 86400);
    if (s && s % 3600 == 0)
        return g_strdup_printf("%" G_GINT64_FORMAT "h", s / 3600);
    if (s && s % 60 == 0)
        return g_strdup_printf("%" G_GINT64_FORMAT "m", s / 60);
    return g_strdup_printf("%" G_GINT64_FORMAT "s", s);
}

enum ktype {
    K_MODE,     /* enum policy_mode */
    K_PCT,      /* double, percent */
    K_SIZE_U64, /* uint64_t bytes */
    K_SIZE_DBL, /* double bytes (or bytes/s) */
    K_RATE_DBL, /* double bytes/s, "/s" allowed */
    K_DUR_US,   /* int64_t microseconds, 0 allowed when min is 0 */
    K_DUR_SEC,  /* double seconds */
    K_UINT,     /* unsigned */
    K_TARGET,   /* the memory target: a percent or a size (special) */
    K_BOOL,     /* bool: true/false, yes/no, on/off, 1/0 */
};

struct key {
    const char *name;
    enum ktype type;
    double min, max; /* bounds, inclusive, in the stored unit (seconds for durations) */
    size_t off;
};

#define M(f)  offsetof(struct policy_memory_conf, f)
#define BL(f) offsetof(struct policy_balance_conf, f)

/* The target's bounds: as a percent, and as a size. */
#define TARGET_PCT_MIN   0.1
#define TARGET_PCT_MAX   90.0
#define TARGET_BYTES_MIN (16.0 * MIB_U)
#define TARGET_BYTES_MAX (64.0 * TIB_U)

static const struct key memory_keys[] = {
    {"mode", K_MODE, 0, 0, M(mode)},
    {"host_free_target", K_TARGET, 0, 0, 0},
    {"give_back_above", K_PCT, 0, 50, M(give_back_above_pct)},
    {"margin", K_SIZE_U64, 0, 64.0 * GIB_U, M(margin_bytes)},
    {"margin_pct", K_PCT, 0, 100, M(margin_pct)},
    /* Below 100 so that the floor (memory.c) stays finite; 50 % is
     * already a guest with half its memory idle called "pressed". */
    {"pressure_pct", K_PCT, 0, 50, M(pressure_pct)},
    {"swap_in_floor", K_RATE_DBL, 0, 1.0 * GIB_U, M(swap_in_floor)},
    {"step_max", K_SIZE_U64, 1.0 * MIB_U, 1.0 * TIB_U, M(step_max)},
    {"step_min", K_SIZE_U64, 0, 1.0 * TIB_U, M(step_min)},
    {"vm_cooldown", K_DUR_US, 0, 86400, M(vm_cooldown_us)},
    {"host_actions", K_UINT, 1, 1000, M(host_actions)},
};

static const struct key balance_keys[] = {
    {"mode", K_MODE, 0, 0, BL(mode)},
    {"threshold_pct", K_PCT, 1, 100, BL(threshold_pct)},
    {"sustain_rounds", K_UINT, 1, 1000, BL(sustain_rounds)},
    {"min_gain_pct", K_PCT, 0, 100, BL(min_gain_pct)},
    {"reserve_pct", K_PCT, 0, 90, BL(reserve_pct)},
    {"max_concurrent", K_UINT, 1, 100, BL(max_concurrent)},
    {"vm_cooldown", K_DUR_US, 0, 30 * 86400, BL(vm_cooldown_us)},
    {"bandwidth", K_RATE_DBL, 1.0 * MIB_U, 1.0 * TIB_U, BL(bandwidth_bytes_s)},
    {"max_cost", K_DUR_SEC, 1, 86400, BL(max_cost_s)},
};

#define HA(f) offsetof(struct ha_conf, f)

static const struct key ha_keys[] = {
    {"enabled", K_BOOL, 0, 0, HA(enabled)},
    {"detect_after", K_DUR_US, 2, 600, HA(detect_us)},
    {"fence_retry", K_DUR_US, 5, 3600, HA(fence_retry_us)},
    {"restart_attempts", K_UINT, 1, 10, HA(restart_attempts)},
    {"reserve", K_SIZE_DBL, 0, 1.0 * TIB_U, HA(reserve_bytes)},
};

static GQuark conf_error_quark(void)
{
    return g_quark_from_static_string("kanri-policy-conf-error");
}

/* What a key takes, for the error message: "a size from 0 B to 64 GiB". */
static char *expects(const struct key *k)
{
    g_autofree char *lo = NULL, *hi = NULL;
    switch (k->type) {
    case K_MODE:
        return g_strdup("one of off, recommend, enforce");
    case K_BOOL:
        return g_strdup("true or false");
    case K_PCT:
        return g_strdup_printf("a percent from %g to %g", k->min, k->max);
    case K_SIZE_U64:
    case K_SIZE_DBL:
        lo = size_text(k->min);
        hi = size_text(k->max);
        return g_strdup_printf("a size from %s to %s (bytes, or with K, M, G, T)", lo, hi);
    case K_RATE_DBL:
        lo = size_text(k->min);
        hi = size_text(k->max);
        return g_strdup_printf("a rate from %s/s to %s/s (bytes per second, or with K, M, G, T)",
                               lo, hi);
    case K_DUR_US:
    case K_DUR_SEC:
        lo = duration_text((int64_t)k->min * USEC_PER_SEC);
        hi = duration_text((int64_t)k->max * USEC_PER_SEC);
        return g_strdup_printf("a duration from %s to %s (like 90s, 5m, 2h)", lo, hi);
    case K_UINT:
        return g_strdup_printf("a whole number from %g to %g", k->min, k->max);
    case K_TARGET:
        lo = size_text(TARGET_BYTES_MIN);
        hi = size_text(TARGET_BYTES_MAX);
        return g_strdup_printf("a percent of the host's memory from %g%% to %g%% (like 10%%), "
                               "or a size from %s to %s (like 2G)",
                               TARGET_PCT_MIN, TARGET_PCT_MAX, lo, hi);
    }
    return g_strdup("?");
}

/* Parses VALUE for K into BASE (a copy of the configuration); false when
 * it is malformed or out of bounds. */
static bool key_set(const struct key *k, void *base, const char *value)
{
    char *field = (char *)base + k->off;
    double d;
    int64_t us;
    uint64_t u;
    switch (k->type) {
    case K_MODE:
        return policy_mode_parse(value, (enum policy_mode *)field);
    case K_BOOL:
        if (g_strv_contains((const char *const[]){"true", "yes", "on", "1", NULL}, value))
            *(bool *)field = true;
        else if (g_strv_contains((const char *const[]){"false", "no", "off", "0", NULL}, value))
            *(bool *)field = false;
        else
            return false;
        return true;
    case K_PCT:
        if (!parse_pct(value, &d) || d < k->min || d > k->max)
            return false;
        *(double *)field = d;
        return true;
    case K_SIZE_U64:
    case K_SIZE_DBL:
    case K_RATE_DBL:
        if (!parse_size(value, k->type == K_RATE_DBL, &d) || d < k->min || d > k->max)
            return false;
        if (k->type == K_SIZE_U64)
            *(uint64_t *)field = (uint64_t)d;
        else
            *(double *)field = d;
        return true;
    case K_DUR_US:
    case K_DUR_SEC:
        if (!parse_duration(value, &us) || us < (int64_t)k->min * USEC_PER_SEC ||
            us > (int64_t)k->max * USEC_PER_SEC)
            return false;
        if (k->type == K_DUR_US)
            *(int64_t *)field = us;
        else
            *(double *)field = (double)us / USEC_PER_SEC;
        return true;
    case K_UINT:
        if (!parse_count(value, &u) || (double)u < k->min || (double)u > k->max)
            return false;
        *(unsigned *)field = (unsigned)u;
        return true;
    case K_TARGET: {
        struct policy_memory_conf *c = base;
        if (value && value[0] && value[strlen(value) - 1] == '%') {
            if (!parse_pct(value, &d) || d < TARGET_PCT_MIN || d > TARGET_PCT_MAX)
                return false;
            c->target_pct = d;
            c->target_bytes = 0;
            return true;
        }
        if (!parse_size(value, false, &d) || d < TARGET_BYTES_MIN || d > TARGET_BYTES_MAX)
            return false;
        c->target_pct = POLICY_ABSENT;
        c->target_bytes = (uint64_t)d;
        return true;
    }
    }
    return false;
}

static const struct key *key_find(const struct key *keys, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (g_str_equal(keys[i].name, name))
            return &keys[i];
    }
    return NULL;
}

static bool conf_set(const char *group, const struct key *keys, size_t n, void *copy,
                     const char *name, const char *value, GError **error)
{
    if (!name || !value) {
        g_set_error(error, conf_error_quark(), 0, "[%s]: option name and value are required",
                    group);
        return false;
    }
    const struct key *k = key_find(keys, n, name);
    if (!k) {
        g_set_error(error, conf_error_quark(), 0, "[%s]: unknown option '%.64s'", group, name);
        return false;
    }
    if (!key_set(k, copy, value)) {
        g_autofree char *what = expects(k);
        g_set_error(error, conf_error_quark(), 0, "[%s] %s: bad value '%.64s': expected %s", group,
                    name, value, what);
        return false;
    }
    return true;
}

bool policy_memory_conf_set(struct policy_memory_conf *c, const char *name, const char *value,
                            GError **error)
{
    struct policy_memory_conf copy = *c;
    if (!conf_set("policy:memory", memory_keys, G_N_ELEMENTS(memory_keys), &copy, name, value,
                  error))
        return false;
    /* A step_min above step_max would forbid every change; refused here
     * rather than silently planning nothing. */
    if (copy.step_min > copy.step_max) {
        g_autofree char *lo = size_text((double)copy.step_min);
        g_autofree char *hi = size_text((double)copy.step_max);
        g_set_error(error, conf_error_quark(), 0,
                    "[policy:memory] %s: step_min (%s) would be above step_max (%s); %s first",
                    name, lo, hi,
                    g_str_equal(name, "step_min") ? "raise step_max" : "lower step_min");
        return false;
    }
    *c = copy;
    return true;
}

bool policy_balance_conf_set(struct policy_balance_conf *c, const char *name, const char *value,
                             GError **error)
{
    struct policy_balance_conf copy = *c;
    if (!conf_set("policy:balance", balance_keys, G_N_ELEMENTS(balance_keys), &copy, name, value,
                  error))
        return false;
    *c = copy;
    return true;
}

/* ---- the plan ---- */


/* ---- settings as text ---- */

/* A setting's value in force, in the form kanri.conf takes (g_free). */
static char *key_text(const struct key *k, const void *base)
{
    const char *field = (const char *)base + k->off;
    switch (k->type) {
    case K_MODE:
        return g_strdup(policy_mode_name(*(const enum policy_mode *)field));
    case K_BOOL:
        return g_strdup(*(const bool *)field ? "true" : "false");
    case K_PCT:
        return g_strdup_printf("%g%%", *(const double *)field);
    case K_SIZE_U64:
        return size_text((double)*(const uint64_t *)field);
    case K_SIZE_DBL:
        return size_text(*(const double *)field);
    case K_RATE_DBL: {
        g_autofree char *t = size_text(*(const double *)field);
        return g_strconcat(t, "/s", NULL);
    }
    case K_DUR_US:
        return duration_text(*(const int64_t *)field);
    case K_DUR_SEC:
        return duration_text((int64_t)(*(const double *)field * USEC_PER_SEC));
    case K_UINT:
        return g_strdup_printf("%u", *(const unsigned *)field);
    case K_TARGET: {
        const struct policy_memory_conf *c = base;
        if (policy_present(c->target_pct))
            return g_strdup_printf("%g%%", c->target_pct);
        return size_text((double)c->target_bytes);
    }
    }
    return g_strdup("");
}

static char *conf_json(const struct key *keys, size_t n, const void *base)
{
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        g_autofree char *t = key_text(&keys[i], base);
        json_object_object_add(o, keys[i].name, json_object_new_string(t));
    }
    char *text = policy_json_text(o);
    json_object_put(o);
    return text;
}

char *policy_memory_conf_json(const struct policy_memory_conf *c)
{
    return conf_json(memory_keys, G_N_ELEMENTS(memory_keys), c);
}

char *policy_balance_conf_json(const struct policy_balance_conf *c)
{
    return conf_json(balance_keys, G_N_ELEMENTS(balance_keys), c);
}

void ha_conf_init(struct ha_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->enabled = true;
    c->detect_us = 5 * USEC_PER_SEC;
    c->fence_retry_us = 30 * USEC_PER_SEC;
    c->restart_attempts = 3;
    c->reserve_bytes = 0;
}

bool ha_conf_set(struct ha_conf *c, const char *name, const char *value, GError **error)
{
    struct ha_conf copy = *c;
    if (!conf_set("ha", ha_keys, G_N_ELEMENTS(ha_keys), &copy, name, value, error))
        return false;
    *c = copy;
    return true;
}

char *ha_conf_json(const struct ha_conf *c)
{
    return conf_json(ha_keys, G_N_ELEMENTS(ha_keys), c);
}

void policy_decision_free(struct policy_decision *d)
{
    if (!d)
        return;
    g_free(d->vm_uuid);
    g_free(d->vm_name);
    g_free(d->rule);
    g_free(d->inputs);
    g_free(d->expected);
    g_free(d->reason);
    g_free(d);
}

void policy_plan_free(struct policy_plan *p)
{
    if (!p)
        return;
    if (p->decisions)
        g_ptr_array_unref(p->decisions);
    g_free(p);
}

struct policy_plan *policy_plan_new(unsigned balance_rounds)
{
    struct policy_plan *p = g_new0(struct policy_plan, 1);
    p->decisions = g_ptr_array_new_with_free_func((GDestroyNotify)policy_decision_free);
    p->balance_rounds = balance_rounds;
    return p;
}

struct policy_decision *policy_decision_add(struct policy_plan *p, enum policy_kind kind,
                                            const struct policy_vm *vm, int64_t host_id,
                                            const char *rule, enum policy_action action,
                                            char *reason)
{
    struct policy_decision *d = g_new0(struct policy_decision, 1);
    d->policy = kind;
    d->vm_uuid = vm ? g_strdup(vm->uuid) : NULL;
    d->vm_name = vm ? g_strdup(vm->name) : NULL;
    d->host_id = host_id;
    d->rule = g_strdup(rule);
    d->action = action;
    d->reason = reason;
    g_ptr_array_add(p->decisions, d);
    return d;
}

char *policy_json_text(json_object *o)
{
    return g_strdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

void policy_decision_set_json(struct policy_decision *d, json_object *inputs, json_object *expected)
{
    g_free(d->inputs);
    g_free(d->expected);
    d->inputs = inputs ? policy_json_text(inputs) : NULL;
    d->expected = expected ? policy_json_text(expected) : NULL;
    json_object_put(inputs);
    json_object_put(expected);
}

json_object *policy_jnum(double v)
{
    if (!policy_present(v) || !isfinite(v))
        return NULL;
    if (v == floor(v) && fabs(v) < 1e15)
        return json_object_new_int64((int64_t)v);
    /* Three decimals are plenty for percents, cores and seconds, and keep
     * the record free of binary noise (0.30000000000000004). */
    char buf[64];
    g_ascii_formatd(buf, sizeof(buf), "%.3f", v);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 1 && buf[n - 1] == '.')
        buf[--n] = '\0';
    double r = g_ascii_strtod(buf, NULL);
    if (r == floor(r))
        return json_object_new_int64((int64_t)r);
    return json_object_new_double_s(r, buf);
}

static const char *keep(GPtrArray *scratch, char *s)
{
    g_ptr_array_add(scratch, s);
    return s;
}

static char *tenths(double v, const char *unit)
{
    if (fabs(v - round(v)) < 0.05)
        return g_strdup_printf("%.0f %s", v, unit);
    return g_strdup_printf("%.1f %s", v, unit);
}

const char *policy_mib(GPtrArray *scratch, double bytes)
{
    if (!policy_present(bytes))
        return "?";
    return keep(scratch, tenths(bytes / MIB, "MiB"));
}

const char *policy_rate(GPtrArray *scratch, double bytes_s)
{
    if (!policy_present(bytes_s))
        return "?";
    if (fabs(bytes_s) < MIB)
        return keep(scratch, tenths(bytes_s / 1024, "KiB/s"));
    return keep(scratch, tenths(bytes_s / MIB, "MiB/s"));
}

json_object *policy_jfig(const struct policy_fig *f)
{
    json_object *o = json_object_new_object();
    bool present = policy_present(f->v);
    json_object_object_add(o, "value", policy_jnum(f->v));
    json_object_object_add(o, "provenance",
                           present && f->provenance ? json_object_new_string(f->provenance) : NULL);
    json_object_object_add(o, "age_s",
                           f->age_us >= 0 ? policy_jnum((double)f->age_us / 1e6) : NULL);
    return o;
}
