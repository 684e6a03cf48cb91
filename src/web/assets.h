/*
 * Files built into kanrid (tools/embed.py generates the table): the OpenAPI
 * document and the web dashboard (src/web/ui/, bundled by src/web/build.mjs).
 */
#pragma once

#include <stddef.h>

struct web_asset {
    const char *name;          /* path relative to the asset root, e.g. "openapi.json" */
    const unsigned char *data; /* NUL-terminated for convenience; size excludes it */
    size_t size;
    const unsigned char *gz;   /* the same bytes gzip-compressed, or NULL when not smaller */
    size_t gz_size;
    const char *type;          /* media type, from the name */
    const char *etag;          /* strong ETag (quoted hash of the bytes) */
};

extern const struct web_asset web_assets[]; /* terminated by a NULL name */

const struct web_asset *web_asset_find(const char *name);
