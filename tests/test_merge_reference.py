"""The store's merge of step lines into records, checked against a per-line reference.

Hypothesis writes one launch of `[Train Step]` lines (an optional config header first, other and
blank lines among them): steps that mostly go up, often logged on two or three lines in a row
(gradient accumulation, docs/log-format.md §4.3), each line with a random subset of a few keys in
random order, values as `'{:.5f}'` prints them, `-0.00000`, `nan`, `inf` and `-inf` among them, and
sometimes a timestamp missing or a step going back. The file is appended in pieces cut at arbitrary
bytes (mid-line included), with `Run.refresh()` after each piece — or read in one go.

The reference below is deliberately naive and uses no radiodash code: one pass over the lines,
a step line equal in step to the previous step line extends that record (a key on both takes the
later line's value, the record keeps its first line's time and line number), any other step line
starts a new record. It is compared with `Snapshot.raw`, whose contract is "every complete step line
lands in exactly one record" (`frame` is the stitched view, §9.4: it is checked too, against the
reference records de-duplicated by step, the later record winning).
"""
from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from radiodash.run import Run, open_run

KEYS = ["train/total_loss", "train/rec_loss", "lr", "train/disc_loss", "loss_simple", "train/g_loss"]
HEADER = ("2025-05-01 11:59:59,000 {'model': {'lossconfig': {'disc_start': 50001}}, "
          "'trainer': {'gradient_accumulate_every': 2, 'train_num_steps': 50000}}")
OTHER_LINES = ["", "   ", "UserWarning: the lr scheduler was stepped before the optimizer"]
BASE = datetime(2025, 5, 1, 12, 0, 0)
TOTAL = 50_000


def _five_decimals(mantissa: int) -> str:
    """'{:.5f}' of mantissa / 1e5, written out from the integer (no float rounding involved)."""
    sign = "-" if mantissa < 0 else ""
    m = abs(mantissa)
    return f"{sign}{m // 100_000}.{m % 100_000:05d}"


# Values are drawn from a fixed pool (one cheap draw each: a fresh integer per value doubled the
# generation time): simple ones first, so a shrunk example reads well; the non-finite ones and -0; then
# 1 to 17 digits of either sign — up to 15 digits the compiled scanner reads them, longer ones the Python parser.
_rng = random.Random(2025)
VALUES = ["1.00000", "2.00000", "3.00000", "0.50000", "nan", "inf", "-inf", "-0.00000", "0.00000",
          *(_five_decimals(_rng.choice([-1, 1]) * _rng.randrange(10 ** (n - 1), 10**n)) for n in range(1, 18)
            for _ in range(2))]


@dataclass
class Case:
    """A generated log: its physical lines, and per step line (line number, step, time, fields)."""

    lines: list[str]
    steps: list[tuple[int, int, datetime | None, list[tuple[str, str]]]]  # (line no, step, time, [(key, text)])

    @property
    def data(self) -> bytes:
        return "".join(x + "\n" for x in self.lines).encode()


def _permutation(keys: list[str], n: int) -> list[str]:
    """The n-th ordering of `keys` (0: as given)."""
    rest, out = list(keys), []
    while rest:
        n, i = divmod(n, len(rest))
        out.append(rest.pop(i))
    return out


@st.composite
def cases(draw) -> Case:
    """One launch (see the module docstring). Each draw is one integer or one choice: it keeps generation cheap."""
    lines: list[str] = []
    steps = []
    if draw(st.booleans()):
        lines.append(HEADER)
    step = draw(st.integers(0, 1_000))
    ms = 0
    for _ in range(draw(st.integers(0, 6))):  # runs of lines of one step
        for _ in range(draw(st.sampled_from([1, 2, 2, 2, 3]))):  # 2: gradient accumulation
            other = draw(st.integers(0, 9 + len(OTHER_LINES)))  # now and then a line that is no step line
            if other >= 10:
                lines.append(OTHER_LINES[other - 10])
            gap = draw(st.integers(-500, 5_000))  # ms since the line before; below 0: this line has no timestamp
            ms += max(gap, 0)
            when = BASE + timedelta(milliseconds=ms) if gap >= 0 else None
            mask = draw(st.integers(0, 2 ** len(KEYS) - 1))  # which keys, in which order
            order = _permutation(KEYS, draw(st.integers(0, math.factorial(len(KEYS)) - 1)))
            fields = [(k, draw(st.sampled_from(VALUES))) for k in order if mask >> KEYS.index(k) & 1]
            stamp = when.strftime("%Y-%m-%d %H:%M:%S,") + f"{when.microsecond // 1000:03d} " if when else ""
            lines.append(f"{stamp}[Train Step] {step}/{TOTAL}: " + "".join(f"{k}: {v}, " for k, v in fields))
            steps.append((len(lines), step, when, fields))
        # the next step: mostly up; now and then back, so a step is met again later but not on the next line
        step = max(0, step + draw(st.sampled_from([100, 100, 100, 100, 1, 37, 100, 100, 100, -1, -100, -250])))
    return Case(lines, steps)


