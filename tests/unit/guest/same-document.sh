#!/bin/sh
# The musl build of kanri-guestd must produce the same document as the glibc
# build from the same captured tree (all but the sample time and the live
# free-space figures: statvfs() reads this machine's real filesystems).
# usage: same-document.sh MUSL_BINARY GLIBC_BINARY DATA_DIR
set -eu
musl=$1 glibc=$2 data=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for case in busy idle container malformed; do
    root=$data/guest/$case/root
    mkdir -p "$tmp/m-$case" "$tmp/g-$case"
    "$musl" --once --root "$root" --state-dir "$tmp/m-$case" |
        sed 's/"time":[0-9.]*,//' >"$tmp/m-$case.json"
    "$glibc" --once --root "$root" --state-dir "$tmp/g-$case" |
        sed 's/"time":[0-9.]*,//' >"$tmp/g-$case.json"
    sed -i -E 's/"(free_bytes|avail_bytes|files_free)":[0-9]+//g' "$tmp/m-$case.json" "$tmp/g-$case.json"
    # A generated id differs per state directory; the SMBIOS one does not.
    if grep -q '"id_source":"generated"' "$tmp/g-$case.json"; then
        sed -i 's/"machine_id":"[0-9a-f-]*",//' "$tmp/m-$case.json" "$tmp/g-$case.json"
    fi
    [ -s "$tmp/g-$case.json" ] || { echo "$case: no document" >&2; exit 1; }
    if ! cmp -s "$tmp/m-$case.json" "$tmp/g-$case.json"; then
        echo "$case: musl and glibc documents differ" >&2
        diff "$tmp/g-$case.json" "$tmp/m-$case.json" >&2 || true
        exit 1
    fi
done
echo "4 passed, 0 failed"
