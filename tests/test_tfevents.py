"""The event-file decoder and the per-step table.

- Chunking: a file cut at any bytes and fed in pieces decodes to the one-shot result.
- Damage: random bytes never raise; a damaged file loses no intact record before or after the
  damage and invents none; notices say where and why.
- The compiled kernel equals the Python reference path (framing in Python, CRC32C from
  tensorboardX, every payload through protobuf) on valid, odd and damaged input.
- Independent reader: tensorboard's EventAccumulator (size guidance 0: every point) reads the
  simulator's files to the same steps, values and wall times, and the stitched table equals
  EA's points stitched by the same rule.
"""
from __future__ import annotations

import functools
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tensorboardX.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

from radiodash.simulate import SimConfig, _record, render
from radiodash.tfevents import EventDecoder, EventTable, concat, decode, event_file_time, is_event_file
from radiodash.tfevents.table import launch_order

# ----------------------------------------------------------------------------- helpers


def scalar(step: int, tag: str, value: float, wall: float = 1.7e9) -> bytes:
    return _record(event_pb2.Event(wall_time=wall, step=step, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])).SerializeToString())


VERSION = _record(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())


def rows(chunk) -> list[tuple[int, float, str, float]]:
    """(step, wall_time, tag, value) per value; NaN compared as equal through its repr."""
    return [(int(s), float(w), chunk.tags[t], v if v == v else "nan")
            for s, w, t, v in zip(chunk.step, chunk.wall_time, chunk.tag, chunk.value.tolist())]


def same(a, b) -> None:
    assert rows(a) == rows(b)
    assert a.notices == b.notices
    assert (a.records, a.file_version, a.skipped_values, a.end_offset) == (b.records, b.file_version,
                                                                             b.skipped_values, b.end_offset)


def feed_pieces(data: bytes, cuts: list[int], *, compiled: bool = True, finish: bool = True):
    dec = EventDecoder(compiled=compiled)
    bounds = [0, *sorted(cuts), len(data)]
    chunks = [dec.feed(data[a:b]) for a, b in zip(bounds, bounds[1:])]
    if finish:
        chunks.append(dec.finish())
    return concat(chunks)


@functools.lru_cache(maxsize=None)
def sim_files(kind: str) -> tuple[tuple[str, bytes], ...]:
    """Event files of small simulated runs (cached: rendering takes a moment)."""
    cfgs = {
        "vae-crash": dict(grad_accum=2, resume_at=170, stop_step=280, flush_secs=10),
        "ldm-live": dict(stage="diffusion", lr=2e-5, stop_step=250, flush_secs=15, nan_step=200),
        "vae-accum1": dict(grad_accum=1),
    }
    cfg = SimConfig(train_num_steps=300, log_freq=50, save_and_sample_every=100, disc_start=101, events=True,
                    event_buffer_bytes=512, **cfgs[kind])
    files, truth = render(cfg)
    return tuple((n, files[n]) for n in truth.event_files)


SIM_KINDS = ("vae-crash", "ldm-live", "vae-accum1")

# ----------------------------------------------------------------------------- chunking


@given(kind=st.sampled_from(SIM_KINDS), data=st.data())
def test_chunked_feed_equals_one_shot(kind, data):
    chunked, one_shot = EventTable(), EventTable()
    for name, content in sim_files(kind):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(content)), max_size=25)))
        dec = EventDecoder()
        pieces = [dec.feed(content[a:b]) for a, b in zip([0, *cuts], [*cuts, len(content)])] + [dec.finish()]
        for piece in pieces:  # the table takes the chunks as they come
            chunked.apply(name, piece)
        same(concat(pieces), decode(content))
        one_shot.apply(name, decode(content))
        # without finish: an incomplete last record waits, and what is decoded is a prefix of the whole
        prefix = data.draw(st.integers(0, len(content)))
        dec = EventDecoder()
        part = dec.feed(content[:prefix])
        whole = decode(content)
        n = len(part)
        assert rows(part) == rows(whole)[:n] and part.notices == []
        assert dec.offset + dec.pending_bytes == prefix
        rest = dec.feed(content[prefix:])
        assert rows(part) + rows(rest) == rows(dec_feed_all(content))
    assert chunked.frame().equals(one_shot.frame())


def dec_feed_all(content: bytes):
    return EventDecoder().feed(content)


