"""Seams, quantified.

The predictor adds an error that depends on the position inside the patch (a ramp from -1 at
one edge to +1 at the other, on both axes), as real networks do near patch borders. On a flat
input the output is then pure blended error. Its largest step between neighbouring pixels,
divided by the ramp's own slope (2/d per pixel), is the *seam ratio*: about 1 means the output
is as smooth as the error itself (no seam); about d means a full jump at the patch border.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch

from marsspec.core.tiling import PAPER_SIGMA, OutputSpec, TilingConfig, run_tiled
from tests.tiling_rasters import write_raster

D = 48


def seam_ratio(tmp_path, **config) -> float:
    src = tmp_path / "flat.tif"
    if not src.exists():
        write_raster(src, np.zeros((192, 192), np.float32))
    centres = torch.tensor((2 * np.arange(D) + 1) / D - 1, dtype=torch.float32)
    ramp = centres[:, None] + centres[None, :]
    out_path = tmp_path / "out.tif"
    cfg = TilingConfig(d=D, device="cpu", precision="fp32", **config)
    run_tiled(src, lambda x: x + ramp, OutputSpec(out_path), cfg)
    with rasterio.open(out_path) as ds:
        out = ds.read(1)
    step = max(np.abs(np.diff(out, axis=0)).max(), np.abs(np.diff(out, axis=1)).max())
    return float(step / (2.0 / D))


@pytest.mark.parametrize(("s", "floor"), [(1, 40), (2, 13), (4, 6)])
def test_mean_blending_shows_a_seam(tmp_path, s, floor):
    assert seam_ratio(tmp_path, s=s, blending="mean") > floor


@pytest.mark.parametrize("s", [2, 3, 4])
def test_gaussian_blending_shows_no_seam(tmp_path, s):
    assert seam_ratio(tmp_path, s=s, blending="gaussian") < 1.5


def test_no_overlap_cannot_hide_a_seam(tmp_path):
    assert seam_ratio(tmp_path, s=1, blending="gaussian") > 40


def test_paper_sigma_leaves_a_visible_step(tmp_path):
    """Why the default sigma is narrower than Eq. 3's: its patch edges still weigh e^-1."""
    assert seam_ratio(tmp_path, s=2, blending="gaussian", sigma=PAPER_SIGMA) > 8
