/*
 * The engine on a real SQLite store, fed through its sink the way a driver
 * feeds it.  The driver here is scripted by the test (the seam of
 * model/driver.h exists so that an engine can be driven by something other
 * than libvirt); the end-to-end suites run the real libvirt driver.
 *
 * What users rely on: a host is ready only once its inventory synced;
 * configuration changes are attributed (created, external, the action in
 * flight, removed); a round is reconciled from memory and written in one
 * go, states only when they change and findings as their lifecycle says;
 * a VM that stops keeps its last view; an older pushed guest sample never
 * replaces a newer one; /metrics shows the latest view; all of it holds
 * while every kind of caller uses the engine at once (the last test, which
 * is what ThreadSanitizer checks the engine's locking with).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "basic/util.h"
#include "engine/engine-private.h"
#include "engine/engine.h"
#include "engine/fleet.h"
#include "model/decision.h"
#include "reconcile/reconcile.h"
#include "store/series.h"

#define VM_A "aaaaaaaa-0000-4000-8000-000000000001"
#define VM_B "bbbbbbbb-0000-4000-8000-000000000002"
#define VM_C "cccccccc-0000-4000-8000-000000000003"
#define VM_D "dddddddd-0000-4000-8000-000000000004"

/* ---- a scripted driver ---- */

struct script {
    struct driver base;
    const struct driver_sink *sink;
    int hosts_added;
    char *next_xml;            /* what the domain looks like after an action */
    bool report_without_cause; /* as an event racing the action would */
    bool host_lost;            /* the action loses its host: outcome unknown */
    bool stopped;              /* someone stopped the domain while the action ran */
};

static int s_host_add(struct driver *d, int64_t host_id, const struct driver_host_conf *hc,
                      GError **error)
{
    ((struct script *)d)->hosts_added++;
    return 0;
}

static void s_resync_all(struct driver *d)
{
}

static bool s_stop(struct driver *d, int timeout_s)
{
    return true;
}

static void s_free(struct driver *d)
{
}

static struct domain_info *dom_new(const char *uuid, const char *name, const char *xml,
                                   bool running)
{
    struct domain_info *d = domain_info_new();
    d->uuid = g_strdup(uuid);
    d->name = g_strdup(name);
    d->state = g_strdup(running ? "running" : "shutoff");
    d->running = running;
    d->domain_type = g_strdup("test");
    d->vcpus = d->max_vcpus = 1;
    d->xml = g_strdup(xml);
    struct disk_info *di = g_new0(struct disk_info, 1);
    di->target = g_strdup("vda");
    di->source = g_strdup("/pool/a.img");
    di->capacity = di->allocation = di->physical = G_MININT64;
    g_ptr_array_add(d->disks, di);
    return d;
}

static int s_action(struct driver *d, int64_t host_id, const char *uuid,
                    const struct action_request *req, const struct change_cause *cause,
                    struct action_result *result, GError **error)
{
    struct script *s = (struct script *)d;
    if (s->host_lost) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNAVAILABLE, "outcome unknown: end of file");
        return -EIO;
    }
    s->sink->domain(s->sink->ctx, host_id, dom_new(uuid, "a", s->next_xml, !s->stopped),
                    s->report_without_cause ? NULL : cause);
    return 0;
}

static int s_define(struct driver *d, int64_t host_id, const char *xml,
                    const struct change_cause *cause, char **ret_uuid, char **ret_name,
                    GError **error)
{
    g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNSUPPORTED, "not scripted");
    return -1;
}

static struct rows *s_snapshots(struct driver *d, int64_t host_id, const char *uuid, GError **error)
{
    return rows_new(&snapshot_row_desc);
}

static const struct driver_ops script_ops = {
    .name = "script",
    .host_add = s_host_add,
    .resync_all = s_resync_all,
    .stop = s_stop,
    .free = s_free,
    .action = s_action,
    .define = s_define,
    .snapshots = s_snapshots,
};

/* ---- fixture ---- */

struct fx {
    char *dir;
    struct store *st;
    struct engine *e;
    const struct driver_sink *sink;
    struct script drv;
    int64_t h1, h2;
};

static int64_t host_id_of(struct fx *f, const char *name)
{
    g_autoptr(rows) r = f->st->ops->hosts_query(f->st, name, NULL);
    assert_int_equal(rows_len(r), 1);
    return ((struct host_row *)rows_get(r, 0))->id;
}

static int setup_conf(void **state, const struct engine_conf *conf);

static int setup(void **state)
{
    struct engine_conf c;
    engine_conf_init(&c);
    return setup_conf(state, &c);
}

/* The memory policy enforcing a target no host meets, acting at once. */
static int setup_policy(void **state)
{
    struct engine_conf c;
    engine_conf_init(&c);
    c.interval_s = 1;
    c.policy_memory.mode = POLICY_ENFORCE;
    c.policy_memory.target_pct = NAN;
    c.policy_memory.target_bytes = 64ULL << 30;
    c.policy_memory.vm_cooldown_us = 0;
    return setup_conf(state, &c);
}

static int setup_conf(void **state, const struct engine_conf *conf)
{
    struct fx *f = g_new0(struct fx, 1);
    f->dir = g_dir_make_tmp("kanri-engine-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(f->dir, "kanri.db", NULL);
    f->st = store_sqlite_open(path, NULL);
    assert_non_null(f->st);
    struct engine_conf c = *conf;
    c.view_keep_us = 3600 * USEC_PER_SEC;
    f->e = engine_new(f->st, &c);
    f->sink = engine_sink(f->e);
    f->drv.base.ops = &script_ops;
    f->drv.sink = f->sink;
    struct driver_host_conf h1 = {.name = "h1", .uri = "script:///1"};
    struct driver_host_conf h2 = {.name = "h2", .uri = "script:///2"};
    assert_int_equal(engine_host_add(f->e, &f->drv.base, &h1, NULL), 0);
    assert_int_equal(engine_host_add(f->e, &f->drv.base, &h2, NULL), 0);
    assert_int_equal(f->drv.hosts_added, 2);
    f->h1 = host_id_of(f, "h1");
    f->h2 = host_id_of(f, "h2");
    engine_start(f->e);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    assert_true(engine_stop(f->e, 5));
    engine_free(f->e);
    store_close(f->st);
    g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        g_unlink(p);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->drv.next_xml);
    g_free(f);
    return 0;
}

static struct rows *changes_of(struct fx *f, const char *uuid)
{
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_vm_ref));
    g_array_set_clear_func(refs, (GDestroyNotify)store_vm_ref_clear);
    assert_int_equal(f->st->ops->vm_resolve(f->st, uuid, refs, NULL), 0);
    assert_int_equal(refs->len, 1);
    return f->st->ops->changes_query(f->st, g_array_index(refs, struct store_vm_ref, 0).domain_id,
                                     100, NULL);
}

static const char *xml_v(int n)
{
    static char buf[4][128];
    g_snprintf(buf[n & 3], sizeof(buf[0]),
               "<domain type='test'>\n<name>a</name>\n<memory>%d</memory>\n</domain>\n", n);
    return buf[n & 3];
}

/* ---- tests ---- */

