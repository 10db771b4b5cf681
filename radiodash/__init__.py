"""RadioDash: live monitoring of RadioDiff training runs (core: tail → parse → store → analysis → charts)."""
from __future__ import annotations

__version__ = "0.1.0"


def open_run(path, **kwargs):
    """Open a log file or a results folder and read what exists now (see radiodash.run)."""
    from .run import open_run as _open_run

    return _open_run(path, **kwargs)


__all__ = ["open_run", "__version__"]
