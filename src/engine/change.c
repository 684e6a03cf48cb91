/*
 * Change requests (docs/provisioning.md): created, stepped (submit,
 * approve, reject, cancel) and executed by kanrid inside their window.
 *
 * The rules are the pure provision/change; the store keeps the request
 * and moves its state only from the state the caller saw.  Execution runs
 * on one thread of its own, on the leader of a shared store, one request
 * at a time: per batch (a canary first when asked), each VM's definition
 * is saved (a snapshot where its disks take one, else its persistent
 * definition), its actions run through engine_action() as
 * "change-request #ID" (so the audit trail and every change record they
 * cause name the request), then the checks are waited for; the first VM
 * whose actions or checks fail is rolled back with the rest of its batch,
 * and the rollout stops there.
 */
#include "config.h"

#include "engine/engine-private.h"

#include "basic/util.h"
#include "provision/change.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#define TICK_US       (1 * USEC_PER_SEC)
#define CHECK_POLL_US (500 * USEC_PER_MSEC)

struct changes {
    GThread *thread;
    GMutex lock;
    GCond wake;
    bool quit, poke;
};

static bool quitting(struct changes *c)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&c->lock);
    return c->quit;
}

/* Sleeps up to US, or until poked or asked to quit; false when quitting. */
static bool nap(struct changes *c, int64_t us)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&c->lock);
    int64_t until = g_get_monotonic_time() + us;
    while (!c->quit && !c->poke && g_cond_wait_until(&c->wake, &c->lock, until))
        ;
    c->poke = false;
    return !c->quit;
}

/* ---- steps asked over the API ---- */

static struct change_request_row *request_get(struct engine *e, int64_t id, struct rows **ret_rows,
                                              GError **error)
{
    GError *serr = NULL;
    struct rows *r = e->store->ops->change_requests_query(e->store, id, NULL, &serr);
    if (!r) {
        g_set_error(error, ENGINE_OPS_ERROR, ENGINE_OPS_IO, "%s", serr->message);
        g_error_free(serr);
        return NULL;
    }
    if (rows_len(r) == 0) {
        rows_free(r);
        g_set_error(error, ENGINE_OPS_ERROR, ENGINE_OPS_NOT_FOUND,
                    "no change request %" G_GINT64_FORMAT, id);
        return NULL;
    }
    *ret_rows = r;
    return rows_get(r, 0);
}

int engine_change_create(struct engine *e, const struct change_request_row *c,
                         struct change_vm_row *vms, size_t n, int64_t *ret_id, GError **error)
{
    g_autofree unsigned *batch = g_new0(unsigned, MAX(n, 1));
    change_batches((unsigned)n, c->canary, (unsigned)c->batch, batch);
    for (size_t i = 0; i < n; i++)
        vms[i].batch = batch[i];
    GError *serr = NULL;
    if (e->store->ops->change_request_add(e->store, c, vms, n, ret_id, &serr) < 0) {
        g_set_error(error, ENGINE_OPS_ERROR,
                    g_error_matches(serr, STORE_ERROR, STORE_ERROR_INVALID) ? ENGINE_OPS_INVALID
                                                                            : ENGINE_OPS_IO,
                    "%s", serr->message);
        g_error_free(serr);
        return -EIO;
    }
    return 0;
}

