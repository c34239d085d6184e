"""One block on a worker: a window of the input, the unchanged job on it, the interior kept.

The window is a VRT (XML only) over the input; the job (``core.jobs.run``) predicts it into a
scratch folder on the worker's local disk, exactly as it would a whole raster, and the block's
interior is copied into the block's own tiled GeoTIFF through an
:class:`~marsspec.core.io.safety.OutputSet` (staged, renamed when complete), so a worker killed
mid-block leaves no block file behind and the rerun starts clean.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from marsspec.core.errors import InputError
from marsspec.core.io.opening import job_input, open_raster
from marsspec.core.io.reading import gdal_dataset
from marsspec.core.io.safety import OutputSet, create_raster
from marsspec.core.scaleout.layout import Block
from marsspec.core.scaleout.products import Prepared, block_request

STRIP_ROWS = 512  # output rows copied at a time: bounded memory for any block size


@dataclass(frozen=True)
class BlockTask:
    """Everything a worker needs for one block (picklable, no open handles)."""

    product: str
    prepared: Prepared
    block: Block
    layout_tags: dict[str, str] = field(default_factory=dict)
    run_id: str = ""
    threads: int | None = None


@dataclass(frozen=True)
class BlockReport:
    """What a finished block reports back to the driver (for the manifest and the benchmark)."""

    product: str
    name: str
    seconds: float  # wall time of the task on the worker
    job_seconds: float  # of which the job itself (tiling engine, including reading)
    pixels: int
    read_pixels: int
    peak_rss_mb: float
    worker: str = ""
    started: float = 0.0  # wall clock (time.time) on the worker: the benchmark's task stream
    finished: float = 0.0


def run_block(
    task: BlockTask,
    *,
    progress: Callable[[float], object] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> BlockReport:
    """Predict one block and write its interior into each output's block GeoTIFF."""
    from marsspec.core.jobs import run as run_job

    started, wall_start = time.perf_counter(), time.time()
    if task.threads:
        import torch

        torch.set_num_threads(task.threads)
    prepared, block = task.prepared, task.block
    source = prepared.source
    scratch = Path(tempfile.mkdtemp(prefix=f"marsspec-block-{block.name}-"))
    try:
        outputs = {o.key: scratch / f"{o.key.lower()}.tif" for o in prepared.outputs}
        with job_input(source, **prepared.opening) as opened:
            if prepared.layout.single:  # the whole raster: the job on the input itself
                window = source
            else:
                window = window_vrt(opened.path, block, scratch / "window.vrt")
            job_request = block_request(prepared, window, outputs)
            job_started = time.perf_counter()
            try:
                result = run_job(job_request, progress=progress, cancel=cancel)
            except InputError:
                if has_valid_pixel(window, _bands(prepared)):
                    raise
                result = None  # an all-nodata block (a mosaic's empty corner): NaN, not an error
            job_seconds = time.perf_counter() - job_started
            tags = {**task.layout_tags, **prepared.tags, "MARSSPEC_BLOCK": _block_tag(block)}
            finals = {o.key: o.block_path(block.name) for o in prepared.outputs}
            with OutputSet(finals, inputs=[source]) as staged:
                for out in prepared.outputs:
                    target = staged.temp(out.key)
                    if result is None:
                        write_empty(target, out, block, opened.path, tags)
                    else:
                        copy_interior(outputs[out.key], target, out.scale, block, tags)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return BlockReport(
        task.product,
        block.name,
        time.perf_counter() - started,
        job_seconds,
        block.pixels,
        block.read_pixels,
        peak,
        started=wall_start,
        finished=time.time(),
    )


def _bands(prepared: Prepared) -> tuple[int, ...]:
    template = prepared.template
    if prepared.kind == "spectral":
        return (template.band or 1,)
    return tuple(template.config.bands or (1,))


def _block_tag(block: Block) -> str:
    return (
        f"row {block.row} col {block.col}: rows {block.rows.start}-{block.rows.stop}, "
        f"cols {block.cols.start}-{block.cols.stop} of the input, read rows "
        f"{block.rows.read_start}-{block.rows.read_stop}, cols "
        f"{block.cols.read_start}-{block.cols.read_stop}"
    )


