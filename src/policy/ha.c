/*
 * The HA state machine and the restart planner (ha.h, docs/ha.md).
 */
#include "config.h"

#include "policy/ha.h"
#include "policy/policy-private.h"

#include "basic/util.h"
#include "model/event.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ---- */

static const char *const host_state_names[HA_HOST_N] = {
    [HA_UP] = "up",
    [HA_SUSPECT] = "suspect",
    [HA_DOWN] = "down",
    [HA_FENCING] = "fencing",
    [HA_FENCE_FAILED] = "fence-failed",
    [HA_FENCED] = "fenced",
    [HA_RECOVERED] = "recovered",
    [HA_REJOINING] = "rejoining",
};
static const char *const vm_state_names[HA_VM_N] = {
    [HA_VM_PENDING] = "pending",   [HA_VM_STARTING] = "starting", [HA_VM_STARTED] = "started",
    [HA_VM_UNPLACED] = "unplaced", [HA_VM_FAILED] = "failed",     [HA_VM_REPORTED] = "reported",
    [HA_VM_DONE] = "done",
};
static const char *const restart_names[HA_RESTART_N] = {
    [HA_RESTART_ELSEWHERE] = "elsewhere",
    [HA_RESTART_IN_PLACE] = "in-place",
    [HA_RESTART_REPORT] = "report",
};
static const char *const probe_names[] = {"none", "unknown", "ok", "failed"};

static bool parse_name(const char *const *names, int n, const char *text, int *ret)
{
    for (int i = 0; text && i < n; i++) {
        if (g_str_equal(names[i], text)) {
            *ret = i;
            return true;
        }
    }
    return false;
}

const char *ha_host_state_name(enum ha_host_state s)
{
    return s < HA_HOST_N ? host_state_names[s] : "?";
}

bool ha_host_state_parse(const char *text, enum ha_host_state *ret)
{
    int i;
    if (!parse_name(host_state_names, HA_HOST_N, text, &i))
        return false;
    *ret = (enum ha_host_state)i;
    return true;
}

const char *ha_vm_state_name(enum ha_vm_state s)
{
    return s < HA_VM_N ? vm_state_names[s] : "?";
}

bool ha_vm_state_parse(const char *text, enum ha_vm_state *ret)
{
    int i;
    if (!parse_name(vm_state_names, HA_VM_N, text, &i))
        return false;
    *ret = (enum ha_vm_state)i;
    return true;
}

const char *ha_restart_name(enum ha_restart r)
{
    return r < HA_RESTART_N ? restart_names[r] : "?";
}

bool ha_restart_parse(const char *text, enum ha_restart *ret)
{
    int i;
    if (!parse_name(restart_names, HA_RESTART_N, text, &i))
        return false;
    *ret = (enum ha_restart)i;
    return true;
}

const char *ha_probe_name(enum ha_probe p)
{
    return (unsigned)p < G_N_ELEMENTS(probe_names) ? probe_names[p] : "?";
}

/* ---- settings ---- */

void ha_vm_settings_clear(struct ha_vm_settings *v)
{
    g_clear_pointer(&v->group, g_free);
    memset(v, 0, sizeof(*v));
}

void ha_vm_settings_free(gpointer v)
{
    if (!v)
        return;
    ha_vm_settings_clear(v);
    g_free(v);
}

bool ha_group_name_ok(const char *name)
{
    bool ok = name && *name && strlen(name) <= 64;
    for (const char *p = name; ok && *p; p++)
        ok = g_ascii_isalnum(*p) || *p == '-' || *p == '_' || *p == '.';
    return ok;
}

static GQuark ha_error_quark(void)
{
    return g_quark_from_static_string("kanri-ha-error");
}

bool ha_vm_settings_parse(const char *text, struct ha_vm_settings *ret, GError **error)
{
    memset(ret, 0, sizeof(*ret));
    g_auto(GStrv) words = g_strsplit_set(text ? text : "", " \t", -1);
    unsigned n = 0;
    ret->ha = true;
    for (size_t i = 0; words[i]; i++) {
        const char *w = words[i];
        if (!*w)
            continue;
        n++;
        const char *eq = strchr(w, '=');
        if (!eq && (g_str_equal(w, "on") || g_str_equal(w, "off"))) {
            ret->ha = g_str_equal(w, "on");
            continue;
        }
        const char *v = eq ? eq + 1 : "";
        if (g_str_has_prefix(w, "priority=")) {
            char *end = NULL;
            long p = strtol(v, &end, 10);
            if (*v && !*end && p >= -HA_PRIORITY_MAX && p <= HA_PRIORITY_MAX) {
                ret->priority = (int)p;
                continue;
            }
            g_set_error(error, ha_error_quark(), 0,
                        "priority: expected a whole number from %d to %d, got '%.64s'",
                        -HA_PRIORITY_MAX, HA_PRIORITY_MAX, v);
        } else if (g_str_has_prefix(w, "restart=")) {
            if (ha_restart_parse(v, &ret->restart))
                continue;
            g_set_error(error, ha_error_quark(), 0,
                        "restart: expected elsewhere, in-place or report, got '%.64s'", v);
        } else if (g_str_has_prefix(w, "group=")) {
            if (ha_group_name_ok(v)) {
                g_free(ret->group);
                ret->group = g_strdup(v);
                continue;
            }
            g_set_error(error, ha_error_quark(), 0,
                        "group: a name is 1-64 letters, digits, '-', '_', '.', got '%.64s'", v);
        } else {
            g_set_error(error, ha_error_quark(), 0,
                        "unknown word '%.64s' (expected on, off, priority=N, restart=POLICY, "
                        "group=NAME)",
                        w);
        }
        ha_vm_settings_clear(ret);
        return false;
    }
    if (!n) {
        g_set_error(error, ha_error_quark(), 0,
                    "expected on, off, or priority=N restart=POLICY group=NAME");
        return false;
    }
    return true;
}

