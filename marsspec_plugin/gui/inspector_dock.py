"""The bin-probability inspector: a map tool and a dock (paper 000 Fig. 16).

Click a pixel of a CTX layer: the click is transformed from the canvas CRS into the layer's
own CRS (any CRS QGIS knows, Mars ones included), :mod:`marsspec.core.pixel_inspector`
asks the spectral job's own code for that pixel (the patches of the run's plan that cover it,
the same statistics, DEM stacking and blending), and the dock shows per band the bin
probabilities as bars, the value ``Predict spectra`` writes there with the same choices, the
confidence measures, and a warning when a distribution has more than one mode.
"""

from __future__ import annotations

import contextlib
import threading

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsMapLayerProxyModel,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
)
from qgis.gui import QgsMapLayerComboBox, QgsMapToolEmitPoint, QgsVertexMarker
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from marsspec.core.dependencies import missing_requirements
from marsspec.marsspec_plugin.gui.bin_bars import BinBarsWidget
from marsspec.marsspec_plugin.gui.dependency_dialog import ensure_dependencies

REQUIRED_MODULES = ("torch", "segmentation_models_pytorch")
FEATURE = "The bin-probability inspector"


def bin_models(manifest_path: str | None = None) -> list[tuple[str, str]]:
    """(id, label) of the bin-classification models in a manifest (default: the bundled ones
    and yours, each label marked as which);
    empty if none is installed."""
    try:
        from marsspec.core.models.manifest import load_manifest

        return [(e.id, e.label) for e in load_manifest(manifest_path).by_task("spectra-bins")]
    except Exception:  # a broken manifest must not break the dock
        return []


def to_layer_crs(
    point: QgsPointXY, source_crs: QgsCoordinateReferenceSystem, layer: QgsRasterLayer
) -> QgsPointXY:
    """``point`` (in ``source_crs``) in the layer's CRS; raises ValueError when QGIS cannot
    transform between them (e.g. a Mars layer under an Earth canvas CRS)."""
    if not source_crs.isValid() or not layer.crs().isValid() or source_crs == layer.crs():
        return QgsPointXY(point)
    transform = QgsCoordinateTransform(source_crs, layer.crs(), QgsProject.instance())
    try:
        return transform.transform(point)
    except QgsCsException as exc:
        raise ValueError(
            f"Cannot transform the click from {source_crs.authid() or source_crs.description()}"
            f" to the layer's CRS {layer.crs().authid() or layer.crs().description()} ({exc}). "
            "Set the project CRS to the layer's CRS (right-click the layer > Layer CRS > "
            "Set Project CRS from Layer)."
        ) from exc


class InspectorMapTool(QgsMapToolEmitPoint):
    """Emits ``picked(point in canvas CRS)`` on a left click."""

    picked = pyqtSignal(QgsPointXY)

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.canvasClicked.connect(self._clicked)

    def _clicked(self, point: QgsPointXY, button) -> None:
        if button == Qt.MouseButton.LeftButton:
            self.picked.emit(point)


