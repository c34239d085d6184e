"""The bundled-model manifest (``models/manifest.json``): what each model is and how to load it.

Weights are verified by sha256 before torch sees them, so a truncated download or an edited
file is reported as such instead of producing silently wrong spectra. Architectures are named
in the manifest and built through :data:`ARCHITECTURES`, a registry of ``module:function``
strings imported on demand (listing models never imports torch).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marsspec.core.errors import (
    InputError,
    ModelIntegrityError,
    ModelNotFoundError,
    RasterIOError,
)
from marsspec.core.io.safety import atomic_output
from marsspec.core.provenance import sha256_file

SCHEMA_VERSION = 1
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
MANIFEST_PATH = MODELS_DIR / "manifest.json"

# architecture name -> "module:builder"; builder(**architecture_kwargs) -> torch.nn.Module
ARCHITECTURES: dict[str, str] = {
    "smp-spectral": "marsspec.core.models.spectral_net:build_spectral_net",
    "marsgan-generator": "marsspec.core.models.marsgan:build_generator",
}

TASKS = ("spectra-regression", "spectra-bins", "superres")


@dataclass(frozen=True)
class ModelEntry:
    """One bundled model, as described in the manifest."""

    id: str
    title: str
    task: str
    product: str
    architecture: str
    weights: str
    sha256: str
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    in_channels: int = 1
    out_channels: int = 3
    scale: int = 1
    patch_size: int = 256
    default_stride_factor: int = 2
    bands: tuple[dict[str, Any], ...] = ()
    bins: dict[str, Any] | None = None
    normalisation: dict[str, Any] = field(default_factory=dict)
    size_bytes: int | None = None
    dtype: str = "float16"
    licence: str = ""
    training_data: str = ""
    simulated: bool = True
    metrics: dict[str, Any] = field(default_factory=dict)
    card: str = ""
    created: str = ""
    marsspec_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    models_dir: Path = MODELS_DIR

    @classmethod
    def from_dict(cls, data: dict[str, Any], models_dir: Path = MODELS_DIR) -> ModelEntry:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra", "models_dir"}
        missing = [k for k in ("id", "task", "architecture", "weights", "sha256") if k not in data]
        if missing:
            raise InputError(
                f"Manifest entry {data.get('id', '?')!r} lacks {', '.join(missing)}; "
                "re-export the model with `python -m marsspec export`."
            )
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("title", data["id"])
        values.setdefault("product", "any")
        values["bands"] = tuple(values.get("bands", ()))
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**values, extra=extra, models_dir=Path(models_dir))

    def to_dict(self) -> dict[str, Any]:
        data = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("extra", "models_dir")
        }
        data["bands"] = list(self.bands)
        return {**data, **self.extra}

    @property
    def weights_path(self) -> Path:
        return self.models_dir / self.weights

    @property
    def card_path(self) -> Path | None:
        return self.models_dir / self.card if self.card else None

    @property
    def label(self) -> str:
        """Human label for menus: title plus product and task, and the simulated caveat."""
        caveat = ", trained on simulated scenes" if self.simulated else ""
        return f"{self.title} [{self.product.upper()}, {self.task}{caveat}]"

    def verify(self) -> Path:
        """Return the weights path after checking it exists and matches the manifest sha256."""
        path = self.weights_path
        if not path.is_file():
            raise ModelIntegrityError(
                f"Weights file {str(path)!r} of model {self.id!r} is missing; reinstall the "
                "plugin or re-export the model with `python -m marsspec export`."
            )
        actual = sha256_file(path)
        if actual != self.sha256:
            raise ModelIntegrityError(
                f"Weights file {str(path)!r} of model {self.id!r} is corrupt or was changed "
                f"(sha256 {actual[:12]}... but the manifest says {self.sha256[:12]}...); "
                "reinstall the plugin or re-export the model."
            )
        return path

    def builder(self) -> Callable[..., Any]:
        target = ARCHITECTURES.get(self.architecture)
        if target is None:
            raise InputError(
                f"Model {self.id!r} uses unknown architecture {self.architecture!r}; known: "
                f"{', '.join(sorted(ARCHITECTURES))}. Update marsspec."
            )
        module_name, _, function = target.partition(":")
        return getattr(importlib.import_module(module_name), function)

    def build(self, device: str = "cpu", *, load_weights: bool = True):
        """The network in eval mode on ``device``, weights verified and loaded as float32."""
        network = self.builder()(**self.architecture_kwargs)
        if load_weights:
            network.load_state_dict(self.load_state_dict())
        return network.to(device).eval()

    def load_state_dict(self) -> dict[str, Any]:
        return read_weights(self.verify())


def read_weights(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Tensors of an exported ``.safetensors`` file, floating ones as float32 (exports are fp16
    to halve the file; inference and fine-tuning run in float32)."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    return {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}


@dataclass(frozen=True)
class Manifest:
    entries: tuple[ModelEntry, ...]
    path: Path

    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.entries)

    def get(self, model_id: str) -> ModelEntry:
        for entry in self.entries:
            if entry.id == model_id:
                return entry
        available = ", ".join(self.ids()) or "none"
        raise ModelNotFoundError(
            f"Model {model_id!r} is not in {str(self.path)!r} (available: {available}); "
            "pick one of those or export yours with `python -m marsspec export`."
        )

    def by_task(self, *tasks: str) -> tuple[ModelEntry, ...]:
        return tuple(e for e in self.entries if e.task in tasks)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"schema_version": SCHEMA_VERSION, "models": []}
    except (OSError, ValueError) as exc:
        raise RasterIOError(
            f"Cannot read the model manifest {str(path)!r} ({exc}); reinstall the plugin."
        ) from exc
    if data.get("schema_version") != SCHEMA_VERSION or not isinstance(data.get("models"), list):
        raise InputError(
            f"Model manifest {str(path)!r} has an unknown layout (schema_version "
            f"{data.get('schema_version')!r}); update marsspec."
        )
    return data


def load_manifest(path: str | os.PathLike[str] | None = None) -> Manifest:
    """The manifest at ``path`` (default: the plugin's ``models/manifest.json``)."""
    manifest_path = Path(path) if path else MANIFEST_PATH
    if path and not manifest_path.is_file():
        raise InputError(
            f"The model manifest {str(manifest_path)!r} does not exist; give the manifest.json "
            "that export wrote, or leave --manifest out to use the bundled models."
        )
    data = _read_json(manifest_path)
    entries = tuple(ModelEntry.from_dict(m, manifest_path.parent) for m in data["models"])
    return Manifest(entries, manifest_path)


def upsert_manifest_entry(
    entry: dict[str, Any], manifest_path: str | os.PathLike[str] | None = None
) -> Path:
    """Add ``entry`` or replace the one with the same id; written atomically, ids sorted."""
    path = Path(manifest_path) if manifest_path else MANIFEST_PATH
    ModelEntry.from_dict(entry, path.parent)  # validate before touching the file
    data = _read_json(path)
    models = [m for m in data["models"] if m.get("id") != entry["id"]] + [entry]
    data["models"] = sorted(models, key=lambda m: m["id"])
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
