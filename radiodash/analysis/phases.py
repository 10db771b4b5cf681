"""The run split into named phases: launch boundaries, the discriminator switch, and change points
of the loss trend within those (ruptures, continuous piecewise-linear cost on a smoothed,
downsampled log-loss — at most a few hundred points, so a 1M-step run costs milliseconds), each
kept only when the two phases it makes are long and differ beyond the record-to-record noise."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter

from .. import radiodiff
from ..model import as_number, config_value, metric_column, short_name
from ..text import log_number, percent_text
from .results import DiscSwitch, Phase
from .sources import EVENTS, LOG, label
from .stats import frame_stats, record_noise, slope_per_1k

MAX_POINTS = 240
MAX_CHANGE_POINTS = 3  # per interval between hard boundaries
MIN_RECORDS = 40  # an interval shorter than this is never split
MIN_PHASE_RECORDS = 30  # a phase from a change point has at least this many records…
MIN_PHASE_SHARE = 0.05  # …and this share of its interval
SHORT_PHASE = 6  # fewer records (a launch boundary next to the switch) tell no trend
VISIBLE_NOISE = 1.0
OUTLIER_WINDOW = 5  # records: lines are fitted through a running median of this width  # two phases must differ by more than this many record-noise σ


def main_metric(frame: pd.DataFrame, metrics: list[str]) -> str | None:
    """The run's main metric (radiodiff.main_metric) among the columns with at least two finite values."""
    usable = [m for m in metrics if m in frame.columns and np.isfinite(frame[m].to_numpy(float)).sum() >= 2]
    return radiodiff.main_metric(usable)


def _trend_signal(values: np.ndarray) -> np.ndarray:
    v = values.astype(float)
    ok = np.isfinite(v)
    if not ok.any():
        return np.zeros(0)
    v = np.where(ok, v, np.nanmedian(v[ok]))
    if (v > 0).all():
        v = np.log(v)
    n = v.size
    k = max(1, int(np.ceil(n / MAX_POINTS)))
    m = n // k * k
    ds = v[:m].reshape(-1, k).mean(axis=1) if m else v
    return ds


