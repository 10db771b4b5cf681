"""Plotly figures of a run: one look, smoothing on the full series, min/max-preserving downsampling.

No Streamlit here (a notebook or the HTML report use the same figures). Log-derived text
(metric names, file names) goes through `plain()`: Plotly renders a subset of HTML in text.

Every step-axis figure takes the same view: `x` (step, wall-clock time or hours since the start),
`step_range` (the rows drawn; on a step axis also the axis' range, so every panel of a page shows
the same steps) and `source` — the log's records, the event files' per-step values, or both
(the event files are a second, labelled source: never merged into the log's columns).
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots
from tsdownsample import MinMaxLTTBDownsampler

from .model import Snapshot, config_value, metric_column, short_name
from .radiodiff import d_weight_clamp, share_at_clamp

X_CHOICES = ("step", "time", "hours")
SMOOTHERS = ("ema", "centered")
SOURCES = ("both", "events", "log")  # what metric panels draw when the run has event files
PALETTE = qualitative.D3
RAW_OPACITY = 0.28
PHASE_FILLS = ("rgba(99,110,250,0.06)", "rgba(0,0,0,0.0)")
FONT = dict(family="Inter, system-ui, sans-serif", size=12)
# points a trace sends to the browser: more than a half-width panel has pixels, few enough that
# a page of a dozen panels draws in a new browser within seconds (benchmarks/bench_latency.py)
MAX_POINTS = 1000
# the log's records drawn as dots over the event files' per-step curve. Each dot is an SVG element of its own,
# styled one by one: ~0.27 ms a dot in Plotly.js alone, more in a new browser's first draw (the 150,000-step
# run's page: its nine dot traces of 300 took 0.3-1.4 s of its 8-9 s in two alternated runs). 100 is about
# as many 3.5 px dots as stay apart on a half-width panel (~460 px of plot); the curve carries the detail, the
# dots say where the log has values and what it printed (extremes kept: MinMaxLTTB).
MAX_LOG_DOTS = 100


# Margins of a panel whose x axis takes `automargin` (`_legend_below` without `fixed`): a margin smaller than
# what the axis draws there makes the browser lay the whole figure out a second time. The last step's tick label
# ('150k') reaches 27 px past the plot on the right; below it, the tick labels and the axis title take 53 px,
# then the legend's padding and rows.
AUTOMARGIN_R = 28
LEGEND_BASE, LEGEND_ROW = 56, 19


def _log_points(max_points: int, as_dots: bool) -> int:
    """How many of the log's records a trace draws: capped at MAX_LOG_DOTS when drawn as dots over a curve."""
    return min(max_points, MAX_LOG_DOTS) if as_dots else max_points
#: The event files' learning-rate tag: written after the scheduler stepped (the rate of the next step).
LR_TAG = "Learning_Rate"
#: Discriminator series the event files hold (every step) and the log only under accumulation > 1.
DISC_SERIES = ("disc_loss", "logits_real", "logits_fake")
LOG_NAME = "log"
EVENTS_NAME = "event files"


def _figure(*traces) -> go.Figure:
    return go.Figure(data=list(traces))


def plain(text: object) -> str:
    """Log text made inert for Plotly: <, >, & are shown, never interpreted."""
    return html.escape(str(text), quote=False)


# ------------------------------------------------------------------ smoothing / downsampling


