/*
 * store: kanri's persistence — inventory, configuration history, audit
 * trail, tokens, agents, sample history, findings, the operations record
 * and the policies' record.  Typed rows in and out
 * (model/); the store decides nothing: what a change is, who caused it and
 * when a finding opens or closes are decided above it (src/engine/,
 * src/reconcile/), and the store writes what it is told.
 *
 * A backend is a table of function pointers (struct store_ops) chosen at
 * start-up; `struct store` is the common head every backend embeds first.
 * The SQLite backend (sqlite*.c) is the embedded default.
 *
 * Threading: every operation may be called from any thread; backends
 * serialise writes internally and let reads run beside them.
 *
 * Errors: functions returning int give 0 or -errno style codes (-ENOENT for
 * "no such row", -EIO for a database failure) and fill *error when given.
 * Query functions return a new struct rows (model/row.h) the caller frees,
 * or NULL with *error set.
 *
 * Times are int64 microseconds since the epoch, given by the caller where a
 * write records one, so that one round's rows share one clock.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/decision.h"
#include "model/ha.h"
#include "model/template.h"
#include "model/report.h"
#include "model/change_request.h"
#include "model/event.h"
#include "model/finding.h"
#include "model/inventory.h"
#include "model/row.h"
#include "model/sample.h"
#include "model/view.h"

#define STORE_ERROR (store_error_quark())
GQuark store_error_quark(void);
enum {
    STORE_ERROR_IO,
    STORE_ERROR_NOT_FOUND,
    STORE_ERROR_SCHEMA,
    STORE_ERROR_INVALID,
    STORE_ERROR_FENCED, /* a write for a host whose lease its writer no longer holds */
};

struct store;
struct series_kind;

/* ---- inventory ---- */

/* What the store keeps in memory-free form about one known domain, for the
 * engine to start from (store_ops.domains_load). */
struct store_domain_ref {
    int64_t domain_id;
    int64_t host_id;
    char *uuid;
    char *name;
    bool removed;
    int64_t config_version;
    char *xml;                  /* of config_version; NULL when none */
    int64_t persistent_version; /* newest of the persistent track, 0: none */
    char *persistent_xml;       /* of persistent_version; NULL when none */
    char *state, *state_reason; /* as last stored; NULL when unknown */
};

void store_domain_ref_clear(struct store_domain_ref *r);

/* A configuration change to record with a domain write (domain_put,
 * domain_remove).  new_xml set: the XML is stored as version to_version. */
struct store_change {
    int64_t from_version; /* 0: none */
    int64_t to_version;
    const char *new_xml;
    const char *diff; /* unified diff, "" for none */
    struct change_cause cause;
    bool pending; /* persistent track only: waits for the next boot */
};

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

struct store_token {
    int64_t id;
    char *name;
    char *role;         /* viewer | operator | admin | guest */
    char *machine_uuid; /* guest tokens: the one machine it may write */
};

void store_token_clear(struct store_token *t);

/* ---- history ---- */

struct store_retention {
    int64_t raw_us; /* 0: forever */
    int64_t m5_us;
    int64_t h1_us;
};

struct store_maint_stats {
    unsigned buckets_5m; /* 5-minute buckets (re)computed */
    unsigned buckets_1h;
    unsigned rows_deleted;
    unsigned partitions_dropped; /* PostgreSQL: raw days dropped whole */
};

struct store_series_query {
    const struct series_kind *kind;
    const char *entity; /* "UUID", "UUID/SOURCE", "HOST_ID", "HOST_ID/POOL" (series.h) */
    const int *metrics; /* indices into kind->metrics */
    size_t n_metrics;
    int64_t from_us, to_us; /* [from, to) */
    int64_t step_us;        /* 0: every stored point */
    const char *tier;       /* "raw" | "5m" | "1h", or NULL to choose by step */
};

/* One metric's points (struct series_point, series.h) of a series query. */
struct store_series_line {
    int metric; /* index into the kind's metrics */
    GArray *points;
};

struct store_series_result {
    const char *tier; /* static */
    int64_t step_us;
    GArray *lines; /* struct store_series_line, in the query's order */
};

void store_series_result_free(struct store_series_result *r);
typedef struct store_series_result store_series_result;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(store_series_result, store_series_result_free)

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

/* One accepted guest document (ingests_write): its sample, and what it
 * says of its agent (NULL: nothing; its .duplicate is ignored, the write
 * sets it). */
struct store_ingest {
    const struct guest_sample *sample;
    const struct store_agent_contact *contact;
    bool duplicate; /* out: the sample was already stored */
};

/* ---- kanrid instances and their leases on hosts (docs/scale-out.md) ---- */

