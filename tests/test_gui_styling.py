"""Styling of marsspec outputs when QGIS loads them (real QGIS renderers, real rasters)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from tests.conftest import write_mars_raster


def _tagged(path, data, algorithm, descriptions=()):
    write_mars_raster(path, data)
    with rasterio.open(path, "r+") as dataset:
        dataset.update_tags(MARSSPEC_ALGORITHM=algorithm, MARSSPEC_VERSION="test")
        for index, text in enumerate(descriptions, start=1):
            dataset.set_band_description(index, text)
    return path


@pytest.fixture()
def evc_path(tmp_path):
    rng = np.random.default_rng(3)
    data = np.stack(
        [rng.normal(m, s, (60, 80)) for m, s in ((0.17, 0.03), (0.1, 0.02), (0.06, 0.01))]
    )
    descriptions = ("R592 592 nm", "R533 533 nm", "R442 442 nm")
    return _tagged(tmp_path / "evc.tif", data.astype("float32"), "predictspectra", descriptions)


def test_spectral_output_is_rgb_with_3_sigma_stretch(qgis_app, evc_path):
    from qgis.core import QgsRasterLayer

    from marsspec.marsspec_plugin.styling import style_marsspec_layer

    layer = QgsRasterLayer(str(evc_path), "evc")
    assert style_marsspec_layer(layer) == "spectral"
    renderer = layer.renderer()
    assert renderer.type() == "multibandcolor"
    assert (renderer.redBand(), renderer.greenBand(), renderer.blueBand()) == (1, 2, 3)
    with rasterio.open(evc_path) as src:
        data = src.read().astype(np.float64)
    enhancements = (
        renderer.redContrastEnhancement(),
        renderer.greenContrastEnhancement(),
        renderer.blueContrastEnhancement(),
    )
    for band, enhancement in zip(data, enhancements, strict=True):
        low = max(band.mean() - 3 * band.std(), band.min())
        high = min(band.mean() + 3 * band.std(), band.max())
        assert enhancement.minimumValue() == pytest.approx(low, rel=2e-3)
        assert enhancement.maximumValue() == pytest.approx(high, rel=2e-3)


def test_confidence_gets_a_ramp_with_a_legend(qgis_app, tmp_path):
    from qgis.core import QgsRasterLayer

    from marsspec.marsspec_plugin.styling import style_marsspec_layer

    rng = np.random.default_rng(4)
    data = rng.uniform(0.2, 0.9, (2, 40, 50)).astype("float32")
    path = _tagged(tmp_path / "conf.tif", data, "binconfidence", ("R592 confidence", "overall"))
    layer = QgsRasterLayer(str(path), "confidence")
    assert style_marsspec_layer(layer) == "confidence"
    renderer = layer.renderer()
    assert renderer.type() == "singlebandpseudocolor"
    assert renderer.band() == 2  # the "overall" band
    assert (renderer.classificationMin(), renderer.classificationMax()) == (0.0, 1.0)
    legend = [label for label, _color in renderer.legendSymbologyItems()]
    assert len(legend) == 5
    assert "uncertain" in legend[0] and "confident" in legend[-1]


def test_entropy_ramp_is_reversed(qgis_app, tmp_path):
    from qgis.core import QgsRasterLayer

    from marsspec.marsspec_plugin.styling import style_confidence

    data = np.linspace(0, 1, 400, dtype="float32").reshape(1, 20, 20)
    path = _tagged(tmp_path / "entropy.tif", data, "binconfidence", ("normalised entropy",))
    layer = QgsRasterLayer(str(path), "entropy")
    style_confidence(layer)
    legend = [label for label, _color in layer.renderer().legendSymbologyItems()]
    assert "confident" in legend[0] and "uncertain" in legend[-1]


def test_super_resolved_output_looks_like_its_input(qgis_app, tmp_path, evc_path):
    from qgis.core import QgsRasterLayer

    from marsspec.marsspec_plugin.styling import style_layer, style_rgb_3sigma

    source = QgsRasterLayer(str(evc_path), "input")
    style_rgb_3sigma(source, (3, 2, 1))
    rng = np.random.default_rng(5)
    sr = _tagged(
        tmp_path / "sr.tif", rng.normal(0.1, 0.02, (3, 120, 160)).astype("float32"), "superresolve"
    )
    layer = QgsRasterLayer(str(sr), "sr")
    style_layer(layer, "like_input", source)
    assert layer.renderer().type() == "multibandcolor"
    assert layer.renderer().redBand() == 3
    assert layer.renderer().redContrastEnhancement().maximumValue() == pytest.approx(
        source.renderer().redContrastEnhancement().maximumValue()
    )


def test_untagged_rasters_are_left_alone(qgis_app, mars_raster):
    from qgis.core import QgsRasterLayer

    from marsspec.marsspec_plugin.styling import style_marsspec_layer

    layer = QgsRasterLayer(str(mars_raster), "plain")
    before = layer.renderer().type()
    assert style_marsspec_layer(layer) is None
    assert layer.renderer().type() == before


def test_post_processor_styles_the_loaded_output(qgis_app, evc_path):
    from qgis.core import (
        QgsProcessingContext,
        QgsProcessingFeedback,
        QgsProject,
        QgsRasterLayer,
    )

    from marsspec.marsspec_plugin.styling import style_output_on_load

    context = QgsProcessingContext()
    assert not style_output_on_load(context, str(evc_path), "spectral")  # not to be loaded
    context.addLayerToLoadOnCompletion(
        str(evc_path), QgsProcessingContext.LayerDetails("evc", QgsProject.instance(), "OUTPUT")
    )
    assert style_output_on_load(context, str(evc_path), "spectral")
    processor = context.layerToLoadOnCompletionDetails(str(evc_path)).postProcessor()
    assert processor is not None
    layer = QgsRasterLayer(str(evc_path), "evc")
    processor.postProcessLayer(layer, context, QgsProcessingFeedback())
    assert layer.renderer().type() == "multibandcolor"
    with pytest.raises(ValueError, match="Unknown style kind"):
        style_output_on_load(context, str(evc_path), "sparkly")
