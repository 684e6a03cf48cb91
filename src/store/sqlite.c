/*
 * SQLite backend of the store: one file in WAL mode.
 *
 * Two connections: `w` for every write, serialised by wlock, and `r` for
 * queries, serialised by rlock.  WAL lets the reader see the last committed
 * state while a write is in progress, so API reads never wait for the
 * inventory sync.
 */
#include "config.h"

#include "store/store.h"

#include "basic/util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <sqlite3.h> /* SQLite only: opening its connections */
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(kanri_store_error_quark, store_error)

#include "store/sqlite-private.h"

/* Schema migrations, applied in order; PRAGMA user_version records how many
 * ran.  Never edit a released step: append a new one. */
static const char *const migrations[] = {
    /* 1: inventory, configuration history, audit, tokens */
    "CREATE TABLE hosts ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, uri TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'connecting', reason TEXT, driver TEXT, hv_version TEXT,"
    "  libvirt_version TEXT, hostname TEXT, cpu_model TEXT, cpus INTEGER, mhz INTEGER,"
    "  memory_bytes INTEGER, numa_cells INTEGER, last_seen INTEGER, connected_since INTEGER);"
    "CREATE TABLE domains ("
    "  id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts(id),"
    "  uuid TEXT NOT NULL, name TEXT NOT NULL, state TEXT, state_reason TEXT,"
    "  persistent INTEGER NOT NULL DEFAULT 0, autostart INTEGER NOT NULL DEFAULT 0,"
    "  vcpus INTEGER, max_vcpus INTEGER, memory_bytes INTEGER, max_memory_bytes INTEGER,"
    "  os_type TEXT, domain_type TEXT, disks TEXT NOT NULL DEFAULT '[]',"
    "  nics TEXT NOT NULL DEFAULT '[]', has_agent INTEGER NOT NULL DEFAULT 0,"
    "  balloon_model TEXT, config_version INTEGER NOT NULL DEFAULT 0,"
    "  updated_at INTEGER, removed INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (host_id, uuid));"
    "CREATE INDEX domains_name ON domains(name);"
    "CREATE INDEX domains_uuid ON domains(uuid);"
    "CREATE TABLE config_versions ("
    "  domain_id INTEGER NOT NULL REFERENCES domains(id), version INTEGER NOT NULL,"
    "  xml TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (domain_id, version));"
    "CREATE TABLE changes ("
    "  id INTEGER PRIMARY KEY, domain_id INTEGER NOT NULL REFERENCES domains(id),"
    "  from_version INTEGER, to_version INTEGER, seen_at INTEGER NOT NULL,"
    "  cause TEXT NOT NULL, actor TEXT, audit_id INTEGER, diff TEXT NOT NULL);"
    "CREATE INDEX changes_domain ON changes(domain_id, id);"
    "CREATE TABLE pools ("
    "  host_id INTEGER NOT NULL REFERENCES hosts(id), name TEXT NOT NULL, uuid TEXT,"
    "  state TEXT, capacity INTEGER, allocation INTEGER, available INTEGER,"
    "  updated_at INTEGER, PRIMARY KEY (host_id, name));"
    "CREATE TABLE networks ("
    "  host_id INTEGER NOT NULL REFERENCES hosts(id), name TEXT NOT NULL, uuid TEXT,"
    "  active INTEGER, bridge TEXT, updated_at INTEGER, PRIMARY KEY (host_id, name));"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY, actor TEXT NOT NULL, token_id INTEGER, action TEXT NOT NULL,"
    "  target TEXT, target_uuid TEXT, host TEXT, params TEXT NOT NULL DEFAULT '{}',"
    "  started_at INTEGER NOT NULL, ended_at INTEGER, result TEXT NOT NULL DEFAULT 'running',"
    "  error TEXT);"
    "CREATE INDEX audit_target ON audit(target_uuid, id);"
    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,"
    "  hash TEXT NOT NULL UNIQUE, machine_uuid TEXT, created_at INTEGER NOT NULL,"
    "  last_used INTEGER, revoked_at INTEGER);",
    /* 2: guest-view history, one wide row per machine, source and sample */
    "CREATE TABLE guest_samples ("
    "  id INTEGER PRIMARY KEY, machine_uuid TEXT NOT NULL, source TEXT NOT NULL,"
    "  t INTEGER NOT NULL, received INTEGER NOT NULL, seq INTEGER,"
    "  cpu_count INTEGER, cpu_user_ns INTEGER, cpu_nice_ns INTEGER, cpu_system_ns INTEGER,"
    "  cpu_idle_ns INTEGER, cpu_iowait_ns INTEGER, cpu_irq_ns INTEGER, cpu_softirq_ns INTEGER,"
    "  cpu_steal_ns INTEGER, mem_total INTEGER, mem_free INTEGER, mem_available INTEGER,"
    "  mem_cached INTEGER, mem_buffers INTEGER, swap_total INTEGER, swap_free INTEGER,"
    "  swap_in_pages INTEGER, swap_out_pages INTEGER, major_faults INTEGER,"
    "  minor_faults INTEGER, load1_milli INTEGER, load5_milli INTEGER, load15_milli INTEGER,"
    "  fs_total INTEGER, fs_used INTEGER, fs_avail INTEGER, disk_read_bytes INTEGER,"
    "  disk_write_bytes INTEGER, disk_reads INTEGER, disk_writes INTEGER,"
    "  net_rx_bytes INTEGER, net_tx_bytes INTEGER, net_rx_packets INTEGER,"
    "  net_tx_packets INTEGER, filesystems TEXT, disks TEXT, nics TEXT, extra TEXT);"
    "CREATE UNIQUE INDEX guest_samples_seq ON guest_samples(machine_uuid, source, seq)"
    "  WHERE seq IS NOT NULL;"
    "CREATE UNIQUE INDEX guest_samples_time ON guest_samples(machine_uuid, source, t)"
    "  WHERE seq IS NULL;"
    "CREATE INDEX guest_samples_machine_t ON guest_samples(machine_uuid, t);",
    /* 3: host-view history, tiers, view availability (sqlite-private.h) */
    SQLITE_MIGRATION_HOST_VIEW,
    /* 4: enrolled guest agents (kanri-guestd) and their health */
    "CREATE TABLE agents ("
    "  machine_uuid TEXT PRIMARY KEY, name TEXT NOT NULL, token_id INTEGER,"
    "  enrolled_at INTEGER NOT NULL, last_contact INTEGER, agent_name TEXT,"
    "  agent_version TEXT, hostname TEXT, id_source TEXT, last_seq INTEGER,"
    "  last_sample_time INTEGER, lag_us INTEGER, spool_backlog INTEGER,"
    "  spool_dropped INTEGER, accepted INTEGER NOT NULL DEFAULT 0,"
    "  duplicates INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT, last_error_at INTEGER);",
    /* 5: reconciliation: R history, the current view and engine state, findings */
    "ALTER TABLE pools ADD COLUMN target_path TEXT;"
    "CREATE TABLE reconciled_samples ("
    "  host_id INTEGER NOT NULL, uuid TEXT NOT NULL, t INTEGER NOT NULL,"
    "  cpu_busy INTEGER, cpu_wait INTEGER, cpu_demand INTEGER, mem_total INTEGER,"
    "  mem_used INTEGER, mem_swap INTEGER, disk_used INTEGER, disk_free INTEGER,"
    "  disk_io INTEGER, net_rx INTEGER, net_tx INTEGER, PRIMARY KEY (uuid, t));"
    "CREATE INDEX reconciled_samples_t ON reconciled_samples(t);"
    "CREATE TABLE reconcile_current ("
    "  uuid TEXT PRIMARY KEY, host_id INTEGER NOT NULL, t INTEGER NOT NULL,"
    "  view TEXT NOT NULL, state TEXT);"
    "CREATE TABLE findings ("
    "  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL, host_id INTEGER NOT NULL,"
    "  rule TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL,"
    "  since INTEGER, opened INTEGER NOT NULL, closed INTEGER, updated INTEGER NOT NULL,"
    "  measure REAL, message TEXT);"
    "CREATE INDEX findings_uuid_rule ON findings(uuid, rule, state);"
    "CREATE INDEX findings_state ON findings(state, id);",
    /* 6: the engine (issue 8): when a host's inventory last synced in full,
     * and the engine state apart from the kept view (written only when it
     * changes, the view only when a VM leaves or kanrid stops). */
    "ALTER TABLE hosts ADD COLUMN inventory_synced_at INTEGER;"
    "CREATE TABLE reconcile_state ("
    "  uuid TEXT PRIMARY KEY, host_id INTEGER NOT NULL, t INTEGER NOT NULL, state TEXT);"
    "INSERT INTO reconcile_state(uuid, host_id, t, state)"
    "  SELECT uuid, host_id, t, state FROM reconcile_current WHERE state IS NOT NULL;"
    /* The host list counts each host's domains: from this index alone, not
     * 10 000 row reads per host per request. */
    "CREATE INDEX domains_host_state ON domains(host_id, removed, state);",
    /* 7: reconciled rows are small and keyed by (uuid, t): one b-tree
     * clustered on the key instead of a table plus its key's index halves
     * what a 10 000-VM round writes for them. */
    "CREATE TABLE reconciled_samples_new ("
    "  host_id INTEGER NOT NULL, uuid TEXT NOT NULL, t INTEGER NOT NULL,"
    "  cpu_busy INTEGER, cpu_wait INTEGER, cpu_demand INTEGER, mem_total INTEGER,"
    "  mem_used INTEGER, mem_swap INTEGER, disk_used INTEGER, disk_free INTEGER,"
    "  disk_io INTEGER, net_rx INTEGER, net_tx INTEGER, PRIMARY KEY (uuid, t)) WITHOUT ROWID;"
    "INSERT INTO reconciled_samples_new SELECT host_id, uuid, t, cpu_busy, cpu_wait,"
    "  cpu_demand, mem_total, mem_used, mem_swap, disk_used, disk_free, disk_io, net_rx,"
    "  net_tx FROM reconciled_samples;"
    "DROP TABLE reconciled_samples;"
    "ALTER TABLE reconciled_samples_new RENAME TO reconciled_samples;"
    "CREATE INDEX reconciled_samples_t ON reconciled_samples(t);",
    /* 8: an action whose outcome was unknown (its host went away) records
     * the domain's state found once the host is back. */
    "ALTER TABLE audit ADD COLUMN checked_at INTEGER;"
    "ALTER TABLE audit ADD COLUMN checked_state TEXT;",
    /* 9: the operations record (issue 15): events, incidents with their
     * affected items and log, problems, maintenance windows, the rules
     * made over the API, and the notification outbox. */
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY, t INTEGER NOT NULL, item TEXT NOT NULL, item_name TEXT,"
    "  host TEXT, kind TEXT NOT NULL, condition TEXT, problem INTEGER NOT NULL DEFAULT 0,"
    "  severity TEXT NOT NULL, message TEXT NOT NULL, incident_id INTEGER,"
    "  maintenance_id INTEGER);"
    "CREATE INDEX events_t ON events(t);"
    "CREATE INDEX events_item ON events(item, id);"
    "CREATE INDEX events_incident ON events(incident_id, id);"
    "CREATE TABLE incidents ("
    "  id INTEGER PRIMARY KEY, condition TEXT NOT NULL, item TEXT NOT NULL, item_name TEXT,"
    "  host TEXT, severity TEXT NOT NULL, state TEXT NOT NULL, title TEXT,"
    "  opened INTEGER NOT NULL, updated INTEGER NOT NULL, acknowledged INTEGER,"
    "  acknowledged_by TEXT, resolved INTEGER, resolved_by TEXT, clear_since INTEGER,"
    "  last_event INTEGER, flaps INTEGER NOT NULL DEFAULT 0,"
    "  n_events INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0,"
    "  problem_id INTEGER);"
    "CREATE INDEX incidents_state ON incidents(state, id);"
    "CREATE INDEX incidents_item ON incidents(item, id);"
    "CREATE TABLE incident_items ("
    "  incident_id INTEGER NOT NULL, item TEXT NOT NULL, name TEXT,"
    "  PRIMARY KEY (incident_id, item)) WITHOUT ROWID;"
    "CREATE INDEX incident_items_item ON incident_items(item);"
    "CREATE TABLE incident_log ("
    "  id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL, seq INTEGER, t INTEGER NOT NULL,"
    "  what TEXT NOT NULL, by TEXT, comment TEXT, UNIQUE (incident_id, seq));"
    "CREATE TABLE problems ("
    "  id INTEGER PRIMARY KEY, title TEXT NOT NULL, state TEXT NOT NULL, root_cause TEXT,"
    "  known_error TEXT, workaround TEXT, suggested INTEGER NOT NULL DEFAULT 0,"
    "  condition TEXT, item TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    "  created_by TEXT);"
    "CREATE TABLE maintenance ("
    "  id INTEGER PRIMARY KEY, scope TEXT NOT NULL, from_t INTEGER NOT NULL,"
    "  to_t INTEGER NOT NULL, who TEXT, why TEXT, created INTEGER NOT NULL);"
    "CREATE TABLE rules ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, metric TEXT,"
    "  view TEXT, op TEXT, value REAL NOT NULL, for_us INTEGER NOT NULL,"
    "  severity TEXT NOT NULL, scope TEXT NOT NULL, enabled INTEGER NOT NULL);"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY, route TEXT NOT NULL, key TEXT NOT NULL, incident_id INTEGER,"
    "  payload TEXT NOT NULL, created INTEGER NOT NULL, next_try INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'pending',"
    "  last_error TEXT, done INTEGER, UNIQUE (route, key));"
    "CREATE INDEX outbox_due ON outbox(state, next_try);",
    /* 10: the persistent definition of running domains (issue 15): its own
     * versions, a track on each change, and whether a change waits for the
     * next boot and when it stopped waiting.  Self-contained: it may be
     * renumbered when merged beside other new steps. */
    "ALTER TABLE domains ADD COLUMN persistent_version INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE persistent_versions ("
    "  domain_id INTEGER NOT NULL REFERENCES domains(id), version INTEGER NOT NULL,"
    "  xml TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (domain_id, version));"
    "ALTER TABLE changes ADD COLUMN track TEXT NOT NULL DEFAULT 'live';"
    "ALTER TABLE changes ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE changes ADD COLUMN applied_at INTEGER;"
    "CREATE INDEX changes_pending ON changes(domain_id) WHERE pending = 1;",
    /* 11: the host value H and the guest value G of each resource kept
     * beside R in the reconciled history (struct reconciled_sample), so
     * the three can be drawn together; rows written before have them
     * NULL (absent).  Self-contained: it may be renumbered when merged
     * beside other new steps. */
    "ALTER TABLE reconciled_samples ADD COLUMN cpu_busy_h INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN cpu_busy_g INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN cpu_wait_h INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN cpu_wait_g INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN cpu_demand_h INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN cpu_demand_g INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN mem_total_h INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN mem_total_g INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN mem_used_h INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN mem_used_g INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN mem_swap_h INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN mem_swap_g INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN disk_used_h INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN disk_used_g INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN disk_free_h INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN disk_free_g INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN disk_io_h INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN disk_io_g INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN net_rx_h INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN net_rx_g INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN net_tx_h INTEGER;"
    "ALTER TABLE reconciled_samples ADD COLUMN net_tx_g INTEGER;",
    /* 12: the policies' record (sqlite-policy.c, model/decision.h): every
     * decision a policy made with its inputs, action, outcome and observed
     * effect; the settings made over the API; the VMs a policy is paused
     * on; and maintenance mode on hosts.  undo_of names the decision undone
     * but is no foreign key: retention deletes the older decision first.
     * Self-contained: it may be renumbered when merged beside other new
     * steps. */
    "CREATE TABLE decisions ("
    "  id INTEGER PRIMARY KEY, t INTEGER NOT NULL, policy TEXT NOT NULL, mode TEXT NOT NULL,"
    "  evacuation INTEGER NOT NULL DEFAULT 0, vm_uuid TEXT, vm_name TEXT,"
    "  host_id INTEGER REFERENCES hosts(id), to_host_id INTEGER REFERENCES hosts(id),"
    "  rule TEXT NOT NULL, action TEXT NOT NULL, params TEXT, inputs TEXT NOT NULL,"
    "  expected TEXT, reason TEXT NOT NULL, state TEXT NOT NULL, audit_id INTEGER, error TEXT,"
    "  observed TEXT, verdict TEXT, observed_t INTEGER, undo_of INTEGER);"
    "CREATE INDEX decisions_vm ON decisions(vm_uuid, id);"
    "CREATE INDEX decisions_policy ON decisions(policy, id);"
    "CREATE INDEX decisions_t ON decisions(t);"
    "CREATE TABLE policy_settings ("
    "  policy TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated INTEGER NOT NULL,"
    "  by TEXT, PRIMARY KEY (policy, key)) WITHOUT ROWID;"
    "CREATE TABLE policy_pauses ("
    "  policy TEXT NOT NULL, vm_uuid TEXT NOT NULL, since INTEGER NOT NULL, reason TEXT,"
    "  decision_id INTEGER, PRIMARY KEY (policy, vm_uuid)) WITHOUT ROWID;"
    "ALTER TABLE hosts ADD COLUMN maintenance INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE hosts ADD COLUMN maintenance_since INTEGER;"
    "ALTER TABLE hosts ADD COLUMN maintenance_by TEXT;"
    "ALTER TABLE hosts ADD COLUMN maintenance_reason TEXT;",
    /* 13: high availability (sqlite-ha.c, model/ha.h): each host's HA state
     * machine, each VM's newest recovery, and VMs' HA settings made over
     * the API.  Host ids are no foreign keys: a host removed from
     * kanri.conf keeps its rows, as elsewhere. */
    "CREATE TABLE ha_hosts ("
    "  host_id INTEGER PRIMARY KEY, state TEXT NOT NULL, since INTEGER NOT NULL,"
    "  failed INTEGER, fence_attempts INTEGER NOT NULL DEFAULT 0, next_fence INTEGER,"
    "  reason TEXT);"
    "CREATE TABLE ha_recoveries ("
    "  uuid TEXT PRIMARY KEY, vm TEXT, from_host_id INTEGER NOT NULL, to_host_id INTEGER,"
    "  failed_host_id INTEGER, state TEXT NOT NULL, since INTEGER NOT NULL,"
    "  failure INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, reason TEXT)"
    "  WITHOUT ROWID;"
    "CREATE TABLE ha_vms ("
    "  uuid TEXT PRIMARY KEY, ha INTEGER NOT NULL, priority INTEGER NOT NULL DEFAULT 0,"
    "  restart TEXT NOT NULL, grp TEXT, updated INTEGER NOT NULL, by TEXT) WITHOUT ROWID;",
    /* 14: kanrid instances sharing one store and their leases on hosts
     * (sqlite-cluster.c, docs/scale-out.md): each instance's heartbeat,
     * and per host its holder, the lease's expiry and its epoch, which
     * grows with each taking. */
    "CREATE TABLE instances ("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, api_url TEXT, version TEXT,"
    "  started INTEGER NOT NULL, heartbeat INTEGER NOT NULL);"
    "CREATE TABLE leases ("
    "  host TEXT PRIMARY KEY, holder TEXT, epoch INTEGER NOT NULL DEFAULT 0,"
    "  expires INTEGER NOT NULL DEFAULT 0, since INTEGER);",
    /* 15: an instance's TLS pin, for another to forward an action to it
     * over TLS without a CA (docs/scale-out.md). */
    "ALTER TABLE instances ADD COLUMN tls_pin TEXT;",
    /* 16: on PostgreSQL, the raw sample tables partitioned by day
     * (pg-partitions.c, run by pg.c after this step); nothing on SQLite. */
    "SELECT 1",
    /* 17: templates (sqlite-templates.c, model/template.h): each version
     * of a name one row, its definition and its images' paths (disks, a
     * JSON array); deleted marks, never removes, since linked clones are
     * backed by the images. */
    "CREATE TABLE templates ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL,"
    "  host_id INTEGER NOT NULL, pool TEXT NOT NULL, source_uuid TEXT, source_vm TEXT,"
    "  xml TEXT NOT NULL, disks TEXT NOT NULL, created INTEGER NOT NULL, by TEXT,"
    "  audit_id INTEGER, deleted INTEGER, UNIQUE (name, version));",
    /* 18: change requests (sqlite-changes.c, model/change_request.h): a
     * request's state, window, actions (JSON) and approvals, and per VM
     * its batch, what a rollback restores and what became of it. */
    "CREATE TABLE change_requests ("
    "  id INTEGER PRIMARY KEY, state TEXT NOT NULL, reason TEXT NOT NULL, risk TEXT NOT NULL,"
    "  window_from INTEGER, window_to INTEGER, actions TEXT NOT NULL,"
    "  canary INTEGER NOT NULL DEFAULT 0, batch INTEGER NOT NULL DEFAULT 0,"
    "  guest_fresh_s INTEGER NOT NULL DEFAULT 0, check_timeout_s INTEGER NOT NULL DEFAULT 60,"
    "  requester TEXT NOT NULL, requester_token INTEGER NOT NULL, approver TEXT,"
    "  approver_token INTEGER, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    "  started INTEGER, ended INTEGER, error TEXT);"
    "CREATE INDEX change_requests_state ON change_requests(state, id);"
    "CREATE TABLE change_request_vms ("
    "  request_id INTEGER NOT NULL, seq INTEGER NOT NULL, uuid TEXT NOT NULL, vm TEXT,"
    "  host_id INTEGER, batch INTEGER NOT NULL, state TEXT NOT NULL, saved TEXT,"
    "  saved_xml TEXT, result TEXT, audit_ids TEXT, updated INTEGER NOT NULL,"
    "  PRIMARY KEY (request_id, seq));",
    /* 19: availability (sqlite-reports.c, docs/reports.md): each VM's
     * state as the rounds classified it, a row when it changes; the spans
     * of time kanri collected each host (outside them a VM's state is
     * unknown); and the VMs' tags, which make the reports' groups. */
    "CREATE TABLE vm_states ("
    "  uuid TEXT NOT NULL, host_id INTEGER NOT NULL, t INTEGER NOT NULL, state TEXT NOT NULL,"
    "  reason TEXT, PRIMARY KEY (uuid, t));"
    "CREATE INDEX vm_states_t ON vm_states(t);"
    "CREATE TABLE host_spans ("
    "  id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL, from_t INTEGER NOT NULL,"
    "  to_t INTEGER NOT NULL);"
    "CREATE INDEX host_spans_host ON host_spans(host_id, to_t);"
    "CREATE TABLE vm_tags ("
    "  uuid TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (uuid, tag));"
    "CREATE INDEX vm_tags_tag ON vm_tags(tag);"
    /* ... and each round's allocation and demand of its host's VMs, the
     * capacity report's history. */
    "ALTER TABLE node_samples ADD COLUMN vcpus_alloc INTEGER;"
    "ALTER TABLE node_samples ADD COLUMN mem_alloc INTEGER;"
    "ALTER TABLE node_samples ADD COLUMN disk_alloc INTEGER;"
    "ALTER TABLE node_samples ADD COLUMN cpu_demand_milli INTEGER;"
    "ALTER TABLE node_samples ADD COLUMN mem_demand INTEGER;"
    "ALTER TABLE node_samples ADD COLUMN disk_demand INTEGER;",
};

