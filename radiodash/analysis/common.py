"""Small shared lookups: config values and metric columns by their short name."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

LOSS_HINT = "loss"


def cfg(config: dict[str, Any] | None, *path: str) -> Any:
    """config['a']['b']… or None (configs differ between stages and forks)."""
    node: Any = config
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def number(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def col(frame: pd.DataFrame, name: str) -> str | None:
    """The column for a short metric name: `train/<name>` (VAE) or `<name>` (diffusion)."""
    for c in (f"train/{name}", name):
        if c in frame.columns:
            return c
    return None


def short(metric: str) -> str:
    return metric.split("/", 1)[1] if "/" in metric else metric


def loss_metrics(frame: pd.DataFrame, metrics: list[str]) -> list[str]:
    return [m for m in metrics if LOSS_HINT in short(m)]


def seconds(times: pd.Series) -> np.ndarray:
    """Timestamps as float seconds (NaN where unknown)."""
    t = times.to_numpy(dtype="datetime64[ms]").astype("int64").astype(float) / 1000.0
    t[times.isna().to_numpy()] = np.nan
    return t


def fmt(x: float | None, unit: str = "") -> str:
    """A number for a sentence: 4 significant digits, thousands separators for big values."""
    if x is None or not np.isfinite(x):
        return "n/a"
    ax = abs(x)
    if ax >= 1000:
        s = f"{x:,.0f}"
    elif ax >= 1 or ax == 0:
        s = f"{x:.4g}"
    else:
        s = f"{x:.3g}"
    return s + unit
