"""Training analysis: pure functions of a run snapshot (phases, events, alerts, statistics,
throughput, loss decomposition, learning-rate reconstruction), cached by (run, version, window)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..cache import LRU
from ..model import Segment, Snapshot
from . import alerts as _alerts
from . import events as _events
from ..model import as_number, config_value, metric_column, short_name
from ..radiodiff import lr_factor, milestones
from .results import Alert, Analysis, DiscSwitch, Event, Phase, Throughput, jsonable
from .phases import CutSeries, split as _split_phases
from .checkpoints import checkpoint_table
from .sources import (EVENTS, LOG, disc_switch_step, event_column, event_tags, event_window, launch_starts, loss_tags,
                      non_finite_cells, same_quantities, snapshot_nan, sources_json, written_nan)
from .schedule import decompose, discriminator_switch, lr_table, reconstruct_lr
from .stats import frame_stats, series_stats
from .state import STOPPED_AFTER_SECONDS, RunState, run_state, usual_interval
from .throughput import log_span, throughput as _throughput, timing_rows

__all__ = ["analyze", "live_header", "LiveHeader", "Analysis", "Event", "Phase", "Alert", "DiscSwitch", "Throughput",
           "RunState", "run_state", "reconstruct_lr", "discriminator_switch", "decompose", "steps_per_hour",
           "lr_factor", "window", "jsonable", "series_stats", "checkpoint_table", "event_window", "non_finite_cells",
           "written_nan", "snapshot_nan", "same_quantities", "EVENTS", "LOG"]

# holds the snapshot with its analysis: the id(snap) in the key stays unique while the entry lives
_ANALYSES: LRU[tuple[Snapshot, Analysis]] = LRU(64)
_USUAL: LRU[tuple[Snapshot, float | None]] = LRU(64)


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


def analyze(snap: Snapshot, from_step: int | None = None, until_step: int | None = None,
            now: float | None = None, *, stopped_after: float = STOPPED_AFTER_SECONDS) -> Analysis:
    """The analysis of a snapshot (cached per run version and window) with the run's state as of `now`
    (epoch seconds, default the clock); the state's alerts (stalled, stopped) when the window reaches
    the latest step."""
    key = (id(snap), snap.path, snap.version, from_step, until_step)
    core = _ANALYSES.get_or_build(key, lambda: (snap, _analyze(snap, from_step, until_step)))[1]
    if from_step is None and until_step is None:
        usual = core.throughput.typical_interval_seconds
    else:  # the usual interval of the whole run, not of the window
        usual = _USUAL.get_or_build((id(snap), snap.path, snap.version), lambda: (snap, usual_interval(snap)))[1]
    state = run_state(snap, now, stopped_after=stopped_after, usual=usual)
    extra = _alerts.from_state(state, core.throughput.latest_step) if until_step is None else []
    return replace(core, run_state=state, alerts=_alerts.ranked([*extra, *core.alerts]))


@dataclass(frozen=True)
class LiveHeader:
    """What a live header shows every second: throughput (ETA and next checkpoint only while the run is
    live), the alerts, and the run's state.

    Iterating gives `(throughput, alerts, (silent seconds, usual interval, stalled or stopped))`, the
    shape the live page unpacks today.
    """

    throughput: Throughput
    alerts: list[Alert]
    state: RunState

    def __iter__(self):
        s = self.state
        return iter((self.throughput, self.alerts,
                     (s.silent_seconds, s.usual_interval_seconds, s.state in ("stalled", "stopped"))))


def live_header(snap: Snapshot, basis: Analysis, now: float | None = None, *,
                stopped_after: float = STOPPED_AFTER_SECONDS) -> LiveHeader:
    """Throughput and state of `snap` (cheap), and the other alerts from `basis`, the analysis of a
    recent snapshot of the same run.

    Why: the full analysis (change points, spikes, statistics) of every 1 s snapshot cost each
    run a busy core with a dozen viewers; the charts' 3 s analysis is shared by all of them.
    """
    total_steps = snap.segments[-1].total_steps if snap.segments else None
    tp = _throughput(snap.frame, snap.config, total_steps, _lines_per_step(snap.frame, snap.config), snap.raw)
    state = run_state(snap, now, stopped_after=stopped_after, usual=tp.typical_interval_seconds)
    if not state.show_eta:  # a finished, stalled or stopped run has no ETA ("ETA 18 s" long after the end)
        tp = replace(tp, eta_seconds=None, next_checkpoint_step=None, eta_next_checkpoint_seconds=None)
    alerts = [a for a in basis.alerts if a.code not in ("stalled", "stopped")]
    return LiveHeader(tp, _alerts.ranked([*_alerts.from_state(state, tp.latest_step), *alerts]), state)


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
    timing = timing_rows(snap.raw, from_step, until_step)
    tp = _throughput(frame, config, total_steps, _lines_per_step(frame, config), timing)
    decomp = decompose(frame, config) if stage != "diffusion" else None
    lr = lr_table(frame, config)

    ev = event_window(snap.events, from_step, until_step)  # the second source, in the same window
    with_events = bool(len(ev)) and bool(event_tags(ev))
    starts = launch_starts(snap)

    events: list[Event] = _events.launch_events(snap, frame)
    events += _events.config_events(snap)
    events += _events.superseded_events(snap, from_step, until_step)
    events += _events.disc_event(frame, disc)
    events += _events.checkpoint_events(frame, config)
    events += _events.non_finite_events(snap, frame)
    if with_events:
        events += _events.event_non_finite_events(non_finite_cells(snap, from_step, until_step))
    quiet = [s.first_step for s in snap.segments if s.first_step is not None]
    if disc is not None and disc.first_on_step is not None:
        quiet.append(disc.first_on_step)
    events += _spikes(frame, metrics, quiet, ev if with_events else None, starts)
    events += _events.stall_events(frame, tp.typical_interval_seconds)
    events.sort(key=lambda e: (e.step if e.step is not None else -1, e.kind))

    phases, phase_stats = _split_phases(frame, metrics, disc, stage, config,
                                        _cut_series(frame, metrics, ev) if with_events else None)

    alerts: list[Alert] = []
    alerts += _alerts.from_events(events, with_events)
    alerts += _alerts.launch_alerts(events)
    alerts += _alerts.lr_below_log_precision(frame, config, ev if with_events else None)
    alerts += _alerts.d_weight_at_clamp(frame, config)
    alerts += _alerts.discriminator_never_updated(frame, config, disc)
    alerts += _alerts.total_loss_driven_by_adversarial_term(decomp, disc)
    alerts += _alerts.kl_rising(frame, config)
    alerts += _alerts.decomposition_mismatch(decomp)
    alerts = _alerts.ranked(alerts)

    segments = _segments(snap, timing, frame)
    first_t, last_t = log_span(timing)
    steps = {"first": int(frame["step"].iloc[0]) if len(frame) else None,
             "last": int(frame["step"].iloc[-1]) if len(frame) else None,
             "total": tp.total_steps, "first_time": first_t, "last_time": last_t}
    return Analysis(stage=stage, records=len(frame), window=(from_step, until_step), events=events,
                    phases=phases, alerts=alerts, stats=frame_stats(frame, metrics), phase_stats=phase_stats,
                    throughput=tp, disc=disc, lr=lr, decomposition=decomp,
                    checkpoints=_checkpoint_table(frame, config, metrics), segments=segments, config=config,
                    steps=steps, sources=sources_json(len(frame), ev, config),
                    checkpoint_files=checkpoint_table(snap, from_step, until_step))


def _spikes(frame: pd.DataFrame, metrics: list[str], quiet: list[int], ev: pd.DataFrame | None,
            starts: list[int]) -> list[Event]:
    """Spikes of the per-step event values where they exist, and of the log's records outside the steps the
    event files cover (the log runs up to 120 s ahead of a live event file: the writer flushes late)."""
    log_spikes = _events.spike_events(frame, metrics, quiet)
    if ev is None:
        return log_spikes
    ev_quiet = list(starts)
    switch = disc_switch_step(ev)
    if switch is not None:
        ev_quiet.append(switch)
    ev_spikes = _events.spike_events(ev, loss_tags(ev), ev_quiet, source=EVENTS)
    first, last = int(ev["step"].iloc[0]), int(ev["step"].iloc[-1])
    return ev_spikes + [e for e in log_spikes if not first <= e.step <= last]


def _cut_series(frame: pd.DataFrame, metrics: list[str], ev: pd.DataFrame) -> CutSeries | None:
    """The event series of the run's main metric (same short name), where phases look for change points."""
    from .phases import main_metric as _main

    main = _main(frame, metrics)
    tag = event_column(ev, short_name(main)) if main is not None else None
    if tag is None:
        return None
    return CutSeries(tag, ev["step"].to_numpy(), ev[tag].to_numpy(float))


