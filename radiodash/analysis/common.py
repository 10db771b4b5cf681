"""Helpers the analysis modules share: which metrics are losses, timestamps as seconds, configs as dotted keys."""
from __future__ import annotations

from typing import Any

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



def flat_config(config: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a nested config under its dotted key (`trainer.train_num_steps`, `finetune.ckpt_path`):
    all groups at every depth, so nothing a launch changed can hide below the second level."""
    if not isinstance(config, dict):
        return {prefix: config} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flat_config(value, name))
        else:
            out[name] = value
    return out


def config_changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """Dotted keys whose value differs between two configs (added and removed keys included), sorted."""
    a, b = flat_config(before or {}), flat_config(after or {})
    return sorted(k for k in a.keys() | b.keys() if k not in a or k not in b or a[k] != b[k] or type(a[k]) is not type(b[k]))
