/* The on-disk spool: bounds, order, drop accounting, rejects, reload. */
#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doc.h"
#include "spool.h"
#include "testutil.h"

static const struct spool_limits lim_default = {
    .max_age = 3600, .max_bytes = 1 << 20, .max_count = 100, .max_rejected = 3};

static void add(struct spool *sp, uint64_t seq, int64_t t)
{
    char doc[64];
    int n = snprintf(doc, sizeof(doc), "{\"seq\":%llu}\n", (unsigned long long)seq);
    assert_int_equal(spool_add(sp, seq, t, doc, (size_t)n), 0);
}

static uint64_t oldest_seq(struct spool *sp)
{
    struct gbuf b;
    gbuf_init(&b, 0);
    struct spool_entry e;
    assert_int_equal(spool_read_oldest(sp, &b, &e), 0);
    unsigned long long s = 0;
    assert_int_equal(sscanf(b.data, "{\"seq\":%llu}", &s), 1);
    assert_true(s == e.seq);
    gbuf_free(&b);
    return e.seq;
}

static size_t count_dir(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".json"))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void test_order_and_reload(void **state)
{
    char *dir = tu_mkdtemp();
    struct spool sp;
    assert_int_equal(spool_open(&sp, dir, &lim_default), 0);
    /* Added out of order on purpose: the index sorts by seq on reload. */
    add(&sp, 5, 1000);
    add(&sp, 3, 1001);
    add(&sp, 10, 1002);
    spool_close(&sp);
    assert_int_equal(spool_open(&sp, dir, &lim_default), 0);
    assert_int_equal(spool_count(&sp), 3);
    assert_true(oldest_seq(&sp) == 3);
    assert_int_equal(spool_remove_oldest(&sp), 0);
    assert_true(oldest_seq(&sp) == 5);
    assert_int_equal(spool_remove_oldest(&sp), 0);
    assert_true(oldest_seq(&sp) == 10);
    assert_int_equal(spool_remove_oldest(&sp), 0);
    struct gbuf b;
    gbuf_init(&b, 0);
    struct spool_entry e;
    assert_int_equal(spool_read_oldest(&sp, &b, &e), -ENOENT);
    assert_int_equal(spool_remove_oldest(&sp), -ENOENT);
    gbuf_free(&b);
    assert_int_equal(count_dir(dir), 0);
    spool_close(&sp);
    tu_rm_rf(dir);
    free(dir);
}

static void test_bound_count(void **state)
{
    char *dir = tu_mkdtemp();
    struct spool sp;
    struct spool_limits lim = lim_default;
    lim.max_count = 5;
    assert_int_equal(spool_open(&sp, dir, &lim), 0);
    for (uint64_t i = 1; i <= 8; i++) {
        add(&sp, i, 1000 + (int64_t)i);
        spool_enforce(&sp, 1010);
    }
    assert_int_equal(spool_count(&sp), 5);
    assert_true(sp.dropped == 3);
    assert_true(oldest_seq(&sp) == 4); /* the oldest went first */
    assert_int_equal(count_dir(dir), 5);
    spool_close(&sp);
    /* The drop count survives a restart until acknowledged. */
    assert_int_equal(spool_open(&sp, dir, &lim), 0);
    assert_true(sp.dropped == 3);
    spool_ack_dropped(&sp, 2);
    assert_true(sp.dropped == 1);
    spool_ack_dropped(&sp, 7);
    assert_true(sp.dropped == 0);
    spool_close(&sp);
    assert_int_equal(spool_open(&sp, dir, &lim), 0);
    assert_true(sp.dropped == 0);
    spool_close(&sp);
    tu_rm_rf(dir);
    free(dir);
}

static void test_bound_age(void **state)
{
    char *dir = tu_mkdtemp();
    struct spool sp;
    struct spool_limits lim = lim_default;
    lim.max_age = 100;
    assert_int_equal(spool_open(&sp, dir, &lim), 0);
    add(&sp, 1, 1000);
    add(&sp, 2, 1050);
    add(&sp, 3, 1100);
    assert_int_equal(spool_enforce(&sp, 1100), 0);
    assert_int_equal(spool_enforce(&sp, 1101), 1); /* seq 1 is 101 s old */
    assert_int_equal(spool_enforce(&sp, 1200), 1);
    assert_int_equal(spool_count(&sp), 1);
    assert_true(oldest_seq(&sp) == 3);
    assert_true(sp.dropped == 2);
    spool_close(&sp);
    tu_rm_rf(dir);
    free(dir);
}

