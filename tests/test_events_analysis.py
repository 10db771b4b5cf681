"""The analysis with event files: per-step figures where they exist, each saying its source; hand-checked
expectations on simulator runs (`events=True`) and on runs written with tensorboardX's own SummaryWriter,
and the cases where it must stay silent."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiodash import open_run
from radiodash.analysis import analyze, checkpoint_table, snapshot_nan, written_nan
from radiodash.analysis.checkpoints import cell_text
from radiodash.simulate import SimConfig, render
from radiodash.text import log_number
from runcheck import parse_files

VAE_TAGS_1 = ["Learning_Rate", "total_loss", "rec_loss", "kl_loss", "d_weight", "disc_factor", "g_loss"]


def folder_snapshot(folder: Path, cfg: SimConfig):
    """Write a simulated run into `folder` and read it as the dashboard does (logs, event files, listing)."""
    files, truth = render(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    run = open_run(folder)
    snap = run.snapshot()
    run.close()
    return snap, truth, files


def kinds(a, kind: str):
    return [e for e in a.events if e.kind == kind]


# ---------------------------------------------------------------- non-finite values


def test_non_finite_values_from_the_event_values_are_exact_and_the_log_is_named_too(tmp_path):
    # nan from step 1,450: the log (one record every 100 steps) first shows it at 1,500
    snap, truth, _ = folder_snapshot(tmp_path / "run", SimConfig(train_num_steps=2_000, log_freq=100,
                                                                   save_and_sample_every=500, events=True,
                                                                   nan_step=1_450))
    a = analyze(snap, now=0)
    by_source = {e.detail["source"]: e for e in kinds(a, "non_finite")}
    ev, log = by_source["events"], by_source["log"]
    # the simulator breaks the autoencoder's losses: total_loss, rec_loss, kl_loss, g_loss at every step from 1,450
    assert ev.step == 1_450 and ev.detail["metrics"] == ["g_loss", "kl_loss", "rec_loss", "total_loss"]
    assert ev.detail["cells"] == 4 * (2_000 - 1_450) and ev.detail["values"] == ["nan"]
    assert set(ev.detail["first_step_per_metric"].values()) == {1_450} and ev.time is None
    assert log.step == 1_500 and log.detail["cells"] == 5 * 5  # 5 log metrics × records 1,500…1,900
    (alert,) = [x for x in a.alerts if x.code == "non_finite_loss"]
    assert alert.step == 1_450 and alert.detail["source"] == "events" and alert.detail["log"]["step"] == 1_500
    assert alert.message.startswith("Non-finite values (nan/inf) from step 1,450 in the per-step event values: "
                                    "g_loss from step 1,450, kl_loss from step 1,450")
    assert "2,200 values in all (g_loss: 550" in alert.message
    assert "From step 1,500 in the log: train/g_loss from step 1,500" in alert.message
    j = a.to_json()
    assert sorted(e["source"] for e in j["events"] if e["kind"] == "non_finite") == ["events", "log"]


def test_a_live_event_file_cut_inside_a_step_is_no_nan(tmp_path):
    # stopped at step 1,234 with 512-byte writer blocks: the file ends inside step 1,234's records
    snap, _, _ = folder_snapshot(tmp_path / "run", SimConfig(train_num_steps=2_000, log_freq=100,
                                                               save_and_sample_every=500, events=True,
                                                               stop_step=1_234, event_buffer_bytes=512))
    last = snap.events.iloc[-1]
    assert last["step"] == 1_234 and last[["Learning_Rate", "total_loss"]].notna().all()
    assert last[VAE_TAGS_1[2:]].isna().all()  # the precondition: a step cut after its second tag
    a = analyze(snap, now=0)
    assert not kinds(a, "non_finite") and "non_finite_loss" not in {x.code for x in a.alerts}
    assert not any(m.any() for m in snapshot_nan(snap).values())


def test_written_nan_by_hand():
    """Which NaN cells are values the trainer wrote, on a table made by hand."""
    nan = np.nan
    ev = pd.DataFrame({
        "step": [0, 1, 2, 3, 4, 5, 6, 7],
        "wall_time": np.arange(8.0),
        "Learning_Rate": [1.0] * 8,
        "launch1_all_nan": [nan, nan, nan, nan, 1.0, 1.0, 1.0, 1.0],  # launch 1: never a value, so not known
        "loss": [0.5, 0.4, nan, 0.3, nan, nan, 0.2, nan],  # written every step; its nans at 2, 4, 5 are values
        "debug/every_2": [1.0, nan, 2.0, nan, 3.0, nan, 4.0, nan],  # a fork's tag every 2 steps: gaps, not nans
        "launch2_only": [nan, nan, nan, nan, 5.0, 5.0, nan, nan],  # written only by the launch starting at 4
        "last": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, nan],  # written after `loss`: row 7 is cut before it
    })
    got = written_nan(ev, starts=[0, 4])
    assert np.flatnonzero(got["loss"]).tolist() == [2, 4, 5]  # row 7: nothing written after it, so not known
    assert not got["debug/every_2"].any() and not got["Learning_Rate"].any() and not got["last"].any()
    assert np.flatnonzero(got["launch2_only"]).tolist() == [6]  # rows 0–3 are launch 1's: it never wrote the tag
    assert not got["launch1_all_nan"].any()
    ev.loc[7, "last"] = 1.0  # a tag written after `loss` is there: row 7 is complete, its nan a value
    assert np.flatnonzero(written_nan(ev, starts=[0, 4])["loss"]).tolist() == [2, 4, 5, 7]


# ---------------------------------------------------------------- spikes


def test_spikes_at_steps_the_log_never_shows_and_no_duplicates(tmp_path):
    snap, _, _ = folder_snapshot(tmp_path / "run", SimConfig(train_num_steps=6_000, log_freq=100,
                                                               save_and_sample_every=1_000, events=True,
                                                               spike_steps=(1_234, 3_300)))
    a = analyze(snap, now=0)
    found = sorted((e.step, e.detail["metric"], e.detail["source"]) for e in kinds(a, "spike"))
    # rec_loss is ×20 at the spike steps, and total_loss with it (nll_loss = rec_loss × pixels dominates it);
    # 1,234 is no log step; 3,300 is, and the log's own spike there is not reported twice
    assert found == [(1_234, "rec_loss", "events"), (1_234, "total_loss", "events"),
                     (3_300, "rec_loss", "events"), (3_300, "total_loss", "events")]
    e = next(e for e in kinds(a, "spike") if e.step == 1_234 and e.detail["metric"] == "rec_loss")
    assert e.detail["ratio"] == pytest.approx(20, rel=0.25) and e.detail["wall_time"] == \
        snap.events.set_index("step").loc[1_234, "wall_time"]
    (alert,) = [x for x in a.alerts if x.code == "loss_spike"]
    assert alert.detail["source"] == "events" and " in the per-step event values at step " in alert.message
    # the same log alone: only the logged spike, from the log
    alone = analyze(parse_files({k: v for k, v in _files(tmp_path / "run").items() if k.endswith(".log")}), now=0)
    assert sorted({e.step for e in kinds(alone, "spike")}) == [3_300]
    assert {e.detail["source"] for e in kinds(alone, "spike")} == {"log"}
    (alert,) = [x for x in alone.alerts if x.code == "loss_spike"]
    assert " in the log" not in alert.message and "per-step" not in alert.message  # one source: said as always


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_spike_the_event_file_has_not_received_yet_comes_from_the_log(tmp_path):
    # the writer flushes every 400 s (2,000 steps at 0.2 s): events reach ~4,000 while the log is at 5,000
    snap, _, _ = folder_snapshot(tmp_path / "run", SimConfig(train_num_steps=10_000, log_freq=100,
                                                               save_and_sample_every=1_000, events=True,
                                                               stop_step=5_000, flush_secs=400,
                                                               event_buffer_bytes=10**9, spike_steps=(4_500,)))
    assert 3_900 <= snap.events["step"].iloc[-1] < 4_500
    a = analyze(snap, now=0)
    assert {(e.step, e.detail["source"]) for e in kinds(a, "spike")} == {(4_500, "log")}
    (alert,) = [x for x in a.alerts if x.code == "loss_spike"]
    assert " in the log at step 4,500" in alert.message


# ---------------------------------------------------------------- the learning rate


def test_the_lr_alert_gives_the_exact_learning_rate_one_step_ahead(tmp_path):
    snap, _, _ = folder_snapshot(tmp_path / "run", SimConfig(train_num_steps=2_000, log_freq=100, lr=5e-6,
                                                               min_lr=0.1, save_and_sample_every=500, events=True,
                                                               stop_step=1_000, flush_secs=1))
    last = int(snap.events["step"].iloc[-1])
    assert 990 <= last <= 1_000
    a = analyze(snap, now=0)
    (lr,) = [x for x in a.alerts if x.code == "lr_below_log_precision"]
    # Learning_Rate written at step s, after the scheduler stepped: 5e-6 × (1 - (s + 1)/2,000)^0.95, in float32
    want = float(np.float32(5e-6 * max((1 - (last + 1) / 2_000) ** 0.95, 0.1)))
    assert lr.detail == {"lr": want, "lr_step": last + 1, "event_step": last, "source": "events"}
    assert lr.step == last + 1
    assert f"the optimizer's lr is {want:.4g} at step {last + 1:,}, exactly, in the per-step event values " \
           f"(Learning_Rate written at step {last:,}" in lr.message
    # the log alone: reconstructed from the config at its last logged step, as before
    alone = analyze(parse_files({k: v for k, v in _files(tmp_path / "run").items() if k.endswith(".log")}), now=0)
    (lr,) = [x for x in alone.alerts if x.code == "lr_below_log_precision"]
    assert lr.detail["source"] == "log" and lr.detail["reconstructed_lr"] == pytest.approx(5e-6 * 0.5 ** 0.95)


def test_clean_runs_with_event_files_stay_silent(tmp_path):
    for i, kw in enumerate((dict(), dict(grad_accum=2, resume_at=9_876, disc_start=10_001),
                            dict(stage="diffusion", lr=2e-5, log_freq=500),
                            dict(grad_accum=2, stop_step=12_345, event_buffer_bytes=700))):
        snap, _, _ = folder_snapshot(tmp_path / f"run{i}", SimConfig(train_num_steps=20_000, save_and_sample_every=2_000,
                                                                      events=True, **kw))
        assert len(snap.events) > 10_000, kw
        a = analyze(snap, now=0)
        assert not {e.kind for e in a.events} & {"spike", "non_finite"}, kw
        codes = {x.code for x in a.alerts}
        assert not codes & {"loss_spike", "non_finite_loss"}, kw
        if kw.get("stage") == "diffusion":  # lr 2e-5 prints 0.00002: nothing to say about it
            assert "lr_below_log_precision" not in codes


# ---------------------------------------------------------------- change points on the per-step series


def _hand_run(folder: Path, kink: int | None, steps: int = 8_000) -> None:
    """A log (every 100 steps, 5 decimals) and an event file written by tensorboardX's SummaryWriter, both of
    rec_loss falling in a straight line to 0.02 at `kink` and flat after it (no kink: one straight fall)."""
    from tensorboardX import SummaryWriter

    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    s = np.arange(steps)
    rec = (0.1 - 0.08 * np.minimum(s, kink) / kink) if kink else 0.1 - 0.08 * s / steps
    rec = rec + 0.0005 * rng.standard_normal(steps)
    lines = ["2025-08-15 20:00:00,000 {'model': {'lossconfig': {'kl_weight': 1e-06}}, 'trainer': {"
             f"'gradient_accumulate_every': 1, 'lr': 5e-05, 'train_num_steps': {steps}, "
             "'save_and_sample_every': 2000, 'log_freq': 100}}\n"]
    for k in range(0, steps, 100):
        t = 1 + k // 100
        lines.append(f"2025-08-15 20:{t // 60:02d}:{t % 60:02d},000 [Train Step] {k}/{steps}: train/total_loss: "
                     f"{rec[k] * 2:.5f}, train/rec_loss: {rec[k]:.5f}, lr: 0.00005, \n")
    (folder / "2025-08-15-20-00_.log").write_text("".join(lines))
    with SummaryWriter(str(folder)) as w:
        for k in range(steps):
            w.add_scalar("Learning_Rate", 5e-5, k, walltime=1_755_288_000 + k * 0.6)
            w.add_scalar("total_loss", float(rec[k] * 2), k, walltime=1_755_288_000 + k * 0.6)
            w.add_scalar("rec_loss", float(rec[k]), k, walltime=1_755_288_000 + k * 0.6)


def _analysis(folder: Path):
    run = open_run(folder)
    snap = run.snapshot()
    run.close()
    return snap, analyze(snap, now=0)


def test_a_bend_is_placed_at_its_step_from_the_event_values(tmp_path):
    _hand_run(tmp_path / "run", kink=3_456)
    snap, a = _analysis(tmp_path / "run")
    assert len(snap.events) == 8_000
    assert len(a.phases) == 2
    cp = a.phases[1].change_point
    assert cp["source"] == "events" and cp["metric"] == "rec_loss" and abs(cp["step"] - 3_456) <= 30
    assert a.phases[1].start_step == -(-cp["step"] // 100) * 100  # the first logged step at or after it
    assert a.phases[0].change_point is None and a.phases[1].source == "log"
    assert a.phases[1].description.startswith("log records: rec_loss flat")
    assert a.phases[1].description.endswith(f"begins at a change point of rec_loss at step {cp['step']:,} in the "
                                            "per-step event values")
    j = json.loads(json.dumps(a.to_json(), allow_nan=False))
    assert j["phases"][1]["change_point"] == cp and j["phases"][1]["source"] == "log"
    # the log alone finds the bend too, at a logged step, and says nothing of sources
    alone = analyze(parse_files({p.name: p.read_bytes() for p in (tmp_path / "run").glob("*_.log")}), now=0)
    assert [p.change_point and p.change_point["source"] for p in alone.phases] == [None, "log"]
    assert alone.phases[1].change_point["step"] % 100 == 0 and not alone.phases[1].description.startswith("log")


def test_a_straight_fall_is_one_phase_with_event_values(tmp_path):
    _hand_run(tmp_path / "run", kink=None)
    _, a = _analysis(tmp_path / "run")
    assert len(a.phases) == 1 and a.phases[0].change_point is None


# ---------------------------------------------------------------- the checkpoint table and the sources


def _log_values(log: str, step: int) -> dict[str, str]:
    line = next(ln for ln in log.splitlines() if f"[Train Step] {step}/" in ln and "rec_loss" in ln)
    return dict(re.findall(r"(\S+): ([-\d.naif]+),", line.split(": ", 1)[1]))


def test_checkpoint_table_by_hand(tmp_path):
    folder = tmp_path / "run"
    snap, truth, files = folder_snapshot(folder, SimConfig(train_num_steps=3_000, log_freq=100, save_and_sample_every=500,
                                                           grad_accum=2, disc_start=1_501, events=True, samples=True))
    t = checkpoint_table(snap)
    # model-1…6.pt: the last one is saved after step 2,999, past the last log record (2,900)
    assert t["milestone"].tolist() == [1, 2, 3, 4, 5, 6] and t["step"].tolist() == [500, 1_000, 1_500, 2_000, 2_500,
                                                                                    3_000]
    assert (t["checkpoint_status"] == "on disk").all() and (t["size_bytes"] == 4_096).all()
    assert t["sample"].tolist() == [f"sample-{k}.png" for k in range(1, 7)] and t["gt_sample"].isna().all()
    assert t["log_step"].tolist() == [500, 1_000, 1_500, 2_000, 2_500, 2_900]
    assert t["event_step"].tolist() == [500, 1_000, 1_500, 2_000, 2_500, 2_999]
    mtimes = {e.name: e.stat.mtime for e in snap.artifacts}
    assert t["mtime"].tolist() == [mtimes[f"model-{k}.pt"] for k in range(1, 7)]
    # values read off the log line and off tensorboard's own reader
    logged = _log_values(files[truth.files[0]].decode(), 1_500)
    row = t.iloc[2]
    assert cell_text(row, "rec_loss (log)") == log_number(float(logged["train/rec_loss"]))
    assert cell_text(row, "total_loss (log)") == log_number(float(logged["train/total_loss"]))
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    ea = EventAccumulator(str(folder / truth.event_files[0]), size_guidance={SCALARS: 0})
    ea.Reload()
    for tag in ("total_loss", "rec_loss", "Learning_Rate"):
        want = next(p.value for p in ea.Scalars(tag) if p.step == 1_500)
        assert row[f"{tag} (events)"] == want
    # under accumulation 2 the event total_loss is (autoencoder + discriminator loss) / 2: another quantity
    assert row["total_loss (events)"] != pytest.approx(float(logged["train/total_loss"]), rel=0.1)
    a = analyze(snap, now=0)
    assert a.sources == {"log": {"records": 30}, "events": {"steps": 3_000, "tags": list(truth.event_tags),
                                                            "first_step": 0, "last_step": 2_999,
                                                            "same_quantities_as_log": False,
                                                            "gradient_accumulate_every": 2}}
    # a checkpoint deleted: still a row, "not on disk"; a window keeps its milestones only
    (folder / "model-2.pt").unlink()
    snap2 = open_run(folder).snapshot()
    t2 = checkpoint_table(snap2)
    assert t2.loc[t2.milestone == 2, "checkpoint_status"].item() == "not on disk"
    assert t2.loc[t2.milestone == 2, "size_bytes"].isna().item()
    assert checkpoint_table(snap2, 1_000, 2_000)["milestone"].tolist() == [2, 3, 4]
    # a log read on its own: the milestones it reached, no listing, no event values
    alone = checkpoint_table(parse_files({truth.files[0]: files[truth.files[0]]}))
    assert alone["milestone"].tolist() == [1, 2, 3, 4, 5] and set(alone["checkpoint_status"]) == {"not in the listing"}
    assert not [c for c in alone.columns if c.endswith("(events)")]
    assert analyze(parse_files({truth.files[0]: files[truth.files[0]]}), now=0).sources == {
        "log": {"records": 30}, "events": {"steps": 0, "tags": []}}


def test_cell_text_tells_a_written_nan_from_no_value(tmp_path):
    snap, _, _ = folder_snapshot(tmp_path / "run", SimConfig(train_num_steps=2_000, log_freq=100, save_and_sample_every=500,
                                                               grad_accum=1, events=True, samples=True, nan_step=1_250))
    t = checkpoint_table(snap).set_index("milestone", drop=False)
    assert cell_text(t.loc[3], "rec_loss (events)") == "nan" and cell_text(t.loc[3], "rec_loss (log)") == "nan"
    assert cell_text(t.loc[2], "rec_loss (events)") == log_number(t.loc[2, "rec_loss (events)"])
    assert cell_text(t.loc[3], "d_weight (events)") != "nan"  # d_weight keeps its value after the losses broke
    # accumulation 1 writes no discriminator tags and the log no disc_loss: nothing there, never "nan"
    assert "disc_loss (events)" not in t.columns and "disc_loss (log)" not in t.columns