void bind_s(struct db_stmt *q, int idx, const char *s)
{
    db_bind(q, idx, 's', s);
}

int step_id(struct db_stmt *q, int64_t *ret_id, GError **error)
{
    if (!q)
        return -EIO;
    int64_t id = 0;
    int rc;
    while ((rc = db_step(q, error)) > 0)
        id = db_col_i64(q, 0);
    db_finalize(q);
    if (rc < 0)
        return -EIO;
    if (ret_id)
        *ret_id = id;
    return 0;
}

/*
 * Typed rows: each result column is matched by name to a field of the
 * row's table (model/row.h), once per statement; columns without a field
 * are ignored, so a query may select helpers the row does not keep.
 */
static const struct row_field **column_fields(struct db_stmt *q, const struct row_desc *d)
{
    int n = db_cols(q);
    const struct row_field **map = g_new0(const struct row_field *, (gsize)n + 1);
    for (int i = 0; i < n; i++)
        map[i] = row_field_find(d, db_col_name(q, i));
    return map;
}

static void fill_row(struct db_stmt *q, const struct row_field **map, int n, void *row)
{
    for (int i = 0; i < n; i++) {
        const struct row_field *f = map[i];
        if (!f || db_col_null(q, i))
            continue;
        char *p = (char *)row + f->offset;
        switch (f->type) {
        case ROW_STR:
        case ROW_JSON:
            g_free(*(char **)p);
            *(char **)p = db_col_strdup(q, i);
            break;
        case ROW_INT:
        case ROW_TIME:
            *(int64_t *)p = db_col_i64(q, i);
            break;
        case ROW_BOOL:
            *(bool *)p = db_col_i64(q, i) != 0;
            break;
        case ROW_REAL:
            *(double *)p = db_col_double(q, i);
            break;
        }
    }
}

