"""Real-browser fixtures: a real `streamlit run app.py` server per configuration, headless Debian Chromium."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` with the given RADIODASH_* environment, stopped at teardown."""

    def __init__(self, env: dict[str, str], app: Path | None = None, address: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = {k: v for k, v in os.environ.items()
                if not k.startswith("RADIODASH_") and k not in ("NUMBA_BOUNDSCHECK", "NUMBA_CACHE_DIR")}
        full.update(env)
        self.log = tempfile.NamedTemporaryFile(prefix="streamlit-", suffix=".log", delete=False)
        cmd = [sys.executable, "-m", "streamlit", "run", str(app or REPO / "app.py"), "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", address, "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=full, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("streamlit exited: " + Path(self.log.name).read_text()[-2000:])
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("streamlit did not become healthy")
            time.sleep(0.1)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


@pytest.fixture(scope="session")
def servers():
    """Factory: one server per distinct environment, shared by the tests that need it."""
    running: dict[tuple, Server] = {}

    def get(**env: str) -> Server:
        key = tuple(sorted(env.items()))
        if key not in running:
            running[key] = Server(env)
        return running[key]

    yield get
    for s in running.values():
        s.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: scripts/install-chromium.sh should have installed it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield ctx
    ctx.close()


@pytest.fixture(scope="session")
def root():
    """A results root shared by the browser tests (each test writes its own run folder in it)."""
    d = Path(tempfile.mkdtemp(prefix="radiodash-e2e-"))
    (d / "runs").mkdir()
    (d / "secret.log").write_text("E2E-SECRET-BYTES-0451\n")
    (d / "runs" / "escape.log").symlink_to(d / "secret.log")
    yield d / "runs"
    shutil.rmtree(d, ignore_errors=True)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
