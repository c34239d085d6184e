"""MARSGAN training (training/superres): both stages run, resume, export; losses behave."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from marsspec.core.errors import InputError
from marsspec.core.models.manifest import load_manifest
from marsspec.training.superres.degrade import degrade
from marsspec.training.superres.export import export_generator
from marsspec.training.superres.losses import (
    build_perceptual,
    ragan_discriminator_loss,
    ragan_generator_loss,
)
from marsspec.training.superres.train import main
from tests.conftest import write_mars_raster


def config(tmp_path, **kw):
    rng = np.random.default_rng(0)
    write_mars_raster(tmp_path / "hr.tif", rng.random((96, 96)).astype("float32"), pixel_size=0.75)
    base = {
        "id": "t",
        "task": "superres",
        "stage": "psnr",
        "out_dir": str(tmp_path / "psnr"),
        "hr_patterns": [str(tmp_path / "hr.tif")],
        "val_patterns": [str(tmp_path / "hr.tif")],
        "generator": {"nf": 8, "gc": 4, "n_blocks": 1, "recon_features": 1, "bicubic_skip": True},
        "hr_crop": 32,
        "batch_size": 2,
        "max_steps": 2,
        "val_crops": 2,
        "val_every": 1,
        "device": "cpu",
    }
    return {**base, **kw}


def test_two_stages_resume_and_export(tmp_path):
    cfg = config(tmp_path)
    assert main(cfg) == 0
    assert torch.load(tmp_path / "psnr" / "last.pt", weights_only=False)["step"] == 2
    assert main({**cfg, "max_steps": 3}) == 0  # resumes at step 2, runs one more
    assert torch.load(tmp_path / "psnr" / "last.pt", weights_only=False)["step"] == 3
    gan = config(
        tmp_path,
        stage="gan",
        out_dir=str(tmp_path / "gan"),
        disc_nf=8,
        max_steps=1,
        init_from=str(tmp_path / "psnr" / "best.pt"),
    )
    assert main(gan) == 0
    state = torch.load(tmp_path / "gan" / "best.pt", weights_only=False)
    assert state["disc"] is not None and state["config"]["lambda_adv"] == 5e-3
    manifest = tmp_path / "models" / "manifest.json"
    entry = export_generator(
        tmp_path / "gan" / "best.pt",
        "t-gan",
        flavour="gan",
        models_dir=tmp_path / "models",
        manifest_path=manifest,
    )
    loaded = load_manifest(manifest).get("t-gan")
    assert loaded.scale == 4 and loaded.task == "superres" and entry["dtype"] == "float16"
    net = loaded.build()
    assert net(torch.rand(1, 1, 8, 8)).shape == (1, 1, 32, 32)


def test_bad_config_and_missing_vgg(tmp_path, caplog):
    with pytest.raises(InputError, match="Unknown superres config"):
        main(config(tmp_path, epochs=3))
    with pytest.raises(InputError, match="stage"):
        main(config(tmp_path, stage="esrgan"))
    with caplog.at_level(logging.WARNING, logger="marsspec.training"):
        assert build_perceptual(None, 0.5) is None
    assert "perceptual loss of Eq. 12 is OFF" in caplog.text
    with pytest.raises(InputError, match="VGG19 weights"):
        build_perceptual(str(tmp_path / "vgg19.pth"), 0.5)


def test_ragan_losses_and_degradation():
    real, fake = torch.tensor([[3.0], [2.0]]), torch.tensor([[-2.0], [-3.0]])
    # A discriminator that separates well has a low D loss and gives the generator a high one.
    assert ragan_discriminator_loss(real, fake) < 0.05 < 5 < ragan_generator_loss(real, fake)
    d_real, d_fake = torch.sigmoid(real - fake.mean()), torch.sigmoid(fake - real.mean())  # Eq. 7
    eq10 = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    eq11 = -torch.log(1 - d_real).mean() - torch.log(d_fake).mean()
    assert torch.allclose(ragan_discriminator_loss(real, fake), eq10, atol=1e-6)
    assert torch.allclose(ragan_generator_loss(real, fake), eq11, atol=1e-5)
    hr = torch.full((1, 1, 32, 32), 0.3)
    assert degrade(hr).shape == (1, 1, 8, 8)
    assert torch.allclose(degrade(hr), torch.full((1, 1, 8, 8), 0.3), atol=1e-5)