int read_rows(struct db_stmt *q, struct rows *ret, GError **error)
{
    if (!q)
        return -EIO;
    g_autofree const struct row_field **map = NULL;
    int n = 0, rc;
    while ((rc = db_step(q, error)) > 0) {
        if (!map) { /* PostgreSQL knows the columns once the statement ran */
            map = column_fields(q, ret->desc);
            n = db_cols(q);
        }
        fill_row(q, map, n, rows_add(ret));
    }
    db_finalize(q);
    if (rc < 0) {
        g_prefix_error(error, "query: ");
        return -EIO;
    }
    return 0;
}

struct rows *query_rows(struct store_sqlite *s, const struct row_desc *d, GError **error,
                        const char *sql, const char *fmt, ...)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    va_list ap;
    va_start(ap, fmt);
    struct db_stmt *q = db_vprep(s->r, error, sql, fmt, ap);
    va_end(ap);
    g_autoptr(rows) ret = rows_new(d);
    if (read_rows(q, ret, error) < 0)
        return NULL;
    return g_steal_pointer(&ret);
}

/* ---- hosts ---- */

static int sq_host_ensure(struct store *st, const char *name, const char *uri, int64_t *ret_id,
                          GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    /* A host keeps its id (and so its history) across restarts by name; the
     * URI may change in the configuration.  Until its driver says more, it
     * is connecting, whatever a previous process left. */
    int r = db_done(db_prep(s->w, error,
                            "INSERT INTO hosts(name, uri) VALUES (?, ?) "
                            "ON CONFLICT(name) DO UPDATE SET uri = excluded.uri, "
                            "state = 'connecting', reason = NULL, connected_since = NULL",
                            "ss", name, uri),
                    error);
    if (r < 0)
        return r;
    struct db_stmt *q = db_prep(s->w, error, "SELECT id FROM hosts WHERE name = ?", "s", name);
    if (!q)
        return -EIO;
    int rc = db_step(q, error);
    if (rc > 0)
        *ret_id = db_col_i64(q, 0);
    else if (rc == 0)
        g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "host lookup: no host '%s'", name);
    else
        g_prefix_error(error, "host lookup: ");
    db_finalize(q);
    return rc > 0 ? 0 : -EIO;
}

