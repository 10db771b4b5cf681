"""The team overview in a real browser, on two roots: a local folder and an `ssh://` URL served by a real
OpenSSH server on 127.0.0.1 (tests/sshd.py). The server runs with HOME set to the sshd's temporary client
home, so asyncssh takes the key, known_hosts and config from there, as it would from a user's ~/.ssh.

The runs: lab-results/old1 (stopped 3 days ago), lab-results/done1 (finished 2 days ago), gpu-results/done2
(finished a day ago) and gpu-results/live7, appended by a writer thread while the tests run (real-time
timestamps, 2 step lines a second), read over SSH.

How the table is read: st.dataframe draws its cells on a canvas (glide-data-grid), but glide keeps an
accessible, offscreen `<table role="grid">` in the element's DOM, one `<th role="columnheader">` per column
and one `<td role="gridcell">` per cell of the columns in view, holding the cell's value (raw: `2000`, not
`2,000`). That table is what a screen reader reads, it is rebuilt whenever the grid's data changes, and it
does not depend on pixel positions: the tests read run, machine, state and step from it, by header name.
Only the row checkbox must be clicked on the canvas (a user's click; there is no DOM element for it): its
position comes from Streamlit's fixed grid geometry (a 35 px header, 35 px rows, the checkbox column first).
"""
from __future__ import annotations

import re
import socket
import threading
import time
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from radiodash.fleet import STATE_ORDER
from radiodash.simulate import SimConfig, write_run
from sshd import sshd  # noqa: F401 - pytest fixture

from .conftest import Server, shot
from .live_runs import FIRST_LOAD, age_files, metric

DAY = 86_400.0
HEADER_PX = ROW_PX = 35  # Streamlit's dataframe: header and row height
SUMMARY = "4 runs on 2 machines: 1 stopped · 1 live · 2 finished"

TABLE_JS = """el => {
    const table = el.querySelector('table[role=grid]');
    if (!table) return null;
    const heads = Object.fromEntries([...table.querySelectorAll('th[role=columnheader]')].map(
        th => [th.getAttribute('aria-colindex'), th.textContent]));
    return [...table.querySelectorAll('tbody tr[role=row]')].map(tr => {
        const row = {_index: Number(tr.getAttribute('aria-rowindex')) - 2};  // 1 is the header row
        tr.querySelectorAll('td[role=gridcell]').forEach(td => { row[heads[td.getAttribute('aria-colindex')]] = td.textContent; });
        return row; });
}"""


@pytest.fixture(scope="module")
def fleet_server(sshd, tmp_path_factory):
    """The server on a local root and an ssh:// root, with the live run being written all along."""
    top = tmp_path_factory.mktemp("overview")
    lab, gpu = top / "lab-results", top / "gpu-results"
    cfg = dict(train_num_steps=20_000, log_freq=100, save_and_sample_every=5_000, disc_start=10_001)
    now = time.time()
    for folder, extra, ago in ((lab / "old1", dict(stop_step=2_000), 3 * DAY), (lab / "done1", {}, 2 * DAY),
                               (gpu / "done2", {}, DAY)):
        write_run(folder, SimConfig(**cfg, **extra))
        age_files(folder, ago, now)
    stop = threading.Event()
    writer = threading.Thread(target=write_run, name="live7-writer", daemon=True, args=(
        gpu / "live7", SimConfig(train_num_steps=1_000_000, log_freq=100, save_and_sample_every=50_000,
                                 disc_start=500_001)), kwargs=dict(rate=2, realtime_timestamps=True, stop=stop))
    writer.start()
    deadline = time.monotonic() + 30
    while not list((gpu / "live7").glob("*_.log")) and time.monotonic() < deadline:
        time.sleep(0.05)
    srv = Server({"RADIODASH_ROOT": f"{lab} {sshd.url(gpu)}", "HOME": str(sshd.home),
                  "RADIODASH_OVERVIEW_INTERVAL": "1"})
    try:
        yield srv
    finally:
        stop.set()
        srv.stop()
        writer.join(30)
        assert "Traceback" not in srv.output(), srv.output()[-3000:]


