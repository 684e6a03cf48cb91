#include "json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void jw_init(struct jw *w, struct gbuf *b)
{
    memset(w, 0, sizeof(*w));
    w->b = b;
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

void json_append_string(struct gbuf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    gbuf_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        /* Copy plain printable ASCII in one go: it is most of every string. */
        while (run < n && s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            gbuf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            gbuf_putc(b, '\\');
            gbuf_putc(b, (char)c);
            i++;
            continue;
        }
        /* Everything the agent writes is a name read from the machine
         * (host, disk, mount point); kanrid refuses control characters in
         * them, so one odd name must not cost the whole document. */
        if (c < 0x20 || c == 0x7F ||
            (c == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] < 0xA0)) {
            gbuf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD REPLACEMENT CHARACTER */
            i += c == 0xC2 ? 2 : 1;
            continue;
        }
        size_t len = utf8_seq_len(s + i, n - i);
        if (len == 0) {
            gbuf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD REPLACEMENT CHARACTER */
            i++;
        } else {
            gbuf_append(b, s + i, len);
            i += len;
        }
    }
    gbuf_putc(b, '"');
}

static void sep(struct jw *w, const char *key)
{
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1])
            gbuf_putc(w->b, ',');
        w->has_items[w->depth - 1] = true;
    }
    if (key) {
        json_append_string(w->b, key, strlen(key));
        gbuf_putc(w->b, ':');
    }
}

static void begin(struct jw *w, const char *key, char c)
{
    sep(w, key);
    if (w->depth >= JW_MAX_DEPTH) {
        w->b->overflow = true;
        return;
    }
    gbuf_putc(w->b, c);
    w->has_items[w->depth++] = false;
}

static void end(struct jw *w, char c)
{
    if (w->depth > 0)
        w->depth--;
    gbuf_putc(w->b, c);
}

void jw_obj_begin(struct jw *w, const char *key)
{
    begin(w, key, '{');
}

void jw_obj_end(struct jw *w)
{
    end(w, '}');
}

void jw_arr_begin(struct jw *w, const char *key)
{
    begin(w, key, '[');
}

void jw_arr_end(struct jw *w)
{
    end(w, ']');
}

void jw_u64(struct jw *w, const char *key, uint64_t v)
{
    sep(w, key);
    gbuf_printf(w->b, "%llu", (unsigned long long)v);
}

void jw_i64(struct jw *w, const char *key, int64_t v)
{
    sep(w, key);
    gbuf_printf(w->b, "%lld", (long long)v);
}

void jw_double(struct jw *w, const char *key, double v, int decimals)
{
    sep(w, key);
    if (!isfinite(v))
        gbuf_puts(w->b, "null");
    else
        gbuf_printf(w->b, "%.*f", decimals, v);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
    sep(w, key);
    gbuf_puts(w->b, v ? "true" : "false");
}

void jw_null(struct jw *w, const char *key)
{
    sep(w, key);
    gbuf_puts(w->b, "null");
}

void jw_strn(struct jw *w, const char *key, const char *s, size_t n)
{
    sep(w, key);
    json_append_string(w->b, s, n);
}

void jw_str(struct jw *w, const char *key, const char *s)
{
    jw_strn(w, key, s, strlen(s));
}

void jw_raw(struct jw *w, const char *key, const char *json)
{
    sep(w, key);
    gbuf_puts(w->b, json);
}