def smooth_ema(y: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average; non-finite values pass through untouched.

    last = last·w + (1-w)·v; smoothed = last / (1 - w**n) over the n finite values so far.
    """
    y = np.asarray(y, float)
    out = y.copy()
    ok = np.isfinite(y)
    v = y[ok]
    if not v.size or weight <= 0:
        return out
    w = min(float(weight), 0.999999)
    if np.all(v == v[0]):  # TensorBoard leaves a constant series as it is
        return out
    from scipy.signal import lfilter  # here: scipy.signal takes ~2 s to import, and `parse` never smooths

    last = lfilter([1.0 - w], [1.0, -w], v)
    # w**n falls below float64's resolution next to 1 after log(2**-53)/log(w) values (77 for w = 0.6):
    # past that the debiasing divisor is exactly 1, and a power per point was most of the cost
    k = v.size if w >= 0.999999 else min(v.size, int(np.ceil(np.log(2.0 ** -54) / np.log(w))) + 1)
    with np.errstate(under="ignore"):
        last[:k] /= 1.0 - w ** np.arange(1, k + 1, dtype=float)
    out[ok] = last
    return out


def smooth_centered(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over `window` records, ignoring non-finite values (which pass through)."""
    y = np.asarray(y, float)
    ok = np.isfinite(y)
    out = y.copy()
    if window <= 1 or not ok.any():
        return out
    s = pd.Series(np.where(ok, y, np.nan))
    out[ok] = s.rolling(int(window), center=True, min_periods=1).mean().to_numpy()[ok]
    return out


def window_of(weight: float) -> int:
    """The centred window that matches an EMA weight's memory (0.9 → 10 records, 0.99 → 100)."""
    return max(1, int(round(1.0 / max(1e-3, 1.0 - weight))))


def smoothed(y: np.ndarray, smoother: str, weight: float) -> np.ndarray:
    if smoother == "centered":
        return smooth_centered(y, window_of(weight))
    return smooth_ema(y, weight)


def downsample_indices(x: np.ndarray, y: np.ndarray, n_out: int = MAX_POINTS) -> np.ndarray:
    """Indices to draw: MinMaxLTTB on the finite points (spikes survive), plus every non-finite point,
    the first and last, and the lowest and highest finite points (LTTB's pick among MinMax's candidates
    can pass over the global extremes when `n_out` is small). Sorted, unique."""
    n = len(y)
    if n <= n_out:
        return np.arange(n)
    y = np.asarray(y, float)
    ok = np.isfinite(y)
    fin = np.flatnonzero(ok)
    parts = [np.flatnonzero(~ok), np.array([0, n - 1])]
    if fin.size > n_out:
        xs = np.ascontiguousarray(np.asarray(x)[fin], dtype=np.float64)
        ys = np.ascontiguousarray(y[fin])
        parts.append(fin[MinMaxLTTBDownsampler().downsample(xs, ys, n_out=n_out)])
        parts.append(fin[[np.argmin(ys), np.argmax(ys)]])
    else:
        parts.append(fin)
    return np.unique(np.concatenate(parts).astype(np.int64))


# ------------------------------------------------------------------ the view every panel shares


@dataclass(frozen=True)
class Axis:
    """The x axis of a panel: the kind used (time needs timestamps) and its title."""

    kind: str  # step | time | hours
    title: str


def _rows(steps: np.ndarray, step_range: tuple[int, int] | None) -> slice:
    """The rows of a step range as a slice (steps ascend: no copy, no mask)."""
    if step_range is None:
        return slice(0, steps.size)
    lo, hi = step_range
    return slice(int(np.searchsorted(steps, lo, "left")), int(np.searchsorted(steps, hi, "right")))


def _axis_kind(frame: pd.DataFrame, x: str) -> Axis:
    if x in ("time", "hours") and "time" in frame.columns and frame["time"].notna().any():
        return Axis("time", "wall-clock time (the log's clock)") if x == "time" else Axis("hours", "hours since start")
    return Axis("step", "step")


def _axis(frame: pd.DataFrame, x: str, rows: slice = slice(None)) -> tuple[np.ndarray, str, str]:
    """x values of `rows` of the log's table, the axis kind actually used, and its title."""
    ax = _axis_kind(frame, x)
    if ax.kind == "step":
        return frame["step"].to_numpy()[rows], ax.kind, ax.title
    t = frame["time"].to_numpy()
    if ax.kind == "time":
        return t[rows], ax.kind, ax.title
    t0 = t[np.argmax(~np.isnat(t))]
    return (t[rows] - t0) / np.timedelta64(1, "s") / 3600, ax.kind, ax.title


def _log_clock_offset(snap: Snapshot) -> float:
    """Seconds to add to an event's wall_time (epoch seconds) to read it on the log's clock.

    The log's timestamps are the trainer's local time without a zone; the event files' are epoch
    seconds. Both are written at the same moment of a step, so the median difference over the steps
    both sources hold is the trainer's zone offset (to within the milliseconds between the writes).
    Without a shared step: the server's own zone offset at that time.
    """
    frame, ev = snap.frame, snap.events
    common, fi, ei = np.intersect1d(frame["step"].to_numpy(), ev["step"].to_numpy(), return_indices=True)
    if common.size:
        t = frame["time"].to_numpy()[fi]
        ok = ~np.isnat(t)
        if ok.any():
            naive = t[ok].astype("datetime64[ns]").astype(np.int64) / 1e9
            return float(np.median(naive - ev["wall_time"].to_numpy()[ei][ok]))
    import time as _time

    w = float(ev["wall_time"].iloc[0]) if len(ev) else _time.time()
    return float(_time.localtime(w).tm_gmtoff)


def _event_x(snap: Snapshot, ax: Axis, rows: slice) -> np.ndarray:
    """x values of `rows` of the event table on the panel's axis (the log's clock for time axes)."""
    ev = snap.events
    if ax.kind == "step":
        return ev["step"].to_numpy()[rows]
    secs = ev["wall_time"].to_numpy()[rows] + _log_clock_offset(snap)
    t = (secs * 1e9).astype("datetime64[ns]")
    if ax.kind == "time":
        return t
    lt = snap.frame["time"].to_numpy()
    t0 = lt[np.argmax(~np.isnat(lt))] if (~np.isnat(lt)).any() else t[0]
    return (t - t0) / np.timedelta64(1, "s") / 3600


def event_tag(snap: Snapshot, metric: str) -> str | None:
    """The event files' tag holding the same metric as a log column (by short name), or None."""
    name = short_name(metric)
    return name if name in snap.events.columns and name not in ("step", "wall_time") else None


def event_tags(snap: Snapshot) -> list[str]:
    """The event files' value tags, in the order written."""
    return [c for c in snap.events.columns if c not in ("step", "wall_time")]


def uses_events(snap: Snapshot, source: str) -> bool:
    return source in ("both", "events") and bool(event_tags(snap)) and len(snap.events) > 0


def run_span(snap: Snapshot) -> tuple[int, int] | None:
    """The first and last step either source holds (the log's records, the event files' steps)."""
    ends = [(int(t["step"].iloc[0]), int(t["step"].iloc[-1])) for t in (snap.frame, snap.events) if len(t)]
    return (min(a for a, _ in ends), max(b for _, b in ends)) if ends else None


def _step_axis_range(fig: go.Figure, snap: Snapshot, ax: Axis, step_range: tuple[int, int] | None,
                     axes: Sequence[str] = ("xaxis",)) -> None:
    """On a step axis, the step range — else the run's whole span — is the axis' range: every panel of
    the page shows the same steps, aligned one under the other (autorange pads each panel differently)."""
    span = step_range if step_range is not None else run_span(snap)
    if ax.kind != "step" or span is None or span[0] == span[1]:
        return
    for a in axes:
        fig.layout[a].range = list(span)
        fig.layout[a].autorange = False


def _revision(snap: Snapshot, panel: str, ax: Axis, step_range: tuple[int, int] | None, *extra: object) -> str:
    """A panel's `uirevision`: constant while the user's zoom means the same thing (same run, panel,
    axis kind and step range), so a redraw with new data never takes the zoom away."""
    rng = "all" if step_range is None else f"{step_range[0]}-{step_range[1]}"
    return "|".join(str(p) for p in (snap.path, panel, ax.kind, rng, *extra))


# ------------------------------------------------------------------ shared look and decorations


def _layout(fig: go.Figure, title: str, height: int, uirevision: str) -> go.Figure:
    fig.update_layout(  # explicit colours, no named template: applying one deep-copies it (~50 ms a figure)
        paper_bgcolor="white", plot_bgcolor="white", colorway=PALETTE, height=height,
        title=dict(text=title, x=0.01, xanchor="left", y=0.98, yanchor="top", font=dict(size=14)),
        margin=dict(l=64, r=16, t=56, b=44), font=FONT, hovermode="x unified", uirevision=uirevision,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0, font=dict(size=11)),
    )
    # fixed margins: `automargin` costs every chart a second layout pass in the browser (a page of a dozen
    # panels drew ~20 % slower in benchmarks/bench_latency.py); only axes with long tick labels take it
    fig.update_xaxes(showgrid=True, gridcolor="#eee", zeroline=False)
    fig.update_yaxes(showgrid=True, gridcolor="#eee", zeroline=False)
    return fig


