"""The Live page through AppTest: run-state transitions with a controlled clock, stage 2 as a first-class
run, the step range on every panel, the overlay across run changes, the compact alerts and the Compare
page's matching by short name. Real files, the real follower; the clock is RADIODASH_CLOCK
(radiodash/ui/clock.py), the files' mtime is set with os.utime."""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from radiodash.simulate import SimConfig, write_run
from radiodash.text import md_escape
from radiodash.ui import access

# slow: whole-app Streamlit AppTest runs (~1 s each);
# `make test` runs them, the quick run (-m "not slow") does not
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
T = 1_800_000_000.0  # every file's mtime; the page's clock is T + the silence a test wants
DAY = 86_400.0


def set_mtime(folder: Path, t: float = T) -> None:
    for f in folder.iterdir():
        os.utime(f, (t, t))


def stage2_block(folder: Path) -> None:
    """The simulator's stage-2 config block with every stage-2 field RadioDiff's LDM config has."""
    for log in folder.glob("*_.log"):
        out = []
        for line in log.read_text().split("\n"):
            if line == "model:":
                out += ["finetune:", "  ckpt_path: ./radiodiff_LDM/model-8.pt"]
            out.append(line)
            if line.startswith("  model_type:"):
                out += ["  objective: pred_KC", "  sampling_timesteps: 50", "  scale_factor: 0.3"]
        log.write_text("\n".join(out))


@pytest.fixture
def root(tmp_path, monkeypatch):
    """Runs under a root: an unfinished VAE run (steps 0-50,000 of 150,000, 20 s a record), a finished one,
    a stage-2 run; every file last written at T."""
    r = tmp_path / "root"
    write_run(r / "vae", SimConfig(stop_step=50_000))
    write_run(r / "done", SimConfig(train_num_steps=20_000, disc_start=10_001))
    write_run(r / "ldm", SimConfig(stage="diffusion", lr=2e-5, train_num_steps=80_000, log_freq=500, stop_step=30_000))
    stage2_block(r / "ldm")
    for run in ("vae", "done", "ldm"):
        set_mtime(r / run)
    for k in ("RADIODASH_LOG", "RADIODASH_ROOT", "RADIODASH_TOKEN", "RADIODASH_CLOCK", "RADIODASH_STOPPED_AFTER"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RADIODASH_ROOT", str(r))
    monkeypatch.setattr(access, "GUARD", access.Guard())
    st.cache_resource.clear()
    yield r
    st.cache_resource.clear()


def run_app(query: dict, page: str | None = None, at: AppTest | None = None, unfold: tuple[str, ...] = ()) -> AppTest:
    """The app after one run; `unfold`: the Live page's folded expanders to open ("config", "events",
    "diagnostics"), whose content the page builds only while they are open."""
    at = at or AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if page:
        at.switch_page(page)
    for name in unfold:
        at.session_state[f"fold_{name}"] = True
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def at_clock(monkeypatch, seconds_after: float) -> None:
    monkeypatch.setenv("RADIODASH_CLOCK", str(T + seconds_after))


def badges(at: AppTest) -> list[str]:
    return [str(m.value) for m in at.markdown if "-badge[" in str(m.value)]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "warning", "error", "info", "subheader", "text")
                     for e in getattr(at, kind))


