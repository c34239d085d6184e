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
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
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


def _file_value(value) -> str | None:
    """A parameter value that names an existing file (a path string), else None."""
    import os

    if isinstance(value, str) and value and os.path.isfile(value):
        return value
    return None


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
    NO_RESCALE = "NO_RESCALE"
    ASSUME_CRS = "ASSUME_CRS"
    PIXEL_SIZE = "PIXEL_SIZE"
    DASK = "DASK"
    DASK_BLOCK = "DASK_BLOCK"

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
        """The file behind a raster parameter, with QGIS's standard message when invalid.

        A file QGIS's GDAL cannot load as a layer (a CaSSIS PDS4 ``.xml`` label or its
        ``.dat``) is passed on as a path: marsspec opens it as ``describe`` does."""
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None or not layer.isValid():
            path = _file_value(parameters.get(name))
            if path:
                return path
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
        param.setFlags(param.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        self.addParameter(param)

    def checkParameterValues(self, parameters, context):  # noqa: N802 - QGIS API name
        """QGIS's checks, except that a raster parameter may name a file QGIS cannot load
        but marsspec reads (PDS4 labels): :meth:`raster_path` passes it on."""
        ok, message = super().checkParameterValues(parameters, context)
        if ok:
            return ok, message
        for definition in self.parameterDefinitions():
            value = parameters.get(definition.name())
            if definition.checkValueIsAcceptable(value, context):
                continue
            if isinstance(definition, QgsProcessingParameterRasterLayer) and _file_value(value):
                continue
            return ok, message
        return True, ""

    def add_assume_crs(self) -> None:
        """ASSUME_CRS (none, mars) and PIXEL_SIZE (metres): what to assume for an input
        without a CRS (a PNG/JPEG, a CaSSIS framelet), which is refused otherwise."""
        self.add_choice(
            self.ASSUME_CRS,
            "CRS to assume for an input without one (none = refuse it)",
            options.ASSUME_CRS,
            help_text="mars: Mars equirectangular, north up, origin 0,0, with PIXEL_SIZE; "
            "the outputs' tags say the CRS was assumed",
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.PIXEL_SIZE,
                self.tr("Pixel size in metres of an input without a CRS (with ASSUME_CRS mars)"),
                type=QgsProcessingParameterNumber.Type.Double,
                minValue=0.0,
                optional=True,
            )
        )

    def assume_kwargs(self, parameters, context: QgsProcessingContext) -> dict:
        """The request fields ``assume_crs`` and ``pixel_size`` (the request checks them)."""
        assume = self.choice(parameters, self.ASSUME_CRS, context) or "none"
        raw = parameters.get(self.PIXEL_SIZE)
        empty = raw is None or raw == "" or getattr(raw, "isNull", lambda: False)()
        size = None if empty else self.parameterAsDouble(parameters, self.PIXEL_SIZE, context)
        return {"assume_crs": None if assume == "none" else assume, "pixel_size": size}

    def allow_non_mars(self, parameters, context: QgsProcessingContext) -> bool:
        return self.parameterAsBool(parameters, self.ALLOW_NON_MARS, context)

    def add_no_rescale(self) -> None:
        """Advanced switch: refuse an input whose pixel size is more than 25 % off the model's
        (by default it is resampled to the model's scale and the output put on its grid)."""
        param = QgsProcessingParameterBoolean(
            self.NO_RESCALE,
            self.tr(
                "Refuse an input whose pixel size is more than 25 % off the model's "
                "(default: resample it on the fly)"
            ),
            False,
            optional=True,
        )
        param.setFlags(param.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        self.addParameter(param)

    def add_dask(self) -> None:
        """Advanced, optional: run in blocks on a Dask cluster (core/scaleout)."""
        param = QgsProcessingParameterString(
            self.DASK,
            self.tr("Dask scheduler (optional): local:N or tcp://HOST:PORT"),
            optional=True,
        )
        param.setHelp(
            "Empty: one process, as always. local:N starts N single-thread worker processes "
            "on this machine; tcp://HOST:PORT uses a running `dask scheduler`. The raster is "
            "cut into blocks on the patch grid (identical result); the output is a COG, with "
            "a VRT and a .blocks folder beside it, and a rerun resumes. docs/scaling.md."
        )
        param.setFlags(param.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        self.addParameter(param)
        from marsspec.core.scaleout.layout import DEFAULT_BLOCK

        block = QgsProcessingParameterNumber(
            self.DASK_BLOCK,
            self.tr("Dask block side in pixels (with a Dask scheduler)"),
            QgsProcessingParameterNumber.Type.Integer,
            DEFAULT_BLOCK,
            optional=True,
            minValue=16,
        )
        block.setFlags(block.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        self.addParameter(block)

    def run_scaled(self, request, parameters, context, feedback) -> dict[str, Any] | None:
        """``request`` on the Dask cluster DASK names (None when DASK is empty): progress and
        cancel reach the workers, the dashboard address is logged."""
        scheduler = (self.parameterAsString(parameters, self.DASK, context) or "").strip()
        if not scheduler:
            return None
        from marsspec.core.scaleout import ScaleoutOptions, run_scaled
        from marsspec.marsspec_plugin.feedback import (
            cancel_callback,
            log_callback,
            progress_callback,
        )

        result = run_scaled(
            [request],
            ScaleoutOptions(
                scheduler, block=self.parameterAsInt(parameters, self.DASK_BLOCK, context)
            ),
            progress=progress_callback(feedback),
            cancel=cancel_callback(feedback),
            log=log_callback(feedback),
        )
        if result.failed:
            raise QgsProcessingException(result.failed[0].error or "the Dask run failed")
        feedback.pushInfo(f"{result.summary()} on {result.scheduler}")
        return {key: str(path) for key, path in result.outputs.items()}

    def rescale(self, parameters, context: QgsProcessingContext) -> bool:
        """The request's ``rescale``: True unless NO_RESCALE is set."""
        return not self.parameterAsBool(parameters, self.NO_RESCALE, context)

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
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        if help_text:
            param.setHelp(help_text)
        self.addParameter(param)

    def choice(self, parameters, name: str, context: QgsProcessingContext) -> str:
        """The option string chosen for an enum made by :meth:`add_choice`."""
        return self.parameterAsEnumString(parameters, name, context)
