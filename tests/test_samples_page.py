"""The Samples page through AppTest (the real follower thread runs in-process), and its image reads
through the run's source: a local folder, an fsspec URL and a real sshd."""
from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import fsspec
import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from radiodash import open_run
from radiodash.simulate import SimConfig, render
from radiodash.text import log_number
from radiodash.ui import samples as gallery
from sshd import sshd  # noqa: F401 - pytest fixture

# slow: whole-app Streamlit AppTest runs (~1 s each);
# `make test` runs them, the quick run (-m "not slow") does not
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SAVE = 1_000


def unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A root holding a diffusion run (samples, ground truths, checkpoints, a start-up sample, event files)
    stopped after step 3,500, a red PNG outside the root, and clean Streamlit caches around each test."""
    root = tmp_path / "root"
    run = root / "runS"
    run.mkdir(parents=True)
    files, truth = render(SimConfig(stage="diffusion", lr=2e-5, train_num_steps=6_000, log_freq=100,
                                    save_and_sample_every=SAVE, events=True, samples=True, stop_step=3_500))
    for name, data in files.items():
        (run / name).write_bytes(data)
    (tmp_path / "secret.png").write_bytes(png((255, 0, 0)))
    for k in ("RADIODASH_LOG", "RADIODASH_ROOT", "RADIODASH_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RADIODASH_ROOT", str(root))
    st.cache_resource.clear()
    yield run, files, truth
    st.cache_resource.clear()


def samples_page(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("views/samples.py")
    at.run()
    return at


def texts(at: AppTest, kind: str = "caption") -> list[str]:
    return [unescape(str(e.value)) for e in getattr(at, kind)]


def image_urls(at: AppTest) -> list[str]:
    return [im.url for node in at.get("image") for im in node.proto.imgs]


def rerun_until(at: AppTest, condition, seconds: float = 20.0) -> None:
    """Rerun the page until `condition(at)` holds (the follower thread picks changes up on its own)."""
    end = time.monotonic() + seconds
    while True:
        at.run()
        if condition(at) or time.monotonic() > end:
            break
        time.sleep(0.1)
    assert condition(at)


def log_value(log: str, step: int, key: str) -> str:
    """The value the log line of `step` prints for `key`, as text (the hand check: read off the log)."""
    line = next(ln for ln in log.splitlines() if f"[Train Step] {step}/" in ln)
    return re.search(rf"\b{re.escape(key)}: ([-\d.naif]+),", line).group(1)


def test_newest_first_with_step_values_and_checkpoint(env):
    run, files, truth = env
    at = samples_page({"run": "runS"})
    assert not at.exception and not at.error and not at.warning
    assert [unescape(m.value) for m in at.markdown if m.value.startswith("####")] == ["#### Milestone 3 · step 3,000"]
    assert at.select_slider(key="samples_milestone").value == 3
    caps = texts(at)
    # the overview: newest first, each under its milestone and step
    grid = [c for c in caps if c.startswith("Milestone ")]
    assert grid == ["Milestone 3 · step 3,000", "Milestone 2 · step 2,000", "Milestone 1 · step 1,000"]
    # the focus card: sample beside its ground truth, the checkpoint, the values at the step from each source
    assert "sample-3.png · 256×256 PNG" in caps and "gt-sample-3.png · 256×256 PNG" in caps
    assert any(c.startswith("model-3.pt: on disk, 4.0 KiB, modified ") for c in caps)  # 4,096 bytes
    log = files[truth.files[0]].decode()
    want = f"log record at step 3,000: loss_simple {log_number(float(log_value(log, 3_000, 'loss_simple')))}"
    assert any(c.startswith(want) for c in caps), caps
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    ea = EventAccumulator(str(run / truth.event_files[0]), size_guidance={SCALARS: 0})
    ea.Reload()
    exact = next(p.value for p in ea.Scalars("loss_simple") if p.step == 3_000)
    assert any(c.startswith("event values at step 3,000: ") and f"loss_simple {log_number(exact)}" in c for c in caps)
    # the start-up image is labelled as such, not as a milestone
    assert any(c.startswith("sample-0_50.png — start-up sample: drawn at launch, before training") for c in caps)
    # 2 in the card + 3 thumbnails + 1 start-up image, all distinct files
    assert len(image_urls(at)) == 6 and all(u.endswith(".png") for u in image_urls(at))


def test_a_sample_written_while_the_page_is_open_appears_and_the_slider_follows(env):
    run, _, _ = env
    at = samples_page({"run": "runS"})
    assert at.select_slider(key="samples_milestone").value == 3
    (run / "model-4.pt").write_bytes(b"x" * 5_000)
    (run / "sample-4.png").write_bytes(png((0, 0, 255), (256, 256)))
    rerun_until(at, lambda a: "#### Milestone 4 · step 4,000" in [unescape(m.value) for m in a.markdown])
    assert at.select_slider(key="samples_milestone").value == 4  # it was at the newest: it follows
    caps = texts(at)
    assert "model-4.pt: on disk, 4.9 KiB" in " ".join(caps)  # 5,000 / 1,024
    assert [c for c in caps if c.startswith("Milestone ")][0] == "Milestone 4 · step 4,000"
    assert at.query_params.get("milestone") is None  # following the newest: nothing pinned in the address


def test_a_moved_slider_stays_where_the_user_put_it(env):
    run, _, _ = env
    at = samples_page({"run": "runS"})
    at.select_slider(key="samples_milestone").set_value(2).run()
    assert at.query_params["milestone"] == "2"
    (run / "sample-4.png").write_bytes(png((0, 0, 255), (256, 256)))
    rerun_until(at, lambda a: "Milestone 4 · step 4,000" in texts(a))
    assert at.select_slider(key="samples_milestone").value == 2
    assert [unescape(m.value) for m in at.markdown if m.value.startswith("####")] == ["#### Milestone 2 · step 2,000"]


def test_a_half_written_png_is_being_written_then_shown(env):
    run, _, _ = env
    whole = png((0, 128, 0), (256, 256))
    (run / "sample-4.png").write_bytes(whole[: len(whole) // 2])
    at = samples_page({"run": "runS"})
    assert not at.exception and not at.error and not at.warning
    assert [unescape(i.value) for i in at.info] == [
        f"sample-4.png is being written ({len(whole) // 2:,} bytes so far): it appears when complete."] * 2  # card, grid
    before = len(image_urls(at))
    with open(run / "sample-4.png", "ab") as f:
        f.write(whole[len(whole) // 2:])
    rerun_until(at, lambda a: not a.info)
    assert len(image_urls(at)) == before + 2 and "sample-4.png · 256×256 PNG" in texts(at)


def test_a_non_image_named_like_a_sample_is_refused(env):
    run, _, _ = env
    (run / "sample-3.png").write_bytes(b"#!/bin/sh\necho not a picture\n" * 20)
    at = samples_page({"run": "runS"})
    assert not at.exception and not at.error
    assert [unescape(w.value) for w in at.warning] == ["sample-3.png is not a PNG or JPEG image: not shown."] * 2
    caps = texts(at)
    assert "gt-sample-3.png · 256×256 PNG" in caps and "sample-3.png · 256×256 PNG" not in caps


def test_no_url_parameter_chooses_a_file(env, tmp_path):
    run, _, _ = env
    (run / "sample-9.png").symlink_to(tmp_path / "secret.png")  # inside the listing, leading out of the run
    first = samples_page({"run": "runS"})
    baseline = set(image_urls(first))
    assert "sample-9.png" not in texts(first)  # a symlink in a run folder is not even listed (LocalSource)
    assert len(baseline) == 6
    tricks = {"milestone": "../../secret.png", "compare": str(tmp_path / "secret.png"), "file": "/etc/passwd",
              "image": "../secret.png", "sample": "sample-9.png", "path": str(tmp_path / "secret.png")}
    st.cache_resource.clear()
    at = samples_page({"run": "runS", **tricks})
    assert not at.exception and not at.error
    warnings = [unescape(w.value) for w in at.warning]
    assert "The milestone in the address, '../../secret.png', is not a milestone of this run with files: it is " \
           "ignored." in warnings
    assert set(image_urls(at)) == baseline  # the same images as with no parameter: the secret never
    assert "milestone" not in at.query_params and "compare" not in at.query_params
    # a number that is no milestone of the run with files is refused the same way
    st.cache_resource.clear()
    at = samples_page({"run": "runS", "milestone": "7"})
    assert not at.exception and at.select_slider(key="samples_milestone").value == 3  # the newest
    assert "The milestone in the address, '7', is not a milestone of this run with files: it is ignored." in [
        unescape(w.value) for w in at.warning]
    # a milestone number among the run's is all the address may choose
    st.cache_resource.clear()
    at = samples_page({"run": "runS", "milestone": "2", "compare": "1"})
    heads = [unescape(m.value) for m in at.markdown if m.value.startswith("####")]
    assert heads == ["#### Milestone 2 · step 2,000", "#### Milestone 1 · step 1,000"]  # side by side


def test_two_milestones_side_by_side(env):
    at = samples_page({"run": "runS"})
    at.selectbox(key="samples_compare").set_value(1).run()
    heads = [unescape(m.value) for m in at.markdown if m.value.startswith("####")]
    assert heads == ["#### Milestone 3 · step 3,000", "#### Milestone 1 · step 1,000"]
    assert at.query_params["compare"] == "1"
    caps = texts(at)
    assert "sample-1.png · 256×256 PNG" in caps and "gt-sample-1.png · 256×256 PNG" in caps


def test_the_token_gate_and_the_run_choice_hold(env, monkeypatch):
    monkeypatch.setenv("RADIODASH_TOKEN", "s3cret-token")
    st.cache_resource.clear()
    at = samples_page({"run": "runS"})
    assert not image_urls(at) and "Samples" not in " ".join(t.value for t in at.title)
    st.cache_resource.clear()
    at = samples_page({"run": "runS", "token": "s3cret-token"})
    assert len(image_urls(at)) == 6
    st.cache_resource.clear()
    at = samples_page({"run": "../secret.png", "token": "s3cret-token"})
    assert not image_urls(at) and at.error  # refused, in plain text, and nothing is shown


# ------------------------------------------------------------------ reads through the source


def _sample_entries(run):
    return {e.name: e for e in run.snapshot().artifacts if e.name.startswith(("sample", "gt-sample"))}


def test_reads_through_an_fsspec_url_as_through_a_local_folder(env):
    run_dir, files, _ = env
    fs = fsspec.filesystem("memory")
    base = f"/radiodash-samples-{os.getpid()}/run"
    for name, data in files.items():
        fs.pipe(f"{base}/{name}", data)
    try:
        remote = open_run(f"memory://radiodash-samples-{os.getpid()}/run")
        local = open_run(run_dir)
        shown_remote = {n: gallery.read_image(remote.source, e) for n, e in _sample_entries(remote).items()}
        shown_local = {n: gallery.read_image(local.source, e) for n, e in _sample_entries(local).items()}
        assert sorted(shown_remote) == sorted(shown_local) == sorted(n for n in files if "sample" in n)
        for name, shown in shown_remote.items():
            assert shown.ok and shown.data == files[name] == shown_local[name].data
    finally:
        fs.rm(base, recursive=True)


def test_reads_over_ssh(sshd, env):  # noqa: F811 - the fixture
    from radiodash.remote import RemoteSource

    run_dir, files, _ = env
    run = open_run(RemoteSource(sshd.url(run_dir), options=sshd.client_options(), retry_interval=0.05))
    shown = {n: gallery.read_image(run.source, e) for n, e in _sample_entries(run).items()}
    assert shown and all(s.ok and s.data == files[n] for n, s in shown.items())
    run.close()


def test_size_cap_and_a_file_that_vanished(env):
    run_dir, files, _ = env
    run = open_run(run_dir)
    entries = _sample_entries(run)
    big = gallery.read_image(run.source, entries["sample-1.png"], max_bytes=1_000)
    assert big.status == "too_large" and big.data is None  # the listing's size says so: nothing is read
    (run_dir / "sample-2.png").unlink()
    gone = gallery.read_image(run.source, entries["sample-2.png"])
    assert gone.status == "gone" and gone.message == "sample-2.png is no longer there."
    thumb = gallery.thumbnail(gallery.read_image(run.source, entries["sample-1.png"]), 100)
    assert Image.open(io.BytesIO(thumb)).size == (100, 100)
    assert np.asarray(Image.open(io.BytesIO(thumb))).std() > 0  # a picture, not a blank


def test_a_jpeg_sample_is_shown_as_jpeg_and_the_page_link_parameters(env):
    run, _, _ = env
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), (10, 200, 30)).save(buf, "JPEG")
    (run / "sample-4.jpg").write_bytes(buf.getvalue())
    at = samples_page({"run": "runS"})
    assert not at.exception and not at.warning
    assert "#### Milestone 4 · step 4,000" in [unescape(m.value) for m in at.markdown]
    assert "sample-4.jpg · 96×64 JPEG" in texts(at)
    assert any(u.endswith(".jpg") for u in image_urls(at))  # served in its own format
    assert gallery.samples_query("runS", 4) == {"run": "runS", "milestone": "4"}
    assert gallery.samples_url("a b/run", 4) == "samples?run=a+b%2Frun&milestone=4"