static void test_readiness(void **state)
{
    struct fx *f = *state;
    g_autofree char *why = NULL;
    int retry = 0;
    assert_false(engine_ready(f->e, &why, &retry));
    assert_non_null(strstr(why, "h1"));
    assert_non_null(strstr(why, "h2"));
    assert_true(retry >= 1);
    assert_true(engine_loading(f->e, f->h1));

    /* Connected is not enough: the inventory must be in. */
    f->sink->host_state(f->sink->ctx, f->h1, HOST_CONNECTING, NULL);
    f->sink->inventory_synced(f->sink->ctx, f->h1);
    assert_false(engine_loading(f->e, f->h1));
    assert_true(engine_loading(f->e, -1));
    /* An unreachable host does not hold readiness back. */
    f->sink->host_state(f->sink->ctx, f->h2, HOST_UNREACHABLE, "connection refused");
    assert_true(engine_ready(f->e, NULL, NULL));

    /* A host the configuration names but not added yet holds it back too. */
    engine_hosts_expect(f->e, 3);
    g_clear_pointer(&why, g_free);
    assert_false(engine_ready(f->e, &why, NULL));
    assert_non_null(strstr(why, "adding the configured hosts: 2 of 3"));
    assert_true(engine_loading(f->e, -1));
    assert_false(engine_loading(f->e, f->h1));
    engine_hosts_expect(f->e, 2);
    assert_true(engine_ready(f->e, NULL, NULL));

    g_autoptr(rows) hosts = f->st->ops->hosts_query(f->st, NULL, NULL);
    const struct host_row *a = rows_get(hosts, 0), *b = rows_get(hosts, 1);
    assert_string_equal(a->state, "connected");
    assert_true(a->inventory_synced_at > 0 && a->connected_since > 0);
    assert_string_equal(b->state, "unreachable");
    assert_string_equal(b->reason, "connection refused");
    assert_true(b->inventory_synced_at == 0 && b->connected_since == 0);
}

static void test_attribution(void **state)
{
    struct fx *f = *state;
    const struct driver_sink *s = f->sink;
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(1), true), NULL);
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(1), true), NULL); /* nothing new */
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(2), true), NULL);

    /* An action: the change it causes is its own, also when the sync that
     * sees it is an event racing it (no cause given). */
    f->drv.next_xml = g_strdup(xml_v(3));
    f->drv.report_without_cause = true;
    struct action_request req;
    action_request_init(&req, ACTION_SETVCPUS);
    action_set_int(&req, "vcpus", 2);
    struct action_result res;
    action_result_init(&res);
    struct actor who = {.name = "alice", .token_id = 7};
    int64_t audit_id = 0;
    assert_int_equal(
        engine_action(f->e, f->h1, VM_A, "a", &req, "{\"vcpus\":2}", &who, &res, &audit_id, NULL),
        0);
    assert_true(audit_id > 0);
    action_request_clear(&req);
    action_result_clear(&res);
    /* After it, the same kind of sync is external again. */
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(4), true), NULL);

    const char *none[] = {NULL};
    s->domains_present(s->ctx, f->h1, none, NULL);
    g_autoptr(rows) live =
        f->st->ops->vms_query(f->st, &(struct vm_filter){.host = "h1"}, 0, false, NULL);
    assert_int_equal(rows_len(live), 0);
    /* Back with the same definition: a change, no new version. */
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(4), true), NULL);

    g_autoptr(rows) ch = changes_of(f, VM_A);
    assert_int_equal(rows_len(ch), 6);
    static const struct {
        const char *cause;
        int64_t from, to;
        bool diff;
    } want[] = {
        /* newest first */
        {"created", 4, 4, false}, {"removed", 4, 4, false}, {"external", 3, 4, true},
        {"action", 2, 3, true},   {"external", 1, 2, true}, {"created", 0, 1, true},
    };
    for (guint i = 0; i < rows_len(ch); i++) {
        const struct change_row *c = rows_get(ch, i);
        assert_string_equal(c->cause, want[i].cause);
        assert_true(c->to_version == want[i].to);
        assert_true((c->from_version == ROW_INT_ABSENT ? 0 : c->from_version) == want[i].from);
        assert_int_equal(*c->diff != '\0', want[i].diff);
    }
    const struct change_row *act = rows_get(ch, 3);
    assert_string_equal(act->actor, "alice");
    assert_true(act->audit_id == audit_id);
    assert_non_null(
        strstr(((const struct change_row *)rows_get(ch, 4))->diff, "+<memory>2</memory>"));
    g_autoptr(rows) audit = f->st->ops->audit_query(f->st, VM_A, 10, NULL);
    assert_int_equal(rows_len(audit), 1);
    const struct audit_row *au = rows_get(audit, 0);
    assert_string_equal(au->action, "setvcpus");
    assert_string_equal(au->result, "ok");
    assert_string_equal(au->actor, "alice");
}

/* A domain stopped behind kanri's back while an action that cannot stop it
 * (the balloon statistics period) runs on it: whichever sync sees the stop
 * — the action's own, or an event racing it — the change is external, not
 * the action's. */
static void test_stop_during_an_action_that_keeps_state(void **state)
{
    struct fx *f = *state;
    const struct driver_sink *s = f->sink;
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(1), true), NULL);
    s->domain(s->ctx, f->h1, dom_new(VM_B, "b", xml_v(1), true), NULL);
    f->drv.next_xml = g_strdup(xml_v(2));
    f->drv.stopped = true;
    for (int racing = 0; racing < 2; racing++) {
        f->drv.report_without_cause = racing;
        const char *uuid = racing ? VM_B : VM_A;
        struct action_request req;
        action_request_init(&req, ACTION_SET_BALLOON_PERIOD);
        action_set_int(&req, "period", 10);
        struct action_result res;
        action_result_init(&res);
        struct actor who = {.name = "kanrid", .token_id = 0};
        int64_t audit_id = 0;
        assert_int_equal(engine_action(f->e, f->h1, uuid, NULL, &req, "{}", &who, &res,
                                       &audit_id, NULL),
                         0);
        action_request_clear(&req);
        action_result_clear(&res);
        g_autoptr(rows) ch = changes_of(f, uuid);
        const struct change_row *newest = rows_get(ch, 0);
        assert_string_equal(newest->cause, "external");
        assert_null(newest->actor);
    }
    /* An action that stops a domain keeps its change (destroy). */
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(1), true), NULL);
    f->drv.report_without_cause = false;
    struct action_request req;
    action_request_init(&req, ACTION_DESTROY);
    struct action_result res;
    action_result_init(&res);
    struct actor who = {.name = "alice", .token_id = 7};
    int64_t audit_id = 0;
    assert_int_equal(
        engine_action(f->e, f->h1, VM_A, "a", &req, "{}", &who, &res, &audit_id, NULL), 0);
    action_request_clear(&req);
    action_result_clear(&res);
    g_autoptr(rows) ch = changes_of(f, VM_A);
    assert_string_equal(((const struct change_row *)rows_get(ch, 0))->cause, "action");
}

/* A persistent domain seen running with its inactive XML (as the driver
 * reads it), or shut off with XML its only definition. */
static struct domain_info *pdom_new(const char *uuid, const char *xml, const char *inactive)
{
    struct domain_info *d = dom_new(uuid, "p", xml, inactive != NULL);
    d->persistent = true;
    d->inactive_xml = g_strdup(inactive);
    return d;
}

