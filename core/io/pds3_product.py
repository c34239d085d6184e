"""PDS3 products (CRISM TRDR/MTRDR/MRDR/DDR/CDR, HiRISE EDR, ...) as windowed VRT datasets.

Handles attached and detached labels, BSQ/BIL/BIP, line prefixes/suffixes, any PDS sample
type, per-band OFFSET/SCALING_FACTOR (CRISM browse), CRISM nulls (65535 in float products,
255 in 8-bit browse), IMAGE_MAP_PROJECTION (equirectangular) and CRISM wavelengths.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from marsspec.core.errors import DataFileError, InputError, RasterIOError
from marsspec.core.io import pds3
from marsspec.core.io.mars_crs import crs_info, equirectangular_crs
from marsspec.core.io.product import Product
from marsspec.core.io.raw_vrt import RawLayout, build_vrt
from marsspec.core.io.wavelengths import (
    crism_nominal_wavelengths,
    read_crism_wavelength_tab,
    wavelength_from_band_name,
)

_SAMPLE_TYPES = {
    "PC_REAL": "<f",
    "IEEE_REAL": ">f",
    "REAL": ">f",
    "MAC_REAL": ">f",
    "FLOAT": ">f",
    "LSB_UNSIGNED_INTEGER": "<u",
    "PC_UNSIGNED_INTEGER": "<u",
    "VAX_UNSIGNED_INTEGER": "<u",
    "MSB_UNSIGNED_INTEGER": ">u",
    "UNSIGNED_INTEGER": ">u",
    "MAC_UNSIGNED_INTEGER": ">u",
    "LSB_INTEGER": "<i",
    "PC_INTEGER": "<i",
    "VAX_INTEGER": "<i",
    "MSB_INTEGER": ">i",
    "INTEGER": ">i",
    "MAC_INTEGER": ">i",
}
_INTERLEAVE = {"BAND_SEQUENTIAL": "bsq", "LINE_INTERLEAVED": "bil", "SAMPLE_INTERLEAVED": "bip"}


def resolve_file(label_path: Path, name: str) -> Path:
    """A file named in a label: exact, then any case, then the label's own stem (CRISM labels
    name upper-case files that are lower case on disk; renamed '.lbl.txt' labels)."""
    folder = label_path.parent
    candidate = folder / name
    if candidate.exists():
        return candidate
    lower = name.lower()
    for entry in folder.iterdir():
        if entry.name.lower() == lower:
            return entry
    stem = label_path.name.lower().removesuffix(".txt").removesuffix(".lbl")
    suffix = Path(name).suffix.lower()
    for entry in folder.iterdir():
        if entry.name.lower() == stem + suffix:
            return entry
    raise DataFileError(
        f"The label '{label_path.name}' names the data file '{name}', which is not in "
        f"'{folder}'. Put the data file next to its label (any letter case)."
    )


def _pointer(label: dict, label_path: Path, record_bytes: int) -> tuple[Path, int]:
    pointer = pds3.find_key(label, "^IMAGE")
    if pointer is None:
        raise InputError(
            f"'{label_path.name}' has no ^IMAGE pointer: it does not describe an image."
        )
    if isinstance(pointer, list):  # ("FILE.IMG", record) or ("FILE.IMG", bytes <BYTES>)
        name, where = pointer[0], pointer[1]
        path = resolve_file(label_path, str(name))
    elif isinstance(pointer, str):
        return resolve_file(label_path, pointer), 0
    else:  # attached label: record number or byte offset
        path, where = label_path, pointer
    if isinstance(where, pds3.Quantity) and where.unit.upper().startswith("BYTE"):
        return path, int(where.value) - 1
    return path, (int(pds3.number(where)) - 1) * record_bytes


def open_pds3(label_path: Path, *, strict: bool = False) -> Product:
    label = pds3.parse_label(pds3.read_label_text(label_path))
    image = pds3.find_object(label, "IMAGE")
    if image is None:
        raise InputError(
            f"'{label_path.name}' has no IMAGE object; marsspec reads PDS3 images only "
            "(tables such as CRISM CDR/DDR tables are not rasters)."
        )
    record_bytes = int(pds3.number(pds3.find_key(label, "RECORD_BYTES"), 1) or 1)
    data_path, offset = _pointer(label, label_path, record_bytes)
    sample_type = str(image.get("SAMPLE_TYPE", "")).upper()
    bits = int(pds3.number(image.get("SAMPLE_BITS"), 8))
    if sample_type not in _SAMPLE_TYPES:
        raise InputError(f"Unsupported SAMPLE_TYPE '{sample_type}' in '{label_path.name}'.")
    kind = _SAMPLE_TYPES[sample_type]
    if bits not in ((32, 64) if kind.endswith("f") else (8, 16, 32, 64)):
        raise InputError(
            f"SAMPLE_BITS = {bits} with SAMPLE_TYPE {sample_type} in '{label_path.name}' is not "
            "a pixel type marsspec reads; the label may be corrupt: re-download the product."
        )
    dtype = np.dtype(f"{kind}{bits // 8}")
    bands = _count(image, "BANDS", label_path, 1)
    storage = str(image.get("BAND_STORAGE_TYPE", "BAND_SEQUENTIAL")).upper()
    layout = RawLayout(
        path=data_path,
        offset=offset,
        lines=_count(image, "LINES", label_path),
        samples=_count(image, "LINE_SAMPLES", label_path),
        bands=bands,
        dtype=dtype,
        interleave=_INTERLEAVE.get(storage, "bsq"),
        line_prefix=int(pds3.number(image.get("LINE_PREFIX_BYTES"), 0)),
        line_suffix=int(pds3.number(image.get("LINE_SUFFIX_BYTES"), 0)),
    )
    layout.check_size(f"'{label_path.name}'")

    instrument = str(pds3.find_key(label, "INSTRUMENT_ID") or "").upper()
    product_type = str(pds3.find_key(label, "PRODUCT_TYPE") or "")
    names = _band_names(image, bands)
    scales = _per_band(image.get("SCALING_FACTOR"), bands, 1.0)
    offsets = _per_band(image.get("OFFSET"), bands, 0.0)
    nodata = _nodata(image, dtype, instrument, has_scaling="SCALING_FACTOR" in image)
    warnings: list[str] = []
    wavelengths, source = _wavelengths(
        label, label_path, layout, names, instrument, warnings, strict
    )
    crs, transform = _map_projection(pds3.find_object(label, "IMAGE_MAP_PROJECTION"))
    units = str(
        image.get("UNIT", "")
        or ("I/F" if instrument == "CRISM" and "SCALING_FACTOR" in image else "")
    )
    target = str(pds3.find_key(label, "TARGET_NAME") or "").title()
    body = crs_info(crs).body if crs is not None else (target or "unknown")
    source_xml = build_vrt(
        layout,
        nodata=nodata,
        band_names=names,
        wavelengths_nm=wavelengths,
        scales=scales,
        offsets=offsets,
        units=units,
        crs_wkt=crs.to_wkt() if crs is not None else None,
        transform=transform,
        metadata={
            "PRODUCT_ID": str(pds3.find_key(label, "PRODUCT_ID") or ""),
            "PRODUCT_TYPE": product_type,
            "INSTRUMENT_ID": instrument,
        },
    )
    return Product(
        path=label_path,
        format="PDS3",
        source=source_xml,
        width=layout.samples,
        height=layout.lines,
        count=bands,
        dtype=np.dtype(dtype).newbyteorder("=").name,
        band_names=names,
        wavelengths_nm=wavelengths,
        nodata=nodata,
        scales=scales,
        offsets=offsets,
        units=units,
        crs=crs,
        transform=transform,
        body=body,
        product_type=product_type,
        wavelength_source=source,
        warnings=warnings,
        metadata={
            "data_file": str(data_path),
            "interleave": layout.interleave,
            "instrument": instrument,
            "image_offset_bytes": offset,
        },
    )


def _count(image: dict, key: str, label_path: Path, default: int | None = None) -> int:
    """A positive whole number of the IMAGE object; a missing or odd one names the label."""
    value = pds3.number(image.get(key), default)
    if value is None or value < 1 or value != int(value):
        raise InputError(
            f"'{label_path.name}': the IMAGE object's {key} is {image.get(key, 'missing')!s}, not "
            "a positive whole number; the label is incomplete or corrupt: re-download the product."
        )
    return int(value)


def _per_band(value, bands: int, default: float) -> list[float]:
    if value is None:
        return [default] * bands
    values = value if isinstance(value, list) else [value]
    numbers = [pds3.number(v, default) for v in values]
    return numbers * bands if len(numbers) == 1 else (numbers + [default] * bands)[:bands]


def _band_names(image: dict, bands: int) -> list[str]:
    names = image.get("BAND_NAME")
    if names is None:
        return [f"Band {b + 1}" for b in range(bands)]
    names = names if isinstance(names, list) else [names]
    return [str(n) for n in names][:bands] + [f"Band {b + 1}" for b in range(len(names), bands)]


def _nodata(image: dict, dtype: np.dtype, instrument: str, has_scaling: bool) -> float | None:
    for key in ("MISSING_CONSTANT", "CORE_NULL", "NULL"):
        value = pds3.number(image.get(key))
        if value is not None:
            return value
    if instrument == "CRISM":
        if dtype.kind == "f":
            return 65535.0
        if dtype.itemsize == 1 and has_scaling:
            return 255.0
    return None


def _wavelengths(label, label_path, layout, names, instrument, warnings, strict):
    bands = layout.bands
    from_names = [wavelength_from_band_name(n) for n in names]
    if any(w is not None for w in from_names):
        return from_names, "band names"
    table_name = pds3.find_key(label, "MRO:WAVELENGTH_FILE_NAME")
    if instrument != "CRISM" or table_name is None:
        return [None] * bands, ""
    table_name = str(table_name)
    if table_name.upper().endswith(".TAB"):
        problem = None
        try:
            values = read_crism_wavelength_tab(resolve_file(label_path, table_name))
            if len(values) == bands:
                return values, f"wavelength table {table_name}"
            problem = (
                f"wavelength table {table_name} lists {len(values)} wavelengths for {bands} band(s)"
            )
        except (RasterIOError, InputError):
            problem = (
                f"wavelength table {table_name} named by the label is not next to it; "
                "put it there to get band wavelengths"
            )
        if strict:
            raise InputError(f"'{label_path.name}': {problem}.")
        warnings.append(problem)
        return [None] * bands, ""
    # TRDR: the CDR WA file is rarely downloaded; use the shipped nominal detector tables
    sensor = str(pds3.find_key(label, "MRO:SENSOR_ID") or "").upper()
    if sensor not in ("S", "L"):
        return [None] * bands, ""
    try:
        values = crism_nominal_wavelengths(sensor, bands, _rownum_rows(label, label_path, layout))
    except InputError as error:
        if strict:
            raise
        warnings.append(str(error))
        return [None] * bands, ""
    warnings.append(
        f"wavelengths are the nominal CRISM {sensor} detector table (±2 nm), not {table_name}"
    )
    return values, f"nominal CRISM {sensor} table (core/io/data)"


def _rownum_rows(label, label_path, layout) -> list[int] | None:
    """The detector rows of each band, from the ROWNUM_TABLE when the file holds it."""
    pointer = pds3.find_key(label, "^ROWNUM_TABLE")
    if not isinstance(pointer, list) or len(pointer) < 2:
        return None
    start = layout.offset + layout.nbytes  # CRISM puts the table right after the cube
    try:
        with open(layout.path, "rb") as handle:
            handle.seek(start)
            raw = handle.read(2 * layout.bands)
    except OSError:
        return None
    if len(raw) != 2 * layout.bands:
        return None
    return list((np.frombuffer(raw, ">u2") & 0x1FF).astype(int))


def _map_projection(projection: dict | None):
    """CRS and transform of a PDS3 IMAGE_MAP_PROJECTION (equirectangular only)."""
    if projection is None:
        return None, None
    from affine import Affine

    kind = str(projection.get("MAP_PROJECTION_TYPE", "")).upper().replace(" ", "")
    if kind not in ("EQUIRECTANGULAR", "SIMPLECYLINDRICAL"):
        return None, None
    radius = pds3.number(projection.get("A_AXIS_RADIUS"))
    unit = projection.get("A_AXIS_RADIUS")
    radius_m = radius * (
        1000.0 if not isinstance(unit, pds3.Quantity) or unit.unit.upper().startswith("K") else 1.0
    )
    lat_ts = pds3.number(projection.get("CENTER_LATITUDE"), 0.0)
    lon_0 = pds3.number(projection.get("CENTER_LONGITUDE"), 0.0)
    scale = projection.get("MAP_SCALE")
    scale_value = pds3.number(scale)
    if scale_value is not None:
        scale_m = scale_value * (
            1.0
            if isinstance(scale, pds3.Quantity)
            and scale.unit.upper().startswith("M")
            and "KM" not in scale.unit.upper()
            else 1000.0
        )
    else:
        resolution = pds3.number(projection.get("MAP_RESOLUTION"))
        scale_m = math.pi * radius_m / 180.0 / resolution
    sample_offset = pds3.number(projection.get("SAMPLE_PROJECTION_OFFSET"), 0.0)
    line_offset = pds3.number(projection.get("LINE_PROJECTION_OFFSET"), 0.0)
    # GDAL's PDS-driver convention (the one ENVI headers of the same products agree with)
    left = (0.5 - sample_offset) * scale_m
    top = (line_offset - 0.5) * scale_m
    crs = equirectangular_crs(radius_m, lat_ts, lon_0)
    return crs, Affine(scale_m, 0.0, left, 0.0, -scale_m, top)
