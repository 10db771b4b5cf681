"""Only logs under the root can be named; every traversal trick is refused and logged."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from radiodash.security import Refused, list_runs, resolve_run, token_matches


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    (root / "runA").mkdir(parents=True)
    (root / "runA" / "2025-08-15-20-41_.log").write_text("x\n")
    (root / "loose.log").write_text("y\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET\n")
    os.symlink(secret, root / "escape.log")
    os.symlink(tmp_path, root / "updir")
    return root, secret


@pytest.mark.parametrize("rel", [
    "../secret.txt", "runA/../../secret.txt", "/etc/passwd", str(Path("/etc/passwd")), "%2e%2e/secret.txt",
    "..%2fsecret.txt", "%252e%252e%252fsecret.txt", "runA/%00", "runA\x00.log", "escape.log", "updir/secret.txt",
    "..\\secret.txt", "C:/windows", "",
])
def test_traversal_refused(tree, rel, caplog):
    root, _ = tree
    with caplog.at_level(logging.WARNING, logger="radiodash.security"):
        with pytest.raises(Refused) as e:
            resolve_run([root], rel)
    assert "TOP-SECRET" not in str(e.value)
    if rel and rel not in ("",):
        assert caplog.records or "no run" in str(e.value)


def test_symlink_escape_is_logged(tree, caplog):
    root, _ = tree
    with caplog.at_level(logging.WARNING, logger="radiodash.security"):
        with pytest.raises(Refused, match="outside"):
            resolve_run([root], "escape.log")
    assert any("escape.log" in r.getMessage() for r in caplog.records)


def test_allowed_paths(tree):
    root, _ = tree
    assert resolve_run([root], "runA") == (root / "runA").resolve()
    assert resolve_run([root], "runA/2025-08-15-20-41_.log").name == "2025-08-15-20-41_.log"
    assert resolve_run([root], "loose.log") == (root / "loose.log").resolve()


def test_list_runs_hides_escapes_and_orders_newest_first(tree):
    root, _ = tree
    os.utime(root / "loose.log", (1, 1))
    runs = list_runs([root])
    rels = [r.rel for r in runs]
    assert rels == ["runA", "loose.log"]
    assert "escape.log" not in rels


def test_token():
    assert token_matches(None, None) and token_matches("x", "")
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cre", "s3cret") and not token_matches(None, "s3cret") and not token_matches("", "s3cret")
