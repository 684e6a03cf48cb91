/*
 * model/event: the operations record's value types — events, incidents,
 * maintenance windows, notification routes and the deliveries queued for
 * them.  src/ops/ decides (pure functions over these), the engine gathers
 * the facts and the store keeps what it is told.
 *
 * Items.  Everything an event is about is a configuration item, named by
 * one text id: "vm:UUID", "host:NAME", "pool:HOST/NAME",
 * "network:HOST/NAME", "agent:MACHINE-UUID" or "kanrid".  An item's
 * host is the name of the host it lives on (NULL for a host itself, an
 * agent outside any VM, and kanrid).
 *
 * Ownership: every char * and container in these structs is owned by the
 * struct and freed by its _clear/_free function.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

enum severity { SEV_INFO, SEV_WARNING, SEV_MAJOR, SEV_CRITICAL, SEV_N };

const char *severity_name(enum severity s); /* "info", "warning", "major", "critical" */
/* False for anything else. */
bool severity_parse(const char *text, enum severity *ret);

/* An item affected by an incident (a VM on a lost host, on a full pool). */
struct item_ref {
    char *item;
    char *name;
};

struct item_ref *item_ref_new(const char *item, const char *name);
void item_ref_free(struct item_ref *r);
GPtrArray *item_refs_new(void); /* of struct item_ref *, with the free function */
/* A deep copy: an event given to another thread owns all it holds. */
GPtrArray *item_refs_copy(const GPtrArray *refs);

/*
 * One thing that happened.  An event with a CONDITION reports that
 * condition true (problem) or false again (recovery) on its item; the
 * incidents are kept per (condition, item).  An event without one is a
 * fact for the record only (a VM started by a person, an action that
 * failed).
 */
struct event {
    int64_t id; /* assigned when stored (ops_state.next_event_id) */
    int64_t t_us;
    char *item, *item_name, *host;
    char *kind;      /* "vm.destroyed", "host.unreachable", "rule.breach", ... */
    char *condition; /* NULL: a fact; else e.g. "vm-down", "host-unreachable", "rule/NAME" */
    bool problem;    /* with a condition: true while it holds, false when it cleared */
    enum severity severity;
    char *message;
    /* Items hit when this problem holds (the VMs on a host, on a pool);
     * NULL or empty: only the event's own item. */
    GPtrArray *affected; /* struct item_ref * */
    /* A recovery of everything open on the item: it no longer exists. */
    bool gone;
    /* Kept only if it counted in an incident: a recovery sent in case one
     * is open (a first report after a restart), not worth a row if not. */
    bool only_if_incident;

    /* What the operations record decided (ops_apply). */
    int64_t incident_id;    /* the incident it was counted in; 0: none */
    int64_t maintenance_id; /* inside this maintenance window; 0: none */
};

struct event *event_new(int64_t t_us, const char *item, const char *item_name, const char *host,
                        const char *kind, const char *condition, bool problem,
                        enum severity severity, const char *message);
void event_free(struct event *ev);
/* A copy of EV without its affected items (NULL). */
struct event *event_copy_bare(const struct event *ev);

enum incident_state { INCIDENT_OPEN, INCIDENT_ACKNOWLEDGED, INCIDENT_RESOLVED };

const char *incident_state_name(enum incident_state s); /* "open", "acknowledged", "resolved" */
bool incident_state_parse(const char *text, enum incident_state *ret);

struct incident {
    int64_t id;
    char *condition, *item, *item_name, *host;
    enum severity severity;
    enum incident_state state;
    char *title; /* the message of the event that opened (or reopened) it */
    int64_t opened_us, updated_us, acknowledged_us, resolved_us;
    char *acknowledged_by, *resolved_by;
    /* The condition cleared at this time and the incident waits out the
     * hysteresis before it resolves; 0: not clearing. */
    int64_t clear_since_us;
    int64_t last_event_us;
    unsigned flaps;      /* reopened this many times */
    unsigned n_events;   /* events counted in it */
    unsigned seq;        /* transitions so far: a delivery's key is (id, seq) */
    int64_t problem_id;  /* 0: none */
    GPtrArray *affected; /* struct item_ref *, the item itself excluded */
};

struct incident *incident_new(void);
void incident_free(struct incident *inc);
struct incident *incident_copy(const struct incident *inc);
/* A copy of INC whose affected list is empty. */
struct incident *incident_copy_bare(const struct incident *inc);
/* Adds ITEM to the affected list unless it is there (or is the incident's
 * own item); true when added. */
