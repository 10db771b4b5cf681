"""Per-metric statistics over a window: NaN/inf excluded (and counted), honest relative change, and
robust endpoints: a summary never rests on one noisy record."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


EDGE_SHARE = 0.1  # start and end of a series: medians of its first and last tenth…
MIN_EDGE = 3  # …of at least this many records (when the series has twice as many)
FLAT_Z = 3.0  # a change within this many standard errors of the endpoint difference is "flat"
_MEDIAN_SE = 1.2533  # standard error of a median of k normal values: 1.2533 σ / √k
NOISE_SAMPLE = 100_000  # differences used for the noise estimate of a longer series
TREND_KEYS = ("start", "end", "change", "change_rel", "noise", "edge_records", "trend")


def record_noise(values: np.ndarray) -> float:
    """Record-to-record scatter σ of a series (finite values): 1.4826·MAD of the differences / √2.

    Differences cancel the trend, the median ignores the rare outlier (a d_weight dip, a spike):
    the noise a reader sees around the curve, not its range.
    """
    v = values[np.isfinite(values)]
    if v.size < 2:
        return 0.0
    if v.size > NOISE_SAMPLE:  # a scale estimate: an even sample of the differences is as good, and 10x cheaper
        at = np.linspace(0, v.size - 2, NOISE_SAMPLE).astype(np.int64)
        d = v[at + 1] - v[at]
    else:
        d = np.diff(v)
    return float(1.4826 * np.median(np.abs(d)) / np.sqrt(2))


def robust_trend(values: np.ndarray) -> dict[str, Any]:
    """Start and end as medians of the first and last tenth, their change, and whether it is beyond the noise.

    `trend` is "falling", "rising" or "flat" (the change is within FLAT_Z standard errors of the
    difference of two medians of `edge_records` records with scatter `noise`); `change_rel` is
    None when the series changes sign or starts at zero (not a percentage).
    """
    v = values[np.isfinite(values)]
    if not v.size:
        return dict.fromkeys(TREND_KEYS)
    k = max(1, v.size // 2) if v.size < 2 * MIN_EDGE else max(MIN_EDGE, int(np.ceil(v.size * EDGE_SHARE)))
    start, end = float(np.median(v[:k])), float(np.median(v[-k:]))
    change = end - start
    noise = record_noise(v)
    se = _MEDIAN_SE * noise * np.sqrt(2.0 / k)
    beyond = change != 0 and (v.size >= 2) and abs(change) > FLAT_Z * se
    trend = ("rising" if change > 0 else "falling") if beyond else "flat"
    keeps_sign = bool((v > 0).all() or (v < 0).all())
    return {"start": start, "end": end, "change": change,
            "change_rel": change / abs(start) if keeps_sign and start != 0 else None,
            "noise": noise, "edge_records": int(k), "trend": trend}


def series_stats(steps: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    """first, last, min (+step), max (+step), mean, std, median, abs_change, rel_change, count, non_finite,
    and the robust start/end/change/trend of `robust_trend` (what summaries use).

    rel_change is None when the series changes sign or starts at zero: a relative change
    of a series that crosses zero is not a percentage.
    """
    finite = np.isfinite(values)
    out: dict[str, Any] = {"count": int(finite.sum()), "non_finite": int((~finite).sum())}
    if not finite.any():
        return {**out, **dict.fromkeys(("first", "last", "min", "min_step", "max", "max_step", "mean", "std",
                                        "median", "abs_change", "rel_change", *TREND_KEYS))}
    v, s = values[finite], steps[finite]
    i_min, i_max = int(np.argmin(v)), int(np.argmax(v))
    first, last = float(v[0]), float(v[-1])
    keeps_sign = bool((v > 0).all() or (v < 0).all())
    out.update(first=first, last=last, min=float(v[i_min]), min_step=int(s[i_min]), max=float(v[i_max]),
               max_step=int(s[i_max]), mean=float(v.mean()), std=float(v.std(ddof=1)) if v.size > 1 else 0.0,
               median=float(np.median(v)), abs_change=last - first,
               rel_change=(last - first) / abs(first) if keeps_sign else None)
    out.update(robust_trend(v))
    return out


def frame_stats(frame: pd.DataFrame, metrics: list[str], rows: slice = slice(None)) -> dict[str, dict[str, Any]]:
    """Stats of each metric over `rows` (a slice: numpy views, no copy of the frame)."""
    steps = frame["step"].to_numpy()[rows]
    return {m: series_stats(steps, frame[m].to_numpy(float)[rows]) for m in metrics}


def slope_per_1k(steps: np.ndarray, values: np.ndarray) -> float | None:
    """Least-squares slope per 1,000 steps over the finite values."""
    ok = np.isfinite(values)
    if ok.all():  # the usual case: no masked copies
        x, y = steps.astype(float), values
    elif ok.sum() < 2:
        return None
    else:
        x, y = steps[ok].astype(float), values[ok]
    if x.size < 2:
        return None
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx == 0:
        return None
    return float(dx @ (y - y.mean()) / sxx * 1000)  # closed-form least squares: polyfit's answer, far cheaper
