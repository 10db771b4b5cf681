"""Training analysis: pure functions of a run snapshot (phases, events, alerts, statistics,
throughput, loss decomposition, learning-rate reconstruction), cached by (run, version, window)."""
from __future__ import annotations

import time as _time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..cache import LRU
from ..model import Snapshot
from . import alerts as _alerts
from . import events as _events
from ..model import as_number, config_value, metric_column
from ..radiodiff import lr_factor, milestones
from .results import Alert, Analysis, DiscSwitch, Event, Phase, Throughput, jsonable
from .phases import split as _split_phases
from .schedule import decompose, discriminator_switch, lr_table, reconstruct_lr
from .stats import frame_stats, series_stats
from .throughput import intervals, throughput as _throughput

__all__ = ["analyze", "live_header", "Analysis", "Event", "Phase", "Alert", "DiscSwitch", "Throughput", "reconstruct_lr",
           "discriminator_switch", "decompose", "stall_status", "steps_per_hour", "lr_factor", "window",
           "jsonable", "series_stats"]

# holds the snapshot with its analysis: the id(snap) in the key stays unique while the entry lives
_ANALYSES: LRU[tuple[Snapshot, Analysis]] = LRU(64)


def window(frame: pd.DataFrame, from_step: int | None, until_step: int | None) -> pd.DataFrame:
    if from_step is None and until_step is None:
        return frame
    s = frame["step"]
    keep = np.ones(len(frame), bool)
    if from_step is not None:
        keep &= (s >= from_step).to_numpy()
    if until_step is not None:
        keep &= (s <= until_step).to_numpy()
    return frame[keep].reset_index(drop=True)


def steps_per_hour(frame: pd.DataFrame) -> float | None:
    return _throughput(frame, None, None, 1).steps_per_hour


def stall_status(snap: Snapshot, now: float | None = None,
                 typical: float | None = None) -> tuple[float | None, float | None, bool]:
    """(seconds since the last new line, usual interval, stalled?) — cheap enough for every live rerun."""
    latest = int(snap.frame["step"].iloc[-1]) if len(snap.frame) else None
    total = as_number(config_value(snap.config, "trainer", "train_num_steps")) or (
        snap.segments[-1].total_steps if snap.segments else None)
    log_freq = as_number(config_value(snap.config, "trainer", "log_freq")) or 1
    finished = latest is not None and total is not None and latest + log_freq >= total
    now = _time.time() if now is None else now
    since = None if snap.last_write_time is None else max(0.0, now - snap.last_write_time)
    if typical is None:
        _, d_t, _ = intervals(snap.frame)
        typical = float(np.median(d_t)) if d_t.size else None
    limit = _events.stall_threshold(typical)
    stalled = bool(since is not None and limit is not None and since > limit and not finished)
    return since, typical, stalled


def analyze(snap: Snapshot, from_step: int | None = None, until_step: int | None = None,
            now: float | None = None) -> Analysis:
    """The analysis of a snapshot (cached per run version and window); the `stalled` alert uses `now`."""
    key = (id(snap), snap.path, snap.version, from_step, until_step)
    core = _ANALYSES.get_or_build(key, lambda: (snap, _analyze(snap, from_step, until_step)))[1]
    if until_step is not None:
        return core
    since, typical, stalled = stall_status(snap, now, core.throughput.typical_interval_seconds)
    extra = _alerts.stalled(since, typical, stalled, core.throughput.latest_step)
    if not extra:
        return core
    return replace(core, alerts=[*extra, *core.alerts])


def live_header(snap: Snapshot, basis: Analysis, now: float | None = None
                ) -> tuple[Throughput, list[Alert], tuple[float | None, float | None, bool]]:
    """What a live header shows every second: throughput and staleness of `snap` (cheap), and the
    other alerts from `basis`, the analysis of a recent snapshot of the same run.

    Why: the full analysis (change points, spikes, statistics) of every 1 s snapshot cost each
    run a busy core with a dozen viewers; the charts' 3 s analysis is shared by all of them.
    """
    total_steps = snap.segments[-1].total_steps if snap.segments else None
    tp = _throughput(snap.frame, snap.config, total_steps, _lines_per_step(snap.frame, snap.config))
    since, typical, is_stalled = stall_status(snap, now, tp.typical_interval_seconds)
    alerts = [a for a in basis.alerts if a.code != "stalled"]
    return tp, [*_alerts.stalled(since, typical, is_stalled, tp.latest_step), *alerts], (since, typical, is_stalled)


