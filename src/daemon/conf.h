/*
 * conf: kanrid's configuration (kanri.conf(5)), a GKeyFile INI file.
 * kanrid's own: the libraries below the daemon take their settings as
 * plain structs (engine_conf, virt_conf) filled from this.
 *
 * conf_load_data() checks every group and key against a table of expected
 * fields and collects *all* problems as "LABEL:LINE: message" strings instead
 * of stopping at the first, so `kanrid --check-config` can report them in one
 * go.  Values that fail validation keep their defaults.
 *
 * Ownership: struct conf owns every string and the hypervisor array.
 */
#pragma once

#include <glib.h>

#include "model/event.h"
#include <stdbool.h>

#include "policy/ha.h"
#include "policy/policy.h"
#include "reconcile/reconcile.h"

#define CONF_DEFAULT_PORT    8470
#define CONF_MAX_HYPERVISORS 1024
#define CONF_MAX_BYTES       (1024 * 1024)

#define CONF_LXC_SCHEME      "liblxc://"
#define CONF_LXC_DEFAULT_URI "liblxc:///var/lib/lxc"

struct conf_hypervisor {
    char *name; /* from [hypervisor:NAME]; unique; the host's name in kanri */
    char *uri;
    /* "libvirt" or "lxc" (docs/containers.md); from the uri when not
     * given: liblxc:// is lxc, anything else libvirt. */
    char *driver;
    int keepalive_interval; /* seconds, 0 disables keepalive */
    int keepalive_count;
    int reconnect_min; /* seconds */
    int reconnect_max; /* seconds */
    /* High availability (docs/ha.md): the fence agent's command line
     * (NULL: none), the reachability probe ("none", "exec:COMMAND",
     * "tcp:HOST:PORT"; NULL: derived from the URI), and how long a fence
     * may take. */
    char *fence;
    char *probe;
    int fence_timeout; /* seconds */
    int line;          /* line of the group header, for messages; 0 for --connect */
};

struct conf {
    char *listen_host;               /* default 127.0.0.1 */
    int listen_port;                 /* default CONF_DEFAULT_PORT */
    char *state_dir;                 /* NULL: the caller picks the default */
    int resync_interval;             /* seconds between full inventory resyncs */
    char *log_level;                 /* error | warning | info | debug */
    int max_connections;             /* API connections at once */
    int max_connections_per_address; /* of them from one client address */
    char *tls;                       /* auto | on | off */
    char *tls_cert, *tls_key;        /* NULL: made in the state directory */
    int header_timeout;              /* s for a request's line and headers */
    int body_timeout;                /* s for its body */
    int max_streams;                 /* live streams (GET /api/v1/events/stream) at once */
    int stream_backlog;              /* messages the live stream keeps for resuming */
    char *store_backend;             /* "sqlite" */
    char *store_path;                /* NULL: STATE_DIR/kanri.db */
    char *store_url;                 /* backend = postgresql: its libpq URL */
    int64_t store_lease;             /* us: a host lease's time among instances on one store */
    char *store_api_url; /* where the other instances reach this one's API; NULL: guessed */
    GPtrArray *hypervisors;          /* of struct conf_hypervisor *, owned */

    /* Monitoring (docs/monitoring.md) */
    int collect_interval;    /* seconds between collection rounds; 0 disables collection */
    int collect_budget_ms;   /* 0: 80 % of the interval */
    int collect_connections; /* stats connections per host */
    int balloon_period;      /* seconds; 0: do not set it on domains */
    int agent_timeout;       /* seconds per guest-agent command */
    bool refresh_pools;      /* rescan storage pools every round (virt_conf) */
    int64_t retention_raw;   /* microseconds; 0 keeps forever */
    int64_t retention_5m;
    int64_t retention_1h;

    /* [reconcile]: the engine's tolerances and windows, "RULE.OPTION = value"
     * or a global option, each checked by reconcile_config_set(). */
    bool reconcile_enabled; /* the engine's reconciliation stage runs */
    struct reconcile_config reconcile;

