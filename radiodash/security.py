"""Which files a shared server may show: only runs under the configured root folder(s).

A run is a folder (a results folder: its launch files) or a run file (`radiodiff.is_run_file`:
a launch file, a console capture, another log) under a root, reached through no hidden
file or folder. `list_runs` shows them and `resolve_run` opens nothing else: both classify a
path with `_classify`, so what `?run=` can name is what the listing is made of.

Every filesystem entry is classified without opening it and without following a symlink
blindly (`lstat`, then `realpath` + `stat` of the target): a symlink loop, a dangling link, a
FIFO, a socket or a device is skipped by the listing and refused by the resolver, never an
exception out of them and never a blocking open. Refusals say one sentence to the visitor —
the same whether the run is missing, outside the root or not a run, so the answer never tells
whether a path outside the root exists — and log the reason on the server.
"""
from __future__ import annotations

import hmac
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from .radiodiff import is_launch_file, is_run_file

log = logging.getLogger("radiodash.security")

#: Folders below a root searched for runs (a run folder at most this deep; its files one deeper).
MAX_DEPTH = 3
#: A longer run name is refused before it reaches the filesystem (names are at most 255 bytes a part).
MAX_NAME_CHARS = 1024
#: How much of a refused name the refusal sentence repeats.
SHOWN_NAME_CHARS = 80


class Refused(ValueError):
    """A run name that may not be served. Its message is the one sentence for the visitor.

    `missing`: nothing is at that path under any root right now (the page of a run that was
    deleted keeps waiting for it); False for every other reason. For the server's code only:
    the visitor's sentence is the same either way.
    """

    def __init__(self, message: str, *, missing: bool = False, name: str | None = None) -> None:
        super().__init__(message)
        self.missing = missing
        self.name = name  # the name as the sentence repeats it (`shown_name`), for a page to set apart


@dataclass(frozen=True)
class RunEntry:
    """A run under a root: a results folder or a single log file."""

    rel: str  # path relative to the root, with "/" separators (what goes into ?run=)
    path: Path
    mtime: float
    is_dir: bool


def shown_name(rel: object) -> str:
    """A run name as a refusal repeats it: printable characters only, at most SHOWN_NAME_CHARS."""
    shown = "".join(c if c.isprintable() else "\ufffd" for c in str(rel))
    return shown[:SHOWN_NAME_CHARS] + "…" if len(shown) > SHOWN_NAME_CHARS else shown


def refusal(rel: object) -> str:
    """The visitor's sentence for any run name that cannot be opened (plain text: never render it as Markdown)."""
    return f"There is no run named “{shown_name(rel)}” here."


def resolve_run(roots: list[Path], rel: str) -> Path:
    """The real path of the run `rel` names under one of `roots`, or Refused.

    Accepts exactly what `list_runs` is made of: a folder or a run file, under the root,
    through no hidden part, at most `MAX_DEPTH` folders down (symlinks only when their
    target obeys the same rules).
    """
    parts = checked_parts(rel)
    reasons = []
    for root in roots:
        real_root = os.path.realpath(root)
        kind, real, why = _classify(real_root, os.path.join(real_root, *parts))
        if kind == "dir" and len(parts) <= MAX_DEPTH or kind == "file":
            return Path(real)
        reasons.append(why or "a folder deeper than runs are listed")
    missing = bool(reasons) and all(r == _MISSING for r in reasons)
    _refuse(rel, "; ".join(dict.fromkeys(reasons)) or "no root is configured", missing=missing)
    raise AssertionError("unreachable")  # pragma: no cover - _refuse always raises


_MISSING = "nothing at that path"


def checked_parts(rel: object) -> list[str]:
    """The parts of the run name `rel` (percent-decoded), or Refused: no absolute or Windows path, no
    `..`, no hidden part, no control character, no deeper than runs are listed. The rules every root
    applies to a name before asking its filesystem anything — local and remote roots alike."""
    if not isinstance(rel, str) or not rel:
        raise Refused("No run was named.")
    if len(rel) > MAX_NAME_CHARS:
        _refuse(rel, f"longer than {MAX_NAME_CHARS} characters")
    decoded = _decoded(rel)
    if any(ord(c) < 32 or ord(c) == 127 for c in decoded):
        _refuse(rel, "control character in the path")
    if decoded.startswith(("/", "\\")) or (len(decoded) > 1 and decoded[1] == ":") or "\\" in decoded:
        _refuse(rel, "absolute or Windows-style paths are not accepted")
    parts = _parts(decoded)
    if ".." in parts:
        _refuse(rel, "'..' is not accepted")
    if any(p.startswith(".") for p in parts):
        _refuse(rel, "a hidden file or folder")
    if len(parts) > MAX_DEPTH + 1:
        _refuse(rel, "deeper than runs are listed")
    return parts


