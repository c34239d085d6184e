"""Build the example model ``coregister_predict_confidence.model3`` with the QGIS API.

CTX + CRISM -> ``marsspec:coregistercrism`` (CRISM on the CTX grid and the matching CTX
cut-out) -> ``marsspec:predictspectra`` on the CTX cut-out with the bundled bin model (EVC
bands) -> ``marsspec:binconfidence`` (per-pixel confidence). The committed ``.model3`` file is
what this writes; regenerate it after an algorithm's parameters change::

    python -m marsspec.marsspec_plugin.examples.example_model   (inside the Makefile's env)
"""

from __future__ import annotations

import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildDependency,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterRasterLayer,
)
from qgis.PyQt.QtCore import QPointF

from marsspec.marsspec_plugin.examples import COREGISTER_PREDICT_CONFIDENCE

MODEL_NAME = "coregister_predict_confidence"
GROUP = "marsspec examples"
BIN_MODEL = "evc-bins20"


def _child(model, algorithm_id: str, description: str, x: float):
    child = QgsProcessingModelChildAlgorithm(algorithm_id)
    child.generateChildId(model)
    child.setDescription(description)
    child.setPosition(QPointF(x, 200))
    return child


def _defaults(child, algorithm) -> None:
    """Every other input at its default, written out, so the Modeler shows the values used."""
    for definition in algorithm.parameterDefinitions():
        if definition.isDestination() or definition.name() in child.parameterSources():
            continue
        if definition.defaultValue() is not None:
            child.addParameterSources(
                definition.name(),
                [QgsProcessingModelChildParameterSource.fromStaticValue(definition.defaultValue())],
            )


def _output(child, output_name: str, label: str) -> None:
    output = QgsProcessingModelOutput(label)
    output.setChildId(child.childId())
    output.setChildOutputName(output_name)
    output.setDescription(label)
    outputs = dict(child.modelOutputs())
    outputs[label] = output
    child.setModelOutputs(outputs)


def _first_raster_input(algorithm) -> str:
    for definition in algorithm.parameterDefinitions():
        if definition.type() == "raster":
            return definition.name()
    raise LookupError(f"{algorithm.id()} has no raster input")


def _destination_named(algorithm, *words: str) -> str | None:
    for definition in algorithm.destinationParameterDefinitions():
        if any(word in definition.name().lower() for word in words):
            return definition.name()
    return None


def _set_model(child, algorithm) -> None:
    """MODEL = the bundled bin model, stored as its id (MODEL's values are model ids, so the
    saved model keeps this choice when models are added to the manifest)."""
    child.addParameterSources(
        algorithm.MODEL, [QgsProcessingModelChildParameterSource.fromStaticValue(BIN_MODEL)]
    )


def build_model() -> QgsProcessingModelAlgorithm:
    registry = QgsApplication.processingRegistry()
    predict = registry.algorithmById("marsspec:predictspectra")
    confidence = registry.algorithmById("marsspec:binconfidence")
    if predict is None or confidence is None:
        raise LookupError("marsspec:predictspectra and marsspec:binconfidence must be loaded")
    model = QgsProcessingModelAlgorithm("Co-register CRISM, predict spectra, bin confidence", GROUP)
    model.setName(MODEL_NAME)
    model.setHelpContent(
        {
            "ALG_DESC": "Example marsspec workflow: co-register a CRISM product to a CTX image "
            "(arosics), predict the CRISM EVC bands from the matching CTX cut-out with the "
            f"bundled bin model {BIN_MODEL} (trained on simulated scenes), and compute its "
            "per-pixel bin confidence. Open it in the Graphical Modeler to adapt it."
        }
    )
    for name, label, y in (("ctx", "CTX image", 60), ("crism", "CRISM product", 140)):
        parameter = QgsProcessingParameterRasterLayer(name, label)
        component = QgsProcessingModelParameter(name)
        component.setPosition(QPointF(80, y))
        model.addModelParameter(parameter, component)

    coreg = _child(model, "marsspec:coregistercrism", "Co-register CRISM to CTX", 300)
    coreg.addParameterSources(
        "REFERENCE", [QgsProcessingModelChildParameterSource.fromModelParameter("ctx")]
    )
    coreg.addParameterSources(
        "TARGET", [QgsProcessingModelChildParameterSource.fromModelParameter("crism")]
    )
    _defaults(coreg, registry.algorithmById("marsspec:coregistercrism"))
    _output(coreg, "OUTPUT", "Co-registered CRISM")
    model.addChildAlgorithm(coreg)

    spectra = _child(model, "marsspec:predictspectra", "Predict EVC spectra", 560)
    spectra.addParameterSources(
        _first_raster_input(predict),
        [QgsProcessingModelChildParameterSource.fromChildOutput(coreg.childId(), "OUTPUT_CTX")],
    )
    _set_model(spectra, predict)
    _defaults(spectra, predict)
    _output(spectra, "OUTPUT", "Predicted EVC")
    model.addChildAlgorithm(spectra)

    conf = _child(model, "marsspec:binconfidence", "Bin confidence", 820)
    # binconfidence runs the bin model on the CTX cut-out itself (its INPUT is a CTX raster);
    # it is drawn after predictspectra so the model reads as one chain.
    conf_input = _first_raster_input(confidence)
    conf.addParameterSources(
        conf_input,
        [QgsProcessingModelChildParameterSource.fromChildOutput(coreg.childId(), "OUTPUT_CTX")],
    )
    _set_model(conf, confidence)
    _defaults(conf, confidence)
    conf.setDependencies([QgsProcessingModelChildDependency(spectra.childId())])
    out_name = _destination_named(confidence, "output", "confidence") or "OUTPUT"
    _output(conf, out_name, "Bin confidence")
    model.addChildAlgorithm(conf)
    return model


def write_model(path: Path = COREGISTER_PREDICT_CONFIDENCE) -> Path:
    model = build_model()
    if not model.toFile(str(path)):
        raise OSError(f"Could not write {path}")
    return path


def main() -> int:
    from qgis.analysis import QgsNativeAlgorithms

    app = QgsApplication([], False)
    app.initQgis()
    QgsApplication.processingRegistry().addProvider(QgsNativeAlgorithms())
    from marsspec.marsspec_plugin.provider import MarsspecProvider

    provider = MarsspecProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    print(write_model())
    return 0


if __name__ == "__main__":
    sys.exit(main())
