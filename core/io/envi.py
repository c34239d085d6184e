"""ENVI header facts GDAL does not turn into rasterio attributes: wavelengths, band names,
'data ignore value', and the CRS of 'map info' (Mars spheres included)."""

from __future__ import annotations

import re
from pathlib import Path


def parse_envi_header(path: Path) -> dict[str, str]:
    text = Path(path).read_text(encoding="latin-1")
    if not text.lstrip().startswith("ENVI"):
        from marsspec.core.errors import InputError

        raise InputError(f"'{path}' is not an ENVI header (it must start with 'ENVI').")
    entries: dict[str, str] = {}
    for match in re.finditer(r"^\s*([^=\n]+?)\s*=\s*(\{[^}]*\}|[^\n]*)", text, re.MULTILINE):
        entries[match.group(1).strip().lower()] = match.group(2).strip()
    return entries


def _list(value: str | None) -> list[str]:
    if not value:
        return []
    return [item.strip() for item in value.strip().strip("{}").split(",") if item.strip()]


def envi_header_facts(path: Path) -> dict:
    header = parse_envi_header(path)
    facts: dict = {}
    names = _list(header.get("band names"))
    if names:
        facts["band_names"] = names
    waves = _list(header.get("wavelength"))
    if waves:
        units = header.get("wavelength units", "nm").lower()
        factor = 1000.0 if units.startswith("micro") or units in ("um", "µm") else 1.0
        values = [float(w) * factor for w in waves]
        if units == "unknown" and max(values) < 20:
            values = [v * 1000.0 for v in values]
        facts["wavelengths_nm"] = values
    if "data ignore value" in header:
        facts["nodata"] = float(header["data ignore value"])
    if "map info" in header:
        from marsspec.core.errors import InputError
        from marsspec.core.io.mars_crs import crs_from_envi_map_info

        try:
            facts["crs"] = crs_from_envi_map_info(
                header["map info"],
                header.get("projection info"),
                header.get("coordinate system string"),
            )
        except InputError as error:  # GDAL may still know the CRS; report, do not fail
            facts["crs_problem"] = str(error)
    return facts
