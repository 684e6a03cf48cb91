#include "lxc/lxcconf.h"

#include "model/driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void lxcconf_init(struct lxcconf *c)
{
    memset(c, 0, sizeof(*c));
}

void lxcconf_clear(struct lxcconf *c)
{
    g_free(c->uuid);
    g_free(c->rootfs_dir);
    lxcconf_init(c);
}

static bool parse_u64(const char *s, uint64_t *ret)
{
    if (!g_ascii_isdigit(*s))
        return false;
    errno = 0;
    char *end;
    guint64 v = g_ascii_strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *ret = v;
    return true;
}

uint64_t lxcconf_parse_size(const char *s)
{
    if (!s || !*s || strcmp(s, "-1") == 0 || strcmp(s, "max") == 0)
        return 0;
    errno = 0;
    char *end;
    guint64 v = g_ascii_strtoull(s, &end, 10);
    if (errno || end == s || !g_ascii_isdigit(*s))
        return 0;
    uint64_t mul = 1;
    switch (g_ascii_toupper(*end)) {
    case 0:
        break;
    case 'K':
        mul = 1ULL << 10;
        break;
    case 'M':
        mul = 1ULL << 20;
        break;
    case 'G':
        mul = 1ULL << 30;
        break;
    case 'T':
        mul = 1ULL << 40;
        break;
    default:
        return 0;
    }
    if (*end && end[1] && !(g_ascii_toupper(end[1]) == 'B' && !end[2]))
        return 0;
    if (v > G_MAXUINT64 / mul)
        return 0;
    /* v1's "no limit" is the largest page-aligned 63-bit number. */
    return v * mul >= (1ULL << 62) ? 0 : v * mul;
}

static char *uuid_lower(const char *s)
{
    return g_uuid_string_is_valid(s) ? g_ascii_strdown(s, -1) : NULL;
}

/* One "key = value" line. */
static void apply(struct lxcconf *c, const char *key, const char *val, uint64_t *quota_us,
                  uint64_t *period_us)
{
    uint64_t v;
    if (strcmp(key, "lxc.environment") == 0) {
        size_t n = strlen(LXCCONF_UUID_ENV);
        if (strncmp(val, LXCCONF_UUID_ENV, n) == 0 && val[n] == '=') {
            g_free(c->uuid);
            c->uuid = uuid_lower(val + n + 1);
        }
    } else if (strcmp(key, "lxc.cgroup.memory.limit_in_bytes") == 0 ||
               strcmp(key, "lxc.cgroup2.memory.max") == 0) {
        c->memory_limit = lxcconf_parse_size(val);
    } else if (strcmp(key, "lxc.cgroup.cpu.cfs_quota_us") == 0) {
        *quota_us = parse_u64(val, &v) ? v : 0;
    } else if (strcmp(key, "lxc.cgroup.cpu.cfs_period_us") == 0) {
        *period_us = parse_u64(val, &v) && v ? v : 100000;
    } else if (strcmp(key, "lxc.cgroup2.cpu.max") == 0) {
        /* "QUOTA [PERIOD]" or "max [PERIOD]" */
        g_auto(GStrv) f = g_strsplit_set(val, " \t", 3);
        *quota_us = f[0] && parse_u64(f[0], &v) ? v : 0;
        *period_us = f[0] && f[1] && parse_u64(f[1], &v) && v ? v : 100000;
    } else if (strcmp(key, "lxc.cgroup.cpu.shares") == 0) {
        c->cpu_weight = parse_u64(val, &v) ? CLAMP(v * 100 / 1024, 1, 10000) : 0;
    } else if (strcmp(key, "lxc.cgroup2.cpu.weight") == 0) {
        c->cpu_weight = parse_u64(val, &v) && v >= 1 && v <= 10000 ? v : 0;
    } else if (strcmp(key, "lxc.cgroup.pids.max") == 0 ||
               strcmp(key, "lxc.cgroup2.pids.max") == 0) {
        c->pids_max = parse_u64(val, &v) ? v : 0;
    } else if (strcmp(key, "lxc.start.auto") == 0) {
        c->autostart = strcmp(val, "1") == 0;
    } else if (strcmp(key, "lxc.rootfs.path") == 0) {
        const char *dir = g_str_has_prefix(val, "dir:") ? val + 4 : val;
        g_free(c->rootfs_dir);
        c->rootfs_dir = dir[0] == '/' && !strchr(dir, ':') ? g_strdup(dir) : NULL;
    }
}

bool lxcconf_parse(const char *text, size_t len, struct lxcconf *ret, GError **error)
{
    lxcconf_init(ret);
    if (len > LXCCONF_MAX_BYTES) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "configuration of %zu bytes (at most %d read)", len, LXCCONF_MAX_BYTES);
        return false;
    }
    if (memchr(text, 0, len)) {
        g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "configuration holds a NUL byte");
        return false;
    }
    uint64_t quota_us = 0, period_us = 100000;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        g_autofree char *line = g_strndup(p, (gsize)(le - p));
        p = nl ? nl + 1 : end;
        char *s = g_strstrip(line);
        char *eq = strchr(s, '=');
        if (*s == '#' || !eq)
            continue;
        *eq = 0;
        char *key = g_strstrip(s), *val = g_strstrip(eq + 1);
        apply(ret, key, val, &quota_us, &period_us);
    }
    /* A quota too large to be one is none (the kernel's own "no limit"
     * is -1, which is not a number here either). */
    ret->cpu_millicores =
        quota_us && quota_us <= G_MAXUINT64 / 1000 ? MAX(quota_us * 1000 / period_us, 1) : 0;
    return true;
}

char *lxcconf_derived_uuid(const char *machine_id, const char *lxcpath, const char *name)
{
    /* RFC 4122 §4.3 with a namespace of our own: SHA-1 of namespace +
     * name, version and variant bits set. */
    static const guint8 ns[16] = {0x6b, 0x61, 0x6e, 0x72, 0x69, 0x2d, 0x4c, 0x58,
                                  0x43, 0x8a, 0x11, 0x5e, 0x9c, 0x0b, 0x7d, 0x21};
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA1);
    g_checksum_update(sum, ns, sizeof(ns));
    g_autofree char *key = g_strdup_printf("%s\n%s\n%s", machine_id, lxcpath, name);
    g_checksum_update(sum, (const guchar *)key, (gssize)strlen(key));
    guint8 d[20];
    gsize n = sizeof(d);
    g_checksum_get_digest(sum, d, &n);
    d[6] = (guint8)((d[6] & 0x0f) | 0x50);
    d[8] = (guint8)((d[8] & 0x3f) | 0x80);
    return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                           d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11],
                           d[12], d[13], d[14], d[15]);
}

bool lxcconf_name_valid(const char *name)
{
    return container_name_valid(name);
}
