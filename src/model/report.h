/*
 * model/report: the rows the reports read (docs/reports.md): a VM's
 * recorded availability states, the spans of time kanri collected a host,
 * and the VMs' tags.
 */
#pragma once

#include <stdint.h>

#include "model/row.h"

/* From T on, VM UUID (on host HOST_ID) was in STATE (report/availability.h
 * names) for REASON. */
struct vm_state_row {
    char *uuid;
    int64_t host_id;
    int64_t t;
    char *state, *reason;
};

/* Host HOST_ID was collected from FROM_T to TO_T (its rounds' times). */
struct host_span_row {
    int64_t host_id, from_t, to_t;
};

struct vm_tag_row {
    char *uuid, *tag;
};

extern const struct row_desc vm_state_row_desc;  /* "states" */
extern const struct row_desc host_span_row_desc; /* "spans" */
extern const struct row_desc vm_tag_row_desc;    /* "tags" */
