"""Sample images and checkpoints of a results folder: which milestone each file belongs to, and
whether an image file is complete.

Why pure functions of names and bytes: the run store lists the folder (names, sizes, mtimes)
and reads files; this module only says what they are. RadioDiff's trainers save, at each
milestone K (step K × save_and_sample_every, the first K = 1): `model-K.pt`, `sample-K.png`
(VAE: reconstructions of the batch's first images, stacked; LDM: one generated sample) and,
for RadioDiff's LDM, `gt-sample-K.png` (that sample's ground truth); with `test_before` the
LDM also writes a start-up image `sample-{milestone}_{sampling_timesteps}.png` before training.
`save_image` writes in place, so an image can be seen half-written: `check_image` calls
such a file "incomplete" (look again later), never an error.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field
from typing import Iterable

from PIL import Image

SAMPLE_NAME = "sample-{milestone}.png"
GT_SAMPLE_NAME = "gt-sample-{milestone}.png"
STARTUP_SAMPLE_NAME = "sample-{milestone}_{sampling_timesteps}.png"
CHECKPOINT_NAME = "model-{milestone}.pt"

_SAMPLE = re.compile(r"(gt-)?sample-(\d+)\.(png|jpe?g)")
_STARTUP = re.compile(r"sample-(\d+)_(\d+)\.(png|jpe?g)")
_CHECKPOINT = re.compile(r"model-(\d+)\.pt")

#: What `check_image` accepts by default: 20 MB, 40 Mpixels (a 256×256 sample is ~100 KB).
MAX_IMAGE_BYTES = 20_000_000
MAX_IMAGE_PIXELS = 40_000_000
IMAGE_FORMATS = ("PNG", "JPEG")


@dataclass(frozen=True)
class FileInfo:
    """A file of the results folder as listed: name, size in bytes, mtime in seconds since the epoch."""

    name: str
    size: int
    mtime: float


@dataclass(frozen=True)
class Milestone:
    """Everything saved at milestone K: its step, and which of its files are on disk."""

    milestone: int
    step: int | None  # K × save_and_sample_every; None when save_and_sample_every is unknown
    sample: FileInfo | None = None
    gt_sample: FileInfo | None = None
    checkpoint: FileInfo | None = None


@dataclass(frozen=True)
class StartupSample:
    """A `test_before` image: sampled at launch from the model of `milestone`, with `sampling_timesteps` steps."""

    milestone: int
    step: int | None
    sampling_timesteps: int
    file: FileInfo


@dataclass(frozen=True)
class ResultsListing:
    """The milestones (ascending K) and start-up samples found among a folder's files."""

    milestones: tuple[Milestone, ...] = ()
    startup: tuple[StartupSample, ...] = ()
    checkpoints: tuple[Milestone, ...] = field(default=())  # the milestones with a model-K.pt, ascending


def list_results(files: Iterable[FileInfo | tuple[str, int, float]], save_every: int | None) -> ResultsListing:
    """Sort a folder's files into milestones (sample, ground truth, checkpoint) and start-up samples.

    `save_every` is the run's `save_and_sample_every` (None if unknown: steps are None).
    Other files are ignored; names are matched whole (`sample-3.png.tmp` is no sample).
    """
    found: dict[int, dict[str, FileInfo]] = {}
    startup: list[StartupSample] = []
    for f in files:
        info = f if isinstance(f, FileInfo) else FileInfo(*f)
        name = info.name
        if m := _SAMPLE.fullmatch(name):
            found.setdefault(int(m.group(2)), {})["gt_sample" if m.group(1) else "sample"] = info
        elif m := _STARTUP.fullmatch(name):
            k = int(m.group(1))
            startup.append(StartupSample(k, _step(k, save_every), int(m.group(2)), info))
        elif m := _CHECKPOINT.fullmatch(name):
            found.setdefault(int(m.group(1)), {})["checkpoint"] = info
    milestones = tuple(Milestone(k, _step(k, save_every), **found[k]) for k in sorted(found))
    startup.sort(key=lambda s: (s.milestone, s.sampling_timesteps, s.file.name))
    return ResultsListing(milestones, tuple(startup), tuple(m for m in milestones if m.checkpoint is not None))


def _step(milestone: int, save_every: int | None) -> int | None:
    return milestone * int(save_every) if save_every else None


@dataclass(frozen=True)
class ImageCheck:
    """What `check_image` found: status "ok", "incomplete", "too_large" or "not_image"; size when known."""

    status: str
    format: str | None = None
    width: int | None = None
    height: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_PNG_END = b"IEND\xaeB`\x82"
_JPEG_END = b"\xff\xd9"


def check_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS,
                max_width: int | None = None, max_height: int | None = None) -> ImageCheck:
    """Is `data` a complete PNG or JPEG within the limits? Never raises.

    A file that is a PNG/JPEG but does not decode in full, or does not end with its end
    marker yet, is "incomplete" (a writer may still be at it: look again when its size
    changes). The pixel limits are checked from the header, before anything is decoded.
    """
    if len(data) > max_bytes:
        return ImageCheck("too_large", reason=f"{len(data):,} bytes (at most {max_bytes:,})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
            fmt, (width, height) = img.format, img.size
    except Image.DecompressionBombError as exc:
        return ImageCheck("too_large", reason=str(exc))
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for a header it cannot read
        if _looks_like_start(data):
            return ImageCheck("incomplete", reason="the image header is not all there yet")
        return ImageCheck("not_image", reason="neither a PNG nor a JPEG")
    too_big = (width * height > max_pixels or (max_width is not None and width > max_width)
               or (max_height is not None and height > max_height))
    if too_big:
        return ImageCheck("too_large", fmt, width, height, f"{width}×{height} pixels")
    ending = _PNG_END if fmt == "PNG" else _JPEG_END
    if not data.endswith(ending):
        return ImageCheck("incomplete", fmt, width, height, "the file does not end with its end marker yet")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.open(io.BytesIO(data), formats=IMAGE_FORMATS).verify()  # structure and chunk CRCs
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as full:
                full.load()  # the compressed pixel data decodes in full
    except Exception as exc:  # noqa: BLE001
        return ImageCheck("incomplete", fmt, width, height, f"does not decode yet ({type(exc).__name__})")
    return ImageCheck("ok", fmt, width, height)


def _looks_like_start(data: bytes) -> bool:
    """Empty, or a prefix of a PNG or JPEG signature-and-header (too short to read its size yet)."""
    return (not data or data[:8] == b"\x89PNG\r\n\x1a\n"[: len(data[:8])]
            or data[:2] == b"\xff\xd8"[: len(data[:2])])
