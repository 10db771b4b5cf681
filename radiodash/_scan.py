"""The hot loop of the parser: one pass over a block of complete log lines, compiled by numba.

Why compiled: a 1,000,000-line log is ~300 MB of text; a line-by-line Python parser
spends ~20 s on it, which is the difference between a dashboard that opens and one that
does not. This scanner handles only the *regular* step-line layout
(`[timestamp ][Train Step] S/T: key: value, …`) and flags every other line for the
Python code in `parse.py`, which stays the reference for what a line means.
"""
from __future__ import annotations

import numpy as np
from ._jit import compiled

# line kinds reported by scan()
BLANK, TRAIN, VAL, OTHER, SLOW = 0, 1, 2, 3, 4
# non-finite codes
NF_NAN, NF_INF, NF_NINF = 1, 2, 3

_TRAIN = np.frombuffer(b"[Train Step] ", np.uint8)
_VAL = np.frombuffer(b"[Val Step] ", np.uint8)
_POW10 = 10.0 ** np.arange(23)
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)
MAX_EXACT = 2**53


@compiled
def _days_from_civil(y, m, d):
    # Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date.
    y = y - (1 if m <= 2 else 0)
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@compiled
def _digits(buf, i, n):
    v = 0
    for k in range(i, i + n):
        c = buf[k] - 48
        if c < 0 or c > 9:
            return -1
        v = v * 10 + c
    return v


@compiled
def _timestamp_ms(buf, s, e):
    """epoch milliseconds of `YYYY-MM-DD HH:MM:SS,mmm ` at s, or -1 when absent."""
    if e - s < 24:
        return -1
    if (buf[s + 4] != 45 or buf[s + 7] != 45 or buf[s + 10] != 32 or buf[s + 13] != 58
            or buf[s + 16] != 58 or buf[s + 19] != 44 or buf[s + 23] != 32):
        return -1
    y = _digits(buf, s, 4)
    mo = _digits(buf, s + 5, 2)
    d = _digits(buf, s + 8, 2)
    h = _digits(buf, s + 11, 2)
    mi = _digits(buf, s + 14, 2)
    se = _digits(buf, s + 17, 2)
    ms = _digits(buf, s + 20, 3)
    if y < 0 or mo < 1 or mo > 12 or d < 1 or h < 0 or h > 23 or mi < 0 or mi > 59 or se < 0 or se > 59 or ms < 0:
        return -1
    leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
    dim = 29 if (mo == 2 and leap) else _DAYS_IN_MONTH[mo - 1]
    if d > dim:
        return -1
    days = _days_from_civil(y, mo, d)
    return ((days * 24 + h) * 60 + mi) * 60000 + se * 1000 + ms


@compiled
def _startswith(buf, s, e, pat):
    if e - s < pat.size:
        return False
    for k in range(pat.size):
        if buf[s + k] != pat[k]:
            return False
    return True


@compiled
def _bytes_to_newline(buf, q, stop, has_cr):
    """Byte by byte from q to `stop`: (where it stopped, found a newline there?, CR seen so far?)."""
    while q < stop:
        c = buf[q]
        if c == 10:
            return q, True, has_cr
        if c == 13:
            has_cr = True
        q += 1
    return q, False, has_cr


@compiled
def _key_slot(buf, ks, ke, h, table_hash, table_id, key_bytes, key_len, nkeys, insert=True):
    """Find or insert the key buf[ks:ke] in an open-addressing table.

    Returns its id; -1 if the table is full or the key too long; -2 if the key is new
    and `insert` is off (a scan running in parallel with another must not write).
    """
    n = ke - ks
    if n > key_bytes.shape[1]:
        return -1
    mask = np.uint64(table_hash.size - 1)
    slot = np.int64(h & mask)
    while True:
        kid = table_id[slot]
        if kid < 0:
            if not insert:
                return -2
            if nkeys[0] >= key_bytes.shape[0]:
                return -1
            kid = nkeys[0]
            nkeys[0] += 1
            table_hash[slot] = h
            table_id[slot] = kid
            key_len[kid] = n
            for k in range(n):
                key_bytes[kid, k] = buf[ks + k]
            return kid
        if table_hash[slot] == h and key_len[kid] == n:
            same = True
            for k in range(n):
                if key_bytes[kid, k] != buf[ks + k]:
                    same = False
                    break
            if same:
                return kid
        slot = np.int64((np.uint64(slot) + np.uint64(1)) & mask)