def color_of(metric: str, metrics: Sequence[str] | None = None) -> str:
    i = list(metrics).index(metric) if metrics and metric in metrics else sum(map(ord, metric))
    return PALETTE[i % len(PALETTE)]


def decorate_steps(fig: go.Figure, snap: Snapshot, analysis, lo: float | None = None, hi: float | None = None,
                   label: bool = True) -> None:
    """Phase bands, launch/resume boundaries and the discriminator switch on a step axis;
    `label` numbers the phases as in the phases table (launch/resume boundaries are always labelled).

    Built as plain layout dicts and set once: `add_vrect`/`add_vline` re-validate the whole
    layout on every call, which made a page of panels cost a second.
    """
    shapes: list[dict] = []
    notes: list[dict] = []
    if analysis is not None:
        for i, p in enumerate(analysis.phases):
            if hi is not None and p.start_step > hi or lo is not None and p.end_step < lo:
                continue
            x0 = p.start_step if lo is None else max(p.start_step, lo)
            shapes.append(dict(type="rect", xref="x", yref="paper", x0=p.start_step, x1=p.end_step, y0=0, y1=1,
                               fillcolor=PHASE_FILLS[i % 2], line_width=0, layer="below"))
            if label:
                # the number only (the phases table has the names): full names overlap on short phases
                notes.append(dict(x=x0, y=1, xref="x", yref="paper", text=str(i + 1),
                                  hovertext=plain(p.name), showarrow=False, xanchor="left", yanchor="top",
                                  font=dict(size=10, color="#888")))
    for seg in snap.segments[1:]:
        if seg.first_step is None or (lo is not None and seg.first_step < lo) or (hi is not None and seg.first_step > hi):
            continue
        what = "resume" if seg.is_resume else "launch"
        shapes.append(dict(type="line", xref="x", yref="paper", x0=seg.first_step, x1=seg.first_step, y0=0, y1=1,
                           line=dict(color="#555", dash="dash", width=1)))
        notes.append(dict(x=seg.first_step, y=0, xref="x", yref="paper", text=f"{what} @ {seg.first_step:,}",
                          showarrow=False, xanchor="left", yanchor="bottom", font=dict(size=9)))
    disc = getattr(analysis, "disc", None) if analysis is not None else None
    if disc is not None and disc.first_on_step is not None and (lo is None or disc.first_on_step >= lo) and (
            hi is None or disc.first_on_step <= hi):
        shapes.append(dict(type="line", xref="x", yref="paper", x0=disc.first_on_step, x1=disc.first_on_step, y0=0,
                           y1=1, line=dict(color="#d62728", dash="dot", width=1)))
    fig.update_layout(shapes=[*fig.layout.shapes, *shapes], annotations=[*fig.layout.annotations, *notes])


def _bounds(step_range: tuple[int, int] | None, steps: np.ndarray) -> tuple[float | None, float | None]:
    if step_range is not None:
        return step_range
    return (float(steps[0]), float(steps[-1])) if steps.size else (None, None)


# ------------------------------------------------------------------ series helpers


def _hover_times(frame: pd.DataFrame, rows: slice, idx: np.ndarray) -> np.ndarray:
    # a fixed-width str array: object arrays are deep-copied element by element by Plotly
    return np.asarray(pd.Series(frame["time"].to_numpy()[rows][idx]).dt.strftime("%Y-%m-%d %H:%M:%S")
                      .fillna("time unknown").to_numpy(), dtype=str)


def _event_series(snap: Snapshot, tag: str, ax: Axis, step_range, smoother: str, smooth: float, max_points: int):
    """(x, raw, smoothed, steps) of one event tag within the step range, downsampled; None when empty."""
    ev = snap.events
    steps = ev["step"].to_numpy()
    raw_all = ev[tag].to_numpy(float)
    rows = _rows(steps, step_range)
    raw, st = raw_all[rows], steps[rows]
    ok = np.isfinite(raw)
    if not ok.any():
        return None
    sm = smoothed(raw_all, smoother, smooth)[rows]  # the full series first, like the log's
    xs = _event_x(snap, ax, rows)
    idx = downsample_indices(st, raw, max_points)
    return xs[idx], raw[idx], sm[idx], st[idx]


def constant_metrics(snap: Snapshot, step_range: tuple[int, int] | None = None) -> dict[str, float]:
    """Log metrics whose every record in the range holds the same finite value (e.g. `logvar` = 0 on
    every line): listed in a sentence instead of a panel of a flat line. A series with a nan, an inf
    or fewer than two records is never listed here."""
    frame = snap.frame
    rows = _rows(frame["step"].to_numpy(), step_range)
    out = {}
    for m in snap.metrics:
        v = frame[m].to_numpy(float)[rows]
        v = v[~np.isnan(v)] if m not in set(snap.nonfinite["metric"]) else v  # a cell no line filled is not data
        if v.size >= 2 and np.isfinite(v).all() and (v == v[0]).all():
            out[m] = float(v[0])
    return out


# ------------------------------------------------------------------ figures


