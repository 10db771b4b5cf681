"""Live ingestion equals a one-shot parse, whatever the chunking.

Logs from the simulator in every mode are written into real files in random pieces —
splits inside lines and inside multi-byte characters included — with `Run.refresh()`
after each piece; the result must be exactly the one-shot parse of the final files.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiodash.reader import Limits
from radiodash.run import Run, open_run
from radiodash.simulate import SimConfig, render
from runcheck import assert_same_run, parse_files

MODES = {
    "plain": dict(),
    "accum2": dict(grad_accum=2),
    "resume": dict(resume_at=1_234, grad_accum=2),
    "resume_same_file": dict(resume_at=1_234, resume_same_file=True),
    "header_only_launch": dict(resume_at=1_500, header_only_launch=True),
    "console": dict(console=True, resume_at=1_700),
    "diffusion": dict(stage="diffusion", lr=2e-5),
    "faults": dict(val_every=500, nan_step=2_000, spike_steps=(1_000,), extra_keys=("train/edge_loss",)),
}
JUNK = [b"", b"garbage \xff\xfe\x80 not utf-8", "UserWarning: ünïcödé ✓ █▎".encode(),
        b"[Train Step] 12/3000: train/total_loss: 1.0, lr", b"2025-08-15 20:41:07,376 [Train Step] x/y: a: b, ",
        b"train/total_loss: nan, ", b"\r\r", b"Traceback (most recent call last):"]


def _mix(data: bytes, junk: list[tuple[int, bytes]]) -> bytes:
    """Insert junk lines at line positions (a console or a crashing trainer writes such things)."""
    lines = data.split(b"\n")
    for pos, line in sorted(junk, reverse=True):
        lines.insert(pos % len(lines), line)
    return b"\n".join(lines)


@st.composite
def written_runs(draw):
    mode = draw(st.sampled_from(sorted(MODES)))
    cfg = SimConfig(train_num_steps=3_000, log_freq=100, disc_start=1_001, save_and_sample_every=500,
                    seed=draw(st.integers(0, 3)), **MODES[mode])
    files, _ = render(cfg)
    junk = draw(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(JUNK)), max_size=4))
    if junk:
        name = draw(st.sampled_from(sorted(files)))
        files[name] = _mix(files[name], junk)
    # the writes, in launch order: each file's bytes cut at random points
    writes: list[tuple[str, bytes]] = []
    for name in sorted(files):
        data = files[name]
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
        bounds = [0, *cuts, len(data)]
        writes.extend((name, data[a:b]) for a, b in zip(bounds, bounds[1:]) if b > a)
    return mode, files, writes


def _follow_path(folder: Path, files: dict[str, bytes]) -> Path:
    return folder / "nohup.out" if "nohup.out" in files else folder


@given(written_runs())
def test_any_chunking_gives_the_one_shot_parse(case):
    mode, files, writes = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run = Run(_follow_path(folder, files))
        for name, piece in writes:
            with open(folder / name, "ab") as f:
                f.write(piece)
            run.refresh()
        run.refresh()
        expected = parse_files({n: d for n, d in files.items()}, folder=str(folder))
        assert_same_run(run.snapshot(), expected)
        run.close()


def test_a_partial_last_line_waits_for_its_newline(tmp_path):
    files, truth = render(SimConfig(train_num_steps=1_000, log_freq=100))
    (name, data), = files.items()
    cut = data.rfind(b"[Train Step]") + 40  # inside the last step line
    log = tmp_path / name
    log.write_bytes(data[:cut])
    run = Run(tmp_path)
    run.refresh()
    assert run.frame()["step"].tolist() == truth.steps[:-1]
    with open(log, "ab") as f:
        f.write(data[cut:])
    assert run.refresh() == 1
    assert run.frame()["step"].tolist() == truth.steps


STEP_LINES = [f"2025-08-15 20:41:{s % 60:02d},{s % 1000:03d} [Train Step] {s}/3000: train/total_loss: {s / 7:.5f}, "
              f"lr: 0.00000, \n".encode() for s in range(100, 3_000, 100)]


@given(st.lists(st.one_of(st.binary(max_size=300), st.sampled_from(STEP_LINES)), max_size=12),
       st.lists(st.integers(0, 4_000), max_size=6))
def test_random_bytes_in_random_pieces_never_raise(parts, cuts):
    """Random bytes with step lines among them, appended in random pieces: nothing raises, every
    complete line is looked at once, and the run equals a one-shot parse of the final file."""
    blob = b"".join(parts)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "x_.log"
        run = Run(log)
        bounds = [0, *sorted(c % (len(blob) + 1) for c in cuts), len(blob)]
        for a, b in zip(bounds, bounds[1:]):
            with open(log, "ab") as f:
                f.write(blob[a:b])
            run.refresh()
        live = run.snapshot()
        run.close()
        assert live.lines_read == blob.count(b"\n")  # every complete line was looked at, once
        assert_same_run(live, open_run(log).snapshot())  # and read as a one-shot parse reads it


def test_copytruncate_then_new_lines_equals_a_parse_of_the_file_as_it_is(tmp_path):
    files, _ = render(SimConfig(train_num_steps=2_000, log_freq=100))
    (name, data), = files.items()
    log = tmp_path / name
    log.write_bytes(data)
    run = Run(tmp_path)
    run.refresh()
    lines = data.split(b"\n")
    os.truncate(log, 0)
    with open(log, "ab") as f:
        f.write(b"\n".join(lines[-5:]))
    run.refresh()
    assert_same_run(run.snapshot(), parse_files({name: log.read_bytes()}, folder=str(tmp_path)))
    assert any("truncated" in n for n in run.snapshot().notices)


@pytest.mark.slow
@given(written_runs(), st.integers(1, 3_000), st.integers(200, 20_000))
def test_small_read_blocks_and_split_scans_give_the_one_shot_parse(case, block, parallel):
    """Every block boundary falls inside some line: the partial line is re-read with the next block,
    and blocks are scanned as two halves on two threads."""
    mode, files, writes = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        run = Run(_follow_path(folder, files), limits=Limits(read_block=block, parallel_bytes=parallel))
        run.refresh()
        assert_same_run(run.snapshot(), parse_files(files, folder=str(folder)))
        run.close()
