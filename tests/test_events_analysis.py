"""The analysis with event files: per-step figures where they exist, each saying its source; hand-checked
expectations on simulator runs (`events=True`) and on runs written with tensorboardX's own SummaryWriter,
and the cases where it must stay silent."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiodash import open_run
from radiodash.analysis import analyze, snapshot_nan, written_nan
from radiodash.simulate import SimConfig, render

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


@pytest.mark.slow
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
    """A NaN cell is a written nan exactly where the store read a record of that tag at that step."""
    nan = np.nan
    ev = pd.DataFrame({"step": [0, 1, 2, 3], "wall_time": np.arange(4.0),
                       "loss": [0.5, nan, nan, nan], "debug/every_2": [1.0, nan, 2.0, nan]})
    written = pd.DataFrame({"step": [0, 1, 2, 3], "wall_time": np.arange(4.0),
                            "loss": [True, True, False, True], "debug/every_2": [True, False, True, False]})
    got = written_nan(ev, written)
    assert np.flatnonzero(got["loss"]).tolist() == [1, 3]  # row 2: no record (a cut step), not a nan
    assert not got["debug/every_2"].any()  # gaps of a tag written every other step are no values


@pytest.mark.slow
def test_the_store_knows_which_event_cells_were_written(tmp_path):
    """A nan the trainer wrote is a written cell; the tags a live file's last step was cut before are none."""
    snap, _, _ = folder_snapshot(tmp_path / "nan", SimConfig(train_num_steps=2_000, log_freq=100, events=True,
                                                               nan_step=1_500, seed=3))
    ev, wr = snap.events, snap.events_written
    assert list(wr.columns) == list(ev.columns) and len(wr) == len(ev)
    late = ev["step"] >= 1_500
    assert ev.loc[late, "total_loss"].isna().all() and wr.loc[late, "total_loss"].all()  # written nans
    assert ev.loc[~late, "total_loss"].notna().all() and wr["total_loss"].all()
    snap, _, _ = folder_snapshot(tmp_path / "cut", SimConfig(train_num_steps=2_000, log_freq=100, events=True,
                                                               stop_step=1_234, event_buffer_bytes=512))
    last = snap.events_written.iloc[-1]
    assert last["step"] == 1_234 and last[["Learning_Rate", "total_loss"]].all()
    assert not last[VAE_TAGS_1[2:]].any()  # the records the writer's flush has not written yet
