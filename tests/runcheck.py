"""Helpers for comparing two parses of the same log (one-shot vs incremental)."""
from __future__ import annotations

import pandas as pd

from radiodash.model import Snapshot


def run_signature(s: Snapshot) -> dict:
    """Everything a user can see of a run, minus counters of how it was read."""
    return {
        "frame": s.frame,
        "raw": s.raw,
        "val": s.val_frame,
        "segments": [(g.index, g.file, g.header_line, g.config, g.first_step, g.last_step, g.first_time,
                      g.last_time, g.total_steps, g.records, g.resumed_from_milestone) for g in s.segments],
        "nonfinite": s.nonfinite,
        "problems": list(s.problems),
        "problem_count": s.problem_count,
        "other_lines": s.other_lines,
    }


def assert_same_run(a: Snapshot, b: Snapshot) -> None:
    sa, sb = run_signature(a), run_signature(b)
    for key in ("frame", "raw", "val", "nonfinite"):
        x, y = sa.pop(key), sb.pop(key)
        pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True), check_dtype=False,
                                      check_categorical=False, obj=key)
    assert sa == sb


def parse_files(files: dict[str, bytes], folder: str = "/sim") -> Snapshot:
    """One-shot parse of in-memory files, in name order, without the tail (the reference)."""
    from radiodash.parse import Parser
    from radiodash.store import RunStore

    store = RunStore(folder, folder.rsplit("/", 1)[-1])
    for name in sorted(files):
        data = files[name]
        path = f"{folder}/{name}"
        end = data.rfind(b"\n") + 1
        store.ingest(Parser(path).feed(data[:end], 1), end)
    return store.snapshot()


def step_starts(data: bytes) -> list[int]:
    """Byte offsets of the step lines of a log (to cut or append it at a step)."""
    out, pos = [], 0
    for line in data.splitlines(keepends=True):
        if b"[Train Step]" in line:
            out.append(pos)
        pos += len(line)
    return out
