"""Recognise the planetary body of a CRS, so Mars coordinates are never treated as Earth's.

GDAL/PROJ describe a Mars CRS by its ellipsoid (radius 3,396,190 m for the IAU sphere,
3,396,000 m for older products) or by IAU_2015 codes (49900 = Mars geographic). The body is
read from the ellipsoid's semi-major axis, which every definition carries.
"""

from __future__ import annotations

from dataclasses import dataclass

from marsspec.core.errors import InputError

# Semi-major axes in metres of bodies marsspec may meet, with a tolerance wide enough for the
# different Mars radii used by missions (polar 3,376.2 km to 3,397.2 km) but not Earth's or Moon's.
_BODY_RADII_M: tuple[tuple[str, float, float], ...] = (
    ("Mars", 3_370_000.0, 3_400_000.0),  # polar radius 3,376.2 km to equatorial 3,396.2
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
    if srs.ImportFromWkt(wkt) != 0 or srs.IsLocal():
        return None  # a LOCAL_CS has no body; GDAL would answer with Earth's default axis
    return float(srs.GetSemiMajor())


def _crs_name(wkt: str) -> str:
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    return srs.GetName() or ""


# ---- recognising, building and comparing Mars CRSs ---------------------------------------
MARS_EQC_PROJ = "+proj=eqc +lat_ts=0 +lat_0=0 +lon_0=0 +x_0=0 +y_0=0 +R=3396190 +units=m +no_defs"


def to_crs(value):
    """A rasterio CRS from a CRS, an IAU/EPSG code, a PROJ string, WKT or ENVI map info."""
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    from marsspec.core.errors import InputError

    if value is None or isinstance(value, CRS):
        return value
    text = str(value).strip()
    if text.lower().startswith("{") or text.lower().startswith("map info"):
        return crs_from_envi_map_info(text)
    try:
        return CRS.from_user_input(text)
    except CRSError as error:
        raise InputError(
            f"'{text[:80]}' is not a CRS PROJ understands ({error}); give an IAU_2015 code, a "
            "PROJ string or WKT."
        ) from error


def is_mars_crs(value) -> bool:
    """True for any CRS whose ellipsoid is Mars-sized (IAU codes, PROJ strings, WKT)."""
    crs = to_crs(value)
    return crs is not None and crs_info(crs).body == "Mars"


def _proj_params(crs) -> dict:
    from pyproj import CRS as ProjCRS  # noqa: N811 - rasterio CRS is the default here

    pcrs = ProjCRS.from_wkt(crs.to_wkt())
    params = {k: v for k, v in pcrs.to_dict().items() if k not in ("no_defs", "type", "wktext")}
    ellipsoid = pcrs.ellipsoid
    params.pop("R", None), params.pop("a", None), params.pop("b", None), params.pop("ellps", None)
    params["_a"] = ellipsoid.semi_major_metre if ellipsoid else None
    params["_b"] = ellipsoid.semi_minor_metre if ellipsoid else None
    return params


def crs_equivalent(a, b, tolerance: float = 1e-6) -> bool:
    """Same projection, parameters and body size, whatever the names or the notation
    (``IAU_2015:49910`` equals its PROJ string; arosics needs this check before stamping)."""
    crs_a, crs_b = to_crs(a), to_crs(b)
    if crs_a is None or crs_b is None:
        return crs_a is None and crs_b is None
    pa, pb = _proj_params(crs_a), _proj_params(crs_b)
    defaults = {
        "lat_0": 0.0,
        "lon_0": 0.0,
        "x_0": 0.0,
        "y_0": 0.0,
        "lat_ts": 0.0,
        "k": 1.0,
        "k_0": 1.0,
    }
    for key in set(pa) | set(pb):
        va, vb = pa.get(key, defaults.get(key)), pb.get(key, defaults.get(key))
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            if abs(float(va) - float(vb)) > tolerance * max(1.0, abs(float(va))):
                return False
        elif va != vb:
            return False
    return True


def semi_major_axis_m(crs) -> float | None:
    return crs_info(to_crs(crs)).semi_major_axis_m


def pixel_size_m(crs, transform, latitude_deg: float | None = None) -> tuple[float, float]:
    """Ground pixel size (x, y) in metres; geographic CRSs use the body's radius (not Earth's)
    at ``latitude_deg`` (default: the latitude of the transform's origin)."""
    import math

    from marsspec.core.errors import InputError

    crs = to_crs(crs)
    dx, dy = abs(transform.a), abs(transform.e)
    if crs is None:
        raise InputError("The raster has no CRS, so its pixel size in metres is unknown.")
    if not crs.is_geographic:
        factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
        return dx * factor, dy * factor
    radius = semi_major_axis_m(crs) or MARS_RADIUS_M
    lat = transform.f if latitude_deg is None else latitude_deg
    metres_per_degree = math.pi * radius / 180.0
    return dx * metres_per_degree * math.cos(math.radians(lat)), dy * metres_per_degree


def equirectangular_crs(radius_m: float, lat_ts: float = 0.0, lon_0: float = 0.0):
    """A Mars (or other sphere) equirectangular CRS; the IAU code when it is the standard one."""
    from rasterio.crs import CRS

    if abs(radius_m - MARS_RADIUS_M) < 1 and lat_ts == 0 and lon_0 == 0:
        try:
            return CRS.from_user_input("IAU_2015:49910")
        except Exception:
            pass
    return CRS.from_proj4(
        f"+proj=eqc +lat_ts={lat_ts!r} +lat_0=0 +lon_0={lon_0!r} +x_0=0 +y_0=0 "
        f"+R={radius_m!r} +units=m +no_defs"
    )


def crs_from_envi_map_info(
    map_info: str, projection_info: str | None = None, coordinate_system_string: str | None = None
):
    """The CRS of an ENVI header: its WKT when given, else map info + projection info."""
    from rasterio.crs import CRS

    from marsspec.core.errors import InputError

    if coordinate_system_string:
        return CRS.from_wkt(coordinate_system_string.strip().strip("{}"))
    text = map_info.split("=", 1)[-1].strip().strip("{}")
    fields = [f.strip() for f in text.split(",")]
    if projection_info:
        proj = [f.strip() for f in projection_info.split("=", 1)[-1].strip().strip("{}").split(",")]
        if proj and proj[0] == "17":  # ENVI 17 = Equirectangular: radius, lat_ts, lon_0
            return equirectangular_crs(float(proj[1]), float(proj[2]), float(proj[3]))
    if fields and fields[0].lower().startswith("geographic"):
        return CRS.from_proj4(f"+proj=longlat +R={MARS_RADIUS_M} +no_defs")
    raise InputError(
        f"Cannot tell the CRS from ENVI map info '{text[:60]}...'; add 'projection info' or "
        "'coordinate system string' to the header."
    )


def check_mars_body(crs, name: str, *, allow_non_mars: bool = False) -> str | None:
    """Refuse a raster whose CRS is on another body (Earth, Moon): marsspec's models and
    Mars radii would silently give wrong scales and places. With ``allow_non_mars`` the run
    goes on and the returned warning says so; a raster with no CRS or an unknown body passes
    (the callers say what that means for them)."""
    info = crs_info(crs)
    if info.body in ("Mars", "none", "unknown"):
        return None
    what = f"{name} has an {info.body} CRS ({info.name or 'unnamed'})"
    if allow_non_mars:
        return f"{what}; running anyway as asked (--allow-non-mars), distances are {info.body}'s."
    raise InputError(
        f"{what}, not a Mars one. If it is a Mars image with a wrong label, assign its Mars CRS "
        f"first (e.g. gdal_edit.py -a_srs '{MARS_EQC_PROJ}' FILE, or QGIS's Assign Projection); "
        "to run on it anyway, pass --allow-non-mars (ALLOW_NON_MARS in QGIS)."
    )
