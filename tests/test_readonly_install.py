"""`parse` works from a read-only install with a read-only home: no cache location is writable.

A read-only tmpfs holds a copy of the package, HOME and XDG_CACHE_HOME (permission bits do not
stop root, a read-only mount does). The compiled scanner then compiles without a cache.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mounts import remount_read_only, tmpfs

REPO = Path(__file__).resolve().parents[1]
LOG = ("2025-08-15 20:41:03,512 {'model': {'lossconfig': {'disc_start': 50001}}, 'trainer': {'train_num_steps': 1000}}\n"
       "2025-08-15 20:41:07,376 [Train Step] 100/1000: train/total_loss: 1811.20437, lr: 0.00000, \n")


@pytest.fixture
def readonly_tree():
    with tmpfs("64m") as mnt:
        shutil.copytree(REPO / "radiodash", mnt / "radiodash", ignore=shutil.ignore_patterns("__pycache__"))
        (mnt / "home").mkdir()
        (mnt / "run").mkdir()
        (mnt / "run" / "2025-08-15-20-41_.log").write_text(LOG)
        remount_read_only(mnt)
        yield mnt


@pytest.mark.slow
def test_parse_from_a_read_only_install_and_home(readonly_tree, tmp_path):
    assert not os.access(readonly_tree / "radiodash", os.W_OK) or subprocess.run(
        ["touch", str(readonly_tree / "radiodash" / "x")], capture_output=True).returncode != 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(HOME=str(readonly_tree / "home"), XDG_CACHE_HOME=str(readonly_tree / "home" / ".cache"),
               PYTHONPATH=str(readonly_tree), PYTHONDONTWRITEBYTECODE="1")
    out = tmp_path / "out.csv"
    proc = subprocess.run([sys.executable, "-m", "radiodash", "parse", str(readonly_tree / "run"), "--csv", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().splitlines()[1].startswith("100,")
    assert proc.stderr.count("compiling without a cache") == 1  # said once, not once per function
