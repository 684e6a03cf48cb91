/*
 * model/row: typed rows of what the store answers (hosts, VMs, pools,
 * networks, changes, audit entries, tokens, agents, findings, view
 * availability), each described by one table of fields.
 *
 * The table is the single definition of a row's shape: the store fills a
 * row from a query by matching column names to field names, row_clear()
 * frees what the row owns, and the API edge (src/api/rows-json.c) turns a
 * row into the JSON documented in docs/api.md.  A field added to a struct
 * and its table is read, freed and served without another change.
 *
 * Absent values: a string or JSON text is NULL, a ROW_INT is ROW_INT_ABSENT,
 * a ROW_TIME is 0, a ROW_REAL is NaN.  The API serves each as null.
 *
 * Ownership: every char * in a row is owned by the row (g_free); a struct
 * rows owns its rows.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROW_INT_ABSENT G_MININT64

enum row_type {
    ROW_STR,  /* char *, NULL absent */
    ROW_INT,  /* int64_t, ROW_INT_ABSENT absent */
    ROW_BOOL, /* bool */
    ROW_TIME, /* int64_t µs since the epoch, 0 absent; served as RFC 3339 */
    ROW_REAL, /* double, NaN absent */
    ROW_JSON, /* char * holding JSON text, served embedded; NULL absent */
};

enum {
    ROW_F_INTERNAL = 1 << 0, /* for the daemon's own use, never served */
    ROW_F_OMIT_NULL = 1 << 1 /* served only when present */
};

struct row_field {
    const char *name; /* column alias = JSON member */
    enum row_type type;
    size_t offset;
    unsigned flags;
};

struct row_desc {
    const char *name; /* "hosts", "vms", ...: the API's list member */
    size_t size;      /* of the row struct */
    const struct row_field *fields;
    size_t n_fields;
};

/* Sets every field of ROW to its absent value. */
void row_init(const struct row_desc *d, void *row);
/* Frees what ROW owns and initialises it again. */
void row_clear(const struct row_desc *d, void *row);
/* The field named NAME, or NULL. */
const struct row_field *row_field_find(const struct row_desc *d, const char *name);

/* A list of rows of one kind, as a query returns them. */
struct rows {
    const struct row_desc *desc;
    GPtrArray *items; /* of g_new'd rows, owned */
};

struct rows *rows_new(const struct row_desc *d);
void rows_free(struct rows *r);
typedef struct rows rows; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(rows, rows_free)
/* Appends a new initialised row and returns it. */
void *rows_add(struct rows *r);
static inline guint rows_len(const struct rows *r)
{
    return r->items->len;
}
static inline void *rows_get(const struct rows *r, guint i)
{
    return g_ptr_array_index(r->items, i);
}

/* ---- the rows ---- */

struct host_row {
    int64_t id;
    char *name, *uri, *state, *reason, *driver, *hv_version, *libvirt_version, *hostname,
        *cpu_model;
    int64_t cpus, mhz, memory_bytes, numa_cells;
    int64_t domains_total, domains_running;
    int64_t last_seen, connected_since, inventory_synced_at;
    /* Maintenance mode (store_ops.host_maintenance_set): nothing is placed
     * on the host and its VMs are evacuated; since, by and reason are
     * absent while it is off. */
    bool maintenance;
    int64_t maintenance_since;
    char *maintenance_by, *maintenance_reason;
};

struct vm_row {
    char *uuid, *name, *host;
    int64_t host_id;
    char *state, *state_reason;
    bool persistent, autostart;
    int64_t vcpus, max_vcpus, memory_bytes, max_memory_bytes;
    char *os_type, *domain_type;
    char *kind;         /* "container" for domain type lxc, else "vm" (domain_kind()) */
    char *disks, *nics; /* JSON arrays (docs/api.md) */
    bool has_agent;
    char *balloon_model;
    int64_t config_version;
    int64_t updated_at;
    bool removed;
    char *xml;               /* only when asked for */
    int64_t domain_id;       /* internal */
    int64_t pending_changes; /* persistent changes waiting for the next boot */
};

struct pool_row {
    char *host;
    int64_t host_id;
    char *name, *uuid, *state;
    int64_t capacity_bytes, allocation_bytes, available_bytes;
    char *target_path;
    int64_t updated_at;
};

struct network_row {
    char *host;
    int64_t host_id;
    char *name, *uuid;
    bool active;
    char *bridge;
    int64_t updated_at;
};

