"""Charts: TensorBoard-exact smoothing, spike- and NaN-preserving downsampling, inert log text."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from radiodash import charts, open_run
from radiodash.analysis import analyze
from radiodash.simulate import SimConfig, render
from runcheck import parse_files


def tb_ema(values, weight):
    """TensorBoard's smoothing loop (tensorboard/plugins/scalar/.../smoothing), written out."""
    last, n, out = 0.0, 0, []
    for v in values:
        if not np.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight ** n))
    return np.array(out)


def test_ema_by_hand():
    # w = 0.5: 0.5/0.5, 1.25/0.75, 2.125/0.875, 3.0625/0.9375
    assert charts.smooth_ema(np.array([1.0, 2, 3, 4]), 0.5) == pytest.approx([1, 5 / 3, 2.125 / 0.875, 3.0625 / 0.9375])


def test_ema_matches_tensorboard_with_nan_and_inf():
    rng = np.random.default_rng(1)
    y = rng.normal(size=500).cumsum()
    y[[10, 200]] = np.nan
    y[300] = np.inf
    for w in (0.0, 0.3, 0.6, 0.95, 0.999):
        got = charts.smooth_ema(y, w)
        ref = tb_ema(y, w) if w > 0 else y
        assert np.allclose(got, ref, equal_nan=True), w
    assert np.isnan(charts.smooth_ema(y, 0.6)[10]) and np.isinf(charts.smooth_ema(y, 0.6)[300])


def test_ema_does_not_depend_on_run_length():
    y = np.random.default_rng(2).normal(size=100_000)
    assert np.array_equal(charts.smooth_ema(y[:1_000], 0.9), charts.smooth_ema(y, 0.9)[:1_000])


def test_centered_average_by_hand():
    assert charts.smooth_centered(np.array([1.0, 2, 3, 4, 100]), 3) == pytest.approx([1.5, 2, 3, 35 + 2 / 3, 52])
    y = np.array([1.0, np.nan, 3.0])
    assert charts.smooth_centered(y, 3)[[0, 2]] == pytest.approx([1.0, 3.0]) and np.isnan(charts.smooth_centered(y, 3)[1])


def test_downsampling_keeps_extremes_and_every_non_finite_point():
    n = 1_000_000
    x = np.arange(n)
    y = np.sin(x / 5_000.0)
    y[123_457] = 50.0
    y[777_777] = -40.0
    y[[5, 600_001]] = np.nan
    y[900_000] = np.inf
    idx = charts.downsample_indices(x, y, 2000)
    assert idx.size <= 2000 + 5 and np.all(np.diff(idx) > 0)
    assert {123_457, 777_777, 5, 600_001, 900_000, 0, n - 1} <= set(idx.tolist())


@given(y=arrays(np.float64, st.integers(4, 3_000), elements=st.floats(-1e6, 1e6, width=32)),
       n_out=st.integers(3, 120))
def test_a_downsampled_series_always_keeps_its_lowest_and_highest_value(y, n_out):
    """MinMaxLTTB alone can pass over the global extremes when few points are drawn (100 log dots over a
    1,000-record series lost the minimum): the lowest and highest value are drawn whatever `n_out`."""
    idx = charts.downsample_indices(np.arange(y.size), y, n_out)
    assert np.all(np.diff(idx) > 0) and idx.size <= max(n_out, 3) + 4
    assert y.min() in y[idx] and y.max() in y[idx]


@pytest.fixture(scope="module")
def big_snapshot():
    files, truth = render(SimConfig(train_num_steps=2_000_000, log_freq=10, disc_start=500_001, spike_steps=(1_234_560,),
                                    nan_step=1_999_000, save_and_sample_every=100_000))
    snap = parse_files(files)
    return snap, analyze(snap, now=0)


