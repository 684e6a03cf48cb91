#!/bin/bash
# The policy benchmark (bench/policy/bench-policy.c; docs/policies.md,
# "Benchmark"): builds it if need be, then runs it.  With no options, the
# default run (seed 1) and the sums over seeds 1-20; otherwise once with the
# options given (--hosts, --vms, --rounds, --seed, --seeds, --host-gib).
#
# Usage: bench/policy/run.sh [BUILD_DIR] [OPTIONS...]   (BUILD_DIR: default build)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    build=$1
    shift
fi
case $build in /*) ;; *) build=$top/$build ;; esac
[ -f "$build/build.ninja" ] || meson setup "$build" "$top" -Dweb_ui=disabled >/dev/null
ninja -C "$build" bench/policy/bench-policy >/dev/null
bin=$build/bench/policy/bench-policy
if [ $# -gt 0 ]; then
    exec "$bin" "$@"
fi
"$bin"
echo
"$bin" --seeds 20
