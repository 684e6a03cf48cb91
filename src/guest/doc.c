#include "doc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

static void cpu_times(struct jw *w, const struct cpu_times *t)
{
    jw_u64(w, "user", t->user);
    jw_u64(w, "nice", t->nice);
    jw_u64(w, "system", t->system);
    jw_u64(w, "idle", t->idle);
    jw_u64(w, "iowait", t->iowait);
    jw_u64(w, "irq", t->irq);
    jw_u64(w, "softirq", t->softirq);
    jw_u64(w, "steal", t->steal);
    jw_u64(w, "guest", t->guest);
    jw_u64(w, "guest_nice", t->guest_nice);
}

static void render_cpu(struct jw *w, const struct sample_cpu *c)
{
    if (!c->present)
        return;
    jw_obj_begin(w, "cpu");
    jw_u64(w, "count", c->count);
    jw_obj_begin(w, "total");
    cpu_times(w, &c->total);
    jw_obj_end(w);
    jw_arr_begin(w, "per_cpu");
    for (unsigned i = 0; i < c->count; i++) {
        jw_obj_begin(w, NULL);
        jw_u64(w, "cpu", c->per_cpu[i].id);
        cpu_times(w, &c->per_cpu[i].t);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    if (c->has_ctxt)
        jw_u64(w, "context_switches", c->ctxt);
    if (c->has_forks)
        jw_u64(w, "forks", c->forks);
    if (c->has_running)
        jw_u64(w, "procs_running", c->procs_running);
    if (c->has_blocked)
        jw_u64(w, "procs_blocked", c->procs_blocked);
    jw_obj_end(w);
}

static const char *const mem_json[MEM_N_FIELDS] = {
    [MEM_TOTAL] = "total_bytes",
    [MEM_FREE] = "free_bytes",
    [MEM_AVAILABLE] = "available_bytes",
    [MEM_BUFFERS] = "buffers_bytes",
    [MEM_CACHED] = "cached_bytes",
    [MEM_SWAP_CACHED] = "swap_cached_bytes",
    [MEM_ACTIVE] = "active_bytes",
    [MEM_INACTIVE] = "inactive_bytes",
    [MEM_SWAP_TOTAL] = "swap_total_bytes",
    [MEM_SWAP_FREE] = "swap_free_bytes",
    [MEM_DIRTY] = "dirty_bytes",
    [MEM_WRITEBACK] = "writeback_bytes",
    [MEM_ANON] = "anon_bytes",
    [MEM_MAPPED] = "mapped_bytes",
    [MEM_SHMEM] = "shmem_bytes",
    [MEM_SRECLAIMABLE] = "slab_reclaimable_bytes",
    [MEM_SUNRECLAIM] = "slab_unreclaimable_bytes",
    [MEM_COMMITTED_AS] = "committed_bytes",
    [MEM_HUGEPAGES_TOTAL] = "hugepages_total",
    [MEM_HUGEPAGES_FREE] = "hugepages_free",
    [MEM_HUGEPAGESIZE] = "hugepage_size_bytes",
};

static const char *const vm_json[VM_N_FIELDS] = {
    [VM_PSWPIN] = "pswpin",     [VM_PSWPOUT] = "pswpout", [VM_PGPGIN] = "pgpgin",
    [VM_PGPGOUT] = "pgpgout",   [VM_PGFAULT] = "pgfault", [VM_PGMAJFAULT] = "pgmajfault",
    [VM_OOM_KILL] = "oom_kill",
};

static void psi_line(struct jw *w, const char *key, const struct psi_line *l)
{
    if (!l->present)
        return;
    jw_obj_begin(w, key);
    jw_double(w, "avg10", l->avg10, 2);
    jw_double(w, "avg60", l->avg60, 2);
    jw_double(w, "avg300", l->avg300, 2);
    jw_u64(w, "total_us", l->total);
    jw_obj_end(w);
}

static void psi_res(struct jw *w, const char *key, const struct psi_res *r)
{
    if (!r->present)
        return;
    jw_obj_begin(w, key);
    psi_line(w, "some", &r->some);
    psi_line(w, "full", &r->full);
    jw_obj_end(w);
}

/* Limits print null for the kernel's "max". */
static void limit(struct jw *w, const char *key, bool has, uint64_t v)
{
    if (!has)
        return;
    if (v == CG_UNLIMITED)
        jw_null(w, key);
    else
        jw_u64(w, key, v);
}

static void render_cgroup(struct jw *w, const struct sample_cgroup *cg)
{
    if (!cg->present)
        return;
    jw_obj_begin(w, "cgroup");
    jw_str(w, "path", cg->path);
    limit(w, "memory_max_bytes", cg->has_memory_max, cg->memory_max);
    limit(w, "memory_high_bytes", cg->has_memory_high, cg->memory_high);
    if (cg->has_memory_current)
        jw_u64(w, "memory_current_bytes", cg->memory_current);
    limit(w, "swap_max_bytes", cg->has_swap_max, cg->swap_max);
    if (cg->has_swap_current)
        jw_u64(w, "swap_current_bytes", cg->swap_current);
    if (cg->has_cpu_max) {
        limit(w, "cpu_quota_us", true, cg->cpu_quota_us);
        jw_u64(w, "cpu_period_us", cg->cpu_period_us);
    }
    if (cg->has_cpu_stat) {
        jw_u64(w, "cpu_usage_us", cg->cpu_usage_us);
        jw_u64(w, "cpu_user_us", cg->cpu_user_us);
        jw_u64(w, "cpu_system_us", cg->cpu_system_us);
        jw_u64(w, "nr_periods", cg->nr_periods);
        jw_u64(w, "nr_throttled", cg->nr_throttled);
        jw_u64(w, "throttled_us", cg->throttled_us);
    }
    if (cg->has_pids) {
        jw_u64(w, "pids_current", cg->pids_current);
        limit(w, "pids_max", true, cg->pids_max);
    }
    jw_arr_begin(w, "io");
    for (unsigned i = 0; i < cg->n_io; i++) {
        const struct sample_cg_io *io = &cg->io[i];
        jw_obj_begin(w, NULL);
        jw_str(w, "device", io->device);
        jw_u64(w, "rbytes", io->rbytes);
        jw_u64(w, "wbytes", io->wbytes);
        jw_u64(w, "rios", io->rios);
        jw_u64(w, "wios", io->wios);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj_end(w);
}

static void render_devices(struct jw *w, const struct sample *s)
{
    jw_arr_begin(w, "disks");
    for (unsigned i = 0; i < s->n_disks; i++) {
        const struct sample_disk *d = &s->disks[i];
        jw_obj_begin(w, NULL);
        jw_str(w, "name", d->name);
        jw_u64(w, "reads", d->reads);
        jw_u64(w, "reads_merged", d->reads_merged);
        jw_u64(w, "read_sectors", d->read_sectors);
        jw_u64(w, "read_ms", d->read_ms);
        jw_u64(w, "writes", d->writes);
        jw_u64(w, "writes_merged", d->writes_merged);
        jw_u64(w, "write_sectors", d->write_sectors);
        jw_u64(w, "write_ms", d->write_ms);
        jw_u64(w, "in_flight", d->in_flight);
        jw_u64(w, "io_ms", d->io_ms);
        jw_u64(w, "weighted_io_ms", d->weighted_ms);
        jw_obj_end(w);
    }
    jw_arr_end(w);

    jw_arr_begin(w, "nics");
    for (unsigned i = 0; i < s->n_nics; i++) {
        const struct sample_nic *n = &s->nics[i];
        jw_obj_begin(w, NULL);
        jw_str(w, "name", n->name);
        jw_u64(w, "rx_bytes", n->rx_bytes);
        jw_u64(w, "rx_packets", n->rx_packets);
        jw_u64(w, "rx_errs", n->rx_errs);
        jw_u64(w, "rx_drop", n->rx_drop);
        jw_u64(w, "tx_bytes", n->tx_bytes);
        jw_u64(w, "tx_packets", n->tx_packets);
        jw_u64(w, "tx_errs", n->tx_errs);
        jw_u64(w, "tx_drop", n->tx_drop);
        jw_obj_end(w);
    }
    jw_arr_end(w);

    jw_arr_begin(w, "filesystems");
    for (unsigned i = 0; i < s->n_fs; i++) {
        const struct sample_fs *f = &s->fs[i];
        jw_obj_begin(w, NULL);
        jw_str(w, "mountpoint", f->mountpoint);
        jw_str(w, "fstype", f->fstype);
        jw_str(w, "device", f->device);
        jw_bool(w, "readonly", f->readonly);
        jw_u64(w, "total_bytes", f->total_bytes);
        jw_u64(w, "free_bytes", f->free_bytes);
        jw_u64(w, "avail_bytes", f->avail_bytes);
        jw_u64(w, "files", f->files);
        jw_u64(w, "files_free", f->files_free);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

int doc_render(struct gbuf *b, const struct sample *s, const struct doc_meta *m)
{
    struct jw w;
    jw_init(&w, b);
    jw_obj_begin(&w, NULL);
    jw_u64(&w, "schema", DOC_SCHEMA);
    jw_obj_begin(&w, "agent");
    jw_str(&w, "name", KANRI_GUESTD_NAME);
    jw_str(&w, "version", KANRI_GUESTD_VERSION);
    jw_obj_end(&w);
    jw_str(&w, "machine_id", m->machine_id);
    jw_str(&w, "id_source", m->id_source);
    jw_str(&w, "hostname", s->hostname);
    jw_u64(&w, "seq", m->seq);
    /* Integer arithmetic keeps all nine digits exact; microseconds are
     * enough to order samples. */
    char t[48];
    snprintf(t, sizeof(t), "%lld.%06ld", (long long)m->time.tv_sec, m->time.tv_nsec / 1000);
    jw_raw(&w, "time", t);
    jw_u64(&w, "interval", m->interval);
    if (s->cpu.has_btime)
        jw_u64(&w, "boot_time", s->cpu.boot_time);

    render_cpu(&w, &s->cpu);
    if (s->mem.present) {
        jw_obj_begin(&w, "memory");
        for (int i = 0; i < MEM_N_FIELDS; i++)
            if (s->mem.has & (1u << i))
                jw_u64(&w, mem_json[i], s->mem.v[i]);
        jw_obj_end(&w);
    }
    if (s->vmstat.present) {
        jw_obj_begin(&w, "vmstat");
        for (int i = 0; i < VM_N_FIELDS; i++)
            if (s->vmstat.has & (1u << i))
                jw_u64(&w, vm_json[i], s->vmstat.v[i]);
        jw_obj_end(&w);
    }
    const struct sample_pressure *p = &s->pressure;
    if (p->cpu.present || p->memory.present || p->io.present) {
        jw_obj_begin(&w, "pressure");
        psi_res(&w, "cpu", &p->cpu);
        psi_res(&w, "memory", &p->memory);
        psi_res(&w, "io", &p->io);
        jw_obj_end(&w);
    }
    if (s->load.present) {
        jw_arr_begin(&w, "load");
        for (int i = 0; i < 3; i++)
            jw_double(&w, NULL, s->load.avg[i], 2);
        jw_arr_end(&w);
        jw_obj_begin(&w, "tasks");
        jw_u64(&w, "runnable", s->load.runnable);
        jw_u64(&w, "total", s->load.threads);
        jw_obj_end(&w);
    }
    render_devices(&w, s);
    render_cgroup(&w, &s->cgroup);

    jw_arr_begin(&w, "skipped");
    for (unsigned i = 0; i < s->n_skipped; i++) {
        jw_obj_begin(&w, NULL);
        jw_str(&w, "source", s->skipped[i].source);
        jw_str(&w, "reason", s->skipped[i].reason);
        jw_obj_end(&w);
    }
    if (s->skipped_lost) {
        jw_obj_begin(&w, NULL);
        jw_str(&w, "source", "kanri-guestd");
        char why[64];
        snprintf(why, sizeof(why), "%u more notes not listed", s->skipped_lost);
        jw_str(&w, "reason", why);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);

    jw_obj_begin(&w, "spool");
    jw_u64(&w, "backlog", m->backlog);
    jw_u64(&w, "dropped", m->dropped);
    jw_obj_end(&w);
    jw_obj_end(&w);
    gbuf_putc(b, '\n');
    return b->overflow ? -E2BIG : 0;
}

static bool skip_digits(const char **p, const char *end)
{
    const char *s = *p;
    while (*p < end && **p >= '0' && **p <= '9')
        (*p)++;
    return *p > s;
}

static bool skip_lit(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

int doc_patch_spool(const char *doc, size_t len, uint64_t backlog, uint64_t dropped,
                    struct gbuf *out)
{
    static const char key[] = ",\"spool\":{";
    const size_t kl = sizeof(key) - 1;
    const char *end = doc + len;
    /* The member is within the last 80 bytes: search backwards from there. */
    const char *start = NULL;
    for (size_t i = len >= kl ? len - kl + 1 : 0; i > 0 && len - i < 96; i--) {
        if (memcmp(doc + i - 1, key, kl) == 0) {
            start = doc + i - 1;
            break;
        }
    }
    const char *q = start ? start + kl : NULL;
    bool ok = q && skip_lit(&q, end, "\"backlog\":") && skip_digits(&q, end) &&
              skip_lit(&q, end, ",\"dropped\":") && skip_digits(&q, end) && skip_lit(&q, end, "}}");
    if (ok && q < end && *q == '\n')
        q++;
    if (!ok || q != end) {
        gbuf_append(out, doc, len);
        return -ENOENT;
    }
    gbuf_append(out, doc, (size_t)(start - doc));
    gbuf_printf(out, ",\"spool\":{\"backlog\":%llu,\"dropped\":%llu}}\n",
                (unsigned long long)backlog, (unsigned long long)dropped);
    return out->overflow ? -E2BIG : 0;
}
