"""One prediction run: check everything, load the model, normalise, tile, write, browse.

All checks that can fail (input bands, nodata, model checksum, confidence from a regression
model) run before the first byte is written; a failure or cancel later removes every output
this run created, so a user never finds a half-made product.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from marsspec.core.errors import CancelledError, InputError
from marsspec.core.io.georef import check_assumption
from marsspec.core.io.mars_crs import check_mars_body
from marsspec.core.io.opening import JobInput, job_input, open_raster
from marsspec.core.io.safety import OutputSet
from marsspec.core.io.stack import stack_with_dem
from marsspec.core.models.bins import RECONSTRUCTIONS, BinSpec
from marsspec.core.models.confidence import MEASURES
from marsspec.core.models.confidence import describe as describe_measure
from marsspec.core.models.manifest import ModelEntry, load_manifest
from marsspec.core.models.normalisation import (
    TABLE_A1,
    ChannelStats,
    check_mode,
    raster_stats,
    table_a1,
)
from marsspec.core.tiling.rescale import ScalePlan, plan_scale, run_tiled_at_scale
from marsspec.core.tiling.weights import BLENDINGS

logger = logging.getLogger("marsspec.spectral")

PAPER = "Stepcenkov, Wilhelm, Wöhler (2022), Remote Sensing 14, 3457"


def check_parameters(req) -> None:
    """The checks of the model and tiling fields that :class:`PredictRequest` and the pixel
    inspector's :class:`~marsspec.core.spectral.window.WindowRequest` share."""
    s = req.stride_factor
    if s is not None and (isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= 4):
        raise InputError(
            f"Stride factor {s!r} must be 1, 2, 3 or 4 (stride = patch / s; 2 is the "
            "paper's default, 1 means no overlap)."
        )
    if not isinstance(req.batch_size, int) or req.batch_size < 1:
        raise InputError(f"Batch size {req.batch_size!r} must be a whole number >= 1.")
    if req.band is not None and (not isinstance(req.band, int) or req.band < 1):
        raise InputError(f"Band {req.band!r}: band numbers start at 1.")
    check_mode(req.normalisation)
    if req.blending not in BLENDINGS:
        raise InputError(f"Blending {req.blending!r}: use one of {BLENDINGS}.")
    if req.reconstruction not in RECONSTRUCTIONS:
        raise InputError(f"Reconstruction {req.reconstruction!r}: use one of {RECONSTRUCTIONS}.")
    if req.confidence_measure not in MEASURES:
        raise InputError(f"Confidence measure {req.confidence_measure!r}: use one of {MEASURES}.")


@dataclass(frozen=True)
class PredictRequest:
    """One spectral prediction (and/or bin confidence); checks itself when made."""

    input: str | Path
    output: str | Path | None
    model: str = "evc-regression"
    band: int | None = None
    stride_factor: int | None = None
    blending: str = "gaussian"
    normalisation: str = "image"
    target_stats: list[tuple[float, float]] | None = None  # user (mean, std) per band -> I/F
    reconstruction: str = "weighted"
    browse: str | Path | None = None
    confidence: str | Path | None = None
    confidence_measure: str = "max_probability"
    device: str = "auto"
    precision: str = "auto"
    batch_size: int = 8
    manifest: str | Path | None = None
    dem: str | Path | None = None  # for models with a DEM channel (in_channels 2)
    allow_non_mars: bool = False  # run on an input whose CRS is not a Mars one
    # an input > 25 % off the model's pixel size: resample it on the fly (False: refuse it)
    rescale: bool = True
    # an input without a CRS: refused, unless "mars" with pixel_size metres (--assume-crs)
    assume_crs: str | None = None
    pixel_size: float | None = None
    # image statistics computed once elsewhere, raster_stats' signature (core/scaleout: a
    # raster run in blocks normalises every block with the whole raster's); None: here
    statistics: Callable[..., list[ChannelStats]] | None = None

    def __post_init__(self) -> None:
        check_parameters(self)
        check_assumption(self.assume_crs, self.pixel_size)
        if not (self.output or self.confidence):
            raise InputError("Nothing to write: give an OUTPUT and/or a CONFIDENCE path.")
        if self.browse and not self.output:
            raise InputError("BROWSE is made from OUTPUT; give an OUTPUT path too.")
        self.output_set()  # every output path checked against the inputs, nothing touched

    def output_set(self) -> OutputSet:
        """The job's outputs, checked (same file as an input, folder, extension...)."""
        return OutputSet(
            {"OUTPUT": self.output, "CONFIDENCE": self.confidence, "BROWSE": self.browse},
            inputs=[self.input, self.dem],
        )