def _lines_per_step(frame: pd.DataFrame, config: dict[str, Any] | None) -> int:
    """`[Train Step]` lines per logged step: two when the discriminator's line is there (accumulation 2)."""
    return 2 if metric_column(frame, "disc_loss") is not None else 1


def _analyze(snap: Snapshot, from_step: int | None, until_step: int | None) -> Analysis:
    """Everything but the time-dependent `stalled` alert: a pure function of the snapshot and window."""
    frame = window(snap.frame, from_step, until_step)
    config = snap.config
    metrics = [m for m in snap.metrics if m in frame.columns]
    stage = next((s.stage for s in reversed(snap.segments) if s.stage), None)
    disc = discriminator_switch(frame, config) if stage != "diffusion" else None
    total_steps = snap.segments[-1].total_steps if snap.segments else None
    tp = _throughput(frame, config, total_steps, _lines_per_step(frame, config))
    decomp = decompose(frame, config) if stage != "diffusion" else None
    lr = lr_table(frame, config)

    events: list[Event] = _events.launch_events(snap, frame)
    events += _events.disc_event(frame, disc)
    events += _events.checkpoint_events(frame, config)
    events += _events.non_finite_events(snap, frame)
    quiet = [s.first_step for s in snap.segments if s.first_step is not None]
    if disc is not None and disc.first_on_step is not None:
        quiet.append(disc.first_on_step)
    events += _events.spike_events(frame, metrics, quiet)
    events += _events.stall_events(frame, tp.typical_interval_seconds)
    events.sort(key=lambda e: (e.step if e.step is not None else -1, e.kind))

    phases, phase_stats = _split_phases(frame, metrics, disc, stage)

    alerts: list[Alert] = []
    alerts += _alerts.from_events(events)
    alerts += _alerts.lr_below_log_precision(frame, config)
    alerts += _alerts.d_weight_at_clamp(frame, config)
    alerts += _alerts.discriminator_never_updated(frame, config, disc)
    alerts += _alerts.total_loss_driven_by_adversarial_term(decomp, disc)
    alerts += _alerts.kl_rising(frame, config)
    alerts += _alerts.decomposition_mismatch(decomp)
    order = {"error": 0, "warning": 1, "info": 2}
    alerts.sort(key=lambda a: order.get(a.severity, 3))

    segments = [{"index": s.index, "file": s.file, "first_step": s.first_step, "last_step": s.last_step,
                 "first_time": s.first_time, "last_time": s.last_time, "records": s.records,
                 "resumed_from_milestone": s.resumed_from_milestone, "resumes_segment": s.resumes_segment,
                 "stage": s.stage} for s in snap.segments]
    steps = {"first": int(frame["step"].iloc[0]) if len(frame) else None,
             "last": int(frame["step"].iloc[-1]) if len(frame) else None,
             "total": tp.total_steps}
    return Analysis(stage=stage, records=len(frame), window=(from_step, until_step), events=events,
                    phases=phases, alerts=alerts, stats=frame_stats(frame, metrics), phase_stats=phase_stats,
                    throughput=tp, disc=disc, lr=lr, decomposition=decomp,
                    checkpoints=_checkpoint_table(frame, config, metrics), segments=segments, config=config,
                    steps=steps)


def _checkpoint_table(frame: pd.DataFrame, config: dict[str, Any] | None, metrics: list[str]) -> pd.DataFrame:
    """Values at each saved milestone (model-K.pt), from the last logged step at or before it."""
    save = as_number(config_value(config, "trainer", "save_and_sample_every"))
    cols = ["milestone", "step", "logged_step", *metrics]
    if not save or not len(frame):
        return pd.DataFrame(columns=cols)
    steps = frame["step"].to_numpy()
    ks = milestones(int(steps[0]), int(steps[-1]), int(save))
    if not ks.size:
        return pd.DataFrame(columns=cols)
    at = ks * int(save)
    idx = np.searchsorted(steps, at, side="right") - 1
    rows = frame.iloc[idx]
    out = pd.DataFrame({"milestone": ks, "step": at, "logged_step": steps[idx]})
    for m in metrics:
        out[m] = rows[m].to_numpy()
    return out
