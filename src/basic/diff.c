/*
 * diff: unified diff of two texts, line by line.
 *
 * Lines are interned to integers so the search compares ints, then Myers'
 * O(ND) algorithm in its linear-space form (find the middle of the edit path,
 * recurse on both halves) marks which lines of each side changed.  Among the
 * many minimal edit scripts the search may return one that looks odd to a
 * person (a block of "}" lines added one line too early), so changed runs are
 * then slid along equal lines the way GNU diff does, which also makes the
 * output match `diff -u` in all but rare tie cases.  Finally the changes are
 * grouped into hunks with three lines of context.
 *
 * Cost is bounded twice: more than DIFF_MAX_LINES lines on a side, or an edit
 * distance above MAX_EDITS, gives a single hunk replacing everything.
 */
#include "basic/diff.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT 3

/* Edit distance (lines inserted plus deleted) beyond which the search stops.
 * The search costs O((N+M)·D) time; 20000 keeps the worst case around a
 * second, and a change that large is unreadable as a diff anyway. */
#define MAX_EDITS 20000

struct line {
    const char *s;
    size_t len; /* including the '\n', when the line has one */
};

struct side {
    struct line *lines;
    int n;
    int *ids;      /* interned line numbers: equal lines have equal ids */
    bool *changed; /* n + 1 entries; the last stays false as a sentinel */
};

static bool line_has_newline(const struct line *l)
{
    return l->len > 0 && l->s[l->len - 1] == '\n';
}

/* Splits text into lines.  Returns false when there are more than `max`. */
static bool split_lines(const char *text, struct side *side, size_t max)
{
    size_t n = 0, cap = 0;
    const char *p = text ? text : "";
    struct line *lines = NULL;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (n == max) {
            g_free(lines);
            return false;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            lines = g_renew(struct line, lines, cap);
        }
        lines[n].s = p;
        lines[n].len = len;
        n++;
        p += len;
    }
    side->lines = lines;
    side->n = (int)n;
    side->changed = g_new0(bool, n + 1);
    return true;
}

static guint line_hash(gconstpointer key)
{
    const struct line *l = key;
    /* FNV-1a: simple and good enough for text lines. */
    guint32 h = 2166136261u;
    for (size_t i = 0; i < l->len; i++) {
        h ^= (unsigned char)l->s[i];
        h *= 16777619u;
    }
    return h;
}

static gboolean line_equal(gconstpointer a, gconstpointer b)
{
    const struct line *x = a, *y = b;
    return x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
}

/* Returns the number of distinct lines; ids run from 0 to that - 1. */
static int intern_lines(struct side *a, struct side *b)
{
    g_autoptr(GHashTable) ids = g_hash_table_new(line_hash, line_equal);
    struct side *sides[] = {a, b};

    for (size_t s = 0; s < G_N_ELEMENTS(sides); s++) {
        struct side *side = sides[s];
        side->ids = g_new(int, side->n + 1);
        for (int i = 0; i < side->n; i++) {
            gpointer v;
            if (!g_hash_table_lookup_extended(ids, &side->lines[i], NULL, &v)) {
                /* Stored as id + 1 so that no value is NULL. */
                v = GINT_TO_POINTER(g_hash_table_size(ids) + 1);
                g_hash_table_insert(ids, &side->lines[i], v);
            }
            side->ids[i] = GPOINTER_TO_INT(v) - 1;
        }
    }
    return (int)g_hash_table_size(ids);
}

/* ---- Myers' algorithm, linear space ------------------------------------ */

struct search {
    const int *a, *b;
    bool *ca, *cb;
    int max_d; /* steps per direction before giving up */
};

static bool compare(struct search *s, int a_lo, int a_hi, int b_lo, int b_hi);

/*
 * Finds a point the middle of a shortest edit path goes through, then
 * recurses on the two halves.  The greedy search runs forwards from the
 * top-left corner and backwards from the bottom-right corner, one edit per
 * round each, until the frontiers meet.  Diagonals are numbered k = x - y in
 * absolute coordinates; fwd[k] is the furthest x the forward search reached
 * on diagonal k, bwd[k] the smallest x the backward search reached.  Only
 * diagonals that cross the box are searched, and each round scans them from
 * high to low, taking a deletion over an insertion on ties: the same order
 * GNU diff uses, so both pick the same path when several are minimal.
 *
 * compare() has stripped equal heads and tails, so neither corner starts a
 * snake and the search can begin with one edit.  Returns false when more
 * than s->max_d rounds would be needed.
 */
