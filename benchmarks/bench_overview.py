"""The team overview of 200 runs (20 of them live at 10 lines/s each) on one server, with 5 viewers.

    .venv/bin/python benchmarks/bench_overview.py [--quick] [--runs 200] [--live 20] [--viewers 5]
                                                  [--window 60] [--scans 20] [--interval 5]

A temporary root holds `--runs` simulated RadioDiff runs (radiodash.simulate, rendered once into the temp dir
and reused: VAE and diffusion; finished, stopped part way, stalled; a sixth resumed into a second launch file;
VAE at log_freq 100 has up to 1,500 records, 3,000 lines under accumulation 2). A writer *process* appends the
next lines of each of the `--live` runs (log_freq 10, so that 10 lines/s lasts), 10 lines/s per run, each line
stamped with the wall clock as it is written. One `streamlit run app.py` (tests/e2e/conftest.Server) serves the
root; no run is selected, so "/" is the overview. Figures:

(a) first render: page.goto("/") in a new browser context until the page says "200 runs on 1 machine" and the
    table holds 200 rows; the first viewer cold (its script runs the fleet's first scan of every run), the
    next ones warm, and one more after a window with nobody looking (its redraw catches up first).
    Baseline: the same for a trivial Streamlit app showing one st.dataframe of 200 rows x 13 columns
    (redrawn by a fragment at the same interval), served the same way.
(b) refresh: one viewer ticks the "live" state pill (the table then lists the live runs) and a 50 ms poller
    in that page records every change of the table's accessible DOM (glide-data-grid keeps the visible rows
    in a <table> inside its canvas). A run's step that differs between two consecutive updates is new on
    screen; its latency is the time seen minus the time its line was written (the line's own timestamp).
    Median / p95 against the scan interval; the server's scan durations from the page's caption.
(c) server CPU per second (psutil: the streamlit process and its children) over `--window` seconds with the
    viewers open, then with none (the fleet scans in viewers' redraws: `Fleet.scan_if_due`). Baseline: the
    trivial app with as many viewers. The fleet's share: an in-process Fleet's CPU per scan (below).
(d) bytes read per refresh: the server's read_chars (every read() syscall, sockets included) per scan
    interval, with and without viewers, against the bytes the writer appended per interval; then an
    in-process Fleet on the same root whose sources count every byte read (its cold scan runs while the server
    has no viewer, the rest after the server stopped), scanned every interval while the writer appends: bytes
    read per scan against bytes appended (target ~1: only the appended bytes plus a 64-byte fingerprint per
    changed file). The sidebar run picker's way of reading (runstate.PickerStates: a
    one-shot open_run of each of the 24 newest runs whose files changed) is counted the same way, and a
    cProfile of the in-process scans says where a scan's time goes.

Wall-clock figures depend on this machine (2 cores shared by the server, Chromium and the writer): the ratios
against the baselines are the portable part. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing as mp
import os
import pickle
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from e2e.conftest import ARGS, CHROMIUM, Server  # noqa: E402

CACHE_VERSION = 1
USERS = ("alice", "bob", "chen", "dana")
TAIL_LINES = 12_000  # lines kept for each live run's writer: 20 min at 10 lines/s
STAMP = re.compile(rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ", re.M)
STEP_LINE = re.compile(rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \[Train Step\] (\d+)/", re.M)

# the baseline: one st.dataframe of as many rows and columns as the overview, redrawn by a fragment at the same interval
TRIVIAL_APP = textwrap.dedent('''
    import os, time, numpy as np, pandas as pd, streamlit as st
    N, EVERY = int(os.environ["BENCH_ROWS"]), float(os.environ["BENCH_EVERY"])
    @st.fragment(run_every=EVERY)
    def table():
        rng = np.random.default_rng(int(time.time()))
        now = pd.Timestamp.now(tz="UTC")
        frame = pd.DataFrame({
            "run": [f"user/run-{i:03d}" for i in range(N)], "machine": "host", "state": "finished",
            "step": rng.integers(0, 150_000, N), "of": 150_000, "progress": rng.random(N),
            "steps/hour": rng.random(N) * 1e4, "ETA (h)": rng.random(N) * 10,
            "last written": now - pd.to_timedelta(rng.integers(0, 10**6, N), unit="s"),
            "last log line": pd.Timestamp("2025-08-15") + pd.to_timedelta(rng.integers(0, 10**6, N), unit="s"),
            "alerts": rng.integers(0, 3, N), "alert": "warning: something to look at", "open": "?run=x"})
        st.markdown(f"{N} runs on 1 machine: {N} finished")
        st.dataframe(frame, hide_index=True, width="stretch", key="t")
    st.title("Runs")
    table()
''')

# every change of the visible rows of the page's table: [epoch ms, {run: step text}]
WATCH = """() => { window.__seen = []; let prev = '';
  setInterval(() => {
    const table = document.querySelector('[data-testid=stDataFrame] canvas table');
    if (!table) return;
    const heads = [...table.querySelectorAll('thead th')].map(th => th.innerText.trim());
    const ri = heads.indexOf('run'), si = heads.indexOf('step');
    if (ri < 0 || si < 0) return;
    const rows = {};
    for (const tr of table.querySelectorAll('tbody tr')) {
      const c = tr.querySelectorAll('td');
      if (c.length > Math.max(ri, si)) rows[c[ri].innerText.trim()] = c[si].innerText.trim();
    }
    const key = JSON.stringify(rows);
    if (key !== prev) { prev = key; window.__seen.push([Date.now(), rows]); }
  }, 50); }"""


# ------------------------------------------------------------------ the runs


@dataclass
class Plan:
    rel: str
    kind: str  # live | stalled | stopped | finished
    stage: str
    cfg: object  # SimConfig
    age: float  # seconds since the files were last written (live: 0)
    history: int = 0  # live: step lines on disk when the benchmark starts


def plan_runs(n: int, live: int, seed: int = 7) -> list[Plan]:
    """A team's results: ~half finished, a third stopped part way, a few stalled, `live` running; 35 % diffusion."""
    from radiodash.simulate import SimConfig

    rng = np.random.default_rng(seed)
    stalled = max(1, n // 40)
    stopped = (n - live - stalled) * 4 // 10
    kinds = ["live"] * live + ["stalled"] * stalled + ["stopped"] * stopped + ["finished"] * (n - live - stalled - stopped)
    rng.shuffle(kinds)
    plans = []
    for i, kind in enumerate(kinds):
        stage = "diffusion" if rng.random() < 0.35 else "vae"
        if stage == "vae":
            cfg = dict(stage="vae", train_num_steps=150_000, log_freq=100, save_and_sample_every=5_000,
                       disc_start=50_001, grad_accum=2 if rng.random() < 0.3 else 1, lr=5e-6, seconds_per_step=0.2)
        else:
            cfg = dict(stage="diffusion", train_num_steps=int(rng.choice([80_000, 100_000])),
                       log_freq=int(rng.choice([100, 500])), save_and_sample_every=5_000, lr=2e-5,
                       seconds_per_step=0.25)
        total = cfg["train_num_steps"]
        if kind in ("stopped", "stalled"):
            cfg["stop_step"] = int(rng.uniform(0.1, 0.95) * total)
        history = 0
        if kind == "live":  # 10 lines/s must last the benchmark: log every 10 steps, one line per step
            cfg.update(log_freq=10, grad_accum=1, seconds_per_step=0.01, train_num_steps=max(total, 150_000))
            history = int(rng.integers(500, 2_000))
        elif rng.random() < 0.2:  # crashed once, resumed from its last milestone into a second launch file
            last = cfg.get("stop_step", total - 1)
            if last > 2 * cfg["save_and_sample_every"]:
                cfg["resume_at"] = int(rng.uniform(0.3, 0.9) * last)
        age = {"live": 0.0, "stalled": rng.uniform(25, 55) * 60, "stopped": rng.uniform(2 * 3600, 30 * 86400),
               "finished": rng.uniform(3600, 60 * 86400)}[kind]
        name = f"{'vae' if stage == 'vae' else 'ldm'}-{i:03d}"
        plans.append(Plan(f"{USERS[i % len(USERS)]}/{name}", kind, stage, SimConfig(seed=i, **cfg), age, history))
    return plans


def _render_one(job: tuple[Path, Plan]) -> tuple[str, dict]:
    """Render one run into the cache (a pool worker)."""
    from radiodash.simulate import render

    cache, p = job
    p.cfg.start_time = datetime.now() - timedelta(seconds=p.age + p.cfg.train_num_steps * p.cfg.seconds_per_step)
    files, truth = render(p.cfg)
    folder = cache / "runs" / p.rel
    folder.mkdir(parents=True)
    if p.kind != "live":
        for name, data in files.items():
            (folder / name).write_bytes(data)
    else:  # in launch order: the first `history` step lines on disk, the rest for the writer
        seq = [(name, line) for name in truth.files for line in files[name].splitlines(keepends=True)]
        seen = cut = 0
        for cut, (_, line) in enumerate(seq):
            if b"[Train Step]" in line:
                seen += 1
                if seen > p.history:
                    break
        for name in dict.fromkeys(name for name, _ in seq[:cut]):
            (folder / name).write_bytes(b"".join(line for f, line in seq[:cut] if f == name))
        tail = cache / "tails" / (p.rel.replace("/", "__") + ".pkl")
        tail.write_bytes(pickle.dumps(seq[cut: cut + TAIL_LINES]))
    return p.rel, {"kind": p.kind, "stage": p.stage, "age": p.age, "files": list(files)}


def build_cache(n: int, live: int) -> Path:
    """Every run rendered once into the temp dir (reused): final files, live runs' history and the lines still to come."""
    cache = Path(tempfile.gettempdir()) / f"radiodash-bench-overview-v{CACHE_VERSION}-{n}-{live}"
    if (cache / "done").exists():
        return cache
    t = time.perf_counter()
    shutil.rmtree(cache, ignore_errors=True)
    (cache / "tails").mkdir(parents=True)
    with mp.get_context("spawn").Pool(min(2, os.cpu_count() or 1)) as pool:
        meta = dict(pool.map(_render_one, [(cache, p) for p in plan_runs(n, live)], chunksize=4))
    (cache / "plan.json").write_text(json.dumps(meta))
    (cache / "done").write_text("")
    print(f"(rendered {n} runs in {time.perf_counter() - t:.0f} s into {cache}; reused by later runs)", flush=True)
    return cache


def _restamp(data: bytes, shift: timedelta) -> bytes:
    def sub(m: re.Match) -> bytes:
        t = datetime.strptime(m.group(1).decode(), "%Y-%m-%d %H:%M:%S") + timedelta(milliseconds=int(m.group(2))) + shift
        return t.strftime("%Y-%m-%d %H:%M:%S,").encode() + f"{t.microsecond // 1000:03d} ".encode()
    return STAMP.sub(sub, data)


def make_root(cache: Path) -> tuple[Path, dict, list[tuple[str, str]]]:
    """A fresh root from the cache: finished/stopped/stalled runs hard-linked and dated by their age, live runs'
    history copied with its timestamps shifted to end now. Returns (root, plan, [(live folder, tail file)])."""
    meta = json.loads((cache / "plan.json").read_text())
    root = Path(tempfile.mkdtemp(prefix="radiodash-overview-")) / "results"
    now = time.time()
    live = []
    for rel, m in meta.items():
        src, dst = cache / "runs" / rel, root / rel
        dst.mkdir(parents=True)
        names = sorted(os.listdir(src))
        if m["kind"] == "live":
            last = STAMP.findall((src / names[-1]).read_bytes())[-1]  # launch files sort in launch order
            end = datetime.strptime(last[0].decode(), "%Y-%m-%d %H:%M:%S") + timedelta(milliseconds=int(last[1]))
            shift = datetime.now() - end
            for f in names:
                (dst / f).write_bytes(_restamp((src / f).read_bytes(), shift))
            live.append((str(dst), str(cache / "tails" / (rel.replace("/", "__") + ".pkl"))))
            continue
        for k, f in enumerate(names):
            try:
                os.link(src / f, dst / f)
            except OSError:
                shutil.copyfile(src / f, dst / f)
            t = now - m["age"] - (3600.0 if k < len(names) - 1 else 0.0)  # an earlier launch ended earlier
            os.utime(dst / f, (t, t))
    return root, meta, live


def writer_main(specs: list[tuple[str, str]], rate: float, stop, ready) -> None:
    """Append each live run's next line in turn, `rate` lines/s per run, stamped with the wall clock as written."""
    tails = [(Path(folder), pickle.loads(Path(tail).read_bytes())) for folder, tail in specs]
    handles: dict[Path, object] = {}
    pos = [0] * len(tails)
    period = 1.0 / (rate * len(tails))
    ready.set()
    next_at = time.monotonic()
    i = 0
    try:
        while not stop.is_set():
            folder, lines = tails[i]
            if pos[i] < len(lines):
                name, line = lines[pos[i]]
                pos[i] += 1
                path = folder / name
                fh = handles.get(path)
                if fh is None:
                    fh = handles[path] = open(path, "ab")  # the trainer's logger: append mode, flushed per line
                m = STAMP.match(line)
                if m:
                    now = datetime.now()
                    line = now.strftime("%Y-%m-%d %H:%M:%S,").encode() + f"{now.microsecond // 1000:03d}".encode() \
                        + line[m.end() - 1:]
                fh.write(line)
                fh.flush()
            i = (i + 1) % len(tails)
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    finally:
        for fh in handles.values():
            fh.close()


class Writer:
    """The writer process, and what it appended (from the files themselves)."""

    def __init__(self, live: list[tuple[str, str]], rate: float) -> None:
        self.folders = [Path(f) for f, _ in live]
        self.start_sizes = self.sizes()
        ctx = mp.get_context("spawn")  # not a fork of a process that may hold Playwright's threads
        self.stop_event, ready = ctx.Event(), ctx.Event()
        self.proc = ctx.Process(target=writer_main, args=(live, rate, self.stop_event, ready), daemon=True)
        self.proc.start()
        if not ready.wait(120) or not self.proc.is_alive():
            raise RuntimeError("the writer process did not start")
        self.t0 = time.time()

    def sizes(self) -> dict[str, int]:
        out = {}
        for folder in self.folders:
            for f in folder.iterdir():
                out[str(f)] = f.stat().st_size
        return out

    def appended(self, since: dict[str, int] | None = None) -> int:
        since = self.start_sizes if since is None else since
        return sum(size - since.get(f, 0) for f, size in self.sizes().items())

    def written_at(self) -> dict[tuple[str, int], float]:
        """(run folder name under the root, step) -> epoch seconds its line was written (first line of the step)."""
        out: dict[tuple[str, int], float] = {}
        for folder in self.folders:
            rel = f"{folder.parent.name}/{folder.name}"
            for f in sorted(folder.iterdir()):
                for m in STEP_LINE.finditer(f.read_bytes()):
                    t = time.mktime(time.strptime(m.group(1).decode(), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1e3
                    out.setdefault((rel, int(m.group(3))), t)
        return out

    def stop(self) -> None:
        self.stop_event.set()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()


# ------------------------------------------------------------------ measuring a server


def cpu_seconds(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def read_chars(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.io_counters().read_chars
        except psutil.NoSuchProcess:
            pass
    return total


def window(proc: psutil.Process, seconds: float, writer: Writer | None = None, tick=None) -> dict:
    """Server CPU-seconds, read_chars and the bytes the writer appended over `seconds` (calling `tick` every second)."""
    c0, r0, t0 = cpu_seconds(proc), read_chars(proc), time.monotonic()
    s0 = writer.sizes() if writer else None
    while time.monotonic() - t0 < seconds:
        time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - t0))))
        if tick is not None:
            tick()
    c1, r1, t1 = cpu_seconds(proc), read_chars(proc), time.monotonic()
    return {"seconds": t1 - t0, "cpu": c1 - c0, "read": r1 - r0, "appended": writer.appended(s0) if writer else 0}


def scan_took(text: str) -> float | None:
    """The server's last scan duration, from the overview's caption ("the last scan took 0.42 s" / "2 s" / "1 min 05 s")."""
    m = re.search(r"the last scan took (?:(\d+) min )?([\d.]+) s", text)
    return None if m is None else 60 * int(m.group(1) or 0) + float(m.group(2))


def first_render(browser, url: str, rows: int) -> tuple[float, object]:
    """Seconds from navigation (new context, cold browser cache) to the summary line and a table of `rows` rows."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    t = time.monotonic()
    page.goto(url, timeout=300_000)
    page.wait_for_function(
        f"""() => document.body.innerText.includes('{rows} runs on 1 machine') &&
            !!document.querySelector('[data-testid=stDataFrame] table[aria-rowcount="{rows + 1}"]')""",
        polling=20, timeout=300_000)
    return time.monotonic() - t, page


def summary(xs: list[float]) -> str:
    if not xs:
        return "no samples"
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
    return f"median {statistics.median(xs):.2f} s, p95 {p95:.2f} s, max {xs[-1]:.2f} s (n={len(xs)})"


def refresh_latencies(seen: list, written: dict[tuple[str, int], float]) -> tuple[list[float], list[float]]:
    """(latencies of new steps on screen, seconds between table updates) from the page's change log."""
    lat, gaps = [], []
    prev_t, prev = None, None
    for t_ms, rows in seen:
        steps = {run: int(re.sub(r"\D", "", txt)) for run, txt in rows.items() if re.search(r"\d", txt)}
        if prev is not None:
            changed = [run for run, s in steps.items() if run in prev and prev[run] != s]
            if changed:
                if prev_t is not None:
                    gaps.append(t_ms / 1e3 - prev_t)
                prev_t = t_ms / 1e3
            for run in changed:
                w = written.get((run, steps[run]))
                if w is not None:
                    lat.append(t_ms / 1e3 - w)
        elif steps:
            prev_t = t_ms / 1e3
        prev = steps
    return lat, gaps


# ------------------------------------------------------------------ an in-process fleet, counting bytes


class CountingHandle:
    """A file handle that counts the bytes read, and how many of them lie past the file's high-water mark
    (bytes never read before: the appended ones); the rest is overhead (fingerprints, re-read partial lines)."""

    def __init__(self, handle, path: str, counter: dict) -> None:
        self.h, self.path, self.c = handle, path, counter

    def _count(self, offset: int, n: int) -> None:
        hi = self.c["hi"].get(self.path, 0)
        self.c["bytes"] += n
        self.c["new"] += max(0, offset + n - max(offset, hi))
        self.c["reads"] += 1
        self.c["hi"][self.path] = max(hi, offset + n)

    def stat(self):
        return self.h.stat()

    def read_at(self, offset: int, size: int) -> bytes:
        data = self.h.read_at(offset, size)
        self._count(offset, len(data))
        return data

    def readinto_at(self, buffer, offset: int) -> int:
        n = self.h.readinto_at(buffer, offset)
        self._count(offset, n)
        return n

    def close(self) -> None:
        self.h.close()


class CountingSource:
    """A run's source whose handles count every byte read (and listings, and opens)."""

    def __init__(self, source, counter: dict) -> None:
        self.s, self.c = source, counter
        self.location, self.name = source.location, source.name

    @property
    def watch_dirs(self):
        return self.s.watch_dirs

    def discover(self):
        self.c["listings"] += 1
        return self.s.discover()

    def open(self, path: str):
        h = self.s.open(path)
        if h is None:
            return None
        self.c["opens"] += 1
        size = h.stat().size  # what the file grew by since the fleet last opened it
        self.c["grew"] += size - self.c["size"].get(path, 0)
        self.c["size"][path] = size
        return CountingHandle(h, path, self.c)

    def close(self) -> None:
        self.s.close()


COUNTS = ("bytes", "new", "grew", "reads", "listings", "opens")


def new_counter() -> dict:
    return {**{k: 0 for k in COUNTS}, "hi": {}, "size": {}}


#: Where a fleet scan's time can go: (label, file suffix, function name), summed by cumulative time.
STAGES = (("listing the roots (Roots.list)", "radiodash/roots.py", "list"),
          ("refreshing the runs (Run.refresh: listing, reading, parsing)", "radiodash/run.py", "refresh"),
          ("analysing changed runs (analysis.analyze)", "radiodash/analysis/__init__.py", "analyze"),
          ("  of which phases (change points)", "radiodash/analysis/phases.py", "split"),
          ("  of which statistics (frame_stats)", "radiodash/analysis/stats.py", "frame_stats"),
          ("  of which checkpoint tables", "radiodash/analysis/__init__.py", "_checkpoint_table"),
          ("header and alerts (analysis.live_header)", "radiodash/analysis/__init__.py", "live_header"),
          ("states (analysis.run_state)", "radiodash/analysis/state.py", "run_state"))


def profile_lines(prof: cProfile.Profile, n: int = 10) -> list[str]:
    """Where the profiled scans spent their time: the stages above, then the top functions by cumulative time."""
    st = pstats.Stats(prof, stream=io.StringIO())
    scan = sum(ct for (f, _, fn), (_, _, _, ct, _) in st.stats.items() if f.endswith("radiodash/fleet.py") and fn == "scan")
    out = [f"    {'cum s':>7} {'share':>6} {'calls':>7}  (all profiled scans: {scan:.2f} s)"]
    for label, suffix, func in STAGES:
        hits = [(ct, nc) for (f, _, fn), (_, nc, _, ct, _) in st.stats.items() if f.endswith(suffix) and fn == func]
        ct, nc = sum(h[0] for h in hits), sum(h[1] for h in hits)
        out.append(f"    {ct:7.2f} {ct / scan if scan else 0:6.0%} {nc:7d}  {label}")
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _) in st.stats.items():
        short = re.sub(r".*site-packages/", "", file.replace(str(REPO) + "/", ""))
        rows.append((ct, tt, nc, f"{short}:{line}({func})"))
    own = sorted(rows, key=lambda r: -r[1])[:n]
    out.append("    most own time: " + "; ".join(f"{name.split('/')[-1]} {tt:.2f} s" for _, tt, _, name in own))
    return out


