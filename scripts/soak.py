"""Soak test, by hand (not in CI): the simulator's faults for N minutes against a live dashboard.

    .venv/bin/python scripts/soak.py [--minutes 30]

A run is written at 10 lines/s with, in turn: NaN losses, a copytruncate of the log, a crash
followed by a restart into a second launch file. A real `streamlit run` server shows it in a
headless Chromium page (checked every minute: still live), and a `Run` in this process follows
the same folder with the real watchdog Follower from the start. At the end the followed table
must equal a one-shot parse of the final files (and the page shows the final step).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from e2e.conftest import ARGS, CHROMIUM, Server  # noqa: E402

from radiodash import open_run  # noqa: E402
from radiodash.run import Run  # noqa: E402
from radiodash.simulate import SimConfig, write_run  # noqa: E402

LATEST = """() => { for (const m of document.querySelectorAll('[data-testid=stMetric]')) {
    if (m.innerText.includes('Latest step')) { const v = m.querySelector('[data-testid=stMetricValue]');
        return v ? v.innerText.trim() : null; } } return null; }"""


def writer(folder: Path, minutes: float, stop: threading.Event) -> None:
    """Two launches: the first gets NaNs and a copytruncate, then crashes; the second resumes."""
    rate = 10.0
    per_launch = int(minutes * 60 * rate / 2)  # log lines per launch
    log_freq = 10
    first = SimConfig(train_num_steps=10_000_000, log_freq=log_freq, disc_start=per_launch * log_freq // 3,
                      save_and_sample_every=1_000, stop_step=per_launch * log_freq, start_time=datetime.now(),
                      nan_step=per_launch * log_freq // 2, truncate_at=per_launch * log_freq * 3 // 4,
                      seconds_per_step=0.01)
    write_run(folder, first, rate=rate, realtime_timestamps=True, stop=stop)
    if stop.is_set():
        return
    time.sleep(61)  # the relaunch lands in a new minute: a second launch file
    resume_at = per_launch * log_freq // 1_000 * 1_000
    second = SimConfig(train_num_steps=10_000_000, log_freq=log_freq, disc_start=first.disc_start,
                       save_and_sample_every=1_000, start_step=resume_at, stop_step=2 * per_launch * log_freq,
                       start_time=datetime.now(), seconds_per_step=0.01, seed=2)
    write_run(folder, second, rate=rate, realtime_timestamps=True, stop=stop)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30.0)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="radiodash-soak-"))
    folder = root / "soak"
    folder.mkdir()
    live = Run(folder)
    live.refresh()
    live.follow(poll_interval=0.5)
    stop = threading.Event()
    th = threading.Thread(target=writer, args=(folder, args.minutes, stop), daemon=True)
    th.start()
    srv = Server({"RADIODASH_ROOT": str(root)})
    failures: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{srv.url}/?run=soak", timeout=120_000)
            page.get_by_text("Latest step").first.wait_for(timeout=120_000)
            last, last_size = None, -1
            t0 = time.monotonic()
            while th.is_alive():
                th.join(60)
                shown = page.evaluate(LATEST)
                size = sum(p.stat().st_size for p in folder.glob("*_.log"))
                alive = shown != last or size == last_size  # not moving is fine only while nothing was written
                print(f"{(time.monotonic() - t0) / 60:5.1f} min: page shows step {shown} "
                      f"({'live' if alive else 'NOT MOVING'}); files: {sorted(os.listdir(folder))}", flush=True)
                if not alive and th.is_alive():
                    failures.append(f"page stuck at {shown}")
                last, last_size = shown, size
            time.sleep(3)
            reference = open_run(folder)
            final = int(reference.frame()["step"].iloc[-1])
            for _ in range(30):
                if page.evaluate(LATEST) == f"{final:,}":
                    break
                time.sleep(1)
            if page.evaluate(LATEST) != f"{final:,}":
                failures.append(f"page shows {page.evaluate(LATEST)}, final step is {final:,}")
            browser.close()
        live.refresh()
        try:
            pd.testing.assert_frame_equal(live.frame(), reference.frame(), check_dtype=False)
        except AssertionError as e:
            failures.append(f"followed table != one-shot parse: {e}")
        snap = live.snapshot()
        print(f"followed: {len(snap.frame):,} records, {len(snap.segments)} launches, notices: {list(snap.notices)}")
        print(f"one-shot: {len(reference.frame()):,} records; non-finite cells {len(snap.nonfinite):,}")
    finally:
        stop.set()
        srv.stop()
        live.close()
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