def window_vrt(path: str | os.PathLike[str], block: Block, out: Path) -> Path:
    """A VRT of ``block``'s read window of ``path`` (same bands, nodata, CRS; shifted origin)."""
    from osgeo import gdal

    rows, cols = block.rows, block.cols
    options = gdal.TranslateOptions(
        format="VRT",
        srcWin=[
            cols.read_start,
            rows.read_start,
            cols.read_stop - cols.read_start,
            rows.read_stop - rows.read_start,
        ],
    )
    dataset = gdal_dataset(
        lambda: gdal.Translate(str(out), str(path), options=options),
        f"make the window of block {block.name} of {Path(path).name}",
        "check that the input is readable from this worker.",
    )
    del dataset  # closing writes the VRT
    return out


def has_valid_pixel(path: str | os.PathLike[str], bands: tuple[int, ...]) -> bool:
    """True when some pixel of ``path`` is valid in every band of ``bands`` (read by strips)."""
    from rasterio.windows import Window

    from marsspec.core.io.special_values import valid_float_mask

    with open_raster(path) as src:
        for row in range(0, src.height, STRIP_ROWS):
            window = Window(0, row, src.width, min(STRIP_ROWS, src.height - row))
            data = src.read(list(bands), window=window)
            masks = src.read_masks(list(bands), window=window)
            valid = np.all(masks != 0, axis=0) & np.all(valid_float_mask(data), axis=0)
            if valid.any():
                return True
    return False


def _interior(block: Block, scale: int):
    """The block's interior inside its window output, in output pixels."""
    from rasterio.windows import Window

    return Window(
        (block.cols.start - block.cols.read_start) * scale,
        (block.rows.start - block.rows.read_start) * scale,
        (block.cols.stop - block.cols.start) * scale,
        (block.rows.stop - block.rows.start) * scale,
    )


def copy_interior(
    source: Path, target: Path, scale: int, block: Block, tags: dict[str, str]
) -> None:
    """Copy the interior of the window output ``source`` into the staged block ``target``."""
    from rasterio.windows import Window

    interior = _interior(block, scale)
    with open_raster(source) as src:
        profile = {
            **src.profile,
            "width": int(interior.width),
            "height": int(interior.height),
            "transform": src.window_transform(interior),
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "bigtiff": "IF_SAFER",
        }
        with create_raster(target, **profile) as dst:
            for row in range(0, int(interior.height), STRIP_ROWS):
                n = min(STRIP_ROWS, int(interior.height) - row)
                read = Window(interior.col_off, interior.row_off + row, interior.width, n)
                dst.write(src.read(window=read), window=Window(0, row, interior.width, n))
            dst.update_tags(**{**src.tags(), **tags})
            for band in range(1, src.count + 1):
                if src.descriptions[band - 1]:
                    dst.set_band_description(band, src.descriptions[band - 1])
                dst.update_tags(band, **src.tags(band))


def write_empty(target: Path, out, block: Block, input_path, tags: dict[str, str]) -> None:
    """An all-NaN block (no valid input pixel): same grid as a predicted block would have."""
    from affine import Affine
    from rasterio.windows import Window

    with open_raster(input_path) as src:
        crs = src.crs
        transform = src.transform * Affine.translation(block.cols.start, block.rows.start)
    transform = transform * Affine.scale(1 / out.scale)
    width = (block.cols.stop - block.cols.start) * out.scale
    height = (block.rows.stop - block.rows.start) * out.scale
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": out.bands,
        "dtype": "float32",
        "nodata": float("nan"),
        "crs": crs,
        "transform": transform,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "zstd",
        "bigtiff": "IF_SAFER",
    }
    with create_raster(target, **profile) as dst:
        for row in range(0, height, STRIP_ROWS):
            n = min(STRIP_ROWS, height - row)
            empty = np.full((out.bands, n, width), np.nan, np.float32)
            dst.write(empty, window=Window(0, row, width, n))
        dst.update_tags(**tags, MARSSPEC_BLOCK_EMPTY="true (no valid input pixel)")
