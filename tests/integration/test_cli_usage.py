"""Usage of the kanri command-line client, without a server.

Checks that --help works at every level and names every command, that
usage errors exit 2 with a hint, that the arguments the checks must accept
do reach the network, and that an unreachable server exits 3 naming the
URL.  Needs only the built binary: set KANRI_BUILD_DIR to the
Meson build directory (default "build", relative to the repository root).
"""

import os
import socket
from pathlib import Path

import pytest
from kanri_harness import run as harness_run

ROOT = Path(__file__).resolve().parents[2]

# Every noun with its verbs; None marks a noun that is a command by itself.
COMMANDS = {
    "host": ["list", "show"],
    "vm": ["list", "show", "start", "shutdown", "reboot", "destroy", "suspend",
           "resume", "undefine", "setmem", "setvcpus", "migrate", "define"],
    "ct": ["list", "show", "create", "start", "stop", "kill", "reboot", "freeze", "thaw", "rm",
           "limits"],
    "snapshot": ["list", "create", "revert", "delete"],
    "changes": None,
    "audit": None,
    "token": ["create", "list", "revoke"],
    "pool": ["list"],
    "network": ["list"],
    "findings": None,
    "fleet": None,
    "agent": ["enroll", "list"],
    "ready": None,
    "server": None,
    # the operations record
    "events": None,
    "incidents": ["list", "show", "ack", "resolve", "comment", "link"],
    "problems": ["list", "show", "create", "update"],
    "maintenance": ["list", "add", "delete"],
    "rules": ["list", "set", "delete"],
    "relations": None,
    "impact": None,
}
COMMANDS["vm"].append("stats")

# Nouns that run their list verb when given without one.
IMPLIED_LIST = ("incidents", "problems", "maintenance", "rules")


def kanri_path():
    build = Path(os.environ.get("KANRI_BUILD_DIR", "build"))
    if not build.is_absolute():
        build = ROOT / build
    exe = build / "src" / "cli" / "kanri"
    if not exe.exists():
        pytest.skip(f"{exe} is not built")
    return exe


def run(*args, env_extra=None, timeout=30):
    env = {k: v for k, v in os.environ.items()
           if k not in ("KANRI_URL", "KANRI_TOKEN", "KANRI_STATE_DIR")}
    # A state dir with no token in it, so no real admin token is ever read.
    env["KANRI_STATE_DIR"] = "/nonexistent/kanri-test"
    env.update(env_extra or {})
    return harness_run([str(kanri_path()), *args], capture_output=True,
                       text=True, env=env, timeout=timeout)