def figures(at: AppTest) -> list[dict]:
    """Every Plotly figure the page sent (AppTest shows charts as unknown elements; the spec is there)."""
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def values(v) -> np.ndarray:
    """A trace's x or y as numbers: Plotly sends numpy arrays as {dtype, bdata} (base64)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).astype(float)
    return np.asarray(v, float)


def figure_titled(at: AppTest, title: str) -> dict:
    found = [f for f in figures(at) if str(f["layout"].get("title", {}).get("text", "")).startswith(title)]
    assert len(found) == 1, [f["layout"].get("title", {}).get("text") for f in figures(at)]
    return found[0]


def test_run_state_live_then_stalled_then_stopped_with_a_controlled_clock(root, monkeypatch):
    at_clock(monkeypatch, 30)
    at = run_app({"run": "vae"})
    assert badges(at) == [":green-badge[:material/radio_button_checked: live]"]
    assert md_escape("live: last line 30 s ago, at step 50,000 of 150,000") in texts(at)
    assert "ETA" in metrics(at) and "next checkpoint model-11.pt at step 55,000" in texts(at)
    # the log's own clock for its last line: 500 records x 20 s = 2 h 46 min 40 s after 20:41:07.512
    assert md_escape("last log line 2025-08-15 23:27:47 (the trainer's local time; the log has no time zone)") in texts(at)

    at_clock(monkeypatch, 14 * 60)  # past 10 x the usual 20 s: stalled; the same page, run again
    at.run()
    assert badges(at) == [":orange-badge[:material/hourglass_top: stalled]"]
    assert md_escape("stalled: no line for 14 min 00 s (usual 20 s), at step 50,000 of 150,000") in texts(at)
    assert "ETA" not in metrics(at) and metrics(at)["Silent for"] == "14 min 00 s"
    assert "next checkpoint" not in texts(at)

    at_clock(monkeypatch, 3.1 * DAY)
    at.run()
    assert badges(at) == [":red-badge[:material/stop_circle: stopped]"]
    assert md_escape("stopped 3.1 d ago at step 50,000 of 150,000") in texts(at)
    assert "ETA" not in metrics(at) and metrics(at)["Silent for"] == "3 d 2 h"
    # the stop threshold is configurable: 10 minutes makes 14 minutes of silence "stopped"
    monkeypatch.setenv("RADIODASH_STOPPED_AFTER", "600")
    at_clock(monkeypatch, 14 * 60)
    at.run()
    assert badges(at) == [":red-badge[:material/stop_circle: stopped]"]


def test_a_finished_run_says_when_and_how_long_never_an_eta(root, monkeypatch):
    at_clock(monkeypatch, 3 * DAY)
    at = run_app({"run": "done"})
    assert badges(at) == [":blue-badge[:material/check_circle: finished]"]
    # 0-19,900 at 20 s a record: 199 x 20 s = 3,980 s = 1 h 06 min
    assert md_escape("finished 3.0 d ago after 1 h 06 min") in texts(at)
    assert "ETA" not in metrics(at) and metrics(at)["Took"] == "1 h 06 min"
    assert "next checkpoint" not in texts(at)


def picker(at):
    """The sidebar's run picker (one widget per selected run: `session.picker_key`)."""
    from radiodash.ui.session import picker_key

    run = at.query_params.get("run")
    return at.selectbox(key=picker_key(run if isinstance(run, str) or run is None else run[0]))


def test_the_picker_shows_each_runs_state(root, monkeypatch):
    at_clock(monkeypatch, 3 * DAY)
    at = run_app({"run": "vae"})
    assert sorted(picker(at).options) == ["done · finished · 3.0 d ago", "ldm · stopped · 3.0 d ago",
                                                          "vae · stopped · 3.0 d ago"]
    at_clock(monkeypatch, 30)
    at.run()
    assert sorted(picker(at).options) == ["done · finished", "ldm · live", "vae · live"]


def test_stage_2_configuration_lr_and_panels(root, monkeypatch):
    at_clock(monkeypatch, 30)
    at = run_app({"run": "ldm"})
    # folded, the configuration is not even sent (a collapsed grid still costs a new browser its layout)
    assert "Configuration — conditional latent diffusion (stage 2)" in [e.label for e in at.expander]
    assert not [d for d in at.dataframe if list(d.value.columns) == ["setting", "value"]]
    at = run_app({"run": "ldm"}, at=at, unfold=("config",))
    conf = next(d.value for d in at.dataframe if list(d.value.columns) == ["setting", "value"])
    rows = dict(zip(conf["setting"], conf["value"]))
    assert {k: rows[k] for k in ("objective", "timesteps", "sampling_timesteps", "first-stage checkpoint (VAE)",
                                 "scale_factor", "finetune checkpoint", "lr (start)", "train_num_steps")} == {
        "objective": "pred_KC", "timesteps": "1000", "sampling_timesteps": "50",
        "first-stage checkpoint (VAE)": "./radiodiff_Vae/model-30.pt", "scale_factor": "0.3",
        "finetune checkpoint": "./radiodiff_LDM/model-8.pt", "lr (start)": "2e-05", "train_num_steps": "80,000"}
    assert "kl_weight" not in rows and "disc_start (step)" not in rows  # stage-1 rows only for stage 1
    lr = figure_titled(at, "Learning rate")
    assert lr["layout"]["yaxis"]["range"] == [pytest.approx(-0.04 * 2e-5), pytest.approx(1.08 * 2e-5)]
    assert lr["layout"]["yaxis"]["ticktext"] == ["0", "5e-06", "1e-05", "1.5e-05", "2e-05"]
    assert [t["name"] for t in lr["data"]] == ["lr in the log (5 decimals)", "schedule from the config"]
    # no discriminator panel and no empty column: the panels that exist, side by side
    assert not [f for f in figures(at) if f["layout"].get("title", {}).get("text") == "Discriminator"]
    assert [str(s.value) for s in at.subheader][0] == "Learning rate, distribution per phase"
    # loss_vlb is 0 on every record: one line, no panel
    assert md_escape("Constant over the steps in view (no panel): loss_vlb = 0") in texts(at)
    assert not [f for f in figures(at) if str(f["layout"].get("title", {}).get("text", "")).startswith("loss_vlb")]


