/*
 * kanri: the command-line client of kanrid.  Command words, options and
 * help for every level; the commands themselves are in commands.c.
 *
 * The command line is "kanri [GLOBAL...] NOUN [VERB] [ARGS...] [OPTIONS...]";
 * options may come anywhere.  The noun and verb are found first, then one
 * GOptionContext holding that verb's options and the global ones parses the
 * whole line, so "--help" at each level shows what that level accepts.
 */
#include "config.h"

#include "cli/cli.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cli_options cli_opts = {
    .timeout = CLI_DEFAULT_TIMEOUT,
    .limit = -1,
    .shutdown_timeout = -1,
    .incident = -1,
    .vcpus = -1,
    .check_timeout = -1,
};

const struct cli_verb *cli_current;
static const char *current_noun;

/* String options are G_OPTION_ARG_FILENAME so that names reach the server
 * byte for byte: GLib would otherwise convert them from the locale's
 * charset, and fail on a VM name that is not valid in it. */
static const GOptionEntry global_entries[] = {
    {"url", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.url,
     "Manager URL (default: $KANRI_URL, else " CLI_DEFAULT_URL ")", "URL"},
    {"token", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.token,
     "API token (default: $KANRI_TOKEN, else the local admin token)", "TOKEN"},
    {"timeout", 0, 0, G_OPTION_ARG_INT, &cli_opts.timeout,
     "Connect and read timeout in seconds (default 30)", "SECONDS"},
    {"cacert", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.cacert,
     "Trust the https server certified by this PEM file (default: $KANRI_CACERT)", "FILE"},
    {"pin", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.pin,
     "Trust the https server with this public key (default: $KANRI_PIN)", "sha256//BASE64"},
    {"json", 0, 0, G_OPTION_ARG_NONE, &cli_opts.json, "Print the server's JSON reply", NULL},
    {"output", 'o', 0, G_OPTION_ARG_STRING, &cli_opts.output,
     "table (default), json (the server's reply, as --json) or yaml (the same as YAML)", "FORMAT"},
    {"context", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.context,
     "Use this context of the configuration file (default: $KANRI_CONTEXT, else its current "
     "one; see kanri context)",
     "NAME"},
    {"no-pager", 0, 0, G_OPTION_ARG_NONE, &cli_opts.no_pager,
     "Do not page long tables on a terminal (default: through $KANRI_PAGER, $PAGER or less)", NULL},
    {"version", 0, 0, G_OPTION_ARG_NONE, &cli_opts.version, "Print the version and exit", NULL},
    {NULL},
};

static const GOptionEntry remaining_entry[] = {
    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &cli_opts.args, NULL, NULL},
    {NULL},
};

static const GOptionEntry context_set_entries[] = {
    {"token-file", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.token_file,
     "The file holding the token to use (kept in the context as an absolute path)", "FILE"},
    {NULL},
};

static const GOptionEntry host_filter_entries[] = {
    {"host", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.host, "Only those on this host", "HOST"},
    {NULL},
};

static const GOptionEntry vm_list_entries[] = {
    {"host", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.host, "Only those on this host", "HOST"},
    {"kind", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.kind,
     "Only virtual machines (vm) or only system containers (container)", "KIND"},
    {NULL},
};

static const GOptionEntry vm_show_entries[] = {
    {"xml", 0, 0, G_OPTION_ARG_NONE, &cli_opts.xml, "Print the domain XML instead", NULL},
    {NULL},
};

static const GOptionEntry shutdown_entries[] = {
    {"timeout", 0, 0, G_OPTION_ARG_INT, &cli_opts.shutdown_timeout,
     "Seconds to wait for the guest to power off (1-3600, default 60)", "SECONDS"},
    {"force", 0, 0, G_OPTION_ARG_NONE, &cli_opts.force,
     "Destroy the VM if it has not shut down in time", NULL},
    {NULL},
};

static const GOptionEntry config_entries[] = {
    {"config", 0, 0, G_OPTION_ARG_NONE, &cli_opts.config,
     "Also change the persistent configuration", NULL},
    {NULL},
};

static const GOptionEntry migrate_entries[] = {
    {"offline", 0, 0, G_OPTION_ARG_NONE, &cli_opts.offline,
     "Migrate without keeping the VM running (not live)", NULL},
    {NULL},
};

static const GOptionEntry snapshot_create_entries[] = {
    {"description", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.description,
     "Description stored with the snapshot", "TEXT"},
    {NULL},
};

static const GOptionEntry changes_entries[] = {
    {"limit", 0, 0, G_OPTION_ARG_INT, &cli_opts.limit, "Show at most N changes (default 100)", "N"},
    {"diff", 0, 0, G_OPTION_ARG_NONE, &cli_opts.diff, "Print each change's unified diff", NULL},
    {NULL},
};

static const GOptionEntry audit_entries[] = {
    {"vm", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.vm, "Only entries about this VM", "VM"},
    {"limit", 0, 0, G_OPTION_ARG_INT, &cli_opts.limit, "Show at most N entries", "N"},
    {NULL},
};

static const GOptionEntry token_create_entries[] = {
    {"role", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.role,
     "The token's role: viewer, operator or admin (required)", "ROLE"},
    {NULL},
};

static const GOptionEntry agent_enroll_entries[] = {
    {"name", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.name,
     "A label for the agent (default: the VM's name, or the UUID)", "NAME"},
    {NULL},
};

static const GOptionEntry findings_entries[] = {
    {"open", 0, 0, G_OPTION_ARG_NONE, &cli_opts.open_only, "Only findings open now", NULL},
    {"vm", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.vm, "Only findings about this VM", "VM"},
    {"rule", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.rule,
     "Only findings of this rule (docs/reconciliation.md)", "RULE"},
    {"limit", 0, 0, G_OPTION_ARG_INT, &cli_opts.limit, "Show at most N findings (default 100)",
     "N"},
    {NULL},
};

static const GOptionEntry ready_entries[] = {
    {"wait", 0, 0, G_OPTION_ARG_INT, &cli_opts.wait,
     "Wait up to SECONDS for kanrid to be ready (default 0: just ask)", "SECONDS"},
    {NULL},
};

static const GOptionEntry stats_entries[] = {
    {"since", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.since,
     "How far back: a duration (30m, 1h, 7d) or a time (RFC 3339); default 1h", "WHEN"},
    {NULL},
};

/* ---- the operations record ---- */

#define SEVERITY_WORDS "info, warning, major or critical"

static const GOptionEntry events_entries[] = {
    {"item", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.item,
     "Only events of this item (vm:UUID, host:NAME, pool:HOST/NAME, network:HOST/NAME)", "ID"},
    {"kind", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.kind,
     "Only events of this kind, or of kinds starting with it when it ends in '.' (vm.)", "KIND"},
    {"severity", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.severity,
     "Only events this severe or more: " SEVERITY_WORDS, "SEVERITY"},
    {"since", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.since,
     "How far back: a duration (30m, 2h, 7d) or a time (RFC 3339)", "WHEN"},
    {"incident", 0, 0, G_OPTION_ARG_INT, &cli_opts.incident, "Only events of incident N", "N"},
    {"limit", 0, 0, G_OPTION_ARG_INT, &cli_opts.limit, "Show at most N events", "N"},
    {NULL},
};

static const GOptionEntry incident_list_entries[] = {
    {"state", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.state,
     "open (default: open or acknowledged), acknowledged, resolved or all", "STATE"},
    {"severity", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.severity,
     "Only incidents this severe or more: " SEVERITY_WORDS, "SEVERITY"},
    {"item", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.item, "Only incidents of this item", "ID"},
    {"limit", 0, 0, G_OPTION_ARG_INT, &cli_opts.limit, "Show at most N incidents", "N"},
    {NULL},
};