int engine_change_step(struct engine *e, int64_t id, const char *event, const struct actor *who,
                       const char **ret_state, GError **error)
{
    g_autoptr(rows) rs = NULL;
    const struct change_request_row *c = request_get(e, id, &rs, error);
    if (!c)
        return -ENOENT;
    g_autofree char *why = NULL;
    const char *to = change_next(c->state, event, &why);
    if (!to) {
        g_set_error(error, ENGINE_OPS_ERROR, ENGINE_OPS_CONFLICT, "%s", why);
        return -EBUSY;
    }
    if (strcmp(event, "approve") == 0 &&
        !change_may_approve(c->requester_token, who->token_id, &why)) {
        g_set_error(error, ENGINE_OPS_ERROR, ENGINE_OPS_FORBIDDEN, "%s", why);
        return -EPERM;
    }
    struct change_request_update u = {.now = now_usec()};
    if (strcmp(event, "approve") == 0 || strcmp(event, "reject") == 0) {
        u.approver = who->name;
        u.approver_token = who->token_id;
    }
    if (strcmp(event, "reject") == 0 || strcmp(event, "cancel") == 0)
        u.ended = u.now;
    GError *serr = NULL;
    int r = e->store->ops->change_request_move(e->store, id, c->state, to, &u, &serr);
    if (r < 0) {
        g_set_error(error, ENGINE_OPS_ERROR, r == -ESTALE ? ENGINE_OPS_CONFLICT : ENGINE_OPS_IO,
                    "%s", serr->message);
        g_error_free(serr);
        return r;
    }
    g_message("change request %" G_GINT64_FORMAT ": %s by %s (%s)", id, to, who->name, c->reason);
    *ret_state = to;
    if (e->changes && strcmp(to, "approved") == 0) {
        g_mutex_lock(&e->changes->lock);
        e->changes->poke = true;
        g_cond_signal(&e->changes->wake);
        g_mutex_unlock(&e->changes->lock);
    }
    return 0;
}

/* ---- execution ---- */

/* One action of a request, typed. */
struct step {
    bool define; /* an edit of the domain XML */
    const char *xml;
    struct action_request req;
    const char *params; /* JSON text, for the audit entry */
};

/* The request's actions (validated when it was made, and again here: the
 * store is not the API). */
static GArray *steps_parse(json_object *actions, GError **error)
{
    GArray *ret = g_array_new(FALSE, TRUE, sizeof(struct step));
    size_t n =
        json_object_is_type(actions, json_type_array) ? json_object_array_length(actions) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(actions, i), *name = NULL;
        struct step s = {.params = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)};
        const char *an =
            json_object_object_get_ex(o, "action", &name) ? json_object_get_string(name) : "";
        enum action_kind kind;
        if (strcmp(an, "define") == 0) {
            json_object *x = NULL;
            s.define = true;
            s.xml = json_object_object_get_ex(o, "xml", &x) ? json_object_get_string(x) : NULL;
            g_array_append_val(ret, s);
            continue;
        }
        if (!action_lookup(an, &kind)) {
            g_set_error(error, ENGINE_OPS_ERROR, ENGINE_OPS_INVALID, "action %zu: no action '%s'",
                        i + 1, an);
            goto fail;
        }
        action_request_init(&s.req, kind);
        json_object_object_foreach(o, key, val)
        {
            if (strcmp(key, "action") == 0)
                continue;
            bool ok = false;
            switch (json_object_get_type(val)) {
            case json_type_int:
                ok = action_set_int(&s.req, key, json_object_get_int64(val));
                break;
            case json_type_boolean:
                ok = action_set_bool(&s.req, key, json_object_get_boolean(val));
                break;
            case json_type_string:
                ok = action_set_str(&s.req, key, json_object_get_string(val));
                break;
            default:
                break;
            }
            if (!ok) {
                action_request_clear(&s.req);
                g_set_error(error, ENGINE_OPS_ERROR, ENGINE_OPS_INVALID,
                            "action %zu (%s): no parameter '%s' of that type", i + 1, an, key);
                goto fail;
            }
        }
        g_array_append_val(ret, s);
    }
    return ret;
fail:
    for (guint i = 0; i < ret->len; i++)
        action_request_clear(&g_array_index(ret, struct step, i).req);
    g_array_unref(ret);
    return NULL;
}

static void steps_free(GArray *steps)
{
    for (guint i = 0; steps && i < steps->len; i++) {
        struct step *s = &g_array_index(steps, struct step, i);
        if (!s->define)
            action_request_clear(&s->req);
    }
    if (steps)
        g_array_unref(steps);
}

