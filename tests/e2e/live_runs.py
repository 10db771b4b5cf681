"""Runs for the Live page's browser tests: simulator runs (the whole results folder) and a stage-2 run
whose configuration block holds every stage-2 field (objective, timesteps, sampling_timesteps, the
first-stage checkpoint, scale_factor, the finetune checkpoint), as RadioDiff's LDM config has them."""
from __future__ import annotations

import os
from pathlib import Path

from radiodash.simulate import SimConfig, write_run

#: Added to the simulator's stage-2 config block (sorted keys, 2-space indent, as the trainer dumps it).
STAGE2_MODEL_EXTRA = ("  objective: pred_KC", "  sampling_timesteps: 50", "  scale_by_std: True",
                      "  scale_factor: 0.3")
STAGE2_FINETUNE = ("finetune:", "  ckpt_path: ./radiodiff_LDM/model-8.pt")


def stage1(folder: Path, **kw) -> Path:
    """A VAE run (events and samples on unless told), returned folder."""
    cfg = dict(train_num_steps=20_000, save_and_sample_every=5_000, disc_start=10_001, events=True, samples=True,
               flush_secs=0.001)
    cfg.update(kw)
    write_run(folder, SimConfig(**cfg))
    return folder


def stage2(folder: Path, **kw) -> Path:
    """A diffusion run (lr 2e-05) with the full stage-2 configuration block."""
    cfg = dict(stage="diffusion", lr=2e-5, train_num_steps=80_000, log_freq=500, save_and_sample_every=5_000,
               events=True, samples=True, flush_secs=0.001)
    cfg.update(kw)
    write_run(folder, SimConfig(**cfg))
    for log in folder.glob("*_.log"):
        lines = log.read_text().split("\n")
        out = []
        for line in lines:
            if line == "model:":
                out += list(STAGE2_FINETUNE) + [line]
                continue
            out.append(line)
            if line.startswith("  model_type:"):
                out += list(STAGE2_MODEL_EXTRA)
        stat = log.stat()
        log.write_text("\n".join(out))
        os.utime(log, (stat.st_atime, stat.st_mtime))
    return folder


def age_files(folder: Path, seconds_ago: float, now: float) -> None:
    """Every file of the run last written `seconds_ago` before `now` (os.utime)."""
    t = now - seconds_ago
    for f in folder.iterdir():
        os.utime(f, (t, t))
