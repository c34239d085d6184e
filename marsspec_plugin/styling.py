"""How marsspec outputs look when QGIS loads them.

* EVC/FC band rasters: RGB with the paper's 3-sigma per-band stretch (paper 000 §4.1.1:
  mean +- 3 standard deviations of each band).
* Confidence rasters: a pseudocolour ramp with a legend (red = uncertain, green = confident).
* Tie points of the co-registration: by reliability (issue 6's ``styles/*.qml`` when shipped).
* Super-resolved rasters: like their input layer (same renderer, same stretch).

Algorithms call one helper, :func:`style_output_on_load`, with the output's destination and a
kind; the plugin also styles marsspec rasters added by hand (``style_marsspec_layer``), which
it recognises by their ``MARSSPEC_ALGORITHM`` provenance tag.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from qgis.core import (
    QgsColorRampShader,
    QgsContrastEnhancement,
    QgsGradientColorRamp,
    QgsGraduatedSymbolRenderer,
    QgsMapLayer,
    QgsMarkerSymbol,
    QgsMultiBandColorRenderer,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsProject,
    QgsRasterBandStats,
    QgsRasterLayer,
    QgsRasterShader,
    QgsRendererRange,
    QgsSingleBandGrayRenderer,
    QgsSingleBandPseudoColorRenderer,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor

STYLES_DIR = Path(__file__).resolve().parent / "styles"
KINDS = ("spectral", "browse", "confidence", "tiepoints", "like_input")
SIGMA = 3.0
STATS_SAMPLE = 250_000  # pixels sampled for the stretch statistics (fast on any raster size)
UNCERTAIN = QColor(215, 48, 39)
MIDDLE = QColor(254, 224, 139)
CONFIDENT = QColor(26, 152, 80)


# ---- rasters -----------------------------------------------------------------------------


def sigma_range(layer: QgsRasterLayer, band: int, sigma: float = SIGMA) -> tuple[float, float]:
    """``mean +- sigma * std`` of ``band``, clipped to the band's own min/max."""
    provider = layer.dataProvider()
    stats = provider.bandStatistics(
        band,
        QgsRasterBandStats.Stats.Mean
        | QgsRasterBandStats.Stats.StdDev
        | QgsRasterBandStats.Stats.Min
        | QgsRasterBandStats.Stats.Max,
        layer.extent(),
        STATS_SAMPLE,
    )
    low = max(stats.mean - sigma * stats.stdDev, stats.minimumValue)
    high = min(stats.mean + sigma * stats.stdDev, stats.maximumValue)
    if not high > low:
        low, high = stats.minimumValue, max(stats.maximumValue, stats.minimumValue + 1e-6)
    return float(low), float(high)


def _stretch(layer: QgsRasterLayer, band: int, low: float, high: float) -> QgsContrastEnhancement:
    enhancement = QgsContrastEnhancement(layer.dataProvider().dataType(band))
    enhancement.setContrastEnhancementAlgorithm(
        QgsContrastEnhancement.ContrastEnhancementAlgorithm.StretchToMinimumMaximum, True
    )
    enhancement.setMinimumValue(low)
    enhancement.setMaximumValue(high)
    return enhancement


def style_rgb_3sigma(layer: QgsRasterLayer, bands: tuple[int, int, int] = (1, 2, 3)) -> None:
    """RGB of three bands (EVC: 592/533/442 nm; FC: 2503/1500/1080 nm), each stretched over
    its own mean +- 3 sigma, as the paper shows its predictions."""
    if layer.bandCount() < 3:
        style_gray_3sigma(layer)
        return
    renderer = QgsMultiBandColorRenderer(layer.dataProvider(), *bands)
    setters = (
        renderer.setRedContrastEnhancement,
        renderer.setGreenContrastEnhancement,
        renderer.setBlueContrastEnhancement,
    )
    for band, setter in zip(bands, setters, strict=True):
        setter(_stretch(layer, band, *sigma_range(layer, band)))
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def style_gray_3sigma(layer: QgsRasterLayer, band: int = 1) -> None:
    renderer = QgsSingleBandGrayRenderer(layer.dataProvider(), band)
    renderer.setContrastEnhancement(_stretch(layer, band, *sigma_range(layer, band)))
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def style_browse(layer: QgsRasterLayer) -> None:
    """The uint8 browse product is already stretched: show it 0-255 as RGB."""
    if layer.bandCount() < 3:
        style_gray_3sigma(layer)
        return
    renderer = QgsMultiBandColorRenderer(layer.dataProvider(), 1, 2, 3)
    renderer.setRedContrastEnhancement(_stretch(layer, 1, 0, 255))
    renderer.setGreenContrastEnhancement(_stretch(layer, 2, 0, 255))
    renderer.setBlueContrastEnhancement(_stretch(layer, 3, 0, 255))
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def _is_uncertainty(description: str) -> bool:
    """Entropy-like measures grow with uncertainty; probabilities with confidence."""
    text = description.lower()
    return any(word in text for word in ("entropy", "uncertain", "modes", "multimodal"))


