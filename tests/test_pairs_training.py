"""Bring your own pairs: `marsspec pairs` on real CRISM products writes a training scene in the
documented layout; a config naming its target bands (target_wavelengths_nm, with a tolerance)
trains on real-derived pairs; best.pt exists without validation; the checkpoint carries the
training set's target statistics, units and band names, and prediction uses them."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pytest
import rasterio
import torch
import yaml

from marsspec.cli.main import main as cli_main
from marsspec.core import jobs
from marsspec.core.coreg import CoregConfig
from marsspec.core.coreg.pairs import PairsRequest
from marsspec.core.errors import InputError
from marsspec.training.spectra.config import load_config
from tests.conftest import SHARED_DATA

NILI = SHARED_DATA / "crism_mtrdr_browse_nili"
CTX = NILI / "frt00008fc1_07_brtanj_mtr3.img"  # its R770 band stands in for CTX
CRISM = NILI / "frt0000a4b5_07_brtanj_mtr3.img"  # R2529, R1330, R770; a later date
ELSEWHERE = NILI / "frt00005acd_07_brtanj_mtr3.img"  # 10 N 24 E: no common ground
# R770 matched against R770; tie points every 64 px (an 800 px browse product)
MATCH = ["--ctx-band", "3", "--crism-band", "3", "--grid-spacing", "64"]

pytestmark = pytest.mark.skipif(not NILI.is_dir(), reason="needs ../shared/data")


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    """One real pair made through the command line, once for the module."""
    out = tmp_path_factory.mktemp("pairs") / "data"
    argv = ["pairs", "--ctx", str(CTX), "--crism", str(CRISM), "--out", str(out)]
    assert cli_main([*argv, "--name", "nili", "--bands", "2529,1330", *MATCH, "--quiet"]) == 0
    return out


def test_pairs_writes_the_training_layout(pairs_dir):
    scene = pairs_dir / "nili"
    assert sorted(p.name for p in scene.iterdir()) == ["crism_target.tif", "ctx.tif", "pair.json"]
    with rasterio.open(scene / "ctx.tif") as ctx, rasterio.open(scene / "crism_target.tif") as y:
        assert ctx.count == 1 and ctx.descriptions == ("R770",)
        assert (ctx.width, ctx.height, ctx.transform) == (y.width, y.height, y.transform)
        assert y.count == 2 and y.descriptions == ("R2529", "R1330")
        assert [y.tags(b)["WAVELENGTH_NM"] for b in (1, 2)] == ["2529", "1330"]
        assert y.tags(1)["units"] == "I/F" and y.nodata == 65535
        target = y.read(masked=True)
        outside = target.mask[0]
        assert 0.5 < (~outside).mean() < 0.95  # the footprint's outside is nodata
        assert 0.05 < float(target[0].mean()) < 0.6  # physical I/F, not DNs
        assert y.tags()["MARSSPEC_ALGORITHM"] == "marsspec:pairs"
    facts = json.loads((scene / "pair.json").read_text())
    assert facts["crism"]["band_names"] == ["R2529", "R1330"]
    assert facts["crism"]["wavelengths_nm"] == [2529.0, 1330.0]
    assert facts["ctx"]["band"] == 3 and facts["files"]["target"] == "crism_target.tif"
    assert facts["coregistration"]["method"] == "local"
    assert facts["coregistration"]["ssim_after"] > facts["coregistration"]["ssim_before"]


def _refused(capsys, argv: list[str], *words: str) -> str:
    assert cli_main(argv) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_pairs_refuses_bad_input_in_one_line(tmp_path, pairs_dir, capsys):
    out = tmp_path / "data"
    base = ["pairs", "--ctx", str(CTX), "--out", str(out), *MATCH, "--quiet"]
    _refused(capsys, [*base, "--crism", str(CTX)], "same file")
    _refused(capsys, [*base, "--crism", str(CRISM), "--name", "../up"], "--name")
    _refused(capsys, [*base, "--crism", str(CRISM), "--bands", "600"], "within 15 nm", "600")
    _refused(capsys, [*base, "--crism", str(CRISM), "--bands", "b7"], "3 bands")
    _refused(capsys, [*base, "--crism", str(ELSEWHERE)], "overlap")
    assert not out.exists()  # nothing left behind, not even the folder
    # an existing scene is kept unless --replace
    again = ["pairs", "--ctx", str(CTX), "--crism", str(CRISM), "--out", str(pairs_dir)]
    before = (pairs_dir / "nili" / "pair.json").read_text()
    _refused(capsys, [*again, "--name", "nili", *MATCH], "--replace")
    assert (pairs_dir / "nili" / "pair.json").read_text() == before


def test_pairs_request_checks_itself(tmp_path):
    with pytest.raises(InputError, match="band numbers start at 1"):
        PairsRequest(CTX, CRISM, tmp_path, bands=("b0",))
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        PairsRequest(CTX, CRISM, tmp_path / "file")
    request = PairsRequest(CTX, CRISM, tmp_path, config=CoregConfig(reference_band=3))
    assert request.scene == tmp_path / "frt0000a4b5_07_brtanj_mtr3"
    assert "PairsRequest" in jobs.JOBS


def _config(tmp_path, pairs_dir, **kw) -> dict:
    return {
        "id": "real-tan",
        "task": "spectra-regression",
        "product": "custom",
        "target_wavelengths_nm": [1330, 2529],
        "out_dir": str(tmp_path / "run"),
        "scenes": [str(pairs_dir / "*")],
        "patch_size": 64,
        "batch_size": 2,
        "max_steps": 2,
        "val_every": 100,  # one checkpoint, at the end
        "warmup_steps": 1,
        "precision": "fp32",
        "device": "cpu",
        "decoder_channels": [16, 16, 8, 8, 8],
        **kw,
    }


def test_wavelength_tolerance_is_a_config_key(tmp_path, pairs_dir):
    assert load_config({"id": "x"}).wavelength_tolerance_nm == 15.0
    from marsspec.training.spectra.data import load_pair

    off = load_config(_config(tmp_path, pairs_dir, target_wavelengths_nm=[1320, 2520]))
    pair = load_pair(pairs_dir / "nili", off)  # 9-10 nm off: within the default 15 nm
    assert pair.target_names == ["R1330", "R2529"]
    strict = load_config({**off.to_dict(), "wavelength_tolerance_nm": 5})
    with pytest.raises(InputError, match=r"no band within 5 nm of 1320 nm.*wavelength_tolerance"):
        load_pair(pairs_dir / "nili", strict)


def test_train_on_real_pairs_keeps_target_stats_and_best(tmp_path, pairs_dir, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, pairs_dir, wavelength_tolerance_nm=5)))
    assert cli_main(["train", "--config", str(path)]) == 0
    assert "best=last" in capsys.readouterr().out
    run = tmp_path / "run"
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()
    best = torch.load(run / "best.pt", weights_only=False)
    assert best["step"] == 2
    target = best["target"]
    assert target["units"] == "I/F"
    assert target["band_names"] == ["R1330", "R2529"]
    assert target["wavelengths_nm"] == [1330.0, 2529.0]
    scene = pairs_dir / "nili"
    with rasterio.open(scene / "crism_target.tif") as src, rasterio.open(scene / "ctx.tif") as x:
        data = src.read([2, 1], masked=True)  # R1330, R2529
        valid = ~data.mask.any(axis=0) & (x.read_masks(1) > 0)  # both rasters valid
    for (mean, std), band in zip(target["stats"], data.data, strict=True):
        assert mean == pytest.approx(float(band[valid].mean()), rel=0.01)
        assert std == pytest.approx(float(band[valid].std()), rel=0.05)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best"].startswith("last checkpoint")
    assert summary["target"]["band_names"] == ["R1330", "R2529"]


def test_prediction_uses_the_model_target_stats():
    from marsspec.core.models.manifest import load_manifest
    from marsspec.core.spectral.job import _descriptions, _output_plan

    entry = load_manifest().get("fc-regression")
    trained = dataclasses.replace(
        entry,
        extra={
            **entry.extra,
            "target_stats": [[0.2, 0.03], [0.21, 0.02], [0.19, 0.025]],
            "target_units": "I/F",
            "band_names": ["R2529", "R1506", "R1080"],
        },
    )
    request = SimpleNamespace(target_stats=None, normalisation="image")
    stats, units, text = _output_plan(trained, request, None)
    assert units == "I/F" and "training set" in text
    assert [(s.mean, s.std) for s in stats] == [(0.2, 0.03), (0.21, 0.02), (0.19, 0.025)]
    desc, tags = _descriptions(trained, text)
    assert desc[0].startswith("R2529 2503 nm (I/F") and "FC" not in desc[0]
    renamed = dataclasses.replace(trained, bands=({**entry.bands[0], "wavelength_nm": 2529.0},))
    renamed.extra.update(target_stats=[[0.2, 0.03]], band_names=["R2529"])
    assert _descriptions(renamed, "I/F")[0] == ("R2529 (I/F)",)
    assert tags[0]["units"] == text
    # the user's statistics still win, labelled with the model's target units
    request = SimpleNamespace(target_stats=((0.1, 0.01),) * 3, normalisation="image")
    stats, units, text = _output_plan(trained, request, None)
    assert units == "I/F" and stats[0].mean == 0.1 and "user-given" in text
    # a bundled model without them is unchanged: z-scores
    plain = SimpleNamespace(target_stats=None, normalisation="image")
    stats, units, _ = _output_plan(entry, plain, None)
    assert stats is None and units == "normalised"
