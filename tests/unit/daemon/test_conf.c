/*
 * conf: kanrid's configuration file (kanri.conf(5)).  Every message is
 * checked whole, with its "LABEL:LINE: " prefix, because --check-config
 * prints them as they are and editors jump to FILE:LINE.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "daemon/conf.h"

#define LABEL "t.conf"

/* Loads TEXT into a fresh conf; *ret_errors gets the messages. */
static struct conf *load(const char *text, GPtrArray **ret_errors, unsigned *ret_count)
{
    struct conf *c = conf_new();
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    unsigned n = conf_load_data(c, text, strlen(text), LABEL, errors);
    assert_int_equal(n, errors->len);
    *ret_errors = errors;
    if (ret_count)
        *ret_count = n;
    return c;
}

/* Asserts that TEXT gives exactly the one message EXPECTED. */
static void expect_one(const char *text, const char *expected)
{
    GPtrArray *errors;
    g_autoptr(conf) c = load(text, &errors, NULL);
    if (errors->len != 1 || !g_str_equal(g_ptr_array_index(errors, 0), expected)) {
        for (guint i = 0; i < errors->len; i++)
            print_error("got: %s\n", (const char *)g_ptr_array_index(errors, i));
        print_error("expected: %s\n", expected);
        fail();
    }
    g_ptr_array_unref(errors);
}

static struct conf_hypervisor *hv(struct conf *c, guint i)
{
    assert_true(i < c->hypervisors->len);
    return g_ptr_array_index(c->hypervisors, i);
}

/* ---- switches ---- */

static void test_switches(void **state)
{
    GPtrArray *errors;
    g_autoptr(conf) c = load("", &errors, NULL);
    g_ptr_array_unref(errors);
    /* On unless turned off. */
    assert_true(c->refresh_pools);
    assert_true(c->reconcile_enabled);
    g_autoptr(conf) off = load("[manager]\nrefresh_pools = no\n[reconcile]\nenabled = false\n"
                               "cpu-busy-mismatch.open_at = 30\n",
                               &errors, NULL);
    assert_int_equal(errors->len, 0);
    g_ptr_array_unref(errors);
    assert_false(off->refresh_pools);
    assert_false(off->reconcile_enabled);
    assert_true(off->reconcile.rule[RR_CPU_BUSY_MISMATCH].open_at == 30);
    expect_one("[manager]\nrefresh_pools = maybe\n",
               LABEL ":2: refresh_pools: expected yes or no, got 'maybe'");
    expect_one("[reconcile]\nenabled = 2\n",
               LABEL ":2: [reconcile] enabled: expected yes or no, got '2'");
}

/* ---- defaults and valid files ---- */

static void test_defaults(void **state)
{
    g_autoptr(conf) c = conf_new();
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, CONF_DEFAULT_PORT);
    assert_int_equal(c->listen_port, 8470);
    assert_null(c->state_dir);
    assert_int_equal(c->resync_interval, 60);
    assert_string_equal(c->log_level, "info");
    assert_string_equal(c->store_backend, "sqlite");
    assert_null(c->store_path);
    assert_int_equal(c->store_lease, 20 * G_USEC_PER_SEC);
    assert_int_equal(c->hypervisors->len, 0);
    assert_int_equal(c->max_connections, 10000);
    assert_int_equal(c->max_connections_per_address, 1000);
    assert_int_equal(c->max_streams, 256);
    assert_int_equal(c->stream_backlog, 4096);
    conf_free(NULL);
}

static void test_empty_and_comments(void **state)
{
    GPtrArray *errors;
    g_autoptr(conf) c = load("", &errors, NULL);
    assert_int_equal(errors->len, 0);
    g_ptr_array_unref(errors);
    g_autoptr(conf) c2 = load("# a comment\n   # another\n\n   \n", &errors, NULL);
    assert_int_equal(errors->len, 0);
    assert_int_equal(c2->resync_interval, 60);
    g_ptr_array_unref(errors);
}

static void test_valid_file(void **state)
{
    const char *text = "# kanri.conf\n"                       /* 1 */
                       "[manager]\n"                          /* 2 */
                       "listen = 0.0.0.0:9000\n"              /* 3 */
                       "state_dir = /var/lib/kanri-test\n"    /* 4 */
                       "resync_interval = 5\n"                /* 5 */
                       "log_level = debug\n"                  /* 6 */
                       "\n"                                   /* 7 */
                       "[store]\n"                            /* 8 */
                       "backend = sqlite\n"                   /* 9 */
                       "path = /tmp/k.db\n"                   /* 10 */
                       "\n"                                   /* 11 */
                       "[hypervisor:node1]\n"                 /* 12 */
                       "uri = qemu+ssh://root@node1/system\n" /* 13 */
                       "keepalive_interval = 0\n"             /* 14 */
                       "keepalive_count = 100\n"              /* 15 */
                       "reconnect_min = 2\n"                  /* 16 */
                       "reconnect_max = 2\n"                  /* 17 */
                       "\n"                                   /* 18 */
                       "[hypervisor:local]\n"                 /* 19 */
                       "uri = qemu:///system\n";              /* 20 */
    GPtrArray *errors;
    g_autoptr(conf) c = load(text, &errors, NULL);
    assert_int_equal(errors->len, 0);
    g_ptr_array_unref(errors);
    assert_string_equal(c->listen_host, "0.0.0.0");
    assert_int_equal(c->listen_port, 9000);
    assert_string_equal(c->state_dir, "/var/lib/kanri-test");
    assert_int_equal(c->resync_interval, 5);
    assert_string_equal(c->log_level, "debug");
    assert_string_equal(c->store_backend, "sqlite");
    assert_string_equal(c->store_path, "/tmp/k.db");
    assert_int_equal(c->hypervisors->len, 2);
    assert_string_equal(hv(c, 0)->name, "node1");
    assert_string_equal(hv(c, 0)->uri, "qemu+ssh://root@node1/system");
    assert_int_equal(hv(c, 0)->keepalive_interval, 0);
    assert_int_equal(hv(c, 0)->keepalive_count, 100);
    assert_int_equal(hv(c, 0)->reconnect_min, 2);
    assert_int_equal(hv(c, 0)->reconnect_max, 2);
    assert_int_equal(hv(c, 0)->line, 12);
    /* Unset keys keep their defaults. */
    assert_string_equal(hv(c, 1)->name, "local");
    assert_int_equal(hv(c, 1)->keepalive_interval, 5);
    assert_int_equal(hv(c, 1)->keepalive_count, 3);
    assert_int_equal(hv(c, 1)->reconnect_min, 1);
    assert_int_equal(hv(c, 1)->reconnect_max, 60);
    assert_int_equal(hv(c, 1)->line, 19);
}