/* The state the request's actions leave a VM in, from BEFORE. */
static const char *state_after(GArray *steps, const char *before)
{
    const char *s = before;
    for (guint i = 0; i < steps->len; i++) {
        const struct step *x = &g_array_index(steps, struct step, i);
        if (x->define)
            continue;
        switch (x->req.kind) {
        case ACTION_START:
        case ACTION_REBOOT:
        case ACTION_RESUME:
            s = "running";
            break;
        case ACTION_SHUTDOWN:
        case ACTION_DESTROY:
            s = "shutoff";
            break;
        case ACTION_SUSPEND:
            s = "paused";
            break;
        default:
            break;
        }
    }
    return s;
}

/* The VM as the inventory has it now: its row (vm_row_desc) or NULL. */
static struct rows *vm_now(struct engine *e, const char *uuid)
{
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_vm_ref));
    g_array_set_clear_func(refs, (GDestroyNotify)store_vm_ref_clear);
    if (e->store->ops->vm_resolve(e->store, uuid, refs, NULL) < 0 || refs->len != 1)
        return NULL;
    const struct store_vm_ref *ref = &g_array_index(refs, struct store_vm_ref, 0);
    struct rows *r = e->store->ops->vms_query(e->store, NULL, ref->domain_id, false, NULL);
    if (r && rows_len(r) == 1)
        return r;
    if (r)
        rows_free(r);
    return NULL;
}

/* One VM of a running request, and what is known of it before. */
struct target {
    struct change_vm_row *row;
    char *state_before, *want;
    int64_t memory_before, vcpus_before;
    bool snapshot;  /* saved as a snapshot (else its definition) */
    GString *audit; /* JSON array text of its actions' audit ids */
    bool acted;     /* its actions ran (some of them, at least) */
};

static void vm_record(struct engine *e, struct target *t, const char *state, const char *result)
{
    struct change_vm_row v = *t->row;
    v.state = (char *)state;
    v.result = (char *)result;
    v.updated = now_usec();
    g_autofree char *ids = g_strdup_printf("[%s]", t->audit->str);
    v.audit_ids = ids;
    g_autoptr(GError) err = NULL;
    if (e->store->ops->change_vm_set(e->store, &v, &err) < 0)
        g_warning("change request %" G_GINT64_FORMAT ": %s: %s", v.request_id, v.vm, err->message);
    g_clear_pointer(&t->row->saved_xml, g_free); /* written once */
    g_free(t->row->state);                       /* as the store has it now */
    t->row->state = g_strdup(state);
}

/* Runs one action on the VM as the request; its audit id recorded. */
static int act(struct engine *e, struct target *t, const struct actor *who,
               const struct action_request *req, const char *params, GError **error)
{
    g_autoptr(rows) now = vm_now(e, t->row->uuid);
    if (!now) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_NOT_FOUND, "%s is no longer in the inventory",
                    t->row->vm);
        return -ENOENT;
    }
    const struct vm_row *v = rows_get(now, 0);
    struct action_result res;
    action_result_init(&res);
    int64_t audit_id = 0;
    int r =
        engine_action(e, v->host_id, v->uuid, v->name, req, params, who, &res, &audit_id, error);
    action_result_clear(&res);
    if (audit_id)
        g_string_append_printf(t->audit, "%s%" G_GINT64_FORMAT, t->audit->len ? "," : "", audit_id);
    return r;
}

static int act_simple(struct engine *e, struct target *t, const struct actor *who,
                      enum action_kind kind, const char *key, int64_t value, GError **error)
{
    struct action_request req;
    action_request_init(&req, kind);
    g_autofree char *params = NULL;
    if (key) {
        action_set_int(&req, key, value);
        params = g_strdup_printf("{\"%s\":%" G_GINT64_FORMAT "}", key, value);
    }
    int r = act(e, t, who, &req, params ? params : "{}", error);
    action_request_clear(&req);
    return r;
}

/* Saves what a rollback restores: a snapshot named cr-ID where the VM's
 * disks take one, else its persistent definition. */