static void test_bound_bytes(void **state)
{
    char *dir = tu_mkdtemp();
    struct spool sp;
    struct spool_limits lim = lim_default;
    lim.max_bytes = 30; /* each document is 10 or 11 bytes */
    assert_int_equal(spool_open(&sp, dir, &lim), 0);
    for (uint64_t i = 1; i <= 6; i++)
        add(&sp, i, 1000);
    spool_enforce(&sp, 1000);
    assert_true(sp.bytes <= 30);
    assert_int_equal(spool_count(&sp), 3);
    assert_true(oldest_seq(&sp) == 4);
    assert_true(sp.dropped == 3);
    spool_close(&sp);
    tu_rm_rf(dir);
    free(dir);
}

static void test_reject(void **state)
{
    char *dir = tu_mkdtemp();
    struct spool sp;
    assert_int_equal(spool_open(&sp, dir, &lim_default), 0);
    for (uint64_t i = 1; i <= 6; i++)
        add(&sp, i, 1000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(spool_reject_oldest(&sp), 0);
    assert_int_equal(spool_count(&sp), 1);
    char rej[PATH_MAX];
    snprintf(rej, sizeof(rej), "%s/rejected", dir);
    assert_int_equal(count_dir(rej), 3); /* bounded: the newest three kept */
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/00000000000000000005-1000.json", rej);
    char *kept = tu_read_file(p, NULL);
    assert_non_null(kept);
    free(kept);
    assert_int_equal(spool_save_rejected(&sp, 99, 2000, "{}", 2), 0);
    assert_int_equal(count_dir(rej), 3);
    spool_close(&sp);
    tu_rm_rf(dir);
    free(dir);
}

/* A file deleted behind the agent's back is counted as dropped and skipped. */
static void test_vanished_file(void **state)
{
    char *dir = tu_mkdtemp();
    struct spool sp;
    assert_int_equal(spool_open(&sp, dir, &lim_default), 0);
    add(&sp, 1, 1000);
    add(&sp, 2, 1000);
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/00000000000000000001-1000.json", dir);
    assert_int_equal(unlink(p), 0);
    assert_true(oldest_seq(&sp) == 2);
    assert_true(sp.dropped == 1);
    spool_close(&sp);
    tu_rm_rf(dir);
    free(dir);
}

/* Foreign files and temporary files are not queued. */
static void test_foreign_files(void **state)
{
    char *dir = tu_mkdtemp();
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/notes.txt", dir);
    tu_write_file(p, "x", 1);
    snprintf(p, sizeof(p), "%s/.tmp-00000000000000000001-5.json", dir);
    tu_write_file(p, "x", 1);
    snprintf(p, sizeof(p), "%s/1-5.json", dir);
    tu_write_file(p, "x", 1);
    struct spool sp;
    assert_int_equal(spool_open(&sp, dir, &lim_default), 0);
    assert_int_equal(spool_count(&sp), 0);
    spool_close(&sp);
    tu_rm_rf(dir);
    free(dir);
}

static void test_patch_spool(void **state)
{
    const char *doc =
        "{\"seq\":1,\"x\":\"\\\"spool\\\":\",\"spool\":{\"backlog\":0,\"dropped\":0}}\n";
    struct gbuf b;
    gbuf_init(&b, 0);
    assert_int_equal(doc_patch_spool(doc, strlen(doc), 12, 3, &b), 0);
    assert_string_equal(b.data, "{\"seq\":1,\"x\":\"\\\"spool\\\":\",\"spool\":{\"backlog\":12,"
                                "\"dropped\":3}}\n");
    gbuf_reset(&b);
    const char *foreign = "{\"seq\":1}";
    assert_int_equal(doc_patch_spool(foreign, strlen(foreign), 1, 1, &b), -ENOENT);
    assert_string_equal(b.data, foreign);
    gbuf_reset(&b);
    assert_int_equal(doc_patch_spool("", 0, 1, 1, &b), -ENOENT);
    gbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_reload), cmocka_unit_test(test_bound_count),
        cmocka_unit_test(test_bound_age),        cmocka_unit_test(test_bound_bytes),
        cmocka_unit_test(test_reject),           cmocka_unit_test(test_vanished_file),
        cmocka_unit_test(test_foreign_files),    cmocka_unit_test(test_patch_spool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
