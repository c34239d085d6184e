"""marsspec's packages folder in the active QGIS profile, put on ``sys.path`` at plugin load.

Called from the root ``classFactory`` before anything imports torch, so that the packages
the Install button put in ``<profile>/marsspec/python-packages`` are found like any other;
only a folder sealed for this Python (core/installer/folder.py) is used.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from qgis.core import QgsApplication

from marsspec.core import dependencies
from marsspec.core.installer import folder


def packages_dir() -> Path:
    return Path(QgsApplication.qgisSettingsDirPath()) / "marsspec" / folder.FOLDER_NAME


def install_log_path() -> Path:
    return packages_dir().parent / "install.log"


def activate_packages() -> str:
    """Tell core where the folder is, tidy what earlier installs left, and use the folder
    when it is sealed; returns its state (``ready``, ``absent``, ...)."""
    try:
        target = packages_dir()
    except Exception:  # no profile (a bare QgsApplication): nothing to activate
        return "absent"
    dependencies.set_packages_dir(target)
    with contextlib.suppress(OSError):
        folder.clean_leftovers(target)
    folder.activate(target)
    return folder.state(target)