static int sq_host_lookup(struct store *st, const char *name_or_id, int64_t *ret_id,
                          char **ret_name, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    struct db_stmt *q =
        db_prep(s->r, error,
                "SELECT id, name FROM hosts WHERE name = ?1 OR CAST(id AS TEXT) = ?1"
                " ORDER BY name = ?1 DESC LIMIT 1",
                "s", name_or_id);
    if (!q)
        return -EIO;
    int rc = db_step(q, error);
    if (rc > 0) {
        *ret_id = db_col_i64(q, 0);
        if (ret_name)
            *ret_name = db_col_strdup(q, 1);
    }
    db_finalize(q);
    if (rc > 0)
        return 0;
    if (rc == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "no host '%s'", name_or_id);
        return -ENOENT;
    }
    g_prefix_error(error, "host lookup: ");
    return -EIO;
}

/* ---- the inventory's writes under the reporting thread's fence ---- */

/* The fence of the calling thread's inventory writes (store_thread_fence):
 * a copy, the strings borrowed. */
static __thread struct store_fence thread_fence;
static __thread bool thread_fenced;

void store_thread_fence(const struct store_fence *fence)
{
    thread_fenced = fence != NULL;
    if (fence)
        thread_fence = *fence;
}

/* Begins an inventory write: a transaction which, under a thread fence,
 * goes on only while the fence holds (its lease row locked till the end
 * on PostgreSQL). */
static int inventory_begin(struct store_sqlite *s, GError **error)
{
    int r = db_begin(s->w, error);
    if (r < 0 || !thread_fenced)
        return r;
    r = sq_fence_check(s->w, &thread_fence, error);
    if (r < 0)
        db_exec(s->w, "ROLLBACK", NULL);
    return r;
}

/* One statement of the inventory's, in a transaction of its own when the
 * thread is fenced. */
static int inventory_done(struct store_sqlite *s, struct db_stmt *q, GError **error)
{
    if (!thread_fenced || !q)
        return db_done(q, error);
    int r = inventory_begin(s, error);
    if (r < 0) {
        db_finalize(q);
        return r;
    }
    r = db_done(q, error);
    return db_commit_or_rollback(s->w, r, error);
}

static int sq_host_put_info(struct store *st, int64_t host_id, const struct host_info *h,
                            int64_t now_us, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return inventory_done(
        s,
        db_prep(s->w, error,
                "UPDATE hosts SET driver = ?, hv_version = ?, libvirt_version = ?,"
                " hostname = ?, cpu_model = ?, cpus = ?, mhz = ?, memory_bytes = ?,"
                " numa_cells = ?, last_seen = ? WHERE id = ?",
                "sssssiiuiii", h->driver, h->hv_version, h->libvirt_version, h->hostname,
                h->cpu_model, (int64_t)h->cpus, (int64_t)h->mhz, h->memory_bytes,
                (int64_t)h->numa_cells, now_us, host_id),
        error);
}

static int sq_host_put_state(struct store *st, int64_t host_id, enum host_state state,
                             const char *reason, int64_t now_us, int64_t synced_us, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    bool up = state == HOST_CONNECTED;
    return inventory_done(
        s,
        db_prep(s->w, error,
                "UPDATE hosts SET state = ?1, reason = ?2,"
                " connected_since = CASE WHEN ?3 <> 0 THEN coalesce(connected_since, ?4)"
                "   ELSE NULL END,"
                " last_seen = CASE WHEN ?3 <> 0 THEN ?4 ELSE last_seen END,"
                " inventory_synced_at = CASE WHEN ?5 > 0 THEN ?5"
                "   ELSE inventory_synced_at END"
                " WHERE id = ?6",
                "ssbiii", host_state_name(state), reason, up, now_us, synced_us, host_id),
        error);
}

/* ---- domains ---- */

void store_domain_ref_clear(struct store_domain_ref *r)
{
    g_free(r->uuid);
    g_free(r->name);
    g_free(r->xml);
    g_free(r->persistent_xml);
    g_free(r->state);
    g_free(r->state_reason);
    memset(r, 0, sizeof(*r));
}

static int sq_domains_load(struct store *st, int64_t host_id, GArray *ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    struct db_stmt *q = db_prep(s->r, error,
                                "SELECT d.id, d.uuid, d.name, d.removed, d.config_version, v.xml,"
                                " d.persistent_version, p.xml, d.state, d.state_reason"
                                " FROM domains d LEFT JOIN config_versions v ON v.domain_id = d.id"
                                "  AND v.version = d.config_version"
                                " LEFT JOIN persistent_versions p ON p.domain_id = d.id"
                                "  AND p.version = d.persistent_version WHERE d.host_id = ?",
                                "i", host_id);
    if (!q)
        return -EIO;
    int rc;
    while ((rc = db_step(q, error)) > 0) {
        struct store_domain_ref r = {
            .domain_id = db_col_i64(q, 0),
            .host_id = host_id,
            .uuid = db_col_strdup(q, 1),
            .name = db_col_strdup(q, 2),
            .removed = db_col_i64(q, 3) != 0,
            .config_version = db_col_i64(q, 4),
            .xml = db_col_strdup(q, 5),
            .persistent_version = db_col_i64(q, 6),
            .persistent_xml = db_col_strdup(q, 7),
            .state = db_col_strdup(q, 8),
            .state_reason = db_col_strdup(q, 9),
        };
        g_array_append_val(ret, r);
    }
    db_finalize(q);
    if (rc < 0) {
        g_prefix_error(error, "loading domains: ");
        return -EIO;
    }
    return 0;
}

/* The XML of version VERSION of a domain in TABLE (a literal: one of the
 * two version tables). */
static int version_get(struct store_sqlite *s, const char *table, int64_t domain_id,
                       int64_t version, char **ret_xml, GError **error)
{
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    g_autofree char *sql =
        g_strdup_printf("SELECT xml FROM %s WHERE domain_id = ? AND version = ?", table);
    struct db_stmt *q = db_prep(s->r, error, sql, "ii", domain_id, version);
    if (!q)
        return -EIO;
    int rc = db_step(q, error);
    *ret_xml = rc > 0 ? db_col_strdup(q, 0) : NULL;
    db_finalize(q);
    if (rc > 0)
        return 0;
    if (rc == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND,
                    "no version %" G_GINT64_FORMAT " of domain %" G_GINT64_FORMAT, version,
                    domain_id);
        return -ENOENT;
    }
    g_prefix_error(error, "config version: ");
    return -EIO;
}

static int sq_config_get(struct store *st, int64_t domain_id, int64_t version, char **ret_xml,
                         GError **error)
{
    return version_get(SQ(st), "config_versions", domain_id, version, ret_xml, error);
}

static int sq_persistent_get(struct store *st, int64_t domain_id, int64_t version, char **ret_xml,
                             GError **error)
{
    return version_get(SQ(st), "persistent_versions", domain_id, version, ret_xml, error);
}

