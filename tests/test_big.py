"""A 1,000,000-line log parses and nothing is lost in a single pass, with bounded memory."""
from __future__ import annotations

import numpy as np
import pytest

from radiodash import open_run

HEAD = (b"2025-08-15 20:41:03,512 {'model': {'lossconfig': {'disc_start': 50001, 'kl_weight': 1e-06, "
        b"'disc_weight': 0.5}}, 'trainer': {'gradient_accumulate_every': 1, 'lr': 5e-06, 'min_lr': 0.1, "
        b"'train_num_steps': 10000000, 'save_and_sample_every': 5000, 'log_freq': 10}}\n")
LINE = (b"2025-08-%02d %02d:%02d:%02d,%03d [Train Step] %d/10000000: train/total_loss: %d.%05d, train/logvar: 0.00000, "
        b"train/kl_loss: 141190.02344, train/nll_loss: 1811.06250, train/rec_loss: 0.02765, "
        b"train/d_weight: 5000.00000, train/disc_factor: 0.00000, train/g_loss: -0.45120, lr: 0.00000, \n")


@pytest.mark.slow
def test_a_million_step_lines_give_a_million_records(tmp_path):
    n = 1_000_000
    log = tmp_path / "2025-08-15-20-41_.log"
    seconds = np.arange(n) // 5  # five steps logged per second
    parts = [HEAD]
    for i in range(n):
        s = int(seconds[i])
        parts.append(LINE % (16 + s // 86_400, s // 3600 % 24, s // 60 % 60, s % 60, i % 5 * 200, i * 10,
                             1811 + i % 97, i % 100_000))
        if i % 100_000 == 99_999:
            parts.append(b"a warning that is not a step line\n")
    log.write_bytes(b"".join(parts))
    written = sum(p.count(b"[Train Step]") for p in parts)
    assert written == n

    run = open_run(tmp_path)
    frame = run.frame()
    assert len(frame) == written
    assert frame["step"].iloc[-1] == (n - 1) * 10 and frame["step"].is_monotonic_increasing
    # spot-check values and times against the formula the lines were written with
    for i in (0, 1, 499_999, n - 1):
        assert frame["train/total_loss"].iloc[i] == float(f"{1811 + i % 97}.{i % 100_000:05d}")
    assert str(frame["time"].iloc[n - 1]) == "2025-08-18 07:33:19.800000"
    snap = run.snapshot()
    assert snap.other_lines == 10 and snap.problem_count == 0 and snap.lines_read == n + 11
    run.close()