class BandPanel(QGroupBox):
    """One band: its bars and a line of numbers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.bars = BinBarsWidget(self)
        self.numbers = QLabel(self)
        self.numbers.setWordWrap(True)
        self.numbers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.bars)
        layout.addWidget(self.numbers)

    def show_band(self, band) -> None:
        title = band.name + (f" ({band.wavelength_nm:g} nm)" if band.wavelength_nm else "")
        self.setTitle(title)
        self.bars.set_distribution(band.centres, band.probabilities, band.value, "P(bin)")
        modes = f"<b style='color:#c0392b'>{band.modes} modes</b>" if band.multimodal else "1 mode"
        units = f" {band.units}" if band.units else ""
        self.numbers.setText(
            f"value <b>{band.value:.3f}</b>{units} (argmax {band.argmax_value:.3f}) · "
            f"max p {band.max_probability:.2f} · entropy {band.entropy:.2f} · "
            f"confidence {band.confidence:.2f} · {modes}"
        )


class InspectorDock(QDockWidget):
    """The dock; ``activate()`` puts its map tool on the canvas."""

    def __init__(self, iface, parent: QWidget | None = None) -> None:
        super().__init__("marsspec bin-probability inspector", parent)
        self.setObjectName("marsspecInspectorDock")
        self.iface = iface
        self.canvas = iface.mapCanvas()
        self.tool = InspectorMapTool(self.canvas)
        self.tool.picked.connect(self.inspect_map_point)
        self.marker: QgsVertexMarker | None = None
        self.last_inspection = None
        self.last_error = ""
        self.manifest_path: str | None = None
        self.preload_thread: threading.Thread | None = None
        self._build()

    # ---- widgets ---------------------------------------------------------------------------
    def _build(self) -> None:
        body = QWidget(self)
        layout = QVBoxLayout(body)
        form = QFormLayout()
        self.layer_box = QgsMapLayerComboBox(body)
        self.layer_box.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.band_box = QSpinBox(body)
        self.band_box.setRange(1, 999)
        self.model_box = QComboBox(body)
        self.set_manifest(None)
        # the choices of Predict spectra that change the values (same defaults)
        from marsspec.core.options import NORMALISATIONS

        self.normalisation_box = QComboBox(body)
        for mode in NORMALISATIONS:
            self.normalisation_box.addItem(mode, mode)
        self.stride_box = QComboBox(body)
        self.stride_box.addItem("the model's default", None)
        for factor in (1, 2, 3, 4):
            self.stride_box.addItem(str(factor), factor)
        self.dem_box = QgsMapLayerComboBox(body)
        self.dem_box.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.dem_box.setAllowEmptyLayer(True)
        self.dem_box.setLayer(None)
        self.dem_box.setToolTip("Only for a model trained with a DEM channel.")
        form.addRow("CTX layer", self.layer_box)
        form.addRow("Band", self.band_box)
        form.addRow("Bin model", self.model_box)
        form.addRow("Normalisation", self.normalisation_box)
        form.addRow("Stride factor", self.stride_box)
        form.addRow("DEM (optional)", self.dem_box)
        layout.addLayout(form)
        self.pick_button = QPushButton("Pick a pixel on the map", body)
        self.pick_button.setCheckable(True)
        self.pick_button.toggled.connect(self._toggle_tool)
        self.canvas.mapToolSet.connect(self._tool_changed)
        layout.addWidget(self.pick_button)
        self.status = QLabel("Click a pixel of the CTX layer.", body)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.warning = QLabel(body)
        self.warning.setObjectName("marsspecMultimodalWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(
            "QLabel { background: #fdecea; color: #8a1c12; border: 1px solid #e0a39b;"
            " padding: 4px; }"
        )
        self.warning.hide()
        layout.addWidget(self.warning)
        self.bands_area = QWidget(body)
        self.bands_layout = QVBoxLayout(self.bands_area)
        self.bands_layout.setContentsMargins(0, 0, 0, 0)
        self.panels: list[BandPanel] = []
        scroll = QScrollArea(body)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.bands_area)
        layout.addWidget(scroll, 1)
        self.setWidget(body)

    def set_manifest(self, manifest_path: str | None) -> None:
        """List the bin models of another manifest (your own exported models)."""
        self.manifest_path = manifest_path
        self.model_box.clear()
        for model_id, label in bin_models(manifest_path):
            self.model_box.addItem(label, model_id)

    def _preload(self) -> None:
        """Build the chosen network in a background thread so the first click is quick."""
        model_id = self.model_box.currentData()
        if not model_id or missing_requirements(list(REQUIRED_MODULES)):
            return
        from marsspec.core.pixel_inspector import preload

        def work() -> None:
            with contextlib.suppress(Exception):  # errors are reported on the click instead
                preload(model_id, self.manifest_path)

        self.preload_thread = threading.Thread(target=work, name="marsspec-preload", daemon=True)
        self.preload_thread.start()

    def _toggle_tool(self, on: bool) -> None:
        if on:
            self.activate()
        elif self.canvas.mapTool() is self.tool:
            self.canvas.unsetMapTool(self.tool)

    def _tool_changed(self, new_tool, _old=None) -> None:
        self.pick_button.blockSignals(True)
        self.pick_button.setChecked(new_tool is self.tool)
        self.pick_button.blockSignals(False)

    def activate(self) -> None:
        """Show the dock, preselect the active raster layer and arm the map tool."""
        active = self.iface.activeLayer()
        if isinstance(active, QgsRasterLayer):
            self.layer_box.setLayer(active)
        self.show()
        self.raise_()
        self.canvas.setMapTool(self.tool)
        self._preload()

    # ---- the work --------------------------------------------------------------------------
    def inspect_map_point(self, point: QgsPointXY) -> bool:
        """Inspect the pixel under ``point`` (canvas CRS). Returns True when bars are shown."""
        layer = self.layer_box.currentLayer()
        if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
            return self._fail("Choose a raster (CTX) layer first.")
        if self.model_box.count() == 0:
            return self._fail(
                "No bin model is installed (models/manifest.json has no 'spectra-bins' entry)."
            )
        if not ensure_dependencies(
            REQUIRED_MODULES, FEATURE, self.iface.mainWindow(), self.iface.messageBar()
        ):
            return self._fail("Missing Python packages: see the message.")
        canvas_crs = self.canvas.mapSettings().destinationCrs()
        try:
            layer_point = to_layer_crs(point, canvas_crs, layer)
        except ValueError as exc:
            return self._fail(str(exc))
        from marsspec.core.errors import MarsspecError
        from marsspec.core.pixel_inspector import inspect_point

        path = layer.source().split("|")[0]
        dem_layer = self.dem_box.currentLayer()
        dem = dem_layer.source().split("|")[0] if isinstance(dem_layer, QgsRasterLayer) else None
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            result = inspect_point(
                path,
                layer_point.x(),
                layer_point.y(),
                band=min(self.band_box.value(), layer.bandCount()),
                model_id=self.model_box.currentData(),
                normalisation=self.normalisation_box.currentData(),
                stride_factor=self.stride_box.currentData(),
                dem=dem,
                manifest_path=self.manifest_path,
            )
        except MarsspecError as exc:
            return self._fail(str(exc))
        finally:
            QApplication.restoreOverrideCursor()
        self._place_marker(point)
        self.show_inspection(result)
        return True

    def show_inspection(self, result) -> None:
        self.last_inspection = result
        self.last_error = ""
        while len(self.panels) < len(result.bands):
            panel = BandPanel(self.bands_area)
            self.bands_layout.addWidget(panel)
            self.panels.append(panel)
        for index, panel in enumerate(self.panels):
            panel.setVisible(index < len(result.bands))
            if index < len(result.bands):
                panel.show_band(result.bands[index])
        caveat = " (trained on simulated scenes)" if result.simulated else ""
        self.status.setText(
            f"Pixel row {result.row}, column {result.col} · input {result.input_value:.4g} · "
            f"model {result.model_id}{caveat} · {len(result.patches)} patch(es) of "
            f"{result.size} px at stride {result.stride} on {result.device} · overall: max p "
            f"{result.max_probability:.2f}, entropy {result.entropy:.2f}, confidence "
            f"{result.confidence:.2f} · {result.seconds:.2f} s"
        )
        multimodal = [band.name for band in result.bands if band.multimodal]
        if multimodal:
            self.warning.setText(
                "Warning: multi-modal distribution in " + ", ".join(multimodal) + ". The model "
                "hesitates between distinct values here; the reconstructed value may be wrong "
                "(paper 000, Fig. 16)."
            )
        self.warning.setVisible(bool(multimodal))

    def _fail(self, message: str) -> bool:
        self.last_error = message
        self.status.setText(f"<span style='color:#8a1c12'>{message}</span>")
        return False

    def _place_marker(self, point: QgsPointXY) -> None:
        if self.marker is None:
            self.marker = QgsVertexMarker(self.canvas)
            self.marker.setColor(QColor(230, 30, 30))
            self.marker.setIconType(QgsVertexMarker.IconType.ICON_CROSS)
            self.marker.setIconSize(14)
            self.marker.setPenWidth(2)
        self.marker.setCenter(point)

    def cleanup(self) -> None:
        """Called on plugin unload: release the map tool and the marker."""
        if self.canvas.mapTool() is self.tool:
            self.canvas.unsetMapTool(self.tool)
        if self.marker is not None:
            self.canvas.scene().removeItem(self.marker)
            self.marker = None
