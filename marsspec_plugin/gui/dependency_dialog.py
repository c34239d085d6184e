"""One dialog that says which Python packages QGIS's Python lacks and how to install them.

Shown on first use (when an action that needs torch/smp/arosics is triggered), never at
start-up: QGIS and the provider always load. The text comes from
:mod:`marsspec.core.dependencies`, so the dialog, the Processing error and
``marsspec check-deps`` give the same command.
"""

from __future__ import annotations

from collections.abc import Iterable

from qgis.PyQt.QtGui import QGuiApplication
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from marsspec.core.dependencies import Requirement, install_command, missing_requirements

# Features whose dialog was already shown this session: afterwards a message-bar line is
# enough (the user has seen the command once; showing a modal dialog on every click nags).
_SHOWN: set[str] = set()


class MissingDependenciesDialog(QDialog):
    """Names what is missing and shows the exact, copyable install command."""

    def __init__(self, missing: list[Requirement], feature: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("marsspecMissingDependencies")
        self.setWindowTitle("marsspec: Python packages missing")
        self.command = install_command(missing)
        names = ", ".join(requirement.spec.split("==")[0] for requirement in missing)
        layout = QVBoxLayout(self)
        self.message = QLabel(
            f"<b>{feature}</b> needs Python packages that the Python QGIS runs does not have: "
            f"<b>{names}</b>.<br>Run this command in a terminal (on Windows: the OSGeo4W "
            "Shell), then restart QGIS:"
        )
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.command_box = QPlainTextEdit(self.command)
        self.command_box.setReadOnly(True)
        self.command_box.setObjectName("marsspecInstallCommand")
        self.command_box.setMinimumWidth(560)
        self.command_box.setMaximumHeight(90)
        layout.addWidget(self.command_box)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        copy = QPushButton("Copy command")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.command))
        buttons.addButton(copy, QDialogButtonBox.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @property
    def text(self) -> str:
        return f"{self.message.text()}\n{self.command}"


def ensure_dependencies(
    modules: Iterable[str], feature: str, parent: QWidget | None = None, message_bar=None
) -> bool:
    """True if every module is importable; otherwise explain (dialog once, then the message
    bar) and return False so the caller stops before anything fails half-way."""
    missing = missing_requirements(list(modules))
    if not missing:
        return True
    if feature in _SHOWN and message_bar is not None:
        message_bar.pushWarning(
            "marsspec", f"{feature} needs: {install_command(missing)} (then restart QGIS)"
        )
        return False
    _SHOWN.add(feature)
    MissingDependenciesDialog(missing, feature, parent).exec_()
    return False
