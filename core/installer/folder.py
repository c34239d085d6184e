"""marsspec's packages folder: staged, renamed into place, sealed by a marker written last.

``<profile>/marsspec/python-packages`` holds what the installer put there. It is used (added
to ``sys.path``) only when its marker ``.marsspec-install.json`` is present and was written
for this Python (major.minor, platform): compiled wheels of another Python would fail to
load, and a folder without a marker is an install that never finished.

The folder is appended to ``sys.path``, never put before QGIS's own: packages QGIS ships
(numpy, shapely, GDAL's bindings) keep winning, the folder only adds what is missing.

Order of an install (job.py): pip into ``.<name>.staging-<id>`` beside the folder; move an
existing folder aside (``.<name>.old-<id>``); rename staging into place; write the marker;
delete the old one. A crash at any step leaves either the previous sealed folder, or a folder
without a marker (ignored), never a mixture. Leftover staging/old folders are removed at the
next start or install.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

MARKER_NAME = ".marsspec-install.json"
MARKER_FORMAT = 1
FOLDER_NAME = "python-packages"


def marker_payload(requirements: list[str], variant: str) -> dict[str, Any]:
    """What the marker records: for which Python it was built, and what is in the folder."""
    return {
        "format": MARKER_FORMAT,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "platform": sys.platform,
        "torch_build": variant,
        "requirements": list(requirements),
    }


def read_marker(target: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((target / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def marker_matches(marker: dict[str, Any] | None) -> bool:
    if not marker:
        return False
    expected = marker_payload([], "")
    return all(marker.get(key) == expected[key] for key in ("format", "python", "platform"))


def state(target: Path) -> str:
    """``absent``, ``ready`` (sealed for this Python), ``unfinished`` (no marker: never used)
    or ``other-python`` (sealed for another Python or platform: never used)."""
    if not target.is_dir():
        return "absent"
    marker = read_marker(target)
    if marker is None:
        return "unfinished"
    return "ready" if marker_matches(marker) else "other-python"


def write_marker(target: Path, payload: dict[str, Any]) -> None:
    """Written last, atomically (temporary file, fsync, rename): the seal of a complete set."""
    temp = target / f"{MARKER_NAME}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump({**payload, "installed_unix": int(time.time())}, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, target / MARKER_NAME)


def new_staging(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


def publish(staging: Path, target: Path, payload: dict[str, Any]) -> None:
    """Rename ``staging`` to ``target`` (moving an existing one aside first), then seal it."""
    old = None
    if target.exists() or target.is_symlink():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        _unseal(target)  # from here on the old set is never used again
        os.replace(target, old)
    os.replace(staging, target)
    write_marker(target, payload)
    if old is not None:
        remove_tree(old)


def _unseal(target: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (target / MARKER_NAME).unlink()


def uninstall(target: Path) -> bool:
    """Remove the folder: the marker first (never used again even if files are locked, as
    DLLs loaded on Windows are), then the rest; what cannot go now goes at the next start."""
    if not target.exists():
        return False
    _unseal(target)
    aside = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    try:
        os.replace(target, aside)
    except OSError:
        aside = target
    remove_tree(aside)
    if str(target) in sys.path:
        sys.path.remove(str(target))
    return True


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def leftovers(target: Path) -> list[Path]:
    """Staging and set-aside folders of earlier installs (interrupted, or locked files)."""
    if not target.parent.is_dir():
        return []
    prefixes = (f".{target.name}.staging-", f".{target.name}.old-")
    return sorted(p for p in target.parent.iterdir() if p.name.startswith(prefixes))


def clean_leftovers(target: Path) -> None:
    for path in leftovers(target):
        remove_tree(path)


def activate(target: Path) -> bool:
    """Append the folder to ``sys.path`` when it is sealed for this Python; True if it is on
    ``sys.path`` now. Call before anything imports torch."""
    if state(target) != "ready":
        return False
    entry = str(target)
    if entry not in sys.path:
        sys.path.append(entry)
        importlib.invalidate_caches()
    return True
