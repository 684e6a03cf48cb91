#!/bin/sh
# Generates the large golden case large-5000.a / large-5000.b: a 5000-line
# configuration-like file and an edited copy (about 1 % of lines deleted,
# inserted or changed, scattered).  The random numbers come from a
# Park-Miller generator written out in awk, not awk's rand(), so that mawk
# and gawk produce the same files.  The outputs are committed; rerun only to
# change the case, then regenerate the .out with KANRI_REGEN_GOLDEN=1.
set -eu
cd "$(dirname "$0")"

awk -v lines=5000 -v seed=20240601 '
function rnd(n) { seed = (seed * 16807) % 2147483647; return seed % n }
function hex(   s, i) { s = ""; for (i = 0; i < 6; i++) s = s substr("0123456789abcdef", rnd(16) + 1, 1); return s }
BEGIN {
    for (i = 1; i <= lines; i++) {
        # Some lines repeat (section ends, blank lines), as in real files,
        # but rarely enough that no line is "very common" to GNU diff.
        if (i % 200 == 0)
            line[i] = ""
        else if (i % 250 == 0)
            line[i] = "[section]"
        else
            line[i] = sprintf("key%04d = %s", i, hex())
    }
    for (i = 1; i <= lines; i++)
        print line[i] > "large-5000.a"
    for (i = 1; i <= lines; i++) {
        r = rnd(300)
        if (r < 3)
            continue                                    # deleted
        if (r < 6)
            print sprintf("key%04d = %s", i, hex()) > "large-5000.b"   # changed
        else
            print line[i] > "large-5000.b"
        if (r >= 6 && r < 9)
            print sprintf("added%04d = %s", i, hex()) > "large-5000.b" # inserted
    }
}'
