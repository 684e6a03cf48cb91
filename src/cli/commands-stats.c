/*
 * kanri vm stats: a VM's host view and guest view side by side, from
 * GET /vms/{id}/metrics?view=host and ?view=guest.  The two are printed in
 * separate columns and never stand in for each other: a missing guest
 * figure prints as "-" with the reason below the table.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

enum unit { U_CPU, U_BYTES, U_BYTES_RATE };

struct row {
    const char *label;
    const char *host;  /* host-view metric, or NULL */
    const char *guest; /* guest-view metric, or NULL */
    enum unit unit;
};

static const struct row rows[] = {
    {"CPU used", "cpu_time_ns", "cpu_user_ns", U_CPU},
    {"CPU in guest kernel", NULL, "cpu_system_ns", U_CPU},
    {"Steal / vCPU delay", "vcpu_delay_ns", "cpu_steal_ns", U_CPU},
    {"I/O wait", "vcpu_wait_ns", "cpu_iowait_ns", U_CPU},
    {"Memory", "balloon_current", "mem_total", U_BYTES},
    {"Memory available", NULL, "mem_available", U_BYTES},
    {"Memory free", NULL, "mem_free", U_BYTES},
    {"QEMU resident (RSS)", "balloon_rss", NULL, U_BYTES},
    {"Disk read", "block_rd_bytes", "disk_read_bytes", U_BYTES_RATE},
    {"Disk written", "block_wr_bytes", "disk_write_bytes", U_BYTES_RATE},
    {"Network received", "net_rx_bytes", "net_rx_bytes", U_BYTES_RATE},
    {"Network sent", "net_tx_bytes", "net_tx_bytes", U_BYTES_RATE},
    {"Disk space (image / fs)", "block_allocation", "fs_used", U_BYTES},
    {"Disk size", "block_capacity", "fs_total", U_BYTES},
};

static char *value_text(double v, enum unit u)
{
    switch (u) {
    case U_CPU: /* ns per second -> percent of one CPU */
        return g_strdup_printf("%.1f %%", v / 1e7);
    case U_BYTES:
        return size_format((guint64)(v < 0 ? 0 : v));
    case U_BYTES_RATE: {
        g_autofree char *s = size_format((guint64)(v < 0 ? 0 : v));
        return g_strdup_printf("%s/s", s);
    }
    }
    return g_strdup("?");
}

/* The series of METRIC in SOURCE (an element of "sources"). */
static struct json_object *find_points(struct json_object *source, const char *metric)
{
    struct json_object *series = jarray(source, "series");
    for (size_t i = 0; series && i < json_object_array_length(series); i++) {
        struct json_object *s = json_object_array_get_idx(series, i);
        const char *m = jstr(s, "metric");
        if (m && g_str_equal(m, metric))
            return jarray(s, "points");
    }
    return NULL;
}

struct stat_cell {
    bool have;
    double now, avg;
    const char *source;
    const char *t;
};

/* Latest and average of METRIC in the first source that has it.  Guest
 * sources are tried in the reply's order: qga, balloon, kanri-guestd. */
static struct stat_cell cell_of(struct json_object *reply, const char *metric)
{
    struct stat_cell c = {0};
    struct json_object *sources = jarray(reply, "sources");
    for (size_t i = 0; metric && sources && i < json_object_array_length(sources); i++) {
        struct json_object *src = json_object_array_get_idx(sources, i);
        struct json_object *pts = find_points(src, metric);
        size_t n = pts ? json_object_array_length(pts) : 0;
        if (!n)
            continue;
        double sum = 0;
        for (size_t k = 0; k < n; k++)
            sum += json_object_get_double(
                json_object_object_get(json_object_array_get_idx(pts, k), "v"));
        struct json_object *last = json_object_array_get_idx(pts, n - 1);
        c.have = true;
        c.now = json_object_get_double(json_object_object_get(last, "v"));
        c.avg = sum / (double)n;
        c.source = jstr(src, "source");
        c.t = jstr(last, "t");
        return c;
    }
    return c;
}