@compiled
def _key_char(c, first):
    """Key names are identifiers with / . - allowed after the first character (train/kl_loss)."""
    if (65 <= c <= 90) or (97 <= c <= 122) or c == 95:
        return True
    if first:
        return False
    return (48 <= c <= 57) or c == 47 or c == 46 or c == 45


@compiled
def _match_key(buf, ks, e, kid, key_bytes, key_len):
    """True when buf[ks:] starts with key `kid` followed by ': '."""
    n = key_len[kid]
    if ks + n + 1 >= e or buf[ks + n] != 58 or buf[ks + n + 1] != 32:
        return False
    for k in range(n):
        if key_bytes[kid, k] != buf[ks + k]:
            return False
    return True


@compiled
def _rest_of_line(buf, s, nbuf, kinds, ends, i, kind):
    """Close line i, which starts at s, as `kind`; returns where the next line starts.

    A line holding a CR (a tqdm redraw) is always SLOW: Python splits it.
    """
    e, _, has_cr = _bytes_to_newline(buf, s, nbuf, False)
    ends[i] = e
    kinds[i] = SLOW if has_cr else kind
    return e + 1


@compiled
def scan(buf, line_start, kinds, starts, ends, steps, totals, times, values, present,
         nf_line, nf_key, nf_code, nf_count,
         table_hash, table_id, key_bytes, key_len, nkeys, next_kid, pow10, insert, missed):
    """Scan the complete lines of buf (which ends with a newline); fill per-line outputs.

    Lines the scanner does not fully understand get kind SLOW (or OTHER when they are not step
    lines at all), and their row must be ignored: the Python parser decides what they are. Stops
    when the output arrays are full. Returns (the offset where it stopped, the number of lines
    scanned, how many of them are step lines it read in full).

    Parameters, all numpy arrays written in place unless said otherwise:
    - buf (uint8): the block; line_start: offset of its first line (0).
    - per line i: kinds (int8: BLANK/TRAIN/VAL/OTHER/SLOW), starts/ends (byte offsets, the end is
      the newline), steps/totals (`[Train Step] step/total`), times (epoch ms, -1: no timestamp).
    - values/present (max_keys × n_lines, float64/bool): the value of key id k on line i.
    - nf_line/nf_key/nf_code, nf_count[0]: the nan/inf cells met (their line, key id, NF_* code);
      when nf_count exceeds the arrays the caller scans again with room.
    - table_hash/table_id/key_bytes/key_len/nkeys: the KeyTable (open addressing by FNV-1a hash);
      `insert` False forbids adding keys (a half scanned in parallel) and sets missed[0] = 1 instead.
    - next_kid: key prediction. next_kid[k] is the key that followed key k last time, and two
      slots say which key starts a line (gradient accumulation alternates two kinds of lines),
      so a key is nearly always recognised by one comparison instead of a hash and a probe.
      Measured on the ingest benchmark (1,000,000 lines, best of 3, interleaved runs): without it
      the full parse took 2.0–3.2× as long (0.60–1.06 s against 0.30–0.33 s, one line per step;
      0.79–0.83 s against 0.16–0.27 s with accumulation 2).
    - pow10 (float64): 10**k for the fraction digits.

    A step line is parsed in one pass that ends at its newline (every byte it accepts is a digit,
    a key character or a separator, so neither a newline nor a CR can hide in it); only other lines
    are searched for their end, byte by byte. Two earlier tricks were measured and dropped (gain
    under 10 % on the benchmark, whose lines are all step lines): reading a timestamp in the same
    minute as the last one from that minute, and finding line ends 8 bytes at a time.
    """
    nbuf = buf.size
    max_keys = values.shape[0]
    max_lines = kinds.size
    start_slot = (next_kid.size - 1) // 2
    line_first = -1
    accepted = 0  # step lines read in full
    i = 0
    q = line_start
    while q < nbuf and i < max_lines:
        s = q
        starts[i] = s
        times[i] = -1
        if buf[s] == 10:
            ends[i] = s
            kinds[i] = BLANK
            q = s + 1
            i += 1
            continue
        # a newline never matches a timestamp, a tag, a digit or a key character: the
        # checks below stop at this line's end without knowing where it is
        t = _timestamp_ms(buf, s, nbuf)
        p = s + 24 if t >= 0 else s
        times[i] = t
        if _startswith(buf, p, nbuf, _TRAIN):
            kind = TRAIN
            p += _TRAIN.size
        elif _startswith(buf, p, nbuf, _VAL):
            kind = VAL
            p += _VAL.size
        else:
            q = _rest_of_line(buf, s, nbuf, kinds, ends, i, OTHER)
            i += 1
            continue
        # step/total:
        st = 0
        nd = 0
        while 48 <= buf[p] <= 57 and nd < 18:
            st = st * 10 + (buf[p] - 48)
            p += 1
            nd += 1
        if nd == 0 or buf[p] != 47:
            q = _rest_of_line(buf, s, nbuf, kinds, ends, i, SLOW)
            i += 1
            continue
        p += 1
        tot = 0
        nd = 0
        while 48 <= buf[p] <= 57 and nd < 18:
            tot = tot * 10 + (buf[p] - 48)
            p += 1
            nd += 1
        if nd == 0 or buf[p] != 58 or buf[p + 1] != 32:
            q = _rest_of_line(buf, s, nbuf, kinds, ends, i, SLOW)
            i += 1
            continue
        p += 2
        steps[i] = st
        totals[i] = tot
        # pairs "key: value, " up to the newline
        ok = True
        ended = True  # a real step line ends with ", "; one that does not may be cut
        prev = start_slot if line_first < 0 else start_slot + 1 + line_first
        this_first = -1
        while buf[p] != 10:
            ended = False
            ks = p
            kid = next_kid[prev]
            if kid >= 0 and _match_key(buf, ks, nbuf, kid, key_bytes, key_len):
                p = ks + key_len[kid] + 2
            else:
                h = np.uint64(14695981039346656037)
                good = True
                while buf[p] != 58 and buf[p] != 44 and buf[p] != 10:
                    c = buf[p]
                    if not _key_char(c, p == ks):
                        good = False
                    h = (h ^ np.uint64(c)) * np.uint64(1099511628211)
                    p += 1
                ke = p
                if not good or ke == ks or buf[p] != 58 or buf[p + 1] != 32:
                    ok = False
                    break
                p += 2
                kid = _key_slot(buf, ks, ke, h, table_hash, table_id, key_bytes, key_len, nkeys, insert)
                if kid == -2:
                    missed[0] = 1
                if kid < 0 or kid >= max_keys:
                    ok = False
                    break
                next_kid[prev] = kid
            prev = kid
            if this_first < 0:
                this_first = kid
            # value
            neg = False
            if buf[p] == 45:
                neg = True
                p += 1
            v = 0.0
            code = 0
            if buf[p] == 110 and buf[p + 1] == 97 and buf[p + 2] == 110:  # nan
                v = np.nan
                code = NF_NAN
                p += 3
            elif buf[p] == 105 and buf[p + 1] == 110 and buf[p + 2] == 102:  # inf
                v = np.inf
                code = NF_NINF if neg else NF_INF
                p += 3
            else:
                mant = 0
                nd = 0
                while 48 <= buf[p] <= 57:
                    mant = mant * 10 + (buf[p] - 48)
                    p += 1
                    nd += 1
                    if nd > 15:
                        break
                frac = 0
                if buf[p] == 46 and nd <= 15:
                    p += 1
                    while 48 <= buf[p] <= 57:
                        mant = mant * 10 + (buf[p] - 48)
                        p += 1
                        nd += 1
                        frac += 1
                        if nd > 15:
                            break
                if nd == 0 or nd > 15 or frac > 22:
                    ok = False
                    break
                v = mant / pow10[frac] if frac > 0 else float(mant)
            if neg:
                if code == NF_NAN:
                    ok = False  # "-nan" is not something {:.5f} prints; let Python judge
                    break
                v = -v
            # separator ", " (the line's end is only valid right after one)
            if buf[p] != 10:
                if buf[p] == 44 and buf[p + 1] == 32:
                    p += 2
                    ended = True
                else:
                    ok = False
                    break
            values[kid, i] = v
            present[kid, i] = True
            if code != 0:
                c = nf_count[0]
                if c < nf_line.size:
                    nf_line[c] = i
                    nf_key[c] = kid
                    nf_code[c] = code
                nf_count[0] = c + 1
        if ok and ended:
            kinds[i] = kind
            ends[i] = p
            q = p + 1
            line_first = this_first
            accepted += 1
        else:
            q = _rest_of_line(buf, s, nbuf, kinds, ends, i, SLOW)
        i += 1
    return q, i, accepted


