"""Events of a run: launches, resumes, the discriminator switching on, checkpoints, non-finite values,
spikes and stalls — each located by step (and time when the log has it)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter

from ..model import Snapshot, as_number, config_value
from ..radiodiff import milestones
from .common import config_changes, loss_metrics
from .sources import EVENTS, LOG
from .results import DiscSwitch, Event
from .throughput import intervals

SPIKE_Z = 8.0  # robust z-score (MAD units) above the local median
SPIKE_MIN_RATIO = 2.0  # and at least twice the local median
SPIKE_WINDOW = 21  # records
MAX_SPIKES = 50
STALL_FACTOR = 10.0  # a gap this many times the usual interval…
STALL_MIN_SECONDS = 60.0  # …and at least this long


def _time_at(frame: pd.DataFrame, step: int | None) -> pd.Timestamp | None:
    if step is None or not len(frame):
        return None
    i = int(np.searchsorted(frame["step"].to_numpy(), step))
    if i >= len(frame):
        return None
    t = frame["time"].iloc[i]
    return None if pd.isna(t) else t


def launch_events(snap: Snapshot, frame: pd.DataFrame) -> list[Event]:
    out = []
    for seg in snap.segments:
        detail = {"file": seg.file, "segment": seg.index, "first_step": seg.first_step, "last_step": seg.last_step}
        out.append(Event("launch", seg.first_step, seg.first_time, detail))
        if seg.is_resume:
            out.append(Event("resume", seg.first_step, seg.first_time,
                             {"segment": seg.index, "file": seg.file, "milestone": seg.resumed_from_milestone,
                              "resumes_segment": seg.resumes_segment}))
    return out


def config_events(snap: Snapshot) -> list[Event]:
    """A launch whose config differs from the previous launch's (with a config): the dotted keys changed.

    Why: two launches in one folder may be different experiments (a fine-tune from model-17.pt for
    5,000 steps, then training from scratch for 80,000); the merged view must say so.
    """
    out = []
    previous = None
    for seg in snap.segments:
        if seg.config is None:
            continue
        if previous is not None:
            changed = config_changes(previous.config, seg.config)
            if changed:
                out.append(Event("config_changed", seg.first_step, seg.first_time,
                                 {"file": seg.file, "segment": seg.index, "previous_segment": previous.index,
                                  "changed": changed}))
        previous = seg
    return out


def superseded_events(snap: Snapshot, lo: int | None = None, hi: int | None = None) -> list[Event]:
    """Records of a launch replaced by a later launch that logged the same steps again (a resume from a
    milestone, or a fresh start): how many, which steps, and by which launch. Within [lo, hi] when given."""
    raw = snap.raw
    if not len(raw) or len(snap.segments) < 2:
        return []
    steps, seg = raw["step"].to_numpy(), raw["segment"].to_numpy()
    big = np.iinfo(np.int64).max
    firsts = np.array([s.first_step if s.first_step is not None else big for s in snap.segments], np.int64)
    out = []
    for i, s in enumerate(snap.segments[:-1]):
        later = firsts[i + 1:]
        if not later.size or later.min() == big:
            continue
        j = i + 1 + int(np.argmin(later))
        mine = steps[seg == i]
        gone = mine[mine >= later.min()]
        if lo is not None:
            gone = gone[gone >= lo]
        if hi is not None:
            gone = gone[gone <= hi]
        if gone.size:
            by = snap.segments[j]
            out.append(Event("superseded", by.first_step, by.first_time,
                             {"file": s.file, "segment": i, "count": int(gone.size), "from_step": int(gone.min()),
                              "to_step": int(gone.max()), "by_segment": j, "by_file": by.file}))
    return out


def disc_event(frame: pd.DataFrame, disc: DiscSwitch | None) -> list[Event]:
    if disc is None or disc.first_on_step is None:
        return []
    return [Event("discriminator_on", disc.first_on_step, _time_at(frame, disc.first_on_step),
                  {"configured_step": disc.configured_step, "last_off_step": disc.last_off_step})]


def checkpoint_events(frame: pd.DataFrame, config: dict[str, Any] | None) -> list[Event]:
    save = as_number(config_value(config, "trainer", "save_and_sample_every"))
    if not save or not len(frame):
        return []
    ks = milestones(int(frame["step"].iloc[0]), int(frame["step"].iloc[-1]), int(save))
    return [Event("checkpoint", int(k * save), _time_at(frame, int(k * save)),
                  {"milestone": int(k), "file": f"model-{int(k)}.pt"}) for k in ks]


def non_finite_events(snap: Snapshot, frame: pd.DataFrame) -> list[Event]:
    """The log's nan/inf cells in the window (from the parser's record of them), as one event."""
    nf = snap.nonfinite
    if nf.empty:
        return []
    lo, hi = int(frame["step"].iloc[0]) if len(frame) else 0, int(frame["step"].iloc[-1]) if len(frame) else -1
    nf = nf[(nf["step"] >= lo) & (nf["step"] <= hi)]
    if nf.empty:
        return []
    first = int(nf["step"].min())
    return [_non_finite_event(nf, _time_at(frame, first), LOG)]


def event_non_finite_events(cells: pd.DataFrame) -> list[Event]:
    """The event files' written nan/inf values (`sources.non_finite_cells` of the windowed table), as one
    event: every step is there, so its first step is exact (the log sees one step in log_freq)."""
    if cells.empty:
        return []
    return [_non_finite_event(cells, None, EVENTS)]


def _non_finite_event(nf: pd.DataFrame, time: pd.Timestamp | None, source: str) -> Event:
    first = int(nf["step"].min())
    at_first = nf[nf["step"] == first]
    counts = nf.groupby("metric").size().to_dict()
    # every metric with a non-finite value in the window (g_loss's -inf two steps later counts too)
    return Event("non_finite", first, time,
                 {"metrics": sorted(counts), "metrics_at_first_step": sorted(at_first["metric"].unique().tolist()),
                  "values": sorted(set(nf["value"])), "cells": int(len(nf)),
                  "per_metric": {k: int(v) for k, v in counts.items()},
                  "first_step_per_metric": {k: int(v) for k, v in nf.groupby("metric")["step"].min().items()},
                  "source": source})


def spike_events(frame: pd.DataFrame, metrics: list[str], quiet_steps: list[int], source: str = LOG) -> list[Event]:
    """Records far above their local median (robust: median filter + MAD), on positive loss series.

    Records next to a launch boundary or the discriminator switch are skipped: a level
    shift is not a spike. `frame` is the log's step table, or the event table (`source` "events":
    one row per step, `wall_time` instead of `time`; the local median then spans 21 steps).
    """
    steps = frame["step"].to_numpy()
    if steps.size < SPIKE_WINDOW * 2:
        return []
    near = np.zeros(steps.size, bool)
    for q in quiet_steps:
        i = int(np.searchsorted(steps, q))
        near[max(0, i - SPIKE_WINDOW):i + SPIKE_WINDOW] = True
    found: list[Event] = []
    for m in loss_metrics(frame, metrics):
        v = frame[m].to_numpy(float)
        ok = np.isfinite(v) & (v > 0)
        if ok.sum() < SPIKE_WINDOW * 2 or (np.isfinite(v) & (v <= 0)).any():
            continue
        lv = np.log(v[ok])
        base = median_filter(lv, size=SPIKE_WINDOW, mode="nearest")
        resid = lv - base
        scale = 1.4826 * float(np.median(np.abs(resid)))
        if scale <= 0:
            continue
        z = resid / scale
        idx = np.flatnonzero((z > SPIKE_Z) & (resid > np.log(SPIKE_MIN_RATIO)) & ~near[ok])
        s_ok = steps[ok]
        for i in idx:
            found.append(Event("spike", int(s_ok[i]), None,
                               {"metric": m, "value": float(v[ok][i]), "local_median": float(np.exp(base[i])),
                                "ratio": float(np.exp(resid[i])), "mad_units": float(z[i]), "source": source}))
    found.sort(key=lambda e: -e.detail["mad_units"])
    found = sorted(found[:MAX_SPIKES], key=lambda e: (e.step, e.detail["metric"]))
    if source == EVENTS:  # the event's own wall time (epoch seconds); the log's local times are another clock
        wall = pd.Series(frame["wall_time"].to_numpy(), index=frame["step"].to_numpy())
        return [Event(e.kind, e.step, None, {**e.detail, "wall_time": float(wall.loc[e.step])}) for e in found]
    return [Event(e.kind, e.step, _time_at(frame, e.step), e.detail) for e in found]


def stall_threshold(typical: float | None) -> float | None:
    return None if typical is None else max(STALL_FACTOR * typical, STALL_MIN_SECONDS)


def stall_events(frame: pd.DataFrame, typical: float | None) -> list[Event]:
    """Gaps inside a launch much longer than its usual interval between log lines."""
    limit = stall_threshold(typical)
    if limit is None:
        return []
    _, d_t, after = intervals(frame)
    steps = frame["step"].to_numpy()
    out = []
    for gap, step_after in zip(d_t[d_t > limit], after[d_t > limit]):
        i = int(np.searchsorted(steps, step_after))
        before = int(steps[i - 1]) if i > 0 else None
        out.append(Event("stall", before, _time_at(frame, before),
                         {"seconds": float(gap), "resumed_at_step": int(step_after), "usual_seconds": typical}))
    return out


__all__ = ["launch_events", "config_events", "superseded_events", "disc_event", "checkpoint_events", "non_finite_events",
           "event_non_finite_events", "spike_events",
           "stall_events", "stall_threshold"]
