/*
 * conf: kanri-guestd's configuration, from a file of "key = value" lines
 * ('#' starts a comment line; blank lines are ignored) and from command-line
 * flags applied on top.
 *
 * Keys: url, server_pin, token, token_file, interval, timeout, state_dir,
 * spool_max_age, spool_max_bytes, spool_max_count, root.  Durations take an optional unit
 * (s, m, h, d; seconds by default), sizes an optional K, M or G (binary).
 * Unknown keys and malformed values are errors: a typo must not silently
 * leave a default in place.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls.h"

#define CONF_DEFAULT_PATH      "/etc/kanri/guestd.conf"
#define CONF_DEFAULT_STATE_DIR "/var/lib/kanri-guestd"

struct guestd_conf {
    char url[1024];
    struct tls_pins pins; /* server_pin: what an https url trusts */
    char token[512];
    char token_file[4096];
    unsigned interval; /* seconds, 1..86400 */
    unsigned timeout;  /* seconds per push, 1..300 */
    char state_dir[4096];
    int64_t spool_max_age;    /* seconds */
    uint64_t spool_max_bytes; /* bytes */
    uint64_t spool_max_count; /* 0: max_age / interval + 1 */
    char root[4096];
};

void conf_defaults(struct guestd_conf *c);

/* Applies one setting.  Returns 0 or -EINVAL with a message in err. */
int conf_set(struct guestd_conf *c, const char *key, const char *value, char *err, size_t errsz);

/* Parses text (name is used in messages, with the line number). */
int conf_parse_text(struct guestd_conf *c, const char *text, const char *name, char *err,
                    size_t errsz);

/* Reads and parses a file (at most 64 KiB).  Returns -ENOENT when missing. */
int conf_parse_file(struct guestd_conf *c, const char *path, char *err, size_t errsz);

/* Loads token_file when set (first line, which must not be empty) and checks
 * the combination (an https url needs server_pin, which only https uses).
 * need_url: pushing requires url. */
int conf_finish(struct guestd_conf *c, bool need_url, char *err, size_t errsz);

/* Number or number+unit parsers, exposed for tests. */
bool conf_parse_duration(const char *s, int64_t *ret);
bool conf_parse_size(const char *s, uint64_t *ret);
