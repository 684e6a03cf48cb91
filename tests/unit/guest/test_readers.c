/*
 * Golden tests of every reader: each tests/data/guest/<case>/root is a
 * captured or hand-written /proc + /sys tree, rendered into a document with
 * fixed seq and time and compared with tests/data/guest/<case>.out.
 * KANRI_REGEN_GOLDEN=1 rewrites the .out files.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "doc.h"
#include "identity.h"
#include "sample.h"
#include "testutil.h"

#define DATA TEST_DATA_DIR "/guest"

/* statvfs figures come from <case>/statvfs: "frsize blocks bfree bavail
 * files ffree mountpoint" with mountinfo-style octal escapes. */
static int fake_statvfs(const char *path, const char *mountpoint, struct statvfs *ret,
                        void *userdata)
{
    (void)path;
    const char *table = userdata;
    char *text = tu_read_file(table, NULL);
    if (!text)
        return -ENOENT;
    int r = -ENOENT;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long long v[6];
        int off = 0;
        if (sscanf(line, "%llu %llu %llu %llu %llu %llu %n", &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &off) != 6)
            continue;
        char mp[PATH_MAX];
        size_t n = 0;
        for (const char *p = line + off; *p && n < sizeof(mp) - 1; p++) {
            if (p[0] == '\\' && p[1] && p[2] && p[3]) {
                mp[n++] = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
                p += 3;
            } else {
                mp[n++] = *p;
            }
        }
        mp[n] = '\0';
        if (strcmp(mp, mountpoint) != 0)
            continue;
        memset(ret, 0, sizeof(*ret));
        ret->f_bsize = ret->f_frsize = (unsigned long)v[0];
        ret->f_blocks = v[1];
        ret->f_bfree = v[2];
        ret->f_bavail = v[3];
        ret->f_files = v[4];
        ret->f_ffree = v[5];
        r = 0;
        break;
    }
    free(text);
    return r;
}

static char *render_case(const char *name)
{
    char root[PATH_MAX], table[PATH_MAX], state_src[PATH_MAX];
    snprintf(root, sizeof(root), "%s/%s/root", DATA, name);
    snprintf(table, sizeof(table), "%s/%s/statvfs", DATA, name);
    snprintf(state_src, sizeof(state_src), "%s/%s/state/machine-id", DATA, name);

    struct sampler s;
    assert_int_equal(sampler_init(&s, root), 0);
    s.statvfs_fn = fake_statvfs;
    s.statvfs_userdata = table;
    struct sample *smp = calloc(1, sizeof(*smp));
    sampler_read(&s, smp);

    /* The state directory is copied so the test never writes into the tree. */
    char *state = tu_mkdtemp();
    char *mid = tu_read_file(state_src, NULL);
    if (mid) {
        char dst[PATH_MAX];
        snprintf(dst, sizeof(dst), "%s/machine-id", state);
        tu_write_file(dst, mid, strlen(mid));
        free(mid);
    }
    struct identity id;
    assert_int_equal(identity_load(root, NULL, state, &id), 0);

    struct doc_meta m = {
        .machine_id = id.uuid,
        .id_source = id_source_name(id.source),
        .seq = 42,
        .time = {.tv_sec = 1700000000, .tv_nsec = 500000000},
        .interval = 10,
        .backlog = 0,
        .dropped = 0,
    };
    struct gbuf b;
    gbuf_init(&b, 0);
    assert_int_equal(doc_render(&b, smp, &m), 0);
    char *pretty = tu_json_indent(b.data);
    gbuf_free(&b);
    free(smp);
    sampler_free(&s);
    tu_rm_rf(state);
    free(state);
    return pretty;
}

static void golden(const char *name)
{
    char *doc = render_case(name);
    char out[PATH_MAX];
    snprintf(out, sizeof(out), "%s/%s.out", DATA, name);
    tu_assert_golden(out, doc);
    free(doc);
}

static void test_busy(void **state)
{
    golden("busy");
}

