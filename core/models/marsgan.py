"""The MARSGAN generator (paper 002 §2.1, Eq. 1-5): AWRRDB body and AWMSR 4x reconstruction.

Registered in the manifest as architecture ``"marsgan-generator"``. Differences from ESRGAN
that the paper argues for, and that are kept here: every dense block (DB) has learnable
weights for its residual, its identity and an additive Gaussian-noise input (Eq. 3), every
AWRRDB two more (Eq. 2), and the upsampling is a weighted sum of four sub-pixel-shuffle
branches with 3/5/7/9 kernels (AWMSR, weights initialised 0.25, Eq. 5). Noise is only drawn
while training or when explicitly asked for: an inference run must be deterministic.

Size is configurable (paper: 23 blocks, 64 features); ``bicubic_skip`` (off by default, on in
the bundled CPU-sized models) adds the bicubic upsampling of the input to the output so a
small network spends its capacity on the missing high frequencies only.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as tf

from marsspec.core.errors import InputError

SCALE = 4
BRANCH_KERNELS = (3, 5, 7, 9)


def _conv(cin: int, cout: int, kernel: int = 3) -> nn.Conv2d:
    # Reflection padding: a patch or raster border must not look like a dark frame.
    return nn.Conv2d(cin, cout, kernel, padding=kernel // 2, padding_mode="reflect")


class DenseBlock(nn.Module):
    """Five 3x3 convolutions with dense connections, growth ``gc``, LeakyReLU 0.2 (ESRGAN DB)."""

    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(_conv(nf + i * gc, gc) for i in range(4))
        self.last = _conv(nf + 4 * gc, nf)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs:
            features.append(self.act(conv(torch.cat(features, 1))))
        return self.last(torch.cat(features, 1))


class AWRRDB(nn.Module):
    """Three DBs, each ``x <- l_r * DB(x) + l_x * x + l_n * G`` (Eq. 3); out ``l_b*x3 + l_a*x``.

    3 x 3 + 2 = 11 learnable weights per block, as in the paper (3 of them scale the noise).
    """

    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(DenseBlock(nf, gc) for _ in range(3))
        self.res_w = nn.Parameter(torch.full((3,), 0.2))  # ESRGAN's fixed residual scaling
        self.id_w = nn.Parameter(torch.ones(3))
        self.noise_w = nn.Parameter(torch.zeros(3))  # learned from 0: noise fades in if useful
        self.out_w = nn.Parameter(torch.tensor([0.2, 1.0]))  # (lambda_b, lambda_a) of Eq. 2
        self.noise = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for k, block in enumerate(self.blocks):
            y = self.res_w[k] * block(h) + self.id_w[k] * h
            if self.noise:
                y = y + self.noise_w[k] * torch.randn_like(y)
            h = y
        return self.out_w[0] * h + self.out_w[1] * x


class AWMSR(nn.Module):
    """Multi-scale reconstruction: four conv branches -> pixel shuffle, weighted sum (Eq. 5)."""

    def __init__(self, nf: int, out_features: int, scale: int = SCALE) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(_conv(nf, out_features * scale * scale, k), nn.PixelShuffle(scale))
            for k in BRANCH_KERNELS
        )
        self.alpha = nn.Parameter(torch.full((len(BRANCH_KERNELS),), 0.25))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = 0
        for weight, branch in zip(self.alpha, self.branches, strict=True):
            out = out + weight * branch(x)
        return out


class MarsganGenerator(nn.Module):
    """LR ``(N, C, h, w)`` -> SR ``(N, C, 4h, 4w)``; float32, any ``h, w`` >= 5 pixels."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        nf: int = 64,
        gc: int = 32,
        n_blocks: int = 23,
        recon_features: int = 16,
        bicubic_skip: bool = False,
    ) -> None:
        super().__init__()
        self.scale = SCALE
        self.bicubic_skip = bicubic_skip
        self.head = _conv(in_channels, nf)  # Eq. 1
        self.body = nn.Sequential(*(AWRRDB(nf, gc) for _ in range(n_blocks)))  # Eq. 4
        self.recon = AWMSR(nf, recon_features)
        self.tail = _conv(recon_features, out_channels)  # f_rec of Eq. 5
        if bicubic_skip:  # start exactly at bicubic: every training step can only add detail
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def set_noise(self, enabled: bool) -> MarsganGenerator:
        """Switch the Gaussian-noise inputs on (training, or a user who asks) or off."""
        for block in self.body:
            block.noise = enabled
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < 5:
            raise InputError(
                f"A {x.shape[-1]}x{x.shape[-2]} px input is too small for the 9x9 reconstruction "
                "branch; give at least 5x5 pixels."
            )
        out = self.tail(self.recon(self.body(self.head(x))))
        if self.bicubic_skip:
            out = out + tf.interpolate(x, scale_factor=self.scale, mode="bicubic")
        return out


def build_generator(**kwargs) -> MarsganGenerator:
    """Manifest builder: ``architecture_kwargs`` -> generator with noise off (inference)."""
    known = {"in_channels", "out_channels", "nf", "gc", "n_blocks", "recon_features"}
    unknown = set(kwargs) - known - {"bicubic_skip"}
    if unknown:
        raise InputError(
            f"Unknown MARSGAN generator option(s) {sorted(unknown)}; known: {sorted(known)}."
        )
    return MarsganGenerator(**kwargs).set_noise(False)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def interpolate_state_dicts(
    psnr: Mapping[str, torch.Tensor], gan: Mapping[str, torch.Tensor], fidelity: float
) -> dict[str, torch.Tensor]:
    """ESRGAN network interpolation: ``fidelity * PSNR + (1 - fidelity) * GAN`` per tensor.

    ``fidelity`` 1 returns the PSNR-oriented weights and 0 the GAN weights unchanged (not a
    sum that rounds), so the two ends reproduce the two generators exactly (paper 002 §4.1).
    """
    if not 0.0 <= float(fidelity) <= 1.0:
        raise InputError(f"FIDELITY {fidelity} must lie in [0, 1] (1 = pure PSNR model).")
    if set(psnr) != set(gan):
        raise InputError(
            "The PSNR and GAN generators have different layers; interpolate only two "
            "generators of the same architecture (same blocks and width)."
        )
    if fidelity == 1.0:
        return {k: v.clone() for k, v in psnr.items()}
    if fidelity == 0.0:
        return {k: v.clone() for k, v in gan.items()}
    f = float(fidelity)
    return {k: f * psnr[k] + (1.0 - f) * gan[k] for k in psnr}
