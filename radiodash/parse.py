"""Lines → records: what each line of a RadioDiff log means (docs/log-format.md).

Pure functions and a small state object, no I/O. The regular step lines, which are
almost all of a log, go through the compiled scanner in `_scan.py`; everything else
(config headers, console/tqdm redraws, resume messages, damaged lines, garbage) is
decided here, line by line, by `parse_line` — which is also the reference the scanner
is tested against.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _scan
from .model import Problem
from .radiodiff import CONFIG_GROUPS

TRAIN, VAL = _scan.TRAIN, _scan.VAL

_TS = rb"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
_TS_RE = re.compile(_TS)
_STEP_RE = re.compile(rb"^(?:" + _TS + rb")?\[(Train|Val) Step\] (\d+)/(\d+): (.*)$", re.S)
_STEP_ANY = re.compile(rb"\[(?:Train|Val) Step\] ")
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_/.\-]*$")
# what '{:.5f}' prints (and an exponent, which a fork may print): never Python's '1_000' or ' 1'
_NUMBER_RE = re.compile(rb"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)", re.I)
# a step message starting inside a line: a cut-off line continued by the next one
_STEP_START = re.compile(rb"(?:" + _TS + rb")?\[(?:Train|Val) Step\] ")
_REDRAW_RE = re.compile(rb":\s*\d+%\|")  # tqdm's "desc:  23%|██▎   | 35112/150000 [...]"
_YAML_TOP = re.compile(r"^([A-Za-z_][\w\-]*):\s*$")
_YAML_LINE = re.compile(r"^( *)([A-Za-z_][\w\-./]*):(?: (.*))?$")
_RESUME_RES = (
    re.compile(r"resumed training from milestone (\d+) at step (\d+)", re.I),
    re.compile(r"resumed from \S*?model-(\d+)\.pt at step (\d+)", re.I),
)
_COMPLETE_RE = re.compile(r"training complete", re.I)
_CRASH_RE = re.compile(r"^Traceback \(most recent call last\)")
MAX_EXAMPLES = 5
MAX_PROBLEMS_KEPT = 200
_NONFINITE = {_scan.NF_NAN: "nan", _scan.NF_INF: "inf", _scan.NF_NINF: "-inf"}


def ms_of_timestamp(ts: bytes | str) -> int:
    """Epoch milliseconds (naive local time, as logged) of `YYYY-MM-DD HH:MM:SS,mmm`; -1 if no real date."""
    text = ts.decode() if isinstance(ts, bytes) else ts
    try:
        return int(np.datetime64(text.replace(" ", "T").replace(",", "."), "ms").astype(np.int64))
    except ValueError:
        return -1


# ---------------------------------------------------------------------------- line level


@dataclass
class StepLine:
    """One step line as read: kind TRAIN or VAL, values by key (nan/inf included)."""

    kind: int
    step: int
    total: int
    time_ms: int  # -1 when the line has no timestamp
    values: dict[str, float]
    problem: str | None = None  # damaged but partly usable


@dataclass
class Header:
    """A launch's config header (one-line dict, or a multi-line YAML-like block)."""

    line: int
    time_ms: int
    config: dict[str, Any] | None
    text: list[str] = field(default_factory=list)  # block lines, kept while the block may grow
    problem: str | None = None


@dataclass
class Marker:
    """A non-step line that says something about the launch: resume, completion, crash."""

    line: int
    kind: str  # "resume" | "complete" | "crash"
    milestone: int | None = None
    step: int | None = None


def _split_message(text: bytes) -> tuple[int, bytes]:
    m = _TS_RE.match(text)
    if m:
        return ms_of_timestamp(m.group(1)), text[m.end():]
    return -1, text


