#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "sample.h"

const char *id_source_name(enum id_source s)
{
    return s == ID_SOURCE_SMBIOS ? "smbios" : "generated";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool uuid_normalize(const char *in, size_t n, char out[UUID_STR_LEN])
{
    while (n > 0 && (in[0] == ' ' || in[0] == '\t' || in[0] == '\n')) {
        in++;
        n--;
    }
    while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\n'))
        n--;
    if (n != 36)
        return false;
    bool all0 = true, allf = true;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (in[i] != '-')
                return false;
            out[i] = '-';
            continue;
        }
        int v = hexval(in[i]);
        if (v < 0)
            return false;
        all0 = all0 && v == 0;
        allf = allf && v == 15;
        out[i] = "0123456789abcdef"[v];
    }
    out[36] = '\0';
    return !all0 && !allf;
}

int uuid_generate_v4(char out[UUID_STR_LEN])
{
    unsigned char r[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got < sizeof(r)) {
        ssize_t x = read(fd, r + got, sizeof(r) - got);
        if (x < 0 && errno == EINTR)
            continue;
        if (x <= 0) {
            close(fd);
            return x < 0 ? -errno : -EIO;
        }
        got += (size_t)x;
    }
    close(fd);
    r[6] = (unsigned char)((r[6] & 0x0F) | 0x40); /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    snprintf(out, UUID_STR_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
             r[15]);
    return 0;
}

int identity_load(const char *root, const char *state_dir, struct identity *ret)
{
    char path[PATH_MAX], buf[128];
    size_t len;
    const char *prefix = root && strcmp(root, "/") != 0 ? root : "";
    snprintf(path, sizeof(path), "%s/sys/class/dmi/id/product_uuid", prefix);
    if (read_small_file(path, buf, sizeof(buf), &len) == 0 && uuid_normalize(buf, len, ret->uuid)) {
        ret->source = ID_SOURCE_SMBIOS;
        return 0;
    }
    ret->source = ID_SOURCE_GENERATED;
    if (!state_dir)
        return uuid_generate_v4(ret->uuid);
    snprintf(path, sizeof(path), "%s/machine-id", state_dir);
    int r = read_small_file(path, buf, sizeof(buf), &len);
    if (r == 0 && uuid_normalize(buf, len, ret->uuid))
        return 0;
    if (r != -ENOENT && r != 0)
        return r;
    /* Missing (or damaged, which only a person can cause): make a new one. */
    r = uuid_generate_v4(ret->uuid);
    if (r < 0)
        return r;
    char line[UUID_STR_LEN + 1];
    snprintf(line, sizeof(line), "%s\n", ret->uuid);
    return write_file_atomic(path, line, strlen(line), 0644, true);
}

static int seq_persist(struct seqgen *g, uint64_t end)
{
    char line[32];
    snprintf(line, sizeof(line), "%llu\n", (unsigned long long)end);
    int r = write_file_atomic(g->path, line, strlen(line), 0644, true);
    if (r == 0)
        g->reserved_end = end;
    return r;
}

int seqgen_open(struct seqgen *g, const char *state_dir)
{
    memset(g, 0, sizeof(*g));
    g->next = 1;
    if (!state_dir) {
        g->reserved_end = UINT64_MAX;
        return 0;
    }
    if (snprintf(g->path, sizeof(g->path), "%s/seq", state_dir) >= (int)sizeof(g->path))
        return -ENAMETOOLONG;
    char buf[64];
    size_t len;
    int r = read_small_file(g->path, buf, sizeof(buf), &len);
    if (r == 0) {
        uint64_t v;
        size_t n = strcspn(buf, "\n");
        if (!parse_u64_strict(buf, n, &v) || v >= UINT64_MAX - 2 * SEQ_BLOCK)
            return -EBADMSG;
        g->next = v ? v : 1;
    } else if (r != -ENOENT) {
        return r;
    }
    return seq_persist(g, g->next + SEQ_BLOCK);
}

int seqgen_next(struct seqgen *g, uint64_t *ret)
{
    if (g->next >= g->reserved_end) {
        int r = seq_persist(g, g->next + SEQ_BLOCK);
        if (r < 0)
            return r;
    }
    *ret = g->next++;
    return 0;
}