static const GOptionEntry comment_entries[] = {
    {"message", 'm', 0, G_OPTION_ARG_FILENAME, &cli_opts.comment,
     "A comment for the incident's log", "COMMENT"},
    {NULL},
};

/* problems create and update take the same fields. */
static const GOptionEntry problem_entries[] = {
    {"title", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.title, "What the problem is", "TEXT"},
    {"root-cause", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.root_cause, "Its root cause, once known",
     "TEXT"},
    {"known-error", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.known_error,
     "The known error: the fault and its symptoms, as recorded for the next time", "TEXT"},
    {"workaround", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.workaround,
     "What to do when it happens again", "TEXT"},
    {"state", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.state, "open, known-error or closed", "STATE"},
    {NULL},
};

static const GOptionEntry maintenance_add_entries[] = {
    {"from", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.from,
     "When the window starts, RFC 3339 (default: now)", "TIME"},
    {"to", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.to, "When it ends, RFC 3339", "TIME"},
    {"for", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.for_time,
     "How long it lasts from its start (30m, 2h, 1d)", "DURATION"},
    {"why", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.why, "The reason, for the record (required)",
     "TEXT"},
    {NULL},
};

static const GOptionEntry host_maintenance_entries[] = {
    {"why", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.why, "The reason, for the record", "TEXT"},
    {NULL},
};

static const GOptionEntry simulate_entries[] = {
    {"from", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.from,
     "Start of the history to replay: RFC 3339, epoch seconds, or a duration ago (24h) "
     "(required)",
     "TIME"},
    {"to", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.to, "Its end (default: now)", "TIME"},
    {"host", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.host, "Only this host's history", "HOST"},
    {NULL},
};

static const GOptionEntry decisions_entries[] = {
    {"vm", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.vm, "Only decisions about this VM", "VM"},
    {"host", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.host, "Only decisions on this host", "HOST"},
    {"policy", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.policy,
     "Only this policy's: memory, balance or maintenance", "NAME"},
    {"all", 0, 0, G_OPTION_ARG_NONE, &cli_opts.all,
     "Also the decisions to do nothing (missing views, no slack, guards)", NULL},
    {"since", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.since,
     "Only decisions since TIME (RFC 3339, epoch seconds or a duration ago)", "TIME"},
    {"limit", 0, 0, G_OPTION_ARG_INT, &cli_opts.limit, "Show at most N decisions (default 100)",
     "N"},
    {NULL},
};

/* ---- provisioning ---- */

static const GOptionEntry template_create_entries[] = {
    {"from", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.from,
     "The shut-off VM to make it of (required)", "VM"},
    {"pool", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.pool,
     "Storage pool for its images (default: the pool of the VM's first disk)", "POOL"},
    {NULL},
};

static const GOptionEntry template_show_entries[] = {
    {"version", 0, 0, G_OPTION_ARG_INT, &cli_opts.tmpl_version,
     "That version (default: the newest)", "N"},
    {"xml", 0, 0, G_OPTION_ARG_NONE, &cli_opts.xml, "Print its domain XML instead", NULL},
    {NULL},
};

static const GOptionEntry vm_create_entries[] = {
    {"template", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.template,
     "The template to make it from (required)", "T"},
    {"version", 0, 0, G_OPTION_ARG_INT, &cli_opts.tmpl_version,
     "That version of the template (default: the newest)", "N"},
    {"host", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.host,
     "Host to create it on (default: the one with the most memory left that sees the "
     "template's images)",
     "HOST"},
    {"pool", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.pool,
     "Storage pool for its disks (default: the template's)", "POOL"},
    {"vcpus", 0, 0, G_OPTION_ARG_INT, &cli_opts.vcpus, "Virtual CPUs (default: the template's)",
     "N"},
    {"memory", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.ct_memory,
     "Memory: 512M, 2G (a plain number is MiB; default: the template's)", "SIZE"},
    {"disk-size", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.disk_size,
     "Grow the first disk to SIZE (default: the template's)", "SIZE"},
    {"full", 0, 0, G_OPTION_ARG_NONE, &cli_opts.full,
     "Full copies of the template's images instead of linked clones", NULL},
    {"no-start", 0, 0, G_OPTION_ARG_NONE, &cli_opts.no_start, "Only define it; do not start it",
     NULL},
    {"user-data", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.user_data,
     "cloud-init user data for its NoCloud seed (a CD-ROM made and attached)", "FILE"},
    {"ssh-key", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.ssh_key,
     "SSH public keys (one per line) for its NoCloud seed", "FILE"},
    {NULL},
};

static const GOptionEntry change_list_entries[] = {
    {"state", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.state,
     "Only those in STATE (draft, submitted, approved, scheduled, running, done, ...)", "STATE"},
    {NULL},
};

static const GOptionEntry change_create_entries[] = {
    {"vm", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &cli_opts.change_vms,
     "A VM it changes (repeat for a group, in rollout order)", "VM"},
    {"action", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &cli_opts.change_actions,
     "An action and its parameters, e.g. 'setmem memory=2G' (repeat; @FILE for a file's text)",
     "'NAME KEY=VALUE...'"},
    {"why", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.why, "The reason, for the record (required)",
     "TEXT"},
    {"risk", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.risk, "low, medium (default) or high", "RISK"},
    {"from", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.from,
     "Its window opens at TIME (RFC 3339 or epoch seconds; default: now)", "TIME"},
    {"to", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.to, "Its window closes at TIME (default: never)",
     "TIME"},
    {"canary", 0, 0, G_OPTION_ARG_NONE, &cli_opts.canary, "The first VM alone first", NULL},
    {"batch", 0, 0, G_OPTION_ARG_INT, &cli_opts.batch,
     "VMs per batch after the canary (default: all at once)", "N"},
    {"guest-fresh", 0, 0, G_OPTION_ARG_INT, &cli_opts.guest_fresh,
     "Check: each VM's guest view at most SECONDS old afterwards", "SECONDS"},
    {"check-timeout", 0, 0, G_OPTION_ARG_INT, &cli_opts.check_timeout,
     "How long the checks may take to pass (default 60)", "SECONDS"},
    {NULL},
};

/* ---- reports ---- */

static const GOptionEntry report_entries[] = {
    {"from", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.from,
     "Start of the period: RFC 3339, epoch seconds, or a duration ago (default 30d)", "TIME"},
    {"to", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.to, "Its end (default: now)", "TIME"},
    {"vm", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.vm, "Only this VM", "VM"},
    {"host", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.host, "Only the VMs on this host", "HOST"},
    {"group", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.group, "Only the VMs tagged TAG", "TAG"},
    {"slo", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.slo,
     "Judge the total by this target: error budget used and burn rate", "PERCENT"},
    {"format", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.format,
     "table (default), json, csv or html (a self-contained page)", "FORMAT"},
    {NULL},
};

static const GOptionEntry capacity_entries[] = {
    {"host", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.host, "Only this host", "HOST"},
    {"pool", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.pool, "Only the pools of this name", "POOL"},
    {"group", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.group, "Also the demand of the VMs tagged TAG",
     "TAG"},
    {"vcpus", 0, 0, G_OPTION_ARG_INT, &cli_opts.vcpus, "The size to fit: vCPUs (default 1)", "N"},
    {"memory", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.ct_memory, "... memory (default 1G)", "SIZE"},
    {"disk", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.disk_size, "... disk (default 10G)", "SIZE"},
    {"like", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.like,
     "The size of this VM, with what it demands instead of what it is given", "VM"},
    {"add", 0, 0, G_OPTION_ARG_INT, &cli_opts.add, "What-if: N VMs of the size added", "N"},
    {"remove", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.remove_host,
     "What-if: this host taken away, its VMs moved to the others", "HOST"},
    {"history", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.history,
     "How far back the forecasts learn from (default 90d)", "DURATION"},
    {"horizon", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.horizon,
     "How far ahead they look (default 30d)", "DURATION"},
    {"step", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.step,
     "Their step (default 1h over 2 days of history or more, else 5m)", "DURATION"},
    {"format", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.format,
     "table (default), json, csv or html (a self-contained page with charts)", "FORMAT"},
    {NULL},
};