static const struct change_row *persistent_change(const struct rows *ch, guint *ret_n)
{
    const struct change_row *newest = NULL;
    *ret_n = 0;
    for (guint i = 0; i < rows_len(ch); i++) {
        const struct change_row *c = rows_get(ch, i);
        if (g_strcmp0(c->track, "persistent") == 0 && (*ret_n)++ == 0)
            newest = c;
    }
    return newest;
}

/* `virsh desc VM "..." --config` on a running domain: a pending change on
 * the persistent track, settled when the domain stops (VM_A) or when its
 * live XML has it after a stop and start kanri did not see (VM_B). */
static void test_persistent_pending(void **state)
{
    struct fx *f = *state;
    const struct driver_sink *s = f->sink;
    const char *live1 = "<domain type='test' id='1'>\n  <name>p</name>\n</domain>\n";
    const char *p1 = "<domain type='test'>\n  <name>p</name>\n</domain>\n";
    const char *p2 = "<domain type='test'>\n  <name>p</name>\n"
                     "  <description>next boot</description>\n</domain>\n";
    const char *live2 = "<domain type='test' id='2'>\n  <name>p</name>\n"
                        "  <description>next boot</description>\n</domain>\n";
    const char *uuids[] = {VM_A, VM_B};
    for (int i = 0; i < 2; i++) {
        s->domain(s->ctx, f->h1, pdom_new(uuids[i], live1, p1), NULL); /* baseline */
        s->domain(s->ctx, f->h1, pdom_new(uuids[i], live1, p2), NULL);
        s->domain(s->ctx, f->h1, pdom_new(uuids[i], live1, p2), NULL); /* nothing new */
        g_autoptr(rows) ch = changes_of(f, uuids[i]);
        guint n;
        const struct change_row *c = persistent_change(ch, &n);
        assert_int_equal(n, 1);
        assert_true(c->pending && c->applied_at == 0);
        assert_true(c->from_version == 1 && c->to_version == 2);
        assert_string_equal(c->cause, "external");
        assert_non_null(strstr(c->diff, "+  <description>next boot</description>"));
        assert_int_equal(rows_len(ch), 2); /* the live track: only its creation */
    }
    g_autoptr(rows) vms =
        f->st->ops->vms_query(f->st, &(struct vm_filter){.host = "h1"}, 0, false, NULL);
    for (guint i = 0; i < rows_len(vms); i++)
        assert_int_equal(((const struct vm_row *)rows_get(vms, i))->pending_changes, 1);

    /* VM_A stops: its persistent definition is the live one now. */
    s->domain(s->ctx, f->h1, pdom_new(VM_A, p2, NULL), NULL);
    /* VM_B was stopped and started while kanri looked away. */
    s->domain(s->ctx, f->h1, pdom_new(VM_B, live2, p2), NULL);
    for (int i = 0; i < 2; i++) {
        g_autoptr(rows) ch = changes_of(f, uuids[i]);
        guint n;
        const struct change_row *c = persistent_change(ch, &n);
        assert_int_equal(n, 1);
        assert_true(!c->pending && c->applied_at > 0);
    }
    /* VM_A starts again with it: no new persistent change. */
    s->domain(s->ctx, f->h1, pdom_new(VM_A, live2, p2), NULL);
    g_autoptr(rows) ch = changes_of(f, VM_A);
    guint n;
    persistent_change(ch, &n);
    assert_int_equal(n, 1);
    g_autoptr(rows) vms2 =
        f->st->ops->vms_query(f->st, &(struct vm_filter){.host = "h1"}, 0, false, NULL);
    for (guint i = 0; i < rows_len(vms2); i++)
        assert_int_equal(((const struct vm_row *)rows_get(vms2, i))->pending_changes, 0);

    /* A change while shut off is the live track's alone. */
    const char *p3 = "<domain type='test'>\n  <name>p</name>\n</domain>\n";
    s->domain(s->ctx, f->h1, pdom_new(VM_A, p2, NULL), NULL);
    s->domain(s->ctx, f->h1, pdom_new(VM_A, p3, NULL), NULL);
    s->domain(s->ctx, f->h1, pdom_new(VM_A, live1, p3), NULL); /* started with it */
    g_autoptr(rows) ch3 = changes_of(f, VM_A);
    persistent_change(ch3, &n);
    assert_int_equal(n, 1);
}

/* An action whose host stopped answering is an error with its outcome
 * unknown; once that host's inventory has synced again, the audit entry
 * says what the domain turned out to be, and only then. */
static void test_unknown_outcome_is_rechecked(void **state)
{
    struct fx *f = *state;
    const struct driver_sink *s = f->sink;
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(1), true), NULL);
    s->domain(s->ctx, f->h1, dom_new(VM_B, "b", xml_v(1), true), NULL);
    s->inventory_synced(s->ctx, f->h1);
    f->drv.host_lost = true;
    struct actor who = {.name = "alice", .token_id = 7};
    int64_t ids[2];
    const char *vms[] = {VM_A, VM_B};
    for (int i = 0; i < 2; i++) {
        struct action_request req;
        action_request_init(&req, ACTION_SHUTDOWN);
        struct action_result res;
        action_result_init(&res);
        g_autoptr(GError) err = NULL;
        assert_int_equal(
            engine_action(f->e, f->h1, vms[i], NULL, &req, "{}", &who, &res, &ids[i], &err), -EIO);
        assert_true(g_error_matches(err, DRIVER_ERROR, DRIVER_ERR_UNAVAILABLE));
        action_request_clear(&req);
        action_result_clear(&res);
    }
    g_autoptr(rows) before = f->st->ops->audit_query(f->st, VM_A, 10, NULL);
    const struct audit_row *a = rows_get(before, 0);
    assert_string_equal(a->result, "error");
    assert_null(a->checked_state);
    /* Another host coming back says nothing about this one. */
    s->inventory_synced(s->ctx, f->h2);
    g_autoptr(rows) still = f->st->ops->audit_query(f->st, VM_A, 10, NULL);
    assert_null(((const struct audit_row *)rows_get(still, 0))->checked_state);
    /* h1 is back: A shut down after all, B is gone. */
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(1), false), NULL);
    const char *present[] = {VM_A, NULL};
    s->domains_present(s->ctx, f->h1, present, NULL);
    s->inventory_synced(s->ctx, f->h1);
    const char *want[] = {"shutoff", "gone"};
    for (int i = 0; i < 2; i++) {
        g_autoptr(rows) after = f->st->ops->audit_query(f->st, vms[i], 10, NULL);
        a = rows_get(after, 0);
        assert_true(a->id == ids[i]);
        assert_string_equal(a->checked_state, want[i]);
        assert_true(a->checked_at >= a->ended_at);
    }
    /* Checked once: the next sync does not write it again. */
    g_mutex_lock(&f->e->lock);
    assert_int_equal(f->e->rechecks->len, 0);
    g_mutex_unlock(&f->e->lock);
}

/* A round of host H with running VMS (uuids), each with a host sample at
 * T seconds whose CPU grew by 0.5 s a second. */
