"""The simulator writes the real format and the real dynamics (docs/log-format.md), with a truthful Truth."""
from __future__ import annotations

import re
import threading

import numpy as np
import pytest

from radiodash.simulate import SimConfig, lr_factor, render, write_run
from runcheck import parse_files

STEP_RE = re.compile(rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \[Train Step\] (\d+)/(\d+): (.*), \n$")


def _records(data: bytes) -> list[dict[str, float]]:
    out = []
    for line in data.splitlines(keepends=True):
        m = STEP_RE.match(line)
        if m:
            pairs = [p.split(b": ") for p in m.group(4).split(b", ")]
            out.append({"step": int(m.group(2)), **{k.decode(): float(v) for k, v in pairs}})
    return out


def test_vae_line_layout_matches_the_log_format():
    files, truth = render(SimConfig(train_num_steps=1000, log_freq=100))
    (name, data), = files.items()
    assert name == "2025-08-15-20-41_.log"
    lines = data.split(b"\n")
    assert lines[0].startswith(b"2025-08-15 20:41:03,512 {'model': {'embed_dim': 3, 'lossconfig': {'disc_start': 50001")
    assert re.match(rb"2025-08-15 20:41:07,512 \[Train Step\] 0/1000: train/total_loss: -?\d+\.\d{5}, train/logvar: "
                    rb"0\.00000, train/kl_loss: \d+\.\d{5}, train/nll_loss: \d+\.\d{5}, train/rec_loss: 0\.\d{5}, "
                    rb"train/d_weight: \d+\.\d{5}, train/disc_factor: 0\.00000, train/g_loss: -?\d\.\d{5}, "
                    rb"lr: 0\.0000\d, $", lines[1])
    assert truth.step_lines == 10 and truth.steps == list(range(0, 1000, 100))
    assert lines[-2] == b"2025-08-15 20:41:37,312 training complete" or lines[-2].endswith(b"training complete")


def test_loss_composition_holds_to_print_rounding():
    cfg = SimConfig(train_num_steps=150_000, log_freq=500, disc_start=50_001)
    files, truth = render(cfg)
    recs = _records(next(iter(files.values())))
    assert len(recs) == 300
    for r in recs:
        composed = r["train/nll_loss"] + 1e-6 * r["train/kl_loss"] + r["train/d_weight"] * r["train/disc_factor"] * r["train/g_loss"]
        assert abs(composed - r["train/total_loss"]) <= 1e-5 + 1e-9 * abs(composed)
    # disc_factor switches 0 -> 1 at disc_start (50,001 -> first logged step 50,500), and total goes negative
    off = [r["step"] for r in recs if r["train/disc_factor"] == 0.0]
    on = [r["step"] for r in recs if r["train/disc_factor"] == 1.0]
    assert max(off) == 50_000 and min(on) == 50_500
    assert (truth.last_off_step, truth.first_on_step) == (50_000, 50_500)
    assert np.median([r["train/total_loss"] for r in recs if r["step"] >= 50_500]) < 0
    assert min(r["train/total_loss"] for r in recs if r["step"] < 50_500) > 0
    # d_weight sits at its ceiling 1e4 * 0.5 most of the time, never above
    dw = np.array([r["train/d_weight"] for r in recs])
    assert (dw == 5000.0).mean() > 0.8 and dw.max() == 5000.0


def test_learning_rate_is_below_print_precision_and_follows_the_schedule():
    files, _ = render(SimConfig(train_num_steps=150_000, log_freq=10_000, lr=5e-6, min_lr=0.1))
    recs = _records(next(iter(files.values())))
    # step 0: 5e-6 prints 0.00001 (round half even of 0.000005 is ambiguous in binary: accept both)
    assert recs[0]["lr"] in (0.00001, 0.0)
    assert all(r["lr"] == 0.0 for r in recs[1:])
    # the factor at step 75,000 is 0.5 ** 0.95 = 0.51763...
    assert lr_factor(75_000, 150_000, 0.1) == pytest.approx(0.5 ** 0.95)
    assert lr_factor(149_999, 150_000, 0.1) == pytest.approx(0.1)  # floored at the min_lr factor


def test_gradient_accumulation_two_writes_two_lines_per_step():
    files, truth = render(SimConfig(train_num_steps=1000, log_freq=100, grad_accum=2))
    data = next(iter(files.values()))
    steps = [int(m) for m in re.findall(rb"\[Train Step\] (\d+)/", data)]
    assert steps == [s for s in range(0, 1000, 100) for _ in (0, 1)]
    second = data.split(b"\n")[2]
    assert b"train/disc_loss: " in second and b"train/logits_real" in second and b"train/total_loss" not in second
    assert truth.step_lines == 20 and len(truth.steps) == 10


def test_resume_starts_a_new_launch_file_at_the_milestone():
    cfg = SimConfig(train_num_steps=60_000, log_freq=100, save_and_sample_every=5_000, resume_at=23_456)
    files, truth = render(cfg)
    first, second = sorted(files)
    assert second > first
    assert b"'resume_milestone': 4" in files[second].split(b"\n")[0]
    assert re.search(rb"\[Train Step\] 20000/60000", files[second].split(b"\n")[1])
    assert max(int(s) for s in re.findall(rb"\[Train Step\] (\d+)/", files[first])) == 23_400
    assert (truth.resume_step, truth.resume_milestone) == (20_000, 4)
    assert truth.steps == list(range(0, 60_000, 100))
    snap = parse_files(files)
    assert [s.resumed_from_milestone for s in snap.segments] == [None, 4] or \
        [s.resumed_from_milestone for s in snap.segments] == [0, 4]
    assert snap.frame["step"].tolist() == truth.steps
    # steps 20,000..23,400 come from the later launch
    assert set(snap.frame.loc[snap.frame.step.between(20_000, 23_400), "segment"]) == {1}


def test_console_capture_has_no_timestamps_and_tqdm_redraws():
    files, truth = render(SimConfig(train_num_steps=2_000, log_freq=100, console=True))
    data = files["nohup.out"]
    assert not re.search(rb"^\d{4}-\d\d-\d\d ", data, re.M)
    assert b"\r[Train Step] 0/2000: " in data and b"it/s][Train Step] 100/2000: " in data
    snap = parse_files(files)
    assert snap.frame["step"].tolist() == truth.steps == list(range(0, 2000, 100))
    assert snap.frame["time"].isna().all()  # time unknown, not invented


def test_diffusion_stage_writes_the_yaml_block_config():
    files, truth = render(SimConfig(stage="diffusion", lr=2e-5, train_num_steps=80_000, log_freq=500))
    data = next(iter(files.values())).decode()
    lines = data.split("\n")
    assert lines[0].endswith(" data:") and lines[1] == "  batch_size: 2"
    assert "trainer:" in lines and "  train_num_steps: 80000" in lines
    assert re.match(r"\S+ \S+ \[Train Step\] 0/80000: loss_simple: \d\.\d{5}, loss_vlb: 0\.00000, total_loss: "
                    r"\d\.\d{5}, lr: 0\.00002, $", lines[lines.index("  train_num_steps: 80000") + 1])
    snap = parse_files(files)
    assert snap.segments[0].stage == "diffusion"
    assert snap.config["trainer"]["lr"] == 2e-5
    assert len(snap.frame) == len(truth.steps) == 160


def test_faults_nan_spike_and_stall_are_where_truth_says():
    cfg = SimConfig(train_num_steps=10_000, log_freq=100, nan_step=9_000, spike_steps=(3_000,), stall_step=5_000,
                    stall_seconds=600, seconds_per_step=0.1)
    files, truth = render(cfg)
    snap = parse_files(files)
    f = snap.frame.set_index("step")
    assert np.isnan(f.loc[9_000, "train/total_loss"]) and np.isfinite(f.loc[8_900, "train/total_loss"])
    assert f.loc[3_000, "train/rec_loss"] > 10 * f.loc[[2_900, 3_100], "train/rec_loss"].max()
    gaps = f["time"].diff().dt.total_seconds()
    assert gaps.loc[5_100] == pytest.approx(610) and gaps.drop(5_100).max() == pytest.approx(10)
    assert truth.stall_after_step == 5_000 and truth.spike_steps == [3_000] and truth.nan_step == 9_000


def test_write_run_appends_live_and_can_stop(tmp_path):
    stop = threading.Event()
    cfg = SimConfig(train_num_steps=1_000_000, log_freq=100)
    th = threading.Thread(target=write_run, args=(tmp_path, cfg), kwargs={"rate": 200, "stop": stop})
    th.start()
    stop.wait(0.5)
    stop.set()
    th.join(10)
    assert not th.is_alive()
    (log,) = tmp_path.glob("*_.log")
    data = log.read_bytes()
    assert data.endswith(b"\n") and 1 <= data.count(b"[Train Step]") < 10_000


def test_write_run_matches_render(tmp_path):
    cfg = SimConfig(train_num_steps=30_000, log_freq=100, resume_at=12_345, grad_accum=2, truncate_at=25_000)
    files, truth = render(cfg)
    live = write_run(tmp_path, cfg)
    for name, data in files.items():
        assert (tmp_path / name).read_bytes() == data
    assert live.steps == truth.steps and live.step_lines == truth.step_lines
    assert (tmp_path / (sorted(files)[-1] + ".1")).exists()  # the copytruncate copy
