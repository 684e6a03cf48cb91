#!/usr/bin/env bash
# The Debian packages (make deb) checked as an operator meets them:
#   1. lintian has no error to report;
#   2. they install into a clean Debian 12 root made by mmdebstrap from this
#      machine's Debian mirror (APT sources), with their maintainer scripts;
#   3. there the files are in place, the system user, its state directory and
#      the admin token exist, kanrid --check-config accepts the default
#      configuration, and kanrid (as its user, on loopback) serves libvirt's
#      test driver to the kanri command line;
#   4. an upgrade (the same packages again) leaves the data alone, removal
#      keeps it and the configuration, and purge removes both.
# Usage: check-deb.sh DEB_DIR   (as root; make check-deb)
set -euo pipefail

DEB_DIR=$(realpath "${1:?usage: check-deb.sh DEB_DIR}")
[ "$(id -u)" = 0 ] || { echo "check-deb.sh: needs root (chroot, mounts)" >&2; exit 2; }
fail() { echo "check-deb: FAILED: $*" >&2; exit 1; }
step() { echo "check-deb: $*"; }

changes=$(ls "$DEB_DIR"/kanri_*.changes | head -1)
kanri_deb=$(ls "$DEB_DIR"/kanri_*_*.deb | head -1)
guestd_deb=$(ls "$DEB_DIR"/kanri-guestd_*_*.deb | head -1)
[ -f "$kanri_deb" ] && [ -f "$guestd_deb" ] || fail "no packages in $DEB_DIR (make deb)"

step "lintian $(basename "$changes")"
lint=$(lintian --allow-root "$changes" 2>&1 || true)
echo "$lint" | sed 's/^/  /'
if echo "$lint" | grep -q '^E: '; then fail "lintian reports errors"; fi

ROOT=$(mktemp -d /tmp/kanri-debroot.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null || true
	for m in dev/pts dev proc; do
		mountpoint -q "$ROOT/$m" 2>/dev/null && umount -l "$ROOT/$m" || true
	done
	rm -rf "$ROOT"
}
trap cleanup EXIT

step "mmdebstrap bookworm with the packages into $ROOT"
# This machine's APT sources give the mirror (nothing but Debian's packages
# is reachable here).
sources=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v '^#' || true)
for i in 1 2 3; do
	rm -rf "$ROOT"; mkdir -p "$ROOT"
	# The packages go in with apt inside the new root, dependencies from
	# the mirror (mmdebstrap's --include of a .deb path cannot chroot dpkg).
	if echo "$sources" | mmdebstrap --variant=apt \
		--customize-hook="copy-in $kanri_deb $guestd_deb /tmp" \
		--customize-hook="chroot \"\$1\" apt-get install -y -q /tmp/$(basename "$kanri_deb") /tmp/$(basename "$guestd_deb")" \
		bookworm "$ROOT" -; then
		break
	fi
	[ $i = 3 ] && fail "mmdebstrap failed three times"
	echo "mmdebstrap failed; again in 20 s"; sleep 20
done

in_root() { chroot "$ROOT" "$@"; }
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"

step "files in place"
for f in /usr/sbin/kanrid /usr/bin/kanri /usr/sbin/kanri-guestd /usr/sbin/kanri-guestd-musl \
	/lib/systemd/system/kanrid.service /lib/systemd/system/kanri-guestd.service \
	/etc/kanri/kanri.conf /usr/share/kanri/openapi.json \
	/usr/share/kanri/prometheus/kanri.rules.yml /usr/share/man/man8/kanrid.8.gz \
	/usr/share/man/man1/kanri.1.gz /usr/share/man/man5/kanri.conf.5.gz; do
	[ -e "$ROOT$f" ] || fail "$f is not installed"
done
grep -q '^ExecStart=/usr/sbin/kanrid ' "$ROOT/lib/systemd/system/kanrid.service" ||
	fail "kanrid.service does not start /usr/sbin/kanrid"
