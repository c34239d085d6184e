"""Shared parameters, help text and layer styling of the spectral algorithms."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterBand,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

BLENDINGS = ("gaussian", "mean")
NORMALISATIONS = ("image", "global", "patch")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MEASURES = ("max_probability", "entropy", "multimodal")

HELP_COMMON = (
    "<p><b>Parameters.</b> INPUT: a CTX image (I/F or DN; any GDAL format). BAND: the CTX "
    "band, needed only for multi-band rasters. DEM: the scene's heights, only for a model "
    "trained with a DEM channel (any Mars projection and resolution; warped bilinearly onto "
    "the CTX grid and z-scored per image); the bundled models read CTX alone. MODEL: a "
    "bundled model (product and task in the label). STRIDE_FACTOR s: patches of edge d are "
    "evaluated at stride d/s and blended "
    "(paper §3.3; s = 2 with Gaussian weights is the paper's choice; s^2 times the work). "
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


def spectral_models(*tasks: str):
    """Manifest entries for the enum (never imports torch)."""
    from marsspec.core.models.manifest import load_manifest

    try:
        entries = load_manifest().by_task(*tasks)
    except Exception:  # a broken manifest must not break the toolbox
        return ()
    # regression first (the everyday choice), then by product and id: a stable enum order
    return tuple(sorted(entries, key=lambda e: (e.task != "spectra-regression", e.product, e.id)))


def add_input_parameters(alg, models) -> None:
    alg.addParameter(QgsProcessingParameterRasterLayer("INPUT", alg.tr("CTX raster")))
    alg.addParameter(
        QgsProcessingParameterBand(
            "BAND", alg.tr("CTX band (multi-band rasters only)"), None, "INPUT", optional=True
        )
    )
    alg.addParameter(
        QgsProcessingParameterRasterLayer(
            "DEM", alg.tr("DEM (only for models with a DEM channel)"), optional=True
        )
    )
    labels = [e.label for e in models] or ["(no model installed)"]
    alg.addParameter(QgsProcessingParameterEnum("MODEL", alg.tr("Model"), labels, defaultValue=0))
    stride = QgsProcessingParameterNumber(
        "STRIDE_FACTOR",
        alg.tr("Stride factor s (stride = patch / s)"),
        QgsProcessingParameterNumber.Integer,
        2,
        minValue=1,
        maxValue=4,
    )
    alg.addParameter(stride)
    for key, label, options in (
        ("BLENDING", "Blending of overlapping patches", BLENDINGS),
        ("NORMALISATION", "Normalisation", NORMALISATIONS),
        ("DEVICE", "Device", DEVICES),
        ("PRECISION", "Precision", PRECISIONS),
    ):
        param = QgsProcessingParameterEnum(key, alg.tr(label), list(options), defaultValue=0)
        if key in ("DEVICE", "PRECISION"):
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        alg.addParameter(param)
    alg.add_allow_non_mars()


def common_request_kwargs(alg, parameters, context, models) -> dict:
    from marsspec.core.errors import InputError

    if not models:
        raise InputError("No spectral model is installed; reinstall the plugin.")
    index = alg.parameterAsEnum(parameters, "MODEL", context)
    if not 0 <= index < len(models):
        raise InputError(f"MODEL index {index} is out of range 0..{len(models) - 1}.")
    band = alg.parameterAsInt(parameters, "BAND", context) if parameters.get("BAND") else 0
    dem = alg.raster_path(parameters, "DEM", context) if parameters.get("DEM") else None
    return {
        "dem": dem,
        "input": alg.raster_path(parameters, "INPUT", context),
        "band": band or None,
        "model": models[index].id,
        "stride_factor": alg.parameterAsInt(parameters, "STRIDE_FACTOR", context),
        "blending": BLENDINGS[alg.parameterAsEnum(parameters, "BLENDING", context)],
        "normalisation": NORMALISATIONS[alg.parameterAsEnum(parameters, "NORMALISATION", context)],
        "device": DEVICES[alg.parameterAsEnum(parameters, "DEVICE", context)],
        "precision": PRECISIONS[alg.parameterAsEnum(parameters, "PRECISION", context)],
        "allow_non_mars": alg.allow_non_mars(parameters, context),
    }
