/*
 * model/ha: what the store keeps of high availability (docs/ha.md) and
 * the API serves: each host's HA state machine, each HA VM's newest
 * recovery, and the HA settings of VMs made over the API.  src/policy/ha.h
 * decides; the engine converts between these rows and its records.
 *
 * Ownership: every char * is owned by the row (rows_free() frees them).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "model/row.h"

/* One host's state machine (policy/ha.h struct ha_host_rec). */
struct ha_host_row {
    int64_t host_id;
    char *host; /* its name (joined in queries; ignored by writes) */
    char *state;
    int64_t since, failed; /* times; failed 0: not in a failure */
    int64_t fence_attempts;
    int64_t next_fence; /* time, 0 none */
    char *reason;
};

/* One VM's newest recovery (policy/ha.h struct ha_vm_rec). */
struct ha_recovery_row {
    char *uuid, *vm;
    int64_t from_host_id, to_host_id, failed_host_id; /* 0: none */
    char *from_host, *to_host; /* names, joined in queries */
    char *state;
    int64_t since, failure; /* times */
    int64_t attempts;
    char *reason;
};

/* A VM's HA settings made over the API (they win over kanri.conf's). */
struct ha_vm_row {
    char *uuid;
    char *vm; /* the newest domain row's name with that uuid; ignored by writes */
    bool ha;
    int64_t priority;
    char *restart; /* "elsewhere", "in-place", "report" */
    char *group;   /* HA group name, NULL: any host */
    int64_t updated;
    char *by;
};

extern const struct row_desc ha_host_row_desc;     /* "hosts" */
extern const struct row_desc ha_recovery_row_desc; /* "recoveries" */
extern const struct row_desc ha_vm_row_desc;       /* "vms" */