static bool bisect(struct search *s, int a_lo, int a_hi, int b_lo, int b_hi)
{
    const int *a = s->a, *b = s->b;
    const int kmin = a_lo - b_hi, kmax = a_hi - b_lo;
    const int fmid = a_lo - b_lo, bmid = a_hi - b_hi;
    const bool odd = (fmid - bmid) & 1;
    /* Diagonals kmin - 1 .. kmax + 1: the ends hold sentinels. */
    const int off = 1 - kmin, len = kmax - kmin + 3;
    g_autofree int *fwd_buf = g_new(int, len);
    g_autofree int *bwd_buf = g_new(int, len);
    int *fwd = fwd_buf + off, *bwd = bwd_buf + off;
    int fmin = fmid, fmax = fmid, bmin = bmid, bmax = bmid;
    int split_x = -1, split_y = -1;

    fwd[fmid] = a_lo;
    bwd[bmid] = a_hi;
    for (int round = 1; split_x < 0; round++) {
        if (round > s->max_d)
            return false;

        /* Widen the forward band by one diagonal each side, or narrow it
         * where it already reaches the box edge; the sentinel beyond a new
         * end makes the scan below take the only possible move there. */
        if (fmin > kmin)
            fwd[--fmin - 1] = -1;
        else
            fmin++;
        if (fmax < kmax)
            fwd[++fmax + 1] = -1;
        else
            fmax--;
        for (int k = fmax; k >= fmin; k -= 2) {
            int from_above = fwd[k - 1], from_left = fwd[k + 1];
            int x = from_above >= from_left ? from_above + 1 : from_left;
            int y = x - k;
            while (x < a_hi && y < b_hi && a[x] == b[y]) {
                x++;
                y++;
            }
            fwd[k] = x;
            if (odd && bmin <= k && k <= bmax && bwd[k] <= x) {
                split_x = x;
                split_y = y;
                break;
            }
        }
        if (split_x >= 0)
            break;

        if (bmin > kmin)
            bwd[--bmin - 1] = INT_MAX;
        else
            bmin++;
        if (bmax < kmax)
            bwd[++bmax + 1] = INT_MAX;
        else
            bmax--;
        for (int k = bmax; k >= bmin; k -= 2) {
            int from_below = bwd[k - 1], from_right = bwd[k + 1];
            int x = from_below < from_right ? from_below : from_right - 1;
            int y = x - k;
            while (x > a_lo && y > b_lo && a[x - 1] == b[y - 1]) {
                x--;
                y--;
            }
            bwd[k] = x;
            if (!odd && fmin <= k && k <= fmax && x <= fwd[k]) {
                split_x = x;
                split_y = y;
                break;
            }
        }
    }

    /* The split is strictly inside the box for any non-trivial range; the
     * check only guards the recursion against looping on a bug. */
    if (split_x < a_lo || split_x > a_hi || split_y < b_lo || split_y > b_hi ||
        (split_x == a_lo && split_y == b_lo) || (split_x == a_hi && split_y == b_hi)) {
        for (int i = a_lo; i < a_hi; i++)
            s->ca[i] = true;
        for (int j = b_lo; j < b_hi; j++)
            s->cb[j] = true;
        return true;
    }
    return compare(s, a_lo, split_x, b_lo, split_y) && compare(s, split_x, a_hi, split_y, b_hi);
}

/* Marks the changed lines between a[a_lo, a_hi) and b[b_lo, b_hi). */
static bool compare(struct search *s, int a_lo, int a_hi, int b_lo, int b_hi)
{
    /* Common head and tail are equal lines whatever the rest does. */
    while (a_lo < a_hi && b_lo < b_hi && s->a[a_lo] == s->b[b_lo]) {
        a_lo++;
        b_lo++;
    }
    while (a_lo < a_hi && b_lo < b_hi && s->a[a_hi - 1] == s->b[b_hi - 1]) {
        a_hi--;
        b_hi--;
    }
    if (a_lo == a_hi) {
        for (int j = b_lo; j < b_hi; j++)
            s->cb[j] = true;
        return true;
    }
    if (b_lo == b_hi) {
        for (int i = a_lo; i < a_hi; i++)
            s->ca[i] = true;
        return true;
    }
    return bisect(s, a_lo, a_hi, b_lo, b_hi);
}

