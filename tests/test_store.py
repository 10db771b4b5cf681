"""The run store applies what readers yield: parsed chunks, typed resets and notices."""
from __future__ import annotations

import numpy as np

from radiodash.parse import Parser
from radiodash.reader import Notice
from radiodash.store import MAX_NOTICES, RunStore
from radiodash.tail import FileReset, Reset

HEADER = "2025-08-15 20:41:03,512 {'model': {'lossconfig': {'disc_start': 50001}}, 'trainer': {'train_num_steps': 1000}}\n"


def chunk(parser: Parser, steps: list[int], first_line: int, header: bool = False, value: float = 1.0):
    text = (HEADER if header else "") + "".join(
        f"2025-08-15 20:41:{s // 100 % 60:02d},000 [Train Step] {s}/1000: loss: {value:.5f}, \n" for s in steps)
    return parser.feed(text.encode(), first_line)


def two_files() -> tuple[RunStore, Parser, Parser]:
    store = RunStore("/r", "r")
    a, b = Parser("/r/a_.log"), Parser("/r/b_.log")
    assert store.apply(chunk(a, [0, 100, 200], 1, header=True)) == 3
    assert store.apply(chunk(b, [200, 300], 1, header=True, value=2.0)) == 2
    return store, a, b


def test_chunks_add_records_and_each_apply_is_a_new_version():
    store, _, _ = two_files()
    snap = store.snapshot()
    assert snap.frame["step"].tolist() == [0, 100, 200, 300]
    assert snap.frame["loss"].tolist() == [1.0, 1.0, 2.0, 2.0]  # the later launch wins step 200
    assert [s.file for s in snap.segments] == ["/r/a_.log", "/r/b_.log"]
    assert store.snapshot() is snap  # cached per version
    store.apply(Notice("/r/a_.log", 3, "hello"))
    assert store.snapshot() is not snap and store.snapshot().version == snap.version + 1


def test_a_reset_that_forgets_takes_exactly_that_files_records_out():
    store, _, b = two_files()
    before = store.snapshot()
    store.apply(FileReset("/r/a_.log", Reset.TRUNCATED, "a_.log was truncated at byte 400"))
    snap = store.snapshot()
    assert snap.frame["step"].tolist() == [200, 300]
    assert [(s.index, s.file) for s in snap.segments] == [(0, "/r/b_.log")]
    assert snap.frame["segment"].tolist() == [0, 0]
    assert snap.notices == ("a_.log was truncated at byte 400 (3 step records read from it earlier were taken out "
                            "of the view)",)
    assert before.frame["step"].tolist() == [0, 100, 200, 300]  # a published snapshot never changes
    store.apply(chunk(b, [400], 4, value=3.0))  # the other file goes on as before
    assert store.snapshot().frame["step"].tolist() == [200, 300, 400]


def test_a_recreated_file_is_only_said():
    store, _, _ = two_files()
    store.apply(FileReset("/r/a_.log", Reset.RECREATED, "a_.log appeared again; reading it from the start"))
    snap = store.snapshot()
    assert len(snap.frame) == 4 and snap.notices == ("a_.log appeared again; reading it from the start",)


def test_notices_are_kept_up_to_a_bound():
    store = RunStore("/r", "r")
    for i in range(MAX_NOTICES + 50):
        store.apply(Notice("/r/a_.log", i, f"n{i}"))
    assert len(store.snapshot().notices) == MAX_NOTICES


def test_reserving_room_changes_nothing_visible():
    store = RunStore("/r", "r")
    p = Parser("/r/a_.log")
    store.apply(chunk(p, [0, 100], 1, header=True))
    snap = store.snapshot()
    store.reserve(100_000)
    store.apply(chunk(p, [200], 4))
    assert snap.frame["step"].tolist() == [0, 100]
    assert store.snapshot().frame["step"].tolist() == [0, 100, 200]
    assert np.array_equal(store.snapshot().lines, [2, 3, 4])


def test_file_times_and_reachability():
    store = RunStore("/r", "r")
    store.note_read({"/r/a_.log": 10.0, "/r/b_.log": 30.0}, when=40.0)
    snap = store.snapshot()
    assert (snap.last_write_time, snap.read_time, snap.unreachable_since) == (30.0, 40.0, None)
    store.set_unreachable("host down", when=50.0)
    store.set_unreachable("host down", when=60.0)  # still the first time
    assert store.snapshot().unreachable_since == 50.0 and store.snapshot().notices == ("host down",)
    store.note_read({"/r/a_.log": 10.0, "/r/b_.log": 31.0}, when=70.0)
    snap = store.snapshot()
    assert snap.unreachable_since is None and snap.last_write_time == 31.0


def test_merge_input_is_the_scan_arrays_own_corner_or_a_copy():
    """The merge reads a chunk's values from the scan's own array when the chunk is its top-left corner (no
    copy) and from a C-contiguous copy otherwise, never from a bigger or transposed array."""
    from radiodash.store import _c_corner

    full = np.zeros((6, 10))  # owns its memory, as a scan's arrays do
    full[:] = np.arange(60).reshape(6, 10)
    corner = full[:4, :7]
    assert _c_corner(corner) is full
    column = np.zeros((6, 1))
    column[:, 0] = np.arange(6)
    one_row = column.T  # (1, 6) with the same strides as its (6, 1) base: a fancy index's result can be this
    assert one_row.strides == column.strides
    got = _c_corner(one_row)
    assert got.shape == (1, 6) and got.flags.c_contiguous and got.tolist() == [list(range(6))]
    inner = full[1:3, 2:5]  # not a corner: copied
    assert _c_corner(inner).tolist() == inner.tolist() and _c_corner(inner).base is not full
