/*
 * High availability, the engine's side (docs/ha.md): gathers each host's
 * signals and the HA VMs from the latest view, steps the state machine of
 * src/policy/ha.c about once a second, stores what changed, posts its
 * events, and runs what it asks for — fence a host with its fence agent,
 * restart a VM on another host, clean a host that came back — as audited
 * actions of actor "ha".
 *
 * Threads: a ticker (the step), one prober per host with a probe (the
 * reachability signal), and HA_WORKERS workers for the actions.  Locks:
 * ha->lock guards everything in struct engine_ha; it is never held
 * together with e->lock (the ticker takes one, then the other).
 */
#include "config.h"

#include "engine/engine-private.h"
#include "policy-private.h"

#include "basic/json.h"
#include "basic/run.h"
#include "basic/util.h"
#include "policy/ha.h"

#include <errno.h>
#include <json-c/json.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HA_WORKERS        4
#define HA_TICK_US        (G_USEC_PER_SEC)
#define HA_PROBE_EVERY_US (2 * G_USEC_PER_SEC)
#define HA_PROBE_TIMEOUT  (3 * G_USEC_PER_SEC)

static const struct actor ha_actor = {.name = "ha", .token_id = 0};

/* One host's HA configuration and its probe's latest answer. */
struct ha_host {
    int64_t host_id;
    char *name;
    char **fence; /* the fence agent's command line; NULL none */
    char *fence_text;
    int fence_timeout_s;
    struct ha_probe_spec probe;
    char *probe_text; /* as configured or derived from the URI; NULL none */
    GThread *prober;
    /* under ha->lock */
    enum ha_probe answer; /* HA_PROBE_UNKNOWN until it answered */
    int64_t answer_us;
    char *answer_detail;
    /* the signals of the last tick, for the API */
    struct ha_signals last;
    int64_t lost_us;
};

/* A result of an action, its strings owned. */
struct job_result {
    struct ha_result r;
    char *uuid, *detail;
};

struct job {
    enum ha_action_kind kind;
    int64_t host_id, to_host_id;
    char *host, *to_host, *uuid, *name;
    GPtrArray *remove, *start;
};

struct engine_ha {
    /* Held by a tick from its step until its events are stored, and by
     * the readers of the state (engine_ha_json, engine_ha_metrics): who
     * sees a host's new state finds the event that says why. */
    GMutex publish;
    GMutex lock;
    GCond cond; /* the ticker, the probers and the workers wait on it */
    bool quit, started, wake;
    bool abandoned; /* stopped with a job still running: never freed */
    struct ha_conf conf;
    GHashTable *vm_conf; /* VM name -> struct ha_vm_settings * (kanri.conf; referenced) */
    GHashTable *groups;  /* group -> GStrv of host names (kanri.conf; referenced) */
    GHashTable *vm_api;  /* uuid -> struct ha_vm_settings * (the API's, stored) */
    GPtrArray *hosts;    /* struct ha_host * */
    struct ha_state *state;
    GArray *results;  /* struct job_result, waiting for the next step */
    GArray *confirms; /* struct ha_confirm, .by owned */
    GQueue jobs;      /* struct job * */
    unsigned running; /* jobs being run */
    GThread *ticker;
    GThread *workers[HA_WORKERS];
    int64_t started_us;
};

static void ha_host_free(gpointer p)
{
    struct ha_host *h = p;
    g_free(h->name);
    g_strfreev(h->fence);
    g_free(h->fence_text);
    ha_probe_spec_clear(&h->probe);
    g_free(h->probe_text);
    g_free(h->answer_detail);
    g_free(h);
}

static void job_free(struct job *j)
{
    if (!j)
        return;
    g_free(j->host);
    g_free(j->to_host);
    g_free(j->uuid);
    g_free(j->name);
    if (j->remove)
        g_ptr_array_unref(j->remove);
    if (j->start)
        g_ptr_array_unref(j->start);
    g_free(j);
}

static void job_result_clear(gpointer p)
{
    struct job_result *r = p;
    g_free(r->uuid);
    g_free(r->detail);
}

static void confirm_clear(gpointer p)
{
    g_free((char *)((struct ha_confirm *)p)->by);
}

void engine_ha_new(struct engine *e)
{
    struct engine_ha *ha = g_new0(struct engine_ha, 1);
    g_mutex_init(&ha->publish);
    g_mutex_init(&ha->lock);
    g_cond_init(&ha->cond);
    ha->conf = e->conf.ha;
    ha->vm_conf = e->conf.ha_vms ? g_hash_table_ref(e->conf.ha_vms)
                                 : g_hash_table_new(g_str_hash, g_str_equal);
    ha->groups = e->conf.ha_groups ? g_hash_table_ref(e->conf.ha_groups)
                                   : g_hash_table_new(g_str_hash, g_str_equal);
    ha->vm_api = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, ha_vm_settings_free);
    ha->hosts = g_ptr_array_new_with_free_func(ha_host_free);
    ha->state = ha_state_new();
    ha->results = g_array_new(FALSE, TRUE, sizeof(struct job_result));
    g_array_set_clear_func(ha->results, job_result_clear);
    ha->confirms = g_array_new(FALSE, TRUE, sizeof(struct ha_confirm));
    g_array_set_clear_func(ha->confirms, confirm_clear);
    g_queue_init(&ha->jobs);
    e->ha = ha;
}

void engine_ha_free(struct engine *e)
{
    struct engine_ha *ha = e->ha;
    if (!ha || ha->abandoned)
        return; /* a worker may still use it; kanrid is exiting */
    g_hash_table_unref(ha->vm_conf);
    g_hash_table_unref(ha->groups);
    g_hash_table_unref(ha->vm_api);
    g_ptr_array_unref(ha->hosts);
    ha_state_free(ha->state);
    g_array_unref(ha->results);
    g_array_unref(ha->confirms);
    g_queue_clear_full(&ha->jobs, (GDestroyNotify)job_free);
    g_cond_clear(&ha->cond);
    g_mutex_clear(&ha->publish);
    g_mutex_clear(&ha->lock);
    g_free(ha);
    e->ha = NULL;
}

/* ---- configuration ---- */

/* The probe of a host whose kanri.conf names none: a TCP connection to
 * the libvirt URI's host (its port, else the transport's: 22 for ssh,
 * 16509 for tcp, 16514 for tls); none for a local URI. */
