#!/usr/bin/env python3
"""Embeds files into a C source as byte arrays, for kanrid's built-in web
assets and OpenAPI document:

    embed.py OUT.c NAME1,NAME2,... PATH1 PATH2 ...

Each asset also gets its media type (from its name), a strong ETag (a hash
of its bytes) and a gzip copy when that is smaller, so kanrid serves them
without work per request."""
import gzip
import hashlib
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}


def c_bytes(f, ident, data):
    f.write(f"static const unsigned char {ident}[] = {{\n")
    for k in range(0, len(data), 24):
        f.write("    " + ",".join(str(b) for b in data[k:k + 24]) + ",\n")
    f.write("    0\n};\n\n")


out, names, paths = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
if len(names) != len(paths):
    sys.exit(f"embed.py: {len(names)} names for {len(paths)} files")
rows = []
with open(out, "w") as f:
    f.write('#include "web/assets.h"\n\n#include <stddef.h>\n\n')
    for i, (name, path) in enumerate(zip(names, paths)):
        data = open(path, "rb").read()
        c_bytes(f, f"asset_{i}", data)
        # mtime=0: the same bytes on every build.
        gz = gzip.compress(data, compresslevel=9, mtime=0)
        has_gz = len(gz) + 64 < len(data)
        if has_gz:
            c_bytes(f, f"asset_{i}_gz", gz)
        ext = name[name.rfind("."):] if "." in name else ""
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        rows.append((name, i, len(data), len(gz) if has_gz else 0, has_gz,
                     TYPES.get(ext, "application/octet-stream"), etag))
    f.write("const struct web_asset web_assets[] = {\n")
    for name, i, size, gz_size, has_gz, mtype, etag in rows:
        gz_ref = f"asset_{i}_gz" if has_gz else "NULL"
        etag_c = etag.replace('"', '\\"')
        f.write(f'    {{"{name}", asset_{i}, {size}, {gz_ref}, {gz_size}, "{mtype}", "{etag_c}"}},\n')
    f.write("    {NULL, NULL, 0, NULL, 0, NULL, NULL},\n};\n")
