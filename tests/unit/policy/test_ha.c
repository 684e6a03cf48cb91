/*
 * Golden tests of the HA state machine (src/policy/ha.h): signal
 * sequences in, decisions out.  tests/data/policy/ha/<case>.in ->
 * <case>.out; KANRI_REGEN_GOLDEN=1 rewrites the .out files (review the
 * diff before committing).
 *
 * A case is one JSON document:
 *
 *   {"comment": "...",
 *    "conf": {"detect_after": "10s", ...},        [ha] keys, string values
 *    "hosts": [{"name": "a", "fence": true, "probe": "ok", "mem_free": "8G",
 *               "maintenance": false, "direct": 0, "alive": 0}],
 *    "vms": [{"name": "web", "ha": true, "priority": 10, "restart": "elsewhere",
 *             "allowed": ["a", "b"], "host": "a", "running": true, "mem": "1G"}],
 *    "ticks": [{"t": 0,
 *               "hosts": {"a": {"connected": false, "probe": "failed", ...}},
 *               "vms": {"web": {"running_on": "b", "ha": false, ...}},
 *               "results": [{"fence": "a", "ok": true, "detail": "..."},
 *                           {"restart": "web", "on": "b", "ok": false, "lease_held": true},
 *                           {"rejoin": "a", "ok": true}],
 *               "confirm": ["a"],
 *               "kanrid_restart": true}]}
 *
 * Hosts get ids in their order (1, 2, ...), start connected with the probe
 * "ok"; VMs get uuids "uuid-NAME".  A tick's changes stay for the ticks
 * after it.  A host's "connected": false records the loss at that tick
 * unless "lost" (seconds) says when.  "kanrid_restart" carries only what
 * the store keeps over to a new state before the tick (in-flight marks are
 * lost), as kanrid restarting does.  Unknown keys fail the case.
 *
 * The output lists per tick the state changes of hosts and recoveries,
 * the events and the actions, then the final state.
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

#include "model/event.h"
#include "policy/ha.h"

static const char *data_dir;

#define MIB (1024.0 * 1024.0)
#define SEC G_USEC_PER_SEC

static double size_of(json_object *v, const char *what)
{
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
        return json_object_get_double(v);
    const char *s = json_object_get_string(v);
    char *end = NULL;
    double n = g_ascii_strtod(s, &end);
    if (end == s)
        fail_msg("%s: bad size '%s'", what, s);
    switch (*end) {
    case '\0':
        return n;
    case 'M':
        return n * MIB;
    case 'G':
        return n * 1024 * MIB;
    }
    fail_msg("%s: bad size '%s'", what, s);
    return 0;
}

static void check_keys(json_object *o, const char *const *keys, const char *what)
{
    json_object_object_foreach(o, k, v)
    {
        (void)v;
        if (!g_strv_contains(keys, k))
            fail_msg("%s: unknown key '%s'", what, k);
    }
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static enum ha_probe probe_of(const char *s)
{
    static const char *const names[] = {"none", "unknown", "ok", "failed"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (g_strcmp0(s, names[i]) == 0)
            return (enum ha_probe)i;
    }
    fail_msg("bad probe '%s'", s);
    return HA_PROBE_NONE;
}

struct tcase {
    struct ha_conf conf;
    GArray *hosts; /* struct ha_signals; names point into the JSON */
    GArray *vms;   /* struct ha_vm */
    GPtrArray *keep; /* strings and arrays owned by the case */
};

static int host_index(struct tcase *t, const char *name)
{
    for (guint i = 0; i < t->hosts->len; i++) {
        if (g_str_equal(g_array_index(t->hosts, struct ha_signals, i).name, name))
            return (int)i;
    }
    fail_msg("unknown host '%s'", name);
    return -1;
}

static int64_t host_id(struct tcase *t, const char *name)
{
    return name ? host_index(t, name) + 1 : 0;
}

static struct ha_vm *vm_named(struct tcase *t, const char *name)
{
    for (guint i = 0; i < t->vms->len; i++) {
        struct ha_vm *v = &g_array_index(t->vms, struct ha_vm, i);
        if (g_str_equal(v->name, name))
            return v;
    }
    fail_msg("unknown VM '%s'", name);
    return NULL;
}

