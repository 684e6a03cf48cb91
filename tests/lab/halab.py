"""The HA lab: several libvirt "hosts" on this machine that can fail.

Each lab host is a QEMU libvirtd with its own mount and UTS namespaces, its
own virtlogd and (by default) its own virtlockd holding disk leases, made by
``tests/lab/second-host.sh`` in a directory of its own.  ``ha-host.sh``
breaks one (partition, crash, hang, daemon-restart) and heals it;
``fence_lab`` is a fence agent for them; ``qemu_copies`` / ``CopyWatcher``
count the QEMU processes of one guest on the whole machine, to prove that
there never were two.  Standard library only, like labvm (which it uses for
the domain XML and the guest agent).  As root.

Typical use (pytest, or a benchmark)::

    import halab, labvm
    a, b = halab.start_hosts(2)                # lockd on; ~0.3 s each
    disk = halab.make_shared_disk("kanri-lab-ha-t1.raw")
    uuid = halab.define_guest([a, b], "kanri-lab-ha-t1", disk=disk)
    halab.start_guest(a, "kanri-lab-ha-t1")    # waits for the agent
    conf = f"[hypervisor:a]\\nuri = {a.uri}\\n" + "\\n".join(halab.conf_lines(a))
    with halab.CopyWatcher(uuid) as w:
        halab.inject(a, "partition")
        ...                                    # kanri restarts it on b
    assert w.max_started <= 1, w.report()
    halab.cleanup()

Names of guests and disks must start with ``kanri-lab-ha-`` (cleanup finds
them by that).  Errors raise ``labvm.LabError``.

A lab host does not answer a network probe: on one machine every socket is
always reachable, so the file DIR/unreachable stands for the network cut;
``ha-host.sh probe DIR`` (kanri's ``probe = exec:...``) answers from it.
"""

import collections
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import labvm
from labvm import LabError

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
SECOND_HOST = os.path.join(LAB_DIR, "second-host.sh")
HA_HOST = os.path.join(LAB_DIR, "ha-host.sh")
FENCE_LAB = os.path.join(LAB_DIR, "fence_lab")
PREFIX = "kanri-lab-ha-"
BASE = "/tmp/" + PREFIX            # host dirs: BASE + "a", BASE + "b", ...
SHARED_DIR = os.path.join(labvm.STATE_DIR, "shared")
PORT_BASE = 49500                  # host i migrates on PORT_BASE + 64*i ...+63
KINDS = ("partition", "crash", "hang", "daemon-restart")

_started = {}                      # dir -> LabHost started by this process


class LabHost:
    """One lab host: ``name`` ("a"), ``dir``, ``hostname``, ``uri``, ``lockd``."""

    def __init__(self, name, dir, hostname, uri, lockd):
        self.name, self.dir, self.hostname, self.uri, self.lockd = name, dir, hostname, uri, lockd

    def __repr__(self):
        return f"LabHost({self.name!r}, {self.dir!r})"

    def virsh(self, *args, check=True, timeout=60):
        return _virsh(self.uri, *args, check=check, timeout=timeout)

    def inject(self, kind):
        return inject(self, kind)

    def heal(self):
        return heal(self)

    def probe(self):
        return probe(self)

    def fence(self, action="off", **kw):
        return fence(self, action, **kw)

    def pids(self):
        return host_pids(self)

    def conf_lines(self):
        return conf_lines(self)


def _dir(host):
    return host.dir if isinstance(host, LabHost) else os.path.abspath(host)


def _uri(host):
    if isinstance(host, LabHost):
        return host.uri
    if "://" in host:
        return host
    return f"qemu+unix:///system?socket={os.path.abspath(host)}/run/libvirt-sock"


def _run(cmd, env=None, timeout=120, check=True, input=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                       input=input)
    if check and p.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: exit {p.returncode}: "
                       f"{(p.stderr.strip() or p.stdout.strip())[-3000:]}")
    return p


