"""marsspec:binconfidence — per-pixel confidence of a bin classification model."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterEnum, QgsProcessingParameterRasterDestination

from marsspec.marsspec_plugin.algorithms.base import MarsspecAlgorithm
from marsspec.marsspec_plugin.algorithms.spectral_common import (
    HELP_COMMON,
    MEASURES,
    add_input_parameters,
    common_request_kwargs,
    spectral_models,
)
from marsspec.marsspec_plugin.feedback import cancel_callback, progress_callback
from marsspec.marsspec_plugin.styling import style_output_on_load


class BinConfidenceAlgorithm(MarsspecAlgorithm):
    NAME = "binconfidence"
    DISPLAY_NAME = "Per-pixel bin confidence"
    GROUP_ID = "spectral"
    GROUP = "Spectral prediction"
    REQUIRED_MODULES = ("torch", "segmentation_models_pytorch", "safetensors", "rasterio")
    FEATURE = "Bin confidence"
    HELP = (
        "<p>Runs a bin classification model (e.g. evc-bins20) on a CTX image and writes, for "
        "every pixel, how confident its predicted bin distribution is: one band per predicted "
        "band plus an overall band. MEASURE: max_probability (highest bin probability; higher "
        "= more confident; overall = mean of bands), entropy (Shannon entropy / log N_B, 0..1; "
        "higher = less confident) or multimodal (1 where a distribution has more than one "
        "clear peak, the paper's sign of a faulty prediction, Fig. 16; overall = any band). "
        "Use it to mask or flag doubtful areas of a prediction made with the same model.</p>"
        + HELP_COMMON
    )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.models = spectral_models("spectra-bins")
        add_input_parameters(self, self.models)
        self.addParameter(
            QgsProcessingParameterEnum(
                "MEASURE", self.tr("Measure"), list(MEASURES), defaultValue=0
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination("CONFIDENCE", self.tr("Confidence"))
        )

    def execute(self, parameters, context, feedback):
        from marsspec.core.spectral import PredictRequest, predict_spectra

        kwargs = common_request_kwargs(self, parameters, context, self.models)
        confidence = self.parameterAsOutputLayer(parameters, "CONFIDENCE", context)
        measure = MEASURES[self.parameterAsEnum(parameters, "MEASURE", context)]
        result = predict_spectra(
            PredictRequest(
                output=None, confidence=confidence, confidence_measure=measure, **kwargs
            ),
            progress=progress_callback(feedback),
            cancel=cancel_callback(feedback),
            warn=feedback.reportError,
        )
        style_output_on_load(context, confidence, "confidence")
        return {"CONFIDENCE": str(result.outputs["CONFIDENCE"])}
