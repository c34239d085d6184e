"""Image-wide similarity before/after, measured by marsspec itself on the matching grid.

arosics reports SSIM per matching window; the summary wants one honest number for the whole
overlap, so the CRISM matching band is resampled on the matching grid with the same field the
cube gets and compared with the (averaged) CTX, both standardised, nodata excluded.
"""

from __future__ import annotations

import numpy as np

from marsspec.core.coreg.field import CorrectionField
from marsspec.core.coreg.grid import NODATA, MatchGrid


def corrected_on_grid(target: np.ndarray, grid: MatchGrid, field: CorrectionField) -> np.ndarray:
    from scipy.ndimage import map_coordinates

    t = grid.transform
    x = t.c + (np.arange(grid.width) + 0.5)[None, :] * t.a
    y = t.f + (np.arange(grid.height) + 0.5)[:, None] * t.e
    x, y = np.broadcast_arrays(x, y)
    dx, dy = field.at(x, y)
    col = (x + dx - t.c) / t.a - 0.5
    row = (y + dy - t.f) / t.e - 0.5
    valid = (target != NODATA).astype(np.float32)
    data = np.where(target != NODATA, target, 0).astype(np.float32)
    value = map_coordinates(data, [row, col], order=1, mode="constant", cval=0.0)
    weight = map_coordinates(valid, [row, col], order=1, mode="constant", cval=0.0)
    return np.where(weight > 0.999, value, NODATA).astype(np.float32)


def ssim(reference: np.ndarray, target: np.ndarray) -> float:
    """Mean SSIM over pixels valid in both (7x7 windows), after standardising each image."""
    from scipy.ndimage import binary_erosion
    from skimage.metrics import structural_similarity

    both = (reference != NODATA) & (target != NODATA)
    inner = binary_erosion(both, iterations=3)
    if inner.sum() < 49:
        return float("nan")

    def standardise(image):
        values = image[both]
        out = (image - values.mean()) / (values.std() or 1.0)
        return np.where(both, out, 0.0)

    a, b = standardise(reference), standardise(target)
    span = float(max(a[both].max(), b[both].max()) - min(a[both].min(), b[both].min()))
    _, full = structural_similarity(a, b, data_range=span or 1.0, full=True, win_size=7)
    return float(full[inner].mean())