static void add_size(json_object *o, const char *key, int64_t v)
{
    json_object_object_add(o, key, v == G_MININT64 ? NULL : json_object_new_int64(v));
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* The disks and NICs columns keep their lists as JSON text in the shapes
 * docs/api.md serves, so a VM row reads back in one piece. */
static char *disks_text(const GPtrArray *disks)
{
    json_object *arr = json_object_new_array();
    for (guint i = 0; i < disks->len; i++) {
        const struct disk_info *d = g_ptr_array_index(disks, i);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "target", str_or_null(d->target));
        json_object_object_add(o, "device", json_object_new_string(d->device ? d->device : "disk"));
        json_object_object_add(o, "type", str_or_null(d->type));
        json_object_object_add(o, "source", str_or_null(d->source));
        json_object_object_add(o, "format", str_or_null(d->format));
        add_size(o, "capacity_bytes", d->capacity);
        add_size(o, "allocation_bytes", d->allocation);
        add_size(o, "physical_bytes", d->physical);
        json_object_array_add(arr, o);
    }
    char *t = g_strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    return t;
}

static char *nics_text(const GPtrArray *nics)
{
    json_object *arr = json_object_new_array();
    for (guint i = 0; i < nics->len; i++) {
        const struct nic_info *n = g_ptr_array_index(nics, i);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "mac", str_or_null(n->mac));
        json_object_object_add(o, "type", str_or_null(n->type));
        json_object_object_add(o, "source", str_or_null(n->source));
        json_object_object_add(o, "model", str_or_null(n->model));
        json_object_object_add(o, "target", str_or_null(n->target));
        json_object_array_add(arr, o);
    }
    char *t = g_strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    return t;
}

static int add_change(struct db *db, int64_t domain_id, const struct store_change *ch, int64_t when,
                      GError **error)
{
    return db_done(db_prep(db, error,
                           "INSERT INTO changes(domain_id, from_version, to_version, seen_at,"
                           " cause, actor, audit_id, diff) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           "iIiissIs", domain_id, ch->from_version, ch->to_version, when,
                           ch->cause.cause, ch->cause.actor, ch->cause.audit_id,
                           ch->diff ? ch->diff : ""),
                   error);
}

static int domain_put_locked(struct db *db, int64_t host_id, const struct domain_info *d,
                             const struct store_change *ch, int64_t now, int64_t *ret_id,
                             GError **error)
{
    int64_t domain_id = 0;
    struct db_stmt *q = db_prep(db, error, "SELECT id FROM domains WHERE host_id = ? AND uuid = ?",
                                "is", host_id, d->uuid);
    if (!q)
        return -EIO;
    int rc = db_step(q, error);
    if (rc > 0)
        domain_id = db_col_i64(q, 0);
    db_finalize(q);
    if (rc < 0) {
        g_prefix_error(error, "domain lookup: ");
        return -EIO;
    }
    if (!domain_id) {
        int r = step_id(db_prep(db, error,
                                "INSERT INTO domains(host_id, uuid, name) VALUES (?,?,?)"
                                " RETURNING id",
                                "iss", host_id, d->uuid, d->name),
                        &domain_id, error);
        if (r < 0)
            return r;
    }
    g_autofree char *disks = disks_text(d->disks);
    g_autofree char *nics = nics_text(d->nics);
    int r = db_done(
        db_prep(db, error,
                "UPDATE domains SET name = ?, state = ?, state_reason = ?, persistent = ?,"
                " autostart = ?, vcpus = ?, max_vcpus = ?, memory_bytes = ?, max_memory_bytes = ?,"
                " os_type = ?, domain_type = ?, disks = ?, nics = ?, has_agent = ?,"
                " balloon_model = ?, updated_at = ?, removed = 0 WHERE id = ?",
                "sssbbiiuussssbsii", d->name, d->state, d->state_reason, d->persistent,
                d->autostart, (int64_t)d->vcpus, (int64_t)d->max_vcpus, d->memory_bytes,
                d->max_memory_bytes, d->os_type, d->domain_type, disks, nics, d->has_agent,
                d->balloon_model, now, domain_id),
        error);
    if (r == 0 && ch && ch->new_xml) {
        r = db_done(db_prep(db, error,
                            "INSERT INTO config_versions(domain_id, version, xml, seen_at)"
                            " VALUES (?, ?, ?, ?)",
                            "iisi", domain_id, ch->to_version, ch->new_xml, now),
                    error);
        if (r == 0)
            r = db_done(db_prep(db, error, "UPDATE domains SET config_version = ? WHERE id = ?",
                                "ii", ch->to_version, domain_id),
                        error);
    }
    if (r == 0 && ch)
        r = add_change(db, domain_id, ch, now, error);
    if (r == 0 && ret_id)
        *ret_id = domain_id;
    return r;
}

static int sq_domain_put(struct store *st, int64_t host_id, const struct domain_info *d,
                         const struct store_change *ch, int64_t now_us, int64_t *ret_domain_id,
                         GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = inventory_begin(s, error);
    if (r < 0)
        return r;
    r = domain_put_locked(s->w, host_id, d, ch, now_us, ret_domain_id, error);
    return db_commit_or_rollback(s->w, r, error);
}

static int sq_domain_remove(struct store *st, int64_t domain_id, const struct store_change *ch,
                            int64_t now_us, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = inventory_begin(s, error);
    if (r < 0)
        return r;
    r = db_done(db_prep(s->w, error,
                        "UPDATE domains SET removed = 1, state = 'removed', updated_at = ?"
                        " WHERE id = ?",
                        "ii", now_us, domain_id),
                error);
    if (r == 0 && db_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "no domain %" G_GINT64_FORMAT,
                    domain_id);
        r = -ENOENT;
    }
    if (r == 0)
        r = add_change(s->w, domain_id, ch, now_us, error);
    return db_commit_or_rollback(s->w, r, error);
}

static int sq_persistent_put(struct store *st, int64_t domain_id, const struct store_change *ch,
                             bool record, const int64_t *applied, size_t n_applied, int64_t now_us,
                             int64_t *ret_change_id, GError **error)
{
    struct store_sqlite *s = SQ(st);
    if (ret_change_id)
        *ret_change_id = 0;
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = inventory_begin(s, error);
    if (r < 0)
        return r;
    if (ch && ch->new_xml) {
        r = db_done(db_prep(s->w, error,
                            "INSERT INTO persistent_versions(domain_id, version, xml, seen_at)"
                            " VALUES (?, ?, ?, ?)",
                            "iisi", domain_id, ch->to_version, ch->new_xml, now_us),
                    error);
        if (r == 0)
            r = db_done(db_prep(s->w, error,
                                "UPDATE domains SET persistent_version = ? WHERE id = ?", "ii",
                                ch->to_version, domain_id),
                        error);
    }
    if (r == 0 && ch && record)
        r = step_id(db_prep(s->w, error,
                            "INSERT INTO changes(domain_id, from_version, to_version, seen_at,"
                            " cause, actor, audit_id, diff, track, pending)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'persistent', ?) RETURNING id",
                            "iIiissIsb", domain_id, ch->from_version, ch->to_version, now_us,
                            ch->cause.cause, ch->cause.actor, ch->cause.audit_id,
                            ch->diff ? ch->diff : "", ch->pending),
                    ret_change_id, error);
    for (size_t i = 0; r == 0 && i < n_applied; i++)
        r = db_done(db_prep(s->w, error,
                            "UPDATE changes SET pending = 0, applied_at = ?"
                            " WHERE id = ? AND domain_id = ? AND pending = 1",
                            "iii", now_us, applied[i], domain_id),
                    error);
    return db_commit_or_rollback(s->w, r, error);
}

static struct rows *sq_changes_pending(struct store *st, int64_t host_id, GError **error)
{
    return query_rows(SQ(st), &change_row_desc, error,
                      "SELECT c.id, c.domain_id, d.uuid AS vm_uuid, d.name AS vm_name,"
                      " c.from_version, c.to_version, c.seen_at, c.track, c.pending, c.diff"
                      " FROM changes c JOIN domains d ON d.id = c.domain_id"
                      " WHERE c.pending = 1 AND d.host_id = ?1 ORDER BY c.id",
                      "i", host_id);
}

