"""The Processing provider inside QGIS (pytest-qgis), run end to end through processing.run."""

from __future__ import annotations

import json

import pytest
from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback

from marsspec.core.errors import InputError
from marsspec.marsspec_plugin.algorithms.base import MarsspecAlgorithm
from marsspec.marsspec_plugin.provider import ALGORITHM_CLASSES


def test_provider_identity(marsspec_provider):
    assert marsspec_provider.id() == "marsspec"
    assert marsspec_provider.name() == "Mars spectral tools"
    assert not marsspec_provider.icon().isNull()
    ids = {algorithm.id() for algorithm in marsspec_provider.algorithms()}
    assert {"marsspec:describe", "marsspec:checkdependencies"} <= ids
    assert len(ids) == len(ALGORITHM_CLASSES)


def test_every_algorithm_has_help_group_and_icon(marsspec_provider):
    for algorithm in marsspec_provider.algorithms():
        assert algorithm.shortHelpString().strip(), algorithm.id()
        assert algorithm.groupId() and algorithm.displayName()
        assert algorithm.name() == algorithm.name().lower()


def test_describe_through_processing(marsspec_provider, mars_raster, tmp_path):
    import processing

    report_path = tmp_path / "report.json"
    result = processing.run(
        "marsspec:describe", {"INPUT": str(mars_raster), "OUTPUT": str(report_path)}
    )
    assert result["WIDTH"] == 53 and result["HEIGHT"] == 37 and result["BAND_COUNT"] == 2
    assert result["CRS_BODY"] == "Mars"
    assert result["PIXEL_SIZE_X"] == pytest.approx(6.0)
    report = json.loads(report_path.read_text())
    assert [band["wavelength_nm"] for band in report["bands"]] == [592.0, 533.0]
    assert not list(tmp_path.glob(".*.tmp"))


def test_describe_rejects_invalid_input(marsspec_provider, tmp_path):
    import processing

    with pytest.raises(QgsProcessingException):
        processing.run("marsspec:describe", {"INPUT": str(tmp_path / "missing.tif")})


class _NeedsAbsentPackage(MarsspecAlgorithm):
    NAME = "needsabsent"
    DISPLAY_NAME = "Needs an absent package"
    HELP = "test only"
    REQUIRED_MODULES = ("json", "marsspec_absent_pkg_for_test")
    FEATURE = "The test feature"

    def initAlgorithm(self, config=None):  # noqa: N802
        pass

    def execute(self, parameters, context, feedback):
        raise AssertionError("must not run when a package is missing")


class _RaisesInputError(_NeedsAbsentPackage):
    NAME = "raisesinputerror"
    REQUIRED_MODULES = ()

    def execute(self, parameters, context, feedback):
        raise InputError("Band 7 does not exist: choose a band between 1 and 3.")


def _run_directly(algorithm):
    from qgis.core import QgsProcessingContext

    algorithm.initAlgorithm()
    return algorithm.processAlgorithm({}, QgsProcessingContext(), QgsProcessingFeedback())


def test_missing_package_reported_with_install_command(qgis_app):
    with pytest.raises(QgsProcessingException) as caught:
        _run_directly(_NeedsAbsentPackage())
    message = str(caught.value)
    assert "The test feature needs" in message
    assert "marsspec-absent-pkg-for-test" in message and "-m pip install" in message


def test_core_errors_become_processing_exceptions_with_same_message(qgis_app):
    with pytest.raises(QgsProcessingException, match="choose a band between 1 and 3"):
        _run_directly(_RaisesInputError())


def test_check_dependencies_reports_all_present(marsspec_provider):
    import processing

    result = processing.run("marsspec:checkdependencies", {})
    assert result["MISSING"] == ""  # the test venv has everything
    assert result["PYTHON"]


def test_plugin_registers_and_removes_provider(qgis_app, qgis_iface):
    from marsspec import classFactory

    registry = QgsApplication.processingRegistry()
    if registry.providerById("marsspec") is not None:
        registry.removeProvider("marsspec")  # start from a QGIS without marsspec
    plugin = classFactory(qgis_iface)
    plugin.initGui()
    assert registry.providerById("marsspec") is not None
    assert registry.algorithmById("marsspec:describe") is not None
    plugin.unload()
    assert registry.providerById("marsspec") is None
