/*
 * cli: what the kanri command-line tool's parts share — the parsed
 * options, the connection to kanrid's REST API and small JSON and output
 * helpers.  The tool is one short-lived process, so these are globals set
 * once by main() before any command runs.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>

#include "cli/format.h"
#include "cli/http.h"

/* json-c's json_object is a plain struct typedef; json_object_put drops a
 * reference (its result only says whether the object was freed). */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

#define CLI_DEFAULT_URL     "http://127.0.0.1:8470"
#define CLI_DEFAULT_TIMEOUT 30

/* Every option of every level; GOptionEntry tables point into this.
 * Integers default to -1 meaning "not given". */
struct cli_options {
    /* global */
    char *url;
    char *token;
    gint timeout;
    char *cacert; /* --cacert FILE */
    char *pin;    /* --pin sha256//BASE64 */
    gboolean json;
    char *output;      /* --output table|json|yaml */
    gboolean yaml;     /* --output yaml: what --json prints, as YAML */
    char *context;     /* --context NAME (config.c) */
    gboolean no_pager; /* --no-pager */
    char *token_file;  /* context set --token-file */
    gboolean version;
    /* per verb */
    char *host;
    char *vm;
    gint limit;
    gint wait; /* kanri ready --wait */
    gboolean diff;
    gboolean force;
    gint shutdown_timeout;
    gboolean config;
    gboolean offline;
    gboolean xml;
    char *description;
    char *role;
    char *since;        /* vm stats --since */
    char *name;         /* agent enroll --name */
    gboolean open_only; /* findings --open */
    char *rule;         /* findings --rule */
    /* the operations record (commands-ops.c) */
    char *item;     /* --item ID */
    char *kind;     /* events --kind, rules set --kind */
    char *severity; /* a minimum for lists; the rule's for rules set */
    gint incident;  /* events --incident N */
    char *state;    /* incidents --state, problems --state */
    char *comment;  /* -m: acknowledge and resolve comments */
    char *title;    /* problems */
    char *root_cause;
    char *known_error;
    char *workaround;
    char *from;     /* maintenance add --from */
    char *to;       /* maintenance add --to */
    char *for_time; /* maintenance add --for, rules set --for */
    char *why;      /* maintenance add --why */
    char *metric;   /* rules set */
    char *view;
    char *op;
    char *value;
    char *scope;
    gboolean disabled;
    /* policies (commands-policy.c) */
    char *policy;  /* decisions --policy */
    gboolean all;  /* decisions --all: also the decisions without an action */
    /* containers (commands-ct.c): as given, parsed by the command */
    char *template;      /* ct create --template */
    char *ct_memory;     /* --memory SIZE */
    char *ct_cpus;       /* --cpus N.N */
    char *ct_cpu_weight; /* --cpu-weight W */
    char *ct_pids;       /* --pids N */
    gboolean start;      /* ct create --start */
    /* provisioning (commands-provision.c) */
    char *pool;        /* --pool POOL */
    gint tmpl_version; /* --version N of a template */
    gint vcpus;        /* vm create --vcpus */
    char *disk_size;   /* vm create --disk-size SIZE */
    gboolean full;     /* vm create --full */
    gboolean no_start; /* vm create --no-start */
    char *user_data; /* vm create --user-data FILE */
    char *ssh_key;   /* vm create --ssh-key FILE */
    /* reports (commands-report.c) */
    char *group;  /* report --group */
    char *slo;    /* report --slo PERCENT */
    char *format; /* report --format json|csv|html */
    char *history, *horizon, *step; /* report capacity */
    char *like;                     /* report capacity --like VM */
    char *remove_host;              /* report capacity --remove HOST */
    gint add;                       /* report capacity --add N */
    /* change requests */
    char **change_vms;     /* change create --vm (repeated) */
    char **change_actions; /* change create --action (repeated) */
    char *risk;
    gboolean canary;
    gint batch;
    gint guest_fresh;   /* --guest-fresh SECONDS */
    gint check_timeout; /* --check-timeout SECONDS */
    /* positional arguments, in order, including the noun and verb words */
    char **args;
};