static int save(struct engine *e, struct target *t, const struct actor *who, GError **error)
{
    g_autoptr(rows) now = vm_now(e, t->row->uuid);
    if (!now) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_NOT_FOUND, "%s is no longer in the inventory",
                    t->row->vm);
        return -ENOENT;
    }
    const struct vm_row *v = rows_get(now, 0);
    t->state_before = g_strdup(v->state);
    t->memory_before = v->memory_bytes;
    t->vcpus_before = v->vcpus;
    t->row->host_id = v->host_id;
    g_autofree char *name = g_strdup_printf("cr-%" G_GINT64_FORMAT, t->row->request_id);
    struct action_request req;
    action_request_init(&req, ACTION_SNAPSHOT_CREATE);
    action_set_str(&req, "name", name);
    g_autofree char *params = g_strdup_printf("{\"name\":\"%s\"}", name);
    g_autoptr(GError) serr = NULL;
    t->snapshot = act(e, t, who, &req, params, &serr) == 0;
    action_request_clear(&req);
    if (t->snapshot) {
        t->row->saved = g_strdup_printf("snapshot %s", name);
        return 0;
    }
    struct driver *drv = engine_driver_of(e, v->host_id, NULL, error);
    if (!drv || !drv->ops->domain_definition) {
        if (drv)
            g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNSUPPORTED,
                        "no snapshot (%s) and no definition to save", serr->message);
        return -EIO;
    }
    bool active = false;
    t->row->saved_xml = drv->ops->domain_definition(drv, v->host_id, v->uuid, &active, error);
    if (!t->row->saved_xml)
        return -EIO;
    t->row->saved = g_strdup("definition");
    return 0;
}

/* Puts the VM back as saved; false with *error when it could not. */
static bool roll_back(struct engine *e, struct target *t, const struct actor *who,
                      const char *saved_xml, GError **error)
{
    if (t->snapshot) {
        g_autofree char *name = g_strdup_printf("cr-%" G_GINT64_FORMAT, t->row->request_id);
        struct action_request req;
        action_request_init(&req, ACTION_SNAPSHOT_REVERT);
        action_set_str(&req, "name", name);
        g_autofree char *params = g_strdup_printf("{\"name\":\"%s\"}", name);
        int r = act(e, t, who, &req, params, error);
        action_request_clear(&req);
        return r == 0;
    }
    /* The definition back, then what runs as it ran. */
    g_autoptr(rows) now = vm_now(e, t->row->uuid);
    if (!now) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_NOT_FOUND, "%s is no longer in the inventory",
                    t->row->vm);
        return false;
    }
    const struct vm_row *v = rows_get(now, 0);
    g_autofree char *uuid = NULL;
    int64_t audit_id = 0;
    if (engine_define(e, v->host_id, saved_xml, who, &uuid, &audit_id, error) < 0)
        return false;
    g_string_append_printf(t->audit, "%s%" G_GINT64_FORMAT, t->audit->len ? "," : "", audit_id);
    bool was_running = g_strcmp0(t->state_before, "running") == 0;
    bool running = g_strcmp0(v->state, "running") == 0;
    if (was_running && !running)
        return act_simple(e, t, who, ACTION_START, NULL, 0, error) == 0;
    if (!was_running && running)
        return act_simple(e, t, who, ACTION_DESTROY, NULL, 0, error) == 0;
    if (running && v->memory_bytes != t->memory_before && t->memory_before > 0 &&
        act_simple(e, t, who, ACTION_SETMEM, "memory_bytes", t->memory_before, error) < 0)
        return false;
    if (running && v->vcpus != t->vcpus_before && t->vcpus_before > 0 &&
        act_simple(e, t, who, ACTION_SETVCPUS, "vcpus", t->vcpus_before, error) < 0)
        return false;
    return true;
}

