"""Run a model at the pixel size it was trained at; write the output on the input's grid.

Every model declares the ground pixel size of its training data (``pixel_size_m`` in its
manifest entry; None: no check). An input whose pixel size (from its CRS and transform, or an
assumed CRS) is more than :data:`TOLERANCE` off is, by default, resampled on the fly to the
model's scale: a GDAL warped VRT in a temporary folder (average when shrinking, bilinear when
enlarging) is what the tiling engine reads, the engine writes the model-scale output into that
folder through an :class:`~marsspec.core.io.safety.OutputSet` of its own, and that output is
warped back onto the input's grid (``scale`` times finer for super-resolution) window by window
into the job's staged output (:func:`~marsspec.core.io.safety.create_raster`). Nothing is ever
held whole in memory: the VRTs are read by windows, the final output is written by row strips.

With rescaling turned off (``--no-rescale``, NO_RESCALE in QGIS, ``rescale=False``), such an
input is refused in one line naming both pixel sizes. Either way the outputs' tags say what
happened (:meth:`ScalePlan.tags`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marsspec.core.errors import CancelledError, InputError
from marsspec.core.io.opening import open_raster
from marsspec.core.io.reading import gdal_dataset
from marsspec.core.io.safety import OutputSet, check_writes, create_raster

TOLERANCE = 0.25  # an input more than 25 % off the model's pixel size is resampled
NO_RESCALE_FLAG = "--no-rescale (NO_RESCALE in QGIS)"


@dataclass(frozen=True)
class ScalePlan:
    """The pixel sizes of a run and whether the input is resampled to the model's scale.

    ``input_pixel_m``: (x, y) metres of the input, None without a CRS; ``model_pixel_m``: the
    model's, None when the model declares none (scale-free). ``rescale``: run on a warped VRT
    at ``model_pixel_m`` and warp the output back. ``note``: one line for the user.
    """

    input_pixel_m: tuple[float, float] | None
    model_pixel_m: float | None
    rescale: bool = False
    note: str = ""

    @property
    def input_size_m(self) -> float | None:
        """One number for the input's pixel size: the geometric mean of x and y."""
        if self.input_pixel_m is None:
            return None
        return math.sqrt(self.input_pixel_m[0] * self.input_pixel_m[1])

    @property
    def factor(self) -> float | None:
        """Input pixel size / model pixel size (3 for an 18 m input to a 6 m model)."""
        if self.input_size_m is None or not self.model_pixel_m:
            return None
        return self.input_size_m / self.model_pixel_m

    def tags(self) -> dict[str, str]:
        """What the outputs' tags say about the scales and the resampling."""
        size = self.input_size_m
        tags = {
            "MARSSPEC_INPUT_PIXEL_SIZE_M": "unknown (no CRS)" if size is None else f"{size:.6g}",
            "MARSSPEC_MODEL_PIXEL_SIZE_M": (
                "any (scale-free model)"
                if self.model_pixel_m is None
                else f"{self.model_pixel_m:g}"
            ),
            "MARSSPEC_RESCALED": str(self.rescale).lower(),
        }
        if self.factor is not None:
            tags["MARSSPEC_RESCALE_FACTOR"] = f"{self.factor:.6g}"
        if self.rescale:
            tags["MARSSPEC_RESCALE_METHOD"] = (
                f"input resampled to {self.model_pixel_m:g} m ({forward_resampling(self)}), "
                f"predicted there, output warped back onto the input grid "
                f"({backward_resampling(self)})"
            )
        if self.note:
            tags["MARSSPEC_RESCALE_NOTE"] = self.note
        return tags


def forward_resampling(plan: ScalePlan) -> str:
    """Input -> model scale: average when shrinking (finer input), bilinear when enlarging."""
    return "average" if (plan.factor or 1.0) < 1.0 else "bilinear"


def backward_resampling(plan: ScalePlan) -> str:
    """Model scale -> input grid: the reverse of :func:`forward_resampling`."""
    return "average" if (plan.factor or 1.0) > 1.0 else "bilinear"


def input_pixel_size(path: str | os.PathLike[str]) -> tuple[float, float] | None:
    """Ground pixel size (x, y) in metres of the raster at ``path``, at its central latitude
    for a geographic CRS; None when it has no CRS or only pixel coordinates."""
    from marsspec.core.io.mars_crs import pixel_size_m

    with open_raster(path) as src:
        crs, transform, height = src.crs, src.transform, src.height
    if crs is None or transform.is_identity:
        return None
    latitude = transform.f + transform.e * height / 2.0 if crs.is_geographic else None
    try:
        x, y = pixel_size_m(crs, transform, latitude)
    except InputError:
        return None
    if not (x > 0 and y > 0 and math.isfinite(x) and math.isfinite(y)):
        return None
    return float(x), float(y)