@dataclass
class PredictResult:
    """``outputs``: OUTPUT / CONFIDENCE / BROWSE -> path; ``events``: what the user should know
    (warnings, then the engine's precision and out-of-memory steps)."""

    outputs: dict[str, Path] = field(default_factory=dict)
    units: str = ""
    warnings: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    device: str = ""
    precision: str = ""
    seconds: float = 0.0


def input_band(
    path: Path, band: int | None, allow_non_mars: bool = False, *, name: str | None = None
) -> tuple[int, list[str]]:
    """The band to use and warnings (a non-Mars CRS when allowed); ``name`` names the input
    in messages (default ``path``'s name). A job refuses an input without a CRS earlier
    (:func:`~marsspec.core.io.opening.job_input`)."""
    name = name or path.name
    with open_raster(path) as src:
        count, crs = src.count, src.crs
    body_warning = check_mars_body(crs, name, allow_non_mars=allow_non_mars)
    if band is None:
        if count > 1:
            raise InputError(
                f"{name} has {count} bands; choose the CTX band with BAND (1..{count})."
            )
        band = 1
    if not 1 <= band <= count:
        raise InputError(f"Band {band} does not exist: {name} has band(s) 1..{count}.")
    return band, [body_warning] if body_warning else []


def _entry_value(entry: ModelEntry, key: str):
    """A manifest field of a user model (``target_stats``, ``target_units``, ``band_names``):
    an attribute of the entry, or one of its extra keys; None when absent."""
    value = getattr(entry, key, None)
    return value if value is not None else entry.extra.get(key)


def _target_stats(entry: ModelEntry) -> list[tuple[float, float]] | None:
    """The training set's per-band target [mean, std] an exported model carries, if usable."""
    stats = _entry_value(entry, "target_stats")
    try:
        pairs = [(float(m), float(s)) for m, s in stats] if stats else None
    except (TypeError, ValueError):
        return None
    if not pairs or len(pairs) != len(entry.bands) or any(not s > 0 for _, s in pairs):
        return None
    return pairs


def _output_plan(entry: ModelEntry, req: PredictRequest, input_stats):
    """Output statistics (None = normalised units) and a units label.

    Order: the user's ``target_stats``; else the training set's target statistics the model
    carries (``target_stats`` in its manifest entry, from ``marsspec train``/``export``), with
    the units of that target (``target_units``); else Table A1 (``global``); else z-scores."""
    names = [f"{float(b['wavelength_nm']):g}" for b in entry.bands]
    target_units = str(_entry_value(entry, "target_units") or "").strip()
    if req.target_stats:
        if len(req.target_stats) != len(entry.bands):
            raise InputError(
                f"{len(req.target_stats)} target statistics given but model {entry.id} predicts "
                f"{len(entry.bands)} bands; give one mean,std pair per band."
            )
        stats = [ChannelStats(float("-inf"), float("inf"), m, s) for m, s in req.target_stats]
        units = target_units or "I/F"
        return stats, units, f"{units} (converted with user-given target statistics)"
    trained = _target_stats(entry)
    if trained is not None:
        stats = [ChannelStats(float("-inf"), float("inf"), m, s) for m, s in trained]
        units = target_units or "target units"
        return stats, units, f"{units} (converted with the training set's target statistics)"
    if req.normalisation == "global" and all(n in TABLE_A1 for n in names):
        return [table_a1(n) for n in names], "I/F", "I/F (converted with Table A1 statistics)"
    label = {"image": "image-wise", "patch": "patch-wise", "global": "global"}[req.normalisation]
    return None, "normalised", f"normalised, {label} z-score, not I/F"


