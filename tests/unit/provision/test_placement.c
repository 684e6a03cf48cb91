/*
 * provision/placement: golden choices.  A case is a "need" line and one
 * "host" line per host:
 *
 *   need VCPUS MEMORY_MIB
 *   host NAME [down] [maintenance] [blind] cpus=N mem=MIB [used=MIB] [assigned=MIB]
 *
 * (blind: does not see the template's images; without used= no VM has R.)
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

#include "../golden.h"
#include "provision/placement.h"

static const char *data_dir;

#define MIB (1024 * 1024)

static char *run(const char *text)
{
    g_autoptr(GArray) hosts = g_array_new(FALSE, TRUE, sizeof(struct place_host));
    struct place_need need = {0};
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) w = g_strsplit(lines[i], " ", -1);
        if (!w[0] || !*w[0] || w[0][0] == '#')
            continue;
        if (strcmp(w[0], "need") == 0) {
            need.vcpus = g_ascii_strtoll(w[1], NULL, 10);
            need.memory_bytes = g_ascii_strtoll(w[2], NULL, 10) * MIB;
            continue;
        }
        assert_string_equal(w[0], "host");
        struct place_host h = {.name = g_intern_string(w[1]),
                               .connected = true,
                               .sees_images = true,
                               .mem_used_bytes = NAN};
        for (size_t k = 2; w[k]; k++) {
            const char *eq = strchr(w[k], '=');
            int64_t v = eq ? g_ascii_strtoll(eq + 1, NULL, 10) : 0;
            if (strcmp(w[k], "down") == 0)
                h.connected = false;
            else if (strcmp(w[k], "maintenance") == 0)
                h.maintenance = true;
            else if (strcmp(w[k], "blind") == 0)
                h.sees_images = false;
            else if (g_str_has_prefix(w[k], "cpus="))
                h.cpus = v;
            else if (g_str_has_prefix(w[k], "mem="))
                h.memory_bytes = v * MIB;
            else if (g_str_has_prefix(w[k], "used="))
                h.mem_used_bytes = (double)v * MIB;
            else if (g_str_has_prefix(w[k], "assigned="))
                h.mem_assigned_bytes = v * MIB;
            else
                fail_msg("bad host word '%s'", w[k]);
        }
        g_array_append_val(hosts, h);
    }
    g_autofree char *reason = NULL;
    int i = place_choose((const struct place_host *)hosts->data, hosts->len, &need, &reason);
    return g_strdup_printf(
        "%s\n%s\n", i < 0 ? "none" : g_array_index(hosts, struct place_host, i).name, reason);
}

static void test_golden(void **state)
{
    (void)state;
    g_autofree char *dir = g_build_filename(data_dir, "placement", NULL);
    golden_each(dir, run, 5);
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "tests/data/provision";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