/* The checks' inputs for T now. */
static void check_input(struct engine *e, struct target *t, int64_t started,
                        const struct change_request_row *c, struct change_check_input *in,
                        char **ret_state)
{
    g_autoptr(rows) now = vm_now(e, t->row->uuid);
    *ret_state = now ? g_strdup(((struct vm_row *)rows_get(now, 0))->state) : NULL;
    in->state = *ret_state;
    in->want_state = t->want;
    in->guest_fresh_us = c->guest_fresh_s * USEC_PER_SEC;
    in->guest_age_us = -1;
    g_autoptr(vm_view) view = engine_view(e, t->row->uuid);
    for (unsigned i = 0; view && i < view->n_values; i++) {
        const struct view_value *x = &view->values[i];
        bool agent =
            g_strcmp0(x->g_source, "qga") == 0 || g_strcmp0(x->g_source, "kanri-guestd") == 0;
        if (!agent || x->g_age_us < 0)
            continue;
        int64_t age = x->g_age_us + MAX(0, now_usec() - view->time_us);
        if (in->guest_age_us < 0 || age < in->guest_age_us)
            in->guest_age_us = age;
    }
    in->new_critical = 0;
    g_autoptr(rows) fs =
        e->store->ops->findings_query(e->store, "open", NULL, t->row->uuid, 100, NULL);
    for (guint i = 0; fs && i < rows_len(fs); i++) {
        const struct finding_row *f = rows_get(fs, i);
        if (g_strcmp0(f->severity, "critical") == 0 && f->opened >= started)
            in->new_critical++;
    }
}

/* Waits for T's checks to pass, up to the request's timeout. */
static bool checks_pass(struct engine *e, struct changes *cs, struct target *t, int64_t started,
                        const struct change_request_row *c, char **ret_why)
{
    int64_t deadline = g_get_monotonic_time() + MAX(c->check_timeout_s, 1) * USEC_PER_SEC;
    for (;;) {
        struct change_check_input in = {0};
        g_autofree char *state = NULL;
        check_input(e, t, started, c, &in, &state);
        g_clear_pointer(ret_why, g_free);
        if (change_check(&in, ret_why))
            return true;
        if (g_get_monotonic_time() >= deadline || !nap(cs, CHECK_POLL_US))
            return false;
    }
}

static void target_clear(struct target *t)
{
    g_free(t->state_before);
    g_free(t->want);
    if (t->audit)
        g_string_free(t->audit, TRUE);
}

static void request_end(struct engine *e, const struct change_request_row *c, const char *event,
                        const char *error_text)
{
    g_autofree char *why = NULL;
    const char *to = change_next("running", event, &why);
    struct change_request_update u = {.now = now_usec(), .ended = now_usec(), .error = error_text};
    g_autoptr(GError) err = NULL;
    if (e->store->ops->change_request_move(e->store, c->id, "running", to, &u, &err) < 0)
        g_warning("change request %" G_GINT64_FORMAT ": %s", c->id, err->message);
    if (error_text)
        g_warning("change request %" G_GINT64_FORMAT ": %s: %s", c->id, to, error_text);
    else
        g_message("change request %" G_GINT64_FORMAT ": %s", c->id, to);
}

/* Rolls back the targets of a failed batch that were acted on; true when
 * every one is back. */
static bool batch_back(struct engine *e, struct target *ts, GPtrArray *saved_xml, guint n,
                       const struct actor *who, GString *why)
{
    bool all = true;
    for (guint i = 0; i < n; i++) {
        struct target *t = &ts[i];
        if (!t->acted)
            continue;
        g_autoptr(GError) err = NULL;
        const char *xml = g_ptr_array_index(saved_xml, i);
        if (roll_back(e, t, who, xml, &err)) {
            vm_record(e, t, "rolled-back", NULL);
        } else {
            all = false;
            g_string_append_printf(why, "; %s could not be rolled back: %s", t->row->vm,
                                   err->message);
            vm_record(e, t, "failed", "rollback failed");
        }
    }
    return all;
}