struct store_instance {
    char *id;      /* unique per process run */
    char *name;    /* the machine's, for people */
    char *api_url; /* where its API answers, or NULL */
    char *tls_pin; /* its certificate's key, sha256//BASE64, or NULL (plain HTTP) */
    char *version;
    int64_t started_us, heartbeat_us;
};
void store_instance_clear(struct store_instance *i);

struct store_lease {
    char *host;
    char *holder; /* an instance id, or NULL */
    int64_t epoch, expires_us, since_us;
};
void store_lease_clear(struct store_lease *l);

/* An instance's lease plan (cluster/lease.h), host names. */
struct store_lease_plan {
    const char *const *renew, *const *take, *const *give_up;
    size_t n_renew, n_take, n_give_up;
};

/* ---- the operations record ---- */

/* What one pass of the operations record writes, in one transaction:
 * events (inserted), incidents (each row written whole, its affected items
 * added), transitions (the incidents' log), deliveries (queued in the
 * outbox once per route and key: a key already there is kept, not
 * duplicated) and suggested problems (inserted with their id). */
struct store_ops_write {
    struct event *const *events;
    size_t n_events;
    struct incident *const *incidents;
    size_t n_incidents;
    const struct incident_change *changes;
    size_t n_changes;
    const struct delivery *deliveries;
    size_t n_deliveries;
    struct problem *const *problems;
    size_t n_problems;
};

/* What the engine starts from (ops_load). */
struct store_ops_state {
    GPtrArray *incidents; /* struct incident *: not resolved, or resolved since SINCE */
    GPtrArray *suggested; /* struct problem *: the problems kanri suggested */
    int64_t max_event_id, max_incident_id, max_problem_id;
};

struct store_event_query {
    int64_t from_us, to_us; /* 0: open-ended */
    const char *item;       /* exact; NULL: any */
    const char *kind;       /* exact, or a prefix ending in '.' ("vm."); NULL: any */
    int min_severity;       /* enum severity */
    int64_t incident_id;    /* 0: any */
    int64_t before_id;      /* keyset: ids below; 0: from the newest */
    int limit;
};

struct store_incident_query {
    int64_t id;        /* 0: any */
    const char *state; /* "open" (open or acknowledged), "acknowledged", "resolved"; NULL: any */
    int min_severity;
    const char *item; /* the incident's item or an affected one; NULL: any */
    const char *condition;
    int64_t problem_id;
    int64_t before_id;
    int limit;
};

/* ---- the policies' record (model/decision.h) ---- */

/* Which decisions to list (decisions_query), newest first (by id). */
struct store_decision_query {
    const char *vm_uuid; /* exact; NULL: any */
    const char *policy;  /* "memory" | "balance" | "maintenance"; NULL: any */
    int64_t host_id;     /* the VM's host or a migration's destination; 0: any */
    const char *action;  /* exact (even "none"); NULL: any but "none" unless include_none */
    bool include_none;
    const char *state;      /* exact; NULL: any */
    int64_t from_us, to_us; /* [from, to) on the decision's time; 0: open-ended */
    int64_t before_id;      /* keyset: ids below; 0: from the newest */
    int limit;              /* 1..1000; anything else: 1000 */
};

#define STORE_DECISIONS_MAX_LIMIT 1000
/* The most rows one policy_replay_query returns: a dry run over more must
 * be split (by host or by time). */
#define STORE_REPLAY_MAX_ROWS 200000

/* ---- a round's writes ---- */

/* The engine's state of one VM to keep across restarts (opaque text). */
struct store_state_write {
    const char *uuid;
    int64_t host_id;
    int64_t time_us;
    const char *state; /* NULL: none */
};

struct store_view_status_write {
    const char *uuid;
    int64_t host_id;
    const char *part;
    bool available;
    const char *reason; /* NULL when available */
    int64_t since_us;   /* when availability last flipped */
    int64_t updated_us;
};

/* Everything one round of one host writes, in one transaction.  Any array
 * may be empty.  guests are inserted idempotently (as guest_sample_insert). */
/* A write made under a host's lease (docs/scale-out.md): it is written
 * only while HOLDER still holds HOST's lease under EPOCH. */
struct store_fence {
    const char *host; /* the host's name */
    const char *holder;
    int64_t epoch;
};

/* The inventory's writes the calling thread makes from now on (a host's
 * state and information, its domains, their persistent definitions, its
 * pools and networks) go in only while FENCE holds, each failing with
 * -ESTALE and STORE_ERROR_FENCED otherwise; NULL: none again.  For a
 * host's inventory reports on a shared store (engine/inventory.c), so
 * that an instance which stalled past its lease cannot write a report
 * after another took the host.  FENCE's strings must outlive it. */