# Enabled by the maintainer scripts (deb-systemd-helper, no systemd running).
[ -L "$ROOT/etc/systemd/system/multi-user.target.wants/kanrid.service" ] ||
	fail "kanrid.service is not enabled"

step "the system user, its state directory and the admin token"
in_root getent passwd kanri >/dev/null || fail "no user kanri"
# Names as the root's own user database has them.
[ "$(in_root stat -c '%U:%G %a' /var/lib/kanri)" = "kanri:kanri 700" ] ||
	fail "/var/lib/kanri is $(in_root stat -c '%U:%G %a' /var/lib/kanri)"
[ "$(in_root stat -c '%U %a' /var/lib/kanri/admin.token)" = "kanri 600" ] ||
	fail "admin.token is $(in_root stat -c '%U %a' /var/lib/kanri/admin.token 2>&1)"
token_sum=$(sha256sum <"$ROOT/var/lib/kanri/admin.token")

step "kanrid --check-config on the default configuration"
in_root kanrid --check-config --config /etc/kanri/kanri.conf || fail "--check-config"

step "kanrid as kanri, on loopback, with libvirt's test driver"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chroot --userspec=kanri:kanri "$ROOT" /usr/sbin/kanrid --config /etc/kanri/kanri.conf \
	--state-dir /var/lib/kanri --connect test:///default --listen "127.0.0.1:$port" \
	2>"$ROOT/tmp/kanrid.log" &
PID=$!
for i in $(seq 300); do
	code=$(python3 - "$port" <<'PY' 2>/dev/null || true
import sys, urllib.request
try:
    print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz", timeout=2).status)
except Exception as e:
    print(getattr(e, "code", 0))
PY
)
	[ "$code" = 200 ] && break
	kill -0 "$PID" 2>/dev/null || { cat "$ROOT/tmp/kanrid.log"; fail "kanrid exited"; }
	sleep 0.2
done
[ "$code" = 200 ] || { cat "$ROOT/tmp/kanrid.log"; fail "kanrid never ready"; }
# The CLI as root finds the admin token the package made.
out=$(in_root kanri --url "http://127.0.0.1:$port" vm list) || fail "kanri vm list"
echo "$out" | sed 's/^/  /'
echo "$out" | grep -qw test || fail "kanri vm list shows no VM 'test'"
kill -TERM "$PID"
wait "$PID" || { cat "$ROOT/tmp/kanrid.log"; fail "kanrid did not stop cleanly"; }
PID=

step "upgrade: the same packages again leave the data alone"
cp "$kanri_deb" "$guestd_deb" "$ROOT/tmp/"
in_root dpkg -i "/tmp/$(basename "$kanri_deb")" "/tmp/$(basename "$guestd_deb")" >/dev/null
[ "$(sha256sum <"$ROOT/var/lib/kanri/admin.token")" = "$token_sum" ] || fail "the upgrade changed the admin token"
[ -s "$ROOT/var/lib/kanri/kanri.db" ] || fail "the upgrade lost the store"

step "removal keeps the data and the configuration"
in_root apt-get remove -y -q kanri kanri-guestd >/dev/null
[ ! -e "$ROOT/usr/sbin/kanrid" ] || fail "kanrid still installed after removal"
[ -s "$ROOT/var/lib/kanri/kanri.db" ] || fail "removal deleted the store"
[ -f "$ROOT/etc/kanri/kanri.conf" ] || fail "removal deleted the configuration"

step "purge removes them"
in_root apt-get purge -y -q kanri kanri-guestd >/dev/null
[ ! -e "$ROOT/var/lib/kanri" ] || fail "purge left /var/lib/kanri"
[ ! -e "$ROOT/etc/kanri/kanri.conf" ] || fail "purge left /etc/kanri/kanri.conf"
left=$(in_root dpkg -l 'kanri*' 2>/dev/null | awk '/^[a-z][a-z] /{print $1, $2}' | grep -v '^un ' || true)
[ -z "$left" ] || fail "packages left: $left"
step "OK"