static void run(struct engine *e, struct changes *cs, const struct change_request_row *c)
{
    int64_t started = now_usec();
    struct change_request_update u = {.now = started, .started = started};
    g_autoptr(GError) err = NULL;
    if (e->store->ops->change_request_move(e->store, c->id, c->state, "running", &u, &err) < 0) {
        g_warning("change request %" G_GINT64_FORMAT ": %s", c->id, err->message);
        return;
    }
    g_message("change request %" G_GINT64_FORMAT ": running (%s)", c->id, c->reason);
    json_object *actions = json_tokener_parse(c->actions);
    GArray *steps = steps_parse(actions, &err);
    g_autoptr(rows) vms = e->store->ops->change_vms_query(e->store, c->id, NULL);
    if (!steps || !vms) {
        request_end(e, c, "fail", err ? err->message : "its VMs cannot be read");
        json_object_put(actions);
        steps_free(steps);
        return;
    }
    g_autofree char *actor_name = g_strdup_printf("change-request #%" G_GINT64_FORMAT, c->id);
    struct actor who = {.name = actor_name, .token_id = 0};
    guint n = rows_len(vms);
    int64_t nb = 0;
    for (guint i = 0; i < n; i++)
        nb = MAX(nb, ((struct change_vm_row *)rows_get(vms, i))->batch + 1);
    g_autoptr(GString) failure = g_string_new(NULL);
    const char *end = "done";
    for (int64_t b = 0; b < nb && !failure->len; b++) {
        g_autofree struct target *ts = g_new0(struct target, n);
        g_autoptr(GPtrArray) saved = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_set_size(saved, (gint)n);
        guint in_batch = 0;
        for (guint i = 0; i < n && !failure->len; i++) {
            struct change_vm_row *row = rows_get(vms, i);
            if (row->batch != b)
                continue;
            struct target *t = &ts[in_batch++];
            t->row = row;
            t->audit = g_string_new(NULL);
            vm_record(e, t, "running", NULL);
            g_autoptr(GError) aerr = NULL;
            if (save(e, t, &who, &aerr) < 0) {
                g_string_printf(failure, "%s: nothing saved to roll back to: %s", row->vm,
                                aerr->message);
                vm_record(e, t, "failed", failure->str);
                break;
            }
            g_ptr_array_index(saved, in_batch - 1) = g_strdup(row->saved_xml);
            t->want = g_strdup(state_after(steps, t->state_before));
            t->acted = true;
            for (guint k = 0; k < steps->len && !aerr; k++) {
                const struct step *s = &g_array_index(steps, struct step, k);
                if (s->define) {
                    g_autofree char *uuid = NULL;
                    int64_t audit_id = 0;
                    engine_define(e, row->host_id, s->xml, &who, &uuid, &audit_id, &aerr);
                    if (audit_id)
                        g_string_append_printf(t->audit, "%s%" G_GINT64_FORMAT,
                                               t->audit->len ? "," : "", audit_id);
                } else {
                    act(e, t, &who, &s->req, s->params, &aerr);
                }
            }
            if (aerr)
                g_string_printf(failure, "%s: %s", row->vm, aerr->message);
            else
                vm_record(e, t, "running", "actions done; checking");
        }
        /* The checks of the batch, once every VM of it was acted on. */
        for (guint i = 0; i < in_batch && !failure->len; i++) {
            g_autofree char *why = NULL;
            if (!checks_pass(e, cs, &ts[i], started, c, &why))
                g_string_printf(failure, "%s: check failed: %s", ts[i].row->vm,
                                why ? why : "kanrid is stopping");
        }
        if (failure->len && quitting(cs)) {
            /* kanrid stops: nothing is rolled back half-way; the request
             * stays running and is failed as interrupted at the next start. */
            for (guint i = 0; i < in_batch; i++)
                target_clear(&ts[i]);
            json_object_put(actions);
            steps_free(steps);
            return;
        }
        if (failure->len) {
            end = batch_back(e, ts, saved, in_batch, &who, failure) ? "roll-back" : "fail";
        } else {
            for (guint i = 0; i < in_batch; i++) {
                vm_record(e, &ts[i], "done", "checks passed");
                /* The snapshot has served: nothing is rolled back now. */
                g_autoptr(GError) derr = NULL;
                g_autofree char *name = g_strdup_printf("cr-%" G_GINT64_FORMAT, c->id);
                struct action_request del;
                action_request_init(&del, ACTION_SNAPSHOT_DELETE);
                action_set_str(&del, "name", name);
                g_autofree char *params = g_strdup_printf("{\"name\":\"%s\"}", name);
                if (ts[i].snapshot && act(e, &ts[i], &who, &del, params, &derr) < 0)
                    g_message("change request %" G_GINT64_FORMAT ": %s: snapshot %s kept: %s",
                              c->id, ts[i].row->vm, name, derr->message);
                action_request_clear(&del);
            }
        }
        for (guint i = 0; i < in_batch; i++)
            target_clear(&ts[i]);
    }
    /* VMs of the batches not reached are left as they were. */
    for (guint i = 0; failure->len && i < n; i++) {
        struct change_vm_row *row = rows_get(vms, i);
        if (g_strcmp0(row->state, "pending") == 0) {
            struct change_vm_row v = *row;
            v.state = "skipped";
            v.result = "an earlier batch failed";
            v.saved_xml = NULL;
            v.updated = now_usec();
            e->store->ops->change_vm_set(e->store, &v, NULL);
        }
    }
    request_end(e, c, end, failure->len ? failure->str : NULL);
    json_object_put(actions);
    steps_free(steps);
}

