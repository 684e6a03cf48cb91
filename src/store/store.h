/*
 * store: kanri's inventory, configuration history, audit trail and tokens.
 *
 * A backend is a table of function pointers (struct store_ops) chosen at
 * start-up; `struct store` is the common head every backend embeds first.
 * The SQLite backend (sqlite.c) is the embedded default.
 *
 * Threading: every operation may be called from any thread; backends
 * serialise writes internally and let reads run beside them.
 *
 * Errors: functions returning int give 0 or -errno style codes (-ENOENT for
 * "no such row", -EIO for a database failure) and fill *error when given.
 * Query functions that return json_object give a new reference the caller
 * owns (json_object_put), or NULL with *error set.
 *
 * Times are int64 microseconds since the epoch; the JSON the query
 * functions build uses the shapes documented in docs/api.md.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/sample.h"

#define STORE_ERROR (store_error_quark())
GQuark store_error_quark(void);
enum { STORE_ERROR_IO, STORE_ERROR_NOT_FOUND, STORE_ERROR_SCHEMA };

struct store;

/* Everything kanri knows about one hypervisor connection.  Strings may be
 * NULL when unknown. */
struct store_host {
    int64_t id;
    char *name;
    char *uri;
    char *state;  /* connected | connecting | unreachable */
    char *reason; /* why unreachable */
    char *driver;
    char *hv_version;
    char *libvirt_version;
    char *hostname;
    char *cpu_model;
    int cpus;
    int mhz;
    uint64_t memory_bytes;
    int numa_cells;
    int64_t last_seen;
    int64_t connected_since; /* set by host_set_state(), ignored by host_update() */
};

/* One domain as the inventory sync sees it.  disks and nics are JSON array
 * texts in the docs/api.md shapes. */
struct store_domain {
    char *uuid;
    char *name;
    char *state;
    char *state_reason;
    bool persistent;
    bool autostart;
    unsigned vcpus;
    unsigned max_vcpus;
    uint64_t memory_bytes;
    uint64_t max_memory_bytes;
    char *os_type;
    char *domain_type;
    char *disks_json;
    char *nics_json;
    bool has_agent;
    char *balloon_model;
    char *xml; /* inactive-and-active domain XML as libvirt reports it */
};

void store_domain_clear(struct store_domain *d);

/* Who caused a configuration change. */
struct store_cause {
    const char *cause; /* action | external | created | removed */
    const char *actor; /* token name for "action", else NULL */
    int64_t audit_id;  /* for "action", else 0 */
};

struct store_pool {
    char *name;
    char *uuid;
    char *state;
    uint64_t capacity;
    uint64_t allocation;
    uint64_t available;
    char *target_path; /* directory or device the pool's volumes live in; NULL unknown */
};

struct store_network {
    char *name;
    char *uuid;
    bool active;
    char *bridge;
};

struct store_token {
    int64_t id;
    char *name;
    char *role;         /* viewer | operator | admin | guest */
    char *machine_uuid; /* guest tokens: the one machine it may write */
};

void store_token_clear(struct store_token *t);

/* A VM reference resolved from a path component. */
struct store_vm_ref {
    int64_t domain_id;
    int64_t host_id;
    char *uuid;
    char *name;
    char *host;
};

void store_vm_ref_clear(struct store_vm_ref *r);
typedef struct store_vm_ref store_vm_ref_t;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(store_vm_ref_t, store_vm_ref_clear)

struct store_retention {
    int64_t raw_us; /* 0: forever */
    int64_t m5_us;
    int64_t h1_us;
};

struct store_maint_stats {
    unsigned buckets_5m; /* 5-minute buckets (re)computed */
    unsigned buckets_1h;
    unsigned rows_deleted;
};

struct series_kind;

struct store_series_query {
    const struct series_kind *kind;
    const char *entity; /* "UUID", "UUID/SOURCE", "HOST_ID", "HOST_ID/POOL" (series.h) */
    const int *metrics; /* indices into kind->metrics */
    size_t n_metrics;
    int64_t from_us, to_us; /* [from, to) */
    int64_t step_us;        /* 0: every stored point */
    const char *tier;       /* "raw" | "5m" | "1h", or NULL to choose by step */
};

/* What one ingest request tells about an agent (agent_contact). */
struct store_agent_contact {
    const char *machine_uuid;
    int64_t received_us;
    const char *error_text; /* set: the document was rejected (counted, reason kept) */
    bool duplicate;         /* the sample was already stored */
    const char *agent_name, *agent_version, *hostname, *id_source;
    uint64_t seq; /* SAMPLE_ABSENT when unknown */
    int64_t sample_time_us;
    uint64_t spool_backlog, spool_dropped;
};

