"""`make check-plugin`: build the plugin zip and check what the QGIS plugin repository checks.

The repository (plugins.qgis.org) refuses an upload that is over 25,000,000 bytes, holds
compiled files or caches (``.pyc``, ``__pycache__``, ``.git``, ``__MACOSX``) or paths with
``..``, has not one top folder named like a Python identifier with ``__init__.py`` and
``metadata.txt`` in it, lacks a required metadata key (name, description, version,
qgisMinimumVersion, author, email, about, tracker, repository) or a ``LICENSE`` file, or whose
tracker/repository/homepage is not a well-formed URL; and a plugin that says it supports Qt6
must allow QGIS 4 (``qgisMaximumVersion`` 4.x: QGIS's default maximum is 3.99). The repository
also requests those URLs; this check does not go online, and only warns about a placeholder
host (``.invalid``).

    python scripts/check_plugin.py [--zip dist/marsspec-X.zip]    (default: build one)

Prints ``key=value`` lines; exit status 1 with one ``error: ...`` line per problem.
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import package  # scripts/package.py, beside this file

MAX_BYTES = 25_000_000  # the repository's PLUGIN_MAX_UPLOAD_SIZE
REQUIRED_KEYS = (
    "name",
    "description",
    "version",
    "qgisMinimumVersion",
    "author",
    "email",
    "about",
    "tracker",
    "repository",
)
URL_KEYS = ("tracker", "repository", "homepage")
FORBIDDEN_PARTS = {"__MACOSX", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
FORBIDDEN_SUFFIXES = (".pyc", ".pyo", ".so.tmp", ".DS_Store")
TOP_FOLDER = re.compile(r"^[A-Za-z][A-Za-z0-9_-]+$")


def check_url(key: str, value: str) -> tuple[list[str], list[str]]:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"metadata {key}={value!r} is not a well-formed http(s) URL"], []
    if (parts.hostname or "").endswith(".invalid"):
        return [], [f"metadata {key}={value} is a placeholder: set the real URL before uploading"]
    return [], []


def check_metadata(text: str) -> tuple[list[str], list[str], configparser.SectionProxy | None]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keep camelCase keys
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        return [f"metadata.txt cannot be parsed: {exc}"], [], None
    if not parser.has_section("general"):
        return ["metadata.txt has no [general] section"], [], None
    general = parser["general"]
    errors = [
        f"metadata {key} is missing or empty"
        for key in REQUIRED_KEYS
        if not general.get(key, "").strip()
    ]
    warnings: list[str] = []
    for key in URL_KEYS:
        if general.get(key, "").strip():
            url_errors, url_warnings = check_url(key, general[key].strip())
            errors += url_errors
            warnings += url_warnings
    if "/" in general.get("author", ""):
        errors.append("metadata author cannot contain '/'")
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", general.get("qgisMinimumVersion", "")):
        errors.append("metadata qgisMinimumVersion must look like 3.22")
    if general.get("supportsQt6", "").strip().lower() in ("true", "yes", "1"):
        maximum = general.get("qgisMaximumVersion", "").strip() or "3.99"  # QGIS's default
        if int(maximum.split(".")[0]) < 4:
            errors.append(
                f"supportsQt6 is set but qgisMaximumVersion is {maximum}: QGIS 4 would not "
                "offer the plugin; set qgisMaximumVersion=4.99"
            )
    return errors, warnings, general


def check_zip(path: Path) -> tuple[list[str], list[str], dict[str, str]]:
    """Errors, warnings and facts (``key: value``) for the zip at ``path``."""
    errors: list[str] = []
    warnings: list[str] = []
    size = path.stat().st_size
    facts = {"zip_bytes": str(size), "limit_bytes": str(MAX_BYTES)}
    if size > MAX_BYTES:
        errors.append(f"the zip is {size:,} bytes; the repository takes at most {MAX_BYTES:,}")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        return [*errors, f"not a zip file: {exc}"], warnings, facts
    with archive:
        names = archive.namelist()
        facts["files"] = str(len(names))
        facts["unpacked_bytes"] = str(sum(info.file_size for info in archive.infolist()))
        for name in names:
            parts = name.split("/")
            if ".." in parts or name.startswith("/") or "\\" in name:
                errors.append(f"unsafe path in the zip: {name}")
            if ".pyc" in name or name.endswith(FORBIDDEN_SUFFIXES):
                errors.append(f"compiled or temporary file in the zip: {name}")
            bad = FORBIDDEN_PARTS.intersection(parts[:-1] if not name.endswith("/") else parts)
            if bad:
                errors.append(f"cache or VCS folder {sorted(bad)[0]} in the zip: {name}")
        broken = archive.testzip()
        if broken:
            errors.append(f"the zip is damaged (CRC error) at {broken}")
        tops = sorted({name.split("/")[0] for name in names})
        if len(tops) != 1:
            errors.append(f"the zip must hold one top folder, not {tops}")
            return errors, warnings, facts
        top = tops[0]
        if not TOP_FOLDER.match(top):
            errors.append(f"top folder {top!r} must start with a letter, then letters/digits/-/_")
        for required in ("__init__.py", "metadata.txt", "LICENSE"):
            if f"{top}/{required}" not in names:
                errors.append(f"{top}/{required} is missing from the zip")
        if f"{top}/metadata.txt" in names:
            text = archive.read(f"{top}/metadata.txt").decode("utf-8")
            meta_errors, meta_warnings, general = check_metadata(text)
            errors += meta_errors
            warnings += meta_warnings
            if general is not None:
                icon = general.get("icon", "").removeprefix("./")
                if icon and f"{top}/{icon}" not in names:
                    errors.append(f"metadata icon={icon} is not in the zip")
                facts["version"] = general.get("version", "")
                facts["supportsQt6"] = general.get("supportsQt6", "")
                facts["qgisMaximumVersion"] = general.get("qgisMaximumVersion", "")
    return errors, warnings, facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, default=None, help="check this zip (default: build)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="marsspec-check-plugin-") as folder:
        path = args.zip or package.build(Path(folder))
        print(f"zip={path if args.zip else 'built by scripts/package.py (temporary) ' + path.name}")
        errors, warnings, facts = check_zip(path)
        for key, value in facts.items():
            print(f"{key}={value}")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    print(f"check_plugin={'failed' if errors else 'ok'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
