"""A simulated RadioDiff run, written in the real log format with the real dynamics.

Why: tests need logs with a known ground truth (switch-on step, resume step, injected
NaN, spikes, a stall), and the dashboard's demo needs a run that is alive right now.
The numbers follow docs/log-format.md: `total = nll + kl_weight·kl + d_weight·disc_factor·g_loss`
holds to print rounding, `d_weight` sits at its clamp `1e4 × disc_weight` most of the
time, `disc_factor` goes 0 → 1 at `disc_start`, and the learning rate follows the
trainers' LambdaLR schedule (below the 5-decimal print precision for the VAE).

With `events` / `samples` on, it writes the rest of a results folder as the trainers do:
one TensorBoard event file per launch (a value per tag at *every* step, float32, through a
buffered writer flushed every `flush_secs`, so the live file usually ends mid-record and a
crashed launch loses its unflushed tail), and at each milestone `model-K.pt` (a placeholder)
and the sample PNGs, written in place in two parts.
"""
from __future__ import annotations

import argparse
import io
import math
import os
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import numpy as np

from .radiodiff import EVENTS_PREFIX, LAUNCH_SUFFIX, d_weight_clamp, lr_factor
from .samples import CHECKPOINT_NAME, GT_SAMPLE_NAME, SAMPLE_NAME, STARTUP_SAMPLE_NAME

#: Keys of the first (generator) line and the second (discriminator) line of a VAE step.
VAE_KEYS = ("train/total_loss", "train/logvar", "train/kl_loss", "train/nll_loss", "train/rec_loss",
            "train/d_weight", "train/disc_factor", "train/g_loss")
DISC_KEYS = ("train/disc_loss", "train/logits_real", "train/logits_fake")
DIFFUSION_KEYS = ("loss_simple", "loss_vlb", "total_loss")
LOSS_KEYS = {"train/total_loss", "train/kl_loss", "train/nll_loss", "train/rec_loss", "train/g_loss",
             "loss_simple", "loss_vlb", "total_loss"}
PIXELS = 65_536  # rec_loss is a per-pixel mean, nll a per-sample sum
#: The scalars `train_vae.py` writes every step (the last three come from the discriminator's pass,
#: which exists only under gradient accumulation 2: with 1 the upstream trainer's `add_scalar` of them
#: would fail, so a trainer that runs writes the first seven).
VAE_EVENT_TAGS = ("Learning_Rate", "total_loss", "rec_loss", "kl_loss", "d_weight", "disc_factor", "g_loss",
                  "disc_loss", "logits_real", "logits_fake")
LDM_EVENT_TAGS = ("Learning_Rate", "total_loss", "loss_simple", "loss_vlb")


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
    events: bool = False  # write a TensorBoard event file per launch (every step, every tag)
    samples: bool = False  # write model-K.pt and the sample PNGs at each milestone
    flush_secs: float = 120.0  # the event writer's flush interval (SummaryWriter's default)
    event_buffer_bytes: int = 8192  # between flushes the writer's buffer reaches the file in blocks this big
    host: str = "sim-host"  # in the event file's name
    test_before: bool = True  # LDM: a start-up sample `sample-{milestone}_{sampling_timesteps}.png` per launch
    sampling_timesteps: int = 50

    def __post_init__(self) -> None:
        if self.stage not in ("vae", "diffusion"):
            raise ValueError(f"stage must be 'vae' or 'diffusion', not {self.stage!r}")
        if self.grad_accum not in (1, 2):
            raise ValueError("grad_accum must be 1 or 2")
        if self.log_freq < 1 or self.train_num_steps < 1:
            raise ValueError("log_freq and train_num_steps must be positive")
        if self.flush_secs <= 0 or self.event_buffer_bytes < 1:
            raise ValueError("flush_secs and event_buffer_bytes must be positive")
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
    # the rest of the results folder (with `events` / `samples` on)
    event_files: list[str] = field(default_factory=list)  # in launch order
    event_tags: tuple[str, ...] = ()
    event_records: dict[str, int] = field(default_factory=dict)  # intact records on disk, version record included
    event_file_steps: dict[str, list[int]] = field(default_factory=dict)  # steps with a record on disk, per file
    event_tail_bytes: dict[str, int] = field(default_factory=dict)  # bytes of an incomplete last record
    event_steps: list[int] = field(default_factory=list)  # stitched: what the per-step table holds
    samples: list[str] = field(default_factory=list)  # sample PNGs written, in order
    checkpoints: list[str] = field(default_factory=list)
    milestones: list[int] = field(default_factory=list)  # K of every model-K.pt written


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
    data: bytes | None = None  # binary content (event files, images, checkpoints) instead of text
    create: bool = False  # with data: create/empty the file first (else append)
    role: str = ""  # with data: "event" | "sample" | "checkpoint" (for the truth), "" for a continuation


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


