"""marsspec:predictspectra — CRISM EVC/FC bands predicted from a CTX raster (paper 000)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterRasterDestination,
)

from marsspec.marsspec_plugin.algorithms.base import MarsspecAlgorithm
from marsspec.marsspec_plugin.algorithms.spectral_common import (
    HELP_COMMON,
    MEASURES,
    add_input_parameters,
    common_request_kwargs,
    spectral_models,
)
from marsspec.marsspec_plugin.feedback import cancel_callback, log_callback, progress_callback
from marsspec.marsspec_plugin.styling import style_output_on_load


class PredictSpectraAlgorithm(MarsspecAlgorithm):
    NAME = "predictspectra"
    DISPLAY_NAME = "Predict spectra (EVC/FC) from CTX"
    GROUP_ID = "spectral"
    GROUP = "Spectral prediction"
    REQUIRED_MODULES = ("torch", "segmentation_models_pytorch", "safetensors", "rasterio")
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
        self.models = spectral_models("spectra-regression", "spectra-bins")
        add_input_parameters(self, self.models)
        measure = QgsProcessingParameterEnum(
            "MEASURE", self.tr("Confidence measure (bin models)"), list(MEASURES), defaultValue=0
        )
        measure.setFlags(measure.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(measure)
        self.addParameter(
            QgsProcessingParameterRasterDestination("OUTPUT", self.tr("Predicted bands"))
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                "BROWSE",
                self.tr("Browse image (RGB, 3-sigma)"),
                optional=True,
                createByDefault=False,
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                "CONFIDENCE",
                self.tr("Confidence (bin models)"),
                optional=True,
                createByDefault=False,
            )
        )

    def execute(self, parameters, context, feedback):
        from marsspec.core.spectral import PredictRequest, predict_spectra

        kwargs = common_request_kwargs(self, parameters, context, self.models)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        browse = self.parameterAsOutputLayer(parameters, "BROWSE", context) or None
        confidence = self.parameterAsOutputLayer(parameters, "CONFIDENCE", context) or None
        measure = MEASURES[self.parameterAsEnum(parameters, "MEASURE", context)]
        result = predict_spectra(
            PredictRequest(
                output=output,
                browse=browse,
                confidence=confidence,
                confidence_measure=measure,
                **kwargs,
            ),
            progress=progress_callback(feedback),
            cancel=cancel_callback(feedback),
            warn=feedback.reportError,
        )
        log = log_callback(feedback)
        log(
            f"Output units: {result.units}; device {result.device}, {result.precision}, "
            f"{result.seconds:.1f} s. Model trained on simulated scenes (see its model card)."
        )
        style_output_on_load(context, output, "spectral")
        if browse:
            style_output_on_load(context, browse, "browse")
        if confidence:
            style_output_on_load(context, confidence, "confidence")
        return {key: str(path) for key, path in result.outputs.items()}
