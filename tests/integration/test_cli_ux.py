"""The kanri command line as operators expect it: --output json|yaml|table,
colour only on a terminal and never with NO_COLOR, long tables through a
pager on a terminal, named contexts in a per-user configuration file, and
bash and zsh completion that asks kanrid for VM and host names."""
import fcntl
import json
import os
import pty
import stat
import struct
import subprocess
import tempfile
import termios

import pytest
import yaml

from kanri_harness import KANRI, Kanrid, node_xml, required_tool

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
COMPLETION = os.path.join(ROOT, "dist", "completion")


@pytest.fixture(scope="module")
def k():
    d = tempfile.TemporaryDirectory(prefix="kanri-ux-")
    node = os.path.join(d.name, "node.xml")
    with open(node, "w") as f:
        f.write(node_xml("ux", n_running=20, n_shutoff=2))
    kd = Kanrid(args=["--connect", "test://" + node])
    kd.wait_connected(["node"])
    yield kd
    kd.stop()
    d.cleanup()


def clean_env(k, **extra):
    """An environment with no kanri settings but the ones given: no
    context file, no local admin token."""
    env = {key: v for key, v in os.environ.items()
           if not key.startswith("KANRI_") and key not in ("NO_COLOR", "PAGER")}
    tmp = extra.pop("tmp")
    env.update(XDG_CONFIG_HOME=os.path.join(tmp, "config"),
               KANRI_STATE_DIR=os.path.join(tmp, "no-state"), TERM="xterm")
    env.update({key: str(v) for key, v in extra.items()})
    return env


