"""marsspec:superresolve in the real qgis_process.bin with the bundled PSNR model."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from marsspec.core.models.manifest import load_manifest
from tests import qgis_process_runner
from tests.conftest import write_mars_raster

pytestmark = pytest.mark.qgis_process


def _bundled() -> bool:
    try:
        load_manifest().get("marsgan-psnr").verify()
        load_manifest().get("marsgan-gan").verify()
    except Exception:
        return False
    return True


@pytest.mark.skipif(not _bundled(), reason="bundled marsgan-psnr/-gan weights not exported yet")
def test_superresolve_in_qgis_process(qgis_process_env, tmp_path):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(2)
    lum = 0.1 + 0.3 * gaussian_filter(rng.random((40, 40)), 1.0)
    rgb = np.stack([lum, 0.7 * lum, 0.45 * lum]).astype("float32")
    rgb[:, :4, :4] = -1.0
    src = write_mars_raster(
        tmp_path / "npb.tif", rgb, pixel_size=4.5, nodata=-1.0, wavelengths_nm=[936.7, 675.0, 499.9]
    )
    out = tmp_path / "sr.tif"
    document = qgis_process_runner.run_json(
        [
            "run",
            "marsspec:superresolve",
            "--",
            f"INPUT={src}",
            "BANDS=1,2,3",
            "COLOUR_MODE=hsv",
            "MODEL=marsgan-psnr",
            "FIDELITY=0.5",
            "DEVICE=cpu",
            "PRECISION=fp32",
            f"OUTPUT={out}",
        ],
        qgis_process_env,
    )
    assert document["results"]["OUTPUT"] == str(out)
    with rasterio.open(src) as a, rasterio.open(out) as b:
        assert (b.width, b.height, b.count) == (160, 160, 3)
        assert b.transform == a.transform * rasterio.Affine.scale(0.25)
        assert b.crs == a.crs
        sr = b.read()
        tags = b.tags()
        assert b.tags(2)["WAVELENGTH_NM"] == "675"
    assert np.isnan(sr[:, :16, :16]).all() and np.isfinite(sr[:, 16:, 16:]).all()
    assert tags["MARSSPEC_SR_FIDELITY"] == "0.5" and "@fidelity=0.5" in tags["MARSSPEC_MODEL_ID"]
    assert np.allclose(sr[1, 20:] / sr[0, 20:], 0.7, atol=1e-4)  # HSV keeps the colour
    assert abs(float(np.nanmean(sr[0])) - float(lum[4:, 4:].mean())) < 0.01


def test_superresolve_bad_band_in_qgis_process(qgis_process_env, tmp_path):
    src = write_mars_raster(tmp_path / "g.tif", np.ones((20, 20), "float32"), pixel_size=4.5)
    completed = qgis_process_runner.run(
        [
            "run",
            "marsspec:superresolve",
            "--",
            f"INPUT={src}",
            "BANDS=3",
            f"OUTPUT={tmp_path / 'o.tif'}",
        ],
        qgis_process_env,
    )
    assert completed.returncode != 0
    assert "band" in (completed.stdout + completed.stderr).lower()
    assert not (tmp_path / "o.tif").exists()
