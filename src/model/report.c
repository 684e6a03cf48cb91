/*
 * The row tables of model/report.h.
 */
#include "config.h"

#include "model/report.h"
#include "model/row-table.h"

static const struct row_field vm_state_fields[] = {
    F(vm_state_row, uuid, ROW_STR),   F(vm_state_row, host_id, ROW_INT),
    F(vm_state_row, t, ROW_TIME),     F(vm_state_row, state, ROW_STR),
    F(vm_state_row, reason, ROW_STR),
};
DESC(vm_state_row, "states", vm_state_fields);

static const struct row_field host_span_fields[] = {
    F(host_span_row, host_id, ROW_INT),
    F(host_span_row, from_t, ROW_TIME),
    F(host_span_row, to_t, ROW_TIME),
};
DESC(host_span_row, "spans", host_span_fields);

static const struct row_field vm_tag_fields[] = {
    F(vm_tag_row, uuid, ROW_STR),
    F(vm_tag_row, tag, ROW_STR),
};
DESC(vm_tag_row, "tags", vm_tag_fields);
