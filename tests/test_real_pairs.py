"""Issue 22: the whole real path, from real products, through the CLI.

Real CRISM MTRDR TAN browse products (../shared/data/crism_mtrdr_browse_nili; real corrected
I/F, byte-scaled, DN 255 outside the footprint) become pairs in the training layout: R770 as
the single input band (ctx.tif), R1330 and R2529 as the target (crism_target.tif). A model
is trained a few steps with ``target_wavelengths_nm: [1330, 2529]`` (`marsspec train`),
exported to a temporary user models folder (`MARSSPEC_MODELS_DIR`; the bundled models/
untouched), predicts (`marsspec predict --model`) and is scored on a held-out product
(`marsspec eval spectra --data`) next to the linear baseline. `make eval-real` does the same
for longer on whole products; its numbers are in docs/benchmarks.md.
"""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest
import rasterio

from marsspec.cli.main import main
from marsspec.core.io.describe import describe_raster
from marsspec.core.models.manifest import MANIFEST_PATH
from marsspec.training.evaluation.real import DATA_DIR, make_real_pair, tan_products, write_config

pytestmark = pytest.mark.skipif(
    not DATA_DIR.is_dir(), reason=f"real CRISM browse products not found in {DATA_DIR}"
)

TRAIN = ("frt00005acd", "frt000064d9")
TEST = "frt00008fc1"
CROP = 160
MODEL = "real-tan-test"