static void test_values_are_trimmed_and_ipv6_listen(void **state)
{
    GPtrArray *errors;
    g_autoptr(conf) c =
        load("[manager]\nlisten=[::1]:8471\nresync_interval =   86400  \n", &errors, NULL);
    assert_int_equal(errors->len, 0);
    g_ptr_array_unref(errors);
    assert_string_equal(c->listen_host, "::1");
    assert_int_equal(c->listen_port, 8471);
    assert_int_equal(c->resync_interval, 86400);
}

static void test_hypervisor_name_characters(void **state)
{
    GPtrArray *errors;
    g_autoptr(conf) c = load("[hypervisor:a-b_c.9]\nuri=test:///default\n", &errors, NULL);
    assert_int_equal(errors->len, 0);
    assert_string_equal(hv(c, 0)->name, "a-b_c.9");
    g_ptr_array_unref(errors);

    g_autofree char *name64 = g_strnfill(64, 'x');
    g_autofree char *ok = g_strdup_printf("[hypervisor:%s]\nuri=test:///default\n", name64);
    g_autoptr(conf) c2 = load(ok, &errors, NULL);
    assert_int_equal(errors->len, 0);
    g_ptr_array_unref(errors);

    g_autofree char *bad = g_strdup_printf("[hypervisor:%sx]\nuri=test:///default\n", name64);
    g_autofree char *msg = g_strdup_printf(
        LABEL ":1: [hypervisor:%sx]: a host name is 1-64 characters of letters, digits, "
              "'-', '_', '.'",
        name64);
    expect_one(bad, msg);
    expect_one("[hypervisor:]\nuri=test:///default\n",
               LABEL ":1: [hypervisor:]: a host name is 1-64 characters of letters, digits, "
                     "'-', '_', '.'");
    expect_one("\n[hypervisor:a/b]\nuri=test:///default\n",
               LABEL ":2: [hypervisor:a/b]: a host name is 1-64 characters of letters, "
                     "digits, '-', '_', '.'");
}

/* ---- every error, with its line ---- */

/* A host's driver: from its uri when not given; lxc alone gets the default
 * LXC path; a driver that does not go with the uri is an error there. */
static void test_hypervisor_driver(void **state)
{
    (void)state;
    GPtrArray *errors = NULL;
    g_autoptr(conf) c = load("[hypervisor:vms]\nuri = qemu:///system\n"
                             "[hypervisor:cts]\ndriver = lxc\n"
                             "[hypervisor:more]\nuri = liblxc:///srv/lxc\n",
                             &errors, NULL);
    assert_non_null(c);
    assert_int_equal(c->hypervisors->len, 3);
    assert_string_equal(conf_hypervisor_driver(hv(c, 0)), "libvirt");
    assert_string_equal(hv(c, 1)->uri, "liblxc:///var/lib/lxc");
    assert_string_equal(conf_hypervisor_driver(hv(c, 1)), "lxc");
    assert_string_equal(conf_hypervisor_driver(hv(c, 2)), "lxc");
    g_ptr_array_unref(errors);
    expect_one("[hypervisor:x]\ndriver = lxc\nuri = qemu:///system\n",
               LABEL ":1: [hypervisor:x]: uri 'qemu:///system' does not go with driver = lxc "
                     "(container hosts are liblxc:///PATH, libvirt hosts anything else)");
    expect_one("[hypervisor:x]\ndriver = xen\nuri = xen:///system\n",
               LABEL ":2: driver: expected one of libvirt|lxc, got 'xen'");
}

static void test_unknown_key(void **state)
{
    expect_one("[manager]\nlisten = 127.0.0.1:1\nbogus = 1\n", LABEL
               ":3: unknown key 'bogus' in [manager] (known: listen, max_connections, "
               "max_connections_per_address, tls, tls_cert, tls_key, header_timeout, body_timeout, "
               "max_streams, stream_backlog, "
               "state_dir, "
               "resync_interval, log_level, collect_interval, collect_budget_ms, "
               "collect_connections, balloon_period, agent_timeout, refresh_pools, retention_raw, "
               "retention_5m, retention_1h)");
    expect_one("[store]\n\n\nbackend = sqlite\ndriver = x\n", LABEL
               ":5: unknown key 'driver' in [store] (known: backend, path, url, lease, api_url)");
    expect_one("[hypervisor:h]\nuri = test:///default\nkeepalive = 3\n",
               LABEL ":3: unknown key 'keepalive' in [hypervisor:h] (known: uri, driver, "
                     "keepalive_interval, keepalive_count, reconnect_min, reconnect_max, fence, probe, "
                     "fence_timeout)");
}

