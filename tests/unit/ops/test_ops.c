/*
 * The operations record's decisions (src/ops/) on golden cases:
 * tests/data/ops/<case>.in -> <case>.out (KANRI_REGEN_GOLDEN=1 rewrites
 * the .out files; review the diff).
 *
 * A case is lines of (times in seconds):
 *   conf resolve_after=S reopen=S suggest=N suggest_window=S
 *   route NAME min=SEV [cond=GLOB] [scope=SCOPE] [on=opened,resolved,...]
 *   maintenance ID SCOPE FROM TO
 *   at T                                   the clock for the lines below
 *   event ITEM HOST KIND CONDITION problem|recovery SEV "MESSAGE" [ITEM,...]
 *                                          HOST "-": none; CONDITION "-": a fact;
 *                                          the last field lists affected items
 *   repeat N LINE                          LINE N times, "{i}" standing for 1..N
 *   tick                                   hysteresis and forgetting at T
 *   ack ID WHO | resolve ID WHO "COMMENT"
 *   gone ITEM HOST                         ITEM was removed (ends all it has open)
 *   restart                                the state rebuilt from the incidents
 *                                          a store would hold, as kanrid does
 * The dump lists each event's decision, each transition with the routes
 * it is delivered to (a key delivered twice fails the test: at least once
 * must not become twice for one transition), and the incidents at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"

#include "ops/ops.h"

#define S G_GINT64_CONSTANT(1000000)

static const char *data_dir;

struct run {
    struct ops_conf conf;
    struct ops_state *st;
    GPtrArray *routes;     /* struct notify_route * */
    GPtrArray *windows;    /* struct maintenance * */
    GHashTable *delivered; /* "route key" already delivered */
    GString *out;
    int64_t now;
    unsigned events, opened;
};

static enum severity sev(const char *s)
{
    enum severity v;
    if (!severity_parse(s, &v))
        fail_msg("unknown severity %s", s);
    return v;
}

static void dump_changes(struct run *r, GArray *changes)
{
    for (guint i = 0; i < changes->len; i++) {
        struct incident_change *c = &g_array_index(changes, struct incident_change, i);
        struct incident *inc = ops_state_find(r->st, c->incident_id);
        assert_non_null(inc);
        g_string_append_printf(r->out, "  incident %" G_GINT64_FORMAT " %s seq=%u%s%s%s",
                               c->incident_id, incident_transition_name(c->what), c->seq,
                               c->notify ? "" : " (silent)", c->by ? " by=" : "",
                               c->by ? c->by : "");
        if (c->what == IT_OPENED)
            r->opened++;
        if (c->notify) {
            for (guint j = 0; j < r->routes->len; j++) {
                const struct notify_route *rt = g_ptr_array_index(r->routes, j);
                if (!ops_route_match(rt, inc, c->what))
                    continue;
                g_autofree char *key = ops_delivery_key(c->incident_id, c->seq);
                char *dk = g_strdup_printf("%s %s", rt->name, key);
                if (g_hash_table_contains(r->delivered, dk))
                    fail_msg("delivery %s queued twice", dk);
                g_hash_table_add(r->delivered, dk);
                g_string_append_printf(r->out, " -> %s[%s]", rt->name, key);
            }
        }
        g_string_append_c(r->out, '\n');
        incident_change_clear(c);
    }
    g_array_set_size(changes, 0);
    for (guint i = 0; i < r->st->new_problems->len; i++) {
        const struct problem *p = g_ptr_array_index(r->st->new_problems, i);
        g_string_append_printf(r->out, "  problem %" G_GINT64_FORMAT " suggested: %s\n", p->id,
                               p->title);
    }
    g_ptr_array_set_size(r->st->new_problems, 0);
}

