#!/usr/bin/env python3
"""Embeds files into a C source as byte arrays, for kanrid's built-in web
assets and OpenAPI document: embed.py OUT.c NAME=PATH..."""
import sys

out, items = sys.argv[1], sys.argv[2:]
with open(out, "w") as f:
    f.write('#include "web/assets.h"\n\n')
    for i, item in enumerate(items):
        _, path = item.split("=", 1)
        data = open(path, "rb").read()
        f.write(f"static const unsigned char asset_{i}[] = {{\n")
        for k in range(0, len(data), 16):
            f.write("    " + ", ".join(str(b) for b in data[k:k + 16]) + ",\n")
        f.write("    0\n};\n\n")
    f.write("const struct web_asset web_assets[] = {\n")
    for i, item in enumerate(items):
        name, path = item.split("=", 1)
        size = len(open(path, "rb").read())
        f.write(f'    {{"{name}", asset_{i}, {size}}},\n')
    f.write("    {NULL, NULL, 0},\n};\n")
