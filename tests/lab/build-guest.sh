#!/bin/bash
# Build the kanri lab guest: a Debian 6.1 kernel plus a small initramfs with
# busybox-static, the virtio modules, qemu-guest-agent (and optionally
# kanri-guestd).  No disk image is needed to boot it.
#
# Usage: tests/lab/build-guest.sh [--extra FILE:DEST]... [--force] [OUTDIR]
#        tests/lab/build-guest.sh --fetch
#
#   OUTDIR          build directory (default: tests/lab/cache, git-ignored)
#   --extra F:D     copy host file F to D inside the initramfs (mode kept; a
#                   dynamically linked ELF also gets the libraries ldd lists).
#                   /usr/sbin/kanri-guestd and /etc/kanri-guestd.args are
#                   picked up by the guest's /init (see docs/lab.md).
#   --force         rebuild even if nothing changed
#   --fetch         only make sure the kernel package is in the deb cache
#                   (downloading it, retried for ~6 minutes, if not): the
#                   one step that needs the network, so `make check` runs it
#                   right after installing packages.  Exit code 3 when the
#                   download failed.
#
# Env: KANRI_LAB_KERNEL_PKG   kernel package to use (default: newest
#                             linux-image-6.1.0-N-amd64 known to apt)
#      KANRI_LAB_IMAGES       where images are installed for QEMU to read
#                             (default /var/lib/kanri-lab/images)
#      KANRI_LAB_PVH=0        boot the compressed bzImage instead of vmlinux
#      KANRI_LAB_DEBS         deb cache shared by every OUTDIR (default
#                             tests/lab/cache/debs)
#      KANRI_LAB_FETCH_TRIES  download attempts, 60 s apart (default 6)
#
# Results: OUTDIR/kernel (vmlinux for PVH boot, or the bzImage),
# OUTDIR/initrd.img and OUTDIR/build.env, which names the copies installed under KANRI_LAB_IMAGES (content-addressed, so
# several builds can coexist and running guests are never disturbed).  The
# copies exist because QEMU may run as libvirt-qemu and libvirt's DAC driver
# chowns kernel/initrd while a guest runs; we do not want that in the work
# tree.  The build is skipped when all inputs are unchanged.
set -euo pipefail

die() { printf 'build-guest: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'build-guest: %s\n' "$*"; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
OUTDIR=""
FORCE=0
FETCH_ONLY=0
EXTRAS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--extra) [ $# -ge 2 ] || die "--extra needs FILE:DEST"; EXTRAS+=("$2"); shift 2 ;;
	--extra=*) EXTRAS+=("${1#--extra=}"); shift ;;
	--force) FORCE=1; shift ;;
	--fetch) FETCH_ONLY=1; shift ;;
	-h|--help) sed -n '2,37p' "$SELF"; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) [ -z "$OUTDIR" ] || die "only one OUTDIR"; OUTDIR=$1; shift ;;
	esac
done
OUTDIR=${OUTDIR:-$HERE/cache}
IMAGES=${KANRI_LAB_IMAGES:-/var/lib/kanri-lab/images}
DEBS=${KANRI_LAB_DEBS:-$HERE/cache/debs}
mkdir -p "$OUTDIR" "$DEBS"
OUTDIR=$(cd "$OUTDIR" && pwd)
DEBS=$(cd "$DEBS" && pwd)
T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

for tool in apt-get apt-cache dpkg-deb cpio gzip modinfo ldd sha256sum /bin/busybox /usr/sbin/qemu-ga; do
	command -v "$tool" >/dev/null || die "$tool missing; run tests/lab/setup-host.sh first"
done

# Modules for /init, in three groups: base (always loaded), blk (loaded
# when the guest has a virtio disk) and net (when it has a virtio NIC); the
# groups cost ~0.5 s of TCG boot time, so they are skipped when useless.
# Dependencies found by modinfo are inserted before their users
# automatically; crc32c_generic is listed by hand because ext4/jbd2 only
# name it as a softdep alias (crypto-crc32c).
MOD_BASE=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
	virtio_console virtio_balloon virtio_rng)
