"""Per-pixel weights of one patch's output when overlapping patches are blended.

* ``mean`` — every pixel weighs 1: paper 000, Eq. 2.
* ``gaussian`` — ``w = exp(-(r'^2 + c'^2) / (2 sigma^2))`` with ``r', c'`` the pixel centres
  mapped onto ``[-1, 1]`` (paper 000, Eq. 3 is ``sigma = sqrt(1/2)``). Pixels near a patch
  edge, where a network sees least context, count least. The default ``sigma = 0.35`` is
  narrower than the paper's: with Eq. 3 a patch edge still weighs ``e^-1`` of its centre,
  which leaves a step at every patch border (about 12x the local slope of a position-dependent
  error at s = 2); at 0.35 the edge weighs ``e^-4`` and, for s = 2..4, no step exceeds the
  error's own slope. Narrower still (0.25, MONAI's default) switches between patches so
  abruptly that a step comes back. tests/test_tiling_seams.py measures all of this.
* ``crop`` — 1 inside a margin, the floor outside: for large tiles whose borders are simply
  discarded (the interiors of neighbouring tiles abut or overlap). A margin that faces the
  raster's own border is kept at 1 (:func:`crop_weights` ``keep``): no neighbour can replace
  it, and floored margins of two tiles there would average a good and a bad prediction.

Every map has a small positive floor so that a pixel covered by only the extreme corner of a
patch (the raster's own border) still divides by a non-zero weight.
"""

from __future__ import annotations

import math

import numpy as np

from marsspec.core.errors import InputError
from marsspec.core.options import BLENDINGS

PAPER_SIGMA = math.sqrt(0.5)
DEFAULT_SIGMA = 0.35
DEFAULT_FLOOR = 1e-4


def _centred_coordinates(size: int) -> np.ndarray:
    """Pixel centres of ``size`` pixels mapped symmetrically onto (-1, 1)."""
    return (2.0 * np.arange(size, dtype=np.float64) + 1.0) / size - 1.0


def gaussian_weights(
    size: int, sigma: float = DEFAULT_SIGMA, floor: float = DEFAULT_FLOOR
) -> np.ndarray:
    """Separable 2-D Gaussian importance map of ``size`` x ``size``, peak 1, floored."""
    if sigma <= 0:
        raise InputError(f"Gaussian sigma {sigma} must be > 0 (paper: {PAPER_SIGMA:.4f}).")
    axis = np.exp(-(_centred_coordinates(size) ** 2) / (2.0 * sigma * sigma))
    return np.maximum(np.outer(axis, axis), floor).astype(np.float32)


def mean_weights(size: int) -> np.ndarray:
    return np.ones((size, size), dtype=np.float32)


def crop_weights(
    size: int,
    margin: int,
    floor: float = DEFAULT_FLOOR,
    keep: tuple[bool, bool, bool, bool] = (False, False, False, False),
) -> np.ndarray:
    """1 inside ``margin`` pixels from every edge, ``floor`` in the margin.

    ``keep`` = (top, bottom, left, right): margins on those sides weigh 1 as well, for a tile
    that touches the raster border there.
    """
    if not 0 <= 2 * margin < size:
        raise InputError(f"Margin {margin} leaves no interior in a tile of {size}; lower it.")
    axes = []
    for first, last in (keep[:2], keep[2:]):
        axis = np.full(size, floor, dtype=np.float32)
        axis[margin : size - margin] = 1.0
        if first:
            axis[:margin] = 1.0
        if last:
            axis[size - margin :] = 1.0
        axes.append(axis)
    return np.outer(axes[0], axes[1]).clip(min=floor).astype(np.float32)


def weight_map(
    blending: str,
    size: int,
    *,
    sigma: float = DEFAULT_SIGMA,
    floor: float = DEFAULT_FLOOR,
    margin: int = 0,
    keep: tuple[bool, bool, bool, bool] = (False, False, False, False),
) -> np.ndarray:
    """The weight map for a blending name (``gaussian``, ``mean`` or ``crop``)."""
    if blending == "gaussian":
        return gaussian_weights(size, sigma, floor)
    if blending == "mean":
        return mean_weights(size)
    if blending == "crop":
        return crop_weights(size, margin, floor, keep)
    raise InputError(f"Unknown blending {blending!r}; use one of {', '.join(BLENDINGS)}.")
