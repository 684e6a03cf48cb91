#include "testutil.h"

#include <dirent.h>
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

char *tu_read_file(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    buf[len] = '\0';
    if (ret_len)
        *ret_len = len;
    return buf;
}

static void mkdir_parents(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
}

void tu_write_file(const char *path, const void *data, size_t len)
{
    mkdir_parents(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof(tmpl), "%s/kanri-guestd-test-XXXXXX", base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

void tu_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[PATH_MAX];
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            tu_rm_rf(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

void tu_assert_golden(const char *golden_path, const char *text)
{
    const char *regen = getenv("KANRI_REGEN_GOLDEN");
    if (regen && strcmp(regen, "1") == 0) {
        tu_write_file(golden_path, text, strlen(text));
        return;
    }
    char *want = tu_read_file(golden_path, NULL);
    if (!want)
        fail_msg("golden file %s missing (run with KANRI_REGEN_GOLDEN=1)", golden_path);
    if (strcmp(want, text) != 0) {
        char got_path[PATH_MAX];
        snprintf(got_path, sizeof(got_path), "%s.got", golden_path);
        tu_write_file(got_path, text, strlen(text));
        free(want);
        fail_msg("output differs from %s; see diff -u %s %s", golden_path, golden_path, got_path);
    }
    free(want);
}

char *tu_json_indent(const char *json)
{
    size_t cap = strlen(json) * 4 + 64, len = 0;
    char *out = malloc(cap);
    int depth = 0;
    bool in_str = false, esc = false;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (len + 2 >= cap) {                                                                      \
            cap *= 2;                                                                              \
            out = realloc(out, cap);                                                               \
        }                                                                                          \
        out[len++] = (c);                                                                          \
    } while (0)
#define NEWLINE()                                                                                  \
    do {                                                                                           \
        PUT('\n');                                                                                 \
        for (int i_ = 0; i_ < depth * 2; i_++)                                                     \
            PUT(' ');                                                                              \
    } while (0)
    for (const char *p = json; *p; p++) {
        char c = *p;
        if (in_str) {
            PUT(c);
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        switch (c) {
        case '"':
            in_str = true;
            PUT(c);
            break;
        case '{':
        case '[':
            PUT(c);
            /* Keep empty containers and short number arrays on one line. */
            if (p[1] == '}' || p[1] == ']') {
                PUT(*++p);
                break;
            }
            depth++;
            NEWLINE();
            break;
        case '}':
        case ']':
            depth--;
            NEWLINE();
            PUT(c);
            break;
        case ',':
            PUT(c);
            NEWLINE();
            break;
        case ':':
            PUT(c);
            PUT(' ');
            break;
        case '\n':
            break;
        default:
            PUT(c);
        }
    }
    PUT('\n');
    out[len] = '\0';
    return out;
#undef PUT
#undef NEWLINE
}
