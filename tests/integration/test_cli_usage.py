"""Usage of the kanri command-line client, without a server.

Checks that --help works at every level and names every command, that
usage errors exit 2 with a hint, and that an unreachable server exits 3
naming the URL.  Needs only the built binary: set KANRI_BUILD_DIR to the
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
    "snapshot": ["list", "create", "revert", "delete"],
    "changes": None,
    "audit": None,
    "token": ["create", "list", "revoke"],
    "pool": ["list"],
    "network": ["list"],
}


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
    ["token", "create", "ci"],
    ["token", "create", "ci", "--role", "root"],
    ["changes", "--limit", "0"],
    ["changes", "--limit", "many"],
    ["--timeout", "0", "vm", "list"],
    ["--url", "ftp://127.0.0.1:8470", "vm", "list"],
    ["--url", "https://127.0.0.1:8470", "--pin", "sha256//short", "vm", "list"],
    ["--url", "not-a-url", "vm", "list"],
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
