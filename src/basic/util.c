#include "config.h"

#include "basic/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *time_format_rfc3339(int64_t usec)
{
    if (usec <= 0)
        return NULL;
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(usec / USEC_PER_SEC);
    if (!dt)
        return NULL;
    return g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
}

bool time_parse(const char *s, int64_t *ret_usec)
{
    uint64_t secs;

    if (!s || !*s)
        return false;
    if (parse_u64(s, &secs)) {
        if (secs > (uint64_t)G_MAXINT64 / USEC_PER_SEC)
            return false;
        *ret_usec = (int64_t)secs * USEC_PER_SEC;
        return true;
    }
    g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(s, NULL);
    if (!dt)
        return false;
    *ret_usec = g_date_time_to_unix(dt) * USEC_PER_SEC + g_date_time_get_microsecond(dt);
    return true;
}

bool duration_parse(const char *s, int64_t *ret_usec)
{
    static const struct {
        char suffix;
        int64_t usec;
    } units[] = {
        {'s', USEC_PER_SEC},         {'m', 60 * USEC_PER_SEC},        {'h', 3600 * USEC_PER_SEC},
        {'d', 86400 * USEC_PER_SEC}, {'w', 7 * 86400 * USEC_PER_SEC},
    };
    if (!s || !*s)
        return false;
    size_t len = strlen(s);
    int64_t mult = USEC_PER_SEC;
    g_autofree char *num = g_strdup(s);
    if (g_ascii_isalpha(s[len - 1])) {
        bool found = false;
        for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
            if (s[len - 1] == units[i].suffix) {
                mult = units[i].usec;
                found = true;
            }
        }
        if (!found)
            return false;
        num[len - 1] = '\0';
    }
    uint64_t n;
    if (!parse_u64(num, &n) || n == 0 || n > (uint64_t)(G_MAXINT64 / mult))
        return false;
    *ret_usec = (int64_t)n * mult;
    return true;
}

bool parse_u64(const char *s, uint64_t *ret)
{
    if (!s || !g_ascii_isdigit(*s))
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isdigit(*p))
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (G_MAXUINT64 - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *ret = v;
    return true;
}

char *token_generate(void)
{
    guint8 raw[32];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t got = 0;

    /* Tokens are credentials: use the kernel's CSPRNG, never GLib's PRNG. */
    while (fd >= 0 && got < sizeof(raw)) {
        ssize_t n = read(fd, raw + got, sizeof(raw) - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    if (got != sizeof(raw))
        g_error("cannot read /dev/urandom to generate a token");

    g_autofree char *b64 = g_base64_encode(raw, sizeof(raw));
    /* base64url without padding, so tokens survive URLs and shells. */
    for (char *p = b64; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    }
    char *eq = strchr(b64, '=');
    if (eq)
        *eq = '\0';
    return g_strconcat("kanri_", b64, NULL);
}

char *sha256_hex(const char *s)
{
    return g_compute_checksum_for_string(G_CHECKSUM_SHA256, s, -1);
}

int file_write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    /* A unique name created with O_EXCL: no two writers share it, and a
     * planted symlink is never followed. */
    g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
    int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, (int)mode);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int r = -errno;
            close(fd);
            unlink(tmp);
            return r;
        }
        off += (size_t)n;
    }
    if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
        int r = -errno;
        close(fd);
        unlink(tmp);
        return r;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        int r = -errno;
        unlink(tmp);
        return r;
    }
    return 0;
}

bool uuid_is_valid(const char *s)
{
    static const int dashes[] = {8, 13, 18, 23};
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = false;
        for (size_t j = 0; j < G_N_ELEMENTS(dashes); j++)
            dash |= (i == dashes[j]);
        if (dash ? s[i] != '-' : !g_ascii_isxdigit(s[i]))
            return false;
    }
    return true;
}
