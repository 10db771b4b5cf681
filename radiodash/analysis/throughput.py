"""Steps per hour from step and time deltas within launches — not log lines, not the gaps between launches."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..model import as_number, config_value
from .common import seconds
from .results import Throughput


def intervals(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Δstep, Δseconds, step after the gap) between consecutive timestamped records of the same launch."""
    known = frame["time"].notna().to_numpy()  # three columns, not a copy of the whole table
    if known.sum() < 2:
        return np.zeros(0), np.zeros(0), np.zeros(0, np.int64)
    t = seconds(frame["time"][known])
    st = frame["step"].to_numpy()[known]
    seg = frame["segment"].to_numpy()[known]
    same = seg[1:] == seg[:-1]
    d_step, d_t = np.diff(st)[same], np.diff(t)[same]
    ok = (d_step > 0) & (d_t >= 0)
    return d_step[ok].astype(float), d_t[ok], st[1:][same][ok]


def timing_rows(raw: pd.DataFrame, lo: int | None, hi: int | None) -> pd.DataFrame:
    """step, time and segment of every logged record in [lo, hi], superseded launches included.

    Why the raw table: a launch later replaced (a resume, a restart) still ran and took time; the
    stitched table drops its rows, and with them minutes of "elapsed" and "time inside launches".
    """
    if lo is None and hi is None:
        return raw  # columns are read by name: no copy
    steps = raw["step"].to_numpy()
    keep = np.ones(steps.size, bool)
    if lo is not None:
        keep &= steps >= lo
    if hi is not None:
        keep &= steps <= hi
    return pd.DataFrame({"step": steps[keep], "time": raw["time"].to_numpy()[keep],
                         "segment": raw["segment"].to_numpy()[keep]})


def log_span(timing: pd.DataFrame) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The first and last timestamps of the log's records (in their order of writing: launch by launch)."""
    t = timing["time"].to_numpy()
    known = t[~np.isnat(t)] if t.size else t
    if not known.size:
        return None, None
    return pd.Timestamp(known.min()), pd.Timestamp(known.max())


def throughput(frame: pd.DataFrame, config: dict[str, Any] | None, total_steps: int | None,
               lines_per_step: int, timing: pd.DataFrame | None = None) -> Throughput:
    """Progress from `frame` (the stitched table); rates, elapsed and active time from `timing`
    (`timing_rows`: every launch's records, superseded ones included; default `frame`)."""
    timing = frame if timing is None else timing
    latest = int(frame["step"].iloc[-1]) if len(frame) else None
    total = as_number(config_value(config, "trainer", "train_num_steps")) or total_steps
    total = int(total) if total else None
    save = as_number(config_value(config, "trainer", "save_and_sample_every"))
    log_freq = as_number(config_value(config, "trainer", "log_freq"))
    d_step, d_t, _ = intervals(timing)
    active = float(d_t.sum()) if d_t.size else None
    sph = float(d_step.sum() / d_t.sum() * 3600) if d_t.size and d_t.sum() > 0 else None
    first_t, last_t = log_span(timing)
    elapsed = (last_t - first_t).total_seconds() if first_t is not None and last_t is not None else None
    records_per_hour = float(d_step.size / d_t.sum() * 3600) if d_t.size and d_t.sum() > 0 else None
    lph = records_per_hour * lines_per_step if records_per_hour is not None else None
    eta = (total - latest) / sph * 3600 if sph and total is not None and latest is not None and total > latest else (
        0.0 if sph and total is not None and latest is not None else None)
    nxt = None
    eta_nxt = None
    if save and latest is not None:
        nxt = int((latest // save + 1) * save)
        if total is not None and nxt > total:
            nxt = None
        elif sph:
            eta_nxt = (nxt - latest) / sph * 3600
    typical = float(np.median(d_t)) if d_t.size else None
    del log_freq
    return Throughput(steps_per_hour=sph, lines_per_hour=lph, elapsed_seconds=elapsed, active_seconds=active,
                      eta_seconds=eta, next_checkpoint_step=nxt, eta_next_checkpoint_seconds=eta_nxt,
                      latest_step=latest, total_steps=total, typical_interval_seconds=typical)