/* What the reconciliation of one domain needs besides samples
 * (reconcile_ctx_get; store_reconcile_ctx_clear frees it). */
struct store_reconcile_ctx {
    char *disks_json; /* the domain's disks from the inventory, NULL when unknown */
    char *state_json; /* the engine state persisted last round, NULL on the first */
    GArray *pools;    /* struct store_pool of the host: name and target_path set */
};

void store_reconcile_ctx_clear(struct store_reconcile_ctx *c);

/* One finding as the engine reported it this round (reconciled_put). */
struct store_finding_update {
    const char *rule;     /* "steal-invisible-to-guest", ... */
    const char *severity; /* info | warning | critical */
    const char *state;    /* opening | open | closing | closed (the engine's) */
    int64_t since_us, changed_us;
    double measure;
    const char *message;
};

/* One round's reconciliation of one domain. */
struct store_reconciled {
    const struct reconciled_sample *sample; /* R, kept as history ("vm-reconciled") */
    const char *view_json;  /* H, G, R, provenance, reason, ages: docs/api.md "resources" */
    const char *state_json; /* the engine state to hand back next round */
    const struct store_finding_update *findings;
    size_t n_findings;
};

struct store_ops {
    const char *name;
    void (*close)(struct store *st);

    /* Hosts */
    int (*host_ensure)(struct store *st, const char *name, const char *uri, int64_t *ret_id,
                       GError **error);
    int (*host_update)(struct store *st, const struct store_host *h, GError **error);
    int (*host_set_state)(struct store *st, int64_t host_id, const char *state, const char *reason,
                          GError **error);

    /* Domains.  domain_sync() upserts the live row and, when the XML differs
     * from the newest stored version, stores a new version and a change
     * record with a unified diff, attributed to CAUSE.  *ret_changed tells
     * whether a new version was stored. */
    int (*domain_sync)(struct store *st, int64_t host_id, const struct store_domain *d,
                       const struct store_cause *cause, bool *ret_changed, GError **error);
    /* Marks every non-removed domain of HOST_ID whose UUID is not in
     * PRESENT (NULL-terminated) as removed, with a "removed" change. */
    int (*domain_prune)(struct store *st, int64_t host_id, const char *const *present,
                        const struct store_cause *cause, GError **error);
    int (*domain_set_state)(struct store *st, int64_t host_id, const char *uuid, const char *state,
                            const char *reason, GError **error);

    int (*pools_replace)(struct store *st, int64_t host_id, const struct store_pool *pools,
                         size_t n, GError **error);
    int (*networks_replace)(struct store *st, int64_t host_id, const struct store_network *nets,
                            size_t n, GError **error);

    /* Audit */
    int (*audit_begin)(struct store *st, const char *actor, int64_t token_id, const char *action,
                       const char *target, const char *target_uuid, const char *host,
                       const char *params_json, int64_t *ret_id, GError **error);
    int (*audit_end)(struct store *st, int64_t id, bool ok, const char *error_text, GError **error);
    /* Names the target once it is known (define: libvirt assigns the UUID). */
    int (*audit_set_target)(struct store *st, int64_t id, const char *target,
                            const char *target_uuid, GError **error);

    /* Tokens */
    int (*token_create)(struct store *st, const char *name, const char *role, const char *hash,
                        const char *machine_uuid, int64_t *ret_id, GError **error);
    /* -ENOENT for unknown or revoked tokens. */
    int (*token_lookup)(struct store *st, const char *hash, struct store_token *ret,
                        GError **error);
    int (*token_revoke)(struct store *st, int64_t id, GError **error);
    int (*token_count)(struct store *st, int64_t *ret_count, GError **error);

    /* Queries (new json_object references; see docs/api.md) */
    json_object *(*hosts_query)(struct store *st, const char *name_or_id, GError **error);
    json_object *(*vms_query)(struct store *st, const char *host, int64_t domain_id, bool with_xml,
                              GError **error);
    json_object *(*pools_query)(struct store *st, const char *host, GError **error);
    json_object *(*networks_query)(struct store *st, const char *host, GError **error);
    json_object *(*changes_query)(struct store *st, int64_t domain_id, int limit, GError **error);
    json_object *(*audit_query)(struct store *st, const char *target_uuid, int limit,
                                GError **error);
    json_object *(*tokens_query)(struct store *st, GError **error);

    /* Guest-view history (samples.h).  Idempotent: a sample with the same
     * (machine_uuid, source, seq) — or, without seq, the same time — is
     * not stored twice and sets *ret_duplicate. */
    int (*guest_sample_insert)(struct store *st, const struct guest_sample *s, bool *ret_duplicate,
                               GError **error);

