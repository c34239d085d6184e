"""The model as the tiling engine sees it: raw CTX patches in, bands (+ confidence) out.

Normalisation happens here, on the device, so the engine stays model-agnostic: image-wise or
global statistics are fixed numbers known before the run; patch-wise statistics come from
each patch. Bin models return a dict with reconstructed values and confidence, and (for the
pixel inspector's bars) their bin probabilities when asked.
"""

from __future__ import annotations

import torch
from torch import nn

from marsspec.core.models.bins import BinSpec, reconstruct
from marsspec.core.models.confidence import confidence as confidence_map
from marsspec.core.models.normalisation import ChannelStats


class SpectralPredictor(nn.Module):
    def __init__(
        self,
        network: nn.Module,
        *,
        input_stats: ChannelStats | list[ChannelStats] | None,
        output_stats: list[ChannelStats] | None = None,
        bins: BinSpec | None = None,
        reconstruction: str = "weighted",
        confidence_measure: str | None = None,
        probabilities: bool = False,
    ) -> None:
        super().__init__()
        self.network = network
        # one ChannelStats per input channel (CTX, then DEM); None = patch-wise
        if isinstance(input_stats, ChannelStats):
            input_stats = [input_stats]
        self.input_stats = input_stats
        self.output_stats = output_stats  # None = stay in normalised units
        self.bins = bins
        self.reconstruction = reconstruction
        self.confidence_measure = confidence_measure
        # also return "probabilities": (N, N_B * N_S, H, W), bin-major (bin models only)
        self.probabilities = probabilities and bins is not None
        if bins is not None:
            self.register_buffer("centres", torch.as_tensor(bins.centres()), persistent=False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_stats is None:
            mean = x.mean(dim=(-2, -1), keepdim=True)
            std = x.std(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
            return (x - mean) / std
        channels = []
        for c, s in enumerate(self.input_stats):
            xc = x[:, c : c + 1]
            if s.low > float("-inf"):
                xc = xc.clamp(s.low, s.high)
            channels.append((xc - s.mean) / s.std)
        return channels[0] if len(channels) == 1 else torch.cat(channels, dim=1)

    def denormalise(self, y: torch.Tensor) -> torch.Tensor:
        if not self.output_stats:
            return y
        mean = torch.tensor([s.mean for s in self.output_stats], device=y.device, dtype=y.dtype)
        std = torch.tensor([s.std for s in self.output_stats], device=y.device, dtype=y.dtype)
        return y * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)

    def forward(self, x: torch.Tensor):
        out = self.network(self.normalise(x.float()))
        if self.bins is None:
            return {"values": self.denormalise(out.float())}
        probs = out.float().softmax(dim=1)
        result = {"values": self.denormalise(reconstruct(probs, self.centres, self.reconstruction))}
        if self.confidence_measure:
            result["confidence"] = confidence_map(probs, self.confidence_measure)
        if self.probabilities:
            result["probabilities"] = probs.flatten(1, 2)
        return result
