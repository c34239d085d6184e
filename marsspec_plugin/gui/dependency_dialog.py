"""The dialog that installs the Python packages marsspec needs, in one click.

Shown on first use (when an action that needs torch/smp/arosics is triggered) and from the
Raster > marsspec menu, never at start-up: QGIS and the provider always load. "Install" runs
QGIS's own Python as ``pip install --target`` into marsspec's packages folder in the QGIS
profile (core/installer), as a background task with progress, a log and cancel; "Uninstall"
removes that folder. The manual command (the same install, to paste into a terminal) stays
visible as the fallback; it is the one the Processing error and ``check-deps`` give.
"""

from __future__ import annotations

from collections.abc import Iterable

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QDesktopServices, QGuiApplication
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from marsspec.core.dependencies import (
    RUNTIME,
    Requirement,
    missing_requirements,
    python_executable,
)
from marsspec.core.installer import folder
from marsspec.core.installer.plan import InstallPlan, detect_variant, manual_command
from marsspec.marsspec_plugin.installer_task import InstallTask
from marsspec.marsspec_plugin.packages import install_log_path, packages_dir

# Features whose dialog was already shown this session: afterwards a message-bar line is
# enough (the user has seen the dialog once; showing a modal dialog on every click nags).
_SHOWN: set[str] = set()
# Running install tasks: QGIS's task manager does not keep the Python object alive.
_TASKS: list[InstallTask] = []

BUILDS = (("auto", "Automatic"), ("cpu", "CPU only"), ("cuda", "NVIDIA GPU (CUDA)"))


