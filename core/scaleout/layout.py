"""Where a raster is cut into blocks, and how far each block reads beyond its edges (halo).

A block's output must equal the single-process engine's output on the same pixels. The engine's
plan (core/tiling/plan.py) puts patch origins at multiples of the stride ``S`` and moves the
last patch of an axis back so that it ends flush with the raster border. For a block writing
rows ``[start, stop)`` of an axis of ``length`` pixels with patches of ``size`` px:

* every global patch that overlaps the block starts after ``start - size``; the window starts at
  the first multiple of ``S`` there (``read_start``), so the block-local plan's regular origins
  are the global ones (same patches, same order, same weights);
* the window ends ``size`` px after the block (``read_stop = stop + size``) or at the raster end:
  the block-local plan's extra flush patch then starts at or after ``stop`` and touches only
  halo pixels, and at the raster end it is the global flush patch;
* crop blending keeps the margins of patches on the window border: the first window patch ends
  its kept margin at ``read_start + margin <= start - size + S + margin <= start`` (since
  ``S = size - 2 * margin``), so that too lands in the halo.

Everything here is integer arithmetic, derived from the plan's ``size`` and ``stride`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from marsspec.core.errors import InputError

DEFAULT_BLOCK = 4096  # input pixels per block side (rounded down to the patch grid)


@dataclass(frozen=True)
class AxisBlock:
    """One block along an axis: writes ``[start, stop)``, reads ``[read_start, read_stop)``."""

    start: int
    stop: int
    read_start: int
    read_stop: int


def axis_blocks(length: int, block: int, size: int, stride: int) -> tuple[AxisBlock, ...]:
    """Blocks of about ``block`` px (rounded down to a multiple of ``stride``) along an axis."""
    if length < 1:
        raise InputError(f"A raster axis has {length} pixels; the raster is empty.")
    if block < 1:
        raise InputError(f"Block size {block} px must be at least 1.")
    step = max(stride, block - block % stride)
    if length <= size or step >= length:
        return (AxisBlock(0, length, 0, length),)
    last_regular = ((length - size) // stride) * stride  # a window must hold one whole patch
    blocks = []
    for start in range(0, length, step):
        stop = min(length, start + step)
        first = max(0, start - size + 1)  # the first origin whose patch reaches ``start``
        read_start = min(-(-first // stride) * stride, last_regular)
        read_stop = min(length, stop + size)
        blocks.append(AxisBlock(start, stop, read_start, read_stop))
    return tuple(blocks)


@dataclass(frozen=True)
class Block:
    """One block of a raster: its grid position and its output and read windows (input px)."""

    row: int
    col: int
    rows: AxisBlock
    cols: AxisBlock

    @property
    def name(self) -> str:
        return f"r{self.row:04d}_c{self.col:04d}"

    @property
    def pixels(self) -> int:
        return (self.rows.stop - self.rows.start) * (self.cols.stop - self.cols.start)

    @property
    def read_pixels(self) -> int:
        return (self.rows.read_stop - self.rows.read_start) * (
            self.cols.read_stop - self.cols.read_start
        )


@dataclass(frozen=True)
class BlockLayout:
    """All blocks of a ``height`` x ``width`` raster for patches of ``size`` at ``stride``."""

    height: int
    width: int
    block: int
    size: int
    stride: int
    blocks: tuple[Block, ...]

    @classmethod
    def plan(cls, height: int, width: int, block: int, size: int, stride: int) -> BlockLayout:
        rows = axis_blocks(height, block, size, stride)
        cols = axis_blocks(width, block, size, stride)
        blocks = tuple(Block(i, j, r, c) for i, r in enumerate(rows) for j, c in enumerate(cols))
        return cls(height, width, block, size, stride, blocks)

    @classmethod
    def whole(cls, height: int, width: int) -> BlockLayout:
        """One block, the whole raster (a job that warps the whole input first)."""
        block = Block(0, 0, AxisBlock(0, height, 0, height), AxisBlock(0, width, 0, width))
        return cls(height, width, max(height, width), 0, 0, (block,))

    @property
    def grid(self) -> tuple[int, int]:
        return self.blocks[-1].row + 1, self.blocks[-1].col + 1

    @property
    def single(self) -> bool:
        return len(self.blocks) == 1

    @property
    def halo_ratio(self) -> float:
        """Pixels the blocks read (and predict) per output pixel: the cost of identity."""
        return sum(b.read_pixels for b in self.blocks) / (self.height * self.width)

    def describe(self) -> str:
        if not self.size:
            return "1 block (the whole raster: the input is resampled to the model's scale)"
        rows, cols = self.grid
        step = max(self.stride, self.block - self.block % self.stride)
        return (
            f"{len(self.blocks)} block(s) ({rows}x{cols}) of {step} px on the {self.stride} px "
            f"patch grid (patch {self.size} px), halo up to {self.size} px, "
            f"{self.halo_ratio:.3f} px read per output px"
        )
