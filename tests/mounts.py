"""A real tmpfs for tests that need a small or a read-only filesystem (mounting needs root)."""
from __future__ import annotations

import os
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


@contextmanager
def tmpfs(size: str) -> Iterator[Path]:
    """A fresh tmpfs of `size` (e.g. "256k"); the test is skipped where it cannot be mounted."""
    mnt = Path(tempfile.mkdtemp(prefix="radiodash-tmpfs-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "none", str(mnt)], capture_output=True).returncode:
        os.rmdir(mnt)
        pytest.skip("needs mount (root) for a tmpfs of its own")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        os.rmdir(mnt)


def remount_read_only(mnt: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
