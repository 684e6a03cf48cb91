#!/bin/bash
# A second, independent QEMU libvirt daemon on this machine: a real live
# migration destination for the system libvirtd ("two hosts on one machine"),
# and, with a directory of its own each, any number of lab "hosts" at once
# (the HA lab: tests/lab/ha-host.sh, tests/lab/halab.py).
#
# Usage: tests/lab/second-host.sh start|stop|status|uri|revive|pids   (as root)
#
#   start   start it (idempotent); prints the URI on stdout.  A half-started
#           or crashed instance is cleared first (its QEMUs too).
#   stop    stop it and every guest it runs (idempotent)
#   status  exit 0 if it answers
#   uri     print the URI (qemu+unix:///system?socket=...)
#   revive  start whichever of its daemons is not running, in its namespace
#           (a new one if none is left), with the configuration the last
#           `start` wrote; running guests are left alone and libvirtd
#           reconnects to them.  Prints the URI.  Used by ha-host.sh.
#   pids    print "PID ROLE" for each live process of this host (ROLE is
#           libvirtd, virtlogd, virtlockd or qemu; stopped ones included,
#           zombies and the namespace holder not)
#
# Environment (read by `start`, remembered in $KANRI_LAB_B_DIR/host.env for
# `revive`):
#   KANRI_LAB_B_DIR             its directory (default /tmp/kanri-lab-b)
#   KANRI_LAB_B_HOSTNAME        its hostname (default kanri-lab-b)
#   KANRI_LAB_B_UUID            its host UUID (default: derived from the dir)
#   KANRI_LAB_B_MIGRATION_HOST  name the source connects to (default: ours)
#   KANRI_LAB_B_MIGRATION_PORT  first incoming migration port (default 49400;
#                               64 ports; give each concurrent host its own)
#   KANRI_LAB_B_LOCKD=1         run a virtlockd too and set lock_manager =
#                               "lockd": a disk can be in use by one QEMU of
#                               all lockd hosts at a time (default 0)
#   KANRI_LAB_B_LOCKSPACE=DIR   with lockd: lock hash files in DIR (libvirt's
#                               "indirect" lockspace) instead of the disk
#                               files themselves (default: direct)
#
# How: libvirtd in system mode inside its own mount and UTS namespaces, with
# private /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt
# and /var/log/libvirt bind-mounted from $KANRI_LAB_B_DIR, its own host_uuid
# and hostname, and its own virtlogd (and virtlockd).  Everything else (the
# lab images under /var/lib/kanri-lab, the network, loopback) is shared with
# the host, so QEMU's migration stream goes over 127.0.0.1.  The system
# daemon's configuration is not touched.
#
# The namespaces are held by a process of their own ("nsholder-labb", a
# `sleep infinity`, pid in $DIR/nsholder.pid), so that a daemon can be
# killed and started again in the very same namespace (ha-host.sh's
# daemon-restart and heal); `stop` ends it last.
#
# The daemons run as "libvirtd-labb", "virtlogd-labb" and "virtlockd-labb"
# (symlinks to the real binaries) so that `pgrep -x libvirtd` in
# setup-host.sh and the integration tests never mistakes them for the system
# daemon.  Every instance uses the same names: tell them apart by the pid
# files in their directories.
set -euo pipefail

BASE=${KANRI_LAB_B_DIR:-/tmp/kanri-lab-b}
SOCK=$BASE/run/libvirt-sock
URI="qemu+unix:///system?socket=$SOCK"
ENVFILE=$BASE/host.env
LIBVIRTD_PID=$BASE/libvirtd.pid
VIRTLOGD_PID=$BASE/virtlogd.pid
VIRTLOCKD_PID=$BASE/virtlockd.pid
HOLDER_PID=$BASE/nsholder.pid
CAPS_CACHE=/var/lib/kanri-lab/qemu-caps

