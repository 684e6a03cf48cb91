/*
 * The model's tables are the single definition of each shape: these tests
 * hold them to it (every field inside its struct, no name twice, every
 * action named), and check the constructors' absent-value convention that
 * every layer relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "model/action.h"
#include "model/decision.h"
#include "model/row.h"
#include "model/sample.h"

static const struct row_desc *const descs[] = {
    &host_row_desc,           &vm_row_desc,           &pool_row_desc,     &network_row_desc,
    &change_row_desc,         &audit_row_desc,        &token_row_desc,    &agent_row_desc,
    &finding_row_desc,        &view_status_row_desc,  &snapshot_row_desc, &decision_row_desc,
    &policy_setting_row_desc, &policy_pause_row_desc, &replay_row_desc,
};

static size_t type_size(enum row_type t)
{
    switch (t) {
    case ROW_STR:
    case ROW_JSON:
        return sizeof(char *);
    case ROW_INT:
    case ROW_TIME:
        return sizeof(int64_t);
    case ROW_BOOL:
        return sizeof(bool);
    case ROW_REAL:
        return sizeof(double);
    }
    return 0;
}

static void test_row_tables(void **unused)
{
    for (size_t i = 0; i < G_N_ELEMENTS(descs); i++) {
        const struct row_desc *d = descs[i];
        g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
        assert_true(d->n_fields > 0);
        for (size_t k = 0; k < d->n_fields; k++) {
            const struct row_field *f = &d->fields[k];
            assert_true(f->offset + type_size(f->type) <= d->size);
            if (!g_hash_table_add(names, (gpointer)f->name))
                fail_msg("%s: field %s twice", d->name, f->name);
            assert_ptr_equal(row_field_find(d, f->name), f);
        }
        assert_null(row_field_find(d, "no-such-field"));
    }
}

static void test_rows_absent(void **unused)
{
    g_autoptr(rows) r = rows_new(&host_row_desc);
    struct host_row *h = rows_add(r);
    assert_int_equal(rows_len(r), 1);
    assert_null(h->name);
    assert_true(h->cpus == ROW_INT_ABSENT);
    assert_true(h->last_seen == 0);
    h->name = g_strdup("a");
    row_clear(&host_row_desc, h);
    assert_null(h->name);

    g_autoptr(rows) f = rows_new(&finding_row_desc);
    struct finding_row *fr = rows_add(f);
    assert_true(isnan(fr->measure));
    fr->message = g_strdup("owned, freed with the list");
}

static void test_action_table(void **unused)
{
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
    for (int i = 0; i < ACTION_N; i++) {
        const struct action_spec *s = &action_specs[i];
        assert_non_null(s->name);
        assert_true(g_hash_table_add(names, (gpointer)s->name));
        int n = 0;
        for (const struct action_param_spec *p = s->params; p->name; p++, n++)
            assert_true(p->min <= p->max);
        assert_true(n <= ACTION_MAX_PARAMS);
        enum action_kind k;
        /* The API offers every action but kanrid's own upkeep. */
        assert_int_equal(action_lookup(s->name, &k), s->api);
        if (s->api)
            assert_int_equal(k, i);
    }
    enum action_kind k;
    assert_false(action_lookup("set-balloon-period", &k));
    assert_false(action_lookup("reboot ", &k));
    assert_non_null(strstr(action_api_names(), "snapshot-create"));
    assert_null(strstr(action_api_names(), "set-balloon-period"));
}

static void test_action_request(void **unused)
{
    struct action_request req;
    action_request_init(&req, ACTION_SHUTDOWN);
    assert_int_equal(action_int(&req, "timeout", 60), 60);
    assert_true(action_set_int(&req, "timeout", 5));
    assert_int_equal(action_int(&req, "timeout", 60), 5);
    assert_false(action_set_int(&req, "vcpus", 2)); /* not a parameter of shutdown */
    assert_false(action_bool(&req, "force", false));
    action_request_clear(&req);

    action_request_init(&req, ACTION_MIGRATE);
    assert_null(action_str(&req, "to_host"));
    assert_true(action_set_str(&req, "to_host", "node2"));
    assert_string_equal(action_str(&req, "to_host"), "node2");
    assert_true(action_bool(&req, "live", true));
    action_request_clear(&req);
    assert_null(action_str(&req, "to_host"));
}

static void test_samples(void **unused)
{
    struct host_sample a, b;
    host_sample_init(&a);
    assert_true(a.cpu_time_ns == SAMPLE_ABSENT && a.dom_id == -1);
    a.uuid = g_strdup("u");
    a.vcpus_json = g_strdup("[]");
    a.cpu_time_ns = 7;
    host_sample_init(&b);
    host_sample_move(&b, &a);
    assert_string_equal(b.uuid, "u");
    assert_null(a.uuid);
    assert_true(a.cpu_time_ns == SAMPLE_ABSENT);
    struct host_sample c;
    host_sample_copy(&c, &b);
    assert_ptr_not_equal(c.uuid, b.uuid);
    assert_true(c.cpu_time_ns == 7);
    host_sample_clear(&b);
    host_sample_clear(&c);

    struct guest_sample g;
    guest_sample_init(&g);
    assert_true(g.mem_total == SAMPLE_ABSENT && g.time_us == 0 && !g.source);
    assert_string_equal(guest_source_static("qga"), "qga");
    assert_null(guest_source_static("qgaX"));
    assert_null(guest_source_static(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_tables),   cmocka_unit_test(test_rows_absent),
        cmocka_unit_test(test_action_table), cmocka_unit_test(test_action_request),
        cmocka_unit_test(test_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
