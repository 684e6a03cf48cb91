"""Runs the browser scenarios of tests/browser/scenarios.mjs (node,
Playwright, Debian's Chromium) against a kanrid of the test harness."""
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("KANRI_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
SHOTS = os.path.join(BUILD, "browser-screenshots")


def scenario(k, name, args=None, token=None, on_line=None, timeout=240):
    """Runs scenario NAME against kanrid K; fails the test with its output
    when it fails.  ON_LINE(line, proc) sees each line it prints."""
    env = dict(os.environ, KANRI_URL=k.url, KANRI_TOKEN=token or k.token, KANRI_SHOTS=SHOTS,
               KANRI_ARGS=json.dumps(args or {}))
    proc = subprocess.Popen(["node", os.path.join(HERE, "run.mjs"), name], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = []
    for line in proc.stdout:
        out.append(line)
        if on_line:
            on_line(line.strip(), proc)
    rc = proc.wait(timeout=timeout)
    assert rc == 0, f"scenario {name} failed:\n{''.join(out)}\n--- kanrid log ---\n{k.log[-5000:]}"
    return "".join(out)
