"""The plugin object QGIS creates through classFactory.

``initProcessing`` registers the Processing provider (desktop QGIS and ``qgis_process``
alike). ``initGui`` adds the desktop parts: the raster-layer context-menu actions, the
bin-probability inspector (menu + toolbar + dock) and the automatic styling of marsspec
outputs added to the project. Nothing heavy is imported here: torch is loaded on first use.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from qgis.core import QgsApplication, QgsProject

from marsspec.core.models import locations
from marsspec.marsspec_plugin.provider import MarsspecProvider

MENU = "&marsspec"


def profile_models_dir() -> Path:
    """Your models folder inside the active QGIS profile: ``<profile>/marsspec/models``."""
    return Path(QgsApplication.qgisSettingsDirPath()) / "marsspec" / "models"


def tell_core_the_profile() -> None:
    """Core never imports qgis: tell it where the QGIS profile keeps your models (read with the
    bundled ones by the Toolbox, the right-click dialogs and the inspector)."""
    try:
        locations.set_profile_models_dir(profile_models_dir())
    except Exception:  # no profile (a bare QgsApplication): the platform folder still works
        locations.set_profile_models_dir(None)


class MarsspecPlugin:
    """Adds marsspec's provider to Processing and, with a GUI, its desktop tools."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: MarsspecProvider | None = None
        self.layer_actions = None
        self.inspector = None
        self.inspector_action = None
        self.packages_action = None
        tell_core_the_profile()

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API name
        if self.provider is None:
            self.provider = MarsspecProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS API name
        from marsspec.marsspec_plugin.gui.torch_guard import block_triton

        block_triton()  # before anything in the desktop process imports torch (see module)
        self.initProcessing()
        if self.iface is None:
            return
        from qgis.PyQt.QtCore import Qt

        from marsspec.marsspec_plugin.gui.inspector_dock import InspectorDock
        from marsspec.marsspec_plugin.gui.layer_actions import LayerActions
        from marsspec.marsspec_plugin.qt_compat import QAction
        from marsspec.marsspec_plugin.resources import icon

        self.layer_actions = LayerActions(self.iface)
        self.layer_actions.register()
        self.inspector = InspectorDock(self.iface, self.iface.mainWindow())
        self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector)
        self.inspector.hide()
        self.inspector_action = QAction(
            icon(), "Bin-probability inspector", self.iface.mainWindow()
        )
        self.inspector_action.setObjectName("marsspecInspectorAction")
        self.inspector_action.setToolTip(
            "marsspec: click a CTX pixel to see the predicted bin probabilities per band"
        )
        self.inspector_action.triggered.connect(self.inspector.activate)
        self.iface.addPluginToRasterMenu(MENU, self.inspector_action)
        self.iface.addRasterToolBarIcon(self.inspector_action)
        self.packages_action = QAction(icon(), "Python packages...", self.iface.mainWindow())
        self.packages_action.setObjectName("marsspecPackagesAction")
        self.packages_action.setToolTip(
            "marsspec: install or remove the Python packages it needs (torch, arosics...)"
        )
        self.packages_action.triggered.connect(self.show_packages_dialog)
        self.iface.addPluginToRasterMenu(MENU, self.packages_action)
        QgsProject.instance().layersAdded.connect(self._style_added_layers)

    def show_packages_dialog(self) -> None:
        """Install / Uninstall marsspec's Python packages (dialog of the Plugins menu)."""
        from marsspec.marsspec_plugin.gui.dependency_dialog import DependencyDialog

        DependencyDialog(parent=self.iface.mainWindow()).exec()

    def _style_added_layers(self, layers) -> None:
        """Layers that marsspec wrote get their style however they arrive (Processing dialog,
        drag and drop, Add Raster Layer); anything else is left alone."""
        from marsspec.marsspec_plugin.styling import style_marsspec_layer

        for layer in layers:
            try:
                style_marsspec_layer(layer)
            except Exception as exc:  # never break adding a layer
                self.iface.messageBar().pushInfo("marsspec", f"Not styled: {exc}")

    def unload(self) -> None:
        if self.iface is not None and self.inspector is not None:
            with contextlib.suppress(TypeError):
                QgsProject.instance().layersAdded.disconnect(self._style_added_layers)
            self.layer_actions.unregister()
            self.iface.removePluginRasterMenu(MENU, self.inspector_action)
            self.iface.removeRasterToolBarIcon(self.inspector_action)
            if self.packages_action is not None:
                self.iface.removePluginRasterMenu(MENU, self.packages_action)
                self.packages_action.deleteLater()
                self.packages_action = None
            self.inspector.cleanup()
            self.iface.removeDockWidget(self.inspector)
            self.inspector.deleteLater()
            self.inspector_action.deleteLater()
            self.inspector = self.inspector_action = self.layer_actions = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
