"""The simulator writes the real format and the real dynamics (docs/log-format.md), with a truthful Truth."""
from __future__ import annotations

import re
import threading
from decimal import Decimal

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
    # the last step (900) is logged 4 s after the header + 900 × 0.2 s: 20:41:07.512 + 180 s
    assert lines[-2] == b"2025-08-15 20:44:07,512 training complete"


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
    # step 0: 5e-6 prints 0.00001 (the double nearest 5e-6 is 5.0000000000000004e-06, above the half)
    assert Decimal(5e-6) > Decimal("0.000005")
    assert recs[0]["lr"] == 0.00001
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
    # the first launch says `resume_milestone: 0` but resumed from nothing; the second from milestone 4
    assert [s.resumed_from_milestone for s in snap.segments] == [None, 4]
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


# ------------------------------------------------------------------ the rest of the results folder

RESULTS = dict(train_num_steps=1_200, log_freq=100, save_and_sample_every=500, disc_start=601, events=True,
               samples=True)


def _decoded(data: bytes):
    from radiodash.tfevents import decode

    return decode(data)


def _by_tag(chunk) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """tag -> (steps, values) of one decoded file."""
    return {tag: (chunk.step[chunk.tag == i], chunk.value[chunk.tag == i]) for i, tag in enumerate(chunk.tags)}


@pytest.mark.slow
def test_results_folder_leaves_the_log_unchanged():
    for extra in (dict(), dict(grad_accum=2, resume_at=700), dict(stage="diffusion", lr=2e-5, resume_at=800)):
        cfg = {**RESULTS, **extra}
        plain, plain_truth = render(SimConfig(**{**cfg, "events": False, "samples": False}))
        full, truth = render(SimConfig(**cfg))
        assert truth.files == plain_truth.files
        assert {n: full[n] for n in truth.files} == plain
        assert truth.steps == plain_truth.steps


@pytest.mark.parametrize("stage, accum, tags", [
    ("vae", 2, ("Learning_Rate", "total_loss", "rec_loss", "kl_loss", "d_weight", "disc_factor", "g_loss",
                "disc_loss", "logits_real", "logits_fake")),
    ("vae", 1, ("Learning_Rate", "total_loss", "rec_loss", "kl_loss", "d_weight", "disc_factor", "g_loss")),
    ("diffusion", 1, ("Learning_Rate", "total_loss", "loss_simple", "loss_vlb")),
])
def test_event_file_has_every_tag_at_every_step(stage, accum, tags):
    files, truth = render(SimConfig(**RESULTS, stage=stage, grad_accum=accum, lr=5e-6 if stage == "vae" else 2e-5))
    (name,) = truth.event_files
    assert re.fullmatch(r"events\.out\.tfevents\.\d{10}\.sim-host\.\d+\.0", name)
    assert int(name.split(".")[3]) == int(SimConfig().start_time.timestamp())  # the launch's unix time
    chunk = _decoded(files[name])
    assert chunk.file_version == "brain.Event:2" and chunk.notices == []
    assert chunk.tags == tags == truth.event_tags
    assert chunk.records == 1 + 1_200 * len(tags) == truth.event_records[name]
    for steps, _ in _by_tag(chunk).values():
        assert steps.tolist() == list(range(1_200))
    assert truth.event_steps == list(range(1_200)) and truth.event_tail_bytes[name] == 0


def test_learning_rate_is_one_step_ahead_of_the_log():
    cfg = SimConfig(**RESULTS, lr=5e-6, min_lr=0.1)
    files, truth = render(cfg)
    steps, lr = _by_tag(_decoded(files[truth.event_files[0]]))["Learning_Rate"]
    after = np.float32(5e-6 * lr_factor(steps + 1, 1_200, 0.1)).astype(np.float64)
    before = np.float32(5e-6 * lr_factor(steps, 1_200, 0.1)).astype(np.float64)
    assert np.array_equal(lr, after)  # written after the scheduler stepped
    assert not np.array_equal(lr[1:], before[1:])


@pytest.mark.slow
def test_event_values_match_the_log_by_the_accumulation_definitions():
    # VAE, accumulation 2: total_loss = (autoencoder loss + discriminator loss) / 2; the rest as logged
    files, truth = render(SimConfig(**RESULTS, grad_accum=2))
    log = next(iter(files.values()))
    per_step: dict[int, dict[str, float]] = {}
    for r in _records(log):  # the two lines of a step merge into one record
        per_step.setdefault(r["step"], {}).update(r)
    events = _by_tag(_decoded(files[truth.event_files[0]]))
    for step, rec in per_step.items():
        for tag in ("rec_loss", "kl_loss", "d_weight", "disc_factor", "g_loss"):  # composed from printed values
            assert events[tag][1][step] == np.float32(rec["train/" + tag]), (step, tag)
        for tag in ("disc_loss", "logits_real", "logits_fake"):  # the log prints them to 5 decimals
            assert abs(events[tag][1][step] - rec["train/" + tag]) <= 5e-6 + 1e-7, (step, tag)
        expected = (rec["train/total_loss"] + rec["train/disc_loss"]) / 2
        assert abs(events["total_loss"][1][step] - expected) <= 2.5e-6 + 6e-8 * abs(expected)
        # so the event total is not the log's total (once the two losses differ)
        if abs(rec["train/disc_loss"] - rec["train/total_loss"]) > 1:
            assert abs(events["total_loss"][1][step] - rec["train/total_loss"]) > 0.4
    # LDM, accumulation 2: total_loss is the mean loss; loss_simple the last micro-batch / 2 (about half the mean)
    files, truth = render(SimConfig(**RESULTS, stage="diffusion", lr=2e-5, grad_accum=2))
    log_recs = _records(next(iter(files.values())))
    events = _by_tag(_decoded(files[truth.event_files[0]]))
    for rec in log_recs:
        step = rec["step"]
        assert events["total_loss"][1][step] == np.float32(rec["total_loss"])
        assert 0.35 < events["loss_simple"][1][step] / rec["loss_simple"] < 0.65