static void test_unknown_group(void **state)
{
    expect_one("[manager]\n\n[managr]\nlisten = 1.2.3.4:5\n",
               LABEL ":3: unknown group [managr] (known: [manager], [store], "
                     "[reconcile], [ops], [rule:NAME], [route:NAME], [policy], [policy:memory], [policy:balance], [ha], [reports], [hypervisor:NAME])");
    expect_one("[hypervisor]\nuri = x\n",
               LABEL ":1: unknown group [hypervisor] (known: [manager], [store], "
                     "[reconcile], [ops], [rule:NAME], [route:NAME], [policy], [policy:memory], [policy:balance], [ha], [reports], [hypervisor:NAME])");
}

/* [ops], [rule:NAME] and [route:NAME]: rules and routes are read whole
 * and checked as the API checks them; a bad one is an error, not a rule
 * that silently never fires. */
static void test_ops_groups(void **state)
{
    g_autoptr(conf) c = conf_new();
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    const char *text = "[ops]\nresolve_after = 2m\nsuggest_problem_after = 5\n"
                       "[rule:cpu-hot]\nkind = threshold\nmetric = cpu_busy\n"
                       "view = reconciled\nop = >\nvalue = 90\nfor = 5m\n"
                       "severity = major\nscope = vm:web*\n"
                       "[rule:pool]\nkind = pool-full\nvalue = 24\n"
                       "[route:pager]\ntype = webhook\nurl = http://127.0.0.1:9/hook\n"
                       "min_severity = major\non = opened,resolved\nrate_per_min = 10\n";
    assert_int_equal(conf_load_data(c, text, strlen(text), LABEL, errors), 0);
    assert_int_equal(c->ops_resolve_after, 120 * G_GINT64_CONSTANT(1000000));
    assert_int_equal(c->ops_suggest_count, 5);
    assert_int_equal(c->rules->len, 2);
    const struct alert_rule *r = g_ptr_array_index(c->rules, 0);
    assert_string_equal(r->name, "cpu-hot");
    assert_int_equal(r->severity, SEV_MAJOR);
    assert_int_equal(r->for_us, 300 * G_GINT64_CONSTANT(1000000));
    assert_int_equal(c->routes->len, 1);
    const struct notify_route *rt = g_ptr_array_index(c->routes, 0);
    assert_int_equal(rt->transitions, (1u << IT_OPENED) | (1u << IT_RESOLVED));
    assert_int_equal(rt->rate_per_min, 10);

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"[rule:x]\nkind = threshold\nmetric = cpu_busy\nview = inside\nop = >\nvalue = 1\n",
         LABEL ":1: [rule:x]: rule x: a threshold needs metric, view (host, guest or reconciled) "
               "and op (>, >=, < or <=)"},
        {"[rule:x]\nkind = pool-full\nvalue = 0\n",
         LABEL ":1: [rule:x]: rule x: a trend rule's value is hours, more than 0"},
        {"[rule:x]\nkind = pool-full\nvalue = 3\nscope = tag:a\n",
         LABEL ":1: [rule:x]: scope \"tag:a\": expected all, host:NAME, vm:GLOB, pool:GLOB or "
               "item:ID"},
        {"[rule:x]\ncolour = red\n",
         LABEL ":2: [rule:x] unknown key 'colour' (known: kind, metric, view, op, value, for, "
               "severity, scope, enabled)"},
        {"[route:x]\ntype = webhook\n", LABEL ":1: [route:x]: a webhook route needs 'url'"},
        {"[route:x]\ntype = webhook\nurl = ftp://a\n",
         LABEL ":3: [route:x] url: expected http:// or https://, got 'ftp://a'"},
        {"[route:x]\ntype = syslog\non = closed\n",
         LABEL ":3: [route:x] on: 'closed' is not one of opened, escalated, acknowledged, "
               "resolved, reopened"},
        {"[route:a b]\ntype = syslog\n",
         LABEL ":1: [route:a b]: a name is 1-64 characters of letters, digits, '-', '_', '.'"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
        expect_one(bad[i].text, bad[i].msg);
}

static void test_policy_groups(void **state)
{
    g_autoptr(conf) c = conf_new();
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    assert_true(c->policy_enabled);
    assert_int_equal(c->policy_memory.mode, POLICY_OFF);
    const char *text = "[policy]\nenabled = no\n"
                       "[policy:memory]\nmode = enforce\nhost_free_target = 2G\n"
                       "[policy:balance]\nmode = recommend\nmax_concurrent = 2\n"
                       "priority.db1 = 50\naffinity.web = web1, web2\n"
                       "anti_affinity.db = db1,db2 , db3\n";
    assert_int_equal(conf_load_data(c, text, strlen(text), LABEL, errors), 0);
    assert_false(c->policy_enabled);
    assert_int_equal(c->policy_memory.mode, POLICY_ENFORCE);
    assert_true(c->policy_memory.target_bytes == 2ull << 30);
    assert_int_equal(c->policy_balance.mode, POLICY_RECOMMEND);
    assert_int_equal(c->policy_balance.max_concurrent, 2);
    assert_int_equal(GPOINTER_TO_INT(g_hash_table_lookup(c->policy_priority, "db1")), 50);
    assert_string_equal(g_hash_table_lookup(c->policy_affinity, "web2"), "web");
    assert_string_equal(g_hash_table_lookup(c->policy_anti_affinity, "db3"), "db");
    assert_null(g_hash_table_lookup(c->policy_anti_affinity, "web1"));

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"[policy]\nenabled = maybe\n",
         LABEL ":2: [policy] enabled: expected yes or no, got 'maybe'"},
        {"[policy]\nmode = enforce\n", LABEL ":2: [policy] unknown key 'mode' (known: enabled)"},
        {"[policy:balance]\npriority.db1 = high\n",
         LABEL ":2: [policy:balance] priority.db1: expected a VM name and a priority from -1000 "
               "to 1000, got 'high'"},
        {"[policy:balance]\naffinity.web = web1\n",
         LABEL ":2: [policy:balance] affinity.web: a group names two VMs or more, got 'web1'"},
        {"[policy:balance]\naffinity.a = x, y\naffinity.b = y, z\n",
         LABEL ":3: [policy:balance] affinity.b: VM 'y' is in affinity group 'a' already"},
        {"[policy:balance]\nanti_affinity.a b = x, y\n",
         LABEL ":2: [policy:balance] anti_affinity.a b: a group name is 1-64 characters of "
               "letters, digits, '-', '_', '.'"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
        expect_one(bad[i].text, bad[i].msg);
    /* The policy module's own messages, named by group. */
    GPtrArray *errs;
    g_autoptr(conf) c2 = load("[policy:memory]\nmargin = lots\n", &errs, NULL);
    assert_int_equal(errs->len, 1);
    assert_non_null(strstr(g_ptr_array_index(errs, 0), ":2: [policy:memory] margin: "));
    assert_non_null(strstr(g_ptr_array_index(errs, 0), "margin"));
    g_ptr_array_unref(errs);
}

