"""The built-in demo: a simulated VAE run written live into a temporary results folder.

The whole folder, as a trainer writes it: the log, a TensorBoard event file (every step;
flushed every `DEMO_FLUSH_SECS` s of wall time instead of the real writer's 120 s, so the
demo's per-step curves move while you watch), and at each milestone `model-K.pt` and `sample-K.png`.
"""
from __future__ import annotations

import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from ..radiodiff import is_launch_file
from ..simulate import SimConfig, write_run

DEMO_RATE = 5.0  # step lines per second
DEMO_FLUSH_SECS = 10.0  # the event writer's flush interval in the demo (a real SummaryWriter: 120 s)
DEMO_CONFIG = dict(train_num_steps=150_000, log_freq=100, disc_start=20_001, save_and_sample_every=5_000,
                   grad_accum=2, seconds_per_step=0.2, events=True, samples=True, flush_secs=DEMO_FLUSH_SECS)
#: What the demo writes, for the page that announces it.
DESCRIPTION = ("Demo: a simulated RadioDiff VAE run is being written live into a temporary folder: the log, "
               f"a TensorBoard event file (flushed every {DEMO_FLUSH_SECS:g} s; a real trainer flushes every 120 s) "
               "and, every 5,000 steps, a checkpoint and a sample image.")


class Demo:
    """Writes demo runs one after another (a new results folder each time one finishes)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="radiodash-demo-"))
        self.first = self.root / "radiodiff_Vae_demo"
        self.first.mkdir(parents=True, exist_ok=True)  # selectable before the writer's first line
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="radiodash-demo", daemon=True)
        self.thread.start()
        # the first page lists the runs under the root: let the writer create its launch file first
        deadline = time.monotonic() + 3.0
        while not any(is_launch_file(p.name) for p in self.first.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)

    def _loop(self) -> None:
        n = 1
        folder = self.first
        while not self.stop.is_set():
            cfg = SimConfig(start_time=datetime.now(), seed=n, **DEMO_CONFIG)
            write_run(folder, cfg, rate=DEMO_RATE, realtime_timestamps=True, stop=self.stop)
            n += 1
            folder = self.root / f"radiodiff_Vae_demo_{n}"

    def close(self) -> None:
        self.stop.set()