/* The lines [lo, hi) of `side` whose text occurs on the other side
 * (`present`, by id), compacted: ids in *ret_ids, original indexes in
 * *ret_index.  The others are marked changed. */
static int compact(const struct side *side, int lo, int hi, const bool *present, int **ret_ids,
                   int **ret_index)
{
    int *ids = g_new(int, hi - lo + 1), *index = g_new(int, hi - lo + 1), n = 0;
    for (int i = lo; i < hi; i++) {
        if (present[side->ids[i]]) {
            ids[n] = side->ids[i];
            index[n++] = i;
        } else {
            side->changed[i] = true;
        }
    }
    *ret_ids = ids;
    *ret_index = index;
    return n;
}

/*
 * Marks the changed lines of both sides.  The steps before the search copy
 * GNU diff's, because each changes which of several equally short diffs
 * comes out, and matching `diff -u` makes our records easy to check:
 *
 * - Identical leading and trailing lines are set aside, except the CONTEXT
 *   lines nearest the middle (GNU keeps those for printing, and they take
 *   part in the next step).
 * - A line in the middle whose text occurs nowhere in the other side's
 *   middle is changed whatever the alignment: it is marked at once and left
 *   out of the search, which also makes the search smaller.  (GNU diff also
 *   sets aside some lines that occur very often; that rule is not copied,
 *   so in files with many repeated lines the two may pick different, equally
 *   short diffs.)
 *
 * Returns false when the edit distance is over MAX_EDITS.
 */
static bool find_changes(struct side *a, struct side *b, int nids)
{
    int prefix = 0, suffix = 0;
    while (prefix < a->n && prefix < b->n && a->ids[prefix] == b->ids[prefix])
        prefix++;
    while (suffix < a->n - prefix && suffix < b->n - prefix &&
           a->ids[a->n - 1 - suffix] == b->ids[b->n - 1 - suffix])
        suffix++;
    int lo = prefix - MIN(prefix, CONTEXT);
    int a_hi = a->n - suffix + MIN(suffix, CONTEXT), b_hi = b->n - suffix + MIN(suffix, CONTEXT);

    g_autofree bool *in_a = g_new0(bool, nids + 1);
    g_autofree bool *in_b = g_new0(bool, nids + 1);
    g_autofree int *ids_a = NULL, *index_a = NULL, *ids_b = NULL, *index_b = NULL;
    for (int i = lo; i < a_hi; i++)
        in_a[a->ids[i]] = true;
    for (int j = lo; j < b_hi; j++)
        in_b[b->ids[j]] = true;
    int na = compact(a, lo, a_hi, in_b, &ids_a, &index_a);
    int nb = compact(b, lo, b_hi, in_a, &ids_b, &index_b);

    g_autofree bool *ca = g_new0(bool, na + 1);
    g_autofree bool *cb = g_new0(bool, nb + 1);
    struct search s = {
        .a = ids_a,
        .b = ids_b,
        .ca = ca,
        .cb = cb,
        .max_d = MAX_EDITS / 2 + 1, /* rounds: each adds up to 2 edits */
    };
    if (!compare(&s, 0, na, 0, nb))
        return false;
    for (int i = 0; i < na; i++)
        a->changed[index_a[i]] = ca[i];
    for (int j = 0; j < nb; j++)
        b->changed[index_b[j]] = cb[j];
    return true;
}

/*
 * Slides each run of changed lines in `side` along equal lines: first up,
 * merging with runs above; then down as far as it goes, merging with runs
 * below; then back up to the lowest place where it lines up with a run of
 * changes in the other side, so a replaced block prints as one -/+ pair.
 * Sliding swaps a changed line with an equal unchanged one, so the diff
 * stays minimal and correct; only its shape changes.  This is the rule GNU
 * diff applies, reimplemented here so our output matches `diff -u`.
 */