void store_thread_fence(const struct store_fence *fence);

/* A VM's availability state from T_US on (model/report.h). */
struct store_avail_mark {
    const char *uuid;
    int64_t host_id;
    int64_t t_us;
    const char *state, *reason;
};

struct store_round {
    const struct store_fence *fence; /* NULL: none; else -ESTALE, STORE_ERROR_FENCED */
    const struct host_sample *const *hosts;
    size_t n_hosts;
    const struct node_sample *node; /* NULL: none */
    const struct pool_sample *const *pools;
    size_t n_pools;
    const struct guest_sample *const *guests;
    size_t n_guests;
    const struct reconciled_sample *reconciled;
    size_t n_reconciled;
    const struct finding_write *findings; /* model/finding.h */
    size_t n_findings;
    const struct store_state_write *states;
    size_t n_states;
    const struct vm_view *const *views; /* last views to keep */
    size_t n_views;
    const struct store_view_status_write *status;
    size_t n_status;
    /* The VMs whose availability state changed (or is first seen). */
    const struct store_avail_mark *avail;
    size_t n_avail;
    /* Host SPAN_HOST_ID (0: none) was collected at SPAN_T_US: its current
     * span is extended to it when it ended at most SPAN_GAP_US before,
     * else a new one begins. */
    int64_t span_host_id, span_t_us, span_gap_us;
};

/* The newest samples of one entity, newest first (samples_recent). */
enum store_recent_kind { STORE_RECENT_HOST, STORE_RECENT_GUEST, STORE_RECENT_POOL };

/* Which VMs vms_query and vms_page list; NULL (or a NULL field): no
 * narrowing by that.  KIND is a vm_row kind, "vm" or "container"
 * (domain_kind()); any other string matches nothing. */
struct vm_filter {
    const char *host; /* a host's name */
    const char *kind;
};

/* Where a page of VMs ends: vms_query's order is host id, name, id. */
struct vm_page_key {
    int64_t host_id;
    const char *name;
    int64_t domain_id;
};

/* What a change request's move sets besides its state (NULL or 0: kept). */
struct change_request_update {
    int64_t now;
    const char *approver;
    int64_t approver_token;
    int64_t started, ended;
    const char *error;
};

struct store_ops {
    const char *name;
    void (*close)(struct store *st);

    /* ---- hosts ---- */
    int (*host_ensure)(struct store *st, const char *name, const char *uri, int64_t *ret_id,
                       GError **error);
    /* The id and name of host NAME_OR_ID (a name, or an id as text);
     * -ENOENT when none. */
    int (*host_lookup)(struct store *st, const char *name_or_id, int64_t *ret_id, char **ret_name,
                       GError **error);
    int (*host_put_info)(struct store *st, int64_t host_id, const struct host_info *info,
                         int64_t now_us, GError **error);
    /* SYNCED_US > 0 also records the end of a full inventory sync. */
    int (*host_put_state)(struct store *st, int64_t host_id, enum host_state state,
                          const char *reason, int64_t now_us, int64_t synced_us, GError **error);

    /* ---- inventory ---- */
    /* Every domain ever seen on HOST_ID (removed ones too), with its newest
     * configuration version, into RET (struct store_domain_ref). */
    int (*domains_load)(struct store *st, int64_t host_id, GArray *ret, GError **error);
    /* The XML of version VERSION of a domain, into *ret_xml (g_free). */
    int (*config_get)(struct store *st, int64_t domain_id, int64_t version, char **ret_xml,
                      GError **error);
    /* Upserts the live row of D on HOST_ID and, with CH, records the
     * change (and the new version when ch->new_xml is set).  *ret_domain_id
     * is the row's id. */
    int (*domain_put)(struct store *st, int64_t host_id, const struct domain_info *d,
                      const struct store_change *ch, int64_t now_us, int64_t *ret_domain_id,
                      GError **error);
    /* The persistent definition's track (engine/attribution.h): with
     * ch->new_xml, stores it as persistent version ch->to_version; with
     * RECORD, writes CH as a change on track "persistent" (ch->pending as
     * given); and stamps the pending changes APPLIED (ids of this domain)
     * as applied at NOW_US.  One transaction.  *ret_change_id (when given)
     * is the id of the change written, 0 for none. */
    int (*persistent_put)(struct store *st, int64_t domain_id, const struct store_change *ch,
                          bool record, const int64_t *applied, size_t n_applied, int64_t now_us,
                          int64_t *ret_change_id, GError **error);
    /* The XML of persistent version VERSION of a domain (g_free). */
    int (*persistent_get)(struct store *st, int64_t domain_id, int64_t version, char **ret_xml,
                          GError **error);
    /* Marks a domain removed and records CH. */
    int (*domain_remove)(struct store *st, int64_t domain_id, const struct store_change *ch,
                         int64_t now_us, GError **error);
    int (*pools_replace)(struct store *st, int64_t host_id, const GPtrArray *pools /* pool_info */,
                         int64_t now_us, GError **error);
    int (*networks_replace)(struct store *st, int64_t host_id,
                            const GPtrArray *nets /* network_info */, int64_t now_us,
                            GError **error);

