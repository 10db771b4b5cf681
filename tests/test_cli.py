"""`python -m radiodash parse|simulate` as a user runs them (a real subprocess)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from radiodash.simulate import SimConfig, render

# slow: every test runs `python -m radiodash` as a subprocess (~3 s each: imports and the scanner's cache);
# `make test` runs them, the quick run (-m "not slow") does not
pytestmark = pytest.mark.slow

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
    assert res.returncode == 2 and res.stderr == f"radiodash: {tmp_path / 'nope.log'} does not exist\n"


def _sim_folder(tmp_path, **kw) -> Path:
    files, _ = render(SimConfig(**{**dict(train_num_steps=5_000, log_freq=100, save_and_sample_every=1_000), **kw}))
    run = tmp_path / "run"
    run.mkdir()
    for name, data in files.items():
        (run / name).write_bytes(data)
    return run


def _one_line_error(res, status: int, message: str) -> None:
    """The status, exactly one line on stderr (the message), no traceback, nothing on stdout."""
    assert res.returncode == status, res.stderr
    assert res.stderr == f"radiodash: {message}\n", res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_output_in_a_missing_folder_is_one_line_not_a_traceback(tmp_path):
    run = _sim_folder(tmp_path)
    missing = tmp_path / "no" / "such"
    _one_line_error(_cli("report", str(run), "-o", str(missing / "r.md")), 2,
                    f"cannot write the Markdown report to {missing / 'r.md'}: the folder {missing} does not exist")
    _one_line_error(_cli("report", str(run), "-o", str(tmp_path / "r.md"), "--html", str(missing / "r.html")), 2,
                    f"cannot write the HTML report to {missing / 'r.html'}: the folder {missing} does not exist")
    assert not (tmp_path / "r.md").exists()  # nothing half-done: checked before any work
    _one_line_error(_cli("parse", str(run), "--csv", str(missing / "t.csv")), 2,
                    f"cannot write the CSV to {missing / 't.csv'}: the folder {missing} does not exist")
    _one_line_error(_cli("parse", str(run), "--csv", str(tmp_path)), 2,
                    f"cannot write the CSV to {tmp_path}: it is a folder")


@pytest.mark.parametrize("kind", ["binary", "plain text", "empty folder"])
def test_input_without_a_radiodiff_log_line_is_status_1(tmp_path, kind):
    if kind == "binary":
        path = tmp_path / "weights.log"
        path.write_bytes(bytes(range(256)) * 40)
    elif kind == "plain text":
        path = tmp_path / "notes.txt"
        path.write_text("hello\nthis is not a training log\n")
    else:
        path = tmp_path / "empty"
        path.mkdir()
    for cmd in (("analyze", str(path)), ("report", str(path), "-o", str(tmp_path / "r.md")),
                ("parse", str(path), "--csv", str(tmp_path / "t.csv"))):
        _one_line_error(_cli(*cmd), 1, f"no RadioDiff log lines in {path}")


def test_bad_windows_say_why(tmp_path):
    run = _sim_folder(tmp_path)
    _one_line_error(_cli("analyze", str(run), "--from-step", "3000", "--until-step", "1000"), 2,
                    "--from-step 3,000 is after --until-step 1,000: no step can be in that window")
    _one_line_error(_cli("analyze", str(run), "--from-step", "-5"), 2, "--from-step -5 is negative: steps start at 0")
    _one_line_error(_cli("report", str(run), "-o", str(tmp_path / "r.md"), "--from-step", "9000"), 1,
                    "no step record in steps 9,000 to the latest: the log has steps 0 to 4,900")


def test_non_finite_values_leak_no_warning_and_the_csv_writes_them_as_logged(tmp_path):
    run = _sim_folder(tmp_path, nan_step=1_000, grad_accum=2)  # nan from step 1,000 to the end
    log = sorted(run.glob("*_.log"))[0]
    text = log.read_text().replace("train/g_loss: nan", "train/g_loss: -inf", 3)
    log.write_text(text)
    res = _cli("analyze", str(run))
    assert res.returncode == 0 and res.stderr == ""
    j = __import__("json").loads(res.stdout)
    (nf,) = [a for a in j["alerts"] if a["code"] == "non_finite_loss"]
    assert "train/g_loss" in nf["metrics"] and len(nf["metrics"]) == 5
    res = _cli("report", str(run), "-o", str(tmp_path / "r.md"), "--html", str(tmp_path / "r.html"))
    assert res.returncode == 0 and res.stderr.count("\n") == 1 and res.stderr.startswith("wrote "), res.stderr
    res = _cli("parse", str(run), "--csv", str(tmp_path / "t.csv"))
    assert res.returncode == 0 and "Warning" not in res.stderr
    df = pd.read_csv(tmp_path / "t.csv", keep_default_na=False, dtype=str)
    assert df.loc[df.step == "1000", "train/g_loss"].item() == "-inf"
    assert df.loc[df.step == "1300", "train/rec_loss"].item() == "nan" and (df["train/total_loss"] != "").all()


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
    assert j["records"] == len(truth.steps)
    assert {k: j["steps"][k] for k in ("first", "last", "total")} == {"first": 0, "last": 19_900, "total": 20_000}
    assert j["state"] == "finished" and j["steps"]["first_time"] == "2025-08-15T20:41:07.512000"
    assert [s["total_steps"] for s in j["segments"]] == [20_000, 20_000]
    assert [s["resumed_from_milestone"] for s in j["segments"]] == [None, 12]
    on = next(e for e in j["events"] if e["kind"] == "discriminator_on")
    assert (on["step"], on["configured_step"], on["last_off_step"]) == (8_100, 8_001, 8_000)
    res = _cli("analyze", str(tmp_path), "--from-step", "5000", "--until-step", "6000")
    assert json.loads(res.stdout)["records"] == 11
    out, html = tmp_path / "r.md", tmp_path / "r.html"
    res = _cli("report", str(tmp_path), "-o", str(out), "--html", str(html))
    assert res.returncode == 0, res.stderr
    md = out.read_text()
    assert md.index("## Summary") < md.index("## Key metrics") < md.index("## Configuration")
    assert "Plotly.newPlot" in html.read_text() and html.read_text().startswith("<!doctype html>")
    pngs = sorted((tmp_path / "r-charts").glob("*.png"))
    assert pngs and all(f"r-charts/{p.name}" in md for p in pngs)  # Markdown links its static charts
    assert res.stderr == f"wrote {out}, {len(pngs)} chart image(s) in {tmp_path / 'r-charts'}, {html}\n"


# ------------------------------------------------------------------ event files


def _events_folder(tmp_path, **kw) -> tuple[Path, object, dict]:
    cfg = dict(train_num_steps=2_000, log_freq=100, save_and_sample_every=500, grad_accum=2, disc_start=1_001,
               events=True, samples=True)
    files, truth = render(SimConfig(**{**cfg, **kw}))
    run = tmp_path / "run"
    run.mkdir()
    for name, data in files.items():
        (run / name).write_bytes(data)
    return run, truth, files


def test_parse_events_writes_the_per_step_table_as_tensorboard_reads_it(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    run, truth, _ = _events_folder(tmp_path, resume_at=1_234, nan_step=1_800)
    out = tmp_path / "events.csv"
    res = _cli("parse", str(run), "--events", "--csv", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stderr == f"wrote {out}: {len(truth.event_steps):,} steps × 10 tags from the event files\n"
    df = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert list(df.columns) == ["step", "wall_time", *truth.event_tags]
    assert df["step"].astype(int).tolist() == truth.event_steps  # two launches stitched: the later wins
    # every value as tensorboard's own reader has it (float32 widened exactly), launch by launch
    want: dict[int, dict[str, float]] = {}
    for name in truth.event_files:
        ea = EventAccumulator(str(run / name), size_guidance={SCALARS: 0})
        ea.Reload()
        mine: dict[int, dict[str, float]] = {}
        for tag in truth.event_tags:
            for p in ea.Scalars(tag):
                mine.setdefault(p.step, {})[tag] = p.value
        first = min(mine)
        want = {s: v for s, v in want.items() if s < first} | mine
    for tag in truth.event_tags:
        got = [g if g == "nan" else float(g) for g in df[tag]]  # every cell holds a value here: none is empty
        assert got == [v if v == v else "nan" for v in (want[s][tag] for s in truth.event_steps)], tag
    # the simulator breaks total_loss, rec_loss, kl_loss, g_loss from step 1,800: written nan, as 'nan'
    at = df.set_index(df["step"].astype(int))
    assert at.loc[1_800, "rec_loss"] == "nan" and at.loc[1_799, "rec_loss"] not in ("nan", "")
    assert at.loc[1_800, "Learning_Rate"] not in ("nan", "")


def test_parse_events_leaves_a_step_cut_by_the_writer_empty_not_nan(tmp_path):
    run, _, _ = _events_folder(tmp_path, grad_accum=1, stop_step=1_234, event_buffer_bytes=512)
    out = tmp_path / "events.csv"
    assert _cli("parse", str(run), "--events", "--csv", str(out)).returncode == 0
    df = pd.read_csv(out, keep_default_na=False, dtype=str)
    last = df.iloc[-1]
    assert last["step"] == "1234" and last["Learning_Rate"] != "" and last["total_loss"] != ""
    assert [last[t] for t in ("rec_loss", "kl_loss", "d_weight", "disc_factor", "g_loss")] == [""] * 5
    assert "nan" not in set(df.drop(columns=["step", "wall_time"]).to_numpy().ravel())


def test_parse_events_without_event_files_says_so(tmp_path):
    run = _sim_folder(tmp_path)
    _one_line_error(_cli("parse", str(run), "--events", "--csv", str(tmp_path / "e.csv")), 1,
                    f"no TensorBoard event values in {run} (no events.out.tfevents.* file with a scalar)")
    assert not (tmp_path / "e.csv").exists()


def test_analyze_json_says_which_source_each_figure_comes_from(tmp_path):
    import json

    run, truth, _ = _events_folder(tmp_path, grad_accum=1, nan_step=1_450, spike_steps=(777,))
    res = _cli("analyze", str(run), "--json")
    assert res.returncode == 0 and res.stderr == "", res.stderr
    j = json.loads(res.stdout)
    assert j["sources"] == {"log": {"records": 20},
                            "events": {"steps": 2_000, "tags": list(truth.event_tags), "first_step": 0,
                                       "last_step": 1_999, "same_quantities_as_log": True,
                                       "gradient_accumulate_every": 1}}
    nf = {e["source"]: e["step"] for e in j["events"] if e["kind"] == "non_finite"}
    assert nf == {"events": 1_450, "log": 1_500}
    assert {(e["step"], e["source"]) for e in j["events"] if e["kind"] == "spike"} == {(777, "events")}
    (lr,) = [a for a in j["alerts"] if a["code"] == "lr_below_log_precision"]
    assert lr["source"] == "events" and lr["lr_step"] == 2_000
    assert [c["checkpoint"] for c in j["checkpoint_files"]] == [f"model-{k}.pt" for k in (1, 2, 3, 4)]
    assert all(c["checkpoint_status"] == "on disk" and c["size_bytes"] == 4_096 for c in j["checkpoint_files"])
    res = _cli("analyze", str(run), "--from-step", "500", "--until-step", "999")
    j = json.loads(res.stdout)
    assert j["sources"]["events"]["steps"] == 500 and j["sources"]["log"] == {"records": 5}
    assert [c["milestone"] for c in j["checkpoint_files"]] == [1]


def test_parse_events_of_a_folder_with_event_files_only(tmp_path):
    run, truth, _ = _events_folder(tmp_path)
    for log in run.glob("*_.log"):
        log.unlink()
    out = tmp_path / "e.csv"
    res = _cli("parse", str(run), "--events", "--csv", str(out))
    assert res.returncode == 0, res.stderr
    assert pd.read_csv(out)["step"].tolist() == truth.event_steps
    _one_line_error(_cli("parse", str(run), "--csv", str(out)), 1, f"no RadioDiff log lines in {run}")
