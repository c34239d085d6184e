"""What a blocked job needs from the single-process job: its plan, its whole-image state, and
the request one block runs.

Both jobs normalise by the whole image: spectral prediction with ``normalisation="image"``
(and a DEM's z-score) uses full-raster statistics (:func:`~marsspec.core.spectral.job.
build_predictor`), super-resolution robust ranges of a decimated read of the whole raster
(:func:`~marsspec.core.superres.job.normalisers_for`). A block computed with its own window's
numbers would differ, so :func:`prepare` computes them once, on the whole input, with the
job's own functions, and every block request carries them (``statistics`` / ``normalisers``).
The other whole-image step, on-the-fly resampling to the model's pixel size, warps the whole
raster onto another grid; such an input runs as one block (the job itself, unchanged).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from marsspec.core.errors import InputError
from marsspec.core.io.opening import job_input, open_raster
from marsspec.core.provenance import input_fingerprint
from marsspec.core.scaleout.layout import BlockLayout

KINDS = ("spectral", "superres")


@dataclass(frozen=True)
class Output:
    """One blocked output raster: its key (OUTPUT, CONFIDENCE), final path, scale, bands."""

    key: str
    path: Path
    scale: int
    bands: int

    @property
    def blocks_dir(self) -> Path:
        return self.path.with_name(self.path.stem + ".blocks")

    @property
    def vrt(self) -> Path:
        return self.path.with_suffix(".vrt")

    def block_path(self, name: str) -> Path:
        return self.blocks_dir / f"{name}.tif"


@dataclass(frozen=True)
class Prepared:
    """A product ready to run in blocks: layout, outputs, the block request template and the
    tags every block output gets on top of the job's own (the user's input, not a window)."""

    kind: str
    source: Path  # the input as the user named it
    opening: dict  # job_input's assume_crs / pixel_size for it
    layout: BlockLayout
    outputs: tuple[Output, ...]
    template: object  # a PredictRequest / SuperresRequest with whole-image state filled in
    tags: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        """What makes finished blocks reusable: request, layout, input (for the manifest)."""
        template = dataclasses.replace(self.template, **_no_paths(self.kind))
        return repr((self.kind, template, self.layout.block, self.tags.get("MARSSPEC_INPUT")))


def kind_of(request) -> str:
    name = type(request).__name__
    if name == "PredictRequest":
        return "spectral"
    if name == "SuperresRequest":
        return "superres"
    raise InputError(f"{name} cannot run in blocks; use a PredictRequest or SuperresRequest.")


def _no_paths(kind: str) -> dict:
    if kind == "spectral":
        return {"input": "", "output": "x.tif", "confidence": None, "browse": None}
    return {"input": "", "output": "x.tif"}


def prepare(request, block: int) -> Prepared:
    """Open the input, plan the blocks and compute the whole-image state, once per product."""
    kind = kind_of(request)
    return _prepare_spectral(request, block) if kind == "spectral" else _prepare_sr(request, block)


def _layout(height: int, width: int, block: int, plan, rescaled: bool) -> BlockLayout:
    if rescaled:  # the job warps the whole raster to the model's scale: one block
        return BlockLayout.whole(height, width)
    return BlockLayout.plan(height, width, block, plan.size, plan.stride)


def _prepare_spectral(req, block: int) -> Prepared:
    from marsspec.core.spectral.job import (
        build_predictor,
        check_dem_matches,
        entry_bins,
        input_band,
        load_entry,
        model_source,
        tiling_config,
    )
    from marsspec.core.tiling.rescale import plan_scale

    source = Path(req.input)
    with (
        job_input(req.input, assume_crs=req.assume_crs, pixel_size=req.pixel_size) as opened,
        tempfile.TemporaryDirectory(prefix="marsspec-prepare-") as folder,
    ):
        readable = opened.path
        band, _warnings = input_band(readable, req.band, req.allow_non_mars, name=source.name)
        entry = load_entry(req)
        check_dem_matches(entry, req)
        if req.confidence and entry_bins(entry) is None:
            raise InputError(
                f"Model {entry.id!r} is a regression model and has no bin probabilities, so it "
                "cannot give a confidence; choose a bin model such as evc-bins20."
            )
        scale = plan_scale(
            readable, entry.pixel_size_m, rescale=req.rescale, model_id=entry.id, name=source.name
        )
        with open_raster(readable) as src:
            height, width = src.height, src.width
        source_for_model, bands = model_source(req, band, folder if req.dem else None, readable)
        plan = tiling_config(req, entry, bands).plan(height, width)
        layout = _layout(height, width, block, plan, scale.rescale)
        template = dataclasses.replace(req, band=band)
        if not layout.single:
            statistics = ImageStatistics()
            # only the statistics the job's builder asks for are wanted here, not a network:
            # building one would import the network libraries (2 s) on the run's serial path
            build_predictor(req, entry, None, source_for_model, bands, stats=statistics)
            template = dataclasses.replace(
                template, statistics=statistics.frozen(), assume_crs=None, pixel_size=None
            )
        tags = {**scale.tags(), **opened.tags}
    outputs = []
    if req.output:
        outputs.append(Output("OUTPUT", Path(os.path.abspath(req.output)), 1, len(entry.bands)))
    if req.confidence:
        path = Path(os.path.abspath(req.confidence))
        outputs.append(Output("CONFIDENCE", path, 1, len(entry.bands) + 1))
    tags["MARSSPEC_INPUT"] = input_fingerprint(source)
    opening = {"assume_crs": req.assume_crs, "pixel_size": req.pixel_size}
    return Prepared(
        "spectral", source, opening, layout, tuple(outputs), template, tags, _notes(opened, scale)
    )


def _prepare_sr(req, block: int) -> Prepared:
    from marsspec.core.models.manifest import load_manifest
    from marsspec.core.superres.job import (
        SCALE,
        _choose_bands,
        _decimated,
        normalisers_for,
        tiling_config,
    )
    from marsspec.core.tiling.rescale import plan_scale

    cfg = req.config
    source = Path(req.input)
    with job_input(req.input, assume_crs=cfg.assume_crs, pixel_size=cfg.pixel_size) as opened:
        readable = opened.path
        with open_raster(readable) as src:
            bands = _choose_bands(src.count, cfg.bands, source.name)
            height, width = src.height, src.width
            stats = _decimated(src, bands)
        colour_mode = cfg.colour_mode if len(bands) >= 3 else "per-band"
        normalisers = tuple(cfg.normalisers or normalisers_for(stats, colour_mode))
        model = load_manifest(cfg.manifest_path).get(cfg.model)
        scale = plan_scale(
            readable, model.pixel_size_m, rescale=cfg.rescale, model_id=cfg.model, name=source.name
        )
        plan = tiling_config(cfg, bands).plan(height, width)
        layout = _layout(height, width, block, plan, scale.rescale)
        config = dataclasses.replace(cfg, bands=bands)
        if not layout.single:
            config = dataclasses.replace(
                config, normalisers=normalisers, assume_crs=None, pixel_size=None
            )
        tags = {
            **scale.tags(),
            **opened.tags,
            "MARSSPEC_SR_GEOREFERENCED": "assumed" if opened.assumed else "true",
        }
    template = dataclasses.replace(req, config=config)
    out = Output("OUTPUT", Path(os.path.abspath(req.output)), SCALE, len(bands))
    tags["MARSSPEC_INPUT"] = input_fingerprint(source)
    opening = {"assume_crs": cfg.assume_crs, "pixel_size": cfg.pixel_size}
    return Prepared(
        "superres", source, opening, layout, (out,), template, tags, _notes(opened, scale)
    )


def _notes(opened, scale) -> tuple[str, ...]:
    return (*opened.notes, *([scale.note] if scale.rescale else []))


def block_request(prepared: Prepared, window: Path, outputs: dict[str, Path]):
    """The job request of one block: the template on ``window``, writing into ``outputs``."""
    template = prepared.template
    if prepared.kind == "spectral":
        return dataclasses.replace(
            template,
            input=window,
            output=outputs.get("OUTPUT"),
            confidence=outputs.get("CONFIDENCE"),
            browse=None,
        )
    return dataclasses.replace(template, input=window, output=outputs["OUTPUT"])


class ImageStatistics:
    """:func:`~marsspec.core.models.normalisation.raster_stats` computed once per band set.

    In the driver it records what the job's predictor builder asks for; frozen (on a worker)
    it answers from the record, so every block normalises with the whole image's numbers."""

    def __init__(self, known: dict | None = None, *, frozen: bool = False) -> None:
        self.known = dict(known or {})
        self.is_frozen = frozen

    def __call__(self, path, bands=(1,), clip_percent=0.01, **kwargs):
        key = (tuple(int(b) for b in bands), float(clip_percent))
        if key not in self.known:
            if self.is_frozen:
                raise InputError(
                    f"No whole-image statistics for bands {key[0]}; rerun the job (this is a "
                    "marsspec bug in blocked runs)."
                )
            from marsspec.core.models.normalisation import raster_stats

            self.known[key] = raster_stats(path, bands, clip_percent, **kwargs)
        return self.known[key]

    def frozen(self) -> ImageStatistics:
        return ImageStatistics(self.known, frozen=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImageStatistics) and self.known == other.known

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.known)))

    def __repr__(self) -> str:
        return f"ImageStatistics({self.known!r})"