def _virsh(uri, *args, check=True, timeout=60):
    """``virsh -q -c URI ARGS``; stdout, or (rc, out, err) with check=False."""
    cmd = ["virsh", "-q", "-c", uri] + [str(a) for a in args]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        if not check:
            return 124, "", f"timed out after {timeout}s"
        raise LabError(f"{' '.join(cmd)}: timed out after {timeout}s") from e
    if not check:
        return p.returncode, p.stdout, p.stderr
    if p.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


def _require_root():
    if os.geteuid() != 0:
        raise LabError("the HA lab needs root (namespaces, system-mode libvirtd, kill)")


# --------------------------------------------------------------------------
# hosts


def start_host(name, lockd=True, index=None, base=BASE, port_base=PORT_BASE,
               fresh=True, lockspace=None):
    """Start one lab host in ``base + name`` (hostname: its basename) and
    return its LabHost.  ``index`` picks its migration port range (default:
    from the name, a=0, b=1, ...).  fresh=True stops and removes whatever
    was in that directory first (guests and definitions included).
    ``lockspace``: a directory for virtlockd's indirect lockspace (default:
    locks on the disk files themselves)."""
    _require_root()
    d = base + name
    if index is None:
        index = ord(name[0].lower()) - ord("a") if name[:1].isalpha() else 0
    if fresh and os.path.exists(d):
        _run(["bash", SECOND_HOST, "stop"], env=dict(os.environ, KANRI_LAB_B_DIR=d))
        shutil.rmtree(d, ignore_errors=True)
    hostname = os.path.basename(d)
    env = dict(os.environ, KANRI_LAB_B_DIR=d, KANRI_LAB_B_HOSTNAME=hostname,
               KANRI_LAB_B_LOCKD="1" if lockd else "0",
               KANRI_LAB_B_MIGRATION_PORT=str(port_base + 64 * index))
    env.pop("KANRI_LAB_B_UUID", None)
    if lockspace:
        os.makedirs(lockspace, exist_ok=True)
        env["KANRI_LAB_B_LOCKSPACE"] = lockspace
    else:
        env.pop("KANRI_LAB_B_LOCKSPACE", None)
    p = _run(["bash", SECOND_HOST, "start"], env=env)
    uri = p.stdout.strip().splitlines()[-1]
    h = LabHost(name, d, hostname, uri, lockd)
    _started[d] = h
    return h


def start_hosts(n=2, lockd=True, base=BASE, port_base=PORT_BASE, fresh=True, lockspace=None):
    """Start ``n`` lab hosts named a, b, c, ... (dirs ``base + name``)."""
    return [start_host(chr(ord("a") + i), lockd=lockd, index=i, base=base,
                       port_base=port_base, fresh=fresh, lockspace=lockspace)
            for i in range(n)]


def stop_host(host, remove=True):
    """Stop a lab host: thaw it, destroy and undefine all its guests, end
    all its processes; with remove=True delete its directory."""
    d = _dir(host)
    if os.path.exists(os.path.join(d, "host.env")):
        _run(["bash", HA_HOST, "heal", d], check=False)   # thaw, make it answer
        _run(["bash", SECOND_HOST, "stop"], env=dict(os.environ, KANRI_LAB_B_DIR=d))
    if remove:
        shutil.rmtree(d, ignore_errors=True)
    _started.pop(d, None)


def stop_hosts(hosts=None, remove=True):
    """Stop the given hosts, or every host this process started."""
    for h in list(hosts if hosts is not None else _started.values()):
        stop_host(h, remove=remove)


def lab_host_dirs(base=BASE):
    """Directories of all lab hosts under ``base`` (started by anyone)."""
    return sorted(os.path.dirname(f) for f in glob.glob(glob.escape(base) + "*/host.env"))


def host_pids(host):
    """[(pid, role)] of the host's live processes (libvirtd, virtlogd,
    virtlockd, qemu); stopped ones included."""
    p = _run(["bash", SECOND_HOST, "pids"], env=dict(os.environ, KANRI_LAB_B_DIR=_dir(host)))
    out = []
    for line in p.stdout.splitlines():
        pid, role = line.split()
        out.append((int(pid), role))
    return out


# --------------------------------------------------------------------------
# failures, probe, fence


