/*
 * The row tables (model/row.h) and the generic init/clear they drive.
 */
#include "config.h"

#include "model/row.h"

#include <math.h>
#include <string.h>

#include "model/row-table.h"

static const struct row_field host_fields[] = {
    F(host_row, id, ROW_INT),
    F(host_row, name, ROW_STR),
    F(host_row, uri, ROW_STR),
    F(host_row, state, ROW_STR),
    F(host_row, reason, ROW_STR),
    F(host_row, driver, ROW_STR),
    F(host_row, hv_version, ROW_STR),
    F(host_row, libvirt_version, ROW_STR),
    F(host_row, hostname, ROW_STR),
    F(host_row, cpu_model, ROW_STR),
    F(host_row, cpus, ROW_INT),
    F(host_row, mhz, ROW_INT),
    F(host_row, memory_bytes, ROW_INT),
    F(host_row, numa_cells, ROW_INT),
    F(host_row, domains_total, ROW_INT),
    F(host_row, domains_running, ROW_INT),
    F(host_row, last_seen, ROW_TIME),
    F(host_row, connected_since, ROW_TIME),
    F(host_row, inventory_synced_at, ROW_TIME),
    F(host_row, maintenance, ROW_BOOL),
    F(host_row, maintenance_since, ROW_TIME),
    F(host_row, maintenance_by, ROW_STR),
    F(host_row, maintenance_reason, ROW_STR),
};
DESC(host_row, "hosts", host_fields);

static const struct row_field vm_fields[] = {
    F(vm_row, uuid, ROW_STR),
    F(vm_row, name, ROW_STR),
    F(vm_row, host, ROW_STR),
    F(vm_row, host_id, ROW_INT),
    F(vm_row, state, ROW_STR),
    F(vm_row, state_reason, ROW_STR),
    F(vm_row, persistent, ROW_BOOL),
    F(vm_row, autostart, ROW_BOOL),
    F(vm_row, vcpus, ROW_INT),
    F(vm_row, max_vcpus, ROW_INT),
    F(vm_row, memory_bytes, ROW_INT),
    F(vm_row, max_memory_bytes, ROW_INT),
    F(vm_row, os_type, ROW_STR),
    F(vm_row, domain_type, ROW_STR),
    F(vm_row, kind, ROW_STR),
    F(vm_row, disks, ROW_JSON),
    F(vm_row, nics, ROW_JSON),
    F(vm_row, has_agent, ROW_BOOL),
    F(vm_row, balloon_model, ROW_STR),
    F(vm_row, config_version, ROW_INT),
    F(vm_row, updated_at, ROW_TIME),
    F(vm_row, removed, ROW_BOOL),
    FF(vm_row, xml, ROW_STR, ROW_F_OMIT_NULL),
    FF(vm_row, domain_id, ROW_INT, ROW_F_INTERNAL),
    F(vm_row, pending_changes, ROW_INT),
};
DESC(vm_row, "vms", vm_fields);

static const struct row_field pool_fields[] = {
    F(pool_row, host, ROW_STR),
    F(pool_row, host_id, ROW_INT),
    F(pool_row, name, ROW_STR),
    F(pool_row, uuid, ROW_STR),
    F(pool_row, state, ROW_STR),
    F(pool_row, capacity_bytes, ROW_INT),
    F(pool_row, allocation_bytes, ROW_INT),
    F(pool_row, available_bytes, ROW_INT),
    F(pool_row, target_path, ROW_STR),
    F(pool_row, updated_at, ROW_TIME),
};
DESC(pool_row, "pools", pool_fields);

static const struct row_field network_fields[] = {
    F(network_row, host, ROW_STR),        F(network_row, host_id, ROW_INT),
    F(network_row, name, ROW_STR),        F(network_row, uuid, ROW_STR),
    F(network_row, active, ROW_BOOL),     F(network_row, bridge, ROW_STR),
    F(network_row, updated_at, ROW_TIME),
};
DESC(network_row, "networks", network_fields);

