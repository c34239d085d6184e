"""Graphical Modeler and batch processing: the committed example model runs headless, every
algorithm is offered to the Modeler and batch mode, and a batch over several inputs works."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from marsspec.marsspec_plugin.examples import COREGISTER_PREDICT_CONFIDENCE
from tests.gui_fixtures import ctx_raster, fast_cpu, model_choice, provider_with_manifest

CHAIN = ("marsspec:coregistercrism", "marsspec:predictspectra", "marsspec:binconfidence")


def _require(*algorithm_ids: str) -> None:
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    missing = [a for a in algorithm_ids if registry.algorithmById(a) is None]
    if missing:
        pytest.skip(f"not implemented yet: {', '.join(missing)}")


def _bundled(model_id: str) -> None:
    from marsspec.core.models.manifest import load_manifest

    if model_id not in load_manifest().ids():
        pytest.skip(f"bundled model {model_id} not exported yet")


def test_every_algorithm_is_offered_to_modeler_and_batch(marsspec_provider):
    from qgis.core import QgsProcessingAlgorithm

    algorithms = marsspec_provider.algorithms()
    assert algorithms
    for algorithm in algorithms:
        flags = algorithm.flags()
        assert not flags & QgsProcessingAlgorithm.FlagHideFromModeler, algorithm.id()
        assert not flags & QgsProcessingAlgorithm.FlagNotAvailableInStandaloneTool, algorithm.id()


def test_example_model_file_loads_and_names_the_chain(marsspec_provider):
    from qgis.core import QgsProcessingModelAlgorithm

    assert COREGISTER_PREDICT_CONFIDENCE.exists()
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(COREGISTER_PREDICT_CONFIDENCE))
    children = {child.algorithmId() for child in model.childAlgorithms().values()}
    assert children == set(CHAIN)
    assert {p.name() for p in model.parameterDefinitions() if p.type() == "raster"} >= {
        "ctx",
        "crism",
    }


def _model_choices() -> dict[str, tuple[object, list[str], str]]:
    """Per spectral child of the example model: the stored MODEL value, the MODEL options the
    algorithm offers now, and the model that value selects."""
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingModelAlgorithm

    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(COREGISTER_PREDICT_CONFIDENCE))
    registry, choices = QgsApplication.processingRegistry(), {}
    for child in model.childAlgorithms().values():
        algorithm = registry.algorithmById(child.algorithmId())
        definition = algorithm.parameterDefinition("MODEL")
        if definition is None:
            continue
        stored = child.parameterSources()["MODEL"][0].staticValue()
        assert definition.checkValueIsAcceptable(stored), (child.algorithmId(), stored)
        chosen = algorithm.parameterAsEnumString({"MODEL": stored}, "MODEL", QgsProcessingContext())
        choices[child.algorithmId()] = (stored, definition.options(), chosen)
    return choices


def test_saved_model_keeps_its_model_when_models_are_added(marsspec_provider, tmp_path):
    """MODEL stores the model id: a model sorted before the saved one (which moves every index
    after it) changes nothing in a saved model."""
    from marsspec.core.models.manifest import MANIFEST_PATH

    _require("marsspec:predictspectra", "marsspec:binconfidence")
    before = _model_choices()
    assert {chosen for _, _, chosen in before.values()} == {"evc-bins20"}
    data = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    bins = next(m for m in data["models"] if m["id"] == "evc-bins20")
    data["models"].insert(0, {**bins, "id": "aaa-bins20", "title": "Another bin model"})
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with provider_with_manifest(marsspec_provider, manifest):
        after = _model_choices()
    assert after.keys() == before.keys()
    for algorithm_id, (stored, options, chosen) in after.items():
        old_options = before[algorithm_id][1]
        assert "aaa-bins20" in options and "aaa-bins20" not in old_options
        # the index the saved model would have held now points at another model...
        assert options.index("evc-bins20") != old_options.index("evc-bins20")
        # ...but the stored id still selects the same one
        assert stored == before[algorithm_id][0] == chosen == "evc-bins20"
    assert _model_choices() == before  # the bundled list is back


@pytest.mark.slow
def test_example_model_runs_headless(marsspec_provider, tmp_path):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProcessingModelAlgorithm

    _require(*CHAIN)
    _bundled("evc-bins20")
    from marsspec.core.simulator import SceneConfig, simulate_scene

    scene = simulate_scene(
        SceneConfig(seed=3, size=256, site="jezero", products=("ctx", "crism")), tmp_path / "s"
    )
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(COREGISTER_PREDICT_CONFIDENCE))
    outputs = {
        d.name(): str(tmp_path / f"{d.name().split(':')[-1].replace(' ', '_')}.tif")
        for d in model.destinationParameterDefinitions()
    }
    parameters = {"ctx": str(scene.files["ctx"]), "crism": str(scene.files["crism"]), **outputs}
    result = processing.run(
        model, parameters, context=QgsProcessingContext(), feedback=QgsProcessingFeedback()
    )
    for name in outputs:
        assert Path(result[name]).exists(), name
        with rasterio.open(result[name]) as src:
            assert src.crs is not None and np.isfinite(src.read(1)).any()
    assert len(outputs) == 3


@pytest.mark.slow
def test_batch_over_several_inputs(marsspec_provider, tmp_path):
    import processing

    _require("marsspec:predictspectra")
    _bundled("evc-regression")
    results = []
    choice = model_choice("marsspec:predictspectra", "evc-regression")
    fast = fast_cpu("marsspec:predictspectra")
    for index in range(3):
        ctx = ctx_raster(tmp_path / f"ctx{index}.tif", size=(64 + 32 * index, 96))
        out = tmp_path / f"evc{index}.tif"
        results.append(
            processing.run(
                "marsspec:predictspectra",
                {"INPUT": str(ctx), "MODEL": choice, "OUTPUT": str(out), **fast},
            )
        )
    for index, result in enumerate(results):
        with rasterio.open(result["OUTPUT"]) as src:
            assert src.count == 3 and src.height == 64 + 32 * index
            assert np.isfinite(src.read()).all()
