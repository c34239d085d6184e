"""Training and export on a tiny simulated pair: sampler rules, losses, resume, export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from marsspec.cli.main import main as cli_main
from marsspec.core.errors import InputError
from marsspec.core.models.bins import BinSpec
from marsspec.core.models.manifest import load_manifest
from marsspec.training.spectra.config import load_config
from marsspec.training.spectra.data import Pair, PatchSampler
from marsspec.training.spectra.losses import BinLoss, masked_mse


def _cfg(**kw):
    return load_config({"id": "t", "patch_size": 64, **kw})


def test_sampler_is_seeded_and_respects_valid_fraction():
    rng = np.random.default_rng(0)
    valid = np.zeros((200, 200), bool)
    valid[:, :60] = True  # 30 % valid
    pair = Pair(
        "p",
        rng.normal(size=(1, 200, 200)).astype("float32"),
        rng.normal(size=(3, 200, 200)).astype("float32"),
        valid,
    )
    cfg = _cfg()
    a = PatchSampler([pair], cfg, seed=5).batch(6)
    b = PatchSampler([pair], cfg, seed=5).batch(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    x, y, m = PatchSampler([pair], _cfg(augment=False), seed=1).batch(20)
    assert x.shape == (20, 1, 64, 64) and y.shape == (20, 3, 64, 64)
    assert (m.reshape(20, -1).mean(axis=1) >= 0.2).all()
    _, ya, ma = PatchSampler([pair], cfg, seed=2).batch(12)  # augmented
    assert all((ya[k][:, ~ma[k]] == 0).all() for k in range(12))  # masked out of the loss


def test_masked_losses_ignore_invalid_pixels():
    pred, target = torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    target[..., 0, :] = 100.0  # garbage where invalid
    mask = torch.ones(1, 4, 4, dtype=torch.bool)
    mask[:, 0, :] = False
    assert masked_mse(pred, target, mask).item() == 0.0
    spec = BinSpec(20, 6.0)
    logits = torch.zeros(1, 20, 3, 4, 4)
    logits[:, 10] = 10.0  # confident in bin 10 ([0, 0.6))
    good = torch.full((1, 3, 4, 4), 0.3)
    good[..., 0, :] = 100.0
    plain = BinLoss(spec, weights="none")(logits, good, mask).item()
    assert plain < 0.01
    l1 = BinLoss(spec, weights="none", l1=True)(logits, good, mask).item()
    assert l1 < 0.01


def test_config_validation():
    with pytest.raises(InputError, match="Unknown config key"):
        load_config({"id": "x", "learning_rate": 1})
    with pytest.raises(InputError, match="needs loss"):
        load_config({"id": "x", "task": "spectra-bins", "loss": "mse"})
    assert load_config({"id": "x", "product": "fc"}).target_wavelengths_nm == [2503, 1500, 1080]
    for name in ("evc-regression", "fc-regression", "evc-bins20"):
        assert load_config(f"training/configs/{name}.yaml").id == name


def test_train_resume_export(tmp_path):
    from marsspec.core.simulator import SceneConfig, simulate_scene

    for seed, folder in ((1, "train/a"), (2, "val/a")):
        simulate_scene(
            SceneConfig(seed=seed, size=128, site="gale", products=("ctx", "crism")),
            tmp_path / folder,
        )
    config = {
        "id": "tiny-evc",
        "task": "spectra-bins",
        "loss": "l1ce",
        "out_dir": str(tmp_path / "run"),
        "scenes": [str(tmp_path / "train/*")],
        "val_scenes": [str(tmp_path / "val/*")],
        "patch_size": 64,
        "batch_size": 2,
        "max_steps": 2,
        "val_every": 1,
        "precision": "fp32",
        "decoder_channels": [32, 16, 16, 8, 8],
        "bins": {"count": 8, "range": 6.0, "spacing": "sid"},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    assert cli_main(["train", "--config", str(path)]) == 0
    assert cli_main(["train", "--config", str(path), "--set", "max_steps=3"]) == 0
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert [h["step"] for h in summary["history"]] == [1, 2, 3]  # resumed, not restarted
    assert "pcc_592" in summary["history"][-1]
    models = tmp_path / "models"
    models.mkdir()
    assert (
        cli_main(
            ["export", "--checkpoint", str(tmp_path / "run/best.pt"), "--models-dir", str(models)]
        )
        == 0
    )
    entry = load_manifest(models / "manifest.json").get("tiny-evc")
    assert entry.task == "spectra-bins" and entry.bins["spacing"] == "sid"
    assert entry.dtype == "float16" and entry.simulated
    assert [b["wavelength_nm"] for b in entry.bands] == [592.0, 533.0, 442.0]
    net = entry.build()
    with torch.no_grad():
        assert net(torch.zeros(1, 1, 64, 64)).shape == (1, 8, 3, 64, 64)

    # stage 2: recalibrate the bin head only, starting from the exported weights
    start = load_file(str(models / "tiny-evc.safetensors"))
    tune = {
        **config,
        "out_dir": str(tmp_path / "tune"),
        "init_weights": str(models / "tiny-evc.safetensors"),
        "train_only": ["net.segmentation_head"],
        "loss": "ce",
        "class_weights": "none",
        "lr": 0.01,
    }
    path.write_text(yaml.safe_dump(tune))
    assert cli_main(["train", "--config", str(path)]) == 0
    tuned = torch.load(tmp_path / "tune/last.pt", weights_only=False)["model"]
    changed = {k for k, v in tuned.items() if not torch.equal(v, start[k].to(v.dtype))}
    assert changed and all(k.startswith("net.segmentation_head") for k in changed), changed
    assert any("running_mean" in k for k in tuned)  # batch-norm statistics stayed frozen too

    path.write_text(yaml.safe_dump({**tune, "train_only": ["net.no_such_layer"]}))
    assert cli_main(["train", "--config", str(path)]) == 1


def test_train_dispatches_on_task(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("id: x\ntask: unknown\n")
    assert cli_main(["train", "--config", str(path)]) == 1
