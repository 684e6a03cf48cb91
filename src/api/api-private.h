/*
 * Shared between server.c and the route handlers.
 */
#pragma once

#include <json-c/json.h>
#include <microhttpd.h>

#include "api/api.h"

#define REQ_MAX_PARAMS 4

struct req {
    struct api *api;
    struct MHD_Connection *conn;
    const char *method;           /* owned by MHD for the request's life */
    const char *version;          /* likewise: "HTTP/1.1" */
    char *path;                   /* percent-decoded */
    GHashTable *args;             /* query arguments, percent-decoded */
    char *bad_url;                /* why the path or query cannot be taken, or NULL */
    const struct route *route;    /* set once the request is admitted */
    bool handled;                 /* the handler ran (on a worker); reply next */
    char *params[REQ_MAX_PARAMS]; /* path placeholders, in order */
    int nparams;
    GString *body;
    json_object *body_json; /* parsed body for routes that want one */
    struct store_token token;
    char *token_hash; /* of the token sent, once authenticated */
    bool authed;

    /* reply */
    unsigned status;
    json_object *resp;
    bool problem;
    const char *raw; /* static bytes to send instead of resp */
    size_t raw_len;
    const char *raw_type;
    char *raw_owned; /* g_malloc'd bytes to send (raw_len long) instead of resp; freed */
    const struct web_asset *asset; /* a built-in file to send instead (its ETag, its gzip copy) */
    char *allow;
    char *retry_after; /* seconds, with 429 */
    /* The reply's bytes once finished (finish_body: on the worker, so the
     * poll threads only queue them): */
    bool finished;
    char *etag;   /* of a cacheable 200 */
    bool gzipped; /* raw_owned holds gzip */
    /* A reply that does not end (text/event-stream), instead of the
     * above: owned here until the reply is queued (routes-stream.c). */
    struct api_stream *stream;
};

struct route {
    const char *method;
    const char *pattern; /* "/api/v1/vms/{}/actions/{}" */
    int min_role;        /* -1: no auth; else api_role_rank() needed */
    bool wants_body;
    void (*handler)(struct req *r);
    /* With wants_body: the fields the body may have, NULL-terminated (an
     * unknown one is refused before the handler runs); NULL when the
     * handler checks them itself. */
    const char *const *fields;
    /* The handler may wait on a hypervisor (actions, define, snapshots):
     * it runs on the pool for slow work, so that it never holds a worker
     * that quick requests need. */
    bool slow;
};

extern const struct route api_routes[];        /* terminated by a NULL pattern */
extern const struct route api_ingest_routes[]; /* agents and ingest (routes-ingest.c) */
extern const struct route api_ops_routes[];    /* the operations record (routes-ops.c) */
extern const struct route api_web_routes[];    /* the dashboard's files (routes-web.c) */
extern const struct route api_stream_routes[]; /* the live stream (routes-stream.c) */
extern const struct route api_policy_routes[]; /* policies and decisions (routes-policy.c) */
extern const struct route api_ha_routes[];     /* high availability (routes-ha.c) */
extern const struct route api_machine_routes[]; /* machines (routes-machines.c) */
extern const struct route api_container_routes[]; /* containers (routes-containers.c) */
extern const struct route api_template_routes[];  /* templates (routes-templates.c) */
extern const struct route api_report_routes[];    /* reports, tags (routes-reports.c) */
extern const struct route api_change_routes[];    /* change requests (routes-changes.c) */
/* routes-templates.c: POST /vms with a "template" (h_vm_define hands it
 * over), and the members such a body may have. */
void api_vm_provision(struct req *r);
extern const char *const api_provision_fields[];
extern int api_ingest_rejected;                /* guest documents refused, for /metrics */
extern int64_t api_started_us;                 /* when api_start() ran (µs since the epoch) */
extern int api_ingest_rate_limited;            /* guest documents answered 429 */
extern const char *const api_role_names[];

/* Matches PATH against PATTERN ("{}" matches one non-empty segment); on a
 * match fills PARAMS (g_strdup'd) and *NPARAMS. */
