/*
 * Tests of src/policy: golden plans (tests/data/policy/{memory,balance}/
 * <case>.in -> <case>.out; KANRI_REGEN_GOLDEN=1 rewrites the .out files,
 * review the diff before committing), the configuration setters, and the
 * observe steps.
 *
 * A case is one JSON document:
 *
 *   {"comment": "...",
 *    "conf": {"mode": "enforce", ...},     kanri.conf keys, string values
 *    "now": 1000,                          seconds
 *    "migrations_in_flight": 0, "balance_rounds": 0,
 *    "hosts": [{"id": 1, "name": "h1", "connected": true, "maintenance": false,
 *               "cpus": 8, "mem_total": "16G", "mem_free": "2G", "mem_age": 5}],
 *    "vms": [{"uuid": "...", "name": "a", "host": 1, "running": true, "priority": 0,
 *             "affinity": "g", "anti_affinity": "g",
 *             "mem_total": "4G", "mem_used": {"v": "1G", "prov": "guest", "age": 12},
 *             "swap_in": 0, "cpu_demand": 1.5, "balloon_swapping": false,
 *             "balloon_current": "4G", "balloon_maximum": "8G", "dirty_rate": "10M",
 *             "last_memory": 990, "last_balance": 0, "paused": ["memory"], "busy": false}]}
 *
 * Sizes are bytes or strings with K, M, G, T (powers of 1024); a figure is a
 * value (provenance: the usual one for it, age 0) or {"v", "prov", "age"};
 * a figure left out is absent.  Unknown keys fail the case: a typo must not
 * quietly test something else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <json-c/json.h>

#include "../golden.h"

#include "policy/policy.h"

static const char *data_dir;

#define MIB (1024.0 * 1024.0)

/* ---- reading a case ---- */

struct tcase {
    json_object *root;
    struct policy_memory_conf mc;
    struct policy_balance_conf bc;
    struct policy_input in;
    struct policy_host *hosts;
    struct policy_vm *vms;
};

static void tcase_free(struct tcase *t)
{
    json_object_put(t->root);
    g_free(t->hosts);
    g_free(t->vms);
    g_free(t);
}

static double size_of(json_object *v, const char *what)
{
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
        return json_object_get_double(v);
    if (!json_object_is_type(v, json_type_string))
        fail_msg("%s: a number or a size string", what);
    const char *s = json_object_get_string(v);
    char *end = NULL;
    double n = g_ascii_strtod(s, &end);
    static const struct {
        const char *u;
        double f;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"K", 1024},
                 {"KiB", 1024},
                 {"M", MIB},
                 {"MiB", MIB},
                 {"G", 1024 * MIB},
                 {"GiB", 1024 * MIB},
                 {"T", 1024.0 * 1024 * MIB},
                 {"TiB", 1024.0 * 1024 * MIB}};
    for (size_t i = 0; end != s && i < G_N_ELEMENTS(units); i++) {
        if (g_str_equal(end, units[i].u))
            return n * units[i].f;
    }
    fail_msg("%s: bad size '%s'", what, s);
    return 0;
}

static void check_keys(json_object *o, const char *const *keys, const char *what)
{
    json_object_object_foreach(o, k, v)
    {
        (void)v;
        bool known = false;
        for (size_t i = 0; keys[i]; i++)
            known |= g_str_equal(k, keys[i]);
        if (!known)
            fail_msg("%s: unknown key '%s'", what, k);
    }
}

static struct policy_fig fig_of(json_object *o, const char *key, const char *prov)
{
    struct policy_fig f = {.v = POLICY_ABSENT, .provenance = NULL, .age_us = -1};
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return f;
    if (json_object_is_type(v, json_type_object)) {
        static const char *const keys[] = {"v", "prov", "age", NULL};
        check_keys(v, keys, key);
        json_object *x;
        if (json_object_object_get_ex(v, "v", &x) && x)
            f.v = size_of(x, key);
        if (json_object_object_get_ex(v, "prov", &x))
            prov = json_object_get_string(x);
        f.age_us = json_object_object_get_ex(v, "age", &x)
                       ? (int64_t)(json_object_get_double(x) * G_USEC_PER_SEC)
                       : 0;
    } else {
        f.v = size_of(v, key);
        f.age_us = 0;
    }
    f.provenance = policy_present(f.v) ? prov : NULL;
    if (!policy_present(f.v))
        f.age_us = -1;
    return f;
}

