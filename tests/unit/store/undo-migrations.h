/*
 * SQL that takes a database of the current schema back to before one
 * migration step, for the tests that build a database "made by the
 * previous version" from a fresh one (test_store.c, test_policy_store.c).
 * A test going back to step N runs the undo of every later step first,
 * newest first; each new step adds its undo here.
 */
#pragma once

/* Step 19: availability (sqlite-reports.c). */
#define UNDO_MIGRATION_19                                                                          \
    "DROP TABLE vm_states; DROP TABLE host_spans; DROP TABLE vm_tags;"                             \
    "ALTER TABLE node_samples DROP COLUMN vcpus_alloc;"                                            \
    "ALTER TABLE node_samples DROP COLUMN mem_alloc;"                                              \
    "ALTER TABLE node_samples DROP COLUMN disk_alloc;"                                             \
    "ALTER TABLE node_samples DROP COLUMN cpu_demand_milli;"                                       \
    "ALTER TABLE node_samples DROP COLUMN mem_demand;"                                             \
    "ALTER TABLE node_samples DROP COLUMN disk_demand;"

/* Step 18: change requests (sqlite-changes.c). */
#define UNDO_MIGRATION_18                                                                          \
    UNDO_MIGRATION_19 "DROP TABLE change_request_vms; DROP TABLE change_requests;"

/* Step 17: templates (sqlite-templates.c). */
#define UNDO_MIGRATION_17 UNDO_MIGRATION_18 "DROP TABLE templates;"

/* Step 16: nothing on SQLite (the sample tables partitioned on
 * PostgreSQL). */
#define UNDO_MIGRATION_16 UNDO_MIGRATION_17

/* Step 15: instances' TLS pins (sqlite.c). */
#define UNDO_MIGRATION_15 UNDO_MIGRATION_16 "ALTER TABLE instances DROP COLUMN tls_pin;"

/* Step 14: instances and leases (sqlite.c); the later steps' undo first. */
#define UNDO_MIGRATION_14 UNDO_MIGRATION_15 "DROP TABLE instances; DROP TABLE leases;"

/* Step 13: high availability (sqlite.c); the later steps' undo first. */
#define UNDO_MIGRATION_13                                                                          \
    UNDO_MIGRATION_14                                                                              \
    "DROP TABLE ha_hosts; DROP TABLE ha_recoveries; DROP TABLE ha_vms;"

/* Step 12: the policies' record (sqlite.c); the later steps' undo first. */
#define UNDO_MIGRATION_12                                                                          \
    UNDO_MIGRATION_13                                                                              \
    "DROP TABLE decisions; DROP TABLE policy_settings; DROP TABLE policy_pauses;"                  \
    "ALTER TABLE hosts DROP COLUMN maintenance;"                                                   \
    "ALTER TABLE hosts DROP COLUMN maintenance_since;"                                             \
    "ALTER TABLE hosts DROP COLUMN maintenance_by;"                                                \
    "ALTER TABLE hosts DROP COLUMN maintenance_reason;"
