"""Plotly figures of a run: one look, smoothing on the full series, min/max-preserving downsampling.

No Streamlit here (a notebook or the HTML report use the same figures). Log-derived text
(metric names, file names) goes through `plain()`: Plotly renders a subset of HTML in text.
"""
from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots
from scipy.signal import lfilter
from tsdownsample import MinMaxLTTBDownsampler

from .model import metric_column, short_name
from .model import Snapshot
from .radiodiff import d_weight_clamp, share_at_clamp

X_CHOICES = ("step", "time", "hours")
SMOOTHERS = ("ema", "centered")
PALETTE = qualitative.D3
RAW_OPACITY = 0.28
PHASE_FILLS = ("rgba(99,110,250,0.06)", "rgba(0,0,0,0.0)")
FONT = dict(family="Inter, system-ui, sans-serif", size=12)
# points a trace sends to the browser: more than a half-width panel has pixels, few enough that
# a page of a dozen panels draws in a new browser within seconds (benchmarks/bench_latency.py)
MAX_POINTS = 1000


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
    plus the first and last. Sorted, unique."""
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
    else:
        parts.append(fin)
    return np.unique(np.concatenate(parts).astype(np.int64))


# ------------------------------------------------------------------ shared look and decorations


def _layout(fig: go.Figure, title: str, height: int, uirevision: str) -> go.Figure:
    fig.update_layout(  # explicit colours, no named template: applying one deep-copies it (~50 ms a figure)
        paper_bgcolor="white", plot_bgcolor="white", colorway=PALETTE, height=height, title=dict(text=title, x=0.01, font=dict(size=14)),
        margin=dict(l=56, r=16, t=48, b=36), font=FONT, hovermode="x unified", uirevision=uirevision,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0, font=dict(size=11)),
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eee", zeroline=False)
    fig.update_yaxes(showgrid=True, gridcolor="#eee", zeroline=False)
    return fig


def color_of(metric: str, metrics: Sequence[str] | None = None) -> str:
    i = list(metrics).index(metric) if metrics and metric in metrics else sum(map(ord, metric))
    return PALETTE[i % len(PALETTE)]


def _axis(frame: pd.DataFrame, x: str, rows: slice = slice(None)) -> tuple[np.ndarray, str, str]:
    """x values of `rows`, the axis kind actually used, and its title (time needs timestamps)."""
    if x in ("time", "hours"):
        t = frame["time"].to_numpy()
        known = ~np.isnat(t)
        if known.any():
            if x == "time":
                return t[rows], "time", "wall-clock time"
            t0 = t[np.argmax(known)]
            return (t[rows] - t0) / np.timedelta64(1, "s") / 3600, "hours", "hours since start"
    return frame["step"].to_numpy()[rows], "step", "step"


def _rows(steps: np.ndarray, step_range: tuple[int, int] | None) -> slice:
    """The rows of a step range as a slice (steps ascend: no copy, no mask)."""
    if step_range is None:
        return slice(0, steps.size)
    lo, hi = step_range
    return slice(int(np.searchsorted(steps, lo, "left")), int(np.searchsorted(steps, hi, "right")))


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
            shapes.append(dict(type="rect", xref="x", yref="paper", x0=p.start_step, x1=p.end_step, y0=0, y1=1,
                               fillcolor=PHASE_FILLS[i % 2], line_width=0, layer="below"))
            if label:
                # the number only (the phases table has the names): full names overlap on short phases
                notes.append(dict(x=p.start_step, y=1, xref="x", yref="paper", text=str(i + 1),
                                  hovertext=plain(p.name), showarrow=False, xanchor="left", yanchor="top",
                                  font=dict(size=10, color="#888")))
    for seg in snap.segments[1:]:
        if seg.first_step is None:
            continue
        what = "resume" if seg.is_resume else "launch"
        shapes.append(dict(type="line", xref="x", yref="paper", x0=seg.first_step, x1=seg.first_step, y0=0, y1=1,
                           line=dict(color="#555", dash="dash", width=1)))
        notes.append(dict(x=seg.first_step, y=0, xref="x", yref="paper", text=f"{what} @ {seg.first_step:,}",
                          showarrow=False, xanchor="left", yanchor="bottom", font=dict(size=9)))
    disc = getattr(analysis, "disc", None) if analysis is not None else None
    if disc is not None and disc.first_on_step is not None:
        shapes.append(dict(type="line", xref="x", yref="paper", x0=disc.first_on_step, x1=disc.first_on_step, y0=0,
                           y1=1, line=dict(color="#d62728", dash="dot", width=1)))
    fig.update_layout(shapes=[*fig.layout.shapes, *shapes], annotations=[*fig.layout.annotations, *notes])


# ------------------------------------------------------------------ figures


def _series(snap: Snapshot, metric: str) -> pd.DataFrame:
    if metric in snap.frame.columns:
        return snap.frame
    return snap.val_frame


def metric_figure(snap: Snapshot, metric: str, analysis=None, *, smoother: str = "ema", smooth: float = 0.6,
                  x: str = "step", log_y: bool = False, step_range: tuple[int, int] | None = None,
                  max_points: int = MAX_POINTS, height: int = 320) -> go.Figure:
    """One metric: the raw series faint behind its smoothed curve (smoothed on the full series first).

    Phase names are written on the overlay panel only: each text label costs the browser a
    measurement on every draw.
    """
    frame = _series(snap, metric)
    steps = frame["step"].to_numpy()
    raw = frame[metric].to_numpy(float) if metric in frame.columns else np.zeros(0)
    sm = smoothed(raw, smoother, smooth)  # full resolution, before any range or downsampling
    rows = _rows(steps, step_range)
    xs_all, used, xtitle = _axis(frame, x, rows)
    r, s, st = raw[rows], sm[rows], steps[rows]
    idx = downsample_indices(st, r, max_points)
    # numeric customdata and a fixed-width str array: object arrays are deep-copied element by element by Plotly
    times = np.asarray(pd.Series(frame["time"].to_numpy()[rows][idx]).dt.strftime("%Y-%m-%d %H:%M:%S")
                       .fillna("time unknown").to_numpy(), dtype=str)
    color = color_of(metric, snap.metrics)
    name = plain(short_name(metric))
    fig = _figure()
    fig.add_trace(go.Scatter(x=xs_all[idx], y=r[idx], mode="lines", name=f"{name} (raw)", line=dict(color=color, width=1),
                             opacity=RAW_OPACITY, customdata=st[idx].astype(float), text=times, showlegend=False,
                             hovertemplate="raw %{y:.6g} · step %{customdata:,.0f} · %{text}<extra></extra>"))
    if smooth > 0:
        fig.add_trace(go.Scatter(x=xs_all[idx], y=s[idx], mode="lines", name=name, line=dict(color=color, width=2),
                                 showlegend=False, hovertemplate=f"smoothed ({smoother}) %{{y:.6g}}<extra></extra>"))
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
    title = name
    fin = r[np.isfinite(r)]
    if log_y:
        if fin.size and (fin > 0).all():
            fig.update_yaxes(type="log")
        else:
            title += " <span style='font-size:11px;color:#888'>(log scale needs positive values)</span>"
    if used == "step":
        decorate_steps(fig, snap, analysis, st[0] if st.size else None, st[-1] if st.size else None, label=False)
    fig.update_xaxes(title_text=xtitle)
    return _layout(fig, title, height, f"{snap.path}|{metric}|{used}")


def overlay_figure(snap: Snapshot, metrics: Sequence[str], analysis=None, *, smoother: str = "ema",
                   smooth: float = 0.6, x: str = "step", step_range: tuple[int, int] | None = None,
                   max_points: int = MAX_POINTS, height: int = 360, **_: object) -> go.Figure:
    """Selected metrics on one axis, each smoothed then scaled to [0, 1] over the view (min → 0, max → 1)."""
    frame = snap.frame
    steps = frame["step"].to_numpy()
    rows = _rows(steps, step_range)
    xs, used, xtitle = _axis(frame, x, rows)
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
        decorate_steps(fig, snap, analysis)
    fig.update_yaxes(title_text="normalised (0 = min, 1 = max in view)", range=[-0.05, 1.05])
    fig.update_xaxes(title_text=xtitle)
    return _layout(fig, "Overlay", height, f"{snap.path}|overlay|{used}")


def compare_figure(runs: Sequence[tuple[str, Snapshot, object]], metric: str, *, align: str = "step",
                   smoother: str = "ema", smooth: float = 0.6, log_y: bool = False, max_points: int = MAX_POINTS,
                   height: int = 380, **_: object) -> go.Figure:
    """The same metric of several runs, aligned by step or by hours since each run's start."""
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
    return _layout(fig, plain(short_name(metric)), height, f"compare|{metric}|{align}")


