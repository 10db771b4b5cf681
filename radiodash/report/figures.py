"""The report's charts: the dashboard's own figures, restricted to the report's window.

Every figure is built from the windowed data and its step axis is fixed to the window, so a
report for steps 35,000–104,800 never plots to 150,000 (launch lines outside it included).
"""
from __future__ import annotations

import re
from dataclasses import replace

import plotly.graph_objects as go

from .. import charts
from ..analysis import Analysis, window
from ..model import Snapshot, metric_column, short_name

#: Metrics that get a table row and a chart of their own, in this order (by short name).
KEY_METRICS = ("rec_loss", "nll_loss", "total_loss", "kl_loss", "g_loss", "d_weight", "disc_loss", "loss_simple",
               "loss_vlb")


def key_metrics(snap: Snapshot, a: Analysis) -> list[str]:
    """The run's key metric columns with statistics in the window, in KEY_METRICS order."""
    order = {name: i for i, name in enumerate(KEY_METRICS)}
    found = [m for m in snap.metrics if short_name(m) in order and m in a.stats]
    return sorted(found, key=lambda m: order[short_name(m)])


def step_window(a: Analysis) -> tuple[int, int] | None:
    """The steps the report covers: the window's first and last logged steps."""
    first, last = a.steps.get("first"), a.steps.get("last")
    return None if first is None or last is None else (int(first), int(last))


def chart_titles(snap: Snapshot, a: Analysis) -> dict[str, str]:
    """Chart key -> title of the charts the report has (without building them: the Markdown needs only these)."""
    if step_window(a) is None:
        return {}
    out = {f"metric:{m}": f"{short_name(m)} — raw (faint) and smoothed" for m in key_metrics(snap, a)}
    if metric_column(snap.frame, "disc_factor") is not None:
        out["disc"] = "Discriminator: disc_factor and d_weight"
    if a.lr is not None and not a.lr.empty:
        out["lr"] = "Learning rate"
    if a.decomposition is not None and not a.decomposition.empty:
        out["decomp"] = "Loss decomposition"
    return out


def report_figures(snap: Snapshot, a: Analysis) -> dict[str, tuple[str, go.Figure]]:
    """Chart key -> (title, figure), in the report's order, each restricted to the report's steps."""
    span = step_window(a)
    if span is None:
        return {}
    lo, hi = span
    windowed = replace(snap, frame=window(snap.frame, *a.window)) if a.window != (None, None) else snap
    builders = {"disc": lambda: charts.discriminator_figure(windowed, a), "lr": lambda: charts.lr_figure(windowed, a),
                "decomp": lambda: charts.decomposition_figure(windowed, a)}
    out: dict[str, tuple[str, go.Figure]] = {}
    for key, title in chart_titles(snap, a).items():
        if key.startswith("metric:"):
            fig = charts.metric_figure(snap, key.split(":", 1)[1], a, step_range=(lo, hi), height=300)
        else:
            fig = builders[key]()
        if fig is not None:
            out[key] = (title, fig)
    pad = max(1.0, (hi - lo) * 0.01)
    for _, fig in out.values():
        fig.update_xaxes(range=[lo - pad, hi + pad], autorange=False)
    return out


def file_name(index: int, key: str) -> str:
    """A PNG file name for a chart key: `03-rec_loss.png` (log text reduced to safe characters)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", short_name(key.split(":", 1)[-1])).strip("._") or "chart"
    return f"{index + 1:02d}-{slug}.png"