static void round_of(struct fx *f, int64_t h, const char *const *vms, int64_t t)
{
    struct round_report *r = round_report_new(h, t);
    for (size_t i = 0; vms[i]; i++) {
        struct host_sample s;
        host_sample_init(&s);
        s.host_id = h;
        s.uuid = g_strdup(vms[i]);
        s.time_us = t;
        s.dom_id = 1;
        s.state = 1;
        s.cpu_time_ns = (uint64_t)(t / 1000) / 2;
        s.vcpu_count = 1;
        s.vcpu_time_ns = s.cpu_time_ns;
        s.vcpu_delay_ns = 0;
        s.balloon_current = 512ULL << 20;
        s.balloon_maximum = 512ULL << 20;
        g_array_append_val(r->hosts, s);
        g_ptr_array_add(r->active, g_strdup(vms[i]));
    }
    r->have_node = true;
    r->node.domains_running = g_strv_length((char **)vms);
    f->sink->round(f->sink->ctx, r);
}

/* Counts rows straight from the database file, as another reader would. */
static int count_rows(struct fx *f, const char *sql)
{
    g_autofree char *path = g_build_filename(f->dir, "kanri.db", NULL);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static void test_rounds(void **state)
{
    struct fx *f = *state;
    const struct driver_sink *s = f->sink;
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(1), true), NULL);
    s->domain(s->ctx, f->h1, dom_new(VM_B, "b", xml_v(2), true), NULL);
    const char *both[] = {VM_A, VM_B, NULL};
    int64_t t0 = now_usec() - 40 * USEC_PER_SEC;
    round_of(f, f->h1, both, t0);
    int first_state_t = count_rows(f, "SELECT max(t) % 1000000000 FROM reconcile_state");
    int first_update = count_rows(f, "SELECT max(updated) % 1000000000 FROM findings");
    for (int i = 1; i < 4; i++)
        round_of(f, f->h1, both, t0 + i * 10 * USEC_PER_SEC);

    /* Every round: one R row per VM, one host row per VM, all written. */
    assert_int_equal(count_rows(f, "SELECT count(*) FROM reconciled_samples"), 8);
    assert_int_equal(count_rows(f, "SELECT count(*) FROM host_samples"), 8);
    assert_int_equal(count_rows(f, "SELECT count(*) FROM node_samples"), 4);
    /* No guest view at all: guest-view-missing opens once per VM and stays
     * one row, however many rounds report it. */
    g_autoptr(rows) open =
        f->st->ops->findings_query(f->st, "open", "guest-view-missing", NULL, 100, NULL);
    assert_int_equal(rows_len(open), 2);
    /* Its row and its state were written when it opened, not every round
     * after. */
    assert_int_equal(count_rows(f, "SELECT count(*) FROM reconcile_state"), 2);
    assert_int_equal(count_rows(f, "SELECT max(t) % 1000000000 FROM reconcile_state"),
                     first_state_t);
    assert_int_equal(count_rows(f, "SELECT max(updated) % 1000000000 FROM findings"), first_update);
    g_autoptr(GHashTable) states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    assert_int_equal(f->st->ops->states_load(f->st, f->h1, states, NULL), 0);
    assert_int_equal(g_hash_table_size(states), 2);

    /* The current view comes from memory; nothing kept yet. */
    g_autoptr(vm_view) v = engine_view(f->e, VM_A);
    assert_non_null(v);
    assert_true(v->n_values >= 10);
    assert_string_equal(v->values[0].resource, "cpu.busy");
    /* The round ran quietly; the view still says why, in words. */
    assert_non_null(v->values[0].reason);
    assert_non_null(strstr(v->values[0].reason, "no guest source"));
    struct vm_view *kept = NULL;
    assert_int_equal(f->st->ops->view_get(f->st, VM_B, &kept, NULL), -ENOENT);

    /* B stops: it leaves the round, its view is kept, its figures go. */
    const char *only_a[] = {VM_A, NULL};
    round_of(f, f->h1, only_a, t0 + 40 * USEC_PER_SEC);
    assert_null(engine_view(f->e, VM_B));
    assert_int_equal(f->st->ops->view_get(f->st, VM_B, &kept, NULL), 0);
    assert_true(kept->n_values >= 10);
    assert_true(kept->host_id == f->h1);
    vm_view_free(kept);

    g_autoptr(GString) prom = g_string_new(NULL);
    engine_metrics_prometheus(f->e, prom);
    assert_non_null(strstr(prom->str, "kanri_collect_rounds_total{host=\"h1\"} 5"));
    assert_non_null(strstr(prom->str, "kanri_vm_balloon_current_bytes{host=\"h1\",vm=\"a\""));
    /* Domain type "test": a VM, as every kanri_vm_ series says. */
    assert_non_null(strstr(prom->str,
                           "kanri_vm_balloon_current_bytes{host=\"h1\",vm=\"a\",uuid=\"" VM_A
                           "\",kind=\"vm\",view=\"host\"}"));
    assert_null(strstr(prom->str, "vm=\"b\""));
    assert_non_null(strstr(prom->str, "rule=\"guest-view-missing\""));
}

/* GET /api/v1/fleet's engine half: the inventory rows joined with the
 * latest view — each VM's R as engine_view() has it, its open findings as
 * the store lists them, each host's state — summed per host. */