@compiled
def merge_lines(values, present, used, new, merge_first):
    """Merge a chunk's lines into records for every used key at once: out[a, g] is the value of key `used[a]`
    in the chunk's g-th record (a step's later line wins; NaN when none of its lines has the key).

    With `merge_first`, the lines before the first `new` one continue the store's last record: they are
    out[:, 0], and `has_first[a]` says whether any of them had the key (else that record keeps its value).
    One compiled call per chunk, not one per key: a live refresh's cost is mostly per call.
    """
    k = used.size
    m = new.size
    shift = 1 if merge_first else 0
    groups = shift
    for i in range(m):
        if new[i]:
            groups += 1
    out = np.full((k, groups), np.nan)
    has_first = np.zeros(k, np.bool_)
    # key by key, each row read front to back: line by line across the keys (a stride of a whole row per
    # key) took 111 ms of a 0.5 s full parse of 1,000,000 lines under accumulation 2
    for a in range(k):
        j = used[a]
        g = shift - 1
        for i in range(m):
            if new[i]:
                g += 1
            if present[j, i]:
                out[a, g] = values[j, i]
                if g == 0 and merge_first:
                    has_first[a] = True
    return out, has_first


@compiled
def group_lines(step, seg, time_ms, has_last, last_step, last_seg):
    """Which of a chunk's step lines start a record, in one compiled pass (a live refresh's cost is per call).

    A line starts a record unless it has the step and launch of the line before it (the two lines of one
    step under gradient accumulation); the first line continues the store's last record (`has_last`,
    `last_step`, `last_seg`) when it has that record's step and launch. Returns `new` (per line),
    `firsts` (the index of each record's first line), `merge_first`, `backs` (where the step went back
    within one launch, 0 meaning against the store's last record: at most 5, in line order), the first
    and last timestamp in ms that is not missing (-1: none) and whether a record's first line has none.
    """
    m = step.size
    new = np.empty(m, np.bool_)
    backs = np.empty(5, np.int64)
    nback = 0
    merge_first = False
    if m and has_last and seg[0] == last_seg:
        merge_first = step[0] == last_step
        if step[0] < last_step:
            backs[0] = 0
            nback = 1
    groups = 0
    first_ms = -1
    last_ms = -1
    for i in range(m):
        if i == 0:
            start = not merge_first
        else:
            start = step[i] != step[i - 1] or seg[i] != seg[i - 1]
            if step[i] < step[i - 1] and seg[i] == seg[i - 1]:
                if nback < 5:
                    backs[nback] = i
                nback += 1
        new[i] = start
        if start:
            groups += 1
        if time_ms[i] >= 0:
            if first_ms < 0:
                first_ms = time_ms[i]
            last_ms = time_ms[i]
    firsts = np.empty(groups, np.int64)
    unstamped = False
    g = 0
    for i in range(m):
        if new[i]:
            firsts[g] = i
            g += 1
            if time_ms[i] < 0:
                unstamped = True
    return new, firsts, merge_first, backs[:min(nback, 5)], first_ms, last_ms, unstamped