static int sq_pools_replace(struct store *st, int64_t host_id, const GPtrArray *pools,
                            int64_t now_us, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = inventory_begin(s, error);
    if (r < 0)
        return r;
    r = db_done(db_prep(s->w, error, "DELETE FROM pools WHERE host_id = ?", "i", host_id), error);
    for (guint i = 0; i < pools->len && r == 0; i++) {
        const struct pool_info *p = g_ptr_array_index(pools, i);
        r = db_done(db_prep(s->w, error,
                            "INSERT INTO pools(host_id, name, uuid, state, capacity, allocation,"
                            " available, updated_at, target_path) VALUES (?,?,?,?,?,?,?,?,?)",
                            "isssuuuis", host_id, p->name, p->uuid, p->state, p->capacity,
                            p->allocation, p->available, now_us, p->target_path),
                    error);
    }
    return db_commit_or_rollback(s->w, r, error);
}

static int sq_networks_replace(struct store *st, int64_t host_id, const GPtrArray *nets,
                               int64_t now_us, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = inventory_begin(s, error);
    if (r < 0)
        return r;
    r = db_done(db_prep(s->w, error, "DELETE FROM networks WHERE host_id = ?", "i", host_id),
                error);
    for (guint i = 0; i < nets->len && r == 0; i++) {
        const struct network_info *p = g_ptr_array_index(nets, i);
        r = db_done(db_prep(s->w, error,
                            "INSERT INTO networks(host_id, name, uuid, active, bridge, updated_at)"
                            " VALUES (?,?,?,?,?,?)",
                            "issbsi", host_id, p->name, p->uuid, p->active, p->bridge, now_us),
                    error);
    }
    return db_commit_or_rollback(s->w, r, error);
}
/* ---- audit ---- */

static int sq_audit_begin(struct store *st, const char *actor, int64_t token_id, const char *action,
                          const char *target, const char *target_uuid, const char *host,
                          const char *params_json, int64_t *ret_id, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return step_id(db_prep(s->w, error,
                           "INSERT INTO audit(actor, token_id, action, target, target_uuid, host,"
                           " params, started_at) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                           "sisssssi", actor, token_id, action, target, target_uuid, host,
                           params_json ? params_json : "{}", now_usec()),
                   ret_id, error);
}

static int sq_audit_end(struct store *st, int64_t id, bool ok, const char *error_text,
                        GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return db_done(db_prep(s->w, error,
                           "UPDATE audit SET ended_at = ?, result = ?, error = ? WHERE id = ?",
                           "issi", now_usec(), ok ? "ok" : "error", error_text, id),
                   error);
}

static int sq_audit_checked(struct store *st, int64_t id, const char *state, int64_t at_us,
                            GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return db_done(db_prep(s->w, error,
                           "UPDATE audit SET checked_at = ?, checked_state = ? WHERE id = ?", "isi",
                           at_us, state, id),
                   error);
}

static int sq_audit_set_target(struct store *st, int64_t id, const char *target,
                               const char *target_uuid, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return db_done(db_prep(s->w, error, "UPDATE audit SET target = ?, target_uuid = ? WHERE id = ?",
                           "ssi", target, target_uuid, id),
                   error);
}

/* ---- tokens ---- */

static int sq_token_create(struct store *st, const char *name, const char *role, const char *hash,
                           const char *machine_uuid, int64_t *ret_id, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    return step_id(db_prep(s->w, error,
                           "INSERT INTO tokens(name, role, hash, machine_uuid, created_at)"
                           " VALUES (?,?,?,?,?) RETURNING id",
                           "ssssi", name, role, hash, machine_uuid, now_usec()),
                   ret_id, error);
}

/* How stale a token's last_used may be: written at most once a minute. */
#define TOKEN_LAST_USED_US (60 * G_USEC_PER_SEC)

static int sq_token_lookup(struct store *st, const char *hash, struct store_token *ret,
                           GError **error)
{
    struct store_sqlite *s = SQ(st);
    int r = -ENOENT;
    int64_t now = now_usec();
    bool record = false;
    {
        g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->alock);
        struct db_stmt *q = db_prep(s->a, error,
                                    "SELECT id, name, role, machine_uuid FROM tokens"
                                    " WHERE hash = ? AND revoked_at IS NULL",
                                    "s", hash);
        if (!q)
            return -EIO;
        int rc = db_step(q, error);
        if (rc > 0) {
            ret->id = db_col_i64(q, 0);
            ret->name = db_col_strdup(q, 1);
            ret->role = db_col_strdup(q, 2);
            ret->machine_uuid = db_col_strdup(q, 3);
            r = 0;
            /* last_used to the minute: not a write per request. */
            gpointer key = GINT_TO_POINTER(ret->id);
            int64_t *was = g_hash_table_lookup(s->last_used, key);
            record = !was || now - *was >= TOKEN_LAST_USED_US;
            if (record) {
                int64_t *t = g_new(int64_t, 1);
                *t = now;
                g_hash_table_insert(s->last_used, key, t);
            }
        } else if (rc < 0) {
            g_prefix_error(error, "token lookup: ");
            r = -EIO;
        } else {
            g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND, "unknown or revoked token");
        }
        db_finalize(q);
    }
    /* last_used is informative: a failure to record it must not deny
     * access, nor may waiting for the writer delay the request. */
    if (record && g_mutex_trylock(&s->wlock)) {
        db_done(
            db_prep(s->w, NULL, "UPDATE tokens SET last_used = ? WHERE id = ?", "ii", now, ret->id),
            NULL);
        g_mutex_unlock(&s->wlock);
    }
    return r;
}

static int sq_token_revoke(struct store *st, int64_t id, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->wlock);
    int r = db_done(db_prep(s->w, error,
                            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                            "ii", now_usec(), id),
                    error);
    if (r == 0 && db_changes(s->w) == 0) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_NOT_FOUND,
                    "no active token with id %" G_GINT64_FORMAT, id);
        return -ENOENT;
    }
    return r;
}

static int sq_token_count(struct store *st, int64_t *ret_count, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    struct db_stmt *q =
        db_prep(s->r, error, "SELECT count(*) FROM tokens WHERE revoked_at IS NULL", NULL);
    if (!q)
        return -EIO;
    int rc = db_step(q, error);
    if (rc > 0)
        *ret_count = db_col_i64(q, 0);
    else if (rc == 0)
        g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "token count: no row");
    else
        g_prefix_error(error, "token count: ");
    db_finalize(q);
    return rc > 0 ? 0 : -EIO;
}

/* ---- queries ---- */

#define HOST_COLUMNS                                                                               \
    "h.id, h.name, h.uri, h.state, h.reason, h.driver, h.hv_version, h.libvirt_version,"           \
    " h.hostname, h.cpu_model, h.cpus, h.mhz, h.memory_bytes, h.numa_cells,"                       \
    " (SELECT count(*) FROM domains d WHERE d.host_id = h.id AND d.removed = 0)"                   \
    "   AS domains_total,"                                                                         \
    " (SELECT count(*) FROM domains d WHERE d.host_id = h.id AND d.removed = 0"                    \
    "   AND d.state = 'running') AS domains_running,"                                              \
    " h.last_seen, h.connected_since, h.inventory_synced_at, h.maintenance,"                       \
    " h.maintenance_since, h.maintenance_by, h.maintenance_reason"

static struct rows *sq_hosts_query(struct store *st, const char *name_or_id, GError **error)
{
    return query_rows(SQ(st), &host_row_desc, error,
                      "SELECT " HOST_COLUMNS " FROM hosts h"
                      " WHERE ?1 IS NULL OR h.name = ?1 OR CAST(h.id AS TEXT) = ?1 ORDER BY h.id",
                      "s", name_or_id);
}

/* A VM's kind (vm_row.kind), as domain_kind() says it: worked out here
 * rather than stored, so no row needs rewriting when a kind is added. */
#define VM_KIND_SQL "(CASE WHEN d.domain_type = 'lxc' THEN 'container' ELSE 'vm' END)"

#define VM_COLUMNS                                                                                 \
    "d.id AS domain_id, d.uuid, d.name, h.name AS host, d.host_id, d.state, d.state_reason,"       \
    " d.persistent, d.autostart, d.vcpus, d.max_vcpus, d.memory_bytes, d.max_memory_bytes,"        \
    " d.os_type, d.domain_type, " VM_KIND_SQL " AS kind, d.disks, d.nics, d.has_agent,"            \
    " d.balloon_model,"                                                                            \
    " d.config_version, d.updated_at, d.removed,"                                                  \
    " (SELECT count(*) FROM changes c WHERE c.domain_id = d.id AND c.pending = 1)"                 \
    "  AS pending_changes"