def _events(cfg: SimConfig, truth: Truth, results: _Results | None = None) -> Iterator[_Write]:
    """Everything the trainer(s) write, in order, with simulated times.

    `results` (when events or samples are on) adds the event files, checkpoints and sample
    images; it draws from random streams of its own, so the log is the same with or without.
    """
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
                if results:  # its SummaryWriter wrote the version record; no step, no sample
                    yield from results.start_launch(t, milestone, first, first - 1, t, first, startup=False)
                    yield from results.end_launch(finished=False)
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
        if results:
            yield from results.start_launch(t, milestone, first, last, launch_time, step0)
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
                logged = {**gen, **disc}
            else:
                vals = dyn.diffusion(step)
                lr = cfg.lr * float(lr_factor(step, cfg.train_num_steps, cfg.min_lr))
                lines = [head + "".join(_fmt(k, v) for k, v in vals.items()) + _fmt("lr", lr)]
                logged = vals
            if results:
                yield from results.steps_until(step - 1, stalled)
            for i, line in enumerate(lines):
                if cfg.console and last_msg:
                    redraws = "".join(f"\r{last_msg}: {_bar(step - cfg.log_freq + j, cfg)}" for j in (1, 7))
                    yield _Write(file, redraws, t, logged=False, truncate=trunc and i == 0)
                    trunc = False
                yield _Write(file, line, t, step=step, is_step_line=True, truncate=trunc and i == 0)
                last_msg = line
            if results:
                yield from results.pending_parts()
                results.logged(step, logged)
                yield from results.steps_until(step, stalled)
            if cfg.val_every and step % cfg.val_every == 0 and step > 0:
                vals = dyn.val(step)
                yield _Write(file, f"[Val Step] {step}/{cfg.train_num_steps}: "
                             + "".join(_fmt(k, v) for k, v in vals.items()), t)
            if cfg.stall_step is not None and step == cfg.stall_step:
                stalled = True
                truth.stall_after_step = step
        finished = li == len(plan) - 1 and cfg.stop_step is None
        if results:
            yield from results.steps_until(last, stalled)
            yield from results.end_launch(finished=finished)
        if finished:
            yield _Write(file, "training complete", t, logged=not cfg.console)


# ---------------------------------------------------------------- the rest of the results folder


def _record(payload: bytes) -> bytes:
    """A TFRecord: length, masked CRC32C of the length, payload, masked CRC32C of the payload."""
    from tensorboardX.record_writer import masked_crc32c

    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))


def _scalar_event(wall_time: float, step: int, tag: str, value: float) -> bytes:
    """What `SummaryWriter.add_scalar(tag, value, step)` serialises (simple_value: float32)."""
    from tensorboardX.proto import event_pb2, summary_pb2

    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])).SerializeToString()


def _version_event(wall_time: float) -> bytes:
    from tensorboardX.proto import event_pb2

    return event_pb2.Event(wall_time=wall_time, file_version="brain.Event:2").SerializeToString()


