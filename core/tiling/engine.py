"""The streaming loop: reader -> batches -> predictor -> blend rows -> write rows.

:func:`run_tiled` is the one entry point every model goes through (spectral prediction, bin
confidence, super-resolution). It validates everything up front, then streams: the reader
(a thread prefetching padded patches where it has something to overlap: a GPU, a network
input, a free core; else inline) hands batches over, the calling thread runs the model and
blends, and rows are written as soon as no later patch can touch them. Outputs go to
temporary files that are renamed only when the whole raster is done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import torch

from marsspec.core.devices import check_precision, resolve_device
from marsspec.core.errors import CancelledError, InputError
from marsspec.core.io.integrity import reads_from_network
from marsspec.core.io.opening import open_raster
from marsspec.core.io.safety import OutputSet
from marsspec.core.provenance import provenance_tags
from marsspec.core.tiling.allocator import reuse_freed_memory
from marsspec.core.tiling.blend import RowAccumulator
from marsspec.core.tiling.forward import BatchForward, Predictor
from marsspec.core.tiling.outputs import (
    OutputSpec,
    RasterSink,
    output_transform,
)
from marsspec.core.tiling.plan import Patch, TilePlan
from marsspec.core.tiling.reader import PatchBatch, make_reader
from marsspec.core.tiling.weights import BLENDINGS, DEFAULT_FLOOR, DEFAULT_SIGMA, weight_map

logger = logging.getLogger("marsspec.tiling")

ProgressCallback = Callable[[float], object]
CancelCallback = Callable[[], bool]
LogCallback = Callable[[str], object]


@dataclass(frozen=True)
class TilingConfig:
    """How to tile: patch edge ``d``, overlap factor ``s`` (stride ``d/s``), blending, device...

    ``gdal_cache_mb`` caps GDAL's block cache during the run (bounded memory).
    ``large_tile`` (fully convolutional models only) replaces the ``d``/``s`` scheme by tiles of
    that edge at stride ``large_tile - 2*margin`` whose ``margin`` is discarded: far fewer
    redundant pixels than ``s = 2``. It must suit the model (e.g. a multiple of 32 for a U-Net).
    ``prepare_model`` runs an ``nn.Module`` predictor as its checked, rewritten copy
    (:mod:`marsspec.core.tiling.prepare`: batch norms folded, ...); False runs it as given.
    ``reader_thread``: read patches on a thread, ``prefetch`` batches ahead (True), or in the
    calling thread when each batch is needed (False); None picks (:func:`uses_reader_thread`).
    """

    d: int = 256
    s: int = 2
    blending: str = "gaussian"
    sigma: float = DEFAULT_SIGMA
    weight_floor: float = DEFAULT_FLOOR
    batch_size: int = 16
    device: str = "auto"
    precision: str = "auto"
    bands: tuple[int, ...] = (1,)
    large_tile: int | None = None
    margin: int = 32
    channels_last: bool = True
    prepare_model: bool = True
    prefetch: int = 2
    reader_thread: bool | None = None
    checksum_input: bool = False
    gdal_cache_mb: int = 64

    def __post_init__(self) -> None:
        if not isinstance(self.d, int) or self.d < 1:
            raise InputError(f"d={self.d!r} must be a whole number of pixels >= 1.")
        if not 1 <= self.s <= 4:
            raise InputError(f"s={self.s!r} must be 1, 2, 3 or 4 (stride d/s, paper §3.3).")
        if self.blending not in BLENDINGS:
            raise InputError(f"Unknown blending {self.blending!r}; use one of {BLENDINGS}.")
        if self.batch_size < 1:
            raise InputError(f"batch_size={self.batch_size} must be >= 1.")
        if not 0 < self.weight_floor <= 1:
            raise InputError(f"weight_floor={self.weight_floor} must lie in (0, 1].")
        if not self.bands or min(self.bands) < 1:
            raise InputError(f"bands={self.bands!r}: band numbers start at 1.")
        if self.large_tile is not None and not 0 <= 2 * self.margin < self.large_tile:
            raise InputError(
                f"large_tile={self.large_tile} with margin={self.margin} leaves no interior; "
                "use a tile larger than twice the margin."
            )

    @property
    def blending_used(self) -> str:
        return "crop" if self.large_tile else self.blending

    def plan(self, height: int, width: int) -> TilePlan:
        if self.large_tile:
            return TilePlan(height, width, self.large_tile, self.large_tile - 2 * self.margin)
        return TilePlan.from_ds(height, width, self.d, self.s)

    def weights(
        self, size: int, scale: int, keep: tuple[bool, bool, bool, bool] = (False,) * 4
    ) -> np.ndarray:
        """Weight map of one output patch; ``keep`` (crop only): sides on the raster border."""
        return weight_map(
            self.blending_used,
            size * scale,
            sigma=self.sigma,
            floor=self.weight_floor,
            margin=self.margin * scale,
            keep=keep,
        )


@dataclass(frozen=True)
class TilingResult:
    """What a run did; ``events`` lists precision choices and out-of-memory steps."""

    outputs: tuple[Path, ...]
    patches: int
    skipped: int
    predictor_calls: int
    device: str
    precision: str
    batch_size: int
    seconds: float
    tags: dict[str, str] = field(default_factory=dict)
    events: tuple[str, ...] = ()


class _OutputStream:
    """One output: its accumulator, its sink, and the rows already written."""

    def __init__(self, spec: OutputSpec, temp: Path, plan: TilePlan, meta: dict, cfg) -> None:
        self.spec = spec
        self.temp = temp
        self.k = spec.scale
        self.height = plan.height * self.k
        self.width = plan.width * self.k
        self.weights = cfg.weights(plan.size, self.k)
        self.meta = meta
        self._per_side: dict[tuple[bool, ...], np.ndarray] = {}
        self._cfg = cfg
        self._plan = plan
        self.acc: RowAccumulator | None = None
        self.sink: RasterSink | None = None
        self.written = 0  # output rows handed to the sink (or owed as nodata before it opens)

    def _open(self, channels: int) -> None:
        self.acc = RowAccumulator(channels, self.height, self.width, self.weights)
        self.acc.top = self.written
        self.sink = RasterSink(
            self.spec,
            self.temp,
            width=self.width,
            height=self.height,
            count=channels,
            crs=self.meta["crs"],
            transform=output_transform(self.meta["transform"], self.spec),
        )
        # Rows finished before the first forward pass were all nodata (every patch skipped).
        for start in range(0, self.written, self.spec.blocksize):
            n = min(self.spec.blocksize, self.written - start)
            self.sink.write_rows(np.full((channels, n, self.width), np.nan, np.float32))

    def add(self, outputs: np.ndarray, patches: Sequence[Patch]) -> None:
        if self.acc is None:
            self._open(outputs.shape[1])
        for output, patch in zip(outputs, patches, strict=True):
            self.acc.add(output, patch.row * self.k, patch.col * self.k, self._weights(patch))

    def _weights(self, patch: Patch) -> np.ndarray:
        """Crop blending keeps the margins that face the raster border; others: one map."""
        if self._cfg.blending_used != "crop":
            return self.weights
        keep = border_sides(self._plan, patch)
        if keep not in self._per_side:
            self._per_side[keep] = patch_weights(self._cfg, self._plan, patch, self.k)
        return self._per_side[keep]

    def flush(self, valid: np.ndarray) -> None:
        """Write the next ``valid.shape[0]`` input rows, nodata where ``valid`` is False."""
        stop = self.written + valid.shape[0] * self.k
        if self.acc is not None:
            rows = self.acc.pop(stop)
            if self.k > 1:
                valid = np.repeat(np.repeat(valid, self.k, axis=0), self.k, axis=1)
            rows[:, ~valid] = np.nan
            self.sink.write_rows(rows)
        self.written = stop

    def finish(self, tags: dict[str, str]) -> None:
        if self.sink is None:
            channels = self.spec.band_count
            if channels is None:
                raise InputError(
                    "The input has no valid pixel in the chosen band(s), so nothing was "
                    "predicted; check the band number and the nodata value, or list the output "
                    "channels in OutputSpec.channels to write an all-nodata raster."
                )
            self._open(channels)  # writes the owed all-nodata rows
        self.sink.finish({**tags, "MARSSPEC_SCALE": str(self.k), **self.spec.tags})

    def abort(self) -> None:
        if self.sink is not None:
            self.sink.abort()


def border_sides(plan: TilePlan, patch: Patch) -> tuple[bool, bool, bool, bool]:
    """(top, bottom, left, right): the sides of ``patch`` that lie on the raster border."""
    return (
        patch.row == 0,
        patch.row == plan.row_origins[-1],
        patch.col == 0,
        patch.col == plan.col_origins[-1],
    )


def patch_weights(cfg: TilingConfig, plan: TilePlan, patch: Patch, scale: int) -> np.ndarray:
    """The weight map the engine blends ``patch``'s output with (output pixels, ``scale``)."""
    if cfg.blending_used != "crop":
        return cfg.weights(plan.size, scale)
    return cfg.weights(plan.size, scale, border_sides(plan, patch))