@pytest.mark.slow
def test_a_crashed_launch_loses_its_unflushed_records_and_a_live_file_ends_mid_record():
    cfg = SimConfig(**{**RESULTS, "train_num_steps": 3_000}, grad_accum=2, resume_at=1_234, flush_secs=60,
                    stop_step=2_345)
    files, truth = render(cfg)
    crashed, live = truth.event_files
    assert crashed < live  # launch order by the unix time in the name
    # the crashed launch logged up to step 1,234; its file holds less (the buffer since the last flush is lost)
    assert truth.event_file_steps[crashed][0] == 0 and truth.event_file_steps[crashed][-1] < 1_234
    assert truth.event_tail_bytes[crashed] > 0  # and it ends inside a record
    # the resumed launch re-writes from milestone 2 (step 1,000); it is still running: its tail waits
    assert truth.event_file_steps[live][0] == 1_000 and truth.event_file_steps[live][-1] < 2_345
    from radiodash.tfevents import EventDecoder

    dec = EventDecoder()
    chunk = dec.feed(files[live])
    assert dec.pending_bytes == truth.event_tail_bytes[live] > 0 and chunk.notices == []
    assert chunk.records == truth.event_records[live]
    assert truth.event_steps == list(range(0, 1_000)) + truth.event_file_steps[live]


@pytest.mark.slow
def test_milestones_write_checkpoints_and_samples_with_their_sizes():
    from PIL import Image
    import io

    files, truth = render(SimConfig(**RESULTS, grad_accum=2))
    assert truth.milestones == [1, 2] and truth.checkpoints == ["model-1.pt", "model-2.pt"]
    assert truth.samples == ["sample-1.png", "sample-2.png"]
    assert all(2_000 < len(files[n]) < 10_000 for n in truth.checkpoints)
    assert Image.open(io.BytesIO(files["sample-1.png"])).size == (260, 518)  # 2 tiles of 256², padding 2
    files, truth = render(SimConfig(**RESULTS, stage="diffusion", lr=2e-5, resume_at=700))
    assert truth.samples == ["sample-0_50.png", "gt-sample-1.png", "sample-1.png", "sample-1_50.png",
                             "gt-sample-2.png", "sample-2.png"]
    for name in truth.samples:
        img = Image.open(io.BytesIO(files[name]))
        assert (img.size, img.mode) == ((256, 256), "RGB")


def test_images_are_written_in_two_parts():
    from radiodash.samples import check_image
    from radiodash.simulate import _events, _Results, Truth

    cfg = SimConfig(**RESULTS)
    truth = Truth()
    seen: dict[str, bytes] = {}
    states: dict[str, list[str]] = {}
    for w in _events(cfg, truth, _Results(cfg, truth, clock=lambda t: t)):
        if w.data is not None and w.file.endswith(".png"):
            seen[w.file] = w.data if w.create else seen[w.file] + w.data
            states.setdefault(w.file, []).append(check_image(seen[w.file]).status)
    assert states == {"sample-1.png": ["incomplete", "ok"], "sample-2.png": ["incomplete", "ok"]}


@pytest.mark.slow
def test_write_run_matches_render_for_the_whole_folder(tmp_path):
    cfg = SimConfig(**{**RESULTS, "train_num_steps": 2_000}, stage="diffusion", lr=2e-5, resume_at=1_234,
                    header_only_launch=True, flush_secs=30)
    files, truth = render(cfg)
    live = write_run(tmp_path, cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)
    for name, data in files.items():
        assert (tmp_path / name).read_bytes() == data, name
    assert len(truth.event_files) == 3  # the header-only launch left a file with only its version record
    assert truth.event_records[truth.event_files[1]] == 1 and truth.event_file_steps[truth.event_files[1]] == []
    for field in ("event_files", "event_records", "event_file_steps", "event_tail_bytes", "event_steps", "samples",
                  "checkpoints", "milestones"):
        assert getattr(live, field) == getattr(truth, field), field


def test_realtime_writing_uses_the_wall_clock_for_event_times(tmp_path):
    import time as _time

    before = _time.time()
    truth = write_run(tmp_path, SimConfig(**{**RESULTS, "train_num_steps": 300}), realtime_timestamps=True)
    after = _time.time()
    chunk = _decoded((tmp_path / truth.event_files[0]).read_bytes())
    assert before - 1 <= int(truth.event_files[0].split(".")[3]) <= after
    assert before - 1 <= chunk.wall_time.min() and chunk.wall_time.max() <= after + 1
