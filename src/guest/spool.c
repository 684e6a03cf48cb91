#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "sample.h"

static void entry_name(const struct spool_entry *e, char *buf, size_t size)
{
    snprintf(buf, size, "%020" PRIu64 "-%" PRId64 ".json", e->seq, e->time);
}

/* Parses "<20 digits>-<digits>.json"; anything else is not ours. */
static bool parse_name(const char *name, struct spool_entry *e)
{
    size_t n = strlen(name);
    if (n < 27 || n > 48 || name[20] != '-' || strcmp(name + n - 5, ".json") != 0)
        return false;
    uint64_t t;
    if (!parse_u64_strict(name, 20, &e->seq) || !parse_u64_strict(name + 21, n - 26, &t) ||
        t > INT64_MAX)
        return false;
    e->time = (int64_t)t;
    return true;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct spool_entry *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void path_of(const struct spool *sp, const struct spool_entry *e, char *buf, size_t size)
{
    char name[64];
    entry_name(e, name, sizeof(name));
    snprintf(buf, size, "%s/%s", sp->dir, name);
}

static void save_dropped(struct spool *sp)
{
    char path[PATH_MAX], line[32];
    snprintf(path, sizeof(path), "%s/dropped", sp->dir);
    snprintf(line, sizeof(line), "%" PRIu64 "\n", sp->dropped);
    /* Best effort: losing this count in a crash only under-reports drops. */
    (void)write_file_atomic(path, line, strlen(line), 0644, false);
}

static bool push_entry(struct spool *sp, const struct spool_entry *e)
{
    if (sp->head > 0 && sp->head + sp->n == sp->cap) {
        memmove(sp->v, sp->v + sp->head, sp->n * sizeof(*sp->v));
        sp->head = 0;
    }
    if (sp->head + sp->n == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 64;
        struct spool_entry *v = realloc(sp->v, cap * sizeof(*v));
        if (!v)
            return false;
        sp->v = v;
        sp->cap = cap;
    }
    sp->v[sp->head + sp->n++] = *e;
    sp->bytes += e->size;
    return true;
}

int spool_open(struct spool *sp, const char *dir, const struct spool_limits *lim)
{
    memset(sp, 0, sizeof(*sp));
    sp->lim = *lim;
    if (sp->lim.max_count > SPOOL_MAX_COUNT)
        sp->lim.max_count = SPOOL_MAX_COUNT;
    if (snprintf(sp->dir, sizeof(sp->dir), "%s", dir) >= (int)sizeof(sp->dir))
        return -ENAMETOOLONG;
    int r = ensure_dir(sp->dir, 0750);
    if (r < 0)
        return r;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/rejected", sp->dir);
    r = ensure_dir(path, 0750);
    if (r < 0)
        return r;

    char buf[64];
    snprintf(path, sizeof(path), "%s/dropped", sp->dir);
    if (read_small_file(path, buf, sizeof(buf), NULL) == 0) {
        uint64_t v;
        if (parse_u64_strict(buf, strcspn(buf, "\n"), &v))
            sp->dropped = v;
    }

    DIR *d = opendir(sp->dir);
    if (!d)
        return -errno;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct spool_entry e;
        if (!parse_name(de->d_name, &e))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        e.size = (uint64_t)st.st_size;
        if (!push_entry(sp, &e)) {
            closedir(d);
            return -ENOMEM;
        }
        if (sp->n > SPOOL_MAX_COUNT * 2)
            break; /* someone filled the directory; the rest waits */
    }
    closedir(d);
    if (sp->n) /* an empty spool has no array yet, and qsort wants one */
        qsort(sp->v + sp->head, sp->n, sizeof(*sp->v), cmp_entry);
    return 0;
}

void spool_close(struct spool *sp)
{
    free(sp->v);
    sp->v = NULL;
    sp->n = sp->cap = sp->head = 0;
}

static void pop_entry(struct spool *sp)
{
    sp->bytes -= sp->v[sp->head].size;
    sp->head++;
    sp->n--;
    if (sp->n == 0)
        sp->head = 0;
}

int spool_add(struct spool *sp, uint64_t seq, int64_t time, const char *doc, size_t len)
{
    struct spool_entry e = {.seq = seq, .time = time, .size = len};
    char path[PATH_MAX];
    path_of(sp, &e, path, sizeof(path));
    /* No fsync: a power cut may lose the last few samples, but syncing every
     * 10 s would wear the guest's disk for a rare event. */
    int r = write_file_atomic(path, doc, len, 0640, false);
    if (r == 0 && !push_entry(sp, &e)) {
        unlink(path);
        r = -ENOMEM;
    }
    if (r < 0)
        spool_count_dropped(sp, 1);
    return r;
}