def _descriptions(entry: ModelEntry, units: str) -> tuple[tuple[str, ...], tuple[dict, ...]]:
    """Band descriptions and tags: the target's band names a trained model carries
    (``band_names``, e.g. R2529), else the manifest's band names, with wavelength and units."""
    desc, tags = [], []
    band_names = _entry_value(entry, "band_names") or []
    if len(band_names) != len(entry.bands):
        band_names = [None] * len(entry.bands)
    for b, trained_name in zip(entry.bands, band_names, strict=True):
        lam = float(b["wavelength_nm"])
        name = str(trained_name or b.get("name") or "band")
        shown = name if f"{lam:g}" in name else f"{name} {lam:g} nm"
        desc.append(f"{shown} ({units})")
        tags.append(
            {
                "WAVELENGTH_NM": f"{lam:g}",
                "wavelength": f"{lam / 1000:g}",
                "wavelength_units": "micrometers",
                "units": units,
            }
        )
    return tuple(desc), tuple(tags)


def load_entry(req: PredictRequest) -> ModelEntry:
    entry = load_manifest(req.manifest).get(req.model)
    if not entry.task.startswith("spectra"):
        raise InputError(
            f"Model {entry.id!r} is a {entry.task} model; choose a spectral model "
            "(evc-regression, fc-regression, evc-bins20)."
        )
    return entry


def predict_spectra(
    req: PredictRequest,
    *,
    progress: Callable[[float], object] | None = None,
    cancel: Callable[[], bool] | None = None,
    log: Callable[[str], object] | None = None,
) -> PredictResult:
    """Run the prediction described by ``req``; see the module docstring for guarantees.

    ``log`` receives the run's warnings (also kept in ``result.events``). The input is opened
    as ``describe`` opens it (PDS3/PDS4 labels, PNG/JPEG...: :func:`job_input`); one without
    a CRS is refused unless ``req.assume_crs`` says what to assume."""
    with job_input(req.input, assume_crs=req.assume_crs, pixel_size=req.pixel_size) as opened:
        return _predict_opened(req, opened, progress=progress, cancel=cancel, log=log)


def _predict_opened(req: PredictRequest, opened: JobInput, *, progress, cancel, log):
    source = Path(req.input)  # what the user named: the provenance names it
    readable = opened.path  # what GDAL reads (a VRT for PDS labels and assumed CRSs)
    band, warnings = input_band(readable, req.band, req.allow_non_mars, name=source.name)
    warnings[:0] = opened.notes
    outputs = req.output_set()
    entry = load_entry(req)
    scale = plan_scale(
        readable, entry.pixel_size_m, rescale=req.rescale, model_id=entry.id, name=source.name
    )
    if scale.rescale:
        warnings.append(scale.note)
    bins = entry_bins(entry)
    if req.confidence and bins is None:
        raise InputError(
            f"Model {entry.id!r} is a regression model and has no bin probabilities, so it "
            "cannot give a confidence; choose a bin model such as evc-bins20, or drop CONFIDENCE."
        )
    for w in warnings:
        logger.warning(w)
        if log:
            log(w)
    check_dem_matches(entry, req)
    network = entry.build("cpu")  # verifies the sha256 first
    with contextlib.ExitStack() as stack:
        folder = (
            stack.enter_context(tempfile.TemporaryDirectory(prefix="marsspec-dem-"))
            if req.dem
            else None
        )
        source_for_model, bands = model_source(req, band, folder, readable)
        return _predict(
            req,
            entry,
            network,
            source,
            source_for_model,
            bands,
            warnings,
            outputs,
            progress=progress,
            cancel=cancel,
            log=log,
            scale=scale,
            input_tags=opened.tags,
        )


def entry_bins(entry: ModelEntry) -> BinSpec | None:
    """The bins of a bin model; None for a regression model."""
    return BinSpec.from_dict(entry.bins) if entry.task == "spectra-bins" else None