bool incident_add_affected(struct incident *inc, const char *item, const char *name);

/* What happened to an incident; each is one notification's occasion. */
enum incident_transition {
    IT_OPENED,
    IT_ESCALATED, /* its severity rose */
    IT_ACKNOWLEDGED,
    IT_RESOLVED,
    IT_REOPENED,
    IT_N
};

const char *incident_transition_name(enum incident_transition t);

struct incident_change {
    int64_t incident_id;
    enum incident_transition what;
    int64_t at_us;
    unsigned seq;  /* the incident's seq after this transition */
    bool notify;   /* false inside a maintenance window */
    char *by;      /* the person, for acknowledge and resolve; NULL: kanri */
    char *comment; /* NULL: none */
};

void incident_change_clear(struct incident_change *c);

/* A maintenance window: events of items in SCOPE between FROM and TO are
 * recorded but open no incident and notify nobody. */
struct maintenance {
    int64_t id;
    char *scope; /* ops/scope.h */
    int64_t from_us, to_us;
    char *who, *why;
    int64_t created_us;
};

void maintenance_free(struct maintenance *m);
struct maintenance *maintenance_copy(const struct maintenance *m);

/* A problem: the common cause behind recurring incidents. */
struct problem {
    int64_t id;
    char *title;
    char *state; /* "open" | "known-error" | "closed" */
    char *root_cause, *known_error, *workaround;
    bool suggested;         /* kanri suggested it (recurrences), no person created it */
    char *condition, *item; /* of the recurrences it was suggested for; NULL otherwise */
    int64_t created_us, updated_us;
    char *created_by;
};

void problem_free(struct problem *p);

/* One delivery waiting in the outbox. */
struct delivery {
    int64_t id;
    char *route;
    char *key; /* "kanri-INCIDENT-SEQ": the same for every retry */
    int64_t incident_id;
    char *payload; /* JSON text */
    int64_t created_us, next_try_us;
    unsigned attempts;
};

void delivery_clear(struct delivery *d);

/* An alert rule (docs/operations.md, "Rules"). */
enum rule_kind {
    RULE_THRESHOLD,   /* METRIC of VIEW compared with VALUE */
    RULE_POOL_FULL,   /* a pool fills up within VALUE hours at its current rate */
    RULE_MEMORY_TREND /* a VM's memory demand reaches its allocation within VALUE hours */
};

const char *rule_kind_name(enum rule_kind k); /* "threshold", "pool-full", "memory-trend" */
bool rule_kind_parse(const char *text, enum rule_kind *ret);

struct alert_rule {
    int64_t id;
    char *name;
    enum rule_kind kind;
    char *metric;   /* threshold: a metric of the view's history (series.h) */
    char *view;     /* threshold: "host" | "guest" | "reconciled" */
    char *op;       /* threshold: ">" | ">=" | "<" | "<=" */
    double value;   /* threshold: the limit; trends: hours */
    int64_t for_us; /* the breach (and its clearing) must last this long */
    enum severity severity;
    char *scope; /* ops/scope.h; "all" */
    bool enabled;
    char *origin; /* "conf" (kanri.conf, read-only over the API) | "api" */
    /* The engine's number for this definition: what it learned of the
     * rule's items (struct rule_track) belongs to one definition, so a
     * redefined rule starts afresh. */
    uint64_t serial;
};

struct alert_rule *alert_rule_new(void);
void alert_rule_free(struct alert_rule *r);
struct alert_rule *alert_rule_copy(const struct alert_rule *r);
typedef struct alert_rule alert_rule; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(alert_rule, alert_rule_free)

/* A notification route: incidents matching it are delivered to TARGET. */
struct notify_route {
    char *name;
    enum severity min_severity;
    char *conditions;      /* glob over the incident's condition; NULL: any */
    char *scope;           /* ops/scope.h; NULL: all */
    unsigned transitions;  /* bit (1 << IT_*) set: delivered; 0: every transition */
    char *type;            /* "webhook" | "command" | "syslog" */
    char *target;          /* the URL, or the command line; NULL for syslog */
    unsigned rate_per_min; /* deliveries a minute at most; 0: no limit */
    int timeout_s;
    bool reports; /* the scheduled reports are delivered too (docs/reports.md) */
};

void notify_route_free(struct notify_route *r);
struct notify_route *notify_route_copy(const struct notify_route *r);