void ha_probe_spec_clear(struct ha_probe_spec *s)
{
    g_clear_pointer(&s->argv, g_strfreev);
    g_clear_pointer(&s->host, g_free);
    memset(s, 0, sizeof(*s));
}

bool ha_probe_spec_parse(const char *text, struct ha_probe_spec *ret, GError **error)
{
    memset(ret, 0, sizeof(*ret));
    if (!text || g_str_equal(text, "none"))
        return true;
    if (g_str_has_prefix(text, "exec:")) {
        g_autoptr(GError) err = NULL;
        if (g_shell_parse_argv(text + 5, NULL, &ret->argv, &err)) {
            ret->kind = HA_PROBE_KIND_EXEC;
            return true;
        }
        g_set_error(error, ha_error_quark(), 0, "probe: exec: %s", err->message);
        return false;
    }
    if (g_str_has_prefix(text, "tcp:")) {
        const char *hp = text + 4, *colon = strrchr(hp, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (colon && colon > hp && colon[1] && !*end && port > 0 && port < 65536) {
            g_autofree char *host = g_strndup(hp, (gsize)(colon - hp));
            size_t n = strlen(host);
            if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
                host[n - 1] = '\0';
                memmove(host, host + 1, n - 1);
            }
            ret->kind = HA_PROBE_KIND_TCP;
            ret->host = g_steal_pointer(&host);
            ret->port = (int)port;
            return true;
        }
        g_set_error(error, ha_error_quark(), 0,
                    "probe: expected tcp:HOST:PORT with a port from 1 to 65535, got '%.128s'", text);
        return false;
    }
    g_set_error(error, ha_error_quark(), 0,
                "probe: expected none, exec:COMMAND or tcp:HOST:PORT, got '%.128s'", text);
    return false;
}

/* ---- state ---- */

static void host_rec_free(gpointer p)
{
    struct ha_host_rec *h = p;
    g_free(h->name);
    g_free(h->reason);
    g_free(h);
}

void ha_vm_rec_free(struct ha_vm_rec *r)
{
    if (!r)
        return;
    g_free(r->uuid);
    g_free(r->name);
    g_free(r->reason);
    g_free(r);
}

struct ha_state *ha_state_new(void)
{
    struct ha_state *s = g_new0(struct ha_state, 1);
    s->hosts = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, host_rec_free);
    s->vms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                   (GDestroyNotify)ha_vm_rec_free);
    return s;
}

void ha_state_free(struct ha_state *s)
{
    if (!s)
        return;
    g_hash_table_unref(s->hosts);
    g_hash_table_unref(s->vms);
    g_free(s);
}

struct ha_host_rec *ha_state_host(struct ha_state *s, int64_t host_id, const char *name,
                                  int64_t now_us)
{
    struct ha_host_rec *h = g_hash_table_lookup(s->hosts, &host_id);
    if (h)
        return h;
    h = g_new0(struct ha_host_rec, 1);
    h->host_id = host_id;
    h->name = g_strdup(name);
    h->state = HA_UP;
    h->since_us = now_us;
    g_hash_table_insert(s->hosts, &h->host_id, h);
    return h;
}

void ha_state_put_vm(struct ha_state *s, struct ha_vm_rec *r)
{
    g_hash_table_replace(s->vms, r->uuid, r);
}

void ha_out_free(struct ha_out *o)
{
    if (!o)
        return;
    g_free(o->host);
    g_free(o->uuid);
    g_free(o->vm_name);
    g_free(o->event_kind);
    g_free(o->condition);
    g_free(o->message);
    g_free(o->to_host);
    if (o->remove)
        g_ptr_array_unref(o->remove);
    if (o->start)
        g_ptr_array_unref(o->start);
    g_free(o);
}

/* ---- one step ---- */

struct step {
    const struct ha_conf *conf;
    struct ha_state *s;
    const struct ha_input *in;
    GPtrArray *out;
};

static const struct ha_signals *signals_of(const struct step *st, int64_t host_id)
{
    for (size_t i = 0; i < st->in->n_hosts; i++) {
        if (st->in->hosts[i].host_id == host_id)
            return &st->in->hosts[i];
    }
    return NULL;
}

