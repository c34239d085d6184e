"""Describe a raw binary cube as a GDAL VRT, so rasterio reads it by windows.

This is marsspec's one trick for planetary formats: parse the label ourselves, then hand GDAL
an XML VRT (VRTRawRasterBand) that says where each band's pixels are. Everything downstream
(tiling, describe, QGIS) then sees an ordinary rasterio dataset: windowed reads, nodata,
scale/offset, band descriptions and WAVELENGTH_NM metadata, CRS and transform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from marsspec.core.errors import DataFileError, RasterIOError

_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
    "float64": "Float64",
}


@dataclass
class RawLayout:
    """Where the pixels are: a cube of ``bands`` x ``lines`` x ``samples`` in one file."""

    path: Path
    offset: int  # bytes to the first pixel
    lines: int
    samples: int
    bands: int
    dtype: np.dtype  # with byte order
    interleave: str  # "bsq", "bil" or "bip"
    line_prefix: int = 0
    line_suffix: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize

    def strides(self) -> tuple[int, int, int]:
        """(pixel, line, band) offsets in bytes."""
        s, b, n = self.samples, self.bands, self.itemsize
        pad = self.line_prefix + self.line_suffix
        if self.interleave == "bsq":
            line = s * n + pad
            return n, line, line * self.lines
        if self.interleave == "bil":
            return n, b * s * n + pad, s * n
        if self.interleave == "bip":
            return b * n, s * b * n + pad, n
        raise RasterIOError(
            f"Unknown band interleave '{self.interleave}' (expected BSQ, BIL, BIP)."
        )

    @property
    def nbytes(self) -> int:
        _pixel, line, band = self.strides()
        if self.interleave == "bsq":
            return band * self.bands
        return line * self.lines

    def check_size(self, what: str) -> None:
        """Refuse a label that points past the end of its data (truncated download)."""
        if not self.path.is_file():
            raise DataFileError(
                f"The data file {self.path.name} of {what} is missing from {self.path.parent}; "
                "put the data file next to its label."
            )
        try:
            size = self.path.stat().st_size
        except OSError as error:
            raise RasterIOError(
                f"Cannot read the data file '{self.path}' of {what}: {error}"
            ) from error
        shape = (
            f"{self.bands} x {self.lines} x {self.samples} {np.dtype(self.dtype).name} pixels "
            f"({self.nbytes:,} bytes)"
        )
        if self.offset >= size and self.nbytes > 0:
            raise DataFileError(
                f"The label {what} points to byte {self.offset:,} of its data file "
                f"{self.path.name}, past the end of the file ({size:,} bytes), for {shape}: the "
                "label does not belong to this file or the file is truncated. Re-download the "
                "product."
            )
        if self.offset + self.nbytes > size:
            raise DataFileError(
                f"{self.path.name} is truncated: the label {what} describes {shape} from byte "
                f"{self.offset:,}, needing {self.offset + self.nbytes:,} bytes, but the file has "
                f"{size:,}. Re-download the product."
            )


def build_vrt(
    layout: RawLayout,
    *,
    nodata: float | None = None,
    band_names: list[str] | None = None,
    wavelengths_nm: list[float | None] | None = None,
    scales: list[float] | None = None,
    offsets: list[float] | None = None,
    units: str = "",
    crs_wkt: str | None = None,
    transform=None,
    metadata: dict[str, str] | None = None,
) -> str:
    """A VRT XML string (openable by rasterio.open) for ``layout``."""
    dtype = np.dtype(layout.dtype)
    gdal_type = _GDAL_TYPES.get(dtype.newbyteorder("=").name)
    if gdal_type is None:
        raise RasterIOError(f"Pixel type {dtype} is not supported; expected 8-64 bit int or float.")
    order = "MSB" if dtype.byteorder == ">" else "LSB"
    pixel, line, band_stride = layout.strides()
    parts = [f'<VRTDataset rasterXSize="{layout.samples}" rasterYSize="{layout.lines}">']
    if crs_wkt:
        parts.append(f"<SRS>{escape(crs_wkt)}</SRS>")
    if transform is not None:
        t = transform
        parts.append(
            f"<GeoTransform>{t.c!r}, {t.a!r}, {t.b!r}, {t.f!r}, {t.d!r}, {t.e!r}</GeoTransform>"
        )
    if metadata:
        parts.append(_metadata(metadata))
    source = escape(str(layout.path.resolve()))
    for b in range(layout.bands):
        parts.append(
            f'<VRTRasterBand dataType="{gdal_type}" band="{b + 1}" subClass="VRTRawRasterBand">'
        )
        if band_names and b < len(band_names) and band_names[b]:
            parts.append(f"<Description>{escape(str(band_names[b]))}</Description>")
        band_md = {}
        if wavelengths_nm and b < len(wavelengths_nm) and wavelengths_nm[b] is not None:
            band_md["WAVELENGTH_NM"] = f"{wavelengths_nm[b]:g}"
        if units:
            band_md["units"] = units
            parts.append(f"<UnitType>{escape(units)}</UnitType>")
        if band_md:
            parts.append(_metadata(band_md))
        if nodata is not None:
            parts.append(f"<NoDataValue>{nodata!r}</NoDataValue>")
        if offsets and b < len(offsets):
            parts.append(f"<Offset>{offsets[b]!r}</Offset>")
        if scales and b < len(scales):
            parts.append(f"<Scale>{scales[b]!r}</Scale>")
        start = layout.offset + layout.line_prefix + b * band_stride
        parts.append(f'<SourceFilename relativeToVRT="0">{source}</SourceFilename>')
        parts.append(f"<ImageOffset>{start}</ImageOffset><PixelOffset>{pixel}</PixelOffset>")
        parts.append(f"<LineOffset>{line}</LineOffset><ByteOrder>{order}</ByteOrder>")
        parts.append("</VRTRasterBand>")
    parts.append("</VRTDataset>")
    return "".join(parts)


def _metadata(items: dict[str, str]) -> str:
    body = "".join(f'<MDI key="{escape(str(k))}">{escape(str(v))}</MDI>' for k, v in items.items())
    return f"<Metadata>{body}</Metadata>"