MOD_BLK=(virtio_blk crc32c_generic crc16 mbcache jbd2 ext4)
MOD_NET=(virtio_net)
# Parts of the kernel package we unpack (the whole tree is ~400 MB; this is
# ~25 MB and saves a few seconds and a lot of disk in CI).
KPATHS=('./boot/vmlinuz-*'
	'./boot/config-*'
	'./lib/modules/*/kernel/drivers/virtio/*'
	'./lib/modules/*/kernel/drivers/char/*'
	'./lib/modules/*/kernel/drivers/block/*'
	'./lib/modules/*/kernel/drivers/net/virtio_net.ko*'
	'./lib/modules/*/kernel/drivers/net/net_failover.ko*'
	'./lib/modules/*/kernel/net/core/*'
	'./lib/modules/*/kernel/fs/ext4/*'
	'./lib/modules/*/kernel/fs/jbd2/*'
	'./lib/modules/*/kernel/fs/mbcache.ko*'
	'./lib/modules/*/kernel/lib/*'
	'./lib/modules/*/kernel/crypto/*')

# --- kernel package --------------------------------------------------------
# One apt-cache call (each one parses all package lists, ~0.7 s here)
# prints "name version" for every candidate; keep the newest ABI.
kernel_candidates() {	# $1 = package name or regex
	apt-cache policy "$1" 2>/dev/null | awk '
		/^[^ ]/ { sub(":$", "", $1); name = $1 }
		/Candidate:/ && $2 != "(none)" { print name, $2 }'
}
pick_kernel() {
	if [ -n "${KANRI_LAB_KERNEL_PKG:-}" ]; then
		kernel_candidates "$KANRI_LAB_KERNEL_PKG"
	else
		kernel_candidates '^linux-image-6\.1\.0-[0-9]+-amd64$' |
			grep -E '^linux-image-6\.1\.0-[0-9]+-amd64 ' | sort -V | tail -1
	fi
}
KSEL=$(pick_kernel)
if [ -z "$KSEL" ]; then
	log "no linux-image-6.1.0-N-amd64 in apt lists; running apt-get update"
	apt-get update >/dev/null
	KSEL=$(pick_kernel)
	[ -n "$KSEL" ] || die "no ${KANRI_LAB_KERNEL_PKG:-linux-image-6.1.0-N-amd64} package available"
