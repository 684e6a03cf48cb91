#!/bin/bash
# Prepare this machine to run the kanri lab: real QEMU guests (TCG, no KVM
# needed) managed by a libvirtd that we start by hand.
#
# Idempotent: installs only missing packages, edits qemu.conf only if the
# setting is absent, starts daemons only if they are not running.  It does
# not rely on systemd (CI containers have none as PID 1).
#
# Usage: tests/lab/setup-host.sh        (as root)
# Env:   KANRI_LAB_QEMU_CONF  alternative qemu.conf path (default /etc/libvirt/qemu.conf)
set -euo pipefail

log() { printf 'setup-host: %s\n' "$*"; }
die() { printf 'setup-host: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

PKGS=(libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
      qemu-system-x86 qemu-guest-agent qemu-utils busybox-static cpio
      e2fsprogs kmod xz-utils zstd)
QEMU_CONF=${KANRI_LAB_QEMU_CONF:-/etc/libvirt/qemu.conf}

# --- 1. packages -----------------------------------------------------------
missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Package lists may be empty on a fresh image; update only when needed.
	if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
		log "install failed; running apt-get update and retrying"
		apt-get update
		apt-get install -y --no-install-recommends "${missing[@]}"
	fi
else
	log "packages: all present"
fi

# --- 2. qemu.conf ----------------------------------------------------------
conf_changed=0
[ -f "$QEMU_CONF" ] || die "$QEMU_CONF missing (libvirt-daemon-driver-qemu not installed?)"
if grep -Eq '^[[:space:]]*namespaces[[:space:]]*=' "$QEMU_CONF"; then
	log "qemu.conf: namespaces already set ($(grep -E '^[[:space:]]*namespaces' "$QEMU_CONF" | tail -1))"
else
	cat >>"$QEMU_CONF" <<'CONF'

# Added by kanri tests/lab/setup-host.sh.
# With libvirt's default (a private /dev mount namespace per QEMU process) a
# 256 MiB TCG guest on the lab machines answered guest-ping only ~65 s after
# start, its vCPU spinning at 100 % meanwhile; without the namespace it
# answers after ~5 s.  The lab is a disposable test host, so we trade the
# extra isolation for fast, predictable boots.  See docs/lab.md.
namespaces = [ ]
CONF
	conf_changed=1
	log "qemu.conf: added 'namespaces = [ ]'"
fi

# --- 3. daemons ------------------------------------------------------------
# pgrep -x matches the process name exactly; we never kill anything we did
# not find by pid file / exact name of the daemon we are responsible for.
if pgrep -x virtlogd >/dev/null; then
	log "virtlogd: running"
else
	virtlogd -d
	log "virtlogd: started"
fi

libvirtd_pid() { pgrep -o -x libvirtd || true; }

if [ -n "$(libvirtd_pid)" ] && [ $conf_changed = 1 ]; then
	pid=$(libvirtd_pid)
	log "libvirtd: restarting (pid $pid) to apply qemu.conf"
	kill -TERM "$pid"
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && die "libvirtd (pid $pid) did not exit"
fi
if [ -n "$(libvirtd_pid)" ]; then
	log "libvirtd: running (pid $(libvirtd_pid))"
else
	# A stale pid file from a killed daemon makes libvirtd refuse to start.
	rm -f /run/libvirtd.pid /var/run/libvirtd.pid 2>/dev/null || true
	libvirtd -d
	log "libvirtd: started"
fi

t0=$(date +%s.%N)
for _ in $(seq 1 300); do
	if virsh -c qemu:///system version >/dev/null 2>&1; then
		log "virsh: qemu:///system answers after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
		virsh -c qemu:///system version | sed "/^$/d; s/^/setup-host:   /"
		exit 0
	fi
	sleep 0.1
done
die "qemu:///system did not answer within 30 s"