static char *default_probe(const char *uri)
{
    g_autoptr(GUri) u = uri ? g_uri_parse(uri, G_URI_FLAGS_NONE, NULL) : NULL;
    const char *host = u ? g_uri_get_host(u) : NULL;
    if (!host || !*host)
        return NULL;
    int port = g_uri_get_port(u);
    if (port <= 0) {
        const char *plus = strchr(g_uri_get_scheme(u), '+');
        const char *transport = plus ? plus + 1 : "tls";
        port = g_str_has_suffix(transport, "ssh") || g_str_has_prefix(transport, "libssh") ? 22
               : g_str_equal(transport, "tcp")                                              ? 16509
                                                                                           : 16514;
    }
    bool v6 = strchr(host, ':') != NULL;
    return g_strdup_printf("tcp:%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

static void start_prober(struct engine *e, struct ha_host *h);

int engine_ha_host(struct engine *e, const char *name, const char *uri, const char *fence,
                   const char *probe, int fence_timeout_s, GError **error)
{
    int64_t host_id = 0;
    g_mutex_lock(&e->lock);
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (g_str_equal(h->name, name))
            host_id = h->id;
    }
    g_mutex_unlock(&e->lock);
    if (!host_id) {
        engine_set_error(error, ENGINE_OPS_NOT_FOUND, "no host '%s'", name);
        return -ENOENT;
    }
    struct ha_host *h = g_new0(struct ha_host, 1);
    h->host_id = host_id;
    h->name = g_strdup(name);
    h->fence_timeout_s = fence_timeout_s > 0 ? fence_timeout_s : 60;
    g_autoptr(GError) err = NULL;
    if (fence && !g_shell_parse_argv(fence, NULL, &h->fence, &err)) {
        engine_set_error(error, ENGINE_OPS_INVALID, "host %s: fence: %s", name, err->message);
        ha_host_free(h);
        return -EINVAL;
    }
    h->fence_text = g_strdup(fence);
    h->probe_text = probe ? g_strdup(probe) : default_probe(uri);
    if (!ha_probe_spec_parse(h->probe_text, &h->probe, &err)) {
        engine_set_error(error, ENGINE_OPS_INVALID, "host %s: %s", name, err->message);
        ha_host_free(h);
        return -EINVAL;
    }
    if (h->probe.kind == HA_PROBE_KIND_NONE)
        g_clear_pointer(&h->probe_text, g_free);
    h->answer = h->probe.kind == HA_PROBE_KIND_NONE ? HA_PROBE_NONE : HA_PROBE_UNKNOWN;
    g_mutex_lock(&e->ha->lock);
    g_ptr_array_add(e->ha->hosts, h);
    bool started = e->ha->started;
    g_mutex_unlock(&e->ha->lock);
    if (started)
        start_prober(e, h);
    return 0;
}

static struct ha_host *host_by_id(struct engine_ha *ha, int64_t host_id)
{
    for (guint i = 0; i < ha->hosts->len; i++) {
        struct ha_host *h = g_ptr_array_index(ha->hosts, i);
        if (h->host_id == host_id)
            return h;
    }
    return NULL;
}

/* The HA settings in force for a VM (the API's over kanri.conf's); NULL:
 * none (not an HA VM).  Under ha->lock. */
static const struct ha_vm_settings *settings_of(struct engine_ha *ha, const char *uuid,
                                                const char *name, const char **ret_source)
{
    const struct ha_vm_settings *s = g_hash_table_lookup(ha->vm_api, uuid);
    if (s) {
        if (ret_source)
            *ret_source = "api";
        return s;
    }
    s = name ? g_hash_table_lookup(ha->vm_conf, name) : NULL;
    if (ret_source)
        *ret_source = s ? "kanri.conf" : NULL;
    return s;
}

/* ---- the probers ---- */

/* Whether a TCP connection to HOST:PORT (any of its addresses) is
 * accepted within TIMEOUT_US; *ret_why says why not. */
static bool tcp_connects(const char *host, int port, int64_t timeout_us, char **ret_why)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    g_autofree char *service = g_strdup_printf("%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        *ret_why = g_strdup(gai_strerror(rc));
        return false;
    }
    int64_t deadline = mono_usec() + timeout_us;
    int err = ETIMEDOUT;
    bool ok = false;
    for (struct addrinfo *a = res; a && !ok && mono_usec() < deadline; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            ok = true;
        } else if (errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int ms = (int)MAX((deadline - mono_usec()) / 1000, 1);
            int soerr = ETIMEDOUT;
            socklen_t len = sizeof(soerr);
            if (poll(&p, 1, ms) == 1)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
            ok = soerr == 0;
            err = soerr;
        } else {
            err = errno;
        }
        close(fd);
    }
    freeaddrinfo(res);
    if (!ok)
        *ret_why = g_strdup(g_strerror(err));
    return ok;
}

static void probe_once(struct ha_host *h, enum ha_probe *ret, char **ret_detail)
{
    if (h->probe.kind == HA_PROBE_KIND_TCP) {
        g_autofree char *why = NULL;
        bool ok = tcp_connects(h->probe.host, h->probe.port, HA_PROBE_TIMEOUT, &why);
        *ret = ok ? HA_PROBE_OK : HA_PROBE_FAILED;
        *ret_detail = ok ? g_strdup_printf("%s:%d accepts connections", h->probe.host,
                                           h->probe.port)
                         : g_strdup_printf("%s:%d: %s", h->probe.host, h->probe.port, why);
        return;
    }
    struct run_result r;
    g_autoptr(GError) err = NULL;
    if (run_argv((const char *const *)h->probe.argv, NULL, NULL, HA_PROBE_TIMEOUT, &r, &err) < 0) {
        *ret = HA_PROBE_FAILED;
        *ret_detail = g_strdup_printf("%s: %s", h->probe.argv[0], err->message);
        return;
    }
    g_autofree char *line = run_first_line(r.output);
    *ret = !r.timed_out && r.status == 0 ? HA_PROBE_OK : HA_PROBE_FAILED;
    if (r.timed_out)
        *ret_detail = g_strdup_printf("%s timed out", h->probe.argv[0]);
    else
        *ret_detail = g_strdup_printf("%s: exit %d%s%s", h->probe.argv[0], r.status,
                                      *line ? ": " : "", line);
    run_result_clear(&r);
}

struct prober {
    struct engine *e;
    struct ha_host *h;
};

static gpointer prober(gpointer data)
{
    struct prober *p = data;
    struct engine_ha *ha = p->e->ha;
    struct ha_host *h = p->h;
    g_free(p);
    for (;;) {
        enum ha_probe answer;
        g_autofree char *detail = NULL;
        probe_once(h, &answer, &detail);
        g_mutex_lock(&ha->lock);
        bool changed = answer != h->answer;
        h->answer = answer;
        h->answer_us = now_usec();
        g_free(h->answer_detail);
        h->answer_detail = g_steal_pointer(&detail);
        if (changed) {
            ha->wake = true;
            g_cond_broadcast(&ha->cond);
        }
        int64_t until = g_get_monotonic_time() + HA_PROBE_EVERY_US;
        while (!ha->quit && g_cond_wait_until(&ha->cond, &ha->lock, until))
            ;
        bool quit = ha->quit;
        g_mutex_unlock(&ha->lock);
        if (quit)
            return NULL;
    }
}

/* ---- gathering the signals (under e->lock) ---- */

static bool state_running(const char *state)
{
    return state && !g_str_equal(state, "shutoff") && !g_str_equal(state, "crashed") &&
           !g_str_equal(state, "nostate");
}

/* When the newest kanri-guestd report of IT arrived; 0 none. */
static int64_t guestd_seen(const struct item *it)
{
    int64_t t = 0;
    if (it->have_guest[GS_GUESTD][0])
        t = it->guest[GS_GUESTD][0].received_us;
    if (it->have_next[GS_GUESTD])
        t = MAX(t, it->next[GS_GUESTD].received_us);
    return t;
}

struct gathered {
    GArray *hosts;    /* struct ha_signals */
    GArray *vms;      /* struct ha_vm */
    GArray *seen;     /* int64_t per VM: its newest kanri-guestd report, 0 none */
    GPtrArray *keep;  /* strings the above point to */
    bool enabled;     /* the policies' kill switch */
};

static void gathered_clear(struct gathered *g)
{
    g_array_unref(g->hosts);
    g_array_unref(g->vms);
    if (g->seen)
        g_array_unref(g->seen);
    g_ptr_array_unref(g->keep);
}

static const char *keep(struct gathered *g, const char *s)
{
    if (!s)
        return NULL;
    char *c = g_strdup(s);
    g_ptr_array_add(g->keep, c);
    return c;
}

/* The VMs HA cares about: those with HA settings (by uuid or name) and
 * those with a recovery on record.  Under ha->lock. */
