#!/bin/bash
# A second, independent QEMU libvirt daemon on this machine: a real live
# migration destination for the system libvirtd ("two hosts on one machine").
#
# Usage: tests/lab/second-host.sh start|stop|status|uri     (as root)
#
#   start   start it (idempotent); prints the URI on stdout
#   stop    stop it and every guest it runs (idempotent)
#   status  exit 0 if it answers
#   uri     print the URI (qemu+unix:///system?socket=...)
#
# How: libvirtd in system mode inside its own mount and UTS namespaces
# (unshare -m -u), with private /etc/libvirt, /run/libvirt, /var/lib/libvirt,
# /var/cache/libvirt and /var/log/libvirt bind-mounted from $KANRI_LAB_B_DIR
# (default /tmp/kanri-lab-b), its own host_uuid and hostname, and its own
# virtlogd.  Everything else (the lab images under /var/lib/kanri-lab, the
# network, loopback) is shared with the host, so QEMU's migration stream
# goes over 127.0.0.1.  The system daemon's configuration is not touched.
#
# The daemons run as "libvirtd-labb" and "virtlogd-labb" (symlinks to the
# real binaries) so that `pgrep -x libvirtd` in setup-host.sh and the
# integration tests never mistakes them for the system daemon.
set -euo pipefail

BASE=${KANRI_LAB_B_DIR:-/tmp/kanri-lab-b}
HOSTNAME_B=${KANRI_LAB_B_HOSTNAME:-kanri-lab-b}
# Derived from the directory: a restarted daemon is the same "host" for
# kanri, and instances in different directories are different hosts.
if [ -z "${KANRI_LAB_B_UUID:-}" ]; then
	h=$(printf 'kanri-lab-b:%s' "$BASE" | md5sum)
	KANRI_LAB_B_UUID="${h:0:8}-${h:8:4}-4${h:13:3}-a${h:17:3}-${h:20:12}"
fi
HOST_UUID=$KANRI_LAB_B_UUID
# The name the source QEMU connects to for the migration stream.  libvirt
# refuses "localhost" and numeric loopback addresses for migration_host, so
# use this machine's name (Debian's /etc/hosts maps it to 127.0.x.1).
MIGRATION_HOST=${KANRI_LAB_B_MIGRATION_HOST:-$(hostname)}
SOCK=$BASE/run/libvirt-sock
URI="qemu+unix:///system?socket=$SOCK"
LIBVIRTD_PID=$BASE/libvirtd.pid
VIRTLOGD_PID=$BASE/virtlogd.pid