def grid(page):
    return page.get_by_test_id("stDataFrame")


def rows(page) -> list[dict]:
    """The overview table's rows as the accessible grid exposes them (header name -> cell text)."""
    return grid(page).evaluate(TABLE_JS) or []


def table(page) -> dict[str, tuple[str, str, str]]:
    return {r["run"]: (r.get("machine"), r.get("state"), r.get("step")) for r in rows(page)}


def wait_for(what, check, timeout: float = 60.0, every: float = 0.25):
    """Poll `what()` until `check(value)` holds; the last value (a failed wait says what it saw)."""
    deadline = time.monotonic() + timeout
    value = what()
    while not check(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r}")
        time.sleep(every)
        value = what()
    return value


def summary_line(page):
    return page.get_by_test_id("stMarkdown").filter(has_text=re.compile(r"^\d+ runs? on \d+ machines?"))


def pill(page, group: str, name: str):
    return page.get_by_test_id("stButtonGroup").filter(has=page.get_by_text(group, exact=True)).get_by_role(
        "button", name=name, exact=True)


UNCOVERED_JS = """el => { const r = el.getBoundingClientRect();
    return el.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }"""


def tick_row(page, run: str) -> None:
    """Click the checkbox of `run`'s row, on the canvas, as a user does."""
    (index,) = [r["_index"] for r in rows(page) if r["run"] == run]
    grid(page).scroll_into_view_if_needed()
    box = grid(page).bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + HEADER_PX + ROW_PX * index + ROW_PX / 2)


@pytest.mark.parametrize("width", [1400, 800])
def test_the_overview_of_a_local_and_an_ssh_root(fleet_server, browser, width):
    host = socket.gethostname()  # a local root's machine
    ctx = browser.new_context(viewport={"width": width, "height": 1000})
    try:
        page = ctx.new_page()
        page.goto(fleet_server.url)  # the Live page with no run: the overview
        expect(page.get_by_role("heading", name="Runs")).to_be_visible(timeout=FIRST_LOAD)
        expect(summary_line(page)).to_have_text(SUMMARY, timeout=FIRST_LOAD)
        got = wait_for(lambda: table(page), lambda t: len(t) == 4)
        assert list(got) == ["lab-results/old1", "gpu-results/live7", "gpu-results/done2", "lab-results/done1"]
        assert got["lab-results/old1"] == (host, "stopped", "2000")
        assert got["lab-results/done1"] == (host, "finished", "19900")
        assert got["gpu-results/done2"] == ("127.0.0.1", "finished", "19900")
        assert got["gpu-results/live7"][:2] == ("127.0.0.1", "live")
        expect(page.get_by_text("Some runs may be missing")).to_have_count(0)
        # every pill can be seen and clicked where it is drawn (side by side, State's were cut off at 800 px)
        assert {name: pill(page, "State", name).evaluate(UNCOVERED_JS) for name in STATE_ORDER} == dict.fromkeys(STATE_ORDER, True)
        assert pill(page, "Machine", "127.0.0.1").evaluate(UNCOVERED_JS)
        shot(page, f"overview-{width}")

        # the live run's step moves on screen, with no reload
        step = int(got["gpu-results/live7"][2])
        for _ in range(2):
            step = int(wait_for(lambda: table(page).get("gpu-results/live7", (None,) * 3)[2] or "0",
                                lambda s: int(s) > step))
        assert table(page)["gpu-results/live7"][1] == "live"

        # a State pill: the rows and the address change
        pill(page, "State", "finished").click()
        expect(page).to_have_url(re.compile(r"[?&]ov_state=finished(&|$)"), timeout=30_000)
        wait_for(lambda: list(table(page)), lambda r: r == ["gpu-results/done2", "lab-results/done1"])
        expect(summary_line(page)).to_have_text(f"{SUMMARY} — 2 shown")
        shot(page, f"overview-{width}-finished")
        pill(page, "State", "finished").click()  # off again: every run
        wait_for(lambda: len(table(page)), lambda n: n == 4)
        assert "ov_state" not in page.url
        # a Machine pill: only the SSH host's runs
        pill(page, "Machine", "127.0.0.1").click()
        expect(page).to_have_url(re.compile(r"[?&]ov_machine=127\.0\.0\.1(&|$)"), timeout=30_000)
        wait_for(lambda: list(table(page)), lambda r: r == ["gpu-results/live7", "gpu-results/done2"])
        pill(page, "Machine", "127.0.0.1").click()
        wait_for(lambda: len(table(page)), lambda n: n == 4)

        # ticking the SSH run's row opens its Live page, read over SSH
        tick_row(page, "gpu-results/live7")
        expect(page.get_by_role("heading", name="live7", exact=True)).to_be_visible(timeout=FIRST_LOAD)
        assert parse_qs(urlparse(page.url).query)["run"] == ["gpu-results/live7"]
        latest = metric(page, "Latest step")
        expect(latest).to_have_text(re.compile(r"^\d[\d,]*$"), timeout=FIRST_LOAD)
        expect(page.get_by_text(re.compile(r"1 launch\(es\) · [\d,]+ step records"))).to_be_visible()
        expect(page.locator(".stMarkdownBadge").first).to_have_text(re.compile(r"live$"))
        first = int(latest.inner_text().replace(",", ""))
        expect(latest).not_to_have_text(f"{first:,}", timeout=30_000)  # still live, over SSH
        shot(page, f"overview-{width}-ssh-live-page")

        # the Overview page of its own, filtered from its address
        page.goto(f"{fleet_server.url}/overview?ov_state=stopped&ov_state=live")
        expect(summary_line(page)).to_have_text(f"{SUMMARY} — 2 shown", timeout=FIRST_LOAD)
        assert list(wait_for(lambda: table(page), lambda t: len(t) == 2)) == ["lab-results/old1", "gpu-results/live7"]
    finally:
        ctx.close()


