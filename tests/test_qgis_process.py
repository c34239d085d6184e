"""The plugin in the real qgis_process.bin, in isolated profiles."""

from __future__ import annotations

import json

import pytest

from tests import qgis_process_runner
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.qgis_process


def test_provider_listed(qgis_process_env):
    completed = qgis_process_runner.run(["list"], qgis_process_env)
    assert completed.returncode == 0, completed.stderr
    assert "Mars spectral tools" in completed.stdout
    assert "marsspec:describe" in completed.stdout
    assert "marsspec:checkdependencies" in completed.stdout


def test_describe_runs_and_writes_report(qgis_process_env, mars_raster, tmp_path):
    report = tmp_path / "out" / "report.json"
    document = qgis_process_runner.run_json(
        ["run", "marsspec:describe", "--", f"INPUT={mars_raster}", f"OUTPUT={report}"],
        qgis_process_env,
    )
    results = document["results"]
    assert results["WIDTH"] == 53 and results["HEIGHT"] == 37
    assert results["CRS_BODY"] == "Mars"
    assert json.loads(report.read_text())["bands"][0]["wavelength_nm"] == 592.0


def test_bad_input_fails_with_message(qgis_process_env, tmp_path):
    completed = qgis_process_runner.run(
        ["run", "marsspec:describe", "--", f"INPUT={tmp_path / 'missing.tif'}"], qgis_process_env
    )
    assert completed.returncode != 0
    assert "missing.tif" in completed.stdout + completed.stderr


def test_provider_loads_without_optional_packages(tmp_path):
    """QGIS's Python without the venv (no torch, smp, arosics): the provider still loads, and
    the dependency check names what is missing with the command for that Python."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "marsspec").symlink_to(REPO_ROOT, target_is_directory=True)
    env = qgis_process_runner.profile_env(tmp_path / "profile", plugins, [])
    qgis_process_runner.enable_plugin(env)

    listing = qgis_process_runner.run(["list"], env)
    assert listing.returncode == 0, listing.stderr
    assert "marsspec:describe" in listing.stdout

    results = qgis_process_runner.run_json(["run", "marsspec:checkdependencies"], env)["results"]
    assert "torch==2.14.1" in results["MISSING"]
    assert "arosics==1.12.1" in results["MISSING"]
    assert results["INSTALL_COMMAND"].startswith(f"{results['PYTHON']} -m pip install")
    assert "segmentation-models-pytorch==0.6.0" in results["INSTALL_COMMAND"]
