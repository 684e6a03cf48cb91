/*
 * report/capacity: golden demand, fits and what-ifs.  A case:
 *
 *   host NAME cpus=N mem=SIZE [disk=SIZE free=SIZE] [unusable]
 *   vm HOST vcpus=N mem=SIZE [disk=SIZE] [host_disk=SIZE] [cpu=PCT] [used=SIZE] [dused=SIZE]
 *   size vcpus=N mem=SIZE disk=SIZE
 *   like cpu_cores=X mem_used=SIZE disk=SIZE vcpus=N mem=SIZE     (a size by demand)
 *   remove HOST
 *   add N
 *
 * SIZE: a number with K, M, G or T (powers of 1024).  A vm without cpu=,
 * used= or dused= has no reconciled figure for it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"
#include "report/capacity.h"

static const char *data_dir;

static double size_of(const char *s)
{
    char *end;
    double v = g_ascii_strtod(s, &end);
    switch (*end) {
    case 'T':
        v *= 1024;
        /* fall through */
    case 'G':
        v *= 1024;
        /* fall through */
    case 'M':
        v *= 1024;
        /* fall through */
    case 'K':
        v *= 1024;
        break;
    default:
        break;
    }
    return v;
}

static double kv(char **w, const char *key, double dflt)
{
    size_t n = strlen(key);
    for (size_t i = 1; w[i]; i++) {
        if (strncmp(w[i], key, n) == 0 && w[i][n] == '=')
            return size_of(w[i] + n + 1);
    }
    return dflt;
}

static bool has(char **w, const char *word)
{
    for (size_t i = 1; w[i]; i++) {
        if (strcmp(w[i], word) == 0)
            return true;
    }
    return false;
}

static void gib(GString *out, double b)
{
    g_string_append_printf(out, "%.1fG", b / (1024.0 * 1024 * 1024));
}

static void count(GString *out, int64_t n)
{
    if (n == INT64_MAX)
        g_string_append(out, "any");
    else
        g_string_append_printf(out, "%" G_GINT64_FORMAT, n);
}

static void print_hosts(GString *out, const struct cap_host *h, size_t n, const struct cap_size *x)
{
    for (size_t i = 0; i < n; i++) {
        struct cap_fit f;
        cap_fit(&h[i], x, &f);
        g_string_append_printf(out,
                               "%s: %" G_GINT64_FORMAT " vms, %" G_GINT64_FORMAT
                               " vcpus on %" G_GINT64_FORMAT " cpus, demand %.2f cores, ",
                               h[i].name, h[i].d.vms, h[i].d.vcpus, h[i].cpus, h[i].d.cpu_cores);
        gib(out, h[i].d.memory_bytes_used);
        g_string_append(out, " of ");
        gib(out, (double)h[i].memory_bytes);
        g_string_append_printf(out, " (%" G_GINT64_FORMAT " without a view); fits ",
                               h[i].d.without_view);
        count(out, f.n);
        g_string_append(out, " (cpu ");
        count(out, f.by[CAP_CPU]);
        g_string_append(out, ", memory ");
        count(out, f.by[CAP_MEMORY]);
        g_string_append(out, ", disk ");
        count(out, f.by[CAP_DISK]);
        g_string_append_printf(out, ") limited by %s%s\n", cap_resource_name(f.limited),
                               h[i].usable ? "" : ", not usable");
    }
}

static char *run(const char *text)
{
    g_autoptr(GArray) hosts = g_array_new(FALSE, TRUE, sizeof(struct cap_host));
    g_autoptr(GPtrArray) vms = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    struct cap_size x;
    cap_size_of(1, 1 << 30, 10LL << 30, &x);
    struct cap_whatif w = {.remove = -1};
    bool whatif = false;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) t = g_strsplit(lines[i], " ", -1);
        if (!t[0] || !*t[0] || t[0][0] == '#')
            continue;
        if (strcmp(t[0], "host") == 0) {
            struct cap_host h = {.name = g_intern_string(t[1]),
                                 .usable = !has(t, "unusable"),
                                 .cpus = (int64_t)kv(t, "cpus", 0),
                                 .memory_bytes = (int64_t)kv(t, "mem", 0),
                                 .disk_bytes = (int64_t)kv(t, "disk", 0),
                                 .disk_free_bytes = (int64_t)kv(t, "free", 0)};
            g_array_append_val(hosts, h);
            g_ptr_array_add(vms, g_array_new(FALSE, TRUE, sizeof(struct cap_vm)));
        } else if (strcmp(t[0], "vm") == 0) {
            guint hi = 0;
            while (hi < hosts->len &&
                   strcmp(g_array_index(hosts, struct cap_host, hi).name, t[1]) != 0)
                hi++;
            assert_true(hi < hosts->len);
            struct cap_vm v = {.vcpus = (int64_t)kv(t, "vcpus", 1),
                               .memory_bytes = (int64_t)kv(t, "mem", 0),
                               .disk_bytes = (int64_t)kv(t, "disk", 0),
                               .disk_host_bytes = (int64_t)kv(t, "host_disk", 0),
                               .cpu_demand_pct = kv(t, "cpu", NAN),
                               .mem_used_bytes = kv(t, "used", NAN),
                               .disk_used_bytes = kv(t, "dused", NAN)};
            g_array_append_val(g_ptr_array_index(vms, hi), v);
        } else if (strcmp(t[0], "size") == 0) {
            cap_size_of((int64_t)kv(t, "vcpus", 1), (int64_t)kv(t, "mem", 0),
                        (int64_t)kv(t, "disk", 0), &x);
        } else if (strcmp(t[0], "like") == 0) {
            x = (struct cap_size){.vcpus = (int64_t)kv(t, "vcpus", 1),
                                  .memory_bytes = (int64_t)kv(t, "mem", 0),
                                  .disk_bytes = (int64_t)kv(t, "disk", 0),
                                  .cpu_cores = kv(t, "cpu_cores", 0),
                                  .memory_bytes_used = kv(t, "mem_used", 0),
                                  .disk_bytes_used = kv(t, "disk", 0)};
        } else if (strcmp(t[0], "remove") == 0) {
            for (guint k = 0; k < hosts->len; k++) {
                if (strcmp(g_array_index(hosts, struct cap_host, k).name, t[1]) == 0)
                    w.remove = (int)k;
            }
            whatif = true;
        } else if (strcmp(t[0], "add") == 0) {
            w.add = atoi(t[1]);
            whatif = true;
        } else {
            fail_msg("bad line '%s'", lines[i]);
        }
    }
    for (guint i = 0; i < hosts->len; i++) {
        GArray *v = g_ptr_array_index(vms, i);
        cap_demand_sum((const struct cap_vm *)v->data, v->len,
                       &g_array_index(hosts, struct cap_host, i).d);
    }
    GString *out = g_string_new(NULL);
    print_hosts(out, (const struct cap_host *)hosts->data, hosts->len, &x);
    if (whatif) {
        w.add_size = x;
        g_autofree struct cap_host *after = g_new(struct cap_host, hosts->len);
        struct cap_whatif_result r;
        cap_whatif_apply((const struct cap_host *)hosts->data, hosts->len, &w, after, &r);
        g_string_append_printf(out,
                               "after: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                               " placed; the removed host's VMs %s\n",
                               r.placed, w.add, r.moved_fits ? "fit" : "do not fit");
        print_hosts(out, after, hosts->len, &x);
    }
    return g_string_free(out, FALSE);
}

static void test_golden(void **state)
{
    (void)state;
    g_autofree char *dir = g_build_filename(data_dir, "capacity", NULL);
    golden_each(dir, run, 5);
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/report";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