static void test_ha(void **state)
{
    g_autoptr(conf) c = conf_new();
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    assert_true(c->ha.enabled);
    const char *text = "[ha]\ndetect_after = 8s\nfence_retry = 1m\n"
                       "group.front = a, b\n"
                       "vm.web1 = priority=10 group=front\nvm.cache = restart=in-place\n"
                       "vm.scratch = off\n"
                       "[hypervisor:a]\nuri = test:///default\n"
                       "fence = /usr/sbin/fence_ipmilan --ip=10.0.0.5 --username=admin\n"
                       "probe = tcp:10.0.0.4:22\nfence_timeout = 20\n"
                       "[hypervisor:b]\nuri = test:///default\nprobe = exec:/bin/true\n";
    assert_int_equal(conf_load_data(c, text, strlen(text), LABEL, errors), 0);
    assert_int_equal(c->ha.detect_us, 8 * G_USEC_PER_SEC);
    assert_int_equal(c->ha.fence_retry_us, 60 * G_USEC_PER_SEC);
    const struct ha_vm_settings *w = g_hash_table_lookup(c->ha_vms, "web1");
    assert_true(w && w->ha && w->priority == 10 && g_str_equal(w->group, "front"));
    const struct ha_vm_settings *ca = g_hash_table_lookup(c->ha_vms, "cache");
    assert_int_equal(ca->restart, HA_RESTART_IN_PLACE);
    assert_false(((const struct ha_vm_settings *)g_hash_table_lookup(c->ha_vms, "scratch"))->ha);
    const char *const *front = g_hash_table_lookup(c->ha_groups, "front");
    assert_string_equal(front[1], "b");
    const struct conf_hypervisor *a = g_ptr_array_index(c->hypervisors, 0);
    assert_string_equal(a->probe, "tcp:10.0.0.4:22");
    assert_int_equal(a->fence_timeout, 20);
    assert_non_null(strstr(a->fence, "fence_ipmilan"));

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"[ha]\ndetect_after = 1s\n", LABEL ":2: [ha] detect_after: bad value '1s': expected a "
                                        "duration from 2s to 10m (like 90s, 5m, 2h)"},
        {"[ha]\nvm.web = fast\n",
         LABEL ":2: [ha] vm.web: unknown word 'fast' (expected on, off, priority=N, "
               "restart=POLICY, group=NAME)"},
        {"[ha]\nvm.web = group=front\n",
         LABEL ":2: [ha] vm.web: no HA group 'front' (define group.front)"},
        {"[ha]\ngroup.front = a\n", LABEL ":2: [ha] group.front: no host 'a' (no [hypervisor:a] group)"},
        {"[hypervisor:a]\nuri = test:///default\nprobe = ping a\n",
         LABEL ":1: [hypervisor:a] probe: expected none, exec:COMMAND or tcp:HOST:PORT, got 'ping a'"},
        {"[hypervisor:a]\nuri = test:///default\nfence = fence_x '--ip\n",
         LABEL ":1: [hypervisor:a] fence: Text ended before matching quote was found for '. (The "
               "text was “fence_x '--ip”)"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
        expect_one(bad[i].text, bad[i].msg);
}

static void test_int_ranges(void **state)
{
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"[manager]\nresync_interval = 4\n",
         LABEL ":2: resync_interval: expected an integer from 5 to 86400, got '4'"},
        {"[manager]\nresync_interval = 86401\n",
         LABEL ":2: resync_interval: expected an integer from 5 to 86400, got '86401'"},
        {"[manager]\nresync_interval = -1\n",
         LABEL ":2: resync_interval: expected an integer from 5 to 86400, got '-1'"},
        {"[manager]\nresync_interval = 1m\n",
         LABEL ":2: resync_interval: expected an integer from 5 to 86400, got '1m'"},
        {"[manager]\nresync_interval =\n",
         LABEL ":2: resync_interval: expected an integer from 5 to 86400, got ''"},
        {"[manager]\nresync_interval = 18446744073709551621\n",
         LABEL ":2: resync_interval: expected an integer from 5 to 86400, got "
               "'18446744073709551621'"},
        {"[manager]\nmax_connections = 15\n",
         LABEL ":2: max_connections: expected an integer from 16 to 1000000, got '15'"},
        {"[manager]\nmax_connections_per_address = 0\n",
         LABEL ":2: max_connections_per_address: expected an integer from 1 to 1000000, got '0'"},
        {"[manager]\nmax_streams = 0\n",
         LABEL ":2: max_streams: expected an integer from 1 to 100000, got '0'"},
        {"[manager]\nstream_backlog = 15\n",
         LABEL ":2: stream_backlog: expected an integer from 16 to 1000000, got '15'"},
        {"[hypervisor:h]\nuri = test:///default\nkeepalive_interval = 3601\n",
         LABEL ":3: keepalive_interval: expected an integer from 0 to 3600, got '3601'"},
        {"[hypervisor:h]\nuri = test:///default\nkeepalive_count = 0\n",
         LABEL ":3: keepalive_count: expected an integer from 1 to 100, got '0'"},
        {"[hypervisor:h]\nuri = test:///default\nreconnect_min = 0\n",
         LABEL ":3: reconnect_min: expected an integer from 1 to 3600, got '0'"},
        {"[hypervisor:h]\nuri = test:///default\nreconnect_max = 86401\n",
         LABEL ":3: reconnect_max: expected an integer from 1 to 86400, got '86401'"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        expect_one(cases[i].text, cases[i].msg);

    /* A rejected value keeps the default. */
    GPtrArray *errors;
    g_autoptr(conf) c = load("[manager]\nresync_interval = 4\n", &errors, NULL);
    assert_int_equal(c->resync_interval, 60);
    g_ptr_array_unref(errors);
}

