"""Unit tests of the tiling building blocks: plan, weights, accumulator, atomic output,
provenance and device resolution (no rasters needed for most)."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
import torch

from marsspec.core.devices import check_precision, resolve_device
from marsspec.core.errors import CancelledError, InputError
from marsspec.core.io.safety import atomic_output
from marsspec.core.provenance import input_fingerprint, provenance_tags, sha256_file
from marsspec.core.tiling import PAPER_SIGMA, TilePlan, axis_origins, reflect_indices
from marsspec.core.tiling.blend import RowAccumulator
from marsspec.core.tiling.weights import crop_weights, gaussian_weights, weight_map


@pytest.mark.parametrize(
    ("length", "size", "stride", "expected"),
    [
        (10, 16, 8, (0,)),
        (16, 16, 8, (0,)),
        (17, 16, 8, (0, 1)),
        (24, 16, 8, (0, 8)),
        (25, 16, 8, (0, 8, 9)),
        (1, 4, 1, (0,)),
        (50, 12, 12, (0, 12, 24, 36, 38)),
        (48, 12, 12, (0, 12, 24, 36)),
    ],
)
def test_axis_origins(length, size, stride, expected):
    origins = axis_origins(length, size, stride)
    assert origins == expected
    assert origins[-1] + size == max(length, size)  # flush with the border


@pytest.mark.parametrize("length", [16, 17, 23, 24, 25, 100, 257])
@pytest.mark.parametrize(("size", "stride"), [(16, 16), (16, 8), (16, 4), (12, 3)])
def test_axis_origins_cover_without_a_redundant_patch(length, size, stride):
    origins = axis_origins(length, size, stride)
    covered = np.zeros(length, bool)
    for o in origins:
        covered[o : o + size] = True
    assert covered.all()
    assert all(0 < b - a <= stride for a, b in itertools.pairwise(origins))
    # Dropping the last patch would leave the border uncovered: none is redundant.
    assert len(origins) == 1 or origins[-2] + size < length


@pytest.mark.parametrize("length", [2, 3, 7])
@pytest.mark.parametrize("pad", [0, 1, 5, 20])
def test_reflect_indices_match_numpy_reflect(length, pad):
    expected = np.pad(np.arange(length), (0, pad), mode="reflect")
    np.testing.assert_array_equal(reflect_indices(0, length + pad, length), expected)


def test_reflect_one_pixel_axis_repeats_it():
    np.testing.assert_array_equal(reflect_indices(0, 5, 1), np.zeros(5))


def test_plan_counts_and_final_rows():
    plan = TilePlan.from_ds(100, 30, 16, 2)
    # 0, 8, ..., 80 leaves rows 96-99 uncovered: an extra row flush with the border, at 84.
    assert plan.row_origins == (*range(0, 81, 8), 84) and plan.col_origins == (0, 8, 14)
    assert plan.n_patches == 12 * 3 == len(list(plan.patches()))
    assert plan.padded_width == 30 and TilePlan.from_ds(5, 7, 16, 2).padded_width == 16
    assert plan.final_rows_after(0) == 8 and plan.final_rows_after(10) == 84
    assert plan.final_rows_after(11) == 100


def test_gaussian_weights_shape_symmetry_and_floor():
    w = gaussian_weights(16)
    assert w.shape == (16, 16) and w.dtype == np.float32
    np.testing.assert_allclose(w, w[::-1], rtol=0) and np.testing.assert_allclose(w, w.T)
    assert w.max() < 1 and w.max() == w[7, 7] and w.min() > 0
    paper = gaussian_weights(64, PAPER_SIGMA, floor=0)
    # Eq. 3 at the pixel next to the edge midpoint: exp(-(r'^2 + c'^2)), r' ~ -1, c' ~ 0
    assert paper[0, 31] == pytest.approx(np.exp(-((63 / 64) ** 2 + (1 / 64) ** 2)), rel=1e-5)
    assert gaussian_weights(64, 0.05, floor=1e-4).min() == pytest.approx(1e-4)


def test_crop_and_mean_weights():
    c = crop_weights(10, 2, floor=1e-4)
    assert (c[2:8, 2:8] == 1).all() and (c[:2] == np.float32(1e-4)).all()
    assert (weight_map("mean", 5) == 1).all()
    with pytest.raises(InputError, match="Unknown blending"):
        weight_map("max", 5)


def test_accumulator_keeps_only_rows_in_flight():
    acc = RowAccumulator(1, 1000, 20, np.ones((4, 4), np.float32))
    capacity = acc.wsum.shape[0]
    for row in range(0, 1000, 2):
        for col in range(0, 20, 2):
            acc.add(np.full((1, 4, 4), row, np.float32), row, col)
        if row >= 2:
            out = acc.pop(row)
            assert out.shape[1] == 2
    assert acc.wsum.shape[0] == capacity  # never grew: bounded by the patch height


def test_atomic_output_success_moves_sidecars(tmp_path):
    final = tmp_path / "x [1].tif"
    with atomic_output(final) as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".x [1].marsspec-tmp-")
        temp.write_text("data")
        (temp.parent / (temp.name + ".aux.xml")).write_text("aux")
    assert sorted(os.listdir(tmp_path)) == ["x [1].tif", "x [1].tif.aux.xml"]


def test_atomic_output_failure_removes_everything(tmp_path):
    final = tmp_path / "y.tif"
    final.write_text("old")
    with pytest.raises(CancelledError), atomic_output(final) as temp:
        temp.write_text("partial")
        raise CancelledError("stop")
    assert os.listdir(tmp_path) == ["y.tif"] and final.read_text() == "old"


def test_provenance(tmp_path):
    f = tmp_path / "in.bin"
    f.write_bytes(b"abc")
    assert sha256_file(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert input_fingerprint(f, checksum=True) == f"in.bin sha256={sha256_file(f)}"
    assert input_fingerprint(f).startswith("in.bin size=3 mtime=")
    tags = provenance_tags(algorithm="a", inputs=[f, f], model_id="m", parameters={"d": 256})
    assert {"MARSSPEC_INPUT", "MARSSPEC_INPUT_2", "MARSSPEC_D", "MARSSPEC_MODEL_ID"} <= set(tags)


def test_device_and_precision_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert check_precision("auto", torch.device("cpu")) == "auto"  # resolved with the model later
    assert check_precision("BF16", torch.device("cpu")) == "bf16"
    with pytest.raises(InputError, match="Unknown device"):
        resolve_device("gpu!")


@pytest.mark.parametrize(("size", "stride", "scale"), [(8, 4, 1), (8, 3, 2), (6, 6, 1)])
def test_accumulator_equals_a_whole_array_blend(size, stride, scale):
    """Popping rows as they become final gives what blending every patch into one
    whole-raster array and dividing once gives (float64 reference; the accumulator's fused
    multiply-add rounds once where the reference rounds twice)."""
    height, width = 37, 23
    plan = TilePlan(height, width, size, stride)
    weights = gaussian_weights(size * scale)
    rng = np.random.default_rng(5)
    acc = RowAccumulator(2, height * scale, width * scale, weights)
    sums = np.zeros((2, height * scale, width * scale))
    wsum = np.zeros((height * scale, width * scale))
    popped = []
    rows = plan.row_origins
    for tile_row, row in enumerate(rows):
        for col in plan.col_origins:
            out = rng.random((2, size * scale, size * scale), dtype=np.float32)
            acc.add(out, row * scale, col * scale)
            r, c = row * scale, col * scale
            sums[:, r : r + size * scale, c : c + size * scale] += out * weights
            wsum[r : r + size * scale, c : c + size * scale] += weights
        popped.append(acc.pop(plan.final_rows_after(tile_row) * scale))
    blended = np.concatenate(popped, axis=1)
    assert blended.dtype == np.float32
    np.testing.assert_allclose(blended, sums / wsum, rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    ("dtype", "nodata", "holes"),
    [
        ("uint16", None, False),  # all valid: the reader skips masks and float checks
        ("uint16", 0, True),
        ("float32", None, True),  # NaN, inf and an ISIS special value, no nodata set
        ("float32", -9999.0, True),
    ],
)
def test_reader_validity_matches_masks_and_float_checks(tmp_path, dtype, nodata, holes):
    import rasterio
    from rasterio.windows import Window

    from marsspec.core.io.special_values import valid_float_mask
    from marsspec.core.tiling.reader import _read_window
    from tests.tiling_rasters import write_raster

    data = np.random.default_rng(2).uniform(1, 1000, size=(2, 30, 40)).astype(dtype)
    if holes:
        data[0, 3:6, 4:9] = np.nan if nodata is None else nodata
        if dtype == "float32":
            data[1, 10, 11] = np.inf
            data[1, 20, 30] = -3.4028226550889045e38
    path = write_raster(tmp_path / "in.tif", data, nodata=nodata)
    window = Window(2, 1, 35, 27)
    with rasterio.open(path) as src:
        got_data, got_valid = _read_window(src, (1, 2), window)
        masks = src.read_masks((1, 2), window=window)
        want_data = src.read((1, 2), window=window, out_dtype="float32")
    want_valid = np.all(masks != 0, axis=0) & np.all(valid_float_mask(want_data), axis=0)
    np.testing.assert_array_equal(got_data, want_data)
    np.testing.assert_array_equal(got_valid, want_valid)
    assert want_valid.all() == (not holes)