static const GOptionEntry tags_entries[] = {
    {"tag", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.group, "Only the VMs tagged TAG", "TAG"},
    {"vm", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.vm, "Only this VM's tags", "VM"},
    {NULL},
};

/* ---- containers ---- */

static const GOptionEntry ct_create_entries[] = {
    {"template", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.template,
     "liblxc template for the root filesystem (default busybox)", "NAME"},
    {"memory", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.ct_memory,
     "Memory limit: 128M, 1G (a plain number is MiB)", "SIZE"},
    {"cpus", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.ct_cpus,
     "CPU quota in cores: 0.5 is half a core", "N.N"},
    {"cpu-weight", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.ct_cpu_weight,
     "CPU weight against other containers, 1 to 10000", "W"},
    {"pids", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.ct_pids,
     "Most processes the container may have", "N"},
    {"start", 0, 0, G_OPTION_ARG_NONE, &cli_opts.start, "Start the container once created", NULL},
    {NULL},
};

static const GOptionEntry ct_limits_entries[] = {
    {"memory", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.ct_memory,
     "Memory limit: 128M, 1G (a plain number is MiB); 0 removes it", "SIZE"},
    {"cpus", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.ct_cpus,
     "CPU quota in cores: 0.5 is half a core; 0 removes it", "N.N"},
    {"cpu-weight", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.ct_cpu_weight,
     "CPU weight against other containers, 1 to 10000; 0 removes it", "W"},
    {"pids", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.ct_pids,
     "Most processes the container may have; 0 removes the limit", "N"},
    {NULL},
};

static const GOptionEntry ct_stop_entries[] = {
    {"timeout", 0, 0, G_OPTION_ARG_INT, &cli_opts.shutdown_timeout,
     "Seconds to wait for the container to stop (1-3600, default 60)", "SECONDS"},
    {"force", 0, 0, G_OPTION_ARG_NONE, &cli_opts.force,
     "Kill the container if it has not stopped in time", NULL},
    {NULL},
};

static const GOptionEntry rule_set_entries[] = {
    {"kind", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.kind,
     "threshold, pool-full or memory-trend (required)", "KIND"},
    {"metric", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.metric,
     "threshold: the metric compared (cpu_busy, ...)", "METRIC"},
    {"view", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.view,
     "threshold: whose figure, host, guest or reconciled", "VIEW"},
    {"op", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.op, "threshold: >, >=, < or <=", "OP"},
    {"value", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.value,
     "threshold: the limit; pool-full and memory-trend: hours until full", "NUMBER"},
    {"for", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.for_time,
     "How long a breach (and its clearing) must last: 0, 90s, 5m, up to 7d", "DURATION"},
    {"severity", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.severity,
     "Severity of its incidents: " SEVERITY_WORDS, "SEVERITY"},
    {"scope", 0, 0, G_OPTION_ARG_FILENAME, &cli_opts.scope,
     "Which items it watches: all, host:NAME, vm:GLOB, pool:GLOB or item:ID", "SCOPE"},
    {"disabled", 0, 0, G_OPTION_ARG_NONE, &cli_opts.disabled,
     "Store the rule without evaluating it", NULL},
    {NULL},
};

static const char *const nouns[][2] = {
    {"host", "hypervisor hosts"},
    {"vm", "virtual machines (domains)"},
    {"ct", "containers (on container hosts: liblxc:///PATH)"},
    {"template", "VM templates: a definition and its disk images"},
    {"change", "change requests: approved, windowed, checked and rolled back"},
    {"snapshot", "VM snapshots"},
    {"changes", "configuration change history"},
    {"audit", "audit log of actions"},
    {"token", "API tokens (admin)"},
    {"pool", "storage pools"},
    {"network", "virtual networks"},
    {"agent", "guest agents (kanri-guestd)"},
    {"machine", "machines kanri-guestd reports on: servers and VMs"},
    {"findings", "reconciliation findings (host and guest views disagree)"},
    {"fleet", "every host and VM at a glance"},
    {"ready", "whether kanrid has loaded every host's inventory"},
    {"server", "this kanrid: version and TLS certificate pin"},
    {"events", "the operations record's events"},
    {"incidents", "incidents: what is wrong now, and what was"},
    {"problems", "problems: the common causes behind recurring incidents"},
    {"maintenance", "maintenance windows (silence expected problems)"},
    {"rules", "alert rules"},
    {"policy", "autonomic policies: memory balloon manager, balancing, maintenance"},
    {"decisions", "what the policies decided, and why"},
    {"ha", "high availability: failed hosts fenced, their VMs restarted elsewhere"},
    {"cluster", "kanrid instances sharing one PostgreSQL store, and their host leases"},
    {"report", "reports: availability (SLA) from the recorded states"},
    {"tags", "the VMs' tags, which make the reports' groups"},
    {"context", "named managers to talk to, in the configuration file (like kubectl's)"},
    {"relations", "what an item runs on, uses and hosts"},
    {"impact", "what a failure of an item would affect"},
};

#define VM_NAMING "VM is a name, a UUID, or HOST:NAME when the name exists on several hosts."
#define CT_NAMING "CT is a name, a UUID, or HOST:NAME when the name exists on several hosts."
#define CT_SIZES                                                                                   \
    "SIZE is 128M, 1G (K, M, G, T: powers of 1024; a plain number is MiB); N.N is cores (0.5: "    \
    "half a core, at most 3 decimals); W is 1 to 10000; N is processes."