def style_confidence(layer: QgsRasterLayer, band: int | None = None) -> None:
    """Pseudocolour ramp with a five-class legend: red = uncertain, green = confident.

    The band named "overall" is shown when there are several; values in [0, 1] use the full
    [0, 1] range, anything else its own min/max. Entropy bands get the ramp reversed.
    """
    provider = layer.dataProvider()
    if band is None:
        band = _band_described(layer, "overall") or 1
    stats = provider.bandStatistics(
        band,
        QgsRasterBandStats.Stats.Min | QgsRasterBandStats.Stats.Max,
        layer.extent(),
        STATS_SAMPLE,
    )
    low, high = float(stats.minimumValue), float(stats.maximumValue)
    if low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    if not high > low:
        high = low + 1e-6
    reverse = _is_uncertainty(_band_description(layer, band))
    start, end = (CONFIDENT, UNCERTAIN) if reverse else (UNCERTAIN, CONFIDENT)
    ramp = QgsGradientColorRamp(start, end)
    ramp.setStops([_stop(0.5, MIDDLE)])
    items = []
    for i in range(5):
        value = low + (high - low) * i / 4
        label = f"{value:.2f}"
        if i == 0:
            label += " (confident)" if reverse else " (uncertain)"
        elif i == 4:
            label += " (uncertain)" if reverse else " (confident)"
        items.append(QgsColorRampShader.ColorRampItem(value, ramp.color(i / 4), label))
    ramp_shader = QgsColorRampShader(low, high)
    ramp_shader.setColorRampType(QgsColorRampShader.Type.Interpolated)
    ramp_shader.setSourceColorRamp(ramp.clone())
    ramp_shader.setColorRampItemList(items)
    shader = QgsRasterShader(low, high)
    shader.setRasterShaderFunction(ramp_shader)
    renderer = QgsSingleBandPseudoColorRenderer(provider, band, shader)
    renderer.setClassificationMin(low)
    renderer.setClassificationMax(high)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def _stop(offset: float, color: QColor):
    from qgis.core import QgsGradientStop

    return QgsGradientStop(offset, color)


def _band_description(layer: QgsRasterLayer, band: int) -> str:
    from osgeo import gdal

    dataset = gdal.Open(layer.source().split("|")[0])
    if dataset is None or band > dataset.RasterCount:
        return ""
    return dataset.GetRasterBand(band).GetDescription() or ""


def _band_described(layer: QgsRasterLayer, word: str) -> int | None:
    for band in range(1, layer.bandCount() + 1):
        if word in _band_description(layer, band).lower():
            return band
    return None


def style_like(layer: QgsRasterLayer, source: QgsRasterLayer | None) -> None:
    """Super-resolved output: the input's renderer (bands, stretch, ramp) on the output."""
    if source is None or source.renderer() is None or source.bandCount() != layer.bandCount():
        if layer.bandCount() >= 3:
            style_rgb_3sigma(layer)
        else:
            style_gray_3sigma(layer)
        return
    renderer = source.renderer().clone()
    layer.setRenderer(renderer)
    renderer.setInput(layer.dataProvider())
    layer.setOpacity(source.opacity())
    layer.triggerRepaint()


# ---- tie points --------------------------------------------------------------------------

RELIABILITY_CLASSES = (  # arosics reliability, percent
    (0.0, 30.0, QColor(215, 48, 39), "< 30 % (unreliable)"),
    (30.0, 60.0, QColor(252, 141, 89), "30-60 %"),
    (60.0, 80.0, QColor(145, 207, 96), "60-80 %"),
    (80.0, 100.0, QColor(26, 152, 80), "> 80 % (reliable)"),
)


def style_tie_points(layer: QgsVectorLayer) -> None:
    """Issue 6's shipped QML if there is one, else graduated colours by ``reliability``."""
    for qml in sorted(STYLES_DIR.glob("*tie*.qml")):
        _message, ok = layer.loadNamedStyle(str(qml))
        if ok:
            layer.triggerRepaint()
            return
    field = next((f.name() for f in layer.fields() if f.name().lower() == "reliability"), None)
    if field is None:
        return
    ranges = []
    for low, high, color, label in RELIABILITY_CLASSES:
        symbol = QgsMarkerSymbol.createSimple(
            {"name": "circle", "color": color.name(), "size": "2.4", "outline_color": "black"}
        )
        ranges.append(QgsRendererRange(low, high, symbol, label))
    layer.setRenderer(QgsGraduatedSymbolRenderer(field, ranges))
    layer.triggerRepaint()


