"""Georeferencing and scale (issue 22): every model declares its training pixel size; an input
more than 25 % off is resampled to the model's scale on the fly and the output written back on
the input's grid, or refused with --no-rescale; the tags say which."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from marsspec.cli.main import main as cli_main
from marsspec.core import jobs
from marsspec.core.errors import InputError
from marsspec.core.metrics.spectral import pcc
from marsspec.core.models.manifest import MANIFEST_PATH, load_manifest
from marsspec.core.spectral import PredictRequest
from marsspec.core.superres.job import SuperresConfig, SuperresRequest
from marsspec.core.tiling.rescale import plan_scale
from tests.conftest import REPO_ROOT, write_mars_raster

FAST = {"device": "cpu", "precision": "fp32"}


def _block_mean(data: np.ndarray, k: int) -> np.ndarray:
    """(..., H, W) -> (..., H/k, W/k) means of k x k blocks, NaN where any pixel is NaN."""
    *lead, h, w = data.shape
    blocks = data[..., : h - h % k, : w - w % k].reshape(*lead, h // k, k, w // k, k)
    return blocks.mean(axis=(-3, -1))


@pytest.fixture(scope="module")
def ctx6(tmp_path_factory) -> np.ndarray:
    """A 6 m simulated CTX scene (192 px), nodata as NaN."""
    from marsspec.core.simulator import SceneConfig, simulate_scene

    out = tmp_path_factory.mktemp("scene")
    simulate_scene(SceneConfig(seed=9123, size=192, site="gale", products=("ctx",)), out)
    with rasterio.open(out / "ctx.tif") as src:
        data = src.read(1, masked=True).astype("float32").filled(np.nan)
    return data


@pytest.fixture(scope="module")
def rasters(ctx6, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    return {
        "6m": write_mars_raster(folder / "ctx6.tif", ctx6, pixel_size=6.0, nodata=np.nan),
        "6.5m": write_mars_raster(folder / "ctx65.tif", ctx6, pixel_size=6.5, nodata=np.nan),
        "18m": write_mars_raster(
            folder / "ctx18.tif", _block_mean(ctx6, 3), pixel_size=18.0, nodata=np.nan
        ),
    }


@pytest.fixture(scope="module")
def predicted_6m(rasters, tmp_path_factory) -> np.ndarray:
    out = tmp_path_factory.mktemp("pred6") / "evc6.tif"
    jobs.run(PredictRequest(rasters["6m"], out, model="evc-regression", **FAST))
    with rasterio.open(out) as src:
        assert src.tags()["MARSSPEC_RESCALED"] == "false"
        return src.read()


def test_manifest_declares_pixel_sizes():
    manifest = load_manifest(MANIFEST_PATH)
    for entry in manifest.entries:
        if entry.task.startswith("spectra"):
            assert entry.pixel_size_m == 6.0, entry.id
        else:  # scale-free: trained on crops of mixed, partly undefined, pixel sizes
            assert entry.pixel_size_m is None, entry.id
            assert "pixel_size_m: null" in entry.card_path.read_text(encoding="utf-8")


def test_18m_input_to_a_6m_model_is_resampled_onto_the_input_grid(rasters, predicted_6m, tmp_path):
    out = tmp_path / "evc18.tif"
    result = jobs.run(PredictRequest(rasters["18m"], out, model="evc-regression", **FAST))
    assert any("resampled to 6 m" in e for e in result.events)
    with rasterio.open(rasters["18m"]) as src:
        grid = (src.width, src.height, src.transform, src.crs)
    with rasterio.open(out) as dst:
        assert (dst.width, dst.height, dst.transform, dst.crs) == grid
        assert dst.count == 3 and dst.dtypes[0] == "float32"
        tags = dst.tags()
        assert "592 nm" in dst.descriptions[0] and dst.tags(1)["WAVELENGTH_NM"] == "592"
        pred = dst.read()
    assert tags["MARSSPEC_RESCALED"] == "true"
    assert float(tags["MARSSPEC_INPUT_PIXEL_SIZE_M"]) == pytest.approx(18.0)
    assert float(tags["MARSSPEC_MODEL_PIXEL_SIZE_M"]) == 6.0
    assert float(tags["MARSSPEC_RESCALE_FACTOR"]) == pytest.approx(3.0)
    assert tags["MARSSPEC_INPUT"].startswith("ctx18.tif ")  # the user's file, not the VRT
    assert tags["MARSSPEC_SCALE"] == "1"
    # the 6 m prediction brought to 18 m: the rescaled run must agree with it
    expected = _block_mean(predicted_6m, 3)
    valid = np.isfinite(pred).all(axis=0) & np.isfinite(expected).all(axis=0)
    assert valid.mean() > 0.8
    for band in range(3):
        r = pcc(pred[band][valid], expected[band][valid])
        print(f"band {band}: r={r:.4f}, valid {valid.mean():.3f}")
        assert r > 0.9, band


def test_input_within_25_percent_is_not_resampled(rasters, predicted_6m, tmp_path):
    out = tmp_path / "evc65.tif"
    jobs.run(PredictRequest(rasters["6.5m"], out, model="evc-regression", **FAST))
    with rasterio.open(out) as dst:
        tags = dst.tags()
        assert dst.res == (6.5, 6.5)
        pred = dst.read()
    assert tags["MARSSPEC_RESCALED"] == "false"
    assert float(tags["MARSSPEC_RESCALE_FACTOR"]) == pytest.approx(6.5 / 6.0, rel=1e-5)
    np.testing.assert_allclose(pred, predicted_6m, atol=1e-5)  # same pixels, same run


def test_no_rescale_refuses_in_one_line_naming_both_sizes(rasters, tmp_path, capsys):
    out = tmp_path / "refused.tif"
    code = cli_main(["predict", str(rasters["18m"]), str(out), "--no-rescale", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and not out.exists()
    assert len(err.splitlines()) == 1, err
    assert "18 m" in err and "6 m" in err and "--no-rescale" in err
    with pytest.raises(InputError, match=r"18 m pixels.*trained at 6 m"):
        jobs.run(PredictRequest(rasters["18m"], out, rescale=False, **FAST))
    assert list(tmp_path.iterdir()) == []
    # within the tolerance --no-rescale changes nothing
    jobs.run(PredictRequest(rasters["6.5m"], out, rescale=False, **FAST))
    assert out.is_file()


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_the_inspector_refuses_an_input_it_would_not_reproduce(rasters):
    """One inference path: where the job resamples, the inspector says so instead of
    showing a value the raster does not hold; at the model's scale it works."""
    from marsspec.core import pixel_inspector

    with pytest.raises(InputError, match=r"18 m pixels.*trained at 6 m.*gdalwarp"):
        pixel_inspector.inspect_pixel(rasters["18m"], 5, 5, model_id="evc-bins20", device="cpu")
    shown = pixel_inspector.inspect_pixel(rasters["6m"], 5, 5, model_id="evc-bins20", device="cpu")
    assert len(shown.bands) == 3


