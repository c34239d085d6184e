"""One pixel of a spectral prediction, computed by the job's own code (the pixel inspector's
inference path).

A user clicks a pixel of a CTX image and expects to see what ``predict`` wrote there. So
nothing here re-implements a step of the job: :func:`predict_pixel` takes the same parameters
as a :class:`~marsspec.core.spectral.job.PredictRequest` (a :class:`WindowRequest`, or one made
from a request with :meth:`WindowRequest.of`) and goes through the job's functions:

* the input band and its checks (``input_band``), the DEM stacked onto the CTX grid by the
  same VRT (``model_source`` -> :func:`~marsspec.core.io.stack.stack_with_dem`);
* the same predictor (``build_predictor``: the entry's ``clip_percent``, *full-image*
  statistics of the raster the model reads, Table A1 or patch-wise statistics, softmax and
  reconstruction, output statistics) and the same tiling (``tiling_config``: the model's
  patch size, the stride factor or the model's default, blending, device, precision);
* the engine's forward pass (:func:`~marsspec.core.tiling.engine.batch_forward`: device,
  precision choice, model preparation) and the engine's reader and blending for the pixel
  (:func:`~marsspec.core.tiling.pixel.pixel_outputs`).

Why the covering patches and not one window centred on the pixel, or the engine on a crop:
with overlapping patches the raster's value at a pixel is a weighted blend of the outputs of
the ``s x s`` (near the far borders a few more) patches of the *whole raster's* plan that
cover it. A centred window is none of those patches, and ``run_tiled`` on a cropped area
would plan other patches (and mirror at the crop's edges), so both differ from the raster by
far more than rounding. Running exactly the plan's covering patches gives the raster's value
(within float rounding, well under 1e-4) for 4 forward passes at the paper's ``s = 2``:
about 0.4 s for 256 px EfficientNet-B0 patches on one core of a 2-core CPU.

What is kept between clicks, per process: built networks (sha256 checked once), image
statistics per (file, mtime, size, band, DEM, clip), the DEM stack VRT, and the predictor
with its forward pass (precision choice and prepared copy) per parameter set. The first click
on a new image pays for its statistics: one streaming pass of the full image, exactly what the
job computes (no decimated sample: a sample's clip bounds and mean differ, and so would the
values).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from marsspec.core.errors import InputError
from marsspec.core.io.opening import open_raster
from marsspec.core.models.bins import BinSpec
from marsspec.core.models.manifest import ModelEntry
from marsspec.core.models.normalisation import ChannelStats, raster_stats
from marsspec.core.options import (
    DEFAULT_BLENDING,
    DEFAULT_DEVICE,
    DEFAULT_NORMALISATION,
    DEFAULT_PRECISION,
    DEFAULT_RECONSTRUCTION,
)
from marsspec.core.spectral.job import (
    build_predictor,
    check_dem_matches,
    check_parameters,
    input_band,
    load_entry,
    model_source,
    tiling_config,
)
from marsspec.core.tiling.plan import Patch


@dataclass(frozen=True)
class WindowRequest:
    """The parameters of a spectral prediction that decide its values (no output paths).

    Same names, defaults and checks as :class:`~marsspec.core.spectral.job.PredictRequest`.
    """

    input: str | Path
    model: str = "evc-regression"
    band: int | None = None
    stride_factor: int | None = None
    blending: str = DEFAULT_BLENDING
    normalisation: str = DEFAULT_NORMALISATION
    target_stats: tuple[tuple[float, float], ...] | None = None
    reconstruction: str = DEFAULT_RECONSTRUCTION
    confidence_measure: str = "max_probability"
    device: str = DEFAULT_DEVICE
    precision: str = DEFAULT_PRECISION
    batch_size: int = 8
    manifest: str | Path | None = None
    dem: str | Path | None = None
    allow_non_mars: bool = False

    def __post_init__(self) -> None:
        check_parameters(self)
        if self.target_stats is not None:  # hashable: it is part of the cache key
            pairs = tuple((float(m), float(s)) for m, s in self.target_stats)
            object.__setattr__(self, "target_stats", pairs)

    @classmethod
    def of(cls, request) -> WindowRequest:
        """The window request of a :class:`PredictRequest` (or any object with its fields)."""
        return cls(**{f.name: getattr(request, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class PixelPrediction:
    """What the job writes at one pixel, and the bin probabilities behind it."""

    row: int
    col: int
    valid: bool  # False: the input is nodata there (the raster holds NaN)
    values: np.ndarray  # (N_S,) the OUTPUT raster's values at the pixel
    probabilities: np.ndarray | None  # (N_B, N_S) blended bin probabilities (bin models)
    input_value: float  # the CTX pixel as read
    entry: ModelEntry
    bins: BinSpec | None
    output_stats: list[ChannelStats] | None  # None: values in normalised units
    units: str  # "I/F" or "normalised"
    units_text: str
    patch_size: int
    stride: int
    patches: tuple[Patch, ...]  # the patches of the run's plan that cover the pixel
    device: str
    precision: str
    seconds: float


# ---- caches (one process: QGIS, the CLI, a test session) -----------------------------------

_LOCK = threading.RLock()
_NETWORKS: OrderedDict = OrderedDict()  # (manifest, id, sha256, device) -> network
_STATS: OrderedDict = OrderedDict()  # (source identity, bands, clip) -> [ChannelStats]
_STACKS: OrderedDict = OrderedDict()  # (ctx identity, band, dem identity) -> VRT path
_SESSIONS: OrderedDict = OrderedDict()  # (request, file identities) -> _Session
_MAX_NETWORKS, _MAX_STATS, _MAX_SESSIONS = 2, 32, 4
_STACK_FOLDER: list[str] = []


def _remember(cache: OrderedDict, key, value, limit: int | None = None):
    cache[key] = value
    cache.move_to_end(key)
    while limit is not None and len(cache) > limit:
        cache.popitem(last=False)
    return value


def _recall(cache: OrderedDict, key):
    value = cache.get(key)
    if value is not None:
        cache.move_to_end(key)
    return value


def _identity(path: str | os.PathLike[str] | None) -> tuple | None:
    """A file version: resolved path, mtime and size (a changed file is a new key)."""
    if path is None:
        return None
    source = Path(path)
    try:
        stat = source.stat()
    except OSError:
        return (str(source), None, None)
    return (str(source.resolve()), stat.st_mtime_ns, stat.st_size)


def clear_cache() -> None:
    """Forget networks, statistics, DEM stacks and predictors (after re-exporting a model)."""
    with _LOCK:
        for cache in (_NETWORKS, _STATS, _STACKS, _SESSIONS):
            cache.clear()


def network(entry: ModelEntry, device: str = "cpu"):
    """The entry's network, built once per process (the sha256 check runs on the first call).

    Built on the CPU like the job's; the forward pass moves it to the run's device."""
    key = (str(entry.models_dir), entry.id, entry.sha256, device)
    with _LOCK:
        cached = _recall(_NETWORKS, key)
        if cached is None:
            cached = _remember(_NETWORKS, key, entry.build("cpu"), _MAX_NETWORKS)
        return cached


def _cached_stats(identity: tuple):
    """:func:`raster_stats` for one version of the model's input, computed once."""

    def stats(path, bands, clip_percent, **kwargs) -> list[ChannelStats]:
        key = (identity, tuple(int(b) for b in bands), float(clip_percent))
        cached = _recall(_STATS, key)
        if cached is None:
            cached = raster_stats(path, bands, clip_percent, **kwargs)
            _remember(_STATS, key, cached, _MAX_STATS)
        return cached

    return stats