def test_the_step_range_applies_to_every_step_axis_panel_and_the_tables(root, monkeypatch):
    at_clock(monkeypatch, 30)
    at = run_app({"run": "vae", "from": "20000", "until": "30000"}, unfold=("events",))
    step_axes = {}
    for f in figures(at):
        title = f["layout"].get("title", {}).get("text", "")
        for name, axis in f["layout"].items():
            if name.startswith("xaxis") and axis.get("title", {}).get("text", "step") == "step" and "phase" not in str(
                    axis.get("title", {}).get("text", "")) and "by phase" not in title:
                step_axes[(title, name)] = axis.get("range")
        for tr in f["data"]:
            if "by phase" not in title and tr.get("x") is not None and tr.get("type") == "scatter":
                xs = values(tr["x"])
                assert xs.size == 0 or (xs.min() >= 20_000 and xs.max() <= 30_000 + 1), title
    assert len({t for t, _ in step_axes}) >= 8  # overlay, metric panels, discriminator, lr, decomposition
    assert set(map(tuple, step_axes.values())) == {(20_000, 30_000)}, step_axes
    # the phases and events of those steps only
    from radiodash import open_run
    from radiodash.analysis import analyze

    run = open_run(root / "vae")
    a = analyze(run.snapshot(), now=T + 30)
    run.close()
    overlapping = [p for p in a.phases if p.end_step >= 20_000 and p.start_step <= 30_000]
    assert 0 < len(overlapping) < len(a.phases)  # the range leaves some phases out
    phase_lines = [str(m.value) for m in at.markdown if " · steps " in str(m.value)]
    assert phase_lines == [f"**{md_escape(p.name)}** · steps {p.start_step:,} to {p.end_step:,} — "
                           f"{md_escape(p.description)}" for p in overlapping]
    events = next(d.value for d in at.dataframe if list(d.value.columns) == ["kind", "step", "time", "what"])
    assert list(events["step"]) and all(20_000 <= s <= 30_000 for s in events["step"])
    assert "Phases (steps 20,000 to 30,000)" in [str(s.value) for s in at.subheader]


def test_the_time_axis_is_every_panels_axis(root, monkeypatch):
    at_clock(monkeypatch, 30)
    at = run_app({"run": "vae", "x": "hours"})
    titled = {f["layout"]["title"]["text"]: f for f in figures(at)}
    for title in ("Overlay (log)", "Discriminator", "Learning rate", "Loss decomposition (log)", "rec_loss"):
        f = titled[title]
        xtitles = [a.get("title", {}).get("text") for n, a in f["layout"].items() if n.startswith("xaxis")]
        assert "hours since start" in xtitles, (title, xtitles)
        assert "step" not in xtitles, title


def test_overlay_metrics_follow_the_run(root, monkeypatch):
    at_clock(monkeypatch, 30)
    at = run_app({"run": "vae", "metrics": ["train/rec_loss", "train/kl_loss", "train/total_loss"]})
    assert at.multiselect(key="metrics").value == ["train/rec_loss", "train/kl_loss", "train/total_loss"]
    picker(at).set_value("ldm").run()
    assert not at.exception
    # total_loss exists in the stage-2 run under its short name; rec_loss and kl_loss do not
    assert at.multiselect(key="metrics").value == ["total_loss"]
    overlay = figure_titled(at, "Overlay")
    assert [t["name"] for t in overlay["data"]] == ["total_loss"]
    picker(at).set_value("done").run()
    assert at.multiselect(key="metrics").value == ["train/total_loss"]


def test_overlay_of_a_run_without_the_chosen_metrics_falls_back_to_its_defaults(root, monkeypatch):
    at_clock(monkeypatch, 30)
    at = run_app({"run": "vae", "metrics": ["train/rec_loss"]})
    picker(at).set_value("ldm").run()
    assert at.multiselect(key="metrics").value == ["loss_simple"]


def test_alerts_are_one_block_most_severe_first(root, monkeypatch):
    at_clock(monkeypatch, 3.1 * DAY)  # stopped: a warning besides the run's own findings
    at = run_app({"run": "vae"})
    boxes = [str(w.value) for kind in ("error", "warning", "info") for w in getattr(at, kind)]
    assert len(boxes) == 1
    from radiodash import open_run
    from radiodash.analysis import analyze, live_header

    run = open_run(root / "vae")
    snap = run.snapshot()
    run.close()
    head = live_header(snap, analyze(snap, now=T + 3.1 * DAY), now=T + 3.1 * DAY)
    severities = [a.severity for a in head.alerts]
    counts = {s: severities.count(s) for s in ("error", "warning", "info")}
    words = " · ".join(f"{n} {w if n == 1 else w + 's'}" for s, w in (("error", "error"), ("warning", "warning"),
                                                                       ("info", "note")) for n in [counts[s]] if n)
    assert boxes[0].startswith(f"**{md_escape(words)}** · **{md_escape(head.alerts[0].code)}**")
    assert [e.label for e in at.expander if e.label.startswith("All ")] == [f"All {len(head.alerts)} alerts, and what to do"]


