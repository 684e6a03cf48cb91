#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "http.h"
#include "sample.h"

void conf_defaults(struct guestd_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->interval = 10;
    c->timeout = 10;
    snprintf(c->state_dir, sizeof(c->state_dir), "%s", CONF_DEFAULT_STATE_DIR);
    c->spool_max_age = 24 * 3600;
    c->spool_max_bytes = 64ull << 20;
    snprintf(c->root, sizeof(c->root), "/");
}

static bool parse_scaled(const char *s, const char *units, const uint64_t *mult, uint64_t *ret)
{
    size_t n = strlen(s);
    uint64_t m = 1;
    if (n > 0) {
        const char *u = strchr(units, s[n - 1]);
        if (u && s[n - 1]) {
            m = mult[u - units];
            n--;
        }
    }
    uint64_t v;
    if (!parse_u64_strict(s, n, &v) || (m > 1 && v > UINT64_MAX / m))
        return false;
    *ret = v * m;
    return true;
}

bool conf_parse_duration(const char *s, int64_t *ret)
{
    static const uint64_t mult[] = {1, 60, 3600, 86400};
    uint64_t v;
    if (!parse_scaled(s, "smhd", mult, &v) || v > INT32_MAX)
        return false;
    *ret = (int64_t)v;
    return true;
}

bool conf_parse_size(const char *s, uint64_t *ret)
{
    static const uint64_t mult[] = {1ull << 10, 1ull << 20, 1ull << 30,
                                    1ull << 10, 1ull << 20, 1ull << 30};
    return parse_scaled(s, "KMGkmg", mult, ret);
}

static int copy_value(char *dst, size_t size, const char *key, const char *value, char *err,
                      size_t errsz)
{
    if (strlen(value) >= size) {
        snprintf(err, errsz, "%s: value too long", key);
        return -EINVAL;
    }
    snprintf(dst, size, "%s", value);
    return 0;
}

/* A token goes into an HTTP header: visible ASCII only, so it can neither
 * break the header nor smuggle another one. */
static bool token_is_valid(const char *t)
{
    if (!*t)
        return false;
    for (const char *p = t; *p; p++)
        if (*p <= ' ' || *p > '~')
            return false;
    return true;
}