    /* ---- audit ---- */
    int (*audit_begin)(struct store *st, const char *actor, int64_t token_id, const char *action,
                       const char *target, const char *target_uuid, const char *host,
                       const char *params_json, int64_t *ret_id, GError **error);
    int (*audit_end)(struct store *st, int64_t id, bool ok, const char *error_text, GError **error);
    /* Names the target once it is known (define: libvirt assigns the UUID). */
    int (*audit_set_target)(struct store *st, int64_t id, const char *target,
                            const char *target_uuid, GError **error);
    /* What a re-check found after an action's outcome was unknown: the
     * domain's state ("gone" when it no longer exists) and when. */
    int (*audit_checked)(struct store *st, int64_t id, const char *state, int64_t at_us,
                         GError **error);

    /* ---- tokens ---- */
    int (*token_create)(struct store *st, const char *name, const char *role, const char *hash,
                        const char *machine_uuid, int64_t *ret_id, GError **error);
    /* -ENOENT for unknown or revoked tokens. */
    int (*token_lookup)(struct store *st, const char *hash, struct store_token *ret,
                        GError **error);
    int (*token_revoke)(struct store *st, int64_t id, GError **error);
    int (*token_count)(struct store *st, int64_t *ret_count, GError **error);

    /* ---- queries (model/row.h) ---- */
    /* NAME_OR_ID NULL: every host. */
    struct rows *(*hosts_query)(struct store *st, const char *name_or_id, GError **error);
    /* The VMs FILTER lets through (NULL: all); DOMAIN_ID 0: every live
     * VM, else that one (removed or not), with its XML when WITH_XML. */
    struct rows *(*vms_query)(struct store *st, const struct vm_filter *filter, int64_t domain_id,
                              bool with_xml, GError **error);
    /* One page of live VMs in the order of vms_query: at most LIMIT after
     * the VM AFTER (NULL: from the first), read as a page, not as the whole
     * list cut (a keyset, so a VM removed meanwhile moves nothing). */
    struct rows *(*vms_page)(struct store *st, const struct vm_filter *filter,
                             const struct vm_page_key *after, int limit, GError **error);
    struct rows *(*pools_query)(struct store *st, const char *host, GError **error);
    struct rows *(*networks_query)(struct store *st, const char *host, GError **error);
    struct rows *(*changes_query)(struct store *st, int64_t domain_id, int limit, GError **error);
    /* The pending changes of HOST_ID's domains (change_row, with domain_id
     * and diff), oldest first. */
    struct rows *(*changes_pending)(struct store *st, int64_t host_id, GError **error);
    struct rows *(*audit_query)(struct store *st, const char *target_uuid, int limit,
                                GError **error);
    struct rows *(*tokens_query)(struct store *st, GError **error);
    struct rows *(*agents_query)(struct store *st, GError **error);
    /* STATE open | closed | NULL (all); RULE and UUID NULL for any; newest first. */
    struct rows *(*findings_query)(struct store *st, const char *state, const char *rule,
                                   const char *uuid, int limit, GError **error);
    /* UUID NULL: every VM's. */
    struct rows *(*view_status_query)(struct store *st, const char *uuid, GError **error);
    /* Resolves "UUID", "NAME", "HOST:NAME" or "HOST:UUID" to live (not
     * removed) domains; fills RET (of struct store_vm_ref, caller frees
     * with store_vm_ref_clear) with every match. */
    int (*vm_resolve)(struct store *st, const char *ref, GArray *ret, GError **error);
    /* The last view kept of UUID; -ENOENT when none. */
    int (*view_get)(struct store *st, const char *uuid, struct vm_view **ret, GError **error);
    /* The last views kept of the VMs of the N hosts HOST_IDS, appended to
     * RET (struct vm_view *; the caller frees them); an unreadable one is
     * left out. */
    int (*views_of_hosts)(struct store *st, const int64_t *host_ids, size_t n, GPtrArray *ret,
                          GError **error);

