/* Machine identity and sequence numbers. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "identity.h"
#include "testutil.h"

static void test_uuid_normalize(void **state)
{
    char out[UUID_STR_LEN];
    assert_true(uuid_normalize("4C4C4544-0042-3910-8052-B7C04F4A4D32\n", 37, out));
    assert_string_equal(out, "4c4c4544-0042-3910-8052-b7c04f4a4d32");
    assert_true(uuid_normalize("  6f1c2b9e-3d4a-4e5f-8a7b-9c0d1e2f3a4b ", 39, out));
    assert_false(uuid_normalize("00000000-0000-0000-0000-000000000000", 36, out));
    assert_false(uuid_normalize("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", 36, out));
    assert_false(uuid_normalize("6f1c2b9e3d4a4e5f8a7b9c0d1e2f3a4b", 32, out));
    assert_false(uuid_normalize("6f1c2b9e-3d4a-4e5f-8a7b-9c0d1e2f3a4g", 36, out));
    assert_false(uuid_normalize("6f1c2b9e-3d4a-4e5f-8a7b_9c0d1e2f3a4b", 36, out));
    assert_false(uuid_normalize("", 0, out));
}

static void test_uuid_generate(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], n[UUID_STR_LEN];
    assert_int_equal(uuid_generate_v4(a), 0);
    assert_int_equal(uuid_generate_v4(b), 0);
    assert_string_not_equal(a, b);
    assert_true(uuid_normalize(a, strlen(a), n));
    assert_string_equal(a, n);
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
}

static void test_identity_smbios(void **state)
{
    char *root = tu_mkdtemp(), *st = tu_mkdtemp(), p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/sys/class/dmi/id/product_uuid", root);
    tu_write_file(p, "4C4C4544-0042-3910-8052-B7C04F4A4D32\n", 37);
    struct identity id;
    assert_int_equal(identity_load(root, NULL, st, &id), 0);
    assert_int_equal(id.source, ID_SOURCE_SMBIOS);
    assert_string_equal(id.uuid, "4c4c4544-0042-3910-8052-b7c04f4a4d32");
    assert_string_equal(id_source_name(id.source), "smbios");
    tu_rm_rf(root);
    tu_rm_rf(st);
    free(root);
    free(st);
}

static void test_identity_generated(void **state)
{
    char *root = tu_mkdtemp(), *st = tu_mkdtemp(), p[PATH_MAX];
    /* An unset firmware UUID must not be used. */
    snprintf(p, sizeof(p), "%s/sys/class/dmi/id/product_uuid", root);
    tu_write_file(p, "00000000-0000-0000-0000-000000000000\n", 37);
    struct identity a, b;
    assert_int_equal(identity_load(root, NULL, st, &a), 0);
    assert_int_equal(a.source, ID_SOURCE_GENERATED);
    assert_string_equal(id_source_name(a.source), "generated");
    /* Kept: the second start gives the same id. */
    assert_int_equal(identity_load(root, NULL, st, &b), 0);
    assert_string_equal(a.uuid, b.uuid);
    snprintf(p, sizeof(p), "%s/machine-id", st);
    char *kept = tu_read_file(p, NULL);
    assert_non_null(kept);
    assert_int_equal(strncmp(kept, a.uuid, 36), 0);
    free(kept);
    tu_rm_rf(root);
    tu_rm_rf(st);
    free(root);
    free(st);
}

#define IDDATA         TEST_DATA_DIR "/guest/identity"
#define CONTAINER_UUID "6f1c2b9e-3d4a-4e5f-8a7b-9c0d1e2f3a4b"
#define HOST_UUID      "4c4c4544-0042-3910-8052-b7c04f4a4d32"

/* Loads the identity of the fake root IDDATA/name with own_env. */
static void load_case(const char *name, char *const *own_env, struct identity *id, char **ret_st)
{
    char root[PATH_MAX];
    snprintf(root, sizeof(root), "%s/%s", IDDATA, name);
    *ret_st = tu_mkdtemp();
    assert_int_equal(identity_load(root, own_env, *ret_st, id), 0);
}

static void drop_state(char *st)
{
    tu_rm_rf(st);
    free(st);
}

/* container=lxc and KANRI_CONTAINER_UUID in PID 1's environment: the
 * container's UUID, lower-cased, never the host's firmware UUID. */
