"""The one way RadioDash compiles a function: numba's `njit`, cached on disk when it can be.

Why a wrapper: numba caches compiled code next to the source (`__pycache__`) or in the user's
cache folder, and when neither is writable (a read-only install with a read-only home: a
container, a service account) `njit(cache=True)` raises at import time ("cannot cache function
…: no locator available"). The dashboard must still start: it then compiles without a cache —
a few seconds more at the first parse of each process — and says so once in the log.
"""
from __future__ import annotations

import logging
from typing import Callable, TypeVar

from numba import njit

log = logging.getLogger("radiodash.jit")
F = TypeVar("F", bound=Callable)
_warned = False


def compiled(fn: F) -> F:
    """`njit(cache=True, nogil=True)`, or without the cache when no cache location is writable."""
    global _warned
    try:
        return njit(cache=True, nogil=True)(fn)
    except RuntimeError as e:
        if "cannot cache" not in str(e):
            raise
        if not _warned:
            _warned = True
            log.warning("no writable cache location for compiled code (%s); compiling without a cache: "
                        "the first parse of each process takes a few seconds longer", e)
        return njit(cache=False, nogil=True)(fn)