# ---------------------------------------------------------------------------- the reference


@dataclass
class Record:
    step: int
    time: datetime | None
    line: int
    values: dict[str, float] = field(default_factory=dict)


def reference_records(case: Case) -> tuple[list[Record], list[str]]:
    """Records, line by line, and the metric columns in order of first appearance."""
    records: list[Record] = []
    columns: list[str] = []
    for line, step, when, fields in case.steps:
        if not records or records[-1].step != step:
            records.append(Record(step, when, line))
        for key, text in fields:
            records[-1].values[key] = float(text)  # the later line wins
            if key not in columns:
                columns.append(key)
    return records, columns


def reference_stitched(records: list[Record]) -> list[Record]:
    """One launch's view: one record per step, in step order; a step met again keeps its later record."""
    by_step: dict[int, Record] = {}
    for r in records:
        by_step[r.step] = r
    return [by_step[s] for s in sorted(by_step)]


def reference_nonfinite(case: Case) -> list[tuple[int, str, str, int]]:
    """Every nan/inf cell of every step line: (step, metric, value, line)."""
    out = [(step, key, text, line) for line, step, _, fields in case.steps
           for key, text in fields if text in ("nan", "inf", "-inf")]
    return sorted(out, key=lambda t: (t[3], t[1]))


# ---------------------------------------------------------------------------- the comparison


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def assert_table(table: pd.DataFrame, lines: np.ndarray, expected: list[Record], columns: list[str], what: str):
    assert list(table.columns[:4]) == ["step", "time", "segment", "file"], what
    assert list(table.columns[4:]) == columns, f"{what}: metric columns, in order of first appearance"
    cols = {c: table[c].to_numpy() for c in table.columns if c != "file"}
    assert cols["step"].tolist() == [r.step for r in expected], what
    assert lines.tolist() == [r.line for r in expected], f"{what}: a record's line is its first line's"
    times = [None if np.isnat(t) else t.astype(datetime) for t in cols["time"].astype("datetime64[ms]")]
    for i, r in enumerate(expected):
        assert times[i] == r.time, \
            f"{what}: record {i} (step {r.step}) time {times[i]!r}, expected {r.time!r} (its first line's)"
    assert set(cols["segment"].tolist()) <= {0}, what
    for key in columns:
        got = cols[key].tolist()
        want = [r.values.get(key, math.nan) for r in expected]
        bad = [(i, expected[i].step, g, w) for i, (g, w) in enumerate(zip(got, want)) if not _same(g, w)]
        assert not bad, f"{what}: column {key!r}, (record, step, store, reference): {bad[:5]}"


def check(snap, case: Case) -> None:
    records, columns = reference_records(case)
    assert_table(snap.raw, snap.raw_lines, records, columns, "raw")
    stitched = reference_stitched(records)
    if snap.frame is not snap.raw:  # (the store hands out raw itself when no step repeats: nothing to stitch)
        assert_table(snap.frame, snap.lines, stitched, columns, "frame")
    else:
        assert stitched == records, "frame is raw, but some step occurs twice"
    if case.steps:
        assert len(snap.segments) == 1 and snap.segments[0].records == len(records)
    nf = snap.nonfinite
    got = sorted(zip(nf["step"].tolist(), nf["metric"].tolist(), nf["value"].tolist(), nf["line"].tolist()),
                 key=lambda t: (t[3], t[1]))
    assert got == reference_nonfinite(case)
    assert snap.problem_count == 0, snap.problems[:3]


# ---------------------------------------------------------------------------- the properties


@pytest.fixture(scope="module")
def new_log(tmp_path_factory):
    """A fresh, empty path per example (one folder for the module: hypothesis runs many examples per test)."""
    folder, names = tmp_path_factory.mktemp("merge"), itertools.count()
    return lambda: folder / f"{next(names)}.log"


@given(case=cases(), cuts=st.lists(st.integers(0, 1 << 20), max_size=8))
def test_appended_in_random_pieces_the_records_match_the_line_by_line_reference(new_log, case, cuts):
    data = case.data
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    log = new_log()
    log.write_bytes(b"")
    run = Run(log)
    for a, b in zip(bounds, bounds[1:]):
        if b > a:
            with open(log, "ab") as f:
                f.write(data[a:b])
            run.refresh()
    snap = run.snapshot()
    run.close()
    log.unlink()
    assert snap.lines_read == len(case.lines)
    check(snap, case)


@given(case=cases())
def test_read_at_once_the_records_match_the_line_by_line_reference(new_log, case):
    log = new_log()
    log.write_bytes(case.data)
    run = open_run(log)
    snap = run.snapshot()
    run.close()
    log.unlink()
    assert snap.lines_read == len(case.lines)
    check(snap, case)
