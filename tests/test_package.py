"""`make package`: a zip with one top folder that QGIS loads on its own."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from tests import qgis_process_runner
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "package.py"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    zips = list(out.glob("marsspec-*.zip"))
    assert len(zips) == 1
    return zips[0]


def test_zip_layout(plugin_zip):
    names = zipfile.ZipFile(plugin_zip).namelist()
    assert {name.split("/")[0] for name in names} == {"marsspec"}
    for required in (
        "marsspec/metadata.txt",
        "marsspec/__init__.py",
        "marsspec/icon.svg",
        "marsspec/marsspec_plugin/provider.py",
        "marsspec/core/errors.py",
    ):
        assert required in names
    for excluded in ("training/", "tests/", ".venv/", "build/", "scripts/", "__pycache__"):
        assert not any(excluded in name for name in names), excluded
    assert not any(name.endswith(".pyc") for name in names)


@pytest.mark.qgis_process
def test_unpacked_zip_loads_in_qgis_process(plugin_zip, tmp_path):
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(plugin_zip).extractall(plugins)
    # Only the unpacked copy (and the venv's packages) is visible: not this checkout.
    env = qgis_process_runner.profile_env(
        tmp_path / "profile", plugins, [qgis_process_runner.venv_site_packages()]
    )
    qgis_process_runner.enable_plugin(env)
    listing = qgis_process_runner.run(["list"], env)
    assert listing.returncode == 0, listing.stderr
    assert "marsspec:describe" in listing.stdout

    raster = tmp_path / "r.tif"
    import numpy as np

    from tests.conftest import write_mars_raster

    write_mars_raster(raster, np.ones((4, 6), "float32"))
    results = qgis_process_runner.run_json(
        ["run", "marsspec:describe", "--", f"INPUT={raster}"], env
    )["results"]
    assert results["WIDTH"] == 6 and results["CRS_BODY"] == "Mars"
