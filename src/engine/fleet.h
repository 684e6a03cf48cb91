/*
 * fleet: the whole fleet at a glance (GET /api/v1/fleet, `kanri fleet`).
 *
 * Per VM: its latest reconciled CPU demand, memory and disk use (R of its
 * host's newest round) and its open findings.  Per host: its state, those
 * figures summed against its CPUs and memory, its pools' storage, its VM
 * counts, and its open findings and incidents by severity.
 *
 * engine_fleet() (engine.h) fills a struct fleet from the inventory the
 * caller read (the rows of /hosts, /vms and /pools) and from the engine's
 * latest view under its lock, then calls fleet_sum(), which is pure: it
 * adds the VMs and pools up per host and the hosts up into the totals.
 *
 * Absent values (the convention of reconcile.h): a double is NaN, an
 * integer figure the inventory does not know is ROW_INT_ABSENT, a time 0.
 * A sum over VMs counts only the VMs that have the figure, and says how
 * many did (cpu_demand_vms, mem_used_vms): a VM without R is never
 * counted as 0, and a sum no VM contributed to is absent, not 0.
 *
 * Ownership: every string is owned (fleet_free() frees them); the rows
 * given to engine_fleet() and fleet_sum() are borrowed for the call.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/event.h"
#include "model/row.h"
#include "reconcile/reconcile.h"

/* Findings' severities: enum reconcile_severity (info, warning, critical). */
#define FLEET_FINDING_SEV_N (RECONCILE_CRITICAL + 1)

struct fleet_vm {
    char *uuid, *name, *host, *state; /* as the inventory has them */
    char *kind;                       /* vm_row.kind: "vm" or "container" */
    int64_t host_id;
    int64_t vcpus;        /* inventory; ROW_INT_ABSENT unknown */
    int64_t memory_bytes; /* assigned (current balloon target), inventory */

    /* R of the VM's newest round, from the engine's latest view; a VM
     * that is not in its host's rounds (not running since kanrid started,
     * stopped) has none. */
    int64_t t_us;          /* that round; 0: no R at all */
    double r_vcpus;        /* the vCPUs cpu_demand is a share of (that round's host sample) */
    double cpu_demand_pct; /* busy + wait, % of r_vcpus */
    double mem_used_bytes, mem_total_bytes, disk_used_bytes;

    /* Findings open on it now (the rows /findings?state=open lists). */
    unsigned findings[FLEET_FINDING_SEV_N];
};

/* Open findings of V in all; its worst severity, -1 when none is open. */
unsigned fleet_vm_findings_open(const struct fleet_vm *v);
int fleet_vm_worst(const struct fleet_vm *v);

struct fleet_host {
    int64_t id;
    char *name;
    char *state;                /* host_state_name(): connecting | connected | unreachable */
    char *reason;               /* why not connected, NULL when connected */
    int64_t cpus, memory_bytes; /* inventory; ROW_INT_ABSENT unknown */
    bool maintenance;           /* in maintenance mode: nothing is placed on it */

    /* fleet_sum() fills the rest. */
    unsigned vms_total, vms_running; /* running: state "running", as /hosts counts */
    int64_t t_us;                    /* the newest round summed below; 0: none */
    /* Sum over its VMs with R of cpu_demand_pct x r_vcpus / 100: the host
     * CPUs its VMs use or wait for. */
    double cpu_demand_cores;
    unsigned cpu_demand_vms;
    double mem_used_bytes; /* sum of R mem.used */
    unsigned mem_used_vms;
    int64_t mem_assigned_bytes; /* sum of memory_bytes of its running VMs */
    unsigned pools;
    /* Sums over its pools (ROW_INT_ABSENT when no pool reports one). */
    int64_t storage_capacity_bytes, storage_allocation_bytes, storage_available_bytes;
    unsigned findings[FLEET_FINDING_SEV_N];
    uint64_t incidents[SEV_N]; /* set by the caller: open (or acknowledged) incidents */
};

struct fleet {
    int64_t time_us; /* when it was put together */
    GArray *hosts;   /* struct fleet_host, in the inventory's order */
    GArray *vms;     /* struct fleet_vm, in the inventory's order */
    /* Totals.  Findings are fleet_sum()'s (the hosts' sums); incidents
     * are the caller's, since an incident need not be tied to a host. */
    unsigned findings[FLEET_FINDING_SEV_N];
    uint64_t incidents[SEV_N];
};

struct fleet *fleet_new(void);
void fleet_free(struct fleet *f);
typedef struct fleet fleet; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(fleet, fleet_free)

/* Appends a host (its identity, state and inventory figures set, the
 * sums zero) or a VM (absent figures, no findings); the pointer is valid
 * until the next append. */
struct fleet_host *fleet_add_host(struct fleet *f);
struct fleet_vm *fleet_add_vm(struct fleet *f);

/* Pure: fills each host's sums from F's VMs (matched by host_id) and from
 * POOLS (struct pool_row, matched by host_id; NULL: none), and F's
 * findings totals from the hosts.  VMs and pools of a host F does not
 * list are left out.  Sums already there are replaced. */
void fleet_sum(struct fleet *f, const struct rows *pools);
