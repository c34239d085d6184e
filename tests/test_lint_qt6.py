"""The Qt6 lint (scripts/lint_qt6.py, run by `make lint`) finds planted Qt5-only forms and
passes on the plugin as it is."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import REPO_ROOT

LINT = REPO_ROOT / "scripts" / "lint_qt6.py"
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "qt5_only_forms.txt"


def lint(*paths: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(LINT), *paths], capture_output=True, text=True, timeout=120
    )


def test_planted_qt5_forms_fail_the_lint(tmp_path):
    planted = tmp_path / "qt5_module.py"
    shutil.copy(FIXTURE, planted)
    result = lint(str(planted))
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "QT601 import Qt through qgis.PyQt, not PyQt5.QtWidgets" in out
    assert "QT603 QAction is in QtGui in Qt6" in out
    assert "Qt.AlignLeft is Qt5-only: use Qt.AlignmentFlag.AlignLeft" in out
    assert "QMessageBox.Yes is Qt5-only: use QMessageBox.StandardButton.Yes" in out
    assert "QMessageBox.No is Qt5-only" in out
    assert "QT602 exec_() is Qt5-only" in out
    assert "QT606 QgsProcessingParameterNumber.Double is Qt5-only" in out
    assert out.count(": QT6") == 7


def test_fix_rewrites_enums_to_the_scoped_form_that_qt5_accepts(tmp_path):
    planted = tmp_path / "qt5_module.py"
    planted.write_text(
        "from qgis.PyQt.QtCore import Qt\nfrom qgis.PyQt.QtWidgets import QMessageBox\n"
        "flags = Qt.AlignLeft | Qt.AlignTop\nbuttons = QMessageBox.Yes | QMessageBox.No\n"
    )
    result = subprocess.run(
        [sys.executable, str(LINT), "--fix", str(planted)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
    text = planted.read_text()
    assert "Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop" in text
    namespace: dict = {}
    exec(compile(text, str(planted), "exec"), namespace)  # runs on Qt5 (QGIS 3.22)
    assert int(namespace["flags"]) == 1 | 32


def test_the_plugin_is_qt6_ready():
    result = lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Qt6-ready" in result.stdout