static const char *host_name(const struct step *st, int64_t host_id)
{
    struct ha_host_rec *h = g_hash_table_lookup(st->s->hosts, &host_id);
    if (h)
        return h->name;
    const struct ha_signals *sig = signals_of(st, host_id);
    return sig ? sig->name : "?";
}

static const struct ha_vm *vm_of(const struct step *st, const char *uuid)
{
    for (size_t i = 0; i < st->in->n_vms; i++) {
        if (g_str_equal(st->in->vms[i].uuid, uuid))
            return &st->in->vms[i];
    }
    return NULL;
}

static struct ha_out *out_new(struct step *st, enum ha_out_kind kind, int64_t host_id,
                              const char *uuid, const char *vm_name)
{
    struct ha_out *o = g_new0(struct ha_out, 1);
    o->kind = kind;
    o->host_id = host_id;
    o->host = g_strdup(host_name(st, host_id));
    o->uuid = g_strdup(uuid);
    o->vm_name = g_strdup(vm_name);
    g_ptr_array_add(st->out, o);
    return o;
}

/* An event about the host (UUID NULL) or a VM; CONDITION NULL: a fact. */
G_GNUC_PRINTF(8, 9)
static void event(struct step *st, int64_t host_id, const struct ha_vm_rec *vm, const char *kind,
                  const char *condition, bool problem, enum severity sev, const char *fmt, ...)
{
    struct ha_out *o =
        out_new(st, HA_OUT_EVENT, host_id, vm ? vm->uuid : NULL, vm ? vm->name : NULL);
    o->event_kind = g_strdup(kind);
    o->condition = g_strdup(condition);
    o->problem = problem;
    o->severity = (int)sev;
    va_list ap;
    va_start(ap, fmt);
    o->message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static void host_set(struct step *st, struct ha_host_rec *h, enum ha_host_state state,
                     char *reason /* moved */)
{
    if (h->state != state) {
        h->state = state;
        h->since_us = st->in->now_us;
        h->dirty = true;
    }
    if (g_strcmp0(h->reason, reason) != 0) {
        g_free(h->reason);
        h->reason = reason;
    } else {
        g_free(reason);
    }
}

static void vm_set(struct step *st, struct ha_vm_rec *r, enum ha_vm_state state,
                   char *reason /* moved */)
{
    if (r->state != state) {
        r->state = state;
        r->since_us = st->in->now_us;
    }
    g_free(r->reason);
    r->reason = reason;
    r->dirty = true;
}

/* "1 HA VM", "2 HA VMs" (g_free). */
static char *ha_vms_text(unsigned n)
{
    return g_strdup_printf("%u HA VM%s", n, n == 1 ? "" : "s");
}

static double secs(int64_t us)
{
    return (double)us / 1e6;
}

static void act_fence(struct step *st, struct ha_host_rec *h)
{
    h->fence_attempts++;
    h->inflight = true;
    h->dirty = true;
    struct ha_out *o = out_new(st, HA_OUT_ACTION, h->host_id, NULL, NULL);
    o->action = HA_ACT_FENCE;
}

/* The recoveries of host H's current failure. */
static GPtrArray *recs_of(struct step *st, const struct ha_host_rec *h)
{
    GPtrArray *r = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, st->s->vms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct ha_vm_rec *rec = v;
        if (rec->from_host == h->host_id && rec->failure_us == h->failed_us &&
            rec->state != HA_VM_DONE)
            g_ptr_array_add(r, rec);
    }
    return r;
}

static int rec_order(gconstpointer a, gconstpointer b, gpointer data)
{
    const struct step *st = data;
    const struct ha_vm_rec *x = *(struct ha_vm_rec *const *)a, *y = *(struct ha_vm_rec *const *)b;
    const struct ha_vm *vx = vm_of(st, x->uuid), *vy = vm_of(st, y->uuid);
    int px = vx ? vx->priority : 0, py = vy ? vy->priority : 0;
    if (px != py)
        return px > py ? -1 : 1;
    int c = g_strcmp0(x->name, y->name);
    return c ? c : strcmp(x->uuid, y->uuid);
}

/* The HA VMs host HOST_ID was running (and no connected host runs now). */
static GPtrArray *ha_vms_on(const struct step *st, int64_t host_id)
{
    GPtrArray *r = g_ptr_array_new();
    for (size_t i = 0; i < st->in->n_vms; i++) {
        const struct ha_vm *v = &st->in->vms[i];
        if (v->ha && v->host_id == host_id && v->running && v->running_on == 0)
            g_ptr_array_add(r, (gpointer)v);
    }
    return r;
}

/* Whether the signals of a lost host agree that it is dead; *ret_why says
 * why (or why not) in words. */
