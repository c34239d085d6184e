"""The reader: strips of the input, cut into padded patches, grouped into batches.

:func:`read_batches` opens its own rasterio dataset (datasets must not be shared between
threads), reads one strip of ``d`` rows per row of patches (only the rows the previous strip
did not already hold), and mirrors it where the raster is smaller than a patch.
Two ways to run it (:func:`make_reader` picks): :class:`BatchReader`, a thread that hands
batches to the model thread through a small bounded queue, so reading overlaps the forward
passes while at most ``prefetch`` batches and one strip are held; and :class:`InlineReader`,
which reads each batch in the calling thread when it is asked for. On a CPU whose cores the
forward pass already fills, a thread has nothing to overlap: reading costs the same CPU
either way, so the simpler inline path is used there (docs/tiling.md, "Reader").
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import MaskFlags
from rasterio.windows import Window

from marsspec.core.io.opening import open_raster
from marsspec.core.io.reading import reading, window_text
from marsspec.core.io.special_values import valid_float_mask
from marsspec.core.tiling.plan import Patch, TilePlan, reflect_indices

_DONE = object()


@dataclass
class PatchBatch:
    """Up to ``batch_size`` patches; ``data`` holds only those that need a forward pass."""

    patches: list[Patch]
    data: np.ndarray  # (n_run, bands, size, size) float32, nodata filled
    run: np.ndarray  # bool per patch: False = all nodata, skipped
    # (first raster row, validity of the rows that become final once that tile row is done)
    masks: list[tuple[int, np.ndarray]] = field(default_factory=list)


def _read_rows(
    src: rasterio.io.DatasetReader, bands: Sequence[int], lo: int, hi: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Raster rows ``[lo, hi)`` of the bands as float32, and where they are valid.

    A pixel is invalid if any band is nodata, masked, not finite or an ISIS special value
    (core/io/special_values.py). Integers of any width are converted straight to float32
    (exact up to 2^24), never through 8 bits. A GDAL read error (a truncated file) becomes a
    RasterIOError naming the file (a reader thread hands it to the consumer, which re-raises).
    """
    return _read_window(src, bands, Window(0, lo, width, hi - lo))


