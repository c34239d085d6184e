"""Which optional Python packages are missing, and the exact command that installs them.

The most common complaint about deep-learning QGIS plugins is installing torch into QGIS's own
Python. marsspec starts without them and, when an algorithm needs one, names what is missing
and how to install it: the Install button (core/installer: into marsspec's own packages
folder, QGIS's Python untouched), or the same install as a command for *QGIS's Python*.
Detection uses ``importlib.util.find_spec``: nothing heavy is imported just to check.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Requirement:
    module: str  # import name
    spec: str  # pip requirement, pinned to what marsspec is tested with
    pip_options: tuple[str, ...] = ()


# Pins match requirements.txt (a test keeps them in step).
DEEP_LEARNING: tuple[Requirement, ...] = (
    Requirement("torch", "torch==2.14.1"),
    Requirement("torchvision", "torchvision==0.29.1"),
    Requirement("segmentation_models_pytorch", "segmentation-models-pytorch==0.6.0"),
    Requirement("timm", "timm==1.0.31"),
)
COREGISTRATION: tuple[Requirement, ...] = (
    Requirement("arosics", "arosics==1.12.1"),
    Requirement("geoarray", "geoarray==0.17.2"),
    Requirement("py_tools_ds", "py_tools_ds==0.21.1"),
    # Built from source so it uses the system GEOS that QGIS has already loaded.
    Requirement("shapely", "shapely==2.1.2", ("--no-binary", "shapely")),
)
ALL_OPTIONAL: tuple[Requirement, ...] = DEEP_LEARNING + COREGISTRATION
# Also needed at run time, and not always in QGIS's Python: weights, configs, memory, progress.
SUPPORT: tuple[Requirement, ...] = (
    Requirement("safetensors", "safetensors==0.8.0"),
    Requirement("yaml", "PyYAML==6.0.3"),
    Requirement("psutil", "psutil==7.2.2"),
    Requirement("tqdm", "tqdm==4.67.1"),
)
# What the Install button installs: the plugin's run-time set (no pytest, ruff or monai).
RUNTIME: tuple[Requirement, ...] = ALL_OPTIONAL + SUPPORT
_BY_MODULE = {req.module: req for req in RUNTIME}


def requirement_for(module: str) -> Requirement:
    return _BY_MODULE.get(module, Requirement(module, module.replace("_", "-")))


def is_installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_requirements(modules: tuple[str, ...] | list[str]) -> list[Requirement]:
    """The requirements among ``modules`` that this Python cannot import."""
    return [requirement_for(module) for module in modules if not is_installed(module)]


def python_executable() -> str:
    """QGIS's Python executable (inside QGIS ``sys.executable`` is QGIS itself): see
    :mod:`marsspec.core.installer.interpreter`; this process's executable when none is found."""
    from marsspec.core.errors import InterpreterNotFoundError
    from marsspec.core.installer.interpreter import find_python

    try:
        return str(find_python())
    except InterpreterNotFoundError:
        return sys.executable or "python3"


# marsspec's own packages folder in the QGIS profile, set by the plugin at load
# (marsspec_plugin/packages.py); None outside QGIS (the CLI installs into its own Python).
_PACKAGES_DIR: Path | None = None


def set_packages_dir(path: str | os.PathLike[str] | None) -> None:
    global _PACKAGES_DIR  # one process-wide setting, set once by the plugin
    _PACKAGES_DIR = Path(path) if path else None


def packages_dir() -> Path | None:
    return _PACKAGES_DIR


def install_command(requirements: list[Requirement], python: str | None = None) -> str:
    """One command that installs ``requirements``: inside QGIS into marsspec's own packages
    folder (``pip --target``, sealed with the marker the plugin checks: the manual fallback of
    the Install button), elsewhere into the running Python (a virtual environment, say).
    Never ``--user`` or ``--break-system-packages``: QGIS's and the system's Python stay as
    they are."""
    from marsspec.core.installer.plan import InstallPlan, manual_command

    python = python or python_executable()
    target = packages_dir()
    if target is not None:
        return manual_command(InstallPlan(requirements=tuple(requirements)), python, target)
    plan = InstallPlan(requirements=tuple(requirements), binaries_for_shadowed=False)
    words = [python, "-m", "pip", "install", *plan.index_options(), *plan.build_options()]
    return shlex.join(words + plan.specs())


def missing_message(requirements: list[Requirement], feature: str) -> str:
    """The message an algorithm shows when it cannot run: what is missing and the fix."""
    names = ", ".join(requirement.spec.split("==")[0] for requirement in requirements)
    return (
        f"{feature} needs Python packages that are not installed in the Python QGIS uses "
        f"({python_executable()}): {names}. Install them with the Install button (Raster > "
        "marsspec > Python packages, or 'Check marsspec dependencies' with Action install), "
        "or with:\n"
        f"  {install_command(requirements)}\n"
        "then restart QGIS."
    )
