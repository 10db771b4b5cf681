"""Ingest benchmark: full parse, incremental refresh, memory — as ratios to same-run baselines.

    .venv/bin/python benchmarks/bench_ingest.py [--lines 1000000] [--grad-accum 1 2]

Both line layouts of a VAE run by default: one line per step, and gradient accumulation 2
(the upstream default: two lines per step, merged into one record, so the table read_csv
gets has half as many rows).

Baselines measured in the same run (the machines are noisy, so only ratios mean much):
- a straightforward line-by-line `re` + `split` parser (written below), the thing people write first;
- `pandas.read_csv` of the very table we produce, saved as CSV.
Targets: full parse ≥ 25× faster than the baseline parser and ≤ 2× read_csv; refresh after
100 appended lines ≥ 1000× cheaper than the full parse; peak memory < 3× the float64 table.
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from radiodash import open_run  # noqa: E402

STEP = re.compile(r"^(\S+ \S+) \[Train Step\] (\d+)/(\d+): (.*)$")


def baseline_parse(path: Path) -> pd.DataFrame:
    """The straightforward parser: regex per line, split on ', ' and ': ', strptime, dicts."""
    rows: list[dict] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = STEP.match(line.rstrip("\n"))
            if not m:
                continue
            rec = {"step": int(m.group(2)), "time": dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")}
            for part in m.group(4).split(", "):
                if ": " in part:
                    k, v = part.split(": ", 1)
                    rec[k] = float(v)
            rows.append(rec)
    return pd.DataFrame(rows)


def make_log(folder: Path, lines: int, grad_accum: int) -> tuple[Path, int]:
    """A realistic VAE log from the simulator; returns (folder, step lines written)."""
    from radiodash.simulate import SimConfig, render

    per_step = grad_accum
    steps = lines // per_step
    cfg = SimConfig(train_num_steps=steps * 10, log_freq=10, grad_accum=grad_accum, disc_start=steps * 10 // 3,
                    save_and_sample_every=steps * 10 // 20 or 1, seed=1)
    files, truth = render(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder, truth.step_lines


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--grad-accum", type=int, nargs="+", default=[1, 2], choices=(1, 2))
    ap.add_argument("--skip-baseline", action="store_true", help="skip the slow baseline parser")
    args = ap.parse_args()
    for ga in args.grad_accum:
        print("\n== 1 line per step\n" if ga == 1 else "\n== gradient accumulation 2: 2 lines per step\n", flush=True)
        measure(argparse.Namespace(lines=args.lines, grad_accum=ga, skip_baseline=args.skip_baseline))
    return 0


def measure(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="radiodash-bench-"))
    t = time.perf_counter()
    cache = Path(tempfile.gettempdir()) / f"radiodash-bench-log-{args.lines}-{args.grad_accum}"
    if (cache / "step_lines").exists():  # the simulator takes ~1 min for 1M lines: reuse its output
        folder, step_lines = cache, int((cache / "step_lines").read_text())
    else:
        folder, step_lines = make_log(cache, args.lines, args.grad_accum)
        (cache / "step_lines").write_text(str(step_lines))
    work = tmp / "run"
    work.mkdir()
    for p in folder.glob("*.log"):
        (work / p.name).write_bytes(p.read_bytes())
    folder = work
    logs = sorted(folder.glob("*.log"))
    size = sum(p.stat().st_size for p in logs)
    print(f"log: {len(logs)} file(s), {size / 1e6:.0f} MB, {step_lines:,} step lines "
          f"(grad_accum {args.grad_accum}); written in {time.perf_counter() - t:.1f} s")

    open_run(folder).close()  # warm the compiled scanner's cache
    t_full, run = timed(lambda: open_run(folder))
    frame = run.frame()
    expected_records = step_lines // args.grad_accum
    print(f"full parse (open_run): {t_full:.3f} s -> {len(frame):,} records (expected {expected_records:,}: "
          f"{'OK' if len(frame) == expected_records else 'MISMATCH'})")

    csv = tmp / "table.csv"
    frame.to_csv(csv, index=False)
    t_csv, _ = timed(lambda: pd.read_csv(csv))
    print(f"pandas.read_csv of the same table ({csv.stat().st_size / 1e6:.0f} MB CSV): {t_csv:.3f} s "
          "(the target's baseline: its 'time' column stays text)")
    t_csv_dates, _ = timed(lambda: pd.read_csv(csv, parse_dates=["time"]))
    print(f"pandas.read_csv with parse_dates=['time'] (timestamps parsed, as ours are): {t_csv_dates:.3f} s "
          f"-> full parse / that = {t_full / t_csv_dates:.2f}x (for information)")

    if not args.skip_baseline:
        t_base, base = timed(lambda: baseline_parse(logs[-1]) if len(logs) == 1 else pd.concat(baseline_parse(p) for p in logs), repeat=1)
        print(f"baseline line-by-line parser: {t_base:.2f} s ({len(base):,} rows)")
    else:
        t_base = float("nan")

    # refresh after appending 100 lines
    live = open_run(folder)
    last = logs[-1]
    tail_lines = [ln for ln in last.read_bytes()[-8192:].split(b"\n") if b"[Train Step]" in ln][-1]
    step0 = int(re.search(rb"\] (\d+)/", tail_lines).group(1))
    costs: list[float] = []
    for rep in range(50):
        block = b"".join(re.sub(rb"\] \d+/", b"] %d/" % (step0 + (rep * 100 + i + 1) * 10), tail_lines) + b"\n" for i in range(100))
        with open(last, "ab") as f:
            f.write(block)
        t = time.perf_counter()
        added = live.refresh()
        costs.append(time.perf_counter() - t)
        assert added == 100 // args.grad_accum or args.grad_accum == 2, added
    t_refresh = statistics.median(costs)
    print(f"refresh() after appending 100 lines: median {t_refresh * 1e3:.3f} ms, best {min(costs) * 1e3:.3f} ms "
          "over 50 (the target takes the median: a refresh happens once per change, not at its best)")
    live.close()

    # memory: peak while parsing, and what the parsed run keeps, vs the float64 table
    run.close()
    del run, frame
    tracemalloc.start()
    run = open_run(folder)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    frame = run.frame()
    numeric = frame.select_dtypes(include=[np.number, "datetime"]).shape[1]
    table_bytes = len(frame) * numeric * 8
    print(f"memory: float64 table {table_bytes / 1e6:.0f} MB ({len(frame):,} rows x {numeric} numeric cols); "
          f"kept by the run {current / 1e6:.0f} MB ({current / table_bytes:.2f}x); peak while parsing {peak / 1e6:.0f} MB ({peak / table_bytes:.2f}x)")

    print("\nratio                                   measured    target")
    print(f"baseline parser / full parse            {t_base / t_full:8.1f}x   >= 25x")
    print(f"full parse / read_csv                   {t_full / t_csv:8.2f}x   <= 2x")
    print(f"full parse / refresh(100 lines)         {t_full / t_refresh:8.0f}x   >= 1000x"
          f"   (best of 5 / median of 50; best / best {t_full / min(costs):.0f}x)")
    print(f"peak memory / float64 table             {peak / table_bytes:8.2f}x   < 3x")
    run.close()
    shutil.rmtree(tmp, ignore_errors=True)  # a copy of the log and the CSV: hundreds of MB


if __name__ == "__main__":
    raise SystemExit(main())
