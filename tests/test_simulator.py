"""core.simulator: determinism, ground alignment, misregistration truth, endmember
absorptions, and the albedo -> spectra link being learnable but not trivial (SIMULATED data)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import rasterio
from skimage.registration import phase_cross_correlation

from marsspec.core.errors import InputError
from marsspec.core.simulator import (
    ENDMEMBERS,
    SceneConfig,
    misregistration_from_truth,
    simulate_scene,
    true_offset_ctx_px,
)
from marsspec.training.evaluation.learnability import crism_blur, load_pair, pcc

# Published band positions (nm) each endmember must show (Viviano-Beck et al. 2014 summary
# parameters; Bishop 2019; Morris et al. 2000 for ferric dust; see docs/simulator.md).
PUBLISHED = {
    "ferric_dust": (530, 860),
    "basalt_pyroxene": (950, 2000),
    "olivine": (1050,),
    "fe_mg_smectite": (1410, 1910, 2290),
    "hydrated_sulfate": (1430, 1930, 2400),
    "carbonate": (2310, 2510),
}


def _read(path):
    with rasterio.open(path) as ds:
        return ds.read(), ds.transform, ds.crs, ds.nodata


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("scene")
    return simulate_scene(SceneConfig(seed=3, size=192, site="gale", hirise_size=256), out)


def test_deterministic_per_seed(tmp_path, scene):
    config = SceneConfig(seed=3, size=192, site="gale", products=("ctx", "crism"))
    again = simulate_scene(config, tmp_path / "again")  # fewer products: same CTX and CRISM
    for key in ("ctx", "crism", "crism_target"):
        np.testing.assert_array_equal(_read(again.files[key])[0], _read(scene.files[key])[0])
    other = simulate_scene(dataclasses.replace(config, seed=4), tmp_path / "other")
    assert not np.array_equal(_read(other.files["ctx"])[0], _read(scene.files["ctx"])[0])


def test_products_georeferenced_on_mars(scene):
    from marsspec.core.io.mars_crs import is_mars_crs, pixel_size_m

    sizes = {"ctx": 6.0, "crism": 18.0, "crism_target": 6.0, "cassis": 4.5, "hirise": 0.75}
    for key, size in sizes.items():
        _data, transform, crs, nodata = _read(scene.files[key])
        assert is_mars_crs(crs)
        assert pixel_size_m(crs, transform) == pytest.approx((size, size))
    crism, _, _, nodata = _read(scene.files["crism"])
    assert nodata == 65535.0
    outside = crism[0] == nodata
    assert 0.2 < outside.mean() < 0.8  # an irregular footprint with nodata around it
    truth = json.loads(scene.files["truth"].read_text())
    noise = truth["crism"]["noise_fraction"]
    assert noise["442"] > noise["1500"] and noise["2503"] > noise["1500"]
    sun = truth["illumination"]
    assert 40 <= sun["incidence_deg"] <= 65 and sun["haze_if_550nm"] > 0


def test_products_align_on_the_ground(scene):
    ctx, t_ctx, _, _ = _read(scene.files["ctx"])
    # CaSSIS PAN resampled onto the CTX grid: no shift
    from rasterio.warp import Resampling, reproject

    cassis, t_cas, crs, _ = _read(scene.files["cassis"])
    pan = np.zeros_like(ctx[0])
    reproject(
        cassis[1],
        pan,
        src_transform=t_cas,
        src_crs=crs,
        dst_transform=t_ctx,
        dst_crs=crs,
        resampling=Resampling.average,
    )
    inner = (slice(16, -16), slice(16, -16))
    shift, _, _ = phase_cross_correlation(ctx[0][inner], pan[inner], upsample_factor=10)
    assert np.abs(shift).max() <= 0.2
    # HiRISE (0.75 m) block-averaged 8 x 8 onto the CTX pixels it covers: no shift
    hirise, t_hi, _, _ = _read(scene.files["hirise"])
    col0 = round((t_hi.c - t_ctx.c) / 6.0)
    row0 = round((t_ctx.f - t_hi.f) / 6.0)
    n = hirise.shape[1] // 8
    blocks = hirise[0, : n * 8, : n * 8].reshape(n, 8, n, 8).mean(axis=(1, 3))
    shift, _, _ = phase_cross_correlation(
        ctx[0][row0 : row0 + n, col0 : col0 + n], blocks, upsample_factor=10
    )
    assert np.abs(shift).max() <= 0.3
    # the registered CRISM target shares the CTX grid exactly
    target, t_target, _, _ = _read(scene.files["crism_target"])
    assert t_target == t_ctx and target.shape[1:] == ctx.shape[1:]


def _best_shift(product, valid, reference, step, centre, reach):
    """(d_row, d_col) maximising the correlation of product(P) with reference(P - d)."""
    from scipy.ndimage import map_coordinates

    rows, cols = np.nonzero(valid)
    best, best_score = centre, -2.0
    for dr in np.arange(centre[0] - reach, centre[0] + reach + 1e-9, step):
        for dc in np.arange(centre[1] - reach, centre[1] + reach + 1e-9, step):
            sampled = map_coordinates(reference, [rows - dr, cols - dc], order=1, mode="nearest")
            score = pcc(product[rows, cols], sampled)
            if score > best_score:
                best, best_score = (dr, dc), score
    return np.array(best)


def test_truth_shift_matches_cross_correlation(scene):
    truth = json.loads(scene.files["truth"].read_text())
    crism, _, _, nodata = _read(scene.files["crism"])
    target, t_ctx, _, _ = _read(scene.files["crism_target"])
    n = target.shape[1] // 3
    band = 1  # 533 nm
    coarse = target[band, : 3 * n, : 3 * n].reshape(n, 3, n, 3).mean(axis=(1, 3))
    outside = coarse > 1000  # outside the target footprint
    coarse[outside] = np.median(coarse[~outside])
    product = crism[band, :n, :n]
    valid = (product != nodata) & (product < 0.5)  # the footprint, without hot pixels
    # cross-correlation over the footprint: whole pixels within +-8, then sub-pixel
    found = _best_shift(product, valid, coarse, 1.0, (0.0, 0.0), 8.0)
    found = _best_shift(product, valid, coarse, 0.25, tuple(found), 1.0)
    found = _best_shift(product, valid, coarse, 0.05, tuple(found), 0.25)
    # the truth, averaged over the ground the footprint sees (the warp varies across it)
    rows, cols = np.nonzero(valid)
    ground_x = t_ctx.c + (cols + 0.5) * 18.0
    ground_y = t_ctx.f - (rows + 0.5) * 18.0
    d_col, d_row = true_offset_ctx_px(truth, ground_x, ground_y)
    expected = np.array([d_row.mean(), d_col.mean()]) / 3.0  # CRISM pixels
    m = truth["crism"]["misregistration"]
    assert np.hypot(m["shift_col_px"], m["shift_row_px"]) >= 2.0  # several CRISM pixels
    assert np.abs(found - expected).max() < 0.25, (found, expected)


def test_misregistration_convention_round_trip(scene):
    truth = json.loads(scene.files["truth"].read_text())
    mis = misregistration_from_truth(truth)
    assert misregistration_from_truth(scene.files["truth"]) == mis
    x = np.linspace(mis.origin[0], mis.origin[0] + mis.extent_m, 7)
    y = np.linspace(mis.origin[1], mis.origin[1] - mis.extent_m, 7)
    east, north = mis.offset_at(x, y)
    d_east, d_north = mis.displacement(x + east, y + north)  # o(Q) = d(Q + o(Q))
    np.testing.assert_allclose(east, d_east, atol=1e-6)
    np.testing.assert_allclose(north, d_north, atol=1e-6)
    local = np.hypot(east - mis.shift_east_m, north - mis.shift_north_m)
    assert 0 < local.max() <= mis.warp_amplitude_m + 1e-9  # a smooth warp on top of the shift


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_endmember_absorptions_where_published(name):
    member = ENDMEMBERS[name]
    continuum = dataclasses.replace(member, absorptions=())
    lam = np.arange(400.0, 2601.0)
    removed = member.reflectance(lam) / continuum.reflectance(lam)
    for centre in PUBLISHED[name]:
        window = (lam > centre - 60) & (lam < centre + 60)
        minimum = lam[window][np.argmin(removed[window])]
        assert abs(minimum - centre) <= 20, (name, centre, minimum)
        assert 1 - removed[window].min() > 0.04, (name, centre)
    assert np.all((member.reflectance(lam) > 0) & (member.reflectance(lam) < 1))


def test_visible_colours_and_albedos_differ_by_endmember():
    red = {n: float(e.reflectance(600.0)) for n, e in ENDMEMBERS.items()}
    blue = {n: float(e.reflectance(442.0)) for n, e in ENDMEMBERS.items()}
    assert red["ferric_dust"] > 2 * red["basalt_pyroxene"]  # bright dust, dark sand
    # the redness of dust: blue/red far below that of the light-toned hydrated minerals
    assert (
        blue["ferric_dust"] / red["ferric_dust"]
        < 0.6 * blue["hydrated_sulfate"] / red["hydrated_sulfate"]
    )


def test_linear_baseline_on_ctx_is_not_trivial(tmp_path):
    """A per-band linear fit on CTX brightness must not already predict the EVC bands."""
    result = simulate_scene(
        SceneConfig(seed=2, size=256, site="eberswalde", products=("ctx", "crism")), tmp_path
    )
    ctx, target, valid = load_pair(result.out_dir)
    raw = [abs(pcc(ctx[valid], target[b][valid])) for b in range(3)]
    blurred = [abs(pcc(crism_blur(ctx)[valid], target[b][valid])) for b in range(3)]
    assert np.mean(raw) < 0.95
    assert blurred[2] < 0.97  # 442 nm is not brightness at CRISM's resolution either


def test_custom_crism_wavelengths_and_cli(tmp_path):
    from marsspec.cli.main import main

    code = main(
        [
            "simulate",
            "--out",
            str(tmp_path),
            "--seed",
            "1",
            "--size",
            "96",
            "--products",
            "ctx,crism",
            "--crism-wavelengths",
            "750,1900,2300",
        ]
    )
    assert code == 0
    with rasterio.open(tmp_path / "crism.tif") as ds:
        assert ds.count == 3
        assert [ds.tags(b)["WAVELENGTH_NM"] for b in (1, 2, 3)] == ["750", "1900", "2300"]
    assert json.loads((tmp_path / "truth.json").read_text())["crism"]["wavelengths_nm"] == [
        750.0,
        1900.0,
        2300.0,
    ]


def test_bad_configuration_is_input_error(tmp_path):
    with pytest.raises(InputError, match="Unknown site"):
        simulate_scene(SceneConfig(site="olympus"), tmp_path)
    with pytest.raises(InputError, match="outside the simulated"):
        simulate_scene(SceneConfig(crism_wavelengths_nm=(3000.0,)), tmp_path)
