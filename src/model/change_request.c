/*
 * The row tables of model/change_request.h.
 */
#include "config.h"

#include "model/change_request.h"
#include "model/row-table.h"

static const struct row_field change_request_fields[] = {
    F(change_request_row, id, ROW_INT),
    F(change_request_row, state, ROW_STR),
    F(change_request_row, reason, ROW_STR),
    F(change_request_row, risk, ROW_STR),
    F(change_request_row, window_from, ROW_TIME),
    F(change_request_row, window_to, ROW_TIME),
    F(change_request_row, actions, ROW_JSON),
    F(change_request_row, canary, ROW_BOOL),
    F(change_request_row, batch, ROW_INT),
    F(change_request_row, guest_fresh_s, ROW_INT),
    F(change_request_row, check_timeout_s, ROW_INT),
    F(change_request_row, requester, ROW_STR),
    FF(change_request_row, requester_token, ROW_INT, ROW_F_INTERNAL),
    F(change_request_row, approver, ROW_STR),
    FF(change_request_row, approver_token, ROW_INT, ROW_F_INTERNAL),
    F(change_request_row, created, ROW_TIME),
    F(change_request_row, updated, ROW_TIME),
    F(change_request_row, started, ROW_TIME),
    F(change_request_row, ended, ROW_TIME),
    F(change_request_row, error, ROW_STR),
};
DESC(change_request_row, "change_requests", change_request_fields);

static const struct row_field change_vm_fields[] = {
    FF(change_vm_row, request_id, ROW_INT, ROW_F_INTERNAL),
    FF(change_vm_row, seq, ROW_INT, ROW_F_INTERNAL),
    F(change_vm_row, uuid, ROW_STR),
    F(change_vm_row, vm, ROW_STR),
    FF(change_vm_row, host_id, ROW_INT, ROW_F_INTERNAL),
    F(change_vm_row, host, ROW_STR),
    F(change_vm_row, batch, ROW_INT),
    F(change_vm_row, state, ROW_STR),
    F(change_vm_row, saved, ROW_STR),
    FF(change_vm_row, saved_xml, ROW_STR, ROW_F_INTERNAL),
    F(change_vm_row, result, ROW_STR),
    F(change_vm_row, audit_ids, ROW_JSON),
    F(change_vm_row, updated, ROW_TIME),
};
DESC(change_vm_row, "vms", change_vm_fields);