log() { printf 'second-host: %s\n' "$*" >&2; }
die() { printf 'second-host: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

settings_from_env() {
	HOSTNAME_B=${KANRI_LAB_B_HOSTNAME:-kanri-lab-b}
	# Derived from the directory: a restarted daemon is the same "host" for
	# kanri, and instances in different directories are different hosts.
	HOST_UUID=${KANRI_LAB_B_UUID:-}
	if [ -z "$HOST_UUID" ]; then
		local h
		h=$(printf 'kanri-lab-b:%s' "$BASE" | md5sum)
		HOST_UUID="${h:0:8}-${h:8:4}-4${h:13:3}-a${h:17:3}-${h:20:12}"
	fi
	# The name the source QEMU connects to for the migration stream.  libvirt
	# refuses "localhost" and numeric loopback addresses for migration_host,
	# so use this machine's name (Debian's /etc/hosts maps it to 127.0.x.1).
	MIGRATION_HOST=${KANRI_LAB_B_MIGRATION_HOST:-$(hostname)}
	PORT_MIN=${KANRI_LAB_B_MIGRATION_PORT:-49400}
	LOCKD=${KANRI_LAB_B_LOCKD:-0}
	LOCKSPACE=${KANRI_LAB_B_LOCKSPACE:-}
	case $PORT_MIN in '' | *[!0-9]*) die "KANRI_LAB_B_MIGRATION_PORT must be a number" ;; esac
	case $LOCKD in 0 | 1) ;; *) die "KANRI_LAB_B_LOCKD must be 0 or 1" ;; esac
	case $HOSTNAME_B in '' | *[!A-Za-z0-9.-]*) die "bad hostname '$HOSTNAME_B'" ;; esac
	case $LOCKSPACE in '' | /*) ;; *) die "KANRI_LAB_B_LOCKSPACE must be an absolute path" ;; esac
}

save_settings() {
	local tmp=$ENVFILE.tmp
	{
		echo "# written by tests/lab/second-host.sh start; read by revive"
		echo "HOSTNAME=$HOSTNAME_B"
		echo "UUID=$HOST_UUID"
		echo "MIGRATION_HOST=$MIGRATION_HOST"
		echo "MIGRATION_PORT=$PORT_MIN"
		echo "LOCKD=$LOCKD"
		echo "LOCKSPACE=$LOCKSPACE"
	} >"$tmp"
	mv -f "$tmp" "$ENVFILE"
}

# Parsed, not sourced: KEY=VALUE lines only.
load_settings() {
	[ -s "$ENVFILE" ] || die "$BASE is not a lab host directory (no host.env): run start first"
	local k v
	HOSTNAME_B=kanri-lab-b HOST_UUID='' MIGRATION_HOST='' PORT_MIN=49400 LOCKD=0 LOCKSPACE=''
	while IFS='=' read -r k v; do
		case $k in
		HOSTNAME) HOSTNAME_B=$v ;;
		UUID) HOST_UUID=$v ;;
		MIGRATION_HOST) MIGRATION_HOST=$v ;;
		MIGRATION_PORT) PORT_MIN=$v ;;
		LOCKD) LOCKD=$v ;;
		LOCKSPACE) LOCKSPACE=$v ;;
		esac
	done <"$ENVFILE"
}

# State letter of a live process (R, S, D, T, t, ...), or nothing if it is
# gone or a zombie.  The comm field may hold spaces and ')', so cut after
# the last ')'.
proc_state() {
	local stat st
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${stat##*) }
	st=${st%% *}
	case $st in Z | X | x | '') return 1 ;; esac
	echo "$st"
}

pid_alive() { # pidfile expected-comm
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1" 2>/dev/null) || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && proc_state "$pid" >/dev/null
}

# A hung (SIGSTOPped) daemon accepts the connection and never answers.
answers() { timeout 10 virsh -c "$URI" version >/dev/null 2>&1; }

mntns() { readlink "/proc/$1/ns/mnt" 2>/dev/null; }

# The QEMUs of this host: pid files in our private /run/libvirt/qemu, each
# checked (pids are reused, pid_max is small here) to be a live
# qemu-system-x86 running the guest of that name, in our mount namespace
# when its holder is there to tell.
qemu_pids() {
	local f pid name ns=
	if pid_alive "$HOLDER_PID" nsholder-labb; then
		ns=$(mntns "$(cat "$HOLDER_PID")") || ns=
	fi
	for f in "$BASE"/run/qemu/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null) || continue
		case $pid in '' | *[!0-9]*) continue ;; esac
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qemu-system-x86 ] || continue
		proc_state "$pid" >/dev/null || continue
		name=$(basename "$f" .pid)
		tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "guest=$name," || continue
		if [ -n "$ns" ] && [ "$(mntns "$pid")" != "$ns" ]; then
			continue
		fi
		echo "$pid"
	done
}

list_pids() {
	local f role
	for role in libvirtd virtlogd virtlockd; do
		f=$BASE/$role.pid
		if pid_alive "$f" "$role-labb"; then
			echo "$(cat "$f") $role"
		fi
	done
	qemu_pids | sed 's/$/ qemu/'
}

write_config() {
	getent hosts "$MIGRATION_HOST" >/dev/null ||
		die "migration host '$MIGRATION_HOST' does not resolve; set KANRI_LAB_B_MIGRATION_HOST"
	mkdir -p "$BASE"/{bin,etc/qemu,etc/nwfilter,etc/storage,etc/secrets,run,lib,cache,log/qemu}
	chmod 755 "$BASE" "$BASE"/{run,lib,cache,log}
	ln -sfn "$(command -v libvirtd)" "$BASE/bin/libvirtd-labb"
	ln -sfn "$(command -v virtlogd)" "$BASE/bin/virtlogd-labb"
	ln -sfn "$(command -v virtlockd)" "$BASE/bin/virtlockd-labb"
	ln -sfn "$(command -v sleep)" "$BASE/bin/nsholder-labb"
	cat >"$BASE/etc/libvirtd.conf" <<-EOF
		# kanri lab host (tests/lab/second-host.sh); not the system daemon.
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
	echo 'log_outputs = "3:file:/var/log/libvirt/virtlockd.log"' >"$BASE/etc/virtlockd.conf"
	# The lockd plugin of libvirtd reads /etc/libvirt/qemu-lockd.conf, i.e.
	# this file inside the namespace.
	{
		echo "# kanri lab host: libvirt's lockd lock manager (qemu.conf lock_manager)"
		# One lease per disk, made by libvirt itself: no <lease> in the XML.
		echo "auto_disk_leases = 1"
		# Only matters without auto leases (a disk without a <lease> would be
		# refused); stated so that nobody wonders.
		echo "require_lease_for_disks = 1"
		if [ -n "$LOCKSPACE" ]; then
			# Indirect: virtlockd locks DIR/<sha256 of the disk path> instead of
			# the disk file; DIR must be shared by all hosts, like the disks.
			echo "file_lockspace_dir = \"$LOCKSPACE\""
		fi
	} >"$BASE/etc/qemu-lockd.conf"
	if [ -n "$LOCKSPACE" ]; then
		mkdir -p "$LOCKSPACE"
	fi
	{
		# Start from the system qemu.conf (namespaces = [ ] from setup-host.sh,
		# user/group) and override what must differ between the daemons.
		grep -Ev '^[[:space:]]*(migration_host|migration_address|migration_port_min|migration_port_max|cgroup_controllers|lock_manager)[[:space:]]*=' \
			/etc/libvirt/qemu.conf 2>/dev/null || true
		cat <<-EOF

			# --- kanri lab host ($HOSTNAME_B) ---
			# The source is told to connect to this machine's name (the
			# default would be our own, namespaced hostname, which does not
			# resolve).  libvirt refuses loopback addresses for both
			# migration_host and migration_address, so the incoming QEMU
			# listens on its default (all addresses) for the migration only.
			migration_host = "$MIGRATION_HOST"
			# A port range apart from the system daemon's default 49152-49215
			# (and from the other lab hosts').
			migration_port_min = $PORT_MIN
			migration_port_max = $((PORT_MIN + 63))
			# Both daemons would create the same machine/qemu-ID-NAME cgroup for
			# a guest during a migration (and remove the other's): no cgroups here.
			cgroup_controllers = [ ]
		EOF
		if [ "$LOCKD" = 1 ]; then
			cat <<-EOF
				# Disk leases held by this host's virtlockd (see qemu-lockd.conf):
				# a start or incoming migration of a guest whose disk another
				# lockd host's QEMU has open fails before QEMU runs.
				lock_manager = "lockd"
			EOF
		fi
	} >"$BASE/etc/qemu.conf"
	# Guest logs of earlier runs stay a while for post-mortems.
	find "$BASE/log" -type f -name '*.log' -mtime +2 -delete 2>/dev/null || true
	# A capability cache saves the ~8 s QEMU probe: the lab's (see
	# save_caps), else the system daemon's.
	if [ ! -d "$BASE/cache/qemu/capabilities" ]; then
		local src
		for src in "$CAPS_CACHE" /var/cache/libvirt/qemu/capabilities; do
			if [ -d "$src" ]; then
				mkdir -p "$BASE/cache/qemu/capabilities"
				cp -p "$src"/*.xml "$BASE/cache/qemu/capabilities/" 2>/dev/null || true
				break
			fi
		done
	fi
}

# libvirt keeps the QEMU capabilities only while the host CPU's CPUID data
# are the same as when they were probed, and on these machines leaf 0x1f
# carries the x2APIC id of the CPU the daemon happened to start on: with the
# daemon on the "other" CPU the cache is thrown away and QEMU probed again
# (~8 s instead of ~0.2 s, at random).  So libvirtd starts pinned to CPU 0
# (its capability cache then always fits) and is unpinned, every thread of
# it, once it answers; QEMU processes it starts later are not pinned.
first_cpu() { sed -E 's/[-,].*//' /sys/devices/system/cpu/online 2>/dev/null || echo 0; }
unpin() {
	local mask
	mask=$(taskset -p $$ | sed 's/.*: *//')
	taskset -a -p "$mask" "$1" >/dev/null 2>&1 || log "could not unpin pid $1"
}