static bool declared_dead(const struct step *st, const struct ha_signals *sig, char **ret_why)
{
    int64_t lost_for = st->in->now_us - sig->lost_us;
    if (!st->conf->enabled) {
        *ret_why = g_strdup_printf("connection lost %.1f s ago; HA is disabled", secs(lost_for));
        return false;
    }
    if (lost_for < st->conf->detect_us) {
        *ret_why = g_strdup_printf(
            "connection lost %.1f s ago; declared dead after %.0f s if the other signals agree",
            secs(lost_for), secs(st->conf->detect_us));
        return false;
    }
    if (sig->probe == HA_PROBE_OK) {
        *ret_why = g_strdup_printf("connection lost %.1f s ago, but the host answers its probe%s%s: "
                                   "its libvirtd alone is down or slow",
                                   secs(lost_for), sig->probe_detail ? " — " : "",
                                   sig->probe_detail ? sig->probe_detail : "");
        return false;
    }
    if (sig->probe == HA_PROBE_UNKNOWN) {
        *ret_why = g_strdup_printf("connection lost %.1f s ago; waiting for the probe to answer",
                                   secs(lost_for));
        return false;
    }
    if (sig->guests_alive > 0) {
        *ret_why = g_strdup_printf(
            "connection lost %.1f s ago, but %u of the %u HA VMs on it that report through "
            "kanri-guestd still report: the host runs",
            secs(lost_for), sig->guests_alive, sig->guests_direct);
        return false;
    }
    g_autofree char *probe =
        sig->probe == HA_PROBE_NONE
            ? g_strdup("no probe is configured")
            : g_strdup_printf("its probe fails%s%s", sig->probe_detail ? " — " : "",
                              sig->probe_detail ? sig->probe_detail : "");
    g_autofree char *guests =
        sig->guests_direct ? g_strdup_printf("none of the %u HA VMs on it that report through "
                                             "kanri-guestd does",
                                             sig->guests_direct)
                           : g_strdup("no HA VM of it reports directly");
    *ret_why = g_strdup_printf("connection lost %.1f s ago, %s, %s", secs(lost_for), probe, guests);
    return true;
}

/* A dead host with HA VMs: fence it, or say why it cannot be. */
static void start_fencing(struct step *st, struct ha_host_rec *h, const struct ha_signals *sig,
                          guint n_vms)
{
    g_autofree char *vms = ha_vms_text(n_vms);
    if (!sig->fence_configured) {
        host_set(st, h, HA_FENCE_FAILED,
                 g_strdup_printf("no fence agent is configured: its %s not restarted", vms));
        event(st, h->host_id, NULL, "ha.fence.failed", "ha-fence-failed", true, SEV_CRITICAL,
              "Host %s cannot be fenced (no fence agent is configured): its %s not restarted "
              "elsewhere",
              h->name, vms);
        return;
    }
    host_set(st, h, HA_FENCING, g_strdup_printf("fencing before restarting its %s", vms));
    act_fence(st, h);
    event(st, h->host_id, NULL, "ha.fence.started", NULL, false, SEV_INFO,
          "Fencing host %s (attempt %u) before restarting its %s", h->name, h->fence_attempts,
          vms);
}

/* Host H is confirmed off: a recovery record for each of its HA VMs. */
static void enter_fenced(struct step *st, struct ha_host_rec *h, char *reason /* moved */)
{
    host_set(st, h, HA_FENCED, reason);
    h->next_fence_us = 0;
    g_autoptr(GPtrArray) vms = g_ptr_array_new();
    for (size_t i = 0; i < st->in->n_vms; i++) {
        const struct ha_vm *v = &st->in->vms[i];
        if (v->ha && v->host_id == h->host_id && v->running)
            g_ptr_array_add(vms, (gpointer)v);
    }
    for (guint i = 0; i < vms->len; i++) {
        const struct ha_vm *v = g_ptr_array_index(vms, i);
        struct ha_vm_rec *r = g_new0(struct ha_vm_rec, 1);
        r->uuid = g_strdup(v->uuid);
        r->name = g_strdup(v->name);
        r->from_host = h->host_id;
        r->failure_us = h->failed_us;
        r->since_us = st->in->now_us;
        r->state = HA_VM_PENDING;
        r->dirty = true;
        ha_state_put_vm(st->s, r);
        if (v->restart != HA_RESTART_ELSEWHERE) {
            vm_set(st, r, HA_VM_REPORTED,
                   g_strdup_printf("restart policy %s: left for %s's return",
                                   ha_restart_name(v->restart), h->name));
            event(st, h->host_id, r, "ha.vm.down", NULL, false, SEV_MAJOR,
                  "%s is down with host %s and stays down until the host is back (restart "
                  "policy %s)",
                  r->name, h->name, ha_restart_name(v->restart));
        }
    }
}

/* Where VM may be restarted: the best surviving host, or NULL with
 * *ret_why listing why each was refused. */
/* Memory that restarts planned (or running) in this step take on a host. */
struct planned {
    int64_t host_id;
    double bytes; /* of the VMs whose size is known */
    unsigned n;   /* VMs */
};

static struct planned *planned_get(GArray *planned, int64_t host_id)
{
    for (guint i = 0; i < planned->len; i++) {
        struct planned *p = &g_array_index(planned, struct planned, i);
        if (p->host_id == host_id)
            return p;
    }
    struct planned p = {host_id, 0, 0};
    g_array_append_val(planned, p);
    return &g_array_index(planned, struct planned, planned->len - 1);
}