static void set_host(struct tcase *t, struct ha_signals *h, json_object *o, int64_t now)
{
    static const char *const keys[] = {"name",   "fence", "probe", "mem_free",  "maintenance",
                                       "direct", "alive", "connected", "lost", "probe_detail",
                                       "loading", NULL};
    check_keys(o, keys, "host");
    json_object *v;
    if ((v = get(o, "fence")))
        h->fence_configured = json_object_get_boolean(v);
    if ((v = get(o, "probe"))) {
        h->probe = probe_of(json_object_get_string(v));
        h->probe_us = now;
    }
    if ((v = get(o, "probe_detail")))
        h->probe_detail = json_object_get_string(v);
    if ((v = get(o, "mem_free")))
        h->mem_free = size_of(v, "mem_free");
    if ((v = get(o, "maintenance")))
        h->maintenance = json_object_get_boolean(v);
    if ((v = get(o, "direct")))
        h->guests_direct = (unsigned)json_object_get_int(v);
    if ((v = get(o, "alive")))
        h->guests_alive = (unsigned)json_object_get_int(v);
    if ((v = get(o, "connected"))) {
        bool c = json_object_get_boolean(v);
        if (!c && h->connected)
            h->lost_us = now;
        h->connected = c;
    }
    if ((v = get(o, "loading")))
        h->loading = json_object_get_boolean(v);
    if ((v = get(o, "lost")))
        h->lost_us = (int64_t)(json_object_get_double(v) * SEC);
}

static void set_vm(struct tcase *t, struct ha_vm *vm, json_object *o)
{
    static const char *const keys[] = {"name", "ha",      "priority", "restart", "allowed",
                                       "host", "running", "running_on", "mem",   NULL};
    check_keys(o, keys, "vm");
    json_object *v;
    if ((v = get(o, "ha")))
        vm->ha = json_object_get_boolean(v);
    if ((v = get(o, "priority")))
        vm->priority = json_object_get_int(v);
    if ((v = get(o, "restart")) && !ha_restart_parse(json_object_get_string(v), &vm->restart))
        fail_msg("bad restart '%s'", json_object_get_string(v));
    if ((v = get(o, "allowed"))) {
        GPtrArray *a = g_ptr_array_new();
        for (size_t i = 0; i < json_object_array_length(v); i++)
            g_ptr_array_add(a, (gpointer)json_object_get_string(json_object_array_get_idx(v, i)));
        g_ptr_array_add(a, NULL);
        g_ptr_array_add(t->keep, a);
        vm->allowed = (const char *const *)a->pdata;
    }
    if ((v = get(o, "host")))
        vm->host_id = host_id(t, json_object_get_string(v));
    if ((v = get(o, "running")))
        vm->running = json_object_get_boolean(v);
    if ((v = get(o, "running_on")))
        vm->running_on = host_id(t, json_object_get_string(v));
    if ((v = get(o, "mem")))
        vm->mem_bytes = size_of(v, "mem");
}

/* What the store keeps of S, in a new state (kanrid restarting). */
static struct ha_state *restarted(struct ha_state *s)
{
    struct ha_state *n = ha_state_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->hosts);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct ha_host_rec *h = v;
        struct ha_host_rec *c = ha_state_host(n, h->host_id, h->name, h->since_us);
        c->state = h->state;
        c->since_us = h->since_us;
        c->failed_us = h->failed_us;
        c->fence_attempts = h->fence_attempts;
        c->next_fence_us = h->next_fence_us;
        c->reason = g_strdup(h->reason);
    }
    g_hash_table_iter_init(&it, s->vms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct ha_vm_rec *r = v;
        struct ha_vm_rec *c = g_new0(struct ha_vm_rec, 1);
        *c = *r;
        c->uuid = g_strdup(r->uuid);
        c->name = g_strdup(r->name);
        c->reason = g_strdup(r->reason);
        c->inflight = false;
        ha_state_put_vm(n, c);
    }
    ha_state_free(s);
    return n;
}

static const char *hname(struct tcase *t, int64_t id)
{
    return id > 0 && id <= (int64_t)t->hosts->len
               ? g_array_index(t->hosts, struct ha_signals, id - 1).name
               : "-";
}

static int str_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "name state to=host attempts" of every recovery, sorted, for diffs. */
static GPtrArray *vm_lines(struct tcase *t, struct ha_state *s)
{
    GPtrArray *r = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->vms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct ha_vm_rec *rec = v;
        g_ptr_array_add(r, g_strdup_printf("%s %s from=%s to=%s attempts=%u (%s)", rec->name,
                                           ha_vm_state_name(rec->state), hname(t, rec->from_host),
                                           hname(t, rec->to_host), rec->attempts,
                                           rec->reason ? rec->reason : ""));
    }
    g_ptr_array_sort(r, str_cmp);
    return r;
}