def change_points(values: np.ndarray) -> list[int]:
    """Indices (into values) where the trend changes; [] when the interval is short or plain."""
    sig = _trend_signal(values)
    n = sig.size
    if n < 12:
        return []
    k = max(1, int(np.ceil(values.size / MAX_POINTS)))
    sd = float(np.std(sig))
    if sd == 0:
        return []
    z = (sig - sig.mean()) / sd
    noise = 1.4826 * float(np.median(np.abs(np.diff(z)))) / np.sqrt(2) + 1e-3
    import ruptures as rpt  # here, not at the top: it pulls in scipy.stats (~0.9 s), and `parse` never needs it

    algo = rpt.Binseg(model="clinear", min_size=max(4, n // 8), jump=1).fit(z.reshape(-1, 1))
    bkps = algo.predict(pen=12 * np.log(n) * noise**2 + 0.5)
    bkps = [b for b in bkps if b < n]
    if len(bkps) > MAX_CHANGE_POINTS:
        bkps = [b for b in algo.predict(n_bkps=MAX_CHANGE_POINTS) if b < n]
    return [min(values.size - 1, b * k) for b in bkps]


class _Sums:
    """Prefix sums of x, y, x², xy over a series: the least-squares line of any stretch in O(1).

    Why: the cut test fits three lines per change point and repeats as cuts are dropped; on a
    1,000,000-step run, fitting each from the data cost most of the analysis time.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x0, self.xs = float(x.mean()), float(x.std()) or 1.0
        xn = (x - self.x0) / self.xs  # centred and scaled: the sums keep their precision
        self.p = [np.concatenate([[0.0], np.cumsum(v)]) for v in (xn, y, xn * xn, xn * y)]

    def line(self, a: int, b: int) -> tuple[float, float]:
        """(slope, intercept) in the original x units of the least-squares line through rows a..b-1."""
        n = b - a
        sx, sy, sxx, sxy = (q[b] - q[a] for q in self.p)
        vx = sxx - sx * sx / n
        slope = (sxy - sx * sy / n) / vx if vx > 0 else 0.0
        intercept = sy / n - slope * sx / n
        # back from the scaled axis: y = slope·(x - x0)/xs + intercept
        return slope / self.xs, intercept - slope * self.x0 / self.xs


def split_gap(x: np.ndarray, sums: _Sums, a: int, cut: int, b: int) -> float:
    """How far two lines fitted on each side of `cut` depart from one line fitted on a..b-1, at the ends
    of the two sides (in units of y): the difference a reader could see between the two phases."""
    s0, c0 = sums.line(a, b)
    gaps = []
    for lo, hi in ((a, cut), (cut, b)):
        s, c = sums.line(lo, hi)
        for xe in (x[lo], x[hi - 1]):
            gaps.append(abs((s * xe + c) - (s0 * xe + c0)))
    return max(gaps)


def kept_cuts(steps: np.ndarray, values: np.ndarray, cuts: list[int], min_len: int) -> list[int]:
    """The change points worth a phase boundary: both sides at least `min_len` records, and the two
    sides' trends departing from a single trend by more than the record-to-record noise (and by
    more than 4 standard errors of a line's end over the shorter side). The weakest cut goes first,
    until every remaining one holds. Judged on the values as the charts draw them (a straight fall is
    one phase, though its logarithm bends)."""
    y = values.astype(float)
    ok = np.isfinite(y)
    y = np.where(ok, y, np.median(y[ok])) if ok.any() else np.zeros(y.size)
    sigma = record_noise(y)
    y = median_filter(y, size=OUTLIER_WINDOW, mode="nearest")  # a lone spike or dip does not bend a line
    x = steps.astype(float)
    cuts = sorted(c for c in set(cuts) if 0 < c < y.size)
    if cuts:  # first place each where two lines fit best, between its neighbours
        bounds = [0, *cuts, y.size]
        cuts = sorted({bounds[i] + refine_cut(x[bounds[i]:bounds[i + 2]], y[bounds[i]:bounds[i + 2]], c - bounds[i],
                                              min_len) for i, c in enumerate(cuts)})
        cuts = [c for c in cuts if 0 < c < y.size]
    sums = _Sums(x, y) if cuts else None
    while cuts:
        bounds = [0, *cuts, y.size]
        scores = []
        for i, c in enumerate(cuts):
            a, b = bounds[i], bounds[i + 2]
            shorter = min(c - a, b - c)
            if shorter < min_len:
                scores.append(-1.0)
                continue
            need = max(VISIBLE_NOISE * sigma, 4 * 2 * sigma / np.sqrt(shorter))
            gap = split_gap(x, sums, a, c, b)
            scores.append(gap / need if need > 0 else (np.inf if gap > 0 else -1.0))
        worst = int(np.argmin(scores))
        if scores[worst] >= 1.0:
            break
        cuts.pop(worst)
        # the cuts next to the one dropped have a wider stretch now: place them again where two lines fit best
        for i in (worst - 1, worst):
            if 0 <= i < len(cuts):
                lo, hi = (cuts[i - 1] if i else 0), (cuts[i + 1] if i + 1 < len(cuts) else y.size)
                cuts[i] = lo + refine_cut(x[lo:hi], y[lo:hi], cuts[i] - lo, min_len)
        cuts = sorted(c for c in set(cuts) if 0 < c < y.size)
    return cuts


def _two_line_rss(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """rss[c] = residual sum of squares of a line fitted on y[:c] plus one fitted on y[c:], for every c
    (prefix sums: O(n) for all splits at once; NaN where a side has fewer than 2 points)."""
    x = (x - x.mean()) / (x.std() or 1.0)
    y = y - y.mean()

    def prefix(v: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(v)])

    n = np.arange(x.size + 1, dtype=float)
    sx, sy, sxx, sxy, syy = (prefix(v) for v in (x, y, x * x, x * y, y * y))

    def rss(count, a, b, aa, ab, bb):
        with np.errstate(divide="ignore", invalid="ignore"):
            vx = aa - a * a / count
            out = bb - b * b / count - np.where(vx > 0, (ab - a * b / count) ** 2 / vx, 0.0)
        return np.where(count >= 2, out, np.nan)

    left = rss(n, sx, sy, sxx, sxy, syy)
    right = rss(n[-1] - n, sx[-1] - sx, sy[-1] - sy, sxx[-1] - sxx, sxy[-1] - sxy, syy[-1] - syy)
    return left + right


def refine_cut(x: np.ndarray, y: np.ndarray, cut: int, min_len: int) -> int:
    """Move a change point to where two lines fit best between its neighbours (`x`, `y` span from the
    previous cut to the next), leaving `min_len` records on each side: the change-point search runs
    on a smoothed, downsampled signal and can miss by a few percent, or land in a short transient."""
    lo, hi = min_len, x.size - min_len
    if hi <= lo:
        return cut
    total = _two_line_rss(x, y)[lo:hi + 1]
    return lo + int(np.nanargmin(total)) if np.isfinite(total).any() else cut


def describe_change(metric: str, st: dict, kl_context: str = "") -> str:
    """One metric over a phase, from robust endpoints (medians of its first and last tenth): "fell 46 %",
    "rose 1.8×", "flat" when the change is within the noise; no percentage across zero."""
    name = short_name(metric)
    start, end, rel = st.get("start"), st.get("end"), st.get("change_rel")
    if start is None or end is None:
        return f"{name}: no finite values"
    if (st.get("count") or 0) < SHORT_PHASE:
        return f"{name} {log_number(st.get('mean'))} (mean of {st.get('count')} record(s): too few for a trend)"
    ends = f"{log_number(start)} → {log_number(end)}"
    if st.get("trend") == "flat":
        text = f"{name} flat ({ends}: within the noise)"
    elif rel is None:
        text = f"{name} went {ends} (changes sign: no percentage)"
    elif end > start and start and end / start >= 2:
        text = f"{name} rose {end / start:.1f}× ({ends})"
    elif end > start:
        text = f"{name} rose {rel:.0%} ({ends})"
    else:
        text = f"{name} fell {-rel:.0%} ({ends})"
    return text + kl_context


def kl_context(klw: float | None, kl: float | None, nll: float | None) -> str:
    """What settles a KL change: its term in the loss against the NLL (1e-6 × 168,476 = 0.17 against 729)."""
    if klw is None or kl is None or nll is None or not np.isfinite(kl) or not np.isfinite(nll) or nll == 0:
        return ""
    term = klw * kl
    return (f"; its loss term kl_weight × kl_loss = {klw:g} × {log_number(kl)} = {log_number(term)}, "
            f"{percent_text(abs(term / nll))} of nll_loss {log_number(nll)}")


@dataclass(frozen=True)
class CutSeries:
    """The per-step event series of the main metric: where change points are looked for when it covers
    an interval (every step, not one in log_freq: a bend is placed to the step)."""

    tag: str
    steps: np.ndarray
    values: np.ndarray


def event_cuts(steps: np.ndarray, a: int, b: int, series: CutSeries) -> dict[int, int] | None:
    """Change points of the event series within log rows a..b-1: {log row a phase starts at: the exact
    step of the change point}; None when the events do not cover the interval (the log decides then).

    The search and the noise test run on the event values (`change_points`, `kept_cuts`); both sides must
    span at least MIN_PHASE_RECORDS of the log's records (in steps: that many times the log's step
    spacing) and MIN_PHASE_SHARE of the interval, so a run gets no more phases for having event files,
    only better placed ones. A phase then starts at the first logged step at or after the change point,
    so that its figures (from the log) are of whole records.
    """
    lo = steps[a] if a > 0 else -np.inf
    hi = steps[b] if b < steps.size else np.inf
    # finite values only: a diverged stretch (nan) is no trend, and filling it in would make a step of it
    sel = (series.steps >= lo) & (series.steps < hi) & np.isfinite(series.values)
    n = int(sel.sum())
    if n < MIN_RECORDS:
        return None
    ev_steps, values = series.steps[sel], series.values[sel]
    found = [c for c in change_points(values) if 0 < c < n]
    spacing = float(np.median(np.diff(steps[a:b]))) if b - a >= 2 else 1.0
    min_len = max(int(np.ceil(MIN_PHASE_RECORDS * max(spacing, 1.0))), int(np.ceil(n * MIN_PHASE_SHARE)))
    if 2 * min_len > n:
        return {}
    rows: dict[int, int] = {}
    for c in kept_cuts(ev_steps, values, found, min_len):
        r = a + int(np.searchsorted(steps[a:b], ev_steps[c]))
        if a < r < b:
            rows.setdefault(r, int(ev_steps[c]))
    return rows


def split(frame: pd.DataFrame, metrics: list[str], disc: DiscSwitch | None, stage: str | None,
          config: dict[str, Any] | None = None,
          cut_series: CutSeries | None = None) -> tuple[list[Phase], dict[str, dict[str, dict]]]:
    """Phases, and the full statistics of every metric within each phase.

    Hard boundaries: launches and the discriminator switch. Within them, change points of the main
    metric's trend, kept only when the phases they make are long and differ beyond the noise — on the
    per-step event series `cut_series` where it covers the interval, else on the log's records. The
    phases' figures are the log's either way.
    """
    if not len(frame):
        return [], {}
    steps = frame["step"].to_numpy()
    seg = frame["segment"].to_numpy()
    hard = {0}
    hard.update((np.flatnonzero(seg[1:] != seg[:-1]) + 1).tolist())
    if disc is not None and disc.first_on_step is not None:
        switch_i = int(np.searchsorted(steps, disc.first_on_step))
        if 0 < switch_i < steps.size:
            hard.add(switch_i)
    bounds = sorted(hard) + [steps.size]
    main = main_metric(frame, metrics)
    cuts: list[int] = []
    change_at: dict[int, tuple[str, int]] = {}  # log row a phase starts at -> (source, step of the change point)
    for a, b in zip(bounds, bounds[1:]):
        cuts.append(a)
        from_events = event_cuts(steps, a, b, cut_series) if main is not None and cut_series is not None else None
        if from_events is not None:
            cuts.extend(from_events)
            change_at.update({r: (EVENTS, st) for r, st in from_events.items() if r not in change_at})
        elif main is not None and b - a >= MIN_RECORDS:
            values = frame[main].to_numpy(float)[a:b]
            found = [c for c in change_points(values) if 0 < c < b - a]
            min_len = max(MIN_PHASE_RECORDS, int(np.ceil((b - a) * MIN_PHASE_SHARE)))
            kept = [a + c for c in kept_cuts(steps[a:b], values, found, min_len)]
            cuts.extend(kept)
            change_at.update({r: (LOG, int(steps[r])) for r in kept if r not in change_at})
    cuts = sorted(set(cuts)) + [steps.size]
    key = [m for m in (main, metric_column(frame, "kl_loss"), metric_column(frame, "total_loss")) if m is not None]
    key = list(dict.fromkeys(key))
    kl_c, nll_c = metric_column(frame, "kl_loss"), metric_column(frame, "nll_loss")
    klw = as_number(config_value(config, "model", "lossconfig", "kl_weight"))
    phases: list[Phase] = []
    per_phase: dict[str, dict[str, dict]] = {}
    cols = {m: frame[m].to_numpy(float) for m in metrics}
    times = frame["time"]
    for n, (a, b) in enumerate(zip(cuts, cuts[1:]), start=1):
        s = steps[a:b]
        if stage == "vae" and disc is not None and disc.first_on_step is not None:
            base = "discriminator on" if s[0] >= disc.first_on_step else "autoencoder only"
        else:
            base = "training"
        st = frame_stats(frame, metrics, slice(a, b))
        trend = (st[main]["trend"] or "no data" if (st[main]["count"] or 0) >= SHORT_PHASE else "short") if main \
            else "no data"
        launch = int(seg[a])
        name = f"{n}. {base} · {trend}" + (f" (launch {launch + 1})" if seg[-1] != seg[0] else "")
        parts = []
        for m in key:
            ctx = ""
            if m == kl_c and nll_c is not None and st[m]["trend"] != "flat":
                ctx = kl_context(klw, st[m]["end"], st[nll_c]["end"])
            parts.append(describe_change(m, st[m], ctx))
        summary = {m: {"first": st[m]["first"], "last": st[m]["last"], "start": st[m]["start"], "end": st[m]["end"],
                       "trend": st[m]["trend"], "mean": st[m]["mean"],
                       "slope_per_1k_steps": slope_per_1k(s, cols[m][a:b])} for m in metrics}
        t0, t1 = times.iloc[a], times.iloc[b - 1]
        per_phase[name] = st
        description = "; ".join(parts)
        change = None
        if a in change_at:
            source, at = change_at[a]
            change = {"step": at, "source": source,
                      "metric": cut_series.tag if source == EVENTS and cut_series is not None else main}
        if cut_series is not None:  # two sources: say which one each figure comes from
            description = "log records: " + description
            if change is not None:
                description += (f"; begins at a change point of {short_name(change['metric'])} at step {change['step']:,}"
                                + label(change["source"], True))
        phases.append(Phase(name=name, start_step=int(s[0]), end_step=int(s[-1]),
                            start_time=None if pd.isna(t0) else t0, end_time=None if pd.isna(t1) else t1,
                            description=description, stats=summary, change_point=change))
    return phases, per_phase
