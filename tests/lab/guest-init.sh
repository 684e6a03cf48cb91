#!/bin/sh
# /init of the kanri lab guest (busybox sh, PID 1).  Installed into the
# initramfs by build-guest.sh.  It sets the system up, then execs busybox
# init, which reaps orphans, respawns the agents and never exits (PID 1
# exiting would panic the kernel).
#
# Kernel command line options (all optional):
#   kanri.name=NAME     hostname; exported as KANRI_NAME for kanri-guestd args
#   kanri.guestd=0      do not start /usr/sbin/kanri-guestd even if present
#   kanri.net=0         leave eth0 down even if a NIC exists
#   kanri.mount=0       do not mount virtio disks
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
exec </dev/console >/dev/console 2>&1

say() { echo "kanri-lab: $*"; }

KANRI_NAME=kanri-lab
GUESTD=1 NET=1 MOUNT=1
for w in $(cat /proc/cmdline); do
	case "$w" in
	kanri.name=*) KANRI_NAME=${w#kanri.name=} ;;
	kanri.guestd=0) GUESTD=0 ;;
	kanri.net=0) NET=0 ;;
	kanri.mount=0) MOUNT=0 ;;
	esac
done
export KANRI_NAME
hostname "$KANRI_NAME"
echo "$KANRI_NAME" >/etc/hostname

load() {
	while read -r m; do
		insmod "/lib/modules/$m.ko" 2>/dev/null || say "insmod $m failed"
	done <"/etc/modules.$1"
}
# True if a virtio PCI device with one of the given device ids exists
# (legacy id, modern id).
have_virtio() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1af4 ] || continue
		case " $* " in *" $(cat "$d/device") "*) return 0 ;; esac
	done
	return 1
}
load base
have_virtio 0x1001 0x1042 && load blk
have_virtio 0x1000 0x1041 && load net

# Find the qemu-guest-agent port by name (no udev, so no by-name links).
agent_port=""
i=0
while [ $i -lt 100 ]; do
	for d in /sys/class/virtio-ports/*; do
		[ -r "$d/name" ] || continue
		if [ "$(cat "$d/name")" = org.qemu.guest_agent.0 ] && [ -c "/dev/${d##*/}" ]; then
			agent_port=/dev/${d##*/}
		fi
	done
	[ -n "$agent_port" ] && break
	i=$((i + 1))
	sleep 0.05
done
[ -n "$agent_port" ] || say "no org.qemu.guest_agent.0 port found"

# Disks: the first virtio disk goes to /mnt/data, others to /mnt/vdX.
# noinit_itable keeps ext4 from zeroing inode tables in the background, so a
# thin image grows only through what tests write.
if [ $MOUNT = 1 ]; then
	for b in /sys/block/vd*; do
		[ -e "$b" ] || continue
		dev=${b##*/}
		mnt=/mnt/$dev
		[ "$dev" = vda ] && mnt=/mnt/data
		mkdir -p "$mnt"
		mount -t ext4 -o noinit_itable "/dev/$dev" "$mnt" 2>/dev/null ||
			say "/dev/$dev: not mounted (no ext4 filesystem?)"
	done
fi

ip link set lo up 2>/dev/null
# A user-mode (slirp) NIC, if the domain has one: fixed addressing, the
# host's loopback is reachable as 10.0.2.2.
if [ $NET = 1 ] && [ -e /sys/class/net/eth0 ]; then
	ip addr add 10.0.2.15/24 dev eth0
	ip link set eth0 up
	ip route add default via 10.0.2.2
fi

{
	echo "::sysinit:/bin/true"
	[ -n "$agent_port" ] &&
		echo "::respawn:/usr/sbin/qemu-ga -m virtio-serial -p $agent_port -f /run/qemu-ga.pid -t /run"
	if [ $GUESTD = 1 ] && [ -x /usr/sbin/kanri-guestd ]; then
		cat >/run/kanri-guestd.run <<-'X'
		#!/bin/sh
		# Arguments come from /etc/kanri-guestd.args (shell words; may use $KANRI_NAME).
		args=$(cat /etc/kanri-guestd.args 2>/dev/null)
		eval "exec /usr/sbin/kanri-guestd $args"
		X
		chmod 755 /run/kanri-guestd.run
		echo "::respawn:/run/kanri-guestd.run"
	fi
	echo "ttyS0::respawn:-/bin/sh"
	echo "::ctrlaltdel:/sbin/reboot"
	echo "::shutdown:/bin/sync"
	echo "::shutdown:/bin/umount -a -r"
} >/etc/inittab

read -r up _ </proc/uptime
say "ready after ${up}s (agent ${agent_port:-none}, guestd $([ -x /usr/sbin/kanri-guestd ] && echo "$GUESTD" || echo absent))"
exec /sbin/init
