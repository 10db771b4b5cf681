"""The plain-Python parts of the Live page: the shared URL, the zoom keeper's input and figures, the tables
and texts, the picker's run states. Every expectation written out by hand."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as hs

from radiodash.analysis import Alert, Event
from radiodash.simulate import SimConfig, write_run
from radiodash.ui import share, tables, zoom
from radiodash.ui.runstate import PickerStates, picker_label

# ---------------------------------------------------------------- the shared URL

PAIRS = [("run", "exp 1/vae&b"), ("metrics", "train/rec_loss"), ("metrics", "train/kl_loss"),
         ("metrics", "train/total_loss"), ("smooth", "0.9"), ("x", "hours"), ("from", "1000"), ("until", "5000"),
         ("token", "s3cret")]


def test_the_view_query_keeps_every_value_percent_encoded_and_never_the_token():
    q = share.view_query(PAIRS)
    assert q == ("run=exp%201%2Fvae%26b&metrics=train%2Frec_loss&metrics=train%2Fkl_loss&metrics=train%2Ftotal_loss"
                 "&smooth=0.9&x=hours&from=1000&until=5000")
    parsed = parse_qs(q)
    assert parsed["metrics"] == ["train/rec_loss", "train/kl_loss", "train/total_loss"]
    assert parsed["run"] == ["exp 1/vae&b"] and "token" not in parsed


@given(hs.lists(hs.tuples(hs.text(min_size=1, max_size=8), hs.text(max_size=12)), max_size=6))
def test_any_view_round_trips_through_the_shared_query(pairs):
    pairs = [(k, v) for k, v in pairs if k != "token"]
    got = parse_qs(share.view_query(pairs), keep_blank_values=True)
    want: dict[str, list[str]] = {}
    for k, v in pairs:
        want.setdefault(k, []).append(v)
    assert got == want


@pytest.mark.parametrize("host, loop", [("localhost", True), ("127.0.0.1", True), ("127.8.0.3", True), ("[::1]", True),
                                        ("app.localhost", True), ("gpu-box", False), ("192.0.2.2", False),
                                        ("[2001:db8::5]", False), (None, False), ("", False)])
def test_loopback_names(host, loop):
    assert share.is_loopback(host) is loop


def shared(page: str, server_address: str | None = "0.0.0.0", configured: str | None = None, detect=lambda: "gpu-box"):
    return share.shared_url(page, PAIRS, server_address=server_address, configured_address=configured, port=8501,
                            detect=detect)


def test_a_page_opened_through_loopback_is_shared_on_the_machines_network_name():
    s = shared("http://localhost:8501/?run=x")
    assert s.url is not None and s.url.startswith("http://gpu-box:8501/?run=exp%201%2Fvae%26b&metrics=")
    assert parse_qs(urlsplit(s.url).query)["metrics"] == ["train/rec_loss", "train/kl_loss", "train/total_loss"]
    assert "s3cret" not in s.url and s.note is None
    # browser.serverAddress, when the operator set it, wins over detection; the page's own port stays
    assert shared("http://127.0.0.1:9000/", configured="dash.lab.example").url.startswith("http://dash.lab.example:9000/")
    # an IPv6 address goes in brackets
    assert shared("http://[::1]:8501/", detect=lambda: "2001:db8::5").url.startswith("http://[2001:db8::5]:8501/?")
    # a page the viewer reached by a network name is shared on that very address (a proxy's path included)
    assert shared("https://dash.lab.example/radiodash/?run=x").url.startswith("https://dash.lab.example/radiodash/?run=")


def test_a_server_on_loopback_only_gives_no_url_but_says_why():
    for address in ("127.0.0.1", "localhost", "::1"):
        s = shared("http://127.0.0.1:8501/", server_address=address)
        assert s.url is None and f"listens on {address} only" in s.note
    s = shared("http://127.0.0.1:8501/", detect=lambda: None)
    assert s.url is None and "could not be found" in s.note
    assert shared("http://127.0.0.1:8501/", server_address="").url is not None  # "" = every interface


def test_network_host_is_never_loopback():
    host = share.network_host()
    assert host is None or not share.is_loopback(host)


# ---------------------------------------------------------------- the zoom keeper


def test_the_zoom_report_is_screened():
    raw = {"chart-metric-rec_loss-1a2b3c4d": {"rev": "r1", "axes": {"xaxis": [1000, 2500.5], "yaxis": [0.01, 0.2],
                                                                  "xaxis2": ["2025-08-15 20:41:03", "2025-08-15 22:00"],
                                                                  "zaxis": [1, 2], "yaxis3": [1, float("nan")],
                                                                  "xaxis4": [True, 2], "xaxis5": ["<img>", "x"]}},
           "bad key!": {"rev": "r", "axes": {"xaxis": [1, 2]}}, "k2": {"rev": 5, "axes": {"xaxis": [1, 2]}},
           "k3": {"rev": "r", "axes": {"xaxis": [1, 2, 3]}}, "k4": "x"}
    assert zoom.sanitize(raw) == {"chart-metric-rec_loss-1a2b3c4d": (
        "r1", {"xaxis": [1000, 2500.5], "yaxis": [0.01, 0.2], "xaxis2": ["2025-08-15 20:41:03", "2025-08-15 22:00"]})}
    for junk in (None, [], "x", 5, {"k": None}, {"k" * 500: {"rev": "r", "axes": {"xaxis": [1, 2]}}}):
        assert zoom.sanitize(junk) == {}
    many = {f"k{i}": {"rev": "r", "axes": {"xaxis": [0, 1]}} for i in range(500)}
    assert len(zoom.sanitize(many)) == zoom.MAX_CHARTS


def test_a_zoom_applies_to_the_same_view_only_and_never_changes_the_shared_figure():
    fig = go.Figure(go.Scatter(x=[0, 1000, 2000], y=[1, 2, 3]))
    fig.update_layout(uirevision="run|metric|step|all")
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="v")
    zooms = {"c": ("run|metric|step|all", {"xaxis": [500, 900], "yaxis": [1.5, 2.5], "xaxis2": [1, 2]})}
    got = zoom.apply(fig, "c", zooms)
    assert got is not fig and tuple(got.layout.xaxis.range) == (500, 900) and got.layout.xaxis.autorange is False
    assert tuple(got.layout.yaxis.range) == (1.5, 2.5) and "xaxis2" not in got.to_plotly_json()["layout"]
    assert fig.layout.xaxis.range is None  # the cached figure every session shares is untouched
    assert got.to_plotly_json()["data"] == fig.to_plotly_json()["data"]
    # another view of the chart (another axis, range or run): its own range, not the old zoom
    assert zoom.apply(fig, "c", {"c": ("run|metric|hours|all", {"xaxis": [0, 1]})}) is fig
    assert zoom.apply(fig, "other", zooms) is fig and zoom.apply(None, "c", zooms) is None


def test_chart_keys_are_css_class_safe_and_unique():
    from radiodash.ui.session import chart_key

    keys = {chart_key("metric", m) for m in ("train/rec_loss", "train:rec_loss", "rec_loss", "val/mae", "x" * 200)}
    assert len(keys) == 5 and all(zoom._KEY.match(k) for k in keys)
    assert chart_key("lr") == "chart-lr"


# ---------------------------------------------------------------- tables and texts

VAE = {"model": {"embed_dim": 3, "lossconfig": {"disc_start": 50001, "kl_weight": 1e-06, "disc_weight": 0.5},
                 "ddconfig": {"ch": 128, "ch_mult": [1, 2, 4], "resolution": [320, 320]}, "ckpt_path": None},
       "data": {"name": "radio", "batch_size": 2},
       "trainer": {"gradient_accumulate_every": 2, "lr": 5e-06, "min_lr": 0.1, "train_num_steps": 150000,
                   "save_and_sample_every": 5000, "log_freq": 100, "resume_milestone": 0}}
LDM = {"data": {"batch_size": 4, "name": "DPMK"}, "finetune": {"ckpt_path": None},
       "model": {"first_stage": {"embed_dim": 3, "ckpt_path": "./radiodiff_Vae/model-30.pt"}, "model_type": "const_sde",
                 "objective": "pred_KC", "timesteps": 1000, "sampling_timesteps": 50, "loss_type": "l2",
                 "scale_factor": 0.3, "scale_by_std": True},
       "trainer": {"lr": 2e-05, "min_lr": 0.1, "train_num_steps": 80000, "log_freq": 500}}


def test_configuration_as_a_two_column_table_of_plain_values():
    vae = dict(tables.config_rows(VAE, "vae").itertuples(index=False))
    assert vae == {"embed_dim": "3", "channels (ch)": "128", "ch_mult": "[1, 2, 4]", "resolution": "[320, 320]",
                   "kl_weight": "1e-06", "disc_weight": "0.5", "disc_start (step)": "50,001",
                   "start checkpoint (model.ckpt_path)": "—", "dataset": "radio", "batch_size": "2",
                   "lr (start)": "5e-06", "min_lr (factor of lr)": "0.1", "train_num_steps": "150,000",
                   "gradient_accumulate_every": "2", "log_freq (steps)": "100",
                   "save_and_sample_every (steps)": "5000", "resume_milestone": "0"}
    ldm = dict(tables.config_rows(LDM, "diffusion").itertuples(index=False))
    assert ldm == {"objective": "pred_KC", "timesteps": "1000", "sampling_timesteps": "50", "loss_type": "l2",
                   "model_type": "const_sde", "first-stage checkpoint (VAE)": "./radiodiff_Vae/model-30.pt",
                   "scale_factor": "0.3", "scale_by_std": "True", "finetune checkpoint": "—", "dataset": "DPMK",
                   "batch_size": "4", "lr (start)": "2e-05", "min_lr (factor of lr)": "0.1",
                   "train_num_steps": "80,000", "log_freq (steps)": "500"}
    assert tables.config_rows(None, None).empty
    assert list(tables.config_rows(VAE, "vae").columns) == ["setting", "value"]


@pytest.mark.parametrize("value, text", [(5e-06, "5e-06"), ([5e-06, 5e-07], "[5e-06, 5e-07]"), ("radio", "radio"),
                                         (None, "—"), (True, "True"), (150000, "150,000"), (500, "500"), (0.3, "0.3"),
                                         ({"a": 1}, "a: 1")])
def test_plain_values(value, text):
    assert tables.plain_value(value) == text


def test_values_at_a_precision_that_fits_their_column():
    df = pd.DataFrame({"total_loss": [1916.70959, -2000.5], "rec_loss": [0.02765, 0.0211], "kl": [2.09e-06, 0.0]})
    assert [tables.value_format(df[c]) for c in df] == ["localized", "%.4g", "%.4g"]
    shown = tables.at_log_precision(df, ("total_loss", "rec_loss", "kl"))
    assert list(shown["total_loss"]) == [1916.71, -2000.5] and list(shown["rec_loss"]) == [0.02765, 0.0211]
    assert df["total_loss"][0] == 1916.70959  # a copy


def test_events_read_as_sentences_without_the_servers_folders():
    evs = [Event("launch", 0, None, {"file": "/srv/runs/a/2025-08-15-20-41_.log", "segment": 0, "first_step": 0,
                                      "last_step": 35000}),
           Event("config_changed", 35000, None, {"file": "/srv/runs/a/2025-08-16-09-00_.log",
                                                   "changed": ["trainer.lr", "trainer.train_num_steps"]}),
           Event("spike", 40000, None, {"metric": "train/rec_loss", "value": 0.5123, "local_median": 0.0251,
                                         "ratio": 20.41, "mad_units": 30.0}),
           Event("stall", 45000, None, {"seconds": 3900.0, "resumed_at_step": 45100, "usual_seconds": 20.0}),
           Event("checkpoint", 50000, None, {"milestone": 10, "file": "model-10.pt"})]
    assert [tables.event_text(e) for e in evs] == [
        "launch 0 in 2025-08-15-20-41_.log: steps 0 to 35,000",
        "configuration changed in 2025-08-16-09-00_.log: trainer.lr, trainer.train_num_steps",
        "train/rec_loss = 0.5123, 20.4 × the local median 0.02510",
        "no line for 1 h 05 min (usual 20 s); went on at step 45,100",
        "model-10.pt (milestone 10)"]
    t = tables.events_table(evs, (36_000, 46_000))
    assert list(t["step"]) == [40000, 45000] and list(t["kind"]) == ["spike", "stall"]


def test_alert_counts_most_severe_first():
    al = [Alert("a", "info", "x"), Alert("b", "warning", "y"), Alert("c", "error", "z"), Alert("d", "warning", "w")]
    assert tables.alert_counts(al) == "1 error · 2 warnings · 1 note"
    assert [a.code for a in tables.ranked(al)] == ["c", "b", "d", "a"]
    assert tables.alert_counts([]) == ""


# ---------------------------------------------------------------- the picker's run states

T = 1_800_000_000.0


def test_picker_labels():
    from radiodash.analysis.state import RunState

    def st(state: str, silent: float | None) -> RunState:
        return RunState(state, T, T, None, silent, 20.0, 200.0, 3600.0, 5, 10, None, None, "", False)

    assert picker_label("runA", st("live", 12), T, T + 12) == "runA · live"
    assert picker_label("runA", st("stopped", 3.1 * 86400), T, T) == "runA · stopped · 3.1 d ago"
    assert picker_label("runA", st("stalled", 600), T, T) == "runA · stalled · 10 min ago"
    assert picker_label("runB", None, T, T + 7200) == "runB · last written 2.0 h ago"


def test_picker_states_read_a_run_once_per_change_and_judge_it_again_as_time_passes(tmp_path):
    folder = tmp_path / "run"
    write_run(folder, SimConfig(stop_step=50_000))
    for f in folder.iterdir():
        os.utime(f, (T, T))
    states = PickerStates(reread_seconds=0.0)
    assert states.state(folder, T, T + 30, 3600).state == "live" and states.reads == 1
    (kept,) = states._runs.values()  # the run stays open: a change is read from where it stopped, not from byte 0
    read_to = {p: r.tail.offset for p, r in kept.readers.items()}
    assert states.state(folder, T, T + 14 * 60, 3600).state == "stalled" and states.reads == 1  # no new read
    assert states.state(folder, T, T + 3 * 86400, 3600).state == "stopped" and states.reads == 1
    assert states.state(folder, T, T + 14 * 60, 600).state == "stopped"  # the threshold of the call
    with open(next(folder.glob("*_.log")), "a") as f:
        f.write("2025-08-16 23:28:07,512 training complete\n")
    for f in folder.iterdir():
        os.utime(f, (T + 100, T + 100))
    assert states.state(folder, T + 100, T + 3 * 86400, 3600).state == "finished" and states.reads == 2
    assert list(states._runs.values()) == [kept] and all(kept.readers[p].tail.offset > o for p, o in read_to.items()
                                                         if p.endswith("_.log"))
    assert states.state(Path(tmp_path / "gone"), T, T, 3600).state == "unknown"  # deleted since the listing: never guessed


def test_the_clock_override_is_for_tests_and_ignores_junk(monkeypatch):
    from radiodash.ui import clock

    monkeypatch.setenv("RADIODASH_CLOCK", "1800000030")
    assert clock.now() == 1_800_000_030.0
    for junk in ("", "nan", "inf", "soon"):
        monkeypatch.setenv("RADIODASH_CLOCK", junk)
        assert abs(clock.now() - __import__("time").time()) < 5
    monkeypatch.setenv("RADIODASH_STOPPED_AFTER", "600")
    assert clock.stopped_after() == 600
    for junk in ("-5", "0", "x", "inf"):
        monkeypatch.setenv("RADIODASH_STOPPED_AFTER", junk)
        assert clock.stopped_after() == 3600
    assert np.isfinite(clock.now())


def test_the_pickers_shared_listing_shows_a_run_created_since(tmp_path):
    from radiodash.roots import Roots
    from radiodash.ui import session

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "2025-08-15-20-41_.log").write_text("x\n")
    roots = Roots.parse([tmp_path])
    assert [e.name for e in session.listing(roots)] == ["a"]
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2025-08-15-20-41_.log").write_text("x\n")
    assert [e.name for e in session.listing(roots)] == ["a"]  # shared for a few seconds…
    assert sorted(e.name for e in session.listing(roots, must_have="b")) == ["a", "b"]  # …unless the page's run is new