static void test_fleet(void **state)
{
    struct fx *f = *state;
    const struct driver_sink *s = f->sink;
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(1), true), NULL);
    s->domain(s->ctx, f->h1, dom_new(VM_B, "b", xml_v(2), true), NULL);
    s->domain(s->ctx, f->h1, dom_new(VM_C, "c", xml_v(3), false), NULL);
    s->inventory_synced(s->ctx, f->h1);
    s->host_state(s->ctx, f->h2, HOST_UNREACHABLE, "connection refused");
    const char *both[] = {VM_A, VM_B, NULL};
    int64_t t0 = now_usec() - 40 * USEC_PER_SEC;
    for (int i = 0; i < 4; i++)
        round_of(f, f->h1, both, t0 + i * 10 * USEC_PER_SEC);
    engine_ops_flush(f->e);

    g_autoptr(rows) hosts = f->st->ops->hosts_query(f->st, NULL, NULL);
    g_autoptr(rows) vms = f->st->ops->vms_query(f->st, NULL, 0, false, NULL);
    g_autoptr(rows) pools = f->st->ops->pools_query(f->st, NULL, NULL);
    g_autoptr(fleet) fl = engine_fleet(f->e, hosts, vms, pools, true);
    assert_int_equal(fl->hosts->len, 2);
    assert_int_equal(fl->vms->len, 3);

    double cores = 0;
    unsigned findings = 0;
    for (guint i = 0; i < fl->vms->len; i++) {
        const struct fleet_vm *v = &g_array_index(fl->vms, struct fleet_vm, i);
        g_autoptr(vm_view) view = engine_view(f->e, v->uuid);
        g_autoptr(rows) open = f->st->ops->findings_query(f->st, "open", NULL, v->uuid, 100, NULL);
        assert_int_equal(fleet_vm_findings_open(v), rows_len(open));
        findings += rows_len(open);
        if (!view) { /* C never ran: no R */
            assert_string_equal(v->name, "c");
            assert_int_equal(v->t_us, 0);
            assert_true(isnan(v->cpu_demand_pct));
            continue;
        }
        assert_true(v->t_us == view->time_us);
        assert_string_equal(view->values[RC_CPU_DEMAND].resource, "cpu.demand");
        assert_true(v->cpu_demand_pct == view->values[RC_CPU_DEMAND].r);
        assert_true(v->r_vcpus == 1);
        cores += v->cpu_demand_pct / 100;
        /* No guest view on this driver: mem.used has no R, and says so. */
        assert_true(isnan(v->mem_used_bytes) && isnan(view->values[RC_MEM_USED].r));
        assert_int_equal(fleet_vm_worst(v), RECONCILE_WARNING);
    }
    assert_true(findings >= 2);

    const struct fleet_host *h1 = &g_array_index(fl->hosts, struct fleet_host, 0);
    const struct fleet_host *h2 = &g_array_index(fl->hosts, struct fleet_host, 1);
    assert_string_equal(h1->name, "h1");
    assert_string_equal(h1->state, "connected");
    assert_null(h1->reason);
    assert_int_equal(h1->vms_total, 3);
    assert_int_equal(h1->vms_running, 2);
    assert_int_equal(h1->cpu_demand_vms, 2);
    assert_true(fabs(h1->cpu_demand_cores - cores) < 1e-9);
    assert_int_equal(h1->mem_used_vms, 0);
    assert_int_equal(h1->findings[RECONCILE_WARNING], findings);
    assert_string_equal(h2->state, "unreachable");
    assert_string_equal(h2->reason, "connection refused");
    assert_int_equal(h2->vms_total, 0);

    /* Incidents: the same count as /metrics', split by host. */
    uint64_t open[SEV_N], events, delivered, failed;
    engine_ops_counts(f->e, open, &events, &delivered, &failed);
    uint64_t by_host[SEV_N] = {0};
    for (int sv = 0; sv < SEV_N; sv++) {
        assert_true(fl->incidents[sv] == open[sv]);
        by_host[sv] = h1->incidents[sv] + h2->incidents[sv];
    }
    assert_true(by_host[SEV_WARNING] >= 2);
    assert_true(h2->incidents[SEV_CRITICAL] == 1); /* host-unreachable */
    assert_true(memcmp(by_host, open, sizeof(open)) == 0);

    /* One host: its VMs only, totals its own. */
    g_autoptr(rows) h2rows = f->st->ops->hosts_query(f->st, "h2", NULL);
    g_autoptr(rows) h2vms =
        f->st->ops->vms_query(f->st, &(struct vm_filter){.host = "h2"}, 0, false, NULL);
    g_autoptr(fleet) one = engine_fleet(f->e, h2rows, h2vms, NULL, false);
    assert_int_equal(one->hosts->len, 1);
    assert_int_equal(one->vms->len, 0);
    assert_int_equal(one->findings[RECONCILE_WARNING], 0);
    assert_true(one->incidents[SEV_WARNING] == 0 && one->incidents[SEV_CRITICAL] == 1);
}

static void test_view_status_changes_only(void **state)
{
    struct fx *f = *state;
    const struct driver_sink *s = f->sink;
    const char *a[] = {VM_A, NULL};
    int64_t t0 = now_usec();
    for (int i = 0; i < 3; i++) {
        s->view_status(s->ctx, f->h1, VM_A, "guest-memory", false, "no stats yet");
        round_of(f, f->h1, a, t0 + i * USEC_PER_SEC);
    }
    s->view_status(s->ctx, f->h1, VM_A, "guest-memory", true, NULL);
    round_of(f, f->h1, a, t0 + 3 * USEC_PER_SEC);
    g_autoptr(rows) st = f->st->ops->view_status_query(f->st, VM_A, NULL);
    assert_int_equal(rows_len(st), 1);
    const struct view_status_row *r = rows_get(st, 0);
    assert_true(r->available);
    assert_null(r->reason);
    assert_true(r->since >= t0 - USEC_PER_SEC);
}

static void test_ingest_keeps_newest(void **state)
{
    struct fx *f = *state;
    const char *a[] = {VM_A, NULL};
    int64_t now = now_usec();
    for (int i = 0; i < 2; i++) {
        struct guest_sample g;
        guest_sample_init(&g);
        g.machine_uuid = g_strdup(VM_A);
        g.source = "kanri-guestd";
        /* The second arrives later but was taken earlier: a backfill. */
        g.time_us = now - (i == 0 ? 1 : 600) * USEC_PER_SEC;
        g.received_us = now;
        g.seq = (uint64_t)(10 - i);
        g.mem_total = i == 0 ? 1000 : 2000;
        bool dup = true;
        assert_int_equal(engine_ingest(f->e, &g, NULL, &dup, NULL), 0);
        assert_false(dup);
        assert_int_equal(engine_ingest(f->e, &g, NULL, &dup, NULL), 0);
        assert_true(dup);
        guest_sample_clear(&g);
    }
    round_of(f, f->h1, a, now);
    g_autoptr(GString) prom = g_string_new(NULL);
    engine_metrics_prometheus(f->e, prom);
    assert_non_null(
        strstr(prom->str, "source=\"kanri-guestd\"} 1000\n")); /* memory_total of the newest */
    assert_null(strstr(prom->str, "source=\"kanri-guestd\"} 2000\n"));
}

static void ingest_one(struct fx *f, int64_t time_us, int64_t received_us, uint64_t seq,
                       uint64_t mem)
{
    struct guest_sample g;
    guest_sample_init(&g);
    g.machine_uuid = g_strdup(VM_A);
    g.source = "kanri-guestd";
    g.time_us = time_us;
    g.received_us = received_us;
    g.seq = seq;
    g.mem_total = mem;
    assert_int_equal(engine_ingest(f->e, &g, NULL, NULL, NULL), 0);
    guest_sample_clear(&g);
}

static bool view_has_mem(struct fx *f, uint64_t mem)
{
    g_autoptr(GString) prom = g_string_new(NULL);
    engine_metrics_prometheus(f->e, prom);
    g_autofree char *want =
        g_strdup_printf("source=\"kanri-guestd\"} %" G_GUINT64_FORMAT "\n", mem);
    return strstr(prom->str, want) != NULL;
}

static void test_guest_clock_never_orders(void **state)
{
    struct fx *f = *state;
    const char *a[] = {VM_A, NULL};
    int64_t now = now_usec();
    const int64_t year = 365LL * 86400 * USEC_PER_SEC;
    /* One document dated a year ahead (a guest clock wrong once), then the
     * real ones: they are newer, by the agent's sequence. */
    ingest_one(f, now + year, now - 20 * USEC_PER_SEC, 1, 1000);
    ingest_one(f, now - 10 * USEC_PER_SEC, now - 10 * USEC_PER_SEC, 2, 2000);
    round_of(f, f->h1, a, now - 5 * USEC_PER_SEC);
    assert_true(view_has_mem(f, 2000));
    ingest_one(f, now, now, 3, 3000);
    round_of(f, f->h1, a, now);
    assert_true(view_has_mem(f, 3000));
}

/* The history row of a reconciliation holds each resource's R, H and G
 * under the names the history serves (<resource>, _h, _g), CPU shares in
 * milli-percent; an absent side stays absent whatever the others hold. */
