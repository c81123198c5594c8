"""Keras 2's random-transform arithmetic, batched: its affine matrices, its shift draws, its brightness shift.

Each reproduces what ``keras.src.legacy.preprocessing.image`` computes for one image, for a whole batch at
once (the drop-in's tests compare them on real photos); the warp itself is :func:`transferkit.data.affine.warp`.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def legacy_matrices(
    *,
    theta: np.ndarray,
    tx: np.ndarray,
    ty: np.ndarray,
    shear: np.ndarray,
    zx: np.ndarray,
    zy: np.ndarray,
    height: int,
    width: int,
) -> np.ndarray:
    """Keras 2's ``apply_affine_transform`` matrices (angles in degrees) for a batch, built exactly as it does.

    Keras 2 composes rotation, shift, shear and zoom about the centre, then swaps the two axes for
    channels-last images; the same matrix here gives the same geometry (quirks included: ``tx``, which
    Keras 2 draws from ``height_shift_range``, ends up moving columns).
    """
    n = len(theta)
    t, s = np.deg2rad(theta), np.deg2rad(shear)
    m = np.zeros((n, 3, 3))
    # rotation @ shift @ shear @ zoom, multiplied out
    cos, sin, sh_s, sh_c = np.cos(t), np.sin(t), np.sin(s), np.cos(s)
    m[:, 0, 0] = cos * zx
    m[:, 0, 1] = (-cos * sh_s - sin * sh_c) * zy
    m[:, 0, 2] = cos * tx - sin * ty
    m[:, 1, 0] = sin * zx
    m[:, 1, 1] = (-sin * sh_s + cos * sh_c) * zy
    m[:, 1, 2] = sin * tx + cos * ty
    m[:, 2, 2] = 1.0
    o_x, o_y = height / 2 - 0.5, width / 2 - 0.5
    offset = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    m = offset @ m @ reset
    m = m[:, [1, 0]][:, :, [1, 0, 2]]  # Keras 2's axis swap for channels-last arrays
    return m[:, :2, :]


def fold_flips(matrices: np.ndarray, flip_h: np.ndarray, flip_v: np.ndarray, height: int, width: int) -> np.ndarray:
    """The matrices that warp and then flip, where ``flip_h`` / ``flip_v``: Keras 2 flips the warped image,
    which is sampling it through mirrored output coordinates (the channel shift and brightness Keras 2 applies
    between or after are per pixel, with per-image extremes, so they do not mind the order). Saves a copy."""
    m = np.array(matrices, np.float64)
    for flip, axis, size in ((flip_v, 0, height), (flip_h, 1, width)):  # output index i -> size - 1 - i
        m[flip, :, 2] += m[flip, :, axis] * (size - 1)
        m[flip, :, axis] *= -1
    return m


def shift_draw(value: Any, size: int, n: int, rs: Any) -> np.ndarray:
    """Keras 2's shift draw: a float range is uniform, an int or list is a choice with a random sign."""
    if not np.any(value):
        return np.zeros(n)
    if isinstance(value, (float, np.floating)):
        shift = rs.uniform(-value, value, n)
    else:
        shift = rs.choice(value, n) * rs.choice([-1, 1], n)
    return shift * size if np.max(value) < 1 else shift.astype(np.float64)


def brightness(x: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Keras 2's brightness shift (PIL's ``ImageEnhance.Brightness`` on 8-bit values), for a batch at once."""
    low, high = x.min(axis=(1, 2, 3), keepdims=True), x.max(axis=(1, 2, 3), keepdims=True)
    rescaled = (low < 0) | (high > 255)  # Keras 2 stretches such images to 0-255 and back
    span = np.where(high - low == 0, 1, high - low)
    # + 1e-3: a warp leaves 126 as 125.99998 where SciPy may not, and Keras 2 truncates to 8 bits
    eight_bit = np.floor(np.where(rescaled, (x - low) / span * 255, x) + 1e-3)
    out = np.floor(np.clip(eight_bit * factors.reshape(-1, 1, 1, 1), 0, 255))
    return np.where(rescaled, out / 255 * (high - low) + low, out).astype(x.dtype, copy=False)