static gint cmp_id(gconstpointer a, gconstpointer b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void dump_incidents(struct run *r)
{
    g_autoptr(GList) ids = g_hash_table_get_keys(r->st->by_id);
    g_autoptr(GArray) sorted = g_array_new(FALSE, FALSE, sizeof(int64_t));
    for (GList *l = ids; l; l = l->next)
        g_array_append_val(sorted, *(int64_t *)l->data);
    g_array_sort(sorted, cmp_id);
    g_string_append_printf(r->out, "incidents (%u events, %u opened):\n", r->events, r->opened);
    for (guint i = 0; i < sorted->len; i++) {
        const struct incident *inc = ops_state_find(r->st, g_array_index(sorted, int64_t, i));
        g_string_append_printf(
            r->out,
            "  %" G_GINT64_FORMAT " %s %s %s %s opened=%" G_GINT64_FORMAT " events=%u flaps=%u"
            " seq=%u",
            inc->id, inc->condition, inc->item, incident_state_name(inc->state),
            severity_name(inc->severity), inc->opened_us / S, inc->n_events, inc->flaps, inc->seq);
        if (inc->resolved_us)
            g_string_append_printf(r->out, " resolved=%" G_GINT64_FORMAT, inc->resolved_us / S);
        if (inc->problem_id)
            g_string_append_printf(r->out, " problem=%" G_GINT64_FORMAT, inc->problem_id);
        if (inc->affected->len) {
            g_string_append_printf(r->out, " affected=%u:", inc->affected->len);
            for (guint j = 0; j < inc->affected->len && j < 4; j++)
                g_string_append_printf(
                    r->out, " %s", ((struct item_ref *)g_ptr_array_index(inc->affected, j))->item);
            if (inc->affected->len > 4)
                g_string_append(r->out, " ...");
        }
        g_string_append_c(r->out, '\n');
    }
}

static void restart(struct run *r)
{
    /* What the store keeps: every incident and every suggestion; what
     * kanrid loads: those the state still needs, with the id counters. */
    struct ops_state *fresh = ops_state_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, r->st->by_id);
    while (g_hash_table_iter_next(&it, &k, &v))
        ops_state_add(fresh, incident_copy(v));
    g_hash_table_iter_init(&it, r->st->suggested);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_auto(GStrv) kv = g_strsplit(k, "\x1f", 2);
        ops_state_add_suggested(fresh, kv[0], kv[1], *(int64_t *)v);
    }
    fresh->next_event_id = r->st->next_event_id;
    fresh->next_incident_id = MAX(fresh->next_incident_id, r->st->next_incident_id);
    ops_state_set_maintenance(fresh, r->windows);
    ops_state_free(r->st);
    r->st = fresh;
    g_string_append(r->out, "restart\n");
}

static bool gone_next; /* the next event is a removal (the "gone" line) */

static void do_event(struct run *r, char **argv, int argc, GArray *changes)
{
    assert_true(argc == 8 || argc == 9);
    struct event *ev =
        event_new(r->now, argv[1], argv[1], g_str_equal(argv[2], "-") ? NULL : argv[2], argv[3],
                  g_str_equal(argv[4], "-") ? NULL : argv[4], g_str_equal(argv[5], "problem"),
                  sev(argv[6]), argv[7]);
    if (argc == 9) {
        ev->affected = item_refs_new();
        g_auto(GStrv) items = g_strsplit(argv[8], ",", -1);
        for (guint i = 0; items[i]; i++)
            g_ptr_array_add(ev->affected, item_ref_new(items[i], items[i]));
    }
    ev->gone = gone_next;
    gone_next = false;
    g_autoptr(GArray) dirty = g_array_new(FALSE, FALSE, sizeof(int64_t));
    ops_apply(r->st, &r->conf, ev, changes, dirty);
    r->events++;
    g_string_append_printf(r->out, "  event %" G_GINT64_FORMAT " %s %s", ev->id, ev->kind,
                           ev->item);
    if (ev->incident_id)
        g_string_append_printf(r->out, " -> incident %" G_GINT64_FORMAT, ev->incident_id);
    if (ev->maintenance_id)
        g_string_append_printf(r->out, " (maintenance %" G_GINT64_FORMAT ")", ev->maintenance_id);
    g_string_append_c(r->out, '\n');
    event_free(ev);
}

static void run_line(struct run *r, const char *line, GArray *changes);

