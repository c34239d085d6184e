"""Where a scene sits on Mars: the CRS, nested pixel grids, and GeoTIFF writing.

All products share one upper-left corner (snapped to a multiple of every pixel size), so the
grids nest exactly and "aligned on the ground" is a property of the transforms, not luck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MARS_RADIUS_M = 3_396_190.0
EQC_PROJ = "+proj=eqc +lat_ts=0 +lat_0=0 +lon_0=0 +x_0=0 +y_0=0 +R=3396190 +units=m +no_defs"
IAU_EQC = "IAU_2015:49910"  # Mars (2015) sphere, ocentric, equirectangular, clon = 0


def mars_crs():
    """IAU_2015:49910 when this PROJ knows it (PROJ >= 8.2), else the same CRS as a string."""
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    try:
        return CRS.from_user_input(IAU_EQC)
    except CRSError:
        return CRS.from_proj4(EQC_PROJ)


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid: upper-left corner in metres, pixel size, shape."""

    left: float
    top: float
    pixel_m: float
    width: int
    height: int

    @property
    def transform(self):
        from rasterio.transform import from_origin

        return from_origin(self.left, self.top, self.pixel_m, self.pixel_m)

    def index_in(self, other: Grid, rows: np.ndarray, cols: np.ndarray):
        """Fractional (row, col) in ``other`` of the centres of pixels (rows, cols) here."""
        x = self.left + (cols + 0.5) * self.pixel_m
        y = self.top - (rows + 0.5) * self.pixel_m
        return (other.top - y) / other.pixel_m - 0.5, (x - other.left) / other.pixel_m - 0.5


def scene_origin(lat: float, lon: float, extent_m: float, snap_m: float) -> tuple[float, float]:
    """Upper-left corner of a square scene centred on (lat, lon), snapped to ``snap_m``."""
    x = MARS_RADIUS_M * math.radians(lon)
    y = MARS_RADIUS_M * math.radians(lat)
    left = math.floor((x - extent_m / 2) / snap_m) * snap_m
    top = math.floor((y + extent_m / 2) / snap_m) * snap_m
    return left, top


def write_geotiff(
    path: Path,
    data: np.ndarray,
    grid: Grid,
    crs,
    *,
    nodata: float,
    band_names: list[str],
    wavelengths_nm: list[float | None],
    units: str,
    tags: dict[str, str] | None = None,
    block_rows: int = 512,
) -> Path:
    """Tiled, deflate-compressed GeoTIFF written in row blocks through ``atomic_output``, so a
    crash never leaves a half-written product under the final name."""
    import rasterio

    from marsspec.core.io.safety import atomic_output, create_raster

    data = data if data.ndim == 3 else data[np.newaxis]
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": grid.transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 3 if data.dtype.kind == "f" else 2,
        "zlevel": 1,
        "BIGTIFF": "IF_SAFER",
    }
    with atomic_output(path, kind="raster") as partial, create_raster(partial, **profile) as dst:
        for row in range(0, grid.height, block_rows):
            window = rasterio.windows.Window(0, row, grid.width, min(block_rows, grid.height - row))
            dst.write(data[:, row : row + window.height], window=window)
        pairs = zip(band_names, wavelengths_nm, strict=True)
        for index, (name, wavelength) in enumerate(pairs, start=1):
            dst.set_band_description(index, name)
            band_tags = {"units": units}
            if wavelength is not None:
                band_tags["WAVELENGTH_NM"] = f"{wavelength:g}"
            dst.update_tags(index, **band_tags)
            dst.set_band_unit(index, units)
        dst.update_tags(**(tags or {}))
    return Path(path)