def plan_scale(
    path: str | os.PathLike[str],
    model_pixel_m: float | None,
    *,
    rescale: bool = True,
    model_id: str = "the model",
    name: str | None = None,
) -> ScalePlan:
    """Compare the input's pixel size with the model's; refuse (``rescale`` False) or plan
    the resampling of an input more than :data:`TOLERANCE` off. Reads only the header."""
    label = name or Path(path).name
    size = input_pixel_size(path)
    if model_pixel_m is None:
        return ScalePlan(size, None, False, f"model {model_id} is scale-free: no pixel size check")
    model = float(model_pixel_m)
    if not (model > 0 and math.isfinite(model)):
        raise InputError(
            f"Model {model_id!r} declares pixel_size_m {model_pixel_m!r}; its manifest entry "
            "needs a positive size in metres (or null for a scale-free model): re-export it."
        )
    if size is None:
        return ScalePlan(
            None,
            model,
            False,
            f"{label} has no CRS, so its pixel size is unknown and was not checked "
            f"against the model's {model:g} m",
        )
    plan = ScalePlan(size, model, False)
    off = abs(plan.factor - 1.0)
    if off <= TOLERANCE:
        return plan
    size_text = f"{plan.input_size_m:.3g} m"
    if not rescale:
        raise InputError(
            f"{label} has {size_text} pixels but model {model_id!r} was trained at {model:g} m "
            f"({off:.0%} off, more than {TOLERANCE:.0%}); drop {NO_RESCALE_FLAG} to resample "
            f"it to {model:g} m on the fly, or resample it first (gdalwarp -tr {model:g} "
            f"{model:g} -r {forward_resampling(plan)})."
        )
    return ScalePlan(
        size,
        model,
        True,
        f"{label} has {size_text} pixels, model {model_id} was trained at {model:g} m: "
        f"resampled to {model:g} m on the fly, output written back on the input's grid",
    )


def model_scale_vrt(
    path: str | os.PathLike[str], plan: ScalePlan, folder: str | os.PathLike[str]
) -> Path:
    """A float32 warped VRT of ``path`` at ``plan.model_pixel_m`` (same CRS and extent) in
    ``folder``; nodata becomes NaN. Only XML is written: GDAL warps when the engine reads."""
    from osgeo import gdal

    path = Path(path)
    with open_raster(path) as src:
        width, height, bounds, crs = src.width, src.height, src.bounds, src.crs
    x_factor = plan.model_pixel_m / plan.input_pixel_m[0]  # > 1: model pixels are larger
    y_factor = plan.model_pixel_m / plan.input_pixel_m[1]
    out = Path(folder) / f"{path.stem}-at-{plan.model_pixel_m:g}m.vrt"
    options = gdal.WarpOptions(
        format="VRT",
        outputBounds=(bounds.left, bounds.bottom, bounds.right, bounds.top),
        width=max(1, round(width / x_factor)),
        height=max(1, round(height / y_factor)),
        dstSRS=crs.to_wkt(),
        resampleAlg=forward_resampling(plan),
        outputType=gdal.GDT_Float32,
        dstNodata=float("nan"),
    )
    dataset = gdal_dataset(
        lambda: gdal.Warp(str(out), str(path), options=options),
        f"resample {path.name} to {plan.model_pixel_m:g} m",
        f"resample it to {plan.model_pixel_m:g} m first "
        f"(gdalwarp -tr {plan.model_pixel_m:g} {plan.model_pixel_m:g}).",
    )
    del dataset  # closing writes the VRT file
    return out