def _decoded(rel: str) -> str:
    for _ in range(3):  # %252e%252e → %2e%2e → ..
        nxt = unquote(rel)
        if nxt == rel:
            break
        rel = nxt
    return rel


def _parts(decoded: str) -> list[str]:
    return [p for p in decoded.split("/") if p not in ("", ".")]


def named_paths(roots: list[Path], rel: str) -> list[str]:
    """Where `rel` would be under each root, symlinks not followed: what to watch for a run's name
    coming and going. Only for a name `resolve_run` accepted once (no checks here)."""
    parts = _parts(_decoded(rel))
    return [os.path.join(os.path.realpath(root), *parts) for root in roots]


def _classify(real_root: str, path: str) -> tuple[str | None, str | None, str | None]:
    """("file" | "dir" | None, the real path, why not) for `path` under `real_root`, touching nothing.

    A file is a regular file with a run-file name (and so is the file a symlink leads to);
    a folder is a folder. Symlinks count only when their target lies under the root and is
    reached through no hidden part. Nothing is opened, so a FIFO or a device cannot block.
    """
    try:
        real = os.path.realpath(path)  # never raises on a loop: leaves the looping link in place
        if os.path.commonpath([real_root, real]) != real_root:
            return None, None, "it leads outside the served folder (symlink)"
        if any(p.startswith(".") for p in Path(os.path.relpath(real, real_root)).parts if p != "."):
            return None, None, "it leads to a hidden file or folder (symlink)"
        info = os.stat(real)
    except FileNotFoundError:
        return None, None, _MISSING if not os.path.lexists(path) else "a dangling symlink"
    except (OSError, ValueError) as e:  # ELOOP, ENAMETOOLONG, EACCES, NUL…
        return None, None, f"cannot be examined ({type(e).__name__}: {getattr(e, 'strerror', None) or e})"
    if stat.S_ISDIR(info.st_mode):
        return "dir", real, None
    if not stat.S_ISREG(info.st_mode):
        return None, None, "not a regular file or folder (a FIFO, socket or device)"
    if not (is_run_file(os.path.basename(path)) and is_run_file(os.path.basename(real))):
        return None, None, "not a run file"
    return "file", real, None


def _mtime(real: str) -> float:
    try:
        return os.stat(real).st_mtime
    except OSError:
        return 0.0


def _refuse(rel: str, why: str, *, missing: bool = False) -> None:
    log.warning("refused run path %s: %s", repr(rel)[:200], why)
    raise Refused(refusal(rel), missing=missing, name=shown_name(rel))


def list_runs(roots: list[Path], max_depth: int = MAX_DEPTH) -> list[RunEntry]:
    """Runs under the roots, newest first: folders holding launch files, and loose run files.

    Never raises: an entry that cannot be examined (a loop, a dangling link, a FIFO, a folder
    that cannot be read) is left out. Symlinked folders are not descended (a loop would recurse).
    """
    found: dict[Path, RunEntry] = {}
    for root in roots:
        real_root = os.path.realpath(root)
        stack = [(real_root, 0)]
        while stack:
            folder, depth = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = list(it)
            except OSError:
                continue
            launch: list[float] = []
            loose: list[tuple[str, float]] = []
            for e in entries:
                if e.name.startswith("."):
                    continue
                try:
                    is_dir = e.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    if depth < max_depth:
                        stack.append((e.path, depth + 1))
                    continue
                if not is_run_file(e.name):
                    continue
                kind, real, _ = _classify(real_root, e.path)
                if kind != "file":
                    continue
                if is_launch_file(e.name) and folder != real_root:
                    launch.append(_mtime(real))
                else:
                    loose.append((e.path, _mtime(real)))
            if launch:
                found[Path(folder)] = RunEntry(_rel(real_root, folder), Path(folder), max(launch), True)
            for p, mtime in loose:
                found[Path(p)] = RunEntry(_rel(real_root, p), Path(p), mtime, False)
    return sorted(found.values(), key=lambda e: e.mtime, reverse=True)


def _rel(root: str, p: str) -> str:
    rel = Path(os.path.relpath(p, root)).as_posix()
    return rel or "."


def token_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; no token configured means open access."""
    if not expected:
        return True
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))