static double num_or(json_object *o, const char *key, double dflt)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && v ? size_of(v, key) : dflt;
}

static bool bool_or(json_object *o, const char *key, bool dflt)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_boolean(v) : dflt;
}

static const char *str_or(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

static struct tcase *tcase_parse(const char *text, enum policy_kind kind)
{
    struct tcase *t = g_new0(struct tcase, 1);
    t->root = json_tokener_parse(text);
    assert_non_null(t->root);
    static const char *const top[] = {"comment",        "conf",  "now", "migrations_in_flight",
                                      "balance_rounds", "hosts", "vms", NULL};
    check_keys(t->root, top, "case");
    policy_memory_conf_init(&t->mc);
    policy_balance_conf_init(&t->bc);
    json_object *conf, *hosts, *vms;
    if (json_object_object_get_ex(t->root, "conf", &conf)) {
        json_object_object_foreach(conf, k, v)
        {
            g_autoptr(GError) err = NULL;
            bool ok = kind == POLICY_MEMORY
                          ? policy_memory_conf_set(&t->mc, k, json_object_get_string(v), &err)
                          : policy_balance_conf_set(&t->bc, k, json_object_get_string(v), &err);
            if (!ok)
                fail_msg("conf: %s", err->message);
        }
    }
    t->in.now_us = (int64_t)(num_or(t->root, "now", 0) * G_USEC_PER_SEC);
    t->in.migrations_in_flight = (unsigned)num_or(t->root, "migrations_in_flight", 0);
    t->in.balance_rounds = (unsigned)num_or(t->root, "balance_rounds", 0);

    assert_true(json_object_object_get_ex(t->root, "hosts", &hosts));
    t->in.n_hosts = json_object_array_length(hosts);
    t->hosts = g_new0(struct policy_host, t->in.n_hosts + 1);
    for (size_t i = 0; i < t->in.n_hosts; i++) {
        json_object *o = json_object_array_get_idx(hosts, i);
        static const char *const keys[] = {"id",          "name",    "connected",
                                           "maintenance", "cpus",    "mem_total",
                                           "mem_free",    "mem_age", NULL};
        check_keys(o, keys, "host");
        struct policy_host *h = &t->hosts[i];
        h->id = (int64_t)num_or(o, "id", 0);
        h->name = str_or(o, "name");
        h->connected = bool_or(o, "connected", true);
        h->maintenance = bool_or(o, "maintenance", false);
        h->cpus = num_or(o, "cpus", 0);
        h->mem_total = num_or(o, "mem_total", POLICY_ABSENT);
        h->mem_free = num_or(o, "mem_free", POLICY_ABSENT);
        h->mem_age_us = (int64_t)(num_or(o, "mem_age", 0) * G_USEC_PER_SEC);
    }
    t->in.hosts = t->hosts;

    assert_true(json_object_object_get_ex(t->root, "vms", &vms));
    t->in.n_vms = json_object_array_length(vms);
    t->vms = g_new0(struct policy_vm, t->in.n_vms + 1);
    for (size_t i = 0; i < t->in.n_vms; i++) {
        json_object *o = json_object_array_get_idx(vms, i), *p;
        static const char *const keys[] = {"uuid",
                                           "name",
                                           "host",
                                           "running",
                                           "priority",
                                           "affinity",
                                           "anti_affinity",
                                           "mem_total",
                                           "mem_used",
                                           "swap_in",
                                           "cpu_demand",
                                           "balloon_swapping",
                                           "balloon_current",
                                           "balloon_maximum",
                                           "dirty_rate",
                                           "last_memory",
                                           "last_balance",
                                           "paused",
                                           "busy",
                                           NULL};
        check_keys(o, keys, "vm");
        struct policy_vm *vm = &t->vms[i];
        vm->uuid = str_or(o, "uuid");
        vm->name = str_or(o, "name");
        assert_non_null(vm->uuid);
        vm->host_id = (int64_t)num_or(o, "host", 0);
        vm->running = bool_or(o, "running", true);
        vm->priority = (int)num_or(o, "priority", 0);
        vm->affinity = str_or(o, "affinity");
        vm->anti_affinity = str_or(o, "anti_affinity");
        vm->mem_total = fig_of(o, "mem_total", "host");
        vm->mem_used = fig_of(o, "mem_used", "guest");
        vm->mem_swap_in = fig_of(o, "swap_in", "guest");
        vm->cpu_demand = fig_of(o, "cpu_demand", "host-run+wait");
        vm->balloon_swapping = bool_or(o, "balloon_swapping", false);
        vm->balloon_current = num_or(o, "balloon_current", POLICY_ABSENT);
        vm->balloon_maximum = num_or(o, "balloon_maximum", POLICY_ABSENT);
        vm->dirty_rate = num_or(o, "dirty_rate", POLICY_ABSENT);
        vm->last_action_us[POLICY_MEMORY] = (int64_t)(num_or(o, "last_memory", 0) * G_USEC_PER_SEC);
        vm->last_action_us[POLICY_BALANCE] =
            (int64_t)(num_or(o, "last_balance", 0) * G_USEC_PER_SEC);
        if (json_object_object_get_ex(o, "paused", &p)) {
            for (size_t k = 0; k < json_object_array_length(p); k++) {
                enum policy_kind pk;
                assert_true(policy_kind_parse(
                    json_object_get_string(json_object_array_get_idx(p, k)), &pk));
                vm->paused[pk] = true;
            }
        }
        vm->busy = bool_or(o, "busy", false);
    }
    t->in.vms = t->vms;
    return t;
}

/* ---- printing a plan ---- */

static void put_size(GString *out, double bytes)
{
    double m = bytes / MIB;
    if (m == floor(m))
        g_string_append_printf(out, "%.0f MiB", m);
    else
        g_string_append_printf(out, "%.1f MiB", m);
}

static char *plan_text(const struct tcase *t, const struct policy_plan *p, const char *what)
{
    GString *out = g_string_new(NULL);
    json_object *c;
    if (json_object_object_get_ex(t->root, "comment", &c))
        g_string_append_printf(out, "# %s\n", json_object_get_string(c));
    g_string_append_printf(out, "%s plan: %u decision%s, balance_rounds %u\n", what,
                           p->decisions->len, p->decisions->len == 1 ? "" : "s", p->balance_rounds);
    for (guint i = 0; i < p->decisions->len; i++) {
        const struct policy_decision *d = g_ptr_array_index(p->decisions, i);
        g_string_append_printf(out, "\n[%u] %s %s ", i + 1, policy_kind_name(d->policy),
                               policy_action_name(d->action));
        if (d->vm_uuid)
            g_string_append_printf(out, "vm %s (%s) on host %" G_GINT64_FORMAT "\n", d->vm_name,
                                   d->vm_uuid, d->host_id);
        else
            g_string_append_printf(out, "host %" G_GINT64_FORMAT "\n", d->host_id);
        g_string_append_printf(out, "    rule     %s%s\n", d->rule,
                               d->evacuation ? " (evacuation)" : "");
        if (d->action == POLICY_ACT_SETMEM) {
            g_string_append(out, "    balloon  ");
            put_size(out, (double)d->previous);
            g_string_append(out, " -> ");
            put_size(out, (double)d->memory);
            g_string_append_c(out, '\n');
        } else if (d->action == POLICY_ACT_MIGRATE || d->to_host_id) {
            g_string_append_printf(out, "    to host  %" G_GINT64_FORMAT "\n", d->to_host_id);
        }
        g_string_append_printf(out, "    reason   %s\n", d->reason);
        g_string_append_printf(out, "    inputs   %s\n", d->inputs);
        if (d->expected)
            g_string_append_printf(out, "    expected %s\n", d->expected);
        /* Every decision explains itself; a NONE expects nothing. */
        assert_non_null(d->reason);
        assert_non_null(d->inputs);
        assert_true((d->expected != NULL) == (d->action != POLICY_ACT_NONE));
    }
    return g_string_free(out, FALSE);
}

static char *run_memory(const char *text)
{
    struct tcase *t = tcase_parse(text, POLICY_MEMORY);
    g_autoptr(policy_plan) p = policy_memory_plan(&t->mc, &t->in);
    char *s = plan_text(t, p, "memory");
    tcase_free(t);
    return s;
}

static char *run_balance(const char *text)
{
    struct tcase *t = tcase_parse(text, POLICY_BALANCE);
    g_autoptr(policy_plan) p = policy_balance_plan(&t->bc, &t->in);
    char *s = plan_text(t, p, "balance");
    tcase_free(t);
    return s;
}

static void test_golden_memory(void **unused)
{
    g_autofree char *dir = g_build_filename(data_dir, "memory", NULL);
    golden_each(dir, run_memory, 9);
}

static void test_golden_balance(void **unused)
{
    g_autofree char *dir = g_build_filename(data_dir, "balance", NULL);
    golden_each(dir, run_balance, 10);
}

/* ---- configuration ---- */

static void test_names(void **unused)
{
    enum policy_kind k;
    enum policy_mode m;
    assert_true(policy_kind_parse("balance", &k));
    assert_int_equal(k, POLICY_BALANCE);
    assert_false(policy_kind_parse("ha", &k));
    assert_false(policy_kind_parse(NULL, &k));
    assert_true(policy_mode_parse("recommend", &m));
    assert_int_equal(m, POLICY_RECOMMEND);
    assert_false(policy_mode_parse("Enforce", &m));
    assert_string_equal(policy_mode_name(POLICY_ENFORCE), "enforce");
    assert_string_equal(policy_kind_name(POLICY_MEMORY), "memory");
    assert_string_equal(policy_action_name(POLICY_ACT_SETMEM), "set-memory");
    assert_string_equal(policy_verdict_name(POLICY_NO_EFFECT), "no-effect");
}

static void test_memory_conf(void **unused)
{
    struct policy_memory_conf c;
    policy_memory_conf_init(&c);
    assert_int_equal(c.mode, POLICY_OFF);
    assert_true(c.target_pct == 10);
    assert_true(c.give_back_above_pct == 5);
    assert_int_equal(c.margin_bytes, 64ULL << 20);
    assert_true(c.margin_pct == 10 && c.pressure_pct == 10 && c.swap_in_floor == 4096);
    assert_int_equal(c.step_max, 1ULL << 30);
    assert_int_equal(c.step_min, 16ULL << 20);
    assert_int_equal(c.vm_cooldown_us, 60 * G_USEC_PER_SEC);
    assert_int_equal(c.host_actions, 2);

    g_autoptr(GError) err = NULL;
    assert_true(policy_memory_conf_set(&c, "mode", "enforce", &err));
    assert_int_equal(c.mode, POLICY_ENFORCE);
    assert_true(policy_memory_conf_set(&c, "host_free_target", "2G", &err));
    assert_false(policy_present(c.target_pct));
    assert_int_equal(c.target_bytes, 2ULL << 30);
    assert_true(policy_memory_conf_set(&c, "host_free_target", "7.5%", &err));
    assert_true(c.target_pct == 7.5);
    assert_int_equal(c.target_bytes, 0);
    assert_true(policy_memory_conf_set(&c, "host_free_target", "536870912", &err));
    assert_int_equal(c.target_bytes, 512ULL << 20);
    assert_true(policy_memory_conf_set(&c, "margin", "128M", &err));
    assert_int_equal(c.margin_bytes, 128ULL << 20);
    assert_true(policy_memory_conf_set(&c, "margin", "1.5G", &err));
    assert_int_equal(c.margin_bytes, 3ULL << 29);
    assert_true(policy_memory_conf_set(&c, "give_back_above", "8%", &err));
    assert_true(c.give_back_above_pct == 8);
    assert_true(policy_memory_conf_set(&c, "swap_in_floor", "64K", &err));
    assert_true(c.swap_in_floor == 65536);
    assert_true(policy_memory_conf_set(&c, "step_max", "2GiB", &err));
    assert_true(policy_memory_conf_set(&c, "step_min", "1G", &err));
    assert_int_equal(c.step_min, 1ULL << 30);
    assert_true(policy_memory_conf_set(&c, "vm_cooldown", "5m", &err));
    assert_int_equal(c.vm_cooldown_us, 300 * G_USEC_PER_SEC);
    assert_true(policy_memory_conf_set(&c, "vm_cooldown", "0", &err));
    assert_int_equal(c.vm_cooldown_us, 0);
    assert_true(policy_memory_conf_set(&c, "host_actions", "5", &err));
    assert_int_equal(c.host_actions, 5);

    static const char *const bad[][3] = {
        /* name, value, a word the message must hold */
        {"mode", "on", "off, recommend, enforce"},
        {"host_free_target", "95%", "90%"},
        {"host_free_target", "0%", "0.1%"},
        {"host_free_target", "1K", "16MiB"},
        {"host_free_target", "lots", "percent"},
        {"give_back_above", "60", "0 to 50"},
        {"margin", "-1", "size"},
        {"margin", "65G", "64GiB"},
        {"margin", "1e9", "size"},
        {"margin", "0x10", "size"},
        {"margin_pct", "101", "0 to 100"},
        {"pressure_pct", "50.5", "0 to 50"},
        {"swap_in_floor", "2G", "1GiB/s"},
        {"step_max", "0", "1MiB"},
        {"step_min", "4G", "step_max"}, /* above step_max (2 GiB here) */
        {"vm_cooldown", "2d", "1d"},
        {"vm_cooldown", "-5s", "duration"},
        {"vm_cooldown", "10x", "duration"},
        {"host_actions", "0", "1 to 1000"},
        {"host_actions", "2.5", "whole number"},
        {"no_such_key", "1", "unknown option"},
        {"margin", "", "size"},
    };
    struct policy_memory_conf before = c;
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_clear_error(&err);
        if (policy_memory_conf_set(&c, bad[i][0], bad[i][1], &err))
            fail_msg("%s = '%s' was accepted", bad[i][0], bad[i][1]);
        assert_non_null(err);
        if (!strstr(err->message, bad[i][0]) || !strstr(err->message, bad[i][2]))
            fail_msg("%s = '%s': message '%s' lacks the key or '%s'", bad[i][0], bad[i][1],
                     err->message, bad[i][2]);
    }
    g_clear_error(&err);
    assert_false(policy_memory_conf_set(&c, NULL, "1", &err));
    /* A refused value leaves the configuration as it was. */
    assert_memory_equal(&before, &c, sizeof(c));
}

