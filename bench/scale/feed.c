/*
 * bench-scale-feed: the engine's round path at full speed.  An engine on
 * the store TARGET (a SQLite file or a postgresql:// URL) with HOSTS
 * hosts, each fed by a thread of its own as the libvirt driver's round
 * threads feed it, but with no pause between rounds: each round has VMS
 * running VMs with host figures and a balloon guest sample each, goes
 * through the stages (reconciliation, findings, policies) and is written
 * by the group commit (src/engine/writer.c).  Once every host has had two
 * rounds (a VM's first round opens its findings and states: not the
 * steady state) the program counts the rounds written in the next
 * SECONDS, then stops the feeders and prints one line:
 *
 *   rounds <N>\tseconds <S>\tgroups <G>\tgroup_seconds <W>\tall_rounds <A>
 *
 * (the window's rounds, its length, the group commit's transactions in
 * it and the time they took; every round written, to check the store).
 *
 * Rows are counted in the store by the caller (bench/scale/run.py), which
 * compares them with the raw baseline.  --group N writes at most N rounds
 * per transaction (1: each round alone, the path before group commit).
 *
 *   bench-scale-feed --db TARGET [--hosts 50] [--vms 200] [--seconds 20]
 *       [--group N]
 *
 * The driver is a scripted one (the seam of model/driver.h), so that what
 * is measured is the engine and the store, not libvirt's test driver.
 */
#include "config.h"

#include "basic/util.h"
#include "engine/engine-private.h"
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>

static int d_host_add(struct driver *d, int64_t host_id, const struct driver_host_conf *hc,
                      GError **error)
{
    return 0;
}

static void d_resync_all(struct driver *d)
{
}

static bool d_stop(struct driver *d, int timeout_s)
{
    return true;
}

static void d_free(struct driver *d)
{
}

static const struct driver_ops feed_ops = {
    .name = "feed",
    .host_add = d_host_add,
    .resync_all = d_resync_all,
    .stop = d_stop,
    .free = d_free,
};

struct feeder {
    const struct driver_sink *sink;
    int64_t host_id;
    int index;
    int vms;
    gint *stop;
    gint rounds; /* written */
};

static struct round_report *round_new(const struct feeder *f, uint64_t n)
{
    int64_t t = now_usec();
    struct round_report *r = round_report_new(f->host_id, t);
    for (int i = 0; i < f->vms; i++) {
        char uuid[37];
        g_snprintf(uuid, sizeof(uuid), "%08x-0000-4000-8000-%012x", f->index, i);
        struct host_sample s;
        host_sample_init(&s);
        s.host_id = f->host_id;
        s.uuid = g_strdup(uuid);
        s.time_us = t;
        s.dom_id = i + 1;
        s.state = 1;
        s.cpu_time_ns = n * 1000000000ULL + (uint64_t)i;
        s.vcpu_count = 1;
        s.vcpu_time_ns = s.cpu_time_ns;
        s.vcpu_delay_ns = n * 1000000ULL;
        s.balloon_current = s.balloon_maximum = 1ULL << 30;
        s.balloon_rss = 700ULL << 20;
        g_array_append_val(r->hosts, s);
        g_ptr_array_add(r->active, g_strdup(uuid));
        struct guest_sample g;
        guest_sample_init(&g);
        g.machine_uuid = g_strdup(uuid);
        g.source = guest_source_static("balloon");
        g.time_us = g.received_us = t;
        g.mem_total = 1ULL << 30;
        g.mem_available = g.mem_free = 300ULL << 20;
        g.swap_in_pages = g.swap_out_pages = 0;
        g_array_append_val(r->balloons, g);
    }
    r->have_node = true;
    r->node.host_id = f->host_id;
    r->node.time_us = t;
    r->node.domains_running = (uint64_t)f->vms;
    r->node.mem_total = 64ULL << 30;
    r->node.mem_free = 16ULL << 30;
    return r;
}

