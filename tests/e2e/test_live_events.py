"""A run with TensorBoard event files: the metric panels draw the per-step series (read from the
figure's data in the page), with the log's records on top, and the learning-rate panel the exact
Learning_Rate (one step ahead of the log's lr: the value at step s is the rate of step s + 1)."""
from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from radiodash import open_run
from radiodash.radiodiff import lr_factor

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