static void do_repeat(struct run *r, char **argv, const char *line, GArray *changes)
{
    int n = (int)g_ascii_strtoll(argv[1], NULL, 10);
    const char *rest = strstr(line, argv[1]) + strlen(argv[1]);
    for (int i = 1; i <= n; i++) {
        g_autofree char *num = g_strdup_printf("%d", i);
        g_auto(GStrv) parts = g_strsplit(rest, "{i}", -1);
        g_autofree char *expanded = g_strjoinv(num, parts);
        run_line(r, expanded, changes);
    }
}

static void run_line(struct run *r, const char *line, GArray *changes)
{
    g_auto(GStrv) argv = NULL;
    int argc = 0;
    assert_true(g_shell_parse_argv(line, &argc, &argv, NULL));
    const char *cmd = argv[0];
    if (g_str_equal(cmd, "conf")) {
        for (int i = 1; i < argc; i++) {
            g_auto(GStrv) kv = g_strsplit(argv[i], "=", 2);
            int64_t v = g_ascii_strtoll(kv[1], NULL, 10);
            if (g_str_equal(kv[0], "resolve_after"))
                r->conf.resolve_after_us = v * S;
            else if (g_str_equal(kv[0], "reopen"))
                r->conf.reopen_window_us = v * S;
            else if (g_str_equal(kv[0], "suggest"))
                r->conf.suggest_count = (unsigned)v;
            else if (g_str_equal(kv[0], "suggest_window"))
                r->conf.suggest_window_us = v * S;
            else
                fail_msg("unknown conf %s", kv[0]);
        }
    } else if (g_str_equal(cmd, "route")) {
        struct notify_route *rt = g_new0(struct notify_route, 1);
        rt->name = g_strdup(argv[1]);
        for (int i = 2; i < argc; i++) {
            g_auto(GStrv) kv = g_strsplit(argv[i], "=", 2);
            if (g_str_equal(kv[0], "min"))
                rt->min_severity = sev(kv[1]);
            else if (g_str_equal(kv[0], "cond"))
                rt->conditions = g_strdup(kv[1]);
            else if (g_str_equal(kv[0], "scope"))
                rt->scope = g_strdup(kv[1]);
            else if (g_str_equal(kv[0], "on")) {
                g_auto(GStrv) ts = g_strsplit(kv[1], ",", -1);
                for (guint j = 0; ts[j]; j++) {
                    for (int t = 0; t < IT_N; t++) {
                        if (g_str_equal(ts[j], incident_transition_name(t)))
                            rt->transitions |= 1u << t;
                    }
                }
            }
        }
        g_ptr_array_add(r->routes, rt);
    } else if (g_str_equal(cmd, "maintenance")) {
        struct maintenance m = {.id = g_ascii_strtoll(argv[1], NULL, 10),
                                .scope = argv[2],
                                .from_us = g_ascii_strtoll(argv[3], NULL, 10) * S,
                                .to_us = g_ascii_strtoll(argv[4], NULL, 10) * S};
        assert_true(ops_scope_valid(m.scope, NULL));
        g_ptr_array_add(r->windows, maintenance_copy(&m));
        ops_state_set_maintenance(r->st, r->windows);
    } else if (g_str_equal(cmd, "at")) {
        r->now = g_ascii_strtoll(argv[1], NULL, 10) * S;
        g_string_append_printf(r->out, "at %s:\n", argv[1]);
    } else if (g_str_equal(cmd, "event")) {
        do_event(r, argv, argc, changes);
    } else if (g_str_equal(cmd, "gone")) {
        g_autofree char *l2 = g_strdup_printf("event %s %s vm.removed vm-down recovery info removed",
                                              argv[1], argv[2]);
        g_auto(GStrv) a2 = NULL;
        int n2 = 0;
        assert_true(g_shell_parse_argv(l2, &n2, &a2, NULL));
        gone_next = true;
        do_event(r, a2, n2, changes);
    } else if (g_str_equal(cmd, "repeat")) {
        do_repeat(r, argv, line, changes);
    } else if (g_str_equal(cmd, "tick")) {
        ops_tick(r->st, &r->conf, r->now, changes, NULL);
        g_string_append(r->out, "  tick\n");
    } else if (g_str_equal(cmd, "ack") || g_str_equal(cmd, "resolve")) {
        int64_t id = g_ascii_strtoll(argv[1], NULL, 10);
        int rc =
            g_str_equal(cmd, "ack")
                ? ops_acknowledge(r->st, id, argv[2], argc > 3 ? argv[3] : NULL, r->now, changes)
                : ops_resolve(r->st, id, argv[2], argc > 3 ? argv[3] : NULL, r->now, changes);
        g_string_append_printf(r->out, "  %s %" G_GINT64_FORMAT ": %s\n", cmd, id,
                               rc == 0 ? "ok" : g_strerror(-rc));
    } else if (g_str_equal(cmd, "restart")) {
        restart(r);
    } else {
        fail_msg("unknown line: %s", line);
    }
    dump_changes(r, changes);
}

