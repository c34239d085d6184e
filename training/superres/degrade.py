"""HR -> LR degradation of paper 002 §2.4: Gaussian blur, then bicubic down-sampling by 4.

Used for training pairs and for the evaluation, so both see the same LR formation model.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as tf

SCALE = 4
DEFAULT_BLUR_SIGMA = 1.2  # HR pixels; about the anti-aliasing a 4x reduction needs


def gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma * sigma))
    return k / k.sum()


def blur(hr: torch.Tensor, sigma: float = DEFAULT_BLUR_SIGMA) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) with reflection at the borders."""
    if sigma <= 0:
        return hr
    k = gaussian_kernel(sigma).to(hr)
    r = k.numel() // 2
    c = hr.shape[1]
    out = tf.pad(hr, (r, r, 0, 0), mode="reflect")
    out = tf.conv2d(out, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    out = tf.pad(out, (0, 0, r, r), mode="reflect")
    return tf.conv2d(out, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def degrade(hr: torch.Tensor, sigma: float = DEFAULT_BLUR_SIGMA) -> torch.Tensor:
    """(N, C, 4h, 4w) HR -> (N, C, h, w) LR."""
    return tf.interpolate(blur(hr, sigma), scale_factor=1 / SCALE, mode="bicubic")


def bicubic_up(lr: torch.Tensor) -> torch.Tensor:
    """The baseline every SR gain is measured against."""
    return tf.interpolate(lr, scale_factor=SCALE, mode="bicubic")