static const struct row_field change_fields[] = {
    F(change_row, id, ROW_INT),
    F(change_row, vm_uuid, ROW_STR),
    F(change_row, vm_name, ROW_STR),
    F(change_row, host, ROW_STR),
    F(change_row, from_version, ROW_INT),
    F(change_row, to_version, ROW_INT),
    F(change_row, seen_at, ROW_TIME),
    F(change_row, cause, ROW_STR),
    F(change_row, actor, ROW_STR),
    F(change_row, audit_id, ROW_INT),
    F(change_row, diff, ROW_STR),
    F(change_row, track, ROW_STR),
    F(change_row, pending, ROW_BOOL),
    F(change_row, applied_at, ROW_TIME),
    FF(change_row, domain_id, ROW_INT, ROW_F_INTERNAL),
};
DESC(change_row, "changes", change_fields);

static const struct row_field audit_fields[] = {
    F(audit_row, id, ROW_INT),
    F(audit_row, actor, ROW_STR),
    F(audit_row, action, ROW_STR),
    F(audit_row, target, ROW_STR),
    F(audit_row, target_uuid, ROW_STR),
    F(audit_row, host, ROW_STR),
    F(audit_row, params, ROW_JSON),
    F(audit_row, started_at, ROW_TIME),
    F(audit_row, ended_at, ROW_TIME),
    F(audit_row, result, ROW_STR),
    F(audit_row, error, ROW_STR),
    F(audit_row, checked_at, ROW_TIME),
    F(audit_row, checked_state, ROW_STR),
};
DESC(audit_row, "audit", audit_fields);

static const struct row_field token_fields[] = {
    F(token_row, id, ROW_INT),          F(token_row, name, ROW_STR),
    F(token_row, role, ROW_STR),        F(token_row, machine_uuid, ROW_STR),
    F(token_row, created_at, ROW_TIME), F(token_row, last_used, ROW_TIME),
};
DESC(token_row, "tokens", token_fields);

static const struct row_field agent_fields[] = {
    F(agent_row, machine_uuid, ROW_STR),
    F(agent_row, name, ROW_STR),
    F(agent_row, vm, ROW_STR),
    F(agent_row, host, ROW_STR),
    F(agent_row, hostname, ROW_STR),
    F(agent_row, agent_name, ROW_STR),
    F(agent_row, agent_version, ROW_STR),
    F(agent_row, id_source, ROW_STR),
    F(agent_row, enrolled_at, ROW_TIME),
    F(agent_row, last_contact, ROW_TIME),
    F(agent_row, last_sample_time, ROW_TIME),
    F(agent_row, last_seq, ROW_INT),
    F(agent_row, lag_seconds, ROW_REAL),
    F(agent_row, spool_backlog, ROW_INT),
    F(agent_row, spool_dropped, ROW_INT),
    F(agent_row, accepted, ROW_INT),
    F(agent_row, duplicates, ROW_INT),
    F(agent_row, rejected, ROW_INT),
    F(agent_row, last_error, ROW_STR),
    F(agent_row, last_error_at, ROW_TIME),
};
DESC(agent_row, "agents", agent_fields);

static const struct row_field finding_fields[] = {
    F(finding_row, id, ROW_INT),       F(finding_row, uuid, ROW_STR),
    F(finding_row, vm, ROW_STR),       F(finding_row, host, ROW_STR),
    F(finding_row, rule, ROW_STR),     F(finding_row, severity, ROW_STR),
    F(finding_row, state, ROW_STR),    F(finding_row, since, ROW_TIME),
    F(finding_row, opened, ROW_TIME),  F(finding_row, closed, ROW_TIME),
    F(finding_row, updated, ROW_TIME), F(finding_row, measure, ROW_REAL),
    F(finding_row, message, ROW_STR),
};
DESC(finding_row, "findings", finding_fields);

