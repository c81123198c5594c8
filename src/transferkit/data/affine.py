"""Warping images by affine matrices: a whole float batch in one call (:func:`warp`), or one decoded ``uint8``
image straight to its target size (:func:`warp_image`), the fast core of augmentation.

Why not ``keras.ops.image.affine_transform`` (or the Keras layers built on it)? On CPU it measured
280 ms to 10 s for a 32x224x224 batch on the torch backend and 360 ms on JAX, slower than the per-image
SciPy calls that made Keras 2's generator slow; ``torch.nn.functional.grid_sample`` does the same warp
in about 10 ms. This is data loading, not model code: it runs on numpy batches in the loader threads
whichever backend Keras uses (torch is a dependency of transferkit), so models stay backend-agnostic.

:func:`warp_image` is what :mod:`transferkit.data.decode` uses while decoding: resize and augmentation in one
pass (bilinear by default) from the draft-decoded photo, by OpenCV's fixed-point ``uint8`` kernel
(``cv2.warpAffine``, about 0.4 ms for a 224x224 output, against 1 ms for ``grid_sample`` on floats plus 0.5 ms for the
separate resize). It runs in the loader threads, one image each (OpenCV releases the GIL).

Coordinates follow SciPy's ``ndimage.affine_transform``: output pixel ``(row, col)`` takes its value from
input position ``M[:, :2] @ (row, col) + M[:, 2]``, pixel centres at integers.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

FILL_MODES = ("nearest", "constant", "reflect", "wrap", "mirror")


def is_identity(matrices: np.ndarray) -> np.ndarray:
    """Which of the ``(N, 2, 3)`` matrices leave an image as it is."""
    eye = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return np.all(np.abs(matrices - eye) < 1e-9, axis=(1, 2))


@functools.lru_cache(maxsize=8)
def _axes(height: int, width: int, corners: bool) -> tuple[Any, Any]:
    """Normalised x of every output column and y of every output row, as ``affine_grid`` places them."""
    import torch

    def axis(size: int) -> Any:
        if corners:
            return torch.linspace(-1.0, 1.0, size) if size > 1 else torch.zeros(1)
        return (torch.arange(size, dtype=torch.float32) * 2 + 1) / size - 1

    return axis(width), axis(height)


def _grid(theta: Any, height: int, width: int, corners: bool) -> Any:
    """``affine_grid``'s sampling grid ``(N, H, W, 2)`` for normalised ``theta`` ``(N, 2, 3)``, by broadcasting.

    An affine grid is separable (``x' = a x + (b y + c)``): summing a row term and a column term took 1.3 ms
    for a 32x224x224 batch on one core, where ``affine_grid`` or a matmul against its base grid took 17 to 30.
    """
    import torch

    xs, ys = _axes(height, width, corners)
    grid = torch.empty((len(theta), height, width, 2))
    for k in range(2):
        rows = ys[None, :, None] * theta[:, k, 1, None, None] + theta[:, k, 2, None, None]
        torch.add(rows, xs[None, None, :] * theta[:, k, 0, None, None], out=grid[..., k])
    return grid


def _theta(matrices: np.ndarray, height: int, width: int, corners: bool) -> np.ndarray:
    """Pixel-space (row, col) matrices as ``affine_grid``'s normalised (x, y) ones."""
    linear = np.asarray(matrices, np.float64)[:, ::-1, :2][:, :, ::-1]  # (row, col) -> (x, y)
    offset = np.asarray(matrices, np.float64)[:, ::-1, 2]
    sizes = np.array([width, height], np.float64)
    centre = (sizes - 1) / 2  # pixel = scale * normalised + centre
    scale = np.maximum(centre, 0.5) if corners else sizes / 2
    theta = np.empty((len(linear), 2, 3))
    theta[:, :, :2] = linear * scale[None, None, :] / scale[None, :, None]
    theta[:, :, 2] = (np.einsum("nij,j->ni", linear, centre) + offset - centre) / scale
    return theta


def warp(
    images: np.ndarray,
    matrices: np.ndarray,
    interpolation: str = "bilinear",
    fill_mode: str = "nearest",
    cval: float = 0.0,
) -> np.ndarray:
    """Warp each image of a float ``(N, H, W, C)`` batch by its ``(2, 3)`` matrix; returns a new float32 batch.

    ``interpolation``: ``"bilinear"`` or ``"nearest"``; ``fill_mode``: one of :data:`FILL_MODES`, with
    SciPy's meaning (``reflect`` repeats the edge pixel, ``mirror`` does not, ``wrap`` has period size - 1).
    """
    import torch
    import torch.nn.functional as F

    height, width = images.shape[1:3]
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    corners = fill_mode != "reflect"  # grid_sample reflects about pixel edges only without align_corners
    theta = torch.from_numpy(_theta(matrices, height, width, corners).astype(np.float32))
    grid = _grid(theta, height, width, corners)
    outside = None
    if fill_mode == "constant":  # SciPy: cval wherever the source falls outside, no blending at the edge
        outside = (grid.abs() > 1 + 1e-6).any(dim=-1)
    elif fill_mode == "wrap":
        scale = torch.tensor([max(width - 1, 1), max(height - 1, 1)], dtype=torch.float32)
        pixels = (grid + 1) / 2 * scale
        folded = torch.where(grid.abs() > 1 + 1e-6, pixels.remainder(scale), pixels)  # the last pixel stays last
        grid = folded / scale * 2 - 1
    padding = "reflection" if fill_mode in ("reflect", "mirror") else "border"
    out = F.grid_sample(x, grid, mode=interpolation, padding_mode=padding, align_corners=corners)
    if outside is not None:
        out = out.masked_fill(outside[:, None], float(cval))
    return out.permute(0, 2, 3, 1).numpy()  # a strided view: callers copy it where they store it


#: The fill modes :func:`warp_image` has (OpenCV's borders with SciPy's meaning); ``wrap`` is SciPy's own.
IMAGE_FILL_MODES = ("nearest", "constant", "reflect", "mirror")


def warp_image(
    image: np.ndarray,
    matrix: np.ndarray,
    size: tuple[int, int],
    interpolation: str = "bilinear",
    fill_mode: str = "reflect",
    cval: float = 0.0,
) -> np.ndarray:
    """Warp a ``uint8`` (H, W[, C]) image by one ``(2, 3)`` matrix into a new ``size`` = (height, width) image.

    ``interpolation``: ``nearest``, ``bicubic``, ``lanczos``, or bilinear for any other name (``box`` and
    ``hamming`` have no warp); ``fill_mode``: one of :data:`IMAGE_FILL_MODES` (``reflect`` repeats the edge
    pixel, as SciPy's), ``cval`` the value outside for ``constant``."""
    import cv2

    xy = np.asarray(matrix, np.float64)[::-1][:, [1, 0, 2]]  # (row, col) -> OpenCV's (x, y)
    names = {"nearest": cv2.INTER_NEAREST, "bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}
    flags = names.get(interpolation, cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP  # output pixel -> input position
    borders = {"nearest": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT,
               "mirror": cv2.BORDER_REFLECT_101}  # fmt: skip
    return cv2.warpAffine(np.ascontiguousarray(image), xy, (int(size[1]), int(size[0])), flags=flags,
                          borderMode=borders[fill_mode], borderValue=(cval,) * 4)  # fmt: skip


def matrices(
    height: int,
    width: int,
    *,
    angle: np.ndarray,
    shear: np.ndarray,
    zoom: np.ndarray,
    shift_y: np.ndarray,
    shift_x: np.ndarray,
    flip: np.ndarray,
    shear_y: np.ndarray | None = None,
) -> np.ndarray:
    """Sampling matrices about the image centre, one per image: rotate by ``angle``, shear along x by ``shear``
    (and along y by ``shear_y``; degrees), magnify by ``zoom`` (above 1 zooms in), move by ``shift_y`` and
    ``shift_x`` pixels, mirror left-right where ``flip``."""
    n = len(angle)
    a, sx = np.deg2rad(angle), np.deg2rad(shear)
    sy = np.zeros(n) if shear_y is None else np.deg2rad(shear_y)
    one, zero = np.ones(n), np.zeros(n)
    rotate = np.stack([np.stack([np.cos(a), -np.sin(a)], -1), np.stack([np.sin(a), np.cos(a)], -1)], 1)
    shear_x_m = np.stack([np.stack([one, np.tan(sx)], -1), np.stack([zero, one], -1)], 1)
    shear_y_m = np.stack([np.stack([one, zero], -1), np.stack([np.tan(sy), one], -1)], 1)
    mirror = np.stack([np.stack([np.where(flip, -1.0, 1.0), zero], -1), np.stack([zero, one], -1)], 1)
    # in (x=col, y=row): source = centre + A @ (output - centre) - shift
    xy = rotate @ shear_x_m @ shear_y_m @ mirror / np.asarray(zoom, np.float64).reshape(-1, 1, 1)
    m = np.zeros((n, 2, 3))
    m[:, :, :2] = xy[:, ::-1, ::-1]  # to (row, col)
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    m[:, :, 2] = centre - m[:, :, :2] @ centre - np.stack([shift_y, shift_x], axis=1)
    return m