int conf_set(struct guestd_conf *c, const char *key, const char *value, char *err, size_t errsz)
{
    int64_t d;
    uint64_t u;
    if (strcmp(key, "url") == 0) {
        struct http_url parsed;
        char why[160];
        if (http_url_parse(value, &parsed, why, sizeof(why)) < 0) {
            snprintf(err, errsz, "url: %s", why);
            return -EINVAL;
        }
        return copy_value(c->url, sizeof(c->url), key, value, err, errsz);
    }
    if (strcmp(key, "server_pin") == 0) {
        char why[160];
        if (tls_pins_parse(value, &c->pins, why, sizeof(why)) < 0) {
            snprintf(err, errsz, "server_pin: %s", why);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "token") == 0) {
        if (!token_is_valid(value)) {
            snprintf(err, errsz, "token: must be visible ASCII without spaces");
            return -EINVAL;
        }
        return copy_value(c->token, sizeof(c->token), key, value, err, errsz);
    }
    if (strcmp(key, "token_file") == 0)
        return copy_value(c->token_file, sizeof(c->token_file), key, value, err, errsz);
    if (strcmp(key, "state_dir") == 0)
        return copy_value(c->state_dir, sizeof(c->state_dir), key, value, err, errsz);
    if (strcmp(key, "root") == 0)
        return copy_value(c->root, sizeof(c->root), key, value, err, errsz);
    if (strcmp(key, "interval") == 0) {
        if (!conf_parse_duration(value, &d) || d < 1 || d > 86400) {
            snprintf(err, errsz, "interval: expected a duration from 1s to 1d, got \"%s\"", value);
            return -EINVAL;
        }
        c->interval = (unsigned)d;
        return 0;
    }
    if (strcmp(key, "timeout") == 0) {
        if (!conf_parse_duration(value, &d) || d < 1 || d > 300) {
            snprintf(err, errsz, "timeout: expected a duration from 1s to 5m, got \"%s\"", value);
            return -EINVAL;
        }
        c->timeout = (unsigned)d;
        return 0;
    }
    if (strcmp(key, "spool_max_age") == 0) {
        if (!conf_parse_duration(value, &d) || d > 366 * 86400) {
            snprintf(err, errsz, "spool_max_age: expected a duration up to 366d, got \"%s\"",
                     value);
            return -EINVAL;
        }
        c->spool_max_age = d;
        return 0;
    }
    if (strcmp(key, "spool_max_bytes") == 0) {
        if (!conf_parse_size(value, &u)) {
            snprintf(err, errsz, "spool_max_bytes: expected a size like 64M, got \"%s\"", value);
            return -EINVAL;
        }
        c->spool_max_bytes = u;
        return 0;
    }
    if (strcmp(key, "spool_max_count") == 0) {
        if (!parse_u64_strict(value, strlen(value), &u) || u > 1000000) {
            snprintf(err, errsz, "spool_max_count: expected a number up to 1000000, got \"%s\"",
                     value);
            return -EINVAL;
        }
        c->spool_max_count = u;
        return 0;
    }
    snprintf(err, errsz, "unknown key \"%s\"", key);
    return -EINVAL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int conf_parse_text(struct guestd_conf *c, const char *text, const char *name, char *err,
                    size_t errsz)
{
    unsigned lineno = 0;
    const char *p = text;
    while (*p) {
        lineno++;
        size_t len = strcspn(p, "\n");
        char line[8192];
        if (len >= sizeof(line)) {
            snprintf(err, errsz, "%s:%u: line too long", name, lineno);
            return -EINVAL;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p += len;
        if (*p == '\n')
            p++;
        char *l = trim(line);
        if (*l == '\0' || *l == '#')
            continue;
        char *eq = strchr(l, '=');
        if (!eq) {
            snprintf(err, errsz, "%s:%u: expected \"key = value\"", name, lineno);
            return -EINVAL;
        }
        *eq = '\0';
        char *key = trim(l), *value = trim(eq + 1);
        char why[400];
        if (conf_set(c, key, value, why, sizeof(why)) < 0) {
            snprintf(err, errsz, "%s:%u: %s", name, lineno, why);
            return -EINVAL;
        }
    }
    return 0;
}

int conf_parse_file(struct guestd_conf *c, const char *path, char *err, size_t errsz)
{
    static char text[65536];
    size_t len;
    int r = read_small_file(path, text, sizeof(text), &len);
    if (r < 0) {
        snprintf(err, errsz, "%s: %s", path, r == -EFBIG ? "file too large" : strerror(-r));
        return r;
    }
    if (memchr(text, '\0', len)) {
        snprintf(err, errsz, "%s: not a text file", path);
        return -EINVAL;
    }
    return conf_parse_text(c, text, path, err, errsz);
}

int conf_finish(struct guestd_conf *c, bool need_url, char *err, size_t errsz)
{
    if (c->token_file[0]) {
        char buf[sizeof(c->token)];
        size_t len;
        int r = read_small_file(c->token_file, buf, sizeof(buf), &len);
        if (r < 0) {
            snprintf(err, errsz, "token_file %s: %s", c->token_file,
                     r == -EFBIG ? "file too large" : strerror(-r));
            return -EINVAL;
        }
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!token_is_valid(buf)) {
            snprintf(err, errsz,
                     "token_file %s: first line must be a token (visible ASCII, no spaces)",
                     c->token_file);
            return -EINVAL;
        }
        snprintf(c->token, sizeof(c->token), "%s", buf);
    }
    if (need_url && !c->url[0]) {
        snprintf(err, errsz, "no url configured (set url in the config file or use --url)");
        return -EINVAL;
    }
    struct http_url u;
    char why[160];
    bool https = c->url[0] && http_url_parse(c->url, &u, why, sizeof(why)) == 0 && u.https;
    if (https && c->pins.n == 0) {
        snprintf(err, errsz,
                 "an https url needs server_pin = sha256//... (kanrid logs its pin at start: "
                 "\"TLS certificate ..., pin sha256//...\")");
        return -EINVAL;
    }
    if (!https && c->pins.n > 0) {
        snprintf(err, errsz, "server_pin applies only to an https:// url");
        return -EINVAL;
    }
    if (need_url && !c->state_dir[0]) {
        snprintf(err, errsz, "state_dir must not be empty");
        return -EINVAL;
    }
    if (c->spool_max_count == 0)
        c->spool_max_count = (uint64_t)c->spool_max_age / c->interval + 1;
    return 0;
}
