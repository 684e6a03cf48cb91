/*
 * Findings' hysteresis and the state that carries it from one round to the
 * next, with its text form for the store.
 */
#include "config.h"

#include "reconcile/reconcile-private.h"

#include "basic/json.h"

#include <json-c/json.h>
#include <string.h>

#define STATE_MAX_BYTES   (256 * 1024)
#define STATE_MAX_DEPTH   4
#define STATE_MAX_MESSAGE 4096
#define STATE_VERSION     1

struct reconcile_state *reconcile_state_new(void)
{
    struct reconcile_state *st = g_new0(struct reconcile_state, 1);
    st->tracks = g_ptr_array_new_with_free_func((GDestroyNotify)reconcile_track_free);
    return st;
}

void reconcile_state_free(struct reconcile_state *st)
{
    if (!st)
        return;
    g_ptr_array_unref(st->tracks);
    g_free(st);
}

void reconcile_track_free(struct reconcile_track *t)
{
    if (!t)
        return;
    g_free(t->message);
    g_free(t);
}

void reconcile_finding_free(struct reconcile_finding *f)
{
    if (!f)
        return;
    g_free(f->message);
    g_free(f);
}

static enum reconcile_severity severity_of(const struct reconcile_rule_conf *conf,
                                           const struct reconcile_eval *ev)
{
    if (ev->critical || (reconcile_present(conf->crit_at) && ev->measure >= conf->crit_at))
        return RECONCILE_CRITICAL;
    return conf->severity;
}

void reconcile_track_step(enum reconcile_rule rule, const struct reconcile_rule_conf *conf,
                          const struct reconcile_track *prev, const struct reconcile_eval *ev,
                          int64_t now_us, struct reconcile_track **ret_track,
                          struct reconcile_finding **ret_finding)
{
    *ret_track = NULL;
    *ret_finding = NULL;
    unsigned open_after = MAX(conf->open_after, 1u);
    unsigned close_after = MAX(conf->close_after, 1u);
    enum reconcile_class cls = ev->cls;

    if (!prev && (cls != RC_CLASS_ABOVE || !conf->enabled))
        return;

    struct reconcile_track t = {.rule = rule, .state = RECONCILE_CLOSED};
    if (prev) {
        t = *prev;
        t.message = NULL;
    }
    g_autofree char *note = NULL;

    if (!conf->enabled) {
        /* Turning a rule off closes what it had open, visibly. */
        t.state = RECONCILE_CLOSED;
        t.changed_us = now_us;
        note = g_strdup("rule disabled in the configuration");
    } else if (cls == RC_CLASS_UNKNOWN) {
        /* Missing inputs move neither counter: a finding must not close
         * just because one side went quiet (that has its own finding). */
        note = g_strdup_printf("not re-evaluated this round: %s",
                               ev->message ? ev->message : "inputs missing");
    } else {
        t.measure = ev->measure;
        t.severity = severity_of(conf, ev);
        switch (prev ? prev->state : RECONCILE_CLOSED) {
        case RECONCILE_CLOSED:
            t.above = 1;
            t.below = 0;
            t.since_us = now_us;
            t.changed_us = now_us;
            t.state = t.above >= open_after ? RECONCILE_OPEN : RECONCILE_OPENING;
            break;
        case RECONCILE_OPENING:
            if (cls == RC_CLASS_ABOVE) {
                t.above++;
                if (t.above >= open_after) {
                    t.state = RECONCILE_OPEN;
                    t.changed_us = now_us;
                }
            } else {
                /* Opening needs consecutive rounds above: one round short
                 * of it ends the episode. */
                t.state = RECONCILE_CLOSED;
                t.changed_us = now_us;
            }
            break;
        case RECONCILE_OPEN:
        case RECONCILE_CLOSING:
            if (cls == RC_CLASS_BELOW) {
                t.below++;
                if (t.below >= close_after) {
                    t.state = RECONCILE_CLOSED;
                    t.changed_us = now_us;
                } else if (t.state == RECONCILE_OPEN) {
                    t.state = RECONCILE_CLOSING;
                    t.changed_us = now_us;
                }
            } else {
                /* In the band or above: still open, and the closing count
                 * starts again. */
                if (t.state == RECONCILE_CLOSING)
                    t.changed_us = now_us;
                t.state = RECONCILE_OPEN;
                t.below = 0;
            }
            break;
        }
    }

    const char *msg = cls != RC_CLASS_UNKNOWN && ev->message ? ev->message
                      : prev && prev->message                ? prev->message
                                                             : "";
    struct reconcile_finding *f = g_new0(struct reconcile_finding, 1);
    f->rule = rule;
    f->id = reconcile_rule_name(rule);
    f->severity = t.severity;
    f->state = t.state;
    f->since_us = t.since_us;
    f->changed_us = t.changed_us;
    f->measure = t.measure;
    f->message = note ? g_strdup_printf("%s (%s)", msg, note) : g_strdup(msg);
    *ret_finding = f;

    if (t.state != RECONCILE_CLOSED) {
        struct reconcile_track *keep = g_new(struct reconcile_track, 1);
        *keep = t;
        keep->message = g_strdup(msg);
        *ret_track = keep;
    }
}

/* ---- text form ---- */

