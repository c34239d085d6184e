"""The "Mars spectral tools" Processing provider (id ``marsspec``)."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider

from marsspec.core.version import __version__
from marsspec.marsspec_plugin.algorithms.bin_confidence import BinConfidenceAlgorithm
from marsspec.marsspec_plugin.algorithms.check_dependencies import CheckDependenciesAlgorithm
from marsspec.marsspec_plugin.algorithms.coregister import CoregisterCrismAlgorithm
from marsspec.marsspec_plugin.algorithms.describe import DescribeAlgorithm
from marsspec.marsspec_plugin.algorithms.georef import GeorefAlgorithm
from marsspec.marsspec_plugin.algorithms.predict_spectra import PredictSpectraAlgorithm
from marsspec.marsspec_plugin.algorithms.superresolve import SuperresolveAlgorithm
from marsspec.marsspec_plugin.resources import icon

# Listed explicitly (no discovery by file name): what is here is what users get.
ALGORITHM_CLASSES = (
    DescribeAlgorithm,
    CheckDependenciesAlgorithm,
    GeorefAlgorithm,
    CoregisterCrismAlgorithm,
    SuperresolveAlgorithm,
    PredictSpectraAlgorithm,
    BinConfidenceAlgorithm,
)


class MarsspecProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "marsspec"

    def name(self) -> str:
        return "Mars spectral tools"

    def longName(self) -> str:  # noqa: N802 - QGIS API name
        return f"Mars spectral tools (marsspec {__version__})"

    def icon(self):
        return icon()

    def versionInfo(self) -> str:  # noqa: N802 - QGIS API name
        return __version__

    # marsspec writes GeoTIFF rasters and GeoPackage tie points (core.io.safety refuses other
    # extensions); offering only these keeps the dialogs from suggesting a format it refuses.
    def supportedOutputRasterLayerExtensions(self) -> list[str]:  # noqa: N802 - QGIS API name
        return ["tif", "tiff"]

    def defaultRasterFileExtension(self) -> str:  # noqa: N802 - QGIS API name
        return "tif"

    def supportedOutputVectorLayerExtensions(self) -> list[str]:  # noqa: N802 - QGIS API name
        return ["gpkg"]

    def defaultVectorFileExtension(self, has_geometry: bool = True) -> str:  # noqa: N802
        return "gpkg"

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS API name
        for algorithm_class in ALGORITHM_CLASSES:
            self.addAlgorithm(algorithm_class())
