"""Right-click a raster layer -> "Predict spectra..." / "Super-resolve 4x...".

Each action opens the algorithm's normal Processing dialog with the layer preset as INPUT, so
everything the dialog offers (batch, history, run in background, open outputs) stays there.
"""

from __future__ import annotations

from dataclasses import dataclass

from qgis.core import QgsApplication, QgsMapLayerType, QgsRasterLayer
from qgis.PyQt.QtWidgets import QMessageBox

from marsspec.marsspec_plugin.gui.dependency_dialog import ensure_dependencies
from marsspec.marsspec_plugin.qt_compat import QAction
from marsspec.marsspec_plugin.resources import icon


@dataclass(frozen=True)
class LayerAction:
    text: str
    algorithm_id: str


LAYER_ACTIONS = (
    LayerAction("Predict spectra...", "marsspec:predictspectra"),
    LayerAction("Super-resolve 4x...", "marsspec:superresolve"),
)


def algorithm_requirements(algorithm) -> tuple[str, ...]:
    """The Python modules a marsspec algorithm needs (empty for anything else)."""
    return tuple(getattr(algorithm, "REQUIRED_MODULES", ()) or ())


def open_algorithm_dialog(iface, algorithm_id: str, layer: QgsRasterLayer | None) -> bool:
    """Open ``algorithm_id``'s dialog with INPUT = ``layer``; explain instead if it cannot."""
    parent = iface.mainWindow() if iface is not None else None
    algorithm = QgsApplication.processingRegistry().algorithmById(algorithm_id)
    if algorithm is None:
        QMessageBox.information(
            parent,
            "marsspec",
            f"The algorithm {algorithm_id} is not available in this marsspec version (or the "
            "Processing plugin is disabled). Enable Processing in Plugins > Manage and "
            "Install Plugins, or update marsspec.",
        )
        return False
    bar = iface.messageBar() if iface is not None else None
    if not ensure_dependencies(
        algorithm_requirements(algorithm), algorithm.displayName(), parent, bar
    ):
        return False
    import processing  # QGIS's Processing plugin; imported late (it may load after us)

    parameters = {"INPUT": layer} if layer is not None else {}
    processing.execAlgorithmDialog(algorithm_id, parameters)
    return True


class LayerActions:
    """Owns the context-menu actions; ``register`` in initGui, ``unregister`` in unload."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.actions: list[QAction] = []

    def register(self) -> None:
        for spec in LAYER_ACTIONS:
            action = QAction(icon(), spec.text, self.iface.mainWindow())
            action.setObjectName(f"marsspec_{spec.algorithm_id.split(':')[1]}_layer_action")
            action.setData(spec.algorithm_id)
            action.triggered.connect(
                lambda _checked=False, alg=spec.algorithm_id: self.trigger(alg)
            )
            # allLayers=True: offered on every raster layer, present and future.
            self.iface.addCustomActionForLayerType(action, "", QgsMapLayerType.RasterLayer, True)
            self.actions.append(action)

    def trigger(self, algorithm_id: str) -> bool:
        layer = self.iface.activeLayer()
        raster = layer if isinstance(layer, QgsRasterLayer) else None
        return open_algorithm_dialog(self.iface, algorithm_id, raster)

    def unregister(self) -> None:
        for action in self.actions:
            self.iface.removeCustomActionForLayerType(action)
            action.deleteLater()
        self.actions = []
