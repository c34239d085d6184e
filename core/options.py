"""Every choice the adapters offer, with its default, in one module that imports nothing heavy.

QGIS builds the Processing dialogs when it starts and the command line builds its parser before
any job runs: both take their choices here, so listing them never imports torch, numpy or
rasterio. The core modules that check a value (devices, confidence, bins, tiling, superres) take
the same tuples, so an option is added in one place. The first entry of each tuple is its
default. Models come from the manifests (the bundled models and the user's own, or one given
manifest), read without torch; each label ends in "(bundled)" or "(yours)".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEVICES = ("auto", "cpu", "cuda")  # the jobs also take cuda:N
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
BLENDINGS = ("gaussian", "mean")  # spectral tiling: paper Eq. 3 / Eq. 2
NORMALISATIONS = ("image", "global", "patch")
MEASURES = ("max_probability", "entropy", "multimodal")  # bin confidence
RECONSTRUCTIONS = ("weighted", "argmax")  # bin probabilities -> value
COLOUR_MODES = ("hsv", "per-band")  # super-resolution of 3+ bands
SR_BLENDINGS = ("crop", "gaussian")  # super-resolution tiling (not a QGIS enum: CLI only)
ASSUME_CRS = ("none", "mars")  # CRS given to an input without one (--assume-crs, ASSUME_CRS)

DEFAULT_DEVICE = DEVICES[0]
DEFAULT_PRECISION = PRECISIONS[0]
DEFAULT_BLENDING = BLENDINGS[0]
DEFAULT_NORMALISATION = NORMALISATIONS[0]
DEFAULT_MEASURE = MEASURES[0]
DEFAULT_RECONSTRUCTION = RECONSTRUCTIONS[0]
DEFAULT_COLOUR_MODE = COLOUR_MODES[0]
# Large tiles, margins discarded: the generator is fully convolutional, so on a 1000 px CTX crop
# this is 1.7x faster than Gaussian s=2 and 73x closer to a whole-image pass (docs/tiling.md)
DEFAULT_SR_BLENDING = SR_BLENDINGS[0]

# a model's source (whose it is) -> the mark its label ends with: "(bundled)" / "(yours)"
SOURCE_MARKS: dict[str, str] = {"bundled": "bundled", "user": "yours"}

# job -> the manifest tasks whose models it runs, in the order they are offered
MODEL_TASKS: dict[str, tuple[str, ...]] = {
    "predict": ("spectra-regression", "spectra-bins"),
    "confidence": ("spectra-bins",),
    "superres": ("superres",),
}
# job -> its default model: the bundled one a user should try first (regression for spectra,
# the PSNR generator for super-resolution: it invents no texture)
DEFAULT_MODELS: dict[str, str] = {
    "predict": "evc-regression",
    "confidence": "evc-bins20",
    "superres": "marsgan-psnr",
}


@dataclass(frozen=True)
class ModelOption:
    """What a menu needs of one manifest model: its id (the stored value), a readable label
    (ending in "(bundled)" or "(yours)"), the stride factor the job uses when the user leaves
    it empty, and whose model it is (``source``: "bundled" or "user")."""

    id: str
    task: str
    label: str
    default_stride_factor: int
    source: str = "bundled"


def model_options(
    job: str, manifest: str | os.PathLike[str] | None = None
) -> tuple[ModelOption, ...]:
    """The models ``job`` can run, from ``manifest`` (default: the bundled models and the
    user's, see core/models/locations.py), in a stable order: by task as in
    :data:`MODEL_TASKS`, the PSNR super-resolution flavour first, bundled before yours, then
    product and id. Raises the manifest's own error when it cannot be read."""
    from marsspec.core.models.manifest import load_manifest  # json + pathlib only

    tasks = MODEL_TASKS[job]
    entries = load_manifest(manifest).by_task(*tasks)
    ordered = sorted(
        entries,
        key=lambda e: (
            tasks.index(e.task),
            e.extra.get("sr_flavour", "psnr") != "psnr",
            e.source != "bundled",
            e.product,
            e.id,
        ),
    )
    return tuple(
        ModelOption(e.id, e.task, e.label, e.default_stride_factor, e.source) for e in ordered
    )


def model_ids(job: str, manifest: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """Model ids for ``job``; the job's default id alone when the manifest cannot be read, so
    a menu still shows and running it reports what is wrong with the manifest."""
    try:
        ids = tuple(option.id for option in model_options(job, manifest))
    except Exception:  # a broken manifest must not hide an algorithm or a command
        ids = ()
    return ids or (DEFAULT_MODELS[job],)


def models_listing(job: str, manifest: str | os.PathLike[str] | None = None) -> str:
    """The ids of ``job``'s models, each marked as bundled or yours, for a ``--help`` text:
    "evc-regression (bundled), mine (yours)"; the ids alone when the manifest is broken."""
    try:
        offered = model_options(job, manifest)
    except Exception:  # a broken manifest must not break --help
        return ", ".join(model_ids(job, manifest))
    return ", ".join(f"{o.id} ({SOURCE_MARKS.get(o.source, o.source)})" for o in offered)


def default_model(job: str, ids: tuple[str, ...] | None = None) -> str:
    """The default model of ``job`` among ``ids`` (default: the bundled manifest's): the
    bundled default when offered, else the first offered."""
    ids = model_ids(job) if ids is None else ids
    preferred = DEFAULT_MODELS[job]
    return preferred if preferred in ids or not ids else ids[0]
