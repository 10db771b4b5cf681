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


PRINT_HALF_STEP = 0.5e-5  # every value is printed with 5 decimals: off by at most half the last digit
FLOAT32_UNIT_ROUNDOFF = 2.0 ** -24  # the trainer adds the terms in float32: each operation rounds by this, relatively
FLOAT32_OPERATIONS = 5  # kl_weight·kl, d_weight·disc_factor·g_loss (2), two additions


def decomposition_tolerance(nll: np.ndarray, kl_term: np.ndarray, adv: np.ndarray, total: np.ndarray,
                            klw: float, d_weight: np.ndarray, disc_factor: np.ndarray, g_loss: np.ndarray) -> np.ndarray:
    """The largest |total − (nll + kl_weight·kl + d_weight·disc_factor·g_loss)| a correctly logged record can show.

    Why two parts: (1) every printed value is off by up to half a unit of the 5th decimal, and a
    term's error is multiplied by its coefficient — g_loss's by d_weight·disc_factor (5,000 × 0.5e-5
    = 0.025 once the discriminator is on); (2) the trainer sums float32 tensors: a total near 2,000
    carries half an ulp, ~6e-5…1.2e-4, bounded by n·u·Σ|terms| (n operations, unit roundoff u).
    disc_factor is exactly 0 or 1 in RadioDiff (printed exactly); any other value adds its own print error.
    """
    df_exact = (disc_factor == 0) | (disc_factor == 1)
    printing = PRINT_HALF_STEP * (1.0 + 1.0 + abs(klw) + np.abs(d_weight * disc_factor) + np.abs(g_loss * disc_factor)
                                  + np.where(df_exact, 0.0, np.abs(d_weight * g_loss)))
    arithmetic = FLOAT32_OPERATIONS * FLOAT32_UNIT_ROUNDOFF * (np.abs(nll) + np.abs(kl_term) + np.abs(adv) + np.abs(total))
    return printing + arithmetic


def decompose(frame: pd.DataFrame, config: dict[str, Any] | None) -> pd.DataFrame | None:
    """total = nll + kl_weight·kl + d_weight·disc_factor·g_loss, term by term, what is left over, and
    the tolerance print rounding and float32 arithmetic explain (`decomposition_tolerance`)."""
    names = {n: metric_column(frame, n) for n in ("total_loss", "nll_loss", "kl_loss", "d_weight", "disc_factor", "g_loss")}
    klw = as_number(config_value(config, "model", "lossconfig", "kl_weight"))
    if any(v is None for v in names.values()) or klw is None:
        return None
    v = {n: frame[c].to_numpy(float) for n, c in names.items()}
    with np.errstate(invalid="ignore", over="ignore"):  # nan/inf records stay nan/inf, silently
        adv = v["d_weight"] * v["disc_factor"] * v["g_loss"]
        kl_term = klw * v["kl_loss"]
        composed = v["nll_loss"] + kl_term + adv
        tol = decomposition_tolerance(v["nll_loss"], kl_term, adv, v["total_loss"], klw, v["d_weight"],
                                      v["disc_factor"], v["g_loss"])
        residual = v["total_loss"] - composed
    return pd.DataFrame({"step": frame["step"].to_numpy(), "nll": v["nll_loss"], "kl_term": kl_term,
                         "adv_term": adv, "composed": composed, "total_logged": v["total_loss"],
                         "residual": residual, "tolerance": tol})
