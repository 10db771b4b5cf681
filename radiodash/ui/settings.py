"""Where the dashboard looks: `--log`, `--root`, RADIODASH_* variables, or the built-in demo."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    log: Path | None  # the run opened first (None: the demo, or pick one under the root)
    roots: tuple[Path, ...]  # only runs under these may be listed or opened
    token: str | None = field(default=None, repr=False)
    demo: bool = False


def parse(argv: list[str], environ: dict[str, str] | os._Environ) -> Settings:
    """argv: what follows `streamlit run app.py --`; the environment fills what is missing."""
    ap = argparse.ArgumentParser(prog="streamlit run app.py --", add_help=False)
    ap.add_argument("--log", default=None)
    ap.add_argument("--root", action="append", default=None)
    args, _ = ap.parse_known_args(argv)
    log = args.log or environ.get("RADIODASH_LOG") or None
    roots_text = args.root or [r for r in (environ.get("RADIODASH_ROOT") or "").split(os.pathsep) if r]
    token = environ.get("RADIODASH_TOKEN") or None
    log_path = Path(log).expanduser().resolve() if log else None
    roots = [Path(r).expanduser().resolve() for r in roots_text]
    if not roots and log_path is not None:
        roots = [log_path.parent]
    return Settings(log=log_path, roots=tuple(roots), token=token, demo=log_path is None and not roots)
