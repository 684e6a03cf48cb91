/*
 * format: exit codes, sizes, terminal-safe text and tables; see format.h.
 */
#include "cli/format.h"
#include "cli/http.h"

#include <string.h>

int cli_exit_code_for_status(int status)
{
    if (status >= 200 && status < 300)
        return CLI_EXIT_OK;
    if (status == 401 || status == 403)
        return CLI_EXIT_AUTH;
    if (status == 404)
        return CLI_EXIT_NOT_FOUND;
    return CLI_EXIT_SERVER;
}

int cli_exit_code_for_error(const GError *error)
{
    if (!error || error->domain != HTTP_ERROR)
        return CLI_EXIT_SERVER;
    switch (error->code) {
    case HTTP_ERROR_URL:
        return CLI_EXIT_USAGE;
    case HTTP_ERROR_CONNECT:
    case HTTP_ERROR_TIMEOUT:
    case HTTP_ERROR_IO:
    case HTTP_ERROR_TRUNCATED:
    case HTTP_ERROR_TLS:
    case HTTP_ERROR_CERT:
    case HTTP_ERROR_PIN:
        return CLI_EXIT_UNREACHABLE;
    default:
        return CLI_EXIT_SERVER;
    }
}

/* ---- sizes ----------------------------------------------------------- */

static const struct {
    const char *suffix;
    guint64 factor;
} size_units[] = {
    {"", G_GUINT64_CONSTANT(1) << 20},
    {"b", 1},
    {"byte", 1},
    {"bytes", 1},
    {"k", G_GUINT64_CONSTANT(1) << 10},
    {"kib", G_GUINT64_CONSTANT(1) << 10},
    {"kb", G_GUINT64_CONSTANT(1000)},
    {"m", G_GUINT64_CONSTANT(1) << 20},
    {"mib", G_GUINT64_CONSTANT(1) << 20},
    {"mb", G_GUINT64_CONSTANT(1000000)},
    {"g", G_GUINT64_CONSTANT(1) << 30},
    {"gib", G_GUINT64_CONSTANT(1) << 30},
    {"gb", G_GUINT64_CONSTANT(1000000000)},
    {"t", G_GUINT64_CONSTANT(1) << 40},
    {"tib", G_GUINT64_CONSTANT(1) << 40},
    {"tb", G_GUINT64_CONSTANT(1000000000000)},
};

bool size_parse(const char *s, guint64 *ret_bytes)
{
    guint64 v = 0;
    const char *c = s;

    if (!s || !g_ascii_isdigit(*s))
        return false;
    for (; g_ascii_isdigit(*c); c++) {
        guint d = (guint)(*c - '0');
        if (v > (G_MAXUINT64 - d) / 10)
            return false;
        v = v * 10 + d;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(size_units); i++) {
        if (g_ascii_strcasecmp(c, size_units[i].suffix) != 0)
            continue;
        if (v == 0 || v > G_MAXUINT64 / size_units[i].factor)
            return false;
        *ret_bytes = v * size_units[i].factor;
        return true;
    }
    return false;
}

char *size_format(guint64 bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    guint idx = 0;
    guint64 div = 1;

    if (bytes < 1024)
        return g_strdup_printf("%" G_GUINT64_FORMAT " B", bytes);
    while (idx + 1 < G_N_ELEMENTS(units) && bytes / div >= 1024) {
        div <<= 10;
        idx++;
    }
    if (bytes % div == 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT " %s", bytes / div, units[idx]);
    double v = (double)bytes / (double)div;
    /* 1023.97 KiB would print as "1024.0 KiB"; say "1.0 MiB" instead. */
    if (v >= 1023.95 && idx + 1 < G_N_ELEMENTS(units)) {
        v /= 1024.0;
        idx++;
    }
    return g_strdup_printf("%.1f %s", v, units[idx]);
}

/* ---- text ------------------------------------------------------------ */