def _read_meta(path: Path, bands: Sequence[int]) -> dict:
    with open_raster(path) as src:
        meta = {
            "height": src.height,
            "width": src.width,
            "count": src.count,
            "crs": src.crs,
            "transform": src.transform,
        }
    if max(bands) > meta["count"]:
        raise InputError(
            f"Band {max(bands)} was requested but {path.name} has {meta['count']} band(s); "
            f"choose a band in 1..{meta['count']}."
        )
    return meta


class _Finisher:
    """Tracks which rows became final and hands their nodata masks to the outputs."""

    def __init__(self, plan: TilePlan, streams: Sequence[_OutputStream]) -> None:
        self.plan = plan
        self.streams = streams
        self.masks: deque[tuple[int, np.ndarray]] = deque()
        self.done_rows = 0
        self.last_col = plan.col_origins[-1]

    def after(self, batch: PatchBatch) -> None:
        self.masks.extend(batch.masks)
        last = batch.patches[-1]
        complete = last.tile_row if last.col == self.last_col else last.tile_row - 1
        if complete < 0:
            return
        stop = self.plan.final_rows_after(complete)
        while self.done_rows < stop:
            row, valid = self.masks.popleft()
            if row != self.done_rows:  # pragma: no cover - would be a planning bug
                raise RuntimeError(f"rows out of order: expected {self.done_rows}, got {row}")
            for stream in self.streams:
                stream.flush(valid)
            self.done_rows += valid.shape[0]


