"""Analysis against hand-computed figures (small hand-written logs) and simulator ground truth."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from radiodash import open_run
from radiodash.analysis import analyze
from radiodash.simulate import SimConfig, render
from runcheck import parse_files

# step, seconds since start, rec_loss, kl_loss, nll_loss, d_weight, disc_factor, g_loss
ROWS = [
    (0, 0, 0.5, 1000.0, 3000.0, 5000.0, 0.0, -0.4),
    (100, 10, 0.4, 1100.0, 2500.0, 5000.0, 0.0, -0.4),
    (200, 20, 0.3, 1200.0, 2000.0, 5000.0, 0.0, -0.4),
    (300, 30, 0.35, 1300.0, 1800.0, 5000.0, 0.0, -0.4),
    (400, 40, 0.2, 1400.0, 1600.0, 5000.0, 1.0, -0.5),
    (500, 50, 0.25, 1500.0, 1500.0, 1234.5, 1.0, -0.5),
    (600, 60, 0.1, 1600.0, 1400.0, 5000.0, 1.0, -0.5),
]


def config_line(accum: int = 1, lr: float = 5e-06, disc_weight: float = 0.5) -> str:
    return ("2025-08-15 20:00:00,000 {'model': {'embed_dim': 3, 'lossconfig': {'disc_start': 301, 'kl_weight': 1e-06, "
            f"'disc_weight': {disc_weight}}}}}, 'data': {{'batch_size': 2}}, 'trainer': {{'gradient_accumulate_every': "
            f"{accum}, 'lr': {lr}, 'min_lr': 0.1, 'train_num_steps': 1000, 'save_and_sample_every': 200, "
            "'log_freq': 100, 'resume_milestone': 0}}\n")


def step_lines(rows=ROWS, accum: int = 1, lr_text: str = "0.00000", gap_after: int | None = None,
               gap: int = 0, total_offset: float = 0.0) -> str:
    out = []
    for step, sec, rec, kl, nll, dw, df, g in rows:
        if gap_after is not None and step > gap_after:
            sec += gap
        total = nll + 1e-6 * kl + dw * df * g + total_offset
        ts = f"2025-08-15 20:00:{sec:02d},000" if sec < 60 else f"2025-08-15 20:{sec // 60:02d}:{sec % 60:02d},000"
        out.append(f"{ts} [Train Step] {step}/1000: train/total_loss: {total:.5f}, train/logvar: 0.00000, "
                   f"train/kl_loss: {kl:.5f}, train/nll_loss: {nll:.5f}, train/rec_loss: {rec:.5f}, "
                   f"train/d_weight: {dw:.5f}, train/disc_factor: {df:.5f}, train/g_loss: {g:.5f}, lr: {lr_text}, \n")
        if accum == 2:
            out.append(f"{ts} [Train Step] {step}/1000: train/disc_loss: {df:.5f}, train/logits_real: 0.10000, "
                       f"train/logits_fake: -0.10000, lr: {lr_text}, \n")
    return "".join(out)


def analysis_of(tmp_path, text: str, **kw):
    log = tmp_path / "2025-08-15-20-00_.log"
    log.write_text(text)
    run = open_run(tmp_path)
    snap = run.snapshot()
    run.close()
    return snap, analyze(snap, now=0, **kw)


def codes(a) -> set[str]:
    return {x.code for x in a.alerts}


def test_throughput_eta_and_checkpoints_by_hand(tmp_path):
    _, a = analysis_of(tmp_path, config_line() + step_lines())
    tp = a.throughput
    assert tp.steps_per_hour == pytest.approx(600 / 60 * 3600)  # 36,000 steps per hour
    assert tp.lines_per_hour == pytest.approx(6 / 60 * 3600)  # 360 log lines per hour, 100x fewer
    assert tp.eta_seconds == pytest.approx(400 / 36000 * 3600)  # 40 s to step 1,000
    assert tp.next_checkpoint_step == 800 and tp.eta_next_checkpoint_seconds == pytest.approx(20)
    assert tp.elapsed_seconds == 60 and tp.typical_interval_seconds == 10
    assert [(e.step, e.detail["milestone"]) for e in a.events if e.kind == "checkpoint"] == [(200, 1), (400, 2), (600, 3)]
    assert a.checkpoints["train/rec_loss"].tolist() == [0.3, 0.2, 0.1]


def test_statistics_by_hand(tmp_path):
    _, a = analysis_of(tmp_path, config_line() + step_lines())
    rec = a.stats["train/rec_loss"]
    assert (rec["first"], rec["last"], rec["min"], rec["min_step"], rec["max"], rec["max_step"]) == \
        (0.5, 0.1, 0.1, 600, 0.5, 0)
    assert rec["mean"] == pytest.approx(2.1 / 7) and rec["median"] == 0.3
    assert rec["std"] == pytest.approx(math.sqrt(sum((x[2] - 0.3) ** 2 for x in ROWS) / 6))
    assert rec["abs_change"] == pytest.approx(-0.4) and rec["rel_change"] == pytest.approx(-0.8)
    # total_loss: 3000.001 at step 0, 1400.0016 - 2500 < 0 at step 600: it crosses zero, no relative change
    tot = a.stats["train/total_loss"]
    assert tot["first"] == pytest.approx(3000.001) and tot["last"] == pytest.approx(1400.0016 - 2500)
    assert tot["rel_change"] is None


def test_discriminator_switch_bracket_and_alerts(tmp_path):
    _, a = analysis_of(tmp_path, config_line() + step_lines())
    assert (a.disc.configured_step, a.disc.last_off_step, a.disc.first_on_step) == (301, 300, 400)
    (ev,) = [e for e in a.events if e.kind == "discriminator_on"]
    assert ev.step == 400 and ev.detail == {"configured_step": 301, "last_off_step": 300}
    assert {"lr_below_log_precision", "d_weight_at_clamp", "discriminator_never_updated",
            "total_loss_driven_by_adversarial_term"} <= codes(a)
    assert "decomposition_mismatch" not in codes(a)
    clamp = next(x for x in a.alerts if x.code == "d_weight_at_clamp")
    assert clamp.detail["clamp"] == 5000 and clamp.detail["share_at_clamp"] == pytest.approx(6 / 7)
    lr = next(x for x in a.alerts if x.code == "lr_below_log_precision")
    assert lr.detail["reconstructed_lr"] == pytest.approx(5e-6 * 0.4 ** 0.95)  # step 600 of 1,000
    assert "2.09e-06" in lr.message
    adv = next(x for x in a.alerts if x.code == "total_loss_driven_by_adversarial_term")
    # means before (steps 0-300) and after (400-600) the switch, by hand
    before_total = sum(r[4] + 1e-6 * r[3] for r in ROWS[:4]) / 4
    after_total = sum(r[4] + 1e-6 * r[3] + r[5] * r[6] * r[7] for r in ROWS[4:]) / 3
    adv_after = sum(r[5] * r[6] * r[7] for r in ROWS[4:]) / 3
    assert adv.detail["drop"] == pytest.approx(before_total - after_total, abs=1e-4)
    assert adv.detail["share"] == pytest.approx(-adv_after / (before_total - after_total), abs=1e-6)


def test_alerts_that_must_not_fire(tmp_path):
    legible = config_line(accum=2, lr=2e-05, disc_weight=0.5)
    rows = [r[:5] + (100.0,) + r[6:] for r in ROWS]  # d_weight far below the 5,000 ceiling
    _, a = analysis_of(tmp_path, legible + step_lines(rows, accum=2, lr_text="0.00002"))
    assert not codes(a) & {"lr_below_log_precision", "d_weight_at_clamp", "discriminator_never_updated",
                           "decomposition_mismatch", "non_finite_loss", "loss_spike", "stalled"}


def test_d_weight_at_clamp_before_the_discriminator_is_on_is_information(tmp_path):
    _, a = analysis_of(tmp_path, config_line() + step_lines(ROWS[:4]))  # steps 0-300: disc_factor 0 throughout
    (clamp,) = [x for x in a.alerts if x.code == "d_weight_at_clamp"]
    assert clamp.severity == "info" and clamp.detail["share_at_clamp"] == 1.0
    assert clamp.detail["discriminator_on"] is False
    assert "not on yet" in clamp.message and "step 301 (disc_start)" in clamp.message
    _, a = analysis_of(tmp_path, config_line() + step_lines())  # on from step 400: a warning
    (clamp,) = [x for x in a.alerts if x.code == "d_weight_at_clamp"]
    assert clamp.severity == "warning" and clamp.detail["discriminator_on"] is True


def test_decomposition_mismatch_fires_when_the_log_does_not_add_up(tmp_path):
    _, a = analysis_of(tmp_path, config_line() + step_lines(total_offset=3.0))
    assert "decomposition_mismatch" in codes(a)
    assert a.decomposition["residual"].tolist() == pytest.approx([3.0] * 7, abs=1e-4)


def test_stall_inside_a_launch(tmp_path):
    _, a = analysis_of(tmp_path, config_line() + step_lines(gap_after=400, gap=900))
    (st,) = [e for e in a.events if e.kind == "stall"]
    assert st.step == 400 and st.detail["seconds"] == 910 and st.detail["usual_seconds"] == 10
    assert a.throughput.steps_per_hour == pytest.approx(600 / 960 * 3600)


def test_stalled_now_uses_the_files_mtime(tmp_path):
    snap, _ = analysis_of(tmp_path, config_line() + step_lines())  # steps 0-600 of 1,000: unfinished
    a = analyze(snap, now=snap.last_write_time + 30)
    assert a.run_state.state == "live" and a.run_state.silent_seconds == 30 and "stalled" not in codes(a)
    a = analyze(snap, now=snap.last_write_time + 3600)  # 10 s usual interval: the stall limit is 100 s
    assert a.run_state.state == "stalled" and a.run_state.silent_seconds == 3600
    assert "stalled" in codes(a) and a.to_json()["state"] == "stalled"


def test_live_header_takes_numbers_from_the_fresh_snapshot_and_alerts_from_the_basis(tmp_path):
    from radiodash.analysis import live_header

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    older, basis = analysis_of(tmp_path / "a", config_line() + step_lines(rows=ROWS[:4]))
    fresh, whole = analysis_of(tmp_path / "b", config_line() + step_lines())
    head = live_header(fresh, basis, now=fresh.last_write_time + 3600)
    tp, alerts, (since, usual, stalled) = head  # the shape the live page unpacks
    assert tp.latest_step == 600  # not 300, the basis's last step
    assert tp.steps_per_hour == pytest.approx(600 / 60 * 3600)  # 600 steps in 60 s within one launch
    assert stalled and since == 3600 and usual == 10 and head.state.state == "stalled"
    assert tp.eta_seconds is None and whole.throughput.eta_seconds == pytest.approx(40)  # no ETA for a stalled run
    assert [a.code for a in alerts] == ["stalled"] + [a.code for a in basis.alerts if a.code != "stalled"]
    head = live_header(fresh, analyze(older, now=older.last_write_time + 3600), now=fresh.last_write_time + 5)
    tp, alerts, (_, _, stalled) = head
    assert not stalled and "stalled" not in {a.code for a in alerts}  # the basis's own stall is not shown
    assert head.state.state == "live" and tp == whole.throughput  # live: ETA and next checkpoint shown


def test_window_restricts_everything(tmp_path):
    _, a = analysis_of(tmp_path, config_line() + step_lines(), from_step=100, until_step=300)
    assert a.records == 3 and a.stats["train/rec_loss"]["mean"] == pytest.approx(0.35)
    assert a.disc.first_on_step is None
    assert {k: a.steps[k] for k in ("first", "last", "total")} == {"first": 100, "last": 300, "total": 1000}
    assert (a.steps["first_time"], a.steps["last_time"]) == (pd.Timestamp("2025-08-15 20:00:10"),
                                                             pd.Timestamp("2025-08-15 20:00:30"))


def test_json_has_the_documented_keys(tmp_path):
    _, a = analysis_of(tmp_path, config_line() + step_lines())
    j = json.loads(json.dumps(a.to_json(), allow_nan=False))
    assert {"records", "steps", "segments", "config", "throughput", "phases", "events", "alerts", "stats"} <= set(j)
    assert set(j["steps"]) == {"first", "last", "total", "first_time", "last_time"}
    assert {"file", "first_step", "last_step", "resumed_from_milestone"} <= set(j["segments"][0])
    assert {"steps_per_hour", "eta_seconds"} <= set(j["throughput"])
    assert {"name", "start_step", "end_step"} <= set(j["phases"][0])
    disc = next(e for e in j["events"] if e["kind"] == "discriminator_on")
    assert (disc["step"], disc["configured_step"], disc["last_off_step"]) == (400, 301, 300)
    assert {"first", "last", "min", "min_step", "max", "max_step", "mean", "std", "median"} <= set(
        j["stats"]["train/rec_loss"])
    assert {"code", "severity", "message"} <= set(j["alerts"][0])


# ---------------------------------------------------------------- simulator ground truth

def sim(**kw):
    files, truth = render(SimConfig(**kw))
    return parse_files(files), truth


@pytest.mark.slow
def test_simulated_faults_are_found_where_they_were_injected():
    snap, truth = sim(nan_step=100_000, spike_steps=(12_000, 30_000), stall_step=70_000, stall_seconds=3_000)
    a = analyze(snap, now=0)
    spikes = sorted({e.step for e in a.events if e.kind == "spike"})
    assert spikes == truth.spike_steps == [12_000, 30_000]
    (nf,) = [e for e in a.events if e.kind == "non_finite"]
    assert nf.step == truth.nan_step and "train/total_loss" in nf.detail["metrics"]
    (st,) = [e for e in a.events if e.kind == "stall"]
    assert st.step == truth.stall_after_step and st.detail["seconds"] == pytest.approx(3_000 + 20)
    assert {"non_finite_loss", "loss_spike"} <= codes(a)


@pytest.mark.slow
def test_clean_simulated_runs_raise_no_false_faults():
    for kw in (dict(), dict(grad_accum=2, d_weight_mode="adaptive"), dict(stage="diffusion", lr=2e-5,
                                                                          train_num_steps=80_000, log_freq=500)):
        snap, _ = sim(**kw)
        a = analyze(snap, now=0)
        assert not {e.kind for e in a.events} & {"spike", "stall", "non_finite"}, kw
        assert not codes(a) & {"loss_spike", "stalled", "non_finite_loss", "decomposition_mismatch"}, kw


def test_simulated_resume_and_switch_match_the_truth():
    snap, truth = sim(grad_accum=2, resume_at=52_345)
    a = analyze(snap, now=0)
    (res,) = [e for e in a.events if e.kind == "resume"]
    assert (res.step, res.detail["milestone"]) == (truth.resume_step, truth.resume_milestone) == (50_000, 10)
    assert (a.disc.last_off_step, a.disc.first_on_step) == (truth.last_off_step, truth.first_on_step)
    assert "discriminator_never_updated" not in codes(a)  # accumulation 2: the discriminator steps
    # phases never straddle the switch or the launch boundary
    for p in a.phases:
        assert not (p.start_step < truth.first_on_step <= p.end_step and p.start_step != truth.first_on_step)
        assert not (p.start_step < 50_000 <= p.end_step)
    # steps/hour: 0.2 s per step inside each launch; the 3-minute relaunch gap is not counted
    assert a.throughput.steps_per_hour == pytest.approx(3600 / 0.2)


def test_diffusion_stage_has_phases_but_no_discriminator():
    snap, _ = sim(stage="diffusion", lr=2e-5, train_num_steps=80_000, log_freq=500)
    a = analyze(snap, now=0)
    assert a.stage == "diffusion" and a.disc is None and a.decomposition is None
    assert a.phases and a.phases[0].start_step == 0 and a.phases[-1].end_step == 79_500
    assert "lr_below_log_precision" not in codes(a)


# ---------------------------------------------------------------- the loss decomposition check on real-format logs

def float32_vae_lines(n: int = 200, switch_at: int | None = None, drop: str | None = None, seed: int = 3) -> str:
    """Lines as RadioDiff's trainer writes them: float32 tensors summed in float32, then every value printed
    with 5 decimals. `drop` leaves a term out of the total (a log that really does not add up)."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    out = []
    for i in range(n):
        step = i * 100
        nll = f32(1800 + 200 * rng.random())  # ~2,000: half an ulp of float32 is 6e-5
        kl = f32(140_000 + 30_000 * rng.random())
        df = f32(1.0 if switch_at is not None and step >= switch_at else 0.0)
        dw = f32(5000.0)
        g = f32(-0.45 + 0.1 * rng.standard_normal())  # printed with 5 decimals: up to 0.5e-5 x 5,000 = 0.025 off
        kl_term = f32(kl * f32(1e-6))
        adv = f32(f32(dw * df) * g)
        total = f32(f32(nll + (f32(0) if drop == "kl" else kl_term)) + (f32(0) if drop == "adv" else adv))
        sec = i * 20
        out.append(f"2025-08-15 {20 + sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d},000 [Train Step] "
                   f"{step}/150000: train/total_loss: {float(total):.5f}, train/logvar: 0.00000, "
                   f"train/kl_loss: {float(kl):.5f}, train/nll_loss: {float(nll):.5f}, train/rec_loss: 0.02765, "
                   f"train/d_weight: {float(dw):.5f}, train/disc_factor: {float(df):.5f}, "
                   f"train/g_loss: {float(g):.5f}, lr: 0.00000, \n")
    return "".join(out)


