"""A user's session in the real QGIS desktop, run by ``qgis --code`` (see tests/qgis_desktop.py).

Environment (set by the caller):
  MARSSPEC_SCENARIO_OUT       JSON report written here (always, even on failure)
  MARSSPEC_SCENARIO_CTX       a CTX raster to load and click on
  MARSSPEC_SCENARIO_MANIFEST  manifest with the bin model for the inspector ("" = bundled)
  MARSSPEC_SCENARIO_MODEL     the inspector's model id (default: the manifest's first)
  MARSSPEC_SCENARIO_CANVAS_CRS  PROJ string for the project CRS (tests the click transform)
  MARSSPEC_SCENARIO_EVC       optional predicted EVC raster, loaded over the CTX and styled
  MARSSPEC_SCENARIO_SHOTS     optional folder: PNG screenshots are written there
  MARSSPEC_SCENARIO_UNLOAD    "1": unload the plugin at the end and check it cleaned up

Every step records what it saw in the report; the test asserts on it. Nothing here is mocked:
it is QGIS's own main window, layer tree menu, Processing dialog and map canvas.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QPoint, Qt, QTimer
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QApplication
from qgis.utils import iface, plugins, unloadPlugin

ENV = os.environ
REPORT: dict = {"steps": [], "errors": []}
SHOTS = Path(ENV["MARSSPEC_SCENARIO_SHOTS"]) if ENV.get("MARSSPEC_SCENARIO_SHOTS") else None


def wait(ms: int) -> None:
    """Let Qt run (paint, render, deliver timers) for ``ms`` milliseconds."""
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def shot(widget, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(SHOTS / name))
        REPORT.setdefault("screenshots", []).append(name)


def _visible_dialog():
    """Processing's algorithm dialog is not reported by activeModalWidget(): look for it."""
    from qgis.gui import QgsProcessingAlgorithmDialogBase

    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QgsProcessingAlgorithmDialogBase) and widget.isVisible():
            return widget
    return None


def on_next_modal(handler, timeout_ms: int = 20000) -> None:
    """Call ``handler(widget)`` on the next modal dialog, then close it (modal dialogs block
    the caller's ``exec_()``, so this polls from the event loop)."""
    started = time.monotonic()

    def poll() -> None:
        widget = QApplication.activeModalWidget() or _visible_dialog()
        if widget is not None and widget.isVisible():
            wait(300)
            try:
                handler(widget)
            except Exception:  # report, then still close the dialog
                REPORT["errors"].append(traceback.format_exc())
            widget.reject() if hasattr(widget, "reject") else widget.close()
        elif (time.monotonic() - started) * 1000 < timeout_ms:
            QTimer.singleShot(100, poll)
        else:
            REPORT["errors"].append("no modal dialog appeared")

    QTimer.singleShot(100, poll)


def step_plugin_loaded() -> None:
    from qgis.utils import active_plugins, available_plugins

    REPORT["available_plugins"] = list(available_plugins)
    REPORT["active_plugins"] = list(active_plugins)
    registry = QgsApplication.processingRegistry()
    REPORT["plugin_loaded"] = "marsspec" in plugins
    REPORT["provider"] = registry.providerById("marsspec") is not None
    REPORT["algorithms"] = sorted(
        a.id() for a in registry.algorithms() if a.provider().id() == "marsspec"
    )
    REPORT["gui_application"] = bool(QgsApplication.instance().platform() == "desktop")


def load_layers():
    canvas_crs = ENV.get("MARSSPEC_SCENARIO_CANVAS_CRS")
    ctx = QgsRasterLayer(ENV["MARSSPEC_SCENARIO_CTX"], "CTX")
    QgsProject.instance().addMapLayer(ctx)
    evc = None
    if ENV.get("MARSSPEC_SCENARIO_EVC"):
        evc = QgsRasterLayer(ENV["MARSSPEC_SCENARIO_EVC"], "Predicted EVC (592/533/442 nm)")
        QgsProject.instance().addMapLayer(evc)  # styled by the plugin (layersAdded)
        REPORT["evc_renderer"] = evc.renderer().type()
        contrast = evc.renderer().redContrastEnhancement()
        REPORT["evc_red_range"] = [contrast.minimumValue(), contrast.maximumValue()]
    if canvas_crs:
        QgsProject.instance().setCrs(QgsCoordinateReferenceSystem.fromProj(canvas_crs))
    canvas = iface.mapCanvas()
    crs = canvas.mapSettings().destinationCrs()
    extent = QgsCoordinateTransform(ctx.crs(), crs, QgsProject.instance()).transformBoundingBox(
        ctx.extent()
    )
    canvas.setExtent(extent)
    canvas.refresh()
    iface.setActiveLayer(ctx)
    wait(800)
    REPORT["ctx_valid"] = ctx.isValid()
    REPORT["canvas_crs_differs"] = crs != ctx.crs()
    return ctx, evc


