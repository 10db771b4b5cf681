"""The parsed step tables as CSV, window applied: absent values empty, nan/inf as the trainer wrote them —
the log's table, and the event files' per-step table (a second source, its own file)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import event_window, window
from ..analysis.sources import event_tags, in_window, snapshot_nan
from ..model import Snapshot


def table_frame(snap: Snapshot, from_step: int | None = None, until_step: int | None = None) -> pd.DataFrame:
    """The table to export: one row per step in the window; a cell the log wrote as nan/inf/-inf holds that
    text, a cell no line filled stays empty (pandas would write both as empty, or inf as 'inf' only)."""
    frame = window(snap.frame, from_step, until_step)
    nf = snap.nonfinite
    if nf.empty or frame.empty:
        return frame
    out = frame.copy()
    keys = pd.MultiIndex.from_arrays([frame["step"].to_numpy(), frame["segment"].to_numpy()])
    for metric, cells in nf.groupby("metric"):
        if metric not in out.columns:
            continue
        where = keys.get_indexer(pd.MultiIndex.from_arrays([cells["step"].to_numpy(), cells["segment"].to_numpy()]))
        ok = where >= 0
        if not ok.any():
            continue
        col = out[metric].to_numpy(float).astype(object)
        col[where[ok]] = cells["value"].to_numpy()[ok]
        out[metric] = col
    return out


def table_csv(snap: Snapshot, from_step: int | None = None, until_step: int | None = None) -> str:
    """CSV text: step, time, segment, file, metrics…; empty = not logged; nan, inf, -inf = logged as such."""
    out = table_frame(snap, from_step, until_step)
    with np.errstate(all="ignore"):
        return out.to_csv(index=False, na_rep="")


def events_frame(snap: Snapshot, from_step: int | None = None, until_step: int | None = None) -> pd.DataFrame:
    """The event files' table to export: step, wall_time (epoch seconds), one column per tag; a value the
    trainer wrote as nan holds 'nan', a step without a record of the tag stays empty
    (`analysis.written_nan` tells the two apart, on the whole table); ±inf as 'inf'/'-inf'."""
    ev = event_window(snap.events, from_step, until_step)
    inside = in_window(snap.events["step"].to_numpy(), from_step, until_step)
    nan = {t: m[inside] for t, m in snapshot_nan(snap).items()}
    out = ev.copy()
    for tag in event_tags(ev):
        if nan[tag].any():
            col = out[tag].to_numpy(float).astype(object)
            col[nan[tag]] = "nan"
            out[tag] = col
    return out


def events_csv(snap: Snapshot, from_step: int | None = None, until_step: int | None = None) -> str:
    """CSV text of `events_frame`: every value at full precision (float32 values widened exactly, written in
    the shortest text that reads back to the same float64)."""
    with np.errstate(all="ignore"):
        return events_frame(snap, from_step, until_step).to_csv(index=False, na_rep="")