def parse_step(piece: bytes) -> StepLine | None | str:
    """Parse one step message (no newline, no \\r). None: not a step line; str: why it is damaged."""
    m = _STEP_RE.match(piece)
    if not m:
        return None
    ts, kind, step, total, body = m.groups()
    values: dict[str, float] = {}
    bad: list[str] = []
    time_ms = ms_of_timestamp(ts) if ts else -1
    if ts and time_ms < 0:
        bad.append(f"timestamp {ts.decode()!r} is not a real date and time; time left unknown")
    parts = body.split(b", ")
    tail = parts.pop()  # b"" on a complete line ("…, lr: 0.00000, ")
    if tail:
        bad.append("line ends without ', ' (cut short?); its last field was not used")
    for part in parts:
        key, sep, val = part.partition(b": ")
        name = key.decode("utf-8", "replace")
        if not sep or not _KEY_RE.match(name):
            bad.append(f"field {part[:40]!r} is not 'key: value'")
            continue
        if _NUMBER_RE.fullmatch(val):
            values[name] = float(val)
        else:
            bad.append(f"value of {name!r} is not a number ({val[:20]!r})")
    return StepLine(
        kind=TRAIN if kind == b"Train" else VAL,
        step=int(step),
        total=int(total),
        time_ms=time_ms,
        values=values,
        problem="; ".join(bad) or None,
    )


def step_pieces(line: bytes) -> list[bytes]:
    """Split a physical line into step messages, dropping tqdm redraws.

    A console capture holds `\\r`-separated progress redraws that repeat the previous
    step message, and the next step message starts right after the last redraw. A log line
    cut short (a full disk) is continued by the next one: a timestamp and a step tag in the
    middle of a line start a message of their own.
    """
    out: list[bytes] = []
    for piece in line.split(b"\r"):
        starts = [m.start() for m in _STEP_START.finditer(piece)]
        if not starts:
            if piece.strip():
                out.append(piece)
            continue
        cuts = starts[1:] + [len(piece)]
        head = piece[: starts[0]]
        first = 0 if (not head.strip() or _TS_RE.fullmatch(head)) else starts[0]
        if first:
            out.append(head)
        for a, b in zip([first] + starts[1:], cuts):
            part = piece[a:b]
            if not _REDRAW_RE.search(part):
                out.append(part)
    return out


# ---------------------------------------------------------------------------- config


def literal(text: str) -> Any:
    """`ast.literal_eval` (never eval), safe to call from any thread.

    CPython 3.11's ast is not thread-safe (gh-106905): a follower thread reading a config header
    while Streamlit compiles a page can get "SystemError: AST constructor recursion depth
    mismatch". The input is not at fault, so it is read again (a few times, then it fails as such).
    """
    for attempt in range(3):
        try:
            return ast.literal_eval(text)
        except SystemError:
            if attempt == 2:
                raise ValueError("could not be read (a Python parser error)") from None
    return None  # not reached