class KeyTable:
    """Interned metric keys, shared by the compiled scanner and the Python parser.

    Ids are stable for the life of a parser, so the scanner's `values[:, id]` columns
    line up chunk after chunk.
    """

    def __init__(self, max_keys: int = 1024, max_key_len: int = 96) -> None:
        size = 1
        while size < 4 * max_keys:
            size *= 2
        self.table_hash = np.zeros(size, np.uint64)
        self.table_id = np.full(size, -1, np.int32)
        self.key_bytes = np.zeros((max_keys, max_key_len), np.uint8)
        self.key_len = np.zeros(max_keys, np.int32)
        self.nkeys = np.zeros(1, np.int64)
        # key prediction: [k] = key that followed key k; [max_keys] = first key of the first line;
        # [max_keys + 1 + k] = first key of a line after a line that began with key k
        # (under gradient accumulation the two kinds of lines alternate)
        self.next_kid = np.full(2 * max_keys + 1, -1, np.int32)
        self._names: list[str] = []

    def names(self) -> list[str]:
        """Key names by id (decoded lazily as the scanner adds keys)."""
        for kid in range(len(self._names), int(self.nkeys[0])):
            self._names.append(bytes(self.key_bytes[kid, : self.key_len[kid]]).decode("ascii"))
        return self._names

    @property
    def max_keys(self) -> int:
        """How many distinct keys the table holds at most."""
        return self.key_bytes.shape[0]

    @property
    def max_key_bytes(self) -> int:
        """The longest key (in UTF-8 bytes) the table holds."""
        return self.key_bytes.shape[1]

    def intern(self, name: str) -> int:
        """Id of a key found by the Python parser (adding it to the scanner's table); -1 when it cannot
        be held (longer than `max_key_bytes`, or a new key beyond `max_keys`): see `refusal`."""
        raw = np.frombuffer(name.encode("utf-8"), np.uint8)
        if raw.size > self.max_key_bytes:
            return -1
        h = np.uint64(14695981039346656037)
        with np.errstate(over="ignore"):
            for c in raw:
                h = (h ^ np.uint64(c)) * np.uint64(1099511628211)
        kid = _key_slot(raw, 0, raw.size, h, self.table_hash, self.table_id, self.key_bytes, self.key_len, self.nkeys)
        if kid >= 0:
            self.names()
        return int(kid)

    def refusal(self, name: str) -> str:
        """Why `intern(name)` returned -1, in words for a damaged-line message."""
        if len(name.encode("utf-8")) > self.max_key_bytes:
            return f"key {name[:40]!r}… is longer than {self.max_key_bytes} bytes"
        return f"key {name[:40]!r} is one more than the {self.max_keys:,} distinct keys a file may have"

    id_of = intern


