"""What every marsspec algorithm shares: dependency check, error conversion, help, icon."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
)
from qgis.PyQt.QtCore import QCoreApplication

from marsspec.core import options
from marsspec.core.dependencies import missing_message, missing_requirements
from marsspec.core.errors import MarsspecError, user_message
from marsspec.marsspec_plugin.resources import icon


def models_help(job: str, *, html: bool = True, stride: bool = True) -> str:
    """The models offered for ``job`` with their labels, for the help: MODEL lists only ids
    (static strings are shown as they are stored)."""
    try:
        models = options.model_options(job)
    except Exception:  # a broken manifest must not break the help; running reports it
        return ""
    lines = [
        f"{m.id}: {m.label}"
        + (f"; stride factor {m.default_stride_factor} by default" if stride else "")
        for m in models
    ]
    if not lines:
        return ""
    if html:
        items = "".join(f"<li>{line}</li>" for line in lines)
        return f"<p><b>Models</b> (MODEL values):</p><ul>{items}</ul>"
    return "\n\nModels (MODEL values):\n" + "\n".join(f"- {line}" for line in lines)


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

    def add_choice(
        self,
        name: str,
        label: str,
        options: Sequence[str],
        default: str | None = None,
        *,
        advanced: bool = False,
        help_text: str = "",
    ) -> None:
        """An enum whose value is the option string itself (QGIS >= 3.18 static strings), not
        its index: saved models and scripts keep their choice when options are added or
        reordered, and ``qgis_process`` takes ``DEVICE=cpu``. The default is the first option."""
        param = QgsProcessingParameterEnum(
            name,
            self.tr(label),
            options=list(options),
            defaultValue=options[0] if default is None else default,
            usesStaticStrings=True,
        )
        if advanced:
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        if help_text:
            param.setHelp(help_text)
        self.addParameter(param)

    def choice(self, parameters, name: str, context: QgsProcessingContext) -> str:
        """The option string chosen for an enum made by :meth:`add_choice`."""
        return self.parameterAsEnumString(parameters, name, context)
