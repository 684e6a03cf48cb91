/*
 * The collector of one host: its statistics rounds (collect.c) and its
 * guest agent polls (guest.c), on threads and libvirt connections of their
 * own, so inventory and statistics never wait for each other.
 *
 * The round thread owns `doms` membership; everything a guest job or an
 * event callback touches in struct dom is under collector.lock.
 */
#pragma once

#include "virt/collect.h"
#include "virt/virt-private.h"

struct dom {
    char *uuid;
    char *name;
    uint64_t seen_round;
    int suspect; /* rounds left to be queried alone */
    /* Its call alone has not come back yet (a frozen guest's can wait on
     * libvirt's job lock for 30 s, or forever): it is not asked again
     * meanwhile, so hung calls do not pile up on one libvirtd client,
     * which serves only a few at once (max_client_requests, 5). */
    bool alone_out;
    /* A complete record's number of statistics, per incarnation: a
     * suspect's record with fewer is partial (libvirt skipped what needed
     * the domain's busy job) and counts as missed. */
    int baseline_params;
    int64_t baseline_dom_id;
    int64_t balloon_update_us; /* newest guest balloon report passed on */

    /* agent */
    int agent_event; /* 0 unknown, else VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_* */
    bool guest_busy;
    int64_t guest_busy_since;
    int64_t guest_next_us;
    int guest_failures;
    bool astatus_known, astatus_ok;
    bool no_cpustats, no_diskstats;
    bool no_agent_told; /* "no agent channel" was reported */
    /* The domain's handle on the guest connection, looked up by the first
     * poll and kept: one call less per poll.  It holds a reference on its
     * connection, so a reopened connection never compares equal. */
    virDomainPtr gdom;
};

struct collector {
    gint ref;
    struct virt_conn *vc;
    struct virt_conf cfg;
    GThread *thread;

    GMutex lock;
    GCond wake;
    bool quit;
    GHashTable *doms; /* uuid -> struct dom * */

    /* round-thread only */
    virConnectPtr main;
    virConnectPtr *stats;
    virConnectPtr guest;
    int guest_event_id;
    bool nowait_unsupported;
    int chunks; /* bulk calls a round is split into: grows while one is slow */
    GThreadPool *pool;
    GThreadPool *gpool;
    uint64_t round_no;
    char *last_missed; /* the domains the last round missed, as logged */
    /* How many fields the host's node CPU and memory statistics have (the
     * drivers insist on the exact count, asking costs a call); 0 until a
     * node job has asked. */
    int node_cpu_fields, node_mem_fields;
};

struct collector *collector_ref(struct collector *c);
void collector_unref(struct collector *c);

/* guest.c: polls UUID's agent on the guest pool (one poll per domain at a
 * time) and reports the sample, the agent's availability and the poll's
 * result to the sink. */
void guest_poll_push(struct collector *c, const char *uuid);
/* Schedules this round's agent polls; under c->lock, which it may drop
 * while reporting. */
void guest_schedule(struct collector *c, int64_t now);
void guest_job_run(gpointer data, gpointer user);