def cold_fleet(root: Path, interval: float, profile_cold: bool) -> dict:
    """A Fleet of its own on the same root, whose sources count every byte read, and its first (cold) scan."""
    from radiodash.fleet import Fleet
    from radiodash.roots import Roots
    from radiodash.run import Run

    roots = Roots.parse([str(root)])
    c = new_counter()
    fleet = Fleet(roots, interval=interval, make_run=lambda loc: Run(CountingSource(roots.source(loc), c)))
    me = psutil.Process()
    total_size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    r0, cpu0 = me.io_counters().read_chars, time.process_time()
    cold_prof = cProfile.Profile() if profile_cold else None
    t = time.perf_counter()
    if cold_prof:
        cold_prof.enable()
    fleet.scan()
    if cold_prof:
        cold_prof.disable()
    cold = {"seconds": time.perf_counter() - t, "cpu": time.process_time() - cpu0, "bytes": c["bytes"],
            "size": total_size, "rchar": me.io_counters().read_chars - r0, "prof": cold_prof}
    return {"fleet": fleet, "roots": roots, "counter": c, "cold": cold}


def in_process(held: dict, writer: Writer, scans: int, profiled: int, interval: float) -> dict:
    """The cold fleet's catch-up scan, then `scans` scans every `interval` s while the writer appends (the last
    `profiled` of them under cProfile); then the sidebar picker's way of reading the newest runs."""
    fleet, roots, c = held["fleet"], held["roots"], held["counter"]
    me = psutil.Process()
    fleet.scan()  # catches up on what was appended during the cold scan
    warm_prof = cProfile.Profile()
    rows = []
    sizes = writer.sizes()
    next_at = time.monotonic() + interval
    for k in range(scans):
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        before = {key: c[key] for key in COUNTS}
        prof = k >= scans - profiled
        r0, cpu0, t = me.io_counters().read_chars, time.process_time(), time.perf_counter()
        if prof:
            warm_prof.enable()
        fleet.scan()
        if prof:
            warm_prof.disable()
        took, cpu, rchar = time.perf_counter() - t, time.process_time() - cpu0, me.io_counters().read_chars - r0
        # appended between the ends of two scans: summed, what a file got after its read in the first scan and
        # after its read in the last one cancel out (sizes taken before each scan would count one scan's worth more)
        appended = writer.appended(sizes)
        sizes = writer.sizes()
        rows.append({"seconds": took, "cpu": cpu, "profiled": prof, "appended": appended, "rchar": rchar,
                     **{key: c[key] - before[key] for key in COUNTS}})
    # the sidebar picker's way of reading a run whose files changed (runstate.PickerStates: a one-shot open_run)
    from radiodash.ui.runstate import MAX_STATES, PickerStates

    listing = roots.list().runs[:MAX_STATES]
    pc = new_counter()
    states = PickerStates(reread_seconds=0.0)
    live = {str(f) for f in writer.folders}
    cpu0 = time.process_time()
    for e in listing:
        states.state(e.location, e.mtime, time.time(), 3600.0, lambda loc: CountingSource(roots.source(loc), pc))
    picker = {"cpu": time.process_time() - cpu0, "bytes": pc["bytes"], "runs": len(listing),
              "live_in_it": sum(1 for e in listing if e.location in live),
              "live_size": sum(f.stat().st_size for d in writer.folders for f in d.iterdir())}
    fleet.stop()
    return {"cold": held["cold"], "warm": rows, "warm_prof": warm_prof, "picker": picker}


