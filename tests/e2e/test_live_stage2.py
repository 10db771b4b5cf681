"""A diffusion-stage (stage 2) run, first-class: its learning rate on its own scale (2e-05 reads as 2e-05,
never as 0 on a -1…1 axis), its stage-2 configuration, the panels it has side by side; and screenshots of
Live for a stage-1 and a stage-2 run at 1400 px and 1000 px wide (artifacts/screenshots/), looked at."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import shot
from .live_runs import FIRST_LOAD, chart, charts, metric, stage1, stage2


def test_a_stage_2_runs_lr_axis_shows_its_real_magnitude(servers, root, context):
    stage2(root / "ldm2", stop_step=30_000, events=False, samples=False)  # the log's lr and the config's schedule
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/?run=ldm2")
    expect(metric(page, "Latest step")).to_have_text("30,000", timeout=FIRST_LOAD)
    lr = chart(page, "Learning rate")
    expect(lr).to_be_attached(timeout=FIRST_LOAD)
    lr.scroll_into_view_if_needed()
    low, high = lr.evaluate("g => g._fullLayout.yaxis.range")
    assert low == pytest.approx(-0.04 * 2e-5) and high == pytest.approx(1.08 * 2e-5)  # from 0 (and a sliver)
    ticks = lr.locator(".ytick text").evaluate_all("ts => ts.map(t => t.textContent)")
    assert ticks == ["0", "5e-06", "1e-05", "1.5e-05", "2e-05"]
    # the logged 0.00002 and the schedule, drawn where they are: near the top of the axis
    y = lr.evaluate("g => Array.from(g._fullData[0].y)")
    assert max(y) == pytest.approx(2e-5)
    # the panels a stage-2 run has, side by side: no discriminator, no empty column
    assert "Discriminator" not in [c["title"] for c in charts(page)]
    expect(page.get_by_role("heading", name="Learning rate, distribution per phase")).to_be_visible()
    page.get_by_text("Configuration — conditional latent diffusion (stage 2)").click()
    table = page.get_by_test_id("stDataFrame").filter(has_text="objective").locator("table")
    expect(table).to_contain_text("objectivepred_KC", timeout=10_000)
    for row in ("timesteps1000", "sampling_timesteps50", "first-stage checkpoint (VAE)./radiodiff_Vae/model-30.pt",
                "scale_factor0.3", "finetune checkpoint./radiodiff_LDM/model-8.pt", "lr (start)2e-05"):
        expect(table).to_contain_text(row)


@pytest.mark.parametrize("width", [1400, 1000])
def test_screenshots_of_live_for_both_stages(servers, root, browser, width):
    """Taken for a person to look at (no overlapping text): stage 1 with its event files and a resume,
    stage 2 with its event files, each at two widths; the test checks the page drew every panel."""
    if not (root / "shots1").exists():
        stage1(root / "shots1", stop_step=16_000, resume_at=12_345)
        stage2(root / "shots2", stop_step=30_000)
    srv = servers(RADIODASH_ROOT=str(root))
    ctx = browser.new_context(viewport={"width": width, "height": 5200})
    try:
        for run, panels in (("shots1", 9), ("shots2", 4)):
            page = ctx.new_page()
            page.goto(f"{srv.url}/?run={run}")
            expect(metric(page, "Latest step")).to_be_visible(timeout=FIRST_LOAD)
            page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {2 * panels}",
                                   timeout=FIRST_LOAD)
            page.wait_for_timeout(1500)
            shot(page, f"live-{run}-{width}px")
            page.close()
    finally:
        ctx.close()
