"""Where models live: the bundled ``models/`` (read-only, replaced by every plugin update) and
the user's own models folder (its own ``manifest.json``), which ``marsspec export`` writes.

The user models folder is, in this order:

1. ``$MARSSPEC_MODELS_DIR`` when set (tests, shared installations, several model sets);
2. inside QGIS, ``<QGIS profile>/marsspec/models``: the QGIS adapter tells core at load through
   :func:`set_profile_models_dir` (core never imports qgis);
3. the platform's data folder: ``$XDG_DATA_HOME/marsspec/models`` (default
   ``~/.local/share/marsspec/models``) on Linux, ``~/Library/Application Support/marsspec/models``
   on macOS, ``%APPDATA%\\marsspec\\models`` on Windows.

Inside QGIS the platform folder is read too (after the profile one), so a model exported from
the shell with the default folder also shows in QGIS. Only the standard library is imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "MARSSPEC_MODELS_DIR"
MANIFEST_NAME = "manifest.json"

_profile_models_dir: Path | None = None


def set_profile_models_dir(path: str | os.PathLike[str] | None) -> None:
    """Called by the QGIS adapter at load with ``<profile>/marsspec/models`` (None: forget)."""
    global _profile_models_dir
    _profile_models_dir = Path(path) if path else None


def platform_models_dir(
    platform: str | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The platform's per-user data folder for marsspec models (not created here)."""
    platform = platform or sys.platform
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    if platform.startswith("win"):
        base = Path(env["APPDATA"]) if env.get("APPDATA") else home / "AppData" / "Roaming"
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / "marsspec" / "models"


def user_models_dir() -> Path:
    """The folder ``export`` writes to by default (it may not exist yet)."""
    return user_models_dirs()[0]


def user_models_dirs() -> tuple[Path, ...]:
    """Every user folder models are read from, the one export writes first: the environment
    variable's folder alone when set, else the QGIS profile's (inside QGIS) and the platform's."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return (Path(os.path.abspath(os.path.expanduser(configured))),)
    folders = [_profile_models_dir] if _profile_models_dir else []
    folders.append(platform_models_dir())
    unique: list[Path] = []
    for folder in folders:
        if folder is not None and Path(os.path.abspath(folder)) not in unique:
            unique.append(Path(os.path.abspath(folder)))
    return tuple(unique)


def user_manifest_path() -> Path:
    """The manifest export writes (``<user models folder>/manifest.json``)."""
    return user_models_dir() / MANIFEST_NAME


def describe_locations() -> str:
    """One line for messages and ``--help``: where your models are."""
    folders = user_models_dirs()
    where = " and ".join(repr(str(f)) for f in folders)
    return f"your models: {where} (set {ENV_VAR} to use another folder)"
