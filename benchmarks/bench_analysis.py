"""Analysis of a 1,000,000-step run: target < 2 s. Baseline: `DataFrame.describe()` of the same table.

    .venv/bin/python benchmarks/bench_analysis.py
"""
from __future__ import annotations

from _common import big_log, timed

from radiodash import open_run
from radiodash.analysis import _analyze


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
    print(f"\nratio analyze / describe: {t_an / t_base:.2f}x   analyze time {t_an:.2f} s (target < 2 s)")
    run.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
