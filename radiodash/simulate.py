"""A simulated RadioDiff run, written in the real log format with the real dynamics.

Why: tests need logs with a known ground truth (switch-on step, resume step, injected
NaN, spikes, a stall), and the dashboard's demo needs a run that is alive right now.
The numbers follow docs/log-format.md: `total = nll + kl_weight·kl + d_weight·disc_factor·g_loss`
holds to print rounding, `d_weight` sits at its clamp `1e4 × disc_weight` most of the
time, `disc_factor` goes 0 → 1 at `disc_start`, and the learning rate follows the
trainers' LambdaLR schedule (below the 5-decimal print precision for the VAE).
"""
from __future__ import annotations

import argparse
import math
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import numpy as np

from .radiodiff import LAUNCH_SUFFIX, d_weight_clamp, lr_factor

#: Keys of the first (generator) line and the second (discriminator) line of a VAE step.
VAE_KEYS = ("train/total_loss", "train/logvar", "train/kl_loss", "train/nll_loss", "train/rec_loss",
            "train/d_weight", "train/disc_factor", "train/g_loss")
DISC_KEYS = ("train/disc_loss", "train/logits_real", "train/logits_fake")
DIFFUSION_KEYS = ("loss_simple", "loss_vlb", "total_loss")
LOSS_KEYS = {"train/total_loss", "train/kl_loss", "train/nll_loss", "train/rec_loss", "train/g_loss",
             "loss_simple", "loss_vlb", "total_loss"}
PIXELS = 65_536  # rec_loss is a per-pixel mean, nll a per-sample sum


@dataclass
class SimConfig:
    """What to simulate. Defaults: the upstream VAE config of docs/log-format.md, accumulation 1."""

    stage: str = "vae"  # "vae" | "diffusion"
    train_num_steps: int = 150_000
    log_freq: int = 100
    save_and_sample_every: int = 5_000
    disc_start: int = 50_001
    grad_accum: int = 1  # 2: two lines per logged step (generator, then discriminator)
    lr: float = 5e-6
    min_lr: float = 0.1  # a factor, as in the trainers
    kl_weight: float = 1e-6
    disc_weight: float = 0.5
    batch_size: int = 2
    start_step: int = 0
    stop_step: int | None = None  # last step to log; None: the run finishes
    resume_at: int | None = None  # crash after this step; resume into a new launch from the last milestone
    resume_same_file: bool = False  # the resumed launch starts within the same minute: same file
    header_only_launch: bool = False  # a launch that dies before its first step, before the resume
    console: bool = False  # console capture: no timestamps, tqdm redraws, print output
    val_every: int = 0
    nan_step: int | None = None  # from this step on the losses print nan
    spike_steps: tuple[int, ...] = ()
    stall_step: int | None = None
    stall_seconds: float = 0.0
    truncate_at: int | None = None  # copytruncate of the current file right before this step
    d_weight_mode: str = "clamp"  # "clamp" | "adaptive"
    seconds_per_step: float = 0.2
    start_time: datetime = datetime(2025, 8, 15, 20, 41, 3, 512000)
    seed: int = 0
    extra_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.stage not in ("vae", "diffusion"):
            raise ValueError(f"stage must be 'vae' or 'diffusion', not {self.stage!r}")
        if self.grad_accum not in (1, 2):
            raise ValueError("grad_accum must be 1 or 2")
        if self.log_freq < 1 or self.train_num_steps < 1:
            raise ValueError("log_freq and train_num_steps must be positive")
        self.spike_steps = tuple(self.spike_steps)
        self.extra_keys = tuple(self.extra_keys)


@dataclass
class Truth:
    """What the simulated logs contain, for tests to compare against."""

    files: list[str] = field(default_factory=list)
    step_lines: int = 0  # `[Train Step]` lines written (two per step under accumulation 2)
    steps: list[int] = field(default_factory=list)  # stitched view: ascending, later launch wins
    disc_start: int = 0
    last_off_step: int | None = None
    first_on_step: int | None = None
    resume_step: int | None = None
    resume_milestone: int | None = None
    nan_step: int | None = None
    spike_steps: list[int] = field(default_factory=list)
    stall_after_step: int | None = None
    d_weight_clamp: float = 0.0
    seconds_per_step: float = 0.0
    val_steps: list[int] = field(default_factory=list)
    launches: int = 0


# ------------------------------------------------------------------------- events


@dataclass
class _Write:
    """One thing a trainer writes: a logger message (timestamped unless console) or raw bytes."""

    file: str
    text: str
    sim_time: datetime
    logged: bool = True  # a logger message; False: raw bytes (tqdm redraws, print output without newline)
    step: int | None = None
    is_step_line: bool = False
    truncate: bool = False  # copytruncate the file before this write


