"""HR -> LR degradation of paper 002 §2.4: Gaussian blur, then bicubic down-sampling by 4.

Used for training pairs and for the evaluation, so both see the same LR formation model.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as tf

from marsspec.core.errors import InputError

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


# -- degradations that look like real LR (issue 17) -----------------------------------------
# The paper's Gaussian blur + bicubic is one way an LR image forms; real CaSSIS/CTX-scale data
# also has other PSF widths, aliasing, photon and read noise, JPEG, detector column striping and
# small misregistration. Training on a random mix and evaluating each family separately shows
# which of them a network copes with.


@dataclass(frozen=True)
class Degradation:
    """One recipe HR -> LR. Noise levels are fractions of the [0, 1] normalised range."""

    psf_sigma: float = DEFAULT_BLUR_SIGMA  # HR px; 0 = no optical blur
    downsample: str = "bicubic"  # "bicubic" (samples only: aliases) or "antialiased"
    gaussian_noise: float = 0.0
    poisson_scale: float = 0.0  # signal-dependent noise: sigma = sqrt(value * poisson_scale)
    jpeg_quality: int | None = None
    stripe_sigma: float = 0.0  # per-column offsets (push-broom detector columns)
    shift_hr_px: tuple[float, float] = (0.0, 0.0)  # sub-pixel misregistration (rows, cols)

    def __post_init__(self) -> None:
        if self.downsample not in DOWNSAMPLES:
            raise InputError(f"downsample {self.downsample!r}: use one of {DOWNSAMPLES}.")

    def apply(self, hr: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """(N, C, 4h, 4w) HR in [0, 1] -> (N, C, h, w) LR, noise drawn from ``rng``."""
        image = shift(hr, self.shift_hr_px) if any(self.shift_hr_px) else hr
        image = blur(image, self.psf_sigma)
        lr = tf.interpolate(
            image,
            scale_factor=1 / SCALE,
            mode="bicubic",
            antialias=self.downsample == "antialiased",
        )
        noise_sigma = torch.full_like(lr, self.gaussian_noise**2)
        if self.poisson_scale:
            noise_sigma += lr.clamp(min=0) * self.poisson_scale
        if self.gaussian_noise or self.poisson_scale:
            lr = (
                lr
                + torch.from_numpy(rng.standard_normal(lr.shape).astype(np.float32)).to(lr)
                * noise_sigma.sqrt()
            )
        if self.stripe_sigma:
            columns = rng.standard_normal((lr.shape[0], lr.shape[1], 1, lr.shape[3]))
            lr = lr + torch.from_numpy((columns * self.stripe_sigma).astype(np.float32)).to(lr)
        if self.jpeg_quality is not None:
            lr = jpeg(lr, self.jpeg_quality)
        return lr


DOWNSAMPLES = ("bicubic", "antialiased")

# The families `eval sr` reports one by one ("paper" = paper 002 §2.4, what training used so far).
FAMILIES: dict[str, Degradation] = {
    "paper": Degradation(),
    "antialiased": Degradation(psf_sigma=0.0, downsample="antialiased"),
    "aliased": Degradation(psf_sigma=0.0),
    "noisy": Degradation(gaussian_noise=0.01, poisson_scale=2e-4),
    "jpeg": Degradation(jpeg_quality=75),
    "striped": Degradation(stripe_sigma=0.01),
    "shifted": Degradation(shift_hr_px=(0.75, -0.5)),
}


def random_degradation(rng: np.random.Generator) -> Degradation:
    """A draw from the training mix: every family's ingredient, at random strengths."""
    return Degradation(
        psf_sigma=float(rng.uniform(0.0, 1.8)) if rng.random() < 0.8 else 0.0,
        downsample=str(rng.choice(DOWNSAMPLES)),
        gaussian_noise=float(rng.uniform(0.0, 0.02)) if rng.random() < 0.5 else 0.0,
        poisson_scale=float(rng.uniform(0.0, 4e-4)) if rng.random() < 0.3 else 0.0,
        jpeg_quality=int(rng.integers(60, 96)) if rng.random() < 0.2 else None,
        stripe_sigma=float(rng.uniform(0.0, 0.015)) if rng.random() < 0.2 else 0.0,
        shift_hr_px=tuple(float(v) for v in rng.uniform(-1.0, 1.0, 2))
        if rng.random() < 0.3
        else (0.0, 0.0),
    )


def shift(hr: torch.Tensor, offset: tuple[float, float]) -> torch.Tensor:
    """Shift by a sub-pixel (rows, cols) offset with bicubic sampling, borders reflected."""
    n, _, h, w = hr.shape
    dy, dx = offset
    ys = (torch.arange(h, dtype=torch.float32) - dy + 0.5) / h * 2 - 1
    xs = (torch.arange(w, dtype=torch.float32) - dx + 0.5) / w * 2 - 1
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)
    grid = grid.unsqueeze(0).expand(n, h, w, 2).to(hr)
    return tf.grid_sample(hr, grid, mode="bicubic", padding_mode="reflection", align_corners=False)


def jpeg(lr: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip of each channel at ``quality`` (8 bits, as a browse product would be)."""
    from PIL import Image

    out = torch.empty_like(lr)
    for i in range(lr.shape[0]):
        for c in range(lr.shape[1]):
            grey = (lr[i, c].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
            buffer = io.BytesIO()
            Image.fromarray(grey).save(buffer, format="JPEG", quality=quality)
            decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float32)
            out[i, c] = torch.from_numpy(decoded / 255.0)
    return out