def run_tiled_at_scale(
    input_path: str | os.PathLike[str],
    predictor,
    outputs,
    config,
    plan: ScalePlan,
    *,
    staging: OutputSet,
    provenance_inputs: Sequence[str | os.PathLike[str]] | None = None,
    progress: Callable[[float], object] | None = None,
    cancel: Callable[[], bool] | None = None,
    log: Callable[[str], object] | None = None,
    **kwargs,
):
    """:func:`~marsspec.core.tiling.engine.run_tiled` at the model's pixel size.

    Without rescaling this is ``run_tiled`` with the plan's tags added to every output. With
    it, the engine reads a warped VRT of ``input_path`` at the model's scale and writes into
    a temporary folder; each output is then warped back onto ``input_path``'s grid (``scale``
    times finer) into ``staging``'s temporary file, row strip by row strip, masked where the
    input is nodata. ``staging`` (entered by the caller) publishes as usual.
    """
    from marsspec.core.tiling.engine import TilingResult, run_tiled
    from marsspec.core.tiling.outputs import OutputSpec

    source = Path(input_path)
    specs = (outputs,) if isinstance(outputs, OutputSpec) else tuple(outputs)
    specs = tuple(dataclasses.replace(s, tags={**s.tags, **plan.tags()}) for s in specs)
    named = list(provenance_inputs) if provenance_inputs is not None else [source]
    if not plan.rescale:
        return run_tiled(
            source,
            predictor,
            specs,
            config,
            staging=staging,
            provenance_inputs=named,
            progress=progress,
            cancel=cancel,
            log=log,
            **kwargs,
        )
    with open_raster(source) as src:
        grid = {"transform": src.transform, "width": src.width, "height": src.height}
    _require_final_space(staging, specs, grid)
    with tempfile.TemporaryDirectory(prefix="marsspec-rescale-") as folder:
        vrt = model_scale_vrt(source, plan, folder)
        inner_specs = tuple(
            dataclasses.replace(s, path=Path(folder) / f"model-scale-{i}.tif")
            for i, s in enumerate(specs)
        )
        inner = OutputSet({f"model-scale output {i}": s.path for i, s in enumerate(inner_specs)})
        with inner:
            result = run_tiled(
                vrt,
                predictor,
                inner_specs,
                config,
                staging=inner,
                provenance_inputs=named,
                progress=(lambda f: progress(0.9 * f)) if progress is not None else None,
                cancel=cancel,
                log=log,
                **kwargs,
            )
        for i, (spec, inner_spec) in enumerate(zip(specs, inner_specs, strict=True)):
            if cancel is not None and cancel():
                raise CancelledError("Cancelled while warping the output back; nothing written.")
            warp_back(
                Path(inner_spec.path),
                staging.temp_for(spec.path),
                spec,
                grid,
                plan,
                validity=(source, tuple(config.bands)),
                cancel=cancel,
            )
            if progress is not None:
                progress(0.9 + 0.1 * (i + 1) / len(specs))
    return TilingResult(
        **{
            **{f.name: getattr(result, f.name) for f in dataclasses.fields(TilingResult)},
            "outputs": tuple(Path(s.path) for s in specs),
        }
    )


def _require_final_space(staging: OutputSet, specs, grid: dict) -> None:
    total = sum(
        grid["width"] * grid["height"] * s.scale**2 * (s.band_count or 1) * 4 for s in specs
    )
    staging.require_space(total, "the outputs on the input's grid", at_least=total // 20)


def warp_back(
    model_scale: Path,
    temp: Path,
    spec,
    grid: dict,
    plan: ScalePlan,
    *,
    validity: tuple[Path, tuple[int, ...]] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> None:
    """Warp the model-scale raster ``model_scale`` onto ``grid`` (the input's transform and
    size, ``spec.scale`` times finer) into the staged ``temp``, by strips of ``spec.blocksize``
    rows; pixels whose input pixel is invalid (``validity``: the input and its bands) are
    nodata. Band descriptions and all tags are kept."""
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT
    from rasterio.windows import Window

    from marsspec.core.tiling.outputs import _creation_options
    from marsspec.core.tiling.reader import _read_window

    k = spec.scale
    width, height = grid["width"] * k, grid["height"] * k
    transform = grid["transform"] * Affine.scale(1.0 / k)
    resampling = getattr(Resampling, backward_resampling(plan))
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(open_raster(model_scale, "The model-scale output"))
        nodata = spec.fill_value
        vrt = stack.enter_context(
            WarpedVRT(
                src,
                crs=src.crs,
                transform=transform,
                width=width,
                height=height,
                resampling=resampling,
                src_nodata=src.nodata,
                nodata=src.nodata,
            )
        )
        mask_src = stack.enter_context(open_raster(validity[0])) if validity else None
        profile = {
            "driver": "GTiff",
            "width": width,
            "height": height,
            "count": src.count,
            "dtype": src.dtypes[0],
            "crs": src.crs,
            "transform": transform,
            "nodata": nodata,
            **_creation_options(spec, width, height, src.count),
        }
        dst = stack.enter_context(create_raster(temp, **profile))
        for band in range(1, src.count + 1):
            if src.descriptions[band - 1]:
                dst.set_band_description(band, src.descriptions[band - 1])
            dst.update_tags(band, **src.tags(band))
        step = spec.blocksize
        for row in range(0, height, step):
            if cancel is not None and cancel():
                raise CancelledError("Cancelled while warping the output back; nothing written.")
            rows = min(step, height - row)
            data = vrt.read(window=Window(0, row, width, rows))
            if mask_src is not None:
                lo, hi = row // k, -(-(row + rows) // k)
                _, valid = _read_window(
                    mask_src, validity[1], Window(0, lo, grid["width"], hi - lo)
                )
                if k > 1:
                    valid = np.repeat(np.repeat(valid, k, axis=0), k, axis=1)
                valid = valid[row - lo * k : row - lo * k + rows]
                data[:, ~valid] = nodata
            dst.write(data, window=Window(0, row, width, rows))
            check_writes(temp)
        dst.update_tags(**src.tags())
