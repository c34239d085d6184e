"""CRISM-to-CTX co-registration, end to end (paper 000 Appendix A.1).

open + check -> matching band -> both bands warped onto one matching grid -> arosics global
shift -> arosics tie-point grid -> one smooth correction (or the global shift when too few
reliable points) -> all CRISM bands resampled onto a CTX window + the CTX cut-out + tie points.
Outputs appear only when everything succeeded (temporary names, renamed at the end).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from marsspec.core.coreg import apply as apply_mod
from marsspec.core.coreg.bands import choose_bands
from marsspec.core.coreg.config import CoregConfig
from marsspec.core.coreg.field import CorrectionField, global_field, local_field
from marsspec.core.coreg.grid import despike, matching_grid, warp_band
from marsspec.core.coreg.inputs import (
    open_pair,
    overlap_in_reference_crs,
    target_bounds_in_reference_crs,
)
from marsspec.core.coreg.match import GlobalShift, TiePoints, global_shift, local_tie_points
from marsspec.core.coreg.quality import corrected_on_grid, ssim
from marsspec.core.coreg.tiepoints import write_tie_points
from marsspec.core.errors import InputError
from marsspec.core.io.product import Product
from marsspec.core.io.safety import OutputSet, same_file
from marsspec.core.jobs import Feedback
from marsspec.core.provenance import provenance_tags


@dataclass
class CoregResult:
    """What happened, for the log, the QGIS results and the provenance tags."""

    method: str  # "local" or "global"
    reference_band: int
    target_band: int
    target_wavelength_nm: float | None
    matching_pixel_m: float
    global_shift_x_m: float | None
    global_shift_y_m: float | None
    global_shift_x_px: float | None  # matching-grid px
    global_shift_y_px: float | None
    grid_points: int
    valid_points: int
    used_points: int
    mean_shift_m: float
    median_shift_m: float
    mean_shift_px: float
    median_shift_px: float
    ssim_before: float
    ssim_after: float
    valid_fraction: float
    width: int
    height: int
    seconds: float
    messages: list[str] = field(default_factory=list)
    correction: CorrectionField | None = field(default=None, repr=False)
    outputs: dict[str, Path] = field(default_factory=dict)  # OUTPUT, OUTPUT_CTX, TIE_POINTS

    @property
    def events(self) -> list[str]:
        """The job contract's name for the run's messages."""
        return self.messages

    def summary(self) -> dict[str, float | int | str]:
        skip = {"messages", "correction", "outputs"}
        return {k: v for k, v in asdict(self).items() if k not in skip and v is not None}

    def summary_text(self) -> str:
        g = (
            f"global shift {self.global_shift_x_m:+.2f} m / {self.global_shift_y_m:+.2f} m "
            f"(x/y; {self.global_shift_x_px:+.2f} / {self.global_shift_y_px:+.2f} px)"
            if self.global_shift_x_m is not None
            else "no global shift found"
        )
        return (
            f"{g}; correction: {self.method}; tie points valid {self.valid_points} of "
            f"{self.grid_points}, used {self.used_points}; shift mean {self.mean_shift_m:.2f} m, "
            f"median {self.median_shift_m:.2f} m; SSIM before {self.ssim_before:.3f}, "
            f"after {self.ssim_after:.3f}"
        )


@dataclass(frozen=True)
class CoregRequest:
    """Co-register ``target`` (CRISM) to ``reference`` (CTX): the CRISM bands resampled onto
    a CTX window (``output``), the matching CTX cut-out (``output_ctx``) and, optionally, the
    tie points (``output_points``, GeoPackage). Checks itself when made."""

    reference: str | Path
    target: str | Path
    output: str | Path
    output_ctx: str | Path
    output_points: str | Path | None = None
    config: CoregConfig = field(default_factory=CoregConfig)

    def __post_init__(self) -> None:
        self.config.validate()
        if Path(self.reference).exists() and same_file(self.reference, self.target):
            raise InputError(
                f"The CTX reference and the CRISM target are the same file "
                f"({Path(self.target).name}); give the CRISM product as the target."
            )
        self.output_set()

    def output_set(self) -> OutputSet:
        return OutputSet(
            {
                "OUTPUT": self.output,
                "OUTPUT_CTX": self.output_ctx,
                "TIE_POINTS": self.output_points,
            },
            inputs=[self.reference, self.target],
            kinds={"OUTPUT": "raster", "OUTPUT_CTX": "raster", "TIE_POINTS": "vector"},
        )


@dataclass
class Registration:
    """A solved co-registration, before anything is written: the opened products, the
    correction field, the reference (CTX) window the target covers, the run's facts and the
    provenance tags. :func:`coregister` writes it one way, the training-pair job another."""

    reference: Product
    target: Product
    window: object  # rasterio Window on the reference
    correction: CorrectionField
    points: TiePoints
    used: np.ndarray
    result: CoregResult
    tags: dict[str, str]


def register(
    reference_path,
    target_path,
    config: CoregConfig,
    *,
    say: Callable[[str], None],
    stage: Callable[[float], None],
    algorithm: str = "coregister",
) -> Registration:
    """Open, match and solve the correction (``stage`` fractions 0-0.65); writes nothing."""
    stage(0.0)
    reference, target = open_pair(reference_path, target_path, config.allow_non_mars)
    overlap = overlap_in_reference_crs(reference, target)
    bands = choose_bands(reference, target, config.crism_band, config.reference_band)
    say(
        f"Matching CRISM band {bands.target} ({bands.reason}) with reference band "
        f"{bands.reference}."
    )
    grid = matching_grid(reference, target, overlap, config.window_size, config.oversample)
    say(
        f"Matching grid: {grid.width} x {grid.height} px at {grid.pixel_m:.2f} m in the "
        "reference CRS."
    )
    stage(0.03)
    ref_image = warp_band(reference, bands.reference, grid, "average")
    tgt_image = warp_band(target, bands.target, grid, "bilinear")
    if config.despike:
        tgt_image, spikes = despike(tgt_image)
        if spikes:
            say(f"Ignored {spikes} hot/cold pixels of the matching band for matching.")
    stage(0.08)

    shift = global_shift(ref_image, tgt_image, grid, config, say)
    if shift is not None:
        say(
            f"Global shift: x {shift.x_m:+.2f} m, y {shift.y_m:+.2f} m "
            f"({shift.x_px:+.2f} / {shift.y_px:+.2f} px), reliability {shift.reliability:.0f} %."
        )
    stage(0.2)

    points = TiePoints.empty()
    if not config.global_only:
        points = local_tie_points(ref_image, tgt_image, grid, config, say)
    used = points.used(config.min_reliability)
    stage(0.6)
    correction = _choose_field(points, used, shift, grid, config, say)
    ssim_before = ssim(ref_image, tgt_image)
    ssim_after = ssim(ref_image, corrected_on_grid(tgt_image, grid, correction))
    del ref_image, tgt_image
    stage(0.65)

    window = apply_mod.output_window(
        reference, target_bounds_in_reference_crs(reference, target), correction
    )
    shifts_m = (
        np.hypot(points.x_shift_m[used], points.y_shift_m[used])
        if correction.method == "local"
        else np.array([np.hypot(shift.x_m, shift.y_m)])
    )
    result = CoregResult(
        method=correction.method,
        reference_band=bands.reference,
        target_band=bands.target,
        target_wavelength_nm=bands.target_wavelength_nm,
        matching_pixel_m=grid.pixel_m,
        global_shift_x_m=shift.x_m if shift else None,
        global_shift_y_m=shift.y_m if shift else None,
        global_shift_x_px=shift.x_px if shift else None,
        global_shift_y_px=shift.y_px if shift else None,
        grid_points=points.grid_points,
        valid_points=len(points),
        used_points=int(used.sum()),
        mean_shift_m=float(shifts_m.mean()),
        median_shift_m=float(np.median(shifts_m)),
        mean_shift_px=float(shifts_m.mean() / grid.target_pixel),
        median_shift_px=float(np.median(shifts_m) / grid.target_pixel),
        ssim_before=ssim_before,
        ssim_after=ssim_after,
        valid_fraction=0.0,
        width=int(window.width),
        height=int(window.height),
        seconds=0.0,
        correction=correction,
    )
    tags = provenance_tags(
        algorithm=algorithm,
        inputs=[reference.path, target.path],
        parameters={
            **{f"coreg_{k}": v for k, v in config.to_dict().items()},
            **{
                f"coreg_result_{k}": _fmt(v)
                for k, v in result.summary().items()
                if k not in ("seconds", "valid_fraction", "width", "height")
            },
        },
    )
    return Registration(reference, target, window, correction, points, used, result, tags)


def coregister(
    request: CoregRequest,
    *,
    progress: Callable[[float], object] | None = None,
    cancel: Callable[[], bool] | None = None,
    log: Callable[[str], object] | None = None,
) -> CoregResult:
    """Co-register as ``request`` says; see the module docstring."""
    config = request.config
    start = time.perf_counter()
    feedback = Feedback(progress, cancel, log, "Co-registration cancelled; no output was written.")
    messages, say, stage, is_cancelled = (
        feedback.messages,
        feedback.say,
        feedback.stage,
        feedback.cancelled,
    )

    outputs = request.output_set()
    solved = register(request.reference, request.target, config, say=say, stage=stage)
    reference, target, window = solved.reference, solved.target, solved.window
    result, tags = solved.result, solved.tags
    result.messages = messages
    names = _band_names(target)
    pixels = int(window.width) * int(window.height)
    itemsize = np.dtype(reference.dtype).itemsize
    size = pixels * (4 * target.count + itemsize * reference.count)  # both rasters, uncompressed
    outputs.require_space(size, "the co-registered rasters", at_least=size // 20)
    with outputs:  # all three published together, or none
        temp_target = outputs.temp("OUTPUT")
        temp_reference = outputs.temp("OUTPUT_CTX")
        temp_points = outputs.temp("TIE_POINTS") if "TIE_POINTS" in outputs else None
        result.valid_fraction = apply_mod.write_corrected_target(
            temp_target,
            reference,
            target,
            window,
            solved.correction,
            config.block_rows,
            {**tags, "MARSSPEC_ROLE": "co-registered CRISM (target) on the CTX grid"},
            names,
            lambda f: stage(0.65 + 0.3 * f),
            is_cancelled,
        )
        stage(0.95)
        apply_mod.write_reference_cutout(
            temp_reference,
            reference,
            window,
            config.block_rows,
            {**tags, "MARSSPEC_ROLE": "CTX (reference) cut-out matching the CRISM output"},
            is_cancelled,
        )
        if temp_points is not None:
            write_tie_points(temp_points, solved.points, solved.used, reference.crs.to_wkt())
        stage(0.99)
    result.seconds = time.perf_counter() - start
    result.outputs = dict(outputs.finals)
    say(f"Co-registration: {result.summary_text()}.")
    if progress is not None:
        progress(1.0)
    return result


def _choose_field(
    points: TiePoints,
    used: np.ndarray,
    shift: GlobalShift | None,
    grid,
    config: CoregConfig,
    say: Callable[[str], None],
) -> CorrectionField:
    if not config.global_only and used.sum() >= config.min_points:
        t = grid.transform
        bounds = (t.c, t.f + grid.height * t.e, t.c + grid.width * t.a, t.f)
        step = grid.target_pixel * max(1.0, config.grid_spacing / 4)
        say(f"Local correction from {int(used.sum())} reliable tie points of {len(points)} valid.")
        return local_field(points, used, bounds, step, config.smoothing)
    if shift is None:
        raise InputError(
            "arosics found no valid match between the CRISM band and the reference (no global "
            f"shift, {int(used.sum())} reliable tie points): check that the images show the "
            "same ground, try another matching band, a larger window size or max shift, or "
            "a lower minimum reliability."
        )
    if not config.global_only:
        say(
            f"Only {int(used.sum())} reliable tie points (fewer than {config.min_points}): "
            "falling back to the global shift for the whole image."
        )
    return global_field(shift)


def _band_names(target) -> list[str]:
    names = []
    for index in range(target.count):
        name = target.band_names[index] if index < len(target.band_names) else ""
        wavelength = target.wavelengths_nm[index]
        label = name or f"band {index + 1}"
        if wavelength is not None and f"{wavelength:g}" not in label:
            label = f"{label} ({wavelength:g} nm)"
        names.append(label)
    return names


def _fmt(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