def test_a_correctly_logged_float32_run_raises_no_decomposition_mismatch(tmp_path):
    (tmp_path / "before").mkdir(), (tmp_path / "after").mkdir()
    _, before = analysis_of(tmp_path / "before", config_line() + float32_vae_lines())
    r = before.decomposition["residual"].abs()
    # the real failure is reproduced: residuals of float32 arithmetic, far above what 5-decimal printing
    # alone explains (the old bound, 1.7e-5 here, flagged 9.8 % of a real run's records)
    assert r.max() > 3e-5 and (r > 1.7e-5).mean() > 0.01
    assert (r <= before.decomposition["tolerance"]).all()
    assert "decomposition_mismatch" not in codes(before)
    _, after = analysis_of(tmp_path / "after", config_line() + float32_vae_lines(switch_at=5_000))
    d = after.decomposition[after.decomposition["step"] >= 5_000]
    assert d["residual"].abs().max() > 0.005  # g_loss's print rounding times d_weight 5,000 (bound 0.025)
    assert (d["residual"].abs() <= d["tolerance"]).all() and "decomposition_mismatch" not in codes(after)


@pytest.mark.parametrize("drop, switch_at", [("kl", None), ("adv", 0)])
def test_a_total_that_misses_a_term_is_flagged(tmp_path, drop, switch_at):
    _, a = analysis_of(tmp_path, config_line() + float32_vae_lines(switch_at=switch_at, drop=drop))
    (alert,) = [x for x in a.alerts if x.code == "decomposition_mismatch"]
    assert alert.detail["share"] == 1.0  # kl_weight x kl (0.14-0.17) or 5,000 x g_loss missing on every record