class _EventWriter:
    """A SummaryWriter's file: records reach the file in buffer-sized blocks and whole at each flush.

    Why: a live event file usually ends inside a record, and a crashed launch loses the
    records written since its last flush. `ends`/`steps` remember every record's end
    offset and step (-1: the version record), so the truth knows which made it to disk.
    """

    def __init__(self, name: str, buffer_bytes: int, flush_secs: float) -> None:
        self.name = name
        self.buffer_bytes = buffer_bytes
        self.flush_secs = flush_secs
        self.buffer = bytearray()
        self.produced = 0  # bytes of all records so far
        self.next_flush = -math.inf
        self.ends: list[np.ndarray] = []
        self.steps: list[np.ndarray] = []

    def add(self, records: list[bytes], steps: list[int]) -> None:
        sizes = np.fromiter((len(r) for r in records), np.int64, len(records))
        self.ends.append(self.produced + np.cumsum(sizes))
        self.steps.append(np.asarray(steps, np.int64))
        self.produced += int(sizes.sum())
        self.buffer += b"".join(records)

    def drain(self, now: float, force: bool = False) -> bytes:
        """The bytes that reach the file now: all at a flush, else the buffer's full blocks."""
        if force or now >= self.next_flush:
            out, self.buffer = bytes(self.buffer), bytearray()
            self.next_flush = now + self.flush_secs
            return out
        k = len(self.buffer) // self.buffer_bytes * self.buffer_bytes
        out = bytes(self.buffer[:k])
        del self.buffer[:k]
        return out


