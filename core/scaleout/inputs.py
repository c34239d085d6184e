"""Many inputs in one run: paths, folders of rasters, text lists; and where each one's outputs go.

A folder stands for the rasters in it (by extension, sorted); a ``.txt`` or ``.lst`` file is a
list, one path per line (``#`` comments; relative paths are relative to the list). A path that
does not exist is kept, so that it fails by name in the run's summary, not before it starts.
With more than one input every output option names a folder, and each input writes
``<stem>.tif`` (OUTPUT), ``<stem>_confidence.tif``, ``<stem>_browse.tif``, ... there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from marsspec.core.errors import InputError

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".cub", ".jp2", ".lbl", ".xml")
LIST_SUFFIXES = (".txt", ".lst")


def expand_inputs(items: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Every raster ``items`` names, in the order given (folders sorted by name)."""
    found: list[Path] = []
    for item in items:
        path = Path(os.path.expanduser(os.fspath(item)))
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.iterdir()
                    if p.is_file()
                    and p.suffix.lower() in RASTER_SUFFIXES
                    and not p.name.startswith(".")
                )
            )
        elif path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                text = line.split("#", 1)[0].strip()
                if text:
                    entry = Path(os.path.expanduser(text))
                    found.append(entry if entry.is_absolute() else path.parent / entry)
        else:
            found.append(path)
    if not found:
        raise InputError(
            f"No raster found in {', '.join(map(str, items))}; give raster files, a folder of "
            f"rasters ({', '.join(RASTER_SUFFIXES)}) or a .txt list of paths."
        )
    return found


def batch_outputs(
    inputs: Sequence[Path], outputs: Mapping[str, str | os.PathLike[str] | None]
) -> list[dict[str, Path | None]]:
    """Each input's output paths. One input: the paths as given. Several: each given option
    is a folder and the file names come from the input's stem."""
    if len(inputs) == 1:
        return [{k: (Path(v) if v else None) for k, v in outputs.items()}]
    stems = [p.stem for p in inputs]
    repeated = sorted({s for s in stems if stems.count(s) > 1})
    if repeated:
        raise InputError(
            f"Several inputs share the name {repeated[0]!r}, so their outputs would collide; "
            "rename them or run them in separate folders."
        )
    for key, value in outputs.items():
        if value and not Path(value).is_dir():
            raise InputError(
                f"With {len(inputs)} inputs, {key.lower()} {str(value)!r} must be an existing "
                "folder: each input writes its own files there."
            )
    named = []
    for stem in stems:
        named.append(
            {
                key: (Path(value) / (stem + _suffix(key)) if value else None)
                for key, value in outputs.items()
            }
        )
    return named


def _suffix(key: str) -> str:
    return ".tif" if key == "OUTPUT" else f"_{key.lower()}.tif"