static GHashTable *relevant(struct engine_ha *ha)
{
    GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTable *tables[] = {ha->vm_api, ha->vm_conf, ha->state->vms};
    for (size_t i = 0; i < G_N_ELEMENTS(tables); i++) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, tables[i]);
        while (g_hash_table_iter_next(&it, &k, &v))
            g_hash_table_add(t, g_strdup(k));
    }
    return t;
}

/* Every host's signals but the probe's (added under ha->lock), and one
 * entry per VM of WANTED (uuids and names) that the inventories have (an
 * HA VM's settings are added later too). */
static void gather(struct engine *e, GHashTable *wanted, struct gathered *g)
{
    g->hosts = g_array_new(FALSE, TRUE, sizeof(struct ha_signals));
    g->vms = g_array_new(FALSE, TRUE, sizeof(struct ha_vm));
    g->keep = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) index = g_hash_table_new(g_str_hash, g_str_equal); /* uuid -> idx+1 */
    int64_t start = e->ha->started_us;
    g_mutex_lock(&e->lock);
    g->enabled = e->policy->set.enabled;
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        /* A container host is never a place to restart a VM; a host
         * another instance holds is that instance's to watch. */
        if (ehost_containers(h) || !h->held)
            continue;
        struct ha_signals s = {.host_id = h->id, .name = keep(g, h->name)};
        s.connected = h->state == HOST_CONNECTED;
        s.lost_us = s.connected ? 0 : h->down_us ? h->down_us : start;
        s.loading = !h->synced_once && h->state == HOST_CONNECTING;
        s.maintenance = h->maintenance;
        s.mem_free = NAN;
        if (h->have_node && h->node.mem_free != SAMPLE_ABSENT) {
            double free = (double)h->node.mem_free;
            if (h->node.mem_buffers != SAMPLE_ABSENT)
                free += (double)h->node.mem_buffers;
            if (h->node.mem_cached != SAMPLE_ABSENT)
                free += (double)h->node.mem_cached;
            s.mem_free = free;
        }
        g_array_append_val(g->hosts, s);
    }
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (ehost_containers(h) || !h->held)
            continue;
        bool connected = h->state == HOST_CONNECTED;
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, h->inv);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            const struct inv_dom *d = v;
            if (d->removed || (!g_hash_table_contains(wanted, d->uuid) &&
                               !(d->name && g_hash_table_contains(wanted, d->name))))
                continue;
            bool running = state_running(d->state);
            guint idx = GPOINTER_TO_UINT(g_hash_table_lookup(index, d->uuid));
            struct ha_vm *vm;
            if (!idx) {
                struct ha_vm nv = {.uuid = keep(g, d->uuid), .name = keep(g, d->name),
                                   .host_id = h->id, .running = running, .mem_bytes = NAN};
                g_array_append_val(g->vms, nv);
                g_hash_table_insert(index, (gpointer)nv.uuid, GUINT_TO_POINTER(g->vms->len));
                vm = &g_array_index(g->vms, struct ha_vm, g->vms->len - 1);
            } else {
                vm = &g_array_index(g->vms, struct ha_vm, idx - 1);
                /* The same VM on several hosts (restarted elsewhere while
                 * its old host was away): a running copy wins. */
                if (running && !vm->running) {
                    vm->host_id = h->id;
                    vm->running = true;
                }
            }
            if (running && connected) {
                vm->running_on = h->id;
                vm->host_id = h->id;
            }
            if (d->max_memory > 0)
                vm->mem_bytes = (double)d->max_memory;
        }
    }
    /* When each last reported through kanri-guestd (a signal of its
     * host's life when that host is lost). */
    g->seen = g_array_sized_new(FALSE, TRUE, sizeof(int64_t), g->vms->len);
    for (guint i = 0; i < g->vms->len; i++) {
        const struct ha_vm *vm = &g_array_index(g->vms, struct ha_vm, i);
        struct item *it = g_hash_table_lookup(e->items, vm->uuid);
        int64_t seen = it ? guestd_seen(it) : 0;
        g_array_append_val(g->seen, seen);
    }
    g_mutex_unlock(&e->lock);
}

/* Adds what ha->lock guards to G: each VM's settings, each host's probe,
 * fence agent and the guests still reporting.  Under ha->lock. */
static void complete(struct engine_ha *ha, struct gathered *g)
{
    for (guint i = 0; i < g->vms->len; i++) {
        struct ha_vm *vm = &g_array_index(g->vms, struct ha_vm, i);
        const struct ha_vm_settings *s = settings_of(ha, vm->uuid, vm->name, NULL);
        if (!s)
            continue;
        vm->ha = s->ha;
        vm->priority = s->priority;
        vm->restart = s->restart;
        vm->allowed = s->group ? g_hash_table_lookup(ha->groups, s->group) : NULL;
    }
    for (guint i = 0; i < g->hosts->len; i++) {
        struct ha_signals *s = &g_array_index(g->hosts, struct ha_signals, i);
        struct ha_host *h = host_by_id(ha, s->host_id);
        s->fence_configured = h && h->fence;
        /* A first connection that takes long to a host that does not
         * answer its probe either: it is lost since kanrid started. */
        if (s->loading && h && h->answer == HA_PROBE_FAILED)
            s->loading = false;
        if (!h || h->probe.kind == HA_PROBE_KIND_NONE) {
            s->probe = HA_PROBE_NONE;
        } else if (!s->connected && h->answer_us <= s->lost_us) {
            /* Only an answer after the loss tells about the host now. */
            s->probe = HA_PROBE_UNKNOWN;
        } else {
            s->probe = h->answer;
            s->probe_us = h->answer_us;
            s->probe_detail = keep(g, h->answer_detail);
        }
        for (guint j = 0; j < g->vms->len; j++) {
            const struct ha_vm *vm = &g_array_index(g->vms, struct ha_vm, j);
            int64_t seen = g_array_index(g->seen, int64_t, j);
            if (!vm->ha || !vm->running || vm->host_id != s->host_id || !seen)
                continue;
            s->guests_direct++;
            if (s->lost_us && seen > s->lost_us)
                s->guests_alive++;
        }
        if (h) {
            h->last = *s;
            h->last.name = NULL;
            h->last.probe_detail = NULL;
            h->lost_us = s->lost_us;
        }
    }
}

static struct ha_host_row *host_row(const struct ha_host_rec *h)
{
    struct ha_host_row *r = g_new0(struct ha_host_row, 1);
    r->host_id = h->host_id;
    r->state = g_strdup(ha_host_state_name(h->state));
    r->since = h->since_us;
    r->failed = h->failed_us;
    r->fence_attempts = h->fence_attempts;
    r->next_fence = h->next_fence_us;
    r->reason = g_strdup(h->reason);
    return r;
}

static void host_row_free(gpointer p)
{
    struct ha_host_row *r = p;
    g_free(r->state);
    g_free(r->reason);
    g_free(r);
}

static struct ha_recovery_row *recovery_row(const struct ha_vm_rec *v)
{
    struct ha_recovery_row *r = g_new0(struct ha_recovery_row, 1);
    r->uuid = g_strdup(v->uuid);
    r->vm = g_strdup(v->name);
    r->from_host_id = v->from_host;
    r->to_host_id = v->to_host;
    r->failed_host_id = v->failed_host;
    r->state = g_strdup(ha_vm_state_name(v->state));
    r->since = v->since_us;
    r->failure = v->failure_us;
    r->attempts = v->attempts;
    r->reason = g_strdup(v->reason);
    return r;
}

static void recovery_row_free(gpointer p)
{
    struct ha_recovery_row *r = p;
    g_free(r->uuid);
    g_free(r->vm);
    g_free(r->state);
    g_free(r->reason);
    g_free(r);
}