def run_tiled(
    input_path: str | os.PathLike[str],
    predictor: Predictor,
    outputs: OutputSpec | Sequence[OutputSpec],
    config: TilingConfig | None = None,
    *,
    model_id: str | None = None,
    weights_sha256: str | None = None,
    algorithm: str = "tiled-inference",
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    log: LogCallback | None = None,
    staging: OutputSet | None = None,
    provenance_inputs: Sequence[str | os.PathLike[str]] | None = None,
) -> TilingResult:
    """Predict a whole raster patch by patch and write the blended outputs.

    ``predictor`` maps a float32 tensor ``(N, bands, d, d)`` on the chosen device to a tensor
    ``(N, C, d*scale, d*scale)`` (or a tuple/dict of them; each :class:`OutputSpec` picks its
    part). It runs under ``torch.inference_mode`` and the chosen autocast. ``progress``
    receives the fraction done after every batch; ``cancel`` is polled before every batch and
    a true answer raises :class:`CancelledError` with nothing left at the output paths.
    ``log`` receives one-line messages for the user (plan, precision choice, out-of-memory
    steps, summary); they also go to the ``marsspec.tiling`` logger.

    ``staging``: the job's :class:`~marsspec.core.io.safety.OutputSet` holding every spec's
    path, when the job writes more than this run (it publishes them all together); without
    one, the run checks its outputs against the input and publishes them itself.

    ``provenance_inputs``: the files the outputs' ``MARSSPEC_INPUT``, ``MARSSPEC_INPUT_2``...
    tags name (default: ``input_path``). A job that reads a file it made itself (the
    temporary VRT stacking CTX and DEM) names the user's files here, so the provenance is
    written once, here, and names what the user gave.
    """

    def say(message: str) -> None:
        logger.info(message)
        if log is not None:
            log(message)

    started = time.perf_counter()
    cfg = config or TilingConfig()
    specs = (outputs,) if isinstance(outputs, OutputSpec) else tuple(outputs)
    if not specs:
        raise InputError("No output given; pass at least one OutputSpec.")
    source = Path(input_path)
    own_staging = staging is None
    if staging is None:
        staging = OutputSet(
            {f"output {Path(s.path).name}": s.path for s in specs},
            inputs=[source, *(provenance_inputs or ())],
        )
    meta = _read_meta(source, cfg.bands)
    plan = cfg.plan(meta["height"], meta["width"])
    _check_memory(plan, cfg, specs, meta)
    forward = batch_forward(predictor, specs, cfg, plan, log=log)
    read_ahead = uses_reader_thread(cfg, forward.device, source)
    say(
        f"tiling {source.name}: {meta['width']}x{meta['height']} px, {plan.n_patches} patches "
        f"of {plan.size} px at stride {plan.stride}, {cfg.blending_used} blending, batch "
        f"{cfg.batch_size}, on {forward.device_description}, "
        + ("reading ahead on a thread" if read_ahead else "reading in the model's thread")
    )
    skipped = 0
    with contextlib.ExitStack() as stack:
        # GDAL's block cache defaults to 5 % of RAM and keeps every block read or written
        # until it is full, which would make memory grow with the raster; each block is used
        # once here, so a small cache costs nothing.
        stack.enter_context(rasterio.Env(GDAL_CACHEMAX=cfg.gdal_cache_mb * 2**20))
        stack.enter_context(reuse_freed_memory())  # no fresh zeroed pages for every batch
        if own_staging:
            stack.enter_context(staging)
        _check_space(staging, specs, meta)
        temps = [staging.temp_for(spec.path) for spec in specs]
        streams = [_OutputStream(s, t, plan, meta, cfg) for s, t in zip(specs, temps, strict=True)]
        finisher = _Finisher(plan, streams)
        reader = make_reader(
            source, plan, cfg.bands, cfg.batch_size, prefetch=cfg.prefetch, thread=read_ahead
        )
        reader.start()
        done = 0
        try:
            for batch in reader.batches():
                if cancel is not None and cancel():
                    raise CancelledError(
                        f"Cancelled after {done} of {plan.n_patches} patches; no output was "
                        "written."
                    )
                if len(batch.data):
                    results = forward(batch.data)
                    ran = [p for p, r in zip(batch.patches, batch.run, strict=True) if r]
                    for stream, result in zip(streams, results, strict=True):
                        stream.add(result, ran)
                skipped += int((~batch.run).sum())
                finisher.after(batch)
                done += len(batch.patches)
                if progress is not None:
                    progress(done / plan.n_patches)
            inputs = [source] if provenance_inputs is None else list(provenance_inputs)
            tags = _tags(inputs, cfg, forward, algorithm, model_id, weights_sha256)
            for stream in streams:
                stream.finish(tags)
        except BaseException:
            for stream in streams:
                stream.abort()
            raise
        finally:
            reader.close()
    seconds = time.perf_counter() - started
    say(
        f"tiling done in {seconds:.1f} s: {plan.n_patches - skipped} patches predicted, "
        f"{skipped} skipped as nodata, precision {forward.precision}"
    )
    return TilingResult(
        outputs=tuple(Path(s.path) for s in specs),
        patches=plan.n_patches,
        skipped=skipped,
        predictor_calls=forward.calls,
        device=forward.device_description,
        precision=forward.precision,
        batch_size=forward.batch_size,
        seconds=seconds,
        tags=tags,
        events=tuple(forward.events),
    )