bool route_match(const char *pattern, const char *path, char **params, int *nparams);

/* routes-metrics.c: sample history and GET /metrics */
void h_vm_metrics(struct req *r);
void h_host_metrics(struct req *r);
void h_pool_metrics(struct req *r);
void h_prometheus(struct req *r);
void h_vm_reconciled(struct req *r);
void h_findings(struct req *r);
void h_machine_metrics(struct req *r);
/* routes-machines.c: the enrolled machine REF (its uuid, or its name when
 * only one has it) among ALL (agents_query rows); NULL when none. */
struct agent_row;
const struct agent_row *api_machine_find(const struct rows *all, const char *ref);
/* routes-fleet.c: GET /fleet */
void h_fleet(struct req *r);
/* routes-changes.c: "2G", "512M", "1048576" (bytes); K/M/G/T powers of
 * 1024, with an optional "B" or "iB". */
bool api_size_bytes(const char *s, int64_t *ret);
/* A time argument: RFC 3339, epoch seconds, or a duration meaning that
 * long before NOW ("1h"); 1970 to 9999. */
bool api_parse_when(const char *s, int64_t now, int64_t *ret);
/* ?limit= (1 to 1000, default 100); false with the reply set when bad. */
bool api_arg_limit(struct req *r, int *ret);
/* routes-ops.c: arguments and replies the record's routes and others
 * share; each returns false with the reply set when the input is bad. */
/* ?cursor= of a list read newest first by id: the last id served. */
bool api_arg_cursor(struct req *r, int64_t *ret);
/* ?KEY= of 1 to MAX characters, or absent (*ret NULL). */
bool api_arg_text(struct req *r, const char *key, size_t max, const char **ret);
/* The first path placeholder as a positive id (404 naming WHAT if not). */
bool api_path_id(struct req *r, const char *what, int64_t *ret);
/* A string member KEY of the body of at most MAX characters. */
bool api_body_text(struct req *r, const char *key, size_t max, bool required, const char **ret);
/* {"<list>": [...], "next_cursor": "ID"} for a list read newest first by
 * id (the id an int64_t at ID_OFFSET of each row); takes LIST. */
void api_reply_by_id(struct req *r, struct rows *list, const GError *err, int limit,
                     size_t id_offset);
/* An ENGINE_OPS_ERROR (or a store's not-found) as its HTTP status. */
void api_reply_engine_error(struct req *r, const GError *err);
/* Replies TEXT (taken), JSON text from the engine, with STATUS
 * (routes-policy.c). */
void api_reply_text_json(struct req *r, unsigned status, char *text);
/* When another kanrid instance holds HOST_ID (HOST_NAME), forwards R to its
 * PATH there with the caller's token and relays the answer, or answers
 * why it cannot (forward.c): true when R is answered. */
bool api_forward(struct req *r, int64_t host_id, const char *host_name, const char *path);
/* Resolves a VM reference (routes.c); on failure the reply is already set. */
bool api_resolve_vm(struct req *r, const char *ref, struct store_vm_ref *ret);
/* 409 when HOST is in maintenance (nothing is placed on it): true when
 * refused, the reply set (routes.c). */
bool api_refuse_in_maintenance(struct req *r, const char *host);
/* The request's token as the actor of an action (routes.c). */
struct actor api_actor(struct req *r);
/* The reply to a creation (POST /vms, POST /containers) whose engine call
 * returned RC: 201 {result, audit_id, uuid, vm} with the new VM (UUID on
 * HOST) as the inventory has it, or ERR with the audit id when one was
 * written (routes.c). */
void api_reply_created(struct req *r, int rc, const GError *err, int64_t audit_id, const char *host,
                       const char *uuid);

/* GET /vms: the whole list, or with limit/cursor one page read from the
 * store as a page. */