static void test_reconciled_sample_sides(void **state)
{
    (void)state;
    struct reconcile_result res = {0};
    for (int i = 0; i < RC_N; i++) {
        res.values[i].r = 100 + i;
        res.values[i].h = 200 + i + 0.25;
        res.values[i].g = 300 + i;
    }
    /* Absent sides beside present ones: none may be filled from R or from
     * the other side. */
    res.values[RC_MEM_SWAP].h = RECONCILE_ABSENT;   /* the host never has it */
    res.values[RC_CPU_DEMAND].g = RECONCILE_ABSENT; /* R from the host alone */
    res.values[RC_MEM_USED].h = RECONCILE_ABSENT;   /* R from the guest alone */
    res.values[RC_DISK_IO].r = RECONCILE_ABSENT;    /* both sides, no R */
    res.values[RC_NET_TX].g = -1; /* kept as 0, like R */
    struct reconcile_config cfg;
    reconcile_config_init(&cfg);
    struct reconciled_sample rs;
    engine_reconciled_sample(&res, &cfg, &rs);
    const struct series_kind *k = &series_vm_reconciled;
    assert_int_equal(k->n_metrics, 3 * RC_N);
    for (int i = 0; i < RC_N; i++) {
        g_autofree char *base = g_strdelimit(g_strdup(reconcile_resource_name(i)), ".", '_');
        bool cpu = i <= RC_CPU_DEMAND;
        const char *suffix[] = {"", "_h", "_g"};
        double want[] = {res.values[i].r, res.values[i].h, res.values[i].g};
        for (int side = 0; side < 3; side++) {
            g_autofree char *name = g_strconcat(base, suffix[side], NULL);
            int mi = series_metric_find(k, name);
            if (mi < 0)
                fail_msg("no metric %s", name);
            assert_false(k->metrics[mi].counter);
            if (side > 0 && k->metrics[mi].prom)
                fail_msg("%s is exported to Prometheus", name);
            uint64_t v = series_sample_value(k, (size_t)mi, &rs);
            uint64_t expect = isnan(want[side]) ? SAMPLE_ABSENT
                              : want[side] < 0  ? 0
                              : cpu             ? (uint64_t)llround(want[side] * 1000)
                                                : (uint64_t)llround(want[side]);
            if (v != expect)
                fail_msg("%s: %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT, name, v, expect);
        }
    }
    reconciled_sample_clear(&rs);

    /* A side older than its staleness limit is no figure of the round: a
     * gap in its history (the balloon's limit for the balloon's G), while
     * R and the fresh side stay. */
    res.values[RC_CPU_BUSY].g_age_us = cfg.guest_stale_us;
    res.values[RC_MEM_TOTAL].g_source = "balloon";
    res.values[RC_MEM_TOTAL].g_age_us = cfg.balloon_stale_us + 1;
    res.values[RC_MEM_USED].g_source = "balloon";
    res.values[RC_MEM_USED].g_age_us = cfg.balloon_stale_us - 1;
    res.values[RC_NET_RX].h_age_us = cfg.host_stale_us;
    res.values[RC_DISK_USED].h_age_us = -1; /* absent */
    engine_reconciled_sample(&res, &cfg, &rs);
    assert_true(rs.cpu_busy_g == SAMPLE_ABSENT && rs.cpu_busy_h != SAMPLE_ABSENT);
    assert_true(rs.cpu_busy != SAMPLE_ABSENT);
    assert_true(rs.mem_total_g == SAMPLE_ABSENT && rs.mem_used_g != SAMPLE_ABSENT);
    assert_true(rs.net_rx_h == SAMPLE_ABSENT && rs.net_rx_g != SAMPLE_ABSENT);
    assert_true(rs.disk_used_h == SAMPLE_ABSENT);
    reconciled_sample_clear(&rs);
    /* Without a configuration every side is kept as reported. */
    engine_reconciled_sample(&res, NULL, &rs);
    assert_true(rs.cpu_busy_g != SAMPLE_ABSENT && rs.net_rx_h != SAMPLE_ABSENT);
    reconciled_sample_clear(&rs);
}

static void test_guest_is_newer(void **state)
{
    (void)state;
    struct guest_sample a, b;
    guest_sample_init(&a);
    guest_sample_init(&b);
    const int64_t t = 1800000000LL * USEC_PER_SEC;
    /* kanri-guestd: by sequence, whatever the clocks say. */
    a.seq = 5, a.time_us = t + 86400 * USEC_PER_SEC, a.received_us = t;
    b.seq = 6, b.time_us = t, b.received_us = t + USEC_PER_SEC;
    assert_true(engine_guest_is_newer(GS_GUESTD, &b, &a));
    assert_false(engine_guest_is_newer(GS_GUESTD, &a, &b));
    /* A backfilled older document arriving later is not newer ... */
    a.seq = 4, a.received_us = t + 2 * USEC_PER_SEC;
    assert_false(engine_guest_is_newer(GS_GUESTD, &a, &b));
    /* ... but a sequence that started again takes over after a while. */
    a.seq = 1, a.received_us = t + GUEST_SEQ_RESTART_US + 2 * USEC_PER_SEC;
    assert_true(engine_guest_is_newer(GS_GUESTD, &a, &b));
    /* qga (polled by kanrid): by receipt, never by the guest's clock. */
    a.seq = b.seq = SAMPLE_ABSENT;
    a.time_us = t + 86400 * USEC_PER_SEC, a.received_us = t;
    b.time_us = t, b.received_us = t + USEC_PER_SEC;
    assert_true(engine_guest_is_newer(GS_QGA, &b, &a));
    assert_false(engine_guest_is_newer(GS_QGA, &a, &b));
    /* balloon: QEMU's stamp on the host's clock. */
    assert_true(engine_guest_is_newer(GS_BALLOON, &a, &b));
}

/* ---- many threads at once ---- */

/* In kanrid the sink is called from every host's worker and collector
 * threads and the guest pollers, engine_ingest() and the readers from
 * API threads, all at once.  Here one thread plays each part, each doing
 * its work MT_N times while the test's own thread reads (the latest view,
 * /metrics, readiness) until they are done.  The totals checked at the
 * end say nothing was lost; the point of the test is that `make
 * check-sanitize` runs it under ThreadSanitizer, which sees every access
 * the engine makes under all of these callers. */
#define MT_N 30

struct mt {
    struct fx *f;
    int64_t t0;
    gint running; /* feeder threads not finished */
    gint errors;  /* calls that failed (cmocka cannot assert off the main thread) */
};

/* Host h1's collector: rounds of A and B, now and then one dropped. */
static gpointer mt_rounds(gpointer p)
{
    struct mt *m = p;
    const char *vms[] = {VM_A, VM_B, NULL};
    for (int i = 0; i < MT_N; i++) {
        round_of(m->f, m->f->h1, vms, m->t0 + i * 10 * USEC_PER_SEC);
        if (i % 10 == 9)
            m->f->sink->round_dropped(m->f->sink->ctx, m->f->h1, 1);
    }
    g_atomic_int_dec_and_test(&m->running);
    return NULL;
}

/* Host h2's worker and collector: C's definition changes every time (an
 * external change, and every tenth an audited action), and C is in
 * every round of h2. */
static gpointer mt_inventory(gpointer p)
{
    struct mt *m = p;
    struct fx *f = m->f;
    const struct driver_sink *s = f->sink;
    const char *vms[] = {VM_C, NULL};
    s->host_state(s->ctx, f->h2, HOST_CONNECTED, NULL);
    for (int i = 0; i < MT_N; i++) {
        g_autofree char *xml = g_strdup_printf("<domain><name>c</name><vcpu>%d</vcpu></domain>", i);
        s->domain(s->ctx, f->h2, dom_new(VM_C, "c", xml, true), NULL);
        if (i == 0)
            s->inventory_synced(s->ctx, f->h2);
        if (i % 10 == 5) {
            struct action_request req;
            action_request_init(&req, ACTION_SUSPEND);
            struct action_result res;
            action_result_init(&res);
            struct actor who = {.name = "mt", .token_id = 1};
            int64_t audit_id = 0;
            if (engine_action(f->e, f->h2, VM_C, "c", &req, "{}", &who, &res, &audit_id, NULL) < 0)
                g_atomic_int_inc(&m->errors);
            action_result_clear(&res);
            action_request_clear(&req);
        }
        round_of(f, f->h2, vms, m->t0 + i * 10 * USEC_PER_SEC);
    }
    g_atomic_int_dec_and_test(&m->running);
    return NULL;
}

/* h1's guest pollers: the agent's samples of A, its poll results and
 * the availability of A's guest memory view flipping. */
static gpointer mt_guests(gpointer p)
{
    struct mt *m = p;
    const struct driver_sink *s = m->f->sink;
    for (int i = 0; i < MT_N; i++) {
        struct guest_sample *g = g_new(struct guest_sample, 1);
        guest_sample_init(g);
        g->machine_uuid = g_strdup(VM_A);
        g->source = "qga";
        g->time_us = m->t0 + i * 10 * USEC_PER_SEC + 5 * USEC_PER_SEC;
        g->received_us = g->time_us;
        g->mem_total = 1u << 30;
        s->guest_sample(s->ctx, m->f->h1, g);
        g_free(g); /* its contents were moved */
        s->agent_poll(s->ctx, m->f->h1, i % 3 ? AGENT_POLL_OK : AGENT_POLL_FAILED);
        s->view_status(s->ctx, m->f->h1, VM_A, "guest-memory", i % 2, i % 2 ? NULL : "no stats");
    }
    g_atomic_int_dec_and_test(&m->running);
    return NULL;
}

/* API threads: kanri-guestd pushes of D, a machine no host reports. */
static gpointer mt_ingest(gpointer p)
{
    struct mt *m = p;
    for (int i = 0; i < MT_N; i++) {
        struct guest_sample g;
        guest_sample_init(&g);
        g.machine_uuid = g_strdup(VM_D);
        g.source = "kanri-guestd";
        g.time_us = m->t0 + i * USEC_PER_SEC;
        g.received_us = now_usec();
        g.seq = (uint64_t)i + 1;
        g.mem_total = 2000;
        if (engine_ingest(m->f->e, &g, NULL, NULL, NULL) < 0)
            g_atomic_int_inc(&m->errors);
        guest_sample_clear(&g);
    }
    g_atomic_int_dec_and_test(&m->running);
    return NULL;
}

static void test_many_threads(void **state)
{
    struct fx *f = *state;
    f->sink->host_state(f->sink->ctx, f->h1, HOST_CONNECTED, NULL);
    f->sink->domain(f->sink->ctx, f->h1, dom_new(VM_A, "a", xml_v(1), true), NULL);
    f->sink->domain(f->sink->ctx, f->h1, dom_new(VM_B, "b", xml_v(2), true), NULL);
    f->sink->inventory_synced(f->sink->ctx, f->h1);
    f->drv.next_xml = g_strdup("<domain><name>c</name><vcpu>99</vcpu></domain>");

    struct mt m = {.f = f, .t0 = now_usec() - MT_N * 10 * USEC_PER_SEC, .running = 4};
    GThreadFunc parts[] = {mt_rounds, mt_inventory, mt_guests, mt_ingest};
    GThread *threads[G_N_ELEMENTS(parts)];
    for (size_t i = 0; i < G_N_ELEMENTS(parts); i++)
        threads[i] = g_thread_new("feeder", parts[i], &m);
    unsigned reads = 0;
    do {
        g_autoptr(vm_view) v = engine_view(f->e, reads % 2 ? VM_A : VM_C);
        g_autoptr(GString) prom = g_string_new(NULL);
        engine_metrics_prometheus(f->e, prom);
        g_autoptr(rows) hosts = f->st->ops->hosts_query(f->st, NULL, NULL);
        g_autoptr(rows) vms = f->st->ops->vms_query(f->st, NULL, 0, false, NULL);
        g_autoptr(fleet) fl = hosts && vms ? engine_fleet(f->e, hosts, vms, NULL, true) : NULL;
        g_autofree char *why = NULL;
        engine_ready(f->e, &why, NULL);
        engine_loading(f->e, -1);
        reads++;
    } while (g_atomic_int_get(&m.running) > 0);
    for (size_t i = 0; i < G_N_ELEMENTS(parts); i++)
        g_thread_join(threads[i]);

    assert_int_equal(g_atomic_int_get(&m.errors), 0);
    assert_true(reads > 0);
    /* Guest samples polled after h1's last round wait for its next one. */
    const char *both[] = {VM_A, VM_B, NULL};
    round_of(f, f->h1, both, m.t0 + MT_N * 10 * USEC_PER_SEC);

    g_autoptr(GString) prom = g_string_new(NULL);
    engine_metrics_prometheus(f->e, prom);
    g_autofree char *h1_rounds =
        g_strdup_printf("kanri_collect_rounds_total{host=\"h1\"} %d\n", MT_N + 1);
    g_autofree char *h2_rounds =
        g_strdup_printf("kanri_collect_rounds_total{host=\"h2\"} %d\n", MT_N);
    g_autofree char *dropped =
        g_strdup_printf("kanri_collect_rounds_dropped_total{host=\"h1\"} %d\n", MT_N / 10);
    assert_non_null(strstr(prom->str, h1_rounds));
    assert_non_null(strstr(prom->str, h2_rounds));
    assert_non_null(strstr(prom->str, dropped));
    /* Each round went through the group commit once, in as many
     * transactions as it took (h1's and h2's rounds together when they
     * came together). */
    struct engine_writer_stats ws;
    engine_writer_stats(f->e, &ws);
    assert_int_equal(ws.items, 2 * MT_N + 1);
    assert_true(ws.groups >= 1 && ws.groups <= ws.items);
    /* Every round of every VM, every pushed and every polled guest sample,
     * every definition of C and its audited actions are stored. */
    assert_int_equal(count_rows(f, "SELECT count(*) FROM reconciled_samples"), 3 * MT_N + 2);
    assert_int_equal(
        count_rows(f, "SELECT count(*) FROM guest_samples WHERE source = 'kanri-guestd'"), MT_N);
    assert_int_equal(count_rows(f, "SELECT count(*) FROM guest_samples WHERE source = 'qga'"),
                     MT_N);
    assert_int_equal(count_rows(f, "SELECT count(*) FROM audit"), MT_N / 10);
    g_autoptr(rows) ch = changes_of(f, VM_C);
    assert_true(rows_len(ch) >= MT_N);
    g_autoptr(vm_view) a = engine_view(f->e, VM_A);
    assert_non_null(a);
    assert_true(engine_ready(f->e, NULL, NULL));
}

/* ---- the policies' stage ---- */

/* A round of H with VM_A: its balloon at BALLOON on the host side, the
 * guest's balloon driver reporting AVAIL of it available, the host with
 * 1 GiB of 8 GiB free. */
static void policy_round(struct fx *f, int64_t h, uint64_t balloon, uint64_t avail)
{
    int64_t t = now_usec();
    struct round_report *r = round_report_new(h, t);
    struct host_sample s;
    host_sample_init(&s);
    s.host_id = h;
    s.uuid = g_strdup(VM_A);
    s.time_us = t;
    s.dom_id = 1;
    s.state = 1;
    s.vcpu_count = 1;
    s.balloon_current = balloon;
    s.balloon_maximum = 512ULL << 20;
    g_array_append_val(r->hosts, s);
    g_ptr_array_add(r->active, g_strdup(VM_A));
    struct guest_sample g;
    guest_sample_init(&g);
    g.machine_uuid = g_strdup(VM_A);
    g.source = guest_source_static("balloon");
    g.time_us = g.received_us = t;
    g.mem_total = balloon;
    g.mem_available = avail;
    g.mem_free = avail;
    g.swap_in_pages = g.swap_out_pages = 0;
    g_array_append_val(r->balloons, g);
    r->have_node = true;
    r->node.domains_running = 1;
    r->node.mem_total = 8ULL << 30;
    r->node.mem_free = 1ULL << 30;
    r->node.mem_buffers = r->node.mem_cached = 0;
    f->sink->round(f->sink->ctx, r);
}

/* VM_A's memory decisions, newest first. */
static struct rows *decisions_of(struct fx *f)
{
    struct store_decision_query q = {
        .vm_uuid = VM_A, .policy = "memory", .include_none = true, .limit = 100};
    struct rows *all = f->st->ops->decisions_query(f->st, &q, NULL);
    assert_non_null(all);
    return all;
}

/* The newest of LIST of RULE (any: NULL), or NULL; *ret_n: how many. */
static struct decision_row *newest(struct rows *list, const char *rule, guint *ret_n)
{
    struct decision_row *found = NULL;
    guint n = 0;
    for (guint i = 0; i < rows_len(list); i++) {
        struct decision_row *d = rows_get(list, i);
        if (!rule || g_strcmp0(d->rule, rule) == 0) {
            found = found ? found : d;
            n++;
        }
    }
    if (ret_n)
        *ret_n = n;
    return found;
}

/* Waits (feeding rounds built by ROUND) until the decision of RULE is in
 * STATE: the policies act on their own pool. */
static struct decision_row *wait_decision(struct fx *f, const char *rule, const char *state,
                                          uint64_t balloon, uint64_t avail, struct rows **keep)
{
    for (int i = 0; i < 1000; i++) {
        g_autoptr(rows) d = decisions_of(f);
        struct decision_row *x = newest(d, rule, NULL);
        if (x && g_strcmp0(x->state, state) == 0) {
            *keep = g_steal_pointer(&d);
            return x;
        }
        policy_round(f, f->h1, balloon, avail);
        g_usleep(10000);
    }
    fail_msg("no %s decision in state %s", rule, state);
    return NULL;
}

/* An enforced shrink that leaves the guest pressed is judged worse one
 * interval later, undone (the balloon set back) and the policy paused for
 * the VM, with an event; a person resumes it. */
static void test_policy_undo_and_pause(void **state)
{
    struct fx *f = *state;
    const struct driver_sink *s = f->sink;
    f->drv.next_xml = g_strdup(xml_v(1));
    s->domain(s->ctx, f->h1, dom_new(VM_A, "a", xml_v(1), true), NULL);
    s->host_state(s->ctx, f->h1, HOST_CONNECTING, NULL);
    s->inventory_synced(s->ctx, f->h1);

    /* Idle: 400 of 512 MiB available, the host far under its target. */
    g_autoptr(rows) keep1 = NULL;
    struct decision_row *shrink =
        wait_decision(f, "host-free-below-target", "done", 512ULL << 20, 400ULL << 20, &keep1);
    assert_string_equal(shrink->action, "set-memory");
    assert_string_equal(shrink->mode, "enforce");
    assert_true(shrink->audit_id > 0);
    assert_non_null(strstr(shrink->params, "\"previous_bytes\": 536870912"));
    g_autoptr(rows) audit = f->st->ops->audit_query(f->st, NULL, 10, NULL);
    assert_string_equal(((struct audit_row *)rows_get(audit, 0))->actor, "policy:memory");

    /* The balloon got there, and the guest is now pressed (5 MiB of it
     * available): worse, undone, paused. */
    uint64_t to = 0;
    const char *m = strstr(shrink->params, "\"memory_bytes\": ");
    assert_non_null(m);
    to = g_ascii_strtoull(m + strlen("\"memory_bytes\": "), NULL, 10);
    assert_true(to > (112ULL << 20) && to < (512ULL << 20));
    g_autoptr(rows) keep2 = NULL;
    struct decision_row *undo = wait_decision(f, "undo", "done", to, 5ULL << 20, &keep2);
    assert_true(undo->undo_of == shrink->id);
    assert_non_null(strstr(undo->params, "\"memory_bytes\": 536870912"));
    g_autoptr(rows) again = decisions_of(f);
    struct decision_row *judged = newest(again, "host-free-below-target", NULL);
    assert_int_equal(judged->id, shrink->id);
    assert_string_equal(judged->verdict, "worse");
    assert_string_equal(judged->state, "undone");
    assert_non_null(judged->observed);

    /* Paused: kept in the store, said in an event, and nothing more is
     * decided for the VM while the host stays under its target. */
    g_autoptr(rows) pauses = f->st->ops->policy_pauses_query(f->st, NULL);
    assert_int_equal(rows_len(pauses), 1);
    assert_string_equal(((struct policy_pause_row *)rows_get(pauses, 0))->vm_uuid, VM_A);
    engine_ops_flush(f->e);
    struct store_event_query eq = {.kind = "policy.paused", .limit = 10};
    g_autoptr(rows) evs = f->st->ops->events_query(f->st, &eq, NULL);
    assert_int_equal(rows_len(evs), 1);
    policy_round(f, f->h1, 512ULL << 20, 400ULL << 20);
    g_autoptr(rows) after = decisions_of(f);
    guint n_paused = 0, n_actions = 0;
    newest(after, "paused", &n_paused);
    assert_int_equal(n_paused, 1); /* said once, not every round */
    for (guint i = 0; i < rows_len(after); i++)
        n_actions += g_strcmp0(((struct decision_row *)rows_get(after, i))->action, "none") != 0;
    assert_int_equal(n_actions, 2);

    /* Resumed by a person: the policy acts on it again. */
    g_autoptr(GError) err = NULL;
    assert_int_equal(engine_policy_resume(f->e, "memory", VM_A, &err), 0);
    assert_int_equal(engine_policy_resume(f->e, "memory", VM_A, &err), -ENOENT);
    g_autoptr(rows) keep3 = NULL;
    struct decision_row *next =
        wait_decision(f, "host-free-below-target", "done", 512ULL << 20, 400ULL << 20, &keep3);
    assert_true(next->id > undo->id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_readiness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attribution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_an_action_that_keeps_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_persistent_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_outcome_is_rechecked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fleet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_status_changes_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_keeps_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_clock_never_orders, setup, teardown),
        cmocka_unit_test(test_guest_is_newer),
        cmocka_unit_test(test_reconciled_sample_sides),
        cmocka_unit_test_setup_teardown(test_many_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_undo_and_pause, setup_policy, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