static void shift_runs(struct side *side, const struct side *other)
{
    const int n = side->n;
    const int *id = side->ids;
    bool *ch = side->changed;

    /* unch_pos[u]: index in `other` of its u-th unchanged line, with
     * unch_pos[-1] = -1 and unch_pos[U] = other->n as sentinels.  Both sides
     * have the same number U of unchanged lines, paired in order, and sliding
     * keeps that pairing, so the table stays valid throughout. */
    g_autofree int *pos_buf = g_new(int, other->n + 2);
    int *unch_pos = pos_buf + 1;
    int u_total = 0;
    unch_pos[-1] = -1;
    for (int j = 0; j < other->n; j++)
        if (!other->changed[j])
            unch_pos[u_total++] = j;
    unch_pos[u_total] = other->n;

    /* True when `other` has changed lines at the point that follows its
     * u-th unchanged line: the counterpart of a run preceded by u
     * unchanged lines on this side. */
#define OTHER_CHANGED_AT(u) (unch_pos[(u)] - unch_pos[(u)-1] > 1)

    int i = 0, u = 0;
    for (;;) {
        while (i < n && !ch[i]) {
            i++;
            u++;
        }
        if (i == n)
            break;
        int start = i;
        while (i < n && ch[i])
            i++;
        int end = i, run_len, aligned;
        do {
            run_len = end - start;
            while (start > 0 && id[start - 1] == id[end - 1]) {
                ch[--start] = true;
                ch[--end] = false;
                u--;
                while (start > 0 && ch[start - 1])
                    start--;
            }
            aligned = OTHER_CHANGED_AT(u) ? end : -1;
            while (end < n && id[start] == id[end]) {
                ch[start++] = false;
                ch[end++] = true;
                u++;
                while (end < n && ch[end])
                    end++;
                if (OTHER_CHANGED_AT(u))
                    aligned = end;
            }
        } while (run_len != end - start);
        while (aligned >= 0 && end > aligned) {
            ch[--start] = true;
            ch[--end] = false;
            u--;
        }
        i = end;
    }
#undef OTHER_CHANGED_AT
}

/* ---- output ------------------------------------------------------------ */

struct block {
    int a_start, a_end, b_start, b_end;
};

static void put_line(GString *out, char prefix, const struct line *l)
{
    g_string_append_c(out, prefix);
    g_string_append_len(out, l->s, (gssize)l->len);
    if (!line_has_newline(l))
        g_string_append(out, "\n\\ No newline at end of file\n");
}

/* diff(1)'s range: "start,count", "start" when count is 1, and for an empty
 * range the line before it, ",0". */
static void put_range(GString *out, int start, int count)
{
    if (count == 0)
        g_string_append_printf(out, "%d,0", start);
    else if (count == 1)
        g_string_append_printf(out, "%d", start + 1);
    else
        g_string_append_printf(out, "%d,%d", start + 1, count);
}

static void put_hunk(GString *out, const struct side *a, const struct side *b,
                     const struct block *first, const struct block *last)
{
    int before = MIN(CONTEXT, first->a_start);
    int after = MIN(CONTEXT, a->n - last->a_end);
    int a0 = first->a_start - before, a1 = last->a_end + after;
    int b0 = first->b_start - before, b1 = last->b_end + after;

    g_string_append(out, "@@ -");
    put_range(out, a0, a1 - a0);
    g_string_append(out, " +");
    put_range(out, b0, b1 - b0);
    g_string_append(out, " @@\n");

    int i = a0;
    for (const struct block *blk = first; blk <= last; blk++) {
        for (; i < blk->a_start; i++)
            put_line(out, ' ', &a->lines[i]);
        for (; i < blk->a_end; i++)
            put_line(out, '-', &a->lines[i]);
        for (int j = blk->b_start; j < blk->b_end; j++)
            put_line(out, '+', &b->lines[j]);
    }
    for (; i < a1; i++)
        put_line(out, ' ', &a->lines[i]);
}

