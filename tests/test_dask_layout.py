"""Block layout arithmetic (core/scaleout/layout.py): every output pixel of a block sees exactly
the patches, weights and order of the whole-raster plan. Pure integer checks, no Dask."""

from __future__ import annotations

import itertools

import pytest

from marsspec.core.errors import InputError
from marsspec.core.scaleout.layout import BlockLayout, axis_blocks
from marsspec.core.tiling.plan import axis_origins


def _covering(origins, size, lo, hi, length):
    """{origin: (is_first, is_last)} of the patches overlapping [lo, hi) on an axis."""
    last = origins[-1]
    return {
        o: (o == origins[0], o == last) for o in origins if o < hi and o + size > lo and o < length
    }


@pytest.mark.parametrize(
    ("size", "stride", "margin"),
    [(256, 128, None), (256, 64, None), (128, 64, None), (64, 32, 16), (96, 64, 16)],
)
def test_blocks_see_the_whole_raster_patches(size, stride, margin):
    """For each block, the block-local plan's patches over the block's output pixels are the
    global plan's (same origins), and the border flags that decide crop margins agree wherever
    a margin overlaps the output."""
    for length, block in itertools.product(
        (size - 1, size, size + 1, 3 * size + 7, 1000, 1537), (stride, 2 * size, 300, 512)
    ):
        global_origins = axis_origins(length, size, stride)
        blocks = axis_blocks(length, block, size, stride)
        assert blocks[0].start == 0 and blocks[-1].stop == length
        for a, b in itertools.pairwise(blocks):
            assert a.stop == b.start  # the blocks tile the axis
        for blk in blocks:
            assert blk.read_start % stride == 0
            local = tuple(
                blk.read_start + o
                for o in axis_origins(blk.read_stop - blk.read_start, size, stride)
            )
            want = _covering(global_origins, size, blk.start, blk.stop, length)
            got = _covering(local, size, blk.start, blk.stop, blk.read_stop)
            assert set(got) == set(want), (length, block, blk)
            if margin is None:
                continue
            for origin, (first, last) in got.items():
                g_first, g_last = want[origin]
                if first != g_first:  # a kept top margin must lie in the halo
                    assert origin + margin <= blk.start, (length, block, blk, origin)
                if last != g_last:  # a kept bottom margin too
                    assert origin + size - margin >= blk.stop, (length, block, blk, origin)


def test_layout_counts_blocks_and_halo():
    layout = BlockLayout.plan(1000, 1500, 512, 256, 128)
    assert layout.grid == (2, 3)
    assert len({b.name for b in layout.blocks}) == 6
    assert sum(b.pixels for b in layout.blocks) == 1000 * 1500
    assert 1.0 < layout.halo_ratio < 4.0
    assert "6 block(s) (2x3) of 512 px" in layout.describe()
    small = BlockLayout.plan(200, 300, 4096, 256, 128)
    assert small.single and small.halo_ratio == 1.0
    whole = BlockLayout.whole(5000, 3000)
    assert whole.single and whole.halo_ratio == 1.0 and "whole raster" in whole.describe()


def test_block_size_is_rounded_to_the_patch_grid():
    blocks = axis_blocks(2000, 500, 256, 128)
    assert [b.start for b in blocks] == [0, 384, 768, 1152, 1536, 1920]


def test_bad_sizes_are_refused():
    with pytest.raises(InputError, match="empty"):
        axis_blocks(0, 512, 256, 128)
    with pytest.raises(InputError, match="Block size"):
        axis_blocks(100, 0, 256, 128)
