"""What RadioDiff's trainers do: the facts every layer relies on, each defined once.

Read from the trainers' code and real runs (docs/log-format.md). The simulator writes by
these rules and the analysis, charts, listing and tail read by them, so a fact that
changes changes here only.
"""
from __future__ import annotations

import numpy as np

#: A launch file is named by its launch minute: `<YYYY-MM-DD-HH-MM>_.log`.
LAUNCH_SUFFIX = "_.log"
#: Files that can hold a log: launch files, console captures (`nohup.out`, `out.txt`), any `.log`.
RUN_FILE_SUFFIXES = (".log", ".out", ".txt")
#: The trainers' `SummaryWriter` files, one per launch, next to the launch's log.
EVENTS_PREFIX = "events.out.tfevents."

#: The top-level groups of a trainer's config: a stage-2 block header starts with one of them (sorted keys).
CONFIG_GROUPS = ("data", "finetune", "model", "trainer")

#: The metric a run is judged by, in order of preference (stage 1 names it `train/rec_loss`).
MAIN_METRICS = ("rec_loss", "loss_simple", "nll_loss", "total_loss")
#: What the overlay shows first: reconstruction and KL (stage 1), the diffusion loss (stage 2).
OVERLAY_DEFAULTS = ("rec_loss", "kl_loss", "loss_simple")

#: `d_weight = clamp(‖∇nll‖ / (‖∇g_loss‖ + 1e-4), 0, 1e4) * disc_weight`: its ceiling is 1e4 × disc_weight.
D_WEIGHT_CLAMP_FACTOR = 1e4


def is_launch_file(name: str) -> bool:
    """A trainer's per-launch log file (`2025-08-15-20-41_.log`)."""
    return name.endswith(LAUNCH_SUFFIX) and not name.startswith(".")


def is_run_file(name: str) -> bool:
    """A file a run may be read from: a launch file, a console capture or another log (never a hidden file)."""
    return name.endswith(RUN_FILE_SUFFIXES) and not name.startswith(".")


def lr_factor(step: int | np.ndarray, total: float, min_lr: float) -> np.ndarray:
    """The trainers' LambdaLR factor at optimizer step `step`: max((1 - it/total) ** 0.95, min_lr).

    `min_lr` is a factor, not a rate; the learning rate is `trainer.lr` times this.
    """
    base = np.clip(1.0 - np.asarray(step, float) / total, 0.0, None) ** 0.95
    return np.maximum(base, min_lr)


def milestones(first_step: int, last_step: int, save_every: int) -> np.ndarray:
    """The milestones K (checkpoint `model-K.pt`, saved at step K × save_every) within [first_step, last_step].

    The first milestone is K = 1: nothing is saved at step 0.
    """
    save_every = int(save_every)
    return np.arange(max(1, -(-int(first_step) // save_every)), int(last_step) // save_every + 1)


def d_weight_clamp(disc_weight: float) -> float:
    """The ceiling d_weight is clamped to."""
    return D_WEIGHT_CLAMP_FACTOR * disc_weight


def at_clamp(d_weight: np.ndarray, disc_weight: float) -> np.ndarray:
    """Which d_weight values sit at the ceiling (to the 5-decimal print precision)."""
    clamp = d_weight_clamp(disc_weight)
    return np.abs(np.asarray(d_weight, float) - clamp) <= 1e-5 * max(1.0, clamp)


def share_at_clamp(d_weight: np.ndarray, disc_weight: float) -> float | None:
    """The share of finite d_weight values at the ceiling; None when there is none."""
    v = np.asarray(d_weight, float)
    v = v[np.isfinite(v)]
    return float(at_clamp(v, disc_weight).mean()) if v.size else None


def main_metric(metrics: list[str]) -> str | None:
    """The column a run is judged by (`MAIN_METRICS` order, by short name), else its first loss."""
    by_short = {m.split("/", 1)[-1]: m for m in reversed(metrics)}
    for name in MAIN_METRICS:
        if name in by_short:
            return by_short[name]
    return next((m for m in metrics if "loss" in m), None)
