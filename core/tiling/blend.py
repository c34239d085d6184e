"""Weighted accumulation of patch outputs over a rolling band of rows.

Only rows that a patch still in flight can touch are kept: ``sums`` (weighted outputs) and
``weights`` (sum of weights) start at the first unfinished row and grow downwards as patches
arrive; :meth:`RowAccumulator.pop` hands out the finished rows on top, blended, and shifts
the rest up. Memory is therefore a few patch heights times the raster width, whatever the
raster height.

The sums are numpy arrays, updated through torch views of them: torch multiplies and adds
in one pass with the intra-op threads that sit idle between forward passes, where numpy
would make a temporary product on one core (2-3x slower per patch on 2 cores).
"""

from __future__ import annotations

import numpy as np
import torch


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
        self._use(
            np.zeros((channels, rows, width), np.float32), np.zeros((rows, width), np.float32)
        )

    def _use(self, sums: np.ndarray, wsum: np.ndarray) -> None:
        self.sums, self.wsum = sums, wsum
        self._sums, self._wsum = torch.from_numpy(sums), torch.from_numpy(wsum)

    def _ensure(self, stop: int) -> None:
        need = stop - self.top
        have = self.wsum.shape[0]
        if need <= have:
            return
        grow = max(need, 2 * have) - have
        self._use(
            np.concatenate(
                [self.sums, np.zeros((self.channels, grow, self.width), np.float32)], axis=1
            ),
            np.concatenate([self.wsum, np.zeros((grow, self.width), np.float32)]),
        )

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
        weights = torch.from_numpy((self.weights if weights is None else weights)[:h, :w])
        part = torch.from_numpy(output[:, :h, :w])
        self._sums[:, r : r + h, col : col + w].addcmul_(part, weights)
        self._wsum[r : r + h, col : col + w].add_(weights)
        self.bottom = max(self.bottom, row + h)

    def pop(self, stop: int) -> np.ndarray:
        """Blended rows ``[top, stop)`` as float32 ``(channels, n, width)``, NaN where unweighted.

        Rows past the end of the buffer (never touched by any patch: skipped patches) come
        out as NaN too.
        """
        n = stop - self.top
        self._ensure(stop)
        wsum = self.wsum[:n]
        rows = torch.div(self._sums[:, :n], self._wsum[:n]).numpy()
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
