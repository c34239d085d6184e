"""marsspec:coregistercrism in the real qgis_process.bin (arosics + shapely inside QGIS, with
arosics' worker processes), on a small simulated pair."""

from __future__ import annotations

import pytest
import rasterio

from marsspec.core.coreg.evaluate import simulate_pair
from tests import qgis_process_runner

pytestmark = pytest.mark.qgis_process


def test_coregister_in_qgis_process(qgis_process_env, tmp_path):
    scene = simulate_pair(
        tmp_path / "scene", seed=5, size=512, site="jezero", shift_px=(2, 6), warp_ctx_px=1.0
    )
    out = tmp_path / "out"
    out.mkdir()
    document = qgis_process_runner.run_json(
        [
            "run",
            "marsspec:coregistercrism",
            "--",
            f"REFERENCE={scene.files['ctx']}",
            f"TARGET={scene.files['crism']}",
            "WINDOW_SIZE=32",
            "GRID_SPACING=10",
            "CPUS=2",
            f"OUTPUT={out / 'crism.tif'}",
            f"OUTPUT_CTX={out / 'ctx.tif'}",
            f"OUTPUT_POINTS={out / 'points.gpkg'}",
        ],
        qgis_process_env,
    )
    results = document["results"]
    assert results["METHOD"] == "local", results
    assert results["USED_POINTS"] >= 8
    assert results["SSIM_AFTER"] > results["SSIM_BEFORE"]
    assert "global shift" in results["SUMMARY"]
    with rasterio.open(out / "crism.tif") as crism, rasterio.open(out / "ctx.tif") as ctx:
        assert crism.transform == ctx.transform and crism.shape == ctx.shape
    assert sorted(p.name for p in out.iterdir()) == ["crism.tif", "ctx.tif", "points.gpkg"]


def test_coregister_bad_input_in_qgis_process(qgis_process_env, tmp_path, mars_raster):
    """A single-band target without wavelengths and no band: QGIS shows marsspec's message."""
    import numpy as np

    from tests.conftest import write_mars_raster

    target = write_mars_raster(tmp_path / "t.tif", np.ones((30, 30), "float32"), pixel_size=18)
    completed = qgis_process_runner.run(
        [
            "run",
            "marsspec:coregistercrism",
            "--",
            f"REFERENCE={mars_raster}",
            f"TARGET={target}",
            f"OUTPUT={tmp_path / 'o.tif'}",
            f"OUTPUT_CTX={tmp_path / 'c.tif'}",
            f"OUTPUT_POINTS={tmp_path / 'p.gpkg'}",
        ],
        qgis_process_env,
    )
    assert completed.returncode != 0
    assert "no band wavelengths" in completed.stdout + completed.stderr
    assert not (tmp_path / "o.tif").exists() and not (tmp_path / "p.gpkg").exists()
