"""Seeded synthetic rasters for the tiling tests and benchmark (committed, so runs repeat).

The images are smooth sums of sinusoids plus a little seeded noise (CTX-like texture without
data files), in a Mars equirectangular CRS at CTX's 6 m/px unless told otherwise. Large
rasters are written window by window so that making a 200 MP test file never holds it whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

MARS_EQC = "+proj=eqc +R=3396190 +units=m +no_defs"
MARS_IAU = "IAU_2015:49910"
CTX_TRANSFORM = Affine(6.0, 0.0, 120_000.0, 0.0, -6.0, -450_000.0)


def smooth_field(
    height: int, width: int, *, seed: int = 0, row0: int = 0, bands: int = 1
) -> np.ndarray:
    """float64 ``(bands, height, width)`` in roughly [0, 1]; ``row0`` offsets the rows so
    consecutive windows of one big raster join seamlessly (the noise is per window)."""
    rng = np.random.default_rng(seed)
    params = rng.uniform(0.0, 1.0, size=(bands, 4, 4))
    noise_rng = np.random.default_rng([seed, row0])
    rows = np.arange(row0, row0 + height, dtype=np.float64)[:, None]
    cols = np.arange(width, dtype=np.float64)[None, :]
    out = np.empty((bands, height, width))
    for b in range(bands):
        field = np.zeros((height, width))
        for fr, fc, phase, amp in params[b]:
            field += amp * np.sin(2 * np.pi * (rows * fr / 97.0 + cols * fc / 131.0) + 6.3 * phase)
        out[b] = 0.5 + field / (2.0 * params[b, :, 3].sum() + 1e-9)
    out += noise_rng.normal(0.0, 0.02, size=out.shape)
    return out


def write_raster(
    path: str | Path,
    data: np.ndarray,
    *,
    dtype: str | None = None,
    nodata: float | None = None,
    crs: str | None = MARS_EQC,
    transform: Affine = CTX_TRANSFORM,
) -> Path:
    """Write ``(bands, h, w)`` or ``(h, w)`` data as a GeoTIFF."""
    array = data if data.ndim == 3 else data[None]
    profile = {
        "driver": "GTiff",
        "height": array.shape[1],
        "width": array.shape[2],
        "count": array.shape[0],
        "dtype": dtype or array.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array.astype(profile["dtype"]))
    return Path(path)


def make_raster(
    path: str | Path,
    height: int,
    width: int,
    *,
    seed: int = 0,
    dtype: str = "float32",
    scale: float = 1.0,
    **kwargs,
) -> tuple[Path, np.ndarray]:
    """A smooth raster of ``dtype`` (values times ``scale``); returns the path and the data."""
    data = smooth_field(height, width, seed=seed)[0] * scale
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        data = np.clip(np.rint(data), info.min, info.max)
    data = data.astype(dtype)
    return write_raster(path, data, **kwargs), data


def write_large_raster(
    path: str | Path, height: int, width: int, *, seed: int = 0, rows_per_write: int = 512
) -> Path:
    """A big tiled, compressed uint16 raster written by windows (bounded memory)."""
    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 1,
        "dtype": "uint16",
        "crs": MARS_EQC,
        "transform": CTX_TRANSFORM,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "zstd",
        "zstd_level": 1,
        "bigtiff": "IF_SAFER",
    }
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, height, rows_per_write):
            n = min(rows_per_write, height - row)
            block = smooth_field(n, width, seed=seed, row0=row)[0] * 4000.0
            dst.write(block.astype("uint16")[None], window=Window(0, row, width, n))
    return Path(path)
