"""The plain-Python parts under the pages: settings and text helpers (the registry: test_registry.py)."""
from __future__ import annotations

import os

import pytest

from radiodash.text import age, duration, md_escape
from radiodash.ui.params import is_fraction, is_step
from radiodash.ui.settings import SettingsError, parse


def test_settings_from_argv_and_environment(tmp_path):
    log = tmp_path / "run" / "a_.log"
    s = parse(["--log", str(log)], {})
    assert s.log == str(log.resolve()) and s.roots.locations == (str(log.parent.resolve()),) and not s.demo
    assert s.token is None and s.roots.name_of(s.log) == "a_.log"
    s = parse([], {"RADIODASH_LOG": str(log), "RADIODASH_ROOT": str(tmp_path), "RADIODASH_TOKEN": "t"})
    assert s.roots.locations == (str(tmp_path.resolve()),) and s.token == "t" and s.roots.name_of(s.log) == "run/a_.log"
    assert parse([], {}).demo
    assert parse(["--root", str(tmp_path)], {}).roots.locations == (str(tmp_path.resolve()),)


def test_several_roots_local_and_remote_from_flags_or_one_variable(tmp_path):
    a, b = tmp_path / "gpu1" / "results", tmp_path / "gpu2" / "results"
    url = "ssh://me@gpu3:2222/data/radiodiff/results"
    by_flags = parse(["--root", str(a), "--root", str(b), "--root", url], {})
    by_env = parse([], {"RADIODASH_ROOT": f"{a}  {b}\t{url}"})
    assert by_flags.roots == by_env.roots and not by_env.demo
    roots = by_env.roots
    assert roots.locations == (str(a.resolve()), str(b.resolve()), url)
    # the folder's name, the machine in front when two share it (both local here: then a number)
    names = [r.name for r in roots]
    assert len(set(names)) == 3 and names[2].endswith("results") and [r.machine for r in roots][2] == "gpu3"
    assert [r.remote for r in roots] == [False, False, True]
    assert roots.name_of(str(a / "runA")) == f"{names[0]}/runA"
    assert roots.name_of(url + "/runB") == f"{names[2]}/runB"
    assert roots.split(f"{names[2]}/x/runC") == (roots.items[2], "x/runC")
    quoted = parse([], {"RADIODASH_ROOT": f"'{tmp_path}/with space' {a}"}).roots
    assert quoted.locations[0] == str((tmp_path / "with space").resolve())
    with pytest.raises(SettingsError):
        parse(["--root", "ssh:///no-host"], {})


def test_text_helpers():
    assert md_escape("**bold** [x](javascript:alert(1)) <b>") == \
        r"\*\*bold\*\* \[x\]\(javascript\:alert\(1\)\) \<b\>"
    assert age(5) == "5 s ago" and age(180) == "3 min ago" and age(7200) == "2.0 h ago"
    assert duration(42) == "42 s" and duration(3_900) == "1 h 05 min" and duration(None) == "—"


def test_token_from_a_file_never_from_a_command_line_value(tmp_path):
    f = tmp_path / "token"
    f.write_text("  s3cret-from-file \n")
    assert parse(["--root", str(tmp_path), "--token-file", str(f)], {"RADIODASH_TOKEN": "env"}).token == "s3cret-from-file"
    assert parse(["--root", str(tmp_path)], {"RADIODASH_TOKEN": "env"}).token == "env"
    with pytest.raises(SettingsError, match="not accepted"):  # refused, and never served open because of it
        parse(["--root", str(tmp_path), "--token", "T"], {})


@pytest.mark.parametrize("content", [b"", b" \n", b"x" * 5000, b"\xff\xfe"])
def test_an_unusable_token_file_stops_the_server_instead_of_serving_open(tmp_path, content):
    f = tmp_path / "token"
    f.write_bytes(content)
    with pytest.raises(SettingsError):
        parse(["--token-file", str(f)], {})
    with pytest.raises(SettingsError):
        parse(["--token-file", str(tmp_path / "missing")], {})


def test_serve_puts_no_token_on_a_command_line(tmp_path, capsys):
    from radiodash.cli import build_parser, main, serve_command

    f = tmp_path / "token"
    f.write_text("s3cret-token-text\n")
    cmd, env = serve_command(build_parser().parse_args(["serve", "--root", str(tmp_path), "--token-file", str(f)]))
    assert "s3cret-token-text" not in " ".join(cmd) and cmd[-2:] == ["--token-file", str(f)]
    assert "RADIODASH_TOKEN" not in env or env["RADIODASH_TOKEN"] == os.environ.get("RADIODASH_TOKEN")
    assert main(["serve", "--token", "s3cret-token-text"]) == 2  # refused before anything starts
    assert "--token-file" in capsys.readouterr().err
    assert main(["serve", "--token-file", str(tmp_path / "missing")]) == 2
    assert "cannot read the token file" in capsys.readouterr().err


@pytest.mark.parametrize("text, ok", [("0", True), ("1200", True), ("1200.0", True), (str(10**12), True),
                                      ("-1", False), ("inf", False), ("-inf", False), ("1e999", False), ("nan", False),
                                      ("", False), ("12abc", False), (str(10**12 + 1), False), ("0x10", False)])
def test_step_parameters(text, ok):
    assert is_step(text) is ok


@pytest.mark.parametrize("text, ok", [("0", True), ("0.6", True), ("0.999", True), ("1", False), ("-0.1", False),
                                      ("nan", False), ("inf", False), ("", False)])
def test_fraction_parameters(text, ok):
    assert is_fraction(text) is ok


def test_markdown_escaping_breaks_autolinks_too():
    for text in ("http://evil.example/x", "https://e.x", "see www.evil.com", "mail me@evil.com", "ftp://h"):
        out = md_escape(text)
        assert "\u200b" in out and out.replace("\u200b", "").replace("\\", "") == text
    assert md_escape("train/rec_loss") == r"train/rec\_loss"  # nothing added where nothing links
