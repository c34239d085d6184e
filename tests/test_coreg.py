"""CRISM-to-CTX co-registration (core.coreg) on simulated pairs with a known misregistration,
on real overlapping CRISM observations, and on bad inputs (clear message, no output left)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from marsspec.core.coreg import CoregConfig, CoregRequest, coregister
from marsspec.core.coreg.evaluate import (
    misregistration_from_truth,
    residual_px,
    simulate_pair,
    true_offset,
)
from marsspec.core.errors import CancelledError, InputError
from tests.conftest import MARS_EQC, SHARED_DATA, write_mars_raster

NILI = SHARED_DATA / "crism_mtrdr_browse_nili"
# A 768 px CTX scene holds a ~150 CRISM px footprint: a 48 px window keeps enough tie points.
TEST_CONFIG = CoregConfig(window_size=48, grid_spacing=12, oversample=2)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """One simulated pair (global shift 2-15 CRISM px + smooth warp), co-registered once."""
    folder = tmp_path_factory.mktemp("coreg-sim")
    scene = simulate_pair(
        folder, seed=11, size=768, site="jezero", shift_px=(2, 15), warp_ctx_px=1.5
    )
    out = folder / "out"
    out.mkdir()
    logs: list[str] = []
    result = coregister(
        CoregRequest(
            scene.files["ctx"],
            scene.files["crism"],
            out / "crism.tif",
            out / "ctx.tif",
            out / "points.gpkg",
            TEST_CONFIG,
        ),
        log=logs.append,
    )
    truth = json.loads(Path(scene.files["truth"]).read_text())
    return scene, out, result, truth, logs


def test_residual_against_truth(simulated):
    _, out, result, truth, _ = simulated
    residual = residual_px(out / "crism.tif", result.correction, misregistration_from_truth(truth))
    assert result.method == "local"
    assert residual.size > 1000
    assert np.median(residual) <= 0.5, np.median(residual)
    assert np.percentile(residual, 90) <= 1.0, np.percentile(residual, 90)
    assert result.ssim_after > result.ssim_before + 0.2


def test_outputs_form_a_training_pair_on_the_ctx_grid(simulated):
    scene, out, result, _, _ = simulated
    with (
        rasterio.open(out / "crism.tif") as crism,
        rasterio.open(out / "ctx.tif") as ctx,
        rasterio.open(scene.files["ctx"]) as full,
    ):
        assert crism.transform == ctx.transform and crism.shape == ctx.shape
        assert crism.crs == ctx.crs == full.crs
        assert crism.count == 6 and crism.dtypes[0] == "float32" and crism.nodata == 65535.0
        # the cut-out is CTX itself, pixel for pixel, on CTX's own grid
        col, row = ~full.transform * (ctx.transform.c, ctx.transform.f)
        assert col == pytest.approx(round(col)) and row == pytest.approx(round(row))
        window = rasterio.windows.Window(round(col), round(row), ctx.width, ctx.height)
        np.testing.assert_array_equal(ctx.read(1), full.read(1, window=window))
        assert "592" in crism.descriptions[0] and crism.tags(1)["WAVELENGTH_NM"] == "592"
        tags = crism.tags()
        assert tags["MARSSPEC_ALGORITHM"] == "coregister"
        assert float(tags["MARSSPEC_COREG_RESULT_USED_POINTS"]) == result.used_points
        assert "MARSSPEC_COREG_RESULT_MEDIAN_SHIFT_M" in tags
        data = crism.read(1)
    footprint = data != 65535.0
    assert 0.2 < footprint.mean() < 0.9  # CRISM nodata outside its footprint
    assert not (out / "crism.tif").with_name("x").exists()
    assert sorted(p.name for p in out.iterdir()) == ["crism.tif", "ctx.tif", "points.gpkg"]


def test_all_bands_corrected_with_one_solution(simulated):
    """Each band, phase-correlated with the registered truth band, is left with (almost) no
    shift: the one field built from the 592 nm band corrected the whole cube."""
    from skimage.registration import phase_cross_correlation

    scene, out, _, _, _ = simulated
    with (
        rasterio.open(out / "crism.tif") as crism,
        rasterio.open(scene.files["crism_target"]) as target,
    ):
        window = rasterio.windows.from_bounds(*crism.bounds, transform=target.transform)
        window = window.round_offsets().round_lengths()
        rows, cols = crism.height // 2, crism.width // 2
        crop = np.s_[rows - 64 : rows + 64, cols - 64 : cols + 64]
        for band in range(1, crism.count + 1):
            ours = crism.read(band)[crop]
            truth = target.read(band, window=window)[crop]
            assert (ours != 65535.0).all() and (truth != 65535.0).all()
            shift, _, _ = phase_cross_correlation(truth, ours, upsample_factor=20)
            assert np.hypot(*shift) < 0.5, (band, shift)


def test_tie_point_layer(simulated):
    from osgeo import ogr

    _, out, result, _, _ = simulated
    dataset = ogr.Open(str(out / "points.gpkg"))
    layer = dataset.GetLayer("tie_points")
    assert layer.GetFeatureCount() == result.valid_points
    names = {
        layer.GetLayerDefn().GetFieldDefn(i).GetName()
        for i in range(layer.GetLayerDefn().GetFieldCount())
    }
    assert {
        "x_shift_px",
        "y_shift_px",
        "x_shift_m",
        "y_shift_m",
        "abs_shift_m",
        "angle_deg",
        "reliability",
        "ssim_before",
        "ssim_after",
        "outlier",
    } <= names
    feature = next(iter(layer))
    shift = np.hypot(feature["x_shift_m"], feature["y_shift_m"])
    assert feature["abs_shift_m"] == pytest.approx(shift, rel=1e-3)
    assert sum(f["used"] for f in layer) == result.used_points
    assert "Mars" in layer.GetSpatialRef().ExportToWkt() or "3396190" in (
        layer.GetSpatialRef().ExportToWkt()
    )


def test_shift_sign_convention(simulated):
    """arosics' shift is minus the simulator's displacement: a CRISM feature at P lies at
    P + shift on the ground."""
    _, _, result, truth, _ = simulated
    m = truth["crism"]["misregistration"]
    assert result.global_shift_x_m == pytest.approx(-m["shift_east_m"], abs=8.0)
    assert result.global_shift_y_m == pytest.approx(-m["shift_north_m"], abs=8.0)
    mis = misregistration_from_truth(truth)
    dx, _ = true_offset(
        mis,
        np.array([m["origin_left_top_m"][0] + 2000.0]),
        np.array([m["origin_left_top_m"][1] - 2000.0]),
    )
    assert np.sign(dx[0]) == np.sign(m["shift_east_m"])


def test_global_only_and_fallback(simulated, tmp_path):
    scene, _, _, _, _ = simulated
    logs: list[str] = []
    result = coregister(
        CoregRequest(
            scene.files["ctx"],
            scene.files["crism"],
            tmp_path / "a.tif",
            tmp_path / "b.tif",
            None,
            CoregConfig(window_size=48, min_points=10_000),
        ),
        log=logs.append,
    )
    assert result.method == "global"
    assert any("falling back to the global shift" in line for line in logs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.tif"]


@pytest.mark.skipif(not NILI.is_dir(), reason=f"real CRISM data not found at {NILI}")
def test_real_nili_fossae_crism_to_crism(tmp_path):
    """Two real CRISM MTRDR browse products of the same ground, different dates (real data)."""
    reference = NILI / "frt00008fc1_07_brtanj_mtr3.img"  # 2007-12-26
    target = NILI / "frt0000a4b5_07_brtanj_mtr3.img"  # 2008-03-07, nearly the same ground
    result = coregister(
        CoregRequest(
            reference,
            target,
            tmp_path / "t.tif",
            tmp_path / "r.tif",
            tmp_path / "p.gpkg",
            CoregConfig(crism_band=3, reference_band=3, grid_spacing=64),
        ),
    )
    assert result.method == "local" and result.used_points >= 8, result.summary_text()
    assert result.ssim_after > result.ssim_before, result.summary_text()
    with rasterio.open(tmp_path / "t.tif") as out:
        assert out.count == 3 and "770" in out.descriptions[2]


# ---- bad inputs: one clear message each, nothing left in the output folder -------------
def _pair(tmp_path, ref_crs=MARS_EQC, tgt_crs=MARS_EQC, shift_tgt=0.0, tgt_wavelengths=True):
    rng = np.random.default_rng(0)
    ref = write_mars_raster(
        tmp_path / "ref.tif", rng.random((96, 96)).astype("float32"), crs=ref_crs
    )
    tgt = tmp_path / "tgt.tif"
    profile = {
        "driver": "GTiff",
        "count": 1,
        "height": 40,
        "width": 40,
        "dtype": "float32",
        "crs": tgt_crs,
        "transform": rasterio.transform.from_origin(
            4_600_020.0 + shift_tgt, -1_090_002.0, 18.0, 18.0
        ),
    }
    with rasterio.open(tgt, "w", **profile) as dataset:
        dataset.write(rng.random((1, 40, 40)).astype("float32"))
        if tgt_wavelengths:
            dataset.update_tags(1, WAVELENGTH_NM="592")
    return ref, tgt


def _expect_error(tmp_path, ref, tgt, match, config=None, error=InputError):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(error, match=match):
        coregister(
            CoregRequest(
                ref,
                tgt,
                out / "c.tif",
                out / "x.tif",
                out / "p.gpkg",
                config or CoregConfig(window_size=16, max_shift=5),
            ),
        )
    assert list(out.iterdir()) == []


def test_no_overlap(tmp_path):
    ref, tgt = _pair(tmp_path, shift_tgt=50_000.0)
    _expect_error(tmp_path, ref, tgt, "do not overlap")


def test_missing_crs(tmp_path):
    ref, _ = _pair(tmp_path)
    bare = tmp_path / "bare.tif"
    with rasterio.open(
        bare, "w", driver="GTiff", count=1, height=20, width=20, dtype="float32"
    ) as dataset:
        dataset.write(np.ones((1, 20, 20), "float32"))
    _expect_error(tmp_path, ref, bare, "not georeferenced")


def test_earth_crs_against_mars_crs(tmp_path):
    ref, tgt = _pair(tmp_path, tgt_crs="EPSG:32633")
    _expect_error(tmp_path, ref, tgt, "Earth CRS")


def test_single_band_without_wavelengths_needs_a_band(tmp_path):
    ref, tgt = _pair(tmp_path, tgt_wavelengths=False)
    _expect_error(tmp_path, ref, tgt, "no band wavelengths.*--crism-band")


def test_no_valid_match(tmp_path):
    """A featureless target: arosics finds nothing, the message says what to try."""
    ref, _ = _pair(tmp_path)
    flat = write_mars_raster(
        tmp_path / "flat.tif",
        np.full((40, 40), 0.2, "float32"),
        pixel_size=18.0,
        wavelengths_nm=[592.0],
    )
    _expect_error(tmp_path, ref, flat, "arosics found no valid match")


def test_cancel_leaves_nothing(simulated, tmp_path):
    scene, _, _, _, _ = simulated
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 6  # after matching, while writing

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CancelledError):
        coregister(
            CoregRequest(
                scene.files["ctx"],
                scene.files["crism"],
                out / "c.tif",
                out / "x.tif",
                out / "p.gpkg",
                CoregConfig(window_size=48, global_only=True),
            ),
            cancel=cancel,
        )
    assert list(out.iterdir()) == []


def test_cli_coregister(simulated, tmp_path, capsys):
    from marsspec.cli.main import main

    scene, _, _, _, _ = simulated
    out = tmp_path / "c.tif"
    code = main(
        [
            "coregister",
            str(scene.files["ctx"]),
            str(scene.files["crism"]),
            "--out",
            str(out),
            "--window-size",
            "48",
            "--global-only",
            "--quiet",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "method=global" in printed and "ssim_after=" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tif", "c_ctx.tif", "c_points.gpkg"]