static const struct cli_verb verbs[] = {
    {"host", "list", "", 0, 0, "List the hypervisor hosts and their connection state.", NULL, NULL,
     cmd_host_list},
    {"host", "show", "HOST", 1, 1, "Show one host, with its storage pools and networks.",
     "HOST is a host name or id.", NULL, cmd_host_show},
    {"host", "maintenance", "HOST on|off", 2, 2,
     "Put a host in maintenance mode (evacuate it) or take it out.",
     "On: nothing is placed on the host any more, and its running VMs are live-migrated to "
     "hosts with room, by priority ([policy:balance] priority.VM), whatever the balancing "
     "policy's mode; the plan is printed, with a reason for each VM that cannot be placed. "
     "Off: the host takes VMs again.",
     host_maintenance_entries, cmd_host_maintenance},
    {"vm", "list", "", 0, 0, "List virtual machines and containers.",
     "The KIND column says which a domain is: container (a system container, domain type "
     "lxc) or vm.",
     vm_list_entries, cmd_vm_list},
    {"vm", "show", "VM", 1, 1, "Show one virtual machine, its disks and interfaces.", VM_NAMING,
     vm_show_entries, cmd_vm_show},
    {"vm", "start", "VM", 1, 1, "Start a defined VM.", VM_NAMING, NULL, cmd_vm_action},
    {"vm", "shutdown", "VM", 1, 1, "Shut a VM down gracefully (ACPI power button).",
     VM_NAMING "\nThe command waits until the VM is off; without --force it fails with "
               "exit status 1 when the timeout passes first. The connection timeout is "
               "extended to cover the shutdown timeout.",
     shutdown_entries, cmd_vm_shutdown},
    {"vm", "reboot", "VM", 1, 1, "Reboot a VM.", VM_NAMING, NULL, cmd_vm_action},
    {"vm", "destroy", "VM", 1, 1, "Power a VM off immediately (like pulling the plug).", VM_NAMING,
     NULL, cmd_vm_action},
    {"vm", "suspend", "VM", 1, 1, "Pause a running VM.", VM_NAMING, NULL, cmd_vm_action},
    {"vm", "resume", "VM", 1, 1, "Resume a paused VM.", VM_NAMING, NULL, cmd_vm_action},
    {"vm", "undefine", "VM", 1, 1, "Remove a shut-off VM's definition.", VM_NAMING, NULL,
     cmd_vm_action},
    {"vm", "setmem", "VM SIZE", 2, 2, "Change a VM's current memory (balloon).",
     VM_NAMING "\nSIZE is an integer with an optional unit: K/KiB, M/MiB, G/GiB, T/TiB "
               "(powers of 1024), KB, MB, GB, TB (powers of 1000), B (bytes); a plain "
               "number is MiB. Examples: 512M, 1G, 524288K, 768.",
     config_entries, cmd_vm_setmem},
    {"vm", "setvcpus", "VM N", 2, 2, "Change the number of a VM's virtual CPUs.", VM_NAMING,
     config_entries, cmd_vm_setvcpus},
    {"vm", "migrate", "VM HOST", 2, 2, "Migrate a VM to another host (live by default).", VM_NAMING,
     migrate_entries, cmd_vm_migrate},
    {"vm", "stats", "VM", 1, 1, "Show a VM's host view and guest view side by side.",
     VM_NAMING " Host view: what the hypervisor measures; guest view: what the guest reports "
               "(qemu-guest-agent, balloon driver, kanri-guestd). A view without figures says why.",
     stats_entries, cmd_vm_stats},
    {"vm", "define", "HOST FILE.xml", 2, 2, "Define a VM on HOST from a libvirt domain XML file.",
     "FILE.xml may be '-' for standard input; at most 1 MiB.", NULL, cmd_vm_define},
    {"vm", "create", "NAME", 1, 1, "Create a VM from a template.",
     "Its disks are linked clones of the template's images (qcow2 overlays backed by them) "
     "unless --full; it gets its own UUID and MAC addresses and is started unless "
     "--no-start. SIZE: K, M, G, T (powers of 1024); a plain number is MiB.",
     vm_create_entries, cmd_vm_create},
    {"vm", "tag", "VM [TAG...]", 1, 1 + 32, "Set a VM's tags (none: remove them all).",
     VM_NAMING "\nA tag is 1 to 64 letters, digits, '.', '_' or '-'; a VM has at most 32. "
               "The reports' --group takes a tag.",
     NULL, cmd_vm_tag},
    {"tags", NULL, "", 0, 0, "List the VMs' tags.", NULL, tags_entries, cmd_tags, true},
    {"report", "availability", "", 0, 0, "Report time up, down and unknown, per VM and in total.",
     "From the states kanri recorded each round: up (running; with a guest view, or by the "
     "host's word alone: host view only), unresponsive (running, but the guest view went stale "
     "or its clock stopped; not down time), down (planned when kanri's own action stopped it or "
     "it began in a maintenance window; else unplanned) and unknown (kanri was not collecting "
     "the host: never counted as up). Availability is up over up and unplanned down.",
     report_entries, cmd_report_availability},
    {"context", "list", "", 0, 0, "List the contexts of the configuration file.",
     "The file is $KANRI_CONFIG, else $XDG_CONFIG_HOME/kanri/config, else "
     "~/.config/kanri/config. The current context gives kanri its --url, the token (read from "
     "its token file), --cacert and --pin, unless those options or KANRI_URL, KANRI_TOKEN, "
     "KANRI_CACERT and KANRI_PIN say otherwise; --context NAME or KANRI_CONTEXT pick another.",
     NULL, cmd_context_list, true},
    {"context", "use", "NAME", 1, 1, "Make a context the current one.", NULL, NULL,
     cmd_context_use},
    {"context", "set", "NAME", 1, 1, "Create or change a context.",
     "With --url, --token-file, --cacert and --pin (an empty value removes one). The first "
     "context made becomes the current one.",
     context_set_entries, cmd_context_set},
    {"context", "delete", "NAME", 1, 1, "Delete a context.", NULL, NULL, cmd_context_delete},
    {"report", "capacity", "", 0, 0,
     "Report capacity, demand, headroom and forecasts per host and pool.",
     "Demand is the reconciled view's: CPU busy plus the run-queue wait the guests cannot see, "
     "memory in use without the guests' cache, disk in use; a VM without a figure counts at its "
     "allocation. Headroom is how many more VMs of the size (--vcpus/--memory/--disk, or --like "
     "a VM) fit, and what limits them (thin disks' claim on the pools counts). Forecasts are "
     "Holt-Winters with daily and weekly seasons as the history allows, with a 95 % interval, "
     "when each resource runs out, and their backtest against the last value and the seasonal "
     "naive forecast. --add and --remove: the same after a what-if.",
     capacity_entries, cmd_report_capacity},
    {"change", "list", "", 0, 0, "List change requests, newest first.", NULL, change_list_entries,
     cmd_change_list, true},
    {"change", "show", "ID", 1, 1, "Show a change request and what became of each VM.", NULL, NULL,
     cmd_change_show},
    {"change", "create", "", 0, 0, "Draft a change request.",
     "It runs once submitted, approved by another token than yours and inside its window: per "
     "batch, each VM is saved (a snapshot, or its definition), acted on, then checked (running "
     "as its actions leave it, a fresh guest view when asked, no new critical finding); the "
     "first failure rolls its batch back and stops the rollout.",
     change_create_entries, cmd_change_create},
    {"change", "submit", "ID", 1, 1, "Submit a drafted change request for approval.", NULL, NULL,
     cmd_change_step},
    {"change", "approve", "ID", 1, 1, "Approve a submitted change request (not your own).", NULL,
     NULL, cmd_change_step},
    {"change", "reject", "ID", 1, 1, "Reject a submitted change request.", NULL, NULL,
     cmd_change_step},
    {"change", "cancel", "ID", 1, 1, "Cancel a change request that has not run yet.", NULL, NULL,
     cmd_change_step},
    {"template", "list", "", 0, 0, "List templates (the newest version of each).", NULL, NULL,
     cmd_template_list, true},
    {"template", "show", "NAME", 1, 1, "Show a template, its images and its versions.", NULL,
     template_show_entries, cmd_template_show},
    {"template", "create", "NAME", 1, 1, "Make a template (or its next version) of a shut-off VM.",
     "The VM's disk images are copied into the pool and its definition kept, without its UUID "
     "and MAC addresses. The VM is left as it was.",
     template_create_entries, cmd_template_create},
    {"template", "delete", "NAME", 1, 1, "Delete a template (every version).",
     "Its images stay in their pool: linked clones are backed by them.", NULL, cmd_template_delete},
    {"ct", "list", "", 0, 0, "List containers.",
     "The VMs whose kind is container (domain type lxc); 'kanri vm list' lists them too.",
     host_filter_entries, cmd_ct_list},
    {"ct", "show", "CT", 1, 1, "Show one container.", CT_NAMING, vm_show_entries, cmd_ct_show},
    {"ct", "create", "HOST NAME", 2, 2, "Create a container on a container host.",
     "HOST is a container host (its uri liblxc:///PATH). NAME is 1 to 64 of A-Z a-z 0-9 _ . -, "
     "not starting with . or -. " CT_SIZES " Limits not given are none. The container has no "
     "network; with --start it is started once created.",
     ct_create_entries, cmd_ct_create},
    {"ct", "start", "CT", 1, 1, "Start a container.", CT_NAMING, NULL, cmd_ct_action},
    {"ct", "stop", "CT", 1, 1, "Stop a container gracefully (its init is asked to halt).",
     CT_NAMING "\nThe command waits until the container has stopped; without --force it fails "
               "with exit status 1 when the timeout passes first.",
     ct_stop_entries, cmd_ct_stop},
    {"ct", "kill", "CT", 1, 1, "Stop a container at once (kill its processes).", CT_NAMING, NULL,
     cmd_ct_action},
    {"ct", "reboot", "CT", 1, 1, "Reboot a container.", CT_NAMING, NULL, cmd_ct_action},
    {"ct", "freeze", "CT", 1, 1, "Freeze a running container (its processes stop being run).",
     CT_NAMING, NULL, cmd_ct_action},
    {"ct", "thaw", "CT", 1, 1, "Thaw a frozen container.", CT_NAMING, NULL, cmd_ct_action},
    {"ct", "rm", "CT", 1, 1, "Remove a stopped container and its root filesystem.", CT_NAMING, NULL,
     cmd_ct_action},
    {"ct", "limits", "CT", 1, 1, "Change a container's limits, live and in its configuration.",
     CT_NAMING "\n" CT_SIZES " Give at least one limit; those not given stay as they are, and 0 "
               "removes one.",
     ct_limits_entries, cmd_ct_limits},
    {"snapshot", "list", "VM", 1, 1, "List a VM's snapshots.", VM_NAMING, NULL, cmd_snapshot_list},
    {"snapshot", "create", "VM [NAME]", 1, 2, "Create a snapshot.",
     VM_NAMING "\nWithout NAME the server generates one.", snapshot_create_entries,
     cmd_snapshot_create},
    {"snapshot", "revert", "VM NAME", 2, 2, "Revert a VM to a snapshot.", VM_NAMING, NULL,
     cmd_snapshot_revert},
    {"snapshot", "delete", "VM NAME", 2, 2, "Delete a snapshot.", VM_NAMING, NULL,
     cmd_snapshot_delete},
    {"changes", NULL, "[VM]", 0, 1, "Show configuration changes, newest first.",
     VM_NAMING "\nEach row is one new version of a VM's domain XML: when it was seen, the "
               "versions, the cause (action, external, created, removed), who did it and "
               "how many lines were added and removed.",
     changes_entries, cmd_changes},
    {"audit", NULL, "", 0, 0, "Show the audit log of actions, newest first.", NULL, audit_entries,
     cmd_audit},
    {"findings", NULL, "", 0, 0, "Show reconciliation findings, newest first.",
     "A finding is raised when a VM's host view and guest view disagree beyond a rule's "
     "tolerance (steal the guest cannot see, memory the balloon took, thin storage the pool "
     "cannot back, a missing or stale agent). Open ones are still true now.",
     findings_entries, cmd_findings},
    {"fleet", NULL, "", 0, 0, "Show every host and VM at a glance.",
     "Per host: VMs running/total, the CPU demand of its VMs (busy + run-queue wait, in "
     "cores) against its CPUs, their memory used against its memory, pool storage allocated "
     "against capacity, and open findings (critical/warning/info) and incidents "
     "(critical/major/warning/info). A sum covers only the VMs with a reconciled value, "
     "\"(N VMs)\" when that is fewer than run; \"-\" when none has one. Then why hosts are not "
     "connected, and per VM its latest reconciled figures and worst open finding.",
     host_filter_entries, cmd_fleet},
    {"token", "create", "NAME", 1, 1, "Create an API token.",
     "The token is printed once on standard output and cannot be shown again.",
     token_create_entries, cmd_token_create},
    {"token", "list", "", 0, 0, "List API tokens.", NULL, NULL, cmd_token_list},
    {"token", "revoke", "ID", 1, 1, "Revoke an API token.", NULL, NULL, cmd_token_revoke},
    {"pool", "list", "", 0, 0, "List storage pools.", NULL, host_filter_entries, cmd_pool_list},
    {"network", "list", "", 0, 0, "List virtual networks.", NULL, host_filter_entries,
     cmd_network_list},
    {"agent", "enroll", "VM|UUID", 1, 1, "Enroll a guest agent and print its token.",
     "VM is a VM name or HOST:NAME; a UUID enrolls any machine (a physical server, a foreign "
     "VM) by the id its kanri-guestd reports. The token is printed once on standard output; "
     "it can write only that machine's samples. Enrolling again replaces the token.",
     agent_enroll_entries, cmd_agent_enroll},
    {"ready", NULL, "", 0, 0, "Say whether kanrid has loaded every host's inventory.",
     "Ready means every configured host has completed a full inventory sync since kanrid "
     "started, or is unreachable; until then a VM may exist that kanrid does not list yet. "
     "Exit status 0 when ready, 1 when not (after --wait SECONDS at most). Scripts that "
     "start kanrid run 'kanri ready --wait 60' before their first command.",
     ready_entries, cmd_ready},
    {"server", NULL, "", 0, 0, "Show kanrid's version, start time and TLS certificate pin.",
     "The pin (sha256//...) is what 'kanri --pin' and kanri-guestd's server_pin check; the "
     "certificate's path is for 'kanri --cacert'. Note it from a connection you trust (on the "
     "kanrid machine itself, or from kanrid's start-up log).",
     NULL, cmd_server},
    {"agent", "list", "", 0, 0,
     "List guest agents: last contact, version, lag, spool backlog, rejected documents.", NULL,
     NULL, cmd_agent_list},
    {"machine", "list", "", 0, 0,
     "List the machines kanri-guestd reports on: servers and VMs, with their newest figures.",
     "'kanri machine' alone runs this command. Kind server: no hypervisor kanri manages knows "
     "the machine (a physical server); kind vm: a VM kanri manages (named with its host). A "
     "machine is silent once its agent has not reported for [ops] agent_silent_after.",
     NULL, cmd_machine_list, true},
    {"machine", "show", "MACHINE", 1, 1, "Show one machine and its filesystems.",
     "MACHINE is the agent's name or the machine's UUID.", NULL, cmd_machine_show},
    {"machine", "stats", "MACHINE", 1, 1, "Show a machine's figures (its guest view) over time.",
     "MACHINE is the agent's name or the machine's UUID. The figures are those kanri-guestd "
     "reported (a server without a hypervisor has no host view).",
     stats_entries, cmd_machine_stats},
    {"events", NULL, "", 0, 0, "Show events of the operations record, newest first.",
     "An event is one observation: a VM stopped, a host was lost, a rule fired or cleared. "
     "Events open, join and resolve incidents; the INCIDENT column says which. An event "
     "inside a maintenance window opens nothing. Without --since the server's default span "
     "applies.",
     events_entries, cmd_events},
    {"incidents", "list", "", 0, 0, "List incidents (open and acknowledged ones by default).",
     "'kanri incidents' alone runs this command. An incident is one condition on one item "
     "(and the items it affects) from its first problem event until it is resolved.",
     incident_list_entries, cmd_incident_list, true},
    {"incidents", "show", "ID", 1, 1,
     "Show an incident: affected items, preceding changes, log and recent events.",
     "The preceding changes are the configuration changes and actions before the incident "
     "opened, newest first; the one marked '*' is the likely cause, with the reason below.",
     NULL, cmd_incident_show},
    {"incidents", "ack", "ID", 1, 1, "Acknowledge an incident: someone is on it.",
     "Fails with exit status 1 when the incident is already acknowledged or resolved.",
     comment_entries, cmd_incident_ack},
    {"incidents", "resolve", "ID", 1, 1, "Resolve an incident by hand.",
     "Fails with exit status 1 when the incident is already resolved.", comment_entries,
     cmd_incident_resolve},
    {"incidents", "comment", "ID TEXT", 2, 2, "Add a comment to an incident's log.", NULL, NULL,
     cmd_incident_comment},
    {"incidents", "link", "ID PROBLEM|none", 2, 2,
     "Link an incident to a problem, or unlink it with 'none'.", NULL, NULL, cmd_incident_link},
    {"problems", "list", "", 0, 0, "List problems.",
     "'kanri problems' alone runs this command. Problems marked suggested were opened by kanri "
     "for an incident that keeps recurring.",
     NULL, cmd_problem_list, true},
    {"problems", "show", "ID", 1, 1, "Show a problem and its incidents.", NULL, NULL,
     cmd_problem_show},
    {"problems", "create", "", 0, 0, "Record a problem (--title is required).", NULL,
     problem_entries, cmd_problem_create},
    {"problems", "update", "ID", 1, 1, "Change a problem's fields; those not given stay.",
     "STATE is open, known-error (the root cause and a workaround are known) or closed.",
     problem_entries, cmd_problem_update},
    {"maintenance", "list", "", 0, 0, "List maintenance windows.",
     "'kanri maintenance' alone runs this command.", NULL, cmd_maintenance_list, true},
    {"maintenance", "add", "SCOPE", 1, 1, "Add a maintenance window.",
     "SCOPE is all, host:NAME (the host and everything on it), vm:GLOB (VMs by name, * and ?), "
     "pool:GLOB (pools by HOST/NAME) or item:ID. Give --to or --for, and --why. Problems inside "
     "the window are recorded but open no incident and notify nobody.",
     maintenance_add_entries, cmd_maintenance_add},
    {"maintenance", "delete", "ID", 1, 1, "Delete a maintenance window (ends it now).", NULL, NULL,
     cmd_maintenance_delete},
    {"policy", "list", "", 0, 0, "List the policies, their modes, and the kill switch.",
     "'kanri policy' alone runs this command. Modes: off, recommend (decisions are recorded, "
     "nothing is done), enforce.",
     NULL, cmd_policy_list, true},
    {"policy", "show", "NAME", 1, 1, "Show a policy's settings and the VMs it is paused for.",
     "NAME is memory or balance. Settings set over the API (they win over kanri.conf) are "
     "marked.",
     NULL, cmd_policy_show},
    {"policy", "set", "NAME KEY=VALUE...", 2, 32, "Change a policy's settings.",
     "NAME is memory or balance; 'kanri policy set all enabled=no' is the kill switch. "
     "Examples: kanri policy set memory mode=enforce host_free_target=20%. The settings are "
     "kept by kanrid over kanri.conf's until reset (admin token).",
     NULL, cmd_policy_set},
    {"policy", "reset", "NAME KEY...", 2, 32, "Put settings back to kanri.conf's.", NULL, NULL,
     cmd_policy_reset},
    {"policy", "resume", "NAME VM", 2, 2, "Let a policy act on a VM again after it was paused.",
     "A policy pauses itself for a VM when one of its actions made things worse (it is undone).",
     NULL, cmd_policy_resume},
    {"policy", "simulate", "NAME [KEY=VALUE...]", 1, 32,
     "Show what a policy would have done over stored history.",
     "A dry run: the policy decides on the stored reconciled history as if it had enforced "
     "its decisions (a balloon it shrank stays shrunk in later rounds), with the settings in "
     "force and KEY=VALUE over them. Nothing is recorded or done.",
     simulate_entries, cmd_policy_simulate},
    {"cluster", "status", "", 0, 0,
     "Show the kanrid instances sharing this store and which holds each host.",
     "'kanri cluster' alone runs this command. Per instance: its name (machine and state "
     "directory), whether it is live (a heartbeat within the lease time), how many hosts it "
     "holds; per host: its holder, the lease's epoch (it grows with each taking) and when the "
     "lease expires unless renewed. On a SQLite store there is one kanrid and nothing to show.",
     NULL, cmd_cluster_status, true},
    {"ha", "status", "", 0, 0, "Show what HA sees and does, per host and per HA VM.",
     "'kanri ha' alone runs this command. Per host: its HA state (up, suspect, down, fencing, "
     "fence-failed, fenced, recovered, rejoining), its signals (the libvirt connection, the "
     "reachability probe, HA VMs still reporting through kanri-guestd) and its fence agent; "
     "per HA VM: where it runs, its settings and its last recovery.",
     NULL, cmd_ha_status, true},
    {"ha", "set", "VM on|off|reset|SETTING...", 2, 4, "Set a VM's HA settings.",
     VM_NAMING "\nSETTING is priority=N (-1000 to 1000, higher restarted first), "
               "restart=elsewhere|in-place|report, group=NAME (an HA group of kanri.conf's "
               "[ha] group.NAME: the hosts it may run on; group= for any host). Settings not "
               "given are the defaults (on, priority 0, elsewhere, any host); 'reset' goes back "
               "to kanri.conf's [ha] vm.NAME. Operator token.",
     NULL, cmd_ha_set},
    {"ha", "fenced", "HOST", 1, 1, "Confirm that a failed host is off (fenced by hand).",
     "For a host declared dead whose fence agent failed or is not configured: its HA VMs are "
     "then restarted elsewhere. Say it only when the host is really off (power cut, pulled "
     "plug), or two copies of a VM may run. Admin token; -m adds a comment to the record.",
     comment_entries, cmd_ha_fenced},
    {"decisions", NULL, "", 0, 0, "Show the policies' decisions, newest first.",
     "Each decision: its inputs, the rule that fired, the action and its state (recorded in "
     "recommend mode; pending, done or failed in enforce mode; undone) and, one round later, "
     "the verdict on its observed effect (ok, no-effect, worse). --json shows inputs, expected "
     "and observed effects.",
     decisions_entries, cmd_decisions},
    {"rules", "list", "", 0, 0, "List alert rules.",
     "'kanri rules' alone runs this command. Rules from kanri.conf (origin conf) are read-only "
     "here.",
     NULL, cmd_rule_list, true},
    {"rules", "set", "NAME", 1, 1, "Create or replace an alert rule.",
     "NAME is 1 to 64 letters, digits, '-', '_' or '.'. A threshold rule needs --metric, --view, "
     "--op and --value; pool-full and memory-trend rules need --value, the hours left before "
     "the pool or the memory is full. The rule is replaced as a whole: give every field.",
     rule_set_entries, cmd_rule_set},
    {"rules", "delete", "NAME", 1, 1, "Delete an alert rule (not one from kanri.conf).", NULL, NULL,
     cmd_rule_delete},
    {"relations", NULL, "ITEM", 1, 1, "Show what an item runs on, uses and hosts.",
     "ITEM is vm:UUID, host:NAME, pool:HOST/NAME or network:HOST/NAME.", NULL, cmd_relations},
    {"impact", NULL, "ITEM", 1, 1, "Show which items a failure of ITEM would affect, and why.",
     "ITEM is vm:UUID, host:NAME, pool:HOST/NAME or network:HOST/NAME.", NULL, cmd_impact},
};

