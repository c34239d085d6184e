"""MARSGAN training (training/superres): both stages run, resume, export; losses behave."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from marsspec.core.errors import InputError
from marsspec.core.models.manifest import load_manifest
from marsspec.training.superres.degrade import degrade
from marsspec.training.superres.export import export_generator
from marsspec.training.superres.losses import (
    build_perceptual,
    gradient_loss,
    ragan_discriminator_loss,
    ragan_generator_loss,
)
from marsspec.training.superres.train import main
from tests.conftest import write_mars_raster

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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


def export_to(tmp_path, run: str, model_id: str) -> dict:
    """Export ``<tmp_path>/<run>/last.pt`` (PSNR flavour) into the test's own models dir."""
    return export_generator(
        tmp_path / run / "last.pt",
        model_id,
        flavour="psnr",
        models_dir=tmp_path / "models",
        manifest_path=tmp_path / "models" / "manifest.json",
        replace=True,  # the fine-tune test re-exports under one id
    )


def test_two_stages_resume_and_export(tmp_path):
    cfg = config(tmp_path, gradient_weight=0.5)
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
    with pytest.raises(InputError, match="gradient_weight"):
        main(config(tmp_path, gradient_weight=-1))
    with pytest.raises(InputError, match="edge_spread"):
        main(config(tmp_path, edge_spread=[1.5, 0.3]))
    with caplog.at_level(logging.WARNING, logger="marsspec.training"):
        assert build_perceptual(None, 0.5) is None
    assert "perceptual loss of Eq. 12 is OFF" in caplog.text
    with pytest.raises(InputError, match="VGG19 weights"):
        build_perceptual(str(tmp_path / "vgg19.pth"), 0.5)


def test_gradient_loss_charges_blur_not_offsets():
    sharp = torch.zeros(1, 1, 4, 8)
    sharp[..., 4:] = 1.0  # a step between columns 3 and 4
    ramp = sharp.clone()
    ramp[..., 3] = 0.5  # the same step spread over two pixels
    assert gradient_loss(sharp, sharp) == 0
    assert gradient_loss(sharp + 0.2, sharp) == 0  # a level offset has the truth's gradients
    # Each row: horizontal gradients (0.5, 0.5) against (0, 1) -> 1.0 over 7 differences;
    # no vertical gradients anywhere.
    assert torch.isclose(gradient_loss(ramp, sharp), torch.tensor(1.0 / 7))
    # Plain L1 sees the same blur as one pixel in eight: the gradient term weighs it ~2x.
    assert torch.isclose(torch.nn.functional.l1_loss(ramp, sharp), torch.tensor(0.5 / 8))


def test_synthetic_edges_take_the_configured_spread():
    from marsspec.training.superres.data import SyntheticEdges

    def steepest(spread: float, seed: int) -> float:  # same seed: same angle, levels, noise
        edge = SyntheticEdges((spread, spread)).make(np.random.default_rng(seed), 64)
        return float(max(np.abs(np.diff(edge, axis=0)).max(), np.abs(np.diff(edge, axis=1)).max()))

    # Slope ~ contrast / width: five times the spread, about a fifth of the steepest step.
    ratios = [steepest(0.3, s) / steepest(1.5, s) for s in range(9)]
    assert 2.5 < float(np.median(ratios)) < 6.0


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


def test_weight_average_is_kept_resumed_and_exported(tmp_path):
    from marsspec.training.superres.export import checkpoint_generator
    from marsspec.training.superres.train import WeightAverage

    net = torch.nn.Linear(2, 1)
    average = WeightAverage(net, 0.75)
    with torch.no_grad():
        net.weight.fill_(1.0)
        net.bias.fill_(1.0)
    start = average.state["weight"].clone()
    average.update(net)
    assert torch.allclose(average.state["weight"], 0.75 * start + 0.25)  # EMA, not a copy

    cfg = config(tmp_path, ema_decay=0.5, max_steps=3)
    assert main(cfg) == 0
    state = torch.load(tmp_path / "psnr" / "last.pt", weights_only=False)
    ema, raw = state["generator_ema"], state["generator"]
    assert set(ema) == set(raw)
    assert any(not torch.equal(ema[k], raw[k]) for k in raw if raw[k].is_floating_point())
    assert main({**cfg, "max_steps": 4}) == 0  # resumes the average too
    network, resumed = checkpoint_generator(tmp_path / "psnr" / "last.pt")
    assert resumed["step"] == 4
    for key, value in network.state_dict().items():  # the averaged weights are the ones used
        assert torch.equal(value, resumed["generator_ema"][key])
        if value.is_floating_point():  # step 4 continued the saved average, not a fresh one
            expected = ema[key].lerp(resumed["generator"][key], 0.5)
            assert torch.allclose(value, expected, atol=1e-6)
    with pytest.raises(InputError, match="ema_decay"):
        main(config(tmp_path, ema_decay=1.0))


