"""`make package`: a zip with one top folder that QGIS loads on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

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


def load_check_plugin():
    """scripts/check_plugin.py as a module (scripts/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "check_plugin", REPO_ROOT / "scripts" / "check_plugin.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zip_passes_the_plugin_repository_checks(plugin_zip):
    check_plugin = load_check_plugin()
    errors, warnings, facts = check_plugin.check_zip(plugin_zip)
    assert errors == []
    assert int(facts["zip_bytes"]) <= 25_000_000  # with every bundled model
    assert "marsspec/LICENSE" in zipfile.ZipFile(plugin_zip).namelist()
    assert facts["supportsQt6"] == "True" and facts["qgisMaximumVersion"].startswith("4.")
    models = [n for n in zipfile.ZipFile(plugin_zip).namelist() if n.endswith(".safetensors")]
    assert len(models) == 5
    # the placeholder URLs are well-formed but flagged, so nobody uploads them unnoticed
    assert any("placeholder" in warning for warning in warnings)


def test_check_plugin_refuses_what_the_repository_refuses(plugin_zip, tmp_path):
    check_plugin = load_check_plugin()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(plugin_zip) as source, zipfile.ZipFile(bad, "w") as target:
        for item in source.infolist():
            if item.filename == "marsspec/LICENSE":
                continue  # no licence
            data = source.read(item)
            if item.filename == "marsspec/metadata.txt":
                text = data.decode()
                text = text.replace("\nemail=", "\nx_email=")  # a required key gone
                text = text.replace("repository=https://", "repository=")  # not a URL
                data = text.encode()
            target.writestr(item, data)
        target.writestr("marsspec/core/__pycache__/errors.cpython-311.pyc", b"\0")
    errors, _, _ = check_plugin.check_zip(bad)
    text = "\n".join(errors)
    assert "marsspec/LICENSE is missing" in text
    assert "metadata email is missing" in text
    assert "repository='example.invalid/marsspec' is not a well-formed" in text
    assert "compiled or temporary file in the zip: marsspec/core/__pycache__" in text
    assert "cache or VCS folder __pycache__" in text

    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_STORED) as target:
        target.writestr("marsspec/blob.bin", os.urandom(25_000_001))
    errors, _, _ = check_plugin.check_zip(big)
    assert any("the repository takes at most 25,000,000" in error for error in errors)


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


# ---- the CLI of the installed plugin ---------------------------------------------------------
def base_python() -> str:
    """The venv's base interpreter (QGIS's Python on Debian): unlike the venv's own, it does
    not read the venv's .pth file that makes this checkout importable as `marsspec`."""
    candidate = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return str(candidate) if candidate.exists() else sys.executable


def unpacked_cli(plugins: Path, cwd: Path):
    """Run `python -m marsspec ARGS` seeing only the unpacked zip and the venv's packages."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(plugins), qgis_process_runner.venv_site_packages()]),
        PYTHONNOUSERSITE="1",
        PROJ_DATA="/usr/share/proj",
    )

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [base_python(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )

    return run


def test_unpacked_zip_cli_simulates_predicts_and_explains_training(plugin_zip, tmp_path):
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(plugin_zip).extractall(plugins)
    run = unpacked_cli(plugins, tmp_path)
    where = run(  # this checkout is not visible, nor is training/
        "-c",
        "import marsspec, importlib.util as u; "
        "print(marsspec.__file__, u.find_spec('marsspec.training'))",
    )
    assert where.stdout.split() == [str(plugins / "marsspec" / "__init__.py"), "None"], where

    scene = tmp_path / "scene"
    simulated = run(
        "-m", "marsspec", "simulate", "--out", str(scene), "--size", "256", "--products", "ctx"
    )
    assert simulated.returncode == 0, simulated.stderr
    assert (scene / "ctx.tif").is_file()

    evc = tmp_path / "evc.tif"
    predicted = run(
        "-m", "marsspec", "predict", str(scene / "ctx.tif"), str(evc), "--device", "cpu"
    )
    assert predicted.returncode == 0, predicted.stderr
    import rasterio

    with rasterio.open(evc) as out:
        assert out.count == 3

    needs_training = (
        ["train", "--config", "x.yaml"],
        ["eval", "spectra"],
        ["export", "--checkpoint", "best.pt"],
    )
    for argv in needs_training:
        refused = run("-m", "marsspec", *argv)
        assert refused.returncode != 0, argv
        assert "Traceback" not in refused.stdout + refused.stderr, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"marsspec {argv[0]}: error:"), lines
        assert "source checkout" in lines[0] and "make setup" in lines[0], lines
