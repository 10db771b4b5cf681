"""Run through the source seam: a fake, in-memory source drives the run with no file at all.

The fake is a whole `Source` (discover/open/watch_dirs) over a dict of bytes that the test
mutates: appends, truncation, replacement, deletion, new launch files, a host that goes away.
"""
from __future__ import annotations

import itertools
import os
import stat
import subprocess
import sys

import pandas as pd
import pytest

from radiodash.reader import Limits
from radiodash.run import Run, open_run
from radiodash.source import Entry, FileStat, LocalSource, Source, Unreachable, kind_of
from radiodash.simulate import SimConfig, render
from runcheck import assert_same_run, parse_files

HEADER = "2025-08-15 20:41:03,512 {'model': {'lossconfig': {'disc_start': 50001}}, 'trainer': {'train_num_steps': 1000}}\n"


def line(step: int, value: float = 1.0) -> bytes:
    return f"2025-08-15 20:41:{step // 100 % 60:02d},000 [Train Step] {step}/1000: train/total_loss: {value:.5f}, lr: 0.00001, \n".encode()


class MemoryHandle:
    def __init__(self, data: bytes, st: FileStat, reads: list[tuple[int, int]]) -> None:
        self.data, self.st, self.reads = data, st, reads

    def stat(self) -> FileStat:
        return self.st

    def read_at(self, offset: int, size: int) -> bytes:
        self.reads.append((offset, size))
        return self.data[offset: offset + size]

    def readinto_at(self, buffer: memoryview, offset: int) -> int:
        chunk = self.read_at(offset, len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        pass


class FakeSource:
    """A results folder in memory: files[name] = bytes; `down` makes every call raise Unreachable."""

    _inodes = itertools.count(1)

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.location, self.name, self.watch_dirs = "mem://run", "run", ()
        self.files: dict[str, bytes] = {}
        self.idents: dict[str, int] = {}
        self.down = False
        self.reads: list[tuple[int, int]] = []
        for k, v in (files or {}).items():
            self.write(k, v)

    def write(self, name: str, data: bytes, *, new_file: bool = False) -> None:
        if name not in self.files or new_file:
            self.idents[name] = next(self._inodes)
        self.files[name] = data

    def append(self, name: str, data: bytes) -> None:
        self.write(name, self.files.get(name, b"") + data)

    def _stat(self, name: str) -> FileStat:
        return FileStat(len(self.files[name]), 1_700_000_000.0 + len(self.files[name]), self.idents[name])

    def discover(self) -> list[Entry]:
        if self.down:
            raise Unreachable("mem://run cannot be reached (test)")
        return [Entry(f"mem://run/{n}", kind, self._stat(n)) for n in sorted(self.files)
                if (kind := kind_of(n)) is not None]

    def open(self, path: str) -> MemoryHandle | None:
        if self.down:
            raise Unreachable("mem://run cannot be reached (test)")
        name = path.rsplit("/", 1)[-1]
        if name not in self.files:
            return None
        return MemoryHandle(self.files[name], self._stat(name), self.reads)

    def close(self) -> None:
        pass


def steps(run: Run) -> list[int]:
    return run.frame()["step"].tolist()


def test_the_fake_is_a_source():
    assert isinstance(FakeSource(), Source) and isinstance(LocalSource("/tmp"), Source)


def test_a_run_reads_a_fake_source_and_only_what_is_new():
    src = FakeSource({"2025-08-15-20-41_.log": HEADER.encode() + line(0) + line(100)})
    run = open_run(src)
    assert steps(run) == [0, 100] and run.name == "run" and run.path == "mem://run"
    size = len(src.files["2025-08-15-20-41_.log"])
    src.reads.clear()
    src.append("2025-08-15-20-41_.log", line(200) + line(300))
    assert run.refresh() == 2
    assert steps(run) == [0, 100, 200, 300]
    # the tail re-reads the 64 bytes before its offset (truncation check) and then only the new bytes
    assert src.reads == [(size - 64, 64), (size, 2 * len(line(200)))]
    src.reads.clear()
    assert run.refresh() == 0 and src.reads == []  # nothing changed: the listing alone says so


def test_a_partial_line_waits_for_its_newline():
    src = FakeSource({"a_.log": HEADER.encode() + line(0)})
    run = open_run(src)
    whole = line(100, 4.25)
    src.append("a_.log", whole[:-10])
    assert run.refresh() == 0 and steps(run) == [0]
    src.append("a_.log", whole[-10:])
    assert run.refresh() == 1 and run.frame()["train/total_loss"].tolist() == [1.0, 4.25]


@pytest.mark.parametrize("how", ["truncate", "replace", "delete"])
def test_resets_take_the_old_records_out_and_say_so(how):
    src = FakeSource({"a_.log": HEADER.encode() + line(0) + line(100) + line(200)})
    run = open_run(src)
    if how == "truncate":
        src.write("a_.log", line(300))
        expect = "a_.log was truncated at byte"
    elif how == "replace":
        src.write("a_.log", HEADER.encode() + line(300) + line(400) + line(500) + line(600), new_file=True)
        expect = "a_.log was replaced by a new file"
    else:
        del src.files["a_.log"]
        expect = "a_.log was deleted"
    run.refresh()
    notices = run.snapshot().notices
    assert any(n.startswith(expect) and "3 step records read from it earlier were taken out of the view" in n
               for n in notices), notices
    assert steps(run) == {"truncate": [300], "replace": [300, 400, 500, 600], "delete": []}[how]
    if how == "delete":
        src.write("a_.log", line(900), new_file=True)
        run.refresh()
        assert steps(run) == [900] and any("appeared again" in n for n in run.snapshot().notices)


def test_a_new_launch_file_is_read_and_stitched():
    src = FakeSource({"2025-08-15-20-41_.log": HEADER.encode() + line(0) + line(100) + line(200)})
    run = open_run(src)
    src.write("2025-08-15-21-07_.log", HEADER.encode() + line(100, 2.0) + line(300))
    assert run.refresh() == 2
    assert steps(run) == [0, 100, 300] and run.frame()["train/total_loss"].tolist() == [1.0, 2.0, 1.0]
    assert len(run.snapshot().segments) == 2


def test_an_unreachable_source_keeps_what_was_read_and_resumes_where_it_stopped():
    src = FakeSource({"a_.log": HEADER.encode() + line(0) + line(100)})
    run = open_run(src)
    src.down = True
    src.append("a_.log", line(200))
    assert run.refresh() == 0
    snap = run.snapshot()
    assert snap.unreachable_since is not None and steps(run) == [0, 100]
    assert any("cannot be reached" in n for n in snap.notices)
    src.down = False
    assert run.refresh() == 1
    snap = run.snapshot()
    assert steps(run) == [0, 100, 200] and snap.unreachable_since is None
    assert snap.notices[-1] == "reachable again; reading resumed where it stopped"


def test_last_write_time_is_the_files_mtime_not_the_time_of_reading():
    src = FakeSource({"a_.log": HEADER.encode() + line(0)})
    snap = open_run(src).snapshot()
    assert snap.last_write_time == 1_700_000_000.0 + len(src.files["a_.log"])
    assert snap.read_time is not None and snap.read_time > snap.last_write_time


@pytest.mark.parametrize("accum", [1, 2])
def test_a_simulated_results_folder_through_the_fake_equals_the_one_shot_parse(accum):
    files, truth = render(SimConfig(train_num_steps=3_000, log_freq=10, grad_accum=accum, resume_at=1_700,
                                    save_and_sample_every=500, disc_start=1_000, nan_step=2_500, seed=3))
    src = FakeSource()
    run = Run(src, limits=Limits(read_block=4096))
    for name, data in files.items():  # each file arrives in a few appends
        for a in range(0, len(data), 7_001):
            src.append(name, data[a: a + 7_001])
            run.refresh()
    assert_same_run(run.snapshot(), parse_files(files, "mem://run"))
    assert steps(run) == truth.steps



class ThreadNotingSource(FakeSource):
    """A fake that notes the thread of each read and can fail the n-th read (a host lost mid-read)."""

    def __init__(self, files: dict[str, bytes], fail_read: int | None = None) -> None:
        super().__init__(files)
        self.threads: list[str] = []
        self.fail_read = fail_read

    def open(self, path: str) -> MemoryHandle | None:
        handle = super().open(path)
        if handle is None:
            return None
        source, read_at = self, handle.read_at

        def noted(offset: int, size: int) -> bytes:
            import threading

            source.threads.append(threading.current_thread().name)
            if source.fail_read is not None and len(source.threads) == source.fail_read:
                raise Unreachable("mem://run cannot be reached (test)")
            return read_at(offset, size)

        handle.read_at = noted
        return handle


@pytest.mark.parametrize("accum", [1, 2])
def test_blocks_read_ahead_while_the_store_takes_the_last_give_the_one_shot_run(accum):
    files, truth = render(SimConfig(train_num_steps=3_000, log_freq=10, grad_accum=accum, resume_at=1_700,
                                    save_and_sample_every=500, disc_start=1_000, nan_step=2_500, seed=3))
    src = ThreadNotingSource(files)
    run = open_run(src, limits=Limits(read_block=4096, parallel_bytes=2048))  # every block is "big"
    assert "radiodash-scan_0" in src.threads  # the next block was read on the scanner's worker thread
    assert_same_run(run.snapshot(), parse_files(files, "mem://run"))
    assert steps(run) == truth.steps


def test_a_host_lost_during_a_read_ahead_keeps_what_was_read_and_resumes_without_a_gap():
    files, truth = render(SimConfig(train_num_steps=2_000, log_freq=10, grad_accum=2, seed=5))
    limits = Limits(read_block=4096, parallel_bytes=2048)
    src = ThreadNotingSource(files, fail_read=12)
    run = Run(src, limits=limits)
    run.refresh()  # read ahead on the worker thread, then the 12th read fails
    assert src.threads[11] == "radiodash-scan_0" and run.snapshot().unreachable_since is not None
    got = steps(run)
    assert 0 < len(got) < len(truth.steps) and got == truth.steps[: len(got)]
    src.fail_read = None
    run.refresh()
    assert steps(run) == truth.steps


def test_a_fifo_and_a_symlink_loop_in_a_results_folder_are_skipped(tmp_path):
    (tmp_path / "2025-08-15-20-41_.log").write_bytes(HEADER.encode() + line(0))
    os.mkfifo(tmp_path / "2025-08-15-21-00_.log")
    (tmp_path / "2025-08-15-21-01_.log").symlink_to(tmp_path / "2025-08-15-21-01_.log")  # a loop
    (tmp_path / "2025-08-15-21-02_.log").symlink_to(tmp_path / "missing.log")  # dangling
    assert stat.S_ISFIFO(os.lstat(tmp_path / "2025-08-15-21-00_.log").st_mode)
    run = open_run(tmp_path)  # a blocking open of the FIFO would hang here
    assert steps(run) == [0]
    assert [e.name for e in run.entries] == ["2025-08-15-20-41_.log"]


def test_a_fifo_as_the_run_itself_is_refused_with_a_notice(tmp_path):
    fifo = tmp_path / "fifo.log"
    os.mkfifo(fifo)
    src = LocalSource(fifo)
    assert src.discover() == []
    run = Run(src)
    run.readers  # noqa: B018 - no reader until the listing shows a regular file
    assert run.refresh() == 0 and steps(run) == []


# ---------------------------------------------------------------------------- event files and artifacts


def _event_files(files: dict[str, bytes]) -> dict[str, bytes]:
    return {n: d for n, d in files.items() if n.startswith("events.out.tfevents.")}


def test_event_files_are_a_second_source_read_incrementally_and_stitched():
    from radiodash.tfevents import EventTable, decode

    files, _ = render(SimConfig(train_num_steps=1_200, log_freq=100, save_and_sample_every=500, resume_at=700,
                                grad_accum=2, events=True, samples=True, seed=2))
    events = _event_files(files)
    assert len(events) == 2  # one per launch
    reference = EventTable()
    for name, data in events.items():
        reference.apply(name, decode(data))
    src = FakeSource()
    run = Run(src, limits=Limits(read_block=4096))
    for name, data in files.items():
        for a in range(0, len(data), 3_001):  # records cut anywhere
            src.append(name, data[a: a + 3_001])
            run.refresh()
    snap = run.snapshot()
    expected = reference.frame()
    assert len(expected) == 1_200 and "Learning_Rate" in expected
    pd.testing.assert_frame_equal(snap.events.reset_index(drop=True), expected)
    assert "Learning_Rate" not in snap.frame and len(snap.frame) == 12  # the log's columns stay the log's
    assert {e.name for e in snap.artifacts} >= {"model-1.pt", "model-2.pt", "sample-1.png"}


def test_a_truncated_event_file_is_forgotten_and_read_again():
    from radiodash.tfevents import decode

    files, _ = render(SimConfig(train_num_steps=600, log_freq=100, events=True, seed=4))
    (name, data), = _event_files(files).items()
    src = FakeSource(files)
    run = open_run(src)
    assert len(run.snapshot().events) == 600
    half = data[: len(data) // 2]
    src.write(name, half)
    run.refresh()
    snap = run.snapshot()
    assert snap.events["step"].tolist() == sorted(set(decode(half).step.tolist()))  # what the file holds now
    assert any(n.startswith(f"{name} was truncated") for n in snap.notices)


def test_a_symlink_inside_a_run_folder_is_not_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(line(999))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "2025-08-15-20-41_.log").write_bytes(HEADER.encode() + line(0))
    (run_dir / "2025-08-15-20-42_.log").symlink_to(secret)  # listed? never
    run = open_run(run_dir)
    assert steps(run) == [0] and [e.name for e in run.entries] == ["2025-08-15-20-41_.log"]
    real = run_dir / "2025-08-15-20-41_.log"
    real.unlink()
    real.symlink_to(secret)  # a followed file swapped for a link to elsewhere
    run.refresh()
    assert 999 not in steps(run)
    single = tmp_path / "single.log"
    single.symlink_to(secret)  # a single-file run the caller chose (the resolver checked the link)
    assert steps(open_run(single)) == [999]



# ---------------------------------------------------------------------------- a folder's listing, reused


def _age(folder, seconds: float = 3600.0) -> int:
    """Set a folder's mtime back (a results folder whose files were all created long ago); returns it in ns."""
    ns = os.stat(folder).st_mtime_ns - int(seconds * 1e9)
    os.utime(folder, ns=(ns, ns))
    return ns


def test_a_settled_folders_files_still_show_every_change(tmp_path):
    log = tmp_path / "2025-08-15-20-41_.log"
    log.write_bytes(HEADER.encode() + line(0))
    (tmp_path / "sample-1.png").write_bytes(b"\x89PNG")
    _age(tmp_path)
    src = LocalSource(tmp_path)
    assert [e.name for e in src.discover()] == ["2025-08-15-20-41_.log", "sample-1.png"]
    with open(log, "ab") as f:  # appends and in-place writes leave the folder's mtime alone
        f.write(line(10))
    (tmp_path / "sample-1.png").write_bytes(b"\x89PNG" + b"\0" * 100)
    sizes = {e.name: e.stat.size for e in src.discover()}
    assert sizes == {log.name: log.stat().st_size, "sample-1.png": 104}
    (tmp_path / "2025-08-15-21-00_.log").write_bytes(line(20))  # a new launch
    (tmp_path / "sample-1.png").unlink()
    assert [e.name for e in src.discover()] == ["2025-08-15-20-41_.log", "2025-08-15-21-00_.log"]
    run = Run(src)
    run.refresh()
    assert steps(run) == [0, 10, 20]


def test_a_file_created_in_the_same_mtime_tick_as_the_listed_change_is_not_missed(tmp_path):
    # Filesystems keep a folder's mtime as coarse as 1-2 s: two creations in one tick leave one mtime.
    (tmp_path / "2025-08-15-20-41_.log").write_bytes(HEADER.encode() + line(0))
    tick = os.stat(tmp_path).st_mtime_ns
    src = LocalSource(tmp_path)
    assert len(src.discover()) == 1  # listed right after a change: not trusted to stay complete
    (tmp_path / "2025-08-15-21-00_.log").write_bytes(line(20))
    os.utime(tmp_path, ns=(tick, tick))  # the same tick as the first creation
    assert [e.name for e in src.discover()] == ["2025-08-15-20-41_.log", "2025-08-15-21-00_.log"]


def test_a_reused_listing_is_taken_again_after_a_while_whatever_the_mtime_says(tmp_path):
    import dataclasses

    from radiodash.source import RELIST_NS

    (tmp_path / "2025-08-15-20-41_.log").write_bytes(HEADER.encode() + line(0))
    old = _age(tmp_path)
    src = LocalSource(tmp_path)
    assert len(src.discover()) == 1
    (tmp_path / "2025-08-15-21-00_.log").write_bytes(line(20))
    os.utime(tmp_path, ns=(old, old))  # a filesystem that did not move the folder's mtime
    assert len(src.discover()) == 1  # the price of reusing a listing, for at most RELIST_NS
    src._listing = dataclasses.replace(src._listing, taken_ns=src._listing.taken_ns - RELIST_NS)  # time passes
    assert len(src.discover()) == 2


WARM_CHECK = r'''
import os, sys
from radiodash import _scan
from radiodash.reader import Limits
from radiodash.run import open_run, warm_compiled_code
from radiodash.simulate import SimConfig, render
from radiodash.tfevents import _kernel
warm_compiled_code()
kernels = [getattr(m, n) for m in (_scan, _kernel) for n in dir(m) if hasattr(getattr(m, n), "signatures")]
before = [list(k.signatures) for k in kernels]
files, _ = render(SimConfig(train_num_steps=60_000, log_freq=10, grad_accum=int(sys.argv[2]), seed=3, events=True))
for name, data in files.items():
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(data)
# a log over the read block, in halves: how a log over 8 MB is read, at a 1 MB scale
run = open_run(sys.argv[1], limits=Limits(read_block=1 << 20, parallel_bytes=1 << 17))
log = sorted(p for p in os.listdir(sys.argv[1]) if p.endswith(".log"))[-1]
lines = open(os.path.join(sys.argv[1], log), "rb").read().splitlines(keepends=True)
steps = [ln for ln in lines if b"[Train Step]" in ln]
for k in range(1, 4):  # live refreshes: one line, then a step's two lines, then three
    with open(os.path.join(sys.argv[1], log), "ab") as f:
        f.writelines(steps[-k:])
    run.refresh()
assert len(run.snapshot().frame) > 2_000 and len(run.snapshot().events) > 20_000
print("NEW:", [k.__name__ for k, b in zip(kernels, before) if list(k.signatures) != b])
'''


@pytest.mark.slow
@pytest.mark.parametrize("accumulation", [1, 2])
def test_the_install_warm_up_compiles_what_a_big_log_and_live_refreshes_need(tmp_path, accumulation):
    """`make install` warms the compiled code (`warm_compiled_code`): a variant it misses compiles for
    seconds in front of a user (a writable read buffer once made the first log over 8 MB wait ~5 s)."""
    out = subprocess.run([sys.executable, "-c", WARM_CHECK, str(tmp_path), str(accumulation)], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "NEW: []" in out.stdout, out.stdout