struct change_row {
    int64_t id;
    char *vm_uuid, *vm_name, *host;
    int64_t from_version, to_version;
    int64_t seen_at;
    char *cause, *actor;
    int64_t audit_id;
    char *diff;
    char *track;        /* "live" or "persistent" */
    bool pending;       /* waits for the next boot */
    int64_t applied_at; /* when it stopped waiting, 0: never pending or still */
    int64_t domain_id;  /* internal */
};

struct audit_row {
    int64_t id;
    char *actor, *action, *target, *target_uuid, *host;
    char *params; /* JSON object */
    int64_t started_at, ended_at;
    char *result, *error;
    int64_t checked_at; /* the re-check after an unknown outcome, or 0 */
    char *checked_state;
};

struct token_row {
    int64_t id;
    char *name, *role, *machine_uuid;
    int64_t created_at, last_used;
};

struct agent_row {
    char *machine_uuid, *name, *vm, *host, *hostname, *agent_name, *agent_version, *id_source;
    int64_t enrolled_at, last_contact, last_sample_time;
    int64_t last_seq;
    double lag_seconds;
    int64_t spool_backlog, spool_dropped, accepted, duplicates, rejected;
    char *last_error;
    int64_t last_error_at;
};

struct finding_row {
    int64_t id;
    char *uuid, *vm, *host, *rule, *severity, *state;
    int64_t since, opened, closed, updated;
    double measure;
    char *message;
};

/* Whether one part of a VM's views ("guest-memory", "guest-agent") has
 * current figures, and why not. */
struct view_status_row {
    char *uuid, *part;
    bool available;
    char *reason;
    int64_t since, updated;
};

struct snapshot_row {
    char *name, *state;
    int64_t created_at;
    bool current;
    char *description, *parent;
};

/* ---- the operations record (model/event.h) ---- */

struct event_row {
    int64_t id, t;
    char *item, *item_name, *host, *kind, *condition;
    bool problem;
    char *severity, *message;
    int64_t incident_id, maintenance_id;
};

struct incident_row {
    int64_t id;
    char *condition, *item, *item_name, *host, *severity, *state, *title;
    int64_t opened, updated, acknowledged;
    char *acknowledged_by;
    int64_t resolved;
    char *resolved_by;
    int64_t clear_since, last_event, flaps, events, seq, problem_id;
};

/* An affected item of an incident. */
struct incident_item_row {
    char *item, *name;
};

/* A transition of an incident, or a comment on it. */
struct incident_log_row {
    int64_t seq, t;
    char *what, *by, *comment;
};

struct problem_row {
    int64_t id;
    char *title, *state, *root_cause, *known_error, *workaround;
    bool suggested;
    char *condition, *item;
    int64_t created, updated;
    char *created_by;
    int64_t incidents;
};

struct maintenance_row {
    int64_t id;
    char *scope;
    int64_t from, to;
    char *who, *why;
    int64_t created;
    bool active;
};

struct delivery_row {
    int64_t id;
    char *route, *key;
    int64_t incident_id, created, next_try, attempts;
    char *state, *last_error;
    int64_t done;
};

/* A change or an action on an item, as an incident's preceding changes
 * read them (ops_preceding ranks them). */
struct change_ref_row {
    int64_t id, t;
    char *uuid, *name, *source, *cause, *actor, *summary;
    bool pending;
    char *diff; /* a change's unified diff; NULL for an action */
};

struct rule_row {
    int64_t id;
    char *name, *kind, *metric, *view, *op;
    double value;
    int64_t for_s;
    char *severity, *scope;
    bool enabled;
    char *origin;
};

extern const struct row_desc host_row_desc;
extern const struct row_desc vm_row_desc;
extern const struct row_desc pool_row_desc;
extern const struct row_desc network_row_desc;
extern const struct row_desc change_row_desc;
extern const struct row_desc audit_row_desc;
extern const struct row_desc token_row_desc;
extern const struct row_desc agent_row_desc;
extern const struct row_desc finding_row_desc;
extern const struct row_desc view_status_row_desc;
extern const struct row_desc snapshot_row_desc;
extern const struct row_desc event_row_desc;
extern const struct row_desc incident_row_desc;
extern const struct row_desc incident_item_row_desc;
extern const struct row_desc incident_log_row_desc;
extern const struct row_desc problem_row_desc;
extern const struct row_desc maintenance_row_desc;
extern const struct row_desc delivery_row_desc;
extern const struct row_desc change_ref_row_desc;
extern const struct row_desc rule_row_desc;
