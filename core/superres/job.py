"""A super-resolution run: validate the input, pick bands and colour mode, tile, write.

The network sees LR patches through the tiling engine (core/tiling) and returns 4x patches
that are put together in HR space: ``crop`` (the default) discards tile margins, which gives
the whole-image result when the margin covers the receptive field; ``gaussian`` blends
overlapping patches as paper 000 does. The output keeps
the input CRS with a transform scaled by 1/4, float32 radiometry, NaN where the input was
nodata, the input's band descriptions and wavelengths, and provenance tags.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling

from marsspec.core.errors import InputError
from marsspec.core.io.georef import check_assumption
from marsspec.core.io.mars_crs import check_mars_body
from marsspec.core.io.opening import JobInput, job_input, open_raster
from marsspec.core.io.safety import OutputSet
from marsspec.core.models.manifest import load_manifest
from marsspec.core.options import COLOUR_MODES, DEFAULT_SR_BLENDING
from marsspec.core.options import SR_BLENDINGS as BLENDINGS
from marsspec.core.superres.normalise import Normaliser

logger = logging.getLogger("marsspec.superres")

SCALE = 4
MIN_SIZE = 8  # LR pixels per side: the 9x9 branch and reflection need some room
STATS_SIDE = 1024  # robust ranges from a decimated read: bounded memory on any raster


@dataclass(frozen=True)
class SuperresConfig:
    """What to super-resolve and how. ``bands`` None: band 1, or bands 1-3 of a 3+ band raster
    (CaSSIS colour composites are usually 3-band); FIDELITY None: the chosen model alone."""

    bands: tuple[int, ...] | None = None
    colour_mode: str = "hsv"
    model: str = "marsgan-psnr"
    fidelity: float | None = None
    device: str = "auto"
    precision: str = "auto"
    patch: int = 128  # LR pixels (512 HR): fewer redundant pixels than 64, same result
    overlap: int = 2  # stride patch/overlap
    blending: str = DEFAULT_SR_BLENDING  # "crop": large tiles; "gaussian": the d/s scheme
    margin: int = 16  # LR pixels discarded per tile side with blending="crop"
    batch_size: int = 4
    noise: bool = False
    manifest_path: str | None = None
    allow_non_mars: bool = False  # run on an input whose CRS is not a Mars one
    # an input > 25 % off the model's pixel size: resample it on the fly (False: refuse it)
    rescale: bool = True
    # an input without a CRS: refused, unless "mars" with pixel_size metres (--assume-crs)
    assume_crs: str | None = None
    pixel_size: float | None = None
    # value ranges computed once elsewhere (core/scaleout: a raster run in blocks normalises
    # every block with the whole raster's ranges); None: from a decimated read of the input
    normalisers: tuple[Normaliser, ...] | None = None

    def __post_init__(self) -> None:
        if self.colour_mode not in COLOUR_MODES:
            raise InputError(
                f"Colour mode {self.colour_mode!r} is unknown; use one of {COLOUR_MODES}."
            )
        if self.blending not in BLENDINGS:
            raise InputError(f"Blending {self.blending!r} is unknown; use one of {BLENDINGS}.")
        if self.fidelity is not None and not 0.0 <= float(self.fidelity) <= 1.0:
            raise InputError(f"FIDELITY {self.fidelity} must lie in [0, 1] (1 = PSNR model).")
        if self.bands is not None and (not self.bands or min(self.bands) < 1):
            raise InputError(f"Bands {self.bands!r}: band numbers start at 1.")
        if self.patch < MIN_SIZE:
            raise InputError(f"Patch {self.patch} px is too small; use {MIN_SIZE} or more.")
        check_assumption(self.assume_crs, self.pixel_size)


@dataclass(frozen=True)
class SuperresRequest:
    """One super-resolution run: ``input`` -> ``output`` (GeoTIFF, float32, 4x finer pixels)
    as ``config`` says; checks the paths when made (nothing is read or written)."""

    input: str | os.PathLike[str]
    output: str | os.PathLike[str]
    config: SuperresConfig = field(default_factory=SuperresConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.config, SuperresConfig):
            raise InputError("config must be a SuperresConfig.")
        self.output_set()

    def output_set(self) -> OutputSet:
        return OutputSet({"OUTPUT": self.output}, inputs=[self.input])


@dataclass(frozen=True)
class SuperresResult:
    """``outputs``: OUTPUT -> path; ``events``: what the user should know about the run."""

    output: Path
    bands: tuple[int, ...]
    colour_mode: str
    model_id: str
    width: int
    height: int
    seconds: float
    device: str
    precision: str
    georeferenced: bool
    outputs: dict[str, Path] = field(default_factory=dict)
    events: tuple[str, ...] = ()


def _choose_bands(count: int, bands: tuple[int, ...] | None, name: str) -> tuple[int, ...]:
    if bands is None:
        return (1, 2, 3) if count >= 3 else (1,)
    bad = [b for b in bands if b > count]
    if bad:
        raise InputError(
            f"Band {bad[0]} was requested but {name} has {count} band(s); choose bands in "
            f"1..{count}."
        )
    if len(set(bands)) != len(bands):
        raise InputError(f"Bands {bands} repeat a band; list each band once.")
    return tuple(bands)


def _decimated(src: rasterio.DatasetReader, bands: tuple[int, ...]) -> np.ndarray:
    """The chosen bands at most STATS_SIDE px on a side, nodata as NaN (for robust ranges).

    ISIS special values and non-finite numbers count as nodata (core/io/special_values.py);
    a GDAL read error (a truncated file) becomes a RasterIOError naming the file.
    """
    from marsspec.core.io.reading import reading
    from marsspec.core.io.special_values import valid_float_mask

    factor = max(1, int(np.ceil(max(src.width, src.height) / STATS_SIDE)))
    shape = (len(bands), max(1, src.height // factor), max(1, src.width // factor))
    with reading(src.name, f"a decimated copy (1/{factor}) of band(s) {list(bands)}"):
        data = src.read(list(bands), out_shape=shape, resampling=Resampling.nearest)
        masks = src.read_masks(list(bands), out_shape=shape, resampling=Resampling.nearest)
    valid = np.all(masks != 0, axis=0) & np.all(valid_float_mask(data), axis=0)
    data = data.astype(np.float32)
    data[:, ~valid] = np.nan
    return data


def normalisers_for(data: np.ndarray, colour_mode: str) -> list[Normaliser]:
    """Per-band robust ranges, or the range of V (band maximum) in HSV mode."""
    if colour_mode == "hsv" and data.shape[0] >= 3:
        value = np.where(np.isfinite(data).all(axis=0), data.max(axis=0), np.nan)
        return [Normaliser.from_values(value)]
    return [Normaliser.from_values(band) for band in data]


def tiling_config(cfg: SuperresConfig, bands: tuple[int, ...]):
    """The run's tiling (also what core/scaleout aligns its blocks to)."""
    from marsspec.core.tiling import TilingConfig

    return TilingConfig(
        d=cfg.patch,
        s=cfg.overlap,
        blending="gaussian",
        batch_size=cfg.batch_size,
        device=cfg.device,
        precision=cfg.precision,
        bands=bands,
        large_tile=cfg.patch if cfg.blending == "crop" else None,
        # a small patch keeps half of itself: crop is the default, --patch 32 must still run
        margin=min(cfg.margin, cfg.patch // 4),
        channels_last=False,
    )


def superresolve(
    request: SuperresRequest,
    *,
    progress: Callable[[float], object] | None = None,
    cancel: Callable[[], bool] | None = None,
    log: Callable[[str], object] | None = None,
) -> SuperresResult:
    """Super-resolve ``request.input`` 4x into ``request.output``; ``log`` hears each note.

    The input is opened as ``describe`` opens it (:func:`job_input`: PDS3/PDS4 labels,
    PNG/JPEG...); one without a CRS is refused unless the config says what to assume."""
    cfg = request.config
    with job_input(request.input, assume_crs=cfg.assume_crs, pixel_size=cfg.pixel_size) as opened:
        return _superresolve_opened(request, opened, progress=progress, cancel=cancel, log=log)


def _superresolve_opened(
    request: SuperresRequest, opened: JobInput, *, progress, cancel, log
) -> SuperresResult:
    from marsspec.core.superres.model import load_generator
    from marsspec.core.superres.predictor import SuperresPredictor
    from marsspec.core.tiling import OutputSpec
    from marsspec.core.tiling.rescale import plan_scale, run_tiled_at_scale

    events: list[str] = []

    def say(text: str) -> None:
        logger.info(text)
        events.append(text)
        if log is not None:
            log(text)

    cfg = request.config
    source = Path(request.input)  # what the user named: the provenance names it
    readable = opened.path  # what GDAL reads (a VRT for PDS labels and assumed CRSs)
    output_path = request.output
    outputs = request.output_set()
    for note in opened.notes:
        say(note)
    with open_raster(readable) as src:
        bands = _choose_bands(src.count, cfg.bands, source.name)
        if min(src.width, src.height) < MIN_SIZE:
            raise InputError(
                f"{source.name} is {src.width}x{src.height} px; super-resolution needs at least "
                f"{MIN_SIZE}x{MIN_SIZE} px. Use a larger extent."
            )
        georeferenced = opened.georeferenced  # job_input refused one without a CRS
        body_warning = check_mars_body(src.crs, source.name, allow_non_mars=cfg.allow_non_mars)
        stats = _decimated(src, bands)
        descriptions = tuple(src.descriptions[b - 1] or f"band {b}" for b in bands)
        band_tags = tuple(
            {k: v for k, v in src.tags(b).items() if k.lower().startswith(("wavelength", "unit"))}
            for b in bands
        )
    scale = plan_scale(
        readable,
        load_manifest(cfg.manifest_path).get(cfg.model).pixel_size_m,
        rescale=cfg.rescale,
        model_id=cfg.model,
        name=source.name,
    )
    if body_warning:
        say(body_warning)
    if scale.rescale:
        say(scale.note)
    colour_mode = cfg.colour_mode if len(bands) >= 3 else "per-band"
    if cfg.colour_mode == "hsv" and len(bands) == 2:
        say("HSV needs 3 or more bands; super-resolving the 2 bands one by one (per-band).")
    normalisers = list(cfg.normalisers or normalisers_for(stats, colour_mode))
    loaded = load_generator(
        cfg.model, cfg.fidelity, manifest_path=cfg.manifest_path, device="cpu", noise=cfg.noise
    )
    predictor = SuperresPredictor(loaded.network, normalisers, colour_mode)
    tiling = tiling_config(cfg, bands)
    ranges = ";".join(f"{n.lo:.6g},{n.hi:.6g}" for n in normalisers)
    spec = OutputSpec(
        output_path,
        scale=SCALE,
        descriptions=tuple(f"{d} (SR x4)" for d in descriptions),
        band_tags=band_tags,
        tags={
            "MARSSPEC_SR_COLOUR_MODE": colour_mode,
            "MARSSPEC_SR_FIDELITY": "model" if cfg.fidelity is None else f"{cfg.fidelity:g}",
            "MARSSPEC_SR_NORMALISATION": f"robust 0.5-99.5% affine: {ranges}",
            "MARSSPEC_SR_NOISE": str(bool(cfg.noise)).lower(),
            "MARSSPEC_SR_BLENDING": cfg.blending,
            "MARSSPEC_SR_GEOREFERENCED": "assumed" if opened.assumed else "true",
            **opened.tags,  # the CRS the user told marsspec to assume, if any
        },
    )
    with warnings.catch_warnings(), outputs:
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        result = run_tiled_at_scale(  # at the model's pixel size, output on the input's grid
            readable,
            predictor,
            spec,
            tiling,
            scale,
            model_id=loaded.model_id,
            weights_sha256=loaded.weights_sha256,
            algorithm="marsspec:superresolve",
            progress=progress,
            cancel=cancel,
            log=log,
            staging=outputs,
            provenance_inputs=[source],
        )
    with rasterio.open(result.outputs[0]) as out:
        width, height = out.width, out.height
    return SuperresResult(
        output=result.outputs[0],
        bands=bands,
        colour_mode=colour_mode,
        model_id=loaded.model_id,
        width=width,
        height=height,
        seconds=result.seconds,
        device=result.device,
        precision=result.precision,
        georeferenced=georeferenced,
        outputs={"OUTPUT": result.outputs[0]},
        events=(*events, *result.events),
    )
