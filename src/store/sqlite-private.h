/*
 * Shared between the SQLite backend's files: sqlite.c (inventory, audit,
 * tokens, guest samples) and sqlite-samples.c (host view, tiers, history
 * queries).  Not for use outside src/store.
 */
#pragma once

#include "store/db.h"
#include "store/store.h"

/* The connections are SQLite's, opened in sqlite.c, or PostgreSQL's,
 * opened in pg.c; everything else goes through the statement layer (db.h)
 * and is the same on both. */
struct store_sqlite {
    struct store base;
    struct db *w; /* every write, under wlock */
    struct db *r; /* queries, under rlock */
    /* Token lookups, under alock: every request asks one, often on the
     * HTTP server's poll thread, so it never queues behind a long list
     * query (rlock) or a round's transaction (wlock). */
    struct db *a;
    struct db *c; /* PostgreSQL: heartbeats and leases, under clock (sqlite-cluster.c) */
    GMutex wlock;
    GMutex rlock;
    GMutex alock;
    GMutex clock;
    GHashTable *last_used; /* token id -> when last_used was last written (µs), under alock */
    char *conninfo;        /* PostgreSQL: for connections of one call's own */
    /* PostgreSQL: the days whose sample partitions are known to be there
     * (pg-partitions.c), under wlock. */
    bool part_known;
    int64_t part_lo, part_hi;
};

/* sqlite.c: a store with no connections yet (OPS: sqlite's or sq_pg_ops()),
 * and its closing (for one half opened too). */
struct store_sqlite *sq_new(const struct store_ops *ops);
void sq_free(struct store_sqlite *s);
const struct store_ops *sq_pg_ops(void);
/* The numbered schema migrations, SQLite's DDL (db_ddl_pg() translates). */
const char *const *sq_migrations(size_t *ret_n);
/* The refusal of a database newer than this binary. */
int sq_schema_newer(int64_t version, size_t known, GError **error);
/* Marks audit entries left running by a process that died as interrupted. */
void sq_audit_interrupted(struct store_sqlite *s);

#define SQ(st) ((struct store_sqlite *)(st))

/* pg-partitions.c, PostgreSQL only (on SQLite the calls do nothing): the
 * raw sample tables partitioned by day.  Called under wlock, outside a
 * transaction of s->w. */
/* Migration 16, inside the migration's transaction. */
int pg_partition_samples(struct db *db, GError **error);
/* Makes every sample table's partitions for the days from LO_US to HI_US. */
int pg_partitions_ensure(struct store_sqlite *s, int64_t lo_us, int64_t hi_us, GError **error);
/* Yesterday's to the day after tomorrow's, around NOW_US. */
int pg_partitions_ensure_ahead(struct store_sqlite *s, int64_t now_us, GError **error);
/* Drops TABLE's day partitions wholly older than CUTOFF_US, counting them
 * into *RET_DROPPED. */
int pg_partitions_drop_before(struct store_sqlite *s, const char *table, int64_t cutoff_us,
                              unsigned *ret_dropped, GError **error);

/* Binds S (NULL: SQL NULL) to parameter IDX of a reused statement. */
void bind_s(struct db_stmt *q, int idx, const char *s);
/* Steps Q (NULL: its preparation failed, -EIO) to its end and finalizes
 * it; *RET_ID, when given, the first column of its last row (an INSERT's
 * RETURNING id). */
int step_id(struct db_stmt *q, int64_t *ret_id, GError **error);
/* Reads every row of Q (then finalizes it; NULL: -EIO) into RET, matching
 * column names to the fields of RET's row table. */
int read_rows(struct db_stmt *q, struct rows *ret, GError **error);
/* Runs a query on the read connection and returns its rows of D. */
struct rows *query_rows(struct store_sqlite *s, const struct row_desc *d, GError **error,
                        const char *sql, const char *fmt, ...);
/* SQLite only: a read connection of its own for one long query, closed
 * with db_close(); NULL for a database without a file. */
struct db *sq_reader_open(struct store_sqlite *s);

/*
 * Migration 3: host-view history, tiers, view availability.
 *
 * host_samples, node_samples and pool_samples are wide raw rows (columns
 * as in struct host_sample / node_sample / pool_sample).  samples_5m and
 * samples_1h hold one row per kind, entity and bucket with the bucket's
 * aggregates as JSON (series.h), so tiers need no migration when a metric
 * is added.  samples_progress is the downsampler's watermark per kind.
 */