def parse_dict_config(message: str) -> dict[str, Any] | None:
    """The one-line config: a Python dict repr, read with ast.literal_eval (never eval)."""
    try:
        value = literal(message.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _scalar(text: str) -> Any:
    text = text.strip()
    if text in ("", "~", "null"):
        return None
    try:
        return literal(text)  # numbers, None/True/False, Python-repr lists, quoted strings
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return text


def parse_block_config(lines: list[str]) -> dict[str, Any]:
    """The multi-line YAML-like block (2-space indent, Python-repr scalars)."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for raw in lines:
        m = _YAML_LINE.match(raw.rstrip())
        if not m:
            continue
        indent, key, value = len(m.group(1)), m.group(2), m.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else root
        if value is None or value.strip() == "":
            child: dict[str, Any] = {}
            parent[key] = child
            stack.append((indent, child))
        else:
            parent[key] = _scalar(value)
    return root


def stage_of(config: dict[str, Any] | None, keys: set[str] | None = None) -> str | None:
    """"vae" or "diffusion", from the config's shape or, failing that, the logged keys."""
    if config:
        model = config.get("model") if isinstance(config.get("model"), dict) else {}
        if "lossconfig" in model or "ddconfig" in model:
            return "vae"
        if "first_stage" in model or "unet" in model or "first_stage_config" in model:
            return "diffusion"
    if keys:
        if any(k.startswith("train/") for k in keys):
            return "vae"
        if "loss_simple" in keys:
            return "diffusion"
    return None


# ---------------------------------------------------------------------------- chunk level


@dataclass
class ParsedChunk:
    """Everything one chunk of complete lines says, in line order.

    Step lines are columnar: `kind`, `line` (1-based), `step`, `total`, `time_ms` and a
    key-major `values` matrix whose row j is the key `keys[j]` (NaN where a line lacks it).
    `events` are headers and markers with the index of the first step line after them,
    so the store can cut launches at the right place.
    """

    file: str
    kind: np.ndarray
    line: np.ndarray
    step: np.ndarray
    total: np.ndarray
    time_ms: np.ndarray
    values: np.ndarray
    present: np.ndarray
    keys: list[str]
    used: list[int]  # ids j of the keys present on at least one row (present[j].any())
    rank: dict[str, int]  # order of first appearance in the file (line, then place in line): column order
    nonfinite: list[tuple[int, str, str]]  # (row in this chunk, key, "nan"|"inf"|"-inf")
    events: list[tuple[int, Header | Marker]]
    header_updates: list[Header]  # a block header from an earlier chunk that grew
    problems: list[Problem]
    problem_count: int
    other_lines: int
    other_examples: list[str]
    lines: int
    nbytes: int  # of the lines this chunk covers


_SPARE_LINES = 4096  # a scan result's arrays kept for the next block up to this many lines (~0.5 MB)
_SUB = 64  # a physical line can hold several messages (tqdm \r redraws): order key = line*_SUB + piece


class Parser:
    """Turns chunks of complete lines into ParsedChunks; keeps what spans chunks.

    State across chunks: the interned key names (shared with the compiled scanner) and
    a YAML-like config block that may continue in the next chunk. One Parser per file.
    """

    def __init__(self, file: str, max_keys: int = 1024, max_key_bytes: int = 96,
                 parallel_bytes: int = _scan.PARALLEL_BYTES) -> None:
        self.file = file
        self.parallel_bytes = parallel_bytes  # blocks larger than this are scanned as two halves
        self.keys = _scan.KeyTable(max_keys, max_key_bytes)
        self._block: Header | None = None  # a multi-line config block that may still grow
        self._block_last = -1  # index (in the current chunk) of the block's last line
        self._rank: dict[str, int] = {}  # key -> order of first appearance, independent of chunking
        self._spare: _scan.ScanResult | None = None  # a small block's scan arrays, for the next (`feed_parts`)

    def reset(self) -> None:
        """The file was truncated or replaced: a block in progress is over."""
        self._block = None

    def feed(self, data: bytes | memoryview, first_line: int) -> ParsedChunk:
        """Parse `data` (complete lines) whose first line is line `first_line` of the file."""
        return self._feed_scanned(data, first_line, _scan.scan_block(data, self.keys))

    def feed_parts(self, data: bytes | memoryview, first_line: int, *, reuse: bool = False) -> list[ParsedChunk]:
        """Like `feed`, but a big block is scanned as two halves on two threads: one chunk per half.

        `reuse`: the caller is done with each chunk (the store copied it) before it feeds the next, so
        a small block's chunk may be built on the arrays of the last one (fresh arrays were ~10 % of a
        100-line live refresh on the ingest benchmark: allocation and cold memory).
        """
        view = memoryview(data)
        out = []
        parts = _scan.scan_parts(data, self.keys, self.parallel_bytes, self._spare if reuse else None)
        for start, end, res in parts:
            out.append(self._feed_scanned(view[start:end], first_line, res))
            first_line += res.n
        if reuse:
            res = parts[0][2]
            self._spare = res if len(parts) == 1 and res.capacity <= _SPARE_LINES else None
        return out

    def _feed_scanned(self, data: bytes | memoryview, first_line: int, res: "_scan.ScanResult") -> ParsedChunk:
        kind = res.kinds
        todo = () if res.steps_read == res.n else np.flatnonzero((kind == _scan.OTHER) | (kind == _scan.SLOW)).tolist()
        extra: list[tuple[int, StepLine]] = []
        events: list[tuple[int, Header | Marker]] = []
        updates: list[Header] = []
        log = _ChunkLog(self.file)
        block, block_last, carried = self._block, -1, self._block is not None
        for i in todo:
            lineno = first_line + i
            raw = bytes(data[res.starts[i]:res.ends[i]])
            if block is not None:
                crlf = kind[i] == _scan.SLOW and raw.endswith(b"\r") and raw.count(b"\r") == 1  # Windows line ends
                if i == block_last + 1 and (kind[i] == _scan.OTHER or crlf) and res.times[i] < 0:
                    text = raw.decode("utf-8", "replace")
                    if _YAML_LINE.match(text.rstrip()):
                        block.text.append(text)
                        block_last = i
                        continue
                block = self._finish_block(block, carried, updates)
            pieces = step_pieces(raw) if b"\r" in raw or len(_STEP_ANY.findall(raw)) > 1 else [raw]
            if len(pieces) > _SUB:
                log.problem(lineno, f"{len(pieces) - _SUB:,} more messages on this physical line were not read "
                                    f"(at most {_SUB} per line)", raw)
            for j, piece in enumerate(pieces[:_SUB]):
                pos = i * _SUB + j
                got = parse_step(piece)
                if isinstance(got, StepLine):
                    refused = next((k for k in got.values if self.keys.intern(k) < 0), None)
                    if refused is not None:  # the line is left out whole; every other line is kept
                        log.problem(lineno, self.keys.refusal(refused) + "; the line was not used", piece)
                        continue
                    extra.append((pos, got))
                    if got.problem:
                        log.problem(lineno, got.problem, piece)
                    continue
                t, message = _split_message(piece)
                text = message.decode("utf-8", "replace")
                stripped = text.strip()
                if _STEP_ANY.search(piece):
                    log.problem(lineno, "looks like a step line but its layout is broken", piece)
                elif stripped.startswith("{") and stripped.endswith("}") and ("'trainer'" in stripped or "'model'" in stripped):
                    cfg = parse_dict_config(stripped)
                    if cfg is None:
                        log.problem(lineno, "config header could not be read (not a Python dict literal)", piece)
                    events.append((pos, Header(lineno, t, cfg)))
                elif (top := _YAML_TOP.match(text)) and top.group(1) in CONFIG_GROUPS:
                    block, block_last, carried = Header(lineno, t, None, text=[text]), i, False
                    events.append((pos, block))
                elif (mark := _marker(text, lineno)) is not None:
                    events.append((pos, mark))
                elif stripped:
                    log.other(lineno, piece)
        if block is not None:
            _close_block(block)
            if carried:
                updates.append(block)
            # the block may continue only if it reaches the chunk's last line
            if block_last != res.n - 1:
                block = None
        self._block = block
        return self._assemble(res, data, first_line, extra, events, updates, log)

    @staticmethod
    def _finish_block(block: Header, carried: bool, updates: list[Header]) -> None:
        _close_block(block)
        if carried:
            updates.append(block)
        return None

    def _assemble(self, res: "_scan.ScanResult", data: bytes | memoryview, first_line: int, extra: list[tuple[int, StepLine]],
                  events: list[tuple[int, Header | Marker]], updates: list[Header], log: "_ChunkLog") -> ParsedChunk:
        kind = res.kinds
        fast = np.arange(res.n) if res.steps_read == res.n else np.flatnonzero((kind == TRAIN) | (kind == VAL))
        keys = self.keys.names()  # the keys of `extra` were interned as their lines were read
        width = len(keys)
        nonfinite: list[tuple[int, str, str]] = []
        if not extra and width <= res.values.shape[0]:  # the common case: the scanner read every step line
            take = slice(None) if fast.size == res.n else fast
            values, present = res.values[:width, take], res.present[:width, take]
            kinds, steps, totals, times = kind[take], res.steps[take], res.totals[take], res.times[take]
            pos = fast * _SUB
            line = fast + first_line
        else:
            values, present, kinds, steps, totals, times, pos, nonfinite = self._merge_extra(res, fast, extra, width)
            line = pos // _SUB + first_line
        if res.nf_count[0]:  # cells the scanner saw as nan/inf: its line index -> row
            for li, kid, code in res.nonfinite():
                r = int(np.searchsorted(pos, li * _SUB))
                nonfinite.append((r, keys[kid], _NONFINITE[code]))
        nonfinite.sort()
        anchored = [(int(np.searchsorted(pos, p)), ev) for p, ev in events]
        used = np.flatnonzero(np.logical_or.reduce(present, axis=1)).tolist()  # half of any()'s cost
        if len(self._rank) < width:  # some key has no rank yet
            self._rank_new_keys(present, used, keys, pos, res, data)
        return ParsedChunk(
            file=self.file, kind=np.asarray(kinds, np.int8), line=line,
            step=np.asarray(steps, np.int64), total=np.asarray(totals, np.int64), time_ms=np.asarray(times, np.int64),
            values=values, present=present, keys=keys, used=used, rank=self._rank, nonfinite=nonfinite,
            events=anchored, header_updates=updates, problems=log.problems, problem_count=log.problem_count,
            other_lines=log.other_lines, other_examples=log.examples, lines=res.n, nbytes=len(data),
        )

    def _merge_extra(self, res: "_scan.ScanResult", fast: np.ndarray, extra: list[tuple[int, StepLine]], width: int):
        """Step lines the scanner read and those Python read (`extra`), in line order."""
        kind = res.kinds
        m = fast.size + len(extra)
        pos = np.concatenate([fast * _SUB, np.array([p for p, _ in extra], np.int64)])
        order = np.argsort(pos, kind="stable")
        values = np.full((width, m), np.nan)
        present = np.zeros((width, m), bool)
        w = min(width, res.values.shape[0])
        values[:w, : fast.size] = res.values[:w, fast]
        present[:w, : fast.size] = res.present[:w, fast]
        kinds = np.concatenate([kind[fast], np.array([s.kind for _, s in extra], np.int8)])
        steps = np.concatenate([res.steps[fast], np.array([s.step for _, s in extra], np.int64)])
        totals = np.concatenate([res.totals[fast], np.array([s.total for _, s in extra], np.int64)])
        times = np.concatenate([res.times[fast], np.array([s.time_ms for _, s in extra], np.int64)])
        nonfinite: list[tuple[int, str, str]] = []
        for r, (_, st) in enumerate(extra, start=fast.size):
            for k, v in st.values.items():
                j = self.keys.id_of(k)
                values[j, r] = v
                present[j, r] = True
                if not np.isfinite(v):
                    nonfinite.append((r, k, "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")))
        values, present = values[:, order], present[:, order]
        kinds, steps, totals, times = kinds[order], steps[order], totals[order], times[order]
        inverse = np.empty(m, np.int64)
        inverse[order] = np.arange(m)
        nonfinite = [(int(inverse[r]), k, v) for r, k, v in nonfinite]
        return values, present, kinds, steps, totals, times, pos[order], nonfinite

    def _rank_new_keys(self, present: np.ndarray, used: list[int], keys: list[str], pos: np.ndarray, res,
                       data: bytes | memoryview) -> None:
        """Give keys seen for the first time a rank: by first line, then by place in that line."""
        new = [j for j in used if keys[j] not in self._rank]
        if not new:
            return
        first_row = {j: int(np.argmax(present[j])) for j in new}

        def place(j: int) -> tuple[int, int]:
            r = first_row[j]
            i = int(pos[r]) // _SUB
            line = bytes(data[res.starts[i]:res.ends[i]])
            return r, line.find(keys[j].encode() + b": ")

        for j in sorted(new, key=place):
            self._rank[keys[j]] = len(self._rank)


