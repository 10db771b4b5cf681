"""Real files, the real watchdog observer (and its polling fallback): every way a log file changes."""
from __future__ import annotations

import os
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from radiodash.follow import FollowService
from radiodash.reader import Limits
from radiodash.run import Run
from radiodash.source import LocalSource
from radiodash.tail import MAX_LINE_BYTES, FileTail, Lines, LongLine

HEADER = "2025-08-15 20:41:03,512 {'model': {'lossconfig': {'disc_start': 50001}}, 'trainer': {'train_num_steps': 1000, 'resume_milestone': %d}}\n"


def line(step: int, value: float = 1.0) -> str:
    return f"2025-08-15 20:41:{step // 100 % 60:02d},000 [Train Step] {step}/1000: train/total_loss: {value:.5f}, lr: 0.00001, \n"


def wait_for(cond, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


@pytest.fixture(params=["inotify", "polling"])
def followed(request, tmp_path):
    """A Run on tmp_path followed by the real Follower; the poll timer is slow so events must do the work."""
    runs: list[Run] = []

    def make(path: Path) -> Run:
        run = Run(path)
        run.refresh()
        polling = request.param == "polling"
        follower = run.follow(poll_interval=0.3 if polling else 30.0, force_polling=polling)
        assert follower.mode == request.param
        runs.append(run)
        return run

    yield make
    for r in runs:
        r.close()


def steps(run: Run) -> list[int]:
    return run.frame()["step"].tolist()


def test_append(followed, tmp_path):
    log = tmp_path / "2025-08-15-20-41_.log"
    log.write_text(HEADER % 0 + line(0))
    run = followed(tmp_path)
    with open(log, "a") as f:
        f.write(line(100) + line(200))
    assert wait_for(lambda: steps(run) == [0, 100, 200])


def test_partial_line_then_completion(followed, tmp_path):
    log = tmp_path / "2025-08-15-20-41_.log"
    log.write_text(HEADER % 0 + line(0))
    run = followed(tmp_path)
    text = line(100, 4.25)
    with open(log, "a") as f:
        f.write(text[:-12])
    time.sleep(0.8)
    assert steps(run) == [0]  # waits for its newline
    with open(log, "a") as f:
        f.write(text[-12:])
    assert wait_for(lambda: steps(run) == [0, 100])
    assert run.frame()["train/total_loss"].tolist() == [1.0, 4.25]


def test_copytruncate(followed, tmp_path):
    log = tmp_path / "2025-08-15-20-41_.log"
    log.write_text(HEADER % 0 + line(0) + line(100) + line(200))
    run = followed(tmp_path)
    (tmp_path / "2025-08-15-20-41_.log.1").write_bytes(log.read_bytes())
    os.truncate(log, 0)
    with open(log, "a") as f:
        f.write(line(300) + line(400))
    assert wait_for(lambda: steps(run) == [300, 400])  # the view equals the file as it now is
    assert any("truncated" in n for n in run.snapshot().notices)


def test_truncate_then_rewrite_longer(followed, tmp_path):
    log = tmp_path / "2025-08-15-20-41_.log"
    log.write_text(HEADER % 0 + line(0))
    run = followed(tmp_path)
    with open(log, "r+") as f:  # same inode, rewritten longer before anyone looked
        f.truncate(0)
        f.write(HEADER % 0 + line(500) + line(600) + line(700))
    assert wait_for(lambda: steps(run) == [500, 600, 700])


def test_rename_and_recreate(followed, tmp_path):
    log = tmp_path / "nohup.out"
    log.write_text(line(0) + line(100))
    run = followed(log)
    log.rename(tmp_path / "nohup.out.1")
    log.write_text(line(500))
    assert wait_for(lambda: steps(run) == [500])
    with open(log, "a") as f:
        f.write(line(600))
    assert wait_for(lambda: steps(run) == [500, 600])
    assert any("replaced" in n or "deleted" in n for n in run.snapshot().notices)


def test_delete_and_recreate(followed, tmp_path):
    log = tmp_path / "nohup.out"
    log.write_text(line(0) + line(100))
    run = followed(log)
    log.unlink()
    assert wait_for(lambda: steps(run) == [])
    log.write_text(line(900))
    assert wait_for(lambda: steps(run) == [900])


def test_a_file_that_does_not_exist_yet(followed, tmp_path):
    log = tmp_path / "later" / "nohup.out"
    run = followed(log)
    assert steps(run) == []
    log.parent.mkdir()
    log.write_text(line(0) + line(100))
    assert wait_for(lambda: steps(run) == [0, 100], timeout=15)


def test_second_launch_file_appears(followed, tmp_path):
    (tmp_path / "2025-08-15-20-41_.log").write_text(HEADER % 0 + line(0) + line(100) + line(200))
    run = followed(tmp_path)
    (tmp_path / "2025-08-15-21-07_.log").write_text(HEADER % 1 + line(100, 2.0) + line(300))
    assert wait_for(lambda: steps(run) == [0, 100, 300])  # the later launch wins from its first step
    snap = run.snapshot()
    assert [s.resumed_from_milestone for s in snap.segments] == [None, 1]
    assert snap.frame.loc[snap.frame.step == 100, "train/total_loss"].item() == 2.0


def test_two_launches_in_one_file_and_a_header_only_launch(followed, tmp_path):
    log = tmp_path / "2025-08-15-20-41_.log"
    log.write_text(HEADER % 0 + line(0) + line(100))
    run = followed(tmp_path)
    with open(log, "a") as f:
        f.write(HEADER % 0)  # a launch that died before its first step
        f.write(HEADER % 0 + line(0, 3.0) + line(100, 3.0) + line(200, 3.0))  # relaunched in the same minute
    assert wait_for(lambda: steps(run) == [0, 100, 200] and len(run.snapshot().segments) == 3)
    snap = run.snapshot()
    assert [s.records for s in snap.segments] == [2, 0, 3]
    assert snap.frame["train/total_loss"].tolist() == [3.0, 3.0, 3.0]


@pytest.mark.slow
def test_a_fifty_megabyte_line_is_skipped_in_bounded_memory(tmp_path):
    log = tmp_path / "nohup.out"
    with open(log, "wb") as f:
        f.write(line(0).encode())
        f.write(b"x" * (50 << 20) + b"\n")
        f.write(line(100).encode())
    tail = FileTail(str(log))
    tracemalloc.start()
    items = [bytes(i.data) if isinstance(i, Lines) else i for i in tail.read(LocalSource(log))]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 30 << 20  # never the whole 50 MB line
    assert items == [line(0).encode(), LongLine(str(log), len(line(0)), MAX_LINE_BYTES), line(100).encode()]
    run = Run(log)
    run.refresh()
    assert steps(run) == [0, 100]
    assert f"nohup.out:2: a line longer than {MAX_LINE_BYTES:,} bytes was skipped" in run.snapshot().notices


def test_follower_survives_a_failing_callback_and_keeps_polling(tmp_path):
    calls: list[int] = []
    done = threading.Event()

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        if len(calls) >= 3:
            done.set()

    f = FollowService(poll_interval=0.1)
    f.add("flaky", [str(tmp_path)], flaky)
    try:
        assert done.wait(10)
    finally:
        f.stop()
    assert not f.is_alive()


def test_one_service_follows_many_runs_with_one_watch_per_folder(tmp_path):
    """Forty runs in twenty folders: twenty watches, a fixed number of threads, every run kept current."""
    before = threading.active_count()
    service = FollowService(poll_interval=30.0, workers=2)  # slow poll: the events must do the work
    runs = []
    for i in range(40):
        folder = tmp_path / f"run{i // 2}"
        folder.mkdir(exist_ok=True)
        log = folder / f"2025-08-15-20-{i % 2:02d}_.log"
        log.write_text(HEADER % 0 + line(0))
        run = Run(folder)
        run.refresh()
        service.add(str(log), [str(folder)], run.refresh)
        runs.append((log, run))
    try:
        assert service.watches == 20 and len(service) == 40
        extra = threading.active_count() - before  # an emitter per folder; observer, loop, 2 workers, 1 more
        assert extra <= 20 + 5, sorted(t.name for t in threading.enumerate())
        for log, _ in runs:
            with open(log, "a") as f:
                f.write(line(100))
        assert wait_for(lambda: all(steps(r) == [0, 100] for _, r in runs), timeout=30), \
            [(log.name, steps(r)) for log, r in runs if steps(r) != [0, 100]]
        for log, _ in runs:
            service.remove(str(log))
        assert service.watches == 0 and len(service) == 0
    finally:
        service.stop()


@given(st.lists(st.one_of(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), st.integers(41, 400).map(lambda n: b"y" * n)),
                min_size=1, max_size=30),
       st.lists(st.integers(0, 10_000), max_size=6), st.integers(1, 120), st.integers(8, 60), st.booleans())
