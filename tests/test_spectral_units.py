"""Spectral building blocks on hand-made data: bins, confidence, normalisation, browse,
metrics and network shapes (real torch, real rasterio)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from marsspec.core.errors import InputError
from marsspec.core.metrics.spectral import cosine, pcc, rmse, spearman
from marsspec.core.models import confidence as conf
from marsspec.core.models.bins import BinSpec, class_weights, reconstruct
from marsspec.core.models.browse import stretch_bounds, stretch_to_uint8
from marsspec.core.models.normalisation import array_stats, raster_stats
from marsspec.core.models.spectral_net import build_spectral_net
from tests.conftest import write_mars_raster


def test_uniform_bins_cover_minus_r_to_r():
    spec = BinSpec(20, 6.0, "uniform")
    edges = spec.finite_edges()
    assert edges[0] == -6 and edges[-1] == 6
    assert np.allclose(np.diff(edges), 0.6)
    assert np.allclose(spec.centres()[:2], [-5.7, -5.1])
    # outside [-r, r] falls into the outer bins (open edges)
    assert list(spec.labels(np.array([-100.0, -5.9, 0.01, 5.99, 100.0]))) == [0, 0, 10, 19, 19]


def test_sid_bins_are_narrow_near_zero_and_wide_outside():
    widths = np.diff(BinSpec(20, 6.0, "sid").finite_edges())
    assert widths[9] < widths[5] < widths[0]
    assert np.isclose(widths.sum(), 12.0)
    assert np.allclose(widths, widths[::-1])  # symmetric


def test_class_weights_follow_eq1():
    w = class_weights(20)
    assert w[10] == pytest.approx(0.0)  # middle bin: i' = 0
    assert w[0] == pytest.approx(1 - np.exp(-1))
    assert np.all(np.diff(w[:10]) < 0) and np.all(np.diff(w[10:]) > 0)


def test_reconstruction_weighted_and_argmax():
    spec = BinSpec(4, 2.0)  # centres -1.5, -0.5, 0.5, 1.5
    centres = torch.tensor(spec.centres())
    probs = torch.tensor([0.0, 0.6, 0.4, 0.0]).view(1, 4, 1, 1, 1)
    assert reconstruct(probs, centres, "weighted").item() == pytest.approx(-0.1)
    assert reconstruct(probs, centres, "argmax").item() == pytest.approx(-0.5)
    with pytest.raises(InputError):
        reconstruct(probs, centres, "median")


def _dist(values):
    p = torch.tensor(values, dtype=torch.float32)
    return (p / p.sum()).view(1, -1, 1, 1, 1)


def test_confidence_unimodal_vs_bimodal():
    sharp = _dist([0, 0, 0.05, 0.9, 0.05, 0, 0, 0, 0, 0])
    broad = _dist([0.05, 0.1, 0.15, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05])
    bimodal = _dist([0, 0.45, 0.05, 0, 0, 0, 0.05, 0.45, 0, 0])
    assert conf.max_probability(sharp).item() == pytest.approx(0.9)
    assert conf.normalised_entropy(sharp).item() < conf.normalised_entropy(broad).item()
    uniform = _dist([1] * 10)
    assert conf.normalised_entropy(uniform).item() == pytest.approx(1.0, abs=1e-5)
    assert conf.multimodal(sharp).item() == 0
    assert conf.multimodal(broad).item() == 0
    assert conf.multimodal(bimodal).item() == 1
    assert conf.mode_count(bimodal).item() == 2


def test_confidence_per_band_and_overall():
    probs = torch.cat([_dist([0.1, 0.8, 0.1]), _dist([0.5, 0.0, 0.5])], dim=2)  # 2 bands
    maxp = conf.confidence(probs, "max_probability")
    assert maxp.shape == (1, 3, 1, 1)
    assert maxp.flatten().tolist() == pytest.approx([0.8, 0.5, 0.65])
    modes = conf.confidence(probs, "multimodal").flatten().tolist()
    assert modes == [0.0, 1.0, 1.0]
    with pytest.raises(InputError):
        conf.confidence(probs, "vibes")


def test_streaming_stats_equal_in_memory(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.gamma(4.0, 0.03, (1, 300, 211)).astype("float32")
    data[0, 0, :3] = 9.0  # three hot pixels (< 0.01 %) the clip must remove
    data[0, 100:110, :] = -9999.0  # nodata rows
    path = write_mars_raster(tmp_path / "ctx.tif", data, nodata=-9999.0)
    streamed = raster_stats(path, [1], rows=37)[0]  # many windows
    valid = data[0] != -9999.0
    exact = array_stats(data[0][valid])
    span = float(data[0][valid].max() - data[0][valid].min())
    assert streamed.count == exact.count == valid.sum()
    assert streamed.low == pytest.approx(exact.low, abs=2 * span / 65535)
    assert streamed.high == pytest.approx(exact.high, abs=2 * span / 65535)
    assert streamed.mean == pytest.approx(exact.mean, rel=1e-4)
    assert streamed.std == pytest.approx(exact.std, rel=1e-3)
    assert exact.high < 9.0  # the 0.01 % clip removed the hot pixels


def test_streaming_stats_all_nodata_is_a_clear_error(tmp_path):
    data = np.full((1, 20, 20), -9999.0, "float32")
    path = write_mars_raster(tmp_path / "empty.tif", data, nodata=-9999.0)
    with pytest.raises(InputError, match="no valid pixel"):
        raster_stats(path, [1])


def test_browse_three_sigma_stretch():
    band = np.array([[[-10.0, 0.0, 1.0, 2.0, 100.0, np.nan]]])
    low, high = stretch_bounds(np.array([1.0]), np.array([1.0]))
    assert low[0] == -2 and high[0] == 4
    out = stretch_to_uint8(band, low, high)
    assert out.dtype == np.uint8
    assert out.ravel().tolist() == [1, 86, 128, 170, 255, 0]  # clipped ends, 0 = nodata


def test_metrics():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    assert pcc(2 * t + 1, t) == pytest.approx(1.0)
    assert pcc(-t, t) == pytest.approx(-1.0)
    assert cosine(t, t) == pytest.approx(1.0)
    assert rmse(t + 0.5, t) == pytest.approx(0.5)
    assert spearman(t**3, t) == pytest.approx(1.0)
    assert np.isnan(pcc(np.ones(4), t))


@pytest.mark.parametrize("n_bins", [None, 20])
def test_network_shapes_and_borders(n_bins):
    net = build_spectral_net(n_bands=3, n_bins=n_bins).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 1, 96, 80))  # not a multiple of 32: padded and cropped
    assert out.shape == ((2, 3, 96, 80) if n_bins is None else (2, 20, 3, 96, 80))
    pads = [m for m in net.modules() if type(m).__name__ == "ReflectPad"]
    assert pads, "zero padding should be replaced by reflection"
    zero_padded = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and any(m.padding)]
    assert not zero_padded


def test_network_two_channels_and_other_architectures():
    net = build_spectral_net(in_channels=2, arch="FPN", encoder="resnet18").eval()
    with torch.no_grad():
        assert net(torch.randn(1, 2, 64, 64)).shape == (1, 3, 64, 64)
    with pytest.raises(InputError):
        build_spectral_net(arch="NoSuchNet")
    with pytest.raises(InputError):
        build_spectral_net(in_channels=3)