def _series(snap: Snapshot, metric: str) -> pd.DataFrame:
    if metric in snap.frame.columns:
        return snap.frame
    return snap.val_frame


def metric_figure(snap: Snapshot, metric: str, analysis=None, *, smoother: str = "ema", smooth: float = 0.6,
                  x: str = "step", log_y: bool = False, step_range: tuple[int, int] | None = None,
                  max_points: int = MAX_POINTS, height: int = 320, source: str = "log") -> go.Figure:
    """One metric: the raw series faint behind its smoothed curve (smoothed on the full series first).

    With `source` "both" or "events" and an event tag of the same short name, the event files'
    per-step series is the curve, and with "both" the log's records sit on top as dots; the legend
    says which is which. `metric` may also be an event tag the log does not have.

    Phase names are written on the overlay panel only: each text label costs the browser a
    measurement on every draw.
    """
    in_log = metric in snap.frame.columns or metric in snap.val_frame.columns
    tag = metric if not in_log and metric in event_tags(snap) else event_tag(snap, metric)
    draw_events = tag is not None and (uses_events(snap, source) or not in_log)
    draw_log = in_log and (source in ("both", "log") or not draw_events)
    frame = _series(snap, metric) if in_log else snap.frame
    ax = _axis_kind(frame, x)
    name = plain(short_name(metric))
    color = color_of(metric, snap.metrics) if in_log else color_of(metric)
    fig = _figure()
    title = name
    finite: list[np.ndarray] = []
    if draw_events:
        got = _event_series(snap, tag, ax, step_range, smoother, smooth, max_points)
        if got is not None:
            xs, raw, sm, st = got
            finite.append(raw[np.isfinite(raw)])
            fig.add_trace(go.Scatter(x=xs, y=raw, mode="lines", name=f"{EVENTS_NAME}, every step",
                                     line=dict(color=color, width=1), opacity=RAW_OPACITY if smooth > 0 else 1.0,
                                     customdata=st.astype(float), showlegend=smooth <= 0,
                                     hovertemplate="event files %{y:.6g} · step %{customdata:,.0f}<extra></extra>"))
            if smooth > 0:
                fig.add_trace(go.Scatter(x=xs, y=sm, mode="lines", name=f"{EVENTS_NAME}, every step",
                                         line=dict(color=color, width=2),
                                         hovertemplate=f"event files, smoothed ({smoother}) %{{y:.6g}}<extra></extra>"))
    if draw_log:
        steps = frame["step"].to_numpy()
        raw_all = frame[metric].to_numpy(float)
        rows = _rows(steps, step_range)
        xs_all, _, _ = _axis(frame, ax.kind, rows)
        r, st = raw_all[rows], steps[rows]
        idx = downsample_indices(st, r, _log_points(max_points, draw_events))
        times = _hover_times(frame, rows, idx)
        finite.append(r[np.isfinite(r)])
        if draw_events:  # the log's records as dots on top of the per-step curve
            fig.add_trace(go.Scatter(x=xs_all[idx], y=r[idx], mode="markers", name=f"{LOG_NAME} records",
                                     marker=dict(color="#222", size=3.5, opacity=0.65, line=dict(width=0)),
                                     customdata=st[idx].astype(float),
                                     text=times, hovertemplate="log %{y:.6g} · step %{customdata:,.0f} · %{text}"
                                     "<extra></extra>"))
        else:
            s = smoothed(raw_all, smoother, smooth)[rows]  # full resolution, before any range or downsampling
            fig.add_trace(go.Scatter(x=xs_all[idx], y=r[idx], mode="lines", name=f"{name} (raw)",
                                     line=dict(color=color, width=1), opacity=RAW_OPACITY, customdata=st[idx].astype(float),
                                     text=times, showlegend=False,
                                     hovertemplate="raw %{y:.6g} · step %{customdata:,.0f} · %{text}<extra></extra>"))
            if smooth > 0:
                fig.add_trace(go.Scatter(x=xs_all[idx], y=s[idx], mode="lines", name=name,
                                         line=dict(color=color, width=2), showlegend=False,
                                         hovertemplate=f"smoothed ({smoother}) %{{y:.6g}}<extra></extra>"))
            _nan_marks(fig, snap, metric, xs_all, r, s, st, idx)
    fin = np.concatenate(finite) if finite else np.zeros(0)
    if log_y:
        if fin.size and (fin > 0).all():
            fig.update_yaxes(type="log")
        else:
            title += " <span style='font-size:11px;color:#888'>(log scale needs positive values)</span>"
    if ax.kind == "step":
        lo, hi = _bounds(step_range, frame["step"].to_numpy() if len(frame) else np.zeros(0))
        decorate_steps(fig, snap, analysis, lo, hi, label=False)
    fig.update_xaxes(title_text=ax.title)
    _step_axis_range(fig, snap, ax, step_range)
    _layout(fig, title, height, _revision(snap, f"metric:{metric}", ax, step_range, source))
    if draw_events and draw_log:
        _legend_below(fig, 2, fixed=True)  # two entries: the per-step curve and the log's dots
    elif draw_log and uses_events(snap, source):  # say it: the other panels draw the event files
        title += " <span style='font-size:11px;color:#888'>(log only: no event tag)</span>"
        fig.update_layout(title_text=title, showlegend=False)
    else:
        fig.update_layout(showlegend=False)
    return fig