def test_an_incomplete_last_record_waits_and_is_reported_only_at_finish():
    data = VERSION + scalar(1, "a", 1.0) + scalar(2, "a", 2.0)
    cut = len(data) - 7
    dec = EventDecoder()
    first = dec.feed(data[:cut])
    assert rows(first) == [(1, 1.7e9, "a", 1.0)] and first.notices == [] and dec.pending_bytes == len(scalar(2, "a", 2.0)) - 7
    assert dec.damaged_since is None and first.end_offset == len(VERSION) + len(scalar(1, "a", 1.0))
    second = dec.feed(data[cut:])
    assert rows(second) == [(2, 1.7e9, "a", 2.0)] and dec.pending_bytes == 0
    # a crashed run's file ends inside a record: at finish that is one notice, nothing raises
    dec = EventDecoder()
    dec.feed(data[:cut])
    end = dec.finish()
    assert [n.text for n in end.notices] == [f"bytes {cut - len(scalar(2, 'a', 2.0)) + 7:,}–{cut:,} skipped: "
                                             "the file ends inside a record"]


# ----------------------------------------------------------------------------- damage


def test_notices_locate_each_kind_of_damage():
    good = [VERSION, scalar(0, "loss", 1.5), scalar(1, "loss", 2.5), scalar(2, "loss", 3.5)]
    starts = np.cumsum([0] + [len(r) for r in good]).tolist()
    # bad length CRC
    bad = bytearray(b"".join(good))
    bad[starts[1] + 9] ^= 0xFF
    out = decode(bytes(bad))
    assert [n.text for n in out.notices] == [f"bytes {starts[1]}–{starts[2]} skipped: the record length fails its CRC"]
    assert [r[0] for r in rows(out)] == [1, 2]
    # bad payload CRC
    bad = bytearray(b"".join(good))
    bad[starts[2] + 14] ^= 0x01
    out = decode(bytes(bad))
    assert [(n.offset, n.end, n.problem) for n in out.notices] == [(starts[2], starts[3], "the record payload fails its CRC")]
    assert [r[0] for r in rows(out)] == [0, 2]
    # an absurd length whose CRC matches (a writer bug, or 2**40 bytes of record)
    from tensorboardX.record_writer import masked_crc32c

    header = struct.pack("<Q", 2**40)
    absurd = header + struct.pack("<I", masked_crc32c(header)) + b"\x00" * 20
    out = decode(good[0] + absurd + good[1])
    assert [n.problem for n in out.notices] == ["the record length exceeds 67,108,864 bytes"]
    assert [r[0] for r in rows(out)] == [0]
    # intact framing around a payload that is no Event
    junk = _record(b"\xff\xff\xff")
    out = decode(good[1] + junk + good[2])
    assert [(n.offset, n.end) for n in out.notices] == [(len(good[1]), len(good[1]) + len(junk))]
    assert out.notices[0].problem.startswith("the record is no Event protobuf")
    assert [r[0] for r in rows(out)] == [0, 1] and out.records == 2
    # garbage before the first record, and a damaged range still open while bytes are missing
    dec = EventDecoder()
    chunk = dec.feed(b"\x00garbage" + good[1][:5])
    assert chunk.notices == [] and dec.damaged_since == 0 and len(chunk) == 0
    chunk = dec.feed(good[1][5:] + good[2])
    assert [(n.offset, n.end) for n in chunk.notices] == [(0, 8)] and [r[0] for r in rows(chunk)] == [0, 1]


@given(st.binary(max_size=3_000), st.lists(st.integers(0, 3_000), max_size=8))
def test_random_bytes_never_raise_and_both_paths_agree(data, cuts):
    cuts = [c for c in cuts if c <= len(data)]
    a = feed_pieces(data, cuts)
    same(a, decode(data))
    same(a, decode(data, compiled=False))
    if data:
        assert a.notices and a.notices[0].offset == 0 and a.notices[-1].end == len(data)


def _spans(records: list[bytes]) -> list[tuple[int, int]]:
    ends = np.cumsum([len(r) for r in records])
    return list(zip((ends - [len(r) for r in records]).tolist(), ends.tolist()))


