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
    assert_int_equal(identity_load(root, st, &id), 0);
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
    assert_int_equal(identity_load(root, st, &a), 0);
    assert_int_equal(a.source, ID_SOURCE_GENERATED);
    assert_string_equal(id_source_name(a.source), "generated");
    /* Kept: the second start gives the same id. */
    assert_int_equal(identity_load(root, st, &b), 0);
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
        cmocka_unit_test(test_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