static struct job *job_of(const struct ha_out *o)
{
    struct job *j = g_new0(struct job, 1);
    j->kind = o->action;
    j->host_id = o->host_id;
    j->host = g_strdup(o->host);
    j->to_host_id = o->to_host_id;
    j->to_host = g_strdup(o->to_host);
    j->uuid = g_strdup(o->uuid);
    j->name = g_strdup(o->vm_name);
    if (o->remove)
        j->remove = g_ptr_array_ref(o->remove);
    if (o->start)
        j->start = g_ptr_array_ref(o->start);
    return j;
}

static void post(struct engine *e, const struct ha_out *o)
{
    g_autofree char *item =
        o->uuid ? g_strconcat("vm:", o->uuid, NULL) : g_strconcat("host:", o->host, NULL);
    struct event *ev = event_new(now_usec(), item, o->uuid ? o->vm_name : o->host,
                                 o->uuid ? o->host : NULL, o->event_kind, o->condition,
                                 o->problem, (enum severity)o->severity, o->message);
    /* A cleared condition matters only where it had opened an incident. */
    ev->only_if_incident = o->condition && !o->problem;
    engine_event_post(e, ev);
    if (o->severity >= SEV_MAJOR || (o->condition && o->problem))
        g_message("ha: %s", o->message);
}

/* An audit entry for a step that is no hypervisor action (done when
 * written). */
static void audit_step(struct engine *e, const char *actor, const char *action, const char *host,
                       const char *why)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "reason", json_object_new_string(why ? why : ""));
    const char *params = json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN);
    int64_t id = 0;
    g_autoptr(GError) err = NULL;
    if (e->store->ops->audit_begin(e->store, actor, 0, action, host, NULL, host, params, &id,
                                   &err) < 0 ||
        e->store->ops->audit_end(e->store, id, true, NULL, &err) < 0)
        g_warning("ha: the audit entry of %s %s: %s", action, host, err->message);
    json_object_put(p);
}

static void tick(struct engine *e)
{
    struct engine_ha *ha = e->ha;
    struct gathered g = {0};
    g_mutex_lock(&ha->lock);
    g_autoptr(GHashTable) wanted = relevant(ha);
    g_mutex_unlock(&ha->lock);
    gather(e, wanted, &g);
    g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func((GDestroyNotify)ha_out_free);
    g_autoptr(GPtrArray) hrows = g_ptr_array_new_with_free_func(host_row_free);
    g_autoptr(GPtrArray) vrows = g_ptr_array_new_with_free_func(recovery_row_free);

    g_mutex_lock(&ha->publish);
    g_mutex_lock(&ha->lock);
    complete(ha, &g);
    g_autoptr(GArray) results = g_array_new(FALSE, TRUE, sizeof(struct ha_result));
    for (guint i = 0; i < ha->results->len; i++)
        g_array_append_val(results, g_array_index(ha->results, struct job_result, i).r);
    struct ha_conf conf = ha->conf;
    conf.enabled = conf.enabled && g.enabled;
    struct ha_input in = {.now_us = now_usec(),
                          .hosts = (const struct ha_signals *)g.hosts->data,
                          .n_hosts = g.hosts->len,
                          .vms = (const struct ha_vm *)g.vms->data,
                          .n_vms = g.vms->len,
                          .results = (const struct ha_result *)results->data,
                          .n_results = results->len,
                          .confirms = (const struct ha_confirm *)ha->confirms->data,
                          .n_confirms = ha->confirms->len};
    ha_step(&conf, ha->state, &in, outs);
    g_array_set_size(ha->results, 0);
    g_array_set_size(ha->confirms, 0);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, ha->state->hosts);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct ha_host_rec *h = v;
        if (h->dirty)
            g_ptr_array_add(hrows, host_row(h));
        h->dirty = false;
    }
    g_hash_table_iter_init(&it, ha->state->vms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct ha_vm_rec *r = v;
        if (r->dirty)
            g_ptr_array_add(vrows, recovery_row(r));
        r->dirty = false;
    }
    for (guint i = 0; i < outs->len; i++) {
        const struct ha_out *o = g_ptr_array_index(outs, i);
        if (o->kind == HA_OUT_ACTION)
            g_queue_push_tail(&ha->jobs, job_of(o));
    }
    g_cond_broadcast(&ha->cond);
    g_mutex_unlock(&ha->lock);

    /* The events first, stored (the ops thread stores events in its own
     * time: it is waited for) before the states they tell of are stored
     * or shown. */
    bool posted = false;
    for (guint i = 0; i < outs->len; i++) {
        const struct ha_out *o = g_ptr_array_index(outs, i);
        if (o->kind != HA_OUT_EVENT)
            continue;
        post(e, o);
        posted = true;
        /* Declaring a host dead is a step of kanri's as much as its fence
         * and restarts are: in the audit trail too. */
        if (g_str_equal(o->event_kind, "ha.host.failed"))
            audit_step(e, ha_actor.name, "declare-dead", o->host, o->message);
    }
    if (posted)
        engine_ops_flush(e);
    /* Stored before the actions' results can change them again: a kanrid
     * restarting finds the machine where it was. */
    for (guint i = 0; i < hrows->len; i++) {
        g_autoptr(GError) err = NULL;
        if (e->store->ops->ha_host_put(e->store, g_ptr_array_index(hrows, i), &err) < 0)
            g_warning("ha: storing a host's state: %s", err->message);
    }
    for (guint i = 0; i < vrows->len; i++) {
        g_autoptr(GError) err = NULL;
        if (e->store->ops->ha_recovery_put(e->store, g_ptr_array_index(vrows, i), &err) < 0)
            g_warning("ha: storing a recovery: %s", err->message);
    }
    g_mutex_unlock(&ha->publish);
    gathered_clear(&g);
}

static gpointer ticker(gpointer data)
{
    struct engine *e = data;
    struct engine_ha *ha = e->ha;
    for (;;) {
        tick(e);
        g_mutex_lock(&ha->lock);
        int64_t until = g_get_monotonic_time() + HA_TICK_US;
        while (!ha->quit && !ha->wake && g_cond_wait_until(&ha->cond, &ha->lock, until))
            ;
        ha->wake = false;
        bool quit = ha->quit;
        g_mutex_unlock(&ha->lock);
        if (quit)
            return NULL;
    }
}

/* ---- the actions ---- */

static char *argv_text(char **argv, const char *extra)
{
    g_autofree char *base = g_path_get_basename(argv[0]);
    return g_strdup_printf("%s %s", base, extra);
}

/* Runs the fence agent with ACTION; its exit status, or -1 with *ret_why
 * when it could not run or timed out. */
static int fence_call(struct ha_host *h, const char *action, char **ret_why)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    for (char **a = h->fence; *a; a++)
        g_ptr_array_add(argv, *a);
    g_autofree char *opt = g_strconcat("--action=", action, NULL);
    g_ptr_array_add(argv, opt);
    g_ptr_array_add(argv, NULL);
    g_autofree char *what = argv_text(h->fence, opt);
    struct run_result r;
    g_autoptr(GError) err = NULL;
    if (run_argv((const char *const *)argv->pdata, NULL, NULL,
                 (int64_t)h->fence_timeout_s * G_USEC_PER_SEC, &r, &err) < 0) {
        *ret_why = g_strdup_printf("%s: %s", what, err->message);
        return -1;
    }
    g_autofree char *line = run_first_line(r.output);
    int status = r.timed_out ? -1 : r.status;
    if (r.timed_out)
        *ret_why = g_strdup_printf("%s timed out after %d s", what, h->fence_timeout_s);
    else
        *ret_why = g_strdup_printf("%s: exit %d%s%s", what, r.status, *line ? ": " : "", line);
    run_result_clear(&r);
    return status;
}