@pytest.mark.slow
def test_a_long_run_panel_sends_a_few_thousand_points_and_keeps_the_spike(big_snapshot):
    snap, a = big_snapshot
    assert len(snap.frame) == 200_000
    n_nan = int(snap.frame["train/rec_loss"].isna().sum())
    assert n_nan == 100  # steps 1,999,000 .. 1,999,990
    fig = charts.metric_figure(snap, "train/rec_loss", a, max_points=2000)
    lines = [t for t in fig.data if t.mode == "lines"]
    assert all(len(t.x) <= 2000 + n_nan + 2 for t in lines)
    raw = np.asarray(lines[0].y, float)
    assert np.nanmax(raw) == np.nanmax(snap.frame["train/rec_loss"].to_numpy())  # the spike survived
    assert any(t.name == "nan/inf" for t in fig.data)
    # narrowing the range gives full detail again
    narrow = charts.metric_figure(snap, "train/rec_loss", a, step_range=(1_000_000, 1_009_990))
    assert list(narrow.data[0].x) == list(range(1_000_000, 1_010_000, 10))  # every record of the range


def test_smoothing_uses_the_full_series_before_the_range():
    snap = parse_files(render(SimConfig(train_num_steps=20_000, log_freq=10, disc_start=5_001, seed=3))[0])
    a = analyze(snap, now=0)
    full = charts.smooth_ema(snap.frame["train/rec_loss"].to_numpy(), 0.9)
    fig = charts.metric_figure(snap, "train/rec_loss", a, smooth=0.9, step_range=(10_000, 10_990))
    assert np.allclose(np.asarray(fig.data[1].y, float), full[1_000:1_100])


