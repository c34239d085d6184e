"""The Processing parameter "Dask scheduler (optional)" through qgis_process.bin: a local
cluster of 2 worker processes, started from inside QGIS (whose sys.executable is QGIS, not
Python), predicts a small raster in blocks; the result matches the single-process engine."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from marsspec.core import jobs
from marsspec.core.spectral import PredictRequest
from tests import qgis_process_runner
from tests.test_dask_scaleout import _scene

pytest.importorskip("distributed")
pytestmark = [pytest.mark.slow, pytest.mark.qgis_process]


def test_predictspectra_on_a_local_dask_cluster_from_qgis_process(qgis_process_env, tmp_path):
    source = _scene(tmp_path / "ctx.tif", 420, 460, seed=7)
    out = tmp_path / "evc.tif"
    document = qgis_process_runner.run_json(
        [
            "run",
            "marsspec:predictspectra",
            "--",
            f"INPUT={source}",
            "DEVICE=cpu",
            "PRECISION=fp32",
            "DASK=local:2",
            "DASK_BLOCK=256",
            f"OUTPUT={out}",
        ],
        qgis_process_env,
    )
    assert document["results"]["OUTPUT"] == str(out)
    log = json.dumps(document)
    assert "4 block(s) (2x2) of 256 px" in log and "local cluster, 2 worker(s)" in log
    assert sorted(p.name for p in (tmp_path / "evc.blocks").glob("r*.tif")) == [
        "r0000_c0000.tif",
        "r0000_c0001.tif",
        "r0001_c0000.tif",
        "r0001_c0001.tif",
    ]
    jobs.run(PredictRequest(input=source, output=tmp_path / "single.tif", device="cpu"))
    with rasterio.open(out) as blocked, rasterio.open(tmp_path / "single.tif") as single:
        a, b = blocked.read(), single.read()
        assert blocked.tags()["MARSSPEC_SCALEOUT_SCHEDULER"].startswith("tcp://127.0.0.1:")
        assert blocked.tags()["MARSSPEC_INPUT"] == single.tags()["MARSSPEC_INPUT"]
    assert np.array_equal(np.isnan(a), np.isnan(b))
    # batch 8 and 2 vs 1 torch threads: the engine's own float noise (tests/test_dask_scaleout)
    assert float(np.nanmax(np.abs(a - b))) < 2e-5


def test_binconfidence_on_a_local_dask_cluster_from_qgis_process(qgis_process_env, tmp_path):
    """The same parameter on the bin-confidence algorithm: only the confidence raster, in
    blocks, equal to the single-process one."""
    source = _scene(tmp_path / "ctx.tif", 300, 420, seed=8)
    out = tmp_path / "conf.tif"
    document = qgis_process_runner.run_json(
        [
            "run",
            "marsspec:binconfidence",
            "--",
            f"INPUT={source}",
            "MODEL=evc-bins20",
            "MEASURE=entropy",
            "DEVICE=cpu",
            "PRECISION=fp32",
            "DASK=local:2",
            "DASK_BLOCK=256",
            f"CONFIDENCE={out}",
        ],
        qgis_process_env,
    )
    assert document["results"]["CONFIDENCE"] == str(out)
    assert "4 block(s) (2x2) of 256 px" in json.dumps(document)
    single = tmp_path / "single.tif"
    jobs.run(
        PredictRequest(
            input=source,
            output=None,
            confidence=single,
            confidence_measure="entropy",
            model="evc-bins20",
            device="cpu",
        )
    )
    with rasterio.open(out) as blocked, rasterio.open(single) as one:
        a, b = blocked.read(), one.read()
        assert blocked.count == 4 and blocked.descriptions == one.descriptions
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert float(np.nanmax(np.abs(a - b))) < 2e-5
