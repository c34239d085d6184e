"""Describe a raster the way a planetary scientist needs: size, CRS body, bands, nodata,
wavelengths, CRISM scaling. This is what `marsspec:describe` and `python -m marsspec describe`
report; it reads through :func:`marsspec.core.io.product.open_product`, so PDS3/PDS4 products
are described with the facts GDAL alone would miss.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from marsspec.core.io.mars_crs import MARS_EQC_PROJ, crs_equivalent, crs_info, pixel_size_m
from marsspec.core.io.product import open_product


@dataclass(frozen=True)
class BandDescription:
    index: int  # 1-based, as in GDAL
    dtype: str
    description: str
    nodata: float | None
    wavelength_nm: float | None
    units: str
    scale: float = 1.0
    offset: float = 0.0


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
    format: str = ""
    product_type: str = ""
    pixel_size_m: tuple[float, float] | None = None  # ground size on the body's sphere
    wavelength_source: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def format_text(self) -> str:
        """A short human-readable report (what the CLI and the QGIS log show)."""
        lines = [
            f"File: {self.path}",
            f"Driver: {self.driver}" + (f" ({self.product_type})" if self.product_type else ""),
            f"Size: {self.width} x {self.height} px, {self.band_count} band(s)",
            f"CRS: {self.crs_name or '(none)'} [body: {self.crs_body}]",
        ]
        if self.pixel_size:
            lines.append(
                f"Pixel size: {self.pixel_size[0]:.6g} x {self.pixel_size[1]:.6g} "
                f"{self.pixel_size_units}"
            )
        if self.pixel_size_m and self.pixel_size_units != "m":
            lines.append(
                f"Ground pixel size: {self.pixel_size_m[0]:.4g} x {self.pixel_size_m[1]:.4g} m"
            )
        if self.bounds:
            lines.append(
                "Bounds (left, bottom, right, top): " + ", ".join(f"{v:.6g}" for v in self.bounds)
            )
        if self.wavelength_source:
            lines.append(f"Wavelengths from: {self.wavelength_source}")
        for band in self.bands:
            parts = [f"Band {band.index}: {band.dtype}"]
            if band.description:
                parts.append(f"'{band.description}'")
            if band.wavelength_nm is not None:
                parts.append(f"{band.wavelength_nm:g} nm")
            if band.units:
                parts.append(f"units {band.units}")
            if band.scale != 1.0 or band.offset != 0.0:
                parts.append(f"value = {band.offset:g} + DN x {band.scale:g}")
            parts.append(f"nodata {band.nodata}" if band.nodata is not None else "no nodata")
            lines.append(", ".join(parts))
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def describe_raster(path: str | Path) -> RasterDescription:
    """Describe ``path`` (raster, PDS3 label/.img, PDS4 .xml, ENVI .hdr); InputError for a
    missing file, RasterIOError for an unreadable one."""
    product = open_product(Path(path))
    info = crs_info(product.crs)
    transform = product.transform
    georeferenced = product.crs is not None and transform is not None
    pixel_size = (abs(transform.a), abs(transform.e)) if georeferenced else None
    units = _pixel_units(product.crs) if georeferenced else "px"
    bounds = None
    ground = None
    if georeferenced:
        left, top = transform.c, transform.f
        right = left + transform.a * product.width
        bottom = top + transform.e * product.height
        bounds = (min(left, right), min(top, bottom), max(left, right), max(top, bottom))
        ground = pixel_size_m(
            product.crs, transform, (top + bottom) / 2 if product.crs.is_geographic else None
        )
    bands = [
        BandDescription(
            index=i + 1,
            dtype=product.dtype,
            description=product.band_names[i] if i < len(product.band_names) else "",
            nodata=_finite_or_none(product.nodata),
            wavelength_nm=product.wavelengths_nm[i] if i < len(product.wavelengths_nm) else None,
            units=product.units,
            scale=product.scales[i],
            offset=product.offsets[i],
        )
        for i in range(product.count)
    ]
    return RasterDescription(
        path=str(path),
        driver=product.format.removeprefix("GDAL/"),
        width=product.width,
        height=product.height,
        band_count=product.count,
        crs_body=info.body if product.crs is not None else product.body,
        crs_name=_crs_name(product.crs, info),
        crs_wkt=info.wkt,
        pixel_size=pixel_size,
        pixel_size_units=units,
        bounds=bounds,
        bands=bands,
        format=product.format,
        product_type=product.product_type,
        pixel_size_m=ground,
        wavelength_source=product.wavelength_source,
        warnings=list(product.warnings),
    )


MARSSPEC_EQC_NAME = "Mars equirectangular (marsspec, R=3396190 m)"


def _crs_name(crs, info) -> str:
    """The CRS's own name; the projection marsspec writes (a PROJ string GDAL calls
    'unknown') by what it is, and any other unnamed CRS by its PROJ definition."""
    if crs is None:
        return ""
    if info.name and info.name.lower() != "unknown":
        return info.name
    with warnings.catch_warnings():  # pyproj warns that a PROJ string loses information
        warnings.simplefilter("ignore", UserWarning)
        try:
            if crs_equivalent(crs, MARS_EQC_PROJ):
                return MARSSPEC_EQC_NAME
        except Exception:  # an odd CRS pyproj cannot compare: fall back to its definition
            pass
        proj4 = crs.to_proj4() if hasattr(crs, "to_proj4") else ""
    return f"unnamed ({proj4})" if proj4 else "unnamed"


def _pixel_units(crs) -> str:
    if crs is None:
        return "px"
    if crs.is_geographic:
        return "degrees"
    units = crs.linear_units or "m"
    return "m" if units in ("metre", "meter", "m") else units


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    return float(value) if not math.isnan(value) else float("nan")
