"""PDS4 array products (CaSSIS framelets and RDRs: ``.dat``/``.img`` + ``.xml``) as VRTs.

Namespaces differ between CaSSIS's own 'PDS4-style' headers and PSA products, so elements
are matched by local name. Wavelength: the filter's centre from the XML, else CaSSIS's
nominal filter centres.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from marsspec.core.errors import DataFileError, InputError
from marsspec.core.io.mars_crs import crs_info, equirectangular_crs
from marsspec.core.io.product import Product
from marsspec.core.io.raw_vrt import RawLayout, build_vrt

CASSIS_FILTER_NM = {"BLU": 499.0, "PAN": 675.0, "RED": 836.0, "NIR": 937.0}
_TYPES = {
    "IEEE754LSBSingle": "<f4",
    "IEEE754MSBSingle": ">f4",
    "IEEE754LSBDouble": "<f8",
    "IEEE754MSBDouble": ">f8",
    "UnsignedByte": "u1",
    "SignedByte": "i1",
    "UnsignedLSB2": "<u2",
    "UnsignedMSB2": ">u2",
    "SignedLSB2": "<i2",
    "SignedMSB2": ">i2",
    "UnsignedLSB4": "<u4",
    "UnsignedMSB4": ">u4",
    "SignedLSB4": "<i4",
    "SignedMSB4": ">i4",
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(node, name: str):
    for element in node.iter():
        if _local(element.tag) == name:
            return element
    return None


def _text(node, name: str) -> str | None:
    element = _find(node, name) if node is not None else None
    return element.text.strip() if element is not None and element.text else None


def _float(node, name: str) -> float | None:
    value = _text(node, name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def open_pds4(xml_path: Path) -> Product:
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as error:
        raise InputError(
            f"'{xml_path.name}' is not a readable PDS4 XML label ({error})."
        ) from error
    array = next(
        (
            e
            for e in root.iter()
            if _local(e.tag) in ("Array_2D_Image", "Array_3D_Image", "Array_3D_Spectrum")
        ),
        None,
    )
    if array is None:
        raise InputError(f"'{xml_path.name}' describes no image array (Array_2D_Image/3D).")
    axes = {}
    for axis in (e for e in array if _local(e.tag) == "Axis_Array"):
        name, elements = _text(axis, "axis_name"), _text(axis, "elements")
        if name is None or elements is None or not elements.isdigit() or int(elements) < 1:
            raise InputError(
                f"'{xml_path.name}': an Axis_Array has axis_name {name!r} and elements "
                f"{elements!r}; each needs a name and a positive whole number of elements. The "
                "label is incomplete or corrupt: re-download the product."
            )
        axes[name.lower()] = int(elements)
    samples, lines = axes.get("sample"), axes.get("line")
    bands = axes.get("band", 1)
    if samples is None or lines is None:
        raise InputError(
            f"'{xml_path.name}': the array needs Sample and Line axes, got {list(axes)}."
        )
    data_type = _text(array, "data_type")
    if data_type not in _TYPES:
        raise InputError(f"'{xml_path.name}': unsupported PDS4 data_type '{data_type}'.")
    data_path = _data_file(xml_path, _text(root, "file_name"))
    layout = RawLayout(
        data_path,
        int(_float(array, "offset") or 0),
        lines,
        samples,
        bands,
        np.dtype(_TYPES[data_type]),
        "bsq",
    )
    layout.check_size(f"'{xml_path.name}'")
    scale = _float(array, "scaling_factor") or 1.0
    offset = _float(array, "value_offset") or _float(array, "offset_value") or 0.0
    nodata = _float(root, "missing_constant")
    filter_name = (_text(root, "filter_name") or _text(root, "Filter") or "").upper()
    wavelength = _float(root, "center_filter_wavelength") or CASSIS_FILTER_NM.get(filter_name)
    crs, transform = _cartography(root)
    target = (_text(root, "TARGET") or _text(root, "target_name") or "").title()
    body = crs_info(crs).body if crs is not None else (target or "unknown")
    name = f"CaSSIS {filter_name}" if filter_name else "Band 1"
    units = _text(array, "unit") or ""
    xml = build_vrt(
        layout,
        nodata=nodata,
        band_names=[name] * bands,
        wavelengths_nm=[wavelength] * bands,
        scales=[scale] * bands,
        offsets=[offset] * bands,
        units=units,
        crs_wkt=crs.to_wkt() if crs is not None else None,
        transform=transform,
    )
    return Product(
        path=xml_path,
        format="PDS4",
        source=xml,
        width=samples,
        height=lines,
        count=bands,
        dtype=np.dtype(_TYPES[data_type]).newbyteorder("=").name,
        band_names=[name] * bands,
        wavelengths_nm=[wavelength] * bands,
        nodata=nodata,
        scales=[scale] * bands,
        offsets=[offset] * bands,
        units=units,
        crs=crs,
        transform=transform,
        body=body,
        product_type="CaSSIS framelet" if crs is None else "CaSSIS map-projected",
        wavelength_source="label filter" if wavelength else "",
        metadata={
            "data_file": str(data_path),
            "filter": filter_name,
            "corner_longitudes": _text(root, "LONGITUDE_IMAGE_CORNERS"),
            "corner_latitudes": _text(root, "LATITUDE_IMAGE_CORNERS"),
        },
    )


def _data_file(xml_path: Path, named: str | None) -> Path:
    """The data file: as named (CaSSIS names often lack the suffix or differ), else the XML's
    stem with .dat/.img."""
    folder = xml_path.parent
    candidates = []
    if named:
        candidates += [folder / named, folder / f"{named}.dat", folder / f"{named}.img"]
    candidates += [xml_path.with_suffix(".dat"), xml_path.with_suffix(".img")]
    for candidate in candidates:
        if candidate.is_file() and candidate.suffix.lower() != ".xml":
            return candidate
    raise DataFileError(
        f"No data file for '{xml_path.name}' (looked for {named or '?'} and "
        f"{xml_path.stem}.dat/.img); put it next to the XML label."
    )


def _cartography(root):
    carto = _find(root, "Cartography")
    if carto is None or _find(carto, "Equirectangular") is None:
        return None, None
    from affine import Affine

    radius = _float(carto, "a_axis_radius") or _float(carto, "semi_major_radius")
    res_x = _float(carto, "pixel_resolution_x")
    res_y = _float(carto, "pixel_resolution_y") or res_x
    left, top = _float(carto, "upperleft_corner_x"), _float(carto, "upperleft_corner_y")
    if None in (radius, res_x, left, top):
        return None, None
    crs = equirectangular_crs(
        radius,
        _float(carto, "standard_parallel_1") or 0.0,
        _float(carto, "longitude_of_central_meridian") or 0.0,
    )
    return crs, Affine(res_x, 0.0, left, 0.0, -res_y, top)