static struct rows *sq_vms_query(struct store *st, const struct vm_filter *filter,
                                 int64_t domain_id, bool with_xml, GError **error)
{
    const char *host = filter ? filter->host : NULL, *kind = filter ? filter->kind : NULL;
    return query_rows(SQ(st), &vm_row_desc, error,
                      with_xml ? "SELECT " VM_COLUMNS ", v.xml FROM domains d"
                                 " JOIN hosts h ON h.id = d.host_id"
                                 " LEFT JOIN config_versions v ON v.domain_id = d.id"
                                 "  AND v.version = d.config_version"
                                 " WHERE (?1 IS NULL OR h.name = ?1) AND (?2 = 0 OR d.id = ?2)"
                                 "  AND (?2 != 0 OR d.removed = 0)"
                                 "  AND (?3 IS NULL OR " VM_KIND_SQL " = ?3) ORDER BY h.id, d.name"
                               : "SELECT " VM_COLUMNS " FROM domains d"
                                 " JOIN hosts h ON h.id = d.host_id"
                                 " WHERE (?1 IS NULL OR h.name = ?1) AND (?2 = 0 OR d.id = ?2)"
                                 "  AND (?2 != 0 OR d.removed = 0)"
                                 "  AND (?3 IS NULL OR " VM_KIND_SQL " = ?3) ORDER BY h.id, d.name",
                      "sis", host, domain_id, kind);
}

static struct rows *sq_vms_page(struct store *st, const struct vm_filter *filter,
                                const struct vm_page_key *after, int limit, GError **error)
{
    const char *host = filter ? filter->host : NULL, *kind = filter ? filter->kind : NULL;
    return query_rows(SQ(st), &vm_row_desc, error,
                      "SELECT " VM_COLUMNS " FROM domains d JOIN hosts h ON h.id = d.host_id"
                      " WHERE (?1 IS NULL OR h.name = ?1) AND d.removed = 0"
                      "  AND (?2 IS NULL OR (h.id, d.name, d.id) > (?2, ?3, ?4))"
                      "  AND (?6 IS NULL OR " VM_KIND_SQL " = ?6)"
                      " ORDER BY h.id, d.name, d.id LIMIT ?5",
                      "sIsIis", host, after ? after->host_id : 0, after ? after->name : NULL,
                      after ? after->domain_id : 0, (int64_t)limit, kind);
}

static struct rows *sq_pools_query(struct store *st, const char *host, GError **error)
{
    return query_rows(SQ(st), &pool_row_desc, error,
                      "SELECT h.name AS host, p.host_id, p.name, p.uuid, p.state,"
                      " p.capacity AS capacity_bytes, p.allocation AS allocation_bytes,"
                      " p.available AS available_bytes, p.target_path, p.updated_at"
                      " FROM pools p JOIN hosts h ON h.id = p.host_id"
                      " WHERE ?1 IS NULL OR h.name = ?1 ORDER BY h.id, p.name",
                      "s", host);
}

static struct rows *sq_networks_query(struct store *st, const char *host, GError **error)
{
    return query_rows(SQ(st), &network_row_desc, error,
                      "SELECT h.name AS host, n.host_id, n.name, n.uuid, n.active, n.bridge,"
                      " n.updated_at FROM networks n JOIN hosts h ON h.id = n.host_id"
                      " WHERE ?1 IS NULL OR h.name = ?1 ORDER BY h.id, n.name",
                      "s", host);
}

static struct rows *sq_changes_query(struct store *st, int64_t domain_id, int limit, GError **error)
{
    return query_rows(
        SQ(st), &change_row_desc, error,
        "SELECT c.id, d.uuid AS vm_uuid, d.name AS vm_name, h.name AS host,"
        " c.from_version, c.to_version, c.seen_at, c.cause, c.actor, c.audit_id, c.diff,"
        " c.track, c.pending, c.applied_at, c.domain_id"
        " FROM changes c JOIN domains d ON d.id = c.domain_id JOIN hosts h ON h.id = d.host_id"
        " WHERE ?1 = 0 OR c.domain_id = ?1 ORDER BY c.id DESC LIMIT ?2",
        "ii", domain_id, (int64_t)limit);
}

static struct rows *sq_audit_query(struct store *st, const char *target_uuid, int limit,
                                   GError **error)
{
    return query_rows(SQ(st), &audit_row_desc, error,
                      "SELECT id, actor, action, target, target_uuid, host, params, started_at,"
                      " ended_at, result, error, checked_at, checked_state FROM audit"
                      " WHERE ?1 IS NULL OR target_uuid = ?1 ORDER BY id DESC LIMIT ?2",
                      "si", target_uuid, (int64_t)limit);
}

static struct rows *sq_tokens_query(struct store *st, GError **error)
{
    return query_rows(SQ(st), &token_row_desc, error,
                      "SELECT id, name, role, machine_uuid, created_at, last_used FROM tokens"
                      " WHERE revoked_at IS NULL ORDER BY id",
                      NULL);
}

/* ---- guest-view samples ---- */

static int sq_vm_resolve(struct store *st, const char *ref, GArray *ret, GError **error)
{
    struct store_sqlite *s = SQ(st);
    g_autoptr(GMutexLocker) l = g_mutex_locker_new(&s->rlock);
    g_autofree char *host = NULL;
    const char *key = ref;
    const char *colon = strchr(ref, ':');

    /* "HOST:NAME" narrows to one host; a bare reference matching a whole
     * name is tried first so names containing ':' still resolve. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!colon)
                break;
            host = g_strndup(ref, (gsize)(colon - ref));
            key = colon + 1;
        }
        struct db_stmt *q =
            db_prep(s->r, error,
                    "SELECT d.id, d.host_id, d.uuid, d.name, h.name FROM domains d"
                    " JOIN hosts h ON h.id = d.host_id"
                    " WHERE d.removed = 0 AND (lower(d.uuid) = lower(?1) OR d.name = ?1)"
                    " AND (?2 IS NULL OR h.name = ?2) ORDER BY d.host_id",
                    "ss", key, host);
        if (!q)
            return -EIO;
        while (db_step(q, NULL) > 0) {
            struct store_vm_ref r = {
                .domain_id = db_col_i64(q, 0),
                .host_id = db_col_i64(q, 1),
                .uuid = db_col_strdup(q, 2),
                .name = db_col_strdup(q, 3),
                .host = db_col_strdup(q, 4),
            };
            g_array_append_val(ret, r);
        }
        db_finalize(q);
        if (ret->len)
            break;
    }
    return 0;
}

struct store_sqlite *sq_new(const struct store_ops *ops)
{
    struct store_sqlite *s = g_new0(struct store_sqlite, 1);
    s->base.ops = ops;
    g_mutex_init(&s->wlock);
    g_mutex_init(&s->rlock);
    g_mutex_init(&s->alock);
    g_mutex_init(&s->clock);
    s->last_used = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    return s;
}

static void sq_close(struct store *st)
{
    sq_free(SQ(st));
}

/* Also for a store half opened: db_close(NULL) is a no-op. */
void sq_free(struct store_sqlite *s)
{
    db_close(s->w);
    db_close(s->r);
    db_close(s->a);
    db_close(s->c);
    g_mutex_clear(&s->wlock);
    g_mutex_clear(&s->rlock);
    g_mutex_clear(&s->alock);
    g_mutex_clear(&s->clock);
    g_hash_table_unref(s->last_used);
    g_free(s->conninfo);
    g_free(s);
}

/* The operations, the same on both backends: only the statements
 * underneath differ (db.h). */
static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .host_ensure = sq_host_ensure,
    .host_lookup = sq_host_lookup,
    .host_put_info = sq_host_put_info,
    .host_put_state = sq_host_put_state,
    .domains_load = sq_domains_load,
    .config_get = sq_config_get,
    .domain_put = sq_domain_put,
    .domain_remove = sq_domain_remove,
    .pools_replace = sq_pools_replace,
    .networks_replace = sq_networks_replace,
    .audit_begin = sq_audit_begin,
    .audit_end = sq_audit_end,
    .audit_set_target = sq_audit_set_target,
    .audit_checked = sq_audit_checked,
    .token_create = sq_token_create,
    .token_lookup = sq_token_lookup,
    .token_revoke = sq_token_revoke,
    .token_count = sq_token_count,
    .hosts_query = sq_hosts_query,
    .vms_query = sq_vms_query,
    .vms_page = sq_vms_page,
    .pools_query = sq_pools_query,
    .networks_query = sq_networks_query,
    .changes_query = sq_changes_query,
    .changes_pending = sq_changes_pending,
    .persistent_get = sq_persistent_get,
    .persistent_put = sq_persistent_put,
    .audit_query = sq_audit_query,
    .tokens_query = sq_tokens_query,
    .vm_resolve = sq_vm_resolve,
    .guest_sample_insert = sq_guest_sample_insert,
    .ingests_write = sq_ingests_write,
    .round_write = sq_round_write,
    .rounds_write = sq_rounds_write,
    .samples_recent = sq_samples_recent,
    .guest_samples_received = sq_guest_samples_received,
    .samples_maintain = sq_samples_maintain,
    .series_query = sq_series_query,
    .view_status_query = sq_view_status_query,
    .ops_write = sq_ops_write,
    .ops_load = sq_ops_load,
    .events_query = sq_events_query,
    .incidents_query = sq_incidents_query,
    .incident_items = sq_incident_items,
    .incident_log = sq_incident_log,
    .incident_comment = sq_incident_comment,
    .change_refs = sq_change_refs,
    .problems_query = sq_problems_query,
    .problem_put = sq_problem_put,
    .incident_set_problem = sq_incident_set_problem,
    .maintenance_query = sq_maintenance_query,
    .maintenance_load = sq_maintenance_load,
    .maintenance_add = sq_maintenance_add,
    .maintenance_delete = sq_maintenance_delete,
    .rules_load = sq_rules_load,
    .rule_put = sq_rule_put,
    .rule_delete = sq_rule_delete,
    .outbox_due = sq_outbox_due,
    .outbox_done = sq_outbox_done,
    .outbox_query = sq_outbox_query,
    .events_prune = sq_events_prune,
    .decisions_insert = sq_decisions_insert,
    .decision_insert = sq_decision_insert,
    .decision_update = sq_decision_update,
    .decision_observe = sq_decision_observe,
    .decisions_query = sq_decisions_query,
    .decision_get = sq_decision_get,
    .decisions_prune = sq_decisions_prune,
    .policy_setting_put = sq_policy_setting_put,
    .policy_settings_query = sq_policy_settings_query,
    .policy_pause_put = sq_policy_pause_put,
    .policy_pause_delete = sq_policy_pause_delete,
    .policy_pauses_query = sq_policy_pauses_query,
    .host_maintenance_set = sq_host_maintenance_set,
    .policy_replay_query = sq_policy_replay_query,
    .ha_host_put = sq_ha_host_put,
    .ha_recovery_put = sq_ha_recovery_put,
    .ha_hosts_query = sq_ha_hosts_query,
    .ha_recoveries_query = sq_ha_recoveries_query,
    .ha_vm_put = sq_ha_vm_put,
    .ha_vm_delete = sq_ha_vm_delete,
    .ha_vms_query = sq_ha_vms_query,
    .template_add = sq_template_add,
    .templates_query = sq_templates_query,
    .template_delete = sq_template_delete,
    .vm_states_query = sq_vm_states_query,
    .host_spans_query = sq_host_spans_query,
    .vm_tags_set = sq_vm_tags_set,
    .vm_tags_query = sq_vm_tags_query,
    .change_request_add = sq_change_request_add,
    .change_requests_query = sq_change_requests_query,
    .change_vms_query = sq_change_vms_query,
    .change_request_move = sq_change_request_move,
    .change_vm_set = sq_change_vm_set,
    .agent_enroll = sq_agent_enroll,
    .agent_contact = sq_agent_contact,
    .agents_query = sq_agents_query,
    .findings_query = sq_findings_query,
    .findings_open = sq_findings_open,
    .states_load = sq_states_load,
    .view_get = sq_view_get,
    .views_of_hosts = sq_views_of_hosts,
    /* sqlite-cluster.c */
    .instance_beat = sq_instance_beat,
    .instance_leave = sq_instance_leave,
    .cluster_read = sq_cluster_read,
    .leases_apply = sq_leases_apply,
    .leases_renew = sq_leases_renew,
};