def _read_window(
    src: rasterio.io.DatasetReader, bands: Sequence[int], window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_read_rows` for any window: float32 data and where every band is valid."""
    with reading(src.name, window_text(window)):
        data = src.read(list(bands), window=window, out_dtype="float32")
        masks = src.read_masks(list(bands), window=window) if _has_masks(src, bands) else None
    # Integers converted to float32 are always finite and far below ISIS's special range, and
    # a band without nodata, mask or alpha is valid everywhere: both checks are skipped then
    # (a plain uint16 CTX product needs neither).
    if _is_float(src, bands):
        valid = np.all(valid_float_mask(data), axis=0)
        if masks is not None:
            valid &= np.all(masks != 0, axis=0)
    elif masks is not None:
        valid = np.all(masks != 0, axis=0)
    else:
        valid = np.ones(data.shape[1:], bool)
    return data, valid


def _has_masks(src: rasterio.io.DatasetReader, bands: Sequence[int]) -> bool:
    """False when GDAL says every pixel of these bands is valid (no nodata, mask or alpha)."""
    flags = src.mask_flag_enums
    return any(flags[b - 1] != [MaskFlags.all_valid] for b in bands)


def _is_float(src: rasterio.io.DatasetReader, bands: Sequence[int]) -> bool:
    return any(np.dtype(src.dtypes[b - 1]).kind in "fc" for b in bands)


class StripReader:
    """Strips of ``size`` rows, one per row of patches, each read from disk only once.

    Consecutive strips overlap by ``size - stride`` rows (``s - 1`` of every ``s``); those rows
    are kept from the previous strip and only the new ones are read, so each raster row is
    decoded once (not ``s`` times) without relying on GDAL's block cache, whose size would
    otherwise count against the memory budget.
    """

    def __init__(self, src: rasterio.io.DatasetReader, plan: TilePlan, bands: Sequence[int]):
        self.src = src
        self.plan = plan
        self.bands = tuple(bands)
        self._row = -1
        self._data: np.ndarray | None = None
        self._valid: np.ndarray | None = None

    def strip(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """``(data, valid)`` of shapes ``(bands, size, padded_width)``, ``(size, padded_width)``.

        Rows below and columns right of the raster (only for axes shorter than ``size``) are
        mirrored.
        """
        plan = self.plan
        if plan.height <= plan.size:  # a single row of patches: read it whole, mirror the rest
            rows = reflect_indices(row, row + plan.size, plan.height)
            data, valid = _read_rows(self.src, self.bands, 0, plan.height, plan.width)
            data, valid = data[:, rows], valid[rows]
        elif self._data is not None and self._row < row < self._row + plan.size:
            keep = self._row + plan.size - row
            new_data, new_valid = _read_rows(
                self.src, self.bands, self._row + plan.size, row + plan.size, plan.width
            )
            data = np.concatenate([self._data[:, -keep:, : plan.width], new_data], axis=1)
            valid = np.concatenate([self._valid[-keep:, : plan.width], new_valid], axis=0)
        else:
            data, valid = _read_rows(self.src, self.bands, row, row + plan.size, plan.width)
        if plan.padded_width > plan.width:
            cols = reflect_indices(0, plan.padded_width, plan.width)
            data, valid = data[:, :, cols], valid[:, cols]
        self._row, self._data, self._valid = row, data, valid
        return data, valid


def _fill_nodata(patch: np.ndarray, valid: np.ndarray) -> None:
    """Replace nodata pixels by the patch's mean of valid pixels, band by band, in place.

    A constant fill would put a false edge in front of the network; the valid mean is the
    blandest value it can see. Those pixels are nodata in the output anyway.
    """
    invalid = ~valid
    for band in patch:
        band[invalid] = band[valid].mean(dtype=np.float64)


def read_patch(
    src: rasterio.io.DatasetReader, plan: TilePlan, bands: Sequence[int], patch: Patch
) -> tuple[np.ndarray, np.ndarray, bool]:
    """One patch exactly as :class:`BatchReader` hands it to the model, read on its own.

    Returns ``(data, valid, needed)``: the ``(bands, size, size)`` float32 patch with nodata
    filled, its validity, and whether the engine runs it (False: all nodata, skipped). The
    strips the engine reads hold the same pixels (rows ``[row, row + size)``, an axis shorter
    than the patch mirrored), so this is the engine's input for that patch, for callers that
    need a few patches and not the raster (the pixel inspector).
    """
    size = plan.size
    rows = reflect_indices(patch.row, patch.row + size, plan.height)
    cols = reflect_indices(patch.col, patch.col + size, plan.width)
    r0, c0 = int(rows.min()), int(cols.min())
    window = Window(c0, r0, int(cols.max()) - c0 + 1, int(rows.max()) - r0 + 1)
    data, valid = _read_window(src, bands, window)
    data = np.ascontiguousarray(data[:, rows - r0][:, :, cols - c0], dtype=np.float32)
    valid = valid[rows - r0][:, cols - c0]
    inside_rows = min(size, plan.height - patch.row)
    needed = bool(valid[:inside_rows, : min(size, plan.width - patch.col)].any())
    if needed and not valid.all():
        _fill_nodata(data, valid)
    return data, valid, needed


class BatchReader(threading.Thread):
    """Produces :class:`PatchBatch` objects in plan order on a bounded queue."""

    def __init__(
        self, path: Path, plan: TilePlan, bands: Sequence[int], batch_size: int, prefetch: int
    ) -> None:
        super().__init__(name="marsspec-tile-reader", daemon=True)
        self.path = path
        self.plan = plan
        self.bands = tuple(bands)
        self.batch_size = batch_size
        self.queue: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        self.stop = threading.Event()

    # -- consumer side ----------------------------------------------------------------------
    def batches(self):
        """Yield batches until the plan is exhausted; re-raises the reader's error, if any."""
        while True:
            item = self.queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the thread and wait for it (used on success, cancel and error alike)."""
        self.stop.set()
        while self.is_alive():
            with contextlib.suppress(queue.Empty):
                self.queue.get(timeout=0.05)
        self.join()

    # -- producer side ----------------------------------------------------------------------
    def _put(self, item: object) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            with contextlib.closing(
                read_batches(self.path, self.plan, self.bands, self.batch_size)
            ) as batches:
                for item in batches:
                    if not self._put(item):
                        return
            self._put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)


class InlineReader:
    """The same batches as :class:`BatchReader`, read in the calling thread when it asks."""

    def __init__(self, path: Path, plan: TilePlan, bands: Sequence[int], batch_size: int) -> None:
        self._batches = read_batches(path, plan, bands, batch_size)

    def start(self) -> None:
        """Nothing to start: reading happens in :meth:`batches`."""

    def batches(self) -> Iterator[PatchBatch]:
        yield from self._batches

    def close(self) -> None:
        self._batches.close()  # closes the dataset if the run stopped early


def make_reader(
    path: Path,
    plan: TilePlan,
    bands: Sequence[int],
    batch_size: int,
    *,
    prefetch: int,
    thread: bool,
) -> BatchReader | InlineReader:
    """A reader thread with ``prefetch`` batches read ahead, or reading in the calling thread."""
    if thread:
        return BatchReader(path, plan, bands, batch_size, prefetch)
    return InlineReader(path, plan, bands, batch_size)


def read_batches(
    path: Path, plan: TilePlan, bands: Sequence[int], batch_size: int
) -> Iterator[PatchBatch]:
    """Yield the plan's :class:`PatchBatch` objects in order, reading one strip at a time."""
    size = plan.size
    bands = tuple(bands)

    def new_batch() -> tuple[list[Patch], np.ndarray, list[bool], list]:
        return [], np.empty((batch_size, len(bands), size, size), np.float32), [], []

    with open_raster(path) as src:
        patches, buffer, run, masks = new_batch()
        n_run = 0
        index = 0
        cols = plan.col_origins
        strips = StripReader(src, plan, bands)
        for tile_row, row in enumerate(plan.row_origins):
            data, valid = strips.strip(row)
            inside_rows = min(size, plan.height - row)
            masks.append((row, valid[: plan.final_rows_after(tile_row) - row, : plan.width]))
            all_valid = bool(valid.all())  # the usual case: no per-patch checks
            for col in cols:
                patch = Patch(index, tile_row, row, col, size)
                index += 1
                patch_valid = valid[:, col : col + size]
                inside = patch_valid[:inside_rows, : min(size, plan.width - col)]
                needed = all_valid or bool(inside.any())
                if needed:
                    target = buffer[n_run]
                    target[...] = data[:, :, col : col + size]
                    if not all_valid and not patch_valid.all():
                        _fill_nodata(target, patch_valid)
                    n_run += 1
                patches.append(patch)
                run.append(needed)
                if len(patches) == batch_size:
                    yield PatchBatch(patches, buffer[:n_run], np.array(run), masks)
                    patches, buffer, run, masks = new_batch()
                    n_run = 0
        if patches:
            yield PatchBatch(patches, buffer[:n_run], np.array(run), masks)