const char *cli_command_name(void)
{
    static char buf[64];

    if (cli_current && cli_current->name)
        g_snprintf(buf, sizeof(buf), "kanri %s %s", cli_current->noun, cli_current->name);
    else if (cli_current)
        g_snprintf(buf, sizeof(buf), "kanri %s", cli_current->noun);
    else if (current_noun)
        g_snprintf(buf, sizeof(buf), "kanri %s", current_noun);
    else
        g_snprintf(buf, sizeof(buf), "kanri");
    return buf;
}

static bool noun_known(const char *noun)
{
    for (size_t i = 0; i < G_N_ELEMENTS(nouns); i++) {
        if (strcmp(nouns[i][0], noun) == 0)
            return true;
    }
    return false;
}

static const struct cli_verb *find_verb(const char *noun, const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++) {
        const struct cli_verb *v = &verbs[i];
        if (strcmp(v->noun, noun) != 0)
            continue;
        if (!v->name || (name && strcmp(v->name, name) == 0))
            return v;
    }
    return NULL;
}

/* The verb NOUN runs when given without one, or NULL. */
static const struct cli_verb *find_implied(const char *noun)
{
    for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++) {
        if (verbs[i].implied && strcmp(verbs[i].noun, noun) == 0)
            return &verbs[i];
    }
    return NULL;
}

