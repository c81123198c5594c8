"""Decoding files in the loader threads: the augmentation warp fused into the resize lands where resizing then
warping would, and a batch keeps going past files that fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from transferkit.data import affine, augment
from transferkit.data.decode import Decoder


@pytest.mark.parametrize("size", [(224, 224), (96, 160), (300, 200)])
def test_loader_warps_in_its_resize_as_resizing_then_warping_would(photo_dir: Path, size: tuple[int, int]) -> None:
    """One bilinear pass from the decoded photo (reduced first when twice the target or more) lands where the
    antialiased resize followed by the batch warp does: well under the gap that half a pixel makes."""

    geometry = augment.build(["flip=both", "rotate=20", "zoom=0.3", "shear=10", "shift=0.1"]).geometry
    decoder = Decoder(size)
    for path in sorted(photo_dir.iterdir()):  # a 451x300 PNG, 400x300 and 512x512 JPEGs
        m = geometry.matrices(4, *size, np.random.default_rng(1))
        resized = decoder.decode(str(path)).astype(np.float32)
        expect = affine.warp(np.repeat(resized[None], 4, axis=0), m, "bilinear", "reflect")
        fused = np.stack([decoder.decode(str(path), mi) for mi in m])
        assert fused.shape == (4, *size, 3) and fused.dtype == np.uint8
        half_pixel = np.stack([decoder.decode(str(path), mi + [[0, 0, 0.5], [0, 0, 0.5]]) for mi in m])
        error, error_half_pixel = np.abs(fused - expect).mean(), np.abs(half_pixel - expect).mean()
        assert error < 0.67 * error_half_pixel and error < 5, (path.name, error, error_half_pixel)
        identity = decoder.decode(str(path), np.array([[1.0, 0, 0], [0, 1.0, 0]]))
        assert np.abs(identity - resized).mean() < 3, path.name
    square = Decoder(size, color_mode="grayscale", keep_aspect_ratio=True)
    assert square.decode(str(photo_dir / "coffee.jpg"), m[0]).shape == (*size, 1)


def test_a_batch_keeps_going_past_files_that_fail(photo_dir: Path, tmp_path: Path) -> None:
    from transferkit.data.decode import load_batch
    from transferkit.data.skips import SkipLog
    from transferkit.errors import SkippedFileWarning

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not the rest of a jpeg")
    paths = [str(photo_dir / "chelsea.png"), str(broken), str(photo_dir / "coffee.jpg")]
    decoder, skips, bad, rng = Decoder((32, 32)), SkipLog(), set(), np.random.default_rng(0)
    with pytest.warns(SkippedFileWarning, match="broken.jpg"):
        batch, kept = load_batch(decoder, paths, np.arange(3), bad=bad, skips=skips, rng=rng)
    assert batch.shape == (2, 32, 32, 3) and kept.tolist() == [0, 2] and bad == {1}
    assert [path for path, _ in skips.entries] == [str(broken)]
    batch, kept = load_batch(decoder, paths, np.array([1]), bad=bad, skips=skips, rng=rng)  # only a known broken file
    assert len(batch) == 1 and int(kept[0]) in (0, 2)  # a good file stands in: a batch is never empty
