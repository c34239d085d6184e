"""Spectral prediction end to end with the bundled weights: CLI, qgis_process, bad inputs,
provenance. A small simulated scene is the input; its noise-free CRISM target is the truth."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from marsspec.cli.main import main as cli_main
from marsspec.core.errors import InputError, MarsspecError, ModelIntegrityError
from marsspec.core.metrics.spectral import pcc
from marsspec.core.models.manifest import load_manifest
from marsspec.core.spectral import PredictRequest, predict_spectra
from tests import qgis_process_runner
from tests.conftest import write_mars_raster

BUNDLED = ("evc-regression", "fc-regression", "evc-bins20")


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    from marsspec.core.simulator import SceneConfig, simulate_scene

    out = tmp_path_factory.mktemp("scene")
    simulate_scene(SceneConfig(seed=9100, size=256, site="gale", products=("ctx", "crism")), out)
    return out


def _truth_pcc(pred_path: Path, scene: Path, bands=(1, 2, 3)) -> list[float]:
    with rasterio.open(pred_path) as src:
        pred = src.read()
    with rasterio.open(scene / "crism_target.tif") as src:
        truth = src.read(list(bands), masked=True)
    valid = ~np.ma.getmaskarray(truth).any(axis=0)
    return [pcc(pred[b][valid], truth.data[b][valid]) for b in range(3)]


def test_bundled_weights_verify_and_load():
    manifest = load_manifest()
    for model_id in BUNDLED:
        entry = manifest.get(model_id)
        assert entry.simulated and "SIMULATED" in entry.training_data
        assert entry.weights_path.stat().st_size < 12_000_000  # fp16, small zip
        assert entry.verify() == entry.weights_path
        assert (entry.models_dir / entry.card).is_file()
        assert entry.metrics.get("scenes", 0) >= 1
    net = manifest.get("evc-bins20").build()
    assert next(net.parameters()).dtype.is_floating_point


def test_cli_predict_with_browse_and_confidence(scene, tmp_path, capsys):
    out, browse, conf = tmp_path / "evc.tif", tmp_path / "browse.tif", tmp_path / "conf.tif"
    code = cli_main(
        [
            "predict",
            str(scene / "ctx.tif"),
            str(out),
            "--model",
            "evc-bins20",
            "--browse",
            str(browse),
            "--confidence",
            str(conf),
            "--measure",
            "entropy",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert min(_truth_pcc(out, scene)) > 0.85
    with rasterio.open(out) as src:
        assert src.count == 3 and src.dtypes[0] == "float32"
        assert src.crs is not None
        assert "592 nm" in src.descriptions[0] and "normalised" in src.descriptions[0]
        assert src.tags(1)["WAVELENGTH_NM"] == "592"
        tags = src.tags()
        entry = load_manifest().get("evc-bins20")
        assert tags["MARSSPEC_MODEL_ID"] == "evc-bins20"
        assert tags["MARSSPEC_WEIGHTS_SHA256"] == entry.sha256
        assert tags["MARSSPEC_S"] == "2" and tags["MARSSPEC_BLENDING"] == "gaussian"
        assert tags["MARSSPEC_TRAINED_ON"] == "SIMULATED scenes"
        assert "not I/F" in tags["MARSSPEC_UNITS"]
        assert "MARSSPEC_VERSION" in tags and "MARSSPEC_INPUT" in tags
    with rasterio.open(browse) as src:
        rgb = src.read()
        assert src.dtypes[0] == "uint8" and src.count == 3
        assert rgb.min() >= 1 and rgb.max() == 255 and rgb.std() > 10  # 0 only for nodata
    with rasterio.open(conf) as src:
        c = src.read()
        assert src.count == 4 and "overall" in src.descriptions[3]
        finite = c[np.isfinite(c)]
        assert finite.min() >= 0 and finite.max() <= 1  # normalised entropy


def test_global_normalisation_gives_if_units(scene, tmp_path):
    out = tmp_path / "fc.tif"
    result = predict_spectra(
        PredictRequest(
            input=scene / "ctx.tif",
            output=out,
            model="fc-regression",
            normalisation="global",
            stride_factor=1,
        )
    )
    assert result.units == "I/F"
    with rasterio.open(out) as src:
        assert "I/F" in src.descriptions[0] and src.tags(1)["WAVELENGTH_NM"] == "2503"
        data = src.read()
    assert 0.0 < np.nanmedian(data) < 1.0  # a reflectance, not a z-score


def test_bad_inputs_leave_nothing(scene, tmp_path):
    two = np.stack([np.ones((64, 64)), np.ones((64, 64))]).astype("float32")
    multi = write_mars_raster(tmp_path / "two.tif", two, nodata=-1.0)
    empty = write_mars_raster(
        tmp_path / "empty.tif", np.full((1, 64, 64), -1.0, "float32"), nodata=-1.0
    )
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "o.tif"
    cases = [
        (dict(input=multi), "BAND"),
        (dict(input=multi, band=3), "does not exist"),
        (dict(input=empty), "no valid pixel"),
        (dict(input=scene / "ctx.tif", confidence=out_dir / "c.tif"), "regression model"),
        (dict(input=scene / "ctx.tif", model="nope"), "available"),
    ]
    for kwargs, message in cases:
        with pytest.raises(MarsspecError, match=message):
            predict_spectra(PredictRequest(output=out, **kwargs))
        assert list(out_dir.iterdir()) == []


def test_sha256_mismatch_is_refused(scene, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    manifest = json.loads(load_manifest().path.read_text())
    entry = next(m for m in manifest["models"] if m["id"] == "evc-regression")
    manifest["models"] = [entry]
    (models / "manifest.json").write_text(json.dumps(manifest))
    data = bytearray(load_manifest().get("evc-regression").weights_path.read_bytes())
    data[-1] ^= 0xFF
    (models / entry["weights"]).write_bytes(bytes(data))
    out = tmp_path / "o.tif"
    with pytest.raises(ModelIntegrityError, match="sha256"):
        predict_spectra(
            PredictRequest(input=scene / "ctx.tif", output=out, manifest=models / "manifest.json")
        )
    assert not out.exists()


def test_non_georeferenced_input_refused_unless_a_crs_is_assumed(scene, tmp_path):
    plain = tmp_path / "plain.tif"
    with rasterio.open(scene / "ctx.tif") as src:
        data, nodata = src.read(1)[:128, :128], src.nodata
    with rasterio.open(
        plain, "w", driver="GTiff", width=128, height=128, count=1, dtype="float32", nodata=nodata
    ) as dst:
        dst.write(data, 1)
    out = tmp_path / "o.tif"
    with pytest.raises(InputError, match="--assume-crs mars --pixel-size"):
        predict_spectra(PredictRequest(input=plain, output=out, stride_factor=1))
    assert not out.exists()
    warnings: list[str] = []
    request = PredictRequest(
        input=plain, output=out, stride_factor=1, assume_crs="mars", pixel_size=6.0
    )
    predict_spectra(request, log=warnings.append)
    assert any("assumed Mars equirectangular" in w for w in warnings)
    with rasterio.open(out) as src:
        assert src.count == 3 and np.isfinite(src.read()).mean() > 0.9
        assert src.crs is not None and src.transform.a == 6.0
        assert src.tags()["MARSSPEC_ASSUMED_PIXEL_SIZE_M"] == "6"


@pytest.mark.qgis_process
def test_qgis_process_predict_and_confidence(qgis_process_env, scene, tmp_path):
    out, conf = tmp_path / "evc.tif", tmp_path / "conf.tif"
    doc = qgis_process_runner.run_json(
        [
            "run",
            "marsspec:predictspectra",
            "--",
            f"INPUT={scene / 'ctx.tif'}",
            "MODEL=evc-regression",
            f"OUTPUT={out}",
        ],
        qgis_process_env,
    )
    assert Path(doc["results"]["OUTPUT"]) == out
    assert min(_truth_pcc(out, scene)) > 0.85
    with rasterio.open(out) as src:
        assert src.tags()["MARSSPEC_MODEL_ID"] == "evc-regression"
        # STRIDE_FACTOR left out: the model's manifest default applies
        default = load_manifest().get("evc-regression").default_stride_factor
        assert src.tags()["MARSSPEC_S"] == str(default)
    doc = qgis_process_runner.run_json(
        [
            "run",
            "marsspec:binconfidence",
            "--",
            f"INPUT={scene / 'ctx.tif'}",
            "MODEL=evc-bins20",
            "MEASURE=multimodal",
            f"CONFIDENCE={conf}",
        ],
        qgis_process_env,
    )
    with rasterio.open(conf) as src:
        c = src.read()
        assert src.count == 4 and src.tags()["MARSSPEC_CONFIDENCE_MEASURE"] == "multimodal"
    assert set(np.unique(c[np.isfinite(c)])) <= {0.0, 1.0}
    bad = qgis_process_runner.run(
        [
            "run",
            "marsspec:predictspectra",
            "--",
            f"INPUT={scene / 'ctx.tif'}",
            "MODEL=evc-regression",
            f"OUTPUT={tmp_path / 'x.tif'}",
            f"CONFIDENCE={tmp_path / 'y.tif'}",
        ],
        qgis_process_env,
    )
    assert bad.returncode != 0 and "regression model" in bad.stdout + bad.stderr
    assert not (tmp_path / "x.tif").exists() and not (tmp_path / "y.tif").exists()
    # the DEM parameter reaches the core: a CTX-only model refuses it by name
    bad = qgis_process_runner.run(
        [
            "run",
            "marsspec:predictspectra",
            "--",
            f"INPUT={scene / 'ctx.tif'}",
            f"DEM={scene / 'ctx.tif'}",
            "MODEL=evc-regression",
            f"OUTPUT={tmp_path / 'x.tif'}",
        ],
        qgis_process_env,
    )
    assert bad.returncode != 0 and "reads CTX only" in bad.stdout + bad.stderr
    assert not (tmp_path / "x.tif").exists()
    shutil.rmtree(tmp_path, ignore_errors=True)