@pytest.mark.slow
@given(kind=st.sampled_from(SIM_KINDS), data=st.data())
def test_damage_loses_no_intact_record_and_invents_none(kind, data):
    # one simulated file, re-framed record by record so that every record's span is known
    name, content = sim_files(kind)[0]
    whole = decode(content)
    records = [scalar(int(s), whole.tags[t], v, float(w)) for s, w, t, v  # one value each: each is recognisable
               in zip(whole.step[:400], whole.wall_time[:400], whole.tag[:400], whole.value[:400])]
    clean = b"".join(records)
    spans = _spans(records)
    how = data.draw(st.sampled_from(["flip", "insert", "delete"]))
    a = data.draw(st.integers(0, len(clean) - (how != "insert")))
    if how == "flip":
        b = min(len(clean), a + data.draw(st.integers(1, 200)))
        mask = data.draw(st.binary(min_size=b - a, max_size=b - a).filter(lambda m: any(m)))
        damaged = clean[:a] + bytes(x ^ y for x, y in zip(clean[a:b], mask)) + clean[b:]
    elif how == "insert":
        b = a
        damaged = clean[:a] + data.draw(st.binary(min_size=1, max_size=200)) + clean[a:]
    else:
        b = min(len(clean), a + data.draw(st.integers(1, 200)))
        damaged = clean[:a] + clean[b:]
    # intact: records that lie wholly before the damage or wholly after it
    intact = {i for i, (s, e) in enumerate(spans) if e <= a or s >= b}
    # damaged: partly changed (a record deleted whole is simply gone, and leaves nothing to report)
    touched = [i for i, (s, e) in enumerate(spans) if i not in intact and not (how == "delete" and a <= s and e <= b)]
    cuts = data.draw(st.lists(st.integers(0, len(damaged)), max_size=6))
    got = rows(feed_pieces(damaged, cuts))
    # every intact record is decoded, in order, and nothing else but records of the file: a record the
    # damage touched may survive only when the change is equivalent to one outside it (a byte inserted
    # next to an equal byte, bytes deleted next to equal ones)
    per_record = [rows(decode(r)) for r in records]
    k, kept_bytes = 0, 0
    for i, want in enumerate(per_record):
        if got[k:k + len(want)] == want and (i in intact or how != "flip"):
            k += len(want)
            kept_bytes += len(records[i])
        else:
            assert i not in intact, f"intact record {i} lost"
    assert k == len(got), "decoded values that are no record of the file"
    # bytes that are no intact record are reported (and only then)
    notices = feed_pieces(damaged, []).notices
    assert bool(notices) == (kept_bytes < len(damaged))
    assert sum(n.end - n.offset for n in notices) == len(damaged) - kept_bytes
    assert touched or how == "insert" or kept_bytes == len(damaged)
    same(feed_pieces(damaged, cuts), decode(damaged, compiled=False))  # the kernel agrees with the reference path


# ----------------------------------------------------------------------------- kernel vs reference


def _tensor_value(tag: str, value: float, kind: str) -> summary_pb2.Summary.Value:
    t = tensor_pb2.TensorProto(tensor_shape=tensor_shape_pb2.TensorShapeProto())
    if kind == "float_val":
        t.dtype, t.float_val[:] = types_pb2.DT_FLOAT, [value]
    elif kind == "double_content":
        t.dtype, t.tensor_content = types_pb2.DT_DOUBLE, struct.pack("<d", value)
    elif kind == "float_content":
        t.dtype, t.tensor_content = types_pb2.DT_FLOAT, struct.pack("<f", value)
    else:
        t.dtype, t.half_val[:] = types_pb2.DT_HALF, [int(np.array(value, np.float16).view(np.uint16))]
    v = summary_pb2.Summary.Value(tag=tag, tensor=t)
    v.metadata.plugin_data.plugin_name = "scalars"
    return v


TAGS = st.sampled_from(["loss", "Learning_Rate", "gradients/conv1", "débug/ü✓", "", "a" * 70])
FLOATS = st.floats(width=32, allow_nan=True, allow_infinity=True)


@st.composite
def odd_records(draw) -> bytes:
    """Valid records of every shape a SummaryWriter (or a fork, or TF2) may write, and some it may not."""
    kind = draw(st.sampled_from(["scalar", "multi", "tensor", "histo", "version", "unknown", "empty", "raw",
                                 "twice", "two summaries"]))
    step = draw(st.one_of(st.integers(0, 10**6), st.integers(-2**63, 2**63 - 1)))
    wall = draw(st.floats(allow_nan=False, allow_infinity=False, width=64))
    if kind == "raw":
        return _record(draw(st.binary(max_size=60)))
    event = event_pb2.Event(wall_time=wall, step=step)
    if kind == "version":
        event.file_version = "brain.Event:2"
    elif kind == "scalar":
        event.summary.value.add(tag=draw(TAGS), simple_value=draw(FLOATS))
    elif kind == "multi":
        for _ in range(draw(st.integers(0, 4))):
            event.summary.value.add(tag=draw(TAGS), simple_value=draw(FLOATS))
    elif kind == "tensor":
        kind_t = draw(st.sampled_from(["float_val", "double_content", "float_content", "half_val"]))
        event.summary.value.append(_tensor_value(draw(TAGS), draw(st.floats(-1e4, 1e4, width=16)), kind_t))
    elif kind == "histo":
        event.summary.value.add(tag="h").histo.num = 3
    payload = event.SerializeToString()
    if kind == "unknown":  # a field this Event does not have: protobuf keeps it as unknown
        payload = scalar_payload(draw(TAGS), draw(FLOATS), step) + b"\xf8\x01\x05"
    elif kind == "twice":  # a repeated scalar field: the last one counts
        payload = scalar_payload(draw(TAGS), draw(FLOATS), step) + b"\x10\x07"
    elif kind == "two summaries":  # a message field twice: protobuf merges them (the values add up)
        second = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=draw(TAGS), simple_value=draw(FLOATS))])
        payload = scalar_payload(draw(TAGS), draw(FLOATS), step) + event_pb2.Event(summary=second).SerializeToString()
    return _record(payload)