def _close_block(block: Header) -> None:
    """(Re)read the block as it stands; it may grow when the next chunk continues it."""
    block.config = parse_block_config(block.text)


@dataclass
class _ChunkLog:
    """Counts and the first few examples of other lines and problems in one chunk."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    other_lines: int = 0
    examples: list[str] = field(default_factory=list)

    def problem(self, line: int, reason: str, raw: bytes) -> None:
        """Count a damaged line; keep it located, with a preview, while there is room."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(Problem(self.file, line, reason, _preview(raw)))

    def other(self, line: int, raw: bytes) -> None:
        """Count a line that is not data; keep the first few as examples."""
        self.other_lines += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{self.file}:{line}: {_preview(raw)}")


def _marker(text: str, line: int) -> Marker | None:
    for rx in _RESUME_RES:
        m = rx.search(text)
        if m:
            return Marker(line, "resume", milestone=int(m.group(1)), step=int(m.group(2)))
    if _COMPLETE_RE.search(text):
        return Marker(line, "complete")
    if _CRASH_RE.match(text):
        return Marker(line, "crash")
    return None


def _preview(raw: bytes, limit: int = 160) -> str:
    """A plain-text preview of a line for messages (never rendered as HTML)."""
    text = raw[:limit].decode("utf-8", "replace").replace("\r", "\\r")
    return text + ("…" if len(raw) > limit else "")
