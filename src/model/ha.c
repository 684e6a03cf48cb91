/*
 * The row tables of model/ha.h.
 */
#include "config.h"

#include "model/ha.h"
#include "model/row-table.h"

static const struct row_field ha_host_fields[] = {
    FF(ha_host_row, host_id, ROW_INT, ROW_F_INTERNAL),
    F(ha_host_row, host, ROW_STR),
    F(ha_host_row, state, ROW_STR),
    F(ha_host_row, since, ROW_TIME),
    F(ha_host_row, failed, ROW_TIME),
    F(ha_host_row, fence_attempts, ROW_INT),
    F(ha_host_row, next_fence, ROW_TIME),
    F(ha_host_row, reason, ROW_STR),
};
DESC(ha_host_row, "hosts", ha_host_fields);

static const struct row_field ha_recovery_fields[] = {
    F(ha_recovery_row, uuid, ROW_STR),
    F(ha_recovery_row, vm, ROW_STR),
    FF(ha_recovery_row, from_host_id, ROW_INT, ROW_F_INTERNAL),
    FF(ha_recovery_row, to_host_id, ROW_INT, ROW_F_INTERNAL),
    FF(ha_recovery_row, failed_host_id, ROW_INT, ROW_F_INTERNAL),
    F(ha_recovery_row, from_host, ROW_STR),
    F(ha_recovery_row, to_host, ROW_STR),
    F(ha_recovery_row, state, ROW_STR),
    F(ha_recovery_row, since, ROW_TIME),
    F(ha_recovery_row, failure, ROW_TIME),
    F(ha_recovery_row, attempts, ROW_INT),
    F(ha_recovery_row, reason, ROW_STR),
};
DESC(ha_recovery_row, "recoveries", ha_recovery_fields);

static const struct row_field ha_vm_fields[] = {
    F(ha_vm_row, uuid, ROW_STR),     F(ha_vm_row, vm, ROW_STR),
    F(ha_vm_row, ha, ROW_BOOL),      F(ha_vm_row, priority, ROW_INT),
    F(ha_vm_row, restart, ROW_STR),  F(ha_vm_row, group, ROW_STR),
    F(ha_vm_row, updated, ROW_TIME), F(ha_vm_row, by, ROW_STR),
};
DESC(ha_vm_row, "vms", ha_vm_fields);
