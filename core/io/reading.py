"""GDAL read errors as one marsspec error that names the file and the fix.

rasterio reports a failed read in three unrelated ways: ``RasterioIOError`` (which in rasterio
1.3 derives from ``OSError`` only, not from ``RasterioError``), ``RasterioError`` and GDAL's
own ``CPLE_*`` classes. A truncated or corrupt file often opens fine and fails only when a
block is decoded, deep in a reader thread or a statistics pass; every such read goes through
:func:`reading`, so the user sees one line instead of a stack.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import rasterio
import rasterio.env
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError, RasterioIOError

from marsspec.core.errors import RasterIOError

GDAL_ERRORS: tuple[type[BaseException], ...] = (RasterioIOError, RasterioError, CPLE_BaseError)
"""Everything rasterio raises when GDAL cannot open a file."""

READ_ERRORS: tuple[type[BaseException], ...] = (RasterioIOError, CPLE_BaseError)
"""What a failed block read raises (not RasterioError, whose subclasses such as WindowError
are programming errors and must not be reported as a corrupt file)."""


def gdal_message(error: BaseException) -> str:
    """GDAL's message on one line (GDAL sometimes chains several)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def gdal_dataset(make: Callable[[], object], what: str, fix: str) -> object:
    """Run a GDAL utility call (Translate, Warp, BuildVRT) and return its dataset. GDAL
    reports failure either by raising or by returning None with a logged message; both become
    one :class:`RasterIOError`: "GDAL could not <what> (<GDAL's message>); <fix>"."""
    from osgeo import gdal

    try:
        dataset = make()
    except RuntimeError as exc:  # GDAL with exceptions enabled
        dataset, message = None, str(exc)
    except ValueError as exc:  # "Received a NULL pointer": a source given by name did not open
        dataset, message = None, gdal.GetLastErrorMsg() or str(exc)
    else:
        message = gdal.GetLastErrorMsg()
    if dataset is None:
        detail = " ".join(message.split()) or "no message"
        raise RasterIOError(f"GDAL could not {what} ({detail}); {fix}")
    return dataset


def file_name(path: object) -> str:
    """The file's name for a message (a VRT XML source is not a path: say so)."""
    text = str(path)
    if text.lstrip().startswith("<"):
        return "the product's VRT"
    return Path(text).name or text


def read_error(path: object, what: str, error: BaseException) -> RasterIOError:
    """The RasterIOError for a failed read of ``what`` ("rows 0-512", "a decimated copy")."""
    return RasterIOError(
        f"GDAL cannot read {what} of {file_name(path)} ({gdal_message(error)}); the file may be "
        "truncated or corrupt: re-download or re-export it."
    )


@contextmanager
def reading(path: object, what: str = "a block/window") -> Iterator[None]:
    """Turn a GDAL read error raised inside the block into :func:`read_error`.

    Outside a rasterio Env (a reader thread, a statistics pass) GDAL would also print its own
    "ERROR 1: ..." lines on stderr; a short-lived Env routes them to Python logging instead,
    so the user sees only the one marsspec line.
    """
    with contextlib.ExitStack() as stack:
        if not rasterio.env.hasenv():
            stack.enter_context(rasterio.Env())
        try:
            yield
        except READ_ERRORS as error:
            raise read_error(path, what, error) from error


def window_text(window) -> str:
    """'rows 0-511, columns 0-1023' for a rasterio Window (what a read error names)."""
    row, col = int(window.row_off), int(window.col_off)
    return (
        f"the window of rows {row}-{row + int(window.height) - 1}, "
        f"columns {col}-{col + int(window.width) - 1}"
    )