static char *run(const char *text)
{
    json_object *root = json_tokener_parse(text);
    assert_non_null(root);
    static const char *const top[] = {"comment", "conf", "hosts", "vms", "ticks", NULL};
    check_keys(root, top, "case");
    struct tcase t = {0};
    t.hosts = g_array_new(FALSE, TRUE, sizeof(struct ha_signals));
    t.vms = g_array_new(FALSE, TRUE, sizeof(struct ha_vm));
    t.keep = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
    ha_conf_init(&t.conf);
    json_object *conf = get(root, "conf");
    if (conf) {
        json_object_object_foreach(conf, k, v)
        {
            g_autoptr(GError) err = NULL;
            if (!ha_conf_set(&t.conf, k, json_object_get_string(v), &err))
                fail_msg("conf: %s", err->message);
        }
    }
    json_object *hosts = get(root, "hosts");
    assert_non_null(hosts);
    for (size_t i = 0; i < json_object_array_length(hosts); i++) {
        json_object *o = json_object_array_get_idx(hosts, i);
        struct ha_signals h = {.host_id = (int64_t)i + 1,
                               .name = json_object_get_string(get(o, "name")),
                               .connected = true,
                               .probe = HA_PROBE_OK,
                               .mem_free = NAN};
        g_array_append_val(t.hosts, h);
        set_host(&t, &g_array_index(t.hosts, struct ha_signals, i), o, 0);
    }
    json_object *vms = get(root, "vms");
    for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
        json_object *o = json_object_array_get_idx(vms, i);
        const char *name = json_object_get_string(get(o, "name"));
        char *uuid = g_strconcat("uuid-", name, NULL);
        GPtrArray *k = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(k, uuid);
        g_ptr_array_add(t.keep, k);
        struct ha_vm v = {.uuid = uuid, .name = name, .ha = true, .running = true,
                          .mem_bytes = NAN};
        g_array_append_val(t.vms, v);
        set_vm(&t, &g_array_index(t.vms, struct ha_vm, i), o);
    }

    struct ha_state *s = ha_state_new();
    GString *out = g_string_new(NULL);
    json_object *ticks = get(root, "ticks");
    assert_non_null(ticks);
    for (size_t i = 0; i < json_object_array_length(ticks); i++) {
        json_object *tick = json_object_array_get_idx(ticks, i);
        static const char *const tkeys[] = {"t",       "hosts",          "vms", "results",
                                            "confirm", "kanrid_restart", NULL};
        check_keys(tick, tkeys, "tick");
        int64_t now = (int64_t)(json_object_get_double(get(tick, "t")) * SEC);
        g_string_append_printf(out, "t=%g\n", (double)now / SEC);
        if (get(tick, "kanrid_restart") && json_object_get_boolean(get(tick, "kanrid_restart"))) {
            s = restarted(s);
            g_string_append(out, "  (kanrid restarted)\n");
        }
        json_object *hs = get(tick, "hosts");
        if (hs) {
            json_object_object_foreach(hs, k, v)
            set_host(&t, &g_array_index(t.hosts, struct ha_signals, host_index(&t, k)), v, now);
        }
        json_object *vs = get(tick, "vms");
        if (vs) {
            json_object_object_foreach(vs, k, v) set_vm(&t, vm_named(&t, k), v);
        }
        g_autoptr(GArray) results = g_array_new(FALSE, TRUE, sizeof(struct ha_result));
        json_object *rs = get(tick, "results");
        for (size_t j = 0; rs && j < json_object_array_length(rs); j++) {
            json_object *o = json_object_array_get_idx(rs, j);
            static const char *const rkeys[] = {"fence", "restart", "rejoin", "on",
                                                "ok",    "lease_held", "detail", NULL};
            check_keys(o, rkeys, "result");
            struct ha_result r = {0};
            json_object *v;
            if ((v = get(o, "fence"))) {
                r.kind = HA_ACT_FENCE;
                r.host_id = host_id(&t, json_object_get_string(v));
            } else if ((v = get(o, "rejoin"))) {
                r.kind = HA_ACT_REJOIN;
                r.host_id = host_id(&t, json_object_get_string(v));
            } else if ((v = get(o, "restart"))) {
                r.kind = HA_ACT_RESTART;
                r.uuid = vm_named(&t, json_object_get_string(v))->uuid;
                r.host_id = host_id(&t, json_object_get_string(get(o, "on")));
            } else {
                fail_msg("result: fence, restart or rejoin");
            }
            r.ok = get(o, "ok") && json_object_get_boolean(get(o, "ok"));
            r.lease_held = get(o, "lease_held") && json_object_get_boolean(get(o, "lease_held"));
            r.detail = get(o, "detail") ? json_object_get_string(get(o, "detail")) : NULL;
            g_array_append_val(results, r);
        }
        g_autoptr(GArray) confirms = g_array_new(FALSE, TRUE, sizeof(struct ha_confirm));
        json_object *cs = get(tick, "confirm");
        for (size_t j = 0; cs && j < json_object_array_length(cs); j++) {
            struct ha_confirm c = {
                .host_id = host_id(&t, json_object_get_string(json_object_array_get_idx(cs, j))),
                .by = "alice"};
            g_array_append_val(confirms, c);
        }

        /* States before, to print the changes. */
        g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) reasons = g_ptr_array_new_with_free_func(g_free);
        for (guint j = 0; j < t.hosts->len; j++) {
            int64_t id = (int64_t)j + 1;
            struct ha_host_rec *h = g_hash_table_lookup(s->hosts, &id);
            g_ptr_array_add(before, g_strdup(h ? ha_host_state_name(h->state) : "up"));
            g_ptr_array_add(reasons, g_strdup(h ? h->reason : NULL));
        }
        g_autoptr(GPtrArray) vms_before = vm_lines(&t, s);

        struct ha_input in = {.now_us = now,
                              .hosts = (const struct ha_signals *)t.hosts->data,
                              .n_hosts = t.hosts->len,
                              .vms = (const struct ha_vm *)t.vms->data,
                              .n_vms = t.vms->len,
                              .results = (const struct ha_result *)results->data,
                              .n_results = results->len,
                              .confirms = (const struct ha_confirm *)confirms->data,
                              .n_confirms = confirms->len};
        g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func((GDestroyNotify)ha_out_free);
        ha_step(&t.conf, s, &in, outs);

        for (guint j = 0; j < t.hosts->len; j++) {
            int64_t id = (int64_t)j + 1;
            struct ha_host_rec *h = g_hash_table_lookup(s->hosts, &id);
            if (!g_str_equal(g_ptr_array_index(before, j), ha_host_state_name(h->state)))
                g_string_append_printf(out, "  host %s: %s -> %s\n", h->name,
                                       (char *)g_ptr_array_index(before, j),
                                       ha_host_state_name(h->state));
            if (h->reason && h->state != HA_UP &&
                g_strcmp0(h->reason, g_ptr_array_index(reasons, j)) != 0)
                g_string_append_printf(out, "    (%s)\n", h->reason);
        }
        g_autoptr(GPtrArray) vms_after = vm_lines(&t, s);
        for (guint j = 0; j < vms_after->len; j++) {
            const char *line = g_ptr_array_index(vms_after, j);
            bool same = false;
            for (guint m = 0; m < vms_before->len; m++)
                same |= g_str_equal(line, g_ptr_array_index(vms_before, m));
            if (!same)
                g_string_append_printf(out, "  vm %s\n", line);
        }
        for (guint j = 0; j < outs->len; j++) {
            const struct ha_out *o = g_ptr_array_index(outs, j);
            if (o->kind == HA_OUT_EVENT) {
                g_string_append_printf(out, "  event %s %s%s%s [%s]%s%s: %s\n", o->event_kind,
                                       o->vm_name ? o->vm_name : o->host,
                                       o->condition ? " " : "",
                                       o->condition ? o->condition : "",
                                       severity_name((enum severity)o->severity),
                                       o->condition ? (o->problem ? " problem" : " cleared") : "",
                                       "", o->message);
                continue;
            }
            switch (o->action) {
            case HA_ACT_FENCE:
                g_string_append_printf(out, "  action fence %s\n", o->host);
                break;
            case HA_ACT_RESTART:
                g_string_append_printf(out, "  action restart %s from %s on %s\n", o->vm_name,
                                       o->host, o->to_host);
                break;
            case HA_ACT_REJOIN:
                g_string_append_printf(out, "  action rejoin %s remove=[", o->host);
                for (guint m = 0; m < o->remove->len; m++)
                    g_string_append_printf(out, "%s%s", m ? " " : "",
                                           (char *)g_ptr_array_index(o->remove, m));
                g_string_append(out, "] start=[");
                for (guint m = 0; m < o->start->len; m++)
                    g_string_append_printf(out, "%s%s", m ? " " : "",
                                           (char *)g_ptr_array_index(o->start, m));
                g_string_append(out, "]\n");
                break;
            case HA_ACT_N:
                break;
            }
        }
    }
    g_string_append(out, "final\n");
    for (guint j = 0; j < t.hosts->len; j++) {
        int64_t id = (int64_t)j + 1;
        struct ha_host_rec *h = g_hash_table_lookup(s->hosts, &id);
        g_string_append_printf(out, "  host %s %s fence_attempts=%u\n", h->name,
                               ha_host_state_name(h->state), h->fence_attempts);
    }
    g_autoptr(GPtrArray) last = vm_lines(&t, s);
    for (guint j = 0; j < last->len; j++)
        g_string_append_printf(out, "  vm %s\n", (char *)g_ptr_array_index(last, j));

    ha_state_free(s);
    g_array_unref(t.hosts);
    g_array_unref(t.vms);
    g_ptr_array_unref(t.keep);
    json_object_put(root);
    return g_string_free(out, FALSE);
}

