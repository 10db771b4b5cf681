"""Run every benchmark in turn and print their figures (`make bench`).

    .venv/bin/python benchmarks/run_all.py [--quick] [--only ingest,analysis,...]

Each benchmark prints ratios against a baseline measured in the same run; this script
only runs them one after another (never in parallel: they would disturb each other).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {
    "ingest": ["bench_ingest.py"],
    "events": ["bench_events.py"],
    "analysis": ["bench_analysis.py"],
    "charts": ["bench_charts.py"],
    "latency": ["bench_latency.py"],
    "load": ["bench_load.py"],
    "remote": ["bench_remote.py"],
    "watch": ["bench_watch.py"],
    "overview": ["bench_overview.py"],
}
QUICK_ARGS = {"ingest": ["--lines", "200000"], "events": ["--steps", "15000"], "load": ["--quick"], "watch": ["--quick"],
              "overview": ["--quick"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller inputs (a smoke run, figures less meaningful)")
    ap.add_argument("--only", default="", help="comma-separated subset of: " + ", ".join(BENCHES))
    args = ap.parse_args()
    chosen = [b for b in BENCHES if not args.only or b in args.only.split(",")]
    failed = []
    for name in chosen:
        script = HERE / BENCHES[name][0]
        if not script.exists():
            print(f"== {name}: {script.name} missing", flush=True)
            failed.append(name)
            continue
        cmd = [sys.executable, str(script), *(QUICK_ARGS.get(name, []) if args.quick else [])]
        print(f"\n== {name}: {' '.join(cmd[1:])}", flush=True)
        t = time.perf_counter()
        rc = subprocess.call(cmd)
        print(f"== {name}: exit {rc} after {time.perf_counter() - t:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print("\nfailed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
