"""A small thread-safe LRU memo, shared by every viewer of the server.

Why not functools.lru_cache: keys here are built by the caller (run, version, view), the
value may be expensive to build and must not be built twice in parallel for nothing, and
entries are dropped by count (figures of old versions are never asked for again).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")
_MISSING = object()


class LRU(Generic[V]):
    """`get_or_build(key, build)`: the cached value, or `build()` stored under `key` (the oldest dropped)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: object = None) -> V | None:
        """The value under `key` (now the most recently used), or `default`."""
        with self._lock:
            if key not in self._items:
                return default  # type: ignore[return-value]
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: V) -> None:
        """Store `value`; the least recently used entries beyond `max_entries` are dropped."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        """Built outside the lock: two viewers asking at once may both build; the value is the same."""
        value = self.get(key, _MISSING)
        if value is _MISSING:  # a built None (a panel the run has not) is cached like any value
            value = build()
            self.put(key, value)
        return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
