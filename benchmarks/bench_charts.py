"""Figures of a 1,000,000-step run: build time and bytes sent, vs drawing the raw series (baseline).

    .venv/bin/python benchmarks/bench_charts.py
Target: every panel of the Live page together <= 5 MB.
"""
from __future__ import annotations

import plotly.graph_objects as go
from _common import big_log, timed

from radiodash import charts, open_run
from radiodash.analysis import analyze
from radiodash.model import short_name


def main() -> int:
    folder, _ = big_log()
    run = open_run(folder)
    snap = run.snapshot()
    a = analyze(snap)
    m = "train/rec_loss"
    n = len(snap.frame)
    t_raw, raw = timed(lambda: go.Figure(go.Scatter(x=snap.frame["step"].to_numpy(), y=snap.frame[m].to_numpy())
                                         ).to_json(), repeat=1)
    t_fig, js = timed(lambda: charts.metric_figure(snap, m, a).to_json())
    print(f"{n:,} records; one panel ({m}): raw series {len(raw) / 1e6:.1f} MB in {t_raw:.2f} s; "
          f"ours {len(js) / 1e6:.3f} MB in {t_fig:.3f} s (smoothing on all points, then MinMaxLTTB)")
    total = 0
    t_page = 0.0
    own_panel = {"disc_factor", "d_weight", "lr"}  # drawn in the discriminator and lr panels (views/live.py)
    figs = [lambda mm=mm: charts.metric_figure(snap, mm, a) for mm in snap.metrics if short_name(mm) not in own_panel]
    figs += [lambda: charts.overlay_figure(snap, [m, "train/kl_loss"], a), lambda: charts.discriminator_figure(snap, a),
             lambda: charts.lr_figure(snap, a), lambda: charts.decomposition_figure(snap, a),
             lambda: charts.distribution_figure(snap, a, m)]
    for build in figs:
        t, fig = timed(build, repeat=1)
        t_page += t
        total += len(fig.to_json()) if fig is not None else 0
    print(f"Live page: {len(figs)} panels, {total / 1e6:.2f} MB of figure JSON, built in {t_page:.2f} s")
    print(f"\nratio raw/ours bytes per panel: {len(raw) / len(js):.0f}x; page {total / 1e6:.2f} MB (target <= 5 MB)")
    run.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