class ScanResult:
    """Per-line outputs of one scan (arrays of length n; values/present are key-major)."""

    def __init__(self, n: int, width: int, nf_cap: int = 64) -> None:
        # uninitialised where the scanner writes every line's cell (kind, bounds, time) or only
        # step lines' (step, total) and only step lines are read: a live refresh allocates these
        # per chunk, so one block for the five int64 arrays
        self.n = n
        self.kinds = np.empty(n, np.int8)
        self.starts, self.ends, self.steps, self.totals, self.times = np.empty((5, n), np.int64)
        self.values = np.full((width, n), np.nan)
        self.present = np.zeros((width, n), np.bool_)
        self.nf_line = np.empty(nf_cap, np.int64)
        self.nf_key = np.empty(nf_cap, np.int32)
        self.nf_code = np.empty(nf_cap, np.int8)
        self.nf_count = np.zeros(1, np.int64)
        self.missed = np.zeros(1, np.int8)
        self.steps_read = 0  # lines of kind TRAIN or VAL: when it is n, Python has no line to look at
        self._full = (self.kinds, self.starts, self.ends, self.steps, self.totals, self.times, self.values, self.present)

    @property
    def capacity(self) -> int:
        """Lines these arrays can hold (`n` is how many the last scan filled)."""
        return self._full[0].size

    def reuse(self, width: int) -> bool:
        """Make these arrays ready for another scan (of at most `capacity` lines), if they hold `width` keys.

        Only the cells the last scan may have written are reset. The caller must be done with every
        array of the last result (a parsed chunk holds views of them until the store copied it).
        """
        kinds, starts, ends, steps, totals, times, values, present = self._full
        if width > values.shape[0]:
            return False
        used = self.n
        values[:, :used] = np.nan
        present[:, :used] = False
        self.n = kinds.size
        self.kinds, self.starts, self.ends, self.steps, self.totals, self.times = kinds, starts, ends, steps, totals, times
        self.values, self.present = values, present
        self.nf_count[0] = 0
        self.missed[0] = 0
        self.steps_read = 0
        return True

    def run(self, buf: np.ndarray, keys: "KeyTable", insert: bool = True,
            next_kid: np.ndarray | None = None) -> tuple[int, int, int]:
        """Scan `buf` (complete lines) into these arrays; returns `scan()`'s (stop, lines, steps read)."""
        return scan(buf, 0, self.kinds, self.starts, self.ends, self.steps, self.totals, self.times, self.values,
                    self.present, self.nf_line, self.nf_key, self.nf_code, self.nf_count,
                    keys.table_hash, keys.table_id, keys.key_bytes, keys.key_len, keys.nkeys,
                    keys.next_kid if next_kid is None else next_kid, _POW10, insert, self.missed)

    def trim(self, n: int) -> "ScanResult":
        """Keep the first n lines (the arrays were sized by an estimate)."""
        if n == self.n:
            return self
        self.n = n
        for name in ("kinds", "starts", "ends", "steps", "totals", "times"):
            setattr(self, name, getattr(self, name)[:n])
        self.values = self.values[:, :n]
        self.present = self.present[:, :n]
        return self

    def nonfinite(self):
        """(line index, key id, code) of nan/inf values on lines the scanner accepted."""
        c = int(min(self.nf_count[0], self.nf_line.size))
        for li, kid, code in zip(self.nf_line[:c].tolist(), self.nf_key[:c].tolist(), self.nf_code[:c].tolist()):
            if self.kinds[li] in (TRAIN, VAL):
                yield li, kid, code


