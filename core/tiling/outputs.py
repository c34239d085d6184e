"""What a tiled run writes: output specifications and the row-streaming GeoTIFF sink.

One forward pass can feed several outputs (reconstructed bands *and* a confidence raster):
each :class:`OutputSpec` picks its part of the predictor's result (``source`` for a tuple or
dict result, ``channels`` for a channel subset) and says how to write it. The sink receives
finished rows strictly top to bottom and writes whole block-rows of a tiled GeoTIFF, so the
file is written once, block by block, never re-read or re-compressed.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from marsspec.core.errors import InputError, RasterIOError
from marsspec.core.io.safety import check_writes, create_raster

COMPRESSIONS = ("zstd", "deflate", "lzw", "none")


@dataclass(frozen=True)
class OutputSpec:
    """One output raster of a tiled run.

    ``scale`` is the model's upscaling factor: the predictor returns ``d*scale`` pixels per
    patch edge and the output's transform is the input's scaled by ``1/scale``. ``nodata``
    defaults to NaN for float outputs; integer outputs must name one. ``descriptions`` and
    ``band_tags`` (e.g. ``{"wavelength": "0.592", "wavelength_units": "micrometers"}``) are
    per band; ``tags`` are added to the provenance tags of the file.
    """

    path: str | os.PathLike[str]
    source: int | str | None = None
    channels: tuple[int, ...] | None = None
    scale: int = 1
    dtype: str = "float32"
    nodata: float | None = None
    descriptions: tuple[str, ...] = ()
    band_tags: tuple[Mapping[str, str], ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    compress: str = "zstd"
    blocksize: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.scale, int) or self.scale < 1:
            raise InputError(f"Output scale {self.scale!r} must be a whole number >= 1.")
        if self.compress not in COMPRESSIONS:
            raise InputError(f"Unknown compression {self.compress!r}; use {COMPRESSIONS}.")
        if self.blocksize < 16 or self.blocksize % 16:
            raise InputError(f"Block size {self.blocksize} must be a multiple of 16 (GeoTIFF).")
        kind = np.dtype(self.dtype).kind
        if kind not in "fiu":
            raise InputError(f"Output dtype {self.dtype!r} is not numeric; use float32.")
        if kind in "iu" and self.nodata is None:
            raise InputError(
                f"Integer output {self.dtype} needs an explicit nodata value "
                "(e.g. nodata=0); float outputs default to NaN."
            )
        if self.channels is not None and not self.channels:
            raise InputError("channels is empty; give channel indices or None for all.")

    @property
    def fill_value(self) -> float:
        return math.nan if self.nodata is None else float(self.nodata)

    @property
    def band_count(self) -> int | None:
        """Known before the first forward pass only when channels are listed."""
        return None if self.channels is None else len(self.channels)

    def select(self, prediction: object):  # -> torch.Tensor (kept untyped: no torch import)
        """This output's (N, C, H, W) part of a predictor result."""
        part = prediction
        if self.source is not None:
            try:
                part = prediction[self.source]  # type: ignore[index]
            except (KeyError, IndexError, TypeError) as exc:
                raise InputError(
                    f"Output {Path(self.path).name}: the predictor result has no part "
                    f"{self.source!r}; set OutputSpec.source to a valid key or index."
                ) from exc
        elif isinstance(prediction, Mapping | tuple | list):
            raise InputError(
                f"Output {Path(self.path).name}: the predictor returns a "
                f"{type(prediction).__name__}; set OutputSpec.source to pick one part."
            )
        if getattr(part, "ndim", None) != 4:
            raise InputError(
                f"Output {Path(self.path).name}: expected a 4-D (N, C, H, W) tensor from the "
                f"predictor, got {type(part).__name__} of shape {getattr(part, 'shape', '?')}."
            )
        if self.channels is not None:
            if max(self.channels) >= part.shape[1]:
                raise InputError(
                    f"Output {Path(self.path).name}: channels {self.channels} out of range for "
                    f"a result with {part.shape[1]} channels."
                )
            part = part[:, list(self.channels)]
        return part