/* Whether the command line asks for help, so that "kanri incidents
 * --help" lists the noun's commands rather than the implied verb's
 * options. */
static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "-?") == 0 || g_str_has_prefix(a, "--help"))
            return true;
    }
    return false;
}

static bool noun_has_verbs(const char *noun)
{
    const struct cli_verb *v = find_verb(noun, NULL);

    return !v || v->name != NULL;
}

/* "  vm setmem VM SIZE        Change ..." lines for the commands of noun
 * (or of all nouns when noun is NULL). */
static void append_command_list(GString *out, const char *noun)
{
    size_t width = 0;

    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++) {
            const struct cli_verb *v = &verbs[i];
            if (noun && strcmp(v->noun, noun) != 0)
                continue;
            g_autofree char *words = g_strjoin(" ", v->noun, v->name ? v->name : v->args,
                                               v->name ? v->args : NULL, NULL);
            g_strchomp(words);
            if (pass == 0)
                width = MAX(width, strlen(words));
            else
                g_string_append_printf(out, "  %-*s  %s\n", (int)width, words, v->summary);
        }
    }
}

static const char top_description[] =
    "Run 'kanri COMMAND --help' for the options of one command.\n"
    "\n"
    "Environment:\n"
    "  KANRI_URL        manager URL, if --url is not given\n"
    "  KANRI_TOKEN      API token, if --token is not given\n"
    "  KANRI_STATE_DIR  where to find the local admin.token otherwise\n"
    "  KANRI_CACERT     CA certificate file for https, if --cacert is not given\n"
    "  KANRI_PIN        pinned server key for https, if --pin is not given\n"
    "\n"
    "https certificates are always verified: against the system's CAs, the\n"
    "--cacert file, or the --pin key.\n"
    "\n"
    "Exit status: 0 success, 1 the server reported an error, 2 usage error,\n"
    "3 cannot reach the server (or verify it), 4 not authenticated or not allowed,\n"
    "5 not found.\n"
    "See kanri(1).";