static char *run_case(const char *text)
{
    struct run r = {0};
    ops_conf_defaults(&r.conf);
    r.st = ops_state_new();
    r.routes = g_ptr_array_new_with_free_func((GDestroyNotify)notify_route_free);
    r.windows = g_ptr_array_new_with_free_func((GDestroyNotify)maintenance_free);
    r.delivered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    r.out = g_string_new(NULL);
    g_autoptr(GArray) changes = g_array_new(FALSE, TRUE, sizeof(struct incident_change));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint l = 0; lines[l]; l++) {
        const char *line = g_strstrip(lines[l]);
        if (*line && *line != '#')
            run_line(&r, line, changes);
    }
    dump_incidents(&r);
    ops_state_free(r.st);
    g_ptr_array_unref(r.routes);
    g_ptr_array_unref(r.windows);
    g_hash_table_unref(r.delivered);
    return g_string_free(r.out, FALSE);
}

/* Instances sharing a store number in slots of their own: every id they
 * give is their slot modulo the stride, above every id already seen. */
static void test_id_slots(void **unused)
{
    struct ops_state *a = ops_state_new(), *b = ops_state_new();
    ops_state_ids_above(a, 41, 7, 3);
    ops_state_ids_above(b, 41, 7, 3);
    ops_state_set_slot(a, 1024, 0);
    ops_state_set_slot(b, 1024, 5);
    assert_int_equal(a->next_event_id, 1024);
    assert_int_equal(b->next_event_id, 5 + 1024);
    assert_int_equal(b->next_incident_id, 5 + 1024);
    assert_int_equal(b->next_problem_id, 5);
    GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal);
    int64_t ids[200];
    for (int i = 0; i < 100; i++) {
        ids[2 * i] = ops_state_problem_id(a);
        ids[2 * i + 1] = ops_state_problem_id(b);
    }
    for (int i = 0; i < 200; i++) {
        assert_true(ids[i] > 3);
        assert_int_equal(ids[i] % 1024, i % 2 ? 5 : 0);
        assert_false(g_hash_table_contains(seen, &ids[i]));
        g_hash_table_add(seen, &ids[i]);
    }
    /* An incident loaded with a higher id moves the counter past it, in
     * the slot. */
    struct incident *inc = incident_new();
    inc->id = 5000;
    inc->condition = g_strdup("c");
    inc->item = g_strdup("vm:x");
    ops_state_add(b, inc);
    assert_int_equal(b->next_incident_id, 5 + 5 * 1024);
    /* Alone (stride 1): one after another, as always. */
    struct ops_state *one = ops_state_new();
    ops_state_ids_above(one, 9, 0, 0);
    assert_int_equal(one->next_event_id, 10);
    assert_int_equal(ops_state_problem_id(one), 1);
    assert_int_equal(ops_state_problem_id(one), 2);
    g_hash_table_unref(seen);
    ops_state_free(a);
    ops_state_free(b);
    ops_state_free(one);
}

static void test_golden(void **unused)
{
    golden_each(data_dir, run_case, 6);
}

/* Rules: a breach must last for_us, a clearing too; a missing figure is
 * "cannot evaluate", never "fine". */