def _creation_options(spec: OutputSpec, width: int, height: int, count: int) -> dict:
    options: dict[str, object] = {
        "tiled": True,
        "blockxsize": spec.blocksize,
        "blockysize": spec.blocksize,
        "bigtiff": "IF_SAFER",
    }
    if spec.compress != "none":
        options["compress"] = spec.compress
        if spec.compress == "zstd":
            options["zstd_level"] = 1  # level 1 compresses float rasters nearly as well, 4x faster
        # Horizontal differencing for integers (nearly free). No predictor for floats: the
        # floating-point one (3) doubles GDAL's compression time for files 6-17 % smaller,
        # 2.7 % of a CPU run at 4096 px, likely more beside a GPU (unmeasured; docs/benchmarks.md).
        if np.dtype(spec.dtype).kind in "iu":
            options["predictor"] = 2
    if count > 1:
        options["interleave"] = "band"
    return options


class RasterSink:
    """Receives finished rows top to bottom and writes them by whole GeoTIFF block-rows."""

    def __init__(
        self,
        spec: OutputSpec,
        path: Path,
        *,
        width: int,
        height: int,
        count: int,
        crs: object,
        transform: Affine,
    ) -> None:
        self.spec = spec
        self.width = width
        self.height = height
        self.count = count
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self._next_row = 0
        self._dtype = np.dtype(spec.dtype)
        profile = {
            "driver": "GTiff",
            "width": width,
            "height": height,
            "count": count,
            "dtype": self._dtype.name,
            "crs": crs,
            "transform": transform,
            "nodata": spec.fill_value,
            **_creation_options(spec, width, height, count),
        }
        self._path = path
        self._writer = create_raster(path, **profile)
        self._dst = self._writer.__enter__()
        for band, text in enumerate(spec.descriptions[:count], start=1):
            self._dst.set_band_description(band, text)
        for band, tags in enumerate(spec.band_tags[:count], start=1):
            self._dst.update_tags(band, **{str(k): str(v) for k, v in tags.items()})

    def _convert(self, rows: np.ndarray) -> np.ndarray:
        """float32 rows with NaN for nodata -> the output dtype with its nodata value."""
        if self._dtype.kind == "f":
            out = rows.astype(self._dtype, copy=False)
            if not math.isnan(self.spec.fill_value):
                out = np.where(np.isnan(out), self._dtype.type(self.spec.fill_value), out)
            return out
        info = np.iinfo(self._dtype)
        missing = np.isnan(rows)
        out = np.clip(np.rint(np.nan_to_num(rows)), info.min, info.max).astype(self._dtype)
        out[missing] = self.spec.fill_value
        return out

    def write_rows(self, rows: np.ndarray) -> None:
        """Queue (count, n, width) float32 rows; writes every complete block-row."""
        self._pending.append(rows)
        self._pending_rows += rows.shape[1]
        if self._pending_rows >= self.spec.blocksize:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        if not self._pending:
            return
        pending = self._pending
        block = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
        bs = self.spec.blocksize
        n = block.shape[1] if final else (block.shape[1] // bs) * bs
        if n:
            window = rasterio.windows.Window(0, self._next_row, self.width, n)
            self._dst.write(self._convert(block[:, :n]), window=window)
            check_writes(self._path)
            self._next_row += n
        rest = block[:, n:]
        self._pending = [rest] if rest.shape[1] else []
        self._pending_rows = rest.shape[1]

    def finish(self, tags: Mapping[str, str]) -> None:
        """Write the last rows and the tags, then close; checks every row was written."""
        self._flush(final=True)
        if self._next_row != self.height:
            raise RasterIOError(
                f"Internal error: wrote {self._next_row} of {self.height} rows of "
                f"{Path(self.spec.path).name}; please report this."
            )
        self._dst.update_tags(**dict(tags))
        self._writer.__exit__(None, None, None)  # raises on any GDAL write error

    def abort(self) -> None:
        """Close after a failure; the output set removes the temporary file."""
        with contextlib.suppress(Exception):
            self._writer.__exit__(RasterIOError, RasterIOError("aborted"), None)


def output_size(height: int, width: int, spec: OutputSpec) -> tuple[int, int]:
    return height * spec.scale, width * spec.scale


def output_transform(transform: Affine, spec: OutputSpec) -> Affine:
    """The input transform with pixels ``scale`` times smaller (same origin)."""
    return transform * Affine.scale(1.0 / spec.scale)