    /* Resolves "UUID", "NAME", "HOST:NAME" or "HOST:UUID" to live (not
     * removed) domains; fills RET (of struct store_vm_ref, caller frees
     * with store_vm_ref_clear) with every match. */
    int (*vm_resolve)(struct store *st, const char *ref, GArray *ret, GError **error);

    /* ---- Host view and sample history (docs/monitoring.md) ---- */

    /* Stores one collection round of a host in one transaction: N domain
     * samples, the host's own sample (NODE, may be NULL) and NPOOLS pool
     * samples. */
    int (*host_round_insert)(struct store *st, const struct host_sample *samples, size_t n,
                             const struct node_sample *node, const struct pool_sample *pools,
                             size_t npools, GError **error);

    /* Records whether PART ("guest-memory", "guest-agent", "host") of
     * domain UUID's figures is available, and why not.  `since` moves only
     * when availability flips; *ret_changed tells whether availability or
     * reason changed. */
    int (*view_status_set)(struct store *st, int64_t host_id, const char *uuid, const char *part,
                           bool available, const char *reason, bool *ret_changed, GError **error);
    /* {"uuid": {"part": {"available": b, "reason": s, "since": t, "updated": t}}}
     * for UUID, or every domain when NULL. */
    json_object *(*view_status_query)(struct store *st, const char *uuid, GError **error);

    /* Incremental downsampling raw -> 5 min -> 1 h of rows stored up to
     * NOW_US - SETTLE_US, then deletes what is older than each tier's
     * retention (0 keeps forever).  Safe to call often: each call only
     * processes rows that arrived since the previous one. */
    int (*samples_maintain)(struct store *st, const struct store_retention *retention,
                            int64_t now_us, int64_t settle_us, struct store_maint_stats *ret_stats,
                            GError **error);

    /* History of one entity; see struct store_series_query.  Returns
     * {"tier": "raw|5m|1h", "step_s": N, "series": [{"metric", "unit",
     * "type": "gauge|rate", "points": [{"t": RFC 3339, "v": number}]}]}. */
    json_object *(*series_query)(struct store *st, const struct store_series_query *q,
                                 GError **error);

    /* ---- Guest agents (kanri-guestd) ---- */

    /* Creates a "guest" token bound to MACHINE_UUID (revoking that
     * machine's older ones) and the agent's row. */
    int (*agent_enroll)(struct store *st, const char *machine_uuid, const char *name,
                        const char *token_hash, int64_t *ret_token_id, GError **error);
    /* Records one ingest request: accepted, duplicate or rejected. */
    int (*agent_contact)(struct store *st, const struct store_agent_contact *c, GError **error);
    json_object *(*agents_query)(struct store *st, GError **error);

    /* ---- Reconciliation (docs/reconciliation.md) ---- */

    /* The newest N samples, newest first, appended to RET (of the sample
     * struct; the caller clears each).  Guest samples are ordered by their
     * own time, whichever way they arrived. */
    int (*host_samples_recent)(struct store *st, const char *uuid, unsigned n, GArray *ret,
                               GError **error);
    int (*guest_samples_recent)(struct store *st, const char *uuid, const char *source, unsigned n,
                                GArray *ret, GError **error);
    int (*pool_samples_recent)(struct store *st, int64_t host_id, const char *name, unsigned n,
                               GArray *ret, GError **error);
    int (*reconcile_ctx_get)(struct store *st, int64_t host_id, const char *uuid,
                             struct store_reconcile_ctx *ret, GError **error);
    /* Stores a round in one transaction: the R history row, the current
     * view and state, and the findings' lifecycle: a finding the engine
     * reports open gets a row (state "open") unless one is open already;
     * "closed" closes it; an open row of a rule the engine no longer
     * reports at all is closed too (its state was lost or the rule was
     * disabled), so no row stays open forever. */
    int (*reconciled_put)(struct store *st, const struct store_reconciled *r, GError **error);
    /* {"time", "age_s", "resources": [...], "findings": [open ones]} of UUID,
     * NULL with STORE_ERROR_NOT_FOUND when it was never reconciled. */
    json_object *(*reconciled_query)(struct store *st, const char *uuid, GError **error);
    /* {"findings": [...]} newest first; STATE open | closed | all (NULL: all),
     * RULE and UUID NULL for any. */
    json_object *(*findings_query)(struct store *st, const char *state, const char *rule,
                                   const char *uuid, int limit, GError **error);
};

struct store {
    const struct store_ops *ops;
};

/* Opens the SQLite backend at PATH (created when missing), runs schema
 * migrations and marks audit entries left "running" by a previous process
 * as interrupted. */
struct store *store_sqlite_open(const char *path, GError **error);

void store_close(struct store *st);