static GOptionContext *context_new(const char *params, const char *summary, const char *description,
                                   const GOptionEntry *verb_entries)
{
    GOptionContext *ctx = g_option_context_new(params);
    GArray *entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));

    g_option_context_set_summary(ctx, summary);
    if (description)
        g_option_context_set_description(ctx, description);

    for (const GOptionEntry *e = verb_entries; e && e->long_name; e++)
        g_array_append_val(entries, *e);
    /* A verb's own option wins over a global one of the same name:
     * "vm shutdown --timeout" is the shutdown's grace time. */
    for (const GOptionEntry *g = global_entries; g->long_name; g++) {
        bool shadowed = false;
        for (const GOptionEntry *e = verb_entries; e && e->long_name; e++)
            shadowed = shadowed || strcmp(e->long_name, g->long_name) == 0;
        if (!shadowed)
            g_array_append_val(entries, *g);
    }
    g_array_append_val(entries, remaining_entry[0]);
    /* GLib copies the entries into the context's main group. */
    g_option_context_add_main_entries(ctx, (const GOptionEntry *)(void *)entries->data, NULL);
    g_array_free(entries, TRUE);
    return ctx;
}

static int parse(GOptionContext *ctx, int *argc, char ***argv)
{
    g_autoptr(GError) err = NULL;

    if (!g_option_context_parse(ctx, argc, argv, &err))
        return cli_usage_error("%s", err->message);
    if (cli_opts.version) {
        printf("kanri %s\n", KANRI_VERSION);
        exit(CLI_EXIT_OK);
    }
    if (cli_opts.output) {
        if (g_str_equal(cli_opts.output, "json")) {
            cli_opts.json = TRUE;
        } else if (g_str_equal(cli_opts.output, "yaml")) {
            cli_opts.json = cli_opts.yaml = TRUE;
        } else if (!g_str_equal(cli_opts.output, "table")) {
            g_autofree char *clean = text_sanitize(cli_opts.output);
            return cli_usage_error("--output: expected table, json or yaml, not '%s'", clean);
        } else if (cli_opts.json) {
            return cli_usage_error("--json and --output table ask for different outputs");
        }
    }
    return CLI_EXIT_OK;
}

/* Options that take a separate argument; the first scan for the noun and
 * verb has to skip their values. */
static bool takes_value(const char *arg)
{
    static const char *const names[] = {
        "--url",         "--token", "--timeout",    "--cacert",      "--pin",        "--host",
        "--output",      "-o",      "--context",    "--token-file",  "--vm",         "--limit",
        "--description", "--role",  "--since",      "--name",        "--rule",       "--wait",
        "--item",        "--kind",  "--severity",   "--incident",    "--state",      "-m",
        "--message",     "--title", "--root-cause", "--known-error", "--workaround", "--from",
        "--to",          "--for",   "--why",        "--metric",      "--view",       "--op",
        "--value",       "--scope"};

    /* kanri ct */
    static const char *const ct_names[] = {"--template", "--memory", "--cpus", "--cpu-weight",
                                           "--pids"};

    for (size_t i = 0; i < G_N_ELEMENTS(ct_names); i++) {
        if (strcmp(arg, ct_names[i]) == 0)
            return true;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (strcmp(arg, names[i]) == 0)
            return true;
    }
    return false;
}

static void find_words(int argc, char **argv, const char **ret_noun, const char **ret_verb)
{
    bool options_done = false;

    *ret_noun = *ret_verb = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && a[0] == '-' && a[1] != '\0') {
            if (takes_value(a))
                i++;
            continue;
        }
        if (!*ret_noun) {
            *ret_noun = a;
        } else {
            *ret_verb = a;
            return;
        }
    }
}

static int run_top(int *argc, char ***argv)
{
    g_autoptr(GString) desc = g_string_new("Commands:\n");

    append_command_list(desc, NULL);
    g_string_append_printf(desc, "\n%s", top_description);
    g_autoptr(GOptionContext) ctx =
        context_new("COMMAND [ARGS…]",
                    "Manage virtual machines on every host through the kanri manager (kanrid).",
                    desc->str, NULL);
    int r = parse(ctx, argc, argv);
    if (r != CLI_EXIT_OK)
        return r;
    return cli_usage_error("no command given");
}

static int run_noun(const char *noun, int *argc, char ***argv)
{
    g_autoptr(GString) desc = g_string_new("Commands:\n");
    const char *summary = "";

    for (size_t i = 0; i < G_N_ELEMENTS(nouns); i++) {
        if (strcmp(nouns[i][0], noun) == 0)
            summary = nouns[i][1];
    }
    append_command_list(desc, noun);
    const struct cli_verb *implied = find_implied(noun);
    if (implied)
        g_string_append_printf(desc, "\nWithout a command: 'kanri %s %s'.", noun, implied->name);
    g_string_append_printf(desc, "\nRun 'kanri %s COMMAND --help' for the options of one command.",
                           noun);
    g_autofree char *params = g_strdup_printf("%s COMMAND [ARGS…]", noun);
    g_autofree char *sum = g_strdup_printf("Commands for %s.", summary);
    g_autoptr(GOptionContext) ctx = context_new(params, sum, desc->str, NULL);
    int r = parse(ctx, argc, argv);
    if (r != CLI_EXIT_OK)
        return r;
    return cli_usage_error("%s: no command given", noun);
}