static void planned_add(GArray *planned, int64_t host_id, double bytes)
{
    struct planned *p = planned_get(planned, host_id);
    p->n++;
    if (policy_present(bytes))
        p->bytes += bytes;
}

static const struct ha_signals *place(struct step *st, const struct ha_vm_rec *r,
                                      const struct ha_vm *v, GArray *planned, char **ret_why)
{
    const struct ha_signals *best = NULL, *fallback = NULL;
    double best_free = -INFINITY;
    g_autoptr(GString) why = g_string_new(NULL);
    for (size_t i = 0; i < st->in->n_hosts; i++) {
        const struct ha_signals *sig = &st->in->hosts[i];
        if (sig->host_id == r->from_host)
            continue;
        struct ha_host_rec *hr = g_hash_table_lookup(st->s->hosts, &sig->host_id);
        const char *no = NULL;
        g_autofree char *no_owned = NULL;
        if (!sig->connected || sig->loading || (hr && hr->state != HA_UP))
            no = "not up";
        else if (sig->maintenance)
            no = "in maintenance";
        else if (v->allowed && !g_strv_contains(v->allowed, sig->name))
            no = "not in its HA group";
        const struct planned *p = planned_get(planned, sig->host_id);
        double free = sig->mem_free;
        if (!no && policy_present(free)) {
            free -= p->bytes;
            double need = (policy_present(v->mem_bytes) ? v->mem_bytes : 0) + st->conf->reserve_bytes;
            if (free < need) {
                g_autoptr(GPtrArray) scratch = g_ptr_array_new_with_free_func(g_free);
                no = no_owned = g_strdup_printf("%s free, needs %s", policy_mib(scratch, free),
                                                policy_mib(scratch, need));
            }
        }
        if (no) {
            g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "", sig->name, no);
            continue;
        }
        /* The host a restart just failed on only when no other fits. */
        if (sig->host_id == r->failed_host) {
            fallback = sig;
            continue;
        }
        /* The most free memory; where that is unknown, the fewest
         * restarts so far (known capacity first). */
        double rank = policy_present(free) ? free : -(double)p->n;
        if (!best || rank > best_free) {
            best = sig;
            best_free = rank;
        }
    }
    if (!best)
        best = fallback;
    if (!best)
        *ret_why = why->len ? g_strdup(why->str) : g_strdup("no other host");
    return best;
}

static void plan_restarts(struct step *st, struct ha_host_rec *h)
{
    g_autoptr(GPtrArray) recs = recs_of(st, h);
    g_ptr_array_sort_with_data(recs, rec_order, st);
    g_autoptr(GArray) planned = g_array_new(FALSE, FALSE, sizeof(struct planned));
    /* What restarts in flight will take. */
    for (guint i = 0; i < recs->len; i++) {
        struct ha_vm_rec *r = g_ptr_array_index(recs, i);
        const struct ha_vm *v = vm_of(st, r->uuid);
        if (r->state == HA_VM_STARTING && r->inflight && v)
            planned_add(planned, r->to_host, v->mem_bytes);
    }
    for (guint i = 0; i < recs->len; i++) {
        struct ha_vm_rec *r = g_ptr_array_index(recs, i);
        if (r->state != HA_VM_PENDING && r->state != HA_VM_UNPLACED &&
            !(r->state == HA_VM_STARTING && !r->inflight))
            continue;
        const struct ha_vm *v = vm_of(st, r->uuid);
        if (!v) {
            vm_set(st, r, HA_VM_FAILED, g_strdup("no longer in the inventory"));
            continue;
        }
        if (v->running_on) {
            bool was_unplaced = r->state == HA_VM_UNPLACED;
            r->to_host = v->running_on;
            vm_set(st, r, HA_VM_STARTED,
                   g_strdup_printf("found running on %s", host_name(st, v->running_on)));
            event(st, h->host_id, r, "ha.vm.restarted", was_unplaced ? "ha-vm-unplaced" : NULL,
                  false, SEV_INFO, "%s is running on %s", r->name, host_name(st, v->running_on));
            continue;
        }
        if (!v->ha) {
            vm_set(st, r, HA_VM_REPORTED, g_strdup("HA was turned off for it"));
            continue;
        }
        g_autofree char *why = NULL;
        const struct ha_signals *to = place(st, r, v, planned, &why);
        if (!to) {
            if (r->state != HA_VM_UNPLACED || g_strcmp0(r->reason, why) != 0) {
                bool first = r->state != HA_VM_UNPLACED;
                vm_set(st, r, HA_VM_UNPLACED, g_strdup_printf("fits on no surviving host: %s", why));
                if (first)
                    event(st, h->host_id, r, "ha.vm.unplaced", "ha-vm-unplaced", true,
                          SEV_CRITICAL, "%s (from failed host %s) fits on no surviving host: %s",
                          r->name, h->name, why);
            }
            continue;
        }
        if (r->state == HA_VM_UNPLACED)
            event(st, h->host_id, r, "ha.vm.placed", "ha-vm-unplaced", false, SEV_INFO,
                  "%s now fits on %s", r->name, to->name);
        r->to_host = to->host_id;
        r->inflight = true;
        vm_set(st, r, HA_VM_STARTING,
               g_strdup_printf("restarting on %s (attempt %u)", to->name, r->attempts + 1));
        struct ha_out *o = out_new(st, HA_OUT_ACTION, h->host_id, r->uuid, r->name);
        o->action = HA_ACT_RESTART;
        o->to_host_id = to->host_id;
        o->to_host = g_strdup(to->name);
        planned_add(planned, to->host_id, v->mem_bytes);
    }
}