    /* ---- samples ---- */
    /* Guest-view sample pushed by an agent.  Idempotent: a sample with the
     * same (machine_uuid, source, seq) — or, without seq, the same time —
     * is not stored twice and sets *ret_duplicate.  Durable when it
     * returns 0 (synced to disk): the agent deletes what was acknowledged. */
    int (*guest_sample_insert)(struct store *st, const struct guest_sample *s, bool *ret_duplicate,
                               GError **error);
    /* N guest documents in one transaction (the engine's group commit of
     * the ingest API), each sample inserted as by guest_sample_insert and
     * its agent's contact recorded as by agent_contact, durable when it
     * returns.  ERRORS[i] (NULL on entry) gets document i's error; should
     * the database refuse the group, each is written alone.  -EIO (or
     * -EINVAL) when one failed. */
    int (*ingests_write)(struct store *st, struct store_ingest *const *w, size_t n,
                         GError **errors);
    /* One round's rows, in one transaction. */
    int (*round_write)(struct store *st, const struct store_round *w, GError **error);
    /* N rounds in one transaction (the engine's group commit), each
     * round's fence checked: ERRORS[i] (NULL on entry) gets round i's
     * error, STORE_ERROR_FENCED for a round its fence refused, and the
     * rows of the others go in together.  Should the database refuse the
     * group, each round is written alone.  -EIO when a round failed
     * other than by its fence. */
    int (*rounds_write)(struct store *st, const struct store_round *const *w, size_t n,
                        GError **errors);
    /* The newest N samples of one entity, newest first, appended to RET
     * (of struct host_sample, guest_sample or pool_sample; the caller
     * clears each).  KEY is the domain or machine UUID, HOST_ID/NAME for a
     * pool; SOURCE the guest source.  For the engine's warm start only. */
    int (*samples_recent)(struct store *st, enum store_recent_kind kind, const char *key,
                          const char *source, int64_t host_id, unsigned n, GArray *ret,
                          GError **error);
    /* Guest samples of SOURCE received after AFTER_US, oldest first, at
     * most N, appended to RET (struct guest_sample; the caller clears
     * each): what other instances on a shared store took in. */
    int (*guest_samples_received)(struct store *st, const char *source, int64_t after_us,
                                  unsigned n, GArray *ret, GError **error);
    /* Open findings (rows of finding_row_desc) and persisted engine states
     * (uuid -> text, into RET) of HOST_ID, for the engine's warm start. */
    struct rows *(*findings_open)(struct store *st, int64_t host_id, GError **error);
    int (*states_load)(struct store *st, int64_t host_id, GHashTable *ret, GError **error);

    /* Incremental downsampling raw -> 5 min -> 1 h of rows stored up to
     * NOW_US - SETTLE_US, then deletes what is older than each tier's
     * retention (0 keeps forever).  Safe to call often: each call only
     * processes rows that arrived since the previous one. */
    int (*samples_maintain)(struct store *st, const struct store_retention *retention,
                            int64_t now_us, int64_t settle_us, struct store_maint_stats *ret_stats,
                            GError **error);
    /* History of one entity; see struct store_series_query. */
    struct store_series_result *(*series_query)(struct store *st,
                                                const struct store_series_query *q, GError **error);

    /* ---- guest agents (kanri-guestd) ---- */
    /* Creates a "guest" token bound to MACHINE_UUID (revoking that
     * machine's older ones) and the agent's row. */
    int (*agent_enroll)(struct store *st, const char *machine_uuid, const char *name,
                        const char *token_hash, int64_t *ret_token_id, GError **error);
    /* Records one ingest request: accepted, duplicate or rejected. */
    int (*agent_contact)(struct store *st, const struct store_agent_contact *c, GError **error);

