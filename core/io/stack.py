"""Put a DEM on the grid of a CTX image, as a second band, without writing any pixels.

Spectral models with a DEM channel read CTX and height together, pixel for pixel. Users' DEMs
come at their own resolution and often in another Mars projection, so the DEM is warped
(bilinear) onto the CTX grid by a GDAL warped VRT and stacked after the CTX band in a second
VRT. Both are small XML files in ``folder``: the tiling engine then reads the stack by windows
like any raster, and memory stays bounded however large the strip.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import escape

import rasterio
from rasterio.warp import transform_bounds

from marsspec.core.errors import InputError, RasterIOError
from marsspec.core.io.opening import open_raster


def stack_with_dem(
    ctx_path: str | Path, ctx_band: int, dem_path: str | Path, folder: str | Path
) -> Path:
    """A 2-band float32 VRT in ``folder``: band 1 the CTX band, band 2 the DEM on its grid.

    Nodata of either source becomes NaN, which the tiling engine treats as invalid.
    """
    ctx_path, dem_path, folder = Path(ctx_path), Path(dem_path), Path(folder)
    with rasterio.open(ctx_path) as ctx:
        grid = {
            "crs": ctx.crs,
            "transform": ctx.transform,
            "width": ctx.width,
            "height": ctx.height,
            "bounds": ctx.bounds,
            "nodata": ctx.nodatavals[ctx_band - 1],
        }
    if grid["crs"] is None:
        raise InputError(
            f"{ctx_path.name} has no CRS, so a DEM cannot be placed on its grid; use a "
            "map-projected CTX image (e.g. from marsspec describe / gdalwarp)."
        )
    _check_dem(dem_path, grid)
    warped = folder / "dem_on_ctx_grid.vrt"
    _warp_to_grid(dem_path, warped, grid)
    stacked = folder / "ctx_dem_stack.vrt"
    stacked.write_text(_stack_xml(ctx_path, ctx_band, grid, warped), encoding="utf-8")
    return stacked


def _check_dem(dem_path: Path, grid: dict) -> None:
    with open_raster(dem_path, "The DEM") as dem:
        crs, bounds, count = dem.crs, dem.bounds, dem.count
    if crs is None:
        raise InputError(f"The DEM {dem_path.name} has no CRS; give it its Mars map projection.")
    if count != 1:
        raise InputError(
            f"The DEM {dem_path.name} has {count} bands; give a single-band height raster."
        )
    left, bottom, right, top = transform_bounds(crs, grid["crs"], *bounds)
    b = grid["bounds"]
    if left >= b.right or right <= b.left or bottom >= b.top or top <= b.bottom:
        raise InputError(
            f"The DEM {dem_path.name} does not overlap {b} of the CTX image (in the CTX's CRS); "
            "give the DEM of the same area, in a Mars CRS."
        )


def _warp_to_grid(dem_path: Path, out: Path, grid: dict) -> None:
    from osgeo import gdal

    b = grid["bounds"]
    options = gdal.WarpOptions(
        format="VRT",
        outputBounds=(b.left, b.bottom, b.right, b.top),
        width=grid["width"],
        height=grid["height"],
        dstSRS=grid["crs"].to_wkt(),
        resampleAlg="bilinear",
        outputType=gdal.GDT_Float32,
        dstNodata=float("nan"),
    )
    dataset = gdal.Warp(str(out), str(dem_path), options=options)
    if dataset is None:
        raise RasterIOError(f"GDAL could not warp the DEM {dem_path.name} onto the CTX grid.")
    dataset = None  # closing writes the VRT file


def _stack_xml(ctx_path: Path, ctx_band: int, grid: dict, warped: Path) -> str:
    t = grid["transform"]
    nodata = grid["nodata"]
    ctx_nodata = (
        ""
        if nodata is None or (isinstance(nodata, float) and math.isnan(nodata))
        else f"<NODATA>{nodata!r}</NODATA>"
    )

    def band(number: int, name: str, source: Path, source_band: int, extra: str) -> str:
        return (
            f'  <VRTRasterBand dataType="Float32" band="{number}">\n'
            f"    <Description>{escape(name)}</Description>\n"
            "    <NoDataValue>nan</NoDataValue>\n"
            "    <ComplexSource>\n"
            f'      <SourceFilename relativeToVRT="0">{escape(str(source.resolve()))}'
            "</SourceFilename>\n"
            f"      <SourceBand>{source_band}</SourceBand>\n"
            f"      {extra}\n"
            "    </ComplexSource>\n"
            "  </VRTRasterBand>\n"
        )

    return (
        f'<VRTDataset rasterXSize="{grid["width"]}" rasterYSize="{grid["height"]}">\n'
        f"  <SRS>{escape(grid['crs'].to_wkt())}</SRS>\n"
        f"  <GeoTransform>{t.c!r}, {t.a!r}, {t.b!r}, {t.f!r}, {t.d!r}, {t.e!r}</GeoTransform>\n"
        + band(1, f"CTX ({ctx_path.name} band {ctx_band})", ctx_path, ctx_band, ctx_nodata)
        + band(2, "DEM height on the CTX grid", warped, 1, "<NODATA>nan</NODATA>")
        + "</VRTDataset>\n"
    )
