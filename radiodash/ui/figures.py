"""Figures shared by every session: built once per (run, version, view), not once per viewer."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable

_CACHE: OrderedDict[tuple, Any] = OrderedDict()
_LOCK = threading.Lock()
MAX_ENTRIES = 256


def cached(key: tuple, build: Callable[[], Any]) -> Any:
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = build()
    with _LOCK:
        _CACHE[key] = value
        while len(_CACHE) > MAX_ENTRIES:
            _CACHE.popitem(last=False)
    return value
