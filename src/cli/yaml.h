/*
 * yaml: a JSON value written as YAML (kanri --output yaml).  Pure; the
 * YAML is a block-style document that YAML 1.1 and 1.2 parsers read back
 * as the same value: strings that could read as anything else (numbers,
 * booleans, null, dates, or text with YAML's own characters) are written
 * double-quoted with JSON's escapes, which YAML shares.
 */
#pragma once

#include <json-c/json.h>

/* VALUE as a YAML document ending in a newline.  g_free. */
char *yaml_from_json(struct json_object *value);
