"""Per-pixel confidence from a bin model's probabilities (paper 000 §5.4.3, Fig. 16).

A single sharp peak means a confident prediction; a broad peak or several maxima mean
uncertainty and hint at a faulty prediction. Three measures, per band and overall:

- ``max_probability``: the highest bin probability (higher = more confident);
- ``entropy``: Shannon entropy divided by log(N_B), in [0, 1] (higher = LESS confident);
- ``multimodal``: 1 where the distribution has more than one clear mode, else 0.
"""

from __future__ import annotations

import math

import torch

from marsspec.core.errors import InputError
from marsspec.core.options import MEASURES

MODE_FRACTION = 0.25  # a secondary peak counts as a mode if >= 25 % of the highest peak
MODE_FLOOR = 0.05  # ...and holds at least 5 % probability


def max_probability(probs: torch.Tensor) -> torch.Tensor:
    """(N, B, S, H, W) -> (N, S, H, W)."""
    return probs.max(dim=1).values


def normalised_entropy(probs: torch.Tensor) -> torch.Tensor:
    p = probs.clamp_min(1e-12)
    return -(p * p.log()).sum(dim=1) / math.log(probs.shape[1])


def mode_count(probs: torch.Tensor) -> torch.Tensor:
    """Number of local maxima per distribution that are clear peaks (see constants)."""
    pad = torch.full_like(probs[:, :1], -1.0)
    left = torch.cat([pad, probs[:, :-1]], dim=1)
    right = torch.cat([probs[:, 1:], pad], dim=1)
    peak = (probs > left) & (probs >= right)
    top = probs.max(dim=1, keepdim=True).values
    clear = peak & (probs >= MODE_FRACTION * top) & (probs >= MODE_FLOOR)
    return clear.sum(dim=1)


def multimodal(probs: torch.Tensor) -> torch.Tensor:
    return (mode_count(probs) > 1).to(probs.dtype)


def confidence(probs: torch.Tensor, measure: str = "max_probability") -> torch.Tensor:
    """(N, B, S, H, W) probabilities -> (N, S + 1, H, W): per band, then overall.

    Overall: mean over bands for max probability and entropy; "any band" for multimodality.
    """
    if measure not in MEASURES:
        raise InputError(f"Unknown confidence measure {measure!r}; use one of {MEASURES}.")
    if measure == "max_probability":
        per_band = max_probability(probs)
        overall = per_band.mean(dim=1, keepdim=True)
    elif measure == "entropy":
        per_band = normalised_entropy(probs)
        overall = per_band.mean(dim=1, keepdim=True)
    else:
        per_band = multimodal(probs)
        overall = per_band.max(dim=1, keepdim=True).values
    return torch.cat([per_band, overall], dim=1)


def describe(measure: str) -> str:
    return {
        "max_probability": "max bin probability (higher = more confident)",
        "entropy": "normalised entropy 0..1 (higher = less confident)",
        "multimodal": "1 = more than one mode (uncertain), 0 = one mode",
    }[measure]
