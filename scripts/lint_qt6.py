"""Fail on Qt5-only forms in the plugin, so that it loads in QGIS 4 (Qt6) as in QGIS 3 (Qt5).

    python scripts/lint_qt6.py [PATH ...]        (default: marsspec_plugin/ and __init__.py)

Rules (each finding: ``path:line:col: QT6nnn message``; exit status 1 if any):

- QT601  Qt imported other than through ``qgis.PyQt`` (PyQt5, PyQt6, PySide, sip).
- QT602  ``exec_()`` / ``print_()``: Qt6 bindings only have ``exec()`` / ``print()``.
- QT603  ``QAction``/``QActionGroup``/``QShortcut`` from ``QtWidgets``: they live in ``QtGui``
         in Qt6; import them from ``marsspec_plugin/qt_compat.py`` (works on both).
- QT604  an enum member reached without its enum (``Qt.AlignLeft``): PyQt6 only knows
         ``Qt.AlignmentFlag.AlignLeft``, which PyQt5 accepts too. The list of such members
         is read from the installed PyQt5 itself (every class of QtCore, QtGui, QtWidgets).
- QT605  a class Qt6 removed (``QRegExp``, ``QDesktopWidget``...), with its replacement.
- QT606  the same as QT604 for QGIS's own enums (``QgsProcessingParameterNumber.Double`` ->
         ``QgsProcessingParameterNumber.Type.Double``), read from qgis.core and qgis.gui:
         PyQt6 builds of QGIS expose enums the Python-enum way too.

``--fix`` rewrites QT604/QT606 findings in place to the scoped form (both work on Qt5).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = (ROOT / "marsspec_plugin", ROOT / "__init__.py")
COMPAT_MODULE = "qt_compat.py"  # the one place allowed to import the moved classes both ways
DIRECT_BINDINGS = ("PyQt5", "PyQt6", "PySide2", "PySide6", "sip")
MOVED_TO_QTGUI = ("QAction", "QActionGroup", "QShortcut")
REMOVED = {
    "QRegExp": "QRegularExpression",
    "QRegExpValidator": "QRegularExpressionValidator",
    "QDesktopWidget": "QGuiApplication.screens()",
    "QGLWidget": "QOpenGLWidget",
    "QMatrix": "QTransform",
    "QSound": "QSoundEffect",
    "QStringRef": "str",
}


def unscoped_enum_members(
    module_names: tuple[str, ...] = ("PyQt5.QtCore", "PyQt5.QtGui", "PyQt5.QtWidgets"),
) -> dict[str, dict[str, str]]:
    """``{class: {member: "Enum.Qualified.Name"}}`` for every enum member the (sip, Qt5)
    bindings expose on a class without its enum's name (``Qt.AlignLeft`` ->
    ``Qt.AlignmentFlag``)."""
    import importlib

    try:
        modules = [importlib.import_module(name) for name in module_names]
    except ImportError as exc:
        raise SystemExit(
            f"lint_qt6: PyQt5 and QGIS 3 are needed to list Qt5's unscoped enum members "
            f"({exc}); run it in the QGIS 3 environment (make lint)."
        ) from exc
    table: dict[str, dict[str, str]] = {}
    for module in modules:
        for class_name in dir(module):
            cls = getattr(module, class_name)
            if not isinstance(cls, type):
                continue
            members: dict[str, str] = {}
            for name in dir(cls):
                if name.startswith("_"):
                    continue
                try:
                    value = getattr(cls, name)
                except Exception:  # some descriptors refuse class access
                    continue
                enum_type = type(value)
                if type(enum_type).__name__ != "enumtype":  # sip's enum metaclass
                    continue
                if enum_type.__name__ != name:
                    members[name] = enum_type.__qualname__
            if members:
                table[class_name] = members
    return table


def _owner_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def check_source(
    source: str,
    path: str,
    enums: dict[str, dict[str, str]],
    qgis_enums: dict[str, dict[str, str]] | None = None,
) -> Iterator[tuple[int, int, str]]:
    tree = ast.parse(source, filename=path)
    compat = Path(path).name == COMPAT_MODULE
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for module in modules:
                if module.split(".")[0] in DIRECT_BINDINGS:
                    yield (
                        node.lineno,
                        node.col_offset,
                        (f"QT601 import Qt through qgis.PyQt, not {module}"),
                    )
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("QtWidgets"):
                for alias in node.names:
                    if alias.name in MOVED_TO_QTGUI and not compat:
                        yield (
                            node.lineno,
                            node.col_offset,
                            (
                                f"QT603 {alias.name} is in QtGui in Qt6: import it from "
                                f"marsspec.marsspec_plugin.{COMPAT_MODULE[:-3]}"
                            ),
                        )
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name in REMOVED:
                        yield (
                            node.lineno,
                            node.col_offset,
                            (f"QT605 {alias.name} is gone in Qt6: use {REMOVED[alias.name]}"),
                        )
        elif isinstance(node, ast.Attribute):
            if node.attr in ("exec_", "print_"):
                yield (
                    node.lineno,
                    node.col_offset,
                    (f"QT602 {node.attr}() is Qt5-only: use {node.attr[:-1]}()"),
                )
            owner = _owner_name(node.value) or ""
            for code, table in (("QT604", enums), ("QT606", qgis_enums or {})):
                scoped = table.get(owner, {}).get(node.attr)
                if scoped:
                    yield (
                        node.lineno,
                        node.col_offset,
                        (f"{code} {owner}.{node.attr} is Qt5-only: use {scoped}.{node.attr}"),
                    )
            if node.attr in REMOVED:
                yield (
                    node.lineno,
                    node.col_offset,
                    (f"QT605 {node.attr} is gone in Qt6: use {REMOVED[node.attr]}"),
                )


def python_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
        elif path.suffix == ".py":
            files.append(path)
    return files


def fix_line(line: str, message: str) -> str:
    """Apply one QT604/QT606 suggestion to its line (``Qt.AlignLeft`` -> scoped form)."""
    match = re.search(r"(\w+)\.(\w+) is Qt5-only: use ([\w.]+)$", message)
    if not match:
        return line
    owner, attr, scoped = match.groups()
    enum_name = scoped.split(".")[-2]
    return re.sub(rf"\b{owner}\.{attr}\b", f"{owner}.{enum_name}.{attr}", line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--fix", action="store_true", help="rewrite enum findings in place")
    args = parser.parse_args(argv)
    paths = args.paths or list(DEFAULT_PATHS)
    enums = unscoped_enum_members()
    qgis_enums = unscoped_enum_members(("qgis.core", "qgis.gui"))
    findings = 0
    for path in python_files(paths):
        source = path.read_text(encoding="utf-8")
        found = sorted(check_source(source, str(path), enums, qgis_enums))
        if args.fix:
            lines = source.splitlines(keepends=True)
            for line, _col, message in found:
                lines[line - 1] = fix_line(lines[line - 1], message)
            path.write_text("".join(lines), encoding="utf-8")
            found = sorted(check_source("".join(lines), str(path), enums, qgis_enums))
        for line, col, message in found:
            print(f"{path}:{line}:{col + 1}: {message}")
            findings += 1
    if findings:
        print(f"lint_qt6: {findings} Qt5-only form(s); QGIS 4 (Qt6) would not load them.")
        return 1
    print(f"lint_qt6: {len(python_files(paths))} files Qt6-ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
