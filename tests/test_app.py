"""Page logic through Streamlit's AppTest (no browser; the real watchdog follower runs in-process)."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from apptest import run_app

from radiodash.security import refusal, shown_name
from radiodash.text import md_escape
from radiodash.ui import access
from radiodash.ui.session import refusal_markdown

# slow: whole-app Streamlit AppTest runs (~1 s each);
# `make test` runs them, the quick run (-m "not slow") does not
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SECRET = "TOP-SECRET-MARKER-4711"

HEADER = ("2025-08-15 20:00:00,000 {'model': {'lossconfig': {'disc_start': 301, 'kl_weight': 1e-06, 'disc_weight': 0.5}}, "
          "'trainer': {'gradient_accumulate_every': 1, 'lr': 5e-06, 'min_lr': 0.1, 'train_num_steps': 2000, "
          "'save_and_sample_every': 500, 'log_freq': 100}}\n")


def step_line(step: int) -> str:
    sec = step // 10
    return (f"2025-08-15 20:{sec // 60:02d}:{sec % 60:02d},000 [Train Step] {step}/2000: train/total_loss: 1.50000, "
            f"train/kl_loss: 100.00000, train/nll_loss: 1.40000, train/rec_loss: 0.0{5 + step % 3}000, "
            f"train/d_weight: 5000.00000, train/disc_factor: {1 if step > 300 else 0}.00000, train/g_loss: -0.40000, "
            "lr: 0.00000, \n")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A root with two runs and a secret file outside it; clean Streamlit caches around each test."""
    root = tmp_path / "root"
    (root / "runA").mkdir(parents=True)
    (root / "runB").mkdir()
    (root / "runA" / "2025-08-15-20-00_.log").write_text(HEADER + "".join(step_line(s) for s in range(0, 1300, 100)))
    (root / "runB" / "2025-08-15-20-00_.log").write_text(HEADER + "".join(step_line(s) for s in range(0, 700, 100)))
    (tmp_path / "secret.log").write_text(f"{SECRET}\n")
    (root / "escape.log").symlink_to(tmp_path / "secret.log")
    for k in ("RADIODASH_LOG", "RADIODASH_ROOT", "RADIODASH_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RADIODASH_ROOT", str(root))
    monkeypatch.setattr(access, "GUARD", access.Guard())  # wrong tokens of one test do not slow another down
    st.cache_resource.clear()
    yield root
    st.cache_resource.clear()  # stops every follower (on_release)




