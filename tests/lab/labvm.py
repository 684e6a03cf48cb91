"""Drive kanri lab guests (real QEMU/TCG domains under libvirtd) from tests.

Standard library only; talks to libvirt through the ``virsh`` command so that
tests do not need the libvirt Python bindings.  Prerequisites (run once per
machine / per CI job)::

    tests/lab/setup-host.sh      # packages, qemu.conf, libvirtd
    tests/lab/build-guest.sh     # kernel + initramfs -> tests/lab/cache

Typical use::

    import labvm
    labvm.define_guest("kanri-lab-a")
    labvm.start("kanri-lab-a")
    secs = labvm.wait_agent("kanri-lab-a")      # boot -> guest-ping
    rc, out = labvm.exec_in_guest("kanri-lab-a", ["cat", "/proc/meminfo"])
    labvm.cleanup_all()

Names should start with ``kanri-lab-`` so that ``cleanup_all()`` finds them.
Every function raises ``LabError`` on failure.  Environment:

    KANRI_LAB_URI      libvirt URI (default qemu:///system)
    KANRI_LAB_CACHE    build-guest.sh output dir (default tests/lab/cache)
    KANRI_LAB_KERNEL, KANRI_LAB_INITRD   override the images outright

The module is also a small command line tool: ``python3 labvm.py --help``.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from xml.sax.saxutils import escape, quoteattr

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
STATE_DIR = "/var/lib/kanri-lab"
DISK_DIR = os.path.join(STATE_DIR, "disks")
POOL_DIR = os.path.join(STATE_DIR, "pools")
LOG_DIR = "/var/log/libvirt/qemu"
PREFIX = "kanri-lab-"
URI = os.environ.get("KANRI_LAB_URI", "qemu:///system")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_started = {}  # name -> time.monotonic() of the last start()


class LabError(RuntimeError):
    pass


# --------------------------------------------------------------------------
# plumbing


def virsh(*args, check=True, timeout=120):
    """Run ``virsh -c URI ARGS...``; return stdout (str).

    With check=False return (returncode, stdout, stderr) instead of raising.
    """
    cmd = ["virsh", "-q", "-c", URI] + [str(a) for a in args]
    for attempt in range(3):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise LabError(f"{' '.join(cmd)}: timed out after {timeout}s") from e
        # A libvirtd restart (tests of kanri's reconnection do that) drops
        # the connection mid-call: try again once the daemon is back.
        if p.returncode == 0 or "Disconnected from" not in p.stderr and \
                "Failed to connect socket" not in p.stderr:
            break
        time.sleep(2)
    if not check:
        return p.returncode, p.stdout, p.stderr
    if p.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


def _run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


def _check_name(name):
    if not _NAME_RE.match(name):
        raise LabError(f"bad domain name {name!r}")


def _read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def images(cache=None):
    """Return (kernel, initrd) paths for new guests.

    Order: KANRI_LAB_KERNEL/KANRI_LAB_INITRD, then build.env in ``cache``,
    $KANRI_LAB_CACHE or tests/lab/cache (written by build-guest.sh).
    """
    k, i = os.environ.get("KANRI_LAB_KERNEL"), os.environ.get("KANRI_LAB_INITRD")
    if k and i:
        return k, i
    cache = cache or os.environ.get("KANRI_LAB_CACHE") or os.path.join(LAB_DIR, "cache")
    envf = os.path.join(cache, "build.env")
    if not os.path.exists(envf):
        raise LabError(f"{envf} missing: run tests/lab/build-guest.sh first")
    env = _read_env(envf)
    k, i = env.get("KANRI_LAB_KERNEL"), env.get("KANRI_LAB_INITRD")
    for p in (k, i):
        if not p or not os.path.exists(p):
            raise LabError(f"image {p} missing: run tests/lab/build-guest.sh again")
    return k, i


def console_log(name):
    """Path of the guest's serial console log (written by virtlogd)."""
    return os.path.join(LOG_DIR, f"{name}-console.log")


