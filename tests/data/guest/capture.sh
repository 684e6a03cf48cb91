#!/bin/sh
# Copies the /proc files kanri-guestd reads from this machine into a test
# tree: tests/data/guest/capture.sh DEST (DEST/root/proc/...).  The mount
# table, /sys entries and statvfs figures of a case are written by hand, so
# that captured trees do not leak the capturing machine's layout.
set -eu
dest=${1:?usage: capture.sh DEST}
mkdir -p "$dest/root/proc/pressure" "$dest/root/proc/net" "$dest/root/proc/self" \
         "$dest/root/proc/sys/kernel"
for f in stat meminfo vmstat loadavg diskstats; do
    cat "/proc/$f" > "$dest/root/proc/$f"
done
cat /proc/net/dev > "$dest/root/proc/net/dev"
for f in cpu memory io; do
    if [ -r "/proc/pressure/$f" ]; then
        cat "/proc/pressure/$f" > "$dest/root/proc/pressure/$f"
    fi
done