fi
KPKG=${KSEL%% *}
KVERS=${KSEL#* }
DEB="$DEBS/${KPKG}_${KVERS//:/%3a}_amd64.deb"

# The only step that needs the network.  Name servers here have stopped
# answering for minutes at a time, so a failed download is retried.
fetch_kernel() {
	local tries=${KANRI_LAB_FETCH_TRIES:-6} i
	[ -f "$DEB" ] && return 0
	for ((i = 1; i <= tries; i++)); do
		log "downloading $KPKG $KVERS (attempt $i of $tries)"
		# apt-get download writes into the current directory; it warns
		# when the _apt user cannot write there, which is harmless.
		(cd "$DEBS" && apt-get download -q "$KPKG=$KVERS" 2>&1 | grep -v 'unsandboxed' || true)
		[ -f "$DEB" ] && break
		[ "$i" -lt "$tries" ] && { log "download failed; again in 60 s"; sleep 60; }
	done
	# Older kernels' packages are not needed any more.
	for f in "$DEBS"/linux-image-*.deb; do
		[ -e "$f" ] && [ "$f" != "$DEB" ] && rm -f "$f"
	done
	[ -f "$DEB" ] || { printf 'build-guest: error: download of %s %s failed\n' "$KPKG" "$KVERS" >&2; exit 3; }
}
if [ $FETCH_ONLY = 1 ]; then
	fetch_kernel
	log "kernel package ready: $DEB"
	exit 0
fi

# --- input stamp -----------------------------------------------------------
extra_sums=""
for e in "${EXTRAS[@]}"; do
	src=${e%%:*}; dst=${e#*:}
	[ "$src" != "$e" ] && [ -n "$dst" ] || die "--extra wants FILE:DEST, got '$e'"
	[ -f "$src" ] || die "--extra: $src is not a file"
	case "$dst" in /*) ;; *) die "--extra: DEST must be absolute, got '$dst'" ;; esac
	extra_sums+="$(sha256sum <"$src" | cut -c1-64) $(stat -c %a "$src") $dst"$'\n'
done
STAMP=$( {
	sha256sum "$SELF" "$HERE/guest-init.sh" | cut -c1-64
	echo "$KPKG=$KVERS"
	dpkg-query -W busybox-static qemu-guest-agent libglib2.0-0 libc6 2>/dev/null
	sha256sum </usr/sbin/qemu-ga
	echo "${MOD_BASE[*]} / ${MOD_BLK[*]} / ${MOD_NET[*]} pvh=${KANRI_LAB_PVH:-1}"
	printf '%s' "$extra_sums"
} | sha256sum | cut -c1-16)

if [ $FORCE = 0 ] && [ -f "$OUTDIR/build.env" ] &&
	grep -qx "KANRI_LAB_STAMP=$STAMP" "$OUTDIR/build.env"; then
	# shellcheck disable=SC1091
	. "$OUTDIR/build.env"
	if [ -f "$KANRI_LAB_KERNEL" ] && [ -f "$KANRI_LAB_INITRD" ]; then
		touch "$KANRI_LAB_KERNEL" "$KANRI_LAB_INITRD"	# see pruning below
		log "up to date ($KPKG $KVERS, stamp $STAMP)"
		exit 0
	fi
	# Installed copies were removed (fresh /var/lib): reinstall below.
fi

# --- unpack kernel ---------------------------------------------------------
KDIR="$OUTDIR/kernel-$KPKG-$KVERS"
if [ "$(cat "$KDIR/.done" 2>/dev/null)" != "${KPATHS[*]}" ]; then
	fetch_kernel
	log "unpacking $(basename "$DEB") (vmlinuz + needed modules)"
	rm -rf "$KDIR"; mkdir -p "$KDIR"
	dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$KDIR" --wildcards "${KPATHS[@]}"
	echo "${KPATHS[*]}" >"$KDIR/.done"
fi
# Old kernels are not needed any more.
for d in "$OUTDIR"/kernel-linux-image-*; do [ "$d" = "$KDIR" ] || rm -rf "$d"; done
rm -f "$OUTDIR"/linux-image-*.deb	# where builds before the deb cache kept it

VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -1)
KREL=${VMLINUZ##*/vmlinuz-}

# Boot the uncompressed ELF kernel through its PVH entry point when the
# kernel has one: QEMU then loads it directly and the guest skips the
# in-guest xz decompression, which takes ~4 s under TCG (boot -> guest-ping
# ~9.5 s with the bzImage, ~5.5 s with vmlinux).  Falls back to the bzImage.
# Env KANRI_LAB_PVH=0 forces the bzImage.
extract_vmlinux() {	# $1 = bzImage, $2 = output ELF
	local magic tool off
	for magic in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
		tool=${magic%%:*}
		for off in $(LC_ALL=C grep -obUaP "${magic#*:}" "$1" | cut -d: -f1 | head -3); do
			case $tool in
			xz) tail -c +$((off + 1)) "$1" | xz -dcq --single-stream >"$2" 2>/dev/null ;;
			zstd) tail -c +$((off + 1)) "$1" | zstd -dcq >"$2" 2>/dev/null ;;
			gzip) tail -c +$((off + 1)) "$1" | gzip -dcq >"$2" 2>/dev/null ;;
			esac
			[ "$(head -c4 "$2" | od -An -c | tr -d ' ')" = '177ELF' ] && return 0
		done
	done
	return 1
}
KERNEL_FILE="$VMLINUZ"
KCONFIG=$(ls "$KDIR"/boot/config-* 2>/dev/null | head -1 || true)
if [ "${KANRI_LAB_PVH:-1}" != 0 ] && [ -n "$KCONFIG" ] && grep -qx 'CONFIG_PVH=y' "$KCONFIG"; then
	if [ -f "$KDIR/vmlinux" ] || extract_vmlinux "$VMLINUZ" "$KDIR/vmlinux.tmp"; then
		[ -f "$KDIR/vmlinux" ] || mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux"
		KERNEL_FILE="$KDIR/vmlinux"
	else
		rm -f "$KDIR/vmlinux.tmp"
		log "could not extract vmlinux; booting the bzImage (slower)"
	fi