def scalar_payload(tag: str, value: float, step: int) -> bytes:
    return event_pb2.Event(wall_time=1.0, step=step, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])).SerializeToString()


@given(st.lists(st.tuples(odd_records(), st.binary(max_size=6)), max_size=25),
       st.lists(st.integers(0, 5_000), max_size=6))
def test_kernel_equals_reference_path_on_odd_records(items, cuts):
    # every record twice: the second time its tags are known, so the kernel takes what it can
    data = b"".join(rec + junk for rec, junk in items) + b"".join(rec for rec, _ in items)
    cuts = [c for c in cuts if c <= len(data)]
    fast = feed_pieces(data, cuts)
    same(fast, decode(data, compiled=False))
    same(fast, decode(data))


def test_tensor_scalars_and_non_scalars():
    recs = [_record(event_pb2.Event(step=3, summary=summary_pb2.Summary(value=[
        _tensor_value("lr", 0.25, "float_val"), _tensor_value("d", 1.5, "double_content"),
        _tensor_value("h", 0.5, "half_val")])).SerializeToString())]
    histo = event_pb2.Event(step=4)
    histo.summary.value.add(tag="weights").histo.num = 10
    recs.append(_record(histo.SerializeToString()))
    out = decode(b"".join(recs))
    assert rows(out) == [(3, 0.0, "lr", 0.25), (3, 0.0, "d", 1.5), (3, 0.0, "h", 0.5)]
    assert out.skipped_values == 1 and out.records == 2


def test_float32_values_are_widened_exactly():
    values = [0.1, 1e-7, 3.4e38, -0.0, float("inf"), 2.460272789]
    out = decode(b"".join(scalar(i, "x", v) for i, v in enumerate(values)))
    assert out.value.tolist()[:4] == [float(np.float32(v)) for v in values[:4]]
    assert np.signbit(out.value[3]) and out.value[4] == np.inf
    assert out.value[5] == float(np.float32(2.460272789)) and f"{out.value[5]:.5f}" == "2.46027"


# ----------------------------------------------------------------------------- table


def chunk_of(*records: bytes):
    return decode(b"".join(records))


def test_table_stitches_launches_like_the_log():
    a = "events.out.tfevents.1700000000.host.1.0"
    b = "events.out.tfevents.1700000900.host.2.0"
    only_version = "events.out.tfevents.1700001800.host.3.0"
    table = EventTable()
    table.apply(b, chunk_of(VERSION, scalar(5, "loss", 50.0, 2e9), scalar(6, "loss", 60.0, 2e9),
                            scalar(6, "lr", 0.5, 2e9 + 1)))
    table.apply(a, chunk_of(VERSION, *[scalar(s, "loss", float(s), 1e9 + s) for s in range(9)],
                            scalar(2, "loss", 22.0, 1e9 + 20)))  # a re-written step: the later record wins
    table.apply(only_version, chunk_of(VERSION))
    assert table.files == [a, b, only_version] and table.tags == ["loss", "lr"]
    f = table.frame()
    assert f.columns.tolist() == ["step", "wall_time", "loss", "lr"]
    assert f.step.tolist() == [0, 1, 2, 3, 4, 5, 6]  # launch b wins from its first step (5) on
    assert f.loss.tolist() == [0.0, 1.0, 22.0, 3.0, 4.0, 50.0, 60.0]
    assert np.isnan(f.lr[:6]).all() and f.lr[6] == 0.5
    assert f.wall_time.tolist() == [1e9, 1e9 + 1, 1e9 + 20, 1e9 + 3, 1e9 + 4, 2e9, 2e9 + 1]
    table.forget(b)
    assert table.frame().step.tolist() == list(range(9))