#define SQLITE_MIGRATION_HOST_VIEW                                                                 \
    "CREATE TABLE host_samples ("                                                                  \
    "  id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL, uuid TEXT NOT NULL,"                      \
    "  t INTEGER NOT NULL, dom_id INTEGER, state INTEGER, state_reason INTEGER,"                   \
    "  cpu_time_ns INTEGER, cpu_user_ns INTEGER, cpu_system_ns INTEGER, vcpu_count INTEGER,"       \
    "  vcpu_time_ns INTEGER, vcpu_wait_ns INTEGER, vcpu_delay_ns INTEGER,"                         \
    "  balloon_current INTEGER, balloon_maximum INTEGER, balloon_rss INTEGER,"                     \
    "  block_count INTEGER, block_rd_bytes INTEGER, block_wr_bytes INTEGER,"                       \
    "  block_rd_reqs INTEGER, block_wr_reqs INTEGER, block_allocation INTEGER,"                    \
    "  block_capacity INTEGER, block_physical INTEGER, net_count INTEGER,"                         \
    "  net_rx_bytes INTEGER, net_tx_bytes INTEGER, net_rx_pkts INTEGER, net_tx_pkts INTEGER,"      \
    "  net_rx_drop INTEGER, net_tx_drop INTEGER, net_rx_errs INTEGER, net_tx_errs INTEGER,"        \
    "  vcpus TEXT, blocks TEXT, nics TEXT);"                                                       \
    "CREATE INDEX host_samples_uuid_t ON host_samples(uuid, t);"                                   \
    "CREATE INDEX host_samples_t ON host_samples(t);"                                              \
    "CREATE TABLE node_samples ("                                                                  \
    "  host_id INTEGER NOT NULL, t INTEGER NOT NULL, cpu_user_ns INTEGER,"                         \
    "  cpu_kernel_ns INTEGER, cpu_idle_ns INTEGER, cpu_iowait_ns INTEGER, mem_total INTEGER,"      \
    "  mem_free INTEGER, mem_buffers INTEGER, mem_cached INTEGER, domains_running INTEGER,"        \
    "  round_us INTEGER, domains_collected INTEGER, domains_missed INTEGER,"                       \
    "  round_cut INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (host_id, t));"                           \
    "CREATE INDEX node_samples_t ON node_samples(t);"                                              \
    "CREATE TABLE pool_samples ("                                                                  \
    "  host_id INTEGER NOT NULL, name TEXT NOT NULL, t INTEGER NOT NULL, capacity INTEGER,"        \
    "  allocation INTEGER, available INTEGER, PRIMARY KEY (host_id, name, t));"                    \
    "CREATE INDEX pool_samples_t ON pool_samples(t);"                                              \
    "CREATE INDEX guest_samples_received ON guest_samples(received);"                              \
    "CREATE TABLE samples_5m (kind TEXT NOT NULL, entity TEXT NOT NULL, t INTEGER NOT NULL,"       \
    "  data TEXT NOT NULL, PRIMARY KEY (kind, entity, t)) WITHOUT ROWID;"                          \
    "CREATE INDEX samples_5m_t ON samples_5m(t);"                                                  \
    "CREATE TABLE samples_1h (kind TEXT NOT NULL, entity TEXT NOT NULL, t INTEGER NOT NULL,"       \
    "  data TEXT NOT NULL, PRIMARY KEY (kind, entity, t)) WITHOUT ROWID;"                          \
    "CREATE INDEX samples_1h_t ON samples_1h(t);"                                                  \
    "CREATE TABLE samples_progress (kind TEXT PRIMARY KEY, watermark INTEGER NOT NULL);"           \
    "CREATE TABLE view_status ("                                                                   \
    "  uuid TEXT NOT NULL, part TEXT NOT NULL, host_id INTEGER, available INTEGER NOT NULL,"       \
    "  reason TEXT, since INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (uuid, part));"

/* sqlite-samples.c */
int sq_round_write(struct store *st, const struct store_round *w, GError **error);
int sq_rounds_write(struct store *st, const struct store_round *const *w, size_t n,
                    GError **errors);
int sq_guest_samples_received(struct store *st, const char *source, int64_t after_us, unsigned n,
                              GArray *ret, GError **error);
int sq_samples_recent(struct store *st, enum store_recent_kind kind, const char *key,
                      const char *source, int64_t host_id, unsigned n, GArray *ret, GError **error);
