/*
 * Guest agents: enrolment (POST /agents), listing (GET /agents) and the
 * ingest endpoint kanri-guestd pushes to (POST /ingest/guest).
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/util.h"
#include "ingest/guestdoc.h"

#include <string.h>

/* Per-agent token bucket: a backfill after a long outage may send
 * thousands of spooled samples, so the burst is generous; a runaway or
 * hostile agent is held to the sustained rate. */
#define INGEST_RATE_PER_SEC 20.0
#define INGEST_BURST        200.0

struct bucket {
    double tokens;
    int64_t last_us;
};

int api_ingest_rejected;
int api_ingest_rate_limited;

static GMutex buckets_lock;
static GHashTable *buckets; /* machine uuid -> struct bucket * */

static bool rate_allow(const char *machine, double *ret_retry_after)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&buckets_lock);
    if (!buckets)
        buckets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    struct bucket *b = g_hash_table_lookup(buckets, machine);
    int64_t now = mono_usec();
    if (!b) {
        b = g_new0(struct bucket, 1);
        b->tokens = INGEST_BURST;
        b->last_us = now;
        g_hash_table_insert(buckets, g_strdup(machine), b);
    }
    b->tokens =
        MIN(INGEST_BURST, b->tokens + (double)(now - b->last_us) / 1e6 * INGEST_RATE_PER_SEC);
    b->last_us = now;
    if (b->tokens < 1.0) {
        *ret_retry_after = (1.0 - b->tokens) / INGEST_RATE_PER_SEC;
        return false;
    }
    b->tokens -= 1.0;
    return true;
}

/* USER_HZ is 100 on every Linux architecture kanri-guestd runs on: the
 * kernel fixes it for /proc/stat's ABI. */
#define NS_PER_TICK G_GUINT64_CONSTANT(10000000)

static uint64_t ticks_ns(uint64_t t)
{
    return t > G_MAXUINT64 / NS_PER_TICK ? SAMPLE_ABSENT : t * NS_PER_TICK;
}

static uint64_t opt(uint64_t v)
{
    return v == GUESTDOC_ABSENT || v == GUESTDOC_UNLIMITED ? SAMPLE_ABSENT : v;
}

/* Sums and conversions saturate instead of wrapping: the parser bounds
 * each figure to 2^63-1, but 64 of them, or a sector count times 512, can
 * still overflow, and a wrapped total would look small and plausible. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return b > GUESTDOC_MAX_VALUE - MIN(a, GUESTDOC_MAX_VALUE) ? GUESTDOC_MAX_VALUE : a + b;
}

/* /proc/diskstats counts 512-byte sectors whatever the device's own size. */
static uint64_t sectors_bytes(uint64_t sectors)
{
    return sectors > GUESTDOC_MAX_VALUE / 512 ? GUESTDOC_MAX_VALUE : sectors * 512;
}

static void add_u64(json_object *o, const char *key, uint64_t v)
{
    if (v == GUESTDOC_ABSENT)
        return;
    json_object_object_add(o, key,
                           v == GUESTDOC_UNLIMITED ? NULL : json_object_new_int64((int64_t)v));
}