PARALLEL_BYTES = 1 << 20  # blocks larger than this are scanned as two halves on two threads
_pool = None


def _executor():
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(1, thread_name_prefix="radiodash-scan")
    return _pool


_SAMPLE_BYTES = 1 << 16


def _estimate_lines(buf: np.ndarray) -> int:
    """Room for the lines of buf, from the newline density of its first 64 KiB (no full count)."""
    sample = buf[:_SAMPLE_BYTES]
    per_byte = (int(np.count_nonzero(sample == 10)) + 1) / max(sample.size, 1)
    return int(buf.size * per_byte * 1.2) + 64


def _scan_one(buf: np.ndarray, keys: KeyTable, insert: bool = True, next_kid: np.ndarray | None = None,
              spare: ScanResult | None = None) -> ScanResult:
    """Scan all complete lines of buf; rescan when columns, lines or nan/inf room ran out.

    `spare`: an earlier result whose arrays may be reused (see `ScanResult.reuse`).
    """
    if buf.size and buf[-1] != 10:  # the scanner reads up to a newline without bounds checks
        raise ValueError("the scanner takes complete lines: data must end with a newline")
    known = int(keys.nkeys[0])
    width = known + 2 if known else 16  # each spare row costs a NaN-filled row per line
    nf_cap = 64
    # a small block goes into the spare's arrays as far as they reach, without an estimate first
    res = spare if spare is not None and buf.size <= _SAMPLE_BYTES and spare.reuse(width) else None
    n = res.capacity if res is not None else _estimate_lines(buf)
    while True:
        if res is None:
            res = ScanResult(n, width, nf_cap)
        stop, lines, res.steps_read = res.run(buf, keys, insert, next_kid)
        if int(keys.nkeys[0]) > res.values.shape[0]:
            width = int(keys.nkeys[0]) + 8
        elif res.nf_count[0] > res.nf_line.size:
            nf_cap = int(res.nf_count[0])
        elif stop < buf.size:  # more lines than there was room for: count them (rare), with room to grow
            n = int(np.count_nonzero(buf == 10) * 1.2) + 64
        else:
            return res.trim(lines)
        res = None


