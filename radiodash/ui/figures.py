"""Figures shared by every session: built once per (run, version, view), not once per viewer."""
from __future__ import annotations

from typing import Any, Callable

from ..cache import LRU

MAX_ENTRIES = 256
_FIGURES: LRU[Any] = LRU(MAX_ENTRIES)


def cached(key: tuple, build: Callable[[], Any]) -> Any:
    """The figure under `key` (run path, version, panel and view choices), built on first use."""
    return _FIGURES.get_or_build(key, build)