def console_tail(name, lines=30):
    try:
        with open(console_log(name), errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------
# disks and pools


def _disk_xml(index, disk):
    """One <disk> element.  ``disk`` is a path, or a dict with keys
    path | (pool, volume), and optional format, bus, error_policy, serial."""
    if isinstance(disk, str):
        disk = {"path": disk}
    dev = "vd" + chr(ord("a") + index)
    fmt = disk.get("format")
    if "pool" in disk:
        src = f"<source pool={quoteattr(disk['pool'])} volume={quoteattr(disk['volume'])}/>"
        dtype = "volume"
        if not fmt:
            path = virsh("vol-path", "--pool", disk["pool"], disk["volume"]).strip()
            fmt = _image_format(path)
    else:
        src = f"<source file={quoteattr(disk['path'])}/>"
        dtype = "file"
        fmt = fmt or _image_format(disk["path"])
    drv = f"name='qemu' type={quoteattr(fmt)} discard='unmap'"
    if disk.get("error_policy"):
        drv += f" error_policy={quoteattr(disk['error_policy'])}"
    serial = f"\n      <serial>{escape(disk['serial'])}</serial>" if disk.get("serial") else ""
    return (
        f"    <disk type='{dtype}' device='disk'>\n"
        f"      <driver {drv}/>\n"
        f"      {src}\n"
        f"      <target dev='{dev}' bus={quoteattr(disk.get('bus', 'virtio'))}/>{serial}\n"
        f"    </disk>"
    )


def _image_format(path):
    out = _run(["qemu-img", "info", "-U", "--output=json", path])
    return json.loads(out).get("format", "raw")


def make_disk(path, size_mib, fmt="qcow2", pool=None, mkfs=True):
    """Create a thin disk image and return its path.

    With ``pool`` (a libvirt dir pool name), ``path`` is the volume name and
    the file is created in the pool's directory, then the pool is refreshed.
    With mkfs=True (default) it carries an empty ext4 filesystem, which the
    guest mounts at /mnt/data (first disk).  The filesystem is made on the
    host (busybox has no mkfs.ext4) with lazy inode-table/journal init, so
    the image stays a few MiB until the guest writes.
    """
    if pool:
        pdir = _pool_path(pool)
        path = os.path.join(pdir, os.path.basename(path))
    elif not os.path.isabs(path):
        os.makedirs(DISK_DIR, exist_ok=True)
        path = os.path.join(DISK_DIR, path)
    if os.path.exists(path):
        raise LabError(f"{path} exists")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if mkfs:
        tmpdir = os.path.join(STATE_DIR, "tmp")
        os.makedirs(tmpdir, exist_ok=True)
        fd, raw = tempfile.mkstemp(dir=tmpdir, suffix=".raw")
        os.close(fd)
        try:
            os.truncate(raw, size_mib * 1024 * 1024)
            _run(["mkfs.ext4", "-q", "-F", "-L", "kanri-data",
                  "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", raw])
            _run(["qemu-img", "convert", "-q", "-f", "raw", "-O", fmt, raw, path])
            if fmt == "raw":
                # qemu-img convert -O raw already writes a sparse file
                pass
        finally:
            os.unlink(raw)
    else:
        _run(["qemu-img", "create", "-q", "-f", fmt, path, f"{size_mib}M"])
    os.chmod(path, 0o644)
    if pool:
        virsh("pool-refresh", pool)
    return path


def _pool_path(pool):
    xml = virsh("pool-dumpxml", pool)
    m = re.search(r"<path>([^<]+)</path>", xml)
    if not m:
        raise LabError(f"pool {pool} has no target path")
    return m.group(1)


def make_small_pool(name=PREFIX + "small", size_mib=64):
    """A libvirt ``dir`` pool on its own small filesystem, so that it can
    really fill up (thin-provisioning overcommit tests).  The filesystem is
    an ext4 image file loop-mounted at /var/lib/kanri-lab/pools/NAME.
    Idempotent; returns the pool's directory."""
    _check_name(name)
    mnt = os.path.join(POOL_DIR, name)
    img = os.path.join(POOL_DIR, name + ".ext4")
    os.makedirs(mnt, exist_ok=True)
    if not os.path.ismount(mnt):
        if not os.path.exists(img):
            with open(img, "wb") as f:
                f.truncate(size_mib * 1024 * 1024)
            _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-L", name[:16], img])
        _run(["mount", "-o", "loop", img, mnt])
        os.chmod(mnt, 0o755)
    rc, _, _ = virsh("pool-info", name, check=False)
    if rc != 0:
        with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
            f.write(f"<pool type='dir'><name>{escape(name)}</name>"
                    f"<target><path>{escape(mnt)}</path></target></pool>")
        try:
            virsh("pool-define", f.name)
        finally:
            os.unlink(f.name)
    info = virsh("pool-info", name)
    if not re.search(r"State:\s+running", info):
        virsh("pool-start", name)
    virsh("pool-refresh", name)
    return mnt


def remove_pool(name):
    """Stop and undefine a lab pool; unmount and delete it if it is one of
    make_small_pool()'s loop-mounted filesystems."""
    virsh("pool-destroy", name, check=False)
    virsh("pool-undefine", name, check=False)
    mnt = os.path.join(POOL_DIR, name)
    if os.path.ismount(mnt):
        _run(["umount", "-d", mnt])
    img = os.path.join(POOL_DIR, name + ".ext4")
    if os.path.exists(img):
        os.unlink(img)
    if os.path.isdir(mnt):
        shutil.rmtree(mnt, ignore_errors=True)


# --------------------------------------------------------------------------
# domains


def domain_xml(name, memory_mib=256, vcpus=1, disk=None, extra=None,
               cmdline="", net=False, kernel=None, initrd=None, uuid=None):
    """Return the domain XML (see define_guest for the arguments)."""
    _check_name(name)
    if not kernel or not initrd:
        k, i = images()
        kernel, initrd = kernel or k, initrd or i
    disks = []
    if disk:
        lst = disk if isinstance(disk, (list, tuple)) else [disk]
        disks = [_disk_xml(n, d) for n, d in enumerate(lst)]
    devices = []
    if net:
        # user-mode networking: only reaches the host's loopback (as
        # 10.0.2.2) and the outside via QEMU's slirp; no boot ROM, so the
        # firmware does not try a network boot.
        devices.append("    <interface type='user'>\n      <model type='virtio'/>\n"
                       "      <rom enabled='no'/>\n    </interface>")
    if extra:
        devices.append(extra)
    with open(os.path.join(LAB_DIR, "domain.xml.in")) as f:
        tpl = f.read()
    subst = {
        "NAME": escape(name),
        "UUID": uuid or str(uuidlib.uuid4()),
        "MEMORY_KIB": str(int(memory_mib) * 1024),
        "VCPUS": str(int(vcpus)),
        "KERNEL": escape(kernel),
        "INITRD": escape(initrd),
        "CMDLINE": escape(f"kanri.name={name} {cmdline}".strip()),
        "CONSOLE_LOG": escape(console_log(name)),
        "DISKS": "\n".join(disks),
        "DEVICES": "\n".join(devices),
    }
    out = re.sub(r"@([A-Z_]+)@", lambda m: subst[m.group(1)], tpl)
    return out


def define_guest(name, memory_mib=256, vcpus=1, disk=None, extra=None,
                 cmdline="", net=False, kernel=None, initrd=None):
    """Define (not start) a lab guest; return its UUID.

    disk     a path, a dict (path | pool+volume, format, error_policy,
             serial, bus) or a list of those; first disk is /dev/vda,
             mounted at /mnt/data in the guest if it holds ext4
    extra    XML text inserted into <devices> (more channels, a NIC, ...)
    cmdline  appended to the kernel command line (kanri.guestd=0, ...)
    net      add a user-mode (slirp) virtio NIC; guest is 10.0.2.15 and
             reaches the host's loopback as 10.0.2.2
    kernel, initrd   override images() (e.g. an initramfs with kanri-guestd)
    """
    xml = domain_xml(name, memory_mib, vcpus, disk, extra, cmdline, net, kernel, initrd)
    u = re.search(r"<uuid>([^<]+)</uuid>", xml).group(1)
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(xml)
    try:
        virsh("define", f.name)
    finally:
        os.unlink(f.name)
    return u


def start(name):
    """Start a defined guest; wait_agent() measures from this moment."""
    _started[name] = time.monotonic()
    virsh("start", name)


def state(name):
    """'running', 'shut off', 'paused', ... or None if no such domain."""
    rc, out, _ = virsh("domstate", name, check=False)
    return out.strip() if rc == 0 else None


def agent_command(name, cmd, timeout=10):
    """Send a QGA command (dict or JSON text); return its "return" value."""
    if isinstance(cmd, dict):
        cmd = json.dumps(cmd)
    out = virsh("qemu-agent-command", "--timeout", int(timeout), name, cmd,
                timeout=timeout + 30)
    try:
        return json.loads(out).get("return")
    except ValueError as e:
        raise LabError(f"{name}: bad agent reply {out!r}") from e


def kill_agent(name):
    """Kills qemu-guest-agent inside guest NAME for good: its binary is
    replaced by a sleeper first, so init's respawn does not bring it back.
    The kill comes a second after this returns (the agent answers first)."""
    script = ("mv /usr/sbin/qemu-ga /usr/sbin/qemu-ga.off; "
              "printf '#!/bin/sh\\nexec sleep 100000\\n' > /usr/sbin/qemu-ga; "
              "chmod +x /usr/sbin/qemu-ga; "
              "(sleep 1; kill -9 $(pidof qemu-ga.off qemu-ga)) >/dev/null 2>&1 &")
    agent_command(name, {"execute": "guest-exec", "arguments": {
        "path": "/bin/sh", "arg": ["-c", script]}})


def wait_agent(name, timeout=120, interval=0.2):
    """Poll guest-ping until the agent answers; return seconds elapsed since
    start(name) (or since this call if the guest was not started by us).
    Raises LabError (with the console tail) on timeout or if the domain
    stops running."""
    t0 = _started.get(name, time.monotonic())
    deadline = time.monotonic() + timeout
    last_state_check = 0.0
    err = ""
    while True:
        rc, out, err = virsh("qemu-agent-command", "--timeout", 2, name,
                             '{"execute":"guest-ping"}', check=False, timeout=30)
        now = time.monotonic()
        if rc == 0:
            return now - t0
        if now - last_state_check > 2:
            last_state_check = now
            st = state(name)
            if st != "running":
                raise LabError(f"{name}: domain is {st!r} while waiting for agent\n"
                               + console_tail(name))
        if now > deadline:
            raise LabError(f"{name}: agent silent after {timeout}s ({err.strip()})\n"
                           "console:\n" + console_tail(name))
        time.sleep(interval)


class ExecResult(tuple):
    """(exitcode, stdout) with .stderr and .signal attributes."""

    def __new__(cls, exitcode, stdout, stderr="", signal=None):
        self = super().__new__(cls, (exitcode, stdout))
        self.exitcode, self.stdout, self.stderr, self.signal = exitcode, stdout, stderr, signal
        return self


def exec_in_guest(name, argv, timeout=60, input=None):
    """Run argv in the guest via guest-exec; return ExecResult, which
    unpacks as (exitcode, stdout).  exitcode is None if killed by a signal
    (see .signal).  ``input`` (str/bytes) is fed to stdin."""
    if isinstance(argv, str):
        argv = ["/bin/sh", "-c", argv]
    args = {"path": argv[0], "arg": list(argv[1:]), "capture-output": True}
    if input is not None:
        if isinstance(input, str):
            input = input.encode()
        args["input-data"] = base64.b64encode(input).decode()
    pid = agent_command(name, {"execute": "guest-exec", "arguments": args})["pid"]
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        st = agent_command(name, {"execute": "guest-exec-status", "arguments": {"pid": pid}})
        if st.get("exited"):
            out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
            err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
            return ExecResult(st.get("exitcode"), out, err, st.get("signal"))
        if time.monotonic() > deadline:
            raise LabError(f"{name}: {argv} still running after {timeout}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


class guest:
    """Context manager for tests: define + start + wait_agent on entry,
    undefine on exit.  ``with labvm.guest("kanri-lab-x", memory_mib=512) as g:``
    gives an object with .name, .uuid and .boot_seconds."""

    def __init__(self, name, timeout=180, **define_kw):
        self.name, self.timeout, self.define_kw = name, timeout, define_kw
        self.uuid = self.boot_seconds = None

    def __enter__(self):
        undefine(self.name)
        self.uuid = define_guest(self.name, **self.define_kw)
        try:
            start(self.name)
            self.boot_seconds = wait_agent(self.name, self.timeout)
        except BaseException:
            undefine(self.name)
            raise
        return self

    def __exit__(self, *exc):
        undefine(self.name)
        return False


def domstats(name, *groups):
    """``virsh domstats`` as a flat dict of str -> str (numbers stay text)."""
    out = virsh("domstats", *[f"--{g}" for g in groups], name)
    res = {}
    for line in out.splitlines():
        line = line.strip()
        if "=" in line:
            k, v = line.split("=", 1)
            res[k] = v
    return res


def destroy(name):
    """Hard power-off; no error if the guest is not running."""
    rc, _, err = virsh("destroy", name, check=False)
    if rc != 0 and "not running" not in err and "failed to get domain" not in err:
        raise LabError(f"destroy {name}: {err.strip()}")
    _started.pop(name, None)


def undefine(name):
    """Remove the definition (destroying first if needed); disks stay."""
    destroy(name)
    rc, _, err = virsh("undefine", name, check=False)
    if rc != 0 and "failed to get domain" not in err:
        raise LabError(f"undefine {name}: {err.strip()}")


def list_domains(prefix=PREFIX):
    out = virsh("list", "--all", "--name")
    return [n.strip() for n in out.splitlines() if n.strip().startswith(prefix)]


def cleanup_all(prefix=PREFIX, disks=True, pools=True):
    """Destroy and undefine every domain whose name starts with prefix; with
    disks=True delete DISK_DIR/prefix*; with pools=True remove lab pools
    named prefix* (including their loop-mounted filesystems)."""
    for n in list_domains(prefix):
        undefine(n)
    if disks and os.path.isdir(DISK_DIR):
        for f in os.listdir(DISK_DIR):
            if f.startswith(prefix):
                os.unlink(os.path.join(DISK_DIR, f))
    if pools:
        out = virsh("pool-list", "--all", "--name")
        for p in out.split():
            if p.startswith(prefix):
                remove_pool(p)


# --------------------------------------------------------------------------
# command line


def _main(argv):
    import argparse

    ap = argparse.ArgumentParser(prog="labvm.py", description="kanri lab guests")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("define", help="define a guest, print its UUID")
    p.add_argument("name")
    p.add_argument("--memory", type=int, default=256, help="MiB")
    p.add_argument("--vcpus", type=int, default=1)
    p.add_argument("--disk", action="append", help="image path (repeatable)")
    p.add_argument("--cmdline", default="")
    p.add_argument("--net", action="store_true", help="user-mode NIC")
    p.add_argument("--print", action="store_true", help="print XML, do not define")
    p = sub.add_parser("start"); p.add_argument("name")
    p = sub.add_parser("wait", help="wait for guest-ping, print seconds")
    p.add_argument("name"); p.add_argument("--timeout", type=float, default=120)
    p = sub.add_parser("up", help="define+start+wait; print seconds start->ping")
    p.add_argument("name"); p.add_argument("--memory", type=int, default=256)
    p.add_argument("--vcpus", type=int, default=1); p.add_argument("--disk", action="append")
    p.add_argument("--timeout", type=float, default=120)
    p = sub.add_parser("agent", help="send a QGA command (JSON), print reply")
    p.add_argument("name"); p.add_argument("json")
    p = sub.add_parser("exec", help="run a command in the guest")
    p.add_argument("name"); p.add_argument("argv", nargs=argparse.REMAINDER)
    p = sub.add_parser("disk", help="make a thin ext4 disk image, print path")
    p.add_argument("path"); p.add_argument("size_mib", type=int)
    p.add_argument("--format", default="qcow2"); p.add_argument("--pool")
    p.add_argument("--no-mkfs", action="store_true")
    p = sub.add_parser("small-pool", help="make the loop-mounted small dir pool")
    p.add_argument("--name", default=PREFIX + "small"); p.add_argument("--size", type=int, default=64)
    p = sub.add_parser("destroy"); p.add_argument("name")
    p = sub.add_parser("undefine"); p.add_argument("name")
    p = sub.add_parser("cleanup", help="remove all lab domains, disks, pools")
    p.add_argument("--prefix", default=PREFIX)
    a = ap.parse_args(argv)

    if a.cmd == "define":
        if a.print:
            print(domain_xml(a.name, a.memory, a.vcpus, a.disk, None, a.cmdline, a.net))
        else:
            print(define_guest(a.name, a.memory, a.vcpus, a.disk, None, a.cmdline, a.net))
    elif a.cmd == "start":
        start(a.name)
    elif a.cmd == "wait":
        print(f"{wait_agent(a.name, a.timeout):.2f}")
    elif a.cmd == "up":
        define_guest(a.name, a.memory, a.vcpus, a.disk)
        start(a.name)
        print(f"{wait_agent(a.name, a.timeout):.2f}")
    elif a.cmd == "agent":
        print(json.dumps(agent_command(a.name, a.json)))
    elif a.cmd == "exec":
        r = exec_in_guest(a.name, a.argv)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        return r.exitcode if r.exitcode is not None else 128 + (r.signal or 0)
    elif a.cmd == "disk":
        print(make_disk(a.path, a.size_mib, a.format, a.pool, not a.no_mkfs))
    elif a.cmd == "small-pool":
        print(make_small_pool(a.name, a.size))
    elif a.cmd == "destroy":
        destroy(a.name)
    elif a.cmd == "undefine":
        undefine(a.name)
    elif a.cmd == "cleanup":
        cleanup_all(a.prefix)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_main(sys.argv[1:]))
    except LabError as e:
        print(f"labvm: {e}", file=sys.stderr)
        sys.exit(1)
