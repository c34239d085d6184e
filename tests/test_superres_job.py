"""Super-resolution job (core/superres): scale, HSV colour, tiling, nodata, radiometry, bad input.

Uses tiny generators exported to a temporary manifest (the same export path as the bundled
models), so the tests do not depend on the bundled weights and stay fast.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
import torch

from marsspec.core.errors import InputError, ModelNotFoundError
from marsspec.core.models.marsgan import build_generator
from marsspec.core.superres.colour import rgb_to_hsv, upsample, upsample_hue
from marsspec.core.superres.job import (
    SuperresConfig,
    SuperresRequest,
    normalisers_for,
    superresolve,
)
from marsspec.core.superres.model import load_generator
from marsspec.core.superres.predictor import SuperresPredictor
from marsspec.training.superres.export import export_generator
from tests.conftest import write_mars_raster

TINY = dict(in_channels=1, out_channels=1, nf=8, gc=4, n_blocks=1, recon_features=1)
RF = 24  # LR receptive-field radius of TINY (head 1 + 3 DBs x 5 + AWMSR 4 + tail), rounded up


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    for flavour, seed in (("psnr", 0), ("gan", 1)):
        torch.manual_seed(seed)
        net = build_generator(**TINY, bicubic_skip=True)
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05 * torch.randn_like(p))
        checkpoint = folder / f"{flavour}.pt"
        torch.save(
            {
                "task": "superres",
                "generator": net.state_dict(),
                "generator_kwargs": {**TINY, "bicubic_skip": True},
                "step": 1,
                "elapsed": 1.0,
                "config": {},
            },
            checkpoint,
        )
        export_generator(
            checkpoint,
            f"tiny-{flavour}",
            flavour=flavour,
            pair="tiny",
            models_dir=folder,
            manifest_path=folder / "manifest.json",
        )
    return str(folder / "manifest.json")


def texture(shape, seed=0):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    return (0.15 + 0.5 * gaussian_filter(rng.random(shape), 1.5)).astype("float32")


def cfg(manifest, **kw):
    kw = {"model": "tiny-psnr", "device": "cpu", "precision": "fp32", **kw}
    return SuperresConfig(manifest_path=manifest, **kw)


def test_greyscale_scale_transform_nodata_and_tags(manifest, tmp_path):
    data = texture((40, 52))
    data[5:9, 30:40] = -9999.0
    src = write_mars_raster(
        tmp_path / "in.tif", data, pixel_size=4.5, nodata=-9999.0, wavelengths_nm=[675.0]
    )
    result = superresolve(SuperresRequest(src, tmp_path / "out.tif", cfg(manifest)))
    with rasterio.open(src) as a, rasterio.open(result.output) as b:
        assert (b.width, b.height, b.count) == (4 * a.width, 4 * a.height, 1)
        assert b.transform == a.transform * rasterio.Affine.scale(0.25)
        assert b.crs == a.crs and b.dtypes[0] == "float32"
        out = b.read(1)
        tags = b.tags()
        assert b.tags(1)["WAVELENGTH_NM"] == "675"
    assert np.isnan(out[20:36, 120:160]).all()  # nodata stays nodata (4x4 per LR pixel)
    assert np.isfinite(out[:20]).all()
    assert tags["MARSSPEC_MODEL_ID"] == "tiny-psnr" and tags["MARSSPEC_SCALE"] == "4"
    assert tags["MARSSPEC_ALGORITHM"] == "marsspec:superresolve"
    assert len(tags["MARSSPEC_WEIGHTS_SHA256"]) == 64
    # Float radiometry: values stay in the input's units (no 8-bit step, no re-scaling).
    valid = data[data > -9999]
    assert abs(np.nanmean(out) - valid.mean()) < 0.02
    assert len(np.unique(out[np.isfinite(out)])) > 10_000


def test_hsv_mode_preserves_hue_and_saturation(manifest, tmp_path):
    lum = texture((36, 36), seed=3)
    rgb = np.stack([1.0 * lum, 0.62 * lum, 0.41 * lum])  # one Mars-like colour, varying light
    src = write_mars_raster(tmp_path / "rgb.tif", rgb.astype("float32"), pixel_size=4.5)
    out_hsv = superresolve(
        SuperresRequest(src, tmp_path / "hsv.tif", cfg(manifest, colour_mode="hsv"))
    )
    out_pb = superresolve(
        SuperresRequest(src, tmp_path / "pb.tif", cfg(manifest, colour_mode="per-band"))
    )
    with rasterio.open(out_hsv.output) as a, rasterio.open(out_pb.output) as b:
        hsv, per_band = a.read(), b.read()
    hue_in, sat_in, _ = rgb_to_hsv(torch.from_numpy(rgb[None]))
    hue, sat, value = rgb_to_hsv(torch.from_numpy(hsv[None]))
    assert torch.allclose(hue, hue_in.mean(), atol=1e-5)
    assert torch.allclose(sat, sat_in.mean(), atol=1e-5)
    assert np.allclose(hsv[1] / hsv[0], 0.62, atol=1e-5)  # band ratios preserved
    assert per_band.shape == hsv.shape == (3, 144, 144)
    # Varying colour: H and S of the output are the bicubically upsampled H and S of the input.
    rgb2 = np.stack([lum, 0.5 * texture((36, 36), seed=4), 0.3 * texture((36, 36), seed=5)])
    src2 = write_mars_raster(tmp_path / "rgb2.tif", rgb2.astype("float32"), pixel_size=4.5)
    out2 = superresolve(SuperresRequest(src2, tmp_path / "hsv2.tif", cfg(manifest)))
    with rasterio.open(out2.output) as a:
        hue2, sat2, _ = rgb_to_hsv(torch.from_numpy(a.read()[None]))
    hue_in2, sat_in2, _ = rgb_to_hsv(torch.from_numpy(rgb2[None]))
    inner = (..., slice(8, -8), slice(8, -8))  # the raster border is reflected, not clamped
    assert torch.allclose(hue2[inner], upsample_hue(hue_in2)[inner], atol=1e-4)
    assert torch.allclose(sat2[inner], upsample(sat_in2).clamp(0, 1)[inner], atol=1e-4)
    assert value.std() > 0.01


def test_tiled_equals_whole_image_away_from_nodata(manifest, tmp_path):
    data = texture((90, 110), seed=5)
    data[40:46, 50:58] = np.nan
    src = write_mars_raster(tmp_path / "in.tif", data, pixel_size=4.5, nodata=float("nan"))
    config = cfg(manifest, blending="crop", patch=80, margin=RF)
    result = superresolve(SuperresRequest(src, tmp_path / "tiled.tif", config))
    with rasterio.open(result.output) as out:
        tiled = out.read(1)
    loaded = load_generator("tiny-psnr", manifest_path=manifest)
    predictor = SuperresPredictor(loaded.network, normalisers_for(data[None], "per-band"), "x")
    filled = np.where(np.isfinite(data), data, np.nanmean(data))
    with torch.inference_mode():
        whole = predictor(torch.from_numpy(filled)[None, None])[0, 0].numpy()
    far = np.ones_like(data, dtype=bool)
    far[40 - RF : 46 + RF, 50 - RF : 58 + RF] = False
    far_hr = np.repeat(np.repeat(far, 4, 0), 4, 1)
    assert np.abs(tiled[far_hr] - whole[far_hr]).max() < 1e-4
    assert np.isnan(tiled[160:184, 200:232]).all()


def test_fidelity_ends_through_the_manifest(manifest):
    x = torch.from_numpy(texture((20, 20)))[None, None]
    with torch.inference_mode():
        psnr = load_generator("tiny-psnr", manifest_path=manifest).network(x)
        gan = load_generator("tiny-gan", manifest_path=manifest).network(x)
        one = load_generator("tiny-gan", 1.0, manifest_path=manifest)
        zero = load_generator("tiny-psnr", 0.0, manifest_path=manifest)
        assert torch.equal(one.network(x), psnr) and torch.equal(zero.network(x), gan)
    assert one.model_id == "tiny-psnr+tiny-gan@fidelity=1"


def test_bad_inputs(manifest, tmp_path):
    src = write_mars_raster(tmp_path / "in.tif", texture((30, 30)), pixel_size=4.5)
    with pytest.raises(InputError, match="Band 4 was requested"):
        superresolve(SuperresRequest(src, tmp_path / "o.tif", cfg(manifest, bands=(4,))))
    small = write_mars_raster(tmp_path / "small.tif", texture((6, 40)), pixel_size=4.5)
    with pytest.raises(InputError, match="at least 8x8"):
        superresolve(SuperresRequest(small, tmp_path / "o.tif", cfg(manifest)))
    with pytest.raises(InputError, match="Colour mode"):
        cfg(manifest, colour_mode="rgb")
    with pytest.raises(InputError, match="FIDELITY"):
        cfg(manifest, fidelity=2.0)
    with pytest.raises(ModelNotFoundError, match="available: tiny-gan, tiny-psnr"):
        superresolve(SuperresRequest(src, tmp_path / "o.tif", cfg(manifest, model="missing-model")))
    assert not (tmp_path / "o.tif").exists()


def test_non_georeferenced_input_refused_unless_a_crs_is_assumed(manifest, tmp_path):
    path = tmp_path / "plain.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(
            path, "w", driver="GTiff", width=24, height=20, count=1, dtype="float32"
        ) as dst:
            dst.write(texture((20, 24))[None])
    with pytest.raises(InputError, match="--assume-crs mars --pixel-size"):
        superresolve(SuperresRequest(path, tmp_path / "plain_sr.tif", cfg(manifest)))
    assert not (tmp_path / "plain_sr.tif").exists()
    messages = []
    result = superresolve(
        SuperresRequest(
            path, tmp_path / "plain_sr.tif", cfg(manifest, assume_crs="mars", pixel_size=4.0)
        ),
        log=messages.append,
    )
    assert result.georeferenced
    assert any("assumed Mars equirectangular" in m for m in messages)
    with rasterio.open(result.output) as out:
        assert out.crs is not None and "3396190" in out.crs.to_proj4()
        assert out.transform == rasterio.Affine(1.0, 0, 0, 0, -1.0, 0)
        assert out.tags()["MARSSPEC_SR_GEOREFERENCED"] == "assumed"
        assert out.tags()["MARSSPEC_ASSUMED_PIXEL_SIZE_M"] == "4"


def test_cli_superres(manifest, tmp_path, capsys):
    from marsspec.cli.main import main

    src = write_mars_raster(tmp_path / "in.tif", texture((3, 24, 24)), pixel_size=4.5)
    code = main(
        [
            "superres",
            str(src),
            str(tmp_path / "o.tif"),
            "--bands",
            "3,2,1",
            "--model",
            "tiny-gan",
            "--fidelity",
            "0.3",
            "--manifest",
            manifest,
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    assert "96x96 px" in capsys.readouterr().out
    with rasterio.open(tmp_path / "o.tif") as out:
        assert out.count == 3 and out.tags()["MARSSPEC_SR_FIDELITY"] == "0.3"
    assert (
        main(
            ["superres", str(src), str(tmp_path / "x.tif"), "--bands", "9", "--manifest", manifest]
        )
        == 1
    )