def step_context_menu(ctx) -> list:
    view = iface.layerTreeView()
    view.setCurrentLayer(ctx)
    menu = view.menuProvider().createContextMenu()
    texts = [a.text() for a in menu.actions()]
    for action in menu.actions():
        if action.menu() is not None:
            texts += [a.text() for a in action.menu().actions()]
    REPORT["context_menu"] = texts
    return [a for a in menu.actions() if a.text() == "Predict spectra..."]


def step_open_dialog(actions) -> None:
    if not actions:
        REPORT["errors"].append("no 'Predict spectra...' action in the layer menu")
        return

    def seen(dialog) -> None:
        REPORT["dialog_class"] = type(dialog).__name__
        REPORT["dialog_title"] = dialog.windowTitle()
        algorithm = getattr(dialog, "algorithm", None)
        if algorithm is not None:
            REPORT["dialog_algorithm"] = algorithm().id()
            values = dialog.createProcessingParameters()
            value = values.get("INPUT")
            REPORT["dialog_input"] = value if isinstance(value, str) else str(value)
        else:  # the friendly "not available" message
            REPORT["dialog_text"] = getattr(dialog, "text", lambda: "")()
        dialog.resize(900, 640)
        wait(300)
        shot(dialog, "processing-dialog.png")

    on_next_modal(seen)
    actions[0].trigger()
    wait(200)


def step_dependency_dialog() -> None:
    from marsspec.marsspec_plugin.gui.dependency_dialog import ensure_dependencies

    def seen(dialog) -> None:
        REPORT["dependency_dialog"] = getattr(dialog, "text", "")
        REPORT["dependency_command"] = getattr(dialog, "command", "")

    on_next_modal(seen)
    REPORT["dependency_ok"] = ensure_dependencies(
        ("torch", "marsspec_no_such_package"), "Scenario feature", iface.mainWindow()
    )
    # second time: no second dialog, a message-bar line instead
    before = len(iface.messageBar().items())
    ensure_dependencies(
        ("marsspec_no_such_package",), "Scenario feature", iface.mainWindow(), iface.messageBar()
    )
    REPORT["dependency_second_time_bar"] = len(iface.messageBar().items()) > before
    iface.messageBar().clearWidgets()


def src_xy(layer, row: int, col: int) -> tuple[float, float]:
    import rasterio

    with rasterio.open(layer.source()) as src:
        return src.xy(row, col)


