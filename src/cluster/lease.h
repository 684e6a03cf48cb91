/*
 * Host leases among kanrid instances sharing one PostgreSQL store: which
 * hosts an instance should hold, renew, take and give up.  Pure: the
 * instances and leases as the store last read them in, a plan out; the
 * store carries the plan out in one transaction whose conditional writes
 * make a lost race harmless (docs/scale-out.md).
 *
 * The rules, the same on every instance, so that all agree without
 * talking to each other:
 *   - an instance is live while its heartbeat is younger than the lease
 *     time; the planning instance is always live;
 *   - the hosts are shared out evenly among the live instances in the
 *     order of their ids: each gets hosts / live, and the first
 *     hosts % live of them one more (its fair share);
 *   - an instance renews every lease it holds, up to its share;
 *   - it gives up the leases beyond its share (the last by host name), for
 *     an instance under its share to take: that is how a joining instance
 *     gets its part;
 *   - it takes free hosts (no lease, an expired one, or one held by an
 *     instance no longer live) in host-name order until it has its share.
 *
 * A lease names its holder and an epoch that grows with each taking;
 * writes for a host carry the epoch they were made under, so a holder
 * that lost its lease cannot write over its successor.
 *
 * Ownership: every string in the plan points into the inputs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

struct lease_instance {
    const char *id;
    int64_t heartbeat_us; /* the last one the store has */
};

struct lease {
    const char *host;
    const char *holder; /* NULL: nobody's */
    int64_t expires_us;
    int64_t epoch;
};

struct lease_plan {
    GPtrArray *renew;   /* hosts held and kept (const char *) */
    GPtrArray *take;    /* free hosts to take */
    GPtrArray *give_up; /* hosts held beyond the share */
    unsigned live;      /* live instances, the planner included */
    unsigned share;     /* the planner's fair share */
};

void lease_plan_init(struct lease_plan *p);
void lease_plan_clear(struct lease_plan *p);

/* The plan of instance ME at NOW for HOSTS (the fleet's host names, each
 * once) given the store's INSTANCES and LEASES (any order; a lease for a
 * host not in HOSTS is ignored), with leases of LEASE_US. */
void lease_plan(const char *me, const struct lease_instance *instances, size_t n_instances,
                const struct lease *leases, size_t n_leases, const char *const *hosts,
                size_t n_hosts, int64_t now_us, int64_t lease_us, struct lease_plan *ret);

/* Whether instance I is live at NOW. */
bool lease_instance_live(const struct lease_instance *i, int64_t now_us, int64_t lease_us);