def free_port():
    """A local port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_top_help_names_every_command():
    for flag in ("--help", "-h"):
        r = run(flag)
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
        for noun, verbs in COMMANDS.items():
            for verb in verbs or [None]:
                words = noun if verb is None else f"{noun} {verb}"
                assert f"  {words}" in r.stdout, f"'{words}' missing from kanri {flag}"
        for option in ("--url", "--token", "--json", "--timeout", "--cacert", "--pin",
                       "--version"):
            assert option in r.stdout


@pytest.mark.parametrize("noun", [n for n, v in COMMANDS.items() if v])
def test_noun_help_names_its_verbs(noun):
    r = run(noun, "--help")
    assert r.returncode == 0, r.stderr
    for verb in COMMANDS[noun]:
        assert f"{noun} {verb}" in r.stdout
    # Only this noun's commands are listed.
    for other in COMMANDS:
        if other != noun and COMMANDS[other]:
            assert f"\n  {other} " not in r.stdout


@pytest.mark.parametrize("words", [
    [noun] + ([verb] if verb else [])
    for noun, verbs in COMMANDS.items() for verb in (verbs or [None])
], ids=lambda w: " ".join(w))
def test_verb_help(words):
    r = run(*words, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage:")
    assert "kanri [OPTION…] " + " ".join(words) in r.stdout
    assert "--url" in r.stdout


def test_verb_help_lists_verb_options():
    r = run("vm", "setmem", "--help")
    assert "--config" in r.stdout and "SIZE" in r.stdout
    r = run("vm", "shutdown", "-h")
    assert "--force" in r.stdout and "--timeout" in r.stdout
    r = run("changes", "--help")
    assert "--limit" in r.stdout and "--diff" in r.stdout
    r = run("token", "create", "--help")
    assert "--role" in r.stdout
    r = run("events", "--help")
    for option in ("--item", "--kind", "--severity", "--since", "--incident", "--limit"):
        assert option in r.stdout, option
    r = run("incidents", "list", "--help")
    assert "--state" in r.stdout and "--severity" in r.stdout and "--item" in r.stdout
    for verb in ("ack", "resolve"):
        r = run("incidents", verb, "--help")
        assert "-m, --message" in r.stdout
    r = run("problems", "update", "--help")
    for option in ("--title", "--root-cause", "--known-error", "--workaround", "--state"):
        assert option in r.stdout, option
    r = run("maintenance", "add", "--help")
    for option in ("--from", "--to", "--for", "--why", "host:NAME"):
        assert option in r.stdout, option
    r = run("rules", "set", "--help")
    for option in ("--kind", "--metric", "--view", "--op", "--value", "--for",
                   "--severity", "--scope", "--disabled"):
        assert option in r.stdout, option


@pytest.mark.parametrize("noun", IMPLIED_LIST)
def test_noun_alone_runs_list(noun):
    # --help still describes the noun and its commands ...
    r = run(noun, "--help")
    assert r.returncode == 0
    assert f"  {noun} list" in r.stdout
    assert f"Without a command: 'kanri {noun} list'" in r.stdout
    # ... while the noun alone lists, which needs the server.
    url = f"http://127.0.0.1:{free_port()}"
    r = run(noun, "--url", url)
    assert r.returncode == 3, r.stderr
    assert url in r.stderr


def test_help_after_arguments():
    r = run("vm", "setmem", "web1", "512M", "--help")
    assert r.returncode == 0
    assert "vm setmem VM SIZE" in r.stdout


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("kanri ")


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["vm"],
    ["vm", "frobnicate"],
    ["vm", "frobnicate", "--help"],
    ["vm", "list", "--no-such-option"],
    ["vm", "show"],
    ["vm", "show", "a", "b"],
    ["vm", "setmem", "web1", "lots"],
    ["vm", "setmem", "web1", "0"],
    ["vm", "setvcpus", "web1", "0"],
    ["vm", "shutdown", "web1", "--timeout", "0"],
    ["ct"],
    ["ct", "frobnicate"],
    ["ct", "create", "node1"],
    ["ct", "create", "node1", "c1", "--memory", "lots"],
    ["ct", "create", "node1", "c1", "--cpus", "half"],
    ["ct", "create", "node1", "c1", "--cpus", "0.0005"],
    ["ct", "create", "node1", "c1", "--cpu-weight", "10001"],
    ["ct", "create", "node1", "c1", "--pids", "-1"],
    ["ct", "stop", "c1", "--timeout", "0"],
    ["ct", "limits", "c1"],
    ["ct", "limits", "c1", "--memory", "-1"],
    ["ct", "limits", "c1", "--cpus", "1025"],
    ["token", "create", "ci"],
    ["token", "create", "ci", "--role", "root"],
    ["changes", "--limit", "0"],
    ["changes", "--limit", "many"],
    ["--timeout", "0", "vm", "list"],
    ["--url", "ftp://127.0.0.1:8470", "vm", "list"],
    ["--url", "https://127.0.0.1:8470", "--pin", "sha256//short", "vm", "list"],
    ["--url", "not-a-url", "vm", "list"],
    # the operations record
    ["events", "web1"],
    ["events", "--severity", "high"],
    ["events", "--since", "yesterday"],
    ["events", "--since", "2026-11-26T10:00:00"],
    ["events", "--limit", "0"],
    ["events", "--incident", "0"],
    ["events", "--incident", "twelve"],
    ["incidents", "frobnicate"],
    ["incidents", "--state", "closed"],
    ["incidents", "list", "--severity", "high"],
    ["incidents", "list", "--limit", "0"],
    ["incidents", "list", "12"],
    ["incidents", "show"],
    ["incidents", "show", "abc"],
    ["incidents", "show", "0"],
    ["incidents", "show", "1", "2"],
    ["incidents", "ack"],
    ["incidents", "ack", "x1"],
    ["incidents", "ack", "1", "-m"],
    ["incidents", "resolve", "1.5"],
    ["incidents", "comment", "1"],
    ["incidents", "comment", "1", ""],
    ["incidents", "link", "1"],
    ["incidents", "link", "1", "some"],
    ["incidents", "link", "none", "1"],
    ["problems", "show"],
    ["problems", "show", "p1"],
    ["problems", "create"],
    ["problems", "create", "--title", ""],
    ["problems", "create", "--title", "disk", "--state", "done"],
    ["problems", "update", "1"],
    ["problems", "update", "x", "--state", "open"],
    ["problems", "update", "1", "--state", "known_error"],
    ["maintenance", "add"],
    ["maintenance", "add", "node1", "--for", "2h", "--why", "kernel"],
    ["maintenance", "add", "host:", "--for", "2h", "--why", "kernel"],
    ["maintenance", "add", "host:node1", "--why", "kernel"],
    ["maintenance", "add", "host:node1", "--for", "2h", "--to", "2026-11-26T12:00:00Z",
     "--why", "kernel"],
    ["maintenance", "add", "host:node1", "--for", "2h"],
    ["maintenance", "add", "host:node1", "--for", "2h", "--why", ""],
    ["maintenance", "add", "host:node1", "--for", "soon", "--why", "kernel"],
    ["maintenance", "add", "host:node1", "--to", "tomorrow", "--why", "kernel"],
    ["maintenance", "add", "host:node1", "--from", "2026-11-26T12:00:00Z",
     "--to", "2026-11-26T10:00:00Z", "--why", "kernel"],
    ["maintenance", "delete"],
    ["maintenance", "delete", "x"],
    ["rules", "set"],
    ["rules", "set", "cpu-high"],
    ["rules", "set", "cpu-high", "--kind", "average"],
    ["rules", "set", "cpu-high", "--kind", "threshold", "--metric", "cpu_busy"],
    ["rules", "set", "cpu-high", "--kind", "threshold", "--metric", "cpu_busy",
     "--view", "vm", "--op", ">", "--value", "90"],
    ["rules", "set", "cpu-high", "--kind", "threshold", "--metric", "cpu_busy",
     "--view", "host", "--op", "=", "--value", "90"],
    ["rules", "set", "cpu-high", "--kind", "threshold", "--metric", "cpu_busy",
     "--view", "host", "--op", ">", "--value", "ninety"],
    ["rules", "set", "cpu-high", "--kind", "threshold", "--metric", "cpu_busy",
     "--view", "host", "--op", ">", "--value", "90", "--severity", "high"],
    ["rules", "set", "pool", "--kind", "pool-full"],
    ["rules", "set", "pool", "--kind", "pool-full", "--value", "0"],
    ["rules", "set", "pool", "--kind", "pool-full", "--value", "24", "--for", "8d"],
    ["rules", "set", "pool", "--kind", "pool-full", "--value", "24", "--for", "later"],
    ["rules", "set", "pool", "--kind", "pool-full", "--value", "24", "--scope", "node1"],
    ["rules", "set", "bad name", "--kind", "pool-full", "--value", "24"],
    ["rules", "set", "x" * 65, "--kind", "pool-full", "--value", "24"],
    ["rules", "delete"],
    ["rules", "delete", "a/b"],
    ["relations"],
    ["relations", "web1"],
    ["relations", "vm:"],
    ["relations", "a:b", "c"],
    ["impact", "disk:node1/vda"],
])
def test_usage_errors_exit_2(args):
    r = run(*args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("kanri: ")
    assert "--help" in r.stderr


def test_unknown_verb_message():
    r = run("vm", "frobnicate")
    assert "unknown command 'frobnicate'" in r.stderr
    assert "kanri vm --help" in r.stderr


def test_unreachable_server_exits_3():
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["--url", url, "vm", "list"], ["vm", "list", "--url", url]):
        r = run(*args)
        assert r.returncode == 3, r.stderr
        assert url in r.stderr
        assert r.stdout == ""


def test_unreachable_server_from_environment():
    url = f"http://127.0.0.1:{free_port()}"
    r = run("host", "list", env_extra={"KANRI_URL": url, "KANRI_TOKEN": "x"})
    assert r.returncode == 3
    assert url in r.stderr


def test_action_unreachable_exits_3():
    url = f"http://127.0.0.1:{free_port()}"
    r = run("--url", url, "vm", "start", "web1")
    assert r.returncode == 3
    assert url in r.stderr


@pytest.mark.parametrize("args", [
    ["events"],
    ["events", "--since", "2h", "--severity", "warning", "--kind", "vm.",
     "--item", "host:node1", "--incident", "12", "--limit", "50"],
    ["events", "--since", "2026-11-26T10:00:00+09:00"],
    ["incidents"],
    ["incidents", "--state", "all", "--severity", "critical"],
    ["incidents", "show", "12"],
    ["incidents", "ack", "12", "-m", "on it"],
    ["incidents", "resolve", "12"],
    ["incidents", "comment", "12", "rebooted node1"],
    ["incidents", "link", "12", "3"],
    ["incidents", "link", "12", "none"],
    ["problems"],
    ["problems", "show", "3"],
    ["problems", "create", "--title", "pool fills up", "--workaround", "prune snapshots"],
    ["problems", "update", "3", "--state", "known-error", "--root-cause", "cron job"],
    ["maintenance"],
    ["maintenance", "add", "host:node1", "--for", "2h", "--why", "kernel update"],
    ["maintenance", "add", "vm:web*", "--from", "2026-11-26T22:00:00Z",
     "--to", "2026-11-27T09:00:00+09:00", "--why", "db migration"],
    ["maintenance", "add", "all", "--to", "2026-11-26T22:00:00Z", "--why", "move"],
    ["maintenance", "delete", "7"],
    ["rules"],
    ["rules", "set", "cpu-high", "--kind", "threshold", "--metric", "cpu_busy",
     "--view", "reconciled", "--op", ">=", "--value", "90", "--for", "5m",
     "--severity", "major", "--scope", "all"],
    ["rules", "set", "cpu.low", "--kind", "threshold", "--metric", "cpu_busy",
     "--view", "guest", "--op", "<", "--value", "-0.5", "--for", "0", "--disabled"],
    ["rules", "set", "pool_full", "--kind", "pool-full", "--value", "24",
     "--scope", "pool:node1/*"],
    ["rules", "delete", "cpu-high"],
    ["relations", "pool:node1/default"],
    ["impact", "host:node1"],
    ["impact", "network:node1/default"],
], ids=lambda a: " ".join(a))
def test_operations_arguments_reach_the_server(args):
    """Arguments the checks must accept: the command goes on to connect
    (exit 3 against a port nobody listens on), so none is refused early."""
    url = f"http://127.0.0.1:{free_port()}"
    r = run("--url", url, *args)
    assert r.returncode == 3, (args, r.stderr)
    assert url in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("args", [
    ["ct", "list", "--host", "node1"],
    ["ct", "create", "node1", "c1"],
    ["ct", "create", "node1", "c1", "--template", "busybox", "--memory", "128M", "--cpus", "0.5",
     "--cpu-weight", "100", "--pids", "64", "--start"],
    ["ct", "limits", "c1", "--memory", "0", "--cpus", "0", "--pids", "0", "--cpu-weight", "0"],
    ["ct", "limits", "c1", "--cpus", "2.25"],
    ["ct", "stop", "c1", "--timeout", "5", "--force"],
    ["ct", "freeze", "c1"],
    ["ct", "show", "node1:c1"],
], ids=lambda a: " ".join(a))
def test_ct_arguments_reach_the_server(args):
    url = f"http://127.0.0.1:{free_port()}"
    r = run("--url", url, *args)
    assert r.returncode == 3, (args, r.stderr)
    assert url in r.stderr


def test_ct_usage_messages():
    r = run("ct", "create", "node1", "c1", "--memory", "lots")
    assert "invalid --memory 'lots'" in r.stderr and "128M" in r.stderr
    assert "kanri ct create --help" in r.stderr
    r = run("ct", "limits", "c1")
    assert "at least one of --memory, --cpus" in r.stderr
    r = run("ct", "create", "--help")
    for option in ("--template", "--memory", "--cpus", "--cpu-weight", "--pids", "--start"):
        assert option in r.stdout, option
    r = run("ct", "stop", "--help")
    assert "--timeout" in r.stdout and "--force" in r.stdout


def test_operations_usage_messages():
    r = run("incidents", "--state", "closed")
    assert "invalid state 'closed'" in r.stderr
    assert "kanri incidents list --help" in r.stderr
    r = run("maintenance", "add", "host:node1", "--why", "x")
    assert "--to TIME or --for DURATION" in r.stderr
    r = run("rules", "set", "cpu", "--kind", "threshold")
    assert "--metric, --view, --op and --value" in r.stderr
    r = run("relations", "web1")
    assert "vm:UUID" in r.stderr
    r = run("incidents", "frobnicate")
    assert "unknown command 'frobnicate'" in r.stderr