def _centre(product, size=CROP):
    with rasterio.open(product) as src:
        return (src.height // 2 - size // 2, src.width // 2 - size // 2, size, size)


def _keys(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_real_pair_has_the_training_layout(tmp_path):
    product = tan_products()[TEST]
    scene = make_real_pair(product, tmp_path / TEST)
    with rasterio.open(product) as src:
        outside = src.read(1) == 255
    with rasterio.open(scene / "ctx.tif") as ctx, rasterio.open(scene / "crism_target.tif") as t:
        assert ctx.count == 1 and t.count == 2
        assert t.descriptions == ("R1330", "R2529")
        assert [t.tags(b)["WAVELENGTH_NM"] for b in (1, 2)] == ["1330", "2529"]
        assert (ctx.width, ctx.height) == (t.width, t.height) and ctx.crs == t.crs
        values = t.read(masked=True)
        x = ctx.read(1, masked=True)
    assert np.array_equal(np.ma.getmaskarray(x), outside)  # nodata 255 -> the footprint
    assert 0.05 < float(values.mean()) < 0.6 and 0.05 < float(x.mean()) < 0.6  # I/F, not DN


def test_real_pairs_train_export_predict_and_score(tmp_path, monkeypatch, capsys):
    products = tan_products()
    for obs in TRAIN:
        make_real_pair(products[obs], tmp_path / "train" / obs, window=_centre(products[obs]))
    make_real_pair(products[TEST], tmp_path / "test" / TEST, window=_centre(products[TEST]))
    config = write_config(
        tmp_path / "real.yaml",
        scenes=str(tmp_path / "train" / "*"),
        out_dir=tmp_path / "run",
        model_id=MODEL,
        max_steps=2,
        patch_size=64,
        batch_size=2,
        warmup_steps=1,
        val_every=2,
    )
    models = tmp_path / "models"
    monkeypatch.setenv("MARSSPEC_MODELS_DIR", str(models))
    bundled = _digest(MANIFEST_PATH)

    assert main(["train", "--config", str(config)]) == 0
    assert (tmp_path / "run" / "best.pt").is_file()  # no validation scenes: the last one
    assert main(["export", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--real"]) == 0
    assert (models / f"{MODEL}.safetensors").is_file() and (models / "manifest.json").is_file()
    assert _digest(MANIFEST_PATH) == bundled  # the bundled models are never written

    out = tmp_path / "pred.tif"
    ctx = tmp_path / "test" / TEST / "ctx.tif"
    assert main(["predict", str(ctx), str(out), "--model", MODEL, "--device", "cpu"]) == 0
    with rasterio.open(out) as src:
        assert src.count == 2
        prediction = src.read(masked=True)
    assert np.isfinite(prediction.compressed()).all() and prediction.count() > 0
    assert [b.wavelength_nm for b in describe_raster(out).bands] == [1330.0, 2529.0]
    capsys.readouterr()

    table = tmp_path / "metrics.csv"
    data, train = str(tmp_path / "test"), str(tmp_path / "train")
    argv = ["eval", "spectra", "--data", data, "--model", MODEL, "--baseline-from", train]
    assert main([*argv, "--device", "cpu", "--csv", str(table)]) == 0
    keys = _keys(capsys.readouterr().out)
    assert keys["images"] == "1" and keys["bands_nm"] == "1330,2529"
    assert keys["baseline_fit_on"] == "baseline_from"
    baseline_pcc = keys["pooled_baseline_pcc"]
    assert keys["target_units_from"] in ("prediction", "model_target_stats", "per_image_fit")
    for key in ("pooled_pcc", "pooled_baseline_pcc", "pooled_rmse", "pooled_cosine"):
        assert np.isfinite(float(keys[key])), key
    assert float(keys["pooled_baseline_pcc"]) > 0.5  # R770 predicts R1330/R2529 linearly well
    assert f"{TEST}_2529_rmse" in keys and keys["model_beats_baseline_pooled_pcc"] in ("yes", "no")
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["image"], r["method"]) for r in rows} == {
        (TEST, "model"),
        (TEST, "baseline"),
        ("pooled", "model"),
        ("pooled", "baseline"),
    }
    assert len(rows) == 8

    # without --baseline-from the baseline is fitted on the scenes the export recorded
    assert main(["eval", "spectra", "--data", data, "--model", MODEL, "--device", "cpu"]) == 0
    keys = _keys(capsys.readouterr().out)
    assert keys["baseline_fit_on"] == "model_training_scenes"
    assert keys["pooled_baseline_pcc"] == baseline_pcc  # the same training scenes as above


def test_eval_spectra_data_needs_a_model_and_scene_folders(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["eval", "spectra", "--data", str(tmp_path / "empty")]) == 1
    assert "--model" in capsys.readouterr().err
    argv = ["eval", "spectra", "--data", str(tmp_path / "empty"), "--model", "fc-regression"]
    assert main([*argv, "--baseline-from", str(tmp_path / "empty")]) == 1
    assert "ctx.tif" in capsys.readouterr().err


def test_target_units_from_model_stats_or_each_image():
    from marsspec.training.evaluation.own_pairs import parse_target_stats, to_target_units

    assert parse_target_stats([[0.2, 0.01], [0.3, 0.02]], 2) == [(0.2, 0.01), (0.3, 0.02)]
    assert parse_target_stats({"mean": [0.2], "std": [0.01]}, 1) == [(0.2, 0.01)]
    assert parse_target_stats([{"mean": 0.2, "std": 0.01}], 1) == [(0.2, 0.01)]
    assert parse_target_stats([[0.2, 0.01]], 2) is None and parse_target_stats(None, 1) is None
    rng = np.random.default_rng(0)
    truth = 0.2 + 0.01 * rng.standard_normal((1, 40, 40))
    valid = np.ones((40, 40), bool)
    z = (truth - truth.mean()) / truth.std()
    out, how = to_target_units(z, truth, valid, None, 0.0, zscore=True)
    assert how == "per_image_fit" and np.allclose(out, truth, atol=1e-9)
    out, how = to_target_units(z, truth, valid, [(1.0, 2.0)], 0.0, zscore=True)
    assert how == "model_target_stats" and np.allclose(out, 1.0 + 2.0 * z)
    assert to_target_units(truth, truth, valid, None, 0.0, zscore=False)[1] == "prediction"