static void test_golden(void **state)
{
    (void)state;
    g_autofree char *dir = g_build_filename(data_dir, "ha", NULL);
    golden_each(dir, run, 10);
}

static void test_conf(void **state)
{
    (void)state;
    struct ha_conf c;
    ha_conf_init(&c);
    assert_true(c.enabled);
    assert_int_equal(c.detect_us, 5 * SEC);
    g_autoptr(GError) err = NULL;
    assert_true(ha_conf_set(&c, "detect_after", "8s", &err));
    assert_int_equal(c.detect_us, 8 * SEC);
    assert_true(ha_conf_set(&c, "enabled", "no", &err));
    assert_false(c.enabled);
    /* Out of bounds and unknown keys are refused and change nothing. */
    assert_false(ha_conf_set(&c, "detect_after", "1s", &err));
    assert_non_null(strstr(err->message, "detect_after"));
    g_clear_error(&err);
    assert_false(ha_conf_set(&c, "fence_timeout_typo", "5s", &err));
    assert_non_null(strstr(err->message, "unknown option"));
    g_clear_error(&err);
    assert_false(ha_conf_set(&c, "enabled", "maybe", &err));
    assert_int_equal(c.detect_us, 8 * SEC);
    assert_false(c.enabled);
    g_autofree char *json = ha_conf_json(&c);
    assert_non_null(strstr(json, "\"detect_after\":\"8s\""));
    assert_non_null(strstr(json, "\"enabled\":\"false\""));
}

