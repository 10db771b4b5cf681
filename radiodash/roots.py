"""The roots a server shows — local folders and remote URLs — and the one place that names, lists and
resolves the runs under them.

Why one place: the sidebar, the Compare page, the team overview, the fleet behind notifications and
`?run=` must agree on what a run is called and on which runs exist. Local roots follow
`security` (`list_runs`, `resolve_run`), remote roots `remote` (`list_remote_runs`,
`resolve_remote_run`): the same rules — no traversal, no hidden part, no symlink out of the root —
checked by each filesystem on its own side.

A run's name is its path under its root (`runA`, `a/b/runB`) when the server has one root, as it
always had; with several roots it starts with the root's short name (`gpu1-results/runA`), so a
URL stays short, says where the run lives, and two roots may hold runs of the same name. A root's
short name is its folder's name; when two roots share one, the machine's name is put in front
(`gpu2-results`), then a number.
"""
from __future__ import annotations

import os
import posixpath
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .security import MAX_DEPTH, Refused, checked_parts, list_runs, refusal, resolve_run, shown_name
from .source import Source, as_source

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def is_url(text: str) -> bool:
    """A `scheme://` location other than `file://` (a local path in URL form)."""
    m = _URL.match(text)
    return bool(m) and m.group(1).lower() != "file"


def local_path(text: str | os.PathLike) -> str:
    """A local location as the real absolute path the rules compare against (`file://` accepted)."""
    text = os.fspath(text)
    if text.lower().startswith("file://"):
        text = text[len("file://"):] or "/"
    return str(Path(text).expanduser().resolve())


def parent_location(location: str) -> str:
    """The folder holding a run (what `--log` alone serves as its root)."""
    if is_url(location):
        from .remote import parse_url

        target = parse_url(location)
        return target.at(posixpath.dirname(target.path.rstrip("/")) or "/").url
    return str(Path(location).parent)


@dataclass(frozen=True)
class Root:
    """A folder whose runs may be shown."""

    name: str  # short and unique among the roots: the first part of a run's name when there are several roots
    location: str  # a local folder's real path, or a URL (`ssh://user@host:port/path`)
    machine: str  # the machine the files are on: this one's name for a local root, the URL's host otherwise

    @property
    def remote(self) -> bool:
        return is_url(self.location)


@dataclass(frozen=True)
class Listed:
    """A run under a root, as a listing found it."""

    name: str  # what `?run=` holds
    root: Root
    rel: str  # its path under the root, "/"-separated
    location: str  # what opens it (`Roots.source`): a local path or a URL
    mtime: float  # its files' newest modification time, epoch seconds
    is_dir: bool

    @property
    def machine(self) -> str:
        return self.root.machine


@dataclass(frozen=True)
class Listing:
    """Every run found, and the roots that could not be listed completely (their runs may be missing)."""

    runs: tuple[Listed, ...]
    problems: tuple[tuple[Root, str], ...] = ()  # (root, one line saying why)

    def complete(self, root: Root) -> bool:
        return all(r != root for r, _ in self.problems)