static void test_rule_step(void **unused)
{
    struct alert_rule r = {.name = "cpu",
                           .kind = RULE_THRESHOLD,
                           .metric = "cpu_busy",
                           .view = "reconciled",
                           .op = ">",
                           .value = 90,
                           .for_us = 60 * S};
    struct rule_track t = {0};
    const int64_t T0 = 1000 * S; /* times are never 0 */
    assert_int_equal(ops_rule_step(&r, &t, true, 95, T0 + 0 * S), RULE_QUIET);
    assert_int_equal(ops_rule_step(&r, &t, true, 95, T0 + 30 * S), RULE_QUIET);
    assert_int_equal(ops_rule_step(&r, &t, true, 95, T0 + 60 * S), RULE_FIRES);
    assert_int_equal(ops_rule_step(&r, &t, true, 95, T0 + 70 * S), RULE_QUIET);
    /* a dip shorter than for_us does not clear it */
    assert_int_equal(ops_rule_step(&r, &t, true, 10, T0 + 80 * S), RULE_QUIET);
    assert_int_equal(ops_rule_step(&r, &t, true, 95, T0 + 90 * S), RULE_QUIET);
    assert_int_equal(ops_rule_step(&r, &t, true, 10, T0 + 100 * S), RULE_QUIET);
    assert_int_equal(ops_rule_step(&r, &t, true, 10, T0 + 160 * S), RULE_CLEARS);
    /* missing: quiet once, then cannot evaluate after for_us */
    assert_int_equal(ops_rule_step(&r, &t, false, 0, T0 + 200 * S), RULE_QUIET);
    assert_int_equal(ops_rule_step(&r, &t, false, 0, T0 + 230 * S), RULE_QUIET);
    assert_int_equal(ops_rule_step(&r, &t, false, 0, T0 + 260 * S), RULE_CANNOT_EVAL);
    assert_int_equal(ops_rule_step(&r, &t, false, 0, T0 + 290 * S), RULE_QUIET);
    assert_int_equal(ops_rule_step(&r, &t, true, 95, T0 + 300 * S), RULE_CAN_EVAL_AGAIN);
    assert_int_equal(ops_rule_step(&r, &t, true, 95, T0 + 310 * S), RULE_QUIET);
    assert_int_equal(ops_rule_step(&r, &t, true, 95, T0 + 370 * S), RULE_FIRES);

    /* each comparison */
    struct alert_rule lt = r;
    lt.op = "<=";
    assert_true(ops_rule_breached(&lt, 90));
    assert_false(ops_rule_breached(&lt, 90.5));
    lt.op = ">=";
    assert_true(ops_rule_breached(&lt, 90));
    assert_false(ops_rule_breached(&r, 90));
    assert_false(ops_rule_breached(&r, NAN));
}

static void test_trend(void **unused)
{
    struct rule_track t = {0};
    /* 1 GiB a minute into a 100 GiB pool holding 10 GiB */
    const double G = 1073741824.0;
    assert_true(isnan(ops_trend_hours(&t, 0, 10 * G, 100 * G)));
    double h = 0;
    for (int i = 1; i <= 10; i++)
        h = ops_trend_hours(&t, i * 60 * S, (10 + i) * G, 100 * G);
    /* 80 GiB left at 1 GiB/min: 80 minutes */
    assert_true(h > 1.3 && h < 1.37);
    /* shrinking: never full */
    struct rule_track s = {0};
    ops_trend_hours(&s, 0, 50 * G, 100 * G);
    assert_true(isinf(ops_trend_hours(&s, 60 * S, 40 * G, 100 * G)));
}

static void test_scope(void **unused)
{
    assert_true(ops_scope_match("all", "vm:1", "web1", "node1"));
    assert_true(ops_scope_match("host:node1", "vm:1", "web1", "node1"));
    assert_true(ops_scope_match("host:node1", "host:node1", "node1", NULL));
    assert_false(ops_scope_match("host:node1", "vm:1", "web1", "node2"));
    assert_true(ops_scope_match("vm:web*", "vm:1", "web1", "node1"));
    assert_false(ops_scope_match("vm:web*", "vm:1", "db1", "node1"));
    assert_false(ops_scope_match("vm:web*", "host:web1", "web1", NULL));
    assert_true(ops_scope_match("pool:node1/*", "pool:node1/default", "default", "node1"));
    assert_true(ops_scope_match("item:vm:1", "vm:1", "web1", "node1"));
    assert_true(ops_scope_valid("vm:*", NULL));
    assert_false(ops_scope_valid("vm:", NULL));
    assert_false(ops_scope_valid("tag:x", NULL));
}

