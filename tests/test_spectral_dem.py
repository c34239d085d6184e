"""A DEM as the second input channel: simulator product, warped stack, training, prediction.

Real GDAL warping and a real (tiny) U-Net trained with ``dem_name`` on a simulated scene.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from rasterio.warp import Resampling, reproject

from marsspec.cli.main import main as cli_main
from marsspec.core.errors import InputError
from marsspec.core.io.stack import stack_with_dem
from marsspec.core.models.manifest import load_manifest
from marsspec.core.simulator import SceneConfig, simulate_scene
from marsspec.core.spectral import PredictRequest, predict_spectra


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dem_scene") / "s"
    simulate_scene(
        SceneConfig(seed=5, size=160, site="gale", products=("ctx", "crism", "dem")), out
    )
    return out


def test_simulated_dem_is_coarser_and_on_the_same_ground(scene):
    with rasterio.open(scene / "ctx.tif") as ctx, rasterio.open(scene / "dem.tif") as dem:
        assert dem.res == (24.0, 24.0) and ctx.res == (6.0, 6.0)
        assert dem.crs == ctx.crs and "Mars" in dem.crs.to_wkt()
        assert (dem.bounds.left, dem.bounds.top) == (ctx.bounds.left, ctx.bounds.top)
        assert dem.tags(1)["units"] == "m"
        heights = dem.read(1)
    low, high = json.loads((scene / "truth.json").read_text())["terrain"]["height_range_m"]
    assert low - 1e-3 <= heights.min() < heights.max() <= high + 1e-3  # block means of it


def test_stack_puts_the_dem_on_the_ctx_grid(scene, tmp_path):
    stacked = stack_with_dem(scene / "ctx.tif", 1, scene / "dem.tif", tmp_path)
    with rasterio.open(stacked) as stack, rasterio.open(scene / "ctx.tif") as ctx:
        assert stack.count == 2 and stack.crs == ctx.crs and stack.transform == ctx.transform
        data = stack.read()
        np.testing.assert_array_equal(data[0], ctx.read(1))
        want = np.full((ctx.height, ctx.width), np.nan, np.float32)
        with rasterio.open(scene / "dem.tif") as dem:
            reproject(
                rasterio.band(dem, 1),
                want,
                dst_transform=ctx.transform,
                dst_crs=ctx.crs,
                resampling=Resampling.bilinear,
            )
    inside = np.isfinite(want)
    assert inside.mean() > 0.9
    np.testing.assert_allclose(data[1][inside], want[inside], atol=1e-3)


def test_dem_errors_are_clear(scene, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        stack_with_dem(scene / "ctx.tif", 1, tmp_path / "missing.tif", tmp_path)
    far = tmp_path / "far.tif"
    with rasterio.open(scene / "dem.tif") as dem:
        profile = dem.profile
        shifted = dem.transform * dem.transform.translation(10_000, 0)
        with rasterio.open(far, "w", **{**profile, "transform": shifted}) as dst:
            dst.write(dem.read())
    with pytest.raises(InputError, match="does not overlap"):
        stack_with_dem(scene / "ctx.tif", 1, far, tmp_path)
    with pytest.raises(InputError, match="reads CTX only"):
        predict_spectra(
            PredictRequest(
                input=scene / "ctx.tif",
                output=tmp_path / "o.tif",
                model="evc-regression",
                dem=scene / "dem.tif",
            )
        )
    assert not (tmp_path / "o.tif").exists()


def test_train_and_predict_with_a_dem_channel(scene, tmp_path):
    config = {
        "id": "tiny-evc-dem",
        "task": "spectra-regression",
        "out_dir": str(tmp_path / "run"),
        "scenes": [str(scene)],
        "val_scenes": [str(scene)],
        "dem_name": "dem.tif",
        "patch_size": 64,
        "batch_size": 2,
        "max_steps": 2,
        "val_every": 2,
        "precision": "fp32",
        "decoder_channels": [32, 16, 16, 8, 8],
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    assert cli_main(["train", "--config", str(path)]) == 0
    models = tmp_path / "models"
    models.mkdir()
    ckpt = str(tmp_path / "run/best.pt")
    assert cli_main(["export", "--checkpoint", ckpt, "--models-dir", str(models)]) == 0
    manifest = models / "manifest.json"
    entry = load_manifest(manifest).get("tiny-evc-dem")
    assert entry.in_channels == 2 and entry.architecture_kwargs["in_channels"] == 2

    ctx, dem, out = scene / "ctx.tif", scene / "dem.tif", tmp_path / "evc.tif"
    with pytest.raises(InputError, match="give the DEM"):
        predict_spectra(PredictRequest(input=ctx, output=out, model=entry.id, manifest=manifest))
    code = cli_main(
        ["predict", str(ctx), str(out), "--model", entry.id, "--dem", str(dem),
         "--manifest", str(manifest), "--device", "cpu"]
    )  # fmt: skip
    assert code == 0
    with rasterio.open(out) as ds, rasterio.open(ctx) as src:
        assert ds.count == 3 and ds.transform == src.transform and ds.crs == src.crs
        values = ds.read(masked=True)
        tags = ds.tags()
    assert values.count() > 0.9 * values.size and np.isfinite(values.compressed()).all()
    assert tags["MARSSPEC_INPUT"].startswith("ctx.tif") and tags["MARSSPEC_INPUT_2"].startswith(
        "dem.tif"
    )
    assert "mean=" in tags["MARSSPEC_DEM_STATS"]