def test_a_healthy_live_run_shows_no_alert_box(tmp_path, monkeypatch):
    r = tmp_path / "root"
    (r / "ok").mkdir(parents=True)
    lines = ("2025-08-15 20:00:00,000 {'model': {'lossconfig': {'kl_weight': 1e-06}}, 'trainer': {'lr': 0.0001, "
             "'train_num_steps': 10000, 'log_freq': 100}}\n") + "".join(
        f"2025-08-15 20:{s // 600:02d}:{s // 10 % 60:02d},000 [Train Step] {s}/10000: train/rec_loss: "
        f"{0.1 - s * 1e-6:.5f}, lr: 0.00010, \n" for s in range(0, 2000, 100))
    (r / "ok" / "2025-08-15-20-00_.log").write_text(lines)
    set_mtime(r / "ok")
    for k in ("RADIODASH_LOG", "RADIODASH_TOKEN", "RADIODASH_STOPPED_AFTER"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RADIODASH_ROOT", str(r))
    at_clock(monkeypatch, 5)
    st.cache_resource.clear()
    try:
        at = run_app({"run": "ok"})
        assert badges(at) == [":green-badge[:material/radio_button_checked: live]"]
        assert not at.error and not at.warning and not at.info
        assert not [e for e in at.expander if e.label.startswith("All ")]
    finally:
        st.cache_resource.clear()


def test_compare_matches_metrics_by_short_name_and_says_which_run_lacks_one(root, monkeypatch):
    at_clock(monkeypatch, 30)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at = run_app({"runs": "vae,ldm"}, "views/compare.py", at)
    metric = at.selectbox(key="cmp_metric")
    assert metric.value == "rec_loss" and "total_loss" in metric.options and "train/total_loss" not in metric.options
    assert md_escape("ldm has no rec_loss.") in texts(at)  # the main metric of stage 1 only
    at.selectbox(key="cmp_metric").set_value("total_loss").run()
    fig = figures(at)[0]
    assert sorted(t["name"] for t in fig["data"] if t.get("mode") == "lines") == ["ldm", "vae"]
    assert "has no" not in texts(at)
    table = at.dataframe[0].value
    assert table["final total_loss"].notna().all()


def test_the_checkpoint_table_lists_every_checkpoint_with_its_values_and_links_its_samples(tmp_path, monkeypatch):
    from radiodash import open_run
    from radiodash.analysis import checkpoint_table
    from radiodash.analysis.checkpoints import cell_text

    r = tmp_path / "root"
    write_run(r / "ck", SimConfig(train_num_steps=20_000, disc_start=10_001, stop_step=16_000, events=True,
                                  samples=True))
    set_mtime(r / "ck")
    (r / "ck" / "model-2.pt").unlink()  # a checkpoint deleted since: the row says so
    for k in ("RADIODASH_LOG", "RADIODASH_TOKEN", "RADIODASH_STOPPED_AFTER"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RADIODASH_ROOT", str(r))
    at_clock(monkeypatch, 30)
    st.cache_resource.clear()
    try:
        at = run_app({"run": "ck"})
        shown = next(d.value for d in at.dataframe if list(d.value.columns[:3]) == ["milestone", "step", "checkpoint"])
        run = open_run(r / "ck")
        want = checkpoint_table(run.snapshot())
        run.close()
        assert list(shown["milestone"]) == [1, 2, 3] and list(shown["step"]) == [5_000, 10_000, 15_000]
        assert list(shown["on disk"]) == ["on disk", "not on disk", "on disk"]
        assert list(shown["size"]) == ["4.0 KiB", "—", "4.0 KiB"]
        assert list(shown["sample"]) == [f"samples?run=ck&milestone={k}" for k in (1, 2, 3)]
        for col in ("rec_loss (log)", "rec_loss (events)", "Learning_Rate (events)"):
            assert list(shown[col]) == [cell_text(row, col) for _, row in want.iterrows()], col
        # by hand: the log's rec_loss at step 5,000 is the record of step 5,000, at 4 significant digits
        log_5000 = run.snapshot().frame.set_index("step").loc[5_000, "train/rec_loss"]
        assert shown["rec_loss (log)"][0] == f"{log_5000:#.4g}"
        at.number_input(key="from").set_value(6_000)
        at.number_input(key="until").set_value(16_000).run()
        shown = next(d.value for d in at.dataframe if list(d.value.columns[:3]) == ["milestone", "step", "checkpoint"])
        assert list(shown["milestone"]) == [2, 3]
    finally:
        st.cache_resource.clear()