static void test_bad_enum(void **state)
{
    expect_one("[manager]\nlog_level = loud\n",
               LABEL ":2: log_level: expected one of error|warning|info|debug, got 'loud'");
    expect_one("[manager]\nlog_level = INFO\n",
               LABEL ":2: log_level: expected one of error|warning|info|debug, got 'INFO'");
    expect_one("[store]\nbackend = postgres\n",
               LABEL ":2: backend: expected one of sqlite|postgresql, got 'postgres'");
    /* Each backend with its own key, a PostgreSQL store with its URL. */
    expect_one("[store]\nbackend = postgresql\n",
               LABEL ":2: [store]: backend = postgresql needs url = postgresql://...");
    expect_one("[store]\nbackend = postgresql\nurl = postgresql:///kanri\npath = /x.db\n",
               LABEL ":4: path: the SQLite file, but backend = postgresql (use url)");
    expect_one("[store]\nurl = postgresql:///kanri\n",
               LABEL ":2: url: a PostgreSQL store's, but backend = sqlite (set backend = "
                     "postgresql)");
    expect_one("[store]\nbackend = postgresql\nurl = mysql://db/kanri\n",
               LABEL ":3: url: 'mysql://db/kanri' is not a postgresql:// or postgres:// URL");
    {
        GPtrArray *errs;
        g_autoptr(conf) pg =
            load("[store]\nbackend = postgresql\nurl = postgres://db.example/kanri\nlease = 1m\n",
                 &errs, NULL);
        assert_int_equal(errs->len, 0);
        assert_string_equal(pg->store_url, "postgres://db.example/kanri");
        assert_int_equal(pg->store_lease, 60 * G_USEC_PER_SEC);
        g_ptr_array_unref(errs);
    }
    /* A lease too short to heartbeat within, or so long a dead instance's
     * hosts wait for hours. */
    expect_one("[store]\napi_url = node1:8470\n",
               LABEL ":2: api_url: 'node1:8470' is not an http:// or https:// URL");
    expect_one("[store]\nlease = 2s\n",
               LABEL ":2: lease: between 3s and 1h (a host's lease among kanrid instances)");
    expect_one("[store]\nlease = 2h\n",
               LABEL ":2: lease: between 3s and 1h (a host's lease among kanrid instances)");
    GPtrArray *errors;
    g_autoptr(conf) c = load("[manager]\nlog_level = loud\n", &errors, NULL);
    assert_string_equal(c->log_level, "info");
    g_ptr_array_unref(errors);
}

static void test_bad_listen(void **state)
{
    static const char *const bad[] = {
        "localhost", "8470", "::1:8470", "1.2.3.4:", "1.2.3.4:65536", "[::1]8470", "[::1"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *text = g_strdup_printf("[manager]\nlisten = %s\n", bad[i]);
        g_autofree char *msg = g_strdup_printf(
            LABEL ":2: listen: expected ADDR:PORT (e.g. 127.0.0.1:8470), got '%s'", bad[i]);
        expect_one(text, msg);
    }
    GPtrArray *errors;
    g_autoptr(conf) c = load("[manager]\nlisten = nonsense\n", &errors, NULL);
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 8470);
    g_ptr_array_unref(errors);
}

static void test_empty_strings(void **state)
{
    expect_one("[manager]\nstate_dir =\n", LABEL ":2: state_dir: must not be empty");
    expect_one("[store]\npath =   \n", LABEL ":2: path: must not be empty");
}

static void test_duplicate_host(void **state)
{
    /* A host given with --connect, then again in the file. */
    g_autoptr(conf) c = conf_new();
    conf_add_uri(c, "qemu+ssh://node1/system");
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    const char *text = "[manager]\n\n[hypervisor:node1]\nuri = qemu:///system\n";
    assert_int_equal(conf_load_data(c, text, strlen(text), LABEL, errors), 1);
    assert_string_equal(g_ptr_array_index(errors, 0),
                        LABEL ":3: [hypervisor:node1]: duplicate host name");
    assert_int_equal(c->hypervisors->len, 1);
    assert_string_equal(hv(c, 0)->uri, "qemu+ssh://node1/system");

    /* The same file loaded twice (e.g. a conf.d fragment repeated). */
    g_ptr_array_set_size(errors, 0);
    g_autoptr(conf) c2 = conf_new();
    const char *t2 = "[hypervisor:a]\nuri = test:///default\n";
    assert_int_equal(conf_load_data(c2, t2, strlen(t2), LABEL, errors), 0);
    assert_int_equal(conf_load_data(c2, t2, strlen(t2), "other.conf", errors), 1);
    assert_string_equal(g_ptr_array_index(errors, 0),
                        "other.conf:1: [hypervisor:a]: duplicate host name");
}