static struct ops_change chg(int64_t id, int64_t t, const char *item, const char *source,
                             const char *cause, const char *actor)
{
    return (struct ops_change){.id = id,
                               .t_us = t * S,
                               .item = g_strdup(item),
                               .item_name = g_strdup(item),
                               .source = g_strdup(source),
                               .cause = g_strdup(cause),
                               .actor = g_strdup(actor)};
}

static void test_preceding(void **unused)
{
    g_autoptr(GArray) c = g_array_new(FALSE, TRUE, sizeof(struct ops_change));
    g_array_set_clear_func(c, (GDestroyNotify)ops_change_clear);
    struct ops_change v[] = {
        chg(1, 100, "vm:a", "change", "external", NULL),     /* out of the window */
        chg(2, 5000, "vm:b", "action", "stop", "alice"),     /* a person, other item */
        chg(3, 6000, "vm:a", "change", "external", NULL),    /* same item, 1 h before */
        chg(4, 7000, "host:n1", "change", "external", NULL), /* host, external */
        chg(5, 8000, "vm:a", "change", "action", "kanrid"),  /* after the opening */
    };
    for (guint i = 0; i < G_N_ELEMENTS(v); i++)
        g_array_append_val(c, v[i]);
    ops_preceding(c, "vm:a", 7200 * S, 5400 * S, 600 * S);
    assert_int_equal(c->len, 3);
    assert_int_equal(g_array_index(c, struct ops_change, 0).id, 4);
    assert_int_equal(g_array_index(c, struct ops_change, 1).id, 3);
    assert_int_equal(g_array_index(c, struct ops_change, 2).id, 2);
    /* no change to vm:a within 10 min: the person's action is the likely one */
    assert_true(g_array_index(c, struct ops_change, 2).likely);
    assert_false(g_array_index(c, struct ops_change, 0).likely);

    /* a change to the item itself 5 min before wins over everything */
    struct ops_change near = chg(6, 6900, "vm:a", "change", "external", NULL);
    g_array_append_val(c, near);
    ops_preceding(c, "vm:a", 7200 * S, 5400 * S, 600 * S);
    assert_int_equal(g_array_index(c, struct ops_change, 1).id, 6);
    assert_true(g_array_index(c, struct ops_change, 1).likely);
    for (guint i = 0; i < c->len; i++)
        assert_true(g_array_index(c, struct ops_change, i).likely ==
                    (g_array_index(c, struct ops_change, i).id == 6));
}

/* A VM's state changes: the unexpected ones are problems, kanri's own
 * actions are facts, running again is the recovery. */
static void test_vm_lifecycle(void **unused)
{
    static const struct {
        const char *os, *or_, *s, *r;
        bool by_action;
        bool worth;
        const char *kind, *condition;
        bool problem;
    } cases[] = {
        {"running", "booted", "shutoff", "destroyed", false, true, "vm.destroyed", "vm-down", true},
        {"running", "booted", "shutoff", "destroyed", true, true, "vm.stopped", NULL, false},
        {"running", "booted", "shutoff", "shutdown", false, true, "vm.shutdown", "vm-down", true},
        {"running", "booted", "shutoff", "crashed", true, true, "vm.crashed", "vm-down", true},
        {"running", "booted", "crashed", "panicked", false, true, "vm.crashed", "vm-down", true},
        {"running", "booted", "paused", "ioerror", false, true, "vm.paused", "vm-paused", true},
        {"running", "booted", "paused", "migration", false, true, "vm.paused", NULL, false},
        {"running", "booted", "paused", "user", false, true, "vm.paused", NULL, false},
        {"running", "booted", "shutoff", "migrated", false, true, "vm.migrated", NULL, false},
        {"shutoff", "destroyed", "running", "booted", false, true, "vm.started", "vm-down", false},
        {"paused", "ioerror", "running", "unpaused", false, true, "vm.resumed", "vm-paused", false},
        {"running", "booted", "running", "unpaused", false, false, NULL, NULL, false},
        {"shutoff", "shutdown", "shutoff", "destroyed", false, false, NULL, NULL, false},
        {NULL, NULL, "running", "booted", false, false, NULL, NULL, false},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct ops_lifecycle l = {0};
        bool worth = ops_vm_lifecycle(cases[i].os, cases[i].or_, cases[i].s, cases[i].r,
                                      cases[i].by_action, &l);
        if (worth != cases[i].worth)
            fail_msg("case %u: worth %d", i, worth);
        if (!worth)
            continue;
        assert_string_equal(l.kind, cases[i].kind);
        assert_true(g_strcmp0(l.condition, cases[i].condition) == 0);
        assert_int_equal(l.problem, cases[i].problem);
        assert_non_null(l.words);
    }
}

