"""Weighted accumulation of patch outputs over a rolling band of rows.

Only rows that a patch still in flight can touch are kept: ``sums`` (weighted outputs) and
``weights`` (sum of weights) start at the first unfinished row and grow downwards as patches
arrive; :meth:`RowAccumulator.pop` hands out the finished rows on top, blended, and shifts
the rest up. Memory is therefore a few patch heights times the raster width, whatever the
raster height.
"""

from __future__ import annotations

import numpy as np


class RowAccumulator:
    """Weighted sums for one output, covering output rows ``[top, top + capacity)``."""

    def __init__(self, channels: int, height: int, width: int, weights: np.ndarray) -> None:
        self.channels = channels
        self.height = height
        self.width = width
        self.weights = weights
        self.top = 0
        self.bottom = 0  # output rows below this one hold no weight yet (zeros in the buffer)
        rows = 2 * weights.shape[0]
        self.sums = np.zeros((channels, rows, width), np.float32)
        self.wsum = np.zeros((rows, width), np.float32)

    def _ensure(self, stop: int) -> None:
        need = stop - self.top
        have = self.wsum.shape[0]
        if need <= have:
            return
        grow = max(need, 2 * have) - have
        self.sums = np.concatenate(
            [self.sums, np.zeros((self.channels, grow, self.width), np.float32)], axis=1
        )
        self.wsum = np.concatenate([self.wsum, np.zeros((grow, self.width), np.float32)])

    def add(
        self, output: np.ndarray, row: int, col: int, weights: np.ndarray | None = None
    ) -> None:
        """Add one patch output ``(channels, size, size)`` whose top-left is ``(row, col)``.

        ``weights`` overrides the accumulator's map for this patch (crop blending at the
        raster border). The parts beyond the raster's right or bottom edge (predictions on
        mirrored pixels of a raster smaller than a patch) are dropped here.
        """
        h = min(output.shape[-2], self.height - row)
        w = min(output.shape[-1], self.width - col)
        self._ensure(row + h)
        r = row - self.top
        weights = (self.weights if weights is None else weights)[:h, :w]
        self.sums[:, r : r + h, col : col + w] += output[:, :h, :w] * weights
        self.wsum[r : r + h, col : col + w] += weights
        self.bottom = max(self.bottom, row + h)

    def pop(self, stop: int) -> np.ndarray:
        """Blended rows ``[top, stop)`` as float32 ``(channels, n, width)``, NaN where unweighted.

        Rows past the end of the buffer (never touched by any patch: skipped patches) come
        out as NaN too.
        """
        n = stop - self.top
        self._ensure(stop)
        wsum = self.wsum[:n]
        with np.errstate(invalid="ignore", divide="ignore"):
            rows = self.sums[:, :n] / wsum
        rows[:, wsum == 0] = np.nan
        # Shift up only the rows that hold weights (the buffer below them is zero already):
        # about a third of the buffer at s = 2 instead of all of it.
        used = max(self.bottom - self.top, n)
        keep = used - n
        self.sums[:, :keep] = self.sums[:, n:used]
        self.sums[:, keep:used] = 0
        self.wsum[:keep] = self.wsum[n:used]
        self.wsum[keep:used] = 0
        self.top = stop
        return rows