static void test_vm_settings(void **state)
{
    (void)state;
    struct ha_vm_settings v;
    g_autoptr(GError) err = NULL;
    assert_true(ha_vm_settings_parse("priority=10 restart=in-place group=front", &v, &err));
    assert_true(v.ha);
    assert_int_equal(v.priority, 10);
    assert_int_equal(v.restart, HA_RESTART_IN_PLACE);
    assert_string_equal(v.group, "front");
    ha_vm_settings_clear(&v);
    assert_true(ha_vm_settings_parse("off", &v, &err));
    assert_false(v.ha);
    assert_int_equal(v.restart, HA_RESTART_ELSEWHERE);
    ha_vm_settings_clear(&v);
    const char *bad[] = {"", "priority=1001", "priority=x", "restart=never", "group=a/b",
                         "fast"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        assert_false(ha_vm_settings_parse(bad[i], &v, &err));
        assert_non_null(err);
        assert_null(v.group);
        g_clear_error(&err);
    }
}

static void test_probe_spec(void **state)
{
    (void)state;
    struct ha_probe_spec p;
    g_autoptr(GError) err = NULL;
    assert_true(ha_probe_spec_parse("tcp:node1.example:22", &p, &err));
    assert_int_equal(p.kind, HA_PROBE_KIND_TCP);
    assert_string_equal(p.host, "node1.example");
    assert_int_equal(p.port, 22);
    ha_probe_spec_clear(&p);
    assert_true(ha_probe_spec_parse("tcp:[fd00::5]:16509", &p, &err));
    assert_string_equal(p.host, "fd00::5");
    ha_probe_spec_clear(&p);
    assert_true(ha_probe_spec_parse("exec:/usr/bin/ping -c 1 -W 1 'node 1'", &p, &err));
    assert_int_equal(p.kind, HA_PROBE_KIND_EXEC);
    assert_string_equal(p.argv[3], "-W");
    assert_string_equal(p.argv[5], "node 1");
    assert_null(p.argv[6]);
    ha_probe_spec_clear(&p);
    assert_true(ha_probe_spec_parse("none", &p, &err));
    assert_int_equal(p.kind, HA_PROBE_KIND_NONE);
    const char *bad[] = {"tcp:node1", "tcp::22", "tcp:h:0", "tcp:h:70000", "exec:'open",
                         "ping node1"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        assert_false(ha_probe_spec_parse(bad[i], &p, &err));
        assert_non_null(err);
        g_clear_error(&err);
    }
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/policy";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_conf),
        cmocka_unit_test(test_vm_settings),
        cmocka_unit_test(test_probe_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