static char *rels(const char *item, const struct ops_rel_vm *vms, size_t nv,
                  const struct ops_rel_pool *pools, size_t np, bool impact)
{
    g_autoptr(GArray) a = g_array_new(FALSE, TRUE, sizeof(struct ops_relation));
    g_array_set_clear_func(a, (GDestroyNotify)ops_relation_clear);
    bool known = true;
    if (impact)
        ops_impact(item, vms, nv, pools, np, a);
    else
        known = ops_relations(item, vms, nv, pools, np, a);
    GString *out = g_string_new(known ? "" : "unknown");
    for (guint i = 0; i < a->len; i++) {
        const struct ops_relation *r = &g_array_index(a, struct ops_relation, i);
        g_string_append_printf(out, "%s%s %s", out->len ? "; " : "", r->type, r->item);
    }
    return g_string_free(out, FALSE);
}

/* Relations as data: a VM runs on its host, uses the pools its disks are
 * in (a path inside the pool's directory, not a prefix of its name), is
 * attached to its networks; the reverse and the impact follow. */
static void test_relations(void **unused)
{
    g_autoptr(GPtrArray) d1 = g_ptr_array_new(), d2 = g_ptr_array_new(), n1 = g_ptr_array_new();
    g_ptr_array_add(d1, "/var/lib/libvirt/images/a.qcow2");
    g_ptr_array_add(d2, "/var/lib/libvirt/images2/b.qcow2"); /* not in "images" */
    g_ptr_array_add(n1, "default");
    struct ops_rel_vm vms[] = {
        {"u1", "a", "n1", d1, n1, true},
        {"u2", "b", "n1", d2, NULL, false},
        {"u3", "c", "n2", d1, NULL, false}, /* the same path on another host */
    };
    struct ops_rel_pool pools[] = {
        {"n1", "default", "/var/lib/libvirt/images"},
        {"n1", "other", "/var/lib/libvirt/images2"},
    };
    struct {
        const char *item;
        bool impact;
        const char *want;
    } cases[] = {
        {"vm:u1", false,
         "runs-on host:n1; uses pool:n1/default; attached-to network:n1/default; reported-by "
         "agent:u1"},
        {"vm:u2", false, "runs-on host:n1; uses pool:n1/other"},
        {"host:n1", false, "hosts vm:u1; hosts vm:u2"},
        {"pool:n1/default", false, "used-by vm:u1"},
        {"network:n1/default", false, "serves vm:u1"},
        {"agent:u1", false, "reports-for vm:u1"},
        {"vm:nope", false, "unknown"},
        {"host:n1", true, "affected vm:u1; affected vm:u2"},
        {"pool:n1/default", true, "affected vm:u1"},
        {"pool:bad", true, ""},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = rels(cases[i].item, vms, G_N_ELEMENTS(vms), pools,
                                    G_N_ELEMENTS(pools), cases[i].impact);
        if (!g_str_equal(got, cases[i].want))
            fail_msg("%s: got \"%s\", want \"%s\"", cases[i].item, got, cases[i].want);
    }
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/ops";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_slots),     cmocka_unit_test(test_golden),
        cmocka_unit_test(test_rule_step),    cmocka_unit_test(test_trend),
        cmocka_unit_test(test_scope),        cmocka_unit_test(test_preceding),
        cmocka_unit_test(test_vm_lifecycle), cmocka_unit_test(test_relations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
