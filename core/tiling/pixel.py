"""The engine's answer at one pixel, without running the whole raster.

With overlapping patches (stride ``d/s``) the value :func:`~marsspec.core.tiling.run_tiled`
writes at a pixel is the weighted blend of the outputs of every patch of the plan that covers
it (up to ``s x s`` patches, a few more near the far borders where the last patch is moved
back). :func:`pixel_outputs` runs exactly those patches of exactly that plan, read as the
engine reads them (:func:`~marsspec.core.tiling.reader.read_patch`: same windows, mirroring,
nodata fill), through the caller's :class:`~marsspec.core.tiling.forward.BatchForward` (same
device, precision and model preparation), and blends them with the engine's weight maps in the
engine's float32 arithmetic and order. The result is the raster's value at that pixel, for a
handful of forward passes instead of the whole raster.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from marsspec.core.errors import InputError
from marsspec.core.io.opening import open_raster
from marsspec.core.tiling.engine import TilingConfig, patch_weights
from marsspec.core.tiling.forward import BatchForward
from marsspec.core.tiling.outputs import OutputSpec
from marsspec.core.tiling.plan import Patch, TilePlan
from marsspec.core.tiling.reader import read_patch


@dataclass(frozen=True)
class PixelOutputs:
    """What the engine writes at one input pixel, per output spec ``(C, scale, scale)``."""

    row: int
    col: int
    valid: bool  # False: nodata there (the raster holds NaN)
    values: tuple[np.ndarray, ...]
    patches: tuple[Patch, ...]  # the patches of the plan that cover the pixel
    inputs: np.ndarray  # (bands,) the input pixel as the engine read it


def covering_patches(plan: TilePlan, row: int, col: int) -> tuple[Patch, ...]:
    """The patches of ``plan`` that contain pixel ``(row, col)``, in the plan's order."""
    if not (0 <= row < plan.height and 0 <= col < plan.width):
        raise InputError(
            f"Pixel (row {row}, column {col}) lies outside the {plan.width} x {plan.height} "
            "px raster."
        )
    cols = plan.col_origins
    found = []
    for tile_row, r in enumerate(plan.row_origins):
        if not r <= row < r + plan.size:
            continue
        for tile_col, c in enumerate(cols):
            if c <= col < c + plan.size:
                found.append(Patch(tile_row * len(cols) + tile_col, tile_row, r, c, plan.size))
    return tuple(found)


def pixel_outputs(
    input_path: str | os.PathLike[str],
    forward: BatchForward,
    specs: Sequence[OutputSpec],
    config: TilingConfig,
    plan: TilePlan,
    row: int,
    col: int,
) -> PixelOutputs:
    """Blend the covering patches' outputs at ``(row, col)`` as the engine does.

    ``plan`` must be the run's plan (``config.plan(height, width)`` of the whole input) and
    ``specs`` the specs ``forward`` was made with.
    """
    patches = covering_patches(plan, row, col)
    data, run, valid_here, inputs = [], [], False, None
    with open_raster(input_path) as src:
        for patch in patches:
            patch_data, valid, needed = read_patch(src, plan, config.bands, patch)
            r, c = row - patch.row, col - patch.col
            if inputs is None:
                valid_here = bool(valid[r, c])
                inputs = patch_data[:, r, c].copy()
            if needed:
                data.append(patch_data)
                run.append(patch)
    results = forward(np.stack(data)) if data else [None] * len(specs)
    values = []
    for spec, result in zip(specs, results, strict=True):
        k = spec.scale
        total = weight = None
        for index, patch in enumerate(run):  # RowAccumulator.add, at this pixel only
            r, c = (row - patch.row) * k, (col - patch.col) * k
            w = patch_weights(config, plan, patch, k)[r : r + k, c : c + k]
            part = result[index][:, r : r + k, c : c + k] * w
            total = part if total is None else total + part
            weight = w if weight is None else weight + w
        if total is None or not valid_here:
            channels = result.shape[1] if result is not None else spec.band_count or 1
            values.append(np.full((channels, k, k), np.nan, np.float32))
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            blended = (total / weight).astype(np.float32)
        blended[:, weight == 0] = np.nan
        values.append(blended)
    return PixelOutputs(row, col, valid_here, tuple(values), patches, inputs)