/*
 * Regression test (this was a bug): GKeyFile merges repeated groups, so two
 * [hypervisor:a] groups in one file are silently one host, the later keys
 * winning, instead of a "duplicate host name" error.
 */
static void test_duplicate_group_in_one_file(void **state)
{
    expect_one("[hypervisor:a]\nuri = test:///default\n\n[hypervisor:a]\nuri = qemu:///system\n",
               LABEL ":4: [hypervisor:a]: duplicate host name (first at line 1)");
}

static void test_missing_uri(void **state)
{
    expect_one("[manager]\n[hypervisor:h]\nkeepalive_count = 3\n",
               LABEL ":2: [hypervisor:h]: missing required key 'uri'");
    GPtrArray *errors;
    g_autoptr(conf) c = load("[hypervisor:h]\nkeepalive_count = 3\n", &errors, NULL);
    assert_int_equal(c->hypervisors->len, 0);
    g_ptr_array_unref(errors);

    /* An empty uri is reported as such, and the host is still missing it. */
    g_autoptr(conf) c2 = load("[hypervisor:h]\nuri =\n", &errors, NULL);
    assert_int_equal(errors->len, 2);
    assert_string_equal(g_ptr_array_index(errors, 0), LABEL ":2: uri: must not be empty");
    assert_string_equal(g_ptr_array_index(errors, 1),
                        LABEL ":1: [hypervisor:h]: missing required key 'uri'");
    assert_int_equal(c2->hypervisors->len, 0);
    g_ptr_array_unref(errors);
}

static void test_reconnect_order(void **state)
{
    expect_one("\n\n[hypervisor:h]\nuri = test:///default\nreconnect_min = 10\n"
               "reconnect_max = 5\n",
               LABEL ":3: [hypervisor:h]: reconnect_min (10) is larger than reconnect_max (5)");
    /* Against the default maximum (60) too. */
    expect_one("[hypervisor:h]\nuri = test:///default\nreconnect_min = 61\n",
               LABEL ":1: [hypervisor:h]: reconnect_min (61) is larger than reconnect_max (60)");
}

static void expect_syntax_error(const char *text, int line)
{
    GPtrArray *errors;
    g_autoptr(conf) c = load(text, &errors, NULL);
    assert_int_equal(errors->len, 1);
    g_autofree char *prefix = g_strdup_printf(LABEL ":%d: syntax error: ", line);
    const char *msg = g_ptr_array_index(errors, 0);
    if (!g_str_has_prefix(msg, prefix)) {
        print_error("got '%s', expected a message starting '%s'\n", msg, prefix);
        fail();
    }
    g_ptr_array_unref(errors);
}

static void test_syntax_errors(void **state)
{
    expect_syntax_error("[manager]\nlisten = 127.0.0.1:1\nthis is not a key\n", 3);
    expect_syntax_error("listen = 127.0.0.1:1\n[manager]\n", 1);
    expect_syntax_error("# comment\n\n[manager\nlisten = 1.2.3.4:5\n", 3);
    expect_syntax_error("[manager]\n# ok\n\n\n\nlisten\n", 6);
}

/*
 * Regression tests (these were bugs): the line finder disagrees with GKeyFile, so some
 * syntax errors point at the wrong line: ';' lines count as comments
 * (GKeyFile refuses them; the message says line 0), and "= value" (empty
 * key) passes the finder, which then blames a later line.  Repeated keys
 * are kept by GKeyFile, the last one winning, and each copy is checked, so
 * a bad repeated value is reported twice and a repeat is never called
 * out.
 */
static void test_syntax_errors_known_bugs(void **state)
{
    expect_syntax_error("# a comment\n; another\n", 2);
    expect_syntax_error("[manager]\n# ok\n\n\n\n= value\nx\n", 6);
    GPtrArray *errors;
    g_autoptr(conf) c = load("[manager]\nlisten = 1.2.3.4:5\nlisten = nonsense\n", &errors, NULL);
    assert_int_equal(errors->len, 1);
    assert_non_null(strstr(g_ptr_array_index(errors, 0), "duplicate"));
    g_ptr_array_unref(errors);
}

static void test_not_utf8(void **state)
{
    expect_one("[manager]\nstate_dir = /tmp/\xff\xfe\n", LABEL ":0: file is not valid UTF-8");
}

static void test_oversized(void **state)
{
    /* Exactly at the limit is fine; one byte more is refused. */
    g_autofree char *at = g_strnfill(CONF_MAX_BYTES, '\n');
    at[0] = '#';
    g_autoptr(conf) c = conf_new();
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    assert_int_equal(conf_load_data(c, at, CONF_MAX_BYTES, LABEL, errors), 0);

    g_autofree char *over = g_strnfill(CONF_MAX_BYTES + 1, '\n');
    assert_int_equal(conf_load_data(c, over, CONF_MAX_BYTES + 1, LABEL, errors), 1);
    assert_string_equal(g_ptr_array_index(errors, 0),
                        LABEL ":0: file is larger than 1048576 bytes");
}

