"""Giving a raster without a CRS a Mars one: the assumed grid of the jobs and ``georef``.

A plain PNG/JPEG or a CaSSIS framelet has pixels but no place or scale on Mars. The jobs
refuse it unless the user says what to assume (``--assume-crs mars --pixel-size M``, or
ASSUME_CRS/PIXEL_SIZE in QGIS); they then read it through a VRT with a Mars equirectangular
CRS and a north-up transform, and tag the outputs so the assumption stays visible. The
``georef`` job (:class:`GeorefRequest` -> :func:`georeference`) writes the same thing as a
tiled GeoTIFF, copying the pixels window by window.

Geometry: equirectangular on the Mars sphere (radius 3,396,190 m). Without a centre the
upper-left corner is at (0, 0) (``MARS_EQC_PROJ``); with a centre (lon, lat) the projection is
centred there (``lon_0`` = lon, ``lat_ts`` = lat, so the pixel size is true in both
directions at the centre) and the image centre lies on it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from marsspec.core.errors import CancelledError, InputError
from marsspec.core.io.mars_crs import MARS_EQC_PROJ, MARS_RADIUS_M

ASSUMED_CRS_TAG = "MARSSPEC_ASSUMED_CRS"
ASSUMED_PIXEL_SIZE_TAG = "MARSSPEC_ASSUMED_PIXEL_SIZE_M"
ASSUMED_CENTRE_TAG = "MARSSPEC_ASSUMED_CENTRE"
BODIES = ("mars",)
WINDOW_ROWS = 512  # rows per copied window (bounded memory on any strip)


def check_assumption(assume_crs: str | None, pixel_size: float | None) -> str | None:
    """Normalise and check ASSUME_CRS / PIXEL_SIZE: None or "mars" (with a pixel size)."""
    from marsspec.core.options import ASSUME_CRS

    value = None if assume_crs in (None, "", "none") else str(assume_crs).lower()
    if value is not None and value not in ASSUME_CRS:
        raise InputError(
            f"ASSUME_CRS {assume_crs!r} is unknown; use one of {', '.join(ASSUME_CRS)} "
            "(--assume-crs mars)."
        )
    if value is None:
        if pixel_size not in (None, ""):
            raise InputError(
                "PIXEL_SIZE is used only for an input without a CRS together with ASSUME_CRS "
                "mars (--assume-crs mars --pixel-size M); add it or drop the pixel size."
            )
        return None
    check_pixel_size(pixel_size, "--assume-crs mars needs --pixel-size M")
    return value


def check_pixel_size(pixel_size: float | None, missing: str) -> float:
    if pixel_size is None or pixel_size == "":
        raise InputError(
            f"{missing} (the ground size of one pixel in metres, e.g. 6 for CTX; "
            "PIXEL_SIZE in QGIS)."
        )
    try:
        value = float(pixel_size)
    except (TypeError, ValueError) as error:
        raise InputError(f"Pixel size {pixel_size!r} must be a number of metres.") from error
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"Pixel size {pixel_size!r} must be a positive number of metres.")
    return value


def check_centre(centre) -> tuple[float, float] | None:
    if centre is None:
        return None
    try:
        lon, lat = (float(v) for v in centre)
    except (TypeError, ValueError) as error:
        raise InputError(f"Centre {centre!r}: give two numbers, LON LAT in degrees.") from error
    if not (-360.0 <= lon <= 360.0 and -90.0 < lat < 90.0):
        raise InputError(
            f"Centre {lon:g} {lat:g}: longitude must lie in -360..360 and latitude in "
            "-90..90 (exclusive) degrees."
        )
    return lon, lat


@dataclass(frozen=True)
class AssumedGrid:
    """A Mars equirectangular CRS and north-up transform for a ``width`` x ``height`` raster."""

    pixel_size: float
    width: int
    height: int
    centre: tuple[float, float] | None = None

    @property
    def proj(self) -> str:
        if self.centre is None:
            return MARS_EQC_PROJ
        lon, lat = self.centre
        return (
            f"+proj=eqc +lat_ts={lat!r} +lat_0=0 +lon_0={lon!r} +x_0=0 +y_0=0 "
            f"+R={MARS_RADIUS_M:.0f} +units=m +no_defs"
        )

    @property
    def crs(self):
        from rasterio.crs import CRS

        return CRS.from_proj4(self.proj)

    @property
    def transform(self):
        from affine import Affine

        m = self.pixel_size
        if self.centre is None:
            return Affine(m, 0.0, 0.0, 0.0, -m, 0.0)
        y_centre = MARS_RADIUS_M * math.radians(self.centre[1])
        return Affine(m, 0.0, -self.width * m / 2, 0.0, -m, y_centre + self.height * m / 2)

    def tags(self) -> dict[str, str]:
        tags = {
            ASSUMED_CRS_TAG: f"Mars equirectangular (assumed by the user): {self.proj}",
            ASSUMED_PIXEL_SIZE_TAG: f"{self.pixel_size:g}",
        }
        tags[ASSUMED_CENTRE_TAG] = (
            "none: upper-left corner at x=0, y=0"
            if self.centre is None
            else f"lon={self.centre[0]:g} lat={self.centre[1]:g}"
        )
        return tags


def write_georef_vrt(source: str | Path, out: str | Path, crs, transform) -> Path:
    """A VRT at ``out`` reading ``source`` (a path GDAL opens) with ``crs`` and ``transform``;
    bands, nodata, scales, descriptions and metadata as in the source. Writes no pixels."""
    from osgeo import gdal

    from marsspec.core.errors import RasterIOError

    out = Path(out)
    dataset = gdal.Translate(
        str(out), str(Path(source).resolve()), options=gdal.TranslateOptions(format="VRT")
    )
    if dataset is None:
        raise RasterIOError(
            f"GDAL could not describe {Path(source).name} with a CRS ({gdal.GetLastErrorMsg()}); "
            "check that the file reads (marsspec describe)."
        )
    dataset.SetProjection(crs.to_wkt())
    dataset.SetGeoTransform(transform.to_gdal())
    dataset = None  # closing writes the VRT file
    return out


# ---- the georef job --------------------------------------------------------------------------
@dataclass(frozen=True)
class GeorefRequest:
    """``input`` (any raster ``describe`` reads) -> ``output``: a tiled GeoTIFF in a Mars
    equirectangular CRS with ``pixel_size`` metres per pixel, centred on ``centre`` (lon, lat
    in degrees) if given; checks itself when made."""

    input: str | os.PathLike[str]
    output: str | os.PathLike[str]
    pixel_size: float | None = None
    body: str = "mars"
    centre: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if str(self.body).lower() not in BODIES:
            raise InputError(f"Body {self.body!r}: marsspec georeferences on {', '.join(BODIES)}.")
        check_pixel_size(self.pixel_size, "georef needs --pixel-size M")
        object.__setattr__(self, "centre", check_centre(self.centre))
        self.output_set()

    def output_set(self):
        from marsspec.core.io.safety import OutputSet

        return OutputSet({"OUTPUT": self.output}, inputs=[self.input])


@dataclass
class GeorefResult:
    outputs: dict[str, Path] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    width: int = 0
    height: int = 0
    crs: str = ""


def georeference(
    request: GeorefRequest,
    *,
    progress: Callable[[float], object] | None = None,
    cancel: Callable[[], bool] | None = None,
    log: Callable[[str], object] | None = None,
) -> GeorefResult:
    """Write ``request.output``: the input's pixels (dtype, nodata, band descriptions and
    metadata kept) on the assumed Mars grid, copied window by window."""
    import warnings

    import numpy as np
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.windows import Window

    from marsspec.core.io.opening import job_input
    from marsspec.core.io.reading import reading, window_text
    from marsspec.core.io.safety import create_raster
    from marsspec.core.provenance import provenance_tags

    events: list[str] = []
    outputs = request.output_set()
    source = Path(request.input)
    with job_input(source, require_crs=False) as opened:
        if opened.georeferenced:
            note = (
                f"{source.name} already has a CRS; the copy is written on the new Mars grid "
                "all the same (its old georeferencing is replaced)."
            )
            events.append(note)
            if log:
                log(note)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(opened.path)
        with src:
            grid = AssumedGrid(float(request.pixel_size), src.width, src.height, request.centre)
            profile = {
                "driver": "GTiff",
                "width": src.width,
                "height": src.height,
                "count": src.count,
                "dtype": src.dtypes[0],
                "crs": grid.crs,
                "transform": grid.transform,
                "nodata": src.nodata,
                "tiled": True,
                "blockxsize": 256,
                "blockysize": 256,
                "compress": "deflate",
                "bigtiff": "IF_SAFER",
            }
            if src.count > 1:
                profile["interleave"] = "band"
            tags = {
                **provenance_tags(algorithm="marsspec:georef", inputs=[source]),
                **grid.tags(),
            }
            with outputs, create_raster(outputs.temp("OUTPUT"), **profile) as dst:
                for band in range(1, src.count + 1):
                    if src.descriptions[band - 1]:
                        dst.set_band_description(band, src.descriptions[band - 1])
                    band_tags = src.tags(band)
                    if band_tags:
                        dst.update_tags(band, **band_tags)
                if any(src.units):
                    dst.units = tuple(u or "" for u in src.units)
                scales, offsets = tuple(src.scales), tuple(src.offsets)
                if any(s != 1 for s in scales) or any(o != 0 for o in offsets):
                    dst.scales, dst.offsets = scales, offsets
                dst.update_tags(**tags)
                for row in range(0, src.height, WINDOW_ROWS):
                    if cancel is not None and cancel():
                        raise CancelledError("Cancelled; no output was written.")
                    window = Window(0, row, src.width, min(WINDOW_ROWS, src.height - row))
                    with reading(opened.path, window_text(window)):
                        data = src.read(window=window)
                    dst.write(np.asarray(data), window=window)
                    if progress is not None:
                        progress(min(1.0, (row + window.height) / src.height))
    return GeorefResult(
        outputs=dict(outputs.finals),
        events=events,
        width=grid.width,
        height=grid.height,
        crs=grid.proj,
    )