static const struct row_field view_status_fields[] = {
    F(view_status_row, uuid, ROW_STR),       F(view_status_row, part, ROW_STR),
    F(view_status_row, available, ROW_BOOL), F(view_status_row, reason, ROW_STR),
    F(view_status_row, since, ROW_TIME),     F(view_status_row, updated, ROW_TIME),
};
DESC(view_status_row, "availability", view_status_fields);

static const struct row_field snapshot_fields[] = {
    F(snapshot_row, name, ROW_STR),        F(snapshot_row, state, ROW_STR),
    F(snapshot_row, created_at, ROW_TIME), F(snapshot_row, current, ROW_BOOL),
    F(snapshot_row, description, ROW_STR), F(snapshot_row, parent, ROW_STR),
};
DESC(snapshot_row, "snapshots", snapshot_fields);

static const struct row_field event_fields[] = {
    F(event_row, id, ROW_INT),          F(event_row, t, ROW_TIME),
    F(event_row, item, ROW_STR),        F(event_row, item_name, ROW_STR),
    F(event_row, host, ROW_STR),        F(event_row, kind, ROW_STR),
    F(event_row, condition, ROW_STR),   F(event_row, problem, ROW_BOOL),
    F(event_row, severity, ROW_STR),    F(event_row, message, ROW_STR),
    F(event_row, incident_id, ROW_INT), F(event_row, maintenance_id, ROW_INT),
};
DESC(event_row, "events", event_fields);

static const struct row_field incident_fields[] = {
    F(incident_row, id, ROW_INT),
    F(incident_row, condition, ROW_STR),
    F(incident_row, item, ROW_STR),
    F(incident_row, item_name, ROW_STR),
    F(incident_row, host, ROW_STR),
    F(incident_row, severity, ROW_STR),
    F(incident_row, state, ROW_STR),
    F(incident_row, title, ROW_STR),
    F(incident_row, opened, ROW_TIME),
    F(incident_row, updated, ROW_TIME),
    F(incident_row, acknowledged, ROW_TIME),
    F(incident_row, acknowledged_by, ROW_STR),
    F(incident_row, resolved, ROW_TIME),
    F(incident_row, resolved_by, ROW_STR),
    F(incident_row, clear_since, ROW_TIME),
    F(incident_row, last_event, ROW_TIME),
    F(incident_row, flaps, ROW_INT),
    F(incident_row, events, ROW_INT),
    F(incident_row, seq, ROW_INT),
    F(incident_row, problem_id, ROW_INT),
};
DESC(incident_row, "incidents", incident_fields);

static const struct row_field incident_item_fields[] = {
    F(incident_item_row, item, ROW_STR),
    F(incident_item_row, name, ROW_STR),
};
DESC(incident_item_row, "affected", incident_item_fields);

static const struct row_field incident_log_fields[] = {
    F(incident_log_row, seq, ROW_INT),    F(incident_log_row, t, ROW_TIME),
    F(incident_log_row, what, ROW_STR),   F(incident_log_row, by, ROW_STR),
    F(incident_log_row, comment, ROW_STR),
};
DESC(incident_log_row, "log", incident_log_fields);

static const struct row_field problem_fields[] = {
    F(problem_row, id, ROW_INT),           F(problem_row, title, ROW_STR),
    F(problem_row, state, ROW_STR),        F(problem_row, root_cause, ROW_STR),
    F(problem_row, known_error, ROW_STR),  F(problem_row, workaround, ROW_STR),
    F(problem_row, suggested, ROW_BOOL),   F(problem_row, condition, ROW_STR),
    F(problem_row, item, ROW_STR),         F(problem_row, created, ROW_TIME),
    F(problem_row, updated, ROW_TIME),     F(problem_row, created_by, ROW_STR),
    F(problem_row, incidents, ROW_INT),
};
DESC(problem_row, "problems", problem_fields);