static void test_all_errors_collected(void **state)
{
    const char *text = "[manager]\n"             /* 1 */
                       "listen = nowhere\n"      /* 2 */
                       "resync_interval = 0\n"   /* 3 */
                       "log_level = chatty\n"    /* 4 */
                       "colour = blue\n"         /* 5 */
                       "[hypervisor:a]\n"        /* 6 */
                       "uri = test:///default\n" /* 7 */
                       "reconnect_min = 9\n"     /* 8 */
                       "reconnect_max = 3\n"     /* 9 */
                       "[hypervisor:b]\n"        /* 10 */
                       "[elsewhere]\n";          /* 11 */
    GPtrArray *errors;
    unsigned n;
    g_autoptr(conf) c = load(text, &errors, &n);
    static const char *const want[] = {
        LABEL ":2: listen: expected ADDR:PORT (e.g. 127.0.0.1:8470), got 'nowhere'",
        LABEL ":3: resync_interval: expected an integer from 5 to 86400, got '0'",
        LABEL ":4: log_level: expected one of error|warning|info|debug, got 'chatty'",
        LABEL ":5: unknown key 'colour' in [manager] (known: listen, max_connections, "
              "max_connections_per_address, tls, tls_cert, tls_key, header_timeout, body_timeout, "
              "max_streams, stream_backlog, "
              "state_dir, "
              "resync_interval, log_level, collect_interval, collect_budget_ms, "
              "collect_connections, balloon_period, agent_timeout, refresh_pools, retention_raw, "
              "retention_5m, retention_1h)",
        LABEL ":6: [hypervisor:a]: reconnect_min (9) is larger than reconnect_max (3)",
        LABEL ":10: [hypervisor:b]: missing required key 'uri'",
        LABEL ":11: unknown group [elsewhere] (known: [manager], [store], [reconcile], "
              "[ops], [rule:NAME], [route:NAME], [policy], [policy:memory], [policy:balance], [ha], [reports], [hypervisor:NAME])",
    };
    assert_int_equal(n, G_N_ELEMENTS(want));
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        assert_string_equal(g_ptr_array_index(errors, i), want[i]);
    /* The host with an ordering problem is still added (reported, kept). */
    assert_int_equal(c->hypervisors->len, 1);
    g_ptr_array_unref(errors);
}

static void test_load_file(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("kanri-conf-XXXXXX", NULL);
    assert_non_null(dir);
    g_autofree char *path = g_build_filename(dir, "kanri.conf", NULL);
    g_autoptr(conf) c = conf_new();
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);

    assert_int_equal(conf_load_file(c, path, errors), -ENOENT);
    assert_int_equal(errors->len, 1);
    g_autofree char *prefix = g_strdup_printf("%s:0: cannot read: ", path);
    assert_true(g_str_has_prefix(g_ptr_array_index(errors, 0), prefix));

    assert_true(g_file_set_contents(path, "[manager]\nlog_level = x\n", -1, NULL));
    g_ptr_array_set_size(errors, 0);
    assert_int_equal(conf_load_file(c, path, errors), 1);
    g_autofree char *msg =
        g_strdup_printf("%s:2: log_level: expected one of error|warning|info|debug, got 'x'", path);
    assert_string_equal(g_ptr_array_index(errors, 0), msg);
    g_unlink(path);
    g_rmdir(dir);
}

/* ---- conf_parse_listen ---- */

