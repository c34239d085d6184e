"""marsspec:predictspectra — CRISM EVC/FC bands predicted from a CTX raster (paper 000)."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination

from marsspec.core.options import MEASURES
from marsspec.marsspec_plugin.algorithms.spectral_common import HELP_COMMON, SpectralAlgorithm
from marsspec.marsspec_plugin.feedback import (
    cancel_callback,
    log_callback,
    progress_callback,
    warning_callback,
)
from marsspec.marsspec_plugin.styling import style_output_on_load


class PredictSpectraAlgorithm(SpectralAlgorithm):
    OUTPUT = "OUTPUT"
    BROWSE = "BROWSE"
    CONFIDENCE = "CONFIDENCE"
    NAME = "predictspectra"
    DISPLAY_NAME = "Predict spectra (EVC/FC) from CTX"
    JOB = "predict"
    FEATURE = "Spectral prediction"
    HELP = (
        "<p>Predicts CRISM bands pixel by pixel from a greyscale CTX image: enhanced visible "
        "colour (EVC, 592/533/442 nm) or false colour (FC, 2503/1500/1080 nm), as a "
        "georeferenced float32 raster whose band descriptions carry wavelength and units "
        "(normalised units by default, I/F with global statistics). Optional outputs: BROWSE, "
        "an 8-bit RGB with the paper's 3-sigma stretch (§4.1.1), and CONFIDENCE (bin models "
        "only): per band and overall, the chosen measure (max probability, normalised entropy "
        "or multi-modality, paper Fig. 16). Streams any raster size in bounded memory; every "
        "output records model, weights sha256, parameters, device and input.</p>" + HELP_COMMON
    )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.add_input_parameters()
        self.add_choice(self.MEASURE, "Confidence measure (bin models)", MEASURES, advanced=True)
        self.add_dask()
        self.addParameter(
            QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Predicted bands"))
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                self.BROWSE,
                self.tr("Browse image (RGB, 3-sigma)"),
                optional=True,
                createByDefault=False,
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                self.CONFIDENCE,
                self.tr("Confidence (bin models)"),
                optional=True,
                createByDefault=False,
            )
        )

    def execute(self, parameters, context, feedback):
        from marsspec.core.jobs import run as run_job
        from marsspec.core.spectral import PredictRequest

        kwargs = self.request_kwargs(parameters, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        browse = self.parameterAsOutputLayer(parameters, self.BROWSE, context) or None
        confidence = self.parameterAsOutputLayer(parameters, self.CONFIDENCE, context) or None
        measure = self.choice(parameters, self.MEASURE, context)
        request = PredictRequest(
            output=output,
            browse=browse,
            confidence=confidence,
            confidence_measure=measure,
            **kwargs,
        )
        scaled = self.run_scaled(request, parameters, context, feedback)
        if scaled is not None:
            self._style(context, output, browse, confidence)
            return {k: v for k, v in scaled.items() if not k.endswith("_VRT")}
        result = run_job(
            request,
            progress=progress_callback(feedback),
            cancel=cancel_callback(feedback),
            log=warning_callback(feedback),
        )
        log = log_callback(feedback)
        log(
            f"Output units: {result.units}; device {result.device}, {result.precision}, "
            f"{result.seconds:.1f} s. Model trained on simulated scenes (see its model card)."
        )
        self._style(context, output, browse, confidence)
        return {key: str(path) for key, path in result.outputs.items()}

    def _style(self, context, output, browse, confidence) -> None:
        style_output_on_load(context, output, "spectral")
        if browse:
            style_output_on_load(context, browse, "browse")
        if confidence:
            style_output_on_load(context, confidence, "confidence")