/* What is due at NOW: requests waiting for their window scheduled, open
 * ones run, passed ones expired. */
static void tick(struct engine *e, struct changes *cs)
{
    static const char *const live[] = {"approved", "scheduled", NULL};
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) due = e->store->ops->change_requests_query(e->store, 0, live, &err);
    if (!due) {
        g_warning("change requests: %s", err->message);
        return;
    }
    for (guint i = 0; i < rows_len(due) && !quitting(cs); i++) {
        const struct change_request_row *c = rows_get(due, i);
        int64_t now = now_usec();
        enum change_window w = change_window_at(c->window_from, c->window_to, now);
        const char *to = w == CHANGE_WINDOW_BEFORE   ? "scheduled"
                         : w == CHANGE_WINDOW_PASSED ? "expired"
                                                     : NULL;
        if (!to) {
            run(e, cs, c);
            continue;
        }
        if (strcmp(to, c->state) == 0)
            continue;
        struct change_request_update u = {.now = now};
        if (w == CHANGE_WINDOW_PASSED) {
            u.ended = now;
            u.error = "its window passed before it could run";
        }
        g_clear_error(&err);
        if (e->store->ops->change_request_move(e->store, c->id, c->state, to, &u, &err) < 0)
            g_warning("change request %" G_GINT64_FORMAT ": %s", c->id, err->message);
        else
            g_message("change request %" G_GINT64_FORMAT ": %s", c->id, to);
    }
}

/* Requests left running by a kanrid that stopped: what they did is not
 * known to have finished, and they are failed, not run again. */
static void interrupted(struct engine *e)
{
    static const char *const running[] = {"running", NULL};
    g_autoptr(rows) left = e->store->ops->change_requests_query(e->store, 0, running, NULL);
    for (guint i = 0; left && i < rows_len(left); i++)
        request_end(e, rows_get(left, i), "fail",
                    "interrupted: kanrid stopped while it ran (see its VMs' results)");
}

static gpointer changes_thread(gpointer p)
{
    struct engine *e = p;
    struct changes *cs = e->changes;
    bool first = true;
    while (nap(cs, first ? 0 : TICK_US)) {
        if (!engine_is_leader(e)) /* another instance on the store runs them */
            continue;
        if (first)
            interrupted(e);
        first = false;
        tick(e, cs);
    }
    return NULL;
}

void engine_changes_start(struct engine *e)
{
    if (e->changes)
        return;
    struct changes *cs = g_new0(struct changes, 1);
    g_mutex_init(&cs->lock);
    g_cond_init(&cs->wake);
    e->changes = cs;
    cs->thread = g_thread_new("changes", changes_thread, e);
}

void engine_changes_stop(struct engine *e)
{
    struct changes *cs = e->changes;
    if (!cs)
        return;
    g_mutex_lock(&cs->lock);
    cs->quit = true;
    g_cond_broadcast(&cs->wake);
    g_mutex_unlock(&cs->lock);
}

void engine_changes_free(struct engine *e)
{
    struct changes *cs = e->changes;
    if (!cs)
        return;
    g_thread_join(cs->thread);
    g_mutex_clear(&cs->lock);
    g_cond_clear(&cs->wake);
    g_free(cs);
    e->changes = NULL;
}
