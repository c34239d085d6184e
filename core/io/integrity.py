"""Refuse a broken input file when it is opened, before any output exists.

GDAL opens many broken files without complaint: a folder, a GeoTIFF cut short by a failed
download (the header is intact, the blocks are missing), an ENVI header whose sizes do not
match its data. The first would fail with a stack, the second only deep inside a run, the last
would silently read shifted or zero pixels. These checks cost a few metadata look-ups.
"""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

from marsspec.core.errors import InputError, RasterIOError

MAX_BLOCKS = 250_000  # about 0.25 s of GDAL metadata calls per band; beyond: the last blocks


def is_gdal_virtual(path: str | os.PathLike[str]) -> bool:
    """A GDAL virtual file system path (``/vsis3/bucket/key``, ``/vsizip/{/a.zip}/b.tif``...),
    which GDAL reads but the operating system does not know."""
    return os.fspath(path).startswith("/vsi")


# GDAL network file systems: reading waits on the network (the tiling engine then reads on a
# thread, core/tiling/engine.py::uses_reader_thread).
_REMOTE_PREFIXES = (
    "/vsicurl",
    "/vsis3",
    "/vsigs",
    "/vsiaz",
    "/vsiadls",
    "/vsioss",
    "/vsiswift",
    "/vsihdfs",
    "/vsiwebhdfs",
)


def reads_from_network(path: str | os.PathLike[str]) -> bool:
    """True for a GDAL network path, also inside an archive (``/vsizip//vsicurl/...``)."""
    text = os.fspath(path)
    return any(prefix in text for prefix in _REMOTE_PREFIXES)


def check_input_path(path: Path, what: str = "Input raster") -> None:
    """A missing path, a folder, an empty or unreadable file: refused by name, with the fix."""
    if is_gdal_virtual(path):
        _check_virtual_path(path, what)
        return
    if not path.exists():
        raise InputError(f"{what} {str(path)!r} does not exist; check the path.")
    if path.is_dir():
        raise InputError(
            f"{what} {str(path)!r} is a folder, not a raster file; give the raster file itself."
        )
    if path.stat().st_size == 0:
        raise InputError(
            f"{what} {path.name} is empty (0 bytes): the download or export did not finish. "
            "Re-download or re-export it."
        )
    if not os.access(path, os.R_OK):
        raise RasterIOError(
            f"{what} {path.name} is not readable by this user; fix its permissions (chmod +r)."
        )


def _check_virtual_path(path: Path, what: str) -> None:
    """GDAL's own ``VSIStatL`` says whether a virtual path exists (object storage: one request)."""
    from osgeo import gdal

    text = os.fspath(path)
    if gdal.VSIStatL(text) is None:
        raise InputError(
            f"{what} {text!r} does not exist or cannot be reached through GDAL; check the path "
            "and, for object storage, the credentials GDAL reads (AWS_*, GS_*, AZURE_*). Write "
            "an archive's absolute path in braces, /vsizip/{/data/a.zip}/b.tif, and a URL as "
            "/vsicurl?url=https%3A%2F%2F...: a path keeps single slashes only."
        )


def check_dataset(src, path: Path) -> None:
    """Format-specific size checks of an opened rasterio dataset (GeoTIFF blocks, ENVI)."""
    if src.driver == "GTiff":
        _check_tiff_blocks(src, path)
    elif src.driver == "ENVI":
        files = [Path(f) for f in (src.files or [])]
        header = next((f for f in files if f.suffix.lower() == ".hdr"), None)
        data = Path(src.name)
        if header is not None and data.is_file():
            from marsspec.core.io.envi import check_envi_size

            check_envi_size(header, data)


def _check_tiff_blocks(src, path: Path) -> None:
    """Every block of a GeoTIFF must lie inside the file; a cut download fails here."""
    from marsspec.core.io.reading import GDAL_ERRORS

    try:
        size = Path(src.name).stat().st_size
        block_h, block_w = src.block_shapes[0]
    except (OSError, IndexError, ValueError):
        return
    nx, ny = math.ceil(src.width / block_w), math.ceil(src.height / block_h)
    bands = sorted({1, src.count})
    end = 0
    try:
        for band in bands:
            if nx * ny <= MAX_BLOCKS:
                blocks = itertools.product(range(nx), range(ny))
            else:
                blocks = iter([(nx - 1, ny - 1), (0, ny - 1)])
            for x, y in blocks:
                offset = src.get_tag_item(f"BLOCK_OFFSET_{x}_{y}", "TIFF", bidx=band)
                length = src.get_tag_item(f"BLOCK_SIZE_{x}_{y}", "TIFF", bidx=band)
                if offset and length:  # sparse blocks have neither
                    end = max(end, int(offset) + int(length))
    except (*GDAL_ERRORS, ValueError):  # a TIFF variant without block metadata: reads decide
        return
    if end > size:
        raise RasterIOError(
            f"{path.name} is truncated: its image blocks need {end:,} bytes but the file has "
            f"{size:,}. Re-download or re-export it."
        )