log() { printf 'second-host: %s\n' "$*" >&2; }
die() { printf 'second-host: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

pid_alive() { # pidfile expected-comm
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1" 2>/dev/null) || return 1
	[ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}

answers() { virsh -c "$URI" version >/dev/null 2>&1; }

write_config() {
	getent hosts "$MIGRATION_HOST" >/dev/null ||
		die "migration host '$MIGRATION_HOST' does not resolve; set KANRI_LAB_B_MIGRATION_HOST"
	mkdir -p "$BASE"/{bin,etc/qemu,etc/nwfilter,etc/storage,etc/secrets,run,lib,cache,log/qemu}
	chmod 755 "$BASE" "$BASE"/{run,lib,cache,log}
	ln -sfn "$(command -v libvirtd)" "$BASE/bin/libvirtd-labb"
	ln -sfn "$(command -v virtlogd)" "$BASE/bin/virtlogd-labb"
	cat >"$BASE/etc/libvirtd.conf" <<-EOF
		# kanri lab second host (tests/lab/second-host.sh); not the system daemon.
		host_uuid = "$HOST_UUID"
		unix_sock_group = "root"
		unix_sock_ro_perms = "0700"
		unix_sock_rw_perms = "0700"
		unix_sock_admin_perms = "0700"
		auth_unix_ro = "none"
		auth_unix_rw = "none"
		log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
	EOF
	: >"$BASE/etc/virtlogd.conf"
	: >"$BASE/etc/libvirt.conf"
	{
		# Start from the system qemu.conf (namespaces = [ ] from setup-host.sh,
		# user/group) and override what must differ between the two daemons.
		grep -Ev '^[[:space:]]*(migration_host|migration_address|migration_port_min|migration_port_max|cgroup_controllers)[[:space:]]*=' \
			/etc/libvirt/qemu.conf 2>/dev/null || true
		cat <<-EOF

			# --- kanri lab second host ---
			# The source is told to connect to this machine's name (the
			# default would be our own, namespaced hostname, which does not
			# resolve).  libvirt refuses loopback addresses for both
			# migration_host and migration_address, so the incoming QEMU
			# listens on its default (all addresses) for the migration only.
			migration_host = "$MIGRATION_HOST"
			# A port range apart from the system daemon's default 49152-49215.
			migration_port_min = 49400
			migration_port_max = 49463
			# Both daemons would create the same machine/qemu-ID-NAME cgroup for
			# a guest during a migration (and remove the other's): no cgroups here.
			cgroup_controllers = [ ]
		EOF
	} >"$BASE/etc/qemu.conf"
	# Guest logs of earlier runs stay a while for post-mortems.
	find "$BASE/log" -type f -name '*.log' -mtime +2 -delete 2>/dev/null || true
	# The system daemon's capability cache saves the ~8 s QEMU probe.
	if [ -d /var/cache/libvirt/qemu/capabilities ] && [ ! -d "$BASE/cache/qemu/capabilities" ]; then
		mkdir -p "$BASE/cache/qemu"
		cp -a /var/cache/libvirt/qemu/capabilities "$BASE/cache/qemu/" 2>/dev/null || true
	fi
}

start() {
	if pid_alive "$LIBVIRTD_PID" libvirtd-labb && answers; then
		echo "$URI"
		return 0
	fi
	# A half-started or crashed instance: clear it first.
	stop_daemons quiet
	write_config
	local t0
	t0=$(date +%s.%N)
	# The namespace lives as long as the daemons (and their QEMUs) do.
	# shellcheck disable=SC2016  # expanded by the inner shell
	unshare --mount --uts --propagation private /bin/sh -eu -c '
		B=$1; H=$2
		hostname "$H"
		mount --bind "$B/etc" /etc/libvirt
		mount --bind "$B/run" /run/libvirt
		mount --bind "$B/lib" /var/lib/libvirt
		mount --bind "$B/cache" /var/cache/libvirt
		mount --bind "$B/log" /var/log/libvirt
		"$B/bin/virtlogd-labb" -d -p "$B/virtlogd.pid" -f /etc/libvirt/virtlogd.conf
		"$B/bin/libvirtd-labb" -d -p "$B/libvirtd.pid" -f /etc/libvirt/libvirtd.conf
	' second-host "$BASE" "$HOSTNAME_B" || die "could not start the daemons (see $BASE/log/libvirtd.log)"
	for _ in $(seq 1 300); do
		if answers; then
			log "up after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s: $URI"
			echo "$URI"
			return 0
		fi
		sleep 0.1
		# libvirtd -d writes its pid file before the drivers initialise;
		# once it is gone the daemon has failed.
		pid_alive "$LIBVIRTD_PID" libvirtd-labb || break
	done
	tail -20 "$BASE/log/libvirtd.log" >&2 2>/dev/null || true
	die "$URI did not answer within 30 s"
}

kill_pidfile() { # pidfile comm
	local pid
	pid_alive "$1" "$2" || { rm -f "$1"; return 0; }
	pid=$(cat "$1")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

stop_daemons() {
	if pid_alive "$LIBVIRTD_PID" libvirtd-labb && answers; then
		# Guests of this daemon live in its namespace: stop them first so
		# that no QEMU outlives it.
		local n
		for n in $(virsh -q -c "$URI" list --all --name 2>/dev/null); do
			virsh -q -c "$URI" destroy "$n" >/dev/null 2>&1 || true
			virsh -q -c "$URI" undefine --nvram "$n" >/dev/null 2>&1 ||
				virsh -q -c "$URI" undefine "$n" >/dev/null 2>&1 || true
			[ "${1:-}" = quiet ] || log "removed guest $n"
		done
	fi
	kill_pidfile "$LIBVIRTD_PID" libvirtd-labb
	kill_pidfile "$VIRTLOGD_PID" virtlogd-labb
	# QEMU processes of a daemon that was killed: their pid files are in our
	# private /run/libvirt/qemu.
	local f pid
	for f in "$BASE"/run/qemu/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null || true)
		if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qemu-system-x86 ]; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
		rm -f "$f"
	done
}

case ${1:-} in
start) start ;;
stop)
	stop_daemons
	log "stopped"
	;;
status) answers ;;
uri) echo "$URI" ;;
*)
	echo "usage: $0 start|stop|status|uri" >&2
	exit 2
	;;
esac
