"""marsspec:checkdependencies — which packages QGIS's Python lacks, and Install / Uninstall.

ACTION ``check`` (the default) only reports; ``install`` runs the Install button's install
(core/installer: QGIS's Python, ``pip --target`` into marsspec's packages folder in the
profile, the marker written last) with the Processing progress bar, log and cancel;
``uninstall`` removes that folder. TORCH_BUILD: ``auto`` (CUDA when an NVIDIA driver is
found), ``cpu`` or ``cuda``. The manual command is reported in every case.
"""

from __future__ import annotations

from qgis.core import QgsProcessingOutputString, QgsProcessingParameterEnum

from marsspec.core.dependencies import (
    RUNTIME,
    install_command,
    missing_requirements,
    python_executable,
)
from marsspec.core.installer import folder
from marsspec.core.installer.job import install
from marsspec.core.installer.plan import VARIANTS, InstallPlan
from marsspec.marsspec_plugin.algorithms.base import MarsspecAlgorithm
from marsspec.marsspec_plugin.feedback import cancel_callback, log_callback, progress_callback
from marsspec.marsspec_plugin.packages import packages_dir

ACTIONS = ("check", "install", "uninstall")


class CheckDependenciesAlgorithm(MarsspecAlgorithm):
    ACTION = "ACTION"
    TORCH_BUILD = "TORCH_BUILD"
    MISSING = "MISSING"
    INSTALL_COMMAND = "INSTALL_COMMAND"
    PYTHON = "PYTHON"
    PACKAGES_FOLDER = "PACKAGES_FOLDER"
    NAME = "checkdependencies"
    DISPLAY_NAME = "Check marsspec dependencies"
    HELP = (
        "Checks whether the Python that QGIS runs has the packages marsspec's models and "
        "co-registration need (torch, torchvision, segmentation-models-pytorch, timm, arosics "
        "and its helpers, safetensors, PyYAML, psutil, tqdm). Action 'install' downloads them "
        "with QGIS's own Python into marsspec's packages folder in your QGIS profile (QGIS's "
        "Python is not changed; torch: CPU build, or CUDA when an NVIDIA driver is present, or "
        "as chosen in 'torch build'); 'uninstall' removes that folder. The manual command "
        "does the same install from a terminal."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(
            QgsProcessingParameterEnum(
                self.ACTION,
                self.tr("Action"),
                options=list(ACTIONS),
                defaultValue=ACTIONS[0],
                usesStaticStrings=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.TORCH_BUILD,
                self.tr("torch build (install): auto = CUDA if an NVIDIA driver is found"),
                options=list(VARIANTS),
                defaultValue=VARIANTS[0],
                usesStaticStrings=True,
            )
        )
        self.addOutput(QgsProcessingOutputString(self.MISSING, self.tr("Missing packages")))
        self.addOutput(QgsProcessingOutputString(self.INSTALL_COMMAND, self.tr("Install command")))
        self.addOutput(QgsProcessingOutputString(self.PYTHON, self.tr("QGIS's Python")))
        self.addOutput(
            QgsProcessingOutputString(self.PACKAGES_FOLDER, self.tr("marsspec's packages folder"))
        )

    def execute(self, parameters, context, feedback):
        action = self.parameterAsEnumString(parameters, self.ACTION, context) or ACTIONS[0]
        variant = self.parameterAsEnumString(parameters, self.TORCH_BUILD, context) or "auto"
        target = packages_dir()
        if action == "install":
            install(  # its errors (no pip, no network, disk full) reach the user as one line
                InstallPlan(variant=variant),
                target,
                python_executable(),
                log=log_callback(feedback),
                progress=progress_callback(feedback),
                cancel=cancel_callback(feedback),
            )
            folder.activate(target)
            feedback.pushInfo(f"Installed into {target}.")
        elif action == "uninstall":
            removed = folder.uninstall(target)
            feedback.pushInfo(f"Removed {target}." if removed else "Nothing to remove.")
        missing = missing_requirements([requirement.module for requirement in RUNTIME])
        command = install_command(missing) if missing else ""
        if missing:
            feedback.reportError(
                "Missing: " + ", ".join(requirement.spec for requirement in missing), False
            )
            feedback.pushInfo(f"Install with ACTION install, or: {command}")
        else:
            feedback.pushInfo("All optional packages are installed.")
        return {
            self.MISSING: ",".join(requirement.spec for requirement in missing),
            self.INSTALL_COMMAND: command,
            self.PYTHON: python_executable(),
            self.PACKAGES_FOLDER: str(target),
        }
