"""Colour handling of paper 002 §2.4: super-resolve V of HSV, upsample H and S bicubically.

With H and S fixed, every band is ``V`` times a factor set by H and S, so sharpening V changes
texture and brightness detail but not the colour (the ratios between bands). Hue is an angle:
it is interpolated as a unit vector (cos, sin), otherwise Mars's reddish hues around 0/360
degrees would turn green-cyan at every wrap. Works on float radiometry of any range (no 8-bit
step); negative values (noise around zero) count as zero for H and S only.

Rasters with more than three bands have no HSV; they use the same idea generalised: V is the
band maximum and every band keeps its ratio to V (bicubically upsampled).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as tf

SCALE = 4
_EPS = 1e-12


def upsample(x: torch.Tensor) -> torch.Tensor:
    return tf.interpolate(x, scale_factor=SCALE, mode="bicubic")


def rgb_to_hsv(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, 3, h, w) -> hue in turns [0, 1), saturation [0, 1], value (the band maximum)."""
    value, _ = rgb.max(dim=1, keepdim=True)
    pos = rgb.clamp(min=0)
    vmax, argmax = pos.max(dim=1, keepdim=True)
    vmin, _ = pos.min(dim=1, keepdim=True)
    chroma = vmax - vmin
    sat = torch.where(vmax > _EPS, chroma / vmax.clamp(min=_EPS), torch.zeros_like(vmax))
    r, g, b = pos[:, 0:1], pos[:, 1:2], pos[:, 2:3]
    c = chroma.clamp(min=_EPS)
    hue = torch.where(
        argmax == 0,
        ((g - b) / c) % 6,
        torch.where(argmax == 1, (b - r) / c + 2, (r - g) / c + 4),
    )
    hue = torch.where(chroma > _EPS, hue / 6.0, torch.zeros_like(hue))
    return hue, sat, value


def hsv_to_rgb(hue: torch.Tensor, sat: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_hsv` (hue in turns); ``value`` may have any sign or range."""
    h6 = (hue % 1.0) * 6.0
    channels = []
    for n in (5.0, 3.0, 1.0):  # the standard k = (n + H/60) mod 6 form
        k = (n + h6) % 6
        factor = torch.clamp(torch.minimum(k, 4 - k), 0, 1)
        channels.append(value * (1 - sat * factor))
    return torch.cat(channels, dim=1)


def upsample_hue(hue: torch.Tensor) -> torch.Tensor:
    """Bicubic upsampling of an angle, through its unit vector."""
    angle = hue * (2 * math.pi)
    cos, sin = upsample(torch.cos(angle)), upsample(torch.sin(angle))
    return (torch.atan2(sin, cos) / (2 * math.pi)) % 1.0


def split_colour(bands: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(V, colour) of (N, B, h, w): for 3 bands colour = (H, S); else band/V ratios."""
    if bands.shape[1] == 3:
        hue, sat, value = rgb_to_hsv(bands)
        return value, torch.cat([hue, sat], dim=1)
    value, _ = bands.max(dim=1, keepdim=True)
    ratios = bands / torch.where(value.abs() > _EPS, value, torch.full_like(value, _EPS))
    return value, ratios


def merge_colour(value_sr: torch.Tensor, colour: torch.Tensor, bands: int) -> torch.Tensor:
    """SR bands from the SR value and the LR colour (upsampled here)."""
    if bands == 3:
        hue = upsample_hue(colour[:, 0:1])
        sat = upsample(colour[:, 1:2]).clamp(0, 1)
        return hsv_to_rgb(hue, sat, value_sr)
    return value_sr * upsample(colour)
