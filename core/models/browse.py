"""Browse products: the paper's channel-wise 3-sigma stretch to uint8 RGB (§4.1.1).

Values beyond mean +- 3 std of each band are clipped to that bound, then mapped to 1..255
(0 is kept for nodata). Statistics come from the whole raster (streaming), so every tile of a
big image gets the same stretch.
"""

from __future__ import annotations

import numpy as np

NODATA = 0


def stretch_bounds(mean: np.ndarray, std: np.ndarray, k: float = 3.0):
    mean = np.asarray(mean, np.float64)
    std = np.asarray(std, np.float64)
    return mean - k * std, mean + k * std


def stretch_to_uint8(data: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(bands, H, W) float with NaN nodata -> uint8 with 0 = nodata, 1..255 = stretched."""
    low = np.asarray(low, np.float64).reshape(-1, 1, 1)
    high = np.asarray(high, np.float64).reshape(-1, 1, 1)
    span = np.where(high > low, high - low, 1.0)
    finite = np.isfinite(data)
    scaled = (np.clip(np.where(finite, data, low), low, high) - low) / span
    out = np.rint(1 + scaled * 254).astype(np.uint8)
    out[~finite] = NODATA
    return out