def test_table_applies_chunks_in_any_order_of_steps():
    name = "events.out.tfevents.1700000000.h.1.0"
    table = EventTable()
    dec = EventDecoder()
    data = b"".join([VERSION, scalar(10, "x", 1.0), scalar(12, "x", 2.0), scalar(11, "y", 3.0), scalar(3, "x", 4.0),
                     scalar(12, "x", 5.0)])
    for i in range(0, len(data), 37):
        table.apply(name, dec.feed(data[i:i + 37]))
    f = table.frame()
    assert f.step.tolist() == [3, 10, 11, 12]
    assert f.x.tolist()[:2] == [4.0, 1.0] and np.isnan(f.x[2]) and f.x[3] == 5.0
    assert np.isnan(f.y[[0, 1, 3]]).all() and f.y[2] == 3.0


def test_names():
    assert is_event_file("events.out.tfevents.1755290463.gpu-3.12345.0")
    assert not is_event_file("events.out.tfevents.") and not is_event_file("2025-08-15-20-41_.log")
    assert event_file_time("events.out.tfevents.1755290463.gpu-3.12345.0") == 1755290463
    assert event_file_time("events.out.tfevents.x.h") is None
    assert launch_order(["events.out.tfevents.20.h.1.0", "events.out.tfevents.x", "events.out.tfevents.3.h.1.0"]) == [
        "events.out.tfevents.3.h.1.0", "events.out.tfevents.20.h.1.0", "events.out.tfevents.x"]
    t = EventTable()
    t.apply("events.out.tfevents.1.h.1.0", chunk_of(scalar(0, "step", 1.0)))
    assert t.frame().columns.tolist() == ["step", "wall_time", "step (tag)"]


# ----------------------------------------------------------------------------- EventAccumulator


def _accumulator(path):
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    ea = EventAccumulator(str(path), size_guidance={SCALARS: 0})
    ea.Reload()
    return ea


@pytest.mark.slow
@pytest.mark.parametrize("launches", [1, 2])
@pytest.mark.parametrize("accum", [1, 2])
@pytest.mark.parametrize("stage", ["vae", "diffusion"])
def test_equal_to_tensorboards_event_accumulator(tmp_path, launches, accum, stage):
    cfg = SimConfig(stage=stage, lr=5e-6 if stage == "vae" else 2e-5, train_num_steps=1_500, log_freq=100,
                    save_and_sample_every=500, disc_start=701, grad_accum=accum, events=True, flush_secs=40,
                    resume_at=1_100 if launches == 2 else None, nan_step=1_400, spike_steps=(1_234,))
    files, truth = render(cfg)
    assert len(truth.event_files) == launches
    table = EventTable()
    expected: dict[int, dict[str, float]] = {}
    expected_wall: dict[int, float] = {}
    for name in truth.event_files:
        (tmp_path / name).write_bytes(files[name])
        ea = _accumulator(tmp_path / name)
        dec = EventDecoder()
        ours = concat([dec.feed(files[name]), dec.finish()])
        table.apply(name, ours)
        assert sorted(ea.Tags()["scalars"]) == sorted(ours.tags) == sorted(truth.event_tags)
        file_rows: dict[int, dict[str, float]] = {}
        file_wall: dict[int, float] = {}
        for tid, tag in enumerate(ours.tags):
            points = ea.Scalars(tag)
            mine = ours.tag == tid
            assert [p.step for p in points] == ours.step[mine].tolist()
            assert np.array_equal([p.value for p in points], ours.value[mine], equal_nan=True)
            assert [p.wall_time for p in points] == ours.wall_time[mine].tolist()
            for p in points:
                file_rows.setdefault(p.step, {})[tag] = p.value
                file_wall[p.step] = max(file_wall.get(p.step, -np.inf), p.wall_time)
        # the same stitching rule on EA's points: this launch replaces every earlier step from its first on
        if file_rows:
            first = min(file_rows)
            expected = {s: v for s, v in expected.items() if s < first} | file_rows
            expected_wall = {s: w for s, w in expected_wall.items() if s < first} | file_wall
    frame = table.frame()
    assert frame.step.tolist() == sorted(expected) == truth.event_steps
    assert frame.wall_time.tolist() == [expected_wall[s] for s in sorted(expected)]
    for tag in truth.event_tags:
        want = [expected[s].get(tag, np.nan) for s in sorted(expected)]
        assert np.array_equal(frame[tag].to_numpy(), want, equal_nan=True), tag
    assert np.isnan(frame.set_index("step").loc[1_400:, "total_loss"]).all()