@example([b"a", b"y" * 41, b"b"], [], 120, 40, True)  # one byte over the limit, inside one block
def test_any_read_blocks_and_appends_give_every_line_once(lines, cuts, block, max_line, reuse):
    """Lines up to max_line bytes arrive exactly once at their offsets; longer ones are one LongLine
    each; whatever the block size, the append points and whether one read buffer is reused."""
    data = b"".join(ln + b"\n" for ln in lines)
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    starts = np.cumsum([0] + [len(ln) + 1 for ln in lines])[:-1].tolist()
    got_lines: list[tuple[int, bytes]] = []
    got_long: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "train_.log"
        src, tail = LocalSource(log), FileTail(str(log), block=block, max_line=max_line)
        buffer = Limits(read_block=block, max_line_bytes=max_line).buffer() if reuse else None
        for a, b in zip(bounds, bounds[1:]):
            with open(log, "ab") as f:
                f.write(data[a:b])
            for item in tail.read(src, buffer):
                if isinstance(item, LongLine):
                    got_long.append(item.offset)
                else:  # copied at once: with reuse, the bytes are only valid until the next item
                    off = item.offset
                    for ln in bytes(item.data).split(b"\n")[:-1]:
                        got_lines.append((off, ln))
                        off += len(ln) + 1
    assert got_lines == [(o, ln) for o, ln in zip(starts, lines) if len(ln) <= max_line]
    assert got_long == [o for o, ln in zip(starts, lines) if len(ln) > max_line]


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs procfs")
def test_a_file_whose_size_says_empty_is_still_read():
    """procfs (like a stale size on a network filesystem) reports 0 bytes: reads go on past the size."""
    chunks = list(FileTail("/proc/self/status").read(LocalSource("/proc/self/status")))
    assert chunks and bytes(chunks[0].data).startswith(b"Name:")