static void test_balance_conf(void **unused)
{
    struct policy_balance_conf c;
    policy_balance_conf_init(&c);
    assert_int_equal(c.mode, POLICY_OFF);
    assert_true(c.threshold_pct == 25 && c.min_gain_pct == 5 && c.reserve_pct == 10);
    assert_int_equal(c.sustain_rounds, 3);
    assert_int_equal(c.max_concurrent, 1);
    assert_int_equal(c.vm_cooldown_us, 600 * G_USEC_PER_SEC);
    assert_true(c.bandwidth_bytes_s == 100.0 * MIB);
    assert_true(c.max_cost_s == 120);

    g_autoptr(GError) err = NULL;
    assert_true(policy_balance_conf_set(&c, "mode", "recommend", &err));
    assert_true(policy_balance_conf_set(&c, "threshold_pct", "30%", &err));
    assert_true(c.threshold_pct == 30);
    assert_true(policy_balance_conf_set(&c, "sustain_rounds", "5", &err));
    assert_int_equal(c.sustain_rounds, 5);
    assert_true(policy_balance_conf_set(&c, "bandwidth", "1G/s", &err));
    assert_true(c.bandwidth_bytes_s == 1024.0 * MIB);
    assert_true(policy_balance_conf_set(&c, "bandwidth", "500M", &err));
    assert_true(c.bandwidth_bytes_s == 500.0 * MIB);
    assert_true(policy_balance_conf_set(&c, "max_cost", "5m", &err));
    assert_true(c.max_cost_s == 300);
    assert_true(policy_balance_conf_set(&c, "vm_cooldown", "1h", &err));
    assert_int_equal(c.vm_cooldown_us, (int64_t)3600 * G_USEC_PER_SEC);
    assert_true(policy_balance_conf_set(&c, "max_concurrent", "4", &err));
    assert_true(policy_balance_conf_set(&c, "reserve_pct", "0", &err));
    assert_true(policy_balance_conf_set(&c, "min_gain_pct", "2.5", &err));

    static const char *const bad[][3] = {
        {"mode", "", "off, recommend, enforce"},
        {"threshold_pct", "0", "1 to 100"},
        {"sustain_rounds", "0", "1 to 1000"},
        {"min_gain_pct", "200", "0 to 100"},
        {"reserve_pct", "95", "0 to 90"},
        {"max_concurrent", "0", "1 to 100"},
        {"vm_cooldown", "31d", "30d"},
        {"bandwidth", "100K", "1MiB/s"},
        {"bandwidth", "100M/h", "rate"},
        {"max_cost", "0", "1s"},
        {"max_cost", "2d", "1d"},
        {"memory", "1", "unknown option"},
    };
    struct policy_balance_conf before = c;
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_clear_error(&err);
        if (policy_balance_conf_set(&c, bad[i][0], bad[i][1], &err))
            fail_msg("%s = '%s' was accepted", bad[i][0], bad[i][1]);
        assert_non_null(err);
        if (!strstr(err->message, bad[i][0]) || !strstr(err->message, bad[i][2]))
            fail_msg("%s = '%s': message '%s' lacks the key or '%s'", bad[i][0], bad[i][1],
                     err->message, bad[i][2]);
    }
    assert_memory_equal(&before, &c, sizeof(c));
}