extern struct cli_options cli_opts;

struct cli_verb;

/* The command being run, for messages ("kanri vm setmem"). */
extern const struct cli_verb *cli_current;
const char *cli_command_name(void);

/* Prints "kanri: <msg>" and the hint to --help for the current command to
 * stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Adds --timeout and --force to a shutdown's PARAMS and gives the request
 * the time it may take; false (a usage error said) for a bad --timeout. */
struct json_object;
bool cli_shutdown_params(struct json_object *params);

/* Prints "kanri: <msg>" to stderr. */
void cli_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Resolves URL, token, timeout, CA file and pinned key from options,
 * environment and the local admin token file.  Returns CLI_EXIT_OK or an
 * exit code after printing. */
int api_setup(void);

/* Lets one request wait at least this long (a graceful shutdown can take
 * its whole timeout before the server answers). */
void api_extend_timeout(guint seconds);

/* Sends METHOD /api/v1<path> (path already escaped) with an optional JSON
 * body.  On 2xx stores the parsed reply in *ret (NULL for an empty 204) and
 * returns CLI_EXIT_OK; otherwise prints the error (the problem+json's title
 * and detail) and returns the exit code. */
int api_request(const char *method, const char *path, struct json_object *body,
                struct json_object **ret);
/* GET PATH whose reply is not JSON (CSV, HTML): on 2xx writes its body to
 * standard output; otherwise prints the error and returns the exit code. */
int api_get_text(const char *path);

/* GET /api/v1<path> that reports instead of printing: CLI_EXIT_OK once
 * the server answered anything, with its status and the problem's detail
 * (g_free) in the return parameters; otherwise the exit code of the
 * transfer error, with its message in *ret_detail. */
int api_probe(const char *path, int *ret_status, char **ret_detail);

/* Appends "?KEY=VALUE" to path, or "&KEY=VALUE" when it has a query
 * already; VALUE is percent-encoded. */
void cli_query_add(GString *path, const char *key, const char *value);

/* Runs a GET that returns {"KEY": [...]}; sets *ret_list (borrowed from
 * *ret_reply).  Returns CLI_EXIT_OK, an exit code, or -1 when --json has
 * printed the reply already; cli_done() turns that into CLI_EXIT_OK. */
int cli_get_list(const char *path, const char *key, struct json_object **ret_reply,
                 struct json_object **ret_list);
int cli_done(int r);

/* Prints a secret the server shows only once: the reply under --json, else
 * the note (FMT) on stderr and the reply's "token" alone on stdout. */