char *text_sanitize(const char *s)
{
    if (!s)
        return g_strdup("-");

    GString *out = g_string_sized_new(strlen(s));
    const char *p = s;
    const char *end = s + strlen(s);
    while (p < end) {
        gunichar ch = g_utf8_get_char_validated(p, end - p);
        if (ch == (gunichar)-1 || ch == (gunichar)-2) {
            g_string_append_printf(out, "\\x%02X", (guint)(guchar)*p);
            p++;
            continue;
        }
        GUnicodeType type = g_unichar_type(ch);
        if (ch < 0x80 && (type == G_UNICODE_CONTROL))
            g_string_append_printf(out, "\\x%02X", (guint)ch);
        else if (type == G_UNICODE_CONTROL || type == G_UNICODE_FORMAT ||
                 type == G_UNICODE_LINE_SEPARATOR || type == G_UNICODE_PARAGRAPH_SEPARATOR)
            g_string_append_printf(out, "\\u%04X", (guint)ch);
        else
            g_string_append_unichar(out, ch);
        p = g_utf8_next_char(p);
    }
    return g_string_free(out, FALSE);
}

size_t text_width(const char *s)
{
    size_t w = 0;

    if (!g_utf8_validate(s, -1, NULL))
        return strlen(s);
    for (const char *p = s; *p; p = g_utf8_next_char(p)) {
        gunichar ch = g_utf8_get_char(p);
        if (g_unichar_iszerowidth(ch))
            continue;
        w += g_unichar_iswide(ch) ? 2 : 1;
    }
    return w;
}

void diff_count(const char *diff, guint *ret_added, guint *ret_removed)
{
    guint added = 0, removed = 0;
    bool in_hunk = false;

    for (const char *line = diff; line && *line;) {
        const char *nl = strchr(line, '\n');
        if (g_str_has_prefix(line, "@@"))
            in_hunk = true;
        else if (in_hunk && line[0] == '+')
            added++;
        else if (in_hunk && line[0] == '-')
            removed++;
        line = nl ? nl + 1 : NULL;
    }
    *ret_added = added;
    *ret_removed = removed;
}

/* ---- the operations record ------------------------------------------- */