def _stack_folder() -> Path:
    if not _STACK_FOLDER:
        folder = tempfile.mkdtemp(prefix="marsspec-inspector-")
        atexit.register(shutil.rmtree, folder, True)
        _STACK_FOLDER.append(folder)
    return Path(_STACK_FOLDER[0])


def _model_source(req: WindowRequest, band: int) -> tuple[Path, tuple[int, ...]]:
    """The job's :func:`model_source`; a DEM stack is made once per CTX and DEM version."""
    if not req.dem:
        return model_source(req, band, None)
    key = (_identity(req.input), band, _identity(req.dem))
    cached = _recall(_STACKS, key)
    if cached is None:
        folder = _stack_folder() / f"stack-{len(_STACKS)}-{time.monotonic_ns()}"
        folder.mkdir()
        cached = _remember(_STACKS, key, model_source(req, band, folder))
    return cached


@dataclass
class _Session:
    entry: ModelEntry
    setup: object  # job.SpectralSetup
    config: object  # TilingConfig
    plan: object  # TilePlan
    specs: tuple
    forward: object  # BatchForward
    source: Path  # what the model reads (the input, or the CTX + DEM stack)
    band: int


def _session(req: WindowRequest) -> _Session:
    from marsspec.core.tiling import OutputSpec
    from marsspec.core.tiling.engine import batch_forward

    key = (req, _identity(req.input), _identity(req.dem), _identity(req.manifest))
    cached = _recall(_SESSIONS, key)
    if cached is not None:
        return cached
    band, _warnings = input_band(Path(req.input), req.band, req.allow_non_mars)
    entry = load_entry(req)
    check_dem_matches(entry, req)
    _check_same_scale(req, entry)
    source, bands = _model_source(req, band)
    setup = build_predictor(
        req,
        entry,
        network(entry, req.device),
        source,
        bands,
        stats=_cached_stats((_identity(req.input), band, _identity(req.dem))),
        probabilities=True,
    )
    config = tiling_config(req, entry, bands)
    with open_raster(source) as src:
        plan = config.plan(src.height, src.width)
    specs = [OutputSpec("values", source="values")]
    if setup.bins is not None:
        specs.append(OutputSpec("probabilities", source="probabilities"))
    forward = batch_forward(setup.predictor, specs, config, plan)
    session = _Session(entry, setup, config, plan, tuple(specs), forward, source, band)
    return _remember(_SESSIONS, key, session, _MAX_SESSIONS)


