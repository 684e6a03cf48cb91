#!/bin/bash
# End-to-end check of the kanri lab: host set-up, guest build, one real
# QEMU guest under libvirtd, its agent and its statistics.  Exit 0 only if
# everything works.  Run as root; takes ~20-30 s on a warm machine.
#
# Usage: tests/lab/smoke.sh [--keep]     (--keep leaves the guest running)
# Env:   KANRI_LAB_CACHE   build directory (default tests/lab/cache)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# pid in the name: several engineers / CI jobs may share one libvirtd
NAME=kanri-lab-smoke-$$
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
export KANRI_LAB_CACHE=${KANRI_LAB_CACHE:-$HERE/cache}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

T0=$(now)
"$HERE/setup-host.sh"
T_SETUP=$(since "$T0")

T1=$(now)
"$HERE/build-guest.sh" "$KANRI_LAB_CACHE"
T_BUILD=$(since "$T1")

T2=$(now)
export NAME KEEP T_SETUP T_BUILD
rc=0
PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" python3 - <<'PY' || rc=$?
import os, sys, time
import labvm

name = os.environ["NAME"]
keep = os.environ["KEEP"] == "1"
failed = []


def check(cond, what):
    print(f"smoke: {'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        failed.append(what)


labvm.cleanup_all(prefix=name)
disk = labvm.make_disk(name + "-data.qcow2", 256)
try:
    labvm.define_guest(name, memory_mib=256, vcpus=1, disk=disk)
    labvm.start(name)
    boot = labvm.wait_agent(name, timeout=180)
    up = float(labvm.exec_in_guest(name, ["cat", "/proc/uptime"])[1].split()[0])
    print(f"smoke: boot -> guest-ping {boot:.1f} s (guest kernel uptime then ~{up:.1f} s)")
    check(True, "guest-ping answered")

    # host side: balloon.* (the guest driver reports usable/unused every
    # 2 s once it is up) and vcpu.0.delay (time the vCPU waited to run)
    deadline = time.monotonic() + 20
    while True:
        st = labvm.domstats(name)
        if "balloon.unused" in st or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    check(any(k.startswith("balloon.") for k in st), "domstats has balloon.*")
    check("balloon.unused" in st, f"guest-reported balloon.unused = {st.get('balloon.unused')}")
    check("vcpu.0.delay" in st, f"domstats has vcpu.0.delay = {st.get('vcpu.0.delay')}")

    cpus = labvm.agent_command(name, {"execute": "guest-get-cpustats"})
    check(isinstance(cpus, list) and cpus and "idle" in cpus[0],
          f"guest-get-cpustats: {cpus[0] if cpus else cpus}")

    rc, out = labvm.exec_in_guest(name, ["/bin/uname", "-r"])
    env = labvm._read_env(os.path.join(os.environ["KANRI_LAB_CACHE"], "build.env"))
    check(rc == 0 and out.strip() == env["KANRI_LAB_KERNEL_RELEASE"],
          f"guest-exec uname -r -> rc={rc} {out.strip()!r}")
    rc, out = labvm.exec_in_guest(name, "exit 3")
    check(rc == 3, f"guest-exec exit code -> {rc}")
    rc, out = labvm.exec_in_guest(
        name, "grep -q ' /mnt/data ext4 ' /proc/mounts && echo hi >/mnt/data/x && cat /mnt/data/x")
    check(rc == 0 and out.strip() == "hi", "virtio disk mounted at /mnt/data and writable")
except labvm.LabError as e:
    check(False, str(e))
finally:
    if not keep:
        labvm.undefine(name)
        os.unlink(disk)
        check(labvm.state(name) is None, "guest destroyed and undefined")

sys.exit(1 if failed else 0)
PY
echo "smoke: timings: setup-host ${T_SETUP} s, build-guest ${T_BUILD} s, guest phase $(since "$T2") s, total $(since "$T0") s"
[ $rc = 0 ] && echo "smoke: PASS" || echo "smoke: FAILED"
exit $rc