def test_simulated_vae_runs_add_up(tmp_path):
    for kw in (dict(grad_accum=2), dict(d_weight_mode="adaptive", seed=4)):
        snap, _ = sim(**kw)
        a = analyze(snap, now=0)
        assert (a.decomposition["residual"].abs() <= a.decomposition["tolerance"]).all(), kw
        assert "decomposition_mismatch" not in codes(a)


# ---------------------------------------------------------------- robust summaries


def test_robust_endpoints_by_hand():
    from radiodash.analysis.stats import robust_trend

    # 100 records: a straight fall from 0.100 to 0.0505, with a low first record and a high last one
    v = np.linspace(0.100, 0.0505, 100)
    v[0], v[-1] = 0.06, 0.085
    t = robust_trend(v)
    # first and last tenth: 10 records each; medians of v[0:10] and v[90:100] by hand
    assert t["edge_records"] == 10
    assert t["start"] == pytest.approx(np.median(np.r_[0.06, np.linspace(0.100, 0.0505, 100)[1:10]]))
    assert t["end"] == pytest.approx(np.median(np.r_[np.linspace(0.100, 0.0505, 100)[90:99], 0.085]))
    assert t["trend"] == "falling" and t["change_rel"] == pytest.approx(t["end"] / t["start"] - 1)
    assert t["change_rel"] < -0.4  # the single records said +42 % (0.06 -> 0.085)


