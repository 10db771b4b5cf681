"""Checkpoints and samples by milestone: the table a researcher picks a checkpoint from.

Every `model-K.pt` of the run's listing, with its milestone K, its step K × save_and_sample_every,
its size and modification time, the sample images of the same milestone, and the values at that
step from each source, labelled: the log's last record at or before the step (the log sees one
step in log_freq) and the event files' value at the step (every step is there). A milestone the
run reached whose file is not in the listing is a row too, marked "not on disk": a checkpoint
that is gone (deleted, never written by a crashed launch) cannot be picked or resumed from, and
the table says so rather than leave a silent gap between K - 1 and K + 1.

Pure: a function of the snapshot (its listing is `Snapshot.artifacts`), no file is read here.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..model import Snapshot, as_number, config_value, short_name
from ..radiodiff import milestones
from ..samples import list_results
from ..text import log_number
from .sources import event_tags, event_window, in_window, snapshot_nan

LOG_SUFFIX = " (log)"
EVENTS_SUFFIX = " (events)"
ON_DISK, NOT_ON_DISK, NOT_LISTED = "on disk", "not on disk", "not in the listing"
INFO_COLUMNS = ("milestone", "step", "checkpoint", "checkpoint_status", "size_bytes", "mtime", "sample", "gt_sample",
                "log_step", "log_nan", "event_step", "event_nan")


def save_every(snap: Snapshot) -> int | None:
    """The run's save_and_sample_every (the newest launch's config), None when the log does not say."""
    v = as_number(config_value(snap.config, "trainer", "save_and_sample_every"))
    return int(v) if v and v > 0 else None


def listing(snap: Snapshot):
    """The run's samples and checkpoints by milestone (radiodash.samples.ResultsListing) from its last listing."""
    return list_results(((e.name, e.stat.size, e.stat.mtime) for e in snap.artifacts), save_every(snap))


def value_names(metrics: list[str]) -> dict[str, str]:
    """Log metric -> its column in the table: the short name with " (log)" (the full name if two share one)."""
    shorts = [short_name(m) for m in metrics]
    return {m: (s if shorts.count(s) == 1 else m) + LOG_SUFFIX for m, s in zip(metrics, shorts)}


def checkpoint_table(snap: Snapshot, from_step: int | None = None, until_step: int | None = None) -> pd.DataFrame:
    """One row per milestone K ≥ 1, ascending: every K with a file in the listing (checkpoint or sample) and
    every K the log or the event files reached, within the window of steps.

    Columns: `milestone`, `step` (K × save_and_sample_every; NA when unknown), `checkpoint` (model-K.pt),
    `checkpoint_status` ("on disk"; "not on disk"; "not in the listing" when the listing holds no sample or
    checkpoint at all — a single log file opened on its own), `size_bytes`, `mtime` (epoch seconds),
    `sample`, `gt_sample` (file names or None), `log_step` (the last logged step at or before `step`) and
    one `<metric> (log)` column per log metric, `event_step` (the event row used: `step` itself when the
    event files have it, else the last one before) and one `<tag> (events)` column per event tag;
    `log_nan`, `event_nan`: the value columns whose NaN the source wrote as nan (any other NaN: no value
    there). `cell_text` shows a value by that rule.
    Under gradient accumulation > 1 the two sources are different quantities (see `sources.same_quantities`).
    """
    from . import window  # the package's window (a cycle at import time otherwise)

    every = save_every(snap)
    frame = window(snap.frame, from_step, until_step)
    events = event_window(snap.events, from_step, until_step)
    found = listing(snap)
    by_k = {m.milestone: m for m in found.milestones}
    ks = set(by_k)
    for steps in (frame["step"].to_numpy(), events["step"].to_numpy()):
        if every and steps.size:
            ks.update(milestones(int(steps[0]), int(steps[-1]), every).tolist())
    ks = sorted(k for k in ks if k >= 1 and _inside(k * every if every else None, from_step, until_step))
    listed = bool(snap.artifacts)
    metrics = [m for m in snap.metrics if m in frame.columns]
    tags = event_tags(events)
    cols: dict[str, Any] = {"milestone": np.asarray(ks, np.int64)}
    step = np.array([k * every for k in ks], np.int64) if every else np.zeros(len(ks), np.int64)
    cols["step"] = pd.array(step if every else [pd.NA] * len(ks), dtype="Int64")
    cols["checkpoint"] = [f"model-{k}.pt" for k in ks]
    ck = [by_k[k].checkpoint if k in by_k else None for k in ks]
    cols["checkpoint_status"] = [ON_DISK if c is not None else (NOT_ON_DISK if listed else NOT_LISTED) for c in ck]
    cols["size_bytes"] = pd.array([c.size if c is not None else pd.NA for c in ck], dtype="Int64")
    cols["mtime"] = np.array([c.mtime if c is not None else np.nan for c in ck], float)
    # object columns: a missing file is None (pandas' string dtype would make it NaN, which reads as true)
    cols["sample"] = pd.Series([by_k[k].sample.name if k in by_k and by_k[k].sample else None for k in ks], dtype=object)
    cols["gt_sample"] = pd.Series([by_k[k].gt_sample.name if k in by_k and by_k[k].gt_sample else None for k in ks],
                                  dtype=object)
    log_rows = _at_or_before(frame["step"].to_numpy(), step, bool(every))
    cols["log_step"] = _pick_steps(frame["step"].to_numpy(), log_rows)
    names = value_names(metrics)
    for m, name in names.items():
        cols[name] = _pick(frame[m].to_numpy(float), log_rows)
    cols["log_nan"] = pd.Series(_log_nan(snap, frame, log_rows, names), dtype=object)
    ev_rows = _at_or_before(events["step"].to_numpy(), step, bool(every))
    cols["event_step"] = _pick_steps(events["step"].to_numpy(), ev_rows)
    for tag in tags:
        cols[tag + EVENTS_SUFFIX] = _pick(events[tag].to_numpy(float), ev_rows)
    inside = in_window(snap.events["step"].to_numpy(), from_step, until_step)
    nan = {t: m[inside] for t, m in snapshot_nan(snap).items()}
    cols["event_nan"] = pd.Series([tuple(t + EVENTS_SUFFIX for t in tags if r >= 0 and nan[t][r]) for r in ev_rows],
                                  dtype=object)
    return pd.DataFrame(cols)