def picker(page) -> list[str]:
    """What the sidebar's run picker shows (a list: while a run's page replaces another, two may be there for an instant)."""
    return page.evaluate("""() => [...document.querySelectorAll('[data-testid=stSidebar] input[aria-label="Run"]')]
                            .map(i => i.value)""")


def test_a_ticked_row_opens_that_run_whatever_the_picker_held(fleet_server, browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        crashes: list[str] = []  # the browser's uncaught errors ("Bad delta path index" blanked the page)
        page.on("pageerror", lambda e: crashes.append(str(e)))
        page.goto(fleet_server.url)
        wait_for(lambda: len(table(page)), lambda n: n == 4, timeout=FIRST_LOAD / 1000)
        tick_row(page, "gpu-results/live7")
        expect(page.get_by_role("heading", name="live7", exact=True)).to_be_visible(timeout=FIRST_LOAD)
        wait_for(lambda: picker(page), lambda v: len(v) == 1 and v[0].startswith("gpu-results/live7 · live"), 30)
        # in the same session, live7 in the picker: the Overview page, and another row ticked
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Overview").click()
        expect(summary_line(page)).to_have_text(SUMMARY, timeout=FIRST_LOAD)
        wait_for(lambda: len(table(page)), lambda n: n == 4)
        tick_row(page, "lab-results/old1")
        wait_for(lambda: picker(page), lambda v: len(v) == 1 and v[0].startswith("lab-results/old1 · stopped"), 30)
        # the picker moves first; the page's run is read after it (a cold run on a loaded CI machine: seconds)
        expect(page.get_by_role("heading", name="old1", exact=True)).to_be_visible(timeout=FIRST_LOAD)
        expect(metric(page, "Latest step")).to_have_text("2,000", timeout=FIRST_LOAD)
        assert parse_qs(urlparse(page.url).query)["run"] == ["lab-results/old1"]
        page.wait_for_timeout(6_000)  # past the picker's next redraw (5 s): a stale picker took it back to live7
        assert parse_qs(urlparse(page.url).query)["run"] == ["lab-results/old1"]
        expect(page.get_by_role("heading", name="old1", exact=True)).to_be_visible()
        shot(page, "overview-1400-second-tick")
        assert not crashes
    finally:
        ctx.close()
