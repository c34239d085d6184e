"""Processing parameters map onto the request as the options module says: enums hold their
option strings, and STRIDE_FACTOR left empty means the model's manifest default (checked by
the request only, in the request's words)."""

from __future__ import annotations

import json

import pytest
import rasterio

from marsspec.core import options
from tests.gui_fixtures import ctx_raster, provider_with_manifest, tiny_bin_model

ENUMS = {
    "marsspec:predictspectra": {
        "BLENDING": options.BLENDINGS,
        "NORMALISATION": options.NORMALISATIONS,
        "DEVICE": options.DEVICES,
        "PRECISION": options.PRECISIONS,
        "MEASURE": options.MEASURES,
    },
    "marsspec:binconfidence": {"MEASURE": options.MEASURES, "DEVICE": options.DEVICES},
    "marsspec:superresolve": {
        "COLOUR_MODE": options.COLOUR_MODES,
        "DEVICE": options.DEVICES,
        "PRECISION": options.PRECISIONS,
    },
}


def test_every_enum_stores_its_option_strings(marsspec_provider):
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    for algorithm in marsspec_provider.algorithms():
        for definition in algorithm.parameterDefinitions():
            if definition.type() == "enum":
                assert definition.usesStaticStrings(), (algorithm.id(), definition.name())
                assert definition.defaultValue() in definition.options()
    for algorithm_id, enums in ENUMS.items():
        algorithm = registry.algorithmById(algorithm_id)
        for name, choices in enums.items():
            definition = algorithm.parameterDefinition(name)
            assert tuple(definition.options()) == choices
            assert definition.defaultValue() == choices[0]
    models = {
        "marsspec:predictspectra": "predict",
        "marsspec:binconfidence": "confidence",
        "marsspec:superresolve": "superres",
    }
    for algorithm_id, job in models.items():
        definition = registry.algorithmById(algorithm_id).parameterDefinition("MODEL")
        assert tuple(definition.options()) == options.model_ids(job)
        assert definition.defaultValue() == options.DEFAULT_MODELS[job]


@pytest.mark.slow
def test_stride_factor_left_empty_takes_the_models_default(marsspec_provider, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    manifest = tiny_bin_model(tmp_path / "models")
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["models"][0]["default_stride_factor"] = 1  # not 2, the value the dialog once sent
    manifest.write_text(json.dumps(data), encoding="utf-8")
    ctx = ctx_raster(tmp_path / "ctx.tif", size=(64, 80))
    base = {"INPUT": str(ctx), "MODEL": "test-bins8", "DEVICE": "cpu", "PRECISION": "fp32"}
    with provider_with_manifest(marsspec_provider, manifest):
        for stride, expected in ((None, "1"), (4, "4")):
            out = tmp_path / f"evc-{expected}.tif"
            extra = {} if stride is None else {"STRIDE_FACTOR": stride}
            processing.run("marsspec:predictspectra", {**base, **extra, "OUTPUT": str(out)})
            with rasterio.open(out) as src:
                assert src.tags()["MARSSPEC_S"] == expected
        with pytest.raises(QgsProcessingException, match="Stride factor 9 must be 1, 2, 3 or 4"):
            processing.run(
                "marsspec:predictspectra",
                {**base, "STRIDE_FACTOR": 9, "OUTPUT": str(tmp_path / "bad.tif")},
            )
    assert not (tmp_path / "bad.tif").exists()
