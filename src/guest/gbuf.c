#include "gbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gbuf_init(struct gbuf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max ? max : GBUF_DEFAULT_MAX;
}

void gbuf_free(struct gbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->overflow = false;
}

void gbuf_reset(struct gbuf *b)
{
    b->len = 0;
    b->overflow = false;
    if (b->data)
        b->data[0] = '\0';
}

void gbuf_trim(struct gbuf *b, size_t keep)
{
    if (b->cap > keep) {
        size_t max = b->max;
        gbuf_free(b);
        b->max = max;
    } else {
        gbuf_reset(b);
    }
}

bool gbuf_reserve(struct gbuf *b, size_t extra)
{
    if (b->overflow)
        return false;
    if (extra > b->max || b->len > b->max - extra) {
        b->overflow = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->overflow = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void gbuf_append(struct gbuf *b, const void *p, size_t n)
{
    if (!gbuf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void gbuf_puts(struct gbuf *b, const char *s)
{
    gbuf_append(b, s, strlen(s));
}

void gbuf_putc(struct gbuf *b, char c)
{
    gbuf_append(b, &c, 1);
}

void gbuf_printf(struct gbuf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->overflow = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        gbuf_append(b, small, (size_t)n);
        return;
    }
    if (!gbuf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
