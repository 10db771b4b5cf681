"""Notifications from the dashboard server itself: a real `streamlit run` with RADIODASH_NOTIFY, a real local
receiver, headless Chromium. The URLs (with a password in them) never reach the page, the server log or a message."""
from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect

from .conftest import Server, shot
from .logwriter import append, step, write_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from radiodash.notify.state import read_last_scan  # noqa: E402
from receivers import JsonReceiver, free_port  # noqa: E402

FIRST_LOAD = 45_000
PASSWORD = "Pw-S3cret-E2E-9034"


def test_the_server_notifies_links_the_view_and_never_shows_a_url(context):
    # a root of its own: the watcher notifies about every run under its root, and a run another browser test
    # left in the shared root going stalled mid-test once took the place of the test notification (CI)
    root = Path(tempfile.mkdtemp(prefix="radiodash-e2e-notify-"))
    receiver = JsonReceiver().start()
    down = free_port()  # a second target nobody answers at
    urls = [receiver.url(user="bot", password=PASSWORD), f"json://bot:{PASSWORD}@127.0.0.1:{down}/down"]
    state = Path(tempfile.mkdtemp(prefix="radiodash-e2e-state-"))
    log = write_run(root / "notify1", range(0, 1_000, 100))
    srv = Server({"RADIODASH_ROOT": str(root), "RADIODASH_NOTIFY": " ".join(urls), "RADIODASH_NOTIFY_STATE": str(state),
                  "RADIODASH_NOTIFY_INTERVAL": "1"})
    try:
        page = context.new_page()
        page.goto(f"{srv.url}/?run=notify1")
        panel = page.get_by_text("Notifications on: to 2 targets.")
        expect(panel).to_be_visible(timeout=FIRST_LOAD)  # the first page view started the watcher
        deadline = time.monotonic() + 60
        while read_last_scan(state) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert read_last_scan(state) is not None
        append(log, [1_000])
        with open(log, "a") as f:  # the run diverges
            f.write(re.sub(r"train/rec_loss: [0-9.]+", "train/rec_loss: nan", step(1_100)))
        got = receiver.wait_for(lambda m: len(m) >= 1, timeout=60)
        assert [m["title"] for m in got] == ["RadioDash: notify1: error non_finite_loss"]
        link = got[0]["message"].splitlines()[-1].removeprefix("Open: ")
        # the server's own address (it listens on 127.0.0.1), the run, the metric that went non-finite
        assert link == f"{srv.url}/?run=notify1&metrics=train%2Frec_loss&from=0"

        page.get_by_role("button", name="Send a test notification").click()
        expect(page.get_by_text("Test notification taken by 1 of 2 targets; not taken by target(s) 2")).to_be_visible(
            timeout=30_000)
        shot(page, "notifications-panel")
        html = page.content()

        view = context.new_page()  # the link from the message opens the run, with the alert's metric chosen
        view.goto(link)
        expect(view.get_by_role("heading", name="notify1")).to_be_visible(timeout=FIRST_LOAD)
        expect(view.get_by_test_id("stMultiSelect").get_by_text("train/rec_loss")).to_be_visible(timeout=10_000)
        html += view.content()
        assert receiver.wait_for(lambda m: len(m) >= 2, timeout=30)[1]["title"] == "RadioDash: test notification"
    finally:
        srv.stop()
        receiver.stop()
    server_log = srv.output()
    assert f"json://bot:****@127.0.0.1:{down}/down" in server_log  # the failed test was logged, masked
    for text in (html, server_log, *(m["title"] + m["message"] for m in receiver.received())):
        assert PASSWORD not in text and not any(u in text for u in urls)
