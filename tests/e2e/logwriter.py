"""RadioDiff-format log lines for the browser tests (the real layout, docs/log-format.md)."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

T0 = datetime(2025, 8, 15, 20, 41, 3)


def header(disc_start: int = 50_001, total: int = 150_000, accum: int = 1) -> str:
    return (f"{ts(-4)} {{'model': {{'embed_dim': 3, 'lossconfig': {{'disc_start': {disc_start}, 'kl_weight': 1e-06, "
            f"'disc_weight': 0.5}}}}, 'data': {{'batch_size': 2}}, 'trainer': {{'gradient_accumulate_every': {accum}, "
            f"'lr': 5e-06, 'min_lr': 0.1, 'train_num_steps': {total}, 'save_and_sample_every': 5000, "
            f"'log_freq': 100, 'resume_milestone': 0}}}}\n")


def ts(seconds: float) -> str:
    t = T0 + timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"


def step(s: int, disc_start: int = 50_001, total: int = 150_000) -> str:
    df = 1.0 if s >= disc_start else 0.0
    rec = 0.02 + 0.08 * 0.9999 ** s
    nll = round(rec * 65536, 5)
    kl = 60000 + s
    g = -0.45
    tot = nll + 1e-6 * kl + 5000 * df * g
    return (f"{ts(s * 0.2)} [Train Step] {s}/{total}: train/total_loss: {tot:.5f}, train/logvar: 0.00000, "
            f"train/kl_loss: {kl:.5f}, train/nll_loss: {nll:.5f}, train/rec_loss: {rec:.5f}, train/d_weight: 5000.00000, "
            f"train/disc_factor: {df:.5f}, train/g_loss: {g:.5f}, lr: 0.00000, \n")


def write_run(folder: Path, steps: range, **kw) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "2025-08-15-20-41_.log"
    total = kw.get("total", 150_000)
    log.write_text(header(kw.get("disc_start", 50_001), total) + "".join(step(s, kw.get("disc_start", 50_001), total)
                                                                       for s in steps))
    return log


def append(log: Path, steps, **kw) -> None:
    with open(log, "a") as f:
        f.write("".join(step(s, **kw) for s in steps))
        f.flush()
