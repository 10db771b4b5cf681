"""Shared by the benchmarks: a cached 1,000,000-line simulated VAE log (the simulator takes ~1 min for it)."""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def big_log(lines: int = 1_000_000, grad_accum: int = 1) -> tuple[Path, int]:
    """(folder, step lines written), generated once into the temp dir and reused."""
    from radiodash.simulate import SimConfig, render

    cache = Path(tempfile.gettempdir()) / f"radiodash-bench-log-{lines}-{grad_accum}"
    marker = cache / "step_lines"
    if marker.exists():
        return cache, int(marker.read_text())
    steps = lines // grad_accum
    cfg = SimConfig(train_num_steps=steps * 10, log_freq=10, grad_accum=grad_accum, disc_start=steps * 10 // 3,
                    save_and_sample_every=steps * 10 // 20 or 1, seed=1)
    t = time.perf_counter()
    files, truth = render(cfg)
    cache.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (cache / name).write_bytes(data)
    marker.write_text(str(truth.step_lines))
    print(f"(generated {truth.step_lines:,} step lines in {time.perf_counter() - t:.0f} s into {cache})")
    return cache, truth.step_lines


def timed(fn, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out