bool word_one_of(const char *s, const char *list)
{
    size_t len;

    if (!s || !*s)
        return false;
    len = strlen(s);
    for (const char *p = list; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && memcmp(p, s, n) == 0)
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

char *duration_format(gint64 seconds)
{
    static const struct {
        char unit;
        gint64 secs;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    GString *out;

    if (seconds < 0)
        return g_strdup("-");
    if (seconds == 0)
        return g_strdup("0s");
    out = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        gint64 n = seconds / units[i].secs;
        if (n == 0)
            continue;
        g_string_append_printf(out, "%" G_GINT64_FORMAT "%c", n, units[i].unit);
        seconds -= n * units[i].secs;
    }
    return g_string_free(out, FALSE);
}

bool scope_syntax_valid(const char *scope)
{
    static const char *const prefixes[] = {"host:", "vm:", "pool:", "item:"};

    if (!scope)
        return false;
    if (strcmp(scope, "all") == 0)
        return true;
    for (const char *p = scope; *p; p++) {
        if ((guchar)*p < 0x20 || *p == 0x7f)
            return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        if (g_str_has_prefix(scope, prefixes[i]))
            return scope[strlen(prefixes[i])] != '\0';
    }
    return false;
}

bool time_text_parse(const char *text, gint64 *ret)
{
    if (!text)
        return false;
    /* No default zone: a time without one is not RFC 3339. */
    g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(text, NULL);
    if (!dt)
        return false;
    *ret = g_date_time_to_unix(dt) * G_USEC_PER_SEC + g_date_time_get_microsecond(dt);
    return true;
}

int time_text_newest_first(const char *a, const char *b)
{
    gint64 ta = 0, tb = 0;
    bool ha = time_text_parse(a, &ta), hb = time_text_parse(b, &tb);

    if (ha != hb)
        return ha ? -1 : 1;
    if (!ha || ta == tb)
        return 0;
    return ta > tb ? -1 : 1;
}

/* ---- tables ---------------------------------------------------------- */

struct table {
    guint ncols;
    GPtrArray *cells; /* row-major, sanitized; the first ncols are the headers */
    bool *right;
    bool color;
};

void table_set_color(struct table *t, bool on)
{
    t->color = on;
}

const char *state_color(const char *word)
{
    static const char *const good[] = {"running", "connected", "up",   "ok",       "done",
                                       "active",  "ready",     "held", "approved", NULL};
    static const char *const meh[] = {"paused",    "suspended",    "blocked",     "warning",
                                      "pending",   "connecting",   "suspect",     "scheduled",
                                      "submitted", "acknowledged", "pmsuspended", "unresponsive",
                                      NULL};
    static const char *const bad[] = {"crashed",     "failed",       "down",    "disconnected",
                                      "critical",    "major",        "error",   "unreachable",
                                      "rolled-back", "fence-failed", "expired", NULL};
    static const struct {
        const char *const *words;
        const char *sgr;
    } sets[] = {{good, "32"}, {meh, "33"}, {bad, "31"}};
    for (size_t i = 0; word && i < G_N_ELEMENTS(sets); i++) {
        for (size_t j = 0; sets[i].words[j]; j++) {
            if (strcmp(word, sets[i].words[j]) == 0)
                return sets[i].sgr;
        }
    }
    return NULL;
}

struct table *table_new(guint ncols, const char *const *headers)
{
    struct table *t = g_new0(struct table, 1);

    g_assert(ncols > 0);
    t->ncols = ncols;
    t->cells = g_ptr_array_new_with_free_func(g_free);
    t->right = g_new0(bool, ncols);
    for (guint i = 0; i < ncols; i++) {
        g_autofree char *clean = text_sanitize(headers[i]);
        g_ptr_array_add(t->cells, g_utf8_strup(clean, -1));
    }
    return t;
}

void table_free(struct table *t)
{
    if (!t)
        return;
    g_ptr_array_unref(t->cells);
    g_free(t->right);
    g_free(t);
}

void table_align_right(struct table *t, guint col)
{
    g_assert(col < t->ncols);
    t->right[col] = true;
}

void table_add(struct table *t, const char *cell)
{
    g_ptr_array_add(t->cells, text_sanitize(cell));
}

void table_addf(struct table *t, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    table_add(t, s);
}

guint table_rows(const struct table *t)
{
    return (t->cells->len + t->ncols - 1) / t->ncols - 1;
}

static void pad(GString *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g_string_append_c(out, ' ');
}

char *table_render(const struct table *t)
{
    guint nrows = table_rows(t) + 1;
    g_autofree size_t *width = g_new0(size_t, t->ncols);
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < t->cells->len; i++) {
        size_t w = text_width(g_ptr_array_index(t->cells, i));
        width[i % t->ncols] = MAX(width[i % t->ncols], w);
    }
    size_t total = 0;
    for (guint c = 0; c < t->ncols; c++)
        total += width[c] + (c ? 2 : 0);

    for (guint r = 0; r < nrows; r++) {
        size_t line_start = out->len;
        for (guint c = 0; c < t->ncols; c++) {
            guint i = r * t->ncols + c;
            const char *cell = i < t->cells->len ? g_ptr_array_index(t->cells, i) : "";
            size_t w = text_width(cell);
            if (c > 0)
                g_string_append(out, "  ");
            if (t->right[c])
                pad(out, width[c] - w);
            /* Colour around the text only: widths and padding stay. */
            const char *sgr = !t->color || !*cell ? NULL : r == 0 ? "1" : state_color(cell);
            if (sgr)
                g_string_append_printf(out, "\033[%sm%s\033[0m", sgr, cell);
            else
                g_string_append(out, cell);
            if (!t->right[c])
                pad(out, width[c] - w);
        }
        /* Padding of the last columns would leave trailing blanks. */
        while (out->len > line_start && out->str[out->len - 1] == ' ')
            g_string_truncate(out, out->len - 1);
        g_string_append_c(out, '\n');
        if (r == 0) {
            for (size_t i = 0; i < total; i++)
                g_string_append_c(out, '-');
            g_string_append_c(out, '\n');
        }
    }
    return g_string_free(out, FALSE);
}
