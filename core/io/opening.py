"""Opening a raster the user named, with errors that say what is wrong and how to fix it.

The engine, both jobs and the DEM stack all start by opening a user's raster; one place decides
what a missing path, a folder, an empty, truncated or unrecognised file tells the user.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import rasterio

from marsspec.core.errors import DataFileError, InputError, MarsspecError, RasterIOError
from marsspec.core.io.integrity import check_dataset, check_input_path
from marsspec.core.io.reading import GDAL_ERRORS, gdal_message

LABEL_SUFFIXES = (".lbl", ".lbl.txt", ".xml")
LABEL_DRIVERS = ("PDS", "PDS4")


@contextmanager
def open_raster(path: str | Path, what: str = "Input raster") -> Iterator[rasterio.DatasetReader]:
    """``rasterio.open`` for reading; ``what`` names the raster in messages ("The DEM").

    Non-georeferenced inputs open quietly: the callers decide whether that matters.
    """
    path = Path(path)
    check_input_path(path, what)
    if path.suffix.lower() == ".hdr":
        raise InputError(
            f"{what} {path.name} is an ENVI header; give its data file (the .img/.dat next to "
            "it) instead: GDAL finds the header from the data file."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            src = rasterio.open(path)
    except GDAL_ERRORS as exc:
        _explain_label(path)
        raise RasterIOError(
            f"GDAL cannot open {what[0].lower()}{what[1:]} {path.name} ({gdal_message(exc)}); "
            "give a raster in a format GDAL reads (GeoTIFF, ENVI, ISIS3 cube, PDS, VRT): a "
            "file of another kind renamed .tif is not one. Re-export or re-download it."
        ) from exc
    with src:
        check_dataset(src, path)
        if src.driver in LABEL_DRIVERS:
            _check_label_data(path)
        yield src


def _is_label(path: Path) -> bool:
    return path.name.lower().endswith(LABEL_SUFFIXES)


def _explain_label(path: Path) -> None:
    """GDAL refused a PDS label: marsspec's own reader names the missing or short data file."""
    if not _is_label(path):
        return
    from marsspec.core.io.product import open_product

    try:
        open_product(path)
    except MarsspecError:
        raise
    except Exception:  # not a label marsspec reads either: GDAL's message is the best one
        return


def _check_label_data(path: Path) -> None:
    """A PDS label GDAL opened may still point past its data (GDAL fails only when reading)."""
    if not _is_label(path):
        return
    from marsspec.core.io.product import open_product

    try:
        open_product(path)
    except DataFileError:
        raise
    except MarsspecError:  # a label marsspec's reader does not support: GDAL's view stands
        return


# ---- the one way a job opens its input --------------------------------------------------------
NO_CRS_FIX = (
    "give it one: --assume-crs mars --pixel-size M (M = metres per pixel; ASSUME_CRS=mars and "
    "PIXEL_SIZE in QGIS), or write a georeferenced copy first with marsspec georef IN OUT "
    "--body mars --pixel-size M"
)


@dataclass
class JobInput:
    """What a job reads: ``path`` is a file GDAL and the tiling engine open (the user's file,
    or a VRT in a temporary folder for PDS3/PDS4 labels and assumed CRSs); ``product`` the
    product's facts (:class:`~marsspec.core.io.product.Product`); ``user_path`` what the user
    named (the provenance names it); ``tags`` go into every output (the assumed CRS)."""

    path: Path
    product: object  # marsspec.core.io.product.Product
    user_path: Path
    georeferenced: bool
    assumed: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __iter__(self):  # path, product = job_input(...)
        return iter((self.path, self.product))


