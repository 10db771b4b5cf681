"""What the config says the run should do: lr schedule, discriminator switch, loss composition."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..model import as_number, config_value, metric_column
from ..radiodiff import lr_factor
from .results import DiscSwitch

LR_PRINT_STEP = 1e-5  # values are printed with 5 decimals: below 5e-6 they read 0.00000


def reconstruct_lr(config: dict[str, Any] | None, steps: np.ndarray) -> np.ndarray | None:
    """The learning rate the optimizer used at each step (None when the config lacks the schedule)."""
    lr = as_number(config_value(config, "trainer", "lr"))
    total = as_number(config_value(config, "trainer", "train_num_steps"))
    min_lr = as_number(config_value(config, "trainer", "min_lr"))
    if lr is None or not total:
        return None
    return lr * lr_factor(steps, total, 0.0 if min_lr is None else min_lr)


def lr_table(frame: pd.DataFrame, config: dict[str, Any] | None) -> pd.DataFrame | None:
    c = metric_column(frame, "lr")
    rec = reconstruct_lr(config, frame["step"].to_numpy())
    if c is None and rec is None:
        return None
    return pd.DataFrame({"step": frame["step"].to_numpy(),
                         "logged": frame[c].to_numpy() if c else np.nan,
                         "reconstructed": rec if rec is not None else np.nan})


def discriminator_switch(frame: pd.DataFrame, config: dict[str, Any] | None) -> DiscSwitch | None:
    """Where `disc_factor` first becomes non-zero, bracketed by the last logged step before it."""
    c = metric_column(frame, "disc_factor")
    configured = config_value(config, "model", "lossconfig", "disc_start")
    configured = int(configured) if as_number(configured) is not None else None
    if c is None:
        return None if configured is None else DiscSwitch(configured, None, None)
    df = frame[c].to_numpy()
    steps = frame["step"].to_numpy()
    on = np.flatnonzero(df > 0)
    if not on.size:
        off = np.flatnonzero(df == 0)
        return DiscSwitch(configured, int(steps[off[-1]]) if off.size else None, None)
    first = on[0]
    off = np.flatnonzero(df[:first] == 0)
    return DiscSwitch(configured, int(steps[off[-1]]) if off.size else None, int(steps[first]))


def decompose(frame: pd.DataFrame, config: dict[str, Any] | None) -> pd.DataFrame | None:
    """total = nll + kl_weight·kl + d_weight·disc_factor·g_loss, term by term, and what is left over."""
    names = {n: metric_column(frame, n) for n in ("total_loss", "nll_loss", "kl_loss", "d_weight", "disc_factor", "g_loss")}
    klw = as_number(config_value(config, "model", "lossconfig", "kl_weight"))
    if any(v is None for v in names.values()) or klw is None:
        return None
    v = {n: frame[c].to_numpy(float) for n, c in names.items()}
    adv = v["d_weight"] * v["disc_factor"] * v["g_loss"]
    composed = v["nll_loss"] + klw * v["kl_loss"] + adv
    # printing rounds every value to 5 decimals: the bound on |residual| that rounding alone explains
    tol = 0.5e-5 * (2 + klw + np.abs(v["d_weight"] * v["disc_factor"]) + np.abs(v["g_loss"] * v["disc_factor"]))
    tol = tol * 1.5 + 1e-9 * np.abs(composed)
    return pd.DataFrame({"step": frame["step"].to_numpy(), "nll": v["nll_loss"], "kl_term": klw * v["kl_loss"],
                         "adv_term": adv, "composed": composed, "total_logged": v["total_loss"],
                         "residual": v["total_loss"] - composed, "tolerance": tol})
