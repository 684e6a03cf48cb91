/*
 * model/change_request: change requests as the store keeps them
 * (docs/provisioning.md; their rules are src/provision/change.h).
 */
#pragma once

#include "model/row.h"

struct change_request_row {
    int64_t id;
    char *state; /* draft, submitted, approved, scheduled, running, done, ... */
    char *reason;
    char *risk;                     /* low, medium, high */
    int64_t window_from, window_to; /* times; 0: open from the start / never closes */
    char *actions;                  /* JSON array of {"action": NAME, params...} */
    bool canary;
    int64_t batch;           /* VMs per batch after the canary; 0: all at once */
    int64_t guest_fresh_s;   /* the check: guest view at most this old; 0: not checked */
    int64_t check_timeout_s; /* how long the checks may take to pass */
    char *requester;
    int64_t requester_token; /* token id */
    char *approver;
    int64_t approver_token;
    int64_t created, updated, started, ended; /* times */
    char *error;                              /* why it failed, or was rolled back */
};

/* One VM of a request and what became of it. */
struct change_vm_row {
    int64_t request_id;
    int64_t seq; /* its place in the request */
    char *uuid;
    char *vm;
    int64_t host_id;
    char *host; /* joined */
    int64_t batch;
    char *state;     /* pending, running, done, failed, rolled-back, skipped */
    char *saved;     /* "snapshot NAME" or "definition": what a rollback restores */
    char *saved_xml; /* the definition saved */
    char *result;    /* what happened, in words */
    char *audit_ids; /* JSON array of the audit entries of its actions */
    int64_t updated;
};

extern const struct row_desc change_request_row_desc; /* "change_requests" */
extern const struct row_desc change_vm_row_desc;      /* "vms" */