    /* ---- the operations record ---- */
    int (*ops_write)(struct store *st, const struct store_ops_write *w, GError **error);
    /* Incidents not resolved or resolved since SINCE_US (with HOST, only
     * those that happened on that host or are its own), suggested problems and the
     * largest ids (struct store_ops_state; the caller frees the arrays). */
    int (*ops_load)(struct store *st, int64_t since_us, const char *host,
                    struct store_ops_state *ret, GError **error);
    /* Newest first. */
    struct rows *(*events_query)(struct store *st, const struct store_event_query *q,
                                 GError **error);
    struct rows *(*incidents_query)(struct store *st, const struct store_incident_query *q,
                                    GError **error);
    struct rows *(*incident_items)(struct store *st, int64_t id, GError **error);
    /* Its transitions and comments, oldest first. */
    struct rows *(*incident_log)(struct store *st, int64_t id, GError **error);
    /* -ENOENT: no such incident. */
    int (*incident_comment)(struct store *st, int64_t id, const char *author, const char *text,
                            int64_t now_us, GError **error);
    /* Configuration changes and audited actions on the VMs UUIDS between
     * FROM and TO (rows of change_ref_row_desc, newest first). */
    struct rows *(*change_refs)(struct store *st, const char *const *uuids, size_t n,
                                int64_t from_us, int64_t to_us, GError **error);
    /* ID 0: every problem, newest first. */
    struct rows *(*problems_query)(struct store *st, int64_t id, GError **error);
    /* Inserts or replaces problem P (its id set by the caller). */
    int (*problem_put)(struct store *st, const struct problem *p, GError **error);
    /* Links incident ID to PROBLEM_ID (0: unlinks); -ENOENT. */
    int (*incident_set_problem)(struct store *st, int64_t id, int64_t problem_id, GError **error);
    struct rows *(*maintenance_query)(struct store *st, int64_t now_us, GError **error);
    /* Windows not over by NOW_US, into RET (struct maintenance *). */
    int (*maintenance_load)(struct store *st, int64_t now_us, GPtrArray *ret, GError **error);
    int (*maintenance_add)(struct store *st, const struct maintenance *m, int64_t *ret_id,
                           GError **error);
    /* -ENOENT: none. */
    int (*maintenance_delete)(struct store *st, int64_t id, GError **error);
    /* The rules made over the API (struct alert_rule *). */
    int (*rules_load)(struct store *st, GPtrArray *ret, GError **error);
    /* Inserts or replaces the rule of R's name. */
    int (*rule_put)(struct store *st, const struct alert_rule *r, int64_t *ret_id,
                    GError **error);
    int (*rule_delete)(struct store *st, const char *name, GError **error);
    /* Deliveries pending and due at NOW_US, oldest first, at most LIMIT,
     * appended to RET (struct delivery; delivery_clear each). */
    int (*outbox_due)(struct store *st, int64_t now_us, unsigned limit, GArray *ret,
                      GError **error);
    /* Records an attempt: STATE "delivered", "failed" (given up) or
     * "pending" (retried at NEXT_TRY_US); ERROR_TEXT the last failure.
     * "held" puts a delivery off to NEXT_TRY_US without counting an
     * attempt (a rate limit). */
    int (*outbox_done)(struct store *st, int64_t id, const char *state, const char *error_text,
                       int64_t next_try_us, int64_t now_us, GError **error);
    /* INCIDENT_ID 0: every incident's; newest first. */
    struct rows *(*outbox_query)(struct store *st, int64_t incident_id, int limit,
                                 GError **error);
    /* Deletes events older than BEFORE_US and deliveries done before it. */
    int (*events_prune)(struct store *st, int64_t before_us, unsigned *ret_deleted,
                        GError **error);

    /* ---- the policies' record (model/decision.h) ---- */
    /* Inserts the N decisions of W in one transaction (a round may decide
     * several; all are written or none), their ids, in W's order, into
     * RET_IDS (N entries) when given.  -EINVAL (STORE_ERROR_INVALID) when
     * a required field is missing, and nothing is written. */
    int (*decisions_insert)(struct store *st, const struct decision_write *w, size_t n,
                            int64_t *ret_ids, GError **error);
    /* One decision: decisions_insert of one. */
    int (*decision_insert)(struct store *st, const struct decision_write *w, int64_t *ret_id,
                           GError **error);
    /* Moves decision ID to STATE with ERROR_TEXT (NULL: none), and links
     * its audit entry when AUDIT_ID is not 0 (0 keeps the one it has).
     * -ENOENT: no such decision. */
    int (*decision_update)(struct store *st, int64_t id, const char *state, int64_t audit_id,
                           const char *error_text, GError **error);
    /* Records what the round after decision ID's action saw: OBSERVED_JSON
     * (a JSON object), VERDICT ("ok" | "no-effect" | "worse") and when.
     * -ENOENT: no such decision. */
    int (*decision_observe)(struct store *st, int64_t id, const char *observed_json,
                            const char *verdict, int64_t observed_us, GError **error);
    /* Rows of decision_row_desc; see struct store_decision_query. */
    struct rows *(*decisions_query)(struct store *st, const struct store_decision_query *q,
                                    GError **error);
    /* Decision ID as one row of decision_row_desc; NULL with
     * STORE_ERROR_NOT_FOUND when there is none. */
    struct rows *(*decision_get)(struct store *st, int64_t id, GError **error);
    /* Deletes the decisions taken before BEFORE_US, except those still
     * pending (an action in flight keeps its record). */
    int (*decisions_prune)(struct store *st, int64_t before_us, unsigned *ret_deleted,
                           GError **error);
    /* Sets KEY of POLICY to VALUE (text, as kanri.conf would give it), by
     * BY at NOW_US; VALUE NULL deletes the setting (-ENOENT when there was
     * none).  The store keeps the text; the policy module checks it. */
    int (*policy_setting_put)(struct store *st, const char *policy, const char *key,
                              const char *value, const char *by, int64_t now_us, GError **error);
    /* Every setting made over the API (policy_setting_row_desc), by policy
     * and key. */
    struct rows *(*policy_settings_query)(struct store *st, GError **error);
    /* Pauses POLICY on VM_UUID since SINCE_US, because of DECISION_ID (0:
     * none); a pause already there is replaced. */
    int (*policy_pause_put)(struct store *st, const char *policy, const char *vm_uuid,
                            int64_t since_us, const char *reason, int64_t decision_id,
                            GError **error);
    /* -ENOENT: POLICY was not paused on VM_UUID. */
    int (*policy_pause_delete)(struct store *st, const char *policy, const char *vm_uuid,
                               GError **error);
    /* Every pause (policy_pause_row_desc), by policy and VM. */
    struct rows *(*policy_pauses_query)(struct store *st, GError **error);
    /* Puts host HOST_ID in maintenance mode (ON) or takes it out.  Turning
     * it on records BY and REASON, and since when (NOW_US; a host already
     * in maintenance keeps its since); turning it off clears all three.
     * hosts_query shows it.  -ENOENT: no such host. */
    int (*host_maintenance_set)(struct store *st, int64_t host_id, bool on, const char *by,
                                const char *reason, int64_t now_us, GError **error);
    /* The stored rounds of HOST_ID (0: every host) whose reconciled time
     * is in [FROM_US, TO_US), one row per VM per round (replay_row_desc),
     * ordered by time, host id and VM uuid, for a policy's dry run over
     * the past.  Reads the raw tier only (what samples_maintain keeps of
     * it).  At most LIMIT rows (0 or above STORE_REPLAY_MAX_ROWS: that
     * maximum); more is an error (STORE_ERROR_INVALID), not a cut list,
     * since a replay of part of a round would decide on part of a fleet. */
    struct rows *(*policy_replay_query)(struct store *st, int64_t host_id, int64_t from_us,
                                        int64_t to_us, unsigned limit, GError **error);

