#include "config.h"

#include "basic/util.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

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
        if (secs > TIME_MAX_SEC)
            return false;
        *ret_usec = (int64_t)secs * USEC_PER_SEC;
        return true;
    }
    g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(s, NULL);
    if (!dt || g_date_time_to_unix(dt) < 0 || g_date_time_to_unix(dt) > TIME_MAX_SEC)
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
    guint64 v;

    /* GLib refuses signs, leading spaces, trailing bytes and overflow. */
    if (!s || !g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, &v, NULL))
        return false;
    *ret = v;
    return true;
}

char *token_generate(void)
{
    guint8 raw[32];
    size_t got = 0;

    /* Tokens are credentials: only the kernel's CSPRNG will do, never GLib's
     * PRNG.  getrandom() without flags blocks until that is seeded; it may
     * return short or fail with EINTR on a signal, so loop. */
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            g_error("getrandom() failed, so no token can be made: %s", g_strerror(errno));
        }
        got += (size_t)n;
    }

    g_autofree char *b64 = g_base64_encode(raw, sizeof(raw));
    /* base64url without padding, so tokens survive URLs and shells. */
    g_strdelimit(b64, "+", '-');
    g_strdelimit(b64, "/", '_');
    b64[strcspn(b64, "=")] = '\0';
    return g_strconcat("kanri_", b64, NULL);
}

char *sha256_hex(const char *s)
{
    return g_compute_checksum_for_string(G_CHECKSUM_SHA256, s, -1);
}

bool uuid_is_valid(const char *s)
{
    return s && g_uuid_string_is_valid(s);
}
