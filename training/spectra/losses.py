"""Masked losses (paper 000 §3.1-3.2, §5.4.3): invalid pixels never contribute."""

from __future__ import annotations

import torch
from torch.nn import functional as F  # noqa: N812

from marsspec.core.models.bins import BinSpec, class_weights, reconstruct


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(1).to(pred.dtype)
    return ((pred - target) ** 2 * m).sum() / (m.sum() * pred.shape[1]).clamp_min(1)


class BinLoss:
    """Cross-entropy over bins with Eq. 1 class weights; optional 0.9 L1 + 0.1 CE.

    The L1 part uses the weighted-sum reconstruction (differentiable), since the argmax the
    paper describes has no gradient.
    """

    def __init__(self, spec: BinSpec, weights: str = "inverted-gauss", l1: bool = False):
        self.spec = spec
        self.centres = torch.as_tensor(spec.centres())
        w = class_weights(spec.count) if weights == "inverted-gauss" else None
        self.weights = None if w is None else torch.as_tensor(w)
        self.l1 = l1

    def __call__(self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor):
        logits = logits.float()  # (N, B, S, H, W)
        n, b, s, h, w = logits.shape
        labels = self.spec.labels(target)  # (N, S, H, W)
        weights = None if self.weights is None else self.weights.to(logits.device)
        # (N, B, S*H, W): the 2-D loss kernels are far faster than the generic K-d path
        logp = logits.log_softmax(dim=1)
        ce = F.nll_loss(
            logp.reshape(n, b, s * h, w),
            labels.reshape(n, s * h, w),
            weight=weights,
            reduction="none",
        ).reshape(n, s, h, w)
        m = mask.unsqueeze(1).expand_as(ce).to(ce.dtype)
        if weights is not None:
            wpix = weights[labels] * m
            ce = (ce * m).sum() / wpix.sum().clamp_min(1e-6)
        else:
            ce = (ce * m).sum() / m.sum().clamp_min(1)
        if not self.l1:
            return ce
        values = reconstruct(logp.exp(), self.centres, "weighted")
        l1 = ((values - target).abs() * m).sum() / m.sum().clamp_min(1)
        return 0.9 * l1 + 0.1 * ce
