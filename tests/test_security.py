"""Only runs under the root can be listed or named; every other entry is skipped or refused, never an exception."""
from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radiodash.security import MAX_DEPTH, Refused, list_runs, refusal, resolve_run, token_matches


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


@pytest.fixture
def hostile(tree):
    """The root of `tree` plus every entry kind a shared filesystem can hold."""
    root, _ = tree
    os.symlink("loop.log", root / "loop.log")  # a symlink loop
    os.symlink("missing.log", root / "dangling.log")
    os.mkfifo(root / "fifo.log")
    os.mkfifo(root / "runA" / "2025-08-15-20-42_.log")  # a FIFO named like a launch file
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(root / "sock.log"))
    (root / ".env").write_text("PASSWORD=hunter2\n")
    (root / "good" / ".git").mkdir(parents=True)
    (root / "good" / ".git" / "config").write_text("[remote]\n")
    (root / "good" / "2025-08-15-20-41_.log").write_text("z\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.log").write_text("h\n")
    (root / "notes.md").write_text("not a run\n")
    os.symlink(".env", root / "env.log")  # a run-file name leading to a hidden file
    os.symlink(".hidden/x.log", root / "hidden-alias.log")  # … to a run file inside a hidden folder
    os.symlink("runA/2025-08-15-20-41_.log", root / "alias.log")  # a symlink inside the root: fine
    return root


@pytest.mark.parametrize("rel", [
    "../secret.txt", "runA/../../secret.txt", "/etc/passwd", str(Path("/etc/passwd")), "%2e%2e/secret.txt",
    "..%2fsecret.txt", "%252e%252e%252fsecret.txt", "runA/%00", "runA\x00.log", "escape.log", "updir/secret.txt",
    "..\\secret.txt", "C:/windows", "nothing-here.log", "a" * 300, "b/" * 200 + "x.log",
])
def test_traversal_refused_and_logged(tree, rel, caplog):
    root, _ = tree
    with caplog.at_level(logging.WARNING, logger="radiodash.security"):
        with pytest.raises(Refused) as e:
            resolve_run([root], rel)
    assert "TOP-SECRET" not in str(e.value) and str(root) not in str(e.value)
    assert [r for r in caplog.records if r.name == "radiodash.security"], "every refusal is logged on the server"


def test_empty_name_is_refused(tree):
    root, _ = tree
    with pytest.raises(Refused):
        resolve_run([root], "")


def test_missing_and_outside_get_the_same_sentence(tree, tmp_path):
    """The answer must not tell whether a path outside the root exists."""
    root, _ = tree
    (tmp_path / "other.log").write_text("outside\n")
    os.symlink(tmp_path / "other.log", root / "exists-outside.log")
    os.symlink(tmp_path / "absent.log", root / "absent-outside.log")
    sentences = {}
    for rel in ("exists-outside.log", "absent-outside.log", "no-such-run.log", "../secret.txt", "../absent.txt"):
        with pytest.raises(Refused) as e:
            resolve_run([root], rel)
        sentences[rel] = str(e.value).replace(rel, "NAME")
        assert str(e.value) == refusal(rel)
    assert len(set(sentences.values())) == 1, sentences
    with pytest.raises(Refused) as e:
        resolve_run([root], "no-such-run.log")
    assert e.value.missing  # only for the server's own logic (a deleted run's page keeps waiting)
    with pytest.raises(Refused) as e:
        resolve_run([root], "exists-outside.log")
    assert not e.value.missing


def test_symlink_escape_is_logged(tree, caplog):
    root, _ = tree
    with caplog.at_level(logging.WARNING, logger="radiodash.security"):
        with pytest.raises(Refused):
            resolve_run([root], "escape.log")
    assert any("escape.log" in r.getMessage() and "outside" in r.getMessage() for r in caplog.records)


def test_allowed_paths(tree):
    root, _ = tree
    assert resolve_run([root], "runA") == (root / "runA").resolve()
    assert resolve_run([root], "runA/2025-08-15-20-41_.log").name == "2025-08-15-20-41_.log"
    assert resolve_run([root], "loose.log") == (root / "loose.log").resolve()
    assert resolve_run([root], "./runA/") == (root / "runA").resolve()


def test_list_runs_hides_escapes_and_orders_newest_first(tree):
    root, _ = tree
    os.utime(root / "loose.log", (1, 1))
    runs = list_runs([root])
    rels = [r.rel for r in runs]
    assert rels == ["runA", "loose.log"]
    assert "escape.log" not in rels


def test_hostile_entries_are_skipped_by_the_listing(hostile):
    """A loop, a dangling link, a FIFO, a socket, hidden files and non-run files: none listed, none raises."""
    rels = sorted(e.rel for e in list_runs([hostile]))
    assert rels == ["alias.log", "good", "loose.log", "runA"]


@pytest.mark.parametrize("rel", ["loop.log", "dangling.log", "fifo.log", "sock.log", "runA/2025-08-15-20-42_.log",
                                 ".env", "good/.git/config", "good/.git", ".hidden/x.log", "notes.md", "env.log",
                                 "hidden-alias.log",
                                 "%2eenv", "good/%2egit/config"])
def test_hostile_entries_are_refused(hostile, rel):
    with pytest.raises(Refused) as e:
        resolve_run([hostile], rel)
    assert str(e.value) == refusal(rel)


def test_every_listed_run_resolves(hostile):
    for entry in list_runs([hostile]):
        assert resolve_run([hostile], entry.rel)


def test_refusal_sentence_is_bounded_and_printable():
    s = refusal("x" * 10_000 + "\n")
    assert len(s) < 120 and "\n" not in s


# ------------------------------------------------------------------ property: any tree, no exception

KINDS = st.sampled_from(["file", "dir", "link-in", "link-out", "dangling", "loop", "fifo"])
NAMES = st.sampled_from(["a.log", "b_.log", "c.txt", "nohup.out", ".env", "d", ".git", "e.md", "f_.log"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=MAX_DEPTH + 2), KINDS), max_size=14))
def test_any_tree_lists_without_error_and_only_resolvable_runs(tmp_path_factory, entries):
    base = tmp_path_factory.mktemp("prop")
    root = base / "root"
    root.mkdir()
    (base / "outside.log").write_text("secret\n")
    for parts, kind in entries:
        p = root.joinpath(*parts)
        if os.path.lexists(p):  # taken by an earlier entry (writing into a FIFO made here would block)
            continue
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            if kind == "file":
                p.write_text("x\n")
            elif kind == "dir":
                p.mkdir()
            elif kind == "link-in":
                os.symlink(root / parts[0], p)
            elif kind == "link-out":
                os.symlink(base / "outside.log", p)
            elif kind == "dangling":
                os.symlink(base / "nope", p)
            elif kind == "loop":
                os.symlink(p.name, p)
            else:
                os.mkfifo(p)
        except OSError:  # a name already taken by another kind, a parent that is a file: skip
            continue
    listed = list_runs([root])
    for e in listed:
        real = resolve_run([root], e.rel)
        assert real == Path(os.path.realpath(real)) and (real == root or root.resolve() in real.parents)
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        try:
            real = resolve_run([root], rel)
        except Refused:
            continue
        assert root.resolve() in real.parents or real == root.resolve()
        assert real.is_dir() or (real.is_file() and not any(x.startswith(".") for x in p.relative_to(root).parts))


def test_token():
    assert token_matches(None, None) and token_matches("x", "")
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cre", "s3cret") and not token_matches(None, "s3cret") and not token_matches("", "s3cret")
    assert not token_matches("\udcff", "s3cret")  # a lone surrogate from a URL never raises
