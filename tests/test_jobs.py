"""The one job contract: frozen requests checked when made, ``jobs.run(request) -> result``
with ``outputs`` and ``events``, the same for every job."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import rasterio

from marsspec.core import jobs
from marsspec.core.coreg import CoregConfig, CoregRequest
from marsspec.core.errors import InputError
from marsspec.core.spectral import PredictRequest
from marsspec.core.superres.job import SuperresConfig, SuperresRequest
from tests.conftest import write_mars_raster


@pytest.fixture()
def ctx(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "ctx.tif"
    write_mars_raster(path, (0.2 + 0.02 * rng.standard_normal((96, 96))).astype("float32"))
    return path


def test_requests_are_frozen(ctx, tmp_path):
    request = PredictRequest(input=ctx, output=tmp_path / "o.tif")
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.stride_factor = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda c, t: PredictRequest(input=c, output=t / "o.tif", stride_factor=0), "Stride"),
        (lambda c, t: PredictRequest(input=c, output=t / "o.tif", batch_size=0), "Batch"),
        (lambda c, t: PredictRequest(input=c, output=t / "o.tif", blending="max"), "Blending"),
        (lambda c, t: PredictRequest(input=c, output=None), "Nothing to write"),
        (lambda c, t: PredictRequest(input=c, output=c), "is the input"),
        (lambda c, t: SuperresRequest(c, c), "is the input"),
        (lambda c, t: SuperresRequest(c, t / "sr.png"), "extension"),
        (lambda c, t: SuperresRequest(c, t / "sr.tif", SuperresConfig(patch=2)), "too small"),
        (lambda c, t: CoregRequest(c, c, t / "a.tif", t / "b.tif"), "same file"),
        (
            lambda c, t: CoregRequest(c, t / "x.tif", t / "a.tif", t / "a.tif"),
            "same file",
        ),
        (
            lambda c, t: CoregRequest(
                c, t / "x", t / "a.tif", t / "b.tif", None, CoregConfig(cpus=0)
            ),
            "CPUs",
        ),
    ],
)
def test_a_bad_request_fails_when_made_and_touches_nothing(ctx, tmp_path, make, match):
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputError, match=match):
        make(ctx, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_run_dispatches_every_request_and_reports_outputs_and_events(ctx, tmp_path):
    heard: list[str] = []
    fractions: list[float] = []
    result = jobs.run(
        PredictRequest(input=ctx, output=tmp_path / "evc.tif", device="cpu", precision="fp32"),
        progress=fractions.append,
        log=heard.append,
    )
    assert result.outputs == {"OUTPUT": tmp_path / "evc.tif"}
    assert isinstance(result.events, list) and fractions[-1] == 1.0
    with rasterio.open(tmp_path / "evc.tif") as out:
        assert out.count == 3

    result = jobs.run(
        SuperresRequest(ctx, tmp_path / "sr.tif", SuperresConfig(device="cpu", precision="fp32")),
        log=heard.append,
    )
    assert result.outputs == {"OUTPUT": tmp_path / "sr.tif"}
    assert isinstance(result.events, tuple)
    assert any(line.startswith("tiling ctx.tif") for line in heard)  # the engine's plan line
    with rasterio.open(tmp_path / "sr.tif") as out:
        assert (out.width, out.height) == (384, 384)


def test_run_refuses_what_is_not_a_request():
    with pytest.raises(TypeError, match="not a job request"):
        jobs.run(object())


def test_jobs_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = (
        "import sys, marsspec.core.jobs; print([m for m in ('torch', 'numpy') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