void req_vms_paged(struct req *r);
/* Replies the built-in file NAME (web/assets.h), or a 404. */
void req_asset(struct req *r, const char *name);
/* Replies TEXT (taken) as is, of media TYPE (a static string). */
void req_text(struct req *r, unsigned status, GString *text, const char *type);
void req_problem(struct req *r, unsigned status, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
void req_json(struct req *r, unsigned status, json_object *o);
void req_from_error(struct req *r, const GError *err);
const char *req_arg(struct req *r, const char *key);
struct store *req_store(struct req *r);
struct engine *req_engine(struct req *r);
/* The server's TLS certificate pin and path; NULL when it speaks HTTP. */
const char *req_tls_pin(struct req *r);
const char *req_tls_cert_path(struct req *r);
/* Replies with a query's rows as {"<list>": [...]}, or a 500 when the
 * store failed (LIST NULL, ERR set); takes LIST. */
void req_rows(struct req *r, struct rows *list, const GError *err);
/* The same for a list a client pages through: ?limit=N (1 to 1000) and
 * ?cursor= (the reply's next_cursor, present while rows remain), ?fields=a,b
 * (only those members).  Takes LIST. */
void req_rows_paged(struct req *r, struct rows *list, const GError *err);

/* routes-stream.c: the live stream's streams, one registry per server. */
struct api_streams;
struct api_stream;
/* Streams of the engine E's hub, at most MAX_STREAMS at once; each checks
 * its token again in ST. */
struct api_streams *api_streams_new(struct api *a, struct engine *e, struct store *st,
                                    int max_streams);
/* Ends every stream and stops listening to the engine; before
 * MHD_stop_daemon() (which cannot stop with a connection suspended). */
void api_streams_close(struct api_streams *ss);
/* After MHD_stop_daemon(). */
void api_streams_free(struct api_streams *ss);
/* Once a second (the sweeper): keep-alives due, tokens to check again. */
void api_streams_tick(struct api_streams *ss);
/* A token was revoked: every stream checks its own at the next tick. */
void api_streams_tokens_changed(struct api_streams *ss);
guint api_streams_count(struct api_streams *ss);
/* The reply for stream S (taken), or NULL (S freed). */
struct MHD_Response *api_stream_response(struct api_stream *s);
void api_stream_free(struct api_stream *s);
struct api_streams *req_streams(struct req *r);
/* server.c: a stream's connection is sending (the client must take what
 * it is sent within body_timeout) or waiting for news (no deadline). */
void api_stream_phase(struct api *a, struct MHD_Connection *conn, bool sending);

/* rows-json.c: the model to JSON at the API edge */
json_object *api_row_json(const struct row_desc *d, const void *row);
/* The same object written to OUT as JSON text, without a json-c tree (a
 * list of 10 000 rows is 10 000 times cheaper to write this way);
 * FIELDS (names D has, NULL for all) selects and orders the members. */
void api_row_write(GString *out, const struct row_desc *d, const void *row,
                   const char *const *fields);
/* S as a JSON string literal. */
void api_json_string(GString *out, const char *s);
/* An event or an incident of the engine's written as the row the store
 * gives back for it (GET /events, GET /incidents). */
void api_event_write(GString *out, const struct event *ev);
void api_incident_write(GString *out, const struct incident *inc);
json_object *api_rows_array(const struct rows *r);
json_object *api_rows_json(const struct rows *r);
json_object *api_view_json(const struct vm_view *v, int64_t now_us);
struct store_series_result;
struct series_kind;
json_object *api_series_json(const struct series_kind *kind, const struct store_series_result *r);
/* The same as columns (format=columns): one "t" array of epoch seconds,
 * the union of the lines' times, and per line a "v" array aligned on it
 * (null where the line has no point). */
json_object *api_series_columns_json(const struct series_kind *kind,
                                     const struct store_series_result *r);
json_object *api_action_result_json(const struct action_result *res, int64_t audit_id);
/* A request body checked against the action's parameter table; false with
 * *ret_detail ("field: problem", g_free) when it does not fit. */
bool api_action_request(enum action_kind kind, json_object *params, struct action_request *ret,
                        char **ret_detail);
/* Whether V, a body member, fits parameter P (its type, its bounds);
 * false with *ret_detail ("name: problem", g_free) when not.  The check
 * of api_action_request(), for bodies with a table of their own. */
bool api_param_check(const struct action_param_spec *p, json_object *v, char **ret_detail);
