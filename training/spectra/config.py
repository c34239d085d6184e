"""Training configuration (YAML) for the spectral models; one dataclass, validated on load."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marsspec.core.errors import InputError

TASKS = ("spectra-regression", "spectra-bins")
LOSSES = ("mse", "ce", "l1ce")
PRODUCT_WAVELENGTHS = {"evc": (592.0, 533.0, 442.0), "fc": (2503.0, 1500.0, 1080.0)}


@dataclass
class TrainConfig:
    """Everything a run needs; see training/configs/*.yaml for annotated examples.

    Data: ``scenes`` are folders holding ``input_name`` (CTX) and ``target_name`` (CRISM on
    the CTX grid, nodata outside its footprint) and optionally ``mask_name`` (1 = valid);
    ``simulate`` generates missing simulator scenes first. ``val_scenes`` likewise.
    ``dem_name`` adds a DEM from each folder as a second input channel (warped onto the CTX
    grid as at inference, z-scored per scene).
    Fine-tuning: ``init_weights`` (a ``.safetensors`` export or a training checkpoint) gives
    the starting weights; ``train_only`` (parameter-name prefixes) trains those parameters and
    freezes the rest, batch-norm statistics included.
    """

    id: str
    task: str = "spectra-regression"
    product: str = "evc"
    out_dir: str = "runs/spectra"
    scenes: list[str] = field(default_factory=list)
    val_scenes: list[str] = field(default_factory=list)
    simulate: dict[str, Any] | None = None
    input_name: str = "ctx.tif"
    target_name: str = "crism_target.tif"
    mask_name: str | None = None
    dem_name: str | None = None  # e.g. dem.tif: a second input channel (any Mars grid)
    target_wavelengths_nm: list[float] | None = None
    # model
    arch: str = "Unet"
    encoder: str = "efficientnet-b0"
    decoder_channels: list[int] = field(default_factory=lambda: [128, 64, 32, 16, 16])
    bins: dict[str, Any] | None = None
    # data sampling and augmentation (§4.4)
    patch_size: int = 128
    min_valid: float = 0.2
    clip_percent: float = 0.01
    augment: bool = True
    rotation_deg: float = 20.0
    # optimisation
    loss: str = "mse"
    class_weights: str = "inverted-gauss"
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_steps: int = 50
    max_steps: int = 2000
    max_minutes: float | None = None
    val_every: int = 200
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None
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
    """A TrainConfig from a dict or a YAML file; unknown keys are an error (typos)."""
    if not isinstance(data, dict):
        import yaml

        path = Path(data)
        if not path.is_file():
            raise InputError(f"Config file {str(path)!r} does not exist.")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"Unknown config key(s) {unknown}; known keys: {sorted(known)}.")
    if "id" not in data:
        raise InputError("The config needs an 'id' (the model id to export as).")
    return TrainConfig(**data)
