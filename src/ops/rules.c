/*
 * Scopes, rule evaluation, the preceding-changes ranking and route
 * matching (ops.h).  Pure.
 */
#include "config.h"

#include "ops/ops.h"

#include <math.h>
#include <string.h>

/* ---- scopes ---- */

static const char *const scope_prefixes[] = {"host:", "vm:", "item:", "pool:"};

bool ops_scope_valid(const char *scope, GError **error)
{
    if (!scope || g_str_equal(scope, "all"))
        return true;
    for (guint i = 0; i < G_N_ELEMENTS(scope_prefixes); i++) {
        const char *p = scope_prefixes[i];
        if (g_str_has_prefix(scope, p) && scope[strlen(p)] && strlen(scope) <= 512)
            return true;
    }
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "scope \"%s\": expected all, host:NAME, vm:GLOB, pool:GLOB or item:ID", scope);
    return false;
}

bool ops_scope_match(const char *scope, const char *item, const char *item_name, const char *host)
{
    if (!scope || g_str_equal(scope, "all"))
        return true;
    if (!item)
        return false;
    if (g_str_has_prefix(scope, "host:")) {
        const char *name = scope + 5;
        return g_strcmp0(host, name) == 0 ||
               (g_str_has_prefix(item, "host:") && g_str_equal(item + 5, name));
    }
    if (g_str_has_prefix(scope, "vm:"))
        return g_str_has_prefix(item, "vm:") && item_name &&
               g_pattern_match_simple(scope + 3, item_name);
    if (g_str_has_prefix(scope, "pool:"))
        return g_str_has_prefix(item, "pool:") && g_pattern_match_simple(scope + 5, item + 5);
    if (g_str_has_prefix(scope, "item:"))
        return g_str_equal(scope + 5, item);
    return false;
}

/* ---- rules ---- */

bool ops_rule_breached(const struct alert_rule *r, double value)
{
    if (isnan(value))
        return false;
    if (r->kind != RULE_THRESHOLD) /* value: hours until full */
        return value <= r->value;
    const char *op = r->op ? r->op : ">";
    if (g_str_equal(op, ">"))
        return value > r->value;
    if (g_str_equal(op, ">="))
        return value >= r->value;
    if (g_str_equal(op, "<"))
        return value < r->value;
    return value <= r->value;
}

enum rule_verdict ops_rule_step(const struct alert_rule *r, struct rule_track *t, bool have,
                                double value, int64_t now_us)
{
    if (!have || isnan(value)) {
        if (!t->missing_since)
            t->missing_since = now_us;
        t->missing_n++;
        if (!t->missing_firing && t->missing_n >= 2 && now_us - t->missing_since >= r->for_us) {
            t->missing_firing = true;
            return RULE_CANNOT_EVAL;
        }
        /* A missing figure neither starts nor ends a breach. */
        return RULE_QUIET;
    }
    t->missing_since = 0;
    t->missing_n = 0;
    if (t->missing_firing) {
        t->missing_firing = false;
        /* One verdict an evaluation: the rule itself is judged next time. */
        return RULE_CAN_EVAL_AGAIN;
    }
    bool breach = ops_rule_breached(r, value);
    if (breach) {
        t->clear_since = 0;
        if (!t->breach_since)
            t->breach_since = now_us;
        if (!t->firing && now_us - t->breach_since >= r->for_us) {
            t->firing = true;
            return RULE_FIRES;
        }
        return RULE_QUIET;
    }
    t->breach_since = 0;
    if (!t->firing)
        return RULE_QUIET;
    if (!t->clear_since)
        t->clear_since = now_us;
    if (now_us - t->clear_since >= r->for_us) {
        t->firing = false;
        t->clear_since = 0;
        return RULE_CLEARS;
    }
    return RULE_QUIET;
}

/* The rate is smoothed over about this long, so one busy interval does
 * not predict a full pool. */
#define TREND_TAU_S 900.0

double ops_trend_hours(struct rule_track *t, int64_t t_us, double level, double limit)
{
    if (isnan(level) || isnan(limit))
        return NAN;
    if (!t->have_level) {
        t->have_level = true;
        t->level_t = t_us;
        t->level = level;
        t->rate = NAN;
        return NAN;
    }
    double dt = (double)(t_us - t->level_t) / 1e6;
    if (dt <= 0)
        return NAN;
    double rate = (level - t->level) / dt;
    if (isnan(t->rate))
        t->rate = rate;
    else
        t->rate += (1.0 - exp(-dt / TREND_TAU_S)) * (rate - t->rate);
    t->level_t = t_us;
    t->level = level;
    if (level >= limit)
        return 0;
    if (t->rate <= 0)
        return INFINITY;
    return (limit - level) / t->rate / 3600.0;
}

