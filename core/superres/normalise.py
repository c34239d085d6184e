"""Robust value normalisation around the SR network: radiometry in, the same radiometry out.

The network works on values roughly in [0, 1]; an I/F or DN raster is mapped there by its own
0.5/99.5 % percentiles and mapped back afterwards with the inverse affine map, in float32, so
no 8-bit intermediate ever clips or quantises the data (values outside the range stay linear).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOW_PERCENT = 0.5
HIGH_PERCENT = 99.5


def robust_range(values: np.ndarray) -> tuple[float, float]:
    """(lo, hi) percentiles of finite ``values``; never a zero-width range."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [LOW_PERCENT, HIGH_PERCENT])
    if not hi > lo:
        spread = max(abs(float(lo)) * 1e-3, 1e-6)
        lo, hi = float(lo) - spread, float(lo) + spread
    return float(lo), float(hi)


@dataclass(frozen=True)
class Normaliser:
    """``(x - lo) / (hi - lo)`` and back; one per band."""

    lo: float
    hi: float

    @classmethod
    def from_values(cls, values: np.ndarray) -> Normaliser:
        return cls(*robust_range(values))

    def forward(self, x):
        return (x - self.lo) / (self.hi - self.lo)

    def inverse(self, y):
        return y * (self.hi - self.lo) + self.lo