def _log_nan(snap: Snapshot, frame: pd.DataFrame, rows: np.ndarray, names: dict[str, str]) -> list[tuple[str, ...]]:
    """Per table row, the log columns whose NaN the log wrote as nan (the parser's record of nan cells)."""
    nf = snap.nonfinite
    if nf.empty or not len(frame):
        return [()] * rows.size
    written = nf[nf["value"] == "nan"].groupby(["step", "segment"])["metric"].apply(tuple).to_dict()
    steps, segs = frame["step"].to_numpy(), frame["segment"].to_numpy()
    return [tuple(names[m] for m in written.get((int(steps[r]), int(segs[r])), ()) if m in names) if r >= 0 else ()
            for r in rows]


def file_of(row: pd.Series, column: str) -> str | None:
    """The file name in `sample`, `gt_sample` (None when the milestone has none)."""
    v = row[column]
    return v if isinstance(v, str) and v else None


def cell_text(row: pd.Series, column: str) -> str:
    """A value of the table as text at the log's precision: 'nan' only where a source wrote nan, '—' where
    the source has no value (no record at or before the step, or none of this metric there)."""
    v = row[column]
    if v is None or v is pd.NA:
        return "—"
    v = float(v)
    if np.isnan(v):
        held = row["event_nan"] if column.endswith(EVENTS_SUFFIX) else row["log_nan"]
        return "nan" if column in held else "—"
    return log_number(v)


def _inside(step: int | None, lo: int | None, hi: int | None) -> bool:
    return step is None or ((lo is None or step >= lo) and (hi is None or step <= hi))


def _at_or_before(steps: np.ndarray, at: np.ndarray, known: bool) -> np.ndarray:
    """Row of the last step at or before each of `at` (-1: none, or the steps are unknown)."""
    if not known or not steps.size:
        return np.full(at.size, -1, np.int64)
    return np.searchsorted(steps, at, side="right") - 1


def _pick(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = np.full(rows.size, np.nan)
    ok = rows >= 0
    out[ok] = values[rows[ok]]
    return out


def _pick_steps(steps: np.ndarray, rows: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.array([int(steps[r]) if r >= 0 else pd.NA for r in rows], dtype="Int64")


def log_columns(table: pd.DataFrame) -> list[str]:
    """The table's `<metric> (log)` value columns."""
    return [c for c in table.columns if c.endswith(LOG_SUFFIX)]


def event_columns(table: pd.DataFrame) -> list[str]:
    """The table's `<tag> (events)` value columns."""
    return [c for c in table.columns if c.endswith(EVENTS_SUFFIX)]


def loss_columns(columns: list[str]) -> list[str]:
    """The loss columns among value columns (`rec_loss (log)`, `loss_simple (events)`…)."""
    return [c for c in columns if "loss" in short_name(c.rsplit(" (", 1)[0])]


def size_text(n: int | None) -> str:
    """A file size for a table cell: '4.0 KiB', '1.2 MiB', '—' when unknown."""
    if n is None or n is pd.NA:
        return "—"
    n = int(n)
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