static gpointer feed(gpointer data)
{
    struct feeder *f = data;
    while (!g_atomic_int_get(f->stop)) {
        f->sink->round(f->sink->ctx, round_new(f, (uint64_t)g_atomic_int_get(&f->rounds)));
        g_atomic_int_inc(&f->rounds);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    g_autofree char *target = NULL;
    int hosts = 50, vms = 200, seconds = 20, group = 0;
    GOptionEntry entries[] = {
        {"db", 0, 0, G_OPTION_ARG_STRING, &target, "store: SQLite file or postgresql:// URL", "T"},
        {"hosts", 0, 0, G_OPTION_ARG_INT, &hosts, "hosts, a feeding thread each", "N"},
        {"vms", 0, 0, G_OPTION_ARG_INT, &vms, "running VMs per host", "N"},
        {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "how long to feed", "S"},
        {"group", 0, 0, G_OPTION_ARG_INT, &group, "rounds per transaction at most (0: default)",
         "N"},
        {NULL}};
    g_autoptr(GOptionContext) oc = g_option_context_new("- the engine's round path at full speed");
    g_option_context_add_main_entries(oc, entries, NULL);
    g_autoptr(GError) err = NULL;
    if (!g_option_context_parse(oc, &argc, &argv, &err) || !target || hosts < 1 || vms < 1 ||
        seconds < 1 || group < 0) {
        fprintf(stderr, "bench-scale-feed: %s\n", err ? err->message : "bad arguments (--help)");
        return 2;
    }
    struct store *st = store_open(target, &err);
    if (!st) {
        fprintf(stderr, "bench-scale-feed: %s\n", err->message);
        return 1;
    }
    struct engine_conf c;
    engine_conf_init(&c);
    c.round_group_max = (unsigned)group;
    struct engine *e = engine_new(st, &c);
    struct driver drv = {.ops = &feed_ops};
    const struct driver_sink *sink = engine_sink(e);
    gint stop = 0;
    g_autofree struct feeder *fs = g_new0(struct feeder, hosts);
    for (int i = 0; i < hosts; i++) {
        g_autofree char *name = g_strdup_printf("feed-%d", i);
        struct driver_host_conf hc = {.name = name, .uri = "feed:///"};
        if (engine_host_add(e, &drv, &hc, &err) < 0) {
            fprintf(stderr, "bench-scale-feed: %s\n", err->message);
            return 1;
        }
    }
    engine_start(e);
    for (int i = 0; i < hosts; i++) {
        struct feeder *f = &fs[i];
        f->sink = sink;
        f->index = i;
        f->host_id = ((struct ehost *)g_ptr_array_index(e->hosts, i))->id;
        f->vms = vms;
        f->stop = &stop;
        sink->host_state(sink->ctx, f->host_id, HOST_CONNECTED, NULL);
        sink->inventory_synced(sink->ctx, f->host_id);
    }
    g_autoptr(GPtrArray) threads = g_ptr_array_new();
    for (int i = 0; i < hosts; i++)
        g_ptr_array_add(threads, g_thread_new("feed", feed, &fs[i]));
    /* The first rounds open what a VM's first round opens (its findings,
     * its states, its incidents): the window starts after two rounds of
     * every host. */
    for (bool warm = false; !warm; g_usleep(20000)) {
        warm = true;
        for (int i = 0; i < hosts; i++)
            warm &= g_atomic_int_get(&fs[i].rounds) >= 2;
    }
    struct engine_writer_stats w0, w1;
    int64_t t0 = mono_usec();
    gint r0 = 0, r1 = 0;
    engine_writer_stats(e, &w0);
    for (int i = 0; i < hosts; i++)
        r0 += g_atomic_int_get(&fs[i].rounds);
    g_usleep((gulong)seconds * G_USEC_PER_SEC);
    engine_writer_stats(e, &w1);
    for (int i = 0; i < hosts; i++)
        r1 += g_atomic_int_get(&fs[i].rounds);
    double took = (double)(mono_usec() - t0) / 1e6;
    g_atomic_int_set(&stop, 1);
    gint total = 0;
    for (guint i = 0; i < threads->len; i++) {
        g_thread_join(g_ptr_array_index(threads, i));
        total += fs[i].rounds;
    }
    /* Rounds are counted as their writes return: those written in the
     * window, and all (for the caller to check the store's rows). */
    printf("rounds %d\tseconds %.3f\tgroups %" G_GUINT64_FORMAT "\tgroup_seconds %.3f"
           "\tall_rounds %d\n",
           r1 - r0, took, w1.groups - w0.groups, w1.seconds - w0.seconds, total);
    engine_stop(e, 30);
    engine_free(e);
    store_close(st);
    return 0;
}
