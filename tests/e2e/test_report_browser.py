"""The HTML report in headless Chromium with the network cut off: it opens from the file and draws its charts."""
from __future__ import annotations


from playwright.sync_api import expect

from radiodash.analysis import analyze
from radiodash.report import render_html
from radiodash.report.figures import report_figures
from radiodash.simulate import SimConfig, render
from runcheck import parse_files

from .conftest import SHOTS


def test_html_report_draws_its_charts_offline(tmp_path, context):
    files, _ = render(SimConfig(grad_accum=2, resume_at=52_345, spike_steps=(12_000,)))
    snap = parse_files(files)
    a = analyze(snap, from_step=35_000, until_step=104_800, now=1_800_000_000)
    path = tmp_path / "report.html"
    path.write_text(render_html(snap, a), encoding="utf-8")
    charts = len(report_figures(snap, a))

    requested: list[str] = []

    def only_files(route):  # the network is cut: anything but the file itself is aborted (and recorded)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            requested.append(route.request.url)
            route.abort()

    context.route("**/*", only_files)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    expect(page.locator(".js-plotly-plot")).to_have_count(charts, timeout=30_000)
    for i in range(charts):  # every chart drawn: its traces are in the SVG
        expect(page.locator(".js-plotly-plot").nth(i).locator(".scatterlayer .trace").first).to_be_attached(
            timeout=30_000)
    # the step axis of each chart is the report's window, not the whole run
    ranges = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(g => g._fullLayout.xaxis.range)")
    assert all(34_000 <= lo <= 35_000 and 104_800 <= hi <= 105_800 for lo, hi in ranges), ranges
    assert page.locator("h2").first.inner_text() == "Summary"
    assert page.locator("table").count() >= 6 and not errors and not requested, (errors, requested)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "report-html.png"), full_page=False)
    page.locator("#charts").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "report-html-charts.png"), full_page=False)