/* ---- observe ---- */

static struct policy_vm observed_vm(double balloon, double total, double used)
{
    struct policy_vm vm = {
        .uuid = "00000000-0000-0000-0000-000000000001",
        .name = "a",
        .host_id = 1,
        .running = true,
        .mem_total = {.v = total, .provenance = "host", .age_us = 0},
        .mem_used = {.v = used, .provenance = "guest", .age_us = 0},
        .mem_swap_in = {.v = 0, .provenance = "guest", .age_us = 0},
        .cpu_demand = {.v = POLICY_ABSENT, .age_us = -1},
        .balloon_current = balloon,
        .balloon_maximum = 4096 * MIB,
        .dirty_rate = POLICY_ABSENT,
    };
    return vm;
}

static void test_memory_observe(void **unused)
{
    struct policy_memory_conf c;
    policy_memory_conf_init(&c);
    struct policy_decision shrink = {.policy = POLICY_MEMORY,
                                     .action = POLICY_ACT_SETMEM,
                                     .previous = 4096ULL << 20,
                                     .memory = 3072ULL << 20};
    g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL, *o5 = NULL, *o6 = NULL;

    /* Shrunk as asked, guest comfortable: ok. */
    struct policy_vm vm = observed_vm(3072 * MIB, 3072 * MIB, 2000 * MIB);
    assert_int_equal(policy_memory_observe(&c, &shrink, &vm, &o1), POLICY_OK);
    assert_string_equal(o1, "{\"balloon\":3221225472,\"available\":1124073472,\"swap_in\":0,"
                            "\"pressure\":false}");

    /* Shrunk, and now the guest has under 10 % available: worse. */
    vm = observed_vm(3072 * MIB, 3072 * MIB, 2900 * MIB);
    assert_int_equal(policy_memory_observe(&c, &shrink, &vm, &o2), POLICY_WORSE);
    assert_non_null(strstr(o2, "\"pressure\":true"));

    /* Shrunk, and now it swaps in: worse as well. */
    vm = observed_vm(3072 * MIB, 3072 * MIB, 2000 * MIB);
    vm.mem_swap_in.v = 1 * MIB;
    assert_int_equal(policy_memory_observe(&c, &shrink, &vm, NULL), POLICY_WORSE);

    /* The balloon stayed where it was (within step_min / 2): no effect,
     * even with the guest under pressure (the change did not cause it). */
    vm = observed_vm(4090 * MIB, 4090 * MIB, 4000 * MIB);
    assert_int_equal(policy_memory_observe(&c, &shrink, &vm, &o3), POLICY_NO_EFFECT);
    assert_non_null(strstr(o3, "\"pressure\":true"));

    /* No balloon figure now: nothing seen. */
    vm = observed_vm(POLICY_ABSENT, POLICY_ABSENT, POLICY_ABSENT);
    assert_int_equal(policy_memory_observe(&c, &shrink, &vm, &o4), POLICY_NO_EFFECT);
    assert_string_equal(o4,
                        "{\"balloon\":null,\"available\":null,\"swap_in\":0,\"pressure\":false}");

    /* A grow that left the guest still pressed is not worse: it helped. */
    struct policy_decision grow = {.policy = POLICY_MEMORY,
                                   .action = POLICY_ACT_SETMEM,
                                   .previous = 1024ULL << 20,
                                   .memory = 1536ULL << 20};
    vm = observed_vm(1536 * MIB, 1536 * MIB, 1500 * MIB);
    assert_int_equal(policy_memory_observe(&c, &grow, &vm, &o5), POLICY_OK);

    /* A NONE decision has nothing to observe. */
    struct policy_decision none = {.policy = POLICY_MEMORY, .action = POLICY_ACT_NONE};
    assert_int_equal(policy_memory_observe(&c, &none, &vm, &o6), POLICY_NO_EFFECT);
}