def uses_reader_thread(cfg: TilingConfig, device: torch.device, source: Path) -> bool:
    """``cfg.reader_thread``, or by default: a thread where it has something to overlap.

    A GPU forward leaves the CPU to the reader, a network input leaves it waiting on the
    network, and a CPU forward on fewer torch threads than the process may use (a Dask
    worker's single thread) leaves a core free. A CPU forward whose threads fill every core
    leaves nothing to overlap (reading costs the same CPU either way): each batch is then
    read in the calling thread when it is needed.
    """
    if cfg.reader_thread is not None:
        return cfg.reader_thread
    if device.type != "cpu" or reads_from_network(source):
        return True
    return torch.get_num_threads() < usable_cpus()


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def batch_forward(
    predictor: Predictor,
    specs: Sequence[OutputSpec],
    cfg: TilingConfig,
    plan: TilePlan,
    *,
    log: LogCallback | None = None,
) -> BatchForward:
    """How the engine runs ``predictor`` for ``cfg``: device, precision, batch size, model
    preparation. The pixel inspector builds its forward pass here too, so it takes the same
    device and precision decisions as the run that wrote the raster."""
    device = resolve_device(cfg.device)
    return BatchForward(
        predictor,
        specs,
        device=device,
        precision=check_precision(cfg.precision, device),
        batch_size=cfg.batch_size,
        patch_size=plan.size,
        channels_last=cfg.channels_last,
        prepare=cfg.prepare_model,
        notify=log,
    )