struct rows *sq_view_status_query(struct store *st, const char *uuid, GError **error);
int sq_samples_maintain(struct store *st, const struct store_retention *retention, int64_t now_us,
                        int64_t settle_us, struct store_maint_stats *ret_stats, GError **error);
struct store_series_result *sq_series_query(struct store *st, const struct store_series_query *q,
                                            GError **error);
int sq_guest_sample_insert(struct store *st, const struct guest_sample *g, bool *ret_duplicate,
                           GError **error);
int sq_ingests_write(struct store *st, struct store_ingest *const *w, size_t n, GError **errors);
/* Steps a reused statement to its end, then resets it and clears its
 * bindings. */
int step_reset(struct db_stmt *q, GError **error);

/* sqlite-agents.c */
int sq_agent_enroll(struct store *st, const char *machine_uuid, const char *name,
                    const char *token_hash, int64_t *ret_token_id, GError **error);
int sq_agent_contact(struct store *st, const struct store_agent_contact *c, GError **error);
/* agent_contact's statement, under the write lock, DUPLICATE for C's. */
int sq_agent_contact_locked(struct store_sqlite *s, const struct store_agent_contact *c,
                            bool duplicate, GError **error);
struct rows *sq_agents_query(struct store *st, GError **error);

/* sqlite-reconcile.c: findings, engine states, kept views */
struct rows *sq_findings_query(struct store *st, const char *state, const char *rule,
                               const char *uuid, int limit, GError **error);
struct rows *sq_findings_open(struct store *st, int64_t host_id, GError **error);
int sq_states_load(struct store *st, int64_t host_id, GHashTable *ret, GError **error);
int sq_view_get(struct store *st, const char *uuid, struct vm_view **ret, GError **error);
int sq_views_of_hosts(struct store *st, const int64_t *host_ids, size_t n, GPtrArray *ret,
                      GError **error);
/* Within a round's transaction. */
int findings_write(struct db *db, const struct finding_write *f, size_t n, GError **error);
int states_write(struct db *db, const struct store_state_write *w, size_t n, GError **error);
int views_write(struct db *db, const struct vm_view *const *v, size_t n, GError **error);

/* sqlite-ops.c: the operations record */
int sq_ops_write(struct store *st, const struct store_ops_write *w, GError **error);
int sq_ops_load(struct store *st, int64_t since_us, const char *host, struct store_ops_state *ret,
                GError **error);
struct rows *sq_events_query(struct store *st, const struct store_event_query *q, GError **error);
struct rows *sq_incidents_query(struct store *st, const struct store_incident_query *q, GError **error);
struct rows *sq_incident_items(struct store *st, int64_t id, GError **error);
struct rows *sq_incident_log(struct store *st, int64_t id, GError **error);
int sq_incident_comment(struct store *st, int64_t id, const char *author, const char *text, int64_t now_us, GError **error);
struct rows *sq_change_refs(struct store *st, const char *const *uuids, size_t n, int64_t from_us, int64_t to_us, GError **error);
struct rows *sq_problems_query(struct store *st, int64_t id, GError **error);
int sq_problem_put(struct store *st, const struct problem *p, GError **error);
int sq_incident_set_problem(struct store *st, int64_t id, int64_t problem_id, GError **error);
struct rows *sq_maintenance_query(struct store *st, int64_t now_us, GError **error);
int sq_maintenance_load(struct store *st, int64_t now_us, GPtrArray *ret, GError **error);
int sq_maintenance_add(struct store *st, const struct maintenance *m, int64_t *ret_id, GError **error);
int sq_maintenance_delete(struct store *st, int64_t id, GError **error);
int sq_rules_load(struct store *st, GPtrArray *ret, GError **error);
int sq_rule_put(struct store *st, const struct alert_rule *r, int64_t *ret_id, GError **error);
int sq_rule_delete(struct store *st, const char *name, GError **error);
int sq_outbox_due(struct store *st, int64_t now_us, unsigned limit, GArray *ret, GError **error);
int sq_outbox_done(struct store *st, int64_t id, const char *state, const char *error_text, int64_t next_try_us, int64_t now_us, GError **error);
struct rows *sq_outbox_query(struct store *st, int64_t incident_id, int limit, GError **error);
int sq_events_prune(struct store *st, int64_t before_us, unsigned *ret_deleted, GError **error);

/* sqlite-policy.c: the policies' record */
int sq_decisions_insert(struct store *st, const struct decision_write *w, size_t n,
                        int64_t *ret_ids, GError **error);
int sq_decision_insert(struct store *st, const struct decision_write *w, int64_t *ret_id,
                       GError **error);
