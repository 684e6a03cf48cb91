/*
 * JSON to YAML (yaml.h).
 */
#include "config.h"

#include "cli/yaml.h"

#include <glib.h>
#include <stdbool.h>
#include <string.h>

/* Whether S can be written plain: a conservative set (letters, digits and
 * a few punctuation marks, no leading digit, sign or dot, and not one of
 * the words YAML 1.1 reads as a boolean or null). */
static bool plain_ok(const char *s)
{
    static const char *const words[] = {"y",  "yes", "n",    "no",  "true", "false",
                                        "on", "off", "null", "nan", "inf",  NULL};
    if (!*s || g_ascii_isdigit(*s) || strchr("-+.", *s))
        return false;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("_-./@", *p))
            return false;
    }
    for (size_t i = 0; words[i]; i++) {
        if (g_ascii_strcasecmp(s, words[i]) == 0)
            return false;
    }
    return true;
}

static void scalar(GString *out, const char *s)
{
    if (plain_ok(s)) {
        g_string_append(out, s);
        return;
    }
    /* A JSON string is a YAML double-quoted scalar. */
    struct json_object *js = json_object_new_string(s);
    g_string_append(out, json_object_to_json_string_ext(js, JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(js);
}

static bool is_container(struct json_object *v)
{
    return (json_object_is_type(v, json_type_object) && json_object_object_length(v) > 0) ||
           (json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0);
}

static void leaf(GString *out, struct json_object *v)
{
    switch (v ? json_object_get_type(v) : json_type_null) {
    case json_type_null:
        g_string_append(out, "null");
        break;
    case json_type_string:
        scalar(out, json_object_get_string(v));
        break;
    case json_type_object:
        g_string_append(out, "{}");
        break;
    case json_type_array:
        g_string_append(out, "[]");
        break;
    default: /* numbers and booleans as JSON writes them */
        g_string_append(out, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        break;
    }
}

/* The entries of a non-empty object or array at INDENT; with INLINE_FIRST
 * the first line's indentation is already written (after "- "). */
static void node(GString *out, struct json_object *v, int indent, bool inline_first)
{
    bool first = true;
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, val)
        {
            if (!(first && inline_first))
                g_string_append_printf(out, "%*s", indent, "");
            first = false;
            scalar(out, key);
            g_string_append_c(out, ':');
            if (is_container(val)) {
                g_string_append_c(out, '\n');
                /* A list under a key is indented too, for readability. */
                node(out, val, indent + 2, false);
            } else {
                g_string_append_c(out, ' ');
                leaf(out, val);
                g_string_append_c(out, '\n');
            }
        }
        return;
    }
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        struct json_object *val = json_object_array_get_idx(v, i);
        if (!(first && inline_first))
            g_string_append_printf(out, "%*s", indent, "");
        first = false;
        g_string_append(out, "- ");
        if (is_container(val)) {
            node(out, val, indent + 2, true);
        } else {
            leaf(out, val);
            g_string_append_c(out, '\n');
        }
    }
}

char *yaml_from_json(struct json_object *value)
{
    GString *out = g_string_new(NULL);
    if (is_container(value)) {
        node(out, value, 0, false);
    } else {
        leaf(out, value);
        g_string_append_c(out, '\n');
    }
    return g_string_free(out, FALSE);
}
