"""What to install and the pip commands that do it.

The runtime subset of requirements.txt (never pytest, ruff or monai), with its pins, into a
folder of marsspec's own: ``pip install --target``. Never ``--user`` or
``--break-system-packages``: QGIS's Python and the system's stay untouched (``--target``
also passes pip's PEP 668 "externally managed" check, which only guards the interpreter's
own site-packages).

torch comes in builds per accelerator. ``auto`` picks CUDA when ``nvidia-smi`` is on PATH,
else the CPU build (a tenth of the download) from PyTorch's CPU index; macOS has one build.
The ``+cpu``/``+cuXXX`` local version pins the build, so pip cannot mix two indexes' wheels.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from marsspec.core.dependencies import RUNTIME, Requirement, is_installed
from marsspec.core.installer.folder import MARKER_NAME, marker_payload

PYPI_INDEX = "https://pypi.org/simple"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# Windows wheels on PyPI are CPU-only: CUDA builds come from PyTorch's own index. Linux
# wheels on PyPI are the CUDA build already.
TORCH_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"
TORCH_CUDA_LABEL = "cu128"
TORCH_PACKAGES = ("torch", "torchvision")
VARIANTS = ("auto", "cpu", "cuda")
# Free space asked for before starting (download cache + unpacked wheels), by torch build.
NEEDED_BYTES = {"cpu": 2_000_000_000, "cuda": 8_000_000_000, "default": 3_000_000_000}


def detect_variant(
    platform: str | None = None, which: Callable[[str], str | None] = shutil.which
) -> str:
    """``cuda`` when an NVIDIA driver is visible (``nvidia-smi``), ``cpu`` otherwise;
    ``default`` on macOS (one build, Metal/CPU)."""
    platform = platform or sys.platform
    if platform == "darwin":
        return "default"
    return "cuda" if which("nvidia-smi") else "cpu"


@dataclass(frozen=True)
class InstallPlan:
    """One install: the requirements, the torch build and the options pip gets.

    ``requirements`` default to marsspec's runtime set; tests give a tiny package instead and
    go through the same code. ``index_url`` replaces PyPI (a mirror, or a test's dead one)."""

    requirements: tuple[Requirement, ...] = RUNTIME
    variant: str = "auto"
    platform: str = field(default_factory=lambda: sys.platform)
    index_url: str | None = None
    needed_bytes: int | None = None
    pip_timeout_s: int = 30
    retries: int = 3
    # --target installs: a package QGIS's Python already has wins (it comes first on
    # sys.path), so building it from source is not needed; False: always build
    binaries_for_shadowed: bool = True

    def __post_init__(self) -> None:
        if self.variant not in (*VARIANTS, "default"):
            raise ValueError(f"torch build {self.variant!r}: choose one of {', '.join(VARIANTS)}")

    @property
    def torch_variant(self) -> str:
        if self.variant == "auto" or self.platform == "darwin":
            return detect_variant(self.platform)
        return self.variant

    @property
    def space_needed(self) -> int:
        if self.needed_bytes is not None:
            return self.needed_bytes
        if not any(r.module in TORCH_PACKAGES for r in self.requirements):
            return 200_000_000
        return NEEDED_BYTES[self.torch_variant]

    def specs(self) -> list[str]:
        """The pinned requirement strings; torch's pins carry the build's local label."""
        label = {"cpu": "cpu", "cuda": TORCH_CUDA_LABEL}.get(self.torch_variant)
        if self.torch_variant == "cuda" and not self.platform.startswith("win"):
            label = None  # Linux: PyPI's wheels are the CUDA build
        specs = []
        for requirement in self.requirements:
            spec = requirement.spec
            if label and requirement.module in TORCH_PACKAGES and "==" in spec:
                spec = f"{spec}+{label}"
            specs.append(spec)
        return specs

    def index_options(self) -> list[str]:
        options = ["--index-url", self.index_url] if self.index_url else []
        if any(r.module in TORCH_PACKAGES for r in self.requirements):
            if self.torch_variant == "cpu":
                options += ["--extra-index-url", TORCH_CPU_INDEX]
            elif self.torch_variant == "cuda" and self.platform.startswith("win"):
                options += ["--extra-index-url", TORCH_CUDA_INDEX]
        return options

    def build_options(self) -> list[str]:
        """Per-package pip options (shapely built from source, so that it links the GEOS QGIS
        has loaded: the wheel's own GEOS crashes qgis_process) apply on Linux only, and only
        when QGIS's Python has no shapely of its own (which, earlier on ``sys.path``, would be
        the one used anyway); Windows and macOS take the wheels."""
        if not self.platform.startswith("linux"):
            return []
        return [
            option
            for r in self.requirements
            if not (
                self.binaries_for_shadowed
                and self.platform == sys.platform
                and is_installed(r.module)
            )
            for option in r.pip_options
        ]


def pip_arguments(plan: InstallPlan, target: Path) -> list[str]:
    """``-m pip install ...`` arguments (after the interpreter) installing ``plan`` into
    ``target``."""
    return [
        "-m",
        "pip",
        "install",
        "--target",
        str(target),
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--progress-bar",
        "off",
        "--timeout",
        str(plan.pip_timeout_s),
        "--retries",
        str(plan.retries),
        *plan.index_options(),
        *plan.build_options(),
        *plan.specs(),
    ]


def pip_check_arguments() -> list[str]:
    return ["-m", "pip", "--version"]


def seal_code(plan: InstallPlan, target: Path, windows: bool) -> str:
    """Python code writing the install marker (folder.py): run after pip succeeded, it makes a
    manual install usable by the plugin, exactly as the Install button's marker does."""
    payload = marker_payload(plan.specs(), plan.torch_variant)
    if windows:  # inside cmd.exe double quotes: only single quotes in the code
        path, data = repr(str(target / MARKER_NAME)), repr(payload)
    else:
        path, data = json.dumps(str(target / MARKER_NAME)), json.dumps(payload)
    mode = "'w'" if windows else '"w"'
    return f"import json; json.dump({data}, open({path}, {mode}))"


def manual_command(plan: InstallPlan, python: str, target: Path) -> str:
    """The Install button's install as one command to paste: ``pip install --target`` into
    the (deleted or absent) packages folder, then, only if pip succeeded (``&&``), the marker.
    A POSIX shell line on Linux and macOS, a cmd.exe line (OSGeo4W Shell) on Windows."""
    windows = plan.platform.startswith("win")
    install = [python, *pip_arguments(plan, target)]
    seal = [python, "-c", seal_code(plan, target, windows)]
    if windows:
        quote = lambda word: f'"{word}"' if (" " in word or not word) else word  # noqa: E731
        return " ".join(map(quote, install)) + " && " + " ".join(map(quote, seal))
    return shlex.join(install) + " && " + shlex.join(seal)
