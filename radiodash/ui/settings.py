"""Where the dashboard looks: `--log`, `--root`, RADIODASH_* variables, or the built-in demo.

The access token comes from `RADIODASH_TOKEN`, a `--token-file`, or `.streamlit/secrets.toml`
(read in `session.settings`), never from a command-line value: every user of the machine can
read a process's command line (`ps`), not its environment or a file of mode 600.
"""
from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..roots import Roots, is_url, local_path, parent_location

#: A token file is a few bytes; a bigger one is a mistake (a log given as the token file?).
MAX_TOKEN_FILE_BYTES = 4096


class SettingsError(ValueError):
    """A setting that cannot be honoured (e.g. an unreadable token file); the server must not serve open."""


@dataclass(frozen=True)
class Settings:
    log: str | None  # where the run opened first is: a local path or a URL (None: the demo, or the overview)
    roots: Roots  # only runs under these may be listed or opened
    token: str | None = field(default=None, repr=False)
    demo: bool = False


def parse(argv: list[str], environ: dict[str, str] | os._Environ) -> Settings:
    """argv: what follows `streamlit run app.py --`; the environment fills what is missing.

    Raises SettingsError when a `--token-file` is given but holds no usable token (serving
    without the token the operator asked for would open the dashboard to everyone), or a root's
    URL cannot be understood. `--root` may be given several times; `--log` and `--root` take
    local paths and URLs (`ssh://user@host[:port]/path`).
    """
    ap = argparse.ArgumentParser(prog="streamlit run app.py --", add_help=False, allow_abbrev=False)
    ap.add_argument("--log", default=None)
    ap.add_argument("--root", action="append", default=None)
    ap.add_argument("--token-file", default=None)
    ap.add_argument("--token", default=None)  # refused below: never serve open because of it either
    args, _ = ap.parse_known_args(argv)
    if args.token is not None:
        raise SettingsError("--token is not accepted (every user of this machine can read it with `ps`); "
                            "use --token-file FILE or RADIODASH_TOKEN")
    log = args.log or environ.get("RADIODASH_LOG") or None
    # several roots in RADIODASH_ROOT are separated by spaces (URLs hold ':'); quote a path that has one
    roots_text = args.root or shlex.split(environ.get("RADIODASH_ROOT") or "")
    token = read_token_file(Path(args.token_file)) if args.token_file else environ.get("RADIODASH_TOKEN") or None
    log_location = (log if is_url(log) else local_path(log)) if log else None
    if not roots_text and log_location is not None:
        roots_text = [parent_location(log_location)]
    try:
        roots = Roots.parse(roots_text)
    except ValueError as e:
        raise SettingsError(str(e)) from e
    return Settings(log=log_location, roots=roots, token=token, demo=log_location is None and not roots)


def read_token_file(path: Path) -> str:
    """The token in `path` (surrounding whitespace and the final newline removed)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_TOKEN_FILE_BYTES + 1)
    except OSError as e:
        raise SettingsError(f"cannot read the token file {path}: {e.strerror or e}") from e
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise SettingsError(f"the token file {path} is longer than {MAX_TOKEN_FILE_BYTES} bytes")
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise SettingsError(f"the token file {path} is not UTF-8 text") from e
    if not token:
        raise SettingsError(f"the token file {path} is empty")
    return token