def _legend_below(fig: go.Figure, rows: int = 1, *, fixed: bool = False) -> None:
    """The legend at the bottom of the figure, under the x axis' title, in a margin made for `rows` rows of it
    (above the plot it grew into the title when it wrapped; placed in plot fractions it met the axis title).

    `fixed`: `rows` is the most the legend can wrap to in the narrowest panel (two columns in an 800 px
    window: ~230 px), so the margin holds it and the axes need no `automargin`, which draws a figure twice
    in the browser: the metric panels of an event run's page drew in ~half the time without it (Plotly.js,
    the page's ten figures alone). Otherwise (legends whose wrapping depends on the width) the x axis
    takes `automargin`, else its title is squeezed onto its tick labels; `rows` is then what the legend wraps to
    in a 1400 px window (two columns of ~460 px), where the figure is then laid out once (not twice).
    """
    fig.update_layout(legend=dict(orientation="h", yref="container", yanchor="bottom", y=0, xanchor="left", x=0,
                                  xref="container" if fixed else "paper"),
                      margin=dict(b=LEGEND_BASE + LEGEND_ROW * rows))
    if not fixed:
        # margins that already hold the axis and `rows` rows of legend: automargin then changes nothing and
        # the figure is laid out once; only a legend wrapping to more rows (a narrower column) widens them
        fig.update_layout(margin=dict(r=max(AUTOMARGIN_R, fig.layout.margin.r or 0)))
        fig.update_xaxes(automargin=True)


def _nan_marks(fig, snap, metric, xs_all, r, s, st, idx) -> None:
    """Red crosses where the log printed nan/inf (a cell no line filled yet is not marked)."""
    bad = idx[~np.isfinite(r[idx])]
    if metric in snap.frame.columns and bad.size:  # a cell no line filled yet (the step's second line
        logged = snap.nonfinite.loc[snap.nonfinite["metric"] == metric, "step"].to_numpy()  # is coming) is not nan
        bad = bad[np.isin(st[bad], logged)]
    if bad.size:
        finite_before = pd.Series(np.where(np.isfinite(s), s, np.nan)).ffill().bfill().to_numpy()
        fig.add_trace(go.Scatter(x=xs_all[bad], y=finite_before[bad], mode="markers", name="nan/inf",
                                 marker=dict(color="#d62728", symbol="x", size=8),
                                 text=[f"{v} at step {int(q):,}" for v, q in zip(r[bad], st[bad])],
                                 hovertemplate="%{text}<extra></extra>"))


def overlay_figure(snap: Snapshot, metrics: Sequence[str], analysis=None, *, smoother: str = "ema",
                   smooth: float = 0.6, x: str = "step", step_range: tuple[int, int] | None = None,
                   max_points: int = MAX_POINTS, height: int = 360, **_: object) -> go.Figure:
    """Selected metrics on one axis, each smoothed then scaled to [0, 1] over the view (min → 0, max → 1)."""
    frame = snap.frame
    steps = frame["step"].to_numpy()
    rows = _rows(steps, step_range)
    xs, used, xtitle = _axis(frame, x, rows)
    ax = Axis(used, xtitle)
    fig = _figure()
    for m in metrics:
        if m not in frame.columns:
            continue
        s = smoothed(frame[m].to_numpy(float), smoother, smooth)[rows]
        fin = s[np.isfinite(s)]
        if not fin.size:
            continue
        lo, hi = float(fin.min()), float(fin.max())
        norm = (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)
        idx = downsample_indices(steps[rows], s, max_points)
        fig.add_trace(go.Scatter(x=xs[idx], y=norm[idx], mode="lines", name=plain(short_name(m)),
                                 line=dict(color=color_of(m, snap.metrics), width=2),
                                 customdata=s[idx], hovertemplate="%{customdata:.6g}<extra>%{fullData.name}</extra>"))
    if used == "step":
        lo, hi = _bounds(step_range, steps)
        decorate_steps(fig, snap, analysis, lo if step_range else None, hi if step_range else None)
    fig.update_yaxes(title_text="scaled: 0 = min, 1 = max in view", range=[-0.05, 1.05])
    fig.update_xaxes(title_text=xtitle)
    _step_axis_range(fig, snap, ax, step_range)
    return _layout(fig, "Overlay (log)", height, _revision(snap, "overlay", ax, step_range))


def compare_figure(runs: Sequence[tuple[str, Snapshot, object]], metric: str, *, align: str = "step",
                   smoother: str = "ema", smooth: float = 0.6, log_y: bool = False, max_points: int = MAX_POINTS,
                   height: int = 380, **_: object) -> go.Figure:
    """The same metric of several runs (matched by short name: `train/total_loss` ≈ `total_loss`),
    aligned by step or by hours since each run's start."""
    fig = _figure()
    for i, (label, snap, analysis) in enumerate(runs):
        frame = snap.frame
        c = metric if metric in frame.columns else metric_column(frame, short_name(metric))
        if c is None or not len(frame):
            continue
        color = PALETTE[i % len(PALETTE)]
        xs, used, _ = _axis(frame, "hours" if align == "hours" else "step")
        steps = frame["step"].to_numpy()
        raw = frame[c].to_numpy(float)
        s = smoothed(raw, smoother, smooth)
        idx = downsample_indices(steps, raw, max_points)
        fig.add_trace(go.Scatter(x=xs[idx], y=s[idx], mode="lines", name=plain(label), line=dict(color=color, width=2),
                                 hovertemplate=f"{plain(label)}: %{{y:.6g}}<extra></extra>"))

        def x_of(step: int) -> float:
            j = min(int(np.searchsorted(steps, step)), steps.size - 1)
            return float(xs[j]) if used == "hours" else step
        for seg in snap.segments[1:]:
            if seg.first_step is not None:
                fig.add_vline(x=x_of(seg.first_step), line=dict(color=color, dash="dash", width=1))
        disc = getattr(analysis, "disc", None)
        if disc is not None and disc.first_on_step is not None:
            fig.add_vline(x=x_of(disc.first_on_step), line=dict(color=color, dash="dot", width=1),
                          annotation_text=f"{plain(label)}: switched on", annotation_font_size=9)
    if log_y:
        fig.update_yaxes(type="log")
    fig.update_xaxes(title_text="hours since start" if align == "hours" else "step")
    return _layout(fig, plain(short_name(metric)), height, f"compare|{short_name(metric)}|{align}")