def test_log_text_is_inert(tmp_path):
    """Text from the run reaches the figures as text: a results folder named with HTML and `&`
    (a legend entry, a hover label and an annotation of the compare figure) is escaped by
    `charts.plain`, never interpreted by Plotly. (Metric keys cannot carry `<`, `>` or `&`: the
    scanner counts such a line as damaged, asserted below.)"""
    name = "run <b>bold & <i>it <img src=x onerror=alert(1)> <br>"  # a folder name cannot hold "/"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "2025-08-15-20-00_.log").write_text(
        "2025-08-15 20:00:00,000 {'model': {'lossconfig': {'disc_start': 1}}, 'trainer': {'train_num_steps': 10}}\n"
        + "".join(f"2025-08-15 20:00:0{s},000 [Train Step] {s}/10: train/rec_loss: 0.{s + 1}0000, "
                  f"train/disc_factor: {1 if s >= 1 else 0}.00000, lr: 0.00001, \n" for s in range(4)))
    run = open_run(folder)
    snap = run.snapshot()
    run.close()
    fig = charts.compare_figure([(name, snap, analyze(snap))], "train/rec_loss")
    names = [t.name for t in fig.data if t.name]
    assert names == [charts.plain(name)] and "&lt;b&gt;bold &amp; &lt;i&gt;it &lt;img" in names[0]
    js = fig.to_json()
    for raw in ("<b>", "<i>", "<img", "<br>", " & "):
        assert raw not in js, raw
    assert charts.plain("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    # a key holding markup never becomes a metric: its line is a located problem
    log = tmp_path / "x_.log"
    log.write_text("2025-08-15 20:00:00,000 [Train Step] 0/10: train/<b>evil</b>: 1.00000, lr: 0.00001, \n"
                   "2025-08-15 20:00:01,000 [Train Step] 1/10: train/a&b: 2.00000, lr: 0.00001, \n")
    run = open_run(log)
    snap = run.snapshot()
    run.close()
    assert snap.metrics == ["lr"] and snap.problem_count == 2


def test_discriminator_panel_marks_switch_and_clamp():
    files, truth = render(SimConfig(train_num_steps=20_000, disc_start=10_001))
    snap = parse_files(files)
    a = analyze(snap, now=0)
    fig = charts.discriminator_figure(snap, a)
    texts = [an.text for an in fig.layout.annotations]
    assert texts == ["disc_factor", "d_weight", "switched on"]  # short: nothing runs off a narrow panel
    assert fig.layout.annotations[2].x == 10_100 and fig.layout.annotations[2].showarrow
    # the reference lines in sentences, under the chart
    assert charts.discriminator_notes(a) == [
        "Dashed grey line: disc_start = 10,001 in the config.",
        "The discriminator switched on between steps 10,000 and 10,100 (disc_factor 0 → 1; arrow and dotted red line).",
        "Dashed red line: d_weight's clamp ceiling 1e4 × disc_weight = 5,000."]
    assert any(s.y0 == 5000 and s.y1 == 5000 and s.yref == "y2" for s in fig.layout.shapes)
    assert any(s.x0 == 10_001 and s.x1 == 10_001 and s.line.dash == "dash" for s in fig.layout.shapes)
    # the simulator's d_weight sits at the ceiling most of the time: drawn from 0, not in a ±1 band
    assert fig.layout.yaxis2.range == (pytest.approx(-0.04 * 1.12 * 5000), pytest.approx(1.12 * 5000))


def test_lr_panel_draws_the_schedule_from_the_config_on_its_own_scale():
    snap = parse_files(render(SimConfig(train_num_steps=20_000))[0])
    fig = charts.lr_figure(snap, analyze(snap, now=0))
    assert [t.name for t in fig.data] == ["lr in the log (5 decimals)", "schedule from the config"]
    rec = np.asarray(fig.data[1].y, float)
    # by hand: 5e-6 x (1 - 0/20,000) ** 0.95 at step 0; at step 10,000: 5e-6 x 0.5 ** 0.95 = 2.588e-06
    assert rec[0] == pytest.approx(5e-6) and rec[list(fig.data[1].x).index(10_000)] == pytest.approx(2.5882e-6, rel=1e-4)
    # its own scale from 0, ticks that read as magnitudes
    # from 0 (a sliver below, so the 0 tick clears the x axis' labels); the log's 0.00001 is the top
    assert fig.layout.yaxis.range == (pytest.approx(-0.04 * 1e-5), pytest.approx(1.08 * 1e-5))
    assert list(fig.layout.yaxis.ticktext) == ["0", "2.5e-06", "5e-06", "7.5e-06", "1e-05"]
    # stage 2: 2e-05 is a visible magnitude (never a -1..1 axis where it reads 0)
    snap = parse_files(render(SimConfig(stage="diffusion", lr=2e-5, train_num_steps=20_000, log_freq=500))[0])
    fig = charts.lr_figure(snap, analyze(snap, now=0))
    assert [t.name for t in fig.data] == ["lr in the log (5 decimals)", "schedule from the config"]
    assert fig.layout.yaxis.range == (pytest.approx(-0.04 * 2e-5), pytest.approx(1.08 * 2e-5))
    assert list(fig.layout.yaxis.ticktext) == ["0", "5e-06", "1e-05", "1.5e-05", "2e-05"]


@pytest.mark.parametrize("top, texts", [(2e-5, ["0", "5e-06", "1e-05", "1.5e-05", "2e-05"]),
                                        (5.4e-6, ["0", "2e-06", "4e-06"]), (1e-3, ["0", "0.00025", "0.0005", "0.00075",
                                                                                    "0.001"]),
                                        (0.0, ["0"]), (float("nan"), ["0"])])
def test_lr_ticks_by_hand(top, texts):
    assert charts.lr_ticks(top)[1] == texts


def test_zoom_survives_live_updates():
    files, _ = render(SimConfig(train_num_steps=20_000))
    (name, data), = files.items()
    half = data[: data.rfind(b"\n", 0, len(data) // 2) + 1]
    a, b = parse_files({name: half}), parse_files({name: data})
    fa, fb = charts.metric_figure(a, "train/rec_loss"), charts.metric_figure(b, "train/rec_loss")
    assert fa.layout.uirevision == fb.layout.uirevision
    assert charts.metric_figure(b, "train/kl_loss").layout.uirevision != fb.layout.uirevision


def test_log_scale_falls_back_for_series_that_cross_zero():
    snap = parse_files(render(SimConfig(train_num_steps=20_000, disc_start=5_001))[0])
    fig = charts.metric_figure(snap, "train/total_loss", log_y=True)
    assert fig.layout.yaxis.type != "log" and "log scale needs positive values" in fig.layout.title.text
    assert charts.metric_figure(snap, "train/rec_loss", log_y=True).layout.yaxis.type == "log"


def test_step_charts_draw_phases_launches_and_the_switch():
    files, truth = render(SimConfig(train_num_steps=20_000, disc_start=5_001, resume_at=12_345))
    snap = parse_files(files)
    a = analyze(snap, now=0)
    resume = snap.segments[1].first_step
    assert resume == truth.resume_step
    for fig, names_phases in ((charts.metric_figure(snap, "train/rec_loss", a), False),
                              (charts.overlay_figure(snap, ["train/rec_loss", "train/kl_loss"], a), True)):
        rects = [s for s in fig.layout.shapes if s.type == "rect"]
        lines = {(s.x0, s.line.dash) for s in fig.layout.shapes if s.type == "line"}
        texts = [an.text for an in fig.layout.annotations]
        assert [(r.x0, r.x1) for r in rects] == [(p.start_step, p.end_step) for p in a.phases]
        assert (resume, "dash") in lines and (a.disc.first_on_step, "dot") in lines
        assert f"resume @ {resume:,}" in texts
        numbered = [(an.text, an.hovertext) for an in fig.layout.annotations if an.hovertext]
        assert numbered == ([(str(i), p.name) for i, p in enumerate(a.phases, start=1)] if names_phases else [])


def test_nan_markers_only_where_the_log_printed_nan(tmp_path):
    log = tmp_path / "x_.log"
    log.write_text("2025-08-15 20:00:00,000 [Train Step] 0/10: train/g_loss: 1.00000, \n"
                   "2025-08-15 20:00:00,000 [Train Step] 0/10: train/disc_loss: nan, \n"
                   "2025-08-15 20:00:01,000 [Train Step] 1/10: train/g_loss: 2.00000, \n"
                   "2025-08-15 20:00:01,000 [Train Step] 1/10: train/disc_loss: 0.50000, \n"
                   "2025-08-15 20:00:02,000 [Train Step] 2/10: train/g_loss: 3.00000, \n")  # step 2's disc line: not yet
    run = open_run(log)
    snap = run.snapshot()
    run.close()
    fig = charts.metric_figure(snap, "train/disc_loss", smooth=0)
    (marks,) = [t for t in fig.data if t.name == "nan/inf"]
    assert list(marks.text) == ["nan at step 0"]


# ---------------------------------------------------------------- the event files, the step range, the x axis


@pytest.fixture(scope="module")
def with_events(tmp_path_factory):
    """A finished VAE run of 2,000 steps with its event file (every step, every tag) and log (every 100)."""
    from radiodash.simulate import write_run

    folder = tmp_path_factory.mktemp("ev") / "run"
    write_run(folder, SimConfig(train_num_steps=2_000, disc_start=1_001, save_and_sample_every=500, events=True))
    run = open_run(folder)
    snap = run.snapshot()
    run.close()
    assert len(snap.events) == 2_000 and len(snap.frame) == 20
    return snap, analyze(snap, now=0)


def names(fig) -> list[str]:
    return [t.name for t in fig.data]


@pytest.mark.slow
def test_metric_panels_draw_the_event_files_per_step_with_the_log_on_top(with_events):
    snap, a = with_events
    fig = charts.metric_figure(snap, "train/rec_loss", a, source="both", max_points=5_000)
    assert names(fig) == ["event files, every step", "event files, every step", "log records"]
    raw, smooth, log = fig.data
    assert list(raw.x) == list(range(2_000)) and np.array_equal(np.asarray(raw.y), snap.events["rec_loss"].to_numpy())
    assert np.allclose(np.asarray(smooth.y), charts.smooth_ema(snap.events["rec_loss"].to_numpy(), 0.6))
    assert list(log.x) == list(range(0, 2_000, 100)) and log.mode == "markers"
    assert np.array_equal(np.asarray(log.y), snap.frame["train/rec_loss"].to_numpy())
    assert fig.layout.showlegend is not False and fig.layout.legend.yref == "container"  # says which is which, below
    assert names(charts.metric_figure(snap, "train/rec_loss", a, source="events")) == ["event files, every step"] * 2
    log_only = charts.metric_figure(snap, "train/rec_loss", a, source="log")
    assert names(log_only) == ["rec_loss (raw)", "rec_loss"] and list(log_only.data[0].x) == list(range(0, 2_000, 100))
    # the default (the report's) is the log: the two sources are never merged
    assert names(charts.metric_figure(snap, "train/rec_loss", a)) == ["rec_loss (raw)", "rec_loss"]
    # a log metric without an event tag says so when the page draws the event files elsewhere
    nll = charts.metric_figure(snap, "train/nll_loss", a, source="both")
    assert "(log only: no event tag)" in nll.layout.title.text and names(nll) == ["nll_loss (raw)", "nll_loss"]


def test_the_lr_panel_uses_the_exact_learning_rate_one_step_ahead(with_events):
    snap, a = with_events
    fig = charts.lr_figure(snap, a, source="both", max_points=5_000)
    assert names(fig) == ["Learning_Rate (event files, exact)", "lr in the log (5 decimals)"]
    exact = fig.data[0]
    # written after the scheduler stepped: the value at event step s is the rate of step s + 1, drawn there
    assert list(exact.x) == list(range(1, 2_001))
    # by hand: step 1 of 2,000 at lr 5e-6 is 5e-6 x (1 - 1/2,000) ** 0.95 (float32 in the file)
    assert exact.y[0] == pytest.approx(5e-6 * (1 - 1 / 2_000) ** 0.95, rel=1e-6)
    assert np.array_equal(np.asarray(exact.y), snap.events["Learning_Rate"].to_numpy())
    # without the event files (or with "log"): the log's lr and the config's schedule, as for a log-only run
    assert names(charts.lr_figure(snap, a, source="log")) == ["lr in the log (5 decimals)", "schedule from the config"]


@pytest.mark.slow
def test_the_discriminator_panel_adds_loss_and_logits_from_the_event_files(tmp_path):
    from radiodash.simulate import write_run

    # accumulation 2: the discriminator steps, and both sources have its loss and logits
    write_run(tmp_path / "run", SimConfig(train_num_steps=2_000, disc_start=1_001, grad_accum=2, events=True))
    run = open_run(tmp_path / "run")
    snap = run.snapshot()
    run.close()
    a = analyze(snap, now=0)
    fig = charts.discriminator_figure(snap, a, source="both", max_points=5_000)
    assert names(fig) == ["disc_factor", "d_weight", "disc_loss (event files)", "disc_loss (log)",
                          "logits_real (event files)", "logits_real (log)", "logits_fake (event files)",
                          "logits_fake (log)"]
    assert list(fig.data[2].x) == list(range(2_000)) and fig.data[2].xaxis == "x3"
    assert np.array_equal(np.asarray(fig.data[4].y), snap.events["logits_real"].to_numpy())
    assert fig.data[3].mode == "markers" and list(fig.data[3].x) == list(range(0, 2_000, 100))
    assert names(charts.discriminator_figure(snap, a, source="events"))[2:] == [
        "disc_loss (event files)", "logits_real (event files)", "logits_fake (event files)"]
    assert names(charts.discriminator_figure(snap, a, source="log"))[2:] == [
        "disc_loss (log)", "logits_real (log)", "logits_fake (log)"]


def test_panels_with_automargin_have_margins_that_hold_their_step_axis_and_legend(with_events, tmp_path):
    """The discriminator and decomposition panels' x axes take `automargin` (their legends wrap with the width):
    margins smaller than what the axis draws make the browser lay the figure out twice. Measured in the page
    (a 1400 px window, tests/e2e/test_live_events.py): the last tick label ('150k', '2k') needs 27 px on the
    right, the discriminator's legend (4 rows) 128 px below, the decomposition's (5 rows) 147 px below, the
    residual's title 66 px on the left."""
    from radiodash.simulate import write_run

    snap, a = with_events
    dec = charts.decomposition_figure(snap, a)
    assert dec.layout.xaxis2.automargin and dec.layout.margin.r >= 28 and dec.layout.margin.b >= 147
    assert dec.layout.margin.l >= 66
    write_run(tmp_path / "run", SimConfig(train_num_steps=500, disc_start=201, grad_accum=2, events=True))
    run = open_run(tmp_path / "run")
    snap2 = run.snapshot()
    run.close()
    disc = charts.discriminator_figure(snap2, analyze(snap2, now=0), source="both")
    assert len(disc.data) == 8 and disc.layout.showlegend  # its loss and logits, from both sources
    assert disc.layout.xaxis3.automargin and disc.layout.margin.r >= 28 and disc.layout.margin.b >= 128
    # the metric panels' legends keep a fixed margin (no automargin): nothing to widen
    fig = charts.metric_figure(snap, "train/rec_loss", a, source="both")
    assert not fig.layout.xaxis.automargin and fig.layout.margin.r == 16


def test_without_the_discriminators_series_the_panel_has_two_rows(with_events):
    snap, a = with_events  # accumulation 1: neither source has the discriminator's loss
    fig = charts.discriminator_figure(snap, a, source="both")
    assert names(fig) == ["disc_factor", "d_weight"] and "xaxis3" not in fig.to_plotly_json()["layout"]


def test_every_step_axis_panel_takes_the_step_range(with_events):
    snap, a = with_events
    lo, hi = 600, 1_400
    figs = {"metric": charts.metric_figure(snap, "train/rec_loss", a, source="both", step_range=(lo, hi)),
            "overlay": charts.overlay_figure(snap, ["train/rec_loss"], a, step_range=(lo, hi)),
            "disc": charts.discriminator_figure(snap, a, source="both", step_range=(lo, hi)),
            "lr": charts.lr_figure(snap, a, source="both", step_range=(lo, hi)),
            "decomp": charts.decomposition_figure(snap, a, step_range=(lo, hi))}
    for key, fig in figs.items():
        axes = [k for k in fig.to_plotly_json()["layout"] if k.startswith("xaxis")]
        assert axes and all(tuple(fig.layout[k].range) == (lo, hi) for k in axes), key
        for tr in fig.data:
            x = np.asarray(tr.x, float)
            assert x.size and x.min() >= lo and x.max() <= hi, (key, tr.name)
    # the distribution: the records of the range only (3 phases, all inside 600-1,400 here or partly)
    dist = charts.distribution_figure(snap, a, "train/rec_loss", step_range=(lo, hi))
    inside = snap.frame[(snap.frame.step >= lo) & (snap.frame.step <= hi)]["train/rec_loss"].to_numpy()
    assert min(dist.data[0].lowerfence) >= inside.min() and max(dist.data[0].upperfence) <= inside.max()
    # the range is part of each panel's uirevision: a new range is a new view, not the old zoom
    assert figs["metric"].layout.uirevision != charts.metric_figure(snap, "train/rec_loss", a, source="both").layout.uirevision


def test_time_axes_put_the_event_files_on_the_logs_clock(with_events):
    from dataclasses import replace

    snap, a = with_events
    # a trainer at UTC+2: its log's local times run 2 h ahead of the event files' epoch seconds
    ev = snap.events.copy()
    ev["wall_time"] = ev["wall_time"] - 7_200
    snap = replace(snap, events=ev)
    fig = charts.metric_figure(snap, "train/rec_loss", a, source="both", x="time", max_points=5_000)
    events_x = pd.to_datetime(np.asarray(fig.data[0].x))
    log_x = pd.to_datetime(np.asarray(fig.data[2].x))
    # step 500 in both sources: written in the same moment of the trainer, so within a second on one clock
    assert abs((events_x[500] - log_x[5]).total_seconds()) < 1
    assert fig.layout.xaxis.title.text == "wall-clock time (the log's clock)"
    hours = charts.lr_figure(snap, a, source="both", x="hours", max_points=5_000)
    assert hours.layout.xaxis.title.text == "hours since start" and 0 <= hours.data[0].x[0] < 0.01


def test_constant_series_are_named_not_drawn(with_events, tmp_path):
    snap, _ = with_events
    assert charts.constant_metrics(snap) == {"train/logvar": 0.0}
    assert "train/disc_factor" in charts.constant_metrics(snap, (0, 900))  # 0 before disc_start 1,001
    log = tmp_path / "x_.log"
    log.write_text("".join(f"2025-08-15 20:00:0{s},000 [Train Step] {s}/10: train/a: 1.00000, train/b: "
                           f"{'nan' if s == 2 else '1.00000'}, train/c: {s}.00000, \n" for s in range(4)))
    run = open_run(log)
    one = run.snapshot()
    run.close()
    assert charts.constant_metrics(one) == {"train/a": 1.0}  # b printed a nan: drawn, with its marker


def test_the_distribution_names_its_phases_by_their_numbers(with_events):
    snap, a = with_events
    fig = charts.distribution_figure(snap, a, "train/rec_loss")
    assert list(fig.data[0].x) == [str(i) for i in range(1, len(a.phases) + 1)]
    assert list(fig.data[0].hovertext) == [p.name for p in a.phases]
    assert fig.layout.xaxis.type == "category"  # "2" is phase 2, not the number 2 on a linear axis


@pytest.mark.slow
def test_the_logs_dots_over_the_per_step_curve_are_capped_and_keep_the_extremes(tmp_path):
    """Every dot is an SVG element in the browser: over the event files' curve the log's records are
    downsampled to MAX_LOG_DOTS (extremes kept); drawn as the curve itself (log only) they are not."""
    from radiodash.simulate import write_run

    write_run(tmp_path / "run", SimConfig(train_num_steps=4_000, log_freq=10, disc_start=1_001, grad_accum=2,
                                          events=True))
    run = open_run(tmp_path / "run")
    snap = run.snapshot()
    run.close()
    a = analyze(snap, now=0)
    assert len(snap.frame) == 400 > charts.MAX_LOG_DOTS
    logged = snap.frame["train/rec_loss"].to_numpy()
    dots = charts.metric_figure(snap, "train/rec_loss", a, source="both").data[-1]
    assert dots.name == "log records" and dots.mode == "markers"
    assert 0.9 * charts.MAX_LOG_DOTS <= len(dots.x) <= charts.MAX_LOG_DOTS + 2  # + the first and the last
    assert logged.max() in np.asarray(dots.y) and logged.min() in np.asarray(dots.y)
    assert len(charts.metric_figure(snap, "train/rec_loss", a, source="log").data[0].x) == 400
    lr_dots = charts.lr_figure(snap, a, source="both").data[1]
    assert lr_dots.mode == "markers" and len(lr_dots.x) <= charts.MAX_LOG_DOTS + 2
    disc = charts.discriminator_figure(snap, a, source="both")
    marks = [t for t in disc.data if t.mode == "markers"]
    assert marks and all(len(t.x) <= charts.MAX_LOG_DOTS + 2 for t in marks)