const struct store_ops *sq_pg_ops(void)
{
    static struct store_ops ops;
    static gsize once;
    if (g_once_init_enter(&once)) {
        ops = sqlite_ops;
        ops.name = "postgresql";
        g_once_init_leave(&once, 1);
    }
    return &ops;
}

/* SQLite only: the schema's version is PRAGMA user_version, and the
 * steps are SQLite's DDL. */
int sq_schema_newer(int64_t version, size_t known, GError **error)
{
    g_set_error(error, STORE_ERROR, STORE_ERROR_SCHEMA,
                "database schema version %" PRId64 " is newer than this kanrid knows (%zu); "
                "refusing to touch it",
                version, known);
    return -EPROTO;
}

void sq_audit_interrupted(struct store_sqlite *s)
{
    db_exec(s->w,
            "UPDATE audit SET result = 'error', error = 'interrupted: kanrid stopped before "
            "the action finished', ended_at = started_at WHERE result = 'running'",
            NULL);
}

const char *const *sq_migrations(size_t *ret_n)
{
    *ret_n = G_N_ELEMENTS(migrations);
    return migrations;
}

static int migrate(struct db *db, GError **error)
{
    int version = 0;
    struct db_stmt *q = db_prep(db, NULL, "PRAGMA user_version", NULL);
    if (q && db_step(q, NULL) > 0)
        version = (int)db_col_i64(q, 0);
    db_finalize(q);

    int known = (int)G_N_ELEMENTS(migrations);
    if (version > known)
        return sq_schema_newer(version, (size_t)known, error);
    for (int v = version; v < known; v++) {
        /* Each step and its version bump commit together, so a crash leaves
         * either the old or the new schema, never half of one. */
        g_autofree char *sql = g_strdup_printf(
            "BEGIN IMMEDIATE; %s; PRAGMA user_version = %d; COMMIT;", migrations[v], v + 1);
        if (db_exec(db, sql, error) < 0) {
            db_exec(db, "ROLLBACK", NULL);
            g_prefix_error(error, "schema migration %d: ", v + 1);
            return -EIO;
        }
    }
    return 0;
}

/* SQLite only: opening a connection. */
static struct db *open_one(const char *path, bool readonly, GError **error)
{
    sqlite3 *db = NULL;
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "cannot open %s: %s", path,
                    db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    return db_wrap_sqlite(db);
}

/* Another connection to the store (sqlite-private.h). */
struct db *sq_reader_open(struct store_sqlite *s)
{
    if (s->conninfo)
        return db_open_pg(s->conninfo, NULL);
    const char *path = sqlite3_db_filename(db_sqlite(s->r), "main");
    sqlite3 *db = NULL;
    if (!path || !*path)
        return NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db_wrap_sqlite(db);
}

/* The database holds token hashes and every machine's figures: readable by
 * kanrid's user only.  SQLite gives its -wal and -shm files the database
 * file's mode, so the file is made (or an older one narrowed) first. */
static int make_private(const char *path, GError **error)
{
    if (path[0] == ':' || g_str_has_prefix(path, "file:"))
        return 0; /* in memory, or a URI whose owner chose */
    int fd = g_open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fchmod(fd, 0600) < 0) {
        int e = errno;
        g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "cannot open %s: %s", path, g_strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    close(fd);
    static const char *const sidecars[] = {"-wal", "-shm"};
    for (size_t i = 0; i < G_N_ELEMENTS(sidecars); i++) {
        g_autofree char *p = g_strconcat(path, sidecars[i], NULL);
        if (g_chmod(p, 0600) < 0 && errno != ENOENT) {
            int e = errno;
            g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "cannot make %s private: %s", p,
                        g_strerror(e));
            return -e;
        }
    }
    return 0;
}

struct store *store_sqlite_open(const char *path, GError **error)
{
    if (make_private(path, error) < 0)
        return NULL;
    struct store_sqlite *s = sq_new(&sqlite_ops);
    s->w = open_one(path, false, error);
    /* SQLite only, the PRAGMAs.  A round of 10 000 VMs touches a leaf page
     * per VM in each history index; with SQLite's default 2 MiB cache the
     * transaction spills pages to the file midway.  32 MiB keeps a large
     * host's round in memory until it commits. */
    if (!s->w ||
        db_exec(s->w,
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                " PRAGMA foreign_keys = ON; PRAGMA cache_size = -32768;",
                error) < 0 ||
        migrate(s->w, error) < 0) {
        sq_free(s);
        return NULL;
    }
    /* Audit entries still running belong to a previous process that died
     * mid-action: say so rather than leave them running forever. */
    sq_audit_interrupted(s);
    s->r = open_one(path, true, error);
    s->a = s->r ? open_one(path, true, error) : NULL;
    if (!s->a) {
        sq_free(s);
        return NULL;
    }
    return &s->base;
}

void store_close(struct store *st)
{
    if (st)
        st->ops->close(st);
}

void store_token_clear(struct store_token *t)
{
    g_free(t->name);
    g_free(t->role);
    g_free(t->machine_uuid);
    memset(t, 0, sizeof(*t));
}

void store_vm_ref_clear(struct store_vm_ref *r)
{
    g_free(r->uuid);
    g_free(r->name);
    g_free(r->host);
    memset(r, 0, sizeof(*r));
}
