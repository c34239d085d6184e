"""Training checkpoints and run folders: read with one clear error, written so nothing is lost.

A run's ``last.pt``/``best.pt`` can hold hours of training. Each is written to a hidden
temporary sibling, flushed and renamed through :mod:`marsspec.core.io.safety`, so a kill or a
full disk mid-save leaves the previous good checkpoint as it was. The run folder itself
(``runs/<id>``) is created only when the first checkpoint is written, and a run that fails
before then removes exactly the folders it created: a bad config or an empty data folder
leaves no empty ``runs/`` tree behind, and nothing that existed before is ever removed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from marsspec.core.errors import InputError, MarsspecError, RasterIOError


def first_line(error: BaseException) -> str:
    """An exception's text on one line (torch and PyYAML messages span several)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def load_checkpoint(
    path: str | os.PathLike[str], *, what: str, instead: str, map_location: Any = "cpu"
) -> dict[str, Any]:
    """The dict saved in a training checkpoint; a missing, unreadable or foreign file is an
    InputError naming ``what`` ("--checkpoint") and ``path`` and saying what to pass
    ``instead``, never a raw ``FileNotFoundError`` or unpickling traceback."""
    import torch

    file = Path(path)
    if not file.exists():
        raise InputError(f"{what} {str(path)!r} does not exist; {instead}.")
    if not file.is_file():
        raise InputError(f"{what} {str(path)!r} is a folder, not a checkpoint file; {instead}.")
    try:
        state = torch.load(file, map_location=map_location, weights_only=False)
    except MarsspecError:
        raise
    except OSError as exc:
        raise RasterIOError(
            f"{what} {str(path)!r} cannot be read ({exc.strerror or first_line(exc)}); check "
            "its permissions."
        ) from exc
    except Exception as exc:  # a file boundary: any unpickling failure means "not a checkpoint"
        raise InputError(
            f"{what} {str(path)!r} is not a readable PyTorch checkpoint "
            f"({type(exc).__name__}: {first_line(exc)}); {instead}."
        ) from exc
    if not isinstance(state, dict):
        raise InputError(f"{what} {str(path)!r} holds no checkpoint dictionary; {instead}.")
    return state


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to a temporary sibling, ``fsync``, rename: all or nothing."""
    import torch

    from marsspec.core.io.safety import atomic_output

    final = Path(path)
    try:
        with atomic_output(final, kind="checkpoint") as temp, open(temp, "wb") as stream:
            torch.save(state, stream)
    except MarsspecError:
        raise
    except OSError as exc:
        raise RasterIOError(
            f"Could not write checkpoint {str(final)!r} ({exc.strerror or first_line(exc)}); "
            f"check the free space in {str(final.parent)!r}. The previous one is unchanged."
        ) from exc
    return final


def check_run_folder(path: str | os.PathLike[str], key: str = "out_dir") -> Path:
    """Refuse, before any work, a run folder that is a file or cannot be created."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{key} {str(path)!r} is a file, not a folder; choose a folder path.")
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(
            f"{key} {str(path)!r} cannot be created: {str(existing)!r} is a file; choose "
            "another folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(
            f"{key} {str(path)!r} cannot be written: {str(existing)!r} is not writable; "
            "choose a folder you can write to."
        )
    return folder


class RunFolder:
    """A training run's output folder, made when the first checkpoint is saved.

    Use it as a context manager around the training loop: on an exception before any
    checkpoint was saved, the folders this run created are removed again (only if empty, so
    no file anyone else put there is lost); after a checkpoint the folder is the run's resume
    point and stays.
    """

    def __init__(self, path: str | os.PathLike[str], key: str = "out_dir") -> None:
        self.path = check_run_folder(path, key)
        self.key = key
        self._created: list[Path] = []  # innermost last
        self.saved = False

    def ensure(self) -> None:
        """Create the folder (and missing parents), remembering which ones this run made."""
        missing = []
        folder = self.path.absolute()
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RasterIOError(
                f"{self.key} {str(self.path)!r} cannot be created ({exc.strerror or exc}); "
                "choose another folder."
            ) from exc
        self._created.extend(reversed(missing))

    def save(self, state: dict[str, Any], name: str) -> Path:
        """Write checkpoint ``name`` (``last.pt``) atomically into the folder."""
        self.ensure()
        path = save_checkpoint(state, self.path / name)
        self.saved = True
        return path

    def write_text(self, name: str, text: str) -> Path:
        """A small text file (``summary.json``) written atomically into the folder."""
        from marsspec.core.io.safety import atomic_output

        self.ensure()
        final = self.path / name
        try:
            with atomic_output(final) as temp:
                temp.write_text(text, encoding="utf-8")
        except MarsspecError:
            raise
        except OSError as exc:
            raise RasterIOError(
                f"Could not write {str(final)!r} ({exc.strerror or exc}); check the free space."
            ) from exc
        return final

    def discard(self) -> None:
        """Remove the folders this run created, innermost first, if they are empty."""
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        self._created.clear()

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and not self.saved:
            self.discard()


def stage_manifest_entry(entry: dict[str, Any], manifest: Path, staged: Path) -> None:
    """Write ``manifest`` with ``entry`` upserted to the staged temporary file ``staged`` (an
    output of the export's OutputSet), so the manifest and the weights it describes are
    published together or not at all."""
    import shutil

    from marsspec.core.models.manifest import upsert_manifest_entry

    if manifest.is_file():
        shutil.copyfile(manifest, staged)
    upsert_manifest_entry(entry, staged)


def check_export_target(
    models_dir: str | os.PathLike[str], model_id: str, *, replace: bool = False
) -> Path:
    """Refuse, before anything is written, an export that would touch the bundled models or
    overwrite a model without ``replace``; returns the folder.

    The plugin's own ``models/`` is never written (a plugin update replaces it, and its models
    are the ones everybody's results refer to): neither as the folder nor through an id that a
    bundled model has, ``replace`` or not. In any other folder an id that is already there
    (in its manifest, or as ``<id>.safetensors``/``<id>.md``) needs ``replace``."""
    from marsspec.core.io.safety import same_file
    from marsspec.core.models import locations
    from marsspec.core.models import manifest as manifests

    folder = Path(models_dir)
    bundled_dirs = (manifests.MODELS_DIR, manifests.MANIFEST_PATH.parent)
    if any(same_file(folder, bundled) for bundled in bundled_dirs):
        raise InputError(
            f"--models-dir {str(folder)!r} is the plugin's bundled models folder, which export "
            "never writes (a plugin update would erase your model); leave --models-dir out to "
            f"use your models folder ({str(locations.user_models_dir())!r}) or choose another."
        )
    if model_id in manifests.load_manifest(manifests.MANIFEST_PATH).ids():
        raise InputError(
            f"Model id {model_id!r} is a bundled model's; export never replaces a bundled "
            "model (not even with --replace): choose another --id."
        )
    manifest = folder / locations.MANIFEST_NAME
    listed = manifest.is_file() and model_id in manifests.load_manifest(manifest).ids()
    files = [folder / f"{model_id}{suffix}" for suffix in (".safetensors", ".md")]
    if not replace and (listed or any(f.exists() for f in files)):
        raise InputError(
            f"Model {model_id!r} already exists in {str(folder)!r}; choose another --id, or "
            "pass --replace to overwrite it."
        )
    return folder