fi
MODDIR="$KDIR/lib/modules/$KREL"
[ -d "$MODDIR" ] || die "no modules in $MODDIR"

# --- initramfs tree --------------------------------------------------------
ROOT="$OUTDIR/initramfs"
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,mnt/data,lib/modules,var/log}
ln -s ../run "$ROOT/var/run"
chmod 1777 "$ROOT/tmp"

# busybox and its applets (skip names we provide ourselves)
cp /bin/busybox "$ROOT/bin/busybox"
/bin/busybox --list-full | while read -r app; do
	case "$app" in bin/busybox|linuxrc|"") continue ;; esac
	[ -e "$ROOT/$app" ] || ln -s /bin/busybox "$ROOT/$app"
done

# Copy an ELF plus the libraries (and loader) ldd reports.
copy_libs() {
	local bin=$1 lib
	# A static binary makes ldd fail ("not a dynamic executable"): no libraries.
	{ ldd "$bin" 2>/dev/null || true; } | awk '
		/=> \// { print $3; next }
		/^[[:space:]]*\// { print $1 }' | while read -r lib; do
		[ -e "$ROOT$lib" ] && continue
		mkdir -p "$ROOT$(dirname "$lib")"
		cp -L "$lib" "$ROOT$lib"
	done
}
cp /usr/sbin/qemu-ga "$ROOT/usr/sbin/qemu-ga"
copy_libs /usr/sbin/qemu-ga

# kernel modules, dependencies first
declare -A MODPATH=()
while IFS= read -r f; do
	n=${f##*/}; n=${n%%.ko*}; n=${n//-/_}
	MODPATH[$n]=$f
done < <(find "$MODDIR" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
declare -A SEEN=()
ORDER=()
add_module() {
	local m=${1//-/_} d
	[ -n "${SEEN[$m]:-}" ] && return 0
	SEEN[$m]=1
	[ -n "${MODPATH[$m]:-}" ] || die "module $m not found in $MODDIR (extend KPATHS?)"
	for d in $(modinfo -F depends "${MODPATH[$m]}" | tr ',' ' '); do
		add_module "$d"
	done
	ORDER+=("$m")
}
ALL_MODS=()
for group in base blk net; do
	ORDER=()
	case $group in
	base) for m in "${MOD_BASE[@]}"; do add_module "$m"; done ;;
	blk) for m in "${MOD_BLK[@]}"; do add_module "$m"; done ;;
	net) for m in "${MOD_NET[@]}"; do add_module "$m"; done ;;
	esac
	printf '%s\n' "${ORDER[@]}" >"$ROOT/etc/modules.$group"
	ALL_MODS+=("${ORDER[@]}")
done
for m in "${ALL_MODS[@]}"; do
	src=${MODPATH[$m]}
	case "$src" in
	*.ko.xz) xz -dc "$src" ;;
	*.ko.zst) zstd -qdc "$src" ;;
	*.ko.gz) gzip -dc "$src" ;;
	*) cat "$src" ;;
	esac >"$ROOT/lib/modules/$m.ko"
done