int sq_decision_update(struct store *st, int64_t id, const char *state, int64_t audit_id,
                       const char *error_text, GError **error);
int sq_decision_observe(struct store *st, int64_t id, const char *observed_json,
                        const char *verdict, int64_t observed_us, GError **error);
struct rows *sq_decisions_query(struct store *st, const struct store_decision_query *q,
                                GError **error);
struct rows *sq_decision_get(struct store *st, int64_t id, GError **error);
int sq_decisions_prune(struct store *st, int64_t before_us, unsigned *ret_deleted, GError **error);
int sq_policy_setting_put(struct store *st, const char *policy, const char *key, const char *value,
                          const char *by, int64_t now_us, GError **error);
struct rows *sq_policy_settings_query(struct store *st, GError **error);
int sq_policy_pause_put(struct store *st, const char *policy, const char *vm_uuid, int64_t since_us,
                        const char *reason, int64_t decision_id, GError **error);
int sq_policy_pause_delete(struct store *st, const char *policy, const char *vm_uuid,
                           GError **error);
struct rows *sq_policy_pauses_query(struct store *st, GError **error);
int sq_host_maintenance_set(struct store *st, int64_t host_id, bool on, const char *by,
                            const char *reason, int64_t now_us, GError **error);
int sq_ha_host_put(struct store *st, const struct ha_host_row *r, GError **error);
int sq_ha_recovery_put(struct store *st, const struct ha_recovery_row *r, GError **error);
struct rows *sq_ha_hosts_query(struct store *st, GError **error);
struct rows *sq_ha_recoveries_query(struct store *st, GError **error);
int sq_ha_vm_put(struct store *st, const struct ha_vm_row *r, GError **error);
int sq_ha_vm_delete(struct store *st, const char *uuid, GError **error);
struct rows *sq_ha_vms_query(struct store *st, GError **error);

/* sqlite-templates.c */
int sq_template_add(struct store *st, const struct template_row *t, int64_t *ret_version,
                    GError **error);
struct rows *sq_templates_query(struct store *st, const char *name, bool versions, bool with_xml,
                                GError **error);
int sq_template_delete(struct store *st, const char *name, int64_t when_us, GError **error);

/* sqlite-reports.c */
int sq_avail_write(struct db *db, const struct store_round *w, GError **error);
struct rows *sq_vm_states_query(struct store *st, const char *uuid, int64_t from_us, int64_t to_us,
                                GError **error);
struct rows *sq_host_spans_query(struct store *st, int64_t from_us, int64_t to_us, GError **error);
int sq_vm_tags_set(struct store *st, const char *uuid, const char *const *tags, GError **error);
struct rows *sq_vm_tags_query(struct store *st, const char *uuid, const char *tag, GError **error);

/* sqlite-changes.c */
int sq_change_request_add(struct store *st, const struct change_request_row *c,
                          const struct change_vm_row *vms, size_t n, int64_t *ret_id,
                          GError **error);
struct rows *sq_change_requests_query(struct store *st, int64_t id, const char *const *states,
                                      GError **error);
struct rows *sq_change_vms_query(struct store *st, int64_t request_id, GError **error);
int sq_change_request_move(struct store *st, int64_t id, const char *from, const char *to,
                           const struct change_request_update *u, GError **error);
int sq_change_vm_set(struct store *st, const struct change_vm_row *v, GError **error);
struct rows *sq_policy_replay_query(struct store *st, int64_t host_id, int64_t from_us,
                                    int64_t to_us, unsigned limit, GError **error);

/* sqlite-cluster.c: instances and leases */
int sq_instance_beat(struct store *st, const struct store_instance *me, int64_t now_us,
                     GError **error);
int sq_instance_leave(struct store *st, const char *id, GError **error);
/* Inside a write transaction on DB: 0 while FENCE's holder holds the lease
 * under its epoch (on PostgreSQL the lease row stays locked against a
 * taking until the transaction ends), else -ESTALE (STORE_ERROR_FENCED). */
int sq_fence_check(struct db *db, const struct store_fence *fence, GError **error);
int sq_cluster_read(struct store *st, GArray *ret_instances, GArray *ret_leases, GError **error);
int sq_leases_apply(struct store *st, const char *me, const struct store_lease_plan *plan,
                    int64_t now_us, int64_t lease_us, GArray *ret_held, GError **error);
int sq_leases_renew(struct store *st, const char *me, int64_t now_us, int64_t lease_us,
                    unsigned *ret_renewed, GError **error);