def test_plan_without_crs_or_model_size_checks_nothing(tmp_path, rasters):
    plain = tmp_path / "plain.tif"
    with rasterio.open(
        plain, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32"
    ) as dst:
        dst.write(np.ones((1, 8, 8), "float32"))
    plan = plan_scale(plain, 6.0, rescale=False)
    assert not plan.rescale and plan.tags()["MARSSPEC_INPUT_PIXEL_SIZE_M"].startswith("unknown")
    plan = plan_scale(rasters["18m"], None, rescale=False)
    assert not plan.rescale and plan.tags()["MARSSPEC_MODEL_PIXEL_SIZE_M"].startswith("any")


def test_superres_output_is_4x_the_input_grid_when_rescaled(ctx6, tmp_path):
    """A super-resolution model that declares 3 m: a 6 m input runs at 3 m, output at 1.5 m."""
    folder = tmp_path / "models"
    folder.mkdir()
    entry = load_manifest(MANIFEST_PATH).get("marsgan-psnr")
    data = {**entry.to_dict(), "id": "sr-3m", "pixel_size_m": 3.0}
    (folder / entry.weights).symlink_to(entry.weights_path)
    (folder / "manifest.json").write_text(json.dumps({"schema_version": 1, "models": [data]}))
    src = write_mars_raster(tmp_path / "in6.tif", ctx6[:48, :40], pixel_size=6.0, nodata=np.nan)
    out = tmp_path / "sr.tif"
    config = SuperresConfig(model="sr-3m", manifest_path=str(folder / "manifest.json"), **FAST)
    result = jobs.run(SuperresRequest(src, out, config))
    assert any("resampled to 3 m" in e for e in result.events)
    with rasterio.open(src) as s, rasterio.open(out) as d:
        assert (d.width, d.height) == (4 * s.width, 4 * s.height)
        assert d.transform.almost_equals(s.transform * Affine.scale(0.25))
        assert d.crs == s.crs
        tags = d.tags()
        values = d.read(1)
    assert tags["MARSSPEC_RESCALED"] == "true" and tags["MARSSPEC_SCALE"] == "4"
    assert np.isfinite(values).mean() > 0.9
    with pytest.raises(InputError, match=r"6 m pixels.*trained at 3 m.*--no-rescale"):
        jobs.run(
            SuperresRequest(
                src,
                tmp_path / "refused.tif",
                SuperresConfig(
                    model="sr-3m",
                    manifest_path=str(folder / "manifest.json"),
                    rescale=False,
                    **FAST,
                ),
            )
        )
    # the bundled SR models are scale-free: never rescaled, and the tags say so
    bundled = tmp_path / "bundled.tif"
    jobs.run(SuperresRequest(src, bundled, SuperresConfig(**FAST)))
    with rasterio.open(bundled) as d:
        assert d.tags()["MARSSPEC_RESCALED"] == "false"
        assert d.tags()["MARSSPEC_MODEL_PIXEL_SIZE_M"].startswith("any")