def test_a_single_dip_does_not_make_a_trend():
    from radiodash.analysis.stats import robust_trend

    rng = np.random.default_rng(0)
    total = -1865 + 5 * rng.standard_normal(200)
    total[-1] = -433.3  # one record where d_weight dipped
    t = robust_trend(total)
    assert t["trend"] == "flat" and abs(t["change_rel"]) < 0.01  # not "rose 77 %" (-1,865 -> -433.3)
    dw = np.full(200, 5000.0)
    dw[[20, 77, 150]] = [1200.0, 3100.0, 2500.0]
    dw[-1] = 1778.0  # the last record, not where it sits
    t = robust_trend(dw)
    assert (t["start"], t["end"], t["change"], t["trend"]) == (5000.0, 5000.0, 0.0, "flat")


def test_a_change_within_the_noise_is_flat_and_one_beyond_it_is_not():
    from radiodash.analysis.stats import FLAT_Z, robust_trend

    rng = np.random.default_rng(1)
    noise = rng.standard_normal(400)
    flat = 1.0 + 0.01 * noise
    assert robust_trend(flat)["trend"] == "flat"
    falling = np.linspace(1.0, 0.9, 400) + 0.01 * noise
    t = robust_trend(falling)
    se = 1.2533 * t["noise"] * np.sqrt(2 / 40)
    assert abs(t["change"]) > FLAT_Z * se and t["trend"] == "falling"