def on_terminal(args, env, rows=200, cols=200):
    """kanri ARGS with its standard output on a pseudo-terminal of ROWS x
    COLS: what the terminal received, and the exit status."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    p = subprocess.Popen([KANRI, *args], stdout=slave, stderr=subprocess.PIPE, env=env,
                         stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    p.wait(timeout=60)
    return out.decode().replace("\r\n", "\n"), p.returncode


def test_output_formats(k):
    as_json = json.loads(k.cli("vm", "list", "--json", check=True).stdout)
    assert json.loads(k.cli("vm", "list", "-o", "json", check=True).stdout) == as_json
    p = k.cli("vm", "list", "--output", "yaml", check=True)
    assert yaml.safe_load(p.stdout) == as_json
    assert not p.stdout.lstrip().startswith("{")
    # A reply with nested objects and strings YAML would misread (UUIDs,
    # times, MACs) reads back the same.
    one = k.cli("vm", "show", "ux-vm0", "-o", "yaml", check=True).stdout
    assert yaml.safe_load(one) == json.loads(k.cli("vm", "show", "ux-vm0", "--json",
                                                   check=True).stdout)
    table = k.cli("vm", "list", "-o", "table", check=True).stdout
    assert table.startswith("NAME") and "ux-vm0" in table
    p = k.cli("vm", "list", "-o", "xml")
    assert p.returncode == 2 and "--output: expected table, json or yaml, not 'xml'" in p.stderr
    p = k.cli("vm", "list", "--json", "-o", "table")
    assert p.returncode == 2 and "different outputs" in p.stderr


def test_colour_only_on_a_terminal_without_no_color(k):
    with tempfile.TemporaryDirectory() as tmp:
        env = clean_env(k, tmp=tmp, KANRI_URL=k.url, KANRI_TOKEN=k.token)
        out, rc = on_terminal(["vm", "list"], env)
        assert rc == 0, out
        assert "\x1b[1mNAME\x1b[0m" in out and "\x1b[32mrunning\x1b[0m" in out, out[:400]
        # Colour codes do not shift the columns: each line, without them,
        # is the plain table's.
        plain = k.cli("vm", "list", check=True).stdout
        stripped = out.replace("\x1b[1m", "").replace("\x1b[32m", "").replace("\x1b[0m", "")
        assert stripped == plain
        out, rc = on_terminal(["vm", "list"], dict(env, NO_COLOR="1"))
        assert rc == 0 and "\x1b[" not in out and "ux-vm0" in out
        out, rc = on_terminal(["vm", "list"], dict(env, TERM="dumb"))
        assert rc == 0 and "\x1b[" not in out
        # Not a terminal: never.
        assert "\x1b[" not in plain


def test_long_tables_paged_on_a_terminal(k):
    with tempfile.TemporaryDirectory() as tmp:
        paged = os.path.join(tmp, "paged.txt")
        env = clean_env(k, tmp=tmp, KANRI_URL=k.url, KANRI_TOKEN=k.token, NO_COLOR="1",
                        KANRI_PAGER=f"cat > {paged}")
        # 22 VMs and a header do not fit 10 rows: the pager gets the table.
        out, rc = on_terminal(["vm", "list"], env, rows=10)
        assert rc == 0
        with open(paged) as f:
            text = f.read()
        assert text.startswith("NAME") and text.count("\n") == 24 and "ux-vm19" in text
        assert "ux-vm19" not in out
        os.unlink(paged)
        # --no-pager, a screen tall enough, or a pipe: straight out.
        for args, rows in ((["vm", "list", "--no-pager"], 10), (["vm", "list"], 100)):
            out, rc = on_terminal(args, env, rows=rows)
            assert rc == 0 and "ux-vm19" in out and not os.path.exists(paged), args
        p = subprocess.run([KANRI, "vm", "list"], env=env, capture_output=True, text=True)
        assert p.returncode == 0 and "ux-vm19" in p.stdout and not os.path.exists(paged)


def test_contexts(k):
    with tempfile.TemporaryDirectory() as tmp:
        env = clean_env(k, tmp=tmp)
        token_file = os.path.join(tmp, "lab.token")
        with open(token_file, "w") as f:
            f.write(k.token + "\n")

        def kanri(*args, **extra):
            return subprocess.run([KANRI, *args], env=dict(env, **extra), capture_output=True,
                                  text=True, timeout=60)
        # No context and nothing else: the default URL, which is not kanrid's.
        p = kanri("context", "list")
        assert p.returncode == 0 and "no contexts" in p.stdout
        p = kanri("context", "set", "lab", "--url", k.url, "--token-file", token_file)
        assert p.returncode == 0 and "(and in use)" in p.stdout, p.stderr
        conf = os.path.join(tmp, "config", "kanri", "config")
        assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600
        p = kanri("vm", "list")
        assert p.returncode == 0 and "ux-vm0" in p.stdout, p.stderr
        assert kanri("context", "set", "dead", "--url", "http://127.0.0.1:1").returncode == 0
        p = kanri("context", "list")
        assert p.stdout.splitlines()[0].split()[:3] == ["CURRENT", "NAME", "URL"], p.stdout
        assert "*" in [line.split()[0] for line in p.stdout.splitlines()[2:]
                       if line.split()[1:2] == ["lab"]], p.stdout
        # --context and KANRI_CONTEXT pick another; it has no kanrid.
        assert kanri("--context", "dead", "vm", "list").returncode == 3
        assert kanri("vm", "list", KANRI_CONTEXT="dead").returncode == 3
        # The command line and the environment win over the context.
        p = kanri("--context", "dead", "vm", "list", "--url", k.url, KANRI_TOKEN=k.token)
        assert p.returncode == 0, p.stderr
        assert kanri("vm", "list", KANRI_URL="http://127.0.0.1:1").returncode == 3
        p = kanri("context", "use", "dead")
        assert p.returncode == 0 and kanri("vm", "list").returncode == 3
        p = kanri("--context", "nope", "vm", "list")
        assert p.returncode == 2 and "no context 'nope'" in p.stderr
        assert kanri("context", "delete", "dead").returncode == 0
        # The current context gone, nothing is current: the default URL.
        p = kanri("vm", "list")
        assert p.returncode != 0 and "127.0.0.1:8470" in p.stderr, p.stderr
        p = kanri("context", "set", "bad name", "--url", k.url)
        assert p.returncode == 2


def test_bash_completion(k):
    bash = required_tool("bash", "bash")

    def complete(*words):
        line = " ".join(f"'{w}'" for w in words)
        script = (f"source {COMPLETION}/kanri.bash; COMP_WORDS=(kanri {line}); "
                  f"COMP_CWORD={len(words)}; _kanri; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        env = dict(os.environ, PATH=os.path.dirname(KANRI) + ":" + os.environ["PATH"],
                   KANRI_TOKEN=k.token)
        p = subprocess.run([bash, "-c", script], env=env, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout.split()
    assert {"vm", "host", "context", "report"} <= set(complete(""))
    assert complete("v") == ["vm"]
    assert complete("vm", "st") == ["start", "stats"]
    # VM names from kanrid, through the --url on the line.
    names = complete("--url", k.url, "vm", "start", "ux-vm1")
    assert sorted(names) == sorted(["ux-vm1"] + [f"ux-vm1{i}" for i in range(10)]), names
    assert complete("--url", k.url, "host", "show", "") == ["node"]
    assert sorted(complete("host", "maintenance", "node", "o")) == ["off", "on"]
    assert "--output" in complete("vm", "list", "--out")
    assert complete("vm", "list", "--ki") == ["--kind"]


def test_zsh_completion(k):
    zsh = required_tool("zsh", "zsh")
    # compadd exists only inside zsh's completion system: here it prints
    # what it was given.
    script = ("compadd() { [[ $1 == -a ]] && print -l -- ${(P)2} }; _files() { print FILES }; "
              "words=(kanri --url %s vm start ux-vm2); CURRENT=6; source %s/_kanri"
              % (k.url, COMPLETION))
    env = dict(os.environ, PATH=os.path.dirname(KANRI) + ":" + os.environ["PATH"],
               KANRI_TOKEN=k.token)
    p = subprocess.run([zsh, "-f", "-c", script], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert "ux-vm2" in p.stdout.split() and "FILES" not in p.stdout, p.stdout
