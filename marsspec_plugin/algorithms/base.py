"""What every marsspec algorithm shares: dependency check, error conversion, help, icon."""

from __future__ import annotations

import traceback
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
)
from qgis.PyQt.QtCore import QCoreApplication

from marsspec.core.dependencies import missing_message, missing_requirements
from marsspec.core.errors import MarsspecError, user_message
from marsspec.marsspec_plugin.resources import icon


class MarsspecAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set the class attributes and implement :meth:`execute`.

    ``REQUIRED_MODULES`` are checked when the algorithm runs, not when QGIS starts, so the
    provider always loads and only the algorithm that needs torch/arosics says what is missing.
    """

    NAME = ""
    DISPLAY_NAME = ""
    GROUP_ID = "inspect"
    GROUP = "Inspect"
    HELP = ""
    REQUIRED_MODULES: tuple[str, ...] = ()
    FEATURE = "This algorithm"
    ALLOW_NON_MARS = "ALLOW_NON_MARS"

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("marsspec", text)

    def createInstance(self):  # noqa: N802 - QGIS API name
        return type(self)()

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr(self.DISPLAY_NAME)

    def group(self) -> str:
        return self.tr(self.GROUP)

    def groupId(self) -> str:  # noqa: N802 - QGIS API name
        return self.GROUP_ID

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr(self.HELP)

    def icon(self):
        return icon()

    def processAlgorithm(  # noqa: N802 - QGIS API name
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        missing = missing_requirements(self.REQUIRED_MODULES)
        if missing:
            raise QgsProcessingException(missing_message(missing, self.FEATURE))
        try:
            return self.execute(parameters, context, feedback)
        except QgsProcessingException:
            raise
        except MarsspecError as error:
            raise QgsProcessingException(str(error)) from error
        except Exception as error:  # one line for the user; the stack for a bug report
            feedback.pushDebugInfo("".join(traceback.format_exception(error)))
            message = user_message(error, hint="the log has the traceback")
            raise QgsProcessingException(message) from error

    def execute(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def raster_path(self, parameters, name: str, context: QgsProcessingContext) -> str:
        """The file behind a raster parameter, with QGIS's standard message when invalid."""
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None or not layer.isValid():
            raise QgsProcessingException(self.invalidRasterError(parameters, name))
        if layer.providerType() != "gdal":
            raise QgsProcessingException(
                f"Layer '{layer.name()}' comes from the '{layer.providerType()}' provider; "
                "marsspec reads files through GDAL. Export the layer to a GeoTIFF first."
            )
        return layer.source().split("|")[0]

    def add_allow_non_mars(self) -> None:
        """Advanced switch: run on an input whose CRS is on another body (refused otherwise)."""
        param = QgsProcessingParameterBoolean(
            self.ALLOW_NON_MARS,
            self.tr("Run on an input whose CRS is not a Mars one (Earth CRS)"),
            False,
            optional=True,
        )
        param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(param)

    def allow_non_mars(self, parameters, context: QgsProcessingContext) -> bool:
        return self.parameterAsBool(parameters, self.ALLOW_NON_MARS, context)
