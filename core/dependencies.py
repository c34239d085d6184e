"""Which optional Python packages are missing, and the exact command that installs them.

The most common complaint about deep-learning QGIS plugins is installing torch into QGIS's own
Python. marsspec starts without them and, when an algorithm needs one, names what is missing
and prints a command for *the Python that is running* (QGIS's, not some other python3).
Detection uses ``importlib.util.find_spec``: nothing heavy is imported just to check.
"""

from __future__ import annotations

import importlib.util
import shlex
import sys
import sysconfig
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
_BY_MODULE = {req.module: req for req in ALL_OPTIONAL}


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
    """The interpreter of this process. Inside QGIS ``sys.executable`` is QGIS itself, or a
    ``python3`` found on PATH that may be another Python, so look in ``sys.prefix`` first."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        Path(sys.prefix) / "bin" / f"python{version}",
        Path(sys.prefix) / "bin" / "python3",
        Path(sys.prefix) / "python.exe",  # QGIS on Windows (OSGeo4W / standalone)
        Path(sys.prefix) / "python3.exe",
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    return sys.executable or "python3"


def _externally_managed() -> bool:
    """Debian/Ubuntu system Pythons refuse plain `pip install` (PEP 668)."""
    stdlib = sysconfig.get_paths().get("stdlib", "")
    return (
        bool(stdlib)
        and (Path(stdlib) / "EXTERNALLY-MANAGED").exists()
        and (sys.prefix == sys.base_prefix)
    )


def install_command(requirements: list[Requirement], python: str | None = None) -> str:
    """One shell command that installs ``requirements`` into the given (default: this) Python."""
    python = python or python_executable()
    words = [python, "-m", "pip", "install"]
    if _externally_managed():
        words += ["--user", "--break-system-packages"]
    for requirement in requirements:
        words += list(requirement.pip_options)
    words += [requirement.spec for requirement in requirements]
    return shlex.join(words)


def missing_message(requirements: list[Requirement], feature: str) -> str:
    """The message an algorithm shows when it cannot run: what is missing and the fix."""
    names = ", ".join(requirement.spec.split("==")[0] for requirement in requirements)
    return (
        f"{feature} needs Python packages that are not installed in the Python QGIS uses "
        f"({python_executable()}): {names}. Install them with:\n"
        f"  {install_command(requirements)}\n"
        "then restart QGIS."
    )