# ------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--live", type=int, default=20)
    ap.add_argument("--rate", type=float, default=10.0, help="lines/s appended to each live run")
    ap.add_argument("--viewers", type=int, default=5)
    ap.add_argument("--window", type=float, default=60.0, help="seconds of the CPU / bytes window with the viewers")
    ap.add_argument("--other-window", type=float, default=None,
                    help="seconds of the baseline's and the no-viewer window (default: --window)")
    ap.add_argument("--scans", type=int, default=20, help="in-process fleet scans while the writer appends")
    ap.add_argument("--interval", type=float, default=5.0, help="RADIODASH_OVERVIEW_INTERVAL (s)")
    ap.add_argument("--quick", action="store_true",
                    help="12 s window (6 s for the baseline and no viewers), 3 in-process scans, no cold profile")
    args = ap.parse_args()
    if args.quick:
        args.window, args.other_window, args.scans = 12.0, 6.0, 3
    other = args.other_window or args.window
    settle = 1.0 if args.quick else 2.0  # seconds for the pages to settle before a window
    from playwright.sync_api import sync_playwright

    t_all = time.monotonic()
    cache = build_cache(args.runs, args.live)
    root, meta, live = make_root(cache)
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    kinds = {k: sum(1 for m in meta.values() if m["kind"] == k) for k in ("live", "stalled", "stopped", "finished")}
    two = sum(1 for m in meta.values() if len(m["files"]) > 1)
    print(f"root: {args.runs} runs, {size / 1e6:.1f} MB ({', '.join(f'{v} {k}' for k, v in kinds.items())}; "
          f"{sum(1 for m in meta.values() if m['stage'] == 'diffusion')} diffusion; {two} with two launch files); "
          f"{len(live)} live at {args.rate:g} lines/s each", flush=True)
    writer = Writer(live, args.rate)
    marks = [("setup", time.monotonic())]
    tmp = root.parent
    app = tmp / "trivial_overview.py"
    app.write_text(TRIVIAL_APP)
    out: dict = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            # ---- baseline: the trivial app, as many viewers, a window as long
            srv = Server({"BENCH_ROWS": str(args.runs), "BENCH_EVERY": str(args.interval)}, app=app)
            pages, renders = [], []
            for _ in range(args.viewers):
                took, page = first_render(browser, srv.url, args.runs)
                renders.append(took)
                pages.append(page)
            out["base_renders"] = renders
            print(f"baseline (trivial app) first renders: {', '.join(f'{x:.2f}' for x in renders)} s", flush=True)
            time.sleep(settle)
            out["base_cpu"] = window(psutil.Process(srv.proc.pid), other)
            for page in pages:
                page.context.close()
            srv.stop()
            marks.append(("baseline", time.monotonic()))

            # ---- RadioDash: the overview at "/"
            srv = Server({"RADIODASH_ROOT": str(root), "RADIODASH_OVERVIEW_INTERVAL": str(args.interval)})
            proc = psutil.Process(srv.proc.pid)
            pages, renders = [], []
            for _ in range(args.viewers):
                took, page = first_render(browser, srv.url + "/", args.runs)
                renders.append(took)
                pages.append(page)
            out["renders"] = renders
            print(f"RadioDash overview first renders: {', '.join(f'{x:.2f}' for x in renders)} s", flush=True)
            text = pages[0].inner_text("body")
            out["summary_line"] = next((ln for ln in text.splitlines() if "runs on 1 machine" in ln), "?")
            meter = pages[0]
            meter.get_by_role("button", name="live", exact=True).first.click()  # the "live" state pill
            meter.wait_for_function("() => !!document.querySelector('[data-testid=stDataFrame] canvas table') && "
                                    "!document.querySelector('[data-testid=stDataFrame] table[aria-rowcount=\"201\"]')",
                                    timeout=60_000)
            meter.evaluate(WATCH)
            time.sleep(settle)
            took: list[float] = []

            def caption() -> None:
                x = scan_took(meter.inner_text("body"))
                if x is not None:
                    took.append(x)
            out["cpu_viewers"] = window(proc, args.window, writer, caption)
            out["scan_took_page"] = took
            out["seen"] = meter.evaluate("window.__seen")
            for page in pages:
                page.context.close()
            closed = time.monotonic()
            # meanwhile (nobody looks: the server is idle), the in-process fleet's cold scan on a thread of this process
            held: dict = {}
            cold = threading.Thread(target=lambda: held.update(cold_fleet(root, args.interval, not args.quick)))
            cold.start()
            time.sleep(3)  # the sessions end with their websockets
            out["cpu_idle"] = window(proc, other, writer)
            cold.join()
            out["idle_seconds"] = time.monotonic() - closed
            out["comeback"], page = first_render(browser, srv.url + "/", args.runs)
            page.context.close()
            srv.stop()
            browser.close()
        marks.append(("RadioDash server", time.monotonic()))
        out["written"] = writer.written_at()
        out["writer_rate"] = sum(1 for t in out["written"].values() if t >= writer.t0) / (time.time() - writer.t0) / len(live)
        # ---- an in-process fleet on the same root (browser and servers gone: nothing else reads in this process)
        out["fleet"] = in_process(held, writer, args.scans, max(1, args.scans * 2 // 5), args.interval)
        marks.append(("in-process fleet", time.monotonic()))
    finally:
        writer.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report(args, out, other)
    steps = [(name, t - (marks[i - 1][1] if i else t_all)) for i, (name, t) in enumerate(marks)]
    print(f"(bench_overview took {time.monotonic() - t_all:.0f} s: "
          + ", ".join(f"{n} {d:.0f} s" for n, d in steps) + ")")
    return 0


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))] if xs else float("nan")