class DependencyDialog(QDialog):
    """Install / Uninstall marsspec's packages; says what is missing and where they go."""

    def __init__(
        self,
        missing: list[Requirement] | None = None,
        feature: str = "marsspec",
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("marsspecMissingDependencies")
        self.setWindowTitle("marsspec: Python packages")
        if missing is None:
            missing = missing_requirements([r.module for r in RUNTIME])
        self.missing = missing
        self.target = packages_dir()
        self.log_path = install_log_path()
        self.task: InstallTask | None = None
        self.command = ""
        layout = QVBoxLayout(self)

        self.message = QLabel(self._summary(feature))
        self.message.setWordWrap(True)
        layout.addWidget(self.message)

        row = QHBoxLayout()
        row.addWidget(QLabel("torch build:"))
        self.build = QComboBox()
        self.build.setObjectName("marsspecTorchBuild")
        detected = detect_variant()
        for value, text in BUILDS:
            label = f"{text} (this machine: {detected.upper()})" if value == "auto" else text
            self.build.addItem(label, value)
        self.build.currentIndexChanged.connect(self._refresh_command)
        row.addWidget(self.build, 1)
        layout.addLayout(row)

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setObjectName("marsspecInstallProgress")
        layout.addWidget(self.progress)
        self.status = QLabel(self._state_text())
        self.status.setWordWrap(True)
        self.status.setObjectName("marsspecInstallStatus")
        layout.addWidget(self.status)

        layout.addWidget(
            QLabel(
                "Or install by hand: run this in a terminal (on Windows: the OSGeo4W Shell), "
                "then restart QGIS:"
            )
        )
        self.command_box = QPlainTextEdit()
        self.command_box.setReadOnly(True)
        self.command_box.setObjectName("marsspecInstallCommand")
        self.command_box.setMinimumWidth(560)
        self.command_box.setMaximumHeight(110)
        layout.addWidget(self.command_box)
        self._refresh_command()

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        role = QDialogButtonBox.ButtonRole.ActionRole
        self.install_button = QPushButton("Install")
        self.install_button.setObjectName("marsspecInstallButton")
        self.install_button.clicked.connect(self.start_install)
        self.cancel_button = QPushButton("Cancel install")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_install)
        self.uninstall_button = QPushButton("Uninstall")
        self.uninstall_button.clicked.connect(self.uninstall)
        self.log_button = QPushButton("Open log")
        self.log_button.clicked.connect(self.open_log)
        copy = QPushButton("Copy command")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.command))
        for button in (
            self.install_button,
            self.cancel_button,
            self.uninstall_button,
            self.log_button,
            copy,
        ):
            buttons.addButton(button, role)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._update_buttons()

    # ---- text -------------------------------------------------------------------------------
    def _summary(self, feature: str) -> str:
        if not self.missing:
            return "All Python packages marsspec needs are available in QGIS's Python."
        names = ", ".join(requirement.spec.split("==")[0] for requirement in self.missing)
        return (
            f"<b>{feature}</b> needs Python packages that the Python QGIS runs does not have: "
            f"<b>{names}</b>.<br>Click <b>Install</b> to download them (torch is large: 0.2 GB "
            f"for the CPU build, several GB for CUDA) into marsspec's own folder "
            f"<code>{self.target}</code>; QGIS's Python is not changed."
        )

    def _state_text(self) -> str:
        state = folder.state(self.target)
        return {
            "ready": f"Installed in {self.target}.",
            "absent": "Not installed yet.",
            "unfinished": "An earlier install did not finish: it is not used. Install again.",
            "other-python": "The folder was installed for another Python: it is not used. "
            "Install again.",
        }.get(state, state)

    @property
    def text(self) -> str:
        return f"{self.message.text()}\n{self.command}"

    def plan(self) -> InstallPlan:
        return InstallPlan(variant=self.build.currentData() or "auto")

    def _refresh_command(self) -> None:
        """The manual fallback: the very install the button runs, as one command."""
        self.command = manual_command(self.plan(), python_executable(), self.target)
        self.command_box.setPlainText(self.command)

    def _update_buttons(self) -> None:
        running = self.task is not None
        self.install_button.setEnabled(not running)
        self.build.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.uninstall_button.setEnabled(not running and self.target.exists())
        self.log_button.setEnabled(self.log_path.exists())

    # ---- actions ----------------------------------------------------------------------------
    def start_install(self, plan: InstallPlan | None = None) -> InstallTask | None:
        """Start the install task; returns it (None when QGIS's Python cannot be found)."""
        from marsspec.core.errors import InstallError
        from marsspec.core.installer.interpreter import find_python

        try:
            python = str(find_python())
        except InstallError as exc:
            self.status.setText(str(exc))
            return None
        task = InstallTask(
            plan if isinstance(plan, InstallPlan) else self.plan(),
            self.target,
            python,
            self.log_path,
            on_done=self._done,
        )
        task.progressChanged.connect(lambda value: self.progress.setValue(int(value)))
        self.task = task
        _TASKS.append(task)
        self.status.setText("Installing... (you can close this dialog; QGIS keeps going)")
        self._update_buttons()
        QgsApplication.taskManager().addTask(task)
        return task

    def cancel_install(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _done(self, task: InstallTask) -> None:
        if task in _TASKS:
            _TASKS.remove(task)
        try:
            if task.outcome is not None:
                self.progress.setValue(100)
                self.status.setText(
                    f"Installed in {task.target}. Restart QGIS if a tool still reports missing "
                    "packages."
                )
            elif task.cancelled:
                self.progress.setValue(0)
                self.status.setText("Cancelled: nothing was installed.")
            else:
                self.status.setText(f"Not installed: {task.error}")
            self.task = None
            self._update_buttons()
        except RuntimeError:  # the dialog was closed and deleted meanwhile
            pass

    def uninstall(self) -> None:
        removed = folder.uninstall(self.target)
        self.status.setText(
            f"Removed {self.target}. Restart QGIS to unload packages already in use."
            if removed
            else "Nothing to remove."
        )
        self._update_buttons()

    def open_log(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.log_path)))


# The name the first-use path has always used.
MissingDependenciesDialog = DependencyDialog


def ensure_dependencies(
    modules: Iterable[str], feature: str, parent: QWidget | None = None, message_bar=None
) -> bool:
    """True if every module is importable; otherwise offer the install (dialog once, then the
    message bar) and return False so the caller stops before anything fails half-way."""
    missing = missing_requirements(list(modules))
    if not missing:
        return True
    if feature in _SHOWN and message_bar is not None:
        message_bar.pushWarning(
            "marsspec",
            f"{feature} needs Python packages: Raster > marsspec > Python packages installs them.",
        )
        return False
    _SHOWN.add(feature)
    DependencyDialog(missing, feature, parent).exec()
    return False