def test_eval_sr_of_a_checkpoint_matches_its_export(tmp_path):
    import argparse

    from marsspec.training.evaluation.sr import add_arguments, run

    cfg = config(tmp_path, ema_decay=0.9, max_steps=2)
    assert main(cfg) == 0
    checkpoint = tmp_path / "psnr" / "last.pt"
    manifest = tmp_path / "models" / "manifest.json"
    export_generator(
        checkpoint,
        "t-psnr",
        flavour="psnr",
        models_dir=tmp_path / "models",
        manifest_path=manifest,
    )
    rng = np.random.default_rng(1)
    image = tmp_path / "held-out.tif"
    write_mars_raster(image, rng.random((224, 224)).astype("float32"), pixel_size=0.75)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    common = ["--images", str(image), "--no-real", "--crops", "2", "--edges", "2"]
    from_checkpoint = run(parser.parse_args([*common, "--checkpoint", str(checkpoint)]))
    exported = run(parser.parse_args([*common, "--model", "t-psnr", "--manifest", str(manifest)]))
    assert from_checkpoint["sr_model"] == f"checkpoint:{checkpoint}"
    assert from_checkpoint["sr_crops"] == exported["sr_crops"] == 2
    # Same weights (the export is fp16): same answers.
    assert from_checkpoint["sr_psnr_db"] == pytest.approx(exported["sr_psnr_db"], abs=0.02)
    assert from_checkpoint["sr_bicubic_psnr_db"] == exported["sr_bicubic_psnr_db"]
    with pytest.raises(InputError, match="--fidelity"):
        run(parser.parse_args([*common, "--checkpoint", str(checkpoint), "--fidelity", "0.5"]))


