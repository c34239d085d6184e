"""Opening a raster the user named, with errors that say what is wrong and how to fix it.

The engine, both jobs and the DEM stack all start by opening a user's raster; one place decides
what a missing path or a file GDAL cannot read tells the user.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import rasterio

from marsspec.core.errors import InputError, RasterIOError


@contextmanager
def open_raster(path: str | Path, what: str = "Input raster") -> Iterator[rasterio.DatasetReader]:
    """``rasterio.open`` for reading; ``what`` names the raster in messages ("The DEM").

    Non-georeferenced inputs open quietly: the callers decide whether that matters.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} {str(path)!r} does not exist; check the path.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            src = rasterio.open(path)
    except rasterio.errors.RasterioError as exc:
        raise RasterIOError(
            f"GDAL cannot open {what[0].lower()}{what[1:]} {path.name} ({exc}); is it a raster "
            "in a format GDAL reads?"
        ) from exc
    with src:
        yield src
