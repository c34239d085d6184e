"""Writes the uint8 RGB browse product of a predicted raster in two streaming passes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from marsspec.core.io.safety import create_raster
from marsspec.core.models.browse import NODATA, stretch_bounds, stretch_to_uint8

ROWS = 256


def _windows(src):
    for row in range(0, src.height, ROWS):
        yield Window(0, row, src.width, min(ROWS, src.height - row))


def band_moments(path: Path, bands=(1, 2, 3)) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of each band over its finite pixels, streaming."""
    n = np.zeros(len(bands))
    s1 = np.zeros(len(bands))
    s2 = np.zeros(len(bands))
    with rasterio.open(path) as src:
        for window in _windows(src):
            data = src.read(list(bands), window=window, out_dtype="float64", masked=True)
            for b in range(len(bands)):
                v = data[b].compressed()
                v = v[np.isfinite(v)]
                n[b] += v.size
                s1[b] += v.sum()
                s2[b] += np.square(v).sum()
    n = np.maximum(n, 1)
    mean = s1 / n
    return mean, np.sqrt(np.maximum(s2 / n - mean**2, 0))


def write_browse(source: Path, target: Path, tags: dict[str, str], descriptions) -> Path:
    """3-sigma stretched uint8 RGB (0 = nodata) of the first three bands of ``source``.

    ``target`` is a staged temporary file of the job's output set (published with the rest).
    """
    mean, std = band_moments(source)
    low, high = stretch_bounds(mean, std)
    with rasterio.open(source) as src:
        profile = {
            "driver": "GTiff",
            "width": src.width,
            "height": src.height,
            "count": 3,
            "dtype": "uint8",
            "crs": src.crs,
            "transform": src.transform,
            "nodata": NODATA,
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
            "photometric": "RGB",
        }
        with create_raster(target, **profile) as dst:
            for window in _windows(src):
                data = src.read([1, 2, 3], window=window, out_dtype="float64", masked=True)
                dst.write(stretch_to_uint8(data.filled(np.nan), low, high), window=window)
            for band, text in enumerate(descriptions[:3], start=1):
                dst.set_band_description(band, text)
            dst.update_tags(
                **tags,
                MARSSPEC_BROWSE_STRETCH="3-sigma per band (paper 000 §4.1.1)",
                MARSSPEC_BROWSE_LOW=",".join(f"{v:.6g}" for v in low),
                MARSSPEC_BROWSE_HIGH=",".join(f"{v:.6g}" for v in high),
            )
    return target
