"""What the spectral algorithms share: parameter names, the CTX, model, tiling and device
parameters, the PredictRequest fields they map to, and the help text."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterBand,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

from marsspec.core import options
from marsspec.marsspec_plugin.algorithms.base import MarsspecAlgorithm, models_help

HELP_COMMON = (
    "<p><b>Parameters.</b> INPUT: a CTX image (I/F or DN; any GDAL format). BAND: the CTX "
    "band, needed only for multi-band rasters. DEM: the scene's heights, only for a model "
    "trained with a DEM channel (any Mars projection and resolution; warped bilinearly onto "
    "the CTX grid and z-scored per image); the bundled models read CTX alone. MODEL: a "
    "model id from the manifest (listed below; saved models and scripts store the id). "
    "STRIDE_FACTOR s (1-4): patches of edge d are evaluated at stride d/s and blended "
    "(paper §3.3; s = 2 with Gaussian weights is the paper's choice; s^2 times the work); "
    "left empty, the model's own default from its manifest entry applies. "
    "BLENDING: gaussian (Eq. 3) or mean (Eq. 2). NORMALISATION: image (default; "
    "statistics of the whole input after a 0.01 % percentile clip, output in normalised "
    "units), global (Table A1 dataset statistics; output converted back to I/F), patch "
    "(per patch; seams likely). DEVICE/PRECISION: auto picks CUDA if present and bf16 on the "
    "CPU only where it is faster.</p>"
    "<p><b>Method.</b> Stepcenkov, Wilhelm, Wöhler (2022), <i>Learning the Link between Albedo "
    "and Reflectance: Machine Learning-Based Prediction of Hyperspectral Bands from CTX "
    "Images</i>, Remote Sensing 14, 3457: a U-Net with an EfficientNet-B0 encoder predicts "
    "CRISM enhanced visible colour (592/533/442 nm) or false colour (2503/1500/1080 nm) pixel "
    "by pixel, by regression or by classification into 20 bins.</p>"
    "<p><b>Honesty.</b> The bundled models were trained on SIMULATED scenes from marsspec's "
    "Mars scene simulator, because no co-located real CRISM + CTX pair was available. Their "
    "outputs show what the method does; they are not validated CRISM predictions. See the "
    "model cards in the plugin's models/ folder.</p>"
    "<p><b>Train your own.</b> Co-register CRISM onto CTX (marsspec co-registration), put each "
    "pair in a folder as ctx.tif + crism_target.tif, edit a config from training/configs/, "
    "then run <code>python -m marsspec train --config my.yaml</code> and "
    "<code>python -m marsspec export --checkpoint runs/ID/best.pt</code> from a source "
    "checkout; the model then appears here.</p>"
)


class SpectralAlgorithm(MarsspecAlgorithm):
    """Base of predictspectra and binconfidence: a CTX input, a model of ``JOB``'s tasks and
    the tiling, normalisation and device choices, mapped onto PredictRequest fields."""

    INPUT = "INPUT"
    BAND = "BAND"
    DEM = "DEM"
    MODEL = "MODEL"
    STRIDE_FACTOR = "STRIDE_FACTOR"
    BLENDING = "BLENDING"
    NORMALISATION = "NORMALISATION"
    DEVICE = "DEVICE"
    PRECISION = "PRECISION"
    MEASURE = "MEASURE"

    JOB = "predict"  # key of core.options.MODEL_TASKS: which models MODEL offers
    GROUP_ID = "spectral"
    GROUP = "Spectral prediction"
    REQUIRED_MODULES = ("torch", "segmentation_models_pytorch", "safetensors", "rasterio")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return super().shortHelpString() + models_help(self.JOB)

    def add_input_parameters(self) -> None:
        ids = options.model_ids(self.JOB)
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("CTX raster")))
        self.addParameter(
            QgsProcessingParameterBand(
                self.BAND,
                self.tr("CTX band (multi-band rasters only)"),
                None,
                self.INPUT,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.DEM, self.tr("DEM (only for models with a DEM channel)"), optional=True
            )
        )
        self.add_choice(
            self.MODEL,
            "Model",
            ids,
            options.default_model(self.JOB, ids),
            help_text=models_help(self.JOB, html=False).strip(),
        )
        # no default and no range here: empty means the model's manifest default, and the
        # request checks the value (one check, one message, from QGIS and the command line)
        self.addParameter(
            QgsProcessingParameterNumber(
                self.STRIDE_FACTOR,
                self.tr("Stride factor s, 1-4 (stride = patch / s; empty = the model's default)"),
                QgsProcessingParameterNumber.Type.Integer,
                optional=True,
            )
        )
        self.add_choice(self.BLENDING, "Blending of overlapping patches", options.BLENDINGS)
        self.add_choice(self.NORMALISATION, "Normalisation", options.NORMALISATIONS)
        self.add_choice(self.DEVICE, "Device", options.DEVICES, advanced=True)
        self.add_choice(self.PRECISION, "Precision", options.PRECISIONS, advanced=True)
        self.add_allow_non_mars()
        self.add_no_rescale()
        self.add_assume_crs()

    def stride_factor(self, parameters, context) -> int | None:
        """None when left empty: the job then takes the model's ``default_stride_factor``."""
        value = parameters.get(self.STRIDE_FACTOR)
        if value is None or value == "" or getattr(value, "isNull", lambda: False)():
            return None
        return self.parameterAsInt(parameters, self.STRIDE_FACTOR, context)

    def request_kwargs(self, parameters, context) -> dict:
        """The PredictRequest fields both spectral algorithms take from their parameters."""
        band = (
            self.parameterAsInt(parameters, self.BAND, context) if parameters.get(self.BAND) else 0
        )
        dem = self.raster_path(parameters, self.DEM, context) if parameters.get(self.DEM) else None
        return {
            "dem": dem,
            "input": self.raster_path(parameters, self.INPUT, context),
            "band": band or None,
            "model": self.choice(parameters, self.MODEL, context),
            "stride_factor": self.stride_factor(parameters, context),
            "blending": self.choice(parameters, self.BLENDING, context),
            "normalisation": self.choice(parameters, self.NORMALISATION, context),
            "device": self.choice(parameters, self.DEVICE, context),
            "precision": self.choice(parameters, self.PRECISION, context),
            "allow_non_mars": self.allow_non_mars(parameters, context),
            "rescale": self.rescale(parameters, context),
            **self.assume_kwargs(parameters, context),
        }
