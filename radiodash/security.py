"""Which files a shared server may show: only logs under the configured root folder(s).

Everything that names a file — `?run=` in the URL, the sidebar, a compare selection —
goes through `resolve_run`, which refuses `..`, absolute paths, symlinks leading out of
the root, NUL bytes and encoded tricks, and logs the refusal on the server.
"""
from __future__ import annotations

import hmac
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from .radiodiff import is_launch_file, is_run_file

log = logging.getLogger("radiodash.security")



class Refused(ValueError):
    """A path that may not be served; the message is safe to show to the visitor."""


@dataclass(frozen=True)
class RunEntry:
    """A run under a root: a results folder or a single log file."""

    rel: str  # path relative to the root, with "/" separators (what goes into ?run=)
    path: Path
    mtime: float
    is_dir: bool


def resolve_run(roots: list[Path], rel: str) -> Path:
    """The real path of `rel` under one of `roots`, or Refused."""
    if not isinstance(rel, str) or not rel:
        raise Refused("no run given")
    decoded = rel
    for _ in range(3):  # %252e%252e → %2e%2e → ..
        nxt = unquote(decoded)
        if nxt == decoded:
            break
        decoded = nxt
    if "\x00" in decoded or any(ord(c) < 32 for c in decoded):
        _refuse(rel, "control character in the path")
    if decoded.startswith(("/", "\\")) or (len(decoded) > 1 and decoded[1] == ":") or "\\" in decoded:
        _refuse(rel, "absolute or Windows-style paths are not accepted")
    parts = decoded.split("/")
    if ".." in parts:
        _refuse(rel, "'..' is not accepted")
    for root in roots:
        real_root = root.resolve()
        candidate = (real_root / decoded).resolve()  # follows symlinks
        if candidate == real_root or real_root in candidate.parents:
            if candidate.exists():
                return candidate
    for root in roots:
        real_root = root.resolve()
        if (real_root / decoded).exists() or os.path.islink(real_root / decoded):
            _refuse(rel, "it leads outside the served folder (symlink)")
    raise Refused(f"no run named {rel!r} under the served folder")


def _refuse(rel: str, why: str) -> None:
    log.warning("refused run path %r: %s", rel, why)
    raise Refused(f"refused {rel!r}: {why}")


def list_runs(roots: list[Path], max_depth: int = 3) -> list[RunEntry]:
    """Runs under the roots, newest first: folders holding log files, and loose log files."""
    found: dict[Path, RunEntry] = {}
    for root in roots:
        real_root = root.resolve()
        for dirpath, dirnames, filenames in os.walk(real_root, followlinks=False):
            d = Path(dirpath)
            depth = len(d.relative_to(real_root).parts)
            if depth >= max_depth:
                dirnames[:] = []
            dirnames[:] = [n for n in dirnames if not n.startswith(".")]
            logs = [f for f in filenames if is_run_file(f)]
            safe = [f for f in logs if _inside(real_root, d / f)]
            if not safe:
                continue
            launch = [f for f in safe if is_launch_file(f)]
            if launch and d != real_root:
                mtime = max((d / f).stat().st_mtime for f in launch)
                found[d] = RunEntry(_rel(real_root, d), d, mtime, True)
                safe = [f for f in safe if f not in launch]
            for f in safe:
                p = d / f
                found[p] = RunEntry(_rel(real_root, p), p, p.stat().st_mtime, False)
    return sorted(found.values(), key=lambda e: e.mtime, reverse=True)


def _inside(root: Path, p: Path) -> bool:
    try:
        real = p.resolve()
    except OSError:
        return False
    return real == root or root in real.parents


def _rel(root: Path, p: Path) -> str:
    rel = p.relative_to(root).as_posix()
    return rel or "."


def token_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; no token configured means open access."""
    if not expected:
        return True
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