def all_text(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "text", "error", "warning", "info",
                 "success", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [e.proto.body for e in at.get("html")]
    parts += [str(e.proto.body) for e in at.get("toast")]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    for sb in at.selectbox:
        parts += [str(o) for o in sb.options]
    for ms in at.multiselect:
        parts += [str(o) for o in ms.options]
    return "\n".join(parts)


def latest_step(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Latest step")


def test_latest_step_follows_the_log(env):
    at = run_app({"run": "runA"})
    assert not at.exception
    assert latest_step(at) == "1,200"
    assert any(m.label == "Steps/hour" and m.value == "36,000" for m in at.metric)  # 100 steps / 10 s
    with open(env / "runA" / "2025-08-15-20-00_.log", "a") as f:
        f.write(step_line(1300) + step_line(1400))
    for _ in range(50):  # the follower thread picks the append up; each run() reads its snapshot
        at.run()
        if latest_step(at) == "1,400":
            break
    assert latest_step(at) == "1,400"


@pytest.mark.parametrize("bad", ["../secret.log", "/etc/passwd", str(Path("/") / "tmp"), "%2e%2e/secret.log",
                                 "..%252fsecret.log", "runA/../../secret.log", "a\x00b", "escape.log", "x" * 300,
                                 "runA/" + "y" * 300 + ".log"])
def test_paths_outside_the_root_are_refused(env, bad):
    at = run_app({"run": bad})
    assert not at.exception
    assert [str(e.value) for e in at.error] == [refusal_markdown(refusal(bad), shown_name(bad))]
    text = all_text(at)
    assert SECRET not in text and "Latest step" not in text


@pytest.mark.parametrize("name", ["[Session expired - click here](http://evil/)", "![x](http://127.0.0.1:9/t.png)",
                                  "<img src=x onerror=alert(1)>", ":red[alarm] **bold** `code` $x^2$ ~~s~~"])
def test_refusals_are_plain_text(env, name):
    """A run name from the URL is repeated in the refusal with every Markdown character escaped."""
    for query, page in (({"run": name}, None), ({"run": name}, "views/report.py"), ({"runs": name}, "views/compare.py")):
        at = run_app(query, page)
        assert not at.exception
        errors = [str(e.value) for e in at.error]
        assert errors == [refusal_markdown(refusal(name), name)], (page, errors)
        assert not unescaped_markup(errors[0])


def unescaped_markup(text: str) -> list[str]:
    """Markdown/HTML characters of `text` outside code spans and not escaped by a backslash."""
    found, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "`":  # a code span: its content is literal up to the same fence
            fence = len(text[i:]) - len(text[i:].lstrip("`"))
            close = text.find("`" * fence, i + fence)
            assert close > 0, text
            i = close + fence
            continue
        if text[i] in "[]()!<>*_~$:|#":
            found.append(text[i])
        i += 1
    return found


@pytest.mark.parametrize("text", ["plain", "a`b", "``x``", "` lead", "trail `", "[x](http://e/)", " spaced "])
def test_md_literal_is_a_code_span_holding_exactly_the_text(text):
    from radiodash.ui.session import md_literal

    span = md_literal(text)
    fence = len(span) - len(span.lstrip("`"))
    assert span.startswith("`" * fence + " ") and span.endswith(" " + "`" * fence)
    assert "`" * fence not in text and span[fence + 1:-fence - 1] == text


def test_missing_and_outside_runs_get_the_same_sentence(env):
    outside = run_app({"run": "escape.log"})  # a symlink to an existing file outside the root
    missing = run_app({"run": "absent.log"})
    assert str(outside.error[0].value).replace("escape", "N") == str(missing.error[0].value).replace("absent", "N")


def test_hidden_and_non_run_files_are_not_openable(env):
    (env / ".env").write_text(f"{SECRET}\n")
    (env / "runA" / ".git").mkdir()
    (env / "runA" / ".git" / "config").write_text(f"{SECRET}\n")
    for rel in (".env", "runA/.git/config"):
        at = run_app({"run": rel})
        assert not at.exception and at.error
        assert SECRET not in all_text(at) and "Latest step" not in all_text(at)


def test_token_gate(env, monkeypatch):
    monkeypatch.setenv("RADIODASH_TOKEN", "s3cret")
    st.cache_resource.clear()
    at = run_app({"run": "runA", "metrics": ["train/rec_loss", "train/kl_loss"]})
    forms = [e.proto.body for e in at.get("html")]
    assert forms == [access.token_form()] and 'type="password"' in forms[0] and "Access token" in forms[0]
    assert access.ASK in all_text(at)
    text = all_text(at)
    assert "runA" not in text and "runB" not in text and "Latest step" not in text
    at = run_app({"token": "nope", "run": "runA"})
    assert [str(e.value) for e in at.error] == ["That token was not accepted."]
    assert "runA" not in all_text(at)
    at = run_app({"token": "s3cret", "run": "runA"})
    assert latest_step(at) == "1,200"
    assert "token" not in at.query_params  # accepted once, not left in the URL


def test_wrong_tokens_are_slowed_down_and_logged(env, monkeypatch, caplog):
    monkeypatch.setenv("RADIODASH_TOKEN", "s3cret")
    monkeypatch.setattr(access, "GUARD", access.Guard(clock=lambda: 1000.0))  # time stands still: no test on the clock
    st.cache_resource.clear()
    with caplog.at_level("WARNING", logger="radiodash.access"):
        sentences = [str(run_app({"token": f"guess{i}", "run": "runA"}).error[0].value) for i in range(5)]
        # while the client must wait, even the right token is not compared
        at = run_app({"token": "s3cret", "run": "runA"})
    assert sentences[:3] == ["That token was not accepted."] * 3
    assert all("try again in" in s for s in sentences[3:]), sentences
    assert "try again in" in str(at.error[0].value) and "Latest step" not in all_text(at)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged.count("wrong access token from localhost") == 4 and logged.count("refused unchecked") == 2
    assert "guess" not in logged and "s3cret" not in logged


@pytest.mark.parametrize("page, query", [("views/live.py", {"run": "runA"}), ("views/compare.py", {"runs": "runA,runB"}),
                                         ("views/report.py", {"run": "runA"})])
def test_each_page_opened_first_on_a_fresh_app_shows_only_the_token_box(env, monkeypatch, page, query):
    """The regression test of the old pages/ leak, without a browser: a page's own URL as the very
    first request of a fresh server must still show the token box and no run name."""
    monkeypatch.setenv("RADIODASH_TOKEN", "s3cret")
    st.cache_resource.clear()
    at = run_app(query, page)
    assert not at.exception
    assert any('type="password"' in e.proto.body for e in at.get("html"))
    text = all_text(at)
    for name in ("runA", "runB"):
        assert name not in text, (page, text)
    assert "Latest step" not in text and "Compare runs" not in text and "Training progress report" not in text


def test_a_view_script_run_alone_shows_nothing(env):
    for view in ("live", "compare", "report"):
        at = AppTest.from_file(str(ROOT / "views" / f"{view}.py"), default_timeout=60)
        at.query_params["run"] = "runA"
        at.run()
        assert [str(e.value) for e in at.error] == ["Open RadioDash from its main page."]
        assert "runA" not in all_text(at).replace("Open RadioDash", "")


@pytest.mark.parametrize("page, query, key", [
    (None, {"until": "1e999"}, "until"), (None, {"from": "inf"}, "from"), (None, {"from": "-inf"}, "from"),
    (None, {"smooth": "nan"}, "smooth"), (None, {"until": ["100", "1e999"]}, "until"),
    ("views/report.py", {"rep_until": "inf"}, "rep_until"), ("views/report.py", {"rep_from": "1e999"}, "rep_from"),
    ("views/compare.py", {"runs": "runA", "cmp_smooth": "inf"}, "cmp_smooth"),
    (None, {"metrics": ["m"] * 100}, "metrics"), (None, {"x": "y" * 5000}, "x"),
])
def test_url_junk_is_one_sentence_never_a_traceback(env, page, query, key):
    at = run_app({"run": "runA", **query}, page)
    assert not at.exception
    toasts = [str(t.proto.body) for t in at.get("toast")]
    assert toasts == [md_escape(f"Ignored in the address: {key} (not a usable value).")]
    assert key not in at.query_params


def test_deleted_run_keeps_waiting_and_shows_the_run_again(env, caplog):
    log = env / "single.log"
    log.write_text(HEADER + "".join(step_line(s) for s in range(0, 500, 100)))
    at = run_app({"run": "single.log"})
    assert latest_step(at) == "400"
    log.unlink()
    waiting = "single.log was deleted; waiting for it to appear again."
    for _ in range(50):
        at.run()
        if any(str(i.value) == refusal_markdown(waiting, "single.log") for i in at.info):
            break
    assert [str(i.value) for i in at.info][:1] == ["` single.log ` was deleted; waiting for it to appear again\\."]
    assert not at.error and not at.exception
    assert at.query_params["run"] == "single.log"
    caplog.clear()
    with caplog.at_level("WARNING", logger="radiodash.security"):
        at.run()  # a waiting page does not log a refusal on every redraw
    assert any(str(i.value) == refusal_markdown(waiting, "single.log") for i in at.info)
    assert not [r for r in caplog.records if r.name == "radiodash.security"]
    assert run_app({"run": "single.log"}).error  # a fresh visitor is told there is no such run
    log.write_text(HEADER + "".join(step_line(s) for s in range(0, 700, 100)))
    for _ in range(50):  # the follower reads the new file; each run() draws its snapshot
        at.run()
        if latest_step(at) == "600":
            break
    assert latest_step(at) == "600" and not any("deleted" in str(i.value) for i in at.info)


def test_view_state_comes_from_the_url(env):
    at = run_app({"run": "runA", "smooth": "0.9", "x": "hours", "scale": "log", "smoother": "centered"})
    assert not at.exception
    assert at.slider(key="smooth").value == pytest.approx(0.9)
    assert at.radio(key="x").value == "hours" and at.radio(key="scale").value == "log"
    assert at.radio(key="smoother").value == "centered"


def test_demo_mode_without_settings(monkeypatch):
    for k in ("RADIODASH_LOG", "RADIODASH_ROOT", "RADIODASH_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    st.cache_resource.clear()
    try:
        at = run_app()
        assert any("Demo" in str(i.value) for i in at.info)
        assert not at.exception
    finally:
        st.cache_resource.clear()


def test_compare_page_lists_both_runs(env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/compare.py")
    at.query_params["runs"] = "runA,runB"
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert sorted(table["run"]) == ["runA", "runB"] and sorted(table["latest step"]) == [600, 1200]


def test_report_page_shows_the_report(env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["run"] = "runA"
    at.run()
    at.switch_page("views/report.py")
    at.run()
    assert not at.exception
    assert any("Training progress report" in str(m.value) for m in at.markdown)


def table(at: AppTest, *columns: str):
    """The page's st.dataframe whose first columns are `columns`."""
    found = [d.value for d in at.dataframe if list(d.value.columns[:len(columns)]) == list(columns)]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def test_live_page_tables_are_the_analysis(env):
    from radiodash import open_run
    from radiodash.analysis import analyze

    at = run_app({"run": "runA"})
    assert not at.exception
    run = open_run(env / "runA")
    a = analyze(run.snapshot())
    run.close()
    shown = [str(m.value) for m in at.markdown if " · steps " in str(m.value)]
    assert shown == [f"**{md_escape(p.name)}** · steps {p.start_step:,} to {p.end_step:,} — {md_escape(p.description)}"
                     for p in a.phases]
    checkpoints = table(at, "milestone", "step")
    assert list(checkpoints["step"]) == list(a.checkpoint_files["step"]) == [500, 1000]


def test_a_deleted_symlink_run_keeps_waiting_too(env):
    """The run's name is gone while the file it led to stays: the page waits for the name."""
    (env / "alias.log").symlink_to(env / "runA" / "2025-08-15-20-00_.log")
    at = run_app({"run": "alias.log"})
    assert latest_step(at) == "1,200"
    (env / "alias.log").unlink()
    at.run()
    assert [str(i.value) for i in at.info][:1] == [refusal_markdown("alias.log was deleted; waiting for it to appear "
                                                                    "again.", "alias.log")]
    assert not at.error and not at.exception