char *reconcile_state_to_json(const struct reconcile_state *st)
{
    json_object *root = json_object_new_object();
    json_object *arr = json_object_new_array();
    json_object_object_add(root, "version", json_object_new_int(STATE_VERSION));
    for (guint i = 0; st && i < st->tracks->len; i++) {
        const struct reconcile_track *t = g_ptr_array_index(st->tracks, i);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "rule", json_object_new_string(reconcile_rule_name(t->rule)));
        json_object_object_add(o, "state", json_object_new_string(reconcile_fstate_name(t->state)));
        json_object_object_add(o, "above", json_object_new_int64(t->above));
        json_object_object_add(o, "below", json_object_new_int64(t->below));
        json_object_object_add(o, "since_us", json_object_new_int64(t->since_us));
        json_object_object_add(o, "changed_us", json_object_new_int64(t->changed_us));
        json_object_object_add(o, "severity",
                               json_object_new_string(reconcile_severity_name(t->severity)));
        json_object_object_add(o, "measure",
                               isfinite(t->measure) ? json_object_new_double(t->measure) : NULL);
        json_object_object_add(o, "message", json_object_new_string(t->message ? t->message : ""));
        json_object_array_add(arr, o);
    }
    json_object_object_add(root, "tracks", arr);
    char *s = g_strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return s;
}

G_DEFINE_QUARK(kanri_reconcile_state_error_quark, reconcile_state_error)

static int name_index(const char *s, const char *(*name)(int), int n)
{
    for (int i = 0; i < n; i++) {
        if (g_str_equal(s, name(i)))
            return i;
    }
    return -1;
}

static const char *rule_name_i(int i)
{
    return reconcile_rule_name((enum reconcile_rule)i);
}
static const char *fstate_name_i(int i)
{
    return reconcile_fstate_name((enum reconcile_fstate)i);
}
static const char *severity_name_i(int i)
{
    return reconcile_severity_name((enum reconcile_severity)i);
}

static bool get_str(json_object *o, const char *key, const char **ret)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return false;
    *ret = json_object_get_string(v);
    return true;
}

static bool get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return false;
    int64_t i = json_object_get_int64(v);
    if (i < min || i > max)
        return false;
    *ret = i;
    return true;
}

static bool parse_track(json_object *o, struct reconcile_track *t, const char **ret_field)
{
    const char *s;
    int64_t i;
    int k;
    *ret_field = "rule";
    if (!get_str(o, "rule", &s) || (k = name_index(s, rule_name_i, RR_N)) < 0)
        return false;
    t->rule = (enum reconcile_rule)k;
    *ret_field = "state";
    /* A closed finding is never persisted. */
    if (!get_str(o, "state", &s) || (k = name_index(s, fstate_name_i, RECONCILE_CLOSED)) < 0)
        return false;
    t->state = (enum reconcile_fstate)k;
    *ret_field = "above";
    if (!get_int(o, "above", 0, G_MAXINT32, &i))
        return false;
    t->above = (unsigned)i;
    *ret_field = "below";
    if (!get_int(o, "below", 0, G_MAXINT32, &i))
        return false;
    t->below = (unsigned)i;
    *ret_field = "since_us";
    if (!get_int(o, "since_us", G_MININT64, G_MAXINT64, &t->since_us))
        return false;
    *ret_field = "changed_us";
    if (!get_int(o, "changed_us", G_MININT64, G_MAXINT64, &t->changed_us))
        return false;
    *ret_field = "severity";
    if (!get_str(o, "severity", &s) || (k = name_index(s, severity_name_i, 3)) < 0)
        return false;
    t->severity = (enum reconcile_severity)k;
    *ret_field = "measure";
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, "measure", &v))
        return false;
    if (v == NULL)
        t->measure = RECONCILE_ABSENT;
    else if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
        t->measure = json_object_get_double(v);
    else
        return false;
    *ret_field = "message";
    if (!get_str(o, "message", &s) || strlen(s) > STATE_MAX_MESSAGE ||
        !g_utf8_validate(s, -1, NULL))
        return false;
    t->message = g_strdup(s);
    return true;
}

struct reconcile_state *reconcile_state_from_json(const char *text, size_t len, GError **error)
{
    static const struct json_limits lim = {.max_bytes = STATE_MAX_BYTES,
                                           .max_depth = STATE_MAX_DEPTH};
    GQuark q = reconcile_state_error_quark();
    if (!text) {
        g_set_error(error, q, 0, "state text is missing");
        return NULL;
    }
    g_autoptr(GError) jerr = NULL;
    json_object *root = NULL;
    if (!json_parse_strict(text, len, &lim, &root, &jerr)) {
        g_set_error(error, q, 0, "state: %s", jerr->message);
        return NULL;
    }
    int64_t version = 0;
    json_object *arr = NULL;
    if (!json_object_is_type(root, json_type_object) ||
        !get_int(root, "version", 1, 1000, &version) || version != STATE_VERSION ||
        !json_object_object_get_ex(root, "tracks", &arr) ||
        !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) > RR_N) {
        json_object_put(root);
        g_set_error(error, q, 0, "state is not a version %d object with at most %d tracks",
                    STATE_VERSION, RR_N);
        return NULL;
    }
    g_autoptr(reconcile_state) st = reconcile_state_new();
    bool seen[RR_N] = {false};
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        struct reconcile_track *t = g_new0(struct reconcile_track, 1);
        const char *field = "";
        bool ok = json_object_is_type(o, json_type_object) && parse_track(o, t, &field);
        bool twice = ok && seen[t->rule];
        if (!ok || twice) {
            reconcile_track_free(t);
            g_set_error(error, q, 0, "state: tracks[%zu].%s is missing or invalid", i,
                        twice ? "rule (twice)" : field);
            json_object_put(root);
            return NULL;
        }
        seen[t->rule] = true;
        g_ptr_array_add(st->tracks, t);
    }
    json_object_put(root);
    return g_steal_pointer(&st);
}