def test_phases_split_only_where_the_trend_visibly_changes(tmp_path):
    from radiodash.analysis.phases import kept_cuts, split

    rng = np.random.default_rng(2)
    steps = np.arange(0, 60_000, 100)
    plain = 0.05 * (1 + 0.03 * rng.standard_normal(steps.size))  # one flat trend, noise only
    kink = np.where(steps < 30_000, 0.05, 0.05 - (steps - 30_000) / 30_000 * 0.03) * (1 + 0.03 * rng.standard_normal(steps.size))
    frame = pd.DataFrame({"step": steps, "time": pd.NaT, "segment": 0, "train/rec_loss": plain})
    phases, _ = split(frame, ["train/rec_loss"], None, "vae")
    assert len(phases) == 1 and phases[0].name == "1. training · flat"
    frame["train/rec_loss"] = kink
    phases, _ = split(frame, ["train/rec_loss"], None, "vae")
    assert len(phases) == 2 and abs(phases[1].start_step - 30_000) <= 2_000
    assert [p.name.split(" · ")[1] for p in phases] == ["flat", "falling"]
    # a cut inside the plain series shows no difference beyond the noise: dropped
    assert kept_cuts(steps, plain, [300], 30) == []
    # a cut found 18 records in (or off the kink) moves to where two lines fit best: the kink at record 300
    (moved,) = kept_cuts(steps, kink, [18], 30)
    assert abs(moved - 300) <= 20 and abs(kept_cuts(steps, kink, [330], 30)[0] - 300) <= 20
    # a fast transient over the first 18 records makes no phase shorter than 30 records
    transient = plain.copy()
    transient[:18] *= np.linspace(2.3, 1.0, 18)  # "rec_loss fell 56 %" over 18 records
    frame["train/rec_loss"] = transient
    phases, _ = split(frame, ["train/rec_loss"], None, "vae")
    assert all((p.end_step - p.start_step) // 100 + 1 >= 30 for p in phases)


def test_phase_descriptions_use_robust_endpoints_and_give_the_kl_context(tmp_path):
    rec = [0.5, 0.4, 0.3, 0.35, 0.3, 0.25, 0.2, 0.22, 0.18, 0.1]
    rows = [(i * 100, i * 10, r, 1000.0 + 100 * i, 3000.0 - 100 * i, 5000.0, 0.0, -0.4) for i, r in enumerate(rec)]
    _, a = analysis_of(tmp_path, config_line() + step_lines(rows))
    (p,) = a.phases  # 10 records: too short to be split
    # medians of the first and last 3 records (a tenth, at least 3): 0.4 -> 0.18 (-55 %); the single
    # records said 0.5 -> 0.1. Noise: 1.4826 x median |diff| 0.05 / sqrt 2 = 0.0524, 3 standard errors
    # of the difference of two medians of 3 = 0.161 < 0.22: falling
    assert p.name == "1. training · falling"
    assert "rec_loss fell 55% (0.4000 → 0.1800)" in p.description
    # kl_loss 1,000 + 100 i: 1,100 -> 1,800; its term 1e-6 x 1,800 = 0.0018 against nll_loss's end 2,200
    assert ("kl_loss rose 64% (1,100.00 → 1,800.00); its loss term kl_weight × kl_loss = 1e-06 × 1,800.00 = "
            "0.001800, 8.2e-05% of nll_loss 2,200.00") in p.description


# ---------------------------------------------------------------- launches: config changes, replaced records

FINETUNE = ("2025-10-15 13:00:00,000 {'model': {'lossconfig': {'kl_weight': 1e-06}}, 'finetune': "
            "{'ckpt_path': './results/model-17.pt'}, 'trainer': {'lr': 1e-05, 'train_num_steps': 5000, "
            "'log_freq': 100}}\n")
SCRATCH = ("2025-10-15 13:10:00,000 {'model': {'lossconfig': {'kl_weight': 1e-06}}, 'trainer': {'lr': 1e-05, "
           "'train_num_steps': 80000, 'log_freq': 100}}\n")


def launch_lines(minute: int, steps, total: int) -> str:
    return "".join(f"2025-10-15 13:{minute:02d}:{i * 7:02d},000 [Train Step] {s}/{total}: train/rec_loss: 0.05000, "
                   "lr: 0.00001, \n" for i, s in enumerate(steps))


def test_a_second_experiment_in_the_folder_is_named_and_its_replaced_records_counted(tmp_path):
    (tmp_path / "2025-10-15-13-00_.log").write_text(FINETUNE + launch_lines(0, range(0, 500, 100), 5000))
    (tmp_path / "2025-10-15-13-10_.log").write_text(SCRATCH + launch_lines(10, range(0, 300, 100), 80000))
    run = open_run(tmp_path)
    snap = run.snapshot()
    run.close()
    a = analyze(snap, now=0)
    (changed,) = [e for e in a.events if e.kind == "config_changed"]
    assert changed.step == 0 and changed.detail["file"].endswith("13-10_.log")
    assert changed.detail["changed"] == ["finetune.ckpt_path", "trainer.train_num_steps"]
    (gone,) = [e for e in a.events if e.kind == "superseded"]
    # launch 2 starts again at step 0: every record of launch 1 (steps 0-400) is replaced from there on
    assert (gone.detail["count"], gone.detail["from_step"], gone.detail["to_step"]) == (5, 0, 400)
    assert {"launch_config_changed", "records_replaced"} <= codes(a)
    # elapsed: 13:00:00 (launch 1's first record) to 13:10:14 (launch 2's last), not launch 2 alone
    assert a.throughput.elapsed_seconds == 10 * 60 + 14
    j = a.to_json()
    assert [s["total_steps"] for s in j["segments"]] == [5000, 80000]
    assert [s["start_checkpoint"] for s in j["segments"]] == ["./results/model-17.pt", None]
    assert j["steps"]["first_time"] == "2025-10-15T13:00:00" and j["steps"]["last_time"] == "2025-10-15T13:10:14"
    assert j["throughput"]["elapsed_seconds"] == 614
    ev = next(e for e in j["events"] if e["kind"] == "config_changed")
    assert ev["changed"] == ["finetune.ckpt_path", "trainer.train_num_steps"] and ev["file"].endswith("13-10_.log")
    assert next(e for e in j["events"] if e["kind"] == "superseded")["count"] == 5


def test_every_metric_with_a_non_finite_value_is_named(tmp_path):
    import re

    lines = (config_line() + step_lines()).splitlines(keepends=True)
    for i, line in enumerate(lines):
        if "[Train Step] 400/" in line:
            line = re.sub(r"train/total_loss: [^,]+", "train/total_loss: nan", line)
            lines[i] = re.sub(r"train/nll_loss: [^,]+", "train/nll_loss: nan", line)
        if "[Train Step] 500/" in line:
            lines[i] = re.sub(r"train/g_loss: [^,]+", "train/g_loss: -inf", line)
    _, a = analysis_of(tmp_path, "".join(lines))
    (nf,) = [x for x in a.alerts if x.code == "non_finite_loss"]
    assert nf.detail["metrics"] == ["train/g_loss", "train/nll_loss", "train/total_loss"]
    assert "train/g_loss from step 500" in nf.message and nf.step == 400
