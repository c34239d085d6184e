"""marsspec:describe — what a raster is: size, CRS and body, pixel size, bands, wavelengths."""

from __future__ import annotations

import json
from pathlib import Path

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
)

from marsspec.marsspec_plugin.algorithms.base import MarsspecAlgorithm


class DescribeAlgorithm(MarsspecAlgorithm):
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"
    WIDTH = "WIDTH"
    HEIGHT = "HEIGHT"
    BAND_COUNT = "BAND_COUNT"
    PIXEL_SIZE_X = "PIXEL_SIZE_X"
    PIXEL_SIZE_Y = "PIXEL_SIZE_Y"
    CRS_BODY = "CRS_BODY"
    CRS_NAME = "CRS_NAME"
    REPORT = "REPORT"
    NAME = "describe"
    DISPLAY_NAME = "Describe raster (size, Mars CRS, bands, wavelengths)"
    HELP = (
        "Reports what marsspec sees in a raster: size, band count, data types, nodata, band "
        "descriptions and wavelengths, the CRS and the planetary body it belongs to (Mars, "
        "Earth, Moon), pixel size and bounds. Use it to check a CTX, CRISM, CaSSIS or HiRISE "
        "product before running a model. Optionally writes the report as JSON."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Input raster")))
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT,
                self.tr("Report (JSON)"),
                fileFilter="JSON files (*.json)",
                optional=True,
                createByDefault=False,
            )
        )
        for key, label in (
            (self.WIDTH, "Width (px)"),
            (self.HEIGHT, "Height (px)"),
            (self.BAND_COUNT, "Band count"),
            (self.PIXEL_SIZE_X, "Pixel size X"),
            (self.PIXEL_SIZE_Y, "Pixel size Y"),
        ):
            self.addOutput(QgsProcessingOutputNumber(key, self.tr(label)))
        for key, label in (
            (self.CRS_BODY, "Planetary body of the CRS"),
            (self.CRS_NAME, "CRS name"),
            (self.REPORT, "Report"),
        ):
            self.addOutput(QgsProcessingOutputString(key, self.tr(label)))

    def execute(self, parameters, context, feedback):
        path = self.raster_path(parameters, self.INPUT, context)
        # imported here: the readers need numpy, and loading the plugin must stay light
        from marsspec.core.io.describe import describe_raster

        description = describe_raster(path)
        report = description.format_text()
        for line in report.splitlines():
            feedback.pushInfo(line)
        results = {
            self.WIDTH: description.width,
            self.HEIGHT: description.height,
            self.BAND_COUNT: description.band_count,
            self.PIXEL_SIZE_X: description.pixel_size[0] if description.pixel_size else None,
            self.PIXEL_SIZE_Y: description.pixel_size[1] if description.pixel_size else None,
            self.CRS_BODY: description.crs_body,
            self.CRS_NAME: description.crs_name,
            self.REPORT: report,
        }
        destination = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if destination:
            _write_json(Path(destination), description.to_dict())
            results[self.OUTPUT] = destination
        return results


def _write_json(path: Path, data: dict) -> None:
    """Write beside the destination, then rename: a failed write leaves no half file."""
    from marsspec.core.io.safety import atomic_output

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