def test_fine_tune_starts_from_exported_weights(tmp_path):
    from marsspec.training.superres.card import model_card
    from marsspec.training.superres.export import checkpoint_generator

    cfg = config(tmp_path, max_steps=1)
    assert main(cfg) == 0
    manifest = tmp_path / "models" / "manifest.json"
    export_to(tmp_path, "psnr", "t-psnr")
    weights = tmp_path / "models" / "t-psnr.safetensors"
    # lr 0 keeps the weights where they started: exactly the exported ones, back in float32.
    tuned = {**cfg, "out_dir": str(tmp_path / "ft"), "init_from": str(weights), "lr": 0.0}
    assert main(tuned) == 0
    network, _ = checkpoint_generator(tmp_path / "ft" / "last.pt")
    exported = load_manifest(manifest).get("t-psnr").load_state_dict()
    for key, value in network.state_dict().items():
        assert value.dtype == exported[key].dtype
        assert torch.equal(value, exported[key]), key
    # Re-exported under the same id (overwriting the file it started from): the entry counts
    # the whole lineage and names the parent.
    parent_sha = load_manifest(manifest).get("t-psnr").sha256
    entry = export_to(tmp_path, "ft", "t-psnr")
    assert entry["training_steps"] == 2
    assert entry["fine_tuned_from"]["id"] == "t-psnr"
    assert entry["fine_tuned_from"]["sha256"] == parent_sha
    assert entry["fine_tuned_from"]["training_steps"] == 1
    again = export_to(tmp_path, "ft", "t-psnr")  # exporting twice counts the parent once
    assert again["training_steps"] == 2 and again["fine_tuned_from"]["sha256"] == parent_sha
    assert "Started from the weights of t-psnr as exported then" in model_card(again, {})
    wider = {**cfg["generator"], "nf": 12}
    with pytest.raises(InputError, match="does not fit the configured generator"):
        main({**tuned, "out_dir": str(tmp_path / "ft2"), "generator": wider})
    torch.save({"task": "spectral", "model": {}}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a super-resolution checkpoint"):
        main({**tuned, "out_dir": str(tmp_path / "ft4"), "init_from": str(tmp_path / "other.pt")})
    with pytest.raises(InputError, match="does not exist"):
        main({**tuned, "out_dir": str(tmp_path / "ft3"), "init_from": str(tmp_path / "no.pt")})


def test_edge_metrics_tell_blur_from_over_sharpening():
    from marsspec.training.evaluation.sr import edge_metrics
    from marsspec.training.superres.degrade import bicubic_up

    def bicubic(lr):
        return bicubic_up(lr)

    def thresholded(lr):  # every edge made a hard step: sharper than any true edge
        up = bicubic_up(lr)
        lo, hi = up.amin(), up.amax()
        return torch.where(up > (lo + hi) / 2, hi, lo) + 0.1 * (up - (lo + hi) / 2)

    plain = edge_metrics(bicubic, np.random.default_rng(3), 4)
    assert plain["sr_edge_factor"] == pytest.approx(1.0)  # bicubic against itself
    assert plain["sr_soft_edge_rise_ratio"] > 1.3  # bicubic of an LR edge is blurrier than truth
    hard = edge_metrics(thresholded, np.random.default_rng(3), 4)
    assert hard["sr_edge_factor"] > 2.0
    assert hard["sr_soft_edge_rise_ratio"] < 0.7  # flagged: sharper than the truth


def test_model_card_states_targets_and_recipe():
    from marsspec.training.superres.card import model_card

    entry = {
        "id": "t-gan",
        "title": "t",
        "training_data": "SIMULATED scenes.",
        "architecture_kwargs": {"nf": 8, "gc": 4, "n_blocks": 1, "recon_features": 1},
        "parameters": 1234,
        "size_bytes": 99,
        "weights": "t-gan.safetensors",
        "sha256": "0" * 64,
        "sr_flavour": "gan",
        "licence": "GPL",
    }
    good = model_card(entry, {"sr_psnr_gain_db": -0.5, "sr_edge_factor": 2.3}, 0.3, ["L1 + RaGAN"])
    assert "**Targets met** (sr_edge_factor 2.3 >= 2.0)" in good
    assert "Targets missed" not in good  # the PSNR target is the PSNR model's only
    assert "- L1 + RaGAN" in good and "eta 0.5 (MSE)" not in good
    bad = model_card({**entry, "sr_flavour": "psnr"}, {"sr_psnr_gain_db": 0.9}, None)
    assert "**Targets missed** (sr_psnr_gain_db 0.9 < 1.0)" in bad and "Targets met" not in bad


def test_config_reader_takes_exponent_floats(tmp_path):
    """``5e-3`` in a YAML config or a ``--set`` is a float, not PyYAML 1.1's string."""
    from marsspec.cli.commands.train import read_config

    path = tmp_path / "c.yaml"
    path.write_text("lr: 1e-4\nlambda_adv: 5.0e-3\nname: 2e-4x\nsteps: 10\n", encoding="utf-8")
    data = read_config(str(path), ["eta=-2E+1", "ema_decay=0.999", "out_dir=runs/1e3"])
    assert data["lr"] == 1e-4 and data["lambda_adv"] == 5e-3 and data["eta"] == -20.0
    assert data["ema_decay"] == 0.999 and data["steps"] == 10
    assert data["name"] == "2e-4x" and data["out_dir"] == "runs/1e3"  # strings stay strings


@pytest.mark.parametrize(
    "name",
    [
        "marsgan-psnr",
        "marsgan-psnr-finetune",
        "marsgan-psnr-real",
        "marsgan-gan",
        "marsgan-gan-real",
    ],
)
def test_shipped_sr_configs_are_valid(name):
    from marsspec.cli.commands.train import read_config
    from marsspec.training.superres.train import SuperresTrainConfig

    cfg = SuperresTrainConfig.from_dict(read_config(f"training/configs/{name}.yaml", []))
    assert cfg.task == "superres" and cfg.generator["n_blocks"] == 6
    if name == "marsgan-psnr-finetune":  # starts from the bundled weights, which fit it
        assert cfg.init_from == "models/marsgan-psnr.safetensors"
        assert cfg.edge_spread == [0.3, 1.5] and cfg.gradient_weight == 1.0


@pytest.mark.skipif(
    not (DATA / "hirise_deeplandforms").is_dir(),
    reason="../shared/data/hirise_deeplandforms (real HiRISE crops) is not beside the checkout",
)
def test_real_crops_and_mixed_degradations_train(tmp_path, caplog):
    """The real-texture recipe's inputs: train observations in, val observations for best.pt,
    every crop degraded by its own draw of the LR mix."""
    from marsspec.training.superres.data import CropSampler

    cfg = config(tmp_path, real_crops={"split": "train"}, degradation="mix", hr_crop=64)
    with caplog.at_level(logging.INFO, logger="marsspec.training"):
        assert main(cfg) == 0
    sampler = CropSampler([np.random.default_rng(0).random((64, 64), np.float32)], 64, seed=1)
    sampler.degradation = "mix"
    lr, hr = sampler.batch(6)
    assert lr.shape == (6, 1, 16, 16) and hr.shape == (6, 1, 64, 64)
    paper = degrade(hr)
    differs = [not torch.allclose(lr[i], paper[i], atol=1e-4) for i in range(6)]
    assert sum(differs) >= 4  # most crops took another LR formation than the paper's
    with pytest.raises(InputError, match="degradation"):
        main(config(tmp_path, degradation="jpeg-only"))
    with pytest.raises(InputError, match="no real HiRISE crop"):
        main(config(tmp_path, real_crops={"split": "train", "data_root": str(tmp_path)}))


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_paper_fraction_keeps_that_share_of_the_mix_on_the_paper_lr(fraction):
    """The real-texture recipe keeps half of its crops on the paper's LR model (the family
    the targets are quoted on) and draws the rest from the mix."""
    from marsspec.training.superres.data import CropSampler

    image = np.random.default_rng(0).random((64, 64), np.float32)
    sampler = CropSampler([image], 64, seed=3, degradation="mix", paper_fraction=fraction)
    lr, hr = sampler.batch(40)
    paper = degrade(hr)
    same = sum(torch.allclose(lr[i], paper[i], atol=1e-6) for i in range(40))
    if fraction == 1.0:
        assert same == 40
    elif fraction == 0.0:
        assert same <= 4  # a draw without blur change, noise, JPEG, stripes or shift is rare
    else:
        assert 12 <= same <= 30


def test_exported_training_data_names_real_crops_and_the_lr_mix():
    """The manifest's training_data follows the run's config: a real-texture run says it used
    real HiRISE crops and which share of its LR came from the mix."""
    from marsspec.training.superres.export import TRAINING_DATA, training_data

    assert training_data({}) == TRAINING_DATA
    text = training_data(
        {"real_crops": {"split": "train"}, "degradation": "mix", "paper_fraction": 0.5}
    )
    assert "REAL HiRISE RED crops of the TRAIN observations" in text
    assert "LR of 50 % of the crops drawn from a random mix" in text
    assert "LR of all of the crops" in training_data({"degradation": "mix"})
    cleaned = training_data({"real_crops": {"split": "train", "clean_impulses": True}})
    assert "outlier pixels of those crops replaced by their 3x3 median" in cleaned


def test_remove_impulses_takes_out_isolated_dots_and_keeps_edges_and_texture():
    """The GAN recipe cleans the real crops' single-pixel dots (which a GAN otherwise learns to
    paint as a regular lattice) without flattening an edge or fine noise-like texture."""
    from marsspec.training.superres.data import remove_impulses

    rng = np.random.default_rng(5)
    image = (0.5 + 0.01 * rng.standard_normal((64, 64))).astype(np.float32)
    image[:, 40:] += 0.3  # a vertical step edge
    dots = [(10, 10), (20, 30), (50, 15), (33, 52)]
    dirty = image.copy()
    for r, c in dots:
        dirty[r, c] -= 0.4
    cleaned = remove_impulses(dirty)
    for r, c in dots:
        assert abs(cleaned[r, c] - image[r, c]) < 0.05
    untouched = np.ones_like(image, bool)
    for r, c in dots:
        untouched[r, c] = False
    assert np.array_equal(cleaned[untouched], dirty[untouched])  # edge and texture kept
