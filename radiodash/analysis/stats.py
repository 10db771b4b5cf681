"""Per-metric statistics over a window: NaN/inf excluded (and counted), honest relative change."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def series_stats(steps: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    """first, last, min (+step), max (+step), mean, std, median, abs_change, rel_change, count, non_finite.

    rel_change is None when the series changes sign or starts at zero: a relative change
    of a series that crosses zero is not a percentage.
    """
    finite = np.isfinite(values)
    out: dict[str, Any] = {"count": int(finite.sum()), "non_finite": int((~finite).sum())}
    if not finite.any():
        return {**out, **dict.fromkeys(("first", "last", "min", "min_step", "max", "max_step", "mean", "std",
                                        "median", "abs_change", "rel_change"))}
    v, s = values[finite], steps[finite]
    i_min, i_max = int(np.argmin(v)), int(np.argmax(v))
    first, last = float(v[0]), float(v[-1])
    keeps_sign = bool((v > 0).all() or (v < 0).all())
    out.update(first=first, last=last, min=float(v[i_min]), min_step=int(s[i_min]), max=float(v[i_max]),
               max_step=int(s[i_max]), mean=float(v.mean()), std=float(v.std(ddof=1)) if v.size > 1 else 0.0,
               median=float(np.median(v)), abs_change=last - first,
               rel_change=(last - first) / abs(first) if keeps_sign else None)
    return out


def frame_stats(frame: pd.DataFrame, metrics: list[str], rows: slice = slice(None)) -> dict[str, dict[str, Any]]:
    """Stats of each metric over `rows` (a slice: numpy views, no copy of the frame)."""
    steps = frame["step"].to_numpy()[rows]
    return {m: series_stats(steps, frame[m].to_numpy(float)[rows]) for m in metrics}


def slope_per_1k(steps: np.ndarray, values: np.ndarray) -> float | None:
    """Least-squares slope per 1,000 steps over the finite values."""
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return None
    x, y = steps[ok].astype(float), values[ok]
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx == 0:
        return None
    return float(dx @ (y - y.mean()) / sxx * 1000)  # closed-form least squares: polyfit's answer, far cheaper
