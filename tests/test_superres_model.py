"""MARSGAN generator (paper 002 §2.1): shapes, parameter counts, scale 4, noise, interpolation."""

from __future__ import annotations

import pytest
import torch

from marsspec.core.errors import InputError
from marsspec.core.models.manifest import ARCHITECTURES
from marsspec.core.models.marsgan import (
    AWRRDB,
    build_generator,
    count_parameters,
    interpolate_state_dicts,
)


def expected_parameters(c_in, c_out, nf, gc, n_blocks, recon):
    """Closed form: head conv, 3 DBs (5 convs) + 11 weights per AWRRDB, AWMSR, final conv."""
    head = c_in * nf * 9 + nf
    db = sum((nf + i * gc) * gc * 9 + gc for i in range(4)) + (nf + 4 * gc) * nf * 9 + nf
    block = 3 * db + 11
    awmsr = sum(nf * recon * 16 * k * k + recon * 16 for k in (3, 5, 7, 9)) + 4
    tail = recon * c_out * 9 + c_out
    return head + n_blocks * block + awmsr + tail


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(nf=8, gc=4, n_blocks=1, recon_features=1),
        dict(nf=32, gc=16, n_blocks=6, recon_features=2, bicubic_skip=True),
        dict(in_channels=3, out_channels=3, nf=16, gc=8, n_blocks=2, recon_features=3),
    ],
)
def test_shapes_and_parameter_counts(kwargs):
    net = build_generator(**kwargs)
    c_in = kwargs.get("in_channels", 1)
    c_out = kwargs.get("out_channels", 1)
    n = expected_parameters(
        c_in, c_out, kwargs["nf"], kwargs["gc"], kwargs["n_blocks"], kwargs["recon_features"]
    )
    assert count_parameters(net) == n
    x = torch.rand(2, c_in, 13, 17)
    with torch.inference_mode():
        y = net(x)
    assert y.shape == (2, c_out, 52, 68)  # exactly 4x


def test_paper_configuration_size():
    """23 AWRRDBs, 64 features, growth 32: the ESRGAN-sized body (~16.7 M in the body)."""
    net = build_generator(nf=64, gc=32, n_blocks=23, recon_features=16)
    body = count_parameters(net.body)
    assert body == 23 * (
        3 * (sum((64 + 32 * i) * 32 * 9 + 32 for i in range(4)) + 192 * 64 * 9 + 64) + 11
    )
    assert 16_000_000 < body < 17_000_000


def test_adaptive_weights_per_block():
    block = AWRRDB(8, 4)
    weights = [p for name, p in block.named_parameters() if not name.startswith("blocks")]
    assert sum(p.numel() for p in weights) == 11  # 3 x (residual, identity, noise) + 2
    net = build_generator(nf=8, gc=4, n_blocks=1, recon_features=1)
    assert torch.equal(net.recon.alpha.detach(), torch.full((4,), 0.25))


def test_noise_off_at_inference_and_on_when_asked():
    torch.manual_seed(0)
    net = build_generator(nf=8, gc=4, n_blocks=1, recon_features=1)
    with torch.no_grad():
        for block in net.body:
            block.noise_w.fill_(0.5)
    x = torch.rand(1, 1, 12, 12)
    with torch.inference_mode():
        assert torch.equal(net(x), net(x))
        net.set_noise(True)
        assert not torch.equal(net(x), net(x))


def test_bicubic_skip_starts_at_bicubic():
    net = build_generator(nf=8, gc=4, n_blocks=1, recon_features=1, bicubic_skip=True)
    x = torch.rand(1, 1, 10, 10)
    with torch.inference_mode():
        expected = torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic")
        assert torch.allclose(net(x), expected, atol=1e-6)


def test_fidelity_ends_reproduce_both_generators_exactly():
    kw = dict(nf=8, gc=4, n_blocks=1, recon_features=1)
    torch.manual_seed(1)
    psnr_net = build_generator(**kw)
    torch.manual_seed(2)
    gan_net = build_generator(**kw)
    x = torch.rand(1, 1, 16, 16)
    blended = build_generator(**kw)
    outputs = {}
    for f in (0.0, 0.5, 1.0):
        blended.load_state_dict(
            interpolate_state_dicts(psnr_net.state_dict(), gan_net.state_dict(), f)
        )
        with torch.inference_mode():
            outputs[f] = blended(x)
    with torch.inference_mode():
        assert torch.equal(outputs[1.0], psnr_net(x))
        assert torch.equal(outputs[0.0], gan_net(x))
        assert not torch.equal(outputs[0.5], psnr_net(x))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        interpolate_state_dicts(psnr_net.state_dict(), gan_net.state_dict(), 1.5)


def test_registered_and_rejects_unknown_options():
    assert ARCHITECTURES["marsgan-generator"] == "marsspec.core.models.marsgan:build_generator"
    with pytest.raises(InputError, match="Unknown MARSGAN"):
        build_generator(depth=3)
    with pytest.raises(InputError, match="too small"):
        build_generator(nf=8, gc=4, n_blocks=1, recon_features=1)(torch.rand(1, 1, 4, 4))