/* Fence-agents' convention: "off" exits 0 when done; "status" exits 0 for
 * on, 2 for off, 1 for an error.  Confirmed only when status says off. */
static bool fence_run(struct engine *e, struct job *j, char **ret_detail)
{
    struct engine_ha *ha = e->ha;
    g_mutex_lock(&ha->lock);
    struct ha_host *h = host_by_id(ha, j->host_id);
    g_mutex_unlock(&ha->lock);
    if (!h || !h->fence) {
        *ret_detail = g_strdup("no fence agent is configured");
        return false;
    }
    g_autofree char *params = g_strdup_printf("{\"agent\":\"%s\",\"timeout_s\":%d}",
                                              h->fence[0], h->fence_timeout_s);
    int64_t audit_id = 0;
    g_autoptr(GError) err = NULL;
    if (e->store->ops->audit_begin(e->store, ha_actor.name, 0, "fence", j->host, NULL, j->host,
                                   params, &audit_id, &err) < 0) {
        *ret_detail = g_strdup_printf("not fenced: the audit entry could not be written: %s",
                                      err->message);
        return false;
    }
    int64_t t0 = mono_usec();
    g_autofree char *off_why = NULL, *status_why = NULL;
    int off = fence_call(h, "off", &off_why);
    bool ok = false;
    if (off != 0) {
        *ret_detail = g_steal_pointer(&off_why);
    } else {
        int st = fence_call(h, "status", &status_why);
        ok = st == 2;
        if (ok)
            *ret_detail = g_strdup_printf("off, confirmed by %s (%.1f s)", status_why,
                                          (double)(mono_usec() - t0) / 1e6);
        else if (st == 0)
            *ret_detail = g_strdup_printf("%s, but %s says it is still on", off_why, status_why);
        else
            *ret_detail = g_strdup_printf("%s, but its status is unknown: %s", off_why,
                                          status_why);
    }
    g_clear_error(&err);
    if (e->store->ops->audit_end(e->store, audit_id, ok, ok ? NULL : *ret_detail, &err) < 0)
        g_warning("ha: finishing the audit entry of fencing %s: %s", j->host, err->message);
    return ok;
}

/* Whether libvirt refused to start a VM because its disks' lease is held
 * (virtlockd or sanlock): an old copy may still run. */
static bool lease_held(const char *msg)
{
    /* virtlockd ("resource busy: Lockspace resource '...' is locked"),
     * sanlock, and QEMU's own image locking, which refuses first where
     * both copies would run on one machine ("Failed to get "write" lock
     * ... Is another process using the image"). */
    static const char *const marks[] = {"lockspace",
                                        "is locked",
                                        "resource busy",
                                        "failed to acquire lock",
                                        "lease",
                                        "failed to get \"write\" lock",
                                        "another process using the image"};
    g_autofree char *low = g_ascii_strdown(msg ? msg : "", -1);
    for (size_t i = 0; i < G_N_ELEMENTS(marks); i++) {
        if (strstr(low, marks[i]))
            return true;
    }
    return false;
}

/* What the store has of UUID's definition on host FROM: the persistent
 * one (what it boots with), else the live one.  NULL with *ret_why. */
static char *definition_of(struct engine *e, int64_t from, const char *uuid, char **ret_why)
{
    int64_t domain_id = 0, version = 0, pversion = 0;
    g_mutex_lock(&e->lock);
    struct ehost *h = engine_host_find(e, from);
    struct inv_dom *d = h ? g_hash_table_lookup(h->inv, uuid) : NULL;
    if (d) {
        domain_id = d->domain_id;
        version = d->version;
        pversion = d->pversion;
    }
    g_mutex_unlock(&e->lock);
    if (!domain_id) {
        *ret_why = g_strdup("its definition is not in the inventory of its host");
        return NULL;
    }
    char *xml = NULL;
    g_autoptr(GError) err = NULL;
    int rc = pversion ? e->store->ops->persistent_get(e->store, domain_id, pversion, &xml, &err)
                      : e->store->ops->config_get(e->store, domain_id, version, &xml, &err);
    if (rc < 0) {
        *ret_why = g_strdup_printf("reading its stored definition: %s", err->message);
        return NULL;
    }
    return xml;
}

/* The state of UUID on host HOST_ID as the inventory has it (NULL: not
 * there), and in *ret_elsewhere a connected host other than HOST_ID on
 * which it runs (0: none). */
static char *state_on(struct engine *e, int64_t host_id, const char *uuid,
                      int64_t *ret_elsewhere)
{
    char *state = NULL;
    int64_t elsewhere = 0;
    g_mutex_lock(&e->lock);
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        struct inv_dom *d = g_hash_table_lookup(h->inv, uuid);
        if (!d || d->removed)
            continue;
        if (h->id == host_id)
            state = g_strdup(d->state ? d->state : "unknown");
        else if (h->state == HOST_CONNECTED && state_running(d->state))
            elsewhere = h->id;
    }
    g_mutex_unlock(&e->lock);
    if (ret_elsewhere)
        *ret_elsewhere = elsewhere;
    return state;
}

static int act(struct engine *e, int64_t host_id, const char *uuid, const char *name,
               enum action_kind kind, GError **error)
{
    struct action_request req;
    action_request_init(&req, kind);
    struct action_result res;
    action_result_init(&res);
    int64_t audit_id = 0;
    int rc = engine_action(e, host_id, uuid, name, &req, "{}", &ha_actor, &res, &audit_id, error);
    action_result_clear(&res);
    action_request_clear(&req);
    return rc;
}

/* *RET_HOST: where it runs when done (J's target, or where it was found
 * running already). */
static bool restart_run(struct engine *e, struct job *j, int64_t *ret_host, bool *ret_lease,
                        char **ret_detail)
{
    int64_t elsewhere = 0;
    g_autofree char *state = state_on(e, j->to_host_id, j->uuid, &elsewhere);
    if (elsewhere || state_running(state)) {
        /* Never twice: it runs somewhere already (started before kanrid
         * restarted, or by a person). */
        *ret_detail = g_strdup("it was running already");
        if (elsewhere)
            *ret_host = elsewhere;
        return true;
    }
    g_autofree char *xml = definition_of(e, j->host_id, j->uuid, ret_detail);
    if (!xml)
        return false;
    g_autoptr(GError) err = NULL;
    g_autofree char *uuid = NULL;
    int64_t audit_id = 0;
    if (engine_define(e, j->to_host_id, xml, &ha_actor, &uuid, &audit_id, &err) < 0) {
        *ret_detail = g_strdup_printf("defining it on %s: %s", j->to_host, err->message);
        return false;
    }
    if (act(e, j->to_host_id, j->uuid, j->name, ACTION_START, &err) < 0) {
        *ret_lease = lease_held(err->message);
        *ret_detail = g_strdup_printf("starting it on %s: %s", j->to_host, err->message);
        /* A definition this restart made is not left behind on a host the
         * VM does not run on. */
        g_autoptr(GError) uerr = NULL;
        if (!state && act(e, j->to_host_id, j->uuid, j->name, ACTION_UNDEFINE, &uerr) < 0)
            g_warning("ha: undefining %s on %s after its start failed: %s", j->name, j->to_host,
                      uerr->message);
        return false;
    }
    return true;
}

/* Host J->host is back: its stale copies of VMs now running elsewhere are
 * destroyed (if running) and undefined; the VMs to start there again are.
 * A VM that runs on no other connected host now (that host failed too,
 * or a person stopped it) is never removed: it is kept, or started here,
 * its only copy. */
