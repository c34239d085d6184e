"""Training configuration (YAML) for the spectral models; one dataclass, validated on load."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marsspec.core.errors import InputError
from marsspec.training.config_schema import check_fields, limits, read_config

TASKS = ("spectra-regression", "spectra-bins")
LOSSES = ("mse", "ce", "l1ce")
PRODUCT_WAVELENGTHS = {"evc": (592.0, 533.0, 442.0), "fc": (2503.0, 1500.0, 1080.0)}


@dataclass
class SimulateSpec:
    """``simulate:``: simulator scenes generated (once) into ``train_dir``/``val_dir``."""

    train_dir: str | None = None
    val_dir: str | None = None
    seeds: list[int] = field(default_factory=list)
    val_seeds: list[int] = field(default_factory=list)
    sites: list[str] | None = None
    size: int = field(default=768, metadata=limits(low=64))
    val_size: int = field(default=512, metadata=limits(low=64))

    def __post_init__(self) -> None:
        for seeds, folder in (("seeds", "train_dir"), ("val_seeds", "val_dir")):
            if getattr(self, seeds) and not getattr(self, folder):
                raise InputError(f"simulate.{seeds} needs simulate.{folder}: where to put them.")
        if self.sites:
            from marsspec.core.simulator.sites import get_site

            for site in self.sites:
                get_site(site)


@dataclass
class BinsSpec:
    """``bins:`` of a bin-classification model (core/models/bins.py)."""

    count: int = field(default=20, metadata=limits(low=2))
    range: float = field(default=6.0, metadata=limits(low=1e-6))
    spacing: str = field(default="uniform", metadata=limits(choices=("uniform", "sid")))


@dataclass
class TrainConfig:
    """Everything a run needs; see training/configs/*.yaml for annotated examples.

    Data: ``scenes`` are folders holding ``input_name`` (CTX) and ``target_name`` (CRISM on
    the CTX grid, nodata outside its footprint) and optionally ``mask_name`` (1 = valid);
    ``simulate`` generates missing simulator scenes first. ``val_scenes`` likewise.
    ``dem_name`` adds a DEM from each folder as a second input channel (warped onto the CTX
    grid as at inference, z-scored per scene).
    Targets: ``target_wavelengths_nm`` lists the bands to predict (default: the ``product``'s
    EVC or FC bands); each is the target raster's band nearest to it, which must lie within
    ``wavelength_tolerance_nm`` (default 15 nm; e.g. 2529 for a CRISM browse R2529 band).
    Fine-tuning: ``init_weights`` (a ``.safetensors`` export or a training checkpoint) gives
    the starting weights; ``train_only`` (parameter-name prefixes) trains those parameters and
    freezes the rest, batch-norm statistics included.
    The field types and their ``limits`` metadata are the schema every config is checked
    against (training/config_schema.py).
    """

    id: str = field(metadata=limits(help="the model id to export as"))
    task: str = field(default="spectra-regression", metadata=limits(choices=TASKS))
    product: str = "evc"
    out_dir: str = "runs/spectra"
    scenes: list[str] = field(default_factory=list)
    val_scenes: list[str] = field(default_factory=list)
    simulate: dict[str, Any] | None = field(default=None, metadata=limits(schema=SimulateSpec))
    input_name: str = "ctx.tif"
    target_name: str = "crism_target.tif"
    mask_name: str | None = None
    dem_name: str | None = None  # e.g. dem.tif: a second input channel (any Mars grid)
    target_wavelengths_nm: list[float] | None = field(default=None, metadata=limits(low=1.0))
    wavelength_tolerance_nm: float = field(default=15.0, metadata=limits(low=0.0, high=1000.0))
    # model
    arch: str = "Unet"
    encoder: str = "efficientnet-b0"
    decoder_channels: list[int] = field(
        default_factory=lambda: [128, 64, 32, 16, 16], metadata=limits(low=1)
    )
    bins: dict[str, Any] | None = field(default=None, metadata=limits(schema=BinsSpec))
    # data sampling and augmentation (§4.4)
    patch_size: int = field(default=128, metadata=limits(low=32, high=4096))
    min_valid: float = field(default=0.2, metadata=limits(low=0.0, high=1.0))
    clip_percent: float = field(default=0.01, metadata=limits(low=0.0, high=49.0))
    augment: bool = True
    rotation_deg: float = field(default=20.0, metadata=limits(low=0.0, high=180.0))
    # optimisation
    loss: str = field(default="mse", metadata=limits(choices=LOSSES))
    class_weights: str = field(
        default="inverted-gauss", metadata=limits(choices=("inverted-gauss", "none"))
    )
    batch_size: int = field(default=8, metadata=limits(low=1))
    lr: float = field(default=1e-3, metadata=limits(low=0.0))
    weight_decay: float = field(default=0.0, metadata=limits(low=0.0))
    schedule: str = field(default="cosine", metadata=limits(choices=("cosine", "step", "constant")))
    warmup_steps: int = field(default=50, metadata=limits(low=0))
    max_steps: int = field(default=2000, metadata=limits(low=1))
    max_minutes: float | None = field(default=None, metadata=limits(low=0.0))
    val_every: int = field(default=200, metadata=limits(low=1))
    seed: int = 0
    device: str = "auto"
    precision: str = field(default="auto", metadata=limits(choices=("auto", "fp32", "bf16")))
    threads: int | None = field(default=None, metadata=limits(low=1))
    init_weights: str | None = None
    train_only: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InputError(f"task {self.task!r}: this trainer handles {TASKS}.")
        if self.loss not in LOSSES:
            raise InputError(f"loss {self.loss!r}: use one of {LOSSES}.")
        if self.task == "spectra-bins" and self.loss == "mse":
            raise InputError("A bins model needs loss 'ce' or 'l1ce', not 'mse'.")
        if self.task == "spectra-regression" and self.loss != "mse":
            raise InputError("A regression model uses loss 'mse'.")
        if self.class_weights not in ("inverted-gauss", "none"):
            raise InputError(f"class_weights {self.class_weights!r}: use inverted-gauss or none.")
        if self.schedule not in ("cosine", "step", "constant"):
            raise InputError(f"schedule {self.schedule!r}: use cosine, step or constant.")
        if self.task == "spectra-bins" and not self.bins:
            self.bins = {"count": 20, "range": 6.0, "spacing": "uniform"}
        if self.target_wavelengths_nm is None:
            if self.product not in PRODUCT_WAVELENGTHS:
                raise InputError(
                    f"product {self.product!r}: give target_wavelengths_nm or use evc/fc."
                )
            self.target_wavelengths_nm = list(PRODUCT_WAVELENGTHS[self.product])
        if not self.target_wavelengths_nm:
            raise InputError("target_wavelengths_nm is empty; list the bands to predict (nm).")
        if self.patch_size % 32:
            raise InputError(f"patch_size {self.patch_size} must be a multiple of 32 (U-Net).")

    @property
    def n_bins(self) -> int | None:
        return int(self.bins["count"]) if self.task == "spectra-bins" and self.bins else None

    def architecture_kwargs(self) -> dict[str, Any]:
        return {
            "in_channels": 2 if self.dem_name else 1,
            "n_bands": len(self.target_wavelengths_nm or ()),
            "n_bins": self.n_bins,
            "arch": self.arch,
            "encoder": self.encoder,
            "decoder_channels": list(self.decoder_channels),
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(data: dict[str, Any] | str | Path) -> TrainConfig:
    """A TrainConfig from a dict or a YAML file, checked against the schema (unknown keys,
    missing ``id``, wrong types and out-of-range values are one-line InputErrors)."""
    if not isinstance(data, dict):
        data = read_config(data)
    return TrainConfig(**check_fields(TrainConfig, data))
