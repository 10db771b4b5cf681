"""Analysis and report of a 1,000,000-step run. Targets: analysis < 2 s; the run state and live header
(every second, per viewer) in milliseconds; HTML report ≤ 6 MB. Baseline: `DataFrame.describe()` of the same table.

    .venv/bin/python benchmarks/bench_analysis.py
"""
from __future__ import annotations

from _common import big_log, timed

from radiodash import open_run
from radiodash.analysis import _analyze, analyze, live_header, run_state
from radiodash.report import render_html, render_markdown


def main() -> int:
    folder, lines = big_log()
    run = open_run(folder)
    snap = run.snapshot()
    print(f"run: {len(snap.frame):,} step records x {len(snap.metrics)} metrics")
    t_base, _ = timed(lambda: snap.frame.describe())
    t_an, a = timed(lambda: _analyze(snap, None, None))  # uncached
    print(f"baseline frame.describe(): {t_base:.3f} s")
    print(f"analyze (events, phases, alerts, stats, throughput, decomposition): {t_an:.3f} s "
          f"-> {len(a.phases)} phases, {len(a.events)} events, {len(a.alerts)} alerts")
    full = analyze(snap)
    t_state, state = timed(lambda: run_state(snap, usual=full.throughput.typical_interval_seconds))
    t_head, _ = timed(lambda: live_header(snap, full))
    print(f"run_state: {t_state * 1000:.2f} ms ({state.state}); live_header (throughput + state): {t_head * 1000:.1f} ms")
    t_md, md = timed(lambda: render_markdown(snap, full), repeat=1)
    t_html, html = timed(lambda: render_html(snap, full), repeat=1)
    size = len(html.encode()) / 2**20
    print(f"report: Markdown {t_md:.2f} s ({len(md) / 1024:.0f} KiB), HTML {t_html:.2f} s ({size:.2f} MiB, target <= 6)")
    print(f"\nratio analyze / describe: {t_an / t_base:.2f}x   analyze time {t_an:.2f} s (target < 2 s)")
    run.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
