/*
 * Files built into kanrid (tools/embed.py generates the table): the OpenAPI
 * document and, later, the web UI.
 */
#pragma once

#include <stddef.h>

struct web_asset {
    const char *name;          /* path relative to the asset root, e.g. "openapi.json" */
    const unsigned char *data; /* NUL-terminated for convenience; size excludes it */
    size_t size;
};

extern const struct web_asset web_assets[]; /* terminated by a NULL name */

const struct web_asset *web_asset_find(const char *name);
