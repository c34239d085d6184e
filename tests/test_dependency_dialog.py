"""The Python packages dialog: Install runs the real task (tiny package), progress and status
follow it, Uninstall removes the folder; the manual command follows the torch build chosen."""

from __future__ import annotations

import importlib
import sys
import time

from marsspec.core.dependencies import requirement_for
from marsspec.core.installer import folder
from tests.test_installer_qgis import PLAN, TINY, forget_tiny


def wait_until(condition, limit_s: float = 120.0) -> None:
    from qgis.PyQt.QtCore import QCoreApplication

    deadline = time.monotonic() + limit_s
    while not condition() and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    assert condition(), "timed out"


def make_dialog(tmp_path):
    from marsspec.marsspec_plugin.gui.dependency_dialog import DependencyDialog

    dialog = DependencyDialog([requirement_for("marsspec_no_such_package")], "Test feature")
    dialog.target = tmp_path / "profile" / "marsspec" / folder.FOLDER_NAME
    dialog.log_path = tmp_path / "install.log"
    dialog._update_buttons()
    return dialog


def test_dialog_names_what_is_missing_and_the_manual_command(qgis_app, tmp_path):
    dialog = make_dialog(tmp_path)
    assert "marsspec-no-such-package" in dialog.text
    assert dialog.install_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert not dialog.uninstall_button.isEnabled()  # nothing installed there
    builds = [dialog.build.itemData(i) for i in range(dialog.build.count())]
    assert builds == ["auto", "cpu", "cuda"]
    dialog.build.setCurrentIndex(builds.index("cpu"))
    assert "torch==2.14.1+cpu" in dialog.command and "--target" in dialog.command
    assert "--user" not in dialog.command and "--break-system-packages" not in dialog.command
    assert dialog.command_box.toPlainText() == dialog.command


def test_install_and_uninstall_buttons(qgis_app, tmp_path):
    forget_tiny()
    dialog = make_dialog(tmp_path)
    task = dialog.start_install(PLAN)
    assert task is not None and not dialog.install_button.isEnabled()
    assert dialog.cancel_button.isEnabled()
    try:
        wait_until(lambda: dialog.task is None)
        assert "Installed in" in dialog.status.text(), dialog.status.text()
        assert dialog.progress.value() == 100
        assert dialog.uninstall_button.isEnabled() and dialog.log_button.isEnabled()
        module = importlib.import_module(TINY.module)
        assert str(dialog.target) in module.__file__
        dialog.uninstall()
        assert "Removed" in dialog.status.text() and not dialog.target.exists()
    finally:
        if str(dialog.target) in sys.path:
            sys.path.remove(str(dialog.target))
        forget_tiny()
