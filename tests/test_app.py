"""Page logic through Streamlit's AppTest (no browser; the real watchdog follower runs in-process)."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

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
    st.cache_resource.clear()
    yield root
    st.cache_resource.clear()  # stops every follower (on_release)


def run_app(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    return at


def all_text(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "text", "error", "warning", "info",
                 "success", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
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
                                 "..%252fsecret.log", "runA/../../secret.log", "a\x00b", "escape.log"])
def test_paths_outside_the_root_are_refused(env, bad):
    at = run_app({"run": bad})
    assert not at.exception
    assert at.error and str(at.error[0].value).startswith("refused")
    text = all_text(at)
    assert SECRET not in text and "Latest step" not in text


def test_token_gate(env, monkeypatch):
    monkeypatch.setenv("RADIODASH_TOKEN", "s3cret")
    st.cache_resource.clear()
    at = run_app({"run": "runA"})
    assert [t.label for t in at.text_input] == ["Access token"]
    text = all_text(at)
    assert "runA" not in text and "runB" not in text and "Latest step" not in text
    at = run_app({"token": "nope", "run": "runA"})
    assert any("wrong token" in str(e.value) for e in at.error)
    assert "runA" not in all_text(at)
    at = run_app({"token": "s3cret", "run": "runA"})
    assert latest_step(at) == "1,200"
    assert "token" not in at.query_params  # accepted once, not left in the URL
    at = run_app({"run": "runA"})
    at.text_input[0].input("s3cret").run()
    assert latest_step(at) == "1,200"


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


def test_live_page_tables_are_the_analysis(env):
    from radiodash import open_run
    from radiodash.analysis import analyze

    at = run_app({"run": "runA"})
    assert not at.exception
    run = open_run(env / "runA")
    a = analyze(run.snapshot())
    run.close()
    phases = at.dataframe[0].value
    assert list(phases.columns) == ["phase", "from step", "to step", "what happened"]
    assert list(phases["from step"]) == [p.start_step for p in a.phases]
    assert list(phases["phase"]) == [p.name for p in a.phases]
    checkpoints = at.dataframe[2].value
    assert list(checkpoints["step"]) == list(a.checkpoints["step"])