def _x_at_step(frame: pd.DataFrame, ax: Axis, step: int):
    """Where a logged step sits on the panel's x axis (None when the log has no record there)."""
    if ax.kind == "step":
        return step
    steps = frame["step"].to_numpy()
    j = int(np.searchsorted(steps, step))
    if j >= steps.size:
        return None
    xs, _, _ = _axis(frame, ax.kind, slice(j, j + 1))
    return xs[0]


def _log_series(frame: pd.DataFrame, column: str, ax: Axis, rows: slice, max_points: int = MAX_POINTS):
    steps = frame["step"].to_numpy()
    v = frame[column].to_numpy(float)[rows]
    xs, _, _ = _axis(frame, ax.kind, rows)
    idx = downsample_indices(steps[rows], v, max_points)
    return xs[idx], v[idx], steps[rows][idx]


def discriminator_figure(snap: Snapshot, analysis, height: int = 460, *, x: str = "step",
                         step_range: tuple[int, int] | None = None, source: str = "log",
                         max_points: int = MAX_POINTS) -> go.Figure | None:
    """disc_factor with the configured disc_start and the observed switch; d_weight with its clamp
    ceiling; and, when the event files (or the log, under accumulation > 1) have them, the
    discriminator's loss and logits."""
    frame = snap.frame
    df_c, dw_c = metric_column(frame, "disc_factor"), metric_column(frame, "d_weight")
    if df_c is None:
        return None
    ax = _axis_kind(frame, x)
    steps = frame["step"].to_numpy()
    rows = _rows(steps, step_range)
    ev_on = uses_events(snap, source)
    third = [n for n in DISC_SERIES if (ev_on and n in snap.events.columns) or metric_column(frame, n) is not None]
    disc = getattr(analysis, "disc", None)
    dw = (analysis.config or {}).get("model", {}).get("lossconfig", {}).get("disc_weight") if analysis else None
    clamp = d_weight_clamp(dw) if isinstance(dw, (int, float)) and not isinstance(dw, bool) else None
    # short titles: the reference lines are explained under the chart (`discriminator_notes`), where a
    # sentence wraps instead of running off a narrow panel
    titles = ["disc_factor", "d_weight"]
    if third:
        titles.append("disc_loss and logits")  # the legend says which source each line is (a longer title was cut at 800 px)
    n_rows = len(titles)
    fig = make_subplots(rows=n_rows, cols=1, shared_xaxes=True, vertical_spacing=0.11 if n_rows == 3 else 0.14,
                        subplot_titles=titles)
    for ann in fig.layout.annotations:  # subplot titles: left-aligned, small, never over the plot
        ann.update(x=0, xanchor="left", font=dict(size=11, color="#444"))
    xs, v, _ = _log_series(frame, df_c, ax, rows, max_points)
    fig.add_trace(go.Scatter(x=xs, y=v, mode="lines", line=dict(shape="hv", color=PALETTE[3]), name="disc_factor"),
                  row=1, col=1)
    fig.update_yaxes(range=[-0.1, 1.15], tickvals=[0, 1], row=1, col=1)
    lo, hi = _bounds(step_range, steps)
    if disc is not None and disc.configured_step is not None and ax.kind == "step" and (
            lo is None or lo <= disc.configured_step <= hi):
        fig.add_shape(type="line", x0=disc.configured_step, x1=disc.configured_step, y0=0, y1=1, xref="x",
                      yref="y domain", line=dict(color="#888", dash="dash", width=1))
    if disc is not None and disc.first_on_step is not None and (lo is None or lo <= disc.first_on_step <= hi):
        where = (f"between steps {disc.last_off_step:,} and {disc.first_on_step:,}" if disc.last_off_step is not None
                 else f"at step {disc.first_on_step:,}")
        x_on = _x_at_step(frame, ax, disc.first_on_step)
        if x_on is not None:
            # two short lines beside the step it marks, inside the panel, on the side with more room (Plotly
            # widens a data axis to fit an annotation: one long line stretched the panel past the last step)
            span = float(hi - lo) if hi is not None and lo is not None and hi > lo else 0.0
            right_half = ax.kind == "step" and span > 0 and (disc.first_on_step - lo) / span > 0.5
            fig.add_annotation(x=x_on, y=0.5, xref="x", yref="y", text="switched on", hovertext=f"switched on {where}",
                               showarrow=True, arrowhead=2, arrowsize=0.8, ax=-36 if right_half else 36, ay=0,
                               xanchor="right" if right_half else "left", align="left",
                               font=dict(size=10, color="#d62728"), bgcolor="rgba(255,255,255,0.9)")
    if dw_c is not None:
        xs, w, _ = _log_series(frame, dw_c, ax, rows, max_points)
        fig.add_trace(go.Scatter(x=xs, y=w, mode="lines", line=dict(color=PALETTE[4], width=1), name="d_weight"),
                      row=2, col=1)
        if clamp is not None:
            fig.add_shape(type="line", x0=0, x1=1, xref="x2 domain", y0=clamp, y1=clamp, yref="y2",
                          line=dict(color="#d62728", dash="dash", width=1))
            allw = frame[dw_c].to_numpy(float)[rows]
            fin = allw[np.isfinite(allw)]
            if (share_at_clamp(allw, dw) or 0.0) > 0.5 and fin.size:
                # mostly at the ceiling: show it from 0, not as a flat line in a ±1 band around 5,000
                top = 1.12 * max(clamp, float(fin.max()))
                fig.update_yaxes(range=[-0.04 * top, top], row=2, col=1)  # 0 clear of the x axis labels
    for i, n in enumerate(third):
        color = PALETTE[(5 + i) % len(PALETTE)]
        if ev_on and n in snap.events.columns:
            got = _event_series(snap, n, ax, step_range, "ema", 0.0, max_points)
            if got is not None:
                fig.add_trace(go.Scatter(x=got[0], y=got[1], mode="lines", line=dict(color=color, width=1),
                                         name=f"{n} ({EVENTS_NAME})"), row=3, col=1)
        c = metric_column(frame, n)
        if c is not None and source in ("both", "log"):
            xs, v, _ = _log_series(frame, c, ax, rows, _log_points(max_points, ev_on))
            fig.add_trace(go.Scatter(x=xs, y=v, mode="markers" if ev_on else "lines", name=f"{n} ({LOG_NAME})",
                                     marker=dict(color=color, size=4), line=dict(color=color, width=1)), row=3, col=1)
    fig.update_xaxes(title_text=ax.title, row=n_rows, col=1)
    _step_axis_range(fig, snap, ax, step_range, axes=[f"xaxis{i if i > 1 else ''}" for i in range(1, n_rows + 1)])
    fig = _layout(fig, "Discriminator", height, _revision(snap, "disc", ax, step_range, source))
    fig.update_layout(showlegend=bool(third))
    if third:
        _legend_below(fig, 4)  # up to 8 entries, two a row at ~460 px (more rows when narrower: automargin)
    return fig