static void test_container_uuid(void **state)
{
    struct identity id;
    char *st;
    load_case("lxc-uuid", NULL, &id, &st);
    assert_true(id.in_container);
    assert_int_equal(id.source, ID_SOURCE_CONTAINER);
    assert_string_equal(id_source_name(id.source), "container");
    assert_string_equal(id.uuid, CONTAINER_UUID);
    assert_string_equal(id.message, "");
    drop_state(st);

    /* PID 1's value wins over the agent's own (lxc-attach's environment),
     * and the disagreement is reported. */
    char *own[] = {"container=lxc", "KANRI_CONTAINER_UUID=0b3a8039-14c1-4a64-9e0c-6e2a1f0d5c77",
                   NULL};
    load_case("lxc-uuid", own, &id, &st);
    assert_int_equal(id.source, ID_SOURCE_CONTAINER);
    assert_string_equal(id.uuid, CONTAINER_UUID);
    assert_non_null(strstr(id.message, "differs from PID 1's"));
    drop_state(st);
}

/* container=lxc without KANRI_CONTAINER_UUID: the machine-id logic, not
 * the host's firmware UUID. */
static void test_container_no_uuid(void **state)
{
    struct identity id, again;
    char *st;
    load_case("lxc-only", NULL, &id, &st);
    assert_true(id.in_container);
    assert_int_equal(id.source, ID_SOURCE_GENERATED);
    assert_string_equal(id_source_name(id.source), "generated");
    assert_string_not_equal(id.uuid, HOST_UUID);
    assert_string_equal(id.message, "");
    /* Kept in the state directory like any generated id. */
    char root[PATH_MAX];
    snprintf(root, sizeof(root), "%s/lxc-only", IDDATA);
    assert_int_equal(identity_load(root, NULL, st, &again), 0);
    assert_string_equal(again.uuid, id.uuid);
    drop_state(st);

    /* The agent's own environment (a guestd started with lxc-attach, PID
     * 1's environ unreadable or not a container's) is enough. */
    char *own[] = {"PATH=/bin", "KANRI_CONTAINER_UUID=6F1C2B9E-3D4A-4E5F-8A7B-9C0D1E2F3A4B", NULL};
    load_case("none", own, &id, &st);
    assert_true(id.in_container);
    assert_int_equal(id.source, ID_SOURCE_CONTAINER);
    assert_string_equal(id.uuid, CONTAINER_UUID);
    drop_state(st);

    char *own_marker[] = {"container=lxc", NULL};
    load_case("none", own_marker, &id, &st);
    assert_true(id.in_container);
    assert_int_equal(id.source, ID_SOURCE_GENERATED);
    assert_string_not_equal(id.uuid, HOST_UUID);
    drop_state(st);
}

/* An invalid KANRI_CONTAINER_UUID is named in the message and ignored: still
 * a container, so the machine-id logic. */
static void test_container_bad_uuid(void **state)
{
    struct identity id;
    char *st;
    load_case("lxc-bad-uuid", NULL, &id, &st);
    assert_true(id.in_container);
    assert_int_equal(id.source, ID_SOURCE_GENERATED);
    assert_string_not_equal(id.uuid, HOST_UUID);
    assert_string_equal(id.message, "KANRI_CONTAINER_UUID=\"web-1\" in PID 1's environment is not "
                                    "a UUID; ignored");
    drop_state(st);

    /* Ignored means absent: a valid value of the agent's own is used. */
    char *own[] = {"KANRI_CONTAINER_UUID=" CONTAINER_UUID, NULL};
    load_case("lxc-bad-uuid", own, &id, &st);
    assert_int_equal(id.source, ID_SOURCE_CONTAINER);
    assert_string_equal(id.uuid, CONTAINER_UUID);
    assert_non_null(strstr(id.message, "web-1"));
    drop_state(st);

    /* A hostile value is shown printable and shortened. */
    char *evil[] = {
        "KANRI_CONTAINER_UUID=\x1b[31m"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        NULL};
    load_case("none", evil, &id, &st);
    assert_true(id.in_container);
    assert_int_equal(id.source, ID_SOURCE_GENERATED);
    assert_null(strchr(id.message, '\x1b'));
    assert_non_null(strstr(id.message, "?[31mxxx"));
    assert_non_null(strstr(id.message, "...\" in the agent's environment"));
    drop_state(st);
}