static void drop_oldest(struct spool *sp)
{
    char path[PATH_MAX];
    path_of(sp, &sp->v[sp->head], path, sizeof(path));
    unlink(path);
    pop_entry(sp);
}

unsigned spool_enforce(struct spool *sp, int64_t now)
{
    unsigned dropped = 0;
    while (sp->n > 0) {
        const struct spool_entry *e = &sp->v[sp->head];
        bool too_old = sp->lim.max_age > 0 && now - e->time > sp->lim.max_age;
        if (!too_old && sp->n <= sp->lim.max_count && sp->bytes <= sp->lim.max_bytes)
            break;
        drop_oldest(sp);
        dropped++;
    }
    if (dropped)
        spool_count_dropped(sp, dropped);
    return dropped;
}

void spool_count_dropped(struct spool *sp, uint64_t n)
{
    sp->dropped += n;
    save_dropped(sp);
}

void spool_ack_dropped(struct spool *sp, uint64_t n)
{
    if (n == 0)
        return;
    sp->dropped = n > sp->dropped ? 0 : sp->dropped - n;
    save_dropped(sp);
}

int spool_read_oldest(struct spool *sp, struct gbuf *out, struct spool_entry *ret)
{
    while (sp->n > 0) {
        struct spool_entry e = sp->v[sp->head];
        char path[PATH_MAX];
        path_of(sp, &e, path, sizeof(path));
        gbuf_reset(out);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        int r = fd < 0 ? -errno : 0;
        struct stat st;
        if (r == 0 &&
            (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > out->max))
            r = -EINVAL;
        if (r == 0 && !gbuf_reserve(out, (size_t)st.st_size))
            r = -ENOMEM;
        while (r == 0) {
            ssize_t x = read(fd, out->data + out->len, (size_t)st.st_size - out->len);
            if (x < 0 && errno == EINTR)
                continue;
            if (x < 0)
                r = -errno;
            if (x <= 0)
                break;
            out->len += (size_t)x;
            if (out->len == (size_t)st.st_size)
                break;
        }
        if (fd >= 0)
            close(fd);
        if (r == 0) {
            out->data[out->len] = '\0';
            *ret = e;
            return 0;
        }
        /* Unreadable (deleted by hand, damaged): count it and go on. */
        unlink(path);
        pop_entry(sp);
        spool_count_dropped(sp, 1);
    }
    return -ENOENT;
}

int spool_remove_oldest(struct spool *sp)
{
    if (sp->n == 0)
        return -ENOENT;
    drop_oldest(sp);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keeps the newest max_rejected files in rejected/. */
static void trim_rejected(struct spool *sp)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/rejected", sp->dir);
    DIR *d = opendir(dir);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    struct spool_entry e;
    while ((de = readdir(d))) {
        if (!parse_name(de->d_name, &e))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **nn = realloc(names, nc * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
            cap = nc;
        }
        names[n] = strdup(de->d_name);
        if (names[n])
            n++;
    }
    if (n > sp->lim.max_rejected) {
        qsort(names, n, sizeof(*names), cmp_str);
        for (size_t i = 0; i < n - sp->lim.max_rejected; i++)
            unlinkat(dirfd(d), names[i], 0);
    }
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int spool_reject_oldest(struct spool *sp)
{
    if (sp->n == 0)
        return -ENOENT;
    char from[PATH_MAX], to[PATH_MAX], name[64];
    entry_name(&sp->v[sp->head], name, sizeof(name));
    snprintf(from, sizeof(from), "%s/%s", sp->dir, name);
    snprintf(to, sizeof(to), "%s/rejected/%s", sp->dir, name);
    int r = rename(from, to) < 0 ? -errno : 0;
    if (r < 0)
        unlink(from);
    pop_entry(sp);
    trim_rejected(sp);
    return r;
}

int spool_save_rejected(struct spool *sp, uint64_t seq, int64_t time, const char *doc, size_t len)
{
    struct spool_entry e = {.seq = seq, .time = time};
    char path[PATH_MAX], name[64];
    entry_name(&e, name, sizeof(name));
    snprintf(path, sizeof(path), "%s/rejected/%s", sp->dir, name);
    int r = write_file_atomic(path, doc, len, 0640, false);
    trim_rejected(sp);
    return r;
}
