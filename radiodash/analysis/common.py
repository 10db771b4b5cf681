"""Helpers the analysis modules share: which metrics are losses, timestamps as seconds."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..model import short_name

LOSS_HINT = "loss"


def loss_metrics(frame: pd.DataFrame, metrics: list[str]) -> list[str]:
    return [m for m in metrics if LOSS_HINT in short_name(m)]


def seconds(times: pd.Series) -> np.ndarray:
    """Timestamps as float seconds (NaN where unknown)."""
    t = times.to_numpy(dtype="datetime64[ms]").astype("int64").astype(float) / 1000.0
    t[times.isna().to_numpy()] = np.nan
    return t

