/*
 * Change attribution (attribution.h).
 */
#include "config.h"

#include "engine/attribution.h"

#include <glib.h>
#include <stddef.h>

struct attribution attribution_seen(const struct attribution_prior *prior, bool xml_differs,
                                    bool by_action)
{
    bool comes_back = !prior->known || prior->removed;
    struct attribution a = {.record = false, .new_version = false, .cause = NULL};
    if (xml_differs) {
        a.record = true;
        a.new_version = true;
    } else if (prior->known && prior->removed) {
        a.record = true;
    }
    if (!a.record)
        return a;
    a.cause = by_action ? "action" : comes_back ? "created" : "external";
    return a;
}

struct attribution attribution_gone(bool by_action)
{
    return (struct attribution){
        .record = true, .new_version = false, .cause = by_action ? "action" : "removed"};
}

struct persistent_attribution attribution_persistent(const struct persistent_sighting *s)
{
    struct persistent_attribution a = {0};
    if (!s->persistent || !s->differs)
        return a;
    a.new_version = true;
    /* A shut-off domain's definition changes on the live track already; a
     * first version is where the track starts, not something that changed. */
    if (!s->running || !s->known)
        return a;
    a.record = true;
    a.pending = !s->in_live;
    return a;
}

/* The set of LIVE's lines, trimmed, for membership tests. */
static GHashTable *line_set(const char *text)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    for (size_t i = 0; lines[i]; i++)
        g_hash_table_add(set, g_strdup(g_strstrip(lines[i])));
    return set;
}

bool attribution_in_live(const char *diff, const char *live_xml)
{
    g_autoptr(GHashTable) added = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) removed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_auto(GStrv) lines = g_strsplit(diff ? diff : "", "\n", -1);
    bool in_hunk = false;
    for (size_t i = 0; lines[i]; i++) {
        const char *l = lines[i];
        /* The "--- a" / "+++ b" labels come before the first hunk only. */
        if (g_str_has_prefix(l, "@@")) {
            in_hunk = true;
            continue;
        }
        if (!in_hunk || (l[0] != '+' && l[0] != '-'))
            continue;
        g_autofree char *t = g_strstrip(g_strdup(l + 1));
        if (!*t)
            continue; /* blank lines say nothing about the definition */
        g_hash_table_add(l[0] == '+' ? added : removed, g_steal_pointer(&t));
    }
    g_autoptr(GHashTable) moved = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, added);
    while (g_hash_table_iter_next(&it, &k, NULL))
        if (g_hash_table_contains(removed, k))
            g_hash_table_add(moved, k);

    g_autoptr(GHashTable) live = line_set(live_xml);
    g_hash_table_iter_init(&it, added);
    while (g_hash_table_iter_next(&it, &k, NULL))
        if (!g_hash_table_contains(moved, k) && !g_hash_table_contains(live, k))
            return false;
    bool any_removed = false, one_gone = false;
    g_hash_table_iter_init(&it, removed);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        if (g_hash_table_contains(moved, k))
            continue;
        any_removed = true;
        one_gone = one_gone || !g_hash_table_contains(live, k);
    }
    return !any_removed || one_gone;
}

bool attribution_pending_settled(bool running, const char *diff, const char *live_xml)
{
    return !running || attribution_in_live(diff, live_xml);
}