static char *take_json(json_object *o)
{
    char *s = g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

static json_object *psi_json(const struct guestdoc_psi *p)
{
    json_object *o = json_object_new_object();
    const struct guestdoc_psi_line *lines[] = {&p->some, &p->full};
    const char *names[] = {"some", "full"};
    for (int i = 0; i < 2; i++) {
        if (!lines[i]->present)
            continue;
        json_object *l = json_object_new_object();
        json_object_object_add(l, "avg10", json_object_new_double(lines[i]->avg10));
        json_object_object_add(l, "avg60", json_object_new_double(lines[i]->avg60));
        json_object_object_add(l, "avg300", json_object_new_double(lines[i]->avg300));
        json_object_object_add(l, "total_us", json_object_new_int64((int64_t)lines[i]->total_us));
        json_object_object_add(o, names[i], l);
    }
    return o;
}

/* The guest-view row of a kanri-guestd document (samples.h). */
static void doc_to_sample(const struct guestdoc *d, struct guest_sample *g)
{
    guest_sample_init(g);
    g->machine_uuid = g_strdup(d->machine_id);
    g->source = "kanri-guestd";
    g->time_us = (int64_t)(d->time * 1e6);
    g->received_us = now_usec();
    g->seq = d->seq;
    if (d->has_cpu) {
        g->cpu_count = d->cpu.count;
        g->cpu_user_ns = ticks_ns(d->cpu.total.user);
        g->cpu_nice_ns = ticks_ns(d->cpu.total.nice);
        g->cpu_system_ns = ticks_ns(d->cpu.total.system);
        g->cpu_idle_ns = ticks_ns(d->cpu.total.idle);
        g->cpu_iowait_ns = ticks_ns(d->cpu.total.iowait);
        g->cpu_irq_ns = ticks_ns(d->cpu.total.irq);
        g->cpu_softirq_ns = ticks_ns(d->cpu.total.softirq);
        g->cpu_steal_ns = ticks_ns(d->cpu.total.steal);
    }
    if (d->has_memory) {
        g->mem_total = d->memory.total_bytes;
        g->mem_free = opt(d->memory.free_bytes);
        g->mem_available = opt(d->memory.available_bytes);
        g->mem_cached = opt(d->memory.cached_bytes);
        g->mem_buffers = opt(d->memory.buffers_bytes);
        g->swap_total = opt(d->memory.swap_total_bytes);
        g->swap_free = opt(d->memory.swap_free_bytes);
    }
    if (d->has_vmstat) {
        g->swap_in_pages = opt(d->vmstat.pswpin);
        g->swap_out_pages = opt(d->vmstat.pswpout);
        g->major_faults = opt(d->vmstat.pgmajfault);
        /* pgfault counts every fault; the minor ones are the rest. */
        if (opt(d->vmstat.pgfault) != SAMPLE_ABSENT && opt(d->vmstat.pgmajfault) != SAMPLE_ABSENT &&
            d->vmstat.pgfault >= d->vmstat.pgmajfault)
            g->minor_faults = d->vmstat.pgfault - d->vmstat.pgmajfault;
    }
    if (d->has_load) {
        g->load1_milli = (uint64_t)(d->load[0] * 1000.0 + 0.5);
        g->load5_milli = (uint64_t)(d->load[1] * 1000.0 + 0.5);
        g->load15_milli = (uint64_t)(d->load[2] * 1000.0 + 0.5);
    }

    json_object *fss = json_object_new_array();
    uint64_t fs_total = 0, fs_free = 0, fs_avail = 0;
    for (size_t i = 0; i < d->n_filesystems; i++) {
        const struct guestdoc_fs *f = &d->filesystems[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "mountpoint", json_object_new_string(f->mountpoint));
        json_object_object_add(o, "fstype", json_object_new_string(f->fstype));
        json_object_object_add(o, "device", json_object_new_string(f->device));
        json_object_object_add(o, "readonly", json_object_new_boolean(f->readonly));
        add_u64(o, "total_bytes", f->total_bytes);
        add_u64(o, "used_bytes",
                f->total_bytes >= f->free_bytes ? f->total_bytes - f->free_bytes : 0);
        add_u64(o, "avail_bytes", f->avail_bytes);
        add_u64(o, "files", f->files);
        add_u64(o, "files_free", f->files_free);
        json_object_array_add(fss, o);
        fs_total = sat_add(fs_total, f->total_bytes);
        fs_free = sat_add(fs_free, f->free_bytes);
        fs_avail = sat_add(fs_avail, f->avail_bytes);
    }
    if (d->n_filesystems) {
        g->fs_total = fs_total;
        g->fs_used = fs_total >= fs_free ? fs_total - fs_free : 0;
        g->fs_avail = fs_avail;
    }
    g->filesystems_json = take_json(fss);

    json_object *disks = json_object_new_array();
    uint64_t rb = 0, wb = 0, rn = 0, wn = 0;
    for (size_t i = 0; i < d->n_disks; i++) {
        const struct guestdoc_disk *k = &d->disks[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(k->name));
        add_u64(o, "reads", k->reads);
        add_u64(o, "read_bytes", sectors_bytes(k->read_sectors));
        add_u64(o, "writes", k->writes);
        add_u64(o, "write_bytes", sectors_bytes(k->write_sectors));
        add_u64(o, "io_ms", k->io_ms);
        json_object_array_add(disks, o);
        rb = sat_add(rb, sectors_bytes(k->read_sectors));
        wb = sat_add(wb, sectors_bytes(k->write_sectors));
        rn = sat_add(rn, k->reads);
        wn = sat_add(wn, k->writes);
    }
    if (d->n_disks) {
        g->disk_read_bytes = rb;
        g->disk_write_bytes = wb;
        g->disk_reads = rn;
        g->disk_writes = wn;
    }
    g->disks_json = take_json(disks);

    json_object *nics = json_object_new_array();
    uint64_t rxb = 0, txb = 0, rxp = 0, txp = 0;
    for (size_t i = 0; i < d->n_nics; i++) {
        const struct guestdoc_nic *n = &d->nics[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(n->name));
        add_u64(o, "rx_bytes", n->rx_bytes);
        add_u64(o, "rx_packets", n->rx_packets);
        add_u64(o, "tx_bytes", n->tx_bytes);
        add_u64(o, "tx_packets", n->tx_packets);
        add_u64(o, "rx_errs", n->rx_errs);
        add_u64(o, "tx_errs", n->tx_errs);
        add_u64(o, "rx_drop", n->rx_drop);
        add_u64(o, "tx_drop", n->tx_drop);
        json_object_array_add(nics, o);
        rxb = sat_add(rxb, n->rx_bytes);
        txb = sat_add(txb, n->tx_bytes);
        rxp = sat_add(rxp, n->rx_packets);
        txp = sat_add(txp, n->tx_packets);
    }
    if (d->n_nics) {
        g->net_rx_bytes = rxb;
        g->net_tx_bytes = txb;
        g->net_rx_packets = rxp;
        g->net_tx_packets = txp;
    }
    g->nics_json = take_json(nics);

    json_object *extra = json_object_new_object();
    json_object_object_add(extra, "agent_version", json_object_new_string(d->agent.version));
    json_object_object_add(extra, "hostname", json_object_new_string(d->hostname));
    json_object_object_add(extra, "id_source",
                           json_object_new_string(guestdoc_id_source_name(d->id_source)));
    json_object_object_add(extra, "interval", json_object_new_int64((int64_t)d->interval));
    if (d->has_pressure) {
        json_object *p = json_object_new_object();
        if (d->pressure.cpu.present)
            json_object_object_add(p, "cpu", psi_json(&d->pressure.cpu));
        if (d->pressure.memory.present)
            json_object_object_add(p, "memory", psi_json(&d->pressure.memory));
        if (d->pressure.io.present)
            json_object_object_add(p, "io", psi_json(&d->pressure.io));
        json_object_object_add(extra, "pressure", p);
    }
    if (d->has_cgroup) {
        json_object *c = json_object_new_object();
        json_object_object_add(c, "path", json_object_new_string(d->cgroup.path));
        add_u64(c, "memory_max_bytes", d->cgroup.memory_max_bytes);
        add_u64(c, "memory_current_bytes", d->cgroup.memory_current_bytes);
        add_u64(c, "cpu_quota_us", d->cgroup.cpu_quota_us);
        add_u64(c, "cpu_period_us", d->cgroup.cpu_period_us);
        add_u64(c, "cpu_usage_us", d->cgroup.cpu_usage_us);
        add_u64(c, "nr_throttled", d->cgroup.nr_throttled);
        add_u64(c, "throttled_us", d->cgroup.throttled_us);
        add_u64(c, "pids_current", d->cgroup.pids_current);
        json_object_object_add(extra, "cgroup", c);
    }
    json_object *spool = json_object_new_object();
    json_object_object_add(spool, "backlog", json_object_new_int64((int64_t)d->spool.backlog));
    json_object_object_add(spool, "dropped", json_object_new_int64((int64_t)d->spool.dropped));
    json_object_object_add(extra, "spool", spool);
    g->extra_json = take_json(extra);
}

static void note_rejection(struct req *r, const char *machine, const char *why)
{
    struct store *st = req_store(r);
    struct store_agent_contact c = {
        .machine_uuid = machine, .received_us = now_usec(), .error_text = why};
    st->ops->agent_contact(st, &c, NULL);
    g_atomic_int_inc(&api_ingest_rejected);
}

static void h_ingest_guest(struct req *r)
{
    const char *machine = r->token.machine_uuid;
    if (!g_str_equal(r->token.role, "guest") || !machine) {
        req_problem(r, 403,
                    "ingest needs a guest token bound to one machine (kanri agent enroll); "
                    "token '%s' has role '%s'",
                    r->token.name, r->token.role);
        return;
    }
    double retry;
    if (!rate_allow(machine, &retry)) {
        g_atomic_int_inc(&api_ingest_rate_limited);
        g_free(r->retry_after);
        r->retry_after = g_strdup_printf("%d", (int)retry + 1);
        req_problem(r, 429, "agent %s sends faster than %.0f documents/s; retry after %s s",
                    machine, INGEST_RATE_PER_SEC, r->retry_after);
        return;
    }
    const char *body = r->body ? r->body->str : "";
    size_t len = r->body ? r->body->len : 0;
    g_autoptr(GError) err = NULL;
    g_autoptr(guestdoc) doc = guestdoc_parse(body, len, &err);
    if (!doc) {
        note_rejection(r, machine, err->message);
        if (g_error_matches(err, GUESTDOC_ERROR, GUESTDOC_ERROR_TOO_LARGE))
            req_problem(r, 413, "%s", err->message);
        else
            req_problem(r, 400, "%s", err->message);
        return;
    }
    if (!g_str_equal(doc->machine_id, machine)) {
        g_autofree char *why = g_strdup_printf(
            "machine_id: this token writes only machine %s, not %s", machine, doc->machine_id);
        note_rejection(r, machine, why);
        req_problem(r, 403, "%s", why);
        return;
    }

    struct guest_sample g;
    doc_to_sample(doc, &g);
    struct store_agent_contact c = {
        .machine_uuid = machine,
        .received_us = g.received_us,
        .agent_name = doc->agent.name,
        .agent_version = doc->agent.version,
        .hostname = doc->hostname,
        .id_source = guestdoc_id_source_name(doc->id_source),
        .seq = doc->seq,
        .sample_time_us = g.time_us,
        .spool_backlog = doc->spool.backlog,
        .spool_dropped = doc->spool.dropped,
    };
    bool duplicate = false;
    if (engine_ingest(req_engine(r), &g, &c, &duplicate, &err) < 0) {
        guest_sample_clear(&g);
        g_warning("ingest from %s: %s", machine, err->message);
        req_problem(r, 503, "could not store the sample (%s); the agent should retry",
                    err->message);
        return;
    }
    /* A guest token's name is its agent's (kanri agent enroll). */
    engine_machine_name(req_engine(r), machine, r->token.name);
    guest_sample_clear(&g);

    json_object *o = json_object_new_object();
    json_object_object_add(o, "accepted", json_object_new_boolean(true));
    json_object_object_add(o, "duplicate", json_object_new_boolean(duplicate));
    json_object_object_add(o, "seq", json_object_new_int64((int64_t)doc->seq));
    req_json(r, 200, o);
}

static void h_agent_enroll(struct req *r)
{
    json_object *m = NULL, *n = NULL;
    if (!json_object_object_get_ex(r->body_json, "machine", &m) ||
        !json_object_is_type(m, json_type_string) || !*json_object_get_string(m)) {
        req_problem(r, 400, "machine: required, a VM name, HOST:NAME or a machine UUID");
        return;
    }
    const char *machine = json_object_get_string(m);
    g_autofree char *uuid = NULL;
    g_autofree char *label = NULL;
    if (uuid_is_valid(machine)) {
        /* A UUID need not belong to a known VM: physical servers and foreign
         * VMs enrol by their own id and show as standalone machines. */
        uuid = g_ascii_strdown(machine, -1);
    } else {
        struct store *st = req_store(r);
        g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(struct store_vm_ref));
        g_array_set_clear_func(refs, (GDestroyNotify)store_vm_ref_clear);
        st->ops->vm_resolve(st, machine, refs, NULL);
        g_autofree char *why = NULL;
        int retry = 1;
        if (refs->len == 0 && !engine_ready(req_engine(r), &why, &retry)) {
            r->retry_after = g_strdup_printf("%d", retry);
            req_problem(r, 503, "machine: no VM named '%s' yet: kanrid is %s; retry in %d s",
                        machine, why, retry);
            return;
        }
        if (refs->len == 0) {
            req_problem(r, 400, "machine: no VM named '%s'; give a VM name or the machine's UUID",
                        machine);
            return;
        }
        if (refs->len > 1) {
            req_problem(r, 409, "machine: '%s' matches VMs on several hosts; use HOST:NAME",
                        machine);
            return;
        }
        uuid = g_strdup(g_array_index(refs, struct store_vm_ref, 0).uuid);
        label = g_strdup(g_array_index(refs, struct store_vm_ref, 0).name);
    }
    if (json_object_object_get_ex(r->body_json, "name", &n) && n) {
        if (!json_object_is_type(n, json_type_string) || !*json_object_get_string(n) ||
            strlen(json_object_get_string(n)) > 64) {
            req_problem(r, 400, "name: must be a string of 1 to 64 characters");
            return;
        }
        g_free(label);
        label = g_strdup(json_object_get_string(n));
    }
    if (!label)
        label = g_strdup(uuid);

    g_autofree char *token = token_generate();
    g_autofree char *hash = sha256_hex(token);
    g_autofree char *token_name = g_strdup_printf("agent:%s", label);
    struct store *st = req_store(r);
    int64_t token_id = 0, audit_id = 0;
    g_autoptr(GError) err = NULL;
    st->ops->audit_begin(st, r->token.name, r->token.id, "agent-enroll", label, uuid, NULL,
                         json_object_to_json_string_ext(r->body_json, JSON_C_TO_STRING_PLAIN),
                         &audit_id, NULL);
    int rc = st->ops->agent_enroll(st, uuid, label, hash, &token_id, &err);
    if (audit_id)
        st->ops->audit_end(st, audit_id, rc == 0, rc == 0 ? NULL : err->message, NULL);
    if (rc < 0) {
        req_problem(r, 500, "the store failed: %s", err->message);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "machine_uuid", json_object_new_string(uuid));
    json_object_object_add(o, "name", json_object_new_string(label));
    json_object_object_add(o, "token_id", json_object_new_int64(token_id));
    json_object_object_add(o, "token", json_object_new_string(token));
    req_json(r, 201, o);
}

static void h_agents(struct req *r)
{
    g_autoptr(GError) err = NULL;
    req_rows_paged(r, req_store(r)->ops->agents_query(req_store(r), &err), err);
}

static const char *const enroll_fields[] = {"machine", "name", NULL};

const struct route api_ingest_routes[] = {
    {"POST", "/api/v1/ingest/guest", 0, false, h_ingest_guest},
    {"GET", "/api/v1/agents", 1, false, h_agents},
    {"POST", "/api/v1/agents", 2, true, h_agent_enroll, enroll_fields},
    {NULL, NULL, 0, false, NULL},
};
