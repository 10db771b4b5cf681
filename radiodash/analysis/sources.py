"""The TensorBoard event values as a second, labelled source of the analysis.

Why a module of its own: the event table (`Snapshot.events`, one row per step, one column per
tag) and the log's step table measure different things under gradient accumulation > 1
(docs/log-format.md §11.1), so every figure says which source it comes from and nothing here
compares the two sources' values. What this module decides once for every caller:

- which event cells hold a value the trainer wrote as nan. The stitched table uses NaN both for
  "no record of this tag at this step" and for a written nan; the store says which cells were
  written (`Snapshot.events_written`), and `written_nan` combines the two;
- the lr the event file states exactly (`Learning_Rate` is written after the scheduler stepped:
  the value at step s is the rate of step s + 1, the `lr` the log prints for step s + 1);
- the `sources` block of the JSON.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..model import Snapshot, as_number, config_value, short_name

INDEX_COLUMNS = ("step", "wall_time")
LEARNING_RATE_TAG = "Learning_Rate"
EVENTS = "events"
LOG = "log"


def event_window(events: pd.DataFrame, from_step: int | None, until_step: int | None) -> pd.DataFrame:
    """The event rows whose step is in [from_step, until_step] (the same window as the log's)."""
    if from_step is None and until_step is None:
        return events
    return events[in_window(events["step"].to_numpy(), from_step, until_step)].reset_index(drop=True)


def event_tags(events: pd.DataFrame) -> list[str]:
    """The tag columns of an event table, in the order they were first written."""
    return [c for c in events.columns if c not in INDEX_COLUMNS]


def event_column(events: pd.DataFrame, name: str) -> str | None:
    """The tag of a short metric name (`rec_loss`), also when a fork groups it (`train/rec_loss`)."""
    for c in (name, f"train/{name}"):
        if c in events.columns and c not in INDEX_COLUMNS:
            return c
    return None


def accumulation(config: dict[str, Any] | None) -> int | None:
    """The config's gradient_accumulate_every (None when the log does not say)."""
    v = as_number(config_value(config, "trainer", "gradient_accumulate_every"))
    return int(v) if v is not None else None


def same_quantities(config: dict[str, Any] | None) -> bool:
    """Do the event values of a step measure what the log prints for it? Only with gradient accumulation 1.

    Under accumulation N > 1 the VAE's event total_loss is (autoencoder + discriminator loss) / N and the
    LDM's event loss_simple the last micro-batch / N; when the config does not say, the answer is no too.
    """
    return accumulation(config) == 1


def launch_starts(snap: Snapshot) -> list[int]:
    """The first step of every launch (one event file per launch, as one log launch)."""
    return sorted({s.first_step for s in snap.segments if s.first_step is not None})


def written_nan(events: pd.DataFrame, written: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per tag, the rows whose NaN is a value the trainer wrote as nan: NaN where a record was read
    (`written`, the store's `Snapshot.events_written`), never a step or tag the file has no record of
    (a live file's last step cut by the writer's flush, a tag a fork writes every N steps)."""
    return {t: events[t].isna().to_numpy() & written[t].to_numpy(bool) for t in event_tags(events)
            if t in written.columns}


def snapshot_nan(snap: Snapshot) -> dict[str, np.ndarray]:
    """`written_nan` of the snapshot's whole event table."""
    return written_nan(snap.events, snap.events_written)


def in_window(steps: np.ndarray, from_step: int | None, until_step: int | None) -> np.ndarray:
    """Which of `steps` are in [from_step, until_step]."""
    keep = np.ones(steps.size, bool)
    if from_step is not None:
        keep &= steps >= from_step
    if until_step is not None:
        keep &= steps <= until_step
    return keep


def non_finite_cells(snap: Snapshot, from_step: int | None = None, until_step: int | None = None) -> pd.DataFrame:
    """Every written nan/inf cell of the event table in the window: step, metric (the tag), value ('nan',
    'inf', '-inf')."""
    events = snap.events
    tags = event_tags(events)
    if not len(events) or not tags:
        return pd.DataFrame({"step": np.zeros(0, np.int64), "metric": [], "value": []})
    nan = snapshot_nan(snap)
    steps = events["step"].to_numpy()
    inside = in_window(steps, from_step, until_step)
    parts = []
    for tag in tags:
        v = events[tag].to_numpy(float)
        inf = np.isinf(v)
        rows = np.flatnonzero((nan[tag] | inf) & inside)
        if rows.size:
            text = np.where(np.isnan(v[rows]), "nan", np.where(v[rows] > 0, "inf", "-inf"))
            parts.append(pd.DataFrame({"step": steps[rows], "metric": tag, "value": text}))
    if not parts:
        return pd.DataFrame({"step": np.zeros(0, np.int64), "metric": [], "value": []})
    return pd.concat(parts, ignore_index=True).sort_values(["step", "metric"], kind="stable").reset_index(drop=True)


def exact_lr(events: pd.DataFrame) -> tuple[int, float] | None:
    """(step, value) of the last finite `Learning_Rate` in the table: the optimizer's rate for step + 1."""
    if LEARNING_RATE_TAG not in events.columns or not len(events):
        return None
    v = events[LEARNING_RATE_TAG].to_numpy(float)
    ok = np.flatnonzero(np.isfinite(v))
    if not ok.size:
        return None
    i = int(ok[-1])
    return int(events["step"].iloc[i]), float(v[i])


def disc_switch_step(events: pd.DataFrame) -> int | None:
    """The first step whose event disc_factor is above 0 (exact: every step is there)."""
    c = event_column(events, "disc_factor")
    if c is None:
        return None
    on = np.flatnonzero(events[c].to_numpy(float) > 0)
    return int(events["step"].iloc[int(on[0])]) if on.size else None


def sources_json(records: int, events: pd.DataFrame, config: dict[str, Any] | None) -> dict[str, Any]:
    """`sources` of `analyze --json`: how many log records and event steps the window holds, and the tags."""
    steps = events["step"].to_numpy()
    out: dict[str, Any] = {"log": {"records": int(records)},
                           "events": {"steps": int(steps.size), "tags": event_tags(events)}}
    if steps.size:
        out["events"].update(first_step=int(steps[0]), last_step=int(steps[-1]),
                             same_quantities_as_log=same_quantities(config),
                             gradient_accumulate_every=accumulation(config))
    return out


def label(source: str | None, with_events: bool) -> str:
    """' in the per-step event values' / ' in the log' for a sentence; '' for a run with only a log
    (one source: nothing to tell apart, and the sentences stay as they always were)."""
    if source == EVENTS:
        return " in the per-step event values"
    if source == LOG and with_events:
        return " in the log"
    return ""


def loss_tags(events: pd.DataFrame) -> list[str]:
    """Event tags of losses (`*loss*`), as the log's loss metrics are chosen."""
    return [t for t in event_tags(events) if "loss" in short_name(t)]
