"""The inspector's core (no QGIS): the engine's patches for one pixel, distribution summaries,
one real model run. That its values equal the raster's: tests/test_inspector_matches_raster.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from marsspec.core.errors import InputError
from marsspec.core.pixel_inspector import (
    count_modes,
    inspect_pixel,
    inspect_point,
    summarise_band,
)
from marsspec.core.tiling import TilePlan
from marsspec.core.tiling.pixel import covering_patches
from marsspec.core.tiling.reader import make_reader, read_patch
from tests.gui_fixtures import ctx_raster, tiny_bin_model


@pytest.fixture(scope="module")
def model_manifest(tmp_path_factory) -> str:
    return str(tiny_bin_model(tmp_path_factory.mktemp("bin-model")))


@pytest.fixture(scope="module")
def ctx(tmp_path_factory) -> Path:
    return ctx_raster(tmp_path_factory.mktemp("ctx") / "ctx.tif", size=(150, 170))


def test_modes_single_two_and_small_bump():
    single = np.exp(-0.5 * ((np.arange(20) - 9) / 1.5) ** 2)
    assert count_modes(single) == 1
    double = single + 0.8 * np.exp(-0.5 * ((np.arange(20) - 2) / 1.0) ** 2)
    assert count_modes(double) == 2
    # a small secondary bump (< 25 % of the peak) is not a mode
    bump = single + 0.1 * np.exp(-0.5 * ((np.arange(20) - 2) / 1.0) ** 2)
    assert count_modes(bump) == 1


def test_summary_values_match_definitions():
    centres = np.linspace(-5.7, 5.7, 20)
    p = np.zeros(20)
    p[[4, 15]] = [0.6, 0.4]
    band = summarise_band(p, centres, name="R592", wavelength_nm=592.0)
    assert band.value == pytest.approx(0.6 * centres[4] + 0.4 * centres[15])
    assert band.argmax_value == pytest.approx(centres[4])
    assert band.max_probability == pytest.approx(0.6)
    expected_entropy = -(0.6 * np.log(0.6) + 0.4 * np.log(0.4)) / np.log(20)
    assert band.entropy == pytest.approx(expected_entropy)
    assert band.multimodal and band.modes == 2
    sharp = summarise_band(np.eye(20)[10], centres)
    assert sharp.entropy == pytest.approx(0.0) and sharp.confidence == pytest.approx(1.0)
    assert not sharp.multimodal


@pytest.mark.parametrize("thread", [False, True])
@pytest.mark.parametrize("size", [(150, 170), (40, 170)])  # (40, ...): rows mirrored
def test_read_patch_is_what_the_engine_reads(tmp_path, size, thread):
    path = ctx_raster(tmp_path / "ctx.tif", size=size)
    with rasterio.open(path, "r+") as src:  # nodata to fill: a hole and a whole patch
        data = src.read(1)
        data[5:9, 20:30] = -1.0
        data[:, 100:] = -1.0
        src.write(data, 1)
    plan = TilePlan.from_ds(size[0], size[1], 64, 2)
    reader = make_reader(path, plan, (1,), batch_size=5, prefetch=1, thread=thread)
    reader.start()
    engine = {}
    try:
        for batch in reader.batches():
            ran = [p for p, r in zip(batch.patches, batch.run, strict=True) if r]
            engine.update({p.index: d for p, d in zip(ran, batch.data, strict=True)})
    finally:
        reader.close()
    skipped = 0
    with rasterio.open(path) as src:
        for patch in plan.patches():
            patch_data, valid, needed = read_patch(src, plan, (1,), patch)
            assert needed == (patch.index in engine)
            skipped += not needed
            if needed:
                np.testing.assert_array_equal(patch_data, engine[patch.index])
            assert valid.shape == (64, 64)
    assert skipped  # the all-nodata patches at the right are skipped by both


def test_covering_patches_are_the_plans_patches_over_the_pixel():
    plan = TilePlan.from_ds(300, 340, 256, 2)
    for row, col in [(0, 0), (150, 170), (299, 339), (43, 84), (200, 300)]:
        want = [
            p for p in plan.patches() if p.row <= row < p.row + 256 and p.col <= col < p.col + 256
        ]
        assert list(covering_patches(plan, row, col)) == want
    assert len(covering_patches(plan, 150, 170)) == 4
    with pytest.raises(InputError, match="outside"):
        covering_patches(plan, 300, 0)


def test_inspect_pixel_runs_the_model_once(ctx, model_manifest):
    result = inspect_pixel(ctx, 3, 160, model_id="test-bins8", manifest_path=model_manifest)
    assert len(result.bands) == 3 and result.size == 128 and result.stride == 64
    assert [b.wavelength_nm for b in result.bands] == [592.0, 533.0, 442.0]
    for band in result.bands:
        assert band.probabilities.shape == (8,) and band.centres.shape == (8,)
        assert band.probabilities.sum() == pytest.approx(1.0, abs=1e-6)
        # the raster's value; with weighted reconstruction, the bars' mean (float32 blend)
        assert band.value == pytest.approx(
            float((band.probabilities * band.centres).sum()), abs=1e-5
        )
        assert 0.0 <= band.entropy <= 1.0 and 1 / 8 <= band.max_probability <= 1.0
    assert result.entropy == pytest.approx(np.mean([b.entropy for b in result.bands]))
    assert result.confidence == pytest.approx(1 - result.entropy)
    with rasterio.open(ctx) as src:
        assert result.input_value == pytest.approx(float(src.read(1)[3, 160]))
        x, y = src.xy(3, 160)
    again = inspect_point(ctx, x, y, model_id="test-bins8", manifest_path=model_manifest)
    assert (again.row, again.col) == (3, 160)
    np.testing.assert_allclose(again.bands[0].probabilities, result.bands[0].probabilities)


def test_bad_clicks_say_what_to_do(ctx, model_manifest):
    with pytest.raises(InputError, match="outside"):
        inspect_point(ctx, 0.0, 0.0, model_id="test-bins8", manifest_path=model_manifest)
    with pytest.raises(InputError, match="Band 2 does not exist"):
        inspect_pixel(ctx, 1, 1, band=2, model_id="test-bins8", manifest_path=model_manifest)


def test_bundled_bin_model_if_present(ctx):
    from marsspec.core.models.manifest import load_manifest

    if "evc-bins20" not in load_manifest().ids():
        pytest.skip("the bundled evc-bins20 model is not in models/manifest.json yet")
    result = inspect_pixel(ctx, 75, 85)
    assert len(result.bands) == 3
    assert all(b.probabilities.shape == (20,) for b in result.bands)
