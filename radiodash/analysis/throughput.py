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


def throughput(frame: pd.DataFrame, config: dict[str, Any] | None, total_steps: int | None,
               lines_per_step: int) -> Throughput:
    latest = int(frame["step"].iloc[-1]) if len(frame) else None
    total = as_number(config_value(config, "trainer", "train_num_steps")) or total_steps
    total = int(total) if total else None
    save = as_number(config_value(config, "trainer", "save_and_sample_every"))
    log_freq = as_number(config_value(config, "trainer", "log_freq"))
    d_step, d_t, _ = intervals(frame)
    active = float(d_t.sum()) if d_t.size else None
    sph = float(d_step.sum() / d_t.sum() * 3600) if d_t.size and d_t.sum() > 0 else None
    times = frame["time"].dropna()
    elapsed = (times.iloc[-1] - times.iloc[0]).total_seconds() if len(times) >= 2 else None
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
