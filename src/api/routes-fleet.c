/*
 * GET /api/v1/fleet[?host=NAME]: every host and VM at a glance, in one
 * request (docs/api.md).  Three inventory queries (hosts, VMs, pools),
 * the rest from the engine's latest view (engine_fleet()); the reply is
 * written as JSON text directly, as the long lists are, since a json-c
 * tree of 1 000 VMs costs more than everything else here.
 */
#include "config.h"

#include "api/api-private.h"

#include "basic/util.h"
#include "engine/fleet.h"

#include <math.h>
#include <string.h>

static void put_key(GString *out, const char *key)
{
    if (out->len && out->str[out->len - 1] != '{')
        g_string_append_c(out, ',');
    api_json_string(out, key);
    g_string_append_c(out, ':');
}

static void put_str(GString *out, const char *key, const char *s)
{
    put_key(out, key);
    if (s)
        api_json_string(out, s);
    else
        g_string_append(out, "null");
}

static void put_int(GString *out, const char *key, int64_t n)
{
    put_key(out, key);
    if (n == ROW_INT_ABSENT)
        g_string_append(out, "null");
    else
        g_string_append_printf(out, "%" G_GINT64_FORMAT, n);
}

static void put_uint(GString *out, const char *key, uint64_t n)
{
    put_key(out, key);
    g_string_append_printf(out, "%" G_GUINT64_FORMAT, n);
}

/* Bytes are whole numbers, whatever arithmetic made them. */
static void put_bytes(GString *out, const char *key, double x)
{
    put_key(out, key);
    if (!isfinite(x))
        g_string_append(out, "null");
    else
        g_string_append_printf(out, "%" G_GINT64_FORMAT, (int64_t)llround(x < 0 ? 0 : x));
}

/* At most three decimals, trailing zeros dropped ("3.2", not
 * "3.2000000000000002"): a thousandth of a percent is what the history
 * keeps of a CPU share (model/sample.h). */
static void put_real(GString *out, const char *key, double x)
{
    put_key(out, key);
    if (!isfinite(x)) {
        g_string_append(out, "null");
        return;
    }
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(buf, sizeof(buf), "%.3f", x);
    char *end = buf + strlen(buf);
    while (end > buf && end[-1] == '0')
        *--end = '\0';
    if (end > buf && end[-1] == '.')
        *--end = '\0';
    g_string_append(out, strcmp(buf, "-0") == 0 ? "0" : buf);
}

static void put_time(GString *out, const char *key, int64_t us)
{
    g_autofree char *t = us ? time_format_rfc3339(us) : NULL;
    put_str(out, key, t);
}

/* {"critical": N, "warning": N, "info": N}: worst first, every severity
 * there, 0 included. */
static void put_findings(GString *out, const char *key, const unsigned n[FLEET_FINDING_SEV_N])
{
    put_key(out, key);
    g_string_append_c(out, '{');
    for (int s = FLEET_FINDING_SEV_N - 1; s >= 0; s--)
        put_uint(out, reconcile_severity_name(s), n[s]);
    g_string_append_c(out, '}');
}

static void put_incidents(GString *out, const char *key, const uint64_t n[SEV_N])
{
    put_key(out, key);
    g_string_append_c(out, '{');
    for (int s = SEV_N - 1; s >= 0; s--)
        put_uint(out, severity_name(s), n[s]);
    g_string_append_c(out, '}');
}

static void put_host(GString *out, const struct fleet_host *h)
{
    g_string_append_c(out, '{');
    put_int(out, "id", h->id);
    put_str(out, "name", h->name);
    put_str(out, "state", h->state);
    put_str(out, "reason", h->reason);
    put_key(out, "maintenance");
    g_string_append(out, h->maintenance ? "true" : "false");
    put_int(out, "cpus", h->cpus);
    put_int(out, "memory_bytes", h->memory_bytes);
    put_uint(out, "vms_total", h->vms_total);
    put_uint(out, "vms_running", h->vms_running);
    put_time(out, "t", h->t_us);
    put_real(out, "cpu_demand_cores", h->cpu_demand_cores);
    put_uint(out, "cpu_demand_vms", h->cpu_demand_vms);
    put_bytes(out, "mem_used_bytes", h->mem_used_bytes);
    put_uint(out, "mem_used_vms", h->mem_used_vms);
    put_int(out, "mem_assigned_bytes", h->mem_assigned_bytes);
    put_uint(out, "pools", h->pools);
    put_int(out, "storage_capacity_bytes", h->storage_capacity_bytes);
    put_int(out, "storage_allocation_bytes", h->storage_allocation_bytes);
    put_int(out, "storage_available_bytes", h->storage_available_bytes);
    put_findings(out, "findings_open", h->findings);
    put_incidents(out, "incidents_open", h->incidents);
    g_string_append_c(out, '}');
}