/* GLib prints the description as it is; wrap it to fit a terminal. */
static char *wrap(const char *text, size_t width)
{
    GString *out = g_string_new(NULL);
    g_auto(GStrv) paragraphs = g_strsplit(text, "\n", -1);

    for (char **para = paragraphs; *para; para++) {
        g_auto(GStrv) words = g_strsplit(*para, " ", -1);
        size_t col = 0;
        if (para != paragraphs)
            g_string_append_c(out, '\n');
        for (char **w = words; *w; w++) {
            size_t len = strlen(*w);
            if (!len)
                continue;
            if (col > 0 && col + 1 + len > width) {
                g_string_append_c(out, '\n');
                col = 0;
            } else if (col > 0) {
                g_string_append_c(out, ' ');
                col++;
            }
            g_string_append(out, *w);
            col += len;
        }
    }
    return g_string_free(out, FALSE);
}

/* IMPLIED: the verb word is not on the command line ("kanri incidents"). */
static int run_verb(const struct cli_verb *v, bool implied, int *argc, char ***argv)
{
    g_autofree char *params =
        g_strjoin(" ", v->noun, v->name ? v->name : v->args, v->name ? v->args : NULL, NULL);
    g_strchomp(params);
    g_autofree char *desc = v->description ? wrap(v->description, 78) : NULL;
    g_autoptr(GOptionContext) ctx = context_new(params, v->summary, desc, v->entries);
    int r = parse(ctx, argc, argv);
    if (r != CLI_EXIT_OK)
        return r;

    /* The positional words are the noun, the verb, then the arguments. */
    guint skip = v->name && !implied ? 2 : 1;
    guint total = cli_opts.args ? g_strv_length(cli_opts.args) : 0;
    if (total < skip || strcmp(cli_opts.args[0], v->noun) != 0)
        return cli_usage_error("put options after the command words");
    guint n = total - skip;
    if (n < v->min_args || n > v->max_args) {
        if (!*v->args)
            return cli_usage_error("unexpected argument '%s'", cli_opts.args[skip]);
        return cli_usage_error("expected %s", v->args);
    }

    /* The contexts are this machine's file, not the manager's. */
    if (strcmp(v->noun, "context") != 0) {
        r = api_setup();
        if (r != CLI_EXIT_OK)
            return r;
    }
    return v->run(v, cli_opts.args + skip, n);
}

/* ---- shell completion: kanri __complete WORD... -- CURRENT ---- */

static void print_entry_names(const GOptionEntry *e, const char *cur)
{
    for (; e && e->long_name; e++) {
        if (*e->long_name && g_str_has_prefix(e->long_name, cur + MIN(strlen(cur), 2)))
            printf("--%s\n", e->long_name);
    }
}

/* The names the API lists under KEY at PATH ("vms" at /vms), of KIND
 * when not NULL. */
static void print_api_names(const char *path, const char *key, const char *kind)
{
    if (api_setup() != CLI_EXIT_OK)
        return;
    struct json_object *reply = NULL;
    if (api_request("GET", path, NULL, &reply) != CLI_EXIT_OK || !reply)
        return;
    struct json_object *list = NULL;
    if (json_object_object_get_ex(reply, key, &list) &&
        json_object_is_type(list, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            struct json_object *it = json_object_array_get_idx(list, i), *v = NULL;
            if (kind && (!json_object_object_get_ex(it, "kind", &v) ||
                         g_strcmp0(json_object_get_string(v), kind) != 0))
                continue;
            if (json_object_object_get_ex(it, "name", &v) && json_object_get_string(v))
                printf("%s\n", json_object_get_string(v));
        }
    }
    json_object_put(reply);
}

/* Prints what may come at CURRENT after WORDS, one per line: the nouns,
 * a noun's verbs, an option, or the VMs, containers and hosts kanrid
 * knows where the verb takes one (dist/completion). */
static int complete(int argc, char **argv)
{
    const char *cur = "";
    GPtrArray *pos = g_ptr_array_new();
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            cur = i + 1 < argc ? argv[i + 1] : "";
            break;
        }
        if (a[0] == '-' && a[1]) {
            /* The connection options count: names come from that manager. */
            const char *val = i + 1 < argc && strcmp(argv[i + 1], "--") != 0 ? argv[i + 1] : NULL;
            if (strcmp(a, "--url") == 0)
                cli_opts.url = g_strdup(val);
            else if (strcmp(a, "--context") == 0)
                cli_opts.context = g_strdup(val);
            else if (strcmp(a, "--token") == 0)
                cli_opts.token = g_strdup(val);
            if (takes_value(a) && val)
                i++;
            continue;
        }
        g_ptr_array_add(pos, (gpointer)a);
    }
    const char *noun = pos->len > 0 ? g_ptr_array_index(pos, 0) : NULL;
    const char *verb_name = pos->len > 1 ? g_ptr_array_index(pos, 1) : NULL;
    const struct cli_verb *v = NULL;
    guint argi = 0;
    if (noun && noun_known(noun)) {
        if (!noun_has_verbs(noun)) {
            v = find_verb(noun, NULL);
            argi = pos->len - 1;
        } else if (verb_name) {
            v = find_verb(noun, verb_name);
            argi = pos->len - 2;
        }
    }
    if (cur[0] == '-') {
        print_entry_names(global_entries, cur);
        if (v)
            print_entry_names(v->entries, cur);
    } else if (!noun) {
        for (size_t i = 0; i < G_N_ELEMENTS(nouns); i++)
            printf("%s\n", nouns[i][0]);
    } else if (!v && noun_known(noun) && !verb_name) {
        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++) {
            if (strcmp(verbs[i].noun, noun) == 0 && verbs[i].name)
                printf("%s\n", verbs[i].name);
        }
    } else if (v) {
        /* The word of the usage line at this position: VM, CT, HOST, on|off... */
        g_auto(GStrv) want = g_strsplit(v->args, " ", -1);
        const char *w = argi < g_strv_length(want) ? want[argi] : "";
        g_autofree char *bare = g_strdelimit(g_strdup(w), "[].", ' ');
        g_strstrip(bare);
        if (strcmp(bare, "VM") == 0)
            print_api_names("/vms", "vms", NULL);
        else if (strcmp(bare, "CT") == 0)
            print_api_names("/vms", "vms", "container");
        else if (strcmp(bare, "HOST") == 0)
            print_api_names("/hosts", "hosts", NULL);
        else if (strchr(bare, '|') && !strchr(bare, ' ')) {
            g_auto(GStrv) alts = g_strsplit(bare, "|", -1);
            for (size_t i = 0; alts[i]; i++)
                printf("%s\n", alts[i]);
        }
    }
    g_ptr_array_unref(pos);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    const char *noun = NULL;
    const char *verb = NULL;

    setlocale(LC_ALL, "");
    g_set_prgname("kanri");

    if (argc >= 2 && strcmp(argv[1], "__complete") == 0)
        return complete(argc - 2, argv + 2);
    find_words(argc, argv, &noun, &verb);
    if (!noun)
        return run_top(&argc, &argv);
    if (!noun_known(noun)) {
        g_autofree char *clean = text_sanitize(noun);
        return cli_usage_error("unknown command '%s'", clean);
    }
    current_noun = noun;
    if (noun_has_verbs(noun)) {
        if (!verb && find_implied(noun) && !wants_help(argc, argv)) {
            cli_current = find_implied(noun);
            return run_verb(cli_current, true, &argc, &argv);
        }
        if (!verb)
            return run_noun(noun, &argc, &argv);
        cli_current = find_verb(noun, verb);
        if (!cli_current) {
            g_autofree char *clean = text_sanitize(verb);
            return cli_usage_error("%s: unknown command '%s'", noun, clean);
        }
    } else {
        cli_current = find_verb(noun, NULL);
    }
    return run_verb(cli_current, false, &argc, &argv);
}