static void test_parse_listen(void **state)
{
    static const struct {
        const char *in;
        const char *host;
        int port;
    } good[] = {
        {"127.0.0.1:8470", "127.0.0.1", 8470}, {"0.0.0.0:0", "0.0.0.0", 0},
        {":8471", "127.0.0.1", 8471},          {"[::1]:80", "::1", 80},
        {"[::]:65535", "::", 65535},           {"[fe80::1%eth0]:1", "fe80::1%eth0", 1},
        {"node1:443", "node1", 443},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *host = NULL;
        int port = -1;
        if (!conf_parse_listen(good[i].in, &host, &port)) {
            print_error("'%s' refused\n", good[i].in);
            fail();
        }
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
    static const char *const bad[] = {
        "",           "8470",       "127.0.0.1",  "127.0.0.1:", "127.0.0.1:65536",
        "1.2.3.4:-1", "1.2.3.4:+1", "1.2.3.4: 1", "1.2.3.4:1x", "::1:80",
        "[::1]80",    "[::1]",      "[::1",       "[]:80",      "1.2.3.4:99999999999999999999999",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *host = (char *)"untouched";
        int port = -7;
        if (conf_parse_listen(bad[i], &host, &port)) {
            print_error("'%s' accepted\n", bad[i]);
            fail();
        }
        /* Outputs are only written on success. */
        assert_string_equal(host, "untouched");
        assert_int_equal(port, -7);
    }
    char *host = NULL;
    int port = 0;
    assert_false(conf_parse_listen(NULL, &host, &port));
}

/* ---- names from URIs ---- */

static void test_name_from_uri(void **state)
{
    static const struct {
        const char *uri;
        const char *name;
    } cases[] = {
        {"qemu:///system", "local"},
        {"qemu:///session", "local-session"},
        {"qemu+ssh://root@node1/system", "node1"},
        {"qemu+ssh://node1/system", "node1"},
        {"qemu+tls://node2.example.com/system", "node2.example.com"},
        {"qemu+ssh://root@node1:2222/system?keyfile=/root/.ssh/id", "node1"},
        {"xen+ssh://h:2222/", "h"},
        {"xen+ssh://admin@h:2222/system", "h"},
        {"xen:///system", "xen"},
        {"xen:///", "xen"},
        {"lxc:///", "lxc"},
        {"lxc:///system", "lxc"},
        {"bhyve:///system", "bhyve"},
        {"ch:///session", "ch-session"},
        {"test:///default", "test-default"},
        {"test:///tmp/fleet.xml", "fleet"},
        {"test:///tmp/fleet", "fleet"},
        {"test:///tmp/node.a.xml", "node.a"},
        {"test:///tmp/.hidden", ".hidden"},
        {"test:///default?x=1", "test-default"},
        {"esx://esx1.example.com/?no_verify=1", "esx1.example.com"},
        {"esx://root@esx1.example.com/", "esx1.example.com"},
        {"qemu:///system?socket=/run/x.sock", "local"},
        {"plain-name", "plain-name"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *name = conf_name_from_uri(cases[i].uri);
        if (!g_str_equal(name, cases[i].name)) {
            print_error("%s: got '%s', expected '%s'\n", cases[i].uri, name, cases[i].name);
            fail();
        }
    }
}

/*
 * Regression tests (these were bugs): a query string without a path stays in the host
 * name, and IPv6 literals keep their brackets and port; such names are
 * not valid [hypervisor:NAME] names and break HOST:NAME references (the
 * colon).
 */
static void test_name_from_uri_known_bugs(void **state)
{
    static const struct {
        const char *uri;
        const char *name;
    } cases[] = {
        {"esx://esx1?no_verify=1", "esx1"},
        {"qemu+ssh://[fe80::1]/system", "fe80--1"},
        {"qemu+ssh://root@[fe80::1]:2222/system", "fe80--1"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *name = conf_name_from_uri(cases[i].uri);
        assert_string_equal(name, cases[i].name);
    }
}

static void test_add_uri_unique(void **state)
{
    g_autoptr(conf) c = conf_new();
    struct conf_hypervisor *a = conf_add_uri(c, "test:///default");
    struct conf_hypervisor *b = conf_add_uri(c, "test:///default");
    struct conf_hypervisor *d = conf_add_uri(c, "test:///other/default.xml");
    struct conf_hypervisor *e = conf_add_uri(c, "qemu:///system");
    assert_string_equal(a->name, "test-default");
    assert_string_equal(b->name, "test-default-2");
    assert_string_equal(d->name, "test-default-3");
    assert_string_equal(e->name, "local");
    assert_string_equal(b->uri, "test:///default");
    assert_int_equal(c->hypervisors->len, 4);
    assert_ptr_equal(hv(c, 3), e);
    /* Defaults as for a configured host, and no line. */
    assert_int_equal(e->keepalive_interval, 5);
    assert_int_equal(e->keepalive_count, 3);
    assert_int_equal(e->reconnect_min, 1);
    assert_int_equal(e->reconnect_max, 60);
    assert_int_equal(e->line, 0);

    /* A configured "local" makes --connect qemu:///system "local-2". */
    g_autoptr(conf) c2 = conf_new();
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    const char *text = "[hypervisor:local]\nuri = qemu+ssh://elsewhere/system\n";
    assert_int_equal(conf_load_data(c2, text, strlen(text), LABEL, errors), 0);
    assert_string_equal(conf_add_uri(c2, "qemu:///system")->name, "local-2");
    /* And a configured "x-2" is skipped over. */
    const char *t2 = "[hypervisor:fleet-2]\nuri = test:///a\n";
    assert_int_equal(conf_load_data(c2, t2, strlen(t2), LABEL, errors), 0);
    assert_string_equal(conf_add_uri(c2, "test:///tmp/fleet.xml")->name, "fleet");
    assert_string_equal(conf_add_uri(c2, "test:///srv/fleet.xml")->name, "fleet-3");
}

/* What a reload tells the operator takes effect only at the next start. */
static void test_changes(void **state)
{
    (void)state;
    const char *old_text = "[manager]\nlisten = 127.0.0.1:8470\nlog_level = info\n"
                           "[hypervisor:a]\nuri = qemu:///system\n"
                           "[reports]\ndirectory = /srv/r\n";
    const char *new_text = "# comment\n[manager]\nlog_level = debug\n"
                           "listen = 127.0.0.1:8470\ncollect_interval = 5\n"
                           "[hypervisor:a]\nuri = qemu:///system\n"
                           "[hypervisor:b]\nuri = test:///default\n";
    g_autoptr(GPtrArray) ch = conf_changes(old_text, new_text);
    assert_int_equal(ch->len, 4);
    assert_string_equal(g_ptr_array_index(ch, 0), "[manager] log_level");
    assert_string_equal(g_ptr_array_index(ch, 1), "[manager] collect_interval");
    assert_string_equal(g_ptr_array_index(ch, 2), "[hypervisor:b] uri");
    assert_string_equal(g_ptr_array_index(ch, 3), "[reports] directory");
    g_autoptr(GPtrArray) same = conf_changes(old_text, old_text);
    assert_int_equal(same->len, 0);
    /* A text that does not parse compares as empty: all of the other's keys. */
    g_autoptr(GPtrArray) bad = conf_changes("[manager\n", "[ha]\nenabled = yes\n");
    assert_int_equal(bad->len, 1);
    assert_string_equal(g_ptr_array_index(bad, 0), "[ha] enabled");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_empty_and_comments),
        cmocka_unit_test(test_valid_file),
        cmocka_unit_test(test_values_are_trimmed_and_ipv6_listen),
        cmocka_unit_test(test_hypervisor_name_characters),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_hypervisor_driver),
        cmocka_unit_test(test_unknown_group),
        cmocka_unit_test(test_ops_groups),
        cmocka_unit_test(test_policy_groups),
        cmocka_unit_test(test_ha),
        cmocka_unit_test(test_int_ranges),
        cmocka_unit_test(test_bad_enum),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_empty_strings),
        cmocka_unit_test(test_duplicate_host),
        cmocka_unit_test(test_duplicate_group_in_one_file),
        cmocka_unit_test(test_missing_uri),
        cmocka_unit_test(test_reconnect_order),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_syntax_errors_known_bugs),
        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_all_errors_collected),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_parse_listen),
        cmocka_unit_test(test_name_from_uri),
        cmocka_unit_test(test_name_from_uri_known_bugs),
        cmocka_unit_test(test_add_uri_unique),
        cmocka_unit_test(test_switches),
        cmocka_unit_test(test_changes),
    };
    return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
