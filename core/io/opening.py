"""Opening a raster the user named, with errors that say what is wrong and how to fix it.

The engine, both jobs and the DEM stack all start by opening a user's raster; one place decides
what a missing path, a folder, an empty, truncated or unrecognised file tells the user.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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