    /* The operations record (docs/operations.md): [ops], [rule:NAME],
     * [route:NAME]. */
    int64_t ops_resolve_after;   /* µs a cleared condition waits before it resolves */
    int64_t ops_reopen_window;   /* µs within which a recurrence reopens */
    int ops_suggest_count;       /* recurrences that suggest a problem; 0: never */
    int64_t ops_suggest_window;
    int64_t ops_event_retention; /* µs; 0 keeps forever */
    int64_t ops_notify_give_up;  /* µs a failing delivery is retried */
    char *ops_finding_min;       /* findings of this severity and above open incidents */
    int64_t ops_agent_silent;    /* µs of silence after which a kanri-guestd is an incident */
    GPtrArray *rules;            /* struct alert_rule *, owned */
    GPtrArray *routes;           /* struct notify_route *, owned */

    /* Autonomic policies (docs/policies.md): [policy] enabled (the kill
     * switch), [policy:memory] and [policy:balance] (whose priority.VM,
     * affinity.GROUP and anti_affinity.GROUP keys fill the tables below). */
    bool policy_enabled;
    struct policy_memory_conf policy_memory;
    struct policy_balance_conf policy_balance;
    GHashTable *policy_priority;      /* VM name -> GINT_TO_POINTER(priority) */
    GHashTable *policy_affinity;      /* VM name -> group (g_free) */
    GHashTable *policy_anti_affinity; /* VM name -> group (g_free) */

    /* High availability (docs/ha.md): [ha] with vm.NAME (HA settings of a
     * VM) and group.NAME (the hosts an HA group may run on). */
    struct ha_conf ha;
    GHashTable *ha_vms;    /* VM name -> struct ha_vm_settings * */
    GHashTable *ha_groups; /* group name -> GStrv of host names */
    /* [reports] (docs/reports.md): scheduled reports written to
     * reports_dir (NULL: none), their SLO targets (fractions). */
    char *reports_dir;
    char *reports_schedule;   /* daily | weekly | monthly */
    unsigned reports_formats; /* REPORT_FORMAT_* bits */
    bool reports_capacity;
    double slo_default;     /* NaN: none */
    GHashTable *slo_groups; /* tag -> double * */
};

struct conf *conf_new(void);
void conf_free(struct conf *c);
typedef struct conf conf;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(conf, conf_free)

/* Parses DATA (named LABEL in messages) into C.  Appends one message per
 * problem to ERRORS (g_free'd strings) and returns how many it added. */
unsigned conf_load_data(struct conf *c, const char *data, size_t len, const char *label,
                        GPtrArray *errors);

/* Reads PATH and calls conf_load_data().  Returns the number of problems, or
 * -errno when the file cannot be read (a message is appended as well). */
int conf_load_file(struct conf *c, const char *path, GPtrArray *errors);

/* "ADDR:PORT", "[v6]:PORT" or ":PORT".  False on anything else. */
bool conf_parse_listen(const char *s, char **ret_host, int *ret_port);

/* Adds a connection given on the command line; its name is derived from the
 * URI (host part, "local" for qemu:///system, else the driver and path) and
 * made unique.  Returns the new entry. */
struct conf_hypervisor *conf_add_uri(struct conf *c, const char *uri);
/* H's driver, set from its uri when it had none; NULL when the driver
 * given does not go with the uri. */
const char *conf_hypervisor_driver(struct conf_hypervisor *h);

/* Derives a host name from a libvirt URI (see conf_add_uri). g_free. */
char *conf_name_from_uri(const char *uri);

/* What differs between two texts of a configuration file: "[GROUP] KEY"
 * for each key set, changed or removed, in file order (the new text's
 * keys, then the keys only the old had).  Texts that do not parse compare
 * as empty.  g_ptr_array_unref. */
GPtrArray *conf_changes(const char *old_text, const char *new_text);
