"""Fuzzed image files (Hypothesis): real JPEG, PNG, GIF, WebP and TIFF files with bits flipped, cut short, headers
spliced onto other formats' bodies, declared sizes made huge or zero. Every one is either decoded to the right shape
or refused with an :class:`ImageError` naming it -- never another exception, never a hang -- by ``images.load``, the
folder scan and the training loader alike.

The examples are derandomized (the same inputs every run: a seeded corpus) and few in ``make test``;
``make fuzz`` runs many more (``TRANSFERKIT_FUZZ_EXAMPLES``, default there 2,000).
"""

from __future__ import annotations

import io
import os
import struct
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from transferkit import ImageError, SkippedFileWarning, data
from transferkit.data import images

FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "TIFF")
EXAMPLES = int(os.environ.get("TRANSFERKIT_FUZZ_EXAMPLES", "120"))
#: The longest any single file may take to decode or be refused (a 64x64 file decodes in milliseconds).
SECONDS_PER_FILE = 5.0
FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip


def _originals() -> dict[str, bytes]:
    from skimage import data as photos

    picture = Image.fromarray(photos.chelsea()).resize((64, 48))
    out = {}
    for name in FORMATS:
        buffer = io.BytesIO()
        image = picture.convert("P") if name == "GIF" else picture
        image.save(buffer, format=name)
        out[name] = buffer.getvalue()
    return out


ORIGINALS = _originals()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real file of one of :data:`FORMATS`, damaged in one or more of the ways broken photo folders hold."""
    kind = draw(st.sampled_from(FORMATS))
    body = bytearray(ORIGINALS[kind])
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["flip", "truncate", "splice", "size", "zero", "garbage"]))
        if how == "flip" and body:
            for _ in range(draw(st.integers(1, 16))):
                at = draw(st.integers(0, len(body) - 1))
                body[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "truncate":
            body = body[: draw(st.integers(0, len(body)))]
        elif how == "splice":  # one format's header on another's body
            other = ORIGINALS[draw(st.sampled_from(FORMATS))]
            cut = draw(st.integers(0, min(len(body), 64)))
            body = bytearray(body[:cut] + other[cut:])
        elif how in ("size", "zero"):
            body = bytearray(_declared_size(bytes(body), 0 if how == "zero" else draw(st.integers(2**15, 2**31 - 1))))
        else:
            at = draw(st.integers(0, len(body)))
            body[at:at] = draw(st.binary(min_size=1, max_size=64))
    return bytes(body)


def _declared_size(body: bytes, side: int) -> bytes:
    """The file with the width and height its header declares set to ``side`` (PNG IHDR, JPEG SOF0/SOF2, GIF
    logical screen; other formats unchanged)."""
    out = bytearray(body)
    if out[:8] == b"\x89PNG\r\n\x1a\n" and len(out) >= 24:
        out[16:24] = struct.pack(">II", side, side)
    elif out[:6] in (b"GIF87a", b"GIF89a") and len(out) >= 10:
        out[6:10] = struct.pack("<HH", side & 0xFFFF, side & 0xFFFF)
    elif out[:2] == b"\xff\xd8":
        for marker in (b"\xff\xc0", b"\xff\xc2"):
            at = out.find(marker)
            if at >= 0 and len(out) >= at + 9:
                out[at + 5 : at + 9] = struct.pack(">HH", side & 0xFFFF, side & 0xFFFF)
    return bytes(out)


def _decoded_or_refused(path: Path, size: tuple[int, int]) -> None:
    started = time.perf_counter()
    try:
        array = images.load(path, size)
    except ImageError as exc:
        assert exc.reason and path.name in str(exc)
    else:
        assert array.shape == (*size, 3) and array.dtype == np.float32 and np.isfinite(array).all()
    assert time.perf_counter() - started < SECONDS_PER_FILE


@FUZZ
@given(body=mutated())
def test_a_damaged_file_is_decoded_or_refused_with_a_reason(
    body: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "photo.jpg"
    path.write_bytes(body)
    _decoded_or_refused(path, (32, 32))
    reason = images.probe(str(path))  # the scan's header check: a reason or None, never an exception
    assert reason is None or (isinstance(reason, str) and reason)


@FUZZ
@given(bodies=st.lists(mutated(), min_size=1, max_size=6))
def test_a_folder_of_damaged_files_trains_on_what_it_can_and_lists_the_rest(
    bodies: list[bytes], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("fuzz-folder")
    for name in ("a", "b"):  # one good image per class, so a dataset can always be made
        (root / name).mkdir()
        (root / name / "good.png").write_bytes(ORIGINALS["PNG"])
    for i, body in enumerate(bodies):
        (root / ("a", "b")[i % 2] / f"damaged_{i}.jpg").write_bytes(body)
    with warnings.catch_warnings():  # one warning per skipped file: the test reads dataset.skipped instead
        warnings.simplefilter("ignore", SkippedFileWarning)
        dataset = data.image_folder(root, 32, batch_size=4, shuffle=False)
        seen = sum(len(dataset[i][0]) for i in range(len(dataset)))
    skipped = {path for path, _ in dataset.skipped}
    assert seen + len(skipped) == len(bodies) + 2  # every file used or listed with its reason
    assert all(reason for _, reason in dataset.skipped)
    assert str(root / "a" / "good.png") not in skipped
