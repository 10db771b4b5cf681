"""The notification watcher on a busy root: 200 runs, 20 of them live at 10 lines/s each; the watcher's CPU
per second of wall time and the delay from a NaN line to its notification at a real local receiver.

    .venv/bin/python benchmarks/bench_watch.py [--runs 200] [--live 20] [--rate 10] [--interval 10]
                                               [--seconds 120] [--nans 10] [--quick]

The watcher is `python -m radiodash watch` in a subprocess, as a user runs it; its CPU comes from
psutil. The 180 other runs are RadioDiff VAE runs of 1,500 records (150,000 steps at log_freq 100),
half finished, half stopped days ago. Target: median NaN → notification ≤ 2 × the interval.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import sqlite3
import statistics
from collections import Counter
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from receivers import JsonReceiver  # noqa: E402

from radiodash.simulate import SimConfig, render  # noqa: E402

DAY = 86_400.0


def write_files(folder: Path, files: dict[str, bytes], mtime: float | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
        if mtime is not None:
            os.utime(folder / name, (mtime, mtime))


def last_scan(state: Path) -> float | None:
    for f in state.glob("watch-*.sqlite"):
        with sqlite3.connect(f"file:{f}?mode=ro", uri=True) as db:
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'last_scan'").fetchone()
            except sqlite3.OperationalError:
                return None
        return float(row[0]) if row else None
    return None


class Writers:
    """Appends the next step line of every live run, `rate` lines per second each, from one thread;
    `nan(i)` makes run i's next line carry a NaN and returns when it was flushed."""

    def __init__(self, logs: list[Path], lines: list[bytes], rate: float) -> None:
        self.logs, self.lines, self.rate = logs, lines, rate
        self.pos = [0] * len(logs)
        self.handles = [open(p, "ab") for p in logs]
        self.pending_nan: dict[int, threading.Event] = {}
        self.nan_at: dict[int, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.written = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        tick = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            for i, fh in enumerate(self.handles):
                line = self.lines[self.pos[i] % len(self.lines)]
                self.pos[i] += 1
                with self.lock:
                    ev = self.pending_nan.pop(i, None)
                if ev is not None:
                    line = re.sub(rb"train/rec_loss: [0-9.]+", b"train/rec_loss: nan", line)
                fh.write(line)
                fh.flush()
                if ev is not None:
                    self.nan_at[i] = time.time()
                    ev.set()
                self.written += 1
            next_at += tick
            time.sleep(max(0.0, next_at - time.monotonic()))

    def nan(self, i: int) -> float:
        ev = threading.Event()
        with self.lock:
            self.pending_nan[i] = ev
        ev.wait(10)
        return self.nan_at[i]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for fh in self.handles:
            fh.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--live", type=int, default=20)
    ap.add_argument("--rate", type=float, default=10.0, help="step lines per second per live run")
    ap.add_argument("--interval", type=float, default=10.0, help="the watcher's --interval (its default: 10 s)")
    ap.add_argument("--seconds", type=float, default=120.0, help="the measured window, after the first scan")
    ap.add_argument("--nans", type=int, default=10, help="live runs that get a NaN line, spread over the window")
    ap.add_argument("--quick", action="store_true", help="60 runs, 6 live, 40 s, 4 NaNs")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.live, args.seconds, args.nans = 60, 6, 40.0, 4
    args.nans = min(args.nans, args.live)
    tmp = Path(tempfile.mkdtemp(prefix="radiodash-bench-watch-"))
    root, state = tmp / "root", tmp / "state"

    t = time.perf_counter()
    finished, _ = render(SimConfig(seed=1))  # 150,000 steps at log_freq 100: 1,500 records, then "training complete"
    stopped, _ = render(SimConfig(seed=2, stop_step=90_000))
    # live runs: 200 records so far, then the same run's next lines (far from its end: it stays live)
    live_files, _ = render(SimConfig(seed=3, train_num_steps=1_500_000, stop_step=20_000))
    more, _ = render(SimConfig(seed=3, train_num_steps=1_500_000, stop_step=1_000_000))
    body = b"".join(more.values()).splitlines(keepends=True)
    step_lines = [ln for ln in body if b"[Train Step]" in ln and int(re.search(rb"\] (\d+)/", ln)[1]) > 20_000]
    now = time.time()
    old = args.runs - args.live
    for k in range(old):
        write_files(root / f"group{k % 10}" / f"old{k:03d}", finished if k % 2 else stopped, now - (2 + k % 5) * DAY)
    live_logs = []
    for k in range(args.live):
        folder = root / "live" / f"run{k:02d}"
        write_files(folder, live_files)
        live_logs.append(next(folder.glob("*_.log")))
    print(f"root: {args.runs} runs ({old} finished or stopped, {args.live} live at {args.rate:g} lines/s each), "
          f"written in {time.perf_counter() - t:.1f} s")

    receiver = JsonReceiver().start()
    writers = Writers(live_logs, step_lines, args.rate)
    writers.thread.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIODASH_")}
    log = open(tmp / "watch.log", "wb")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "radiodash", "watch", str(root), "--notify", receiver.url("bench"),
                             "--interval", f"{args.interval:g}", "--state", str(state)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    ps = psutil.Process(proc.pid)
    try:
        while last_scan(state) is None:
            if proc.poll() is not None:
                raise SystemExit("the watcher exited: " + (tmp / "watch.log").read_text()[-2000:])
            time.sleep(0.05)
        first = time.monotonic() - started
        time.sleep(1.0)  # the rest of the first pass's bookkeeping
        c0, w0, lines0 = sum(ps.cpu_times()[:2]), time.monotonic(), writers.written
        rng = random.Random(0)
        sent: dict[str, float] = {}
        gaps = sorted(rng.uniform(0, args.seconds * 0.8) for _ in range(args.nans))
        for i, at in enumerate(gaps):
            time.sleep(max(0.0, w0 + at - time.monotonic()))
            sent[f"live/run{i:02d}"] = writers.nan(i)
        time.sleep(max(0.0, w0 + args.seconds - time.monotonic()))
        c1, w1, lines1 = sum(ps.cpu_times()[:2]), time.monotonic(), writers.written
        rss = ps.memory_info().rss
        receiver.wait_for(lambda m: len(m) >= args.nans, timeout=4 * args.interval)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        writers.close()
        receiver.stop()
    got = {}
    for m in receiver.received():
        name = m["title"].removeprefix("RadioDash: ").split(": ")[0]
        if "non_finite_loss" in m["title"]:
            got.setdefault(name, m["at"])
    others = [m["title"] for m in receiver.received() if "non_finite_loss" not in m["title"]]
    delays = sorted(got[n] - sent[n] for n in sent if n in got)
    cpu = (c1 - c0) / (w1 - w0)
    print(f"first scan of {args.runs} runs: {first:.1f} s (start-up and every run read and analysed once)")
    print(f"steady state over {w1 - w0:.0f} s, {(lines1 - lines0) / (w1 - w0):.0f} lines/s written into the root: "
          f"watcher CPU {cpu:.3f} s per second ({cpu:.1%} of one core), RSS {rss / 2**20:.0f} MiB")
    if delays:
        med = statistics.median(delays)
        print(f"NaN line -> notification at the receiver: {len(delays)} of {len(sent)} received; median {med:.2f} s, "
              f"min {delays[0]:.2f} s, max {delays[-1]:.2f} s (interval {args.interval:g} s; target median <= "
              f"{2 * args.interval:g} s: {'met' if med <= 2 * args.interval else 'MISSED'})")
    else:
        print(f"NaN line -> notification: none of {len(sent)} received (see {tmp / 'watch.log'})")
    if others:  # the live runs' own new warnings (the simulated discriminator switching on mid-window, …)
        kinds = Counter(t.split(": ", 2)[-1] for t in others)
        print(f"other notifications: {len(others)} ({', '.join(f'{n} × {k}' for k, n in kinds.most_common())})")
    return 0 if delays and len(delays) == len(sent) and statistics.median(delays) <= 2 * args.interval else 1


if __name__ == "__main__":
    raise SystemExit(main())
