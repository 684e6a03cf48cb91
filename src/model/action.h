/*
 * model/action: the lifecycle actions kanri can ask a driver to perform,
 * as typed requests and results.
 *
 * One table (action_specs) names every action and its parameters with
 * their types and bounds.  The API checks a request body against it
 * (unknown parameters, types, ranges: src/api/) and hands the driver a
 * struct action_request; the engine's own actions (policies, upkeep) build
 * the same request directly.  A driver never sees untrusted text.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Who asks: a token's name and id (0 for kanrid itself). */
struct actor {
    const char *name;
    int64_t token_id;
};

enum action_kind {
    ACTION_START,
    ACTION_SHUTDOWN,
    ACTION_REBOOT,
    ACTION_DESTROY,
    ACTION_SUSPEND,
    ACTION_RESUME,
    ACTION_SETMEM,
    ACTION_SETVCPUS,
    ACTION_SNAPSHOT_CREATE,
    ACTION_SNAPSHOT_REVERT,
    ACTION_SNAPSHOT_DELETE,
    ACTION_MIGRATE,
    ACTION_UNDEFINE,
    ACTION_SET_BALLOON_PERIOD, /* kanrid's own upkeep; not offered by the API */
    ACTION_SET_LIMITS,         /* a container's control group limits */
    ACTION_N
};

#define ACTION_MAX_PARAMS 4

enum action_param_type { AP_INT, AP_BOOL, AP_STR };

struct action_param_spec {
    const char *name;
    enum action_param_type type;
    int64_t min, max; /* AP_INT: inclusive bounds; AP_STR: length 1..max */
    bool required;
};

struct action_spec {
    const char *name; /* as in POST /vms/{id}/actions/{name} */
    bool api;         /* offered by the API */
    struct action_param_spec params[ACTION_MAX_PARAMS + 1]; /* ends with a NULL name */
};

/* Indexed by enum action_kind. */
extern const struct action_spec action_specs[ACTION_N];

/* The action named NAME among those the API offers; false when unknown. */
bool action_lookup(const char *name, enum action_kind *ret);
/* ", "-separated names of the actions the API offers (static). */
const char *action_api_names(void);

/* Parameter values by their index in the spec; `set` false when absent. */
struct action_arg {
    bool set;
    int64_t i;
    bool b;
    char *s; /* owned */
};

struct action_request {
    enum action_kind kind;
    struct action_arg args[ACTION_MAX_PARAMS];
};

void action_request_init(struct action_request *req, enum action_kind kind);
void action_request_clear(struct action_request *req);
/* The argument named NAME (NULL when the action has no such parameter). */
const struct action_arg *action_arg(const struct action_request *req, const char *name);
/* Sets an argument by name; false when the action has no such parameter
 * (the value is not checked against the bounds: callers building a
 * request themselves use valid values). */
bool action_set_int(struct action_request *req, const char *name, int64_t v);
bool action_set_bool(struct action_request *req, const char *name, bool v);
bool action_set_str(struct action_request *req, const char *name, const char *v);
/* Convenience readers with a default for absent arguments. */
int64_t action_int(const struct action_request *req, const char *name, int64_t def);
bool action_bool(const struct action_request *req, const char *name, bool def);
const char *action_str(const struct action_request *req, const char *name);

/* What an action reports besides success.  Absent: ROW_INT_ABSENT-like
 * G_MININT64 for numbers, -1 for tri-states, NULL for strings. */
struct action_result {
    int forced;           /* shutdown destroyed the guest after the timeout */
    int64_t actual_bytes; /* setmem: where the balloon got */
    int reached;          /* setmem: whether it reached the target */
    char *snapshot;       /* snapshot-create: the snapshot's name */
    char *host;           /* migrate: the destination host's name */
    bool removed;         /* the domain no longer exists on its host afterwards */
};

void action_result_init(struct action_result *r);
void action_result_clear(struct action_result *r);