static bool settled(struct step *st, struct ha_host_rec *h, unsigned *ret_started,
                    unsigned *ret_other)
{
    g_autoptr(GPtrArray) recs = recs_of(st, h);
    *ret_started = *ret_other = 0;
    for (guint i = 0; i < recs->len; i++) {
        const struct ha_vm_rec *r = g_ptr_array_index(recs, i);
        if (r->state == HA_VM_PENDING || r->state == HA_VM_STARTING ||
            r->state == HA_VM_UNPLACED)
            return false;
        if (r->state == HA_VM_STARTED)
            (*ret_started)++;
        else
            (*ret_other)++;
    }
    return true;
}

static bool restarting(struct step *st, struct ha_host_rec *h)
{
    g_autoptr(GPtrArray) recs = recs_of(st, h);
    for (guint i = 0; i < recs->len; i++) {
        const struct ha_vm_rec *r = g_ptr_array_index(recs, i);
        if (r->state == HA_VM_STARTING && r->inflight)
            return true;
    }
    return false;
}

static int uuid_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void act_rejoin(struct step *st, struct ha_host_rec *h);

/* The host a VM of H's failure was restarted on that kanri cannot see
 * now (it is not connected, and not declared dead itself), or NULL: the
 * rejoin waits for it, since whether a copy on H is stale depends on what
 * runs there. */
static const char *target_unseen(struct step *st, struct ha_host_rec *h)
{
    g_autoptr(GPtrArray) recs = recs_of(st, h);
    for (guint i = 0; i < recs->len; i++) {
        const struct ha_vm_rec *r = g_ptr_array_index(recs, i);
        if (r->state != HA_VM_STARTED || !r->to_host)
            continue;
        const struct ha_signals *sig = signals_of(st, r->to_host);
        const struct ha_host_rec *to = g_hash_table_lookup(st->s->hosts, &r->to_host);
        bool dead = to && to->state != HA_UP && to->state != HA_SUSPECT;
        if (sig && (!sig->connected || sig->loading) && !dead)
            return sig->name;
    }
    return NULL;
}

/* Host H is back: clean it before it is "up" again, once the hosts its VMs
 * were restarted on can be seen. */
static void rejoin(struct step *st, struct ha_host_rec *h)
{
    const char *wait = target_unseen(st, h);
    if (wait) {
        host_set(st, h, h->state,
                 g_strdup_printf("back; waiting for %s to be connected before cleaning its "
                                 "stale copies",
                                 wait));
        return;
    }
    host_set(st, h, HA_REJOINING, g_strdup("back: cleaning its stale copies"));
    act_rejoin(st, h);
}

/* Host H is back: clean it before it is "up" again. */
static void act_rejoin(struct step *st, struct ha_host_rec *h)
{
    struct ha_out *o = out_new(st, HA_OUT_ACTION, h->host_id, NULL, NULL);
    o->action = HA_ACT_REJOIN;
    o->remove = g_ptr_array_new_with_free_func(g_free);
    o->start = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) recs = recs_of(st, h);
    for (guint i = 0; i < recs->len; i++) {
        const struct ha_vm_rec *r = g_ptr_array_index(recs, i);
        const struct ha_vm *v = vm_of(st, r->uuid);
        if (r->state == HA_VM_STARTED)
            g_ptr_array_add(o->remove, g_strdup(r->uuid));
        else if (!v || v->restart != HA_RESTART_REPORT)
            g_ptr_array_add(o->start, g_strdup(r->uuid));
    }
    g_ptr_array_sort(o->remove, uuid_cmp);
    g_ptr_array_sort(o->start, uuid_cmp);
    h->inflight = true;
}