static const struct row_field maintenance_fields[] = {
    F(maintenance_row, id, ROW_INT),       F(maintenance_row, scope, ROW_STR),
    F(maintenance_row, from, ROW_TIME),    F(maintenance_row, to, ROW_TIME),
    F(maintenance_row, who, ROW_STR),      F(maintenance_row, why, ROW_STR),
    F(maintenance_row, created, ROW_TIME), F(maintenance_row, active, ROW_BOOL),
};
DESC(maintenance_row, "maintenance", maintenance_fields);

static const struct row_field delivery_fields[] = {
    F(delivery_row, id, ROW_INT),          F(delivery_row, route, ROW_STR),
    F(delivery_row, key, ROW_STR),         F(delivery_row, incident_id, ROW_INT),
    F(delivery_row, created, ROW_TIME),    F(delivery_row, next_try, ROW_TIME),
    F(delivery_row, attempts, ROW_INT),    F(delivery_row, state, ROW_STR),
    F(delivery_row, last_error, ROW_STR),  F(delivery_row, done, ROW_TIME),
};
DESC(delivery_row, "deliveries", delivery_fields);

static const struct row_field change_ref_fields[] = {
    F(change_ref_row, id, ROW_INT),        F(change_ref_row, t, ROW_TIME),
    F(change_ref_row, uuid, ROW_STR),      F(change_ref_row, name, ROW_STR),
    F(change_ref_row, source, ROW_STR),    F(change_ref_row, cause, ROW_STR),
    F(change_ref_row, actor, ROW_STR),     F(change_ref_row, summary, ROW_STR),
    F(change_ref_row, pending, ROW_BOOL),  F(change_ref_row, diff, ROW_STR),
};
DESC(change_ref_row, "changes", change_ref_fields);

static const struct row_field rule_fields[] = {
    F(rule_row, id, ROW_INT),       F(rule_row, name, ROW_STR),      F(rule_row, kind, ROW_STR),
    F(rule_row, metric, ROW_STR),   F(rule_row, view, ROW_STR),      F(rule_row, op, ROW_STR),
    F(rule_row, value, ROW_REAL),   F(rule_row, for_s, ROW_INT),     F(rule_row, severity, ROW_STR),
    F(rule_row, scope, ROW_STR),    F(rule_row, enabled, ROW_BOOL),  F(rule_row, origin, ROW_STR),
};
DESC(rule_row, "rules", rule_fields);

/* ---- generic ---- */

void row_init(const struct row_desc *d, void *row)
{
    memset(row, 0, d->size);
    for (size_t i = 0; i < d->n_fields; i++) {
        char *p = (char *)row + d->fields[i].offset;
        if (d->fields[i].type == ROW_INT)
            *(int64_t *)p = ROW_INT_ABSENT;
        else if (d->fields[i].type == ROW_REAL)
            *(double *)p = NAN;
    }
}

void row_clear(const struct row_desc *d, void *row)
{
    for (size_t i = 0; i < d->n_fields; i++) {
        if (d->fields[i].type == ROW_STR || d->fields[i].type == ROW_JSON)
            g_free(*(char **)((char *)row + d->fields[i].offset));
    }
    row_init(d, row);
}

const struct row_field *row_field_find(const struct row_desc *d, const char *name)
{
    for (size_t i = 0; i < d->n_fields; i++) {
        if (strcmp(d->fields[i].name, name) == 0)
            return &d->fields[i];
    }
    return NULL;
}

struct rows *rows_new(const struct row_desc *d)
{
    struct rows *r = g_new0(struct rows, 1);
    r->desc = d;
    r->items = g_ptr_array_new();
    return r;
}

void rows_free(struct rows *r)
{
    if (!r)
        return;
    for (guint i = 0; i < r->items->len; i++) {
        void *row = g_ptr_array_index(r->items, i);
        row_clear(r->desc, row);
        g_free(row);
    }
    g_ptr_array_unref(r->items);
    g_free(r);
}

void *rows_add(struct rows *r)
{
    void *row = g_malloc(r->desc->size);
    row_init(r->desc, row);
    g_ptr_array_add(r->items, row);
    return row;
}
