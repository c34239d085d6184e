"""Issue 22: `--precision auto` decides from the device and the model alone (identical calls,
identical tags and pixels); `describe` reads a prediction's wavelengths in nm and names the
Mars projection marsspec writes."""

from __future__ import annotations

import numpy as np
import rasterio
import torch

from marsspec.cli.main import main
from marsspec.core.devices import auto_precision
from marsspec.core.io.describe import MARSSPEC_EQC_NAME, describe_raster
from marsspec.core.io.mars_crs import MARS_EQC_PROJ
from tests.conftest import write_mars_raster

VOLATILE = ("MARSSPEC_TIME", "MARSSPEC_DATE", "MARSSPEC_DURATION", "MARSSPEC_CREATED")


def _ctx(tmp_path):
    rng = np.random.default_rng(0)
    data = (0.1 + 0.3 * rng.random((160, 160))).astype("f4")
    return write_mars_raster(tmp_path / "ctx.tif", data)


def _stable(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if not any(k.startswith(p) for p in VOLATILE)}


def test_auto_precision_is_a_fixed_rule_on_the_cpu():
    model = torch.nn.Conv2d(1, 1, 3)
    choices = {auto_precision(torch.device("cpu"), model) for _ in range(5)}
    assert len(choices) == 1 and choices.pop().precision == "fp32"


def test_identical_auto_calls_give_identical_tags_and_pixels(tmp_path, capsys):
    ctx = _ctx(tmp_path)
    tags, pixels = [], []
    for k in range(3):
        out = tmp_path / f"p{k}.tif"
        assert main(["predict", str(ctx), str(out), "--precision", "auto", "--quiet"]) == 0
        with rasterio.open(out) as ds:
            tags.append(_stable(ds.tags()))
            pixels.append(ds.read())
    capsys.readouterr()
    assert "MARSSPEC_PRECISION" in tags[0]
    assert tags[0] == tags[1] == tags[2]
    assert np.array_equal(pixels[0], pixels[1], equal_nan=True)
    assert np.array_equal(pixels[0], pixels[2], equal_nan=True)


def test_describe_reads_prediction_wavelengths_in_nm_and_names_the_crs(tmp_path, capsys):
    ctx = _ctx(tmp_path)
    out = tmp_path / "fc.tif"
    assert main(["predict", str(ctx), str(out), "--model", "fc-regression", "--quiet"]) == 0
    capsys.readouterr()
    description = describe_raster(out)
    wavelengths = [b.wavelength_nm for b in description.bands]
    assert all(w is not None and 300 < w < 5000 for w in wavelengths), wavelengths
    text = description.format_text()
    assert "e+06 nm" not in text and "CRS: unknown" not in text
    assert description.crs_body == "Mars"
    assert description.crs_name == MARSSPEC_EQC_NAME  # what write_mars_raster and we write


def test_describe_names_marsspec_own_projection(tmp_path):
    path = tmp_path / "eqc.tif"
    profile = dict(driver="GTiff", width=8, height=8, count=1, dtype="float32")
    transform = rasterio.transform.from_origin(1000.0, 2000.0, 6.0, 6.0)
    with rasterio.open(path, "w", crs=MARS_EQC_PROJ, transform=transform, **profile) as ds:
        ds.write(np.ones((1, 8, 8), "f4"))
    description = describe_raster(path)
    assert description.crs_name == MARSSPEC_EQC_NAME
    assert f"CRS: {MARSSPEC_EQC_NAME} [body: Mars]" in description.format_text()