static void step_host(struct step *st, const struct ha_signals *sig)
{
    int64_t now = st->in->now_us;
    struct ha_host_rec *h = ha_state_host(st->s, sig->host_id, sig->name, now);
    g_autofree char *why = NULL;
    if (sig->loading)
        return;

    switch (h->state) {
    case HA_UP:
        if (sig->connected) {
            host_set(st, h, HA_UP, NULL);
            return;
        }
        host_set(st, h, HA_SUSPECT, NULL);
        h->since_us = sig->lost_us;
        event(st, h->host_id, NULL, "ha.host.suspect", NULL, false, SEV_INFO,
              "Lost the connection to host %s; watching its other signals", h->name);
        /* A loss seen late (kanrid's start) is judged now. */
        G_GNUC_FALLTHROUGH;
    case HA_SUSPECT:
    case HA_DOWN: {
        if (sig->connected) {
            bool was_down = h->state == HA_DOWN;
            host_set(st, h, HA_UP, NULL);
            h->failed_us = 0;
            if (was_down)
                event(st, h->host_id, NULL, "ha.host.up", "ha-host-failed", false, SEV_INFO,
                      "Host %s is back", h->name);
            else
                event(st, h->host_id, NULL, "ha.host.up", NULL, false, SEV_INFO,
                      "Host %s is back after %.1f s, before it was declared dead", h->name,
                      secs(now - sig->lost_us));
            return;
        }
        if (h->state == HA_DOWN) {
            g_autoptr(GPtrArray) vms = ha_vms_on(st, h->host_id);
            if (vms->len && st->conf->enabled)
                start_fencing(st, h, sig, vms->len);
            return;
        }
        if (!declared_dead(st, sig, &why)) {
            host_set(st, h, HA_SUSPECT, g_steal_pointer(&why));
            return;
        }
        h->failed_us = now;
        h->fence_attempts = 0;
        g_autoptr(GPtrArray) vms = ha_vms_on(st, h->host_id);
        event(st, h->host_id, NULL, "ha.host.failed", "ha-host-failed", true, SEV_CRITICAL,
              "Host %s declared dead: %s", h->name, why);
        if (!vms->len) {
            host_set(st, h, HA_DOWN, g_strdup_printf("declared dead (%s); no HA VM to restart", why));
            return;
        }
        start_fencing(st, h, sig, vms->len);
        return;
    }
    case HA_FENCING:
        if (!h->inflight)
            act_fence(st, h); /* kanrid restarted while fencing: fence again */
        return;
    case HA_FENCE_FAILED:
        if (sig->connected) {
            host_set(st, h, HA_UP, NULL);
            h->failed_us = 0;
            event(st, h->host_id, NULL, "ha.host.up", "ha-fence-failed", false, SEV_INFO,
                  "Host %s is back; none of its VMs was restarted elsewhere", h->name);
            event(st, h->host_id, NULL, "ha.host.up", "ha-host-failed", false, SEV_INFO,
                  "Host %s is back", h->name);
            return;
        }
        if (st->conf->enabled && sig->fence_configured && !h->inflight && now >= h->next_fence_us) {
            g_autoptr(GPtrArray) vms = ha_vms_on(st, h->host_id);
            if (vms->len)
                start_fencing(st, h, sig, vms->len);
        }
        return;
    case HA_FENCED: {
        if (st->conf->enabled)
            plan_restarts(st, h);
        unsigned started, other;
        if (settled(st, h, &started, &other)) {
            g_autofree char *vms = ha_vms_text(started);
            host_set(st, h, HA_RECOVERED,
                     g_strdup_printf("%s restarted elsewhere, %u not; waiting for the host to "
                                     "come back",
                                     vms, other));
            event(st, h->host_id, NULL, "ha.host.recovered", NULL, false, SEV_INFO,
                  "Recovery of host %s done: %s restarted elsewhere, %u not", h->name, vms,
                  other);
        } else if (sig->connected && !restarting(st, h)) {
            /* Back before its VMs were all placed: the rest start there. */
            rejoin(st, h);
        }
        return;
    }
    case HA_RECOVERED:
        if (sig->connected)
            rejoin(st, h);
        return;
    case HA_REJOINING:
        if (!h->inflight && now >= h->next_fence_us)
            act_rejoin(st, h);
        return;
    case HA_HOST_N:
        return;
    }
}