@dataclass(frozen=True)
class Roots:
    """The server's roots (see the module docstring). Hashable: a cache key for listings and fleets.

    `options`: extra options for remote connections (asyncssh's `known_hosts`, `client_keys`…; by
    default the user's `~/.ssh` decides) — tests pass their temporary keys here.
    """

    items: tuple[Root, ...] = ()
    options: tuple[tuple[str, object], ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, texts: Iterable[str | os.PathLike], *, options: dict | None = None) -> "Roots":
        """Roots from `--root` values or `RADIODASH_ROOT`'s words: local paths and URLs, named uniquely.
        Raises ValueError for a URL that cannot be understood (it says which)."""
        located: list[tuple[str, str, str]] = []  # (location, machine, folder name)
        for text in texts:
            text = os.fspath(text)
            if is_url(text):
                from .remote import parse_url

                target = parse_url(text)
                target = target.at(target.path.rstrip("/") or "/")  # `…/results/` is the root `…/results`
                location = target.url
                machine = target.host or target.protocol
                base = posixpath.basename(target.path.rstrip("/")) or machine
            else:
                location = local_path(text)
                machine = socket.gethostname()
                base = os.path.basename(location) or "root"
            if location not in (loc for loc, _, _ in located):
                located.append((location, machine, base))
        names: list[str] = []
        bases = [_slug(b) for _, _, b in located]
        for (location, machine, _), base in zip(located, bases):
            name = base if bases.count(base) == 1 else f"{_slug(machine)}-{base}"
            n = 2
            while name in names:
                name = f"{base}-{n}"
                n += 1
            names.append(name)
        items = tuple(Root(n, loc, m) for n, (loc, m, _) in zip(names, located))
        return cls(items, tuple(sorted((options or {}).items())))

    # ------------------------------------------------------------------ the collection

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def locations(self) -> tuple[str, ...]:
        return tuple(r.location for r in self.items)

    @property
    def remote(self) -> bool:
        """Some root is on another machine."""
        return any(r.remote for r in self.items)

    def _options(self) -> dict | None:
        return dict(self.options) or None

    # ------------------------------------------------------------------ names

    def run_name(self, root: Root, rel: str) -> str:
        """The name of run `rel` under `root`, as `?run=` takes it."""
        return f"{root.name}/{rel}" if len(self.items) > 1 else rel

    def split(self, name: str) -> tuple[Root, str]:
        """(root, path under it) of a run name, or Refused. Checks the name's form only (`security.checked_parts`)."""
        parts = checked_parts(name)
        if not self.items:
            raise Refused(refusal(name), name=shown_name(name))
        if len(self.items) == 1:
            return self.items[0], "/".join(parts) or "."
        for root in self.items:
            if parts and parts[0] == root.name:
                return root, "/".join(parts[1:]) or "."
        raise Refused(refusal(name), missing=False, name=shown_name(name))

    def name_of(self, location: str) -> str | None:
        """The run name of a run at `location` (a path or URL under a root), or None (e.g. `--log`
        outside every root)."""
        if not is_url(location):
            location = local_path(location)
        for root in self.items:
            base = root.location.rstrip("/")
            if location == base:
                return self.run_name(root, ".")
            if location.startswith(base + "/"):
                return self.run_name(root, location[len(base) + 1:].strip("/"))
        return None

    # ------------------------------------------------------------------ filesystems

    def list(self, max_depth: int = MAX_DEPTH) -> Listing:
        """Every run under every root, newest first. Never raises: a root that cannot be listed (a host
        down) is in `problems`, with the runs found before the failure."""
        runs: list[Listed] = []
        problems: list[tuple[Root, str]] = []
        for root in self.items:
            if root.remote:
                from .remote import list_remote_runs

                found = list_remote_runs(root.location, max_depth, options=self._options())
                runs += [Listed(self.run_name(root, r.rel), root, r.rel, r.url, r.mtime, r.is_dir) for r in found.runs]
                if found.error:
                    problems.append((root, found.error))
            else:
                try:
                    entries = list_runs([Path(root.location)], max_depth)
                except OSError as e:  # list_runs skips what it cannot read; a root gone mid-walk lands here
                    problems.append((root, f"{root.location}: {e.strerror or e}"))
                    continue
                runs += [Listed(self.run_name(root, e.rel), root, e.rel, str(e.path), e.mtime, e.is_dir)
                         for e in entries]
        runs.sort(key=lambda r: r.mtime, reverse=True)
        return Listing(tuple(runs), tuple(problems))

    def resolve(self, name: str) -> Listed:
        """The run `name` names, or Refused (the same sentence whatever the reason), or
        `source.Unreachable` when its root's host cannot be asked now. `mtime` is not looked up (0)."""
        root, rel = self.split(name)
        if root.remote:
            from .remote import resolve_remote_run

            try:
                url = resolve_remote_run(root.location, rel, options=self._options())
            except Refused as e:  # say the name the visitor gave, not the part under the root
                raise Refused(refusal(name), missing=e.missing, name=shown_name(name)) from None
            return Listed(name, root, rel, url, 0.0, True)
        try:
            path = resolve_run([Path(root.location)], rel)
        except Refused as e:
            raise Refused(refusal(name), missing=e.missing, name=shown_name(name)) from None
        return Listed(name, root, rel, str(path), 0.0, path.is_dir())

    def source(self, location: str) -> Source:
        """The source that reads the run at `location` (with this server's remote options)."""
        if is_url(location) and self.options:
            from .remote import RemoteSource

            return RemoteSource(location, options=self._options())
        return as_source(location)

    def root_of(self, location: str) -> Root | None:
        for root in self.items:
            base = root.location.rstrip("/")
            if location == base or location.startswith(base + "/"):
                return root
        return None


def _slug(text: str) -> str:
    """A root name part: letters, digits, '.', '_' and '-' only, not hidden (a leading '.' would be refused)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).lstrip(".-") or "root"
