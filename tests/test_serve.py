"""`python -m radiodash serve --token-file F` as an operator runs it: a real server, real HTTP."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from e2e.logwriter import write_run
from radiodash.ui import access

REPO = Path(__file__).resolve().parents[1]
TOKEN = "tok-7f3a9c1e-never-in-ps"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, path: str, cookie: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    reply = conn.getresponse()
    reply.read()
    conn.close()
    return reply


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "root"
    write_run(root / "runA", range(0, 500, 100))
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RADIODASH_") and k not in ("NUMBA_BOUNDSCHECK", "NUMBA_CACHE_DIR")}
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "radiodash", "serve", "--root", str(root), "--token-file",
                             str(token_file), "--port", str(port), "--address", "127.0.0.1"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            try:
                if request(port, "/_stcore/health").status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not become healthy"
            time.sleep(0.2)
        yield proc, port
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
        log.close()


@pytest.mark.slow
def test_serve_keeps_the_token_out_of_ps_and_guards_metrics(served):
    proc, port = served
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    cmdlines = [" ".join(p.cmdline()) for p in tree]
    assert any("streamlit" in c for c in cmdlines), cmdlines  # the server itself is in the tree
    assert not any(TOKEN in c for c in cmdlines), cmdlines
    assert request(port, "/_stcore/metrics").status == 403
    wrong = request(port, "/?run=runA&token=nope")
    assert wrong.status == 303 and wrong.getheader("Location") == "/?run=runA"
    right = request(port, f"/?run=runA&token={TOKEN}")
    assert right.status == 303 and right.getheader("Location") == "/?run=runA"
    cookie = next(c.split(";")[0] for c in right.headers.get_all("Set-Cookie") if c.startswith(access.COOKIE))
    assert TOKEN not in cookie
    assert request(port, "/_stcore/metrics", cookie=cookie).status == 200
