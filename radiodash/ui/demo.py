"""The built-in demo: a simulated VAE run written live into a temporary results folder."""
from __future__ import annotations

import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from ..radiodiff import is_launch_file
from ..simulate import SimConfig, write_run

DEMO_RATE = 5.0  # step lines per second
DEMO_CONFIG = dict(train_num_steps=150_000, log_freq=100, disc_start=20_001, save_and_sample_every=5_000,
                   grad_accum=2, seconds_per_step=0.2)


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
