"""Event-file benchmark: full read and refresh of a 150,000-step VAE event file, as ratios to same-run baselines.

    .venv/bin/python benchmarks/bench_events.py [--steps 150000] [--skip-accumulator]

The file comes from the simulator (10 tags every step under gradient accumulation 2: 1.5 M
scalar records, ~75 MB), cached in the temp dir. Measured in the same run:
- ours, full read: read the file, decode it (`EventDecoder`), build the per-step table
  (`EventTable.apply` + `frame()`), best of 3;
- tensorboard's `EventAccumulator(path, size_guidance={SCALARS: 0}).Reload()` on the same file;
- for the README's choice of a compiled path: the protobuf runtime alone (`Event.FromString` of
  every payload in a Python loop, no framing, no CRC), and the library-based Python path
  (`EventDecoder(compiled=False)`: framing in Python, tensorboardX's CRC32C, protobuf) on 10 %
  of the file;
- refresh: 100 new steps (1,000 records) decoded and applied to a live table, median of 50.
Targets: full read >= 10x faster than EventAccumulator.Reload(); refresh >= 1000x cheaper than the full read.
"""
from __future__ import annotations

import argparse
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from radiodash.tfevents import EventDecoder, EventTable, concat  # noqa: E402


def make_file(steps: int) -> Path:
    """The simulator's event file of a `steps`-step VAE run (accumulation 2: 10 tags), generated once
    into a results folder that also holds the run's log."""
    from radiodash.simulate import SimConfig, render

    cache = Path(tempfile.gettempdir()) / f"radiodash-bench-events-{steps}-run"
    done = cache / "done"
    if not done.exists():
        t = time.perf_counter()
        cfg = SimConfig(train_num_steps=steps, log_freq=100, grad_accum=2, disc_start=steps // 3,
                        save_and_sample_every=max(steps // 20, 1), seed=1, events=True)
        files, truth = render(cfg)
        cache.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():  # the log too: bench_latency draws the run's page
            (cache / name).write_bytes(data)
        done.write_text(truth.event_files[0])
        print(f"(generated {truth.event_records[truth.event_files[0]]:,} records in {time.perf_counter() - t:.0f} s)")
    return cache / done.read_text()


def full_read(path: Path):
    data = path.read_bytes()
    dec = EventDecoder()
    chunk = concat([dec.feed(data), dec.finish()])
    table = EventTable()
    table.apply(path.name, chunk)
    return table.frame(), chunk


def record_bounds(data: bytes) -> np.ndarray:
    """Start offset of every record (and the end of the last)."""
    starts, i = [], 0
    while i + 12 <= len(data):
        starts.append(i)
        i += 12 + struct.unpack_from("<Q", data, i)[0] + 4
    starts.append(i)
    return np.array(starts, np.int64)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150_000)
    ap.add_argument("--skip-accumulator", action="store_true", help="skip EventAccumulator (slow: ~1 min)")
    args = ap.parse_args()
    path = make_file(args.steps)
    data = path.read_bytes()
    full_read(path)  # warm: numba's cache, page cache
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        frame, chunk = full_read(path)
        best = min(best, time.perf_counter() - t)
    t_full = best
    t_decode = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        EventDecoder().feed(data)
        t_decode = min(t_decode, time.perf_counter() - t)
    print(f"file: {path.name}, {len(data) / 1e6:.1f} MB, {chunk.records:,} records, {len(chunk):,} scalars, "
          f"{len(chunk.tags)} tags, {len(frame):,} steps; notices: {len(chunk.notices)}")
    print(f"ours, full read (read + decode + table + frame): {t_full:.3f} s (decode alone {t_decode:.3f} s)")

    bounds = record_bounds(data)
    payloads_at = bounds[:-1]
    from tensorboardX.proto import event_pb2

    t = time.perf_counter()
    for s in payloads_at.tolist():
        n = struct.unpack_from("<Q", data, s)[0]
        event_pb2.Event.FromString(data[s + 12: s + 12 + n])
    t_proto = time.perf_counter() - t
    print(f"protobuf runtime alone (Event.FromString of every payload, Python loop, no CRC): {t_proto:.2f} s")
    tenth = int(bounds[len(bounds) // 10])
    t = time.perf_counter()
    ref = concat([(r := EventDecoder(compiled=False)).feed(data[:tenth]), r.finish()])
    t_ref = (time.perf_counter() - t) * len(data) / tenth
    print(f"library-based Python path (compiled=False) on the first {tenth / 1e6:.1f} MB ({ref.records:,} records): "
          f"{t_ref * tenth / len(data):.2f} s -> {t_ref:.1f} s for the whole file at that rate")

    if not args.skip_accumulator:
        from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

        t = time.perf_counter()
        ea = EventAccumulator(str(path), size_guidance={SCALARS: 0})
        ea.Reload()
        t_ea = time.perf_counter() - t
        n_ea = sum(len(ea.Scalars(tag)) for tag in ea.Tags()["scalars"])
        print(f"EventAccumulator.Reload() (size guidance 0): {t_ea:.1f} s ({n_ea:,} scalars: "
              f"{'same count' if n_ea == len(chunk) else 'DIFFERENT COUNT'})")
    else:
        t_ea = float("nan")

    # refresh: the file minus its last 50 x 100 steps is read; then 100 steps at a time arrive
    steps_per_record = len(chunk.tags)
    block = 100 * steps_per_record
    start = len(bounds) - 1 - 50 * block
    live, table = EventDecoder(), EventTable()
    table.apply(path.name, live.feed(data[: bounds[start]]))
    costs = []
    for i in range(50):
        piece = data[bounds[start + i * block]: bounds[start + (i + 1) * block]]
        t = time.perf_counter()
        table.apply(path.name, live.feed(piece))
        costs.append(time.perf_counter() - t)
    t_refresh = statistics.median(costs)
    check = table.frame()
    print(f"refresh: 100 new steps ({block:,} records, {len(piece) / 1e3:.0f} KB) decoded + applied: "
          f"median {t_refresh * 1e6:.0f} µs over 50 (table after: {len(check):,} steps, "
          f"{'equal to the full read' if check.equals(frame) else 'DIFFERENT from the full read'})")
    t = time.perf_counter()
    table.frame()
    print(f"(building the DataFrame of the whole table, done when a snapshot is taken: {(time.perf_counter() - t) * 1e3:.1f} ms)")

    print("\nratio                                        measured    target")
    print(f"EventAccumulator.Reload() / our full read    {t_ea / t_full:8.1f}x   >= 10x")
    print(f"our full read / refresh (100 steps)          {t_full / t_refresh:8.0f}x   >= 1000x")
    print(f"library-based Python path / compiled         {t_ref / t_full:8.1f}x   (for information)")
    print(f"protobuf runtime alone / our full read       {t_proto / t_full:8.1f}x   (for information)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
