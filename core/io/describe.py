"""Describe a raster the way a planetary scientist needs: size, CRS body, bands, nodata.

This is what `marsspec:describe` and `python -m marsspec describe` report.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from marsspec.core.errors import InputError, RasterIOError
from marsspec.core.io.mars_crs import crs_info


@dataclass(frozen=True)
class BandDescription:
    index: int  # 1-based, as in GDAL
    dtype: str
    description: str
    nodata: float | None
    wavelength_nm: float | None
    units: str


@dataclass(frozen=True)
class RasterDescription:
    path: str
    driver: str
    width: int
    height: int
    band_count: int
    crs_body: str
    crs_name: str
    crs_wkt: str
    pixel_size: tuple[float, float] | None  # (x, y) in CRS units, y positive
    pixel_size_units: str
    bounds: tuple[float, float, float, float] | None  # left, bottom, right, top
    bands: list[BandDescription] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def format_text(self) -> str:
        """A short human-readable report (what the CLI and the QGIS log show)."""
        lines = [
            f"File: {self.path}",
            f"Driver: {self.driver}",
            f"Size: {self.width} x {self.height} px, {self.band_count} band(s)",
            f"CRS: {self.crs_name or '(none)'} [body: {self.crs_body}]",
        ]
        if self.pixel_size:
            lines.append(
                f"Pixel size: {self.pixel_size[0]:.6g} x {self.pixel_size[1]:.6g} "
                f"{self.pixel_size_units}"
            )
        if self.bounds:
            lines.append(
                "Bounds (left, bottom, right, top): " + ", ".join(f"{v:.6g}" for v in self.bounds)
            )
        for band in self.bands:
            parts = [f"Band {band.index}: {band.dtype}"]
            if band.description:
                parts.append(f"'{band.description}'")
            if band.wavelength_nm is not None:
                parts.append(f"{band.wavelength_nm:g} nm")
            if band.units:
                parts.append(f"units {band.units}")
            parts.append(f"nodata {band.nodata}" if band.nodata is not None else "no nodata")
            lines.append(", ".join(parts))
        return "\n".join(lines)


def describe_raster(path: str | Path) -> RasterDescription:
    """Open ``path`` with rasterio and describe it; clear errors for missing/unreadable files."""
    import rasterio
    from rasterio.errors import RasterioIOError

    path = Path(path)
    if not path.exists():
        raise InputError(f"Input raster '{path}' does not exist: check the path.")
    try:
        with rasterio.open(path) as dataset:
            info = crs_info(dataset.crs)
            georeferenced = dataset.crs is not None and not dataset.transform.is_identity
            pixel_size = (
                (abs(dataset.transform.a), abs(dataset.transform.e)) if georeferenced else None
            )
            units = _pixel_units(dataset.crs) if georeferenced else "px"
            bounds = tuple(dataset.bounds) if georeferenced else None
            bands = [_describe_band(dataset, index) for index in range(1, dataset.count + 1)]
            return RasterDescription(
                path=str(path),
                driver=dataset.driver,
                width=dataset.width,
                height=dataset.height,
                band_count=dataset.count,
                crs_body=info.body,
                crs_name=info.name,
                crs_wkt=info.wkt,
                pixel_size=pixel_size,
                pixel_size_units=units,
                bounds=bounds,
                bands=bands,
            )
    except RasterioIOError as error:
        raise RasterIOError(
            f"Cannot read '{path}' as a raster ({error}). Give a GDAL-readable raster "
            "(GeoTIFF, ENVI, ISIS3 cube, PDS3, VRT)."
        ) from error


def _pixel_units(crs) -> str:
    if crs is None:
        return "px"
    if crs.is_geographic:
        return "degrees"
    units = crs.linear_units or "m"
    return "m" if units in ("metre", "meter", "m") else units


def _describe_band(dataset, index: int) -> BandDescription:
    tags = dataset.tags(index)
    return BandDescription(
        index=index,
        dtype=dataset.dtypes[index - 1],
        description=dataset.descriptions[index - 1] or "",
        nodata=_finite_or_none(dataset.nodatavals[index - 1]),
        wavelength_nm=_wavelength_nm(tags),
        units=dataset.units[index - 1] or tags.get("units", ""),
    )


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    return float(value) if not math.isnan(value) else float("nan")


def _wavelength_nm(tags: dict[str, str]) -> float | None:
    """Wavelength from band metadata (marsspec writes WAVELENGTH_NM; ENVI writes wavelength)."""
    for key in ("WAVELENGTH_NM", "wavelength_nm", "wavelength", "WAVELENGTH"):
        if key in tags:
            try:
                value = float(tags[key])
            except ValueError:
                continue
            units = tags.get("wavelength_units", tags.get("WAVELENGTH_UNITS", "nm")).lower()
            if units.startswith("micro") or units in ("um", "µm"):
                value *= 1000.0
            return value
    return None