static void apply_result(struct step *st, const struct ha_result *res)
{
    int64_t now = st->in->now_us;
    if (res->kind == HA_ACT_RESTART) {
        struct ha_vm_rec *r = g_hash_table_lookup(st->s->vms, res->uuid);
        if (!r || r->state != HA_VM_STARTING)
            return;
        r->inflight = false;
        const char *to = host_name(st, res->host_id);
        if (res->ok) {
            /* DETAIL on success: how it came to run there (it was found
             * running already). */
            r->to_host = res->host_id;
            vm_set(st, r, HA_VM_STARTED,
                   res->detail ? g_strdup_printf("running on %s: %s", to, res->detail)
                               : g_strdup_printf("restarted on %s", to));
            event(st, r->from_host, r, "ha.vm.restarted", NULL, false, SEV_MAJOR,
                  "%s %s on %s%s%s (its host %s failed)", r->name,
                  res->detail ? "runs" : "restarted", to, res->detail ? ": " : "",
                  res->detail ? res->detail : "", host_name(st, r->from_host));
            return;
        }
        r->attempts++;
        r->failed_host = res->host_id;
        const char *detail = res->detail ? res->detail : "failed";
        if (res->lease_held) {
            vm_set(st, r, HA_VM_FAILED,
                   g_strdup_printf("the storage lease of its disks is held (%s): an old copy may "
                                   "still run; not retried",
                                   detail));
            event(st, r->from_host, r, "ha.vm.restart-failed", "ha-vm-restart-failed", true,
                  SEV_CRITICAL,
                  "%s was not restarted on %s: its disks' lease is held, so a copy may still run "
                  "on %s despite the fence (%s); not retried",
                  r->name, to, host_name(st, r->from_host), detail);
        } else if (r->attempts >= st->conf->restart_attempts) {
            vm_set(st, r, HA_VM_FAILED,
                   g_strdup_printf("gave up after %u attempts: %s", r->attempts, detail));
            event(st, r->from_host, r, "ha.vm.restart-failed", "ha-vm-restart-failed", true,
                  SEV_CRITICAL, "%s could not be restarted (%u attempts; last on %s: %s)",
                  r->name, r->attempts, to, detail);
        } else {
            vm_set(st, r, HA_VM_PENDING, g_strdup_printf("restart on %s failed: %s", to, detail));
            event(st, r->from_host, r, "ha.vm.restart-failed", NULL, false, SEV_WARNING,
                  "Restarting %s on %s failed (%s); trying again", r->name, to, detail);
        }
        return;
    }
    struct ha_host_rec *h = g_hash_table_lookup(st->s->hosts, &res->host_id);
    if (!h)
        return;
    const char *detail = res->detail ? res->detail : (res->ok ? "done" : "failed");
    if (res->kind == HA_ACT_FENCE) {
        h->inflight = false;
        if (h->state != HA_FENCING)
            return;
        if (res->ok) {
            enter_fenced(st, h, g_strdup_printf("fenced: %s", detail));
            event(st, h->host_id, NULL, "ha.fence.ok", "ha-fence-failed", false, SEV_INFO,
                  "Host %s is fenced (%s)", h->name, detail);
        } else {
            h->next_fence_us = now + st->conf->fence_retry_us;
            host_set(st, h, HA_FENCE_FAILED,
                     g_strdup_printf("fence failed (%s): nothing is restarted; trying again in "
                                     "%.0f s",
                                     detail, secs(st->conf->fence_retry_us)));
            event(st, h->host_id, NULL, "ha.fence.failed", "ha-fence-failed", true, SEV_CRITICAL,
                  "Fencing host %s failed (%s): its HA VMs are not restarted", h->name, detail);
        }
        return;
    }
    /* HA_ACT_REJOIN */
    h->inflight = false;
    if (h->state != HA_REJOINING)
        return;
    if (!res->ok) {
        h->next_fence_us = now + st->conf->fence_retry_us;
        g_free(h->reason);
        h->reason = g_strdup_printf("cleaning failed (%s); trying again", detail);
        event(st, h->host_id, NULL, "ha.host.rejoin-failed", NULL, false, SEV_WARNING,
              "Cleaning host %s after its return failed (%s); trying again", h->name, detail);
        return;
    }
    g_autoptr(GPtrArray) recs = recs_of(st, h);
    for (guint i = 0; i < recs->len; i++) {
        struct ha_vm_rec *r = g_ptr_array_index(recs, i);
        if (r->state == HA_VM_UNPLACED)
            event(st, h->host_id, r, "ha.vm.placed", "ha-vm-unplaced", false, SEV_INFO,
                  "%s is back on %s", r->name, h->name);
        if (r->state == HA_VM_FAILED)
            event(st, h->host_id, r, "ha.vm.back", "ha-vm-restart-failed", false, SEV_INFO,
                  "%s is back on %s", r->name, h->name);
        r->state = HA_VM_DONE;
        r->dirty = true;
    }
    host_set(st, h, HA_UP, NULL);
    h->failed_us = 0;
    h->next_fence_us = 0;
    event(st, h->host_id, NULL, "ha.host.rejoined", "ha-host-failed", false, SEV_INFO,
          "Host %s is back and cleaned (%s)", h->name, detail);
}

void ha_step(const struct ha_conf *conf, struct ha_state *s, const struct ha_input *in,
             GPtrArray *out)
{
    struct step st = {.conf = conf, .s = s, .in = in, .out = out};
    /* Hosts known before their signals: names for the results' words. */
    for (size_t i = 0; i < in->n_hosts; i++)
        ha_state_host(s, in->hosts[i].host_id, in->hosts[i].name, in->now_us);
    for (size_t i = 0; i < in->n_results; i++)
        apply_result(&st, &in->results[i]);
    for (size_t i = 0; i < in->n_confirms; i++) {
        struct ha_host_rec *h = g_hash_table_lookup(s->hosts, &in->confirms[i].host_id);
        if (!h || (h->state != HA_FENCING && h->state != HA_FENCE_FAILED && h->state != HA_DOWN))
            continue;
        if (!h->failed_us)
            h->failed_us = in->now_us;
        h->inflight = false;
        const char *by = in->confirms[i].by ? in->confirms[i].by : "an operator";
        enter_fenced(&st, h, g_strdup_printf("confirmed off by %s", by));
        event(&st, h->host_id, NULL, "ha.fence.confirmed", "ha-fence-failed", false, SEV_INFO,
              "%s confirmed host %s is off", by, h->name);
    }
    for (size_t i = 0; i < in->n_hosts; i++)
        step_host(&st, &in->hosts[i]);
}
