"""Which executable is QGIS's Python.

Inside QGIS ``sys.executable`` is the QGIS program itself (``qgis``, ``qgis-bin.exe``, or
``QGIS.app/Contents/MacOS/QGIS``), not a Python: running it with ``-m pip`` would start another
QGIS. The Python that QGIS embeds lives at a place fixed per platform, found from
``sys.prefix``:

- Linux packages:             ``<prefix>/bin/python3.X`` (e.g. /usr/bin/python3.11)
- Windows OSGeo4W/standalone: ``<prefix>\\python.exe`` (prefix ``...\\apps\\Python3X``)
- macOS app bundle:           ``QGIS.app/Contents/MacOS/bin/python3.X`` (next to the QGIS
                              binary), or ``<prefix>/bin/python3.X`` in the bundled framework
"""

from __future__ import annotations

import sys
from pathlib import Path

from marsspec.core.errors import InterpreterNotFoundError


def interpreter_candidates(
    prefix: str | Path,
    executable: str | Path,
    platform: str,
    version: tuple[int, int],
) -> list[Path]:
    """Where QGIS's Python may be, most likely first, for the given platform and version."""
    major, minor = version
    names = [f"python{major}.{minor}", f"python{major}", "python"]
    prefix, executable = Path(prefix), Path(executable)
    if platform.startswith("win"):
        found = [prefix / "python.exe", prefix / f"python{major}.exe"]
        # OSGeo4W: <root>\apps\Python3X (prefix) and <root>\bin\python.exe (a launcher)
        found.append(prefix.parent.parent / "bin" / "python.exe")
        return found
    found = []
    if platform == "darwin":
        found += [executable.parent / "bin" / name for name in names]  # .../MacOS/bin
    found += [prefix / "bin" / name for name in names]
    if Path(executable).name.startswith("python"):  # a plain Python (tests, the CLI)
        found.insert(0, Path(executable))
    return found


def find_python(
    prefix: str | Path | None = None,
    executable: str | Path | None = None,
    platform: str | None = None,
    version: tuple[int, int] | None = None,
) -> Path:
    """QGIS's Python executable (default: of this process); a clear error when none exists."""
    prefix = prefix if prefix is not None else sys.prefix
    executable = executable if executable is not None else (sys.executable or "")
    platform = platform or sys.platform
    version = version or (sys.version_info.major, sys.version_info.minor)
    candidates = interpreter_candidates(prefix, executable, platform, version)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InterpreterNotFoundError(
        f"QGIS's Python {version[0]}.{version[1]} was not found (looked for "
        f"{', '.join(str(c) for c in candidates[:3])}); install marsspec's packages with the "
        "manual command in the README's desktop install section."
    )
