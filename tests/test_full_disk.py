"""A log written on a full disk: the kernel writes only the start of a line, the next line continues it.

Real bytes on a real, size-limited tmpfs (mounting needs root; skipped otherwise): the trainer's
write of step 117,000 stops after the page's free bytes, space comes back, step 117,100 is
written whole right after the cut. The parser must make that two lines: 117,000 damaged (with
the fields written in full before the cut), 117,100 intact — never 117,000 with 117,100's values.
"""
from __future__ import annotations

import errno
import os

import numpy as np
import pytest
from mounts import tmpfs

from radiodash import open_run

PAGE = 4096
HEADER = ("2025-08-15 20:41:03,512 {'model': {'lossconfig': {'disc_start': 50001}}, "
          "'trainer': {'train_num_steps': 150000, 'log_freq': 100}}\n")


def step_line(step: int, second: int) -> bytes:
    return (f"2025-08-15 21:{second // 60 % 60:02d}:{second % 60:02d},125 [Train Step] {step}/150000: "
            f"train/total_loss: 1811.20437, train/logvar: 0.00000, train/kl_loss: 141190.02344, "
            f"train/nll_loss: 1811.06250, train/rec_loss: 0.02765, train/d_weight: 5000.00000, "
            f"train/disc_factor: 0.00000, train/g_loss: -0.45120, lr: 0.00000, \n").encode()


@pytest.fixture
def small_disk():
    with tmpfs("256k") as mnt:
        yield mnt


@pytest.mark.slow
def test_a_line_cut_by_a_full_disk_and_continued_by_the_next_is_two_lines(small_disk):
    log = small_disk / "2025-08-15-20-41_.log"
    first = HEADER.encode() + b"".join(step_line(116_000 + 100 * i, i) for i in range(10))
    cut_at = 95  # bytes of step 117,000 that will fit
    pad = (PAGE - cut_at - len(first) % PAGE - 1) % PAGE  # a warning line so the page has cut_at bytes left
    first += b"W" * max(pad, 1) + b"\n" if pad else b""
    assert len(first) % PAGE == PAGE - cut_at
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        assert os.write(fd, first) == len(first)
        with open(small_disk / "filler", "wb", buffering=0) as f:  # the disk fills up
            try:
                while True:
                    f.write(b"\0" * PAGE)
            except OSError as e:
                assert e.errno == errno.ENOSPC
        cut = step_line(117_000, 61)
        written = os.write(fd, cut)  # the kernel writes what fits in the page, then stops
        assert written == cut_at
        os.unlink(small_disk / "filler")  # space comes back; the trainer writes on
        nxt = step_line(117_100, 62)
        assert os.write(fd, nxt) == len(nxt)
    finally:
        os.close(fd)
    snap = open_run(log).snapshot()
    f = snap.frame.set_index("step")
    assert f.index.tolist()[-2:] == [117_000, 117_100]
    assert f.loc[117_100, "train/total_loss"] == 1811.20437 and f.loc[117_100, "lr"] == 0.0
    assert f.loc[117_100, "time"].second == 2
    assert f.loc[117_000, "train/total_loss"] == 1811.20437  # written in full before the cut
    assert np.isnan(f.loc[117_000, "train/kl_loss"]) and np.isnan(f.loc[117_000, "lr"])
    assert snap.problem_count == 1 and snap.problems[0].line == 13