def discriminator_notes(analysis, step_range: tuple[int, int] | None = None) -> list[str]:
    """The discriminator panel's reference lines in sentences, for under the chart."""
    disc = getattr(analysis, "disc", None)
    out = []
    if disc is not None and disc.configured_step is not None:
        out.append(f"Dashed grey line: disc_start = {disc.configured_step:,} in the config.")
    if disc is not None and disc.first_on_step is not None:
        where = (f"between steps {disc.last_off_step:,} and {disc.first_on_step:,}" if disc.last_off_step is not None
                 else f"at step {disc.first_on_step:,}")
        out.append(f"The discriminator switched on {where} (disc_factor 0 → 1; arrow and dotted red line).")
    elif disc is not None:
        out.append("The discriminator has not switched on yet (disc_factor is 0 on every record).")
    dw = config_value(getattr(analysis, "config", None), "model", "lossconfig", "disc_weight")
    if isinstance(dw, (int, float)) and not isinstance(dw, bool):
        out.append(f"Dashed red line: d_weight's clamp ceiling 1e4 × disc_weight = {d_weight_clamp(dw):,.0f}.")
    return out


def lr_ticks(top: float) -> tuple[list[float], list[str]]:
    """Tick values from 0 to `top` at a round step, labelled in scientific notation where the value is
    small ('2e-05', never '0' or '0.8e−5'): a learning rate must read as its magnitude."""
    if not top > 0 or not math.isfinite(top):
        return [0.0], ["0"]
    raw = top / 4
    base = 10 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 2.5, 5, 10) if m * base >= raw * (1 - 1e-9))  # 1e-5 / 4 is 2.5000…04e-06
    vals = [float(f"{k * step:.12g}") for k in range(int(math.floor(top / step + 1e-9)) + 1)]
    return vals, [sci(v) for v in vals]


def sci(v: float) -> str:
    """A rate as text: '0', '2e-05', '1.5e-05', '0.001' (3 significant digits, exponent when small)."""
    if v == 0:
        return "0"
    return f"{v:.3g}"


def lr_figure(snap: Snapshot, analysis, height: int = 320, *, x: str = "step",
              step_range: tuple[int, int] | None = None, source: str = "log",
              max_points: int = MAX_POINTS) -> go.Figure | None:
    """The learning rate on its own scale from 0, ticks in scientific notation.

    Exact from the event files' `Learning_Rate` when they have it (written after the scheduler
    stepped: the value at step s is the rate of step s + 1, drawn there); else the log's `lr`
    (5 decimals: below 5e-6 it prints 0) with the schedule reconstructed from the config
    (trainer.lr × max((1 - step/train_num_steps) ** 0.95, min_lr)).
    """
    lr = getattr(analysis, "lr", None)
    frame = snap.frame
    ax = _axis_kind(frame, x)
    has_exact = uses_events(snap, source) and LR_TAG in snap.events.columns
    if (lr is None or lr.empty) and not has_exact:
        return None
    fig = _figure()
    tops: list[float] = []
    if has_exact:
        ev = snap.events
        steps = ev["step"].to_numpy() + 1  # the rate of the next step
        rows = _rows(steps, step_range)
        v = ev[LR_TAG].to_numpy(float)[rows]
        if ax.kind == "step":
            xs = steps[rows]
        else:
            xs = _event_x(snap, ax, rows)
        idx = downsample_indices(steps[rows], v, max_points)
        fig.add_trace(go.Scatter(x=xs[idx], y=v[idx], mode="lines", name="Learning_Rate (event files, exact)",
                                 line=dict(color=PALETTE[0], width=2), customdata=steps[rows][idx].astype(float),
                                 hovertemplate="%{y:.4~e} at step %{customdata:,.0f} (event files)<extra></extra>"))
        tops.append(float(np.nanmax(v)) if np.isfinite(v).any() else 0.0)
    if lr is not None and not lr.empty and (source in ("both", "log") or not has_exact):
        steps = lr["step"].to_numpy()
        rows = _rows(steps, step_range)
        xs, _, _ = _axis(frame, ax.kind, rows) if len(frame) == len(lr) else (steps[rows], None, None)
        logged = lr["logged"].to_numpy(float)[rows]
        idx = downsample_indices(steps[rows], logged, _log_points(max_points, has_exact))
        if np.isfinite(logged).any():
            fig.add_trace(go.Scatter(x=xs[idx], y=logged[idx], mode="markers" if has_exact else "lines",
                                     name="lr in the log (5 decimals)", line=dict(color="#111" if has_exact else PALETTE[0],
                                                                                  width=1.5),
                                     marker=dict(size=4, color="#111"),
                                     hovertemplate="%{y:.5f} (log, 5 decimals)<extra></extra>"))
            tops.append(float(np.nanmax(logged)))
        rec = lr["reconstructed"].to_numpy(float)[rows]
        if not has_exact and np.isfinite(rec).any():
            fig.add_trace(go.Scatter(x=xs[idx], y=rec[idx], mode="lines", name="schedule from the config",
                                     line=dict(color=PALETTE[1], width=2, dash="dash"),
                                     hovertemplate="%{y:.4~e} (config's schedule)<extra></extra>"))
            tops.append(float(np.nanmax(rec)))
    top = max([t for t in tops if math.isfinite(t)] or [0.0])
    vals, texts = lr_ticks(top)
    fig.update_yaxes(title_text="learning rate", range=[-0.04 * top, 1.08 * top] if top > 0 else [0, 1.0], tickmode="array",
                     tickvals=vals, ticktext=texts, autorange=False)
    fig.update_xaxes(title_text=ax.title)
    _step_axis_range(fig, snap, ax, step_range)
    _layout(fig, "Learning rate", height, _revision(snap, "lr", ax, step_range, source))
    fig.update_layout(margin=dict(l=76))  # the y title beside tick labels of up to 7 characters ('7.5e-06')
    _legend_below(fig, 2, fixed=True)  # at most two entries: the exact rate and the log's, or the log's and the schedule
    return fig