# Share a freshly probed cache with the lab hosts that start later.
save_caps() {
	local f tmp
	[ -d "$BASE/cache/qemu/capabilities" ] || return 0
	mkdir -p "$CAPS_CACHE"
	for f in "$BASE"/cache/qemu/capabilities/*.xml; do
		[ -e "$f" ] || continue
		cmp -s "$f" "$CAPS_CACHE/${f##*/}" && continue
		tmp=$(mktemp "$CAPS_CACHE/.tmp.XXXXXX")
		if ! { cp -p "$f" "$tmp" && mv -f "$tmp" "$CAPS_CACHE/${f##*/}"; }; then
			rm -f "$tmp"
		fi
	done
}

# Make sure the namespace holder runs.  If it is gone but some process of
# the host still lives (its QEMUs, its virtlogd), the new holder joins that
# process's namespaces; only a host with nothing left gets new ones.
ensure_ns() {
	pid_alive "$HOLDER_PID" nsholder-labb && return 0
	rm -f "$HOLDER_PID"
	local any pid
	any=$(list_pids | head -n 1)
	if [ -n "$any" ]; then
		pid=${any%% *}
		# shellcheck disable=SC2016  # expanded by the inner shell
		nsenter -t "$pid" -m -u -- /bin/sh -c '
			setsid /bin/sh -c "echo \$\$ >\"\$1\"; exec \"\$2\" infinity" holder "$1" "$2" \
				</dev/null >/dev/null 2>&1 &
		' ensure-ns "$HOLDER_PID" "$BASE/bin/nsholder-labb"
	else
		mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
		# shellcheck disable=SC2016  # expanded by the inner shell
		unshare --mount --uts --propagation private /bin/sh -eu -c '
			B=$1; H=$2
			hostname "$H"
			mount --bind "$B/etc" /etc/libvirt
			mount --bind "$B/run" /run/libvirt
			mount --bind "$B/lib" /var/lib/libvirt
			mount --bind "$B/cache" /var/cache/libvirt
			mount --bind "$B/log" /var/log/libvirt
			setsid /bin/sh -c "echo \$\$ >\"\$1\"; exec \"\$2\" infinity" holder "$B/nsholder.pid" "$B/bin/nsholder-labb" \
				</dev/null >/dev/null 2>&1 &
		' second-host "$BASE" "$HOSTNAME_B" || die "could not set up the namespaces"
	fi
	for _ in $(seq 1 100); do
		pid_alive "$HOLDER_PID" nsholder-labb && return 0
		sleep 0.05
	done
	die "the namespace holder did not start"
}

