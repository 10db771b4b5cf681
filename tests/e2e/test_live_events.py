"""A run with TensorBoard event files: the metric panels draw the per-step series (read from the
figure's data in the page), with the log's records on top, and the learning-rate panel the exact
Learning_Rate (one step ahead of the log's lr: the value at step s is the rate of step s + 1)."""
from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from radiodash import open_run
from radiodash.radiodiff import lr_factor

from .conftest import shot
from .live_runs import FIRST_LOAD, metric, stage1, trace_data


def test_a_run_with_event_files_draws_per_step_curves_and_the_exact_lr(servers, root, context):
    stage1(root / "ev1", stop_step=3_000)
    run = open_run(root / "ev1")
    events = run.snapshot().events
    run.close()
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/?run=ev1&from=500&until=900")  # 401 steps: every one drawn, none downsampled
    expect(metric(page, "Latest step")).to_have_text("3,000", timeout=FIRST_LOAD)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 8", timeout=FIRST_LOAD)
    curve = trace_data(page, "rec_loss", "event files, every step")
    assert curve is not None and curve["x"] == list(range(500, 901))  # every step, not every 100
    want = events.set_index("step").loc[500:900, "rec_loss"].to_numpy()
    assert np.array_equal(np.asarray(curve["y"]), want)  # the event files' values, exactly
    dots = trace_data(page, "rec_loss", "log records")
    assert dots["x"] == [500, 600, 700, 800, 900]  # the log's records on top
    lr = trace_data(page, "Learning rate", "Learning_Rate (event files, exact)")
    assert lr["x"] == list(range(500, 901))
    steps = np.asarray(lr["x"])
    # by hand: trainer.lr x max((1 - step / train_num_steps) ** 0.95, min_lr), stored as float32
    exact = (5e-6 * lr_factor(steps, 20_000, 0.1)).astype(np.float32).astype(float)
    assert np.asarray(lr["y"]) == pytest.approx(exact, rel=1e-6)
    assert np.array_equal(np.asarray(lr["y"]), events.set_index("step").loc[499:899, "Learning_Rate"].to_numpy())


LEGEND_CLASHES = """() => {
  const rects = (el, sel) => [...el.querySelectorAll(sel)].map(t => t.getBoundingClientRect()).filter(r => r.width > 0);
  const meet = (a, b) => !(a.right <= b.left || a.left >= b.right || a.bottom <= b.top || a.top >= b.bottom);
  return [...document.querySelectorAll('.js-plotly-plot')].map(el => {
    const legend = el.querySelector('g.legend');
    if (!legend || !legend.getBoundingClientRect().height) return null;
    const L = legend.getBoundingClientRect();
    const titles = rects(el, 'g[class^=g-x][class$=title] text');
    const ticks = rects(el, 'g[class^=x][class$=tick] text');
    const box = el.getBoundingClientRect();
    return {title: el.layout.title.text, titles: titles.length, ticks: ticks.length,
            legend_on_axis: [...titles, ...ticks].filter(r => meet(r, L)).length,
            title_on_ticks: titles.filter(t => ticks.some(r => meet(t, r))).length,
            inside: L.bottom <= box.bottom + 1 && L.top >= box.top - 1};
  }).filter(x => x); }"""

# the sides where Plotly widened a figure's margins beyond the figure's own (an axis with `automargin` that
# needed more room): each such figure was laid out twice in the browser
GROWN = """() => [...document.querySelectorAll('.js-plotly-plot')].map(el => {
  const m = el.layout.margin || {}, s = el._fullLayout._size;
  return {title: el.layout.title.text, grown: ['l', 'r', 'b'].filter(k => s[k] > (m[k] ?? 0) + 0.5)
          .map(k => `${k} ${m[k]} -> ${Math.round(s[k])}`)}; })"""
# subplot titles and other annotations that run past their figure's right edge (cut off there)
CUT_TEXTS = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(el => {
  const right = el.getBoundingClientRect().right;
  return [...el.querySelectorAll('.annotation-text')].filter(t => t.getBoundingClientRect().right > right + 1)
    .map(t => t.textContent); })"""
# legends that wrap to more rows than their margin holds in a narrow column: these panels take automargin
WIDENED_WHEN_NARROW = ("Discriminator", "Loss decomposition")


@pytest.mark.parametrize("width", [1400, 800])
def test_legends_below_the_panels_never_cover_the_step_axis(servers, root, context, width):
    """The legends under an event run's panels sit in a margin of fixed height (no automargin, which draws
    each figure twice): in the narrow two-column layout they wrap to more rows and must still fit."""
    stage1(root / "ev2", stop_step=3_000, grad_accum=2)  # accumulation 2: the discriminator panel has a legend
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(f"{srv.url}/?run=ev2")
    expect(metric(page, "Latest step")).to_have_text("3,000", timeout=FIRST_LOAD)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot g.legend').length >= 5", timeout=FIRST_LOAD)
    page.wait_for_timeout(1500)  # the last panels' layout
    found = page.evaluate(LEGEND_CLASHES)
    titles = " ".join(f["title"] for f in found)
    assert "rec_loss" in titles and "Learning rate" in titles, titles  # metric panels and the lr panel have legends
    assert "Discriminator" in titles and "Loss decomposition" in titles, titles  # and the panels with automargin
    for f in found:
        assert f["titles"] and f["ticks"], f  # the axis texts were found: the checks below can fail
        assert f["legend_on_axis"] == 0 and f["title_on_ticks"] == 0 and f["inside"], f
    assert page.evaluate(CUT_TEXTS) == []
    # one layout pass: every figure's margins already hold its axes (and its legend, in a 1400 px window)
    grown = page.evaluate(GROWN)
    assert len(grown) >= 8, grown
    assert [g for g in grown if g["grown"] and (width > 1000 or not g["title"].startswith(WIDENED_WHEN_NARROW))] == []
    shot(page, f"events-legends-{width}")
