"""Slanted-edge sharpness (paper 002 §3.1): the 10-90 % rise distance of an edge profile.

The paper measured it with Imatest on 20 high-contrast edges and divided the rise of the
(upscaled) input by the rise of the SR image to get an effective resolution gain (~3x). Here
the same idea, ISO 12233-style: locate the edge in every row by the centroid of the
derivative, fit a straight line, project every pixel onto the edge normal to build a 4x
oversampled edge spread function (ESF), and measure where it crosses 10 % and 90 % of the
step. The rise is in pixels along the edge normal.
"""

from __future__ import annotations

import numpy as np

from marsspec.core.errors import InputError

OVERSAMPLE = 4


def _edge_line(image: np.ndarray) -> tuple[float, float]:
    """Fit ``x = a*y + b`` through per-row centroids of the horizontal derivative."""
    deriv = np.abs(np.diff(image, axis=1))
    rows = np.arange(image.shape[0])
    cols = np.arange(deriv.shape[1]) + 0.5
    weight = deriv.sum(axis=1)
    good = weight > 0
    if good.sum() < 3:
        raise InputError("No edge found in the region; give a region crossed by one edge.")
    centroids = (deriv[good] * cols).sum(axis=1) / weight[good]
    a, b = np.polyfit(rows[good], centroids, 1)
    return float(a), float(b)


def edge_spread_function(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance, ESF) of a region crossed by one roughly straight edge, oversampled 4x."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or min(image.shape) < 8:
        raise InputError(f"Edge region {image.shape} must be 2-D and at least 8x8 pixels.")
    if not np.isfinite(image).all():
        raise InputError("The edge region contains nodata; choose a region without it.")
    gx = np.abs(np.diff(image, axis=1)).sum()
    gy = np.abs(np.diff(image, axis=0)).sum()
    if gy > gx:  # a mostly horizontal edge: measure in the transposed image
        image = image.T
    a, b = _edge_line(image)
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float64)
    distance = (xx - (a * yy + b)) / np.sqrt(1.0 + a * a)
    bins = np.round(distance * OVERSAMPLE).astype(int)
    lo = bins.min()
    counts = np.bincount(bins.ravel() - lo)
    sums = np.bincount(bins.ravel() - lo, weights=image.ravel())
    keep = counts > 0
    x = (np.arange(counts.size)[keep] + lo) / OVERSAMPLE
    esf = sums[keep] / counts[keep]
    return x, esf


def rise_distance(image: np.ndarray, low: float = 0.1, high: float = 0.9) -> float:
    """10-90 % rise (pixels along the edge normal) of the edge in ``image``."""
    x, esf = edge_spread_function(image)
    # Plateaus: the outer fifths of the profile (far from the edge on either side).
    n = max(2, len(esf) // 5)
    left, right = float(np.median(esf[:n])), float(np.median(esf[-n:]))
    if abs(right - left) < 1e-12:
        raise InputError("The region has no contrast across the edge; choose another edge.")
    norm = (esf - left) / (right - left)  # 0 -> 1 whatever the edge's polarity
    centre = int(np.argmin(np.abs(norm - 0.5)))
    return _crossing(x, norm, high, centre, +1) - _crossing(x, norm, low, centre, -1)


def _crossing(x: np.ndarray, y: np.ndarray, level: float, start: int, direction: int) -> float:
    """First linear-interpolated crossing of ``level`` walking from ``start`` in ``direction``."""
    i = start
    while 0 <= i + direction < len(y):
        j = i + direction
        if (y[i] - level) * (y[j] - level) <= 0 and y[i] != y[j]:
            t = (level - y[i]) / (y[j] - y[i])
            return float(x[i] + t * (x[j] - x[i]))
        i = j
    raise InputError("The edge profile never reaches 10 % / 90 %; use a larger region.")


def edge_factor(reference: np.ndarray, improved: np.ndarray) -> float:
    """Rise of ``reference`` (e.g. the bicubic-upscaled input) / rise of ``improved`` (SR)."""
    return rise_distance(reference) / rise_distance(improved)


def gaussian_rise(sigma: float) -> float:
    """10-90 % rise of an ideal step blurred by a Gaussian PSF of ``sigma`` pixels."""
    return 2.0 * 1.2815515655446004 * sigma