# small /etc
cat >"$ROOT/etc/passwd" <<'X'
root:x:0:0:root:/root:/bin/sh
X
cat >"$ROOT/etc/group" <<'X'
root:x:0:
X
cat >"$ROOT/etc/os-release" <<X
NAME="kanri lab guest"
ID=kanri-lab
PRETTY_NAME="kanri lab guest ($KPKG $KVERS)"
VERSION_ID="1"
X
echo "kanri-lab" >"$ROOT/etc/hostname"

# qemu-ga implements guest-shutdown by running /sbin/shutdown; busybox has
# no such applet, so translate to busybox init's poweroff/reboot.
rm -f "$ROOT/sbin/shutdown"
cat >"$ROOT/sbin/shutdown" <<'X'
#!/bin/sh
# Called by qemu-ga as: shutdown -h|-P|-r +0 "message"
sync
case "$1" in
-r) exec reboot ;;
*) exec poweroff ;;
esac
X
chmod 755 "$ROOT/sbin/shutdown"

install -m 755 "$HERE/guest-init.sh" "$ROOT/init"

# extra files
for e in "${EXTRAS[@]}"; do
	src=${e%%:*}; dst=${e#*:}
	mkdir -p "$ROOT$(dirname "$dst")"
	rm -f "$ROOT$dst"
	cp "$src" "$ROOT$dst"
	chmod "$(stat -c %a "$src")" "$ROOT$dst"
	if [ -x "$src" ] && head -c4 "$src" | grep -q 'ELF'; then
		copy_libs "$src"
	fi
	log "extra: $src -> $dst"
done

# --- pack ------------------------------------------------------------------
cp "$KERNEL_FILE" "$OUTDIR/kernel.tmp"
# Fixed mtimes make the archive (and so its content-addressed name)
# reproducible.
find "$ROOT" -exec touch -h -d @1 {} +
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc --owner=0:0 --reproducible) | gzip -6 -n >"$OUTDIR/initrd.img.tmp"
mv "$OUTDIR/kernel.tmp" "$OUTDIR/kernel"
rm -f "$OUTDIR/vmlinuz"
mv "$OUTDIR/initrd.img.tmp" "$OUTDIR/initrd.img"

# --- install for QEMU ------------------------------------------------------
mkdir -p "$IMAGES"
chmod 755 "$(dirname "$IMAGES")" "$IMAGES"
install_img() {	# $1 = file, $2 = prefix, $3 = suffix; prints installed path
	local sum dst
	sum=$(sha256sum <"$1" | cut -c1-12)
	dst="$IMAGES/$2-$sum$3"
	if [ ! -f "$dst" ]; then
		cp "$1" "$dst.tmp.$$"
		chmod 644 "$dst.tmp.$$"
		mv "$dst.tmp.$$" "$dst"
	fi
	echo "$dst"
}
IK=$(install_img "$OUTDIR/kernel" "$(basename "$KERNEL_FILE" | sed 's/-.*//')" "")
II=$(install_img "$OUTDIR/initrd.img" initrd .img)
touch "$IK" "$II"
# Images not used by any build for 3 days are removed (each build.env keeps
# its images fresh by touching them; a missing one is simply rebuilt).
find "$IMAGES" -maxdepth 1 -type f \( -name 'vmlinu*' -o -name 'initrd-*' \) \
	-mtime +3 ! -path "$IK" ! -path "$II" -delete
cat >"$OUTDIR/build.env" <<X
# Written by tests/lab/build-guest.sh; sourced by smoke.sh, read by labvm.py.
KANRI_LAB_STAMP=$STAMP
KANRI_LAB_KERNEL_PKG=$KPKG
KANRI_LAB_KERNEL_VERSION=$KVERS
KANRI_LAB_KERNEL_RELEASE=$KREL
KANRI_LAB_KERNEL=$IK
KANRI_LAB_INITRD=$II
X
log "kernel $KPKG $KVERS ($KREL), modules: ${ALL_MODS[*]}"
log "initrd $(du -k "$OUTDIR/initrd.img" | cut -f1) KiB -> $II"
log "kernel -> $IK"
log "done in $(elapsed) s"
