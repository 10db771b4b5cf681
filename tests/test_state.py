"""The run's state (analysis/state.py) with a controlled clock: simulator runs and hand-written logs on
real files whose modification time is set with os.utime; every description checked by hand."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from radiodash import open_run
from radiodash.analysis import analyze, live_header, run_state
from radiodash.simulate import SimConfig, write_run

T = 1_800_000_000.0  # the files' mtime in every test: "now" is T + the silence we want
DAY = 86_400.0


def snapshot_of(folder: Path, mtime: float = T):
    for f in folder.iterdir():
        os.utime(f, (mtime, mtime))
    run = open_run(folder)
    snap = run.snapshot()
    run.close()
    return snap


def simulated(tmp_path: Path, **kw):
    write_run(tmp_path / "run", SimConfig(**kw))
    return snapshot_of(tmp_path / "run")


HEADER = ("2025-08-15 20:00:00,000 {'model': {'lossconfig': {'kl_weight': 1e-06}}, 'trainer': {'lr': 5e-06, "
          "'train_num_steps': 1000, 'log_freq': 100, 'save_and_sample_every': 200}}\n")


def hand_log(tmp_path: Path, steps, tail: str = ""):
    (tmp_path / "run").mkdir()
    lines = [f"2025-08-15 20:00:{s // 20:02d},000 [Train Step] {s}/1000: train/rec_loss: 0.10000, lr: 0.00000, \n"
             for s in steps]
    (tmp_path / "run" / "2025-08-15-20-00_.log").write_text(HEADER + "".join(lines) + tail)
    return snapshot_of(tmp_path / "run")


@pytest.fixture
def unfinished(tmp_path):
    """Steps 0-50,000 of 150,000, a record every 100 steps, 20 s apart; the last write at T."""
    return simulated(tmp_path, stop_step=50_000)


def test_a_healthy_live_run_is_live_with_no_stall(unfinished):
    s = run_state(unfinished, now=T + 30)
    assert (s.state, s.silent_seconds, s.usual_interval_seconds, s.show_eta) == ("live", 30, 20, True)
    assert s.last_written == T and s.latest_step == 50_000 and s.total_steps == 150_000
    assert s.description == "live: last line 30 s ago, at step 50,000 of 150,000"
    assert s.last_log_time == unfinished.segments[-1].last_time  # the log's own clock, not the server's
    a = analyze(unfinished, now=T + 30)
    assert not {al.code for al in a.alerts} & {"stalled", "stopped"} and a.to_json()["state"] == "live"
    head = live_header(unfinished, a, now=T + 30)
    assert head.state.state == "live" and head.throughput.eta_seconds is not None


def test_stalled_past_ten_usual_intervals(unfinished):
    assert run_state(unfinished, now=T + 200).state == "live"  # 10 x 20 s is the limit, not yet past it
    s = run_state(unfinished, now=T + 14 * 60)
    assert (s.state, s.stall_after_seconds, s.show_eta) == ("stalled", 200, False)
    assert s.description == "stalled: no line for 14 min 00 s (usual 20 s), at step 50,000 of 150,000"
    a = analyze(unfinished, now=T + 14 * 60)
    assert "stalled" in {al.code for al in a.alerts} and a.to_json()["state"] == "stalled"
    head = live_header(unfinished, a, now=T + 14 * 60)
    assert head.throughput.eta_seconds is None and head.throughput.next_checkpoint_step is None


def test_stopped_after_an_hour_or_the_configured_time(unfinished):
    s = run_state(unfinished, now=T + 3.1 * DAY)
    assert s.state == "stopped" and s.description == "stopped 3.1 d ago at step 50,000 of 150,000"
    assert run_state(unfinished, now=T + 3600).state == "stalled"  # not past the hour yet
    assert run_state(unfinished, now=T + 14 * 60, stopped_after=600).description == \
        "stopped 14 min ago at step 50,000 of 150,000"
    a = analyze(unfinished, now=T + 3.1 * DAY)
    (alert,) = [al for al in a.alerts if al.code in ("stalled", "stopped")]
    assert alert.code == "stopped" and "without finishing" in alert.message


def test_a_diffusion_run_stopped_at_its_second_record(tmp_path):
    snap = simulated(tmp_path, stage="diffusion", lr=2e-5, train_num_steps=80_000, log_freq=500, stop_step=500)
    s = run_state(snap, now=T + 3.1 * DAY)
    assert s.description == "stopped 3.1 d ago at step 500 of 80,000" and s.usual_interval_seconds == 100


def test_finished_run_says_when_and_how_long_and_shows_no_eta(tmp_path):
    snap = simulated(tmp_path)  # 0-149,900 of 150,000 at 20 s a record, then "training complete"
    assert snap.segments[-1].completed
    s = run_state(snap, now=T + 3 * DAY)
    # first record at 20:41:07.512, the last 1,499 records x 20 s = 29,980 s later: 8 h 19 min 40 s
    assert (s.state, s.finished_at, s.duration_seconds, s.show_eta) == ("finished", T, 29_980, False)
    assert s.description == "finished 3.0 d ago after 8 h 19 min"
    a = analyze(snap, now=T + 3 * DAY)
    assert a.throughput.eta_seconds == pytest.approx(20)  # the analysis still has the figure...
    head = live_header(snap, a, now=T + 3 * DAY)
    assert head.throughput.eta_seconds is None  # ...but nothing shows an ETA for a finished run
    assert not {al.code for al in a.alerts} & {"stalled", "stopped"}


def test_finished_by_the_completion_message_or_by_the_last_step(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    early = hand_log(tmp_path / "a", range(0, 400, 100), "2025-08-15 20:00:40,000 training complete\n")
    assert early.segments[-1].completed and run_state(early, now=T + DAY).state == "finished"
    last = hand_log(tmp_path / "b", range(0, 1000, 100))  # 900 + log_freq 100 reaches 1,000; 0 to 45 s
    assert not last.segments[-1].completed
    s = run_state(last, now=T + DAY)
    assert s.state == "finished" and s.description == "finished 1.0 d ago after 45 s"


def test_unreachable_and_unknown_are_never_guessed(unfinished, tmp_path):
    s = run_state(replace(unfinished, unreachable_since=T + 60), now=T + 360)
    assert s.state == "unreachable"
    assert s.description == ("unreachable for 5 min 00 s: its files cannot be read now (last written 6 min ago, "
                             "at step 50,000 of 150,000)")
    s = run_state(replace(unfinished, last_write_time=None), now=T + 360)
    assert s.state == "unknown" and s.silent_seconds is None and not s.show_eta
    # a console capture: no timestamps, so no usual interval; its mtime still tells silence from progress
    write_run(tmp_path / "console", SimConfig(console=True, stop_step=5_000, train_num_steps=20_000))
    console = snapshot_of(tmp_path / "console")
    s = run_state(console, now=T + 30)
    assert s.state == "live" and s.usual_interval_seconds is None and "no timestamps" in s.description
    assert run_state(console, now=T + 2 * 3600).state == "stopped"
    assert run_state(replace(console, last_write_time=None), now=T).description.startswith("unknown")


@pytest.mark.parametrize("later", [0, 30, 199, 201, 14 * 60, 3600, 3601, 3.1 * DAY])
def test_restate_asks_an_earlier_state_again_by_the_same_rules(unfinished, tmp_path, later):
    """The run picker keeps a RunState, not the snapshot, of a run it does not follow: asked again
    later (nothing written since), it must say exactly what run_state says of the snapshot then."""
    from radiodash.analysis.state import restate

    finished = simulated(tmp_path / "f", train_num_steps=20_000)
    for snap in (unfinished, finished, replace(unfinished, last_write_time=None),
                 replace(unfinished, unreachable_since=T + 10)):
        early = run_state(snap, now=T + 5)
        assert restate(early, T + 5 + later) == run_state(snap, now=T + 5 + later)
    # by hand: live at 30 s, stalled past 200 s (10 x 20 s), stopped past the hour
    early = run_state(unfinished, now=T + 1)
    assert [restate(early, T + dt).state for dt in (30, 201, 3601)] == ["live", "stalled", "stopped"]
    assert restate(early, T + 3601).description == "stopped 1.0 h ago at step 50,000 of 150,000"
    assert "span_seconds" not in early.to_json() and "unreachable_since" not in early.to_json()