@contextmanager
def job_input(
    path: str | Path,
    *,
    what: str = "Input raster",
    assume_crs: str | None = None,
    pixel_size: float | None = None,
    centre: tuple[float, float] | None = None,
    require_crs: bool = True,
) -> Iterator[JobInput]:
    """Open ``path`` as ``describe`` does (GeoTIFF, VRT, ENVI, ISIS3, CRISM PDS3 attached or
    detached labels, CaSSIS PDS4 ``.xml``/``.dat``, PNG/JPEG) and yield a :class:`JobInput`.

    A raster without a CRS is refused (``require_crs``) unless ``assume_crs`` is "mars" with a
    ``pixel_size``: it is then read through a VRT with a Mars equirectangular CRS (see
    :mod:`marsspec.core.io.georef`). Raises marsspec errors only; the temporary folder is
    removed on leaving the block.
    """
    import tempfile

    from marsspec.core.io.georef import AssumedGrid, check_assumption, write_georef_vrt
    from marsspec.core.io.product import open_product

    user_path = Path(path)
    assume = check_assumption(assume_crs, pixel_size)
    try:
        product = open_product(user_path)
    except MarsspecError:
        raise
    except GDAL_ERRORS as error:
        raise RasterIOError(
            f"GDAL cannot open {what[0].lower()}{what[1:]} {user_path.name} "
            f"({gdal_message(error)}); give a raster describe reads (GeoTIFF, VRT, ENVI, ISIS3 "
            "cube, PDS3/PDS4 label, PNG/JPEG): re-export or re-download it."
        ) from error
    except Exception as error:  # a label or header marsspec cannot parse: one line, not a stack
        raise InputError(
            f"{what} {user_path.name} cannot be read as a product ({type(error).__name__}: "
            f"{error}); check it with marsspec describe, or convert it to a GeoTIFF."
        ) from error
    with tempfile.TemporaryDirectory(prefix="marsspec-input-") as folder:
        source = product.source
        if source.lstrip().startswith("<VRTDataset"):
            readable = Path(folder) / f"{_safe_stem(user_path)}.vrt"
            readable.write_text(source, encoding="utf-8")
        else:
            readable = Path(source)
        with open_raster(readable, what) as src:
            crs, transform, gcps = src.crs, src.transform, src.gcps[0]
            width, height = src.width, src.height
        georeferenced = crs is not None and not transform.is_identity
        notes: list[str] = []
        if (
            product.crs is not None
            and product.transform is not None
            and (not georeferenced or _local(crs))
        ):  # marsspec read the CRS from a header GDAL misreads (ENVI map info on Mars)
            readable = write_georef_vrt(
                readable, Path(folder) / "with_crs.vrt", product.crs, product.transform
            )
            georeferenced = True
        opened = JobInput(readable, product, user_path, georeferenced, notes=notes)
        if not georeferenced and gcps:
            raise InputError(
                f"{user_path.name} is georeferenced by ground control points only; warp it "
                "to a map grid first (gdalwarp / Raster > Projections > Warp), then run this."
            )
        if georeferenced and assume:
            notes.append(
                f"{user_path.name} has its own CRS; the assumed Mars CRS and pixel size are "
                "not used."
            )
        elif not georeferenced and assume:
            grid = AssumedGrid(float(pixel_size), width, height, centre)
            opened.path = write_georef_vrt(
                readable, Path(folder) / "assumed_crs.vrt", grid.crs, grid.transform
            )
            opened.georeferenced = opened.assumed = True
            opened.tags = grid.tags()
            notes.append(
                f"{user_path.name} has no CRS; assumed Mars equirectangular at "
                f"{float(pixel_size):g} m/px as asked (the outputs' tags say so)."
            )
        elif not georeferenced and require_crs:
            raise InputError(
                f"{user_path.name} has no CRS (not map-projected), so its pixels have no place "
                f"or scale on Mars; {NO_CRS_FIX}."
            )
        yield opened


def _local(crs) -> bool:
    return crs is not None and crs.to_wkt().lstrip().upper().startswith(
        ("LOCAL_CS", "ENGCRS", "ENGINEERINGCRS")
    )


def _safe_stem(path: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in path.stem)
    return stem or "input"
