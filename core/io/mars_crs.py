"""Recognise the planetary body of a CRS, so Mars coordinates are never treated as Earth's.

GDAL/PROJ describe a Mars CRS by its ellipsoid (radius 3,396,190 m for the IAU sphere,
3,396,000 m for older products) or by IAU_2015 codes (49900 = Mars geographic). The body is
read from the ellipsoid's semi-major axis, which every definition carries.
"""

from __future__ import annotations

from dataclasses import dataclass

# Semi-major axes in metres of bodies marsspec may meet, with a tolerance wide enough for the
# different Mars radii used by missions (3,393.4 to 3,397.2 km) but not Earth's or the Moon's.
_BODY_RADII_M: tuple[tuple[str, float, float], ...] = (
    ("Mars", 3_390_000.0, 3_400_000.0),
    ("Earth", 6_356_000.0, 6_379_000.0),
    ("Moon", 1_736_000.0, 1_739_000.0),
)

MARS_RADIUS_M = 3_396_190.0


@dataclass(frozen=True)
class CrsInfo:
    """What a user needs to know about a raster's CRS."""

    body: str  # "Mars", "Earth", "Moon", "unknown" or "none"
    name: str
    semi_major_axis_m: float | None
    is_geographic: bool
    wkt: str


def body_from_semi_major_axis(axis_m: float | None) -> str:
    if axis_m is None:
        return "unknown"
    for body, low, high in _BODY_RADII_M:
        if low <= axis_m <= high:
            return body
    return "unknown"


def crs_info(crs) -> CrsInfo:  # crs: rasterio.crs.CRS | None
    """Describe a rasterio CRS: body, name, axis, geographic or projected."""
    if crs is None:
        return CrsInfo("none", "", None, False, "")
    wkt = crs.to_wkt()
    axis = _semi_major_axis(wkt)
    name = _crs_name(wkt)
    return CrsInfo(body_from_semi_major_axis(axis), name, axis, bool(crs.is_geographic), wkt)


def _semi_major_axis(wkt: str) -> float | None:
    from osgeo import osr

    srs = osr.SpatialReference()
    if srs.ImportFromWkt(wkt) != 0:
        return None
    return float(srs.GetSemiMajor())


def _crs_name(wkt: str) -> str:
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    return srs.GetName() or ""