def _config_dict(cfg: SimConfig, milestone: int) -> dict:
    if cfg.stage == "vae":
        return {"model": {"embed_dim": 3,
                          "lossconfig": {"disc_start": cfg.disc_start, "kl_weight": cfg.kl_weight,
                                         "disc_weight": cfg.disc_weight, "disc_in_channels": 1},
                          "ddconfig": {"double_z": True, "z_channels": 3, "resolution": [320, 320],
                                       "in_channels": 1, "out_ch": 1, "ch": 128, "ch_mult": [1, 2, 4],
                                       "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0},
                          "ckpt_path": None},
                "data": {"name": "radio", "batch_size": cfg.batch_size},
                "trainer": {"gradient_accumulate_every": cfg.grad_accum, "lr": cfg.lr, "min_lr": cfg.min_lr,
                            "train_num_steps": cfg.train_num_steps,
                            "save_and_sample_every": cfg.save_and_sample_every, "log_freq": cfg.log_freq,
                            "results_folder": "./radiodiff_Vae", "amp": False, "fp16": False,
                            "resume_milestone": milestone, "test_before": True,
                            "ema_update_after_step": 10000, "ema_update_every": 10}}
    return {"data": {"batch_size": cfg.batch_size, "name": "DPMK"},
            "model": {"first_stage": {"embed_dim": 3, "ckpt_path": "./radiodiff_Vae/model-30.pt"},
                      "model_type": "const_sde", "timesteps": 1000, "loss_type": "l2",
                      "unet": {"dim": 128, "dim_mults": [1, 2, 4, 4], "cond_in_dim": 3}},
            "trainer": {"gradient_accumulate_every": cfg.grad_accum, "log_freq": cfg.log_freq, "lr": cfg.lr,
                        "min_lr": cfg.min_lr, "resume_milestone": milestone,
                        "save_and_sample_every": cfg.save_and_sample_every,
                        "train_num_steps": cfg.train_num_steps, "results_folder": "./radiodiff_LDM"}}


def _yaml_block(d: dict, indent: int = 0) -> list[str]:
    """The diffusion trainer's config dump: sorted keys, 2-space indent, Python-repr scalars."""
    out: list[str] = []
    for key in sorted(d):
        value = d[key]
        if isinstance(value, dict):
            out.append(" " * indent + f"{key}:")
            out.extend(_yaml_block(value, indent + 2))
        else:
            out.append(" " * indent + f"{key}: {value}")
    return out


def _header(cfg: SimConfig, milestone: int) -> str:
    conf = _config_dict(cfg, milestone)
    return repr(conf) if cfg.stage == "vae" else "\n".join(_yaml_block(conf))


def _fmt(key: str, value: float) -> str:
    return f"{key}: {value:.5f}, "


class _Dynamics:
    """Smooth trends plus noise; one record per logged step, deterministic per seed."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.clamp = d_weight_clamp(cfg.disc_weight)

    def vae(self, step: int) -> tuple[dict[str, float], dict[str, float]]:
        cfg, rng = self.cfg, self.rng
        s = step / max(cfg.train_num_steps, 1)
        rec = (0.08 * math.exp(-10 * s) + 0.02) * (1 + 0.05 * rng.standard_normal())
        kl = (60_000 + 110_000 * (1 - math.exp(-4 * s))) * (1 + 0.02 * rng.standard_normal())
        nll = rec * PIXELS * (1 + 0.01 * rng.standard_normal())
        if cfg.d_weight_mode == "clamp" and rng.random() < 0.9:
            d_weight = self.clamp
        elif cfg.d_weight_mode == "clamp":
            d_weight = self.clamp * rng.uniform(0.2, 0.99)
        else:
            d_weight = self.clamp * min(0.9, 0.01 * math.exp(0.5 * rng.standard_normal()))
        disc_factor = 0.0 if step < cfg.disc_start else 1.0
        g_loss = -0.45 + 0.05 * rng.standard_normal() + (0.1 * s if disc_factor else 0.0)
        extra = {k: abs(0.01 * (1 + 0.1 * rng.standard_normal())) for k in cfg.extra_keys}
        if step in cfg.spike_steps:
            rec, nll = rec * 20, nll * 20
        vals = {"train/kl_loss": kl, "train/nll_loss": nll, "train/rec_loss": rec,
                "train/d_weight": d_weight, "train/disc_factor": disc_factor, "train/g_loss": g_loss}
        vals = {k: round(v, 5) for k, v in vals.items()}  # total is composed from the printed values
        vals["train/total_loss"] = (vals["train/nll_loss"] + cfg.kl_weight * vals["train/kl_loss"]
                                    + vals["train/d_weight"] * vals["train/disc_factor"] * vals["train/g_loss"])
        vals["train/logvar"] = 0.0
        if cfg.nan_step is not None and step >= cfg.nan_step:
            for k in ("train/total_loss", "train/kl_loss", "train/nll_loss", "train/rec_loss", "train/g_loss"):
                vals[k] = float("nan")
        gen = {k: vals[k] for k in VAE_KEYS}
        gen.update(extra)
        real = 0.5 * rng.standard_normal() * 0.1
        disc = {"train/disc_loss": disc_factor * (1.0 + 0.1 * rng.standard_normal()),
                "train/logits_real": real, "train/logits_fake": real - 0.05 * rng.standard_normal()}
        return gen, disc

    def diffusion(self, step: int) -> dict[str, float]:
        cfg, rng = self.cfg, self.rng
        s = step / max(cfg.train_num_steps, 1)
        simple = (3.5 * math.exp(-25 * s) + 0.05) * (1 + 0.08 * rng.standard_normal())
        if step in cfg.spike_steps:
            simple *= 20
        vals = {"loss_simple": round(simple, 5), "loss_vlb": 0.0}
        vals["total_loss"] = vals["loss_simple"] + vals["loss_vlb"]
        if cfg.nan_step is not None and step >= cfg.nan_step:
            vals = {k: float("nan") for k in vals}
        return vals

    def val(self, step: int) -> dict[str, float]:
        s = step / max(self.cfg.train_num_steps, 1)
        return {"val/count": 200.0, "val/mae": 0.03 * math.exp(-3 * s) + 0.01 + 0.001 * self.rng.standard_normal()}


def _file_name(t: datetime) -> str:
    return t.strftime("%Y-%m-%d-%H-%M") + LAUNCH_SUFFIX


def _launch_plan(cfg: SimConfig) -> list[tuple[int, int, int]]:
    """(first step, last step, resume milestone) of each launch that logs steps."""
    last = cfg.train_num_steps - 1 if cfg.stop_step is None else cfg.stop_step
    first = cfg.start_step
    if cfg.resume_at is None or not first <= cfg.resume_at < last:
        return [(first, last, 0)]
    milestone = cfg.resume_at // cfg.save_and_sample_every
    return [(first, cfg.resume_at, 0), (milestone * cfg.save_and_sample_every, last, milestone)]


def _events(cfg: SimConfig, truth: Truth) -> Iterator[_Write]:
    """Everything the trainer(s) write, in order, with simulated times."""
    dyn = _Dynamics(cfg)
    t = cfg.start_time
    plan = _launch_plan(cfg)
    file = "nohup.out" if cfg.console else _file_name(t)
    stalled = False
    for li, (first, last, milestone) in enumerate(plan):
        if li > 0:  # a crash, then a relaunch a few minutes later
            if cfg.console:
                yield _Write(file, "Traceback (most recent call last):\n  File \"train_vae.py\", line 412, in train\n"
                             "RuntimeError: CUDA error: an illegal memory access was encountered", t, logged=False)
            if cfg.header_only_launch:
                t += timedelta(minutes=2)
                file = file if cfg.console else _file_name(t)
                yield _Write(file, _header(cfg, milestone), t)
                truth.launches += 1
            t += timedelta(seconds=20) if cfg.resume_same_file else timedelta(minutes=3)
            if not (cfg.console or cfg.resume_same_file):
                file = _file_name(t)
            truth.resume_step, truth.resume_milestone = first, milestone
        yield _Write(file, _header(cfg, milestone), t)
        truth.launches += 1
        if li > 0 and cfg.console:
            yield _Write(file, f"Successfully resumed training from milestone {milestone} at step {first}", t,
                         logged=False)
        step0 = -(-first // cfg.log_freq) * cfg.log_freq
        last_msg = ""
        launch_time = t + timedelta(seconds=4)  # model build and data loading before the first step
        for step in range(step0, last + 1, cfg.log_freq):
            t = launch_time + timedelta(seconds=(step - step0) * cfg.seconds_per_step
                                        + (cfg.stall_seconds if stalled else 0))
            trunc = cfg.truncate_at is not None and step == cfg.truncate_at and li == len(plan) - 1
            head = f"[Train Step] {step}/{cfg.train_num_steps}: "
            if cfg.stage == "vae":
                gen, disc = dyn.vae(step)
                lr = cfg.lr * float(lr_factor(step, cfg.train_num_steps, cfg.min_lr))
                lines = [head + "".join(_fmt(k, v) for k, v in gen.items()) + _fmt("lr", lr)]
                if cfg.grad_accum == 2:
                    lines.append(head + "".join(_fmt(k, v) for k, v in disc.items()) + _fmt("lr", lr))
                if gen["train/disc_factor"] == 0:
                    truth.last_off_step = step
                elif truth.first_on_step is None:
                    truth.first_on_step = step
            else:
                vals = dyn.diffusion(step)
                lr = cfg.lr * float(lr_factor(step, cfg.train_num_steps, cfg.min_lr))
                lines = [head + "".join(_fmt(k, v) for k, v in vals.items()) + _fmt("lr", lr)]
            for i, line in enumerate(lines):
                if cfg.console and last_msg:
                    redraws = "".join(f"\r{last_msg}: {_bar(step - cfg.log_freq + j, cfg)}" for j in (1, 7))
                    yield _Write(file, redraws, t, logged=False, truncate=trunc and i == 0)
                    trunc = False
                yield _Write(file, line, t, step=step, is_step_line=True, truncate=trunc and i == 0)
                last_msg = line
            if cfg.val_every and step % cfg.val_every == 0 and step > 0:
                vals = dyn.val(step)
                yield _Write(file, f"[Val Step] {step}/{cfg.train_num_steps}: "
                             + "".join(_fmt(k, v) for k, v in vals.items()), t)
            if cfg.stall_step is not None and step == cfg.stall_step:
                stalled = True
                truth.stall_after_step = step
        if li == len(plan) - 1 and cfg.stop_step is None:
            yield _Write(file, "training complete", t, logged=not cfg.console)


def _bar(n: int, cfg: SimConfig) -> str:
    pct = int(100 * n / cfg.train_num_steps)
    filled = "█" * (pct // 10) + "▎" if pct < 100 else "█" * 10
    return f"{pct:3d}%|{filled:<10}| {n}/{cfg.train_num_steps} [00:17<5:50:01,  5.47it/s]"


def _render_write(w: _Write, console: bool, now: datetime | None = None) -> str:
    if not w.logged:
        return w.text if w.text.startswith("\r") else w.text + "\n"
    if console:
        return w.text + "\n"
    ts = (now or w.sim_time).strftime("%Y-%m-%d %H:%M:%S,") + f"{(now or w.sim_time).microsecond // 1000:03d}"
    return f"{ts} {w.text}\n"


def _finish_truth(cfg: SimConfig, truth: Truth, per_file_steps: dict[str, list[tuple[int, int]]]) -> Truth:
    """Stitched steps: a later launch wins from its first step on (what the dashboard must show)."""
    launches: list[list[int]] = []
    for f in truth.files:
        by_launch: dict[int, list[int]] = {}
        for launch, step in per_file_steps.get(f, []):
            by_launch.setdefault(launch, []).append(step)
        launches.extend(by_launch[k] for k in sorted(by_launch))
    steps: list[int] = []
    for ls in launches:
        if ls:
            steps = [s for s in steps if s < ls[0]] + sorted(set(ls))
    truth.steps = steps
    truth.disc_start = cfg.disc_start
    truth.nan_step = cfg.nan_step
    truth.spike_steps = [s for s in cfg.spike_steps if s in set(steps)]
    truth.d_weight_clamp = d_weight_clamp(cfg.disc_weight)
    truth.seconds_per_step = cfg.seconds_per_step
    return truth


def render(cfg: SimConfig) -> tuple[dict[str, bytes], Truth]:
    """The whole run at once: file name -> final content, and its ground truth."""
    truth = Truth()
    parts: dict[str, list[str]] = {}
    per_file_steps: dict[str, list[tuple[int, int]]] = {}
    launch = -1
    for w in _events(cfg, truth):
        if w.truncate:
            parts[w.file] = []
            per_file_steps[w.file] = []
        if w.logged and (w.text.startswith("{") or (cfg.stage == "diffusion" and w.text.startswith("data:"))):
            launch += 1
        parts.setdefault(w.file, []).append(_render_write(w, cfg.console))
        if w.is_step_line:
            truth.step_lines += 1
            per_file_steps.setdefault(w.file, []).append((launch, w.step))
        elif w.logged and w.text.startswith("[Val Step]"):
            truth.val_steps.append(int(w.text.split()[2].split("/")[0]))
    truth.files = list(parts)
    files = {name: "".join(p).encode("utf-8") for name, p in parts.items()}
    return files, _finish_truth(cfg, truth, per_file_steps)


def write_run(folder: str | os.PathLike, cfg: SimConfig, *, rate: float | None = None,
              realtime_timestamps: bool = False, stop: threading.Event | None = None,
              max_seconds: float | None = None) -> Truth:
    """Write the run into `folder` as a live trainer would: append, flush, `rate` step lines per second.

    A stall sleeps `stall_seconds` (scaled to the rate when `rate` is given would lose the
    point of a stall, so it is slept as configured). `stop` ends the run early.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    truth = Truth()
    per_file_steps: dict[str, list[tuple[int, int]]] = {}
    launch = -1
    t0 = time.monotonic()
    interval = 1.0 / rate if rate else 0.0
    next_at = time.monotonic()
    handles: dict[str, object] = {}
    try:
        for w in _events(cfg, truth):
            if stop is not None and stop.is_set():
                break
            if max_seconds is not None and time.monotonic() - t0 > max_seconds:
                break
            path = folder / w.file
            if w.file not in handles:
                handles[w.file] = open(path, "ab")  # the logger opens in append mode
                truth.files.append(w.file)
            fh = handles[w.file]
            if w.truncate:  # copytruncate: keep a copy, empty the file in place
                fh.flush()
                (folder / (w.file + ".1")).write_bytes(path.read_bytes())
                os.truncate(path, 0)
                per_file_steps[w.file] = []
            if w.logged and (w.text.startswith("{") or (cfg.stage == "diffusion" and w.text.startswith("data:"))):
                launch += 1
            if cfg.stall_step is not None and truth.stall_after_step is not None and w.step is not None \
                    and w.step == truth.stall_after_step + cfg.log_freq and w.is_step_line:
                _sleep(cfg.stall_seconds, stop)
            now = datetime.now() if realtime_timestamps else None
            fh.write(_render_write(w, cfg.console, now).encode("utf-8"))
            fh.flush()
            if w.is_step_line:
                truth.step_lines += 1
                per_file_steps.setdefault(w.file, []).append((launch, w.step))
                if interval:
                    next_at += interval
                    _sleep(next_at - time.monotonic(), stop)
    finally:
        for fh in handles.values():
            fh.close()
    return _finish_truth(cfg, truth, per_file_steps)


def _sleep(seconds: float, stop: threading.Event | None) -> None:
    if seconds <= 0:
        return
    if stop is None:
        time.sleep(seconds)
    else:
        stop.wait(seconds)


# --------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `python -m radiodash simulate DIR`."""
    p.add_argument("--rate", type=float, default=None, help="step lines per second (default: all at once)")
    p.add_argument("--stage", choices=("vae", "diffusion"), default="vae")
    p.add_argument("--steps", type=int, default=150_000, help="train_num_steps")
    p.add_argument("--log-freq", type=int, default=100)
    p.add_argument("--save-every", type=int, default=5_000, help="save_and_sample_every")
    p.add_argument("--disc-start", type=int, default=50_001)
    p.add_argument("--accum", type=int, choices=(1, 2), default=1, help="gradient_accumulate_every")
    p.add_argument("--stop-at", type=int, default=None, help="last step to log (an unfinished run)")
    p.add_argument("--resume-at", type=int, default=None, help="crash after this step and resume into a new launch")
    p.add_argument("--console", action="store_true", help="write a console capture (nohup.out) with tqdm redraws")
    p.add_argument("--nan-at", type=int, default=None, help="losses become nan from this step on")
    p.add_argument("--spike-at", type=int, action="append", default=[], help="a loss spike at this step")
    p.add_argument("--truncate-at", type=int, default=None, help="copytruncate the log before this step")
    p.add_argument("--val-every", type=int, default=0)
    p.add_argument("--seconds-per-step", type=float, default=0.2)
    p.add_argument("--realtime", action="store_true", help="timestamps from the wall clock, not simulated")
    p.add_argument("--seed", type=int, default=0)


def run_from_args(args: argparse.Namespace) -> int:
    cfg = SimConfig(stage=args.stage, train_num_steps=args.steps, log_freq=args.log_freq,
                    save_and_sample_every=args.save_every, disc_start=args.disc_start, grad_accum=args.accum,
                    stop_step=args.stop_at, resume_at=args.resume_at, console=args.console,
                    nan_step=args.nan_at, spike_steps=tuple(args.spike_at), truncate_at=args.truncate_at,
                    val_every=args.val_every, seconds_per_step=args.seconds_per_step, seed=args.seed,
                    lr=5e-6 if args.stage == "vae" else 2e-5)
    try:
        truth = write_run(args.dir, cfg, rate=args.rate, realtime_timestamps=args.realtime)
    except KeyboardInterrupt:
        return 130
    print(f"wrote {truth.step_lines} step lines into {args.dir}: {', '.join(truth.files)}")
    return 0