    /* ---- high availability (model/ha.h, docs/ha.md) ---- */
    /* Replaces the state of host R->host_id (R->host is ignored). */
    int (*ha_host_put)(struct store *st, const struct ha_host_row *r, GError **error);
    /* Replaces the newest recovery of VM R->uuid (names are ignored). */
    int (*ha_recovery_put)(struct store *st, const struct ha_recovery_row *r, GError **error);
    /* Every host's state (ha_host_row_desc) and every VM's newest recovery
     * (ha_recovery_row_desc), names joined, by host id / uuid. */
    struct rows *(*ha_hosts_query)(struct store *st, GError **error);
    struct rows *(*ha_recoveries_query)(struct store *st, GError **error);
    /* Sets (replaces) the API's HA settings of VM R->uuid. */
    int (*ha_vm_put)(struct store *st, const struct ha_vm_row *r, GError **error);
    /* Deletes them (kanri.conf's apply again); -ENOENT when there were none. */
    int (*ha_vm_delete)(struct store *st, const char *uuid, GError **error);
    struct rows *(*ha_vms_query)(struct store *st, GError **error); /* ha_vm_row_desc, by uuid */

    /* Templates (sqlite-templates.c, docs/provisioning.md).  Adds T as the
     * next version of its name (*ret_version); STORE_ERROR_INVALID without
     * a name, definition, disks or pool. */
    int (*template_add)(struct store *st, const struct template_row *t, int64_t *ret_version,
                        GError **error);
    /* template_row_desc: the newest version of each template not deleted
     * (NAME: of that one only), by name; or with VERSIONS every version of
     * NAME, deleted ones too.  The definitions only WITH_XML. */
    struct rows *(*templates_query)(struct store *st, const char *name, bool versions,
                                    bool with_xml, GError **error);
    /* Marks every version of NAME deleted at WHEN_US; -ENOENT
     * (STORE_ERROR_NOT_FOUND) when it has none left. */
    int (*template_delete)(struct store *st, const char *name, int64_t when_us, GError **error);

    /* Reports (sqlite-reports.c, docs/reports.md).  vm_state_row_desc:
     * the states of VM UUID (NULL: every VM) in force from FROM_US to
     * TO_US, the one in force at FROM_US first, by uuid and time. */
    struct rows *(*vm_states_query)(struct store *st, const char *uuid, int64_t from_us,
                                    int64_t to_us, GError **error);
    /* host_span_row_desc: the spans of every host that overlap FROM_US to
     * TO_US, by host and time. */
    struct rows *(*host_spans_query)(struct store *st, int64_t from_us, int64_t to_us,
                                     GError **error);
    /* VM UUID's tags become TAGS (NULL-terminated; none: no tags). */
    int (*vm_tags_set)(struct store *st, const char *uuid, const char *const *tags, GError **error);
    /* vm_tag_row_desc: the tags of VM UUID, or the VMs of TAG, or (both
     * NULL) all, by uuid and tag. */
    struct rows *(*vm_tags_query)(struct store *st, const char *uuid, const char *tag,
                                  GError **error);