def inject(host, kind):
    """Break a host: ``partition`` (its libvirtd SIGKILLed, guests keep
    running; unreachable), ``crash`` (every process SIGKILLed; unreachable),
    ``hang`` (SIGSTOP; unreachable) or ``daemon-restart`` (libvirtd
    restarted in place; stays reachable).  Returns the seconds it took."""
    if kind not in KINDS:
        raise LabError(f"unknown failure {kind!r} (one of {', '.join(KINDS)})")
    t0 = time.monotonic()
    _run(["bash", HA_HOST, kind, _dir(host)])
    return time.monotonic() - t0


def heal(host):
    """Undo inject() or a fence: thaw, reachable again, daemons running.
    Returns the seconds it took."""
    t0 = time.monotonic()
    _run(["bash", HA_HOST, "heal", _dir(host)])
    return time.monotonic() - t0


def probe(host):
    """True if the host is "reachable" (what kanri's probe will see)."""
    return _run(["bash", HA_HOST, "probe", _dir(host)], check=False).returncode == 0


def fence(host, action="off", stdin=False, timeout=60):
    """Run fence_lab; return (exit code, stdout + stderr).  stdin=True passes
    the options as key=value lines on stdin, as fence daemons do."""
    d = _dir(host)
    if stdin:
        p = _run([FENCE_LAB], input=f"action={action}\nplug={d}\n", check=False,
                 timeout=timeout)
    else:
        p = _run([FENCE_LAB, f"--action={action}", f"--host-dir={d}"], check=False,
                 timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def fence_mode(host, mode):
    """Make the host's fence device misbehave: "fails" (off/status exit 1),
    "lies" (off says done and kills nothing, status says off), or None."""
    d = _dir(host)
    for m in ("fails", "lies"):
        f = os.path.join(d, f"fence-{m}")
        if m == mode:
            open(f, "w").close()
        elif os.path.exists(f):
            os.unlink(f)
    if mode not in (None, "fails", "lies"):
        raise LabError(f"unknown fence mode {mode!r}")


def conf_lines(host):
    """The kanri.conf lines that give kanri this host's fence agent and
    reachability probe: ``fence = .../fence_lab --host-dir=DIR`` and
    ``probe = exec:.../ha-host.sh probe DIR``."""
    d = _dir(host)
    return [f"fence = {FENCE_LAB} --host-dir={d}",
            f"probe = exec:{HA_HOST} probe {d}"]


def hypervisor_section(host, name=None):
    """A whole ``[hypervisor:NAME]`` section (uri, fence, probe)."""
    name = name or (host.name if isinstance(host, LabHost) else os.path.basename(_dir(host)))
    return "\n".join([f"[hypervisor:{name}]", f"uri = {_uri(host)}"] + conf_lines(host)) + "\n"


# --------------------------------------------------------------------------
# shared disks and guests


def make_shared_disk(name=PREFIX + "disk.raw", size_mib=64):
    """A fresh raw disk (with an empty ext4) in /var/lib/kanri-lab/shared,
    the "shared storage" of all lab hosts; an old file of that name is
    replaced.  Returns its path."""
    if not os.path.basename(name).startswith(PREFIX):
        raise LabError(f"shared disk names start with {PREFIX}")
    os.makedirs(SHARED_DIR, exist_ok=True)
    os.chmod(SHARED_DIR, 0o755)
    path = os.path.join(SHARED_DIR, os.path.basename(name))
    if os.path.exists(path):
        os.unlink(path)
    return labvm.make_disk(path, size_mib, fmt="raw")


class on_host:
    """Point labvm's virsh calls (wait_agent, exec_in_guest, ...) at a lab
    host for a while: ``with halab.on_host(a): labvm.exec_in_guest(...)``."""

    def __init__(self, host):
        self.uri, self.saved = _uri(host), None

    def __enter__(self):
        self.saved, labvm.URI = labvm.URI, self.uri
        return self

    def __exit__(self, *exc):
        labvm.URI = self.saved
        return False


# QEMU without its own image locking.  On one machine QEMU's image lock (an
# OFD lock on the disk file, taken while QEMU parses its devices) refuses a
# second copy before libvirt's lease (virtlockd, acquired when the paused
# QEMU is resumed) is even asked; a guest started through this wrapper
# leaves the guarding to the lease alone.  libvirt probes it like any
# emulator (once per host, then cached).
NOLOCK_EMULATOR = os.path.join(labvm.STATE_DIR, "bin", "qemu-nolock")
_NOLOCK_SCRIPT = """#!/bin/bash
# kanri HA lab (tests/lab/halab.py): qemu-system-x86_64 with file.locking=off
# on every file-backed -blockdev, so that only libvirt's disk lease guards.
args=()
for a in "$@"; do
	case $a in
	'{"driver":"file",'*) a='{"driver":"file","locking":"off",'"${a#'{"driver":"file",'}" ;;
	esac
	args+=("$a")
done
exec /usr/bin/qemu-system-x86_64 "${args[@]}"
"""


def nolock_emulator():
    """Install (if needed) and return the path of the no-image-lock QEMU."""
    try:
        with open(NOLOCK_EMULATOR) as f:
            if f.read() == _NOLOCK_SCRIPT:
                return NOLOCK_EMULATOR
    except OSError:
        pass
    os.makedirs(os.path.dirname(NOLOCK_EMULATOR), exist_ok=True)
    tmp = NOLOCK_EMULATOR + f".tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(_NOLOCK_SCRIPT)
    os.chmod(tmp, 0o755)
    os.replace(tmp, NOLOCK_EMULATOR)
    return NOLOCK_EMULATOR


def guest_xml(name, disk=None, memory_mib=256, uuid=None, qemu_locking=True, **kw):
    """labvm's domain XML; ``disk`` a path (raw) or a labvm disk dict;
    qemu_locking=False runs it through nolock_emulator()."""
    if not name.startswith(PREFIX):
        raise LabError(f"HA lab guest names start with {PREFIX}")
    if isinstance(disk, str):
        disk = {"path": disk, "format": "raw"}
    xml = labvm.domain_xml(name, memory_mib=memory_mib, disk=disk, uuid=uuid, **kw)
    if not qemu_locking:
        xml, n = re.subn(r"<emulator>[^<]*</emulator>",
                         f"<emulator>{nolock_emulator()}</emulator>", xml)
        if n != 1:
            raise LabError("domain template has no <emulator> to replace")
    return xml


def define_guest(hosts, name, disk=None, memory_mib=256, uuid=None, qemu_locking=True, **kw):
    """Define one guest (one UUID, one XML) on a host or on each of a list
    of hosts, as a cluster's shared configuration would; return the UUID.
    qemu_locking=False: QEMU's own image lock off, only the lease guards.
    Extra keywords go to labvm.domain_xml (vcpus, cmdline, extra, ...)."""
    if isinstance(hosts, (LabHost, str)):
        hosts = [hosts]
    xml = guest_xml(name, disk, memory_mib, uuid, qemu_locking, **kw)
    u = re.search(r"<uuid>([^<]+)</uuid>", xml).group(1)
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(xml)
    try:
        for h in hosts:
            _virsh(_uri(h), "define", f.name)
    finally:
        os.unlink(f.name)
    return u


def start_guest(host, name, wait=True, timeout=180):
    """Start a defined guest on a host; with wait=True wait for its agent
    and return the seconds start -> guest-ping."""
    with on_host(host):
        labvm.start(name)
        if wait:
            return labvm.wait_agent(name, timeout=timeout)
    return None


def guest_state(host, name, timeout=10):
    """'running', 'shut off', ... or None (no such guest, host not answering)."""
    rc, out, _ = _virsh(_uri(host), "domstate", name, check=False, timeout=timeout)
    return out.strip() if rc == 0 else None


def remove_guest(host, name):
    """Destroy (if running) and undefine a guest on a host."""
    _virsh(_uri(host), "destroy", name, check=False)
    _virsh(_uri(host), "undefine", name, check=False)


def console_tail(host, name, lines=30):
    """The end of a guest's serial console log on a lab host."""
    path = os.path.join(_dir(host), "log", "qemu", f"{name}-console.log")
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------
# copies of a guest


def _state(pid):
    """State letter of a live process, None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return None if st in ("Z", "X", "x") else st


def _mntns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _host_of(pid):
    """The lab host dir a QEMU belongs to: the one whose namespace holder
    shares its mount namespace, else the one whose pid file names it; None
    for anything else (the system libvirtd's guests among them)."""
    dirs = set(lab_host_dirs("/tmp/")) | set(_started)
    ns = _mntns(pid)
    for d in dirs:
        holder = _read_pid(os.path.join(d, "nsholder.pid"))
        if ns and holder and _state(holder) and _mntns(holder) == ns:
            return d
    for d in dirs:
        for f in glob.glob(os.path.join(glob.escape(d), "run", "qemu", "*.pid")):
            if _read_pid(f) == pid:
                return d
    return None


Copy = collections.namedtuple("Copy", "pid state host")

# CPU time a vCPU thread spends before the guest runs (thread set-up): ~0.4
# ms measured; the first milliseconds of guest code under TCG take far more.
_RAN_NS = 5_000_000


def has_run(pid):
    """True once the QEMU's vCPU threads ("CPU n/TCG") have run guest code
    (more than 5 ms of CPU time between them).  False for a QEMU that libvirt
    started paused and killed again, as when a disk lease refuses a start."""
    total = 0
    for t in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(t + "/comm") as f:
                if not f.read().startswith("CPU "):
                    continue
            try:
                with open(t + "/schedstat") as f:
                    total += int(f.read().split()[0])
            except OSError:  # no schedstat in this kernel: clock ticks
                with open(t + "/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
                total += (int(st[11]) + int(st[12])) * (1_000_000_000 // os.sysconf("SC_CLK_TCK"))
        except (OSError, ValueError, IndexError):
            continue
    return total > _RAN_NS


def qemu_copies(uuid, started_only=False):
    """[Copy(pid, state letter, host dir or None)] of every live QEMU on
    this machine whose command line has ``-uuid UUID``: any lab host, the
    system libvirtd, anything.  Stopped ('T') processes count; zombies do
    not.  started_only=True leaves out QEMUs that never ran guest code (see
    has_run): a start refused by QEMU's image lock or by a lease still makes
    a QEMU process for a moment, and so does the paused destination of a
    live migration."""
    want = uuid.lower()
    found = []
    for ent in os.listdir("/proc"):
        if not ent.isdigit():
            continue
        try:
            with open(f"/proc/{ent}/comm") as f:
                if not f.read().startswith("qemu-system"):
                    continue
            with open(f"/proc/{ent}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        for i, a in enumerate(argv[:-1]):
            if a == b"-uuid" and argv[i + 1].decode(errors="replace").lower() == want:
                st = _state(ent)
                if st and (not started_only or has_run(ent)):
                    found.append((int(ent), st))
                break
    return [Copy(pid, st, _host_of(pid)) for pid, st in sorted(found)]


class CopyWatcher:
    """Sample qemu_copies(uuid) every ``interval`` s in a thread::

        with halab.CopyWatcher(uuid) as w:
            ...
        assert w.max_started <= 1, w.report()

    ``max_copies``  most QEMU processes of the guest seen at once (a start
                    refused by a lock counts for the moment its QEMU lives)
    ``max_started`` most of them at once that had run guest code (has_run):
                    "never two copies" is ``max_started <= 1``; ``max_copies
                    <= 1`` also proves nobody even tried a second start
    ``changes``     [(seconds since start, [Copy], started pids)] each time
                    the copies, their stopped-ness or has_run changed (the
                    first sample included)
    ``samples``     how many samples were taken"""

    def __init__(self, uuid, interval=0.02):
        self.uuid, self.interval = uuid, interval
        self.max_copies, self.max_started, self.changes, self.samples = 0, 0, [], 0
        self._stop = threading.Event()
        self._thread = None
        self._error = None
        self._t0 = None
        self._last = None

    def _sample(self):
        copies = qemu_copies(self.uuid)
        started = tuple(c.pid for c in copies if has_run(c.pid))
        self.samples += 1
        self.max_copies = max(self.max_copies, len(copies))
        self.max_started = max(self.max_started, len(started))
        key = (tuple((c.pid, c.host, c.state in "Tt") for c in copies), started)
        if key != self._last:
            self._last = key
            self.changes.append((time.monotonic() - self._t0, copies, started))

    def _loop(self):
        try:
            while not self._stop.is_set():
                self._sample()
                self._stop.wait(self.interval)
        except Exception as e:  # reported by stop()
            self._error = e

    def start(self):
        self._t0 = time.monotonic()
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="copy-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._sample()
        if self._error:
            raise LabError(f"copy watcher failed: {self._error!r}")
        return self

    def current(self):
        """The copies of the last sample."""
        return self.changes[-1][1] if self.changes else []

    def report(self):
        """The changes as text, for assertion messages."""
        lines = [f"max {self.max_copies} processes, {self.max_started} started, "
                 f"{self.samples} samples"]
        for t, copies, started in self.changes:
            desc = ", ".join(f"{c.pid}{'*' if c.pid in started else ''} {c.state} "
                             f"{c.host or '-'}" for c in copies) or "none"
            lines.append(f"  {t:8.3f}s  {desc}")
        return "\n".join(lines) + "\n  (* ran guest code)"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


# --------------------------------------------------------------------------
# cleanup


def cleanup(prefix=PREFIX, hosts=None, all_hosts=False, disks=True, system=True):
    """Remove the HA lab: guests named ``prefix*`` on the lab hosts (and,
    with system=True, on the system libvirtd if it answers), the lab hosts
    this process started (``hosts`` to name others; all_hosts=True: every
    host dir under BASE, whoever started it) with their directories, and
    with disks=True the shared disks (and lockspace dirs) named ``prefix*``."""
    todo = list(hosts) if hosts is not None else list(_started.values())
    if all_hosts:
        todo += [d for d in lab_host_dirs() if d not in {_dir(h) for h in todo}]
    for h in todo:
        d = _dir(h)
        if os.path.exists(os.path.join(d, "host.env")):
            _run(["bash", HA_HOST, "heal", d], check=False)
            rc, out, _ = _virsh(_uri(h), "list", "--all", "--name", check=False, timeout=30)
            for n in out.split() if rc == 0 else []:
                if n.startswith(prefix):
                    remove_guest(h, n)
        stop_host(h)
    if system:
        rc, out, _ = _virsh("qemu:///system", "list", "--all", "--name", check=False, timeout=15)
        for n in out.split() if rc == 0 else []:
            if n.startswith(prefix):
                remove_guest("qemu:///system", n)
    if disks and os.path.isdir(SHARED_DIR):
        for f in os.listdir(SHARED_DIR):
            path = os.path.join(SHARED_DIR, f)
            if f.startswith(prefix):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)      # an indirect lockspace
                else:
                    os.unlink(path)


# --------------------------------------------------------------------------
# command line


def _main(argv):
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="halab.py", description="kanri HA lab hosts")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up", help="start N lab hosts (fresh), print one JSON line each")
    p.add_argument("n", type=int, nargs="?", default=2)
    p.add_argument("--no-lockd", action="store_true")
    p = sub.add_parser("down", help="stop every lab host under " + BASE + " and remove it")
    p = sub.add_parser("cleanup", help="down + guests and shared disks named " + PREFIX + "*")
    p = sub.add_parser("copies", help="live QEMU copies of a guest: pid state host")
    p.add_argument("uuid")
    p = sub.add_parser("conf", help="kanri.conf lines for a host dir")
    p.add_argument("dir")
    a = ap.parse_args(argv)
    if a.cmd == "up":
        for h in start_hosts(a.n, lockd=not a.no_lockd):
            print(json.dumps({"name": h.name, "hostname": h.hostname, "uri": h.uri,
                              "dir": h.dir, "lockd": h.lockd}))
    elif a.cmd == "down":
        stop_hosts(lab_host_dirs())
    elif a.cmd == "cleanup":
        cleanup(all_hosts=True)
    elif a.cmd == "copies":
        for pid, st, d in qemu_copies(a.uuid):
            print(pid, st, d or "-")
    elif a.cmd == "conf":
        print("\n".join(conf_lines(a.dir)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_main(sys.argv[1:]))
    except LabError as e:
        print(f"halab: {e}", file=sys.stderr)
        sys.exit(1)