/* No container: a VM keeps its firmware UUID. */
static void test_container_none(void **state)
{
    struct identity id;
    char *st;
    char *own[] = {"PATH=/bin", "HOME=/root", NULL};
    load_case("none", own, &id, &st);
    assert_false(id.in_container);
    assert_int_equal(id.source, ID_SOURCE_SMBIOS);
    assert_string_equal(id.uuid, HOST_UUID);
    assert_string_equal(id.message, "");
    drop_state(st);
}

/* Without a readable /proc/1/environ, a container manager's marker file
 * still keeps the host's firmware UUID out; a PID 1 environment longer than
 * the bound is read up to it. */
static void test_container_marker_and_bound(void **state)
{
    char *root = tu_mkdtemp(), p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/sys/class/dmi/id/product_uuid", root);
    tu_write_file(p, HOST_UUID "\n", 37);
    snprintf(p, sizeof(p), "%s/run/systemd/container", root);
    tu_write_file(p, "lxc\n", 4);
    struct container_hint h;
    container_detect(root, NULL, &h);
    assert_true(h.in_container);
    assert_string_equal(h.uuid, "");
    tu_rm_rf(root);
    free(root);

    root = tu_mkdtemp();
    size_t big = CONTAINER_ENVIRON_MAX + 4096;
    char *env = malloc(big);
    assert_non_null(env);
    memset(env, 'a', big);
    memcpy(env, "FILLER=", 7);
    const char tail_ok[] = "KANRI_CONTAINER_UUID=" CONTAINER_UUID;
    /* One entry inside the bound, one past it (ignored). */
    size_t at = CONTAINER_ENVIRON_MAX - sizeof(tail_ok) - 16;
    env[at - 1] = '\0';
    memcpy(env + at, tail_ok, sizeof(tail_ok)); /* with its NUL */
    env[big - 1] = '\0';
    snprintf(p, sizeof(p), "%s/proc/1/environ", root);
    tu_write_file(p, env, big);
    container_detect(root, NULL, &h);
    assert_true(h.in_container);
    assert_string_equal(h.uuid, CONTAINER_UUID);
    /* The same entry cut by the bound is not trusted. */
    at = CONTAINER_ENVIRON_MAX - 10;
    memset(env, 'a', big);
    memcpy(env, "FILLER=", 7);
    env[at - 1] = '\0';
    memcpy(env + at, tail_ok, sizeof(tail_ok));
    tu_write_file(p, env, big);
    container_detect(root, NULL, &h);
    assert_false(h.in_container);
    assert_string_equal(h.uuid, "");
    free(env);
    tu_rm_rf(root);
    free(root);
}

static void test_seq(void **state)
{
    char *st = tu_mkdtemp();
    struct seqgen g;
    uint64_t v = 0, last = 0;
    assert_int_equal(seqgen_open(&g, st), 0);
    for (int i = 0; i < SEQ_BLOCK + 10; i++) {
        assert_int_equal(seqgen_next(&g, &v), 0);
        assert_true(v > last);
        last = v;
    }
    assert_true(last == SEQ_BLOCK + 10);
    /* A restart continues after the reserved block: never backwards. */
    struct seqgen g2;
    assert_int_equal(seqgen_open(&g2, st), 0);
    assert_int_equal(seqgen_next(&g2, &v), 0);
    assert_true(v > last);
    assert_true(v == 2 * SEQ_BLOCK + 1);

    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/seq", st);
    tu_write_file(p, "garbage\n", 8);
    assert_int_equal(seqgen_open(&g2, st), -EBADMSG);
    tu_rm_rf(st);
    free(st);

    assert_int_equal(seqgen_open(&g, NULL), 0);
    assert_int_equal(seqgen_next(&g, &v), 0);
    assert_true(v == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_normalize),
        cmocka_unit_test(test_uuid_generate),
        cmocka_unit_test(test_identity_smbios),
        cmocka_unit_test(test_identity_generated),
        cmocka_unit_test(test_container_uuid),
        cmocka_unit_test(test_container_no_uuid),
        cmocka_unit_test(test_container_bad_uuid),
        cmocka_unit_test(test_container_none),
        cmocka_unit_test(test_container_marker_and_bound),
        cmocka_unit_test(test_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