static void test_balance_observe(void **unused)
{
    struct policy_balance_conf c;
    policy_balance_conf_init(&c);
    struct policy_host hosts[] = {
        {.id = 1,
         .name = "h1",
         .connected = true,
         .cpus = 8,
         .mem_total = 64 * 1024 * MIB,
         .mem_free = 32 * 1024 * MIB},
        {.id = 2,
         .name = "h2",
         .connected = true,
         .cpus = 8,
         .mem_total = 64 * 1024 * MIB,
         .mem_free = 32 * 1024 * MIB},
    };
    struct policy_vm vms[] = {observed_vm(4096 * MIB, 4096 * MIB, 1000 * MIB),
                              observed_vm(4096 * MIB, 4096 * MIB, 1000 * MIB)};
    vms[1].uuid = "00000000-0000-0000-0000-000000000002";
    vms[0].cpu_demand = (struct policy_fig){.v = 2, .provenance = "host-run+wait", .age_us = 0};
    vms[1].cpu_demand = (struct policy_fig){.v = 2, .provenance = "host-run+wait", .age_us = 0};
    vms[0].host_id = 2; /* moved 1 -> 2 */
    struct policy_input in = {.now_us = 1, .hosts = hosts, .n_hosts = 2, .vms = vms, .n_vms = 2};
    struct policy_decision d = {.policy = POLICY_BALANCE,
                                .action = POLICY_ACT_MIGRATE,
                                .vm_uuid = (char *)vms[0].uuid,
                                .host_id = 1,
                                .to_host_id = 2,
                                .expected = (char *)"{\"spread_before\":40,\"spread_after\":0,"
                                                    "\"cost_s\":41}"};
    g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL;

    /* Both hosts at 50 % memory, 25 % CPU: spread 0 < 40: ok. */
    assert_int_equal(policy_balance_observe(&c, &d, &in, &o1), POLICY_OK);
    assert_string_equal(o1, "{\"spread_now\":0,\"vm_host\":2}");

    /* The spread is now 42 points (over 40 + 1): worse. */
    hosts[1].mem_free = 64 * 1024 * MIB * 0.08; /* h2 at 92 % memory */
    assert_int_equal(policy_balance_observe(&c, &d, &in, &o2), POLICY_WORSE);
    assert_string_equal(o2, "{\"spread_now\":42,\"vm_host\":2}");

    /* Within the one-point tolerance: ok. */
    hosts[1].mem_free = 64 * 1024 * MIB * 0.095; /* 90.5 %: spread 40.5 */
    assert_int_equal(policy_balance_observe(&c, &d, &in, NULL), POLICY_OK);

    /* The VM is not on the destination: no effect, whatever the spread. */
    hosts[1].mem_free = 64 * 1024 * MIB * 0.08;
    vms[0].host_id = 1;
    assert_int_equal(policy_balance_observe(&c, &d, &in, &o3), POLICY_NO_EFFECT);
    /* (h1 now has both VMs: CPU 50 % against 0 %, more than memory's 42.) */
    assert_string_equal(o3, "{\"spread_now\":50,\"vm_host\":1}");

    /* Gone from the inventory: no effect. */
    d.vm_uuid = (char *)"00000000-0000-0000-0000-0000000000ff";
    assert_int_equal(policy_balance_observe(&c, &d, &in, &o4), POLICY_NO_EFFECT);
    assert_string_equal(o4, "{\"spread_now\":50,\"vm_host\":null}");

    /* An evacuation that arrived is ok even when the spread grew. */
    d.vm_uuid = (char *)vms[0].uuid;
    vms[0].host_id = 2;
    d.evacuation = true;
    assert_int_equal(policy_balance_observe(&c, &d, &in, NULL), POLICY_OK);
}

