"""Paths of the plugin's own files (icon), independent of where QGIS installed it."""

from __future__ import annotations

from pathlib import Path

PLUGIN_ROOT = Path(__file__).resolve().parent.parent
ICON_PATH = PLUGIN_ROOT / "icon.svg"


def icon():
    from qgis.PyQt.QtGui import QIcon

    return QIcon(str(ICON_PATH))