static void test_idle(void **state)
{
    golden("idle");
}

static void test_container(void **state)
{
    golden("container");
}

static void test_malformed(void **state)
{
    golden("malformed");
}

static bool has_note(const struct sample *s, const char *source, const char *reason_part)
{
    for (unsigned i = 0; i < s->n_skipped; i++)
        if (strcmp(s->skipped[i].source, source) == 0 && strstr(s->skipped[i].reason, reason_part))
            return true;
    return false;
}

/* A tree with nothing in it: every reader notes what is missing and the
 * document still renders. */
static void test_empty_root(void **state)
{
    char *root = tu_mkdtemp();
    struct sampler s;
    assert_int_equal(sampler_init(&s, root), 0);
    struct sample *smp = calloc(1, sizeof(*smp));
    sampler_read(&s, smp);
    assert_false(smp->cpu.present);
    assert_false(smp->mem.present);
    assert_int_equal(smp->n_disks, 0);
    assert_string_equal(smp->hostname, ""); /* never the test machine's name */
    assert_true(has_note(smp, "/proc/stat", "missing"));
    assert_true(has_note(smp, "/proc/meminfo", "missing"));
    assert_true(has_note(smp, "/proc/self/mountinfo", "missing"));
    struct doc_meta m = {.machine_id = "6f1c2b9e-3d4a-4e5f-8a7b-9c0d1e2f3a4b",
                         .id_source = "generated",
                         .seq = 1,
                         .interval = 10};
    struct gbuf b;
    gbuf_init(&b, 0);
    assert_int_equal(doc_render(&b, smp, &m), 0);
    assert_non_null(strstr(b.data, "\"disks\":[]"));
    assert_null(strstr(b.data, "\"cpu\""));
    gbuf_free(&b);
    free(smp);
    sampler_free(&s);
    tu_rm_rf(root);
    free(root);
}

/* An agent started with lxc-attach sits in the container's /.lxc leaf, and
 * LXC leaves no marker file: only container_detect() says "container".  The
 * cgroup block then describes the container's cgroup (the namespace root),
 * whose limits are the container's, not the leaf's "max". */
static void test_cgroup_lxc_attach(void **state)
{
    struct sampler s;
    assert_int_equal(sampler_init(&s, DATA "/cgroup-lxc/root"), 0);
    struct sample *smp = calloc(1, sizeof(*smp));
    read_cgroup(&s, smp);
    assert_false(smp->cgroup.present); /* a service's leaf on a VM says nothing */

    s.in_container = true;
    memset(smp, 0, sizeof(*smp));
    read_cgroup(&s, smp);
    assert_true(smp->cgroup.present);
    assert_string_equal(smp->cgroup.path, "/");
    assert_true(smp->cgroup.has_memory_max);
    assert_true(smp->cgroup.memory_max == 268435456);
    assert_true(smp->cgroup.memory_current == 41943040);
    assert_true(smp->cgroup.has_cpu_max);
    assert_true(smp->cgroup.cpu_quota_us == 50000);
    free(smp);
    sampler_free(&s);
}

/* Files past SAMPLE_MAX_FILE are cut at a line boundary and noted. */
static void test_huge_file(void **state)
{
    char *root = tu_mkdtemp();
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/proc/stat", root);
    size_t line_len = strlen("cpu0 1 2 3 4 5 6 7 8 9 10\n");
    size_t n = (2u << 20) / line_len;
    char *big = malloc(n * line_len + 64);
    size_t len = (size_t)sprintf(big, "cpu  1 2 3 4 5 6 7 8 9 10\n");
    for (size_t i = 0; i < n; i++) {
        memcpy(big + len, "cpu0 1 2 3 4 5 6 7 8 9 10\n", line_len);
        len += line_len;
    }
    tu_write_file(path, big, len);
    free(big);
    struct sampler s;
    assert_int_equal(sampler_init(&s, root), 0);
    struct sample *smp = calloc(1, sizeof(*smp));
    read_stat(&s, smp);
    assert_true(smp->cpu.present);
    assert_int_equal(smp->cpu.count, SAMPLE_MAX_CPUS);
    assert_true(has_note(smp, "/proc/stat", "file larger than"));
    assert_true(has_note(smp, "/proc/stat", "CPUs past the limit"));
    /* Memory goes back after the sample. */
    sampler_read(&s, smp);
    assert_true(s.file.cap <= 256 * 1024);
    free(smp);
    sampler_free(&s);
    tu_rm_rf(root);
    free(root);
}

