"""The run split into named phases: launch boundaries, the discriminator switch, and change points
of the loss trend within those (ruptures, continuous piecewise-linear cost on a smoothed,
downsampled log-loss — at most a few hundred points, so a 1M-step run costs milliseconds)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import ruptures as rpt

from .. import radiodiff
from ..model import metric_column, short_name
from ..text import number_text
from .results import DiscSwitch, Phase
from .stats import frame_stats, slope_per_1k

MAX_POINTS = 240
MAX_CHANGE_POINTS = 3  # per interval between hard boundaries
MIN_RECORDS = 40


def main_metric(frame: pd.DataFrame, metrics: list[str]) -> str | None:
    """The run's main metric (radiodiff.main_metric) among the columns with at least two finite values."""
    usable = [m for m in metrics if m in frame.columns and np.isfinite(frame[m].to_numpy(float)).sum() >= 2]
    return radiodiff.main_metric(usable)


def _trend_signal(values: np.ndarray) -> np.ndarray:
    v = values.astype(float)
    ok = np.isfinite(v)
    if not ok.any():
        return np.zeros(0)
    v = np.where(ok, v, np.nanmedian(v[ok]))
    if (v > 0).all():
        v = np.log(v)
    n = v.size
    k = max(1, int(np.ceil(n / MAX_POINTS)))
    m = n // k * k
    ds = v[:m].reshape(-1, k).mean(axis=1) if m else v
    return ds


def change_points(values: np.ndarray) -> list[int]:
    """Indices (into values) where the trend changes; [] when the interval is short or plain."""
    sig = _trend_signal(values)
    n = sig.size
    if n < 12:
        return []
    k = max(1, int(np.ceil(values.size / MAX_POINTS)))
    sd = float(np.std(sig))
    if sd == 0:
        return []
    z = (sig - sig.mean()) / sd
    noise = 1.4826 * float(np.median(np.abs(np.diff(z)))) / np.sqrt(2) + 1e-3
    algo = rpt.Binseg(model="clinear", min_size=max(4, n // 8), jump=1).fit(z.reshape(-1, 1))
    bkps = algo.predict(pen=12 * np.log(n) * noise**2 + 0.5)
    bkps = [b for b in bkps if b < n]
    if len(bkps) > MAX_CHANGE_POINTS:
        bkps = [b for b in algo.predict(n_bkps=MAX_CHANGE_POINTS) if b < n]
    return [min(values.size - 1, b * k) for b in bkps]


def _trend_word(stats: dict) -> str:
    first, last = stats.get("first"), stats.get("last")
    if first is None or last is None:
        return "no data"
    span = abs(first) if first else abs(last) or 1.0
    rel = (last - first) / span
    return "falling" if rel < -0.1 else ("rising" if rel > 0.1 else "flat")


def describe_change(metric: str, st: dict) -> str:
    first, last = st.get("first"), st.get("last")
    if first is None or last is None:
        return f"{short_name(metric)}: no finite values"
    name = short_name(metric)
    rel = st.get("rel_change")
    if rel is None:
        return f"{name} went {number_text(first)} → {number_text(last)} (changes sign: no percentage)"
    if last >= first:
        ratio = last / first if first else None
        if ratio is not None and ratio >= 2:
            return f"{name} rose {ratio:.1f}× ({number_text(first)} → {number_text(last)})"
        return f"{name} rose {rel:.0%} ({number_text(first)} → {number_text(last)})"
    return f"{name} fell {-rel:.0%} ({number_text(first)} → {number_text(last)})"


def split(frame: pd.DataFrame, metrics: list[str], disc: DiscSwitch | None,
          stage: str | None) -> tuple[list[Phase], dict[str, dict[str, dict]]]:
    """Phases, and the full statistics of every metric within each phase."""
    if not len(frame):
        return [], {}
    steps = frame["step"].to_numpy()
    seg = frame["segment"].to_numpy()
    hard = {0}
    hard.update((np.flatnonzero(seg[1:] != seg[:-1]) + 1).tolist())
    switch_i = None
    if disc is not None and disc.first_on_step is not None:
        switch_i = int(np.searchsorted(steps, disc.first_on_step))
        if 0 < switch_i < steps.size:
            hard.add(switch_i)
    bounds = sorted(hard) + [steps.size]
    main = main_metric(frame, metrics)
    cuts: list[int] = []
    for a, b in zip(bounds, bounds[1:]):
        cuts.append(a)
        if main is not None and b - a >= MIN_RECORDS:
            cuts.extend(a + c for c in change_points(frame[main].to_numpy(float)[a:b]) if 0 < c < b - a)
    cuts = sorted(set(cuts)) + [steps.size]
    key = [m for m in (main, metric_column(frame, "kl_loss"), metric_column(frame, "total_loss")) if m is not None]
    key = list(dict.fromkeys(key))
    phases: list[Phase] = []
    per_phase: dict[str, dict[str, dict]] = {}
    cols = {m: frame[m].to_numpy(float) for m in metrics}
    times = frame["time"]
    for n, (a, b) in enumerate(zip(cuts, cuts[1:]), start=1):
        s = steps[a:b]
        if stage == "vae" and disc is not None and disc.first_on_step is not None:
            base = "discriminator on" if s[0] >= disc.first_on_step else "autoencoder only"
        else:
            base = "training"
        st = frame_stats(frame, metrics, slice(a, b))
        trend = _trend_word(st[main]) if main else "no data"
        launch = int(seg[a])
        name = f"{n}. {base} · {trend}" + (f" (launch {launch + 1})" if seg[-1] != seg[0] else "")
        desc = "; ".join(describe_change(m, st[m]) for m in key)
        summary = {m: {"first": st[m]["first"], "last": st[m]["last"], "mean": st[m]["mean"],
                       "slope_per_1k_steps": slope_per_1k(s, cols[m][a:b])} for m in metrics}
        t0, t1 = times.iloc[a], times.iloc[b - 1]
        per_phase[name] = st
        phases.append(Phase(name=name, start_step=int(s[0]), end_step=int(s[-1]),
                            start_time=None if pd.isna(t0) else t0, end_time=None if pd.isna(t1) else t1,
                            description=desc, stats=summary))
    return phases, per_phase