in_ns() { nsenter -t "$(cat "$HOLDER_PID")" -m -u -- "$@"; }

# Start what is missing, in the namespace; wait until libvirtd answers.
start_daemons() {
	local t0
	t0=$(date +%s.%N)
	ensure_ns
	if [ "$LOCKD" = 1 ] && ! pid_alive "$VIRTLOCKD_PID" virtlockd-labb; then
		in_ns "$BASE/bin/virtlockd-labb" -d -p "$VIRTLOCKD_PID" -f /etc/libvirt/virtlockd.conf ||
			die "could not start virtlockd (see $BASE/log/virtlockd.log)"
	fi
	if ! pid_alive "$VIRTLOGD_PID" virtlogd-labb; then
		in_ns "$BASE/bin/virtlogd-labb" -d -p "$VIRTLOGD_PID" -f /etc/libvirt/virtlogd.conf ||
			die "could not start virtlogd"
	fi
	local pinned=
	if ! pid_alive "$LIBVIRTD_PID" libvirtd-labb; then
		local pin=(taskset -c "$(first_cpu)")
		"${pin[@]}" true 2>/dev/null || pin=() # not allowed on that CPU: unpinned
		"${pin[@]}" nsenter -t "$(cat "$HOLDER_PID")" -m -u -- \
			"$BASE/bin/libvirtd-labb" -d -p "$LIBVIRTD_PID" -f /etc/libvirt/libvirtd.conf ||
			die "could not start libvirtd (see $BASE/log/libvirtd.log)"
		pinned=1
	fi
	for _ in $(seq 1 300); do
		if answers; then
			if [ -n "$pinned" ]; then
				unpin "$(cat "$LIBVIRTD_PID")"
				save_caps
			fi
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

start() {
	settings_from_env
	if pid_alive "$LIBVIRTD_PID" libvirtd-labb && answers; then
		echo "$URI"
		return 0
	fi
	# A half-started or crashed instance: clear it first.
	stop_daemons quiet
	write_config
	save_settings
	start_daemons
}

revive() {
	load_settings
	start_daemons
}

kill_pid() { # pid: TERM, then KILL after 10 s; returns when it is gone
	kill -CONT "$1" 2>/dev/null || true
	kill -TERM "$1" 2>/dev/null || true
	for _ in $(seq 1 100); do
		proc_state "$1" >/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	for _ in $(seq 1 50); do
		proc_state "$1" >/dev/null || return 0
		sleep 0.1
	done
	log "pid $1 did not go away"
}

kill_pidfile() { # pidfile comm
	if pid_alive "$1" "$2"; then
		kill_pid "$(cat "$1")"
	fi
	rm -f "$1"
}

stop_daemons() {
	# Capabilities probed since the start (another emulator) stay for the next.
	save_caps
	# A frozen host (ha-host.sh hang) first thaws.
	local pid role
	while read -r pid role; do
		kill -CONT "$pid" 2>/dev/null || true
	done < <(list_pids)
	if pid_alive "$LIBVIRTD_PID" libvirtd-labb && answers; then
		# Guests of this daemon live in its namespace: stop them first so
		# that no QEMU outlives it.
		local n
		for n in $(timeout 60 virsh -q -c "$URI" list --all --name 2>/dev/null); do
			timeout 60 virsh -q -c "$URI" destroy "$n" >/dev/null 2>&1 || true
			timeout 60 virsh -q -c "$URI" undefine --nvram "$n" >/dev/null 2>&1 ||
				timeout 60 virsh -q -c "$URI" undefine "$n" >/dev/null 2>&1 || true
			[ "${1:-}" = quiet ] || log "removed guest $n"
		done
	fi
	kill_pidfile "$LIBVIRTD_PID" libvirtd-labb
	# QEMU processes of a daemon that was killed (their pid files are in our
	# private /run/libvirt/qemu), then the daemons that serve them.
	for pid in $(qemu_pids); do
		kill_pid "$pid"
	done
	rm -f "$BASE"/run/qemu/*.pid
	kill_pidfile "$VIRTLOCKD_PID" virtlockd-labb
	kill_pidfile "$VIRTLOGD_PID" virtlogd-labb
	kill_pidfile "$HOLDER_PID" nsholder-labb
}

case ${1:-} in
start) start ;;
stop)
	stop_daemons
	log "stopped"
	;;
status) answers ;;
uri) echo "$URI" ;;
revive) revive ;;
pids) list_pids ;;
*)
	echo "usage: $0 start|stop|status|uri|revive|pids" >&2
	exit 2
	;;
esac