int cli_print_token(struct json_object *reply, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Prints a table to standard output. */
void print_table(struct table *t);

/* Prints obj pretty-printed (the --json output). */
void print_json(struct json_object *obj);

/* JSON accessors that never fail: a missing key, JSON null or wrong type
 * gives NULL / false. */
const char *jstr(struct json_object *obj, const char *key);
bool jint(struct json_object *obj, const char *key, gint64 *ret);
bool jbool(struct json_object *obj, const char *key, bool *ret);
struct json_object *jarray(struct json_object *obj, const char *key);
struct json_object *jobject(struct json_object *obj, const char *key);

/* Table cell helpers: "-" when the value is missing. */
void cell_int(struct table *t, struct json_object *obj, const char *key);
void cell_size(struct table *t, struct json_object *obj, const char *key);
void cell_bool(struct table *t, struct json_object *obj, const char *key);

/* "Label:  value" lines with the values aligned, like virsh dominfo. */
struct kv;
struct kv *kv_new(void);
void kv_add(struct kv *kv, const char *label, const char *value);
void kv_addf(struct kv *kv, const char *label, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
void kv_print_free(struct kv *kv);

/* The verbs; args are the positional arguments after the verb. */
int cmd_server(const struct cli_verb *v, char **args, guint n);
int cmd_host_list(const struct cli_verb *v, char **args, guint n);
int cmd_host_show(const struct cli_verb *v, char **args, guint n);
int cmd_vm_list(const struct cli_verb *v, char **args, guint n);
int cmd_vm_show(const struct cli_verb *v, char **args, guint n);
int cmd_vm_action(const struct cli_verb *v, char **args, guint n);
int cmd_vm_shutdown(const struct cli_verb *v, char **args, guint n);
int cmd_vm_setmem(const struct cli_verb *v, char **args, guint n);
int cmd_vm_setvcpus(const struct cli_verb *v, char **args, guint n);
int cmd_vm_migrate(const struct cli_verb *v, char **args, guint n);
int cmd_vm_define(const struct cli_verb *v, char **args, guint n);
int cmd_snapshot_list(const struct cli_verb *v, char **args, guint n);
int cmd_snapshot_create(const struct cli_verb *v, char **args, guint n);
int cmd_snapshot_revert(const struct cli_verb *v, char **args, guint n);
int cmd_snapshot_delete(const struct cli_verb *v, char **args, guint n);
int cmd_changes(const struct cli_verb *v, char **args, guint n);
/* commands-reconcile.c */
int cmd_findings(const struct cli_verb *v, char **args, guint n);
/* commands-policy.c */
/* Sends the request; under --json prints the reply.  *ret_done: the caller
 * has nothing more to print (an error, or --json).  Returns the exit
 * status (commands.c). */
int cli_ask(const char *method, const char *path, struct json_object *body,
            struct json_object **ret, bool *ret_done);

int cmd_machine_list(const struct cli_verb *v, char **args, guint n);
int cmd_machine_show(const struct cli_verb *v, char **args, guint n);
int cmd_machine_stats(const struct cli_verb *v, char **args, guint n);
int cmd_ha_status(const struct cli_verb *v, char **args, guint n);
int cmd_cluster_status(const struct cli_verb *v, char **args, guint n);
int cmd_ha_set(const struct cli_verb *v, char **args, guint n);
int cmd_ha_fenced(const struct cli_verb *v, char **args, guint n);
int cmd_policy_list(const struct cli_verb *v, char **args, guint n);
int cmd_policy_show(const struct cli_verb *v, char **args, guint n);
int cmd_policy_set(const struct cli_verb *v, char **args, guint n);
int cmd_policy_reset(const struct cli_verb *v, char **args, guint n);
int cmd_policy_resume(const struct cli_verb *v, char **args, guint n);
int cmd_policy_simulate(const struct cli_verb *v, char **args, guint n);
int cmd_decisions(const struct cli_verb *v, char **args, guint n);
int cmd_host_maintenance(const struct cli_verb *v, char **args, guint n);
/* commands-fleet.c */
int cmd_fleet(const struct cli_verb *v, char **args, guint n);
/* Prints the "Reconciled" section of `vm show` for VM (a note when there
 * is none; the server's message goes to stderr). */
void cli_print_reconciled(const char *vm);
int cmd_audit(const struct cli_verb *v, char **args, guint n);
int cmd_token_create(const struct cli_verb *v, char **args, guint n);
int cmd_token_list(const struct cli_verb *v, char **args, guint n);
int cmd_token_revoke(const struct cli_verb *v, char **args, guint n);
int cmd_pool_list(const struct cli_verb *v, char **args, guint n);
int cmd_agent_enroll(const struct cli_verb *v, char **args, guint n);
int cmd_agent_list(const struct cli_verb *v, char **args, guint n);
int cmd_network_list(const struct cli_verb *v, char **args, guint n);
int cmd_vm_stats(const struct cli_verb *v, char **args, guint n);
int cmd_ready(const struct cli_verb *v, char **args, guint n);
/* commands-ops.c: the operations record */
int cmd_events(const struct cli_verb *v, char **args, guint n);
int cmd_incident_list(const struct cli_verb *v, char **args, guint n);
int cmd_incident_show(const struct cli_verb *v, char **args, guint n);
int cmd_incident_ack(const struct cli_verb *v, char **args, guint n);
int cmd_incident_resolve(const struct cli_verb *v, char **args, guint n);
int cmd_incident_comment(const struct cli_verb *v, char **args, guint n);
int cmd_incident_link(const struct cli_verb *v, char **args, guint n);
int cmd_problem_list(const struct cli_verb *v, char **args, guint n);
int cmd_problem_show(const struct cli_verb *v, char **args, guint n);
int cmd_problem_create(const struct cli_verb *v, char **args, guint n);
int cmd_problem_update(const struct cli_verb *v, char **args, guint n);
int cmd_maintenance_list(const struct cli_verb *v, char **args, guint n);
int cmd_maintenance_add(const struct cli_verb *v, char **args, guint n);
int cmd_maintenance_delete(const struct cli_verb *v, char **args, guint n);
int cmd_rule_list(const struct cli_verb *v, char **args, guint n);
int cmd_rule_set(const struct cli_verb *v, char **args, guint n);
int cmd_rule_delete(const struct cli_verb *v, char **args, guint n);
int cmd_relations(const struct cli_verb *v, char **args, guint n);
int cmd_impact(const struct cli_verb *v, char **args, guint n);
/* commands-ct.c: containers */
int cmd_ct_list(const struct cli_verb *v, char **args, guint n);
int cmd_ct_create(const struct cli_verb *v, char **args, guint n);
/* commands-report.c: reports and the VMs' tags */
/* pager.c: whether to colour standard output (a terminal, NO_COLOR unset
 * or empty, TERM not dumb), and TEXT written to it, through the pager
 * ($KANRI_PAGER, $PAGER, else less) when it is a terminal the text does
 * not fit and --no-pager was not given. */
bool cli_color(void);
void cli_page(const char *text);

/* config.c: the per-user configuration file's contexts */
struct cli_context {
    char *name; /* NULL: no context */
    char *url, *token_file, *cacert, *pin;
};
char *cli_config_path(void);
/* The context in use: --context, $KANRI_CONTEXT or the file's current one
 * (none is no error).  CLI_EXIT_OK, or a usage error said. */
int cli_context_load(struct cli_context *ret);
void cli_context_clear(struct cli_context *c);
int cmd_context_list(const struct cli_verb *v, char **args, guint n);
int cmd_context_use(const struct cli_verb *v, char **args, guint n);
int cmd_context_set(const struct cli_verb *v, char **args, guint n);
int cmd_context_delete(const struct cli_verb *v, char **args, guint n);

int cmd_report_availability(const struct cli_verb *v, char **args, guint n);
int cmd_report_capacity(const struct cli_verb *v, char **args, guint n);
int cmd_vm_tag(const struct cli_verb *v, char **args, guint n);
int cmd_tags(const struct cli_verb *v, char **args, guint n);
/* commands-provision.c: templates and VMs made from them */
int cmd_template_list(const struct cli_verb *v, char **args, guint n);
int cmd_template_show(const struct cli_verb *v, char **args, guint n);
int cmd_template_create(const struct cli_verb *v, char **args, guint n);
int cmd_template_delete(const struct cli_verb *v, char **args, guint n);
int cmd_vm_create(const struct cli_verb *v, char **args, guint n);
int cmd_change_list(const struct cli_verb *v, char **args, guint n);
int cmd_change_show(const struct cli_verb *v, char **args, guint n);
int cmd_change_create(const struct cli_verb *v, char **args, guint n);
int cmd_change_step(const struct cli_verb *v, char **args, guint n);
int cmd_ct_action(const struct cli_verb *v, char **args, guint n);
int cmd_ct_stop(const struct cli_verb *v, char **args, guint n);
int cmd_ct_limits(const struct cli_verb *v, char **args, guint n);
int cmd_ct_show(const struct cli_verb *v, char **args, guint n);

struct cli_verb {
    const char *noun;
    const char *name; /* NULL for a noun that is a command by itself ("changes") */
    const char *args; /* positional arguments for the usage line */
    guint min_args;
    guint max_args;
    const char *summary;
    const char *description; /* more help text after the options, or NULL */
    const GOptionEntry *entries;
    int (*run)(const struct cli_verb *v, char **args, guint n);
    /* The verb a noun runs when given without one ("kanri incidents" is
     * "kanri incidents list"); at most one per noun. */
    bool implied;
};
