"""Sample images and checkpoints: the listing by milestone, and the complete-image check."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from radiodash.samples import FileInfo, check_image, list_results
from radiodash.simulate import SimConfig, render


def png(width: int = 40, height: int = 30, seed: int = 0) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, "PNG")
    return buf.getvalue()


def jpeg(width: int = 40, height: int = 30) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


def test_listing_sorts_files_into_milestones():
    names = [("sample-2.png", 100, 20.0), ("model-1.pt", 4096, 9.0), ("gt-sample-2.png", 90, 21.0),
             ("sample-1.png", 80, 10.0), ("model-2.pt", 4097, 19.0), ("sample-0_50.png", 70, 1.0),
             ("sample-7_250.png", 60, 30.0), ("model-10.pt", 1, 40.0),
             # not samples or checkpoints
             ("sample-3.png.tmp", 1, 1.0), ("sample-.png", 1, 1.0), ("model-x.pt", 1, 1.0), ("2025-08-15-20-41_.log", 1, 1.0),
             ("events.out.tfevents.1755290463.h.1.0", 1, 1.0), ("xsample-4.png", 1, 1.0), ("sample-5.gif", 1, 1.0)]
    listing = list_results(names, save_every=5_000)
    assert [(m.milestone, m.step) for m in listing.milestones] == [(1, 5_000), (2, 10_000), (10, 50_000)]
    one, two, ten = listing.milestones
    assert one.sample == FileInfo("sample-1.png", 80, 10.0) and one.gt_sample is None
    assert one.checkpoint == FileInfo("model-1.pt", 4096, 9.0)
    assert (two.sample.name, two.gt_sample.name, two.checkpoint.size) == ("sample-2.png", "gt-sample-2.png", 4097)
    assert ten.sample is None and ten.checkpoint.mtime == 40.0
    assert [m.milestone for m in listing.checkpoints] == [1, 2, 10]
    assert [(s.milestone, s.step, s.sampling_timesteps, s.file.name) for s in listing.startup] == [
        (0, 0, 50, "sample-0_50.png"), (7, 35_000, 250, "sample-7_250.png")]
    # without save_and_sample_every the steps are unknown, not invented
    assert [m.step for m in list_results(names, save_every=None).milestones] == [None, None, None]


def test_listing_of_a_simulated_folder(tmp_path):
    files, truth = render(SimConfig(stage="diffusion", lr=2e-5, train_num_steps=1_200, log_freq=100,
                                    save_and_sample_every=500, samples=True, resume_at=700))
    listing = list_results([(n, len(d), 0.0) for n, d in files.items()], save_every=500)
    assert [m.milestone for m in listing.checkpoints] == truth.milestones == [1, 2]
    assert all(m.sample and m.gt_sample for m in listing.milestones)
    assert [(s.milestone, s.step) for s in listing.startup] == [(0, 0), (1, 500)]
    for m in listing.milestones:
        assert check_image(files[m.sample.name]).status == "ok"


def test_complete_images_pass_with_their_size():
    c = check_image(png(40, 30))
    assert (c.status, c.format, c.width, c.height, c.ok) == ("ok", "PNG", 40, 30, True)
    c = check_image(jpeg(64, 48))
    assert (c.status, c.format, c.width, c.height) == ("ok", "JPEG", 64, 48)


def test_every_prefix_of_an_image_is_incomplete():
    for data in (png(24, 20), jpeg(24, 20)):
        for n in range(len(data)):
            c = check_image(data[:n])
            assert c.status == "incomplete", (n, c)
        assert check_image(data).status == "ok"


def test_limits_and_other_files():
    data = png(40, 30)
    assert check_image(data, max_bytes=len(data) - 1).status == "too_large"
    assert check_image(data, max_bytes=len(data)).status == "ok"
    assert check_image(data, max_pixels=40 * 30 - 1).status == "too_large"
    assert check_image(data, max_width=39).status == "too_large" and check_image(data, max_height=30).ok
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    assert check_image(gif.getvalue()).status == "not_image"
    assert check_image(b"hello, not an image").status == "not_image"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_a_huge_image_is_refused_before_it_is_decoded():
    header = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    bomb = header + _chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + _chunk(b"IEND", b"")
    c = check_image(bomb)
    assert c.status == "too_large"
    # a complete file whose pixel data is damaged does not pass
    good = bytearray(png(40, 30))
    idat = good.index(b"IDAT")
    good[idat + 20] ^= 0xFF
    assert check_image(bytes(good)).status == "incomplete"


@given(st.binary(max_size=2_000), st.integers(0, 5_000))
def test_random_bytes_and_cut_images_never_raise(data, cut):
    assert check_image(data).status in ("ok", "incomplete", "too_large", "not_image")
    image = png(16, 16)
    spliced = image[: cut % (len(image) + 1)] + data
    assert check_image(spliced).status in ("ok", "incomplete", "too_large", "not_image")
