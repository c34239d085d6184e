"""The plugin object QGIS creates through classFactory: registers the Processing provider."""

from __future__ import annotations

from qgis.core import QgsApplication

from marsspec.marsspec_plugin.provider import MarsspecProvider


class MarsspecPlugin:
    """Adds marsspec's provider to Processing (desktop QGIS and qgis_process alike)."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: MarsspecProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API name
        if self.provider is None:
            self.provider = MarsspecProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS API name
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
