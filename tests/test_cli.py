"""`python -m radiodash parse|simulate` as a user runs them (a real subprocess)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from radiodash.simulate import SimConfig, render

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "radiodash", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_parse_writes_one_row_per_step_with_the_documented_columns(tmp_path):
    files, truth = render(SimConfig(train_num_steps=3_000, log_freq=100, grad_accum=2, resume_at=1_234))
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    out = tmp_path / "out.csv"
    res = _cli("parse", str(tmp_path), "--csv", str(out))
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(out)
    assert list(df.columns[:4]) == ["step", "time", "segment", "file"]
    assert {"train/total_loss", "train/disc_loss", "lr"} <= set(df.columns)
    assert df["step"].tolist() == truth.steps
    assert df["file"].str.endswith("_.log").all()
    assert df.loc[df.step == 1_000, "segment"].item() == 1  # the resumed launch wins for repeated steps
    assert "30 step records" in res.stderr and "2 launch(es)" in res.stderr


def test_parse_of_a_missing_path_fails_with_a_clear_message(tmp_path):
    res = _cli("parse", str(tmp_path / "nope.log"), "--csv", str(tmp_path / "o.csv"))
    assert res.returncode == 2 and "does not exist" in res.stderr


def test_simulate_writes_a_results_folder(tmp_path):
    res = _cli("simulate", str(tmp_path / "run"), "--steps", "2000", "--log-freq", "100", "--accum", "2",
               "--resume-at", "1200", "--save-every", "500")
    assert res.returncode == 0, res.stderr
    logs = sorted((tmp_path / "run").glob("*_.log"))
    assert len(logs) == 2
    # launch 1 logs steps 0..1,200 (13 x 2 lines); milestone 1,200 // 500 = 2, so launch 2 logs 1,000..1,900 (10 x 2)
    assert "wrote 46 step lines" in res.stdout


def test_analyze_json_and_report(tmp_path):
    import json

    files, truth = render(SimConfig(train_num_steps=20_000, log_freq=100, disc_start=8_001, resume_at=12_345,
                                    save_and_sample_every=1_000, grad_accum=2))
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    res = _cli("analyze", str(tmp_path), "--json")
    assert res.returncode == 0, res.stderr
    j = json.loads(res.stdout)
    assert j["records"] == len(truth.steps) and j["steps"] == {"first": 0, "last": 19_900, "total": 20_000}
    assert [s["resumed_from_milestone"] for s in j["segments"]] == [None, 12]
    on = next(e for e in j["events"] if e["kind"] == "discriminator_on")
    assert (on["step"], on["configured_step"], on["last_off_step"]) == (8_100, 8_001, 8_000)
    res = _cli("analyze", str(tmp_path), "--from-step", "5000", "--until-step", "6000")
    assert json.loads(res.stdout)["records"] == 11
    out, html = tmp_path / "r.md", tmp_path / "r.html"
    res = _cli("report", str(tmp_path), "-o", str(out), "--html", str(html))
    assert res.returncode == 0, res.stderr
    assert "## Areas for attention" in out.read_text() and "plotly" in html.read_text()
