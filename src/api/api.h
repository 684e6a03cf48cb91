/*
 * api: kanrid's HTTP server (REST API v1, the live stream and the web
 * dashboard's files), on libmicrohttpd: a few poll threads hold every
 * connection, handlers run on a worker pool (a slow one, for calls that
 * may wait on a hypervisor, apart), so a request blocked in a slow
 * hypervisor call never holds up another.  See docs/api.md for the
 * contract and src/api/server.c for the details.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "engine/engine.h"
#include "store/store.h"

#define API_MAX_BODY   (1024 * 1024)
#define API_JSON_DEPTH 32

/* Defaults of kanrid.conf's max_connections, max_connections_per_address,
 * header_timeout and body_timeout (kanri.conf(5)). */
#define API_DEFAULT_MAX_CONNECTIONS  10000
#define API_DEFAULT_MAX_PER_ADDRESS  1000
#define API_DEFAULT_HEADER_TIMEOUT_S 15
#define API_DEFAULT_BODY_TIMEOUT_S   60
/* Default of kanri.conf's max_streams: live streams at once. */
#define API_DEFAULT_MAX_STREAMS 256

struct api;

struct api_options {
    const char *listen_host;
    int listen_port;
    struct store *store;
    struct engine *engine;
    int max_connections;             /* 0: API_DEFAULT_MAX_CONNECTIONS */
    int max_connections_per_address; /* 0: API_DEFAULT_MAX_PER_ADDRESS */
    const char *tls_cert_pem;        /* with tls_key_pem: HTTPS only */
    const char *tls_key_pem;
    const char *tls_pin;       /* shown by GET /api/v1/server */
    const char *tls_cert_path; /* likewise */
    int header_deadline_s; /* 0: API_DEFAULT_HEADER_TIMEOUT_S */
    int body_deadline_s;   /* 0: API_DEFAULT_BODY_TIMEOUT_S; also for sending a reply */
    int max_streams;       /* live streams at once; 0: API_DEFAULT_MAX_STREAMS */
};

/* Starts listening.  NULL with *error when the address cannot be bound. */
struct api *api_start(const struct api_options *opts, GError **error);
/* Port actually bound (useful with port 0). */
int api_port(const struct api *a);
void api_stop(struct api *a);

/* Pure helpers, exposed for unit tests. */

/* HTTP status for a DRIVER_ERROR code. */
unsigned api_status_for_driver_error(int code);

/* Role ranks: viewer < operator < admin; "guest" tokens rank 0 (ingest
 * only).  -1 for unknown role names. */
int api_role_rank(const char *role);

/* Parses a request body as a JSON object within API_JSON_DEPTH; an empty
 * body gives an empty object.  NULL with *ret_detail (g_free) naming the
 * problem. */
struct json_object *api_parse_body(const char *data, size_t len, char **ret_detail);

/* When a message starts with "field: ", returns a copy of the field name
 * (g_free); else NULL. */
char *api_field_of_message(const char *msg);