/* Every setting as text sets back to the same setting: GET /policies shows
 * what PATCH takes. */
static void test_conf_json_round_trip(void **state)
{
    (void)state;
    struct policy_memory_conf m, m2;
    policy_memory_conf_init(&m);
    assert_true(policy_memory_conf_set(&m, "host_free_target", "3G", NULL));
    assert_true(policy_memory_conf_set(&m, "mode", "enforce", NULL));
    assert_true(policy_memory_conf_set(&m, "swap_in_floor", "1M/s", NULL));
    g_autofree char *text = policy_memory_conf_json(&m);
    json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(json_object_object_get(o, "host_free_target")),
                        "3GiB");
    assert_string_equal(json_object_get_string(json_object_object_get(o, "mode")), "enforce");
    policy_memory_conf_init(&m2);
    json_object_object_foreach(o, key, val)
    {
        g_autoptr(GError) err = NULL;
        if (!policy_memory_conf_set(&m2, key, json_object_get_string(val), &err))
            fail_msg("%s = %s: %s", key, json_object_get_string(val), err->message);
    }
    g_autofree char *again = policy_memory_conf_json(&m2);
    assert_string_equal(text, again);
    json_object_put(o);

    struct policy_balance_conf b, b2;
    policy_balance_conf_init(&b);
    assert_true(policy_balance_conf_set(&b, "max_cost", "90s", NULL));
    g_autofree char *btext = policy_balance_conf_json(&b);
    o = json_tokener_parse(btext);
    assert_non_null(o);
    policy_balance_conf_init(&b2);
    json_object_object_foreach(o, bkey, bval)
    {
        g_autoptr(GError) err = NULL;
        if (!policy_balance_conf_set(&b2, bkey, json_object_get_string(bval), &err))
            fail_msg("%s = %s: %s", bkey, json_object_get_string(bval), err->message);
    }
    g_autofree char *bagain = policy_balance_conf_json(&b2);
    assert_string_equal(btext, bagain);
    json_object_put(o);
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/policy";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),           cmocka_unit_test(test_memory_conf),
        cmocka_unit_test(test_balance_conf),    cmocka_unit_test(test_memory_observe),
        cmocka_unit_test(test_balance_observe), cmocka_unit_test(test_golden_memory),
        cmocka_unit_test(test_golden_balance),  cmocka_unit_test(test_conf_json_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
