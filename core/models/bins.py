"""Bin discretisation of normalised values (paper 000 §3.2): edges, labels, reconstruction.

Values are z-scores (see normalisation.py), so the paper's interval [-r, r] with r = 6 covers
practically every pixel; the outermost edges are open (-inf, +inf). ``spacing="sid"`` makes
bins narrow near zero, where most pixels lie, and wide towards +-r (spacing-increasing
discretisation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from marsspec.core.errors import InputError
from marsspec.core.options import RECONSTRUCTIONS

SPACINGS = ("uniform", "sid")
SID_POWER = 2.0


@dataclass(frozen=True)
class BinSpec:
    count: int = 20
    range: float = 6.0
    spacing: str = "uniform"

    def __post_init__(self) -> None:
        if self.count < 2:
            raise InputError(f"Bin count {self.count} must be at least 2.")
        if self.range <= 0:
            raise InputError(f"Bin range {self.range} must be positive.")
        if self.spacing not in SPACINGS:
            raise InputError(f"Unknown bin spacing {self.spacing!r}; use one of {SPACINGS}.")

    @classmethod
    def from_dict(cls, data: dict | None) -> BinSpec:
        data = data or {}
        return cls(
            int(data.get("count", 20)),
            float(data.get("range", 6.0)),
            str(data.get("spacing", "uniform")),
        )

    def to_dict(self) -> dict:
        return {"count": self.count, "range": self.range, "spacing": self.spacing}

    def finite_edges(self) -> np.ndarray:
        """count+1 edges in [-r, r] (the outer two act as -inf/+inf when labelling)."""
        u = np.linspace(-1.0, 1.0, self.count + 1)
        if self.spacing == "sid":
            u = np.sign(u) * np.abs(u) ** SID_POWER
        return (u * self.range).astype(np.float64)

    def centres(self) -> np.ndarray:
        e = self.finite_edges()
        return ((e[:-1] + e[1:]) / 2).astype(np.float32)

    def labels(self, values: np.ndarray | torch.Tensor):
        """Bin index of each value; outside [-r, r] goes to the outer bins."""
        inner = self.finite_edges()[1:-1]
        if isinstance(values, torch.Tensor):
            edges = torch.as_tensor(inner, dtype=values.dtype, device=values.device)
            return torch.bucketize(values.contiguous(), edges, right=True)
        return np.searchsorted(inner, values, side="right")


def class_weights(count: int) -> np.ndarray:
    """Inverted Gauss class weights of paper Eq. 1: w_i = 1 - exp(-i'^2), i' = 2i/N_B - 1."""
    i = np.arange(count, dtype=np.float64)
    return (1.0 - np.exp(-((2.0 * i / count - 1.0) ** 2))).astype(np.float32)


def reconstruct(probs: torch.Tensor, centres: torch.Tensor, method: str = "weighted"):
    """(N, B, S, H, W) probabilities -> (N, S, H, W) values by weighted sum or argmax."""
    if method not in RECONSTRUCTIONS:
        raise InputError(f"Unknown reconstruction {method!r}; use one of {RECONSTRUCTIONS}.")
    c = centres.to(probs.device, probs.dtype).view(1, -1, 1, 1, 1)
    if method == "weighted":
        return (probs * c).sum(dim=1)
    return centres.to(probs.device, probs.dtype)[probs.argmax(dim=1)]
