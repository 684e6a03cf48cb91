#!/bin/bash
# bench/collect: collection cost per host round (kanrid) on test-driver hosts
# of 1..10 000 domains and on real lab guests, with and without one guest
# frozen, next to collectd's virt plugin and prometheus-libvirt-exporter on
# the same connections.  Loopback only.  Run as root from the repository.
#
# Usage: bench/collect/run.sh [--sizes 1,100,1000,10000] [--lab 3] [--compare 0|1] [--containers 1,50,200]
#                             [--rounds 6] [--lab-rounds 15] [--lab-seconds 60]
# Env:   KANRI_BUILD_DIR   meson build directory (default ./build)
# Output also goes to bench/out/collect.txt.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export KANRI_BUILD_DIR=${KANRI_BUILD_DIR:-$ROOT/build}
[ -x "$KANRI_BUILD_DIR/src/daemon/kanrid" ] || { echo "build kanrid first (ninja -C $KANRI_BUILD_DIR)" >&2; exit 1; }

# The tools we compare with, from Debian; installed only if missing.
need=()
for p in collectd-core prometheus-libvirt-exporter; do
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${need[@]}" >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi
# The lab: libvirtd, images (idempotent, fast when done).
bash "$ROOT/tests/lab/setup-host.sh" >/dev/null
bash "$ROOT/tests/lab/build-guest.sh" >/dev/null

mkdir -p "$ROOT/bench/out"
/usr/bin/python3 "$HERE/bench.py" --build "$KANRI_BUILD_DIR" "$@" | tee "$ROOT/bench/out/collect.txt"