int cmd_vm_stats(const struct cli_verb *v, char **args, guint n)
{
    const char *since = cli_opts.since ? cli_opts.since : "1h";
    g_autofree char *esc = http_escape(args[0]);
    g_autofree char *since_esc = http_escape(since);
    g_autoptr(json_object) host = NULL, guest = NULL;
    g_autofree char *hp =
        g_strdup_printf("/vms/%s/metrics?view=host&metric=all&from=%s", esc, since_esc);
    g_autofree char *gp =
        g_strdup_printf("/vms/%s/metrics?view=guest&metric=all&from=%s", esc, since_esc);
    int r = api_request("GET", hp, NULL, &host);
    if (r != CLI_EXIT_OK)
        return r;
    r = api_request("GET", gp, NULL, &guest);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        g_autoptr(json_object) both = json_object_new_object();
        json_object_object_add(both, "host", json_object_get(host));
        json_object_object_add(both, "guest", json_object_get(guest));
        print_json(both);
        return CLI_EXIT_OK;
    }

    struct json_object *vm = jobject(host, "vm");
    printf("%s on %s (%s), since %s\n\n", jstr(vm, "name") ? jstr(vm, "name") : args[0],
           jstr(vm, "host") ? jstr(vm, "host") : "?", jstr(vm, "uuid") ? jstr(vm, "uuid") : "?",
           since);
    static const char *const cols[] = {"",       "HOST VIEW",        "avg", "GUEST VIEW", "avg",
                                       "source", "last guest sample"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    for (int k = 1; k <= 4; k++)
        table_align_right(t, (guint)k);
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        struct stat_cell h = cell_of(host, rows[i].host);
        struct stat_cell g = cell_of(guest, rows[i].guest);
        table_add(t, rows[i].label);
        g_autofree char *hn = h.have ? value_text(h.now, rows[i].unit) : g_strdup("-");
        g_autofree char *ha = h.have ? value_text(h.avg, rows[i].unit) : g_strdup("-");
        g_autofree char *gn = g.have ? value_text(g.now, rows[i].unit) : g_strdup("-");
        g_autofree char *ga = g.have ? value_text(g.avg, rows[i].unit) : g_strdup("-");
        table_add(t, hn);
        table_add(t, ha);
        table_add(t, gn);
        table_add(t, ga);
        table_add(t, g.have ? g.source : "-");
        table_add(t, g.have ? g.t : "-");
    }
    print_table(t);

    /* Why a view has no figures: said, never papered over. */
    struct json_object *avail = jobject(guest, "availability");
    if (avail && json_object_object_length(avail) > 0) {
        printf("\n");
        json_object_object_foreach(avail, part, st)
        {
            bool ok = false;
            jbool(st, "available", &ok);
            if (ok)
                printf("%-13s available\n", part);
            else
                printf("%-13s UNAVAILABLE since %s: %s\n", part,
                       jstr(st, "since") ? jstr(st, "since") : "?",
                       jstr(st, "reason") ? jstr(st, "reason") : "no reason given");
        }
    }
    printf("\nCPU as %% of one CPU; host counts the QEMU process, the guest its own clock.\n");
    return CLI_EXIT_OK;
}

/* kanri machine stats: a machine's guest view (all a server without a
 * hypervisor has), the same rows as vm stats' guest columns. */
int cmd_machine_stats(const struct cli_verb *v, char **args, guint n)
{
    const char *since = cli_opts.since ? cli_opts.since : "1h";
    g_autofree char *esc = http_escape(args[0]);
    g_autofree char *since_esc = http_escape(since);
    g_autofree char *path = g_strdup_printf("/machines/%s/metrics?metric=all&from=%s", esc,
                                            since_esc);
    g_autoptr(json_object) guest = NULL;
    int r = api_request("GET", path, NULL, &guest);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_opts.json) {
        print_json(guest);
        return CLI_EXIT_OK;
    }
    struct json_object *m = jobject(guest, "machine");
    printf("%s (%s), since %s\n\n", jstr(m, "name") ? jstr(m, "name") : args[0],
           jstr(m, "uuid") ? jstr(m, "uuid") : "?", since);
    static const char *const cols[] = {"", "GUEST VIEW", "avg", "last sample"};
    g_autoptr(table) t = table_new(G_N_ELEMENTS(cols), cols);
    table_align_right(t, 1);
    table_align_right(t, 2);
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        if (!rows[i].guest)
            continue;
        struct stat_cell g = cell_of(guest, rows[i].guest);
        g_autofree char *gn = g.have ? value_text(g.now, rows[i].unit) : g_strdup("-");
        g_autofree char *ga = g.have ? value_text(g.avg, rows[i].unit) : g_strdup("-");
        table_add(t, rows[i].label);
        table_add(t, gn);
        table_add(t, ga);
        table_add(t, g.have ? g.t : "-");
    }
    print_table(t);
    printf("\nCPU as %% of one CPU, by the machine's own clock (kanri-guestd).\n");
    return CLI_EXIT_OK;
}