def model_source(
    req, band: int, folder: str | Path | None, readable: str | Path | None = None
) -> tuple[Path, tuple[int, ...]]:
    """The raster the model reads and its bands: the input's band, or (with a DEM) a VRT in
    ``folder`` stacking that band and the DEM warped onto its grid (bands 1 and 2).
    ``readable``: the input as GDAL reads it (:class:`JobInput` ``.path``; default the input)."""
    source = Path(readable if readable is not None else req.input)
    if req.dem:
        return stack_with_dem(source, band, req.dem, folder), (1, 2)
    return source, (band,)


@dataclass(frozen=True)
class SpectralSetup:
    """The predictor of a run and what it implies: statistics, units, bins."""

    predictor: object  # a SpectralPredictor (torch is imported when a job runs)
    input_stats: list[ChannelStats] | None  # None: patch-wise
    output_stats: list[ChannelStats] | None  # None: normalised units
    units: str  # "I/F" or "normalised"
    units_text: str
    bins: BinSpec | None


def build_predictor(
    req,
    entry: ModelEntry,
    network,
    source_for_model: Path,
    bands: tuple[int, ...],
    *,
    stats: Callable[..., list[ChannelStats]] = raster_stats,
    cancel: Callable[[], bool] | None = None,
    note: Callable[[str], object] | None = None,
    probabilities: bool = False,
) -> SpectralSetup:
    """entry -> input statistics -> output statistics -> :class:`SpectralPredictor`.

    The one builder of the job and of the pixel inspector (:mod:`marsspec.core.spectral.window`),
    so both normalise with the same statistics (the entry's ``clip_percent``, full-image
    statistics of the raster the model reads) and reconstruct the same way. ``stats`` computes
    image statistics (:func:`raster_stats`' signature; the inspector passes a cached one).
    ``probabilities``: also return the bin probabilities (the inspector's bars).
    """
    clip = float(entry.normalisation.get("clip_percent", 0.01))
    if req.normalisation == "image":
        input_stats = stats(source_for_model, bands, clip, cancel=cancel, warn=note)
    elif req.normalisation == "global":  # Table A1 has CTX only: a DEM is z-scored per image
        dem_stats = stats(source_for_model, (2,), clip, cancel=cancel, warn=note) if req.dem else []
        input_stats = [table_a1("ctx"), *dem_stats]
    else:
        input_stats = None
    output_stats, units, units_text = _output_plan(entry, req, input_stats)
    bins = entry_bins(entry)
    from marsspec.core.spectral.predictor import SpectralPredictor

    predictor = SpectralPredictor(
        network,
        input_stats=input_stats,
        output_stats=output_stats,
        bins=bins,
        reconstruction=req.reconstruction,
        confidence_measure=req.confidence_measure if getattr(req, "confidence", None) else None,
        probabilities=probabilities,
    )
    return SpectralSetup(predictor, input_stats, output_stats, units, units_text, bins)


def tiling_config(req, entry: ModelEntry, bands: tuple[int, ...]):
    """The job's tiling: the model's patch size, the request's stride factor (else the
    model's ``default_stride_factor``), blending, device, precision and batch size."""
    from marsspec.core.tiling import TilingConfig

    s = entry.default_stride_factor if req.stride_factor is None else req.stride_factor
    return TilingConfig(
        d=int(entry.patch_size),
        s=int(s),
        blending=req.blending,
        device=req.device,
        precision=req.precision,
        bands=bands,
        batch_size=req.batch_size,
    )


def check_dem_matches(entry: ModelEntry, req: PredictRequest) -> None:
    if entry.in_channels == 2 and not req.dem:
        raise InputError(
            f"Model {entry.id!r} reads CTX and a DEM; give the DEM of the scene (any Mars "
            "projection and resolution: it is warped onto the CTX grid)."
        )
    if entry.in_channels == 1 and req.dem:
        raise InputError(
            f"Model {entry.id!r} reads CTX only; drop the DEM or choose a model trained with "
            "a DEM channel."
        )


