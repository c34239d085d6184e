"""Streaming tiled inference over rasters of any size (paper 000 §3.3), CPU or CUDA.

Public API::

    from marsspec.core.tiling import OutputSpec, TilingConfig, run_tiled

    run_tiled("ctx.tif", model, OutputSpec("bands.tif", descriptions=("R", "G", "B")),
              TilingConfig(d=256, s=2, blending="gaussian"), progress=print)

Design notes: docs/tiling.md.
"""

from marsspec.core.tiling.engine import TilingConfig, TilingResult, run_tiled
from marsspec.core.tiling.outputs import OutputSpec
from marsspec.core.tiling.plan import Patch, TilePlan, axis_origins, reflect_indices
from marsspec.core.tiling.weights import PAPER_SIGMA, gaussian_weights, weight_map

__all__ = [
    "PAPER_SIGMA",
    "OutputSpec",
    "Patch",
    "TilePlan",
    "TilingConfig",
    "TilingResult",
    "axis_origins",
    "gaussian_weights",
    "reflect_indices",
    "run_tiled",
    "weight_map",
]