def _check_same_scale(req: WindowRequest, entry: ModelEntry) -> None:
    """The job runs an input more than 25 % off the model's pixel size resampled and warps
    the result back; one pixel's patches cannot reproduce that, and showing a value the
    raster does not hold would break the inspector's promise: refuse, saying why."""
    from marsspec.core.tiling.rescale import plan_scale

    name = Path(req.input).name
    scale = plan_scale(req.input, entry.pixel_size_m, model_id=entry.id, name=name)
    if scale.rescale:
        raise InputError(
            f"{name} has {scale.input_size_m:.3g} m pixels and model {entry.id} was trained at "
            f"{scale.model_pixel_m:g} m: prediction runs it resampled, which the inspector "
            "cannot reproduce pixel by pixel. Inspect a copy at the model's scale (gdalwarp "
            f"-tr {scale.model_pixel_m:g} {scale.model_pixel_m:g}) or the written raster."
        )


@contextlib.contextmanager
def _cpu_threads(device, threads: int | None):
    """``threads`` intra-op threads for this call's forward passes on the CPU.

    Measured on the 2-core box while other jobs kept it busy: a 256 x 256 EfficientNet-B0
    U-Net pass took 0.09 s with one thread and 0.33 s with two (OpenMP threads waiting on
    each other on oversubscribed cores); inside QGIS the map renderer's threads compete the
    same way. The previous setting is restored right after.
    """
    import torch

    if threads is None or getattr(device, "type", str(device)) != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def predict_pixel(
    request: WindowRequest, row: int, col: int, *, cpu_threads: int | None = 1
) -> PixelPrediction:
    """What the job with these parameters writes at pixel ``(row, col)`` of the input.

    ``cpu_threads``: intra-op threads for the forward passes on a CPU (None: torch's
    setting). Thread count changes no value beyond float rounding.
    """
    from marsspec.core.tiling.pixel import pixel_outputs

    started = time.perf_counter()
    with _LOCK:  # the caches and the forward pass are shared by the dock's threads
        session = _session(request)
        plan = session.plan
        if not (0 <= row < plan.height and 0 <= col < plan.width):
            raise InputError(
                f"Pixel (row {row}, column {col}) is outside {Path(request.input).name} "
                f"({plan.width} x {plan.height} px)."
            )
        with _cpu_threads(session.forward.device, cpu_threads):
            outputs = pixel_outputs(
                session.source,
                session.forward,
                session.specs,
                session.config,
                plan,
                row,
                col,
            )
        forward = session.forward
    setup = session.setup
    values = outputs.values[0][:, 0, 0].astype(np.float64)
    probabilities = None
    if setup.bins is not None:
        flat = outputs.values[1][:, 0, 0].astype(np.float64)
        probabilities = flat.reshape(setup.bins.count, -1)
    return PixelPrediction(
        row=row,
        col=col,
        valid=outputs.valid,
        values=values,
        probabilities=probabilities,
        input_value=float(outputs.inputs[0]),
        entry=session.entry,
        bins=setup.bins,
        output_stats=setup.output_stats,
        units=setup.units,
        units_text=setup.units_text,
        patch_size=plan.size,
        stride=plan.stride,
        patches=outputs.patches,
        device=forward.device_description,
        precision=forward.precision,
        seconds=time.perf_counter() - started,
    )