def report(args, out: dict, other: float) -> None:
    iv = args.interval
    med = lambda xs: statistics.median(xs) if xs else float("nan")  # noqa: E731
    per = lambda w: w["cpu"] / w["seconds"]  # noqa: E731
    r, b = out["renders"], out["base_renders"]
    warm, bwarm = r[1:] or r, b[1:] or b
    lat, gaps = refresh_latencies(out["seen"], out["written"])
    took = out["scan_took_page"]
    cv, ci, cb = out["cpu_viewers"], out["cpu_idle"], out["base_cpu"]
    f = out["fleet"]
    plain = [x for x in f["warm"] if not x["profiled"]] or f["warm"]
    scan_cpu = med([x["cpu"] for x in plain])
    app_v = cv["appended"] / (cv["seconds"] / iv)  # bytes appended per interval
    cold, rows = f["cold"], f["warm"]
    n = len(rows)
    rd, new, grew, ap_, opens = (sum(x[k] for x in rows) for k in ("bytes", "new", "grew", "appended", "opens"))
    pk = f["picker"]
    idle_scans = ci["read"] >= 0.01 * max(ci["appended"], 1)

    print(f"\noverview of {args.runs} runs ({args.live} live, the writer at {out['writer_rate']:.1f} lines/s per run), "
          f"{args.viewers} viewers, scan interval {iv:g} s; the page said: {out['summary_line'].strip()!r}\n")
    table = [
        ("(a) first render, first viewer (cold)", f"{r[0]:.2f} s", f"{b[0]:.2f} s", f"{r[0] / b[0]:.2f}x"),
        (f"(a) first render, next {len(warm)} viewers (median)", f"{med(warm):.2f} s", f"{med(bwarm):.2f} s",
         f"{med(warm) / med(bwarm):.2f}x"),
        (f"(a) first render after {out['idle_seconds']:.0f} s with no viewer", f"{out['comeback']:.2f} s", "", ""),
        ("(b) refresh: line written -> on screen, median", f"{med(lat):.2f} s", f"interval {iv:g} s",
         f"{med(lat) / iv:.2f}x"),
        ("(b) refresh: line written -> on screen, p95", f"{p95(lat):.2f} s", f"interval {iv:g} s", f"{p95(lat) / iv:.2f}x"),
        (f"(c) server CPU, {args.viewers} viewers", f"{per(cv):.3f} CPU-s/s", f"{per(cb):.3f} CPU-s/s",
         f"{per(cv) / max(per(cb), 1e-9):.1f}x"),
        ("(c) server CPU, 0 viewers", f"{per(ci):.3f} CPU-s/s", "", ""),
        ("(c) in-process fleet scan, CPU per second", f"{scan_cpu / iv:.3f} CPU-s/s", "", ""),
        (f"(d) server read_chars / interval, {args.viewers} viewers", f"{cv['read'] / (cv['seconds'] / iv) / 1e3:.1f} kB",
         f"appended {app_v / 1e3:.1f} kB", f"{cv['read'] / max(cv['appended'], 1):.2f}x"),
        ("(d) server read_chars / interval, 0 viewers", f"{ci['read'] / (ci['seconds'] / iv) / 1e3:.1f} kB",
         f"appended {ci['appended'] / (ci['seconds'] / iv) / 1e3:.1f} kB", f"{ci['read'] / max(ci['appended'], 1):.2f}x"),
        ("(d) in-process fleet, bytes read per scan", f"{rd / n / 1e3:.1f} kB", f"appended {ap_ / n / 1e3:.1f} kB",
         f"{rd / max(ap_, 1):.3f}x"),
        ("(d) the same, against the files' growth", f"{rd / n / 1e3:.1f} kB", f"grew {grew / n / 1e3:.1f} kB",
         f"{rd / max(grew, 1):.4f}x"),
    ]
    print(f"  {'figure':<50} {'RadioDash':>15} {'baseline':>18} {'ratio':>8}")
    for name, ours, base, ratio in table:
        print(f"  {name:<50} {ours:>15} {base:>18} {ratio:>8}")
    print("  (baselines: (a) and (c) a trivial Streamlit app with one 200-row st.dataframe; (b) the scan interval; "
          "(d) the bytes appended meanwhile)")

    print("\nnotes:")
    print(f"  (a) the cold render waits for the fleet's first scan; in-process that scan takes {cold['seconds']:.1f} s "
          f"({cold['cpu']:.1f} CPU-s{', under cProfile' if cold['prof'] is not None else ''}) and reads {cold['bytes'] / 1e6:.1f} MB of the root's {cold['size'] / 1e6:.1f} MB "
          f"({cold['bytes'] / cold['size']:.2f}x)")
    print(f"  (b) {summary(lat)}; the visible table changed every {med(gaps):.2f} s (median); the server's scans took "
          f"median {med(took):.1f} s, max {max(took) if took else float('nan'):.0f} s (page caption, sampled each second)")
    print(f"  (c) 0 viewers: {'the fleet keeps scanning' if idle_scans else 'the fleet does not scan while nobody looks'} "
          f"({ci['read'] / 1e3:.0f} kB read while {ci['appended'] / 1e3:.0f} kB were appended); the fleet's scans "
          f"(in-process, unprofiled: {summary([x['seconds'] for x in plain])}, {scan_cpu:.2f} CPU-s each) are "
          f"~{scan_cpu / iv / max(per(cv), 1e-9):.0%} of the {args.viewers}-viewer figure (measured after the server, on "
          f"runs grown since)")
    print(f"  (d) in-process, per scan: {sum(x['listings'] for x in rows) / n:.0f} run listings, {opens / n:.0f} files "
          f"opened (the changed ones), {sum(x['reads'] for x in rows) / n:.0f} reads; of the bytes read "
          f"{new / max(grew, 1):.4f}x the growth were never read before, plus {(rd - new) / max(opens, 1):.0f} B per file "
          f"opened (the 64-byte fingerprint); process read_chars {sum(x['rchar'] for x in rows) / n / 1e3:.1f} kB per scan")
    print(f"  (d) the sidebar run picker (on every page, redrawn every 5 s) re-reads each of the {pk['runs']} newest runs "
          f"whose files changed from byte 0, at most every 10 s (runstate.PickerStates: a one-shot open_run); "
          f"{pk['live_in_it']} of them are live -> {pk['bytes'] / 1e6:.2f} MB and {pk['cpu']:.2f} CPU-s per pass, "
          f"{pk['bytes'] * iv / 10 / max(app_v, 1):.0f}x the appended bytes per interval at one pass per 10 s")
    print(f"\n  profile of {sum(1 for x in rows if x['profiled'])} in-process warm scans (cProfile):")
    print("\n".join(profile_lines(f["warm_prof"], 6)))
    if cold["prof"] is not None:
        print("  profile of the cold scan:")
        print("\n".join(profile_lines(cold["prof"], 6)))


if __name__ == "__main__":
    raise SystemExit(main())
