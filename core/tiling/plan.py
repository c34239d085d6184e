"""Where the patches go: origins at a fixed stride, reflection beyond the raster border.

Paper 000 §3.3: square patches of edge ``d`` slide with stride ``d / s``. The paper pads the
bottom and right by mirroring until a last patch fits; here the last patch of each axis is
instead moved back so that it ends flush with the border. That is the same number of patches
(the minimum that covers the axis), but the last patches see real pixels instead of mirrored
ones, and no forward work is spent on padding. Mirror padding remains only for an axis
shorter than ``d`` (one patch, padded). Everything here is pure arithmetic on integers (no
I/O), so it is cheap to test exhaustively.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from marsspec.core.errors import InputError


def axis_origins(length: int, size: int, stride: int) -> tuple[int, ...]:
    """Patch origins along one axis: 0, stride, 2*stride, ... and ``length - size`` last.

    The last patch ends exactly at the far border (its step from the one before may be shorter
    than ``stride``); the count, ``ceil((length - size) / stride) + 1``, is the fewest patches
    at that stride that cover the axis. An axis shorter than ``size`` gets one patch at 0,
    which the reader pads by mirroring.
    """
    if length < 1:
        raise InputError(f"A raster axis has {length} pixels; the raster is empty.")
    if length <= size:
        return (0,)
    count = math.ceil((length - size) / stride) + 1
    return (*(i * stride for i in range(count - 1)), length - size)


def reflect_indices(start: int, stop: int, length: int) -> np.ndarray:
    """Indices ``start..stop-1`` folded into ``[0, length)`` by mirror reflection.

    Reflection excludes the edge pixel (``... 2 1 0 1 2 ...``), like numpy's ``reflect`` mode,
    but it folds again as often as needed, so a padding wider than the raster works too; an
    axis of one pixel simply repeats it.
    """
    idx = np.arange(start, stop, dtype=np.int64)
    if length == 1:
        return np.zeros_like(idx)
    period = 2 * (length - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= length, period - idx, idx)


@dataclass(frozen=True)
class Patch:
    """One patch: its index in the plan and its origin in raster pixels."""

    index: int
    tile_row: int
    row: int
    col: int
    size: int

    def clipped(self, height: int, width: int) -> tuple[int, int]:
        """Rows and columns of this patch that lie inside a ``height`` x ``width`` raster."""
        return min(self.size, height - self.row), min(self.size, width - self.col)


@dataclass(frozen=True)
class TilePlan:
    """The full set of patch origins for one raster, in row-major (reading) order."""

    height: int
    width: int
    size: int
    stride: int

    def __post_init__(self) -> None:
        if self.size < 1 or self.stride < 1:
            raise InputError(
                f"Patch size {self.size} and stride {self.stride} must both be at least 1; "
                "choose d >= s."
            )
        if self.stride > self.size:
            raise InputError(
                f"Stride {self.stride} exceeds the patch size {self.size}: pixels would be "
                "missed; use s >= 1."
            )

    @classmethod
    def from_ds(cls, height: int, width: int, d: int, s: int) -> TilePlan:
        """Plan for patch edge ``d`` and overlap factor ``s`` (stride ``d / s``)."""
        if not 1 <= s <= d:
            raise InputError(f"s={s} must lie in 1..d (d={d}); the paper uses 1..4.")
        if d % s:
            raise InputError(
                f"d={d} is not divisible by s={s}, so the stride d/s is not whole; "
                f"choose d as a multiple of s (e.g. d={d - d % s})."
            )
        return cls(height, width, d, d // s)

    @property
    def row_origins(self) -> tuple[int, ...]:
        return axis_origins(self.height, self.size, self.stride)

    @property
    def col_origins(self) -> tuple[int, ...]:
        return axis_origins(self.width, self.size, self.stride)

    @property
    def n_patches(self) -> int:
        return len(self.row_origins) * len(self.col_origins)

    @property
    def padded_width(self) -> int:
        """Width of a strip once padded: the raster width, or ``size`` for a narrower raster."""
        return self.col_origins[-1] + self.size

    def final_rows_after(self, tile_row: int) -> int:
        """Raster rows ``[0, n)`` that no patch after ``tile_row`` touches once it is done."""
        origins = self.row_origins
        return self.height if tile_row + 1 >= len(origins) else origins[tile_row + 1]

    def patches(self) -> Iterator[Patch]:
        """All patches, row by row, left to right: the order in which outputs become final."""
        cols = self.col_origins
        index = 0
        for tile_row, row in enumerate(self.row_origins):
            for col in cols:
                yield Patch(index, tile_row, row, col, self.size)
                index += 1
