"""Many viewers on one live run: 1, 5, 10 then N headless Chromium sessions on a run that
receives 10 lines/s; server CPU per new step record, reads of the log, memory over time.

    .venv/bin/python benchmarks/bench_load.py [--sessions 20] [--minutes 5] [--catch-up-seconds 600] [--quick]

Baseline in the same run: the server's CPU per record with one session; the ratio
cpu(N) / (N × cpu(1)) below 1 means the per-update cost grows sub-linearly with viewers.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from e2e.conftest import ARGS, CHROMIUM, Server  # noqa: E402

from radiodash.simulate import SimConfig, write_run  # noqa: E402

RECORDS = """() => { const m = document.body.innerText.match(/([\\d,]+) step records/);
    return m ? parseInt(m[1].replace(/,/g, '')) : null; }"""
LATEST = """() => { for (const m of document.querySelectorAll('[data-testid=stMetric]')) {
    if (m.innerText.includes('Latest step')) { const v = m.querySelector('[data-testid=stMetricValue]');
        return v ? v.innerText.trim() : null; } } return null; }"""


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def steps_written(folder: Path) -> int:
    data = b"".join(p.read_bytes() for p in sorted(folder.glob("*_.log")))
    return len(set(re.findall(rb"\[Train Step\] (\d+)/", data)))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--ramp-seconds", type=float, default=30.0)
    ap.add_argument("--catch-up-seconds", type=float, default=600.0,
                    help="how long sessions may take to show the last line after the writer stops")
    ap.add_argument("--quick", action="store_true", help="5 sessions, 1 minute, 15 s ramp steps")
    args = ap.parse_args()
    if args.quick:
        args.sessions, args.minutes, args.ramp_seconds = 5, 1.0, 15.0
    root = Path(tempfile.mkdtemp(prefix="radiodash-load-"))
    folder = root / "live"
    stop = threading.Event()
    cfg = SimConfig(train_num_steps=10_000_000, log_freq=10, disc_start=5_001, seconds_per_step=0.01)
    writer = threading.Thread(target=write_run, args=(folder, cfg), daemon=True,
                              kwargs={"rate": 10.0, "realtime_timestamps": True, "stop": stop})
    writer.start()
    srv = Server({"RADIODASH_ROOT": str(root)})
    try:
        return _measure(args, srv, folder, stop, writer)
    finally:
        stop.set()
        srv.stop()


def _measure(args, srv: Server, folder: Path, stop: threading.Event, writer: threading.Thread) -> int:
    from playwright.sync_api import sync_playwright

    proc = psutil.Process(srv.proc.pid)
    url = f"{srv.url}/?run=live"
    pages = []
    table = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)

        def open_sessions(n: int) -> None:
            # all at once, then wait for each: opened one by one, the 11th to 20th page each waited minutes
            # for the CPU the open pages' browsers spend redrawing (all of them share the server's 2 cores here)
            new = []
            while len(pages) + len(new) < n:
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.goto(url, timeout=600_000, wait_until="commit")
                new.append(page)
            for page in new:
                page.get_by_text("Latest step").first.wait_for(timeout=600_000)
            pages.extend(new)

        def phase(n: int, seconds: float) -> tuple[float, int]:
            open_sessions(n)
            time.sleep(2)
            c0, s0 = cpu_seconds(proc), steps_written(folder)
            time.sleep(seconds)
            c1, s1 = cpu_seconds(proc), steps_written(folder)
            return c1 - c0, s1 - s0

        for n in sorted({1, 5, 10, args.sessions} & set(range(1, args.sessions + 1))):
            if n == args.sessions:
                break
            cpu, new = phase(n, args.ramp_seconds)
            table.append((n, cpu, new))
            print(f"{n:3d} session(s): server CPU {cpu:6.2f} s for {new} new records -> {cpu / max(new, 1) * 1e3:7.1f} ms/record",
                  flush=True)
        open_sessions(args.sessions)
        t_start = time.monotonic()
        c0, s0 = cpu_seconds(proc), steps_written(folder)
        time.sleep(60)
        rss_1min = proc.memory_info().rss
        time.sleep(max(0.0, args.minutes * 60 - 60))
        c1, s1 = cpu_seconds(proc), steps_written(folder)
        rss_end = proc.memory_info().rss
        table.append((args.sessions, c1 - c0, s1 - s0))
        print(f"{args.sessions:3d} session(s): server CPU {c1 - c0:6.2f} s for {s1 - s0} new records -> "
              f"{(c1 - c0) / max(s1 - s0, 1) * 1e3:7.1f} ms/record over {time.monotonic() - t_start:.0f} s", flush=True)
        stop.set()
        writer.join(30)
        final = max(int(s) for s in re.findall(rb"\[Train Step\] (\d+)/", (folder / sorted(
            os.listdir(folder))[-1]).read_bytes()))
        t_stop = time.monotonic()
        written = steps_written(folder)
        while True:  # sessions catch up at their own pace on a loaded 2-core machine
            seen = [(pg.evaluate(LATEST), pg.evaluate(RECORDS)) for pg in pages]
            ok = sum(1 for v, n in seen if v == f"{final:,}" and n == written)
            if ok == len(pages) or time.monotonic() - t_stop > args.catch_up_seconds:
                break
            time.sleep(1)
        print(f"{ok}/{len(pages)} sessions showed the final step and all {written:,} step records "
              f"{time.monotonic() - t_stop:.1f} s after the last line", flush=True)
        for pg in pages:  # the 20 browsers off the CPU first: under them this page timed out after 30 s
            pg.context.close()
        diag_page = browser.new_page()
        diag_page.goto(url, timeout=180_000)
        diag_page.get_by_text("Diagnostics").click(timeout=180_000)
        diag = diag_page.get_by_text("Bytes read:").first.inner_text(timeout=180_000)
        size = sum(p.stat().st_size for p in folder.glob("*_.log"))
        browser.close()
    one = table[0][1] / max(table[0][2], 1)
    last = table[-1][1] / max(table[-1][2], 1)
    print(f"\nevery session sees every step (final step {final:,}, {written:,} records, one per step written): "
          f"{ok}/{len(pages)}")
    print(f"log read once: server diagnostics say {diag.splitlines()[0]!r} and "
          f"{[ln for ln in diag.splitlines() if ln.startswith('Runs followed')]}; the log files hold {size:,} bytes")
    print(f"CPU per record: 1 session {one * 1e3:.1f} ms, {args.sessions} sessions {last * 1e3:.1f} ms -> "
          f"cpu({args.sessions}) / ({args.sessions} x cpu(1)) = {last / (args.sessions * one):.2f} (< 1: sub-linear)")
    print(f"server RSS after the first minute {rss_1min / 1e6:.0f} MB, at the end {rss_end / 1e6:.0f} MB "
          f"({(rss_end - rss_1min) / rss_1min:+.1%}; target within 10 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