def start_checkpoint(seg: Segment) -> str | None:
    """What a launch started from: the milestone it resumed (model-K.pt), else a checkpoint its config
    names (finetune.ckpt_path, model.ckpt_path); None: from scratch (as far as the log says)."""
    if seg.resumed_from_milestone:
        return f"model-{seg.resumed_from_milestone}.pt"
    for path in (("finetune", "ckpt_path"), ("model", "ckpt_path"), ("trainer", "ckpt_path")):
        value = config_value(seg.config, *path)
        if isinstance(value, str) and value:
            return value
    return None


def _segments(snap: Snapshot, timing: pd.DataFrame, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Every launch, whole (as logged) and within the window: its records there, raw and kept."""
    raw_seg = timing["segment"].to_numpy()
    raw_steps = timing["step"].to_numpy()
    kept = np.bincount(frame["segment"].to_numpy(), minlength=len(snap.segments)) if len(frame) else None
    out = []
    for s in snap.segments:
        mine = raw_steps[raw_seg == s.index]
        out.append({
            "index": s.index, "file": s.file, "first_step": s.first_step, "last_step": s.last_step,
            "first_time": s.first_time, "last_time": s.last_time, "records": s.records,
            "total_steps": s.total_steps,
            "train_num_steps": as_number(config_value(s.config, "trainer", "train_num_steps")),
            "resumed_from_milestone": s.resumed_from_milestone, "resumes_segment": s.resumes_segment,
            "start_checkpoint": start_checkpoint(s), "completed": s.completed, "crashed": s.crashed,
            "stage": s.stage,
            "window_records": int(mine.size), "window_first_step": int(mine.min()) if mine.size else None,
            "window_last_step": int(mine.max()) if mine.size else None,
            "window_records_kept": int(kept[s.index]) if kept is not None and s.index < kept.size else 0,
        })
    return out


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