static void put_vm(GString *out, const struct fleet_vm *v)
{
    g_string_append_c(out, '{');
    put_str(out, "uuid", v->uuid);
    put_str(out, "name", v->name);
    put_str(out, "host", v->host);
    put_str(out, "state", v->state);
    put_str(out, "kind", v->kind);
    put_int(out, "vcpus", v->vcpus);
    put_int(out, "memory_bytes", v->memory_bytes);
    put_time(out, "t", v->t_us);
    put_real(out, "cpu_demand_pct", v->cpu_demand_pct);
    put_bytes(out, "mem_used_bytes", v->mem_used_bytes);
    put_bytes(out, "mem_total_bytes", v->mem_total_bytes);
    put_bytes(out, "disk_used_bytes", v->disk_used_bytes);
    put_uint(out, "findings_open", fleet_vm_findings_open(v));
    int worst = fleet_vm_worst(v);
    put_str(out, "worst_severity", worst >= 0 ? reconcile_severity_name(worst) : NULL);
    g_string_append_c(out, '}');
}

/* The fleet as the JSON of docs/api.md; taken by the reply. */
static GString *fleet_text(const struct fleet *f)
{
    GString *out = g_string_sized_new(1024 + f->hosts->len * 700 + f->vms->len * 400);
    g_string_append_c(out, '{');
    put_time(out, "time", f->time_us);
    put_key(out, "hosts");
    g_string_append_c(out, '[');
    for (guint i = 0; i < f->hosts->len; i++) {
        if (i)
            g_string_append_c(out, ',');
        put_host(out, &g_array_index(f->hosts, struct fleet_host, i));
    }
    g_string_append(out, "],");
    api_json_string(out, "vms");
    g_string_append(out, ":[");
    for (guint i = 0; i < f->vms->len; i++) {
        if (i)
            g_string_append_c(out, ',');
        put_vm(out, &g_array_index(f->vms, struct fleet_vm, i));
    }
    g_string_append_c(out, ']');
    put_findings(out, "findings_open", f->findings);
    put_incidents(out, "incidents_open", f->incidents);
    g_string_append(out, "}\n");
    return out;
}

void h_fleet(struct req *r)
{
    struct store *st = req_store(r);
    const char *host = req_arg(r, "host");
    g_autoptr(GError) err = NULL;
    g_autoptr(rows) hosts = st->ops->hosts_query(st, host, &err);
    if (!hosts) {
        req_rows(r, NULL, err);
        return;
    }
    if (host) {
        /* By name, as /vms?host= and /pools?host= take it (the query also
         * matches an id). */
        for (guint i = rows_len(hosts); i-- > 0;) {
            struct host_row *h = rows_get(hosts, i);
            if (g_strcmp0(h->name, host) == 0)
                continue;
            g_ptr_array_remove_index(hosts->items, i);
            row_clear(hosts->desc, h);
            g_free(h);
        }
        if (rows_len(hosts) == 0) {
            req_problem(r, 404, "host: no host named '%s' (see GET /api/v1/hosts)", host);
            return;
        }
    }
    g_autoptr(rows) vms = st->ops->vms_query(st, &(struct vm_filter){.host = host}, 0, false, &err);
    if (!vms) {
        req_rows(r, NULL, err);
        return;
    }
    g_autoptr(rows) pools = st->ops->pools_query(st, host, &err);
    if (!pools) {
        req_rows(r, NULL, err);
        return;
    }
    g_autoptr(fleet) f = engine_fleet(req_engine(r), hosts, vms, pools, host == NULL);
    req_text(r, 200, fleet_text(f), "application/json");
}
