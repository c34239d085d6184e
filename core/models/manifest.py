"""The model manifests: what each model is and how to load it.

The bundled ``models/manifest.json`` ships with the plugin; the user's own models (``marsspec
export``) live in a user models folder with its own ``manifest.json``
(:mod:`marsspec.core.models.locations`). :func:`load_manifest` with no path lists both, each
entry marked by its ``source``; an id is unique across both: a user model that repeats a
bundled id is ignored with a warning naming its manifest (export refuses to write one).

Weights are verified by sha256 before torch sees them, so a truncated download or an edited
file is reported as such instead of producing silently wrong spectra. Architectures are named
in the manifest and built through :data:`ARCHITECTURES`, a registry of ``module:function``
strings imported on demand (listing models never imports torch).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
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
from marsspec.core.io.safety import atomic_output, same_file
from marsspec.core.models import locations
from marsspec.core.options import SOURCE_MARKS
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

# ModelEntry.source -> the mark menus show after a model's label
SOURCES = SOURCE_MARKS
LOG = logging.getLogger("marsspec.models")


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
    # ground pixel size (m) of the training inputs; None: scale-free, no check (rescale.py)
    pixel_size_m: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    card: str = ""
    created: str = ""
    marsspec_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    models_dir: Path = MODELS_DIR
    source: str = "bundled"  # "bundled" (the plugin's models/) or "user" (yours)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], models_dir: Path = MODELS_DIR, source: str = "bundled"
    ) -> ModelEntry:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra", "models_dir", "source"}
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
        return cls(**values, extra=extra, models_dir=Path(models_dir), source=source)

    def to_dict(self) -> dict[str, Any]:
        data = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("extra", "models_dir", "source")
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
    def bundled(self) -> bool:
        return self.source == "bundled"

    @property
    def label(self) -> str:
        """Human label for menus: title plus product and task, the simulated caveat, and
        whose model it is ("(bundled)" or "(yours)")."""
        caveat = ", trained on simulated scenes" if self.simulated else ""
        mark = SOURCES.get(self.source, self.source)
        return f"{self.title} [{self.product.upper()}, {self.task}{caveat}] ({mark})"

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
    """Tensors of an exported ``.safetensors`` file as float32, whichever way they are stored
    (all fp16, or large weights int8 per channel: :mod:`.weight_format`); inference and
    fine-tuning run in float32."""
    from safetensors.torch import load_file

    from marsspec.core.models.weight_format import unpack_state_dict

    return unpack_state_dict(load_file(str(path)))


@dataclass(frozen=True)
class Manifest:
    """The models of one manifest file (``path``), or of the bundled one merged with the
    user's (``user_paths``: the user manifests read, whether they exist or not); ``warnings``
    say what was skipped while merging (also logged on ``marsspec.models``)."""

    entries: tuple[ModelEntry, ...]
    path: Path
    user_paths: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = ()

    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.entries)

    def get(self, model_id: str) -> ModelEntry:
        for entry in self.entries:
            if entry.id == model_id:
                return entry
        available = ", ".join(self.ids()) or "none"
        where = repr(str(self.path))
        if self.user_paths:
            users = " or ".join(repr(str(p)) for p in self.user_paths)
            where = f"the bundled models nor yours ({users})"
        notes = "".join(f" Note: {w}" for w in self.warnings)
        raise ModelNotFoundError(
            f"Model {model_id!r} is not in {where} (available: {available}); "
            f"pick one of those or export yours with `python -m marsspec export`.{notes}"
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


def manifest_source(path: str | os.PathLike[str]) -> str:
    """ "bundled" for the plugin's own manifest, else "user"."""
    return "bundled" if same_file(path, MANIFEST_PATH) else "user"


def load_manifest(path: str | os.PathLike[str] | None = None) -> Manifest:
    """The manifest at ``path`` alone, or by default the bundled models (the plugin's
    ``models/manifest.json``) and the user's (:func:`locations.user_models_dirs`) together.

    A user manifest that cannot be read, a user entry that is incomplete and a user entry
    whose id is a bundled model's are skipped with a warning naming the file: the bundled
    models always stay usable and always win."""
    if path:
        manifest_path = Path(path)
        if not manifest_path.is_file():
            raise InputError(
                f"The model manifest {str(manifest_path)!r} does not exist; give the "
                "manifest.json that export wrote, or leave --manifest out to use the bundled "
                "models and yours."
            )
        source = manifest_source(manifest_path)
        data = _read_json(manifest_path)
        entries = tuple(
            ModelEntry.from_dict(m, manifest_path.parent, source) for m in data["models"]
        )
        return Manifest(entries, manifest_path)
    bundled = load_manifest(MANIFEST_PATH)
    entries = list(bundled.entries)
    warnings: list[str] = []
    user_paths = tuple(folder / locations.MANIFEST_NAME for folder in locations.user_models_dirs())
    for user_path in user_paths:
        if same_file(user_path, MANIFEST_PATH) or not user_path.is_file():
            continue
        for entry in _user_entries(user_path, warnings):
            taken = next((e for e in entries if e.id == entry.id), None)
            if taken is None:
                entries.append(entry)
                continue
            whose = "a bundled model" if taken.bundled else f"a model in {taken.models_dir}"
            warnings.append(
                f"model {entry.id!r} in {str(user_path)!r} is ignored: its id is {whose}'s, "
                "which wins; export it again with another --id."
            )
    for warning in warnings:
        LOG.warning("%s", warning)
    return Manifest(tuple(entries), bundled.path, user_paths, tuple(warnings))


def _user_entries(path: Path, warnings: list[str]) -> list[ModelEntry]:
    """The usable entries of a user manifest; what cannot be used becomes a warning."""
    try:
        data = _read_json(path)
    except (InputError, RasterIOError) as exc:
        warnings.append(f"your model manifest {str(path)!r} is ignored: {exc}")
        return []
    entries = []
    for item in data["models"]:
        try:
            if not isinstance(item, dict):
                raise InputError(f"entry {item!r} is not an object")
            entries.append(ModelEntry.from_dict(item, path.parent, "user"))
        except (InputError, TypeError) as exc:
            name = item.get("id", "?") if isinstance(item, dict) else "?"
            warnings.append(f"model {name!r} in {str(path)!r} is ignored: {exc}")
    return entries


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
