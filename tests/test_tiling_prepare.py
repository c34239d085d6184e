"""The inference rewrites (core.tiling.prepare): same answers, fewer operations, safe fallbacks.

Real networks: the bundled architecture (smp U-Net, EfficientNet-B0 encoder) with batch-norm
statistics set away from their identity defaults, so a wrong fold would show.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import rasterio
import torch
from torch import nn

from marsspec.core.tiling import OutputSpec, TilingConfig, run_tiled
from marsspec.core.tiling.prepare import prepare_for_inference
from tests.tiling_rasters import make_raster

CPU = {"device": "cpu", "precision": "fp32"}


def _randomise_batchnorms(model: nn.Module, seed: int = 3) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(n, generator=gen) * 0.4 - 0.2)
    return model.eval()


def _unet() -> nn.Module:
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    net = smp.Unet("efficientnet-b0", encoder_weights=None, in_channels=1, classes=3)
    return _randomise_batchnorms(net).to(memory_format=torch.channels_last)


def _relative_deviation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / (b.max() - b.min()))


def test_unet_prepared_copy_gives_the_same_answer_and_leaves_the_original_alone():
    model = _unet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        want = model(x)
        prepared = prepare_for_inference(model)
        got = prepared.module(x)
    # every BN the forward pass calls follows a convolution (58: encoder blocks, stem,
    # decoder); the 12 stride-1 depthwise paddings are symmetric, the 5 stride-2 ones are not
    assert prepared.folded_batchnorms == 58
    assert prepared.folded_paddings == 12
    assert prepared.inplace_activations >= 16
    assert not any(isinstance(m, nn.BatchNorm2d) for m in prepared.module.modules())
    assert _relative_deviation(got, want) < 1e-5
    for key, value in model.state_dict().items():  # the caller's model is untouched
        assert torch.equal(value, before[key]), key
    with torch.inference_mode():
        assert torch.equal(model(x), want)


class _SharedConv(nn.Module):
    """One convolution called twice, a BN after only one call: folding would break the other."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)

    def forward(self, x):
        return self.bn(self.conv(x)) + self.conv(x)


class _TwoReaders(nn.Module):
    """A convolution whose output feeds a BN and a skip: neither fold nor in-place is exact."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)
        self.act = nn.SiLU()

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + self.act(y)


class _Untraceable(nn.Module):
    """Data-dependent Python control flow: torch.fx cannot trace it, its child can be."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.SiLU())

    def forward(self, x):
        if float(x.mean()) > 10:  # never true here, but fx cannot know
            return x
        return self.body(x)


@pytest.mark.parametrize(
    ("factory", "folded", "inplace"),
    [(_SharedConv, 0, 0), (_TwoReaders, 0, 0), (_Untraceable, 1, 1)],
)
def test_rewrites_only_where_exact(factory, folded, inplace):
    torch.manual_seed(0)
    model = _randomise_batchnorms(factory())
    x = torch.randn(2, 2, 16, 16, generator=torch.Generator().manual_seed(2))
    prepared = prepare_for_inference(model)
    with torch.inference_mode():
        assert _relative_deviation(prepared.module(x), model(x)) < 1e-5
    assert prepared.folded_batchnorms == folded
    assert prepared.inplace_activations == inplace


def test_engine_runs_the_prepared_copy_and_records_it(tmp_path):
    src, _ = make_raster(tmp_path / "in.tif", 200, 170)
    model = _unet()
    runs = {}
    for prepare in (True, False):
        out = tmp_path / f"out_{prepare}.tif"
        cfg = TilingConfig(d=64, s=2, batch_size=4, prepare_model=prepare, **CPU)
        runs[prepare] = run_tiled(src, model, OutputSpec(out), cfg)
        with rasterio.open(out) as ds:
            runs[prepare, "data"] = ds.read()
    prepared, given = runs[True], runs[False]
    assert any(e.startswith("model prepared for inference") for e in prepared.events)
    assert "batch norms folded" in prepared.tags["MARSSPEC_MODEL_PREPARATION"]
    assert given.tags["MARSSPEC_MODEL_PREPARATION"] == "off"
    a, b = runs[True, "data"], runs[False, "data"]
    assert float(np.abs(a - b).max() / (b.max() - b.min())) < 1e-5


def test_engine_keeps_a_model_whose_copy_answers_differently(tmp_path, caplog):
    """A model left in training mode normalises by batch statistics; the eval-mode copy does
    not, so the first-patch check refuses it and the model runs exactly as given."""
    src, _ = make_raster(tmp_path / "in.tif", 96, 96)
    model = _unet().train()
    cfg = TilingConfig(d=64, s=2, batch_size=4, **CPU)
    with caplog.at_level(logging.WARNING, logger="marsspec.tiling"):
        result = run_tiled(src, model, OutputSpec(tmp_path / "out.tif"), cfg)
    assert any("model used as given" in e for e in result.events)
    assert "model used as given" in caplog.text
    assert result.tags["MARSSPEC_MODEL_PREPARATION"] == "off"


class _ReadsChildAttribute(nn.Module):
    """A parent whose forward reads a plain attribute of a child that becomes a graph."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.SiLU())
        self.body.gain = 2.0

    def forward(self, x):
        if float(x.mean()) > 1e9:  # untraceable here, so only the child is rewritten
            return x
        return self.body(x) * self.body.gain


def test_engine_survives_a_copy_that_cannot_run(tmp_path, caplog):
    src, _ = make_raster(tmp_path / "in.tif", 40, 40)
    model = _randomise_batchnorms(_ReadsChildAttribute())
    cfg = TilingConfig(d=16, s=2, batch_size=4, **CPU)
    with caplog.at_level(logging.WARNING, logger="marsspec.tiling"):
        result = run_tiled(src, model, OutputSpec(tmp_path / "out.tif"), cfg)
    assert any("the prepared copy failed" in e for e in result.events)
    given = run_tiled(
        src, model, OutputSpec(tmp_path / "given.tif"), TilingConfig(d=16, s=2, batch_size=4,
        prepare_model=False, **CPU)
    )  # fmt: skip
    with rasterio.open(result.outputs[0]) as a, rasterio.open(given.outputs[0]) as b:
        np.testing.assert_array_equal(a.read(), b.read())


def test_a_prepared_copy_is_run_as_it_is_and_recorded(tmp_path):
    """A caller that prepares once (the benchmark, a worker running many blocks) pays no
    second copy and trace; the output says who prepared the network."""
    model = _unet()
    prepared = prepare_for_inference(model)
    again = prepare_for_inference(prepared.module)
    assert again.module is prepared.module and not again.changed
    src, _ = make_raster(tmp_path / "in.tif", 150, 140)
    runs = {}
    for name, network in (("given", model), ("prepared", prepared.module)):
        out = tmp_path / f"{name}.tif"
        cfg = TilingConfig(d=64, s=2, batch_size=4, **CPU)
        runs[name] = run_tiled(src, network, OutputSpec(out), cfg)
        with rasterio.open(out) as ds:
            runs[name, "data"] = ds.read()
    assert runs["prepared"].tags["MARSSPEC_MODEL_PREPARATION"].startswith("prepared by the caller")
    assert "batch norms folded" in runs["given"].tags["MARSSPEC_MODEL_PREPARATION"]
    # the engine ran the same prepared arithmetic both times
    np.testing.assert_array_equal(runs["given", "data"], runs["prepared", "data"])