static char *format_unified(const struct side *a, const struct side *b, const char *label_a,
                            const char *label_b)
{
    g_autoptr(GArray) blocks = g_array_new(FALSE, FALSE, sizeof(struct block));
    int i = 0, j = 0;

    while (i < a->n || j < b->n) {
        if (i < a->n && j < b->n && !a->changed[i] && !b->changed[j]) {
            i++;
            j++;
            continue;
        }
        struct block blk = {.a_start = i, .b_start = j};
        while (i < a->n && a->changed[i])
            i++;
        while (j < b->n && b->changed[j])
            j++;
        blk.a_end = i;
        blk.b_end = j;
        g_array_append_val(blocks, blk);
    }
    if (blocks->len == 0)
        return g_strdup("");

    GString *out = g_string_new(NULL);
    g_string_append_printf(out, "--- %s\n+++ %s\n", label_a, label_b);
    const struct block *blk = (const struct block *)(void *)blocks->data;
    unsigned first = 0;
    for (unsigned k = 1; k <= blocks->len; k++) {
        /* Changes up to 2 * CONTEXT unchanged lines apart share a hunk: their
         * contexts would touch or overlap. */
        if (k < blocks->len && blk[k].a_start - blk[k - 1].a_end <= 2 * CONTEXT)
            continue;
        put_hunk(out, a, b, &blk[first], &blk[k - 1]);
        first = k;
    }
    return g_string_free(out, FALSE);
}

static void side_clear(struct side *s)
{
    g_free(s->lines);
    g_free(s->ids);
    g_free(s->changed);
}

char *diff_unified(const char *a, const char *b, const char *label_a, const char *label_b)
{
    struct side sa = {0}, sb = {0};
    char *result;

    if (g_strcmp0(a ? a : "", b ? b : "") == 0)
        return g_strdup("");
    label_a = label_a ? label_a : "a";
    label_b = label_b ? label_b : "b";

    if (!split_lines(a, &sa, DIFF_MAX_LINES) || !split_lines(b, &sb, DIFF_MAX_LINES)) {
        /* Too many lines to diff: count them only to print the hunk. */
        side_clear(&sa);
        side_clear(&sb);
        memset(&sa, 0, sizeof(sa));
        memset(&sb, 0, sizeof(sb));
        split_lines(a, &sa, SIZE_MAX);
        split_lines(b, &sb, SIZE_MAX);
        memset(sa.changed, 1, (size_t)sa.n * sizeof(bool));
        memset(sb.changed, 1, (size_t)sb.n * sizeof(bool));
    } else {
        int nids = intern_lines(&sa, &sb);
        if (find_changes(&sa, &sb, nids)) {
            shift_runs(&sa, &sb);
            shift_runs(&sb, &sa);
        } else {
            for (int i = 0; i < sa.n; i++)
                sa.changed[i] = true;
            for (int j = 0; j < sb.n; j++)
                sb.changed[j] = true;
        }
    }
    result = format_unified(&sa, &sb, label_a, label_b);
    side_clear(&sa);
    side_clear(&sb);
    return result;
}

void diff_stat(const char *unified, unsigned *ret_added, unsigned *ret_removed)
{
    unsigned added = 0, removed = 0;
    long old_left = 0, new_left = 0;
    const char *p = unified ? unified : "";

    /* Inside a hunk, the header's counts say how many lines belong to it, so
     * a removed line that reads "-- x" (printed "--- x") is not taken for a
     * file header.  Outside hunks only "@@" lines matter. */
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);

        if (old_left > 0 || new_left > 0) {
            if (*p == '-') {
                removed++;
                old_left--;
            } else if (*p == '+') {
                added++;
                new_left--;
            } else if (*p == ' ') {
                old_left--;
                new_left--;
            }
        } else if (len > 4 && strncmp(p, "@@ -", 4) == 0) {
            /* "@@ -a[,b] +c[,d] @@": an omitted count means 1.  The "+"
             * part must follow at once; searching for it could run on
             * through the rest of a malformed diff. */
            char *endp;
            strtol(p + 4, &endp, 10);
            old_left = *endp == ',' ? strtol(endp + 1, &endp, 10) : 1;
            if (strncmp(endp, " +", 2) == 0) {
                strtol(endp + 2, &endp, 10);
                new_left = *endp == ',' ? strtol(endp + 1, &endp, 10) : 1;
            } else {
                old_left = new_left = 0;
            }
        }
        p += nl ? len + 1 : len;
    }
    if (ret_added)
        *ret_added = added;
    if (ret_removed)
        *ret_removed = removed;
}
