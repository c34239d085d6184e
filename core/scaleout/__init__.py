"""Scale-out on Dask distributed: many products and whole mosaics, identical to one process.

Public API::

    from marsspec.core.scaleout import ScaleoutOptions, run_scaled

    result = run_scaled([PredictRequest("ctx.tif", "evc.tif")], ScaleoutOptions("local:2"))
    result.outputs  # {"OUTPUT": evc.tif (COG), "OUTPUT_VRT": evc.vrt} + evc.blocks/

A raster is cut into blocks on the engine's patch grid with a halo (layout.py), whole-image
state is computed once (products.py), each block runs the unchanged job on a worker
(blocks.py), finished blocks are recorded for resume (manifest.py) and the whole output is a
VRT over the blocks plus an optional COG (mosaic.py). Design and numbers: docs/scaling.md.
"""

from __future__ import annotations

import importlib

# name -> module; imported on first use, so `import marsspec.core.scaleout.layout` (the CLI's
# argument parser) stays light
_EXPORTS = {
    "AxisBlock": "layout",
    "Block": "layout",
    "BlockLayout": "layout",
    "axis_blocks": "layout",
    "DEFAULT_BLOCK": "layout",
    "ProductResult": "runner",
    "ScaleoutOptions": "runner",
    "ScaleoutResult": "runner",
    "run_scaled": "runner",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