static bool rejoin_run(struct engine *e, struct job *j, char **ret_detail)
{
    unsigned removed = 0, destroyed = 0, started = 0, kept = 0;
    g_autoptr(GString) errors = g_string_new(NULL);
    g_autoptr(GPtrArray) start = g_ptr_array_new();
    for (guint i = 0; j->start && i < j->start->len; i++)
        g_ptr_array_add(start, g_ptr_array_index(j->start, i));
    for (guint i = 0; j->remove && i < j->remove->len; i++) {
        const char *uuid = g_ptr_array_index(j->remove, i);
        int64_t elsewhere = 0;
        g_autofree char *state = state_on(e, j->host_id, uuid, &elsewhere);
        if (!state)
            continue;
        if (!elsewhere) {
            if (state_running(state))
                kept++;
            else
                g_ptr_array_add(start, (gpointer)uuid);
            continue;
        }
        g_autoptr(GError) err = NULL;
        if (state_running(state)) {
            /* The copy elsewhere is the one that ran since the failure. */
            g_warning("ha: host %s is back running a stale copy of %s: destroying it", j->host,
                      uuid);
            if (act(e, j->host_id, uuid, NULL, ACTION_DESTROY, &err) < 0) {
                g_string_append_printf(errors, "%sdestroy %s: %s", errors->len ? "; " : "", uuid,
                                       err->message);
                continue;
            }
            destroyed++;
        }
        if (act(e, j->host_id, uuid, NULL, ACTION_UNDEFINE, &err) < 0) {
            g_string_append_printf(errors, "%sundefine %s: %s", errors->len ? "; " : "", uuid,
                                   err->message);
            continue;
        }
        removed++;
    }
    for (guint i = 0; i < start->len; i++) {
        const char *uuid = g_ptr_array_index(start, i);
        int64_t elsewhere = 0;
        g_autofree char *state = state_on(e, j->host_id, uuid, &elsewhere);
        if (!state || elsewhere || state_running(state))
            continue;
        g_autoptr(GError) err = NULL;
        if (act(e, j->host_id, uuid, NULL, ACTION_START, &err) < 0) {
            g_string_append_printf(errors, "%sstart %s: %s", errors->len ? "; " : "", uuid,
                                   err->message);
            continue;
        }
        started++;
    }
    if (errors->len) {
        *ret_detail = g_strdup(errors->str);
        return false;
    }
    *ret_detail = g_strdup_printf("%u stale definition%s removed (%u running, destroyed), %u "
                                  "VM%s started, %u kept (running nowhere else)",
                                  removed, removed == 1 ? "" : "s", destroyed, started,
                                  started == 1 ? "" : "s", kept);
    return true;
}

static void job_run(struct engine *e, struct job *j)
{
    struct job_result res = {0};
    res.r.kind = j->kind;
    res.r.host_id = j->kind == HA_ACT_RESTART ? j->to_host_id : j->host_id;
    res.uuid = g_strdup(j->uuid);
    switch (j->kind) {
    case HA_ACT_FENCE:
        res.r.ok = fence_run(e, j, &res.detail);
        break;
    case HA_ACT_RESTART:
        res.r.ok = restart_run(e, j, &res.r.host_id, &res.r.lease_held, &res.detail);
        break;
    case HA_ACT_REJOIN:
        res.r.ok = rejoin_run(e, j, &res.detail);
        break;
    case HA_ACT_N:
        break;
    }
    res.r.uuid = res.uuid;
    res.r.detail = res.detail;
    struct engine_ha *ha = e->ha;
    g_mutex_lock(&ha->lock);
    g_array_append_val(ha->results, res);
    ha->wake = true;
    g_cond_broadcast(&ha->cond);
    g_mutex_unlock(&ha->lock);
}

static gpointer worker(gpointer data)
{
    struct engine *e = data;
    struct engine_ha *ha = e->ha;
    g_mutex_lock(&ha->lock);
    for (;;) {
        if (ha->quit)
            break;
        struct job *j = g_queue_pop_head(&ha->jobs);
        if (!j) {
            g_cond_wait(&ha->cond, &ha->lock);
            continue;
        }
        ha->running++;
        g_mutex_unlock(&ha->lock);
        job_run(e, j);
        job_free(j);
        g_mutex_lock(&ha->lock);
        ha->running--;
        g_cond_broadcast(&ha->cond);
    }
    g_mutex_unlock(&ha->lock);
    return NULL;
}

/* ---- start and stop ---- */

static void load(struct engine *e)
{
    struct engine_ha *ha = e->ha;
    struct store *st = e->store;
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) hosts = st->ops->ha_hosts_query(st, &err);
    g_autoptr(rows) recs = hosts ? st->ops->ha_recoveries_query(st, &err) : NULL;
    g_autoptr(rows) vms = recs ? st->ops->ha_vms_query(st, &err) : NULL;
    if (!vms) {
        g_warning("ha: loading its state: %s (starting afresh)", err->message);
        return;
    }
    g_mutex_lock(&ha->lock);
    for (guint i = 0; i < rows_len(hosts); i++) {
        const struct ha_host_row *r = rows_get(hosts, i);
        enum ha_host_state s;
        if (!ha_host_state_parse(r->state, &s))
            continue;
        struct ha_host_rec *h = ha_state_host(ha->state, r->host_id, r->host, r->since);
        h->state = s;
        h->since_us = r->since;
        h->failed_us = r->failed;
        h->fence_attempts = (unsigned)MAX(r->fence_attempts, 0);
        h->next_fence_us = r->next_fence;
        h->reason = g_strdup(r->reason);
    }
    for (guint i = 0; i < rows_len(recs); i++) {
        const struct ha_recovery_row *r = rows_get(recs, i);
        enum ha_vm_state s;
        if (!ha_vm_state_parse(r->state, &s))
            continue;
        struct ha_vm_rec *v = g_new0(struct ha_vm_rec, 1);
        v->uuid = g_strdup(r->uuid);
        v->name = g_strdup(r->vm);
        v->from_host = r->from_host_id;
        v->to_host = r->to_host_id;
        v->failed_host = r->failed_host_id;
        v->state = s;
        v->since_us = r->since;
        v->failure_us = r->failure;
        v->attempts = (unsigned)MAX(r->attempts, 0);
        v->reason = g_strdup(r->reason);
        ha_state_put_vm(ha->state, v);
    }
    for (guint i = 0; i < rows_len(vms); i++) {
        const struct ha_vm_row *r = rows_get(vms, i);
        struct ha_vm_settings *s = g_new0(struct ha_vm_settings, 1);
        s->ha = r->ha;
        s->priority = (int)r->priority;
        if (!ha_restart_parse(r->restart, &s->restart))
            s->restart = HA_RESTART_ELSEWHERE;
        s->group = g_strdup(r->group);
        g_hash_table_replace(ha->vm_api, g_strdup(r->uuid), s);
    }
    g_mutex_unlock(&ha->lock);
}

static void start_prober(struct engine *e, struct ha_host *h)
{
    if (h->probe.kind == HA_PROBE_KIND_NONE)
        return;
    struct prober *p = g_new0(struct prober, 1);
    p->e = e;
    p->h = h;
    g_autofree char *name = g_strdup_printf("probe-%s", h->name);
    h->prober = g_thread_new(name, prober, p);
}

void engine_ha_start(struct engine *e)
{
    struct engine_ha *ha = e->ha;
    if (ha->started)
        return;
    load(e);
    ha->started = true;
    ha->started_us = now_usec();
    for (guint i = 0; i < ha->hosts->len; i++)
        start_prober(e, g_ptr_array_index(ha->hosts, i));
    for (guint i = 0; i < HA_WORKERS; i++)
        ha->workers[i] = g_thread_new("ha", worker, e);
    ha->ticker = g_thread_new("ha-tick", ticker, e);
}