def discriminator_figure(snap: Snapshot, analysis, height: int = 420) -> go.Figure | None:
    """disc_factor with the configured disc_start and the observed switch; d_weight with its clamp ceiling."""
    frame = snap.frame
    df_c, dw_c = metric_column(frame, "disc_factor"), metric_column(frame, "d_weight")
    if df_c is None:
        return None
    steps = frame["step"].to_numpy()
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("disc_factor", "d_weight"))
    v = frame[df_c].to_numpy(float)
    idx = downsample_indices(steps, v)
    fig.add_trace(go.Scatter(x=steps[idx], y=v[idx], mode="lines", line=dict(shape="hv", color=PALETTE[3]),
                             name="disc_factor"), row=1, col=1)
    disc = getattr(analysis, "disc", None)
    if disc is not None and disc.configured_step is not None:
        fig.add_vline(x=disc.configured_step, line=dict(color="#888", dash="dash", width=1), row=1, col=1,
                      annotation_text=f"disc_start (config) = {disc.configured_step:,}", annotation_font_size=10,
                      annotation_position="top left")
    if disc is not None and disc.first_on_step is not None:
        where = (f"between steps {disc.last_off_step:,} and {disc.first_on_step:,}" if disc.last_off_step is not None
                 else f"at step {disc.first_on_step:,}")
        # two short lines, on the side of the panel with more room: Plotly widens a data axis to fit
        # an annotation, so one long line stretched the x axis of a narrow panel past the last step
        span = float(steps[-1] - steps[0]) if steps.size > 1 else 0.0
        right_half = span > 0 and (disc.first_on_step - steps[0]) / span > 0.5
        fig.add_annotation(x=disc.first_on_step, y=1, xref="x", yref="y", text=f"discriminator switched on<br>{where}",
                           showarrow=True, arrowhead=2, ax=-60 if right_half else 60, ay=34,
                           font=dict(size=11, color="#d62728"), bgcolor="rgba(255,255,255,0.85)")
    if dw_c is not None:
        w = frame[dw_c].to_numpy(float)
        idx = downsample_indices(steps, w)
        fig.add_trace(go.Scatter(x=steps[idx], y=w[idx], mode="lines", line=dict(color=PALETTE[4], width=1),
                                 name="d_weight"), row=2, col=1)
        dw = (analysis.config or {}).get("model", {}).get("lossconfig", {}).get("disc_weight") if analysis else None
        if isinstance(dw, (int, float)) and not isinstance(dw, bool):
            clamp = d_weight_clamp(dw)
            fig.add_hline(y=clamp, line=dict(color="#d62728", dash="dash", width=1), row=2, col=1,
                          annotation_text=f"clamp ceiling 1e4 × disc_weight = {clamp:,.0f}", annotation_font_size=10,
                          annotation_position="bottom right")
            fin = w[np.isfinite(w)]
            if (share_at_clamp(w, dw) or 0.0) > 0.5:
                # mostly at the ceiling: show it from 0, not as a flat line in a ±1 band around 5,000
                fig.update_yaxes(range=[0, 1.12 * max(clamp, float(fin.max()))], row=2, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    fig = _layout(fig, "Discriminator", height, f"{snap.path}|disc")
    fig.update_layout(showlegend=False)  # the subplot titles name the two series
    return fig


def lr_figure(snap: Snapshot, analysis, height: int = 300) -> go.Figure | None:
    """The logged lr, and the schedule reconstructed from the config when the 5-decimal print hides it."""
    lr = getattr(analysis, "lr", None)
    if lr is None or lr.empty:
        return None
    steps = lr["step"].to_numpy()
    fig = _figure()
    logged = lr["logged"].to_numpy(float)
    idx = downsample_indices(steps, logged)
    fig.add_trace(go.Scatter(x=steps[idx], y=logged[idx], mode="lines", name="logged (5 decimals)",
                             line=dict(color=PALETTE[0], width=2)))
    rec = lr["reconstructed"].to_numpy(float)
    both = np.isfinite(logged) & np.isfinite(rec) & (rec > 0)
    # hidden by the print: zeros where the optimizer's lr is positive, or off by >10 % on most records
    hidden = bool(both.any() and (((logged[both] == 0).any())
                                  or np.median(np.abs(logged[both] - rec[both]) / rec[both]) > 0.1))
    if np.isfinite(rec).any() and (hidden or not np.isfinite(logged).any()):
        fig.add_trace(go.Scatter(x=steps[idx], y=rec[idx], mode="lines", name="reconstructed from config",
                                 line=dict(color=PALETTE[1], width=2, dash="dash")))
    fig.update_yaxes(title_text="learning rate (per optimizer step)", exponentformat="e")
    fig.update_xaxes(title_text="step")
    return _layout(fig, "Learning rate", height, f"{snap.path}|lr")


def decomposition_figure(snap: Snapshot, analysis, height: int = 420) -> go.Figure | None:
    """total = nll + kl_weight·kl + d_weight·disc_factor·g_loss as stacked contributions, and the residual."""
    d = getattr(analysis, "decomposition", None)
    if d is None or d.empty:
        return None
    steps = d["step"].to_numpy()
    idx = downsample_indices(steps, d["total_logged"].to_numpy(float))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.06)
    for name, colname, group, color in (("nll_loss", "nll", "pos", PALETTE[0]),
                                        ("kl_weight · kl_loss", "kl_term", "pos", PALETTE[1]),
                                        ("d_weight · disc_factor · g_loss", "adv_term", "neg", PALETTE[3])):
        fig.add_trace(go.Scatter(x=steps[idx], y=d[colname].to_numpy()[idx], name=name, stackgroup=group,
                                 mode="lines", line=dict(width=0.5, color=color)), row=1, col=1)
    fig.add_trace(go.Scatter(x=steps[idx], y=d["total_logged"].to_numpy()[idx], name="total_loss (logged)",
                             mode="lines", line=dict(color="#111", width=1.5)), row=1, col=1)
    fig.add_trace(go.Scatter(x=steps[idx], y=d["residual"].to_numpy()[idx], name="residual", mode="lines",
                             line=dict(color="#888", width=1)), row=2, col=1)
    fig.update_yaxes(title_text="residual", row=2, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    return _layout(fig, "Loss decomposition", height, f"{snap.path}|decomp")


def distribution_figure(snap: Snapshot, analysis, metric: str, height: int = 320) -> go.Figure:
    """Box per phase from precomputed quartiles: a million values cost a few numbers, not a million."""
    frame = snap.frame
    phases = list(getattr(analysis, "phases", []) or [])
    spans = [(p.name, p.start_step, p.end_step) for p in phases] or [("whole run", None, None)]
    names, q1, med, q3, lo, hi, mean = [], [], [], [], [], [], []
    steps = frame["step"].to_numpy()
    for name, a, b in spans:
        sel = np.ones(steps.size, bool) if a is None else (steps >= a) & (steps <= b)
        v = frame.loc[sel, metric].to_numpy(float) if metric in frame.columns else np.zeros(0)
        v = v[np.isfinite(v)]
        if not v.size:
            continue
        p25, p50, p75 = np.percentile(v, [25, 50, 75])
        iqr = p75 - p25
        names.append(plain(name))
        q1.append(p25), med.append(p50), q3.append(p75), mean.append(float(v.mean()))
        lo.append(float(v[v >= p25 - 1.5 * iqr].min())), hi.append(float(v[v <= p75 + 1.5 * iqr].max()))
    fig = _figure(go.Box(x=names, q1=q1, median=med, q3=q3, lowerfence=lo, upperfence=hi, mean=mean,
                           name=plain(short_name(metric)), marker_color=color_of(metric, snap.metrics)))
    fig.update_xaxes(title_text="phase")
    return _layout(fig, f"{plain(short_name(metric))} by phase", height, f"{snap.path}|dist|{metric}")
