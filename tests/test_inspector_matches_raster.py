"""The pixel inspector shows what the raster holds: one inference path (issue 16).

A raster is predicted through the job, then the inspector is asked about seeded random pixels
(borders and the neighbourhood of nodata included): its per-band value must equal the
raster's within 1e-4. Three cases: the bundled bin model with overlapping, blended patches; a
raster above 4 MP (where the old inspector used decimated statistics); a model with a DEM
channel. Runs pin ``device=cpu, precision=fp32``: ``auto`` may choose bf16 on a CPU with
native bf16 after a timing probe, and a timing decides differently from run to run
(core/devices.py), which no comparison at 1e-4 survives. Provenance of a DEM run: the
engine writes it once and names the user's files, not the temporary VRT.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio

from marsspec.core import pixel_inspector
from marsspec.core.errors import InputError
from marsspec.core.models.manifest import load_manifest, sha256_file
from marsspec.core.spectral import PredictRequest, predict_spectra
from marsspec.core.spectral.window import WindowRequest, predict_pixel
from tests.gui_fixtures import BANDS, ctx_raster

CPU = {"device": "cpu", "precision": "fp32"}
TOLERANCE = 1e-4

pytestmark = pytest.mark.skipif(
    "evc-bins20" not in load_manifest().ids(), reason="the bundled evc-bins20 model is missing"
)


def _pixels(shape: tuple[int, int], n: int, seed: int, extra=()) -> list[tuple[int, int]]:
    """``n`` seeded random pixels, the four corners and border midpoints among them."""
    h, w = shape
    fixed = [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (h // 2, 0), (0, w // 2)]
    fixed += [(h - 1, w // 2), (h // 2, w - 1), *extra]
    rng = np.random.default_rng(seed)
    random = [(int(rng.integers(0, h)), int(rng.integers(0, w))) for _ in range(n - len(fixed))]
    return (fixed + random)[:n]


def _assert_matches(raster: Path, ctx: Path, pixels, **parameters) -> int:
    """Compare at ``pixels``; returns how many were valid (the others must be refused)."""
    with rasterio.open(raster) as src:
        written = src.read()
    compared = 0
    for row, col in pixels:
        want = written[:, row, col]
        if np.isnan(want).any():  # nodata in the input: the inspector refuses the click
            with pytest.raises(InputError, match="nodata"):
                pixel_inspector.inspect_pixel(ctx, row, col, **parameters)
            continue
        result = pixel_inspector.inspect_pixel(ctx, row, col, **parameters)
        got = np.array([band.value for band in result.bands])
        np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE, err_msg=f"({row}, {col})")
        for band in result.bands:
            assert band.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
        compared += 1
    return compared


@pytest.fixture(scope="module")
def ctx_with_holes(tmp_path_factory) -> Path:
    """A CTX-like raster whose nodata patches sit near a border and inside."""
    path = ctx_raster(tmp_path_factory.mktemp("holes") / "ctx.tif", size=(300, 340))
    with rasterio.open(path, "r+") as src:
        data = src.read(1)
        data[10:40, 300:340] = -1.0  # nodata (the raster's nodata value) at the right border
        data[150:160, 120:135] = -1.0
        src.write(data, 1)
    return path


def test_bundled_bin_model_matches_its_raster(ctx_with_holes, tmp_path, monkeypatch):
    out = tmp_path / "evc.tif"
    predict_spectra(PredictRequest(input=ctx_with_holes, output=out, model="evc-bins20", **CPU))
    pixel_inspector.clear_cache()
    from marsspec.core.spectral import window

    calls = []
    real = window.raster_stats
    monkeypatch.setattr(window, "raster_stats", lambda *a, **k: calls.append(a) or real(*a, **k))
    holes = [(41, 320), (9, 335), (149, 127), (160, 119), (155, 136)]  # beside the nodata
    pixels = _pixels((300, 340), 20, seed=16, extra=holes)
    assert _assert_matches(out, ctx_with_holes, pixels, **CPU) == 20
    assert len(calls) == 1  # full-image statistics once per file version, then cached
    result = pixel_inspector.inspect_pixel(ctx_with_holes, 150, 170, **CPU)
    assert len(result.patches) == 4 and result.size == 256 and result.stride == 128
    assert result.seconds < 6.0  # a click once the image statistics are known (~0.4 s idle)


def test_window_request_of_a_predict_request(ctx_with_holes, tmp_path):
    """The raster's own request, taken over unchanged: global normalisation (values in I/F
    through Table A1) and a stride factor of 4."""
    request = PredictRequest(
        input=ctx_with_holes,
        output=tmp_path / "if.tif",
        model="evc-bins20",
        normalisation="global",
        stride_factor=4,
        **CPU,
    )
    predict_spectra(request)
    with rasterio.open(request.output) as src:
        written = src.read()
    for row, col in [(0, 0), (123, 201), (299, 339)]:
        got = predict_pixel(WindowRequest.of(request), row, col)
        assert got.units == "I/F" and got.stride == 64
        np.testing.assert_allclose(got.values, written[:, row, col], rtol=0, atol=TOLERANCE)
    inspection = pixel_inspector.inspect_pixel(
        ctx_with_holes, 123, 201, request=WindowRequest.of(request)
    )
    band = inspection.bands[0]
    assert band.units == "I/F" and band.centres.min() > -1 and band.centres.max() < 1
    assert band.value == pytest.approx(float((band.probabilities * band.centres).sum()), abs=1e-4)


def test_above_4_megapixels_uses_the_full_image_statistics(tmp_path):
    ctx = ctx_raster(tmp_path / "big.tif", size=(2000, 2100))  # 4.2 MP
    with rasterio.open(ctx, "r+") as src:  # a bright corner shifts full and sampled stats apart
        data = src.read(1)
        data[:300, :400] += 0.05
        src.write(data, 1)
    out = tmp_path / "big_evc.tif"
    # stride factor 1: 72 patches instead of 240 (blending is checked above); what matters
    # here are the statistics: a decimated read's (the old inspector's above 4 MP) miss the
    # raster's values by 3e-4 to 8e-4
    big = {"stride_factor": 1, **CPU}
    predict_spectra(PredictRequest(input=ctx, output=out, model="evc-bins20", **big))
    assert _assert_matches(out, ctx, _pixels((2000, 2100), 10, seed=4), **big) == 10


def _dem_bin_model(folder: Path) -> Path:
    """A seeded random bin model reading CTX + DEM (like gui_fixtures.tiny_bin_model; the
    trained DEM model of test_spectral_dem is a regression model, and training one costs
    half a minute that this test of the inference path does not need)."""
    import torch
    from safetensors.torch import save_file

    from marsspec.core.models.spectral_net import build_spectral_net

    torch.manual_seed(3)
    kwargs = {"in_channels": 2, "n_bands": 3, "n_bins": 8, "decoder_channels": [32, 16, 8, 8, 8]}
    network = build_spectral_net(**kwargs)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "test-dem-bins8.safetensors"
    save_file(
        {k: v.detach().half().contiguous() for k, v in network.state_dict().items()}, str(weights)
    )
    entry = {
        "id": "test-dem-bins8",
        "title": "Test bin model with a DEM channel (random weights)",
        "task": "spectra-bins",
        "product": "evc",
        "architecture": "smp-spectral",
        "architecture_kwargs": kwargs,
        "in_channels": 2,
        "out_channels": 24,
        "patch_size": 64,
        "bands": BANDS,
        "bins": {"count": 8, "range": 6.0, "spacing": "uniform"},
        "normalisation": {"mode": "image", "clip_percent": 0.5},
        "weights": weights.name,
        "sha256": sha256_file(weights),
        "simulated": True,
    }
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "models": [entry]}), encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def dem_scene(tmp_path_factory) -> Path:
    from marsspec.core.simulator import SceneConfig, simulate_scene

    out = tmp_path_factory.mktemp("dem_scene") / "s"
    simulate_scene(SceneConfig(seed=5, size=160, site="gale", products=("ctx", "dem")), out)
    return out


def test_dem_model_matches_its_raster_and_provenance_names_the_inputs(
    dem_scene, tmp_path, monkeypatch
):
    import marsspec.core.tiling.engine as tiling  # the jobs reach it through tiling.rescale

    manifest = _dem_bin_model(tmp_path / "model")
    ctx, dem, out = dem_scene / "ctx.tif", dem_scene / "dem.tif", tmp_path / "evc.tif"
    runs = []
    real_run = tiling.run_tiled

    def spy(*args, **kwargs):
        result = real_run(*args, **kwargs)
        runs.append((args, result))
        return result

    monkeypatch.setattr(tiling, "run_tiled", spy)
    request = PredictRequest(
        input=ctx, output=out, model="test-dem-bins8", manifest=manifest, dem=dem, **CPU
    )
    predict_spectra(request)
    ((args, tiled),) = runs
    assert Path(args[0]).suffix == ".vrt"  # the engine read the stack...
    with rasterio.open(out) as src:
        tags = src.tags()
    # ...and named the user's files: written once, by the engine, not patched afterwards
    assert tags["MARSSPEC_INPUT"].startswith("ctx.tif ")
    assert tags["MARSSPEC_INPUT_2"].startswith("dem.tif ")
    assert tags["MARSSPEC_INPUT"] == tiled.tags["MARSSPEC_INPUT"]
    assert tags["MARSSPEC_INPUT_2"] == tiled.tags["MARSSPEC_INPUT_2"]
    assert not [(k, v) for k, v in tags.items() if ".vrt" in v]
    for spec in args[2]:
        assert not [key for key in spec.tags if re.fullmatch(r"MARSSPEC_INPUT(_\d+)?", key)]

    parameters = {"model_id": "test-dem-bins8", "manifest_path": manifest, "dem": dem, **CPU}
    with pytest.raises(InputError, match="give the DEM"):
        pixel_inspector.inspect_pixel(ctx, 5, 5, model_id="test-dem-bins8", manifest_path=manifest)
    assert _assert_matches(out, ctx, _pixels((160, 160), 20, seed=7), **parameters) >= 15
    # the DEM counts: with another DEM (this one upside down) the values differ
    flipped = tmp_path / "flipped.tif"
    with rasterio.open(dem) as src, rasterio.open(flipped, "w", **src.profile) as dst:
        dst.write(src.read()[:, ::-1])
    other = pixel_inspector.inspect_pixel(ctx, 80, 80, **{**parameters, "dem": flipped})
    with rasterio.open(out) as src:
        written = src.read()[:, 80, 80]
    assert np.abs(np.array([b.value for b in other.bands]) - written).max() > TOLERANCE