char *ops_rule_condition(const struct alert_rule *r, bool cannot_eval)
{
    return cannot_eval ? g_strdup_printf("rule/%s/cannot-evaluate", r->name)
                       : g_strdup_printf("rule/%s", r->name);
}

static bool name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return false;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-_.", *p))
            return false;
    }
    return true;
}

bool ops_rule_valid(const struct alert_rule *r, GError **error)
{
    if (!name_ok(r->name)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "rule name \"%s\": 1 to 64 letters, digits, '-', '_' or '.'",
                    r->name ? r->name : "");
        return false;
    }
    if (!isfinite(r->value)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "rule %s: value must be a finite number", r->name);
        return false;
    }
    if (r->for_us < 0 || r->for_us > G_GINT64_CONSTANT(7) * 24 * 3600 * G_USEC_PER_SEC) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "rule %s: for must be between 0 and 7 days", r->name);
        return false;
    }
    if (r->kind == RULE_THRESHOLD) {
        static const char *const views[] = {"host", "guest", "reconciled"};
        static const char *const ops[] = {">", ">=", "<", "<="};
        bool vok = false, ook = false;
        for (guint i = 0; i < G_N_ELEMENTS(views); i++)
            vok |= g_strcmp0(r->view, views[i]) == 0;
        for (guint i = 0; i < G_N_ELEMENTS(ops); i++)
            ook |= g_strcmp0(r->op, ops[i]) == 0;
        if (!vok || !ook || !r->metric || !*r->metric) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "rule %s: a threshold needs metric, view (host, guest or reconciled) and "
                        "op (>, >=, < or <=)",
                        r->name);
            return false;
        }
    } else if (r->value <= 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "rule %s: a trend rule's value is hours, more than 0", r->name);
        return false;
    }
    return ops_scope_valid(r->scope, error);
}

/* ---- preceding changes ---- */

void ops_change_clear(struct ops_change *c)
{
    g_free(c->item);
    g_free(c->item_name);
    g_free(c->source);
    g_free(c->cause);
    g_free(c->actor);
    g_free(c->summary);
    g_free(c->diff);
    memset(c, 0, sizeof(*c));
}

static gint newest_first(gconstpointer a, gconstpointer b)
{
    const struct ops_change *x = a, *y = b;
    if (x->t_us != y->t_us)
        return x->t_us > y->t_us ? -1 : 1;
    return x->id > y->id ? -1 : x->id < y->id;
}

static bool by_person(const struct ops_change *c)
{
    return c->actor && *c->actor && g_strcmp0(c->actor, "kanrid") != 0 &&
           (g_strcmp0(c->source, "action") == 0 || g_strcmp0(c->cause, "action") == 0);
}

void ops_preceding(GArray *changes, const char *item, int64_t opened_us, int64_t window_us,
                   int64_t near_us)
{
    for (guint i = changes->len; i-- > 0;) {
        struct ops_change *c = &g_array_index(changes, struct ops_change, i);
        c->likely = false;
        c->why = NULL;
        bool in_window = c->t_us <= opened_us && c->t_us >= opened_us - window_us;
        if (!in_window && !(c->pending && c->t_us <= opened_us)) {
            ops_change_clear(c);
            g_array_remove_index(changes, i);
        }
    }
    g_array_sort(changes, newest_first);
    struct ops_change *best = NULL;
    const char *why = NULL;
    for (guint i = 0; i < changes->len && !best; i++) {
        struct ops_change *c = &g_array_index(changes, struct ops_change, i);
        /* A first sighting is kanri learning of the item, not a change. */
        if (g_strcmp0(c->item, item) == 0 && opened_us - c->t_us <= near_us &&
            g_strcmp0(c->cause, "created") != 0) {
            best = c;
            why = "a change to the same item shortly before";
        }
    }
    for (guint i = 0; i < changes->len && !best; i++) {
        struct ops_change *c = &g_array_index(changes, struct ops_change, i);
        if (by_person(c)) {
            best = c;
            why = "an action by a person";
        }
    }
    for (guint i = 0; i < changes->len && !best; i++) {
        struct ops_change *c = &g_array_index(changes, struct ops_change, i);
        if (g_strcmp0(c->cause, "external") == 0) {
            best = c;
            why = "an external change";
        }
    }
    if (best) {
        best->likely = true;
        best->why = why;
    }
}

/* ---- routes ---- */

bool ops_route_match(const struct notify_route *r, const struct incident *inc,
                     enum incident_transition what)
{
    if (r->transitions && !(r->transitions & (1u << what)))
        return false;
    if (inc->severity < r->min_severity)
        return false;
    if (r->conditions && !g_pattern_match_simple(r->conditions, inc->condition))
        return false;
    return ops_scope_match(r->scope, inc->item, inc->item_name, inc->host);
}

char *ops_delivery_key(int64_t incident_id, unsigned seq)
{
    return g_strdup_printf("kanri-%" G_GINT64_FORMAT "-%u", incident_id, seq);
}
