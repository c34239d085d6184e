"""Open any supported product as a :class:`Product`: a rasterio-openable dataset plus the
planetary facts GDAL does not know (wavelengths, CRISM scaling and nulls, the body).

Formats GDAL reads well (GeoTIFF, ISIS3, ENVI, most PDS) are opened by path; PDS3 labels
(CRISM TRDR/MTRDR/MRDR, HiRISE EDR...) and PDS4 XML (CaSSIS) are described as a VRT XML
string by marsspec's own label readers, so every format is read by rasterio windows.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from marsspec.core.errors import DataFileError, InputError, RasterIOError
from marsspec.core.io.wavelengths import DEFAULT_MAX_DISTANCE_NM, BandChoice, select_band

LABEL_SUFFIXES = (".lbl", ".lbl.txt", ".LBL")


@dataclass
class Product:
    path: Path  # what the user named
    format: str  # "PDS3", "PDS4", "ENVI" or "GDAL/<driver>"
    source: str  # what rasterio.open() takes: a path or a VRT XML string
    width: int
    height: int
    count: int
    dtype: str
    band_names: list[str]
    wavelengths_nm: list[float | None]
    nodata: float | None
    scales: list[float]
    offsets: list[float]
    units: str
    crs: object  # rasterio CRS or None
    transform: object  # affine.Affine or None
    body: str
    product_type: str = ""
    wavelength_source: str = ""  # where the wavelengths came from
    warnings: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def open(self):
        """A rasterio dataset (use as a context manager); reads by windows like any raster."""
        import warnings

        import rasterio
        from rasterio.errors import NotGeoreferencedWarning

        from marsspec.core.io.reading import GDAL_ERRORS, gdal_message

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                return rasterio.open(self.source)
        except GDAL_ERRORS as error:
            raise RasterIOError(
                f"GDAL cannot open {self.path.name} ({gdal_message(error)}); the file or its "
                "data file may be missing, truncated or corrupt: re-download or re-export it."
            ) from error

    def read(self, bands=None, window=None) -> np.ma.MaskedArray:
        """Physical values (offset + DN x scale) as float32, nodata masked; bands 1-based.

        ISIS special values and non-finite numbers in float data are masked like nodata.
        """
        from marsspec.core.io.reading import reading
        from marsspec.core.io.special_values import valid_float_mask

        indexes = list(bands) if bands is not None else list(range(1, self.count + 1))
        with self.open() as dataset, reading(self.path, f"band(s) {indexes}"):
            raw = dataset.read(indexes, window=window)
        mask = ~valid_float_mask(raw)
        if self.nodata is not None:
            mask |= np.isclose(raw, self.nodata) if raw.dtype.kind == "f" else raw == self.nodata
        data = raw.astype(np.float32)
        for k, band in enumerate(indexes):
            data[k] = data[k] * np.float32(self.scales[band - 1]) + np.float32(
                self.offsets[band - 1]
            )
        return np.ma.MaskedArray(data, mask=mask)

    def band_for_wavelength(
        self, wavelength_nm: float, max_distance_nm: float = DEFAULT_MAX_DISTANCE_NM
    ) -> BandChoice:
        if all(w is None for w in self.wavelengths_nm):
            hint = f" ({'; '.join(self.warnings)})" if self.warnings else ""
            raise InputError(
                f"'{self.path.name}' has no band wavelengths{hint}; choose bands by number or "
                "supply the product's wavelength table."
            )
        return select_band(self.wavelengths_nm, wavelength_nm, max_distance_nm)

    def write_vrt(self, path: str | Path) -> Path:
        """Save the VRT shim (PDS3/PDS4 products) so QGIS or gdal tools can open it too."""
        if not self.source.lstrip().startswith("<VRTDataset"):
            raise InputError(f"'{self.path.name}' is opened directly by GDAL; no VRT is needed.")
        Path(path).write_text(self.source)
        return Path(path)


def find_label(path: Path) -> Path | None:
    """A detached PDS3 label next to a data file (any case, also '.lbl.txt')."""
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    for suffix in (".lbl", ".LBL", ".lbl.txt", ".LBL.txt"):
        candidate = path.with_name(stem + suffix)
        if candidate.exists():
            return candidate
    return None


def open_product(path: str | Path, *, strict: bool = False) -> Product:
    """Open ``path`` (data file or label). ``strict`` turns wavelength-table problems, which
    are otherwise reported in ``Product.warnings``, into InputError."""
    from marsspec.core.io.integrity import check_input_path

    path = Path(path)
    check_input_path(path, "Input")
    name = path.name.lower()
    if name.endswith(".xml"):
        from marsspec.core.io.pds4 import open_pds4

        return open_pds4(path)
    if name.endswith((".lbl", ".lbl.txt")):
        from marsspec.core.io.pds3_product import open_pds3

        return open_pds3(path, strict=strict)
    if name.endswith(".hdr"):
        return _open_gdal(_envi_data_file(path), path)
    label = find_label(path)
    if label is not None:
        from marsspec.core.io.pds3_product import open_pds3

        return open_pds3(label, strict=strict)
    if _has_attached_pds3_label(path):
        from marsspec.core.io.pds3_product import open_pds3

        return open_pds3(path, strict=strict)
    xml = path.with_suffix(".xml")
    if xml.exists() and path.suffix.lower() in (".dat", ".img"):
        from marsspec.core.io.pds4 import open_pds4

        return open_pds4(xml)
    return _open_gdal(path, None)


def _has_attached_pds3_label(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(64).lstrip().startswith((b"PDS_VERSION_ID", b"ODL_VERSION_ID"))
    except OSError:
        return False


def _envi_data_file(header: Path) -> Path:
    stem = header.with_suffix("")
    for candidate in (
        stem,
        *(stem.with_suffix(s) for s in (".img", ".IMG", ".dat", ".bsq", ".bil", ".bip", ".raw")),
    ):
        if candidate.exists() and candidate != header:
            return candidate

    raise DataFileError(
        f"No data file next to ENVI header {header.name} (looked for {stem.name}, .img, .dat, "
        "...); put the data file next to its header."
    )


def _open_gdal(path: Path, header: Path | None) -> Product:
    """GeoTIFF, ISIS3, ENVI, PDS... anything GDAL opens; wavelengths from band metadata."""
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    from marsspec.core.io.envi import envi_header_facts
    from marsspec.core.io.integrity import check_dataset
    from marsspec.core.io.mars_crs import crs_info
    from marsspec.core.io.reading import GDAL_ERRORS, gdal_message

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            dataset = rasterio.open(path)
    except GDAL_ERRORS as error:
        raise RasterIOError(
            f"Cannot read {path.name} as a raster ({gdal_message(error)}). Give a GDAL-readable "
            "raster (GeoTIFF, ENVI, ISIS3 cube, PDS3, VRT), a PDS3 label (.lbl) or a PDS4 label "
            "(.xml); a file of another kind renamed .tif is not one."
        ) from error
    with dataset:
        check_dataset(dataset, path)
        envi = {}
        hdr = header or next(
            (p for p in (path.with_suffix(".hdr"), Path(str(path) + ".hdr")) if p.exists()), None
        )
        if dataset.driver == "ENVI" and hdr is not None:
            envi = envi_header_facts(hdr)
        names = [d or "" for d in dataset.descriptions]
        names = envi.get("band_names") or names
        from marsspec.core.io.wavelengths import wavelength_from_band_name

        from_names = [wavelength_from_band_name(n) for n in names]
        wavelengths = envi.get("wavelengths_nm") or [
            _tag_wavelength(dataset.tags(i)) for i in range(1, dataset.count + 1)
        ]
        if all(w is None for w in wavelengths) and any(w is not None for w in from_names):
            wavelengths = from_names
        nodata = dataset.nodata if dataset.nodata is not None else envi.get("nodata")
        crs = dataset.crs
        if envi.get("crs") is not None and (crs is None or _is_local(crs)):
            crs = envi["crs"]  # GDAL turns some Mars 'projection info' into a LOCAL_CS
        georeferenced = crs is not None and not dataset.transform.is_identity
        scales = [float(s) for s in dataset.scales]
        offsets = [float(o) for o in dataset.offsets]
        notes: list[str] = []
        if dataset.driver == "ENVI":
            nodata, scales, offsets = _sibling_pds3_scaling(path, nodata, scales, offsets, notes)
        units = (dataset.units[0] or dataset.tags(1).get("units", "")) if dataset.count else ""
        return Product(
            path=path if header is None else header,
            format="ENVI" if dataset.driver == "ENVI" else f"GDAL/{dataset.driver}",
            source=str(path),
            width=dataset.width,
            height=dataset.height,
            count=dataset.count,
            dtype=dataset.dtypes[0],
            band_names=list(names),
            wavelengths_nm=list(wavelengths),
            nodata=None if nodata is None else float(nodata),
            scales=scales,
            offsets=offsets,
            units=units or "",
            crs=crs,
            transform=dataset.transform if georeferenced else None,
            body=crs_info(crs).body if crs is not None else "unknown",
            wavelength_source="band metadata" if any(w is not None for w in wavelengths) else "",
            warnings=notes,
        )


def _is_local(crs) -> bool:
    return crs.to_wkt().lstrip().upper().startswith(("LOCAL_CS", "ENGCRS", "ENGINEERINGCRS"))


def _sibling_pds3_scaling(path: Path, nodata, scales, offsets, notes):
    """CRISM browse products ship an ENVI .hdr *and* a PDS3 .lbl for one .img; only the label
    carries the per-band OFFSET/SCALING_FACTOR and the 255 null. Use them so the ENVI route
    gives the same reflectance as the PDS3 route."""
    label = find_label(path)
    if label is None:
        return nodata, scales, offsets
    from marsspec.core.io.pds3_product import open_pds3

    try:
        product = open_pds3(label)
    except (InputError, RasterIOError):
        return nodata, scales, offsets
    if product.count != len(scales) or product.width <= 0:
        return nodata, scales, offsets
    if product.scales == scales and product.offsets == offsets:
        return nodata, scales, offsets
    notes.append(
        f"per-band OFFSET/SCALING_FACTOR and nodata taken from the PDS3 label {label.name}"
    )
    return (
        (product.nodata if product.nodata is not None else nodata),
        product.scales,
        product.offsets,
    )


def _tag_wavelength(tags: dict[str, str]) -> float | None:
    """A band's wavelength in nm. ``WAVELENGTH_NM`` is nm by its name; ``wavelength`` is in
    ``wavelength_units`` (marsspec writes both, the latter in micrometers, for GDAL/QGIS)."""
    for key in ("WAVELENGTH_NM", "wavelength_nm"):
        if key in tags:
            with contextlib.suppress(ValueError):
                return float(tags[key])
    for key in ("wavelength", "WAVELENGTH"):
        if key in tags:
            with contextlib.suppress(ValueError):
                value = float(tags[key])
                units = tags.get("wavelength_units", tags.get("WAVELENGTH_UNITS", "nm")).lower()
                if units.startswith("micro") or units in ("um", "µm") or value < 20:
                    value *= 1000.0
                return value
    return None
