#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "sample.h"

const char *id_source_name(enum id_source s)
{
    switch (s) {
    case ID_SOURCE_SMBIOS:
        return "smbios";
    case ID_SOURCE_CONTAINER:
        return "container";
    case ID_SOURCE_GENERATED:
        break;
    }
    return "generated";
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

#define CONTAINER_UUID_VAR "KANRI_CONTAINER_UUID="

/* What one environment says: container= or KANRI_CONTAINER_UUID seen, and
 * the latter's value (NULL when absent). */
struct env_view {
    bool marker;
    const char *uuid;
    size_t uuid_len;
};

static void env_entry(struct env_view *v, const char *e, size_t n)
{
    size_t cl = strlen("container="), ul = strlen(CONTAINER_UUID_VAR);
    if (n >= cl && memcmp(e, "container=", cl) == 0) {
        v->marker = true;
    } else if (n >= ul && memcmp(e, CONTAINER_UUID_VAR, ul) == 0) {
        v->marker = true;
        v->uuid = e + ul;
        v->uuid_len = n - ul;
    }
}

/* Shows an untrusted value in a message: printable ASCII, shortened. */
static void quote_value(char *out, size_t size, const char *v, size_t n)
{
    size_t o = 0, i = 0;
    for (; i < n && o + 4 < size; i++)
        out[o++] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* Takes v's UUID when valid; otherwise says why in ret->message (the first
 * problem is kept). */
static bool take_uuid(struct container_hint *ret, const struct env_view *v, const char *where)
{
    if (!v->uuid)
        return false;
    char u[UUID_STR_LEN];
    if (uuid_normalize(v->uuid, v->uuid_len, u)) {
        memcpy(ret->uuid, u, sizeof(u));
        return true;
    }
    if (!ret->message[0]) {
        char shown[80];
        quote_value(shown, sizeof(shown), v->uuid, v->uuid_len);
        snprintf(ret->message, sizeof(ret->message),
                 "KANRI_CONTAINER_UUID=\"%s\" in %s is not a UUID; ignored", shown, where);
    }
    return false;
}

void container_detect(const char *root, char *const *own_env, struct container_hint *ret)
{
    memset(ret, 0, sizeof(*ret));
    struct env_view pid1 = {0}, own = {0};

    char path[PATH_MAX];
    const char *prefix = root && strcmp(root, "/") != 0 ? root : "";
    snprintf(path, sizeof(path), "%s/proc/1/environ", prefix);
    char *buf = malloc(CONTAINER_ENVIRON_MAX + 1);
    size_t len = 0;
    if (buf) {
        int r = read_small_file(path, buf, CONTAINER_ENVIRON_MAX + 1, &len);
        if (r < 0 && r != -EFBIG)
            len = 0; /* missing, or not ours to read (another user's PID 1) */
        /* Entries end with NUL; a last one without it was cut off by the
         * bound and is not trusted. */
        size_t start = 0;
        for (size_t i = 0; i < len; i++) {
            if (buf[i] != '\0')
                continue;
            env_entry(&pid1, buf + start, i - start);
            start = i + 1;
        }
    }
    for (char *const *e = own_env; e && *e; e++)
        env_entry(&own, *e, strlen(*e));

    /* PID 1's environ is not readable by an unprivileged agent; the files
     * container managers leave (systemd writes the last from container=)
     * are. */
    static const char *const markers[] = {"/run/systemd/container", "/run/.containerenv",
                                          "/.dockerenv"};
    bool marker = false;
    for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]) && !marker; i++) {
        struct stat st;
        snprintf(path, sizeof(path), "%s%s", prefix, markers[i]);
        marker = lstat(path, &st) == 0;
    }

    ret->in_container = pid1.marker || own.marker || marker;
    if (!take_uuid(ret, &pid1, "PID 1's environment"))
        take_uuid(ret, &own, "the agent's environment");
    else if (own.uuid && !ret->message[0]) {
        char u[UUID_STR_LEN];
        if (uuid_normalize(own.uuid, own.uuid_len, u) && strcmp(u, ret->uuid) != 0)
            snprintf(ret->message, sizeof(ret->message),
                     "KANRI_CONTAINER_UUID %s in the agent's environment differs from PID 1's "
                     "%s; using PID 1's",
                     u, ret->uuid);
    }
    free(buf);
}

int identity_load(const char *root, char *const *own_env, const char *state_dir,
                  struct identity *ret)
{
    char path[PATH_MAX], buf[128];
    size_t len;
    struct container_hint hint;
    container_detect(root, own_env, &hint);
    memset(ret, 0, sizeof(*ret));
    ret->in_container = hint.in_container;
    memcpy(ret->message, hint.message, sizeof(ret->message));
    if (hint.uuid[0]) {
        memcpy(ret->uuid, hint.uuid, sizeof(ret->uuid));
        ret->source = ID_SOURCE_CONTAINER;
        return 0;
    }
    const char *prefix = root && strcmp(root, "/") != 0 ? root : "";
    snprintf(path, sizeof(path), "%s/sys/class/dmi/id/product_uuid", prefix);
    /* In a container the firmware's UUID is the host's. */
    if (!hint.in_container && read_small_file(path, buf, sizeof(buf), &len) == 0 &&
        uuid_normalize(buf, len, ret->uuid)) {
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