class _Results:
    """The event files, checkpoints and sample images of a simulated run, as writes in time order."""

    def __init__(self, cfg: SimConfig, truth: Truth, clock) -> None:
        self.cfg, self.truth, self.clock = cfg, truth, clock
        self.rng = np.random.default_rng([cfg.seed, 7])  # not the log's stream: the log stays the same
        vae_tags = VAE_EVENT_TAGS if cfg.grad_accum == 2 else VAE_EVENT_TAGS[:7]
        self.tags = (vae_tags if cfg.stage == "vae" else LDM_EVENT_TAGS) if cfg.events else ()
        truth.event_tags = self.tags
        self.writers: list[_EventWriter] = []
        self.writer: _EventWriter | None = None
        self.pending: list[_Write] = []  # second halves of images, written after the next step line
        self.values: dict[str, np.ndarray] = {}
        self.ratio = np.zeros(0)
        self.first = self.cursor = self.step0 = 0
        self.header_time = self.launch_time = cfg.start_time

    # -- launches

    def start_launch(self, header_time: datetime, milestone: int, first: int, last: int, launch_time: datetime,
                     step0: int, startup: bool = True) -> Iterator[_Write]:
        cfg = self.cfg
        self.header_time, self.launch_time, self.step0 = header_time, launch_time, step0
        self.first = self.cursor = first
        now = self.clock(header_time)
        if cfg.events:
            unix = now.timestamp()
            name = f"{EVENTS_PREFIX}{int(unix):010d}.{cfg.host}.{4242 + 17 * len(self.writers)}.0"
            self.writer = _EventWriter(name, cfg.event_buffer_bytes, cfg.flush_secs)
            self.writers.append(self.writer)
            self.truth.event_files.append(name)
            self.writer.add([_record(_version_event(unix))], [-1])
            self.values, self.ratio = _event_values(cfg, first, last, self.rng)
            yield _Write(name, "", header_time, logged=False, data=self.writer.drain(unix, force=True), create=True,
                         role="event")
        if cfg.samples and cfg.stage == "diffusion" and cfg.test_before and startup:
            name = STARTUP_SAMPLE_NAME.format(milestone=milestone, sampling_timesteps=cfg.sampling_timesteps)
            yield from self._image(name, _ldm_sample_png(cfg, milestone, gt=False), header_time)

    def end_launch(self, finished: bool) -> Iterator[_Write]:
        """A finished run closes its writer (a last flush); a crashed or live one leaves its buffer unwritten."""
        yield from self.pending_parts()
        if self.writer is not None and finished:
            data = self.writer.drain(self.clock(self.header_time).timestamp(), force=True)
            if data:
                yield _Write(self.writer.name, "", self.header_time, logged=False, data=data, role="event")
        self.writer = None

    # -- steps

    def logged(self, step: int, values: dict[str, float]) -> None:
        """The values the log printed at `step`: the event values of that step are made from them."""
        if not self.cfg.events or not self.first <= step < self.first + self.ratio.size:
            return
        i = step - self.first
        v = self.values
        if self.cfg.stage == "vae":
            for tag in ("rec_loss", "kl_loss", "d_weight", "disc_factor", "g_loss"):
                v[tag][i] = values["train/" + tag]
            total = values["train/total_loss"]
            if self.cfg.grad_accum == 2:  # (autoencoder loss + discriminator loss) / accumulation steps
                for tag in ("disc_loss", "logits_real", "logits_fake"):
                    v[tag][i] = values["train/" + tag]
                total = (total + values["train/disc_loss"]) / 2
            v["total_loss"][i] = total
        else:
            mean_simple, vlb = values["loss_simple"], values["loss_vlb"]
            if self.cfg.grad_accum == 2:  # the last micro-batch / accumulation steps; total: the mean loss
                v["loss_simple"][i] = mean_simple * self.ratio[i] / 2
                v["loss_vlb"][i] = vlb / 2
            else:
                v["loss_simple"][i], v["loss_vlb"][i] = mean_simple, vlb
            v["total_loss"][i] = values["total_loss"]

    def step_time(self, k: int, stalled: bool) -> datetime:
        cfg = self.cfg
        t = self.launch_time + timedelta(seconds=(k - self.step0) * cfg.seconds_per_step
                                         + (cfg.stall_seconds if stalled else 0))
        return max(t, self.header_time)

    def steps_until(self, last: int, stalled: bool) -> Iterator[_Write]:
        """Everything written after steps cursor..last: their scalars, and a milestone's files."""
        cfg = self.cfg
        while self.cursor <= last:
            k = self.cursor
            # a milestone's step ends the chunk of steps written in one go
            to = min(last, (k // cfg.save_and_sample_every + 1) * cfg.save_and_sample_every - 1)
            if self.writer is not None:
                yield from self._scalars(k, to, stalled)
            self.cursor = to + 1
            if cfg.samples and (to + 1) % cfg.save_and_sample_every == 0:
                yield from self._milestone((to + 1) // cfg.save_and_sample_every, self.step_time(to, stalled))

    def _scalars(self, k0: int, k1: int, stalled: bool) -> Iterator[_Write]:
        w = self.writer
        i0 = k0 - self.first
        columns = [self.values[tag][i0: i0 + k1 - k0 + 1].tolist() for tag in self.tags]
        for j, k in enumerate(range(k0, k1 + 1)):
            t = self.clock(self.step_time(k, stalled))
            unix = t.timestamp()
            w.add([_record(_scalar_event(unix + 1e-4 * n, k, tag, col[j])) for n, (tag, col)
                   in enumerate(zip(self.tags, columns))], [k] * len(self.tags))
            data = w.drain(unix)
            if data:
                yield _Write(w.name, "", t, logged=False, data=data, role="event")

    # -- milestones

    def _milestone(self, milestone: int, t: datetime) -> Iterator[_Write]:
        cfg = self.cfg
        name = CHECKPOINT_NAME.format(milestone=milestone)
        yield _Write(name, "", t, logged=False, data=_checkpoint_bytes(cfg, milestone), create=True, role="checkpoint")
        if cfg.stage == "vae":
            yield from self._image(SAMPLE_NAME.format(milestone=milestone), _vae_sample_png(cfg, milestone), t)
        else:
            yield from self._image(GT_SAMPLE_NAME.format(milestone=milestone),
                                   _ldm_sample_png(cfg, milestone, gt=True), t)
            yield from self._image(SAMPLE_NAME.format(milestone=milestone), _ldm_sample_png(cfg, milestone, gt=False), t)

    def _image(self, name: str, data: bytes, t: datetime) -> Iterator[_Write]:
        """`save_image` writes in place: the first half now, the rest after the next step line."""
        half = len(data) // 2
        yield _Write(name, "", t, logged=False, data=data[:half], create=True, role="sample")
        self.pending.append(_Write(name, "", t, logged=False, data=data[half:]))

    def pending_parts(self) -> Iterator[_Write]:
        parts, self.pending = self.pending, []
        yield from parts

    # -- truth

    def finish(self, truth: Truth, sizes: dict[str, int]) -> None:
        """What the event files on disk hold (`sizes`: bytes written to each): records, steps, stitching."""
        stitched: list[int] = []
        written = [w for w in self.writers if w.name in sizes]  # a run stopped early may not have created the last
        truth.event_files = [w.name for w in written]
        for w in written:
            size = sizes[w.name]
            ends = np.concatenate(w.ends) if w.ends else np.zeros(0, np.int64)
            steps = np.concatenate(w.steps) if w.steps else np.zeros(0, np.int64)
            whole = ends <= size
            truth.event_records[w.name] = int(whole.sum())
            file_steps = np.unique(steps[whole & (steps >= 0)]).tolist()
            truth.event_file_steps[w.name] = file_steps
            truth.event_tail_bytes[w.name] = size - int(ends[whole][-1]) if whole.any() else size
            if file_steps:  # a later launch replaces every earlier step from its first step on
                stitched = [s for s in stitched if s < file_steps[0]] + file_steps
        truth.event_steps = stitched


def _event_values(cfg: SimConfig, first: int, last: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every step's scalars of a launch, by the same dynamics as the log (the log's steps are set from
    the printed values later); and, for the LDM, the last micro-batch's share of the mean loss."""
    k = np.arange(first, last + 1)
    s = k / max(cfg.train_num_steps, 1)
    n = rng.standard_normal((9, k.size))
    spike = np.isin(k, cfg.spike_steps)
    broken = k >= cfg.nan_step if cfg.nan_step is not None else np.zeros(k.size, bool)
    lr = cfg.lr * lr_factor(k + 1, cfg.train_num_steps, cfg.min_lr)  # after the scheduler stepped
    ratio = 1 + 0.05 * n[8]
    if cfg.stage == "vae":
        clamp = d_weight_clamp(cfg.disc_weight)
        rec = (0.08 * np.exp(-10 * s) + 0.02) * (1 + 0.05 * n[0]) * np.where(spike, 20, 1)
        kl = (60_000 + 110_000 * (1 - np.exp(-4 * s))) * (1 + 0.02 * n[1])
        nll = rec * PIXELS * (1 + 0.01 * n[2])
        if cfg.d_weight_mode == "clamp":
            d_weight = np.where(rng.random(k.size) < 0.9, clamp, clamp * rng.uniform(0.2, 0.99, k.size))
        else:
            d_weight = clamp * np.minimum(0.9, 0.01 * np.exp(0.5 * n[3]))
        disc_factor = (k >= cfg.disc_start).astype(float)
        g_loss = -0.45 + 0.05 * n[4] + 0.1 * s * disc_factor
        ae_total = nll + cfg.kl_weight * kl + d_weight * disc_factor * g_loss
        disc_loss = disc_factor * (1.0 + 0.1 * n[5])
        real = 0.05 * n[6]
        for a in (ae_total, kl, rec, g_loss):
            a[broken] = np.nan
        total = (ae_total + disc_loss) / 2 if cfg.grad_accum == 2 else ae_total
        values = {"Learning_Rate": lr, "total_loss": total, "rec_loss": rec, "kl_loss": kl, "d_weight": d_weight,
                  "disc_factor": disc_factor, "g_loss": g_loss, "disc_loss": disc_loss, "logits_real": real,
                  "logits_fake": real - 0.05 * n[7]}
    else:
        simple = (3.5 * np.exp(-25 * s) + 0.05) * (1 + 0.08 * n[0]) * np.where(spike, 20, 1)
        simple[broken] = np.nan
        vlb = np.where(broken, np.nan, 0.0)
        values = {"Learning_Rate": lr, "total_loss": simple + vlb,
                  "loss_simple": simple * ratio / 2 if cfg.grad_accum == 2 else simple.copy(),
                  "loss_vlb": vlb / 2 if cfg.grad_accum == 2 else vlb.copy()}
    return values, ratio


def _radio_map(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A radio map in [0, 1]: path loss falling off from a transmitter, buildings in black."""
    yy, xx = np.mgrid[0:size, 0:size]
    tx, ty = rng.integers(32, size - 32, 2)
    v = np.clip(1 - np.log1p(np.hypot(xx - tx, yy - ty)) / np.log1p(size), 0, 1) ** 0.6
    for _ in range(int(rng.integers(6, 12))):
        x0, y0 = rng.integers(0, size - 24, 2)
        w, h = rng.integers(8, 40, 2)
        v[y0:y0 + h, x0:x0 + w] = 0
    return v


def _rendered(v: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """A model's output: the map plus noise that shrinks as training goes on."""
    return np.clip(v + noise * rng.standard_normal(v.shape), 0, 1)


def _png(gray: np.ndarray) -> bytes:
    """`save_image` of single-channel images: an RGB PNG with the channel repeated."""
    from PIL import Image

    rgb = np.repeat((gray * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, "PNG")
    return buf.getvalue()


def _vae_sample_png(cfg: SimConfig, milestone: int) -> bytes:
    """Reconstructions of the batch's first two images, stacked (nrow 1, padding 2 as `save_image`)."""
    rng = np.random.default_rng([cfg.seed, 11, milestone])
    tiles = [_rendered(_radio_map(rng), 0.3 / milestone, rng) for _ in range(2)]
    pad, size = 2, tiles[0].shape[0]
    grid = np.zeros((pad + 2 * (size + pad), size + 2 * pad))
    for r, tile in enumerate(tiles):
        grid[pad + r * (size + pad): pad + r * (size + pad) + size, pad: pad + size] = tile
    return _png(grid)


def _ldm_sample_png(cfg: SimConfig, milestone: int, gt: bool) -> bytes:
    """A generated 256×256 sample (or its ground truth) of milestone K (K = 0: the start-up sample)."""
    rng = np.random.default_rng([cfg.seed, 13, milestone])
    truth_map = _radio_map(rng)
    return _png(truth_map if gt else _rendered(truth_map, 0.4 / (1 + milestone), rng))


def _checkpoint_bytes(cfg: SimConfig, milestone: int) -> bytes:
    """A few KB standing in for `model-K.pt` (named and written when the trainer saves it)."""
    head = (f"RadioDash simulator: placeholder for a {cfg.stage} checkpoint, milestone {milestone}, "
            f"step {milestone * cfg.save_and_sample_every} (not a torch file)\n").encode()
    body = np.random.default_rng([cfg.seed, 17, milestone]).integers(0, 256, 4096 - len(head), np.uint8)
    return head + body.tobytes()


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
    """The whole run at once: file name -> final content, and its ground truth.

    The logs come first (as `truth.files`), then the event files, checkpoints and samples.
    """
    truth = Truth()
    results = _Results(cfg, truth, clock=lambda t: t) if (cfg.events or cfg.samples) else None
    parts: dict[str, list[str]] = {}
    blobs: dict[str, bytearray] = {}
    per_file_steps: dict[str, list[tuple[int, int]]] = {}
    launch = -1
    for w in _events(cfg, truth, results):
        if w.data is not None:
            if w.create or w.file not in blobs:
                blobs[w.file] = bytearray()
                _note_file(truth, w)
            blobs[w.file] += w.data
            continue
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
    files.update((name, bytes(b)) for name, b in blobs.items())
    if results:
        results.finish(truth, {name: len(b) for name, b in blobs.items()})
    return files, _finish_truth(cfg, truth, per_file_steps)


def _note_file(truth: Truth, w: _Write) -> None:
    """A sample or checkpoint file is created (written again when a resumed launch re-saves it)."""
    if w.role == "sample":
        truth.samples.append(w.file)
    elif w.role == "checkpoint":
        truth.checkpoints.append(w.file)
        truth.milestones.append(int(w.file[len("model-"):-len(".pt")]))


def write_run(folder: str | os.PathLike, cfg: SimConfig, *, rate: float | None = None,
              realtime_timestamps: bool = False, stop: threading.Event | None = None,
              max_seconds: float | None = None) -> Truth:
    """Write the run into `folder` as a live trainer would: append, flush, `rate` step lines per second.

    A stall sleeps `stall_seconds` (scaled to the rate when `rate` is given would lose the
    point of a stall, so it is slept as configured). `stop` ends the run early (a killed
    trainer: its event writer's unflushed buffer never reaches the file). With
    `realtime_timestamps` the log lines, event wall times and event-file flushes follow the wall clock.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    truth = Truth()
    clock = (lambda t: datetime.now()) if realtime_timestamps else (lambda t: t)
    results = _Results(cfg, truth, clock) if (cfg.events or cfg.samples) else None
    sizes: dict[str, int] = {}
    binary: dict[str, object] = {}  # open event files (a SummaryWriter keeps its file open)
    per_file_steps: dict[str, list[tuple[int, int]]] = {}
    launch = -1
    t0 = time.monotonic()
    interval = 1.0 / rate if rate else 0.0
    next_at = time.monotonic()
    handles: dict[str, object] = {}
    try:
        for w in _events(cfg, truth, results):
            if stop is not None and stop.is_set():
                break
            if max_seconds is not None and time.monotonic() - t0 > max_seconds:
                break
            path = folder / w.file
            if w.data is not None:
                _write_binary(path, w, binary, sizes, truth)
                continue
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
        for fh in [*handles.values(), *binary.values()]:
            fh.close()
    if results:
        results.finish(truth, sizes)
    return _finish_truth(cfg, truth, per_file_steps)


def _write_binary(path: Path, w: _Write, open_files: dict, sizes: dict[str, int], truth: Truth) -> None:
    """An event file's bytes go to its open handle; a sample or checkpoint is opened, written, closed."""
    if w.role == "event" or w.file in open_files:
        if w.create or w.file not in open_files:
            if w.file in open_files:
                open_files.pop(w.file).close()
            open_files[w.file] = open(path, "wb")
            sizes[w.file] = 0
        fh = open_files[w.file]
        fh.write(w.data)
        fh.flush()
    else:
        if w.create:
            _note_file(truth, w)
            sizes[w.file] = 0
        with open(path, "wb" if w.create else "ab") as fh:
            fh.write(w.data)
    sizes[w.file] = sizes.get(w.file, 0) + len(w.data)


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
    p.add_argument("--events", action="store_true", help="also write a TensorBoard event file per launch (every step)")
    p.add_argument("--samples", action="store_true", help="also write model-K.pt and the sample PNGs at each milestone")
    p.add_argument("--flush-secs", type=float, default=120.0, help="the event writer's flush interval (default 120)")


def run_from_args(args: argparse.Namespace) -> int:
    cfg = SimConfig(stage=args.stage, train_num_steps=args.steps, log_freq=args.log_freq,
                    save_and_sample_every=args.save_every, disc_start=args.disc_start, grad_accum=args.accum,
                    stop_step=args.stop_at, resume_at=args.resume_at, console=args.console,
                    nan_step=args.nan_at, spike_steps=tuple(args.spike_at), truncate_at=args.truncate_at,
                    val_every=args.val_every, seconds_per_step=args.seconds_per_step, seed=args.seed,
                    lr=5e-6 if args.stage == "vae" else 2e-5, events=args.events, samples=args.samples,
                    flush_secs=args.flush_secs)
    try:
        truth = write_run(args.dir, cfg, rate=args.rate, realtime_timestamps=args.realtime)
    except KeyboardInterrupt:
        return 130
    extra = truth.event_files + sorted(set(truth.checkpoints + truth.samples))
    print(f"wrote {truth.step_lines} step lines into {args.dir}: {', '.join(truth.files + extra)}")
    return 0
