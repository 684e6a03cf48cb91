"""Helpers for end-to-end tests: start a real kanrid on a temporary state
directory and talk to it over HTTP (stdlib only)."""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

BUILD = os.environ.get("KANRI_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
KANRID = os.path.join(BUILD, "src", "daemon", "kanrid")
KANRI = os.path.join(BUILD, "src", "cli", "kanri")
# With KANRI_TEST_STORE_PG (a PostgreSQL server's URL: tools/pg-server.sh),
# every kanrid a test starts keeps its store there, in a schema of its
# state directory's own (so a restart on the same directory finds its
# data), instead of STATE_DIR/kanri.db.
STORE_PG = os.environ.get("KANRI_TEST_STORE_PG") or None


def pg_schema_url(server, schema):
    """The URL of SERVER's database with SCHEMA, created when missing, as
    the connections' search path: a store of its own on a shared server."""
    subprocess.run(["psql", server, "-qXc", f"CREATE SCHEMA IF NOT EXISTS {schema}"],
                   check=True, capture_output=True, text=True)
    sep = "&" if "?" in server else "?"
    return f"{server}{sep}options=-csearch_path%3D{schema}"


def pg_store_url(state_dir):
    """The PostgreSQL store of STATE_DIR: its own schema on the test
    server."""
    import hashlib
    return pg_schema_url(
        STORE_PG, "k_" + hashlib.sha1(os.path.abspath(state_dir).encode()).hexdigest()[:16])


def store_bytes(state_dir):
    """Everything the store of STATE_DIR holds, as bytes: the SQLite file,
    or a dump of the PostgreSQL schema's data."""
    if not STORE_PG:
        with open(os.path.join(state_dir, "kanri.db"), "rb") as f:
            return f.read()
    url = pg_store_url(state_dir)
    schema = url.rsplit("%3D", 1)[1]
    return subprocess.run(["pg_dump", "--data-only", "-n", schema, STORE_PG],
                          check=True, capture_output=True).stdout


def store_query(state_dir, sql, params=()):
    """The rows of SQL (with "?" parameters) on the store of STATE_DIR,
    read-only, as tuples: SQLite's values, or PostgreSQL's as psql prints
    them with integers made ints and NULL None."""
    if not STORE_PG:
        import sqlite3
        db = sqlite3.connect(f"file:{state_dir}/kanri.db?mode=ro", uri=True)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()
    parts = sql.split("?")
    assert len(parts) == len(params) + 1, sql
    args = []
    text = parts[0]
    for i, (p, rest) in enumerate(zip(params, parts[1:])):
        args += ["-v", f"p{i}={p}"]
        text += f":'p{i}'" + rest
    out = subprocess.run(["psql", pg_store_url(state_dir), "-XAt", "-F", "\x1f", "-P",
                          "null=\x1e", *args, "-f", "-"], input=text,
                         check=True, capture_output=True, text=True).stdout

    def value(v):
        if v == "\x1e":
            return None
        return int(v) if re.fullmatch(r"-?\d+", v) else v
    return [tuple(value(v) for v in line.split("\x1f")) for line in out.splitlines()]


def required_tool(name, package):
    """The path of command NAME (from Debian's PACKAGE).  Without it the
    test is skipped, saying so, unless KANRI_TEST_TOOLS_REQUIRED=1 (make
    check installs every tool the tests use), where it fails."""
    import pytest
    path = shutil.which(name)
    if not path:
        msg = f"{name} is not installed (Debian package {package})"
        if os.environ.get("KANRI_TEST_TOOLS_REQUIRED") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def promtool_check_metrics(text):
    """What `promtool check metrics` says of TEXT (kanrid's /metrics): ''
    when it is clean."""
    p = subprocess.run([required_tool("promtool", "prometheus"), "check", "metrics"],
                       input=text, capture_output=True, text=True, timeout=60)
    out = (p.stdout + p.stderr).strip()
    return out or ("" if p.returncode == 0 else f"exit {p.returncode}")


def needs_sqlite(reason="reads kanri.db itself"):
    """Skips a test that only makes sense on the SQLite store."""
    import pytest
    if STORE_PG:
        pytest.skip(f"SQLite store only: {reason}")

# A sanitizer report (AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer,
# ThreadSanitizer) in the stderr of one of our processes.  `make check-sanitize`
# runs the suites against sanitized binaries; a report must fail the test that
# caused it even when the process then exits as the test expected (a CLI
# usage error is exit code 2 whether or not it also overflowed a buffer).
# The patterns are the reports' own headers, which no normal log contains.
_SANITIZER_RE = re.compile(r"^==\d+==ERROR: (?:AddressSanitizer|LeakSanitizer)"
                           r"|^WARNING: ThreadSanitizer"
                           r"|^SUMMARY: (?:UndefinedBehaviorSanitizer|ThreadSanitizer)"
                           r"|^\S+:\d+:\d+: runtime error: ", re.M)


def sanitizer_report(text):
    """The sanitizer report in TEXT, from the line it starts on (bounded to
    20 000 characters), or None."""
    m = _SANITIZER_RE.search(text or "")
    if not m:
        return None
    start = text.rfind("\n", 0, m.start()) + 1
    # ASan and LSan open a report with a line of '=' signs; keep it.
    prev = text.rfind("\n", 0, max(start - 1, 0)) + 1
    if text[prev:start].startswith("====="):
        start = prev
    return text[start:start + 20000]


def check_sanitizers(what, stderr, returncode=None):
    """Raises AssertionError when STDERR holds a sanitizer report, or when the
    process died of SIGABRT: `make check-sanitize` sets abort_on_error=1, so
    that is how every sanitizer error ends (an assertion failure is the
    other way, and a failure too)."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    report = sanitizer_report(stderr)
    if report is not None:
        raise AssertionError(f"{what}: sanitizer report\n{report}")
    if returncode == -signal.SIGABRT:
        raise AssertionError(f"{what}: aborted (SIGABRT)\n--- stderr ---\n{(stderr or '')[-20000:]}")


def stop_agent(proc, name="kanri-guestd"):
    """Stops a kanri-guestd started with stderr=PIPE, text=True (SIGTERM,
    then SIGKILL after 10 s); checks its log for sanitizer reports and
    returns it."""
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    check_sanitizers(name, err, proc.returncode)
    return err


def run(cmd, **kw):
    """subprocess.run() for kanri's own binaries (kanri, kanrid, kanri-guestd):
    stderr is captured unless the caller redirects it, and a sanitizer report
    in it fails the test (see check_sanitizers)."""
    if "stderr" not in kw and not kw.get("capture_output"):
        kw["stderr"] = subprocess.PIPE
    check = kw.pop("check", False)
    p = subprocess.run(cmd, **kw)
    check_sanitizers(os.path.basename(str(cmd[0])), p.stderr, p.returncode)
    if check:
        p.check_returncode()
    return p


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body) if self.body else None

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


class Kanrid:
    """A kanrid process.  Its log is collected so tests can read it."""

    def __init__(self, args=(), state_dir=None, config=None, env=None, ready=True):
        """Starts kanrid and, unless READY is false, waits until GET /readyz
        says every host has loaded its inventory (or is unreachable), so a
        test never meets a VM that exists but is not known yet."""
        self.tmp = tempfile.TemporaryDirectory(prefix="kanri-test-")
        self.state_dir = state_dir or os.path.join(self.tmp.name, "state")
        cmd = [KANRID, "--state-dir", self.state_dir, "--listen", "127.0.0.1:0"]
        if config is not None:
            path = os.path.join(self.tmp.name, "kanri.conf")
            with open(path, "w") as f:
                f.write(config)
            cmd += ["--config", path]
        cmd += list(args)
        if STORE_PG and "--db" not in cmd and "[store]" not in (config or ""):
            cmd += ["--db", pg_store_url(self.state_dir)]
        self.log_lines = []
        self._log_lock = threading.Lock()
        self._checked = False
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     text=True, env=env)
        self.port = None
        self.scheme = "http"
        self.ssl = None
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        deadline = time.time() + 20
        while self.port is None and time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kanrid exited early:\n" + self.log)
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            raise RuntimeError("kanrid did not start listening:\n" + self.log)
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        # With TLS, the certificate kanrid made (or was given) is the CA.
        self.ssl = None
        if self.scheme == "https":
            self.ssl = ssl.create_default_context(
                cafile=os.path.join(self.state_dir, "tls-cert.pem"))
        with open(os.path.join(self.state_dir, "admin.token")) as f:
            self.token = f.read().strip()
        if ready:
            self.wait_ready()

    def _read_log(self):
        for line in self.proc.stderr:
            with self._log_lock:
                self.log_lines.append(line)
            m = re.search(r"listening on (https?)://[^ ]*:(\d+)/", line)
            if m:
                self.scheme = m.group(1)
                self.port = int(m.group(2))

    @property
    def log(self):
        with self._log_lock:
            return "".join(self.log_lines)

    def request(self, method, path, body=None, token="admin", raw=None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token == "admin":
            token = self.token
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=120, context=self.ssl) as r:
                return Response(r.status, dict(r.headers), r.read().decode())
        except urllib.error.HTTPError as e:
            return Response(e.code, dict(e.headers), e.read().decode())

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def raw(self, data, timeout=10):
        """Send DATA (bytes) as is on a new connection and read the answer
        until kanrid closes it or TIMEOUT passes.  Returns (status or None,
        headers dict, body text, closed): for requests urllib would fix up,
        or bodies kanrid must refuse before reading them."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if self.ssl:
            sock = self.ssl.wrap_socket(sock, server_hostname="localhost")
        with sock as c:
            try:
                c.sendall(data)
            except OSError:
                pass  # refused before all was sent: the answer may still be there
            buf, closed = b"", False
            deadline = time.time() + timeout
            try:
                while time.time() < deadline:
                    got = c.recv(65536)
                    if not got:
                        closed = True
                        break
                    buf += got
                    head, sep, rest = buf.partition(b"\r\n\r\n")
                    m = re.search(rb"(?i)content-length: *(\d+)", head)
                    if sep and m and len(rest) >= int(m.group(1)):
                        # The whole answer: does kanrid close now?
                        c.settimeout(2)
                        closed = c.recv(1) == b""
                        break
            except (socket.timeout, ConnectionResetError):
                pass
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d+)", lines[0]) if lines and lines[0] else None
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return (int(m.group(1)) if m else None), headers, body.decode("utf-8", "replace"), closed

    def stream(self, query="", token="admin", headers=None, rcvbuf=None, timeout=30):
        """Opens GET /api/v1/events/stream (with QUERY, "?types=..." or
        "?after=...") on a connection of its own: an EventStream."""
        return EventStream(self, query, token="" if token is None else
                           (self.token if token == "admin" else token),
                           headers=headers, rcvbuf=rcvbuf, timeout=timeout)

    def wait_for(self, predicate, timeout=15, interval=0.05, what="condition"):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last={last!r}\n--- kanrid log ---\n{self.log}")

    def vms(self, host=None):
        q = f"?host={host}" if host else ""
        return {v["name"]: v for v in self.get("/api/v1/vms" + q).json["vms"]}

    def hosts(self):
        return {h["name"]: h for h in self.get("/api/v1/hosts").json["hosts"]}

    def wait_ready(self, timeout=120):
        """Waits for GET /readyz to answer 200."""
        return self.wait_for(lambda: self.get("/readyz", token=None).status == 200,
                             timeout=timeout, interval=0.05, what="GET /readyz 200")

    def wait_connected(self, names, timeout=30):
        def ok():
            h = self.hosts()
            return all(n in h and h[n]["state"] == "connected" for n in names) and h
        return self.wait_for(ok, timeout=timeout, what=f"hosts {names} connected")

    def cli(self, *args, token="admin", check=False, env_extra=None):
        env = dict(os.environ)
        env["KANRI_URL"] = self.url
        if getattr(self, "ssl", None):
            env["KANRI_CACERT"] = os.path.join(self.state_dir, "tls-cert.pem")
        env["KANRI_TOKEN"] = self.token if token == "admin" else (token or "")
        env.update(env_extra or {})
        p = run([KANRI, *args], capture_output=True, text=True, env=env, timeout=180)
        if check and p.returncode != 0:
            raise AssertionError(f"kanri {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p

    def stop(self):
        """Stops kanrid (SIGTERM) and returns its exit status.  Raises
        AssertionError, once, when its log holds a sanitizer report or it
        died of SIGABRT (see check_sanitizers): LeakSanitizer reports only
        at exit, so this is where a leak shows."""
        hung = False
        died = self.proc.poll()
        if died is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                hung = True
                self.proc.kill()
                self.proc.wait()
        # The log reader may still hold the last lines (the report).
        self._reader.join(timeout=10)
        if not self._checked:
            self._checked = True
            check_sanitizers("kanrid", self.log, self.proc.returncode)
            # kanrid ends only when told: one that was gone before (a
            # SIGSEGV, the OOM killer, an exit on error), or failed its
            # SIGTERM, says so with its log, or the test only sees
            # "connection refused".
            rc = self.proc.returncode
            how = f"signal {-rc}" if rc < 0 else f"status {rc}"
            assert died is None, f"kanrid ended by itself ({how})\n--- log ---\n{self.log[-20000:]}"
            assert rc == 0 or hung, f"kanrid's SIGTERM ended with {how}\n--- log ---\n{self.log[-20000:]}"
            # kanrid gives a hanging hypervisor call 10 s, then exits anyway.
            assert not hung, "kanrid did not exit within 20 s of SIGTERM"
        return self.proc.returncode


class StreamEnded(Exception):
    """The server ended the stream (the last chunk, or the connection)."""


class EventStream:
    """A client of GET /api/v1/events/stream, on a raw socket of its own so
    that a test sees what the server does: the status and headers, chunked
    transfer decoded here, and frames parsed as a browser's EventSource
    parses them.  Each frame is a dict: {"id", "event", "data"} (data
    parsed as JSON when it is), or {"comment": TEXT} for a comment line."""

    def __init__(self, k, query="", token="", headers=None, rcvbuf=None, timeout=30):
        sock = socket.socket()
        if rcvbuf:
            # Before connect, so the window the server sees is small too.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", k.port))
        if k.ssl:
            sock = k.ssl.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        lines = [f"GET /api/v1/events/stream{query} HTTP/1.1", "Host: localhost"]
        if token:
            lines.append("Authorization: Bearer " + token)
        lines += [f"{a}: {b}" for a, b in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.raw = b""        # bytes received, not yet decoded
        self.text = b""       # decoded body, not yet parsed into frames
        self.ended = False    # the last chunk (or EOF) was seen
        self.frames = []      # every frame parsed so far
        self._pending = []    # parsed, not yet returned by next()
        self._frame = {}
        while b"\r\n\r\n" not in self.raw:
            self._recv(timeout)
        head, _, self.raw = self.raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            a, _, b = line.partition(":")
            self.headers[a.strip().lower()] = b.strip()
        self.body = None
        if self.status != 200:
            n = int(self.headers.get("content-length", "0"))
            while len(self.raw) < n:
                self._recv(timeout)
            self.body = self.raw[:n].decode()
            self.close()

    @property
    def json(self):
        return json.loads(self.body)

    def _recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            got = self.sock.recv(65536)
        except ConnectionResetError:
            got = b""
        if not got:
            self.ended = True
            raise StreamEnded("the connection was closed")
        self.raw += got

    def _decode(self):
        """Moves whole chunks from raw to text."""
        while not self.ended:
            line, sep, rest = self.raw.partition(b"\r\n")
            if not sep:
                return
            size = int(line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            if size == 0:
                self.ended = True
            self.text += rest[:size]
            self.raw = rest[size + 2:]

    def _parse(self):
        while True:
            line, sep, rest = self.text.partition(b"\n")
            if not sep:
                return
            self.text = rest
            line = line.decode()
            if line == "":
                if self._frame:
                    f = self._frame
                    if "data" in f:
                        try:
                            f["data"] = json.loads(f["data"])
                        except ValueError:
                            pass
                    self.frames.append(f)
                    self._pending.append(f)
                self._frame = {}
            elif line.startswith(":"):
                f = {"comment": line[1:].strip()}
                self.frames.append(f)
                self._pending.append(f)
            else:
                key, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if key == "data" and "data" in self._frame:
                    self._frame["data"] += "\n" + value
                else:
                    self._frame[key] = int(value) if key == "id" else value

    def next(self, timeout=30):
        """The next frame; StreamEnded when the server ends the stream,
        socket.timeout when none comes within TIMEOUT seconds."""
        deadline = time.time() + timeout
        self._decode()
        self._parse()
        while not self._pending:
            if self.ended:
                raise StreamEnded("the stream ended")
            left = deadline - time.time()
            if left <= 0:
                raise socket.timeout(f"no frame within {timeout} s")
            self._recv(left)
            self._decode()
            self._parse()
        return self._pending.pop(0)

    def wait(self, predicate, timeout=30, what="a frame"):
        """Reads frames until PREDICATE(frame) holds, and returns it."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            try:
                f = self.next(timeout=max(left, 0.001))
            except socket.timeout:
                raise AssertionError(f"no {what} within {timeout} s; got "
                                     f"{self.frames[-5:]!r}") from None
            if predicate(f):
                return f

    def wait_end(self, timeout=30):
        """Reads until the server ends the stream; the frames read."""
        got = []
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                got.append(self.next(timeout=max(deadline - time.time(), 0.001)))
        except StreamEnded:
            return got
        except socket.timeout:
            pass
        raise AssertionError(f"the stream did not end within {timeout} s; got {got[-5:]!r}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def node_xml(prefix, n_running, n_shutoff, memory_kib=524288, vcpus=2):
    """A libvirt test-driver node file: several domains, a pool, a network."""
    doms = []
    for i in range(n_running + n_shutoff):
        state = "running" if i < n_running else "shutoff"
        uuid = "%08x-0000-4000-8000-%012x" % (abs(hash(prefix)) % (1 << 32), i + 1)
        doms.append(f"""
  <domain type='test'>
    <name>{prefix}-vm{i}</name>
    <uuid>{uuid}</uuid>
    <memory unit='KiB'>{memory_kib}</memory>
    <currentMemory unit='KiB'>{memory_kib}</currentMemory>
    <vcpu placement='static'>{vcpus}</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <disk type='file' device='disk'>
        <source file='/guest/{prefix}-vm{i}.img'/>
        <target dev='vda' bus='virtio'/>
      </disk>
      <interface type='network'>
        <mac address='52:54:00:{i // 256:02x}:{i % 256:02x}:01'/>
        <source network='default'/>
        <model type='virtio'/>
      </interface>
      <memballoon model='virtio'/>
    </devices>
    <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>{'1' if state == 'running' else '5'}</test:runstate>
  </domain>""")
    return f"""<node>
  <cpu>
    <mhz>2000</mhz><model>i686</model><active>4</active>
    <nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads>
  </cpu>
  <memory>8388608</memory>
  {''.join(doms)}
  <network>
    <name>default</name>
    <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
    <bridge name='virbr0'/>
    <forward/>
    <ip address='192.168.122.1' netmask='255.255.255.0'/>
  </network>
  <pool type='dir'>
    <name>{prefix}-pool</name>
    <uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>
    <capacity>107374182400</capacity>
    <allocation>0</allocation>
    <available>107374182400</available>
    <target><path>/guest-images</path></target>
  </pool>
</node>
"""