# ---- dispatch ----------------------------------------------------------------------------


def style_layer(layer: QgsMapLayer, kind: str, source: QgsMapLayer | None = None) -> None:
    """Apply the style ``kind`` (one of :data:`KINDS`) to ``layer``."""
    if kind == "tiepoints" and isinstance(layer, QgsVectorLayer):
        style_tie_points(layer)
    elif not isinstance(layer, QgsRasterLayer) or not layer.isValid():
        return
    elif kind == "spectral":
        style_rgb_3sigma(layer)
    elif kind == "browse":
        style_browse(layer)
    elif kind == "confidence":
        style_confidence(layer)
    elif kind == "like_input":
        style_like(layer, source if isinstance(source, QgsRasterLayer) else None)


def marsspec_tags(layer: QgsMapLayer) -> dict[str, str]:
    """The ``MARSSPEC_*`` provenance tags of a file-based raster layer (empty otherwise)."""
    if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal":
        return {}
    from osgeo import gdal

    dataset = gdal.Open(layer.source().split("|")[0])
    if dataset is None:
        return {}
    return {k: v for k, v in (dataset.GetMetadata() or {}).items() if k.startswith("MARSSPEC_")}


def kind_for(layer: QgsMapLayer) -> str | None:
    """Which style a marsspec output gets, from its provenance and band descriptions."""
    if isinstance(layer, QgsVectorLayer):
        names = {f.name().lower() for f in layer.fields()}
        return "tiepoints" if "reliability" in names else None
    tags = marsspec_tags(layer)
    algorithm = tags.get("MARSSPEC_ALGORITHM", "").lower()
    if not algorithm:
        return None
    descriptions = " ".join(
        _band_description(layer, b) for b in range(1, layer.bandCount() + 1)
    ).lower()
    if "confidence" in algorithm or any(
        word in descriptions for word in ("confidence", "entropy", "probability")
    ):
        return "confidence"
    if "superres" in algorithm or "super" in algorithm:
        return "like_input"
    if layer.dataProvider().dataType(1) == 1 and layer.bandCount() >= 3:  # Qgis.Byte
        return "browse"
    if layer.bandCount() >= 3:
        return "spectral"
    return None


def style_marsspec_layer(layer: QgsMapLayer, source: QgsMapLayer | None = None) -> str | None:
    """Style a layer that marsspec wrote (recognised by its tags); returns the kind used."""
    kind = kind_for(layer)
    if kind:
        style_layer(layer, kind, source)
    return kind


# ---- Processing: style outputs when they are loaded ----------------------------------------


class StylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Styles one output after Processing loads it. Instances are kept in ``_ALIVE``:
    Processing holds only the C++ pointer, and SIP would otherwise delete the Python object
    (and with it the override) before the layer is loaded."""

    _ALIVE: ClassVar[list[StylePostProcessor]] = []

    def __init__(self, kind: str, source_layer_id: str | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.source_layer_id = source_layer_id

    @classmethod
    def create(cls, kind: str, source_layer_id: str | None = None) -> StylePostProcessor:
        processor = cls(kind, source_layer_id)
        cls._ALIVE.append(processor)
        del cls._ALIVE[:-64]  # bounded: old runs finished long ago
        return processor

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: N802 - QGIS API
        source = None
        if self.source_layer_id:
            source = QgsProject.instance().mapLayer(self.source_layer_id) or (
                context.getMapLayer(self.source_layer_id) if context else None
            )
        try:
            style_layer(layer, self.kind, source)
        except Exception as exc:  # styling must never fail a finished run
            if feedback is not None:
                feedback.pushInfo(f"marsspec could not style {layer.name()}: {exc}")


def style_output_on_load(
    context: QgsProcessingContext,
    destination: str,
    kind: str,
    source_layer: QgsMapLayer | None = None,
) -> bool:
    """The one line an algorithm adds per output, after it knows the output path::

        style_output_on_load(context, output_path, "spectral")        # or "confidence",
        style_output_on_load(context, out, "like_input", input_layer) # "browse", "tiepoints"

    Does nothing (returns False) when the output is not going to be loaded (qgis_process,
    batch without "open output files", Modeler intermediate outputs).
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown style kind {kind!r}; one of {', '.join(KINDS)}.")
    if not destination or not context.willLoadLayerOnCompletion(destination):
        return False
    source_id = source_layer.id() if source_layer is not None else None
    details = context.layerToLoadOnCompletionDetails(destination)
    details.setPostProcessor(StylePostProcessor.create(kind, source_id))
    return True
