"""marsspec:georef — give a raster without a CRS (PNG/JPEG, CaSSIS framelet) a Mars one."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from marsspec.marsspec_plugin.algorithms.base import MarsspecAlgorithm
from marsspec.marsspec_plugin.feedback import cancel_callback, log_callback, progress_callback


class GeorefAlgorithm(MarsspecAlgorithm):
    INPUT = "INPUT"
    PIXEL_SIZE = "PIXEL_SIZE"
    CENTRE_LON = "CENTRE_LON"
    CENTRE_LAT = "CENTRE_LAT"
    OUTPUT = "OUTPUT"
    NAME = "georef"
    GROUP_ID = "prepare"
    GROUP = "Prepare"
    DISPLAY_NAME = "Georeference on Mars (raster without a CRS)"
    HELP = (
        "Writes a copy of a raster that has no CRS (a plain PNG/JPEG, a CaSSIS framelet, an "
        "ISIS cube without a map projection) as a tiled GeoTIFF in a Mars equirectangular CRS "
        "(sphere of radius 3,396,190 m), north up, with PIXEL_SIZE metres per pixel. With "
        "CENTRE_LON and CENTRE_LAT (degrees) the projection and the image are centred there "
        "(the pixel size is true at the centre); without them the upper-left corner is at 0,0. "
        "Pixels, data type, nodata and band descriptions are copied unchanged, window by window; "
        "the tags say the CRS was assumed. Same job as `marsspec georef IN OUT --body mars "
        "--pixel-size M [--centre LON LAT]`. The spectral and super-resolution algorithms can "
        "also assume the CRS on the fly (ASSUME_CRS, PIXEL_SIZE)."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Input raster")))
        self.addParameter(
            QgsProcessingParameterNumber(
                self.PIXEL_SIZE,
                self.tr("Pixel size (metres)"),
                type=QgsProcessingParameterNumber.Type.Double,
                minValue=0.0,
            )
        )
        for name, label in (
            (self.CENTRE_LON, "Centre longitude (degrees east; empty = upper-left at 0,0)"),
            (self.CENTRE_LAT, "Centre latitude (degrees; empty = upper-left at 0,0)"),
        ):
            self.addParameter(
                QgsProcessingParameterNumber(
                    name,
                    self.tr(label),
                    type=QgsProcessingParameterNumber.Type.Double,
                    optional=True,
                )
            )
        self.addParameter(
            QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Georeferenced raster"))
        )

    def _optional(self, parameters, name, context) -> float | None:
        raw = parameters.get(name)
        if raw is None or raw == "" or getattr(raw, "isNull", lambda: False)():
            return None
        return self.parameterAsDouble(parameters, name, context)

    def execute(self, parameters, context, feedback):
        from marsspec.core.errors import InputError
        from marsspec.core.io.georef import GeorefRequest
        from marsspec.core.jobs import run as run_job

        lon = self._optional(parameters, self.CENTRE_LON, context)
        lat = self._optional(parameters, self.CENTRE_LAT, context)
        if (lon is None) != (lat is None):
            raise InputError("Give both CENTRE_LON and CENTRE_LAT, or neither.")
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        request = GeorefRequest(
            self.raster_path(parameters, self.INPUT, context),
            output,
            pixel_size=self._optional(parameters, self.PIXEL_SIZE, context),
            centre=None if lon is None else (lon, lat),
        )
        result = run_job(
            request,
            progress=progress_callback(feedback),
            cancel=cancel_callback(feedback),
            log=log_callback(feedback),
        )
        feedback.pushInfo(f"{result.width}x{result.height} px in {result.crs}")
        return {self.OUTPUT: str(result.outputs["OUTPUT"])}