ACTIVATION_CHANNELS = 64  # feature maps a network keeps alive per input pixel (estimate)


def _check_memory(plan: TilePlan, cfg: TilingConfig, specs: Sequence[OutputSpec], meta) -> None:
    """Refuse a patch or batch size whose buffers cannot fit in memory, before allocating them
    (numpy would otherwise fail with 'Unable to allocate 1.2 TiB' deep in a run)."""
    needed = estimated_memory(plan, cfg, specs, meta["width"])
    available = available_memory()
    if available is not None and needed > available:
        raise InputError(
            f"Patch {plan.size} px with batch {cfg.batch_size} needs about "
            f"{needed / 2**30:.1f} GiB of memory, but {available / 2**30:.1f} GiB is available; "
            "use a smaller patch size (the default) or batch size."
        )


def estimated_memory(
    plan: TilePlan, cfg: TilingConfig, specs: Sequence[OutputSpec], width: int
) -> int:
    """Bytes the run's largest buffers take: the batch and its activations, each output's
    weight map and row accumulator (values + weights), in float32."""
    k = max(spec.scale for spec in specs)
    channels = sum(spec.band_count or 4 for spec in specs)
    lr, hr = plan.size**2, (plan.size * k) ** 2
    batch = cfg.batch_size * (len(cfg.bands) * lr + ACTIVATION_CHANNELS * lr + 2 * channels * hr)
    weights = len(specs) * hr
    accumulators = 2 * channels * (plan.size + plan.stride) * k * width * k
    return 4 * (batch + weights + accumulators)


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else None (no check)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _check_space(staging: OutputSet, specs: Sequence[OutputSpec], meta: dict) -> None:
    """Refuse before the first patch when the outputs clearly cannot fit on the disk."""
    total = at_least = 0
    for spec in specs:
        pixels = meta["height"] * meta["width"] * spec.scale**2
        size = pixels * (spec.band_count or 1) * np.dtype(spec.dtype).itemsize
        total += size
        # compression of model outputs rarely beats 20x; an uncompressed file is exact
        at_least += size if spec.compress == "none" else size // 20
    staging.require_space(total, "the tiled outputs", at_least=at_least)


def _tags(
    inputs: Sequence[str | os.PathLike[str]],
    cfg: TilingConfig,
    forward: BatchForward,
    algorithm: str,
    model_id: str | None,
    weights_sha256: str | None,
) -> dict[str, str]:
    parameters: dict[str, object] = {
        "d": cfg.large_tile or cfg.d,
        "s": 1 if cfg.large_tile else cfg.s,
        "blending": cfg.blending_used,
    }
    if cfg.blending_used == "gaussian":
        parameters["gaussian_sigma"] = cfg.sigma
    if cfg.large_tile:
        parameters["large_tile_margin"] = cfg.margin
    parameters.update(
        {
            "bands": ",".join(str(b) for b in cfg.bands),
            "device": forward.device_description,
            "precision": "fp32" if forward.precision == "auto" else forward.precision,
            "model_preparation": forward.preparation,
        }
    )
    return provenance_tags(
        algorithm=algorithm,
        inputs=inputs,
        model_id=model_id,
        weights_sha256=weights_sha256,
        parameters=parameters,
        checksum_inputs=cfg.checksum_input,
    )
