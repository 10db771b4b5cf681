"""The step range, as the user sees it: every step-axis chart of the page (read from Plotly's live state)
shows exactly the chosen steps, every panel draws only those steps, and the CSV download holds only them."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from playwright.sync_api import expect

from .conftest import shot
from .live_runs import FIRST_LOAD, charts, metric, plain_title, stage1

STEP_PANELS = {"Overlay", "total_loss", "kl_loss", "nll_loss", "rec_loss", "g_loss", "Discriminator",
               "Learning rate", "Loss decomposition"}


def test_the_step_range_is_every_step_charts_range_and_the_csvs(servers, root, context):
    stage1(root / "range1", stop_step=15_000)  # with its event files: metric panels draw every step too
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/?run=range1&from=4000&until=12000")
    expect(metric(page, "Latest step")).to_have_text("15,000", timeout=FIRST_LOAD)
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {len(STEP_PANELS) + 1}",
                           timeout=FIRST_LOAD)
    seen = {}
    for c in charts(page):
        title = plain_title(c["title"])
        for name, axis in c["axes"].items():
            if name.startswith("xaxis") and axis["title"] in ("step", None) and "by phase" not in title:
                seen.setdefault(title, []).append(axis["range"])
    assert STEP_PANELS <= set(seen), sorted(seen)
    for title, rngs in seen.items():
        assert all(r == [4000, 12000] for r in rngs), (title, rngs)
    # what each chart draws lies in the range (the exact lr of step s + 1 sits at s + 1)
    drawn = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .filter(g => !g._fullLayout.title.text.includes('by phase'))
        .map(g => [g._fullLayout.title.text, g._fullData.map(t => t.x && t.x.length
            ? [Math.min(...Array.from(t.x)), Math.max(...Array.from(t.x))] : null)])""")
    for title, spans in drawn:
        for span in spans:
            assert span is None or (span[0] >= 4000 and span[1] <= 12000), (title, span)
    expect(page.get_by_role("heading", name="Phases (steps 4,000 to 12,000)")).to_be_visible()
    shot(page, "live-step-range")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Steps in view as CSV (steps 4,000 to 12,000)").click()
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert [int(r["step"]) for r in rows] == list(range(4_000, 12_001, 100))
    assert dl.value.suggested_filename == "range1-steps-4000-12000.csv"
