"""marsspec:checkdependencies — which optional packages QGIS's Python lacks, and the fix."""

from __future__ import annotations

from qgis.core import QgsProcessingOutputString

from marsspec.core.dependencies import (
    ALL_OPTIONAL,
    install_command,
    missing_requirements,
    python_executable,
)
from marsspec.marsspec_plugin.algorithms.base import MarsspecAlgorithm


class CheckDependenciesAlgorithm(MarsspecAlgorithm):
    MISSING = "MISSING"
    INSTALL_COMMAND = "INSTALL_COMMAND"
    PYTHON = "PYTHON"
    NAME = "checkdependencies"
    DISPLAY_NAME = "Check marsspec dependencies"
    HELP = (
        "Checks whether the Python that QGIS runs has the packages marsspec's models and "
        "co-registration need (torch, torchvision, segmentation-models-pytorch, timm, arosics "
        "and its helpers) and, if not, gives the exact command that installs them into that "
        "Python. Restart QGIS after installing."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addOutput(QgsProcessingOutputString(self.MISSING, self.tr("Missing packages")))
        self.addOutput(QgsProcessingOutputString(self.INSTALL_COMMAND, self.tr("Install command")))
        self.addOutput(QgsProcessingOutputString(self.PYTHON, self.tr("QGIS's Python")))

    def execute(self, parameters, context, feedback):
        missing = missing_requirements([requirement.module for requirement in ALL_OPTIONAL])
        command = install_command(missing) if missing else ""
        if missing:
            feedback.reportError(
                "Missing: " + ", ".join(requirement.spec for requirement in missing), False
            )
            feedback.pushInfo(f"Install with: {command}")
        else:
            feedback.pushInfo("All optional packages are installed.")
        return {
            self.MISSING: ",".join(requirement.spec for requirement in missing),
            self.INSTALL_COMMAND: command,
            self.PYTHON: python_executable(),
        }
