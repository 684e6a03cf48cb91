/* kanri --output yaml: JSON values written as YAML (src/cli/yaml.c).  The
 * integration test reads kanri's YAML back with PyYAML; here, the exact
 * text of the cases that decide quoting and layout. */
#include "config.h"

#include "cli/yaml.h"

#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void check(const char *json, const char *want)
{
    struct json_object *v = json_tokener_parse(json);
    g_autofree char *got = yaml_from_json(v);
    json_object_put(v);
    if (strcmp(got, want) != 0)
        fail_msg("%s\n--- got ---\n%s--- want ---\n%s", json, got, want);
}

static void test_scalars_quoted_when_they_could_read_otherwise(void **state)
{
    (void)state;
    check("\"running\"", "running\n");
    check("\"web-1.example/a@b\"", "web-1.example/a@b\n");
    /* YAML would read these as numbers, booleans, null or dates. */
    check("\"123\"", "\"123\"\n");
    check("\"yes\"", "\"yes\"\n");
    check("\"Off\"", "\"Off\"\n");
    check("\"null\"", "\"null\"\n");
    check("\"2026-12-05T01:00:00Z\"", "\"2026-12-05T01:00:00Z\"\n");
    check("\"-x\"", "\"-x\"\n");
    check("\"\"", "\"\"\n");
    /* YAML's own characters, and control characters, escaped as JSON does. */
    check("\"a: b # c\"", "\"a: b # c\"\n");
    check("\"line\\nnext\\ttab \\\"q\\\"\"", "\"line\\nnext\\ttab \\\"q\\\"\"\n");
    check("\"caf\\u00e9\"", "\"café\"\n");
    check("42", "42\n");
    check("-1.5", "-1.5\n");
    check("true", "true\n");
    check("null", "null\n");
}

static void test_layout(void **state)
{
    (void)state;
    check("{\"vms\": [{\"name\": \"a\", \"vcpus\": 2, \"disks\": [\"vda\", \"vdb\"]},"
          " {\"name\": \"b\", \"tags\": {}, \"nics\": []}], \"count\": 2}",
          "vms:\n"
          "  - name: a\n"
          "    vcpus: 2\n"
          "    disks:\n"
          "      - vda\n"
          "      - vdb\n"
          "  - name: b\n"
          "    tags: {}\n"
          "    nics: []\n"
          "count: 2\n");
    check("[[1, 2], {\"k\": null}]", "- - 1\n  - 2\n- k: null\n");
    check("{}", "{}\n");
    check("{\"a key\": 1, \"9\": \"x\"}", "\"a key\": 1\n\"9\": x\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_quoted_when_they_could_read_otherwise),
        cmocka_unit_test(test_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