def _as_array(data: bytes | bytearray | memoryview) -> np.ndarray:
    """The bytes as a read-only uint8 array, whatever holds them: a read-only array from `bytes` and a
    writable one from the tail's reused `bytearray` are two compiled variants of the scanner, and only
    one is warmed by `make install` (the other compiled ~5 s into the first open of a log over 8 MB)."""
    buf = np.frombuffer(data, np.uint8)
    buf.flags.writeable = False
    return buf


def scan_block(data: bytes | memoryview, keys: KeyTable) -> ScanResult:
    """Scan complete lines (data ends with b"\n") on this thread."""
    return _scan_one(_as_array(data), keys)


def _middle(buf: np.ndarray) -> int:
    """Where to cut buf in two: after the first newline past its middle (0: nowhere)."""
    nl, found, _ = _bytes_to_newline(buf, buf.size // 2, buf.size, False)
    return nl + 1 if found and nl + 1 < buf.size else 0


def scan_parts(data: bytes | memoryview, keys: KeyTable, parallel_bytes: int = PARALLEL_BYTES,
               spare: ScanResult | None = None) -> list[tuple[int, int, ScanResult]]:
    """Scan complete lines; returns (start, end, result) per part, in order.

    A large block is cut at a newline and its two halves scanned at once on two threads
    (the scanner releases the GIL). The halves stay separate results: the parser turns
    each into its own chunk, so nothing is copied to join them. They may not add keys
    concurrently: a half that met a key the table did not know is scanned again, alone.

    Measured on the ingest benchmark (1,000,000 lines, 7 interleaved runs each, on this 2-core
    machine with other work running, load average 2): one line per step 0.24 s against 0.31 s
    single-threaded (best), 0.41 s against 0.54 s (median) — 23–25 % faster; with accumulation 2 it
    gained nothing then (its merge ran in Python), and since the merge is compiled (`merge_lines`):
    0.53 s against 0.68 s (best), 0.56 s against 0.80 s (median), one line per step 0.57 s against
    0.66 s (best) in the same idle run — kept for both layouts.
    """
    buf = _as_array(data)
    mid = _middle(buf) if buf.size > parallel_bytes and int(keys.nkeys[0]) else 0
    if not mid:
        return [(0, buf.size, _scan_one(buf, keys, spare=spare))]
    # the second thread predicts keys with its own table: no shared cache line written by both
    fut = _executor().submit(_scan_one, buf[mid:], keys, False, keys.next_kid.copy())
    a = _scan_one(buf[:mid], keys, False)
    b = fut.result()
    if a.missed[0]:
        a = _scan_one(buf[:mid], keys)
    if b.missed[0]:
        b = _scan_one(buf[mid:], keys)
    return [(0, mid, a), (mid, buf.size, b)]
