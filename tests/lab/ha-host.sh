#!/bin/bash
# Failure injection for the HA lab: break a lab host made by
# tests/lab/second-host.sh (one directory = one host) the ways a real
# hypervisor host breaks, and mend it again.
#
# Usage: tests/lab/ha-host.sh COMMAND DIR        (as root, except probe)
#
#   partition       the host drops off the network: its libvirtd is
#                   SIGKILLed, nothing else; its QEMUs (the guests) and its
#                   virtlockd (their disk leases) keep running.  Unreachable.
#   crash           the host dies outright: every QEMU of it is SIGKILLed
#                   (and gone) first, then libvirtd, virtlockd and virtlogd.
#                   Unreachable.  This is also what fence_lab's "off" does.
#   hang            the host freezes: SIGSTOP to its libvirtd, its QEMUs,
#                   its virtlogd and virtlockd (guests stop, leases stay
#                   held, connections hang instead of failing).  Unreachable.
#   daemon-restart  only libvirtd restarts (SIGTERM, SIGKILL after 10 s,
#                   started again in the same namespaces with the same
#                   configuration; it reconnects to its running guests).
#                   The host stays reachable.
#   heal            undo any of the above: SIGCONT to all its processes,
#                   mark it reachable, start whichever daemon is missing.
#                   After a crash (or fence) it comes back with its
#                   persistent guest definitions, none of them running.
#                   Prints the URI.
#   probe           the lab's stand-in for a network reachability probe
#                   (ICMP or TCP to the host): exit 0 if reachable, 1 if not.
#   power           print "on" (some process of the host lives, stopped
#                   ones included) or "off"; exit 0 or 2 like fence agents.
#   show            a summary: reachable?, power, processes and states.
#
# "Unreachable" is the file DIR/unreachable (it holds what made it so).  On
# one machine kanri's daemon can always reach every lab host's socket, so
# this marker is the network cut: `probe` (kanri's `probe = exec:...`)
# answers from it and nothing else, and kanri's tests must not take the
# socket's being there as a sign of life.  A host that is off (crash, fence
# off) is unreachable too: a powered-off machine does not answer pings.
#
# The commands are idempotent.  HA_HOST_TIMEOUT (default 20 s) bounds the
# wait for killed processes to go.
set -euo pipefail

LAB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SECOND_HOST=$LAB/second-host.sh
TIMEOUT=${HA_HOST_TIMEOUT:-20}

die() { printf 'ha-host: error: %s\n' "$*" >&2; exit 1; }
usage() {
	echo "usage: $0 partition|crash|hang|daemon-restart|heal|probe|power|show DIR" >&2
	exit 2
}

[ $# = 2 ] || usage
CMD=$1
DIR=$2
MARKER=$DIR/unreachable

# The probe runs often and needs no privileges: answer before anything else.
if [ "$CMD" = probe ]; then
	if [ ! -e "$DIR/host.env" ]; then
		echo "ha-host: probe: $DIR is not a lab host" >&2
		exit 1
	fi
	[ ! -e "$MARKER" ] || exit 1
	exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root"
[ -e "$DIR/host.env" ] || die "$DIR is not a lab host directory (tests/lab/second-host.sh start makes one)"
case $DIR in /*) ;; *) DIR=$(cd "$DIR" && pwd) MARKER=$DIR/unreachable ;; esac

# One change at a time per host (a test healing while kanri fences, say).
# The lock's descriptor is closed for second-host.sh: the daemons it starts
# must not inherit it.
case $CMD in
partition | crash | hang | daemon-restart | heal)
	exec 9>"$DIR/.ha-host.lock"
	flock -w 60 9 || die "$DIR is locked by another ha-host.sh for 60 s"
	;;
esac

second_host() { KANRI_LAB_B_DIR=$DIR bash "$SECOND_HOST" "$@" 9>&-; }

# "PID ROLE" lines of the host's live processes (zombies are gone).
host_pids() { second_host pids; }

alive() { # pid: not gone and not a zombie
	local stat st
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${stat##*) }
	case ${st%% *} in Z | X | x) return 1 ;; esac
	return 0
}

wait_gone() { # pid...: true once all are gone, false after TIMEOUT
	local deadline p left
	deadline=$(($(date +%s%N) + TIMEOUT * 1000000000))
	while :; do
		left=
		for p in "$@"; do
			if alive "$p"; then left=1; fi
		done
		if [ -z "$left" ]; then return 0; fi
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.01
	done
}

pids_of() { # role...: pids of the host's processes with one of these roles
	local pid role want
	while read -r pid role; do
		for want in "$@"; do
			if [ "$role" = "$want" ]; then
				echo "$pid"
			fi
		done
	done < <(host_pids)
}

signal_roles() { # signal role...
	local sig=$1 pid
	shift
	for pid in $(pids_of "$@"); do
		kill "-$sig" "$pid" 2>/dev/null || true
	done
}

kill_roles() { # role...: SIGKILL and wait until gone
	local pids
	mapfile -t pids < <(pids_of "$@")
	[ ${#pids[@]} -gt 0 ] || return 0
	kill -KILL "${pids[@]}" 2>/dev/null || true
	wait_gone "${pids[@]}" || die "still alive ${TIMEOUT}s after SIGKILL: ${pids[*]}"
}

mark() { printf '%s %s\n' "$1" "$(date -u +%FT%T.%NZ)" >"$MARKER"; }

case $CMD in
partition)
	kill_roles libvirtd
	mark partition
	;;
crash)
	mark crash
	# The QEMUs first, and gone, before their virtlockd: a lease must not
	# be released while a copy of the guest can still write.
	kill_roles qemu
	kill_roles libvirtd virtlockd virtlogd
	;;
hang)
	signal_roles STOP qemu libvirtd virtlockd virtlogd
	mark hang
	;;
daemon-restart)
	if pid=$(pids_of libvirtd) && [ -n "$pid" ]; then
		kill -CONT "$pid" 2>/dev/null || true
		kill -TERM "$pid" 2>/dev/null || true
		if ! TIMEOUT=10 wait_gone "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			wait_gone "$pid" || die "libvirtd $pid does not go away"
		fi
	fi
	second_host revive >/dev/null
	;;
heal)
	signal_roles CONT qemu libvirtd virtlockd virtlogd
	rm -f "$MARKER"
	second_host revive
	;;
power)
	if [ -n "$(host_pids)" ]; then
		echo on
	else
		echo off
		exit 2
	fi
	;;
show)
	if [ -e "$MARKER" ]; then
		echo "reachable: no ($(cat "$MARKER"))"
	else
		echo "reachable: yes"
	fi
	n=0
	while read -r pid role; do
		st=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		st=${st##*) }
		echo "  $role $pid ${st%% *}"
		n=$((n + 1))
	done < <(host_pids)
	if [ "$n" -gt 0 ]; then echo "power: on ($n processes)"; else echo "power: off"; fi
	;;
*) usage ;;
esac
