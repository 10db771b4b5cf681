"""Zoom and pan survive live redraws, on every kind of chart, until a double-click: the user box-zooms
with the mouse, lines arrive, the page redraws several times, and each chart's axes (read from Plotly's
live state in the page) still show the zoomed range."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from .conftest import shot
from .live_runs import FIRST_LOAD, box_zoom, chart, metric
from .logwriter import append, write_run

ZOOMED = ("Overlay", "rec_loss", "Discriminator", "Learning rate", "Loss decomposition")

#: The axes' ranges of the first of the matching charts that Plotly has drawn: while Streamlit swaps a chart for
#: its redrawn successor, the old element (purged: no `_fullLayout`) can still be in the page for a moment.
RANGES_JS = """(gs) => { const g = gs.find(g => g._fullLayout); return g ? Object.fromEntries(
    Object.keys(g._fullLayout).filter(k => /^[xy]axis\\d*$/.test(k)).map(k => [k, g._fullLayout[k].range.slice()]))
    : null }"""


def ranges(page, title: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = chart(page, title, first=False).evaluate_all(RANGES_JS)
        if got is not None or time.monotonic() > deadline:
            assert got is not None, f"no drawn chart titled {title}"
            return got
        time.sleep(0.1)


def mark_charts(page) -> None:
    page.evaluate("() => document.querySelectorAll('.js-plotly-plot').forEach(g => { g.__seen = true })")


#: Every chart on the page is a new one since `mark_charts` (Streamlit mounts a new chart per new figure).
REDRAWN_JS = """() => { const g = [...document.querySelectorAll('.js-plotly-plot')];
                        return g.length >= 5 && g.every(x => !x.__seen) }"""


def same(a: dict, b: dict) -> bool:
    """The same axes with the same ranges (numbers to 1e-9 relative; date strings exactly)."""
    return a.keys() == b.keys() and all(
        x == y if isinstance(x, str) else x == pytest.approx(y, rel=1e-9, abs=1e-12)
        for k in a for x, y in zip(a[k], b[k]))


def test_box_zoom_survives_live_redraws_until_a_double_click(servers, root, context):
    log = write_run(root / "zoom1", range(0, 3_000, 100), disc_start=1_501, total=30_000)
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/?run=zoom1")
    expect(metric(page, "Latest step")).to_have_text("2,900", timeout=FIRST_LOAD)
    for title in ZOOMED:
        expect(chart(page, title)).to_be_attached(timeout=FIRST_LOAD)
    full = {t: ranges(page, t) for t in ZOOMED}
    zoomed = {}
    for title in ZOOMED:
        box_zoom(page, chart(page, title))
        page.wait_for_function("([a, b]) => JSON.stringify(a) !== JSON.stringify(b)", arg=[full[title], None])
        time.sleep(0.3)
        zoomed[title] = ranges(page, title)
        assert zoomed[title]["xaxis"] != full[title]["xaxis"], title
    time.sleep(1.5)  # the zoom reaches the server (one rerun)
    for title in ZOOMED:
        assert same(ranges(page, title), zoomed[title]), title
    step = 3_000
    for _ in range(3):  # three live redraws: new lines, a new figure for every chart
        mark_charts(page)
        append(log, range(step, step + 300, 100), disc_start=1_501, total=30_000)
        step += 300
        expect(metric(page, "Latest step")).to_have_text(f"{step - 100:,}", timeout=15_000)
        page.wait_for_function(REDRAWN_JS, timeout=15_000)
        time.sleep(0.5)
        for title in ZOOMED:
            assert same(ranges(page, title), zoomed[title]), (title, ranges(page, title), zoomed[title])
    shot(page, "live-zoom-kept")
    # a double-click resets that chart: its x axis shows every step again, through the next redraws
    target = chart(page, "rec_loss")
    target.scroll_into_view_if_needed()
    box = target.locator(".nsewdrag").first.bounding_box()
    page.mouse.dblclick(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')].some(g =>
        g._fullLayout.title.text.startsWith('rec_loss') && !g._fullLayout.title.text.includes('phase')
        && g._fullLayout.xaxis.range[1] >= 3800)""", timeout=10_000)
    mark_charts(page)
    append(log, range(step, step + 200, 100), disc_start=1_501, total=30_000)
    expect(metric(page, "Latest step")).to_have_text(f"{step + 100:,}", timeout=15_000)
    page.wait_for_function(REDRAWN_JS, timeout=15_000)
    time.sleep(0.5)
    reset = ranges(page, "rec_loss")["xaxis"]
    assert reset[0] <= 0 and reset[1] >= step + 100
    assert same(ranges(page, "Overlay"), zoomed["Overlay"])  # the others keep theirs