void engine_ha_stop(struct engine *e, int64_t deadline_us)
{
    struct engine_ha *ha = e->ha;
    if (!ha || !ha->started)
        return;
    g_mutex_lock(&ha->lock);
    ha->quit = true;
    g_cond_broadcast(&ha->cond);
    /* A fence or a restart under way finishes first, within the deadline. */
    while (ha->running && g_cond_wait_until(&ha->cond, &ha->lock,
                                            g_get_monotonic_time() +
                                                MAX(deadline_us - mono_usec(), 0)))
        ;
    bool idle = ha->running == 0;
    g_mutex_unlock(&ha->lock);
    g_thread_join(ha->ticker);
    for (guint i = 0; i < ha->hosts->len; i++) {
        struct ha_host *h = g_ptr_array_index(ha->hosts, i);
        if (h->prober)
            g_thread_join(h->prober);
        h->prober = NULL;
    }
    for (guint i = 0; i < HA_WORKERS; i++) {
        if (idle)
            g_thread_join(ha->workers[i]);
        else
            g_thread_unref(ha->workers[i]);
        ha->workers[i] = NULL;
    }
    ha->abandoned = !idle;
    ha->started = false;
}

/* ---- what the API asks ---- */

static const char *probe_kind_name(enum ha_probe_kind k)
{
    return k == HA_PROBE_KIND_EXEC ? "exec" : k == HA_PROBE_KIND_TCP ? "tcp" : "none";
}

/* The hosts' names and the VMs' hosts and states, from the inventory. */
struct vm_place {
    char *name, *host, *state;
};

static void vm_place_free(gpointer p)
{
    struct vm_place *v = p;
    g_free(v->name);
    g_free(v->host);
    g_free(v->state);
    g_free(v);
}

static GHashTable *places(struct engine *e)
{
    GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, vm_place_free);
    g_mutex_lock(&e->lock);
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, h->inv);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            const struct inv_dom *d = v;
            if (d->removed)
                continue;
            struct vm_place *p = g_hash_table_lookup(t, d->uuid);
            /* Where it runs wins over a stale copy elsewhere. */
            if (p && !(state_running(d->state) && h->state == HOST_CONNECTED))
                continue;
            p = g_new0(struct vm_place, 1);
            p->name = g_strdup(d->name);
            p->host = g_strdup(h->name);
            p->state = g_strdup(d->state);
            g_hash_table_replace(t, g_strdup(d->uuid), p);
        }
    }
    g_mutex_unlock(&e->lock);
    return t;
}

static json_object *recovery_json(struct engine_ha *ha, const struct ha_vm_rec *r)
{
    json_object *o = json_object_new_object();
    const struct ha_host_rec *from = g_hash_table_lookup(ha->state->hosts, &r->from_host);
    const struct ha_host_rec *to =
        r->to_host ? g_hash_table_lookup(ha->state->hosts, &r->to_host) : NULL;
    json_object_object_add(o, "state", json_object_new_string(ha_vm_state_name(r->state)));
    json_object_object_add(o, "from", engine_jstr(from ? from->name : NULL));
    json_object_object_add(o, "to", engine_jstr(to ? to->name : NULL));
    json_object_object_add(o, "failure", engine_jtime(r->failure_us));
    json_object_object_add(o, "since", engine_jtime(r->since_us));
    json_object_object_add(o, "attempts", json_object_new_int64(r->attempts));
    json_object_object_add(o, "reason", engine_jstr(r->reason));
    return o;
}

char *engine_ha_json(struct engine *e)
{
    struct engine_ha *ha = e->ha;
    g_autoptr(GHashTable) where = places(e);
    g_mutex_lock(&e->lock);
    bool kill_switch = !e->policy->set.enabled;
    g_mutex_unlock(&e->lock);
    json_object *root = json_object_new_object();
    g_mutex_lock(&ha->publish);
    g_mutex_lock(&ha->lock);
    json_object_object_add(root, "enabled", json_object_new_boolean(ha->conf.enabled && !kill_switch));
    json_object_object_add(root, "policies_kill_switch", json_object_new_boolean(kill_switch));
    g_autofree char *settings = ha_conf_json(&ha->conf);
    json_object_object_add(root, "settings", json_tokener_parse(settings));
    json_object *groups = json_object_new_object();
    g_autoptr(GList) gnames = g_list_sort(g_hash_table_get_keys(ha->groups), (GCompareFunc)strcmp);
    for (GList *l = gnames; l; l = l->next) {
        json_object *a = json_object_new_array();
        for (char **h = g_hash_table_lookup(ha->groups, l->data); h && *h; h++)
            json_object_array_add(a, json_object_new_string(*h));
        json_object_object_add(groups, l->data, a);
    }
    json_object_object_add(root, "groups", groups);

    json_object *hosts = json_object_new_array();
    for (guint i = 0; i < ha->hosts->len; i++) {
        const struct ha_host *h = g_ptr_array_index(ha->hosts, i);
        const struct ha_host_rec *r = g_hash_table_lookup(ha->state->hosts, &h->host_id);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "host", json_object_new_string(h->name));
        json_object_object_add(o, "state",
                               json_object_new_string(r ? ha_host_state_name(r->state) : "up"));
        json_object_object_add(o, "since", engine_jtime(r ? r->since_us : 0));
        json_object_object_add(o, "reason", engine_jstr(r ? r->reason : NULL));
        json_object_object_add(o, "failed", engine_jtime(r ? r->failed_us : 0));
        json_object *sig = json_object_new_object();
        json_object *conn = json_object_new_object();
        json_object_object_add(conn, "up", json_object_new_boolean(h->last.connected));
        json_object_object_add(conn, "lost", engine_jtime(h->last.connected ? 0 : h->lost_us));
        json_object_object_add(sig, "connection", conn);
        json_object *probe = json_object_new_object();
        json_object_object_add(probe, "kind", json_object_new_string(probe_kind_name(h->probe.kind)));
        json_object_object_add(probe, "spec", engine_jstr(h->probe_text));
        json_object_object_add(probe, "answer", json_object_new_string(ha_probe_name(h->answer)));
        json_object_object_add(probe, "at", engine_jtime(h->answer_us));
        json_object_object_add(probe, "detail", engine_jstr(h->answer_detail));
        json_object_object_add(sig, "probe", probe);
        json_object *guests = json_object_new_object();
        json_object_object_add(guests, "direct", json_object_new_int64(h->last.guests_direct));
        json_object_object_add(guests, "reporting", json_object_new_int64(h->last.guests_alive));
        json_object_object_add(sig, "guests", guests);
        json_object_object_add(o, "signals", sig);
        json_object *fence = json_object_new_object();
        json_object_object_add(fence, "configured", json_object_new_boolean(h->fence != NULL));
        g_autofree char *agent = h->fence ? g_path_get_basename(h->fence[0]) : NULL;
        json_object_object_add(fence, "agent", engine_jstr(agent));
        json_object_object_add(fence, "timeout_s", json_object_new_int(h->fence_timeout_s));
        json_object_object_add(fence, "attempts",
                               json_object_new_int64(r ? r->fence_attempts : 0));
        json_object_object_add(o, "fence", fence);
        json_object_array_add(hosts, o);
    }
    json_object_object_add(root, "hosts", hosts);

    /* Every VM with HA settings, and every VM with a recovery on record. */
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) uuids = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, where);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct vm_place *p = v;
        if (settings_of(ha, k, p->name, NULL) || g_hash_table_contains(ha->state->vms, k))
            if (g_hash_table_add(seen, k))
                g_ptr_array_add(uuids, k);
    }
    g_hash_table_iter_init(&it, ha->state->vms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (g_hash_table_add(seen, k))
            g_ptr_array_add(uuids, k);
    }
    g_ptr_array_sort(uuids, (GCompareFunc)g_ascii_strcasecmp);
    json_object *vms = json_object_new_array();
    for (guint i = 0; i < uuids->len; i++) {
        const char *uuid = g_ptr_array_index(uuids, i);
        const struct vm_place *p = g_hash_table_lookup(where, uuid);
        const struct ha_vm_rec *rec = g_hash_table_lookup(ha->state->vms, uuid);
        const char *source = NULL;
        const struct ha_vm_settings *s =
            settings_of(ha, uuid, p ? p->name : rec ? rec->name : NULL, &source);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "uuid", json_object_new_string(uuid));
        json_object_object_add(o, "name", engine_jstr(p ? p->name : rec ? rec->name : NULL));
        json_object_object_add(o, "host", engine_jstr(p ? p->host : NULL));
        json_object_object_add(o, "state", engine_jstr(p ? p->state : NULL));
        json_object_object_add(o, "ha", json_object_new_boolean(s && s->ha));
        json_object_object_add(o, "priority", json_object_new_int(s ? s->priority : 0));
        json_object_object_add(
            o, "restart", json_object_new_string(ha_restart_name(s ? s->restart : HA_RESTART_ELSEWHERE)));
        json_object_object_add(o, "group", engine_jstr(s ? s->group : NULL));
        json_object_object_add(o, "source", engine_jstr(source));
        json_object_object_add(o, "recovery", rec ? recovery_json(ha, rec) : NULL);
        json_object_array_add(vms, o);
    }
    json_object_object_add(root, "vms", vms);
    g_mutex_unlock(&ha->lock);
    g_mutex_unlock(&ha->publish);
    char *text = g_strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    return text;
}

