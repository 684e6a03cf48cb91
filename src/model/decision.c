/*
 * The row tables of the policies' record (model/decision.h).
 */
#include "config.h"

#include "model/decision.h"

#include <stddef.h>

#include "model/row-table.h"

static const struct row_field decision_fields[] = {
    F(decision_row, id, ROW_INT),
    F(decision_row, time, ROW_TIME),
    F(decision_row, policy, ROW_STR),
    F(decision_row, mode, ROW_STR),
    F(decision_row, evacuation, ROW_BOOL),
    F(decision_row, vm, ROW_STR),
    F(decision_row, vm_uuid, ROW_STR),
    F(decision_row, host, ROW_STR),
    F(decision_row, to_host, ROW_STR),
    F(decision_row, rule, ROW_STR),
    F(decision_row, action, ROW_STR),
    F(decision_row, params, ROW_JSON),
    F(decision_row, inputs, ROW_JSON),
    F(decision_row, expected, ROW_JSON),
    F(decision_row, reason, ROW_STR),
    F(decision_row, state, ROW_STR),
    F(decision_row, audit_id, ROW_INT),
    F(decision_row, error, ROW_STR),
    F(decision_row, observed, ROW_JSON),
    F(decision_row, verdict, ROW_STR),
    F(decision_row, observed_time, ROW_TIME),
    F(decision_row, undo_of, ROW_INT),
    FF(decision_row, host_id, ROW_INT, ROW_F_INTERNAL),
    FF(decision_row, to_host_id, ROW_INT, ROW_F_INTERNAL),
};
DESC(decision_row, "decisions", decision_fields);

static const struct row_field policy_setting_fields[] = {
    F(policy_setting_row, policy, ROW_STR), F(policy_setting_row, key, ROW_STR),
    F(policy_setting_row, value, ROW_STR),  F(policy_setting_row, updated, ROW_TIME),
    F(policy_setting_row, by, ROW_STR),
};
DESC(policy_setting_row, "settings", policy_setting_fields);

static const struct row_field policy_pause_fields[] = {
    F(policy_pause_row, policy, ROW_STR), F(policy_pause_row, vm_uuid, ROW_STR),
    F(policy_pause_row, vm, ROW_STR),     F(policy_pause_row, since, ROW_TIME),
    F(policy_pause_row, reason, ROW_STR), F(policy_pause_row, decision_id, ROW_INT),
};
DESC(policy_pause_row, "pauses", policy_pause_fields);

static const struct row_field replay_fields[] = {
    F(replay_row, t, ROW_TIME),
    F(replay_row, host_id, ROW_INT),
    F(replay_row, host, ROW_STR),
    F(replay_row, vm_uuid, ROW_STR),
    F(replay_row, vm, ROW_STR),
    F(replay_row, mem_total, ROW_INT),
    F(replay_row, mem_used, ROW_INT),
    F(replay_row, mem_swap, ROW_INT),
    F(replay_row, cpu_demand, ROW_INT),
    F(replay_row, balloon_current, ROW_INT),
    F(replay_row, balloon_maximum, ROW_INT),
    F(replay_row, vcpu_count, ROW_INT),
    F(replay_row, node_mem_total, ROW_INT),
    F(replay_row, node_mem_free, ROW_INT),
};
DESC(replay_row, "replay", replay_fields);