def test_rescale_code_reads_and_writes_by_windows_only():
    """Memory stays bounded: every read/write in the rescaling module names a window."""
    path = REPO_ROOT / "core" / "tiling" / "rescale.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("read", "write", "read_masks")
    ]
    assert calls
    for call in calls:
        assert any(k.arg == "window" for k in call.keywords), ast.unparse(call)


@pytest.mark.qgis_process
def test_qgis_process_no_rescale_refuses(qgis_process_env, rasters, tmp_path):
    """NO_RESCALE (advanced) reaches the request; the default (resample) is the same job."""
    from tests import qgis_process_runner

    out = tmp_path / "x.tif"
    bad = qgis_process_runner.run(
        [
            "run",
            "marsspec:predictspectra",
            "--",
            f"INPUT={rasters['18m']}",
            "NO_RESCALE=true",
            f"OUTPUT={out}",
        ],
        qgis_process_env,
    )
    text = bad.stdout + bad.stderr
    assert bad.returncode != 0 and "18 m pixels" in text and "NO_RESCALE" in text
    assert not out.exists()


def test_export_records_the_training_pixel_size(rasters, tmp_path):
    from marsspec.cli.commands.export import training_pixel_size

    assert training_pixel_size({"simulate": {"seeds": [1]}}) == 6.0
    assert training_pixel_size({"simulate": {"seeds": [1]}}, 4.5) == 4.5
    scene = tmp_path / "scene1"
    scene.mkdir()
    (scene / "ctx.tif").symlink_to(rasters["18m"])
    assert training_pixel_size({"scenes": [str(tmp_path / "scene*")]}) == pytest.approx(18.0)
    assert training_pixel_size({"scenes": [str(tmp_path / "none*")]}) is None
    with pytest.raises(InputError, match="--pixel-size"):
        training_pixel_size({}, -1.0)