def decomposition_figure(snap: Snapshot, analysis, height: int = 480, *, x: str = "step",
                         step_range: tuple[int, int] | None = None, max_points: int = MAX_POINTS) -> go.Figure | None:
    """total = nll + kl_weight·kl + d_weight·disc_factor·g_loss as stacked contributions, and the residual."""
    d = getattr(analysis, "decomposition", None)
    if d is None or d.empty:
        return None
    frame = snap.frame
    ax = _axis_kind(frame, x)
    steps = d["step"].to_numpy()
    rows = _rows(steps, step_range)
    if len(frame) == len(d):
        xs, _, _ = _axis(frame, ax.kind, rows)
    else:  # a table of another length than the log's (a windowed analysis): steps only
        xs, ax = steps[rows], Axis("step", "step")
    idx = downsample_indices(steps[rows], d["total_logged"].to_numpy(float)[rows], max_points)
    xs = xs[idx]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.06)
    for name, colname, group, color in (("nll_loss", "nll", "pos", PALETTE[0]),
                                        ("kl_weight · kl_loss", "kl_term", "pos", PALETTE[1]),
                                        ("d_weight · disc_factor · g_loss", "adv_term", "neg", PALETTE[3])):
        fig.add_trace(go.Scatter(x=xs, y=d[colname].to_numpy()[rows][idx], name=name, stackgroup=group,
                                 mode="lines", line=dict(width=0.5, color=color)), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=d["total_logged"].to_numpy()[rows][idx], name="total_loss (logged)",
                             mode="lines", line=dict(color="#111", width=1.5)), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=d["residual"].to_numpy()[rows][idx], name="residual", mode="lines",
                             line=dict(color="#888", width=1)), row=2, col=1)
    res = d["residual"].to_numpy(float)[rows]
    top = float(np.nanmax(np.abs(res))) if np.isfinite(res).any() else 0.0
    vals, texts = lr_ticks(top)  # 0 and one round value each side, in scientific notation ('5e-06')
    fig.update_yaxes(title_text="residual", automargin=True, tickmode="array", tickvals=[-vals[-1], 0.0, vals[-1]] if top > 0 else [0.0],
                     ticktext=[f"-{texts[-1]}", "0", texts[-1]] if top > 0 else ["0"], row=2, col=1)
    fig.update_xaxes(title_text=ax.title, row=2, col=1)
    _step_axis_range(fig, snap, ax, step_range, axes=("xaxis", "xaxis2"))
    _layout(fig, "Loss decomposition (log)", height, _revision(snap, "decomp", ax, step_range))
    fig.update_layout(margin=dict(l=70))  # the residual's title beside its tick labels ('-5e-06'): 66 px
    _legend_below(fig, 5)  # five entries, one a row ('d_weight · disc_factor · g_loss' is long)
    return fig


def distribution_figure(snap: Snapshot, analysis, metric: str, height: int = 320,
                        step_range: tuple[int, int] | None = None) -> go.Figure:
    """Box per phase (numbered as in the phases table) from precomputed quartiles: a million values
    cost a few numbers, not a million. Within a step range, the records in it."""
    frame = snap.frame
    phases = list(getattr(analysis, "phases", []) or [])
    spans = [(str(i), p.name, p.start_step, p.end_step) for i, p in enumerate(phases, start=1)] or [
        ("all", "whole run", None, None)]
    names, hover, q1, med, q3, lo, hi, mean = [], [], [], [], [], [], [], []
    steps = frame["step"].to_numpy()
    inside = np.ones(steps.size, bool)
    if step_range is not None:
        inside = (steps >= step_range[0]) & (steps <= step_range[1])
    for label, name, a, b in spans:
        sel = inside if a is None else inside & (steps >= a) & (steps <= b)
        v = frame.loc[sel, metric].to_numpy(float) if metric in frame.columns else np.zeros(0)
        v = v[np.isfinite(v)]
        if not v.size:
            continue
        p25, p50, p75 = np.percentile(v, [25, 50, 75])
        iqr = p75 - p25
        names.append(label if a is not None else "whole run")
        hover.append(plain(name))
        q1.append(p25), med.append(p50), q3.append(p75), mean.append(float(v.mean()))
        lo.append(float(v[v >= p25 - 1.5 * iqr].min())), hi.append(float(v[v <= p75 + 1.5 * iqr].max()))
    fig = _figure(go.Box(x=names, q1=q1, median=med, q3=q3, lowerfence=lo, upperfence=hi, mean=mean,
                         name=plain(short_name(metric)), marker_color=color_of(metric, snap.metrics),
                         hovertext=hover))
    fig.update_xaxes(title_text="phase (as in the Phases table)", type="category")  # "1", "2": names, not numbers
    rng = "all" if step_range is None else f"{step_range[0]}-{step_range[1]}"
    return _layout(fig, f"{plain(short_name(metric))} by phase", height, f"{snap.path}|dist|{metric}|{rng}")
