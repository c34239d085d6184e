"""marsspec:binconfidence — per-pixel confidence of a bin classification model."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination

from marsspec.core.options import MEASURES
from marsspec.marsspec_plugin.algorithms.spectral_common import HELP_COMMON, SpectralAlgorithm
from marsspec.marsspec_plugin.feedback import (
    cancel_callback,
    progress_callback,
    warning_callback,
)
from marsspec.marsspec_plugin.styling import style_output_on_load


class BinConfidenceAlgorithm(SpectralAlgorithm):
    CONFIDENCE = "CONFIDENCE"
    NAME = "binconfidence"
    DISPLAY_NAME = "Per-pixel bin confidence"
    JOB = "confidence"
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
        self.add_input_parameters()
        self.add_choice(self.MEASURE, "Measure", MEASURES)
        self.add_dask()
        self.addParameter(
            QgsProcessingParameterRasterDestination(self.CONFIDENCE, self.tr("Confidence"))
        )

    def execute(self, parameters, context, feedback):
        from marsspec.core.jobs import run as run_job
        from marsspec.core.spectral import PredictRequest

        kwargs = self.request_kwargs(parameters, context)
        confidence = self.parameterAsOutputLayer(parameters, self.CONFIDENCE, context)
        measure = self.choice(parameters, self.MEASURE, context)
        request = PredictRequest(
            output=None, confidence=confidence, confidence_measure=measure, **kwargs
        )
        scaled = self.run_scaled(request, parameters, context, feedback)
        if scaled is not None:
            style_output_on_load(context, confidence, "confidence")
            return {self.CONFIDENCE: scaled["CONFIDENCE"]}
        result = run_job(
            request,
            progress=progress_callback(feedback),
            cancel=cancel_callback(feedback),
            log=warning_callback(feedback),
        )
        style_output_on_load(context, confidence, "confidence")
        return {self.CONFIDENCE: str(result.outputs["CONFIDENCE"])}
