"""Build dist/marsspec-<version>.zip for QGIS's "Install from ZIP".

One top folder ``marsspec/`` holding what the plugin needs at run time: the root files,
``marsspec_plugin/``, ``cli/``, ``core/`` and ``models/``. Offline parts (``training/``),
tests and development files stay out.
"""

from __future__ import annotations

import argparse
import configparser
import os
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROOT_FILES = ("metadata.txt", "__init__.py", "__main__.py", "icon.svg", "LICENSE", "README.md")
PACKAGES = ("marsspec_plugin", "cli", "core", "models")
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".tmp"}


def plugin_version() -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    return parser.get("general", "version")


def files_to_ship() -> list[Path]:
    files = [ROOT / name for name in ROOT_FILES if (ROOT / name).is_file()]
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if (
                path.is_file()
                and not (SKIP_PARTS & set(path.parts))
                and (path.suffix not in SKIP_SUFFIXES)
            ):
                files.append(path)
    return files


def build(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"marsspec-{plugin_version()}.zip"
    handle, temporary = tempfile.mkstemp(suffix=".zip.tmp", dir=out_dir)
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in files_to_ship():
                archive.write(path, Path("marsspec") / path.relative_to(ROOT))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    target = build(parser.parse_args().out)
    print(f"package={target}")


if __name__ == "__main__":
    main()
