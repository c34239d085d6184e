"""marsspec:coregistercrism — co-register a CRISM product to a CTX image with arosics."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from marsspec.core.coreg.config import CoregConfig
from marsspec.marsspec_plugin.algorithms.base import MarsspecAlgorithm
from marsspec.marsspec_plugin.feedback import cancel_callback, log_callback, progress_callback

STYLE = Path(__file__).resolve().parent.parent / "styles" / "tie_points.qml"
_POST_PROCESSORS: list = []  # QGIS keeps only a pointer: keep the Python objects alive


class _StyleByReliability(QgsProcessingLayerPostProcessorInterface):
    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 - QGIS API name
        if layer is not None and layer.isValid():
            layer.loadNamedStyle(str(STYLE))
            layer.triggerRepaint()


class CoregisterCrismAlgorithm(MarsspecAlgorithm):
    REFERENCE = "REFERENCE"
    TARGET = "TARGET"
    CRISM_BAND = "CRISM_BAND"
    REFERENCE_BAND = "REFERENCE_BAND"
    GRID_SPACING = "GRID_SPACING"
    WINDOW_SIZE = "WINDOW_SIZE"
    MAX_SHIFT = "MAX_SHIFT"
    MIN_RELIABILITY = "MIN_RELIABILITY"
    GLOBAL_ONLY = "GLOBAL_ONLY"
    CPUS = "CPUS"
    OUTPUT = "OUTPUT"
    OUTPUT_CTX = "OUTPUT_CTX"
    OUTPUT_POINTS = "OUTPUT_POINTS"
    GLOBAL_SHIFT_X_M = "GLOBAL_SHIFT_X_M"
    GLOBAL_SHIFT_Y_M = "GLOBAL_SHIFT_Y_M"
    GLOBAL_SHIFT_X_PX = "GLOBAL_SHIFT_X_PX"
    GLOBAL_SHIFT_Y_PX = "GLOBAL_SHIFT_Y_PX"
    VALID_POINTS = "VALID_POINTS"
    USED_POINTS = "USED_POINTS"
    MEAN_SHIFT_M = "MEAN_SHIFT_M"
    MEDIAN_SHIFT_M = "MEDIAN_SHIFT_M"
    SSIM_BEFORE = "SSIM_BEFORE"
    SSIM_AFTER = "SSIM_AFTER"
    METHOD = "METHOD"
    SUMMARY = "SUMMARY"

    NAME = "coregistercrism"
    DISPLAY_NAME = "Co-register CRISM to CTX (arosics)"
    GROUP_ID = "prepare"
    GROUP = "Prepare"
    REQUIRED_MODULES = ("arosics", "geoarray", "scipy", "skimage")
    FEATURE = "CRISM co-registration"
    HELP = (
        "Aligns a map-projected CRISM product (any band count) with a CTX image, as in paper "
        "000 Appendix A.1: CRISM does not line up with CTX even in the same CRS. The CRISM band "
        "nearest 592 nm (or the band you choose) is warped into the CTX CRS and matched with "
        "arosics: one global shift, then a grid of tie points filtered by reliability, SSIM and "
        "RANSAC. One smooth correction built from the reliable points (or the global shift when "
        "too few remain, which the log says) is applied to ALL bands, resampled bilinearly onto "
        "the CTX grid. Outputs: the co-registered CRISM, the matching CTX cut-out (same grid and "
        "size: a training pair), and the tie points (coloured by reliability). Window, max "
        "shift and grid spacing are in CRISM pixels. CPUs > 1 runs arosics in parallel "
        "processes."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        d = CoregConfig()
        self.addParameter(
            QgsProcessingParameterRasterLayer(self.REFERENCE, self.tr("CTX image (reference)"))
        )
        self.addParameter(
            QgsProcessingParameterRasterLayer(self.TARGET, self.tr("CRISM product (target)"))
        )
        self.addParameter(
            QgsProcessingParameterBand(
                self.CRISM_BAND,
                self.tr("CRISM matching band (empty: nearest 592 nm)"),
                parentLayerParameterName=self.TARGET,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterBand(
                self.REFERENCE_BAND,
                self.tr("CTX matching band (empty: band 1)"),
                defaultValue=d.reference_band,
                parentLayerParameterName=self.REFERENCE,
                optional=True,
            )
        )
        integer = QgsProcessingParameterNumber.Type.Integer
        for key, label, default, low, high in (
            (self.GRID_SPACING, "Tie-point grid spacing (CRISM px)", d.grid_spacing, 2, 1000),
            (self.WINDOW_SIZE, "Matching window size (CRISM px)", d.window_size, 16, 1024),
            (self.MAX_SHIFT, "Maximum shift (CRISM px)", d.max_shift, 1, 500),
            (self.CPUS, "CPUs for arosics (1 = no extra processes)", d.cpus, 1, 64),
        ):
            self.addParameter(
                QgsProcessingParameterNumber(
                    key,
                    self.tr(label),
                    integer,
                    defaultValue=default,
                    minValue=low,
                    maxValue=high,
                )
            )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.MIN_RELIABILITY,
                self.tr("Minimum tie-point reliability (%)"),
                QgsProcessingParameterNumber.Type.Double,
                defaultValue=d.min_reliability,
                minValue=0.0,
                maxValue=100.0,
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.GLOBAL_ONLY, self.tr("Global shift only (no tie-point grid)"), False
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                self.OUTPUT, self.tr("Co-registered CRISM (on the CTX grid)")
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(self.OUTPUT_CTX, self.tr("CTX cut-out"))
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                self.OUTPUT_POINTS,
                self.tr("Tie points"),
                QgsProcessing.SourceType.TypeVectorPoint,
            )
        )
        self.add_allow_non_mars()
        for key, label in (
            (self.GLOBAL_SHIFT_X_M, "Global shift X (m)"),
            (self.GLOBAL_SHIFT_Y_M, "Global shift Y (m)"),
            (self.GLOBAL_SHIFT_X_PX, "Global shift X (CRISM px)"),
            (self.GLOBAL_SHIFT_Y_PX, "Global shift Y (CRISM px)"),
            (self.VALID_POINTS, "Valid tie points"),
            (self.USED_POINTS, "Tie points used"),
            (self.MEAN_SHIFT_M, "Mean shift (m)"),
            (self.MEDIAN_SHIFT_M, "Median shift (m)"),
            (self.SSIM_BEFORE, "SSIM before"),
            (self.SSIM_AFTER, "SSIM after"),
        ):
            self.addOutput(QgsProcessingOutputNumber(key, self.tr(label)))
        self.addOutput(QgsProcessingOutputString(self.METHOD, self.tr("Correction (local/global)")))
        self.addOutput(QgsProcessingOutputString(self.SUMMARY, self.tr("Summary")))

    def execute(self, parameters, context, feedback):
        from marsspec.core.coreg import CoregRequest
        from marsspec.core.jobs import run as run_job

        reference = self.raster_path(parameters, self.REFERENCE, context)
        target = self.raster_path(parameters, self.TARGET, context)
        band = self.parameterAsInt(parameters, self.CRISM_BAND, context)
        config = CoregConfig(
            crism_band=band if band and band > 0 else None,
            reference_band=self.parameterAsInt(parameters, self.REFERENCE_BAND, context) or 1,
            grid_spacing=self.parameterAsInt(parameters, self.GRID_SPACING, context),
            window_size=self.parameterAsInt(parameters, self.WINDOW_SIZE, context),
            max_shift=self.parameterAsInt(parameters, self.MAX_SHIFT, context),
            min_reliability=self.parameterAsDouble(parameters, self.MIN_RELIABILITY, context),
            global_only=self.parameterAsBool(parameters, self.GLOBAL_ONLY, context),
            cpus=self.parameterAsInt(parameters, self.CPUS, context),
            allow_non_mars=self.allow_non_mars(parameters, context),
        )
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        out_ctx = self.parameterAsOutputLayer(parameters, self.OUTPUT_CTX, context)
        points = self.parameterAsOutputLayer(parameters, self.OUTPUT_POINTS, context)
        if not points.lower().endswith(".gpkg"):
            points = str(Path(points).with_suffix(".gpkg"))
        result = run_job(
            CoregRequest(reference, target, out, out_ctx, points, config),
            progress=progress_callback(feedback),
            cancel=cancel_callback(feedback),
            log=log_callback(feedback),
        )
        if context.willLoadLayerOnCompletion(points):
            post = _StyleByReliability()
            _POST_PROCESSORS.append(post)
            context.layerToLoadOnCompletionDetails(points).setPostProcessor(post)
        s = result.summary()
        return {
            self.OUTPUT: out,
            self.OUTPUT_CTX: out_ctx,
            self.OUTPUT_POINTS: points,
            self.GLOBAL_SHIFT_X_M: s.get("global_shift_x_m"),
            self.GLOBAL_SHIFT_Y_M: s.get("global_shift_y_m"),
            self.GLOBAL_SHIFT_X_PX: s.get("global_shift_x_px"),
            self.GLOBAL_SHIFT_Y_PX: s.get("global_shift_y_px"),
            self.VALID_POINTS: result.valid_points,
            self.USED_POINTS: result.used_points,
            self.MEAN_SHIFT_M: result.mean_shift_m,
            self.MEDIAN_SHIFT_M: result.median_shift_m,
            self.SSIM_BEFORE: result.ssim_before,
            self.SSIM_AFTER: result.ssim_after,
            self.METHOD: result.method,
            self.SUMMARY: result.summary_text(),
        }