    /* Change requests (sqlite-changes.c).  Adds C, in state draft, with
     * its N VMS (uuid, vm, host_id, batch) in order; *ret_id its id. */
    int (*change_request_add)(struct store *st, const struct change_request_row *c,
                              const struct change_vm_row *vms, size_t n, int64_t *ret_id,
                              GError **error);
    /* change_request_row_desc: request ID; or (ID 0) those in STATES
     * (NULL-terminated, by id), or (STATES NULL) the newest 1000. */
    struct rows *(*change_requests_query)(struct store *st, int64_t id, const char *const *states,
                                          GError **error);
    /* change_vm_row_desc: a request's VMs in order. */
    struct rows *(*change_vms_query)(struct store *st, int64_t request_id, GError **error);
    /* Moves request ID from state FROM to TO with U's fields (those set);
     * -ESTALE when it is no longer in FROM. */
    int (*change_request_move)(struct store *st, int64_t id, const char *from, const char *to,
                               const struct change_request_update *u, GError **error);
    /* A VM's state and (those set) saved, saved_xml, result, audit_ids,
     * host_id, by request_id and seq. */
    int (*change_vm_set)(struct store *st, const struct change_vm_row *v, GError **error);

    /* ---- instances and leases (docs/scale-out.md) ---- */
    /* Records instance ME's heartbeat at NOW (adding it when new). */
    int (*instance_beat)(struct store *st, const struct store_instance *me, int64_t now_us,
                         GError **error);
    /* Instance ID leaves: its row goes and its leases are given up, for
     * the others to take at once rather than after they expire. */
    int (*instance_leave)(struct store *st, const char *id, GError **error);
    /* Every instance (struct store_instance, by id) and every lease
     * (struct store_lease, by host) into the arrays, which own them. */
    int (*cluster_read)(struct store *st, GArray *ret_instances, GArray *ret_leases,
                        GError **error);
    /* Carries out instance ME's PLAN at NOW in one transaction: gives up,
     * renews its current leases to NOW + LEASE_US, and takes each host of
     * PLAN->take only if it is still free then (no holder, or expired),
     * a taking incrementing the lease's epoch.  RET_HELD gets the leases
     * ME holds afterwards (struct store_lease, by host): what it may
     * collect, under those epochs. */
    int (*leases_apply)(struct store *st, const char *me, const struct store_lease_plan *plan,
                        int64_t now_us, int64_t lease_us, GArray *ret_held, GError **error);
    /* Instance ME's heartbeat at NOW and every lease it holds unexpired
     * renewed to NOW + LEASE_US, in one transaction; *RET_RENEWED (when
     * given) how many leases. */
    int (*leases_renew)(struct store *st, const char *me, int64_t now_us, int64_t lease_us,
                        unsigned *ret_renewed, GError **error);
};

struct store {
    const struct store_ops *ops;
};

/* Opens the SQLite backend at PATH (created when missing), runs schema
 * migrations and marks audit entries left "running" by a previous process
 * as interrupted. */
struct store *store_sqlite_open(const char *path, GError **error);
/* The same on a PostgreSQL server (CONNINFO a libpq URI or key=value
 * string): the schema migrated under a lock, so that instances starting
 * together migrate it once (pg.c). */
struct store *store_pg_open(const char *conninfo, GError **error);
/* TARGET a postgresql:// or postgres:// URI: PostgreSQL; else a SQLite
 * file's path. */
struct store *store_open(const char *target, GError **error);
bool store_is_pg_url(const char *target);
/* "database D on HOST:PORT as USER" of a PostgreSQL connection string, for
 * logs: never its password. */
char *store_pg_describe(const char *conninfo);

void store_close(struct store *st);

/* kanrid --migrate-to: SOURCE, a SQLite store, copied into TARGET, an
 * empty PostgreSQL store at the same schema version: every table and row
 * in one transaction, verified by counting each table's rows on both
 * sides before it commits (a failure leaves TARGET empty).  RET gets the
 * counts (store_migrate_report_clear). */
struct store_table_count {
    char *table;
    int64_t source_rows, target_rows;
};
struct store_migrate_report {
    GPtrArray *tables; /* struct store_table_count *, in the source's creation order */
    int64_t rows;
};
int store_migrate_to(struct store *source, struct store *target, struct store_migrate_report *ret,
                     GError **error);
void store_migrate_report_clear(struct store_migrate_report *r);
