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


# ENVI 'data type' code -> (bytes per sample, name), from the ENVI header format description
ENVI_DATA_TYPES: dict[int, tuple[int, str]] = {
    1: (1, "uint8"),
    2: (2, "int16"),
    3: (4, "int32"),
    4: (4, "float32"),
    5: (8, "float64"),
    6: (8, "complex64"),
    9: (16, "complex128"),
    12: (2, "uint16"),
    13: (4, "uint32"),
    14: (8, "int64"),
    15: (8, "uint64"),
}


def check_envi_size(header: Path, data: Path) -> None:
    """Refuse a header whose size does not match its data file.

    GDAL opens such a pair happily: a wrong ``samples`` shears every line into the next, a
    short file reads as zeros. Neither is a raster the user meant, so both stop here, naming
    the header values and the two sizes. Headers GDAL itself would reject (missing keys) and
    compressed files are left to GDAL.
    """
    from marsspec.core.errors import DataFileError

    entries = parse_envi_header(header)
    if entries.get("file compression", "0").strip() not in ("", "0"):
        return
    try:
        samples, lines, bands = (int(entries[k]) for k in ("samples", "lines", "bands"))
        code = int(entries["data type"])
        offset = int(entries.get("header offset", "0") or 0)
    except (KeyError, ValueError):
        return
    if code not in ENVI_DATA_TYPES:
        return
    itemsize, type_name = ENVI_DATA_TYPES[code]
    expected = offset + samples * lines * bands * itemsize
    actual = data.stat().st_size
    if actual == expected:
        return
    raise DataFileError(
        f"ENVI header {header.name} does not match its data file {data.name}: samples = "
        f"{samples}, lines = {lines}, bands = {bands}, data type = {code} ({type_name}, "
        f"{itemsize} byte(s) each) and header offset = {offset} mean {expected:,} bytes, but "
        f"{data.name} has {actual:,}. Correct samples/lines/bands/data type in the header, or "
        "re-download the data file if it is truncated."
    )
