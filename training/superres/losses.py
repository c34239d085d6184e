"""Losses of paper 002 §2.2: L1/MSE content (Eq. 8), VGG19 perceptual (Eq. 9), RaGAN (Eq. 10-11).

VGG19 ImageNet weights cannot be downloaded here (no internet, no hidden downloads): the
perceptual term is built only from a local torchvision ``vgg19`` state-dict file the user
names (``vgg19_weights`` in the config); without one it is switched off with a warning and
the GAN stage trains on MSE + RaGAN alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as tf

from marsspec.core.errors import InputError

log = logging.getLogger("marsspec.training")

# Indices in torchvision's vgg19().features of the conv *before* activation (ESRGAN uses
# pre-activation features): phi(2,2) = conv2_2 -> index 7, phi(5,4) = conv5_4 -> index 34.
PHI_22 = 7
PHI_54 = 34
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def l1_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    return tf.l1_loss(sr, hr)


def mse_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    return tf.mse_loss(sr, hr)


def gradient_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """L1 between the finite-difference gradients of SR and HR (the gradient-space loss of SPSR,
    Ma et al. 2020; not in paper 002).

    Why: a blurred edge costs plain L1 only the few pixels of its transition, so a PSNR-trained
    network sharpens edges very slowly; the gradient of a blurred edge has a much lower peak than
    the truth's, and this term charges for that directly.
    """
    loss = tf.l1_loss(sr[..., :, 1:] - sr[..., :, :-1], hr[..., :, 1:] - hr[..., :, :-1])
    return loss + tf.l1_loss(sr[..., 1:, :] - sr[..., :-1, :], hr[..., 1:, :] - hr[..., :-1, :])


class VGGPerceptual(nn.Module):
    """``gamma * l_phi(5,4) + (1 - gamma) * l_phi(2,2)`` (Eq. 12's perceptual part)."""

    def __init__(self, weights_path: str | Path, gamma: float = 0.5) -> None:
        super().__init__()
        from torchvision.models import vgg19

        path = Path(weights_path)
        if not path.is_file():
            raise InputError(
                f"VGG19 weights {str(path)!r} not found; give a local torchvision vgg19 "
                "state-dict file (e.g. vgg19-dcbb9e9d.pth) or leave vgg19_weights empty."
            )
        net = vgg19()
        try:
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as exc:  # a file boundary: any failure means "not VGG19 weights"
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"VGG19 weights {str(path)!r} cannot be used ({text}); give a torchvision "
                "vgg19 state-dict file or leave vgg19_weights empty."
            ) from exc
        self.features = net.features[: PHI_54 + 1].eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.gamma = gamma
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def _phi(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (x.expand(-1, 3, -1, -1) - self.mean) / self.std  # greyscale -> 3 channels
        low = None
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i == PHI_22:
                low = x
        return low, x

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        sr_low, sr_high = self._phi(sr)
        with torch.no_grad():
            hr_low, hr_high = self._phi(hr)
        return self.gamma * tf.mse_loss(sr_high, hr_high) + (1 - self.gamma) * tf.mse_loss(
            sr_low, hr_low
        )


def build_perceptual(weights_path: str | None, gamma: float) -> VGGPerceptual | None:
    if not weights_path:
        log.warning(
            "No VGG19 weights file given (vgg19_weights): the perceptual loss of Eq. 12 is OFF; "
            "the GAN stage uses its content loss + RaGAN only. Put a torchvision vgg19 state dict "
            "on disk and set vgg19_weights to enable it."
        )
        return None
    return VGGPerceptual(weights_path, gamma)


def ragan_discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Eq. 10 with D_Ra(a, b) = sigmoid(C(a) - E[C(b)]) (Eq. 7), in the stable logits form."""
    ones, zeros = torch.ones_like(real), torch.zeros_like(fake)
    return tf.binary_cross_entropy_with_logits(
        real - fake.mean(), ones
    ) + tf.binary_cross_entropy_with_logits(fake - real.mean(), zeros)


def ragan_generator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Eq. 11: the symmetric form (real should look less real than fake, fake more real)."""
    ones, zeros = torch.ones_like(fake), torch.zeros_like(real)
    return tf.binary_cross_entropy_with_logits(
        real - fake.mean(), zeros
    ) + tf.binary_cross_entropy_with_logits(fake - real.mean(), ones)
