"""Qt classes that moved between modules from Qt5 to Qt6, imported so both work.

``QAction``, ``QActionGroup`` and ``QShortcut`` are in ``QtWidgets`` in Qt5 (QGIS 3) and in
``QtGui`` in Qt6 (QGIS 4); QGIS 3.22's ``qgis.PyQt.QtGui`` does not re-export them. The
rest of the plugin imports them from here (scripts/lint_qt6.py, rule QT603).
"""

from __future__ import annotations

try:  # Qt6 (QGIS 4)
    from qgis.PyQt.QtGui import QAction, QActionGroup, QShortcut
except ImportError:  # Qt5 (QGIS 3)
    from qgis.PyQt.QtWidgets import QAction, QActionGroup, QShortcut

__all__ = ["QAction", "QActionGroup", "QShortcut"]