def _predict(
    req: PredictRequest,
    entry: ModelEntry,
    network,
    source: Path,
    source_for_model: Path,
    bands: tuple[int, ...],
    warnings: list[str],
    outputs: OutputSet,
    *,
    progress: Callable[[float], object] | None,
    cancel: Callable[[], bool] | None,
    log: Callable[[str], object] | None = None,
    scale: ScalePlan | None = None,
    input_tags: dict[str, str] | None = None,
) -> PredictResult:
    from marsspec.core.tiling import OutputSpec

    scale = scale or ScalePlan(None, None, note="pixel size not checked")

    def note(text: str) -> None:  # statistics' warnings (special pixels) reach the user too
        logger.warning(text)
        warnings.append(text)
        if log:
            log(text)

    stats = req.statistics or raster_stats
    setup = build_predictor(
        req, entry, network, source_for_model, bands, stats=stats, cancel=cancel, note=note
    )
    input_stats, units, units_text, bins = (
        setup.input_stats,
        setup.units,
        setup.units_text,
        setup.bins,
    )
    common = {
        "MARSSPEC_PRODUCT": entry.product,
        "MARSSPEC_TASK": entry.task,
        "MARSSPEC_UNITS": units_text,
        "MARSSPEC_NORMALISATION": req.normalisation,
        "MARSSPEC_TRAINED_ON": "SIMULATED scenes" if entry.simulated else "real pairs",
        "MARSSPEC_METHOD": f"CTX -> CRISM bands, {PAPER}",
        **scale.tags(),
        **(input_tags or {}),  # the CRS the user told marsspec to assume, if any
    }
    if input_stats is not None:
        common["MARSSPEC_INPUT_STATS"] = ",".join(
            f"{k}={v:.6g}" for k, v in input_stats[0].to_dict().items()
        )
    if req.dem:
        common["MARSSPEC_DEM_STATS"] = (
            ",".join(f"{k}={v:.6g}" for k, v in input_stats[1].to_dict().items())
            if input_stats
            else "patch-wise"
        )
    if bins is not None:
        common["MARSSPEC_BINS"] = (
            f"{bins.count} {bins.spacing} in [-{bins.range:g}, {bins.range:g}]"
        )
        common["MARSSPEC_RECONSTRUCTION"] = req.reconstruction
    desc, band_tags = _descriptions(entry, units_text)
    specs = []
    if req.output:
        specs.append(
            OutputSpec(
                req.output, source="values", descriptions=desc, band_tags=band_tags, tags=common
            )
        )
    if req.confidence:
        names = [d.split(" (")[0] for d in desc] + ["overall"]
        measure = describe_measure(req.confidence_measure)
        specs.append(
            OutputSpec(
                req.confidence,
                source="confidence",
                descriptions=tuple(f"confidence {n}: {measure}" for n in names),
                tags={**common, "MARSSPEC_CONFIDENCE_MEASURE": req.confidence_measure},
            )
        )
    config = tiling_config(req, entry, bands)
    result = PredictResult(units=units, warnings=warnings)
    with outputs:  # publishes every output together, or none of them
        tiled = run_tiled_at_scale(  # at the model's pixel size, output on the input's grid
            source_for_model,
            setup.predictor,
            specs,
            config,
            scale,
            model_id=entry.id,
            weights_sha256=entry.sha256,
            algorithm="marsspec:predictspectra",
            progress=progress,
            cancel=cancel,
            staging=outputs,
            # the engine reads a temporary VRT when a DEM is stacked: name the user's files
            provenance_inputs=[source, Path(req.dem)] if req.dem else [source],
        )
        if req.browse:
            from marsspec.core.spectral.browse_writer import write_browse

            if cancel is not None and cancel():
                raise CancelledError("Cancelled before the browse product; nothing was written.")
            write_browse(
                outputs.temp("OUTPUT"), outputs.temp("BROWSE"), {**tiled.tags, **common}, desc
            )
    result.outputs = dict(outputs.finals)
    result.events = [*warnings, *tiled.events]
    result.device, result.precision, result.seconds = tiled.device, tiled.precision, tiled.seconds
    return result