def step_inspector(ctx) -> None:
    import rasterio

    dock = plugins["marsspec"].inspector
    dock.set_manifest(ENV.get("MARSSPEC_SCENARIO_MANIFEST") or None)
    if ENV.get("MARSSPEC_SCENARIO_MODEL"):
        dock.model_box.setCurrentIndex(dock.model_box.findData(ENV["MARSSPEC_SCENARIO_MODEL"]))
    REPORT["inspector_models"] = [dock.model_box.itemData(i) for i in range(dock.model_box.count())]
    plugins["marsspec"].inspector_action.trigger()  # what the toolbar button does
    wait(300)
    started = time.monotonic()
    while dock.preload_thread is not None and dock.preload_thread.is_alive():
        wait(100)  # the user finds the pixel while torch loads in the background
    REPORT["preload_seconds"] = time.monotonic() - started
    canvas = iface.mapCanvas()
    REPORT["map_tool_is_inspector"] = canvas.mapTool() is dock.tool
    with rasterio.open(ctx.source()) as src:
        row, col = src.height // 3, (2 * src.width) // 3
        x, y = src.xy(row, col)
    to_canvas = QgsCoordinateTransform(
        ctx.crs(), canvas.mapSettings().destinationCrs(), QgsProject.instance()
    )
    point = to_canvas.transform(QgsPointXY(x, y))
    device = canvas.getCoordinateTransform().transform(point)
    position = QPoint(round(device.x()), round(device.y()))
    started = time.monotonic()
    QTest.mouseClick(canvas.viewport(), Qt.LeftButton, Qt.NoModifier, position)
    wait(300)
    REPORT["click_seconds"] = time.monotonic() - started
    REPORT["requested_pixel"] = [row, col]
    # the raster pixel under the screen pixel actually clicked (screen pixels may be larger
    # than raster pixels): map coordinates of the click, back into the layer CRS
    clicked = canvas.getCoordinateTransform().toMapCoordinates(position.x(), position.y())
    back = QgsCoordinateTransform(
        canvas.mapSettings().destinationCrs(), ctx.crs(), QgsProject.instance()
    ).transform(clicked)
    with rasterio.open(ctx.source()) as src:
        REPORT["expected_pixel"] = list(src.index(back.x(), back.y()))
    result = dock.last_inspection
    REPORT["inspector_error"] = dock.last_error
    if result is not None:
        REPORT["inspected_pixel"] = [result.row, result.col]
        REPORT["inspection_seconds"] = result.seconds
        REPORT["bands"] = [
            {"name": b.name, "value": b.value, "bins": len(b.probabilities), "modes": b.modes}
            for b in result.bands
        ]
    # a second click elsewhere: what every later click costs
    second = canvas.getCoordinateTransform().transform(
        to_canvas.transform(QgsPointXY(*src_xy(ctx, row // 2, col // 2)))
    )
    started = time.monotonic()
    QTest.mouseClick(
        canvas.viewport(),
        Qt.LeftButton,
        Qt.NoModifier,
        QPoint(round(second.x()), round(second.y())),
    )
    REPORT["second_click_seconds"] = time.monotonic() - started
    if dock.last_inspection is not None:
        REPORT["second_pixel"] = [dock.last_inspection.row, dock.last_inspection.col]
    # show the first pixel again for the screenshot
    QTest.mouseClick(canvas.viewport(), Qt.LeftButton, Qt.NoModifier, position)
    dock.resize(420, 900)
    wait(300)
    shot(dock, "inspector-dock.png")
    REPORT["bars_drawn"] = [len(panel.bars.bar_rects) for panel in dock.panels if panel.isVisible()]
    REPORT["status"] = dock.status.text()
    REPORT["warning_visible"] = dock.warning.isVisible()
    shot(iface.mainWindow(), "qgis-window.png")


def step_canvas_shot(ctx, evc) -> None:
    """The styled EVC over its CTX input, rendered like the canvas at the layer's aspect."""
    if evc is None or SHOTS is None:
        return
    from qgis.core import QgsMapRendererParallelJob
    from qgis.PyQt.QtCore import QSize

    settings = iface.mapCanvas().mapSettings()
    extent = QgsCoordinateTransform(
        ctx.crs(), settings.destinationCrs(), QgsProject.instance()
    ).transformBoundingBox(ctx.extent())
    settings.setExtent(extent)
    width = 900
    settings.setOutputSize(QSize(width, round(width * extent.height() / extent.width())))
    settings.setLayers([evc, ctx])
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    SHOTS.mkdir(parents=True, exist_ok=True)
    job.renderedImage().save(str(SHOTS / "evc-over-ctx.png"))
    REPORT.setdefault("screenshots", []).append("evc-over-ctx.png")


def step_unload() -> None:
    if ENV.get("MARSSPEC_SCENARIO_UNLOAD") != "1":
        return
    unloadPlugin("marsspec")
    wait(200)
    registry = QgsApplication.processingRegistry()
    REPORT["after_unload_provider"] = registry.providerById("marsspec") is not None
    view = iface.layerTreeView()
    menu = view.menuProvider().createContextMenu()
    REPORT["after_unload_menu"] = [a.text() for a in menu.actions()]


def main() -> None:
    try:
        iface.mainWindow().resize(1600, 1000)
        step_plugin_loaded()
        ctx, evc = load_layers()
        step_open_dialog(step_context_menu(ctx))
        step_dependency_dialog()
        step_inspector(ctx)
        step_canvas_shot(ctx, evc)
        step_unload()
    except Exception:  # the report carries the traceback
        REPORT["errors"].append(traceback.format_exc())
    finally:
        Path(ENV["MARSSPEC_SCENARIO_OUT"]).write_text(json.dumps(REPORT, indent=1, default=str))
        QgsProject.instance().clear()
        QgsApplication.exit(0)


def _log(message, tag, level) -> None:
    if tag in ("Python error", "Python warning", "Plugins", "marsspec") or level >= 2:
        REPORT.setdefault("messages", []).append(f"[{tag}] {message}"[:3000])


QgsApplication.messageLog().messageReceived.connect(_log)
QTimer.singleShot(300, main)