/* Whether UUID is a container on a container host. */
static bool is_container(struct engine *e, const char *uuid)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&e->lock);
    for (guint i = 0; i < e->hosts->len; i++) {
        struct ehost *h = g_ptr_array_index(e->hosts, i);
        if (ehost_containers(h) && g_hash_table_contains(h->inv, uuid))
            return true;
    }
    return false;
}

int engine_ha_vm_set(struct engine *e, const char *uuid, const struct ha_vm_settings *s,
                     const char *by, GError **error)
{
    struct engine_ha *ha = e->ha;
    if (s && is_container(e, uuid)) {
        engine_set_error(error, ENGINE_OPS_CONFLICT,
                         "%s is a container: HA restarts VMs on another hypervisor, and a "
                         "container's root file system lives on its own host",
                         uuid);
        return -EINVAL;
    }
    if (s && s->group) {
        g_mutex_lock(&ha->lock);
        bool known = g_hash_table_contains(ha->groups, s->group);
        g_mutex_unlock(&ha->lock);
        if (!known) {
            engine_set_error(error, ENGINE_OPS_INVALID,
                      "group: no HA group '%s' (kanri.conf's [ha] group.NAME defines them)",
                      s->group);
            return -EINVAL;
        }
    }
    g_autoptr(GError) err = NULL;
    if (s) {
        struct ha_vm_row r = {.uuid = (char *)uuid,
                              .ha = s->ha,
                              .priority = s->priority,
                              .restart = (char *)ha_restart_name(s->restart),
                              .group = s->group,
                              .updated = now_usec(),
                              .by = (char *)by};
        if (e->store->ops->ha_vm_put(e->store, &r, &err) < 0) {
            engine_set_error(error, ENGINE_OPS_IO, "storing the HA settings: %s", err->message);
            return -EIO;
        }
    } else if (e->store->ops->ha_vm_delete(e->store, uuid, &err) < 0) {
        bool none = g_error_matches(err, STORE_ERROR, STORE_ERROR_NOT_FOUND);
        engine_set_error(error, none ? ENGINE_OPS_NOT_FOUND : ENGINE_OPS_IO, "%s", err->message);
        return none ? -ENOENT : -EIO;
    }
    g_mutex_lock(&ha->lock);
    if (s) {
        struct ha_vm_settings *c = g_new0(struct ha_vm_settings, 1);
        *c = *s;
        c->group = g_strdup(s->group);
        g_hash_table_replace(ha->vm_api, g_strdup(uuid), c);
    } else {
        g_hash_table_remove(ha->vm_api, uuid);
    }
    ha->wake = true;
    g_cond_broadcast(&ha->cond);
    g_mutex_unlock(&ha->lock);
    return 0;
}

int engine_ha_confirm_fenced(struct engine *e, int64_t host_id, const char *by,
                             const char *comment, GError **error)
{
    struct engine_ha *ha = e->ha;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&ha->lock);
    struct ha_host_rec *h = g_hash_table_lookup(ha->state->hosts, &host_id);
    if (!h || (h->state != HA_FENCING && h->state != HA_FENCE_FAILED && h->state != HA_DOWN)) {
        engine_set_error(error, ENGINE_OPS_CONFLICT,
                  "host %s is %s: only a host declared dead (down, fencing or fence-failed) can "
                  "be confirmed off",
                  h ? h->name : "?", h ? ha_host_state_name(h->state) : "not watched by HA");
        return -EBUSY;
    }
    struct ha_confirm c = {.host_id = host_id,
                           .by = comment ? g_strdup_printf("%s (%s)", by, comment) : g_strdup(by)};
    g_array_append_val(ha->confirms, c);
    ha->wake = true;
    g_cond_broadcast(&ha->cond);
    g_autofree char *host = g_strdup(h->name);
    g_clear_pointer(&l, g_mutex_locker_free);
    audit_step(e, by, "confirm-fenced", host, comment ? comment : "the host is off");
    return 0;
}

void engine_ha_metrics(struct engine *e, GString *out)
{
    struct engine_ha *ha = e->ha;
    g_string_append(out, "# HELP kanri_ha_host_state A host's HA state (1 for the state it is "
                         "in, 0 for the others).\n"
                         "# TYPE kanri_ha_host_state gauge\n");
    g_autoptr(GMutexLocker) p = g_mutex_locker_new(&ha->publish);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&ha->lock);
    unsigned vms[HA_VM_N] = {0};
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, ha->state->vms);
    while (g_hash_table_iter_next(&it, &k, &v))
        vms[((const struct ha_vm_rec *)v)->state]++;
    for (guint i = 0; i < ha->hosts->len; i++) {
        const struct ha_host *h = g_ptr_array_index(ha->hosts, i);
        const struct ha_host_rec *r = g_hash_table_lookup(ha->state->hosts, &h->host_id);
        enum ha_host_state now = r ? r->state : HA_UP;
        for (int s = 0; s < HA_HOST_N; s++) {
            /* Host names are [A-Za-z0-9._-] (kanri.conf): no escaping needed. */
            g_string_append_printf(out, "kanri_ha_host_state{host=\"%s\",state=\"%s\"} %d\n",
                                   h->name, ha_host_state_name(s), s == (int)now);
        }
    }
    g_string_append(out, "# HELP kanri_ha_recoveries VMs by the state of their newest HA "
                         "recovery.\n"
                         "# TYPE kanri_ha_recoveries gauge\n");
    for (int s = 0; s < HA_VM_N; s++)
        g_string_append_printf(out, "kanri_ha_recoveries{state=\"%s\"} %u\n",
                               ha_vm_state_name(s), vms[s]);
}