/* A FIFO where a file should be must not block the agent. */
static void test_fifo(void **state)
{
    char *root = tu_mkdtemp();
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/proc", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/proc/meminfo", root);
    assert_int_equal(mkfifo(path, 0644), 0);
    struct sampler s;
    assert_int_equal(sampler_init(&s, root), 0);
    struct sample *smp = calloc(1, sizeof(*smp));
    read_meminfo(&s, smp);
    assert_false(smp->mem.present);
    assert_true(has_note(smp, "/proc/meminfo", "not a regular file"));
    free(smp);
    sampler_free(&s);
    tu_rm_rf(root);
    free(root);
}

static void test_note_overflow(void **state)
{
    struct sample *smp = calloc(1, sizeof(*smp));
    for (int i = 0; i < SAMPLE_MAX_SKIPPED + 5; i++)
        sample_note(smp, "/x", "note %d", i);
    assert_int_equal(smp->n_skipped, SAMPLE_MAX_SKIPPED);
    assert_int_equal(smp->skipped_lost, 5);
    free(smp);
}

static void test_parse_u64(void **state)
{
    uint64_t v;
    assert_true(parse_u64_strict("0", 1, &v));
    assert_true(v == 0);
    assert_true(parse_u64_strict("18446744073709551615", 20, &v));
    assert_true(v == UINT64_MAX);
    assert_false(parse_u64_strict("18446744073709551616", 20, &v));
    assert_false(parse_u64_strict("", 0, &v));
    assert_false(parse_u64_strict("-1", 2, &v));
    assert_false(parse_u64_strict("+1", 2, &v));
    assert_false(parse_u64_strict("1 ", 2, &v));
    assert_false(parse_u64_strict("0x10", 4, &v));
}

static void test_sampler_root(void **state)
{
    struct sampler s;
    assert_int_equal(sampler_init(&s, "/"), 0);
    assert_string_equal(s.root, "");
    sampler_free(&s);
    assert_int_equal(sampler_init(&s, "/tmp/x///"), 0);
    assert_string_equal(s.root, "/tmp/x");
    sampler_free(&s);
    char longroot[SAMPLE_PATH_MAX + 10];
    memset(longroot, 'a', sizeof(longroot) - 1);
    longroot[sizeof(longroot) - 1] = '\0';
    assert_int_equal(sampler_init(&s, longroot), -ENAMETOOLONG);
    sampler_free(&s);
}

/* The live machine: nothing to compare against, but nothing may crash and
 * the basics must be there. */
static void test_live(void **state)
{
    struct sampler s;
    assert_int_equal(sampler_init(&s, NULL), 0);
    struct sample *smp = calloc(1, sizeof(*smp));
    sampler_read(&s, smp);
    assert_true(smp->cpu.present);
    assert_true(smp->cpu.count >= 1);
    assert_true(smp->mem.present);
    free(smp);
    sampler_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy),       cmocka_unit_test(test_idle),
        cmocka_unit_test(test_container),  cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_empty_root), cmocka_unit_test(test_huge_file),
        cmocka_unit_test(test_fifo),       cmocka_unit_test(test_note_overflow),
        cmocka_unit_test(test_parse_u64),  cmocka_unit_test(test_sampler_root),
        cmocka_unit_test(test_live),       cmocka_unit_test(test_cgroup_lxc_attach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
